"""NCPDP Telecommunication Standard vD.0: a pure codec for claim requests and responses.

What it is for: the claims workflow (issue 9) builds a :class:`Request` (B1 billing, B2
reversal, B3 rebill, E1 eligibility), sends the bytes of :func:`encode_request` to the plan's
switch and reads the answer with :func:`decode_response`. The test payer does the reverse
with :func:`decode_request` and :func:`encode_response`. The module is pure: no Django, no
database, no network; the switch's own transport envelope (STX/ETX or a length prefix) is
not part of D.0 and is not handled here.

Source: the team reference ``messages-ncpdp-hl7-fhir.md`` §1 — the 56-byte request header
(1.2), the 31-byte response header (1.3), framing (1.4), request and response segments and
their field ids (1.5, 1.6), number encoding (1.7). Field ids are the two characters that go
on the wire ("D2" for 402-D2).

Wire layout: fixed header, then transmission-level segments, then for each claim a group
separator followed by its segments. Every segment is ``RS FS "AM"+code`` followed by
``FS id+value`` per field. There is no trailer and no length prefix, so a message cut at a
field boundary can only be caught by the structural checks below (a missing transaction
group, a group without its Response Status segment, an empty field).

A segment keeps its fields in wire order as ``(field id, value)`` pairs, so repeating fields
(``FB79``, ``FB88``; the DUR/PPS counter and its fields) survive a round trip. Values are
``str`` except the money fields (signed overpunch, 2 implied decimals) and the quantities
(3 implied decimals), which are exact :class:`~decimal.Decimal`. Field ids the reference does
not list are carried as text: a payer sheet may use fields our reference does not name, and
refusing them would lose a paid claim's answer.

Every malformed message raises :class:`NcpdpError` (a ``ValueError`` and an ``Invalid``
domain error) naming the segment and the field; never another exception type.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import MAX_EMAX, MIN_EMIN, Context, Decimal
from enum import IntEnum, StrEnum
from typing import NamedTuple, NoReturn

from rxdesk.core.errors import Invalid

__all__ = [
    "FIELDS",
    "FIELD_SEPARATOR",
    "GROUP_SEPARATOR",
    "REQUEST_HEADER_LENGTH",
    "RESPONSE_HEADER_LENGTH",
    "SEGMENT_SEPARATOR",
    "FieldKind",
    "FieldSpec",
    "FieldValue",
    "HeaderStatus",
    "NcpdpError",
    "Request",
    "RequestHeader",
    "Response",
    "ResponseHeader",
    "ResponseTransaction",
    "Segment",
    "SegmentCode",
    "Transaction",
    "TransactionCode",
    "TransactionStatus",
    "decode_request",
    "decode_response",
    "encode_request",
    "encode_response",
    "implied_decimal_decode",
    "implied_decimal_encode",
    "overpunch_decode",
    "overpunch_encode",
]

SEGMENT_SEPARATOR = "\x1e"  # ASCII RS: starts every segment
GROUP_SEPARATOR = "\x1d"  # ASCII GS: starts every transaction group (one claim)
FIELD_SEPARATOR = "\x1c"  # ASCII FS: precedes every field, the segment id included
VERSION = "D0"
REQUEST_HEADER_LENGTH = 56
RESPONSE_HEADER_LENGTH = 31
MAX_TRANSACTIONS = 4  # 109-A9: 1-4 claims per B1/B2/B3 transmission
QUANTITY_DECIMALS = 3  # 9(7)v999

# Fixed widths of the request header (1.2) and the response header (1.3).
_BIN_WIDTH = 6
_PCN_WIDTH = 10
_QUALIFIER_WIDTH = 2
_PROVIDER_WIDTH = 15
_SOFTWARE_WIDTH = 10

_RS, _GS, _FS = SEGMENT_SEPARATOR, GROUP_SEPARATOR, FIELD_SEPARATOR


class NcpdpError(Invalid, ValueError):
    """A D.0 message that cannot be built or read.

    ``segment`` is ``"header"`` or the segment label (``"AM07"``), ``field`` the two-character
    field id (``"D2"``); either is ``None`` when the fault is not in one place (a message cut
    short before any segment). The message names both in words a technician can pass on to
    the help desk.
    """

    code = "ncpdp_invalid"
    title = "The claim message cannot be built or read"

    def __init__(self, message: str, *, segment: str | None = None, field: str | None = None):
        where = _where(segment, field)
        super().__init__(f"{where}: {message}" if where else message, field=field)
        self.segment = segment
        self.reason = message


class TransactionCode(StrEnum):
    """103-A3, the transactions this codec speaks."""

    BILLING = "B1"
    REVERSAL = "B2"
    REBILL = "B3"
    ELIGIBILITY = "E1"


class HeaderStatus(StrEnum):
    """501-F1: whether the switch or processor accepted the transmission as a whole."""

    ACCEPTED = "A"
    REJECTED = "R"


class TransactionStatus(StrEnum):
    """112-AN in the Response Status segment: the outcome of one claim."""

    PAID = "P"
    DUPLICATE_OF_PAID = "D"
    APPROVED = "A"
    REJECTED = "R"
    CAPTURED = "C"
    DUPLICATE_OF_CAPTURED = "Q"
    PA_DEFERRED = "F"
    DUPLICATE_OF_APPROVED = "S"


class SegmentCode(StrEnum):
    """111-AM: the two digits after "AM" that open a segment."""

    PATIENT = "01"
    PHARMACY_PROVIDER = "02"
    PRESCRIBER = "03"
    INSURANCE = "04"
    COORDINATION_OF_BENEFITS = "05"
    WORKERS_COMPENSATION = "06"
    CLAIM = "07"
    DUR_PPS = "08"
    COUPON = "09"
    COMPOUND = "10"
    PRICING = "11"
    PRIOR_AUTHORIZATION = "12"
    CLINICAL = "13"
    ADDITIONAL_DOCUMENTATION = "14"
    FACILITY = "15"
    NARRATIVE = "16"
    RESPONSE_MESSAGE = "20"
    RESPONSE_STATUS = "21"
    RESPONSE_CLAIM = "22"
    RESPONSE_PRICING = "23"
    RESPONSE_DUR_PPS = "24"
    RESPONSE_INSURANCE = "25"
    RESPONSE_PRIOR_AUTHORIZATION = "26"
    RESPONSE_INSURANCE_ADDITIONAL = "27"
    RESPONSE_COORDINATION_OF_BENEFITS = "28"
    RESPONSE_PATIENT = "29"

    @property
    def label(self) -> str:
        """The segment as it is written on the wire and in payer sheets: ``AM07``."""
        return "AM" + self.value

    @property
    def description(self) -> str:
        return _SEGMENT_NAMES[self.value]


_SEGMENT_NAMES = {
    "01": "Patient",
    "02": "Pharmacy Provider",
    "03": "Prescriber",
    "04": "Insurance",
    "05": "Coordination of Benefits/Other Payments",
    "06": "Workers' Compensation",
    "07": "Claim",
    "08": "DUR/PPS",
    "09": "Coupon",
    "10": "Compound",
    "11": "Pricing",
    "12": "Prior Authorization",
    "13": "Clinical",
    "14": "Additional Documentation",
    "15": "Facility",
    "16": "Narrative",
    "20": "Response Message",
    "21": "Response Status",
    "22": "Response Claim",
    "23": "Response Pricing",
    "24": "Response DUR/PPS",
    "25": "Response Insurance",
    "26": "Response Prior Authorization",
    "27": "Response Insurance Additional Information",
    "28": "Response Coordination of Benefits/Other Payers",
    "29": "Response Patient",
}


# Where each segment may stand (1.4): Patient and Insurance, and the Response Message,
# Insurance and Patient segments, once per transmission; everything else inside a claim group.
_REQUEST_TRANSMISSION = frozenset({SegmentCode.PATIENT, SegmentCode.INSURANCE})
_REQUEST_GROUP = frozenset(
    c for c in SegmentCode if c.value <= "16" and c not in _REQUEST_TRANSMISSION
)
_RESPONSE_TRANSMISSION = frozenset(
    {SegmentCode.RESPONSE_MESSAGE, SegmentCode.RESPONSE_INSURANCE, SegmentCode.RESPONSE_PATIENT}
)
_RESPONSE_GROUP = frozenset(
    c for c in SegmentCode if c.value >= "20" and c not in _RESPONSE_TRANSMISSION
)
_BY_LABEL = {c.label: c for c in SegmentCode}


class FieldKind(IntEnum):
    TEXT = 0
    MONEY = 1  # s9(n)v99, last digit overpunched with the sign
    QUANTITY = 2  # 9(7)v999, unsigned, 3 implied decimals


class FieldSpec(NamedTuple):
    """What the codec knows about a field id: its name, how its value is written, and the
    longest value the reference allows (0 when the reference gives no length)."""

    name: str
    kind: FieldKind
    max_length: int


# Field names from the reference's segment lists (1.5, 1.6), our paraphrases of NCPDP's.
_NAMES: dict[str, str] = {
    # Request header
    "A1": "BIN Number",
    "A2": "Version/Release Number",
    "A3": "Transaction Code",
    "A4": "Processor Control Number",
    "A9": "Transaction Count",
    "B2": "Service Provider ID Qualifier",
    "B1": "Service Provider ID",
    "D1": "Date of Service",
    "AK": "Software Vendor/Certification ID",
    "F1": "Header Response Status",
    # AM04 Insurance
    "C2": "Cardholder ID",
    "CC": "Cardholder First Name",
    "CD": "Cardholder Last Name",
    "CE": "Home Plan",
    "FO": "Plan ID",
    "C9": "Eligibility Clarification Code",
    "C1": "Group ID",
    "C3": "Person Code",
    "C6": "Patient Relationship Code",
    "MG": "Other Payer BIN",
    "MH": "Other Payer Processor Control Number",
    "NU": "Other Payer Cardholder ID",
    "MJ": "Other Payer Group ID",
    "2A": "Medigap ID",
    "2B": "Medicaid Indicator",
    "2D": "Provider Accept Assignment Indicator",
    "G2": "CMS Part D Defined Qualified Facility",
    "N5": "Medicaid ID Number",
    "N6": "Medicaid Agency Number",
    # AM01 Patient
    "CX": "Patient ID Qualifier",
    "CY": "Patient ID",
    "C4": "Date of Birth",
    "C5": "Patient Gender Code",
    "CA": "Patient First Name",
    "CB": "Patient Last Name",
    "CM": "Patient Street Address",
    "CN": "Patient City",
    "CO": "Patient State",
    "CP": "Patient ZIP",
    "CQ": "Patient Phone Number",
    "C7": "Place of Service",
    "CZ": "Employer ID",
    "1C": "Smoker Code",
    "2C": "Pregnancy Indicator",
    "HN": "Patient E-Mail Address",
    "4X": "Patient Residence",
    # AM07 Claim
    "EM": "Prescription/Service Reference Number Qualifier",
    "D2": "Prescription/Service Reference Number",
    "E1": "Product/Service ID Qualifier",
    "D7": "Product/Service ID",
    "EN": "Associated Prescription/Service Reference Number",
    "EP": "Associated Prescription/Service Date",
    "SE": "Procedure Modifier Code Count",
    "ER": "Procedure Modifier Code",
    "E7": "Quantity Dispensed",
    "D3": "Fill Number",
    "D5": "Days Supply",
    "D6": "Compound Code",
    "D8": "DAW/Product Selection Code",
    "DE": "Date Prescription Written",
    "DF": "Number of Refills Authorized",
    "DJ": "Prescription Origin Code",
    "NX": "Submission Clarification Code Count",
    "DK": "Submission Clarification Code",
    "ET": "Quantity Prescribed",
    "C8": "Other Coverage Code",
    "DT": "Special Packaging Indicator",
    "EJ": "Originally Prescribed Product/Service ID Qualifier",
    "EA": "Originally Prescribed Product/Service Code",
    "EB": "Originally Prescribed Quantity",
    "CW": "Alternate ID",
    "EK": "Scheduled Prescription ID Number",
    "28": "Unit of Measure",
    "DI": "Level of Service",
    "EU": "Prior Authorization Type Code",
    "EV": "Prior Authorization Number Submitted",
    "EW": "Intermediary Authorization Type ID",
    "EX": "Intermediary Authorization ID",
    "HD": "Dispensing Status",
    "HF": "Quantity Intended To Be Dispensed",
    "HG": "Days Supply Intended To Be Dispensed",
    "NV": "Delay Reason Code",
    "K5": "Transaction Reference Number",
    "MT": "Patient Assignment Indicator",
    "E2": "Route of Administration",
    "G1": "Compound Type",
    "N4": "Medicaid Subrogation ICN/TCN",
    "U7": "Pharmacy Service Type",
    # AM11 Pricing
    "D9": "Ingredient Cost Submitted",
    "DC": "Dispensing Fee Submitted",
    "BE": "Professional Service Fee Submitted",
    "DX": "Patient Paid Amount Submitted",
    "E3": "Incentive Amount Submitted",
    "H7": "Other Amount Claimed Submitted Count",
    "H8": "Other Amount Claimed Submitted Qualifier",
    "H9": "Other Amount Claimed Submitted",
    "HA": "Flat Sales Tax Amount Submitted",
    "GE": "Percentage Sales Tax Amount Submitted",
    "HE": "Percentage Sales Tax Rate Submitted",
    "JE": "Percentage Sales Tax Basis Submitted",
    "DQ": "Usual and Customary Charge",
    "DU": "Gross Amount Due",
    "DN": "Basis of Cost Determination",
    "N3": "Medicaid Paid Amount",
    # AM03 Prescriber
    "EZ": "Prescriber ID Qualifier",
    "DB": "Prescriber ID",
    "DR": "Prescriber Last Name",
    "2J": "Prescriber First Name",
    "2K": "Prescriber Street Address",
    "2M": "Prescriber City",
    "2N": "Prescriber State",
    "2P": "Prescriber ZIP",
    "PM": "Prescriber Phone Number",
    "2E": "Primary Care Provider ID Qualifier",
    "DL": "Primary Care Provider ID",
    "4E": "Primary Care Provider Last Name",
    # AM02 Pharmacy Provider
    "EY": "Provider ID Qualifier",
    "E9": "Provider ID",
    # AM08 DUR/PPS
    "7E": "DUR/PPS Code Counter",
    "E4": "Reason for Service Code",
    "E5": "Professional Service Code",
    "E6": "Result of Service Code",
    "8E": "DUR/PPS Level of Effort",
    "J9": "DUR Co-Agent ID Qualifier",
    "H6": "DUR Co-Agent ID",
    # AM05 Coordination of Benefits/Other Payments
    "4C": "Coordination of Benefits/Other Payments Count",
    "5C": "Other Payer Coverage Type",
    "6C": "Other Payer ID Qualifier",
    "7C": "Other Payer ID",
    "E8": "Other Payer Date",
    "A7": "Internal Control Number",
    "HB": "Other Payer Amount Paid Count",
    "HC": "Other Payer Amount Paid Qualifier",
    "DV": "Other Payer Amount Paid",
    "5E": "Other Payer Reject Count",
    "6E": "Other Payer Reject Code",
    "NR": "Other Payer-Patient Responsibility Amount Count",
    "NP": "Other Payer-Patient Responsibility Amount Qualifier",
    "NQ": "Other Payer-Patient Responsibility Amount",
    "MU": "Benefit Stage Count",
    "MV": "Benefit Stage Qualifier",
    "MW": "Benefit Stage Amount",
    # AM10 Compound
    "EF": "Compound Dosage Form Description Code",
    "EG": "Compound Dispensing Unit Form Indicator",
    "EC": "Compound Ingredient Component Count",
    "RE": "Compound Product ID Qualifier",
    "TE": "Compound Product ID",
    "ED": "Compound Ingredient Quantity",
    "EE": "Compound Ingredient Drug Cost",
    "UE": "Compound Ingredient Basis of Cost Determination",
    "2G": "Compound Ingredient Modifier Code Count",
    "2H": "Compound Ingredient Modifier Code",
    # AM13 Clinical
    "VE": "Diagnosis Code Count",
    "WE": "Diagnosis Code Qualifier",
    "DO": "Diagnosis Code",
    "XE": "Clinical Information Counter",
    "ZE": "Measurement Date",
    "H1": "Measurement Time",
    "H2": "Measurement Dimension",
    "H3": "Measurement Unit",
    "H4": "Measurement Value",
    # AM12 Prior Authorization
    "PA": "Request Type",
    "PB": "Request Period Begin Date",
    "PC": "Request Period End Date",
    "PD": "Basis of Request",
    "PY": "Prior Authorization Number Assigned",
    "F3": "Authorization Number",
    "PP": "Prior Authorization Supporting Documentation",
    # AM09 Coupon
    "KE": "Coupon Type",
    "ME": "Coupon Number",
    "NE": "Coupon Value Amount",
    # AM14 Additional Documentation
    "2Q": "Additional Documentation Type ID",
    "2V": "Request Period Begin Date",
    "2W": "Request Period Recert/Revised Date",
    "2U": "Request Status",
    "2S": "Length of Need Qualifier",
    "2R": "Length of Need",
    "2T": "Prescriber/Supplier Date Signed",
    "2X": "Supporting Documentation",
    "2Z": "Question Number/Letter Count",
    "4B": "Question Number/Letter",
    "4D": "Question Percent Response",
    "4G": "Question Date Response",
    "4H": "Question Dollar Amount Response",
    "4J": "Question Numeric Response",
    "4K": "Question Alphanumeric Response",
    # AM06 Workers' Compensation, AM15 Facility, AM16 Narrative
    "DY": "Date of Injury",
    "CR": "Carrier ID",
    "DZ": "Claim/Reference ID",
    "8C": "Facility ID",
    "3Q": "Facility Name",
    "BM": "Narrative Message",
    # AM20 Response Message
    "F4": "Message",
    # AM21 Response Status
    "AN": "Transaction Response Status",
    "FA": "Reject Count",
    "FB": "Reject Code",
    "4F": "Reject Field Occurrence Indicator",
    "5F": "Approved Message Code Count",
    "6F": "Approved Message Code",
    "UF": "Additional Message Information Count",
    "UH": "Additional Message Information Qualifier",
    "FQ": "Additional Message Information",
    "UG": "Additional Message Information Continuity",
    "7F": "Help Desk Phone Number Qualifier",
    "8F": "Help Desk Phone Number",
    "MA": "URL",
    # AM22 Response Claim
    "9F": "Preferred Product Count",
    "AP": "Preferred Product ID Qualifier",
    "AR": "Preferred Product ID",
    "AS": "Preferred Product Incentive",
    "AT": "Preferred Product Cost Share Incentive",
    "AU": "Preferred Product Description",
    # AM23 Response Pricing
    "F5": "Patient Pay Amount",
    "F6": "Ingredient Cost Paid",
    "F7": "Dispensing Fee Paid",
    "F9": "Total Amount Paid",
    "FM": "Basis of Reimbursement Determination",
    "FI": "Amount of Copay",
    "4U": "Amount of Coinsurance",
    "FH": "Amount Applied to Periodic Deductible",
    "FC": "Accumulated Deductible Amount",
    "FD": "Remaining Deductible Amount",
    "FE": "Remaining Benefit Amount",
    "FK": "Amount Exceeding Periodic Benefit Maximum",
    "FN": "Amount Attributed to Sales Tax",
    "FL": "Incentive Amount Paid",
    "J1": "Professional Service Fee Paid",
    "J2": "Other Amount Paid Count",
    "J3": "Other Amount Paid Qualifier",
    "J4": "Other Amount Paid",
    "J5": "Other Payer Amount Recognized",
    "NZ": "Amount Attributed to Processor Fee",
    "UJ": "Amount Attributed to Provider Network Selection",
    "UK": "Amount Attributed to Product Selection/Brand Drug",
    "UM": "Amount Attributed to Product Selection/Non-Preferred Formulary Selection",
    "UN": "Amount Attributed to Product Selection/Brand Non-Preferred Formulary Selection",
    "UP": "Amount Attributed to Coverage Gap",
    "U8": "Ingredient Cost Contracted/Reimbursable Amount",
    "U9": "Dispensing Fee Contracted/Reimbursable Amount",
    "G3": "Estimated Generic Savings",
    "UC": "Spending Account Amount Remaining",
    "UD": "Health Plan-Funded Assistance Amount",
    # AM24 Response DUR/PPS
    "J6": "DUR/PPS Response Code Counter",
    "FS": "Clinical Significance Code",
    "FT": "Other Pharmacy Indicator",
    "FU": "Previous Date of Fill",
    "FV": "Quantity of Previous Fill",
    "FW": "Database Indicator",
    "FX": "Other Prescriber Indicator",
    "FY": "DUR Free Text Message",
    "NS": "DUR Additional Text",
    # AM25 Response Insurance
    "2F": "Network Reimbursement ID",
    "J7": "Payer ID Qualifier",
    "J8": "Payer ID",
    # AM26 Response Prior Authorization (field numbers unverified in the reference)
    "PR": "Prior Authorization Processed Date",
    "PS": "Prior Authorization Effective Date",
    "PT": "Prior Authorization Expiration Date",
    "RA": "Prior Authorization Quantity",
    "RB": "Prior Authorization Dollars Authorized",
    "PW": "Prior Authorization Number of Refills Authorized",
    "PX": "Prior Authorization Quantity Accumulated",
    # AM27 Response Insurance Additional Information
    "UR": "Medicare Part D Coverage Code",
    "UQ": "LICS Level",
    "U1": "Contract Number",
    "FF": "Formulary ID",
    "U6": "Benefit ID",
    # AM28 Response Coordination of Benefits/Other Payers
    "NT": "Other Payer ID Count",
    "UV": "Other Payer Person Code",
    "UB": "Other Payer Help Desk Phone Number",
    "UW": "Other Payer Patient Relationship Code",
    "UX": "Other Payer Benefit Effective Date",
    "UY": "Other Payer Benefit Termination Date",
}

# 1.7: "All money fields are signed overpunch" — the amounts, costs, fees and charges of the
# segment lists. A percentage (HE, 4D) is overpunch of unverified precision and stays text.
_MONEY = frozenset(
    {
        *("D9", "DC", "BE", "DX", "E3", "H9", "HA", "GE", "DQ", "DU", "N3"),  # AM11
        *("DV", "NQ", "MW"),  # AM05 (MW also in AM23)
        *("EE", "NE", "4H"),  # AM10, AM09, AM14
        *("F5", "F6", "F7", "F9", "FI", "4U", "FH", "FC", "FD", "FE", "FK", "FN", "FL"),
        *("J1", "J4", "J5", "NZ", "UJ", "UK", "UM", "UN", "UP", "U8", "U9", "G3", "UC", "UD"),
        *("AS", "AT", "RB"),  # AM22, AM26
    }
)
# 1.7: the quantities with 3 implied decimals, exactly as the reference lists them.
_QUANTITY = frozenset({"E7", "ET", "ED", "FV"})
# Lengths the reference states: 402-D2 9(12); 9(7)v999 quantities; 405-D5 9(3);
# 308-C8 9(2); dates CCYYMMDD.
_DATES = (
    *("C4", "DE", "EP", "E8", "FU", "DY", "PB", "PC", "ZE"),
    *("2V", "2W", "2T", "4G", "PR", "PS", "PT", "UX", "UY"),
)
_MAX_LENGTH: dict[str, int] = {
    "D2": 12,
    **dict.fromkeys(_QUANTITY, 10),
    "D5": 3,
    "C8": 2,
    **dict.fromkeys(_DATES, 8),
}


def _field_spec(field_id: str) -> FieldSpec:
    kind = (
        FieldKind.MONEY
        if field_id in _MONEY
        else FieldKind.QUANTITY
        if field_id in _QUANTITY
        else FieldKind.TEXT
    )
    return FieldSpec(_NAMES.get(field_id, ""), kind, _MAX_LENGTH.get(field_id, 0))


FIELDS: dict[str, FieldSpec] = {fid: _field_spec(fid) for fid in _NAMES}
"""The field ids the reference names, with their kind and length limit."""

_ID_CHARS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


_UNLIMITED = 1 << 62


class _Rule(NamedTuple):
    """How to write and read a money or quantity field."""

    kind: FieldKind
    max_length: int
    prefix: str  # FS + field id, as written


# A text field's rule is a plain tuple (prefix, max length); money and quantities have a
# _Rule. Every well-formed field id (two of 0-9 A-Z, never "AM", which only opens a segment)
# has one, so a single dict lookup per field checks the id and says how to handle the value;
# the loops below take the plain-tuple path without a function call.
_TextRule = tuple[str, int]


def _rule(field_id: str) -> _TextRule | _Rule:
    spec = _field_spec(field_id)
    prefix = _FS + field_id
    if spec.kind:
        return _Rule(spec.kind, spec.max_length, prefix)
    return (prefix, spec.max_length or _UNLIMITED)


_RULES: dict[str, _TextRule | _Rule] = {
    a + b: _rule(a + b) for a in _ID_CHARS for b in _ID_CHARS if a + b != "AM"
}

FieldValue = str | Decimal


def _where(segment: str | None, field: str | None) -> str:
    parts = []
    if segment == "header":
        parts.append("header")
    elif segment is not None:
        code = _BY_LABEL.get(segment)
        parts.append(f"segment {segment} ({code.description})" if code else f"segment {segment}")
    if field is not None:
        name = _NAMES.get(field)
        parts.append(f"field {field} ({name})" if name else f"field {field!r}")
    return ", ".join(parts)


# --------------------------------------------------------------------------------------
# Numbers


_POSITIVE = "{ABCDEFGHI"
_NEGATIVE = "}JKLMNOPQR"
_ENCODE_POSITIVE = {str(d): c for d, c in enumerate(_POSITIVE)}
_ENCODE_NEGATIVE = {str(d): c for d, c in enumerate(_NEGATIVE)}
# Last character -> (digit, negative). Plain digits count as positive: some senders write
# unsigned response amounts (1.7).
_DECODE_LAST: dict[str, tuple[str, bool]] = {
    **{c: (str(d), False) for d, c in enumerate(_POSITIVE)},
    **{c: (str(d), True) for d, c in enumerate(_NEGATIVE)},
    **{str(d): (str(d), False) for d in range(10)},
}
# Quantizing must never round silently: a context of ample precision (values are held far
# below it, see _MAX_DIGITS) and the result compared with the input.
_CONTEXT = Context(prec=64, Emax=MAX_EMAX, Emin=MIN_EMIN)
_MAX_DIGITS = 30
_STEPS = {d: Decimal(1).scaleb(-d) for d in range(7)}  # 0..6 implied decimals


def _digits(value: object, decimals: int, what: str) -> tuple[str, bool]:
    """The digits of ``value`` in units of 10**-decimals (no sign, no leading zeros) and
    whether it is negative; NcpdpError when it is not exactly representable."""
    step = _STEPS.get(decimals)
    if step is None:
        raise NcpdpError(f"{decimals} implied decimals; 0 to 6 are supported")
    if not isinstance(value, Decimal):
        raise NcpdpError(f"{what} must be a Decimal, not {type(value).__name__}")
    if not value.is_finite():
        raise NcpdpError(f"{what} {value} is not a finite number")
    if value and value.adjusted() >= _MAX_DIGITS - decimals:
        raise NcpdpError(f"{what} {value} is too large")
    quantized = value.quantize(step, None, _CONTEXT)
    if quantized != value:
        raise NcpdpError(f"{what} {value} has more than {decimals} decimal places")
    # With 0-6 decimals str() never switches to exponent notation: "-12.50", "0.000".
    text = str(quantized)
    digits = text.replace(".", "").lstrip("-0") or "0"
    return digits, text[0] == "-" and digits != "0"


def overpunch_encode(amount: Decimal, decimals: int = 2) -> str:
    """Signed overpunch (1.7): ``Decimal("12.50")`` -> ``"125{"``, ``Decimal("-3.50")`` ->
    ``"35}"``, zero -> ``"{"``. An amount with more decimal places than ``decimals`` is
    refused rather than rounded."""
    digits, negative = _digits(amount, decimals, "amount")
    return digits[:-1] + (_ENCODE_NEGATIVE if negative else _ENCODE_POSITIVE)[digits[-1]]


def overpunch_decode(text: str, decimals: int = 2) -> Decimal:
    """The exact amount of a signed-overpunch value (``"125{"`` -> ``Decimal("12.50")``).
    Leading zeros are optional; plain digits read as a positive amount."""
    last = _DECODE_LAST.get(text[-1:]) if text else None
    body = text[:-1]
    if last is None or (body and not (body.isascii() and body.isdigit())):
        raise NcpdpError(
            f"{text!r} is not a signed-overpunch amount (digits, the last one written as "
            "{ A-I for a positive or } J-R for a negative amount)"
        )
    if len(text) > _MAX_DIGITS and len(text.lstrip("0")) > _MAX_DIGITS:
        raise NcpdpError(f"{text[:40]!r} is too large an amount")
    digit, negative = last
    value = Decimal(f"{body}{digit}E-{decimals}")
    return -value if negative and value else value


def implied_decimal_encode(quantity: Decimal, decimals: int = QUANTITY_DECIMALS) -> str:
    """An unsigned quantity with implied decimals (1.7): ``Decimal("30")`` -> ``"30000"``."""
    digits, negative = _digits(quantity, decimals, "quantity")
    if negative:
        raise NcpdpError(f"quantity {quantity} is negative; quantities are unsigned")
    return digits


def implied_decimal_decode(text: str, decimals: int = QUANTITY_DECIMALS) -> Decimal:
    """``"2500"`` -> ``Decimal("2.500")``: digits only, the last ``decimals`` are decimals."""
    if not (text.isascii() and text.isdigit()):
        raise NcpdpError(f"{text!r} is not a quantity (digits only, {decimals} implied decimals)")
    if len(text) > _MAX_DIGITS and len(text.lstrip("0")) > _MAX_DIGITS:
        raise NcpdpError(f"{text[:40]!r} is too large a quantity")
    return Decimal(f"{text}E-{decimals}")


# --------------------------------------------------------------------------------------
# Messages


@dataclass(frozen=True, slots=True)
class Segment:
    """One segment: its code (``SegmentCode.CLAIM`` for AM07) and its fields in wire order,
    as ``(field id, value)`` pairs; a repeating field appears once per repetition."""

    id: SegmentCode
    fields: tuple[tuple[str, FieldValue], ...] = ()

    def get(self, field_id: str, default: FieldValue | None = None) -> FieldValue | None:
        """The first value of ``field_id``, or ``default``."""
        for fid, value in self.fields:
            if fid == field_id:
                return value
        return default

    def get_all(self, field_id: str) -> tuple[FieldValue, ...]:
        """Every value of a repeating field (the reject codes FB), in order."""
        return tuple(value for fid, value in self.fields if fid == field_id)

    def __getitem__(self, field_id: str) -> FieldValue:
        for fid, value in self.fields:
            if fid == field_id:
                return value
        raise KeyError(field_id)

    def __contains__(self, field_id: object) -> bool:
        return any(fid == field_id for fid, _ in self.fields)


def _find(segments: tuple[Segment, ...], code: SegmentCode) -> Segment | None:
    for segment in segments:
        if segment.id == code:
            return segment
    return None


@dataclass(frozen=True, slots=True)
class Transaction:
    """One claim of a request (a transaction group): the Claim segment and its companions."""

    segments: tuple[Segment, ...] = ()

    def segment(self, code: SegmentCode) -> Segment | None:
        return _find(self.segments, code)


@dataclass(frozen=True, slots=True)
class ResponseTransaction:
    """The processor's answer for one claim. Read the outcome through the properties: they
    apply the reference's fail-safe rule (any reject code means rejected)."""

    segments: tuple[Segment, ...] = ()

    def segment(self, code: SegmentCode) -> Segment | None:
        return _find(self.segments, code)

    @property
    def status(self) -> str | None:
        """112-AN as sent (see TransactionStatus); None when missing."""
        seg = _find(self.segments, SegmentCode.RESPONSE_STATUS)
        value = seg.get("AN") if seg else None
        return value if isinstance(value, str) else None

    @property
    def reject_codes(self) -> tuple[str, ...]:
        seg = _find(self.segments, SegmentCode.RESPONSE_STATUS)
        return tuple(str(v) for v in seg.get_all("FB")) if seg else ()

    @property
    def is_rejected(self) -> bool:
        return self.status == TransactionStatus.REJECTED or bool(self.reject_codes)

    @property
    def is_paid(self) -> bool:
        """Paid and without a reject code; an unknown status is not paid."""
        return self.status == TransactionStatus.PAID and not self.reject_codes

    @property
    def authorization_number(self) -> str | None:
        seg = _find(self.segments, SegmentCode.RESPONSE_STATUS)
        value = seg.get("F3") if seg else None
        return value if isinstance(value, str) else None

    def _amount(self, field_id: str) -> Decimal | None:
        seg = _find(self.segments, SegmentCode.RESPONSE_PRICING)
        value = seg.get(field_id) if seg else None
        return value if isinstance(value, Decimal) else None

    @property
    def patient_pay_amount(self) -> Decimal | None:
        """505-F5: what to collect at the counter."""
        return self._amount("F5")

    @property
    def total_amount_paid(self) -> Decimal | None:
        """509-F9: what the plan pays the pharmacy."""
        return self._amount("F9")


