"""Workstation screens of point-of-care tests (CLIA-waived) and the site's patient-care
settings. Parse, call rxdesk.care services_poct / queries_poct, render: the services
decide; each screen checks its capability first.

- ``care_poct``: the tests log (a day's results, today first; for a pharmacist those
  waiting for review first);
- ``care_poct_new``: record a test (find the patient, choose the test: the result widget
  follows the test — positive/negative/invalid, or the meter's value with its unit);
- ``care_poct_result``: one result (a PHI access) with "given to the patient", review and
  entered-in-error; ``care_poct_print``: the patient's result printout (a PHI access);
- ``care_settings``: CLIA certificate, permitted tests, who performs, callback hours (the
  pharmacist-in-charge changes them; the rest of the staff reads them)."""

from __future__ import annotations

import datetime as dt
from typing import Any, cast

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import URLPattern, path
from django.utils import timezone

from rxdesk.care import poct_tests
from rxdesk.care import queries_poct as queries
from rxdesk.care import services_poct as services
from rxdesk.care.choices import PocResult, PocStatus
from rxdesk.care.common import settings_of
from rxdesk.care.models import PocTestResult
from rxdesk.core.capabilities import Cap, has, require
from rxdesk.core.forms import (
    DATE_INPUT_FORMATS,
    FIELD_ERRORS,
    MAX_ID,
    DateField,
    RxForm,
    bind_errors,
    flag,
    text,
)
from rxdesk.core.models import User
from rxdesk.core.views import FORM, actor_of, is_partial, posted, screen
from rxdesk.patients import queries as patient_queries
from rxdesk.patients.models import Patient

DATETIME_INPUT_FORMATS = [f"{d} %H:%M" for d in DATE_INPUT_FORMATS]
ALL_SPECIMENS = sorted({s for t in poct_tests.CATALOG for s in t.specimens})


# --- Forms ------------------------------------------------------------------------------------


