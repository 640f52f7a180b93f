"""Crash harness: SIGKILL a worker process at random points while it receives stock, fills
and verifies prescriptions and bills claims through the real services, then check that
nothing acknowledged was lost and nothing was left half-written.

The driver (``run``) is the test process itself, with Django set up on the database under
test. For each kill point it closes its connections, ``os.fork()``s a worker (no new
interpreter: a fork costs a few milliseconds), lets it run for a random time and kills it
with SIGKILL — wherever it is: inside a transaction, between COMMIT and the next step, in
the middle of a payer exchange. Then it reopens the database (SQLite replays or discards
the write-ahead log; PostgreSQL has rolled the dead session back) and checks:

- every acknowledged operation is there in the state the worker saw (the worker appends
  ``op kind id state`` to the ack file, flushed and fsynced, only after the service
  returned, that is after COMMIT);
- no half-written fill: a filled or verified fill has exactly its dispense moves and its
  FILLED event; any other fill has no stock out;
- the ledger: every balance equals the sum of its moves (``ledger_verify``);
- SQLite: ``PRAGMA integrity_check`` is ok;
- the audit chain verifies (``audit_verify``).

The cheap checks (the acks new since the kill before, the fills) run after every kill; the
full scans (every ack again, ledger, integrity, audit chain) every ``full_every`` kills and
after the last one. The RNG is seeded; the seed
is in every failure message so a run can be replayed.
"""

from __future__ import annotations

import datetime as dt
import os
import random
import signal
import time
import traceback
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.db import connection, connections, transaction
from django.db.models import Sum

from rxdesk.catalog.choices import PriceKind
from rxdesk.catalog.models import Package, PackagePrice
from rxdesk.claims.models import Claim
from rxdesk.claims.services import claim_bill
from rxdesk.core import context
from rxdesk.core.audit import audit_verify
from rxdesk.core.choices import Role
from rxdesk.core.errors import DomainError
from rxdesk.core.models import User
from rxdesk.inventory import ledger
from rxdesk.inventory.choices import MoveReason, ReceiptStatus
from rxdesk.inventory.models import Receipt, StockMove, Supplier
from rxdesk.inventory.services import receiving
from rxdesk.patients.models import Prescriber
from rxdesk.rx.choices import FillStatus, FillStep, Origin
from rxdesk.rx.models import Fill, FillEvent
from rxdesk.rx.services import prescription_create, workflow
from tests.catalog.factories import PackageFactory, ProductFactory
from tests.claims.billing_helpers import NPI, card, payer_for, plan_for
from tests.factories import PatientFactory, PrescriberFactory, SiteFactory, UserFactory

FAR = dt.date(2030, 12, 31)
LOTS = ("CR1", "CR2", "CR3")
OPENING = Decimal(3000)


@dataclass
class World:
    """Ids of the rows every worker shares (committed before the first fork)."""

    site_id: int
    tech_id: int
    rph_id: int
    inventory_id: int
    prescriber_id: int
    supplier_id: int
    fill_package_id: int
    claim_package_id: int


def build_world(payer: Any) -> World:
    """One pharmacy with staff, a supplier, a stocked package to fill from, and a priced
    package billed to the test payer's plan."""
    site = SiteFactory(npi=NPI)
    tech = UserFactory(site=site, role=Role.TECHNICIAN, username="crash-tech")
    rph = UserFactory(site=site, role=Role.PHARMACIST, username="crash-rph")
    inv = UserFactory(site=site, role=Role.INVENTORY_SPECIALIST, username="crash-inv")
    prescriber = PrescriberFactory(site=site, dea_number="BO1234563")
    supplier = Supplier.objects.create(site=site, name="Crash Wholesale", account_number="A-1")
    product = ProductFactory(name="Prozac")
    fill_pkg = PackageFactory(
        product=product, ndc10="0002-7001-30", description="30 CAPSULE in 1 BOTTLE"
    )
    claim_pkg = PackageFactory(
        product=ProductFactory(name="Prozac"),
        ndc10="0002-7002-30",
        description="30 CAPSULE in 1 BOTTLE",
    )
    since = dt.date.today() - dt.timedelta(days=1)
    for kind, amount in ((PriceKind.LIST, "30.00"), (PriceKind.USUAL_CUSTOMARY, "40.00")):
        PackagePrice.objects.create(
            package=claim_pkg, kind=kind, amount=Decimal(amount), effective_on=since
        )
    plan_for(payer_for(payer, timeout=5))
    with transaction.atomic():
        for number in LOTS:
            lot = ledger.lot_get_or_create(package=fill_pkg, number=number, expiry=FAR)
            ledger.post_in(
                site=site, lot=lot, quantity=OPENING, reason=MoveReason.OPENING, actor=None
            )
    return World(
        site.pk, tech.pk, rph.pk, inv.pk, prescriber.pk, supplier.pk, fill_pkg.pk, claim_pkg.pk
    )


