"""Staff competency rules, pure (rxdesk.compounding.competency): the initial garbing
qualification (three initial fingertip samples in a row, a failure resets the run), the
6- and 3-month boundaries the day before, on and after the due date, a failed latest result
lapses, hazardous drugs add training, and each category's requirements."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rxdesk.compounding import competency as c
from rxdesk.compounding.competency import (
    Requirement,
    Result,
    add_months,
    gft_passed,
    initially_qualified,
    lapses,
    months_for,
    requirements,
    standing,
)

D = dt.date
DONE = D(2026, 1, 15)


def gft(day: dt.date, passed: bool = True, *, initial: bool = False) -> Result:
    return Result(c.GARBING_GFT, day, passed, initial)


QUALIFIED_FROM = D(2025, 12, 1)


def initial_run(start: dt.date = QUALIFIED_FROM) -> list[Result]:
    return [gft(start + dt.timedelta(days=n), initial=True) for n in range(3)]


def sterile_on(day: dt.date, *, passed: bool = True) -> list[Result]:
    """Qualified earlier, then training, fingertip sampling and media fill on ``day``."""
    return [
        *initial_run(),
        Result(c.DIDACTIC_STERILE, day, True),
        gft(day, passed),
        Result(c.MEDIA_FILL, day, passed),
    ]


# --- Each category's requirements ------------------------------------------------------------


@pytest.mark.parametrize(
    ("category", "expected"),
    [
        ("nonsterile", [(c.DIDACTIC_NONSTERILE, 12), (c.GARBING_NONSTERILE, 12)]),
        ("immediate-use", [(c.DIDACTIC_STERILE, 12)]),
        ("1", [(c.DIDACTIC_STERILE, 12), (c.GARBING_GFT, 6), (c.MEDIA_FILL, 6)]),
        ("2", [(c.DIDACTIC_STERILE, 12), (c.GARBING_GFT, 6), (c.MEDIA_FILL, 6)]),
        ("3", [(c.DIDACTIC_STERILE, 12), (c.GARBING_GFT, 3), (c.MEDIA_FILL, 3)]),
    ],
)
def test_each_categorys_requirements(category, expected):
    assert [(r.kind, r.months) for r in requirements(category)] == expected
    with_hd = [(r.kind, r.months) for r in requirements(category, hazardous=True)]
    assert with_hd == [*expected, (c.HD_TRAINING, 12)]


def test_an_unknown_category_is_an_error():
    with pytest.raises(ValueError):
        requirements("4")


@pytest.mark.parametrize(
    ("kind", "category", "months"),
    [
        (c.GARBING_GFT, "2", 6),
        (c.GARBING_GFT, "3", 3),
        (c.MEDIA_FILL, "nonsterile", 6),
        (c.MEDIA_FILL, "3", 3),
        (c.DIDACTIC_STERILE, "3", 12),
        (c.CLEANING, "2", 12),
        (c.HD_TRAINING, "1", 12),
        (c.GARBING_NONSTERILE, "2", 12),
    ],
)
def test_months_for_a_kind_by_the_sites_most_demanding_category(kind, category, months):
    assert months_for(kind, category) == months


# --- Dates -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "months", "expected"),
    [
        (D(2026, 1, 15), 6, D(2026, 7, 15)),
        (D(2026, 1, 15), 3, D(2026, 4, 15)),
        (D(2025, 8, 31), 6, D(2026, 2, 28)),
        (D(2027, 8, 31), 6, D(2028, 2, 29)),
        (D(2026, 11, 30), 3, D(2027, 2, 28)),
        (D(2026, 12, 31), 12, D(2027, 12, 31)),
        (D(2024, 2, 29), 12, D(2025, 2, 28)),
    ],
)
def test_add_months_keeps_the_day_or_takes_the_months_last(day, months, expected):
    assert add_months(day, months) == expected


@given(st.dates(min_value=D(2000, 1, 1), max_value=D(2090, 1, 1)), st.integers(1, 36))
def test_property_add_months_is_later_and_within_the_month(day, months):
    later = add_months(day, months)
    assert later > day
    assert (later.year - day.year) * 12 + later.month - day.month == months
    assert later.day <= day.day


# --- Fingertip sampling verdicts and the initial qualification -----------------------------


@pytest.mark.parametrize(
    ("cfu", "initial", "passed"),
    [(0, True, True), (1, True, False), (3, False, True), (4, False, False), (0, False, True)],
)
def test_gft_verdicts_by_action_level(cfu, initial, passed):
    assert gft_passed(cfu, initial=initial) is passed


@pytest.mark.parametrize(
    ("verdicts", "qualified"),
    [
        ([True, True, True], True),
        ([True, True], False),
        ([True, False, True, True], False),
        ([True, False, True, True, True], True),
        ([False, False, False, True, True, True], True),
        ([True, True, False, True, True], False),
    ],
)
def test_three_consecutive_initial_passes_qualify_and_a_failure_resets_the_run(verdicts, qualified):
    results = [
        gft(D(2026, 1, 1) + dt.timedelta(days=n), passed, initial=True)
        for n, passed in enumerate(verdicts)
    ]
    assert initially_qualified(results) is qualified


def test_ongoing_samples_do_not_count_towards_the_initial_qualification():
    results = [gft(D(2026, 1, n)) for n in (1, 2, 3)]

    assert initially_qualified(results) is False
    assert "initial garbing qualification" in lapses(results, "2", today=D(2026, 1, 4))[0]


def test_the_run_is_read_in_date_order_whatever_order_it_comes_in():
    results = [
        gft(D(2026, 1, 3), initial=True),
        gft(D(2026, 1, 1), initial=True),
        gft(D(2026, 1, 2), False, initial=True),
        gft(D(2026, 1, 4), initial=True),
    ]
    assert initially_qualified(results) is False  # 1 pass, 2 fail, 3 pass, 4 pass


# --- 6- and 3-month boundaries -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("category", "due"),
    [("1", D(2026, 7, 15)), ("2", D(2026, 7, 15)), ("3", D(2026, 4, 15))],
)
def test_sterile_boundaries_the_day_before_on_and_after_the_due_date(category, due):
    results = sterile_on(DONE)

    assert lapses(results, category, today=due - dt.timedelta(days=1)) == []
    assert lapses(results, category, today=due) == []
    after = lapses(results, category, today=due + dt.timedelta(days=1))
    months = 3 if category == "3" else 6
    assert after == [
        f"garbing with gloved fingertip and thumb sampling lapsed on {due:%m/%d/%Y} "
        f"(every {months} months for Category {category})",
        f"media-fill test lapsed on {due:%m/%d/%Y} (every {months} months for Category {category})",
    ]


def test_category_3_lapses_while_category_2_is_still_current():
    today = D(2026, 4, 16)
    results = sterile_on(DONE)

    assert lapses(results, "2", today=today) == []
    assert len(lapses(results, "3", today=today)) == 2


@pytest.mark.parametrize(
    ("today", "state"),
    [
        (D(2026, 6, 14), "current"),  # 31 days before the due date
        (D(2026, 6, 15), "due soon"),  # 30 days before
        (D(2026, 7, 15), "due soon"),  # the due date itself
        (D(2026, 7, 16), "lapsed"),
    ],
)
def test_standing_states_around_the_due_date(today, state):
    found = standing(sterile_on(DONE), Requirement(c.GARBING_GFT, 6), today=today)

    assert (found.state, found.due_on, found.ok) == (state, D(2026, 7, 15), state != "lapsed")


def test_twelve_month_training_boundaries():
    results = [Result(c.DIDACTIC_STERILE, DONE, True)]

    assert lapses(results, "immediate-use", today=D(2027, 1, 15)) == []
    assert lapses(results, "immediate-use", today=D(2027, 1, 16)) == [
        "sterile compounding training (didactic and test) lapsed on 01/15/2027 (every 12 "
        "months for immediate-use sterile preparations)"
    ]


# --- Failures, absences, the future ----------------------------------------------------------


def test_a_failed_latest_result_lapses_until_the_next_pass():
    failed = [*sterile_on(DONE), Result(c.MEDIA_FILL, D(2026, 2, 1), False)]
    passed_again = [*failed, Result(c.MEDIA_FILL, D(2026, 2, 20), True)]

    assert lapses(failed, "2", today=D(2026, 2, 2)) == [
        "failed the last media-fill test on 02/01/2026"
    ]
    assert standing(failed, Requirement(c.MEDIA_FILL, 6), today=D(2026, 2, 2)).state == "failed"
    assert lapses(passed_again, "2", today=D(2026, 2, 21)) == []


def test_an_older_failure_does_not_count_once_passed():
    results = [*initial_run(), gft(D(2026, 1, 2), False), *sterile_on(DONE)[3:]]

    assert lapses(results, "2", today=D(2026, 1, 16)) == []


def test_nothing_on_file_names_each_missing_evaluation():
    assert lapses([], "nonsterile", today=DONE) == [
        "has no nonsterile compounding training (didactic and test) on file",
        "has no hand hygiene and garbing (nonsterile) on file",
    ]
    assert lapses([], "3", today=DONE)[0].startswith("has not completed the initial garbing")
    assert len(lapses([], "3", today=DONE)) == 4


def test_results_after_today_are_ignored():
    future = [Result(c.DIDACTIC_STERILE, D(2026, 3, 1), True)]
    assert lapses(future, "immediate-use", today=D(2026, 2, 1)) == [
        "has no sterile compounding training (didactic and test) on file"
    ]


def test_hazardous_drugs_add_training():
    results = sterile_on(DONE)

    assert lapses(results, "2", today=D(2026, 2, 1)) == []
    assert lapses(results, "2", hazardous=True, today=D(2026, 2, 1)) == [
        "has no hazardous drug handling training (USP <800>) on file"
    ]
    trained = [*results, Result(c.HD_TRAINING, D(2025, 2, 1), True)]
    assert lapses(trained, "2", hazardous=True, today=D(2026, 2, 1)) == []
    assert lapses(trained, "2", hazardous=True, today=D(2026, 2, 2)) == [
        "hazardous drug handling training (USP <800>) lapsed on 02/01/2026 (every 12 months "
        "for Category 2)"
    ]


# --- Property: ok exactly when the last result passed and is not past due ------------------


@given(
    st.lists(
        st.tuples(st.integers(0, 800), st.booleans()),
        min_size=0,
        max_size=6,
    ),
    st.integers(0, 900),
    st.sampled_from([3, 6, 12]),
)
def test_property_standing_is_ok_exactly_when_the_last_passed_and_is_not_past_due(
    evaluations, today_offset, months
):
    start = D(2024, 1, 1)
    results = [Result(c.MEDIA_FILL, start + dt.timedelta(days=n), p) for n, p in evaluations]
    today = start + dt.timedelta(days=today_offset)

    found = standing(results, Requirement(c.MEDIA_FILL, months), today=today)

    past = sorted((r for r in results if r.performed_on <= today), key=lambda r: r.performed_on)
    if not past:
        assert found.state == "never" and not found.ok
        return
    last_day = past[-1].performed_on
    # On a day with several results the last one given counts (stable sort by date).
    last = past[-1]
    assert found.last == last
    assert found.ok is (last.passed and today <= add_months(last_day, months))
