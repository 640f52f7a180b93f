"""The pure arithmetic of med sync: sync dates at month ends, short-fill days, prorated
quantities (rounded up per billing unit), packages that can't be split, refills left."""

from __future__ import annotations

import calendar
import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rxdesk.medsync import proration as p
from rxdesk.medsync.proration import Med

D = dt.date


@pytest.mark.parametrize(
    ("year", "month", "day", "expected"),
    [
        (2027, 1, 31, D(2027, 1, 31)),
        (2027, 2, 31, D(2027, 2, 28)),
        (2027, 2, 29, D(2027, 2, 28)),
        (2027, 2, 28, D(2027, 2, 28)),
        (2028, 2, 29, D(2028, 2, 29)),  # leap year
        (2028, 2, 30, D(2028, 2, 29)),
        (2028, 2, 31, D(2028, 2, 29)),
        (2027, 4, 31, D(2027, 4, 30)),
        (2027, 4, 30, D(2027, 4, 30)),
        (2027, 12, 31, D(2027, 12, 31)),
        (2027, 6, 1, D(2027, 6, 1)),
    ],
)
def test_it_puts_the_sync_date_on_the_last_day_of_a_short_month(year, month, day, expected):
    assert p.sync_date_in(year, month, day) == expected


@pytest.mark.parametrize(
    ("after", "day", "expected"),
    [
        (D(2027, 1, 31), 31, D(2027, 2, 28)),  # Jan 31 → Feb 28
        (D(2028, 1, 31), 31, D(2028, 2, 29)),  # leap year
        (D(2027, 2, 28), 31, D(2027, 3, 31)),  # Feb's sync date passed → Mar 31
        (D(2027, 2, 27), 31, D(2027, 2, 28)),
        (D(2027, 4, 30), 31, D(2027, 5, 31)),
        (D(2027, 4, 29), 31, D(2027, 4, 30)),
        (D(2027, 12, 31), 31, D(2028, 1, 31)),  # Dec 31 → Jan
        (D(2027, 12, 15), 10, D(2028, 1, 10)),
        (D(2027, 1, 30), 30, D(2027, 2, 28)),
    ],
)
def test_it_finds_the_next_sync_date_across_month_and_year_ends(after, day, expected):
    assert p.next_sync_date(after, day) == expected


def test_it_takes_today_when_inclusive():
    assert p.next_sync_date(D(2027, 4, 30), 31, inclusive=True) == D(2027, 4, 30)
    assert p.next_sync_date(D(2027, 4, 30), 31) == D(2027, 5, 31)


def test_it_refuses_a_day_outside_the_month():
    with pytest.raises(ValueError):
        p.sync_date_in(2027, 1, 0)
    with pytest.raises(ValueError):
        p.sync_date_in(2027, 1, 32)


@pytest.mark.parametrize(
    ("quantity", "ds", "days", "unit", "expected"),
    [
        (Decimal("30"), 30, 12, "EA", Decimal("12")),
        (Decimal("60"), 30, 7, "EA", Decimal("14")),  # 2 a day
        (Decimal("45"), 30, 7, "EA", Decimal("11")),  # 1.5 a day: 10.5 → 11
        (Decimal("90"), 90, 1, "EA", Decimal("1")),
        (Decimal("30"), 90, 1, "EA", Decimal("1")),  # 0.333… → 1
        (Decimal("150"), 30, 11, "ML", Decimal("55.0")),
        (Decimal("100"), 30, 7, "ML", Decimal("23.4")),  # 23.333… → 23.4
        (Decimal("473"), 31, 3, "ML", Decimal("45.8")),  # 45.774… → 45.8
        (Decimal("30"), 30, 29, "EA", Decimal("29")),
        (Decimal("30"), 30, 30, "EA", Decimal("30")),
        (Decimal("30"), 30, 0, "EA", Decimal("0")),
    ],
)
def test_it_prorates_rounding_up_per_billing_unit(quantity, ds, days, unit, expected):
    got = p.prorated_quantity(quantity, ds, days, unit)
    assert got == expected
    assert str(got) == str(expected)


@given(
    st.integers(min_value=1, max_value=500_000).map(lambda n: Decimal(n) / 1000),
    st.integers(min_value=1, max_value=365),
    st.integers(min_value=0, max_value=365),
    st.sampled_from(["EA", "ML", "GM"]),
)
def test_it_never_leaves_the_patient_short_and_never_overfills(quantity, ds, days, unit):
    days = min(days, ds)
    got = p.prorated_quantity(quantity, ds, days, unit)
    step = p.ROUND_STEP[unit]
    exact = quantity * days / ds  # only compared with a tolerance below one step
    assert got <= quantity
    assert got % step == 0 or got == quantity
    # enough for every day: got × ds ≥ quantity × days, exactly, in integers
    assert got * ds >= quantity * days
    # and not a whole step more than needed (unless capped at the full quantity)
    assert got - step < exact or got == quantity


