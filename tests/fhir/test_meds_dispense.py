"""GET /fhir/MedicationDispense: fills as US Core MedicationDispense — the status table along
the fill workflow, us-core-20 (a sold fill has whenHandedOver), first fill and refill types,
substitution, search, other sites and roles, PHI-access events."""

from __future__ import annotations

import datetime as dt

import pytest

from rxdesk.core.models import AuditEvent
from rxdesk.fhir import codes
from rxdesk.rx import services
from rxdesk.rx.choices import HoldReason, PartialReason
from rxdesk.rx.services import workflow
from tests.catalog.factories import PackageFactory
from tests.fhir.helpers import FhirClient, assert_outcome, assert_valid
from tests.inventory.factories import stock
from tests.rx.factories import first_fill, make_rx

pytestmark = pytest.mark.django_db


def _ready(technician, pharmacist, rx=None, **fill_over):
    rx = rx or make_rx(technician)
    stock(rx.site, rx.package, quantity=1000)
    fill = workflow.fill_data_verify(actor=pharmacist, fill=first_fill(rx))
    fill = workflow.fill_product(
        actor=technician, fill=fill, scanned_code=rx.package.ndc10, **fill_over
    )
    return workflow.fill_final_verify(actor=pharmacist, fill=fill)


def _ids(bundle):
    return [e["resource"]["id"] for e in bundle.get("entry", [])]


def test_a_sold_fill_reads_as_a_completed_us_core_dispense(technician, pharmacist, site):
    fill = workflow.fill_sell(actor=technician, fill=_ready(technician, pharmacist))
    rx = fill.prescription
    body = FhirClient(technician).get(f"MedicationDispense/{fill.pk}").json()

    assert_valid(body)
    assert body["meta"]["profile"] == [codes.PROFILE["MedicationDispense"]]
    assert body["status"] == "completed"
    assert body["whenHandedOver"] == fill.sold_at.replace(microsecond=0).isoformat()  # us-core-20
    assert body["whenPrepared"] == fill.verified_at.replace(microsecond=0).isoformat()
    assert body["medicationCodeableConcept"]["coding"][0] == {
        "system": codes.NDC,
        "code": rx.package.ndc11,
        "display": rx.package.description,
    }
    assert body["subject"] == {"reference": f"Patient/{rx.patient_id}"}
    assert body["authorizingPrescription"] == [{"reference": f"MedicationRequest/{rx.pk}"}]
    assert body["type"]["coding"] == [
        {"system": codes.SUPPLY_TYPE, "code": "FF", "display": "First Fill"}
    ]
    assert body["quantity"] == {"value": 30, "unit": "capsule"}
    assert body["daysSupply"] == {"value": 30, "unit": "days", "system": codes.UCUM, "code": "d"}
    assert body["dosageInstruction"] == [{"text": rx.directions_en}]
    assert body["substitution"] == {"wasSubstituted": False}
    performer = body["performer"][0]
    assert performer["actor"]["reference"] == f"Organization/{site.pk}"
    assert pharmacist.get_full_name() in performer["actor"]["display"]
    assert set(performer) == {"actor"}


def test_the_status_follows_the_fill_workflow(technician, pharmacist):
    client = FhirClient(technician)

    def status_of(fill):
        body = client.get(f"MedicationDispense/{fill.pk}").json()
        assert_valid(body)
        if body["status"] == "completed":
            assert body["whenHandedOver"]
        else:
            assert "whenHandedOver" not in body
        return body["status"], body.get("statusReasonCodeableConcept", {}).get("text")

    queued = first_fill(make_rx(technician))
    assert status_of(queued) == ("preparation", None)
    held = workflow.fill_hold(
        actor=pharmacist, fill=first_fill(make_rx(technician)), reason=HoldReason.WAITING_PA
    )
    assert status_of(held) == ("on-hold", "Waiting on prior authorization")
    ready = _ready(technician, pharmacist)
    assert status_of(ready) == ("in-progress", None)
    sold = workflow.fill_sell(actor=technician, fill=_ready(technician, pharmacist))
    assert status_of(sold) == ("completed", None)
    returned = workflow.fill_return_to_stock(
        actor=technician, fill=_ready(technician, pharmacist), reason="Not picked up"
    )
    assert status_of(returned) == ("cancelled", "Returned to stock: not picked up")
    cancelled = services.fill_cancel(
        actor=technician, fill=first_fill(make_rx(technician)), reason="Patient declined"
    )
    assert status_of(cancelled) == ("stopped", "Patient declined")

    for fill, status in [
        (queued, "preparation"),
        (held, "on-hold"),
        (ready, "in-progress"),
        (sold, "completed"),
        (returned, "cancelled"),
        (cancelled, "stopped"),
    ]:
        found = client.get("MedicationDispense", status=status).json()
        assert _ids(found) == [str(fill.pk)], status


