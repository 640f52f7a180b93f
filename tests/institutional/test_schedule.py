"""Administration times from an order's directions (rxdesk.institutional.schedule): the
frequency names the slots, the facility's pass times give the clock times; PRN and anything
unknown give none (the technician picks)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rxdesk.institutional import schedule
from rxdesk.institutional.choices import Slot

PASS = [
    (dt.time(8, 0), Slot.MORNING),
    (dt.time(12, 0), Slot.NOON),
    (dt.time(17, 0), Slot.EVENING),
    (dt.time(21, 0), Slot.BEDTIME),
]


@pytest.mark.parametrize(
    ("sig", "times"),
    [
        ("1 CAP PO DAILY", ["08:00"]),
        ("1 tab po qd", ["08:00"]),
        ("1 T PO BID", ["08:00", "17:00"]),
        ("1 T PO Q12H", ["08:00", "17:00"]),
        ("2 TABS PO TID", ["08:00", "12:00", "17:00"]),
        ("1 T PO QID", ["08:00", "12:00", "17:00", "21:00"]),
        ("1 T PO QHS", ["21:00"]),
        ("Take 1 tablet by mouth at bedtime", ["21:00"]),
        ("Take 1 tablet by mouth twice daily", ["08:00", "17:00"]),
        ("1 T PO Q4H PRN PAIN", []),
        ("1 T PO BID PRN", []),
        ("use as directed", []),
        ("1 T PO BID AND QHS", []),  # two frequencies: a person decides
        ("", []),
    ],
)
def test_it_offers_the_usual_times_of_a_frequency(sig, times):
    assert schedule.default_times(sig, PASS) == times


def test_it_uses_the_facilitys_own_pass_times():
    early = [
        (dt.time(6, 0), Slot.MORNING),
        (dt.time(9, 0), Slot.MORNING),
        (dt.time(18, 0), Slot.EVENING),
    ]
    assert schedule.default_times("1 T PO BID", early) == ["06:00", "18:00"]


def test_a_facility_without_a_slot_gets_no_guess():
    no_noon = [p for p in PASS if p[1] != Slot.NOON]
    assert schedule.default_times("1 T PO TID", no_noon) == []
    assert schedule.default_times("1 T PO DAILY", []) == []


def test_doses_per_day_is_decimal():
    assert schedule.doses_per_day(["08:00", "17:00"], Decimal("0.5")) == Decimal("1.0")
    assert schedule.doses_per_day([], Decimal("2")) == 0
    with pytest.raises(TypeError):
        schedule.doses_per_day(["08:00"], 0.5)  # type: ignore[arg-type]


def test_clock_times_parse_strictly():
    assert schedule.parse_clock("08:00") == dt.time(8, 0)
    assert schedule.parse_clock("8:30") == dt.time(8, 30)
    for bad in ("24:00", "08:60", "0800", "8", "", "08:00:00", "ab:cd"):
        assert schedule.parse_clock(bad) is None


slots = st.lists(
    st.tuples(
        st.times().map(lambda t: t.replace(second=0, microsecond=0)),
        st.sampled_from(list(Slot.values)),
    ),
    max_size=8,
)


@given(st.text(max_size=60), slots)
def test_any_directions_give_pass_times_of_the_facility_or_none(sig, pass_times):
    times = schedule.default_times(sig, pass_times)
    offered = {schedule.clock(t) for t, _ in pass_times}
    assert set(times) <= offered
    assert times == sorted(set(times))
    assert len(times) <= 4


@given(
    st.sampled_from(["DAILY", "BID", "TID", "QID", "QHS", "Q12H"]),
    st.sampled_from(["1 T PO ", "2 CAPS PO ", "take one "]),
    st.booleans(),
)
def test_prn_always_wins(freq, dose, prn_first):
    sig = f"{dose}PRN {freq}" if prn_first else f"{dose}{freq} PRN"
    assert schedule.default_times(sig, PASS) == []


@given(
    st.lists(st.sampled_from(["08:00", "12:00", "17:00", "21:00"]), unique=True),
    st.decimals(min_value=Decimal("0.001"), max_value=Decimal("1000"), places=3),
)
def test_doses_per_day_is_times_by_dose(times, dose):
    assert schedule.doses_per_day(times, dose) == len(times) * dose
