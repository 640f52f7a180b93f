"""API of the cleanroom: the board, rooms and PECs with their certifications (the
pharmacist-in-charge), the monitoring logs (samples, pressures, temperature and humidity,
cleaning: technicians and pharmacists), and corrective actions (a pharmacist opens and
closes them). Parse, call rxdesk.compounding services_cleanroom / queries_cleanroom,
serialize.

Every operation is gated by its capability before the body is read; the services check
again. A room, PEC or action of another pharmacy is not found (404). A reading's output says
whether it is in range (``excursion`` / ``in_range``) and names the corrective action it
opened."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, Literal

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema, Status

from rxdesk.compounding import cleanroom as rules
from rxdesk.compounding import queries_cleanroom as queries
from rxdesk.compounding import services_cleanroom as services
from rxdesk.compounding.api_common import StrictIn, gate, user_of
from rxdesk.compounding.models import (
    Certification,
    CleaningLog,
    CorrectiveAction,
    EngineeringControl,
    EnvironmentalSample,
    PressureReading,
    Room,
    RoomConditions,
)
from rxdesk.core.capabilities import Cap

router = Router(tags=["compounding"])

P = "/cleanroom"
RoomKindIn = Literal["buffer", "ante", "sca", "c_sec", "c_sca", "nonsterile", "hd_storage"]
IsoIn = Literal["5", "7", "8", ""]
PressureIn_ = Literal["positive", "negative", "neutral"]
PecKindIn = Literal["lafw", "bsc2", "bsc3", "cai", "caci", "ivlfz", "cve", "bsc1"]
AreaIn = Literal[
    "pec_interior",
    "pec_tray",
    "pass_through",
    "work_surfaces",
    "floors",
    "walls",
    "ceilings",
    "shelving",
    "equipment",
]
CleaningKindIn = Literal["cleaning", "disinfecting", "sporicidal"]
SourceIn = Literal["sample", "pressure", "conditions", "certification", "other"]
WHEN_HELP = "Blank: now. Without a zone: the pharmacy's local time. Not in the future."


# --- Schemas ----------------------------------------------------------------------------


class RoomIn(StrictIn):
    name: str = Field(..., max_length=200)
    kind: RoomKindIn
    iso_class: IsoIn | None = Field(None, description="Blank: the class the kind requires")
    pressure: PressureIn_ | None = Field(None, description="Blank: what the kind requires")
    hazardous: bool = Field(False, description="Used for hazardous drugs (USP <800>)")


class RoomPatch(StrictIn):
    name: str | None = Field(None, max_length=200)
    kind: RoomKindIn | None = None
    iso_class: IsoIn | None = None
    pressure: PressureIn_ | None = None
    hazardous: bool | None = None
    active: bool | None = None


class ControlIn(StrictIn):
    room_id: int
    name: str = Field(..., max_length=200)
    kind: PecKindIn
    hazardous: bool = Field(False, description="A containment PEC (C-PEC) for hazardous drugs")
    serial_number: str = Field("", max_length=200)


class ControlPatch(StrictIn):
    room_id: int | None = Field(None, description="Move the PEC to this room")
    name: str | None = Field(None, max_length=200)
    kind: PecKindIn | None = None
    hazardous: bool | None = None
    serial_number: str | None = Field(None, max_length=200)
    active: bool | None = None


class CertificationIn(StrictIn):
    room_id: int | None = Field(None, description="The room certified (or control_id)")
    control_id: int | None = Field(None, description="The PEC certified (or room_id)")
    certified_on: dt.date = Field(..., description="Not after today")
    certifier: str = Field(..., max_length=500)
    passed: bool = True
    report_reference: str = Field("", max_length=500)
    note: str = Field("", max_length=2000)


class SampleIn(StrictIn):
    kind: Literal["air", "surface"]
    room_id: int | None = Field(None, description="The room (may be left out with control_id)")
    control_id: int | None = Field(None, description="The PEC sampled (its ISO 5 levels apply)")
    location: str = Field(..., max_length=500, description="Where on the sampling map")
    sampled_at: dt.datetime | None = Field(None, description=WHEN_HELP)
    cfu: int = Field(..., description="Colonies counted (0: no growth)")
    air_volume_liters: Decimal | None = Field(None, description="Air only: litres sampled")
    organism: str = Field("", max_length=500)
    highly_pathogenic: bool = Field(
        False, description="Mould, yeast, Gram-negative rod or S. aureus: acted on at any count"
    )
    note: str = Field("", max_length=2000, description="Required for an entry over 7 days old")


class PressureIn(StrictIn):
    room_id: int
    reference: str = Field(..., max_length=500, description="Measured against, e.g. ante-room")
    inches_wc: Decimal = Field(..., description="Inches of water column, signed")
    read_at: dt.datetime | None = Field(None, description=WHEN_HELP)
    note: str = Field("", max_length=2000)


class ConditionsIn(StrictIn):
    room_id: int
    temperature_c: Decimal
    humidity_pct: Decimal
    read_at: dt.datetime | None = Field(None, description=WHEN_HELP)
    note: str = Field("", max_length=2000)


class CleaningIn(StrictIn):
    room_id: int
    control_id: int | None = Field(None, description="The PEC, for its interior or tray")
    area: AreaIn
    kind: CleaningKindIn
    agent: str = Field(..., max_length=500)
    performed_at: dt.datetime | None = Field(None, description=WHEN_HELP)
    note: str = Field("", max_length=2000)


class ActionOpenIn(StrictIn):
    problem: str = Field(..., max_length=2000)
    source: SourceIn = "other"
    room_id: int | None = None
    control_id: int | None = None


class ActionCloseIn(StrictIn):
    action_taken: str = Field(..., max_length=8000)
    resample: str = Field(
        "", max_length=2000, description="Required for a sample's excursion: when, and result"
    )


class HistoryQuery(Schema):
    start: dt.date | None = Field(None, description="First local day (default: 30 days ago)")
    end: dt.date | None = Field(None, description="Last local day (default: today)")
    room_id: int | None = None
    kind: Literal["air", "surface"] | None = None
    excursions_only: bool = False


class ActionsQuery(Schema):
    open_only: bool = False


class RoomOut(Schema):
    id: int
    name: str
    kind: str
    kind_label: str
    iso_class: str
    iso_label: str
    pressure: str
    hazardous: bool
    active: bool


class ControlOut(Schema):
    id: int
    room_id: int
    room: str
    name: str
    kind: str
    kind_label: str
    iso_class: str
    hazardous: bool
    serial_number: str
    active: bool


class CertificationOut(Schema):
    id: int
    room_id: int | None
    control_id: int | None
    certified_on: dt.date
    due_on: dt.date
    passed: bool
    certifier: str
    report_reference: str
    note: str
    corrective_action_id: int | None


class SampleOut(Schema):
    id: int
    kind: str
    room_id: int
    control_id: int | None
    location: str
    iso_class: str
    sampled_at: dt.datetime
    cfu: int
    air_volume_liters: Decimal | None
    cfu_measure: Decimal
    unit: str
    action_level: Decimal = Field(..., description="An excursion is a measure ABOVE this")
    excursion: bool
    organism: str
    highly_pathogenic: bool
    corrective_action_id: int | None
    note: str
    message: str


class PressureOut(Schema):
    id: int
    room_id: int
    reference: str
    inches_wc: Decimal
    read_at: dt.datetime
    in_range: bool
    requirement: str
    corrective_action_id: int | None
    message: str


class ConditionsOut(Schema):
    id: int
    room_id: int
    read_at: dt.datetime
    temperature_c: Decimal
    humidity_pct: Decimal
    in_range: bool = Field(..., description="Within the recommendation (≤ 20 °C, RH < 60 %)")
    corrective_action_id: int | None
    message: str


class CleaningOut(Schema):
    id: int
    room_id: int
    control_id: int | None
    area: str
    kind: str
    agent: str
    performed_at: dt.datetime
    performed_by: str
    note: str


class ActionOut(Schema):
    id: int
    source: str
    source_label: str
    room_id: int | None
    room: str
    control_id: int | None
    control: str
    problem: str
    opened_at: dt.datetime
    opened_by: str
    open: bool
    action_taken: str
    closed_at: dt.datetime | None
    closed_by: str


class CleanroomDueOut(Schema):
    last: dt.date | None
    due_on: dt.date | None
    state: str = Field(..., description="never, overdue, due today, due soon, current, failed")
    late: bool
    words: str


class CertStateOut(Schema):
    last_id: int | None
    due: CleanroomDueOut


class ControlBoardOut(Schema):
    control: ControlOut
    certification: CertStateOut


class RoomBoardOut(Schema):
    room: RoomOut
    certification: CertStateOut | None = Field(..., description="None: not classified")
    pressure_requirement: str | None
    pressure: PressureOut | None = Field(..., description="Latest today")
    conditions_needed: bool
    conditions: ConditionsOut | None = Field(..., description="Latest today")
    controls: list[ControlBoardOut]


class SamplingOut(Schema):
    room_id: int
    control_id: int | None
    target: str
    kind: str
    every: str
    due: CleanroomDueOut


class CleaningCellOut(Schema):
    kind: str
    every: str
    due: CleanroomDueOut


class CleaningRowOut(Schema):
    room_id: int
    control_id: int | None
    area: str
    area_label: str
    cells: list[CleaningCellOut]


class CleanroomBoardOut(Schema):
    today: dt.date
    category_3: bool
    strictest: str
    compounding_today: bool
    rooms: list[RoomBoardOut]
    sampling: list[SamplingOut]
    cleaning: list[CleaningRowOut]
    actions: list[ActionOut]
    late: list[str] = Field(..., description="What is overdue or missing, in words")


# --- Serializers ------------------------------------------------------------------------


def _room(r: Room) -> dict[str, Any]:
    return {
        "id": r.pk,
        "name": r.name,
        "kind": r.kind,
        "kind_label": r.get_kind_display(),
        "iso_class": r.iso_class,
        "iso_label": rules.iso_words(r.iso_class),
        "pressure": r.pressure,
        "hazardous": r.hazardous,
        "active": r.active,
    }


def _control(c: EngineeringControl) -> dict[str, Any]:
    return {
        "id": c.pk,
        "room_id": c.room_id,
        "room": c.room.name,
        "name": c.name,
        "kind": c.kind,
        "kind_label": c.get_kind_display(),
        "iso_class": c.iso_class,
        "hazardous": c.hazardous,
        "serial_number": c.serial_number,
        "active": c.active,
    }


def _certification(c: Certification, action: CorrectiveAction | None) -> dict[str, Any]:
    return {
        "id": c.pk,
        "room_id": c.room_id,
        "control_id": c.control_id,
        "certified_on": c.certified_on,
        "due_on": c.due_on,
        "passed": c.passed,
        "certifier": c.certifier,
        "report_reference": c.report_reference,
        "note": c.note,
        "corrective_action_id": action.pk if action else None,
    }


def _sample(s: EnvironmentalSample) -> dict[str, Any]:
    return {
        "id": s.pk,
        "kind": s.kind,
        "room_id": s.room_id,
        "control_id": s.control_id,
        "location": s.location,
        "iso_class": s.iso_class,
        "sampled_at": s.sampled_at,
        "cfu": s.cfu,
        "air_volume_liters": s.air_volume_liters,
        "cfu_measure": s.cfu_measure,
        "unit": rules.UNIT[s.kind],
        "action_level": s.action_level,
        "excursion": s.excursion,
        "organism": s.organism,
        "highly_pathogenic": s.highly_pathogenic,
        "corrective_action_id": s.corrective_action_id,
        "note": s.note,
        "message": services.describe_sample(s),
    }


def _pressure(p: PressureReading) -> dict[str, Any]:
    rule = rules.pressure_rule(p.room.pressure)
    return {
        "id": p.pk,
        "room_id": p.room_id,
        "reference": p.reference,
        "inches_wc": p.inches_wc,
        "read_at": p.read_at,
        "in_range": p.in_range,
        "requirement": rule.words if rule else "no pressure requirement",
        "corrective_action_id": p.corrective_action_id,
        "message": services.describe_reading(p),
    }


def _conditions(c: RoomConditions) -> dict[str, Any]:
    return {
        "id": c.pk,
        "room_id": c.room_id,
        "read_at": c.read_at,
        "temperature_c": c.temperature_c,
        "humidity_pct": c.humidity_pct,
        "in_range": c.in_range,
        "corrective_action_id": c.corrective_action_id,
        "message": services.describe_reading(c),
    }


def _cleaning(c: CleaningLog) -> dict[str, Any]:
    return {
        "id": c.pk,
        "room_id": c.room_id,
        "control_id": c.control_id,
        "area": c.area,
        "kind": c.kind,
        "agent": c.agent,
        "performed_at": c.performed_at,
        "performed_by": c.performed_by_name,
        "note": c.note,
    }


def _action(a: CorrectiveAction) -> dict[str, Any]:
    return {
        "id": a.pk,
        "source": a.source,
        "source_label": a.get_source_display(),
        "room_id": a.room_id,
        "room": a.room.name if a.room else "",
        "control_id": a.control_id,
        "control": a.control.name if a.control else "",
        "problem": a.problem,
        "opened_at": a.opened_at,
        "opened_by": a.opened_by.display_name if a.opened_by else "system",
        "open": a.closed_at is None,
        "action_taken": a.action_taken,
        "closed_at": a.closed_at,
        "closed_by": a.closed_by.display_name if a.closed_by else "",
    }


def _due(d: rules.Due) -> dict[str, Any]:
    return {
        "last": d.last,
        "due_on": d.due_on,
        "state": d.state,
        "late": d.late,
        "words": d.words,
    }


def _cert_state(c: queries.CertificationState) -> dict[str, Any]:
    return {"last_id": c.last.pk if c.last else None, "due": _due(c.due)}


def _board(b: queries.Board) -> dict[str, Any]:
    return {
        "today": b.today,
        "category_3": b.category_3,
        "strictest": b.strictest,
        "compounding_today": b.compounding_today,
        "rooms": [
            {
                "room": _room(r.room),
                "certification": _cert_state(r.certification) if r.certification else None,
                "pressure_requirement": r.pressure_rule.words if r.pressure_rule else None,
                "pressure": _pressure(r.pressure) if r.pressure else None,
                "conditions_needed": r.conditions_needed,
                "conditions": _conditions(r.conditions) if r.conditions else None,
                "controls": [
                    {"control": _control(c.control), "certification": _cert_state(c.certification)}
                    for c in r.controls
                ],
            }
            for r in b.rooms
        ],
        "sampling": [
            {
                "room_id": s.room.pk,
                "control_id": s.control.pk if s.control else None,
                "target": s.target,
                "kind": s.kind,
                "every": s.every.words,
                "due": _due(s.due),
            }
            for s in b.sampling
        ],
        "cleaning": [
            {
                "room_id": c.room.pk,
                "control_id": c.control.pk if c.control else None,
                "area": c.area,
                "area_label": c.area_label,
                "cells": [
                    {"kind": cell.kind, "every": cell.every.words, "due": _due(cell.due)}
                    for cell in c.cells
                ],
            }
            for c in b.cleaning
        ],
        "actions": [_action(a) for a in b.actions],
        "late": b.late,
    }


def _room_of(request: HttpRequest, room_id: int | None) -> Room | None:
    if room_id is None:
        return None
    return queries.room_get(actor=user_of(request), room_id=room_id)


def _control_of(request: HttpRequest, control_id: int | None) -> EngineeringControl | None:
    if control_id is None:
        return None
    return queries.control_get(actor=user_of(request), control_id=control_id)


# --- Operations -------------------------------------------------------------------------

VIEW = gate(Cap.COMPOUNDING_VIEW)
FACILITY = gate(Cap.COMPOUNDING_FACILITY)
MONITOR = gate(Cap.COMPOUNDING_MONITOR)
CORRECT = gate(Cap.COMPOUNDING_CORRECT)


@router.get(
    P,
    response=CleanroomBoardOut,
    auth=VIEW,
    summary="The cleanroom board: certifications, today's readings, sampling and cleaning due",
)
def cleanroom_board(request: HttpRequest) -> Any:
    return _board(queries.board(actor=user_of(request)))


@router.post(
    f"{P}/rooms",
    response={201: RoomOut},
    auth=FACILITY,
    summary="Add a room or area (pharmacist-in-charge)",
    description="422 when the ISO class or pressure does not agree with the kind of room.",
)
def room_create(request: HttpRequest, payload: RoomIn) -> Any:
    room = services.room_create(actor=user_of(request), **payload.dict())
    return Status(201, _room(room))


@router.patch(
    f"{P}/rooms/{{int:room_id}}",
    response=RoomOut,
    auth=FACILITY,
    summary="Change a room (fields left out stay as they are)",
)
def room_update(request: HttpRequest, room_id: int, payload: RoomPatch) -> Any:
    actor = user_of(request)
    room = queries.room_get(actor=actor, room_id=room_id)
    changes = payload.dict(exclude_unset=True)
    return _room(services.room_update(actor=actor, room=room, **changes))


@router.post(
    f"{P}/controls",
    response={201: ControlOut},
    auth=FACILITY,
    summary="Add a primary engineering control to a room (pharmacist-in-charge)",
)
def control_create(request: HttpRequest, payload: ControlIn) -> Any:
    actor = user_of(request)
    values = payload.dict()
    room = queries.room_get(actor=actor, room_id=values.pop("room_id"))
    return Status(201, _control(services.control_create(actor=actor, room=room, **values)))


@router.patch(
    f"{P}/controls/{{int:control_id}}",
    response=ControlOut,
    auth=FACILITY,
    summary="Change or move a primary engineering control",
)
def control_update(request: HttpRequest, control_id: int, payload: ControlPatch) -> Any:
    actor = user_of(request)
    control = queries.control_get(actor=actor, control_id=control_id)
    changes = payload.dict(exclude_unset=True)
    room = _room_of(request, changes.pop("room_id", None))
    done = services.control_update(actor=actor, control=control, room=room, **changes)
    return _control(done)


@router.post(
    f"{P}/certifications",
    response={201: CertificationOut},
    auth=FACILITY,
    summary="Record a room's or PEC's certification (next due in 6 months)",
    description="A failed certification opens a corrective action (corrective_action_id).",
)
def certification_record(request: HttpRequest, payload: CertificationIn) -> Any:
    values = payload.dict()
    made = services.certification_record(
        actor=user_of(request),
        room=_room_of(request, values.pop("room_id")),
        control=_control_of(request, values.pop("control_id")),
        **values,
    )
    return Status(201, _certification(made.certification, made.action))


@router.get(
    f"{P}/samples",
    response=list[SampleOut],
    auth=VIEW,
    summary="Environmental samples of a period, newest first",
)
def samples_list(request: HttpRequest, q: Query[HistoryQuery]) -> Any:
    _, rows = queries.samples(
        actor=user_of(request),
        start=q.start,
        end=q.end,
        room_id=q.room_id,
        kind=q.kind,
        excursions_only=q.excursions_only,
    )
    return [_sample(s) for s in rows]


@router.post(
    f"{P}/samples",
    response={201: SampleOut},
    auth=MONITOR,
    summary="Record a viable air or surface sample's count",
    description="An excursion (above the action level, or a highly pathogenic organism at "
    "any count) opens a corrective action: excursion and corrective_action_id say so.",
)
def sample_record(request: HttpRequest, payload: SampleIn) -> Any:
    values = payload.dict()
    sample = services.sample_record(
        actor=user_of(request),
        room=_room_of(request, values.pop("room_id")),
        control=_control_of(request, values.pop("control_id")),
        **values,
    )
    return Status(201, _sample(sample))


@router.post(
    f"{P}/pressures",
    response={201: PressureOut},
    auth=MONITOR,
    summary="Record a room's pressure differential",
    description="Out of the room's range opens a corrective action (in_range false).",
)
def pressure_record(request: HttpRequest, payload: PressureIn) -> Any:
    values = payload.dict()
    reading = services.pressure_record(
        actor=user_of(request),
        room=queries.room_get(actor=user_of(request), room_id=values.pop("room_id")),
        **values,
    )
    return Status(201, _pressure(reading))


@router.post(
    f"{P}/conditions",
    response={201: ConditionsOut},
    auth=MONITOR,
    summary="Record a room's temperature and relative humidity",
)
def conditions_record(request: HttpRequest, payload: ConditionsIn) -> Any:
    values = payload.dict()
    reading = services.conditions_record(
        actor=user_of(request),
        room=queries.room_get(actor=user_of(request), room_id=values.pop("room_id")),
        **values,
    )
    return Status(201, _conditions(reading))


@router.post(
    f"{P}/cleaning",
    response={201: CleaningOut},
    auth=MONITOR,
    summary="Record cleaning, disinfecting or sporicidal work",
)
def cleaning_record(request: HttpRequest, payload: CleaningIn) -> Any:
    values = payload.dict()
    log = services.cleaning_record(
        actor=user_of(request),
        room=queries.room_get(actor=user_of(request), room_id=values.pop("room_id")),
        control=_control_of(request, values.pop("control_id")),
        **values,
    )
    return Status(201, _cleaning(log))


@router.get(
    f"{P}/actions",
    response=list[ActionOut],
    auth=VIEW,
    summary="Corrective actions, open ones first",
)
def actions_list(request: HttpRequest, q: Query[ActionsQuery]) -> Any:
    return [_action(a) for a in queries.actions(actor=user_of(request), open_only=q.open_only)]


@router.post(
    f"{P}/actions",
    response={201: ActionOut},
    auth=CORRECT,
    summary="Open a corrective action by hand (pharmacist)",
)
def action_open(request: HttpRequest, payload: ActionOpenIn) -> Any:
    values = payload.dict()
    action = services.action_open(
        actor=user_of(request),
        room=_room_of(request, values.pop("room_id")),
        control=_control_of(request, values.pop("control_id")),
        **values,
    )
    return Status(201, _action(action))


@router.post(
    f"{P}/actions/{{int:action_id}}/close",
    response=ActionOut,
    auth=CORRECT,
    summary="Close a corrective action with what was done (pharmacist)",
    description="A sample's excursion needs its resample noted. 409 when already closed.",
)
def action_close(request: HttpRequest, action_id: int, payload: ActionCloseIn) -> Any:
    actor = user_of(request)
    action = queries.action_get(actor=actor, action_id=action_id)
    done = services.action_close(actor=actor, action=action, **payload.dict())
    return _action(queries.action_get(actor=actor, action_id=done.pk))