@given(st.dates(min_value=D(2000, 1, 1), max_value=D(2099, 12, 1)), st.integers(1, 31))
def test_the_next_sync_date_is_the_first_one_after(after, day):
    got = p.next_sync_date(after, day)
    assert got > after
    assert (got - after).days <= 31
    assert got.day == min(day, calendar.monthrange(got.year, got.month)[1])
    # no sync date in between
    probe = after + dt.timedelta(days=1)
    while probe < got:
        assert probe != p.sync_date_in(probe.year, probe.month, day)
        probe += dt.timedelta(days=1)


def _med(**over):
    values = {
        "key": 1,
        "quantity": Decimal("30"),
        "days_supply": 30,
        "billing_unit": "EA",
    }
    values.update(over)
    return Med(**values)


def test_a_medication_never_filled_is_due_today_and_short_filled_to_the_sync_date():
    line = p.plan_line(_med(), sync_date=D(2027, 1, 31), sync_day=31, today=D(2027, 1, 19))
    assert (line.action, line.due_date, line.days, line.quantity, line.short_fill) == (
        p.SHORT,
        D(2027, 1, 19),
        12,
        Decimal("12"),
        True,
    )


def test_due_on_the_sync_date_is_a_regular_fill():
    med = _med(last_fill_date=D(2027, 1, 1), last_days_supply=30)
    line = p.plan_line(med, sync_date=D(2027, 1, 31), sync_day=31, today=D(2027, 1, 20))
    assert (line.action, line.days, line.quantity, line.short_fill) == (
        p.REGULAR,
        30,
        Decimal("30"),
        False,
    )


def test_due_after_the_sync_date_is_short_filled_to_next_months_sync_date_in_february():
    # Sync day 31, this month's sync date Jan 31; runs out Feb 5 → short to Feb 28 (23 days).
    med = _med(last_fill_date=D(2027, 1, 6), last_days_supply=30)
    line = p.plan_line(med, sync_date=D(2027, 1, 31), sync_day=31, today=D(2027, 1, 20))
    assert (line.action, line.due_date, line.target_date, line.days, line.quantity) == (
        p.NEXT_MONTH,
        D(2027, 2, 5),
        D(2027, 2, 28),
        23,
        Decimal("23"),
    )


def test_leap_february_gives_one_more_day():
    med = _med(last_fill_date=D(2028, 1, 6), last_days_supply=30)
    line = p.plan_line(med, sync_date=D(2028, 1, 31), sync_day=31, today=D(2028, 1, 20))
    assert (line.target_date, line.days, line.quantity) == (D(2028, 2, 29), 24, Decimal("24"))


def test_december_31_rolls_into_january():
    med = _med(quantity=Decimal("60"), last_fill_date=D(2027, 12, 5), last_days_supply=30)
    line = p.plan_line(med, sync_date=D(2027, 12, 31), sync_day=31, today=D(2027, 12, 20))
    # due Jan 4 2028 → Jan 31 2028: 27 days × 2 a day
    assert (line.due_date, line.target_date, line.days, line.quantity) == (
        D(2028, 1, 4),
        D(2028, 1, 31),
        27,
        Decimal("54"),
    )


def test_april_30_short_fill():
    med = _med(last_fill_date=D(2027, 3, 20), last_days_supply=30)
    line = p.plan_line(med, sync_date=D(2027, 4, 30), sync_day=31, today=D(2027, 4, 15))
    assert (line.action, line.due_date, line.days, line.quantity) == (
        p.SHORT,
        D(2027, 4, 19),
        11,
        Decimal("11"),
    )


def test_an_overdue_medication_is_due_today():
    med = _med(last_fill_date=D(2026, 11, 1), last_days_supply=30)
    line = p.plan_line(med, sync_date=D(2027, 1, 15), sync_day=15, today=D(2027, 1, 10))
    assert (line.due_date, line.days, line.quantity) == (D(2027, 1, 10), 5, Decimal("5"))


def test_a_liquid_is_prorated_to_a_tenth_of_a_ml():
    med = _med(quantity=Decimal("100"), billing_unit="ML")
    line = p.plan_line(med, sync_date=D(2027, 1, 27), sync_day=27, today=D(2027, 1, 20))
    assert (line.days, line.quantity) == (7, Decimal("23.4"))


