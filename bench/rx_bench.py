"""Prescriptions: typed intake through the real service, a heavy medication profile, and
the refill-due list of a busy store.

Builds 20,000 active prescriptions for 5,000 patients in bulk (each with 1–6 past fills
over the last 200 days) plus one patient with 150 prescriptions of 6 fills each, then times:
- ``prescription_create`` (sig expansion, days-supply check, schedule rules, Rx number,
  first fill, audit event): calls per second, median of 3 batches of 100;
- ``patient_profile`` of the 150-prescription patient: median and p95 of 50 reads
  (target under 200 ms);
- ``refills_due`` (7 days ahead) over the 20,000: median and p95 of 20 reads (target under
  500 ms).

Run alone with ``python -m bench rx``; on the PostgreSQL of DATABASE_URL when set."""

from __future__ import annotations

import datetime as dt
import random
import statistics
import time
from decimal import Decimal
from typing import Any

ACTIVE = 20_000
PATIENTS = 5_000
HEAVY_RXS = 150
HEAVY_FILLS = 6
INTAKE_BATCHES, INTAKE_CALLS = 3, 100
PROFILE_RUNS, DUE_RUNS = 50, 20
BATCH = 5_000


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[max(0, int(len(ordered) * 0.95) - 1)]


def _build() -> dict[str, Any]:
    from django.db import connection, transaction
    from django.utils import timezone

    from rxdesk.catalog.models import Package, Product
    from rxdesk.core.choices import Role
    from rxdesk.core.models import Site, User
    from rxdesk.patients.models import Patient, Prescriber
    from rxdesk.rx.models import Fill, Prescription, RxNumber

    rng = random.Random(5)  # noqa: S311  (reproducible test data, not secrets)
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA synchronous=OFF")
    site = Site.objects.create(name="Rx bench pharmacy", time_zone="America/Chicago")
    far = dt.date.today() + dt.timedelta(days=3650)
    tech = User.objects.create(
        username="bench-rx-tech",
        role=Role.TECHNICIAN,
        site=site,
        technician_registration="T1",
        technician_registration_expires=far,
    )
    today = site.today()
    now = timezone.now()
    with transaction.atomic():
        product = Product.objects.create(
            product_id="bench-rx-1",
            product_ndc="99990-001",
            product_type="HUMAN PRESCRIPTION DRUG",
            name="Benchpril",
            strength="10 mg/1",
            dosage_form="TABLET",
        )
        package = Package.objects.create(
            ndc11="99990000101",
            ndc10="99990-001-01",
            product=product,
            description="100 TABLET in 1 BOTTLE",
            billing_unit="EA",
            package_quantity=Decimal(100),
        )
        prescriber = Prescriber.objects.create(
            site=site, first_name="Ann", last_name="Bench", npi="1234567893"
        )
        patients = Patient.objects.bulk_create(
            (
                Patient(
                    site=site,
                    first_name=f"Pat{i}",
                    last_name=f"Bench{i % 997}",
                    date_of_birth=dt.date(1940 + i % 60, 1 + i % 12, 1 + i % 28),
                )
                for i in range(PATIENTS + 1)
            ),
            batch_size=BATCH,
        )
        heavy = patients[-1]
        rows = []
        plan: list[tuple[int, int]] = []  # (fills, days since the last one)
        for i in range(ACTIVE + HEAVY_RXS):
            is_heavy = i >= ACTIVE
            fills = HEAVY_FILLS if is_heavy else rng.randint(1, 6)
            plan.append((fills, rng.randint(0, 40)))
            rows.append(
                Prescription(
                    site=site,
                    number=i + 1,
                    patient=heavy if is_heavy else patients[i % PATIENTS],
                    prescriber=prescriber,
                    product=product,
                    package=package,
                    drug_description="Benchpril 10 mg tablet",
                    schedule="CIV" if i % 10 == 0 else "",
                    origin=3,
                    quantity=Decimal(30),
                    quantity_unit="EA",
                    days_supply=30,
                    directions="1 T PO DAILY",
                    directions_en="Take 1 tablet by mouth once daily.",
                    refills_authorized=5 if i % 10 == 0 else 11,
                    date_written=today - dt.timedelta(days=220),
                    expires_on=today + dt.timedelta(days=145),
                    entered_by=tech,
                )
            )
        rxs = Prescription.objects.bulk_create(rows, batch_size=BATCH)
        RxNumber.objects.create(site=site, last=len(rxs))
        fills: list[Fill] = []
        for rx, (count, last_ago) in zip(rxs, plan, strict=True):
            for n in range(count):
                day = today - dt.timedelta(days=last_ago + 30 * (count - 1 - n))
                fills.append(
                    Fill(
                        site=site,
                        prescription=rx,
                        number=n,
                        status="dispensed",
                        source="phone",
                        quantity=Decimal(30),
                        days_supply=30,
                        dispensed_on=day,
                        dispensed_at=now,
                        requested_by=tech,
                    )
                )
            if len(fills) >= BATCH:
                Fill.objects.bulk_create(fills, batch_size=BATCH)
                fills = []
        Fill.objects.bulk_create(fills, batch_size=BATCH)
    return {
        "site": site,
        "tech": tech,
        "heavy": heavy,
        "patients": patients[:INTAKE_CALLS],
        "prescriber": prescriber,
        "product": product,
        "package": package,
    }


