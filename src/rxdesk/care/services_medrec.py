"""Services of medication reconciliation: best possible medication history, comparison with the
profile, discrepancies and outcomes.

The flow: a technician (or pharmacist) starts a med rec for a patient (one open at a time),
gathers the best possible medication history (BPMH) from the interview, a caregiver, outside
lists, the bottles brought in and the pharmacy's own fill history, and submits it. Submitting
stores the discrepancies the comparison suggests (rxdesk.care.medrec_compare) beside any
added by hand, and puts the med rec in the pharmacist's review queue. A pharmacist resolves
each discrepancy with an outcome (a prescriber-contacted outcome names the prescriber) and
completes the med rec with a summary. Completing changes no prescription: the pharmacist
makes profile changes through the prescription screens, where every rule of the profile
holds.

Every write: the capability first (care.medrec, care.medrec_resolve for the pharmacist's
steps), the pharmacy's own rows only (another's is a 404), one audit event last. The audit
data carries ids, codes and changed field names, never the typed free text."""

from __future__ import annotations

import datetime as dt
import unicodedata
from collections.abc import Mapping
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from rxdesk.care import medrec_compare as mc
from rxdesk.care import queries_medrec
from rxdesk.care.choices import (
    HistorySource,
    MedRecDiscrepancyKind,
    MedRecOutcome,
    MedRecReason,
    MedRecStatus,
    Taking,
)
from rxdesk.care.models import MedRec, MedRecDiscrepancy, MedRecItem
from rxdesk.catalog.models import Package
from rxdesk.core.audit import audit_record, register_actions
from rxdesk.core.capabilities import Cap
from rxdesk.core.errors import Conflict, Forbidden, Invalid, NotFound
from rxdesk.core.models import User
from rxdesk.core.services import authorize
from rxdesk.patients.models import Patient, Prescriber
from rxdesk.rx.choices import FillStatus, RxStatus
from rxdesk.rx.models import Fill, Prescription

register_actions(
    {
        "care.medrec.started": "Medication reconciliation started",
        "care.medrec.item_added": "Medication history line added",
        "care.medrec.item_changed": "Medication history line changed",
        "care.medrec.item_removed": "Medication history line removed",
        "care.medrec.fills_imported": "Fill history imported into a medication history",
        "care.medrec.submitted": "Medication history submitted for the pharmacist's review",
        "care.medrec.discrepancy_added": "Med rec discrepancy added",
        "care.medrec.discrepancy_resolved": "Med rec discrepancy resolved",
        "care.medrec.completed": "Medication reconciliation completed",
        "care.medrec.viewed": "Medication reconciliation opened or printed (PHI)",
    }
)

INTERVIEWED_MAX = 120
SOURCE_DETAIL_MAX = 200
DRUG_NAME_MAX = 200
STRENGTH_MAX = 60
DOSE_MAX = 60
ROUTE_MAX = 40
FREQUENCY_MAX = 80
INDICATION_MAX = 120
ITEM_NOTE_MAX = 300
DESCRIPTION_MAX = 500
OUTCOME_NOTE_MAX = 500
SUMMARY_MAX = 4000
IMPORT_DAYS_MAX = 730
DEFAULT_IMPORT_DAYS = 180
# Outcomes for which the pharmacist spoke to the prescriber: the prescriber is named.
PRESCRIBER_OUTCOMES = frozenset(
    {MedRecOutcome.PRESCRIBER_CONTACTED, MedRecOutcome.PRESCRIBER_NO_CHANGE}
)
# An intentional difference is "documented": the note says why.
NOTE_OUTCOMES = frozenset({MedRecOutcome.INTENTIONAL})
# Item fields a technician may change while the history is open.
ITEM_FIELDS = (
    "source",
    "source_detail",
    "drug_name",
    "strength",
    "dose",
    "route",
    "frequency",
    "indication",
    "last_taken",
    "taking",
    "note",
    "package",
    "prescription",
)
# Fills whose product reached the patient (or is on its way): the fill history.
FILLED = (FillStatus.FILLED, FillStatus.READY, FillStatus.DISPENSED)
CANNOT_KEEP = "The text holds a character that cannot be kept (a control character)."


# --- Helpers ----------------------------------------------------------------------------------


