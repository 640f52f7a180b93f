"""Workstation screens of counseling records and clinical interventions: the counseling log
(a day, or one patient: offered, accepted, by whom, topics), the counseling form (topic
check boxes each with its key), the interventions (open first), the intervention form,
one intervention with its close form, and the report by problem and outcome (CSV too).
Parse, call rxdesk.care services_counsel / queries_counsel, render."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import URLPattern, path

from rxdesk.care import queries_counsel as queries
from rxdesk.care import services_counsel as services
from rxdesk.care.choices import (
    CounselingMethod,
    CounselingOutcome,
    CounselingTopic,
    InterventionProblem,
    InterventionStatus,
)
from rxdesk.core.capabilities import Cap, has, require
from rxdesk.core.choices import PHARMACIST_ROLES
from rxdesk.core.errors import DomainError, Invalid
from rxdesk.core.forms import MAX_ID, DateField, RxForm, bind_errors
from rxdesk.core.models import Site, User
from rxdesk.core.views import FORM, actor_of, screen
from rxdesk.patients.models import Patient, Prescriber
from rxdesk.rx.models import Prescription
from rxdesk.screening.services import PROFESSIONAL_SERVICE, RESULT_OF_SERVICE

POST = ("POST",)
# Keys of the topic check boxes, in the order of CounselingTopic.
TOPIC_KEYS = "1234567890-="


def _patient_field() -> forms.IntegerField:
    return forms.IntegerField(
        min_value=1,
        max_value=MAX_ID,
        label="Patient number",
        widget=forms.NumberInput(attrs={"autocomplete": "off", "inputmode": "numeric"}),
    )


def _rx_field() -> forms.IntegerField:
    return forms.IntegerField(
        min_value=1,
        max_value=2**31 - 1,
        required=False,
        label="Rx number (if about one prescription)",
        widget=forms.NumberInput(attrs={"autocomplete": "off", "inputmode": "numeric"}),
    )


def _lookup(actor: User, data: dict[str, Any]) -> tuple[Patient, Prescription | None]:
    """The patient and prescription typed (numbers), of this pharmacy, or Invalid."""
    patient = Patient.objects.filter(pk=data["patient"], site_id=actor.site_id).first()
    if patient is None:
        raise Invalid("No such patient at this pharmacy.", field="patient")
    rx = None
    if data.get("rx_number"):
        rx = Prescription.objects.filter(site_id=actor.site_id, number=data["rx_number"]).first()
        if rx is None or rx.patient_id != patient.pk:
            raise Invalid("No such prescription of this patient.", field="rx_number")
    return patient, rx


def _pharmacists(site: Site) -> list[User]:
    return list(
        User.objects.filter(site=site, role__in=PHARMACIST_ROLES, is_active=True).order_by(
            "last_name", "username"
        )
    )


# --- Forms ------------------------------------------------------------------------------------


class LogForm(RxForm):
    day = DateField(required=False, label="Day")
    patient = forms.IntegerField(
        min_value=1, max_value=MAX_ID, required=False, label="Patient number"
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["day"].widget.attrs.pop("autofocus", None)


class CounselingForm(RxForm):
    FIELDSETS = (
        ("Who and what", ("patient", "rx_number", "outcome")),
        ("Counseling (accepted)", ("counseled_by", "method", "minutes", "interpreter")),
        ("", ("note",)),
    )
    SEPARATE = ("topics",)
    patient = _patient_field()
    rx_number = _rx_field()
    outcome = forms.ChoiceField(
        choices=CounselingOutcome.choices, widget=forms.RadioSelect, label="The patient"
    )
    counseled_by = forms.TypedChoiceField(
        coerce=int, required=False, empty_value=None, label="Pharmacist who counseled"
    )
    method = forms.ChoiceField(choices=[("", "—"), *CounselingMethod.choices], required=False)
    topics = forms.MultipleChoiceField(
        choices=CounselingTopic.choices, required=False, widget=forms.CheckboxSelectMultiple
    )
    minutes = forms.IntegerField(min_value=0, max_value=services.MINUTES_MAX, required=False)
    interpreter = forms.CharField(
        max_length=services.INTERPRETER_MAX, required=False, label="Interpreter / language"
    )
    note = forms.CharField(
        max_length=services.NOTE_MAX, required=False, widget=forms.Textarea(attrs={"rows": 2})
    )

    def __init__(self, *args: Any, pharmacists: list[User], actor: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["counseled_by"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = [("", "—")] + [(u.pk, u.display_name) for u in pharmacists]
        if actor.role in PHARMACIST_ROLES and not self.is_bound:
            self.initial.setdefault("counseled_by", actor.pk)

    def topic_boxes(self) -> list[tuple[str, Any]]:
        return list(zip(TOPIC_KEYS, self["topics"], strict=False))


class InterventionForm(RxForm):
    FIELDSETS = (
        ("Patient", ("patient", "rx_number")),
        ("Problem", ("problem", "problem_detail")),
        ("What you did", ("action", "action_detail", "prescriber", "contacted_at")),
        ("Outcome (leave empty to keep it open)", ("outcome", "outcome_detail", "minutes")),
    )
    patient = _patient_field()
    rx_number = _rx_field()
    problem = forms.ChoiceField(choices=[("", "Choose…"), *InterventionProblem.choices])
    problem_detail = forms.CharField(
        max_length=services.DETAIL_MAX, widget=forms.Textarea(attrs={"rows": 2})
    )
    action = forms.ChoiceField(
        choices=[("", "Choose…")] + [(k, f"{k} {v}") for k, v in PROFESSIONAL_SERVICE.items()]
    )
    action_detail = forms.CharField(max_length=services.DETAIL_MAX, required=False)
    prescriber = forms.TypedChoiceField(
        coerce=int, required=False, empty_value=None, label="Prescriber contacted"
    )
    contacted_at = forms.DateTimeField(
        required=False,
        label="Contacted at (MM/DD/YYYY HH:MM)",
        input_formats=["%m/%d/%Y %H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M"],
    )
    outcome = forms.ChoiceField(
        required=False,
        choices=[("", "— still open —")]
        + [(k, f"{k} {v}") for k, v in RESULT_OF_SERVICE.items() if k != "00"],
    )
    outcome_detail = forms.CharField(max_length=services.DETAIL_MAX, required=False)
    minutes = forms.IntegerField(min_value=0, max_value=services.MINUTES_MAX, initial=0)

    def __init__(self, *args: Any, prescribers: list[Prescriber], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["prescriber"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = [("", "—")] + [
            (p.pk, f"{p.last_name}, {p.first_name} (NPI {p.npi})") for p in prescribers
        ]


class CloseForm(RxForm):
    outcome = forms.ChoiceField(
        choices=[("", "Choose…")]
        + [(k, f"{k} {v}") for k, v in RESULT_OF_SERVICE.items() if k != "00"]
    )
    outcome_detail = forms.CharField(max_length=services.DETAIL_MAX, required=False)
    minutes = forms.IntegerField(
        min_value=0, max_value=services.MINUTES_MAX, required=False, label="Total minutes spent"
    )


class ReportForm(RxForm):
    start = DateField(required=False, label="From")
    end = DateField(required=False, label="To")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["start"].widget.attrs.pop("autofocus", None)


# --- Counseling -------------------------------------------------------------------------------


@screen
def counseling_log(request: HttpRequest) -> HttpResponse:
    actor = actor_of(request)
    require(actor, Cap.CARE_VIEW)
    form = LogForm(request.GET or None)
    day: dt.date | None = None
    patient_id: int | None = None
    if form.is_bound and form.is_valid():
        day = form.cleaned_data["day"]
        patient_id = form.cleaned_data["patient"]
    rows = list(queries.counseling_log(actor=actor, day=day, patient_id=patient_id))
    patient = (
        Patient.objects.filter(pk=patient_id, site_id=actor.site_id).first() if patient_id else None
    )
    return render(
        request,
        "care/counsel_log.html",
        {
            "form": form,
            "rows": [(r, queries.topic_labels(r.topics)) for r in rows],
            "counts": queries.counseling_counts(rows),
            "day": day or (actor.site.today() if patient_id is None else None),
            "patient": patient,
            "may_record": has(actor, Cap.CARE_COUNSEL),
        },
        status=form.http_status(),
    )


@screen(methods=FORM)
def counseling_new(request: HttpRequest) -> HttpResponse:
    actor = actor_of(request)
    require(actor, Cap.CARE_COUNSEL)
    pharmacists = _pharmacists(actor.site)
    initial: dict[str, Any] = {}
    if request.method != "POST":
        for key in ("patient", "rx_number"):
            if request.GET.get(key, "").isdigit():
                initial[key] = int(request.GET[key])
    form = CounselingForm(
        request.POST if request.method == "POST" else None,
        initial=initial,
        pharmacists=pharmacists,
        actor=actor,
    )
    if form.is_bound and form.is_valid():
        data = form.cleaned_data
        counselor = next((u for u in pharmacists if u.pk == data["counseled_by"]), None)
        try:
            patient, rx = _lookup(actor, data)
            services.counseling_record(
                actor=actor,
                patient=patient,
                prescription=rx,
                outcome=data["outcome"],
                counseled_by=counselor,
                method=data["method"],
                topics=data["topics"],
                minutes=data["minutes"],
                interpreter=data["interpreter"],
                note=data["note"],
            )
        except DomainError as exc:
            if exc.status == 403:
                raise
            bind_errors(form, exc)
        else:
            messages.success(request, "Counseling recorded.")
            return redirect("care_counseling")
    return render(request, "care/counsel_form.html", {"form": form}, status=form.http_status())


# --- Interventions ----------------------------------------------------------------------------


@screen
def intervention_list(request: HttpRequest) -> HttpResponse:
    actor = actor_of(request)
    rows = list(queries.interventions(actor=actor))
    return render(
        request,
        "care/intervention_list.html",
        {
            "rows": [
                (i, queries.action_label(i.action), queries.outcome_label(i.outcome)) for i in rows
            ],
            "open_count": sum(1 for i in rows if i.status == InterventionStatus.OPEN),
            "may_intervene": has(actor, Cap.CARE_INTERVENE),
        },
    )


@screen(methods=FORM)
def intervention_new(request: HttpRequest) -> HttpResponse:
    actor = actor_of(request)
    require(actor, Cap.CARE_INTERVENE)
    prescribers = list(Prescriber.objects.filter(site_id=actor.site_id).order_by("last_name"))
    initial: dict[str, Any] = {}
    if request.method != "POST":
        for key in ("patient", "rx_number"):
            if request.GET.get(key, "").isdigit():
                initial[key] = int(request.GET[key])
    form = InterventionForm(
        request.POST if request.method == "POST" else None,
        initial=initial,
        prescribers=prescribers,
    )
    if form.is_bound and form.is_valid():
        data = form.cleaned_data
        prescriber = next((p for p in prescribers if p.pk == data["prescriber"]), None)
        contacted = data["contacted_at"]
        if contacted is not None:
            contacted = contacted.replace(tzinfo=None).replace(tzinfo=actor.site.tz)
        try:
            patient, rx = _lookup(actor, data)
            row = services.intervention_record(
                actor=actor,
                patient=patient,
                prescription=rx,
                problem=data["problem"],
                problem_detail=data["problem_detail"],
                action=data["action"],
                action_detail=data["action_detail"],
                prescriber=prescriber,
                prescriber_contacted_at=contacted,
                outcome=data["outcome"],
                outcome_detail=data["outcome_detail"],
                minutes=data["minutes"],
            )
        except DomainError as exc:
            if exc.status == 403:
                raise
            if exc.field == "prescriber_contacted_at":
                exc = Invalid(exc.message, field="contacted_at")
            bind_errors(form, exc)
        else:
            messages.success(request, "Intervention recorded.")
            return redirect("care_intervention", pk=row.pk)
    return render(request, "care/intervention_form.html", {"form": form}, status=form.http_status())


def _intervention_page(
    request: HttpRequest, actor: User, pk: int, form: CloseForm | None = None, status: int = 200
) -> HttpResponse:
    row = queries.intervention_get(actor=actor, intervention_id=pk)
    if status == 200:
        services.intervention_opened(actor=actor, intervention=row, view="screen")
    return render(
        request,
        "care/intervention_detail.html",
        {
            "i": row,
            "patient": row.patient,
            "action_label": queries.action_label(row.action),
            "outcome_label": queries.outcome_label(row.outcome),
            "form": form or CloseForm(),
            "may_close": has(actor, Cap.CARE_INTERVENE) and row.status == InterventionStatus.OPEN,
        },
        status=status,
    )


@screen
def intervention_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _intervention_page(request, actor_of(request), pk)


@screen(methods=POST)
def intervention_close(request: HttpRequest, pk: int) -> HttpResponse:
    actor = actor_of(request)
    require(actor, Cap.CARE_INTERVENE)
    row = queries.intervention_get(actor=actor, intervention_id=pk)
    form = CloseForm(request.POST)
    if not form.is_valid():
        return _intervention_page(request, actor, pk, form, status=422)
    try:
        services.intervention_close(
            actor=actor,
            intervention=row,
            outcome=form.cleaned_data["outcome"],
            outcome_detail=form.cleaned_data["outcome_detail"],
            minutes=form.cleaned_data["minutes"],
        )
    except DomainError as exc:
        if exc.status in (403, 404):
            raise
        bind_errors(form, exc)
        return _intervention_page(request, actor, pk, form, status=exc.status)
    messages.success(request, "Intervention closed.")
    return redirect("care_intervention", pk=pk)


@screen
def intervention_report(request: HttpRequest) -> HttpResponse:
    actor = actor_of(request)
    require(actor, Cap.CARE_INTERVENE)
    form = ReportForm(request.GET or None)
    today = actor.site.today()
    start, end = today - dt.timedelta(days=30), today
    if form.is_bound and form.is_valid():
        end = form.cleaned_data["end"] or end
        start = form.cleaned_data["start"] or end - dt.timedelta(days=30)
    try:
        report = queries.intervention_report(actor=actor, start=start, end=end)
    except Invalid as exc:
        bind_errors(form, exc)
        report = queries.intervention_report(actor=actor, start=today, end=today)
    if request.GET.get("format") == "csv" and not form.errors:
        response = HttpResponse(queries.report_csv(report), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = (
            f'attachment; filename="interventions-{start:%Y%m%d}-{end:%Y%m%d}.csv"'
        )
        response["Cache-Control"] = "private, no-store"
        return response
    return render(
        request,
        "care/intervention_report.html",
        {"form": form, "report": report, "query": request.GET.urlencode()},
        status=form.http_status(),
    )


urlpatterns: list[URLPattern] = [
    path("counseling/", counseling_log, name="care_counseling"),
    path("counseling/new/", counseling_new, name="care_counseling_new"),
    path("interventions/", intervention_list, name="care_interventions"),
    path("interventions/new/", intervention_new, name="care_intervention_new"),
    path("interventions/report/", intervention_report, name="care_interventions_report"),
    path("interventions/<int:pk>/", intervention_detail, name="care_intervention"),
    path("interventions/<int:pk>/close/", intervention_close, name="care_intervention_close"),
]
