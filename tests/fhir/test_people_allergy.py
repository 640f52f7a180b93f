"""FHIR AllergyIntolerance (US Core): recorded allergies, removed ones, the "no known
allergies" statement, search by patient and clinical status, roles and PHI-access events."""

from __future__ import annotations

from typing import Any

import pytest

from rxdesk.core.models import AuditEvent
from rxdesk.fhir import codes
from rxdesk.patients import services
from rxdesk.patients.models import Allergy, Patient
from tests.factories import PatientFactory
from tests.fhir.helpers import FhirClient, assert_outcome, assert_valid

UNII = "http://fdasis.nlm.nih.gov"


@pytest.fixture
def patient(site) -> Patient:
    return PatientFactory(site=site)


@pytest.fixture
def penicillin(patient, pharmacist) -> Allergy:
    return services.allergy_add(
        actor=pharmacist,
        patient=patient,
        allergen="Penicillin G",
        allergen_kind="ingredient",
        allergen_code="7980",
        reaction="Hives and throat swelling",
        severity="life_threatening",
        source="prescriber",
    )


def ids(bundle: dict[str, Any]) -> list[str]:
    return [e["resource"]["id"] for e in bundle.get("entry", [])]


def search(client: FhirClient, **params: Any) -> dict[str, Any]:
    response = client.get("AllergyIntolerance", **params)
    assert response.status_code == 200, response.content[:500]
    bundle = response.json()
    assert_valid(bundle)
    return bundle


def test_it_reads_an_allergy_with_status_code_reaction_and_criticality(
    penicillin, patient, pharmacist, technician
):
    body = FhirClient(technician).get(f"AllergyIntolerance/{penicillin.pk}").json()

    assert_valid(body)
    assert body["meta"] == {"profile": [codes.PROFILE["AllergyIntolerance"]]}
    assert body["clinicalStatus"] == {
        "coding": [{"system": codes.ALLERGY_CLINICAL, "code": "active", "display": "Active"}]
    }
    assert body["verificationStatus"] == {
        "coding": [
            {"system": codes.ALLERGY_VERIFICATION, "code": "confirmed", "display": "Confirmed"}
        ]
    }
    assert (body["type"], body["category"], body["criticality"]) == (
        "allergy",
        ["medication"],
        "high",
    )
    assert body["code"] == {
        "coding": [{"system": codes.RXNORM, "code": "7980"}],
        "text": "Penicillin G",
    }
    assert body["patient"] == {"reference": f"Patient/{patient.pk}"}
    assert body["recordedDate"].startswith(str(penicillin.recorded_at.year))
    assert body["recorder"] == {"display": pharmacist.get_full_name()}
    assert body["reaction"] == [
        {"manifestation": [{"text": "Hives and throat swelling"}], "severity": "severe"}
    ]
    assert "asserter" not in body


def test_a_patient_reported_intolerance_is_unconfirmed_with_no_criticality(
    patient, pharmacist, technician
):
    allergy = services.allergy_add(
        actor=pharmacist,
        patient=patient,
        allergen="Lactose",
        allergen_kind="excipient",
        allergen_code="j2b2a4n98g",
        allergy_type="intolerance",
        reaction="Bloating",
        severity="mild",
        source="patient",
    )

    body = FhirClient(technician).get(f"AllergyIntolerance/{allergy.pk}").json()

    assert_valid(body)
    assert body["verificationStatus"]["coding"][0]["code"] == "unconfirmed"
    assert (body["type"], "criticality" in body) == ("intolerance", False)
    assert body["code"]["coding"] == [{"system": UNII, "code": "J2B2A4N98G"}]
    assert body["asserter"] == {"reference": f"Patient/{patient.pk}"}
    assert body["reaction"] == [{"manifestation": [{"text": "Bloating"}], "severity": "mild"}]


def test_a_class_or_food_allergen_is_sent_as_text_without_a_guessed_system(
    patient, pharmacist, technician
):
    drug_class = services.allergy_add(
        actor=pharmacist,
        patient=patient,
        allergen="Sulfonamides",
        allergen_kind="class",
        allergen_code="N0000175503",
    )
    peanut = services.allergy_add(
        actor=pharmacist, patient=patient, allergen="Peanut", allergen_kind="non_drug"
    )
    client = FhirClient(technician)

    class_body = client.get(f"AllergyIntolerance/{drug_class.pk}").json()
    food_body = client.get(f"AllergyIntolerance/{peanut.pk}").json()

    assert_valid(class_body)
    assert_valid(food_body)
    assert (class_body["code"], class_body["category"]) == (
        {"text": "Sulfonamides"},
        ["medication"],
    )
    assert (food_body["code"], "category" in food_body, "reaction" in food_body) == (
        {"text": "Peanut"},
        False,
        False,
    )


def test_a_removed_allergy_is_inactive_with_its_reason_and_no_verification(
    penicillin, pharmacist, technician
):
    services.allergy_inactivate(
        actor=pharmacist, allergy=penicillin, reason="Tolerated amoxicillin"
    )

    body = FhirClient(technician).get(f"AllergyIntolerance/{penicillin.pk}").json()

    assert_valid(body)
    assert body["clinicalStatus"]["coding"][0]["code"] == "inactive"
    assert "verificationStatus" not in body
    assert body["note"] == [{"text": "Removed: Tolerated amoxicillin"}]


