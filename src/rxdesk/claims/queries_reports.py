"""Claims reports of one pharmacy (``claims.report``): claims by status, plan and day; paid
vs expected; outstanding rejects and prior authorizations; reversals and the outbox; fills
whose plan's return-to-stock window has passed. Each has a CSV form (a header row, one row
per item) and the summary has a sentence for the CLI.

Dates are the pharmacy's calendar days: a claim counts on its date of service, a reversal on
the local day it was made. The summary has no patient names; the reject, PA and
return-to-stock lists are work lists and name the patient beside the Rx number."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db.models import Count, DecimalField, F, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from rxdesk.claims import rejects
from rxdesk.claims.choices import ACCEPTED, OUTBOX, PA_OPEN, ClaimStatus, PriorAuthStatus
from rxdesk.claims.models import Claim, PriorAuth
from rxdesk.core.capabilities import Cap
from rxdesk.core.errors import Invalid, NotFound
from rxdesk.core.models import Site, User
from rxdesk.core.services import authorize
from rxdesk.rx.choices import FillStatus

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
# A paid claim short of what was expected by more than this is worth a call to the plan
# (smaller differences are rounding in the plan's pricing).
UNDERPAID_TOLERANCE = Decimal("0.50")
MAX_RANGE_DAYS = 366
_MONEY = DecimalField(max_digits=14, decimal_places=2)


def _site(actor: User | None, site: Site | None) -> Site:
    if actor is not None:
        if actor.site is None:
            raise NotFound("Your account is not attached to a pharmacy.")
        return actor.site
    if site is None:
        raise NotFound("Say which pharmacy.")
    return site


def _range(where: Site, start: dt.date | None, end: dt.date | None) -> tuple[dt.date, dt.date]:
    today = where.today()
    start = start or end or today
    end = end or (start if start > today else today)
    if end < start:
        raise Invalid("The end date is before the start date.", field="end")
    if (end - start).days >= MAX_RANGE_DAYS:
        raise Invalid(f"Ask for {MAX_RANGE_DAYS} days at most; narrow the dates.", field="start")
    return start, end


def _bounds(where: Site, start: dt.date, end: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """Midnight of ``start`` to midnight after ``end``, at the pharmacy."""
    tz = where.tz
    return (
        dt.datetime.combine(start, dt.time.min, tzinfo=tz),
        dt.datetime.combine(end + dt.timedelta(days=1), dt.time.min, tzinfo=tz),
    )


def _money(value: Decimal | None) -> Decimal:
    return (value if value is not None else ZERO).quantize(CENT)


def _local_date(where: Site, when: dt.datetime) -> dt.date:
    return when.astimezone(where.tz).date()


def _patient_name(claim_or_rx: Any) -> str:
    patient = claim_or_rx.patient
    return f"{patient.last_name}, {patient.first_name}"


def _who(user: User | None) -> str:
    return user.display_name if user is not None else "system"


def _status_label(status: str) -> str:
    try:
        return str(ClaimStatus(status).label)
    except ValueError:
        return status


# --- Claims by status, plan and day ----------------------------------------------------------


@dataclass(frozen=True)
class SummaryLine:
    """Claims of one day, plan and status: how many, and what patients and the plan paid."""

    day: dt.date
    plan_id: int
    plan: str
    bin: str
    status: str
    claims: int
    patient_pay: Decimal
    plan_paid: Decimal

    @property
    def status_label(self) -> str:
        return _status_label(self.status)


@dataclass
class StatusTotal:
    status: str
    claims: int = 0
    patient_pay: Decimal = ZERO
    plan_paid: Decimal = ZERO

    @property
    def status_label(self) -> str:
        return _status_label(self.status)


@dataclass
class Summary:
    site: Site
    start: dt.date
    end: dt.date
    lines: list[SummaryLine] = field(default_factory=list)
    by_status: dict[str, StatusTotal] = field(default_factory=dict)
    # Claims of the pharmacy waiting in the outbox now (whatever their date of service).
    outbox: int = 0

    def count(self, status: str) -> int:
        total = self.by_status.get(status)
        return total.claims if total else 0

    @property
    def claims(self) -> int:
        return sum(t.claims for t in self.by_status.values())

    @property
    def paid(self) -> StatusTotal:
        return self.by_status.get(ClaimStatus.PAID) or StatusTotal(ClaimStatus.PAID)


def claims_summary(
    *,
    actor: User | None,
    start: dt.date | None = None,
    end: dt.date | None = None,
    site: Site | None = None,
) -> Summary:
    """Claims by date of service, plan and status between ``start`` and ``end`` (default
    today at the pharmacy): counts, patient pay and plan paid; totals per status; and how
    many claims wait in the outbox now. No patient names."""
    authorize(actor, Cap.CLAIMS_REPORT)
    where = _site(actor, site)
    start, end = _range(where, start, end)
    rows = (
        Claim.objects.filter(site=where, date_of_service__range=(start, end))
        .values("date_of_service", "plan_id", "plan__name", "plan__bin", "status")
        .annotate(
            n=Count("pk"),
            patient_pay_sum=Coalesce(Sum("patient_pay"), Value(ZERO), output_field=_MONEY),
            plan_paid_sum=Coalesce(Sum("plan_paid"), Value(ZERO), output_field=_MONEY),
        )
        .order_by("date_of_service", "plan__name", "plan_id", "status")
    )
    summary = Summary(site=where, start=start, end=end)
    for row in rows:
        line = SummaryLine(
            day=row["date_of_service"],
            plan_id=row["plan_id"],
            plan=row["plan__name"],
            bin=row["plan__bin"],
            status=row["status"],
            claims=row["n"],
            patient_pay=_money(row["patient_pay_sum"]),
            plan_paid=_money(row["plan_paid_sum"]),
        )
        summary.lines.append(line)
        total = summary.by_status.setdefault(line.status, StatusTotal(line.status))
        total.claims += line.claims
        total.patient_pay += line.patient_pay
        total.plan_paid += line.plan_paid
    summary.outbox = Claim.objects.filter(site=where, status__in=OUTBOX).count()
    return summary


# Short words for a status in a sentence ("3 paid, 1 in the outbox"), in reading order.
_STATUS_WORDS: dict[str, str] = {
    ClaimStatus.PAID: "paid",
    ClaimStatus.CAPTURED: "captured",
    ClaimStatus.REJECTED: "rejected",
    ClaimStatus.ATTENTION: "needing attention",
    ClaimStatus.SENDING: "sending",
    ClaimStatus.QUEUED: "in the outbox",
    ClaimStatus.REVERSAL_QUEUED: "reversals in the outbox",
    ClaimStatus.REVERSED: "reversed",
    ClaimStatus.CLOSED: "closed without payment",
}


def summary_text(summary: Summary) -> str:
    """The summary in words, for the CLI: ``Claims 2026-11-26: 42 paid ($512.10 plan,
    $130.00 patients), 5 rejected, 1 in the outbox``, then one line per plan."""
    days = (
        summary.start.isoformat()
        if summary.start == summary.end
        else f"{summary.start.isoformat()} to {summary.end.isoformat()}"
    )
    paid = summary.paid
    parts = [
        f"{paid.claims} paid (${paid.plan_paid:,.2f} plan, ${paid.patient_pay:,.2f} patients)",
        f"{summary.count(ClaimStatus.REJECTED)} rejected",
    ]
    for status, words in (
        (ClaimStatus.CAPTURED, ("captured", "captured")),
        (ClaimStatus.ATTENTION, ("needs attention", "need attention")),
        (ClaimStatus.REVERSED, ("reversed", "reversed")),
        (ClaimStatus.CLOSED, ("closed without payment", "closed without payment")),
    ):
        n = summary.count(status)
        if n:
            parts.append(f"{n} {words[0] if n == 1 else words[1]}")
    parts.append(f"{summary.outbox} in the outbox")
    lines = [f"Claims {days}: " + ", ".join(parts)]
    plans: dict[tuple[int, str, str], dict[str, int]] = {}
    for line in summary.lines:
        counts = plans.setdefault((line.plan_id, line.plan, line.bin), {})
        counts[line.status] = counts.get(line.status, 0) + line.claims
    order = list(_STATUS_WORDS)
    for (_, name, bin), counts in sorted(plans.items(), key=lambda kv: kv[0][1]):
        said = ", ".join(
            f"{n} {_STATUS_WORDS.get(s, s)}"
            for s, n in sorted(counts.items(), key=lambda kv: order.index(kv[0]))
        )
        lines.append(f"  {name} (BIN {bin}): {said}")
    return "\n".join(lines) + "\n"


# --- Paid vs expected -------------------------------------------------------------------------


@dataclass(frozen=True)
class Underpaid:
    """A paid claim that brought in less than it should: expected is the gross amount due
    less what other payers paid first; received is what this plan paid plus what it left
    the patient to pay."""

    claim_id: int
    date_of_service: dt.date
    rx_number: int
    fill_number: int
    plan: str
    bin: str
    gross_amount_due: Decimal
    other_payer_paid: Decimal
    expected: Decimal
    plan_paid: Decimal
    patient_pay: Decimal
    received: Decimal

    @property
    def short(self) -> Decimal:
        return self.expected - self.received


@dataclass
class PaidVsExpected:
    start: dt.date
    end: dt.date
    checked: int = 0  # paid claims with a gross amount due, compared
    rows: list[Underpaid] = field(default_factory=list)

    @property
    def expected(self) -> Decimal:
        return sum((r.expected for r in self.rows), ZERO)

    @property
    def received(self) -> Decimal:
        return sum((r.received for r in self.rows), ZERO)

    @property
    def short(self) -> Decimal:
        return sum((r.short for r in self.rows), ZERO)


def paid_vs_expected(
    *,
    actor: User | None,
    start: dt.date | None = None,
    end: dt.date | None = None,
    site: Site | None = None,
) -> PaidVsExpected:
    """Paid claims (by date of service) whose plan paid plus patient pay fell short of the
    gross amount due (less other payers' payments) by more than $0.50, largest first."""
    authorize(actor, Cap.CLAIMS_REPORT)
    where = _site(actor, site)
    start, end = _range(where, start, end)
    report = PaidVsExpected(start=start, end=end)
    claims = (
        Claim.objects.filter(
            site=where,
            status=ClaimStatus.PAID,
            date_of_service__range=(start, end),
            gross_amount_due__isnull=False,
        )
        .select_related("plan")
        .order_by("date_of_service", "rx_number", "fill_number", "payer_rank")
    )
    for claim in claims:
        report.checked += 1
        assert claim.gross_amount_due is not None
        other = _money(claim.other_payer_paid)
        expected = _money(claim.gross_amount_due) - other
        received = _money(claim.plan_paid) + _money(claim.patient_pay)
        if expected - received > UNDERPAID_TOLERANCE:
            report.rows.append(
                Underpaid(
                    claim_id=claim.pk,
                    date_of_service=claim.date_of_service,
                    rx_number=claim.rx_number,
                    fill_number=claim.fill_number,
                    plan=claim.plan.name,
                    bin=claim.plan.bin,
                    gross_amount_due=_money(claim.gross_amount_due),
                    other_payer_paid=other,
                    expected=expected,
                    plan_paid=_money(claim.plan_paid),
                    patient_pay=_money(claim.patient_pay),
                    received=received,
                )
            )
    report.rows.sort(key=lambda r: (-r.short, r.date_of_service, r.rx_number))
    return report


# --- Outstanding rejects and prior authorizations ---------------------------------------------


@dataclass(frozen=True)
class RejectLine:
    claim_id: int
    fill_id: int
    rx_number: int
    fill_number: int
    patient_id: int
    patient: str
    drug: str
    plan: str
    bin: str
    status: str
    codes: list[str]
    meaning: str
    message: str
    since: dt.date
    age_days: int

    @property
    def status_label(self) -> str:
        return _status_label(self.status)


@dataclass(frozen=True)
class PaLine:
    prior_auth_id: int
    rx_number: int
    patient_id: int
    patient: str
    drug: str
    plan: str
    bin: str
    status: str
    opened_on: dt.date
    follow_up_on: dt.date | None
    overdue: bool

    @property
    def status_label(self) -> str:
        try:
            return str(PriorAuthStatus(self.status).label)
        except ValueError:
            return self.status


@dataclass
class Outstanding:
    today: dt.date
    rejects: list[RejectLine] = field(default_factory=list)
    prior_auths: list[PaLine] = field(default_factory=list)

    @property
    def overdue(self) -> int:
        return sum(1 for p in self.prior_auths if p.overdue)


def outstanding(*, actor: User | None, site: Site | None = None) -> Outstanding:
    """Claims still rejected or needing attention (oldest first, with their age in days)
    and the open prior authorization cases (follow-up due first; overdue counted)."""
    authorize(actor, Cap.CLAIMS_REPORT)
    where = _site(actor, site)
    today = where.today()
    report = Outstanding(today=today)
    claims = (
        Claim.objects.filter(site=where, status__in=[ClaimStatus.REJECTED, ClaimStatus.ATTENTION])
        .select_related("fill__prescription__patient", "plan")
        .order_by("created_at", "pk")
    )
    for claim in claims:
        rx = claim.fill.prescription
        since = _local_date(where, claim.created_at)
        codes = [str(c) for c in (claim.reject_codes or [])]
        report.rejects.append(
            RejectLine(
                claim_id=claim.pk,
                fill_id=claim.fill_id,
                rx_number=claim.rx_number,
                fill_number=claim.fill_number,
                patient_id=rx.patient_id,
                patient=_patient_name(rx),
                drug=rx.drug_description,
                plan=claim.plan.name,
                bin=claim.plan.bin,
                status=claim.status,
                codes=codes,
                meaning=rejects.summary(codes),
                message=claim.attention or claim.message,
                since=since,
                age_days=max((today - since).days, 0),
            )
        )
    cases = (
        PriorAuth.objects.filter(site=where, status__in=PA_OPEN)
        .select_related("prescription__patient", "plan")
        .order_by(F("follow_up_on").asc(nulls_last=True), "opened_at", "pk")
    )
    for case in cases:
        rx = case.prescription
        report.prior_auths.append(
            PaLine(
                prior_auth_id=case.pk,
                rx_number=rx.number,
                patient_id=rx.patient_id,
                patient=_patient_name(rx),
                drug=rx.drug_description,
                plan=case.plan.name,
                bin=case.plan.bin,
                status=case.status,
                opened_on=_local_date(where, case.opened_at),
                follow_up_on=case.follow_up_on,
                overdue=case.follow_up_on is not None and case.follow_up_on < today,
            )
        )
    return report


# --- Reversals and the outbox -----------------------------------------------------------------


@dataclass(frozen=True)
class ReversalLine:
    claim_id: int
    rx_number: int
    fill_number: int
    plan: str
    bin: str
    reversed_at: dt.datetime
    who: str
    reason: str


@dataclass(frozen=True)
class OutboxLine:
    claim_id: int
    rx_number: int
    fill_number: int
    plan: str
    bin: str
    status: str
    waiting_since: dt.datetime
    attempts: int

    @property
    def status_label(self) -> str:
        return _status_label(self.status)


@dataclass
class Reversals:
    start: dt.date
    end: dt.date
    reversed: list[ReversalLine] = field(default_factory=list)
    outbox: list[OutboxLine] = field(default_factory=list)


def reversals(
    *,
    actor: User | None,
    start: dt.date | None = None,
    end: dt.date | None = None,
    site: Site | None = None,
) -> Reversals:
    """Claims reversed between ``start`` and ``end`` (who, when, why), and the claims and
    reversals waiting in the outbox now (oldest first)."""
    authorize(actor, Cap.CLAIMS_REPORT)
    where = _site(actor, site)
    start, end = _range(where, start, end)
    low, high = _bounds(where, start, end)
    report = Reversals(start=start, end=end)
    done = (
        Claim.objects.filter(
            site=where,
            status=ClaimStatus.REVERSED,
            reversed_at__gte=low,
            reversed_at__lt=high,
        )
        .select_related("plan", "reversed_by")
        .order_by("reversed_at", "pk")
    )
    for claim in done:
        assert claim.reversed_at is not None
        report.reversed.append(
            ReversalLine(
                claim_id=claim.pk,
                rx_number=claim.rx_number,
                fill_number=claim.fill_number,
                plan=claim.plan.name,
                bin=claim.plan.bin,
                reversed_at=claim.reversed_at,
                who=_who(claim.reversed_by),
                reason=claim.reversal_reason,
            )
        )
    waiting = (
        Claim.objects.filter(site=where, status__in=OUTBOX)
        .select_related("plan")
        .order_by("created_at", "pk")
    )
    for claim in waiting:
        report.outbox.append(
            OutboxLine(
                claim_id=claim.pk,
                rx_number=claim.rx_number,
                fill_number=claim.fill_number,
                plan=claim.plan.name,
                bin=claim.plan.bin,
                status=claim.status,
                waiting_since=claim.sent_at or claim.created_at,
                attempts=claim.attempts,
            )
        )
    return report


# --- Return to stock due ----------------------------------------------------------------------


@dataclass(frozen=True)
class RtsLine:
    """A fill still in will-call after its plan's return-to-stock window: reverse the claim
    and put the drug back on the shelf."""

    fill_id: int
    rx_number: int
    fill_number: int
    patient_id: int
    patient: str
    drug: str
    will_call_bin: str
    plans: str
    window_days: int
    ready_on: dt.date
    due_on: dt.date
    days_waiting: int


def rts_due(*, actor: User | None, site: Site | None = None) -> list[RtsLine]:
    """Fills ready in will-call with a paid claim whose plan's return-to-stock window has
    passed (the shortest window when several plans paid), longest waiting first."""
    authorize(actor, Cap.CLAIMS_REPORT)
    where = _site(actor, site)
    now = timezone.now()
    today = where.today()
    claims = (
        Claim.objects.filter(
            site=where,
            status__in=ACCEPTED,
            fill__status=FillStatus.READY,
            fill__ready_at__isnull=False,
            # No window is shorter than a day.
            fill__ready_at__lte=now - dt.timedelta(days=1),
        )
        .select_related("fill__prescription__patient", "plan")
        .order_by("fill_id", "payer_rank")
    )
    by_fill: dict[int, list[Claim]] = {}
    for claim in claims:
        by_fill.setdefault(claim.fill_id, []).append(claim)
    out: list[RtsLine] = []
    for paid in by_fill.values():
        fill = paid[0].fill
        assert fill.ready_at is not None
        window = min(c.plan.return_to_stock_days for c in paid)
        if fill.ready_at + dt.timedelta(days=window) > now:
            continue
        rx = fill.prescription
        ready_on = _local_date(where, fill.ready_at)
        out.append(
            RtsLine(
                fill_id=fill.pk,
                rx_number=rx.number,
                fill_number=fill.number,
                patient_id=rx.patient_id,
                patient=_patient_name(rx),
                drug=rx.drug_description,
                will_call_bin=fill.bin,
                plans=", ".join(f"{c.plan.name} (BIN {c.plan.bin})" for c in paid),
                window_days=window,
                ready_on=ready_on,
                due_on=_local_date(where, fill.ready_at + dt.timedelta(days=window)),
                days_waiting=(today - ready_on).days,
            )
        )
    out.sort(key=lambda r: (r.ready_on, r.rx_number, r.fill_number))
    return out


# --- CSV --------------------------------------------------------------------------------------

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: object) -> object:
    """A CSV cell a spreadsheet will not run as a formula (CSV injection)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def _csv(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([_cell(v) for v in row])
    return buf.getvalue()


def summary_csv(summary: Summary) -> str:
    """One row per day, plan and status."""
    return _csv(
        ["date_of_service", "plan", "bin", "status", "claims", "patient_pay", "plan_paid"],
        (
            [x.day.isoformat(), x.plan, x.bin, x.status, x.claims, x.patient_pay, x.plan_paid]
            for x in summary.lines
        ),
    )


def underpaid_csv(report: PaidVsExpected) -> str:
    """One row per paid claim short of what was expected."""
    return _csv(
        [
            "date_of_service",
            "rx_number",
            "fill_number",
            "plan",
            "bin",
            "gross_amount_due",
            "other_payer_paid",
            "expected",
            "plan_paid",
            "patient_pay",
            "received",
            "short",
        ],
        (
            [
                r.date_of_service.isoformat(),
                r.rx_number,
                r.fill_number,
                r.plan,
                r.bin,
                r.gross_amount_due,
                r.other_payer_paid,
                r.expected,
                r.plan_paid,
                r.patient_pay,
                r.received,
                r.short,
            ]
            for r in report.rows
        ),
    )


def outstanding_csv(report: Outstanding) -> str:
    """One row per rejected claim (kind ``reject``) and per open PA case (``prior_auth``)."""
    header = [
        "kind",
        "rx_number",
        "fill_number",
        "patient",
        "drug",
        "plan",
        "bin",
        "status",
        "reject_codes",
        "meaning",
        "message",
        "since",
        "age_days",
        "follow_up_on",
        "overdue",
    ]
    rows: list[list[object]] = []
    for r in report.rejects:
        rows.append(
            [
                "reject",
                r.rx_number,
                r.fill_number,
                r.patient,
                r.drug,
                r.plan,
                r.bin,
                r.status,
                " ".join(r.codes),
                r.meaning,
                r.message,
                r.since.isoformat(),
                r.age_days,
                "",
                "",
            ]
        )
    for p in report.prior_auths:
        rows.append(
            [
                "prior_auth",
                p.rx_number,
                "",
                p.patient,
                p.drug,
                p.plan,
                p.bin,
                p.status,
                "",
                "",
                "",
                p.opened_on.isoformat(),
                (report.today - p.opened_on).days,
                p.follow_up_on.isoformat() if p.follow_up_on else "",
                p.overdue,
            ]
        )
    return _csv(header, rows)


def reversals_csv(report: Reversals) -> str:
    """One row per reversed claim (kind ``reversed``) and per claim in the outbox
    (``outbox``)."""
    header = [
        "kind",
        "rx_number",
        "fill_number",
        "plan",
        "bin",
        "status",
        "at",
        "who",
        "reason",
        "attempts",
    ]
    rows: list[list[object]] = [
        [
            "reversed",
            r.rx_number,
            r.fill_number,
            r.plan,
            r.bin,
            ClaimStatus.REVERSED.value,
            r.reversed_at,
            r.who,
            r.reason,
            "",
        ]
        for r in report.reversed
    ]
    rows += [
        [
            "outbox",
            o.rx_number,
            o.fill_number,
            o.plan,
            o.bin,
            o.status,
            o.waiting_since,
            "",
            "",
            o.attempts,
        ]
        for o in report.outbox
    ]
    return _csv(header, rows)


def rts_csv(lines: list[RtsLine]) -> str:
    """One row per fill to reverse and return to stock."""
    return _csv(
        [
            "rx_number",
            "fill_number",
            "patient",
            "drug",
            "will_call_bin",
            "plans",
            "window_days",
            "ready_on",
            "due_on",
            "days_waiting",
        ],
        (
            [
                r.rx_number,
                r.fill_number,
                r.patient,
                r.drug,
                r.will_call_bin,
                r.plans,
                r.window_days,
                r.ready_on.isoformat(),
                r.due_on.isoformat(),
                r.days_waiting,
            ]
            for r in lines
        ),
    )


__all__ = [
    "UNDERPAID_TOLERANCE",
    "Outstanding",
    "PaidVsExpected",
    "Reversals",
    "RtsLine",
    "Summary",
    "claims_summary",
    "outstanding",
    "outstanding_csv",
    "paid_vs_expected",
    "reversals",
    "reversals_csv",
    "rts_csv",
    "rts_due",
    "summary_csv",
    "summary_text",
    "underpaid_csv",
]