@dataclass(frozen=True, slots=True, kw_only=True)
class RequestHeader:
    """The 56-byte request header (1.2). The version is always D0 and the transaction count
    (109-A9) is written from the number of transactions of the request."""

    bin: str
    transaction_code: TransactionCode
    pcn: str
    service_provider_id: str
    date_of_service: dt.date
    service_provider_id_qualifier: str = "01"  # NPI
    software_vendor_id: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class ResponseHeader:
    """The 31-byte response header (1.3)."""

    transaction_code: TransactionCode
    transaction_count: int
    status: HeaderStatus
    service_provider_id: str
    date_of_service: dt.date
    service_provider_id_qualifier: str = "01"


@dataclass(frozen=True, slots=True)
class Request:
    """A transmission: header, the Insurance and Patient segments, 1-4 claims (E1: one)."""

    header: RequestHeader
    segments: tuple[Segment, ...] = ()
    transactions: tuple[Transaction, ...] = ()

    def segment(self, code: SegmentCode) -> Segment | None:
        return _find(self.segments, code)


@dataclass(frozen=True, slots=True)
class Response:
    """A response: header, the transmission-level Message/Insurance/Patient segments and one
    answer per claim (none when the whole transmission was rejected)."""

    header: ResponseHeader
    segments: tuple[Segment, ...] = ()
    transactions: tuple[ResponseTransaction, ...] = ()

    def segment(self, code: SegmentCode) -> Segment | None:
        return _find(self.segments, code)


