"""Recall: every patient who received an affected lot, over 1,000,000 dispensing moves.

Builds a pharmacy's dispensing history in bulk (StockMove rows of reason DISPENSE, each
for a patient and referencing a fill; about 1 in 50 partly returned to stock), spread over
20,000 lots of 500 packages and 50,000 patients over two years, then enters a recall of a
few lots through the real service and times ``recall_patients`` (the whole read the recall
screen makes: lots, the grouped pass over the moves, the dispensings, the patients).
Balances are not built: the query reads only moves. The target is under 100 ms (p95).

Run alone with ``python -m bench recall`` or ``python -m bench.recall_bench``; on the
PostgreSQL of DATABASE_URL when set (e.g. postgres://postgres@127.0.0.1:5432/rxdesk_bench),
else on a temporary SQLite file."""

from __future__ import annotations

import datetime as dt
import random
import statistics
import sys
import time
from decimal import Decimal

MOVES = 1_000_000
LOTS = 20_000
PACKAGES = 500
PATIENTS = 50_000
RETURN_EVERY = 50  # one dispensing in 50 is partly returned to stock (not picked up)
RECALLED_LOTS = 4
RUNS = 50
TARGET_MS = 100.0
BATCH = 20_000


def _build() -> tuple[object, object, list[str]]:
    from django.db import connection, transaction
    from django.utils import timezone

    from rxdesk.catalog.models import Package, Product
    from rxdesk.core.choices import Role
    from rxdesk.core.models import Site, User
    from rxdesk.inventory.choices import MoveReason
    from rxdesk.inventory.models import Lot, StockMove
    from rxdesk.patients.models import Patient

    rng = random.Random(6)  # noqa: S311  (reproducible test data, not secrets)
    existing = Site.objects.filter(name="Recall bench pharmacy").first()
    if existing is not None and StockMove.objects.filter(site=existing).count() >= MOVES:
        # A kept RXDESK_VAR_DIR (or bench database): reuse the history built last time.
        tech = User.objects.get(username="bench-recall-tech")
        return existing, tech, [f"B{rng.randrange(LOTS):06d}" for _ in range(RECALLED_LOTS)]
    if connection.vendor == "sqlite":
        # A throw-away benchmark file: no need to wait for the disk on each bulk insert.
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA synchronous=OFF")
    site = Site.objects.create(name="Recall bench pharmacy", time_zone="America/Chicago")
    tech = User.objects.create(username="bench-recall-tech", role=Role.TECHNICIAN, site=site)
    with transaction.atomic():
        products = Product.objects.bulk_create(
            Product(
                product_id=f"bench-recall-{i}",
                product_ndc=f"{90000 + i // 100:05d}-{i % 100:03d}",
                product_type="HUMAN PRESCRIPTION DRUG",
                name=f"Benchdrug {i}",
                strength="10 mg/1",
                dosage_form="TABLET",
            )
            for i in range(PACKAGES)
        )
        packages = Package.objects.bulk_create(
            Package(
                ndc11=f"{90000 + i // 100:05d}0{i % 100:03d}01",
                ndc10=f"{90000 + i // 100:05d}-{i % 100:03d}-01",
                product=product,
                description="100 TABLET in 1 BOTTLE",
                billing_unit="EA",
                package_quantity=Decimal(100),
            )
            for i, product in enumerate(products)
        )
        today = dt.date.today()
        lots = Lot.objects.bulk_create(
            (
                Lot(
                    package=packages[i % PACKAGES],
                    number=f"B{i:06d}",
                    expiry=today + dt.timedelta(days=365 + i % 700),
                )
                for i in range(LOTS)
            ),
            batch_size=BATCH,
        )
        patients = Patient.objects.bulk_create(
            (
                Patient(
                    site=site,
                    first_name=f"Pat{i}",
                    last_name=f"Bench{i % 997}",
                    date_of_birth=dt.date(1940 + i % 60, 1 + i % 12, 1 + i % 28),
                )
                for i in range(PATIENTS)
            ),
            batch_size=BATCH,
        )
    lot_refs = [(lot.pk, lot.package_id) for lot in lots]
    patient_ids = [p.pk for p in patients]
    start = timezone.now() - dt.timedelta(days=730)
    step = dt.timedelta(days=730) / MOVES
    made = 0
    while made < MOVES:
        rows: list[StockMove] = []
        for i in range(made, min(made + BATCH, MOVES)):
            lot_id, package_id = lot_refs[rng.randrange(LOTS)]
            patient_id = patient_ids[rng.randrange(PATIENTS)]
            when = start + step * i
            rows.append(
                StockMove(
                    site_id=site.pk,
                    package_id=package_id,
                    lot_id=lot_id,
                    quantity=Decimal(-30),
                    balance_after=Decimal(0),
                    reason=MoveReason.DISPENSE,
                    reference_type="fill",
                    reference_id=str(i),
                    patient_id=patient_id,
                    actor_name="bench",
                    occurred_at=when,
                )
            )
            if i % RETURN_EVERY == 0:
                rows.append(
                    StockMove(
                        site_id=site.pk,
                        package_id=package_id,
                        lot_id=lot_id,
                        quantity=Decimal(10),
                        balance_after=Decimal(10),
                        reason=MoveReason.RETURN_TO_STOCK,
                        reference_type="fill",
                        reference_id=str(i),
                        patient_id=patient_id,
                        actor_name="bench",
                        occurred_at=when + dt.timedelta(days=10),
                    )
                )
        with transaction.atomic():
            StockMove.objects.bulk_create(rows, batch_size=BATCH)
        made += BATCH
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE inventory_stockmove")
    recalled = [f"B{rng.randrange(LOTS):06d}" for _ in range(RECALLED_LOTS)]
    return site, tech, recalled