def test_a_refill_and_a_partial_fill_have_their_supply_types(technician, pharmacist, site):
    first = workflow.fill_sell(actor=technician, fill=_ready(technician, pharmacist))
    rx = first.prescription
    partial_rx = make_rx(technician)
    partial = _ready(
        technician,
        pharmacist,
        rx=partial_rx,
        quantity=10,
        partial_reason=PartialReason.PATIENT_REQUEST,
    )
    # Set-up only: the refill comes due after the first fill's days supply.
    type(first).objects.filter(pk=first.pk).update(
        dispensed_on=site.today() - dt.timedelta(days=40)
    )
    refill = services.refill_request(actor=technician, prescription=rx).fill
    client = FhirClient(technician)

    def kind(fill):
        body = client.get(f"MedicationDispense/{fill.pk}").json()
        assert_valid(body)
        return body["type"]["coding"][0]["code"]

    assert (kind(first), kind(refill), kind(partial)) == ("FF", "RF", "FFP")
    assert _ids(client.get("MedicationDispense", type="RF").json()) == [str(refill.pk)]
    assert _ids(client.get("MedicationDispense", type="FFP").json()) == [str(partial.pk)]
    assert _ids(
        client.get("MedicationDispense", prescription=f"MedicationRequest/{rx.pk}").json()
    ) == [str(first.pk), str(refill.pk)]


def test_an_equivalent_product_filled_is_a_substitution(technician, pharmacist):
    rx = make_rx(technician)
    generic = PackageFactory(
        product__name="Fluoxetine",
        product__product_ndc="0093-7188",
        ndc10="0093-7188-56",
        description="30 CAPSULE in 1 BOTTLE (0093-7188-56)",
    )
    stock(rx.site, generic, quantity=100)
    fill = workflow.fill_data_verify(actor=pharmacist, fill=first_fill(rx))
    fill = workflow.fill_product(
        actor=pharmacist, fill=fill, scanned_code=generic.ndc10, override_reason="A-rated generic"
    )
    body = FhirClient(technician).get(f"MedicationDispense/{fill.pk}").json()
    assert_valid(body)
    assert body["substitution"] == {"wasSubstituted": True}
    assert body["medicationCodeableConcept"]["coding"][0]["code"] == generic.ndc11


def test_search_by_patient_and_when_handed_over(technician, pharmacist, site):
    sold = workflow.fill_sell(actor=technician, fill=_ready(technician, pharmacist))
    waiting = first_fill(make_rx(technician))
    client = FhirClient(technician)
    today = site.today()

    mine = client.get("MedicationDispense", patient=f"Patient/{sold.prescription.patient_id}")
    assert_valid(mine.json())
    assert _ids(mine.json()) == [str(sold.pk)]
    theirs = client.get("MedicationDispense", patient=waiting.prescription.patient_id)
    assert _ids(theirs.json()) == [str(waiting.pk)]
    handed_today = client.get("MedicationDispense", whenhandedover=today.isoformat()).json()
    assert _ids(handed_today) == [str(sold.pk)]
    assert client.get("MedicationDispense", whenhandedover=f"lt{today}").json()["total"] == 0


def test_another_sites_fill_is_not_found(technician, outsider):
    fill = first_fill(make_rx(technician))
    client = FhirClient(outsider)
    assert_outcome(client.get(f"MedicationDispense/{fill.pk}"), 404)
    assert client.get("MedicationDispense").json()["total"] == 0


@pytest.mark.parametrize("role", ["inventory", "auditor"])
def test_roles_without_prescription_access_may_not_read_dispenses(request, role, technician):
    fill = first_fill(make_rx(technician))
    client = FhirClient(request.getfixturevalue(role))
    assert_outcome(client.get(f"MedicationDispense/{fill.pk}"), 403)
    assert_outcome(client.get("MedicationDispense"), 403)
    assert not AuditEvent.objects.filter(action__startswith="fhir.").exists()


def test_a_dispense_read_writes_a_phi_access_event(technician):
    fill = first_fill(make_rx(technician))
    FhirClient(technician).get(f"MedicationDispense/{fill.pk}")
    event = AuditEvent.objects.get(action="fhir.read")
    assert event.patient_id == fill.prescription.patient_id
    assert event.object_id == f"MedicationDispense/{fill.pk}"


@pytest.mark.parametrize(
    ("params", "expression"),
    [
        ({"status": "sold"}, "status"),
        ({"whenhandedover": "yesterday"}, "whenhandedover"),
        ({"prescription": "Patient/3"}, "prescription"),
    ],
)
def test_a_bad_dispense_search_names_the_parameter(technician, params, expression):
    assert_outcome(FhirClient(technician).get("MedicationDispense", **params), 400, expression)


def test_a_dispense_search_page_costs_the_same_queries_for_one_row_or_many(
    technician, pharmacist, site
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = FhirClient(technician)
    rx = make_rx(technician)

    def queries(n_rows):
        with CaptureQueriesContext(connection) as ctx:
            bundle = client.get("MedicationDispense", patient=rx.patient_id).json()
        assert bundle["total"] == n_rows
        return len(ctx.captured_queries)

    _ready(technician, pharmacist, rx=rx)
    queries(1)  # the first request of a token also records its first use
    few = queries(1)
    for _ in range(3):
        make_rx(technician, patient=rx.patient)
    assert queries(4) == few