# --------------------------------------------------------------------------------------
# Encoding


def _date_text(value: object, segment: str, field: str) -> str:
    if not isinstance(value, dt.date) or isinstance(value, dt.datetime):
        raise NcpdpError("must be a date", segment=segment, field=field)
    return f"{value.year:04d}{value.month:02d}{value.day:02d}"


def _header_text(value: object, width: int, field: str) -> str:
    if not isinstance(value, str):
        raise NcpdpError(f"must be text, not {type(value).__name__}", segment="header", field=field)
    if len(value) > width:
        raise NcpdpError(
            f"{value!r} is {len(value)} characters; the header holds {width}",
            segment="header",
            field=field,
        )
    if not (value.isascii() and value.isprintable()):
        raise NcpdpError(
            f"{value!r} has characters other than printable ASCII", segment="header", field=field
        )
    return value.ljust(width)


def _transaction_code(value: object) -> TransactionCode:
    code = _TRANSACTION_CODES.get(value) if isinstance(value, str) else None
    if code is None:
        raise NcpdpError(
            f"{value!r} is not a supported transaction code (B1, B2, B3, E1)",
            segment="header",
            field="A3",
        )
    return code


_TRANSACTION_CODES = {c.value: c for c in TransactionCode}


def _encode_segments(
    segments: Iterable[Segment], allowed: frozenset[SegmentCode], out: list[str]
) -> None:
    rules_get = _RULES.get
    append = out.append
    for segment in segments:
        code = segment.id
        if not isinstance(code, str) or code not in allowed:
            _misplaced(code, allowed)
        label = "AM" + code
        append(_RS + _FS + label)
        for fid, value in segment.fields:
            try:
                rule = rules_get(fid)
            except TypeError:  # an unhashable field id
                rule = None
            if rule.__class__ is tuple and value.__class__ is str and len(value) <= rule[1]:
                append(rule[0] + value)  # type: ignore[operator,arg-type]
            else:
                append(_encode_field(rule, fid, value, label))


