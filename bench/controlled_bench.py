"""Controlled substances: the DEA records read over a busy pharmacy's ledger.

Builds two years of controlled-substance history in bulk: 300 controlled packages (a third
Schedule II) with 3 lots each, 300,000 moves (dispensings, receipts, a count now and then),
one hot Schedule II package holding 40,000 of them, and a blind count of every Schedule II
package each week. Balances (balance_after) are real running totals. Then times what an
inspector and the pharmacist ask for, through the real queries:

* ``perpetual`` — every Schedule II package with its lots (the landing page);
* ``package_ledger`` of the hot package for the last 30 days (running balance and words);
* ``daily_log`` of one busy day, Schedule II;
* ``signals`` — the diversion signals over 90 days (every package, every person).

Medians and p95 of repeated runs. Targets (p95): perpetual, ledger, log < 150 ms each;
signals < 3 s. Run alone with ``python -m bench controlled``; on the PostgreSQL of
DATABASE_URL when set, else on a temporary SQLite file."""

from __future__ import annotations

import datetime as dt
import random
import statistics
import time
from decimal import Decimal
from typing import Any

PACKAGES = 300
LOTS_PER_PACKAGE = 3
MOVES = 300_000
HOT_SHARE = 40_000
RUNS = 30
BATCH = 20_000
TARGET_MS = {"perpetual": 150.0, "ledger_30_days": 150.0, "daily_log": 150.0}
SIGNALS_TARGET_MS = 3000.0


def _build() -> tuple[Any, Any, Any]:
    from django.db import connection, transaction
    from django.utils import timezone

    from rxdesk.catalog.models import Package, Product
    from rxdesk.controlled.models import CsAudit
    from rxdesk.core.choices import Role
    from rxdesk.core.models import Site, User
    from rxdesk.inventory.choices import MoveReason
    from rxdesk.inventory.models import Lot, StockBalance, StockMove

    existing = Site.objects.filter(name="Controlled bench pharmacy").first()
    if existing is not None:
        pic = User.objects.get(username="bench-cs-pic")
        return existing, pic, Package.objects.get(ndc11="88000000101")
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA synchronous=OFF")
    rng = random.Random(10)  # noqa: S311  (reproducible test data)
    site = Site.objects.create(name="Controlled bench pharmacy", time_zone="America/Chicago")
    pic = User.objects.create(username="bench-cs-pic", role=Role.PHARMACIST_IN_CHARGE, site=site)
    staff = [
        User.objects.create(username=f"bench-cs-tech{i}", role=Role.TECHNICIAN, site=site)
        for i in range(6)
    ]
    schedules = ["CII", "CIII", "CIV", "CV"]
    with transaction.atomic():
        products = Product.objects.bulk_create(
            Product(
                product_id=f"bench-cs-{i}",
                product_ndc=f"{88000 + i // 100:05d}-{i % 100:03d}",
                product_type="HUMAN PRESCRIPTION DRUG",
                name=f"Controlled benchdrug {i}",
                strength="10 mg/1",
                dosage_form="TABLET",
                directory_dea_schedule="CII" if i % 3 == 0 else schedules[1 + i % 3],
            )
            for i in range(PACKAGES)
        )
        packages = Package.objects.bulk_create(
            Package(
                ndc11=f"{88000 + i // 100:05d}0{i % 100:03d}01",
                ndc10=f"{88000 + i // 100:05d}-{i % 100:03d}-01",
                product=product,
                description="100 TABLET in 1 BOTTLE",
                billing_unit="EA",
                package_quantity=Decimal(100),
            )
            for i, product in enumerate(products)
        )
        lots = Lot.objects.bulk_create(
            Lot(
                package=packages[i // LOTS_PER_PACKAGE],
                number=f"CS{i:05d}",
                expiry=dt.date.today() + dt.timedelta(days=200 + i % 500),
            )
            for i in range(PACKAGES * LOTS_PER_PACKAGE)
        )
    hot_lots = lots[:LOTS_PER_PACKAGE]
    on_hand: dict[int, Decimal] = {lot.pk: Decimal(0) for lot in lots}
    start = timezone.now() - dt.timedelta(days=730)
    step = dt.timedelta(days=730) / MOVES
    rows: list[StockMove] = []
    audits: list[CsAudit] = []
    next_count = start + dt.timedelta(days=7)
    for i in range(MOVES):
        lot = (
            hot_lots[i % LOTS_PER_PACKAGE]
            if i % (MOVES // HOT_SHARE) == 0
            else lots[rng.randrange(len(lots))]
        )
        when = start + step * i
        if on_hand[lot.pk] < 30:
            quantity, reason = Decimal(500), MoveReason.RECEIVE
        else:
            quantity, reason = Decimal(-rng.randint(10, 30)), MoveReason.DISPENSE
        on_hand[lot.pk] += quantity
        who = staff[rng.randrange(len(staff))]
        rows.append(
            StockMove(
                site_id=site.pk,
                package_id=lot.package_id,
                lot_id=lot.pk,
                quantity=quantity,
                balance_after=on_hand[lot.pk],
                reason=reason,
                reference_type="fill" if reason == MoveReason.DISPENSE else "",
                reference_id=str(i) if reason == MoveReason.DISPENSE else "",
                actor=who,
                actor_name=who.username,
                occurred_at=when,
            )
        )
        if when >= next_count:
            next_count += dt.timedelta(days=7)
            for package in packages[::3]:
                audits.append(
                    CsAudit(
                        site=site,
                        package=package,
                        counted=Decimal(100),
                        expected=Decimal(100),
                        variance=Decimal(0),
                        status="matched",
                        counted_by=staff[0],
                        counter_name=staff[0].username,
                        counted_at=when,
                    )
                )
        if len(rows) >= BATCH:
            with transaction.atomic():
                StockMove.objects.bulk_create(rows, batch_size=BATCH)
            rows = []
    with transaction.atomic():
        StockMove.objects.bulk_create(rows, batch_size=BATCH)
        CsAudit.objects.bulk_create(audits, batch_size=BATCH)
        StockBalance.objects.bulk_create(
            StockBalance(site=site, package_id=lot.package_id, lot=lot, on_hand=on_hand[lot.pk])
            for lot in lots
        )
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    return site, pic, packages[0]


def _time(fn: Any, runs: int = RUNS) -> list[float]:
    fn()  # warm
    samples = []
    for _ in range(runs):
        begin = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - begin) * 1000)
    return samples


