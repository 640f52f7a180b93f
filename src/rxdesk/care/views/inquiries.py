"""Workstation screens of inquiries: calls and messages with prescribers and patients,
callbacks, escalation. Parse, call rxdesk.care services_inquiries / queries_inquiries,
render: the services decide; each screen checks its capability first.

- ``care_inquiries``: the queue (overdue callbacks first, in red; escalated to me; open;
  waiting), its counts, and a quick "log a call" form;
- ``care_inquiry_new``: log a call or message (find the patient, or scan the Rx label);
- ``care_inquiry``: one inquiry with its log and what can be done next (a PHI access
  when it names a patient)."""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import URLPattern, path
from django.utils import timezone

from rxdesk.care import queries_inquiries as queries
from rxdesk.care import services_inquiries as services
from rxdesk.care.choices import InquiryChannel, InquiryParty, InquiryStatus, InquiryTopic
from rxdesk.care.models import Inquiry
from rxdesk.core.capabilities import Cap, has, require
from rxdesk.core.choices import PHARMACIST_ROLES
from rxdesk.core.errors import DomainError
from rxdesk.core.forms import (
    DATE_INPUT_FORMATS,
    FIELD_ERRORS,
    MAX_ID,
    RxForm,
    bind_errors,
    choice,
    text,
)
from rxdesk.core.models import User
from rxdesk.core.views import FORM, actor_of, posted, screen
from rxdesk.patients import queries as patient_queries
from rxdesk.patients.models import Patient, Prescriber
from rxdesk.rx.models import Prescription

DATETIME_INPUT_FORMATS = [f"{d} %H:%M" for d in DATE_INPUT_FORMATS]
DIRECTIONS = [("in", "They contacted us"), ("out", "We contacted them")]
NOTE_CHOICES = [("call_out", "We called"), ("call_in", "They called"), ("note", "Note")]


def _datetime_field(label: str, *, required: bool = False) -> forms.DateTimeField:
    return forms.DateTimeField(
        required=required,
        input_formats=DATETIME_INPUT_FORMATS,
        label=label,
        widget=forms.DateTimeInput(
            format="%m/%d/%Y %H:%M",
            attrs={"autocomplete": "off", "placeholder": "MM/DD/YYYY HH:MM", "class": "datetime"},
        ),
    )


def _area(rows: int = 3, **attrs: Any) -> forms.Textarea:
    return forms.Textarea(attrs={"rows": rows, **attrs})


# --- Forms ------------------------------------------------------------------------------------


