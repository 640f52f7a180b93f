"""Writes of the cleanroom: rooms and primary engineering controls (the pharmacist-in-charge
sets them up and records their certifications), the monitoring logs staff keep (viable air
and surface samples, pressure differentials, temperature and humidity, cleaning), and the
corrective actions an excursion opens and a pharmacist closes. The rules themselves are
pure (rxdesk.compounding.cleanroom); the reference is compounding-storage.md §2.

Every service checks the capability first, validates every input (each error names its
field) before writing, writes in one transaction and records one audit event last. Logs are
never edited: a wrong entry is corrected by a new one with a note. A reading may not be
dated in the future (five minutes' grace for clocks) and one more than seven days old needs
a note saying why it is entered late. A sample over its action level, a highly pathogenic
organism, a pressure out of range, a temperature or humidity outside the recommendation and
a failed certification each open a corrective action, linked to what opened it."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from rxdesk.compounding import cleanroom as rules
from rxdesk.compounding.choices import (
    ActionSource,
    CleaningArea,
    CleaningKind,
    PecKind,
    Pressure,
    RoomKind,
    SampleKind,
)
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
from rxdesk.core.audit import audit_record, register_actions
from rxdesk.core.capabilities import Cap
from rxdesk.core.errors import Conflict, Forbidden, Invalid, NotFound
from rxdesk.core.models import Site, User
from rxdesk.core.services import authorize

register_actions(
    {
        "compounding.room.created": "Compounding room added",
        "compounding.room.updated": "Compounding room changed",
        "compounding.pec.created": "Primary engineering control added",
        "compounding.pec.updated": "Primary engineering control changed",
        "compounding.certification.recorded": "Room or PEC certification recorded",
        "compounding.sample.recorded": "Environmental (air or surface) sample recorded",
        "compounding.pressure.recorded": "Pressure differential recorded",
        "compounding.conditions.recorded": "Room temperature and humidity recorded",
        "compounding.cleaning.recorded": "Cleaning, disinfecting or sporicidal work recorded",
        "compounding.action.opened": "Corrective action opened",
        "compounding.action.closed": "Corrective action closed",
    }
)

NAME_MAX = 80
TEXT_MAX = 500
LOCATION_MAX = 120
ORGANISM_MAX = 120
AGENT_MAX = 120
CERTIFIER_MAX = 120
REFERENCE_MAX = 80
REPORT_MAX = 80
SERIAL_MAX = 40
ACTION_TAKEN_MAX = 4000
MAX_CFU = 10_000
AIR_LITRES_MIN = Decimal("1")
AIR_LITRES_MAX = Decimal("10000")
INCHES_WC_LIMIT = Decimal("1")
TEMPERATURE_RANGE = (Decimal("-10"), Decimal("50"))
HUMIDITY_RANGE = (Decimal("0"), Decimal("100"))
FUTURE_GRACE = dt.timedelta(minutes=5)
LATE_AFTER = dt.timedelta(days=7)
TENTH = Decimal("0.1")
TEN_THOUSANDTH = Decimal("0.0001")


# --- Helpers ------------------------------------------------------------------------------


def _site(actor: User | None, site: Site | None) -> Site:
    """Staff act at their own pharmacy; the operator at the shell names one."""
    if actor is not None:
        if site is not None and site.pk != actor.site_id:
            raise Forbidden("You can only keep your own pharmacy's cleanroom records.")
        return actor.site
    if site is None:
        raise Invalid("Name the pharmacy (site).", field="site")
    return site


def _person(actor: User | None, what: str) -> User:
    """Logs name who measured or did the work: a signed-in person."""
    if actor is None:
        raise Forbidden(f"{what} is recorded by the person who did it: sign in.")
    return actor


def _fail(errors: list[tuple[str, str]]) -> None:
    """Raise one Invalid naming every bad field (nothing has been written)."""
    if not errors:
        return
    if len(errors) == 1:
        field, message = errors[0]
        raise Invalid(message, field=field)
    raise Invalid(
        " ".join(m for _, m in errors),
        field=errors[0][0],
        errors=[{"field": f, "message": m} for f, m in errors],
    )


def _text(
    value: Any, field: str, limit: int, errors: list[tuple[str, str]], *, required: str = ""
) -> str:
    """A trimmed one-line text; ``required`` is the message when it is missing."""
    text = " ".join(str(value or "").split())
    if required and not text:
        errors.append((field, required))
    elif len(text) > limit:
        errors.append((field, f"Keep it to {limit} characters."))
    return text


def _long_text(
    value: Any, field: str, limit: int, errors: list[tuple[str, str]], *, required: str = ""
) -> str:
    text = str(value or "").strip()
    if required and not text:
        errors.append((field, required))
    elif len(text) > limit:
        errors.append((field, f"Keep it to {limit} characters."))
    return text


def _choice(value: Any, choices: Any, field: str, errors: list[tuple[str, str]], what: str) -> str:
    text = str(value or "").strip()
    if text not in choices.values:
        allowed = ", ".join(repr(v) for v in choices.values if v)
        errors.append((field, f"Choose the {what} ({allowed})."))
    return text


def _decimal(
    value: Any,
    field: str,
    errors: list[tuple[str, str]],
    *,
    what: str,
    low: Decimal | None = None,
    high: Decimal | None = None,
    places: Decimal,
) -> Decimal | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        errors.append((field, f"Enter the {what}."))
        return None
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        errors.append((field, f"The {what} must be a number."))
        return None
    if not number.is_finite():
        errors.append((field, f"The {what} must be a number."))
        return None
    number = number.quantize(places, rounding=ROUND_HALF_UP)
    if (low is not None and number < low) or (high is not None and number > high):
        errors.append((field, f"The {what} must be between {low} and {high}."))
        return None
    return number


def _moment(
    value: Any, site: Site, field: str, errors: list[tuple[str, str]]
) -> dt.datetime | None:
    """When something was measured or done: blank for now; a naive date and time is the
    pharmacy's wall-clock time."""
    if value is None or value == "":
        return timezone.now()
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value.strip())
        except ValueError:
            errors.append((field, "Enter the date and time as YYYY-MM-DD HH:MM."))
            return None
    if not isinstance(value, dt.datetime):
        errors.append((field, "Enter the date and time as YYYY-MM-DD HH:MM."))
        return None
    if timezone.is_naive(value):
        value = timezone.make_aware(value, site.tz)
    return value