def test_no_known_allergies_is_served_as_snomed_716186003(patient, pharmacist, technician):
    services.patient_record_no_known_allergies(actor=pharmacist, patient=patient)
    client = FhirClient(technician)

    bundle = search(client, patient=f"Patient/{patient.pk}")
    read = client.get(f"AllergyIntolerance/nka-{patient.pk}").json()

    assert ids(bundle) == [f"nka-{patient.pk}"]
    assert_valid(read)
    assert read["code"] == {
        "coding": [
            {
                "system": codes.SNOMED,
                "code": "716186003",
                "display": "No known allergy (situation)",
            }
        ],
        "text": "No known allergies",
    }
    assert read["clinicalStatus"]["coding"][0]["code"] == "active"
    assert read["verificationStatus"]["coding"][0]["code"] == "confirmed"
    assert read["patient"] == {"reference": f"Patient/{patient.pk}"}


def test_a_patient_never_asked_gets_no_allergy_statement_at_all(patient, technician):
    client = FhirClient(technician)

    assert search(client, patient=str(patient.pk))["total"] == 0
    assert_outcome(client.get(f"AllergyIntolerance/nka-{patient.pk}"), 404)


def test_search_by_patient_and_clinical_status(penicillin, patient, pharmacist, technician):
    removed = services.allergy_add(
        actor=pharmacist, patient=patient, allergen="Codeine", allergen_kind="ingredient"
    )
    services.allergy_inactivate(actor=pharmacist, allergy=removed, reason="Entered in error")
    other = PatientFactory(site=patient.site)
    services.patient_record_no_known_allergies(actor=pharmacist, patient=other)
    client = FhirClient(technician)

    mine = search(client, patient=f"Patient/{patient.pk}")
    active = search(client, **{"clinical-status": "active"})
    inactive = search(client, **{"clinical-status": f"{codes.ALLERGY_CLINICAL}|inactive"})
    resolved = search(client, **{"clinical-status": "resolved"})
    both = search(client, patient=f"{patient.pk},{other.pk}")

    assert ids(mine) == [str(penicillin.pk), str(removed.pk)]
    assert ids(active) == [str(penicillin.pk), f"nka-{other.pk}"]
    assert ids(inactive) == [str(removed.pk)]
    assert resolved["total"] == 0
    assert both["total"] == 3


def test_search_by_id_finds_both_kinds_of_entry(penicillin, pharmacist, technician):
    other = PatientFactory(site=penicillin.patient.site)
    services.patient_record_no_known_allergies(actor=pharmacist, patient=other)

    bundle = search(FhirClient(technician), _id=f"{penicillin.pk},nka-{other.pk}")

    assert ids(bundle) == [str(penicillin.pk), f"nka-{other.pk}"]


def test_a_search_writes_one_phi_event_per_patient_shown(
    penicillin, patient, pharmacist, technician
):
    services.allergy_add(actor=pharmacist, patient=patient, allergen="Sulfa", allergen_kind="class")
    other = PatientFactory(site=patient.site)
    services.patient_record_no_known_allergies(actor=pharmacist, patient=other)
    client = FhirClient(technician)
    before = AuditEvent.objects.count()

    search(client)

    events = list(AuditEvent.objects.order_by("id")[before:])
    assert sorted((e.action, e.patient_id) for e in events) == sorted(
        [("fhir.search", patient.pk), ("fhir.search", other.pk)]
    )


def test_another_sites_allergies_are_not_found(other_site, pharmacist, technician):
    theirs = PatientFactory(site=other_site)
    allergy = Allergy.objects.create(patient=theirs, allergen="Latex", allergen_kind="non_drug")
    Patient.objects.filter(pk=theirs.pk).update(allergy_status="nka")
    client = FhirClient(technician)

    assert_outcome(client.get(f"AllergyIntolerance/{allergy.pk}"), 404)
    assert search(client, patient=f"Patient/{theirs.pk}")["total"] == 0
    assert search(client)["total"] == 0


def test_an_auditor_may_not_read_allergies(penicillin, auditor):
    client = FhirClient(auditor)
    before = AuditEvent.objects.count()

    read = client.get(f"AllergyIntolerance/{penicillin.pk}")
    found = client.get("AllergyIntolerance", patient=str(penicillin.patient_id))

    assert_outcome(read, 403)
    assert_outcome(found, 403)
    assert AuditEvent.objects.count() == before


@pytest.mark.parametrize(
    ("params", "expression"),
    [
        ({"patient": "Practitioner/4"}, "patient"),
        ({"patient": "Patient/<script>"}, "patient"),
        ({"clinical-status": "gone"}, "clinical-status"),
        ({"clinical-status:not": "active"}, "clinical-status:not"),
    ],
)
def test_bad_search_values_are_refused_naming_the_parameter(technician, params, expression):
    assert_outcome(FhirClient(technician).get("AllergyIntolerance", **params), 400, expression)


@pytest.mark.parametrize("fhir_id", ["nka-", "nka-x", "nka-99999999999999", "12a", "-1"])
def test_odd_ids_are_simply_not_found(technician, fhir_id):
    assert_outcome(FhirClient(technician).get(f"AllergyIntolerance/{fhir_id}"), 404)


def test_no_known_allergies_is_not_claimed_beside_an_active_allergy(patient, technician):
    # Inconsistent data (set up directly): the allergy wins, the NKA statement is withheld.
    Allergy.objects.create(patient=patient, allergen="Latex", allergen_kind="non_drug")
    Patient.objects.filter(pk=patient.pk).update(allergy_status="nka")
    client = FhirClient(technician)

    bundle = search(client, patient=str(patient.pk))

    assert [e["resource"]["code"]["text"] for e in bundle["entry"]] == ["Latex"]
    assert_outcome(client.get(f"AllergyIntolerance/nka-{patient.pk}"), 404)
