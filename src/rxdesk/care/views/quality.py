"""Workstation screens of safety events, medication errors (NCC MERP), adverse drug event
reports (MedWatch 3500), root-cause analysis, action items, trends.

Report an event or an error from any page (``care_event_new``, ``care_error_new``: quick,
keyboard-first); the events list (open first, filters); one event with its error or
MedWatch report and its root-cause analysis (factors, actions with owners and due dates,
overdue marked) and the pharmacist's buttons; the MedWatch form (draft, submit, PDF); the
trends (aggregates, CSS bars); "my action items". Parse, call rxdesk.care services_quality /
queries_quality, render: each screen checks its capability first."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import URLPattern, path, reverse

from rxdesk.care import medwatch
from rxdesk.care import quality_rules as rules
from rxdesk.care import queries_quality as queries
from rxdesk.care import services_quality as services
from rxdesk.care.choices import (
    ActionStrength,
    AdeOutcome,
    ErrorType,
    FactorCategory,
    MerpCategory,
    SafetyEventKind,
    SafetyEventStatus,
    WorkflowStep,
)
from rxdesk.core.capabilities import Cap, has, require
from rxdesk.core.errors import NotFound
from rxdesk.core.forms import FIELD_ERRORS, MAX_ID, DateField, RxForm, bind_errors
from rxdesk.core.models import Site, User
from rxdesk.core.views import FORM, actor_of, posted, screen
from rxdesk.patients.models import Patient
from rxdesk.rx.models import Prescription

BLANK = [("", "—")]
OTHER_KINDS = [
    (k, label)
    for k, label in SafetyEventKind.choices
    if k not in (SafetyEventKind.MEDICATION_ERROR, SafetyEventKind.ADVERSE_DRUG_EVENT)
]
TIME_FORMATS = ["%H:%M", "%H%M", "%I:%M %p", "%I:%M%p"]
OUTCOME_CHOICES = [*AdeOutcome.choices, (rules.NON_SERIOUS, "None of these: not serious")]


def _time_field(label: str, required: bool = True) -> forms.TimeField:
    return forms.TimeField(
        label=label,
        required=required,
        input_formats=TIME_FORMATS,
        widget=forms.TimeInput(
            format="%H:%M", attrs={"placeholder": "HH:MM", "autocomplete": "off", "class": "time"}
        ),
        error_messages={"invalid": "Enter the time as HH:MM (24-hour)."},
    )


def _id_field(label: str, help_text: str = "") -> forms.IntegerField:
    return forms.IntegerField(
        label=label,
        required=False,
        min_value=1,
        max_value=MAX_ID,
        help_text=help_text,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
    )


def _moment(site: Site, day: dt.date | None, time: dt.time | None) -> dt.datetime | None:
    if day is None:
        return None
    return dt.datetime.combine(day, time or dt.time(0), tzinfo=site.tz)


def _now_initial(site: Site, prefix: str) -> dict[str, Any]:
    now = dt.datetime.now(tz=site.tz)
    return {
        f"{prefix}_on": now.date(),
        f"{prefix}_time": now.time().replace(second=0, microsecond=0),
    }


def _patient(site: Site, pk: int | None) -> Patient | None:
    if pk is None:
        return None
    row = Patient.objects.filter(pk=pk, site=site).first()
    if row is None:
        raise NotFound("No such patient at this pharmacy.", field="patient")
    return row


def _rx(site: Site, number: int | None, field: str = "rx_number") -> Prescription | None:
    if number is None:
        return None
    row = Prescription.objects.filter(site=site, number=number).select_related("patient").first()
    if row is None:
        raise NotFound(f"No prescription number {number} at this pharmacy.", field=field)
    return row


def _field_errors(form: RxForm, exc: Exception) -> bool:
    """Show a service's Invalid/Conflict beside the fields (and NotFound of a typed number);
    False for the errors the screen decorator answers (403)."""
    if isinstance(exc, NotFound) and exc.field:
        form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        form.error_status = 422
        return True
    if isinstance(exc, FIELD_ERRORS):
        bind_errors(form, exc)
        return True
    return False


# --- Forms ------------------------------------------------------------------------------------


class EventForm(RxForm):
    FIELDSETS = (
        ("What happened", ("kind", "title", "occurred_on", "occurred_time", "description")),
        ("If it was about medication", ("step", "error_type", "category", "patient")),
    )
    kind = forms.ChoiceField(choices=[("", "Choose…"), *OTHER_KINDS], label="Kind of event")
    title = forms.CharField(max_length=services.TITLE_MAX, label="Title")
    occurred_on = DateField(label="Date it happened")
    occurred_time = _time_field("Time")
    description = forms.CharField(
        max_length=services.TEXT_MAX,
        label="What happened (facts, no blame)",
        widget=forms.Textarea(attrs={"rows": 4}),
    )
    step = forms.ChoiceField(choices=BLANK + WorkflowStep.choices, required=False, label="Step")
    error_type = forms.ChoiceField(choices=BLANK + ErrorType.choices, required=False, label="Type")
    category = forms.ChoiceField(
        choices=BLANK + MerpCategory.choices[:2],
        required=False,
        label="NCC MERP category (near miss: A or B)",
    )
    patient = _id_field("Patient number", "From the patient's record; leave empty if none.")


class ErrorForm(RxForm):
    FIELDSETS = (
        ("The error", ("category", "step", "error_type", "caught_at_step")),
        ("Who", ("rx_number", "patient")),
        ("When", ("occurred_on", "occurred_time", "discovered_on", "discovered_time")),
        ("What happened", ("description", "immediate_action")),
        (
            "Follow-up",
            ("patient_notified", "prescriber_notified", "follow_up", "follow_up_due"),
        ),
    )
    category = forms.ChoiceField(
        choices=[("", "Choose…"), *MerpCategory.choices], label="NCC MERP category"
    )
    step = forms.ChoiceField(
        choices=[("", "Choose…"), *WorkflowStep.choices], label="Step where it happened"
    )
    error_type = forms.ChoiceField(choices=[("", "Choose…"), *ErrorType.choices], label="Type")
    caught_at_step = forms.ChoiceField(
        choices=[("", "Not caught (reached the patient)"), *WorkflowStep.choices],
        required=False,
        label="Where it was caught",
    )
    rx_number = _id_field("Rx number", "Scan or type the label's Rx number.")
    patient = _id_field("Patient number", "Needed for C–I when there is no Rx number.")
    occurred_on = DateField(label="Date it happened")
    occurred_time = _time_field("Time", required=False)
    discovered_on = DateField(label="Date found")
    discovered_time = _time_field("Time found")
    description = forms.CharField(
        max_length=services.TEXT_MAX,
        label="What happened (facts, no blame)",
        widget=forms.Textarea(attrs={"rows": 4}),
    )
    immediate_action = forms.CharField(
        max_length=services.TEXT_MAX,
        required=False,
        label="What was done right away",
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    patient_notified = forms.BooleanField(required=False, label="Patient told")
    prescriber_notified = forms.BooleanField(required=False, label="Prescriber notified")
    follow_up = forms.CharField(
        max_length=services.TEXT_MAX,
        required=False,
        label="Follow-up (needed for E–I)",
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    follow_up_due = DateField(required=False, label="Follow-up due")


class AdeForm(RxForm):
    FIELDSETS = (
        ("A. Patient", ("patient",)),
        (
            "B. The event",
            ("event_date", "outcomes", "death_date", "description", "tests_labs", "history"),
        ),
        ("D. Suspect product", ("suspect_rx", "suspect_name")),
        ("F. Other products", ("other_rx",)),
        ("G. Reporter", ("reporter_phone", "reporter_email")),
    )
    patient = _id_field("Patient number")
    event_date = DateField(label="B.3 Date of the event")
    outcomes = forms.MultipleChoiceField(
        choices=OUTCOME_CHOICES,
        required=False,
        label="B.2 Outcomes (check all that apply)",
        widget=forms.CheckboxSelectMultiple,
    )
    death_date = DateField(required=False, label="Date of death")
    description = forms.CharField(
        max_length=services.TEXT_MAX,
        label="B.5 Describe the event",
        widget=forms.Textarea(attrs={"rows": 4}),
    )
    tests_labs = forms.CharField(
        max_length=services.TEXT_MAX,
        required=False,
        label="B.6 Tests / laboratory data",
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    history = forms.CharField(
        max_length=services.TEXT_MAX,
        required=False,
        label="B.7 Other history (allergies, pregnancy, liver or kidney problems…)",
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    suspect_rx = _id_field("Rx number of the suspect drug", "Fills name, NDC, lot, dose.")
    suspect_name = forms.CharField(
        max_length=200, required=False, label="…or the product's name (not on file)"
    )
    other_rx = forms.CharField(
        max_length=200,
        required=False,
        label="Rx numbers of other drugs taken (comma-separated)",
    )
    reporter_phone = forms.CharField(max_length=20, required=False, label="G.1 Phone")
    reporter_email = forms.CharField(max_length=254, required=False, label="G.1 E-mail")

    def __init__(self, *args: Any, editing: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["patient"].required = not editing
        if editing:
            del self.fields["patient"]
            for name in ("suspect_rx", "suspect_name", "other_rx"):
                self.fields[name].help_text = "Replaces the products listed below when filled."


class NoteForm(RxForm):
    note = forms.CharField(max_length=services.TEXT_MAX, label="Note")


class RcaForm(RxForm):
    what_happened = forms.CharField(
        max_length=services.TEXT_MAX,
        label="What happened, step by step",
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    team = forms.CharField(max_length=300, required=False, label="Team")


class FactorForm(RxForm):
    category = forms.ChoiceField(choices=[("", "Choose…"), *FactorCategory.choices], label="Kind")
    description = forms.CharField(max_length=services.SHORT_MAX, label="Factor")


class ActionForm(RxForm):
    description = forms.CharField(max_length=services.SHORT_MAX, label="Action")
    strength = forms.ChoiceField(
        choices=[("", "Choose…"), *ActionStrength.choices], label="Strength"
    )
    owner = forms.TypedChoiceField(coerce=int, empty_value=None, label="Owner")
    due_on = DateField(label="Due")

    def __init__(self, *args: Any, staff: list[User], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["owner"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = [("", "Choose…")] + [(u.pk, u.display_name) for u in staff]


class CompleteRcaForm(RxForm):
    root_cause = forms.CharField(
        max_length=services.TEXT_MAX,
        label="Root cause",
        widget=forms.Textarea(attrs={"rows": 3}),
    )


class SubmitForm(RxForm):
    fda_reference = forms.CharField(
        max_length=40, required=False, label="MedWatch report number (if FDA gave one)"
    )


class FilterForm(RxForm):
    status = forms.ChoiceField(
        required=False,
        choices=[("", "Every status"), ("active", "Not closed"), *SafetyEventStatus.choices],
        label="Status",
    )
    kind = forms.ChoiceField(
        required=False, choices=[("", "Every kind"), *SafetyEventKind.choices], label="Kind"
    )
    step = forms.ChoiceField(
        required=False, choices=[("", "Every step"), *WorkflowStep.choices], label="Step"
    )
    category = forms.ChoiceField(
        required=False, choices=[("", "Every category"), *MerpCategory.choices], label="Category"
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["status"].widget.attrs.pop("autofocus", None)


class TrendForm(RxForm):
    start = DateField(required=False, label="From")
    end = DateField(required=False, label="To")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["start"].widget.attrs.pop("autofocus", None)


# --- Reporting --------------------------------------------------------------------------------


@screen(methods=FORM)
def event_new(request: HttpRequest) -> HttpResponse:
    """Report a safety event (a near miss, equipment, process, other)."""
    actor = actor_of(request)
    require(actor, Cap.CARE_EVENT)
    site = actor.site
    assert site is not None
    initial = {**_now_initial(site, "occurred"), "patient": request.GET.get("patient") or None}
    form = EventForm(posted(request), initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            event = services.safety_event_report(
                actor=actor,
                kind=data["kind"],
                title=data["title"],
                occurred_at=_moment(site, data["occurred_on"], data["occurred_time"]),  # type: ignore[arg-type]
                description=data["description"],
                step=data["step"],
                error_type=data["error_type"],
                category=data["category"],
                patient=_patient(site, data["patient"]),
            )
        except Exception as exc:
            if not _field_errors(form, exc):
                raise
        else:
            messages.success(request, f"Event {event.pk} reported. Thank you for reporting.")
            return redirect(_after_report(actor, event.pk))
    return render(
        request, "care/quality_event_form.html", {"form": form}, status=form.http_status()
    )


def _after_report(actor: User, event_id: int) -> str:
    if has(actor, Cap.CARE_VIEW) and has(actor, Cap.PATIENT_VIEW):
        return reverse("care_event", args=[event_id])
    return reverse("care_my_actions")


@screen(methods=FORM)
def error_new(request: HttpRequest) -> HttpResponse:
    """Report a medication error with its NCC MERP category and the step."""
    actor = actor_of(request)
    require(actor, Cap.CARE_EVENT)
    site = actor.site
    assert site is not None
    initial = {
        **_now_initial(site, "occurred"),
        **_now_initial(site, "discovered"),
        "rx_number": request.GET.get("rx") or None,
        "patient": request.GET.get("patient") or None,
    }
    form = ErrorForm(posted(request), initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            rx = _rx(site, data["rx_number"])
            error = services.medication_error_report(
                actor=actor,
                step=data["step"],
                error_type=data["error_type"],
                category=data["category"],
                description=data["description"],
                occurred_at=_moment(site, data["occurred_on"], data["occurred_time"]),  # type: ignore[arg-type]
                discovered_at=_moment(site, data["discovered_on"], data["discovered_time"]),  # type: ignore[arg-type]
                patient=_patient(site, data["patient"]),
                prescription=rx,
                caught_at_step=data["caught_at_step"],
                immediate_action=data["immediate_action"],
                patient_notified=data["patient_notified"],
                prescriber_notified=data["prescriber_notified"],
                follow_up=data["follow_up"],
                follow_up_due=data["follow_up_due"],
            )
        except Exception as exc:
            if not _field_errors(form, exc):
                raise
        else:
            messages.success(request, f"Medication error reported (event {error.safety_event_id}).")
            return redirect(_after_report(actor, error.safety_event_id))
    return render(
        request, "care/quality_error_form.html", {"form": form}, status=form.http_status()
    )


# --- Events -----------------------------------------------------------------------------------


@screen
def event_list(request: HttpRequest) -> HttpResponse:
    """The pharmacy's safety events, open first."""
    actor = actor_of(request)
    require(actor, Cap.CARE_VIEW)
    require(actor, Cap.PATIENT_VIEW)
    form = FilterForm(request.GET or None)
    values: dict[str, str] = {}
    if form.is_bound and form.is_valid():
        values = {k: v for k, v in form.cleaned_data.items() if v}
    rows = queries.events(
        actor=actor,
        kind=values.get("kind", ""),
        step=values.get("step", ""),
        category=values.get("category", ""),
        status=values.get("status", ""),
    )
    context = {
        "form": form,
        "rows": rows,
        "open_count": sum(1 for e in rows if e.status != SafetyEventStatus.CLOSED),
        "may_report": has(actor, Cap.CARE_EVENT),
        "may_trends": has(actor, Cap.CARE_QI_REPORT),
    }
    return render(request, "care/quality_event_list.html", context, status=form.http_status())