def _encode_field(rule: _TextRule | _Rule | None, fid: object, value: object, label: str) -> str:
    if rule is None:
        _bad_field_id(fid, label)
    assert isinstance(fid, str)
    if isinstance(rule, _Rule):
        try:
            text = (
                overpunch_encode(value)  # type: ignore[arg-type]
                if rule.kind is FieldKind.MONEY
                else implied_decimal_encode(value)  # type: ignore[arg-type]
            )
        except NcpdpError as error:
            raise NcpdpError(error.reason, segment=label, field=fid) from None
        prefix, max_length = rule.prefix, rule.max_length or _UNLIMITED
    else:
        if not isinstance(value, str):
            raise NcpdpError(f"must be text, not {type(value).__name__}", segment=label, field=fid)
        text = str.__str__(value)
        prefix, max_length = rule
    if len(text) > max_length:
        _too_long(text, max_length, label, fid)
    return prefix + text


def _finish(
    out: list[str],
    segments: int,
    fields: int,
    groups: int,
    all_segments: Callable[[], Iterable[Segment]],
) -> bytes:
    body = "".join(out)
    # A separator inside a value would silently re-frame the message: count them all at once
    # and look for the culprit only when a count is off.
    if (
        body.count(_RS) != segments
        or body.count(_GS) != groups
        or body.count(_FS) != segments + fields
    ):
        _find_bad_value(all_segments())
    try:
        return body.encode("latin-1")
    except UnicodeEncodeError:
        _find_bad_value(all_segments())


