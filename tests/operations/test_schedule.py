"""Cleaning periods and downtime arithmetic in the site's time zone (hand-computed)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from rxdesk.operations import schedule

CHI = ZoneInfo("America/Chicago")
UTC = dt.UTC


def _chi(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=CHI)


def test_daily_period_starts_at_local_midnight_not_utc():
    # 03:30 UTC on Nov 27 is 21:30 on Nov 26 in Chicago: the local day is the 26th.
    now = dt.datetime(2026, 11, 27, 3, 30, tzinfo=UTC)
    previous, current = schedule.period_bounds("daily", now, CHI)
    assert current == _chi(2026, 11, 26)
    assert previous == _chi(2026, 11, 25)


def test_weekly_period_starts_monday():
    now = _chi(2026, 11, 26, 10)  # a Thursday
    previous, current = schedule.period_bounds("weekly", now, CHI)
    assert (previous, current) == (_chi(2026, 11, 16), _chi(2026, 11, 23))


def test_monthly_period_across_a_year_end():
    previous, current = schedule.period_bounds("monthly", _chi(2027, 1, 5, 8), CHI)
    assert (previous, current) == (_chi(2026, 12, 1), _chi(2027, 1, 1))


def test_each_shift_starts_at_the_first_sign_on():
    start = _chi(2026, 11, 26, 7, 45)
    previous, current = schedule.period_bounds("shift", _chi(2026, 11, 26, 12), CHI, start)
    assert (previous, current) == (_chi(2026, 11, 25), start)


def test_status_done_due_overdue():
    previous, current = _chi(2026, 11, 25), _chi(2026, 11, 26)
    created = _chi(2026, 1, 1)
    assert schedule.status(_chi(2026, 11, 26, 8), created, previous, current) == "done"
    assert schedule.status(_chi(2026, 11, 25, 17), created, previous, current) == "due"
    assert schedule.status(_chi(2026, 11, 24, 17), created, previous, current) == "overdue"
    assert schedule.status(None, created, previous, current) == "overdue"
    # A task added today is only due.
    assert schedule.status(None, _chi(2026, 11, 26, 9), previous, current) == "due"


def test_downtime_is_cut_at_the_month_edges():
    low, high = schedule.month_window(2026, 11, CHI)
    spans = [
        (_chi(2026, 10, 31, 23, 0), _chi(2026, 11, 1, 1, 30)),  # 90 min in November
        (_chi(2026, 11, 10, 9, 0), _chi(2026, 11, 10, 9, 45)),  # 45
        (_chi(2026, 11, 30, 23, 50), _chi(2026, 12, 1, 0, 20)),  # 10 in November
    ]
    now = _chi(2026, 12, 5)
    assert schedule.overlap_seconds(spans, low, high, now) == (90 + 45 + 10) * 60


def test_an_open_downtime_counts_until_now():
    low, high = schedule.month_window(2026, 11, CHI)
    spans = [(_chi(2026, 11, 26, 8, 0), None)]
    assert schedule.overlap_seconds(spans, low, high, _chi(2026, 11, 26, 9, 17)) == 77 * 60


def test_the_november_window_has_the_dst_hour():
    # Chicago falls back on Nov 1, 2026: November has 30 days and one extra hour.
    low, high = schedule.month_window(2026, 11, CHI)
    assert (high - low) == dt.timedelta(days=30, hours=1)


@given(
    starts=st.lists(st.integers(0, 40 * 24 * 60), min_size=0, max_size=8),
    lengths=st.lists(st.integers(0, 3 * 24 * 60), min_size=8, max_size=8),
)
def test_overlap_never_exceeds_the_window_or_the_spans(starts, lengths):
    base = dt.datetime(2026, 10, 25, tzinfo=UTC)
    spans = [
        (base + dt.timedelta(minutes=s), base + dt.timedelta(minutes=s + n))
        for s, n in zip(starts, lengths, strict=False)
    ]
    low, high = schedule.month_window(2026, 11, UTC)
    total = schedule.overlap_seconds(spans, low, high, base + dt.timedelta(days=100))
    assert 0 <= total <= sum(int((b - a).total_seconds()) for a, b in spans)
    assert total <= len(spans) * int((high - low).total_seconds())
