"""Vaccine stock by funding source: recording a lot's funding, receiving doses, the stock
report (VFC, state and private apart), its CSV, API and screens."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest
from django.db import transaction
from django.test import Client
from django.urls import reverse

from rxdesk.catalog.ndc import ndc_to_gtin14
from rxdesk.core.choices import Role
from rxdesk.core.errors import Conflict, Forbidden, Invalid, NotFound
from rxdesk.core.models import AuditEvent
from rxdesk.immunizations.choices import CrosswalkUnit, Funding
from rxdesk.immunizations.models import VaccineLot, VaccineNdc
from rxdesk.immunizations.queries_catalog import stock_csv, vaccine_stock
from rxdesk.immunizations.services_catalog import vaccine_lot_fund, vaccine_stock_receive
from rxdesk.inventory import ledger
from rxdesk.inventory.choices import MoveReason
from rxdesk.inventory.models import Lot, StockBalance, StockMove, Supplier
from tests.catalog.factories import PackageFactory, ProductFactory
from tests.immunizations.factories import (
    FLU_SALE_NDC10,
    FLU_USE_NDC10,
    flu_package,
    staff,
    stocked,
    vaccine,
)

FAR = dt.date(2030, 6, 30)


def _state() -> dict[str, object]:
    return {
        "funding": sorted(VaccineLot.objects.values_list("lot_id", "funding")),
        "moves": StockMove.objects.count(),
        "lots": Lot.objects.count(),
        "on_hand": sorted(StockBalance.objects.values_list("lot_id", "on_hand")),
        "events": AuditEvent.objects.exclude(action__startswith="auth.").count(),
    }


def _event(action: str) -> tuple[AuditEvent, dict]:
    event = AuditEvent.objects.filter(action=action).latest("seq")
    return event, json.loads(event.data)


def _give(balance: StockBalance, doses: int = 1) -> None:
    """A dose given here (the administration part writes this move)."""
    with transaction.atomic():
        ledger.post_out(
            balance=balance, quantity=Decimal(doses), reason=MoveReason.ADMINISTER, actor=None
        )


# --- vaccine_lot_fund -------------------------------------------------------------------------


def test_it_records_a_lots_funding(db, site, technician):
    balance = stocked(site, funding=Funding.PRIVATE)
    VaccineLot.objects.filter(lot=balance.lot).delete()

    row = vaccine_lot_fund(actor=technician, lot=balance.lot, funding=Funding.VFC)

    assert (row.site, row.lot, row.funding, row.recorded_by) == (
        site,
        balance.lot,
        "vfc",
        technician,
    )
    event, data = _event("immunizations.lot.funded")
    assert event.actor == technician and event.patient_id is None
    assert data["before"] == {"funding": ""} and data["after"] == {"funding": "vfc"}


def test_it_corrects_the_funding_of_a_lot_not_yet_used(db, site, pharmacist):
    balance = stocked(site, funding=Funding.PRIVATE)
    row = vaccine_lot_fund(actor=pharmacist, lot=balance.lot, funding=Funding.STATE)
    assert row.funding == "state"
    assert VaccineLot.objects.get(site=site, lot=balance.lot).funding == "state"
    assert _event("immunizations.lot.funded")[1]["before"] == {"funding": "private"}


def test_the_same_funding_again_writes_nothing(db, site, technician):
    balance = stocked(site, funding=Funding.VFC)
    before = _state()
    vaccine_lot_fund(actor=technician, lot=balance.lot, funding=Funding.VFC)
    assert _state() == before


def test_the_funding_of_a_lot_already_given_cannot_change(db, site, technician):
    balance = stocked(site, funding=Funding.VFC)
    _give(balance)
    before = _state()
    with pytest.raises(Conflict) as caught:
        vaccine_lot_fund(actor=technician, lot=balance.lot, funding=Funding.PRIVATE)
    assert caught.value.field == "funding"
    assert "already given as VFC (Vaccines for Children) stock" in caught.value.message
    assert _state() == before


def test_a_lot_of_another_pharmacy_is_not_found(db, site, other_site, technician):
    theirs = stocked(other_site)
    before = _state()
    with pytest.raises(NotFound):
        vaccine_lot_fund(actor=technician, lot=theirs.lot, funding=Funding.VFC)
    assert _state() == before


def test_a_lot_that_is_not_a_vaccine_is_refused(db, site, technician):
    other = PackageFactory(ndc10="12345-678-90", billing_unit="EA")
    with transaction.atomic():
        lot = ledger.lot_get_or_create(package=other, number="AB1", expiry=FAR)
        ledger.post_in(
            site=site, lot=lot, quantity=Decimal(5), reason=MoveReason.OPENING, actor=None
        )
    before = _state()
    with pytest.raises(Invalid) as caught:
        vaccine_lot_fund(actor=technician, lot=lot, funding=Funding.VFC)
    assert caught.value.field == "lot" and "not a vaccine" in caught.value.message
    assert _state() == before


def test_a_bad_funding_names_the_field(db, site, technician):
    balance = stocked(site)
    with pytest.raises(Invalid) as caught:
        vaccine_lot_fund(actor=technician, lot=balance.lot, funding="medicare")
    assert caught.value.field == "funding"


@pytest.mark.parametrize("role", [Role.TECHNICIAN_IN_TRAINING, Role.AUDITOR, Role.ADMIN])
def test_roles_without_vaccine_stock_may_not_record_funding(db, site, role):
    balance = stocked(site, funding=Funding.PRIVATE)
    before = _state()
    with pytest.raises(Forbidden):
        vaccine_lot_fund(actor=staff(site, role), lot=balance.lot, funding=Funding.VFC)
    assert _state() == before


# --- vaccine_stock_receive --------------------------------------------------------------------


def test_it_receives_doses_with_their_funding(db, site, inventory):
    flu_package()
    supplier = Supplier.objects.create(site=site, name="Sanofi direct")

    done = vaccine_stock_receive(
        actor=inventory,
        code=FLU_SALE_NDC10,
        lot_number="ut7011aa",
        expiry=FAR,
        quantity="20",
        funding=Funding.VFC,
        supplier=supplier.pk,
        note="VFC order 88",
    )

    move = done.move
    assert (move.reason, move.quantity, move.balance_after) == ("receive", Decimal(20), Decimal(20))
    assert (move.lot.number, move.lot.expiry, move.site) == ("UT7011AA", FAR, site)
    assert (move.reference_type, move.reference_id, move.note) == (
        "supplier",
        str(supplier.pk),
        "VFC order 88",
    )
    assert VaccineLot.objects.get(site=site, lot=move.lot).funding == "vfc"
    assert StockBalance.objects.get(site=site, lot=move.lot).on_hand == Decimal(20)
    event, data = _event("immunizations.stock.received")
    assert event.actor == inventory and event.object_id == str(move.pk)
    assert (data["doses"], data["funding"], data["cvx"], data["lot"]) == (
        "20",
        "vfc",
        "150",
        "UT7011AA",
    )


def test_a_syringe_scan_is_received_into_its_carton(db, site, technician):
    pkg = flu_package()
    done = vaccine_stock_receive(
        actor=technician,
        code=FLU_USE_NDC10,
        lot_number="L1",
        expiry=FAR,
        quantity=3,
        funding=Funding.PRIVATE,
    )
    assert done.move.package == pkg and done.ndc.unit == CrosswalkUnit.USE


def test_a_gs1_scan_fills_the_lot_and_expiry(db, site, technician):
    flu_package()
    gtin = ndc_to_gtin14("49281-421-50")
    scan = f"01{gtin}17300630" + "10LOT77\x1d21SERIAL1"

    done = vaccine_stock_receive(actor=technician, code=scan, quantity=10, funding=Funding.STATE)

    assert (done.move.lot.number, done.move.lot.expiry) == ("LOT77", dt.date(2030, 6, 30))
    assert done.vaccine_lot.funding == "state"


def test_more_doses_of_a_lot_add_up_under_the_same_funding(db, site, technician):
    stocked(site, funding=Funding.PRIVATE, lot="UT7011AA", quantity=10)
    done = vaccine_stock_receive(
        actor=technician,
        code=FLU_SALE_NDC10,
        lot_number="UT7011AA",
        expiry=FAR,
        quantity=10,
        funding=Funding.PRIVATE,
    )
    assert done.move.balance_after == Decimal(20)


def _refused(actor, error, field, **values) -> None:
    before = _state()
    args = {
        "code": FLU_SALE_NDC10,
        "lot_number": "NEW1",
        "expiry": FAR,
        "quantity": 10,
        "funding": Funding.PRIVATE,
        **values,
    }
    with pytest.raises(error) as caught:
        vaccine_stock_receive(actor=actor, **args)
    assert caught.value.field == field, caught.value.message
    assert _state() == before


def test_a_lot_kept_under_another_funding_is_refused(db, site, technician):
    stocked(site, funding=Funding.VFC, lot="UT7011AA")
    before = _state()
    with pytest.raises(Conflict) as caught:
        vaccine_stock_receive(
            actor=technician,
            code=FLU_SALE_NDC10,
            lot_number="UT7011AA",
            expiry=FAR,
            quantity=10,
            funding=Funding.PRIVATE,
        )
    assert caught.value.field == "funding"
    assert "kept here as VFC (Vaccines for Children) stock" in caught.value.message
    assert "one funding source" in caught.value.message
    assert _state() == before


def test_an_expired_lot_is_refused(db, site, technician):
    flu_package()
    _refused(technician, Invalid, "expiry", expiry=site.today() - dt.timedelta(days=1))


def test_a_code_that_is_not_a_vaccine_is_refused(db, site, technician):
    flu_package()
    PackageFactory(ndc10="12345-678-90")
    _refused(technician, Invalid, "code", code="12345-678-90")


def test_a_malformed_code_is_refused(db, site, technician):
    flu_package()
    _refused(technician, Invalid, "code", code="not a code")


def test_an_ndc_without_a_catalog_package_is_refused(db, site, technician):
    flu_package()
    VaccineNdc.objects.create(
        ndc11="00006483703", ndc10="0006-4837-03", unit="sale", vaccine=vaccine("33")
    )
    _refused(technician, Invalid, "code", code="0006-4837-03")


def test_a_vaccine_kept_in_ml_is_refused(db, site, technician):
    product = ProductFactory(product_ndc="0006-4837", product_type="VACCINE")
    pkg = PackageFactory(product=product, ndc10="0006-4837-03", billing_unit="ML")
    VaccineNdc.objects.create(
        ndc11=pkg.ndc11, ndc10=pkg.ndc10, unit="sale", vaccine=vaccine("33"), package=pkg
    )
    _refused(technician, Conflict, "code", code="0006-4837-03")


@pytest.mark.parametrize("quantity", ["2.5", "0", "-1", "abc"])
def test_only_whole_doses_are_received(db, site, technician, quantity):
    flu_package()
    _refused(technician, Invalid, "quantity", quantity=quantity)


def test_a_supplier_of_another_pharmacy_is_refused(db, site, other_site, technician):
    flu_package()
    theirs = Supplier.objects.create(site=other_site, name="Elsewhere")
    _refused(technician, Invalid, "supplier", supplier=theirs.pk)


def test_a_lot_typed_against_the_scan_is_refused(db, site, technician):
    flu_package()
    scan = f"01{ndc_to_gtin14('49281-421-50')}17300630" + "10LOT77"
    _refused(technician, Invalid, "lot_number", code=scan, lot_number="LOT78")


@pytest.mark.parametrize("role", [Role.TECHNICIAN_IN_TRAINING, Role.AUDITOR, Role.ADMIN])
def test_roles_without_vaccine_stock_may_not_receive(db, site, role):
    flu_package()
    _refused(staff(site, role), Forbidden, None)


# --- The stock report -------------------------------------------------------------------------


def test_the_report_keeps_vfc_state_and_private_apart(db, site, technician, other_site):
    today = site.today()
    stocked(site, funding=Funding.VFC, lot="V1", quantity=10)
    stocked(
        site, funding=Funding.PRIVATE, lot="P1", quantity=4, expiry=today + dt.timedelta(days=10)
    )
    old = stocked(site, funding=Funding.PRIVATE, lot="P0", quantity=2, expiry=dt.date(2030, 1, 1))
    Lot.objects.filter(pk=old.lot_id).update(expiry=today - dt.timedelta(days=1))
    loose = stocked(site, funding=Funding.STATE, lot="U1", quantity=6)
    VaccineLot.objects.filter(lot=loose.lot).delete()
    stocked(other_site, funding=Funding.STATE, lot="THEIRS", quantity=99)

    report = vaccine_stock(actor=technician)

    sections = {
        key: (total, [r.balance.lot.number for r in rows])
        for key, _, rows, total in report.sections()
    }
    assert sections == {
        "vfc": (Decimal(10), ["V1"]),
        "state": (Decimal(0), []),
        "private": (Decimal(6), ["P0", "P1"]),
    }
    assert [r.balance.lot.number for r in report.unfunded] == ["U1"]
    flags = {r.balance.lot.number: (r.expired, r.expiring) for r in report.rows}
    assert flags == {
        "V1": (False, False),
        "P0": (True, False),
        "P1": (False, True),
        "U1": (False, False),
    }


def test_the_report_reads_in_a_few_queries(db, site, technician, django_assert_max_num_queries):
    for n in range(6):
        stocked(site, funding=Funding.PRIVATE, lot=f"L{n}", quantity=2)
    with django_assert_max_num_queries(3):
        report = vaccine_stock(actor=technician)
    assert len(report.rows) == 6


def test_the_csv_is_formula_safe(db, site, technician):
    stocked(site, funding=Funding.VFC, lot="V1", quantity=10)
    flu_package().product.__class__.objects.update(name='=HYPERLINK("x")')
    text = stock_csv(vaccine_stock(actor=technician))
    lines = text.splitlines()
    assert lines[0] == "funding,cvx,vaccine,product,ndc,lot,expiry,dating,doses_on_hand,status"
    assert lines[1].startswith("VFC (Vaccines for Children),150,")
    assert "\"'=HYPERLINK" in lines[1] and ",V1,2030-06-30,,10,Available" in lines[1]


def test_the_report_is_imm_stock_only(db, site, auditor):
    with pytest.raises(Forbidden):
        vaccine_stock(actor=auditor)


# --- API and screens --------------------------------------------------------------------------


def test_the_api_receives_and_funds(db, site, technician):
    flu_package()
    client = Client()
    client.force_login(technician)
    response = client.post(
        "/api/v1/immunizations/stock",
        {
            "code": FLU_SALE_NDC10,
            "lot_number": "A1",
            "expiry": "2030-06-30",
            "quantity": "5",
            "funding": "private",
        },
        content_type="application/json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["doses"], body["balance_after"], body["funding"], body["cvx"]) == (
        "5",
        "5",
        "private",
        "150",
    )

    refused = client.post(
        "/api/v1/immunizations/stock",
        {
            "code": FLU_SALE_NDC10,
            "lot_number": "A1",
            "expiry": "2030-06-30",
            "quantity": "5",
            "funding": "vfc",
        },
        content_type="application/json",
    )
    assert refused.status_code == 409 and refused["Content-Type"] == "application/problem+json"

    changed = client.put(
        f"/api/v1/immunizations/stock/lots/{body['lot_id']}/funding",
        {"funding": "state"},
        content_type="application/json",
    )
    assert changed.status_code == 200 and changed.json()["funding"] == "state"

    stock = client.get("/api/v1/immunizations/stock").json()
    assert [s["funding"] for s in stock["sections"]] == ["vfc", "state", "private"]
    assert stock["sections"][1]["doses_on_hand"] == "5"

    extra = client.post(
        "/api/v1/immunizations/stock",
        {"code": FLU_SALE_NDC10, "quantity": "1", "funding": "vfc", "patient": 1},
        content_type="application/json",
    )
    assert extra.status_code == 422


def test_the_api_hides_another_pharmacys_lot(db, site, other_site, technician):
    theirs = stocked(other_site)
    client = Client()
    client.force_login(technician)
    response = client.put(
        f"/api/v1/immunizations/stock/lots/{theirs.lot_id}/funding",
        {"funding": "vfc"},
        content_type="application/json",
    )
    assert response.status_code == 404
    assert VaccineLot.objects.get(lot=theirs.lot).funding == "private"


def test_the_stock_screen_and_its_csv(db, site, technician):
    stocked(site, funding=Funding.VFC, lot="V1", quantity=10)
    loose = stocked(site, funding=Funding.STATE, lot="U1", quantity=6)
    VaccineLot.objects.filter(lot=loose.lot).delete()
    client = Client()
    client.force_login(technician)
    page = client.get(reverse("imm_stock"))
    html = page.content.decode()
    assert page.status_code == 200
    assert "Record funding before use (1)" in html
    assert "VFC (Vaccines for Children) — 10 doses" in html
    csv_response = client.get(reverse("imm_stock") + "?format=csv")
    assert csv_response["Content-Type"] == "text/csv; charset=utf-8"
    assert b"not recorded,150," in csv_response.content


def test_the_receive_screen_receives_a_scan(db, site, technician):
    flu_package()
    client = Client()
    client.force_login(technician)
    response = client.post(
        reverse("imm_stock_receive"),
        {
            "code": FLU_SALE_NDC10,
            "lot_number": "S1",
            "expiry": "06/30/2030",
            "quantity": "10",
            "funding": "vfc",
        },
    )
    assert response.status_code == 302
    assert VaccineLot.objects.get(site=site, lot__number="S1").funding == "vfc"
    refused = client.post(
        reverse("imm_stock_receive"),
        {
            "code": FLU_SALE_NDC10,
            "lot_number": "S1",
            "expiry": "06/30/2030",
            "quantity": "10",
            "funding": "private",
        },
    )
    assert refused.status_code == 409
    assert "one funding source" in refused.content.decode()


def test_the_funding_screen_records_it(db, site, technician):
    balance = stocked(site, funding=Funding.PRIVATE)
    client = Client()
    client.force_login(technician)
    url = reverse("imm_stock_lot_funding", kwargs={"lot_id": balance.lot_id})
    assert client.get(url).status_code == 200
    assert client.post(url, {"funding": "vfc"}).status_code == 302
    assert VaccineLot.objects.get(lot=balance.lot).funding == "vfc"
