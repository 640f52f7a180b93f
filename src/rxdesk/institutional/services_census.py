"""Long-term care: facilities, their units and medication pass times, residents and their
census, the administration times of each resident's orders, and the MAR's PHI access.

Census is a small state machine on the resident row (the events keep the history):

    admitted → discharge | leave | room move
    on leave → return | discharge
    discharged → readmit (the same resident row, back to admitted)

Each census change is written with its event and, in the same transaction, handed to the
cycle fills (rxdesk.institutional.services_cycles.census_changed), which stop what is
pending on a discharge or a leave and queue the short fills on a return or readmission —
so a census change and its effect on the fills commit together or not at all.

A patient lives in at most one facility at a time (the database's one-current-stay
constraint); a refused admission or readmission says where the patient is now."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from rxdesk.core.audit import audit_record, diff, register_actions
from rxdesk.core.capabilities import Cap
from rxdesk.core.errors import Conflict, Forbidden, Invalid, NotFound
from rxdesk.core.models import Site, User
from rxdesk.core.services import authorize
from rxdesk.core.validators import normalize_phone
from rxdesk.institutional import schedule
from rxdesk.institutional.choices import CensusKind, FacilityKind, ResidentStatus, Slot
from rxdesk.institutional.models import (
    CensusEvent,
    Facility,
    OrderSchedule,
    PassTime,
    Resident,
    Unit,
)
from rxdesk.patients.models import Patient
from rxdesk.rx.choices import RxStatus
from rxdesk.rx.models import Prescription

register_actions(
    {
        "institutional.facility.created": "LTC facility added",
        "institutional.facility.updated": "LTC facility changed",
        "institutional.pass_times.set": "LTC facility medication pass times set",
        "institutional.unit.created": "LTC facility unit added",
        "institutional.unit.updated": "LTC facility unit changed",
        "institutional.resident.admitted": "Resident admitted to an LTC facility",
        "institutional.census.recorded": "Resident census change recorded",
        "institutional.schedule.set": "Administration times of a resident's order set",
        "institutional.mar.printed": "Medication administration record opened or printed (PHI)",
    }
)

CODE_MAX, FACILITY_NAME_MAX, ADDRESS_MAX = 20, 120, 200
UNIT_NAME_MAX, ROOM_MAX, BED_MAX, NOTE_MAX, LABEL_MAX = 80, 10, 4, 300, 30
MAX_PASS_TIMES = 12
# A census change is recorded as it happens or after; a few minutes ahead is a
# workstation's clock drifting, more is a typing error.
FUTURE_SLACK = dt.timedelta(minutes=5)
DOSE_LIMIT = Decimal("100000")  # DecimalField(8, 3)

# kind → the statuses it may be recorded from
ALLOWED_FROM: dict[str, frozenset[str]] = {
    CensusKind.DISCHARGE: frozenset({ResidentStatus.ADMITTED, ResidentStatus.LEAVE}),
    CensusKind.LEAVE: frozenset({ResidentStatus.ADMITTED}),
    CensusKind.ROOM_MOVE: frozenset({ResidentStatus.ADMITTED}),
    CensusKind.RETURN: frozenset({ResidentStatus.LEAVE}),
    CensusKind.READMIT: frozenset({ResidentStatus.DISCHARGED}),
}
STATUS_AFTER: dict[str, str] = {
    CensusKind.DISCHARGE: ResidentStatus.DISCHARGED,
    CensusKind.LEAVE: ResidentStatus.LEAVE,
    CensusKind.ROOM_MOVE: ResidentStatus.ADMITTED,
    CensusKind.RETURN: ResidentStatus.ADMITTED,
    CensusKind.READMIT: ResidentStatus.ADMITTED,
}


# --- Helpers ----------------------------------------------------------------------------------


def _signed_in(actor: User | None) -> User:
    if actor is None:
        raise Forbidden("Sign in: census and facility records name who recorded them.")
    return actor


def _text(value: Any, *, field: str, limit: int, required: bool = False, what: str = "") -> str:
    text = " ".join(str(value if value is not None else "").split())
    if required and not text:
        raise Invalid(f"Enter {what or field.replace('_', ' ')}.", field=field)
    if len(text) > limit:
        raise Invalid(f"Keep it to {limit} characters.", field=field)
    return text


def _code(value: Any, *, field: str = "code", limit: int = CODE_MAX) -> str:
    code = _text(value, field=field, limit=limit, required=True, what="a short code").upper()
    if not all(ch.isalnum() or ch in "-_." for ch in code):
        raise Invalid("Use letters, digits, - _ or . only.", field=field)
    return code


def _facility_of(site: Site, facility: Facility) -> Facility:
    found = Facility.objects.filter(pk=getattr(facility, "pk", 0) or 0, site=site).first()
    if found is None:
        raise NotFound("No such facility at this pharmacy.", field="facility")
    return found


def _resident_of(site: Site, resident: Resident) -> Resident:
    found = (
        Resident.objects.select_for_update(of=("self",))
        .select_related("facility", "unit", "patient")
        .filter(pk=getattr(resident, "pk", 0) or 0, site=site)
        .first()
    )
    if found is None:
        raise NotFound("No such resident at this pharmacy.", field="resident")
    return found


def _local(site: Site, when: dt.datetime) -> str:
    return f"{when.astimezone(site.tz):%m/%d/%Y %H:%M}"


def _when(site: Site, value: dt.datetime | None, *, field: str) -> dt.datetime:
    now = timezone.now()
    if value is None:
        return now.replace(microsecond=0)
    if not isinstance(value, dt.datetime):
        raise Invalid("Give the date and time.", field=field)
    if value.tzinfo is None or value.utcoffset() is None:
        raise Invalid("Give the time with its time-zone offset.", field=field)
    if value > now + FUTURE_SLACK:
        raise Invalid(
            f"{_local(site, value)} has not come yet: record a census change when it happens.",
            field=field,
        )
    return value


def _unit_of(facility: Facility, unit: Unit | None, *, field: str) -> Unit | None:
    if unit is None:
        return None
    if getattr(unit, "facility_id", None) != facility.pk:
        raise Invalid(f"That unit is not one of {facility.name}'s.", field=field)
    if not unit.active:
        raise Invalid(f"Unit {unit.code} is closed.", field=field)
    return unit


def _her(patient: Patient) -> str:
    return {"F": "her", "M": "his"}.get(patient.sex, "their")


def _stay_words(stay: Resident) -> str:
    where = f"{stay.facility.name}"
    if stay.room:
        where += f" (room {stay.room})"
    if stay.status == ResidentStatus.LEAVE:
        return f"a resident of {where}, on leave of absence"
    return f"a resident of {where}"


def _current_stay(patient: Patient, *, other_than: int | None = None) -> Resident | None:
    qs = (
        Resident.objects.select_related("facility")
        .filter(patient=patient)
        .exclude(status=ResidentStatus.DISCHARGED)
    )
    if other_than is not None:
        qs = qs.exclude(pk=other_than)
    return qs.first()


def _elsewhere(patient: Patient, stay: Resident) -> Conflict:
    return Conflict(
        f"{patient.full_name} is {_stay_words(stay)}: record the discharge there first.",
        field="patient",
        resident_id=stay.pk,
    )


def _census_changed(event: CensusEvent, actor: User) -> None:
    # The cycle fills react in the same transaction (part A2 of the institutional issue).
    from rxdesk.institutional.services_cycles import census_changed

    census_changed(event=event, actor=actor)


# --- Facilities -------------------------------------------------------------------------------

FACILITY_FIELDS = ["code", "name", "kind", "address", "phone", "active"]


def facility_save(
    *,
    actor: User | None,
    facility: Facility | None = None,
    code: str,
    name: str,
    kind: str,
    address: str = "",
    phone: str = "",
    active: bool = True,
) -> Facility:
    """Add a long-term-care facility (``facility`` None) or change one of this pharmacy's."""
    authorize(actor, Cap.LTC_SETUP)
    actor = _signed_in(actor)
    site = actor.site
    values: dict[str, Any] = {
        "code": _code(code),
        "name": _text(name, field="name", limit=FACILITY_NAME_MAX, required=True, what="a name"),
        "kind": str(kind or ""),
        "address": _text(address, field="address", limit=ADDRESS_MAX),
        "phone": normalize_phone(str(phone or "")),
        "active": bool(active),
    }
    if values["kind"] not in FacilityKind.values:
        raise Invalid(
            "Choose the kind: " + ", ".join(str(label) for label in FacilityKind.labels) + ".",
            field="kind",
        )
    if phone and len(values["phone"]) != 10:
        raise Invalid(
            "A phone number is 10 digits with the area code, like 309-555-0100.", field="phone"
        )
    with transaction.atomic():
        before: dict[str, Any] = {}
        if facility is not None:
            facility = _facility_of(site, facility)
            before = {f: getattr(facility, f) for f in FACILITY_FIELDS}
            if not values["active"] and facility.active:
                present = facility.residents.exclude(status=ResidentStatus.DISCHARGED).count()
                if present:
                    raise Conflict(
                        f"{facility.name} still has {present} resident(s): discharge them "
                        "before closing it.",
                        field="active",
                    )
        taken = Facility.objects.filter(site=site, code=values["code"])
        if facility is not None:
            taken = taken.exclude(pk=facility.pk)
        if taken.exists():
            raise Conflict(f"Another facility has the code {values['code']}.", field="code")
        if facility is None:
            try:
                with transaction.atomic():
                    facility = Facility.objects.create(site=site, **values)
            except IntegrityError:
                raise Conflict(
                    f"Another facility has the code {values['code']}.", field="code"
                ) from None
            audit_record(
                actor=actor,
                action="institutional.facility.created",
                obj=facility,
                data={"after": values},
            )
            return facility
        changes = diff(before, values)
        if not changes:
            return facility
        for name_, value in values.items():
            setattr(facility, name_, value)
        facility.save(update_fields=list(changes))
        audit_record(
            actor=actor,
            action="institutional.facility.updated",
            obj=facility,
            data={"changes": changes},
        )
    return facility


