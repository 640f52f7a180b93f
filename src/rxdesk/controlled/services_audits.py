"""Blind audit counts of controlled substances and the investigation of a discrepancy.

A count is blind: the counter types what is on the shelf before anything shows the
perpetual balance. The expected balance (the lot's, or the sum of the package's lots at
this pharmacy) and the last ledger move are read in the transaction that records the count,
so the comparison is exact even while the pharmacy keeps dispensing. A count that differs
opens an investigation at once.

The investigation gathers notes (append-only) and evidence files, and ends with an
outcome. A counting error changes nothing (a later count that matched must be on file);
every other outcome corrects the balance by a COUNT move of the variance on the ledger —
a count correction, so a second authorized person re-authenticates as witness at that
moment (issue item 6) and the move and the investigation hold both. A theft or a
significant loss also opens the DEA Form 106 record (rxdesk.controlled.services_losses).

Each service: capability first, input checked, the witness confirmed before the
transaction (its failures are audited in their own), one transaction, the audit event
last."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone

from rxdesk.catalog.models import Package
from rxdesk.controlled.choices import AuditStatus, InvestigationOutcome, InvestigationStatus
from rxdesk.controlled.models import (
    CsAudit,
    Investigation,
    InvestigationEvidence,
    InvestigationNote,
    TheftLoss,
)
from rxdesk.controlled.services_losses import (
    LOSS_OPEN,
    FieldErrors,
    LossLine,
    clean_details,
    controlled_package,
    lot_of,
    money_of,
    open_loss,
    storable,
)
from rxdesk.core.audit import audit_record, register_actions
from rxdesk.core.capabilities import Cap
from rxdesk.core.errors import Conflict, Invalid, NotFound
from rxdesk.core.models import Site, User
from rxdesk.core.services import Witness, authorize, witness_confirm
from rxdesk.inventory import ledger
from rxdesk.inventory.choices import AdjustReason, MoveReason
from rxdesk.inventory.ledger import Ref
from rxdesk.inventory.models import Lot, StockBalance, StockMove
from rxdesk.inventory.services.counts import counted_of

register_actions(
    {
        "cs.audit.counted": "Controlled substance counted (blind audit)",
        "cs.investigation.noted": "Note added to a discrepancy investigation",
        "cs.investigation.evidence_added": "Evidence added to a discrepancy investigation",
        "cs.investigation.resolved": "Discrepancy investigation resolved",
    }
)

NOTE_MAX = 500
TEXT_MAX = 5000
NAME_MAX = 200
MAX_EVIDENCE_BYTES = 5 * 1024 * 1024
OUT = InvestigationOutcome

# Outcomes that correct the ledger, and the reason code the correction carries.
CORRECTING: dict[str, str] = {
    OUT.RECORD_ERROR: AdjustReason.DATA_ENTRY,
    OUT.FOUND: AdjustReason.FOUND,
    OUT.NOT_SIGNIFICANT: AdjustReason.THEFT_LOSS,
    OUT.THEFT: AdjustReason.THEFT_LOSS,
    OUT.SIGNIFICANT_LOSS: AdjustReason.THEFT_LOSS,
}
LOSSES = frozenset({OUT.NOT_SIGNIFICANT, OUT.THEFT, OUT.SIGNIFICANT_LOSS})
FORM_106 = frozenset({OUT.THEFT, OUT.SIGNIFICANT_LOSS})

# Evidence kinds, recognised by their first bytes (a declared type is not trusted alone).
_MAGIC: dict[str, tuple[bytes, ...]] = {
    "application/pdf": (b"%PDF-",),
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/jpeg": (b"\xff\xd8\xff",),
}
_TYPE_ALIASES = {"image/jpg": "image/jpeg", "image/pjpeg": "image/jpeg", "text/x-log": "text/plain"}
EVIDENCE_TYPES = (*_MAGIC, "text/plain")


def _quantity_text(value: Decimal) -> str:
    return format(value.normalize(), "f")


# --- Blind count -----------------------------------------------------------------------------


def _expected(site: Site, package: Package, lot: Lot | None) -> tuple[Decimal, int]:
    """The perpetual balance counted against and the last move it includes. The balance
    rows are locked first (in the ledger's one order), so no move can land between the
    two reads on PostgreSQL; SQLite's IMMEDIATE transaction already holds every writer."""
    balances = StockBalance.objects.filter(site=site, package=package)
    moves = StockMove.objects.filter(site=site, package=package)
    if lot is not None:
        balances = balances.filter(lot=lot)
        moves = moves.filter(lot=lot)
    locked = ledger.lock_in_order(balances.values_list("pk", flat=True))
    expected = sum((b.on_hand for b in locked), Decimal(0))
    last = moves.order_by("-id").values_list("id", flat=True).first() or 0
    return expected, last


def cs_audit_record(
    *,
    actor: User,
    ndc: Package | str,
    lot_number: str | None = None,
    counted: Any,
    note: str = "",
) -> CsAudit:
    """Record a blind count of one controlled package at this pharmacy: one lot, or every
    lot of the package when no lot is named. A count that differs from the perpetual
    balance is a discrepancy and opens an investigation."""
    authorize(actor, Cap.CS_COUNT)
    errors = FieldErrors()
    package: Package | None = None
    lot: Lot | None = None
    quantity: Decimal | None = None
    try:
        package = controlled_package(ndc, field="ndc")
        lot = lot_of(package, lot_number, field="lot_number")
    except Invalid as exc:
        errors.absorb(exc)
    try:
        quantity = counted_of(counted, field="counted")
    except Invalid as exc:
        errors.absorb(exc)
    text = " ".join((note or "").split())
    if len(text) > NOTE_MAX:
        errors.add("note", f"At most {NOTE_MAX} characters.")
    elif not storable(text):
        errors.add("note", "The note holds a character that cannot be kept (NUL).")
    errors.raise_any()
    assert package is not None and quantity is not None
    site = actor.site
    with transaction.atomic():
        expected, last_move = _expected(site, package, lot)
        variance = quantity - expected
        audit = CsAudit.objects.create(
            site=site,
            package=package,
            lot=lot,
            counted=quantity,
            expected=expected,
            variance=variance,
            last_move_id=last_move,
            status=AuditStatus.MATCHED if variance == 0 else AuditStatus.DISCREPANCY,
            counted_by=actor,
            counter_name=actor.display_name,
            counted_at=timezone.now(),
            note=text,
        )
        investigation = None
        if variance != 0:
            investigation = Investigation.objects.create(
                site=site,
                audit=audit,
                package=package,
                lot=lot,
                variance=variance,
                status=InvestigationStatus.OPEN,
                opened_by=actor,
                opened_at=audit.counted_at,
            )
        audit_record(
            actor=actor,
            site=site,
            action="cs.audit.counted",
            obj=audit,
            data={
                "ndc": package.ndc11,
                "schedule": package.product.dea_schedule,
                "lot": lot.number if lot is not None else None,
                "counted": str(quantity),
                "expected": str(expected),
                "variance": str(variance),
                "last_move": last_move,
                "status": audit.status,
                "investigation": investigation.pk if investigation is not None else None,
            },
        )
    return audit


# --- Investigation -------------------------------------------------------------------------


def _locked(actor: User, investigation: Investigation) -> Investigation:
    found = (
        Investigation.objects.select_for_update(of=("self",))
        .select_related("site", "package__product", "lot", "audit")
        .filter(pk=investigation.pk, site_id=actor.site_id)
        .first()
    )
    if found is None:
        raise NotFound("No such investigation at this pharmacy.")
    return found


def _require_open(investigation: Investigation) -> None:
    if investigation.status != InvestigationStatus.OPEN:
        raise Conflict("This investigation is resolved; it is kept as it is.", field="status")


def investigation_note_add(
    *, actor: User, investigation: Investigation, text: str
) -> InvestigationNote:
    """Add a note to an open investigation: what was looked at and found. Notes are never
    changed or removed."""
    authorize(actor, Cap.CS_INVESTIGATE)
    body = (text or "").strip()
    if not body:
        raise Invalid("Write what was looked at or found.", field="text")
    if len(body) > TEXT_MAX:
        raise Invalid(f"A note has at most {TEXT_MAX} characters.", field="text")
    if not storable(body):
        raise Invalid("The note holds a character that cannot be kept (NUL).", field="text")
    with transaction.atomic():
        fresh = _locked(actor, investigation)
        _require_open(fresh)
        note = InvestigationNote.objects.create(
            investigation=fresh,
            text=body,
            author=actor,
            author_name=actor.display_name,
        )
        audit_record(
            actor=actor,
            site=fresh.site,
            action="cs.investigation.noted",
            obj=fresh,
            data={"note": note.pk, "length": len(body)},
        )
    return note


def _content_type(value: str) -> str:
    kind = (value or "").split(";", 1)[0].strip().lower()
    return _TYPE_ALIASES.get(kind, kind)


def _file_name(value: str) -> str:
    base = re.split(r"[\\/]", value or "")[-1]
    return "".join(ch for ch in base if ch.isprintable()).strip()


def _plain_text(data: bytes) -> bool:
    if b"\x00" in data:
        return False
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def investigation_evidence_add(
    *,
    actor: User,
    investigation: Investigation,
    name: str,
    content_type: str,
    data: bytes,
    description: str = "",
) -> InvestigationEvidence:
    """Keep a file with an open investigation (a camera still, an invoice scan, a count
    sheet): PDF, PNG, JPEG or plain text of at most 5 MB, recognised by its content; its
    SHA-256 is kept to show it was not changed."""
    authorize(actor, Cap.CS_INVESTIGATE)
    errors = FieldErrors()
    clean_name = _file_name(name)
    if not clean_name:
        errors.add("name", "The file needs a name.")
    elif len(clean_name) > NAME_MAX:
        errors.add("name", f"A file name has at most {NAME_MAX} characters.")
    kind = _content_type(content_type)
    if not data:
        errors.add("file", "The file is empty.")
    elif len(data) > MAX_EVIDENCE_BYTES:
        errors.add("file", "The file is larger than 5 MB.")
    elif kind not in EVIDENCE_TYPES:
        errors.add("file", "Upload a PDF, PNG, JPEG or plain-text file.")
    elif kind in _MAGIC and not data.startswith(_MAGIC[kind]):
        errors.add(
            "file",
            f"The file is not really a {kind.split('/')[1].upper()} (its contents do not "
            "match its type).",
        )
    elif kind == "text/plain" and not _plain_text(data):
        errors.add("file", "The file is not plain text.")
    about = " ".join((description or "").split())
    if len(about) > NOTE_MAX:
        errors.add("description", f"At most {NOTE_MAX} characters.")
    elif not storable(about):
        errors.add("description", "The text holds a character that cannot be kept (NUL).")
    errors.raise_any()
    with transaction.atomic():
        fresh = _locked(actor, investigation)
        _require_open(fresh)
        digest = hashlib.sha256(data).hexdigest()
        evidence = InvestigationEvidence.objects.create(
            investigation=fresh,
            name=clean_name,
            content_type=kind,
            content=data,
            sha256=digest,
            description=about,
            added_by=actor,
        )
        audit_record(
            actor=actor,
            site=fresh.site,
            action="cs.investigation.evidence_added",
            obj=fresh,
            data={
                "evidence": evidence.pk,
                "name": clean_name,
                "content_type": kind,
                "size": len(data),
                "sha256": digest,
            },
        )
    return evidence


def _recount_on_file(investigation: Investigation) -> bool:
    """A count of the same package (and lot) after the discrepancy that matched."""
    audit = investigation.audit
    later = CsAudit.objects.filter(
        site_id=investigation.site_id,
        package_id=investigation.package_id,
        status=AuditStatus.MATCHED,
    )
    if investigation.lot_id is None:
        later = later.filter(lot__isnull=True)
    else:
        later = later.filter(lot_id=investigation.lot_id)
    if audit is not None:
        later = later.filter(pk__gt=audit.pk)
    else:
        later = later.filter(counted_at__gt=investigation.opened_at)
    return later.exists()


def _correction_lot(site: Site, investigation: Investigation, lot_number: str) -> Lot:
    """The lot the correction moves: the counted lot, or for a count of every lot of the
    package the one named (or the only one this pharmacy holds)."""
    if investigation.lot is not None:
        return investigation.lot
    named = lot_of(investigation.package, lot_number, field="lot_number")
    if named is not None:
        return named
    held = list(
        Lot.objects.filter(
            pk__in=StockBalance.objects.filter(
                site=site, package=investigation.package
            ).values_list("lot_id", flat=True)
        ).order_by("pk")
    )
    if len(held) == 1:
        return held[0]
    raise Invalid(
        f"The count covered {len(held)} lots of NDC {investigation.package.ndc10}: name the "
        "lot whose balance is corrected.",
        field="lot_number",
    )


def _check_outcome(outcome: str, variance: Decimal) -> None:
    if outcome in LOSSES and variance > 0:
        raise Invalid(
            "The count was over the record, not short: that is not a loss.", field="outcome"
        )
    if outcome == OUT.FOUND and variance < 0:
        raise Invalid(
            "The count was short of the record: stock found would make it over.",
            field="outcome",
        )


def _correct(
    *,
    site: Site,
    investigation: Investigation,
    lot: Lot,
    outcome: str,
    actor: User,
    witness: Witness,
) -> StockMove:
    """The count correction of the variance, on the ledger, with the witness. The balance
    is re-read under lock: a correction that would take it below zero is refused."""
    variance = investigation.variance
    ref = Ref("cs_investigation", investigation.pk)
    note = f"Investigation {investigation.pk}: {OUT(outcome).label}"
    reason = CORRECTING[outcome]
    if variance > 0:
        return ledger.post_in(
            site=site,
            lot=lot,
            quantity=variance,
            reason=MoveReason.COUNT,
            actor=actor,
            ref=ref,
            note=note,
            adjust_reason=reason,
            witness=witness.user,
        )
    balance = StockBalance.objects.filter(site=site, lot=lot).first()
    short = -variance
    locked = ledger.lock_in_order([balance.pk]) if balance is not None else []
    on_hand = locked[0].on_hand if locked else Decimal(0)
    if balance is None or on_hand < short:
        raise Conflict(
            f"Lot {lot.number} has {_quantity_text(on_hand)} on hand now; a correction of "
            f"−{_quantity_text(short)} would take it below zero. Count it again.",
            field="variance",
        )
    return ledger.post_out(
        balance=locked[0],
        quantity=short,
        reason=MoveReason.COUNT,
        actor=actor,
        ref=ref,
        note=note,
        adjust_reason=reason,
        witness=witness.user,
    )


def _existing_loss(site: Site, loss_id: Any) -> TheftLoss:
    try:
        pk = int(str(loss_id))
    except ValueError:
        pk = 0
    found = (
        TheftLoss.objects.select_for_update(of=("self",))
        .filter(pk=pk, site=site, status__in=LOSS_OPEN)
        .first()
        if 0 < pk < 2**63
        else None
    )
    if found is None:
        raise Invalid("No open theft or loss record with that number here.", field="loss.loss_id")
    return found


def investigation_resolve(
    *,
    actor: User,
    investigation: Investigation,
    outcome: str,
    conclusion: str,
    witness: Mapping[str, Any] | Any = None,
    loss: Mapping[str, Any] | None = None,
    lot_number: str = "",
) -> Investigation:
    """Close an investigation with its outcome and conclusion.

    * counting_error: no ledger change; a later count of the same package (and lot) that
      matched must be on file;
    * record_error, found, not_significant, theft, significant_loss: the balance is
      corrected by a COUNT move of the variance, witnessed (``witness``: username,
      password, and the authenticator code where enrolled);
    * theft, significant_loss: a Form 106 record is opened too, from ``loss`` (its details:
      loss_type, loss_type_other, occurred_on, police_notified, police_department,
      police_report_number, previous_losses, security_measures, narrative, and
      estimated_value of the line), discovered when the discrepancy was counted — or,
      with ``loss["loss_id"]``, the open record already made (a robbery reported first)
      is linked instead.

    ``lot_number`` names the lot corrected when the count covered every lot of a package."""
    authorize(actor, Cap.CS_INVESTIGATE)
    errors = FieldErrors()
    if outcome not in OUT.values:
        errors.add("outcome", "Choose the outcome: " + ", ".join(OUT.values) + ".")
    text = (conclusion or "").strip()
    if not text:
        errors.add("conclusion", "Write the conclusion: what happened and why.")
    elif len(text) > TEXT_MAX:
        errors.add("conclusion", f"At most {TEXT_MAX} characters.")
    elif not storable(text):
        errors.add("conclusion", "The text holds a character that cannot be kept (NUL).")
    details: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    if outcome in FORM_106:
        given = dict(loss or {})
        extra = {k: given.pop(k) for k in ("estimated_value", "loss_id") if k in given}
        if extra.get("loss_id") in (None, ""):
            extra.pop("loss_id", None)
            try:
                details = clean_details(given, prefix="loss.", creating=True)
            except Invalid as exc:
                errors.items.extend(exc.errors)
    errors.raise_any()
    if investigation.site_id != actor.site_id:
        raise NotFound("No such investigation at this pharmacy.")
    if investigation.status != InvestigationStatus.OPEN:
        raise Conflict("This investigation is resolved; it is kept as it is.", field="status")
    _check_outcome(outcome, investigation.variance)
    site = actor.site
    confirmed: Witness | None = None
    lot: Lot | None = None
    if outcome in CORRECTING:
        lot = _correction_lot(site, investigation, lot_number)
        if outcome in FORM_106 and "estimated_value" in extra:
            value_errors = FieldErrors("loss.")
            extra["estimated_value"] = money_of(
                extra["estimated_value"], "estimated_value", value_errors
            )
            value_errors.raise_any()
        # A count correction: a second person re-authenticates now, before the write.
        confirmed = witness_confirm(
            actor=actor, given=witness, action="cs.investigation.resolved", field="witness"
        )
    elif not _recount_on_file(investigation):
        raise Invalid(
            "A counting error needs a later count of the same stock that matched: count it "
            "again first.",
            field="outcome",
        )
    with transaction.atomic():
        fresh = _locked(actor, investigation)
        _require_open(fresh)
        now = timezone.now()
        move: StockMove | None = None
        if confirmed is not None and lot is not None:
            move = _correct(
                site=site,
                investigation=fresh,
                lot=lot,
                outcome=outcome,
                actor=actor,
                witness=confirmed,
            )
            fresh.correction = move
            fresh.witness = confirmed.user
            fresh.witness_name = confirmed.user.display_name
            fresh.witnessed_at = confirmed.at
            fresh.witness_factors = confirmed.factors
        fresh.status = InvestigationStatus.RESOLVED
        fresh.outcome = outcome
        fresh.conclusion = text
        fresh.resolved_by = actor
        fresh.resolved_at = now
        fresh.save()
        if fresh.audit is not None:
            CsAudit.objects.filter(pk=fresh.audit.pk).update(status=AuditStatus.RESOLVED)
        record: TheftLoss | None = None
        if outcome in FORM_106:
            assert lot is not None
            if "loss_id" in extra:
                record = _existing_loss(site, extra["loss_id"])
                if record.investigation_id is None:
                    record.investigation = fresh
                    record.save(update_fields=["investigation"])
            else:
                discovered = fresh.audit.counted_at if fresh.audit is not None else fresh.opened_at
                record = open_loss(
                    actor=actor,
                    site=site,
                    details=details,
                    discovered_at=discovered,
                    lines=[
                        LossLine(
                            package=fresh.package,
                            lot=lot,
                            quantity=-fresh.variance,
                            estimated_value=extra.get("estimated_value"),
                        )
                    ],
                    investigation=fresh,
                    prefix="loss.",
                )
        audit_record(
            actor=actor,
            site=site,
            action="cs.investigation.resolved",
            obj=fresh,
            data={
                "outcome": outcome,
                "ndc": fresh.package.ndc11,
                "lot": lot.number if lot is not None else None,
                "variance": str(fresh.variance),
                "audit": fresh.audit_id,
                "move": move.pk if move is not None else None,
                "balance_after": str(move.balance_after) if move is not None else None,
                "witness": confirmed.user.username if confirmed is not None else None,
                "witness_factors": confirmed.factors if confirmed is not None else None,
                "loss": record.pk if record is not None else None,
            },
        )
    return fresh


__all__ = [
    "EVIDENCE_TYPES",
    "MAX_EVIDENCE_BYTES",
    "cs_audit_record",
    "investigation_evidence_add",
    "investigation_note_add",
    "investigation_resolve",
]
