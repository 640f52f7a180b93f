"""Diversion signals on GENERATED history.

A Schedule II package (oxycodone 5 mg, 1,000 tablets on the shelf, restocked by 500 when it
falls under 700), four technicians on a weekly rota of two a day (a swap now and then), each
dispensing a few prescriptions a shift; a blind count every one or two days, with small
honest counting noise (one or two tablets off at three counts in ten) that the next count
undoes. Then one of them starts taking about 1 % of the stock a week on their shifts,
recorded nowhere. The package and that person must be flagged within 14 days of the start;
with the same noise and no diversion, over a fixed list of seeds, nobody is.

The history is a plan (pure, seeded) replayed two ways: straight into the pure module
(many seeds, fast) and through the real ledger functions and CsAudit rows at their own
times (a few seeds), read back by rxdesk.controlled.queries_diversion.signals."""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass
from decimal import Decimal

import pytest
import time_machine
from django.db.models import Max, Sum
from hypothesis import given, settings
from hypothesis import strategies as st

from rxdesk.controlled import diversion as dv
from rxdesk.controlled import queries_diversion
from rxdesk.controlled.choices import AuditStatus
from rxdesk.controlled.models import CsAudit
from rxdesk.core.choices import Role
from rxdesk.core.errors import Forbidden, Invalid
from rxdesk.core.models import Site, User
from rxdesk.inventory.choices import AdjustReason, MoveReason, ReceiptStatus
from rxdesk.inventory.ledger import Ref
from rxdesk.inventory.models import (
    CycleCount,
    CycleCountLine,
    Receipt,
    ReceiptLine,
    StockBalance,
    StockMove,
    Supplier,
)
from tests.controlled.factories import oxycodone
from tests.controlled.matrix_ledger import local, move
from tests.factories import UserFactory
from tests.rx.factories import first_fill, make_rx

D = Decimal
USERS = ("ann", "bob", "cy", "dee")
# Two on each day of the week; each works three or four days.
ROTA = (
    ("ann", "bob"),
    ("cy", "dee"),
    ("ann", "cy"),
    ("bob", "dee"),
    ("ann", "dee"),
    ("bob", "cy"),
    ("cy", "ann"),
)
DIVERTER = "cy"
HONEST_DAYS = 28  # history before the diversion starts
WINDOW = 14  # the diversion must be flagged within this many days
SHIFT_START = dt.time(8, 0)
COUNT_MINUTE = 11 * 60  # counted at 19:00, after the day's work
START = dt.date(2026, 1, 5)


@dataclass(frozen=True)
class Step:
    """One thing that happens: a dispensing or a restock (recorded), a theft (not), a blind
    count (finding ``gap`` — perpetual minus shelf — plus ``noise`` miscounted)."""

    day: int
    minute: int  # after 08:00
    kind: str  # dispense | receive | take | count
    user: str
    quantity: int = 0
    gap: int = 0
    noise: int = 0
    perpetual: int = 0  # the ledger balance right after (dispense, receive) or at (count)


def plan(seed: int, *, days: int, divert_from: int | None = None) -> list[Step]:
    rng = random.Random(seed)
    perpetual = true = 1000
    owed = 0.0
    steps: list[Step] = []
    next_count = 1
    for day in range(days):
        on = list(ROTA[day % 7])
        if rng.random() < 0.15:
            off = rng.choice(on)
            on[on.index(off)] = rng.choice([u for u in USERS if u not in on])
        minute = 0
        for user in on:
            for _ in range(rng.randint(2, 4)):
                quantity = rng.randint(10, 30)
                minute += rng.randint(5, 60)
                perpetual -= quantity
                true -= quantity
                steps.append(Step(day, minute, "dispense", user, quantity, perpetual=perpetual))
            if divert_from is not None and day >= divert_from and user == DIVERTER:
                # About 1 % of the stock a week over three to four shifts.
                owed += true * 0.01 / 3.5
                take = int(owed)
                owed -= take
                if take:
                    minute += 1
                    true -= take
                    steps.append(Step(day, minute, "take", user, take))
        if perpetual < 700:
            minute += 7
            perpetual += 500
            true += 500
            steps.append(Step(day, minute, "receive", rng.choice(on), 500, perpetual=perpetual))
        if day == next_count:
            noise = rng.choice([-2, -1, 1, 2]) if rng.random() < 0.3 else 0
            steps.append(
                Step(
                    day,
                    COUNT_MINUTE,
                    "count",
                    rng.choice(on),
                    gap=perpetual - true,
                    noise=noise,
                    perpetual=perpetual,
                )
            )
            next_count = day + rng.randint(1, 2)
    return steps


