"""Cabinet discrepancies and override removals: a pharmacist resolves a count that did not
match (with the nurse who took part, the cause, an explanation and — for a controlled
pocket — a witness who re-authenticates), and reviews every override removal (ISMP:
removals without a pharmacist-verified order are reviewed).

Discrepancies are opened by the cabinet feeds and restocks (rxdesk.institutional
.cabinet_ledger.discrepancy_open); resolving one does not move stock: the count that
opened it already set the pocket to what was found. A resolution whose cause is suspected
diversion of a controlled drug points to the theft/loss report (DEA Form 106, 21 CFR
1301.76(b)): the pharmacist decides there whether the loss is a theft or significant."""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from rxdesk.core.audit import audit_record, register_actions
from rxdesk.core.capabilities import Cap
from rxdesk.core.errors import Conflict, Forbidden, Invalid, NotFound
from rxdesk.core.models import Site, User
from rxdesk.core.services import Witness, authorize, witness_confirm
from rxdesk.institutional.choices import (
    CabinetEvent,
    DiscrepancyCause,
    DiscrepancyStatus,
    OverrideOutcome,
)
from rxdesk.institutional.models import CabinetDiscrepancy, CabinetMove, OverrideReview

register_actions(
    {
        "institutional.discrepancy.resolved": "Cabinet discrepancy resolved",
        "institutional.override.reviewed": "Cabinet override removal reviewed",
    }
)

EXPLANATION_MIN = 10
EXPLANATION_MAX = 500  # CabinetDiscrepancy.explanation
NURSE_MAX = 80  # CabinetDiscrepancy.nurse_name
NOTE_MAX = 500  # OverrideReview.note
RESOLVED_ACTION = "institutional.discrepancy.resolved"
REVIEWED_ACTION = "institutional.override.reviewed"
# The controlled app's page that opens a theft/loss record (DEA Form 106).
LOSS_URL_NAME = "cs_loss_create"
FORM_106_MESSAGE = (
    "Diversion is suspected on a controlled drug: open a theft/loss report (DEA Form 106). "
    "Notify the DEA field office in writing within one business day of discovery, and file "
    "Form 106 online within 45 days."
)


@dataclass(frozen=True)
class FollowUp:
    """What to do next after a resolution: the message and the URL name of the page."""

    message: str
    url_name: str


# --- Helpers -------------------------------------------------------------------------------


def _site(actor: User | None, row_site_id: int, what: str) -> Site:
    """The actor's pharmacy, when the row is of it (another pharmacy's row: 404)."""
    if actor is not None and actor.site_id != row_site_id:
        raise NotFound(f"No such {what} at this pharmacy.")
    return Site.objects.get(pk=row_site_id)


CANNOT_KEEP = "The text holds a character that cannot be kept (a control character)."


def _storable(text: str) -> bool:
    """Text a database keeps as typed (PostgreSQL refuses NUL; no control characters)."""
    return not any(unicodedata.category(ch) == "Cc" for ch in text)


def _words(value: Any) -> str:
    return " ".join(str(value or "").split())


def _text(value: Any, *, field: str, limit: int) -> str:
    text = _words(value)
    if not _storable(text):
        raise Invalid(CANNOT_KEEP, field=field)
    if len(text) > limit:
        raise Invalid(f"Keep it to {limit} characters.", field=field)
    return text


def _check_witness_text(witness: Mapping[str, Any] | None) -> None:
    """A user name or code that cannot be a user's is refused before it is looked up."""
    for key in ("username", "otp"):
        if not _storable(str((witness or {}).get(key) or "")):
            raise Invalid(CANNOT_KEEP, field=f"witness.{key}")


def _given(witness: Mapping[str, Any] | None) -> bool:
    return bool(witness) and any(str(v or "").strip() for v in (witness or {}).values())


def is_controlled(discrepancy: CabinetDiscrepancy) -> bool:
    """A controlled pocket's discrepancy, or one of a scheduled drug (whatever the pocket's
    flag says): both need a witness and may call for a theft/loss report."""
    return discrepancy.controlled or bool(discrepancy.package.product.dea_schedule)