class ResultForm(RxForm):
    FIELDSETS = (
        (
            "Test and kit",
            ("test_code", "specimen", "collected_at", "kit_name", "kit_lot", "kit_expiry"),
        ),
        ("Follow-up", ("follow_up", "referred", "referral_to", "referral_reason")),
    )
    SEPARATE = ("result", "value", "patient")
    patient = forms.IntegerField(min_value=1, max_value=MAX_ID, widget=forms.HiddenInput)
    test_code = forms.ChoiceField(label="Test")
    specimen = forms.ChoiceField(
        required=False,
        label="Specimen",
        choices=[("", "The test's usual specimen")] + [(s, s) for s in ALL_SPECIMENS],
    )
    collected_at = forms.DateTimeField(
        input_formats=DATETIME_INPUT_FORMATS,
        label="Collected at",
        widget=forms.DateTimeInput(
            format="%m/%d/%Y %H:%M",
            attrs={"autocomplete": "off", "placeholder": "MM/DD/YYYY HH:MM"},
        ),
    )
    kit_name = text(services.KIT_MAX, label="Kit or meter", autocomplete="off")
    kit_lot = text(services.LOT_MAX, required=True, label="Kit lot (scan)", autocomplete="off")
    kit_expiry = DateField(label="Kit expires")
    result = forms.ChoiceField(choices=PocResult.choices, label="Result")
    value = forms.DecimalField(
        required=False, max_digits=8, decimal_places=2, label="Value", localize=False
    )
    follow_up = forms.CharField(
        required=False,
        max_length=services.FOLLOW_UP_MAX,
        label="Follow-up given (required for a positive or out-of-range result)",
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    referred = flag("Referred")
    referral_to = text(services.REFER_TO_MAX, label="Referred to")
    referral_reason = text(services.REASON_MAX, label="Why")

    def __init__(self, *args: Any, tests: list[poct_tests.PocTest], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["patient"].widget.attrs.pop("autofocus", None)
        field = cast(forms.ChoiceField, self.fields["test_code"])
        field.choices = [("", "Choose…")] + [(t.code, t.name) for t in tests]
        field.widget.attrs.update({"autofocus": True})

    def chosen_test(self) -> poct_tests.PocTest | None:
        code = self.data.get("test_code") if self.is_bound else self.initial.get("test_code")
        return poct_tests.BY_CODE.get(str(code or ""))


class CommunicatedForm(RxForm):
    at = forms.DateTimeField(
        required=False,
        input_formats=DATETIME_INPUT_FORMATS,
        label="Given at (blank: now)",
        widget=forms.DateTimeInput(
            attrs={"autocomplete": "off", "placeholder": "MM/DD/YYYY HH:MM"}
        ),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("prefix", "told")
        super().__init__(*args, **kwargs)
        self.fields["at"].widget.attrs.pop("autofocus", None)


class ReviewForm(RxForm):
    note = text(services.NOTE_MAX, label="Review note (optional)")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("prefix", "rev")
        super().__init__(*args, **kwargs)
        self.fields["note"].widget.attrs.pop("autofocus", None)


class ErrorForm(RxForm):
    reason = text(services.REASON_MAX, required=True, label="Why it is entered in error")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("prefix", "err")
        super().__init__(*args, **kwargs)
        self.fields["reason"].widget.attrs.pop("autofocus", None)


class SettingsForm(RxForm):
    FIELDSETS = (
        (
            "Point-of-care testing",
            ("poct_enabled", "clia_certificate", "clia_expires", "technicians_perform_poct"),
        ),
        ("Tests the state lets this pharmacy perform", ("poct_tests",)),
        ("Inquiries", ("callback_hours",)),
    )
    poct_enabled = flag("This pharmacy offers point-of-care testing")
    clia_certificate = text(14, label="CLIA certificate of waiver number", placeholder="05D1234567")
    clia_expires = DateField(required=False, label="Certificate expires")
    technicians_perform_poct = flag(
        "Technicians may perform the tests", "Only where the state lets technicians perform them."
    )
    poct_tests = forms.MultipleChoiceField(
        required=False,
        widget=forms.CheckboxSelectMultiple,
        choices=[(t.code, f"{t.name} (LOINC {t.loinc})") for t in poct_tests.CATALOG],
        label="Tests",
    )
    callback_hours = forms.IntegerField(
        min_value=1, max_value=168, label="Call back within (hours)", help_text="1 to 168 hours."
    )


# --- Helpers ----------------------------------------------------------------------------------


def _patient_of(actor: User, value: Any) -> Patient | None:
    try:
        pk = int(value)
    except (TypeError, ValueError):
        return None
    if not 0 < pk <= MAX_ID:
        return None
    return Patient.objects.filter(site_id=actor.site_id, pk=pk).first()


def _parse_day(value: str) -> dt.date | None:
    for fmt in DATE_INPUT_FORMATS:
        try:
            return dt.datetime.strptime(value, fmt).date()
        except ValueError:
            continue
    return None


# --- The log ----------------------------------------------------------------------------------


@screen
def poct_log(request: HttpRequest) -> HttpResponse:
    actor = actor_of(request)
    require(actor, Cap.CARE_VIEW)
    site = actor.site
    typed = (request.GET.get("day") or "").strip()[:10]
    day = _parse_day(typed) if typed else None
    error = "Type the day as MM/DD/YYYY." if typed and day is None else ""
    day = day or site.today()
    rows = list(queries.results_log(actor=actor, day=day))
    context = {
        "rows": rows,
        "day": day,
        "previous": day - dt.timedelta(days=1),
        "following": day + dt.timedelta(days=1),
        "today": site.today(),
        "error": error,
        "unreviewed": sum(1 for r in rows if r.status == PocStatus.RECORDED),
        "may_record": services.may_perform(actor, site),
        "is_pharmacist": has(actor, Cap.CARE_INTERVENE),
        "settings": settings_of(site),
        "clia_problem": services.clia_problem(settings_of(site), site.today()),
    }
    return render(request, "care/poct_log.html", context, status=422 if error else 200)


# --- Recording --------------------------------------------------------------------------------


@screen(methods=FORM)
def poct_new(request: HttpRequest) -> HttpResponse:
    """Record a test: find the patient, then the test, kit and result."""
    actor = actor_of(request)
    require(actor, Cap.CARE_POCT)
    site = actor.site
    tests = services.permitted_tests(site)
    if request.method == "GET" and is_partial(request) and "test_code" in request.GET:
        form = ResultForm(initial={"test_code": request.GET.get("test_code")}, tests=tests)
        return render(
            request, "care/poct_result_widget.html", {"form": form, "test": form.chosen_test()}
        )
    data = posted(request)
    patient = _patient_of(actor, (data or request.GET).get("patient"))
    q = (request.GET.get("q") or "").strip()[:100]
    found: list[Patient] = []
    search_error = ""
    if data is None and patient is None and q:
        try:
            found = list(patient_queries.patient_search(actor=actor, q=q, limit=15))
        except FIELD_ERRORS as exc:
            search_error = exc.message
    now = timezone.localtime().replace(second=0, microsecond=0)
    initial: dict[str, Any] = {"patient": patient.pk if patient else None, "collected_at": now}
    if len(tests) == 1:
        initial["test_code"] = tests[0].code
    form = ResultForm(data, initial=initial, tests=tests)
    if data is not None and form.is_valid():
        if patient is None:
            form.add_error(None, "Choose the patient first.")
        else:
            v = form.cleaned_data
            try:
                row = services.poct_record(
                    actor=actor,
                    patient=patient,
                    test_code=v["test_code"],
                    specimen=v["specimen"],
                    collected_at=v["collected_at"],
                    kit_lot=v["kit_lot"],
                    kit_expiry=v["kit_expiry"],
                    result=v["result"],
                    value=v.get("value"),
                    kit_name=v["kit_name"],
                    follow_up=v["follow_up"],
                    referred=v["referred"],
                    referral_to=v["referral_to"],
                    referral_reason=v["referral_reason"],
                )
            except FIELD_ERRORS as exc:
                if exc.field == "patient":
                    exc.field = None
                bind_errors(form, exc)
            else:
                messages.success(request, f"{row.test_name} recorded: {row.get_result_display()}.")
                return redirect("care_poct_result", pk=row.pk)
    context = {
        "form": form,
        "test": form.chosen_test(),
        "patient": patient,
        "q": q,
        "found": found,
        "search_error": search_error,
        "tests": tests,
        "clia_problem": services.clia_problem(settings_of(site), site.today()),
        "may_record": services.may_perform(actor, site),
    }
    return render(request, "care/poct_new.html", context, status=form.http_status())


# --- One result -------------------------------------------------------------------------------


def _result_page(
    request: HttpRequest,
    actor: User,
    row: PocTestResult,
    *,
    given: dict[str, RxForm] | None = None,
    status: int = 200,
) -> HttpResponse:
    given = given or {}
    context = {
        "r": row,
        "test": poct_tests.BY_CODE.get(row.test_code),
        "may_tell": has(actor, Cap.CARE_POCT),
        "is_pharmacist": has(actor, Cap.CARE_INTERVENE),
        "in_error": row.status == PocStatus.ENTERED_IN_ERROR,
        "told_form": given.get("told") or CommunicatedForm(),
        "review_form": given.get("review") or ReviewForm(),
        "error_form": given.get("error") or ErrorForm(),
    }
    return render(request, "care/poct_result.html", context, status=status)


@screen
def poct_result(request: HttpRequest, pk: int) -> HttpResponse:
    actor = actor_of(request)
    row = queries.result_get(actor=actor, result_id=pk)
    services.poct_viewed(actor=actor, result=row, output="screen")
    return _result_page(request, actor, row)


@screen
def poct_print(request: HttpRequest, pk: int) -> HttpResponse:
    """The patient's copy of the result (printed from the browser)."""
    actor = actor_of(request)
    row = queries.result_get(actor=actor, result_id=pk)
    services.poct_viewed(actor=actor, result=row, output="print")
    context = {
        "r": row,
        "test": poct_tests.BY_CODE.get(row.test_code),
        "site": actor.site,
        "settings": settings_of(actor.site),
        "printed_at": timezone.localtime(),
    }
    return render(request, "care/poct_print.html", context)


def _act(
    request: HttpRequest, pk: int, cap: Cap, name: str, make: Any, run: Any, done: str
) -> HttpResponse:
    actor = actor_of(request)
    require(actor, cap)
    row = queries.result_get(actor=actor, result_id=pk)
    form = make(request.POST)
    if form.is_valid():
        try:
            run(actor, row, form.cleaned_data)
        except FIELD_ERRORS as exc:
            bind_errors(form, exc)
        else:
            messages.success(request, done)
            return redirect("care_poct_result", pk=row.pk)
    return _result_page(request, actor, row, given={name: form}, status=form.http_status())


@screen(methods=("POST",))
def poct_communicated(request: HttpRequest, pk: int) -> HttpResponse:
    return _act(
        request,
        pk,
        Cap.CARE_POCT,
        "told",
        CommunicatedForm,
        lambda a, r, v: services.poct_result_communicated(actor=a, result=r, at=v.get("at")),
        "Recorded: the result was given to the patient.",
    )


@screen(methods=("POST",))
def poct_review(request: HttpRequest, pk: int) -> HttpResponse:
    return _act(
        request,
        pk,
        Cap.CARE_INTERVENE,
        "review",
        ReviewForm,
        lambda a, r, v: services.poct_review(actor=a, result=r, note=v["note"]),
        "Result reviewed.",
    )


@screen(methods=("POST",))
def poct_entered_in_error(request: HttpRequest, pk: int) -> HttpResponse:
    return _act(
        request,
        pk,
        Cap.CARE_INTERVENE,
        "error",
        ErrorForm,
        lambda a, r, v: services.poct_mark_entered_in_error(actor=a, result=r, reason=v["reason"]),
        "Marked entered in error.",
    )


# --- Settings ---------------------------------------------------------------------------------


@screen(methods=FORM)
def care_settings(request: HttpRequest) -> HttpResponse:
    actor = actor_of(request)
    if request.method == "POST":
        require(actor, Cap.CARE_SETUP)
    row = queries.care_settings(actor=actor)
    may_edit = has(actor, Cap.CARE_SETUP)
    initial = {
        "poct_enabled": row.poct_enabled,
        "clia_certificate": row.clia_certificate,
        "clia_expires": row.clia_expires,
        "technicians_perform_poct": row.technicians_perform_poct,
        "poct_tests": list(row.poct_tests or []),
        "callback_hours": row.callback_hours,
    }
    form = SettingsForm(posted(request), initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.care_settings_set(actor=actor, **form.cleaned_data)
        except FIELD_ERRORS as exc:
            bind_errors(form, exc)
        else:
            messages.success(request, "The patient-care settings are saved.")
            return redirect("care_settings")
    if not may_edit:
        for field in form.fields.values():
            field.disabled = True
    context = {
        "form": form,
        "row": row,
        "may_edit": may_edit,
        "clia_problem": services.clia_problem(row, actor.site.today())
        if row.poct_enabled
        else None,
        "catalog": poct_tests.CATALOG,
    }
    return render(request, "care/settings.html", context, status=form.http_status())


urlpatterns: list[URLPattern] = [
    path("poct/", poct_log, name="care_poct"),
    path("poct/new/", poct_new, name="care_poct_new"),
    path("poct/<int:pk>/", poct_result, name="care_poct_result"),
    path("poct/<int:pk>/print/", poct_print, name="care_poct_print"),
    path("poct/<int:pk>/communicated/", poct_communicated, name="care_poct_communicated"),
    path("poct/<int:pk>/review/", poct_review, name="care_poct_review"),
    path("poct/<int:pk>/entered-in-error/", poct_entered_in_error, name="care_poct_error"),
    path("settings/", care_settings, name="care_settings"),
]
