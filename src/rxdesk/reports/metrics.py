"""Metrics of one pharmacy over a period of its days, read from the records other parts
keep (no table of their own): the fill history (rx FillEvent), screening alerts, the stock
ledger with acquisition prices, and claims. Built for safety, not speed quotas: the figures
are the pharmacy's, never a person's, and no patient is named.

Every function takes the actor (``metrics.view``: pharmacists, the PIC, the auditor) and
a :class:`Period`, reads only the actor's pharmacy, and answers a typed dataclass. Queries
are set-based: one or two per metric, never one per fill. The arithmetic and its
definitions are in :mod:`rxdesk.reports.metrics_calc`."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import Count, F, Max, Q, Sum
from django.utils import timezone

from rxdesk.care.choices import InterventionProblem
from rxdesk.catalog import queries as catalog_queries
from rxdesk.catalog.choices import PriceKind
from rxdesk.catalog.models import Package
from rxdesk.claims import rejects
from rxdesk.claims.choices import ClaimStatus
from rxdesk.claims.models import Claim
from rxdesk.core.capabilities import Cap
from rxdesk.core.errors import Invalid, NotFound
from rxdesk.core.models import Site, User
from rxdesk.core.services import authorize
from rxdesk.inventory.choices import MoveReason
from rxdesk.inventory.models import StockMove
from rxdesk.reports import metrics_calc as calc
from rxdesk.rx.choices import FillStatus, FillStep
from rxdesk.rx.models import Fill, FillEvent
from rxdesk.screening.models import SEVERITIES, FillAlert

DEFAULT_DAYS = 30
MAX_DAYS = 366
DEAD_STOCK_DAYS = 180
CENTS = Decimal("0.01")


# --- The period ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    """Days ``start``..``end`` (inclusive) at the pharmacy, and the instants that bound
    them in its time zone: ``[first, after)``."""

    site: Site
    start: dt.date
    end: dt.date
    first: dt.datetime
    after: dt.datetime

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def local(self, at: dt.datetime) -> dt.datetime:
        return at.astimezone(self.site.tz)


def period(*, actor: User, start: dt.date | None = None, end: dt.date | None = None) -> Period:
    """The period to report: by default the last 30 days up to today at the pharmacy."""
    authorize(actor, Cap.METRICS_VIEW)
    site = actor.site
    if site is None:
        raise NotFound("Your account is not attached to a pharmacy.")
    end = end or (start + dt.timedelta(days=DEFAULT_DAYS - 1) if start else site.today())
    start = start or end - dt.timedelta(days=DEFAULT_DAYS - 1)
    if end < start:
        raise Invalid("The last day is before the first day.", field="end")
    if (end - start).days >= MAX_DAYS:
        raise Invalid(f"Show at most {MAX_DAYS} days at a time.", field="end")
    tz = site.tz
    first = dt.datetime.combine(start, dt.time.min, tzinfo=tz)
    after = dt.datetime.combine(end + dt.timedelta(days=1), dt.time.min, tzinfo=tz)
    return Period(site, start, end, first, after)


def _check(actor: User, p: Period) -> None:
    authorize(actor, Cap.METRICS_VIEW)
    if actor.site_id != p.site.pk:
        raise NotFound("That pharmacy's figures are not yours to see.")


def fills_filled(p: Period) -> int:
    """The denominator of the rates: fills counted out (a FILLED step) in the period, each
    fill once however many times it was filled again after a send-back."""
    return (
        FillEvent.objects.filter(
            fill__site_id=p.site.pk, step=FillStep.FILLED, at__gte=p.first, at__lt=p.after
        )
        .values("fill_id")
        .distinct()
        .count()
    )


# --- Safety: errors caught at each verification step ---------------------------------------------

CATCH_POINTS = (
    ("data_verification", "Sent back at data verification"),
    ("fill_scan", "Product scan did not match (overridden at filling)"),
    ("final_verification", "Sent back at final verification"),
)


@dataclass(frozen=True)
class CatchRow:
    key: str
    label: str
    count: int
    per_1000: Decimal | None


@dataclass(frozen=True)
class ErrorsCaught:
    """Problems caught before the patient, at each check, per 1,000 fills filled."""

    fills: int
    rows: list[CatchRow]
    total: int
    total_per_1000: Decimal | None


def errors_caught(*, actor: User, p: Period) -> ErrorsCaught:
    _check(actor, p)
    window = Q(at__gte=p.first, at__lt=p.after)
    sent_back = Q(step=FillStep.SENT_BACK) & window
    counts = FillEvent.objects.filter(fill__site_id=p.site.pk).aggregate(
        data_verification=Count("pk", filter=sent_back & Q(data__at_step="data_verification")),
        fill_scan=Count("pk", filter=Q(step=FillStep.SCAN_OVERRIDDEN) & window),
        final_verification=Count("pk", filter=sent_back & Q(data__at_step="final_verification")),
    )
    fills = fills_filled(p)
    rows = [
        CatchRow(key, label, counts[key], calc.per_thousand(counts[key], fills))
        for key, label in CATCH_POINTS
    ]
    total = sum(r.count for r in rows)
    return ErrorsCaught(fills, rows, total, calc.per_thousand(total, fills))


# --- Safety: alert and override rates ------------------------------------------------------------

SEVERITY_ORDER = {key: i for i, (key, _) in enumerate(SEVERITIES)}
SEVERITY_LABEL = dict(SEVERITIES)
DUR_LABEL = dict(InterventionProblem.choices)


@dataclass(frozen=True)
class AlertRow:
    type: str
    type_label: str
    severity: str
    severity_label: str
    raised: int
    interrupting: int
    overridden: int
    per_1000: Decimal | None
    override_share: Decimal | None  # percent of the interrupting alerts


@dataclass(frozen=True)
class AlertRates:
    """Screening alerts raised per 1,000 fills filled, and the share of interrupting
    alerts a pharmacist overrode (resolved as filled anyway: result of service 1x — the
    same rule as the screening override report), by DUR type and severity."""

    fills: int
    raised: int
    interrupting: int
    overridden: int
    per_1000: Decimal | None
    override_share: Decimal | None
    rows: list[AlertRow]


def alert_rates(*, actor: User, p: Period) -> AlertRates:
    _check(actor, p)
    grouped = (
        FillAlert.objects.filter(site_id=p.site.pk, raised_at__gte=p.first, raised_at__lt=p.after)
        .values("type", "severity")
        .order_by()
        .annotate(
            n_raised=Count("pk"),
            n_interrupting=Count("pk", filter=Q(interrupting=True)),
            n_overridden=Count(
                "pk", filter=Q(interrupting=True, result_of_service__startswith="1")
            ),
        )
    )
    fills = fills_filled(p)
    rows = [
        AlertRow(
            type=g["type"],
            type_label=DUR_LABEL.get(g["type"], g["type"]),
            severity=g["severity"],
            severity_label=SEVERITY_LABEL.get(g["severity"], g["severity"]),
            raised=g["n_raised"],
            interrupting=g["n_interrupting"],
            overridden=g["n_overridden"],
            per_1000=calc.per_thousand(g["n_raised"], fills),
            override_share=calc.percent(g["n_overridden"], g["n_interrupting"]),
        )
        for g in grouped
    ]
    rows.sort(key=lambda r: (SEVERITY_ORDER.get(r.severity, 99), -r.raised, r.type))
    raised = sum(r.raised for r in rows)
    interrupting = sum(r.interrupting for r in rows)
    overridden = sum(r.overridden for r in rows)
    return AlertRates(
        fills,
        raised,
        interrupting,
        overridden,
        calc.per_thousand(raised, fills),
        calc.percent(overridden, interrupting),
        rows,
    )


# --- Workload: queue lengths over the day --------------------------------------------------------

QUEUES = (
    (FillStatus.QUEUED, "Data verification"),
    (FillStatus.TO_FILL, "Filling"),
    (FillStatus.FILLED, "Final verification"),
    (FillStatus.READY, "Will-call"),
)


@dataclass(frozen=True)
class QueueHour:
    hour: int
    mean: dict[str, Decimal]  # status → mean length at this hour over the days sampled
    peak: dict[str, int]  # status → longest at this hour
    samples: int


@dataclass(frozen=True)
class QueueLengths:
    """How many fills waited in each queue at the top of each hour, averaged over the
    period's days (instants still to come are not sampled)."""

    queues: list[tuple[str, str]]
    hours: list[QueueHour]


