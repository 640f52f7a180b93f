"""Formulary and interchange: the home page."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import URLPattern, path

from rxdesk.core.capabilities import Cap, has
from rxdesk.core.errors import Forbidden
from rxdesk.core.views import actor_of, screen


@screen
def formulary_home(request: HttpRequest) -> HttpResponse:
    actor = actor_of(request)
    if not any(has(actor, cap) for cap in (Cap.FORMULARY_VIEW,)):
        raise Forbidden("Your role does not include formulary and interchange.")
    return render(request, "formulary/home.html", {"today": actor.site.today()})


urlpatterns: list[URLPattern] = [
    path("", formulary_home, name="formulary_home"),
]
