"""Reads of the cleanroom: one room, PEC or corrective action of the pharmacy (another
pharmacy's is not found), the cleanroom board (what is certified, logged, sampled and
cleaned, and what is due or overdue today), the histories of samples, readings and cleaning
over a period, and their CSV for an inspector.

The board's frequencies follow the site's strictest category: Category 3 when any approved
master formula of the site is Category 3 (rxdesk.compounding.cleanroom)."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Max

from rxdesk.compounding import cleanroom as rules
from rxdesk.compounding.choices import (
    CleaningArea,
    CleaningKind,
    FormulaStatus,
    SampleKind,
)
from rxdesk.compounding.models import (
    Certification,
    CleaningLog,
    CompoundingRecord,
    CorrectiveAction,
    EngineeringControl,
    EnvironmentalSample,
    MasterFormula,
    PressureReading,
    Room,
    RoomConditions,
)
from rxdesk.core.capabilities import Cap, require
from rxdesk.core.errors import Invalid, NotFound
from rxdesk.core.models import Site, User

MAX_ID = 2**63 - 1
DEFAULT_DAYS = 30
MAX_PERIOD_DAYS = 3 * 366 + 1  # the records are kept 3 years (USP <797>)
HISTORY_LIMIT = 5000


def _site(actor: User) -> Site:
    require(actor, Cap.COMPOUNDING_VIEW)
    if actor.site is None:
        raise NotFound("Your account is not attached to a pharmacy.")
    return actor.site


def _pk(value: Any) -> int | None:
    try:
        pk = int(str(value))
    except ValueError:
        return None
    return pk if 0 < pk <= MAX_ID else None


# --- One row -----------------------------------------------------------------------------


def room_get(*, actor: User, room_id: Any) -> Room:
    site = _site(actor)
    pk = _pk(room_id)
    found = Room.objects.filter(site=site, pk=pk).first() if pk else None
    if found is None:
        raise NotFound("No such room at this pharmacy.", field="room")
    return found


def control_get(*, actor: User, control_id: Any) -> EngineeringControl:
    site = _site(actor)
    pk = _pk(control_id)
    found = (
        EngineeringControl.objects.select_related("room").filter(site=site, pk=pk).first()
        if pk
        else None
    )
    if found is None:
        raise NotFound("No such engineering control at this pharmacy.", field="control")
    return found


def action_get(*, actor: User, action_id: Any) -> CorrectiveAction:
    site = _site(actor)
    pk = _pk(action_id)
    found = (
        CorrectiveAction.objects.select_related("room", "control", "opened_by", "closed_by")
        .filter(site=site, pk=pk)
        .first()
        if pk
        else None
    )
    if found is None:
        raise NotFound("No such corrective action at this pharmacy.", field="action")
    return found


def rooms(*, actor: User, active_only: bool = False) -> list[Room]:
    """The pharmacy's rooms, each with its PECs (``room.pecs``), by name."""
    site = _site(actor)
    found = Room.objects.filter(site=site)
    if active_only:
        found = found.filter(active=True)
    out = list(found.order_by("name"))
    pecs: dict[int, list[EngineeringControl]] = {r.pk: [] for r in out}
    controls = EngineeringControl.objects.filter(site=site, room__in=out)
    if active_only:
        controls = controls.filter(active=True)
    for control in controls.order_by("name"):
        pecs[control.room_id].append(control)
    for room in out:
        room.pecs = pecs[room.pk]  # type: ignore[attr-defined]
    return out


def controls(*, actor: User, active_only: bool = True) -> list[EngineeringControl]:
    site = _site(actor)
    found = EngineeringControl.objects.select_related("room").filter(site=site)
    if active_only:
        found = found.filter(active=True, room__active=True)
    return list(found.order_by("room__name", "name"))


def actions(*, actor: User, open_only: bool = False) -> list[CorrectiveAction]:
    """Corrective actions, open ones first then newest first."""
    site = _site(actor)
    found = CorrectiveAction.objects.select_related(
        "room", "control", "opened_by", "closed_by"
    ).filter(site=site)
    if open_only:
        found = found.filter(closed_at__isnull=True)
    rows = list(found.order_by("-opened_at", "-pk")[:HISTORY_LIMIT])
    rows.sort(key=lambda a: a.closed_at is not None)
    return rows


def makes_category_3(site: Site) -> bool:
    """Whether the site compounds Category 3: any approved formula of that category."""
    return MasterFormula.objects.filter(
        site=site, status=FormulaStatus.APPROVED, category="3"
    ).exists()


# --- The board ---------------------------------------------------------------------------


def _day_start(site: Site, day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.min, tzinfo=site.tz)


