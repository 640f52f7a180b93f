"""The patient's record page shows the medication history brought in over FHIR and offers
the whole record as a FHIR Bundle; the browser's session reads it like a token does."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client
from django.urls import reverse

from rxdesk.core.models import AuditEvent
from rxdesk.fhir.models import MedicationHistory
from tests.factories import PatientFactory
from tests.fhir.helpers import assert_valid

pytestmark = pytest.mark.django_db


def _signed_in(user) -> Client:
    client = Client()
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    return client


def test_the_record_page_lists_outside_medication_history_and_links_the_fhir_record(
    site, technician
):
    patient = PatientFactory(site=site, last_name="Okafor")
    MedicationHistory.objects.create(
        site=site,
        patient=patient,
        status="active",
        drug_name="lisinopril 10 MG Oral Tablet",
        rxnorm="314076",
        authored_on=dt.date(2025, 3, 15),
        prescriber_name="Dr. Ada Reyes",
        directions="Take 1 tablet by mouth once daily.",
        source="urn:uuid",
        source_id="abc",
    )
    client = _signed_in(technician)

    page = client.get(reverse("patient_detail", args=[patient.pk])).content.decode()

    assert "Medication history from other records (1)" in page
    assert "lisinopril 10 MG Oral Tablet" in page and "RxNorm 314076" in page
    assert "not prescriptions to fill" in page
    link = reverse("fhir:everything", args=[patient.pk])
    assert f'href="{link}"' in page

    response = client.get(link)
    assert response.status_code == 200
    bundle = response.json()
    assert_valid(bundle)
    kinds = {e["resource"]["resourceType"] for e in bundle["entry"]}
    assert {"Patient", "MedicationRequest"} <= kinds
    history = [
        e["resource"]
        for e in bundle["entry"]
        if e["resource"]["resourceType"] == "MedicationRequest"
    ]
    assert history[0]["reportedBoolean"] is True
    assert AuditEvent.objects.filter(action="fhir.everything", patient_id=patient.pk).exists()


def test_a_record_without_outside_history_shows_no_such_section(site, technician):
    patient = PatientFactory(site=site)
    page = _signed_in(technician).get(reverse("patient_detail", args=[patient.pk]))
    assert "Medication history from other records" not in page.content.decode()


def test_a_session_may_not_post_to_fhir_without_its_csrf_token(site, technician):
    client = Client(enforce_csrf_checks=True)
    client.force_login(technician, backend="django.contrib.auth.backends.ModelBackend")
    response = client.post("/fhir/MedicationRequest", "{}", content_type="application/fhir+json")
    assert response.status_code == 403
    assert response.json()["resourceType"] == "OperationOutcome"
    assert "CSRF" in response.json()["issue"][0]["diagnostics"]
