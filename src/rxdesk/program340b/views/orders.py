"""340B replenishment order form, the audit report (screen and CSV) and the eligibility
decisions of a day with their reasons."""

from __future__ import annotations

import csv

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import URLPattern, path

from rxdesk.core.capabilities import Cap, has, require
from rxdesk.core.forms import FIELD_ERRORS, bind_errors
from rxdesk.core.views import FORM, actor_of, posted, screen
from rxdesk.program340b import queries, services
from rxdesk.program340b.views.forms import OrderForm, ReportForm


@screen(methods=FORM)
def p340b_order(request: HttpRequest) -> HttpResponse:
    actor = actor_of(request)
    require(actor, Cap.P340B_ORDER)
    initial = {"ndc": request.GET.get("ndc", "")[:13]}
    form = OrderForm(posted(request), initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            order = services.p340b_order_create(actor=actor, **form.cleaned_data)
        except FIELD_ERRORS as exc:
            bind_errors(form, exc)
        else:
            messages.success(
                request,
                f"PO {order.po_number}: {order.packages} package(s) of NDC "
                f"{order.package.ndc11} recorded.",
            )
            return redirect("p340b_home")
    context = {
        "form": form,
        "lines": queries.inventory(actor=actor),
        "orders": queries.orders(actor=actor, limit=20),
    }
    return render(request, "program340b/order.html", context, status=form.http_status())


@screen
def p340b_report(request: HttpRequest) -> HttpResponse:
    actor = actor_of(request)
    require(actor, Cap.P340B_VIEW)
    form = ReportForm(request.GET or None)
    start = end = None
    if form.is_bound and form.is_valid():
        start, end = form.cleaned_data["start"], form.cleaned_data["end"]
    lines = queries.report(actor=actor, start=start, end=end)
    if request.GET.get("format") == "csv":
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = 'attachment; filename="340b-audit.csv"'
        writer = csv.writer(response)
        writer.writerow(queries.REPORT_HEADER)
        writer.writerows(queries.report_rows(lines))
        return response
    context = {
        "form": form,
        "lines": lines,
        "header": queries.REPORT_HEADER,
        "rows": queries.report_rows(lines),
        "query": request.GET.urlencode(),
    }
    return render(request, "program340b/report.html", context)


@screen
def p340b_decisions(request: HttpRequest) -> HttpResponse:
    actor = actor_of(request)
    require(actor, Cap.P340B_VIEW)
    form = ReportForm(request.GET or None)
    day = actor.site.today()
    if form.is_bound and form.is_valid() and form.cleaned_data["day"]:
        day = form.cleaned_data["day"]
    rows = queries.decisions(actor=actor, day=day, limit=500)
    context = {
        "form": form,
        "day": day,
        "rows": rows,
        "may_order": has(actor, Cap.P340B_ORDER),
    }
    return render(request, "program340b/decisions.html", context)


urlpatterns: list[URLPattern] = [
    path("order/", p340b_order, name="p340b_order"),
    path("report/", p340b_report, name="p340b_report"),
    path("decisions/", p340b_decisions, name="p340b_decisions"),
]
