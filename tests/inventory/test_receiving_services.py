"""Receiving: a delivery checked in by scanning (GS1 DataMatrix) or typing, from an invoice
file, against a purchase order; posted all or nothing; discrepancies opened and followed
up. Every service: its audit event, a broken rule, a forbidden role writing nothing."""

from __future__ import annotations

import datetime as dt
import json
import threading
from decimal import Decimal

import pytest
from django.db import connection

from rxdesk.catalog.models import Package
from rxdesk.controlled.models import Form222Line, Form222Order
from rxdesk.core import context
from rxdesk.core.errors import Conflict, Forbidden, Invalid, NotFound
from rxdesk.inventory import ledger
from rxdesk.inventory.choices import (
    DiscrepancyStatus,
    MoveReason,
    PurchaseOrderStatus,
    ReceiptStatus,
)
from rxdesk.inventory.models import (
    Discrepancy,
    Lot,
    PurchaseOrderLine,
    Recall,
    RecallItem,
    Receipt,
    ReceiptLine,
    StockBalance,
    StockMove,
)
from rxdesk.inventory.services import receiving
from tests.conftest import audit_count, last_event
from tests.factories import SiteFactory, UserFactory
from tests.inventory.matrix_receiving import (
    FAR,
    GS,
    datamatrix,
    discrepancy,
    ibuprofen,
    order,
    oxycodone,
    prozac,
    prozac_100,
    receipt,
    receipt_line,
    supplier,
)

pytestmark = pytest.mark.django_db


def data(event) -> dict:
    return json.loads(event.data)


def counts() -> dict[str, int]:
    return {
        "receipts": Receipt.objects.count(),
        "lines": ReceiptLine.objects.count(),
        "lots": Lot.objects.count(),
        "moves": StockMove.objects.count(),
        "discrepancies": Discrepancy.objects.count(),
        "events": audit_count(),
    }


def form_222_on_file(site, number: str, pkg: Package, packages: int = 1) -> Form222Order:
    """The Schedule II order form a delivery is received against (rxdesk.controlled): a
    Schedule II line posts only against a form on file from the same supplier."""
    vendor = supplier(site)
    vendor.dea_number = "PM1234563"
    vendor.save(update_fields=["dea_number"])
    form = Form222Order.objects.create(
        site=site, form="csos", number=number, supplier=vendor, executed_on=site.today()
    )
    Form222Line.objects.create(order=form, line_no=1, package=pkg, packages_ordered=packages)
    return form


def recall(site, pkg, lot_number: str = "") -> Recall:
    entered = Recall.objects.create(
        recall_number="D-0412-2026",
        classification="II",
        reason="Failed dissolution",
        recall_date=dt.date(2026, 1, 5),
        entered_at_site=site,
    )
    RecallItem.objects.create(recall=entered, package=pkg, lot_number=lot_number)
    return entered


# --- Receipts ------------------------------------------------------------------------------


def test_it_starts_a_receipt_against_a_sent_order(technician, site):
    po = order(site, status=PurchaseOrderStatus.SENT)
    rec = receiving.receipt_create(
        actor=technician,
        supplier=po.supplier_id,
        purchase_order=po.pk,
        invoice_number="INV-99812",
        shipment_date="2025-03-01",
        dscsa_transaction_info="EPCIS event urn:uuid:1",
        dscsa_statement_received=True,
    )
    assert (rec.status, rec.purchase_order, rec.received_by) == ("open", po, technician)
    event = last_event()
    assert event.action == "inventory.receipt.created"
    assert data(event) == {
        "supplier": po.supplier_id,
        "purchase_order": po.pk,
        "invoice_number": "INV-99812",
        "shipment_date": "2025-03-01",
        "dscsa_transaction_info": True,
        "dscsa_statement_received": True,
    }


@pytest.mark.parametrize(
    ("status", "message"),
    [
        (PurchaseOrderStatus.DRAFT, "PO-000001 is draft; a delivery is received against a sent"),
        (PurchaseOrderStatus.CLOSED, "PO-000001 is closed"),
    ],
)
def test_it_receives_only_against_a_sent_order(technician, site, status, message):
    po = order(site, status=status)
    before = counts()
    with pytest.raises(Invalid, match=message) as caught:
        receiving.receipt_create(actor=technician, supplier=po.supplier, purchase_order=po)
    assert caught.value.errors[0]["field"] == "purchase_order"
    assert counts() == before