def _checked_moment(
    value: Any, site: Site, field: str, note: str, errors: list[tuple[str, str]]
) -> dt.datetime | None:
    """Not in the future (five minutes' grace); older than seven days only with a note."""
    moment = _moment(value, site, field, errors)
    if moment is None:
        return None
    now = timezone.now()
    if moment > now + FUTURE_GRACE:
        local = moment.astimezone(site.tz)
        errors.append(
            (field, f"{local:%m/%d/%Y %H:%M} has not happened yet: record what was done.")
        )
        return None
    if moment < now - LATE_AFTER and not note:
        errors.append(
            (
                "note",
                "This entry is more than 7 days old: add a note saying why it is entered late.",
            )
        )
    return moment


def _own_room(room: Any, site: Site, field: str = "room") -> Room:
    if not isinstance(room, Room) or room.site_id != site.pk:
        raise NotFound("No such room at this pharmacy.", field=field)
    return room


def _own_control(control: Any, site: Site, field: str = "control") -> EngineeringControl:
    if not isinstance(control, EngineeringControl) or control.site_id != site.pk:
        raise NotFound("No such engineering control at this pharmacy.", field=field)
    return control


def _open_action(
    *,
    actor: User,
    site: Site,
    source: str,
    problem: str,
    room: Room | None = None,
    control: EngineeringControl | None = None,
) -> CorrectiveAction:
    """A corrective action opened by a reading (inside the caller's transaction; the
    caller's audit event names it)."""
    return CorrectiveAction.objects.create(
        site=site,
        source=source,
        room=room,
        control=control,
        problem=problem[:TEXT_MAX],
        opened_at=timezone.now(),
        opened_by=actor,
    )


def _when(moment: dt.datetime) -> str:
    return moment.isoformat()


# --- Rooms and engineering controls -------------------------------------------------------


@dataclass(frozen=True)
class CertificationRecorded:
    """A certification kept, and the corrective action its failure opened."""

    certification: Certification
    action: CorrectiveAction | None


def _default_iso(kind: str) -> str:
    allowed = rules.ROOM_ISO.get(kind, frozenset())
    if len(allowed) == 1:
        return next(iter(allowed))
    return rules.ISO_8 if kind == rules.ANTE else ""


def _default_pressure(kind: str, hazardous: bool) -> str:
    if rules.room_hazardous(kind, hazardous):
        return Pressure.NEGATIVE
    if kind in rules.POSITIVE_ROOMS:
        return Pressure.POSITIVE
    return Pressure.NEUTRAL


def _room_name_taken(site: Site, name: str, exclude: int | None = None) -> bool:
    found = Room.objects.filter(site=site, name__iexact=name)
    if exclude is not None:
        found = found.exclude(pk=exclude)
    return found.exists()


def _control_name_taken(site: Site, name: str, exclude: int | None = None) -> bool:
    found = EngineeringControl.objects.filter(site=site, name__iexact=name)
    if exclude is not None:
        found = found.exclude(pk=exclude)
    return found.exists()


ROOM_FIELDS = ["name", "kind", "iso_class", "pressure", "hazardous", "active"]
CONTROL_FIELDS = ["name", "room_id", "kind", "iso_class", "hazardous", "serial_number", "active"]


def _snapshot(row: Any, fields: list[str]) -> dict[str, Any]:
    return {f: getattr(row, f) for f in fields}


