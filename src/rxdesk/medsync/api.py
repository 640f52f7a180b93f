"""Medication synchronization: the API (mounted at /api/v1/sync). Parse, call
rxdesk.medsync services / queries, serialize.

Reading (enrollments, cycles, the call list, a proration preview) needs sync.view
(technician, trainee, pharmacist, PIC); enrolling, including or keeping out a
prescription, aligning, recording a call, queueing the sync fills and ending need
sync.manage (technician, pharmacist, PIC)."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from django.http import HttpRequest, HttpResponse
from ninja import Field, Query, Router, Schema, Status

from rxdesk.core.capabilities import Cap
from rxdesk.core.errors import Invalid
from rxdesk.institutional.api_common import StrictIn, gate, user_of
from rxdesk.medsync import queries, services
from rxdesk.medsync.choices import CallOutcome, EndReason, Exclusion
from rxdesk.medsync.models import SyncCall, SyncCycle, SyncEnrollment, SyncFill
from rxdesk.patients.models import Patient
from rxdesk.rx.models import Prescription

router = Router(tags=["Medication synchronization"])

MAX_ID = 2**63 - 1
CSV_RESPONSE = {
    "responses": {
        200: {
            "description": "The call list as JSON or CSV (text/csv)",
            "content": {
                "application/json": {"schema": {"type": "array"}},
                "text/csv": {"schema": {"type": "string"}},
            },
        }
    }
}


# --- Input ------------------------------------------------------------------------------------


class SyncEnrollIn(StrictIn):
    patient_id: int = Field(..., ge=1, le=MAX_ID)
    sync_day: int = Field(..., ge=1, le=31, description="Day of the month; short months: last day")
    prescription_ids: list[int] = Field(..., min_length=1, max_length=50)
    consent_note: str = Field(..., min_length=1, max_length=services.CONSENT_MAX)


class SyncMemberIn(StrictIn):
    prescription_id: int = Field(..., ge=1, le=MAX_ID)
    included: bool
    exclusion: Exclusion | Literal[""] = ""
    note: str = Field("", max_length=200)


class SyncCallIn(StrictIn):
    outcome: CallOutcome
    note: str = Field("", max_length=services.NOTE_MAX)


class SyncEndIn(StrictIn):
    reason: EndReason
    note: str = Field("", max_length=services.NOTE_MAX)


class SyncPreviewQuery(Schema):
    patient_id: int = Field(..., ge=1, le=MAX_ID)
    sync_day: int = Field(..., ge=1, le=31)
    prescription_ids: list[int] = Field(..., min_length=1, max_length=50)


class SyncCallListQuery(Schema):
    within: int | None = Field(None, ge=0, le=62, description="Days ahead (default: setting)")
    format: Literal["json", "csv"] = "json"


# --- Output -----------------------------------------------------------------------------------


class SyncMemberOut(Schema):
    prescription_id: int
    rx_number: int
    drug: str
    included: bool
    exclusion: str
    note: str


class SyncPlanLineOut(Schema):
    prescription_id: int
    rx_number: int
    drug: str
    action: str
    action_label: str
    due_date: dt.date
    target_date: dt.date
    days_supply: int
    quantity: str
    short_fill: bool
    warning: str
    problem: str
    refills_left: int
    last_fill_date: dt.date | None


class SyncFillOut(Schema):
    prescription_id: int
    rx_number: int
    action: str
    due_date: dt.date
    target_date: dt.date
    days_supply: int
    quantity: str
    short_fill: bool
    warning: str
    fill_id: int | None
    fill_status: str
    queue_message: str


class SyncCallOut(Schema):
    id: int
    cycle_id: int
    outcome: str
    outcome_label: str
    note: str
    called_by: str
    called_at: dt.datetime


class SyncCycleOut(Schema):
    id: int
    enrollment_id: int
    patient_id: int
    patient_name: str
    sync_date: dt.date
    status: str
    status_label: str
    alignment: bool
    fills: list[SyncFillOut]
    calls: list[SyncCallOut]


class SyncEnrollmentOut(Schema):
    id: int
    patient_id: int
    patient_name: str
    active: bool
    sync_day: int
    anchor_date: dt.date
    consent_note: str
    enrolled_by: str
    enrolled_at: dt.datetime
    ended_at: dt.datetime | None
    end_reason: str
    members: list[SyncMemberOut]
    cycle_ids: list[int]


class SyncPreviewOut(Schema):
    sync_date: dt.date
    lines: list[SyncPlanLineOut]


class SyncCallListRowOut(Schema):
    cycle_id: int
    patient_id: int
    patient_name: str
    sync_date: dt.date
    status: str
    lines: list[SyncPlanLineOut]


# --- Serializers ------------------------------------------------------------------------------


def _num(value: Any) -> str:
    return format(value.normalize(), "f")


def _drug(rx: Prescription) -> str:
    return rx.drug_description or str(rx.product)


def _enrollment(e: SyncEnrollment) -> dict[str, Any]:
    return {
        "id": e.pk,
        "patient_id": e.patient_id,
        "patient_name": e.patient.full_name,
        "active": e.active,
        "sync_day": e.sync_day,
        "anchor_date": e.anchor_date,
        "consent_note": e.consent_note,
        "enrolled_by": e.enrolled_by.display_name,
        "enrolled_at": e.enrolled_at,
        "ended_at": e.ended_at,
        "end_reason": e.end_reason,
        "members": [
            {
                "prescription_id": m.prescription_id,
                "rx_number": m.prescription.number,
                "drug": _drug(m.prescription),
                "included": m.included,
                "exclusion": m.exclusion,
                "note": m.note,
            }
            for m in queries.members(e)
        ],
        "cycle_ids": [c.pk for c in queries.cycles(e)],
    }


def _line(m: queries.MedPlan) -> dict[str, Any]:
    rx, line = m.prescription, m.line
    return {
        "prescription_id": rx.pk,
        "rx_number": rx.number,
        "drug": _drug(rx),
        "action": line.action,
        "action_label": m.action_label,
        "due_date": line.due_date,
        "target_date": line.target_date,
        "days_supply": line.days,
        "quantity": _num(line.quantity),
        "short_fill": line.short_fill,
        "warning": line.warning,
        "problem": line.problem,
        "refills_left": m.refills_left,
        "last_fill_date": m.last_fill.dispensed_on if m.last_fill else None,
    }


def _fill(r: SyncFill) -> dict[str, Any]:
    return {
        "prescription_id": r.prescription_id,
        "rx_number": r.prescription.number,
        "action": r.action,
        "due_date": r.due_date,
        "target_date": r.target_date,
        "days_supply": r.days_supply,
        "quantity": _num(r.quantity),
        "short_fill": r.short_fill,
        "warning": r.warning,
        "fill_id": r.fill_id,
        "fill_status": r.fill.status if r.fill else "",
        "queue_message": r.queue_message,
    }


def _call(c: SyncCall) -> dict[str, Any]:
    return {
        "id": c.pk,
        "cycle_id": c.cycle_id,
        "outcome": c.outcome,
        "outcome_label": c.get_outcome_display(),
        "note": c.note,
        "called_by": c.called_by.display_name,
        "called_at": c.called_at,
    }


def _cycle(c: SyncCycle) -> dict[str, Any]:
    return {
        "id": c.pk,
        "enrollment_id": c.enrollment_id,
        "patient_id": c.enrollment.patient_id,
        "patient_name": c.enrollment.patient.full_name,
        "sync_date": c.sync_date,
        "status": c.status,
        "status_label": c.get_status_display(),
        "alignment": c.alignment,
        "fills": [_fill(r) for r in queries.cycle_fills(c)],
        "calls": [_call(x) for x in c.calls.select_related("called_by").order_by("called_at")],
    }


def _patient(request: HttpRequest, patient_id: int) -> Patient:
    found = Patient.objects.filter(pk=patient_id, site_id=user_of(request).site_id).first()
    if found is None:
        raise Invalid("No such patient at this pharmacy.", field="patient_id")
    return found


def _prescriptions(request: HttpRequest, ids: list[int]) -> list[Prescription]:
    site_id = user_of(request).site_id
    found = {
        rx.pk: rx
        for rx in Prescription.objects.filter(pk__in=ids, site_id=site_id).select_related(
            "product", "package", "site"
        )
    }
    missing = [pk for pk in ids if pk not in found]
    if missing:
        raise Invalid(
            f"No such prescription at this pharmacy: {', '.join(map(str, missing))}.",
            field="prescription_ids",
        )
    return [found[pk] for pk in dict.fromkeys(ids)]


# --- Routes -----------------------------------------------------------------------------------


@router.get(
    "/enrollments",
    response=list[SyncEnrollmentOut],
    auth=gate(Cap.SYNC_VIEW),
    summary="Patients enrolled in medication sync",
)
def sync_enrollment_list(request: HttpRequest) -> Any:
    return [_enrollment(e) for e in queries.enrollments(actor=user_of(request))]


@router.post(
    "/enrollments",
    response={201: SyncEnrollmentOut},
    auth=gate(Cap.SYNC_MANAGE),
    summary="Enrol a patient: sync day and the prescriptions to align",
)
def sync_enroll(request: HttpRequest, payload: SyncEnrollIn) -> Any:
    actor = user_of(request)
    row = services.sync_enroll(
        actor=actor,
        patient=_patient(request, payload.patient_id),
        sync_day=payload.sync_day,
        prescriptions=_prescriptions(request, payload.prescription_ids),
        consent_note=payload.consent_note,
    )
    return Status(201, _enrollment(queries.enrollment_get(actor=actor, enrollment_id=row.pk)))


@router.get(
    "/preview",
    response=SyncPreviewOut,
    auth=gate(Cap.SYNC_VIEW),
    summary="What enrolling would do: the first sync date and each short fill",
)
def sync_preview(request: HttpRequest, q: Query[SyncPreviewQuery]) -> Any:
    patient = _patient(request, q.patient_id)
    rxs = _prescriptions(request, q.prescription_ids)
    if any(rx.patient_id != patient.pk for rx in rxs):
        raise Invalid("Pick this patient's prescriptions.", field="prescription_ids")
    anchor, plan = queries.enrollment_preview(
        actor=user_of(request), sync_day=q.sync_day, prescriptions=rxs
    )
    return {"sync_date": anchor, "lines": [_line(m) for m in plan]}


@router.get(
    "/enrollments/{int:enrollment_id}",
    response=SyncEnrollmentOut,
    auth=gate(Cap.SYNC_VIEW),
    summary="One enrollment with its prescriptions",
)
def sync_enrollment_detail(request: HttpRequest, enrollment_id: int) -> Any:
    return _enrollment(queries.enrollment_get(actor=user_of(request), enrollment_id=enrollment_id))


@router.post(
    "/enrollments/{int:enrollment_id}/members",
    response=SyncEnrollmentOut,
    auth=gate(Cap.SYNC_MANAGE),
    summary="Include a prescription, or keep it out with its reason",
)
def sync_member_set(request: HttpRequest, enrollment_id: int, payload: SyncMemberIn) -> Any:
    actor = user_of(request)
    enrollment = queries.enrollment_get(actor=actor, enrollment_id=enrollment_id)
    (rx,) = _prescriptions(request, [payload.prescription_id])
    services.sync_member_set(
        actor=actor,
        enrollment=enrollment,
        prescription=rx,
        included=payload.included,
        exclusion=str(payload.exclusion),
        note=payload.note,
    )
    return _enrollment(queries.enrollment_get(actor=actor, enrollment_id=enrollment_id))


@router.post(
    "/enrollments/{int:enrollment_id}/align",
    response=SyncCycleOut,
    auth=gate(Cap.SYNC_MANAGE),
    summary="Compute and store the first cycle's plan of short fills",
)
def sync_align(request: HttpRequest, enrollment_id: int) -> Any:
    actor = user_of(request)
    enrollment = queries.enrollment_get(actor=actor, enrollment_id=enrollment_id)
    cycle = services.sync_align(actor=actor, enrollment=enrollment)
    return _cycle(queries.cycle_get(actor=actor, cycle_id=cycle.pk))


@router.post(
    "/enrollments/{int:enrollment_id}/end",
    response=SyncEnrollmentOut,
    auth=gate(Cap.SYNC_MANAGE),
    summary="End synchronization (the history stays)",
)
def sync_unenroll(request: HttpRequest, enrollment_id: int, payload: SyncEndIn) -> Any:
    actor = user_of(request)
    enrollment = queries.enrollment_get(actor=actor, enrollment_id=enrollment_id)
    services.sync_unenroll(
        actor=actor, enrollment=enrollment, reason=str(payload.reason), note=payload.note
    )
    return _enrollment(queries.enrollment_get(actor=actor, enrollment_id=enrollment_id))


@router.get(
    "/cycles/{int:cycle_id}",
    response=SyncCycleOut,
    auth=gate(Cap.SYNC_VIEW),
    summary="One month's sync cycle: its fills and calls",
)
def sync_cycle_detail(request: HttpRequest, cycle_id: int) -> Any:
    return _cycle(queries.cycle_get(actor=user_of(request), cycle_id=cycle_id))


@router.post(
    "/cycles/{int:cycle_id}/calls",
    response={201: SyncCallOut},
    auth=gate(Cap.SYNC_MANAGE),
    summary="Record the pre-sync call and its outcome",
)
def sync_call_record(request: HttpRequest, cycle_id: int, payload: SyncCallIn) -> Any:
    actor = user_of(request)
    cycle = queries.cycle_get(actor=actor, cycle_id=cycle_id)
    call = services.sync_call_record(
        actor=actor, cycle=cycle, outcome=str(payload.outcome), note=payload.note
    )
    return Status(201, _call(call))


@router.post(
    "/cycles/{int:cycle_id}/queue",
    response=SyncCycleOut,
    auth=gate(Cap.SYNC_MANAGE),
    summary="Queue the confirmed cycle's fills (too-soon ones wait and are reported)",
)
def sync_fills_queue(request: HttpRequest, cycle_id: int) -> Any:
    actor = user_of(request)
    cycle = queries.cycle_get(actor=actor, cycle_id=cycle_id)
    services.sync_fills_queue(actor=actor, cycle=cycle)
    return _cycle(queries.cycle_get(actor=actor, cycle_id=cycle_id))


@router.get(
    "/call-list",
    response=list[SyncCallListRowOut],
    auth=gate(Cap.SYNC_VIEW),
    summary="The pre-sync call list: cycles due within N days not yet confirmed",
    openapi_extra=CSV_RESPONSE,
)
def sync_call_list(request: HttpRequest, q: Query[SyncCallListQuery]) -> Any:
    rows = queries.call_list(actor=user_of(request), within=q.within)
    if q.format == "csv":
        response = HttpResponse(queries.call_list_csv(rows), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = 'attachment; filename="sync-call-list.csv"'
        response["Cache-Control"] = "private, no-store"
        return response
    return [
        {
            "cycle_id": r.cycle.pk,
            "patient_id": r.cycle.enrollment.patient_id,
            "patient_name": r.cycle.enrollment.patient.full_name,
            "sync_date": r.cycle.sync_date,
            "status": r.cycle.status,
            "lines": [_line(m) for m in r.plan],
        }
        for r in rows
    ]
