"""The fill workflow: complete prescription lifecycles per second through the real services
— intake (``prescription_create``), data verification, fill (barcode scan, count, stock out
of the ledger), final verification (into the will-call bin) and sale — with 100,000
prescriptions already in the database, from 1 worker and from 4 at once at one busy
pharmacy (central fill: one audit chain, one Rx counter, a few hot drugs).

Builds, in bulk, 100,000 prescriptions for 25,000 patients, each with one fill dispensed
over the last 200 days, and 8 drugs with stock on the shelf. Then times rounds of
lifecycles, each on a new patient (median of 3 rounds), and reports the p95 of each step
in milliseconds over all rounds.

Workers are separate processes on SQLite (``python -m bench.fill_bench worker …`` on the
SQLite file of RXDESK_VAR_DIR: SQLite serialises writers, the processes run Python side by
side) and threads on the PostgreSQL of DATABASE_URL (row locks do the waiting).

Run alone with ``python -m bench fill``."""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import statistics
import subprocess
import sys
import threading
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SITE_NAME = "Fill bench pharmacy"
PRESCRIPTIONS = 100_000
PATIENTS = 25_000
DRUGS = 8
RUNS = 3
PER_ROUND = {1: 120, 4: 60}  # lifecycles per worker in one round
BATCH = 5_000
STEPS = ("intake", "data verification", "fill", "final verification", "sale")


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[max(0, int(len(ordered) * 0.95) - 1)]


# --- The pharmacy ---------------------------------------------------------------------------


def _build() -> None:
    """The bench pharmacy, once per database: staff, drugs with stock, patients and
    100,000 prescriptions with their past fills."""
    from django.db import connection, transaction
    from django.utils import timezone

    from rxdesk.catalog.models import Package, Product
    from rxdesk.core import context
    from rxdesk.core.choices import Role
    from rxdesk.core.models import Site, User
    from rxdesk.inventory.services.stock import stock_receive
    from rxdesk.patients.models import Patient, Prescriber
    from rxdesk.rx.models import Fill, Prescription, RxNumber

    if Site.objects.filter(name=SITE_NAME).exists():
        return
    rng = random.Random(6)  # noqa: S311  (reproducible test data, not secrets)
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA synchronous=OFF")  # bulk set-up only; closed below
    site = Site.objects.create(name=SITE_NAME, time_zone="America/Chicago")
    far = dt.date.today() + dt.timedelta(days=3650)
    tech = User.objects.create(
        username="bench-fill-tech",
        first_name="Bench",
        last_name="Technician",
        role=Role.TECHNICIAN,
        site=site,
        technician_registration="T1",
        technician_registration_expires=far,
    )
    rph = User.objects.create(
        username="bench-fill-rph",
        first_name="Bench",
        last_name="Pharmacist",
        role=Role.PHARMACIST,
        site=site,
        pharmacist_license="RPH-1",
        pharmacist_license_expires=far,
    )
    today = site.today()
    now = timezone.now()
    with transaction.atomic():
        packages = []
        for d in range(DRUGS):
            product = Product.objects.create(
                product_id=f"bench-fill-{d}",
                product_ndc=f"99991-{d:03d}",
                product_type="HUMAN PRESCRIPTION DRUG",
                name=f"Benchfillol {d}",
                generic_name=f"benchfillol {d}",
                strength="10 mg/1",
                dosage_form="TABLET",
                labeler="Bench Labs",
            )
            packages.append(
                Package.objects.create(
                    ndc11=f"99991{d:04d}01",
                    ndc10=f"99991-{d:03d}-01",
                    product=product,
                    description="1000 TABLET in 1 BOTTLE",
                    billing_unit="EA",
                    package_quantity=Decimal(1000),
                )
            )
        prescriber = Prescriber.objects.create(
            site=site, first_name="Ann", last_name="Bench", npi="1234567893"
        )
        patients = Patient.objects.bulk_create(
            (
                Patient(
                    site=site,
                    first_name=f"Fil{i}",
                    last_name=f"Bench{i % 997}",
                    date_of_birth=dt.date(1940 + i % 60, 1 + i % 12, 1 + i % 28),
                )
                for i in range(PATIENTS)
            ),
            batch_size=BATCH,
        )
        for start in range(0, PRESCRIPTIONS, BATCH):
            rows = []
            for i in range(start, min(start + BATCH, PRESCRIPTIONS)):
                package = packages[i % DRUGS]
                rows.append(
                    Prescription(
                        site=site,
                        number=i + 1,
                        patient=patients[i % PATIENTS],
                        prescriber=prescriber,
                        product=package.product,
                        package=package,
                        drug_description=f"{package.product.name} 10 mg tablet",
                        origin=3,
                        quantity=Decimal(30),
                        quantity_unit="EA",
                        days_supply=30,
                        directions="1 T PO DAILY",
                        directions_en="Take 1 tablet by mouth once daily.",
                        refills_authorized=5,
                        date_written=today - dt.timedelta(days=220),
                        expires_on=today + dt.timedelta(days=145),
                        entered_by=tech,
                    )
                )
            rxs = Prescription.objects.bulk_create(rows, batch_size=BATCH)
            Fill.objects.bulk_create(
                (
                    Fill(
                        site=site,
                        prescription=rx,
                        number=0,
                        status="dispensed",
                        source="new",
                        quantity=Decimal(30),
                        days_supply=30,
                        dispensed_on=today - dt.timedelta(days=rng.randint(0, 200)),
                        dispensed_at=now,
                        requested_by=tech,
                    )
                    for rx in rxs
                ),
                batch_size=BATCH,
            )
        RxNumber.objects.create(site=site, last=PRESCRIPTIONS)
    with context.using(context.RequestInfo(request_id="bench-fill", channel="web")):
        for package in packages:
            stock_receive(
                actor=rph,
                ndc=package,
                lot_number=f"BF{package.ndc10[-6:-3]}",
                expiry=far,
                quantity=5_000_000,
            )
    connection.close()


