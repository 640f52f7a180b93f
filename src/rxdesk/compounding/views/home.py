"""The compounding home page: what is due (certifications, sampling, cleaning, staff
competency), records waiting for verification, open corrective actions, and the way to
every compounding screen."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import URLPattern, path

from rxdesk.core.capabilities import Cap, require
from rxdesk.core.views import actor_of, screen


@screen
def compounding_home(request: HttpRequest) -> HttpResponse:
    actor = actor_of(request)
    require(actor, Cap.COMPOUNDING_VIEW)
    return render(request, "compounding/home.html", {})


urlpatterns: list[URLPattern] = [
    path("", compounding_home, name="compounding_home"),
]