def queue_lengths(*, actor: User, p: Period) -> QueueLengths:
    _check(actor, p)
    statuses = [str(s) for s, _ in QUEUES]
    changes = FillEvent.objects.filter(fill__site_id=p.site.pk).exclude(from_status=F("to_status"))
    before = changes.filter(at__lt=p.first)
    baseline: Counter[str] = Counter()
    for into, n in before.values_list("to_status").order_by().annotate(n=Count("pk")):
        baseline[into] += n
    for out_of, n in before.values_list("from_status").order_by().annotate(n=Count("pk")):
        baseline[out_of] -= n
    transitions = [
        calc.Transition(at, f, t)
        for at, f, t in changes.filter(at__gte=p.first, at__lt=p.after)
        .order_by("at", "pk")
        .values_list("at", "from_status", "to_status")
    ]
    now = timezone.now()
    instants: list[tuple[int, dt.datetime]] = []
    day = p.start
    while day <= p.end:
        for hour in range(24):
            at = dt.datetime.combine(day, dt.time(hour), tzinfo=p.site.tz)
            if at <= now:
                instants.append((hour, at))
        day += dt.timedelta(days=1)
    lengths = calc.queue_lengths(baseline, transitions, [at for _, at in instants], statuses)
    by_hour: dict[int, list[dict[str, int]]] = {h: [] for h in range(24)}
    for (hour, _), counts in zip(instants, lengths, strict=True):
        by_hour[hour].append(counts)
    hours = []
    for hour in range(24):
        samples = by_hour[hour]
        mean = {
            s: (
                (Decimal(sum(c[s] for c in samples)) / len(samples)).quantize(
                    calc.ONE_PLACE, rounding=ROUND_HALF_UP
                )
                if samples
                else Decimal(0)
            )
            for s in statuses
        }
        peak = {s: max((c[s] for c in samples), default=0) for s in statuses}
        hours.append(QueueHour(hour, mean, peak, len(samples)))
    return QueueLengths([(str(s), label) for s, label in QUEUES], hours)