def _find_bad_value(segments: Iterable[Segment]) -> NoReturn:
    for segment in segments:
        for fid, value in segment.fields:
            for ch in str(value):
                if ch in (_RS, _GS, _FS):
                    raise NcpdpError(
                        f"contains the separator byte 0x{ord(ch):02X}",
                        segment="AM" + segment.id,
                        field=fid,
                    )
                if ord(ch) > 0xFF:
                    raise NcpdpError(
                        f"character {ch!r} cannot be sent (Latin-1 only)",
                        segment="AM" + segment.id,
                        field=fid,
                    )
    raise NcpdpError("a value holds a separator byte or a character that cannot be sent")


def _counts(segments: Iterable[Segment]) -> tuple[int, int]:
    n_segments = n_fields = 0
    for segment in segments:
        n_segments += 1
        n_fields += len(segment.fields)
    return n_segments, n_fields


def encode_request(request: Request) -> bytes:
    """The D.0 bytes of a request: 56-byte header, transmission-level segments, then one
    group per claim."""
    header = request.header
    code = _transaction_code(header.transaction_code)
    _check_request_shape(code, request.transactions)
    try:
        head = "".join(
            (
                header.bin.ljust(_BIN_WIDTH),
                VERSION,
                code.value,
                header.pcn.ljust(_PCN_WIDTH),
                str(len(request.transactions)),
                header.service_provider_id_qualifier.ljust(_QUALIFIER_WIDTH),
                header.service_provider_id.ljust(_PROVIDER_WIDTH),
                _date_text(header.date_of_service, "header", "D1"),
                header.software_vendor_id.ljust(_SOFTWARE_WIDTH),
            )
        )
    except (AttributeError, TypeError):
        head = ""
    if not (len(head) == REQUEST_HEADER_LENGTH and head.isascii() and head.isprintable()):
        # Find the field at fault (too long, not text, not printable ASCII).
        _header_text(header.bin, _BIN_WIDTH, "A1")
        _header_text(header.pcn, _PCN_WIDTH, "A4")
        _header_text(header.service_provider_id_qualifier, _QUALIFIER_WIDTH, "B2")
        _header_text(header.service_provider_id, _PROVIDER_WIDTH, "B1")
        _header_text(header.software_vendor_id, _SOFTWARE_WIDTH, "AK")
        raise NcpdpError("the header cannot be written", segment="header")
    out = [head]
    _encode_segments(request.segments, _REQUEST_TRANSMISSION, out)
    n_segments, n_fields = _counts(request.segments)
    for transaction in request.transactions:
        out.append(_GS)
        _encode_segments(transaction.segments, _REQUEST_GROUP, out)
        s, f = _counts(transaction.segments)
        n_segments += s
        n_fields += f
    return _finish(
        out,
        n_segments,
        n_fields,
        len(request.transactions),
        lambda: (*request.segments, *(s for t in request.transactions for s in t.segments)),
    )


