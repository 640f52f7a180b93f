"""The order-form API: record, read, list by status, void; the controlled-substance
receipts as JSON and CSV. Bad input is a problem body naming the field; nothing written."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from django.test import Client

from rxdesk.controlled.models import Form222Line, Form222Order
from rxdesk.core.models import AuditEvent
from rxdesk.inventory.services import receiving
from tests.controlled.factories import alprazolam, oxycodone
from tests.controlled.matrix_orders import deliver, supplier
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


def body_for(site, **values) -> dict[str, Any]:
    oxycodone()
    return {
        "number": "221234567",
        "supplier_id": supplier(site).pk,
        "executed_on": site.today().isoformat(),
        "lines": [{"ndc": "0406-0552-01", "packages": 2}],
        **values,
    }


def written() -> tuple[int, int, int]:
    events = AuditEvent.objects.exclude(action__startswith="auth.").count()
    return Form222Order.objects.count(), Form222Line.objects.count(), events


def test_a_form_is_recorded_read_and_listed(site, pharmacist, technician):
    response = call(client_for(pharmacist), "post", f"{P}/orders", body_for(site))
    assert response.status_code == 201, response.content
    body = response.json()
    today = site.today()
    assert {k: body[k] for k in ("form", "direction", "number", "status", "supplier_dea")} == {
        "form": "222",
        "direction": "purchase",
        "number": "221234567",
        "status": "open",
        "supplier_dea": "PM1234563",
    }
    assert body["expires_on"] == (today + dt.timedelta(days=60)).isoformat()
    assert [(x["line_no"], x["ndc10"], x["packages_ordered"]) for x in body["lines"]] == [
        (1, "0406-0552-01", 2)
    ]
    reader = client_for(technician)
    receiving.receipt_post(actor=technician, receipt=deliver(site, technician, "221234567"))
    detail = call(reader, "get", f"{P}/orders/{body['id']}").json()
    assert detail["status"] == "partial"
    assert [(r["packages"], r["received_on"]) for r in detail["received"]] == [
        (1, today.isoformat())
    ]
    assert detail["received"][0]["receipt_id"] is not None
    listed = call(reader, "get", f"{P}/orders?status=partial").json()
    assert [o["id"] for o in listed] == [body["id"]]
    assert call(reader, "get", f"{P}/orders?status=open").json() == []


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"lines": [{"ndc": "0228-2029-96", "packages": 1}]}, "lines.0.ndc"),
        ({"lines": [{"ndc": "0406-0552-01", "packages": 0}]}, "lines.0.packages"),
        ({"lines": [{"ndc": "0406-0552-01"}]}, "lines.0.packages"),
        ({"executed_on": "05/01/2026"}, "executed_on"),
        ({"form": "fax"}, "form"),
        ({"colour": "blue"}, "colour"),
    ],
)
def test_bad_input_is_a_422_naming_the_field(site, pharmacist, change, field):
    alprazolam()
    before = written()
    response = call(client_for(pharmacist), "post", f"{P}/orders", body_for(site, **change))
    assert response.status_code == 422, response.content
    assert response["Content-Type"] == "application/problem+json"
    assert [e["field"] for e in response.json()["errors"]] == [field]
    assert written() == before


def test_the_supplier_error_names_supplier_id_and_a_second_record_is_a_409(site, pharmacist):
    client = client_for(pharmacist)
    no_dea = supplier(site, "Local Wholesale", dea_number="")
    response = call(client, "post", f"{P}/orders", body_for(site, supplier_id=no_dea.pk))
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == ["supplier_id"]
    assert call(client, "post", f"{P}/orders", body_for(site)).status_code == 201
    before = written()
    again = call(client, "post", f"{P}/orders", body_for(site))
    assert again.status_code == 409
    assert again.json()["errors"] == [
        {"field": "number", "message": "DEA Form 222 (paper) 221234567 is already on file here."}
    ]
    assert written() == before


def test_a_form_is_voided_once_and_another_pharmacys_is_not_found(site, pharmacist, other_site):
    client = client_for(pharmacist)
    created = call(client, "post", f"{P}/orders", body_for(site)).json()
    voided = call(client, "post", f"{P}/orders/{created['id']}/void", {"reason": "Lost in mail"})
    assert voided.status_code == 200
    assert (voided.json()["status"], voided.json()["void_reason"]) == ("void", "Lost in mail")
    assert (
        call(client, "post", f"{P}/orders/{created['id']}/void", {"reason": "x"}).status_code == 409
    )
    stranger = UserFactory(site=other_site, role="pharmacist", username="their-rph")
    assert call(client_for(stranger), "get", f"{P}/orders/{created['id']}").status_code == 404
    assert (
        call(
            client_for(stranger), "post", f"{P}/orders/{created['id']}/void", {"reason": "x"}
        ).status_code
        == 404
    )


def test_the_receipts_come_as_json_or_csv(site, pharmacist, technician):
    call(client_for(pharmacist), "post", f"{P}/orders", body_for(site))
    receiving.receipt_post(actor=technician, receipt=deliver(site, technician, "221234567"))
    reader = client_for(technician)
    today = site.today().isoformat()

    listed = call(reader, "get", f"{P}/receipts?group=II").json()
    assert (listed["start"], listed["end"]) == (today, today)
    assert [(x["ndc10"], x["containers"], x["dea_order_number"]) for x in listed["lines"]] == [
        ("0406-0552-01", 1, "221234567")
    ]
    csv = call(reader, "get", f"{P}/receipts?format=csv")
    assert csv.status_code == 200
    assert csv["Content-Type"] == "text/csv; charset=utf-8"
    assert f'filename="cs-receipts-{today}.csv"' in csv["Content-Disposition"]
    lines = csv.content.decode().splitlines()
    assert len(lines) == 2 and lines[1].startswith(f"{today},CII,Matrix CII Wholesale,,PM1234563,")

    backwards = call(reader, "get", f"{P}/receipts?start=2026-02-02&end=2026-02-01")
    assert backwards.status_code == 422
    assert [e["field"] for e in backwards.json()["errors"]] == ["end"]
    assert call(reader, "get", f"{P}/receipts?group=IV").status_code == 422
