"""Pickup at the counter: the sale's prescription lines, identity, CS ID, counseling."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest

from rxdesk.core.errors import Conflict, Forbidden, Invalid
from rxdesk.patients.models import Patient
from rxdesk.patients.services import patient_household_join
from rxdesk.pos.choices import SaleStatus
from rxdesk.pos.models import Pickup, PosSettings, Sale, SaleLine
from rxdesk.pos.services.pickup import (
    counseling_record,
    counseling_waiting,
    pickup_record,
    pickup_start,
)
from rxdesk.rx.models import Fill
from tests.conftest import last_event
from tests.pos.factories import price, ready_fill, signature

DOB = dt.date(1970, 5, 17)


@pytest.fixture
def fill(technician, pharmacist) -> Fill:
    f = ready_fill(technician, pharmacist)
    price(f.prescription.package, "30.00")
    return f


def _cii(technician, pharmacist, **over) -> Fill:
    f = ready_fill(technician, pharmacist, schedule="CII", refills_authorized=0, **over)
    price(f.prescription.package, "45.00")
    return f


def _record(actor, sale, **over):
    values = {
        "person": "patient",
        "person_name": "",
        "date_of_birth": DOB,
        "second_identifier": "address",
        "counseling": "declined",
        "signature": signature(),
    }
    values.update(over)
    return pickup_record(actor=actor, sale=sale, **values)


def _counts() -> tuple[int, int, int]:
    return Sale.objects.count(), SaleLine.objects.count(), Pickup.objects.count()


# --- pickup_start ------------------------------------------------------------------------------


def test_it_starts_a_sale_with_one_rx_line_per_fill_at_the_cash_price(technician, fill):
    sale = pickup_start(actor=technician, patient=fill.prescription.patient, fills=[fill])

    line = sale.lines.get()
    assert line.kind == "rx" and line.fill_id == fill.pk
    assert line.description.startswith(f"Rx {fill.prescription.number}-0 ")
    assert line.quantity == Decimal("30") and line.amount == Decimal("30.00")
    assert line.fsa_eligible and not line.taxable
    assert sale.total == Decimal("30.00") and sale.status == SaleStatus.OPEN
    event = last_event()
    assert event.action == "pos.pickup.started" and json.loads(event.data)["fills"] == [fill.pk]


def test_it_prorates_the_cash_price_by_the_package_size(technician, pharmacist):
    f = ready_fill(technician, pharmacist, quantity=Decimal("10"))
    price(f.prescription.package, "30.00")  # 30 capsules in the package
    sale = pickup_start(actor=technician, patient=f.prescription.patient, fills=[f])
    assert sale.total == Decimal("10.00")


def test_it_takes_a_typed_price_and_refuses_when_there_is_none(technician, pharmacist):
    f = ready_fill(technician, pharmacist)
    before = _counts()
    with pytest.raises(Conflict) as exc:
        pickup_start(actor=technician, patient=f.prescription.patient, fills=[f])
    assert exc.value.field == "price" and _counts() == before

    sale = pickup_start(
        actor=technician, patient=f.prescription.patient, fills=[f], prices={f.pk: "4.00"}
    )
    assert sale.total == Decimal("4.00")


def test_a_bad_typed_price_is_invalid_naming_price(technician, fill):
    before = _counts()
    with pytest.raises(Invalid) as exc:
        pickup_start(
            actor=technician,
            patient=fill.prescription.patient,
            fills=[fill],
            prices={fill.pk: "-1"},
        )
    assert exc.value.field == "price" and _counts() == before


def test_it_refuses_a_fill_past_the_return_window(technician, fill, site):
    Fill.objects.filter(pk=fill.pk).update(dispensed_on=site.today() - dt.timedelta(days=11))
    before = _counts()
    with pytest.raises(Conflict) as exc:
        pickup_start(actor=technician, patient=fill.prescription.patient, fills=[fill])
    assert exc.value.field == "fills"
    assert "past the plan's return window (10 days)" in exc.value.message
    assert f"Rx {fill.prescription.number}-0" in exc.value.message
    assert _counts() == before


def test_the_last_day_of_the_return_window_still_sells(technician, fill, site):
    Fill.objects.filter(pk=fill.pk).update(dispensed_on=site.today() - dt.timedelta(days=10))
    sale = pickup_start(actor=technician, patient=fill.prescription.patient, fills=[fill])
    assert sale.lines.count() == 1


def test_it_refuses_a_fill_already_on_an_open_sale(technician, fill):
    pickup_start(actor=technician, patient=fill.prescription.patient, fills=[fill])
    with pytest.raises(Conflict, match="already on another open sale"):
        pickup_start(actor=technician, patient=fill.prescription.patient, fills=[fill])
    assert Sale.objects.count() == 1


def test_it_refuses_a_fill_on_a_delivery(technician, fill):
    from rxdesk.pos.services.delivery import delivery_create

    patient = fill.prescription.patient
    Patient.objects.filter(pk=patient.pk).update(
        address_line1="1 Main St", city="Springfield", state="IL", postal_code="62704"
    )
    patient.refresh_from_db()
    delivery_create(actor=technician, patient=patient, fills=[fill])
    with pytest.raises(Conflict, match="on a delivery") as exc:
        pickup_start(actor=technician, patient=patient, fills=[fill])
    assert exc.value.field == "fills" and Sale.objects.count() == 0


def test_a_household_members_fill_is_allowed_and_a_strangers_refused(technician, pharmacist, fill):
    patient = fill.prescription.patient
    spouse_fill = ready_fill(technician, pharmacist)
    price(spouse_fill.prescription.package, "5.00")
    spouse = spouse_fill.prescription.patient
    stranger_fill = ready_fill(technician, pharmacist)
    price(stranger_fill.prescription.package, "5.00")

    with pytest.raises(Conflict, match="outside this patient's household"):
        pickup_start(actor=technician, patient=patient, fills=[fill, spouse_fill])

    patient_household_join(actor=technician, patient=spouse, with_patient=patient)
    sale = pickup_start(actor=technician, patient=patient, fills=[fill, spouse_fill])
    assert sale.lines.count() == 2 and sale.total == Decimal("35.00")

    with pytest.raises(Conflict, match="outside this patient's household"):
        pickup_start(actor=technician, patient=patient, fills=[stranger_fill])


def test_a_fill_not_in_will_call_is_refused(technician, fill):
    Fill.objects.filter(pk=fill.pk).update(status="dispensed")
    with pytest.raises(Conflict, match="not in will-call"):
        pickup_start(actor=technician, patient=fill.prescription.patient, fills=[fill])


def test_no_fills_is_invalid(technician, fill):
    with pytest.raises(Invalid) as exc:
        pickup_start(actor=technician, patient=fill.prescription.patient, fills=[])
    assert exc.value.field == "fills"


def test_roles_without_rx_sell_cannot_start_a_pickup(auditor, inventory, fill):
    for actor in (auditor, inventory):
        with pytest.raises(Forbidden):
            pickup_start(actor=actor, patient=fill.prescription.patient, fills=[fill])
    assert Sale.objects.count() == 0


def test_another_pharmacys_patient_does_not_exist(outsider, fill):
    from rxdesk.core.errors import NotFound

    with pytest.raises((NotFound, Forbidden)):
        pickup_start(actor=outsider, patient=fill.prescription.patient, fills=[fill])


# --- pickup_record -----------------------------------------------------------------------------


def test_it_records_the_pickup_with_the_signature(technician, fill):
    sale = pickup_start(actor=technician, patient=fill.prescription.patient, fills=[fill])
    pickup = _record(technician, sale)

    assert pickup.person_name == fill.prescription.patient.full_name
    assert pickup.dob_confirmed and bytes(pickup.signature) == signature()
    assert len(pickup.signature_sha256) == 64
    event = last_event()
    assert (
        event.action == "pos.pickup.recorded" and json.loads(event.data)["counseling"] == "declined"
    )
    assert 'signature"' not in event.data


def test_a_date_of_birth_that_does_not_match_stops_the_hand_out(technician, fill):
    sale = pickup_start(actor=technician, patient=fill.prescription.patient, fills=[fill])
    with pytest.raises(Conflict) as exc:
        _record(technician, sale, date_of_birth=dt.date(1971, 5, 17))
    assert exc.value.field == "date_of_birth"
    assert "does not match — do not hand out" in exc.value.message
    assert Pickup.objects.count() == 0


def test_a_caregiver_needs_a_relationship(technician, fill):
    sale = pickup_start(actor=technician, patient=fill.prescription.patient, fills=[fill])
    with pytest.raises(Invalid) as exc:
        _record(technician, sale, person="caregiver", person_name="Sam Doe")
    assert [e["field"] for e in exc.value.errors] == ["relationship"]
    assert Pickup.objects.count() == 0
    pickup = _record(
        technician, sale, person="caregiver", person_name="Sam Doe", relationship="son"
    )
    assert pickup.relationship == "son"


def test_a_missing_signature_is_invalid(technician, fill):
    sale = pickup_start(actor=technician, patient=fill.prescription.patient, fills=[fill])
    with pytest.raises(Invalid) as exc:
        _record(technician, sale, signature="")
    assert exc.value.field == "signature" and Pickup.objects.count() == 0


def test_a_cii_needs_each_id_field_named(technician, pharmacist):
    f = _cii(technician, pharmacist)
    sale = pickup_start(actor=technician, patient=f.prescription.patient, fills=[f])
    with pytest.raises(Invalid) as exc:
        _record(technician, sale)
    assert {e["field"] for e in exc.value.errors} == {
        "id_type",
        "id_number",
        "id_state",
        "id_expiry",
    }
    assert Pickup.objects.count() == 0


def test_a_cii_with_an_expired_id_is_refused(technician, pharmacist, site):
    f = _cii(technician, pharmacist)
    sale = pickup_start(actor=technician, patient=f.prescription.patient, fills=[f])
    with pytest.raises(Conflict) as exc:
        _record(
            technician,
            sale,
            id_type="drivers_license",
            id_number="D1234567",
            id_state="il",
            id_expiry=site.today() - dt.timedelta(days=1),
        )
    assert exc.value.field == "id_expiry" and Pickup.objects.count() == 0


def test_a_cii_with_a_good_id_is_recorded_without_the_number_in_the_audit(
    technician, pharmacist, site
):
    f = _cii(technician, pharmacist)
    sale = pickup_start(actor=technician, patient=f.prescription.patient, fills=[f])
    pickup = _record(
        technician,
        sale,
        id_type="drivers_license",
        id_number="D1234567",
        id_state="il",
        id_expiry=site.today(),
    )
    assert (pickup.id_type, pickup.id_number, pickup.id_state) == (
        "drivers_license",
        "D1234567",
        "IL",
    )
    assert "D1234567" not in str(last_event().data)


def test_an_id_type_the_state_does_not_accept_is_refused(technician, pharmacist, site):
    PosSettings.objects.create(site=site, cs_id_types="drivers_license")
    f = _cii(technician, pharmacist)
    sale = pickup_start(actor=technician, patient=f.prescription.patient, fills=[f])
    with pytest.raises(Invalid) as exc:
        _record(
            technician,
            sale,
            id_type="passport",
            id_number="P1",
            id_state="US",
            id_expiry=site.today(),
        )
    assert [e["field"] for e in exc.value.errors] == ["id_type"]


def test_schedules_the_state_does_not_name_need_no_id(technician, pharmacist, site):
    PosSettings.objects.create(site=site, cs_id_schedules="")
    f = _cii(technician, pharmacist)
    sale = pickup_start(actor=technician, patient=f.prescription.patient, fills=[f])
    assert _record(technician, sale).id_type == ""


def test_the_privacy_notice_is_recorded_when_acknowledged(technician, fill, site):
    patient = fill.prescription.patient
    assert patient.privacy_notice == ""
    sale = pickup_start(actor=technician, patient=patient, fills=[fill])
    pickup = _record(technician, sale, privacy_notice_acknowledged=True)
    patient.refresh_from_db()
    assert pickup.privacy_notice_acknowledged
    assert (patient.privacy_notice, patient.privacy_notice_on) == ("signed", site.today())


def test_a_pickup_is_recorded_once(technician, fill):
    sale = pickup_start(actor=technician, patient=fill.prescription.patient, fills=[fill])
    _record(technician, sale)
    with pytest.raises(Conflict):
        _record(technician, sale)
    assert Pickup.objects.count() == 1


def test_roles_without_rx_sell_cannot_record_a_pickup(technician, auditor, fill):
    sale = pickup_start(actor=technician, patient=fill.prescription.patient, fills=[fill])
    with pytest.raises(Forbidden):
        _record(auditor, sale)
    assert Pickup.objects.count() == 0


# --- Counseling --------------------------------------------------------------------------------


def test_counseling_accepted_waits_for_the_pharmacist(technician, pharmacist, fill):
    sale = pickup_start(actor=technician, patient=fill.prescription.patient, fills=[fill])
    _record(technician, sale, counseling="accepted")
    sale.refresh_from_db()
    assert sale.status == SaleStatus.AWAITING_COUNSEL
    assert counseling_waiting(actor=pharmacist) == [sale]

    with pytest.raises(Forbidden):
        counseling_record(actor=technician, sale=sale, note="Take with food.")
    with pytest.raises(Invalid) as exc:
        counseling_record(actor=pharmacist, sale=sale, note="  ")
    assert exc.value.field == "note"

    pickup = counseling_record(actor=pharmacist, sale=sale, note="Take with food.")
    sale.refresh_from_db()
    assert sale.status == SaleStatus.OPEN
    assert pickup.counseled_by == pharmacist and pickup.counseled_at is not None
    assert pickup.counseling_note == "Take with food."
    event = last_event()
    assert event.action == "pos.counseling.recorded" and "food" not in str(event.data)
    assert counseling_waiting(actor=pharmacist) == []


def test_counseling_applies_only_to_a_sale_waiting_for_it(technician, pharmacist, fill):
    sale = pickup_start(actor=technician, patient=fill.prescription.patient, fills=[fill])
    with pytest.raises(Conflict):
        counseling_record(actor=pharmacist, sale=sale, note="x")


def test_a_counseling_note_longer_than_2000_is_refused(technician, pharmacist, fill):
    sale = pickup_start(actor=technician, patient=fill.prescription.patient, fills=[fill])
    _record(technician, sale, counseling="accepted")
    with pytest.raises(Invalid) as exc:
        counseling_record(actor=pharmacist, sale=sale, note="x" * 2001)
    assert exc.value.field == "note"
    assert Pickup.objects.get().counseled_at is None


def test_technicians_do_not_see_the_counseling_queue(technician):
    with pytest.raises(Forbidden):
        counseling_waiting(actor=technician)


def test_the_pharmacist_counsels_from_the_screen(client, technician, pharmacist, fill):
    sale = pickup_start(actor=technician, patient=fill.prescription.patient, fills=[fill])
    _record(technician, sale, counseling="accepted")
    client.force_login(pharmacist)
    queue = client.get("/pos/counseling/")
    assert queue.status_code == 200 and str(sale.patient) in queue.text
    assert client.post(f"/pos/counseling/{sale.pk}/", {"note": ""}).status_code == 422
    response = client.post(f"/pos/counseling/{sale.pk}/", {"note": "Take with food."})
    assert response.status_code == 302
    sale.refresh_from_db()
    assert sale.status == SaleStatus.OPEN
    client.force_login(technician)
    assert client.get("/pos/counseling/").status_code == 403


def test_counseling_accepted_then_paid(technician, pharmacist, fill):
    from rxdesk.pos.services.sales import TenderIn, sale_pay

    sale = pickup_start(actor=technician, patient=fill.prescription.patient, fills=[fill])
    _record(technician, sale, counseling="accepted")
    with pytest.raises(Conflict):
        sale_pay(
            actor=technician, sale=sale, tenders=[TenderIn("card", "30.00", reference="1111 A1")]
        )
    counseling_record(actor=pharmacist, sale=sale, note="Reviewed.")
    paid = sale_pay(
        actor=technician, sale=sale, tenders=[TenderIn("card", "30.00", reference="1111 A1")]
    )
    assert paid.status == SaleStatus.COMPLETED
    fill.refresh_from_db()
    assert fill.status == "dispensed"
