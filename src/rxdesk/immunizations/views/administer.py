"""Workstation screens of administering a vaccine: screening, consent, VIS, the scanned dose,
the ledger move; historical doses; corrections.

Parse, call rxdesk.immunizations services_administer / queries_administer, render: the
services decide. Scanner first: the syringe's or carton's code (a GS1 DataMatrix fills the
NDC, lot and expiry), then the VIS barcode; every step works from the keyboard."""

from __future__ import annotations

import datetime as dt
from typing import Any, cast

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import URLPattern, path

from rxdesk.catalog.ndc import CodeError
from rxdesk.core.capabilities import Cap, has, require
from rxdesk.core.choices import PHARMACIST_ROLES
from rxdesk.core.errors import Forbidden, Invalid
from rxdesk.core.forms import (
    DATE_INPUT_FORMATS,
    FIELD_ERRORS,
    MAX_ID,
    DateField,
    RxForm,
    bind_errors,
    choice,
    text,
)
from rxdesk.core.models import User
from rxdesk.core.views import FORM, actor_of, posted, screen
from rxdesk.immunizations import queries_administer as queries
from rxdesk.immunizations import queries_outreach
from rxdesk.immunizations import screening_questions as sq
from rxdesk.immunizations import services_administer as services
from rxdesk.immunizations.choices import (
    BodySite,
    ConsentBy,
    Eligibility,
    InformationSource,
    RecordStatus,
    RefusalReason,
    Route,
)
from rxdesk.immunizations.models import Immunization, Vaccine, VaccineNdc
from rxdesk.patients import queries as patient_queries
from rxdesk.patients.models import Patient

DATETIME_INPUT_FORMATS = [f"{d} %H:%M" for d in DATE_INPUT_FORMATS]
ANSWER_CHOICES = [(sq.YES, "Yes"), (sq.NO, "No"), (sq.UNKNOWN, "Don't know")]
HISTORICAL_CHOICES = [(s.value, s.label) for s in InformationSource if s != InformationSource.NEW]


def _blank(choices: Any, label: str = "Choose…") -> list[tuple[str, str]]:
    return [("", label), *choices]


# --- Forms --------------------------------------------------------------------------------