def _staff(site: Site) -> list[User]:
    return list(User.objects.filter(site=site, is_active=True).order_by("last_name", "username"))


def _detail(
    request: HttpRequest,
    actor: User,
    pk: int,
    *,
    forms_: dict[str, RxForm] | None = None,
    status: int = 200,
) -> HttpResponse:
    detail = queries.event_detail(actor=actor, pk=pk)
    site = detail.event.site
    qi = has(actor, Cap.CARE_QI)
    given = forms_ or {}
    actions = [
        {
            "item": a,
            "overdue": detail.overdue(a),
            "may_complete": a.status == "open" and services.may_complete(actor, a),
        }
        for a in detail.actions
    ]
    context = {
        "d": detail,
        "e": detail.event,
        "actions": actions,
        "qi": qi,
        "blockers": services.close_blockers(detail.event)
        if detail.event.status != SafetyEventStatus.CLOSED
        else [],
        "rca_form": given.get("rca") or RcaForm(),
        "factor_form": given.get("factor") or FactorForm(),
        "action_form": given.get("action") or ActionForm(staff=_staff(site)),
        "complete_form": given.get("complete") or CompleteRcaForm(),
        "close_form": given.get("close") or NoteForm(),
        "follow_up_form": given.get("follow_up") or NoteForm(),
        "drop_form": given.get("drop") or NoteForm(),
    }
    services.safety_event_opened(actor=actor, event=detail.event)
    return render(request, "care/quality_event_detail.html", context, status=status)