def unit_save(
    *,
    actor: User | None,
    facility: Facility,
    unit: Unit | None = None,
    code: str,
    name: str,
    active: bool = True,
) -> Unit:
    """Add a unit (wing) to a facility, or change one of its units."""
    authorize(actor, Cap.LTC_SETUP)
    actor = _signed_in(actor)
    site = actor.site
    values: dict[str, Any] = {
        "code": _code(code),
        "name": _text(name, field="name", limit=UNIT_NAME_MAX, required=True, what="a name"),
        "active": bool(active),
    }
    with transaction.atomic():
        facility = _facility_of(site, facility)
        before: dict[str, Any] = {}
        if unit is not None:
            found = Unit.objects.filter(pk=getattr(unit, "pk", 0) or 0, facility=facility).first()
            if found is None:
                raise NotFound(f"No such unit at {facility.name}.", field="unit")
            unit = found
            before = {f: getattr(unit, f) for f in values}
            if not values["active"] and unit.active:
                present = unit.residents.exclude(status=ResidentStatus.DISCHARGED).count()
                if present:
                    raise Conflict(
                        f"Unit {unit.code} still has {present} resident(s): move them first.",
                        field="active",
                    )
        taken = Unit.objects.filter(facility=facility, code=values["code"])
        if unit is not None:
            taken = taken.exclude(pk=unit.pk)
        if taken.exists():
            raise Conflict(f"{facility.name} already has a unit {values['code']}.", field="code")
        if unit is None:
            try:
                with transaction.atomic():
                    unit = Unit.objects.create(facility=facility, **values)
            except IntegrityError:
                raise Conflict(
                    f"{facility.name} already has a unit {values['code']}.", field="code"
                ) from None
            audit_record(
                actor=actor,
                action="institutional.unit.created",
                obj=unit,
                data={"facility": facility.code, "after": values},
            )
            return unit
        changes = diff(before, values)
        if not changes:
            return unit
        for name_, value in values.items():
            setattr(unit, name_, value)
        unit.save(update_fields=list(changes))
        audit_record(
            actor=actor,
            action="institutional.unit.updated",
            obj=unit,
            data={"facility": facility.code, "changes": changes},
        )
    return unit


