"""The main patient flow in a real browser (Debian's headless Chromium through Playwright):
a technician signs in, registers a patient from the keyboard, records an allergy, finds the
patient again with the live search box, and signs out."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from django.urls import reverse

from rxdesk.core.models import AuditEvent
from rxdesk.patients.models import Patient
from tests.factories import PASSWORD

pytestmark = pytest.mark.e2e

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOT = "/tmp/ui-patient.png"


@pytest.fixture
def http_site(settings, live_server):
    """The live server speaks plain HTTP on loopback: no HTTPS redirect, no secure cookies."""
    settings.SECURE_SSL_REDIRECT = False
    settings.SESSION_COOKIE_SECURE = False
    settings.CSRF_COOKIE_SECURE = False
    return live_server


@pytest.fixture
def page() -> Iterator[Any]:
    playwright = pytest.importorskip("playwright.sync_api")
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1366, "height": 768})
        tab = context.new_page()
        tab.set_default_timeout(10_000)
        errors: list[str] = []
        tab.on("pageerror", lambda exc: errors.append(str(exc)))
        tab.script_errors = errors
        yield tab
        context.close()
        browser.close()


def test_a_technician_registers_a_patient_with_an_allergy_and_finds_them(
    http_site, technician, page
):
    from playwright.sync_api import expect

    url = http_site.url

    # Sign in.
    page.goto(url + reverse("login"))
    page.fill("#id_username", technician.username)
    page.fill("#id_password", PASSWORD)
    page.press("#id_password", "Enter")
    expect(page.locator(".who")).to_contain_text("Pharmacy technician")

    # Register a patient: the first field has the focus, typing is kept as a draft, and a
    # reload (as after a timeout and sign-in again) brings it back.
    page.goto(url + reverse("patient_create"))
    expect(page.locator("#id_last_name")).to_be_focused()
    page.keyboard.type("Smith")
    page.fill("#id_first_name", "Joanna")
    page.fill("#id_date_of_birth", "05171970")
    page.wait_for_timeout(500)
    page.reload()
    expect(page.locator(".draft-note")).to_contain_text("Restored what you typed")
    expect(page.locator("#id_first_name")).to_have_value("Joanna")
    page.fill("#id_phone_mobile", "217-555-2001")
    page.select_option("#id_sex", "F")
    page.select_option("#id_privacy_notice", "signed")
    page.fill("#id_privacy_notice_on", "01/05/2026")
    page.press("#id_privacy_notice_on", "Enter")

    expect(page).to_have_url(re.compile(r"/patients/\d+/$"))
    expect(page.locator(".messages")).to_contain_text("Joanna Smith is registered.")
    expect(page.locator("#allergies")).to_contain_text("Allergies not yet recorded")
    assert (
        page.evaluate("Object.keys(localStorage).filter(k => k.startsWith('rxdesk:draft:'))") == []
    )

    # Record an allergy from the keyboard: "a" opens the form, Enter saves it.
    page.keyboard.press("a")
    expect(page.locator("h1")).to_have_text("Add an allergy")
    page.keyboard.type("Penicillins")
    page.select_option("#id_allergen_kind", "class")
    page.select_option("#id_severity", "life_threatening")
    page.fill("#id_reaction", "Anaphylaxis")
    page.press("#id_reaction", "Enter")
    allergies = page.locator("#allergies")
    expect(allergies).to_contain_text("Allergies (1)")
    expect(allergies).to_contain_text("Penicillins")
    expect(allergies.locator(".badge.sev")).to_have_text("Life-threatening (e.g. anaphylaxis)")
    page.screenshot(path=SCREENSHOT)

    # Find the patient again: results arrive while typing (htmx), ↓ and Enter open them.
    page.goto(url + reverse("patient_list"))
    search = page.locator("[data-search]")
    expect(search).to_be_focused()
    page.locator("h1").click()  # away from the box: "/" brings the focus back
    page.keyboard.press("/")
    expect(search).to_be_focused()
    page.keyboard.type("smith, jo", delay=40)
    result = page.locator("#results [data-result]")
    expect(result).to_have_count(1)
    expect(result).to_contain_text("Smith")
    expect(page).to_have_url(re.compile(r"\?q=smith%2C(\+|%20)jo"))
    page.keyboard.press("ArrowDown")
    expect(result).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("h1")).to_contain_text("Smith, Joanna")

    # Sign out.
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/signin/"))
    expect(page.locator(".messages")).to_contain_text("You are signed out.")

    assert page.script_errors == []
    patient = Patient.objects.get()
    assert (patient.last_name, patient.first_name, patient.phone_mobile) == (
        "Smith",
        "Joanna",
        "2175552001",
    )
    assert list(patient.allergies.values_list("allergen", "severity")) == [
        ("Penicillins", "life_threatening")
    ]
    actions = list(
        AuditEvent.objects.filter(patient_id=patient.pk)
        .order_by("seq")
        .values_list("action", flat=True)
    )
    assert actions == [
        "patient.created",
        "patient.record.viewed",
        "patient.allergy.added",
        "patient.record.viewed",
        "patient.record.viewed",
    ]
