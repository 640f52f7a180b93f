"""Reads of safety events, medication errors (NCC MERP), adverse drug event reports (MedWatch
3500), root-cause analysis, action items, trends.

Lists and details name patients, so they need care.view and patient.view; the trends are
aggregate counts only (care.qi_report: the auditor sees them, never a patient). Every read
is of the actor's pharmacy: another pharmacy's row is not found."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db.models import Case, Count, IntegerField, QuerySet, Value, When

from rxdesk.care import quality_rules as rules
from rxdesk.care.choices import (
    ActionStatus,
    ErrorType,
    MerpCategory,
    SafetyEventKind,
    SafetyEventStatus,
    WorkflowStep,
)
from rxdesk.care.models import (
    ActionItem,
    AdverseEventReport,
    MedicationError,
    RootCauseAnalysis,
    SafetyEvent,
)
from rxdesk.core.capabilities import Cap, require
from rxdesk.core.errors import Invalid, NotFound
from rxdesk.core.models import Site, User
from rxdesk.rx.choices import FillStatus
from rxdesk.rx.models import Fill

MAX_ID = 2**63 - 1
MAX_TREND_DAYS = 3 * 366  # three years of monthly rows at most
PAGE = 200

_STATUS_ORDER = Case(
    When(status=SafetyEventStatus.OPEN, then=Value(0)),
    When(status=SafetyEventStatus.ANALYSIS, then=Value(1)),
    default=Value(2),
    output_field=IntegerField(),
)


def _readers(actor: User) -> Site:
    require(actor, Cap.CARE_VIEW)
    require(actor, Cap.PATIENT_VIEW)
    if actor.site is None:
        raise NotFound("Your account is not attached to a pharmacy.")
    return actor.site


def _find(qs: QuerySet[Any], pk: int, what: str) -> Any:
    if not 0 < pk <= MAX_ID:
        raise NotFound(f"No such {what} at this pharmacy.")
    row = qs.filter(pk=pk).first()
    if row is None:
        raise NotFound(f"No such {what} at this pharmacy.")
    return row


# --- lists and details ------------------------------------------------------------------------


def events(
    *,
    actor: User,
    kind: str = "",
    step: str = "",
    category: str = "",
    status: str = "",
    limit: int = PAGE,
) -> list[SafetyEvent]:
    """The pharmacy's safety events, open first (then under analysis, then closed), the
    latest first within each."""
    site = _readers(actor)
    qs = SafetyEvent.objects.filter(site=site)
    if kind:
        qs = qs.filter(kind=kind)
    if step:
        qs = qs.filter(step=step)
    if category:
        qs = qs.filter(category=category)
    if status == "active":
        qs = qs.exclude(status=SafetyEventStatus.CLOSED)
    elif status:
        qs = qs.filter(status=status)
    return list(
        qs.select_related("patient", "reported_by")
        .annotate(status_order=_STATUS_ORDER)
        .order_by("status_order", "-occurred_at", "-pk")[:limit]
    )


def event(*, actor: User, pk: int) -> SafetyEvent:
    site = _readers(actor)
    return _find(
        SafetyEvent.objects.filter(site=site).select_related("patient", "reported_by", "closed_by"),
        pk,
        "event",
    )


@dataclass
class EventDetail:
    event: SafetyEvent
    error: MedicationError | None
    report: AdverseEventReport | None
    rca: RootCauseAnalysis | None
    factors: list[Any] = field(default_factory=list)
    actions: list[ActionItem] = field(default_factory=list)
    today: dt.date | None = None

    def overdue(self, item: ActionItem) -> bool:
        return (
            item.status == ActionStatus.OPEN and self.today is not None and item.due_on < self.today
        )


def event_detail(*, actor: User, pk: int) -> EventDetail:
    """The event with its error or MedWatch report and its root-cause analysis."""
    row = event(actor=actor, pk=pk)
    site = row.site
    error = (
        MedicationError.objects.filter(safety_event=row)
        .select_related("prescription", "fill", "discovered_by", "follow_up_done_by")
        .first()
    )
    report = AdverseEventReport.objects.filter(safety_event=row).first()
    rca = RootCauseAnalysis.objects.filter(event=row).select_related("led_by").first()
    return EventDetail(
        event=row,
        error=error,
        report=report,
        rca=rca,
        factors=list(rca.factors.all()) if rca else [],
        actions=list(rca.actions.select_related("owner", "done_by")) if rca else [],
        today=site.today(),
    )


def medication_error(*, actor: User, pk: int) -> MedicationError:
    site = _readers(actor)
    return _find(
        MedicationError.objects.filter(site=site).select_related(
            "safety_event", "patient", "prescription", "fill", "discovered_by"
        ),
        pk,
        "medication error",
    )


def ade_report(*, actor: User, pk: int) -> AdverseEventReport:
    site = _readers(actor)
    return _find(
        AdverseEventReport.objects.filter(site=site).select_related(
            "safety_event", "patient", "submitted_by", "created_by"
        ),
        pk,
        "report",
    )


def rca(*, actor: User, pk: int) -> RootCauseAnalysis:
    """For the writes (care.qi checked by the service): the pharmacy's analysis."""
    if actor.site is None:
        raise NotFound("Your account is not attached to a pharmacy.")
    return _find(
        RootCauseAnalysis.objects.filter(event__site=actor.site).select_related("event"),
        pk,
        "root-cause analysis",
    )