def pass_times_set(
    *, actor: User | None, facility: Facility, times: Sequence[Mapping[str, Any]]
) -> list[PassTime]:
    """Replace the facility's medication pass times with ``times`` (each ``{"time": "HH:MM",
    "slot": "morning", "label": ""}``). At least one; no time twice; a time that residents'
    orders are given at may not be dropped (change those orders first)."""
    authorize(actor, Cap.LTC_SETUP)
    actor = _signed_in(actor)
    site = actor.site
    if not isinstance(times, Sequence) or isinstance(times, str | bytes):
        raise Invalid("Give the pass times as a list.", field="times")
    if not times:
        raise Invalid("A facility has at least one medication pass time.", field="times")
    if len(times) > MAX_PASS_TIMES:
        raise Invalid(f"At most {MAX_PASS_TIMES} pass times.", field="times")
    wanted: list[tuple[dt.time, str, str]] = []
    seen: dict[dt.time, int] = {}
    for n, entry in enumerate(times):
        if not isinstance(entry, Mapping):
            raise Invalid("Give the time, the slot and a label.", field=f"times[{n}]")
        when = schedule.parse_clock(str(entry.get("time") or ""))
        if when is None:
            raise Invalid("Type the time as HH:MM (24-hour), like 08:00.", field=f"times[{n}].time")
        if when in seen:
            raise Invalid(
                f"{schedule.clock(when)} is already pass time {seen[when] + 1}.",
                field=f"times[{n}].time",
            )
        seen[when] = n
        slot = str(entry.get("slot") or "")
        if slot not in Slot.values:
            raise Invalid("Choose morning, noon, evening or bedtime.", field=f"times[{n}].slot")
        label = _text(entry.get("label"), field=f"times[{n}].label", limit=LABEL_MAX)
        wanted.append((when, slot, label))
    wanted.sort()
    with transaction.atomic():
        facility = _facility_of(site, facility)
        before = [
            {"time": schedule.clock(p.time), "slot": p.slot, "label": p.label}
            for p in facility.pass_times.order_by("time")
        ]
        kept = {schedule.clock(w) for w, _, _ in wanted}
        in_use: dict[str, int] = {}
        schedules = OrderSchedule.objects.filter(resident__facility=facility).exclude(
            resident__status=ResidentStatus.DISCHARGED
        )
        for times_used in schedules.values_list("times", flat=True):
            for t in times_used or []:
                if t not in kept:
                    in_use[t] = in_use.get(t, 0) + 1
        if in_use:
            first = sorted(in_use)[0]
            raise Conflict(
                f"{first} is the time of {in_use[first]} resident order(s): give those orders "
                "other times before dropping it.",
                field="times",
            )
        facility.pass_times.all().delete()
        PassTime.objects.bulk_create(
            [PassTime(facility=facility, time=w, slot=s, label=lab) for w, s, lab in wanted]
        )
        after = [{"time": schedule.clock(w), "slot": s, "label": lab} for w, s, lab in wanted]
        audit_record(
            actor=actor,
            action="institutional.pass_times.set",
            obj=facility,
            data={"before": before, "after": after},
        )
    return list(facility.pass_times.order_by("time"))