def encode_response(response: Response) -> bytes:
    """The D.0 bytes of a response: 31-byte header, transmission-level segments, then one
    group per answered claim."""
    header = response.header
    code = _transaction_code(header.transaction_code)
    status = _HEADER_STATUSES.get(header.status) if isinstance(header.status, str) else None
    if status is None:
        raise NcpdpError(f"{header.status!r} is not A or R", segment="header", field="F1")
    count = header.transaction_count
    if not isinstance(count, int) or isinstance(count, bool):
        raise NcpdpError("must be a whole number", segment="header", field="A9")
    _check_response_shape(code, count, status, response.transactions)
    try:
        head = "".join(
            (
                VERSION,
                code.value,
                str(count),
                status.value,
                header.service_provider_id_qualifier.ljust(_QUALIFIER_WIDTH),
                header.service_provider_id.ljust(_PROVIDER_WIDTH),
                _date_text(header.date_of_service, "header", "D1"),
            )
        )
    except (AttributeError, TypeError):
        head = ""
    if not (len(head) == RESPONSE_HEADER_LENGTH and head.isascii() and head.isprintable()):
        _header_text(header.service_provider_id_qualifier, _QUALIFIER_WIDTH, "B2")
        _header_text(header.service_provider_id, _PROVIDER_WIDTH, "B1")
        raise NcpdpError("the header cannot be written", segment="header")
    out = [head]
    _encode_segments(response.segments, _RESPONSE_TRANSMISSION, out)
    n_segments, n_fields = _counts(response.segments)
    for transaction in response.transactions:
        out.append(_GS)
        _encode_segments(transaction.segments, _RESPONSE_GROUP, out)
        s, f = _counts(transaction.segments)
        n_segments += s
        n_fields += f
    return _finish(
        out,
        n_segments,
        n_fields,
        len(response.transactions),
        lambda: (*response.segments, *(s for t in response.transactions for s in t.segments)),
    )


