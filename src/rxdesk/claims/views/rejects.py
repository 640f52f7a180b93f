"""The reject queue: every live rejected claim of the pharmacy with what each reject code
means, what to do about it, and the buttons that do it — start a PA (75), resubmit with
the approved PA's number, resubmit as a vacation supply (79, pharmacist), pick an A-rated
equivalent or the plan's preferred product (70/MR), lower the days supply or quantity (76),
enter DUR/PPS codes (88, pharmacist), resubmit as is, or bill the fill as cash.

Parse, call a service or query, render. The billing services are imported inside the
functions that use them (the claims billing module loads the fill workflow, which loads
this app's URLs)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import URLPattern, path

from rxdesk.catalog.models import Package
from rxdesk.claims import queries_pa, rejects, services_pa
from rxdesk.claims.choices import PA_OPEN, PriorAuthStatus
from rxdesk.claims.models import Claim, PriorAuth
from rxdesk.claims.rejects import Fix
from rxdesk.core.capabilities import Cap, has, require
from rxdesk.core.errors import Conflict, Invalid, NotFound
from rxdesk.core.forms import FIELD_ERRORS, RxForm, bind_errors, text
from rxdesk.core.models import User
from rxdesk.core.views import actor_of, screen

# Vacation supply and lost medication (SCC 3 and 4) after a 79: a pharmacist's call, as
# entering DUR/PPS codes after an 88 is (the billing service checks the same capability).
PHARMACIST_CALL = Cap.SCREENING_RESOLVE
_CLARIFICATIONS = [("3", "3 · Vacation supply"), ("4", "4 · Lost or damaged medication")]


def _code(label: str) -> forms.CharField:
    return forms.CharField(required=False, label=label, max_length=2, min_length=2)


class WorkForm(RxForm):
    """One action on one rejected claim; the fields an action does not use are ignored."""

    action = forms.ChoiceField(
        choices=[
            ("resubmit", "Resubmit"),
            ("cash", "Bill as cash"),
            ("pa_start", "Start PA"),
            ("pa_resubmit", "Resubmit with the PA number"),
            ("vacation", "Resubmit with a submission clarification code"),
            ("limits", "Resubmit with a new days supply / quantity"),
            ("dur", "Resubmit with DUR/PPS codes"),
        ],
        error_messages={"required": "Choose what to do with this claim."},
    )
    reason = text(200, label="Why (bill as cash)")
    clarification = forms.ChoiceField(choices=_CLARIFICATIONS, required=False, label="Code")
    days_supply = forms.IntegerField(min_value=1, max_value=365, required=False, label="Days")
    quantity = forms.DecimalField(
        max_digits=10, decimal_places=3, min_value=Decimal("0.001"), required=False, label="Qty"
    )
    reason_for_service = _code("E4 reason")
    professional_service = _code("E5 service")
    result_of_service = _code("E6 result")


def _claim(actor: User, pk: int) -> Claim:
    found = (
        Claim.objects.filter(pk=pk, site_id=actor.site_id)
        .select_related("fill__prescription__patient", "plan__payer", "coverage")
        .first()
    )
    if found is None:
        raise NotFound("No such claim at this pharmacy.")
    return found


def _cases(claims: list[Claim], today: dt.date) -> dict[tuple[int, int], dict[str, PriorAuth]]:
    """For each (prescription, plan) of the queue: its open case and the approval in effect
    today, in one query."""
    rx_ids = {c.fill.prescription_id for c in claims}
    found: dict[tuple[int, int], dict[str, PriorAuth]] = {}
    rows = PriorAuth.objects.filter(
        prescription_id__in=rx_ids, status__in=[*PA_OPEN, PriorAuthStatus.APPROVED]
    ).order_by("approved_to", "pk")
    for pa in rows:
        slot = found.setdefault((pa.prescription_id, pa.plan_id), {})
        if pa.status in PA_OPEN:
            slot["open"] = pa
        elif pa.approved_from and pa.approved_to and pa.approved_from <= today <= pa.approved_to:
            slot["approved"] = pa  # ordered by end date: the latest-ending one stays
    return found


def _preferred(claims: list[Claim]) -> dict[str, Package]:
    ndcs = {ndc for c in claims for ndc in rejects.preferred_ndcs(c.message)}
    if not ndcs:
        return {}
    return {p.ndc11: p for p in Package.objects.filter(ndc11__in=ndcs).select_related("product")}


def _dur_alerts(claim: Claim) -> list[dict[str, str]]:
    """The payer's DUR answer (AM24) in words: reason (E4), previous fill, its free text."""
    out = []
    for row in claim.dur_response or []:
        if not isinstance(row, dict):
            continue
        out.append(
            {
                "reason": str(row.get("E4", "")),
                "significance": str(row.get("FS", "")),
                "previous_fill": str(row.get("FU", "")),
                "text": " ".join(str(row.get(k, "")) for k in ("FY", "NS") if row.get(k)),
            }
        )
    return out


