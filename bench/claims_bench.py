"""Claims end to end over TCP, two scenarios against ``rxdesk test-payer`` (its own process).

**transport** — B1 round trips to the test payer, latency and claims/s. Starts the payer
(built-in rules, memory only), then sends
N claims (default 2,000; ``RXDESK_BENCH_CLAIMS`` to change) one after the other, each
through the whole path a claim takes: ``encode_request`` -> :func:`transport.exchange`
(connect, STX/ETX frame, the payer decodes, adjudicates, encodes, answers) ->
``decode_response``. Every claim is a different prescription for a different cardholder, so
each one is adjudicated and paid (no duplicate or refill-too-soon short cuts); the run
fails if one is not.

Reports the median, 95th and 99th percentile latency in milliseconds and the claims per
second. Issue 9's target: p95 under 50 ms locally. No database is involved (the records
say ``database: none``).

**bill** — the whole billing service, as the "Bill insurance" button runs it. In the bench
database (a fresh SQLite file in a temporary folder, or the PostgreSQL of DATABASE_URL) a
pharmacy with a payer whose switch is a second test-payer process (rules: one commercial
plan, generic co-pay $5), N patients (default 300; ``RXDESK_BENCH_BILLS`` to change) each
with that plan's card and a priced prescription whose first fill waits for data
verification (set up untimed, through ``prescription_create``). Then :func:`claim_bill` per
fill, one after the other, timed: find the patient's plans, write the claim, build the B1
from the fill, send it over TCP, read the answer and record it (claim, transmission, audit
event). Every claim must come back paid with the patient paying $5.00, or the run fails.
Reports the median, p95 and p99 in milliseconds and the fills billed per second; the target
is the same p95 under 50 ms.

Run both with ``python -m bench claims`` or ``python -m bench.claims_bench``."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

from rxdesk.claims.ncpdp import (
    Request,
    RequestHeader,
    Segment,
    SegmentCode,
    Transaction,
    TransactionCode,
    decode_response,
    encode_request,
)
from rxdesk.claims.transport import exchange

CLAIMS = int(os.environ.get("RXDESK_BENCH_CLAIMS", "2000"))
WARM_UP = 50
TIMEOUT = 15.0  # seconds; a bench claim that takes this long fails the run
PHARMACY_NPI = "1234567893"
PRESCRIBER_NPI = "1987654328"
NDC = "00093505801"  # a generic on the built-in commercial plan


def b1(number: int, date_of_service: dt.date) -> Request:
    """A one-claim B1 to the built-in commercial plan (BIN 610014, PCN TESTPCN)."""
    return Request(
        RequestHeader(
            bin="610014",
            transaction_code=TransactionCode.BILLING,
            pcn="TESTPCN",
            service_provider_id=PHARMACY_NPI,
            date_of_service=date_of_service,
        ),
        (
            Segment(
                SegmentCode.INSURANCE,
                (("C2", f"BENCH{number:07d}"), ("C1", "GRP0042"), ("C3", "01"), ("C6", "1")),
            ),
            Segment(
                SegmentCode.PATIENT,
                (("C4", "19800704"), ("C5", "2"), ("CA", "JANE"), ("CB", "BENCHPATIENT")),
            ),
        ),
        (
            Transaction(
                (
                    Segment(
                        SegmentCode.CLAIM,
                        (
                            ("EM", "1"),
                            ("D2", str(100000 + number)),
                            ("E1", "03"),
                            ("D7", NDC),
                            ("E7", Decimal("30.000")),
                            ("D3", "0"),
                            ("D5", "30"),
                            ("D6", "1"),
                            ("D8", "0"),
                            ("C8", "1"),
                        ),
                    ),
                    Segment(SegmentCode.PRESCRIBER, (("EZ", "01"), ("DB", PRESCRIBER_NPI))),
                    Segment(
                        SegmentCode.PRICING,
                        (
                            ("D9", Decimal("12.50")),
                            ("DC", Decimal("1.75")),
                            ("DQ", Decimal("18.99")),
                            ("DU", Decimal("14.25")),
                            ("DN", "01"),
                        ),
                    ),
                )
            ),
        ),
    )


def _start_payer(rules: Path | None = None) -> tuple[subprocess.Popen[str], str, int]:
    """The test payer on a free loopback port (its built-in rules, or the JSON ``rules``)."""
    env = dict(os.environ)
    env.setdefault("DJANGO_SETTINGS_MODULE", "rxdesk.settings")
    command = [sys.executable, "-m", "rxdesk.cli", "test-payer", "--port", "0"]
    if rules is not None:
        command += ["--rules", str(rules)]
    process = subprocess.Popen(  # noqa: S603  (our own interpreter and command)
        command,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert process.stdout is not None
    first = process.stdout.readline().strip()
    prefix = "Test payer listening on "
    if not first.startswith(prefix):
        process.kill()
        raise RuntimeError(f"the test payer did not start: {first!r}")
    host, port = first[len(prefix) :].rsplit(":", 1)
    # The payer prints a line per claim: drain the pipe, or it fills and the payer blocks.
    threading.Thread(target=process.stdout.read, daemon=True).start()
    return process, host, int(port)


def _stop(process: subprocess.Popen[str]) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _percentile(sorted_values: list[float], fraction: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    rank = max(1, round(fraction * len(sorted_values) + 0.5))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def transport() -> list[dict[str, object]]:
    """B1 round trips over TCP, no database."""
    process, host, port = _start_payer()
    today = dt.date.today()
    latencies: list[float] = []
    try:
        total = WARM_UP + CLAIMS
        requests = [encode_request(b1(n, today)) for n in range(total)]
        started = 0.0
        for n, wire in enumerate(requests):
            if n == WARM_UP:
                started = time.perf_counter()
            begin = time.perf_counter()
            response = decode_response(exchange(host, port, wire, timeout=TIMEOUT))
            elapsed = time.perf_counter() - begin
            if not response.transactions[0].is_paid:
                raise RuntimeError(f"claim {n} was not paid: {response}")
            if n >= WARM_UP:
                latencies.append(elapsed * 1000)
        wall = time.perf_counter() - started
    finally:
        _stop(process)
    latencies.sort()
    figures = [
        ("claims: B1 over TCP to the test payer, median", statistics.median(latencies), "ms"),
        ("claims: B1 over TCP to the test payer, p95", _percentile(latencies, 0.95), "ms"),
        ("claims: B1 over TCP to the test payer, p99", _percentile(latencies, 0.99), "ms"),
        ("claims: B1 over TCP to the test payer, sequential", CLAIMS / wall, "claims/s"),
    ]
    return [
        {
            "name": name,
            "value": round(value, 2) if unit == "ms" else round(value),
            "unit": unit,
            "database": "none",  # the payer keeps claims in memory; rxdesk's database unused
            "workers": 1,
        }
        for name, value, unit in figures
    ]


# --- bill: claim_bill per fill, the whole service -------------------------------------------

BILLS = int(os.environ.get("RXDESK_BENCH_BILLS", "300"))
BILL_WARM_UP = 10
BILL_SITE = "Claims bench pharmacy"
BILL_BIN, BILL_PCN = "610099", "BENCHPCN"
BILL_NDC10 = "99994-001-30"
BILL_PLAN_RULES: dict[str, Any] = {
    "plans": [
        {
            "bin": BILL_BIN,
            "pcn": BILL_PCN,
            "name": "Bench Commercial",
            "copay": {"generic": "5.00", "brand": "25.00"},
            "ingredient_cost_percent": "90",
            "dispensing_fee": "1.50",
            "max_days_supply": 34,
        }
    ]
}
PATIENT_PAYS = Decimal("5.00")


def _bill_pharmacy(host: str, port: int, count: int) -> tuple[Any, list[Any]]:
    """The bench pharmacy (once per database) with its payer pointed at ``host:port``, and
    ``count`` new fills waiting for data verification, each for its own patient with the
    plan's card. Returns the technician and the fills."""
    from rxdesk.catalog.choices import PriceKind
    from rxdesk.catalog.models import Package, PackagePrice, Product
    from rxdesk.claims.models import Payer, Plan
    from rxdesk.core.choices import Role
    from rxdesk.core.models import Site, User
    from rxdesk.patients.choices import CoverageKind
    from rxdesk.patients.models import Coverage, Patient, Prescriber
    from rxdesk.rx import services
    from rxdesk.rx.models import Fill

    far = dt.date.today() + dt.timedelta(days=3650)
    site = Site.objects.filter(name=BILL_SITE).first()
    if site is None:
        site = Site.objects.create(name=BILL_SITE, time_zone="America/Chicago", npi=PHARMACY_NPI)
    tech, _ = User.objects.get_or_create(
        username="bench-claims-tech",
        defaults={
            "first_name": "Bench",
            "last_name": "Technician",
            "role": Role.TECHNICIAN,
            "site": site,
            "technician_registration": "T1",
            "technician_registration_expires": far,
        },
    )
    prescriber = Prescriber.objects.filter(site=site, npi=PRESCRIBER_NPI).first()
    if prescriber is None:
        prescriber = Prescriber.objects.create(
            site=site, first_name="Ann", last_name="Bench", npi=PRESCRIBER_NPI
        )
    package = Package.objects.filter(ndc10=BILL_NDC10).select_related("product").first()
    if package is None:
        product = Product.objects.create(
            product_id="bench-claims-0",
            product_ndc="99994-001",
            product_type="HUMAN PRESCRIPTION DRUG",
            name="Benchclaimol",
            generic_name="benchclaimol",
            strength="20 mg/1",
            dosage_form="CAPSULE",
            labeler="Bench Labs",
        )
        package = Package.objects.create(
            ndc11="99994000130",
            ndc10=BILL_NDC10,
            product=product,
            description="30 CAPSULE in 1 BOTTLE",
            billing_unit="EA",
            package_quantity=Decimal(30),
        )
        today = dt.date.today() - dt.timedelta(days=1)
        for kind, amount in ((PriceKind.LIST, "30.00"), (PriceKind.USUAL_CUSTOMARY, "40.00")):
            PackagePrice.objects.create(
                package=package, kind=kind, amount=Decimal(amount), effective_on=today
            )
    payer, _ = Payer.objects.get_or_create(name="Bench PBM", defaults={"host": host, "port": port})
    Payer.objects.filter(pk=payer.pk).update(host=host, port=port, timeout_seconds=10)
    Plan.objects.get_or_create(
        bin=BILL_BIN,
        pcn=BILL_PCN,
        group="",
        defaults={"payer": payer, "name": "Bench Commercial", "dispensing_fee": Decimal("1.75")},
    )
    # New patients every run: a database kept between runs (PostgreSQL) bills new fills.
    first = Patient.objects.filter(site=site).count()
    patients = Patient.objects.bulk_create(
        Patient(
            site=site,
            first_name=f"Cla{first + i}",
            last_name=f"Bench{(first + i) % 997}",
            date_of_birth=dt.date(1940 + i % 60, 1 + i % 12, 1 + i % 28),
        )
        for i in range(count)
    )
    Coverage.objects.bulk_create(
        Coverage(
            patient=patient,
            rank=1,
            kind=CoverageKind.PLAN,
            bin=BILL_BIN,
            pcn=BILL_PCN,
            member_id=f"BENCH{patient.pk:09d}",
        )
        for patient in patients
    )
    today = site.today()
    fills = []
    for patient in patients:
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
            directions="1 CAP PO DAILY",
            date_written=today,
            refills_authorized=2,
        )
        fills.append(Fill.objects.get(prescription=rx, number=0))
    return User.objects.select_related("site").get(pk=tech.pk), fills


