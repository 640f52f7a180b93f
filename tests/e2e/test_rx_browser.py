"""Taking a prescription in, in a real browser: a technician opens the typing screen for a
patient, uploads the scanned hard copy, types the prescription from the keyboard while the
directions appear in English and Spanish, saves it, and finds it on the patient's
medication profile under Active."""

from __future__ import annotations

import re
import struct
import zlib

import pytest
from django.urls import reverse

from rxdesk.rx.models import Prescription
from tests.catalog.factories import PackageFactory, ProductFactory
from tests.e2e.test_browser import http_site, page  # noqa: F401  (shared fixtures)
from tests.factories import PASSWORD, PatientFactory, PrescriberFactory

pytestmark = pytest.mark.e2e
SCREENSHOT = "/tmp/ui-rx-intake.png"


def tiny_png(width: int = 24, height: int = 16) -> bytes:
    """A small grey PNG, made here (no image library needed)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    raw = b"".join(b"\x00" + b"\xc8" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def test_a_technician_types_a_prescription_beside_its_scan(http_site, site, technician, page):  # noqa: F811
    from playwright.sync_api import expect

    patient = PatientFactory(site=site, last_name="Rivera", first_name="Ana")
    PrescriberFactory(site=site, last_name="Okafor", first_name="Margaret", dea_number="BO1234563")
    product = ProductFactory(
        name="Lisinopril", generic_name="Lisinopril", strength="10 mg/1", dosage_form="TABLET"
    )
    PackageFactory(
        product=product, ndc10="68180-513-01", description="90 TABLET in 1 BOTTLE (68180-513-01)"
    )
    url = http_site.url

    page.goto(url + reverse("login"))
    page.fill("#id_username", technician.username)
    page.fill("#id_password", PASSWORD)
    page.press("#id_password", "Enter")
    expect(page.locator(".who")).to_contain_text("Pharmacy technician")

    # The typing screen for the patient: the cursor waits in the prescriber search.
    page.goto(url + reverse("rx_intake") + f"?patient={patient.pk}")
    expect(page.locator("#patient-chosen")).to_contain_text("Rivera")
    expect(page.locator("#id_prescriber_q")).to_be_focused()

    # The scanned hard copy appears on the left as soon as it is chosen.
    page.set_input_files(
        "#id_image", files=[{"name": "rx-scan.png", "mimeType": "image/png", "buffer": tiny_png()}]
    )
    expect(page.locator("#scans img.scan-view")).to_be_visible()
    expect(page.locator("#scans")).to_contain_text("rx-scan.png")

    # Prescriber: type, the one match appears, Enter picks it and moves to the drug box.
    page.locator("#id_prescriber_q").focus()
    page.keyboard.type("okafor", delay=20)
    expect(page.locator("#prescriber-picks [data-pick]")).to_have_count(1)
    page.keyboard.press("Enter")
    expect(page.locator("#prescriber-chosen")).to_contain_text("Okafor")
    expect(page.locator("#id_drug")).to_be_focused()

    # Drug: the NDC typed as a scanner would, Enter moves on to the origin.
    page.keyboard.type("68180-513-01", delay=10)
    page.keyboard.press("Enter")
    expect(page.locator("#id_origin")).to_be_focused()
    expect(page.locator("#drug-picks")).to_contain_text("68180-513-01")

    # The rest by keyboard: origin stays Written; Tab to quantity, unit, days, directions.
    for _ in range(3):
        page.keyboard.press("Tab")
    expect(page.locator("#id_quantity")).to_be_focused()
    page.keyboard.type("30")
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    expect(page.locator("#id_days_supply")).to_be_focused()
    page.keyboard.type("15")
    page.keyboard.press("Tab")
    expect(page.locator("#id_directions")).to_be_focused()
    page.keyboard.type("1 T PO BID", delay=20)
    preview = page.locator("#sig-preview")
    expect(preview).to_contain_text("Take 1 tablet by mouth twice daily.")
    expect(preview).to_contain_text("Tome 1 tableta por vía oral dos veces al día.")
    page.screenshot(path=SCREENSHOT)
    page.keyboard.press("Enter")

    # The prescription's page, with its number and the message.
    expect(page).to_have_url(re.compile(r"/rx/\d+/$"))
    rx = Prescription.objects.get()
    assert page.url.endswith(f"/rx/{rx.pk}/")
    expect(page.locator("h1")).to_contain_text(f"Rx {rx.number}")
    expect(page.locator(".messages")).to_contain_text(f"Rx {rx.number} taken in; fill queued")
    assert rx.images.count() == 1
    assert (rx.quantity, rx.days_supply, rx.directions) == (30, 15, "1 T PO BID")

    # The medication profile (one key) lists it under Active.
    page.keyboard.press("m")
    expect(page.locator("h1")).to_have_text("Medication profile")
    active = page.locator("#group-active")
    expect(active).to_contain_text(str(rx.number))
    expect(active).to_contain_text("Take 1 tablet by mouth twice daily.")
    assert page.script_errors == []
