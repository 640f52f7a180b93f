"""Prior authorization cases: open one when a plan answers reject 75, work it to approved
(the PA number then goes on the resubmitted claim, 462-EV) or denied, keep the plan's
forms and letters with it.

A case belongs to one prescription and one plan; the database allows one *open* case
(needed, submitted, appealed) per pair, so opening twice — a second click, or the billing
service opening one on reject 75 while a technician does too — returns the same case.

Statuses::

    needed → submitted → approved | denied
    denied → appealed → approved | denied
    needed | submitted | appealed → abandoned

Every change writes a :class:`PriorAuthEvent` (the case's history) and one audit event.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Callable
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from rxdesk.claims.choices import PA_OPEN, PriorAuthStatus
from rxdesk.claims.models import (
    MAX_DOCUMENT_BYTES,
    Claim,
    Plan,
    PriorAuth,
    PriorAuthDocument,
    PriorAuthEvent,
)
from rxdesk.core.audit import audit_record, register_actions
from rxdesk.core.capabilities import Cap
from rxdesk.core.errors import Conflict, Invalid, NotFound
from rxdesk.core.models import User
from rxdesk.core.services import authorize
from rxdesk.rx.choices import RxStatus
from rxdesk.rx.models import Prescription

register_actions(
    {
        "claims.pa.opened": "Prior authorization case opened",
        "claims.pa.updated": "Prior authorization case changed (status, number, dates, follow-up)",
        "claims.pa.document_added": "Document added to a prior authorization case",
        "claims.pa.document_viewed": "Prior authorization document opened (PHI access)",
    }
)

S = PriorAuthStatus
NEXT: dict[str, frozenset[str]] = {
    S.NEEDED: frozenset({S.SUBMITTED, S.ABANDONED}),
    S.SUBMITTED: frozenset({S.APPROVED, S.DENIED, S.ABANDONED}),
    S.DENIED: frozenset({S.APPEALED}),
    S.APPEALED: frozenset({S.APPROVED, S.DENIED, S.ABANDONED}),
    S.APPROVED: frozenset(),
    S.ABANDONED: frozenset(),
}
"""The statuses a case may move to from each status."""

CLOSED = frozenset({S.APPROVED, S.DENIED, S.ABANDONED})
NOTE_MAX = 500
REASON_MAX = 300
NAME_MAX = 120
NUMBER_MAX = 11  # 462-EV
_NUMBER = re.compile(r"^[A-Z0-9]{1,11}$")

# The document types a plan's PA process uses, by the bytes they start with (the type a
# browser or client declares is not trusted on its own).
_MAGIC: dict[str, tuple[bytes, ...]] = {
    "application/pdf": (b"%PDF-",),
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/tiff": (b"II*\x00", b"MM\x00*"),
}
_TYPE_ALIASES = {"image/jpg": "image/jpeg", "image/pjpeg": "image/jpeg", "image/tif": "image/tiff"}
ALLOWED_TYPES = tuple(_MAGIC)


def _own(actor: User, what: str, site_id: int) -> None:
    if actor.site_id != site_id:
        raise NotFound(f"No such {what} at this pharmacy.")


def _note(value: str | None, field: str = "note", limit: int = NOTE_MAX) -> str:
    text = " ".join((value or "").split())
    if len(text) > limit:
        raise Invalid(f"Keep it to {limit} characters at most.", field=field)
    return text


def _snapshot(pa: PriorAuth) -> dict[str, Any]:
    return {
        "status": pa.status,
        "number": pa.number,
        "approved_from": pa.approved_from,
        "approved_to": pa.approved_to,
        "denied_reason": pa.denied_reason,
        "follow_up_on": pa.follow_up_on,
    }


def _event(pa: PriorAuth, actor: User, status_from: str, note: str) -> PriorAuthEvent:
    return PriorAuthEvent.objects.create(
        prior_auth=pa,
        status_from=status_from,
        status_to=pa.status,
        note=note[:NOTE_MAX],
        actor=actor,
    )


def _audit(actor: User, action: str, pa: PriorAuth, **data: Any) -> None:
    """One audit event about a case. No PA numbers and no free text (reasons, notes) go in
    it: the case's own history keeps those."""
    audit_record(
        actor=actor,
        site=actor.site,
        action=action,
        obj=pa,
        patient_id=pa.prescription.patient_id,
        data={"prescription_id": pa.prescription_id, "plan_id": pa.plan_id, **data},
    )