def room_create(
    *,
    actor: User | None,
    name: str,
    kind: str,
    iso_class: str | None = None,
    pressure: str | None = None,
    hazardous: bool = False,
    site: Site | None = None,
) -> Room:
    """Add a room or area. Its ISO class and pressure follow from its kind when not given
    (a buffer room ISO 7 positive, a C-SEC ISO 7 negative, …) and must agree with it."""
    authorize(actor, Cap.COMPOUNDING_FACILITY)
    where = _site(actor, site)
    errors: list[tuple[str, str]] = []
    the_name = _text(name, "name", NAME_MAX, errors, required="Name the room.")
    the_kind = _choice(kind, RoomKind, "kind", errors, "kind of room")
    _fail(errors)
    the_hazardous = rules.room_hazardous(the_kind, bool(hazardous))
    the_iso = _default_iso(the_kind) if iso_class is None else str(iso_class).strip()
    the_pressure = (
        _default_pressure(the_kind, the_hazardous) if pressure in (None, "") else str(pressure)
    )
    if the_pressure not in Pressure.values:
        errors.append(("pressure", "Choose the pressure: positive, negative or neutral."))
    errors.extend(
        rules.room_problems(
            kind=the_kind, iso_class=the_iso, pressure=the_pressure, hazardous=the_hazardous
        )
    )
    if the_name and _room_name_taken(where, the_name):
        errors.append(("name", f"There is already a room named {the_name!r}."))
    _fail(errors)
    try:
        with transaction.atomic():
            room = Room.objects.create(
                site=where,
                name=the_name,
                kind=the_kind,
                iso_class=the_iso,
                pressure=the_pressure,
                hazardous=the_hazardous,
            )
            audit_record(
                actor=actor,
                site=where,
                action="compounding.room.created",
                obj=room,
                data=_snapshot(room, ROOM_FIELDS),
            )
    except IntegrityError:
        raise Invalid(f"There is already a room named {the_name!r}.", field="name") from None
    return room


def room_update(
    *,
    actor: User | None,
    room: Room,
    name: str | None = None,
    kind: str | None = None,
    iso_class: str | None = None,
    pressure: str | None = None,
    hazardous: bool | None = None,
    active: bool | None = None,
    site: Site | None = None,
) -> Room:
    """Change a room (arguments left None stay as they are). The result must agree with
    the rules of its kind and with every active PEC in it."""
    authorize(actor, Cap.COMPOUNDING_FACILITY)
    where = _site(actor, site)
    _own_room(room, where)
    errors: list[tuple[str, str]] = []
    before = _snapshot(room, ROOM_FIELDS)
    the_name = (
        room.name
        if name is None
        else _text(name, "name", NAME_MAX, errors, required="Name the room.")
    )
    the_kind = room.kind if kind is None else _choice(kind, RoomKind, "kind", errors, "kind")
    _fail(errors)
    the_hazardous = rules.room_hazardous(
        the_kind, room.hazardous if hazardous is None else bool(hazardous)
    )
    if kind is not None and kind != room.kind and iso_class is None:
        the_iso = _default_iso(the_kind)
    else:
        the_iso = room.iso_class if iso_class is None else str(iso_class).strip()
    the_pressure = room.pressure if pressure in (None, "") else str(pressure)
    if the_pressure not in Pressure.values:
        errors.append(("pressure", "Choose the pressure: positive, negative or neutral."))
    errors.extend(
        rules.room_problems(
            kind=the_kind, iso_class=the_iso, pressure=the_pressure, hazardous=the_hazardous
        )
    )
    if the_name != room.name and _room_name_taken(where, the_name, exclude=room.pk):
        errors.append(("name", f"There is already a room named {the_name!r}."))
    for control in room.controls.filter(active=True):
        for field, message in rules.control_problems(
            kind=control.kind,
            hazardous=control.hazardous,
            room_kind=the_kind,
            room_hazardous=the_hazardous,
        ):
            errors.append(("kind" if field == "room" else field, f"{control.name}: {message}"))
    _fail(errors)
    room.name, room.kind, room.iso_class = the_name, the_kind, the_iso
    room.pressure, room.hazardous = the_pressure, the_hazardous
    if active is not None:
        room.active = bool(active)
    after = _snapshot(room, ROOM_FIELDS)
    changed = {k: [before[k], after[k]] for k in ROOM_FIELDS if before[k] != after[k]}
    if not changed:
        return room
    with transaction.atomic():
        room.save(update_fields=[k for k in ROOM_FIELDS if k in changed])
        audit_record(
            actor=actor,
            site=where,
            action="compounding.room.updated",
            obj=room,
            data={"changed": changed},
        )
    return room


