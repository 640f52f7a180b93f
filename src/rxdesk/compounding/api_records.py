"""API of compounding records: the list (status, formula, lot or name, day), one record with
its components, calculations and checks, start one from an approved formula (components
taken from stock), record a measurement or a quality check, submit, verify or reject, and
the label as a PDF. Parse, call rxdesk.compounding services_records / queries_records,
serialize.

Reading is compounding.view; the bench steps and the label compounding.make; verifying and
rejecting compounding.verify — each checked before the body is read, and again by the
services. Records of another pharmacy do not exist here (404); an id in a body that is not
this pharmacy's is a 422 naming the field."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, Literal, TypeVar

from django.db.models import Model
from django.http import HttpRequest, HttpResponse
from ninja import Field, Query, Router, Schema, Status

from rxdesk.compounding import labels
from rxdesk.compounding import queries_records as queries
from rxdesk.compounding import services_records as services
from rxdesk.compounding.api_common import StrictIn, gate, user_of
from rxdesk.compounding.choices import RecordStatus
from rxdesk.compounding.models import (
    CompoundingRecord,
    EngineeringControl,
    MasterFormula,
    Room,
)
from rxdesk.core.capabilities import Cap
from rxdesk.core.errors import Invalid
from rxdesk.core.models import Site, User
from rxdesk.patients.models import Patient
from rxdesk.rx.models import Prescription

router = Router(tags=["compounding"])

MAX_ID = 2**63 - 1
PDF_FILE = {
    "responses": {
        200: {
            "description": "The preparation's label (one 4 × 2.5 in page)",
            "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}},
        }
    }
}

M = TypeVar("M", bound=Model)


# --- Input ------------------------------------------------------------------------------------


class SourceIn(StrictIn):
    container: Literal["single-dose", "ampule", "multiple-dose", "pharmacy-bulk"]
    first_opened_at: dt.datetime = Field(..., description="With its time-zone offset")
    in_iso5: bool = Field(True, description="First entered in ISO Class 5 air")
    label_hours: int | None = Field(
        None, ge=0, le=720, description="Hours the manufacturer's labeling allows, if fewer"
    )


class CompoundingRecordIn(StrictIn):
    formula_id: int = Field(..., ge=1, le=MAX_ID, description="An approved master formula")
    quantity: Decimal = Field(..., description="How much to make, in `unit`")
    unit: str = Field(..., min_length=1, max_length=20, description="g, mL, bag…")
    compounded_by_id: int | None = Field(
        None, ge=1, le=MAX_ID, description="The person compounding (default: you)"
    )
    prescription_id: int | None = Field(None, ge=1, le=MAX_ID)
    patient_id: int | None = Field(None, ge=1, le=MAX_ID)
    prepared_at: dt.datetime | None = Field(
        None, description="When compounding started (default now; the BUD clock starts here)"
    )
    lots: dict[int, str | None] = Field(
        default_factory=dict,
        description="Ingredient position → scanned or typed lot number (none: first expiry "
        "first out)",
    )
    control_id: int | None = Field(
        None, ge=1, le=MAX_ID, description="The PEC (required for Categories 1–3 and HDs)"
    )
    room_id: int | None = Field(None, ge=1, le=MAX_ID, description="Default: the PEC's room")
    sources: dict[int, SourceIn] = Field(
        default_factory=dict, description="Ingredient position → the opened container used"
    )


class CompoundingMeasurementIn(StrictIn):
    component_id: int | None = Field(None, ge=1, le=MAX_ID, description="The component line")
    position: int | None = Field(
        None, ge=1, le=32767, description="Or the ingredient's position (one lot only)"
    )
    measured_quantity: Decimal
    measured_unit: str = Field(..., min_length=1, max_length=20)
    deviation: str = Field(
        "", max_length=500, description="Why, when more than ±5 % off the required amount"
    )


class CheckIn(StrictIn):
    name: str = Field(..., max_length=120, description="What was checked, e.g. Appearance")
    result: str = Field(..., max_length=200)
    passed: bool
    expected: str = Field("", max_length=200)


class SubmitIn(StrictIn):
    physical_description: str = Field("", max_length=300)
    deviations: str = Field("", max_length=2000)


class CompoundingRejectIn(StrictIn):
    reason: str = Field(..., max_length=500)


class RecordQuery(Schema):
    status: RecordStatus | None = None
    formula_id: int | None = Field(None, ge=1, le=MAX_ID, description="Any version of its code")
    q: str = Field(
        "",
        max_length=100,
        description="A lot number (the record's or a stock lot used) or the formula's name",
    )
    day: dt.date | None = Field(None, description="Prepared on this day at the pharmacy")
    limit: int = Field(100, ge=1, le=queries.SEARCH_LIMIT)


# --- Output -----------------------------------------------------------------------------------


class CompoundingStepOut(Schema):
    label: str
    expression: str
    result: str


class ComponentOut(Schema):
    id: int
    position: int
    name: str
    ndc: str
    lot_number: str
    expiry: dt.date | None
    manufacturer: str
    required_quantity: str
    unit: str
    stock_quantity: str | None
    billing_unit: str
    measured_quantity: str | None
    measured_unit: str
    measured_by: str
    measured_at: dt.datetime | None
    source_container: str
    first_opened_at: dt.datetime | None
    opened_in_iso5: bool
    in_use_until: dt.datetime | None


class CheckOut(Schema):
    id: int
    name: str
    expected: str
    result: str
    passed: bool
    checked_by: str
    checked_at: dt.datetime


class RecordSummaryOut(Schema):
    id: int
    lot_number: str
    formula_id: int
    formula: str
    formula_code: str
    formula_version: int
    quantity: str
    unit: str
    category: str
    status: str
    status_label: str
    prepared_at: dt.datetime
    beyond_use: dt.datetime
    compounded_by: str
    verified_by: str
    verified_at: dt.datetime | None


class RecordOut(RecordSummaryOut):
    scale: str
    storage: str
    bud_rule: str
    limited_by_component: bool
    bud_shows_time: bool
    room: str
    control: str
    hazardous: bool
    hd_requirements: list[str]
    calculations: list[CompoundingStepOut]
    physical_description: str
    deviations: str
    reject_reason: str
    label_printed_at: dt.datetime | None
    patient_id: int | None
    prescription_id: int | None
    components: list[ComponentOut]
    checks: list[CheckOut]


def _num(value: Decimal | None) -> str | None:
    return None if value is None else f"{value.normalize():f}"


def _summary(r: CompoundingRecord) -> dict[str, Any]:
    f = r.formula
    return {
        "id": r.pk,
        "lot_number": r.lot_number,
        "formula_id": f.pk,
        "formula": " ".join(p for p in (f.name, f.strength, f.dosage_form) if p),
        "formula_code": f.code,
        "formula_version": f.version,
        "quantity": _num(r.quantity),
        "unit": r.unit,
        "category": r.category,
        "status": r.status,
        "status_label": r.get_status_display(),
        "prepared_at": r.prepared_at,
        "beyond_use": r.beyond_use,
        "compounded_by": r.compounded_by_name,
        "verified_by": r.verified_by_name,
        "verified_at": r.verified_at,
    }


def _detail(r: CompoundingRecord) -> dict[str, Any]:
    components = [
        {
            "id": c.pk,
            "position": c.position,
            "name": c.name,
            "ndc": c.package.ndc10 if c.package is not None else "",
            "lot_number": c.lot_number,
            "expiry": c.expiry,
            "manufacturer": c.manufacturer,
            "required_quantity": _num(c.required_quantity),
            "unit": c.unit,
            "stock_quantity": _num(c.stock_quantity),
            "billing_unit": c.package.billing_unit if c.package is not None else "",
            "measured_quantity": _num(c.measured_quantity),
            "measured_unit": c.measured_unit,
            "measured_by": c.measured_by.display_name if c.measured_by is not None else "",
            "measured_at": c.measured_at,
            "source_container": c.source_container,
            "first_opened_at": c.first_opened_at,
            "opened_in_iso5": c.opened_in_iso5,
            "in_use_until": c.in_use_until,
        }
        for c in queries.components_of(r)
    ]
    checks = [
        {
            "id": c.pk,
            "name": c.name,
            "expected": c.expected,
            "result": c.result,
            "passed": c.passed,
            "checked_by": c.checked_by_name,
            "checked_at": c.checked_at,
        }
        for c in queries.checks_of(r)
    ]
    return {
        **_summary(r),
        "scale": _num(r.scale),
        "storage": r.storage,
        "bud_rule": r.bud_rule,
        "limited_by_component": r.limited_by_component,
        "bud_shows_time": labels.shows_time(r),
        "room": r.room.name if r.room is not None else "",
        "control": r.control.name if r.control is not None else "",
        "hazardous": r.hazardous,
        "hd_requirements": list(r.hd_requirements or []),
        "calculations": list(r.calculations or []),
        "physical_description": r.physical_description,
        "deviations": r.deviations,
        "reject_reason": r.reject_reason,
        "label_printed_at": r.label_printed_at,
        "patient_id": r.patient_id,
        "prescription_id": r.prescription_id,
        "components": components,
        "checks": checks,
    }


def _row(model: type[M], site: Site, pk: int | None, field: str, what: str) -> M | None:
    """The row ``pk`` of this pharmacy, or a 422 naming ``field``."""
    if pk is None:
        return None
    found = model._default_manager.filter(site=site, pk=pk).first()
    if found is None:
        raise Invalid(f"No such {what} at this pharmacy.", field=field)
    return found


def _fresh(actor: User, record_id: int) -> dict[str, Any]:
    return _detail(queries.record_get(actor=actor, record_id=record_id))


def pdf_response(record: CompoundingRecord, pdf: bytes) -> HttpResponse:
    response = HttpResponse(pdf, content_type="application/pdf")
    safe = "".join(ch if ch.isalnum() or ch in "._-" else "_" for ch in record.lot_number)
    response["Content-Disposition"] = f'inline; filename="label-{safe}.pdf"'
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response


# --- Operations -------------------------------------------------------------------------------


@router.get(
    "/records",
    response=list[RecordSummaryOut],
    auth=gate(Cap.COMPOUNDING_VIEW),
    summary="Compounding records, newest first",
)
def records_list(request: HttpRequest, q: Query[RecordQuery]) -> Any:
    rows = queries.records_search(
        actor=user_of(request),
        status=q.status,
        formula_id=q.formula_id,
        q=q.q,
        day=q.day,
        limit=q.limit,
    )
    return [_summary(r) for r in rows]


@router.post(
    "/records",
    response={201: RecordOut},
    auth=gate(Cap.COMPOUNDING_MAKE),
    summary="Start a compounding record from an approved formula",
    description="Scales the formula, takes each stocked component out of stock (the lot "
    "given for its position, else first expiry first out), computes the beyond-use date "
    "and assigns the internal lot number. 422 names the field: compounded_by when the "
    "person's competency has lapsed (and why), formula for a draft or retired one, "
    "lots[n] for an expired, recalled or short lot, quantity for too little usable stock, "
    "control for a PEC missing or not certified, sources[n] for an opened container past "
    "its in-use time. Nothing is written when it is refused.",
)
def record_start(request: HttpRequest, payload: CompoundingRecordIn) -> Any:
    actor = user_of(request)
    site = actor.site
    formula = _row(MasterFormula, site, payload.formula_id, "formula_id", "formula")
    assert formula is not None
    person = None
    if payload.compounded_by_id is not None:
        person = User.objects.filter(site=site, pk=payload.compounded_by_id).first()
        if person is None:
            raise Invalid("No such staff member at this pharmacy.", field="compounded_by_id")
    record = services.record_start(
        actor=actor,
        formula=formula,
        quantity=payload.quantity,
        unit=payload.unit,
        compounded_by=person,
        prescription=_row(
            Prescription, site, payload.prescription_id, "prescription_id", "prescription"
        ),
        patient=_row(Patient, site, payload.patient_id, "patient_id", "patient"),
        prepared_at=payload.prepared_at,
        lots=payload.lots,
        room=_row(Room, site, payload.room_id, "room_id", "room"),
        control=_row(EngineeringControl, site, payload.control_id, "control_id", "hood"),
        sources={p: s.model_dump() for p, s in payload.sources.items()},
    )
    return Status(201, _fresh(actor, record.pk))


@router.get(
    "/records/{int:record_id}",
    response=RecordOut,
    auth=gate(Cap.COMPOUNDING_VIEW),
    summary="A compounding record with its components, calculations and checks",
)
def record_read(request: HttpRequest, record_id: int) -> Any:
    return _fresh(user_of(request), record_id)


@router.post(
    "/records/{int:record_id}/measurements",
    response=RecordOut,
    auth=gate(Cap.COMPOUNDING_MAKE),
    summary="Record what was weighed or measured of a component",
    description="Give the component line (component_id) or the ingredient's position. More "
    "than ±5 % off the required amount is a 422 unless `deviation` says why.",
)
def record_measure(request: HttpRequest, record_id: int, payload: CompoundingMeasurementIn) -> Any:
    actor = user_of(request)
    record = queries.record_get(actor=actor, record_id=record_id)
    services.record_measure(
        actor=actor,
        record=record,
        component_id=payload.component_id,
        position=payload.position,
        measured_quantity=payload.measured_quantity,
        measured_unit=payload.measured_unit,
        deviation=payload.deviation,
    )
    return _fresh(actor, record_id)


@router.post(
    "/records/{int:record_id}/checks",
    response={201: RecordOut},
    auth=gate(Cap.COMPOUNDING_MAKE),
    summary="Record a quality check",
)
def record_check(request: HttpRequest, record_id: int, payload: CheckIn) -> Any:
    actor = user_of(request)
    record = queries.record_get(actor=actor, record_id=record_id)
    services.record_check(
        actor=actor,
        record=record,
        name=payload.name,
        result=payload.result,
        passed=payload.passed,
        expected=payload.expected,
    )
    return Status(201, _fresh(actor, record_id))


@router.post(
    "/records/{int:record_id}/submit",
    response=RecordOut,
    auth=gate(Cap.COMPOUNDING_MAKE),
    summary="Submit the record for the pharmacist's verification",
    description="422 names the first component not measured (components[n]) or asks for a "
    "quality check; 409 when a check failed (reject it instead).",
)
def record_submit(request: HttpRequest, record_id: int, payload: SubmitIn) -> Any:
    actor = user_of(request)
    record = queries.record_get(actor=actor, record_id=record_id)
    services.record_submit(
        actor=actor,
        record=record,
        physical_description=payload.physical_description,
        deviations=payload.deviations,
    )
    return _fresh(actor, record_id)


@router.post(
    "/records/{int:record_id}/verify",
    response=RecordOut,
    auth=gate(Cap.COMPOUNDING_VERIFY),
    summary="Verify and release the preparation (a pharmacist who did not compound it)",
)
def record_verify(request: HttpRequest, record_id: int) -> Any:
    actor = user_of(request)
    record = queries.record_get(actor=actor, record_id=record_id)
    services.record_verify(actor=actor, record=record)
    return _fresh(actor, record_id)


@router.post(
    "/records/{int:record_id}/reject",
    response=RecordOut,
    auth=gate(Cap.COMPOUNDING_VERIFY),
    summary="Reject the preparation (its components stay used)",
)
def record_reject(request: HttpRequest, record_id: int, payload: CompoundingRejectIn) -> Any:
    actor = user_of(request)
    record = queries.record_get(actor=actor, record_id=record_id)
    services.record_reject(actor=actor, record=record, reason=payload.reason)
    return _fresh(actor, record_id)


@router.get(
    "/records/{int:record_id}/label.pdf",
    auth=gate(Cap.COMPOUNDING_MAKE),
    summary="The preparation's label as a PDF (verified preparations only; each print is recorded)",
    openapi_extra=PDF_FILE,
)
def record_label(request: HttpRequest, record_id: int) -> HttpResponse:
    actor = user_of(request)
    record = queries.record_get(actor=actor, record_id=record_id)
    return pdf_response(record, services.record_label(actor=actor, record=record))
