"""The screening screens: a fill's alerts on the data-verification page (a partial fed by
:func:`verification_context`), a pharmacist's resolution of one alert, and the alert and
override rates per rule. Each parses, calls a service or query, and renders."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils.http import url_has_allowed_host_and_scheme

from rxdesk.core.capabilities import Cap, has, require
from rxdesk.core.errors import DomainError
from rxdesk.core.forms import FIELD_ERRORS, DateField, RxForm, bind_errors, choice
from rxdesk.core.models import User
from rxdesk.core.views import FORM, actor_of, posted, screen
from rxdesk.rx.models import Fill
from rxdesk.screening import queries, services
from rxdesk.screening.models import FillAlert

REPORT_DAYS_SHOWN = 90

# Typical triplets first (reference §7.4): what a pharmacist picks most.
_SERVICE_FIRST = ("M0", "P0", "R0", "MR", "DE", "PM", "CC", "00")
_RESULT_FIRST = ("1G", "1B", "1A", "1C", "1D", "1E", "2A", "2B", "3C", "3D", "3E")


def _ordered(table: dict[str, str], first: tuple[str, ...]) -> list[tuple[str, str]]:
    codes = [c for c in first if c in table] + sorted(c for c in table if c not in first)
    return [("", "— choose —")] + [(c, f"{c} · {table[c]}") for c in codes]


class ResolveForm(RxForm):
    professional_service = choice(
        _ordered(services.PROFESSIONAL_SERVICE, _SERVICE_FIRST),
        label="What you did (NCPDP professional service)",
    )
    result_of_service = choice(
        _ordered(services.RESULT_OF_SERVICE, _RESULT_FIRST),
        label="Outcome (NCPDP result of service)",
    )
    note = forms.CharField(
        max_length=services.NOTE_MAX,
        label="Note",
        widget=forms.Textarea(attrs={"rows": 2, "maxlength": services.NOTE_MAX}),
    )


def _outcome(row: FillAlert) -> str:
    """A resolution's codes in words: "Prescriber consulted; filled with prescriber
    approval" (the page shows the codes too; not everyone reading it knows them)."""
    if row.resolved_at is None:
        return ""
    service = services.PROFESSIONAL_SERVICE.get(row.professional_service, "")
    result = services.RESULT_OF_SERVICE.get(row.result_of_service, "")
    return "; ".join(t for t in (service, result[:1].lower() + result[1:]) if t)


def verification_context(actor: User, fill: Fill) -> dict[str, Any]:
    """For the data-verification page: the fill screened now (its alerts kept), ranked —
    interrupting ones first — with a resolve form for each unresolved one when the user
    may resolve; the rest as a quiet list. A screening failure is shown, never hidden."""
    try:
        screened = services.fill_screen(actor=actor, fill=fill)
    except DomainError as exc:
        return {"screening": {"error": exc.message}}
    may_resolve = has(actor, Cap.SCREENING_RESOLVE)
    interrupting: list[dict[str, Any]] = []
    listed: list[dict[str, Any]] = []
    for alert, row in screened.alerts:
        item = {
            "alert": alert,
            "row": row,
            "blocking": services.blocks(row),
            "url": reverse("screening_alert_resolve", kwargs={"pk": row.pk}),
            "form": ResolveForm(prefix=f"a{row.pk}") if may_resolve else None,
            "outcome": _outcome(row),
        }
        (interrupting if row.interrupting else listed).append(item)
    return {
        "screening": {
            "interrupting": interrupting,
            "listed": listed,
            "waiting": len(screened.waiting),
            "may_resolve": may_resolve,
            "here": reverse("fill_data_verify", kwargs={"pk": fill.pk}),
        }
    }


def _safe_next(request: HttpRequest, default: str) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return default


@screen(methods=FORM)
def alert_resolve(request: HttpRequest, pk: int) -> HttpResponse:
    """One alert with what it means and what to do; the pharmacist picks the NCPDP codes,
    writes a note, and goes back to data verification."""
    actor = actor_of(request)
    require(actor, Cap.SCREENING_RESOLVE)
    row: FillAlert = queries.alert_get(actor=actor, alert_id=pk)
    back = _safe_next(request, reverse("fill_data_verify", kwargs={"pk": row.fill_id}))
    data = posted(request)
    prefix = f"a{row.pk}" if data is not None and f"a{row.pk}-note" in data else None
    form = ResolveForm(data, prefix=prefix)
    if request.method == "POST" and form.is_valid():
        try:
            services.alert_resolve(actor=actor, alert=row, **form.cleaned_data)
        except FIELD_ERRORS as exc:
            bind_errors(form, exc)
        else:
            messages.success(
                request,
                f"{row.type} alert resolved "
                f"({form.cleaned_data['professional_service']}/"
                f"{form.cleaned_data['result_of_service']}).",
            )
            return redirect(back)
    context = {"row": row, "form": form, "back": back, "fill": row.fill}
    return render(request, "screening/resolve.html", context, status=form.http_status())


class ReportForm(RxForm):
    start = DateField(required=False, label="From")
    end = DateField(required=False, label="To")


@screen
def report(request: HttpRequest) -> HttpResponse:
    """Per rule: alerts raised, interrupted, resolved, overridden and the override rate,
    for the pharmacy's periodic review of which rules are noise."""
    actor = actor_of(request)
    require(actor, Cap.SCREENING_REPORT)
    today = actor.site.today() if actor.site is not None else dt.date.today()
    form = ReportForm(request.GET or None)
    start, end = today - dt.timedelta(days=REPORT_DAYS_SHOWN - 1), today
    if form.is_bound and form.is_valid():
        start = form.cleaned_data.get("start") or start
        end = form.cleaned_data.get("end") or end
    rates: list[queries.RuleRate] = []
    status = form.http_status()
    if not form.errors:
        try:
            rates = queries.alert_rates(actor=actor, start=start, end=end)
        except FIELD_ERRORS as exc:
            bind_errors(form, exc)
            status = form.http_status()
    context = {"form": form, "rates": rates, "start": start, "end": end}
    return render(request, "screening/report.html", context, status=status)


urlpatterns = [
    path("alerts/<int:pk>/resolve/", alert_resolve, name="screening_alert_resolve"),
    path("report/", report, name="screening_report"),
]