@screen
def event_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """One event with its error or MedWatch report and its root-cause analysis."""
    actor = actor_of(request)
    require(actor, Cap.CARE_VIEW)
    require(actor, Cap.PATIENT_VIEW)
    return _detail(request, actor, pk)


def _button(
    request: HttpRequest,
    pk: int,
    key: str,
    form: RxForm,
    call: Any,
    done: str,
) -> HttpResponse:
    """A pharmacist's button on the event page: the form, the service, back to the page (or
    the page again with the error beside the field)."""
    actor = actor_of(request)
    if form.is_valid():
        try:
            call(actor, form.cleaned_data)
        except Exception as exc:
            if not _field_errors(form, exc):
                raise
        else:
            messages.success(request, done)
            return redirect("care_event", pk=pk)
    return _detail(request, actor, pk, forms_={key: form}, status=form.http_status())


@screen(methods=("POST",))
def event_close(request: HttpRequest, pk: int) -> HttpResponse:
    actor = actor_of(request)
    require(actor, Cap.CARE_QI)
    event = queries.event_for_write(actor=actor, pk=pk)
    return _button(
        request,
        pk,
        "close",
        NoteForm(request.POST),
        lambda a, d: services.safety_event_close(actor=a, event=event, note=d["note"]),
        "Event closed.",
    )


