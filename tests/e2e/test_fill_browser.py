"""A prescription from the keyboard to the will-call bin, in a real browser: a technician
types it, a pharmacist verifies the data from the queue with one key and Enter, the
technician fills it by scanning the package (the NDC typed as a scanner would, then Enter),
and the pharmacist prints the label and approves it into its bin. The label PDF that came
out of the printer button is rendered to an image and read back by OCR: it must carry the
patient's name and the drug."""

from __future__ import annotations

import datetime as dt
import io
import re
import shutil

import pytest
from django.urls import reverse

from rxdesk.rx.choices import FillStatus, FillStep
from rxdesk.rx.models import Fill
from tests.catalog.factories import PackageFactory, ProductFactory
from tests.e2e.test_browser import http_site, page  # noqa: F401  (shared fixtures)
from tests.factories import PASSWORD, PatientFactory, PrescriberFactory
from tests.inventory.factories import stock

pytestmark = pytest.mark.e2e
SCREENSHOTS = "/tmp/ui-fill-{}.png"
NDC = "68180-513-01"


def sign_in(page, url: str, user) -> None:  # noqa: F811
    from playwright.sync_api import expect

    page.goto(url + reverse("login"))
    page.fill("#id_username", user.username)
    page.fill("#id_password", PASSWORD)
    page.press("#id_password", "Enter")
    expect(page.locator(".who")).to_contain_text(user.role_label)


def sign_out(page) -> None:  # noqa: F811
    from playwright.sync_api import expect

    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/signin/"))


def label_text(pdf: bytes) -> str:
    """The label's first page rendered at 4× (288 dpi, so small print reads) and OCR'd."""
    pdfium = pytest.importorskip("pypdfium2")
    pytesseract = pytest.importorskip("pytesseract")
    assert shutil.which("tesseract"), "Tesseract OCR is missing: run `make browser`."
    document = pdfium.PdfDocument(io.BytesIO(pdf))
    image = document[0].render(scale=4).to_pil().convert("L")
    image.save(SCREENSHOTS.format("label"))
    return " ".join(pytesseract.image_to_string(image).split())


