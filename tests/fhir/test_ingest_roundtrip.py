# ruff: noqa: F811 (the world fixture is imported)
"""Round trip: US Core-shaped MedicationRequests posted, then read back as the prescription
they became, the elements that must survive compared one by one; who may post; and the
pharmacy rules that refuse a prescription (issue 15)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest

from rxdesk.fhir import codes
from rxdesk.rx.models import Prescription
from tests.catalog.factories import PackageFactory, ProductFactory
from tests.fhir.helpers import FhirClient, assert_outcome, assert_valid
from tests.fhir.test_ingest_support import (
    NDC,
    SIG,
    World,
    controlled_package,
    counts,
    order,
    practitioner_resource,
    setting,
    world,  # noqa: F401 (fixture)
)

pytestmark = pytest.mark.django_db


def _contained_patient_and_practitioner(w: World) -> tuple[dict[str, Any], dict[str, Any]]:
    """Reference §4.8's shape: everything contained, NDC coding, no substitution."""
    return order(w.site), {
        "ndc": NDC,
        "quantity": (30, "capsule"),
        "days": 30,
        "refills": 2,
        "substitution": False,
        "reason": "F32.9",
        "order_number": "ORD-000123",
    }


def _our_records_and_a_contained_medication(w: World) -> tuple[dict[str, Any], dict[str, Any]]:
    """Our own Patient/Practitioner ids, a contained Medication (hyphenated NDC), weeks of
    supply, substitution allowed, no refills, no reason."""
    body = order(
        w.site,
        number="A-77",
        subject=f"Patient/{w.patient.pk}",
        requester=f"Practitioner/{w.prescriber.pk}",
        contained=[
            {
                "resourceType": "Medication",
                "id": "m",
                "code": {"coding": [{"system": codes.NDC, "code": "0002-3227-30"}]},
            }
        ],
        medicationReference={"reference": "#m"},
        substitution={"allowedBoolean": True},
    )
    del body["medicationCodeableConcept"], body["reasonCode"], body["note"]
    body["dispenseRequest"] = {
        "numberOfRepeatsAllowed": 0,
        "quantity": {"value": 28, "unit": "capsules"},
        "expectedSupplyDuration": {"value": 4, "unit": "weeks", "system": codes.UCUM, "code": "wk"},
    }
    return body, {
        "ndc": NDC,
        "quantity": (28, "capsule"),
        "days": 28,
        "refills": 0,
        "substitution": True,
        "reason": None,
        "order_number": "A-77",
    }


def _a_liquid_in_millilitres(w: World) -> tuple[dict[str, Any], dict[str, Any]]:
    """An oral solution by the mL (UCUM), RxNorm beside the NDC."""
    product = ProductFactory(
        name="Amoxicillin", generic_name="Amoxicillin", dosage_form="FOR SUSPENSION"
    )
    PackageFactory(
        product=product,
        ndc10="0093-4155-73",
        description="150 mL in 1 BOTTLE",
        billing_unit="ML",
    )
    body = order(
        w.site,
        number="LIQ-1",
        medicationCodeableConcept={
            "coding": [
                {
                    "system": codes.RXNORM,
                    "code": "308182",
                    "display": "amoxicillin 250 MG per 5 ML Oral Suspension",
                },
                {"system": codes.NDC, "code": "00093415573"},
            ],
        },
    )
    body["dosageInstruction"] = [{"text": "Take 5 mL by mouth 3 times daily for 10 days."}]
    body["dispenseRequest"] = {
        "numberOfRepeatsAllowed": 0,
        "quantity": {"value": 150, "unit": "mL", "system": codes.UCUM, "code": "mL"},
        "expectedSupplyDuration": {"value": 10, "unit": "days", "system": codes.UCUM, "code": "d"},
    }
    return body, {
        "ndc": "00093415573",
        "quantity": (150, "mL"),
        "days": 10,
        "refills": 0,
        "substitution": False,
        "reason": "F32.9",
        "order_number": "LIQ-1",
        "sig": "Take 5 mL by mouth 3 times daily for 10 days.",
    }


