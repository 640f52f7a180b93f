"""The people-and-training screens, the API's answers and the ``people-alerts`` command."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from rxdesk.core.models import AuditEvent
from rxdesk.people import demo, services
from rxdesk.people.models import CompetencyAssessment, ContinuingEducation, Skill, TrainingPlan
from tests.people.setup import skill


def _client(user) -> Client:
    c = Client()
    c.force_login(user)
    return c


def test_home_shows_my_record_and_for_a_pharmacist_the_alerts(site, technician, pharmacist):
    technician.technician_registration_expires = site.today() + dt.timedelta(days=10)
    technician.save()
    mine = _client(technician).get(reverse("people_home"))
    assert mine.status_code == 200
    assert b"Lapse alerts" not in mine.content
    assert b"Technician registration" in mine.content
    theirs = _client(pharmacist).get(reverse("people_home"))
    assert b"Lapse alerts (1)" in theirs.content


def test_a_technician_records_ce_from_the_form(site, technician):
    response = _client(technician).post(
        reverse("people_ce_new"),
        {
            "uan": "0197-0000-23-104-H05-T",
            "title": "Look-alike names",
            "provider": "Power-Pak",
            "completed_on": site.today().strftime("%m/%d/%Y"),
            "hours": "1.5",
        },
    )
    assert response.status_code == 302
    row = ContinuingEducation.objects.get()
    assert (row.person, row.topic, row.hours) == (technician, "05", Decimal("1.5"))


def test_a_bad_uan_is_shown_beside_the_field(site, technician):
    c = _client(technician)
    before = AuditEvent.objects.exclude(action__startswith="auth.").count()
    response = c.post(
        reverse("people_ce_new"),
        {
            "uan": "12-34",
            "title": "X",
            "provider": "Y",
            "completed_on": site.today().strftime("%m/%d/%Y"),
            "hours": "1",
        },
    )
    assert response.status_code == 422
    assert b"ACPE UAN reads like" in response.content
    assert AuditEvent.objects.exclude(action__startswith="auth.").count() == before


def test_a_pharmacist_assesses_from_the_form(site, pharmacist, technician):
    s = skill(site, "robot")
    response = _client(pharmacist).post(
        reverse("people_assess"),
        {
            "person": technician.pk,
            "skill": s.pk,
            "assessed_on": site.today().strftime("%m/%d/%Y"),
            "method": "observation",
            "result": "pass",
        },
    )
    assert response.status_code == 302
    assert CompetencyAssessment.objects.get().assessor == pharmacist


def test_the_matrix_and_its_csv(site, pharmacist, technician):
    s = skill(site, "robot", months=12)
    CompetencyAssessment.objects.create(
        site=site,
        person=technician,
        skill=s,
        assessor=pharmacist,
        assessor_name="rph",
        assessed_on=site.today() - dt.timedelta(days=400),
        method="observation",
        result="pass",
        next_due=site.today() - dt.timedelta(days=35),
    )
    c = _client(pharmacist)
    assert b"Lapsed" in c.get(reverse("people_matrix")).content
    response = c.get(reverse("people_matrix_csv"))
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    lines = response.content.decode().splitlines()
    due = (site.today() - dt.timedelta(days=35)).strftime("%m/%d/%Y")
    assert lines[0] == "Name,Role,Skill robot"
    assert f"{technician.display_name},Pharmacy technician,lapsed {due}" in lines


def test_the_api_records_and_lists_ce(site, technician):
    c = _client(technician)
    response = c.post(
        "/api/v1/people/ce",
        {
            "provider": "P",
            "title": "Law",
            "completed_on": site.today().isoformat(),
            "hours": "1.25",
            "uan": "0197-0000-23-104-H03-T",
        },
        content_type="application/json",
    )
    assert response.status_code == 201, response.content
    assert response.json()["topic_label"] == "Pharmacy law"
    me = c.get("/api/v1/people/me").json()
    assert me["ce_progress"] is None  # the factory technician holds no PTCB certification
    listed = c.get("/api/v1/people/ce").json()
    assert [(r["title"], r["hours"]) for r in listed] == [("Law", "1.25")]


def test_the_api_refuses_a_bad_uan_with_a_problem_body(site, technician):
    response = _client(technician).post(
        "/api/v1/people/ce",
        {
            "provider": "P",
            "title": "Law",
            "completed_on": site.today().isoformat(),
            "hours": "1",
            "uan": "x",
        },
        content_type="application/json",
    )
    assert response.status_code == 422
    assert response["Content-Type"] == "application/problem+json"


def test_another_sites_person_is_404(site, pharmacist, outsider):
    assert _client(pharmacist).get(f"/api/v1/people/staff/{outsider.pk}").status_code == 404
    assert (
        _client(pharmacist).get(reverse("people_person", kwargs={"pk": outsider.pk})).status_code
        == 404
    )


def test_the_cli_lists_alerts_in_words(site, trainee):
    trainee.technician_registration_expires = dt.date(2026, 2, 20)
    trainee.save()
    out = StringIO()
    call_command("people-alerts", "--today", "2026-03-01", stdout=out)
    text = out.getvalue()
    assert f"{site.name}: 1 lapsed, 0 due soon (as of 03/01/2026)." in text
    assert (
        f"LAPSED {trainee.display_name}: Technician registration TR-100200 lapsed 02/20/2026"
        in text
    )


@pytest.mark.slow
def test_the_demo_loads_through_the_services(site, technician, trainee, pharmacist, pic):
    demo.load(site, {"tech": technician, "trainee": trainee, "pharmacist": pharmacist, "pic": pic})
    assert Skill.objects.filter(site=site).count() == 7
    assert TrainingPlan.objects.filter(site=site).count() == 2
    from rxdesk.people.queries import lapse_alerts

    whats = {(a.person.username, a.what) for a in lapse_alerts(site, site.today())}
    assert ("trainee", "Technician registration TR-100200") in whats
    assert ("tech", "Controlled substances: receipt and count") in whats  # needs retraining
    assert ("trainee", "Register and signature capture") not in whats  # passed, never renewed


def test_the_preceptor_signs_from_the_home_page(site, trainee, pharmacist):
    entry = services.preceptorship_log(
        actor=trainee,
        trainee=trainee,
        preceptor=pharmacist,
        on=site.today(),
        hours=Decimal("2"),
        activities="Will-call and pickup",
    )
    c = _client(pharmacist)
    assert (
        reverse("people_precept_sign", kwargs={"pk": entry.pk}).encode()
        in c.get(reverse("people_home")).content
    )
    response = c.post(reverse("people_precept_sign", kwargs={"pk": entry.pk}))
    assert response.status_code == 302
    entry.refresh_from_db()
    assert entry.signed_at is not None


def test_the_api_assigns_a_plan_and_a_pass_completes_it(site, pharmacist, trainee):
    s = skill(site, "pos", months=0)
    c = _client(pharmacist)
    today = site.today()
    plan = c.post(
        "/api/v1/people/plans",
        {
            "trainee_id": trainee.pk,
            "title": "Register",
            "started_on": today.isoformat(),
            "due_on": (today + dt.timedelta(days=14)).isoformat(),
            "skill_ids": [s.pk],
        },
        content_type="application/json",
    )
    assert plan.status_code == 201, plan.content
    done = c.post(
        "/api/v1/people/assessments",
        {
            "person_id": trainee.pk,
            "skill_id": s.pk,
            "assessed_on": today.isoformat(),
            "method": "demonstration",
            "result": "pass",
            "score": "95",
        },
        content_type="application/json",
    )
    assert done.status_code == 201, done.content
    plans = c.get(f"/api/v1/people/plans?person_id={trainee.pk}").json()
    assert [(p["status"], p["items"][0]["completed_by_id"]) for p in plans] == [
        ("completed", done.json()["id"])
    ]


def test_the_api_refuses_self_assessment_with_422(site, pharmacist):
    s = skill(site, "pos")
    response = _client(pharmacist).post(
        "/api/v1/people/assessments",
        {
            "person_id": pharmacist.pk,
            "skill_id": s.pk,
            "assessed_on": site.today().isoformat(),
            "method": "observation",
            "result": "pass",
        },
        content_type="application/json",
    )
    assert response.status_code == 422
    assert CompetencyAssessment.objects.count() == 0
