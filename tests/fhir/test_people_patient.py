"""FHIR Patient: read and search (US Core Patient), paging, site isolation, roles, the
PHI-access events, and bad search input answered with an OperationOutcome."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any
from urllib.parse import urlsplit

import pytest

from rxdesk.core.models import AuditEvent
from rxdesk.fhir import codes
from rxdesk.patients import services
from rxdesk.patients.models import Patient
from tests.factories import PatientFactory
from tests.fhir.helpers import FhirClient, assert_outcome, assert_valid

MBI = "http://hl7.org/fhir/sid/us-mbi"


@pytest.fixture
def maria(pharmacist) -> Patient:
    patient = services.patient_create(
        actor=pharmacist,
        first_name="María",
        middle_name="Luz",
        last_name="Núñez-O'Brien",
        preferred_name="Lucy",
        date_of_birth=dt.date(1961, 3, 9),
        sex="F",
        address_line1="12 Elm St",
        address_line2="Apt 4",
        city="Springfield",
        state="il",
        postal_code="62704",
        phone_mobile="(217) 555-0143",
        phone_home="217-555-0199",
        email="maria@example.org",
        preferred_language="es",
    )
    services.identifier_add(
        actor=pharmacist, patient=patient, kind="drivers_license", value="n12345678", issuer="il"
    )
    services.identifier_add(
        actor=pharmacist, patient=patient, kind="medicare_mbi", value="1EG4TE5MK73"
    )
    services.identifier_add(actor=pharmacist, patient=patient, kind="ssn_last4", value="6789")
    return patient


def entries(bundle: dict[str, Any]) -> list[dict[str, Any]]:
    return [e["resource"] for e in bundle.get("entry", [])]


def ids(bundle: dict[str, Any]) -> list[str]:
    return [r["id"] for r in entries(bundle)]


def search(client: FhirClient, **params: Any) -> dict[str, Any]:
    response = client.get("Patient", **params)
    assert response.status_code == 200, response.content[:500]
    bundle = response.json()
    assert_valid(bundle)
    return bundle


def follow(client: FhirClient, url: str) -> Any:
    parts = urlsplit(url)
    return client.get(f"{parts.path}?{parts.query}")


def test_it_reads_a_patient_with_the_us_core_must_support_elements(maria, technician):
    response = FhirClient(technician).get(f"Patient/{maria.pk}")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/fhir+json")
    body = response.json()
    assert_valid(body)
    assert body["resourceType"] == "Patient"
    assert body["id"] == str(maria.pk)
    assert body["meta"]["profile"] == [codes.PROFILE["Patient"]]
    assert body["meta"]["lastUpdated"].startswith(str(maria.updated_at.year))
    assert body["identifier"][0] == {
        "use": "usual",
        "type": {
            "coding": [{"system": codes.V2_0203, "code": "MR", "display": "Medical record number"}]
        },
        "system": codes.PATIENT_ID,
        "value": str(maria.pk),
    }
    assert body["identifier"][1:] == [
        {
            "type": {
                "coding": [
                    {"system": codes.V2_0203, "code": "DL", "display": "Driver's license number"}
                ],
                "text": "Driver's license",
            },
            "system": "urn:rxdesk:drivers-license",
            "value": "N12345678",
            "assigner": {"display": "IL"},
        },
        {
            "type": {
                "coding": [
                    {"system": codes.V2_0203, "code": "MC", "display": "Patient's Medicare number"}
                ],
                "text": "Medicare beneficiary ID",
            },
            "system": MBI,
            "value": "1EG4TE5MK73",
        },
    ]
    assert body["active"] is True
    assert body["name"] == [
        {"use": "official", "family": "Núñez-O'Brien", "given": ["María", "Luz"]},
        {"use": "usual", "family": "Núñez-O'Brien", "given": ["Lucy"]},
    ]
    assert body["telecom"] == [
        {"system": "phone", "value": "(217) 555-0143", "use": "mobile"},
        {"system": "phone", "value": "(217) 555-0199", "use": "home"},
        {"system": "email", "value": "maria@example.org", "use": "home"},
    ]
    assert body["gender"] == "female"
    assert body["birthDate"] == "1961-03-09"
    assert body["address"] == [
        {
            "use": "home",
            "line": ["12 Elm St", "Apt 4"],
            "city": "Springfield",
            "state": "IL",
            "postalCode": "62704",
            "country": "US",
        }
    ]
    assert body["communication"] == [
        {
            "language": {
                "coding": [{"system": "urn:ietf:bcp:47", "code": "es", "display": "Spanish"}],
                "text": "Spanish",
            },
            "preferred": True,
        }
    ]


def test_it_never_sends_the_ssn_digits(maria, technician):
    response = FhirClient(technician).get(f"Patient/{maria.pk}")

    assert "6789" not in response.content.decode()
    assert len(response.json()["identifier"]) == 3


def test_a_deceased_patient_is_inactive_and_deceased(pharmacist, technician):
    patient = PatientFactory(site=pharmacist.site, status="deceased", sex="M")

    body = FhirClient(technician).get(f"Patient/{patient.pk}").json()

    assert_valid(body)
    assert (body["active"], body["deceasedBoolean"], body["gender"]) == (False, True, "male")


def test_an_inactive_patient_is_not_active_and_not_said_deceased(pharmacist, technician):
    patient = PatientFactory(site=pharmacist.site, status="inactive", sex="U")

    body = FhirClient(technician).get(f"Patient/{patient.pk}").json()

    assert_valid(body)
    assert (body["active"], "deceasedBoolean" in body, body["gender"]) == (False, False, "unknown")


def test_a_read_writes_one_phi_access_event_naming_the_patient(maria, technician):
    client = FhirClient(technician)
    before = AuditEvent.objects.count()

    client.get(f"Patient/{maria.pk}")

    events = list(AuditEvent.objects.order_by("id")[before:])
    assert [(e.action, e.patient_id, e.actor_id) for e in events] == [
        ("fhir.read", maria.pk, technician.pk)
    ]
    assert json.loads(events[0].data)["resources"] == [f"Patient/{maria.pk}"]


def test_a_search_writes_one_phi_access_event_per_patient_shown(site, technician):
    shown = [PatientFactory(site=site, last_name="Quill") for _ in range(3)]
    PatientFactory(site=site, last_name="Other")
    client = FhirClient(technician)
    before = AuditEvent.objects.count()

    bundle = search(client, family="quill", _count="2")

    events = list(AuditEvent.objects.order_by("id")[before:])
    assert bundle["total"] == 3
    assert sorted((e.action, e.patient_id) for e in events) == [
        ("fhir.search", shown[0].pk),
        ("fhir.search", shown[1].pk),
    ]


def test_identifier_search_finds_our_record_number_the_mbi_and_a_bare_value(maria, technician):
    client = FhirClient(technician)
    PatientFactory(site=maria.site)

    assert ids(search(client, identifier=f"{codes.PATIENT_ID}|{maria.pk}")) == [str(maria.pk)]
    assert ids(search(client, identifier=f"{MBI}|1EG4TE5MK73")) == [str(maria.pk)]
    assert ids(search(client, identifier="n12345678")) == [str(maria.pk)]
    assert ids(search(client, identifier=f"{MBI}|N12345678")) == []
    assert ids(search(client, identifier="http://example.org/other|1EG4TE5MK73")) == []


def test_identifier_search_cannot_find_a_patient_by_ssn_digits(maria, technician):
    bundle = search(FhirClient(technician), identifier="6789")

    assert bundle["total"] == 0


def test_name_searches_start_the_name_and_ignore_accents_and_case(maria, technician):
    client = FhirClient(technician)
    PatientFactory(site=maria.site, first_name="Mark", last_name="Newman")

    assert ids(search(client, family="nunezo")) == [str(maria.pk)]
    assert ids(search(client, family="NÚÑEZ")) == [str(maria.pk)]
    assert ids(search(client, given="maria")) == [str(maria.pk)]
    assert ids(search(client, given="luc")) == [str(maria.pk)]
    assert sorted(ids(search(client, name="n"))) == sorted(
        [str(maria.pk), str(Patient.objects.get(last_name="Newman").pk)]
    )
    assert ids(search(client, family="brien")) == []


def test_birthdate_ranges_take_ge_and_le_prefixes(site, technician):
    old = PatientFactory(site=site, date_of_birth=dt.date(1950, 1, 1))
    mid = PatientFactory(site=site, date_of_birth=dt.date(1980, 6, 15))
    young = PatientFactory(site=site, date_of_birth=dt.date(2001, 12, 31))
    client = FhirClient(technician)

    both_bounds = search(client, birthdate=["ge1980-01-01", "le2001-12-30"])
    from_1980 = search(client, birthdate="ge1980")
    year_2001 = search(client, birthdate="2001")

    assert ids(both_bounds) == [str(mid.pk)]
    assert ids(from_1980) == [str(mid.pk), str(young.pk)]
    assert ids(year_2001) == [str(young.pk)]
    assert str(old.pk) not in ids(search(client, birthdate="gt1950-01-01"))


def test_gender_phone_and_postal_code_narrow_the_search(maria, technician):
    client = FhirClient(technician)
    PatientFactory(site=maria.site, sex="M", postal_code="60601", phone_home="3125550100")

    assert ids(search(client, gender="female")) == [str(maria.pk)]
    assert ids(search(client, gender="other")) == []
    assert ids(search(client, phone="+1 217 555 0199")) == [str(maria.pk)]
    assert ids(search(client, **{"address-postalcode": "627"})) == [str(maria.pk)]


def test_paging_follows_the_next_link_to_the_rest(site, technician):
    made = [PatientFactory(site=site).pk for _ in range(5)]
    client = FhirClient(technician)

    first = search(client, _count="2")
    second = follow(client, next(x["url"] for x in first["link"] if x["relation"] == "next"))
    second_page = second.json()
    third_page = follow(
        client, next(x["url"] for x in second_page["link"] if x["relation"] == "next")
    ).json()

    assert first["total"] == second_page["total"] == third_page["total"] == 5
    assert ids(first) + ids(second_page) + ids(third_page) == [str(pk) for pk in made]
    assert [x["relation"] for x in third_page["link"]] == ["self", "previous"]
    assert_valid(second_page)
    assert_valid(third_page)


def test_another_sites_patient_is_not_found_nor_searchable(site, other_site, technician):
    theirs = PatientFactory(site=other_site, last_name="Elsewhere")
    client = FhirClient(technician)
    before = AuditEvent.objects.count()

    response = client.get(f"Patient/{theirs.pk}")
    bundle = search(client, family="elsewhere")
    by_id = search(client, _id=str(theirs.pk))

    assert_outcome(response, 404)
    assert (bundle["total"], by_id["total"]) == (0, 0)
    assert AuditEvent.objects.count() == before


def test_an_inventory_specialist_may_not_read_patients(maria, inventory):
    client = FhirClient(inventory)
    before = AuditEvent.objects.count()

    read = client.get(f"Patient/{maria.pk}")
    found = client.get("Patient")

    assert_outcome(read, 403)
    assert_outcome(found, 403)
    assert AuditEvent.objects.count() == before


def test_an_anonymous_caller_is_asked_to_sign_in(maria):
    assert_outcome(FhirClient(None).get(f"Patient/{maria.pk}"), 401)


def test_an_impossible_birthdate_is_refused_naming_the_parameter(technician):
    assert_outcome(
        FhirClient(technician).get("Patient", birthdate="ge2025-13-40"), 400, "birthdate"
    )


def test_a_modifier_rxdesk_does_not_implement_is_refused(technician):
    response = FhirClient(technician).get("Patient", **{"gender:not": "male"})

    assert_outcome(response, 400, "gender:not")


@pytest.mark.parametrize(
    ("params", "expression"),
    [
        ({"gender": "mal"}, "gender"),
        ({"phone": "none"}, "phone"),
        ({"family": "--"}, "family"),
        ({"identifier": "x" * 300}, "identifier"),
        ({"name": "a" * 101}, "name"),
        ({"given": "Ann\x00"}, "given"),
        ({"identifier": "N123\x00"}, "identifier"),
        ({"address-postalcode": "\x00"}, "address-postalcode"),
    ],
)
def test_unreadable_search_values_are_refused_naming_the_parameter(technician, params, expression):
    assert_outcome(FhirClient(technician).get("Patient", **params), 400, expression)


@pytest.mark.parametrize("fhir_id", ["abc", "²", "١٢", "1" * 13, "-1"])
def test_an_id_that_cannot_be_ours_is_simply_not_found(technician, fhir_id):
    assert_outcome(FhirClient(technician).get(f"Patient/{fhir_id}"), 404)


@pytest.mark.parametrize("value", ["²", "١٢", f"{codes.PATIENT_ID}|²", "9" * 40])
def test_odd_identifier_digits_match_nothing_and_never_fail(maria, technician, value):
    assert search(FhirClient(technician), identifier=value)["total"] == 0
