"""Daily reports: screens."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import URLPattern, path

from rxdesk.core.capabilities import Cap, require
from rxdesk.core.views import actor_of, screen


@screen
def reports_daily(request: HttpRequest) -> HttpResponse:
    actor = actor_of(request)
    require(actor, Cap.REPORTS_DAILY)
    return render(request, "reports/daily.html", {"today": actor.site.today()})


urlpatterns: list[URLPattern] = [
    path("daily/", reports_daily, name="reports_daily"),
]