T0 = dt.datetime(2026, 1, 5, 14, 0, tzinfo=dt.UTC)  # 08:00 in Chicago (CST)


def _at(step: Step) -> dt.datetime:
    return T0 + dt.timedelta(days=step.day, minutes=step.minute)


def pure_events(steps: list[Step]) -> list[dv.Event]:
    events = [dv.Event(at=T0 - dt.timedelta(hours=1), kind=dv.EventKind.MOVE, quantity=D(1000))]
    for s in steps:
        if s.kind == "dispense":
            events.append(dv.Event(_at(s), dv.EventKind.MOVE, s.user, D(-s.quantity)))
        elif s.kind == "receive":
            events.append(dv.Event(_at(s), dv.EventKind.MOVE, s.user, D(s.quantity)))
        elif s.kind == "count":
            expected = D(s.perpetual)
            counted = expected - s.gap + s.noise
            events.append(
                dv.Event(_at(s), dv.EventKind.AUDIT, expected=expected, counted=counted, label="c")
            )
    return events


def pure_verdict(steps: list[Step], until: dt.datetime) -> tuple[dv.PackageSignal, dict]:
    found = dv.observations([e for e in pure_events(steps) if e.at < until], container=D(100))
    signal = dv.package_signal(found)
    losses = dv.user_losses(found)
    top = max((x.peak for x in losses.values()), default=D(0))
    scores = {
        u: (dv.person_loss_score(x, top) if signal.flagged else D(0)) for u, x in losses.items()
    }
    return signal, scores


# --- The pure module on many seeds ----------------------------------------------------------------

SEEDS = range(40)


def test_honest_history_flags_nobody_over_many_seeds():
    until = T0 + dt.timedelta(days=HONEST_DAYS + WINDOW)
    for seed in SEEDS:
        signal, scores = pure_verdict(plan(seed, days=HONEST_DAYS + WINDOW), until)
        assert not signal.flagged, seed
        assert signal.peak < dv.PACKAGE_THRESHOLD, seed
        assert all(s < 1 for s in scores.values()), seed


def test_a_diverter_is_flagged_within_two_weeks_over_many_seeds():
    start = T0 + dt.timedelta(days=HONEST_DAYS)
    until = start + dt.timedelta(days=WINDOW)
    people_flagged = first = 0
    for seed in SEEDS:
        steps = plan(seed, days=HONEST_DAYS + WINDOW, divert_from=HONEST_DAYS)
        signal, scores = pure_verdict(steps, until)
        # The package: every seed, and never before the diversion began.
        assert signal.flagged_at is not None, seed
        assert start <= signal.flagged_at < until, seed
        people_flagged += scores[DIVERTER] >= 1
        first += max(scores, key=lambda u: scores[u]) == DIVERTER
    # The person: a share of each shortage only — nearly always flagged, and nearly always
    # the first to look at (measured over 300 seeds in rxdesk.controlled.diversion).
    assert people_flagged >= len(SEEDS) - 2
    assert first >= len(SEEDS) * 8 // 10


# --- The CUSUM itself ----------------------------------------------------------------------------

slacks = st.decimals(min_value=D("0.0001"), max_value=D("0.01"), places=4)


@given(n=st.integers(min_value=0, max_value=200), slack=slacks)
def test_a_zero_series_never_scores(n, slack):
    assert dv.cusum([(D(0), slack)] * n) == [D(0)] * n


@given(
    drift=st.decimals(min_value=D("0.0004"), max_value=D("0.05"), places=4),
    n=st.integers(min_value=1, max_value=400),
)
@settings(max_examples=200)
def test_a_constant_drift_is_flagged_within_the_computed_bound(drift, n):
    bound = dv.days_to_flag(drift)
    assert bound is not None
    scores = dv.cusum([(drift, dv.SLACK_PER_DAY)] * max(n, bound))
    first = next(i for i, s in enumerate(scores) if s >= dv.PACKAGE_THRESHOLD)
    assert first + 1 == bound  # flagged exactly at the bound, not one count later or earlier


@given(drift=st.decimals(min_value=D(0), max_value=dv.SLACK_PER_DAY, places=5))
def test_a_loss_within_the_slack_is_never_flagged(drift):
    assert dv.days_to_flag(drift) is None
    assert max(dv.cusum([(drift, dv.SLACK_PER_DAY)] * 500)) == 0


def test_one_percent_a_week_is_flagged_inside_two_weeks_of_daily_counts():
    daily = D("0.01") / 7
    assert dv.days_to_flag(daily) == 7 <= WINDOW // 2


