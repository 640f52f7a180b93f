"""The arithmetic of the metrics (rxdesk.reports.metrics_calc), by hand and by hypothesis:
nearest-rank percentiles, rates, minutes, queue lengths rebuilt from transitions, and the
time between workflow steps."""

from __future__ import annotations

import datetime as dt
import itertools
import math
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rxdesk.reports import metrics_calc as calc

D = Decimal
T0 = dt.datetime(2026, 2, 2, 9, 0, tzinfo=dt.UTC)


def at(minutes: int) -> dt.datetime:
    return T0 + dt.timedelta(minutes=minutes)


# --- Percentiles --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "percent", "expected"),
    [
        # The textbook example: 15, 20, 35, 40, 50.
        ([15, 20, 35, 40, 50], 5, 15),  # rank ceil(0.25) = 1
        ([15, 20, 35, 40, 50], 30, 20),  # rank ceil(1.5) = 2
        ([15, 20, 35, 40, 50], 40, 20),  # rank ceil(2.0) = 2
        ([15, 20, 35, 40, 50], 50, 35),  # rank ceil(2.5) = 3
        ([15, 20, 35, 40, 50], 100, 50),
        # Even count: the median is the lower middle value (rank 2 of 4), never an average.
        ([3, 1, 4, 2], 50, 2),
        ([3, 1, 4, 2], 90, 4),  # rank ceil(3.6) = 4
        # Ten values 1..10: p90 is rank 9.
        (list(range(10, 0, -1)), 90, 9),
        ([7], 50, 7),
        ([7], 90, 7),
    ],
)
def test_nearest_rank(values, percent, expected):
    assert calc.nearest_rank([D(v) for v in values], percent) == D(expected)


def test_nearest_rank_of_nothing_is_none_and_percent_is_checked():
    assert calc.nearest_rank([], 50) is None
    with pytest.raises(ValueError):
        calc.nearest_rank([D(1)], 0)
    with pytest.raises(ValueError):
        calc.nearest_rank([D(1)], 101)


@given(
    values=st.lists(st.integers(min_value=0, max_value=10**6), min_size=1, max_size=200),
    percent=st.integers(min_value=1, max_value=100),
)
def test_nearest_rank_is_an_observation_with_enough_values_below(values, percent):
    got = calc.nearest_rank([D(v) for v in values], percent)

    assert got in [D(v) for v in values]
    at_or_below = sum(1 for v in values if v <= got)
    assert at_or_below * 100 >= percent * len(values)
    below = sum(1 for v in values if v < got)
    assert below * 100 < percent * len(values)
    assert got == sorted(values)[math.ceil(percent * len(values) / 100) - 1]


# --- Rates and minutes --------------------------------------------------------------------------


def test_per_thousand_and_percent_round_half_up_to_one_place():
    assert calc.per_thousand(3, 1200) == D("2.5")
    assert calc.per_thousand(1, 3) == D("333.3")
    assert calc.per_thousand(2, 3) == D("666.7")
    assert calc.per_thousand(0, 10) == D("0.0")
    assert calc.per_thousand(5, 0) is None
    assert calc.percent(1, 8) == D("12.5")
    assert calc.percent(1, 3) == D("33.3")
    assert calc.percent(3, 0) is None


def test_minutes_are_exact():
    assert calc.minutes(dt.timedelta(minutes=12, seconds=30)) == D("12.5")
    assert calc.minutes(dt.timedelta(seconds=3)) == D("0.1")  # 0.05 rounds half up
    assert calc.minutes(dt.timedelta(days=1, seconds=6)) == D("1440.1")


# --- Queue lengths ------------------------------------------------------------------------------


def test_queue_lengths_follow_the_transitions():
    statuses = ["queued", "to_fill", "filled"]
    steps = [
        calc.Transition(at(5), "", "queued"),  # a new fill
        calc.Transition(at(10), "queued", "to_fill"),
        calc.Transition(at(20), "to_fill", "to_fill"),  # a label print: no change
        calc.Transition(at(30), "to_fill", "filled"),
        calc.Transition(at(40), "filled", "to_fill"),  # sent back at final verification
        calc.Transition(at(60), "filled", "ready"),  # the baseline's filled fill is verified
    ]
    instants = [at(0), at(5), at(15), at(35), at(45), at(60), at(90)]

    got = calc.queue_lengths({"filled": 1, "ready": 7}, steps, instants, statuses)

    assert got == [
        {"queued": 0, "to_fill": 0, "filled": 1},
        {"queued": 1, "to_fill": 0, "filled": 1},  # a step at the instant counts
        {"queued": 0, "to_fill": 1, "filled": 1},
        {"queued": 0, "to_fill": 0, "filled": 2},
        {"queued": 0, "to_fill": 1, "filled": 1},
        {"queued": 0, "to_fill": 1, "filled": 0},
        {"queued": 0, "to_fill": 1, "filled": 0},
    ]


@given(st.lists(st.sampled_from(["a", "b", "c"]), min_size=1, max_size=30))
def test_queue_lengths_of_one_fills_path_is_one_at_its_status(path):
    # One fill walks through statuses; at every step exactly one queue holds it.
    steps = [calc.Transition(at(0), "", path[0])]
    steps += [calc.Transition(at(i + 1), a, b) for i, (a, b) in enumerate(itertools.pairwise(path))]
    instants = [at(i) for i in range(len(path))]

    got = calc.queue_lengths({}, steps, instants, ["a", "b", "c"])

    for counts, status in zip(got, path, strict=True):
        assert counts == {s: int(s == status) for s in "abc"}


# --- Time between steps -------------------------------------------------------------------------


def test_step_durations_first_reach_to_last_reach_in_the_period():
    segments = [("entered", "data_verified"), ("filled", "final_verified")]
    events = [
        (1, "entered", at(0)),
        (1, "data_verified", at(12)),
        (1, "filled", at(20)),
        (1, "final_verified", at(50)),
        # Fill 2 was sent back at final verification, filled and verified again.
        (2, "entered", at(0)),
        (2, "data_verified", at(30)),
        (2, "filled", at(40)),
        (2, "filled", at(70)),
        (2, "final_verified", at(75)),
        # Fill 3 finished data verification after the period (left out there).
        (3, "entered", at(10)),
        (3, "data_verified", at(200)),
        # Fill 4 was never verified.
        (4, "filled", at(10)),
    ]

    got = calc.step_durations(events, segments, at(0), at(120))

    assert got == {
        ("entered", "data_verified"): [D("12.0"), D("30.0")],
        ("filled", "final_verified"): [D("30.0"), D("35.0")],
    }
