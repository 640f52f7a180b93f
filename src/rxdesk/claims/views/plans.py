"""Workstation pages of the plan file (payers and plans) and the eligibility check of a
patient's card. Parse, call rxdesk.claims.services_plans (or the billing services), render.

The list reads for whoever works claims; the forms are for those who keep the plan file
(``claims.plans``); the eligibility button is for whoever bills (``claims.bill``)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import URLPattern, path

from rxdesk.claims import ncpdp, services_plans
from rxdesk.claims.choices import EligibilityStatus
from rxdesk.claims.models import Eligibility, Payer, Plan
from rxdesk.core.capabilities import Cap, has, require
from rxdesk.core.errors import NotFound
from rxdesk.core.forms import FIELD_ERRORS, MAX_ID, RxForm, bind_errors, flag, initial_from, text
from rxdesk.core.validators import format_phone
from rxdesk.core.views import FORM, actor_of, is_partial, posted, screen
from rxdesk.patients import queries as patient_queries
from rxdesk.patients.models import Coverage

# --- Forms (parsing only: the rules are in services_plans) ------------------------------------


def _number(label: str, *, required: bool = True, help_text: str = "") -> forms.IntegerField:
    return forms.IntegerField(
        label=label,
        required=required,
        help_text=help_text,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
        error_messages={"invalid": "Type a whole number."},
    )


class PayerForm(RxForm):
    FIELDSETS = (
        ("Payer", ("name", "processor_name", "help_desk_phone", "active")),
        ("Switch", ("host", "port", "timeout_seconds", "software_vendor_id")),
    )

    name = text(80, required=True, label="Name", autocomplete="off")
    processor_name = text(80, label="Processor (PBM)", autocomplete="off")
    help_desk_phone = text(20, label="Help desk phone", inputmode="tel", autocomplete="off")
    host = text(255, required=True, label="Switch host", autocomplete="off")
    port = _number("Switch port", help_text="1 to 65535")
    timeout_seconds = _number(
        "Wait for an answer (seconds)",
        help_text="1 to 120; after that the claim waits in the outbox.",
    )
    software_vendor_id = text(10, label="Software vendor/certification ID", autocomplete="off")
    active = flag("Active", "Untick to stop billing this payer; its plans and claims stay.")

    def __init__(self, *args: Any, editing: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not editing:
            del self.fields["active"]


class PlanForm(RxForm):
    FIELDSETS = (
        ("Card", ("bin", "pcn", "group")),
        ("Plan", ("payer", "name", "help_desk_phone", "active")),
        (
            "Rules",
            ("return_to_stock_days", "max_days_supply", "max_days_supply_mail", "dispensing_fee"),
        ),
    )

    bin = text(6, required=True, label="BIN", inputmode="numeric", autocomplete="off")
    pcn = text(10, label="PCN", autocomplete="off")
    group = text(15, label="Group", autocomplete="off")
    payer = forms.TypedChoiceField(coerce=int, label="Payer (processor)", choices=())
    name = text(80, required=True, label="Plan name", autocomplete="off")
    help_desk_phone = text(20, label="Plan help desk phone", inputmode="tel", autocomplete="off")
    return_to_stock_days = _number(
        "Return to stock after (days)", help_text="1 to 90: reverse what is not picked up."
    )
    max_days_supply = _number("Days-supply limit (retail)", required=False)
    max_days_supply_mail = _number("Days-supply limit (mail)", required=False)
    dispensing_fee = forms.DecimalField(
        label="Dispensing fee submitted",
        max_digits=10,
        decimal_places=2,
        widget=forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"}),
        error_messages={"invalid": "Type an amount, like 1.75."},
    )
    active = flag("Active", "Untick to stop finding this plan for new claims; its claims stay.")

    def __init__(
        self, *args: Any, payers: list[Payer], editing: bool = False, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["payer"]
        assert isinstance(field, forms.TypedChoiceField)
        field.choices = [("", "— choose —")] + [
            (p.pk, p.name if p.active else f"{p.name} (inactive)") for p in payers
        ]
        if not editing:
            del self.fields["active"]


class PlanFilterForm(RxForm):
    bin = text(6, label="BIN", inputmode="numeric", autocomplete="off", type="search")
    include_inactive = flag("Show inactive")


# --- The plan file ----------------------------------------------------------------------------


@screen
def plan_list(request: HttpRequest) -> HttpResponse:
    """Payers and plans; filter by BIN (inactive ones hidden unless asked)."""
    actor = actor_of(request)
    form = PlanFilterForm(request.GET or None)
    bin, include_inactive = "", False
    if form.is_bound and form.is_valid():
        bin = form.cleaned_data["bin"]
        include_inactive = form.cleaned_data["include_inactive"]
    plans = list(services_plans.plan_list(actor=actor, bin=bin, include_inactive=include_inactive))
    payers = list(services_plans.payer_list(actor=actor, include_inactive=include_inactive))
    context = {
        "form": form,
        "plans": plans,
        "payers": payers,
        "bin": bin,
        "can_edit": has(actor, Cap.CLAIMS_PLANS),
    }
    return render(request, "claims/plans_list.html", context, status=form.http_status())


def _form_page(
    request: HttpRequest, form: RxForm, *, title: str, submit: str, back: str
) -> HttpResponse:
    context = {"form": form, "title": title, "submit": submit, "back": back}
    return render(request, "claims/plans_form.html", context, status=form.http_status())


@screen(methods=FORM)
def payer_create(request: HttpRequest) -> HttpResponse:
    actor = actor_of(request)
    require(actor, Cap.CLAIMS_PLANS)
    form = PayerForm(posted(request), initial={"host": "127.0.0.1", "timeout_seconds": 15})
    if request.method == "POST" and form.is_valid():
        try:
            payer = services_plans.payer_create(actor=actor, **form.cleaned_data)
        except FIELD_ERRORS as exc:
            bind_errors(form, exc)
        else:
            messages.success(request, f"{payer.name} is in the plan file.")
            return redirect("claims_plans")
    return _form_page(request, form, title="Add a payer", submit="Add payer", back="claims_plans")


@screen(methods=FORM)
def payer_edit(request: HttpRequest, pk: int) -> HttpResponse:
    actor = actor_of(request)
    require(actor, Cap.CLAIMS_PLANS)
    payer = services_plans.payer_get(actor=actor, payer_id=pk)
    form = PayerForm(posted(request), initial=initial_from(payer, PayerForm), editing=True)
    if request.method == "POST" and form.is_valid():
        try:
            payer = services_plans.payer_update(actor=actor, payer=payer, **form.changed())
        except FIELD_ERRORS as exc:
            bind_errors(form, exc)
        else:
            messages.success(request, f"{payer.name} is saved.")
            return redirect("claims_plans")
    return _form_page(
        request, form, title=f"Change {payer.name}", submit="Save payer", back="claims_plans"
    )


def _payer_from(actor: Any, form: PlanForm, values: dict[str, Any]) -> None:
    """The chosen payer id as the payer row (a stale choice is shown beside the field)."""
    if "payer" in values:
        try:
            values["payer"] = services_plans.payer_get(actor=actor, payer_id=values["payer"])
        except NotFound as exc:
            form.add_error("payer", exc.message)
            raise


@screen(methods=FORM)
def plan_create(request: HttpRequest) -> HttpResponse:
    actor = actor_of(request)
    require(actor, Cap.CLAIMS_PLANS)
    payers = list(services_plans.payer_list(actor=actor, include_inactive=False))
    initial: dict[str, Any] = {"return_to_stock_days": 14, "dispensing_fee": "0.00"}
    if len(payers) == 1:
        initial["payer"] = payers[0].pk
    form = PlanForm(posted(request), payers=payers, initial=initial)
    if request.method == "POST" and form.is_valid():
        values = dict(form.cleaned_data)
        try:
            _payer_from(actor, form, values)
            plan = services_plans.plan_create(actor=actor, **values)
        except NotFound:
            pass
        except FIELD_ERRORS as exc:
            bind_errors(form, exc)
        else:
            messages.success(request, f"{plan} is in the plan file.")
            return redirect("claims_plans")
    return _form_page(request, form, title="Add a plan", submit="Add plan", back="claims_plans")


@screen(methods=FORM)
def plan_edit(request: HttpRequest, pk: int) -> HttpResponse:
    actor = actor_of(request)
    require(actor, Cap.CLAIMS_PLANS)
    plan: Plan = services_plans.plan_get(actor=actor, plan_id=pk)
    payers = list(services_plans.payer_list(actor=actor))
    initial = initial_from(plan, PlanForm) | {"payer": plan.payer_id}
    form = PlanForm(posted(request), payers=payers, initial=initial, editing=True)
    if request.method == "POST" and form.is_valid():
        values = form.changed()
        try:
            _payer_from(actor, form, values)
            plan = services_plans.plan_update(actor=actor, plan=plan, **values)
        except NotFound:
            pass
        except FIELD_ERRORS as exc:
            bind_errors(form, exc)
        else:
            messages.success(request, f"{plan} is saved.")
            return redirect("claims_plans")
    return _form_page(
        request, form, title=f"Change {plan.name}", submit="Save plan", back="claims_plans"
    )


# --- Eligibility (E1) -------------------------------------------------------------------------


def _coverage_for(actor: Any, coverage_pk: int) -> Coverage:
    """The coverage, if its patient is at the actor's pharmacy (another site's: 404)."""
    coverage = (
        Coverage.objects.select_related("patient").filter(pk=coverage_pk).first()
        if 0 < coverage_pk <= MAX_ID
        else None
    )
    if coverage is None or coverage.patient.site_id != actor.site_id:
        raise NotFound("No such plan on a patient's record at this pharmacy.")
    patient_queries.patient_for(actor=actor, patient_id=coverage.patient_id)
    return coverage


def _answer_rows(check: Eligibility) -> list[tuple[str, str]]:
    """The payer's answer fields by their NCPDP names (those it filled in)."""
    rows = []
    for fid, value in (check.answer or {}).items():
        if not str(value).strip():
            continue
        spec = ncpdp.FIELDS.get(fid)
        rows.append((f"{spec.name if spec else 'Field'} ({fid})", str(value)))
    return rows


