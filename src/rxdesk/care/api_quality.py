"""API of safety events, medication errors (NCC MERP), adverse drug event reports (MedWatch
3500), root-cause analysis, action items, trends (mounted at /api/v1/care). Parse, call
rxdesk.care services_quality / queries_quality, serialize.

Reporting is care.event (anyone on staff); reading events and reports names patients, so
it is care.view and patient.view (opening one that names a patient is a PHI-access audit
event); analysis, submitting and closing are care.qi; the trends are care.qi_report and
aggregate only. Each capability is checked before the body is read, and again by the
services and queries. Another pharmacy's row does not exist here (404)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, Literal

from django.http import HttpRequest, HttpResponse
from ninja import Field, Query, Router, Schema, Status

from rxdesk.care import medwatch
from rxdesk.care import queries_quality as queries
from rxdesk.care import services_quality as services
from rxdesk.care.models import (
    ActionItem,
    AdverseEventReport,
    ContributingFactor,
    MedicationError,
    RootCauseAnalysis,
    SafetyEvent,
)
from rxdesk.core.capabilities import Cap, has
from rxdesk.core.errors import NotFound
from rxdesk.core.models import User
from rxdesk.institutional.api_common import StrictIn, gate, user_of
from rxdesk.patients.models import Patient
from rxdesk.rx.models import Fill, Prescription

router = Router(tags=["care: safety and quality"])

P = "/quality"
MAX_ID = queries.MAX_ID
ID = Field(..., ge=1, le=MAX_ID)


def _patient(actor: User, pk: int | None) -> Patient | None:
    if pk is None:
        return None
    row = Patient.objects.filter(pk=pk, site_id=actor.site_id).first()
    if row is None:
        raise NotFound("No such patient at this pharmacy.", field="patient_id")
    return row


def _rx(actor: User, pk: int | None) -> Prescription | None:
    if pk is None:
        return None
    row = Prescription.objects.filter(pk=pk, site_id=actor.site_id).first()
    if row is None:
        raise NotFound("No such prescription at this pharmacy.", field="prescription_id")
    return row


def _fill(actor: User, pk: int | None) -> Fill | None:
    if pk is None:
        return None
    row = Fill.objects.filter(pk=pk, site_id=actor.site_id).first()
    if row is None:
        raise NotFound("No such fill at this pharmacy.", field="fill_id")
    return row


def _owner(actor: User, pk: int) -> User | None:
    return User.objects.filter(pk=pk, site_id=actor.site_id).first()


# --- Input ------------------------------------------------------------------------------------


class EventIn(StrictIn):
    kind: str = Field(..., max_length=20, description="near_miss, equipment, process or other")
    title: str = Field(..., max_length=400)
    occurred_at: dt.datetime = Field(..., description="With its time zone; not in the future")
    description: str = Field(..., max_length=8000)
    step: str = Field("", max_length=20, description="A WorkflowStep value")
    error_type: str = Field("", max_length=20, description="An ErrorType value")
    category: str = Field("", max_length=1, description="NCC MERP A or B (C–I: an error)")
    patient_id: int | None = Field(None, ge=1, le=MAX_ID)


class EventQuery(Schema):
    kind: str = Field("", max_length=20)
    step: str = Field("", max_length=20)
    category: str = Field("", max_length=1)
    status: Literal["", "active", "open", "analysis", "closed"] = Field(
        "", description="active: open or under analysis"
    )


class QualityErrorIn(StrictIn):
    step: str = Field(..., max_length=20, description="Where it happened (WorkflowStep)")
    error_type: str = Field(..., max_length=20)
    category: str = Field(..., max_length=1, description="NCC MERP category A–I")
    description: str = Field(..., max_length=8000)
    occurred_at: dt.datetime
    discovered_at: dt.datetime
    patient_id: int | None = Field(None, ge=1, le=MAX_ID)
    prescription_id: int | None = Field(None, ge=1, le=MAX_ID)
    fill_id: int | None = Field(None, ge=1, le=MAX_ID)
    caught_at_step: str = Field("", max_length=20)
    immediate_action: str = Field("", max_length=8000)
    patient_notified: bool = False
    prescriber_notified: bool = False
    follow_up: str = Field("", max_length=8000)
    follow_up_due: dt.date | None = None


class QualityNoteIn(StrictIn):
    note: str = Field(..., max_length=2000)


class OptionalNoteIn(StrictIn):
    note: str = Field("", max_length=2000)


class ProductIn(StrictIn):
    role: Literal["suspect", "concomitant"] = "suspect"
    prescription_id: int | None = Field(
        None, ge=1, le=MAX_ID, description="Fill the product from this prescription"
    )
    name: str = Field("", max_length=400)
    strength: str = Field("", max_length=120)
    manufacturer: str = Field("", max_length=240)
    ndc11: str = Field("", max_length=13)
    lot_number: str = Field("", max_length=80)
    expiry: dt.date | None = None
    dose: str = Field("", max_length=120)
    frequency: str = Field("", max_length=120)
    route: str = Field("", max_length=80)
    therapy_start: dt.date | None = None
    therapy_end: dt.date | None = None
    indication: str = Field("", max_length=400)
    dechallenge: str = Field("", max_length=8, description="yes, no, na, unknown")
    rechallenge: str = Field("", max_length=8, description="yes, no, na, unknown")


class ReportFieldsIn(StrictIn):
    outcomes: list[str] | None = Field(
        None, max_length=8, description="AdeOutcome values, or ['non_serious']"
    )
    death_date: dt.date | None = None
    adverse_event: bool | None = None
    product_problem: bool | None = None
    tests_labs: str | None = Field(None, max_length=8000)
    history: str | None = Field(None, max_length=8000)
    weight_kg: Decimal | None = Field(None, max_digits=8, decimal_places=2)
    reporter_name: str | None = Field(None, max_length=240)
    reporter_address: str | None = Field(None, max_length=600)
    reporter_phone: str | None = Field(None, max_length=40)
    reporter_email: str | None = Field(None, max_length=254)
    health_professional: bool | None = None
    occupation: str | None = Field(None, max_length=120)
    also_reported_to: list[str] | None = Field(None, max_length=4)


class ReportIn(ReportFieldsIn):
    patient_id: int = ID
    event_date: dt.date
    description: str = Field(..., max_length=8000)
    products: list[ProductIn] = Field(default_factory=list, max_length=20)


class ReportPatchIn(ReportFieldsIn):
    event_date: dt.date | None = None
    description: str | None = Field(None, max_length=8000)
    products: list[ProductIn] | None = Field(
        None, max_length=20, description="Replaces the whole list"
    )


class QualitySubmitIn(StrictIn):
    fda_reference: str = Field("", max_length=80, description="The MedWatch report number")


class RcaIn(StrictIn):
    what_happened: str = Field(..., max_length=8000)
    team: str = Field("", max_length=600)


class FactorIn(StrictIn):
    category: str = Field(..., max_length=14)
    description: str = Field(..., max_length=1000)


class ActionIn(StrictIn):
    description: str = Field(..., max_length=1000)
    strength: str = Field(..., max_length=12, description="strong, intermediate or weak")
    owner_id: int = ID
    due_on: dt.date


class CompleteRcaIn(StrictIn):
    root_cause: str = Field(..., max_length=8000)


class TrendQuery(Schema):
    start: dt.date | None = Field(None, description="First day (default: 12 months back)")
    end: dt.date | None = Field(None, description="Last day (default: today)")


# --- Output -----------------------------------------------------------------------------------


class QualityEventOut(Schema):
    id: int
    kind: str
    kind_label: str
    title: str
    occurred_at: dt.datetime
    step: str
    error_type: str
    category: str
    description: str
    patient_id: int | None
    patient: str = Field(description="The patient's name ('' when none)")
    status: str
    reported_by: str
    reported_at: dt.datetime
    closed_at: dt.datetime | None
    closing_note: str
    medication_error_id: int | None
    ade_report_id: int | None
    rca_id: int | None


class FactorOut(Schema):
    id: int
    category: str
    description: str


class QualityActionOut(Schema):
    id: int
    rca_id: int
    event_id: int
    description: str
    strength: str
    owner: str
    owner_id: int
    due_on: dt.date
    status: str
    overdue: bool
    done_at: dt.datetime | None
    done_note: str


class RcaOut(Schema):
    id: int
    event_id: int
    led_by: str
    team: str
    what_happened: str
    root_cause: str
    started_at: dt.datetime
    completed_at: dt.datetime | None
    factors: list[FactorOut]
    actions: list[QualityActionOut]


class EventDetailOut(QualityEventOut):
    rca: RcaOut | None
    may_close: bool
    close_blockers: list[str]


class QualityErrorOut(Schema):
    id: int
    event_id: int
    patient_id: int | None
    prescription_id: int | None
    rx_number: int | None
    fill_id: int | None
    occurred_at: dt.datetime
    discovered_at: dt.datetime
    discovered_by: str
    step: str
    caught_at_step: str
    error_type: str
    category: str
    description: str
    immediate_action: str
    patient_notified: bool
    prescriber_notified: bool
    follow_up: str
    follow_up_due: dt.date | None
    follow_up_done_at: dt.datetime | None


class QualityProductOut(Schema):
    id: int
    role: str
    prescription_id: int | None
    name: str
    strength: str
    manufacturer: str
    ndc11: str
    lot_number: str
    expiry: dt.date | None
    dose: str
    frequency: str
    route: str
    therapy_start: dt.date | None
    therapy_end: dt.date | None
    indication: str
    dechallenge: str
    rechallenge: str


class QualityReportOut(Schema):
    id: int
    event_id: int
    patient_id: int
    status: str
    patient_identifier: str
    age: int | None
    age_unit: str
    sex: str
    weight_kg: Decimal | None
    adverse_event: bool
    product_problem: bool
    outcomes: list[str]
    death_date: dt.date | None
    event_date: dt.date
    report_date: dt.date
    description: str
    tests_labs: str
    history: str
    reporter_name: str
    reporter_address: str
    reporter_phone: str
    reporter_email: str
    health_professional: bool
    occupation: str
    also_reported_to: list[str]
    submitted_at: dt.datetime | None
    fda_reference: str
    products: list[QualityProductOut]
    missing: list[dict[str, str]] = Field(description="What submitting still needs")


class BarOut(Schema):
    key: str
    label: str
    count: int


class TrendsOut(Schema):
    start: dt.date
    end: dt.date
    events: int
    errors: int
    reached_patient: int
    harm: int
    fills_dispensed: int
    errors_per_1000_fills: Decimal | None
    reached_per_1000_fills: Decimal | None
    by_kind: list[BarOut]
    by_category: list[BarOut]
    by_step: list[BarOut]
    by_error_type: list[BarOut]
    by_month: list[dict[str, Any]]
    step_by_type: list[dict[str, Any]]
    caught_where: list[dict[str, Any]]
    actions_open: int
    actions_overdue: int


# --- Serializers ------------------------------------------------------------------------------


def _event(actor: User, e: SafetyEvent) -> dict[str, Any]:
    error = MedicationError.objects.filter(safety_event=e).values_list("pk", flat=True).first()
    report = AdverseEventReport.objects.filter(safety_event=e).values_list("pk", flat=True).first()
    rca = RootCauseAnalysis.objects.filter(event=e).values_list("pk", flat=True).first()
    name = ""
    if e.patient_id and has(actor, Cap.PATIENT_VIEW):
        assert e.patient is not None
        name = f"{e.patient.last_name}, {e.patient.first_name}"
    return {
        "id": e.pk,
        "kind": e.kind,
        "kind_label": e.get_kind_display(),
        "title": e.title,
        "occurred_at": e.occurred_at,
        "step": e.step,
        "error_type": e.error_type,
        "category": e.category,
        "description": e.description,
        "patient_id": e.patient_id,
        "patient": name,
        "status": e.status,
        "reported_by": e.reported_by.display_name,
        "reported_at": e.reported_at,
        "closed_at": e.closed_at,
        "closing_note": e.closing_note,
        "medication_error_id": error,
        "ade_report_id": report,
        "rca_id": rca,
    }


def _action(a: ActionItem, today: dt.date) -> dict[str, Any]:
    return {
        "id": a.pk,
        "rca_id": a.rca_id,
        "event_id": a.rca.event_id,
        "description": a.description,
        "strength": a.strength,
        "owner": a.owner.display_name,
        "owner_id": a.owner_id,
        "due_on": a.due_on,
        "status": a.status,
        "overdue": a.status == "open" and a.due_on < today,
        "done_at": a.done_at,
        "done_note": a.done_note,
    }


def _factor(f: ContributingFactor) -> dict[str, Any]:
    return {"id": f.pk, "category": f.category, "description": f.description}


def _rca(r: RootCauseAnalysis, today: dt.date) -> dict[str, Any]:
    return {
        "id": r.pk,
        "event_id": r.event_id,
        "led_by": r.led_by.display_name,
        "team": r.team,
        "what_happened": r.what_happened,
        "root_cause": r.root_cause,
        "started_at": r.started_at,
        "completed_at": r.completed_at,
        "factors": [_factor(f) for f in r.factors.all()],
        "actions": [_action(a, today) for a in r.actions.select_related("owner", "rca")],
    }


def _event_detail(actor: User, pk: int) -> dict[str, Any]:
    d = queries.event_detail(actor=actor, pk=pk)
    today = d.event.site.today()
    blockers = services.close_blockers(d.event)
    return {
        **_event(actor, d.event),
        "rca": _rca(d.rca, today) if d.rca else None,
        "may_close": d.event.status != "closed" and not blockers,
        "close_blockers": [b["message"] for b in blockers],
    }


def _error(e: MedicationError) -> dict[str, Any]:
    return {
        "id": e.pk,
        "event_id": e.safety_event_id,
        "patient_id": e.patient_id,
        "prescription_id": e.prescription_id,
        "rx_number": e.prescription.number if e.prescription_id and e.prescription else None,
        "fill_id": e.fill_id,
        "occurred_at": e.occurred_at,
        "discovered_at": e.discovered_at,
        "discovered_by": e.discovered_by.display_name,
        "step": e.step,
        "caught_at_step": e.caught_at_step,
        "error_type": e.error_type,
        "category": e.category,
        "description": e.description,
        "immediate_action": e.immediate_action,
        "patient_notified": e.patient_notified,
        "prescriber_notified": e.prescriber_notified,
        "follow_up": e.follow_up,
        "follow_up_due": e.follow_up_due,
        "follow_up_done_at": e.follow_up_done_at,
    }


PRODUCT_FIELDS = [name for name in QualityProductOut.model_fields if name != "id"]


def _report(r: AdverseEventReport) -> dict[str, Any]:
    products = [
        {"id": p.pk, **{k: getattr(p, k) for k in PRODUCT_FIELDS}} for p in r.products.all()
    ]
    own = [
        name
        for name in QualityReportOut.model_fields
        if name not in ("id", "event_id", "products", "missing")
    ]
    return {
        "id": r.pk,
        "event_id": r.safety_event_id,
        **{k: getattr(r, k) for k in own},
        "products": products,
        "missing": services.ade_report_missing(r) if r.status == "draft" else [],
    }


def _bars(bars: list[queries.Bar]) -> list[dict[str, Any]]:
    return [{"key": b.key, "label": b.label, "count": b.count} for b in bars]


# --- Safety events ------------------------------------------------------------------------------


@router.post(
    f"{P}/events",
    response={201: QualityEventOut},
    auth=gate(Cap.CARE_EVENT),
    summary="Report a safety event (a near miss, equipment, process, other)",
    description="Anyone on staff. Medication errors and adverse drug events have their own "
    "reports (422 on kind). 422 names title, description, occurred_at (in the future), step, "
    "error_type or category (C–I is a medication error).",
)
def event_report(request: HttpRequest, payload: EventIn) -> Any:
    actor = user_of(request)
    event = services.safety_event_report(
        actor=actor,
        kind=payload.kind,
        title=payload.title,
        occurred_at=payload.occurred_at,
        description=payload.description,
        step=payload.step,
        error_type=payload.error_type,
        category=payload.category,
        patient=_patient(actor, payload.patient_id),
    )
    return Status(201, _event(actor, event))


@router.get(
    f"{P}/events",
    response=list[QualityEventOut],
    auth=gate(Cap.CARE_VIEW, Cap.PATIENT_VIEW),
    summary="Safety events, open first (filters: kind, step, category, status)",
)
def event_list(request: HttpRequest, q: Query[EventQuery]) -> Any:
    actor = user_of(request)
    rows = queries.events(
        actor=actor, kind=q.kind, step=q.step, category=q.category, status=q.status
    )
    return [_event(actor, e) for e in rows]


@router.get(
    f"{P}/events/{{int:event_id}}",
    response=EventDetailOut,
    auth=gate(Cap.CARE_VIEW, Cap.PATIENT_VIEW),
    summary="A safety event with its root-cause analysis (a PHI access when it names a patient)",
)
def event_read(request: HttpRequest, event_id: int) -> Any:
    actor = user_of(request)
    detail = _event_detail(actor, event_id)
    services.safety_event_opened(
        actor=actor, event=queries.event(actor=actor, pk=event_id), output="api"
    )
    return detail


@router.post(
    f"{P}/events/{{int:event_id}}/rca",
    response={201: RcaOut},
    auth=gate(Cap.CARE_QI),
    summary="Start the event's root-cause analysis",
    description="409 when the event is closed or already has one.",
)
def rca_start(request: HttpRequest, event_id: int, payload: RcaIn) -> Any:
    actor = user_of(request)
    event = queries.event_for_write(actor=actor, pk=event_id)
    rca = services.rca_start(
        actor=actor, event=event, what_happened=payload.what_happened, team=payload.team
    )
    return Status(201, _rca(rca, event.site.today()))


@router.post(
    f"{P}/events/{{int:event_id}}/close",
    response=QualityEventOut,
    auth=gate(Cap.CARE_QI),
    summary="Close an event with a note",
    description="409 while it needs a completed root-cause analysis (harm E–I or a serious "
    "adverse drug event), has open action items (how many) or an error follow-up not done.",
)
def event_close(request: HttpRequest, event_id: int, payload: QualityNoteIn) -> Any:
    actor = user_of(request)
    event = queries.event_for_write(actor=actor, pk=event_id)
    closed = services.safety_event_close(actor=actor, event=event, note=payload.note)
    return _event(actor, closed)


# --- Medication errors ------------------------------------------------------------------------


@router.post(
    f"{P}/medication-errors",
    response={201: QualityErrorOut},
    auth=gate(Cap.CARE_EVENT),
    summary="Report a medication error (NCC MERP category, step, type, follow-up)",
    description="C–I needs the patient; E–I also the prescriber notified and a follow-up "
    "with a due date. The prescription and fill must be the patient's. Its safety event is "
    "made with it (near miss for A–B).",
)
def error_report(request: HttpRequest, payload: QualityErrorIn) -> Any:
    actor = user_of(request)
    error = services.medication_error_report(
        actor=actor,
        step=payload.step,
        error_type=payload.error_type,
        category=payload.category,
        description=payload.description,
        occurred_at=payload.occurred_at,
        discovered_at=payload.discovered_at,
        patient=_patient(actor, payload.patient_id),
        prescription=_rx(actor, payload.prescription_id),
        fill=_fill(actor, payload.fill_id),
        caught_at_step=payload.caught_at_step,
        immediate_action=payload.immediate_action,
        patient_notified=payload.patient_notified,
        prescriber_notified=payload.prescriber_notified,
        follow_up=payload.follow_up,
        follow_up_due=payload.follow_up_due,
    )
    return Status(201, _error(error))


@router.get(
    f"{P}/medication-errors/{{int:error_id}}",
    response=QualityErrorOut,
    auth=gate(Cap.CARE_VIEW, Cap.PATIENT_VIEW),
    summary="A medication error (a PHI access when it names a patient)",
)
def error_read(request: HttpRequest, error_id: int) -> Any:
    actor = user_of(request)
    error = queries.medication_error(actor=actor, pk=error_id)
    services.safety_event_opened(actor=actor, event=error.safety_event, output="api")
    return _error(error)


@router.post(
    f"{P}/medication-errors/{{int:error_id}}/follow-up-done",
    response=QualityErrorOut,
    auth=gate(Cap.CARE_QI),
    summary="Mark the error's follow-up done, with a note",
)
def error_follow_up_done(request: HttpRequest, error_id: int, payload: QualityNoteIn) -> Any:
    actor = user_of(request)
    error = queries.error_for_write(actor=actor, pk=error_id)
    done = services.medication_error_follow_up_done(actor=actor, error=error, note=payload.note)
    return _error(done)


# --- Adverse drug event reports (MedWatch) ----------------------------------------------------


def _products(items: list[ProductIn] | None) -> list[dict[str, Any]] | None:
    if items is None:
        return None
    return [
        {k: v for k, v in p.model_dump().items() if v not in (None, "")} | {"role": p.role}
        for p in items
    ]


@router.post(
    f"{P}/ade-reports",
    response={201: QualityReportOut},
    auth=gate(Cap.CARE_EVENT),
    summary="Start a MedWatch (FDA Form 3500) report as a draft",
    description="Section A is filled from the patient (initials, age at the event, sex, "
    "latest weight); products from the patient's prescriptions (prescription_id) or typed. "
    "A vaccine as a suspect product is refused: report it to VAERS.",
)
def report_create(request: HttpRequest, payload: ReportIn) -> Any:
    actor = user_of(request)
    patient = _patient(actor, payload.patient_id)
    assert patient is not None
    extra = payload.model_dump(
        exclude_unset=True,
        exclude={"patient_id", "event_date", "description", "products", "outcomes"},
    )
    report = services.ade_report_create(
        actor=actor,
        patient=patient,
        event_date=payload.event_date,
        description=payload.description,
        outcomes=payload.outcomes or [],
        products=_products(payload.products) or [],
        **{k: v for k, v in extra.items() if v is not None},
    )
    return Status(201, _report(report))


@router.get(
    f"{P}/ade-reports/{{int:report_id}}",
    response=QualityReportOut,
    auth=gate(Cap.CARE_VIEW, Cap.PATIENT_VIEW),
    summary="A MedWatch report with what it still needs (a PHI access)",
)
def report_read(request: HttpRequest, report_id: int) -> Any:
    actor = user_of(request)
    report = queries.ade_report(actor=actor, pk=report_id)
    services.ade_report_opened(actor=actor, report=report, output="api")
    return _report(report)


@router.patch(
    f"{P}/ade-reports/{{int:report_id}}",
    response=QualityReportOut,
    auth=gate(Cap.CARE_EVENT),
    summary="Change a draft MedWatch report (products: replaces the list)",
    description="409 once submitted (read-only).",
)
def report_update(request: HttpRequest, report_id: int, payload: ReportPatchIn) -> Any:
    actor = user_of(request)
    report = queries.report_for_write(actor=actor, pk=report_id)
    changes = payload.model_dump(exclude_unset=True, exclude={"products"})
    products = _products(payload.products) if "products" in payload.model_fields_set else None
    if "outcomes" in changes and changes["outcomes"] is None:
        changes["outcomes"] = []
    for key in ("adverse_event", "product_problem", "health_professional"):
        if key in changes and changes[key] is None:
            del changes[key]
    updated = services.ade_report_update(actor=actor, report=report, products=products, **changes)
    return _report(updated)


@router.post(
    f"{P}/ade-reports/{{int:report_id}}/submit",
    response=QualityReportOut,
    auth=gate(Cap.CARE_QI),
    summary="Mark the report submitted to FDA (with the MedWatch report number)",
    description="422 names every missing field at once (event date, description, outcome or "
    "non_serious, death date, a suspect product, reporter name and contact); a vaccine as a "
    "suspect product is refused (VAERS). 409 when already submitted.",
)
def report_submit(request: HttpRequest, report_id: int, payload: QualitySubmitIn) -> Any:
    actor = user_of(request)
    report = queries.report_for_write(actor=actor, pk=report_id)
    done = services.ade_report_submit(
        actor=actor, report=report, fda_reference=payload.fda_reference
    )
    return _report(done)


@router.get(
    f"{P}/ade-reports/{{int:report_id}}/pdf",
    auth=gate(Cap.CARE_VIEW, Cap.PATIENT_VIEW),
    summary="The report as a PDF with every Form 3500 field (a PHI access)",
    openapi_extra={
        "responses": {
            200: {
                "description": "application/pdf",
                "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}},
            }
        }
    },
)
def report_pdf(request: HttpRequest, report_id: int) -> HttpResponse:
    actor = user_of(request)
    report = queries.ade_report(actor=actor, pk=report_id)
    services.ade_report_opened(actor=actor, report=report, output="pdf")
    response = HttpResponse(medwatch.render(report), content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="medwatch-{report.pk}.pdf"'
    response["Cache-Control"] = "private, no-store"
    return response


# --- Root-cause analysis and action items ------------------------------------------------------


@router.post(
    f"{P}/rca/{{int:rca_id}}/factors",
    response={201: FactorOut},
    auth=gate(Cap.CARE_QI),
    summary="Add a contributing factor",
)
def factor_add(request: HttpRequest, rca_id: int, payload: FactorIn) -> Any:
    actor = user_of(request)
    rca = queries.rca(actor=actor, pk=rca_id)
    factor = services.rca_factor_add(
        actor=actor, rca=rca, category=payload.category, description=payload.description
    )
    return Status(201, _factor(factor))


@router.post(
    f"{P}/rca/{{int:rca_id}}/actions",
    response={201: QualityActionOut},
    auth=gate(Cap.CARE_QI),
    summary="Add an action item with its owner and due date",
    description="422 when the owner is not a current member of this pharmacy's staff or the "
    "due date is in the past.",
)
def action_add(request: HttpRequest, rca_id: int, payload: ActionIn) -> Any:
    actor = user_of(request)
    rca = queries.rca(actor=actor, pk=rca_id)
    item = services.rca_action_add(
        actor=actor,
        rca=rca,
        description=payload.description,
        strength=payload.strength,
        owner=_owner(actor, payload.owner_id),
        due_on=payload.due_on,
    )
    return Status(201, _action(item, rca.event.site.today()))


@router.post(
    f"{P}/rca/{{int:rca_id}}/complete",
    response=RcaOut,
    auth=gate(Cap.CARE_QI),
    summary="Complete the analysis with its root cause (needs a factor and an action)",
)
def rca_complete(request: HttpRequest, rca_id: int, payload: CompleteRcaIn) -> Any:
    actor = user_of(request)
    rca = queries.rca(actor=actor, pk=rca_id)
    done = services.rca_complete(actor=actor, rca=rca, root_cause=payload.root_cause)
    return _rca(done, rca.event.site.today())


@router.post(
    f"{P}/actions/{{int:action_id}}/complete",
    response=QualityActionOut,
    auth=gate(Cap.CARE_EVENT),
    summary="Mark an action item done (its owner, or a pharmacist)",
)
def action_complete(request: HttpRequest, action_id: int, payload: OptionalNoteIn) -> Any:
    actor = user_of(request)
    item = queries.action_item(actor=actor, pk=action_id)
    done = services.action_item_complete(actor=actor, item=item, note=payload.note)
    return _action(done, item.rca.event.site.today())


@router.post(
    f"{P}/actions/{{int:action_id}}/drop",
    response=QualityActionOut,
    auth=gate(Cap.CARE_QI),
    summary="Drop an action item, saying why",
)
def action_drop(request: HttpRequest, action_id: int, payload: QualityNoteIn) -> Any:
    actor = user_of(request)
    item = queries.action_item(actor=actor, pk=action_id)
    done = services.action_item_drop(actor=actor, item=item, note=payload.note)
    return _action(done, item.rca.event.site.today())


@router.get(
    f"{P}/my-actions",
    response=list[QualityActionOut],
    auth=gate(Cap.CARE_EVENT),
    summary="The open action items the signed-in person owns (no patient named)",
)
def my_actions(request: HttpRequest) -> Any:
    actor = user_of(request)
    today = actor.site.today()
    return [_action(r.item, today) for r in queries.my_action_items(actor=actor)]


# --- Trends -----------------------------------------------------------------------------------


@router.get(
    f"{P}/trends",
    response=TrendsOut,
    auth=gate(Cap.CARE_QI_REPORT),
    summary="Counts by step × error type, NCC MERP category, month, caught where; errors per "
    "1,000 fills dispensed; action items open and overdue (aggregates only)",
)
def trends(request: HttpRequest, q: Query[TrendQuery]) -> Any:
    actor = user_of(request)
    start, end = queries.default_range(actor.site)
    t = queries.trends(actor=actor, start=q.start or start, end=q.end or end)
    return {
        "start": t.start,
        "end": t.end,
        "events": t.events,
        "errors": t.errors,
        "reached_patient": t.reached,
        "harm": t.harm,
        "fills_dispensed": t.fills,
        "errors_per_1000_fills": t.per_thousand,
        "reached_per_1000_fills": t.reached_per_thousand,
        "by_kind": _bars(t.by_kind),
        "by_category": _bars(t.by_category),
        "by_step": _bars(t.by_step),
        "by_error_type": _bars(t.by_type),
        "by_month": [{k: v for k, v in m.items() if k != "percent"} for m in t.by_month],
        "step_by_type": t.step_by_type,
        "caught_where": t.caught,
        "actions_open": t.actions_open,
        "actions_overdue": t.actions_overdue,
    }
