"""Browser security headers on every kind of response, and no template that would need the
Content-Security-Policy relaxed (inline script, event handlers, style attributes,
javascript: URLs, htmx inline handlers or trigger filters, which htmx runs through eval)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.urls import reverse

import rxdesk
from rxdesk.core.security import CSP_DIRECTIVES

STRICT_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)


def assert_security_headers(response, csp: str = STRICT_CSP) -> None:
    assert response["Content-Security-Policy"] == csp
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"
    policy = response["Permissions-Policy"]
    for feature in ("camera", "microphone", "geolocation"):
        assert f"{feature}=()" in policy


def test_the_policy_in_code_is_the_strict_one():
    assert "; ".join(f"{k} {v}" for k, v in CSP_DIRECTIVES.items()) == STRICT_CSP


@pytest.mark.django_db
def test_a_ui_page_has_every_header(client):
    response = client.get(reverse("login"))
    assert response.status_code == 200
    assert_security_headers(response)


def test_an_api_response_has_every_header(client, technician):
    client.force_login(technician)
    response = client.get("/api/v1/patients", {"q": "smith"})
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("application/json")
    assert_security_headers(response)


@pytest.mark.django_db
def test_an_api_refusal_has_every_header(client):
    response = client.get("/api/v1/patients")
    assert response.status_code == 401
    assert_security_headers(response)


@pytest.mark.django_db
def test_a_fhir_response_has_every_header(client):
    response = client.get("/fhir/metadata")
    assert response.status_code == 200
    assert "fhir+json" in response["Content-Type"]
    assert_security_headers(response)


@pytest.mark.django_db
def test_a_page_not_found_has_every_header(client):
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert_security_headers(response)


@pytest.mark.django_db
def test_a_static_file_has_every_header(client):
    response = client.get("/static/rxdesk/rxdesk.css")
    assert response.status_code == 200
    assert "text/css" in response["Content-Type"]
    assert_security_headers(response)


def test_only_the_swagger_page_may_use_inline_styles_and_it_loads_nothing_from_outside(
    client, technician
):
    client.force_login(technician)
    response = client.get("/api/v1/docs")
    assert response.status_code == 200
    csp = response["Content-Security-Policy"]
    assert "style-src 'self' 'unsafe-inline'" in csp
    assert "script-src 'self';" in csp
    html = response.content.decode()
    assert "/static/ninja/swagger-ui-bundle.js" in html
    assert "http://" not in html and "https://" not in html  # no CDN


# --- Templates ------------------------------------------------------------------------------

PACKAGE = Path(rxdesk.__file__).resolve().parent
TAG = re.compile(r"<[a-zA-Z][^<>]*>", re.S)
FORBIDDEN_IN_TAG = {
    "an inline event handler (on…=)": re.compile(r"\son[a-z]+\s*=", re.I),
    "a style attribute": re.compile(r"\sstyle\s*=", re.I),
    "an htmx inline handler (hx-on)": re.compile(r"\s(data-)?hx-on", re.I),
    "an htmx trigger filter ([…], run through eval)": re.compile(
        r"\s(data-)?hx-trigger\s*=\s*[\"'][^\"']*\[", re.I
    ),
    "an htmx js: value": re.compile(r"\s(data-)?hx-(vals|vars)\s*=\s*[\"']\s*js:", re.I),
}
FORBIDDEN_ANYWHERE = {
    "a javascript: URL": re.compile(r"javascript:", re.I),
    "an inline <style> element": re.compile(r"<style[\s>]", re.I),
}
SCRIPT = re.compile(r"<script\b([^>]*)>", re.I)


def csp_problems(text: str) -> list[str]:
    problems = []
    for match in SCRIPT.finditer(text):
        if not re.search(r"\ssrc\s*=", match.group(1)):
            problems.append("an inline <script> (use a static .js file)")
    for tag in TAG.findall(text):
        problems += [what for what, rule in FORBIDDEN_IN_TAG.items() if rule.search(tag)]
    problems += [what for what, rule in FORBIDDEN_ANYWHERE.items() if rule.search(text)]
    return problems


def template_files() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("templates/**/*") if p.is_file())


def test_the_template_walk_finds_the_templates():
    names = {p.name for p in template_files()}
    assert {"base.html", "sales_receipt.html", "intake.html"} <= names


@pytest.mark.parametrize(
    "bad",
    [
        "<script>alert(1)</script>",
        '<select name="s" onchange="this.form.submit()">',
        '<pre class="x" style="width:4ch">',
        '<form hx-on::after-request="this.reset()">',
        "<input hx-trigger=\"keyup[key=='Enter']\">",
        '<a href="javascript:void(0)">',
        "<style>.x{}</style>",
    ],
)
def test_the_template_check_catches_each_kind_of_inline_code(bad):
    assert csp_problems(bad)


def test_the_template_check_lets_normal_markup_through():
    ok = (
        '<script src="/static/a.js" defer></script><button data-print class="primary">'
        '<input hx-trigger="input changed delay:300ms, rxdesk:enter" data-enter-lookup>'
        "<p>Stock is kept on the shelves; styles and options.</p>"
    )
    assert csp_problems(ok) == []


def test_no_template_needs_the_content_security_policy_relaxed():
    found = {
        str(path.relative_to(PACKAGE)): problems
        for path in template_files()
        if (problems := csp_problems(path.read_text(encoding="utf-8")))
    }
    assert found == {}, "Move these into rxdesk.js / rxdesk.css: " + repr(found)


def test_a_pdf_keeps_only_the_framing_rule(rf):
    """The browser's PDF viewer is blocked by object-src 'none': a label, report or receipt
    PDF gets only the framing rule (same-origin when its view allows the preview iframe)."""
    from django.http import HttpResponse

    from rxdesk.core.security import SecurityHeadersMiddleware

    def pdf_view(request):
        return HttpResponse(b"%PDF-1.4", content_type="application/pdf")

    def framed_pdf_view(request):
        response = pdf_view(request)
        response["X-Frame-Options"] = "SAMEORIGIN"
        return response

    plain = SecurityHeadersMiddleware(pdf_view)(rf.get("/labels/1.pdf"))
    assert plain["Content-Security-Policy"] == "frame-ancestors 'none'"
    assert plain["X-Frame-Options"] == "DENY"
    framed = SecurityHeadersMiddleware(framed_pdf_view)(rf.get("/labels/1.pdf"))
    assert framed["Content-Security-Policy"] == "frame-ancestors 'self'"
    page = SecurityHeadersMiddleware(lambda r: HttpResponse("<p>hi</p>"))(rf.get("/"))
    assert page["Content-Security-Policy"] == STRICT_CSP