def control_create(
    *,
    actor: User | None,
    room: Room,
    name: str,
    kind: str,
    hazardous: bool = False,
    serial_number: str = "",
    site: Site | None = None,
) -> EngineeringControl:
    """Add a primary engineering control to a room of the pharmacy. A sterile PEC provides
    ISO 5 air; a containment PEC (hazardous drugs) sits in a hazardous-drug room."""
    authorize(actor, Cap.COMPOUNDING_FACILITY)
    where = _site(actor, site)
    _own_room(room, where)
    errors: list[tuple[str, str]] = []
    the_name = _text(name, "name", NAME_MAX, errors, required="Name the PEC.")
    the_kind = _choice(kind, PecKind, "kind", errors, "kind of PEC")
    serial = _text(serial_number, "serial_number", SERIAL_MAX, errors)
    _fail(errors)
    if not room.active:
        errors.append(("room", f"{room.name} is no longer in use."))
    the_hazardous = rules.control_hazardous(the_kind, bool(hazardous))
    errors.extend(
        rules.control_problems(
            kind=the_kind,
            hazardous=the_hazardous,
            room_kind=room.kind,
            room_hazardous=room.hazardous,
        )
    )
    if the_name and _control_name_taken(where, the_name):
        errors.append(("name", f"There is already a PEC named {the_name!r}."))
    _fail(errors)
    try:
        with transaction.atomic():
            control = EngineeringControl.objects.create(
                site=where,
                room=room,
                name=the_name,
                kind=the_kind,
                iso_class=rules.control_iso(the_kind),
                hazardous=the_hazardous,
                serial_number=serial,
            )
            audit_record(
                actor=actor,
                site=where,
                action="compounding.pec.created",
                obj=control,
                data=_snapshot(control, CONTROL_FIELDS),
            )
    except IntegrityError:
        raise Invalid(f"There is already a PEC named {the_name!r}.", field="name") from None
    return control


def control_update(
    *,
    actor: User | None,
    control: EngineeringControl,
    room: Room | None = None,
    name: str | None = None,
    kind: str | None = None,
    hazardous: bool | None = None,
    serial_number: str | None = None,
    active: bool | None = None,
    site: Site | None = None,
) -> EngineeringControl:
    """Change a PEC or move it to another room (arguments left None stay as they are)."""
    authorize(actor, Cap.COMPOUNDING_FACILITY)
    where = _site(actor, site)
    _own_control(control, where)
    target = control.room if room is None else _own_room(room, where)
    errors: list[tuple[str, str]] = []
    before = _snapshot(control, CONTROL_FIELDS)
    the_name = (
        control.name
        if name is None
        else _text(name, "name", NAME_MAX, errors, required="Name the PEC.")
    )
    the_kind = control.kind if kind is None else _choice(kind, PecKind, "kind", errors, "kind")
    serial = (
        control.serial_number
        if serial_number is None
        else _text(serial_number, "serial_number", SERIAL_MAX, errors)
    )
    _fail(errors)
    if room is not None and room.pk != control.room_id and not room.active:
        errors.append(("room", f"{room.name} is no longer in use."))
    the_hazardous = rules.control_hazardous(
        the_kind, control.hazardous if hazardous is None else bool(hazardous)
    )
    errors.extend(
        rules.control_problems(
            kind=the_kind,
            hazardous=the_hazardous,
            room_kind=target.kind,
            room_hazardous=target.hazardous,
        )
    )
    if the_name != control.name and _control_name_taken(where, the_name, exclude=control.pk):
        errors.append(("name", f"There is already a PEC named {the_name!r}."))
    _fail(errors)
    control.room = target
    control.name, control.kind, control.serial_number = the_name, the_kind, serial
    control.iso_class = rules.control_iso(the_kind)
    control.hazardous = the_hazardous
    if active is not None:
        control.active = bool(active)
    after = _snapshot(control, CONTROL_FIELDS)
    changed = {k: [before[k], after[k]] for k in CONTROL_FIELDS if before[k] != after[k]}
    if not changed:
        return control
    with transaction.atomic():
        control.save(update_fields=[k.removesuffix("_id") for k in changed])
        audit_record(
            actor=actor,
            site=where,
            action="compounding.pec.updated",
            obj=control,
            data={"changed": changed},
        )
    return control