# --- The worker (a forked child; never returns) ------------------------------------------------


class _Acks:
    def __init__(self, path: Path) -> None:
        self._file = path.open("a")

    def write(self, op: str, kind: str, pk: int, state: str) -> None:
        self._file.write(f"{op} {kind} {pk} {state}\n")
        self._file.flush()
        os.fsync(self._file.fileno())


def _new_rx(world: World, actor: User, op: str, package: Package) -> Fill:
    patient = PatientFactory(site_id=world.site_id, first_name=f"Crash{op}")
    rx = prescription_create(
        actor=actor,
        patient=patient,
        prescriber=Prescriber.objects.get(pk=world.prescriber_id),
        product=package.product,
        package=package,
        origin=Origin.WRITTEN,
        quantity=Decimal(30),
        quantity_unit="EA",
        days_supply=30,
        directions="1 CAP PO DAILY",
        date_written=dt.date.today() - dt.timedelta(days=1),
        refills_authorized=0,
    )
    return rx.fills.order_by("number").first()  # type: ignore[return-value]


def _op_receipt(world: World, op: str, rng: random.Random, acks: _Acks) -> None:
    inv = User.objects.get(pk=world.inventory_id)
    receipt = receiving.receipt_create(
        actor=inv,
        supplier=Supplier.objects.get(pk=world.supplier_id),
        dscsa_transaction_info=f"Invoice CR-{op}",
        dscsa_statement_received=True,
    )
    receiving.receipt_line_add(
        actor=inv,
        receipt=receipt,
        ndc=Package.objects.get(pk=world.fill_package_id),
        lot_number=rng.choice(LOTS),
        expiry=FAR,
        packages_received=2,
        packages_invoiced=2,
    )
    receiving.receipt_post(actor=inv, receipt=receipt)
    acks.write(op, "receipt", receipt.pk, ReceiptStatus.POSTED)


def _op_fill(world: World, op: str, rng: random.Random, acks: _Acks) -> None:
    tech = User.objects.get(pk=world.tech_id)
    rph = User.objects.get(pk=world.rph_id)
    package = Package.objects.get(pk=world.fill_package_id)
    fill = _new_rx(world, tech, op, package)
    fill = workflow.fill_data_verify(actor=rph, fill=fill)
    fill = workflow.fill_product(actor=tech, fill=fill, scanned_code=package.ndc10)
    acks.write(op, "fill", fill.pk, FillStatus.FILLED)
    if rng.random() < 0.7:
        fill = workflow.fill_final_verify(actor=rph, fill=fill)
        acks.write(op, "fill", fill.pk, FillStatus.READY)
    else:
        fill = workflow.fill_final_verify(actor=rph, fill=fill, approve=False, reason="Recount")
        acks.write(op, "fill", fill.pk, FillStatus.TO_FILL)


def _op_claim(world: World, op: str, rng: random.Random, acks: _Acks) -> None:
    tech = User.objects.get(pk=world.tech_id)
    fill = _new_rx(world, tech, op, Package.objects.get(pk=world.claim_package_id))
    card(fill.prescription.patient)
    result = claim_bill(actor=tech, fill=fill)
    (claim,) = result.claims
    acks.write(op, "claim", claim.pk, claim.status)