# --- One worker -----------------------------------------------------------------------------


def lifecycles(count: int, offset: int) -> dict[str, Any]:
    """``count`` complete lifecycles, each on its own patient (from ``offset``): intake,
    data verification, fill, final verification, sale. Returns when it started and ended
    (wall clock, so workers can be compared) and each step's times in ms."""
    from django.db import connection

    from rxdesk.catalog.models import Package
    from rxdesk.core import context
    from rxdesk.core.models import Site, User
    from rxdesk.patients.models import Patient, Prescriber
    from rxdesk.rx import services
    from rxdesk.rx.models import Fill
    from rxdesk.rx.services import workflow

    site = Site.objects.get(name=SITE_NAME)
    tech = User.objects.select_related("site").get(username="bench-fill-tech")
    rph = User.objects.select_related("site").get(username="bench-fill-rph")
    prescriber = Prescriber.objects.get(site=site, npi="1234567893")
    packages = list(
        Package.objects.filter(product__product_id__startswith="bench-fill-")
        .select_related("product")
        .order_by("ndc11")
    )
    patients = list(Patient.objects.filter(site=site).order_by("pk")[offset : offset + count])
    assert len(patients) == count, "not enough bench patients for this many lifecycles"
    times: dict[str, list[float]] = {step: [] for step in STEPS}
    today = site.today()
    with context.using(context.RequestInfo(request_id="bench-fill", channel="web")):
        start = time.time()
        for n, patient in enumerate(patients):
            package = packages[(offset + n) % len(packages)]
            t0 = time.perf_counter()
            rx = services.prescription_create(
                actor=tech,
                patient=patient,
                prescriber=prescriber,
                product=package.product,
                package=package,
                origin=1,
                quantity="30",
                quantity_unit="EA",
                days_supply=30,
                directions="1 T PO DAILY",
                date_written=today,
                refills_authorized=2,
            )
            fill = Fill.objects.get(prescription=rx, number=0)
            t1 = time.perf_counter()
            workflow.fill_data_verify(actor=rph, fill=fill)
            t2 = time.perf_counter()
            workflow.fill_product(actor=tech, fill=fill, scanned_code=package.ndc10)
            t3 = time.perf_counter()
            workflow.fill_final_verify(actor=rph, fill=fill)
            t4 = time.perf_counter()
            sold = workflow.fill_sell(actor=tech, fill=fill)
            t5 = time.perf_counter()
            assert sold.status == "dispensed"
            for step, (a, b) in zip(
                STEPS, ((t0, t1), (t1, t2), (t2, t3), (t3, t4), (t4, t5)), strict=True
            ):
                times[step].append((b - a) * 1000)
        end = time.time()
    connection.close()
    return {"start": start, "end": end, "times": times}