def test_the_order_must_be_the_suppliers(technician, site):
    po = order(site, status=PurchaseOrderStatus.SENT)
    with pytest.raises(Invalid, match="PO-000001 was sent to another supplier, not Cardinal"):
        receiving.receipt_create(
            actor=technician, supplier=supplier(site, "Cardinal"), purchase_order=po
        )


def test_a_delivery_comes_from_an_active_seller(technician, site):
    with pytest.raises(Invalid, match="Returns Co is a reverse distributor"):
        receiving.receipt_create(
            actor=technician, supplier=supplier(site, "Returns Co", reverse_distributor=True)
        )
    with pytest.raises(Invalid, match="Old Co is inactive"):
        receiving.receipt_create(actor=technician, supplier=supplier(site, "Old Co", active=False))
    assert Receipt.objects.count() == 0


def test_a_shipment_date_in_the_future_is_refused(technician, site):
    tomorrow = site.today() + dt.timedelta(days=1)
    with pytest.raises(Invalid) as caught:
        receiving.receipt_create(actor=technician, supplier=supplier(site), shipment_date=tomorrow)
    assert caught.value.errors == [
        {"field": "shipment_date", "message": "The shipment date cannot be in the future."}
    ]


def test_a_trainee_may_not_check_in_deliveries(trainee, site):
    vendor = supplier(site)
    before = counts()
    with pytest.raises(Forbidden):
        receiving.receipt_create(actor=trainee, supplier=vendor)
    assert counts() == before


def test_it_records_the_dscsa_statement_later(technician, site):
    rec = receipt(site, dscsa_transaction_info="", dscsa_statement_received=False)
    receiving.receipt_update(
        actor=technician,
        receipt=rec,
        dscsa_transaction_info="TI on the packing slip",
        dscsa_statement_received=True,
    )
    rec.refresh_from_db()
    assert rec.dscsa_statement_received is True
    event = last_event()
    assert event.action == "inventory.receipt.updated"
    assert data(event) == {
        "changes": {
            "dscsa_transaction_info": [False, True],
            "dscsa_statement_received": [False, True],
        }
    }


def test_a_posted_receipt_does_not_change(technician, site):
    rec = receipt(site, status=ReceiptStatus.POSTED)
    with pytest.raises(Conflict, match=f"Receipt {rec.pk} is posted to stock"):
        receiving.receipt_update(actor=technician, receipt=rec, note="late")


def test_an_auditor_may_not_change_a_receipt(auditor, site):
    rec = receipt(site)
    before = counts()
    with pytest.raises(Forbidden):
        receiving.receipt_update(actor=auditor, receipt=rec, note="x")
    assert counts() == before


# --- Scanning and typing lines --------------------------------------------------------------


def test_a_datamatrix_scan_fills_ndc_lot_expiry_and_serial(technician, site):
    rec = receipt(site)
    line = receiving.receipt_line_add(
        actor=technician, receipt=rec, scan=datamatrix(prozac(), "ab12", serial="SN001")
    )
    assert (line.package, line.lot_number, line.expiry, line.serials) == (
        prozac(),
        "AB12",
        FAR,
        "SN001",
    )
    assert (line.packages_received, line.packages_invoiced) == (1, 0)
    assert line.lot == Lot.objects.get(package=prozac(), number="AB12")
    event = last_event()
    assert event.action == "inventory.receipt.line_added"
    assert data(event) == {
        "line": line.pk,
        "ndc": "00002322730",
        "lot": "AB12",
        "expiry": "2030-12-31",
        "packages_invoiced": 0,
        "packages_received": 1,
        "packages_damaged": 0,
        "unit_cost": None,
        "location": None,
        "dea_order_number": "",
        "serial": "SN001",
        "added": {"invoiced": 0, "received": 1, "damaged": 0},
        "merged": False,
    }


def test_scanning_the_same_lot_again_adds_to_its_line(technician, site):
    rec = receipt(site)
    for serial in ("SN001", "SN002", "SN003"):
        line = receiving.receipt_line_add(
            actor=technician, receipt=rec, scan=datamatrix(prozac(), "AB12", serial=serial)
        )
    assert ReceiptLine.objects.count() == 1
    assert (line.packages_received, line.serials) == (3, "SN001\nSN002\nSN003")
    assert data(last_event())["merged"] is True
    other = receiving.receipt_line_add(
        actor=technician, receipt=rec, scan=datamatrix(prozac(), "CD34", serial="SN004")
    )
    assert other.pk != line.pk and ReceiptLine.objects.count() == 2


