"""Daily reports: screens. Parse, call rxdesk.reports services_daily / queries_daily,
render.

- ``reports_daily``: pick a day (default yesterday); the seven reports with their row
  counts and status (generated / reviewed), "Generate now" and "Sign as reviewed";
- ``reports_daily_report``: one kept report as a table (a PHI access when it names
  patients), its totals, notes and versions;
- ``reports_daily_csv`` / ``reports_daily_pdf``: the kept files (PHI accesses likewise);
- ``reports_daily_generate`` / ``reports_daily_review``: the two buttons."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import URLPattern, path, reverse

from rxdesk.core.capabilities import Cap, has, require
from rxdesk.core.errors import DomainError, Invalid
from rxdesk.core.models import User
from rxdesk.core.views import actor_of, screen
from rxdesk.reports import queries_daily as queries
from rxdesk.reports import services_daily as services
from rxdesk.reports.models import DailyReport


def _day(actor: User, text: str | None) -> dt.date:
    site = services.site_for(actor, None)
    if not text:
        return site.today() - dt.timedelta(days=1)
    for fmt in ("%Y-%m-%d", "%m/%d/%Y"):
        try:
            return dt.datetime.strptime(text.strip(), fmt).date()
        except ValueError:
            continue
    raise Invalid("Enter the date as MM/DD/YYYY.", field="date")


def _day_page(
    request: HttpRequest, actor: User, day: dt.date, *, error: str = "", status: int = 200
) -> HttpResponse:
    found = queries.day_set(actor=actor, day=day)
    today = actor.site.today()
    context: dict[str, Any] = {
        "today": today,
        "day": day,
        "found": found,
        "previous": day - dt.timedelta(days=1),
        "following": day + dt.timedelta(days=1) if day < today else None,
        "may_review": has(actor, Cap.REPORTS_REVIEW),
        "error": error,
    }
    return render(request, "reports/daily.html", context, status=status)


@screen
def reports_daily(request: HttpRequest) -> HttpResponse:
    actor = actor_of(request)
    require(actor, Cap.REPORTS_DAILY)
    try:
        day = _day(actor, request.GET.get("date"))
    except Invalid as exc:
        return _day_page(
            request, actor, actor.site.today() - dt.timedelta(days=1), error=exc.message, status=422
        )
    return _day_page(request, actor, day)


@screen
def reports_daily_report(request: HttpRequest, pk: int) -> HttpResponse:
    actor = actor_of(request)
    report = queries.report_get(actor=actor, pk=pk)
    services.daily_report_read(actor=actor, report=report, form="screen")
    context = {
        "report": report,
        "table": queries.report_table(report),
        "versions": queries.report_versions(report),
    }
    return render(request, "reports/daily_report.html", context)


def _download(report: DailyReport, body: bytes, content_type: str, ext: str) -> HttpResponse:
    response = HttpResponse(body, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{queries.file_name(report, ext)}"'
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response


@screen
def reports_daily_csv(request: HttpRequest, pk: int) -> HttpResponse:
    actor = actor_of(request)
    report = queries.report_get(actor=actor, pk=pk)
    services.daily_report_read(actor=actor, report=report, form="csv")
    return _download(report, report.csv_text.encode("utf-8"), "text/csv; charset=utf-8", "csv")


@screen
def reports_daily_pdf(request: HttpRequest, pk: int) -> HttpResponse:
    actor = actor_of(request)
    report = queries.report_get(actor=actor, pk=pk)
    services.daily_report_read(actor=actor, report=report, form="pdf")
    return _download(report, bytes(report.pdf), "application/pdf", "pdf")


def _back(day: dt.date) -> HttpResponse:
    return redirect(f"{reverse('reports_daily')}?date={day.isoformat()}")


@screen(methods=("POST",))
def reports_daily_generate(request: HttpRequest) -> HttpResponse:
    actor = actor_of(request)
    require(actor, Cap.REPORTS_DAILY)
    try:
        day = _day(actor, request.POST.get("date"))
        done = services.daily_reports_generate(actor=actor, day=day)
    except DomainError as exc:
        if exc.status != 422:
            raise
        fallback = actor.site.today() - dt.timedelta(days=1)
        return _day_page(request, actor, fallback, error=exc.message, status=422)
    changed = sum(1 for g in done if g.outcome != services.UNCHANGED)
    versions = [g for g in done if g.outcome == services.NEW_VERSION]
    text = f"Reports of {day:%m/%d/%Y} generated: {changed} new or changed, "
    text += f"{len(done) - changed} unchanged."
    if versions:
        text += f" {len(versions)} kept as new versions (the reviewed ones stay as signed)."
    messages.success(request, text)
    return _back(day)


@screen(methods=("POST",))
def reports_daily_review(request: HttpRequest) -> HttpResponse:
    actor = actor_of(request)
    require(actor, Cap.REPORTS_REVIEW)
    day: dt.date | None = None
    try:
        if not request.POST.get("date"):
            raise Invalid("Choose the day to sign.", field="date")
        day = _day(actor, request.POST.get("date"))
        services.daily_review_sign(actor=actor, day=day, note=request.POST.get("note", ""))
    except DomainError as exc:
        if exc.status not in (409, 422):
            raise
        shown = day or actor.site.today() - dt.timedelta(days=1)
        return _day_page(request, actor, shown, error=exc.message, status=exc.status)
    messages.success(request, f"Reports of {day:%m/%d/%Y} signed as reviewed.")
    return _back(day)


urlpatterns: list[URLPattern] = [
    path("daily/", reports_daily, name="reports_daily"),
    path("daily/generate/", reports_daily_generate, name="reports_daily_generate"),
    path("daily/review/", reports_daily_review, name="reports_daily_review"),
    path("daily/<int:pk>/", reports_daily_report, name="reports_daily_report"),
    path("daily/<int:pk>/csv/", reports_daily_csv, name="reports_daily_csv"),
    path("daily/<int:pk>/pdf/", reports_daily_pdf, name="reports_daily_pdf"),
]
