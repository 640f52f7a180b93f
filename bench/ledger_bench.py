"""Stock ledger: dispensing moves per second through the real service (capability check,
FEFO lot choice, conditional update, move, audit event), from 1 and from 4 worker
processes at once on the same hot drug — the contention of a busy counter.

Workers are separate processes (``python -m bench.ledger_bench worker …``) on the same
database as the parent: the SQLite file of RXDESK_VAR_DIR, or DATABASE_URL's PostgreSQL."""

from __future__ import annotations

import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NDC = "00002322730"
PER_WORKER = 250
RUNS = 3


def _setup() -> None:
    from decimal import Decimal

    from rxdesk.catalog.models import Package, Product
    from rxdesk.core import context
    from rxdesk.core.choices import Role
    from rxdesk.core.models import Site, User
    from rxdesk.inventory.services.stock import stock_receive

    if User.objects.filter(username="bench-ledger-rph").exists():
        return
    site = Site.objects.create(name="Ledger bench pharmacy")
    rph = User.objects.create(
        username="bench-ledger-rph",
        role=Role.PHARMACIST,
        site=site,
        pharmacist_license="B-1",
        pharmacist_license_expires=dt.date(2099, 1, 1),
    )
    product = Product.objects.get_or_create(
        product_id="bench-ledger", defaults={"product_ndc": "0002-3227", "name": "Benchmark"}
    )[0]
    Package.objects.get_or_create(
        ndc11=NDC,
        defaults={
            "ndc10": "0002-3227-30",
            "product": product,
            "description": "30 CAPSULE in 1 BOTTLE",
            "billing_unit": "EA",
            "package_quantity": Decimal(30),
        },
    )
    with context.using(context.RequestInfo(request_id="bench", channel="web")):
        for i, lot in enumerate(["BL1", "BL2", "BL3"]):
            stock_receive(
                actor=rph,
                ndc=NDC,
                lot_number=lot,
                expiry=dt.date(2032, 1 + i, 28),
                quantity=1_000_000,
            )


def worker(count: int) -> None:
    """Dispense one unit ``count`` times; print when it started and ended (wall clock, so
    the parent can compare workers; start-up of Python and Django is not counted)."""
    import django

    django.setup()
    from rxdesk.core import context
    from rxdesk.core.models import User
    from rxdesk.inventory.services.stock import stock_dispense

    rph = User.objects.get(username="bench-ledger-rph")
    with context.using(context.RequestInfo(request_id="bench", channel="web")):
        start = time.time()
        for _ in range(count):
            stock_dispense(actor=rph, ndc=NDC, quantity=1)
        print(json.dumps({"start": start, "end": time.time()}))


def _round(workers: int) -> float:
    """Moves per second over the whole round (first worker's start to last one's end)."""
    procs = [
        subprocess.Popen(  # noqa: S603  (our own interpreter and module, fixed arguments)
            [sys.executable, "-m", "bench.ledger_bench", "worker", str(PER_WORKER)],
            cwd=ROOT,
            env=os.environ.copy(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(workers)
    ]
    spans = []
    for p in procs:
        out, err = p.communicate(timeout=1200)
        if p.returncode != 0:
            raise RuntimeError(err[-2000:])
        spans.append(json.loads(out.strip().splitlines()[-1]))
    elapsed = max(s["end"] for s in spans) - min(s["start"] for s in spans)
    return workers * PER_WORKER / elapsed


def run() -> list[dict[str, object]]:
    from django.db import connection

    from rxdesk.inventory.ledger import ledger_verify

    _setup()
    connection.close()  # the workers need the database to themselves
    records: list[dict[str, object]] = []
    for workers in (1, 4):
        rates = [_round(workers) for _ in range(RUNS)]
        records.append(
            {
                "name": f"ledger: dispense moves/s ({workers} worker{'s' if workers > 1 else ''})",
                "value": round(statistics.median(rates), 1),
                "unit": "moves/s",
                "workers": workers,
                "spread": [round(r, 1) for r in sorted(rates)],
            }
        )
    _, problems = ledger_verify()
    records.append(
        {"name": "ledger: verify differences after the run", "value": len(problems), "unit": "rows"}
    )
    return records


if __name__ == "__main__":
    if sys.argv[1:2] == ["worker"]:
        worker(int(sys.argv[2]))
