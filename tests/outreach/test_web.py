"""The outreach screen and API: tabs, filters, CSV, recording a contact inline."""

from __future__ import annotations

import json

from django.test import Client
from django.urls import reverse

from rxdesk.core.models import AuditEvent
from rxdesk.outreach.models import OutreachContact
from tests.factories import PatientFactory
from tests.outreach.setup import drug, history, prescribe

API = "/api/v1/outreach"


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _refill_due(site, pharmacist, **patient):
    p = PatientFactory(site=site, **patient)
    rx = history(prescribe(pharmacist, p, drug("Lisinopril", "LISINOPRIL")), site.today(), (25, 30))
    return p, rx


def test_the_home_shows_the_refills_tab_with_shortcuts(site, pharmacist, technician):
    p, rx = _refill_due(site, pharmacist, last_name="Rivera", first_name="Ana")
    response = _client(technician).get(reverse("outreach_home"))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Rivera, Ana" in html
    assert f"Rx {rx.number} runs out in 5 days" in html
    for key in "1234":
        assert f'data-key="{key}"' in html
    assert 'data-key="x"' in html
    assert 'hx-post="/outreach/contact/"' in html
    [event] = AuditEvent.objects.filter(action="outreach.list.opened")
    assert json.loads(event.data)["format"] == "screen" and json.loads(event.data)[
        "patient_ids"
    ] == [p.pk]


def test_each_tab_renders(site, technician):
    client = _client(technician)
    for kind in ("adherence", "vaccines", "sync"):
        response = client.get(reverse("outreach_home"), {"list": kind})
        assert response.status_code == 200, kind
        assert 'aria-current="page"' in response.content.decode()


def test_a_bad_filter_is_shown_beside_the_field(site, technician):
    response = _client(technician).get(reverse("outreach_home"), {"list": "refills", "ahead": "99"})
    assert response.status_code == 422
    assert "less than or equal to 60" in response.content.decode()


def test_the_screen_exports_csv(site, pharmacist, technician):
    _refill_due(site, pharmacist, last_name="Rivera")
    response = _client(technician).get(
        reverse("outreach_home"), {"list": "refills", "ahead": "10", "format": "csv"}
    )
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="outreach-refills-')
    lines = response.content.decode().split("\r\n")
    assert len(lines) == 3 and lines[1].startswith("Rivera,")
    [event] = AuditEvent.objects.filter(action="outreach.list.opened")
    assert (
        json.loads(event.data)["format"] == "csv"
        and json.loads(event.data)["filters"]["ahead"] == "10"
    )


def test_a_contact_is_recorded_inline(site, technician):
    p = PatientFactory(site=site)
    response = _client(technician).post(
        reverse("outreach_contact"),
        {"patient": p.pk, "kind": "refills", "outcome": "refill_queued", "note": ""},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert f'id="contact-refills-{p.pk}"' in html
    assert "Refill queued" in html
    assert OutreachContact.objects.get().outcome == "refill_queued"


def test_a_refused_contact_comes_back_with_the_message(site, technician):
    p = PatientFactory(site=site)
    response = _client(technician).post(
        reverse("outreach_contact"),
        {"patient": p.pk, "kind": "refills", "outcome": "declined"},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 422
    assert "Add a note saying why: declined." in response.content.decode()
    assert OutreachContact.objects.count() == 0


def test_a_contact_without_htmx_goes_back_to_the_list(site, technician):
    p = PatientFactory(site=site)
    response = _client(technician).post(
        reverse("outreach_contact"), {"patient": p.pk, "kind": "sync", "outcome": "reached"}
    )
    assert response.status_code == 302
    assert response["Location"] == "/outreach/?list=sync"


# --- API ----------------------------------------------------------------------------------------


def test_the_api_lists_rows_with_figures(site, pharmacist, technician):
    p, rx = _refill_due(site, pharmacist, last_name="Rivera", first_name="Ana")
    response = _client(technician).get(f"{API}/lists/refills", {"ahead": 7, "limit": 10})
    assert response.status_code == 200
    body = response.json()
    assert (body["kind"], body["total"], body["do_not_contact"]) == ("refills", 1, 0)
    assert body["filters"] == {"ahead": 7, "behind": 30}
    [row] = body["results"]
    assert row["patient_id"] == p.pk
    assert row["name"] == "Ana Rivera"
    assert row["figures"]["rx_number"] == rx.number
    assert row["figures"]["days_left"] == 5
    assert row["figures"]["auto_refill"] is False
    assert row["last_contact"] is None


def test_the_api_refuses_an_unknown_list_and_bad_filters(site, technician):
    client = _client(technician)
    assert client.get(f"{API}/lists/birthdays").status_code == 422
    response = client.get(f"{API}/lists/adherence", {"days": 5})
    assert response.status_code == 422
    assert response["Content-Type"] == "application/problem+json"
    assert not AuditEvent.objects.filter(action="outreach.list.opened").exists()


def test_the_api_exports_csv(site, technician):
    response = _client(technician).get(f"{API}/lists/sync/csv")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response.content.decode().startswith("last_name,first_name,date_of_birth,")


def test_the_api_records_a_contact(site, technician, other_site):
    p = PatientFactory(site=site)
    client = _client(technician)
    response = client.post(
        f"{API}/contacts",
        json.dumps({"patient_id": p.pk, "kind": "vaccines", "outcome": "left_message"}),
        content_type="application/json",
    )
    assert response.status_code == 201
    body = response.json()
    assert (body["patient_id"], body["kind"], body["outcome"], body["note"]) == (
        p.pk,
        "vaccines",
        "left_message",
        "",
    )
    elsewhere = PatientFactory(site=other_site)
    response = client.post(
        f"{API}/contacts",
        json.dumps({"patient_id": elsewhere.pk, "kind": "vaccines", "outcome": "reached"}),
        content_type="application/json",
    )
    assert response.status_code == 404
    assert OutreachContact.objects.count() == 1


def test_the_adherence_tab_shows_the_figures(site, pharmacist, technician):
    p = PatientFactory(site=site, last_name="Lowe")
    statin = drug("Lipitor", "ATORVASTATIN CALCIUM")
    history(prescribe(pharmacist, p, statin), site.today(), (179, 30), (120, 30), (60, 30))
    response = _client(technician).get(
        reverse("outreach_home"), {"list": "adherence", "group": "statins", "days": "180"}
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "Lowe," in html
    assert "<strong>50.00 %</strong>" in html
    assert "Atorvastatin: 50.00% of days covered" in html
