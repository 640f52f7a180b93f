"""Billing on the workstation: the claims panel of a fill (bill, cash, go on while the
switch is down, reverse, rebill), a fill's claim history with every message sent, and the
outbox. Parse, call a service, say what happened, go back."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import URLPattern, path, reverse
from django.utils.http import url_has_allowed_host_and_scheme

from rxdesk.claims import queries, services
from rxdesk.claims.choices import ACCEPTED, ClaimStatus
from rxdesk.claims.models import Claim
from rxdesk.core.capabilities import Cap, has, require
from rxdesk.core.errors import DomainError
from rxdesk.core.views import actor_of, screen
from rxdesk.rx.queries_fills import fill_get

POST = ("POST",)


def _back(request: HttpRequest, default: str) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return default


def _say(request: HttpRequest, result: services.BillResult) -> None:
    last = result.claims[-1] if result.claims else None
    if last is not None and last.status in ACCEPTED:
        messages.success(request, result.message)
    elif result.message:
        messages.warning(request, result.message)
    else:
        messages.info(request, "Every plan of this fill has already paid.")


def _history_url(fill_id: int) -> str:
    return reverse("claims_fill", kwargs={"pk": fill_id})


def _run(request: HttpRequest, back: str, action: Any) -> HttpResponse:
    """Run a button's service; a broken rule is said on the page it came from."""
    try:
        action()
    except DomainError as exc:
        messages.error(request, exc.message)
    return redirect(back)


@screen(methods=POST)
def fill_bill(request: HttpRequest, pk: int) -> HttpResponse:
    actor = actor_of(request)
    require(actor, Cap.CLAIMS_BILL)
    fill = fill_get(actor=actor, fill_id=pk)
    back = _back(request, _history_url(fill.pk))
    return _run(request, back, lambda: _say(request, services.claim_bill(actor=actor, fill=fill)))


@screen(methods=POST)
def fill_cash(request: HttpRequest, pk: int) -> HttpResponse:
    actor = actor_of(request)
    require(actor, Cap.CLAIMS_BILL)
    fill = fill_get(actor=actor, fill_id=pk)
    back = _back(request, _history_url(fill.pk))

    def act() -> None:
        services.fill_bill_cash(actor=actor, fill=fill, reason=request.POST.get("reason", ""))
        messages.success(request, "Billed as cash: the patient pays the cash price.")

    return _run(request, back, act)


@screen(methods=POST)
def fill_proceed(request: HttpRequest, pk: int) -> HttpResponse:
    actor = actor_of(request)
    require(actor, Cap.CLAIMS_PROCEED)
    fill = fill_get(actor=actor, fill_id=pk)
    back = _back(request, _history_url(fill.pk))

    def act() -> None:
        decision = services.fill_proceed(
            actor=actor,
            fill=fill,
            collect=request.POST.get("collect", ""),
            reason=request.POST.get("reason", ""),
        )
        messages.success(
            request,
            f"The fill goes on; collect ${decision.collect}. The claim is sent when the switch "
            "answers.",
        )

    return _run(request, back, act)


@screen(methods=POST)
def claim_reverse(request: HttpRequest, pk: int) -> HttpResponse:
    actor = actor_of(request)
    require(actor, Cap.CLAIMS_BILL)
    claim = queries.claim_get(actor=actor, claim_id=pk)
    back = _back(request, _history_url(claim.fill_id))

    def act() -> None:
        done = services.claim_reverse(
            actor=actor, claim=claim, reason=request.POST.get("reason", "")
        )
        if done.status == ClaimStatus.REVERSED:
            messages.success(request, f"Claim to {done.plan.name} reversed.")
        else:
            messages.warning(
                request, f"Reversal to {done.plan.name}: {done.get_status_display().lower()}."
            )

    return _run(request, back, act)


@screen(methods=POST)
def claim_rebill(request: HttpRequest, pk: int) -> HttpResponse:
    actor = actor_of(request)
    require(actor, Cap.CLAIMS_BILL)
    claim = queries.claim_get(actor=actor, claim_id=pk)
    back = _back(request, _history_url(claim.fill_id))
    return _run(
        request, back, lambda: _say(request, services.claim_rebill(actor=actor, claim=claim))
    )


@screen
def fill_claims(request: HttpRequest, pk: int) -> HttpResponse:
    """A fill's claims, newest first, with every message sent and answered."""
    actor = actor_of(request)
    require(actor, Cap.CLAIMS_VIEW)
    fill = fill_get(actor=actor, fill_id=pk)
    history = queries.history_of(fill)
    rows: list[dict[str, Any]] = [
        {"claim": c, "transmissions": list(c.transmissions.order_by("pk"))} for c in history
    ]
    context = {"fill": fill, "rx": fill.prescription, "rows": rows}
    return render(request, "claims/fill_claims.html", context)


@screen(methods=("GET", "POST"))
def outbox(request: HttpRequest) -> HttpResponse:
    """What waits for the switch; "Send now" replays it."""
    actor = actor_of(request)
    require(actor, Cap.CLAIMS_BILL if request.method == "POST" else Cap.CLAIMS_VIEW)
    waiting: list[Claim] = queries.outbox(actor=actor)
    if request.method == "POST":
        try:
            summary = services.outbox_replay(actor=actor)
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            messages.info(
                request,
                f"Sent {summary.sent}: {summary.paid} paid, {summary.rejected} rejected, "
                f"{summary.reversed} reversed; {summary.still_waiting} still waiting.",
            )
        return redirect("claims_outbox")
    context = {"waiting": waiting, "may_send": has(actor, Cap.CLAIMS_BILL)}
    return render(request, "claims/outbox.html", context)


urlpatterns: list[URLPattern] = [
    path("fills/<int:pk>/", fill_claims, name="claims_fill"),
    path("fills/<int:pk>/bill/", fill_bill, name="claims_fill_bill"),
    path("fills/<int:pk>/cash/", fill_cash, name="claims_fill_cash"),
    path("fills/<int:pk>/proceed/", fill_proceed, name="claims_fill_proceed"),
    path("claims/<int:pk>/reverse/", claim_reverse, name="claims_claim_reverse"),
    path("claims/<int:pk>/rebill/", claim_rebill, name="claims_claim_rebill"),
    path("outbox/", outbox, name="claims_outbox"),
]