_HEADER_STATUSES = {s.value: s for s in HeaderStatus}


# --------------------------------------------------------------------------------------
# Shape rules shared by encoding and decoding (so that whatever encodes also decodes)


def _article(code: TransactionCode) -> str:
    return "an" if code.value[0] in "AEFHILMNORSX" else "a"


def _check_request_shape(code: TransactionCode, transactions: tuple[Transaction, ...]) -> None:
    count = len(transactions)
    if code is TransactionCode.ELIGIBILITY:
        if count != 1:
            raise NcpdpError(
                f"an E1 carries exactly 1 transaction, not {count}", segment="header", field="A9"
            )
    elif not 1 <= count <= MAX_TRANSACTIONS:
        raise NcpdpError(
            f"{_article(code)} {code.value} carries 1 to {MAX_TRANSACTIONS} transactions, "
            f"not {count}",
            segment="header",
            field="A9",
        )
    for number, transaction in enumerate(transactions, start=1):
        has_claim = _find(transaction.segments, SegmentCode.CLAIM) is not None
        if code is TransactionCode.ELIGIBILITY and has_claim:
            raise NcpdpError("an E1 eligibility check has no Claim segment", segment="AM07")
        if code is not TransactionCode.ELIGIBILITY and not has_claim:
            raise NcpdpError(
                f"transaction {number} of {_article(code)} {code.value} has no Claim segment",
                segment="AM07",
            )


def _check_response_shape(
    code: TransactionCode,
    count: int,
    status: HeaderStatus,
    transactions: tuple[ResponseTransaction, ...],
) -> None:
    limit = 1 if code is TransactionCode.ELIGIBILITY else MAX_TRANSACTIONS
    if not 1 <= count <= limit:
        raise NcpdpError(
            f"{_article(code)} {code.value} response counts 1 to {limit} transactions, not {count}",
            segment="header",
            field="A9",
        )
    groups = len(transactions)
    # An accepted transmission answers every claim; a rejected one may answer none.
    if groups > count or (status is HeaderStatus.ACCEPTED and groups != count):
        raise NcpdpError(
            f"the header counts {count} transaction(s) but {groups} transaction group(s) "
            "follow (message cut short?)",
            segment="header",
            field="A9",
        )
    for number, transaction in enumerate(transactions, start=1):
        if _find(transaction.segments, SegmentCode.RESPONSE_STATUS) is None:
            raise NcpdpError(
                f"transaction {number} has no Response Status segment (message cut short?)",
                segment="AM21",
            )


# --------------------------------------------------------------------------------------
# Decoding


def _text_of(data: object) -> str:
    if not isinstance(data, bytes | bytearray | memoryview):
        raise NcpdpError(f"a D.0 message is bytes, not {type(data).__name__}")
    # Latin-1 maps every byte to one character, so decoding cannot fail and nothing is lost.
    return bytes(data).decode("latin-1")


def _header_chars(head: str, length: int, kind: str) -> None:
    if len(head) < length:
        raise NcpdpError(
            f"the message is {len(head)} bytes; a {kind} header alone is {length} "
            "(message cut short?)",
            segment="header",
        )
    if not (head.isascii() and head.isprintable()):
        bad = next(ch for ch in head if not (ch.isascii() and ch.isprintable()))
        raise NcpdpError(
            f"the {kind} header holds the non-printable byte 0x{ord(bad):02X} at offset "
            f"{head.index(bad)} (a separator means the header is shorter than {length} bytes)",
            segment="header",
        )


def _parse_date(text: str, segment: str, field: str) -> dt.date:
    if len(text) == 8 and text.isascii() and text.isdigit():
        try:
            return dt.date(int(text[:4]), int(text[4:6]), int(text[6:]))
        except ValueError:
            pass
    raise NcpdpError(f"{text!r} is not a date (CCYYMMDD)", segment=segment, field=field)