@screen(methods=("POST",))
def rca_start(request: HttpRequest, pk: int) -> HttpResponse:
    actor = actor_of(request)
    require(actor, Cap.CARE_QI)
    event = queries.event_for_write(actor=actor, pk=pk)
    return _button(
        request,
        pk,
        "rca",
        RcaForm(request.POST),
        lambda a, d: services.rca_start(
            actor=a, event=event, what_happened=d["what_happened"], team=d["team"]
        ),
        "Root-cause analysis started.",
    )


@screen(methods=("POST",))
def rca_factor(request: HttpRequest, pk: int) -> HttpResponse:
    actor = actor_of(request)
    require(actor, Cap.CARE_QI)
    rca = queries.rca(actor=actor, pk=pk)
    return _button(
        request,
        rca.event_id,
        "factor",
        FactorForm(request.POST),
        lambda a, d: services.rca_factor_add(
            actor=a, rca=rca, category=d["category"], description=d["description"]
        ),
        "Contributing factor added.",
    )


@screen(methods=("POST",))
def rca_action(request: HttpRequest, pk: int) -> HttpResponse:
    actor = actor_of(request)
    require(actor, Cap.CARE_QI)
    rca = queries.rca(actor=actor, pk=pk)
    staff = _staff(rca.event.site)
    return _button(
        request,
        rca.event_id,
        "action",
        ActionForm(request.POST, staff=staff),
        lambda a, d: services.rca_action_add(
            actor=a,
            rca=rca,
            description=d["description"],
            strength=d["strength"],
            owner=next((u for u in staff if u.pk == d["owner"]), None),
            due_on=d["due_on"],
        ),
        "Action item added.",
    )