def certification_record(
    *,
    actor: User | None,
    room: Room | None = None,
    control: EngineeringControl | None = None,
    certified_on: dt.date | str | None,
    certifier: str,
    passed: bool = True,
    report_reference: str = "",
    note: str = "",
    site: Site | None = None,
) -> CertificationRecorded:
    """A certification of a room or a PEC (not both): the next is due 6 months later. A
    failed certification opens a corrective action."""
    authorize(actor, Cap.COMPOUNDING_FACILITY)
    person = _person(actor, "A certification")
    where = _site(actor, site)
    if room is not None:
        _own_room(room, where)
    if control is not None:
        _own_control(control, where)
    errors: list[tuple[str, str]] = []
    if (room is None) == (control is None):
        errors.append(("room", "Choose the room or the PEC that was certified (one of them)."))
    day: dt.date | None = None
    if certified_on in (None, ""):
        errors.append(("certified_on", "Enter the day of the certification."))
    elif isinstance(certified_on, dt.datetime):
        day = certified_on.date()
    elif isinstance(certified_on, dt.date):
        day = certified_on
    else:
        try:
            day = dt.date.fromisoformat(str(certified_on).strip())
        except ValueError:
            errors.append(("certified_on", "Enter the day as YYYY-MM-DD."))
    if day is not None and day > where.today():
        errors.append(
            ("certified_on", f"{day:%m/%d/%Y} is after today: record a certification done.")
        )
    who = _text(
        certifier, "certifier", CERTIFIER_MAX, errors, required="Name the certifier (company)."
    )
    reference = _text(report_reference, "report_reference", REPORT_MAX, errors)
    the_note = _text(note, "note", TEXT_MAX, errors)
    _fail(errors)
    assert day is not None
    target = room if room is not None else control
    with transaction.atomic():
        action = None
        if not passed:
            action = _open_action(
                actor=person,
                site=where,
                source=ActionSource.CERTIFICATION,
                problem=f"Certification of {target} on {day:%m/%d/%Y} failed ({who})"
                + (f": {the_note}" if the_note else "."),
                room=room if room is not None else (control.room if control else None),
                control=control,
            )
        made = Certification.objects.create(
            site=where,
            room=room,
            control=control,
            certified_on=day,
            due_on=rules.add_months(day, rules.CERTIFICATION_EVERY.months),
            passed=bool(passed),
            certifier=who,
            report_reference=reference,
            note=the_note,
            corrective_action=action,
            recorded_by=person,
        )
        audit_record(
            actor=actor,
            site=where,
            action="compounding.certification.recorded",
            obj=made,
            data={
                "room": room.pk if room else None,
                "control": control.pk if control else None,
                "certified_on": day.isoformat(),
                "due_on": made.due_on.isoformat(),
                "passed": made.passed,
                "certifier": who,
                "corrective_action": action.pk if action else None,
            },
        )
    return CertificationRecorded(made, action)


# --- Monitoring -------------------------------------------------------------------------


