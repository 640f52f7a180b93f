"""Property test (hypothesis, stateful): any sequence of receiving, dispensing (first
expiry first or a scanned lot), adjusting, status changes and returns to stock leaves the
ledger exactly where a plain in-memory model of the pharmacy's shelf says it must be, with
balance = sum of moves and nothing below zero."""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from rxdesk.core.choices import Role
from rxdesk.core.errors import Conflict
from rxdesk.inventory.ledger import ledger_verify
from rxdesk.inventory.models import StockBalance
from rxdesk.inventory.services.stock import (
    stock_adjust,
    stock_dispense,
    stock_receive,
    stock_return_to_stock,
    stock_status_set,
)
from tests.factories import SiteFactory, UserFactory
from tests.inventory.factories import package

LOTS = {"A": dt.date(2029, 3, 31), "B": dt.date(2030, 3, 31), "C": dt.date(2031, 3, 31)}
_sites = itertools.count()

quantities = st.integers(min_value=1, max_value=40)


class Shelf(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        n = next(_sites)
        self.site = SiteFactory(name=f"Property {n}")
        self.pic = UserFactory(
            site=self.site, role=Role.PHARMACIST_IN_CHARGE, username=f"prop-pic-{n}"
        )
        self.pkg = package()
        # The model: lot -> [on hand, status]
        self.model: dict[str, list] = {}

    def _balance(self, lot: str) -> StockBalance:
        return StockBalance.objects.get(site=self.site, lot__package=self.pkg, lot__number=lot)

    def _dispensable(self) -> list[str]:
        return sorted(
            (lot for lot, (qty, status) in self.model.items() if status == "available" and qty),
            key=lambda lot: LOTS[lot],
        )

    @rule(lot=st.sampled_from(sorted(LOTS)), qty=quantities)
    def receive(self, lot: str, qty: int) -> None:
        stock_receive(actor=self.pic, ndc=self.pkg, lot_number=lot, expiry=LOTS[lot], quantity=qty)
        self.model.setdefault(lot, [0, "available"])[0] += qty

    @rule(qty=quantities)
    def dispense_first_expiry_first(self, qty: int) -> None:
        usable = self._dispensable()
        if sum(self.model[lot][0] for lot in usable) < qty:
            with pytest.raises(Conflict):
                stock_dispense(actor=self.pic, ndc=self.pkg, quantity=qty)
            return
        moves = stock_dispense(actor=self.pic, ndc=self.pkg, quantity=qty)
        remaining = qty
        expected = []
        for lot in usable:
            take = min(self.model[lot][0], remaining)
            if take:
                expected.append((lot, -take))
                self.model[lot][0] -= take
                remaining -= take
        assert [(m.lot.number, int(m.quantity)) for m in moves] == expected

    @rule(lot=st.sampled_from(sorted(LOTS)), qty=quantities)
    def dispense_scanned_lot(self, lot: str, qty: int) -> None:
        if lot not in self.model:
            return
        on_hand, status = self.model[lot]
        if status != "available" or on_hand < qty:
            with pytest.raises(Conflict):
                stock_dispense(actor=self.pic, ndc=self.pkg, quantity=qty, lot_number=lot)
            return
        stock_dispense(actor=self.pic, ndc=self.pkg, quantity=qty, lot_number=lot)
        self.model[lot][0] -= qty

    @rule(lot=st.sampled_from(sorted(LOTS)), qty=quantities, out=st.booleans())
    def adjust(self, lot: str, qty: int, out: bool) -> None:
        if lot not in self.model:
            return
        if out and self.model[lot][0] < qty:
            with pytest.raises(Conflict):
                stock_adjust(
                    actor=self.pic, balance=self._balance(lot), quantity=f"-{qty}", reason="broken"
                )
            return
        stock_adjust(
            actor=self.pic,
            balance=self._balance(lot),
            quantity=f"-{qty}" if out else str(qty),
            reason="broken" if out else "found",
        )
        self.model[lot][0] += -qty if out else qty

    @rule(lot=st.sampled_from(sorted(LOTS)), status=st.sampled_from(["quarantined", "available"]))
    def set_status(self, lot: str, status: str) -> None:
        if lot not in self.model or self.model[lot][1] == status:
            return
        stock_status_set(actor=self.pic, balance=self._balance(lot), status=status, reason="test")
        self.model[lot][1] = status

    @rule(lot=st.sampled_from(sorted(LOTS)), qty=quantities)
    def return_to_stock(self, lot: str, qty: int) -> None:
        if lot not in self.model:
            return
        stock_return_to_stock(actor=self.pic, lot=self._balance(lot).lot, quantity=qty)
        self.model[lot][0] += qty

    @invariant()
    def shelf_matches_the_model(self) -> None:
        actual = {
            b.lot.number: [int(b.on_hand), b.status]
            for b in StockBalance.objects.filter(site=self.site).select_related("lot")
        }
        assert actual == self.model
        assert all(Decimal(q) >= 0 for q, _ in actual.values())

    def teardown(self) -> None:
        checked, problems = ledger_verify(site_id=self.site.pk)
        assert problems == []
        assert checked == len(self.model)


@pytest.mark.django_db
def test_the_ledger_behaves_like_a_simple_shelf() -> None:
    run_state_machine_as_test(
        Shelf,
        settings=settings(
            max_examples=40,
            stateful_step_count=25,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
        ),
    )
