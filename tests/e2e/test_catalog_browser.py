"""The drug catalog in a real browser: a technician finds a drug from the keyboard as they
type, opens it, and scans a DSCSA 2D barcode into the scan box."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.urls import reverse

from rxdesk.catalog.ndc import ndc_to_gtin14
from tests.catalog.factories import PackageFactory, ProductFactory
from tests.e2e.test_browser import http_site, page  # noqa: F401  (shared fixtures)
from tests.factories import PASSWORD

pytestmark = pytest.mark.e2e
SCREENSHOT = "/tmp/ui-catalog.png"


def test_a_technician_finds_a_drug_and_scans_a_package(http_site, technician, page):  # noqa: F811
    from playwright.sync_api import expect

    hydroxyzine = ProductFactory(
        name="Hydroxyzine Hydrochloride",
        tall_man_name="hydrOXYzine Hydrochloride",
        generic_name="Hydroxyzine Hydrochloride",
        strength="25 mg/1",
        dosage_form="TABLET",
        substances="HYDROXYZINE HYDROCHLORIDE",
    )
    PackageFactory(product=hydroxyzine, ndc10="0591-5522-01", package_quantity=Decimal(100))
    hydralazine = ProductFactory(
        name="Hydralazine Hydrochloride",
        tall_man_name="hydrALAZINE Hydrochloride",
        generic_name="Hydralazine Hydrochloride",
        strength="25 mg/1",
        dosage_form="TABLET",
        substances="HYDRALAZINE HYDROCHLORIDE",
    )
    PackageFactory(product=hydralazine, ndc10="0591-0101-01", package_quantity=Decimal(100))
    url = http_site.url

    page.goto(url + reverse("login"))
    page.fill("#id_username", technician.username)
    page.fill("#id_password", PASSWORD)
    page.press("#id_password", "Enter")
    expect(page.locator(".who")).to_contain_text("Pharmacy technician")

    # Alt+C would open the catalog; the link is in the navigation for every role.
    page.get_by_role("link", name="Catalog").click()
    search = page.locator("[data-search]")
    expect(search).to_be_focused()
    page.keyboard.type("hydr 25", delay=40)
    results = page.locator("#results [data-result]")
    expect(results).to_have_count(2)
    expect(results.first).to_contain_text("hydrALAZINE Hydrochloride")
    expect(results.nth(1)).to_contain_text("hydrOXYzine Hydrochloride")
    page.screenshot(path=SCREENSHOT)
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")
    expect(results.nth(1)).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("h1")).to_contain_text("hydrOXYzine Hydrochloride")

    # A scanner types the code and Enter into the scan box.
    page.goto(url + reverse("catalog_search"))
    gtin = ndc_to_gtin14("0591-5522-01")
    page.locator("#id_code").click()
    page.keyboard.type(f"(01){gtin}(17)271231(10)LOT77(21)SER9", delay=5)
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(rf"/catalog/products/{hydroxyzine.pk}/\?package="))
    expect(page.locator("#scanned")).to_contain_text("lot LOT77")
    expect(page.locator("#scanned-package")).to_contain_text("00591-5522-01")

    assert page.script_errors == []
