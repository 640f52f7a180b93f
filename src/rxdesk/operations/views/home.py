"""Duty, cleaning, waste and equipment: the home page."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import URLPattern, path

from rxdesk.core.capabilities import Cap, has
from rxdesk.core.errors import Forbidden
from rxdesk.core.views import actor_of, screen


@screen
def operations_home(request: HttpRequest) -> HttpResponse:
    actor = actor_of(request)
    if not any(has(actor, cap) for cap in (Cap.DUTY_VIEW, Cap.OPS_VIEW)):
        raise Forbidden("Your role does not include duty, cleaning, waste and equipment.")
    return render(request, "operations/home.html", {"today": actor.site.today()})


urlpatterns: list[URLPattern] = [
    path("", operations_home, name="operations_home"),
]