def action_item(*, actor: User, pk: int) -> ActionItem:
    if actor.site is None:
        raise NotFound("Your account is not attached to a pharmacy.")
    return _find(
        ActionItem.objects.filter(rca__event__site=actor.site).select_related("rca__event"),
        pk,
        "action item",
    )


def event_for_write(*, actor: User, pk: int) -> SafetyEvent:
    if actor.site is None:
        raise NotFound("Your account is not attached to a pharmacy.")
    return _find(SafetyEvent.objects.filter(site=actor.site), pk, "event")


def error_for_write(*, actor: User, pk: int) -> MedicationError:
    if actor.site is None:
        raise NotFound("Your account is not attached to a pharmacy.")
    return _find(MedicationError.objects.filter(site=actor.site), pk, "medication error")


def report_for_write(*, actor: User, pk: int) -> AdverseEventReport:
    if actor.site is None:
        raise NotFound("Your account is not attached to a pharmacy.")
    return _find(
        AdverseEventReport.objects.filter(site=actor.site).select_related("patient"),
        pk,
        "report",
    )


@dataclass(frozen=True)
class MyItem:
    item: ActionItem
    overdue: bool


def my_action_items(*, actor: User, include_closed: bool = False) -> list[MyItem]:
    """The action items the signed-in person owns, open ones first by due date. No patient
    is named (the event's title and id only)."""
    require(actor, Cap.CARE_EVENT)
    if actor.site is None:
        raise NotFound("Your account is not attached to a pharmacy.")
    today = actor.site.today()
    qs = ActionItem.objects.filter(owner=actor, rca__event__site=actor.site)
    if not include_closed:
        qs = qs.filter(status=ActionStatus.OPEN)
    rows = qs.select_related("rca__event").order_by("status", "due_on", "pk")[:PAGE]
    return [
        MyItem(item=i, overdue=i.status == ActionStatus.OPEN and i.due_on < today) for i in rows
    ]


def open_action_count(*, actor: User) -> int:
    if actor.site is None:
        return 0
    return ActionItem.objects.filter(
        owner=actor, rca__event__site=actor.site, status=ActionStatus.OPEN
    ).count()


def open_event_count(site: Site) -> int:
    """For the home page: events not yet closed."""
    return SafetyEvent.objects.filter(site=site).exclude(status=SafetyEventStatus.CLOSED).count()


# --- trends -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Bar:
    key: str
    label: str
    count: int
    percent: int  # of the largest count in the table, for a CSS bar


@dataclass(frozen=True)
class Trends:
    start: dt.date
    end: dt.date
    events: int
    errors: int
    reached: int  # errors that reached the patient (C–I)
    harm: int  # E–I
    fills: int
    per_thousand: Decimal | None  # errors per 1,000 fills dispensed
    reached_per_thousand: Decimal | None
    by_kind: list[Bar]
    by_category: list[Bar]
    by_step: list[Bar]
    by_type: list[Bar]
    by_month: list[dict[str, Any]]  # {"month": "2025-01", "events": n, "errors": n, "percent"}
    step_by_type: list[dict[str, Any]]  # {"step", "label", "counts": {type: n}, "total"}
    types_seen: list[tuple[str, str]]
    caught: list[dict[str, Any]]  # {"step", "label", "counts": {caught_at: n}, "total"}
    caught_seen: list[tuple[str, str]]
    actions_open: int
    actions_overdue: int


def _bars(counter: Counter[str], labels: dict[str, str], order: list[str]) -> list[Bar]:
    top = max(counter.values(), default=0)
    return [
        Bar(
            key=k,
            label=labels.get(k, k or "Not given"),
            count=counter[k],
            percent=round(100 * counter[k] / top) if top else 0,
        )
        for k in order
        if counter[k]
    ]


def _rate(n: int, fills: int) -> Decimal | None:
    if not fills:
        return None
    return (Decimal(n) * 1000 / Decimal(fills)).quantize(Decimal("0.01"))


def _months(start: dt.date, end: dt.date) -> list[str]:
    out, y, m = [], start.year, start.month
    while (y, m) <= (end.year, end.month):
        out.append(f"{y:04d}-{m:02d}")
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


