"""The seven daily reports: each a function ``(site, business_date) -> ReportTable`` over
the records other apps keep (fills, the stock ledger, the controlled-substance log,
claims, will-call, lots, interventions) — never a copy of them. The business date is the
pharmacy's local calendar day.

The builders read as the system: the capability to generate or read reports
(``reports.daily``) is checked once by rxdesk.reports.services_daily before any builder
runs, and the reused reads of other apps (the controlled-substance daily log, the claims
summary) are then asked for the whole site's day, whoever asked for the report."""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Q

from rxdesk.care.models import Intervention
from rxdesk.claims.choices import ClaimStatus
from rxdesk.claims.models import Claim
from rxdesk.core import context
from rxdesk.core.models import Site, User
from rxdesk.inventory.choices import MoveReason
from rxdesk.inventory.models import StockBalance, StockMove
from rxdesk.reports.choices import ReportCode
from rxdesk.reports.daily_table import (
    AGE_BUCKETS,
    EXPIRED,
    EXPIRY_HORIZON,
    EXPIRY_WINDOWS,
    ReportTable,
    age_bucket,
    count_by,
    expiry_window,
    money,
    qty,
)
from rxdesk.rx.choices import FillStatus
from rxdesk.rx.models import Fill


@contextlib.contextmanager
def as_system() -> Iterator[None]:
    """Run the reused reads of other apps as the system (``actor=None``) after the
    reports capability has been checked (see the module's docstring)."""
    with context.using(dataclasses.replace(context.current(), channel="system")):
        yield