def bill() -> list[dict[str, object]]:
    """``claim_bill`` per fill against a test payer process, in the bench database."""
    from rxdesk.claims.choices import ClaimStatus
    from rxdesk.claims.services import claim_bill
    from rxdesk.core import context

    folder = Path(tempfile.mkdtemp(prefix="rxdesk-claims-bench-"))
    rules = folder / "rules.json"
    rules.write_text(json.dumps(BILL_PLAN_RULES))
    process, host, port = _start_payer(rules)
    latencies: list[float] = []
    try:
        with context.using(context.RequestInfo(request_id="bench-claims", channel="web")):
            tech, fills = _bill_pharmacy(host, port, BILL_WARM_UP + BILLS)
            started = 0.0
            for n, fill in enumerate(fills):
                if n == BILL_WARM_UP:
                    started = time.perf_counter()
                begin = time.perf_counter()
                result = claim_bill(actor=tech, fill=fill)
                elapsed = time.perf_counter() - begin
                claim = result.claims[-1] if result.claims else None
                if (
                    claim is None
                    or claim.status != ClaimStatus.PAID
                    or result.patient_pay != PATIENT_PAYS
                ):
                    raise RuntimeError(f"fill {n} was not paid as expected: {result.message!r}")
                if n >= BILL_WARM_UP:
                    latencies.append(elapsed * 1000)
            wall = time.perf_counter() - started
    finally:
        _stop(process)
        shutil.rmtree(folder, ignore_errors=True)
    latencies.sort()
    label = "claims: claim_bill per fill"
    figures = [
        (f"{label}, median", statistics.median(latencies), "ms"),
        (f"{label}, p95", _percentile(latencies, 0.95), "ms"),
        (f"{label}, p99", _percentile(latencies, 0.99), "ms"),
        (f"{label}, sequential", BILLS / wall, "claims/s"),
    ]
    return [
        {"name": name, "value": round(value, 2) if unit == "ms" else round(value), "unit": unit}
        for name, value, unit in figures
    ]


def run() -> list[dict[str, object]]:
    """Both scenarios: transport (no database), then bill (the bench database)."""
    return transport() + bill()


if __name__ == "__main__":
    from bench.__main__ import _setup

    vendor = _setup()
    for record in run():
        print(
            f"{record['name']:<48} {record['value']:>12} {record['unit']:<10} "
            f"{record.get('database', vendor)}"
        )