class InquiryForm(RxForm):
    FIELDSETS = (
        ("The call or message", ("direction", "channel", "party", "topic")),
        ("Who and what", ("rx_number", "prescriber_npi", "contact_name", "contact_phone")),
        ("What was said", ("summary", "callback_due")),
    )
    direction = choice(DIRECTIONS, label="Direction")
    channel = choice(InquiryChannel.choices, label="How")
    party = choice(InquiryParty.choices, label="With")
    topic = choice(InquiryTopic.choices, label="About")
    rx_number = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=2**31 - 1,
        label="Rx number (scan the label)",
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
    )
    prescriber_npi = text(10, label="Prescriber NPI", inputmode="numeric", autocomplete="off")
    contact_name = text(services.NAME_MAX, label="Contact name (office staff, caregiver)")
    contact_phone = text(20, label="Call-back number", inputmode="tel", autocomplete="off")
    summary = forms.CharField(
        max_length=services.SUMMARY_MAX, label="What was said or asked", widget=_area(3)
    )
    callback_due = _datetime_field("Call back by (blank: the usual time for a call in)")
    patient = forms.IntegerField(
        required=False, min_value=1, max_value=MAX_ID, widget=forms.HiddenInput
    )
    prescriber = forms.IntegerField(
        required=False, min_value=1, max_value=MAX_ID, widget=forms.HiddenInput
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["direction"].widget.attrs.pop("autofocus", None)
        self.fields["summary"].widget.attrs["autofocus"] = True


class NoteForm(RxForm):
    kind = choice(NOTE_CHOICES, label="Entry")
    text = forms.CharField(max_length=services.TEXT_MAX, label="What was said", widget=_area(2))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("prefix", "note")
        super().__init__(*args, **kwargs)
        self.fields["kind"].widget.attrs.pop("autofocus", None)


class CallbackForm(RxForm):
    due = _datetime_field("Call back by", required=True)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("prefix", "cb")
        super().__init__(*args, **kwargs)
        self.fields["due"].widget.attrs.pop("autofocus", None)


class EscalateForm(RxForm):
    pharmacist = forms.TypedChoiceField(coerce=int, required=False, empty_value=None, label="To")
    reason = forms.CharField(
        max_length=services.TEXT_MAX, label="Why the pharmacist is needed", widget=_area(2)
    )

    def __init__(self, *args: Any, pharmacists: list[User], **kwargs: Any) -> None:
        kwargs.setdefault("prefix", "esc")
        super().__init__(*args, **kwargs)
        self.fields["pharmacist"].widget.attrs.pop("autofocus", None)
        cast(forms.ChoiceField, self.fields["pharmacist"]).choices = [
            ("", "Any pharmacist on duty")
        ] + [(p.pk, p.display_name) for p in pharmacists]


class AnswerForm(RxForm):
    text = forms.CharField(max_length=services.TEXT_MAX, label="Your answer", widget=_area(3))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("prefix", "ans")
        super().__init__(*args, **kwargs)
        self.fields["text"].widget.attrs.pop("autofocus", None)


class CloseForm(RxForm):
    resolution = forms.CharField(
        max_length=services.TEXT_MAX, label="How it was resolved", widget=_area(2)
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("prefix", "close")
        super().__init__(*args, **kwargs)
        self.fields["resolution"].widget.attrs.pop("autofocus", None)


class ReopenForm(RxForm):
    reason = text(services.TEXT_MAX, required=True, label="Why it is reopened")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("prefix", "reopen")
        super().__init__(*args, **kwargs)


# --- Helpers ----------------------------------------------------------------------------------


def _bind(form: RxForm, exc: DomainError, rename: dict[str, str] | None = None) -> None:
    """Show the service's error beside the form field that was typed (the service names the
    row it refused: prescription → the Rx number typed, …)."""
    rename = rename or {}
    if exc.field in rename:
        exc.field = rename[exc.field]
    errors = exc.errors
    for error in errors:
        if error.get("field") in rename:
            error["field"] = rename[error["field"]]
    bind_errors(form, exc)


def _row(model: Any, actor: User, value: Any) -> Any:
    if not value:
        return None
    return model._default_manager.filter(pk=value, site_id=actor.site_id).first()


def _pharmacists(actor: User) -> list[User]:
    staff = User.objects.filter(
        site_id=actor.site_id, is_active=True, role__in=list(PHARMACIST_ROLES)
    ).order_by("last_name", "first_name", "username")
    return [p for p in staff if not p.credential_problem()]


# --- The queue --------------------------------------------------------------------------------


@screen
def inquiry_queue(request: HttpRequest) -> HttpResponse:
    actor = actor_of(request)
    q = queries.queue(actor=actor)
    for row in (*q.overdue, *q.escalated, *q.open, *q.waiting):
        row.words = queries.due_words(row.callback_due, q.now)  # type: ignore[attr-defined]
    context = {
        "q": q,
        "now": q.now,
        "may_log": has(actor, Cap.CARE_INQUIRY),
        "is_pharmacist": has(actor, Cap.CARE_INTERVENE),
        "form": InquiryForm(initial={"direction": "in", "channel": InquiryChannel.PHONE}),
    }
    return render(request, "care/inquiry_queue.html", context)


def _new_page(
    request: HttpRequest,
    actor: User,
    form: InquiryForm,
    *,
    patient: Patient | None,
    prescriber: Prescriber | None,
    status: int = 200,
) -> HttpResponse:
    q = (request.GET.get("q") or "").strip()[:100]
    found: list[Patient] = []
    search_error = ""
    if request.method != "POST" and patient is None and q:
        try:
            found = list(patient_queries.patient_search(actor=actor, q=q, limit=15))
        except FIELD_ERRORS as exc:
            search_error = exc.message
    context = {
        "form": form,
        "patient": patient,
        "prescriber": prescriber,
        "q": q,
        "found": found,
        "search_error": search_error,
    }
    return render(request, "care/inquiry_new.html", context, status=status)


@screen(methods=FORM)
def inquiry_new(request: HttpRequest) -> HttpResponse:
    """Log a call or message: the patient comes from the patient's page or a search (or
    from the Rx number scanned), the prescriber from the prescriber's page or the NPI."""
    actor = actor_of(request)
    require(actor, Cap.CARE_INQUIRY)
    data = posted(request)
    source = data if data is not None else request.GET
    patient = _row(
        Patient, actor, source.get("patient") if str(source.get("patient", "")).isdigit() else None
    )
    prescriber = _row(
        Prescriber,
        actor,
        source.get("prescriber") if str(source.get("prescriber", "")).isdigit() else None,
    )
    initial = {
        "direction": "in",
        "channel": InquiryChannel.PHONE,
        "party": InquiryParty.PATIENT if patient else InquiryParty.PRESCRIBER,
        "patient": patient.pk if patient else None,
        "prescriber": prescriber.pk if prescriber else None,
    }
    form = InquiryForm(data, initial=initial)
    if data is None or not form.is_valid():
        return _new_page(
            request, actor, form, patient=patient, prescriber=prescriber, status=form.http_status()
        )
    values = form.cleaned_data
    prescription = None
    if values.get("rx_number"):
        prescription = Prescription.objects.filter(
            site_id=actor.site_id, number=values["rx_number"]
        ).first()
        if prescription is None:
            form.add_error("rx_number", "No prescription with that number here.")
    npi = (values.get("prescriber_npi") or "").strip()
    if npi and prescriber is None:
        prescriber = Prescriber.objects.filter(site_id=actor.site_id, npi=npi).first()
        if prescriber is None:
            form.add_error("prescriber_npi", "No prescriber with that NPI in the prescriber file.")
    if not form.errors:
        try:
            inquiry = services.inquiry_open(
                actor=actor,
                channel=values["channel"],
                incoming=values["direction"] == "in",
                party=values["party"],
                topic=values["topic"],
                summary=values["summary"],
                patient=patient,
                prescriber=prescriber,
                prescription=prescription,
                contact_name=values["contact_name"],
                contact_phone=values["contact_phone"],
                callback_due=values.get("callback_due"),
            )
        except FIELD_ERRORS as exc:
            rename = {"prescription": "rx_number", "prescriber": "prescriber_npi"}
            if exc.field == "patient":
                rename["patient"] = "__all__"
            _bind(form, exc, rename)
        else:
            due = (
                f" Call back by {timezone.localtime(inquiry.callback_due):%m/%d %H:%M}."
                if inquiry.callback_due
                else ""
            )
            messages.success(request, f"Inquiry {inquiry.pk} logged.{due}")
            if request.POST.get("then") == "queue":
                return redirect("care_inquiries")
            return redirect("care_inquiry", pk=inquiry.pk)
    return _new_page(
        request, actor, form, patient=patient, prescriber=prescriber, status=form.http_status()
    )


# --- One inquiry ------------------------------------------------------------------------------


def _detail_page(
    request: HttpRequest,
    actor: User,
    inquiry: Inquiry,
    *,
    forms_given: dict[str, RxForm] | None = None,
    status: int = 200,
) -> HttpResponse:
    row = queries.inquiry_get(actor=actor, inquiry_id=inquiry.pk)
    now = timezone.now()
    given = forms_given or {}
    pharmacists = _pharmacists(actor)
    context = {
        "i": row,
        "entries": queries.entries_of(row),
        "now": now,
        "overdue": queries.is_overdue(row, now),
        "due_words": queries.due_words(row.callback_due, now),
        "closed": row.status == InquiryStatus.CLOSED,
        "may_log": has(actor, Cap.CARE_INQUIRY),
        "is_pharmacist": has(actor, Cap.CARE_INTERVENE),
        "pharmacist_closes": services.needs_pharmacist_to_close(row),
        "note_form": given.get("note") or NoteForm(initial={"kind": "call_out"}),
        "callback_form": given.get("callback") or CallbackForm(),
        "escalate_form": given.get("escalate") or EscalateForm(pharmacists=pharmacists),
        "answer_form": given.get("answer") or AnswerForm(),
        "close_form": given.get("close") or CloseForm(),
        "reopen_form": given.get("reopen") or ReopenForm(),
    }
    return render(request, "care/inquiry_detail.html", context, status=status)


@screen
def inquiry_detail(request: HttpRequest, pk: int) -> HttpResponse:
    actor = actor_of(request)
    inquiry = queries.inquiry_get(actor=actor, inquiry_id=pk)
    services.inquiry_viewed(actor=actor, inquiry=inquiry)
    return _detail_page(request, actor, inquiry)


def _act(
    request: HttpRequest,
    pk: int,
    cap: Cap,
    name: str,
    make: Any,
    run: Any,
    done: str,
) -> HttpResponse:
    """A button on the inquiry page: parse its form, call the service, back to the page (or
    the page again with the error beside the field)."""
    actor = actor_of(request)
    require(actor, cap)
    inquiry = queries.inquiry_get(actor=actor, inquiry_id=pk)
    form = make(request.POST)
    if form.is_valid():
        try:
            run(actor, inquiry, form.cleaned_data)
        except FIELD_ERRORS as exc:
            bind_errors(form, exc)
        else:
            messages.success(request, done)
            return redirect("care_inquiry", pk=inquiry.pk)
    return _detail_page(
        request, actor, inquiry, forms_given={name: form}, status=form.http_status()
    )


@screen(methods=("POST",))
def inquiry_note(request: HttpRequest, pk: int) -> HttpResponse:
    return _act(
        request,
        pk,
        Cap.CARE_INQUIRY,
        "note",
        NoteForm,
        lambda a, i, v: services.inquiry_note(actor=a, inquiry=i, kind=v["kind"], text=v["text"]),
        "Added to the log.",
    )


@screen(methods=("POST",))
def inquiry_callback(request: HttpRequest, pk: int) -> HttpResponse:
    return _act(
        request,
        pk,
        Cap.CARE_INQUIRY,
        "callback",
        CallbackForm,
        lambda a, i, v: services.inquiry_callback(actor=a, inquiry=i, due=v["due"]),
        "Callback scheduled.",
    )


@screen(methods=("POST",))
def inquiry_escalate(request: HttpRequest, pk: int) -> HttpResponse:
    actor = actor_of(request)
    pharmacists = _pharmacists(actor)

    def make(data: Any) -> EscalateForm:
        return EscalateForm(data, pharmacists=pharmacists)

    def run(a: User, i: Inquiry, v: dict[str, Any]) -> None:
        to = next((p for p in pharmacists if p.pk == v.get("pharmacist")), None)
        services.inquiry_escalate(actor=a, inquiry=i, reason=v["reason"], pharmacist=to)

    return _act(request, pk, Cap.CARE_INQUIRY, "escalate", make, run, "Sent to the pharmacist.")


@screen(methods=("POST",))
def inquiry_answer(request: HttpRequest, pk: int) -> HttpResponse:
    return _act(
        request,
        pk,
        Cap.CARE_INTERVENE,
        "answer",
        AnswerForm,
        lambda a, i, v: services.inquiry_answer(actor=a, inquiry=i, text=v["text"]),
        "Your answer is in the log.",
    )


@screen(methods=("POST",))
def inquiry_close(request: HttpRequest, pk: int) -> HttpResponse:
    return _act(
        request,
        pk,
        Cap.CARE_INQUIRY,
        "close",
        CloseForm,
        lambda a, i, v: services.inquiry_close(actor=a, inquiry=i, resolution=v["resolution"]),
        "Inquiry closed.",
    )


@screen(methods=("POST",))
def inquiry_reopen(request: HttpRequest, pk: int) -> HttpResponse:
    return _act(
        request,
        pk,
        Cap.CARE_INQUIRY,
        "reopen",
        ReopenForm,
        lambda a, i, v: services.inquiry_reopen(actor=a, inquiry=i, reason=v["reason"]),
        "Inquiry reopened.",
    )


urlpatterns: list[URLPattern] = [
    path("inquiries/", inquiry_queue, name="care_inquiries"),
    path("inquiries/new/", inquiry_new, name="care_inquiry_new"),
    path("inquiries/<int:pk>/", inquiry_detail, name="care_inquiry"),
    path("inquiries/<int:pk>/note/", inquiry_note, name="care_inquiry_note"),
    path("inquiries/<int:pk>/callback/", inquiry_callback, name="care_inquiry_callback"),
    path("inquiries/<int:pk>/escalate/", inquiry_escalate, name="care_inquiry_escalate"),
    path("inquiries/<int:pk>/answer/", inquiry_answer, name="care_inquiry_answer"),
    path("inquiries/<int:pk>/close/", inquiry_close, name="care_inquiry_close"),
    path("inquiries/<int:pk>/reopen/", inquiry_reopen, name="care_inquiry_reopen"),
]
