"""The patient care home page: what needs doing, and the way into each part. Reads
only (a handful of counts); a part the user may not see is left out."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import URLPattern, path

from rxdesk.core.capabilities import Cap, has
from rxdesk.core.errors import Forbidden
from rxdesk.core.views import actor_of, screen


@screen
def care_home(request: HttpRequest) -> HttpResponse:
    actor = actor_of(request)
    if not any(has(actor, cap) for cap in (Cap.CARE_VIEW, Cap.CARE_EVENT, Cap.CARE_QI_REPORT)):
        raise Forbidden("Your role does not include patient care.")
    return render(request, "care/home.html", {})


urlpatterns: list[URLPattern] = [
    path("", care_home, name="care_home"),
]