def test_the_same_serial_twice_is_a_double_scan(technician, site):
    rec = receipt(site)
    code = datamatrix(prozac(), "AB12", serial="SN001")
    receiving.receipt_line_add(actor=technician, receipt=rec, scan=code)
    before = counts()
    with pytest.raises(Conflict, match="Serial SN001 of NDC 0002-3227-30 is already on this"):
        receiving.receipt_line_add(actor=technician, receipt=rec, scan=code)
    assert counts() == before
    assert ReceiptLine.objects.get().packages_received == 1


@pytest.mark.parametrize(
    ("typed", "field", "message"),
    [
        ({"lot_number": "XX99"}, "lot_number", "The barcode says lot AB12; the lot typed is XX99."),
        (
            {"expiry": "2031-01-31"},
            "expiry",
            "The barcode says expiry 12/31/2030; the expiry typed is 01/31/2031.",
        ),
        ({"ndc": "42858-001-01"}, "ndc", "The barcode is NDC 0002-3227-30; the NDC typed differs."),
    ],
)
def test_typed_values_must_agree_with_the_scan(technician, site, typed, field, message):
    oxycodone()
    rec = receipt(site)
    before = counts()
    with pytest.raises(Invalid) as caught:
        receiving.receipt_line_add(
            actor=technician, receipt=rec, scan=datamatrix(prozac(), "AB12"), **typed
        )
    assert caught.value.errors == [{"field": field, "message": message}]
    assert counts() == before


def test_typed_values_that_agree_are_accepted(technician, site):
    line = receiving.receipt_line_add(
        actor=technician,
        receipt=receipt(site),
        scan=datamatrix(prozac(), "AB12"),
        lot_number="ab12",
        expiry="2030-12-31",
        packages_received=4,
    )
    assert (line.lot_number, line.packages_received) == ("AB12", 4)


def test_a_upc_scan_needs_the_lot_and_expiry_typed(technician, site):
    rec = receipt(site)
    upc = "300023227300"  # 3 + 0002322730 + check digit 0
    prozac()
    with pytest.raises(Invalid) as caught:
        receiving.receipt_line_add(actor=technician, receipt=rec, scan=upc)
    assert caught.value.errors == [
        {"field": "expiry", "message": "Enter the expiry date printed on the package."}
    ]
    line = receiving.receipt_line_add(
        actor=technician, receipt=rec, scan=upc, lot_number="Q1", expiry="2030-06-30"
    )
    assert (line.lot_number, line.expiry) == ("Q1", dt.date(2030, 6, 30))


def test_an_expired_lot_is_refused_on_arrival(technician, site):
    rec = receipt(site)
    before = counts()
    with pytest.raises(Invalid) as caught:
        receiving.receipt_line_add(
            actor=technician, receipt=rec, scan=datamatrix(prozac(), "OLD", dt.date(2024, 1, 31))
        )
    assert caught.value.errors == [
        {
            "field": "expiry",
            "message": "This lot expired on 01/31/2024; it cannot be received into stock. "
            "Record it as a discrepancy and return it.",
        }
    ]
    assert counts() == before


def test_a_recalled_lot_is_refused(technician, site):
    recall(site, prozac(), "BAD1")
    rec = receipt(site)
    before = counts()
    with pytest.raises(Conflict, match="Lot BAD1 of NDC 0002-3227-30 is under recall D-0412"):
        receiving.receipt_line_add(actor=technician, receipt=rec, scan=datamatrix(prozac(), "BAD1"))
    assert counts() == before


@pytest.mark.parametrize(
    ("values", "field", "message"),
    [
        ({}, "scan", "Scan the package or type its NDC."),
        (
            {"scan": "hello"},
            "scan",
            "This is not an NDC, UPC, GTIN or GS1 barcode. An NDC "
            "has 10 digits in 4-4-2, 5-3-2 or 5-4-1 form, or 11 digits.",
        ),
        ({"ndc": "99999-9999-99"}, "ndc", "NDC 99999-9999-99 is not in the drug catalog."),
        (
            {
                "ndc": "0002-3227-30",
                "lot_number": "A",
                "expiry": "2030-01-01",
                "packages_received": 0,
            },
            "packages_received",
            "Enter how many packages arrived (or were invoiced).",
        ),
        (
            {
                "ndc": "0002-3227-30",
                "lot_number": "A",
                "expiry": "2030-01-01",
                "packages_received": 2,
                "packages_damaged": 3,
            },
            "packages_damaged",
            "Damaged packages are counted among those received: at most 2.",
        ),
        (
            {
                "ndc": "0002-3227-30",
                "lot_number": "A",
                "expiry": "2030-01-01",
                "packages_received": "-1",
            },
            "packages_received",
            "Enter zero or more packages.",
        ),
        (
            {"ndc": "0002-3227-30", "lot_number": "", "expiry": "2030-01-01"},
            "lot_number",
            "Enter the lot number.",
        ),
    ],
)
def test_bad_input_names_the_field_and_writes_nothing(technician, site, values, field, message):
    prozac()
    rec = receipt(site)
    before = counts()
    with pytest.raises(Invalid) as caught:
        receiving.receipt_line_add(actor=technician, receipt=rec, **values)
    assert caught.value.errors == [{"field": field, "message": message}]
    assert counts() == before


