"""NCPDP D.0 codec: encode + decode round trips per second on one core.

Times, in one process (the codec is pure Python and single-threaded), three loops of
``decode(encode(x))`` and reports the median of 3 rounds:
- the reference's synthetic B1 (1 claim: Insurance, Patient, Claim, Prescriber, Pricing;
  325 bytes) — the figure issue 9 sets a target for (over 20,000 claims/s);
- the reference's paid B1 response (patient pay, plan paid, authorization number);
- one whole claim cycle: the B1 and its response, each written and read.

The codec needs no database: ``run()`` touches neither Django nor the database that
``python -m bench`` has set up, and the records say ``database: none``. Run alone with
``python -m bench ncpdp`` (after the common setup) or ``python -m bench.ncpdp_bench``."""

from __future__ import annotations

import datetime as dt
import statistics
import time
from collections.abc import Callable
from decimal import Decimal

from rxdesk.claims.ncpdp import (
    HeaderStatus,
    Request,
    RequestHeader,
    Response,
    ResponseHeader,
    ResponseTransaction,
    Segment,
    SegmentCode,
    Transaction,
    TransactionCode,
    decode_request,
    decode_response,
    encode_request,
    encode_response,
)

ROUNDS = 3
ROUND_TRIPS = 20_000  # per round; issue 9's target is over 20,000 claims/s


def b1_request() -> Request:
    """The synthetic B1 of the reference (§1.13), field for field."""
    return Request(
        RequestHeader(
            bin="999999",
            transaction_code=TransactionCode.BILLING,
            pcn="TESTPCN",
            service_provider_id="1234567893",
            date_of_service=dt.date(2025, 3, 15),
            software_vendor_id="CERT000001",
        ),
        (
            Segment(
                SegmentCode.INSURANCE,
                (("C2", "ZZQ900112233"), ("C1", "GRP0042"), ("C3", "01"), ("C6", "1")),
            ),
            Segment(
                SegmentCode.PATIENT,
                (
                    ("C4", "19800704"),
                    ("C5", "2"),
                    ("CA", "JANE"),
                    ("CB", "TESTPATIENT"),
                    ("CP", "85001"),
                    ("C7", "01"),
                    ("4X", "1"),
                ),
            ),
        ),
        (
            Transaction(
                (
                    Segment(
                        SegmentCode.CLAIM,
                        (
                            ("EM", "1"),
                            ("D2", "000000123456"),
                            ("E1", "03"),
                            ("D7", "12345678901"),
                            ("E7", Decimal("30.000")),
                            ("D3", "00"),
                            ("D5", "30"),
                            ("D6", "1"),
                            ("D8", "0"),
                            ("DE", "20250310"),
                            ("DF", "05"),
                            ("DJ", "1"),
                            ("C8", "1"),
                        ),
                    ),
                    Segment(
                        SegmentCode.PRESCRIBER,
                        (("EZ", "01"), ("DB", "9876543213"), ("DR", "TESTDOCTOR")),
                    ),
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


def b1_paid_response() -> Response:
    """The synthetic paid response of the reference (§1.14)."""
    return Response(
        ResponseHeader(
            transaction_code=TransactionCode.BILLING,
            transaction_count=1,
            status=HeaderStatus.ACCEPTED,
            service_provider_id="1234567893",
            date_of_service=dt.date(2025, 3, 15),
        ),
        (Segment(SegmentCode.RESPONSE_MESSAGE, (("F4", "THANK YOU"),)),),
        (
            ResponseTransaction(
                (
                    Segment(SegmentCode.RESPONSE_STATUS, (("AN", "P"), ("F3", "PA0000000001"))),
                    Segment(SegmentCode.RESPONSE_CLAIM, (("EM", "1"), ("D2", "000000123456"))),
                    Segment(
                        SegmentCode.RESPONSE_PRICING,
                        (
                            ("F5", Decimal("10.00")),
                            ("F6", Decimal("12.50")),
                            ("F7", Decimal("1.75")),
                            ("FI", Decimal("10.00")),
                            ("F9", Decimal("4.25")),
                            ("FM", "1"),
                        ),
                    ),
                )
            ),
        ),
    )


def _per_second(step: Callable[[], object]) -> float:
    for _ in range(1_000):  # warm up
        step()
    rates = []
    for _ in range(ROUNDS):
        started = time.perf_counter()
        for _ in range(ROUND_TRIPS):
            step()
        rates.append(ROUND_TRIPS / (time.perf_counter() - started))
    return statistics.median(rates)


def run() -> list[dict[str, object]]:
    request = b1_request()
    response = b1_paid_response()
    wire = encode_request(request)
    assert len(wire) == 325 and decode_request(wire) == request
    assert decode_response(encode_response(response)) == response

    def request_trip() -> object:
        return decode_request(encode_request(request))

    def response_trip() -> object:
        return decode_response(encode_response(response))

    def claim_cycle() -> object:
        decode_request(encode_request(request))
        return decode_response(encode_response(response))

    figures = [
        ("ncpdp: B1 request encode+decode (1 claim)", request_trip, "claims/s"),
        ("ncpdp: B1 paid response encode+decode", response_trip, "responses/s"),
        ("ncpdp: B1 + response, both encode+decode", claim_cycle, "claims/s"),
    ]
    return [
        {
            "name": name,
            "value": round(_per_second(step)),
            "unit": unit,
            "database": "none",  # pure codec: no database involved
            "workers": 1,
        }
        for name, step, unit in figures
    ]


if __name__ == "__main__":
    for record in run():
        print(f"{record['name']:<48} {record['value']:>12} {record['unit']}")
