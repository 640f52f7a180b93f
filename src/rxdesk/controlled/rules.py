"""Pure rules of the DEA records (no Django, no database): how an inventory counts a
container, the deadlines of a theft or significant loss (DEA Form 106), and how long a DEA
Form 222 stays valid.

Source: the team reference ``controlled-substances.md`` — inventories and their counting
rules (§2.3, 21 CFR 1304.11), Form 222 validity (§3.1, 21 CFR 1305), theft and loss
notification and the Form 106 deadline (§5.1, 21 CFR 1301.76(b); final rule 88 FR 40707,
effective 24 Jul 2023). Business days skip weekends and the US federal holidays
(5 U.S.C. 6103, with the observed-day rule for Saturdays and Sundays)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from functools import cache

from rxdesk.core.errors import Invalid

__all__ = [
    "COUNT_METHOD_LABELS",
    "EXACT_COUNT_ABOVE",
    "FORM_106_COMPLETE_DAYS",
    "FORM_222_VALID_DAYS",
    "CountMethod",
    "LossDeadlines",
    "add_business_days",
    "count_method",
    "federal_holidays",
    "form_106_deadlines",
    "form_222_expires_on",
    "is_business_day",
]

# An opened C-III–V container holding more than this many tablets or capsules is counted
# exactly (1304.11(e)(3)(iii)): 1,000 may be estimated, 1,001 may not.
EXACT_COUNT_ABOVE = 1000
# Form 106 completed electronically within 45 calendar days of discovery.
FORM_106_COMPLETE_DAYS = 45
# A Form 222 is not valid more than 60 days after it is executed (1305.13).
FORM_222_VALID_DAYS = 60

_SCHEDULES = {"2": 2, "2N": 2, "3": 3, "3N": 3, "4": 4, "5": 5}


class CountMethod(StrEnum):
    """How an inventory records one container (labels in COUNT_METHOD_LABELS)."""

    SEALED = "sealed"
    EXACT = "exact"
    ESTIMATE = "estimate"


COUNT_METHOD_LABELS = {
    CountMethod.SEALED: "Sealed: count the containers × the labeled size",
    CountMethod.EXACT: "Opened: exact count or measure",
    CountMethod.ESTIMATE: "Opened: an estimated count or measure is allowed",
}
_ROMAN = {"II": "2", "III": "3", "IV": "4", "V": "5"}


def _schedule(schedule: str) -> int:
    """2 for C-II (2, 2N, II, CII, C-II…), 3, 4 or 5; anything else is refused."""
    text = (schedule or "").strip().upper().replace("-", "")
    text = text.removeprefix("C")
    narcotic = len(text) > 1 and text.endswith("N")
    core = text[:-1] if narcotic else text
    key = _ROMAN.get(core, core) + ("N" if narcotic else "")
    if key not in _SCHEDULES:
        raise Invalid(
            f"{schedule!r} is not a controlled-substance schedule (2, 2N, 3, 3N, 4 or 5).",
            field="schedule",
        )
    return _SCHEDULES[key]


def count_method(
    *, schedule: str, opened: bool, units_in_container: Decimal | int, solid: bool
) -> CountMethod:
    """The counting rule for one container of a controlled substance at an inventory.

    ``units_in_container``: what the (labeled) commercial container holds; ``solid``: the
    unit is a tablet or capsule (the 1,000-unit rule speaks of tablets and capsules only)."""
    level = _schedule(schedule)
    units = Decimal(units_in_container)
    if not units.is_finite() or units <= 0:
        raise Invalid("A container holds more than zero units.", field="units_in_container")
    if not opened:
        return CountMethod.SEALED
    if level == 2:
        return CountMethod.EXACT
    if solid and units > EXACT_COUNT_ABOVE:
        return CountMethod.EXACT
    return CountMethod.ESTIMATE


# --------------------------------------------------------------------------------------
# Business days


def _nth_weekday(year: int, month: int, weekday: int, n: int) -> dt.date:
    """The n-th ``weekday`` (Monday 0) of the month; n = -1 for the last one."""
    if n > 0:
        first = dt.date(year, month, 1)
        return first + dt.timedelta(days=(weekday - first.weekday()) % 7 + 7 * (n - 1))
    last = dt.date(year + (month == 12), month % 12 + 1, 1) - dt.timedelta(days=1)
    return last - dt.timedelta(days=(last.weekday() - weekday) % 7)


def _observed(day: dt.date) -> dt.date:
    if day.weekday() == 5:
        return day - dt.timedelta(days=1)
    if day.weekday() == 6:
        return day + dt.timedelta(days=1)
    return day


@cache
def federal_holidays(year: int) -> frozenset[dt.date]:
    """The days federal offices close in ``year`` (a holiday on a Saturday is observed on
    the Friday before, on a Sunday the Monday after). Juneteenth counts from 2021."""
    fixed = [(1, 1), (7, 4), (11, 11), (12, 25)]
    if year >= 2021:
        fixed.append((6, 19))
    days = {_observed(dt.date(year, m, d)) for m, d in fixed}
    days |= {
        _nth_weekday(year, 1, 0, 3),  # Birthday of Martin Luther King, Jr.
        _nth_weekday(year, 2, 0, 3),  # Washington's Birthday
        _nth_weekday(year, 5, 0, -1),  # Memorial Day
        _nth_weekday(year, 9, 0, 1),  # Labor Day
        _nth_weekday(year, 10, 0, 2),  # Columbus Day
        _nth_weekday(year, 11, 3, 4),  # Thanksgiving Day
    }
    # New Year's Day of the next year observed on 31 December (a Saturday 1 January).
    if dt.date(year + 1, 1, 1).weekday() == 5:
        days.add(dt.date(year, 12, 31))
    return frozenset(d for d in days if d.year == year)


def is_business_day(day: dt.date) -> bool:
    return day.weekday() < 5 and day not in federal_holidays(day.year)


def add_business_days(day: dt.date, count: int) -> dt.date:
    """The ``count``-th business day after ``day`` (``day`` itself not counted)."""
    if count < 0:
        raise Invalid("Count business days forward only.", field="count")
    out = day
    while count:
        out += dt.timedelta(days=1)
        if is_business_day(out):
            count -= 1
    return out


# --------------------------------------------------------------------------------------
# Deadlines


@dataclass(frozen=True, slots=True)
class LossDeadlines:
    """The two clocks a theft or significant loss starts on its discovery."""

    discovered_on: dt.date
    notify_by: dt.date  # written notice to the DEA Field Division Office
    complete_by: dt.date  # DEA Form 106 submitted electronically


def form_106_deadlines(discovered_on: dt.date) -> LossDeadlines:
    """Notice in writing within one business day of discovery; Form 106 within 45 calendar
    days of discovery. The clocks start at discovery, not at the event."""
    return LossDeadlines(
        discovered_on=discovered_on,
        notify_by=add_business_days(discovered_on, 1),
        complete_by=discovered_on + dt.timedelta(days=FORM_106_COMPLETE_DAYS),
    )


def form_222_expires_on(executed_on: dt.date) -> dt.date:
    """The last day a supplier may ship against a Form 222 executed on ``executed_on``."""
    return executed_on + dt.timedelta(days=FORM_222_VALID_DAYS)
