"""Workstation screens of patients due for vaccines by age and history: the outreach list,
filtered by vaccine group, with each patient's age, last dose, preferred contact and phone
(CSV too). Opening or exporting it is recorded as PHI access."""

from __future__ import annotations

from typing import Any

from django import forms
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import URLPattern, path

from rxdesk.core.capabilities import Cap, require
from rxdesk.core.forms import RxForm, query_string
from rxdesk.core.views import actor_of, screen
from rxdesk.immunizations import queries_outreach as queries
from rxdesk.immunizations import services_outreach as services

SHOWN = 500


class FilterForm(RxForm):
    group = forms.ChoiceField(required=False, label="Vaccine")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["group"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = [("", "Every vaccine"), *queries.GROUPS]


@screen
def outreach(request: HttpRequest) -> HttpResponse:
    """Patients due for vaccines, overdue first; ``?format=csv`` for a file."""
    actor = actor_of(request)
    require(actor, Cap.IMM_OUTREACH)
    form = FilterForm(request.GET or None)
    group = ""
    if form.is_bound and form.is_valid():
        group = form.cleaned_data["group"] or ""
    listing = queries.due_list(actor.site, group=group)
    if request.GET.get("format") == "csv":
        services.outreach_list_opened(
            actor=actor, listing=listing, shown=[r.patient.pk for r in listing.rows], output="csv"
        )
        response = HttpResponse(queries.due_csv(listing), content_type="text/csv; charset=utf-8")
        name = f"vaccine-outreach-{(group or 'all').lower()}-{listing.today:%Y%m%d}.csv"
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        response["Cache-Control"] = "private, no-store"
        return response
    rows = listing.rows[:SHOWN]
    services.outreach_list_opened(
        actor=actor, listing=listing, shown=[r.patient.pk for r in rows], output="screen"
    )
    context = {
        "form": form,
        "listing": listing,
        "rows": rows,
        "group": group,
        "csv_query": query_string({"group": group, "format": "csv"}),
    }
    return render(request, "immunizations/outreach_list.html", context, status=form.http_status())


urlpatterns: list[URLPattern] = [
    path("outreach/", outreach, name="imm_outreach"),
]