def _signed_in(actor: User | None) -> User:
    if actor is None or actor.site_id is None:
        raise Forbidden("Sign in: a medication history names who gathered it.")
    return actor


def _text(value: Any, *, field: str, limit: int, required: str = "") -> str:
    text = " ".join(str(value if value is not None else "").split())
    if any(unicodedata.category(ch) == "Cc" for ch in text):
        raise Invalid(CANNOT_KEEP, field=field)
    if required and not text:
        raise Invalid(required, field=field)
    if len(text) > limit:
        raise Invalid(f"Keep it to {limit} characters.", field=field)
    return text


def _choice(value: Any, choices: type[Any], *, field: str, what: str) -> str:
    text = str(value or "").strip()
    if text not in choices.values:
        raise Invalid(
            f"Choose the {what}: "
            + ", ".join(f"{v} ({label.lower()})" for v, label in choices.choices)
            + ".",
            field=field,
        )
    return text


def _own_medrec(actor: User, medrec: MedRec) -> MedRec:
    """The med rec read afresh, when it is this pharmacy's (another's: 404)."""
    row = (
        MedRec.objects.select_related("patient", "site")
        .filter(pk=medrec.pk, site_id=actor.site_id)
        .first()
    )
    if row is None:
        raise NotFound("No such medication reconciliation at this pharmacy.")
    return row


def _require_status(medrec: MedRec, *allowed: str, doing: str) -> None:
    if medrec.status not in allowed:
        raise Conflict(
            f"This med rec is {medrec.get_status_display().lower()}: you cannot {doing}.",
            field="status",
        )


def _patient_of_site(actor: User, patient: Patient | None) -> Patient:
    if patient is None or patient.site_id != actor.site_id:
        raise NotFound("No such patient at this pharmacy.", field="patient")
    return patient


def _prescription_of(
    actor: User, medrec: MedRec, prescription: Prescription | None
) -> Prescription | None:
    if prescription is None:
        return None
    if prescription.site_id != actor.site_id or prescription.patient_id != medrec.patient_id:
        raise Invalid("That prescription is not this patient's.", field="prescription")
    return prescription


def _item_values(
    actor: User, medrec: MedRec, values: Mapping[str, Any], *, partial: bool
) -> dict[str, Any]:
    """The item's fields checked; with ``partial`` only those given."""
    out: dict[str, Any] = {}
    errors: list[dict[str, str]] = []

    def check(name: str, fn: Any) -> None:
        if partial and name not in values:
            return
        try:
            out[name] = fn(values.get(name))
        except Invalid as exc:
            errors.extend(exc.errors or [{"field": name, "message": exc.message}])

    def source(v: Any) -> str:
        s = _choice(v, HistorySource, field="source", what="source")
        if s == HistorySource.FILL_HISTORY:
            raise Invalid(
                "Lines from this pharmacy's fill history come from 'Import fills'; for "
                "another pharmacy's list choose 'outside list'.",
                field="source",
            )
        return s

    check("source", source)
    check(
        "drug_name",
        lambda v: _text(
            v, field="drug_name", limit=DRUG_NAME_MAX, required="Enter the medication's name."
        ),
    )
    check("source_detail", lambda v: _text(v, field="source_detail", limit=SOURCE_DETAIL_MAX))
    check("strength", lambda v: _text(v, field="strength", limit=STRENGTH_MAX))
    check("dose", lambda v: _text(v, field="dose", limit=DOSE_MAX))
    check("route", lambda v: _text(v, field="route", limit=ROUTE_MAX))
    check("frequency", lambda v: _text(v, field="frequency", limit=FREQUENCY_MAX))
    check("indication", lambda v: _text(v, field="indication", limit=INDICATION_MAX))
    check("note", lambda v: _text(v, field="note", limit=ITEM_NOTE_MAX))
    check(
        "taking",
        lambda v: _choice(
            v or Taking.TAKING, Taking, field="taking", what="whether the patient takes it"
        ),
    )

    def last_taken(v: Any) -> dt.date | None:
        if v in (None, ""):
            return None
        if not isinstance(v, dt.date):
            raise Invalid("Enter the date as MM/DD/YYYY.", field="last_taken")
        if v > medrec.site.today():
            raise Invalid("The last dose cannot be in the future.", field="last_taken")
        return v

    check("last_taken", last_taken)

    def package(v: Any) -> Package | None:
        if v is None:
            return None
        if not isinstance(v, Package):
            raise Invalid("No such package.", field="package")
        return v

    check("package", package)

    def prescription(v: Any) -> Prescription | None:
        return _prescription_of(actor, medrec, v)

    check("prescription", prescription)
    # An outside list is named: which list (a discharge list, another pharmacy, a clinic).
    src = out.get("source") if "source" in out else None
    detail = out.get("source_detail") if "source_detail" in out else None
    if (
        src == HistorySource.OUTSIDE_LIST
        and not detail
        and not any(e["field"] == "source_detail" for e in errors)
    ):
        errors.append(
            {
                "field": "source_detail",
                "message": "Say which list (e.g. the hospital's discharge list, another "
                "pharmacy, the clinic).",
            }
        )
    if len(errors) == 1:
        raise Invalid(errors[0]["message"], field=errors[0]["field"])
    if errors:
        raise Invalid(errors=errors)
    return out


