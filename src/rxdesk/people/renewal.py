"""Continuing-education hours toward a renewal, and the due date of a competency: pure
functions (no database), tested directly and with hypothesis.

A renewal cycle is the ``cycle_months`` ending on the credential's expiry date, both ends
included from the day after the same date ``cycle_months`` earlier: PTCB's CPhT
recertification asks for 20 contact hours in the two years before the certification
expires, at least 1 in pharmacy law and 1 in patient safety. Law and patient-safety hours
count toward the total too. Hours are Decimal, added exactly: no rounding anywhere."""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from rxdesk.people import acpe

ZERO = Decimal("0")


@dataclass(frozen=True)
class Rule:
    """What a renewal asks: hours in total, of them in law and in patient safety."""

    hours: Decimal
    law_hours: Decimal
    safety_hours: Decimal
    cycle_months: int


@dataclass(frozen=True)
class Credit:
    """One continuing-education activity completed."""

    completed_on: dt.date
    hours: Decimal
    topic: str


@dataclass(frozen=True)
class Progress:
    """Hours earned in the cycle ending ``cycle_end`` and what is still short."""

    cycle_start: dt.date
    cycle_end: dt.date
    earned: Decimal
    law: Decimal
    safety: Decimal
    short_total: Decimal
    short_law: Decimal
    short_safety: Decimal

    @property
    def met(self) -> bool:
        return self.short_total == ZERO and self.short_law == ZERO and self.short_safety == ZERO

    @property
    def short(self) -> Decimal:
        """The hours still to earn: the total short, or more when law or patient safety is
        short by more than the total is (those hours count toward the total)."""
        return max(self.short_total, self.short_law + self.short_safety)


def add_months(day: dt.date, months: int) -> dt.date:
    """The same day ``months`` later (or earlier), or the month's last day when shorter."""
    month0 = day.month - 1 + months
    year, month = day.year + month0 // 12, month0 % 12 + 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def cycle(ends_on: dt.date, months: int) -> tuple[dt.date, dt.date]:
    """The first and last day of the ``months``-long cycle ending on ``ends_on``."""
    if months < 1:
        raise ValueError("a cycle lasts at least a month")
    return add_months(ends_on, -months) + dt.timedelta(days=1), ends_on


def progress(credits: Iterable[Credit], rule: Rule, *, ends_on: dt.date) -> Progress:
    """Hours earned toward ``rule`` in the cycle ending ``ends_on``."""
    start, end = cycle(ends_on, rule.cycle_months)
    earned = law = safety = ZERO
    for c in credits:
        if not start <= c.completed_on <= end:
            continue
        earned += c.hours
        if c.topic == acpe.LAW:
            law += c.hours
        elif c.topic == acpe.PATIENT_SAFETY:
            safety += c.hours
    return Progress(
        cycle_start=start,
        cycle_end=end,
        earned=earned,
        law=law,
        safety=safety,
        short_total=max(ZERO, rule.hours - earned),
        short_law=max(ZERO, rule.law_hours - law),
        short_safety=max(ZERO, rule.safety_hours - safety),
    )


# --- Competency -----------------------------------------------------------------------------

CURRENT, DUE_SOON, LAPSED, NOT_CURRENT, NEVER = (
    "current",
    "due soon",
    "lapsed",
    "not current",
    "never assessed",
)


def next_due(assessed_on: dt.date, renew_months: int, *, passed: bool) -> dt.date | None:
    """When a passed assessment must be repeated (None: never, or not passed)."""
    if not passed or renew_months <= 0:
        return None
    return add_months(assessed_on, renew_months)


def competency_state(
    *, passed_due: dt.date | None, has_pass: bool, failed_since: bool, today: dt.date, window: int
) -> str:
    """Where a person stands on a skill: ``failed_since`` is a fail (or needs retraining)
    after the last pass, which leaves the skill not current whatever the due date says."""
    if failed_since:
        return NOT_CURRENT
    if not has_pass:
        return NEVER
    if passed_due is None:
        return CURRENT
    if passed_due < today:
        return LAPSED
    if (passed_due - today).days <= window:
        return DUE_SOON
    return CURRENT
