"""Operations API (mounted at /api/v1/operations): who is on duty and the technician
ratio, sign on and off; the cleaning schedule and records; the waste log; the equipment
list, its maintenance and downtime log. Parse, call rxdesk.operations services/queries,
serialize.

Everyone who works here reads the duty board (duty.view) and the logs (ops.view) and the
auditor too; signing on and off is duty.sign, recording cleaning, waste and equipment
events ops.log; the ratio rule, the cleaning schedule, the equipment list and ending a
forgotten shift are the PIC's (ops.setup). A refused over-ratio sign-on is a 409 problem
with code ``over_ratio`` and the counts."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema, Status

from rxdesk.core.capabilities import Cap
from rxdesk.core.errors import Invalid
from rxdesk.core.models import User
from rxdesk.institutional.api_common import StrictIn, gate, user_of
from rxdesk.operations import queries, services_duty, services_logs
from rxdesk.operations.models import (
    CleaningRecord,
    CleaningTask,
    DutyShift,
    Equipment,
    EquipmentEvent,
    OperationsSettings,
    WasteRecord,
)
from rxdesk.rx.models import DispensingDevice

router = Router(tags=["Operations"])

MAX_ID = 2**63 - 1


# --- Input ------------------------------------------------------------------------------------


class OpsDutySignIn(StrictIn):
    acknowledge_over_ratio: bool = Field(
        False, description="I have read the ratio warning and sign on (off) anyway"
    )
    reason: str = Field("", max_length=services_duty.REASON_MAX)


class OpsShiftEndIn(StrictIn):
    reason: str = Field(..., min_length=1, max_length=services_duty.REASON_MAX)


class OpsSettingsIn(StrictIn):
    max_technicians_per_pharmacist: int | None = Field(
        None, ge=1, le=services_duty.MAX_RATIO, description="Empty: the state sets no limit"
    )
    trainees_count: bool = True
    citation: str = Field("", max_length=services_duty.CITATION_MAX)


class OpsRangeQuery(Schema):
    start: dt.date | None = Field(None, description="First local day (default: 29 days ago)")
    end: dt.date | None = Field(None, description="Last local day (default: today)")


class OpsEventsQuery(OpsRangeQuery):
    equipment_id: int | None = Field(None, ge=1, le=MAX_ID)


class OpsMonthQuery(Schema):
    year: int | None = Field(None, ge=2000, le=2100, description="Default: this month")
    month: int | None = Field(None, ge=1, le=12)


class OpsCleaningTaskIn(StrictIn):
    area: str = Field(..., max_length=20)
    name: str = Field(..., min_length=1, max_length=services_logs.NAME_MAX)
    frequency: str = Field(..., max_length=10, description="shift, daily, weekly or monthly")
    agent: str = Field("", max_length=services_logs.AGENT_MAX)


class OpsCleaningTaskUpdateIn(OpsCleaningTaskIn):
    active: bool = True


class OpsCleaningDoneIn(StrictIn):
    done_at: dt.datetime | None = Field(None, description="Default: now")
    agent: str = Field("", max_length=services_logs.AGENT_MAX)
    agent_lot: str = Field("", max_length=services_logs.LOT_MAX)
    note: str = Field("", max_length=services_logs.NOTE_MAX)


class OpsWasteIn(StrictIn):
    kind: str = Field(..., max_length=20)
    quantity: Decimal = Field(..., gt=0, max_digits=10, decimal_places=3)
    unit: str = Field(..., max_length=10, description="lb, kg, gal or container")
    container_id: str = Field("", max_length=services_logs.CONTAINER_MAX)
    hauler: str = Field("", max_length=services_logs.HAULER_MAX)
    manifest_number: str = Field("", max_length=services_logs.MANIFEST_MAX)
    sealed_at: dt.datetime | None = None
    picked_up_at: dt.datetime | None = None
    witness_id: int | None = Field(None, ge=1, le=MAX_ID)
    note: str = Field("", max_length=services_logs.NOTE_MAX)


class OpsEquipmentIn(StrictIn):
    name: str = Field(..., min_length=1, max_length=services_logs.EQUIPMENT_NAME_MAX)
    kind: str = Field(..., max_length=20)
    vendor: str = Field("", max_length=services_logs.VENDOR_MAX)
    model: str = Field("", max_length=services_logs.MODEL_MAX)
    serial: str = Field("", max_length=services_logs.SERIAL_MAX)
    maintenance_days: int | None = Field(None, ge=1, le=services_logs.MAX_INTERVAL_DAYS)
    device_id: int | None = Field(None, ge=1, le=MAX_ID)


class OpsEquipmentUpdateIn(OpsEquipmentIn):
    active: bool = True


class OpsEquipmentEventIn(StrictIn):
    kind: str = Field(..., max_length=12, description="maintenance, calibration, downtime, repair")
    started_at: dt.datetime | None = Field(None, description="Default: now")
    ended_at: dt.datetime | None = Field(None, description="Empty: a downtime stays open")
    vendor_ticket: str = Field("", max_length=services_logs.TICKET_MAX)
    description: str = Field("", max_length=services_logs.DESCRIPTION_MAX)


class OpsEventEndIn(StrictIn):
    ended_at: dt.datetime | None = Field(None, description="Default: now")
    vendor_ticket: str = Field("", max_length=services_logs.TICKET_MAX)


# --- Output -----------------------------------------------------------------------------------


class OpsShiftOut(Schema):
    id: int
    person_id: int
    person: str
    role: str
    role_label: str
    started_at: dt.datetime
    ended_at: dt.datetime | None
    over_ratio: bool
    technicians_at_sign_on: int | None
    pharmacists_at_sign_on: int | None
    over_ratio_reason: str
    warned: str
    ended_by: str
    end_reason: str
    ended_over_ratio: bool


class OpsDutyBoardOut(Schema):
    technicians: int
    pharmacists: int
    max_technicians_per_pharmacist: int | None
    trainees_count: bool
    within_ratio: bool
    line: str
    sentence: str
    on_duty: list[OpsShiftOut]
    my_shift_id: int | None


class OpsSettingsOut(Schema):
    max_technicians_per_pharmacist: int | None
    trainees_count: bool
    citation: str
    updated_at: dt.datetime
    updated_by: str


class OpsCleaningTaskOut(Schema):
    id: int
    area: str
    area_label: str
    name: str
    frequency: str
    frequency_label: str
    agent: str
    active: bool


class OpsCleaningRecordOut(Schema):
    id: int
    task_id: int
    task: str
    area: str
    done_by: str
    done_at: dt.datetime
    agent: str
    agent_lot: str
    note: str


class OpsCleaningDueOut(Schema):
    task: OpsCleaningTaskOut
    status: str
    period_start: dt.datetime
    last_done_at: dt.datetime | None
    last_done_by: str


class OpsWasteOut(Schema):
    id: int
    kind: str
    kind_label: str
    container_id: str
    quantity: Decimal
    unit: str
    hauler: str
    manifest_number: str
    sealed_at: dt.datetime | None
    picked_up_at: dt.datetime | None
    recorded_by: str
    witness: str
    note: str
    recorded_at: dt.datetime


class OpsEquipmentOut(Schema):
    id: int
    name: str
    kind: str
    kind_label: str
    vendor: str
    model: str
    serial: str
    maintenance_days: int | None
    device_id: int | None
    active: bool


class OpsEquipmentEventOut(Schema):
    id: int
    equipment_id: int
    equipment: str
    kind: str
    kind_label: str
    started_at: dt.datetime
    ended_at: dt.datetime | None
    vendor_ticket: str
    description: str
    recorded_by: str
    ended_by: str


class OpsEquipmentStatusOut(Schema):
    equipment: OpsEquipmentOut
    open_downtime: OpsEquipmentEventOut | None
    last_maintenance: dt.datetime | None
    maintenance_due: dt.date | None
    maintenance_overdue: bool
    downtime_minutes_this_month: int


class OpsDowntimeOut(Schema):
    equipment_id: int
    equipment: str
    minutes: int


# --- Serializers ------------------------------------------------------------------------------


def _shift(s: DutyShift) -> dict[str, Any]:
    return {
        "id": s.pk,
        "person_id": s.person_id,
        "person": s.person.display_name,
        "role": s.role,
        "role_label": s.get_role_display(),
        "started_at": s.started_at,
        "ended_at": s.ended_at,
        "over_ratio": s.over_ratio,
        "technicians_at_sign_on": s.technicians_at_sign_on,
        "pharmacists_at_sign_on": s.pharmacists_at_sign_on,
        "over_ratio_reason": s.over_ratio_reason,
        "warned": s.warned,
        "ended_by": s.ended_by.display_name if s.ended_by else "",
        "end_reason": s.end_reason,
        "ended_over_ratio": s.ended_over_ratio,
    }


def _settings(row: OperationsSettings) -> dict[str, Any]:
    return {
        "max_technicians_per_pharmacist": row.max_technicians_per_pharmacist,
        "trainees_count": row.trainees_count,
        "citation": row.citation,
        "updated_at": row.updated_at,
        "updated_by": row.updated_by.display_name if row.updated_by else "",
    }


def _task(t: CleaningTask) -> dict[str, Any]:
    return {
        "id": t.pk,
        "area": t.area,
        "area_label": t.get_area_display(),
        "name": t.name,
        "frequency": t.frequency,
        "frequency_label": t.get_frequency_display(),
        "agent": t.agent,
        "active": t.active,
    }


def _record(r: CleaningRecord) -> dict[str, Any]:
    return {
        "id": r.pk,
        "task_id": r.task_id,
        "task": r.task.name,
        "area": r.task.area,
        "done_by": r.done_by.display_name,
        "done_at": r.done_at,
        "agent": r.agent,
        "agent_lot": r.agent_lot,
        "note": r.note,
    }


def _waste(w: WasteRecord) -> dict[str, Any]:
    return {
        "id": w.pk,
        "kind": w.kind,
        "kind_label": w.get_kind_display(),
        "container_id": w.container_id,
        "quantity": w.quantity,
        "unit": w.unit,
        "hauler": w.hauler,
        "manifest_number": w.manifest_number,
        "sealed_at": w.sealed_at,
        "picked_up_at": w.picked_up_at,
        "recorded_by": w.recorded_by.display_name,
        "witness": w.witness.display_name if w.witness else "",
        "note": w.note,
        "recorded_at": w.recorded_at,
    }


def _equipment(e: Equipment) -> dict[str, Any]:
    return {
        "id": e.pk,
        "name": e.name,
        "kind": e.kind,
        "kind_label": e.get_kind_display(),
        "vendor": e.vendor,
        "model": e.model,
        "serial": e.serial,
        "maintenance_days": e.maintenance_days,
        "device_id": e.device_id,
        "active": e.active,
    }


def _event(e: EquipmentEvent) -> dict[str, Any]:
    return {
        "id": e.pk,
        "equipment_id": e.equipment_id,
        "equipment": e.equipment.name,
        "kind": e.kind,
        "kind_label": e.get_kind_display(),
        "started_at": e.started_at,
        "ended_at": e.ended_at,
        "vendor_ticket": e.vendor_ticket,
        "description": e.description,
        "recorded_by": e.recorded_by.display_name,
        "ended_by": e.ended_by.display_name if e.ended_by else "",
    }


def _device(actor: User, device_id: int | None) -> DispensingDevice | None:
    if device_id is None:
        return None
    found = DispensingDevice.objects.filter(pk=device_id, site_id=actor.site_id).first()
    if found is None:
        raise Invalid("No such dispensing device at this pharmacy.", field="device_id")
    return found


# --- Duty -------------------------------------------------------------------------------------


@router.get(
    "/duty",
    response=OpsDutyBoardOut,
    auth=gate(Cap.DUTY_VIEW),
    summary="Who is on duty now, and the technician-to-pharmacist ratio",
)
def ops_duty_board(request: HttpRequest) -> Any:
    board = queries.duty_board(actor=user_of(request))
    return {
        "technicians": board.technicians,
        "pharmacists": board.pharmacists,
        "max_technicians_per_pharmacist": board.limit,
        "trainees_count": board.trainees_count,
        "within_ratio": not board.check.over,
        "line": board.line,
        "sentence": board.check.sentence,
        "on_duty": [_shift(s) for s in board.shifts],
        "my_shift_id": board.mine.pk if board.mine else None,
    }


@router.post(
    "/duty/sign-on",
    response={201: OpsShiftOut},
    auth=gate(Cap.DUTY_SIGN),
    summary="Sign me on duty (409 over_ratio: acknowledge with a reason)",
)
def ops_duty_sign_on(request: HttpRequest, payload: OpsDutySignIn) -> Any:
    shift = services_duty.duty_sign_on(actor=user_of(request), **payload.model_dump())
    return Status(201, _shift(shift))


@router.post(
    "/duty/sign-off",
    response=OpsShiftOut,
    auth=gate(Cap.DUTY_SIGN),
    summary="Sign me off duty (a pharmacist leaving technicians past the ratio: 409)",
)
def ops_duty_sign_off(request: HttpRequest, payload: OpsDutySignIn) -> Any:
    return _shift(services_duty.duty_sign_off(actor=user_of(request), **payload.model_dump()))


@router.get(
    "/duty/shifts",
    response=list[OpsShiftOut],
    auth=gate(Cap.DUTY_VIEW),
    summary="Shifts begun on the local days [start, end]",
)
def ops_duty_shifts(request: HttpRequest, q: Query[OpsRangeQuery]) -> Any:
    return [_shift(s) for s in queries.shift_log(actor=user_of(request), start=q.start, end=q.end)]


@router.post(
    "/duty/shifts/{int:shift_id}/end",
    response=OpsShiftOut,
    auth=gate(Cap.OPS_SETUP),
    summary="The PIC signs off someone who forgot (with the reason)",
)
def ops_duty_end(request: HttpRequest, shift_id: int, payload: OpsShiftEndIn) -> Any:
    actor = user_of(request)
    shift = queries.shift_get(actor=actor, shift_id=shift_id)
    return _shift(services_duty.duty_end_for(actor=actor, shift=shift, reason=payload.reason))


# --- Settings ---------------------------------------------------------------------------------


@router.get(
    "/settings",
    response=OpsSettingsOut,
    auth=gate(Cap.OPS_VIEW),
    summary="The site's staffing rule (technicians per pharmacist)",
)
def ops_settings_get(request: HttpRequest) -> Any:
    return _settings(queries.operations_settings(actor=user_of(request)))


@router.put(
    "/settings",
    response=OpsSettingsOut,
    auth=gate(Cap.OPS_SETUP),
    summary="Set the state's technician ratio for this pharmacy (the PIC)",
)
def ops_settings_put(request: HttpRequest, payload: OpsSettingsIn) -> Any:
    return _settings(services_duty.ops_settings_set(actor=user_of(request), **payload.model_dump()))


# --- Cleaning ---------------------------------------------------------------------------------


@router.get(
    "/cleaning/due",
    response=list[OpsCleaningDueOut],
    auth=gate(Cap.OPS_VIEW),
    summary="Cleaning tasks with their state now: overdue, due, done",
)
def ops_cleaning_due(request: HttpRequest) -> Any:
    return [
        {
            "task": _task(d.task),
            "status": d.status,
            "period_start": d.period_start,
            "last_done_at": d.last_done.done_at if d.last_done else None,
            "last_done_by": d.last_done.done_by.display_name if d.last_done else "",
        }
        for d in queries.cleaning_due(actor=user_of(request))
    ]


@router.get(
    "/cleaning/tasks",
    response=list[OpsCleaningTaskOut],
    auth=gate(Cap.OPS_VIEW),
    summary="The cleaning schedule (retired tasks too)",
)
def ops_cleaning_tasks(request: HttpRequest) -> Any:
    rows = queries.cleaning_tasks(actor=user_of(request), include_inactive=True)
    return [_task(t) for t in rows]


@router.post(
    "/cleaning/tasks",
    response={201: OpsCleaningTaskOut},
    auth=gate(Cap.OPS_SETUP),
    summary="Add a cleaning task to the schedule (the PIC)",
)
def ops_cleaning_task_create(request: HttpRequest, payload: OpsCleaningTaskIn) -> Any:
    task = services_logs.cleaning_task_create(actor=user_of(request), **payload.model_dump())
    return Status(201, _task(task))


@router.put(
    "/cleaning/tasks/{int:task_id}",
    response=OpsCleaningTaskOut,
    auth=gate(Cap.OPS_SETUP),
    summary="Change a cleaning task or retire it (the PIC)",
)
def ops_cleaning_task_update(
    request: HttpRequest, task_id: int, payload: OpsCleaningTaskUpdateIn
) -> Any:
    actor = user_of(request)
    task = queries.cleaning_task_get(actor=actor, task_id=task_id)
    row = services_logs.cleaning_task_update(actor=actor, task=task, **payload.model_dump())
    return _task(row)


@router.post(
    "/cleaning/tasks/{int:task_id}/done",
    response={201: OpsCleaningRecordOut},
    auth=gate(Cap.OPS_LOG),
    summary="Record the cleaning done",
)
def ops_cleaning_done(request: HttpRequest, task_id: int, payload: OpsCleaningDoneIn) -> Any:
    actor = user_of(request)
    task = queries.cleaning_task_get(actor=actor, task_id=task_id)
    row = services_logs.cleaning_record(actor=actor, task=task, **payload.model_dump())
    return Status(201, _record(row))


@router.get(
    "/cleaning/records",
    response=list[OpsCleaningRecordOut],
    auth=gate(Cap.OPS_VIEW),
    summary="Cleanings done on the local days [start, end]",
)
def ops_cleaning_records(request: HttpRequest, q: Query[OpsRangeQuery]) -> Any:
    rows = queries.cleaning_log(actor=user_of(request), start=q.start, end=q.end)
    return [_record(r) for r in rows]


# --- Waste ------------------------------------------------------------------------------------


@router.get(
    "/waste",
    response=list[OpsWasteOut],
    auth=gate(Cap.OPS_VIEW),
    summary="The waste log (not controlled-substance destruction: that is Form 41)",
)
def ops_waste_log(request: HttpRequest, q: Query[OpsRangeQuery]) -> Any:
    return [_waste(w) for w in queries.waste_log(actor=user_of(request), start=q.start, end=q.end)]


@router.post(
    "/waste",
    response={201: OpsWasteOut},
    auth=gate(Cap.OPS_LOG),
    summary="Record a waste container sealed or picked up",
)
def ops_waste_record(request: HttpRequest, payload: OpsWasteIn) -> Any:
    actor = user_of(request)
    data = payload.model_dump()
    witness_id = data.pop("witness_id")
    witness = None
    if witness_id is not None:
        witness = User.objects.filter(pk=witness_id, site_id=actor.site_id).first()
        if witness is None:
            raise Invalid("The witness is not on this pharmacy's staff.", field="witness_id")
    row = services_logs.waste_record(actor=actor, witness=witness, **data)
    return Status(201, _waste(row))


# --- Equipment --------------------------------------------------------------------------------


@router.get(
    "/equipment",
    response=list[OpsEquipmentStatusOut],
    auth=gate(Cap.OPS_VIEW),
    summary="Equipment with open downtime, maintenance due and this month's downtime",
)
def ops_equipment_board(request: HttpRequest) -> Any:
    return [
        {
            "equipment": _equipment(s.equipment),
            "open_downtime": _event(s.open_downtime) if s.open_downtime else None,
            "last_maintenance": s.last_maintenance,
            "maintenance_due": s.maintenance_due,
            "maintenance_overdue": s.maintenance_overdue,
            "downtime_minutes_this_month": s.downtime_minutes_this_month,
        }
        for s in queries.equipment_board(actor=user_of(request))
    ]


@router.post(
    "/equipment",
    response={201: OpsEquipmentOut},
    auth=gate(Cap.OPS_SETUP),
    summary="Add equipment to the list (the PIC)",
)
def ops_equipment_create(request: HttpRequest, payload: OpsEquipmentIn) -> Any:
    actor = user_of(request)
    data = payload.model_dump()
    device = _device(actor, data.pop("device_id"))
    return Status(
        201, _equipment(services_logs.equipment_create(actor=actor, device=device, **data))
    )


@router.put(
    "/equipment/{int:equipment_id}",
    response=OpsEquipmentOut,
    auth=gate(Cap.OPS_SETUP),
    summary="Change or retire equipment (the PIC)",
)
def ops_equipment_update(
    request: HttpRequest, equipment_id: int, payload: OpsEquipmentUpdateIn
) -> Any:
    actor = user_of(request)
    machine = queries.equipment_get(actor=actor, equipment_id=equipment_id)
    data = payload.model_dump()
    device = _device(actor, data.pop("device_id"))
    row = services_logs.equipment_update(actor=actor, equipment=machine, device=device, **data)
    return _equipment(row)


@router.get(
    "/equipment/events",
    response=list[OpsEquipmentEventOut],
    auth=gate(Cap.OPS_VIEW),
    summary="Maintenance, calibration, downtime and repairs begun on [start, end]",
)
def ops_equipment_events(request: HttpRequest, q: Query[OpsEventsQuery]) -> Any:
    actor = user_of(request)
    machine = None
    if q.equipment_id is not None:
        machine = queries.equipment_get(actor=actor, equipment_id=q.equipment_id)
    rows = queries.equipment_events(actor=actor, start=q.start, end=q.end, equipment=machine)
    return [_event(e) for e in rows]


@router.post(
    "/equipment/{int:equipment_id}/events",
    response={201: OpsEquipmentEventOut},
    auth=gate(Cap.OPS_LOG),
    summary="Log maintenance, calibration, downtime or a repair (with the vendor ticket)",
)
def ops_equipment_event_record(
    request: HttpRequest, equipment_id: int, payload: OpsEquipmentEventIn
) -> Any:
    actor = user_of(request)
    machine = queries.equipment_get(actor=actor, equipment_id=equipment_id)
    row = services_logs.equipment_event_record(
        actor=actor, equipment=machine, **payload.model_dump()
    )
    return Status(201, _event(row))


@router.post(
    "/equipment/events/{int:event_id}/end",
    response=OpsEquipmentEventOut,
    auth=gate(Cap.OPS_LOG),
    summary="End an open downtime or repair",
)
def ops_equipment_event_end(request: HttpRequest, event_id: int, payload: OpsEventEndIn) -> Any:
    actor = user_of(request)
    event = queries.equipment_event_get(actor=actor, event_id=event_id)
    row = services_logs.equipment_event_end(actor=actor, event=event, **payload.model_dump())
    return _event(row)


@router.get(
    "/equipment/downtime",
    response=list[OpsDowntimeOut],
    auth=gate(Cap.OPS_VIEW),
    summary="Minutes each piece of equipment was down in a month (default: this month)",
)
def ops_equipment_downtime(request: HttpRequest, q: Query[OpsMonthQuery]) -> Any:
    actor = user_of(request)
    today = actor.site.today()
    year, month = q.year or today.year, q.month or today.month
    minutes = queries.downtime_minutes(actor=actor, year=year, month=month)
    names = dict(
        queries.equipment_list(actor=actor, include_inactive=True).values_list("pk", "name")
    )
    return [
        {"equipment_id": pk, "equipment": names[pk], "minutes": minutes.get(pk, 0)}
        for pk in sorted(names, key=lambda k: names[k])
    ]
