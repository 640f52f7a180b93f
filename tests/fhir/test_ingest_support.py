"""Shared by the incoming-FHIR tests (no tests here): a pharmacy with a patient, a prescriber
and a package on file, and US Core MedicationRequests (like reference §4.8) that name them."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from importlib import import_module
from typing import Any, cast

import pytest
from django.db import connection

from rxdesk.catalog.models import Package
from rxdesk.core.models import Site
from rxdesk.fhir import codes
from rxdesk.fhir.models import InboundRequest
from rxdesk.patients.models import Patient, Prescriber
from rxdesk.rx.models import ErxMessage, Fill, Prescription
from tests.catalog.factories import PackageFactory, ProductFactory
from tests.factories import PatientFactory, PrescriberFactory

NPI = "1234567893"  # PrescriberFactory's, a good check digit
DEA = "BO1234563"  # Okafor's, a good check digit
NDC = "00002322730"  # PackageFactory's 0002-3227-30 (Prozac 20 mg capsules)
DOB = "1970-05-17"
SIG = "Take 1 capsule by mouth once daily."


@dataclass
class World:
    site: Site
    patient: Patient
    prescriber: Prescriber
    package: Package


@pytest.fixture
def world(site: Site) -> World:
    return World(
        site=site,
        patient=cast(Patient, PatientFactory(site=site, first_name="Jane", last_name="Doe")),
        prescriber=cast(Prescriber, PrescriberFactory(site=site, dea_number=DEA)),
        package=cast(Package, PackageFactory()),
    )


@pytest.fixture
def search_index(db: Any) -> None:
    """The catalog's full-text index (a drug named without an NDC is looked up by name):
    migration 0002 builds it, so a --nomigrations run builds it here."""
    if connection.vendor != "sqlite":
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM sqlite_master WHERE name = 'catalog_product_fts'")
        if cursor.fetchone() is None:
            migration = import_module("rxdesk.catalog.migrations.0002_product_search_index")
            for sql in migration.SQLITE_FORWARD:
                cursor.execute(sql)


def controlled_package(schedule: str = "CII") -> Package:
    product = ProductFactory(
        name="Oxycodone Hydrochloride",
        generic_name="Oxycodone Hydrochloride",
        directory_dea_schedule=schedule,
        strength="5 mg/1",
        dosage_form="TABLET",
    )
    package = PackageFactory(
        product=product, ndc10="0406-0552-01", description="100 TABLET in 1 BOTTLE"
    )
    return cast(Package, package)


def patient_resource(rid: str = "pat", **over: Any) -> dict[str, Any]:
    return {
        "resourceType": "Patient",
        "id": rid,
        "name": [{"use": "official", "family": "Doe", "given": ["Jane"]}],
        "gender": "female",
        "birthDate": DOB,
        "address": [
            {"line": ["1 Main St"], "city": "Chicago", "state": "IL", "postalCode": "60601"}
        ],
        "telecom": [{"system": "phone", "value": "(312) 555-0142"}],
        **over,
    }


def practitioner_resource(rid: str = "doc", **over: Any) -> dict[str, Any]:
    return {
        "resourceType": "Practitioner",
        "id": rid,
        "identifier": [
            {"system": codes.NPI, "value": NPI},
            {
                "type": {"coding": [{"system": codes.V2_0203, "code": "DEA"}]},
                "value": DEA,
            },
        ],
        "name": [{"family": "Okafor", "given": ["Margaret"], "prefix": ["Dr."]}],
        **over,
    }


def order(
    site: Site,
    *,
    number: str = "ORD-000123",
    subject: str = "#pat",
    requester: str = "#doc",
    contained: list[dict[str, Any]] | None = None,
    **over: Any,
) -> dict[str, Any]:
    """A US Core MedicationRequest for 30 Prozac capsules, 2 refills, no substitution."""
    body: dict[str, Any] = {
        "resourceType": "MedicationRequest",
        "meta": {"profile": [codes.PROFILE["MedicationRequest"]]},
        "contained": (
            contained if contained is not None else [patient_resource(), practitioner_resource()]
        ),
        "identifier": [{"system": "urn:example:prescriber-order-number", "value": number}],
        "status": "active",
        "intent": "order",
        "category": [
            {"coding": [{"system": codes.RX_CATEGORY, "code": "community"}]},
        ],
        "medicationCodeableConcept": {
            "coding": [
                {"system": codes.NDC, "code": NDC, "display": "Prozac 20 MG Oral Capsule"},
            ],
            "text": "Prozac 20 mg capsule",
        },
        "subject": {"reference": subject},
        "authoredOn": site.today().isoformat(),
        "requester": {"reference": requester},
        "reasonCode": [{"coding": [{"system": codes.ICD10CM, "code": "F32.9"}]}],
        "note": [{"text": "Patient prefers easy-open caps."}],
        "dosageInstruction": [
            {
                "text": SIG,
                "timing": {"repeat": {"frequency": 1, "period": 1, "periodUnit": "d"}},
                "doseAndRate": [{"doseQuantity": {"value": 1, "unit": "capsule"}}],
            }
        ],
        "dispenseRequest": {
            "numberOfRepeatsAllowed": 2,
            "quantity": {"value": 30, "unit": "capsule"},
            "expectedSupplyDuration": {
                "value": 30,
                "unit": "days",
                "system": codes.UCUM,
                "code": "d",
            },
        },
        "substitution": {"allowedBoolean": False},
    }
    body.update(over)
    return body


def without(body: dict[str, Any], *path: str | int) -> dict[str, Any]:
    """A copy of ``body`` with the element at ``path`` removed."""
    out = copy.deepcopy(body)
    node: Any = out
    for step in path[:-1]:
        node = node[step]
    del node[path[-1]]
    return out


def setting(body: dict[str, Any], value: Any, *path: str | int) -> dict[str, Any]:
    """A copy of ``body`` with the element at ``path`` set to ``value``."""
    out = copy.deepcopy(body)
    node: Any = out
    for step in path[:-1]:
        node = node[step]
    node[path[-1]] = value
    return out


def counts() -> tuple[int, int, int, int]:
    """(e-prescription messages, prescriptions, fills, FHIR requests kept)."""
    return (
        ErxMessage.objects.count(),
        Prescription.objects.count(),
        Fill.objects.count(),
        InboundRequest.objects.count(),
    )


def bundle_of(*entries: dict[str, Any], kind: str = "transaction") -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": kind, "entry": list(entries)}


def post_entry(resource: dict[str, Any], full_url: str) -> dict[str, Any]:
    return {
        "fullUrl": full_url,
        "resource": resource,
        "request": {"method": "POST", "url": resource["resourceType"]},
    }
