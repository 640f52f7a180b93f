"""The 340B screens: the home page with packages due, "Capture now", the set-up lists,
the order form, the decisions of a day and the audit report (screen and CSV)."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse

from rxdesk.program340b import services
from rxdesk.program340b.models import (
    Accumulator,
    CoveredEntity,
    EligiblePrescriber,
    ReplenishmentOrder,
)
from tests.program340b.factories import NPI, eligible_site, package, sold_fill

pytestmark = pytest.mark.django_db


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_the_home_page_shows_packages_due_and_capture_now_accumulates(site, technician):
    _ce, patient = eligible_site(site)
    pack = package(size="33", unit="ML")
    for _ in range(11):
        sold_fill(site, pack, "3.3", patient=patient)
    client = _client(technician)

    response = client.post(reverse("p340b_capture"), follow=True)

    assert response.status_code == 200
    page = response.content.decode()
    assert "11 dispense(s) decided, 11 eligible for 340B, 0 return(s) to stock reversed." in page
    assert "Riverside Regional Medical Center" in page
    assert Accumulator.objects.get().units == Decimal("36.3")
    assert "36.3 ML" in page and "<strong>1</strong>" in page
    assert 'data-key="c"' in page


def test_capture_now_without_an_entity_says_so(site, technician):
    response = _client(technician).post(reverse("p340b_capture"), follow=True)
    assert "not set up yet" in response.content.decode()


def test_the_pic_sets_up_the_entity_and_lists_a_prescriber_on_screen(site, pic):
    client = _client(pic)
    response = client.post(
        reverse("p340b_entity"),
        {
            "opais_id": "CAH051234",
            "name": "Valley Critical Access",
            "active": "on",
            "starts_on": "01/01/2026",
            "lookback_months": "12",
        },
    )
    assert response.status_code == 302
    assert CoveredEntity.objects.get().entity_type == "CAH"
    bad = client.post(
        reverse("p340b_prescribers"), {"npi": "1234567890", "effective_from": "01/01/2026"}
    )
    assert bad.status_code == 422
    assert "NPI" in bad.content.decode() and not EligiblePrescriber.objects.exists()
    good = client.post(
        reverse("p340b_prescribers"), {"npi": NPI, "effective_from": "01/01/2026"}, follow=True
    )
    assert NPI in good.content.decode() and EligiblePrescriber.objects.count() == 1


def test_a_viewer_sees_the_entity_read_only(site, auditor):
    eligible_site(site)
    page = _client(auditor).get(reverse("p340b_entity")).content.decode()
    assert "Only the pharmacist-in-charge" in page and "DSH140001" in page


def test_the_order_form_refuses_more_than_accumulated_and_records_an_order(site, inventory):
    _ce, patient = eligible_site(site)
    pack = package(size="30")
    sold_fill(site, pack, "45", patient=patient)
    services.p340b_capture(actor=inventory)
    client = _client(inventory)
    refused = client.post(
        reverse("p340b_order"), {"ndc": pack.ndc11, "packages": "2", "po_number": "PO-55"}
    )
    assert refused.status_code == 409
    assert "Only 1 package(s)" in refused.content.decode()
    done = client.post(
        reverse("p340b_order"), {"ndc": pack.ndc11, "packages": "1", "po_number": "PO-55"}
    )
    assert done.status_code == 302
    assert ReplenishmentOrder.objects.get().units == Decimal("30")


def test_the_audit_report_ties_the_order_to_its_dispenses_in_csv(site, technician, auditor):
    _ce, patient = eligible_site(site)
    pack = package(size="30")
    day = site.today() - dt.timedelta(days=2)
    first = sold_fill(site, pack, "20", patient=patient, on=day)
    second = sold_fill(site, pack, "20", patient=patient, on=day)
    services.p340b_capture(actor=technician)
    services.p340b_order_create(actor=technician, ndc=pack.ndc11, packages=1, po_number="PO-8")

    response = _client(auditor).get(reverse("p340b_report"), {"format": "csv"})

    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0][0] == "PO number"
    assert [(r[0], r[5], r[9], r[10]) for r in rows[1:]] == [
        ("PO-8", str(first.prescription.number), "20", "20"),
        ("PO-8", str(second.prescription.number), "20", "10"),
    ]
    page = _client(auditor).get(reverse("p340b_report")).content.decode()
    assert "PO-8" in page and patient.first_name not in page


def test_the_decisions_of_a_day_show_each_reason(site, technician):
    _ce, patient = eligible_site(site)
    pack = package()
    day = site.today() - dt.timedelta(days=1)
    sold_fill(site, pack, "30", patient=patient, on=day)
    services.p340b_capture(actor=technician)
    page = (
        _client(technician)
        .get(reverse("p340b_decisions"), {"day": day.strftime("%m/%d/%Y")})
        .content.decode()
    )
    assert f"Prescriber NPI {NPI} on the eligible list" in page
    assert "Patient on the covered entity&#x27;s patient list" in page
