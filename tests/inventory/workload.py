"""A concurrent workload on the stock ledger, run as separate processes (each with
threads) against a real database: ``python -m tests.inventory.workload <command> …``.

Commands (each prints one JSON line):
  setup                       two sites of one organization, a PIC at each, hot lots
  work  <seed> <ops> <threads> mixed receive / dispense / adjust / transfer through the
                              services, and on a Schedule II package dispense, witnessed
                              waste and witnessed adjustments; reports the moves each
                              accepted operation made
  race  <first> <last> <threads> first-move race: every thread receives 1 into lot
                              R<trial> of a package with no stock yet, trial after trial
  check                       balances, sums of moves, ledger_verify, negatives

Used by tests/inventory/test_concurrency.py on SQLite (a file database) and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import json
import random
import sys
import threading
from collections import Counter
from decimal import Decimal
from typing import Any

import django

django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402

# The witness re-authenticates on every controlled operation: hash passwords fast here as
# the test settings do (the real hasher costs ~0.3 s a check, and this is not its test).
settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

from rxdesk.catalog.models import Package, Product  # noqa: E402
from rxdesk.controlled.services_disposal import cs_waste_record  # noqa: E402
from rxdesk.core import context  # noqa: E402
from rxdesk.core.choices import Role  # noqa: E402
from rxdesk.core.errors import Conflict  # noqa: E402
from rxdesk.core.models import Organization, Site, User  # noqa: E402
from rxdesk.inventory import ledger  # noqa: E402
from rxdesk.inventory.models import StockBalance, StockMove, StockTransfer  # noqa: E402
from rxdesk.inventory.services.stock import (  # noqa: E402
    stock_adjust,
    stock_dispense,
    stock_receive,
    stock_transfer_receive,
    stock_transfer_send,
)

HOT = {
    "00002322730": ["H1", "H2", "H3"],
    "00093715601": ["K1", "K2"],
}
RACE_NDC = "00378018101"
# A Schedule II package: never negative, whatever mix of dispensing, witnessed waste and
# witnessed adjustments runs at once.
CS_NDC = "00406055201"
CS_LOTS = ["C1", "C2"]
PRINTED = {
    "00002322730": "0002-3227-30",
    "00093715601": "0093-7156-01",
    RACE_NDC: "0378-0181-01",
    CS_NDC: "0406-0552-01",
}
WITNESS = "rph-a"
PASSWORD = "workload-witness-1"
OPENING = Decimal(50)


EXPIRY = {
    lot: dt.date(2031, 1 + i, 28) for i, lot in enumerate(["H1", "H2", "H3", "K1", "K2", *CS_LOTS])
}


def _expiry(lot: str) -> dt.date:
    return EXPIRY[lot]


def setup() -> dict[str, Any]:
    org = Organization.objects.create(name="Concurrency Health")
    sites = [Site.objects.create(name=n, organization=org) for n in ("Main", "Branch")]
    for site, name in zip(sites, ("pic-a", "pic-b"), strict=True):
        User.objects.create(
            username=name,
            role=Role.PHARMACIST_IN_CHARGE,
            site=site,
            pharmacist_license="RPH1",
            pharmacist_license_expires=dt.date(2099, 1, 1),
        )
    witness = User.objects.create(
        username=WITNESS,
        role=Role.PHARMACIST,
        site=sites[0],
        pharmacist_license="RPH2",
        pharmacist_license_expires=dt.date(2099, 1, 1),
    )
    witness.set_password(PASSWORD)
    witness.save()
    for ndc in [*HOT, RACE_NDC, CS_NDC]:
        product = Product.objects.create(
            product_id=f"{ndc}_c",
            product_ndc=ndc[:9],
            product_type="HUMAN PRESCRIPTION DRUG",
            name=f"Drug {ndc}",
            directory_dea_schedule="CII" if ndc == CS_NDC else "",
        )
        Package.objects.create(
            ndc11=ndc,
            ndc10=PRINTED[ndc],
            product=product,
            description="100 TABLET in 1 BOTTLE",
            billing_unit="EA",
            package_quantity=Decimal(100),
        )
    pic = User.objects.get(username="pic-a")
    with context.using(context.RequestInfo(request_id="setup", channel="web")):
        for ndc, lots in HOT.items():
            for lot in lots:
                stock_receive(
                    actor=pic, ndc=ndc, lot_number=lot, expiry=_expiry(lot), quantity=OPENING
                )
        for lot in CS_LOTS:
            stock_receive(
                actor=pic,
                ndc=CS_NDC,
                lot_number=lot,
                expiry=_expiry(lot),
                quantity=OPENING,
                opening=True,
                dea_order_number="OPENING",
            )
    return {"sites": [s.pk for s in sites]}


class Tally:
    """What the accepted operations of one worker did, by (site, lot)."""

    def __init__(self) -> None:
        self.moves: Counter[str] = Counter()
        self.move_count = 0
        self.accepted = 0
        self.refused = 0
        self.lock = threading.Lock()

    def add(self, moves: list[StockMove]) -> None:
        with self.lock:
            self.accepted += 1
            for move in moves:
                self.moves[f"{move.site_id}:{move.lot_id}"] += move.quantity
                self.move_count += 1


def _controlled_op(rng: random.Random, tally: Tally, a: User) -> None:
    """Dispense, waste (witnessed) or adjust (witnessed) the Schedule II package."""
    witness = {"username": WITNESS, "password": PASSWORD}
    kind = rng.choices(["dispense", "waste", "adjust"], weights=[5, 2, 2])[0]
    if kind == "dispense":
        tally.add(stock_dispense(actor=a, ndc=CS_NDC, quantity=rng.randint(1, 8)))
        return
    balance = StockBalance.objects.filter(site=a.site, package__ndc11=CS_NDC).order_by("?")[0]
    if kind == "waste":
        waste = cs_waste_record(
            actor=a,
            kind="breakage",
            ndc=CS_NDC,
            quantity=rng.randint(1, 3),
            reason="Dropped and crushed",
            balance_id=balance.pk,
            witness=witness,
        )
        tally.add([StockMove.objects.get(pk=waste.move_id)])
        return
    sign = "-" if rng.random() < 0.6 else ""
    move = stock_adjust(
        actor=a,
        balance=balance,
        quantity=f"{sign}{rng.randint(1, 4)}",
        reason="count_variance",
        note="Recount",
        witness=witness,
    )
    tally.add([move])


def _one_op(rng: random.Random, tally: Tally, a: User, b: User) -> None:
    ndc = rng.choice(list(HOT))
    kind = rng.choices(
        ["receive", "dispense", "adjust", "transfer", "controlled"], weights=[3, 4, 2, 1, 2]
    )[0]
    try:
        if kind == "controlled":
            _controlled_op(rng, tally, a)
        elif kind == "receive":
            lot = rng.choice(HOT[ndc])
            move = stock_receive(
                actor=a, ndc=ndc, lot_number=lot, expiry=_expiry(lot), quantity=rng.randint(1, 5)
            )
            tally.add([move])
        elif kind == "dispense":
            who = a if rng.random() < 0.8 else b
            tally.add(stock_dispense(actor=who, ndc=ndc, quantity=rng.randint(1, 8)))
        elif kind == "adjust":
            balance = StockBalance.objects.filter(site=a.site, package__ndc11=ndc).order_by("?")[0]
            if rng.random() < 0.5:
                move = stock_adjust(
                    actor=a, balance=balance, quantity=f"-{rng.randint(1, 3)}", reason="damaged"
                )
            else:
                move = stock_adjust(
                    actor=a, balance=balance, quantity=str(rng.randint(1, 3)), reason="found"
                )
            tally.add([move])
        else:
            balance = StockBalance.objects.filter(site=a.site, package__ndc11=ndc).order_by("?")[0]
            transfer = stock_transfer_send(
                actor=a,
                to_site=b.site,
                lines=[{"balance": balance.pk, "quantity": rng.randint(1, 3)}],
            )
            stock_transfer_receive(actor=b, transfer=transfer)
            tally.add(
                list(StockMove.objects.filter(reference_type="transfer", reference_id=transfer.pk))
            )
    except Conflict:
        with tally.lock:
            tally.refused += 1


def _threads(count: int, target: Any) -> None:
    errors: list[BaseException] = []

    def run(index: int) -> None:
        try:
            with context.using(context.RequestInfo(request_id=f"t{index}", channel="web")):
                target(index)
        except BaseException as exc:  # reported to the test
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]


def work(seed: int, ops: int, threads: int) -> dict[str, Any]:
    a, b = User.objects.get(username="pic-a"), User.objects.get(username="pic-b")
    tally = Tally()

    def run(index: int) -> None:
        rng = random.Random(seed * 100 + index)
        for _ in range(ops // threads):
            _one_op(rng, tally, a, b)

    _threads(threads, run)
    return {
        "accepted": tally.accepted,
        "refused": tally.refused,
        "move_count": tally.move_count,
        "moves": {k: str(v) for k, v in tally.moves.items()},
    }


def race(first: int, last: int, threads: int) -> dict[str, Any]:
    a = User.objects.get(username="pic-a")
    barrier = threading.Barrier(threads)
    done = Counter[str]()

    def run(index: int) -> None:
        for trial in range(first, last):
            barrier.wait()
            stock_receive(
                actor=a, ndc=RACE_NDC, lot_number=f"R{trial}", expiry="2032-01-31", quantity=1
            )
            done[str(index)] += 1

    _threads(threads, run)
    return {"receives": sum(done.values())}


def check() -> dict[str, Any]:
    balances = {
        f"{s}:{lot}": str(q)
        for s, lot, q in StockBalance.objects.values_list("site_id", "lot_id", "on_hand")
    }
    checked, problems = ledger.ledger_verify()
    race_lots = StockBalance.objects.filter(package__ndc11=RACE_NDC)
    return {
        "balances": balances,
        "negative": StockBalance.objects.filter(on_hand__lt=0).count(),
        "checked": checked,
        "problems": [p.detail for p in problems],
        "moves": StockMove.objects.count(),
        "in_transit": StockTransfer.objects.filter(status="in_transit").count(),
        "race_lots": race_lots.count(),
        "race_on_hand": sorted({str(q) for q in race_lots.values_list("on_hand", flat=True)}),
        "race_moves": StockMove.objects.filter(package__ndc11=RACE_NDC).count(),
        "controlled_moves": StockMove.objects.filter(package__ndc11=CS_NDC).count(),
        "witnessed": StockMove.objects.filter(
            package__ndc11=CS_NDC, witness__username=WITNESS
        ).count(),
    }


if __name__ == "__main__":
    command, *args = sys.argv[1:]
    if command == "setup":
        with context.using(context.RequestInfo(request_id="setup", channel="web")):
            result = setup()
    elif command == "work":
        result = work(*(int(a) for a in args))
    elif command == "race":
        result = race(*(int(a) for a in args))
    else:
        result = check()
    print(json.dumps(result))