@dataclass(frozen=True)
class CertificationState:
    last: Certification | None
    due: rules.Due


@dataclass
class ControlRow:
    control: EngineeringControl
    certification: CertificationState


@dataclass
class RoomRow:
    room: Room
    controls: list[ControlRow]
    certification: CertificationState | None
    pressure_rule: rules.PressureRule | None
    pressure: PressureReading | None
    conditions_needed: bool
    conditions: RoomConditions | None


@dataclass(frozen=True)
class SamplingRow:
    room: Room
    control: EngineeringControl | None
    kind: str
    every: rules.Every
    last: dt.datetime | None
    due: rules.Due

    @property
    def target(self) -> str:
        return self.control.name if self.control is not None else self.room.name

    @property
    def kind_label(self) -> str:
        return SampleKind(self.kind).label


@dataclass(frozen=True)
class CleaningCell:
    kind: str
    every: rules.Every
    last: dt.datetime | None
    due: rules.Due

    @property
    def kind_label(self) -> str:
        return CleaningKind(self.kind).label


@dataclass(frozen=True)
class CleaningRow:
    room: Room
    control: EngineeringControl | None
    area: str
    cells: list[CleaningCell]

    @property
    def area_label(self) -> str:
        return CleaningArea(self.area).label


@dataclass
class Board:
    site: Site
    today: dt.date
    category_3: bool
    compounding_today: bool
    rooms: list[RoomRow]
    sampling: list[SamplingRow]
    cleaning: list[CleaningRow]
    actions: list[CorrectiveAction]
    late: list[str] = field(default_factory=list)

    @property
    def strictest(self) -> str:
        return "Category 3" if self.category_3 else "Categories 1 and 2"


def _certification(last: Certification | None, today: dt.date) -> CertificationState:
    if last is None:
        return CertificationState(None, rules.certification_due(None, today=today))
    if not last.passed:
        return CertificationState(
            last, rules.certification_due(last.certified_on, today=today, passed=False)
        )
    return CertificationState(
        last, rules.due_by(last.due_on, today=today, last=last.certified_on, soon_days=30)
    )


def _local_day(site: Site, moment: dt.datetime | None) -> dt.date | None:
    return moment.astimezone(site.tz).date() if moment is not None else None


