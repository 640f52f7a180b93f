"""Cleaning periods and downtime arithmetic (no database).

A cleaning task is *done* when it was recorded in the current period (this shift, today,
this week from Monday, this month) counted in the site's time zone; *due* when not yet;
*overdue* when it was not done in the previous period either (a task added during the
current period is only due). Downtime minutes are the overlap of each downtime with a
window (a month), summed in seconds and floored once, so no rounding drift."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from zoneinfo import ZoneInfo

SHIFT, DAILY, WEEKLY, MONTHLY = "shift", "daily", "weekly", "monthly"
DONE, DUE, OVERDUE = "done", "due", "overdue"


def _midnight(day: dt.date, tz: ZoneInfo) -> dt.datetime:
    # In UTC: Python subtracts and compares two datetimes of the same zone by wall clock,
    # which is an hour off across a daylight-saving change.
    return dt.datetime.combine(day, dt.time(0), tzinfo=tz).astimezone(dt.UTC)


def month_start(day: dt.date) -> dt.date:
    return day.replace(day=1)


def next_month(day: dt.date) -> dt.date:
    first = day.replace(day=1)
    return (first + dt.timedelta(days=32)).replace(day=1)


def previous_month(day: dt.date) -> dt.date:
    return (day.replace(day=1) - dt.timedelta(days=1)).replace(day=1)


def period_bounds(
    frequency: str, now: dt.datetime, tz: ZoneInfo, shift_start: dt.datetime | None = None
) -> tuple[dt.datetime, dt.datetime]:
    """(start of the previous period, start of the current period) for ``frequency`` at
    ``now``: the site's local midnights, in UTC. For "each shift" the current
    period starts when the pharmacy's shift began (the earliest open sign-on), or at
    midnight if nobody is on duty; the previous one at the day before's midnight."""
    today = now.astimezone(tz).date()
    if frequency == DAILY:
        return _midnight(today - dt.timedelta(days=1), tz), _midnight(today, tz)
    if frequency == WEEKLY:
        monday = today - dt.timedelta(days=today.weekday())
        return _midnight(monday - dt.timedelta(days=7), tz), _midnight(monday, tz)
    if frequency == MONTHLY:
        first = month_start(today)
        return _midnight(previous_month(first), tz), _midnight(first, tz)
    if frequency == SHIFT:
        start = shift_start if shift_start is not None else _midnight(today, tz)
        return _midnight(today - dt.timedelta(days=1), tz), start
    raise ValueError(f"unknown frequency {frequency!r}")


def status(
    last_done: dt.datetime | None,
    created_at: dt.datetime,
    previous_start: dt.datetime,
    current_start: dt.datetime,
) -> str:
    """done, due or overdue (see the module's docstring)."""
    if last_done is not None and last_done >= current_start:
        return DONE
    if created_at >= current_start:
        return DUE
    if last_done is None or last_done < previous_start:
        return OVERDUE
    return DUE


def overlap_seconds(
    intervals: Iterable[tuple[dt.datetime, dt.datetime | None]],
    window_start: dt.datetime,
    window_end: dt.datetime,
    now: dt.datetime,
) -> int:
    """Seconds of ``intervals`` (an open one runs until ``now``) inside the window."""
    total = 0
    window_start, window_end, now = (t.astimezone(dt.UTC) for t in (window_start, window_end, now))
    for start, end in intervals:
        stop = min((end or now).astimezone(dt.UTC), window_end, now)
        begin = max(start.astimezone(dt.UTC), window_start)
        if stop > begin:
            total += int((stop - begin).total_seconds())
    return total


def month_window(year: int, month: int, tz: ZoneInfo) -> tuple[dt.datetime, dt.datetime]:
    """The site-local month [first midnight, next month's first midnight), in UTC."""
    first = dt.date(year, month, 1)
    return _midnight(first, tz), _midnight(next_month(first), tz)
