"""The immunizations home page: what needs doing, and the way into each part. Reads
only (a handful of counts); a part the user may not see is left out."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import URLPattern, path

from rxdesk.core.capabilities import Cap, has
from rxdesk.core.errors import Forbidden
from rxdesk.core.views import actor_of, screen


@screen
def immunizations_home(request: HttpRequest) -> HttpResponse:
    actor = actor_of(request)
    if not any(has(actor, cap) for cap in (Cap.IMM_VIEW, Cap.IMM_STOCK, Cap.IMM_REPORT)):
        raise Forbidden("Your role does not include immunizations.")
    return render(request, "immunizations/home.html", {})


urlpatterns: list[URLPattern] = [
    path("", immunizations_home, name="immunizations_home"),
]