def board(*, actor: User, today: dt.date | None = None) -> Board:
    """The cleanroom at a glance: rooms and PECs with their ISO class and certification,
    today's pressure and temperature/humidity per room, sampling and cleaning due, and the
    open corrective actions. A fixed number of queries, whatever the history."""
    site = _site(actor)
    day = today or site.today()
    start = _day_start(site, day)
    end = _day_start(site, day + dt.timedelta(days=1))
    category_3 = makes_category_3(site)
    compounding_today = CompoundingRecord.objects.filter(
        site=site, prepared_at__gte=start, prepared_at__lt=end
    ).exists()
    room_list = rooms(actor=actor, active_only=True)

    last_cert: dict[tuple[str, int], Certification] = {}
    for cert in Certification.objects.filter(site=site).order_by("-certified_on", "-pk"):
        key = ("room", cert.room_id) if cert.room_id else ("pec", cert.control_id or 0)
        last_cert.setdefault(key, cert)
    pressures: dict[int, PressureReading] = {}
    for p in PressureReading.objects.filter(site=site, read_at__gte=start, read_at__lt=end):
        if p.room_id not in pressures or p.read_at > pressures[p.room_id].read_at:
            pressures[p.room_id] = p
    conditions: dict[int, RoomConditions] = {}
    for c in RoomConditions.objects.filter(site=site, read_at__gte=start, read_at__lt=end):
        if c.room_id not in conditions or c.read_at > conditions[c.room_id].read_at:
            conditions[c.room_id] = c
    sampled: dict[tuple[str, int, int | None], dt.datetime] = {
        (s["kind"], s["room_id"], s["control_id"]): s["last"]
        for s in EnvironmentalSample.objects.filter(site=site)
        .values("kind", "room_id", "control_id")
        .annotate(last=Max("sampled_at"))
    }
    cleaned: dict[tuple[int, int | None, str, str], dt.datetime] = {
        (c["room_id"], c["control_id"], c["area"], c["kind"]): c["last"]
        for c in CleaningLog.objects.filter(site=site)
        .values("room_id", "control_id", "area", "kind")
        .annotate(last=Max("performed_at"))
    }

    room_rows: list[RoomRow] = []
    sampling: list[SamplingRow] = []
    cleaning: list[CleaningRow] = []
    late: list[str] = []
    for room in room_list:
        pecs: list[EngineeringControl] = room.pecs  # type: ignore[attr-defined]
        classified = room.iso_class in (rules.ISO_7, rules.ISO_8)
        control_rows = [
            ControlRow(c, _certification(last_cert.get(("pec", c.pk)), day)) for c in pecs
        ]
        row = RoomRow(
            room=room,
            controls=control_rows,
            certification=_certification(last_cert.get(("room", room.pk)), day)
            if classified
            else None,
            pressure_rule=rules.pressure_rule(room.pressure),
            pressure=pressures.get(room.pk),
            conditions_needed=room.kind in rules.STERILE_ROOMS,
            conditions=conditions.get(room.pk),
        )
        room_rows.append(row)
        if row.certification is not None and row.certification.due.late:
            late.append(f"{room.name}: certification {row.certification.due.words}")
        for cr in control_rows:
            if cr.certification.due.late:
                late.append(f"{cr.control.name}: certification {cr.certification.due.words}")
        if compounding_today and row.pressure_rule is not None and row.pressure is None:
            late.append(f"{room.name}: pressure not logged today")
        if compounding_today and row.conditions_needed and row.conditions is None:
            late.append(f"{room.name}: temperature and humidity not logged today")

        targets: list[EngineeringControl | None] = [None] if classified else []
        targets += [c for c in pecs if c.iso_class == rules.ISO_5]
        for control in targets:
            for kind in (SampleKind.AIR, SampleKind.SURFACE):
                every = rules.sampling_every(kind, category_3=category_3)
                last = sampled.get((kind.value, room.pk, control.pk if control else None))
                due = rules.due(
                    _local_day(site, last),
                    every,
                    today=day,
                    soon_days=rules.soon_days_of(every),
                )
                srow = SamplingRow(room, control, kind.value, every, last, due)
                sampling.append(srow)
                if due.late:
                    late.append(f"{srow.target}: {kind.label.lower()} sampling {due.words}")

        if room.kind not in rules.STERILE_ROOMS:
            continue
        for area in rules.AREAS:
            area_targets: list[EngineeringControl | None] = (
                list(pecs) if area in rules.PEC_AREAS else [None]
            )
            for control in area_targets:
                cells = []
                for kind_value in rules.KINDS:
                    every = rules.cleaning_every(area, kind_value, category_3=category_3)
                    last = cleaned.get((room.pk, control.pk if control else None, area, kind_value))
                    cells.append(
                        CleaningCell(
                            kind_value,
                            every,
                            last,
                            rules.due(
                                _local_day(site, last),
                                every,
                                today=day,
                                soon_days=rules.soon_days_of(every),
                            ),
                        )
                    )
                cleaning.append(CleaningRow(room, control, area, cells))
    overdue_cleaning = sum(1 for row in cleaning for cell in row.cells if cell.due.late)
    if overdue_cleaning:
        late.append(
            f"Cleaning: {overdue_cleaning} task{'s' if overdue_cleaning != 1 else ''} overdue "
            "or never done (see the schedule)"
        )
    open_actions = [
        a
        for a in CorrectiveAction.objects.select_related("room", "control", "opened_by")
        .filter(site=site, closed_at__isnull=True)
        .order_by("-opened_at", "-pk")
    ]
    return Board(
        site=site,
        today=day,
        category_3=category_3,
        compounding_today=compounding_today,
        rooms=room_rows,
        sampling=sampling,
        cleaning=cleaning,
        actions=open_actions,
        late=late,
    )


# --- Histories ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    start: dt.date
    end: dt.date
    since: dt.datetime
    until: dt.datetime


def period(site: Site, start: dt.date | None, end: dt.date | None) -> Period:
    """The local days ``start``..``end`` (default: the last 30 days through today)."""
    last = end or site.today()
    first = start or (last - dt.timedelta(days=DEFAULT_DAYS - 1))
    if first > last:
        raise Invalid("The start of the period is after its end.", field="start")
    if (last - first).days > MAX_PERIOD_DAYS:
        raise Invalid("Ask for at most three years at a time.", field="start")
    return Period(
        first, last, _day_start(site, first), _day_start(site, last + dt.timedelta(days=1))
    )


def samples(
    *,
    actor: User,
    start: dt.date | None = None,
    end: dt.date | None = None,
    room_id: int | None = None,
    kind: str | None = None,
    excursions_only: bool = False,
) -> tuple[Period, list[EnvironmentalSample]]:
    """Samples taken in the period, newest first."""
    site = _site(actor)
    span = period(site, start, end)
    found = EnvironmentalSample.objects.select_related(
        "room", "control", "recorded_by", "corrective_action"
    ).filter(site=site, sampled_at__gte=span.since, sampled_at__lt=span.until)
    if room_id is not None:
        found = found.filter(room_id=room_id)
    if kind:
        found = found.filter(kind=kind)
    if excursions_only:
        found = found.filter(excursion=True)
    return span, list(found.order_by("-sampled_at", "-pk")[:HISTORY_LIMIT])


