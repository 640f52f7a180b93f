"""The outreach list: who is due by age and history at a site, in a bounded number of
queries; one patient's forecast; the screen, its CSV and the API, each recorded as PHI
access."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.test import Client
from django.urls import reverse

from rxdesk.core.choices import Role
from rxdesk.core.errors import Forbidden
from rxdesk.core.models import AuditEvent
from rxdesk.immunizations.choices import Completion, RecordStatus
from rxdesk.immunizations.common import settings_of
from rxdesk.immunizations.models import Immunization
from rxdesk.immunizations.queries_outreach import due_csv, due_for, due_list
from rxdesk.immunizations.services_outreach import outreach_list_opened
from rxdesk.patients.choices import ContactMethod, PatientStatus
from tests.immunizations.catalog_setup import dose, person
from tests.immunizations.factories import imm_settings, staff

TODAY = dt.date(2026, 10, 15)


def _events() -> int:
    return AuditEvent.objects.filter(action="immunizations.outreach.opened").count()


@pytest.fixture
def clinic(db, site, technician):
    """An older adult with a flu dose this season, a younger adult with nothing, a child of
    two too young for the pharmacy, someone who asked not to be contacted, an inactive
    patient, and a patient of another pharmacy."""
    older = person(site, dt.date(1950, 3, 1), "Olga", "Baker", phone_mobile="2175551234")
    dose(older, "150", dt.date(2026, 9, 20), by=technician, groups=["FLU"])
    dose(older, "187", dt.date(2026, 8, 1), by=technician, groups=["ZOSTER"])
    younger = person(
        site, dt.date(1990, 6, 1), "Yuri", "Adams", contact_method="email", email="y@example.org"
    )
    person(site, dt.date(2024, 8, 1), "Tina", "Child")
    person(site, dt.date(1980, 1, 1), "Nora", "Quiet", contact_method=ContactMethod.NONE)
    person(site, dt.date(1980, 1, 1), "Ina", "Gone", status=PatientStatus.INACTIVE)
    return {"older": older, "younger": younger}


def test_it_lists_active_patients_due_overdue_first(clinic, site, other_site):
    person(other_site, dt.date(1950, 1, 1), "Otto", "Elsewhere")

    listing = due_list(site, TODAY)

    names = [r.patient.first_name for r in listing.rows]
    assert names == ["Olga", "Yuri"]
    olga, yuri = listing.rows
    assert olga.age == 76 and olga.contact == "Phone call" and olga.reach == "(217) 555-1234"
    assert olga.last_dose is not None and olga.last_dose.on == dt.date(2026, 9, 20)
    rules = {d.rule: d.status.value for d in olga.due}
    assert "influenza" not in rules  # a dose this season
    assert rules["zoster"] == "due"  # dose 2 of 2, due 10/01/2026
    assert rules["rsv"] == "overdue"
    assert yuri.contact == "Email" and yuri.reach == "y@example.org" and yuri.last_dose is None
    assert (listing.do_not_contact, listing.too_young) == (1, 1)
    assert listing.overdue == 2


def test_it_filters_by_vaccine_group(clinic, site):
    listing = due_list(site, TODAY, group="FLU")
    assert [r.patient.first_name for r in listing.rows] == ["Yuri"]
    assert [d.rule for d in listing.rows[0].due] == ["influenza"]
    zoster = due_list(site, TODAY, group="zoster")
    olga = zoster.rows[0]
    assert olga.patient.first_name == "Olga" and olga.last_dose.vaccine == "zoster recombinant"


def test_the_pharmacys_minimum_age_decides_who_is_too_young(clinic, site):
    imm_settings(site, minimum_age_months=12)
    listing = due_list(site, TODAY)
    assert "Tina" in [r.patient.first_name for r in listing.rows]
    assert listing.too_young == 0


def test_doses_entered_in_error_or_refused_do_not_count(db, site, technician):
    p = person(site, dt.date(1980, 1, 1))
    wrong = dose(p, "150", dt.date(2026, 9, 1), by=technician, groups=["FLU"])
    Immunization.objects.filter(pk=wrong.pk).update(status=RecordStatus.ENTERED_IN_ERROR)
    refused = dose(p, "150", dt.date(2026, 9, 2), by=technician, groups=["FLU"])
    Immunization.objects.filter(pk=refused.pk).update(completion=Completion.REFUSED)
    assert "influenza" in {d.rule for d in due_for(p, TODAY)}


def test_the_list_reads_in_a_bounded_number_of_queries(
    db, site, technician, django_assert_max_num_queries
):
    for n in range(30):
        p = person(site, dt.date(1940 + n, 1, 1), f"P{n}", f"Q{n}")
        dose(p, "150", dt.date(2026, 9, 1), by=technician, groups=["FLU"])
        dose(p, "115", dt.date(2020, 1, 1), by=technician, groups=["TDAP"])
    settings_of(site)  # the site's settings row exists (the first read creates it)
    with django_assert_max_num_queries(3):
        listing = due_list(site, TODAY)
    assert len(listing.rows) == 30


def test_due_for_one_patient(clinic):
    got = due_for(clinic["younger"], TODAY)
    assert {d.rule: d.status.value for d in got} == {
        "hepatitis_b": "overdue",
        "tdap": "overdue",
        "influenza": "due",
        "covid19": "due",
    }
    assert [d.rule for d in got][:2] == ["hepatitis_b", "tdap"]  # overdue first


def test_the_csv_is_formula_safe(db, site, technician):
    person(site, dt.date(1980, 1, 1), "=cmd|' /C calc'!A0", "@Lee")
    text = due_csv(due_list(site, TODAY))
    header, first = text.splitlines()[:2]
    assert header.startswith("last_name,first_name,date_of_birth,age,vaccine,status,due_on")
    assert first.startswith("'@Lee,'=cmd|' /C calc'!A0,1980-01-01,46,")


def test_opening_is_recorded_with_the_patients_shown(clinic, site, technician):
    listing = due_list(site, TODAY)
    outreach_list_opened(
        actor=technician,
        listing=listing,
        shown=[r.patient.pk for r in listing.rows],
        output="screen",
    )
    event = AuditEvent.objects.get(action="immunizations.outreach.opened")
    data = json.loads(event.data)
    assert event.actor == technician and event.patient_id is None
    assert data["patient_ids"] == [clinic["older"].pk, clinic["younger"].pk]
    assert (data["format"], data["patients"], data["group"]) == ("screen", 2, "")
    assert "Olga" not in event.data


@pytest.mark.parametrize(
    "role", [Role.TECHNICIAN_IN_TRAINING, Role.INVENTORY_SPECIALIST, Role.AUDITOR]
)
def test_roles_without_outreach_may_not_open_it(db, site, role):
    listing = due_list(site, TODAY)
    with pytest.raises(Forbidden):
        outreach_list_opened(actor=staff(site, role), listing=listing, shown=[], output="screen")
    assert _events() == 0


def test_the_screen_and_its_csv_record_access(clinic, technician):
    client = Client()
    client.force_login(technician)
    page = client.get(reverse("imm_outreach"), {"group": "RSV"})
    html = page.content.decode()
    assert page.status_code == 200
    assert "Baker, Olga" in html and "RSV: no dose recorded (one dose from age 75)" in html
    assert "Adams" not in html
    assert _events() == 1
    csv_response = client.get(reverse("imm_outreach"), {"group": "RSV", "format": "csv"})
    assert csv_response["Content-Type"] == "text/csv; charset=utf-8"
    assert csv_response.content.decode().splitlines()[1].startswith("Baker,Olga,1950-03-01,")
    assert _events() == 2
    assert json.loads(AuditEvent.objects.latest("seq").data)["format"] == "csv"


def test_the_api_pages_and_records_access(clinic, technician):
    client = Client()
    client.force_login(technician)
    response = client.get("/api/v1/immunizations/outreach", {"limit": 1, "offset": 1})
    assert response.status_code == 200
    body = response.json()
    assert (body["total"], body["do_not_contact"], body["too_young"]) == (2, 1, 1)
    assert [r["name"] for r in body["results"]] == ["Yuri Adams"]
    assert body["results"][0]["due"][0]["status"] in {"overdue", "due", "coming_up"}
    data = json.loads(AuditEvent.objects.get(action="immunizations.outreach.opened").data)
    assert data["patient_ids"] == [clinic["younger"].pk] and data["format"] == "json"
    assert client.get("/api/v1/immunizations/outreach", {"limit": 0}).status_code == 422
