"""Reads of staff competency: a person's results as the pure rules take them, and why a
person may not compound a category today (rxdesk.compounding.competency)."""

from __future__ import annotations

import datetime as dt

from rxdesk.compounding import competency
from rxdesk.compounding.models import CompetencyResult
from rxdesk.core.models import User


def results_of(person: User) -> list[competency.Result]:
    """Every evaluation on file for ``person`` at the person's site, oldest first."""
    rows = CompetencyResult.objects.filter(person=person, site_id=person.site_id).order_by(
        "performed_on", "pk"
    )
    return [
        competency.Result(
            kind=r.kind, performed_on=r.performed_on, passed=r.passed, initial=r.initial
        )
        for r in rows
    ]


def lapses_for(
    person: User, category: str, *, hazardous: bool = False, today: dt.date
) -> list[str]:
    """Why ``person`` may not be recorded as compounding a ``category`` preparation on
    ``today`` (empty: they may)."""
    return competency.lapses(results_of(person), category, hazardous=hazardous, today=today)