class GiveForm(RxForm):
    """Everything of one dose. The screening answers are ``q_<code>`` radio fields."""

    FIELDSETS = (
        ("The vaccine in hand", ("code", "lot_number", "expiry")),
        ("Consent", ("consent_by", "consent_name", "eligibility")),
        ("Vaccine Information Statement", ("vis_barcode", "vis_document", "vis_presented_on")),
        ("The dose", ("dose_ml", "route", "body_site", "dose_number", "administered_at")),
        (
            "Who",
            ("supervising_pharmacist", "screening_note", "protocol", "note"),
        ),
    )
    SEPARATE = (*(f"q_{c}" for c in sq.CODES), "patient")

    patient = forms.IntegerField(min_value=1, max_value=MAX_ID, widget=forms.HiddenInput)
    code = text(
        200,
        required=True,
        label="Scan the syringe, vial or carton (or type the NDC)",
        autocomplete="off",
        spellcheck="false",
        **{"data-scan": True},
    )
    lot_number = text(40, required=True, label="Lot", autocomplete="off")
    expiry = DateField(required=False, label="Expiry")
    consent_by = choice(_blank(ConsentBy.choices), label="Consent given by")
    consent_name = text(120, label="Name of the person consenting (blank: the patient)")
    eligibility = choice(_blank(Eligibility.choices), label="VFC eligibility")
    vis_barcode = text(40, label="Scan the VIS barcode", autocomplete="off", **{"data-scan": True})
    vis_document = forms.TypedChoiceField(
        coerce=int, required=False, empty_value=None, label="…or pick the edition given"
    )
    vis_presented_on = DateField(required=False, label="VIS given on")
    dose_ml = forms.DecimalField(
        max_digits=6, decimal_places=3, label="Dose (mL)", localize=False, initial="0.5"
    )
    route = choice(_blank(Route.choices), label="Route")
    body_site = choice(
        _blank(BodySite.choices, "None (nasal or oral)"), label="Site", required=False
    )
    dose_number = forms.IntegerField(
        required=False, min_value=1, max_value=services.MAX_DOSE_NUMBER, label="Dose number"
    )
    administered_at = forms.DateTimeField(
        required=False,
        input_formats=DATETIME_INPUT_FORMATS,
        label="Given at",
        widget=forms.DateTimeInput(
            format="%m/%d/%Y %H:%M",
            attrs={"autocomplete": "off", "placeholder": "MM/DD/YYYY HH:MM (blank: now)"},
        ),
    )
    supervising_pharmacist = forms.TypedChoiceField(
        coerce=int, required=False, empty_value=None, label="Supervising pharmacist"
    )
    screening_note = text(500, label="Pharmacist: why a precaution is safe today")
    protocol = text(200, label="Standing order / protocol")
    note = text(500, label="Note")

    def __init__(
        self,
        *args: Any,
        vis_choices: list[tuple[int, str]],
        pharmacists: list[User],
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.fields["patient"].widget.attrs.pop("autofocus", None)
        self.fields["code"].widget.attrs["autofocus"] = True
        for code in sq.CODES:
            q = sq.BY_CODE[code]
            self.fields[f"q_{code}"] = forms.ChoiceField(
                choices=ANSWER_CHOICES,
                required=False,
                label=q.text,
                help_text=q.hint,
                widget=forms.RadioSelect,
            )
        cast(forms.ChoiceField, self.fields["vis_document"]).choices = [
            ("", "Choose…"),
            *vis_choices,
        ]
        cast(forms.ChoiceField, self.fields["supervising_pharmacist"]).choices = [
            ("", "None (a pharmacist gives the dose)"),
            *[(p.pk, p.get_full_name() or p.username) for p in pharmacists],
        ]

    def questions(self) -> list[forms.BoundField]:
        return [self[f"q_{c}"] for c in sq.CODES]

    def answers(self) -> dict[str, str]:
        data = self.cleaned_data if hasattr(self, "cleaned_data") else {}
        return {c: data.get(f"q_{c}") or "" for c in sq.CODES if data.get(f"q_{c}")}


class HistoricalForm(RxForm):
    FIELDSETS = (
        (
            "A dose given elsewhere",
            ("cvx", "administered_on", "source", "historical_source", "lot_number", "ndc"),
        ),
    )
    cvx = forms.ChoiceField(label="Vaccine")
    administered_on = DateField(label="Given on")
    source = choice(_blank(HISTORICAL_CHOICES), label="Record comes from")
    historical_source = text(200, required=True, label="Where (clinic, registry, card)")
    lot_number = text(40, label="Lot (if known)", autocomplete="off")
    ndc = text(20, label="NDC (if known)", autocomplete="off")

    def __init__(self, *args: Any, vaccines: list[Vaccine], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["cvx"]).choices = _blank(
            (v.cvx, f"{v.short_description} (CVX {v.cvx})") for v in vaccines
        )


class RefusalForm(RxForm):
    FIELDSETS = (("Vaccine declined", ("cvx", "refusal_reason", "note")),)
    cvx = forms.ChoiceField(label="Vaccine")
    refusal_reason = choice(_blank(RefusalReason.choices), label="Reason")
    note = text(500, label="Note")

    def __init__(self, *args: Any, vaccines: list[Vaccine], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["cvx"]).choices = _blank(
            (v.cvx, f"{v.short_description} (CVX {v.cvx})") for v in vaccines
        )


class CorrectForm(RxForm):
    FIELDSETS = (
        ("Correct the record", ("route", "body_site", "dose_number", "eligibility", "note")),
    )
    route = choice(_blank(Route.choices, "Unchanged"), label="Route", required=False)
    body_site = choice(_blank(BodySite.choices, "Unchanged"), label="Site", required=False)
    dose_number = forms.IntegerField(
        required=False, min_value=1, max_value=services.MAX_DOSE_NUMBER, label="Dose number"
    )
    eligibility = choice(
        _blank(Eligibility.choices, "Unchanged"), label="VFC eligibility", required=False
    )
    note = text(500, label="Note (replaces the note)")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("prefix", "fix")
        super().__init__(*args, **kwargs)
        self.fields["route"].widget.attrs.pop("autofocus", None)


class ErrorForm(RxForm):
    FIELDSETS = (("Entered in error", ("reason",)),)
    reason = text(300, required=True, label="Why (wrong patient, wrong lot, not given…)")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("prefix", "eie")
        super().__init__(*args, **kwargs)
        self.fields["reason"].widget.attrs.pop("autofocus", None)


# --- Helpers ------------------------------------------------------------------------------


def _patient_of(actor: User, value: Any) -> Patient | None:
    try:
        pk = int(str(value))
    except (TypeError, ValueError):
        return None
    if not 0 < pk <= MAX_ID:
        return None
    return Patient.objects.filter(site_id=actor.site_id, pk=pk).first()


def _vaccines() -> list[Vaccine]:
    return list(Vaccine.objects.order_by("short_description"))


def _scanned(code: str) -> tuple[VaccineNdc | None, dict[str, Any], str]:
    """The crosswalk row of a scan, the lot/expiry it carries, and a problem to show."""
    if not code:
        return None, {}, ""
    try:
        scan = queries.scan_of(code)
    except CodeError as exc:
        return None, {}, str(exc)
    ndc = queries.vaccine_for_code(code)
    filled: dict[str, Any] = {}
    if scan.lot:
        filled["lot_number"] = scan.lot
    if scan.expiry:
        filled["expiry"] = scan.expiry
    if ndc is None:
        return None, filled, "This code is not a vaccine in the catalog."
    return ndc, filled, ""


def _vis_choices(ndc: VaccineNdc | None) -> list[tuple[int, str]]:
    if ndc is None:
        return []
    return [
        (d.pk, f"{d.name} — {d.edition_date:%m/%d/%Y}{'' if d.status == 'current' else ' (old)'}")
        for d in queries.vis_for(ndc.vaccine)
    ]


# --- Give a vaccine -----------------------------------------------------------------------


@screen(methods=FORM)
def give(request: HttpRequest) -> HttpResponse:
    """Patient → scan → the lot's funding → questionnaire → consent → VIS → dose → confirm."""
    actor = actor_of(request)
    require(actor, Cap.IMM_ADMINISTER)
    require(actor, Cap.PATIENT_VIEW)
    site = actor.site
    assert site is not None
    data = posted(request)
    source = data if data is not None else request.GET
    patient = _patient_of(actor, source.get("patient"))
    q = (request.GET.get("q") or "").strip()[:100]
    found: list[Patient] = []
    search_error = ""
    if data is None and patient is None and q:
        try:
            found = list(patient_queries.patient_search(actor=actor, q=q, limit=15))
        except FIELD_ERRORS as exc:
            search_error = exc.message
    code = str(source.get("code") or "").strip()[:200]
    ndc, filled, scan_problem = _scanned(code)
    lot_number = str(source.get("lot_number") or filled.get("lot_number") or "")
    info = queries.lot_info(actor=actor, ndc=ndc, lot_number=lot_number) if ndc else None
    initial: dict[str, Any] = {
        "patient": patient.pk if patient else None,
        "code": code,
        "vis_presented_on": site.today(),
        "dose_ml": "0.5",
        "route": Route.IM,
        **filled,
    }
    if patient is not None:
        adult = patient.age_on(site.today()) >= services.ADULT_YEARS
        initial["consent_by"] = ConsentBy.SELF if adult else ""
        if adult:
            initial["eligibility"] = Eligibility.V01
    vis_choices = _vis_choices(ndc)
    if vis_choices:
        initial["vis_document"] = vis_choices[0][0]
    form = GiveForm(
        data,
        initial=initial,
        vis_choices=vis_choices,
        pharmacists=queries.pharmacists_of(site),
    )
    if data is not None:
        if patient is None:
            form.add_error(None, "Find and choose the patient first.")
        elif form.is_valid():
            values = form.cleaned_data
            try:
                imm = _give(actor, patient, form, values)
            except FIELD_ERRORS as exc:
                _bind_give_errors(form, exc)
            else:
                messages.success(
                    request,
                    f"{imm.vaccine.short_description} given to {patient.full_name}: lot "
                    f"{imm.lot_number}, one dose out of stock, queued for the registry.",
                )
                return redirect("imm_dose", pk=imm.pk)
    findings, left = _findings_of(form, ndc, patient)
    context = {
        "form": form,
        "patient": patient,
        "q": q,
        "found": found,
        "search_error": search_error,
        "ndc": ndc,
        "info": info,
        "scan_problem": scan_problem,
        "findings": findings,
        "left": left,
    }
    return render(request, "immunizations/administer_give.html", context, status=form.http_status())


def _give(actor: User, patient: Patient, form: GiveForm, values: dict[str, Any]) -> Immunization:
    site = actor.site
    vis: list[tuple[int, dt.date]] = []
    assert site is not None
    presented: dt.date = values.get("vis_presented_on") or site.today()
    barcode = values.get("vis_barcode") or ""
    if barcode:
        doc = queries.vis_by_barcode(barcode)
        if doc is None:
            raise Invalid("This VIS barcode is not on file.", field="vis_barcode")
        vis.append((doc.pk, presented))
    if values.get("vis_document") and values["vis_document"] not in {d for d, _ in vis}:
        vis.append((values["vis_document"], presented))
    supervisor = None
    if values.get("supervising_pharmacist"):
        supervisor = User.objects.filter(site=site, pk=values["supervising_pharmacist"]).first()
    return services.immunization_administer(
        actor=actor,
        patient=patient,
        code=values["code"],
        lot_number=values["lot_number"],
        expiry=values.get("expiry"),
        dose_ml=values["dose_ml"],
        route=values["route"],
        body_site=values.get("body_site") or "",
        answers=form.answers(),
        consent_by=values["consent_by"],
        consent_name=values.get("consent_name") or "",
        vis=vis,
        eligibility=values["eligibility"],
        administered_at=values.get("administered_at"),
        supervising_pharmacist=supervisor,
        screening_note=values.get("screening_note") or "",
        protocol=values.get("protocol") or "",
        dose_number=values.get("dose_number"),
        note=values.get("note") or "",
    )


def _bind_give_errors(form: GiveForm, exc: Any) -> None:
    field = exc.field or ""
    if field.startswith("vis"):
        form.add_error("vis_document", exc.message)
        form.error_status = exc.status
    elif field == "answers":
        form.add_error(None, exc.message)
        form.error_status = exc.status
    else:
        bind_errors(form, exc)


def _findings_of(
    form: GiveForm, ndc: VaccineNdc | None, patient: Patient | None
) -> tuple[list[sq.Finding], int]:
    """The findings of the answers given so far (unanswered ones counted, not judged)."""
    raw = form.data if form.is_bound else {}
    answers = {c: str(raw.get(f"q_{c}") or "") for c in sq.CODES if raw.get(f"q_{c}") in sq.ANSWERS}
    left = len(sq.unanswered(answers))
    if ndc is None or patient is None:
        return [], left
    traits = sq.VaccineTraits(
        live=ndc.vaccine.live,
        groups=frozenset(str(g) for g in ndc.vaccine.groups or []),
        cvx=ndc.vaccine.cvx,
    )
    site = patient.site
    months = services.age_in_months(patient.date_of_birth, site.today())
    complete = {c: answers.get(c) or sq.NO for c in sq.CODES}
    partial = {c: (v if v == sq.YES else sq.NO) for c, v in complete.items()}
    return sq.assess(partial, traits, months), left


@screen(methods=("POST",))
def give_findings(request: HttpRequest) -> HttpResponse:
    """htmx: the screening findings as the questions are answered."""
    actor = actor_of(request)
    require(actor, Cap.IMM_ADMINISTER)
    patient = _patient_of(actor, request.POST.get("patient"))
    ndc, _, _ = _scanned(str(request.POST.get("code") or "").strip()[:200])
    form = GiveForm(request.POST, vis_choices=[], pharmacists=[])
    findings, left = _findings_of(form, ndc, patient)
    return render(
        request,
        "immunizations/administer_findings.html",
        {"findings": findings, "left": left, "ndc": ndc},
    )


# --- The patient's record -----------------------------------------------------------------


@screen
def patient_record(request: HttpRequest, pk: int) -> HttpResponse:
    actor = actor_of(request)
    patient = queries.patient_get(actor=actor, patient_id=pk)
    rows = queries.immunizations_of(actor=actor, patient=patient)
    services.immunization_record_viewed(actor=actor, patient=patient)
    context = {
        "patient": patient,
        "rows": rows,
        "may_give": has(actor, Cap.IMM_ADMINISTER),
        "may_record": has(actor, Cap.IMM_RECORD),
        "due": queries_outreach.due_for(patient),
    }
    return render(request, "immunizations/record_patient.html", context)


@screen(methods=FORM)
def historical_new(request: HttpRequest, pk: int) -> HttpResponse:
    actor = actor_of(request)
    require(actor, Cap.IMM_RECORD)
    patient = queries.patient_get(actor=actor, patient_id=pk)
    form = HistoricalForm(posted(request), vaccines=_vaccines())
    if request.method == "POST" and form.is_valid():
        try:
            services.immunization_record_historical(
                actor=actor, patient=patient, **form.cleaned_data
            )
        except FIELD_ERRORS as exc:
            bind_errors(form, exc)
        else:
            messages.success(request, "Historical dose recorded (not sent to the registry).")
            return redirect("imm_patient_record", pk=patient.pk)
    return render(
        request,
        "immunizations/record_form.html",
        {"form": form, "patient": patient, "title": "Record a dose given elsewhere"},
        status=form.http_status(),
    )


@screen(methods=FORM)
def refusal_new(request: HttpRequest, pk: int) -> HttpResponse:
    actor = actor_of(request)
    require(actor, Cap.IMM_RECORD)
    patient = queries.patient_get(actor=actor, patient_id=pk)
    form = RefusalForm(posted(request), vaccines=_vaccines())
    if request.method == "POST" and form.is_valid():
        try:
            services.immunization_record_refusal(actor=actor, patient=patient, **form.cleaned_data)
        except FIELD_ERRORS as exc:
            bind_errors(form, exc)
        else:
            messages.success(request, "Refusal recorded and queued for the registry.")
            return redirect("imm_patient_record", pk=patient.pk)
    return render(
        request,
        "immunizations/record_form.html",
        {"form": form, "patient": patient, "title": "Record a vaccine declined"},
        status=form.http_status(),
    )


# --- One dose -----------------------------------------------------------------------------


def _dose_page(
    request: HttpRequest,
    actor: User,
    imm: Immunization,
    *,
    correct: CorrectForm | None = None,
    error: ErrorForm | None = None,
    status: int = 200,
) -> HttpResponse:
    recorded = imm.status == RecordStatus.RECORDED
    context = {
        "i": imm,
        "patient": imm.patient,
        "vis": list(imm.vis_given.select_related("document")),
        "messages_sent": queries.registry_messages_of(imm),
        "may_correct": recorded and has(actor, Cap.IMM_ADMINISTER),
        "may_error": recorded and has(actor, Cap.IMM_ADMINISTER) and actor.role in PHARMACIST_ROLES,
        "correct_form": correct or CorrectForm(),
        "error_form": error or ErrorForm(),
    }
    return render(request, "immunizations/record_dose.html", context, status=status)


@screen
def dose_detail(request: HttpRequest, pk: int) -> HttpResponse:
    actor = actor_of(request)
    imm = queries.immunization_get(actor=actor, immunization_id=pk)
    services.immunization_record_viewed(actor=actor, patient=imm.patient, immunization=imm)
    return _dose_page(request, actor, imm)


@screen(methods=("POST",))
def dose_correct(request: HttpRequest, pk: int) -> HttpResponse:
    actor = actor_of(request)
    require(actor, Cap.IMM_ADMINISTER)
    imm = queries.immunization_get(actor=actor, immunization_id=pk)
    form = CorrectForm(request.POST)
    if form.is_valid():
        fields = {k: v for k, v in form.cleaned_data.items() if v not in (None, "") and k != "note"}
        if form.cleaned_data.get("note"):
            fields["note"] = form.cleaned_data["note"]
        if not fields:
            form.add_error(None, "Change at least one field.")
        else:
            try:
                services.immunization_correct(actor=actor, immunization=imm, **fields)
            except FIELD_ERRORS as exc:
                bind_errors(form, exc)
            else:
                messages.success(request, "Record corrected; the registry gets the update.")
                return redirect("imm_dose", pk=imm.pk)
    return _dose_page(request, actor, imm, correct=form, status=form.http_status())


@screen(methods=("POST",))
def dose_entered_in_error(request: HttpRequest, pk: int) -> HttpResponse:
    actor = actor_of(request)
    require(actor, Cap.IMM_ADMINISTER)
    if actor.role not in PHARMACIST_ROLES:
        raise Forbidden("Only a pharmacist marks an immunization entered in error.")
    imm = queries.immunization_get(actor=actor, immunization_id=pk)
    form = ErrorForm(request.POST)
    if form.is_valid():
        try:
            services.immunization_mark_entered_in_error(
                actor=actor, immunization=imm, reason=form.cleaned_data["reason"]
            )
        except FIELD_ERRORS as exc:
            bind_errors(form, exc)
        else:
            messages.success(
                request,
                "Marked entered in error; the registry is told to delete it. Stock was not "
                "put back: adjust the inventory if the dose was not drawn up.",
            )
            return redirect("imm_dose", pk=imm.pk)
    return _dose_page(request, actor, imm, error=form, status=form.http_status())


urlpatterns: list[URLPattern] = [
    path("give/", give, name="imm_give"),
    path("give/findings/", give_findings, name="imm_give_findings"),
    path("patients/<int:pk>/", patient_record, name="imm_patient_record"),
    path("patients/<int:pk>/historical/", historical_new, name="imm_historical_new"),
    path("patients/<int:pk>/refusal/", refusal_new, name="imm_refusal_new"),
    path("doses/<int:pk>/", dose_detail, name="imm_dose"),
    path("doses/<int:pk>/correct/", dose_correct, name="imm_dose_correct"),
    path("doses/<int:pk>/entered-in-error/", dose_entered_in_error, name="imm_dose_error"),
]
