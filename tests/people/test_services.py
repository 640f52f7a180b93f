"""Services of people and training: each one's audit event, a broken rule and a forbidden
role (with nothing written)."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest

from rxdesk.core.errors import Conflict, Forbidden, Invalid, NotFound
from rxdesk.core.models import AuditEvent
from rxdesk.people import services
from rxdesk.people.choices import CeStatus, PlanStatus
from rxdesk.people.models import (
    CompetencyAssessment,
    ContinuingEducation,
    PeopleSettings,
    PreceptorshipEntry,
    Skill,
    TrainingPlan,
    TrainingPlanItem,
)
from rxdesk.people.queries import settings_of
from tests.conftest import last_event
from tests.people.setup import skill

MODELS = (
    PeopleSettings,
    Skill,
    TrainingPlan,
    TrainingPlanItem,
    CompetencyAssessment,
    PreceptorshipEntry,
    ContinuingEducation,
)


def counts() -> tuple[int, ...]:
    return (AuditEvent.objects.count(), *(m.objects.count() for m in MODELS))


def event(action: str) -> dict:
    e = last_event()
    assert e.action == action
    return json.loads(e.data)


SETTINGS = {
    "alert_window_days": 30,
    "tech_ce_hours": Decimal("20"),
    "tech_ce_law_hours": Decimal("1"),
    "tech_ce_safety_hours": Decimal("1"),
    "tech_cycle_months": 24,
    "rph_ce_hours": Decimal("30"),
    "rph_ce_law_hours": Decimal("3"),
    "rph_ce_safety_hours": Decimal("2"),
    "rph_cycle_months": 24,
}


# --- Settings ---------------------------------------------------------------------------------


def test_the_pic_sets_the_rules(site, pic):
    row = services.people_settings_set(actor=pic, **SETTINGS)
    assert (row.alert_window_days, row.rph_ce_law_hours, row.updated_by) == (30, Decimal("3"), pic)
    assert event("people.settings.updated") == {
        "alert_window_days": ["60", "30"],
        "rph_ce_law_hours": ["2.00", "3.00"],
        "rph_ce_safety_hours": ["1.00", "2.00"],
    }


def test_parts_larger_than_the_total_are_refused(site, pic):
    before = counts()
    with pytest.raises(Invalid) as exc:
        services.people_settings_set(actor=pic, **{**SETTINGS, "tech_ce_hours": Decimal("1.5")})
    assert exc.value.field == "tech_ce_hours"
    assert counts() == before


@pytest.mark.parametrize("role", ["pharmacist", "technician", "auditor"])
def test_only_the_pic_sets_the_rules(site, role, request):
    before = counts()
    with pytest.raises(Forbidden):
        services.people_settings_set(actor=request.getfixturevalue(role), **SETTINGS)
    assert counts() == before


# --- Skills -----------------------------------------------------------------------------------


def test_the_pic_adds_and_retires_a_skill(site, pic):
    row = services.skill_create(
        actor=pic, code="Robot", name="Counting robot", category="automation", renew_months=12
    )
    assert (row.code, row.site) == ("robot", site)
    assert event("people.skill.created") == {
        "code": "robot",
        "name": "Counting robot",
        "category": "automation",
        "renew_months": 12,
    }
    services.skill_update(actor=pic, skill=row, active=False, renew_months=6)
    assert event("people.skill.updated") == {"active": [True, False], "renew_months": [12, 6]}


def test_a_code_is_a_skill_once(site, pic):
    skill(site, "robot")
    before = counts()
    with pytest.raises(Conflict):
        services.skill_create(
            actor=pic, code="ROBOT", name="Robot", category="automation", renew_months=12
        )
    assert counts() == before


def test_a_technician_adds_no_skill(site, technician):
    before = counts()
    with pytest.raises(Forbidden):
        services.skill_create(
            actor=technician, code="x", name="X", category="other", renew_months=0
        )
    assert counts() == before


def test_another_sites_skill_is_not_found(site, other_site, pic):
    with pytest.raises(NotFound):
        services.skill_update(actor=pic, skill=skill(other_site), name="Mine now")


# --- Plans and assessments --------------------------------------------------------------------


def _plan(site, actor, trainee, *skills):
    today = site.today()
    return services.training_plan_create(
        actor=actor,
        trainee=trainee,
        title="Onboarding",
        started_on=today - dt.timedelta(days=5),
        due_on=today + dt.timedelta(days=25),
        skills=list(skills),
    )


def test_a_pharmacist_assigns_a_plan(site, pharmacist, trainee):
    a, b = skill(site, "a"), skill(site, "b")
    plan = _plan(site, pharmacist, trainee, a, b)
    today = site.today()
    assert [(i.skill.code, i.due_on) for i in plan.items.all()] == [
        ("a", today + dt.timedelta(days=25)),
        ("b", today + dt.timedelta(days=25)),
    ]
    assert event("people.plan.created") == {
        "trainee": "trainee",
        "title": "Onboarding",
        "started_on": (today - dt.timedelta(days=5)).isoformat(),
        "due_on": (today + dt.timedelta(days=25)).isoformat(),
        "skills": ["a", "b"],
    }


def test_a_plan_due_before_it_starts_is_refused(site, pharmacist, trainee):
    a = skill(site, "a")
    before = counts()
    with pytest.raises(Invalid) as exc:
        services.training_plan_create(
            actor=pharmacist,
            trainee=trainee,
            title="X",
            started_on=site.today(),
            due_on=site.today() - dt.timedelta(days=1),
            skills=[a],
        )
    assert exc.value.field == "due_on"
    assert counts() == before


def test_a_technician_assigns_no_plan(site, technician, trainee):
    a = skill(site, "a")
    before = counts()
    with pytest.raises(Forbidden):
        _plan(site, technician, trainee, a)
    assert counts() == before


def test_a_pass_completes_the_plan(site, pharmacist, trainee):
    a, b = skill(site, "a", months=6), skill(site, "b", months=0)
    plan = _plan(site, pharmacist, trainee, a, b)
    day = site.today() - dt.timedelta(days=1)
    first = services.competency_record(
        actor=pharmacist,
        person=trainee,
        skill=a,
        assessed_on=day,
        method="observation",
        result="pass",
        score=Decimal("92.5"),
    )
    plan.refresh_from_db()
    assert plan.status == PlanStatus.OPEN
    assert first.next_due == services.renewal.add_months(day, 6)
    second = services.competency_record(
        actor=pharmacist, person=trainee, skill=b, assessed_on=day, method="written", result="pass"
    )
    plan.refresh_from_db()
    assert (plan.status, plan.completed_on, second.next_due) == (PlanStatus.COMPLETED, day, None)
    assert [i.completed_by_id for i in plan.items.all()] == [first.pk, second.pk]
    assert event("people.competency.recorded") == {
        "person": "trainee",
        "skill": "b",
        "assessed_on": day.isoformat(),
        "method": "written",
        "result": "pass",
        "score": None,
        "next_due": None,
        "plans_completed": [plan.pk],
    }


def test_a_fail_leaves_the_item_open_and_has_no_due_date(site, pharmacist, trainee):
    a = skill(site, "a")
    plan = _plan(site, pharmacist, trainee, a)
    row = services.competency_record(
        actor=pharmacist,
        person=trainee,
        skill=a,
        assessed_on=site.today(),
        method="media_fill",
        result="fail",
    )
    assert row.next_due is None
    assert plan.items.get().completed_by is None


def test_an_assessor_may_not_assess_themself(site, pharmacist):
    a = skill(site, "a")
    before = counts()
    with pytest.raises(Invalid) as exc:
        services.competency_record(
            actor=pharmacist,
            person=pharmacist,
            skill=a,
            assessed_on=site.today(),
            method="observation",
            result="pass",
        )
    assert exc.value.field == "person"
    assert counts() == before


def test_an_assessment_in_the_future_is_refused(site, pharmacist, technician):
    a = skill(site, "a")
    before = counts()
    with pytest.raises(Invalid) as exc:
        services.competency_record(
            actor=pharmacist,
            person=technician,
            skill=a,
            assessed_on=site.today() + dt.timedelta(days=1),
            method="observation",
            result="pass",
        )
    assert exc.value.field == "assessed_on"
    assert counts() == before


@pytest.mark.parametrize("role", ["technician", "auditor", "inventory"])
def test_only_pharmacists_assess(site, role, request, trainee):
    a = skill(site, "a")
    before = counts()
    with pytest.raises(Forbidden):
        services.competency_record(
            actor=request.getfixturevalue(role),
            person=trainee,
            skill=a,
            assessed_on=site.today(),
            method="observation",
            result="pass",
        )
    assert counts() == before


def test_another_sites_person_is_not_found(site, pharmacist, outsider):
    with pytest.raises(NotFound):
        services.competency_record(
            actor=pharmacist,
            person=outsider,
            skill=skill(site, "a"),
            assessed_on=site.today(),
            method="observation",
            result="pass",
        )


# --- Precepting -------------------------------------------------------------------------------


def test_the_trainee_logs_and_the_preceptor_signs(site, trainee, pharmacist):
    day = site.today() - dt.timedelta(days=1)
    entry = services.preceptorship_log(
        actor=trainee,
        trainee=trainee,
        preceptor=pharmacist,
        on=day,
        hours=Decimal("7.25"),
        activities="Data entry",
    )
    assert event("people.precepting.logged") == {
        "trainee": "trainee",
        "preceptor": "rph",
        "on": day.isoformat(),
        "hours": "7.25",
    }
    assert entry.signed_at is None
    with pytest.raises(Forbidden):
        services.preceptorship_sign(actor=trainee, entry=entry)
    signed = services.preceptorship_sign(actor=pharmacist, entry=entry)
    assert signed.signed_at is not None
    assert event("people.precepting.signed") == {
        "trainee_id": trainee.pk,
        "on": day.isoformat(),
        "hours": "7.25",
    }
    before = counts()
    with pytest.raises(Conflict):
        services.preceptorship_sign(actor=pharmacist, entry=entry)
    assert counts() == before


def test_only_the_named_preceptor_signs(site, trainee, pharmacist, pic):
    entry = services.preceptorship_log(
        actor=trainee,
        trainee=trainee,
        preceptor=pharmacist,
        on=site.today(),
        hours=Decimal("1"),
        activities="x",
    )
    before = counts()
    with pytest.raises(Forbidden):
        services.preceptorship_sign(actor=pic, entry=entry)
    assert counts() == before


@pytest.mark.parametrize("hours", ["0", "24.01", "-1", "2.555"])
def test_impossible_hours_are_refused(site, trainee, pharmacist, hours):
    before = counts()
    with pytest.raises(Invalid) as exc:
        services.preceptorship_log(
            actor=trainee,
            trainee=trainee,
            preceptor=pharmacist,
            on=site.today(),
            hours=Decimal(hours),
            activities="x",
        )
    assert exc.value.field == "hours"
    assert counts() == before


def test_a_technician_precepts_no_one(site, trainee, technician):
    before = counts()
    with pytest.raises(Invalid) as exc:
        services.preceptorship_log(
            actor=trainee,
            trainee=trainee,
            preceptor=technician,
            on=site.today(),
            hours=Decimal("1"),
            activities="x",
        )
    assert exc.value.field == "preceptor"
    assert counts() == before


def test_someone_else_logs_no_hours_for_others(site, trainee, pharmacist, technician):
    before = counts()
    with pytest.raises(Forbidden):
        services.preceptorship_log(
            actor=technician,
            trainee=trainee,
            preceptor=pharmacist,
            on=site.today(),
            hours=Decimal("1"),
            activities="x",
        )
    assert counts() == before


def test_the_auditor_logs_no_hours(site, auditor, pharmacist):
    before = counts()
    with pytest.raises(Forbidden):
        services.preceptorship_log(
            actor=auditor,
            trainee=auditor,
            preceptor=pharmacist,
            on=site.today(),
            hours=Decimal("1"),
            activities="x",
        )
    assert counts() == before


# --- CE -------------------------------------------------------------------------------------


def _ce(actor, site, **over):
    values = {
        "provider": "Power-Pak C.E.",
        "title": "Law update",
        "completed_on": site.today() - dt.timedelta(days=3),
        "hours": Decimal("1.5"),
        "uan": "0197-0000-23-104-h03-t",
        **over,
    }
    return services.ce_record(actor=actor, **values)


def test_a_technician_records_ce_and_the_topic_comes_from_the_uan(site, technician):
    row = _ce(technician, site)
    assert (row.person, row.uan, row.topic, row.hours) == (
        technician,
        "0197-0000-23-104-H03-T",
        "03",
        Decimal("1.5"),
    )
    assert event("people.ce.recorded") == {
        "uan": "0197-0000-23-104-H03-T",
        "topic": "03",
        "completed_on": (site.today() - dt.timedelta(days=3)).isoformat(),
        "hours": "1.5",
    }


def test_without_a_uan_the_topic_is_general_by_default(site, technician):
    assert _ce(technician, site, uan="").topic == "04"


@pytest.mark.parametrize(
    ("over", "field"),
    [
        ({"uan": "0197-0000-23-104-H03"}, "uan"),
        ({"uan": "0197-0000-23-104-H03-T", "topic": "05"}, "topic"),
        ({"completed_on": dt.date(2099, 1, 1)}, "completed_on"),
        ({"hours": Decimal("0")}, "hours"),
        ({"title": " "}, "title"),
    ],
)
def test_bad_ce_is_refused_and_nothing_written(site, technician, over, field):
    before = counts()
    with pytest.raises(Invalid) as exc:
        _ce(technician, site, **over)
    assert exc.value.field == field
    assert counts() == before


def test_an_activity_counts_once(site, technician):
    _ce(technician, site)
    before = counts()
    with pytest.raises(Conflict):
        _ce(technician, site)
    assert counts() == before


def test_the_auditor_records_no_ce(site, auditor):
    before = counts()
    with pytest.raises(Forbidden):
        _ce(auditor, site)
    assert counts() == before


def test_entered_in_error_takes_it_off_the_count_and_keeps_it(site, technician):
    row = _ce(technician, site)
    services.ce_delete(actor=technician, entry=row, reason="Duplicate of the CPE Monitor entry")
    row.refresh_from_db()
    assert (row.status, row.error_reason) == (
        CeStatus.ENTERED_IN_ERROR,
        "Duplicate of the CPE Monitor entry",
    )
    e = last_event()
    assert (e.action, e.reason) == (
        "people.ce.entered_in_error",
        "Duplicate of the CPE Monitor entry",
    )
    _ce(technician, site)  # it may be recorded again once the wrong row is off the count
    before = counts()
    with pytest.raises(Conflict):
        services.ce_delete(actor=technician, entry=row, reason="again")
    assert counts() == before


def test_ce_entered_in_error_needs_a_reason(site, technician):
    row = _ce(technician, site)
    before = counts()
    with pytest.raises(Invalid):
        services.ce_delete(actor=technician, entry=row, reason=" ")
    assert counts() == before


def test_someone_elses_ce_is_theirs_to_correct(site, technician, pharmacist, pic):
    row = _ce(technician, site)
    before = counts()
    with pytest.raises(Forbidden):
        services.ce_delete(actor=pharmacist, entry=row, reason="Not real")
    assert counts() == before
    services.ce_delete(actor=pic, entry=row, reason="Certificate not found on CPE Monitor")
    assert ContinuingEducation.objects.get(pk=row.pk).status == CeStatus.ENTERED_IN_ERROR


def test_settings_default_when_never_set(site):
    row = settings_of(site)
    assert (row.pk, row.alert_window_days, row.tech_ce_hours) == (None, 60, Decimal("20"))
