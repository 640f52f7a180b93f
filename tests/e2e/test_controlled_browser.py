"""Controlled substances in a real browser: a pharmacist counts the Schedule II vault blind
(the page never shows the quantity on record), the count comes up three tablets short, the
investigation is resolved with a second pharmacist re-authenticating as witness, and the
package's perpetual record shows the correction with both names and the new balance."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.urls import reverse

from rxdesk.controlled.models import Investigation
from rxdesk.core.choices import Role
from rxdesk.inventory.models import StockBalance, StockMove
from tests.controlled.factories import cs_stock, oxycodone, witness
from tests.e2e.test_browser import http_site, page  # noqa: F401  (shared fixtures)
from tests.factories import PASSWORD

pytestmark = pytest.mark.e2e
SCREENSHOT = "/tmp/ui-controlled.png"


def test_a_blind_count_short_is_investigated_and_corrected_with_a_witness(
    http_site,  # noqa: F811
    site,
    pharmacist,
    page,  # noqa: F811
):
    from playwright.sync_api import expect

    package = oxycodone()
    cs_stock(site, package, quantity=137, lot="OX771")
    witness(site, Role.PHARMACIST, username="rph2")
    url = http_site.url

    page.goto(url + reverse("login"))
    page.fill("#id_username", pharmacist.username)
    page.fill("#id_password", PASSWORD)
    page.press("#id_password", "Enter")
    expect(page.locator("nav")).to_contain_text("Controlled")

    # Blind: scan the bottle; the page names the drug and its lots, never the 137 on file.
    page.goto(url + reverse("cs_audit_count"))
    page.fill("[name=ndc]", package.ndc10)
    page.press("[name=ndc]", "Enter")
    expect(page.locator("main")).to_contain_text("OX771")
    assert "137" not in page.locator("main").inner_text()
    page.fill("[name=lot_number]", "OX771")
    page.fill("[name=counted]", "134")
    page.press("[name=counted]", "Enter")
    expect(page.locator("body")).to_contain_text("134 EA counted, 137 on record (-3)")

    # The investigation: the correction needs a second pharmacist's sign-in.
    investigation = Investigation.objects.get()
    page.goto(url + reverse("cs_investigation_detail", args=[investigation.pk]))
    page.select_option("[name=res-outcome]", value="not_significant")
    page.fill("[name=res-conclusion]", "Three tablets broken in the vault tray; not recoverable.")
    page.fill("[name='res-witness.username']", "rph2")
    page.fill("[name='res-witness.password']", "wrong-password")
    page.get_by_role("button", name="Resolve the investigation").click()
    expect(page.locator("body")).to_contain_text("password is not right")
    assert StockBalance.objects.get(lot__number="OX771").on_hand == Decimal(137)

    page.fill("[name='res-witness.password']", PASSWORD)
    page.get_by_role("button", name="Resolve the investigation").click()
    expect(page.locator("body")).to_contain_text(re.compile("resolved", re.I))
    move = StockMove.objects.get(reference_type="cs_investigation")
    assert (move.quantity, move.balance_after, move.witness_name) == (
        Decimal(-3),
        Decimal(134),
        "rph2",
    )

    # The perpetual record: the correction, who did it, the witness, the balance after.
    page.goto(url + reverse("cs_package_ledger", args=[package.ndc11]))
    row = page.locator("tr", has_text="rph2")
    expect(row).to_contain_text(pharmacist.username)
    expect(row).to_contain_text("134")
    page.screenshot(path=SCREENSHOT, full_page=True)
