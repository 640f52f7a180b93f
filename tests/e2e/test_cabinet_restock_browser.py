"""A cabinet restock in a real browser: a technician opens the cabinet's pick list, goes to
the restock form, scans a lot's DSCSA barcode into the Prozac row (Enter moves to the
quantity), enters the quantity; for the controlled oxycodone pocket enters the count before
and the quantity, and the pharmacist witness signs in on the same form; submits. The page
says what was restocked, and both ledgers moved by lot and prove themselves."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse

from rxdesk.institutional.cabinet_ledger import cabinet_verify
from rxdesk.institutional.choices import CabinetEvent
from rxdesk.institutional.models import CabinetMove, Pocket
from rxdesk.inventory.choices import MoveReason
from rxdesk.inventory.ledger import ledger_verify
from tests.e2e.test_browser import http_site, page  # noqa: F401  (shared fixtures)
from tests.factories import PASSWORD
from tests.institutional.cabinets_setup import NEAR, hri, on_shelf, prozac, ward, witness_of

pytestmark = pytest.mark.e2e
SCREENSHOT = "/tmp/ui-cabinet-restock.png"


def test_a_technician_restocks_a_cabinet_from_the_pick_list(
    http_site,  # noqa: F811
    site,
    technician,
    page,  # noqa: F811
):
    from playwright.sync_api import expect

    w = ward(site)
    rph = witness_of(site)
    plain, cs = w["plain"], w["cs"]
    url = http_site.url

    page.goto(url + reverse("login"))
    page.fill("#id_username", technician.username)
    page.fill("#id_password", PASSWORD)
    page.press("#id_password", "Enter")
    expect(page.locator(".who")).to_contain_text("Pharmacy technician")

    # The pick list: both pockets, in drawer order, with the lots to take.
    page.goto(url + reverse("adc_pick_list", kwargs={"pk": w["cabinet"].pk}))
    expect(page.locator("main")).to_contain_text("2 pockets to fill")
    expect(page.locator(f"#pick-{plain.pk}")).to_contain_text("take 10")
    expect(page.locator(f"#pick-{cs.pk}")).to_contain_text("controlled")

    # To the restock form with one key.
    page.keyboard.press("r")
    expect(page.locator("h1")).to_contain_text("Restock cabinet 3W-1")
    scan = page.locator(f"[name=scan_{plain.pk}]")
    expect(scan).to_be_focused()
    witness_box = page.locator("section.witness")
    expect(witness_box).to_be_hidden()

    # Scan the package's 2D code: the scanner types it and Enter, which moves to the quantity.
    page.keyboard.type(hri(prozac(), "P-NEAR", NEAR))
    page.keyboard.press("Enter")
    quantity = page.locator(f"[name=quantity_{plain.pk}]")
    expect(quantity).to_be_focused()
    page.keyboard.type("6")

    # The controlled pocket: the lot, the count before, the quantity; then the witness signs in.
    page.fill(f"[name=scan_{cs.pk}]", "OX1")
    page.fill(f"[name=count_{cs.pk}]", "0")
    page.fill(f"[name=quantity_{cs.pk}]", "12")
    expect(witness_box).to_be_visible()
    page.fill("[name=witness_username]", rph.username)
    page.fill("[name=witness_password]", PASSWORD)
    page.get_by_role("button", name="Restock the cabinet").click()

    expect(page.locator(".messages")).to_contain_text(
        "Restocked 2 pockets of cabinet 3W-1 from the pharmacy's stock"
    )
    expect(page.locator(".messages")).to_contain_text("1-A +6 (lot P-NEAR, now 6)")
    expect(page.locator(".messages")).to_contain_text("2-B +12 (lot OX1, now 12)")
    page.screenshot(path=SCREENSHOT, full_page=True)
    assert page.script_errors == []

    # Both ledgers: the pharmacy lost exactly what the pockets gained, by lot.
    assert on_shelf(site, "P-NEAR") == Decimal(44)
    assert on_shelf(site, "OX1") == Decimal(88)
    assert Pocket.objects.get(pk=plain.pk).on_hand == Decimal(6)
    assert Pocket.objects.get(pk=cs.pk).on_hand == Decimal(12)
    restocks = CabinetMove.objects.filter(event=CabinetEvent.RESTOCK).order_by("id")
    assert [(m.pocket_id, m.lot.number, m.quantity) for m in restocks] == [
        (plain.pk, "P-NEAR", Decimal(6)),
        (cs.pk, "OX1", Decimal(12)),
    ]
    assert all(m.stock_move.reason == MoveReason.CABINET_RESTOCK for m in restocks)
    assert restocks[1].witness_name == rph.username and restocks[1].stock_move.witness == rph
    assert restocks[0].witness_name == "" and restocks[0].stock_move.witness is None
    assert ledger_verify(site_id=site.pk)[1] == []
    assert cabinet_verify(site_id=site.pk)[1] == []
