"""The counting and removal API: cycle counts (blind until submitted), expiring stock and
the expiry sweep, returns to vendor. Through django.test.Client as a signed-in user."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client

from rxdesk.core.models import AuditEvent
from rxdesk.inventory import ledger
from rxdesk.inventory.models import (
    CycleCount,
    StockBalance,
    StockMove,
    Supplier,
    VendorReturn,
)
from rxdesk.inventory.services.counts import cycle_count_cancel, cycle_count_create
from rxdesk.inventory.services.removal import vendor_return_create
from tests.conftest import audit_count
from tests.inventory.factories import package, stock

pytestmark = pytest.mark.django_db

P = "/api/v1/inventory"


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def call(client: Client, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    kwargs: dict[str, Any] = {}
    if body is not None:
        kwargs = {"data": json.dumps(body), "content_type": "application/json"}
    return getattr(client, method)(path, **kwargs)


# --- Counts ---------------------------------------------------------------------------------


def test_a_count_is_started_and_read_back(site, technician):
    stock(site, package(), "L1", 40)

    response = call(client_for(technician), "post", f"{P}/cycle-counts", {"scope": "full"})

    assert response.status_code == 201, response.content
    body = response.json()
    assert {k: body[k] for k in ("scope", "scope_value", "blind", "status", "created_by")} == {
        "scope": "full",
        "scope_value": "",
        "blind": True,
        "status": "open",
        "created_by": "tech",
    }
    assert (body["lines_total"], body["lines_counted"], body["variances_shown"]) == (1, 0, False)
    (line,) = body["lines"]
    assert {k: line[k] for k in ("ndc10", "lot", "counted", "expected", "variance")} == {
        "ndc10": "0002-3227-30",
        "lot": "L1",
        "counted": None,
        "expected": None,
        "variance": None,
    }


def test_a_scope_that_matches_nothing_is_a_422_naming_scope_value(site, technician):
    response = call(
        client_for(technician), "post", f"{P}/cycle-counts", {"scope": "abc", "scope_value": "A"}
    )
    assert response.status_code == 422
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["errors"] == [
        {
            "field": "scope_value",
            "message": "No stock on hand matches this count (A). Check the scope.",
        }
    ]


# The quantity on file is unmistakable in a response body: no id, date or count contains it.
ON_FILE = 4711


def test_a_blind_count_reveals_nothing_until_it_is_submitted(site, technician, auditor, pharmacist):
    """While the count is open, no API response (to the counter or to anyone else) and no
    audit event carries the quantity on file or a variance."""
    stock(site, package(), "BLIND", ON_FILE)
    counter, reader = client_for(technician), client_for(auditor)
    seen: list[str] = []

    def keep(response: Any) -> Any:
        assert response.status_code < 300, response.content
        seen.append(response.content.decode())
        return response.json()

    created = keep(call(counter, "post", f"{P}/cycle-counts", {"scope": "full"}))
    count_id, line_id = created["id"], created["lines"][0]["id"]
    recorded = keep(
        call(counter, "put", f"{P}/cycle-counts/{count_id}/lines/{line_id}", {"counted": "4700"})
    )
    added = keep(
        call(
            counter,
            "post",
            f"{P}/cycle-counts/{count_id}/lines",
            {"ndc": "0002-3227-30", "lot_number": "EXTRA", "expiry": "2031-05-31", "counted": 3},
        )
    )
    for client in (counter, reader, client_for(pharmacist)):
        keep(call(client, "get", f"{P}/cycle-counts/{count_id}"))
        keep(call(client, "get", f"{P}/cycle-counts"))

    assert all(str(ON_FILE) not in body for body in seen)
    assert (recorded["expected"], recorded["variance"]) == (None, None)
    assert (added["expected"], added["variance"]) == (None, None)
    events = AuditEvent.objects.filter(action__startswith="inventory.count.")
    assert events.count() == 3
    assert all(str(ON_FILE) not in e.data for e in events)

    submitted = keep(call(counter, "post", f"{P}/cycle-counts/{count_id}/submit"))

    assert submitted["variances_shown"] is True
    assert submitted["variances"] == 2
    assert [(x["lot"], x["expected"], x["variance"]) for x in submitted["lines"]] == [
        ("BLIND", "4711.000", "-11.000"),
        ("EXTRA", "0.000", "3.000"),
    ]


def test_an_open_count_that_is_not_blind_shows_what_is_on_file(site, technician):
    stock(site, package(), "OPEN", 12)
    counter = client_for(technician)
    created = call(counter, "post", f"{P}/cycle-counts", {"scope": "full", "blind": False}).json()
    line_id = created["lines"][0]["id"]

    recorded = call(
        counter, "put", f"{P}/cycle-counts/{created['id']}/lines/{line_id}", {"counted": "10"}
    ).json()

    assert (recorded["expected"], recorded["variance"]) == ("12.000", "-2.000")


def test_a_bad_count_is_a_422_naming_counted(site, technician):
    stock(site, package(), "L1", 5)
    counter = client_for(technician)
    created = call(counter, "post", f"{P}/cycle-counts", {"scope": "full"}).json()
    path = f"{P}/cycle-counts/{created['id']}/lines/{created['lines'][0]['id']}"

    response = call(counter, "put", path, {"counted": "-2"})

    assert response.status_code == 422
    assert response.json()["errors"] == [
        {"field": "counted", "message": "A count cannot be negative."}
    ]


def test_approval_through_the_api_posts_the_variances(site, technician, pharmacist):
    balance = stock(site, package(), "L1", 20)
    counter = client_for(technician)
    count_id = call(counter, "post", f"{P}/cycle-counts", {"scope": "full"}).json()["id"]
    line_id = CycleCount.objects.get(pk=count_id).lines.get().pk
    call(counter, "put", f"{P}/cycle-counts/{count_id}/lines/{line_id}", {"counted": 18})
    call(counter, "post", f"{P}/cycle-counts/{count_id}/submit")
    investigated = call(
        counter,
        "post",
        f"{P}/cycle-counts/{count_id}/lines/{line_id}/investigate",
        {"note": "Two vials broken", "adjust_reason": "broken"},
    )
    assert investigated.status_code == 200
    assert investigated.json()["adjust_reason"] == "broken"
    # The counter submitted it: they may not approve it.
    refused = call(counter, "post", f"{P}/cycle-counts/{count_id}/approve")
    assert refused.status_code == 403

    approved = call(client_for(pharmacist), "post", f"{P}/cycle-counts/{count_id}/approve")

    assert approved.status_code == 200, approved.content
    assert (approved.json()["status"], approved.json()["approved_by"]) == ("approved", "rph")
    balance.refresh_from_db()
    assert balance.on_hand == Decimal(18)
    assert StockMove.objects.filter(reason="count").get().quantity == Decimal(-2)
    assert ledger.ledger_verify() == (1, [])


def test_approval_without_reason_codes_is_a_409(site, technician, pharmacist):
    stock(site, package(), "L1", 20)
    counter = client_for(technician)
    count_id = call(counter, "post", f"{P}/cycle-counts", {"scope": "full"}).json()["id"]
    line_id = CycleCount.objects.get(pk=count_id).lines.get().pk
    call(counter, "put", f"{P}/cycle-counts/{count_id}/lines/{line_id}", {"counted": 18})
    call(counter, "post", f"{P}/cycle-counts/{count_id}/submit")

    response = call(client_for(pharmacist), "post", f"{P}/cycle-counts/{count_id}/approve")

    assert response.status_code == 409
    assert response.json()["lines"] == [line_id]


def test_another_sites_count_is_not_found(site, technician, outsider):
    stock(site, package(), "L1", 20)
    count_id = call(client_for(technician), "post", f"{P}/cycle-counts", {"scope": "full"}).json()[
        "id"
    ]
    assert call(client_for(outsider), "get", f"{P}/cycle-counts/{count_id}").status_code == 404
    cancel = call(
        client_for(outsider), "post", f"{P}/cycle-counts/{count_id}/cancel", {"reason": "x"}
    )
    assert cancel.status_code == 404


def test_the_count_list_reads_in_a_fixed_number_of_queries(
    site, technician, django_assert_max_num_queries
):
    pkg = package()
    for n in range(5):
        stock(site, pkg, f"L{n}", 5)
        count = cycle_count_create(actor=technician, scope="packages", scope_value="0002-3227-30")
        cycle_count_cancel(actor=technician, count=count, reason="set-up")
    client = client_for(technician)

    # Session, user, site and second factor, then one query for the whole list.
    with django_assert_max_num_queries(8):
        response = call(client, "get", f"{P}/cycle-counts")

    assert [c["lines_total"] for c in response.json()] == [5, 4, 3, 2, 1]


# --- Expiring stock and the sweep ----------------------------------------------------------


def test_expiring_stock_with_a_horizon(site, technician):
    pkg = package()
    stock(site, pkg, "SOON", 9, expiry=site.today() + dt.timedelta(days=10))
    stock(site, pkg, "LATER", 9, expiry=site.today() + dt.timedelta(days=100))
    client = client_for(technician)

    body = call(client, "get", f"{P}/stock/expiring?days=30").json()

    assert [(r["lot"], r["days_left"], r["expired"], r["quantity"]) for r in body] == [
        ("SOON", 10, False, "9.000")
    ]
    assert len(call(client, "get", f"{P}/stock/expiring").json()) == 1
    assert call(client, "get", f"{P}/stock/expiring?days=-1").status_code == 422


def test_the_sweep_runs_through_the_api(site, inventory):
    stock(site, package(), "GONE", 3, expiry=site.today() - dt.timedelta(days=1))

    response = call(client_for(inventory), "post", f"{P}/stock/expired-quarantine", {})

    assert (response.status_code, response.json()) == (200, {"quarantined": 1})
    assert StockBalance.objects.get().status == "expired"


def test_the_sweep_refuses_a_location_that_is_no_quarantine_area(site, inventory):
    response = call(
        client_for(inventory), "post", f"{P}/stock/expired-quarantine", {"location": "NOPE"}
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "location"


# --- Returns to vendor ---------------------------------------------------------------------


def test_a_return_from_packing_to_closing(site, technician):
    gone = stock(site, package(), "GONE", 30, expiry=site.today() - dt.timedelta(days=5))
    inmar = Supplier.objects.create(site=site, name="Inmar", reverse_distributor=True)
    client = client_for(technician)

    created = call(
        client,
        "post",
        f"{P}/vendor-returns",
        {
            "kind": "reverse_distributor",
            "supplier": inmar.pk,
            "lines": [{"balance": gone.pk, "quantity": "30", "reason": "Expired"}],
            "credit_expected": "4.20",
        },
    )
    assert created.status_code == 201, created.content
    body = created.json()
    assert (body["status"], body["packed_by"], body["credit_expected"]) == (
        "draft",
        "tech",
        "4.20",
    )
    assert [(x["lot"], x["quantity"], x["reason"]) for x in body["lines"]] == [
        ("GONE", "30.000", "Expired")
    ]
    path = f"{P}/vendor-returns/{body['id']}"

    shipped = call(client, "post", f"{path}/ship", {"carrier": "UPS", "tracking_number": "1Z9"})
    assert (shipped.status_code, shipped.json()["status"]) == (200, "shipped")
    gone.refresh_from_db()
    assert gone.on_hand == 0
    credited = call(client, "post", f"{path}/credit", {"credit_received": "4.00"})
    assert credited.json()["credit_received"] == "4.00"
    closed = call(client, "post", f"{path}/close", {})
    assert closed.json()["status"] == "closed"
    listed = call(client, "get", f"{P}/vendor-returns?status=closed").json()
    assert [r["id"] for r in listed] == [body["id"]]


def test_a_schedule_ii_return_line_without_its_222_is_a_422(site, pharmacist):
    oxy = package("0406-0552-01", name="Oxycodone HCl", directory_dea_schedule="CII")
    balance = stock(site, oxy, "OX1", 100)
    inmar = Supplier.objects.create(site=site, name="Inmar", reverse_distributor=True)
    client = client_for(pharmacist)
    before = (VendorReturn.objects.count(), audit_count())

    response = call(
        client,
        "post",
        f"{P}/vendor-returns",
        {
            "kind": "reverse_distributor",
            "supplier": inmar.pk,
            "lines": [{"balance": balance.pk, "quantity": "100"}],
        },
    )

    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "lines.0.dea_form_222"
    assert (VendorReturn.objects.count(), audit_count()) == before


def test_a_return_of_more_than_is_on_hand_is_a_409(site, technician):
    balance = stock(site, package(), "L1", 3)
    vendor = Supplier.objects.create(site=site, name="Cardinal")
    response = call(
        client_for(technician),
        "post",
        f"{P}/vendor-returns",
        {
            "kind": "vendor",
            "supplier": vendor.pk,
            "lines": [{"balance": balance.pk, "quantity": 4}],
        },
    )
    assert response.status_code == 409
    assert response.json()["errors"] == [
        {"field": "lines.0.quantity", "message": "Only 3 EA of lot L1 on hand; cannot return 4."}
    ]


def test_the_return_list_reads_in_a_fixed_number_of_queries(
    site, technician, django_assert_max_num_queries
):
    vendor = Supplier.objects.create(site=site, name="Cardinal")
    for n in range(4):
        balance = stock(site, package(), f"L{n}", 3)
        vendor_return_create(
            actor=technician,
            kind="vendor",
            supplier=vendor,
            lines=[{"balance": balance.pk, "quantity": 1}],
        )
    client = client_for(technician)

    # Session, user, site and second factor, then one query for the whole list.
    with django_assert_max_num_queries(8):
        response = call(client, "get", f"{P}/vendor-returns")

    assert len(response.json()) == 4
