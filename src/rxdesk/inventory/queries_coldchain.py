"""Reads of the cold chain: storage units with their last reading and open excursion, the
checks still due today, a unit's readings, excursions, and the printable monthly log.

Functions that take ``actor`` check the capability and scope to the actor's site; the
ones that take a ``site`` or a ``location`` are for callers that already did."""

from __future__ import annotations

import bisect
import calendar
import datetime as dt
import re
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Count, OuterRef, Q, QuerySet, Subquery
from django.utils import timezone

from rxdesk.core.capabilities import Cap
from rxdesk.core.errors import Invalid, NotFound
from rxdesk.core.forms import MAX_ID
from rxdesk.core.models import Site, User
from rxdesk.core.services import authorize
from rxdesk.inventory.choices import ExcursionStatus, ReadingSource
from rxdesk.inventory.models import (
    Excursion,
    ExcursionStock,
    StorageLocation,
    TemperatureReading,
)

# CDC: check and record the min/max at least twice each workday (start and end of day).
CHECKS_PER_DAY = 2
READINGS_LIMIT = 1000


def _site_of(actor: User) -> Site:
    if actor.site is None:
        raise NotFound("Your account is not attached to a pharmacy.")
    return actor.site


def day_bounds(site: Site, day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """The pharmacy's local day as [start, end) instants."""
    start = dt.datetime.combine(day, dt.time.min, tzinfo=site.tz)
    return start, dt.datetime.combine(day + dt.timedelta(days=1), dt.time.min, tzinfo=site.tz)


def monitored_units(site: Site) -> QuerySet[StorageLocation]:
    """The site's in-use refrigerators, freezers and other units with a temperature range."""
    return StorageLocation.objects.filter(
        site=site,
        active=True,
        temperature_min_c__isnull=False,
        temperature_max_c__isnull=False,
    ).order_by("code")


def is_out_of_range(unit: StorageLocation, reading: TemperatureReading) -> bool:
    low, high = unit.temperature_min_c, unit.temperature_max_c
    if low is None or high is None:
        return False
    return reading.minimum_c < low or reading.maximum_c > high


# --- Units -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class UnitStatus:
    """A unit as the cold-chain screen shows it."""

    unit: StorageLocation
    last_reading: TemperatureReading | None
    open_excursion: Excursion | None
    checks_today: int

    @property
    def checks_needed(self) -> int:
        return max(CHECKS_PER_DAY - self.checks_today, 0)

    @property
    def check_due(self) -> bool:
        return self.checks_needed > 0

    @property
    def last_out_of_range(self) -> bool:
        return self.last_reading is not None and is_out_of_range(self.unit, self.last_reading)


def unit_statuses(site: Site, *, on: dt.date | None = None) -> list[UnitStatus]:
    """Every monitored unit with its last reading, its open excursion and how many checks
    were recorded by hand on the pharmacy's date ``on`` (today by default). Three queries."""
    day = on or site.today()
    start, end = day_bounds(site, day)
    last = TemperatureReading.objects.filter(location=OuterRef("pk")).order_by("-recorded_at")
    open_ = Excursion.objects.filter(location=OuterRef("pk"), status=ExcursionStatus.OPEN)
    units = list(
        monitored_units(site).annotate(
            last_reading_id=Subquery(last.values("pk")[:1]),
            open_excursion_id=Subquery(open_.order_by("detected_at", "pk").values("pk")[:1]),
            checks=Count(
                "readings",
                filter=Q(
                    readings__recorded_at__gte=start,
                    readings__recorded_at__lt=end,
                    readings__source=ReadingSource.MANUAL,
                ),
            ),
        )
    )
    reading_ids = [u.last_reading_id for u in units if u.last_reading_id]
    excursion_ids = [u.open_excursion_id for u in units if u.open_excursion_id]
    readings = (
        TemperatureReading.objects.select_related("recorded_by").in_bulk(reading_ids)
        if reading_ids
        else {}
    )
    excursions = (
        Excursion.objects.select_related("reading").in_bulk(excursion_ids) if excursion_ids else {}
    )
    for u in units:
        if u.last_reading_id in readings:
            readings[u.last_reading_id].location = u  # its range is shown beside it
    return [
        UnitStatus(
            unit=u,
            last_reading=readings.get(u.last_reading_id),
            open_excursion=excursions.get(u.open_excursion_id),
            checks_today=u.checks,
        )
        for u in units
    ]


def storage_units(*, actor: User, on: dt.date | None = None) -> list[UnitStatus]:
    authorize(actor, Cap.INVENTORY_VIEW)
    return unit_statuses(_site_of(actor), on=on)


def readings_due(site: Site, on: dt.date | None = None) -> list[UnitStatus]:
    """Monitored units with fewer than two checks recorded by hand on the site's local date
    ``on``. Logger imports do not count: the twice-daily check is a person looking at the
    unit's display and its alarm, which a download afterwards does not replace."""
    return [s for s in unit_statuses(site, on=on) if s.check_due]


def readings_due_for(*, actor: User, on: dt.date | None = None) -> list[UnitStatus]:
    authorize(actor, Cap.INVENTORY_VIEW)
    return readings_due(_site_of(actor), on=on)


def unit_for(*, actor: User, unit_id: int) -> StorageLocation:
    """A monitored unit of the actor's site (in use or not: its history stays readable)."""
    authorize(actor, Cap.INVENTORY_VIEW)
    if not 0 < unit_id <= MAX_ID:  # beyond a BIGINT: no such row, and the driver would choke
        raise NotFound("No such storage unit at this pharmacy.")
    found = (
        StorageLocation.objects.select_related("site")
        .filter(
            pk=unit_id,
            site=_site_of(actor),
            temperature_min_c__isnull=False,
            temperature_max_c__isnull=False,
        )
        .first()
    )
    if found is None:
        raise NotFound("No such storage unit at this pharmacy.")
    return found


def _aware(when: dt.datetime, site: Site) -> dt.datetime:
    return when.replace(tzinfo=site.tz) if timezone.is_naive(when) else when


def unit_readings(
    unit: StorageLocation,
    *,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    limit: int = 100,
) -> list[TemperatureReading]:
    """The unit's readings, newest first; ``since``/``until`` without an offset are the
    pharmacy's local time."""
    qs = TemperatureReading.objects.select_related("recorded_by").filter(location=unit)
    if since is not None:
        qs = qs.filter(recorded_at__gte=_aware(since, unit.site))
    if until is not None:
        qs = qs.filter(recorded_at__lt=_aware(until, unit.site))
    return list(qs.order_by("-recorded_at")[: max(1, min(limit, READINGS_LIMIT))])


# --- Excursions ------------------------------------------------------------------------------


def excursion_list(
    *,
    actor: User,
    status: str | None = None,
    unit_id: int | None = None,
    limit: int = 200,
) -> list[Excursion]:
    """The site's excursions, open ones first, then newest first."""
    authorize(actor, Cap.INVENTORY_VIEW)
    qs = Excursion.objects.select_related("location", "reading", "resolved_by").filter(
        location__site=_site_of(actor)
    )
    if status:
        qs = qs.filter(status=status)
    if unit_id is not None:
        qs = qs.filter(location_id=unit_id)
    qs = qs.annotate(held=Count("stock"))
    return sorted(
        qs.order_by("-detected_at", "-pk")[:limit],
        key=lambda e: e.status != ExcursionStatus.OPEN,
    )


def excursion_for(*, actor: User, excursion_id: int) -> Excursion:
    authorize(actor, Cap.INVENTORY_VIEW)
    if not 0 < excursion_id <= MAX_ID:
        raise NotFound("No such excursion at this pharmacy.")
    found = (
        Excursion.objects.select_related("location", "reading", "resolved_by")
        .filter(pk=excursion_id, location__site=_site_of(actor))
        .first()
    )
    if found is None:
        raise NotFound("No such excursion at this pharmacy.")
    return found


def excursion_stock(excursion: Excursion) -> list[ExcursionStock]:
    """The stock an excursion quarantined, with its lot, package and balance now."""
    return list(
        ExcursionStock.objects.select_related(
            "balance__lot", "balance__package__product", "balance__location"
        )
        .filter(excursion=excursion)
        .order_by("balance__package__ndc11", "balance__lot__number")
    )


def excursion_readings(excursion: Excursion, *, limit: int = 200) -> list[TemperatureReading]:
    """The unit's out-of-range readings from the excursion's first one until it was
    resolved (or now)."""
    unit = excursion.location
    if unit.temperature_min_c is None or unit.temperature_max_c is None:
        return []  # the unit's range was taken away since: nothing to compare against
    qs = TemperatureReading.objects.select_related("recorded_by").filter(
        Q(minimum_c__lt=unit.temperature_min_c) | Q(maximum_c__gt=unit.temperature_max_c),
        location=unit,
        recorded_at__gte=excursion.reading.recorded_at,
    )
    if excursion.resolved_at is not None:
        qs = qs.filter(recorded_at__lte=excursion.resolved_at)
    found = list(qs.order_by("recorded_at")[:limit])
    for reading in found:
        reading.location = unit
    return found


def response_entries(excursion: Excursion) -> list[str]:
    """The documented response, one entry per line ("when who: what")."""
    return [line for line in excursion.response.splitlines() if line.strip()]


# --- The monthly log -------------------------------------------------------------------------

_MONTH = re.compile(r"^(\d{4})-(\d{1,2})$")


def month_of(value: str | dt.date | None, *, site: Site) -> dt.date:
    """The first day of a month given as YYYY-MM (this month at the pharmacy if blank)."""
    if isinstance(value, dt.date):
        return value.replace(day=1)
    if not value:
        return site.today().replace(day=1)
    match = _MONTH.match(str(value).strip())
    if match is None or not 1 <= int(match.group(2)) <= 12 or int(match.group(1)) < 2000:
        raise Invalid("Give the month as YYYY-MM.", field="month")
    return dt.date(int(match.group(1)), int(match.group(2)), 1)


@dataclass(frozen=True)
class LogLine:
    reading: TemperatureReading
    local: dt.datetime
    out_of_range: bool
    excursion_id: int | None


@dataclass
class LogDay:
    day: dt.date
    manual: list[LogLine] = field(default_factory=list)
    logger: list[LogLine] = field(default_factory=list)

    @property
    def checks(self) -> int:
        return len(self.manual)

    @property
    def logger_low(self) -> Decimal | None:
        return min((line.reading.minimum_c for line in self.logger), default=None)

    @property
    def logger_high(self) -> Decimal | None:
        return max((line.reading.maximum_c for line in self.logger), default=None)

    @property
    def logger_alarms(self) -> list[LogLine]:
        return [line for line in self.logger if line.out_of_range]

    @property
    def lines(self) -> list[LogLine]:
        return sorted(self.manual + self.logger, key=lambda line: line.reading.recorded_at)


@dataclass(frozen=True)
class TemperatureLog:
    unit: StorageLocation
    month: dt.date
    days: list[LogDay]
    excursions: list[Excursion]
    readings: int
    out_of_range: int
    missed_days: list[dt.date]  # past days with fewer than two checks recorded by hand

    @property
    def previous(self) -> dt.date:
        return (self.month - dt.timedelta(days=1)).replace(day=1)

    @property
    def next(self) -> dt.date:
        return (self.month + dt.timedelta(days=32)).replace(day=1)


def temperature_log(location: StorageLocation, month: dt.date) -> TemperatureLog:
    """A unit's readings of one month at the pharmacy, by day, each out-of-range reading
    flagged with the excursion it belongs to (the latest excursion that started at or
    before it). Every day of the month is listed so a missed check shows."""
    site = location.site
    first = month.replace(day=1)
    days_in_month = calendar.monthrange(first.year, first.month)[1]
    start, _ = day_bounds(site, first)
    _, end = day_bounds(site, first.replace(day=days_in_month))
    readings = list(
        TemperatureReading.objects.select_related("recorded_by")
        .filter(location=location, recorded_at__gte=start, recorded_at__lt=end)
        .order_by("recorded_at", "pk")
    )
    excursions = list(
        Excursion.objects.select_related("reading", "resolved_by")
        .filter(location=location, reading__recorded_at__lt=end)
        .order_by("reading__recorded_at", "pk")
    )
    starts = [e.reading.recorded_at for e in excursions]
    days = {
        first.replace(day=d): LogDay(day=first.replace(day=d)) for d in range(1, days_in_month + 1)
    }
    flagged = 0
    tz = site.tz
    for reading in readings:
        local = reading.recorded_at.astimezone(tz)
        outside = is_out_of_range(location, reading)
        excursion_id = None
        if outside:
            flagged += 1
            index = bisect.bisect_right(starts, reading.recorded_at) - 1
            if index >= 0:
                excursion_id = excursions[index].pk
        line = LogLine(
            reading=reading, local=local, out_of_range=outside, excursion_id=excursion_id
        )
        day = days[local.date()]
        (day.manual if reading.source == ReadingSource.MANUAL else day.logger).append(line)
    today = site.today()
    shown = [
        e
        for e in excursions
        if e.reading.recorded_at >= start
        or e.status == ExcursionStatus.OPEN
        or (e.resolved_at is not None and e.resolved_at >= start)
    ]
    return TemperatureLog(
        unit=location,
        month=first,
        days=list(days.values()),
        excursions=shown,
        readings=len(readings),
        out_of_range=flagged,
        missed_days=[d.day for d in days.values() if d.day < today and d.checks < CHECKS_PER_DAY],
    )


def now_local(site: Site) -> dt.datetime:
    return timezone.now().astimezone(site.tz)
