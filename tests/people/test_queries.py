"""Reads of people and training against a hand-computed fixture: as of 03/01/2026 with the
default 60-day window (through 04/30/2026)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from rxdesk.compounding.models import CompetencyResult
from rxdesk.core.choices import Certification
from rxdesk.core.errors import Forbidden, NotFound
from rxdesk.people import queries
from rxdesk.people.models import (
    CompetencyAssessment,
    ContinuingEducation,
    Skill,
    TrainingPlan,
    TrainingPlanItem,
)

TODAY = dt.date(2026, 3, 1)
D = dt.date


def _plan(site, person, by, due, *skills):
    plan = TrainingPlan.objects.create(
        site=site, trainee=person, title="Plan", started_on=D(2025, 1, 1), due_on=due, created_by=by
    )
    for s in skills:
        TrainingPlanItem.objects.create(site=site, plan=plan, skill=s, due_on=due)
    return plan


def _assess(site, person, skill, by, on, result, due=None):
    return CompetencyAssessment.objects.create(
        site=site,
        person=person,
        skill=skill,
        assessor=by,
        assessor_name=by.username,
        assessed_on=on,
        method="observation",
        result=result,
        next_due=due,
    )


@pytest.fixture
def world(site, technician, trainee, pharmacist, pic):
    technician.technician_registration_expires = D(2026, 4, 10)
    technician.certification = Certification.PTCB
    technician.certification_number = "PTCB-1"
    technician.certification_expires = D(2026, 4, 30)
    technician.save()
    trainee.technician_registration_expires = D(2026, 2, 20)
    trainee.save()
    pharmacist.pharmacist_license_expires = D(2027, 12, 31)
    pharmacist.save()
    pic.pharmacist_license_expires = D(2026, 5, 1)  # 61 days: outside the window
    pic.save()
    cs = Skill.objects.create(
        site=site, code="cs", name="CS vault", category="controlled", renew_months=12
    )
    robot = Skill.objects.create(
        site=site, code="robot", name="Robot", category="automation", renew_months=12
    )
    pos = Skill.objects.create(
        site=site, code="pos", name="Register", category="pos", renew_months=0
    )
    Skill.objects.create(site=site, code="old", name="Retired", category="other", active=False)
    _plan(site, technician, pic, D(2025, 2, 1), cs, robot)
    _plan(site, trainee, pic, D(2026, 3, 20), pos)
    _assess(site, technician, cs, pharmacist, D(2025, 3, 15), "pass", D(2026, 3, 15))
    _assess(site, technician, robot, pharmacist, D(2025, 6, 1), "pass", D(2026, 6, 1))
    _assess(site, technician, robot, pharmacist, D(2026, 2, 1), "fail")
    CompetencyResult.objects.create(
        site=site,
        person=pharmacist,
        kind="media_fill",
        performed_on=D(2025, 9, 10),
        passed=True,
        evaluator=pic,
        evaluator_name="pic",
    )
    ContinuingEducation.objects.create(
        site=site,
        person=technician,
        provider="P",
        title="Law",
        uan="",
        topic="03",
        completed_on=D(2025, 5, 1),
        hours=Decimal("1.25"),
    )
    ContinuingEducation.objects.create(
        site=site,
        person=technician,
        provider="P",
        title="Old",
        uan="",
        topic="04",
        completed_on=D(2024, 4, 30),
        hours=Decimal("9"),  # the day before the cycle
    )
    ContinuingEducation.objects.create(
        site=site,
        person=technician,
        provider="P",
        title="Wrong",
        uan="",
        topic="05",
        completed_on=D(2025, 5, 2),
        hours=Decimal("3"),
        status="entered_in_error",
    )
    return {"cs": cs, "robot": robot, "pos": pos}


def test_lapse_alerts_ranked_lapsed_first_then_soonest(
    site, world, technician, trainee, pharmacist
):
    alerts = queries.lapse_alerts(site, TODAY)
    got = [(a.person.username, a.kind, a.what, a.due_on, a.lapsed, a.detail) for a in alerts]
    assert got == [
        ("tech", "competency", "Robot", D(2026, 2, 1), True, "last assessment: fail"),
        ("trainee", "registration", "Technician registration TR-100200", D(2026, 2, 20), True, ""),
        ("rph", "compounding", "Compounding: media-fill test", D(2026, 3, 10), False, ""),
        ("tech", "competency", "CS vault", D(2026, 3, 15), False, ""),
        ("trainee", "competency", "Register", D(2026, 3, 20), False, "never assessed"),
        ("tech", "registration", "Technician registration TR-100200", D(2026, 4, 10), False, ""),
        (
            "tech",
            "ce",
            "CE for PTCB CPhT recertification",
            D(2026, 4, 30),
            False,
            "18.75 h short of 20, 1 h patient safety",
        ),
        ("tech", "certification", "PTCB CPhT PTCB-1", D(2026, 4, 30), False, ""),
    ]
    assert alerts[0].words(
        TODAY
    ) == "Test Person: Robot not current since 02/01/2026 — last assessment: fail".replace(
        "Test Person", technician.display_name
    )
    assert alerts[3].words(TODAY).endswith("CS vault due 03/15/2026 (in 14 days)")


def test_a_pass_after_the_fail_clears_the_alert(site, world, technician, pharmacist):
    _assess(site, technician, world["robot"], pharmacist, D(2026, 2, 20), "pass", D(2027, 2, 20))
    whats = [a.what for a in queries.lapse_alerts(site, TODAY) if a.person == technician]
    assert "Robot" not in whats


def test_the_matrix(site, world, pharmacist, technician, trainee):
    m = queries.training_matrix(actor=pharmacist, today=TODAY)
    assert [s.code for s in m.skills] == ["robot", "cs", "pos"]  # category, then name; no retired
    by_name = {row.person.username: row.cells for row in m.rows}
    assert [(c.state, c.due_on) if c else None for c in by_name["tech"]] == [
        ("not current", D(2026, 6, 1)),
        ("due soon", D(2026, 3, 15)),
        None,
    ]
    assert [(c.state, c.due_on) if c else None for c in by_name["trainee"]] == [
        None,
        None,
        ("never assessed", D(2026, 3, 20)),
    ]
    assert by_name["rph"] == [None, None, None]


def test_the_matrix_is_for_people_view(site, world, technician):
    with pytest.raises(Forbidden):
        queries.training_matrix(actor=technician, today=TODAY)


def test_a_persons_record(site, world, technician):
    r = queries.person_record(actor=technician, person=technician, today=TODAY)
    assert [(c.kind, c.expires, c.state) for c in r.credentials] == [
        ("registration", D(2026, 4, 10), "due soon"),
        ("certification", D(2026, 4, 30), "due soon"),
    ]
    p = r.ce_standing.progress
    assert (r.ce_standing.label, p.cycle_start, p.cycle_end) == (
        "PTCB CPhT recertification",
        D(2024, 5, 1),
        D(2026, 4, 30),
    )
    assert (p.earned, p.law, p.safety, p.short_total) == (
        Decimal("1.25"),
        Decimal("1.25"),
        0,
        Decimal("18.75"),
    )
    assert [(s.skill.code, s.state) for s in r.standings] == [
        ("robot", "not current"),
        ("cs", "due soon"),
    ]


def test_the_compounding_evaluations_are_read_where_they_are_kept(site, world, pharmacist):
    r = queries.person_record(actor=pharmacist, person=pharmacist, today=TODAY)
    assert [(s.requirement.kind, s.due_on, s.state) for s in r.compounding] == [
        ("media_fill", D(2026, 3, 10), "due soon")
    ]
    assert r.ce_standing.progress.cycle_end == D(2027, 12, 31)


def test_one_reads_ones_own_record_and_people_view_anyones(
    site, world, technician, trainee, auditor, outsider
):
    with pytest.raises(Forbidden):
        queries.person_get(actor=technician, user_id=trainee.pk)
    assert queries.person_get(actor=technician, user_id=technician.pk) == technician
    assert queries.person_get(actor=auditor, user_id=trainee.pk) == trainee
    with pytest.raises(NotFound):
        queries.person_get(actor=auditor, user_id=outsider.pk)


def test_lists_show_ones_own_rows_without_people_view(site, world, technician, trainee, pharmacist):
    assert {a.person_id for a in queries.assessments_list(actor=technician)} == {technician.pk}
    assert {a.person_id for a in queries.assessments_list(actor=pharmacist)} == {technician.pk}
    assert queries.plans_list(actor=trainee)[0].trainee == trainee
    with pytest.raises(Forbidden):
        queries.ce_list(actor=trainee, person_id=technician.pk)
    assert [c.title for c in queries.ce_list(actor=technician)] == ["Wrong", "Law", "Old"]


def test_a_failed_compounding_evaluation_is_not_current_since_its_day(site, world, technician, pic):
    CompetencyResult.objects.create(
        site=site,
        person=technician,
        kind="garbing_gft",
        performed_on=D(2026, 2, 10),
        passed=False,
        cfu=5,
        evaluator=pic,
        evaluator_name="pic",
    )
    found = [
        a
        for a in queries.lapse_alerts(site, TODAY)
        if a.kind == "compounding" and a.person == technician
    ]
    assert [(a.due_on, a.lapsed, a.detail) for a in found] == [
        (D(2026, 2, 10), True, "last evaluation failed")
    ]
    assert found[0].words(TODAY).endswith("not current since 02/10/2026 — last evaluation failed")