def follow_up(discrepancy: CabinetDiscrepancy) -> FollowUp | None:
    """The next step a resolution calls for: suspected diversion of a controlled drug
    needs a theft/loss report (DEA Form 106). None otherwise."""
    if (
        discrepancy.status == DiscrepancyStatus.RESOLVED
        and discrepancy.cause == DiscrepancyCause.DIVERSION_SUSPECTED
        and is_controlled(discrepancy)
    ):
        return FollowUp(message=FORM_106_MESSAGE, url_name=LOSS_URL_NAME)
    return None


def _check_resolution(cause: Any, explanation: Any, nurse_name: Any) -> tuple[str, str, str]:
    errors: list[dict[str, str]] = []
    cause_text = str(cause or "").strip()
    if cause_text not in DiscrepancyCause.values:
        errors.append(
            {
                "field": "cause",
                "message": "Choose the cause: "
                + ", ".join(f"{v} ({label.lower()})" for v, label in DiscrepancyCause.choices)
                + ".",
            }
        )
    words = _words(explanation)
    if not _storable(words):
        errors.append({"field": "explanation", "message": CANNOT_KEEP})
    elif len(words) < EXPLANATION_MIN:
        errors.append(
            {
                "field": "explanation",
                "message": f"Explain what happened in at least {EXPLANATION_MIN} characters "
                "(what nursing and pharmacy found).",
            }
        )
    elif len(words) > EXPLANATION_MAX:
        errors.append(
            {"field": "explanation", "message": f"Keep it to {EXPLANATION_MAX} characters."}
        )
    nurse = _words(nurse_name)
    if not _storable(nurse):
        errors.append({"field": "nurse_name", "message": CANNOT_KEEP})
    elif not nurse:
        errors.append(
            {
                "field": "nurse_name",
                "message": "Enter the nurse who took part in resolving it.",
            }
        )
    elif len(nurse) > NURSE_MAX:
        errors.append({"field": "nurse_name", "message": f"Keep it to {NURSE_MAX} characters."})
    if len(errors) == 1:
        raise Invalid(errors[0]["message"], field=errors[0]["field"])
    if errors:
        raise Invalid(errors=errors)
    return cause_text, words, nurse


def _refuse_resolved(d: CabinetDiscrepancy) -> None:
    if d.status != DiscrepancyStatus.OPEN:
        when = d.resolved_at.astimezone(d.site.tz) if d.resolved_at else None
        at = f" on {when:%m/%d/%Y %H:%M}" if when else ""
        raise Conflict(
            f"This discrepancy of pocket {d.pocket.place} was already resolved{at}.",
            field="discrepancy",
        )


# --- Discrepancies -------------------------------------------------------------------------


