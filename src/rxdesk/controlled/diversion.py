"""Diversion signals, pure (no Django, no database): from what the blind counts found and who
moved a controlled package between them, which packages and which people to look at first.

**The package signal** is a one-sided (downward) CUSUM over the counts of one package.

* Each count (a blind audit, or a cycle count's correction on the ledger) is turned into the
  *new* shortage that appeared since the previous count: the gap between the perpetual
  balance and the shelf now, less the gap already found and not yet corrected on the books
  (a correcting move — an investigation's count move, a write-off — settles that much of
  it). A miscount that the next count undoes therefore cancels out ("self-corrects"), and a
  shortage found twice is counted once.
* The shortage is divided by the stock it came out of — the perpetual balance at the count,
  never less than one full container (:data:`REFERENCE_FLOOR` containers) — so a 1 % loss
  reads the same from a 100-tablet and a 1,000-tablet bottle, and one tablet miscounted in
  an almost empty bottle does not read as a 50 % loss.
* CUSUM: ``S = max(0, S + x - k·days)``. ``x`` is that relative shortage; ``k``
  (:data:`SLACK_PER_DAY`) is the loss per day since the previous count tolerated as noise
  (0.03 % of the stock a day: about 0.2 % a week), so breakage-sized slips drain away;
  ``h`` (:data:`PACKAGE_THRESHOLD`, 0.7 % of the stock held) is how much unexplained loss
  beyond the slack flags the package. Honest counting noise cannot build up: a miscount is
  undone by the next count, so the sum over any run of counts is at most the largest
  miscount swing (two tablets either way is 0.4 % of 1,000), below ``h``. A steady loss of
  ``d`` a day is flagged after ``h / (d - k)`` days (:func:`days_to_flag`): 1 % a week
  (0.143 % a day) after about 6.2 days — inside two weeks even with a count only every
  other day and a miscount on the way — while a loss below 0.2 % a week never is. The days
  of one interval are capped (:data:`SLACK_DAYS_CAP`), so a long gap between counts
  cannot hide a large shortage behind a large slack.

**The people signal** spreads each count's (new, relative) shortage over the people who
moved that package since the previous count, in proportion to the moves each made, and runs
the same kind of CUSUM per person and package, with its own slack
(:data:`USER_SLACK_PER_DAY`, in the same proportion): a person whose shifts keep preceding
shortages climbs; a colleague who only sometimes shares those shifts climbs a fraction as
fast and drains on the clean intervals. Only a package whose own CUSUM is flagged counts
(that is the evidence that stock went missing), and a person's share counts in full only
if they lead it — their peak at least :data:`LEAD_FRACTION` of the highest person's on
that package; below that, in proportion — so a colleague who shared only some of those
shifts counts for less. :data:`USER_THRESHOLD` is lower than the package's because a person
gets a share of each shortage, never all of it. Lesser signs add to scores by named
weights (:data:`EVENT_WEIGHTS` for people, :data:`PACKAGE_EVENT_WEIGHTS` for packages):
count corrections, controlled fills cancelled or returned to stock, controlled moves after
hours (:data:`AFTER_HOURS_FROM` to :data:`AFTER_HOURS_UNTIL`, local time), receipts posted
without an invoice number, adjustments for theft or loss. A score of 1 or more is flagged.

Measured on generated histories (tests/controlled/test_diversion.py: a 1,000-tablet
Schedule II stock, four people on a weekly rota of two a day, a count every one or two days,
a miscount of one or two tablets at three counts in ten), 300 seeds: honest history flagged
nothing; with one person taking 1 % of the stock a week on their shifts, the package was
flagged within 14 days in 300 of 300 (after 6.7 days on average, 13.5 at most) and that
person in 287, ranked first in 263 — and a colleague who shared some of those shifts was
flagged alongside in 173. Two weeks of counts cannot tell shift partners apart much better:
the people signal says where to look first; the investigation decides.

Quantities are ``Decimal``; times are aware datetimes (the caller passes local times for
the after-hours rule)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum

__all__ = [
    "AFTER_HOURS_FROM",
    "AFTER_HOURS_UNTIL",
    "EVENT_WEIGHTS",
    "LEAD_FRACTION",
    "PACKAGE_EVENT_WEIGHTS",
    "PACKAGE_THRESHOLD",
    "REFERENCE_FLOOR",
    "SLACK_DAYS_CAP",
    "SLACK_PER_DAY",
    "USER_SLACK_PER_DAY",
    "USER_THRESHOLD",
    "Event",
    "EventKind",
    "Observation",
    "PackageSignal",
    "UserLoss",
    "after_hours",
    "cusum",
    "days_to_flag",
    "observations",
    "package_signal",
    "person_loss_score",
    "score_of",
    "user_losses",
]

# k: relative loss per day tolerated as noise (0.03 % of the stock held a day).
SLACK_PER_DAY = Decimal("0.0003")
# h: unexplained loss beyond the slack that flags a package (0.7 % of the stock held).
PACKAGE_THRESHOLD = Decimal("0.007")
# k for a person: twice the package's, so a colleague who shares some of the shifts that
# losses follow drains on the clean ones.
USER_SLACK_PER_DAY = Decimal("0.0006")
# h for a person: they receive a share of each shortage, never all of it.
USER_THRESHOLD = Decimal("0.0025")
# A person's share of a package's losses counts in full from this fraction of the highest.
LEAD_FRACTION = Decimal("0.8")
# An interval between two counts counts at most this many days of slack.
SLACK_DAYS_CAP = Decimal(14)
# The stock a shortage is measured against is at least this many full containers.
REFERENCE_FLOOR = Decimal(1)
# Controlled-substance moves between these local times are "after hours".
AFTER_HOURS_FROM = dt.time(21, 0)
AFTER_HOURS_UNTIL = dt.time(7, 0)
# What each lesser sign adds to a person's score (1 flags): ten count corrections posted,
# twenty controlled fills cancelled or put back, fifty moves after hours, or four receipts
# without an invoice — each alone — reach a flag.
EVENT_WEIGHTS: Mapping[str, Decimal] = {
    "count_correction": Decimal("0.10"),
    "fill_returned": Decimal("0.05"),
    "after_hours": Decimal("0.02"),
    "receipt_without_invoice": Decimal("0.25"),
}
# The same for a package: two adjustments for theft or loss flag it on their own.
PACKAGE_EVENT_WEIGHTS: Mapping[str, Decimal] = {
    "theft_loss": Decimal("0.50"),
    "count_correction": Decimal("0.10"),
    "fill_returned": Decimal("0.05"),
    "receipt_without_invoice": Decimal("0.25"),
}

_DAY = Decimal(86400)
_SCORE = Decimal("0.01")


class EventKind(StrEnum):
    """What happened to a package, in the order it happened."""

    MOVE = "move"  # a recorded move (dispensed, received, returned…): who touched it
    AUDIT = "audit"  # a blind count: expected (perpetual) vs counted
    COUNT = "count"  # a cycle count's correction move: a count and its correction at once
    CORRECTION = "correction"  # a book correction (investigation, write-off): not a count


@dataclass(frozen=True)
class Event:
    """One event of a package's history.

    MOVE: ``user`` moved it. AUDIT: ``expected`` (the perpetual balance) and ``counted``.
    COUNT: the package's balance before the correction in ``expected``, the correction in
    ``quantity`` (counted = expected + quantity); consecutive COUNT events with the same
    ``label`` are one count (its lots). CORRECTION: ``quantity`` put right on the books."""

    at: dt.datetime
    kind: EventKind
    user: str = ""
    quantity: Decimal = Decimal(0)
    expected: Decimal = Decimal(0)
    counted: Decimal = Decimal(0)
    label: str = ""
    held: Decimal | None = None  # the package's whole balance at a count (default: expected)


@dataclass(frozen=True)
class Observation:
    """What one count found that was new since the previous one."""

    at: dt.datetime
    label: str
    shortage: Decimal  # units missing that were not missing (or not known) before; − = over
    reference: Decimal  # the stock it is measured against
    days: Decimal  # days since the previous count (capped), for the slack
    users: Mapping[str, int] = field(default_factory=dict)  # moves by each since then

    @property
    def relative(self) -> Decimal:
        return self.shortage / self.reference if self.reference > 0 else Decimal(0)

    @property
    def slack(self) -> Decimal:
        return SLACK_PER_DAY * self.days


def _days(later: dt.datetime, earlier: dt.datetime) -> Decimal:
    seconds = Decimal(str((later - earlier).total_seconds()))
    return max(Decimal(0), min(seconds / _DAY, SLACK_DAYS_CAP))


def _order(event: Event) -> tuple[dt.datetime, int]:
    # At the same instant, the moves come before the count that saw them.
    return (event.at, 0 if event.kind in (EventKind.MOVE, EventKind.CORRECTION) else 1)


def observations(events: Iterable[Event], *, container: Decimal) -> list[Observation]:
    """The package's counts as new shortages, oldest first (see the module's docstring).

    ``container``: the units in one container of the package (the reference's floor)."""
    floor = max(container, Decimal(0)) * REFERENCE_FLOOR
    ordered = sorted(events, key=_order)
    found: list[Observation] = []
    outstanding = Decimal(0)  # shortage already found and not yet corrected on the books
    users: dict[str, int] = {}
    since: dt.datetime | None = ordered[0].at if ordered else None
    previous: Event | None = None
    for event in ordered:
        if event.kind == EventKind.MOVE:
            if event.user:
                users[event.user] = users.get(event.user, 0) + 1
        elif event.kind == EventKind.CORRECTION:
            outstanding += event.quantity
        elif (
            event.kind == EventKind.COUNT
            and previous is not None
            and previous.kind == EventKind.COUNT
            and previous.label == event.label
            and found
        ):
            # Another lot of the same count: its shortage joins the count's.
            last = found[-1]
            found[-1] = Observation(
                at=last.at,
                label=last.label,
                shortage=last.shortage - event.quantity,
                reference=last.reference,
                days=last.days,
                users=last.users,
            )
            # outstanding was reset by the first lot; this lot's correction settles itself.
        else:
            if event.kind == EventKind.AUDIT:
                gap = event.expected - event.counted
            else:  # COUNT: the gap it found is the correction it posts
                gap = -event.quantity
            assert since is not None
            found.append(
                Observation(
                    at=event.at,
                    label=event.label,
                    shortage=gap - outstanding,
                    reference=max(event.held if event.held is not None else event.expected, floor),
                    days=_days(event.at, since),
                    users=dict(users),
                )
            )
            outstanding = gap if event.kind == EventKind.AUDIT else Decimal(0)
            users = {}
            since = event.at
        previous = event
    return found


def cusum(steps: Iterable[tuple[Decimal, Decimal]]) -> list[Decimal]:
    """The one-sided CUSUM of ``(x, slack)`` pairs: ``S = max(0, S + x - slack)``, one
    score after each step."""
    score = Decimal(0)
    out: list[Decimal] = []
    for x, slack in steps:
        score = max(Decimal(0), score + x - slack)
        out.append(score)
    return out


def days_to_flag(daily_loss: Decimal, *, slack: Decimal = SLACK_PER_DAY) -> int | None:
    """Days of daily counts until a steady relative loss of ``daily_loss`` a day is flagged
    (None if it never is: the loss is within the slack)."""
    if daily_loss <= slack:
        return None
    steps = PACKAGE_THRESHOLD / (daily_loss - slack)
    whole = int(steps.to_integral_value(rounding="ROUND_CEILING"))
    return max(1, whole)


@dataclass(frozen=True)
class PackageSignal:
    """The package's CUSUM: its score after each count, the peak, whether and when it was
    first flagged, and since when the run that flagged it (or the current run) began."""

    observations: list[Observation]
    scores: list[Decimal]
    peak: Decimal
    flagged_at: dt.datetime | None
    since: dt.datetime | None
    shortage: Decimal  # units newly missing over the run (net of overs)

    @property
    def flagged(self) -> bool:
        return self.flagged_at is not None

    @property
    def current(self) -> Decimal:
        return self.scores[-1] if self.scores else Decimal(0)

    @property
    def score(self) -> Decimal:
        """Once flagged, the peak; before that, where the CUSUM stands now (a run that
        drained back to zero is no signal)."""
        return score_of(self.peak if self.flagged else self.current, PACKAGE_THRESHOLD)


def score_of(value: Decimal, threshold: Decimal) -> Decimal:
    """``value / threshold`` to two places (1.00 or more: flagged)."""
    return (value / threshold).quantize(_SCORE, rounding=ROUND_HALF_UP)


def _run_start(scores: Sequence[Decimal], upto: int) -> int:
    start = upto
    while start > 0 and scores[start - 1] > 0:
        start -= 1
    return start


def package_signal(found: Sequence[Observation]) -> PackageSignal:
    """The CUSUM over a package's observations, flagged at :data:`PACKAGE_THRESHOLD`."""
    scores = cusum((o.relative, o.slack) for o in found)
    peak = max(scores, default=Decimal(0))
    first = next((i for i, s in enumerate(scores) if s >= PACKAGE_THRESHOLD), None)
    anchor = first if first is not None else (len(scores) - 1 if scores and scores[-1] else None)
    since = None
    shortage = Decimal(0)
    if anchor is not None:
        start = _run_start(scores, anchor)
        since = found[start].at
        end = len(found) if first is not None else anchor + 1
        shortage = sum((o.shortage for o in found[start:end]), Decimal(0))
    return PackageSignal(
        observations=list(found),
        scores=scores,
        peak=peak,
        flagged_at=found[first].at if first is not None else None,
        since=since,
        shortage=shortage,
    )


@dataclass(frozen=True)
class UserLoss:
    """One person's share of one package's shortages: their CUSUM peak, when they first
    crossed :data:`USER_THRESHOLD`, since when, and the units attributed (net)."""

    user: str
    peak: Decimal
    flagged_at: dt.datetime | None
    since: dt.datetime | None
    units: Decimal
    counts: int  # counts whose interval they moved the package in

    @property
    def score(self) -> Decimal:
        return score_of(self.peak, USER_THRESHOLD)


def user_losses(found: Sequence[Observation]) -> dict[str, UserLoss]:
    """Each person's CUSUM over their share of the package's shortages."""
    scores: dict[str, Decimal] = {}
    peaks: dict[str, Decimal] = {}
    flagged: dict[str, dt.datetime] = {}
    starts: dict[str, dt.datetime] = {}
    flagged_since: dict[str, dt.datetime] = {}
    units: dict[str, Decimal] = {}
    counts: dict[str, int] = {}
    for obs in found:
        total = sum(obs.users.values())
        if not total:
            continue
        for user, moves in obs.users.items():
            share = Decimal(moves) / Decimal(total)
            before = scores.get(user, Decimal(0))
            slack = USER_SLACK_PER_DAY * obs.days
            after = max(Decimal(0), before + share * (obs.relative - slack))
            if before == 0 and after > 0:
                starts[user] = obs.at
            scores[user] = after
            peaks[user] = max(peaks.get(user, Decimal(0)), after)
            if after >= USER_THRESHOLD and user not in flagged:
                flagged[user] = obs.at
                flagged_since[user] = starts[user]
            units[user] = units.get(user, Decimal(0)) + share * obs.shortage
            counts[user] = counts.get(user, 0) + 1
    return {
        user: UserLoss(
            user=user,
            peak=peaks[user],
            flagged_at=flagged.get(user),
            since=flagged_since.get(user) or (starts.get(user) if scores[user] > 0 else None),
            units=units[user],
            counts=counts[user],
        )
        for user in scores
    }


def person_loss_score(loss: UserLoss, top_peak: Decimal) -> Decimal:
    """A person's score for their share of one flagged package's losses: their CUSUM peak
    over :data:`USER_THRESHOLD`, in full if they lead the package's people (at least
    :data:`LEAD_FRACTION` of ``top_peak``), else scaled down in proportion."""
    if loss.peak <= 0 or top_peak <= 0:
        return Decimal(0)
    lead = min(Decimal(1), loss.peak / (LEAD_FRACTION * top_peak))
    return score_of(loss.peak * lead, USER_THRESHOLD)


def after_hours(local: dt.datetime | dt.time) -> bool:
    """Whether a local time is outside :data:`AFTER_HOURS_UNTIL`–:data:`AFTER_HOURS_FROM`."""
    when = local.time() if isinstance(local, dt.datetime) else local
    return when >= AFTER_HOURS_FROM or when < AFTER_HOURS_UNTIL