def trends(*, actor: User, start: dt.date, end: dt.date) -> Trends:
    """Counts for the days ``start``..``end`` (the pharmacy's days, inclusive): events by
    kind, medication errors by step × type, by NCC MERP category, by month, where they
    happened against where they were caught, errors per 1,000 fills dispensed, and the
    action items open and overdue today. Aggregates only: no patient, no narrative."""
    require(actor, Cap.CARE_QI_REPORT)
    if actor.site is None:
        raise NotFound("Your account is not attached to a pharmacy.")
    site = actor.site
    if end < start:
        raise Invalid("The last day is before the first.", field="end")
    if (end - start).days > MAX_TREND_DAYS:
        raise Invalid("Choose at most three years.", field="start")
    tz = site.tz
    lo = dt.datetime.combine(start, dt.time.min, tzinfo=tz)
    hi = dt.datetime.combine(end + dt.timedelta(days=1), dt.time.min, tzinfo=tz)
    ev = list(
        SafetyEvent.objects.filter(site=site, occurred_at__gte=lo, occurred_at__lt=hi).values_list(
            "kind", "occurred_at"
        )
    )
    err = list(
        MedicationError.objects.filter(
            site=site, occurred_at__gte=lo, occurred_at__lt=hi
        ).values_list("step", "error_type", "category", "caught_at_step", "occurred_at")
    )
    fills = Fill.objects.filter(
        site=site, status=FillStatus.DISPENSED, dispensed_on__gte=start, dispensed_on__lte=end
    ).count()

    kinds = Counter(k for k, _ in ev)
    categories = Counter(c for _, _, c, _, _ in err)
    steps = Counter(s for s, _, _, _, _ in err)
    types = Counter(t for _, t, _, _, _ in err)
    month_events = Counter(f"{w.astimezone(tz):%Y-%m}" for _, w in ev)
    month_errors = Counter(f"{w.astimezone(tz):%Y-%m}" for *_, w in err)
    months = _months(start, end)
    top_month = max(month_events.values(), default=0)
    by_month = [
        {
            "month": m,
            "events": month_events[m],
            "errors": month_errors[m],
            "percent": round(100 * month_events[m] / top_month) if top_month else 0,
        }
        for m in months
    ]
    step_labels = dict(WorkflowStep.choices)
    type_labels = dict(ErrorType.choices)
    pair = Counter((s, t) for s, t, _, _, _ in err)
    types_seen = [(t, type_labels[t]) for t in ErrorType.values if types[t]]
    step_by_type = [
        {
            "step": s,
            "label": step_labels[s],
            "counts": {t: pair[(s, t)] for t, _ in types_seen},
            "total": steps[s],
        }
        for s in WorkflowStep.values
        if steps[s]
    ]
    caught_pair = Counter((s, c or "") for s, _, _, c, _ in err)
    caught_keys = [c for c in WorkflowStep.values if any(k[1] == c for k in caught_pair)]
    if any(k[1] == "" for k in caught_pair):
        caught_keys.append("")
    caught_seen = [(c, step_labels.get(c, "Not caught (reached the patient)")) for c in caught_keys]
    caught = [
        {
            "step": s,
            "label": step_labels[s],
            "counts": {c: caught_pair[(s, c)] for c in caught_keys},
            "total": steps[s],
        }
        for s in WorkflowStep.values
        if steps[s]
    ]
    reached = sum(1 for _, _, c, _, _ in err if rules.reached_patient(c))
    harm = sum(1 for _, _, c, _, _ in err if rules.harmful(c))
    today = site.today()
    open_items = ActionItem.objects.filter(rca__event__site=site, status=ActionStatus.OPEN)
    counts = open_items.aggregate(
        total=Count("pk"),
        overdue=Count(Case(When(due_on__lt=today, then=Value(1)), output_field=IntegerField())),
    )
    return Trends(
        start=start,
        end=end,
        events=len(ev),
        errors=len(err),
        reached=reached,
        harm=harm,
        fills=fills,
        per_thousand=_rate(len(err), fills),
        reached_per_thousand=_rate(reached, fills),
        by_kind=_bars(kinds, dict(SafetyEventKind.choices), list(SafetyEventKind.values)),
        by_category=_bars(categories, dict(MerpCategory.choices), list(MerpCategory.values)),
        by_step=_bars(steps, step_labels, list(WorkflowStep.values)),
        by_type=_bars(types, type_labels, list(ErrorType.values)),
        by_month=by_month,
        step_by_type=step_by_type,
        types_seen=types_seen,
        caught=caught,
        caught_seen=caught_seen,
        actions_open=counts["total"] or 0,
        actions_overdue=counts["overdue"] or 0,
    )


def default_range(site: Site) -> tuple[dt.date, dt.date]:
    """Twelve months to today: from the first of the month eleven months back."""
    today = site.today()
    year, month = today.year, today.month - 11
    if month <= 0:
        year, month = year - 1, month + 12
    return dt.date(year, month, 1), today