def test_schedule_ii_takes_the_dea_order_number_of_its_order_line(technician, site):
    po = order(site, status=PurchaseOrderStatus.SENT, lines=((oxycodone(), 1),))
    PurchaseOrderLine.objects.update(dea_order_number="CSOS-7781")
    line = receiving.receipt_line_add(
        actor=technician, receipt=receipt(site, po), scan=datamatrix(oxycodone(), "X7")
    )
    assert (line.dea_order_number, line.order_line) == ("CSOS-7781", po.lines.get())


def test_schedule_ii_without_an_order_number_is_refused(technician, site):
    rec = receipt(site)
    before = counts()
    with pytest.raises(Invalid) as caught:
        receiving.receipt_line_add(
            actor=technician, receipt=rec, scan=datamatrix(oxycodone(), "X7")
        )
    assert caught.value.errors[0]["field"] == "dea_order_number"
    assert counts() == before
    line = receiving.receipt_line_add(
        actor=technician,
        receipt=rec,
        scan=datamatrix(oxycodone(), "X7"),
        dea_order_number="222-118877",
    )
    assert line.dea_order_number == "222-118877"


def test_a_trainee_may_not_scan_lines(trainee, site):
    rec = receipt(site)
    before = counts()
    with pytest.raises(Forbidden):
        receiving.receipt_line_add(actor=trainee, receipt=rec, scan=datamatrix(prozac(), "A"))
    assert counts() == before


def test_no_lines_are_added_to_a_posted_or_foreign_receipt(technician, site, other_site):
    posted = receipt(site, status=ReceiptStatus.POSTED)
    with pytest.raises(Conflict, match="is posted to stock"):
        receiving.receipt_line_add(actor=technician, receipt=posted, scan=datamatrix(prozac(), "A"))
    with pytest.raises(NotFound):
        receiving.receipt_line_add(
            actor=technician, receipt=receipt(other_site), scan=datamatrix(prozac(), "A")
        )


def test_it_corrects_a_line(technician, site):
    line = receipt_line(receipt(site), packages_received=3)
    changed = receiving.receipt_line_update(
        actor=technician, line=line, packages_damaged=1, unit_cost="12.25", packages_invoiced=3
    )
    assert (changed.packages_damaged, changed.unit_cost) == (1, Decimal("12.25"))
    event = last_event()
    assert event.action == "inventory.receipt.line_changed"
    assert data(event)["changes"] == {
        "packages_damaged": [0, 1],
        "packages_invoiced": [0, 3],
        "unit_cost": [None, "12.25"],
    }
    with pytest.raises(Invalid, match="at most 3"):
        receiving.receipt_line_update(actor=technician, line=line, packages_damaged=4)


def test_a_line_changed_to_a_recalled_lot_is_refused(technician, site):
    recall(site, prozac(), "BAD1")
    line = receipt_line(receipt(site))
    with pytest.raises(Conflict, match="under recall"):
        receiving.receipt_line_update(actor=technician, line=line, lot_number="BAD1")
    assert ReceiptLine.objects.get().lot_number == "L1"


def test_an_auditor_may_not_correct_or_remove_lines(auditor, site):
    line = receipt_line(receipt(site))
    before = counts()
    with pytest.raises(Forbidden):
        receiving.receipt_line_update(actor=auditor, line=line, packages_received=9)
    with pytest.raises(Forbidden):
        receiving.receipt_line_remove(actor=auditor, line=line)
    assert counts() == before and ReceiptLine.objects.get().packages_received == 2


def test_it_removes_a_line_scanned_by_mistake(technician, site):
    rec = receipt(site)
    line = receipt_line(rec)
    receiving.receipt_line_remove(actor=technician, line=line)
    assert ReceiptLine.objects.count() == 0
    event = last_event()
    assert event.action == "inventory.receipt.line_removed"
    assert (data(event)["ndc"], data(event)["lot"]) == ("00002322730", "L1")
    posted = receipt(site, status=ReceiptStatus.POSTED)
    with pytest.raises(Conflict):
        receiving.receipt_line_remove(actor=technician, line=receipt_line(posted))


