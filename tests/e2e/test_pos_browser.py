"""A pickup at the counter in a real browser: a technician scans the bag label, starts the
pickup with Enter, types the date of birth the patient says, DRAWS a signature with the
mouse on the pad, declines counseling, and pays cash with change. The fill is sold, and the
stored signature is a PNG with ink on it."""

from __future__ import annotations

import io
import re

import pytest
from django.urls import reverse

from rxdesk.pos.choices import Counseling, PickupPerson, SaleStatus
from rxdesk.pos.models import Pickup, Sale
from rxdesk.pos.services.drawers import drawer_open
from rxdesk.rx.choices import FillStatus
from tests.e2e.test_browser import http_site, page  # noqa: F401  (shared fixtures)
from tests.e2e.test_fill_browser import sign_in
from tests.pos.factories import price, ready_fill

pytestmark = pytest.mark.e2e
SCREENSHOTS = "/tmp/ui-pos-{}.png"


def test_a_technician_hands_out_a_bag_with_a_drawn_signature_and_takes_cash(
    http_site,  # noqa: F811
    site,
    technician,
    pharmacist,
    page,  # noqa: F811
):
    from PIL import Image
    from playwright.sync_api import expect

    drawer_open(actor=technician, opening_cash="150.00")
    fill = ready_fill(technician, pharmacist)
    assert fill.package is not None
    price(fill.package, "12.00")  # 30 capsules of a 30-capsule bottle
    patient = fill.prescription.patient
    label = f"{fill.prescription.number}-{fill.number}"
    url = http_site.url

    # 1. The counter: the search box has the focus; a scanner types the label and Enter.
    sign_in(page, url, technician)
    page.goto(url + reverse("counter"))
    expect(page.locator("#id_q")).to_be_focused()
    page.keyboard.type(label, delay=15)
    page.keyboard.press("Enter")

    # 2. The will-call card: the bag is ticked; Enter starts the pickup.
    expect(page).to_have_url(re.compile(rf"/pos/patients/{patient.pk}/\?scan="))
    bag = page.locator(f"[data-bag='{label}']")
    expect(bag).to_contain_text("$12.00")
    expect(bag.locator("input[type=checkbox]")).to_be_checked()
    expect(page.locator("#start-pickup")).to_be_focused()
    page.screenshot(path=SCREENSHOTS.format("card"))
    page.keyboard.press("Enter")

    # 3. The pickup form: the date of birth as the patient says it, a second identifier,
    # counseling declined, and a signature drawn with the mouse.
    expect(page).to_have_url(re.compile(r"/pos/sales/\d+/pickup/$"))
    expect(page.locator("#id_date_of_birth")).to_be_focused()
    expect(page.locator("#id_person_name")).to_have_value(
        f"{patient.first_name} {patient.last_name}"
    )
    page.keyboard.type(patient.date_of_birth.strftime("%m%d%Y"), delay=10)
    page.select_option("#id_second_identifier", "address")
    page.check(f"input[name=counseling][value={Counseling.DECLINED}]")
    pad = page.locator("#signature-pad")
    pad.scroll_into_view_if_needed()
    box = pad.bounding_box()
    assert box is not None
    x, y, w, h = box["x"], box["y"], box["width"], box["height"]
    page.mouse.move(x + w * 0.1, y + h * 0.7)
    page.mouse.down()
    for i in range(1, 25):
        page.mouse.move(x + w * (0.1 + i * 0.03), y + h * (0.7 - 0.4 * (i % 2)), steps=3)
    page.mouse.up()
    expect(page.locator("[data-signature-status]")).to_have_text("Signed.")
    page.screenshot(path=SCREENSHOTS.format("pickup"))
    page.locator("#id_person_name").press("Enter")

    # 4. The sale: cash, $50 handed over; the change is shown.
    expect(page).to_have_url(re.compile(r"/pos/sales/\d+/pay/$"))
    expect(page.locator("#sale-total")).to_contain_text("$12.00")
    expect(page.locator("#id_cash_amount")).to_have_value("12.00")
    page.fill("#id_cash_tendered", "50.00")
    page.screenshot(path=SCREENSHOTS.format("pay"))
    page.locator("#id_cash_tendered").press("Enter")
    expect(page).to_have_url(re.compile(r"/pos/sales/\d+/done/$"))
    expect(page.locator("#change")).to_contain_text("$38.00")
    page.screenshot(path=SCREENSHOTS.format("done"))
    assert page.script_errors == []

    # The bag is sold; the pickup keeps the signature as drawn.
    sale = Sale.objects.get()
    assert sale.status == SaleStatus.COMPLETED
    fill.refresh_from_db()
    assert fill.status == FillStatus.DISPENSED
    pickup = Pickup.objects.get(sale=sale)
    assert (pickup.person, pickup.counseling, pickup.dob_confirmed) == (
        PickupPerson.PATIENT,
        Counseling.DECLINED,
        True,
    )
    png = bytes(pickup.signature)
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    image = Image.open(io.BytesIO(png)).convert("L")
    assert image.size == (600, 160)
    inked = sum(1 for value in image.tobytes() if value < 128)
    assert inked > 200, f"only {inked} dark pixels: the drawing did not reach the PNG"