# --- Workload and throughput: prescriptions per hour and per day ---------------------------------


@dataclass(frozen=True)
class VolumeRow:
    label: str  # "2026-11-03" or "09:00"
    new: int
    refill: int

    @property
    def total(self) -> int:
        return self.new + self.refill


@dataclass(frozen=True)
class RxVolume:
    """Fills asked for (cancelled ones left out), new prescriptions (fill 0) and refills,
    by day of the period and by hour of the day (the pharmacy's clock)."""

    per_day: list[VolumeRow]
    per_hour: list[VolumeRow]
    new: int
    refill: int


def rx_volume(*, actor: User, p: Period) -> RxVolume:
    _check(actor, p)
    rows = (
        Fill.objects.filter(site_id=p.site.pk, requested_at__gte=p.first, requested_at__lt=p.after)
        .exclude(status=FillStatus.CANCELLED)
        .values_list("requested_at", "number")
    )
    days: dict[dt.date, list[int]] = {p.start + dt.timedelta(days=i): [0, 0] for i in range(p.days)}
    hours: dict[int, list[int]] = {h: [0, 0] for h in range(24)}
    for at, number in rows:
        local = p.local(at)
        kind = 0 if number == 0 else 1
        days[local.date()][kind] += 1
        hours[local.hour][kind] += 1
    per_day = [VolumeRow(d.isoformat(), n, r) for d, (n, r) in days.items()]
    per_hour = [VolumeRow(f"{h:02d}:00", n, r) for h, (n, r) in hours.items()]
    return RxVolume(per_day, per_hour, sum(r.new for r in per_day), sum(r.refill for r in per_day))


# --- Time in each workflow step ------------------------------------------------------------------

SEGMENTS = (
    (FillStep.ENTERED, FillStep.DATA_VERIFIED, "Entered → data verified"),
    (FillStep.DATA_VERIFIED, FillStep.FILLED, "Data verified → filled"),
    (FillStep.FILLED, FillStep.FINAL_VERIFIED, "Filled → final verified"),
    (FillStep.FINAL_VERIFIED, FillStep.SOLD, "Final verified → sold"),
)


@dataclass(frozen=True)
class StepTime:
    label: str
    fills: int
    median: Decimal | None  # minutes
    p90: Decimal | None


@dataclass(frozen=True)
class StepTimes:
    """Minutes between steps of the fill workflow for the fills that finished a step in
    the period: median and 90th percentile (nearest-rank)."""

    rows: list[StepTime]