# --- Invoice import ------------------------------------------------------------------------

INVOICE = (
    "NDC,Description,Qty,Unit Cost,Lot,Expiry,Invoice Number\n"
    "0002-3227-30,PROZAC 20MG 30,3,12.50,,,INV-1\n"
    "42858-001-01,OXYCODONE 5MG 100,1,31.90,X7,2030-06-30,INV-1\n"
)


def test_it_imports_an_invoice_with_nothing_received_yet(technician, site):
    prozac()
    oxycodone()
    rec = receipt(site)
    lines = receiving.receipt_import_invoice(actor=technician, receipt=rec, text=INVOICE)
    assert [
        (x.package.ndc10, x.lot_number, x.packages_invoiced, x.packages_received, x.unit_cost)
        for x in lines
    ] == [
        ("0002-3227-30", "", 3, 0, Decimal("12.50")),
        ("42858-001-01", "X7", 1, 0, Decimal("31.90")),
    ]
    rec.refresh_from_db()
    assert rec.invoice_number == "INV-1"
    event = last_event()
    assert event.action == "inventory.receipt.invoice_imported"
    assert data(event) == {
        "invoice_number": "INV-1",
        "rows": 2,
        "lines": sorted(x.pk for x in lines),
        "packages": 4,
        "total": "69.40",
    }
    # Checking the delivery: the first scan of the lot-less line takes its lot.
    scanned = receiving.receipt_line_add(
        actor=technician, receipt=rec, scan=datamatrix(prozac(), "AB12", serial="S1")
    )
    assert scanned.pk == lines[0].pk
    assert (scanned.lot_number, scanned.packages_invoiced, scanned.packages_received) == (
        "AB12",
        3,
        1,
    )


def test_a_scanned_line_takes_the_invoiced_count(technician, site):
    oxycodone()
    prozac()
    rec = receipt(site)
    receiving.receipt_line_add(
        actor=technician,
        receipt=rec,
        scan=datamatrix(oxycodone(), "X7", dt.date(2030, 6, 30)),
        dea_order_number="CSOS-1",
    )
    receiving.receipt_import_invoice(actor=technician, receipt=rec, text=INVOICE)
    oxy = ReceiptLine.objects.get(package=oxycodone())
    assert (oxy.packages_invoiced, oxy.packages_received) == (1, 1)
    assert ReceiptLine.objects.count() == 2


def test_a_bad_invoice_row_imports_nothing(technician, site):
    prozac()
    rec = receipt(site)
    text = INVOICE.replace("42858-001-01", "99999-9999-99").replace(",3,12.50", ",3,12.5x")
    before = counts()
    with pytest.raises(Invalid) as caught:
        receiving.receipt_import_invoice(actor=technician, receipt=rec, text=text)
    assert caught.value.errors == [
        {"field": "text", "message": "Row 2, column unit_cost: '12.5x' is not an amount of money."}
    ]
    assert caught.value.extra["problems"] == [
        {"row": 2, "column": "unit_cost", "message": "'12.5x' is not an amount of money."}
    ]
    assert counts() == before
    with pytest.raises(Invalid) as caught:
        receiving.receipt_import_invoice(
            actor=technician, receipt=rec, text=INVOICE.replace("42858-001-01", "99999-9999-99")
        )
    assert caught.value.errors == [
        {
            "field": "text",
            "message": "Row 3, column ndc: NDC 99999-9999-99 is not in the drug catalog.",
        }
    ]
    assert counts() == before


def test_an_invoice_row_with_an_expired_or_recalled_lot_imports_nothing(technician, site):
    prozac()
    oxycodone()
    recall(site, oxycodone(), "X7")
    rec = receipt(site)
    before = counts()
    with pytest.raises(Invalid) as caught:
        receiving.receipt_import_invoice(
            actor=technician,
            receipt=rec,
            text=INVOICE.replace(",,,INV-1", ",OLD,2020-01-31,INV-1"),
        )
    messages = [e["message"] for e in caught.value.errors]
    assert len(messages) == 2
    assert messages[0].startswith("Row 2, column expiry: This lot expired on 01/31/2020")
    assert messages[1].startswith("Row 3, column lot: Lot X7 of NDC 42858-001-01 is under recall")
    assert counts() == before