# --- Residents and census ---------------------------------------------------------------------


def resident_admit(
    *,
    actor: User | None,
    facility: Facility,
    patient: Patient,
    unit: Unit | None = None,
    room: str,
    bed: str = "",
    admitted_at: dt.datetime | None = None,
) -> Resident:
    """Admit one of this pharmacy's patients to a facility: the resident row and its ADMIT
    census event. A patient living in another facility (or already here) is refused,
    saying where; one discharged from this facility is readmitted instead."""
    authorize(actor, Cap.LTC_CENSUS)
    actor = _signed_in(actor)
    site = actor.site
    if patient is None or patient.site_id != site.pk:
        raise NotFound("No such patient at this pharmacy.", field="patient")
    room_ = _text(room, field="room", limit=ROOM_MAX, required=True, what="the room")
    bed_ = _text(bed, field="bed", limit=BED_MAX)
    when = _when(site, admitted_at, field="admitted_at")
    with transaction.atomic():
        facility = _facility_of(site, facility)
        if not facility.active:
            raise Invalid(f"{facility.name} is closed: it takes no admissions.", field="facility")
        unit = _unit_of(facility, unit, field="unit")
        if patient.status != "active":
            raise Invalid(
                f"{patient.full_name}'s record is {patient.get_status_display().lower()}.",
                field="patient",
            )
        stay = _current_stay(patient)
        if stay is not None:
            raise _elsewhere(patient, stay)
        earlier = (
            Resident.objects.filter(patient=patient, facility=facility)
            .order_by("-discharged_on", "-pk")
            .first()
        )
        if earlier is not None:
            raise Conflict(
                f"{patient.full_name} was discharged from {facility.name}"
                + (f" on {earlier.discharged_on:%m/%d/%Y}" if earlier.discharged_on else "")
                + ": record a readmission on the resident's page instead.",
                field="patient",
                resident_id=earlier.pk,
            )
        day = when.astimezone(site.tz).date()
        try:
            with transaction.atomic():
                resident = Resident.objects.create(
                    site=site,
                    facility=facility,
                    unit=unit,
                    patient=patient,
                    room=room_,
                    bed=bed_,
                    status=ResidentStatus.ADMITTED,
                    admitted_on=day,
                    updated_at=timezone.now(),
                )
        except IntegrityError:
            # Another workstation admitted the patient a moment ago.
            stay = _current_stay(patient)
            if stay is None:
                raise
            raise _elsewhere(patient, stay) from None
        CensusEvent.objects.create(
            resident=resident,
            kind=CensusKind.ADMIT,
            effective_at=when,
            to_unit=unit,
            to_room=room_,
            recorded_by=actor,
        )
        audit_record(
            actor=actor,
            action="institutional.resident.admitted",
            obj=resident,
            patient_id=patient.pk,
            data={
                "facility": facility.code,
                "unit": unit.code if unit else "",
                "room": room_,
                "bed": bed_,
                "admitted_at": when.isoformat(),
            },
        )
    return resident


