"""Deliveries: create, manifest, depart, proof of delivery (sale, pickup, payment), fail,
ship by mail; and the manifest PDF."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from rxdesk.core.errors import Conflict, Forbidden, Invalid
from rxdesk.patients.models import Patient
from rxdesk.pos.choices import DeliveryStatus, SaleStatus
from rxdesk.pos.manifest import manifest_pdf
from rxdesk.pos.models import Delivery, Manifest, Pickup, Sale
from rxdesk.pos.services.delivery import (
    delivery_complete,
    delivery_create,
    delivery_fail,
    delivery_ship,
    manifest_create,
    manifest_depart,
)
from rxdesk.pos.services.pickup import pickup_start
from rxdesk.pos.services.sales import TenderIn
from rxdesk.rx.choices import FillStatus
from rxdesk.rx.models import Fill
from tests.conftest import last_event
from tests.pos.factories import price, ready_fill, signature

ADDRESS = {
    "address_line1": "12 Elm St",
    "city": "Springfield",
    "state": "IL",
    "postal_code": "62704",
    "phone_mobile": "2175550100",
}


def _fill(technician, pharmacist, amount: str = "0.00", **over) -> Fill:
    f = ready_fill(technician, pharmacist, **over)
    Patient.objects.filter(pk=f.prescription.patient_id).update(**ADDRESS)
    f.prescription.patient.refresh_from_db()
    price(f.prescription.package, amount)
    return f


@pytest.fixture
def fill(technician, pharmacist) -> Fill:
    return _fill(technician, pharmacist)


def _out(technician, fill) -> Delivery:
    delivery = delivery_create(actor=technician, patient=fill.prescription.patient, fills=[fill])
    manifest = manifest_create(actor=technician, deliveries=[delivery], driver=technician)
    manifest_depart(actor=technician, manifest=manifest)
    delivery.refresh_from_db()
    return delivery


def test_a_delivery_takes_the_patients_address(technician, fill, site):
    delivery = delivery_create(
        actor=technician, patient=fill.prescription.patient, fills=[fill], instructions="Side door"
    )
    assert (delivery.address_line1, delivery.city, delivery.state, delivery.postal_code) == (
        "12 Elm St",
        "Springfield",
        "IL",
        "62704",
    )
    assert delivery.phone == "2175550100" and delivery.status == DeliveryStatus.PENDING
    assert list(delivery.fills.all()) == [fill]
    assert last_event().action == "pos.delivery.created"


def test_a_delivery_without_an_address_names_each_missing_field(technician, pharmacist):
    f = ready_fill(technician, pharmacist)
    with pytest.raises(Invalid) as exc:
        delivery_create(actor=technician, patient=f.prescription.patient, fills=[f])
    assert {e["field"] for e in exc.value.errors} == {
        "address_line1",
        "city",
        "state",
        "postal_code",
    }
    assert Delivery.objects.count() == 0


def test_a_fill_on_a_delivery_or_a_sale_cannot_go_on_another(technician, fill, pharmacist):
    delivery_create(actor=technician, patient=fill.prescription.patient, fills=[fill])
    with pytest.raises(Conflict, match="on a delivery"):
        delivery_create(actor=technician, patient=fill.prescription.patient, fills=[fill])
    other = _fill(technician, pharmacist)
    pickup_start(actor=technician, patient=other.prescription.patient, fills=[other])
    with pytest.raises(Conflict, match="open sale"):
        delivery_create(actor=technician, patient=other.prescription.patient, fills=[other])
    assert Delivery.objects.count() == 1


def test_a_fill_past_the_return_window_is_not_delivered(technician, fill, site):
    Fill.objects.filter(pk=fill.pk).update(dispensed_on=site.today() - dt.timedelta(days=11))
    with pytest.raises(Conflict, match="return window") as exc:
        delivery_create(actor=technician, patient=fill.prescription.patient, fills=[fill])
    assert exc.value.field == "fills"


def test_roles_without_pos_deliver_cannot_create_a_delivery(auditor, inventory, fill):
    for actor in (auditor, inventory):
        with pytest.raises(Forbidden):
            delivery_create(actor=actor, patient=fill.prescription.patient, fills=[fill])
    assert Delivery.objects.count() == 0


def test_a_courier_manifest_needs_a_driver(technician, fill):
    delivery = delivery_create(actor=technician, patient=fill.prescription.patient, fills=[fill])
    with pytest.raises(Invalid) as exc:
        manifest_create(actor=technician, deliveries=[delivery])
    assert exc.value.field == "driver_name" and Manifest.objects.count() == 0
    manifest = manifest_create(actor=technician, deliveries=[delivery], driver_name="Lee")
    with pytest.raises(Conflict):
        manifest_create(actor=technician, deliveries=[delivery], driver_name="Kim")
    assert manifest.deliveries.get() == delivery


def test_the_full_delivery_path_with_proof(technician, pharmacist):
    f = _fill(technician, pharmacist, amount="30.00")
    delivery = _out(technician, f)
    assert delivery.status == DeliveryStatus.OUT
    assert delivery.manifest.departed_at is not None

    done = delivery_complete(
        actor=technician,
        delivery=delivery,
        person="caregiver",
        person_name="Sam Doe",
        relationship="son",
        signature=signature(),
        tenders=[TenderIn(kind="card", amount="30.00", reference="4242 AP123")],
    )

    assert done.status == DeliveryStatus.DELIVERED and done.delivered_at is not None
    sale = Sale.objects.get(pk=done.sale_id)
    assert sale.status == SaleStatus.COMPLETED and sale.paid == sale.total
    pickup = Pickup.objects.get(delivery=done)
    assert pickup.sale == sale and bytes(pickup.signature) == signature()
    assert pickup.relationship == "son" and not pickup.dob_confirmed
    f.refresh_from_db()
    assert f.status == FillStatus.DISPENSED
    event = last_event()
    assert event.action == "pos.delivery.completed"
    assert json.loads(event.data)["sale"] == sale.receipt_number


def test_a_wrong_date_of_birth_at_the_door_stops_the_delivery(technician, fill):
    delivery = _out(technician, fill)
    with pytest.raises(Conflict) as exc:
        delivery_complete(
            actor=technician,
            delivery=delivery,
            person="patient",
            person_name="",
            date_of_birth=dt.date(1999, 1, 1),
            signature=signature(),
        )
    assert exc.value.field == "date_of_birth"
    assert Sale.objects.count() == 0 and Pickup.objects.count() == 0
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.OUT


def test_a_cii_delivered_needs_the_id(technician, pharmacist, site):
    f = _fill(technician, pharmacist, schedule="CII", refills_authorized=0)
    delivery = _out(technician, f)
    with pytest.raises(Invalid) as exc:
        delivery_complete(
            actor=technician,
            delivery=delivery,
            person="patient",
            person_name="",
            signature=signature(),
        )
    assert "id_type" in {e["field"] for e in exc.value.errors}
    done = delivery_complete(
        actor=technician,
        delivery=delivery,
        person="patient",
        person_name="",
        signature=signature(),
        id_type="state_id",
        id_number="S99",
        id_state="IL",
        id_expiry=site.today() + dt.timedelta(days=30),
    )
    assert done.status == DeliveryStatus.DELIVERED


def test_a_failed_delivery_leaves_the_bags_in_will_call(technician, fill):
    delivery = _out(technician, fill)
    with pytest.raises(Invalid):
        delivery_fail(actor=technician, delivery=delivery, reason=" ")
    failed = delivery_fail(actor=technician, delivery=delivery, reason="Nobody home")
    assert failed.status == DeliveryStatus.FAILED and failed.failed_reason == "Nobody home"
    fill.refresh_from_db()
    assert fill.status == FillStatus.READY
    # Back in will-call: it can be sold at the counter again.
    sale = pickup_start(actor=technician, patient=fill.prescription.patient, fills=[fill])
    assert sale.lines.count() == 1


def test_completing_a_delivery_not_out_is_refused(technician, fill):
    delivery = delivery_create(actor=technician, patient=fill.prescription.patient, fills=[fill])
    with pytest.raises(Conflict):
        delivery_complete(
            actor=technician,
            delivery=delivery,
            person="patient",
            person_name="",
            signature=signature(),
        )
    assert Sale.objects.count() == 0


def test_an_auditor_cannot_complete_a_delivery(technician, auditor, fill):
    delivery = _out(technician, fill)
    with pytest.raises(Forbidden):
        delivery_complete(
            actor=auditor,
            delivery=delivery,
            person="patient",
            person_name="",
            signature=signature(),
        )
    assert Sale.objects.count() == 0


def test_mail_is_shipped_with_a_tracking_number(technician, fill):
    delivery = delivery_create(
        actor=technician, patient=fill.prescription.patient, fills=[fill], method="mail"
    )
    with pytest.raises(Invalid) as exc:
        delivery_ship(actor=technician, delivery=delivery, tracking_number="")
    assert exc.value.field == "tracking_number"
    shipped = delivery_ship(actor=technician, delivery=delivery, tracking_number="1Z 999 AA1")
    assert shipped.status == DeliveryStatus.DELIVERED and shipped.tracking_number == "1Z999AA1"
    pickup = Pickup.objects.get(delivery=shipped)
    assert (pickup.person, pickup.person_name) == ("other", "Mail carrier")
    fill.refresh_from_db()
    assert fill.status == FillStatus.DISPENSED


def test_a_courier_delivery_is_not_shipped(technician, fill):
    delivery = delivery_create(actor=technician, patient=fill.prescription.patient, fills=[fill])
    with pytest.raises(Conflict):
        delivery_ship(actor=technician, delivery=delivery, tracking_number="1Z1")


def test_the_manifest_pdf_lists_each_stop(technician, pharmacist):
    f = _fill(technician, pharmacist, amount="12.50")
    delivery = delivery_create(actor=technician, patient=f.prescription.patient, fills=[f])
    manifest = manifest_create(actor=technician, deliveries=[delivery], driver_name="Lee")
    pdf = manifest_pdf(manifest)
    assert pdf.startswith(b"%PDF")
    assert b"12 Elm St" in pdf and b"Collect: $12.50" in pdf


def test_the_screens_build_a_run_and_record_the_delivery(client, technician, pharmacist):
    import base64

    f = _fill(technician, pharmacist)
    client.force_login(technician)
    assert client.get("/pos/deliveries/").status_code == 200
    client.post("/pos/deliveries/new/", {"fill": [f.pk]})
    delivery = Delivery.objects.get()
    client.post("/pos/manifests/new/", {"delivery": [delivery.pk], "driver_name": "Lee"})
    manifest = Manifest.objects.get()
    assert client.get(f"/pos/manifests/{manifest.pk}/pdf/")["Content-Type"] == "application/pdf"
    client.post(f"/pos/manifests/{manifest.pk}/depart/")
    form = client.get(f"/pos/deliveries/{delivery.pk}/deliver/")
    assert form.status_code == 200 and b"data-signature-for" in form.content
    missing = client.post(f"/pos/deliveries/{delivery.pk}/deliver/", {"person": "patient"})
    assert missing.status_code == 422
    done = client.post(
        f"/pos/deliveries/{delivery.pk}/deliver/",
        {
            "person": "patient",
            "amount": "0.00",
            "signature": "data:image/png;base64," + base64.b64encode(signature()).decode(),
        },
    )
    assert done.status_code == 302
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.DELIVERED


def test_counseling_accepted_at_the_door_waits_for_the_pharmacists_call(
    technician, pharmacist, fill
):
    from rxdesk.pos.services.pickup import counseling_record, counseling_waiting

    delivery = _out(technician, fill)
    done = delivery_complete(
        actor=technician,
        delivery=delivery,
        person="patient",
        person_name="Pat Doe",
        signature=signature(),
        counseling="accepted",
    )
    sale = Sale.objects.get(pk=done.sale_id)
    assert sale.status == SaleStatus.COMPLETED  # the driver cannot counsel; the bag is sold
    assert counseling_waiting(actor=pharmacist) == [sale]

    with pytest.raises(Forbidden):
        counseling_record(actor=technician, sale=sale, note="Called the patient.")
    with pytest.raises(Invalid) as bad:
        counseling_record(actor=pharmacist, sale=sale, note="  ")
    assert bad.value.field == "note"

    pickup = counseling_record(actor=pharmacist, sale=sale, note="Phoned: take with food.")
    assert pickup.counseled_by == pharmacist and pickup.counseled_at is not None
    sale.refresh_from_db()
    assert sale.status == SaleStatus.COMPLETED
    assert counseling_waiting(actor=pharmacist) == []
    assert json.loads(last_event().data)["by_phone"] is True
    with pytest.raises(Conflict):  # once only
        counseling_record(actor=pharmacist, sale=sale, note="Again.")


def test_a_sale_at_the_counter_completed_without_counseling_is_not_counseled_later(
    technician, pharmacist, fill
):
    from rxdesk.pos.services.pickup import counseling_record, pickup_record
    from rxdesk.pos.services.sales import sale_pay

    sale = pickup_start(actor=technician, patient=fill.prescription.patient, fills=[fill])
    pickup_record(
        actor=technician,
        sale=sale,
        person="patient",
        person_name="Pat Doe",
        date_of_birth=fill.prescription.patient.date_of_birth,
        second_identifier="address",
        counseling="declined",
        signature=signature(),
    )
    sale_pay(actor=technician, sale=sale, tenders=[])
    with pytest.raises(Conflict) as refused:
        counseling_record(actor=pharmacist, sale=sale, note="Hello.")
    assert refused.value.field == "sale"
