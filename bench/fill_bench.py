"""The fill workflow: complete prescription lifecycles per second through the real services
— intake (``prescription_create``), data verification, fill (barcode scan, count, stock out
of the ledger), final verification (into the will-call bin) and sale — with 100,000
prescriptions already in the database, from 1 worker and from 4 at once at one busy
pharmacy (central fill: one audit chain, one Rx counter, a few hot drugs), and from 4 workers
each at its own pharmacy of a chain in the same database (load spread over sites).

Builds, in bulk, 100,000 prescriptions for 25,000 patients, each with one fill dispensed
over the last 200 days, and 8 drugs with stock on the shelf. Then times rounds of
lifecycles, each on a new patient (median of 3 rounds), and reports the p95 of each step
in milliseconds over all rounds.

Workers are separate processes (``python -m bench.fill_bench worker …``) on both databases,
as gunicorn runs them: on SQLite they share the file of RXDESK_VAR_DIR (SQLite serialises
writers), on PostgreSQL row locks do the waiting. ``RXDESK_BENCH_THREADS=1`` runs threads
instead (they share one GIL, so they mostly measure Python).

Sizes scale with ``RXDESK_BENCH_SCALE`` (e.g. ``0.02`` while developing: at least 2,000
patients and 1,000 prescriptions, and at least 12 / 6 lifecycles per worker and round).

Run alone with ``python -m bench fill``."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import random
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SITE_NAME = "Fill bench pharmacy"
# The chain: as many pharmacies as the 4-worker round has workers, one worker at each (load
# spread over many sites of one database: no shared audit chain, Rx counter or stock rows).
CHAIN_SITES = 4
CHAIN_NAME = "Fill bench chain pharmacy {}"
SCALE = float(os.environ.get("RXDESK_BENCH_SCALE", "1"))
PRESCRIPTIONS = max(1_000, int(100_000 * SCALE))
PATIENTS = max(2_000, int(25_000 * SCALE))
DRUGS = 8
RUNS = 3
# Lifecycles per worker in one round (a tenth of them at small scales).
PER_ROUND = {1: max(12, int(120 * min(1.0, SCALE))), 4: max(6, int(60 * min(1.0, SCALE)))}
BATCH = 5_000
LAST_RATE: dict[int, float] = {}  # workers → median lifecycles/s of this run (for the baseline)
STEPS = ("intake", "data verification", "fill", "final verification", "sale")


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[max(0, int(len(ordered) * 0.95) - 1)]


# --- The pharmacy ---------------------------------------------------------------------------


def _staff(site: Any, suffix: str, far: dt.date) -> tuple[Any, Any]:
    """A bench pharmacy's technician and pharmacist (usernames end in ``suffix``)."""
    from rxdesk.core.choices import Role
    from rxdesk.core.models import User

    tech = User.objects.create(
        username=f"bench-fill-tech{suffix}",
        first_name="Bench",
        last_name="Technician",
        role=Role.TECHNICIAN,
        site=site,
        technician_registration=f"T1{suffix}",
        technician_registration_expires=far,
    )
    rph = User.objects.create(
        username=f"bench-fill-rph{suffix}",
        first_name="Bench",
        last_name="Pharmacist",
        role=Role.PHARMACIST,
        site=site,
        pharmacist_license=f"RPH-1{suffix}",
        pharmacist_license_expires=far,
    )
    return tech, rph


def _build() -> None:
    """The bench pharmacy, once per database: staff, drugs with stock, patients and
    100,000 prescriptions with their past fills."""
    from django.db import connection, transaction
    from django.utils import timezone

    from rxdesk.catalog.models import Package, Product
    from rxdesk.core import context
    from rxdesk.core.models import Site
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
    tech, rph = _staff(site, "", far)
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
    _build_chain(packages, far)
    connection.close()


