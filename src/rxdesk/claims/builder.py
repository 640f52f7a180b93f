"""NCPDP D.0 requests from a fill: B1 billing, B2 reversal, B3 rebill, E1 eligibility.

Two halves. :class:`ClaimData` holds everything a claim says, in plain values; the
``*_request`` functions turn it into a :class:`~rxdesk.claims.ncpdp.Request` and are pure
(tested without a database). :func:`claim_data` reads a fill, its coverage and plan, prices
and DUR codes from the database into a ``ClaimData``.

Segment order follows the reference's payer-sheet template (§1.4): Insurance, Patient | Claim,
Pharmacy Provider, Prescriber, COB, DUR/PPS, Pricing."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace
from decimal import ROUND_HALF_UP, Decimal

from rxdesk.claims.ncpdp import (
    Request,
    RequestHeader,
    Segment,
    SegmentCode,
    Transaction,
    TransactionCode,
)

CENT = Decimal("0.01")
ZERO = Decimal("0.00")

# 305-C5
GENDER = {"M": "1", "F": "2", "U": "0"}
# 423-DN basis of cost determination
BASIS_AWP, BASIS_ACQUISITION, BASIS_USUAL = "01", "05", "07"
# 308-C8 other coverage codes the COB chain uses (reference §1.10)
OCC_NONE = 1
OCC_PAID = 2
OCC_NOT_COVERED = 3
OCC_NOT_COLLECTED = 4
OCC_COPAY_ONLY = 8
# 338-5C other payer coverage type: 01 primary, 02 secondary, 03 tertiary
# 342-HC other payer amount paid qualifier 07: drug benefit
AMOUNT_PAID_DRUG_BENEFIT = "07"
# 351-NP other payer-patient responsibility qualifier 06: patient pay amount (as reported by
# the previous payer's 505-F5). Payer sheets vary here; this is the common choice.
PATIENT_RESPONSIBILITY_PATIENT_PAY = "06"


@dataclass(frozen=True, slots=True)
class OtherPayer:
    """A payer billed before this one (COB segment AM05): what it paid or why it did not."""

    rank: int
    bin: str
    date: dt.date
    amount_paid: Decimal | None = None
    patient_responsibility: Decimal | None = None
    reject_codes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class ClaimData:
    # routing (header)
    bin: str
    pcn: str
    pharmacy_npi: str
    date_of_service: dt.date
    software_vendor_id: str = ""
    # insurance (AM04)
    cardholder_id: str
    group: str = ""
    person_code: str = ""
    relationship: str = "1"
    cardholder_first_name: str = ""
    cardholder_last_name: str = ""
    # patient (AM01)
    date_of_birth: dt.date
    gender: str = "0"
    first_name: str = ""
    last_name: str = ""
    street: str = ""
    city: str = ""
    state: str = ""
    zip_code: str = ""
    phone: str = ""
    residence: str = "1"  # 384-4X: 1 home
    # claim (AM07)
    rx_number: int = 0
    fill_number: int = 0
    ndc: str = ""
    quantity: Decimal = ZERO
    unit: str = "EA"
    days_supply: int = 0
    daw: int = 0
    date_written: dt.date | None = None
    refills_authorized: int = 0
    origin: int = 0
    quantity_prescribed: Decimal | None = None
    other_coverage_code: int = 0
    clarification_codes: tuple[str, ...] = ()
    prior_auth_number: str = ""
    service_type: str = "1"  # 147-U7: 1 community/retail
    # prescriber (AM03)
    prescriber_npi: str = ""
    prescriber_last_name: str = ""
    prescriber_first_name: str = ""
    # pricing (AM11)
    ingredient_cost: Decimal = ZERO
    dispensing_fee: Decimal = ZERO
    usual_customary: Decimal = ZERO
    basis_of_cost: str = BASIS_AWP
    patient_paid: Decimal = ZERO
    # DUR/PPS (AM08), one dict per occurrence with the keys of screening.queries.fill_dur
    dur_pps: tuple[dict[str, str], ...] = ()
    # COB (AM05)
    other_payers: tuple[OtherPayer, ...] = field(default_factory=tuple)

    @property
    def gross_amount_due(self) -> Decimal:
        """430-DU = ingredient cost + dispensing fee (no incentive, other amounts or tax)."""
        return (self.ingredient_cost + self.dispensing_fee).quantize(CENT)

    def with_changes(self, **changes: object) -> ClaimData:
        return replace(self, **changes)  # type: ignore[arg-type]


def _fields(*pairs: tuple[str, object]) -> tuple[tuple[str, str | Decimal], ...]:
    """Field pairs without the empty ones (blank optional fields are not sent)."""
    out: list[tuple[str, str | Decimal]] = []
    for fid, value in pairs:
        if value is None or value == "":
            continue
        out.append((fid, value if isinstance(value, Decimal) else str(value)))
    return tuple(out)


def _header(data: ClaimData, code: TransactionCode) -> RequestHeader:
    return RequestHeader(
        bin=data.bin,
        transaction_code=code,
        pcn=data.pcn,
        service_provider_id=data.pharmacy_npi,
        date_of_service=data.date_of_service,
        software_vendor_id=data.software_vendor_id,
    )


def _date(value: dt.date | None) -> str:
    return f"{value:%Y%m%d}" if value else ""


def _insurance(data: ClaimData) -> Segment:
    return Segment(
        SegmentCode.INSURANCE,
        _fields(
            ("C2", data.cardholder_id),
            ("CC", data.cardholder_first_name[:12].upper()),
            ("CD", data.cardholder_last_name[:15].upper()),
            ("C1", data.group),
            ("C3", data.person_code),
            ("C6", data.relationship),
        ),
    )


def _patient(data: ClaimData) -> Segment:
    return Segment(
        SegmentCode.PATIENT,
        _fields(
            ("C4", _date(data.date_of_birth)),
            ("C5", data.gender),
            ("CA", data.first_name[:12].upper()),
            ("CB", data.last_name[:15].upper()),
            ("CM", data.street[:30].upper()),
            ("CN", data.city[:20].upper()),
            ("CO", data.state),
            ("CP", data.zip_code.replace("-", "")[:15]),
            ("CQ", data.phone),
            ("C7", "01"),
            ("4X", data.residence),
        ),
    )


def _claim_key(data: ClaimData) -> tuple[tuple[str, object], ...]:
    return (
        ("EM", "1"),
        ("D2", f"{data.rx_number:012d}"),
        ("E1", "03"),
        ("D7", data.ndc),
    )


def _claim(data: ClaimData) -> Segment:
    codes = data.clarification_codes[:3]
    clarifications: list[tuple[str, object]] = []
    if codes:
        clarifications.append(("NX", str(len(codes))))
        clarifications.extend(("DK", f"{int(c):02d}") for c in codes)
    pa: list[tuple[str, object]] = []
    if data.prior_auth_number:
        pa = [("EU", "1"), ("EV", data.prior_auth_number)]
    return Segment(
        SegmentCode.CLAIM,
        _fields(
            *_claim_key(data),
            ("E7", data.quantity),
            ("D3", f"{data.fill_number:02d}"),
            ("D5", str(data.days_supply)),
            ("D6", "1"),
            ("D8", str(data.daw)),
            ("DE", _date(data.date_written)),
            ("DF", f"{data.refills_authorized:02d}"),
            ("DJ", str(data.origin)),
            *clarifications,
            ("ET", data.quantity_prescribed),
            ("C8", str(data.other_coverage_code) if data.other_coverage_code else ""),
            ("28", data.unit),
            *pa,
            ("U7", data.service_type),
        ),
    )


def _prescriber(data: ClaimData) -> Segment:
    return Segment(
        SegmentCode.PRESCRIBER,
        _fields(
            ("EZ", "01"),
            ("DB", data.prescriber_npi),
            ("DR", data.prescriber_last_name[:15].upper()),
            ("2J", data.prescriber_first_name[:12].upper()),
        ),
    )


def _cob(data: ClaimData) -> Segment | None:
    if not data.other_payers:
        return None
    pairs: list[tuple[str, object]] = [("4C", str(len(data.other_payers)))]
    for other in data.other_payers:
        pairs += [
            ("5C", f"{other.rank:02d}"),
            ("6C", "03"),
            ("7C", other.bin),
            ("E8", _date(other.date)),
        ]
        if other.amount_paid is not None:
            pairs += [("HB", "1"), ("HC", AMOUNT_PAID_DRUG_BENEFIT), ("DV", other.amount_paid)]
        if other.reject_codes:
            codes = other.reject_codes[:5]
            pairs.append(("5E", str(len(codes))))
            pairs += [("6E", c) for c in codes]
        if other.patient_responsibility is not None:
            pairs += [
                ("NR", "1"),
                ("NP", PATIENT_RESPONSIBILITY_PATIENT_PAY),
                ("NQ", other.patient_responsibility),
            ]
    return Segment(SegmentCode.COORDINATION_OF_BENEFITS, _fields(*pairs))


def _dur(data: ClaimData) -> Segment | None:
    if not data.dur_pps:
        return None
    pairs: list[tuple[str, object]] = []
    for number, row in enumerate(data.dur_pps[:9], start=1):
        pairs += [
            ("7E", str(number)),
            ("E4", row.get("reason_for_service", "")),
            ("E5", row.get("professional_service", "")),
            ("E6", row.get("result_of_service", "")),
            ("8E", row.get("level_of_effort", "")),
            ("J9", row.get("co_agent_qualifier", "")),
            ("H6", row.get("co_agent_id", "")),
        ]
    return Segment(SegmentCode.DUR_PPS, _fields(*pairs))


def _pricing(data: ClaimData) -> Segment:
    return Segment(
        SegmentCode.PRICING,
        _fields(
            ("D9", data.ingredient_cost),
            ("DC", data.dispensing_fee),
            ("DX", data.patient_paid if data.patient_paid else None),
            ("DQ", data.usual_customary),
            ("DU", data.gross_amount_due),
            ("DN", data.basis_of_cost),
        ),
    )


def billing_request(data: ClaimData, code: TransactionCode = TransactionCode.BILLING) -> Request:
    """A B1 (or, with ``code``, a B3 rebill) for one claim."""
    segments = [_claim(data), _prescriber(data)]
    for optional in (_cob(data), _dur(data)):
        if optional is not None:
            segments.append(optional)
    segments.append(_pricing(data))
    return Request(
        header=_header(data, code),
        segments=(_insurance(data), _patient(data)),
        transactions=(Transaction(tuple(segments)),),
    )


def reversal_request(data: ClaimData) -> Request:
    """A B2: the key a payer matches the paid claim on (Rx, fill, date of service, NDC)."""
    claim = Segment(
        SegmentCode.CLAIM, _fields(*_claim_key(data), ("D3", f"{data.fill_number:02d}"))
    )
    return Request(
        header=_header(data, TransactionCode.REVERSAL),
        segments=(
            Segment(
                SegmentCode.INSURANCE,
                _fields(("C2", data.cardholder_id), ("C1", data.group)),
            ),
        ),
        transactions=(Transaction((claim,)),),
    )


def eligibility_request(data: ClaimData) -> Request:
    """An E1: the card and the patient, no claim."""
    return Request(
        header=_header(data, TransactionCode.ELIGIBILITY),
        segments=(_insurance(data), _patient(data)),
        transactions=(Transaction(()),),
    )


def prorate(amount: Decimal, package_quantity: Decimal, quantity: Decimal) -> Decimal:
    return (amount * quantity / package_quantity).quantize(CENT, rounding=ROUND_HALF_UP)
