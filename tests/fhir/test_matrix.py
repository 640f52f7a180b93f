"""Every /fhir/ URL × resource type × role (and anonymous) with the expected status.

Written out by hand from the specification on purpose (issue 15 and the role table of
rxdesk.core.capabilities as the pharmacy practises it), not computed from the code:

* ``metadata`` — everyone, signed in or not (a client discovers the server first).
* read / search (GET and POST _search) — by the capability of the type: patient data
  (Patient, AllergyIntolerance, Condition) to those who see patients; Practitioner to those
  who see prescribers; prescriptions and dispenses to those who see prescriptions;
  Immunization to those who see immunizations; the pharmacy (Organization) and the drug
  file (Medication) to every member of staff.
* create — only MedicationRequest (an incoming prescription), by those who take in
  prescriptions; every other type answers 405 to anyone signed in.
* the transaction Bundle — per entry: a Bundle of one MedicationRequest, as create.
* ``Patient/<id>/$everything`` — those who see patients.
* ``$export``, its status and its files — the pharmacist-in-charge only (the whole
  pharmacy's records leave with it).

Anonymous: 401 everywhere but metadata. A refusal writes nothing (no audit event)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from rxdesk.core.choices import Role
from rxdesk.core.models import AuditEvent, Site, User
from rxdesk.fhir.models import Export, InboundRequest
from rxdesk.fhir.registry import TYPES
from rxdesk.patients.models import Condition
from rxdesk.rx.models import ErxMessage, Prescription
from tests.catalog.factories import PackageFactory
from tests.factories import AllergyFactory, PatientFactory, PrescriberFactory, UserFactory
from tests.fhir.helpers import FhirClient, assert_outcome, assert_valid
from tests.immunizations.administer_setup import given
from tests.rx.factories import first_fill, make_rx, parts

T, TT, RPH, PIC, INV, AUD, ADM = (
    Role.TECHNICIAN,
    Role.TECHNICIAN_IN_TRAINING,
    Role.PHARMACIST,
    Role.PHARMACIST_IN_CHARGE,
    Role.INVENTORY_SPECIALIST,
    Role.AUDITOR,
    Role.ADMIN,
)
EVERYONE = frozenset(Role)
NOBODY: frozenset[Role] = frozenset()
PATIENT_READERS = frozenset({T, TT, RPH, PIC})
PRESCRIBER_READERS = frozenset({T, TT, RPH, PIC})
RX_READERS = frozenset({T, TT, RPH, PIC})
IMM_READERS = frozenset({T, TT, RPH, PIC})
RX_TAKERS = frozenset({T, TT, RPH, PIC})  # who takes in an (e-)prescription
EXPORTERS = frozenset({PIC})

# Who reads each type, and one row of it at the caller's site (its FHIR id).
READERS: dict[str, frozenset[Role]] = {
    "Patient": PATIENT_READERS,
    "AllergyIntolerance": PATIENT_READERS,
    "Condition": PATIENT_READERS,
    "Practitioner": PRESCRIBER_READERS,
    "Organization": EVERYONE,
    "Medication": EVERYONE,
    "MedicationRequest": RX_READERS,
    "MedicationDispense": RX_READERS,
    "Immunization": IMM_READERS,
}


def _maker(site: Site) -> User:
    return UserFactory(site=site, role=RPH, username=f"matrix-maker-{site.pk}")


def _fhir_id(type_name: str, row: Any) -> str:
    rt = TYPES.get(type_name)
    return rt.id_of(row) if rt is not None else str(row.pk)


ROWS: dict[str, Callable[[Site], str]] = {
    "Patient": lambda s: str(PatientFactory(site=s).pk),
    "AllergyIntolerance": lambda s: _fhir_id(
        "AllergyIntolerance", AllergyFactory(patient=PatientFactory(site=s))
    ),
    "Condition": lambda s: _fhir_id(
        "Condition",
        Condition.objects.create(patient=PatientFactory(site=s), description="Asthma"),
    ),
    "Practitioner": lambda s: str(PrescriberFactory(site=s).pk),
    "Organization": lambda s: str(s.pk),
    "Medication": lambda s: str(PackageFactory().pk),
    "MedicationRequest": lambda s: _fhir_id("MedicationRequest", make_rx(_maker(s))),
    "MedicationDispense": lambda s: _fhir_id("MedicationDispense", first_fill(make_rx(_maker(s)))),
    "Immunization": lambda s: str(given(s).pk),
}


@dataclass(frozen=True)
class Call:
    method: str
    path: str  # under /fhir/
    body: Any = None  # JSON (dict) or form fields (with form=True)
    form: bool = False
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Row:
    allowed: frozenset[Role]
    success: tuple[int, ...]  # a permitted call answers one of these
    setup: Callable[[Site], Call]
    anonymous: int = 401


def medication_request_body(site: Site) -> dict[str, Any]:
    """A US Core MedicationRequest for a patient, prescriber and package of this site."""
    made = parts(site)
    patient, prescriber, package = made["patient"], made["prescriber"], made["package"]
    return {
        "resourceType": "MedicationRequest",
        "identifier": [{"system": "urn:example:prescriber-order-number", "value": "MTX-1"}],
        "status": "active",
        "intent": "order",
        "medicationCodeableConcept": {
            "coding": [{"system": "http://hl7.org/fhir/sid/ndc", "code": package.ndc11}],
            "text": package.product.name,
        },
        "subject": {"reference": f"Patient/{patient.pk}"},
        "authoredOn": site.today().isoformat(),
        "requester": {"reference": f"Practitioner/{prescriber.pk}"},
        "dosageInstruction": [{"text": "Take 1 capsule by mouth daily."}],
        "dispenseRequest": {
            "numberOfRepeatsAllowed": 2,
            "quantity": {
                "value": 30,
                "unit": "capsule",
                "system": "http://ncimeta.nci.nih.gov",
                "code": "C48480",
            },
            "expectedSupplyDuration": {
                "value": 30,
                "unit": "days",
                "system": "http://unitsofmeasure.org",
                "code": "d",
            },
        },
        "substitution": {"allowedBoolean": True},
    }


def transaction_body(site: Site) -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "fullUrl": "urn:uuid:6f1f2a52-64a5-4c51-9d4b-0e9b1a6d3c01",
                "resource": medication_request_body(site),
                "request": {"method": "POST", "url": "MedicationRequest"},
            }
        ],
    }


ASYNC = {"Prefer": "respond-async"}


def _kickoff(site: Site) -> str:
    """An export made by the site's pharmacist-in-charge: its status path under /fhir/."""
    PatientFactory(site=site)
    pic = UserFactory(site=site, role=PIC, username=f"matrix-pic-{site.pk}")
    client = FhirClient(pic)
    client.headers.update(ASYNC)
    response = client.get("$export")
    assert response.status_code == 202, response.content
    return urlsplit(response["Content-Location"]).path.removeprefix("/fhir/")


