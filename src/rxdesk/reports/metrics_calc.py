"""The arithmetic of the metrics, with no database: percentiles, rates, and queue lengths
rebuilt from a fill's status transitions. Each definition is stated here once and shown
on the metrics screen.

* Percentiles are **nearest-rank**: the p-th percentile of n sorted values is the value at
  rank ⌈p/100 × n⌉ (1-based). The median is the 50th percentile by the same rule, so of an
  even number of values it is the lower of the two middle ones (always a real observation,
  never an average of two).
* A rate "per 1,000 fills" is events × 1000 ÷ fills, to one decimal place (half up); a
  share in percent is part × 100 ÷ whole, to one decimal place. Neither exists (None) when
  the denominator is zero.
* A queue length at an instant is the number of fills whose status was that queue's status
  at that instant. Every recorded step of a fill moves it from one status to another (a step
  that changes nothing, like a label print, moves it from a status to the same one), so the
  length is the number of steps *into* the status minus the number of steps *out of* it up
  to that instant."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal

ONE_PLACE = Decimal("0.1")


def nearest_rank(values: Sequence[Decimal], percent: int) -> Decimal | None:
    """The ``percent``-th percentile of ``values`` by the nearest-rank method (None when
    there are no values): ``nearest_rank([15, 20, 35, 40, 50], 40) == 20``."""
    if not 0 < percent <= 100:
        raise ValueError("percent is from 1 to 100")
    if not values:
        return None
    ordered = sorted(values)
    rank = int((Decimal(percent) * len(ordered) / 100).to_integral_value(rounding=ROUND_CEILING))
    return ordered[max(rank, 1) - 1]


def per_thousand(count: int, fills: int) -> Decimal | None:
    """``count`` per 1,000 ``fills``, to one decimal place (None with no fills)."""
    if fills <= 0:
        return None
    return (Decimal(count) * 1000 / fills).quantize(ONE_PLACE, rounding=ROUND_HALF_UP)


def percent(part: int | Decimal, whole: int | Decimal) -> Decimal | None:
    """``part`` as a percentage of ``whole``, to one decimal place (None when whole is 0)."""
    if not whole:
        return None
    return (Decimal(part) * 100 / Decimal(whole)).quantize(ONE_PLACE, rounding=ROUND_HALF_UP)


def minutes(delta: dt.timedelta) -> Decimal:
    """A duration in minutes, to one decimal place (exact seconds, no float)."""
    micro = (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds
    return (Decimal(micro) / 60_000_000).quantize(ONE_PLACE, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class Transition:
    """One recorded step of a fill: when, and from which status to which."""

    at: dt.datetime
    from_status: str
    to_status: str


def queue_lengths(
    baseline: Mapping[str, int],
    transitions: Iterable[Transition],
    instants: Sequence[dt.datetime],
    statuses: Sequence[str],
) -> list[dict[str, int]]:
    """The length of each queue in ``statuses`` at each of ``instants`` (sorted), starting
    from ``baseline`` (the lengths just before the first transition given). A step recorded
    exactly at an instant counts as done by then."""
    counts = {s: int(baseline.get(s, 0)) for s in statuses}
    ordered = sorted(transitions, key=lambda t: t.at)
    out: list[dict[str, int]] = []
    i = 0
    for instant in instants:
        while i < len(ordered) and ordered[i].at <= instant:
            step = ordered[i]
            if step.from_status != step.to_status:
                if step.from_status in counts:
                    counts[step.from_status] -= 1
                if step.to_status in counts:
                    counts[step.to_status] += 1
            i += 1
        out.append(dict(counts))
    return out


def step_durations(
    events: Iterable[tuple[int, str, dt.datetime]],
    segments: Sequence[tuple[str, str]],
    start: dt.datetime,
    end: dt.datetime,
) -> dict[tuple[str, str], list[Decimal]]:
    """Minutes each fill spent in each segment ``(from step, to step)``: from the *first*
    time the fill reached the from-step to the *last* time it reached the to-step (so work
    sent back and done again counts in full, as do holds). A segment counts in the period
    when its last to-step falls in ``[start, end)``; one never finished, or whose to-step
    came before its from-step, is left out. ``events`` are ``(fill id, step, at)``."""
    first: dict[tuple[int, str], dt.datetime] = {}
    last: dict[tuple[int, str], dt.datetime] = {}
    for fill_id, step, at in events:
        key = (fill_id, step)
        if key not in first or at < first[key]:
            first[key] = at
        if key not in last or at > last[key]:
            last[key] = at
    fills = {fill_id for fill_id, _ in first}
    out: dict[tuple[str, str], list[Decimal]] = {seg: [] for seg in segments}
    for fill_id in sorted(fills):
        for seg in segments:
            began = first.get((fill_id, seg[0]))
            ended = last.get((fill_id, seg[1]))
            if began is None or ended is None or ended < began:
                continue
            if start <= ended < end:
                out[seg].append(minutes(ended - began))
    return out
