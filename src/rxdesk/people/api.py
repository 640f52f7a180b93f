"""People and training: the API (``/people``). Parse, call rxdesk.people services and
queries, serialize.

Everyone who works here reads their own record (``/people/me``) and records their own CE
and precepting hours (people.ce); people.view reads anyone's record, the alerts and the
matrix; people.train assigns plans, records assessments and signs precepting; people.setup
keeps the skills and the renewal rules."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema, Status

from rxdesk.core.capabilities import Cap
from rxdesk.core.models import User
from rxdesk.institutional.api_common import StrictIn, gate, user_of
from rxdesk.people import acpe, queries, services
from rxdesk.people.models import (
    CompetencyAssessment,
    ContinuingEducation,
    PeopleSettings,
    PreceptorshipEntry,
    Skill,
    TrainingPlan,
)

router = Router(tags=["People and training"])

MAX_ID = 2**63 - 1


# --- Input ------------------------------------------------------------------------------------


class PeopleSettingsIn(StrictIn):
    alert_window_days: int = Field(..., ge=1, le=365)
    tech_ce_hours: Decimal = Field(..., ge=0, le=200, decimal_places=2)
    tech_ce_law_hours: Decimal = Field(..., ge=0, le=200, decimal_places=2)
    tech_ce_safety_hours: Decimal = Field(..., ge=0, le=200, decimal_places=2)
    tech_cycle_months: int = Field(..., ge=1, le=60)
    rph_ce_hours: Decimal = Field(..., ge=0, le=200, decimal_places=2)
    rph_ce_law_hours: Decimal = Field(..., ge=0, le=200, decimal_places=2)
    rph_ce_safety_hours: Decimal = Field(..., ge=0, le=200, decimal_places=2)
    rph_cycle_months: int = Field(..., ge=1, le=60)


class PeopleSkillIn(StrictIn):
    code: str = Field(..., min_length=1, max_length=20)
    name: str = Field(..., min_length=1, max_length=services.NAME_MAX)
    category: str = Field(..., max_length=20)
    renew_months: int = Field(12, ge=0, le=120)


class PeopleSkillPatch(StrictIn):
    name: str | None = Field(None, min_length=1, max_length=services.NAME_MAX)
    category: str | None = Field(None, max_length=20)
    renew_months: int | None = Field(None, ge=0, le=120)
    active: bool | None = None


class PeoplePlanIn(StrictIn):
    trainee_id: int = Field(..., ge=1, le=MAX_ID)
    title: str = Field(..., min_length=1, max_length=services.TITLE_MAX)
    started_on: dt.date
    due_on: dt.date
    skill_ids: list[int] = Field(..., min_length=1, max_length=100)


class PeopleAssessmentIn(StrictIn):
    person_id: int = Field(..., ge=1, le=MAX_ID)
    skill_id: int = Field(..., ge=1, le=MAX_ID)
    assessed_on: dt.date
    method: str = Field(..., max_length=20)
    result: str = Field(..., max_length=10, description="pass, fail or retrain")
    score: Decimal | None = Field(None, ge=0, le=100, decimal_places=2)
    notes: str = Field("", max_length=services.TEXT_MAX)


class PeoplePreceptingIn(StrictIn):
    trainee_id: int = Field(..., ge=1, le=MAX_ID)
    preceptor_id: int = Field(..., ge=1, le=MAX_ID)
    on: dt.date
    hours: Decimal = Field(..., gt=0, le=24, decimal_places=2)
    activities: str = Field(..., min_length=1, max_length=services.TEXT_MAX)


class PeopleCeIn(StrictIn):
    provider: str = Field(..., min_length=1, max_length=services.PROVIDER_MAX)
    title: str = Field(..., min_length=1, max_length=services.CE_TITLE_MAX)
    completed_on: dt.date
    hours: Decimal = Field(..., gt=0, le=100, decimal_places=2)
    uan: str = Field("", max_length=30, description="ACPE UAN, e.g. 0197-0000-23-104-H05-T")
    topic: str = Field("", max_length=2, description="Without a UAN: 01 to 08 (04 by default)")
    certificate_number: str = Field("", max_length=services.CERT_MAX)


class PeopleCeErrorIn(StrictIn):
    reason: str = Field(..., min_length=1, max_length=services.REASON_MAX)


class PeopleListQuery(Schema):
    person_id: int | None = Field(None, ge=1, le=MAX_ID)


# --- Output -----------------------------------------------------------------------------------


class PeopleSettingsOut(Schema):
    alert_window_days: int
    tech_ce_hours: Decimal
    tech_ce_law_hours: Decimal
    tech_ce_safety_hours: Decimal
    tech_cycle_months: int
    rph_ce_hours: Decimal
    rph_ce_law_hours: Decimal
    rph_ce_safety_hours: Decimal
    rph_cycle_months: int


class PeopleSkillOut(Schema):
    id: int
    code: str
    name: str
    category: str
    renew_months: int
    active: bool


class PeoplePlanItemOut(Schema):
    skill_id: int
    skill_name: str
    due_on: dt.date
    completed_by_id: int | None


class PeoplePlanOut(Schema):
    id: int
    trainee_id: int
    title: str
    started_on: dt.date
    due_on: dt.date
    status: str
    completed_on: dt.date | None
    items: list[PeoplePlanItemOut]


class PeopleAssessmentOut(Schema):
    id: int
    person_id: int
    skill_id: int
    skill_name: str
    assessor_id: int
    assessor_name: str
    assessed_on: dt.date
    method: str
    result: str
    score: Decimal | None
    next_due: dt.date | None
    notes: str


class PeoplePreceptingOut(Schema):
    id: int
    trainee_id: int
    preceptor_id: int
    on: dt.date
    hours: Decimal
    activities: str
    signed_at: dt.datetime | None


class PeopleCeOut(Schema):
    id: int
    person_id: int
    provider: str
    title: str
    uan: str
    topic: str
    topic_label: str
    completed_on: dt.date
    hours: Decimal
    certificate_number: str
    status: str
    error_reason: str


class PeopleAlertOut(Schema):
    person_id: int
    person_name: str
    kind: str
    what: str
    due_on: dt.date
    lapsed: bool
    detail: str
    words: str


class PeopleCredentialOut(Schema):
    kind: str
    label: str
    number: str
    expires: dt.date | None
    state: str


class PeopleStandingOut(Schema):
    skill_id: int
    skill_name: str
    state: str
    due_on: dt.date | None


class PeopleCeProgressOut(Schema):
    renewal: str
    cycle_start: dt.date
    cycle_end: dt.date
    required: Decimal
    earned: Decimal
    law: Decimal
    safety: Decimal
    short_total: Decimal
    short_law: Decimal
    short_safety: Decimal
    met: bool


class PeopleRecordOut(Schema):
    id: int
    name: str
    role: str
    credentials: list[PeopleCredentialOut]
    skills: list[PeopleStandingOut]
    plans: list[PeoplePlanOut]
    precepting_hours: Decimal
    precepting_signed_hours: Decimal
    ce_progress: PeopleCeProgressOut | None


class PeopleMatrixCellOut(Schema):
    skill_id: int
    state: str
    due_on: dt.date | None


class PeopleMatrixRowOut(Schema):
    person_id: int
    person_name: str
    cells: list[PeopleMatrixCellOut]


class PeopleMatrixOut(Schema):
    skills: list[PeopleSkillOut]
    rows: list[PeopleMatrixRowOut]


# --- Serializers ------------------------------------------------------------------------------


def _settings(row: PeopleSettings) -> dict[str, Any]:
    return {f: getattr(row, f) for f in services.SETTINGS_FIELDS}


def _skill(s: Skill) -> dict[str, Any]:
    return {
        "id": s.pk,
        "code": s.code,
        "name": s.name,
        "category": s.category,
        "renew_months": s.renew_months,
        "active": s.active,
    }


def _plan(p: TrainingPlan) -> dict[str, Any]:
    return {
        "id": p.pk,
        "trainee_id": p.trainee_id,
        "title": p.title,
        "started_on": p.started_on,
        "due_on": p.due_on,
        "status": p.status,
        "completed_on": p.completed_on,
        "items": [
            {
                "skill_id": i.skill_id,
                "skill_name": i.skill.name,
                "due_on": i.due_on,
                "completed_by_id": i.completed_by_id,
            }
            for i in p.items.all()
        ],
    }


def _assessment(a: CompetencyAssessment) -> dict[str, Any]:
    return {
        "id": a.pk,
        "person_id": a.person_id,
        "skill_id": a.skill_id,
        "skill_name": a.skill.name,
        "assessor_id": a.assessor_id,
        "assessor_name": a.assessor_name,
        "assessed_on": a.assessed_on,
        "method": a.method,
        "result": a.result,
        "score": a.score,
        "next_due": a.next_due,
        "notes": a.notes,
    }


def _precepting(e: PreceptorshipEntry) -> dict[str, Any]:
    return {
        "id": e.pk,
        "trainee_id": e.trainee_id,
        "preceptor_id": e.preceptor_id,
        "on": e.on,
        "hours": e.hours,
        "activities": e.activities,
        "signed_at": e.signed_at,
    }


def _ce(c: ContinuingEducation) -> dict[str, Any]:
    return {
        "id": c.pk,
        "person_id": c.person_id,
        "provider": c.provider,
        "title": c.title,
        "uan": c.uan,
        "topic": c.topic,
        "topic_label": acpe.topic_label(c.topic),
        "completed_on": c.completed_on,
        "hours": c.hours,
        "certificate_number": c.certificate_number,
        "status": c.status,
        "error_reason": c.error_reason,
    }


def _record(r: queries.PersonRecord) -> dict[str, Any]:
    ce = r.ce_standing
    return {
        "id": r.person.pk,
        "name": r.person.display_name,
        "role": r.person.role,
        "credentials": [
            {
                "kind": c.kind,
                "label": c.label,
                "number": c.number,
                "expires": c.expires,
                "state": c.state,
            }
            for c in r.credentials
        ],
        "skills": [
            {
                "skill_id": s.skill.pk,
                "skill_name": s.skill.name,
                "state": s.state,
                "due_on": s.due_on,
            }
            for s in r.standings
        ],
        "plans": [_plan(p) for p in r.plans],
        "precepting_hours": r.precepting_hours,
        "precepting_signed_hours": r.precepting_signed_hours,
        "ce_progress": None
        if ce is None
        else {
            "renewal": ce.label,
            "cycle_start": ce.progress.cycle_start,
            "cycle_end": ce.progress.cycle_end,
            "required": ce.rule.hours,
            "earned": ce.progress.earned,
            "law": ce.progress.law,
            "safety": ce.progress.safety,
            "short_total": ce.progress.short_total,
            "short_law": ce.progress.short_law,
            "short_safety": ce.progress.short_safety,
            "met": ce.progress.met,
        },
    }


def _staff(actor: User, user_id: int) -> User:
    return queries.staff_get(actor=actor, user_id=user_id)


# --- Records, alerts, matrix ------------------------------------------------------------------


@router.get("/me", response=PeopleRecordOut, auth=gate())
def people_me(request: HttpRequest) -> dict[str, Any]:
    actor = user_of(request)
    return _record(queries.person_record(actor=actor, person=actor))


@router.get("/staff/{int:user_id}", response=PeopleRecordOut, auth=gate())
def people_person(request: HttpRequest, user_id: int) -> dict[str, Any]:
    actor = user_of(request)
    person = queries.person_get(actor=actor, user_id=user_id)
    return _record(queries.person_record(actor=actor, person=person))


@router.get("/alerts", response=list[PeopleAlertOut], auth=gate(Cap.PEOPLE_VIEW))
def people_alerts(request: HttpRequest) -> list[dict[str, Any]]:
    actor = user_of(request)
    today = actor.site.today()
    return [
        {
            "person_id": a.person.pk,
            "person_name": a.person.display_name,
            "kind": a.kind,
            "what": a.what,
            "due_on": a.due_on,
            "lapsed": a.lapsed,
            "detail": a.detail,
            "words": a.words(today),
        }
        for a in queries.lapse_alerts(actor.site, today)
    ]


@router.get("/matrix", response=PeopleMatrixOut, auth=gate(Cap.PEOPLE_VIEW))
def people_matrix(request: HttpRequest) -> dict[str, Any]:
    m = queries.training_matrix(actor=user_of(request))
    return {
        "skills": [_skill(s) for s in m.skills],
        "rows": [
            {
                "person_id": row.person.pk,
                "person_name": row.person.display_name,
                "cells": [
                    {"skill_id": c.skill.pk, "state": c.state, "due_on": c.due_on}
                    for c in row.cells
                    if c is not None
                ],
            }
            for row in m.rows
        ],
    }


# --- Settings and skills ----------------------------------------------------------------------


@router.get("/settings", response=PeopleSettingsOut, auth=gate(Cap.PEOPLE_VIEW))
def people_settings_get(request: HttpRequest) -> dict[str, Any]:
    return _settings(queries.settings_of(user_of(request).site))


@router.put("/settings", response=PeopleSettingsOut, auth=gate(Cap.PEOPLE_SETUP))
def people_settings_put(request: HttpRequest, body: PeopleSettingsIn) -> dict[str, Any]:
    return _settings(services.people_settings_set(actor=user_of(request), **body.model_dump()))


@router.get("/skills", response=list[PeopleSkillOut], auth=gate())
def people_skills(request: HttpRequest) -> list[dict[str, Any]]:
    return [_skill(s) for s in queries.skills_list(actor=user_of(request))]


@router.post("/skills", response={201: PeopleSkillOut}, auth=gate(Cap.PEOPLE_SETUP))
def people_skill_create(request: HttpRequest, body: PeopleSkillIn) -> Any:
    row = services.skill_create(actor=user_of(request), **body.model_dump())
    return Status(201, _skill(row))


@router.patch("/skills/{int:skill_id}", response=PeopleSkillOut, auth=gate(Cap.PEOPLE_SETUP))
def people_skill_update(
    request: HttpRequest, skill_id: int, body: PeopleSkillPatch
) -> dict[str, Any]:
    actor = user_of(request)
    skill = queries.skill_get(actor=actor, skill_id=skill_id)
    return _skill(services.skill_update(actor=actor, skill=skill, **body.model_dump()))


# --- Plans and assessments --------------------------------------------------------------------


@router.get("/plans", response=list[PeoplePlanOut], auth=gate())
def people_plans(request: HttpRequest, filters: Query[PeopleListQuery]) -> list[dict[str, Any]]:
    return [
        _plan(p) for p in queries.plans_list(actor=user_of(request), person_id=filters.person_id)
    ]


@router.post("/plans", response={201: PeoplePlanOut}, auth=gate(Cap.PEOPLE_TRAIN))
def people_plan_create(request: HttpRequest, body: PeoplePlanIn) -> Any:
    actor = user_of(request)
    skills = [queries.skill_get(actor=actor, skill_id=pk) for pk in body.skill_ids]
    plan = services.training_plan_create(
        actor=actor,
        trainee=_staff(actor, body.trainee_id),
        title=body.title,
        started_on=body.started_on,
        due_on=body.due_on,
        skills=skills,
    )
    return Status(201, _plan(plan))


@router.get("/assessments", response=list[PeopleAssessmentOut], auth=gate())
def people_assessments(
    request: HttpRequest, filters: Query[PeopleListQuery]
) -> list[dict[str, Any]]:
    rows = queries.assessments_list(actor=user_of(request), person_id=filters.person_id)
    return [_assessment(a) for a in rows]


@router.post("/assessments", response={201: PeopleAssessmentOut}, auth=gate(Cap.PEOPLE_TRAIN))
def people_assessment_create(request: HttpRequest, body: PeopleAssessmentIn) -> Any:
    actor = user_of(request)
    row = services.competency_record(
        actor=actor,
        person=_staff(actor, body.person_id),
        skill=queries.skill_get(actor=actor, skill_id=body.skill_id),
        assessed_on=body.assessed_on,
        method=body.method,
        result=body.result,
        score=body.score,
        notes=body.notes,
    )
    return Status(201, _assessment(row))


# --- Precepting -------------------------------------------------------------------------------


@router.get("/precepting", response=list[PeoplePreceptingOut], auth=gate())
def people_precepting(
    request: HttpRequest, filters: Query[PeopleListQuery]
) -> list[dict[str, Any]]:
    rows = queries.precepting_list(actor=user_of(request), person_id=filters.person_id)
    return [_precepting(e) for e in rows]


@router.post("/precepting", response={201: PeoplePreceptingOut}, auth=gate(Cap.PEOPLE_CE))
def people_precepting_log(request: HttpRequest, body: PeoplePreceptingIn) -> Any:
    actor = user_of(request)
    row = services.preceptorship_log(
        actor=actor,
        trainee=_staff(actor, body.trainee_id),
        preceptor=_staff(actor, body.preceptor_id),
        on=body.on,
        hours=body.hours,
        activities=body.activities,
    )
    return Status(201, _precepting(row))


@router.post(
    "/precepting/{int:entry_id}/sign", response=PeoplePreceptingOut, auth=gate(Cap.PEOPLE_TRAIN)
)
def people_precepting_sign(request: HttpRequest, entry_id: int) -> dict[str, Any]:
    actor = user_of(request)
    entry = queries.precepting_get(actor=actor, entry_id=entry_id)
    return _precepting(services.preceptorship_sign(actor=actor, entry=entry))


# --- Continuing education ---------------------------------------------------------------------


@router.get("/ce", response=list[PeopleCeOut], auth=gate())
def people_ce(request: HttpRequest, filters: Query[PeopleListQuery]) -> list[dict[str, Any]]:
    return [_ce(c) for c in queries.ce_list(actor=user_of(request), person_id=filters.person_id)]


@router.post("/ce", response={201: PeopleCeOut}, auth=gate(Cap.PEOPLE_CE))
def people_ce_record(request: HttpRequest, body: PeopleCeIn) -> Any:
    row = services.ce_record(actor=user_of(request), **body.model_dump())
    return Status(201, _ce(row))


@router.post("/ce/{int:ce_id}/entered-in-error", response=PeopleCeOut, auth=gate(Cap.PEOPLE_CE))
def people_ce_error(request: HttpRequest, ce_id: int, body: PeopleCeErrorIn) -> dict[str, Any]:
    actor = user_of(request)
    row = services.ce_delete(
        actor=actor, entry=queries.ce_get(actor=actor, ce_id=ce_id), reason=body.reason
    )
    return _ce(row)
