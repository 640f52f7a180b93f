"""The stock services: each writes its moves and one audit event, refuses a broken rule
and a forbidden role with nothing written."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
from collections.abc import Iterator
from decimal import Decimal

import pytest
import time_machine
from django.db import models

from rxdesk.core.choices import Role
from rxdesk.core.errors import Conflict, Forbidden, Invalid
from rxdesk.core.models import AuditEvent, Organization
from rxdesk.inventory.choices import LotStatus, MoveReason, TransferStatus
from rxdesk.inventory.ledger import ledger_verify
from rxdesk.inventory.models import (
    Lot,
    Recall,
    RecallItem,
    StockBalance,
    StockMove,
    StockTransfer,
    StorageLocation,
)
from rxdesk.inventory.services.stock import (
    location_create,
    location_update,
    stock_adjust,
    stock_dispense,
    stock_receive,
    stock_relocate,
    stock_return_to_stock,
    stock_status_set,
    stock_transfer_receive,
    stock_transfer_send,
)
from tests.factories import PatientFactory, UserFactory
from tests.inventory.factories import FAR, lot_of, package, stock

pytestmark = pytest.mark.django_db

LEDGER = (StockMove, StockBalance, Lot)


@contextlib.contextmanager
def nothing_written(*tables: type[models.Model]) -> Iterator[None]:
    counted = (AuditEvent, *LEDGER, *tables)
    before = {t.__name__: t.objects.count() for t in counted}
    yield
    assert {t.__name__: t.objects.count() for t in counted} == before


def last_event() -> AuditEvent:
    event = AuditEvent.objects.order_by("-id").first()
    assert event is not None
    return event


def data_of(event: AuditEvent) -> dict:
    return json.loads(event.data)


def roles_without(*allowed: Role) -> list[Role]:
    return [r for r in Role if r not in allowed]


# --- Receiving one lot ---------------------------------------------------------------------


def test_stock_receive_puts_a_lot_on_the_shelf_and_records_it(technician):
    pkg = package()
    move = stock_receive(
        actor=technician,
        ndc="0002-3227-30",
        lot_number=" ab12 ",
        expiry="2030-06-30",
        quantity="90",
        unit="EA",
    )
    assert (move.reason, move.quantity, move.balance_after) == (MoveReason.RECEIVE, 90, 90)
    assert move.lot.number == "AB12" and move.lot.expiry == dt.date(2030, 6, 30)
    assert move.actor_name == "tech"
    event = last_event()
    assert event.action == "inventory.stock.received"
    assert data_of(event) == {
        "ndc": pkg.ndc11,
        "lot": "AB12",
        "expiry": "2030-06-30",
        "quantity": "90.000",
        "balance_after": "90.000",
        "dea_order_number": "",
    }


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"quantity": "0"}, "quantity"),
        ({"quantity": "-5"}, "quantity"),
        ({"ndc": "9999-9999-99"}, "ndc"),
        ({"ndc": ""}, "ndc"),
        ({"expiry": ""}, "expiry"),
        ({"expiry": "2020-01-31"}, "expiry"),
        ({"expiry": "31/01/2030"}, "expiry"),
        ({"lot_number": ""}, "lot_number"),
        ({"unit": "ML"}, "unit"),
    ],
)
def test_stock_receive_refuses_bad_input_naming_the_field(technician, values, field):
    package()
    given = {"ndc": "0002-3227-30", "lot_number": "A1", "expiry": "2030-06-30", "quantity": "10"}
    given.update(values)
    with nothing_written(), pytest.raises(Invalid) as caught:
        stock_receive(actor=technician, **given)
    assert caught.value.errors[0]["field"] == field


def test_stock_receive_refuses_a_recalled_lot(technician, pic):
    pkg = package()
    recall = Recall.objects.create(
        classification="II",
        reason="Subpotent",
        recall_date=dt.date(2026, 11, 1),
        recall_number="D-0101-2027",
        entered_at_site=pic.site,
        entered_by=pic,
    )
    RecallItem.objects.create(recall=recall, package=pkg, lot_number="BAD1")
    with nothing_written(), pytest.raises(Conflict, match="under recall D-0101-2027") as caught:
        stock_receive(
            actor=technician, ndc=pkg, lot_number="bad1", expiry="2030-01-31", quantity="5"
        )
    assert caught.value.field == "lot_number"


def test_a_schedule_ii_opening_balance_needs_its_222_or_csos_number(technician):
    pkg = package("0406-0552-01", name="Oxycodone", directory_dea_schedule="CII")
    with nothing_written(), pytest.raises(Invalid) as caught:
        stock_receive(
            actor=technician, ndc=pkg, lot_number="C1", expiry=FAR, quantity="100", opening=True
        )
    assert caught.value.errors[0]["field"] == "dea_order_number"
    move = stock_receive(
        actor=technician,
        ndc=pkg,
        lot_number="C1",
        expiry=FAR,
        quantity="100",
        dea_order_number="CSOS-2026-0042",
        opening=True,
    )
    assert move.balance_after == 100


def test_schedule_ii_stock_arrives_only_through_receiving_against_its_form(technician):
    pkg = package("0406-0552-01", name="Oxycodone", directory_dea_schedule="CII")
    with nothing_written(), pytest.raises(Invalid) as caught:
        stock_receive(
            actor=technician,
            ndc=pkg,
            lot_number="C1",
            expiry=FAR,
            quantity="100",
            dea_order_number="CSOS-2026-0042",
        )
    assert caught.value.field == "ndc"
    assert "Receiving" in caught.value.message


@pytest.mark.parametrize(
    "role",
    roles_without(
        Role.TECHNICIAN, Role.PHARMACIST, Role.PHARMACIST_IN_CHARGE, Role.INVENTORY_SPECIALIST
    ),
)
def test_stock_receive_is_forbidden_to_roles_without_receiving(site, role):
    package()
    user = UserFactory(site=site, role=role, username=f"u-{role}")
    with nothing_written(), pytest.raises(Forbidden):
        stock_receive(actor=user, ndc="0002-3227-30", lot_number="A", expiry=FAR, quantity="1")


def test_stock_receive_at_another_site_is_forbidden(technician, other_site):
    package()
    with nothing_written(), pytest.raises(Forbidden):
        stock_receive(
            actor=technician,
            site=other_site,
            ndc="0002-3227-30",
            lot_number="A",
            expiry=FAR,
            quantity="1",
        )


# --- Dispensing and return to stock ---------------------------------------------------------


def test_stock_dispense_takes_first_expiry_first_and_records_the_patient(site, technician):
    pkg = package()
    stock(site, pkg, "LATE", 100, expiry=dt.date(2031, 1, 31))
    stock(site, pkg, "SOON", 20, expiry=dt.date(2029, 1, 31))
    patient = PatientFactory(site=site)
    moves = stock_dispense(actor=technician, ndc=pkg, quantity="30", patient_id=patient.pk)
    assert [(m.lot.number, m.quantity, m.balance_after) for m in moves] == [
        ("SOON", -20, 0),
        ("LATE", -10, 90),
    ]
    assert {m.patient_id for m in moves} == {patient.pk}
    event = last_event()
    assert (event.action, event.patient_id) == ("inventory.stock.dispensed", patient.pk)
    assert [m["quantity"] for m in data_of(event)["moves"]] == ["-20.000", "-10.000"]


def test_stock_dispense_takes_only_the_scanned_lot(site, technician):
    pkg = package()
    stock(site, pkg, "SOON", 20, expiry=dt.date(2029, 1, 31))
    stock(site, pkg, "LATE", 100, expiry=dt.date(2031, 1, 31))
    (move,) = stock_dispense(actor=technician, ndc=pkg, quantity="30", lot_number="late")
    assert (move.lot.number, move.balance_after) == ("LATE", 70)


def test_stock_dispense_refuses_more_than_is_dispensable_and_writes_nothing(site, technician):
    pkg = package()
    stock(site, pkg, "A", 10)
    held = stock(site, pkg, "B", 50)
    StockBalance.objects.filter(pk=held.pk).update(status=LotStatus.QUARANTINED)
    with nothing_written(), pytest.raises(Conflict, match="Only 10 EA") as caught:
        stock_dispense(actor=technician, ndc=pkg, quantity="11")
    assert caught.value.field == "quantity"


def test_stock_dispense_never_takes_an_expired_lot_even_when_scanned(site, technician):
    pkg = package()
    with time_machine.travel(dt.datetime(2026, 1, 5, 15, tzinfo=dt.UTC)):
        stock(site, pkg, "OLD", 10, expiry=dt.date(2026, 3, 31))
    with (
        time_machine.travel(dt.datetime(2026, 4, 1, 15, tzinfo=dt.UTC)),
        nothing_written(),
        pytest.raises(Conflict, match="expired on 03/31/2026"),
    ):
        stock_dispense(actor=technician, ndc=pkg, quantity="1", lot_number="OLD")


@pytest.mark.parametrize(
    "role",
    roles_without(
        Role.TECHNICIAN, Role.TECHNICIAN_IN_TRAINING, Role.PHARMACIST, Role.PHARMACIST_IN_CHARGE
    ),
)
def test_stock_dispense_is_forbidden_to_roles_that_do_not_fill(site, role):
    pkg = package()
    stock(site, pkg, "A", 10)
    user = UserFactory(site=site, role=role, username=f"u-{role}")
    with nothing_written(), pytest.raises(Forbidden):
        stock_dispense(actor=user, ndc=pkg, quantity="1")


def test_stock_return_to_stock_puts_back_into_the_same_lot(site, technician):
    pkg = package()
    stock(site, pkg, "A", 30)
    (out,) = stock_dispense(actor=technician, ndc=pkg, quantity="30")
    back = stock_return_to_stock(actor=technician, lot=out.lot, quantity="30")
    assert (back.reason, back.balance_after) == (MoveReason.RETURN_TO_STOCK, 30)
    assert last_event().action == "inventory.stock.returned"
    assert ledger_verify() == (1, [])


def test_stock_return_to_stock_is_forbidden_to_an_auditor(site, auditor):
    pkg = package()
    balance = stock(site, pkg, "A", 30)
    with nothing_written(), pytest.raises(Forbidden):
        stock_return_to_stock(actor=auditor, lot=balance.lot, quantity="1")


# --- Adjustments and status ------------------------------------------------------------------


def test_stock_adjust_takes_out_damage_with_its_reason(site, inventory):
    balance = stock(site, package(), "A", 30)
    move = stock_adjust(
        actor=inventory, balance=balance, quantity="-2", reason="broken", note="Dropped bottle"
    )
    assert (move.reason, move.adjust_reason, move.quantity, move.balance_after) == (
        MoveReason.WASTE,
        "broken",
        -2,
        28,
    )
    event = last_event()
    assert (event.action, event.reason) == ("inventory.stock.adjusted", "Dropped bottle")
    assert data_of(event)["quantity"] == "-2.000"


def test_stock_adjust_adds_found_stock(site, pharmacist):
    balance = stock(site, package(), "A", 30)
    move = stock_adjust(actor=pharmacist, balance=balance, quantity="+5", reason="found")
    assert (move.reason, move.quantity, move.balance_after) == (MoveReason.ADJUST, 5, 35)


@pytest.mark.parametrize(
    ("quantity", "reason", "note", "field"),
    [
        ("-31", "damaged", "", "quantity"),
        ("0", "found", "", "quantity"),
        ("2", "damaged", "", "quantity"),
        ("-1", "because", "", "reason"),
        ("-1", "other", " ", "note"),
    ],
)
def test_stock_adjust_refuses_a_broken_rule_and_writes_nothing(
    site, pharmacist, quantity, reason, note, field
):
    balance = stock(site, package(), "A", 30)
    with nothing_written(), pytest.raises((Invalid, Conflict)) as caught:
        stock_adjust(actor=pharmacist, balance=balance, quantity=quantity, reason=reason, note=note)
    assert caught.value.errors[0]["field"] == field


@pytest.mark.parametrize(
    "role", [Role.TECHNICIAN, Role.TECHNICIAN_IN_TRAINING, Role.AUDITOR, Role.ADMIN]
)
def test_stock_adjust_is_forbidden_to_roles_without_it(site, role):
    balance = stock(site, package(), "A", 30)
    user = UserFactory(site=site, role=role, username=f"u-{role}")
    with nothing_written(), pytest.raises(Forbidden):
        stock_adjust(actor=user, balance=balance, quantity="-1", reason="damaged")


def test_stock_adjust_of_another_sites_stock_is_forbidden(site, other_site, pharmacist):
    balance = stock(other_site, package(), "A", 30)
    with nothing_written(), pytest.raises(Forbidden):
        stock_adjust(actor=pharmacist, balance=balance, quantity="-1", reason="damaged")


def test_quarantined_stock_is_released_only_by_a_pharmacist(site, inventory, pharmacist):
    pkg = package()
    balance = stock(site, pkg, "A", 30)
    stock_status_set(
        actor=inventory, balance=balance, status="quarantined", reason="Box arrived wet"
    )
    assert last_event().action == "inventory.stock.status_changed"
    assert data_of(last_event())["status"] == ["available", "quarantined"]
    with nothing_written(), pytest.raises(Forbidden):
        stock_status_set(actor=inventory, balance=balance, status="available", reason="ok")
    stock_status_set(
        actor=pharmacist, balance=balance, status="available", reason="Inspected; sealed and dry"
    )
    balance.refresh_from_db()
    assert balance.status == LotStatus.AVAILABLE


def test_recalled_stock_cannot_be_released_by_hand(site, pic):
    balance = stock(site, package(), "A", 30)
    StockBalance.objects.filter(pk=balance.pk).update(status=LotStatus.RECALLED)
    with nothing_written(), pytest.raises(Conflict, match="cannot be changed by hand"):
        stock_status_set(actor=pic, balance=balance, status="available", reason="mistake")


def test_stock_status_set_needs_a_reason_and_a_hand_settable_status(site, pic):
    balance = stock(site, package(), "A", 30)
    with nothing_written(), pytest.raises(Invalid) as caught:
        stock_status_set(actor=pic, balance=balance, status="recalled", reason="x")
    assert caught.value.errors[0]["field"] == "status"
    with nothing_written(), pytest.raises(Invalid) as caught:
        stock_status_set(actor=pic, balance=balance, status="on_hold", reason=" ")
    assert caught.value.errors[0]["field"] == "reason"


def test_stock_status_set_is_forbidden_to_a_technician(site, technician):
    balance = stock(site, package(), "A", 30)
    with nothing_written(), pytest.raises(Forbidden):
        stock_status_set(actor=technician, balance=balance, status="on_hold", reason="x")


# --- Locations -----------------------------------------------------------------------------


def test_location_create_and_update_are_recorded(site, inventory):
    fridge = location_create(
        actor=inventory,
        code="FR1",
        name="Vaccine fridge",
        kind="refrigerator",
        temperature_min_c=Decimal("2.0"),
        temperature_max_c=Decimal("8.0"),
    )
    assert last_event().action == "inventory.location.created"
    location_update(actor=inventory, location=fridge, name="Vaccine fridge (front)")
    assert data_of(last_event()) == {
        "changes": {"name": ["Vaccine fridge", "Vaccine fridge (front)"]}
    }


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"kind": "refrigerator"}, "temperature_min_c"),
        ({"temperature_min_c": Decimal(8), "temperature_max_c": Decimal(2)}, "temperature_max_c"),
        ({"code": ""}, "code"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_location_create_refuses_bad_input(site, inventory, values, field):
    given = {"code": "FR1", "name": "Fridge", **values}
    with nothing_written(StorageLocation), pytest.raises(Invalid) as caught:
        location_create(actor=inventory, **given)
    assert caught.value.errors[0]["field"] == field


def test_location_create_is_forbidden_to_a_technician(site, technician):
    with nothing_written(StorageLocation), pytest.raises(Forbidden):
        location_create(actor=technician, code="S1", name="Shelf")


def test_stock_relocate_records_where_a_lot_is_kept(site, inventory, technician):
    shelf = location_create(actor=inventory, code="B-04", name="Bay 4")
    balance = stock(site, package(), "A", 30)
    stock_relocate(actor=technician, balance=balance, location="B-04")
    balance.refresh_from_db()
    assert balance.location == shelf
    assert data_of(last_event()) == {"location": [None, "B-04"]}
    with nothing_written(), pytest.raises(Invalid):
        stock_relocate(actor=technician, balance=balance, location="NOPE")


# --- Transfers -----------------------------------------------------------------------------


@pytest.fixture
def sister(site, other_site):
    org = Organization.objects.create(name="Riverside Health")
    for s in (site, other_site):
        s.organization = org
        s.save(update_fields=["organization"])
    return other_site


def test_a_transfer_leaves_one_site_and_arrives_at_the_other(site, sister, technician):
    pkg = package()
    balance = stock(site, pkg, "A", 100)
    transfer = stock_transfer_send(
        actor=technician, to_site=sister, lines=[{"balance": balance.pk, "quantity": "40"}]
    )
    balance.refresh_from_db()
    assert balance.on_hand == 60
    assert last_event().action == "inventory.transfer.sent"
    receiver = UserFactory(site=sister, role=Role.TECHNICIAN, username="sister-tech")
    stock_transfer_receive(actor=receiver, transfer=transfer)
    arrived = StockBalance.objects.get(site=sister, lot=balance.lot)
    assert arrived.on_hand == 40
    transfer.refresh_from_db()
    assert (transfer.status, transfer.received_by) == (TransferStatus.RECEIVED, receiver)
    event = AuditEvent.objects.filter(site=sister).order_by("-id").first()
    assert event is not None and event.action == "inventory.transfer.received"
    assert ledger_verify() == (2, [])
    with nothing_written(), pytest.raises(Conflict, match="already been received"):
        stock_transfer_receive(actor=receiver, transfer=transfer)


def test_a_transfer_only_goes_to_a_site_of_the_same_organization(site, other_site, technician):
    balance = stock(site, package(), "A", 100)
    with nothing_written(StockTransfer), pytest.raises(Invalid) as caught:
        stock_transfer_send(
            actor=technician, to_site=other_site, lines=[{"balance": balance.pk, "quantity": "1"}]
        )
    assert caught.value.errors[0]["field"] == "to_site"


def test_a_transfer_of_more_than_on_hand_writes_nothing(site, sister, technician):
    balance = stock(site, package(), "A", 10)
    with nothing_written(StockTransfer), pytest.raises(Conflict):
        stock_transfer_send(
            actor=technician, to_site=sister, lines=[{"balance": balance.pk, "quantity": "11"}]
        )


def test_a_transfer_is_received_only_by_the_receiving_site(site, sister, technician):
    balance = stock(site, package(), "A", 10)
    transfer = stock_transfer_send(
        actor=technician, to_site=sister, lines=[{"balance": balance.pk, "quantity": "1"}]
    )
    with nothing_written(), pytest.raises(Forbidden):
        stock_transfer_receive(actor=technician, transfer=transfer)


def test_a_transfer_is_forbidden_to_a_trainee(site, sister, trainee):
    balance = stock(site, package(), "A", 10)
    with nothing_written(StockTransfer), pytest.raises(Forbidden):
        stock_transfer_send(
            actor=trainee, to_site=sister, lines=[{"balance": balance.pk, "quantity": "1"}]
        )


def test_the_cli_operator_names_the_site(site, cli_context):
    package()
    with nothing_written(), pytest.raises(Invalid) as caught:
        stock_receive(actor=None, ndc="0002-3227-30", lot_number="A", expiry=FAR, quantity="1")
    assert caught.value.errors[0]["field"] == "site"
    move = stock_receive(
        actor=None,
        site=site,
        ndc="0002-3227-30",
        lot_number="A",
        expiry=FAR,
        quantity="1",
        opening=True,
    )
    assert (move.reason, move.actor_name) == (MoveReason.OPENING, "system")
    assert lot_of(move.package, "A").expiry == FAR


def test_a_lot_recalled_while_in_transit_arrives_recalled(site, sister, technician, pic):
    from rxdesk.inventory.services.recalls import recall_create

    pkg = package()
    balance = stock(site, pkg, "A", 100)
    transfer = stock_transfer_send(
        actor=technician, to_site=sister, lines=[{"balance": balance.pk, "quantity": "40"}]
    )
    recall = recall_create(
        actor=pic,
        classification="II",
        reason="Subpotent",
        recall_date=dt.date(2026, 11, 20),
        recall_number="D-0200-2027",
        items=[{"ndc": pkg.ndc10, "lot_number": "A"}],
    )
    receiver = UserFactory(site=sister, role=Role.TECHNICIAN, username="sister-tech")
    stock_transfer_receive(actor=receiver, transfer=transfer)
    arrived = StockBalance.objects.get(site=sister, lot=balance.lot)
    assert (arrived.on_hand, arrived.status) == (40, LotStatus.RECALLED)
    assert recall.stock.filter(balance=arrived).get().quantity_at_quarantine == 40
    with pytest.raises(Conflict):
        stock_dispense(actor=receiver, ndc=pkg, quantity="1")


def test_a_lot_of_a_closed_recall_is_still_refused_but_new_lots_are_not(technician, pic):
    pkg = package()
    lot_recall = Recall.objects.create(
        classification="I",
        reason="Mislabeled",
        recall_date=dt.date(2026, 1, 1),
        recall_number="D-1-2026",
        entered_at_site=pic.site,
        status="closed",
    )
    RecallItem.objects.create(recall=lot_recall, package=pkg, lot_number="BAD")
    all_lots = Recall.objects.create(
        classification="III",
        reason="Label",
        recall_date=dt.date(2026, 2, 1),
        recall_number="D-2-2026",
        entered_at_site=pic.site,
        status="closed",
    )
    RecallItem.objects.create(recall=all_lots, package=pkg, lot_number="")
    with nothing_written(), pytest.raises(Conflict, match="under recall D-1-2026"):
        stock_receive(actor=technician, ndc=pkg, lot_number="bad", expiry=FAR, quantity="5")
    move = stock_receive(actor=technician, ndc=pkg, lot_number="NEW", expiry=FAR, quantity="5")
    assert move.balance_after == 5


@pytest.mark.parametrize("balance", ["LOT", "99999999999999999999", "-1", None])
def test_a_transfer_line_naming_no_stock_names_the_field(site, sister, technician, balance):
    with nothing_written(StockTransfer), pytest.raises(Invalid) as caught:
        stock_transfer_send(
            actor=technician, to_site=sister, lines=[{"balance": balance, "quantity": "1"}]
        )
    assert caught.value.errors[0]["field"] == "lines.0.balance"
