"""Workstation pages of the controlled-substance records: the perpetual inventory (the
landing page of /controlled/, Schedule II and Schedules III–V on separate tabs), one
package's record, the daily log with its sign-off, and the diversion signals. Parse, call,
render: each page checks the capability first, so a refused role gets 403 and nothing is
read; the queries and the sign-off service check again."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, URLPattern, path, reverse
from django.utils.http import urlencode

from rxdesk.controlled import queries, queries_diversion, services_log
from rxdesk.controlled.choices import ScheduleGroup
from rxdesk.core.capabilities import Cap, has, require
from rxdesk.core.forms import FIELD_ERRORS, DateField, RxForm, bind_errors, text
from rxdesk.core.models import User
from rxdesk.core.views import FORM, actor_of, posted, screen

GROUPS = [(g.value, g.label) for g in ScheduleGroup]
UNSIGNED_BOX_DAYS = 30
UNSIGNED_BOX_ROWS = 10

# The other controlled-substance screens, linked from the landing page when they exist
# (each is built in its own module): (URL name, words, capability to show the link).
OTHER_PAGES: list[tuple[str, str, Cap]] = [
    ("cs_audit_count", "Blind count", Cap.CS_COUNT),
    ("cs_audits", "Counts", Cap.CS_VIEW),
    ("cs_investigations", "Investigations", Cap.CS_VIEW),
    ("cs_losses", "Theft / loss (Form 106)", Cap.CS_VIEW),
    ("cs_orders", "Form 222 / CSOS orders", Cap.CS_VIEW),
    ("cs_receipts", "Receipts", Cap.CS_VIEW),
    ("cs_inventories", "Inventories", Cap.CS_VIEW),
    ("cs_destructions", "Destruction (Form 41)", Cap.CS_VIEW),
    ("cs_waste", "Waste", Cap.CS_VIEW),
    ("cs_disposals", "Disposal register", Cap.CS_VIEW),
    ("cs_pmp", "PMP reports", Cap.CS_PMP),
]


def _links(actor: User) -> list[tuple[str, str]]:
    out = []
    for name, words, cap in OTHER_PAGES:
        if not has(actor, cap):
            continue
        try:
            out.append((words, reverse(name)))
        except NoReverseMatch:
            continue
    return out


def _group(request: HttpRequest) -> ScheduleGroup:
    return queries.group_of(request.GET.get("group") or ScheduleGroup.II)


def _csv(text_: str, name: str) -> HttpResponse:
    response = HttpResponse(text_, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    response["Cache-Control"] = "private, no-store"
    return response


def _group_file(group: ScheduleGroup) -> str:
    return "CII" if group == ScheduleGroup.II else "CIII-CV"


# --- The perpetual inventory ------------------------------------------------------------------


@screen
def perpetual(request: HttpRequest) -> HttpResponse:
    """The landing page: the perpetual inventory of one group (tabs II / III–V), searchable,
    each package opening its record; the days waiting for a sign-off beside it."""
    actor = actor_of(request)
    require(actor, Cap.CS_VIEW)
    group = _group(request)
    q = (request.GET.get("q") or "").strip()
    report = queries.perpetual(actor=actor, group=group, q=q)
    unsigned = queries.unsigned_days(actor=actor, days=UNSIGNED_BOX_DAYS)
    context = {
        "report": report,
        "group": group,
        "groups": GROUPS,
        "q": q,
        "unsigned": unsigned[:UNSIGNED_BOX_ROWS],
        "unsigned_more": max(0, len(unsigned) - UNSIGNED_BOX_ROWS),
        "unsigned_days": UNSIGNED_BOX_DAYS,
        "links": _links(actor),
        "may_sign": has(actor, Cap.CS_SIGNOFF),
        "may_signals": has(actor, Cap.CS_SIGNALS),
        "csv_url": f"{reverse('cs_perpetual_csv')}?{urlencode({'group': group.value, 'q': q})}",
    }
    return render(request, "controlled/ledger_perpetual.html", context)


@screen
def perpetual_csv(request: HttpRequest) -> HttpResponse:
    """The perpetual inventory of one group as a CSV file (one row per lot)."""
    actor = actor_of(request)
    require(actor, Cap.CS_VIEW)
    report = queries.perpetual(actor=actor, group=_group(request), q=request.GET.get("q") or "")
    name = f"perpetual-{_group_file(report.group)}-{report.as_of:%Y%m%d}.csv"
    return _csv(queries.perpetual_csv(report), name)


# --- One package's record ---------------------------------------------------------------------


class LedgerFilterForm(RxForm):
    """Which moves of the package to show: one lot, a period."""

    lot = text(40, label="Lot (blank: every lot)", autocomplete="off", spellcheck="false")
    start = DateField(required=False, label="From")
    end = DateField(required=False, label="Through")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["lot"].widget.attrs.pop("autofocus", None)


@screen
def package_ledger(request: HttpRequest, ndc: str) -> HttpResponse:
    """One package's moves at the pharmacy, oldest first, with the balances after each;
    ``?format=csv`` downloads it."""
    actor = actor_of(request)
    require(actor, Cap.CS_VIEW)
    form = LedgerFilterForm(request.GET or None)
    values: dict[str, Any] = {"lot": "", "start": None, "end": None}
    status = 200
    if form.is_bound:
        if form.is_valid():
            values = form.cleaned_data
        else:
            status = form.http_status()
    report = None
    try:
        report = queries.package_ledger(
            actor=actor,
            package=ndc,
            lot=values["lot"] or None,
            start=values["start"],
            end=values["end"],
        )
    except FIELD_ERRORS as exc:
        if exc.field == "ndc":
            raise
        bind_errors(form, exc)
        status = form.http_status()
        report = queries.package_ledger(actor=actor, package=ndc)
    if request.GET.get("format") == "csv" and status == 200:
        return _csv(queries.package_ledger_csv(report), f"cs-record-{report.package.ndc11}.csv")
    query: dict[str, str] = {k: str(v) for k, v in request.GET.items() if k != "format"}
    context = {
        "report": report,
        "form": form,
        "links": _links(actor),
        "csv_url": f"?{urlencode({**query, 'format': 'csv'})}",
        "back": f"{reverse('cs_perpetual')}?{urlencode({'group': report.group.value})}",
    }
    return render(request, "controlled/ledger_package.html", context, status=status)


# --- The daily log ----------------------------------------------------------------------------


class LogPickForm(RxForm):
    """Which day's log, of which schedules."""

    day = DateField(required=False, label="Day")
    group = forms.ChoiceField(choices=GROUPS, required=False, label="Schedules")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["day"].widget.attrs.pop("autofocus", None)


