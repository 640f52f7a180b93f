"""The inventories API: start, count, sign (PIC only), cancel, read and print, with the next
biennial inventory due on the list. Bad input is a problem body naming the field."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from rxdesk.controlled import queries_inventories as queries
from rxdesk.controlled.models import CsInventory, CsInventoryLine
from rxdesk.core.models import AuditEvent
from tests.controlled.factories import cs_stock, oxycodone
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

P = "/api/v1/controlled"


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def call(client: Client, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    kwargs: dict[str, Any] = {}
    if body is not None:
        kwargs = {"data": json.dumps(body), "content_type": "application/json"}
    return getattr(client, method)(path, **kwargs)


def written() -> tuple[int, int, int]:
    events = AuditEvent.objects.exclude(action__startswith="auth.").count()
    return CsInventory.objects.count(), CsInventoryLine.objects.count(), events


def test_an_inventory_is_started_counted_signed_and_printed(site, technician, pic):
    cs_stock(site, oxycodone(), 130, lot="OX1")
    counter = client_for(technician)
    today = site.today().isoformat()
    assert call(counter, "get", f"{P}/inventories").json() == {
        "next_biennial_due": None,
        "inventories": [],
    }

    started = call(
        counter,
        "post",
        f"{P}/inventories",
        {"kind": "initial", "taken_on": today, "taken_at": "opening"},
    )

    assert started.status_code == 201, started.content
    body = started.json()
    assert (body["kind"], body["status"], body["missing"]) == ("initial", "open", 1)
    assert [(r["ndc10"], r["lot"], r["on_hand"], r["line_id"]) for r in body["worksheet"]] == [
        ("0406-0552-01", "OX1", "130.000", None)
    ]
    path = f"{P}/inventories/{body['id']}"
    refused = call(
        counter,
        "post",
        f"{path}/lines",
        {
            "ndc": "0406-0552-01",
            "lot_number": "OX1",
            "sealed_containers": 1,
            "opened_quantity": "30",
            "estimated": True,
        },
    )
    assert refused.status_code == 422
    assert refused.json()["errors"] == [
        {"field": "estimated", "message": "Schedule II: count the opened container exactly."}
    ]
    unsigned = call(client_for(pic), "post", f"{path}/sign")
    assert unsigned.status_code == 422
    assert [e["field"] for e in unsigned.json()["errors"]] == ["lines"]

    counted = call(
        counter,
        "post",
        f"{path}/lines",
        {"ndc": "0406-0552-01", "lot_number": "OX1", "sealed_containers": 1, "opened_quantity": 30},
    )
    assert counted.status_code == 200, counted.content
    assert {k: counted.json()[k] for k in ("method", "total", "ledger_balance", "lot")} == {
        "method": "exact",
        "total": "130.000",
        "ledger_balance": "130.000",
        "lot": "OX1",
    }
    assert call(counter, "post", f"{path}/sign").status_code == 403
    signed = call(client_for(pic), "post", f"{path}/sign")
    assert signed.status_code == 200
    assert (signed.json()["status"], signed.json()["signed_by"]) == ("signed", pic.display_name)
    listed = call(counter, "get", f"{P}/inventories").json()
    inventory = CsInventory.objects.get()
    assert listed["next_biennial_due"] == queries.next_biennial_due(site).isoformat()
    assert [i["id"] for i in listed["inventories"]] == [inventory.pk]
    pdf = call(counter, "get", f"{path}/pdf")
    assert (pdf.status_code, pdf["Content-Type"]) == (200, "application/pdf")
    assert pdf.content.startswith(b"%PDF-")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"kind": "biennial", "taken_on": "2026-01-05"}, "taken_at"),
        ({"kind": "yearly", "taken_on": "2026-01-05", "taken_at": "close"}, "kind"),
        (
            {"kind": "biennial", "taken_on": "2026-01-05", "taken_at": "close", "product_id": 1},
            "product_id",
        ),
        ({"kind": "newly_scheduled", "taken_on": "2026-01-05", "taken_at": "close"}, "product_id"),
    ],
)
def test_bad_starts_are_a_422_naming_the_field(site, technician, body, field):
    before = written()
    response = call(client_for(technician), "post", f"{P}/inventories", body)
    assert response.status_code == 422, response.content
    assert [e["field"] for e in response.json()["errors"]] == [field]
    assert written() == before


def test_another_pharmacys_inventory_is_not_found_and_a_cancel_needs_a_reason(
    site, technician, other_site
):
    client = client_for(technician)
    body = {"kind": "initial", "taken_on": site.today().isoformat(), "taken_at": "close"}
    created = call(client, "post", f"{P}/inventories", body).json()
    stranger = client_for(UserFactory(site=other_site, role="technician", username="their-tech"))
    assert call(stranger, "get", f"{P}/inventories/{created['id']}").status_code == 404
    assert call(stranger, "get", f"{P}/inventories/{created['id']}/pdf").status_code == 404
    blank = call(client, "post", f"{P}/inventories/{created['id']}/cancel", {"reason": " "})
    assert blank.status_code == 422
    assert [e["field"] for e in blank.json()["errors"]] == ["reason"]
    done = call(client, "post", f"{P}/inventories/{created['id']}/cancel", {"reason": "Mistake"})
    assert done.json()["status"] == "cancelled"