def test_one_invoice_per_receipt(technician, site):
    prozac()
    oxycodone()
    rec = receipt(site, invoice_number="INV-2")
    with pytest.raises(
        Invalid, match="this file is invoice INV-1; the receipt is for invoice INV-2"
    ):
        receiving.receipt_import_invoice(actor=technician, receipt=rec, text=INVOICE)
    rec = receipt(site)
    receiving.receipt_import_invoice(actor=technician, receipt=rec, text=INVOICE)
    with pytest.raises(Conflict, match="An invoice is already on this receipt"):
        receiving.receipt_import_invoice(actor=technician, receipt=rec, text=INVOICE)


def test_a_trainee_may_not_import_an_invoice(trainee, site):
    prozac()
    oxycodone()
    rec = receipt(site)
    before = counts()
    with pytest.raises(Forbidden):
        receiving.receipt_import_invoice(actor=trainee, receipt=rec, text=INVOICE)
    assert counts() == before


# --- Posting -------------------------------------------------------------------------------


def test_posting_a_delivery_moves_stock_updates_the_order_and_opens_discrepancies(technician, site):
    po = order(site, status=PurchaseOrderStatus.SENT, lines=((prozac(), 3), (oxycodone(), 1)))
    PurchaseOrderLine.objects.filter(package=oxycodone()).update(dea_order_number="CSOS-1")
    form_222_on_file(site, "CSOS-1", oxycodone())
    prozac_100()
    ibuprofen()
    rec = receipt(site, po)
    receiving.receipt_import_invoice(
        actor=technician,
        receipt=rec,
        text=INVOICE + "0002-3227-01,PROZAC 20MG 100,1,99.00,,,INV-1\n",
    )
    for serial in ("S1", "S2"):
        receiving.receipt_line_add(
            actor=technician, receipt=rec, scan=datamatrix(prozac(), "A1", serial=serial)
        )
    prozac_line = ReceiptLine.objects.get(package=prozac())
    receiving.receipt_line_update(actor=technician, line=prozac_line, packages_damaged=1)
    receiving.receipt_line_add(
        actor=technician, receipt=rec, scan=datamatrix(oxycodone(), "X7", dt.date(2030, 6, 30))
    )
    receiving.receipt_line_add(actor=technician, receipt=rec, scan=datamatrix(prozac_100(), "B1"))
    receiving.receipt_line_add(
        actor=technician, receipt=rec, ndc="0904-5853-40", lot_number="I1", expiry="2029-01-31"
    )

    posted = receiving.receipt_post(actor=technician, receipt=rec)

    assert posted.status == ReceiptStatus.POSTED and posted.posted_at is not None
    moves = StockMove.objects.filter(reason=MoveReason.RECEIVE).order_by("lot__number")
    assert [(m.lot.number, m.quantity, m.reference_type) for m in moves] == [
        ("A1", Decimal("30.000"), "receipt_line"),  # 2 received − 1 damaged, × 30
        ("B1", Decimal("100.000"), "receipt_line"),
        ("I1", Decimal("100.000"), "receipt_line"),
        ("X7", Decimal("100.000"), "receipt_line"),
    ]
    assert ledger.ledger_verify(site_id=site.pk) == (4, [])
    po.refresh_from_db()
    assert po.status == PurchaseOrderStatus.PARTIAL
    assert sorted(po.lines.values_list("package__ndc10", "packages_received")) == [
        ("0002-3227-30", 1),
        ("42858-001-01", 1),
    ]
    found = sorted(
        Discrepancy.objects.values_list("kind", "package__ndc10", "packages", "note", "status")
    )
    assert found == [
        ("damaged", "0002-3227-30", 1, "NDC 0002-3227-30 lot A1: 1 damaged on arrival.", "open"),
        ("not_ordered", "0904-5853-40", 1, "NDC 0904-5853-40 is not on PO-000001.", "open"),
        ("over", "0904-5853-40", 1, "NDC 0904-5853-40: not on the invoice, received 1.", "open"),
        ("short", "0002-3227-30", 1, "NDC 0002-3227-30: invoiced 3, received 2.", "open"),
        (
            "wrong_item",
            "0002-3227-01",
            1,
            "Ordered NDC 0002-3227-30 on PO-000001; received NDC 0002-3227-01.",
            "open",
        ),
    ]
    event = last_event()
    assert event.action == "inventory.receipt.posted"
    body = data(event)
    assert body["purchase_order"] == {"number": "PO-000001", "status": ["sent", "partial"]}
    assert len(body["moves"]) == 4 and len(body["discrepancies"]) == 5