def _export_file(site: Site) -> str:
    status = _kickoff(site)
    pic = User.objects.get(username=f"matrix-pic-{site.pk}")
    manifest = FhirClient(pic).get(status).json()
    url = next(o["url"] for o in manifest["output"] if o["type"] == "Patient")
    return urlsplit(url).path.removeprefix("/fhir/")


MATRIX: dict[tuple[str, str, str], Row] = {
    ("metadata", "GET", "-"): Row(EVERYONE, (200,), lambda s: Call("GET", "metadata"), 200),
    ("root", "POST", "-"): Row(RX_TAKERS, (200,), lambda s: Call("POST", "", transaction_body(s))),
    ("everything", "GET", "Patient"): Row(
        PATIENT_READERS,
        (200,),
        lambda s: Call("GET", f"Patient/{PatientFactory(site=s).pk}/$everything"),
    ),
    ("export", "GET", "-"): Row(EXPORTERS, (202,), lambda s: Call("GET", "$export", headers=ASYNC)),
    ("export_status", "GET", "-"): Row(EXPORTERS, (200,), lambda s: Call("GET", _kickoff(s))),
    ("export_status", "DELETE", "-"): Row(EXPORTERS, (202,), lambda s: Call("DELETE", _kickoff(s))),
    ("export_file", "GET", "-"): Row(EXPORTERS, (200,), lambda s: Call("GET", _export_file(s))),
}


def _read(name: str) -> Callable[[Site], Call]:
    return lambda s: Call("GET", f"{name}/{ROWS[name](s)}")


