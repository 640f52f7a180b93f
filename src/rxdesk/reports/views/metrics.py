"""Metrics with charts: screens. One page for a period (default the last 30 days), in this
order — Safety, Workload, Time in steps, Throughput, Inventory, Claims — each chart drawn on
the server (SVG inline as an image, PNG to download) beside its figures as a table, and
each metric as CSV. ``metrics.view``; figures are the pharmacy's, never a person's."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import URLPattern, path

from rxdesk.core.capabilities import Cap, require
from rxdesk.core.errors import Invalid, NotFound
from rxdesk.core.forms import DateField, RxForm, bind_errors
from rxdesk.core.views import actor_of, screen
from rxdesk.reports import charts, metrics_charts
from rxdesk.reports import metrics as m
from rxdesk.reports import metrics_calc as calc


class MetricsRangeForm(RxForm):
    start = DateField(required=False, label="From")
    end = DateField(required=False, label="To")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["start"].widget.attrs.pop("autofocus", None)


def _period(request: HttpRequest) -> tuple[m.Period, MetricsRangeForm]:
    """The period the query string asks for (its errors shown on the form, and then the
    default period), and the form."""
    actor = actor_of(request)
    form = MetricsRangeForm(request.GET or None)
    start = end = None
    if form.is_bound and form.is_valid():
        start, end = form.cleaned_data["start"], form.cleaned_data["end"]
    try:
        return m.period(actor=actor, start=start, end=end), form
    except Invalid as exc:
        bind_errors(form, exc)
        return m.period(actor=actor), form


@screen
def metrics_home(request: HttpRequest) -> HttpResponse:
    actor = actor_of(request)
    require(actor, Cap.METRICS_VIEW)
    p, form = _period(request)
    query = urlencode({"start": p.start.isoformat(), "end": p.end.isoformat()})
    context = {
        "form": form,
        "p": p,
        "query": query,
        "errors": m.errors_caught(actor=actor, p=p),
        "alerts": m.alert_rates(actor=actor, p=p),
        "queues": m.queue_lengths(actor=actor, p=p),
        "volume": m.rx_volume(actor=actor, p=p),
        "steps": m.step_times(actor=actor, p=p),
        "turns": m.inventory_turns(actor=actor, p=p),
        "dead": m.dead_stock(actor=actor, p=p),
        "rejects": m.claim_rejects(actor=actor, p=p),
        "definitions": calc.__doc__,
    }
    return render(request, "reports/metrics.html", context, status=form.http_status())


IMAGE_TYPES = {"svg": "image/svg+xml; charset=utf-8", "png": "image/png"}


@screen
def metrics_chart(request: HttpRequest, chart: str, fmt: str) -> HttpResponse:
    """One chart of the period as SVG or PNG (``?download=1`` saves it as a file)."""
    actor = actor_of(request)
    require(actor, Cap.METRICS_VIEW)
    if fmt not in IMAGE_TYPES:
        raise NotFound("Charts come as .svg or .png.")
    p, _form = _period(request)
    drawing = metrics_charts.chart(actor=actor, p=p, name=chart)
    body: str | bytes = charts.to_svg(drawing) if fmt == "svg" else charts.to_png(drawing)
    response = HttpResponse(body, content_type=IMAGE_TYPES[fmt])
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    if request.GET.get("download"):
        response["Content-Disposition"] = (
            f'attachment; filename="metrics-{chart}-{p.start:%Y%m%d}-{p.end:%Y%m%d}.{fmt}"'
        )
    return response


@screen
def metrics_csv(request: HttpRequest, metric: str) -> HttpResponse:
    """One metric of the period as CSV."""
    actor = actor_of(request)
    require(actor, Cap.METRICS_VIEW)
    p, _form = _period(request)
    text = metrics_charts.csv_text(actor=actor, p=p, name=metric)
    response = HttpResponse(text, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = (
        f'attachment; filename="metrics-{metric}-{p.start:%Y%m%d}-{p.end:%Y%m%d}.csv"'
    )
    response["Cache-Control"] = "private, no-store"
    return response


urlpatterns: list[URLPattern] = [
    path("metrics/", metrics_home, name="metrics_home"),
    path("metrics/chart/<slug:chart>.<slug:fmt>", metrics_chart, name="metrics_chart"),
    path("metrics/csv/<slug:metric>.csv", metrics_csv, name="metrics_csv"),
]