def day_bounds(site: Site, day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """Midnight to midnight of the local ``day`` at the pharmacy, as aware datetimes."""
    from rxdesk.controlled.queries import day_bounds as bounds

    return bounds(site, day)


def staff_name(user: User | None) -> str:
    if user is None:
        return ""
    return user.get_full_name() or user.username


def _local(site: Site, when: dt.datetime | None, fmt: str = "%H:%M") -> str:
    return when.astimezone(site.tz).strftime(fmt) if when else ""


# --- Dispensing -------------------------------------------------------------------------------

LIVE_CLAIMS = (ClaimStatus.PAID, ClaimStatus.CAPTURED, ClaimStatus.QUEUED, ClaimStatus.SENDING)


def dispensing(site: Site, day: dt.date) -> ReportTable:
    """Every fill counted out on ``day`` (Fill.dispensed_on, the date filled), cancelled
    ones left out: Rx and fill number, patient, drug (tall-man), NDC, quantity, days
    supply, prescriber, schedule, who filled and which pharmacist verified, new or refill,
    and who pays (the primary live claim's plan, else cash)."""
    from rxdesk.controlled.queries import drug_of, group_for_schedule

    fills = list(
        Fill.objects.filter(site=site, dispensed_on=day)
        .exclude(status=FillStatus.CANCELLED)
        .select_related(
            "prescription__patient",
            "prescription__prescriber",
            "prescription__product",
            "package__product",
            "filled_by",
            "verified_by",
        )
        .order_by("prescription__number", "number", "pk")
    )
    payers: dict[int, str] = {}
    for claim in (
        Claim.objects.filter(site=site, fill__in=fills, status__in=LIVE_CLAIMS)
        .select_related("plan")
        .order_by("-payer_rank", "-pk")
    ):
        payers[claim.fill_id] = claim.plan.name  # the lowest rank (primary) is read last
    rows = []
    new = controlled = 0
    for f in fills:
        rx = f.prescription
        package = f.package or rx.package
        drug = drug_of(package) if package else rx.product.display_name
        schedule = rx.schedule or (package.product.dea_schedule if package else "")
        is_new = f.number == 0
        new += is_new
        controlled += group_for_schedule(schedule) is not None
        rows.append(
            [
                str(rx.number),
                str(f.number),
                rx.patient.full_name,
                drug,
                package.ndc10 if package else "",
                qty(f.quantity),
                str(f.days_supply),
                str(rx.prescriber),
                schedule,
                staff_name(f.filled_by),
                staff_name(f.verified_by),
                "New" if is_new else "Refill",
                payers.get(f.pk, "Cash"),
            ]
        )
    return ReportTable(
        code=ReportCode.DISPENSING,
        title=str(ReportCode.DISPENSING.label),
        columns=[
            "Rx",
            "Fill",
            "Patient",
            "Drug",
            "NDC",
            "Qty",
            "Days supply",
            "Prescriber",
            "Schedule",
            "Filled by",
            "Verified by",
            "New/Refill",
            "Payer",
        ],
        rows=rows,
        totals=[
            ("Fills", str(len(rows))),
            ("New", str(new)),
            ("Refills", str(len(rows) - new)),
            ("Controlled", str(controlled)),
        ],
        notes=["Fills counted out this day (date filled); cancelled fills are left out."],
        has_phi=True,
    )


# --- Controlled-substance log -----------------------------------------------------------------


def controlled(site: Site, day: dt.date) -> ReportTable:
    """The day's controlled-substance log (rxdesk.controlled.queries.daily_log), Schedule II
    then Schedules III–V, with the totals by reason and where each log's sign-off stands."""
    from rxdesk.controlled.choices import ScheduleGroup
    from rxdesk.controlled.queries import daily_log

    rows = []
    totals: list[tuple[str, str]] = []
    notes = []
    for group in (ScheduleGroup.II, ScheduleGroup.III_V):
        with as_system():
            log = daily_log(actor=None, day=day, group=group, site=site)
        for line in log.lines:
            rows.append(
                [
                    log.group_label,
                    line.local.strftime("%H:%M:%S"),
                    line.drug,
                    line.ndc,
                    line.lot_number,
                    line.why,
                    qty(line.quantity),
                    line.unit,
                    qty(line.lot_balance),
                    line.actor_name,
                    line.witness_name,
                    line.reference,
                    line.patient,
                ]
            )
        totals.append((f"{log.group_label}: moves", str(log.moves)))
        for total in log.totals:
            amounts = ", ".join(f"{qty(q)} {unit}" for unit, q in total.quantities)
            totals.append((f"{log.group_label}: {total.label}", f"{total.moves} ({amounts})"))
        notes.append(f"{log.group_label} log: {log.state.text}")
    return ReportTable(
        code=ReportCode.CONTROLLED,
        title=str(ReportCode.CONTROLLED.label),
        columns=[
            "Schedules",
            "Time",
            "Drug",
            "NDC",
            "Lot",
            "Why",
            "Qty",
            "Unit",
            "Lot balance after",
            "By",
            "Witness",
            "Belongs to",
            "Patient",
        ],
        rows=rows,
        totals=totals,
        notes=notes,
        has_phi=True,
    )


# --- Inventory movement -----------------------------------------------------------------------


def inventory_movement(site: Site, day: dt.date) -> ReportTable:
    """The day's stock ledger moves grouped by reason and billing unit: how many moves,
    units in, units out and the net — exact sums of the ledger's quantities."""
    lower, upper = day_bounds(site, day)
    moves = StockMove.objects.filter(
        site=site, occurred_at__gte=lower, occurred_at__lt=upper
    ).values_list("reason", "package__billing_unit", "quantity")
    count: dict[tuple[str, str], int] = defaultdict(int)
    into: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    out: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for reason, unit, quantity in moves:
        key = (reason, unit)
        count[key] += 1
        if quantity > 0:
            into[key] += quantity
        else:
            out[key] += -quantity
    order = list(MoveReason.values)
    labels = dict(MoveReason.choices)
    keys = sorted(count, key=lambda k: (order.index(k[0]) if k[0] in order else 99, k[1]))
    rows = [
        [
            str(labels.get(reason, reason)),
            unit,
            str(count[(reason, unit)]),
            qty(into[(reason, unit)]),
            qty(out[(reason, unit)]),
            qty(into[(reason, unit)] - out[(reason, unit)]),
        ]
        for reason, unit in keys
    ]
    net: dict[str, Decimal] = defaultdict(Decimal)
    for reason, unit in keys:
        net[unit] += into[(reason, unit)] - out[(reason, unit)]
    totals = [("Moves", str(sum(count.values())))]
    totals += [(f"Net {unit}", qty(value)) for unit, value in sorted(net.items())]
    return ReportTable(
        code=ReportCode.INVENTORY_MOVEMENT,
        title=str(ReportCode.INVENTORY_MOVEMENT.label),
        columns=["Reason", "Unit", "Moves", "In", "Out", "Net"],
        rows=rows,
        totals=totals,
        notes=["Quantities in each package's billing unit (EA, ML, GM)."],
    )


# --- Claims summary ---------------------------------------------------------------------------


def claims_summary(site: Site, day: dt.date) -> ReportTable:
    """Claims of the day by plan and status (rxdesk.claims.queries_reports.claims_summary):
    counts, patient pay and plan paid; totals per status. No patient names."""
    from rxdesk.claims.queries_reports import claims_summary as summary_of

    with as_system():
        summary = summary_of(actor=None, start=day, end=day, site=site)
    rows = [
        [
            line.plan,
            line.bin,
            line.status_label,
            str(line.claims),
            money(line.patient_pay),
            money(line.plan_paid),
        ]
        for line in summary.lines
    ]
    order = list(ClaimStatus.values)
    totals = [("Claims", str(summary.claims))]
    for status in sorted(summary.by_status, key=lambda s: order.index(s) if s in order else 99):
        t = summary.by_status[status]
        label = ClaimStatus(status).label if status in order else status
        totals.append(
            (
                str(label),
                f"{t.claims} (patients {money(t.patient_pay)}, plans {money(t.plan_paid)})",
            )
        )
    return ReportTable(
        code=ReportCode.CLAIMS_SUMMARY,
        title=str(ReportCode.CLAIMS_SUMMARY.label),
        columns=["Plan", "BIN", "Status", "Claims", "Patient pay", "Plan paid"],
        rows=rows,
        totals=totals,
        notes=[
            "By date of service. Amounts in dollars.",
            f"Claims waiting in the outbox when generated: {summary.outbox}.",
        ],
    )


# --- Will-call aging --------------------------------------------------------------------------


def will_call_aging(site: Site, day: dt.date) -> ReportTable:
    """Bags waiting in will-call at the end of ``day`` (ready by then and neither sold nor
    returned to stock by then), oldest first, by age bucket; and those past their
    return-to-stock deadline (rxdesk.pos.queries_willcall.return_deadline)."""
    from rxdesk.pos.queries_willcall import past_return_window, return_deadline
    from rxdesk.rx.services.common import settings_of

    _lower, upper = day_bounds(site, day)
    days = settings_of(site).return_to_stock_days
    fills = list(
        Fill.objects.filter(site=site, ready_at__lt=upper)
        .filter(
            Q(status=FillStatus.READY)
            | Q(status=FillStatus.DISPENSED, sold_at__gte=upper)
            | Q(status=FillStatus.RETURNED, returned_at__gte=upper)
        )
        .select_related("prescription__patient", "prescription__product", "package__product")
        .order_by("ready_at", "pk")
    )
    rows = []
    buckets = []
    past = 0
    for f in fills:
        assert f.ready_at is not None
        ready_on = f.ready_at.astimezone(site.tz).date()
        age = max(0, (day - ready_on).days)
        bucket = age_bucket(age)
        buckets.append(bucket)
        deadline = return_deadline(f, site, days=days)
        late = past_return_window(f, site, day, days=days)
        past += late
        product = f.package.product if f.package else f.prescription.product
        rows.append(
            [
                f.bin,
                str(f.prescription.number),
                str(f.number),
                f.prescription.patient.full_name,
                product.display_name,
                qty(f.quantity),
                ready_on.isoformat(),
                str(age),
                bucket,
                deadline.isoformat() if deadline else "",
                "Yes" if late else "",
            ]
        )
    totals = [("Waiting", str(len(rows)))]
    totals += [(label, str(n)) for label, n in count_by(buckets, [b[0] for b in AGE_BUCKETS])]
    totals.append(("Past the return-to-stock deadline", str(past)))
    return ReportTable(
        code=ReportCode.WILL_CALL_AGING,
        title=str(ReportCode.WILL_CALL_AGING.label),
        columns=[
            "Bin",
            "Rx",
            "Fill",
            "Patient",
            "Drug",
            "Qty",
            "Ready since",
            "Days waiting",
            "Age",
            "Return by",
            "Past deadline",
        ],
        rows=rows,
        totals=totals,
        notes=[
            f"Return to stock {days} days after the date filled (the pharmacy's setting).",
        ],
        has_phi=True,
    )


# --- Expiring stock ---------------------------------------------------------------------------


def expiring_stock(site: Site, day: dt.date) -> ReportTable:
    """Lots with stock on hand that have expired or expire within 90 days of ``day``, by
    window (expired, within 30, 31–60, 61–90 days), first expiry first. On-hand quantities
    are those when the report is generated."""
    horizon = day + dt.timedelta(days=EXPIRY_HORIZON)
    balances = (
        StockBalance.objects.filter(
            site=site, on_hand__gt=0, lot__expiry__isnull=False, lot__expiry__lte=horizon
        )
        .select_related("lot", "package__product", "location")
        .order_by("lot__expiry", "package__ndc11", "lot__number", "pk")
    )
    rows = []
    windows = []
    for b in balances:
        expiry = b.lot.expiry
        assert expiry is not None
        window = expiry_window(expiry, day) or ""
        windows.append(window)
        product = b.package.product
        rows.append(
            [
                product.display_name,
                product.strength,
                b.package.ndc10,
                product.dea_schedule,
                b.lot.number,
                expiry.isoformat(),
                str((expiry - day).days),
                window,
                qty(b.on_hand),
                b.package.billing_unit,
                b.location.code if b.location else "",
                b.get_status_display(),
            ]
        )
    order = [EXPIRED, *(w[0] for w in EXPIRY_WINDOWS)]
    totals = [("Lots", str(len(rows)))]
    totals += [(label, str(n)) for label, n in count_by(windows, order)]
    return ReportTable(
        code=ReportCode.EXPIRING_STOCK,
        title=str(ReportCode.EXPIRING_STOCK.label),
        columns=[
            "Drug",
            "Strength",
            "NDC",
            "Schedule",
            "Lot",
            "Expiry",
            "Days left",
            "Window",
            "On hand",
            "Unit",
            "Location",
            "Status",
        ],
        rows=rows,
        totals=totals,
        notes=["A lot is good through its expiry date. On hand as of the generation time."],
    )


def _coded(code: str, words: dict[str, str]) -> str:
    return f"{code} {words.get(code, '')}".strip() if code else ""


# --- Interventions ----------------------------------------------------------------------------


def interventions(site: Site, day: dt.date) -> ReportTable:
    """Pharmacists' interventions recorded on ``day`` (rxdesk.care Intervention): problem,
    professional service and outcome codes (NCPDP), status and minutes."""
    from rxdesk.screening.services import PROFESSIONAL_SERVICE, RESULT_OF_SERVICE

    lower, upper = day_bounds(site, day)
    found = (
        Intervention.objects.filter(site=site, recorded_at__gte=lower, recorded_at__lt=upper)
        .select_related("patient", "prescription", "prescriber", "recorded_by")
        .order_by("recorded_at", "pk")
    )
    rows = []
    open_ = minutes = 0
    for i in found:
        open_ += i.status == "open"
        minutes += i.minutes
        rows.append(
            [
                _local(site, i.recorded_at),
                i.patient.full_name,
                str(i.prescription.number) if i.prescription else "",
                f"{i.problem} {i.get_problem_display()}",
                _coded(i.action, PROFESSIONAL_SERVICE),
                _coded(i.outcome, RESULT_OF_SERVICE),
                str(i.prescriber) if i.prescriber else "",
                i.get_status_display(),
                str(i.minutes),
                staff_name(i.recorded_by),
            ]
        )
    return ReportTable(
        code=ReportCode.INTERVENTIONS,
        title=str(ReportCode.INTERVENTIONS.label),
        columns=[
            "Time",
            "Patient",
            "Rx",
            "Problem",
            "Service",
            "Outcome",
            "Prescriber",
            "Status",
            "Minutes",
            "Recorded by",
        ],
        rows=rows,
        totals=[
            ("Interventions", str(len(rows))),
            ("Open", str(open_)),
            ("Closed", str(len(rows) - open_)),
            ("Minutes", str(minutes)),
        ],
        notes=["Service and outcome: NCPDP professional service (440-E5) and result (441-E6)."],
        has_phi=True,
    )


@dataclass(frozen=True)
class ReportSpec:
    code: ReportCode
    build: Callable[[Site, dt.date], ReportTable]
    has_phi: bool


REGISTRY: dict[str, ReportSpec] = {
    spec.code.value: spec
    for spec in (
        ReportSpec(ReportCode.DISPENSING, dispensing, True),
        ReportSpec(ReportCode.CONTROLLED, controlled, True),
        ReportSpec(ReportCode.INVENTORY_MOVEMENT, inventory_movement, False),
        ReportSpec(ReportCode.CLAIMS_SUMMARY, claims_summary, False),
        ReportSpec(ReportCode.WILL_CALL_AGING, will_call_aging, True),
        ReportSpec(ReportCode.EXPIRING_STOCK, expiring_stock, False),
        ReportSpec(ReportCode.INTERVENTIONS, interventions, True),
    )
}
CODES: list[str] = list(REGISTRY)


def build(code: str, site: Site, day: dt.date) -> ReportTable:
    """One report of ``site`` on the local ``day``."""
    return REGISTRY[code].build(site, day)
