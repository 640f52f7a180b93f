"""FHIR Condition (US Core problems): read, search by patient, clinical status and
ICD-10-CM code, roles, site isolation and PHI-access events."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from rxdesk.core.models import AuditEvent
from rxdesk.fhir import codes
from rxdesk.patients import services
from rxdesk.patients.models import Condition, Patient
from tests.factories import PatientFactory
from tests.fhir.helpers import FhirClient, assert_outcome, assert_valid

VERIFICATION = "http://terminology.hl7.org/CodeSystem/condition-ver-status"


@pytest.fixture
def patient(site) -> Patient:
    return PatientFactory(site=site)


@pytest.fixture
def diabetes(patient, pharmacist) -> Condition:
    return services.condition_add(
        actor=pharmacist,
        patient=patient,
        description="Type 2 diabetes mellitus",
        icd10="e11.9",
        onset=dt.date(2015, 4, 1),
    )


def ids(bundle: dict[str, Any]) -> list[str]:
    return [e["resource"]["id"] for e in bundle.get("entry", [])]


def search(client: FhirClient, **params: Any) -> dict[str, Any]:
    response = client.get("Condition", **params)
    assert response.status_code == 200, response.content[:500]
    bundle = response.json()
    assert_valid(bundle)
    return bundle


def test_it_reads_a_condition_as_a_us_core_problem(diabetes, patient, technician):
    body = FhirClient(technician).get(f"Condition/{diabetes.pk}").json()

    assert_valid(body)
    recorded = body.pop("recordedDate")
    assert recorded.startswith(str(diabetes.recorded_at.year))
    assert body == {
        "resourceType": "Condition",
        "id": str(diabetes.pk),
        "meta": {"profile": [codes.PROFILE["Condition"]]},
        "clinicalStatus": {
            "coding": [{"system": codes.CONDITION_CLINICAL, "code": "active", "display": "Active"}]
        },
        "verificationStatus": {
            "coding": [{"system": VERIFICATION, "code": "confirmed", "display": "Confirmed"}]
        },
        "category": [
            {
                "coding": [
                    {
                        "system": codes.CONDITION_CATEGORY,
                        "code": "problem-list-item",
                        "display": "Problem List Item",
                    }
                ]
            }
        ],
        "code": {
            "coding": [{"system": codes.ICD10CM, "code": "E11.9"}],
            "text": "Type 2 diabetes mellitus",
        },
        "subject": {"reference": f"Patient/{patient.pk}"},
        "onsetDateTime": "2015-04-01",
    }


def test_a_resolved_uncoded_condition_is_resolved_text_only(patient, pharmacist, technician):
    condition = services.condition_add(actor=pharmacist, patient=patient, description="Shingles")
    services.condition_update(actor=pharmacist, condition=condition, status="resolved")

    body = FhirClient(technician).get(f"Condition/{condition.pk}").json()

    assert_valid(body)
    assert body["clinicalStatus"]["coding"][0]["code"] == "resolved"
    assert body["code"] == {"text": "Shingles"}
    assert "onsetDateTime" not in body


def test_search_by_patient_status_and_code(diabetes, patient, pharmacist, technician):
    htn = services.condition_add(
        actor=pharmacist, patient=patient, description="Hypertension", icd10="I10"
    )
    services.condition_update(actor=pharmacist, condition=htn, status="resolved")
    other = PatientFactory(site=patient.site)
    theirs = services.condition_add(
        actor=pharmacist, patient=other, description="Diabetes", icd10="E11.9"
    )
    client = FhirClient(technician)

    assert ids(search(client, patient=f"Patient/{patient.pk}")) == [str(diabetes.pk), str(htn.pk)]
    assert ids(search(client, **{"clinical-status": "resolved"})) == [str(htn.pk)]
    assert ids(search(client, **{"clinical-status": "remission"})) == []
    assert ids(search(client, code=f"{codes.ICD10CM}|e11.9")) == [str(diabetes.pk), str(theirs.pk)]
    assert ids(search(client, code="I10,E11.9", patient=str(other.pk))) == [str(theirs.pk)]
    assert ids(search(client, code=f"{codes.SNOMED}|44054006")) == []


def test_a_search_writes_one_phi_event_per_patient_shown(diabetes, patient, pharmacist, technician):
    services.condition_add(actor=pharmacist, patient=patient, description="Asthma")
    client = FhirClient(technician)
    before = AuditEvent.objects.count()

    search(client, patient=str(patient.pk))

    events = list(AuditEvent.objects.order_by("id")[before:])
    assert [(e.action, e.patient_id) for e in events] == [("fhir.search", patient.pk)]


def test_another_sites_conditions_are_not_found(other_site, technician):
    theirs = Condition.objects.create(
        patient=PatientFactory(site=other_site), description="Gout", icd10="M10.9"
    )
    client = FhirClient(technician)

    assert_outcome(client.get(f"Condition/{theirs.pk}"), 404)
    assert search(client, code="M10.9")["total"] == 0


def test_an_inventory_specialist_may_not_read_conditions(diabetes, inventory):
    client = FhirClient(inventory)
    before = AuditEvent.objects.count()

    assert_outcome(client.get(f"Condition/{diabetes.pk}"), 403)
    assert AuditEvent.objects.count() == before


@pytest.mark.parametrize(
    ("params", "expression"),
    [
        ({"clinical-status": "gone"}, "clinical-status"),
        ({"patient": "Organization/1"}, "patient"),
        ({"code:text": "diabetes"}, "code:text"),
        ({"code": "E11\x00"}, "code"),
    ],
)
def test_bad_search_values_are_refused_naming_the_parameter(technician, params, expression):
    assert_outcome(FhirClient(technician).get("Condition", **params), 400, expression)