OPERATIONS = (_op_receipt, _op_fill, _op_fill, _op_claim)


def work(world: World, ack_path: Path, worker: int, seed: int) -> None:
    """Endless operations until killed. A domain error (say, stock ran short) is recorded
    in the ack file as ``error`` and the loop goes on; anything else ends the worker with
    exit code 3 and the traceback in the ack file, which the driver reports."""
    rng = random.Random(seed)
    acks = _Acks(ack_path)
    code = 0
    try:
        with context.using(context.RequestInfo(request_id=f"crash-{worker}", channel="web")):
            for n in range(1, 1_000_000):
                op = f"{worker}-{n}"
                try:
                    rng.choice(OPERATIONS)(world, op, rng, acks)
                except DomainError as error:
                    why = f"{type(error).__name__}:{error}".replace(" ", "_")
                    acks.write(op, "error", 0, why)
    except BaseException:
        acks._file.write("CRASHED " + traceback.format_exc().replace("\n", " | ") + "\n")
        acks._file.flush()
        code = 3
    finally:
        os._exit(code)


# --- The checks ------------------------------------------------------------------------------

# What an acknowledged fill state allows later: an ack is written after COMMIT, so the next
# step may have committed too before the kill, without its own ack.
_FILL_LATER = {
    FillStatus.FILLED: {FillStatus.FILLED, FillStatus.READY, FillStatus.TO_FILL},
    FillStatus.READY: {FillStatus.READY},
    FillStatus.TO_FILL: {FillStatus.TO_FILL},
}


def ack_lines(ack_path: Path) -> list[str]:
    """The ack file's complete lines (a line the kill cut short has no newline yet)."""
    if not ack_path.exists():
        return []
    text = ack_path.read_text()
    return text[: text.rfind("\n") + 1].splitlines()


def check_acks(ack_path: Path, start: int = 0) -> tuple[int, list[str]]:
    """(acknowledged operations, problems) for the ack file's complete lines from line
    ``start`` on."""
    problems: list[str] = []
    count = 0
    for line in ack_lines(ack_path)[start:]:
        if line.startswith("CRASHED"):
            problems.append(f"a worker failed: {line}")
            continue
        parts = line.split(" ")
        if len(parts) != 4 or parts[1] == "error":
            continue  # a line cut short by the kill was never acknowledged
        op, kind, pk, state = parts
        count += 1
        if kind == "receipt":
            receipt = Receipt.objects.filter(pk=int(pk)).first()
            moves = (
                StockMove.objects.filter(
                    reason=MoveReason.RECEIVE, reference_type="receipt_line"
                ).filter(
                    reference_id__in=[str(x) for x in receipt.lines.values_list("pk", flat=True)]
                )
                if receipt
                else None
            )
            if receipt is None or receipt.status != state:
                problems.append(
                    f"{op}: acknowledged receipt {pk} {state} is {receipt and receipt.status}"
                )
            elif moves is not None and not moves.exists():
                problems.append(f"{op}: posted receipt {pk} has no stock moves")
        elif kind == "fill":
            fill = Fill.objects.filter(pk=int(pk)).first()
            if fill is None or fill.status not in _FILL_LATER[state]:
                problems.append(f"{op}: acknowledged fill {pk} {state} is {fill and fill.status}")
        elif kind == "claim":
            claim = Claim.objects.filter(pk=int(pk)).first()
            if claim is None or claim.status != state:
                problems.append(
                    f"{op}: acknowledged claim {pk} {state} is {claim and claim.status}"
                )
    return count, problems