def _plan(sql: str) -> str:
    from django.db import connection

    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute(f"EXPLAIN QUERY PLAN {sql}")
            return " | ".join(str(row[-1]) for row in cursor.fetchall())
        cursor.execute(f"EXPLAIN {sql}")
        return " | ".join(row[0].strip() for row in cursor.fetchall())


def run() -> list[dict[str, object]]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from rxdesk.core import context
    from rxdesk.inventory.models import Lot
    from rxdesk.inventory.queries_recalls import recall_patients
    from rxdesk.inventory.services.recalls import recall_create

    started = time.perf_counter()
    site, tech, recalled = _build()
    build_s = time.perf_counter() - started
    lots = list(Lot.objects.filter(number__in=recalled).select_related("package"))
    with context.using(context.RequestInfo(request_id="bench", channel="cli")):
        recall = recall_create(
            actor=None,
            site=site,  # type: ignore[arg-type]
            classification="II",
            reason="Benchmark recall",
            recall_date=site.today(),  # type: ignore[attr-defined]
            recall_number=f"BENCH-{time.time_ns()}",
            items=[{"ndc": lot.package.ndc11, "lot_number": lot.number} for lot in lots],
        )
    with context.using(context.RequestInfo(request_id="bench", channel="web")):
        with CaptureQueriesContext(connection) as captured:
            rows = recall_patients(actor=tech, recall=recall)  # type: ignore[arg-type]
        grouped = next(q["sql"] for q in captured.captured_queries if "GROUP BY" in q["sql"])
        for _ in range(3):
            recall_patients(actor=tech, recall=recall)  # type: ignore[arg-type]
        samples = []
        for _ in range(RUNS):
            start = time.perf_counter()
            recall_patients(actor=tech, recall=recall)  # type: ignore[arg-type]
            samples.append((time.perf_counter() - start) * 1000)
    samples.sort()
    median = statistics.median(samples)
    p95 = samples[int(len(samples) * 0.95) - 1]
    print(f"  recall plan: {_plan(grouped)}", flush=True)
    label = f"{MOVES:,} dispensings, {RECALLED_LOTS} lots, {len(rows)} patient rows"
    verdict = "pass" if p95 < TARGET_MS else "FAIL"
    return [
        {"name": "recall bench set-up (bulk)", "value": round(build_s, 1), "unit": "s"},
        {"name": f"recall_patients median ({label})", "value": round(median, 2), "unit": "ms"},
        {"name": f"recall_patients p95 ({label})", "value": round(p95, 2), "unit": "ms"},
        {
            "name": f"recall_patients p95 < {TARGET_MS:.0f} ms",
            "value": verdict,
            "unit": "",
        },
    ]


def main() -> None:
    from bench.__main__ import _setup

    vendor = _setup()
    for record in run():
        name, value, unit = record["name"], record["value"], record["unit"]
        print(f"{name:<64} {value:>10} {unit:<4} {vendor}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
