"""Outreach lists: the home page — four lists as tabs (keys 1–4), their filters, a CSV of
each, and a contact recorded inline on each row (htmx). Opening or exporting a list is
recorded as PHI access (rxdesk.outreach.services.outreach_list_open)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import URLPattern, path, reverse

from rxdesk.core.capabilities import Cap, require
from rxdesk.core.forms import FIELD_ERRORS, RxForm, bind_errors, query_string
from rxdesk.core.views import actor_of, is_partial, screen
from rxdesk.immunizations.queries_outreach import GROUPS as VACCINE_GROUPS
from rxdesk.outreach import pdc, queries, services
from rxdesk.outreach.choices import ListKind, Outcome
from rxdesk.outreach.models import NOTE_MAX

SHOWN = 500
TABS = [(str(i), kind) for i, kind in enumerate(ListKind, start=1)]


class FilterForm(RxForm):
    """The filters of every list; each tab shows only its own."""

    ahead = forms.IntegerField(
        required=False, min_value=0, max_value=queries.AHEAD_MAX, label="Runs out within (days)"
    )
    behind = forms.IntegerField(
        required=False, min_value=0, max_value=queries.BEHIND_MAX, label="Ran out up to (days ago)"
    )
    days = forms.IntegerField(
        required=False,
        min_value=queries.PERIOD_MIN,
        max_value=queries.PERIOD_MAX,
        label="Period (days)",
    )
    group = forms.ChoiceField(required=False, label="Drugs")

    FOR = {
        ListKind.REFILLS: ("ahead", "behind"),
        ListKind.ADHERENCE: ("days", "group"),
        ListKind.VACCINES: ("group",),
        ListKind.SYNC: (),
    }

    def __init__(self, *args: Any, kind: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name in list(self.fields):
            if name not in self.FOR[ListKind(kind)]:
                del self.fields[name]
        if "group" in self.fields:
            field = self.fields["group"]
            assert isinstance(field, forms.ChoiceField)
            if kind == ListKind.VACCINES:
                field.label = "Vaccine"
                field.choices = [("", "Every vaccine"), *VACCINE_GROUPS]
            else:
                field.choices = pdc.FILTERS
        for field in self.fields.values():
            field.widget.attrs.pop("autofocus", None)


class ContactForm(RxForm):
    patient = forms.IntegerField(min_value=1, max_value=2**63 - 1, widget=forms.HiddenInput)
    kind = forms.ChoiceField(choices=ListKind.choices, widget=forms.HiddenInput)
    outcome = forms.ChoiceField(choices=[("", "Outcome…"), *Outcome.choices], label="Outcome")
    note = forms.CharField(max_length=NOTE_MAX, required=False, label="Note")


def _kind(request: HttpRequest) -> ListKind:
    value = request.GET.get("list", "")
    return ListKind(value) if value in ListKind.values else ListKind.REFILLS


@screen
def outreach_home(request: HttpRequest) -> HttpResponse:
    """One list at a time (``?list=refills|adherence|vaccines|sync``), most urgent first;
    ``&format=csv`` for the whole list as a file."""
    actor = actor_of(request)
    require(actor, Cap.OUTREACH_VIEW)
    kind = _kind(request)
    data = request.GET.copy()
    data.pop("list", None)
    data.pop("format", None)
    form = FilterForm(data or None, kind=kind)
    filters: dict[str, Any] = {}
    if form.is_bound and form.is_valid():
        filters = {k: v for k, v in form.cleaned_data.items() if v not in (None, "")}
    if request.GET.get("format") == "csv" and not form.errors:
        listing = services.outreach_list_open(actor=actor, kind=kind, output="csv", filters=filters)
        response = HttpResponse(
            queries.listing_csv(listing), content_type="text/csv; charset=utf-8"
        )
        name = f"outreach-{kind.value}-{listing.today:%Y%m%d}.csv"
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        response["Cache-Control"] = "private, no-store"
        return response
    listing = services.outreach_list_open(
        actor=actor, kind=kind, output="screen", filters=filters, shown=SHOWN
    )
    cols = queries.COLUMNS[kind]
    context = {
        "kind": kind,
        "tabs": TABS,
        "form": form,
        "listing": listing,
        "rows": listing.rows[:SHOWN],
        "lines": [
            (r, [(k, r.figures.get(k), isinstance(r.figures.get(k), dt.date)) for k, _ in cols])
            for r in listing.rows[:SHOWN]
        ],
        "columns": queries.COLUMNS[kind],
        "outcomes": Outcome.choices,
        "csv_query": query_string({"list": kind.value, **listing.filters, "format": "csv"}),
        "today": listing.today,
    }
    return render(request, "outreach/home.html", context, status=form.http_status())


@screen(methods=("POST",))
def outreach_contact(request: HttpRequest) -> HttpResponse:
    """Record how a call, text or visit from a list ended (inline on the row with htmx)."""
    actor = actor_of(request)
    require(actor, Cap.OUTREACH_VIEW)
    form = ContactForm(request.POST)
    last = None
    if form.is_valid():
        try:
            contact = services.outreach_contact_record(
                actor=actor,
                patient_id=form.cleaned_data["patient"],
                kind=form.cleaned_data["kind"],
                outcome=form.cleaned_data["outcome"],
                note=form.cleaned_data["note"],
            )
        except FIELD_ERRORS as exc:
            bind_errors(form, exc)
        else:
            if not is_partial(request):
                return redirect(f"{reverse('outreach_home')}?list={contact.kind}")
            last = queries.last_contacts(actor.site, contact.kind, [contact.patient_id]).get(
                contact.patient_id
            )
            form = ContactForm(initial={"patient": contact.patient_id, "kind": contact.kind})
    context = {
        "form": form,
        "last": last,
        "patient_id": request.POST.get("patient", ""),
        "kind": request.POST.get("kind", ""),
        "outcomes": Outcome.choices,
    }
    template = "outreach/_contact.html" if is_partial(request) else "outreach/contact.html"
    return render(request, template, context, status=form.http_status())


urlpatterns: list[URLPattern] = [
    path("", outreach_home, name="outreach_home"),
    path("contact/", outreach_contact, name="outreach_contact"),
]
