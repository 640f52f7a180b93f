"""API of counseling records and clinical interventions (mounted at /api/v1/care). Parse,
call rxdesk.care services_counsel / queries_counsel, serialize.

Counseling is recorded with care.counsel (technicians record the offer, pharmacists
counsel); the log names patients (care.view and patient.view). Interventions are the
pharmacist's (care.intervene), read with care.view and patient.view; the report is
aggregate and for pharmacists (CSV with format=csv)."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from django.http import HttpRequest, HttpResponse
from ninja import Field, Query, Router, Schema, Status

from rxdesk.care import queries_counsel as queries
from rxdesk.care import services_counsel as services
from rxdesk.care.choices import (
    CounselingMethod,
    CounselingOutcome,
    CounselingTopic,
    InterventionProblem,
    InterventionStatus,
)
from rxdesk.care.models import CounselingRecord, Intervention
from rxdesk.core.capabilities import Cap
from rxdesk.core.errors import Invalid
from rxdesk.core.models import Site, User
from rxdesk.institutional.api_common import StrictIn, gate, user_of
from rxdesk.patients.models import Patient, Prescriber
from rxdesk.rx.models import Fill, Prescription

router = Router(tags=["care: counseling and interventions"])

MAX_ID = 2**63 - 1
READ = (Cap.CARE_VIEW, Cap.PATIENT_VIEW)
CSV_RESPONSE = {
    "responses": {
        200: {
            "description": "The report as JSON or CSV (text/csv)",
            "content": {
                "application/json": {"schema": {"type": "object"}},
                "text/csv": {"schema": {"type": "string"}},
            },
        }
    }
}


# --- Input ------------------------------------------------------------------------------------


class CounselCounselingIn(StrictIn):
    patient_id: int = Field(..., ge=1, le=MAX_ID)
    outcome: CounselingOutcome
    prescription_id: int | None = Field(None, ge=1, le=MAX_ID)
    fill_id: int | None = Field(None, ge=1, le=MAX_ID)
    pickup_id: int | None = Field(None, ge=1, le=MAX_ID)
    counseled_by: str = Field("", max_length=150, description="The pharmacist's user name")
    method: CounselingMethod | Literal[""] = ""
    topics: list[CounselingTopic] = Field(default_factory=list, max_length=20)
    minutes: int | None = Field(None, ge=0, le=services.MINUTES_MAX)
    interpreter: str = Field("", max_length=services.INTERPRETER_MAX)
    note: str = Field("", max_length=services.NOTE_MAX)


class CounselingQuery(Schema):
    patient_id: int | None = Field(None, ge=1, le=MAX_ID)
    day: dt.date | None = Field(None, description="The pharmacy's date (default today)")


class InterventionIn(StrictIn):
    patient_id: int = Field(..., ge=1, le=MAX_ID)
    problem: InterventionProblem
    problem_detail: str = Field(..., min_length=1, max_length=services.DETAIL_MAX)
    action: str = Field(..., max_length=2, description="NCPDP professional service, e.g. M0")
    action_detail: str = Field("", max_length=services.DETAIL_MAX)
    prescription_id: int | None = Field(None, ge=1, le=MAX_ID)
    fill_id: int | None = Field(None, ge=1, le=MAX_ID)
    prescriber_id: int | None = Field(None, ge=1, le=MAX_ID)
    prescriber_contacted_at: dt.datetime | None = Field(None, description="With its offset")
    outcome: str = Field("", max_length=2, description="NCPDP result of service, e.g. 1B")
    outcome_detail: str = Field("", max_length=services.DETAIL_MAX)
    minutes: int = Field(0, ge=0, le=services.MINUTES_MAX)


class CounselCloseIn(StrictIn):
    outcome: str = Field(..., max_length=2, description="NCPDP result of service, e.g. 3A")
    outcome_detail: str = Field("", max_length=services.DETAIL_MAX)
    minutes: int | None = Field(None, ge=0, le=services.MINUTES_MAX)


class InterventionQuery(Schema):
    status: InterventionStatus | None = None
    patient_id: int | None = Field(None, ge=1, le=MAX_ID)


class CounselReportQuery(Schema):
    start: dt.date | None = Field(None, description="Default: 30 days ago")
    end: dt.date | None = Field(None, description="Default: today")
    format: Literal["json", "csv"] = "json"


# --- Output -----------------------------------------------------------------------------------


class CounselingOut(Schema):
    id: int
    patient_id: int
    patient_name: str
    prescription_id: int | None
    fill_id: int | None
    pickup_id: int | None
    outcome: str
    offered_by: str
    offered_at: dt.datetime
    counseled_by: str
    counseled_at: dt.datetime | None
    method: str
    topics: list[str]
    minutes: int | None
    interpreter: str
    note: str


class InterventionOut(Schema):
    id: int
    patient_id: int
    patient_name: str
    prescription_id: int | None
    fill_id: int | None
    problem: str
    problem_label: str
    problem_detail: str
    action: str
    action_label: str
    action_detail: str
    prescriber_id: int | None
    prescriber_contacted_at: dt.datetime | None
    outcome: str
    outcome_label: str
    outcome_detail: str
    minutes: int
    status: str
    recorded_by: str
    recorded_at: dt.datetime
    closed_by: str
    closed_at: dt.datetime | None


class ReportRowOut(Schema):
    problem: str
    problem_label: str
    outcome: str
    outcome_label: str
    count: int
    minutes: int


class ReportOut(Schema):
    start: dt.date
    end: dt.date
    total: int
    total_minutes: int
    open: int
    rows: list[ReportRowOut]


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


def _counseling(r: CounselingRecord) -> dict[str, Any]:
    return {
        "id": r.pk,
        "patient_id": r.patient_id,
        "patient_name": r.patient.full_name,
        "prescription_id": r.prescription_id,
        "fill_id": r.fill_id,
        "pickup_id": r.pickup_id,
        "outcome": r.outcome,
        "offered_by": _name(r.offered_by),
        "offered_at": r.offered_at,
        "counseled_by": _name(r.counseled_by),
        "counseled_at": r.counseled_at,
        "method": r.method,
        "topics": list(r.topics),
        "minutes": r.minutes,
        "interpreter": r.interpreter,
        "note": r.note,
    }


def _intervention(i: Intervention) -> dict[str, Any]:
    return {
        "id": i.pk,
        "patient_id": i.patient_id,
        "patient_name": i.patient.full_name,
        "prescription_id": i.prescription_id,
        "fill_id": i.fill_id,
        "problem": i.problem,
        "problem_label": i.get_problem_display(),
        "problem_detail": i.problem_detail,
        "action": i.action,
        "action_label": queries.action_label(i.action),
        "action_detail": i.action_detail,
        "prescriber_id": i.prescriber_id,
        "prescriber_contacted_at": i.prescriber_contacted_at,
        "outcome": i.outcome,
        "outcome_label": queries.outcome_label(i.outcome),
        "outcome_detail": i.outcome_detail,
        "minutes": i.minutes,
        "status": i.status,
        "recorded_by": _name(i.recorded_by),
        "recorded_at": i.recorded_at,
        "closed_by": _name(i.closed_by),
        "closed_at": i.closed_at,
    }


def _patient(actor: User, pk: int) -> Patient:
    found = Patient.objects.filter(pk=pk, site_id=actor.site_id).first()
    if found is None:
        raise Invalid("No such patient at this pharmacy.", field="patient_id")
    return found


# --- Counseling -------------------------------------------------------------------------------


@router.post(
    "/counseling",
    response={201: CounselingOut},
    auth=gate(Cap.CARE_COUNSEL),
    summary="Record an offer to counsel and the patient's answer",
    description="Accepted: counseled_by (a pharmacist's user name; default the caller when a "
    "pharmacist), a method and at least one topic. A technician records offers and "
    "declines; the counselor is always a pharmacist.",
)
def counseling_create(request: HttpRequest, payload: CounselCounselingIn) -> Any:
    actor = user_of(request)
    site = actor.site
    counselor = None
    if payload.counseled_by:
        counselor = User.objects.filter(site=site, username=payload.counseled_by).first()
        if counselor is None:
            raise Invalid("No such pharmacist at this pharmacy.", field="counseled_by")
    row = services.counseling_record(
        actor=actor,
        patient=_patient(actor, payload.patient_id),
        outcome=payload.outcome,
        prescription=_one(
            Prescription, site, payload.prescription_id, "prescription_id", "prescription"
        ),
        fill=_one(Fill, site, payload.fill_id, "fill_id", "fill"),
        pickup_id=payload.pickup_id,
        counseled_by=counselor,
        method=payload.method,
        topics=[str(t) for t in payload.topics],
        minutes=payload.minutes,
        interpreter=payload.interpreter,
        note=payload.note,
    )
    return Status(201, _counseling(row))


@router.get(
    "/counseling",
    response=list[CounselingOut],
    auth=gate(*READ),
    summary="The counseling log: of a day (default today) or of a patient",
)
def counseling_list(request: HttpRequest, q: Query[CounselingQuery]) -> Any:
    rows = queries.counseling_log(actor=user_of(request), day=q.day, patient_id=q.patient_id)
    return [_counseling(r) for r in rows]


# --- Interventions ----------------------------------------------------------------------------


@router.post(
    "/interventions",
    response={201: InterventionOut},
    auth=gate(Cap.CARE_INTERVENE),
    summary="Record a clinical intervention (closed at once when it has its outcome)",
    description="Codes: problem = NCPDP reason for service, action = professional service, "
    "outcome = result of service. A prescriber consult (M0) needs prescriber_id and "
    "prescriber_contacted_at.",
)
def intervention_create(request: HttpRequest, payload: InterventionIn) -> Any:
    actor = user_of(request)
    site = actor.site
    row = services.intervention_record(
        actor=actor,
        patient=_patient(actor, payload.patient_id),
        problem=payload.problem,
        problem_detail=payload.problem_detail,
        action=payload.action,
        action_detail=payload.action_detail,
        prescription=_one(
            Prescription, site, payload.prescription_id, "prescription_id", "prescription"
        ),
        fill=_one(Fill, site, payload.fill_id, "fill_id", "fill"),
        prescriber=_one(Prescriber, site, payload.prescriber_id, "prescriber_id", "prescriber"),
        prescriber_contacted_at=payload.prescriber_contacted_at,
        outcome=payload.outcome,
        outcome_detail=payload.outcome_detail,
        minutes=payload.minutes,
    )
    return Status(201, _intervention(row))


@router.get(
    "/interventions",
    response=list[InterventionOut],
    auth=gate(*READ),
    summary="Interventions, the open ones first",
)
def intervention_list(request: HttpRequest, q: Query[InterventionQuery]) -> Any:
    rows = queries.interventions(
        actor=user_of(request),
        status=q.status.value if q.status else None,
        patient_id=q.patient_id,
    )
    return [_intervention(r) for r in rows]


@router.get(
    "/interventions/report",
    response=ReportOut,
    auth=gate(Cap.CARE_INTERVENE),
    summary="Interventions by problem and outcome, with the minutes spent, for a date range",
    openapi_extra=CSV_RESPONSE,
)
def intervention_report(request: HttpRequest, q: Query[CounselReportQuery]) -> Any:
    actor = user_of(request)
    today = actor.site.today()
    end = q.end or today
    start = q.start or end - dt.timedelta(days=30)
    report = queries.intervention_report(actor=actor, start=start, end=end)
    if q.format == "csv":
        response = HttpResponse(queries.report_csv(report), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = (
            f'attachment; filename="interventions-{start:%Y%m%d}-{end:%Y%m%d}.csv"'
        )
        response["Cache-Control"] = "private, no-store"
        return response
    return {
        "start": report.start,
        "end": report.end,
        "total": report.total,
        "total_minutes": report.total_minutes,
        "open": report.open,
        "rows": [r.__dict__ for r in report.rows],
    }


@router.get(
    "/interventions/{int:intervention_id}",
    response=InterventionOut,
    auth=gate(*READ),
    summary="One intervention",
)
def intervention_read(request: HttpRequest, intervention_id: int) -> Any:
    actor = user_of(request)
    row = queries.intervention_get(actor=actor, intervention_id=intervention_id)
    services.intervention_opened(actor=actor, intervention=row, view="api")
    return _intervention(row)


@router.post(
    "/interventions/{int:intervention_id}/close",
    response=InterventionOut,
    auth=gate(Cap.CARE_INTERVENE),
    summary="Close an open intervention with its outcome",
    description="409 when it is already closed.",
)
def intervention_close(request: HttpRequest, intervention_id: int, payload: CounselCloseIn) -> Any:
    actor = user_of(request)
    row = queries.intervention_get(actor=actor, intervention_id=intervention_id)
    row = services.intervention_close(
        actor=actor,
        intervention=row,
        outcome=payload.outcome,
        outcome_detail=payload.outcome_detail,
        minutes=payload.minutes,
    )
    return _intervention(queries.intervention_get(actor=actor, intervention_id=row.pk))
