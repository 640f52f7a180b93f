"""Periods, due cycles, proration and quantities of cycle fills (pure arithmetic)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rxdesk.institutional import cycles

DAYS = st.sampled_from(cycles.CYCLE_DAYS)
DATES = st.dates(min_value=dt.date(2000, 1, 1), max_value=dt.date(2060, 12, 31))


@given(anchor=DATES, days=DAYS, day=DATES)
def test_it_puts_every_day_in_exactly_one_period(anchor, days, day):
    period = cycles.period_containing(anchor, days, day)
    assert period.covers(day)
    assert period.days == days
    assert (period.start - anchor).days % days == 0


@given(anchor=DATES, days=DAYS, day=DATES)
def test_periods_tile_the_calendar_without_gaps_or_overlaps(anchor, days, day):
    period = cycles.period_containing(anchor, days, day)
    after = cycles.next_period(anchor, days, day)
    assert after.start == period.end + dt.timedelta(days=1)
    before = cycles.period_containing(anchor, days, period.start - dt.timedelta(days=1))
    assert before.end == period.start - dt.timedelta(days=1)
    # every day of the period maps back to the same period
    for offset in (0, days // 2, days - 1):
        assert cycles.period_containing(anchor, days, period.start + dt.timedelta(offset)) == period


@given(anchor=DATES, days=DAYS, today=DATES, lead=st.integers(0, 6))
def test_due_is_the_first_period_starting_within_the_lead_days(anchor, days, today, lead):
    found = cycles.due(anchor, days, lead, today)
    horizon = today + dt.timedelta(days=lead)
    if found is None:
        start = cycles.next_period(anchor, days, today - dt.timedelta(days=1)).start
        assert start > horizon
    else:
        assert today <= found.start <= horizon
        again = cycles.due(anchor, days, lead, today, {found.start})
        assert again is None or again.start > found.start


def test_due_examples():
    anchor = dt.date(2026, 11, 1)
    assert cycles.due(anchor, 14, 3, dt.date(2026, 11, 12)) == cycles.Period(
        dt.date(2026, 11, 15), dt.date(2026, 11, 28)
    )
    assert cycles.due(anchor, 14, 3, dt.date(2026, 11, 11)) is None
    assert cycles.due(anchor, 14, 3, dt.date(2026, 11, 12), {dt.date(2026, 11, 15)}) is None
    assert cycles.due(anchor, 7, 0, dt.date(2026, 11, 8)) == cycles.Period(
        dt.date(2026, 11, 8), dt.date(2026, 11, 14)
    )


@given(window_start=DATES, days=DAYS, resident_anchor=DATES)
def test_an_anniversary_period_starts_within_the_run_window(window_start, days, resident_anchor):
    window = cycles.Period(window_start, window_start + dt.timedelta(days=days - 1))
    own = cycles.resident_period(window=window, days=days, resident_anchor=resident_anchor)
    assert window.covers(own.start)
    assert own.days == days
    assert (own.start - resident_anchor).days % days == 0


def test_by_period_the_resident_shares_the_window():
    window = cycles.Period(dt.date(2026, 11, 1), dt.date(2026, 11, 7))
    assert cycles.resident_period(window=window, days=7) == window


@given(start=DATES, length=st.integers(-40, 40))
def test_prorated_days_count_both_ends(start, length):
    end = start + dt.timedelta(days=length)
    assert cycles.prorated_days(start, end) == max(0, length + 1)


def test_prorated_days_examples():
    assert cycles.prorated_days(dt.date(2026, 11, 20), dt.date(2026, 11, 28)) == 9
    assert cycles.prorated_days(dt.date(2026, 11, 28), dt.date(2026, 11, 28)) == 1
    assert cycles.prorated_days(dt.date(2026, 11, 29), dt.date(2026, 11, 28)) == 0


@pytest.mark.parametrize(
    ("times", "dose", "days", "unit", "expected"),
    [
        (2, "1", 14, "EA", Decimal("28")),
        (3, "0.5", 7, "EA", Decimal("11")),  # 10.5 tablets: rounded up
        (1, "0.5", 9, "EA", Decimal("5")),
        (2, "2.5", 7, "ML", Decimal("35.000")),
        (3, "0.3333", 1, "ML", Decimal("1.000")),  # 0.9999 mL → 1.000
        (1, "1.2345", 1, "GM", Decimal("1.235")),  # to the thousandth, up
        (0, "1", 14, "EA", Decimal("0")),
    ],
)
def test_quantity(times, dose, days, unit, expected):
    assert cycles.quantity(times, Decimal(dose), days, unit) == expected


@given(
    times=st.integers(1, 6),
    dose=st.decimals(min_value=Decimal("0.001"), max_value=Decimal("20"), places=3),
    days=st.integers(1, 30),
)
def test_quantity_never_runs_short(times, dose, days):
    exact = times * dose * days
    whole = cycles.quantity(times, dose, days, "EA")
    assert whole >= exact and whole - exact < 1 and whole == whole.to_integral_value()
    measured = cycles.quantity(times, dose, days, "ML")
    assert measured >= exact and measured - exact < Decimal("0.001")


def test_quantity_refuses_what_it_cannot_count():
    with pytest.raises(ValueError, match="EA, ML or GM"):
        cycles.quantity(2, Decimal("1"), 7, "UN")
    with pytest.raises(ValueError, match="dose"):
        cycles.quantity(2, Decimal("0"), 7, "EA")
    with pytest.raises(ValueError, match="7, 14 or 30"):
        cycles.period_containing(dt.date(2026, 1, 1), 10, dt.date(2026, 1, 5))


def test_prn_orders_are_not_cycle_filled():
    assert cycles.cycle_filled(prn=False) is True
    assert cycles.cycle_filled(prn=True) is False