def _refusal(resident: Resident, kind: str) -> Conflict:
    p = resident.patient
    name, her = p.full_name, _her(p)
    status = resident.status
    if kind == CensusKind.ADMIT:
        message = f"{name} is already a resident here: a resident who was discharged is readmitted."
    elif status == ResidentStatus.LEAVE:
        message = f"{name} is on leave of absence: record {her} return first."
    elif status == ResidentStatus.DISCHARGED:
        left = f" on {resident.discharged_on:%m/%d/%Y}" if resident.discharged_on else ""
        message = f"{name} was discharged{left}: record a readmission first."
    elif kind == CensusKind.RETURN:
        message = f"{name} is in the facility, not on leave: there is no return to record."
    else:  # READMIT while admitted
        message = f"{name} is in the facility: a readmission follows a discharge."
    return Conflict(message, field="kind")


def census_record(
    *,
    actor: User | None,
    resident: Resident,
    kind: str,
    effective_at: dt.datetime | None = None,
    to_unit: Unit | None = None,
    to_room: str = "",
    expected_return: dt.date | None = None,
    note: str = "",
) -> CensusEvent:
    """Record a census change of a resident (discharge, leave of absence, return, readmit,
    room or unit move) and hand it to the cycle fills in the same transaction."""
    authorize(actor, Cap.LTC_CENSUS)
    actor = _signed_in(actor)
    site = actor.site
    kind = str(kind or "")
    if kind not in CensusKind.values:
        raise Invalid("Choose discharge, leave, return, readmit or room move.", field="kind")
    room_ = _text(to_room, field="to_room", limit=ROOM_MAX)
    note_ = _text(note, field="note", limit=NOTE_MAX)
    when = _when(site, effective_at, field="effective_at")
    if expected_return is not None and not isinstance(expected_return, dt.date):
        raise Invalid("Give the expected return as a date.", field="expected_return")
    with transaction.atomic():
        resident = _resident_of(site, resident)
        if kind == CensusKind.ADMIT or resident.status not in ALLOWED_FROM[kind]:
            raise _refusal(resident, kind)
        last = resident.census.order_by("-effective_at", "-id").first()
        if last is not None and when < last.effective_at:
            raise Invalid(
                f"The last census change ({last.get_kind_display().lower()}) was on "
                f"{_local(site, last.effective_at)}: this one comes after it.",
                field="effective_at",
            )
        day = when.astimezone(site.tz).date()
        facility = resident.facility
        unit = _unit_of(facility, to_unit, field="to_unit")
        from_unit, from_room = resident.unit, resident.room
        new_unit, new_room = resident.unit, resident.room
        if kind == CensusKind.LEAVE:
            if expected_return is not None and expected_return < day:
                raise Invalid(
                    "The expected return is before the leave starts.", field="expected_return"
                )
        elif expected_return is not None:
            raise Invalid(
                "Only a leave of absence has an expected return.", field="expected_return"
            )
        if kind in (CensusKind.ROOM_MOVE, CensusKind.RETURN, CensusKind.READMIT):
            new_unit = unit or resident.unit
            new_room = room_ or resident.room
        elif unit is not None or room_:
            raise Invalid(
                "A discharge or a leave keeps the room: record a room move when it changes.",
                field="to_room" if room_ else "to_unit",
            )
        if kind == CensusKind.ROOM_MOVE and (new_unit, new_room) == (from_unit, from_room):
            raise Invalid(
                f"{resident.patient.full_name} is already in room {from_room}: give the new "
                "room or unit.",
                field="to_room",
            )
        if kind == CensusKind.READMIT:
            stay = _current_stay(resident.patient, other_than=resident.pk)
            if stay is not None:
                raise _elsewhere(resident.patient, stay)
            if not facility.active:
                raise Invalid(f"{facility.name} is closed: it takes no admissions.", field="kind")
        resident.status = STATUS_AFTER[kind]
        resident.unit, resident.room = new_unit, new_room
        if kind == CensusKind.DISCHARGE:
            resident.discharged_on = day
        elif kind == CensusKind.READMIT:
            resident.discharged_on = None
        resident.updated_at = timezone.now()
        try:
            with transaction.atomic():
                resident.save(
                    update_fields=["status", "unit", "room", "discharged_on", "updated_at"]
                )
        except IntegrityError:
            stay = _current_stay(resident.patient, other_than=resident.pk)
            if stay is None:
                raise
            raise _elsewhere(resident.patient, stay) from None
        moved = (new_unit, new_room) != (from_unit, from_room)
        event = CensusEvent.objects.create(
            resident=resident,
            kind=kind,
            effective_at=when,
            from_unit=from_unit if moved else None,
            to_unit=new_unit if moved else None,
            from_room=from_room if moved else "",
            to_room=new_room if moved else "",
            expected_return=expected_return,
            note=note_,
            recorded_by=actor,
        )
        _census_changed(event, actor)
        audit_record(
            actor=actor,
            action="institutional.census.recorded",
            obj=event,
            patient_id=resident.patient_id,
            data={
                "resident": resident.pk,
                "kind": kind,
                "effective_at": when.isoformat(),
                "status": resident.status,
                "unit": [from_unit.code if from_unit else "", new_unit.code if new_unit else ""]
                if moved
                else None,
                "room": [from_room, new_room] if moved else None,
                "expected_return": expected_return.isoformat() if expected_return else None,
            },
        )
    return event


