"""Return to stock: the due list and the bulk scan, one bag at a time."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from rxdesk.core.errors import Forbidden, Invalid
from rxdesk.inventory.models import StockBalance
from rxdesk.pos.services.pickup import pickup_start
from rxdesk.pos.services.returns import return_to_stock_list, return_to_stock_scan
from rxdesk.rx.choices import FillStatus
from rxdesk.rx.models import Fill
from tests.pos.factories import price, ready_fill


def _code(fill: Fill) -> str:
    return f"{fill.prescription.number}-{fill.number}"


def test_a_bulk_scan_returns_each_bag_on_its_own(technician, pharmacist):
    good = ready_fill(technician, pharmacist)
    on_sale = ready_fill(technician, pharmacist)
    price(on_sale.prescription.package, "1.00")
    pickup_start(actor=technician, patient=on_sale.prescription.patient, fills=[on_sale])
    sold = ready_fill(technician, pharmacist)
    Fill.objects.filter(pk=sold.pk).update(status=FillStatus.DISPENSED)
    shelf = StockBalance.objects.get(package=good.package, lot__number="LOT-A")
    assert shelf.on_hand == 70

    results = return_to_stock_scan(
        actor=technician,
        codes=[
            f" {good.prescription.number} - 0 ",
            _code(on_sale),
            _code(sold),
            "99999-0",
            "hello",
            _code(good),
        ],
    )

    assert [r.ok for r in results] == [True, False, False, False, False, False]
    assert results[0].message == f"Rx {_code(good)} returned: 30 back on the shelf (lot LOT-A)."
    assert "open sale" in results[1].message
    assert "not in will-call" in results[2].message
    assert "no such bag" in results[3].message
    assert "not a bag label" in results[4].message
    assert "scanned twice" in results[5].message
    good.refresh_from_db()
    on_sale.refresh_from_db()
    assert good.status == FillStatus.RETURNED and on_sale.status == FillStatus.READY
    shelf.refresh_from_db()
    assert shelf.on_hand == 100


def test_a_bag_on_a_delivery_is_not_returned(technician, pharmacist):
    from rxdesk.patients.models import Patient
    from rxdesk.pos.services.delivery import delivery_create

    f = ready_fill(technician, pharmacist)
    Patient.objects.filter(pk=f.prescription.patient_id).update(
        address_line1="1 Main", city="Springfield", state="IL", postal_code="62704"
    )
    f.prescription.patient.refresh_from_db()
    delivery_create(actor=technician, patient=f.prescription.patient, fills=[f])
    [result] = return_to_stock_scan(actor=technician, codes=[_code(f)])
    assert not result.ok and "delivery" in result.message


def test_no_codes_is_invalid(technician):
    with pytest.raises(Invalid) as exc:
        return_to_stock_scan(actor=technician, codes=[])
    assert exc.value.field == "codes"


def test_roles_without_rx_fill_cannot_return(auditor, inventory, technician, pharmacist):
    f = ready_fill(technician, pharmacist)
    for actor in (auditor, inventory):
        with pytest.raises(Forbidden):
            return_to_stock_scan(actor=actor, codes=[_code(f)])
    f.refresh_from_db()
    assert f.status == FillStatus.READY


def test_the_due_list_has_the_days_waiting(technician, pharmacist, auditor):
    old = ready_fill(technician, pharmacist)
    ready_fill(technician, pharmacist)  # ready today: not due
    Fill.objects.filter(pk=old.pk).update(ready_at=timezone.now() - dt.timedelta(days=12))
    due = return_to_stock_list(actor=technician)
    assert [(d.fill.pk, d.days_waiting) for d in due] == [(old.pk, 12)]
    with pytest.raises(Forbidden):
        return_to_stock_list(actor=auditor)


def test_the_screen_returns_one_scanned_bag_per_post(client, technician, pharmacist):
    f = ready_fill(technician, pharmacist)
    client.force_login(technician)
    page = client.get("/pos/return-to-stock/")
    assert page.status_code == 200
    response = client.post("/pos/return-to-stock/", {"code": _code(f)}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert f"Rx {_code(f)} returned: 30 back on the shelf (lot LOT-A)." in response.text
    f.refresh_from_db()
    assert f.status == FillStatus.RETURNED
