"""The receiving screens: the scan box (htmx adds the line and keeps the cursor there; a
refused scan is shown beside the box), the invoice import, corrections, posting, and the
discrepancies' follow-up; list pages at a fixed number of queries."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from rxdesk.core.models import User
from rxdesk.inventory.choices import PurchaseOrderStatus, ReceiptStatus
from rxdesk.inventory.models import Discrepancy, Receipt, ReceiptLine, StockMove
from tests.conftest import audit_count
from tests.inventory.matrix_receiving import (
    datamatrix,
    discrepancy,
    order,
    prozac,
    receipt,
    receipt_line,
    supplier,
)

pytestmark = pytest.mark.django_db

HX = {"HX-Request": "true"}


@pytest.fixture(autouse=True)
def _plain_http(settings):
    settings.SECURE_SSL_REDIRECT = False


def sign_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_the_receiving_screen_waits_in_the_scan_box(technician, site):
    rec = receipt(site, invoice_number="INV-1")
    html = sign_in(technician).get(reverse("inventory_receipt", args=[rec.pk])).content.decode()
    assert 'id="id_scan" name="scan"' in html and "autofocus" in html
    assert f'hx-post="/inventory/receipts/{rec.pk}/scan/"' in html
    assert f'action="/inventory/receipts/{rec.pk}/post/"' in html and "INV-1" in html
    assert "Nothing checked in yet" in html


def test_a_scan_adds_its_line_and_clears_the_box(technician, site):
    rec = receipt(site)
    client = sign_in(technician)
    url = reverse("inventory_receipt_scan", args=[rec.pk])
    code = datamatrix(prozac(), "AB12", serial="S1")
    response = client.post(url, {"scan": code}, headers=HX)
    html = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in html
    assert "Added NDC 0002-3227-30 lot AB12: 1 received on this line." in html
    assert 'id="lines" hx-swap-oob="true"' in html and ">AB12<" in html
    assert 'value=""' in html.split('id="id_scan"')[1].split(">")[0]
    again = client.post(url, {"scan": datamatrix(prozac(), "AB12", serial="S2")}, headers=HX)
    assert "2 received on this line" in again.content.decode()
    assert ReceiptLine.objects.get().serials == "S1\nS2"


def test_a_refused_scan_is_shown_beside_the_box_and_writes_nothing(technician, site):
    rec = receipt(site)
    client = sign_in(technician)
    before = audit_count()
    response = client.post(
        reverse("inventory_receipt_scan", args=[rec.pk]),
        {"scan": datamatrix(prozac(), "OLD", dt.date(2022, 2, 28))},
        headers=HX,
    )
    html = response.content.decode()
    assert response.status_code == 422
    assert "This lot expired on 02/28/2022; it cannot be received into stock." in html
    assert "<details" in html and " open>" in html  # the expiry field is shown with its error
    assert ReceiptLine.objects.count() == 0 and audit_count() == before


def test_a_scan_of_a_recalled_lot_is_shown_beside_the_box(technician, site):
    from tests.inventory.test_receiving_services import recall

    recall(site, prozac(), "BAD1")
    rec = receipt(site)
    response = sign_in(technician).post(
        reverse("inventory_receipt_scan", args=[rec.pk]),
        {"scan": datamatrix(prozac(), "BAD1")},
        headers=HX,
    )
    assert response.status_code == 422  # htmx swaps a 422 fragment
    html = response.content.decode()
    assert "Lot BAD1 of NDC 0002-3227-30 is under recall D-0412-2026" in html
    assert html.count('id="lines"') == 1
    assert ReceiptLine.objects.count() == 0


def test_without_htmx_a_scan_returns_to_the_screen(technician, site):
    rec = receipt(site)
    client = sign_in(technician)
    prozac()
    response = client.post(
        reverse("inventory_receipt_scan", args=[rec.pk]),
        {
            "scan": "0002-3227-30",
            "lot_number": "q1",
            "expiry": "06/30/2030",
            "packages_received": "4",
        },
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("inventory_receipt", args=[rec.pk])
    line = ReceiptLine.objects.get()
    assert (line.lot_number, line.expiry, line.packages_received) == ("Q1", dt.date(2030, 6, 30), 4)
    empty = client.post(reverse("inventory_receipt_scan", args=[rec.pk]), {})
    assert empty.status_code == 422
    assert "Scan the package or type its NDC." in empty.content.decode()


def test_it_starts_a_delivery_from_its_order(technician, site):
    po = order(site, status=PurchaseOrderStatus.SENT)
    client = sign_in(technician)
    form = client.get(reverse("inventory_receipt_create"), {"order": po.pk}).content.decode()
    assert f'<option value="{po.pk}" selected>PO-000001 · McKesson · sent</option>' in form
    response = client.post(
        reverse("inventory_receipt_create"),
        {
            "supplier": po.supplier_id,
            "purchase_order": po.pk,
            "invoice_number": "INV-9",
            "shipment_date": "03/01/2025",
            "dscsa_transaction_info": "EPCIS",
            "dscsa_statement_received": "on",
        },
    )
    rec = Receipt.objects.get()
    assert response["Location"] == reverse("inventory_receipt", args=[rec.pk])
    assert (rec.purchase_order, rec.shipment_date, rec.dscsa_statement_received) == (
        po,
        dt.date(2025, 3, 1),
        True,
    )


def test_a_draft_order_is_not_offered_for_receiving(technician, site):
    po = order(site)
    response = sign_in(technician).post(
        reverse("inventory_receipt_create"), {"supplier": po.supplier_id, "purchase_order": po.pk}
    )
    assert response.status_code == 422
    assert Receipt.objects.count() == 0


def test_it_imports_an_invoice_file(technician, site):
    prozac()
    rec = receipt(site)
    upload = SimpleUploadedFile(
        "invoice.csv",
        b"\xef\xbb\xbfNDC,Description,Qty,Unit Cost\r\n0002-3227-30,PROZAC,3,12.50\r\n",
    )
    response = sign_in(technician).post(
        reverse("inventory_receipt_import", args=[rec.pk]), {"file": upload}
    )
    assert response.status_code == 302
    assert ReceiptLine.objects.get().packages_invoiced == 3


def test_a_bad_invoice_names_row_and_column_beside_the_box(technician, site):
    prozac()
    rec = receipt(site)
    response = sign_in(technician).post(
        reverse("inventory_receipt_import", args=[rec.pk]),
        {"text": "NDC,Description,Qty,Unit Cost\n0002-3227-30,PROZAC,3,abc\n"},
    )
    assert response.status_code == 422
    assert "Row 2, column unit_cost: &#x27;abc&#x27; is not an amount of money." in (
        response.content.decode()
    )
    assert ReceiptLine.objects.count() == 0
    empty = sign_in(technician).post(reverse("inventory_receipt_import", args=[rec.pk]), {})
    assert "Choose the invoice file or paste its text." in empty.content.decode()


def test_a_line_is_corrected_and_removed(technician, site):
    line = receipt_line(receipt(site))
    client = sign_in(technician)
    url = reverse("inventory_receipt_line_edit", args=[line.receipt_id, line.pk])
    form = client.get(url).content.decode()
    assert 'value="L1"' in form
    saved = client.post(
        url,
        {
            "packages_invoiced": "3",
            "packages_received": "2",
            "packages_damaged": "1",
            "lot_number": "L1",
            "expiry": "12/31/2030",
        },
    )
    assert saved.status_code == 302
    line.refresh_from_db()
    assert (line.packages_invoiced, line.packages_damaged) == (3, 1)
    refused = client.post(
        url,
        {
            "packages_invoiced": "3",
            "packages_received": "2",
            "packages_damaged": "5",
            "lot_number": "L1",
            "expiry": "12/31/2030",
        },
    )
    assert refused.status_code == 422
    assert "Damaged packages are counted among those received: at most 2." in (
        refused.content.decode()
    )
    client.post(reverse("inventory_receipt_line_remove", args=[line.receipt_id, line.pk]))
    assert ReceiptLine.objects.count() == 0


def test_posting_shows_what_is_missing_then_posts(technician, site):
    rec = receipt(site, dscsa_transaction_info="", dscsa_statement_received=False)
    receipt_line(rec)
    client = sign_in(technician)
    url = reverse("inventory_receipt_post", args=[rec.pk])
    response = client.post(url, follow=True)
    html = response.content.decode()
    assert "Record the DSCSA transaction information" in html
    assert "Confirm the seller&#x27;s DSCSA transaction statement was received." in html
    assert StockMove.objects.count() == 0
    client.post(
        reverse("inventory_receipt_edit", args=[rec.pk]),
        {"dscsa_transaction_info": "TI on the slip", "dscsa_statement_received": "on"},
    )
    done = client.post(url, follow=True).content.decode()
    assert f"Delivery {rec.pk} is posted to stock." in done
    assert Receipt.objects.get().status == ReceiptStatus.POSTED
    assert "/post/" not in done and 'id="id_scan"' not in done
    twice = client.post(url, follow=True).content.decode()
    assert f"Receipt {rec.pk} is already posted to stock." in twice
    assert StockMove.objects.count() == 1


def test_the_auditor_sees_a_delivery_but_no_scan_box(auditor, site):
    rec = receipt(site)
    html = sign_in(auditor).get(reverse("inventory_receipt", args=[rec.pk])).content.decode()
    assert "Delivery" in html and 'id="id_scan"' not in html and "/post/" not in html


def test_the_delivery_list_costs_a_fixed_number_of_queries(
    technician, site, django_assert_max_num_queries
):
    for _ in range(12):
        receipt_line(receipt(site, order(site, status="sent", number=f"PO-{_:06d}")))
    client = sign_in(technician)
    with django_assert_max_num_queries(10):
        response = client.get(reverse("inventory_receipts"))
    assert response.content.decode().count("data-result") == 12


def test_the_receiving_screen_costs_a_fixed_number_of_queries(
    technician, site, django_assert_max_num_queries
):
    rec = receipt(site)
    for n in range(10):
        receipt_line(rec, lot=f"L{n}")
    client = sign_in(technician)
    with django_assert_max_num_queries(14):
        response = client.get(reverse("inventory_receipt", args=[rec.pk]))
    assert response.content.decode().count("Change</a>") == 10


def test_discrepancies_are_listed_and_followed_up(technician, site):
    found = discrepancy(site)
    client = sign_in(technician)
    listed = client.get(reverse("inventory_discrepancies")).content.decode()
    assert "Short (fewer than invoiced)" in listed and "NDC 0002-3227-30: invoiced 3" in listed
    response = client.post(
        reverse("inventory_discrepancy", args=[found.pk]),
        {"follow_up": "Called rep", "status": "reported", "credit_expected": "12.50"},
    )
    assert response.status_code == 302
    found.refresh_from_db()
    assert found.status == "reported" and found.follow_up.endswith("tech: Called rep")
    empty = client.post(
        reverse("inventory_discrepancy", args=[found.pk]),
        {"status": "reported", "credit_expected": "12.50"},
    )
    assert empty.status_code == 422
    assert "Write a follow-up note or change something." in empty.content.decode()
    Discrepancy.objects.update(status="resolved")
    assert "Open only" not in client.get(reverse("inventory_discrepancies")).content.decode()
    assert (
        "No open discrepancies" in client.get(reverse("inventory_discrepancies")).content.decode()
    )


def test_the_discrepancy_list_costs_a_fixed_number_of_queries(
    technician, site, django_assert_max_num_queries
):
    for _ in range(10):
        discrepancy(site)
    client = sign_in(technician)
    with django_assert_max_num_queries(10):
        response = client.get(reverse("inventory_discrepancies"))
    assert response.content.decode().count("data-result") == 10


def test_other_pharmacies_deliveries_are_404(technician, other_site):
    rec = receipt(other_site)
    supplier(other_site)
    response = sign_in(technician).get(reverse("inventory_receipt", args=[rec.pk]))
    assert response.status_code == 404