class SignForm(RxForm):
    """The pharmacist's sign-off of the log on the page (day and group travel hidden)."""

    day = DateField(widget=forms.HiddenInput(), label="Day")
    group = forms.ChoiceField(choices=GROUPS, widget=forms.HiddenInput(), label="Schedules")
    note = forms.CharField(
        max_length=services_log.NOTE_MAX,
        required=False,
        label="Note (optional)",
        widget=forms.Textarea(attrs={"rows": 2, "maxlength": services_log.NOTE_MAX}),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["day"].widget.attrs.pop("autofocus", None)
        self.fields["note"].widget.attrs["autofocus"] = True


def _log_url(day: Any, group: Any) -> str:
    return f"{reverse('cs_daily_log')}?{urlencode({'day': day.isoformat(), 'group': str(group)})}"


@screen(methods=FORM)
def daily_log(request: HttpRequest) -> HttpResponse:
    """One day's controlled-substance moves of one group, totals by reason, its sign-off
    state; pharmacists sign it here. ``?format=csv`` downloads the day's log."""
    actor = actor_of(request)
    require(actor, Cap.CS_VIEW)
    data = posted(request)
    sign_form = None
    status = 200
    if data is not None:
        require(actor, Cap.CS_SIGNOFF)
        sign_form = SignForm(data)
        if sign_form.is_valid():
            values = sign_form.cleaned_data
            try:
                signoff = services_log.daily_log_sign(
                    actor=actor, day=values["day"], group=values["group"], note=values["note"]
                )
            except FIELD_ERRORS as exc:
                bind_errors(sign_form, exc)
            else:
                messages.success(request, services_log.signoff_words(signoff))
                return redirect(_log_url(signoff.day, signoff.group))
        status = sign_form.http_status()
        day = getattr(sign_form, "cleaned_data", {}).get("day")
        group_value = data.get("group") if data.get("group") in dict(GROUPS) else None
    else:
        day, group_value = None, None
        pick = LogPickForm(request.GET or None)
        if pick.is_bound and pick.is_valid():
            day, group_value = pick.cleaned_data["day"], pick.cleaned_data["group"]
        elif pick.is_bound:
            status = pick.http_status()
            messages.error(
                request, "; ".join(str(e) for errs in pick.errors.values() for e in errs)
            )
    log = queries.daily_log(actor=actor, day=day, group=group_value or ScheduleGroup.II)
    if data is None and status == 200 and request.GET.get("format") == "csv":
        name = f"cs-log-{log.day.isoformat()}-{_group_file(log.group)}.csv"
        return _csv(queries.daily_log_csv(log), name)
    may_sign = has(actor, Cap.CS_SIGNOFF) and log.day <= log.site.today()
    if sign_form is None and may_sign:
        sign_form = SignForm(initial={"day": log.day, "group": log.group.value})
    context = {
        "log": log,
        "pick": LogPickForm(initial={"day": log.day, "group": log.group.value}),
        "links": _links(actor),
        "sign_form": sign_form,
        "may_sign": may_sign,
        "previous_day": log.day.fromordinal(log.day.toordinal() - 1),
        "next_day": log.day.fromordinal(log.day.toordinal() + 1),
        "today": log.site.today(),
        "csv_url": f"{_log_url(log.day, log.group)}&format=csv",
    }
    return render(request, "controlled/log_day.html", context, status=status)


# --- Diversion signals ------------------------------------------------------------------------


@screen
def signals(request: HttpRequest) -> HttpResponse:
    """Packages and people to look at first, flagged first, with the reasons in words."""
    actor = actor_of(request)
    require(actor, Cap.CS_SIGNALS)
    days = request.GET.get("days") or queries_diversion.LOOKBACK_DAYS
    found = queries_diversion.signals(actor=actor, days=days)
    context = {"found": found, "days": (found.end - found.start).days, "links": _links(actor)}
    return render(request, "controlled/signals_list.html", context)


urlpatterns: list[URLPattern] = [
    path("", perpetual, name="cs_perpetual"),
    path("perpetual.csv", perpetual_csv, name="cs_perpetual_csv"),
    path("packages/<str:ndc>/", package_ledger, name="cs_package_ledger"),
    path("log/", daily_log, name="cs_daily_log"),
    path("signals/", signals, name="cs_signals"),
]