def step_times(*, actor: User, p: Period) -> StepTimes:
    _check(actor, p)
    steps = {str(a) for a, _, _ in SEGMENTS} | {str(b) for _, b, _ in SEGMENTS}
    finished = FillEvent.objects.filter(
        fill__site_id=p.site.pk,
        step__in=[str(b) for _, b, _ in SEGMENTS],
        at__gte=p.first,
        at__lt=p.after,
    ).values("fill_id")
    events = FillEvent.objects.filter(fill_id__in=finished, step__in=steps).values_list(
        "fill_id", "step", "at"
    )
    segments = [(str(a), str(b)) for a, b, _ in SEGMENTS]
    durations = calc.step_durations(events, segments, p.first, p.after)
    rows = []
    for (a, b), (_, _, label) in zip(segments, SEGMENTS, strict=True):
        values = durations[(a, b)]
        rows.append(
            StepTime(
                label, len(values), calc.nearest_rank(values, 50), calc.nearest_rank(values, 90)
            )
        )
    return StepTimes(rows)


# --- Inventory: turns and dead stock -------------------------------------------------------------


@dataclass(frozen=True)
class InventoryTurns:
    """Turns = cost of the units dispensed in the period (net of units returned to stock)
    ÷ the average on-hand value ((value at the start + value at the end) ÷ 2), all at each
    package's latest acquisition cost on the last day; annualized = turns × 365 ÷ days.
    Packages with no acquisition cost are left out and counted."""

    days: int
    dispensed_cost: Decimal
    start_value: Decimal
    end_value: Decimal
    average_value: Decimal
    turns: Decimal | None
    annualized: Decimal | None
    packages: int
    unpriced_packages: int


@dataclass(frozen=True)
class DeadStockRow:
    ndc: str
    description: str
    on_hand: Decimal
    unit: str
    last_dispensed: dt.date | None
    value: Decimal | None


@dataclass(frozen=True)
class DeadStock:
    """Packages with stock on hand at the end of the period and no dispensing in the
    ``days`` before it, most valuable first."""

    days: int
    rows: list[DeadStockRow]
    total_value: Decimal
    unpriced: int


@dataclass(frozen=True)
class _Cost:
    """A package's latest acquisition price and the billing units in it: the value of ``q``
    units is q × price ÷ units, multiplied first so no rounding drifts in."""

    price: Decimal
    units: Decimal

    def of(self, quantity: Decimal) -> Decimal:
        return quantity * self.price / self.units


def _unit_costs(packages: list[Package], on: dt.date) -> dict[int, _Cost]:
    prices = catalog_queries.latest_prices(packages, on=on)
    out = {}
    for package in packages:
        for price in prices.get(package.pk, []):
            if price.kind == PriceKind.ACQUISITION:
                out[package.pk] = _Cost(price.amount, package.package_quantity)
    return out


@dataclass(frozen=True)
class _Ledger:
    """One package's ledger over the period: on hand at its start and end (the sum of the
    moves before each instant: balance = sum of moves), units dispensed in it net of those
    returned to stock (negative: out), and the last dispensing before its end."""

    package_id: int
    at_start: Decimal
    at_end: Decimal
    dispensed: Decimal
    last_dispensed: dt.datetime | None


def _ledger(p: Period) -> list[_Ledger]:
    rows = (
        StockMove.objects.filter(site_id=p.site.pk, occurred_at__lt=p.after)
        .values("package_id")
        .annotate(
            at_start=Sum("quantity", filter=Q(occurred_at__lt=p.first)),
            at_end=Sum("quantity"),
            dispensed=Sum(
                "quantity",
                filter=Q(
                    occurred_at__gte=p.first,
                    reason__in=[MoveReason.DISPENSE, MoveReason.RETURN_TO_STOCK],
                ),
            ),
            last_dispensed=Max("occurred_at", filter=Q(reason=MoveReason.DISPENSE)),
        )
        .order_by("package_id")
    )
    zero = Decimal(0)
    return [
        _Ledger(
            r["package_id"],
            r["at_start"] or zero,
            r["at_end"] or zero,
            r["dispensed"] or zero,
            r["last_dispensed"],
        )
        for r in rows
    ]


def inventory_turns(*, actor: User, p: Period) -> InventoryTurns:
    _check(actor, p)
    ledger = _ledger(p)
    packages = list(Package.objects.filter(pk__in=[r.package_id for r in ledger]))
    costs = _unit_costs(packages, p.end)
    dispensed = start_value = end_value = Decimal(0)
    unpriced = 0
    for row in ledger:
        cost = costs.get(row.package_id)
        if cost is None:
            unpriced += 1
            continue
        dispensed += cost.of(-row.dispensed)
        start_value += cost.of(row.at_start)
        end_value += cost.of(row.at_end)
    average = (start_value + end_value) / 2
    turns = annual = None
    if average > 0:
        turns = (dispensed / average).quantize(CENTS, rounding=ROUND_HALF_UP)
        annual = (dispensed / average * 365 / p.days).quantize(CENTS, rounding=ROUND_HALF_UP)
    return InventoryTurns(
        days=p.days,
        dispensed_cost=dispensed.quantize(CENTS, rounding=ROUND_HALF_UP),
        start_value=start_value.quantize(CENTS, rounding=ROUND_HALF_UP),
        end_value=end_value.quantize(CENTS, rounding=ROUND_HALF_UP),
        average_value=average.quantize(CENTS, rounding=ROUND_HALF_UP),
        turns=turns,
        annualized=annual,
        packages=len(ledger) - unpriced,
        unpriced_packages=unpriced,
    )