def _p95(samples: list[float]) -> float:
    return sorted(samples)[max(0, int(len(samples) * 0.95) - 1)]


def run() -> list[dict[str, object]]:
    from django.db.models import Count
    from django.db.models.functions import TruncDate

    from rxdesk.controlled import queries
    from rxdesk.controlled.queries_diversion import signals
    from rxdesk.core import context
    from rxdesk.inventory.models import StockMove

    started = time.perf_counter()
    site, pic, hot = _build()
    build_s = time.perf_counter() - started
    today = site.today()
    busiest = (
        StockMove.objects.filter(site=site, package__product__directory_dea_schedule="CII")
        .annotate(day=TruncDate("occurred_at"))
        .values("day")
        .annotate(n=Count("id"))
        .order_by("-n")
        .first()
    )
    busy_day = busiest["day"] if busiest else today
    records: list[dict[str, object]] = [
        {"name": "controlled: history build", "value": round(build_s, 1), "unit": "s"},
    ]
    with context.using(context.RequestInfo(request_id="bench", channel="web")):
        cases = {
            "perpetual": lambda: queries.perpetual(actor=pic, group="II"),
            "ledger_30_days": lambda: queries.package_ledger(
                actor=pic, package=hot, start=today - dt.timedelta(days=30), end=today
            ),
            "daily_log": lambda: queries.daily_log(actor=pic, day=busy_day, group="II"),
        }
        for name, fn in cases.items():
            samples = _time(fn)
            records.append(
                {
                    "name": f"controlled: {name} p50",
                    "value": round(statistics.median(samples), 1),
                    "unit": "ms",
                }
            )
            records.append(
                {
                    "name": f"controlled: {name} p95 (target < {TARGET_MS[name]:.0f})",
                    "value": round(_p95(samples), 1),
                    "unit": "ms",
                }
            )
        samples = _time(lambda: signals(actor=pic), runs=5)
        records.append(
            {
                "name": f"controlled: signals 90 days median (target < {SIGNALS_TARGET_MS:.0f})",
                "value": round(statistics.median(samples), 1),
                "unit": "ms",
            }
        )
    return records


if __name__ == "__main__":
    from bench.__main__ import _setup

    vendor = _setup()
    for record in run():
        print(f"{record['name']:<56} {record['value']:>10} {record['unit']} {vendor}")
