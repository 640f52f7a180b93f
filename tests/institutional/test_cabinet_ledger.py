"""The cabinets' stock ledger (rxdesk.institutional.cabinet_ledger): post, take first expiry
first, count, and the proof (cabinet_verify). Any sequence of restocks, removals, returns,
waste, counts and unloads keeps each pocket lot equal to the sum of its moves, the pocket's
total equal to the sum of its lots and each move's balance_after equal to the running total;
a corrupted row is found; two workers taking a pocket's last units never take it below zero
(PostgreSQL)."""

from __future__ import annotations

import datetime as dt
import itertools
import threading
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection, transaction
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from rxdesk.core.choices import Role
from rxdesk.core.errors import Conflict, Invalid
from rxdesk.institutional import cabinet_ledger as cl
from rxdesk.institutional import services_cabinets as services
from rxdesk.institutional.choices import CabinetEvent
from rxdesk.institutional.models import CabinetMove, Pocket, PocketStock
from rxdesk.inventory import ledger
from rxdesk.inventory.ledger import ledger_verify
from rxdesk.inventory.models import StockBalance
from tests.factories import SiteFactory, UserFactory
from tests.institutional.cabinets_setup import prozac, shelf, ward
from tests.institutional.factories import cabinet, pocket, pocket_stock

WHO = cl.Who(note="test")
D = Decimal


def _lot(pkg, number, expiry=dt.date(2030, 12, 31)):
    with transaction.atomic():
        return ledger.lot_get_or_create(package=pkg, number=number, expiry=expiry)


def _post(p, lot, quantity, event):
    with transaction.atomic():
        return cl.post(pocket=p, lot=lot, quantity=D(quantity), event=event, who=WHO)


def _lots(p):
    return {
        r.lot.number: r.on_hand
        for r in PocketStock.objects.filter(pocket=p).select_related("lot").order_by("lot__number")
    }


# --- post / take / count ------------------------------------------------------------------------


def test_post_adds_and_takes_and_keeps_the_running_total(site):
    p = pocket(cabinet(site))
    a, b = _lot(p.package, "A"), _lot(p.package, "B")
    _post(p, a, "5", CabinetEvent.RESTOCK)
    _post(p, b, "3", CabinetEvent.RESTOCK)
    move = _post(p, a, "-2", CabinetEvent.REMOVAL)
    assert move.balance_after == D(6)
    p.refresh_from_db()
    assert p.on_hand == D(6)
    assert _lots(p) == {"A": D(3), "B": D(3)}
    assert cl.cabinet_verify(site_id=site.pk) == (3, [])


def test_post_refuses_the_wrong_sign_and_never_goes_below_zero(site):
    p = pocket_stock(pocket(cabinet(site)), "A", 2)
    a = _lot(p.package, "A")
    with pytest.raises(ValueError):
        _post(p, a, "-1", CabinetEvent.RESTOCK)
    with pytest.raises(ValueError):
        _post(p, a, "1", CabinetEvent.REMOVAL)
    with pytest.raises(Conflict) as err:
        _post(p, a, "-3", CabinetEvent.REMOVAL)
    assert err.value.message == "Pocket 1-A holds only 2 of lot A; cannot take 3."
    p.refresh_from_db()
    assert p.on_hand == D(2) and CabinetMove.objects.count() == 1


def test_post_refuses_a_lot_of_another_package(site):
    p = pocket(cabinet(site))
    other = ward(site)["cs"].package
    with pytest.raises(Invalid) as err:
        _post(p, _lot(other, "OX9"), "1", CabinetEvent.RESTOCK)
    assert err.value.field == "lot"


def test_take_is_first_expiry_first_and_reports_the_shortfall(site):
    p = pocket(cabinet(site))
    pocket_stock(p, "LATE", 2, dt.date(2031, 1, 31))
    pocket_stock(p, "SOON", 2, dt.date(2029, 1, 31))
    with transaction.atomic():
        moves, short = cl.take(pocket=p, quantity=D(5), event=CabinetEvent.REMOVAL, who=WHO)
    assert [(m.lot.number, m.quantity) for m in moves] == [("SOON", D(-2)), ("LATE", D(-2))]
    assert short == D(1)
    p.refresh_from_db()
    assert p.on_hand == 0