def _items(
    actor: User, claims: list[Claim], failed: tuple[int, WorkForm] | None
) -> list[dict[str, Any]]:
    from rxdesk.catalog.queries import equivalents

    today = actor.site.today()
    cases = _cases(claims, today)
    preferred = _preferred(claims)
    pharmacist = has(actor, PHARMACIST_CALL)
    items: list[dict[str, Any]] = []
    for claim in claims:
        fill = claim.fill
        rx = fill.prescription
        explained = [rejects.explain(code) for code in claim.reject_codes]
        codes = {r.code for r in explained}
        fixes = {r.fix for r in explained}
        slot = cases.get((rx.pk, claim.plan_id), {})
        dur = _dur_alerts(claim)
        item: dict[str, Any] = {
            "claim": claim,
            "fill": fill,
            "rx": rx,
            "patient": rx.patient,
            "rejects": explained,
            "fixes": {f.value for f in fixes},
            "open_pa": slot.get("open"),
            "approved_pa": slot.get("approved"),
            "next_fill": rejects.next_fill_date(claim.message) if "79" in codes else None,
            "equivalents": equivalents(rx.product) if Fix.ALTERNATIVE in fixes else [],
            "preferred": [
                preferred.get(ndc) or ndc for ndc in rejects.preferred_ndcs(claim.message)
            ],
            "dur": dur,
            "pharmacist": pharmacist,
            "max_days": claim.plan.max_days_supply,
            "form": None,
        }
        if failed is not None and failed[0] == claim.pk:
            item["form"] = failed[1]
        items.append(item)
    return items


def _queue(
    request: HttpRequest,
    actor: User,
    *,
    failed: tuple[int, WorkForm] | None = None,
    status: int = 200,
) -> HttpResponse:
    from rxdesk.claims.queries import reject_queue

    claims = reject_queue(actor=actor)
    items = _items(actor, claims, failed)
    lost = None
    if failed is not None and not any(i["claim"].pk == failed[0] for i in items):
        lost = failed[1]  # the claim left the queue meanwhile: show why above the list
    context = {
        "items": items,
        "count": len(items),
        "lost_form": lost,
        "may_bill": has(actor, Cap.CLAIMS_BILL),
        "today": actor.site.today(),
    }
    return render(request, "claims/rejects_queue.html", context, status=status)


@screen
def reject_queue(request: HttpRequest) -> HttpResponse:
    """The live rejected claims of the pharmacy, oldest first, with the fixes."""
    actor = actor_of(request)
    require(actor, Cap.CLAIMS_VIEW)
    return _queue(request, actor)


def _resubmitted(request: HttpRequest, result: Any) -> HttpResponse:
    level = messages.success if result.patient_pay is not None else messages.warning
    level(request, result.message or "Resubmitted.")
    return redirect("claims_rejects")


def _do(request: HttpRequest, actor: User, claim: Claim, values: dict[str, Any]) -> HttpResponse:
    from rxdesk.claims.services import claim_resubmit, fill_bill_cash

    action = values["action"]
    rx = claim.fill.prescription
    if action == "resubmit":
        return _resubmitted(request, claim_resubmit(actor=actor, claim=claim))
    if action == "cash":
        fill_bill_cash(actor=actor, fill=claim.fill, reason=values["reason"])
        messages.success(
            request,
            f"Rx {rx.number}-{claim.fill.number} is billed as cash: collect the cash price.",
        )
        return redirect("claims_rejects")
    if action == "pa_start":
        case = services_pa.pa_open(actor=actor, prescription=rx, plan=claim.plan, claim=claim)
        messages.success(request, f"PA case for Rx {rx.number} with {claim.plan.name}.")
        return redirect("claims_pa_detail", pk=case.pk)
    if action == "pa_resubmit":
        pa = queries_pa.pa_in_effect(rx.pk, claim.plan_id, actor.site.today())
        if pa is None:
            raise Conflict(
                "No approved PA covers today for this prescription and plan.", field="action"
            )
        return _resubmitted(
            request, claim_resubmit(actor=actor, claim=claim, prior_auth_number=pa.number)
        )
    if action == "vacation":
        require(actor, PHARMACIST_CALL)
        code = values["clarification"] or "3"
        return _resubmitted(
            request, claim_resubmit(actor=actor, claim=claim, clarification_codes=[code])
        )
    if action == "limits":
        days, quantity = values["days_supply"], values["quantity"]
        if days is None and quantity is None:
            raise Invalid("Type the days supply or quantity the plan allows.", field="days_supply")
        return _resubmitted(
            request, claim_resubmit(actor=actor, claim=claim, days_supply=days, quantity=quantity)
        )
    # action == "dur"
    require(actor, PHARMACIST_CALL)
    triplet = {
        k: (values[k] or "").strip().upper()
        for k in ("reason_for_service", "professional_service", "result_of_service")
    }
    missing = [
        {"field": k, "message": "Two characters, e.g. DD, M0, 1G."}
        for k, v in triplet.items()
        if not v
    ]
    if missing:
        raise Invalid(errors=missing)
    return _resubmitted(request, claim_resubmit(actor=actor, claim=claim, dur_pps=[triplet]))


@screen(methods=("POST",))
def reject_work(request: HttpRequest, pk: int) -> HttpResponse:
    """One action on one rejected claim (the buttons of the queue and of a PA case)."""
    actor = actor_of(request)
    require(actor, Cap.CLAIMS_BILL)
    claim = _claim(actor, pk)
    form = WorkForm(request.POST)
    if form.is_valid():
        try:
            return _do(request, actor, claim, form.cleaned_data)
        except FIELD_ERRORS as exc:
            bind_errors(form, exc)
    return _queue(request, actor, failed=(claim.pk, form), status=form.http_status())


urlpatterns: list[URLPattern] = [
    path("rejects/", reject_queue, name="claims_rejects"),
    path("rejects/<int:pk>/", reject_work, name="claims_reject_work"),
]
