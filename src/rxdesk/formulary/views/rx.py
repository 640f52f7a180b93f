"""The "Substitution and interchange" screen of a prescription: its DAW code in words, the
A-rated equivalents ranked, and the approved interchange suggestions with their dose
conversion; a pharmacist accepts or declines each."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import URLPattern, path

from rxdesk.core.capabilities import Cap, has, require
from rxdesk.core.forms import FIELD_ERRORS, bind_errors
from rxdesk.core.models import User
from rxdesk.core.views import actor_of, screen
from rxdesk.formulary import queries, services
from rxdesk.formulary.forms import DecideForm
from rxdesk.rx.models import Prescription


def _page(
    request: HttpRequest,
    actor: User,
    rx: Prescription,
    *,
    form: DecideForm | None = None,
    status: int = 200,
) -> HttpResponse:
    context: dict[str, Any] = {
        "rx": rx,
        "offer": queries.substitution_offer(actor=actor, prescription=rx),
        "suggestions": queries.interchange_suggestions(actor=actor, prescription=rx),
        "decisions": queries.decisions_for(actor=actor, prescription=rx),
        "may_decide": has(actor, Cap.INTERCHANGE_APPLY),
        "form": form,
    }
    return render(request, "formulary/rx.html", context, status=status)


@screen
def formulary_rx(request: HttpRequest, pk: int) -> HttpResponse:
    actor = actor_of(request)
    rx = queries.prescription_get(actor=actor, prescription_id=pk)
    return _page(request, actor, rx)


@screen(methods=("POST",))
def formulary_rx_decide(request: HttpRequest, pk: int) -> HttpResponse:
    actor = actor_of(request)
    require(actor, Cap.INTERCHANGE_APPLY)
    rx = queries.prescription_get(actor=actor, prescription_id=pk)
    form = DecideForm(request.POST)
    if form.is_valid():
        v = form.cleaned_data
        try:
            protocol = queries.protocol_get(actor=actor, protocol_id=v["protocol"])
            decision = services.interchange_decide(
                actor=actor,
                prescription=rx,
                protocol=protocol,
                accept=v["decision"] == "accept",
                note=v["note"],
                prescriber_notified=v["prescriber_notified"] or "",
                directions=v["directions"],
            )
        except FIELD_ERRORS as exc:
            bind_errors(form, exc)
        else:
            if decision.new_prescription is not None:
                messages.success(
                    request,
                    f"Interchange accepted: Rx {decision.new_prescription.number} replaces "
                    f"Rx {rx.number}.",
                )
                return redirect("formulary_rx", pk=decision.new_prescription.pk)
            messages.success(request, "Interchange declined and recorded.")
            return redirect("formulary_rx", pk=rx.pk)
    return _page(request, actor, rx, form=form, status=form.http_status())


urlpatterns: list[URLPattern] = [
    path("rx/<int:pk>/", formulary_rx, name="formulary_rx"),
    path("rx/<int:pk>/decide/", formulary_rx_decide, name="formulary_rx_decide"),
]
