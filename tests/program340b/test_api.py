"""The 340B API through the HTTP client: set-up, capture, inventory figures, orders and
the report; bad input is a 4xx problem naming the field."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client

from rxdesk.program340b.models import EligiblePrescriber, ReplenishmentOrder
from tests.program340b.factories import NPI, eligible_site, package, sold_fill

pytestmark = pytest.mark.django_db
P = "/api/v1/340b"


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_capture_inventory_order_and_report(site, technician):
    _ce, patient = eligible_site(site)
    pack = package(size="33", unit="ML")
    for _ in range(10):
        sold_fill(site, pack, "3.3", patient=patient)
    sold_fill(site, pack, "5", patient=patient)
    api = _client(technician)

    captured = api.post(f"{P}/capture", {}, content_type="application/json").json()
    assert captured["decided"] == 11 and captured["units_by_ndc"] == {pack.ndc11: "38.000"}

    (line,) = api.get(f"{P}/inventory").json()
    assert (line["units"], line["packages_due"], line["remainder"]) == ("38.000", 1, "5.000")

    too_many = api.post(
        f"{P}/orders",
        {"ndc": pack.ndc11, "packages": 2, "po_number": "PO-1"},
        content_type="application/json",
    )
    assert too_many.status_code == 409
    assert too_many["Content-Type"] == "application/problem+json"
    made = api.post(
        f"{P}/orders",
        {"ndc": pack.ndc11, "packages": 1, "po_number": "PO-1"},
        content_type="application/json",
    )
    assert made.status_code == 201 and made.json()["units"] == "33.000"
    assert ReplenishmentOrder.objects.count() == 1
    report = api.get(f"{P}/report").json()
    assert len(report) == 10 and {r["allocated_units"] for r in report} == {"3.300"}
    decisions = api.get(f"{P}/decisions", {"day": str(site.today() - dt.timedelta(days=1))}).json()
    assert len(decisions) == 11 and all(d["eligible"] for d in decisions)


def test_a_bad_npi_is_a_422_naming_the_field(site, pic):
    eligible_site(site)
    response = _client(pic).post(
        f"{P}/prescribers",
        {"npi": "1234567890", "effective_from": "2026-01-01"},
        content_type="application/json",
    )
    assert response.status_code == 422
    assert "npi" in response.content.decode()
    assert EligiblePrescriber.objects.filter(npi=NPI).count() == 1


def test_another_pharmacys_order_is_a_404(site, technician, outsider):
    response = _client(outsider).get(f"{P}/orders/1")
    assert response.status_code == 404
