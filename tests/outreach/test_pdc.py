"""The proportion of days covered (rxdesk.outreach.pdc): hand-computed periods and
properties."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rxdesk.outreach import pdc
from rxdesk.outreach.pdc import Dispensing as D

JAN = dt.date(2026, 1, 1)


def d(month: int, day: int) -> dt.date:
    return dt.date(2026, month, day)


def test_it_counts_gaps_between_fills():
    # Jan 1–30, Jan 31–Mar 1, Mar 15–Apr 13: 90 days of Jan 1–Jun 29 (180).
    result = pdc.pdc([D(d(1, 1), 30), D(d(1, 31), 30), D(d(3, 15), 30)], d(1, 1), d(6, 29))
    assert (result.fills, result.index_date) == (3, d(1, 1))
    assert (result.covered_days, result.period_days) == (90, 180)
    assert result.pdc == Decimal("0.5000")
    assert result.percent == Decimal("50.00")
    assert result.low is True


def test_it_shifts_an_early_refill_after_the_supply_on_hand():
    # Unshifted the supplies overlap (Jan 21–30 twice) and cover only Jan 1–Mar 21 (80);
    # shifted they cover every day of Jan 1–Mar 31 (90).
    result = pdc.pdc([D(d(1, 1), 30), D(d(1, 21), 30), D(d(2, 20), 30)], d(1, 1), d(3, 31))
    assert (result.covered_days, result.period_days) == (90, 90)
    assert result.pdc == Decimal("1.0000")
    assert result.low is False


def test_it_does_not_count_days_after_the_period_end():
    # Jan 1–10 (10) and Jan 25–31 of a 30-day supply (7): 17 of 31.
    result = pdc.pdc([D(d(1, 1), 10), D(d(1, 25), 30)], d(1, 1), d(1, 31))
    assert (result.covered_days, result.period_days) == (17, 31)
    assert result.pdc == Decimal("0.5484")  # 17/31 = 0.548387… half up


def test_it_starts_at_the_first_fill_in_the_period():
    # The Jan 20 fill is before the period; index Feb 10; Feb 10–Mar 31 is 19 + 31 = 50 days;
    # Feb 10–Mar 11 (30) and Mar 20–31 (12) covered: 42/50.
    fills = [D(d(1, 20), 30), D(d(2, 10), 30), D(d(3, 20), 30)]
    result = pdc.pdc(fills, d(2, 1), d(3, 31))
    assert (result.fills, result.index_date) == (2, d(2, 10))
    assert (result.covered_days, result.period_days) == (42, 50)
    assert result.pdc == Decimal("0.8400")


def test_it_rounds_to_four_places_half_up():
    result = pdc.pdc([D(d(1, 1), 1), D(d(1, 2), 1)], d(1, 1), d(1, 3))
    assert result.pdc == Decimal("0.6667")


def test_it_does_not_measure_one_fill():
    result = pdc.pdc([D(d(1, 5), 30), D(d(7, 1), 30)], d(1, 1), d(6, 29))
    assert result.measured is False
    assert (result.fills, result.index_date, result.pdc) == (1, d(1, 5), None)
    assert result.low is False
    assert pdc.pdc([], d(1, 1), d(6, 29)).fills == 0


def test_it_refuses_a_period_ending_before_it_starts_and_an_empty_supply():
    with pytest.raises(ValueError):
        pdc.pdc([], d(2, 1), d(1, 1))
    with pytest.raises(ValueError):
        pdc.pdc([D(d(1, 1), 0), D(d(1, 2), 30)], d(1, 1), d(3, 1))


def test_it_groups_by_active_ingredient_without_salts():
    assert pdc.ingredients("ATORVASTATIN CALCIUM TRIHYDRATE") == ("ATORVASTATIN",)
    assert pdc.drug_key("LOSARTAN POTASSIUM; HYDROCHLOROTHIAZIDE") == (
        "HYDROCHLOROTHIAZIDE / LOSARTAN"
    )
    assert pdc.drug_key("", "Metformin Hydrochloride") == "METFORMIN"
    assert pdc.classes_of("METFORMIN HYDROCHLORIDE") == ["diabetes"]
    assert pdc.classes_of("LOSARTAN POTASSIUM; HYDROCHLOROTHIAZIDE") == ["ras"]
    assert pdc.classes_of("SITAGLIPTIN; METFORMIN HYDROCHLORIDE") == ["diabetes"]
    assert pdc.classes_of("SIMVASTATIN") == ["statins"]
    assert pdc.classes_of("INSULIN GLARGINE") == []
    assert pdc.classes_of("AMLODIPINE BESYLATE") == []


def _reference(fills: list[D], start: dt.date, end: dt.date) -> tuple[int, int] | None:
    """Day by day: each day the patient takes one dose if any is at home."""
    inside = [f for f in fills if start <= f.on <= end]
    if len(inside) < 2:
        return None
    index = min(f.on for f in inside)
    at_home = 0
    covered = 0
    day = index
    while day <= end:
        at_home += sum(f.days_supply for f in inside if f.on == day)
        if at_home:
            covered += 1
            at_home -= 1
        day += dt.timedelta(days=1)
    return covered, (end - index).days + 1


fill = st.builds(
    D,
    on=st.integers(min_value=-40, max_value=420).map(lambda n: JAN + dt.timedelta(days=n)),
    days_supply=st.integers(min_value=1, max_value=120),
)


@given(st.lists(fill, max_size=12), st.integers(min_value=0, max_value=400))
def test_it_agrees_with_counting_day_by_day(fills, length):
    end = JAN + dt.timedelta(days=length)
    result = pdc.pdc(fills, JAN, end)
    expected = _reference(fills, JAN, end)
    if expected is None:
        assert result.pdc is None
    else:
        assert (result.covered_days, result.period_days) == expected
        assert result.pdc is not None and Decimal(0) <= result.pdc <= Decimal(1)
        assert result.pdc.as_tuple().exponent == -4


@given(st.lists(fill, min_size=2, max_size=10), fill, st.integers(min_value=0, max_value=400))
def test_more_fills_never_lower_it(fills, extra, length):
    end = JAN + dt.timedelta(days=length)
    before = pdc.pdc(fills, JAN, end)
    if before.pdc is None or before.index_date is None or extra.on < before.index_date:
        return  # an earlier fill moves the index date: a longer period, not more supply
    after = pdc.pdc([*fills, extra], JAN, end)
    assert after.pdc is not None and after.pdc >= before.pdc


@given(st.lists(fill, max_size=10))
def test_the_order_of_the_fills_does_not_matter(fills):
    end = JAN + dt.timedelta(days=179)
    assert pdc.pdc(fills, JAN, end) == pdc.pdc(list(reversed(fills)), JAN, end)
