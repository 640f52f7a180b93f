"""Two-person integrity in the inventory (issue 10, item 6): a Schedule II adjustment and
the approval of a count that corrects a controlled substance need a second authorized
person who re-authenticates at that moment; the ledger move holds both, the audit event
names the witness. Through the services, the API and the screens. Other stock is as it
was."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from rxdesk.core.choices import Role
from rxdesk.core.errors import Forbidden, Invalid
from rxdesk.core.models import AuditEvent
from rxdesk.inventory.models import CycleCount, StockBalance, StockMove
from rxdesk.inventory.services.counts import (
    cycle_count_approve,
    cycle_count_create,
    cycle_count_investigate,
    cycle_count_record,
    cycle_count_submit,
)
from rxdesk.inventory.services.stock import stock_adjust
from tests.conftest import last_event
from tests.controlled.factories import alprazolam, credentials, cs_stock, oxycodone, witness
from tests.factories import PASSWORD
from tests.inventory.factories import package, stock

API = "/api/v1/inventory"


def written() -> tuple[int, int]:
    return (
        StockMove.objects.count(),
        AuditEvent.objects.exclude(action="auth.witness_failed").count(),
    )


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def post_json(client: Client, path: str, body: dict[str, Any] | None = None) -> Any:
    if body is None:
        return client.post(path)
    return client.post(path, data=json.dumps(body), content_type="application/json")


# --- Adjusting a lot ---------------------------------------------------------------------------


def test_a_schedule_ii_adjustment_without_a_witness_is_refused(site, pharmacist):
    balance = cs_stock(site, oxycodone(), 100)
    before = written()

    with pytest.raises(Invalid) as caught:
        stock_adjust(actor=pharmacist, balance=balance, quantity="-2", reason="broken")

    assert caught.value.errors == [
        {"field": "witness.username", "message": "Enter the witness's user name."}
    ]
    assert written() == before
    balance.refresh_from_db()
    assert balance.on_hand == Decimal(100)


def test_a_witnessed_schedule_ii_adjustment_holds_both(site, pharmacist):
    balance = cs_stock(site, oxycodone(), 100)
    second = witness(site, Role.TECHNICIAN, "second")

    move = stock_adjust(
        actor=pharmacist,
        balance=balance,
        quantity="-2",
        reason="broken",
        note="Dropped two tablets in the sink",
        witness=credentials(second),
    )

    assert (move.actor, move.witness, move.witness_name) == (pharmacist, second, "second")
    assert (move.quantity, move.balance_after) == (Decimal(-2), Decimal(98))
    event = last_event()
    assert event.action == "inventory.stock.adjusted"
    assert '"witness":"second"' in event.data
    assert '"witness_factors":"password"' in event.data


@pytest.mark.parametrize(
    ("who", "field", "words"),
    [
        ("self", "witness.username", "second person"),
        ("trainee", "witness.username", "may not witness"),
        ("admin", "witness.username", "may not witness"),
        ("wrong", "witness.password", "password is not right"),
    ],
)
def test_the_witness_must_be_someone_else_allowed_and_proven(site, pharmacist, who, field, words):
    balance = cs_stock(site, oxycodone(), 100)
    given = {
        "self": credentials(pharmacist),
        "trainee": credentials(witness(site, Role.TECHNICIAN_IN_TRAINING, "new-tech")),
        "admin": credentials(witness(site, Role.ADMIN, "it-admin")),
        "wrong": {"username": witness(site).username, "password": "guess"},
    }[who]
    before = written()

    with pytest.raises(Invalid) as caught:
        stock_adjust(actor=pharmacist, balance=balance, quantity="5", reason="found", witness=given)

    assert caught.value.field == field
    assert words in caught.value.message
    assert written() == before


def test_a_role_that_may_not_adjust_is_refused_before_any_witness(site, technician):
    balance = cs_stock(site, oxycodone(), 100)
    before = written()
    failures = AuditEvent.objects.filter(action="auth.witness_failed").count()
    with pytest.raises(Forbidden):
        stock_adjust(
            actor=technician,
            balance=balance,
            quantity="-1",
            reason="broken",
            witness={"username": "x", "password": "y"},
        )
    assert written() == before
    assert AuditEvent.objects.filter(action="auth.witness_failed").count() == failures


def test_schedule_iv_needs_no_witness_but_keeps_one_given(site, pharmacist):
    balance = cs_stock(site, alprazolam(), 1000)

    plain = stock_adjust(actor=pharmacist, balance=balance, quantity="-1", reason="broken")
    witnessed = stock_adjust(
        actor=pharmacist,
        balance=balance,
        quantity="-1",
        reason="broken",
        witness=credentials(witness(site)),
    )

    assert (plain.witness, witnessed.witness.username) == (None, "witness")


def test_plain_stock_is_adjusted_as_before(site, pharmacist):
    balance = stock(site, package(), "P1", 10)
    move = stock_adjust(actor=pharmacist, balance=balance, quantity="-1", reason="damaged")
    assert (move.witness, move.witness_name) == (None, "")
    assert '"witness"' not in last_event().data


def test_the_api_takes_the_witness_in_the_body(site, pharmacist):
    balance = cs_stock(site, oxycodone(), 100)
    client = client_for(pharmacist)
    path = f"{API}/stock/{balance.pk}/adjust"
    before = written()

    refused = post_json(client, path, {"quantity": "-2", "reason": "broken"})
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["field"] == "witness.username"
    wrong = post_json(
        client,
        path,
        {"quantity": "-2", "reason": "broken", "witness": {"username": "witness", "password": "x"}},
    )
    assert wrong.status_code == 422  # the witness does not exist yet
    assert written() == before

    second = witness(site)
    done = post_json(
        client,
        path,
        {"quantity": "-2", "reason": "broken", "witness": {**credentials(second), "otp": ""}},
    )

    assert done.status_code == 200, done.content
    assert done.json()["balance"]["on_hand"] == "98.000"
    assert StockMove.objects.latest("id").witness == second


def test_the_adjust_screen_asks_for_the_witness_of_a_controlled_lot(site, pharmacist):
    controlled = cs_stock(site, oxycodone(), 100)
    plain = stock(site, package(), "P1", 10)
    client = client_for(pharmacist)
    url = reverse("inventory_balance_adjust", kwargs={"pk": controlled.pk})

    page = client.get(url).content.decode()
    assert 'name="witness.username"' in page and 'type="password"' in page
    assert "Schedule II: a second person" in page and "now — required." in page
    plain_page = client.get(reverse("inventory_balance_adjust", kwargs={"pk": plain.pk}))
    assert 'name="witness.username"' not in plain_page.content.decode()

    before = written()
    refused = client.post(url, {"quantity": "-2", "reason": "broken"})
    assert refused.status_code == 422
    assert re.search(
        r'id="id_witness.username_error"[^>]*>Enter the witness&#x27;s user name.',
        refused.content.decode(),
    )
    assert written() == before

    second = witness(site)
    done = client.post(
        url,
        {
            "quantity": "-2",
            "reason": "broken",
            "witness.username": second.username,
            "witness.password": PASSWORD,
        },
    )
    assert done.status_code == 302
    assert StockMove.objects.latest("id").witness == second


# --- Approving a count -------------------------------------------------------------------------


def submitted(site, technician, *, oxy=(100, 98), plain=(10, 10)) -> CycleCount:
    """A submitted count of an oxycodone lot and a plain lot, with reasons and notes."""
    cs_stock(site, oxycodone(), oxy[0], lot="OX1")
    stock(site, package(), "P1", plain[0])
    count = cycle_count_create(
        actor=technician, scope="packages", scope_value="0406-0552-01, 0002-3227-30"
    )
    lines = {line.package_id: line for line in count.lines.all()}
    cycle_count_record(actor=technician, line=lines[oxycodone().pk], counted=oxy[1])
    cycle_count_record(actor=technician, line=lines[package().pk], counted=plain[1])
    cycle_count_submit(actor=technician, count=count)
    for line in count.lines.all():
        if line.counted != line.expected:
            cycle_count_investigate(
                actor=technician, line=line, adjust_reason="count_variance", note="Recounted"
            )
    return count


def test_approving_a_controlled_correction_needs_a_witness(site, technician, pharmacist):
    count = submitted(site, technician, plain=(10, 9))
    before = written()

    with pytest.raises(Invalid) as caught:
        cycle_count_approve(actor=pharmacist, count=count)

    assert caught.value.field == "witness.username"
    assert written() == before
    count.refresh_from_db()
    assert count.status == "submitted"

    second = witness(site, Role.PHARMACIST, "second")
    cycle_count_approve(actor=pharmacist, count=count, witness=credentials(second))

    oxy_move = StockMove.objects.get(reason="count", package=oxycodone())
    plain_move = StockMove.objects.get(reason="count", package=package())
    assert (oxy_move.quantity, oxy_move.witness, oxy_move.actor) == (
        Decimal(-2),
        second,
        pharmacist,
    )
    assert plain_move.witness is None
    event = last_event()
    assert event.action == "inventory.count.approved"
    assert '"witness":"second"' in event.data


def test_a_controlled_line_without_variance_needs_no_witness(site, technician, pharmacist):
    count = submitted(site, technician, oxy=(100, 100), plain=(10, 8))
    approved = cycle_count_approve(actor=pharmacist, count=count)
    assert approved.status == "approved"
    assert StockMove.objects.get(reason="count").witness is None


def test_the_witness_of_an_approval_is_not_the_approver(site, technician, pharmacist):
    count = submitted(site, technician)
    before = written()
    with pytest.raises(Invalid) as caught:
        cycle_count_approve(actor=pharmacist, count=count, witness=credentials(pharmacist))
    assert caught.value.field == "witness.username"
    assert written() == before


def test_the_api_approves_with_a_witness(site, technician, pharmacist):
    count = submitted(site, technician)
    client = client_for(pharmacist)
    path = f"{API}/cycle-counts/{count.pk}/approve"
    before = written()

    refused = post_json(client, path)
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["field"] == "witness.username"
    bad = post_json(client, path, {"witness": {"username": "x", "pin": "1"}})
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "witness.pin"
    assert written() == before

    done = post_json(client, path, {"witness": credentials(witness(site))})

    assert done.status_code == 200, done.content
    assert done.json()["status"] == "approved"
    assert StockBalance.objects.get(lot__number="OX1").on_hand == Decimal(98)


def test_the_count_review_asks_for_the_witness(site, technician, pharmacist):
    count = submitted(site, technician)
    client = client_for(pharmacist)
    detail = reverse("inventory_count_detail", kwargs={"pk": count.pk})
    approve = reverse("inventory_count_approve", kwargs={"pk": count.pk})

    page = client.get(detail).content.decode()
    assert 'name="witness.username"' in page and 'name="witness.otp"' in page

    before = written()
    refused = client.post(approve, {"witness.username": "second", "witness.password": "nope"})
    assert refused.status_code == 422
    assert "No active user" in refused.content.decode()
    assert written() == before

    second = witness(site, Role.TECHNICIAN, "second")
    done = client.post(approve, {"witness.username": second.username, "witness.password": PASSWORD})
    assert done.status_code == 302
    count.refresh_from_db()
    assert count.status == "approved"
    assert StockMove.objects.get(reason="count").witness == second
