"""The ledger engine: balances move only with moves, never below zero, FEFO, and only
dispensable lots leave for a patient."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import time_machine
from django.db import transaction

from rxdesk.core.errors import Conflict, Invalid
from rxdesk.inventory import ledger
from rxdesk.inventory.choices import LotStatus, MoveReason
from rxdesk.inventory.models import StockBalance, StockMove
from tests.inventory.factories import lot_of, package, stock

pytestmark = pytest.mark.django_db


def test_it_records_the_balance_after_each_move(site):
    pkg = package()
    balance = stock(site, pkg, "A1", 100)
    with transaction.atomic():
        ledger.post_out(
            balance=balance, quantity=Decimal(30), reason=MoveReason.DISPENSE, actor=None
        )
    moves = list(StockMove.objects.filter(lot=balance.lot).values_list("quantity", "balance_after"))
    assert moves == [
        (Decimal("100.000"), Decimal("100.000")),
        (Decimal("-30.000"), Decimal("70.000")),
    ]
    balance.refresh_from_db()
    assert balance.on_hand == Decimal("70.000")
    assert ledger.ledger_verify() == (1, [])


def test_it_refuses_to_go_below_zero_and_writes_nothing(site):
    balance = stock(site, package(), "A1", 10)
    with pytest.raises(Conflict, match="Only 10 EA of lot A1 on hand"), transaction.atomic():
        ledger.post_out(balance=balance, quantity=Decimal(11), reason=MoveReason.WASTE, actor=None)
    balance.refresh_from_db()
    assert balance.on_hand == 10
    assert StockMove.objects.count() == 1


def test_it_takes_first_expiry_first_across_lots(site):
    pkg = package()
    stock(site, pkg, "LATE", 50, expiry=dt.date(2031, 1, 31))
    stock(site, pkg, "SOON", 40, expiry=dt.date(2029, 6, 30))
    with transaction.atomic():
        moves = ledger.take(
            site=site, package=pkg, quantity=Decimal(60), reason=MoveReason.DISPENSE, actor=None
        )
    assert [(m.lot.number, m.quantity) for m in moves] == [("SOON", -40), ("LATE", -20)]


def test_it_never_dispenses_expired_recalled_or_quarantined_lots(site):
    pkg = package()
    with time_machine.travel(dt.datetime(2026, 1, 1, 12, tzinfo=dt.UTC)):
        stock(site, pkg, "OLD", 100, expiry=dt.date(2026, 5, 31))
    stock(site, pkg, "HELD", 100)
    held = StockBalance.objects.get(lot=lot_of(pkg, "HELD"))
    with transaction.atomic():
        ledger.status_set(balance=held, status=LotStatus.RECALLED, reason="Recall D-1")
    with time_machine.travel(dt.datetime(2026, 6, 2, 12, tzinfo=dt.UTC)):
        with (
            pytest.raises(Conflict, match="0 EA of NDC 0002-3227-30 can be dispensed"),
            transaction.atomic(),
        ):
            ledger.take(
                site=site,
                package=pkg,
                quantity=Decimal(1),
                reason=MoveReason.DISPENSE,
                actor=None,
            )
        with pytest.raises(Conflict, match="expired on 05/31/2026"), transaction.atomic():
            ledger.take(
                site=site,
                package=pkg,
                quantity=Decimal(1),
                reason=MoveReason.DISPENSE,
                actor=None,
                lot=lot_of(pkg, "OLD"),
            )
    assert StockMove.objects.filter(reason=MoveReason.DISPENSE).count() == 0


@pytest.mark.parametrize("bad", ["0", "-1", "abc", "1.0001", "NaN", "1e20", None])
def test_it_refuses_bad_quantities_naming_the_field(bad):
    with pytest.raises(Invalid) as caught:
        ledger.quantity_of(bad)
    assert caught.value.errors[0]["field"] == "quantity"


def test_a_lot_number_on_file_with_another_expiry_is_refused(site):
    pkg = package()
    stock(site, pkg, "A1", 5, expiry=dt.date(2030, 1, 31))
    with pytest.raises(Invalid) as caught, transaction.atomic():
        ledger.lot_get_or_create(package=pkg, number="a1", expiry=dt.date(2031, 1, 31))
    assert caught.value.errors[0]["field"] == "expiry"


def test_verify_names_a_balance_that_disagrees_with_its_moves(site):
    balance = stock(site, package(), "A1", 10)
    StockBalance.objects.filter(pk=balance.pk).update(on_hand=9)  # simulated corruption
    checked, problems = ledger.ledger_verify()
    assert checked == 1
    assert [(p.lot_id, p.on_hand, p.moves_total) for p in problems] == [
        (balance.lot_id, Decimal("9.000"), Decimal("10.000"))
    ]


def test_moves_are_append_only(site):
    stock(site, package(), "A1", 10)
    move = StockMove.objects.get()
    with pytest.raises(PermissionError):
        move.save()
    with pytest.raises(PermissionError):
        StockMove.objects.all().delete()
    with pytest.raises(PermissionError):
        StockMove.objects.update(quantity=1)