def test_a_prescription_is_typed_verified_filled_by_scan_and_labelled(
    http_site,  # noqa: F811
    site,
    technician,
    pharmacist,
    page,  # noqa: F811
):
    pytest.importorskip("rxdesk.rx.labels")
    from playwright.sync_api import expect

    patient = PatientFactory(site=site, last_name="Rivera", first_name="Ana")
    PrescriberFactory(site=site, last_name="Okafor", first_name="Margaret", dea_number="BO1234563")
    product = ProductFactory(
        name="Lisinopril",
        generic_name="Lisinopril",
        strength="10 mg/1",
        dosage_form="TABLET",
        labeler="Lupin Pharmaceuticals",
    )
    package = PackageFactory(
        product=product, ndc10=NDC, description=f"90 TABLET in 1 BOTTLE ({NDC})"
    )
    stock(site, package, lot="LX2031", quantity=200, expiry=dt.date(2031, 6, 30))
    url = http_site.url

    # 1. The technician types the prescription (keyboard only, the drug by its NDC).
    sign_in(page, url, technician)
    page.goto(url + reverse("rx_intake") + f"?patient={patient.pk}")
    expect(page.locator("#id_prescriber_q")).to_be_focused()
    page.keyboard.type("okafor", delay=20)
    expect(page.locator("#prescriber-picks [data-pick]")).to_have_count(1)
    page.keyboard.press("Enter")
    expect(page.locator("#id_drug")).to_be_focused()
    page.keyboard.type(NDC, delay=10)
    page.keyboard.press("Enter")
    expect(page.locator("#id_origin")).to_be_focused()
    for _ in range(3):
        page.keyboard.press("Tab")
    expect(page.locator("#id_quantity")).to_be_focused()
    page.keyboard.type("30")
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    page.keyboard.type("30")
    page.keyboard.press("Tab")
    expect(page.locator("#id_directions")).to_be_focused()
    page.keyboard.type("1 T PO DAILY", delay=20)
    expect(page.locator("#sig-preview")).to_contain_text("Take 1 tablet by mouth")
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/rx/\d+/$"))
    fill = Fill.objects.get()
    rx = fill.prescription
    name = f"Rx {rx.number}-{fill.number}"
    sign_out(page)

    # 2. The pharmacist opens the data-verification queue: "n" opens the next fill, Enter
    # approves it (and would open the one after it).
    sign_in(page, url, pharmacist)
    page.goto(url + reverse("fill_queue"))
    expect(page.locator("#tab-data .step-count")).to_have_text("1")
    expect(page.locator(f"[data-fill='{fill.pk}']")).to_be_visible()
    page.screenshot(path=SCREENSHOTS.format("queue"))
    page.keyboard.press("n")
    expect(page.locator("h1")).to_contain_text(f"Data verification · {name}")
    expect(page.locator("#typed")).to_contain_text("Take 1 tablet by mouth")
    expect(page.locator("#approve")).to_be_focused()
    page.screenshot(path=SCREENSHOTS.format("data-verify"))
    page.keyboard.press("Enter")
    expect(page.locator(".messages")).to_contain_text(f"{name} approved; it goes to be filled.")
    expect(page.locator("#tab-fill .step-count")).to_have_text("1")
    sign_out(page)

    # 3. The technician fills it: the fill tab ("2"), the next fill ("n"), the scan box has
    # the focus; a scanner types the NDC and Enter.
    sign_in(page, url, technician)
    page.goto(url + reverse("fill_queue"))
    page.keyboard.press("2")
    expect(page).to_have_url(re.compile(r"step=fill"))
    page.keyboard.press("j")
    expect(page.locator(f"[data-fill='{fill.pk}']")).to_be_focused()
    page.keyboard.press("n")
    expect(page.locator("h1")).to_contain_text(f"Fill · {name}")
    expect(page.locator(".big-drug")).to_contain_text("Lisinopril 10 mg tablet")
    scan = page.locator("#id_scanned_code")
    expect(scan).to_be_focused()
    expect(page.locator("#id_quantity")).to_have_value("30")
    page.keyboard.type(NDC, delay=15)
    page.screenshot(path=SCREENSHOTS.format("fill"))
    page.keyboard.press("Enter")
    expect(page.locator(".messages")).to_contain_text(f"{name} filled: 30")
    expect(page.locator(".messages")).to_contain_text("lot LX2031 (exp 06/30/2031) × 30")
    sign_out(page)

    # 4. The pharmacist verifies: side by side, prints the label, approves into a bin.
    sign_in(page, url, pharmacist)
    page.goto(url + reverse("fill_queue"))
    page.keyboard.press("3")
    expect(page).to_have_url(re.compile(r"step=verify"))
    page.keyboard.press("n")
    expect(page.locator("h1")).to_contain_text(f"Final verification · {name}")
    product_pane = page.locator("#product")
    expect(product_pane).to_contain_text(NDC)
    expect(product_pane).to_contain_text("LX2031 · expires 06/30/2031")
    expect(page.locator("#label iframe.label-view")).to_have_attribute(
        "src", reverse("fill_label", kwargs={"pk": fill.pk})
    )
    expect(page.locator("#approve")).to_be_focused()
    page.screenshot(path=SCREENSHOTS.format("final-verify"))

    # The preview is not a print; the Print button is (and hands over the PDF).
    preview = page.request.get(url + reverse("fill_label", kwargs={"pk": fill.pk}))
    assert preview.status == 200 and preview.headers["content-type"] == "application/pdf"
    assert Fill.objects.get(pk=fill.pk).labels_printed == 0
    # One key, "p". (From the keyboard, as a pharmacist works: a mouse click sent by the test
    # right after a scroll can land where the PDF viewer was, a quirk of automation.)
    with page.expect_download() as download:
        page.keyboard.press("p")
    pdf = open(download.value.path(), "rb").read()  # noqa: SIM115
    assert pdf.startswith(b"%PDF")
    assert Fill.objects.get(pk=fill.pk).labels_printed == 1

    text = label_text(pdf)
    assert re.search(r"Ana\s+Rivera", text, re.IGNORECASE), text
    assert re.search(r"Lisinopril\s+10\s*mg", text, re.IGNORECASE), text
    assert str(rx.number) in text, text

    # Approve into another bin than the patient's initial: Shift+Tab, the bin, Enter.
    expect(page.locator("#approve")).to_be_focused()
    page.keyboard.press("Shift+Tab")
    expect(page.locator("#id_bin")).to_be_focused()
    page.keyboard.type("R7")
    page.keyboard.press("Enter")
    expect(page.locator(".messages")).to_contain_text(f"{name} verified: will-call bin R7.")
    expect(page.locator("#tab-ready .step-count")).to_have_text("1")

    done = Fill.objects.get(pk=fill.pk)
    assert (done.status, done.bin) == (FillStatus.READY, "R7")
    assert (done.data_verified_by, done.filled_by, done.verified_by) == (
        pharmacist,
        technician,
        pharmacist,
    )
    assert list(done.events.order_by("at", "pk").values_list("step", flat=True)) == [
        FillStep.ENTERED,
        FillStep.DATA_VERIFIED,
        FillStep.FILLED,
        FillStep.LABEL_PRINTED,
        FillStep.FINAL_VERIFIED,
    ]
    # Its history, from the ready tab: every step, who and when, and the stock it took.
    page.keyboard.press("4")
    expect(page).to_have_url(re.compile(r"step=ready"))
    page.keyboard.press("n")
    expect(page.locator("h1")).to_contain_text(f"Fill history · {name}")
    history = page.locator("#history tbody tr")
    expect(history).to_have_count(5)
    expect(history.nth(3)).to_contain_text("Label printed")
    expect(page.locator("#stock-moves")).to_contain_text("LX2031")
    page.screenshot(path=SCREENSHOTS.format("history"), full_page=True)
    assert page.script_errors == []