@screen(methods=("POST",))
def rca_complete(request: HttpRequest, pk: int) -> HttpResponse:
    actor = actor_of(request)
    require(actor, Cap.CARE_QI)
    rca = queries.rca(actor=actor, pk=pk)
    return _button(
        request,
        rca.event_id,
        "complete",
        CompleteRcaForm(request.POST),
        lambda a, d: services.rca_complete(actor=a, rca=rca, root_cause=d["root_cause"]),
        "Root-cause analysis complete.",
    )


@screen(methods=("POST",))
def error_follow_up(request: HttpRequest, pk: int) -> HttpResponse:
    actor = actor_of(request)
    require(actor, Cap.CARE_QI)
    error = queries.error_for_write(actor=actor, pk=pk)
    return _button(
        request,
        error.safety_event_id,
        "follow_up",
        NoteForm(request.POST),
        lambda a, d: services.medication_error_follow_up_done(actor=a, error=error, note=d["note"]),
        "Follow-up marked done.",
    )


def _back_to(request: HttpRequest, event_id: int) -> HttpResponse:
    if request.POST.get("back") == "mine":
        return redirect("care_my_actions")
    return redirect("care_event", pk=event_id)


@screen(methods=("POST",))
def action_complete(request: HttpRequest, pk: int) -> HttpResponse:
    """The owner (or a pharmacist) marks an action item done."""
    actor = actor_of(request)
    require(actor, Cap.CARE_EVENT)
    item = queries.action_item(actor=actor, pk=pk)
    note = request.POST.get("note", "")
    services.action_item_complete(actor=actor, item=item, note=note)
    messages.success(request, "Action item done.")
    return _back_to(request, item.rca.event_id)