# --- Starting ---------------------------------------------------------------------------------


def medrec_start(
    *, actor: User | None, patient: Patient, reason: str, interviewed: str = ""
) -> MedRec:
    """Start a med rec for ``patient`` (one open at a time: a second is refused, naming the
    one that is open)."""
    authorize(actor, Cap.CARE_MEDREC)
    actor = _signed_in(actor)
    patient = _patient_of_site(actor, patient)
    reason_ = _choice(reason, MedRecReason, field="reason", what="reason")
    who = _text(interviewed, field="interviewed", limit=INTERVIEWED_MAX)
    with transaction.atomic():
        # A patient's other med recs, read in the writing transaction (SQLite takes the
        # write lock at BEGIN IMMEDIATE, so two starts cannot both pass this check there).
        current = (
            MedRec.objects.filter(site_id=actor.site_id, patient=patient)
            .exclude(status=MedRecStatus.COMPLETED)
            .order_by("started_at")
            .first()
        )
        if current is not None:
            when = current.started_at.astimezone(actor.site.tz)
            raise Conflict(
                f"Med rec {current.pk} of this patient, started {when:%m/%d/%Y}, is not "
                f"completed ({current.get_status_display().lower()}): continue that one.",
                field="patient",
                medrec_id=current.pk,
            )
        try:
            # The database holds the rule too (medrec_one_open): on PostgreSQL two starts
            # at the same moment can both pass the check above; the second insert fails.
            with transaction.atomic():
                medrec = MedRec.objects.create(
                    site_id=actor.site_id,
                    patient=patient,
                    reason=reason_,
                    interviewed=who,
                    started_by=actor,
                    started_at=timezone.now(),
                )
        except IntegrityError:
            raise Conflict(
                "Another med rec of this patient was started at the same moment: continue "
                "that one.",
                field="patient",
            ) from None
        audit_record(
            actor=actor,
            action="care.medrec.started",
            obj=medrec,
            patient_id=patient.pk,
            data={"reason": reason_, "with_interviewed": bool(who)},
        )
    return medrec


def medrec_opened(*, actor: User | None, medrec: MedRec, view: str = "screen") -> None:
    """Record that a med rec (its patient's medications) was opened or printed."""
    authorize(actor, Cap.CARE_VIEW)
    actor = _signed_in(actor)
    row = _own_medrec(actor, medrec)
    with transaction.atomic():
        audit_record(
            actor=actor,
            action="care.medrec.viewed",
            obj=row,
            patient_id=row.patient_id,
            data={"view": view[:20], "status": row.status},
        )


# --- History lines ----------------------------------------------------------------------------


