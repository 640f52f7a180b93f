"""API of long-term care: facilities (units, pass times), residents and their census, the
administration times of their orders, and the MAR (mounted at /api/v1/institutional).
Parse, call rxdesk.institutional services_census / queries_census, serialize.

Facilities are read with ltc.view and set up with ltc.setup (the pharmacist-in-charge).
Residents are read with ltc.view and patient.view (an auditor sees no resident); admitting,
census changes and administration times are ltc.census. Each capability is checked before
the body is read, and again by the services. Another pharmacy's rows do not exist here
(404); an id in a body that is not this pharmacy's is a 422 naming the field."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, Literal

from django.http import HttpRequest, HttpResponse
from ninja import Field, Query, Router, Schema, Status

from rxdesk.core.capabilities import Cap
from rxdesk.core.errors import Invalid, NotFound
from rxdesk.core.models import Site
from rxdesk.institutional import mar as mar_doc
from rxdesk.institutional import queries_census as queries
from rxdesk.institutional import schedule
from rxdesk.institutional import services_census as services
from rxdesk.institutional.api_common import StrictIn, gate, user_of
from rxdesk.institutional.choices import CensusKind, FacilityKind, Slot
from rxdesk.institutional.models import Facility, Resident, Unit
from rxdesk.patients.models import Patient
from rxdesk.rx.models import Prescription

router = Router(tags=["institutional: census"])

MAX_ID = 2**63 - 1
FILES = {
    "responses": {
        200: {
            "description": "The MAR as JSON, CSV (text/csv) or PDF (letter landscape)",
            "content": {
                "application/json": {"schema": {"type": "object"}},
                "text/csv": {"schema": {"type": "string"}},
                "application/pdf": {"schema": {"type": "string", "format": "binary"}},
            },
        }
    }
}


# --- Input ------------------------------------------------------------------------------------


class FacilityIn(StrictIn):
    code: str = Field(..., min_length=1, max_length=20, description="Short code, e.g. OAK")
    name: str = Field(..., min_length=1, max_length=120)
    kind: FacilityKind = FacilityKind.SNF
    address: str = Field("", max_length=200)
    phone: str = Field("", max_length=20, description="10 digits with the area code")
    active: bool = True


class FacilityPatch(StrictIn):
    code: str | None = Field(None, min_length=1, max_length=20)
    name: str | None = Field(None, min_length=1, max_length=120)
    kind: FacilityKind | None = None
    address: str | None = Field(None, max_length=200)
    phone: str | None = Field(None, max_length=20)
    active: bool | None = None


class PassTimeIn(StrictIn):
    time: str = Field(..., max_length=5, description="HH:MM, 24-hour")
    slot: Slot
    label: str = Field("", max_length=30)


class PassTimesIn(StrictIn):
    times: list[PassTimeIn] = Field(..., max_length=services.MAX_PASS_TIMES)


class UnitIn(StrictIn):
    code: str = Field(..., min_length=1, max_length=20)
    name: str = Field(..., min_length=1, max_length=80)
    active: bool = True


class AdmitIn(StrictIn):
    facility_id: int = Field(..., ge=1, le=MAX_ID)
    patient_id: int = Field(..., ge=1, le=MAX_ID)
    unit_id: int | None = Field(None, ge=1, le=MAX_ID)
    room: str = Field(..., min_length=1, max_length=10)
    bed: str = Field("", max_length=4)
    admitted_at: dt.datetime | None = Field(None, description="With its time-zone offset")


class CensusIn(StrictIn):
    kind: Literal["discharge", "leave", "return", "readmit", "room_move"]
    effective_at: dt.datetime | None = Field(None, description="Default now; with its offset")
    to_unit_id: int | None = Field(None, ge=1, le=MAX_ID)
    to_room: str = Field("", max_length=10)
    expected_return: dt.date | None = None
    note: str = Field("", max_length=300)


class CensusScheduleIn(StrictIn):
    times: list[str] = Field(
        default_factory=list, max_length=12, description='Pass times, e.g. ["08:00", "17:00"]'
    )
    dose: Decimal = Field(..., description="Units given at each time")
    prn: bool = False
    prn_max_per_day: Decimal | None = None
    start_on: dt.date | None = None
    stop_on: dt.date | None = None


class ResidentQuery(Schema):
    facility_id: int | None = Field(None, ge=1, le=MAX_ID)
    unit_id: int | None = Field(None, ge=1, le=MAX_ID)
    status: Literal["admitted", "leave", "discharged", "all"] | None = Field(
        None, description="Default: in the facility or on leave"
    )
    q: str = Field("", max_length=100, description="Name: 'diaz', 'lu diaz'")
    limit: int = Field(200, ge=1, le=queries.SEARCH_LIMIT)


class MarQuery(Schema):
    month: str = Field("", max_length=7, description="YYYY-MM (default: this month)")
    format: Literal["json", "csv", "pdf"] = "json"


# --- Output -----------------------------------------------------------------------------------


class PassTimeOut(Schema):
    time: str
    slot: str
    label: str


class UnitOut(Schema):
    id: int
    code: str
    name: str
    active: bool


class FacilitySummaryOut(Schema):
    id: int
    code: str
    name: str
    kind: str
    active: bool
    admitted: int
    on_leave: int


class FacilityOut(Schema):
    id: int
    code: str
    name: str
    kind: str
    kind_label: str
    address: str
    phone: str
    active: bool
    admitted: int
    on_leave: int
    units: list[UnitOut]
    pass_times: list[PassTimeOut]


class ResidentSummaryOut(Schema):
    id: int
    patient_id: int
    name: str
    date_of_birth: dt.date
    facility_id: int
    facility: str
    unit: str
    room: str
    bed: str
    status: str
    status_label: str
    admitted_on: dt.date
    discharged_on: dt.date | None


class CensusOut(Schema):
    id: int
    kind: str
    kind_label: str
    effective_at: dt.datetime
    from_unit: str
    to_unit: str
    from_room: str
    to_room: str
    expected_return: dt.date | None
    note: str
    recorded_by: str


class CensusScheduleOut(Schema):
    times: list[str]
    dose: str
    prn: bool
    prn_max_per_day: str | None
    start_on: dt.date
    stop_on: dt.date | None
    doses_per_day: str | None


class CensusOrderOut(Schema):
    prescription_id: int
    rx_number: int
    drug: str
    directions: str
    status: str
    schedule: CensusScheduleOut | None
    suggested_times: list[str]


class ResidentOut(ResidentSummaryOut):
    census: list[CensusOut]
    orders: list[CensusOrderOut]


class MarRowOut(Schema):
    rx_number: int
    drug: str
    directions: str
    dose: str
    time: str
    prn: bool
    prn_max_per_day: str
    cells: list[str]


class MarOut(Schema):
    resident_id: int
    name: str
    date_of_birth: dt.date
    allergies: str
    facility: str
    unit: str
    room: str
    pharmacy: str
    month: str
    days: int
    rows: list[MarRowOut]
    prn_rows: list[MarRowOut]


def _num(value: Decimal | None) -> str | None:
    return None if value is None else f"{Decimal(value).normalize():f}"


def _units(facility: Facility) -> list[dict[str, Any]]:
    return [
        {"id": u.pk, "code": u.code, "name": u.name, "active": u.active}
        for u in facility.units.order_by("code")
    ]


def _facility(actor: Any, facility: Facility) -> dict[str, Any]:
    detail = queries.facility_detail(actor=actor, facility=facility)
    return {
        "id": facility.pk,
        "code": facility.code,
        "name": facility.name,
        "kind": facility.kind,
        "kind_label": facility.get_kind_display(),
        "address": facility.address,
        "phone": facility.phone,
        "active": facility.active,
        "admitted": detail.admitted,
        "on_leave": detail.on_leave,
        "units": _units(facility),
        "pass_times": [
            {"time": schedule.clock(p.time), "slot": p.slot, "label": p.label}
            for p in detail.pass_times
        ],
    }


def _resident(r: Resident) -> dict[str, Any]:
    return {
        "id": r.pk,
        "patient_id": r.patient_id,
        "name": r.patient.full_name,
        "date_of_birth": r.patient.date_of_birth,
        "facility_id": r.facility_id,
        "facility": r.facility.name,
        "unit": r.unit.code if r.unit else "",
        "room": r.room,
        "bed": r.bed,
        "status": r.status,
        "status_label": r.get_status_display(),
        "admitted_on": r.admitted_on,
        "discharged_on": r.discharged_on,
    }


def _resident_full(actor: Any, r: Resident) -> dict[str, Any]:
    detail = queries.resident_detail(actor=actor, resident=r)
    census = [
        {
            "id": e.pk,
            "kind": e.kind,
            "kind_label": e.get_kind_display(),
            "effective_at": e.effective_at,
            "from_unit": e.from_unit.code if e.from_unit else "",
            "to_unit": e.to_unit.code if e.to_unit else "",
            "from_room": e.from_room,
            "to_room": e.to_room,
            "expected_return": e.expected_return,
            "note": e.note,
            "recorded_by": e.recorded_by.username if e.recorded_by else "",
        }
        for e in detail.census
    ]
    orders = []
    for line in detail.orders:
        s = line.schedule
        p = line.prescription
        orders.append(
            {
                "prescription_id": p.pk,
                "rx_number": p.number,
                "drug": p.drug_description,
                "directions": p.directions,
                "status": p.status,
                "schedule": None
                if s is None
                else {
                    "times": list(s.times or []),
                    "dose": _num(s.dose),
                    "prn": s.prn,
                    "prn_max_per_day": _num(s.prn_max_per_day),
                    "start_on": s.start_on,
                    "stop_on": s.stop_on,
                    "doses_per_day": _num(line.per_day),
                },
                "suggested_times": line.suggested,
            }
        )
    return {**_resident(r), "census": census, "orders": orders}


def _one(model: Any, site: Site, pk: int | None, field: str, what: str, **extra: Any) -> Any:
    if pk is None:
        return None
    found = model._default_manager.filter(pk=pk, **extra).first()
    if found is None or getattr(found, "site_id", site.pk) != site.pk:
        raise Invalid(f"No such {what} at this pharmacy.", field=field)
    return found


def file_response(body: bytes | str, content_type: str, filename: str) -> HttpResponse:
    response = HttpResponse(body, content_type=content_type)
    response["Content-Disposition"] = f'inline; filename="{filename}"'
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response


def mar_filename(r: Resident, mar: mar_doc.Mar, ext: str) -> str:
    return f"mar-{r.pk}-{mar.month:%Y-%m}.{ext}"


def _mar_row(row: mar_doc.Row) -> dict[str, Any]:
    o = row.order
    return {
        "rx_number": o.rx_number,
        "drug": o.drug,
        "directions": o.directions,
        "dose": f"{o.dose} {o.unit}".strip(),
        "time": row.time,
        "prn": o.prn,
        "prn_max_per_day": o.prn_max_per_day,
        "cells": list(row.cells),
    }


# --- Facilities -------------------------------------------------------------------------------


@router.get(
    "/facilities",
    response=list[FacilitySummaryOut],
    auth=gate(Cap.LTC_VIEW),
    summary="Long-term-care facilities with their census counts",
)
def facilities_list(request: HttpRequest) -> Any:
    return [
        {
            "id": f.pk,
            "code": f.code,
            "name": f.name,
            "kind": f.kind,
            "active": f.active,
            "admitted": f.admitted,  # type: ignore[attr-defined]
            "on_leave": f.on_leave,  # type: ignore[attr-defined]
        }
        for f in queries.facilities_list(actor=user_of(request))
    ]


@router.post(
    "/facilities",
    response={201: FacilityOut},
    auth=gate(Cap.LTC_SETUP),
    summary="Add a facility (then its pass times and units)",
)
def facility_create(request: HttpRequest, payload: FacilityIn) -> Any:
    actor = user_of(request)
    facility = services.facility_save(actor=actor, **payload.model_dump())
    return Status(201, _facility(actor, facility))


@router.get(
    "/facilities/{int:facility_id}",
    response=FacilityOut,
    auth=gate(Cap.LTC_VIEW),
    summary="A facility with its units, pass times and census counts",
)
def facility_read(request: HttpRequest, facility_id: int) -> Any:
    actor = user_of(request)
    return _facility(actor, queries.facility_get(actor=actor, facility_id=facility_id))


@router.patch(
    "/facilities/{int:facility_id}",
    response=FacilityOut,
    auth=gate(Cap.LTC_SETUP),
    summary="Change a facility (only the fields given)",
    description="409 when closing a facility that still has residents.",
)
def facility_update(request: HttpRequest, facility_id: int, payload: FacilityPatch) -> Any:
    actor = user_of(request)
    facility = queries.facility_get(actor=actor, facility_id=facility_id)
    values: dict[str, Any] = {
        "code": facility.code,
        "name": facility.name,
        "kind": facility.kind,
        "address": facility.address,
        "phone": facility.phone,
        "active": facility.active,
    }
    values.update(payload.model_dump(exclude_unset=True, exclude_none=True))
    facility = services.facility_save(actor=actor, facility=facility, **values)
    return _facility(actor, facility)


@router.put(
    "/facilities/{int:facility_id}/pass-times",
    response=FacilityOut,
    auth=gate(Cap.LTC_SETUP),
    summary="Replace the facility's medication pass times",
    description="At least one; no time twice (422 names times[n].time). 409 when a time "
    "dropped is still the time of a resident's order.",
)
def pass_times_put(request: HttpRequest, facility_id: int, payload: PassTimesIn) -> Any:
    actor = user_of(request)
    facility = queries.facility_get(actor=actor, facility_id=facility_id)
    services.pass_times_set(
        actor=actor,
        facility=facility,
        times=[t.model_dump(mode="json") for t in payload.times],
    )
    return _facility(actor, facility)


@router.post(
    "/facilities/{int:facility_id}/units",
    response={201: UnitOut},
    auth=gate(Cap.LTC_SETUP),
    summary="Add a unit (wing) to a facility",
)
def unit_create(request: HttpRequest, facility_id: int, payload: UnitIn) -> Any:
    actor = user_of(request)
    facility = queries.facility_get(actor=actor, facility_id=facility_id)
    unit = services.unit_save(actor=actor, facility=facility, **payload.model_dump())
    return Status(201, {"id": unit.pk, "code": unit.code, "name": unit.name, "active": unit.active})


# --- Residents --------------------------------------------------------------------------------


@router.get(
    "/residents",
    response=list[ResidentSummaryOut],
    auth=gate(Cap.LTC_VIEW, Cap.PATIENT_VIEW),
    summary="Residents (default: in the facility or on leave)",
)
def residents_list(request: HttpRequest, q: Query[ResidentQuery]) -> Any:
    rows = queries.residents_search(
        actor=user_of(request),
        facility_id=q.facility_id,
        unit_id=q.unit_id,
        status=q.status,
        q=q.q,
        limit=q.limit,
    )
    return [_resident(r) for r in rows]


@router.post(
    "/residents",
    response={201: ResidentOut},
    auth=gate(Cap.LTC_CENSUS),
    summary="Admit a patient to a facility",
    description="409 (field patient) when the patient lives in a facility now — it says "
    "where — or was discharged from this one (readmit instead).",
)
def resident_admit(request: HttpRequest, payload: AdmitIn) -> Any:
    actor = user_of(request)
    site = actor.site
    facility = _one(Facility, site, payload.facility_id, "facility_id", "facility")
    resident = services.resident_admit(
        actor=actor,
        facility=facility,
        patient=_one(Patient, site, payload.patient_id, "patient_id", "patient"),
        unit=_one(Unit, site, payload.unit_id, "unit_id", "unit", facility=facility),
        room=payload.room,
        bed=payload.bed,
        admitted_at=payload.admitted_at,
    )
    return Status(201, _resident_full(actor, resident))


@router.get(
    "/residents/{int:resident_id}",
    response=ResidentOut,
    auth=gate(Cap.LTC_VIEW, Cap.PATIENT_VIEW),
    summary="A resident: census history, orders with their administration times",
)
def resident_read(request: HttpRequest, resident_id: int) -> Any:
    actor = user_of(request)
    return _resident_full(actor, queries.resident_get(actor=actor, resident_id=resident_id))


@router.post(
    "/residents/{int:resident_id}/census",
    response={201: CensusOut},
    auth=gate(Cap.LTC_CENSUS),
    summary="Record a census change (discharge, leave, return, readmit, room move)",
    description="409 (field kind) for a change the resident's state does not allow, e.g. "
    "a room move while on leave; 409 (field patient) for a readmission while the patient "
    "lives elsewhere.",
)
def census_create(request: HttpRequest, resident_id: int, payload: CensusIn) -> Any:
    actor = user_of(request)
    resident = queries.resident_get(actor=actor, resident_id=resident_id)
    unit = _one(
        Unit, actor.site, payload.to_unit_id, "to_unit_id", "unit", facility=resident.facility
    )
    event = services.census_record(
        actor=actor,
        resident=resident,
        kind=CensusKind(payload.kind),
        effective_at=payload.effective_at,
        to_unit=unit,
        to_room=payload.to_room,
        expected_return=payload.expected_return,
        note=payload.note,
    )
    return Status(
        201,
        {
            "id": event.pk,
            "kind": event.kind,
            "kind_label": event.get_kind_display(),
            "effective_at": event.effective_at,
            "from_unit": event.from_unit.code if event.from_unit else "",
            "to_unit": event.to_unit.code if event.to_unit else "",
            "from_room": event.from_room,
            "to_room": event.to_room,
            "expected_return": event.expected_return,
            "note": event.note,
            "recorded_by": actor.username,
        },
    )


@router.put(
    "/residents/{int:resident_id}/schedules/{int:prescription_id}",
    response=ResidentOut,
    auth=gate(Cap.LTC_CENSUS),
    summary="Set when a resident's order is given (pass times and dose, or PRN)",
    description="422 names times[n] for a time that is not one of the facility's pass times.",
)
def schedule_put(
    request: HttpRequest, resident_id: int, prescription_id: int, payload: CensusScheduleIn
) -> Any:
    actor = user_of(request)
    resident = queries.resident_get(actor=actor, resident_id=resident_id)
    prescription = Prescription.objects.filter(site=actor.site, pk=prescription_id).first()
    if prescription is None:
        raise NotFound("No such prescription at this pharmacy.")
    services.order_schedule_set(
        actor=actor,
        resident=resident,
        prescription=prescription,
        times=payload.times,
        dose=payload.dose,
        prn=payload.prn,
        prn_max_per_day=payload.prn_max_per_day,
        start_on=payload.start_on,
        stop_on=payload.stop_on,
    )
    return _resident_full(actor, resident)


@router.get(
    "/residents/{int:resident_id}/mar",
    response=MarOut,
    auth=gate(Cap.LTC_VIEW, Cap.PATIENT_VIEW),
    summary="The resident's medication administration record for a month",
    description="format=json (default), csv or pdf. Each opening is recorded (PHI access).",
    openapi_extra=FILES,
)
def mar_read(request: HttpRequest, resident_id: int, q: Query[MarQuery]) -> Any:
    actor = user_of(request)
    resident = queries.resident_get(actor=actor, resident_id=resident_id)
    month = queries.parse_month(q.month, actor.site.today())
    grid = queries.mar_of(actor=actor, resident=resident, month=month)
    services.mar_printed(actor=actor, resident=resident, month=month, output=q.format)
    if q.format == "csv":
        return file_response(
            mar_doc.to_csv(grid), "text/csv; charset=utf-8", mar_filename(resident, grid, "csv")
        )
    if q.format == "pdf":
        return file_response(
            mar_doc.to_pdf(grid), "application/pdf", mar_filename(resident, grid, "pdf")
        )
    r = grid.resident
    return {
        "resident_id": resident.pk,
        "name": r.name,
        "date_of_birth": r.date_of_birth,
        "allergies": r.allergies,
        "facility": r.facility,
        "unit": r.unit,
        "room": r.room,
        "pharmacy": r.pharmacy,
        "month": f"{grid.month:%Y-%m}",
        "days": len(grid.days),
        "rows": [_mar_row(row) for row in grid.rows],
        "prn_rows": [_mar_row(row) for row in grid.prn_rows],
    }
