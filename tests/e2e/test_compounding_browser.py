"""Compounding in a real browser: a technician whose media fill has lapsed is refused (the page
says why), then a qualified technician makes a vancomycin bag in the certified hood —
scanning the vial's lot, measuring each component, recording the visual inspection and
submitting; the pharmacist verifies it and prints the label, whose PDF says it is a
compounded preparation with its beyond-use date, storage and route. The stock ledger lost
exactly what the record took."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal

import pytest
from django.urls import reverse
from pypdf import PdfReader

from rxdesk.compounding.models import Certification, CompetencyResult, CompoundingRecord
from rxdesk.core.choices import Role
from rxdesk.inventory.ledger import ledger_verify
from rxdesk.inventory.models import StockBalance
from tests.compounding.factories import cleanroom, competent, stocked_components, vancomycin_bag
from tests.e2e.test_browser import http_site, page  # noqa: F401  (shared fixtures)
from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.e2e
SCREENSHOT = "/tmp/ui-compounding.png"


def _sign_in(page, url, username):  # noqa: F811
    page.context.clear_cookies()
    page.goto(url + reverse("login"))
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.press("#id_password", "Enter")


def test_a_bag_is_compounded_checked_verified_and_labeled(
    http_site,  # noqa: F811
    site,
    technician,
    pharmacist,
    pic,
    page,  # noqa: F811
):
    from playwright.sync_api import expect

    stock = stocked_components(site)
    formula = vancomycin_bag(site, pharmacist, approver=pic)
    _room, hood = cleanroom(site)
    Certification.objects.create(
        site=site,
        control=hood,
        certified_on=site.today() - dt.timedelta(days=30),
        due_on=site.today() + dt.timedelta(days=150),
        certifier="CleanAir",
        recorded_by=pic,
    )
    competent(technician, "2", evaluator=pharmacist)
    lapsed = UserFactory(site=site, role=Role.TECHNICIAN, username="maria")
    competent(lapsed, "2", evaluator=pharmacist, on=site.today() - dt.timedelta(days=220))
    url = http_site.url

    # A technician whose media fill lapsed is refused, and told why; nothing is taken.
    _sign_in(page, url, "maria")
    expect(page.locator("nav")).to_contain_text("Compounding")
    page.goto(url + reverse("compounding_record_new") + f"?formula={formula.pk}")
    page.fill("[name=quantity]", "1")
    page.fill("[name=unit]", "bag")
    page.select_option("[name=control]", value=str(hood.pk))
    page.get_by_role("button", name="Start the record").click()
    expect(page.locator("main")).to_contain_text("media-fill test lapsed")
    assert not CompoundingRecord.objects.exists()
    assert StockBalance.objects.get(pk=stock["vanco"].pk).on_hand == Decimal(20)

    # A qualified technician: scan the vial's lot, start, measure, inspect, submit.
    _sign_in(page, url, technician.username)
    page.goto(url + reverse("compounding_record_new") + f"?formula={formula.pk}")
    page.fill("[name=quantity]", "1")
    page.fill("[name=unit]", "bag")
    page.select_option("[name=control]", value=str(hood.pk))
    page.fill("[name=lot_1]", "VAN-A")
    page.press("[name=lot_1]", "Enter")  # a scan: refreshes the check of amounts and lots
    expect(page.locator("main")).to_contain_text("VAN-A")
    page.get_by_role("button", name="Start the record").click()
    record = CompoundingRecord.objects.get()
    expect(page.locator("main")).to_contain_text(record.lot_number)
    expect(page.locator("main")).to_contain_text("Category 2 (Table 13)")

    for component in record.components.order_by("position"):
        row = page.locator(f"#component-{component.pk}")
        row.locator("[name=measured_quantity]").fill(f"{component.required_quantity.normalize():f}")
        row.locator("[name=measured_unit]").fill(component.unit)
        row.locator("[name=measured_unit]").press("Enter")
        expect(page.locator(f"#component-{component.pk}")).to_contain_text(component.unit)
    page.fill("[name=name]", "Visual inspection")
    page.fill("[name=result]", "Clear, no particles, no leaks")
    page.select_option("[name=passed]", index=1)
    page.get_by_role("button", name="Record the check").click()
    expect(page.locator("main")).to_contain_text("Clear, no particles")
    page.get_by_role("button", name="Submit to the pharmacist").click()
    expect(page.locator("main")).to_contain_text("Waiting for pharmacist verification")
    record.refresh_from_db()
    assert record.status == "awaiting_verification"

    # The pharmacist verifies (the technician could not) and prints the label.
    _sign_in(page, url, pharmacist.username)
    page.goto(url + reverse("compounding_record", args=[record.pk]))
    page.get_by_role("button", name="Verify and release").click()
    expect(page.locator("main")).to_contain_text("Verified and released")
    page.screenshot(path=SCREENSHOT, full_page=True)
    response = page.request.get(url + reverse("compounding_record_label", args=[record.pk]))
    assert response.headers["content-type"] == "application/pdf"
    text = " ".join(p.extract_text() for p in PdfReader(io.BytesIO(response.body())).pages)
    assert "compounded preparation" in text
    assert record.lot_number in text
    assert "refrigerat" in text.lower()
    assert "intravenous" in text.lower()
    record.refresh_from_db()
    assert record.status == "verified" and record.verified_by == pharmacist
    # one vial and 250 mL of saline left the shelf, and the ledger agrees with itself
    assert StockBalance.objects.get(pk=stock["vanco"].pk).on_hand == Decimal(19)
    assert StockBalance.objects.get(pk=stock["ns"].pk).on_hand == Decimal(4750)
    assert ledger_verify(site_id=site.pk)[1] == []
    assert CompetencyResult.objects.filter(person=lapsed).exists()
