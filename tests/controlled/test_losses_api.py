"""The theft and loss (DEA Form 106) API: open, complete, notify, submit, cancel, the draft
PDF — answers, deadline words, every missing field named, 403/404, nothing written on a
refusal."""

from __future__ import annotations

import datetime as dt
import io
import json
import zoneinfo
from typing import Any

import time_machine
from django.test import Client
from pypdf import PdfReader

from rxdesk.controlled.models import TheftLoss, TheftLossLine
from rxdesk.core.models import AuditEvent
from tests.controlled.factories import cs_stock, oxycodone

P = "/api/v1/controlled"
CHICAGO = zoneinfo.ZoneInfo("America/Chicago")


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def send(client: Client, method: str, path: str, body: dict[str, Any]) -> Any:
    return getattr(client, method)(path, data=json.dumps(body), content_type="application/json")


def written() -> tuple[int, int, int]:
    return (
        TheftLoss.objects.count(),
        TheftLossLine.objects.count(),
        AuditEvent.objects.exclude(action__startswith="auth.").count(),
    )


BREAK_IN = {
    "loss_type": "night_break_in",
    "discovered_at": "2025-11-14T07:45:00",
    "lines": [{"ndc": "0406-0552-01", "lot_number": "OX1", "quantity": "40"}],
}


def test_a_break_in_is_recorded_and_carried_to_submission(site, pharmacist):
    cs_stock(site, oxycodone(), 100, lot="OX1")
    client = client_for(pharmacist)
    with time_machine.travel(dt.datetime(2025, 11, 14, 9, 0, tzinfo=CHICAGO)):
        created = send(client, "post", f"{P}/losses", BREAK_IN)
        assert created.status_code == 201, created.content
        body = created.json()
        assert (body["notify_by"], body["complete_by"]) == ("2025-11-17", "2025-12-29")
        assert body["deadline"] == "notify DEA by Mon 11/17 (in 3 days)"
        assert body["police_notified"] is None
        assert [m["field"] for m in body["missing"]] == ["police_notified", "dea_notified_at"]
        assert body["lines"][0]["drug"]["ndc10"] == "0406-0552-01"
        assert body["lines"][0]["quantity"] == "40.000"
        path = f"{P}/losses/{body['id']}"

        patched = send(client, "patch", path, {"police_notified": False, "previous_losses": 1})
        assert patched.status_code == 200
        assert (patched.json()["police_notified"], patched.json()["police_department"]) == (
            False,
            "",
        )
        notified = send(
            client, "post", f"{path}/notified", {"when": "2025-11-14T08:30:00", "how": "Email"}
        )
        assert notified.json()["status"] == "notified"
        assert notified.json()["notice_late"] is False
        assert notified.json()["deadline"] == "submit Form 106 by Mon 12/29 (in 45 days)"
        submitted = send(client, "post", f"{path}/submitted", {"dea_reference": "TLR-9"})
        assert submitted.status_code == 200, submitted.content
        assert (submitted.json()["status"], submitted.json()["dea_reference"]) == (
            "submitted",
            "TLR-9",
        )
        assert client.get(f"{P}/losses?open_only=true").json() == []
        assert [r["id"] for r in client.get(f"{P}/losses").json()] == [body["id"]]


def test_a_submission_before_the_form_is_complete_names_every_field(site, pharmacist):
    cs_stock(site, oxycodone(), 100, lot="OX1")
    client = client_for(pharmacist)
    loss_id = send(
        client, "post", f"{P}/losses", {**BREAK_IN, "discovered_at": "2025-11-14T07:45:00Z"}
    ).json()["id"]
    before = written()

    response = send(client, "post", f"{P}/losses/{loss_id}/submitted", {"dea_reference": ""})

    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == [
        "police_notified",
        "dea_notified_at",
        "dea_reference",
    ]
    assert written() == before


def test_bad_input_names_the_field_and_writes_nothing(site, pharmacist):
    cs_stock(site, oxycodone(), 100, lot="OX1")
    client = client_for(pharmacist)
    before = written()

    zero = send(
        client,
        "post",
        f"{P}/losses",
        {**BREAK_IN, "lines": [{"ndc": "0406-0552-01", "quantity": "0"}]},
    )
    no_lines = send(client, "post", f"{P}/losses", {**BREAK_IN, "lines": []})
    bad_type = send(client, "post", f"{P}/losses", {**BREAK_IN, "loss_type": "flood"})

    assert (zero.status_code, zero.json()["errors"][0]["field"]) == (422, "lines.0.quantity")
    assert (no_lines.status_code, no_lines.json()["errors"][0]["field"]) == (422, "lines")
    assert (bad_type.status_code, bad_type.json()["errors"][0]["field"]) == (422, "loss_type")
    assert written() == before


def test_a_technician_reads_but_may_not_open_and_another_pharmacy_finds_nothing(
    site, technician, pharmacist, outsider
):
    cs_stock(site, oxycodone(), 100, lot="OX1")
    before = written()
    assert send(client_for(technician), "post", f"{P}/losses", BREAK_IN).status_code == 403
    assert written() == before
    loss_id = send(client_for(pharmacist), "post", f"{P}/losses", BREAK_IN).json()["id"]
    assert client_for(technician).get(f"{P}/losses/{loss_id}").status_code == 200
    stranger = client_for(outsider)
    assert stranger.get(f"{P}/losses/{loss_id}").status_code == 404
    assert stranger.get(f"{P}/losses/{loss_id}/pdf").status_code == 404


def test_the_pdf_is_the_form_106_draft(site, pharmacist):
    cs_stock(site, oxycodone(), 100, lot="OX1")
    client = client_for(pharmacist)
    loss_id = send(client, "post", f"{P}/losses", BREAK_IN).json()["id"]

    response = client.get(f"{P}/losses/{loss_id}/pdf")

    assert (response.status_code, response["Content-Type"]) == (200, "application/pdf")
    assert f"dea-form-106-{loss_id}-draft.pdf" in response["Content-Disposition"]
    text = " ".join(p.extract_text() for p in PdfReader(io.BytesIO(response.content)).pages)
    assert "DRAFT" in text and "Night break-in" in text and "0406-0552-01" in text


def test_a_cancelled_record_is_kept_and_closed(site, pharmacist):
    cs_stock(site, oxycodone(), 100, lot="OX1")
    client = client_for(pharmacist)
    loss_id = send(client, "post", f"{P}/losses", BREAK_IN).json()["id"]

    cancelled = send(client, "post", f"{P}/losses/{loss_id}/cancel", {"reason": "Found"})

    assert cancelled.status_code == 200
    assert (cancelled.json()["status"], cancelled.json()["deadline"]) == ("cancelled", "cancelled")
    again = send(client, "post", f"{P}/losses/{loss_id}/cancel", {"reason": "Found"})
    assert again.status_code == 409
