"""Running the pharmacy: one page that leads to the people, the logs, the daily reports,
the metrics and the programs, each shown only to a role that may open it. Reads nothing
but the user's capabilities."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import URLPattern, path

from rxdesk.core.capabilities import Cap, has
from rxdesk.core.errors import Forbidden
from rxdesk.core.views import actor_of, screen

# Any one of these opens the page (each section is gated by its own in the template).
RUNNING_CAPS = (
    Cap.PEOPLE_VIEW,
    Cap.PEOPLE_CE,
    Cap.DUTY_VIEW,
    Cap.OPS_VIEW,
    Cap.REPORTS_DAILY,
    Cap.METRICS_VIEW,
    Cap.P340B_VIEW,
    Cap.SYNC_VIEW,
    Cap.FORMULARY_VIEW,
    Cap.OUTREACH_VIEW,
)


@screen
def running_home(request: HttpRequest) -> HttpResponse:
    actor = actor_of(request)
    if not any(has(actor, cap) for cap in RUNNING_CAPS):
        raise Forbidden("Your role does not include running the pharmacy.")
    return render(request, "reports/hub.html", {"today": actor.site.today()})


urlpatterns: list[URLPattern] = [
    path("", running_home, name="running_home"),
]
