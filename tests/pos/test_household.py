"""Households: join, leave, dissolve; the API routes."""

from __future__ import annotations

import pytest
from django.test import Client

from rxdesk.core.errors import Conflict, Forbidden, Invalid, NotFound
from rxdesk.patients.models import Household, Patient
from rxdesk.patients.services import patient_household_join, patient_household_leave
from tests.conftest import last_event
from tests.factories import PatientFactory


def test_joining_a_patient_without_a_household_creates_one_for_both(technician, site):
    a = PatientFactory(site=site, last_name="Okafor")
    b = PatientFactory(site=site, last_name="Okafor")
    household = patient_household_join(actor=technician, patient=a, with_patient=b)
    assert household.name == "Okafor household"
    assert set(household.members.values_list("pk", flat=True)) == {a.pk, b.pk}
    assert last_event().action == "patient.household.joined"

    c = PatientFactory(site=site)
    assert patient_household_join(actor=technician, patient=c, with_patient=a) == household
    assert household.members.count() == 3
    with pytest.raises(Conflict):
        patient_household_join(actor=technician, patient=c, with_patient=b)


def test_a_household_left_with_one_member_is_dissolved(technician, site):
    a, b = PatientFactory(site=site), PatientFactory(site=site)
    household = patient_household_join(actor=technician, patient=a, with_patient=b)
    patient_household_leave(actor=technician, patient=a)
    b.refresh_from_db()
    assert b.household_id is None and not Household.objects.filter(pk=household.pk).exists()
    with pytest.raises(Conflict):
        patient_household_leave(actor=technician, patient=a)


def test_joining_oneself_is_invalid(technician, site):
    a = PatientFactory(site=site)
    with pytest.raises(Invalid) as exc:
        patient_household_join(actor=technician, patient=a, with_patient=a)
    assert exc.value.field == "with_patient" and Household.objects.count() == 0


def test_another_pharmacys_patient_cannot_join(technician, site, other_site):
    a, stranger = PatientFactory(site=site), PatientFactory(site=other_site)
    with pytest.raises(NotFound):
        patient_household_join(actor=technician, patient=a, with_patient=stranger)
    assert Household.objects.count() == 0


def test_roles_without_patient_edit_cannot_join(auditor, inventory, site):
    a, b = PatientFactory(site=site), PatientFactory(site=site)
    for actor in (auditor, inventory):
        with pytest.raises(Forbidden):
            patient_household_join(actor=actor, patient=a, with_patient=b)
    assert Household.objects.count() == 0


def test_the_api_joins_and_leaves(technician, site):
    a, b = PatientFactory(site=site, last_name="Lima"), PatientFactory(site=site)
    client = Client()
    client.force_login(technician)
    response = client.post(
        f"/api/v1/patients/{a.pk}/household",
        {"with_patient_id": b.pk},
        content_type="application/json",
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert {m["id"] for m in body["members"]} == {a.pk, b.pk}
    bad = client.post(
        f"/api/v1/patients/{a.pk}/household",
        {"with_patient_id": 999999},
        content_type="application/json",
    )
    assert bad.status_code == 422
    response = client.delete(f"/api/v1/patients/{a.pk}/household")
    assert response.status_code == 200 and response.json()["id"] is None
    assert Patient.objects.get(pk=b.pk).household_id is None


def test_the_patient_page_joins_and_shows_the_household(client, technician, site):
    a = PatientFactory(site=site, last_name="Lima")
    b = PatientFactory(site=site, last_name="Lima", first_name="Rosa")
    client.force_login(technician)
    response = client.post(f"/pos/households/{a.pk}/join/", {"with_patient": str(b.pk)})
    assert response.status_code == 302 and response["Location"] == f"/patients/{a.pk}/"
    page = client.get(f"/patients/{a.pk}/")
    assert page.status_code == 200
    assert "Lima household" in page.text and "Lima, Rosa" in page.text
    client.post(f"/pos/households/{a.pk}/leave/")
    assert Patient.objects.get(pk=a.pk).household_id is None
