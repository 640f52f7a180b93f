"""Inquiries through the API and the workstation screens."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from rxdesk.care.models import Inquiry
from rxdesk.core.models import AuditEvent
from tests.care.matrix_inquiries import inquiry
from tests.care.poct_setup import patient
from tests.conftest import last_event
from tests.rx.factories import make_rx

pytestmark = pytest.mark.django_db


def _client(user):
    client = Client()
    client.force_login(user)
    return client


def test_the_api_logs_a_call_and_refuses_another_sites_patient(site, other_site, technician):
    client = _client(technician)
    body = {
        "channel": "phone",
        "incoming": True,
        "party": "patient",
        "topic": "refill",
        "summary": "Needs a refill",
        "patient_id": patient(site).pk,
        "contact_phone": "555-201-4477",
    }
    response = client.post("/api/v1/care/inquiries", body, content_type="application/json")
    assert response.status_code == 201, response.content
    data = response.json()
    assert data["status"] == "awaiting" and data["entries"][0]["kind"] == "call_in"
    assert data["due_words"].startswith("due in")

    before = Inquiry.objects.count()
    body["patient_id"] = patient(other_site).pk
    response = client.post("/api/v1/care/inquiries", body, content_type="application/json")
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "patient_id"
    body["surprise"] = 1
    assert (
        client.post("/api/v1/care/inquiries", body, content_type="application/json").status_code
        == 422
    )
    assert Inquiry.objects.count() == before


def test_the_api_reads_one_inquiry_as_a_phi_access_and_hides_other_sites(
    site, other_site, technician
):
    row = inquiry(site)
    client = _client(technician)
    response = client.get(f"/api/v1/care/inquiries/{row.pk}")
    assert response.status_code == 200
    assert response.json()["patient_id"] == row.patient_id
    assert last_event().action == "care.inquiry.viewed"
    theirs = inquiry(other_site)
    assert client.get(f"/api/v1/care/inquiries/{theirs.pk}").status_code == 404


def test_the_api_refuses_a_technicians_close_of_a_dose_change(site, technician, pharmacist):
    rx = make_rx(technician)
    client = _client(technician)
    response = client.post(
        "/api/v1/care/inquiries",
        {
            "channel": "fax",
            "incoming": True,
            "party": "prescriber",
            "topic": "dose_change",
            "summary": "Increase to 20 mg",
            "prescription_id": rx.pk,
        },
        content_type="application/json",
    )
    pk = response.json()["id"]
    assert response.json()["needs_pharmacist_to_close"] is True
    refused = client.post(
        f"/api/v1/care/inquiries/{pk}/close", {"resolution": "ok"}, content_type="application/json"
    )
    assert refused.status_code == 403 and "new or changed order" in refused.json()["detail"]
    done = _client(pharmacist).post(
        f"/api/v1/care/inquiries/{pk}/close",
        {"resolution": "New order taken"},
        content_type="application/json",
    )
    assert done.status_code == 200 and done.json()["status"] == "closed"


def test_the_queue_shows_an_overdue_callback_in_words(site, technician):
    row = inquiry(site)
    Inquiry.objects.filter(pk=row.pk).update(
        callback_due=timezone.now() - dt.timedelta(hours=1, minutes=20, seconds=10)
    )
    response = _client(technician).get(reverse("care_inquiries"))
    assert response.status_code == 200
    text = response.content.decode()
    assert "overdue by 1 h 20 min" in text
    assert "<strong>1</strong> callbacks overdue" in text


def test_logging_a_call_from_the_queue_by_rx_number(site, technician):
    rx = make_rx(technician)
    response = _client(technician).post(
        reverse("care_inquiry_new"),
        {
            "direction": "in",
            "channel": "phone",
            "party": "prescriber",
            "topic": "clarification",
            "rx_number": rx.number,
            "summary": "Office clarifies the sig",
            "then": "queue",
        },
    )
    assert response.status_code == 302 and response["Location"] == reverse("care_inquiries")
    row = Inquiry.objects.get()
    assert (row.prescription, row.patient_id, row.prescriber_id) == (
        rx,
        rx.patient_id,
        rx.prescriber_id,
    )


def test_an_unknown_rx_number_is_shown_beside_its_field(site, technician):
    response = _client(technician).post(
        reverse("care_inquiry_new"),
        {
            "direction": "in",
            "channel": "phone",
            "party": "prescriber",
            "topic": "other",
            "rx_number": "999999",
            "summary": "x",
        },
    )
    assert response.status_code == 422
    assert "No prescription with that number" in response.content.decode()
    assert not Inquiry.objects.exists()


def test_the_detail_page_escalates_and_the_pharmacist_answers(site, technician, pharmacist):
    row = inquiry(site)
    client = _client(technician)
    page = client.get(reverse("care_inquiry", args=[row.pk]))
    assert page.status_code == 200 and "Can I take it with food?" in page.content.decode()
    assert last_event().action == "care.inquiry.viewed"
    response = client.post(
        reverse("care_inquiry_escalate", args=[row.pk]),
        {"esc-pharmacist": str(pharmacist.pk), "esc-reason": "Dose question"},
    )
    assert response.status_code == 302
    row.refresh_from_db()
    assert row.escalated_to == pharmacist
    before = AuditEvent.objects.count()
    assert (
        client.post(reverse("care_inquiry_answer", args=[row.pk]), {"ans-text": "x"}).status_code
        == 403
    )
    assert AuditEvent.objects.count() == before
    response = _client(pharmacist).post(
        reverse("care_inquiry_answer", args=[row.pk]), {"ans-text": "One daily"}
    )
    assert response.status_code == 302
    assert row.entries.last().kind == "answered"