def _open_case(prescription_id: int, plan_id: int) -> PriorAuth | None:
    return (
        PriorAuth.objects.select_related("prescription", "plan")
        .filter(prescription_id=prescription_id, plan_id=plan_id, status__in=PA_OPEN)
        .first()
    )


def pa_open(
    *,
    actor: User,
    prescription: Prescription,
    plan: Plan,
    claim: Claim | None = None,
    note: str = "",
) -> PriorAuth:
    """Open a prior authorization case for ``prescription`` with ``plan`` (status needed),
    optionally linked to the rejected ``claim`` that called for it.

    Idempotent: when the pair already has an open case, that case is returned unchanged
    (and nothing is written), so the billing service may call this on every reject 75."""
    authorize(actor, Cap.CLAIMS_BILL)
    _own(actor, "prescription", prescription.site_id)
    text = _note(note)
    if claim is not None:
        _own(actor, "claim", claim.site_id)
        claim_rx = Claim.objects.filter(pk=claim.pk).values_list("fill__prescription_id", "plan_id")
        if list(claim_rx) != [(prescription.pk, plan.pk)]:
            raise Invalid(
                "That claim is for another prescription or plan than this PA.", field="claim"
            )
    existing = _open_case(prescription.pk, plan.pk)
    if existing is not None:
        return existing
    rx_status = Prescription.objects.filter(pk=prescription.pk).values_list("status", flat=True)
    if rx_status.first() in (RxStatus.INACTIVE, RxStatus.TRANSFERRED):
        raise Conflict(
            f"Rx {prescription.number} is no longer active here; a PA is not needed for it.",
            field="prescription",
        )
    try:
        with transaction.atomic():
            pa = PriorAuth.objects.create(
                site_id=prescription.site_id,
                prescription=prescription,
                plan=plan,
                claim=claim,
                status=S.NEEDED,
                note=text,
                opened_by=actor,
            )
            _event(pa, actor, "", text or "Case opened.")
            _audit(actor, "claims.pa.opened", pa, claim_id=claim.pk if claim else None)
    except IntegrityError:
        # Opened by someone else between the look-up and the insert: the unique open case
        # per prescription and plan refused ours; theirs is the case.
        existing = _open_case(prescription.pk, plan.pk)
        if existing is None:
            raise
        return existing
    return pa


def _clean_number(value: str) -> str:
    number = "".join(value.split()).upper()
    if not number:
        raise Invalid("Type the PA number the plan gave.", field="number")
    if len(number) > NUMBER_MAX:
        raise Invalid(f"A PA number has at most {NUMBER_MAX} characters.", field="number")
    if not _NUMBER.match(number):
        raise Invalid("A PA number has letters and digits only.", field="number")
    return number


