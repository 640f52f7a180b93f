"""The pure modules: ACPE UAN shape, CE hours toward a renewal, competency due dates."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rxdesk.people import acpe, renewal

PTCB = renewal.Rule(Decimal("20"), Decimal("1"), Decimal("1"), 24)


def c(day: dt.date, hours: str, topic: str = "01") -> renewal.Credit:
    return renewal.Credit(day, Decimal(hours), topic)


# --- UAN --------------------------------------------------------------------------------------


def test_it_parses_a_uan():
    uan = acpe.parse(" 0197-0000-23-104-h05-t ")
    assert uan == acpe.Uan("0197", "0000", "23", "104", "H", "05", "T")
    assert uan.text == "0197-0000-23-104-H05-T"


@pytest.mark.parametrize(
    "text",
    [
        "",
        "0197-0000-23-104-H05",
        "197-0000-23-104-H05-T",
        "0197-0000-23-104-X05-T",
        "0197-0000-23-104-H5-T",
        "0197-0000-23-104-H05-Q",
        "0197/0000/23/104/H05/T",
    ],
)
def test_it_refuses_what_is_not_a_uan(text):
    assert acpe.parse(text) is None


def test_topic_labels():
    assert acpe.topic_label("03") == "Pharmacy law"
    assert acpe.topic_label("05") == "Patient safety"
    assert acpe.topic_label("42") == "Other (topic 42)"


@given(st.from_regex(r"\A\d{4}-\d{4}-\d{2}-\d{3}-[LHBT]\d{2}-[PT]\Z", fullmatch=True))
def test_every_well_formed_uan_round_trips(text):
    uan = acpe.parse(text.lower())
    assert uan is not None and uan.text == text


# --- Cycle and progress -----------------------------------------------------------------------


def test_the_cycle_is_the_24_months_ending_on_the_expiry():
    assert renewal.cycle(dt.date(2026, 6, 30), 24) == (dt.date(2024, 7, 1), dt.date(2026, 6, 30))
    # a leap day: two years before 02/29/2028 is 02/29/2026's month end, 02/28/2026
    assert renewal.cycle(dt.date(2028, 2, 29), 24) == (dt.date(2026, 3, 1), dt.date(2028, 2, 29))


def test_progress_hand_computed():
    end = dt.date(2026, 6, 30)
    credits = [
        c(dt.date(2024, 6, 30), "5"),  # the day before the cycle: not counted
        c(dt.date(2024, 7, 1), "2.25", "03"),  # first day: counted, law
        c(dt.date(2025, 1, 10), "10.50"),
        c(dt.date(2026, 6, 30), "0.75", "05"),  # last day: counted, patient safety
        c(dt.date(2026, 7, 1), "8"),  # after the cycle
    ]
    p = renewal.progress(credits, PTCB, ends_on=end)
    assert (p.earned, p.law, p.safety) == (Decimal("13.50"), Decimal("2.25"), Decimal("0.75"))
    assert (p.short_total, p.short_law, p.short_safety) == (
        Decimal("6.50"),
        Decimal("0"),
        Decimal("0.25"),
    )
    assert p.short == Decimal("6.50")
    assert not p.met


def test_law_and_safety_short_may_exceed_the_total_short():
    p = renewal.progress([c(dt.date(2026, 1, 1), "20")], PTCB, ends_on=dt.date(2026, 6, 30))
    assert p.short_total == 0 and p.short_law == 1 and p.short_safety == 1
    assert p.short == Decimal("2")
    assert not p.met


def test_met_when_every_part_is():
    credits = [
        c(dt.date(2026, 1, 1), "18"),
        c(dt.date(2026, 1, 2), "1", "03"),
        c(dt.date(2026, 1, 3), "1", "05"),
    ]
    assert renewal.progress(credits, PTCB, ends_on=dt.date(2026, 6, 30)).met


hours = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("40"), places=2)
days = st.dates(min_value=dt.date(2023, 1, 1), max_value=dt.date(2027, 12, 31))
topics = st.sampled_from(["01", "03", "04", "05", "07"])
credit_lists = st.lists(st.builds(renewal.Credit, days, hours, topics), max_size=30)


@given(credit_lists, days)
def test_earned_is_the_exact_sum_in_the_cycle(credits, end):
    p = renewal.progress(credits, PTCB, ends_on=end)
    inside = [x for x in credits if p.cycle_start <= x.completed_on <= end]
    assert p.earned == sum((x.hours for x in inside), Decimal(0))
    assert p.law == sum((x.hours for x in inside if x.topic == "03"), Decimal(0))
    assert p.short_total == max(Decimal(0), PTCB.hours - p.earned)
    assert min(p.short_total, p.short_law, p.short_safety) >= 0
    assert p.met == (p.short == 0)


@given(credit_lists, st.builds(renewal.Credit, days, hours, topics), days)
def test_another_credit_never_adds_to_what_is_short(credits, extra, end):
    before = renewal.progress(credits, PTCB, ends_on=end)
    after = renewal.progress([*credits, extra], PTCB, ends_on=end)
    assert after.short_total <= before.short_total
    assert after.short_law <= before.short_law
    assert after.short_safety <= before.short_safety
    assert after.earned >= before.earned


@given(days, st.integers(min_value=1, max_value=60))
def test_a_cycle_spans_its_months(end, months):
    start, last = renewal.cycle(end, months)
    assert last == end
    assert 28 * months - 3 <= (end - start).days + 1 <= 31 * months


# --- Competency -------------------------------------------------------------------------------


def test_next_due_at_month_ends():
    assert renewal.next_due(dt.date(2026, 8, 31), 6, passed=True) == dt.date(2027, 2, 28)
    assert renewal.next_due(dt.date(2026, 1, 15), 12, passed=True) == dt.date(2027, 1, 15)
    assert renewal.next_due(dt.date(2026, 1, 15), 12, passed=False) is None
    assert renewal.next_due(dt.date(2026, 1, 15), 0, passed=True) is None


@pytest.mark.parametrize(
    ("due", "has_pass", "failed", "state"),
    [
        (dt.date(2026, 3, 2), True, False, "current"),  # 60 days: past the window
        (dt.date(2026, 3, 1), True, False, "due soon"),  # 59 days: the window's last day
        (dt.date(2026, 1, 1), True, False, "due soon"),  # due today
        (dt.date(2025, 12, 31), True, False, "lapsed"),
        (dt.date(2027, 1, 1), True, True, "not current"),
        (None, False, False, "never assessed"),
        (None, True, False, "current"),  # assessed once, never renewed
    ],
)
def test_competency_state(due, has_pass, failed, state):
    got = renewal.competency_state(
        passed_due=due, has_pass=has_pass, failed_since=failed, today=dt.date(2026, 1, 1), window=59
    )
    assert got == state
