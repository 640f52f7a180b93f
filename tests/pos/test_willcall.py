"""Will-call search: by bag label, date of birth, bin and name; the household; flags."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest

from rxdesk.catalog.models import Product
from rxdesk.core.errors import Forbidden, Invalid, NotFound
from rxdesk.core.models import AuditEvent
from rxdesk.patients.services import patient_household_join
from rxdesk.pos.pricing import fill_price, register_patient_pay, unregister_patient_pay
from rxdesk.pos.queries_willcall import will_call_for, will_call_search
from rxdesk.rx.models import Fill
from tests.conftest import last_event
from tests.pos.factories import price, ready_fill


@pytest.fixture
def fill(technician, pharmacist) -> Fill:
    f = ready_fill(technician, pharmacist)
    patient = f.prescription.patient
    patient.last_name, patient.first_name = "Okafor", "Janet"
    patient.date_of_birth = dt.date(1980, 2, 29)
    patient.save()
    Fill.objects.filter(pk=f.pk).update(bin="O")
    f.refresh_from_db()
    price(f.prescription.package, "30.00")
    return f


def _ids(found) -> list[int]:
    return [w.patient.pk for w in found]


@pytest.mark.parametrize(
    "q",
    ["okafor", "Okafor, Ja", "okafor ja", "1980-02-29", "02/29/1980", "02291980", "bin O", "o"],
)
def test_it_finds_the_patient_every_way(technician, fill, q):
    found = will_call_search(actor=technician, q=q)
    assert _ids(found) == [fill.prescription.patient_id]
    [ready] = found[0].ready
    assert ready.fill == fill and ready.price == Decimal("30.00") and ready.bin == "O"
    assert not ready.refrigerated and not ready.past_return_window and not ready.on_delivery


@pytest.mark.parametrize("code", ["{n}-0", " {n} - 0 ", "{n} 0"])
def test_it_finds_the_bag_by_its_label(technician, fill, code):
    found = will_call_search(actor=technician, q=code.format(n=fill.prescription.number))
    assert _ids(found) == [fill.prescription.patient_id]


def test_a_name_that_matches_nobody_finds_nobody(technician, fill):
    assert will_call_search(actor=technician, q="zyx") == []
    assert will_call_search(actor=technician, q="okafor, b") == []


def test_an_impossible_date_is_invalid(technician, fill):
    with pytest.raises(Invalid) as exc:
        will_call_search(actor=technician, q="02/30/1980")
    assert exc.value.field == "q"


def test_each_search_writes_one_phi_access_event_without_the_query(technician, fill):
    before = AuditEvent.objects.count()
    will_call_search(actor=technician, q="okafor")
    assert AuditEvent.objects.count() == before + 1
    event = last_event()
    assert event.action == "pos.willcall.searched" and "okafor" not in event.data.lower()
    assert json.loads(event.data)["patients"] == [fill.prescription.patient_id]


def test_flags_refrigerated_controlled_and_past_the_window(technician, pharmacist, site):
    f = ready_fill(technician, pharmacist, schedule="CII", refills_authorized=0)
    Product.objects.filter(pk=f.prescription.product_id).update(storage="refrigerate")
    Fill.objects.filter(pk=f.pk).update(dispensed_on=site.today() - dt.timedelta(days=11))
    found = will_call_for(actor=technician, patient=f.prescription.patient)
    [ready] = found.ready
    assert ready.refrigerated and ready.schedule == "2" and ready.past_return_window
    assert ready.price is None  # no price on file
    assert found.id_required and not found.privacy_notice_on_file


def test_the_household_bags_and_in_progress_fills_are_shown(technician, pharmacist, fill):
    patient = fill.prescription.patient
    spouse_fill = ready_fill(technician, pharmacist)
    spouse = spouse_fill.prescription.patient
    patient_household_join(actor=technician, patient=spouse, with_patient=patient)
    from tests.rx.factories import make_rx

    make_rx(technician, patient=patient)  # queued: in progress

    found = will_call_for(actor=technician, patient=patient)
    assert [m.patient.pk for m in found.household] == [spouse.pk]
    assert [r.fill.pk for r in found.household[0].ready] == [spouse_fill.pk]
    assert len(found.in_progress) == 1 and found.in_progress[0].step.startswith("Entered")


def test_a_registered_patient_pay_wins_over_the_cash_price(fill):
    def copay(f: Fill) -> Decimal:
        return Decimal("4.00")

    register_patient_pay(copay)
    try:
        assert fill_price(fill) == Decimal("4.00")
    finally:
        unregister_patient_pay(copay)
    assert fill_price(fill) == Decimal("30.00")


def test_roles_without_rx_sell_cannot_search(auditor, inventory, fill):
    before = AuditEvent.objects.count()
    for actor in (auditor, inventory):
        with pytest.raises(Forbidden):
            will_call_search(actor=actor, q="okafor")
    assert AuditEvent.objects.count() == before


def test_another_pharmacys_patient_is_not_found(outsider, fill):
    with pytest.raises((NotFound, Forbidden)):
        will_call_for(actor=outsider, patient=fill.prescription.patient)
    assert will_call_search(actor=outsider, q="okafor") == []