def pa_update(
    *,
    actor: User,
    prior_auth: PriorAuth,
    status: str | None = None,
    number: str | None = None,
    approved_from: dt.date | None = None,
    approved_to: dt.date | None = None,
    denied_reason: str | None = None,
    follow_up_on: dt.date | None = None,
    note: str = "",
) -> PriorAuth:
    """Move a case on and/or change its details. ``None`` leaves a field as it is.

    Approved needs the plan's PA number (1–11 letters or digits) and the approval dates
    (from ≤ to); denied needs the plan's reason; a follow-up date is today or later. The
    number and dates belong to an approval: they are refused on a case that is not
    approved. An abandoned case is final."""
    authorize(actor, Cap.CLAIMS_BILL)
    _own(actor, "prior authorization", prior_auth.site_id)
    text = _note(note)
    today = actor.site.today()
    errors: list[dict[str, str]] = []

    def bad(field: str, message: str) -> None:
        errors.append({"field": field, "message": message})

    if status is not None and status not in S.values:
        bad("status", f"{status!r} is not a PA status ({', '.join(S.values)}).")
    clean_number: str | None = None
    if number is not None:
        try:
            clean_number = _clean_number(number)
        except Invalid as exc:
            errors.extend(exc.errors)
    clean_reason: str | None = None
    if denied_reason is not None:
        try:
            clean_reason = _note(denied_reason, "denied_reason", REASON_MAX)
        except Invalid as exc:
            errors.extend(exc.errors)
    if follow_up_on is not None and follow_up_on < today:
        bad("follow_up_on", "A follow-up date is today or later.")
    if errors:
        raise Invalid(errors=errors)

    with transaction.atomic():
        pa = (
            PriorAuth.objects.select_for_update(of=("self",))
            .select_related("prescription", "plan")
            .get(pk=prior_auth.pk)
        )
        before = _snapshot(pa)
        old = pa.status
        new = status or old
        if old == S.ABANDONED:
            raise Conflict("This PA case was abandoned; open a new one if needed.", field="status")
        if new != old and new not in NEXT[old]:
            allowed = ", ".join(sorted(NEXT[old])) or "nothing"
            raise Conflict(
                f"A PA case that is {pa.get_status_display().lower()} cannot become {new} "
                f"(it can become: {allowed}).",
                field="status",
            )
        if clean_number is not None:
            pa.number = clean_number
        if approved_from is not None:
            pa.approved_from = approved_from
        if approved_to is not None:
            pa.approved_to = approved_to
        if clean_reason is not None:
            pa.denied_reason = clean_reason
        if follow_up_on is not None:
            pa.follow_up_on = follow_up_on
        pa.status = new
        _check(pa, bad, approving=new == S.APPROVED, denying=new == S.DENIED)
        if errors:
            raise Invalid(errors=errors)
        after = _snapshot(pa)
        changed = [k for k in after if after[k] != before[k]]
        if not changed and not text:
            return pa
        now = timezone.now()
        pa.updated_at = now
        if new != old:
            pa.closed_at = now if new in CLOSED else None
        try:
            with transaction.atomic():
                pa.save(update_fields=[*changed, "updated_at", "closed_at"])
        except IntegrityError:
            raise Conflict(
                "Another open PA case exists for this prescription and plan; work that one.",
                field="status",
            ) from None
        _event(pa, actor, old, text or _describe(pa, changed))
        _audit(
            actor,
            "claims.pa.updated",
            pa,
            status_from=old,
            status_to=new,
            changed=sorted(changed),
            approved_from=pa.approved_from,
            approved_to=pa.approved_to,
            follow_up_on=pa.follow_up_on,
        )
    return pa


def _check(
    pa: PriorAuth, bad: Callable[[str, str], None], *, approving: bool, denying: bool
) -> None:
    if approving:
        if not pa.number:
            bad("number", "Type the PA number the plan gave with the approval.")
        if pa.approved_from is None:
            bad("approved_from", "Type the first day the approval covers.")
        if pa.approved_to is None:
            bad("approved_to", "Type the last day the approval covers.")
    elif pa.number or pa.approved_from or pa.approved_to:
        field = "number" if pa.number else "approved_from" if pa.approved_from else "approved_to"
        bad(field, "The PA number and approval dates are entered when the plan approves.")
    if pa.approved_from and pa.approved_to and pa.approved_to < pa.approved_from:
        bad("approved_to", "The approval ends before it starts: check the dates.")
    if denying and not pa.denied_reason:
        bad("denied_reason", "Type the plan's reason for the denial (from the letter or fax).")


