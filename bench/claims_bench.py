"""Claims end to end over TCP: B1 round trips to the test payer, latency and claims/s.

Starts ``rxdesk test-payer`` as its own process (built-in rules, memory only), then sends
N claims (default 2,000; ``RXDESK_BENCH_CLAIMS`` to change) one after the other, each
through the whole path a claim takes: ``encode_request`` -> :func:`transport.exchange`
(connect, STX/ETX frame, the payer decodes, adjudicates, encodes, answers) ->
``decode_response``. Every claim is a different prescription for a different cardholder, so
each one is adjudicated and paid (no duplicate or refill-too-soon short cuts); the run
fails if one is not.

Reports the median, 95th and 99th percentile latency in milliseconds and the claims per
second. Issue 9's target: p95 under 50 ms locally. No database is involved (the records
say ``database: none``). Run alone with ``python -m bench claims`` or
``python -m bench.claims_bench``."""

from __future__ import annotations

import datetime as dt
import os
import statistics
import subprocess
import sys
import threading
import time
from decimal import Decimal

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


def _start_payer() -> tuple[subprocess.Popen[str], str, int]:
    env = dict(os.environ)
    env.setdefault("DJANGO_SETTINGS_MODULE", "rxdesk.settings")
    process = subprocess.Popen(
        [sys.executable, "-m", "rxdesk.cli", "test-payer", "--port", "0"],
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


def run() -> list[dict[str, object]]:
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


if __name__ == "__main__":
    for record in run():
        print(f"{record['name']:<48} {record['value']:>12} {record['unit']}")
