"""Reads of staff competency: a person's results as the pure rules take them, why a person
may not compound a category today (rxdesk.compounding.competency), the site's board of
staff × evaluations, and one person's history and standing."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from rxdesk.compounding import competency
from rxdesk.compounding.models import CompetencyResult
from rxdesk.core.capabilities import Cap, require
from rxdesk.core.choices import Role
from rxdesk.core.errors import Invalid, NotFound
from rxdesk.core.models import User

# The staff who compound or check compounding (trainees, inventory specialists, auditors and
# admins do not).
STAFF_ROLES = (Role.TECHNICIAN, Role.PHARMACIST, Role.PHARMACIST_IN_CHARGE)
DEFAULT_CATEGORY = "2"
MAX_ID = 2**63 - 1


def _result(r: CompetencyResult) -> competency.Result:
    return competency.Result(
        kind=r.kind, performed_on=r.performed_on, passed=r.passed, initial=r.initial
    )


def results_of(person: User) -> list[competency.Result]:
    """Every evaluation on file for ``person`` at the person's site, oldest first."""
    rows = CompetencyResult.objects.filter(person=person, site_id=person.site_id).order_by(
        "performed_on", "pk"
    )
    return [_result(r) for r in rows]


def lapses_for(
    person: User, category: str, *, hazardous: bool = False, today: dt.date
) -> list[str]:
    """Why ``person`` may not be recorded as compounding a ``category`` preparation on
    ``today`` (empty: they may)."""
    return competency.lapses(results_of(person), category, hazardous=hazardous, today=today)


# --- The board -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Clearance:
    """Whether a person may compound a category today, and why not."""

    category: str
    reasons: list[str]
    requirements: list[competency.Standing]

    @property
    def ok(self) -> bool:
        return not self.reasons

    @property
    def label(self) -> str:
        return competency.category_words(self.category)


@dataclass(frozen=True)
class BoardRow:
    person: User
    cells: list[competency.Standing]
    clearances: list[Clearance]

    @property
    def lapsed(self) -> bool:
        """Some evaluation is lapsed or failed (by the board's category)."""
        return any(c.state in ("lapsed", "failed") for c in self.cells)


@dataclass(frozen=True)
class Board:
    category: str
    today: dt.date
    kinds: list[competency.Requirement]
    rows: list[BoardRow]


def check_category(category: str | None) -> str:
    """A category of the board, or :class:`Invalid` naming ``category``."""
    value = DEFAULT_CATEGORY if category in (None, "") else category
    if value not in competency.CATEGORIES:
        raise Invalid("Category must be nonsterile, immediate-use, 1, 2 or 3.", field="category")
    return str(value)


def clearances(held: Sequence[competency.Result], *, today: dt.date) -> list[Clearance]:
    """For each category, least demanding first: may the person compound it today?"""
    return [
        Clearance(
            category=category,
            reasons=competency.lapses(held, category, today=today),
            requirements=[
                competency.standing(held, need, today=today)
                for need in competency.requirements(category)
            ],
        )
        for category in competency.CATEGORIES
    ]


def staff_of(actor: User) -> list[User]:
    """The active staff of the actor's site who compound or check compounding."""
    return list(
        User.objects.filter(site_id=actor.site_id, is_active=True, role__in=STAFF_ROLES).order_by(
            "last_name", "first_name", "username"
        )
    )


def board(*, actor: User, category: str | None = None, today: dt.date | None = None) -> Board:
    """The site's staff × evaluations: the last of each kind, when it is due (by how often
    ``category`` — the most demanding the site makes — asks for it), its state, and per
    category whether the person may compound now and why not. Two queries."""
    require(actor, Cap.COMPOUNDING_VIEW)
    category = check_category(category)
    day = today or actor.site.today()
    people = staff_of(actor)
    held: dict[int, list[competency.Result]] = defaultdict(list)
    rows = CompetencyResult.objects.filter(
        site_id=actor.site_id, person_id__in=[p.pk for p in people]
    ).order_by("performed_on", "pk")
    for r in rows:
        held[r.person_id].append(_result(r))
    kinds = [
        competency.Requirement(kind, competency.months_for(kind, category))
        for kind in competency.KINDS
    ]
    return Board(
        category=category,
        today=day,
        kinds=kinds,
        rows=[
            BoardRow(
                person=p,
                cells=[competency.standing(held[p.pk], k, today=day) for k in kinds],
                clearances=clearances(held[p.pk], today=day),
            )
            for p in people
        ],
    )


# --- One person ------------------------------------------------------------------------------


@dataclass(frozen=True)
class PersonStanding:
    person: User
    today: dt.date
    history: list[CompetencyResult]
    clearances: list[Clearance]
    hazardous: competency.Standing
    initially_qualified: bool


def person_get(*, actor: User, user_id: int) -> User:
    """A member of staff of the actor's site (another pharmacy's people do not exist)."""
    require(actor, Cap.COMPOUNDING_VIEW)
    if not 1 <= user_id <= MAX_ID:
        raise NotFound("No such member of staff at this pharmacy.")
    found = User.objects.filter(pk=user_id, site_id=actor.site_id).first()
    if found is None:
        raise NotFound("No such member of staff at this pharmacy.")
    return found


def person_standing(*, actor: User, person: User, today: dt.date | None = None) -> PersonStanding:
    """A person's evaluations (newest first) and, per category, whether they may compound
    it today and why not; hazardous-drug training on its own line."""
    require(actor, Cap.COMPOUNDING_VIEW)
    if person.site_id != actor.site_id:
        raise NotFound("No such member of staff at this pharmacy.")
    day = today or actor.site.today()
    history = list(
        CompetencyResult.objects.filter(person=person, site_id=actor.site_id).order_by(
            "-performed_on", "-pk"
        )
    )
    held = [_result(r) for r in reversed(history)]
    return PersonStanding(
        person=person,
        today=day,
        history=history,
        clearances=clearances(held, today=day),
        hazardous=competency.standing(
            held,
            competency.Requirement(competency.HD_TRAINING, 12),
            today=day,
        ),
        initially_qualified=competency.initially_qualified(held),
    )