def medrec_item_add(
    *,
    actor: User | None,
    medrec: MedRec,
    source: str,
    drug_name: str,
    source_detail: str = "",
    strength: str = "",
    dose: str = "",
    route: str = "",
    frequency: str = "",
    indication: str = "",
    last_taken: dt.date | None = None,
    taking: str = Taking.TAKING,
    note: str = "",
    package: Package | None = None,
    prescription: Prescription | None = None,
) -> MedRecItem:
    """Add one medication to the history (while it is being gathered). An outside list's
    line says which list (``source_detail``)."""
    authorize(actor, Cap.CARE_MEDREC)
    actor = _signed_in(actor)
    row = _own_medrec(actor, medrec)
    _require_status(row, MedRecStatus.OPEN, doing="add medications")
    values = _item_values(
        actor,
        row,
        {
            "source": source,
            "source_detail": source_detail,
            "drug_name": drug_name,
            "strength": strength,
            "dose": dose,
            "route": route,
            "frequency": frequency,
            "indication": indication,
            "last_taken": last_taken,
            "taking": taking,
            "note": note,
            "package": package,
            "prescription": prescription,
        },
        partial=False,
    )
    with transaction.atomic():
        item = MedRecItem.objects.create(medrec=row, added_by=actor, **values)
        audit_record(
            actor=actor,
            action="care.medrec.item_added",
            obj=item,
            patient_id=row.patient_id,
            data={
                "medrec": row.pk,
                "source": item.source,
                "taking": item.taking,
                "prescription": item.prescription_id,
                "package": item.package_id,
            },
        )
    return item


def _own_item(actor: User, item: MedRecItem) -> tuple[MedRec, MedRecItem]:
    current = MedRecItem.objects.filter(pk=item.pk, medrec__site_id=actor.site_id).first()
    if current is None:
        raise NotFound("No such medication line at this pharmacy.")
    return _own_medrec(actor, current.medrec), current


def medrec_item_update(
    *, actor: User | None, item: MedRecItem, changes: Mapping[str, Any]
) -> MedRecItem:
    """Change fields of a history line while the history is open (only those given)."""
    authorize(actor, Cap.CARE_MEDREC)
    actor = _signed_in(actor)
    medrec, current = _own_item(actor, item)
    _require_status(medrec, MedRecStatus.OPEN, doing="change the history")
    unknown = sorted(set(changes) - set(ITEM_FIELDS))
    if unknown:
        raise Invalid(f"These cannot be changed: {', '.join(unknown)}.", field=unknown[0])
    if current.source == HistorySource.FILL_HISTORY and "source" in changes:
        raise Invalid("A line imported from the fill history keeps its source.", field="source")
    given = dict(changes)
    if current.source == HistorySource.FILL_HISTORY:
        given.pop("source", None)
    values = _item_values(actor, medrec, given, partial=True)
    if (
        "source" not in values
        and current.source == HistorySource.OUTSIDE_LIST
        and "source_detail" in values
        and not values["source_detail"]
    ):
        raise Invalid("Say which list.", field="source_detail")
    changed = [k for k, v in values.items() if getattr(current, k) != v]
    if not changed:
        return current
    with transaction.atomic():
        for key in changed:
            setattr(current, key, values[key])
        current.save(update_fields=changed)
        audit_record(
            actor=actor,
            action="care.medrec.item_changed",
            obj=current,
            patient_id=medrec.patient_id,
            data={"medrec": medrec.pk, "changed": sorted(changed), "taking": current.taking},
        )
    return current


def medrec_item_remove(*, actor: User | None, item: MedRecItem) -> None:
    """Remove a history line typed by mistake (while the history is open)."""
    authorize(actor, Cap.CARE_MEDREC)
    actor = _signed_in(actor)
    medrec, current = _own_item(actor, item)
    _require_status(medrec, MedRecStatus.OPEN, doing="remove medications")
    with transaction.atomic():
        pk = current.pk
        data = {"medrec": medrec.pk, "source": current.source, "item": pk}
        # Hand-added discrepancies about this line go with it (the history is still open).
        current.delete()
        audit_record(
            actor=actor,
            action="care.medrec.item_removed",
            obj=medrec,
            patient_id=medrec.patient_id,
            data=data,
        )


def _fill_history_lines(medrec: MedRec, days: int) -> list[tuple[Prescription, Fill]]:
    """Each active prescription of the patient with a fill in the last ``days`` days, with
    its latest such fill."""
    since = medrec.site.today() - dt.timedelta(days=days)
    latest = (
        Fill.objects.filter(
            site_id=medrec.site_id,
            prescription__patient_id=medrec.patient_id,
            prescription__status=RxStatus.ACTIVE,
            status__in=FILLED,
            dispensed_on__gte=since,
        )
        .values("prescription_id")
        .annotate(last=Max("dispensed_on"))
    )
    wanted = {row["prescription_id"]: row["last"] for row in latest}
    out: list[tuple[Prescription, Fill]] = []
    fills = (
        Fill.objects.select_related("prescription__product", "package")
        .filter(prescription_id__in=wanted, status__in=FILLED, dispensed_on__gte=since)
        .order_by("prescription_id", "-dispensed_on", "-number")
    )
    seen: set[int] = set()
    for fill in fills:
        if fill.prescription_id in seen:
            continue
        seen.add(fill.prescription_id)
        out.append((fill.prescription, fill))
    out.sort(key=lambda pair: (pair[0].drug_description.lower(), pair[0].number))
    return out