def discrepancy_resolve(
    *,
    actor: User | None,
    discrepancy: CabinetDiscrepancy,
    cause: str,
    explanation: str,
    nurse_name: str,
    witness: Mapping[str, Any] | None = None,
) -> CabinetDiscrepancy:
    """Resolve an open discrepancy: the cause, an explanation (10 characters at least), the
    nurse who took part, and for a controlled pocket (or a scheduled drug) a witness who
    re-authenticates now (``witness``: username, password, otp where enrolled). Records who
    resolved it and when; moves no stock. The caller shows :func:`follow_up` (a Form 106
    for suspected diversion of a controlled drug)."""
    authorize(actor, Cap.ADC_RESOLVE)
    site = _site(actor, discrepancy.site_id, "discrepancy")
    current = (
        CabinetDiscrepancy.objects.select_related("site", "pocket", "package__product")
        .filter(pk=discrepancy.pk, site=site)
        .first()
    )
    if current is None:
        raise NotFound("No such discrepancy at this pharmacy.")
    _refuse_resolved(current)
    cause_text, words, nurse = _check_resolution(cause, explanation, nurse_name)
    controlled = is_controlled(current)
    _check_witness_text(witness)
    confirmed: Witness | None = None
    if controlled or _given(witness):
        # Before the transaction: a refused witness is audited in its own.
        confirmed = witness_confirm(
            actor=actor, given=witness, action=RESOLVED_ACTION, field="witness"
        )
    with transaction.atomic():
        now = timezone.now()
        changed = CabinetDiscrepancy.objects.filter(
            pk=current.pk, status=DiscrepancyStatus.OPEN
        ).update(
            status=DiscrepancyStatus.RESOLVED,
            cause=cause_text,
            explanation=words,
            nurse_name=nurse,
            resolved_by=actor,
            resolved_at=now,
            witness=confirmed.user if confirmed is not None else None,
        )
        if changed != 1:  # resolved by someone else meanwhile
            current.refresh_from_db()
            _refuse_resolved(current)
        current.refresh_from_db()
        patient_id = None
        if current.move_id is not None:
            patient_id = (
                CabinetMove.objects.filter(pk=current.move_id)
                .values_list("patient_id", flat=True)
                .first()
            )
        audit_record(
            actor=actor,
            site=site,
            action=RESOLVED_ACTION,
            obj=current,
            patient_id=patient_id,
            data={
                "before": {"status": DiscrepancyStatus.OPEN},
                "after": {
                    "status": DiscrepancyStatus.RESOLVED,
                    "cause": cause_text,
                    "nurse_name": nurse,
                    "witness": confirmed.name if confirmed is not None else "",
                    "witness_factors": confirmed.factors if confirmed is not None else "",
                    "late": now > current.due_at,
                },
                "pocket": current.pocket_id,
                "expected": str(current.expected),
                "found": str(current.found),
                "controlled": controlled,
            },
        )
    return current


# --- Override removals ---------------------------------------------------------------------


def override_review(
    *, actor: User | None, move: CabinetMove, outcome: str, note: str = ""
) -> OverrideReview:
    """Review an override removal (taken without a pharmacist-verified order): appropriate,
    or needs follow-up with nursing (then say what in ``note``). Once per removal."""
    authorize(actor, Cap.ADC_RESOLVE)
    if actor is None:
        raise Forbidden("Sign in: a review names the pharmacist who made it.")
    site = _site(actor, move.site_id, "cabinet transaction")
    if move.event != CabinetEvent.REMOVAL or not move.override:
        raise Invalid(
            "Only an override removal (taken without a verified order) is reviewed here.",
            field="move",
        )
    outcome_text = str(outcome or "").strip()
    if outcome_text not in OverrideOutcome.values:
        raise Invalid(
            "Choose the outcome: "
            + " or ".join(f"{v} ({label.lower()})" for v, label in OverrideOutcome.choices)
            + ".",
            field="outcome",
        )
    words = _text(note, field="note", limit=NOTE_MAX)
    if outcome_text == OverrideOutcome.FOLLOW_UP and not words:
        raise Invalid("Say what nursing needs to follow up.", field="note")

    def refuse() -> Conflict:
        return Conflict("This override removal has already been reviewed.", field="move")

    if OverrideReview.objects.filter(move_id=move.pk).exists():
        raise refuse()
    try:
        with transaction.atomic():
            review = OverrideReview.objects.create(
                move=move,
                outcome=outcome_text,
                note=words,
                reviewed_by=actor,
                reviewed_at=timezone.now(),
            )
            audit_record(
                actor=actor,
                site=site,
                action=REVIEWED_ACTION,
                obj=review,
                patient_id=move.patient_id,
                data={
                    "after": {"outcome": outcome_text, "with_note": bool(words)},
                    "move": move.pk,
                    "cabinet": move.cabinet_id,
                    "cabinet_user": move.cabinet_user,
                },
            )
    except IntegrityError:  # reviewed by someone else meanwhile (one review per move)
        raise refuse() from None
    return review


__all__ = [
    "FORM_106_MESSAGE",
    "LOSS_URL_NAME",
    "FollowUp",
    "discrepancy_resolve",
    "follow_up",
    "is_controlled",
    "override_review",
]
