"""API of medication reconciliation (mounted at /api/v1/care): start a med rec, gather the
best possible medication history (lines by hand, the fill history imported), submit it,
add and resolve discrepancies, complete it. Parse, call rxdesk.care services_medrec /
queries_medrec, serialize.

Reads name the patient: care.view and patient.view. Gathering is care.medrec (technicians,
pharmacists); outcomes and completion are care.medrec_resolve (pharmacists). Opening one
med rec is recorded (PHI access). Another pharmacy's rows are 404 here; an id in a body
that is not this pharmacy's is a 422 naming the field."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema, Status

from rxdesk.care import queries_medrec as queries
from rxdesk.care import services_medrec as services
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
from rxdesk.core.capabilities import Cap
from rxdesk.core.errors import Invalid, NotFound
from rxdesk.core.models import Site, User
from rxdesk.institutional.api_common import StrictIn, gate, user_of
from rxdesk.patients.models import Patient, Prescriber
from rxdesk.rx.models import Prescription

router = Router(tags=["care: medication reconciliation"])

MAX_ID = 2**63 - 1
READ = (Cap.CARE_VIEW, Cap.PATIENT_VIEW)


# --- Input ------------------------------------------------------------------------------------


class StartIn(StrictIn):
    patient_id: int = Field(..., ge=1, le=MAX_ID)
    reason: MedRecReason
    interviewed: str = Field("", max_length=services.INTERVIEWED_MAX)


class MedrecItemIn(StrictIn):
    source: HistorySource
    drug_name: str = Field(..., min_length=1, max_length=services.DRUG_NAME_MAX)
    source_detail: str = Field("", max_length=services.SOURCE_DETAIL_MAX)
    strength: str = Field("", max_length=services.STRENGTH_MAX)
    dose: str = Field("", max_length=services.DOSE_MAX, description="e.g. 1 tablet, 10 mg")
    route: str = Field("", max_length=services.ROUTE_MAX, description="e.g. by mouth")
    frequency: str = Field("", max_length=services.FREQUENCY_MAX, description="e.g. BID")
    indication: str = Field("", max_length=services.INDICATION_MAX)
    last_taken: dt.date | None = None
    taking: Taking = Taking.TAKING
    note: str = Field("", max_length=services.ITEM_NOTE_MAX)
    package_id: int | None = Field(None, ge=1, le=MAX_ID)
    prescription_id: int | None = Field(None, ge=1, le=MAX_ID)


class ItemPatch(StrictIn):
    source: HistorySource | None = None
    drug_name: str | None = Field(None, min_length=1, max_length=services.DRUG_NAME_MAX)
    source_detail: str | None = Field(None, max_length=services.SOURCE_DETAIL_MAX)
    strength: str | None = Field(None, max_length=services.STRENGTH_MAX)
    dose: str | None = Field(None, max_length=services.DOSE_MAX)
    route: str | None = Field(None, max_length=services.ROUTE_MAX)
    frequency: str | None = Field(None, max_length=services.FREQUENCY_MAX)
    indication: str | None = Field(None, max_length=services.INDICATION_MAX)
    last_taken: dt.date | None = None
    taking: Taking | None = None
    note: str | None = Field(None, max_length=services.ITEM_NOTE_MAX)
    package_id: int | None = Field(None, ge=1, le=MAX_ID)
    prescription_id: int | None = Field(None, ge=1, le=MAX_ID)


class ImportIn(StrictIn):
    days: int = Field(services.DEFAULT_IMPORT_DAYS, ge=1, le=services.IMPORT_DAYS_MAX)


class DiscrepancyIn(StrictIn):
    kind: MedRecDiscrepancyKind
    description: str = Field(..., min_length=1, max_length=services.DESCRIPTION_MAX)
    item_id: int | None = Field(None, ge=1, le=MAX_ID)
    prescription_id: int | None = Field(None, ge=1, le=MAX_ID)


class MedrecResolveIn(StrictIn):
    outcome: MedRecOutcome
    note: str = Field("", max_length=services.OUTCOME_NOTE_MAX)
    prescriber_id: int | None = Field(None, ge=1, le=MAX_ID)


class CompleteIn(StrictIn):
    summary: str = Field("", max_length=services.SUMMARY_MAX)


class MedrecListQuery(Schema):
    status: MedRecStatus | None = None
    patient_id: int | None = Field(None, ge=1, le=MAX_ID)
    limit: int = Field(queries.LIST_LIMIT, ge=1, le=queries.LIST_LIMIT)


# --- Output -----------------------------------------------------------------------------------


class MedRecSummaryOut(Schema):
    id: int
    patient_id: int
    patient_name: str
    reason: str
    status: str
    status_label: str
    started_at: dt.datetime
    started_by: str
    items: int
    open_discrepancies: int


class ItemOut(Schema):
    id: int
    source: str
    source_detail: str
    drug_name: str
    strength: str
    dose: str
    route: str
    frequency: str
    indication: str
    last_taken: dt.date | None
    taking: str
    note: str
    package_id: int | None
    prescription_id: int | None
    added_by: str
    added_at: dt.datetime


class MedrecDiscrepancyOut(Schema):
    id: int
    kind: str
    kind_label: str
    item_id: int | None
    prescription_id: int | None
    description: str
    found_by: str
    found_at: dt.datetime
    outcome: str
    outcome_note: str
    prescriber_id: int | None
    resolved_by: str
    resolved_at: dt.datetime | None


class MedrecProfileOut(Schema):
    prescription_id: int
    rx_number: int
    drug_name: str
    dose: str
    frequency: str
    route: str
    directions: str


class RowOut(Schema):
    item_id: int | None
    prescription_id: int | None
    kinds: list[str]


class MedRecOut(Schema):
    id: int
    patient_id: int
    patient_name: str
    reason: str
    status: str
    status_label: str
    interviewed: str
    started_by: str
    started_at: dt.datetime
    submitted_by: str
    submitted_at: dt.datetime | None
    completed_by: str
    completed_at: dt.datetime | None
    summary: str
    items: list[ItemOut]
    profile: list[MedrecProfileOut]
    comparison: list[RowOut]
    discrepancies: list[MedrecDiscrepancyOut]


# --- Helpers ----------------------------------------------------------------------------------


def _name(user: User | None) -> str:
    return user.username if user is not None else ""


def _one(model: Any, site: Site, pk: int | None, field: str, what: str) -> Any:
    if pk is None:
        return None
    found = model._default_manager.filter(pk=pk).first()
    if found is None or getattr(found, "site_id", site.pk) != site.pk:
        raise Invalid(f"No such {what} at this pharmacy.", field=field)
    return found


def _package(pk: int | None) -> Package | None:
    if pk is None:
        return None
    found = Package.objects.filter(pk=pk).first()
    if found is None:
        raise Invalid("No such package in the catalog.", field="package_id")
    return found


def _item(i: MedRecItem) -> dict[str, Any]:
    return {
        "id": i.pk,
        "source": i.source,
        "source_detail": i.source_detail,
        "drug_name": i.drug_name,
        "strength": i.strength,
        "dose": i.dose,
        "route": i.route,
        "frequency": i.frequency,
        "indication": i.indication,
        "last_taken": i.last_taken,
        "taking": i.taking,
        "note": i.note,
        "package_id": i.package_id,
        "prescription_id": i.prescription_id,
        "added_by": _name(i.added_by),
        "added_at": i.added_at,
    }


def _discrepancy(d: MedRecDiscrepancy) -> dict[str, Any]:
    return {
        "id": d.pk,
        "kind": d.kind,
        "kind_label": d.get_kind_display(),
        "item_id": d.item_id,
        "prescription_id": d.prescription_id,
        "description": d.description,
        "found_by": _name(d.found_by),
        "found_at": d.found_at,
        "outcome": d.outcome,
        "outcome_note": d.outcome_note,
        "prescriber_id": d.prescriber_contacted_id,
        "resolved_by": _name(d.resolved_by),
        "resolved_at": d.resolved_at,
    }


def _full(m: MedRec) -> dict[str, Any]:
    sbs = queries.side_by_side(m)
    profile = []
    for rx in sbs.prescriptions.values():
        line = queries.profile_line(rx)
        profile.append(
            {
                "prescription_id": rx.pk,
                "rx_number": rx.number,
                "drug_name": rx.drug_description,
                "dose": line.dose,
                "frequency": line.frequency,
                "route": line.route,
                "directions": rx.directions_en,
            }
        )
    return {
        "id": m.pk,
        "patient_id": m.patient_id,
        "patient_name": m.patient.full_name,
        "reason": m.reason,
        "status": m.status,
        "status_label": m.get_status_display(),
        "interviewed": m.interviewed,
        "started_by": _name(m.started_by),
        "started_at": m.started_at,
        "submitted_by": _name(m.submitted_by),
        "submitted_at": m.submitted_at,
        "completed_by": _name(m.completed_by),
        "completed_at": m.completed_at,
        "summary": m.summary,
        "items": [_item(i) for i in sbs.items.values()],
        "profile": profile,
        "comparison": [
            {
                "item_id": r.history.key if r.history else None,
                "prescription_id": r.profile.prescription_id if r.profile else None,
                "kinds": list(r.kinds),
            }
            for r in sbs.comparison.rows
        ],
        "discrepancies": [_discrepancy(d) for d in queries.discrepancies_of(m)],
    }


def _medrec(request: HttpRequest, medrec_id: int) -> MedRec:
    actor = user_of(request)
    row = MedRec.objects.select_related("patient").filter(site_id=actor.site_id, pk=medrec_id)
    found = row.first()
    if found is None:
        raise NotFound("No such medication reconciliation at this pharmacy.")
    return found


def _fresh(actor: User, medrec_id: int) -> MedRec:
    return queries.medrec_get(actor=actor, medrec_id=medrec_id)


# --- Med recs ---------------------------------------------------------------------------------


@router.get(
    "/medrecs",
    response=list[MedRecSummaryOut],
    auth=gate(*READ),
    summary="Med recs: the pharmacist's review queue first, then those being gathered",
)
def medrec_list(request: HttpRequest, q: Query[MedrecListQuery]) -> Any:
    rows = queries.medrecs(
        actor=user_of(request),
        status=q.status.value if q.status else None,
        patient_id=q.patient_id,
        limit=q.limit,
    )
    return [
        {
            "id": m.pk,
            "patient_id": m.patient_id,
            "patient_name": m.patient.full_name,
            "reason": m.reason,
            "status": m.status,
            "status_label": m.get_status_display(),
            "started_at": m.started_at,
            "started_by": _name(m.started_by),
            "items": m.n_items,  # type: ignore[attr-defined]
            "open_discrepancies": m.n_open,  # type: ignore[attr-defined]
        }
        for m in rows
    ]


@router.post(
    "/medrecs",
    response={201: MedRecOut},
    auth=gate(Cap.CARE_MEDREC),
    summary="Start a medication reconciliation for a patient",
    description="409 (field patient) when the patient has a med rec not yet completed; the "
    "message names it.",
)
def medrec_create(request: HttpRequest, payload: StartIn) -> Any:
    actor = user_of(request)
    patient = Patient.objects.filter(pk=payload.patient_id, site_id=actor.site_id).first()
    if patient is None:
        raise Invalid("No such patient at this pharmacy.", field="patient_id")
    m = services.medrec_start(
        actor=actor, patient=patient, reason=payload.reason, interviewed=payload.interviewed
    )
    return Status(201, _full(_fresh(actor, m.pk)))


@router.get(
    "/medrecs/{int:medrec_id}",
    response=MedRecOut,
    auth=gate(*READ),
    summary="A med rec: the history, the profile, the comparison and the discrepancies",
    description="Each opening is recorded (PHI access).",
)
def medrec_read(request: HttpRequest, medrec_id: int) -> Any:
    actor = user_of(request)
    m = queries.medrec_get(actor=actor, medrec_id=medrec_id)
    services.medrec_opened(actor=actor, medrec=m, view="api")
    return _full(m)


@router.post(
    "/medrecs/{int:medrec_id}/items",
    response={201: ItemOut},
    auth=gate(Cap.CARE_MEDREC),
    summary="Add a medication to the history (interview, caregiver, outside list, bottles)",
    description="An outside list's line names the list (source_detail). Lines from this "
    "pharmacy's fill history come from import-fills. 409 once submitted.",
)
def item_create(request: HttpRequest, medrec_id: int, payload: MedrecItemIn) -> Any:
    actor = user_of(request)
    m = _medrec(request, medrec_id)
    values = payload.model_dump(exclude={"package_id", "prescription_id"})
    item = services.medrec_item_add(
        actor=actor,
        medrec=m,
        package=_package(payload.package_id),
        prescription=_one(
            Prescription, actor.site, payload.prescription_id, "prescription_id", "prescription"
        ),
        **values,
    )
    return Status(201, _item(item))


def _item_of(request: HttpRequest, medrec_id: int, item_id: int) -> MedRecItem:
    m = _medrec(request, medrec_id)
    item = MedRecItem.objects.filter(medrec=m, pk=item_id).select_related("added_by").first()
    if item is None:
        raise NotFound("No such line in this med rec.")
    return item


@router.patch(
    "/medrecs/{int:medrec_id}/items/{int:item_id}",
    response=ItemOut,
    auth=gate(Cap.CARE_MEDREC),
    summary="Change a line of the history (only the fields given)",
)
def item_update(request: HttpRequest, medrec_id: int, item_id: int, payload: ItemPatch) -> Any:
    actor = user_of(request)
    item = _item_of(request, medrec_id, item_id)
    changes = payload.model_dump(exclude_unset=True)
    if "package_id" in changes:
        changes["package"] = _package(changes.pop("package_id"))
    if "prescription_id" in changes:
        changes["prescription"] = _one(
            Prescription,
            actor.site,
            changes.pop("prescription_id"),
            "prescription_id",
            "prescription",
        )
    for key in ("source", "drug_name", "taking"):
        if key in changes and changes[key] is None:
            raise Invalid("This cannot be empty.", field=key)
    changes = {
        k: ("" if v is None and k not in ("last_taken", "package", "prescription") else v)
        for k, v in changes.items()
    }
    item = services.medrec_item_update(actor=actor, item=item, changes=changes)
    return _item(item)


@router.delete(
    "/medrecs/{int:medrec_id}/items/{int:item_id}",
    response={204: None},
    auth=gate(Cap.CARE_MEDREC),
    summary="Remove a line typed by mistake (while the history is open)",
)
def item_delete(request: HttpRequest, medrec_id: int, item_id: int) -> Any:
    services.medrec_item_remove(actor=user_of(request), item=_item_of(request, medrec_id, item_id))
    return Status(204, None)


@router.post(
    "/medrecs/{int:medrec_id}/import-fills",
    response=MedRecOut,
    auth=gate(Cap.CARE_MEDREC),
    summary="Add the patient's active prescriptions filled in the last N days",
    description="One line per prescription, linked to it; a prescription already imported "
    "is not added again.",
)
def import_fills(request: HttpRequest, medrec_id: int, payload: ImportIn) -> Any:
    actor = user_of(request)
    services.medrec_import_fills(actor=actor, medrec=_medrec(request, medrec_id), days=payload.days)
    return _full(_fresh(actor, medrec_id))


@router.post(
    "/medrecs/{int:medrec_id}/submit",
    response=MedRecOut,
    auth=gate(Cap.CARE_MEDREC),
    summary="Hand the history to the pharmacist (the suggested discrepancies are stored)",
)
def submit(request: HttpRequest, medrec_id: int) -> Any:
    actor = user_of(request)
    services.medrec_submit(actor=actor, medrec=_medrec(request, medrec_id))
    return _full(_fresh(actor, medrec_id))


@router.post(
    "/medrecs/{int:medrec_id}/discrepancies",
    response={201: MedrecDiscrepancyOut},
    auth=gate(Cap.CARE_MEDREC),
    summary="Add a discrepancy found by hand",
)
def discrepancy_create(request: HttpRequest, medrec_id: int, payload: DiscrepancyIn) -> Any:
    actor = user_of(request)
    m = _medrec(request, medrec_id)
    item = None
    if payload.item_id is not None:
        item = MedRecItem.objects.filter(medrec=m, pk=payload.item_id).first()
        if item is None:
            raise Invalid("No such line in this med rec.", field="item_id")
    d = services.medrec_discrepancy_add(
        actor=actor,
        medrec=m,
        kind=payload.kind,
        description=payload.description,
        item=item,
        prescription=_one(
            Prescription, actor.site, payload.prescription_id, "prescription_id", "prescription"
        ),
    )
    return Status(201, _discrepancy(d))


@router.post(
    "/medrecs/{int:medrec_id}/discrepancies/{int:discrepancy_id}/resolve",
    response=MedrecDiscrepancyOut,
    auth=gate(Cap.CARE_MEDREC_RESOLVE),
    summary="The pharmacist's outcome of a discrepancy",
    description="A prescriber-contacted outcome names prescriber_id; 'intentional' needs a "
    "note. 409 before the history is submitted or once completed.",
)
def discrepancy_resolve(
    request: HttpRequest, medrec_id: int, discrepancy_id: int, payload: MedrecResolveIn
) -> Any:
    actor = user_of(request)
    m = _medrec(request, medrec_id)
    d = MedRecDiscrepancy.objects.filter(medrec=m, pk=discrepancy_id).first()
    if d is None:
        raise NotFound("No such discrepancy in this med rec.")
    d = services.medrec_discrepancy_resolve(
        actor=actor,
        discrepancy=d,
        outcome=payload.outcome,
        note=payload.note,
        prescriber=_one(
            Prescriber, actor.site, payload.prescriber_id, "prescriber_id", "prescriber"
        ),
    )
    return _discrepancy(d)


@router.post(
    "/medrecs/{int:medrec_id}/complete",
    response=MedRecOut,
    auth=gate(Cap.CARE_MEDREC_RESOLVE),
    summary="Complete the review (every discrepancy has its outcome)",
    description="409 (field discrepancies) saying how many are still open.",
)
def complete(request: HttpRequest, medrec_id: int, payload: CompleteIn) -> Any:
    actor = user_of(request)
    services.medrec_complete(
        actor=actor, medrec=_medrec(request, medrec_id), summary=payload.summary
    )
    return _full(_fresh(actor, medrec_id))