def medrec_import_fills(
    *, actor: User | None, medrec: MedRec, days: int = DEFAULT_IMPORT_DAYS
) -> list[MedRecItem]:
    """Add one line per active prescription of the patient filled in the last ``days``
    days (source: fill history, linked to the prescription; dose, frequency and route read
    from the directions). A prescription already imported is not added again. Returns the
    lines added (none on a re-run)."""
    authorize(actor, Cap.CARE_MEDREC)
    actor = _signed_in(actor)
    row = _own_medrec(actor, medrec)
    _require_status(row, MedRecStatus.OPEN, doing="import fills")
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= IMPORT_DAYS_MAX:
        raise Invalid(f"Look back 1 to {IMPORT_DAYS_MAX} days.", field="days")
    with transaction.atomic():
        have = set(
            MedRecItem.objects.filter(
                medrec=row, source=HistorySource.FILL_HISTORY, prescription__isnull=False
            ).values_list("prescription_id", flat=True)
        )
        added: list[MedRecItem] = []
        for rx, fill in _fill_history_lines(row, days):
            if rx.pk in have:
                continue
            dose, frequency, route = mc.profile_line_parts(rx.directions)
            on = fill.dispensed_on
            detail = f"Rx {rx.number}, last filled {on:%m/%d/%Y}" if on else f"Rx {rx.number}"
            added.append(
                MedRecItem.objects.create(
                    medrec=row,
                    source=HistorySource.FILL_HISTORY,
                    source_detail=detail[:SOURCE_DETAIL_MAX],
                    drug_name=rx.drug_description[:DRUG_NAME_MAX],
                    package=fill.package or rx.package,
                    prescription=rx,
                    strength=(rx.product.strength or "")[:STRENGTH_MAX],
                    dose=dose[:DOSE_MAX],
                    route=(route or (rx.product.route or "").lower())[:ROUTE_MAX],
                    frequency=frequency[:FREQUENCY_MAX],
                    taking=Taking.TAKING,
                    note=f"Directions: {rx.directions_en}"[:ITEM_NOTE_MAX],
                    added_by=actor,
                    added_at=timezone.now(),
                )
            )
        audit_record(
            actor=actor,
            action="care.medrec.fills_imported",
            obj=row,
            patient_id=row.patient_id,
            data={
                "days": days,
                "added": len(added),
                "prescriptions": [i.prescription_id for i in added],
            },
        )
    return added


# --- Submitting and the pharmacist's review ---------------------------------------------------


def medrec_submit(*, actor: User | None, medrec: MedRec) -> MedRec:
    """Hand the history to the pharmacist: the comparison's suggested discrepancies are
    stored (beside those added by hand) and the med rec waits for review."""
    authorize(actor, Cap.CARE_MEDREC)
    actor = _signed_in(actor)
    row = _own_medrec(actor, medrec)
    _require_status(row, MedRecStatus.OPEN, doing="submit it again")
    if not MedRecItem.objects.filter(medrec=row).exists():
        raise Invalid(
            "Add the medications the patient takes (or import the fill history) first.",
            field="items",
        )
    comparison = queries_medrec.comparison(row)
    items = {i.pk: i for i in MedRecItem.objects.filter(medrec=row)}
    with transaction.atomic():
        now = timezone.now()
        changed = MedRec.objects.filter(pk=row.pk, status=MedRecStatus.OPEN).update(
            status=MedRecStatus.REVIEW, submitted_by=actor, submitted_at=now
        )
        if changed != 1:
            raise Conflict("This med rec was submitted meanwhile.", field="status")
        created = MedRecDiscrepancy.objects.bulk_create(
            [
                MedRecDiscrepancy(
                    medrec=row,
                    kind=s.kind,
                    item=items.get(s.item_key) if s.item_key is not None else None,
                    prescription_id=s.prescription_id,
                    description=s.description[:DESCRIPTION_MAX],
                    found_by=actor,
                    found_at=now,
                )
                for s in comparison.suggestions
            ]
        )
        row.refresh_from_db()
        kinds: dict[str, int] = {}
        for d in created:
            kinds[d.kind] = kinds.get(d.kind, 0) + 1
        audit_record(
            actor=actor,
            action="care.medrec.submitted",
            obj=row,
            patient_id=row.patient_id,
            data={
                "before": {"status": MedRecStatus.OPEN},
                "after": {"status": MedRecStatus.REVIEW},
                "items": len(items),
                "suggested": kinds,
                "total": MedRecDiscrepancy.objects.filter(medrec=row).count(),
            },
        )
    return row