@screen(methods=("POST",))
def action_drop(request: HttpRequest, pk: int) -> HttpResponse:
    actor = actor_of(request)
    require(actor, Cap.CARE_QI)
    item = queries.action_item(actor=actor, pk=pk)
    return _button(
        request,
        item.rca.event_id,
        "drop",
        NoteForm(request.POST),
        lambda a, d: services.action_item_drop(actor=a, item=item, note=d["note"]),
        "Action item dropped.",
    )


@screen
def my_actions(request: HttpRequest) -> HttpResponse:
    """The action items the signed-in person owns (any role that reports events)."""
    actor = actor_of(request)
    rows = queries.my_action_items(actor=actor, include_closed=request.GET.get("all") == "1")
    context = {
        "rows": rows,
        "overdue": sum(1 for r in rows if r.overdue),
        "all": request.GET.get("all") == "1",
        "may_view": has(actor, Cap.CARE_VIEW) and has(actor, Cap.PATIENT_VIEW),
    }
    return render(request, "care/quality_my_actions.html", context)


# --- MedWatch reports ---------------------------------------------------------------------------


def _products_from(site: Site, data: dict[str, Any], patient: Patient | None) -> list[Any] | None:
    """The products typed on the form (None when none were: keep what the report has)."""
    out: list[dict[str, Any]] = []
    suspect = _rx(site, data.get("suspect_rx"), "suspect_rx")
    if suspect is not None:
        out.append({"role": "suspect", "prescription": suspect})
    elif data.get("suspect_name"):
        out.append({"role": "suspect", "name": data["suspect_name"]})
    for piece in str(data.get("other_rx") or "").replace(";", ",").split(","):
        piece = piece.strip()
        if not piece:
            continue
        if not piece.isdigit() or len(piece) > 12:
            raise NotFound(f"{piece!r} is not an Rx number.", field="other_rx")
        rx = _rx(site, int(piece), "other_rx")
        out.append({"role": "concomitant", "prescription": rx})
    return out or None


