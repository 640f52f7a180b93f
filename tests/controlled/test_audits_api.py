"""The audits API: a blind count and its result, the investigation it opens (notes,
evidence, outcome with the witness) — answers, field names, 403/404, nothing written on a
refusal."""

from __future__ import annotations

import hashlib
import json
from decimal import Decimal
from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from rxdesk.controlled.models import CsAudit, Investigation, InvestigationEvidence, TheftLoss
from rxdesk.core.choices import Role
from rxdesk.core.models import AuditEvent
from rxdesk.inventory.models import StockBalance, StockMove
from tests.controlled.factories import credentials, cs_stock, oxycodone, witness
from tests.inventory.factories import package

P = "/api/v1/controlled"
PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def post(client: Client, path: str, body: dict[str, Any]) -> Any:
    return client.post(path, data=json.dumps(body), content_type="application/json")


def written() -> tuple[int, ...]:
    return (
        CsAudit.objects.count(),
        Investigation.objects.count(),
        InvestigationEvidence.objects.count(),
        TheftLoss.objects.count(),
        StockMove.objects.count(),
        AuditEvent.objects.exclude(action__startswith="auth.").count(),
    )


def count(client: Client, counted: str, lot: str = "OX1") -> Any:
    return post(
        client, f"{P}/audits", {"ndc": "0406-0552-01", "lot_number": lot, "counted": counted}
    )


def test_a_count_is_recorded_and_answered_with_its_result(site, technician):
    cs_stock(site, oxycodone(), 137, lot="OX1")
    client = client_for(technician)

    response = count(client, "130")

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["drug"] == {
        "package_id": oxycodone().pk,
        "ndc11": "00406055201",
        "ndc10": "0406-0552-01",
        "name": oxycodone().product.display_name,
        "strength": "5 mg/1",
        "dosage_form": "TABLET",
        "schedule": "CII",
        "unit": "EA",
    }
    assert (body["lot_number"], body["counted"], body["expected"], body["variance"]) == (
        "OX1",
        "130.000",
        "137.000",
        "-7.000",
    )
    assert (body["status"], body["counted_by"]) == ("discrepancy", technician.display_name)
    inv = Investigation.objects.get()
    assert body["investigation_id"] == inv.pk
    listed = client.get(f"{P}/audits?status=discrepancy").json()
    assert [a["id"] for a in listed] == [body["id"]]
    assert client.get(f"{P}/audits?status=matched").json() == []
    assert client.get(f"{P}/audits/{body['id']}").json() == body


def test_a_bad_count_names_the_field_and_writes_nothing(site, technician):
    cs_stock(site, oxycodone(), 10, lot="OX1")
    package()
    client = client_for(technician)
    before = written()

    negative = count(client, "-1")
    plain = post(client, f"{P}/audits", {"ndc": "0002-3227-30", "counted": "1"})
    extra = post(client, f"{P}/audits", {"ndc": "0406-0552-01", "counted": "1", "expected": "9"})

    assert (negative.status_code, negative.json()["errors"]) == (
        422,
        [{"field": "counted", "message": "A count cannot be negative."}],
    )
    assert (plain.status_code, plain.json()["errors"][0]["field"]) == (422, "ndc")
    assert (extra.status_code, extra.json()["errors"][0]["field"]) == (422, "expected")
    assert written() == before


def test_a_trainee_may_not_count_and_another_pharmacys_count_is_not_found(
    site, technician, trainee, outsider
):
    cs_stock(site, oxycodone(), 10, lot="OX1")
    before = written()
    assert count(client_for(trainee), "10").status_code == 403
    assert written() == before
    audit_id = count(client_for(technician), "10").json()["id"]
    assert client_for(outsider).get(f"{P}/audits/{audit_id}").status_code == 404
    assert client_for(outsider).get(f"{P}/audits").json() == []


def test_an_investigation_is_worked_through_the_api(site, technician, pharmacist):
    cs_stock(site, oxycodone(), 137, lot="OX1")
    inv_id = count(client_for(technician), "130").json()["investigation_id"]
    client = client_for(pharmacist)
    path = f"{P}/investigations/{inv_id}"

    note = post(client, f"{path}/notes", {"text": "Vault log checked"})
    assert note.status_code == 201
    assert note.json()["author"] == pharmacist.display_name
    upload = client.post(
        f"{path}/evidence",
        {
            "file": SimpleUploadedFile("cam.pdf", PDF, content_type="application/pdf"),
            "description": "Camera still",
        },
    )
    assert upload.status_code == 201, upload.content
    item = upload.json()
    assert (item["size"], item["sha256"]) == (len(PDF), hashlib.sha256(PDF).hexdigest())
    download = client.get(f"{path}/evidence/{item['id']}")
    assert (download.status_code, download["Content-Type"], download.content) == (
        200,
        "application/pdf",
        PDF,
    )
    assert download["X-Content-Type-Options"] == "nosniff"

    detail = client.get(path).json()
    assert [n["text"] for n in detail["notes"]] == ["Vault log checked"]
    assert [e["name"] for e in detail["evidence"]] == ["cam.pdf"]
    assert [i["id"] for i in client.get(f"{P}/investigations?open_only=true").json()] == [inv_id]

    second = witness(site, Role.TECHNICIAN, "second")
    resolved = post(
        client,
        f"{path}/resolve",
        {
            "outcome": "theft",
            "conclusion": "Taken at closing.",
            "witness": credentials(second),
            "loss": {"loss_type": "employee_pilferage", "police_notified": False},
        },
    )

    assert resolved.status_code == 200, resolved.content
    body = resolved.json()
    assert (body["status"], body["outcome"], body["witness"]) == (
        "resolved",
        "theft",
        second.display_name,
    )
    assert (body["correction_quantity"], body["balance_after"]) == ("-7.000", "130.000")
    assert body["witness_factors"] == "password"
    loss = TheftLoss.objects.get()
    assert body["loss_ids"] == [loss.pk]
    assert StockBalance.objects.get(lot__number="OX1").on_hand == Decimal(130)
    assert client.get(f"{P}/investigations?open_only=true").json() == []


def test_a_resolution_without_its_witness_is_a_422_naming_it(site, technician, pharmacist):
    cs_stock(site, oxycodone(), 137, lot="OX1")
    inv_id = count(client_for(technician), "130").json()["investigation_id"]
    client = client_for(pharmacist)
    before = written()

    missing = post(
        client,
        f"{P}/investigations/{inv_id}/resolve",
        {"outcome": "record_error", "conclusion": "x"},
    )
    unknown = post(
        client,
        f"{P}/investigations/{inv_id}/resolve",
        {"outcome": "lost", "conclusion": "x"},
    )
    file_missing = client.post(f"{P}/investigations/{inv_id}/evidence", {})

    assert (missing.status_code, missing.json()["errors"][0]["field"]) == (
        422,
        "witness.username",
    )
    assert (unknown.status_code, unknown.json()["errors"][0]["field"]) == (422, "outcome")
    assert (file_missing.status_code, file_missing.json()["errors"][0]["field"]) == (422, "file")
    assert written() == before


def test_a_technician_reads_but_does_not_work_an_investigation(site, technician):
    cs_stock(site, oxycodone(), 137, lot="OX1")
    inv_id = count(client_for(technician), "130").json()["investigation_id"]
    client = client_for(technician)
    before = written()

    assert client.get(f"{P}/investigations/{inv_id}").status_code == 200
    assert post(client, f"{P}/investigations/{inv_id}/notes", {"text": "x"}).status_code == 403
    assert written() == before
