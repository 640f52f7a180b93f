"""Property test (hypothesis, stateful) of the fill workflow: random sequences of its steps
— data verification (approve or send back), filling with the right or a wrong scan (or a
pharmacist's accepted override), final verification (approve or send back), hold and
release, sale, return to stock, refill requests — taken by random roles on a few
prescriptions with stock on the shelf. After every step:

- each step ended as a plain model of the workflow says (who may take it, from which status)
  and a refused step changed nothing;
- no pharmacist-only step (data or final verification, a send-back at either, an accepted
  scan) was ever taken by anyone but a pharmacist;
- the stock ledger's net for each fill is minus its quantity while the product is out of
  stock (filled, ready, sold) and zero otherwise, and balance = sum of moves;
- no fill is both sold and returned;
- every fill's history starts with "entered" and each step starts where the one before
  ended, up to the fill's status now (complete and gapless)."""

from __future__ import annotations

import itertools
from decimal import Decimal
from typing import Any

import pytest
from django.db.models import Sum
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)

from rxdesk.core.choices import PHARMACIST_ROLES, Role
from rxdesk.core.errors import Conflict, DomainError, Forbidden, Invalid
from rxdesk.core.models import User
from rxdesk.inventory.ledger import ledger_verify
from rxdesk.inventory.models import StockMove
from rxdesk.rx import services
from rxdesk.rx.choices import FillStatus as S
from rxdesk.rx.choices import FillStep
from rxdesk.rx.models import Fill, FillEvent, Prescription
from rxdesk.rx.services import workflow
from tests.catalog.factories import PackageFactory, ProductFactory
from tests.conftest import on_postgres
from tests.factories import SiteFactory, UserFactory
from tests.inventory.factories import stock
from tests.rx.factories import first_fill, make_rx

_runs = itertools.count()

T, TT, RPH, PIC, INV, AUD = (
    Role.TECHNICIAN,
    Role.TECHNICIAN_IN_TRAINING,
    Role.PHARMACIST,
    Role.PHARMACIST_IN_CHARGE,
    Role.INVENTORY_SPECIALIST,
    Role.AUDITOR,
)
ROLES = (T, TT, RPH, PIC, INV, AUD)
PHARMACISTS = frozenset({RPH, PIC})
RX_WORKERS = frozenset({T, TT, RPH, PIC})  # rx.fill, rx.sell, rx.enter, stock.dispense
PHARMACIST_STEPS = {FillStep.DATA_VERIFIED, FillStep.FINAL_VERIFIED, FillStep.SCAN_OVERRIDDEN}
OUT_OF_STOCK = (S.FILLED, S.READY, S.DISPENSED)
HOLDABLE = (S.QUEUED, S.SCHEDULED, S.TO_FILL)

who = st.integers(min_value=0, max_value=60)
picks = st.integers(min_value=0, max_value=50)


