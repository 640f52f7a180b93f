"""Metrics: the API (mounted at ``/api/v1/metrics``), ``metrics.view`` (pharmacists, the
PIC, the auditor), the caller's pharmacy only. Each metric as JSON for a period of the
pharmacy's days (``start``/``end``, default the last 30 days), and each chart as SVG or PNG.
Parse, call rxdesk.reports.metrics / metrics_charts, serialize."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, Literal

from django.http import HttpRequest, HttpResponse
from ninja import Field, Query, Router, Schema

from rxdesk.core.capabilities import Cap
from rxdesk.institutional.api_common import gate, user_of
from rxdesk.reports import charts, metrics_charts
from rxdesk.reports import metrics as m

router = Router(tags=["Metrics"])

AUTH = gate(Cap.METRICS_VIEW)
ChartName = Literal[
    "errors",
    "alerts",
    "queues",
    "hourly",
    "steps",
    "daily",
    "deadstock",
    "rejects-plan",
    "rejects-code",
]


class MetricsRangeQuery(Schema):
    start: dt.date | None = Field(None, description="First day (default: 29 days before end)")
    end: dt.date | None = Field(None, description="Last day (default: today at the pharmacy)")


class MetricsDeadStockQuery(MetricsRangeQuery):
    days: int = Field(m.DEAD_STOCK_DAYS, ge=1, le=3650, description="Days without dispensing")


def _period(request: HttpRequest, q: MetricsRangeQuery) -> m.Period:
    return m.period(actor=user_of(request), start=q.start, end=q.end)


def _with_period(p: m.Period, result: Any) -> dict[str, Any]:
    return {"start": p.start, "end": p.end, **vars(result)}


# --- Output -------------------------------------------------------------------------------------


class MetricsCatchRowOut(Schema):
    key: str
    label: str
    count: int
    per_1000: Decimal | None


class MetricsErrorsOut(Schema):
    start: dt.date
    end: dt.date
    fills: int = Field(..., description="Fills filled in the period (the denominator)")
    rows: list[MetricsCatchRowOut]
    total: int
    total_per_1000: Decimal | None


class MetricsAlertRowOut(Schema):
    type: str
    type_label: str
    severity: str
    severity_label: str
    raised: int
    interrupting: int
    overridden: int
    per_1000: Decimal | None
    override_share: Decimal | None = Field(..., description="Percent of interrupting alerts")


class MetricsAlertsOut(Schema):
    start: dt.date
    end: dt.date
    fills: int
    raised: int
    interrupting: int
    overridden: int
    per_1000: Decimal | None
    override_share: Decimal | None
    rows: list[MetricsAlertRowOut]


class MetricsQueueOut(Schema):
    status: str
    label: str


class MetricsQueueHourOut(Schema):
    hour: int
    mean: dict[str, Decimal]
    peak: dict[str, int]
    samples: int


class MetricsQueuesOut(Schema):
    start: dt.date
    end: dt.date
    queues: list[MetricsQueueOut]
    hours: list[MetricsQueueHourOut]


class MetricsVolumeRowOut(Schema):
    label: str
    new: int
    refill: int
    total: int


class MetricsVolumeOut(Schema):
    start: dt.date
    end: dt.date
    per_day: list[MetricsVolumeRowOut]
    per_hour: list[MetricsVolumeRowOut]
    new: int
    refill: int


class MetricsStepTimeOut(Schema):
    label: str
    fills: int
    median: Decimal | None = Field(..., description="Minutes (nearest-rank)")
    p90: Decimal | None = Field(..., description="Minutes (nearest-rank)")


class MetricsStepsOut(Schema):
    start: dt.date
    end: dt.date
    rows: list[MetricsStepTimeOut]


class MetricsTurnsOut(Schema):
    start: dt.date
    end: dt.date
    days: int
    dispensed_cost: Decimal
    start_value: Decimal
    end_value: Decimal
    average_value: Decimal
    turns: Decimal | None
    annualized: Decimal | None
    packages: int
    unpriced_packages: int


class MetricsDeadStockRowOut(Schema):
    ndc: str
    description: str
    on_hand: Decimal
    unit: str
    last_dispensed: dt.date | None
    value: Decimal | None


class MetricsDeadStockOut(Schema):
    start: dt.date
    end: dt.date
    days: int
    rows: list[MetricsDeadStockRowOut]
    total_value: Decimal
    unpriced: int


class MetricsRejectPlanOut(Schema):
    plan: str
    bin: str
    pcn: str
    submitted: int
    rejected: int
    rate: Decimal | None


class MetricsRejectCodeOut(Schema):
    code: str
    meaning: str
    claims: int
    share: Decimal | None


class MetricsRejectsOut(Schema):
    start: dt.date
    end: dt.date
    submitted: int
    rejected: int
    rate: Decimal | None
    by_plan: list[MetricsRejectPlanOut]
    by_code: list[MetricsRejectCodeOut]


# --- Metrics ------------------------------------------------------------------------------------


@router.get(
    "/errors",
    response=MetricsErrorsOut,
    auth=AUTH,
    summary="Errors caught at each verification step, per 1,000 fills",
)
def metrics_errors(request: HttpRequest, q: Query[MetricsRangeQuery]) -> Any:
    p = _period(request, q)
    return _with_period(p, m.errors_caught(actor=user_of(request), p=p))


@router.get(
    "/alerts",
    response=MetricsAlertsOut,
    auth=AUTH,
    summary="Screening alerts per 1,000 fills and override shares, by type and severity",
)
def metrics_alerts(request: HttpRequest, q: Query[MetricsRangeQuery]) -> Any:
    p = _period(request, q)
    return _with_period(p, m.alert_rates(actor=user_of(request), p=p))


@router.get(
    "/queues",
    response=MetricsQueuesOut,
    auth=AUTH,
    summary="Queue lengths at the top of each hour (mean and peak over the days)",
)
def metrics_queues(request: HttpRequest, q: Query[MetricsRangeQuery]) -> Any:
    p = _period(request, q)
    r = m.queue_lengths(actor=user_of(request), p=p)
    return {
        "start": p.start,
        "end": p.end,
        "queues": [{"status": s, "label": label} for s, label in r.queues],
        "hours": r.hours,
    }


@router.get(
    "/volume",
    response=MetricsVolumeOut,
    auth=AUTH,
    summary="Prescriptions per day and per hour of the day, new and refill",
)
def metrics_volume(request: HttpRequest, q: Query[MetricsRangeQuery]) -> Any:
    p = _period(request, q)
    return _with_period(p, m.rx_volume(actor=user_of(request), p=p))


@router.get(
    "/steps",
    response=MetricsStepsOut,
    auth=AUTH,
    summary="Minutes between workflow steps: median and 90th percentile",
)
def metrics_steps(request: HttpRequest, q: Query[MetricsRangeQuery]) -> Any:
    p = _period(request, q)
    return _with_period(p, m.step_times(actor=user_of(request), p=p))


@router.get(
    "/inventory/turns",
    response=MetricsTurnsOut,
    auth=AUTH,
    summary="Inventory turns: cost of units dispensed ÷ average on-hand value",
)
def metrics_turns(request: HttpRequest, q: Query[MetricsRangeQuery]) -> Any:
    p = _period(request, q)
    return _with_period(p, m.inventory_turns(actor=user_of(request), p=p))


@router.get(
    "/inventory/dead-stock",
    response=MetricsDeadStockOut,
    auth=AUTH,
    summary="Packages on hand with no dispensing in N days (default 180), with value",
)
def metrics_dead_stock(request: HttpRequest, q: Query[MetricsDeadStockQuery]) -> Any:
    p = _period(request, q)
    return _with_period(p, m.dead_stock(actor=user_of(request), p=p, days=q.days))


@router.get(
    "/claims/rejects",
    response=MetricsRejectsOut,
    auth=AUTH,
    summary="Claim reject rates (rejected ÷ submitted) by plan and by reject code",
)
def metrics_rejects(request: HttpRequest, q: Query[MetricsRangeQuery]) -> Any:
    p = _period(request, q)
    return _with_period(p, m.claim_rejects(actor=user_of(request), p=p))


# --- Charts -------------------------------------------------------------------------------------


def _image(body: str | bytes, content_type: str) -> HttpResponse:
    response = HttpResponse(body, content_type=content_type)
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response


SVG_DOC = {
    "responses": {
        200: {
            "description": "SVG image",
            "content": {"image/svg+xml": {"schema": {"type": "string"}}},
        }
    }
}
PNG_DOC = {
    "responses": {
        200: {
            "description": "PNG image",
            "content": {"image/png": {"schema": {"type": "string", "format": "binary"}}},
        }
    }
}


@router.get(
    "/charts/{chart}/svg",
    auth=AUTH,
    summary="A metric's chart as SVG",
    openapi_extra=SVG_DOC,
)
def metrics_chart_svg(request: HttpRequest, chart: ChartName, q: Query[MetricsRangeQuery]) -> Any:
    p = _period(request, q)
    drawing = metrics_charts.chart(actor=user_of(request), p=p, name=chart)
    return _image(charts.to_svg(drawing), "image/svg+xml; charset=utf-8")


@router.get(
    "/charts/{chart}/png",
    auth=AUTH,
    summary="A metric's chart as PNG",
    openapi_extra=PNG_DOC,
)
def metrics_chart_png(request: HttpRequest, chart: ChartName, q: Query[MetricsRangeQuery]) -> Any:
    p = _period(request, q)
    drawing = metrics_charts.chart(actor=user_of(request), p=p, name=chart)
    return _image(charts.to_png(drawing), "image/png")