def test_take_starts_with_the_lot_the_cabinet_named(site):
    p = pocket(cabinet(site))
    pocket_stock(p, "LATE", 2, dt.date(2031, 1, 31))
    pocket_stock(p, "SOON", 2, dt.date(2029, 1, 31))
    late = _lot(p.package, "LATE", dt.date(2031, 1, 31))
    with transaction.atomic():
        moves, short = cl.take(
            pocket=p, quantity=D(3), event=CabinetEvent.REMOVAL, who=WHO, lot=late
        )
    assert [(m.lot.number, m.quantity) for m in moves] == [("LATE", D(-2)), ("SOON", D(-1))]
    assert short == 0


def test_count_sets_the_pocket_to_what_was_found(site):
    p = pocket(cabinet(site))
    pocket_stock(p, "SOON", 3, dt.date(2029, 1, 31))
    pocket_stock(p, "LATE", 3, dt.date(2031, 1, 31))
    with transaction.atomic():
        moves, expected = cl.count(pocket=p, counted=D(4), who=WHO)
    assert expected == D(6)
    assert [(m.event, m.lot.number, m.quantity) for m in moves] == [
        (CabinetEvent.COUNT, "SOON", D(-2))
    ]
    with transaction.atomic():
        moves, expected = cl.count(pocket=p, counted=D(5), who=WHO)
    # an overage goes to the lot most recently put in
    assert [(m.lot.number, m.quantity, m.balance_after) for m in moves] == [("LATE", D(1), D(5))]
    with transaction.atomic():
        moves, expected = cl.count(pocket=p, counted=D(5), who=WHO)
    assert [(m.quantity, m.balance_after) for m in moves] == [(D(0), D(5))]  # agreed: recorded
    assert _lots(p) == {"LATE": D(4), "SOON": D(1)}
    assert cl.cabinet_verify(site_id=site.pk)[1] == []


def test_an_overage_in_a_pocket_never_stocked_is_refused(site):
    p = pocket(cabinet(site))
    with transaction.atomic(), pytest.raises(Conflict):
        cl.count(pocket=p, counted=D(2), who=WHO)
    with transaction.atomic():
        assert cl.count(pocket=p, counted=D(0), who=WHO) == ([], D(0))


def test_an_overage_goes_to_a_lot_of_the_drug_the_pocket_holds_now(site, pharmacist):
    """A pocket emptied and set up for another drug keeps the old drug's moves: a count's
    overage must land on a lot of the new drug (cabinet_ledger.last_lot)."""
    w = ward(site)
    p = pocket_stock(w["plain"], "OLD", 2)
    with transaction.atomic():
        cl.take(pocket=p, quantity=D(2), event=CabinetEvent.UNLOAD, who=WHO)
    services.pocket_save(
        actor=pharmacist,
        cabinet=p.cabinet,
        pocket=p,
        drawer="1",
        pocket_code="A",
        package=w["cs"].package,
        par="10",
        minimum="3",
    )
    p.refresh_from_db()
    assert cl.last_lot(p) is None
    pocket_stock(p, "NEW", 1)
    assert cl.last_lot(p).number == "NEW"


def test_discrepancy_is_due_by_the_end_of_the_window(site):
    p = pocket(cabinet(site))
    opened = dt.datetime(2026, 1, 5, 8, 0, tzinfo=dt.UTC)
    with transaction.atomic():
        d = cl.discrepancy_open(
            pocket=p, kind="count_mismatch", expected=D(5), found=D(4), move=None, opened_at=opened
        )
    assert d.due_at == opened + dt.timedelta(hours=12)
    assert d.difference == D(-1)


# --- The proof ----------------------------------------------------------------------------------