def test_an_inhaler_is_not_prorated():
    med = _med(quantity=Decimal("1"), days_supply=30, unsplittable=True)
    line = p.plan_line(med, sync_date=D(2027, 1, 31), sync_day=31, today=D(2027, 1, 19))
    assert (line.action, line.quantity, line.days, line.short_fill) == (
        p.ADJUST_FULL,
        Decimal("1"),
        30,
        False,
    )
    assert "align by changing the next full fill" in line.warning


def test_a_cii_is_skipped_and_a_civ_warned():
    cii = p.plan_line(
        _med(schedule="CII"), sync_date=D(2027, 1, 31), sync_day=31, today=D(2027, 1, 19)
    )
    assert (cii.action, cii.quantity) == (p.SKIP, Decimal(0))
    assert cii.problem.startswith("Controlled CII")
    civ = p.plan_line(
        _med(schedule="CIV"), sync_date=D(2027, 1, 31), sync_day=31, today=D(2027, 1, 19)
    )
    assert civ.action == p.SHORT and civ.problem == ""
    assert civ.warning == "Controlled CIV: early-fill rules apply; the pharmacist decides."


def test_refills_left_must_cover_the_fill():
    med = _med(quantity_left=Decimal("10"))
    line = p.plan_line(med, sync_date=D(2027, 1, 31), sync_day=31, today=D(2027, 1, 19))
    assert line.problem == (
        "The prescription has only 10 left for 12: ask the prescriber for a renewal."
    )
    none_left = p.plan_line(
        _med(quantity_left=Decimal("0")),
        sync_date=D(2027, 1, 31),
        sync_day=31,
        today=D(2027, 1, 19),
    )
    assert none_left.problem.startswith("The prescription has nothing left for 12")


def test_a_weekly_supply_longer_than_the_gap_fills_as_usual():
    med = _med(quantity=Decimal("7"), days_supply=7)
    line = p.plan_line(med, sync_date=D(2027, 1, 31), sync_day=31, today=D(2027, 1, 19))
    assert (line.action, line.days, line.quantity) == (p.REGULAR, 7, Decimal("7"))


@pytest.mark.parametrize(
    ("form", "package", "expected"),
    [
        ("AEROSOL, METERED", "1 INHALER in 1 CARTON (0173-0682-20) / 120 AEROSOL, METERED", True),
        ("INJECTION, SOLUTION", "5 SYRINGE in 1 CARTON", True),
        ("INJECTION, SOLUTION", "3 mL in 1 PEN", True),
        ("SOLUTION/ DROPS", "1 BOTTLE, DROPPER in 1 CARTON", True),
        ("TABLET", "30 TABLET in 1 BOTTLE (0002-1000-30)", False),
        ("CAPSULE", "90 CAPSULE in 1 BOTTLE", False),
        ("SOLUTION", "473 mL in 1 BOTTLE", False),
        ("TABLET, FILM COATED", "30 TABLET in 1 BOTTLE, PENTAGON", False),  # not "PEN"
    ],
)
def test_it_detects_packages_that_cannot_be_split(form, package, expected):
    assert p.is_unsplittable(form, package) is expected


@given(
    st.dates(min_value=D(2000, 1, 1), max_value=D(2099, 11, 1)),
    st.integers(0, 40),
    st.integers(1, 31),
    st.sampled_from([7, 14, 28, 30, 31, 90]),
)
def test_every_planned_fill_ends_on_a_sync_date(today, since, day, ds):
    """Whatever the fill history and the sync day, the fill lasts exactly to a sync date
    (or is a full supply when the gap is a full supply or more)."""
    sync_date = p.next_sync_date(today, day, inclusive=True)
    med = _med(
        quantity=Decimal(ds),
        days_supply=ds,
        last_fill_date=today - dt.timedelta(days=since),
        last_days_supply=ds,
    )
    line = p.plan_line(med, sync_date=sync_date, sync_day=day, today=today)
    assert line.due_date >= today
    assert line.target_date == p.sync_date_in(line.target_date.year, line.target_date.month, day)
    assert line.target_date >= line.due_date
    if line.action in (p.SHORT, p.NEXT_MONTH):
        assert line.days == (line.target_date - line.due_date).days
        assert 0 < line.days < ds
        assert line.quantity == line.days  # one a day
    else:
        assert (line.action, line.days, line.quantity) == (p.REGULAR, ds, Decimal(ds))