@given(noise=st.lists(st.integers(min_value=-2, max_value=2), min_size=1, max_size=120))
def test_honest_miscounts_that_the_next_count_undoes_cannot_build_up(noise):
    # Stock steady at 1,000; each count off by its own miscount; nothing really missing.
    t = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    events = [
        dv.Event(t + dt.timedelta(days=i + 1), dv.EventKind.AUDIT, expected=D(1000),
                 counted=D(1000 + n), label=str(i))
        for i, n in enumerate(noise)
    ]  # fmt: skip
    found = dv.observations(events, container=D(100))
    # Every window of counts sums to the difference of two miscounts: at most 4 of 1,000.
    assert dv.package_signal(found).peak <= D("0.004")
    assert not dv.package_signal(found).flagged


def _t(day: int) -> dt.datetime:
    return dt.datetime(2026, 1, 1, tzinfo=dt.UTC) + dt.timedelta(days=day)


def test_a_shortage_found_twice_counts_once_and_a_correction_settles_it():
    events = [
        dv.Event(_t(0), dv.EventKind.MOVE, "ann", D(-10)),
        dv.Event(_t(1), dv.EventKind.AUDIT, expected=D(990), counted=D(985), label="a1"),
        dv.Event(_t(2), dv.EventKind.MOVE, "bob", D(-10)),
        dv.Event(_t(3), dv.EventKind.AUDIT, expected=D(980), counted=D(975), label="a2"),
        dv.Event(_t(4), dv.EventKind.CORRECTION, "rph", D(-5)),
        dv.Event(_t(5), dv.EventKind.AUDIT, expected=D(975), counted=D(975), label="a3"),
        dv.Event(_t(6), dv.EventKind.MOVE, "cy", D(-10)),
        dv.Event(_t(7), dv.EventKind.COUNT, "rph", D(-3), expected=D(965), label="Count 4"),
        dv.Event(_t(7), dv.EventKind.COUNT, "rph", D(-1), expected=D(962), label="Count 4"),
        dv.Event(_t(8), dv.EventKind.AUDIT, expected=D(961), counted=D(961), label="a5"),
    ]

    found = dv.observations(events, container=D(100))

    assert [(o.label, o.shortage, o.users) for o in found] == [
        ("a1", D(5), {"ann": 1}),
        ("a2", D(0), {"bob": 1}),  # the same 5 still missing: nothing new
        ("a3", D(0), {}),  # corrected on the books, shelf matches: nothing new
        ("Count 4", D(4), {"cy": 1}),  # two lots of one cycle count: one count
        ("a5", D(0), {}),  # the cycle count corrected as it counted
    ]
    assert found[0].reference == D(990)


def test_the_reference_is_never_less_than_one_container():
    events = [dv.Event(_t(1), dv.EventKind.AUDIT, expected=D(3), counted=D(2), label="low")]
    (obs,) = dv.observations(events, container=D(100))
    assert (obs.shortage, obs.reference, obs.relative) == (D(1), D(100), D("0.01"))


def test_a_share_of_each_shortage_goes_to_the_people_who_moved_the_package():
    found = [
        dv.Observation(_t(i), str(i), D(4), D(1000), D(1), {"ann": 3, "bob": 1})
        for i in range(1, 4)
    ]
    losses = dv.user_losses(found)
    assert (losses["ann"].units, losses["bob"].units) == (D(9), D(3))
    assert losses["ann"].peak > losses["bob"].peak
    assert dv.person_loss_score(losses["bob"], losses["ann"].peak) < losses["bob"].score


@pytest.mark.parametrize(
    ("hour", "minute", "late"),
    [(6, 59, True), (7, 0, False), (20, 59, False), (21, 0, True), (0, 0, True)],
)
def test_after_hours_is_before_seven_or_from_nine(hour, minute, late):
    assert dv.after_hours(dt.time(hour, minute)) is late


# --- Through the ledger: the query reads the same history back ------------------------------------