def medrec_discrepancy_add(
    *,
    actor: User | None,
    medrec: MedRec,
    kind: str,
    description: str,
    item: MedRecItem | None = None,
    prescription: Prescription | None = None,
) -> MedRecDiscrepancy:
    """A discrepancy found by hand (before or after submitting; not once completed)."""
    authorize(actor, Cap.CARE_MEDREC)
    actor = _signed_in(actor)
    row = _own_medrec(actor, medrec)
    _require_status(row, MedRecStatus.OPEN, MedRecStatus.REVIEW, doing="add discrepancies")
    errors: list[dict[str, str]] = []
    kind_ = ""
    text = ""
    try:
        kind_ = _choice(kind, MedRecDiscrepancyKind, field="kind", what="kind of discrepancy")
    except Invalid as exc:
        errors.extend(exc.errors or [{"field": "kind", "message": exc.message}])
    try:
        text = _text(
            description,
            field="description",
            limit=DESCRIPTION_MAX,
            required="Describe the discrepancy.",
        )
    except Invalid as exc:
        errors.extend(exc.errors or [{"field": "description", "message": exc.message}])
    if item is not None and item.medrec_id != row.pk:
        errors.append({"field": "item", "message": "That line is not of this med rec."})
    try:
        rx = _prescription_of(actor, row, prescription)
    except Invalid as exc:
        rx = None
        errors.extend(exc.errors or [{"field": "prescription", "message": exc.message}])
    if errors:
        if len(errors) == 1:
            raise Invalid(errors[0]["message"], field=errors[0]["field"])
        raise Invalid(errors=errors)
    with transaction.atomic():
        d = MedRecDiscrepancy.objects.create(
            medrec=row,
            kind=kind_,
            item=item,
            prescription=rx,
            description=text,
            found_by=actor,
            found_at=timezone.now(),
        )
        audit_record(
            actor=actor,
            action="care.medrec.discrepancy_added",
            obj=d,
            patient_id=row.patient_id,
            data={
                "medrec": row.pk,
                "kind": kind_,
                "item": d.item_id,
                "prescription": d.prescription_id,
            },
        )
    return d