@pytest.mark.parametrize(
    "example",
    [
        _contained_patient_and_practitioner,
        _our_records_and_a_contained_medication,
        _a_liquid_in_millilitres,
    ],
)
def test_a_posted_request_reads_back_with_every_element_that_must_survive(
    technician, world: World, example: Callable[[World], tuple[dict[str, Any], dict[str, Any]]]
):
    body, want = example(world)
    assert_valid(body)
    client = FhirClient(technician)

    posted = client.post("MedicationRequest", body)

    assert posted.status_code == 201, posted.content
    rx = Prescription.objects.get()
    read = client.get(f"MedicationRequest/{rx.pk}")
    assert read.status_code == 200
    back = read.json()
    assert_valid(posted.json())
    assert_valid(back)
    assert back == posted.json()
    ndcs = [
        c["code"] for c in back["medicationCodeableConcept"]["coding"] if c["system"] == codes.NDC
    ]
    assert ndcs == [want["ndc"]]
    assert back["subject"] == {"reference": f"Patient/{world.patient.pk}"}
    assert back["requester"]["reference"] == f"Practitioner/{world.prescriber.pk}"
    assert back["authoredOn"] == body["authoredOn"]
    request = back["dispenseRequest"]
    assert (request["quantity"]["value"], request["quantity"]["unit"]) == want["quantity"]
    assert request["expectedSupplyDuration"]["value"] == want["days"]
    assert request["expectedSupplyDuration"]["code"] == "d"
    assert request["numberOfRepeatsAllowed"] == want["refills"]
    assert back["substitution"] == {"allowedBoolean": want["substitution"]}
    assert back["dosageInstruction"][0]["text"] == want.get("sig", SIG)
    reasons = [c["code"] for r in back.get("reasonCode", []) for c in r["coding"]]
    assert reasons == ([want["reason"]] if want["reason"] else [])
    assert {
        "system": codes.PRESCRIBER_ORDER_NUMBER,
        "value": want["order_number"],
    } in back["identifier"]


# --- Who may post ----------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["inventory", "auditor"])
def test_a_role_that_does_not_enter_prescriptions_is_forbidden_and_nothing_is_written(
    request, world: World, role: str
):
    client = FhirClient(request.getfixturevalue(role))
    before = counts()

    response = client.post("MedicationRequest", order(world.site))

    assert_outcome(response, 403)
    assert counts() == before


# --- Broken rules ----------------------------------------------------------------------------


def _controlled(w: World, schedule: str, refills: int, *, dea: bool = True) -> dict[str, Any]:
    package = controlled_package(schedule)
    doc = practitioner_resource()
    if not dea:
        doc["identifier"] = doc["identifier"][:1]
    body = order(
        w.site,
        contained=[order(w.site)["contained"][0], doc],
        medicationCodeableConcept={
            "coding": [{"system": codes.NDC, "code": package.ndc11}],
            "text": "Oxycodone HCl 5 mg tablet",
        },
    )
    body["dispenseRequest"]["quantity"] = {"value": 20, "unit": "tablet"}
    body["dispenseRequest"]["numberOfRepeatsAllowed"] = refills
    return body


@pytest.mark.parametrize(
    ("make", "expression", "words"),
    [
        (
            lambda w: _controlled(w, "CII", 1),
            "MedicationRequest.dispenseRequest.numberOfRepeatsAllowed",
            "Schedule II prescription cannot have refills",
        ),
        (
            lambda w: _controlled(w, "CIV", 6),
            "MedicationRequest.dispenseRequest.numberOfRepeatsAllowed",
            "at most 5 refills",
        ),
        (
            lambda w: _controlled(w, "CII", 0, dea=False),
            "MedicationRequest.requester",
            "DEA number",
        ),
        (
            lambda w: setting(
                order(w.site), (w.site.today() + dt.timedelta(days=1)).isoformat(), "authoredOn"
            ),
            "MedicationRequest.authoredOn",
            "in the future",
        ),
        (
            lambda w: setting(
                order(w.site),
                {"value": 400, "unit": "days", "system": codes.UCUM, "code": "d"},
                "dispenseRequest",
                "expectedSupplyDuration",
            ),
            "MedicationRequest.dispenseRequest.expectedSupplyDuration",
            "between 1 and 365",
        ),
    ],
)
def test_a_prescription_that_cannot_lawfully_be_filled_is_refused_and_nothing_is_written(
    technician, world: World, make: Any, expression: str, words: str
):
    body = make(world)
    client = FhirClient(technician)
    before = counts()

    response = client.post("MedicationRequest", body)

    outcome = assert_outcome(response, 422, expression)
    assert any(words in issue["diagnostics"] for issue in outcome["issue"]), outcome
    assert counts() == before


def test_a_schedule_ii_without_refills_from_a_prescriber_with_a_dea_number_is_received(
    technician, world: World
):
    response = FhirClient(technician).post("MedicationRequest", _controlled(world, "CII", 0))

    assert response.status_code in (201, 202), response.content
    assert_valid(response.json())
