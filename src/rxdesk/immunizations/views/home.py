"""The immunizations home page: what needs doing (doses given today, registry messages
rejected, undelivered or past the state's deadline, vaccine lots without a funding
source), and the way into each part. Reads only; a part the user may not see is left
out."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import URLPattern, path

from rxdesk.core.capabilities import Cap, has
from rxdesk.core.errors import Forbidden
from rxdesk.core.views import actor_of, screen
from rxdesk.immunizations import queries_administer, queries_catalog, queries_registry


@screen
def immunizations_home(request: HttpRequest) -> HttpResponse:
    actor = actor_of(request)
    if not any(has(actor, cap) for cap in (Cap.IMM_VIEW, Cap.IMM_STOCK, Cap.IMM_REPORT)):
        raise Forbidden("Your role does not include immunizations.")
    site = actor.site
    context: dict[str, Any] = {"today": site.today()}
    if has(actor, Cap.IMM_VIEW):
        context["given_today"] = queries_administer.given_today_count(actor=actor)
    if has(actor, Cap.IMM_REGISTRY) or has(actor, Cap.IMM_REPORT):
        context["registry"] = queries_registry.counts(site)
    if has(actor, Cap.IMM_STOCK):
        report = queries_catalog.vaccine_stock(actor=actor, site=site)
        context["unfunded"] = len(report.unfunded)
    return render(request, "immunizations/home.html", context)


urlpatterns: list[URLPattern] = [
    path("", immunizations_home, name="immunizations_home"),
]
