"""340B set-up screens: the covered entity, eligible prescribers, the patient list,
encounters at the entity's locations, payer rules and NDC exclusions. Everyone with
340b.view reads them (the patient list and encounters also need patient.view); only the
PIC (340b.setup) changes them."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import URLPattern, path

from rxdesk.claims.models import Plan
from rxdesk.core.capabilities import Cap, has, require
from rxdesk.core.forms import FIELD_ERRORS, RxForm, bind_errors
from rxdesk.core.models import User
from rxdesk.core.views import FORM, actor_of, posted, screen
from rxdesk.patients.models import Patient
from rxdesk.program340b import queries, services
from rxdesk.program340b.choices import PayerAction
from rxdesk.program340b.views.forms import (
    EncounterForm,
    EntityForm,
    ExclusionForm,
    PatientForm,
    PayerRuleForm,
    PrescriberForm,
)


def _date(value: Any) -> str:
    return f"{value:%m/%d/%Y}" if value else "—"


@screen(methods=FORM)
def p340b_entity(request: HttpRequest) -> HttpResponse:
    actor = actor_of(request)
    require(actor, Cap.P340B_SETUP if request.method == "POST" else Cap.P340B_VIEW)
    row = queries.entity(actor=actor)
    initial: dict[str, Any] = {
        "lookback_months": 12,
        "active": True,
        "starts_on": actor.site.today(),
    }
    if row is not None:
        initial = {
            "opais_id": row.opais_id,
            "name": row.name,
            "active": row.active,
            "starts_on": row.starts_on,
            "lookback_months": row.lookback_months,
            "account_number": row.account_number,
            "wholesaler": row.wholesaler,
        }
    form = EntityForm(posted(request), initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.p340b_entity_set(actor=actor, **form.cleaned_data)
        except FIELD_ERRORS as exc:
            bind_errors(form, exc)
        else:
            messages.success(request, "The covered entity is saved.")
            return redirect("p340b_entity")
    may_edit = has(actor, Cap.P340B_SETUP)
    if not may_edit:
        for field in form.fields.values():
            field.disabled = True
    return render(
        request,
        "program340b/entity.html",
        {"form": form, "row": row, "may_edit": may_edit},
        status=form.http_status(),
    )


def _list_page(
    request: HttpRequest,
    *,
    name: str,
    title: str,
    form_class: type[RxForm],
    save: Callable[[User, dict[str, Any]], Any],
    saved: str,
    headers: Sequence[str],
    rows: Callable[[User], list[list[str]]],
    read: tuple[Cap, ...] = (Cap.P340B_VIEW,),
    intro: str = "",
) -> HttpResponse:
    actor = actor_of(request)
    for cap in (Cap.P340B_SETUP,) if request.method == "POST" else read:
        require(actor, cap)
    form = form_class(posted(request))
    if request.method == "POST" and form.is_valid():
        try:
            save(actor, form.cleaned_data)
        except FIELD_ERRORS as exc:
            bind_errors(form, exc)
        else:
            messages.success(request, saved)
            return redirect(name)
    context = {
        "title": title,
        "intro": intro,
        "url_name": name,
        "form": form,
        "may_edit": has(actor, Cap.P340B_SETUP),
        "headers": headers,
        "rows": rows(actor),
    }
    return render(request, "program340b/list.html", context, status=form.http_status())


@screen(methods=FORM)
def p340b_prescribers(request: HttpRequest) -> HttpResponse:
    return _list_page(
        request,
        name="p340b_prescribers",
        title="340B eligible prescribers",
        intro="A dispense counts only if its prescriber's NPI is listed on the day dispensed.",
        form_class=PrescriberForm,
        save=lambda actor, data: services.p340b_prescriber_add(actor=actor, **data),
        saved="The prescriber is listed.",
        headers=("NPI", "Name", "From", "Until"),
        rows=lambda actor: [
            [r.npi, r.name, _date(r.effective_from), _date(r.effective_to)]
            for r in queries.prescribers(actor=actor)
        ],
    )


@screen(methods=FORM)
def p340b_patients(request: HttpRequest) -> HttpResponse:
    return _list_page(
        request,
        name="p340b_patients",
        title="340B patient list",
        intro="Patients registered with the covered entity.",
        form_class=PatientForm,
        save=lambda actor, data: services.p340b_patient_add(
            actor=actor, patient=Patient(pk=data.pop("patient")), **data
        ),
        saved="The patient is listed.",
        headers=("Patient", "From", "Until"),
        rows=lambda actor: [
            [
                f"{r.patient.last_name}, {r.patient.first_name} (#{r.patient_id})",
                _date(r.effective_from),
                _date(r.effective_to),
            ]
            for r in queries.patients(actor=actor)
        ],
        read=(Cap.P340B_VIEW, Cap.PATIENT_VIEW),
    )


@screen(methods=FORM)
def p340b_encounters(request: HttpRequest) -> HttpResponse:
    return _list_page(
        request,
        name="p340b_encounters",
        title="Encounters at the covered entity",
        intro="An encounter within the look-back window makes the patient the entity's.",
        form_class=EncounterForm,
        save=lambda actor, data: services.p340b_encounter_add(
            actor=actor, patient=Patient(pk=data.pop("patient")), **data
        ),
        saved="The encounter is recorded.",
        headers=("Date", "Patient", "Location"),
        rows=lambda actor: [
            [
                _date(r.on),
                f"{r.patient.last_name}, {r.patient.first_name} (#{r.patient_id})",
                r.location,
            ]
            for r in queries.encounters(actor=actor)
        ],
        read=(Cap.P340B_VIEW, Cap.PATIENT_VIEW),
    )


def _save_rule(actor: User, data: dict[str, Any]) -> Any:
    plan = Plan(pk=int(data.pop("plan")))
    return services.p340b_payer_rule_set(actor=actor, plan=plan, **data)


@screen(methods=FORM)
def p340b_payer_rules(request: HttpRequest) -> HttpResponse:
    labels = dict(PayerAction.choices)
    return _list_page(
        request,
        name="p340b_payer_rules",
        title="340B payer rules",
        intro=(
            "Carve out a plan (Medicaid fee-for-service on the Medicaid Exclusion File) or "
            "bill it as 340B: claims then carry submission clarification code 20."
        ),
        form_class=PayerRuleForm,
        save=_save_rule,
        saved="The payer rule is saved.",
        headers=("Plan", "BIN", "Rule", "Basis of cost 08", "Note"),
        rows=lambda actor: [
            [
                r.plan.name,
                r.plan.bin,
                labels.get(r.action, r.action),
                "yes" if r.basis_of_cost_08 else "",
                r.note,
            ]
            for r in queries.payer_rules(actor=actor)
        ],
    )


@screen(methods=FORM)
def p340b_exclusions(request: HttpRequest) -> HttpResponse:
    return _list_page(
        request,
        name="p340b_exclusions",
        title="340B NDC exclusions",
        intro="Orphan drugs are excluded for CAH, SCH, RRC and cancer-hospital entities.",
        form_class=ExclusionForm,
        save=lambda actor, data: services.p340b_exclusion_add(actor=actor, **data),
        saved="The NDC is excluded.",
        headers=("NDC", "Reason"),
        rows=lambda actor: [[r.ndc11, r.reason] for r in queries.exclusions(actor=actor)],
    )


urlpatterns: list[URLPattern] = [
    path("entity/", p340b_entity, name="p340b_entity"),
    path("prescribers/", p340b_prescribers, name="p340b_prescribers"),
    path("patients/", p340b_patients, name="p340b_patients"),
    path("encounters/", p340b_encounters, name="p340b_encounters"),
    path("payer-rules/", p340b_payer_rules, name="p340b_payer_rules"),
    path("exclusions/", p340b_exclusions, name="p340b_exclusions"),
]
