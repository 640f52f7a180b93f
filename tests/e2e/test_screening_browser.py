"""Clinical screening at data verification, in a real browser: a patient who takes
sertraline is prescribed phenelzine (ONC high-priority: a serotonergic antidepressant with
an MAO inhibitor, contraindicated, interrupts). A technician may neither open data
verification nor resolve the alert. The pharmacist sees it ranked first with its message
and source, is refused Approve with the alert named, resolves it from the keyboard
(professional service M0 — zero —, result 1G, a note), and approves: the fill goes to be
filled and the resolution is kept with the codes and the pharmacist's name."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from rxdesk.rx.choices import FillStatus
from rxdesk.screening import services
from rxdesk.screening.models import FillAlert
from tests.e2e.test_browser import http_site, page  # noqa: F401  (shared fixtures)
from tests.e2e.test_fill_browser import sign_in, sign_out
from tests.factories import PatientFactory
from tests.screening.helpers import on_profile, package, prescribe, queued_fill, seed_kb

pytestmark = pytest.mark.e2e
SCREENSHOTS = "/tmp/ui-screening-{}.png"
MESSAGE = "Serotonergic antidepressant with an MAO inhibitor: do not combine."


def test_a_pharmacist_resolves_an_interrupting_interaction_before_approving(
    http_site,  # noqa: F811
    site,
    technician,
    pharmacist,
    page,  # noqa: F811
):
    from playwright.sync_api import expect

    # The live server's tests empty the database between them: the ONC lists come back.
    seed_kb()
    patient = PatientFactory(site=site, last_name="Rivera", first_name="Ana")
    on_profile(technician, patient, package("Zoloft", "SERTRALINE HYDROCHLORIDE", "50"))
    nardil = package("Nardil", "PHENELZINE SULFATE", "15")
    fill = queued_fill(prescribe(technician, patient, nardil))
    # Typing screens the fill (as the technician's intake does): the alert is kept.
    rows = [row for _, row in services.fill_screen(actor=technician, fill=fill).alerts]
    dd = rows[0]  # ranked first: the only interrupting one
    assert (dd.type, dd.severity, dd.interrupting) == ("DD", "contraindicated", True)
    assert [row.pk for row in rows if row.interrupting] == [dd.pk]
    name = f"Rx {fill.prescription.number}-{fill.number}"
    here = reverse("fill_data_verify", kwargs={"pk": fill.pk})
    url = http_site.url

    # 1. A technician: data verification and resolving are a pharmacist's; nothing changes.
    sign_in(page, url, technician)
    for target in (here, reverse("screening_alert_resolve", kwargs={"pk": dd.pk})):
        response = page.goto(url + target)
        assert response is not None and response.status == 403
        expect(page.locator("h1")).to_have_text("Not allowed for your role")
        expect(page.locator("form.resolve-form, #approve")).to_have_count(0)
    page.screenshot(path=SCREENSHOTS.format("technician"))
    sign_out(page)

    # 2. The pharmacist opens the fill: the alert comes first, before the decision, with
    # its message and its source; its resolve form has the focus.
    sign_in(page, url, pharmacist)
    page.goto(url + here)
    expect(page.locator("h1")).to_contain_text(f"Data verification · {name}")
    screening = page.locator("#screening")
    expect(screening.locator("h2")).to_contain_text("1 to resolve")
    first = screening.locator("article.screening-alert").first
    expect(first).to_have_attribute("id", f"alert-{dd.pk}")
    expect(first.locator("h3")).to_contain_text("CONTRAINDICATED")
    expect(first.locator("h3")).to_contain_text("sertraline")
    expect(first.locator("h3")).to_contain_text("phenelzine")
    expect(first).to_contain_text(MESSAGE)
    expect(first).to_contain_text("Source: ONC High-Priority DDI list (Phansalkar 2012)")
    expect(page.locator("#screening ~ #decision #approve")).to_have_count(1)
    service = page.locator(f"#id_a{dd.pk}-professional_service")
    expect(service).to_be_focused()
    page.screenshot(path=SCREENSHOTS.format("alert"), full_page=True)

    # 3. Approve anyway: refused, the alert named, nothing moved.
    page.locator("#approve").click()
    errors = page.locator("#decision .form-errors")
    expect(errors).to_contain_text("DD contraindicated")
    expect(errors).to_contain_text(MESSAGE)
    expect(errors).to_contain_text("a pharmacist must resolve it")
    assert FillAlert.objects.get(pk=dd.pk).resolved_at is None
    fill.refresh_from_db()
    assert fill.status == FillStatus.QUEUED
    page.screenshot(path=SCREENSHOTS.format("refused"), full_page=True)

    # 4. Resolve from the keyboard (the form has the focus again): the codes typed into
    # their lists (M0 ends in a zero), the note, Tab to Resolve, Enter.
    expect(service).to_be_focused()
    page.keyboard.type("M0", delay=30)
    expect(service).to_have_value("M0")
    page.keyboard.press("Tab")
    result = page.locator(f"#id_a{dd.pk}-result_of_service")
    expect(result).to_be_focused()
    page.keyboard.type("1G", delay=30)
    expect(result).to_have_value("1G")
    page.keyboard.press("Tab")
    expect(page.locator(f"#id_a{dd.pk}-note")).to_be_focused()
    page.keyboard.type("Dr. Okafor stopped sertraline 3 weeks ago; washout done.", delay=5)
    page.keyboard.press("Tab")
    expect(first.get_by_role("button", name="Resolve")).to_be_focused()
    page.screenshot(path=SCREENSHOTS.format("resolving"), full_page=True)
    page.keyboard.press("Enter")

    # Back on the fill: resolved, kept with the codes; Approve has the focus again.
    expect(page).to_have_url(re.compile(re.escape(here) + "$"))
    expect(page.locator(".messages")).to_contain_text("DD alert resolved (M0/1G).")
    first = page.locator(f"#alert-{dd.pk}")
    expect(first.locator(".resolution")).to_contain_text("M0/1G")
    expect(first.locator(".resolution")).to_contain_text(pharmacist.display_name)
    expect(page.locator("#screening h2")).not_to_contain_text("to resolve")
    expect(page.locator("#approve")).to_be_focused()
    page.screenshot(path=SCREENSHOTS.format("resolved"), full_page=True)

    # 5. Approve: the fill goes to be filled.
    page.keyboard.press("Enter")
    expect(page.locator(".messages")).to_contain_text(f"{name} approved; it goes to be filled.")
    assert page.script_errors == []

    fill.refresh_from_db()
    assert fill.status == FillStatus.TO_FILL
    assert fill.data_verified_by == pharmacist
    row = FillAlert.objects.get(pk=dd.pk)
    assert (row.resolved_by, row.professional_service, row.result_of_service, row.note) == (
        pharmacist,
        "M0",
        "1G",
        "Dr. Okafor stopped sertraline 3 weeks ago; washout done.",
    )
    assert row.resolved_at is not None