def test_verify_finds_a_corrupted_lot_a_corrupted_total_and_a_wrong_running_total(site):
    p = pocket_stock(pocket(cabinet(site)), "A", 5)
    assert cl.cabinet_verify(site_id=site.pk)[1] == []
    PocketStock.objects.filter(pocket=p).update(on_hand=D(7))
    problems = cl.cabinet_verify(site_id=site.pk)[1]
    assert [x.detail for x in problems] == [
        "lot stock differs from its moves",
        "pocket total differs from its lots",
    ]
    PocketStock.objects.filter(pocket=p).update(on_hand=D(5))
    # a move whose balance_after is wrong (written around the engine)
    CabinetMove.objects.create(
        site=site,
        cabinet=p.cabinet,
        pocket=p,
        package=p.package,
        lot=_lot(p.package, "A"),
        event=CabinetEvent.COUNT,
        quantity=D(0),
        balance_after=D(9),
        source="user",
        occurred_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
    )
    problems = cl.cabinet_verify(site_id=site.pk)[1]
    assert len(problems) == 1 and "records 9" in problems[0].detail


def test_the_command_says_so_and_exits_nonzero_on_a_mismatch(site, cli_context):
    p = pocket_stock(pocket(cabinet(site)), "A", 5)
    out = StringIO()
    call_command("cabinet-verify", "--site", str(site.pk), stdout=out)
    assert "1 pockets checked, no mismatches." in out.getvalue()
    Pocket.objects.filter(pk=p.pk).update(on_hand=D(4))
    out = StringIO()
    with pytest.raises(SystemExit) as exited:
        call_command("cabinet-verify", stdout=out)
    assert exited.value.code == 1
    assert f"Pocket {p.pk}: pocket total differs from its lots (recorded 4, from the moves 5)" in (
        out.getvalue()
    )


# --- Any sequence keeps the ledger whole (hypothesis) -------------------------------------------

_sites = itertools.count()
LOTS = {"P-NEAR": dt.date(2029, 6, 30), "P-FAR": dt.date(2030, 12, 31)}
amounts = st.integers(min_value=1, max_value=12)