def sample_record(
    *,
    actor: User | None,
    kind: str,
    room: Room | None,
    control: EngineeringControl | None = None,
    location: str,
    sampled_at: dt.datetime | str | None = None,
    cfu: int | str | None,
    air_volume_liters: Decimal | str | float | None = None,
    organism: str = "",
    highly_pathogenic: bool = False,
    note: str = "",
    site: Site | None = None,
) -> EnvironmentalSample:
    """A viable air or surface sample's count. Its action level comes from the ISO class
    of the PEC sampled (ISO 5) or of the room. Above the level, or any highly pathogenic
    organism whatever the count, is an excursion: it opens a corrective action, linked on
    ``sample.corrective_action``."""
    authorize(actor, Cap.COMPOUNDING_MONITOR)
    person = _person(actor, "A sample")
    where = _site(actor, site)
    if control is not None:
        _own_control(control, where)
        if room is None:
            room = control.room
    if room is None:
        raise Invalid("Choose the room sampled.", field="room")
    _own_room(room, where)
    errors: list[tuple[str, str]] = []
    the_kind = _choice(kind, SampleKind, "kind", errors, "kind of sample")
    if control is not None and control.room_id != room.pk:
        errors.append(("control", f"{control.name} is not in {room.name}."))
    if not room.active:
        errors.append(("room", f"{room.name} is no longer in use."))
    if control is not None and not control.active:
        errors.append(("control", f"{control.name} is no longer in use."))
    iso_class = control.iso_class if control is not None else room.iso_class
    if iso_class not in (rules.ISO_5, rules.ISO_7, rules.ISO_8):
        errors.append(
            (
                "control" if control is not None else "room",
                f"{control or room} is unclassified: action levels exist for ISO 5, 7 and 8 "
                "air only. Sample the PEC (ISO 5) or a classified room.",
            )
        )
    where_text = _text(location, "location", LOCATION_MAX, errors, required="Say where on the map.")
    count: int | None = None
    try:
        count = int(str(cfu).strip()) if cfu not in (None, "") else None
    except ValueError:
        errors.append(("cfu", "Enter the colony count as a whole number."))
    else:
        if count is None:
            errors.append(("cfu", "Enter the colony count (0 for no growth)."))
        elif not 0 <= count <= MAX_CFU:
            errors.append(("cfu", f"The colony count must be between 0 and {MAX_CFU}."))
            count = None
    litres: Decimal | None = None
    if the_kind == SampleKind.AIR:
        litres = _decimal(
            air_volume_liters,
            "air_volume_liters",
            errors,
            what="air volume sampled (litres)",
            low=AIR_LITRES_MIN,
            high=AIR_LITRES_MAX,
            places=TENTH,
        )
    elif air_volume_liters not in (None, "", 0):
        errors.append(("air_volume_liters", "A surface sample has no air volume."))
    the_organism = _text(organism, "organism", ORGANISM_MAX, errors)
    pathogenic = bool(highly_pathogenic) or rules.named_pathogen(the_organism)
    if count == 0 and (the_organism or highly_pathogenic):
        errors.append(("organism", "No growth (0 CFU) has no organism: enter the count that grew."))
    the_note = _text(note, "note", TEXT_MAX, errors)
    moment = _checked_moment(sampled_at, where, "sampled_at", the_note, errors)
    _fail(errors)
    assert count is not None and moment is not None
    level = rules.action_level(iso_class, the_kind)
    measure = rules.cfu_measure(the_kind, count, litres)
    excursion = rules.is_excursion(measure, level, highly_pathogenic=pathogenic)
    unit = rules.UNIT[the_kind]
    target = control.name if control is not None else room.name
    with transaction.atomic():
        action = None
        if excursion:
            reasons = []
            if measure > level:
                reasons.append(f"{measure} {unit}, above the action level of {level} {unit}")
            if pathogenic:
                reasons.append(
                    f"highly pathogenic organism ({the_organism or 'flagged'}): remediate "
                    "whatever the count"
                )
            action = _open_action(
                actor=person,
                site=where,
                source=ActionSource.SAMPLE,
                problem=f"{SampleKind(the_kind).label} sample, {where_text} in {target} "
                f"({rules.iso_words(iso_class)}), {moment.astimezone(where.tz):%m/%d/%Y}: "
                + "; ".join(reasons)
                + ". Identify, investigate, remediate and resample.",
                room=room,
                control=control,
            )
        sample = EnvironmentalSample.objects.create(
            site=where,
            kind=the_kind,
            room=room,
            control=control,
            location=where_text,
            iso_class=iso_class,
            sampled_at=moment,
            air_volume_liters=litres,
            cfu=count,
            cfu_measure=measure,
            action_level=level.quantize(rules.HUNDREDTH),
            excursion=excursion,
            organism=the_organism,
            highly_pathogenic=pathogenic,
            corrective_action=action,
            recorded_by=person,
            note=the_note,
        )
        audit_record(
            actor=actor,
            site=where,
            action="compounding.sample.recorded",
            obj=sample,
            data={
                "kind": the_kind,
                "room": room.pk,
                "control": control.pk if control else None,
                "sampled_at": _when(moment),
                "cfu": count,
                "cfu_measure": measure,
                "action_level": level,
                "excursion": excursion,
                "highly_pathogenic": pathogenic,
                "corrective_action": action.pk if action else None,
            },
            reason=the_note,
        )
    return sample


def pressure_record(
    *,
    actor: User | None,
    room: Room,
    reference: str,
    inches_wc: Decimal | str | float | None,
    read_at: dt.datetime | str | None = None,
    note: str = "",
    site: Site | None = None,
) -> PressureReading:
    """A room's pressure differential against ``reference`` (the room it opens into), in
    inches of water column. Out of the room's range opens a corrective action."""
    authorize(actor, Cap.COMPOUNDING_MONITOR)
    person = _person(actor, "A pressure reading")
    where = _site(actor, site)
    _own_room(room, where)
    errors: list[tuple[str, str]] = []
    if not room.active:
        errors.append(("room", f"{room.name} is no longer in use."))
    against = _text(
        reference,
        "reference",
        REFERENCE_MAX,
        errors,
        required="Say what the room is measured against (e.g. ante-room).",
    )
    value = _decimal(
        inches_wc,
        "inches_wc",
        errors,
        what="pressure differential (in. w.c.)",
        low=-INCHES_WC_LIMIT,
        high=INCHES_WC_LIMIT,
        places=TEN_THOUSANDTH,
    )
    the_note = _text(note, "note", TEXT_MAX, errors)
    moment = _checked_moment(read_at, where, "read_at", the_note, errors)
    _fail(errors)
    assert value is not None and moment is not None
    rule = rules.pressure_rule(room.pressure)
    in_range = rules.pressure_in_range(room.pressure, value)
    with transaction.atomic():
        action = None
        if not in_range and rule is not None:
            action = _open_action(
                actor=person,
                site=where,
                source=ActionSource.PRESSURE,
                problem=f"{room.name} read {value:+} in. w.c. against {against} at "
                f"{moment.astimezone(where.tz):%m/%d/%Y %H:%M}; it must be {rule.words}.",
                room=room,
            )
        reading = PressureReading.objects.create(
            site=where,
            room=room,
            reference=against,
            inches_wc=value,
            read_at=moment,
            in_range=in_range,
            corrective_action=action,
            note=the_note,
            recorded_by=person,
        )
        audit_record(
            actor=actor,
            site=where,
            action="compounding.pressure.recorded",
            obj=reading,
            data={
                "room": room.pk,
                "reference": against,
                "inches_wc": value,
                "read_at": _when(moment),
                "in_range": in_range,
                "corrective_action": action.pk if action else None,
            },
            reason=the_note,
        )
    return reading