class Workflow(RuleBasedStateMachine):
    """The pharmacy: two prescriptions of different drugs, a wrong drug and the same drug
    from another labeler on the shelf, and one person of each role."""

    def __init__(self) -> None:
        super().__init__()
        n = next(_runs)
        self.site = SiteFactory(name=f"Workflow property {n}")
        self.users: dict[Role, User] = {
            role: UserFactory(site=self.site, role=role, username=f"wf{n}-{role.value}")
            for role in ROLES
        }
        tech = self.users[T]
        self.rxs = [make_rx(tech, refills_authorized=3) for _ in range(2)]
        for rx in self.rxs:
            stock(self.site, rx.package, lot=f"LOT-{rx.number}", quantity=1000)
        self.wrong = PackageFactory(
            product=ProductFactory(name="Zoloft", generic_name="Sertraline", strength="50 mg/1"),
            ndc10=f"0049-{n % 10000:04d}-30",
        )
        self.generic = PackageFactory(
            product=ProductFactory(name="Fluoxetine", labeler="Generic Labs"),
            ndc10=f"1234-{n % 10000:04d}-90",
        )
        for pkg in (self.wrong, self.generic):
            stock(self.site, pkg, lot="OTHER", quantity=1000)
        # The model: fill id -> expected status, and where a held fill goes back to.
        self.expected: dict[int, str] = {first_fill(rx).pk: S.QUEUED for rx in self.rxs}
        self.held_from: dict[int, str] = {}

    # --- helpers -------------------------------------------------------------------------

    def _fill(self, i: int, *applies: str) -> Fill:
        """A fill by ``i``: two times in three one that the step applies to (when there is
        one), so that runs go deep into the workflow; else any fill."""
        ids = sorted(self.expected)
        fitting = [pk for pk in ids if self.expected[pk] in applies]
        if fitting and i % 3:
            ids = fitting
        return Fill.objects.select_related("prescription__package").get(pk=ids[i % len(ids)])

    def _role(self, who: int, allowed: frozenset[Role]) -> Role:
        """A role by ``who``: two times in three one that may take the step; else any."""
        choices = sorted(allowed) if who % 3 else list(ROLES)
        return choices[who % len(choices)]

    def _attempt(self, fill: Fill, call: Any, expect: type[DomainError] | None) -> None:
        """Run the step; it must succeed (``expect`` None) or raise ``expect`` and change
        nothing of the fill, its history or the stock."""
        before = self._snapshot(fill)
        if expect is None:
            call()
            return
        with pytest.raises(expect):
            call()
        assert self._snapshot(fill) == before

    def _snapshot(self, fill: Fill) -> tuple[Any, ...]:
        row = Fill.objects.get(pk=fill.pk)
        return (
            row.status,
            row.quantity,
            row.data_verified_by_id,
            row.verified_by_id,
            row.filled_by_id,
            FillEvent.objects.filter(fill=fill).count(),
            StockMove.objects.filter(site=self.site).count(),
        )

    def _gate(self, role: Role, allowed: frozenset[Role]) -> type[DomainError] | None:
        return None if role in allowed else Forbidden

    # --- steps (each on a given fill, by a given role) -----------------------------------

    def _data_verification(self, fill: Fill, role: Role, approve: bool) -> None:
        status = self.expected[fill.pk]
        fillable = status == S.QUEUED or (
            status == S.SCHEDULED
            and (fill.fillable_on is None or fill.fillable_on <= self.site.today())
        )
        expect = self._gate(role, PHARMACISTS) or (None if fillable else Conflict)
        self._attempt(
            fill,
            lambda: workflow.fill_data_verify(
                actor=self.users[role], fill=fill, approve=approve, reason="Check the sig"
            ),
            expect,
        )
        if expect is None:
            self.expected[fill.pk] = S.TO_FILL if approve else S.QUEUED

    def _fill_product(self, fill: Fill, role: Role, scan: str) -> None:
        package = {
            "right": fill.prescription.package,
            "wrong": self.wrong,
            "generic": self.generic,
        }[scan]
        # A pharmacist accepts the same drug from another labeler with a reason; a
        # technician may not; a different drug is refused to everyone.
        override = "Same drug, other labeler" if scan == "generic" else ""
        expect = self._gate(role, RX_WORKERS)
        if expect is None:
            if self.expected[fill.pk] != S.TO_FILL:
                expect = Conflict
            elif scan == "wrong":
                expect = Invalid
            elif scan == "generic" and role not in PHARMACISTS:
                expect = Forbidden
        self._attempt(
            fill,
            lambda: workflow.fill_product(
                actor=self.users[role],
                fill=fill,
                scanned_code=package.ndc10,
                override_reason=override,
            ),
            expect,
        )
        if expect is None:
            self.expected[fill.pk] = S.FILLED

    def _final_verification(self, fill: Fill, role: Role, approve: bool) -> None:
        expect = self._gate(role, PHARMACISTS)
        if expect is None:
            if self.expected[fill.pk] != S.FILLED:
                expect = Conflict
            elif approve and fill.scan_override_reason and fill.filled_by_id == self.users[role].pk:
                expect = Conflict  # who accepted the scan does not verify it too
        self._attempt(
            fill,
            lambda: workflow.fill_final_verify(
                actor=self.users[role], fill=fill, approve=approve, reason="Count was 29"
            ),
            expect,
        )
        if expect is None:
            self.expected[fill.pk] = S.READY if approve else S.TO_FILL

    def _hold(self, fill: Fill, role: Role) -> None:
        status = self.expected[fill.pk]
        expect = self._gate(role, RX_WORKERS) or (None if status in HOLDABLE else Conflict)
        self._attempt(
            fill,
            lambda: workflow.fill_hold(actor=self.users[role], fill=fill, reason="waiting_pa"),
            expect,
        )
        if expect is None:
            self.held_from[fill.pk] = status
            self.expected[fill.pk] = S.ON_HOLD

    def _release(self, fill: Fill, role: Role) -> None:
        expect = self._gate(role, RX_WORKERS) or (
            None if self.expected[fill.pk] == S.ON_HOLD else Conflict
        )
        self._attempt(
            fill, lambda: workflow.fill_release(actor=self.users[role], fill=fill), expect
        )
        if expect is None:
            self.expected[fill.pk] = self.held_from.pop(fill.pk)

    def _sell(self, fill: Fill, role: Role) -> None:
        expect = self._gate(role, RX_WORKERS) or (
            None if self.expected[fill.pk] == S.READY else Conflict
        )
        self._attempt(fill, lambda: workflow.fill_sell(actor=self.users[role], fill=fill), expect)
        if expect is None:
            self.expected[fill.pk] = S.DISPENSED

    def _return_to_stock(self, fill: Fill, role: Role) -> None:
        expect = self._gate(role, RX_WORKERS) or (
            None if self.expected[fill.pk] == S.READY else Conflict
        )
        self._attempt(
            fill,
            lambda: workflow.fill_return_to_stock(
                actor=self.users[role], fill=fill, reason="Not picked up"
            ),
            expect,
        )
        if expect is None:
            self.expected[fill.pk] = S.RETURNED

    def _refill_request(self, rx: Prescription, role: Role) -> None:
        fills = Fill.objects.filter(prescription=rx).count()
        if role not in RX_WORKERS:
            with pytest.raises(Forbidden):
                services.refill_request(actor=self.users[role], prescription=rx, source="phone")
            assert Fill.objects.filter(prescription=rx).count() == fills
            return
        try:
            result = services.refill_request(actor=self.users[role], prescription=rx)
        except Conflict:  # one already waiting, none left, …: nothing is queued
            assert Fill.objects.filter(prescription=rx).count() == fills
            return
        # Asked for too soon, it waits as scheduled; otherwise it is queued.
        assert result.fill.status in (S.QUEUED, S.SCHEDULED)
        self.expected[result.fill.pk] = result.fill.status

    # --- rules: any step, on a fill it mostly applies to, by a role that mostly may ------

    @rule(i=picks, who=who, approve=st.booleans())
    def data_verification(self, i: int, who: int, approve: bool) -> None:
        self._data_verification(
            self._fill(i, S.QUEUED, S.SCHEDULED), self._role(who, PHARMACISTS), approve
        )

    @rule(i=picks, who=who, scan=st.sampled_from(["right", "wrong", "generic"]))
    def fill_product(self, i: int, who: int, scan: str) -> None:
        self._fill_product(self._fill(i, S.TO_FILL), self._role(who, RX_WORKERS), scan)

    @rule(i=picks, who=who, approve=st.booleans())
    def final_verification(self, i: int, who: int, approve: bool) -> None:
        self._final_verification(self._fill(i, S.FILLED), self._role(who, PHARMACISTS), approve)

    @rule(i=picks, who=who)
    def hold(self, i: int, who: int) -> None:
        self._hold(self._fill(i, *HOLDABLE), self._role(who, RX_WORKERS))

    @rule(i=picks, who=who)
    def release(self, i: int, who: int) -> None:
        self._release(self._fill(i, S.ON_HOLD), self._role(who, RX_WORKERS))

    @rule(i=picks, who=who)
    def sell(self, i: int, who: int) -> None:
        self._sell(self._fill(i, S.READY), self._role(who, RX_WORKERS))

    @rule(i=picks, who=who)
    def return_to_stock(self, i: int, who: int) -> None:
        self._return_to_stock(self._fill(i, S.READY), self._role(who, RX_WORKERS))

    @rule(i=picks, who=who)
    def refill_request(self, i: int, who: int) -> None:
        self._refill_request(self.rxs[i % len(self.rxs)], self._role(who, RX_WORKERS))

    @rule(i=picks, steps=st.integers(min_value=1, max_value=8), flip=st.integers(0, 11))
    def advance(self, i: int, steps: int, flip: int) -> None:
        """Take a fill's next step the usual way, a few times over, by a role that may (so
        runs reach the bag, the sale and the refill); ``flip`` picks who, and now and then
        a send-back, an accepted scan, a hold or a return instead."""
        for n in range(steps):
            fill = self._fill(i + n)
            status = self.expected[fill.pk]
            pharmacist = (RPH, PIC)[(flip + n) % 2]
            worker = (T, TT, RPH, PIC)[(flip + n) % 4]
            if status in (S.QUEUED, S.SCHEDULED):
                self._data_verification(fill, pharmacist, approve=flip != 1)
            elif status == S.TO_FILL:
                scan = "generic" if flip == 2 else "right"
                self._fill_product(fill, RPH if scan == "generic" else worker, scan)
            elif status == S.FILLED:
                self._final_verification(fill, pharmacist, approve=flip != 3)
            elif status == S.READY:
                (self._return_to_stock if flip in (4, 5, 6) else self._sell)(fill, worker)
            elif status == S.ON_HOLD:
                self._release(fill, worker)
            else:
                self._refill_request(fill.prescription, worker)

    # --- invariants ----------------------------------------------------------------------

    @invariant()
    def every_fill_is_where_the_model_says(self) -> None:
        actual = dict(
            Fill.objects.filter(site=self.site).values_list("pk", "status").order_by("pk")
        )
        assert actual == self.expected

    @invariant()
    def only_pharmacists_took_pharmacist_steps(self) -> None:
        events = FillEvent.objects.filter(fill__site=self.site).select_related("actor")
        for event in events:
            if event.step in PHARMACIST_STEPS or event.step == FillStep.SENT_BACK:
                assert event.actor is not None and event.actor.role in PHARMACIST_ROLES, (
                    event.step,
                    event.actor_name,
                )
        for fill in Fill.objects.filter(site=self.site).select_related(
            "data_verified_by", "verified_by"
        ):
            for who in (fill.data_verified_by, fill.verified_by):
                assert who is None or who.role in PHARMACIST_ROLES

    @invariant()
    def stock_moves_match_the_fills(self) -> None:
        nets = {
            ref: total
            for ref, total in StockMove.objects.filter(site=self.site, reference_type="fill")
            .values("reference_id")
            .annotate(total=Sum("quantity"))
            .values_list("reference_id", "total")
            .order_by()
        }
        for fill in Fill.objects.filter(site=self.site):
            net = nets.get(str(fill.pk), Decimal(0))
            want = -fill.quantity if fill.status in OUT_OF_STOCK else Decimal(0)
            assert net == want, (fill.pk, fill.status, net)
        _, problems = ledger_verify(site_id=self.site.pk)
        assert problems == []

    @invariant()
    def no_fill_is_both_sold_and_returned(self) -> None:
        for fill in Fill.objects.filter(site=self.site):
            steps = set(fill.events.values_list("step", flat=True))
            assert not {FillStep.SOLD, FillStep.RETURNED} <= steps, fill.pk
            assert fill.sold_at is None or fill.returned_at is None

    @invariant()
    def every_history_is_complete(self) -> None:
        for fill in Fill.objects.filter(site=self.site):
            events = list(fill.events.order_by("at", "pk"))
            assert events and events[0].step == FillStep.ENTERED, fill.pk
            assert events[0].from_status == ""
            for before, after in itertools.pairwise(events):
                assert after.from_status == before.to_status, (
                    fill.pk,
                    before.step,
                    before.to_status,
                    after.step,
                    after.from_status,
                )
            assert events[-1].to_status == fill.status

    @initialize()
    def nothing_yet(self) -> None:
        """The two first fills are queued; nothing has moved."""
        assert StockMove.objects.filter(site=self.site, reference_type="fill").count() == 0


def _run(examples: int, steps: int) -> None:
    run_state_machine_as_test(
        Workflow,
        settings=settings(
            max_examples=examples,
            stateful_step_count=steps,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
        ),
    )


@pytest.mark.django_db
def test_the_workflow_keeps_its_invariants_under_any_steps_by_any_roles() -> None:
    _run(examples=30, steps=25)


@pytest.mark.slow
@pytest.mark.django_db
def test_the_workflow_keeps_its_invariants_over_many_long_runs() -> None:
    # The long search for a sequence that breaks the rules is the SQLite run's; on
    # PostgreSQL a quarter of it checks the same machine against that database's locking.
    _run(examples=50 if on_postgres() else 200, steps=50)