def replay(site: Site, steps: list[Step], people: dict[str, User]) -> None:
    """The plan through the real ledger (dispensing and restocking at their times) and
    blind counts as CsAudit rows (the audit service is Part C's)."""
    oxy = oxycodone()
    move(site, oxy, 1000, reason=MoveReason.OPENING, lot="OX1", when=T0 - dt.timedelta(hours=1))
    for s in steps:
        when = _at(s)
        if s.kind == "dispense":
            move(site, oxy, -s.quantity, reason=MoveReason.DISPENSE, lot="OX1",
                 actor=people[s.user], when=when)  # fmt: skip
        elif s.kind == "receive":
            move(site, oxy, s.quantity, lot="OX1", actor=people[s.user], when=when)
        elif s.kind == "count":
            expected = StockBalance.objects.filter(site=site, package=oxy).aggregate(
                total=Sum("on_hand")
            )["total"]
            assert expected == s.perpetual
            counted = expected - s.gap + s.noise
            last = StockMove.objects.filter(site=site, package=oxy).aggregate(last=Max("id"))
            CsAudit.objects.create(
                site=site,
                package=oxy,
                counted=counted,
                expected=expected,
                variance=counted - expected,
                last_move_id=last["last"],
                status=AuditStatus.MATCHED if counted == expected else AuditStatus.DISCREPANCY,
                counted_by=people[s.user],
                counter_name=people[s.user].username,
                counted_at=when,
            )


@pytest.fixture
def people(site) -> dict[str, User]:
    return {u: UserFactory(site=site, role=Role.TECHNICIAN, username=u) for u in USERS}


LEDGER_SEEDS = [1, 2, 3]


@pytest.mark.django_db
@pytest.mark.parametrize("seed", LEDGER_SEEDS)
def test_through_the_ledger_a_diverter_and_the_package_are_flagged_within_two_weeks(
    site, pic, people, seed
):
    steps = plan(seed, days=HONEST_DAYS + WINDOW, divert_from=HONEST_DAYS)
    replay(site, steps, people)
    start = T0 + dt.timedelta(days=HONEST_DAYS)

    with time_machine.travel(start + dt.timedelta(days=WINDOW), tick=False):
        found = queries_diversion.signals(actor=pic)

    (package,) = found.flagged_packages
    assert package.package.ndc10 == "0406-0552-01"
    assert package.cusum.flagged_at is not None
    assert start <= package.cusum.flagged_at < start + dt.timedelta(days=WINDOW)
    assert package.since is not None and package.since >= (start - dt.timedelta(days=3)).date()
    assert package.reasons[0].startswith("Counts came up short by about ")
    diverter = people[DIVERTER]
    assert found.people[0].user_id == diverter.pk  # the first to look at
    assert found.people[0].flagged
    assert (
        found.people[0]
        .reasons[0]
        .startswith("Losses on Oxycodone Hydrochloride 5 mg tablet (NDC 0406-0552-01): about ")
    )
    # The pure module, fed the same plan, says the same.
    signal, scores = pure_verdict(steps, start + dt.timedelta(days=WINDOW))
    assert signal.flagged_at == package.cusum.flagged_at
    assert scores[DIVERTER] == found.people[0].score


@pytest.mark.django_db
@pytest.mark.parametrize("seed", LEDGER_SEEDS)
def test_through_the_ledger_honest_history_flags_nobody(site, pic, people, seed):
    steps = plan(seed, days=HONEST_DAYS + WINDOW)
    replay(site, steps, people)

    with time_machine.travel(T0 + dt.timedelta(days=HONEST_DAYS + WINDOW), tick=False):
        found = queries_diversion.signals(actor=pic)

    assert found.flagged_packages == []
    assert found.flagged_people == []
    assert all(p.score < 1 for p in found.packages)


# --- The lesser signs ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_lesser_signs_are_counted_per_package_and_per_person(site, pic, technician, pharmacist):
    oxy = oxycodone()
    now = dt.datetime(2026, 3, 20, 17, 0, tzinfo=dt.UTC)
    day = dt.date(2026, 3, 18)
    move(site, oxy, 500, lot="OX1", when=local(site, day - dt.timedelta(days=5), 9))
    # Two adjustments for theft or loss by the pharmacist (a witness is Part C's rule).
    for hour in (10, 11):
        move(site, oxy, -3, reason=MoveReason.ADJUST, lot="OX1", actor=pharmacist,
             adjust_reason=AdjustReason.THEFT_LOSS, ref=Ref("adjustment", ""),
             when=local(site, day, hour))  # fmt: skip
    # A technician dispensing at 22:15 and 06:30.
    move(site, oxy, -10, reason=MoveReason.DISPENSE, lot="OX1", actor=technician,
         when=local(site, day, 22, 15))  # fmt: skip
    move(site, oxy, -10, reason=MoveReason.DISPENSE, lot="OX1", actor=technician,
         when=local(site, day + dt.timedelta(days=1), 6, 30))  # fmt: skip

    with time_machine.travel(now, tick=False):
        found = queries_diversion.signals(actor=pic, days=30)

    (package,) = found.packages
    assert package.flagged  # two theft/loss adjustments weigh 0.5 each
    assert package.score == D("1.00")
    assert package.since == day
    assert package.reasons == ["2 adjustments for theft or loss (-6 EA)"]
    by_name = {p.name: p for p in found.people}
    tech = by_name[technician.display_name]
    assert tech.reasons == [
        "2 controlled-substance moves after hours (before 07:00 or after 21:00)"
    ]
    assert (tech.score, tech.flagged, tech.since) == (D("0.04"), False, day)
    assert pharmacist.display_name not in by_name  # adjustments are not count corrections