def _build_chain(packages: list[Any], far: dt.date) -> None:
    """The chain's pharmacies: their own staff, prescriber, Rx counter, stock of the same
    drugs, and enough patients for every round of the chain's workers."""
    from rxdesk.core import context
    from rxdesk.core.models import Site
    from rxdesk.inventory.services.stock import stock_receive
    from rxdesk.patients.models import Patient, Prescriber
    from rxdesk.rx.models import RxNumber

    patients = PER_ROUND[4] * RUNS + 20
    for k in range(CHAIN_SITES):
        site = Site.objects.create(name=CHAIN_NAME.format(k), time_zone="America/Chicago")
        _tech, rph = _staff(site, f"-{k}", far)
        Prescriber.objects.create(site=site, first_name="Ann", last_name="Bench", npi="1234567893")
        RxNumber.objects.create(site=site, last=0)
        Patient.objects.bulk_create(
            Patient(
                site=site,
                first_name=f"Chain{k}x{i}",
                last_name=f"Bench{i % 997}",
                date_of_birth=dt.date(1940 + i % 60, 1 + i % 12, 1 + i % 28),
            )
            for i in range(patients)
        )
        with context.using(context.RequestInfo(request_id="bench-fill", channel="web")):
            for package in packages:
                stock_receive(
                    actor=rph,
                    ndc=package,
                    lot_number=f"BC{k}{package.ndc10[-6:-3]}",
                    expiry=far,
                    quantity=1_000_000,
                )


# --- One worker -----------------------------------------------------------------------------


class Bench:
    """The bench pharmacy's people and drugs, read once per worker."""

    def __init__(self, chain_site: int | None = None) -> None:
        """The central-fill pharmacy, or the chain's pharmacy number ``chain_site``."""
        from rxdesk.catalog.models import Package
        from rxdesk.core.models import Site, User
        from rxdesk.patients.models import Prescriber

        if chain_site is None:
            name, suffix = SITE_NAME, ""
        else:
            name, suffix = CHAIN_NAME.format(chain_site), f"-{chain_site}"
        self.site = Site.objects.get(name=name)
        self.tech = User.objects.select_related("site").get(username=f"bench-fill-tech{suffix}")
        self.rph = User.objects.select_related("site").get(username=f"bench-fill-rph{suffix}")
        self.prescriber = Prescriber.objects.get(site=self.site, npi="1234567893")
        self.packages = list(
            Package.objects.filter(product__product_id__startswith="bench-fill-")
            .select_related("product")
            .order_by("ndc11")
        )
        self.today = self.site.today()

    def patients(self, count: int, offset: int) -> list[Any]:
        from rxdesk.patients.models import Patient

        rows = list(Patient.objects.filter(site=self.site).order_by("pk")[offset : offset + count])
        assert len(rows) == count, "not enough bench patients for this many lifecycles"
        return rows


def one_lifecycle(bench: Bench, patient: Any, package: Any, step: Any) -> None:
    """One complete lifecycle through the real services; ``step(name)`` is a context
    manager wrapped around each of the five steps (timing, query capture)."""
    from rxdesk.rx import services
    from rxdesk.rx.models import Fill
    from rxdesk.rx.services import workflow

    with step("intake"):
        rx = services.prescription_create(
            actor=bench.tech,
            patient=patient,
            prescriber=bench.prescriber,
            product=package.product,
            package=package,
            origin=1,
            quantity="30",
            quantity_unit="EA",
            days_supply=30,
            directions="1 T PO DAILY",
            date_written=bench.today,
            refills_authorized=2,
        )
        fill = Fill.objects.get(prescription=rx, number=0)
    with step("data verification"):
        workflow.fill_data_verify(actor=bench.rph, fill=fill)
    with step("fill"):
        workflow.fill_product(actor=bench.tech, fill=fill, scanned_code=package.ndc10)
    with step("final verification"):
        workflow.fill_final_verify(actor=bench.rph, fill=fill)
    with step("sale"):
        sold = workflow.fill_sell(actor=bench.tech, fill=fill)
    assert sold.status == "dispensed"


