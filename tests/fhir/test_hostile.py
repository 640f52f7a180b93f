# ruff: noqa: F811 (the world fixture is imported)
"""Bad and hostile bodies at POST /fhir/MedicationRequest and POST /fhir: each is answered
with an OperationOutcome and a 4xx status — never a 500 — and nothing is written."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rxdesk.core.models import Site
from tests.fhir.helpers import FhirClient, assert_outcome, assert_valid
from tests.fhir.test_ingest_support import (
    World,
    bundle_of,
    counts,
    order,
    post_entry,
    setting,
    world,  # noqa: F401 (fixture)
)

pytestmark = pytest.mark.django_db

ENDPOINTS = ("MedicationRequest", "")
DEEP = '{"a":' * 10_000 + "1" + "}" * 10_000
SIX_MB = (
    b'{"resourceType":"MedicationRequest","note":[{"text":"' + b"x" * (6 * 1024 * 1024) + b'"}]}'
)


def _as_sent(endpoint: str, site: Site, body: dict[str, Any]) -> dict[str, Any]:
    """The MedicationRequest alone, or inside a transaction for POST /fhir."""
    if endpoint == "MedicationRequest":
        return body
    return bundle_of(post_entry(body, "urn:uuid:m1"))


def _text(endpoint: str, site: Site, body: dict[str, Any]) -> str:
    return json.dumps(_as_sent(endpoint, site, body))


# name → (build the raw body, content type, status)
Case = tuple[Callable[[str, Site], str | bytes], str, int]
JSON = "application/fhir+json"
CASES: dict[str, Case] = {
    "not JSON": (lambda e, s: b"{resourceType: MedicationRequest", JSON, 400),
    "a JSON array": (lambda e, s: "[" + _text(e, s, order(s)) + "]", JSON, 400),
    "a JSON string": (lambda e, s: '"MedicationRequest"', JSON, 400),
    "NaN": (lambda e, s: _text(e, s, order(s)).replace('"value": 30', '"value": NaN'), JSON, 400),
    "Infinity": (lambda e, s: '{"resourceType": "Bundle", "x": -Infinity}', JSON, 400),
    "1e400": (
        lambda e, s: _text(e, s, order(s)).replace('"value": 30', '"value": 1e400'),
        JSON,
        400,
    ),
    "a 5000-digit number": (
        lambda e, s: _text(e, s, order(s)).replace('"value": 30', '"value": 1' + "0" * 5000),
        JSON,
        400,
    ),
    "10,000 levels deep": (lambda e, s: DEEP, JSON, 400),
    "41 levels deep": (lambda e, s: '{"a":' * 41 + "1" + "}" * 41, JSON, 400),
    "6 MB": (lambda e, s: SIX_MB, JSON, 413),
    "text/plain": (lambda e, s: _text(e, s, order(s)), "text/plain", 415),
    "XML": (lambda e, s: "<MedicationRequest/>", "application/xml", 415),
    "a form": (
        lambda e, s: "resourceType=MedicationRequest",
        "application/x-www-form-urlencoded",
        415,
    ),
    "not UTF-8": (lambda e, s: _text(e, s, order(s)).encode("utf-16"), JSON, 400),
    "the wrong resourceType": (
        lambda e, s: json.dumps({"resourceType": "Patient", "name": [{"family": "Doe"}]}),
        JSON,
        400,
    ),
    "no resourceType": (lambda e, s: json.dumps({"status": "active"}), JSON, 400),
    "an unknown resourceType": (lambda e, s: json.dumps({"resourceType": "../../etc"}), JSON, 400),
    "required elements missing": (
        lambda e, s: _text(e, s, {"resourceType": "MedicationRequest"}),
        JSON,
        400,
    ),
    "a string where a number goes": (
        lambda e, s: _text(e, s, setting(order(s), "30", "dispenseRequest", "quantity", "value")),
        JSON,
        400,
    ),
    "true where a number goes": (
        lambda e, s: _text(
            e, s, setting(order(s), True, "dispenseRequest", "numberOfRepeatsAllowed")
        ),
        JSON,
        400,
    ),
    "an object where a string goes": (
        lambda e, s: _text(e, s, setting(order(s), {"x": 1}, "authoredOn")),
        JSON,
        400,
    ),
    "a NUL in a name": (
        lambda e, s: _text(
            e, s, setting(order(s), "Do\u0000e", "contained", 0, "name", 0, "family")
        ),
        JSON,
        400,
    ),
    "a lone surrogate": (
        lambda e, s: _text(e, s, order(s)).replace("Margaret", "Marg\\ud800aret"),
        JSON,
        400,
    ),
    "control characters in the directions": (
        lambda e, s: _text(
            e, s, setting(order(s), "Take \x1b[31m1\x07 daily", "dosageInstruction", 0, "text")
        ),
        JSON,
        400,
    ),
    "a name far too long": (
        lambda e, s: _text(
            e, s, setting(order(s), "Ω" * 5000, "contained", 0, "name", 0, "family")
        ),
        JSON,
        422,
    ),
    "a negative refill count": (
        lambda e, s: _text(
            e, s, setting(order(s), -1, "dispenseRequest", "numberOfRepeatsAllowed")
        ),
        JSON,
        400,
    ),
    "a reference to itself": (
        lambda e, s: _text(e, s, setting(order(s), "#", "subject", "reference")),
        JSON,
        422,
    ),
}


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=["MedicationRequest", "transaction"])
@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
def test_a_bad_body_is_answered_with_an_operation_outcome_and_nothing_is_written(
    technician, world: World, endpoint: str, case: str
):
    build, content_type, status = CASES[case]
    raw = build(endpoint, world.site)
    client = FhirClient(technician)
    before = counts()

    response = client.post(endpoint, raw, content_type=content_type)

    assert_outcome(response, status)
    assert counts() == before


def test_a_transaction_of_101_entries_is_refused_unread(technician, world: World):
    entries = [post_entry(order(world.site, number=f"N-{i}"), f"urn:uuid:{i}") for i in range(101)]
    client = FhirClient(technician)
    before = counts()

    response = client.post("", bundle_of(*entries))

    assert_outcome(response, 413, "Bundle.entry")
    assert counts() == before


def test_a_request_whose_subject_is_its_own_entry_is_refused(technician, world: World):
    looping = order(world.site, subject="urn:uuid:m1", requester="urn:uuid:m1")
    del looping["contained"]
    client = FhirClient(technician)
    before = counts()

    response = client.post("", bundle_of(post_entry(looping, "urn:uuid:m1")))

    body = assert_outcome(response, 422, "Bundle.entry[0].resource.subject")
    assert "must reference a Patient, not a MedicationRequest" in body["issue"][0]["diagnostics"]
    assert counts() == before


def test_two_requests_that_name_each_other_are_read_one_hop_only(technician, world: World):
    first = order(world.site, number="L-1", subject="urn:uuid:m2", requester="urn:uuid:m2")
    second = order(world.site, number="L-2", subject="urn:uuid:m1", requester="urn:uuid:m1")
    for body in (first, second):
        del body["contained"]
        body["priorPrescription"] = {"reference": "urn:uuid:m2"}
    client = FhirClient(technician)
    before = counts()

    response = client.post(
        "", bundle_of(post_entry(first, "urn:uuid:m1"), post_entry(second, "urn:uuid:m2"))
    )

    assert_outcome(response, 422, "Bundle.entry[0].resource.subject")
    assert counts() == before


def test_a_duplicate_full_url_is_refused(technician, world: World):
    bundle = bundle_of(
        post_entry(order(world.site, number="D-1"), "urn:uuid:same"),
        post_entry(order(world.site, number="D-2"), "urn:uuid:same"),
    )
    client = FhirClient(technician)

    assert_outcome(client.post("", bundle), 400, "Bundle.entry[1].fullUrl")
    assert counts() == (0, 0, 0, 0)


# --- Fuzzing ---------------------------------------------------------------------------------

_LEAVES = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**20), max_value=10**20)
    | st.floats()
    | st.text(max_size=20)
)
_JSON = st.recursive(
    _LEAVES,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=15,
)
_ELEMENTS = (
    "resourceType",
    "contained",
    "identifier",
    "status",
    "intent",
    "medicationCodeableConcept",
    "medicationReference",
    "subject",
    "authoredOn",
    "requester",
    "reasonCode",
    "note",
    "dosageInstruction",
    "dispenseRequest",
    "substitution",
)
_FUZZ = settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def _never_a_server_error(response: Any) -> None:
    assert response.status_code < 500, response.content[:500]
    assert response["Content-Type"].startswith("application/fhir+json")
    assert response.json()["resourceType"] in ("OperationOutcome", "MedicationRequest", "Bundle")


@_FUZZ
@given(
    body=st.dictionaries(st.sampled_from(_ELEMENTS), _JSON, max_size=6),
    kind=st.sampled_from(["MedicationRequest", "Bundle", "Patient"]),
    endpoint=st.sampled_from(ENDPOINTS),
)
def test_random_json_is_never_a_server_error(
    technician, world: World, body: dict[str, Any], kind: str, endpoint: str
):
    empty_transaction = kind == "Bundle" and not body and endpoint == ""
    body = {**body, "resourceType": kind}
    if kind == "Bundle":
        body["type"] = "transaction"
    before = counts()

    response = FhirClient(technician).post(endpoint, json.dumps(body))

    _never_a_server_error(response)
    if empty_transaction:
        # an empty transaction is valid FHIR: nothing to do, nothing written
        assert response.status_code == 200
        assert_valid(response.json())
    else:
        assert 400 <= response.status_code < 500
    assert counts() == before


def test_an_empty_transaction_is_answered_with_an_empty_valid_response(technician):
    response = FhirClient(technician).post("", {"resourceType": "Bundle", "type": "transaction"})
    assert response.status_code == 200
    assert response.json() == {"resourceType": "Bundle", "type": "transaction-response"}
    assert_valid(response.json())


@_FUZZ
@given(element=st.sampled_from(_ELEMENTS[1:]), value=_JSON, endpoint=st.sampled_from(ENDPOINTS))
def test_one_element_replaced_by_random_json_is_never_a_server_error(
    technician, world: World, element: str, value: Any, endpoint: str
):
    body = order(world.site, number="FUZZ-1")
    body[element] = value

    response = FhirClient(technician).post(
        endpoint, json.dumps(_as_sent(endpoint, world.site, body))
    )

    _never_a_server_error(response)