class OnePocket(RuleBasedStateMachine):
    """A model of one pocket (lot → units) driven through the services and the engine."""

    def __init__(self) -> None:
        super().__init__()
        n = next(_sites)
        self.site = SiteFactory(name=f"Cabinet property {n}")
        self.tech = UserFactory(site=self.site, role=Role.TECHNICIAN, username=f"cab-tech-{n}")
        shelf(self.site)
        self.box = cabinet(self.site)
        self.pocket = pocket(self.box, prozac(), par="40", minimum="5")
        self.model: dict[str, int] = {}

    def _total(self) -> int:
        return sum(self.model.values())

    def _fefo(self, quantity: int) -> None:
        for lot in sorted(self.model, key=lambda x: LOTS[x]):
            portion = min(self.model[lot], quantity)
            self.model[lot] -= portion
            quantity -= portion

    @rule(lot=st.sampled_from(sorted(LOTS)), qty=amounts)
    def restock(self, lot: str, qty: int) -> None:
        line = {"pocket_id": self.pocket.pk, "lot_number": lot, "quantity": qty}
        on_shelf = StockBalance.objects.get(site=self.site, lot__number=lot).on_hand
        if self._total() + qty > 40 or on_shelf < qty:
            with pytest.raises((Invalid, Conflict)):
                services.cabinet_restock(actor=self.tech, cabinet=self.box, lines=[line])
            return
        services.cabinet_restock(actor=self.tech, cabinet=self.box, lines=[line])
        self.model[lot] = self.model.get(lot, 0) + qty

    @rule(qty=amounts, event=st.sampled_from([CabinetEvent.REMOVAL, CabinetEvent.WASTE]))
    def removal_or_waste(self, qty: int, event: str) -> None:
        with transaction.atomic():
            _moves, short = cl.take(pocket=self.pocket, quantity=D(qty), event=event, who=WHO)
        assert short == max(qty - self._total(), 0)
        self._fefo(qty)

    @rule(lot=st.sampled_from(sorted(LOTS)), qty=amounts)
    def nurse_returns(self, lot: str, qty: int) -> None:
        if lot not in self.model:
            return
        the_lot = ledger.lot_get_or_create(
            package=self.pocket.package, number=lot, expiry=LOTS[lot]
        )
        with transaction.atomic():
            cl.post(
                pocket=self.pocket, lot=the_lot, quantity=D(qty), event=CabinetEvent.RETURN, who=WHO
            )
        self.model[lot] += qty

    @rule(counted=st.integers(min_value=0, max_value=40))
    def count(self, counted: int) -> None:
        total = self._total()
        if counted > total and not self.model:
            with transaction.atomic(), pytest.raises(Conflict):
                cl.count(pocket=self.pocket, counted=D(counted), who=WHO)
            return
        with transaction.atomic():
            cl.count(pocket=self.pocket, counted=D(counted), who=WHO)
        if counted < total:
            self._fefo(total - counted)
        elif counted > total:
            newest = CabinetMove.objects.filter(pocket=self.pocket).order_by("-id").first()
            assert newest is not None and newest.quantity == counted - total
            self.model[newest.lot.number] += counted - total

    @rule(qty=amounts)
    def unload(self, qty: int) -> None:
        if qty > self._total():
            with pytest.raises(Conflict):
                services.pocket_unload(
                    actor=self.tech, pocket=self.pocket, quantity=qty, reason="x"
                )
            return
        services.pocket_unload(actor=self.tech, pocket=self.pocket, quantity=qty, reason="x")
        self._fefo(qty)

    @invariant()
    def the_pocket_matches_the_model(self) -> None:
        lots = {k: int(v) for k, v in _lots(self.pocket).items() if v}
        assert lots == {k: v for k, v in self.model.items() if v}
        self.pocket.refresh_from_db()
        assert self.pocket.on_hand == D(self._total())
        assert cl.cabinet_verify(site_id=self.site.pk)[1] == []

    def teardown(self) -> None:
        assert ledger_verify(site_id=self.site.pk)[1] == []
        assert cl.cabinet_verify(site_id=self.site.pk)[1] == []


@pytest.mark.slow
@pytest.mark.django_db
def test_any_sequence_keeps_stock_equal_to_the_sum_of_its_moves() -> None:
    run_state_machine_as_test(
        OnePocket,
        settings=settings(
            max_examples=25,
            stateful_step_count=20,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
        ),
    )


@pytest.mark.django_db
def test_a_short_sequence_keeps_stock_equal_to_the_sum_of_its_moves() -> None:
    run_state_machine_as_test(
        OnePocket,
        settings=settings(
            max_examples=4,
            stateful_step_count=12,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
        ),
    )


# --- Concurrency (PostgreSQL) -------------------------------------------------------------------


@pytest.mark.postgres
def test_two_workers_taking_the_last_units_never_go_below_zero(transactional_db):
    site = SiteFactory(name="Concurrent cabinet")
    p = pocket_stock(pocket(cabinet(site)), "A", 1)
    barrier = threading.Barrier(2)
    results: list[Decimal] = []
    errors: list[BaseException] = []

    def work() -> None:
        try:
            barrier.wait()
            with transaction.atomic():
                _moves, short = cl.take(
                    pocket=Pocket.objects.get(pk=p.pk),
                    quantity=D(1),
                    event=CabinetEvent.REMOVAL,
                    who=WHO,
                )
            results.append(short)
        except BaseException as exc:  # surfaced below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=work) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] or all(isinstance(e, Conflict) for e in errors)
    p.refresh_from_db()
    assert p.on_hand == 0
    assert PocketStock.objects.get(pocket=p).on_hand == 0
    assert CabinetMove.objects.filter(pocket=p, event=CabinetEvent.REMOVAL).count() == 1
    assert sorted(results) == [D(0), D(1)] or (len(results) == 1 and len(errors) == 1)
    assert cl.cabinet_verify(site_id=site.pk)[1] == []