def run() -> list[dict[str, object]]:
    from rxdesk.core import context
    from rxdesk.rx import queries, services

    world = _build()
    tech, site = world["tech"], world["site"]
    records: list[dict[str, object]] = []
    with context.using(context.RequestInfo(request_id="bench-rx", channel="web")):
        rates = []
        for _ in range(INTAKE_BATCHES):
            started = time.perf_counter()
            for patient in world["patients"]:
                services.prescription_create(
                    actor=tech,
                    patient=patient,
                    prescriber=world["prescriber"],
                    product=world["product"],
                    package=world["package"],
                    origin=1,
                    quantity="30",
                    quantity_unit="EA",
                    days_supply=30,
                    directions="1 T PO BID PRN PAIN",
                    date_written=site.today(),
                    refills_authorized=2,
                )
            rates.append(INTAKE_CALLS / (time.perf_counter() - started))
        records.append(
            {
                "name": "rx intake (prescription_create)",
                "value": statistics.median(rates),
                "unit": "calls/s",
            }
        )

        times = []
        for _ in range(PROFILE_RUNS):
            started = time.perf_counter()
            profile = queries.patient_profile(actor=tech, patient=world["heavy"])
            times.append((time.perf_counter() - started) * 1000)
        assert sum(len(g) for _, _, g in profile.groups) == HEAVY_RXS
        records.append(
            {
                "name": f"profile, {HEAVY_RXS} Rx × {HEAVY_FILLS} fills, median",
                "value": statistics.median(times),
                "unit": "ms",
            }
        )
        records.append(
            {
                "name": f"profile, {HEAVY_RXS} Rx × {HEAVY_FILLS} fills, p95",
                "value": _p95(times),
                "unit": "ms",
            }
        )

        times = []
        for _ in range(DUE_RUNS):
            started = time.perf_counter()
            due = queries.refills_due(actor=tech, within_days=7, limit=200)
            times.append((time.perf_counter() - started) * 1000)
        assert due, "the bench pharmacy has refills due"
        records.append(
            {
                "name": f"refills due over {ACTIVE:,} active Rx, median",
                "value": statistics.median(times),
                "unit": "ms",
            }
        )
        records.append(
            {
                "name": f"refills due over {ACTIVE:,} active Rx, p95",
                "value": _p95(times),
                "unit": "ms",
            }
        )
    return records


if __name__ == "__main__":
    from bench.__main__ import _setup

    _setup()
    for record in run():
        print(record)
