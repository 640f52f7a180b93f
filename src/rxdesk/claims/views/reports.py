"""Workstation page of the claims reports (``claims.report``): the summary by status, plan
and day, paid vs expected, outstanding rejects and PAs, reversals and the outbox, and the
fills to reverse and return to stock; each list also as CSV. Parse, call
rxdesk.claims.queries_reports, render."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import URLPattern, path

from rxdesk.claims import queries_reports as reports
from rxdesk.core.capabilities import Cap, require
from rxdesk.core.errors import Invalid
from rxdesk.core.forms import FIELD_ERRORS, DateField, RxForm, bind_errors, query_string
from rxdesk.core.views import actor_of, screen


class ReportForm(RxForm):
    start = DateField(required=False, label="From")
    end = DateField(required=False, label="To", help_text="Leave both empty for today.")


def _dates(request: HttpRequest) -> tuple[ReportForm, dt.date | None, dt.date | None]:
    form = ReportForm(request.GET or None)
    if form.is_bound and form.is_valid():
        return form, form.cleaned_data.get("start"), form.cleaned_data.get("end")
    return form, None, None


@screen
def report(request: HttpRequest) -> HttpResponse:
    """Every claims report of the pharmacy on one page, for the dates asked (default
    today); the work lists (rejects, PAs, outbox, return to stock) are as of now."""
    actor = actor_of(request)
    require(actor, Cap.CLAIMS_REPORT)
    form, start, end = _dates(request)
    context: dict[str, Any] = {"form": form}
    status = form.http_status()
    if not form.errors:
        try:
            summary = reports.claims_summary(actor=actor, start=start, end=end)
        except FIELD_ERRORS as exc:
            bind_errors(form, exc)
            status = form.http_status()
        else:
            start, end = summary.start, summary.end
            context |= {
                "summary": summary,
                "totals": [t for _, t in sorted(summary.by_status.items())],
                "text": reports.summary_text(summary).splitlines()[0],
                "underpaid": reports.paid_vs_expected(actor=actor, start=start, end=end),
                "reversals": reports.reversals(actor=actor, start=start, end=end),
                "query": query_string({"start": start, "end": end}),
            }
    context |= {
        "outstanding": reports.outstanding(actor=actor),
        "rts": reports.rts_due(actor=actor),
        "start": start,
        "end": end,
    }
    return render(request, "claims/reports.html", context, status=status)


CSV_REPORTS = ("summary", "underpaid", "rejects", "reversals", "rts-due")


@screen
def report_csv(request: HttpRequest, name: str) -> HttpResponse:
    """One report as CSV (a header row, one row per item)."""
    actor = actor_of(request)
    require(actor, Cap.CLAIMS_REPORT)
    if name not in CSV_REPORTS:
        raise Http404("No such report.")
    form, start, end = _dates(request)
    if form.errors:
        field, errors = next(iter(form.errors.items()))
        raise Invalid(str(errors[0]), field=field)
    assert actor.site is not None
    today = actor.site.today().isoformat()
    text, filename = "", f"{name}-{today}.csv"
    if name == "summary":
        summary = reports.claims_summary(actor=actor, start=start, end=end)
        text = reports.summary_csv(summary)
        filename = f"claims-{_days(summary.start, summary.end)}.csv"
    elif name == "underpaid":
        paid = reports.paid_vs_expected(actor=actor, start=start, end=end)
        text = reports.underpaid_csv(paid)
        filename = f"underpaid-{_days(paid.start, paid.end)}.csv"
    elif name == "rejects":
        text = reports.outstanding_csv(reports.outstanding(actor=actor))
    elif name == "reversals":
        done = reports.reversals(actor=actor, start=start, end=end)
        text = reports.reversals_csv(done)
        filename = f"reversals-{_days(done.start, done.end)}.csv"
    else:
        text = reports.rts_csv(reports.rts_due(actor=actor))
    response = HttpResponse(text, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "private, no-store"
    return response


def _days(start: dt.date, end: dt.date) -> str:
    return start.isoformat() if start == end else f"{start.isoformat()}_{end.isoformat()}"


urlpatterns: list[URLPattern] = [
    path("reports/", report, name="claims_reports"),
    path("reports/<slug:name>.csv", report_csv, name="claims_report_csv"),
]