@dataclass(frozen=True)
class Readings:
    period: Period
    pressures: list[PressureReading]
    conditions: list[RoomConditions]


def readings(
    *,
    actor: User,
    start: dt.date | None = None,
    end: dt.date | None = None,
    room_id: int | None = None,
) -> Readings:
    """Pressure and temperature/humidity readings in the period, newest first."""
    site = _site(actor)
    span = period(site, start, end)
    pressures = PressureReading.objects.select_related("room", "recorded_by").filter(
        site=site, read_at__gte=span.since, read_at__lt=span.until
    )
    conds = RoomConditions.objects.select_related("room", "recorded_by").filter(
        site=site, read_at__gte=span.since, read_at__lt=span.until
    )
    if room_id is not None:
        pressures = pressures.filter(room_id=room_id)
        conds = conds.filter(room_id=room_id)
    return Readings(
        span,
        list(pressures.order_by("-read_at", "-pk")[:HISTORY_LIMIT]),
        list(conds.order_by("-read_at", "-pk")[:HISTORY_LIMIT]),
    )


def cleanings(
    *,
    actor: User,
    start: dt.date | None = None,
    end: dt.date | None = None,
    room_id: int | None = None,
) -> tuple[Period, list[CleaningLog]]:
    site = _site(actor)
    span = period(site, start, end)
    found = CleaningLog.objects.select_related("room", "control").filter(
        site=site, performed_at__gte=span.since, performed_at__lt=span.until
    )
    if room_id is not None:
        found = found.filter(room_id=room_id)
    return span, list(found.order_by("-performed_at", "-pk")[:HISTORY_LIMIT])


# --- CSV ---------------------------------------------------------------------------------

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: object) -> object:
    """A CSV cell a spreadsheet will not run as a formula (CSV injection)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def _csv(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([_cell(v) for v in row])
    return buf.getvalue()


def _local(site: Site, moment: dt.datetime) -> str:
    return moment.astimezone(site.tz).strftime("%Y-%m-%d %H:%M")


def samples_csv(site: Site, rows: Iterable[EnvironmentalSample]) -> str:
    """One line per sample, times in the pharmacy's zone."""
    return _csv(
        [
            f"Sampled ({site.time_zone})",
            "Kind",
            "Room",
            "PEC",
            "Location",
            "ISO class",
            "Air volume (L)",
            "CFU counted",
            "CFU measure",
            "Unit",
            "Action level (above)",
            "Excursion",
            "Organism",
            "Highly pathogenic",
            "Corrective action",
            "Recorded by",
            "Note",
        ],
        (
            [
                _local(site, s.sampled_at),
                s.get_kind_display(),
                s.room.name,
                s.control.name if s.control else "",
                s.location,
                rules.iso_words(s.iso_class),
                s.air_volume_liters,
                s.cfu,
                s.cfu_measure,
                rules.UNIT[s.kind],
                s.action_level,
                s.excursion,
                s.organism,
                s.highly_pathogenic,
                s.corrective_action_id,
                s.recorded_by.display_name,
                s.note,
            ]
            for s in rows
        ),
    )


def readings_csv(site: Site, found: Readings) -> str:
    """Pressure and temperature/humidity readings, newest first, one line each."""
    lines: list[tuple[dt.datetime, list[object]]] = []
    for p in found.pressures:
        lines.append(
            (
                p.read_at,
                [
                    _local(site, p.read_at),
                    p.room.name,
                    "pressure",
                    p.reference,
                    p.inches_wc,
                    "",
                    "",
                    p.in_range,
                    p.corrective_action_id,
                    p.recorded_by.display_name,
                ],
            )
        )
    for c in found.conditions:
        lines.append(
            (
                c.read_at,
                [
                    _local(site, c.read_at),
                    c.room.name,
                    "temperature and humidity",
                    "",
                    "",
                    c.temperature_c,
                    c.humidity_pct,
                    c.in_range,
                    c.corrective_action_id,
                    c.recorded_by.display_name,
                ],
            )
        )
    lines.sort(key=lambda line: line[0], reverse=True)
    return _csv(
        [
            f"Read ({site.time_zone})",
            "Room",
            "Reading",
            "Against",
            "in. w.c.",
            "Temperature (°C)",
            "Relative humidity (%)",
            "In range",
            "Corrective action",
            "Recorded by",
        ],
        (line for _, line in lines),
    )