@screen(methods=("POST",))
def eligibility(request: HttpRequest, coverage_pk: int) -> HttpResponse:
    """Ask the plan (E1) whether the card covers the patient today, and show the answer:
    active, not eligible (each reject code with what it means and what to do), or no
    answer."""
    # The billing services (and the TCP transport) load when a card is first checked.
    from rxdesk.claims import rejects, services

    actor = actor_of(request)
    require(actor, Cap.CLAIMS_BILL)
    coverage = _coverage_for(actor, coverage_pk)
    check: Eligibility | None = None
    error = ""
    status = 200
    try:
        check = services.eligibility_check(actor=actor, coverage=coverage)
    except FIELD_ERRORS as exc:
        error, status = exc.message, exc.status
    partial = is_partial(request)
    if partial and error:
        status = 422  # htmx swaps a 422 fragment (rxdesk.js); the answer shows in place
    context = {
        "patient": coverage.patient,
        "coverage": coverage,
        "check": check,
        "error": error,
        "statuses": EligibilityStatus,
        "rejects": [rejects.explain(c) for c in (check.reject_codes if check else [])],
        "answer": _answer_rows(check) if check else [],
        "phone": format_phone(check.plan.phone) if check else "",
    }
    template = "claims/_plans_eligibility.html" if partial else "claims/plans_eligibility.html"
    return render(request, template, context, status=status)


urlpatterns: list[URLPattern] = [
    path("plans/", plan_list, name="claims_plans"),
    path("plans/new/", plan_create, name="claims_plan_create"),
    path("plans/<int:pk>/", plan_edit, name="claims_plan_edit"),
    path("payers/new/", payer_create, name="claims_payer_create"),
    path("payers/<int:pk>/", payer_edit, name="claims_payer_edit"),
    path("eligibility/<int:coverage_pk>/", eligibility, name="claims_eligibility"),
]