def check_fills(site_id: int) -> list[str]:
    """No half-written fill: stock out, FILLED events and status agree."""
    problems = []
    net = {
        int(row["reference_id"]): row["total"]
        for row in StockMove.objects.filter(
            site_id=site_id,
            reference_type="fill",
            reason__in=(MoveReason.DISPENSE, MoveReason.RETURN_TO_STOCK),
        )
        .values("reference_id")
        .annotate(total=Sum("quantity"))
        .order_by()
    }
    filled_events: dict[int, int] = {}
    back_events: dict[int, int] = {}
    for fill_id, step in FillEvent.objects.filter(
        fill__prescription__site_id=site_id, step__in=(FillStep.FILLED, FillStep.SENT_BACK)
    ).values_list("fill_id", "step"):
        target = filled_events if step == FillStep.FILLED else back_events
        target[fill_id] = target.get(fill_id, 0) + 1
    out_states = {FillStatus.FILLED, FillStatus.READY}
    for pk, status, quantity in Fill.objects.filter(prescription__site_id=site_id).values_list(
        "pk", "status", "quantity"
    ):
        out = -net.get(pk, Decimal(0))
        events = filled_events.get(pk, 0) - back_events.get(pk, 0)
        if status in out_states:
            if out != quantity or events != 1:
                problems.append(
                    f"fill {pk} is {status} but {out} left the shelf for {quantity} "
                    f"(FILLED events net {events})"
                )
        elif out != 0 or events != 0:
            problems.append(f"fill {pk} is {status} but {out} is out (FILLED events net {events})")
    return problems


def check_full() -> list[str]:
    problems = [f"ledger: {m}" for m in ledger.ledger_verify()[1]]
    problems += [
        f"audit chain of site {r.site_id} broken: {r.broken}"
        for r in audit_verify()
        if not r.intact
    ]
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA integrity_check")
            result = [row[0] for row in cursor.fetchall()]
        if result != ["ok"]:
            problems.append(f"PRAGMA integrity_check: {result}")
    return problems


# --- The driver ------------------------------------------------------------------------------


@dataclass
class Report:
    seed: int
    kills: int = 0
    acked: int = 0
    full_checks: int = 0
    seconds: float = 0.0
    problems: list[str] = field(default_factory=list)
    killed_in: dict[str, int] = field(default_factory=dict)


def run(
    world: World,
    workdir: Path,
    *,
    points: int,
    seed: int,
    max_delay: float = 0.6,
    full_every: int = 10,
) -> Report:
    """Kill ``points`` workers at random moments; stop at the first kill whose checks fail."""
    rng = random.Random(seed)
    report = Report(seed=seed)
    ack_path = workdir / "acks.txt"
    # One of each operation first, in this process and unkilled: a broken set-up fails
    # here with its own error instead of as "nothing acknowledged".
    with context.using(context.RequestInfo(request_id="crash-first", channel="web")):
        acks = _Acks(ack_path)
        for n, operation in enumerate((_op_receipt, _op_fill, _op_claim)):
            operation(world, f"0-{n}", rng, acks)
    started = time.monotonic()
    checked = 0  # ack lines checked so far
    for kill in range(1, points + 1):
        connections.close_all()
        pid = os.fork()
        if pid == 0:  # pragma: no cover — the child
            work(world, ack_path, kill, rng.randrange(2**32))
        time.sleep(rng.uniform(0.0, max_delay))
        os.kill(pid, signal.SIGKILL)
        _, status = os.waitpid(pid, 0)
        if os.WIFEXITED(status):
            report.problems.append(f"worker {kill} exited by itself with {os.WEXITSTATUS(status)}")
        report.kills = kill
        # The acks new since the last kill after every kill; every ack again (a later crash
        # must not lose older work either) with the full scans — checking them all after
        # every kill made the run quadratic in its acks.
        full = kill % full_every == 0 or kill == points
        acked, problems = check_acks(ack_path, start=0 if full else checked)
        checked = len(ack_lines(ack_path))
        if full:
            report.acked = acked
        problems += check_fills(world.site_id)
        if full:
            problems += check_full()
            report.full_checks += 1
        if problems:
            report.problems += [f"after kill {kill}: {p}" for p in problems]
            break
    report.seconds = time.monotonic() - started
    return report