def _describe(pa: PriorAuth, changed: list[str]) -> str:
    if "status" in changed:
        if pa.status == S.APPROVED:
            return (
                f"Approved: PA {pa.number}, {pa.approved_from:%m/%d/%Y} to "
                f"{pa.approved_to:%m/%d/%Y}."
            )
        if pa.status == S.DENIED:
            return f"Denied: {pa.denied_reason}"
        return f"Now {pa.get_status_display().lower()}."
    labels = {
        "number": "PA number",
        "approved_from": "approval start",
        "approved_to": "approval end",
        "denied_reason": "denial reason",
        "follow_up_on": "follow-up date",
    }
    return "Changed: " + ", ".join(labels.get(c, c) for c in changed) + "."


def _content_type(value: str) -> str:
    kind = (value or "").split(";", 1)[0].strip().lower()
    return _TYPE_ALIASES.get(kind, kind)


def _file_name(value: str) -> str:
    # Keep the last part of a path a browser may send, and only printable characters.
    base = re.split(r"[\\/]", value or "")[-1]
    return "".join(ch for ch in base if ch.isprintable()).strip()


def pa_document_add(
    *,
    actor: User,
    prior_auth: PriorAuth,
    name: str,
    content_type: str,
    data: bytes,
) -> PriorAuthDocument:
    """Keep a document with a case (the plan's form, chart notes, the approval letter):
    a PDF, PNG, JPEG or TIFF of at most 5 MiB, recognised by its first bytes; its SHA-256
    is kept to show it was not changed."""
    authorize(actor, Cap.CLAIMS_BILL)
    _own(actor, "prior authorization", prior_auth.site_id)
    errors: list[dict[str, str]] = []
    clean_name = _file_name(name)
    if not clean_name:
        errors.append({"field": "name", "message": "The document needs a file name."})
    elif len(clean_name) > NAME_MAX:
        errors.append(
            {"field": "name", "message": f"A file name has at most {NAME_MAX} characters."}
        )
    kind = _content_type(content_type)
    if not data:
        errors.append({"field": "file", "message": "The file is empty."})
    elif len(data) > MAX_DOCUMENT_BYTES:
        errors.append({"field": "file", "message": "The file is larger than 5 MB."})
    elif kind not in _MAGIC:
        errors.append({"field": "file", "message": "Upload a PDF, PNG, JPEG or TIFF file."})
    elif not data.startswith(_MAGIC[kind]):
        errors.append(
            {
                "field": "file",
                "message": f"The file is not really a {kind.split('/')[1].upper()} "
                "(its contents do not match its type).",
            }
        )
    if errors:
        raise Invalid(errors=errors)
    with transaction.atomic():
        pa = (
            PriorAuth.objects.select_for_update(of=("self",))
            .select_related("prescription")
            .get(pk=prior_auth.pk)
        )
        digest = hashlib.sha256(data).hexdigest()
        document = PriorAuthDocument.objects.create(
            prior_auth=pa,
            name=clean_name,
            content_type=kind,
            data=data,
            size=len(data),
            sha256=digest,
            uploaded_by=actor,
        )
        pa.updated_at = timezone.now()
        pa.save(update_fields=["updated_at"])
        _event(pa, actor, pa.status, f"Document added: {clean_name}.")
        _audit(
            actor,
            "claims.pa.document_added",
            pa,
            document_id=document.pk,
            content_type=kind,
            size=len(data),
            sha256=digest,
        )
    return document


def pa_document_read(*, actor: User, document: PriorAuthDocument) -> PriorAuthDocument:
    """A document of a case, to show or download; the access is logged (PHI)."""
    authorize(actor, Cap.CLAIMS_VIEW)
    pa = PriorAuth.objects.select_related("prescription").get(pk=document.prior_auth_id)
    _own(actor, "document", pa.site_id)
    with transaction.atomic():
        _audit(actor, "claims.pa.document_viewed", pa, document_id=document.pk)
    return document


__all__ = [
    "ALLOWED_TYPES",
    "NEXT",
    "pa_document_add",
    "pa_document_read",
    "pa_open",
    "pa_update",
]