def _decode_segments(chunk: str, allowed: frozenset[SegmentCode]) -> tuple[Segment, ...]:
    if not chunk:
        return ()
    pieces = chunk.split(_RS)
    if pieces[0]:
        raise NcpdpError(
            f"{pieces[0][:20]!r} stands where a segment separator (0x1E) should start a segment"
        )
    rules_get = _RULES.get
    segments = []
    for piece in pieces[1:]:
        raw = piece.split(_FS)
        if raw[0] or len(raw) < 2:
            raise NcpdpError(
                f"segment {piece[:20]!r} does not start with a field separator (0x1C) and "
                "its AM segment id"
                if piece
                else "empty segment (message cut short?)"
            )
        label = raw[1]
        code = _BY_LABEL.get(label)
        if code is None or code not in allowed:
            _misplaced_label(label, allowed)
        fields: tuple[tuple[str, FieldValue], ...] = tuple(
            [
                (fid, text)
                if (rule := rules_get(fid := field[:2])).__class__ is tuple
                and len(text := field[2:]) <= rule[1]
                else (fid, _decode_field(rule, fid, field[2:], label))
                for field in raw[2:]
            ]
        )
        segments.append(Segment(code, fields))
    return tuple(segments)


def _decode_field(rule: _TextRule | _Rule | None, fid: str, text: str, label: str) -> FieldValue:
    if rule is None:
        _bad_field_id(fid, label)
    if not isinstance(rule, _Rule):
        _too_long(text, rule[1], label, fid)  # the only way a text field gets here
    if rule.max_length and len(text) > rule.max_length:
        _too_long(text, rule.max_length, label, fid)
    try:
        if rule.kind is FieldKind.MONEY:
            return overpunch_decode(text)
        return implied_decimal_decode(text)
    except NcpdpError as error:
        raise NcpdpError(error.reason, segment=label, field=fid) from None


def decode_request(data: bytes) -> Request:
    """Read a D.0 request (B1, B2, B3 or E1). Raises NcpdpError, and only NcpdpError, when
    the bytes are not a well-formed request."""
    text = _text_of(data)
    head = text[:REQUEST_HEADER_LENGTH]
    if head[:2] == VERSION and head[6:8] != VERSION:
        raise NcpdpError("this is a response, not a request", segment="header", field="A2")
    _header_chars(head, REQUEST_HEADER_LENGTH, "request")
    if head[6:8] != VERSION:
        raise NcpdpError(
            f"version {head[6:8]!r}; this codec reads D0 only", segment="header", field="A2"
        )
    code = _transaction_code(head[8:10])
    count = head[20]
    if count not in "1234":
        raise NcpdpError(f"{count!r} is not a transaction count 1-4", segment="header", field="A9")
    header = RequestHeader(
        bin=head[0:6].rstrip(" "),
        transaction_code=code,
        pcn=head[10:20].rstrip(" "),
        service_provider_id_qualifier=head[21:23].rstrip(" "),
        service_provider_id=head[23:38].rstrip(" "),
        date_of_service=_parse_date(head[38:46], "header", "D1"),
        software_vendor_id=head[46:56].rstrip(" "),
    )
    groups = text[REQUEST_HEADER_LENGTH:].split(_GS)
    segments = _decode_segments(groups[0], _REQUEST_TRANSMISSION)
    transactions = tuple(Transaction(_decode_segments(g, _REQUEST_GROUP)) for g in groups[1:])
    if int(count) != len(transactions):
        raise NcpdpError(
            f"the header counts {count} transaction(s) but {len(transactions)} transaction "
            "group(s) follow",
            segment="header",
            field="A9",
        )
    _check_request_shape(code, transactions)
    return Request(header, segments, transactions)


def decode_response(data: bytes) -> Response:
    """Read a D.0 response. Raises NcpdpError, and only NcpdpError, when the bytes are not
    a well-formed response — the claim then needs attention; nothing is guessed."""
    text = _text_of(data)
    head = text[:RESPONSE_HEADER_LENGTH]
    _header_chars(head, RESPONSE_HEADER_LENGTH, "response")
    if head[:2] != VERSION:
        raise NcpdpError(
            f"version {head[:2]!r}; this codec reads D0 only", segment="header", field="A2"
        )
    code = _transaction_code(head[2:4])
    count = head[4]
    if not count.isdigit():
        raise NcpdpError(f"{count!r} is not a transaction count", segment="header", field="A9")
    status = _HEADER_STATUSES.get(head[5])
    if status is None:
        raise NcpdpError(f"{head[5]!r} is not A or R", segment="header", field="F1")
    header = ResponseHeader(
        transaction_code=code,
        transaction_count=int(count),
        status=status,
        service_provider_id_qualifier=head[6:8].rstrip(" "),
        service_provider_id=head[8:23].rstrip(" "),
        date_of_service=_parse_date(head[23:31], "header", "D1"),
    )
    groups = text[RESPONSE_HEADER_LENGTH:].split(_GS)
    segments = _decode_segments(groups[0], _RESPONSE_TRANSMISSION)
    transactions = tuple(
        ResponseTransaction(_decode_segments(g, _RESPONSE_GROUP)) for g in groups[1:]
    )
    _check_response_shape(code, header.transaction_count, status, transactions)
    return Response(header, segments, transactions)


# --------------------------------------------------------------------------------------
# Error paths (kept out of the loops above)


def _misplaced(code: object, allowed: frozenset[SegmentCode]) -> NoReturn:
    label = "AM" + code if isinstance(code, str) else repr(code)
    _misplaced_label(label, allowed)


def _misplaced_label(label: str, allowed: frozenset[SegmentCode]) -> NoReturn:
    code = _BY_LABEL.get(label)
    if code is None:
        if label.startswith("AM") and len(label) == 4 and label.isascii() and label.isalnum():
            raise NcpdpError("unknown segment id", segment=label)
        raise NcpdpError(
            f"{label[:20]!r} stands where a segment id (AM + two digits) should", field="AM"
        )
    if allowed in (_REQUEST_TRANSMISSION, _REQUEST_GROUP):
        if code.value >= "20":
            raise NcpdpError("a response segment cannot stand in a request", segment=label)
        where = "in a transaction group" if allowed is _REQUEST_GROUP else "before the first group"
    else:
        if code.value < "20":
            raise NcpdpError("a request segment cannot stand in a response", segment=label)
        where = "in a transaction group" if allowed is _RESPONSE_GROUP else "before the first group"
    raise NcpdpError(f"this segment does not belong {where}", segment=label)


def _bad_field_id(fid: object, label: str) -> NoReturn:
    if fid == "AM":
        raise NcpdpError("the segment id AM may only open a segment", segment=label, field="AM")
    if fid == "":
        raise NcpdpError("empty field (message cut short?)", segment=label)
    raise NcpdpError(
        f"{fid!r} is not a field id (two characters, 0-9 or A-Z)", segment=label, field=None
    )


def _too_long(text: str, max_length: int, label: str, fid: str) -> NoReturn:
    raise NcpdpError(
        f"{text[:40]!r} is {len(text)} characters; at most {max_length} allowed",
        segment=label,
        field=fid,
    )