def test_the_last_delivery_of_an_order_makes_it_received(technician, site):
    po = order(site, status=PurchaseOrderStatus.PARTIAL, lines=((prozac(), 3),))
    PurchaseOrderLine.objects.update(packages_received=1)
    rec = receipt(site, po)
    receiving.receipt_line_add(
        actor=technician, receipt=rec, scan=datamatrix(prozac(), "A1"), packages_received=2
    )
    receiving.receipt_post(actor=technician, receipt=rec)
    po.refresh_from_db()
    assert po.status == PurchaseOrderStatus.RECEIVED
    assert Discrepancy.objects.count() == 0  # no invoice: nothing to be short against


def test_a_receipt_posts_once(technician, site):
    rec = receipt(site)
    receipt_line(rec)
    receiving.receipt_post(actor=technician, receipt=rec)
    before = counts()
    with pytest.raises(Conflict, match=f"Receipt {rec.pk} is already posted to stock."):
        receiving.receipt_post(actor=technician, receipt=rec)
    assert counts() == before
    assert StockBalance.objects.get().on_hand == Decimal("60.000")


def test_prescription_products_need_the_dscsa_information_and_statement(technician, site):
    rec = receipt(site, dscsa_transaction_info="", dscsa_statement_received=False)
    receipt_line(rec)
    before = counts()
    with pytest.raises(Invalid) as caught:
        receiving.receipt_post(actor=technician, receipt=rec)
    assert [e["field"] for e in caught.value.errors] == [
        "dscsa_transaction_info",
        "dscsa_statement_received",
    ]
    assert counts() == before
    rec.refresh_from_db()
    assert rec.status == ReceiptStatus.OPEN and rec.posted_at is None


def test_an_otc_delivery_needs_no_transaction_statement(technician, site):
    rec = receipt(site, dscsa_transaction_info="", dscsa_statement_received=False)
    receipt_line(rec, ibuprofen(), "I1")
    assert receiving.receipt_post(actor=technician, receipt=rec).status == "posted"


def test_a_lot_recalled_after_the_scan_stops_the_post(technician, site):
    rec = receipt(site)
    receipt_line(rec, lot="OK1")
    receipt_line(rec, lot="BAD1")
    recall(site, prozac(), "BAD1")
    before = counts()
    with pytest.raises(Conflict) as caught:
        receiving.receipt_post(actor=technician, receipt=rec)
    assert caught.value.field == "lines.1.lot_number"
    assert counts() == before and StockBalance.objects.count() == 0


def test_every_received_line_needs_a_lot(technician, site):
    rec = receipt(site)
    ReceiptLine.objects.create(
        receipt=rec, package=prozac(), lot_number="", packages_received=1, packages_invoiced=1
    )
    with pytest.raises(Invalid) as caught:
        receiving.receipt_post(actor=technician, receipt=rec)
    assert caught.value.errors == [
        {
            "field": "lines.0.lot_number",
            "message": "Line 1 (NDC 0002-3227-30) has no lot: scan a package or enter its lot "
            "and expiry.",
        }
    ]


def test_an_unchecked_delivery_is_not_posted(technician, site):
    rec = receipt(site)
    with pytest.raises(Conflict, match="Nothing to post"):
        receiving.receipt_post(actor=technician, receipt=rec)
    receipt_line(rec, packages_received=0, packages_invoiced=3)
    with pytest.raises(Conflict, match="No package has been checked in yet"):
        receiving.receipt_post(actor=technician, receipt=rec)


def test_a_trainee_may_not_post(trainee, site):
    rec = receipt(site)
    receipt_line(rec)
    before = counts()
    with pytest.raises(Forbidden):
        receiving.receipt_post(actor=trainee, receipt=rec)
    assert counts() == before
    assert Receipt.objects.get().status == ReceiptStatus.OPEN


def test_another_pharmacys_receipt_is_not_found(technician, other_site):
    rec = receipt(other_site)
    receipt_line(rec)
    with pytest.raises(NotFound):
        receiving.receipt_post(actor=technician, receipt=rec)
    assert Receipt.objects.get().status == ReceiptStatus.OPEN


