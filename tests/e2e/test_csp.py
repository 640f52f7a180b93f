"""The Content-Security-Policy in a real browser: the main pages load in headless Chromium
without one violation (Chromium reports each refused inline script or style, and each
resource from elsewhere, as a console error)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.urls import reverse

from tests.factories import PASSWORD

pytestmark = pytest.mark.e2e

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]

PAGES = [
    "home",
    "patient_list",
    "patient_create",
    "rx_intake",
    "rx_queue",
    "fill_queue",
    "catalog_search",
    "inventory_stock",
    "account",
]


@pytest.fixture
def http_site(settings, live_server):
    settings.SECURE_SSL_REDIRECT = False
    settings.SESSION_COOKIE_SECURE = False
    settings.CSRF_COOKIE_SECURE = False
    return live_server


@pytest.fixture
def browser_page() -> Iterator[Any]:
    playwright = pytest.importorskip("playwright.sync_api")
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context()
        tab = context.new_page()
        tab.set_default_timeout(10_000)
        tab.console_errors = []
        tab.script_errors = []
        tab.on(
            "console",
            lambda msg: tab.console_errors.append(msg.text) if msg.type == "error" else None,
        )
        tab.on("pageerror", lambda exc: tab.script_errors.append(str(exc)))
        yield tab
        context.close()
        browser.close()


def violations(page: Any) -> list[str]:
    return [e for e in page.console_errors if "Content Security Policy" in e]


def test_the_main_pages_load_without_a_policy_violation(http_site, pharmacist, browser_page):
    from playwright.sync_api import expect

    page = browser_page
    page.goto(http_site.url + reverse("login"))
    page.fill("#id_username", pharmacist.username)
    page.fill("#id_password", PASSWORD)
    page.press("#id_password", "Enter")
    expect(page.locator(".who")).to_be_visible()

    seen = {}
    for name in PAGES:
        page.goto(http_site.url + reverse(name))
        page.wait_for_load_state("networkidle")
        seen[name] = page.title()
    # htmx ran (its inline indicator <style> is switched off, the rules are in rxdesk.css).
    assert page.evaluate("typeof window.htmx") == "object"
    assert page.evaluate("document.querySelectorAll('head style').length") == 0
    assert violations(page) == [], seen
    assert page.script_errors == []


def test_a_violation_would_be_seen(http_site, pharmacist, browser_page):
    """The check above can fail: an inline script on one of our pages is refused and shows."""
    page = browser_page
    page.goto(http_site.url + reverse("login"))
    page.evaluate(
        "() => { const s = document.createElement('div');"
        " s.innerHTML = '<img src=x onerror=\"window.ran=1\">';"
        " document.body.appendChild(s); }"
    )
    page.wait_for_timeout(300)
    assert page.evaluate("window.ran") is None
    assert violations(page)


@pytest.mark.slow
def test_the_api_docs_page_loads_swagger_from_this_server(http_site, pharmacist, browser_page):
    from playwright.sync_api import expect

    page = browser_page
    outside: list[str] = []
    page.on(
        "request",
        lambda req: None if req.url.startswith(http_site.url) else outside.append(req.url),
    )
    page.goto(http_site.url + reverse("login"))
    page.fill("#id_username", pharmacist.username)
    page.fill("#id_password", PASSWORD)
    page.press("#id_password", "Enter")
    expect(page.locator(".who")).to_be_visible()
    page.goto(http_site.url + "/api/v1/docs")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text(
        "rxdesk API",
        timeout=90_000,  # the schema is built per request: slow on 2 cores
    )
    assert page.script_errors == []
    assert [u for u in outside if not u.startswith("data:")] == []
    assert violations(page) == []
