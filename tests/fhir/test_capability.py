"""GET /fhir/metadata: the CapabilityStatement, built from the registry, served to every
signed-in user and to a client that has not signed in yet."""

from __future__ import annotations

import pytest

import rxdesk
from rxdesk.core.choices import Role
from rxdesk.core.models import AuditEvent
from rxdesk.fhir import codes
from rxdesk.fhir.capability import capability_statement
from rxdesk.fhir.registry import TYPES, Context
from tests.factories import UserFactory
from tests.fhir.helpers import FhirClient, assert_outcome, assert_valid


def by_type(statement: dict) -> dict[str, dict]:
    return {r["type"]: r for r in statement["rest"][0]["resource"]}


def test_the_statement_describes_this_server(db, site, pharmacist):
    response = FhirClient(pharmacist).get("metadata")

    assert response.status_code == 200
    assert response["Content-Type"].startswith(codes.MIME)
    body = response.json()
    assert_valid(body)
    assert body["resourceType"] == "CapabilityStatement"
    assert body["status"] == "active"
    assert body["kind"] == "instance"
    assert body["fhirVersion"] == "4.0.1"
    assert body["format"] == ["application/fhir+json", "json"]
    assert body["software"] == {"name": "rxdesk", "version": rxdesk.__version__}
    assert body["implementation"]["url"] == "http://testserver/fhir"
    assert body["implementationGuide"] == [
        "http://hl7.org/fhir/us/core/ImplementationGuide/hl7.fhir.us.core"
    ]
    rest = body["rest"][0]
    assert rest["mode"] == "server"
    assert "Bearer" in rest["security"]["description"]
    assert "OAuth" in rest["security"]["description"]  # said honestly: not offered
    assert [i["code"] for i in rest["interaction"]] == ["transaction", "batch"]
    assert rest["operation"] == [
        {
            "name": "export",
            "definition": "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/export",
        }
    ]


def test_every_registered_type_is_listed_with_its_search_params(db, site, pharmacist):
    body = FhirClient(pharmacist).get("metadata").json()

    listed = by_type(body)
    assert sorted(listed) == sorted(TYPES)
    assert "Immunization" in listed
    for name, rt in TYPES.items():
        entry = listed[name]
        assert entry.get("profile") == rt.profile
        params = {p["name"]: p for p in entry["searchParam"]}
        assert set(params) == {"_id", *rt.params}
        for param in rt.params.values():
            assert params[param.name]["type"] == param.type
            assert params[param.name]["documentation"] == param.documentation
        interactions = [i["code"] for i in entry["interaction"]]
        expected = ["read", "search-type", *(["create"] if rt.create is not None else [])]
        assert interactions == expected


def test_the_immunization_entry_names_its_parameters(db, site, pharmacist):
    entry = by_type(FhirClient(pharmacist).get("metadata").json())["Immunization"]

    assert [(p["name"], p["type"]) for p in entry["searchParam"]] == [
        ("_id", "token"),
        ("date", "date"),
        ("lot-number", "string"),
        ("patient", "reference"),
        ("status", "token"),
        ("vaccine-code", "token"),
    ]
    assert entry["supportedProfile"] == [codes.PROFILE["Immunization"]]


def test_patient_declares_everything_when_patient_is_served(db, site):
    ctx = Context(site=site, actor=None, base="https://rx.example/fhir")

    statement = capability_statement(ctx)

    assert_valid(statement)
    patient = by_type(statement)["Patient"]
    assert patient["operation"] == [
        {
            "name": "everything",
            "definition": "http://hl7.org/fhir/OperationDefinition/Patient-everything",
        }
    ]
    assert statement["url"] == "https://rx.example/fhir/metadata"


def test_a_client_that_has_not_signed_in_can_read_it(db, site):
    before = AuditEvent.objects.count()

    response = FhirClient(None).get("metadata")

    assert response.status_code == 200, response.content
    body = response.json()
    assert_valid(body)
    assert sorted(by_type(body)) == sorted(TYPES)
    assert site.name not in response.content.decode()
    assert AuditEvent.objects.count() == before


def test_it_is_served_with_no_site_configured_yet(db):
    response = FhirClient(None).get("metadata")

    assert response.status_code == 200
    assert_valid(response.json())


@pytest.mark.parametrize("role", list(Role))
def test_every_role_reads_it(db, site, role):
    user = UserFactory(site=site, role=role, username=f"cap-{role.value}")

    response = FhirClient(user).get("metadata")

    assert response.status_code == 200


def test_a_bad_token_is_refused_even_here(db, site):
    client = FhirClient(None)
    client.headers = {"Authorization": "Bearer rxd_not-a-real-token"}

    response = client.get("metadata")

    body = assert_outcome(response, 401)
    assert response["WWW-Authenticate"] == 'Bearer realm="rxdesk"'
    assert body["issue"][0]["code"] == "login"


def test_only_get_is_allowed(db, site, pharmacist):
    response = FhirClient(pharmacist).post("metadata", {"resourceType": "Parameters"})

    assert_outcome(response, 405)
    assert response["Allow"] == "GET, HEAD"


def test_xml_is_not_offered(db, site):
    response = FhirClient(None).get("metadata", _format="xml")

    assert_outcome(response, 406)