def conditions_record(
    *,
    actor: User | None,
    room: Room,
    temperature_c: Decimal | str | float | None,
    humidity_pct: Decimal | str | float | None,
    read_at: dt.datetime | str | None = None,
    note: str = "",
    site: Site | None = None,
) -> RoomConditions:
    """A room's temperature and relative humidity. Warmer than 20 °C or humidity of 60 % or
    more misses the USP recommendation and opens a corrective action to investigate."""
    authorize(actor, Cap.COMPOUNDING_MONITOR)
    person = _person(actor, "A temperature and humidity reading")
    where = _site(actor, site)
    _own_room(room, where)
    errors: list[tuple[str, str]] = []
    if not room.active:
        errors.append(("room", f"{room.name} is no longer in use."))
    temperature = _decimal(
        temperature_c,
        "temperature_c",
        errors,
        what="temperature (°C)",
        low=TEMPERATURE_RANGE[0],
        high=TEMPERATURE_RANGE[1],
        places=TENTH,
    )
    humidity = _decimal(
        humidity_pct,
        "humidity_pct",
        errors,
        what="relative humidity (%)",
        low=HUMIDITY_RANGE[0],
        high=HUMIDITY_RANGE[1],
        places=TENTH,
    )
    the_note = _text(note, "note", TEXT_MAX, errors)
    moment = _checked_moment(read_at, where, "read_at", the_note, errors)
    _fail(errors)
    assert temperature is not None and humidity is not None and moment is not None
    problems = rules.conditions_problems(temperature, humidity)
    with transaction.atomic():
        action = None
        if problems:
            action = _open_action(
                actor=person,
                site=where,
                source=ActionSource.CONDITIONS,
                problem=f"{room.name} at {moment.astimezone(where.tz):%m/%d/%Y %H:%M}: "
                + "; ".join(problems)
                + " (USP <797> recommendation). Investigate the effect on preparations and "
                "on staff in garb.",
                room=room,
            )
        reading = RoomConditions.objects.create(
            site=where,
            room=room,
            read_at=moment,
            temperature_c=temperature,
            humidity_pct=humidity,
            in_range=not problems,
            corrective_action=action,
            note=the_note,
            recorded_by=person,
        )
        audit_record(
            actor=actor,
            site=where,
            action="compounding.conditions.recorded",
            obj=reading,
            data={
                "room": room.pk,
                "read_at": _when(moment),
                "temperature_c": temperature,
                "humidity_pct": humidity,
                "in_range": not problems,
                "corrective_action": action.pk if action else None,
            },
            reason=the_note,
        )
    return reading


def cleaning_record(
    *,
    actor: User | None,
    room: Room,
    control: EngineeringControl | None = None,
    area: str,
    kind: str,
    agent: str,
    performed_at: dt.datetime | str | None = None,
    note: str = "",
    site: Site | None = None,
) -> CleaningLog:
    """Cleaning, disinfecting or sporicidal work on an area of a room, by the signed-in
    person, with the agent used. The PEC's interior and tray name the PEC."""
    authorize(actor, Cap.COMPOUNDING_MONITOR)
    person = _person(actor, "Cleaning")
    where = _site(actor, site)
    _own_room(room, where)
    if control is not None:
        _own_control(control, where)
    errors: list[tuple[str, str]] = []
    if not room.active:
        errors.append(("room", f"{room.name} is no longer in use."))
    the_area = _choice(area, CleaningArea, "area", errors, "area cleaned")
    the_kind = _choice(kind, CleaningKind, "kind", errors, "kind of work")
    if the_area in rules.PEC_AREAS:
        if control is None:
            pecs = list(room.controls.filter(active=True))
            if len(pecs) == 1:
                control = pecs[0]
            elif pecs:
                errors.append(("control", "Choose the PEC that was cleaned."))
            else:
                errors.append(("area", f"{room.name} has no PEC: choose another area."))
        elif control.room_id != room.pk:
            errors.append(("control", f"{control.name} is not in {room.name}."))
    elif control is not None:
        errors.append(("control", "Name a PEC only for its interior or its work tray."))
    required = (
        "Name the sporicidal agent used."
        if the_kind == CleaningKind.SPORICIDAL
        else "Name the agent used (detergent, disinfectant, sterile 70 % IPA…)."
    )
    the_agent = _text(agent, "agent", AGENT_MAX, errors, required=required)
    the_note = _text(note, "note", TEXT_MAX, errors)
    moment = _checked_moment(performed_at, where, "performed_at", the_note, errors)
    _fail(errors)
    assert moment is not None
    with transaction.atomic():
        log = CleaningLog.objects.create(
            site=where,
            room=room,
            control=control,
            area=the_area,
            kind=the_kind,
            agent=the_agent,
            performed_at=moment,
            performed_by=person,
            performed_by_name=person.display_name[:150],
            note=the_note,
        )
        audit_record(
            actor=actor,
            site=where,
            action="compounding.cleaning.recorded",
            obj=log,
            data={
                "room": room.pk,
                "control": control.pk if control else None,
                "area": the_area,
                "kind": the_kind,
                "agent": the_agent,
                "performed_at": _when(moment),
            },
            reason=the_note,
        )
    return log


