"""The receiving API: a delivery from its purchase order to stock — scans, an invoice file,
corrections, posting once — and the discrepancies it leaves, through the test client."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client

from rxdesk.core.models import User
from rxdesk.inventory.choices import PurchaseOrderStatus
from rxdesk.inventory.models import ReceiptLine, StockBalance, StockMove
from tests.inventory.matrix_receiving import (
    datamatrix,
    discrepancy,
    order,
    oxycodone,
    prozac,
    receipt,
    receipt_line,
    supplier,
)

pytestmark = pytest.mark.django_db

P = "/api/v1/inventory"
JSON = "application/json"


def client_for(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_a_delivery_from_order_to_stock(technician, site):
    api = client_for(technician)
    po = order(site, status=PurchaseOrderStatus.SENT, lines=((prozac(), 3),))
    created = api.post(
        f"{P}/receipts",
        {"supplier_id": po.supplier_id, "purchase_order_id": po.pk, "invoice_number": "INV-1"},
        content_type=JSON,
    )
    assert created.status_code == 201
    rec = created.json()
    assert (rec["status"], rec["purchase_order_number"], rec["lines"]) == ("open", "PO-000001", [])

    imported = api.post(
        f"{P}/receipts/{rec['id']}/import-invoice",
        {"text": "NDC,Description,Qty,Unit Cost,Invoice\n0002-3227-30,PROZAC,3,12.50,INV-1\n"},
        content_type=JSON,
    )
    assert imported.status_code == 200
    [line] = imported.json()["lines"]
    assert (line["packages_invoiced"], line["packages_received"], line["lot_number"]) == (3, 0, "")

    for serial in ("S1", "S2"):
        scanned = api.post(
            f"{P}/receipts/{rec['id']}/lines",
            {"scan": datamatrix(prozac(), "A1", serial=serial)},
            content_type=JSON,
        )
        assert scanned.status_code == 201
    body = scanned.json()
    assert body["id"] == line["id"]
    assert (body["lot_number"], body["expiry"], body["serials"], body["packages_received"]) == (
        "A1",
        "2030-12-31",
        ["S1", "S2"],
        2,
    )
    assert body["package"]["ndc10"] == "0002-3227-30"

    refused = api.post(f"{P}/receipts/{rec['id']}/post")
    assert refused.status_code == 422
    assert [e["field"] for e in refused.json()["errors"]] == [
        "dscsa_transaction_info",
        "dscsa_statement_received",
    ]
    api.patch(
        f"{P}/receipts/{rec['id']}",
        {"dscsa_transaction_info": "EPCIS urn:uuid:77", "dscsa_statement_received": True},
        content_type=JSON,
    )
    posted = api.post(f"{P}/receipts/{rec['id']}/post")
    assert posted.status_code == 200
    result = posted.json()
    assert result["status"] == "posted" and result["posted_at"]
    assert [(d["kind"], d["packages"], d["note"]) for d in result["discrepancies"]] == [
        ("short", 1, "NDC 0002-3227-30: invoiced 3, received 2.")
    ]
    assert StockBalance.objects.get().on_hand == 60
    assert api.get(f"{P}/purchase-orders/{po.pk}").json()["status"] == "partial"

    twice = api.post(f"{P}/receipts/{rec['id']}/post")
    assert twice.status_code == 409
    assert twice["Content-Type"] == "application/problem+json"
    assert StockMove.objects.count() == 1


BAD_INVOICE = "NDC,Description,Qty,Unit Cost\n0002-3227-30,PROZAC,3,12.50\n0002-3227-30,X,0,1\n"


def test_a_bad_invoice_is_refused_by_row_and_column(technician, site):
    prozac()
    rec = receipt(site)
    response = client_for(technician).post(
        f"{P}/receipts/{rec.pk}/import-invoice",
        {"text": BAD_INVOICE},
        content_type=JSON,
    )
    assert response.status_code == 422
    body = response.json()
    assert body["errors"] == [
        {
            "field": "text",
            "message": "Row 3, column quantity: the quantity must be at least 1 package.",
        }
    ]
    assert body["problems"] == [
        {"row": 3, "column": "quantity", "message": "the quantity must be at least 1 package."}
    ]
    assert ReceiptLine.objects.count() == 0


def test_an_expired_scan_is_a_problem_naming_expiry(technician, site):
    rec = receipt(site)
    response = client_for(technician).post(
        f"{P}/receipts/{rec.pk}/lines",
        {"scan": datamatrix(prozac(), "OLD", dt.date(2023, 5, 31))},
        content_type=JSON,
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "expiry"
    assert ReceiptLine.objects.count() == 0


def test_a_typed_line_with_its_counts(technician, site):
    oxycodone()
    rec = receipt(site)
    response = client_for(technician).post(
        f"{P}/receipts/{rec.pk}/lines",
        {
            "ndc": "42858-001-01",
            "lot_number": "x7",
            "expiry": "2030-06-30",
            "packages_invoiced": 2,
            "packages_received": 2,
            "packages_damaged": 1,
            "unit_cost": "31.90",
            "dea_order_number": "222-55",
        },
        content_type=JSON,
    )
    assert response.status_code == 201
    body = response.json()
    assert (body["lot_number"], body["packages_damaged"], body["unit_cost"]) == ("X7", 1, "31.90")
    assert body["package"]["dea_schedule"] == "CII"


def test_lines_are_corrected_and_removed(technician, site):
    line = receipt_line(receipt(site))
    api = client_for(technician)
    url = f"{P}/receipts/{line.receipt_id}/lines/{line.pk}"
    patched = api.patch(url, {"packages_received": 5, "unit_cost": None}, content_type=JSON)
    assert patched.status_code == 200 and patched.json()["packages_received"] == 5
    too_many = api.patch(url, {"packages_damaged": 6}, content_type=JSON)
    assert too_many.status_code == 422
    assert too_many.json()["errors"][0]["field"] == "packages_damaged"
    assert api.delete(url).status_code == 204
    assert api.delete(url).status_code == 404


def test_another_pharmacys_receipt_is_404(technician, other_site):
    rec = receipt(other_site)
    api = client_for(technician)
    assert api.get(f"{P}/receipts/{rec.pk}").status_code == 404
    assert api.post(f"{P}/receipts/{rec.pk}/post").status_code == 404


def test_discrepancies_are_listed_and_followed_up(technician, site):
    found = discrepancy(site)
    api = client_for(technician)
    listed = api.get(f"{P}/discrepancies", {"open_only": "true"}).json()
    assert [(d["id"], d["kind"], d["supplier"]) for d in listed] == [
        (found.pk, "short", "McKesson")
    ]
    patched = api.patch(
        f"{P}/discrepancies/{found.pk}",
        {"follow_up": "Claim 5512", "status": "reported", "credit_expected": "12.50"},
        content_type=JSON,
    )
    assert patched.status_code == 200
    body = patched.json()
    assert (body["status"], body["credit_expected"]) == ("reported", "12.50")
    assert body["follow_up"].endswith(" tech: Claim 5512")
    back = api.patch(f"{P}/discrepancies/{found.pk}", {"status": "open"}, content_type=JSON)
    assert back.status_code == 409
    assert api.get(f"{P}/discrepancies", {"status": "resolved"}).json() == []


def test_the_receipt_list_costs_a_fixed_number_of_queries(
    technician, site, django_assert_max_num_queries
):
    vendor = supplier(site)
    for _ in range(15):
        receipt_line(receipt(site))
    api = client_for(technician)
    with django_assert_max_num_queries(8):
        response = api.get(f"{P}/receipts")
    rows = response.json()
    assert len(rows) == 15 and {r["supplier_id"] for r in rows} == {vendor.pk}
    assert {(r["line_count"], r["packages"]) for r in rows} == {(1, 2)}