def worker(count: int, offset: int) -> None:
    """A worker process (SQLite): run the lifecycles, print the result as JSON."""
    import django

    django.setup()
    print(json.dumps(lifecycles(count, offset)))


# --- Rounds ---------------------------------------------------------------------------------


def _in_processes(workers: int, count: int, offset: int) -> list[dict[str, Any]]:
    procs = [
        subprocess.Popen(  # noqa: S603  (our own interpreter and module, fixed arguments)
            [
                sys.executable,
                "-m",
                "bench.fill_bench",
                "worker",
                str(count),
                str(offset + w * count),
            ],
            cwd=ROOT,
            env=os.environ.copy(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for w in range(workers)
    ]
    results = []
    for p in procs:
        out, err = p.communicate(timeout=1200)
        if p.returncode != 0:
            raise RuntimeError(err[-2000:])
        results.append(json.loads(out.strip().splitlines()[-1]))
    return results


def _in_threads(workers: int, count: int, offset: int) -> list[dict[str, Any]]:
    results: list[dict[str, Any]] = [{} for _ in range(workers)]
    errors: list[BaseException] = []

    def run(w: int) -> None:
        try:
            results[w] = lifecycles(count, offset + w * count)
        except BaseException as exc:  # reported by the parent
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(w,)) for w in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return results


def run() -> list[dict[str, object]]:
    from django.db import connection

    from rxdesk.core.models import Site
    from rxdesk.inventory.ledger import ledger_verify
    from rxdesk.rx.models import Prescription

    _build()
    vendor = connection.vendor
    site = Site.objects.get(name=SITE_NAME)
    existing = Prescription.objects.filter(site=site).count()
    connection.close()  # the workers need the database to themselves
    in_workers = _in_processes if vendor == "sqlite" else _in_threads
    kind = "processes" if vendor == "sqlite" else "threads"
    records: list[dict[str, object]] = []
    offset = 0
    for workers in (1, 4):
        count = PER_ROUND[workers]
        rates = []
        times: dict[str, list[float]] = {step: [] for step in STEPS}
        for _ in range(RUNS):
            results = in_workers(workers, count, offset)
            offset += workers * count
            elapsed = max(r["end"] for r in results) - min(r["start"] for r in results)
            rates.append(workers * count / elapsed)
            for r in results:
                for step in STEPS:
                    times[step].extend(r["times"][step])
        plural = f"{workers} worker{'s' if workers > 1 else ''}"
        records.append(
            {
                "name": f"fill: lifecycles/s ({plural}, {existing:,} Rx on file)",
                "value": round(statistics.median(rates), 1),
                "unit": "lifecycles/s",
                "workers": workers,
                "spread": [round(r, 1) for r in sorted(rates)],
                "worker_kind": kind,
            }
        )
        for step in STEPS:
            records.append(
                {
                    "name": f"fill: p95 {step} ({plural})",
                    "value": round(_p95(times[step]), 1),
                    "unit": "ms",
                    "workers": workers,
                }
            )
    _, problems = ledger_verify(site_id=site.pk)
    records.append(
        {
            "name": "fill: ledger verify differences after the run",
            "value": len(problems),
            "unit": "rows",
        }
    )
    return records


if __name__ == "__main__":
    if sys.argv[1:2] == ["worker"]:
        worker(int(sys.argv[2]), int(sys.argv[3]))
    else:
        from bench.__main__ import _setup

        _setup()
        for record in run():
            print(record)
