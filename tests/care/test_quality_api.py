"""The safety and quality API: the flows end to end through JSON, 404 for another
pharmacy's rows, 422 naming fields, the PHI access of a read, the PDF."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.test import Client

from rxdesk.care.models import SafetyEvent
from rxdesk.core.models import AuditEvent
from tests.care import quality_setup as qs

pytestmark = pytest.mark.django_db
P = "/api/v1/care/quality"


def _client(user):
    c = Client()
    c.force_login(user)
    return c


def _post(c, path, body):
    return c.post(path, data=json.dumps(body), content_type="application/json")


def test_an_error_report_then_rca_then_close_through_the_api(site):
    tech, rph = qs.reporter(site), qs.rph(site)
    t, r = _client(tech), _client(rph)
    p = qs.patient(site)
    now = qs.ago(minutes=5).isoformat()
    res = _post(
        t,
        f"{P}/medication-errors",
        {
            "step": "entry",
            "error_type": "wrong_dose",
            "category": "E",
            "description": "Dose typed ten times too high.",
            "occurred_at": now,
            "discovered_at": now,
            "patient_id": p.pk,
            "prescriber_notified": True,
            "follow_up": "Recheck tomorrow",
            "follow_up_due": site.today().isoformat(),
        },
    )
    assert res.status_code == 201, res.content
    error = res.json()
    event_id = error["event_id"]

    res = _post(r, f"{P}/events/{event_id}/close", {"note": "x"})
    assert res.status_code == 409
    assert "root-cause analysis" in res.json()["detail"]

    rca = _post(r, f"{P}/events/{event_id}/rca", {"what_happened": "Typed 10 for 1."}).json()
    assert (
        _post(
            r, f"{P}/rca/{rca['id']}/factors", {"category": "training", "description": "New hire"}
        ).status_code
        == 201
    )
    res = _post(
        r,
        f"{P}/rca/{rca['id']}/actions",
        {
            "description": "Dose-range alert",
            "strength": "strong",
            "owner_id": tech.pk,
            "due_on": site.today().isoformat(),
        },
    )
    assert res.status_code == 201
    action_id = res.json()["id"]
    mine = t.get(f"{P}/my-actions").json()
    assert [a["id"] for a in mine] == [action_id]
    assert (
        _post(r, f"{P}/rca/{rca['id']}/complete", {"root_cause": "No dose check"}).status_code
        == 200
    )
    assert _post(t, f"{P}/actions/{action_id}/complete", {"note": "Alert on"}).status_code == 200
    assert (
        _post(r, f"{P}/medication-errors/{error['id']}/follow-up-done", {"note": "OK"}).status_code
        == 200
    )
    res = _post(r, f"{P}/events/{event_id}/close", {"note": "Closed"})
    assert res.status_code == 200 and res.json()["status"] == "closed"


def test_reading_an_event_with_a_patient_is_a_phi_access(site):
    error = qs.error(site, "D")
    res = _client(qs.reporter(site)).get(f"{P}/events/{error.safety_event_id}")
    assert res.status_code == 200
    body = res.json()
    assert body["patient"].startswith("Lopez") and body["medication_error_id"] == error.pk
    last = AuditEvent.objects.order_by("-pk").first()
    assert last.action == "care.event.opened" and last.patient_id == error.patient_id


def test_another_pharmacys_rows_are_404(site, other_site):
    theirs = qs.error(other_site, "D")
    report = qs.ade_draft(other_site)
    c = _client(qs.rph(site))
    assert c.get(f"{P}/events/{theirs.safety_event_id}").status_code == 404
    assert c.get(f"{P}/medication-errors/{theirs.pk}").status_code == 404
    assert c.get(f"{P}/ade-reports/{report.pk}/pdf").status_code == 404
    assert _post(c, f"{P}/events/{theirs.safety_event_id}/close", {"note": "x"}).status_code == 404
    assert c.get(f"{P}/events/{2**63}").status_code in (404, 422)


def test_bad_input_is_422_naming_fields_and_writes_nothing(site):
    c = _client(qs.reporter(site))
    before = SafetyEvent.objects.count()
    res = _post(
        c,
        f"{P}/events",
        {
            "kind": "near_miss",
            "title": "",
            "occurred_at": "2024-01-01T08:00:00",
            "description": "",
            "extra": 1,
        },
    )
    assert res.status_code == 422
    res = _post(
        c,
        f"{P}/events",
        {"kind": "near_miss", "title": "", "occurred_at": "2024-01-01T08:00:00", "description": ""},
    )
    assert res.status_code == 422
    fields = {e["field"] for e in res.json()["errors"]}
    assert fields == {"title", "description", "occurred_at"}
    assert SafetyEvent.objects.count() == before


def test_ade_draft_patch_submit_and_pdf(site):
    tech, rph = qs.reporter(site), qs.rph(site)
    res = _post(
        _client(tech),
        f"{P}/ade-reports",
        {
            "patient_id": qs.patient(site).pk,
            "event_date": (site.today() - dt.timedelta(days=1)).isoformat(),
            "description": "Angioedema after lisinopril.",
            "products": [{"name": "Lisinopril 10 mg"}],
        },
    )
    assert res.status_code == 201, res.content
    report = res.json()
    assert report["patient_identifier"] == "ML" and report["status"] == "draft"
    assert {m["field"] for m in report["missing"]} == {"outcomes"}
    res = _client(rph).post(
        f"{P}/ade-reports/{report['id']}/submit", data="{}", content_type="application/json"
    )
    assert res.status_code == 422
    assert {e["field"] for e in res.json()["errors"]} == {"outcomes"}
    res = _client(tech).patch(
        f"{P}/ade-reports/{report['id']}",
        data=json.dumps({"outcomes": ["life_threatening"], "reporter_phone": "312-555-0100"}),
        content_type="application/json",
    )
    assert res.status_code == 200 and res.json()["missing"] == []
    res = _post(_client(rph), f"{P}/ade-reports/{report['id']}/submit", {"fda_reference": "MW-1"})
    assert res.status_code == 200 and res.json()["status"] == "submitted"
    res = _client(tech).patch(
        f"{P}/ade-reports/{report['id']}",
        data=json.dumps({"history": "x"}),
        content_type="application/json",
    )
    assert res.status_code == 409
    pdf = _client(tech).get(f"{P}/ade-reports/{report['id']}/pdf")
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")
    assert AuditEvent.objects.order_by("-pk").first().action == "care.ade.opened"


def test_trends_are_aggregate_for_the_auditor(site, auditor):
    qs.error(site, "D")
    res = _client(auditor).get(f"{P}/trends")
    assert res.status_code == 200
    body = res.json()
    assert body["errors"] == 1 and body["reached_patient"] == 1
    assert "Lopez" not in res.content.decode()
    assert _client(auditor).get(f"{P}/events").status_code == 403