# --- Corrective actions -----------------------------------------------------------------


def action_open(
    *,
    actor: User | None,
    problem: str,
    source: str = ActionSource.OTHER,
    room: Room | None = None,
    control: EngineeringControl | None = None,
    site: Site | None = None,
) -> CorrectiveAction:
    """Open a corrective action by hand (a problem seen that no reading opened)."""
    authorize(actor, Cap.COMPOUNDING_CORRECT)
    person = _person(actor, "A corrective action")
    where = _site(actor, site)
    if room is not None:
        _own_room(room, where)
    if control is not None:
        _own_control(control, where)
        room = room or control.room
        if control.room_id != room.pk:
            raise Invalid(f"{control.name} is not in {room.name}.", field="control")
    errors: list[tuple[str, str]] = []
    the_source = _choice(source, ActionSource, "source", errors, "source")
    text = _text(problem, "problem", TEXT_MAX, errors, required="Describe the problem.")
    _fail(errors)
    with transaction.atomic():
        action = _open_action(
            actor=person, site=where, source=the_source, problem=text, room=room, control=control
        )
        audit_record(
            actor=actor,
            site=where,
            action="compounding.action.opened",
            obj=action,
            data={
                "source": the_source,
                "room": room.pk if room else None,
                "control": control.pk if control else None,
            },
        )
    return action


def action_close(
    *,
    actor: User | None,
    action: CorrectiveAction,
    action_taken: str,
    resample: str = "",
    site: Site | None = None,
) -> CorrectiveAction:
    """Close a corrective action with what was done. An excursion of a sample is closed
    only with its resample noted (when, and its result)."""
    authorize(actor, Cap.COMPOUNDING_CORRECT)
    person = _person(actor, "Closing a corrective action")
    where = _site(actor, site)
    if not isinstance(action, CorrectiveAction) or action.site_id != where.pk:
        raise NotFound("No such corrective action at this pharmacy.", field="action")
    if action.closed_at is not None:
        raise Conflict(
            f"Corrective action {action.pk} was closed on "
            f"{action.closed_at.astimezone(where.tz):%m/%d/%Y}.",
            field="action_taken",
        )
    errors: list[tuple[str, str]] = []
    taken = _long_text(
        action_taken,
        "action_taken",
        ACTION_TAKEN_MAX,
        errors,
        required="Say what was done (investigation, remedy).",
    )
    again = _text(resample, "resample", TEXT_MAX, errors)
    if action.source == ActionSource.SAMPLE and not again:
        errors.append(("resample", "Note the resample: when it was taken and its result."))
    _fail(errors)
    with transaction.atomic():
        closed = CorrectiveAction.objects.filter(pk=action.pk, closed_at__isnull=True).update(
            action_taken=taken + (f"\nResample: {again}" if again else ""),
            closed_at=timezone.now(),
            closed_by=person,
        )
        if closed != 1:  # another pharmacist closed it a moment ago
            raise Conflict(f"Corrective action {action.pk} is already closed.", field="action")
        action.refresh_from_db()
        audit_record(
            actor=actor,
            site=where,
            action="compounding.action.closed",
            obj=action,
            data={"source": action.source, "resampled": bool(again)},
        )
    return action


def describe_sample(sample: EnvironmentalSample) -> str:
    """What the person recording a sample is told."""
    unit = rules.UNIT[sample.kind]
    head = (
        f"{sample.get_kind_display()} sample, {sample.location}: {sample.cfu_measure} {unit} "
        f"(action level above {sample.action_level})"
    )
    if sample.excursion:
        return (
            f"{head}: EXCURSION. Corrective action {sample.corrective_action_id} is open; "
            "tell the pharmacist."
        )
    return f"{head}: within the action level."


def describe_reading(reading: PressureReading | RoomConditions) -> str:
    if isinstance(reading, PressureReading):
        head = f"{reading.room.name}: {reading.inches_wc:+} in. w.c."
    else:
        head = f"{reading.room.name}: {reading.temperature_c} °C, {reading.humidity_pct} % RH"
    if reading.in_range:
        return f"{head}, in range."
    suffix = " (recommended)" if isinstance(reading, RoomConditions) else ""
    return (
        f"{head}, OUT OF RANGE{suffix}. Corrective action {reading.corrective_action_id} is "
        "open; tell the pharmacist."
    )
