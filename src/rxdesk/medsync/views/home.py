"""Medication synchronization: the home page."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import URLPattern, path

from rxdesk.core.capabilities import Cap, has
from rxdesk.core.errors import Forbidden
from rxdesk.core.views import actor_of, screen


@screen
def medsync_home(request: HttpRequest) -> HttpResponse:
    actor = actor_of(request)
    if not any(has(actor, cap) for cap in (Cap.SYNC_VIEW,)):
        raise Forbidden("Your role does not include medication synchronization.")
    return render(request, "medsync/home.html", {"today": actor.site.today()})


urlpatterns: list[URLPattern] = [
    path("", medsync_home, name="medsync_home"),
]
