"""FHIR Practitioner (the prescribers on file) and Organization (the pharmacy itself): read,
search, site isolation, roles; neither writes PHI-access events."""

from __future__ import annotations

from typing import Any

import pytest

from rxdesk.core.models import AuditEvent, Site
from rxdesk.fhir import codes
from rxdesk.patients import services
from rxdesk.patients.models import Prescriber
from tests.factories import PrescriberFactory
from tests.fhir.helpers import FhirClient, assert_outcome, assert_valid

DEA_SYSTEM = "http://terminology.hl7.org/NamingSystem/usdeanumber"
DEA_TYPE = {
    "coding": [
        {
            "system": codes.V2_0203,
            "code": "DEA",
            "display": "Drug Enforcement Administration registration number",
        }
    ]
}


@pytest.fixture
def okafor(pharmacist) -> Prescriber:
    prescriber = services.prescriber_create(
        actor=pharmacist,
        first_name="Margaret",
        middle_name="A",
        last_name="Okafor",
        suffix="Jr",
        credential="MD",
        npi="1234567893",
        dea_number="AO1234563",
    )
    services.prescriber_address_add(
        actor=pharmacist,
        prescriber=prescriber,
        label="Old clinic",
        address_line1="1 Old Rd",
        city="Peoria",
        state="IL",
        postal_code="61602",
        phone="3095550100",
        primary=True,
    )
    services.prescriber_address_add(
        actor=pharmacist,
        prescriber=prescriber,
        label="Main clinic",
        address_line1="200 Main St",
        address_line2="Suite 3",
        city="Springfield",
        state="IL",
        postal_code="62701",
        phone="2175550123",
        fax="2175550124",
        primary=True,
    )
    return prescriber


def ids(bundle: dict[str, Any]) -> list[str]:
    return [e["resource"]["id"] for e in bundle.get("entry", [])]


def search(client: FhirClient, type_name: str, **params: Any) -> dict[str, Any]:
    response = client.get(type_name, **params)
    assert response.status_code == 200, response.content[:500]
    bundle = response.json()
    assert_valid(bundle)
    return bundle


def test_it_reads_a_prescriber_with_npi_dea_and_the_primary_practice(okafor, technician):
    body = FhirClient(technician).get(f"Practitioner/{okafor.pk}").json()

    assert_valid(body)
    assert body["meta"]["profile"] == [codes.PROFILE["Practitioner"]]
    assert body["identifier"] == [
        {"system": codes.NPI, "value": "1234567893"},
        {"type": DEA_TYPE, "system": DEA_SYSTEM, "value": "AO1234563"},
    ]
    assert body["active"] is True
    assert body["name"] == [
        {"use": "official", "family": "Okafor", "given": ["Margaret", "A"], "suffix": ["Jr", "MD"]}
    ]
    assert body["telecom"] == [
        {"system": "phone", "value": "(217) 555-0123", "use": "work"},
        {"system": "fax", "value": "(217) 555-0124", "use": "work"},
    ]
    assert body["address"] == [
        {
            "use": "work",
            "line": ["200 Main St", "Suite 3"],
            "city": "Springfield",
            "state": "IL",
            "postalCode": "62701",
            "country": "US",
        }
    ]


def test_a_prescriber_without_dea_or_address_is_still_valid(site, technician):
    bare = PrescriberFactory(site=site, credential="", npi="1245319599")

    body = FhirClient(technician).get(f"Practitioner/{bare.pk}").json()

    assert_valid(body)
    assert body["identifier"] == [{"system": codes.NPI, "value": "1245319599"}]
    assert "telecom" not in body and "address" not in body


def test_practitioner_search_by_npi_dea_and_name(okafor, site, technician):
    other = PrescriberFactory(site=site, first_name="Ian", last_name="Oakes", npi="1245319599")
    client = FhirClient(technician)

    assert ids(search(client, "Practitioner", identifier=f"{codes.NPI}|1234567893")) == [
        str(okafor.pk)
    ]
    assert ids(search(client, "Practitioner", identifier="1245319599")) == [str(other.pk)]
    assert ids(search(client, "Practitioner", identifier=f"{DEA_SYSTEM}|ao1234563")) == [
        str(okafor.pk)
    ]
    assert ids(search(client, "Practitioner", identifier="urn:x|1234567893")) == []
    assert ids(search(client, "Practitioner", family="o")) == [str(okafor.pk), str(other.pk)]
    assert ids(search(client, "Practitioner", given="ian")) == [str(other.pk)]
    assert ids(search(client, "Practitioner", name="marg")) == [str(okafor.pk)]