def _search(name: str) -> Callable[[Site], Call]:
    return lambda s: Call("GET", f"{name}?_id={ROWS[name](s)}")


def _search_post(name: str) -> Callable[[Site], Call]:
    return lambda s: Call("POST", f"{name}/_search", {"_id": ROWS[name](s)}, form=True)


def _create(name: str) -> Callable[[Site], Call]:
    if name == "MedicationRequest":
        return lambda s: Call("POST", name, medication_request_body(s))
    return lambda s: Call("POST", name, {"resourceType": name})


for _name, _readers in READERS.items():
    MATRIX[("read", "GET", _name)] = Row(_readers, (200,), _read(_name))
    MATRIX[("type", "GET", _name)] = Row(_readers, (200,), _search(_name))
    MATRIX[("search", "POST", _name)] = Row(_readers, (200,), _search_post(_name))
    if _name == "MedicationRequest":
        # This site's patient, prescriber and package: a sure match becomes a prescription.
        MATRIX[("type", "POST", _name)] = Row(RX_TAKERS, (201,), _create(_name))
    else:
        # No one creates these: 405 to anyone signed in.
        MATRIX[("type", "POST", _name)] = Row(EVERYONE, (405,), _create(_name))


def _fhir_url_names() -> set[str]:
    resolver = get_resolver()
    _, fhir = resolver.namespace_dict["fhir"]
    names: set[str] = set()
    for pattern in fhir.url_patterns:
        assert isinstance(pattern, URLPattern | URLResolver)
        if isinstance(pattern, URLPattern) and pattern.name:
            names.add(pattern.name)
    return names


def test_it_covers_every_fhir_url():
    assert {name for name, _, _ in MATRIX} == _fhir_url_names()


def test_it_covers_every_registered_type():
    assert set(TYPES) == set(READERS)
    for name in READERS:
        assert ("read", "GET", name) in MATRIX
        assert ("type", "POST", name) in MATRIX


CASES = [
    pytest.param(key, role, id=f"{key[1]} {key[0]} {key[2]} as {role.value if role else 'anon'}")
    for key in MATRIX
    for role in [*Role, None]
]


def _send(client: FhirClient, call: Call) -> Any:
    url = f"/fhir/{call.path}"
    headers = {**client.headers, **call.headers}
    http = client.client
    if call.method == "GET":
        return http.get(url, headers=headers)
    if call.method == "DELETE":
        return http.delete(url, headers=headers)
    if call.form:
        return http.post(
            url,
            urlencode(call.body),
            content_type="application/x-www-form-urlencoded",
            headers=headers,
        )
    return http.post(
        url, json.dumps(call.body), content_type="application/fhir+json", headers=headers
    )


def _written() -> tuple[int, ...]:
    """Audit events and the rows a FHIR write or export makes."""
    return (
        AuditEvent.objects.exclude(action__startswith="auth.").count(),
        Prescription.objects.count(),
        ErxMessage.objects.count(),
        InboundRequest.objects.count(),
        Export.objects.count(),
    )


def _check_body(response: Any) -> None:
    kind = response["Content-Type"]
    if "ndjson" in kind:
        lines = b"".join(response.streaming_content).decode().splitlines()
        assert lines
        for line in lines:
            assert_valid(json.loads(line))
    elif response.content:
        body = response.json()
        if "resourceType" in body:  # not the Bulk Data status manifest
            assert_valid(body)


@pytest.mark.parametrize(("key", "role"), CASES)
def test_fhir_permission(db, site, settings, tmp_path, key, role):
    settings.RXDESK_FHIR_EXPORT_DIR = tmp_path / "exports"
    row = MATRIX[key]
    user = None if role is None else UserFactory(site=site, role=role, username=f"fm-{role.value}")
    client = FhirClient(user)
    call = row.setup(site)
    before = _written()

    response = _send(client, call)

    if role is None:
        expected: tuple[int, ...] = (row.anonymous,)
    elif role in row.allowed:
        expected = row.success
    else:
        expected = (403,)
    assert response.status_code in expected, (response.status_code, response.content[:800])
    if response.status_code in (401, 403):
        body = assert_outcome(response, response.status_code)
        assert body["issue"][0]["code"] in ("login", "forbidden")
        assert _written() == before
    else:
        _check_body(response)