@pytest.mark.django_db
@pytest.mark.parametrize("who", ["technician", "pharmacist", "inventory", "trainee", "admin_user"])
def test_only_the_pic_and_the_auditor_read_the_signals(request, site, who):
    with pytest.raises(Forbidden):
        queries_diversion.signals(actor=request.getfixturevalue(who))


@pytest.mark.django_db
def test_the_auditor_reads_the_signals(site, auditor):
    assert queries_diversion.signals(actor=auditor).packages == []


@pytest.mark.django_db
@pytest.mark.parametrize("days", [0, 6, 367, "many"])
def test_a_bad_look_back_is_refused_naming_it(site, pic, days):
    with pytest.raises(Invalid) as caught:
        queries_diversion.signals(actor=pic, days=days)
    assert caught.value.field == "days"


@pytest.mark.django_db
def test_returned_fills_receipts_without_invoice_and_count_corrections_are_signs(
    site, pic, technician, pharmacist
):
    oxy = oxycodone()
    day = dt.date(2026, 3, 18)
    now = dt.datetime(2026, 3, 20, 17, 0, tzinfo=dt.UTC)
    supplier = Supplier.objects.create(site=site, name="McKesson", dea_number="RM0231235")
    receipt = Receipt.objects.create(
        site=site,
        supplier=supplier,
        invoice_number="",
        status=ReceiptStatus.POSTED,
        posted_at=local(site, day, 9),
        received_by=technician,
    )
    ReceiptLine.objects.create(receipt=receipt, package=oxy, lot_number="OX1", packages_received=1)
    rx = make_rx(technician, schedule="CII", product=oxy.product, package=oxy, refills_authorized=0)
    fill = first_fill(rx)
    count = CycleCount.objects.create(site=site, scope="packages", created_by=pharmacist)
    move(site, oxy, 100, lot="OX1", actor=technician, when=local(site, day, 9))
    line = CycleCountLine.objects.create(
        count=count, package=oxy, lot=StockMove.objects.get().lot, counted=D(98), expected=D(100)
    )
    move(site, oxy, -10, reason=MoveReason.DISPENSE, lot="OX1", actor=technician,
         ref=Ref("fill", fill.pk), when=local(site, day, 10))  # fmt: skip
    move(site, oxy, 10, reason=MoveReason.RETURN_TO_STOCK, lot="OX1", actor=technician,
         ref=Ref("fill", fill.pk), when=local(site, day, 11))  # fmt: skip
    move(site, oxy, -2, reason=MoveReason.COUNT, lot="OX1", actor=pharmacist,
         ref=Ref("count_line", line.pk), adjust_reason=AdjustReason.COUNT_VARIANCE,
         when=local(site, day, 12))  # fmt: skip

    with time_machine.travel(now, tick=False):
        found = queries_diversion.signals(actor=pic, days=30)

    (package,) = found.packages
    label = f"Rx {rx.number}-0"
    assert package.reasons[1:] == [
        "1 count correction down (-2 EA)",
        f"1 controlled fill cancelled or returned to stock ({label})",
        f"1 receipt posted without an invoice number (Receipt {receipt.pk})",
    ]
    assert package.reasons[0].startswith("Counts came up short by about 2 EA since 03/18/2026")
    assert package.score == package.cusum.score + D("0.40")
    # 2 of 100 short at one count is far past the threshold: the package is flagged, and the
    # only person who moved it since the count before gets the whole shortage.
    assert package.cusum.flagged
    by_name = {p.name: p for p in found.people}
    tech = by_name[technician.display_name]
    assert tech.reasons == [
        "Losses on Oxycodone Hydrochloride 5 mg tablet (NDC 0406-0552-01): about 2 EA of the "
        "shortages found after their moves since 03/18/2026 (1 count)",
        f"1 controlled fill cancelled or returned to stock ({label})",
        f"1 receipt posted without an invoice number (Receipt {receipt.pk})",
    ]
    assert tech.flagged and tech.score >= D("1.30")
    rph = by_name[pharmacist.display_name]
    assert (rph.reasons, rph.score, rph.flagged) == (
        ["1 count correction posted"],
        D("0.10"),
        False,
    )
