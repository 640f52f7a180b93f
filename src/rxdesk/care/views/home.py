"""The patient-care home page: what needs doing, and the way into each part. Reads only
(a handful of counts); a part the user may not see is left out. The auditor sees the
quality trends, never a patient."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import URLPattern, path

from rxdesk.care import (
    queries_counsel,
    queries_inquiries,
    queries_medrec,
    queries_poct,
    queries_quality,
)
from rxdesk.core.capabilities import Cap, has
from rxdesk.core.errors import Forbidden
from rxdesk.core.views import actor_of, screen


@screen
def care_home(request: HttpRequest) -> HttpResponse:
    actor = actor_of(request)
    if not any(has(actor, cap) for cap in (Cap.CARE_VIEW, Cap.CARE_EVENT, Cap.CARE_QI_REPORT)):
        raise Forbidden("Your role does not include patient care or safety reports.")
    site = actor.site
    context: dict[str, Any] = {"today": site.today()}
    if has(actor, Cap.CARE_VIEW):
        context |= {
            "medrecs": queries_medrec.counts(site=site),
            "counsel": queries_counsel.counts(site=site),
            "callbacks_overdue": queries_inquiries.overdue_count(actor=actor),
            "tests_to_review": queries_poct.unreviewed_count(actor=actor),
            "events_open": queries_quality.open_event_count(site),
        }
    if has(actor, Cap.CARE_EVENT):
        context["my_actions"] = queries_quality.open_action_count(actor=actor)
    return render(request, "care/home.html", context)


urlpatterns: list[URLPattern] = [
    path("", care_home, name="care_home"),
]
