"""The compounding home page: what needs doing (preparations waiting for a pharmacist,
overdue cleanroom work, open corrective actions, staff whose competency is lapsed or due,
assessments of risk past review) and the way to every compounding screen. Reads only: each
list comes from its part's query, and a part the user may not see is left out."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import URLPattern, path

from rxdesk.compounding import queries_cleanroom, queries_competency, queries_hd
from rxdesk.compounding.choices import RecordStatus
from rxdesk.compounding.models import CompoundingRecord
from rxdesk.core.capabilities import Cap, require
from rxdesk.core.views import actor_of, screen


@screen
def compounding_home(request: HttpRequest) -> HttpResponse:
    actor = actor_of(request)
    require(actor, Cap.COMPOUNDING_VIEW)
    site = actor.site
    today = site.today()
    counts = {
        status: CompoundingRecord.objects.filter(site=site, status=status).count()
        for status in (RecordStatus.IN_PROGRESS, RecordStatus.AWAITING_VERIFICATION)
    }
    cleanroom = queries_cleanroom.board(actor=actor, today=today)
    category = "3" if cleanroom.category_3 else "2"
    staff = queries_competency.board(actor=actor, category=category, today=today)
    people = [
        {
            "person": row.person,
            "problems": [c for c in row.cells if c.state in ("lapsed", "failed", "due soon")],
        }
        for row in staff.rows
    ]
    hd = queries_hd.hd_list(actor=actor)
    context = {
        "today": today,
        "in_progress": counts[RecordStatus.IN_PROGRESS],
        "awaiting": counts[RecordStatus.AWAITING_VERIFICATION],
        "late": cleanroom.late,
        "actions": cleanroom.actions,
        "people": [p for p in people if p["problems"]],
        "category": category,
        "assessments_due": [a for a in hd.assessments if a.overdue or a.due_soon],
    }
    return render(request, "compounding/home.html", context)


urlpatterns: list[URLPattern] = [
    path("", compounding_home, name="compounding_home"),
]