def medrec_discrepancy_resolve(
    *,
    actor: User | None,
    discrepancy: MedRecDiscrepancy,
    outcome: str,
    note: str = "",
    prescriber: Prescriber | None = None,
) -> MedRecDiscrepancy:
    """The pharmacist's outcome of one discrepancy (while the med rec is in review). A
    prescriber-contacted outcome names the prescriber; an intentional difference says why.
    A resolved discrepancy may be resolved again (a changed outcome) until the med rec is
    completed; the audit keeps both."""
    authorize(actor, Cap.CARE_MEDREC_RESOLVE)
    actor = _signed_in(actor)
    current = MedRecDiscrepancy.objects.filter(
        pk=discrepancy.pk, medrec__site_id=actor.site_id
    ).first()
    if current is None:
        raise NotFound("No such discrepancy at this pharmacy.")
    medrec = _own_medrec(actor, current.medrec)
    if medrec.status == MedRecStatus.OPEN:
        raise Conflict(
            "The history is still being gathered: submit it before resolving.", field="status"
        )
    _require_status(medrec, MedRecStatus.REVIEW, doing="change outcomes")
    errors: list[dict[str, str]] = []
    outcome_ = ""
    words = ""
    try:
        outcome_ = _choice(outcome, MedRecOutcome, field="outcome", what="outcome")
    except Invalid as exc:
        errors.extend(exc.errors)
    try:
        words = _text(note, field="note", limit=OUTCOME_NOTE_MAX)
    except Invalid as exc:
        errors.extend(exc.errors)
    if outcome_ in PRESCRIBER_OUTCOMES:
        if prescriber is None:
            errors.append(
                {"field": "prescriber", "message": "Name the prescriber who was contacted."}
            )
        elif prescriber.site_id != actor.site_id:
            errors.append({"field": "prescriber", "message": "No such prescriber here."})
    elif prescriber is not None:
        errors.append(
            {
                "field": "prescriber",
                "message": "Name a prescriber only for a prescriber-contacted outcome.",
            }
        )
    if outcome_ in NOTE_OUTCOMES and not words and not any(e["field"] == "note" for e in errors):
        errors.append({"field": "note", "message": "Say why the difference is intended."})
    if errors:
        if len(errors) == 1:
            raise Invalid(errors[0]["message"], field=errors[0]["field"])
        raise Invalid(errors=errors)
    with transaction.atomic():
        before = {"outcome": current.outcome, "prescriber": current.prescriber_contacted_id}
        current.outcome = outcome_
        current.outcome_note = words
        current.prescriber_contacted = prescriber if outcome_ in PRESCRIBER_OUTCOMES else None
        current.resolved_by = actor
        current.resolved_at = timezone.now()
        current.save(
            update_fields=[
                "outcome",
                "outcome_note",
                "prescriber_contacted",
                "resolved_by",
                "resolved_at",
            ]
        )
        audit_record(
            actor=actor,
            action="care.medrec.discrepancy_resolved",
            obj=current,
            patient_id=medrec.patient_id,
            data={
                "medrec": medrec.pk,
                "kind": current.kind,
                "before": before,
                "after": {"outcome": outcome_, "prescriber": current.prescriber_contacted_id},
                "with_note": bool(words),
            },
        )
    return current


def medrec_complete(*, actor: User | None, medrec: MedRec, summary: str = "") -> MedRec:
    """The pharmacist completes the review: every discrepancy has its outcome (else refused,
    saying how many are open)."""
    authorize(actor, Cap.CARE_MEDREC_RESOLVE)
    actor = _signed_in(actor)
    row = _own_medrec(actor, medrec)
    if row.status == MedRecStatus.OPEN:
        raise Conflict(
            "The history is still being gathered: submit it for review first.", field="status"
        )
    _require_status(row, MedRecStatus.REVIEW, doing="complete it again")
    words = _text(summary, field="summary", limit=SUMMARY_MAX)
    open_ = MedRecDiscrepancy.objects.filter(medrec=row, outcome="").count()
    if open_:
        raise Conflict(
            f"{open_} discrepanc{'y is' if open_ == 1 else 'ies are'} still without an "
            "outcome: resolve every one before completing.",
            field="discrepancies",
            open=open_,
        )
    with transaction.atomic():
        now = timezone.now()
        changed = MedRec.objects.filter(pk=row.pk, status=MedRecStatus.REVIEW).update(
            status=MedRecStatus.COMPLETED, completed_by=actor, completed_at=now, summary=words
        )
        if changed != 1:
            raise Conflict("This med rec was completed meanwhile.", field="status")
        row.refresh_from_db()
        outcomes: dict[str, int] = {}
        for o in MedRecDiscrepancy.objects.filter(medrec=row).values_list("outcome", flat=True):
            outcomes[o] = outcomes.get(o, 0) + 1
        audit_record(
            actor=actor,
            action="care.medrec.completed",
            obj=row,
            patient_id=row.patient_id,
            data={
                "before": {"status": MedRecStatus.REVIEW},
                "after": {"status": MedRecStatus.COMPLETED},
                "outcomes": outcomes,
                "with_summary": bool(words),
            },
        )
    return row


__all__ = [
    "DEFAULT_IMPORT_DAYS",
    "PRESCRIBER_OUTCOMES",
    "medrec_complete",
    "medrec_discrepancy_add",
    "medrec_discrepancy_resolve",
    "medrec_import_fills",
    "medrec_item_add",
    "medrec_item_remove",
    "medrec_item_update",
    "medrec_opened",
    "medrec_start",
    "medrec_submit",
]
