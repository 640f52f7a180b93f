"""The stock room in a real browser: a technician checks in a delivery by scanning its
DSCSA 2D barcodes, posts it, and finds the lot on hand; a recall entered by the pharmacist
quarantines it at once, and the on-hand screen says so."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest
from django.urls import reverse

from rxdesk.catalog.ndc import ndc_to_gtin14
from rxdesk.core import context
from rxdesk.inventory.models import StockBalance
from rxdesk.inventory.services.ordering import supplier_create
from rxdesk.inventory.services.recalls import recall_create
from tests.catalog.factories import PackageFactory, ProductFactory
from tests.e2e.test_browser import http_site, page  # noqa: F401  (shared fixtures)
from tests.factories import PASSWORD

pytestmark = pytest.mark.e2e
SCREENSHOT = "/tmp/ui-inventory.png"


def test_a_delivery_is_scanned_in_posted_and_then_recalled(http_site, technician, pic, page):  # noqa: F811
    from playwright.sync_api import expect

    product = ProductFactory(
        name="Lisinopril", generic_name="Lisinopril", strength="10 mg/1", dosage_form="TABLET"
    )
    package = PackageFactory(product=product, ndc10="68180-513-01", package_quantity=Decimal(90))
    with context.using(context.RequestInfo(request_id="e2e", channel="web")):
        supplier_create(actor=pic, name="Cardinal Health", account_number="778812")
    url = http_site.url

    page.goto(url + reverse("login"))
    page.fill("#id_username", technician.username)
    page.fill("#id_password", PASSWORD)
    page.press("#id_password", "Enter")
    expect(page.locator(".who")).to_contain_text("Pharmacy technician")

    # Check in a delivery: supplier, invoice, DSCSA transaction information and statement.
    page.goto(url + reverse("inventory_receipt_create"))
    page.select_option("#id_supplier", label="Cardinal Health")
    page.fill("#id_invoice_number", "INV-40021")
    page.fill("#id_dscsa_transaction_info", "EPCIS shipment urn:epc:id:sscc:0614141.1234567890")
    page.check("#id_dscsa_statement_received")
    page.get_by_role("button", name=re.compile("Check in|Save|Create|Start", re.I)).click()

    # The cursor waits in the scan box; a scanner types the 2D code and Enter, twice.
    scan = page.locator("#id_scan")
    expect(scan).to_be_focused()
    gtin = ndc_to_gtin14("68180-513-01")
    expiry = (dt.date.today() + dt.timedelta(days=600)).strftime("%y%m%d")
    for count, serial in enumerate(("S1001", "S1002"), start=1):
        scan.click()
        page.keyboard.type(f"(01){gtin}(17){expiry}(10)LZ4471(21){serial}", delay=2)
        page.keyboard.press("Enter")
        expect(page.locator(".scan-ok")).to_contain_text(f"lot LZ4471: {count} received")
    page.screenshot(path=SCREENSHOT)
    page.get_by_role("button", name="Post to stock").click()

    balance = StockBalance.objects.get(lot__number="LZ4471")
    assert (balance.on_hand, balance.status) == (Decimal("180.000"), "available")

    # On hand: found by a typed NDC, available.
    page.goto(url + reverse("inventory_stock"))
    page.locator("[name=q]").fill("68180-513")
    row = page.locator("tr", has_text="LZ4471")
    expect(row).to_contain_text("180")
    expect(row).to_contain_text(re.compile("available", re.I))

    # The pharmacist enters a recall of that lot: the shelf says recalled at once.
    with context.using(context.RequestInfo(request_id="e2e", channel="web")):
        recall_create(
            actor=pic,
            classification="II",
            reason="Tablets may contain foreign material",
            recall_date=pic.site.today(),
            recall_number="D-0777-2027",
            items=[{"ndc": package.ndc10, "lot_number": "LZ4471"}],
        )
    page.reload()
    page.locator("[name=q]").fill("LZ4471")
    expect(page.locator("tr", has_text="LZ4471")).to_contain_text(re.compile("recalled", re.I))
    assert page.script_errors == []
