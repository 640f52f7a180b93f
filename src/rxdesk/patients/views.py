"""Workstation screens for patients and prescribers: parse, call a service or query, render.

Opening a patient's record goes through services.patient_record_open, which logs the PHI
access. The small forms that add to a record (allergy, condition, measurement, coverage,
identifier) are pages of their own with the patient's name and birth date for
identification; they return to the record when saved. Marking a condition resolved and
ending a plan are buttons on the record."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse

from rxdesk.core.capabilities import Cap, has, require
from rxdesk.core.errors import NotFound
from rxdesk.core.forms import FIELD_ERRORS, RxForm, bind_errors, initial_from
from rxdesk.core.views import FORM, actor_of, is_partial, posted, screen
from rxdesk.patients import queries, services
from rxdesk.patients.choices import ConditionStatus, CoverageKind, MeasurementKind
from rxdesk.patients.forms import (
    AddressForm,
    AllergyForm,
    AllergyRemoveForm,
    ConditionForm,
    CoverageForm,
    IdentifierForm,
    MeasurementForm,
    PatientForm,
    PatientSearchForm,
    PrescriberForm,
    PrescriberSearchForm,
)
from rxdesk.patients.models import Allergy, Condition, Coverage, Patient

# --- Patients ---------------------------------------------------------------------------------


@screen
def patient_list(request: HttpRequest) -> HttpResponse:
    """Find a patient by name ('smith, jo'), birth date or phone; htmx refreshes the results
    as the user types."""
    actor = actor_of(request)
    form = PatientSearchForm(request.GET or None)
    q = ""
    include_inactive = False
    if form.is_bound and form.is_valid():
        q = form.cleaned_data["q"]
        include_inactive = form.cleaned_data["include_inactive"]
    patients: list[Patient] = []
    try:
        # Called even with nothing typed: the query checks the capability.
        patients = list(queries.patient_search(actor=actor, q=q, include_inactive=include_inactive))
    except FIELD_ERRORS as exc:
        bind_errors(form, exc)
    context = {
        "form": form,
        "q": q,
        "patients": patients,
        "searched": len(q) > 0,
        "limit": queries.SEARCH_LIMIT,
    }
    partial = is_partial(request)
    template = "patients/_patient_results.html" if partial else "patients/patient_list.html"
    return render(request, template, context, status=form.http_status())


@screen(methods=FORM)
def patient_create(request: HttpRequest) -> HttpResponse:
    actor = actor_of(request)
    require(actor, Cap.PATIENT_EDIT)
    form = PatientForm(posted(request), initial=_create_initial(request))
    duplicates: list[Patient] = []
    if request.method == "POST" and form.is_valid():
        try:
            patient = services.patient_create(actor=actor, **form.cleaned_data)
        except services.PossibleDuplicate as exc:
            bind_errors(form, exc)
            duplicates = exc.candidates
        except FIELD_ERRORS as exc:
            bind_errors(form, exc)
        else:
            messages.success(request, f"{patient.full_name} is registered.")
            return redirect("patient_detail", pk=patient.pk)
    return render(
        request,
        "patients/patient_form.html",
        {"form": form, "patient": None, "duplicates": duplicates},
        status=form.http_status(),
    )


def _create_initial(request: HttpRequest) -> dict[str, Any]:
    """Names carried over from a search that found no one ('smith, jo')."""
    q = request.GET.get("q", "")[:100]
    if "," not in q:
        return {}
    last, _, first = q.partition(",")
    return {"last_name": last.strip().title(), "first_name": first.strip().title()}


def _record(patient: Patient) -> dict[str, Any]:
    """What the record page shows besides the demographics."""
    latest = {}
    for kind in (MeasurementKind.WEIGHT, MeasurementKind.HEIGHT):
        latest[kind.value] = (
            patient.measurements.filter(kind=kind).order_by("-measured_on", "-recorded_at").first()
        )
    return {
        "allergies": list(patient.allergies.filter(active=True).order_by("allergen")),
        "conditions": list(patient.conditions.order_by("status", "-recorded_at")),
        "weight": latest["weight"],
        "height": latest["height"],
        "coverages": list(patient.coverages.order_by("-active", "rank")),
        "identifiers": list(patient.identifiers.order_by("kind", "value")),
        # Medication history brought in from other systems (rxdesk import-fhir): history to
        # read, never a prescription to fill.
        "outside_meds": list(patient.medication_history.order_by("-authored_on", "-pk")[:50]),
    }


@screen
def patient_detail(request: HttpRequest, pk: int) -> HttpResponse:
    actor = actor_of(request)
    patient = queries.patient_for(actor=actor, patient_id=pk)
    patient = services.patient_record_open(actor=actor, patient=patient)
    assert actor.site is not None
    context = {
        "patient": patient,
        "age": patient.age_on(actor.site.today()),
        "can_edit": has(actor, Cap.PATIENT_EDIT),
        "can_bill": has(actor, Cap.CLAIMS_BILL),  # the coverages' eligibility check
        **_record(patient),
    }
    return render(request, "patients/patient_detail.html", context)


@screen(methods=FORM)
def patient_edit(request: HttpRequest, pk: int) -> HttpResponse:
    actor = actor_of(request)
    require(actor, Cap.PATIENT_EDIT)
    patient = queries.patient_for(actor=actor, patient_id=pk)
    if request.method == "GET":
        # The form shows the whole record: that is a PHI access too.
        services.patient_record_open(actor=actor, patient=patient, purpose="edit")
    form = PatientForm(posted(request), initial=initial_from(patient, PatientForm), creating=False)
    if request.method == "POST" and form.is_valid():
        try:
            services.patient_update(actor=actor, patient=patient, **form.changed())
        except FIELD_ERRORS as exc:
            bind_errors(form, exc)
        else:
            messages.success(
                request,
                "The patient's record is saved." if form.has_changed() else "Nothing was changed.",
            )
            return redirect("patient_detail", pk=patient.pk)
    return render(
        request,
        "patients/patient_form.html",
        {"form": form, "patient": patient, "duplicates": []},
        status=form.http_status(),
    )


def _subform(
    request: HttpRequest, patient: Patient, form: RxForm, *, title: str, submit: str, draft: str
) -> HttpResponse:
    return render(
        request,
        "patients/patient_subform.html",
        {
            "patient": patient,
            "form": form,
            "title": title,
            "submit": submit,
            "draft": f"{draft}-{patient.pk}",
        },
        status=form.http_status(),
    )


def _saved(request: HttpRequest, patient: Patient, message: str, anchor: str) -> HttpResponse:
    messages.success(request, message)
    return redirect(reverse("patient_detail", kwargs={"pk": patient.pk}) + f"#{anchor}")


@screen(methods=FORM)
def allergy_add(request: HttpRequest, pk: int) -> HttpResponse:
    actor = actor_of(request)
    require(actor, Cap.PATIENT_EDIT)
    patient = queries.patient_for(actor=actor, patient_id=pk)
    form = AllergyForm(posted(request))
    if request.method == "POST" and form.is_valid():
        try:
            allergy = services.allergy_add(actor=actor, patient=patient, **form.cleaned_data)
        except FIELD_ERRORS as exc:
            bind_errors(form, exc)
        else:
            return _saved(
                request, patient, f"{allergy.allergen} is on the allergy list.", "allergies"
            )
    return _subform(
        request, patient, form, title="Add an allergy", submit="Add allergy", draft="allergy"
    )


def _allergy_of(patient: Patient, allergy_pk: int) -> Allergy:
    allergy = patient.allergies.filter(pk=allergy_pk).first()
    if allergy is None:
        raise NotFound("No such allergy on this patient's record.")
    return allergy


@screen(methods=FORM)
def allergy_remove(request: HttpRequest, pk: int, allergy_pk: int) -> HttpResponse:
    actor = actor_of(request)
    require(actor, Cap.PATIENT_EDIT)
    patient = queries.patient_for(actor=actor, patient_id=pk)
    allergy = _allergy_of(patient, allergy_pk)
    form = AllergyRemoveForm(posted(request))
    if request.method == "POST" and form.is_valid():
        try:
            services.allergy_inactivate(
                actor=actor, allergy=allergy, reason=form.cleaned_data["reason"]
            )
        except FIELD_ERRORS as exc:
            bind_errors(form, exc)
        else:
            return _saved(
                request,
                patient,
                f"{allergy.allergen} was removed from the allergy list.",
                "allergies",
            )
    return render(
        request,
        "patients/allergy_remove.html",
        {"patient": patient, "allergy": allergy, "form": form},
        status=form.http_status(),
    )


@screen(methods=("POST",))
def allergies_none(request: HttpRequest, pk: int) -> HttpResponse:
    actor = actor_of(request)
    patient = queries.patient_for(actor=actor, patient_id=pk)
    try:
        services.patient_record_no_known_allergies(actor=actor, patient=patient)
    except FIELD_ERRORS as exc:
        messages.error(request, exc.message)
        return redirect(reverse("patient_detail", kwargs={"pk": patient.pk}) + "#allergies")
    return _saved(request, patient, "Recorded: no known allergies.", "allergies")


@screen(methods=FORM)
def condition_add(request: HttpRequest, pk: int) -> HttpResponse:
    actor = actor_of(request)
    require(actor, Cap.PATIENT_EDIT)
    patient = queries.patient_for(actor=actor, patient_id=pk)
    form = ConditionForm(posted(request))
    if request.method == "POST" and form.is_valid():
        try:
            services.condition_add(actor=actor, patient=patient, **form.cleaned_data)
        except FIELD_ERRORS as exc:
            bind_errors(form, exc)
        else:
            return _saved(request, patient, "The condition is recorded.", "conditions")
    return _subform(
        request, patient, form, title="Add a condition", submit="Add condition", draft="condition"
    )


def _condition_of(patient: Patient, condition_pk: int) -> Condition:
    condition = patient.conditions.filter(pk=condition_pk).first()
    if condition is None:
        raise NotFound("No such condition on this patient's record.")
    return condition


@screen(methods=("POST",))
def condition_resolve(request: HttpRequest, pk: int, condition_pk: int) -> HttpResponse:
    actor = actor_of(request)
    patient = queries.patient_for(actor=actor, patient_id=pk)
    condition = _condition_of(patient, condition_pk)
    try:
        services.condition_update(actor=actor, condition=condition, status=ConditionStatus.RESOLVED)
    except FIELD_ERRORS as exc:
        messages.error(request, exc.message)
        return redirect(reverse("patient_detail", kwargs={"pk": patient.pk}) + "#conditions")
    return _saved(request, patient, f"{condition.description} is marked resolved.", "conditions")


@screen(methods=FORM)
def measurement_add(request: HttpRequest, pk: int) -> HttpResponse:
    actor = actor_of(request)
    require(actor, Cap.PATIENT_EDIT)
    patient = queries.patient_for(actor=actor, patient_id=pk)
    kind = request.GET.get("kind", MeasurementKind.WEIGHT.value)
    if kind not in MeasurementKind.values:
        kind = MeasurementKind.WEIGHT.value
    initial = {"kind": kind, "unit": "kg" if kind == MeasurementKind.WEIGHT else "cm"}
    form = MeasurementForm(posted(request), initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            m = services.measurement_record(actor=actor, patient=patient, **form.cleaned_data)
        except FIELD_ERRORS as exc:
            bind_errors(form, exc)
        else:
            return _saved(
                request,
                patient,
                f"{m.get_kind_display()} {m.value} {m.unit} is recorded.",
                "measurements",
            )
    title = "Record a height" if kind == MeasurementKind.HEIGHT else "Record a weight"
    return _subform(
        request, patient, form, title=title, submit="Record", draft=f"measurement-{kind}"
    )


_COVERAGE_SAID: dict[str, str] = {
    CoverageKind.PLAN: "The plan",
    CoverageKind.COPAY_CARD: "The copay card",
    CoverageKind.ASSISTANCE: "The assistance program",
    CoverageKind.CASH: "Cash (no plan billed)",
}


@screen(methods=FORM)
def coverage_add(request: HttpRequest, pk: int) -> HttpResponse:
    actor = actor_of(request)
    require(actor, Cap.PATIENT_EDIT)
    patient = queries.patient_for(actor=actor, patient_id=pk)
    form = CoverageForm(posted(request))
    if request.method == "POST" and form.is_valid():
        try:
            coverage = services.coverage_add(actor=actor, patient=patient, **form.cleaned_data)
        except FIELD_ERRORS as exc:
            bind_errors(form, exc)
        else:
            said = _COVERAGE_SAID.get(coverage.kind, "The plan")
            return _saved(request, patient, f"{said} is on the record.", "coverages")
    return _subform(
        request,
        patient,
        form,
        title="Add a plan, copay card or cash",
        submit="Add",
        draft="coverage",
    )


def _coverage_of(patient: Patient, coverage_pk: int) -> Coverage:
    coverage = patient.coverages.filter(pk=coverage_pk).first()
    if coverage is None:
        raise NotFound("No such plan on this patient's record.")
    return coverage


@screen(methods=("POST",))
def coverage_end(request: HttpRequest, pk: int, coverage_pk: int) -> HttpResponse:
    actor = actor_of(request)
    patient = queries.patient_for(actor=actor, patient_id=pk)
    coverage = _coverage_of(patient, coverage_pk)
    try:
        services.coverage_update(actor=actor, coverage=coverage, active=False)
    except FIELD_ERRORS as exc:
        messages.error(request, exc.message)
        return redirect(reverse("patient_detail", kwargs={"pk": patient.pk}) + "#coverages")
    return _saved(request, patient, "The plan is ended.", "coverages")


@screen(methods=FORM)
def identifier_add(request: HttpRequest, pk: int) -> HttpResponse:
    actor = actor_of(request)
    require(actor, Cap.PATIENT_EDIT)
    patient = queries.patient_for(actor=actor, patient_id=pk)
    form = IdentifierForm(posted(request))
    if request.method == "POST" and form.is_valid():
        try:
            ident = services.identifier_add(actor=actor, patient=patient, **form.cleaned_data)
        except FIELD_ERRORS as exc:
            bind_errors(form, exc)
        else:
            return _saved(
                request, patient, f"The {ident.get_kind_display()} is on the record.", "identifiers"
            )
    return _subform(
        request,
        patient,
        form,
        title="Add an identifier",
        submit="Add identifier",
        draft="identifier",
    )


# --- Prescribers ------------------------------------------------------------------------------


@screen
def prescriber_list(request: HttpRequest) -> HttpResponse:
    actor = actor_of(request)
    form = PrescriberSearchForm(request.GET or None)
    q = ""
    include_inactive = False
    if form.is_bound and form.is_valid():
        q = form.cleaned_data["q"]
        include_inactive = form.cleaned_data["include_inactive"]
    prescribers = list(
        queries.prescriber_search(
            actor=actor, q=q, include_inactive=include_inactive
        ).prefetch_related("addresses")
    )
    context = {
        "form": form,
        "q": q,
        "prescribers": prescribers,
        "searched": len(q) > 0,
        "limit": queries.SEARCH_LIMIT,
    }
    partial = is_partial(request)
    template = "patients/_prescriber_results.html" if partial else "patients/prescriber_list.html"
    return render(request, template, context, status=form.http_status())


def _prescriber_values(form: PrescriberForm, values: dict[str, Any]) -> tuple[bool, dict[str, Any]]:
    values = dict(values)
    values.pop("confirm_dea_name", None)
    return bool(form.cleaned_data.get("confirm_dea_name")), values


@screen(methods=FORM)
def prescriber_create(request: HttpRequest) -> HttpResponse:
    actor = actor_of(request)
    require(actor, Cap.PRESCRIBER_EDIT)
    form = PrescriberForm(posted(request))
    if request.method == "POST" and form.is_valid():
        confirm, values = _prescriber_values(form, form.cleaned_data)
        try:
            prescriber = services.prescriber_create(actor=actor, confirm_dea_name=confirm, **values)
        except FIELD_ERRORS as exc:
            bind_errors(form, exc)
        else:
            messages.success(request, f"{prescriber.full_name} is on file.")
            return redirect("prescriber_detail", pk=prescriber.pk)
    return render(
        request,
        "patients/prescriber_form.html",
        {"form": form, "prescriber": None},
        status=form.http_status(),
    )


@screen
def prescriber_detail(request: HttpRequest, pk: int) -> HttpResponse:
    actor = actor_of(request)
    prescriber = queries.prescriber_for(actor=actor, prescriber_id=pk)
    addresses = list(prescriber.addresses.order_by("-primary", "pk"))
    return render(
        request,
        "patients/prescriber_detail.html",
        {"prescriber": prescriber, "addresses": addresses},
    )


@screen(methods=FORM)
def prescriber_edit(request: HttpRequest, pk: int) -> HttpResponse:
    actor = actor_of(request)
    require(actor, Cap.PRESCRIBER_EDIT)
    prescriber = queries.prescriber_for(actor=actor, prescriber_id=pk)
    initial = initial_from(prescriber, PrescriberForm)
    if prescriber.dea_number and prescriber.dea_suffix:
        initial["dea_number"] = f"{prescriber.dea_number}-{prescriber.dea_suffix}"
    form = PrescriberForm(posted(request), initial=initial, creating=False)
    if request.method == "POST" and form.is_valid():
        confirm, values = _prescriber_values(form, form.changed())
        try:
            services.prescriber_update(
                actor=actor, prescriber=prescriber, confirm_dea_name=confirm, **values
            )
        except FIELD_ERRORS as exc:
            bind_errors(form, exc)
        else:
            messages.success(
                request, "The prescriber's record is saved." if values else "Nothing was changed."
            )
            return redirect("prescriber_detail", pk=prescriber.pk)
    return render(
        request,
        "patients/prescriber_form.html",
        {"form": form, "prescriber": prescriber},
        status=form.http_status(),
    )


@screen(methods=FORM)
def prescriber_address_add(request: HttpRequest, pk: int) -> HttpResponse:
    actor = actor_of(request)
    require(actor, Cap.PRESCRIBER_EDIT)
    prescriber = queries.prescriber_for(actor=actor, prescriber_id=pk)
    form = AddressForm(posted(request))
    if request.method == "POST" and form.is_valid():
        try:
            services.prescriber_address_add(actor=actor, prescriber=prescriber, **form.cleaned_data)
        except FIELD_ERRORS as exc:
            bind_errors(form, exc)
        else:
            messages.success(request, "The address is on file.")
            return redirect("prescriber_detail", pk=prescriber.pk)
    return render(
        request,
        "patients/address_form.html",
        {"form": form, "prescriber": prescriber},
        status=form.http_status(),
    )