def lifecycles(count: int, offset: int, chain_site: int | None = None) -> dict[str, Any]:
    """``count`` complete lifecycles, each on its own patient (from ``offset``): intake,
    data verification, fill, final verification, sale — at the central-fill pharmacy, or at
    the chain's pharmacy ``chain_site``. Returns when it started and ended (wall clock, so
    workers can be compared) and each step's times in ms."""
    from django.db import connection

    from rxdesk.core import context

    bench = Bench(chain_site)
    patients = bench.patients(count, offset)
    times: dict[str, list[float]] = {step: [] for step in STEPS}

    @contextlib.contextmanager
    def timed(name: str) -> Iterator[None]:
        t0 = time.perf_counter()
        yield
        times[name].append((time.perf_counter() - t0) * 1000)

    with context.using(context.RequestInfo(request_id="bench-fill", channel="web")):
        start = time.time()
        for n, patient in enumerate(patients):
            package = bench.packages[(offset + n) % len(bench.packages)]
            one_lifecycle(bench, patient, package, timed)
        end = time.time()
    connection.close()
    return {"start": start, "end": end, "times": times}


def worker(count: int, offset: int, chain_site: int | None) -> None:
    """A worker process: run the lifecycles, print the result as JSON."""
    import django

    django.setup()
    print(json.dumps(lifecycles(count, offset, chain_site)))


# --- Rounds ---------------------------------------------------------------------------------


def _in_processes(
    workers: int, count: int, offset: int, chain: bool = False
) -> list[dict[str, Any]]:
    """``workers`` processes; at one pharmacy each takes the next ``count`` patients, in the
    chain worker w works at pharmacy w on its patients from ``offset``."""
    procs = [
        subprocess.Popen(  # noqa: S603  (our own interpreter and module, fixed arguments)
            [
                sys.executable,
                "-m",
                "bench.fill_bench",
                "worker",
                str(count),
                *((str(offset), str(w)) if chain else (str(offset + w * count),)),
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


def _in_threads(workers: int, count: int, offset: int, chain: bool = False) -> list[dict[str, Any]]:
    results: list[dict[str, Any]] = [{} for _ in range(workers)]
    errors: list[BaseException] = []

    def run(w: int) -> None:
        try:
            if chain:
                results[w] = lifecycles(count, offset, w)
            else:
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
    site = Site.objects.get(name=SITE_NAME)
    existing = Prescription.objects.filter(site=site).count()
    connection.close()  # the workers need the database to themselves
    # Processes on both databases: the gunicorn deployment runs worker processes, and
    # threads would share one GIL (the figure would be Python's, not the database's).
    in_workers = _in_threads if os.environ.get("RXDESK_BENCH_THREADS") else _in_processes
    kind = "threads" if in_workers is _in_threads else "processes"
    records: list[dict[str, object]] = []
    offsets = {False: 0, True: 0}  # next patient: at the central-fill pharmacy, in the chain
    rounds = ((1, False), (4, False), (CHAIN_SITES, True))
    for workers, chain in rounds:
        count = PER_ROUND[4] if chain else PER_ROUND[workers]
        rates = []
        times: dict[str, list[float]] = {step: [] for step in STEPS}
        for _ in range(RUNS):
            results = in_workers(workers, count, offsets[chain], chain)
            offsets[chain] += count if chain else workers * count
            elapsed = max(r["end"] for r in results) - min(r["start"] for r in results)
            rates.append(workers * count / elapsed)
            for r in results:
                for step in STEPS:
                    times[step].extend(r["times"][step])
        if not chain:
            LAST_RATE[workers] = statistics.median(rates)
        plural = f"{workers} worker{'s' if workers > 1 else ''}"
        if chain:
            plural += f" at {workers} pharmacies"
        records.append(
            {
                "name": f"fill: lifecycles/s ({plural}, {existing:,} Rx on file)",
                "value": round(statistics.median(rates), 1),
                "unit": "lifecycles/s",
                "workers": workers,
                "spread": [round(r, 1) for r in sorted(rates)],
                "worker_kind": kind,
                "sites": workers if chain else 1,
            }
        )
        for step in STEPS:
            records.append(
                {
                    "name": f"fill: p95 {step} ({plural})",
                    "value": round(_p95(times[step]), 1),
                    "unit": "ms",
                    "workers": workers,
                    "sites": workers if chain else 1,
                }
            )
    problems = []
    for checked in Site.objects.filter(name__startswith="Fill bench "):
        problems += ledger_verify(site_id=checked.pk)[1]
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
        worker(int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]) if sys.argv[4:] else None)
    else:
        from bench.__main__ import _setup

        _setup()
        for record in run():
            print(record)
