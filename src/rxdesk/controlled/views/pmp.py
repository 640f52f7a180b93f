"""Workstation pages of the PMP (ASAP 4.2) files: the files kept with the forms that make
them (a day's file or its corrected resend; a catch-up of a period, or one file of the
period for a state's request), one file with its records and status, its download, and
marking it sent, accepted or rejected. Parse, call, render: the services decide; each page
checks cs.pmp first, so a refused role gets 403 and nothing is read."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import URLPattern, path

from rxdesk.controlled import queries_pmp, services_pmp
from rxdesk.controlled.api_pmp import file_response
from rxdesk.controlled.choices import PmpStatus
from rxdesk.controlled.models import PmpSubmission
from rxdesk.core.capabilities import Cap, require
from rxdesk.core.forms import FIELD_ERRORS, DateField, RxForm, bind_errors, flag, text
from rxdesk.core.models import User
from rxdesk.core.views import FORM, actor_of, posted, screen

DAILY, RANGE = "daily", "range"


class DailyForm(RxForm):
    """One day's file (yesterday's, usually), or a corrected resend of it."""

    FIELDSETS = (("A day's file", ("day", "state", "again")),)
    day = DateField(label="Day dispensed")
    state = text(2, label="State PMP (blank: the pharmacy's)", placeholder="IL")
    again = flag(
        "Send the day again (corrected file)",
        "Only when the day already has a file that must be replaced.",
    )


class RangeForm(RxForm):
    """Every day of a period that has no file yet, or one file of the whole period."""

    FIELDSETS = (("Catch up, or a state's request", ("start", "end", "state", "single_file")),)
    start = DateField(label="From")
    end = DateField(label="Through")
    state = text(2, label="State PMP (blank: the pharmacy's)", placeholder="IL")
    single_file = flag(
        "One file of the whole period (a state's request)",
        "Unchecked: a file for each day that has none yet.",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["start"].widget.attrs.pop("autofocus", None)  # the day's form has it


class StatusForm(RxForm):
    status = forms.ChoiceField(
        label="What became of the file",
        choices=[
            (s.value, s.label) for s in (PmpStatus.SENT, PmpStatus.ACCEPTED, PmpStatus.REJECTED)
        ],
    )
    note = forms.CharField(
        max_length=services_pmp.NOTE_MAX,
        required=False,
        label="Note (required when rejected: the PMP's error)",
        widget=forms.Textarea(attrs={"rows": 2, "maxlength": services_pmp.NOTE_MAX}),
    )


def _list(
    request: HttpRequest,
    actor: User,
    *,
    daily: DailyForm | None = None,
    range_form: RangeForm | None = None,
    status: int = 200,
) -> HttpResponse:
    yesterday = actor.site.today() - dt.timedelta(days=1)
    rows = queries_pmp.pmp_submissions(actor=actor)
    context = {
        "rows": rows,
        "daily": daily
        if daily is not None
        else DailyForm(prefix=DAILY, initial={"day": yesterday}),
        "range_form": range_form if range_form is not None else RangeForm(prefix=RANGE),
        "site_state": actor.site.state,
    }
    return render(request, "controlled/pmp_list.html", context, status=status)


def _made(request: HttpRequest, made: list[PmpSubmission]) -> None:
    if not made:
        messages.info(request, "Nothing to make: every day of that period already has its file.")
    for s in made:
        messages.success(request, services_pmp.describe(s))


@screen(methods=FORM)
def pmp_list(request: HttpRequest) -> HttpResponse:
    """The PMP files kept (newest first) and the forms that make one."""
    actor = actor_of(request)
    require(actor, Cap.CS_PMP)
    data = posted(request)
    if data is None:
        return _list(request, actor)
    if data.get("form") == RANGE:
        range_form = RangeForm(data, prefix=RANGE)
        if range_form.is_valid():
            values = range_form.cleaned_data
            try:
                made = services_pmp.pmp_range(
                    actor=actor,
                    start=values["start"],
                    end=values["end"],
                    state=values["state"] or None,
                    single_file=values["single_file"],
                )
            except FIELD_ERRORS as exc:
                bind_errors(range_form, exc)
            else:
                _made(request, made)
                return redirect("cs_pmp")
        return _list(request, actor, range_form=range_form, status=range_form.http_status())
    daily = DailyForm(data, prefix=DAILY)
    if daily.is_valid():
        values = daily.cleaned_data
        try:
            made_one = services_pmp.pmp_daily(
                actor=actor, day=values["day"], state=values["state"] or None, again=values["again"]
            )
        except FIELD_ERRORS as exc:
            bind_errors(daily, exc)
        else:
            _made(request, [made_one])
            return redirect("cs_pmp_detail", pk=made_one.pk)
    return _list(request, actor, daily=daily, status=daily.http_status())


def _detail(
    request: HttpRequest,
    actor: User,
    submission: PmpSubmission,
    *,
    form: StatusForm | None = None,
    status: int = 200,
) -> HttpResponse:
    context = {
        "s": submission,
        "records": queries_pmp.pmp_records(submission),
        "superseded": queries_pmp.is_superseded(submission),
        "form": form if form is not None else StatusForm(),
        "may_mark": bool(services_pmp.NEXT[submission.status]),
    }
    return render(request, "controlled/pmp_detail.html", context, status=status)


@screen
def pmp_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """One file: what it covers, its counts and status, and one line per fill reported."""
    actor = actor_of(request)
    require(actor, Cap.CS_PMP)
    return _detail(request, actor, queries_pmp.pmp_get(actor=actor, submission_id=pk))


@screen
def pmp_file(request: HttpRequest, pk: int) -> HttpResponse:
    """The file's exact text as a download (the access is logged)."""
    actor = actor_of(request)
    require(actor, Cap.CS_PMP)
    found = queries_pmp.pmp_get(actor=actor, submission_id=pk)
    return file_response(services_pmp.pmp_file_read(actor=actor, submission=found))


@screen(methods=("POST",))
def pmp_status(request: HttpRequest, pk: int) -> HttpResponse:
    """Mark the file sent, accepted or rejected (a form on the file's page)."""
    actor = actor_of(request)
    require(actor, Cap.CS_PMP)
    found = queries_pmp.pmp_get(actor=actor, submission_id=pk)
    form = StatusForm(request.POST)
    if form.is_valid():
        try:
            done = services_pmp.pmp_status_set(
                actor=actor,
                submission=found,
                status=form.cleaned_data["status"],
                note=form.cleaned_data["note"],
            )
        except FIELD_ERRORS as exc:
            bind_errors(form, exc)
        else:
            messages.success(request, f"{done.file_name}: {done.get_status_display().lower()}.")
            return redirect("cs_pmp_detail", pk=found.pk)
    return _detail(request, actor, found, form=form, status=form.http_status())


urlpatterns: list[URLPattern] = [
    path("pmp/", pmp_list, name="cs_pmp"),
    path("pmp/<int:pk>/", pmp_detail, name="cs_pmp_detail"),
    path("pmp/<int:pk>/file/", pmp_file, name="cs_pmp_file"),
    path("pmp/<int:pk>/status/", pmp_status, name="cs_pmp_status"),
]
