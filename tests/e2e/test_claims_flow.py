"""Billing a claim in a real browser, against a real test payer (``rxdesk test-payer`` as its
own process, billed over TCP): the plan wants a prior authorization for the drug (reject 75)
and accepts PA number PA1234567.

A technician bills the waiting fill from the prescription page with the ``i`` key and reads
the rejection in words; works it from the reject queue (what 75 means and what to do), moves
the PA case to submitted and then approved with its number and dates, resubmits from the
case with the ``s`` key, and sees the claim paid and what the patient pays. The pharmacist
then sees the Insurance panel with the patient pay at data verification and approves: the
fill goes on. At the end: one claim, paid with the PA number; the PA case approved."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest
from django.urls import reverse

from rxdesk.claims.choices import ClaimStatus, PriorAuthStatus
from rxdesk.claims.models import Claim, PriorAuth
from rxdesk.rx.choices import FillStatus
from tests.claims.billing_helpers import card, payer_for, plan_for, plan_rules, priced_rx
from tests.claims.conftest import test_payer  # noqa: F401  (the payer process fixture)
from tests.e2e.test_browser import http_site, page  # noqa: F401  (shared fixtures)
from tests.e2e.test_fill_browser import sign_in, sign_out

pytestmark = pytest.mark.e2e
SCREENSHOTS = "/tmp/ui-claims-{}.png"
PA_NUMBER = "PA1234567"
PA_MEANING = "Prior authorization required"
PA_ADVICE = "Start a prior authorization"


def test_a_prior_authorization_reject_is_worked_to_a_paid_claim_and_verified(
    http_site,  # noqa: F811
    site,
    technician,
    pharmacist,
    test_payer,  # noqa: F811
    page,  # noqa: F811
):
    from playwright.sync_api import expect

    rx, fill = priced_rx(technician)
    ndc = rx.package.ndc11
    process = test_payer(
        {"plans": [plan_rules(prior_auth=[ndc], pa_numbers=[PA_NUMBER], refill_too_soon_percent=0)]}
    )
    plan = plan_for(payer_for(process, timeout=5))
    card(rx.patient)
    name = f"Rx {rx.number}-{fill.number}"
    today = site.today()
    until = today + dt.timedelta(days=180)
    url = http_site.url
    rx_page = reverse("rx_detail", kwargs={"pk": rx.pk})

    # 1. The technician opens the prescription: its waiting fill has an Insurance panel with
    # "Bill insurance" on the i key. Pressing it bills the plan over the socket; the page
    # comes back with the rejection in words.
    sign_in(page, url, technician)
    page.goto(url + rx_page)
    panel = page.locator("#claims")
    expect(panel.locator("h2")).to_have_text("Insurance")
    bill = panel.locator("button[data-key=i]")
    expect(bill).to_contain_text("Bill insurance")
    page.keyboard.press("i")
    expect(page).to_have_url(re.compile(re.escape(rx_page) + "$"))
    expect(page.locator(".messages")).to_contain_text(f"Rejected: 75 {PA_MEANING}")
    row = panel.locator("tr.claim-rejected")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("Rejected")
    expect(row).to_contain_text(f"75 {PA_MEANING}")
    expect(row).to_contain_text(PA_ADVICE)
    process.wait_for(f"B1 Rx {rx.number}-{fill.number} rejected")
    page.screenshot(path=SCREENSHOTS.format("rejected"), full_page=True)

    # 2. The reject queue (the "Rejects" link of the menu): the claim with what 75 means and
    # what to do. Billing already opened the PA case: the claim links to it.
    page.get_by_role("link", name="Rejects").click()
    expect(page).to_have_url(re.compile(re.escape(reverse("claims_rejects")) + "$"))
    expect(page.locator("#reject-count")).to_have_text("1")
    claim = Claim.objects.get(fill=fill)
    article = page.locator(f"#claim-{claim.pk}")
    expect(article.locator("h2")).to_contain_text(name)
    expect(article.locator("h2")).to_contain_text(rx.patient.last_name)
    expect(article).to_contain_text(plan.name)
    code = article.locator("ul.rejects li")
    expect(code).to_have_count(1)
    expect(code.locator(".badge")).to_have_text("75")
    expect(code).to_contain_text(PA_MEANING)
    expect(code).to_contain_text(PA_ADVICE)
    page.screenshot(path=SCREENSHOTS.format("queue"), full_page=True)
    article.locator(f"a[href='#claim-{claim.pk}']").click()  # opens the claim
    expect(page).to_have_url(re.compile(f"#claim-{claim.pk}$"))
    case_link = article.get_by_role("link", name=re.compile(r"^PA case: needed"))
    expect(case_link).to_be_visible()
    case_link.click()

    # 3. The PA case: sent to the plan (submitted), then approved with the number and dates
    # from the plan's fax.
    pa = PriorAuth.objects.get(prescription=rx, plan=plan)
    case_page = reverse("claims_pa_detail", kwargs={"pk": pa.pk})
    expect(page).to_have_url(re.compile(re.escape(case_page) + "$"))
    expect(page.locator("h1")).to_contain_text(f"Prior authorization · Rx {rx.number}")
    expect(page.locator("h1 .badge").first).to_have_text(PriorAuthStatus.NEEDED.label)
    expect(page.locator("#id_status")).to_be_focused()
    page.select_option("#id_status", PriorAuthStatus.SUBMITTED)
    page.fill("#id_note", "Faxed the plan's form to the prescriber's office.")
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".messages")).to_contain_text("The PA case is saved.")
    expect(page.locator("h1 .badge").first).to_have_text("Submitted to the plan")

    page.select_option("#id_status", PriorAuthStatus.APPROVED)
    page.fill("#id_number", PA_NUMBER)
    page.fill("#id_approved_from", today.strftime("%m/%d/%Y"))
    page.fill("#id_approved_to", until.strftime("%m/%d/%Y"))
    page.press("#id_approved_to", "Enter")
    expect(page.locator(".messages")).to_contain_text("The PA case is saved.")
    expect(page.locator("h1 .badge").first).to_have_text(PriorAuthStatus.APPROVED.label)
    expect(page.locator("dl.facts")).to_contain_text(
        f"PA {PA_NUMBER} · {today:%m/%d/%Y} to {until:%m/%d/%Y}"
    )
    history = page.locator("section[aria-labelledby=history-title] tbody tr")
    expect(history.filter(has_text="Submitted to the plan → Approved")).to_have_count(1)
    resubmit = page.locator("button[data-key=s]")
    expect(resubmit).to_contain_text(f"Resubmit {name} with PA {PA_NUMBER}")
    page.screenshot(path=SCREENSHOTS.format("pa"), full_page=True)

    # 4. Resubmit from the keyboard: nothing is left to change on an approved case, so no
    # field holds the focus and the page's key works at once. Paid, and the patient pay said.
    page.keyboard.press("s")
    expect(page).to_have_url(re.compile(re.escape(reverse("claims_rejects")) + "$"))
    expect(page.locator(".messages")).to_contain_text("Paid: the patient pays $5.00")
    expect(page.locator("#reject-count")).to_have_text("0")
    expect(page.locator("[data-queue]")).to_contain_text("No rejected claim is waiting.")
    process.wait_for(f"B1 Rx {rx.number}-{fill.number} paid")

    # The prescription page says it too: paid, the patient pays $5.00.
    page.goto(url + rx_page)
    expect(panel.locator("h2")).to_contain_text("patient pays $5.00")
    paid = panel.locator("tr.claim-paid")
    expect(paid).to_have_count(1)
    expect(paid).to_contain_text("Paid")
    expect(paid.locator("td.num").first).to_have_text("$5.00")
    expect(panel.locator("tr.claim-rejected")).to_have_count(0)
    page.screenshot(path=SCREENSHOTS.format("paid"), full_page=True)
    sign_out(page)

    # 5. The pharmacist at data verification: the Insurance panel with the patient pay;
    # Approve has the focus, Enter approves, the fill goes on.
    sign_in(page, url, pharmacist)
    page.goto(url + reverse("fill_data_verify", kwargs={"pk": fill.pk}))
    expect(page.locator("h1")).to_contain_text(f"Data verification · {name}")
    expect(page.locator("#claims h2")).to_contain_text("patient pays $5.00")
    expect(page.locator("#claims tr.claim-paid")).to_contain_text(plan.name)
    expect(page.locator("#approve")).to_be_focused()
    page.screenshot(path=SCREENSHOTS.format("verify"), full_page=True)
    page.keyboard.press("Enter")
    expect(page.locator(".messages")).to_contain_text(f"{name} approved; it goes to be filled.")
    assert page.script_errors == []

    # The database: one claim, paid with the PA number; the case approved; the fill goes on.
    (only,) = Claim.objects.filter(fill=fill)
    assert (only.status, only.prior_auth_number, only.patient_pay, only.reject_codes) == (
        ClaimStatus.PAID,
        PA_NUMBER,
        Decimal("5.00"),
        [],
    )
    assert only.authorization_number
    pa.refresh_from_db()
    assert (pa.status, pa.number, pa.approved_from, pa.approved_to) == (
        PriorAuthStatus.APPROVED,
        PA_NUMBER,
        today,
        until,
    )
    assert PriorAuth.objects.count() == 1
    fill.refresh_from_db()
    assert fill.status == FillStatus.TO_FILL
    assert fill.data_verified_by == pharmacist
