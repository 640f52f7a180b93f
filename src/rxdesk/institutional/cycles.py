"""The arithmetic of long-term-care cycle fills (pure: no database, no clock).

A schedule fills every 7, 14 or 30 days. By *period*, every resident shares the schedule's
periods, counted from its anchor; by *anniversary*, each resident has periods of the same
length counted from their own cycle anniversary (or admission day), and a run of the
schedule takes each resident whose own period starts within the run's window. Periods tile
the calendar: every day lies in exactly one period.

An order that starts (or a resident admitted) after a period's first day gets a short,
prorated fill for the days left, so that from the next period on everything is filled
together. Medicines given as needed (PRN) are not cycle-filled: they are filled on request."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from dataclasses import dataclass
from decimal import ROUND_UP, Decimal

CYCLE_DAYS = (7, 14, 30)
MAX_LEAD_DAYS = 14
WHOLE_UNITS = ("EA",)
MEASURED_UNITS = ("ML", "GM")
THOUSANDTH = Decimal("0.001")


@dataclass(frozen=True)
class Period:
    """First and last day (both included) of a cycle."""

    start: dt.date
    end: dt.date

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def covers(self, day: dt.date) -> bool:
        return self.start <= day <= self.end

    def __str__(self) -> str:
        return f"{self.start:%m/%d}–{self.end:%m/%d}"


def _check_days(days: int) -> None:
    if days not in CYCLE_DAYS:
        raise ValueError(f"A cycle is 7, 14 or 30 days, not {days}.")


def period_containing(anchor: dt.date, days: int, day: dt.date) -> Period:
    """The period (counted from ``anchor``, forwards or back) that holds ``day``."""
    _check_days(days)
    index = (day - anchor).days // days  # floor division: days before the anchor too
    start = anchor + dt.timedelta(days=index * days)
    return Period(start, start + dt.timedelta(days=days - 1))


def next_period(anchor: dt.date, days: int, after: dt.date) -> Period:
    """The first period that starts after ``after``."""
    current = period_containing(anchor, days, after)
    start = current.end + dt.timedelta(days=1)
    return Period(start, start + dt.timedelta(days=days - 1))


def due(
    anchor: dt.date,
    days: int,
    lead_days: int,
    today: dt.date,
    generated: Collection[dt.date] = (),
) -> Period | None:
    """The period to generate now: the first one starting between today and ``lead_days``
    ahead whose start is not in ``generated``; None when nothing is due."""
    _check_days(days)
    if lead_days < 0:
        raise ValueError("Lead days cannot be negative.")
    horizon = today + dt.timedelta(days=lead_days)
    period = period_containing(anchor, days, today)
    if period.start < today:
        period = next_period(anchor, days, today)
    while period.start <= horizon:
        if period.start not in generated:
            return period
        period = next_period(anchor, days, period.start)
    return None


def resident_period(*, window: Period, days: int, resident_anchor: dt.date | None = None) -> Period:
    """The period a resident is filled for in a run covering ``window``: the window itself
    (by period), or the resident's own period starting within it (by anniversary; exactly
    one does, as the window is ``days`` long)."""
    if resident_anchor is None:
        return window
    own = period_containing(resident_anchor, days, window.start)
    if own.start < window.start:
        own = next_period(resident_anchor, days, window.start)
    return own


def prorated_days(start_day: dt.date, period_end: dt.date) -> int:
    """Days from ``start_day`` to ``period_end``, both included (0 when it starts after)."""
    return max(0, (period_end - start_day).days + 1)


def quantity(times_per_day: int, dose: Decimal, days: int, unit: str) -> Decimal:
    """What ``days`` of an order given ``times_per_day`` times at ``dose`` takes: whole units
    (EA) rounded up, measured ones (ML, GM) to the thousandth, rounded up — a cycle never
    runs short by a fraction."""
    if times_per_day < 0 or days < 0:
        raise ValueError("Times per day and days cannot be negative.")
    dose = Decimal(dose)
    if not dose.is_finite() or dose <= 0:
        raise ValueError("The dose must be more than zero.")
    total = Decimal(times_per_day) * dose * Decimal(days)
    code = (unit or "").strip().upper()
    if code in WHOLE_UNITS:
        return total.to_integral_value(rounding=ROUND_UP)
    if code in MEASURED_UNITS:
        return total.quantize(THOUSANDTH, rounding=ROUND_UP)
    raise ValueError(f"Unit {unit!r} cannot be cycle-filled: use EA, ML or GM.")


def cycle_filled(prn: bool) -> bool:
    """Whether an order is cycle-filled at all (medicines as needed are filled on request)."""
    return not prn