@pytest.mark.postgres
def test_two_people_pressing_post_at_once_post_it_once(transactional_db):
    site = SiteFactory()
    tech = UserFactory(site=site, role="technician", username="tech-race")
    rec = receipt(site)
    receipt_line(rec)
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def press() -> None:
        try:
            with context.using(context.RequestInfo(request_id="race", channel="web")):
                barrier.wait()
                receiving.receipt_post(actor=tech, receipt=rec)
            outcomes.append("posted")
        except Conflict:
            outcomes.append("conflict")
        finally:
            connection.close()

    threads = [threading.Thread(target=press) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["conflict", "posted"]
    assert StockMove.objects.filter(reason=MoveReason.RECEIVE).count() == 1


# --- Discrepancies -------------------------------------------------------------------------


def test_it_follows_a_discrepancy_up_with_who_and_when(technician, site):
    found = discrepancy(site)
    receiving.discrepancy_update(
        actor=technician,
        discrepancy=found,
        follow_up="Called McKesson, claim 5512",
        status="reported",
        credit_expected="12.50",
    )
    found.refresh_from_db()
    assert found.status == DiscrepancyStatus.REPORTED
    assert found.credit_expected == Decimal("12.50")
    stamp, _, rest = found.follow_up.partition(" tech: ")
    assert rest == "Called McKesson, claim 5512"
    assert dt.datetime.strptime(stamp, "%m/%d/%Y %H:%M")
    event = last_event()
    assert event.action == "inventory.discrepancy.updated"
    assert data(event) == {
        "receipt": found.receipt_id,
        "changes": {"status": ["open", "reported"], "credit_expected": [None, "12.50"]},
        "follow_up": "Called McKesson, claim 5512",
    }
    receiving.discrepancy_update(
        actor=technician, discrepancy=found, status="credited", credit_received="12.50"
    )
    receiving.discrepancy_update(
        actor=technician, discrepancy=found, follow_up="Credit memo 88", status="resolved"
    )
    found.refresh_from_db()
    assert found.status == "resolved" and found.resolved_at is not None
    assert found.follow_up.count("\n") == 1


def test_a_discrepancy_moves_only_forward_and_credits_need_an_amount(technician, site):
    found = discrepancy(site)
    with pytest.raises(Invalid, match="Enter the credit received"):
        receiving.discrepancy_update(actor=technician, discrepancy=found, status="credited")
    with pytest.raises(Invalid, match="Write a follow-up note or change something"):
        receiving.discrepancy_update(actor=technician, discrepancy=found)
    receiving.discrepancy_update(actor=technician, discrepancy=found, status="reported")
    with pytest.raises(Conflict, match="does not go back from reported to open"):
        receiving.discrepancy_update(actor=technician, discrepancy=found, status="open")
    receiving.discrepancy_update(actor=technician, discrepancy=found, status="resolved")
    with pytest.raises(Conflict, match="resolved; it is closed"):
        receiving.discrepancy_update(actor=technician, discrepancy=found, follow_up="more")


def test_an_auditor_may_not_follow_up(auditor, site):
    found = discrepancy(site)
    before = counts()
    with pytest.raises(Forbidden):
        receiving.discrepancy_update(actor=auditor, discrepancy=found, follow_up="x")
    assert counts() == before and Discrepancy.objects.get().follow_up == ""


def test_an_unknown_scanned_product_is_named_by_its_ndc(technician, site):
    with pytest.raises(Invalid) as caught:
        receiving.receipt_line_add(
            actor=technician,
            receipt=receipt(site),
            scan=datamatrix(Package(ndc10="0002-3227-01"), "A"),
        )
    assert caught.value.errors == [
        {
            "field": "scan",
            "message": "NDC 0002322701 (from the barcode) is not in the drug catalog.",
        }
    ]


def test_scans_carry_the_gs_separator_or_the_printed_form(technician, site):
    prozac()
    rec = receipt(site)
    printed = "(01)00300023227300(17)301231(10)AB12(21)SN9"
    line = receiving.receipt_line_add(actor=technician, receipt=rec, scan=printed)
    assert (line.lot_number, line.serials) == ("AB12", "SN9") and GS not in printed


def test_it_imports_an_x12_810_invoice(technician, site):
    from tests.inventory.test_invoice import x12

    prozac()
    oxycodone()
    rec = receipt(site)
    lines = receiving.receipt_import_invoice(actor=technician, receipt=rec, text=x12())
    assert [(x.package.ndc10, x.lot_number, x.packages_invoiced) for x in lines] == [
        ("0002-3227-30", "", 3),
        ("42858-001-01", "X7", 1),
    ]
    rec.refresh_from_db()
    assert rec.invoice_number == "INV-99812"


def test_an_x12_lot_under_recall_is_refused_even_without_its_expiry(technician, site):
    from tests.inventory.test_invoice import x12

    prozac()
    recall(site, oxycodone(), "X7")
    rec = receipt(site)
    before = counts()
    with pytest.raises(Invalid) as caught:
        receiving.receipt_import_invoice(actor=technician, receipt=rec, text=x12())
    assert caught.value.errors == [
        {
            "field": "text",
            "message": "Row 7, column lot: Lot X7 of NDC 42858-001-01 is under recall "
            "D-0412-2026; do not receive it.",
        }
    ]
    assert counts() == before