# --- Administration times of an order ---------------------------------------------------------

SCHEDULE_FIELDS = ["times", "dose", "prn", "prn_max_per_day", "start_on", "stop_on"]


def _dose(value: Any, *, field: str) -> Decimal:
    if isinstance(value, float):
        value = repr(value)
    try:
        number = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise Invalid(f"{value!r} is not a number.", field=field) from None
    if not number.is_finite() or number <= 0:
        raise Invalid("It must be more than zero.", field=field)
    if number >= DOSE_LIMIT:
        raise Invalid("That is too large.", field=field)
    if number != number.quantize(Decimal("0.001")):
        raise Invalid("Use at most 3 decimal places.", field=field)
    return number.quantize(Decimal("0.001"))


def _snapshot(s: OrderSchedule) -> dict[str, Any]:
    return {
        "times": list(s.times or []),
        "dose": f"{Decimal(s.dose).normalize():f}",
        "prn": s.prn,
        "prn_max_per_day": f"{Decimal(s.prn_max_per_day).normalize():f}"
        if s.prn_max_per_day is not None
        else None,
        "start_on": s.start_on.isoformat() if s.start_on else None,
        "stop_on": s.stop_on.isoformat() if s.stop_on else None,
    }


def order_schedule_set(
    *,
    actor: User | None,
    resident: Resident,
    prescription: Prescription,
    times: Sequence[str],
    dose: Any,
    prn: bool = False,
    prn_max_per_day: Any = None,
    start_on: dt.date | None = None,
    stop_on: dt.date | None = None,
) -> OrderSchedule:
    """Set when a resident's order is given: the facility's pass times (``["08:00",
    "17:00"]``) and the dose at each, or as needed (PRN, no times, with its most per day).
    Creates the schedule or changes it."""
    authorize(actor, Cap.LTC_CENSUS)
    actor = _signed_in(actor)
    site = actor.site
    if isinstance(times, str | bytes) or not isinstance(times, Sequence):
        raise Invalid('Give the times as a list, like ["08:00", "17:00"].', field="times")
    amount = _dose(dose, field="dose")
    prn = bool(prn)
    most: Decimal | None = None
    if prn_max_per_day not in (None, ""):
        if not prn:
            raise Invalid(
                "Only an as-needed (PRN) order has a most per day.", field="prn_max_per_day"
            )
        most = _dose(prn_max_per_day, field="prn_max_per_day")
        if most < amount:
            raise Invalid("The most per day is less than one dose.", field="prn_max_per_day")
    if start_on is not None and not isinstance(start_on, dt.date):
        raise Invalid("Give the start as a date.", field="start_on")
    if stop_on is not None and not isinstance(stop_on, dt.date):
        raise Invalid("Give the stop as a date.", field="stop_on")
    with transaction.atomic():
        resident = _resident_of(site, resident)
        if prescription is None or prescription.site_id != site.pk:
            raise NotFound("No such prescription at this pharmacy.", field="prescription")
        patient = resident.patient
        if prescription.patient_id != patient.pk:
            raise Invalid(
                f"Rx {prescription.number} is not {patient.full_name}'s prescription.",
                field="prescription",
            )
        if prescription.status != RxStatus.ACTIVE:
            raise Invalid(
                f"Rx {prescription.number} is {prescription.get_status_display().lower()}: "
                "only an active prescription is given.",
                field="prescription",
            )
        if resident.status == ResidentStatus.DISCHARGED:
            raise Conflict(
                f"{patient.full_name} was discharged: record a readmission first.",
                field="resident",
            )
        offered = {
            schedule.clock(t) for t in resident.facility.pass_times.values_list("time", flat=True)
        }
        chosen: list[str] = []
        for n, raw in enumerate(times):
            when = schedule.parse_clock(str(raw)) if isinstance(raw, str) else None
            text = schedule.clock(when) if when is not None else ""
            if text not in offered:
                listed = ", ".join(sorted(offered)) or "none set"
                raise Invalid(
                    f"{str(raw)[:10]!r} is not one of {resident.facility.name}'s pass times "
                    f"({listed}).",
                    field=f"times[{n}]",
                )
            if text in chosen:
                raise Invalid(f"{text} is given twice.", field=f"times[{n}]")
            chosen.append(text)
        chosen.sort()
        if prn and chosen:
            raise Invalid(
                "An as-needed (PRN) order has no scheduled times: the nurse gives it when needed.",
                field="times",
            )
        if not prn and not chosen:
            raise Invalid(
                "Choose at least one pass time (or mark the order as needed).", field="times"
            )
        existing = (
            OrderSchedule.objects.select_for_update().filter(prescription=prescription).first()
        )
        start = start_on or (existing.start_on if existing else None) or site.today()
        if stop_on is not None and stop_on < start:
            raise Invalid(f"The stop date is before the start ({start:%m/%d/%Y}).", field="stop_on")
        values: dict[str, Any] = {
            "resident": resident,
            "times": chosen,
            "dose": amount,
            "prn": prn,
            "prn_max_per_day": most,
            "start_on": start,
            "stop_on": stop_on,
        }
        before = _snapshot(existing) if existing is not None else None
        if existing is None:
            row = OrderSchedule.objects.create(
                prescription=prescription, updated_by=actor, updated_at=timezone.now(), **values
            )
        else:
            row = existing
            for key, value in values.items():
                setattr(row, key, value)
            after_preview = _snapshot(row)
            if before == after_preview and existing.resident_id == resident.pk:
                return row
            row.updated_by = actor
            row.updated_at = timezone.now()
            row.save()
        audit_record(
            actor=actor,
            action="institutional.schedule.set",
            obj=row,
            patient_id=patient.pk,
            data={
                "prescription": prescription.number,
                "resident": resident.pk,
                "before": before,
                "after": _snapshot(row),
            },
        )
    return row


# --- The MAR: a PHI access --------------------------------------------------------------------


def mar_printed(*, actor: User | None, resident: Resident, month: dt.date, output: str) -> None:
    """Record that a resident's MAR was opened or printed (HIPAA access accounting)."""
    authorize(actor, Cap.LTC_VIEW)
    authorize(actor, Cap.PATIENT_VIEW)
    actor = _signed_in(actor)
    site = actor.site
    if resident is None or resident.site_id != site.pk:
        raise NotFound("No such resident at this pharmacy.", field="resident")
    with transaction.atomic():
        audit_record(
            actor=actor,
            action="institutional.mar.printed",
            obj=resident,
            patient_id=resident.patient_id,
            data={"month": f"{month:%Y-%m}", "format": output},
        )
