"""Metrics with charts: screens."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import URLPattern, path

from rxdesk.core.capabilities import Cap, require
from rxdesk.core.views import actor_of, screen


@screen
def metrics_home(request: HttpRequest) -> HttpResponse:
    actor = actor_of(request)
    require(actor, Cap.METRICS_VIEW)
    return render(request, "reports/metrics.html", {"today": actor.site.today()})


urlpatterns: list[URLPattern] = [
    path("metrics/", metrics_home, name="metrics_home"),
]