def test_practitioner_reads_and_searches_write_no_phi_events(okafor, technician):
    client = FhirClient(technician)
    before = AuditEvent.objects.count()

    client.get(f"Practitioner/{okafor.pk}")
    search(client, "Practitioner")

    assert AuditEvent.objects.count() == before


def test_another_sites_prescriber_is_not_found(other_site, technician):
    theirs = PrescriberFactory(site=other_site)
    client = FhirClient(technician)

    assert_outcome(client.get(f"Practitioner/{theirs.pk}"), 404)
    assert search(client, "Practitioner", identifier=theirs.npi)["total"] == 0


def test_an_inventory_specialist_may_not_read_prescribers(okafor, inventory):
    client = FhirClient(inventory)

    assert_outcome(client.get(f"Practitioner/{okafor.pk}"), 403)
    assert_outcome(client.get("Practitioner", name="oka"), 403)


@pytest.mark.parametrize(
    ("type_name", "params", "expression"),
    [
        ("Practitioner", {"family": "'"}, "family"),
        ("Practitioner", {"identifier": "1234567893\x00"}, "identifier"),
        ("Organization", {"name": "River\x00"}, "name"),
        ("Organization", {"identifier:of-type": "x"}, "identifier:of-type"),
    ],
)
def test_unreadable_search_values_are_refused_naming_the_parameter(
    technician, type_name, params, expression
):
    assert_outcome(FhirClient(technician).get(type_name, **params), 400, expression)


# --- Organization ------------------------------------------------------------------------


@pytest.fixture
def pharmacy(site) -> Site:
    Site.objects.filter(pk=site.pk).update(
        npi="1234567893",
        dea_number="BR1234563",
        address_line1="5 Market Sq",
        city="Springfield",
        postal_code="62701",
        phone="2175550000",
    )
    site.refresh_from_db()
    return site


def test_it_reads_its_own_pharmacy_as_a_us_core_organization(pharmacy, auditor):
    body = FhirClient(auditor).get(f"Organization/{pharmacy.pk}").json()

    assert_valid(body)
    assert body == {
        "resourceType": "Organization",
        "id": str(pharmacy.pk),
        "meta": {"profile": [codes.PROFILE["Organization"]]},
        "identifier": [
            {"system": codes.NPI, "value": "1234567893"},
            {"system": codes.NCPDP_PROVIDER, "value": "7654321"},
            {"type": DEA_TYPE, "system": DEA_SYSTEM, "value": "BR1234563"},
        ],
        "active": True,
        "type": [
            {
                "coding": [
                    {"system": codes.ORG_TYPE, "code": "prov", "display": "Healthcare Provider"}
                ]
            }
        ],
        "name": "Riverside Test Pharmacy",
        "telecom": [{"system": "phone", "value": "(217) 555-0000", "use": "work"}],
        "address": [
            {
                "use": "work",
                "line": ["5 Market Sq"],
                "city": "Springfield",
                "state": "IL",
                "postalCode": "62701",
                "country": "US",
            }
        ],
    }


def test_only_the_callers_own_pharmacy_is_served(pharmacy, other_site, technician):
    client = FhirClient(technician)

    everything = search(client, "Organization")
    theirs = client.get(f"Organization/{other_site.pk}")
    by_their_ncpdp = search(client, "Organization", identifier=f"{codes.NCPDP_PROVIDER}|1234567")

    assert ids(everything) == [str(pharmacy.pk)]
    assert_outcome(theirs, 404)
    assert by_their_ncpdp["total"] == 0


def test_organization_search_by_identifier_and_name(pharmacy, technician):
    client = FhirClient(technician)

    assert search(client, "Organization", identifier=f"{codes.NPI}|1234567893")["total"] == 1
    assert search(client, "Organization", identifier="7654321")["total"] == 1
    assert search(client, "Organization", identifier=f"{codes.NPI}|7654321")["total"] == 0
    assert search(client, "Organization", name="riverside")["total"] == 1
    assert search(client, "Organization", name="lakeside")["total"] == 0


def test_an_anonymous_caller_may_not_read_the_pharmacy(pharmacy):
    assert_outcome(FhirClient(None).get(f"Organization/{pharmacy.pk}"), 401)
