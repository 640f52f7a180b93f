"""The safety and quality screens: report an error from the keyboard, the list, the event
page with its analysis, the MedWatch page and PDF, the trends, my action items."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from rxdesk.care.models import MedicationError
from rxdesk.core.choices import Role
from rxdesk.core.models import AuditEvent
from tests.care import quality_setup as qs
from tests.care.factories import staff
from tests.rx.factories import make_rx

pytestmark = pytest.mark.django_db


def _client(user):
    c = Client()
    c.force_login(user)
    return c


def test_a_trainee_reports_an_error_by_rx_number(site):
    trainee = staff(site, Role.TECHNICIAN_IN_TRAINING)
    rx = make_rx(qs.reporter(site))
    c = _client(trainee)
    page = c.get(reverse("care_error_new"))
    assert page.status_code == 200 and b'data-key="v"' in page.content
    today = site.today().strftime("%m/%d/%Y")
    res = c.post(
        reverse("care_error_new"),
        {
            "category": "C",
            "step": "fill",
            "error_type": "wrong_quantity",
            "rx_number": rx.number,
            "occurred_on": today,
            "occurred_time": "00:01",
            "discovered_on": today,
            "discovered_time": "00:02",
            "description": "Counted 28 instead of 30.",
        },
    )
    assert res.status_code == 302
    error = MedicationError.objects.get()
    assert error.prescription_id == rx.pk and error.patient_id == rx.patient_id
    assert res["Location"] == reverse("care_event", args=[error.safety_event_id])


def test_a_bad_error_form_shows_the_fields_and_writes_nothing(site):
    c = _client(qs.reporter(site))
    today = site.today().strftime("%m/%d/%Y")
    res = c.post(
        reverse("care_error_new"),
        {
            "category": "F",
            "step": "pickup",
            "error_type": "wrong_patient",
            "rx_number": "999999",
            "occurred_on": today,
            "discovered_on": today,
            "discovered_time": "00:05",
            "description": "Wrong bag.",
        },
    )
    assert res.status_code == 422
    assert b"No prescription number 999999" in res.content
    assert MedicationError.objects.count() == 0


def test_the_event_page_shows_the_analysis_and_records_the_phi_access(site):
    event = qs.error(site, "D").safety_event
    rca = qs.rca_of(site, event)
    item = qs.action(rca)
    c = _client(qs.rph(site))
    res = c.get(reverse("care_event", args=[event.pk]))
    assert res.status_code == 200
    body = res.content.decode()
    assert "Lopez, Maria" in body and item.description in body and "Complete the analysis" in body
    assert AuditEvent.objects.order_by("-pk").first().action == "care.event.opened"
    listing = c.get(reverse("care_events"))
    assert listing.status_code == 200 and f"event-{event.pk}" in listing.content.decode()


def test_the_close_button_shows_why_it_cannot_close(site):
    event = qs.error(site, "E").safety_event
    res = _client(qs.rph(site)).post(reverse("care_event_close", args=[event.pk]), {"note": "x"})
    assert res.status_code == 409
    assert b"root-cause analysis" in res.content


def test_the_medwatch_page_pdf_and_submit(site):
    report = qs.ade_draft(site)
    rph = _client(qs.rph(site))
    page = rph.get(reverse("care_ade", args=[report.pk]))
    assert page.status_code == 200 and b"Mark submitted" in page.content
    pdf = rph.get(reverse("care_ade_pdf", args=[report.pk]))
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    res = rph.post(reverse("care_ade_submit", args=[report.pk]), {"fda_reference": "MW9"})
    assert res.status_code == 302
    report.refresh_from_db()
    assert report.status == "submitted"


def test_trends_page_for_the_auditor_names_no_patient(site):
    qs.error(site, "D")
    res = _client(staff(site, Role.AUDITOR)).get(reverse("care_trends"))
    assert res.status_code == 200
    assert b"Lopez" not in res.content and b"<meter" in res.content


def test_my_action_items_and_done_by_the_owner(site):
    owner = qs.reporter(site)
    item = qs.action(qs.rca_of(site), owner=owner)
    c = _client(qs.reporter(site))  # fetched again: set-up re-saved the password
    res = c.get(reverse("care_my_actions"))
    assert res.status_code == 200 and item.description.encode() in res.content
    res = c.post(reverse("care_action_complete", args=[item.pk]), {"note": "Done", "back": "mine"})
    assert res.status_code == 302 and res["Location"] == reverse("care_my_actions")
    item.refresh_from_db()
    assert item.status == "done"
