"""GET /fhir/MedicationRequest: our prescriptions (filler-order) and imported medication
history (h-<n>, reported), US Core must-support, the status table, search and paging, who
may read them, and the PHI-access events."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from rxdesk.core.models import AuditEvent
from rxdesk.fhir import codes
from rxdesk.fhir.models import MedicationHistory
from rxdesk.rx import services
from rxdesk.rx.choices import Daw, HoldReason, InactiveReason
from rxdesk.rx.models import Prescription
from rxdesk.rx.services import workflow
from tests.factories import PatientFactory
from tests.fhir.helpers import FhirClient, assert_outcome, assert_valid
from tests.inventory.factories import stock
from tests.rx.factories import first_fill, make_rx

pytestmark = pytest.mark.django_db


def _sold(technician, pharmacist, rx):
    stock(rx.site, rx.package, quantity=1000)
    fill = workflow.fill_data_verify(actor=pharmacist, fill=first_fill(rx))
    fill = workflow.fill_product(actor=technician, fill=fill, scanned_code=rx.package.ndc10)
    fill = workflow.fill_final_verify(actor=pharmacist, fill=fill)
    return workflow.fill_sell(actor=technician, fill=fill)


def _history(site, patient, **over):
    values = {
        "site": site,
        "patient": patient,
        "status": "active",
        "drug_name": "lisinopril 10 MG Oral Tablet",
        "rxnorm": "314076",
        "authored_on": dt.date(2024, 5, 1),
        "prescriber_name": "Ann Other, MD",
        "prescriber_npi": "1234567893",
        "directions": "Take 1 tablet by mouth daily",
        "quantity": Decimal("30"),
        "quantity_unit": "tablet",
        "days_supply": 30,
        "refills": 2,
        "source": "urn:uuid",
        "source_id": "5f1c0b1e-0000-4000-8000-000000000001",
    }
    values.update(over)
    return MedicationHistory.objects.create(**values)


def _order_number(rx, number):
    # Set-up only: the order number comes with an e-prescription (tests/rx/test_erx.py).
    Prescription.objects.filter(pk=rx.pk).update(prescriber_order_number=number)


def _ids(bundle):
    return [e["resource"]["id"] for e in bundle.get("entry", [])]


def test_a_prescription_reads_as_a_us_core_filler_order(technician, site):
    rx = make_rx(technician, diagnosis_code="F32.9", daw=Daw.PRESCRIBER)
    _order_number(rx, "ORD-77")
    response = FhirClient(technician).get(f"MedicationRequest/{rx.pk}")

    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("application/fhir+json")
    body = response.json()
    assert_valid(body)
    assert body["meta"]["profile"] == [codes.PROFILE["MedicationRequest"]]
    assert body["status"] == "active" and body["intent"] == "filler-order"
    assert body["category"][0]["coding"][0] == {
        "system": codes.RX_CATEGORY,
        "code": "community",
        "display": "Community",
    }
    assert body["reportedBoolean"] is False
    assert body["medicationCodeableConcept"]["coding"][0]["system"] == codes.NDC
    assert body["medicationCodeableConcept"]["coding"][0]["code"] == rx.package.ndc11
    assert body["medicationCodeableConcept"]["text"] == rx.drug_description
    assert body["subject"] == {"reference": f"Patient/{rx.patient_id}"}
    assert body["authoredOn"] == site.today().isoformat()
    assert body["requester"]["reference"] == f"Practitioner/{rx.prescriber_id}"
    assert body["requester"]["display"]
    assert body["reasonCode"][0]["coding"][0] == {"system": codes.ICD10CM, "code": "F32.9"}
    assert body["dosageInstruction"] == [{"text": rx.directions_en}]
    request = body["dispenseRequest"]
    assert request["numberOfRepeatsAllowed"] == 5
    assert request["quantity"] == {"value": 30, "unit": "capsule"}
    assert request["expectedSupplyDuration"] == {
        "value": 30,
        "unit": "days",
        "system": codes.UCUM,
        "code": "d",
    }
    assert request["validityPeriod"]["start"] == site.today().isoformat()
    assert request["validityPeriod"]["end"] == rx.expires_on.isoformat()
    assert body["substitution"] == {"allowedBoolean": False}
    identifiers = {i["system"]: i["value"] for i in body["identifier"]}
    assert identifiers == {codes.RX_NUMBER: str(rx.number), codes.PRESCRIBER_ORDER_NUMBER: "ORD-77"}


@pytest.mark.parametrize(
    ("daw", "allowed"),
    [
        (Daw.NONE, True),
        (Daw.PRESCRIBER, False),
        (Daw.PATIENT, True),
        (Daw.BRAND_BY_LAW, False),
        (Daw.GENERIC_NOT_MARKETED, True),
    ],
)
def test_substitution_follows_the_daw_code(technician, daw, allowed):
    rx = make_rx(technician, daw=daw)
    body = FhirClient(technician).get(f"MedicationRequest/{rx.pk}").json()
    assert body["substitution"] == {"allowedBoolean": allowed}


def test_the_status_table_maps_every_kind_of_prescription(technician, pharmacist, site):
    active = make_rx(technician)
    held = services.prescription_hold(
        actor=technician, prescription=make_rx(technician), reason=HoldReason.PROFILE
    )
    never_filled = services.prescription_inactivate(
        actor=technician, prescription=make_rx(technician), reason=InactiveReason.DISCONTINUED
    )
    in_error = services.prescription_inactivate(
        actor=technician,
        prescription=make_rx(technician),
        reason=InactiveReason.ENTERED_IN_ERROR,
    )
    partly = make_rx(technician)
    _sold(technician, pharmacist, partly)
    partly = services.prescription_inactivate(
        actor=technician, prescription=partly, reason=InactiveReason.PATIENT_REQUEST
    )
    done = make_rx(technician, refills_authorized=0)
    _sold(technician, pharmacist, done)
    expired = make_rx(technician)
    # Set-up only: a prescription written long ago (intake refuses an expired one).
    Prescription.objects.filter(pk=expired.pk).update(expires_on=site.today() - dt.timedelta(1))

    client = FhirClient(technician)
    expected = {
        active: ("active", None),
        held: ("on-hold", "Profiled: patient will call when needed"),
        never_filled: ("cancelled", "Discontinued by prescriber"),
        in_error: ("entered-in-error", "Entered in error"),
        partly: ("stopped", "Patient request"),
        done: ("completed", None),
        expired: ("stopped", f"Expired on {site.today() - dt.timedelta(1)}"),
    }
    for rx, (status, reason) in expected.items():
        body = client.get(f"MedicationRequest/{rx.pk}").json()
        assert_valid(body)
        assert body["status"] == status, (rx, body["status"])
        assert body.get("statusReason", {}).get("text") == reason
        found = client.get("MedicationRequest", status=status, patient=rx.patient_id).json()
        assert _ids(found) == [str(rx.pk)], (status, found)


def test_a_transferred_prescription_is_stopped(technician, pharmacist):
    rx = make_rx(technician)
    other = services.OtherPharmacy(
        name="Elm Street Pharmacy",
        address="12 Elm St, Springfield IL 62701",
        pharmacist="Dana Lee, RPh",
        ncpdp_id="1234567",
    )
    services.transfer_out(actor=pharmacist, prescription=rx, other=other)
    body = FhirClient(technician).get(f"MedicationRequest/{rx.pk}").json()
    assert_valid(body)
    assert body["status"] == "stopped"
    assert body["statusReason"]["text"].startswith("Transferred out")


def test_search_by_patient_status_and_written_date(technician, site):
    patient = PatientFactory(site=site)
    today = site.today()
    old = make_rx(technician, patient=patient, date_written=today - dt.timedelta(days=20))
    new = make_rx(technician, patient=patient)
    held = make_rx(technician, patient=patient)
    services.prescription_hold(actor=technician, prescription=held, reason=HoldReason.PROFILE)
    make_rx(technician)  # another patient's
    client = FhirClient(technician)

    bundle = client.get("MedicationRequest", patient=f"Patient/{patient.pk}").json()
    assert_valid(bundle)
    assert bundle["type"] == "searchset" and bundle["total"] == 3
    assert _ids(bundle) == [str(old.pk), str(new.pk), str(held.pk)]

    response = client.client.get(
        "/fhir/MedicationRequest",
        {
            "patient": str(patient.pk),
            "authoredon": [f"ge{today - dt.timedelta(days=30)}", f"lt{today}"],
        },
        headers=client.headers,
    )
    assert _ids(response.json()) == [str(old.pk)]

    both = client.get("MedicationRequest", patient=patient.pk, status="active,on-hold").json()
    assert sorted(_ids(both)) == sorted([str(old.pk), str(new.pk), str(held.pk)])
    only_held = client.get("MedicationRequest", patient=patient.pk, status="on-hold").json()
    assert _ids(only_held) == [str(held.pk)]


def test_search_by_rx_number_requester_code_and_intent(technician, site):
    rx = make_rx(technician)
    _order_number(rx, "ORD-9")
    other = make_rx(technician)
    client = FhirClient(technician)

    by_number = client.get("MedicationRequest", identifier=f"{codes.RX_NUMBER}|{rx.number}")
    assert _ids(by_number.json()) == [str(rx.pk)]
    by_order = client.get("MedicationRequest", identifier="ORD-9")
    assert _ids(by_order.json()) == [str(rx.pk)]
    by_code = client.get("MedicationRequest", code=rx.package.ndc10)
    assert _ids(by_code.json()) == [str(rx.pk)]
    by_code11 = client.get("MedicationRequest", code=f"{codes.NDC}|{other.package.ndc11}")
    assert _ids(by_code11.json()) == [str(other.pk)]
    by_requester = client.get("MedicationRequest", requester=f"Practitioner/{rx.prescriber_id}")
    assert sorted(_ids(by_requester.json())) == sorted([str(rx.pk), str(other.pk)])
    assert client.get("MedicationRequest", intent="order").json()["total"] == 0
    assert client.get("MedicationRequest", intent="filler-order").json()["total"] == 2


def test_paging_follows_the_next_link_to_the_rest(technician, site):
    patient = PatientFactory(site=site)
    made = [make_rx(technician, patient=patient) for _ in range(3)]
    _history(site, patient)
    client = FhirClient(technician)

    first = client.get("MedicationRequest", patient=patient.pk, _count=2).json()
    assert first["total"] == 4 and len(first["entry"]) == 2
    following = next(link["url"] for link in first["link"] if link["relation"] == "next")
    second = client.client.get(following, headers=client.headers).json()
    assert_valid(second)
    ids = _ids(first) + _ids(second)
    assert ids[:3] == [str(rx.pk) for rx in made] and ids[3].startswith("h-")
    assert not [link for link in second["link"] if link["relation"] == "next"]


def test_imported_history_reads_as_a_reported_order(technician, site):
    patient = PatientFactory(site=site)
    row = _history(site, patient, status="completed")
    client = FhirClient(technician)

    body = client.get(f"MedicationRequest/h-{row.pk}").json()
    assert_valid(body)
    assert body["id"] == f"h-{row.pk}"
    assert body["reportedBoolean"] is True and body["intent"] == "order"
    assert body["status"] == "completed"
    assert body["medicationCodeableConcept"]["coding"] == [
        {"system": codes.RXNORM, "code": "314076"}
    ]
    assert body["requester"] == {
        "identifier": {"system": codes.NPI, "value": "1234567893"},
        "display": "Ann Other, MD",
    }
    assert body["dispenseRequest"]["numberOfRepeatsAllowed"] == 2
    assert body["subject"] == {"reference": f"Patient/{patient.pk}"}

    found = client.get("MedicationRequest", patient=patient.pk, status="completed").json()
    assert _ids(found) == [f"h-{row.pk}"]
    assert _ids(client.get("MedicationRequest", code=f"{codes.RXNORM}|314076").json()) == [
        f"h-{row.pk}"
    ]
    assert _ids(client.get("MedicationRequest", _id=f"h-{row.pk}").json()) == [f"h-{row.pk}"]


def test_another_sites_prescription_is_not_found(technician, outsider):
    rx = make_rx(technician)
    row = _history(rx.site, rx.patient)
    client = FhirClient(outsider)
    assert_outcome(client.get(f"MedicationRequest/{rx.pk}"), 404)
    assert_outcome(client.get(f"MedicationRequest/h-{row.pk}"), 404)
    assert client.get("MedicationRequest", patient=rx.patient_id).json()["total"] == 0
    assert client.get("MedicationRequest", _id=str(rx.pk)).json()["total"] == 0


@pytest.mark.parametrize("role", ["inventory", "auditor"])
def test_roles_without_prescription_access_are_refused(request, role, technician):
    rx = make_rx(technician)
    client = FhirClient(request.getfixturevalue(role))
    before = AuditEvent.objects.filter(action__startswith="fhir.").count()
    assert_outcome(client.get(f"MedicationRequest/{rx.pk}"), 403)
    assert_outcome(client.get("MedicationRequest", patient=rx.patient_id), 403)
    assert AuditEvent.objects.filter(action__startswith="fhir.").count() == before


def test_a_read_and_a_search_write_phi_access_events(technician, site):
    rx = make_rx(technician)
    row = _history(site, rx.patient)
    client = FhirClient(technician)

    client.get(f"MedicationRequest/{rx.pk}")
    event = AuditEvent.objects.filter(action="fhir.read").get()
    assert (event.patient_id, event.object_id) == (rx.patient_id, f"MedicationRequest/{rx.pk}")

    client.get("MedicationRequest", patient=rx.patient_id)
    event = AuditEvent.objects.filter(action="fhir.search").get()
    assert event.patient_id == rx.patient_id
    assert f"MedicationRequest/h-{row.pk}" in event.data


@pytest.mark.parametrize(
    ("params", "expression"),
    [
        ({"status": "bogus"}, "status"),
        ({"authoredon": "ge2025-13-40"}, "authoredon"),
        ({"patient": "Practitioner/1"}, "patient"),
        ({"intent": "wish"}, "intent"),
    ],
)
def test_a_bad_search_value_is_answered_with_an_outcome_naming_it(technician, params, expression):
    response = FhirClient(technician).get("MedicationRequest", **params)
    assert_outcome(response, 400, expression)


def test_a_search_page_costs_the_same_queries_for_one_row_or_many(technician, site):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    patient = PatientFactory(site=site)
    client = FhirClient(technician)

    def queries(n_rows):
        with CaptureQueriesContext(connection) as ctx:
            bundle = client.get("MedicationRequest", patient=patient.pk).json()
        assert bundle["total"] == n_rows
        return len(ctx.captured_queries)

    make_rx(technician, patient=patient)
    _history(site, patient)
    queries(2)  # the first request of a token also records its first use
    few = queries(2)
    for _ in range(3):
        make_rx(technician, patient=patient)
    _history(site, patient, source_id="another")
    assert queries(6) == few