def dead_stock(*, actor: User, p: Period, days: int = DEAD_STOCK_DAYS) -> DeadStock:
    _check(actor, p)
    if not 1 <= days <= 3650:
        raise Invalid("Days without dispensing: from 1 to 3650.", field="days")
    cutoff = p.after - dt.timedelta(days=days)
    dead = [
        r
        for r in _ledger(p)
        if r.at_end > 0 and (r.last_dispensed is None or r.last_dispensed < cutoff)
    ]
    packages = {pk.pk: pk for pk in Package.objects.filter(pk__in=[r.package_id for r in dead])}
    costs = _unit_costs(list(packages.values()), p.end)
    rows = []
    for r in dead:
        package = packages[r.package_id]
        cost = costs.get(package.pk)
        rows.append(
            DeadStockRow(
                ndc=package.ndc10,
                description=package.description,
                on_hand=r.at_end,
                unit=package.billing_unit,
                last_dispensed=p.local(r.last_dispensed).date() if r.last_dispensed else None,
                value=(
                    cost.of(r.at_end).quantize(CENTS, rounding=ROUND_HALF_UP)
                    if cost is not None
                    else None
                ),
            )
        )
    rows.sort(key=lambda r: (r.value is None, -(r.value or 0), r.ndc))
    total = sum((r.value for r in rows if r.value is not None), Decimal("0.00"))
    return DeadStock(days, rows, total, sum(1 for r in rows if r.value is None))


# --- Claims: reject rates --------------------------------------------------------------------


@dataclass(frozen=True)
class RejectCodeRow:
    code: str
    meaning: str
    claims: int
    share: Decimal | None  # percent of the claims submitted


@dataclass(frozen=True)
class RejectPlanRow:
    plan: str
    bin: str
    pcn: str
    submitted: int
    rejected: int
    rate: Decimal | None  # percent


@dataclass(frozen=True)
class ClaimRejects:
    """Claims with a date of service in the period that a payer answered (submitted),
    those whose answer stands as a reject (rejected), the rate rejected ÷ submitted, by
    plan and by reject code (a claim with two codes counts under both)."""

    submitted: int
    rejected: int
    rate: Decimal | None
    by_plan: list[RejectPlanRow] = field(default_factory=list)
    by_code: list[RejectCodeRow] = field(default_factory=list)


def claim_rejects(*, actor: User, p: Period) -> ClaimRejects:
    _check(actor, p)
    claims = Claim.objects.filter(
        site_id=p.site.pk,
        date_of_service__gte=p.start,
        date_of_service__lte=p.end,
        answered_at__isnull=False,
    )
    is_rejected = Q(status=ClaimStatus.REJECTED)
    grouped = (
        claims.values("plan_id", "plan__name", "plan__bin", "plan__pcn")
        .annotate(submitted=Count("pk"), rejected=Count("pk", filter=is_rejected))
        .order_by("plan__name", "plan_id")
    )
    by_plan = [
        RejectPlanRow(
            g["plan__name"],
            g["plan__bin"],
            g["plan__pcn"],
            g["submitted"],
            g["rejected"],
            calc.percent(g["rejected"], g["submitted"]),
        )
        for g in grouped
    ]
    by_plan.sort(key=lambda r: (-(r.rate or Decimal(-1)), r.plan))
    submitted = sum(r.submitted for r in by_plan)
    rejected = sum(r.rejected for r in by_plan)
    codes: Counter[str] = Counter()
    for listed in claims.filter(is_rejected).values_list("reject_codes", flat=True):
        for code in {rejects.normalize(c) for c in (listed or [])}:
            codes[code] += 1
    by_code = [
        RejectCodeRow(code, rejects.explain(code).meaning, n, calc.percent(n, submitted))
        for code, n in sorted(codes.items(), key=lambda kv: (-kv[1], kv[0]))
    ]
    return ClaimRejects(submitted, rejected, calc.percent(rejected, submitted), by_plan, by_code)