def _report_fields(data: dict[str, Any]) -> dict[str, Any]:
    return {
        "outcomes": data["outcomes"],
        "death_date": data["death_date"],
        "tests_labs": data["tests_labs"],
        "history": data["history"],
        "reporter_phone": data["reporter_phone"],
        "reporter_email": data["reporter_email"],
    }


@screen(methods=FORM)
def ade_new(request: HttpRequest) -> HttpResponse:
    """Start a MedWatch report (a draft) for a patient."""
    actor = actor_of(request)
    require(actor, Cap.CARE_EVENT)
    site = actor.site
    assert site is not None
    form = AdeForm(
        posted(request),
        initial={"patient": request.GET.get("patient") or None, "event_date": site.today()},
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            patient = _patient(site, data["patient"])
            assert patient is not None
            fields = {k: v for k, v in _report_fields(data).items() if v not in ("", None)}
            fields.pop("outcomes", None)
            report = services.ade_report_create(
                actor=actor,
                patient=patient,
                event_date=data["event_date"],
                description=data["description"],
                outcomes=data["outcomes"],
                products=_products_from(site, data, patient) or [],
                **fields,
            )
        except Exception as exc:
            if not _field_errors(form, exc):
                raise
        else:
            messages.success(request, f"MedWatch report {report.pk} saved as a draft.")
            if has(actor, Cap.CARE_VIEW) and has(actor, Cap.PATIENT_VIEW):
                return redirect("care_ade", pk=report.pk)
            return redirect("care_my_actions")
    return render(
        request,
        "care/quality_ade_form.html",
        {"form": form, "report": None},
        status=form.http_status(),
    )


@screen(methods=FORM)
def ade_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """The report: its fields, what it still needs, the draft form, submit and PDF."""
    actor = actor_of(request)
    require(actor, Cap.CARE_VIEW)
    require(actor, Cap.PATIENT_VIEW)
    report = queries.ade_report(actor=actor, pk=pk)
    site = report.site
    draft = report.status == "draft"
    initial = {
        "event_date": report.event_date,
        "outcomes": report.outcomes,
        "death_date": report.death_date,
        "description": report.description,
        "tests_labs": report.tests_labs,
        "history": report.history,
        "reporter_phone": report.reporter_phone,
        "reporter_email": report.reporter_email,
    }
    form = AdeForm(posted(request), initial=initial, editing=True)
    status = 200
    if request.method == "POST":
        require(actor, Cap.CARE_EVENT)
        if form.is_valid():
            data = form.cleaned_data
            try:
                services.ade_report_update(
                    actor=actor,
                    report=report,
                    products=_products_from(site, data, report.patient),
                    event_date=data["event_date"],
                    description=data["description"],
                    **_report_fields(data),
                )
            except Exception as exc:
                if not _field_errors(form, exc):
                    raise
            else:
                messages.success(request, "Report saved.")
                return redirect("care_ade", pk=pk)
        status = form.http_status()
    else:
        services.ade_report_opened(actor=actor, report=report, output="screen")
    context = {
        "form": form,
        "report": report,
        "draft": draft,
        "products": list(report.products.select_related("prescription")),
        "missing": services.ade_report_missing(report) if draft else [],
        "submit_form": SubmitForm(),
        "may_submit": draft and has(actor, Cap.CARE_QI),
        "age": rules.age_words(report.age, report.age_unit),
        "outcome_labels": dict(OUTCOME_CHOICES),
    }
    return render(request, "care/quality_ade_detail.html", context, status=status)


@screen(methods=("POST",))
def ade_submit(request: HttpRequest, pk: int) -> HttpResponse:
    actor = actor_of(request)
    require(actor, Cap.CARE_QI)
    report = queries.report_for_write(actor=actor, pk=pk)
    form = SubmitForm(request.POST)
    if form.is_valid():
        try:
            services.ade_report_submit(
                actor=actor, report=report, fda_reference=form.cleaned_data["fda_reference"]
            )
        except Exception as exc:
            if not _field_errors(form, exc):
                raise
            return _ade_refused(request, actor, pk, form)
        messages.success(request, "Report marked submitted to FDA.")
    return redirect("care_ade", pk=pk)


def _ade_refused(
    request: HttpRequest, actor: User, pk: int, submit_form: SubmitForm
) -> HttpResponse:
    report = queries.ade_report(actor=actor, pk=pk)
    context = {
        "form": AdeForm(initial={}, editing=True),
        "report": report,
        "draft": report.status == "draft",
        "products": list(report.products.select_related("prescription")),
        "missing": services.ade_report_missing(report) if report.status == "draft" else [],
        "submit_form": submit_form,
        "may_submit": report.status == "draft" and has(actor, Cap.CARE_QI),
        "age": rules.age_words(report.age, report.age_unit),
        "outcome_labels": dict(OUTCOME_CHOICES),
    }
    return render(
        request, "care/quality_ade_detail.html", context, status=submit_form.http_status()
    )


@screen
def ade_pdf(request: HttpRequest, pk: int) -> HttpResponse:
    actor = actor_of(request)
    require(actor, Cap.CARE_VIEW)
    require(actor, Cap.PATIENT_VIEW)
    report = queries.ade_report(actor=actor, pk=pk)
    services.ade_report_opened(actor=actor, report=report, output="pdf")
    response = HttpResponse(medwatch.render(report), content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="medwatch-{report.pk}.pdf"'
    response["Cache-Control"] = "private, no-store"
    return response


# --- Trends -----------------------------------------------------------------------------------


@screen
def trends(request: HttpRequest) -> HttpResponse:
    """Counts by step and type, category, month; caught where; errors per 1,000 fills."""
    actor = actor_of(request)
    require(actor, Cap.CARE_QI_REPORT)
    site = actor.site
    assert site is not None
    start, end = queries.default_range(site)
    form = TrendForm(request.GET or None)
    if form.is_bound and form.is_valid():
        start = form.cleaned_data["start"] or start
        end = form.cleaned_data["end"] or end
    try:
        t = queries.trends(actor=actor, start=start, end=end)
    except Exception as exc:
        if not _field_errors(form, exc):
            raise
        start, end = queries.default_range(site)
        t = queries.trends(actor=actor, start=start, end=end)
    return render(
        request, "care/quality_trends.html", {"form": form, "t": t}, status=form.http_status()
    )


urlpatterns: list[URLPattern] = [
    path("events/", event_list, name="care_events"),
    path("events/new/", event_new, name="care_event_new"),
    path("events/<int:pk>/", event_detail, name="care_event"),
    path("events/<int:pk>/close/", event_close, name="care_event_close"),
    path("events/<int:pk>/rca/", rca_start, name="care_rca_start"),
    path("errors/new/", error_new, name="care_error_new"),
    path("errors/<int:pk>/follow-up-done/", error_follow_up, name="care_error_follow_up"),
    path("rca/<int:pk>/factors/", rca_factor, name="care_rca_factor"),
    path("rca/<int:pk>/actions/", rca_action, name="care_rca_action"),
    path("rca/<int:pk>/complete/", rca_complete, name="care_rca_complete"),
    path("actions/mine/", my_actions, name="care_my_actions"),
    path("actions/<int:pk>/done/", action_complete, name="care_action_complete"),
    path("actions/<int:pk>/drop/", action_drop, name="care_action_drop"),
    path("adverse-events/new/", ade_new, name="care_ade_new"),
    path("adverse-events/<int:pk>/", ade_detail, name="care_ade"),
    path("adverse-events/<int:pk>/submit/", ade_submit, name="care_ade_submit"),
    path("adverse-events/<int:pk>/pdf/", ade_pdf, name="care_ade_pdf"),
    path("trends/", trends, name="care_trends"),
]
