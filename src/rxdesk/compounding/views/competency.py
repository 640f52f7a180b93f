"""Workstation pages of staff competency: the board of the site's staff × evaluations (due
dates by the most demanding category the site makes, lapsed ones marked in words), and one
person's history and standing per category with the form that records an evaluation.
Parse, call rxdesk.compounding.queries_competency / services_competency, render."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import URLPattern, path

from rxdesk.compounding import competency, queries_competency, services_competency
from rxdesk.compounding.choices import CompetencyKind
from rxdesk.core.capabilities import Cap, has, require
from rxdesk.core.forms import FIELD_ERRORS, DateField, RxForm, bind_errors, choice, flag
from rxdesk.core.models import User
from rxdesk.core.views import FORM, actor_of, posted, screen

CATEGORY_CHOICES = [
    ("nonsterile", "Nonsterile only"),
    ("immediate-use", "Immediate use"),
    ("1", "Category 1"),
    ("2", "Category 2"),
    ("3", "Category 3"),
]
STATE_BADGES = {
    "current": ("ok", "Current"),
    "due soon": ("warn", "Due soon"),
    "lapsed": ("danger", "Lapsed"),
    "failed": ("danger", "Failed"),
    "never": ("", "Not on file"),
}
VERDICTS = [
    ("", "— from the CFU count (fingertip sampling)"),
    ("passed", "Passed"),
    ("failed", "Failed"),
]


class BoardFilter(RxForm):
    category = choice(CATEGORY_CHOICES, label="Most demanding category made here")


class ResultForm(RxForm):
    FIELDSETS = (
        ("Evaluation", ("kind", "performed_on", "verdict", "cfu", "initial_sample", "note")),
    )

    kind = choice([("", "—"), *CompetencyKind.choices], label="Evaluation")
    performed_on = DateField(label="Performed on")
    verdict = choice(VERDICTS, label="Result", required=False)
    cfu = forms.IntegerField(
        required=False,
        min_value=0,
        max_value=services_competency.MAX_CFU,
        label="CFU, both hands",
        help_text="Fingertip and thumb sampling only: initial fails above 0, later above 3.",
    )
    initial_sample = flag(
        "Initial garbing qualification sample",
        "One of the three fingertip samples that must all pass with 0 CFU in a row.",
    )
    note = forms.CharField(
        max_length=services_competency.NOTE_MAX,
        required=False,
        label="Note",
        widget=forms.Textarea(attrs={"rows": 2, "maxlength": services_competency.NOTE_MAX}),
    )

    def values(self) -> dict[str, Any]:
        v = self.cleaned_data
        return {
            "kind": v["kind"],
            "performed_on": v["performed_on"],
            "passed": {"passed": True, "failed": False}.get(v["verdict"]),
            "cfu": v["cfu"],
            "initial": v["initial_sample"],
            "note": v["note"],
        }


RESULT_FIELDS = {"passed": "verdict", "initial": "initial_sample"}


def _badge(state: str) -> tuple[str, str]:
    return STATE_BADGES.get(state, ("", state))


def _cells(standings: list[competency.Standing]) -> list[dict[str, Any]]:
    return [{"s": s, "badge": _badge(s.state)} for s in standings]


@screen
def competency_board(request: HttpRequest) -> HttpResponse:
    """Every member of staff who compounds × every evaluation: last date, due date, state;
    and which categories each may compound today."""
    actor = actor_of(request)
    require(actor, Cap.COMPOUNDING_VIEW)
    data = request.GET if "category" in request.GET else None
    filters = BoardFilter(data, initial={"category": queries_competency.DEFAULT_CATEGORY})
    category = filters.cleaned_data["category"] if data is not None and filters.is_valid() else None
    found = queries_competency.board(actor=actor, category=category)
    rows = [
        {"row": row, "cells": _cells(row.cells), "clearances": row.clearances} for row in found.rows
    ]
    return render(
        request,
        "compounding/competency_board.html",
        {
            "board": found,
            "rows": rows,
            "filters": filters,
            "category_label": competency.category_words(found.category),
            "may_record": has(actor, Cap.COMPOUNDING_COMPETENCY),
        },
    )


def _person_page(
    request: HttpRequest,
    actor: User,
    person: User,
    *,
    form: ResultForm | None = None,
    status: int = 200,
) -> HttpResponse:
    found = queries_competency.person_standing(actor=actor, person=person)
    may_record = has(actor, Cap.COMPOUNDING_COMPETENCY) and person.pk != actor.pk
    return render(
        request,
        "compounding/competency_person.html",
        {
            "person": person,
            "found": found,
            "clearances": [{"c": c, "cells": _cells(c.requirements)} for c in found.clearances],
            "hazardous": {"s": found.hazardous, "badge": _badge(found.hazardous.state)},
            "form": form
            if form is not None
            else ResultForm(initial={"performed_on": actor.site.today()}),
            "may_record": may_record,
        },
        status=status,
    )


@screen(methods=FORM)
def competency_person(request: HttpRequest, pk: int) -> HttpResponse:
    """One person's evaluations and standing; a pharmacist records a new evaluation here."""
    actor = actor_of(request)
    require(actor, Cap.COMPOUNDING_VIEW)
    if request.method == "POST":
        require(actor, Cap.COMPOUNDING_COMPETENCY)
    person = queries_competency.person_get(actor=actor, user_id=pk)
    data = posted(request)
    if data is None:
        return _person_page(request, actor, person)
    form = ResultForm(data)
    if form.is_valid():
        try:
            made = services_competency.competency_record(
                actor=actor, person=person, **form.values()
            )
        except FIELD_ERRORS as exc:
            for error in exc.errors:
                error["field"] = RESULT_FIELDS.get(error.get("field", ""), error.get("field", ""))
            bind_errors(form, exc)
        else:
            messages.success(request, services_competency.describe(made))
            return redirect("compounding_competency_person", pk=person.pk)
    return _person_page(request, actor, person, form=form, status=form.http_status())


urlpatterns: list[URLPattern] = [
    path("competency/", competency_board, name="compounding_competency"),
    path("competency/people/<int:pk>/", competency_person, name="compounding_competency_person"),
]
