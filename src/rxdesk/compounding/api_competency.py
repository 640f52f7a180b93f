"""API of staff competency: the site's board of staff × evaluations, one person's history
and standing per category, and recording an evaluation. Parse, call
rxdesk.compounding.queries_competency / services_competency, serialize.

Reading is compounding.view; recording is compounding.competency (pharmacists and the
pharmacist-in-charge), checked before the body is read. Another pharmacy's people do not
exist here (404)."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema, Status
from pydantic import StrictBool

from rxdesk.compounding import competency, queries_competency, services_competency
from rxdesk.compounding.api_common import StrictIn, gate, user_of
from rxdesk.compounding.models import CompetencyResult
from rxdesk.core.capabilities import Cap
from rxdesk.core.models import User

router = Router(tags=["compounding"])

Kind = Literal[
    "didactic_sterile",
    "didactic_nonsterile",
    "garbing_gft",
    "garbing_nonsterile",
    "media_fill",
    "cleaning",
    "hd_training",
]
CategoryWord = Literal["nonsterile", "immediate-use", "1", "2", "3"]


class BoardQuery(Schema):
    category: CategoryWord = Field(
        "2",
        description="The most demanding category the site makes: it sets how often "
        "fingertip sampling and media fill are due (3: every 3 months; else 6)",
    )


class RequirementOut(Schema):
    kind: str
    label: str
    months: int


class CompetencyStandingOut(Schema):
    kind: str
    label: str
    months: int
    last_on: dt.date | None
    last_passed: bool | None
    due_on: dt.date | None
    state: str = Field(..., description="current, due soon, lapsed, failed or never")


class ClearanceOut(Schema):
    category: str
    label: str
    may_compound: bool
    reasons: list[str] = Field(..., description="Why not, in words (empty: may)")


class ClearanceDetailOut(ClearanceOut):
    requirements: list[CompetencyStandingOut]


class PersonOut(Schema):
    id: int
    name: str
    username: str
    role: str
    role_label: str


class BoardRowOut(PersonOut):
    lapsed: bool = Field(..., description="Some evaluation is lapsed or failed")
    evaluations: list[CompetencyStandingOut]
    categories: list[ClearanceOut]


class CompetencyBoardOut(Schema):
    category: str
    today: dt.date
    kinds: list[RequirementOut]
    staff: list[BoardRowOut]


class CompetencyResultOut(Schema):
    id: int
    person_id: int
    kind: str
    kind_label: str
    performed_on: dt.date
    passed: bool
    initial: bool
    cfu: int | None
    evaluator: str
    note: str
    recorded_at: dt.datetime


class PersonDetailOut(PersonOut):
    active: bool
    today: dt.date
    initially_qualified: bool = Field(
        ..., description="Passed three initial fingertip samples in a row (0 CFU)"
    )
    categories: list[ClearanceDetailOut]
    hazardous_training: CompetencyStandingOut
    history: list[CompetencyResultOut] = Field(..., description="Newest first")


class ResultIn(StrictIn):
    person_id: int = Field(..., ge=1, le=queries_competency.MAX_ID)
    kind: Kind
    performed_on: dt.date
    passed: StrictBool | None = Field(
        None,
        description="Required except for fingertip sampling, whose verdict comes from cfu "
        "(if given it must agree)",
    )
    cfu: int | None = Field(
        None,
        ge=0,
        le=services_competency.MAX_CFU,
        description="Fingertip and thumb sampling: colonies, both hands",
    )
    initial: StrictBool = Field(
        False, description="One of the three initial garbing samples (action level: above 0)"
    )
    note: str = Field("", max_length=services_competency.NOTE_MAX)


def _standing(s: competency.Standing) -> dict[str, Any]:
    return {
        "kind": s.requirement.kind,
        "label": s.requirement.label,
        "months": s.requirement.months,
        "last_on": s.last.performed_on if s.last else None,
        "last_passed": s.last.passed if s.last else None,
        "due_on": s.due_on,
        "state": s.state,
    }


def _clearance(c: queries_competency.Clearance, *, detail: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {
        "category": c.category,
        "label": c.label,
        "may_compound": c.ok,
        "reasons": c.reasons,
    }
    if detail:
        out["requirements"] = [_standing(s) for s in c.requirements]
    return out


def _person(p: User) -> dict[str, Any]:
    return {
        "id": p.pk,
        "name": p.display_name,
        "username": p.username,
        "role": p.role,
        "role_label": p.role_label,
    }


def _result(r: CompetencyResult) -> dict[str, Any]:
    return {
        "id": r.pk,
        "person_id": r.person_id,
        "kind": r.kind,
        "kind_label": r.get_kind_display(),
        "performed_on": r.performed_on,
        "passed": r.passed,
        "initial": r.initial,
        "cfu": r.cfu,
        "evaluator": r.evaluator_name,
        "note": r.note,
        "recorded_at": r.recorded_at,
    }


@router.get(
    "/competency",
    response=CompetencyBoardOut,
    auth=gate(Cap.COMPOUNDING_VIEW),
    summary="Staff competency board: each person's evaluations, due dates and clearances",
)
def competency_board(request: HttpRequest, q: Query[BoardQuery]) -> Any:
    found = queries_competency.board(actor=user_of(request), category=q.category)
    return {
        "category": found.category,
        "today": found.today,
        "kinds": [{"kind": k.kind, "label": k.label, "months": k.months} for k in found.kinds],
        "staff": [
            {
                **_person(row.person),
                "lapsed": row.lapsed,
                "evaluations": [_standing(c) for c in row.cells],
                "categories": [_clearance(c) for c in row.clearances],
            }
            for row in found.rows
        ],
    }


def _detail(actor: User, person: User) -> dict[str, Any]:
    found = queries_competency.person_standing(actor=actor, person=person)
    return {
        **_person(person),
        "active": person.is_active,
        "today": found.today,
        "initially_qualified": found.initially_qualified,
        "categories": [_clearance(c, detail=True) for c in found.clearances],
        "hazardous_training": _standing(found.hazardous),
        "history": [_result(r) for r in found.history],
    }


@router.get(
    "/competency/people/{int:user_id}",
    response=PersonDetailOut,
    auth=gate(Cap.COMPOUNDING_VIEW),
    summary="One person's evaluations and, per category, whether they may compound it",
)
def competency_person(request: HttpRequest, user_id: int) -> Any:
    actor = user_of(request)
    return _detail(actor, queries_competency.person_get(actor=actor, user_id=user_id))


@router.post(
    "/competency/results",
    response={201: CompetencyResultOut},
    auth=gate(Cap.COMPOUNDING_COMPETENCY),
    summary="Record a competency evaluation (never edited afterwards)",
    description="422 names the field: your own evaluation, a date in the future or before "
    "2000, a fingertip sample without its count or with a verdict that contradicts it, "
    "another kind without its verdict. 404 for a person not of this pharmacy or inactive.",
)
def competency_result_create(request: HttpRequest, payload: ResultIn) -> Any:
    actor = user_of(request)
    person = queries_competency.person_get(actor=actor, user_id=payload.person_id)
    made = services_competency.competency_record(
        actor=actor,
        person=person,
        kind=payload.kind,
        performed_on=payload.performed_on,
        passed=payload.passed,
        cfu=payload.cfu,
        initial=payload.initial,
        note=payload.note,
    )
    return Status(201, _result(made))
