# ruff: noqa: F811 (the world fixture is imported)
"""POST /fhir/MedicationRequest and POST /fhir: a US Core MedicationRequest received as an
e-prescription (matched, checked and audited like a NewRx), idempotent by its identifier,
and transaction/batch Bundles (issue 15)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, cast

import pytest

from rxdesk.core.models import AuditEvent
from rxdesk.fhir import codes
from rxdesk.fhir.ingest import message_id_of
from rxdesk.fhir.models import InboundRequest
from rxdesk.interop import script
from rxdesk.patients.models import Patient, Prescriber
from rxdesk.rx.choices import ErxStatus, FillStatus
from rxdesk.rx.models import ErxMessage, Prescription
from tests.factories import PatientFactory
from tests.fhir.helpers import FhirClient, assert_outcome, assert_valid
from tests.fhir.test_ingest_support import (
    DEA,
    NDC,
    NPI,
    SIG,
    World,
    bundle_of,
    counts,
    order,
    patient_resource,
    post_entry,
    practitioner_resource,
    search_index,  # noqa: F401 (fixture)
    setting,
    without,
    world,  # noqa: F401 (fixture)
)

pytestmark = pytest.mark.django_db


def _newrx(message: ErxMessage) -> script.NewRx:
    return script.parse(message.xml).new_rx


# --- One MedicationRequest -------------------------------------------------------------------


def test_a_matched_request_becomes_a_prescription_with_its_first_fill_queued(
    technician, world: World
):
    response = FhirClient(technician).post("MedicationRequest", order(world.site))

    assert response.status_code == 201, response.content
    body = response.json()
    assert_valid(body)
    rx = Prescription.objects.get()
    assert response["Location"] == f"http://testserver/fhir/MedicationRequest/{rx.pk}"
    assert body["resourceType"] == "MedicationRequest" and body["id"] == str(rx.pk)
    assert (rx.patient, rx.prescriber, rx.package) == (
        world.patient,
        world.prescriber,
        world.package,
    )
    assert rx.fills.get().status == FillStatus.QUEUED
    message = ErxMessage.objects.get(direction="in")
    assert message.status == ErxStatus.QUEUED and message.prescription == rx
    assert message.message_id == message_id_of("urn:example:prescriber-order-number|ORD-000123")
    assert len(message.message_id) == 35 and message.message_id.startswith("FHIR")
    kept = InboundRequest.objects.get()
    assert (kept.site, kept.message, kept.received_by) == (world.site, message, technician)
    assert kept.key == "urn:example:prescriber-order-number|ORD-000123"
    event = AuditEvent.objects.get(action="rx.erx.received")
    assert event.actor == technician and event.patient_id == world.patient.pk


def test_each_element_is_carried_into_the_script_newrx(technician, world: World):
    FhirClient(technician).post("MedicationRequest", order(world.site))

    message = ErxMessage.objects.get(direction="in")
    newrx = _newrx(message)
    header = script.parse(message.xml).header
    med = newrx.medication
    assert header.to == script.Endpoint("P", world.site.ncpdp_id)
    assert header.from_ == script.Endpoint("D", NPI)
    assert header.prescriber_order_number == "ORD-000123"
    assert newrx.patient.name == script.Name("Doe", "Jane")
    assert (newrx.patient.gender, newrx.patient.date_of_birth) == ("F", dt.date(1970, 5, 17))
    assert newrx.patient.phone == "3125550142"
    assert newrx.patient.address == script.PostalAddress(
        "1 Main St", None, "Chicago", "IL", "60601", "US"
    )
    assert newrx.pharmacy.ncpdp_id == world.site.ncpdp_id
    assert (newrx.prescriber.npi, newrx.prescriber.dea_number) == (NPI, DEA)
    assert newrx.prescriber.name == script.Name("Okafor", "Margaret", prefix="Dr.")
    assert med.drug_description == "Prozac 20 mg capsule"
    assert med.ndc == NDC
    assert med.quantity == script.Quantity(Decimal("30"), "38", "C48480")
    assert (med.days_supply, med.refills, med.substitutions) == (30, 2, 1)
    assert med.written_date == world.site.today()
    assert med.sig.text == SIG
    assert med.note == "Patient prefers easy-open caps."
    assert med.diagnoses == (script.Diagnosis("F32.9", "ABF"),)
    assert med.dea_schedule is None


def test_posting_the_same_request_again_answers_200_with_what_it_made(technician, world: World):
    client = FhirClient(technician)
    first = client.post("MedicationRequest", order(world.site))
    before = counts()

    again = client.post("MedicationRequest", order(world.site))

    assert again.status_code == 200, again.content
    assert again.json() == first.json()
    assert again["Location"] == first["Location"]
    assert counts() == before


def test_the_same_identifier_with_other_content_is_a_conflict(technician, world: World):
    client = FhirClient(technician)
    client.post("MedicationRequest", order(world.site))
    before = counts()

    changed = setting(order(world.site), 5, "dispenseRequest", "numberOfRepeatsAllowed")
    response = client.post("MedicationRequest", changed)

    assert_outcome(response, 409, "MedicationRequest.identifier")
    assert counts() == before


def test_a_request_without_identifier_is_known_by_its_content(technician, world: World):
    client = FhirClient(technician)
    body = without(order(world.site), "identifier")

    first = client.post("MedicationRequest", body)
    again = client.post("MedicationRequest", body)

    assert (first.status_code, again.status_code) == (201, 200)
    assert Prescription.objects.count() == 1
    assert InboundRequest.objects.get().key.startswith("sha256:")
    assert ErxMessage.objects.get(direction="in").prescriber_order_number == ""


def test_an_identifier_without_a_system_does_not_make_two_prescriptions_one(
    technician, world: World
):
    client = FhirClient(technician)
    body = setting(order(world.site), [{"value": "12345"}], "identifier")
    other = setting(body, 60, "dispenseRequest", "quantity", "value")

    first = client.post("MedicationRequest", body)
    second = client.post("MedicationRequest", other)

    assert (first.status_code, second.status_code) == (201, 201)
    numbers = set(Prescription.objects.values_list("prescriber_order_number", flat=True))
    assert numbers == {"12345"}
    assert Prescription.objects.count() == 2


def test_a_patient_not_on_file_waits_in_the_erx_inbox_with_202(technician, world: World):
    stranger = patient_resource(name=[{"family": "Nobody", "given": ["Nora"]}])
    body = order(world.site, contained=[stranger, practitioner_resource()])

    response = FhirClient(technician).post("MedicationRequest", body)

    assert response.status_code == 202, response.content
    assert "Location" not in response
    outcome = response.json()
    assert_valid(outcome)
    issue = outcome["issue"][0]
    assert (issue["severity"], issue["code"]) == ("information", "informational")
    message = ErxMessage.objects.get(direction="in")
    assert message.status == ErxStatus.NEEDS_MATCH
    assert message.message_id in issue["diagnostics"]
    assert "e-prescription inbox for a technician" in issue["diagnostics"]
    assert Prescription.objects.count() == 0
    assert InboundRequest.objects.get().message == message
    again = FhirClient(technician).post("MedicationRequest", body)
    assert again.status_code == 200 and again.json()["issue"][0]["severity"] == "information"


def test_our_own_patient_and_practitioner_are_used_directly(technician, world: World):
    body = order(
        world.site,
        subject=f"Patient/{world.patient.pk}",
        requester=f"http://testserver/fhir/Practitioner/{world.prescriber.pk}",
        contained=[],
    )
    del body["contained"]

    response = FhirClient(technician).post("MedicationRequest", body)

    assert response.status_code == 201, response.content
    rx = Prescription.objects.get()
    assert (rx.patient, rx.prescriber) == (world.patient, world.prescriber)
    assert response.json()["subject"] == {"reference": f"Patient/{world.patient.pk}"}


def test_another_pharmacys_patient_is_not_found_and_nothing_is_written(
    technician, world: World, other_site
):
    theirs = cast(Patient, PatientFactory(site=other_site, first_name="Jane", last_name="Doe"))
    body = order(world.site, subject=f"Patient/{theirs.pk}")
    body["contained"] = [practitioner_resource()]
    before = counts()

    response = FhirClient(technician).post("MedicationRequest", body)

    outcome = assert_outcome(response, 422, "MedicationRequest.subject")
    assert f"No Patient/{theirs.pk} at this pharmacy" in outcome["issue"][0]["diagnostics"]
    assert counts() == before


def test_a_reference_rxdesk_cannot_follow_is_refused_naming_the_requester(technician, world: World):
    body = order(world.site, requester="https://ehr.example.org/fhir/Practitioner/77")
    before = counts()

    response = FhirClient(technician).post("MedicationRequest", body)

    assert_outcome(response, 422, "MedicationRequest.requester")
    assert counts() == before


def test_a_reference_to_a_contained_resource_of_another_type_is_refused(technician, world: World):
    body = order(world.site, subject="#doc")

    response = FhirClient(technician).post("MedicationRequest", body)

    body_out = assert_outcome(response, 422, "MedicationRequest.subject")
    assert "must reference a Patient, not a Practitioner" in body_out["issue"][0]["diagnostics"]


def test_a_contained_medication_is_read_for_its_ndc(technician, world: World):
    medication = {
        "resourceType": "Medication",
        "id": "med",
        "code": {"coding": [{"system": codes.NDC, "code": "0002-3227-30"}]},
    }
    body = order(
        world.site,
        contained=[patient_resource(), practitioner_resource(), medication],
        medicationReference={"reference": "#med"},
    )
    del body["medicationCodeableConcept"]

    response = FhirClient(technician).post("MedicationRequest", body)

    assert response.status_code == 201, response.content
    assert Prescription.objects.get().package == world.package
    assert _newrx(ErxMessage.objects.get(direction="in")).medication.ndc == NDC


def test_an_rxnorm_code_alone_waits_for_a_technician_to_choose_the_package(
    technician, world: World, search_index: None
):
    body = order(
        world.site,
        medicationCodeableConcept={
            "coding": [
                {
                    "system": codes.RXNORM,
                    "code": "310385",
                    "display": "fluoxetine 20 MG Oral Capsule",
                }
            ]
        },
    )

    response = FhirClient(technician).post("MedicationRequest", body)

    assert response.status_code == 202, response.content
    med = _newrx(ErxMessage.objects.get(direction="in")).medication
    assert med.drug_db_code == script.Code("310385", "SCD")
    assert med.drug_description == "fluoxetine 20 MG Oral Capsule"
    assert Prescription.objects.count() == 0


@pytest.mark.parametrize(
    ("quantity", "unit_code"),
    [
        ({"value": 30, "unit": "capsules"}, "C48480"),
        ({"value": 30, "unit": "tablet(s)"}, "C48542"),
        ({"value": 30, "system": codes.UCUM, "code": "{tbl}"}, "C48542"),
        ({"value": 150, "unit": "mL", "system": codes.UCUM, "code": "mL"}, "C28254"),
        ({"value": 30, "system": "http://ncimeta.nci.nih.gov", "code": "C48524"}, "C48524"),
        (
            {
                "value": 30,
                "system": "http://terminology.hl7.org/CodeSystem/v3-orderableDrugForm",
                "code": "TAB",
            },
            "C48542",
        ),
        ({"value": 2.5, "unit": "g"}, "C48155"),
    ],
)
def test_quantity_units_become_ncpdp_unit_codes(
    technician, world: World, quantity: dict[str, Any], unit_code: str
):
    body = setting(order(world.site), quantity, "dispenseRequest", "quantity")

    response = FhirClient(technician).post("MedicationRequest", body)

    assert response.status_code in (201, 202), response.content
    med = _newrx(ErxMessage.objects.get(direction="in")).medication
    assert med.quantity.unit_code == unit_code
    assert med.quantity.value == Decimal(str(quantity["value"]))


@pytest.mark.parametrize(
    ("change", "expression"),
    [
        (
            lambda b: setting(b, {"value": 3, "unit": "scoops"}, "dispenseRequest", "quantity"),
            "MedicationRequest.dispenseRequest.quantity.unit",
        ),
        (
            lambda b: without(b, "dispenseRequest", "quantity"),
            "MedicationRequest.dispenseRequest.quantity",
        ),
        (
            lambda b: setting(b, [{"timing": {"code": {"text": "daily"}}}], "dosageInstruction"),
            "MedicationRequest.dosageInstruction[0].text",
        ),
        (lambda b: without(b, "authoredOn"), "MedicationRequest.authoredOn"),
        (lambda b: setting(b, "2025-03", "authoredOn"), "MedicationRequest.authoredOn"),
        (lambda b: setting(b, "plan", "intent"), "MedicationRequest.intent"),
        (lambda b: setting(b, "completed", "status"), "MedicationRequest.status"),
        (
            lambda b: setting(b, "1234567890", "contained", 1, "identifier", 0, "value"),
            "MedicationRequest.requester",
        ),
        (
            lambda b: setting(b, {"value": 0, "unit": "capsule"}, "dispenseRequest", "quantity"),
            "MedicationRequest.dispenseRequest.quantity.value",
        ),
        (
            lambda b: setting(
                b, {"value": 2, "unit": "mo"}, "dispenseRequest", "expectedSupplyDuration"
            ),
            "MedicationRequest.dispenseRequest.expectedSupplyDuration.unit",
        ),
        (
            lambda b: setting(
                b,
                {"coding": [{"system": codes.NDC, "code": "0002322730"}]},
                "medicationCodeableConcept",
            ),
            "MedicationRequest.medicationCodeableConcept.coding[0].code",
        ),
        (lambda b: without(b, "contained", 0, "birthDate"), "MedicationRequest.contained[0]"),
        (lambda b: setting(b, "#nobody", "subject", "reference"), "MedicationRequest.subject"),
        (
            lambda b: setting(b, [{"text": "x" * 300}], "note"),
            "MedicationRequest.note",
        ),
    ],
)
def test_a_request_that_breaks_a_rule_is_refused_naming_the_element(
    technician, world: World, change: Any, expression: str
):
    before = counts()

    response = FhirClient(technician).post("MedicationRequest", change(order(world.site)))

    assert_outcome(response, 422, expression)
    assert counts() == before


def test_another_pharmacys_technician_receives_it_at_their_own_pharmacy_only(
    outsider, world: World
):
    response = FhirClient(outsider).post("MedicationRequest", order(world.site))

    # Jane Doe is our patient, not theirs: it waits in their inbox, never touches ours.
    assert response.status_code == 202, response.content
    message = ErxMessage.objects.get(direction="in")
    assert message.site == outsider.site and message.patient is None
    assert Prescription.objects.count() == 0


def test_without_a_token_the_request_is_refused_with_401(world: World):
    response = FhirClient(None).post("MedicationRequest", order(world.site))

    assert_outcome(response, 401)
    assert counts() == (0, 0, 0, 0)


# --- Bundles ---------------------------------------------------------------------------------


def _two_orders(site: Any) -> dict[str, Any]:
    first = order(site, number="ORD-1", subject="urn:uuid:p1", requester="urn:uuid:d1")
    second = order(site, number="ORD-2", subject="urn:uuid:p1", requester="urn:uuid:d1")
    for body in (first, second):
        del body["contained"]
    second["dispenseRequest"]["quantity"] = {"value": 60, "unit": "capsule"}
    return bundle_of(
        post_entry(first, "urn:uuid:m1"),
        post_entry(second, "urn:uuid:m2"),
        {"fullUrl": "urn:uuid:p1", "resource": patient_resource(id="p1")},
        post_entry(practitioner_resource("d1"), "urn:uuid:d1"),
    )


def test_a_transaction_receives_each_request_and_answers_a_transaction_response(
    technician, world: World
):
    patients, prescribers = Patient.objects.count(), Prescriber.objects.count()

    response = FhirClient(technician).post("", _two_orders(world.site))

    assert response.status_code == 200, response.content
    body = response.json()
    assert_valid(body)
    assert body["type"] == "transaction-response"
    statuses = [e["response"]["status"] for e in body["entry"]]
    assert statuses == ["201 Created", "201 Created", "200 OK", "200 OK"]
    first, second = Prescription.objects.order_by("pk")
    assert body["entry"][0]["response"]["location"] == f"MedicationRequest/{first.pk}"
    assert body["entry"][1]["response"]["location"] == f"MedicationRequest/{second.pk}"
    assert body["entry"][1]["resource"]["dispenseRequest"]["quantity"]["value"] == 60
    assert (first.prescriber_order_number, second.prescriber_order_number) == ("ORD-1", "ORD-2")
    assert (Patient.objects.count(), Prescriber.objects.count()) == (patients, prescribers)
    assert InboundRequest.objects.count() == 2


def test_a_transaction_is_all_or_nothing(technician, world: World):
    bundle = _two_orders(world.site)
    del bundle["entry"][1]["resource"]["dosageInstruction"]
    client = FhirClient(technician)  # its token's creation is audited
    before = counts()
    events = AuditEvent.objects.count()

    response = client.post("", bundle)

    assert_outcome(response, 422, "Bundle.entry[1].resource.dosageInstruction[0].text")
    assert counts() == before
    assert AuditEvent.objects.count() == events


def test_a_batch_answers_entry_by_entry(technician, world: World):
    bundle = _two_orders(world.site)
    bundle["type"] = "batch"
    del bundle["entry"][1]["resource"]["dosageInstruction"]

    response = FhirClient(technician).post("", bundle)

    assert response.status_code == 200, response.content
    body = response.json()
    assert_valid(body)
    assert body["type"] == "batch-response"
    statuses = [e["response"]["status"] for e in body["entry"]]
    assert statuses == ["201 Created", "422 Unprocessable Entity", "200 OK", "200 OK"]
    issue = body["entry"][1]["response"]["outcome"]["issue"][0]
    assert issue["expression"] == ["Bundle.entry[1].resource.dosageInstruction[0].text"]
    assert Prescription.objects.count() == 1


@pytest.mark.parametrize(
    "entry",
    [
        {"resource": patient_resource(), "request": {"method": "POST", "url": "Patient"}},
        {
            "resource": patient_resource(),
            "request": {"method": "PUT", "url": "Patient/1"},
        },
        {
            "resource": {"resourceType": "Basic", "code": {"text": "x"}},
            "request": {"method": "POST", "url": "Basic"},
        },
    ],
)
def test_an_entry_rxdesk_does_not_accept_is_refused_naming_its_request(
    technician, world: World, entry: dict[str, Any]
):
    bundle = bundle_of(post_entry(order(world.site), "urn:uuid:m1"), entry)
    before = counts()

    response = FhirClient(technician).post("", bundle)

    assert_outcome(response, 422, "Bundle.entry[1].request")
    assert counts() == before


def test_a_medication_request_put_in_a_bundle_is_refused(technician, world: World):
    entry = post_entry(order(world.site), "urn:uuid:m1")
    entry["request"] = {"method": "PUT", "url": "MedicationRequest/5"}

    response = FhirClient(technician).post("", bundle_of(entry))

    assert_outcome(response, 422, "Bundle.entry[0].request")


def test_a_bundle_of_another_type_is_refused(technician, world: World):
    bundle = bundle_of(post_entry(order(world.site), "urn:uuid:m1"), kind="collection")

    assert_outcome(FhirClient(technician).post("", bundle), 422, "Bundle.type")


def test_a_transaction_needs_a_role_that_enters_prescriptions(inventory, world: World):
    before = counts()

    response = FhirClient(inventory).post("", _two_orders(world.site))

    assert_outcome(response, 403)
    assert counts() == before


def test_a_transaction_sent_twice_answers_with_what_the_first_made(technician, world: World):
    client = FhirClient(technician)
    client.post("", _two_orders(world.site))
    before = counts()

    again = client.post("", _two_orders(world.site))

    assert again.status_code == 200
    assert [e["response"]["status"] for e in again.json()["entry"]][:2] == ["200 OK", "200 OK"]
    assert counts() == before
