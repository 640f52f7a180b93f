"""ASAP 4.2 (4.2A, 4.2B): a pure writer and reader for prescription monitoring program files.

What it is for: issue 10 reports every controlled-substance dispensing to the state's
prescription monitoring program (PMP) as an ASAP file, daily, and a zero report for a
period without any. The controlled-substances app builds an :class:`AsapFile` from its fills
and calls :func:`write`; :func:`zero_report` builds the file for a period without
dispensing; :func:`read` parses a file back (the tests check every element that way, and a
file kept on disk can be inspected with it). The module is pure: no Django, no database, no
network, no file system.

Source: the team reference ``controlled-substances.md`` §6 — hierarchy and delimiters (6.2),
element positions (6.3), zero reports (6.4), the synthetic examples (6.5). An element id is
the segment id and its two-digit position ("DSP05"); :data:`SEGMENTS` holds the positions
once, for the writer and the reader alike.

Layout: a segment is its id and its elements joined by the separator ``*`` and ended by the
terminator ``~``. The reader takes the separator from the character after "TH" and the
terminator from TH09, which holds it — so the header ends with two terminators (``**~~``).
TP01 counts a pharmacy's segments from PHA through TP, TT02 the whole file from TH through
TT, and TT01 repeats TH02. Empty elements at the end of a segment are left off.

Values: text elements are ``str`` ("" when empty) of printable ASCII without the two
delimiters; the writer refuses anything else instead of stripping it (run names and
addresses through :func:`clean_text` first). Dates are :class:`datetime.date`, counts
``int`` and quantities :class:`~decimal.Decimal` (``None`` when empty). Coded elements are
``str`` holding the codes of the enums below; the reader returns the enum members, which
compare equal to the plain codes.

Every malformed file or value raises :class:`AsapError` (a ``ValueError`` and an ``Invalid``
domain error) naming the segment, its place in the file and the element; never another
exception type.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass, replace
from decimal import Context, Decimal
from enum import Enum, StrEnum
from typing import Any, NamedTuple, NoReturn, TypeVar

from rxdesk.core.errors import Invalid

__all__ = [
    "COMPOUND_PRODUCT_ID",
    "LINE_BREAK",
    "SEGMENTS",
    "SEPARATOR",
    "TERMINATOR",
    "AdditionalInfo",
    "AsapError",
    "AsapFile",
    "AsapVersion",
    "Dispensing",
    "Element",
    "FileType",
    "Gender",
    "InformationSource",
    "Ingredient",
    "Kind",
    "Patient",
    "PatientIdQualifier",
    "PatientReport",
    "PaymentType",
    "Pharmacy",
    "PharmacyReport",
    "Prescriber",
    "ProductQualifier",
    "ReportingStatus",
    "RxOrigin",
    "SegmentSpec",
    "Species",
    "TransactionType",
    "Unit",
    "clean_text",
    "read",
    "write",
    "zero_report",
]

SEPARATOR = "*"
TERMINATOR = "~"
LINE_BREAK = "\r\n"  # optional after each segment, where the state allows it (6.2)
ZERO_REPORT_LAST_NAME = "REPORT"  # PAT07 of a zero report (6.4)
ZERO_REPORT_FIRST_NAME = "ZERO"  # PAT08
# DSP08 of a compound, whose ingredients follow as CDI segments (6.3; the filler is
# unverified — the state guide says what it wants).
COMPOUND_PRODUCT_ID = "99999999999"

# Counts (refills, days supply, fill number, segment counts) are at most 9 digits and
# quantities below 10 billion with at most 6 decimals: far beyond any dispensing, and a
# bound that keeps a hostile file from asking for a million-digit number.
_MAX_INTEGER = 999_999_999
_MAX_DECIMALS = 6
_QUANTITY_LIMIT = Decimal(10) ** 10
_CONTEXT = Context(prec=100)


class AsapVersion(StrEnum):
    """TH01: the ASAP releases this codec writes and reads."""

    V4_2 = "4.2"
    V4_2A = "4.2A"
    V4_2B = "4.2B"


_RANK = {v.value: rank for rank, v in enumerate(AsapVersion)}


class TransactionType(StrEnum):
    """TH03. Pharmacies send 01; the others are rarely used by pharmacies (unverified)."""

    SEND = "01"
    ACKNOWLEDGEMENT = "02"
    ERROR = "03"
    VOID = "04"


class FileType(StrEnum):
    """TH07."""

    PRODUCTION = "P"
    TEST = "T"


class PatientIdQualifier(StrEnum):
    """PAT02, PAT05 and AIR04. The reference marks this list unverified, so the codec
    accepts any two-digit code there; these names are for the caller's convenience."""

    MILITARY_ID = "01"
    STATE_ID = "02"
    UNIQUE_SYSTEM_ID = "03"
    PERMANENT_RESIDENT_CARD = "04"
    PASSPORT = "05"
    DRIVERS_LICENSE = "06"
    SSN = "07"
    TRIBAL_ID = "08"
    OTHER = "99"


class Gender(StrEnum):
    """PAT19."""

    FEMALE = "F"
    MALE = "M"
    UNKNOWN = "U"


class Species(StrEnum):
    """PAT20."""

    HUMAN = "01"
    VETERINARY = "02"


class ReportingStatus(StrEnum):
    """DSP01. A void must match the original's Rx number, fill date, pharmacy, quantity and
    refill number."""

    NEW = "00"
    REVISE = "01"
    VOID = "02"


class ProductQualifier(StrEnum):
    """DSP07 and CDI02. The writer derives DSP07 from the dispensing (06 when it has
    ingredients, 01 when it has an NDC)."""

    NDC = "01"
    COMPOUND = "06"


class Unit(StrEnum):
    """DSP11 and CDI05, drug dosage units."""

    EACH = "01"
    MILLILITERS = "02"
    GRAMS = "03"


class RxOrigin(StrEnum):
    """DSP12, transmission form of the prescription's origin."""

    WRITTEN = "01"
    TELEPHONE = "02"
    TELEPHONE_EMERGENCY = "03"
    FAX = "04"
    ELECTRONIC = "05"
    TRANSFERRED = "06"
    OTHER = "99"


class PaymentType(StrEnum):
    """DSP16, classification code for payment type."""

    PRIVATE_PAY = "01"
    MEDICAID = "02"
    MEDICARE = "03"
    COMMERCIAL_INSURANCE = "04"
    MILITARY_OR_VA = "05"
    WORKERS_COMPENSATION = "06"
    INDIAN_NATIONS = "07"
    OTHER = "99"


# --------------------------------------------------------------------------------------
# The error


class AsapError(Invalid, ValueError):
    """An ASAP file that cannot be written or read.

    ``segment`` is the segment id ("DSP"), ``element`` the element id ("DSP05") and
    ``position`` the segment's place in the file counting TH as 1; each is ``None`` when the
    fault is not in one place. The message names all three in words a technician can pass
    on to the help desk.
    """

    code = "asap_invalid"
    title = "The prescription monitoring (PMP) file cannot be built or read"

    def __init__(
        self,
        message: str,
        *,
        segment: str | None = None,
        element: str | None = None,
        position: int | None = None,
    ) -> None:
        where = _where(segment, element, position)
        super().__init__(f"{where}: {message}" if where else message, field=element)
        self.segment = segment
        self.element = element
        self.position = position
        self.reason = message


def _where(segment: str | None, element: str | None, position: int | None) -> str:
    parts = []
    if position is not None:
        parts.append(f"segment {position}")
    if segment is not None:
        spec = SEGMENTS.get(segment)
        parts.append(f"{segment} ({spec.name})" if spec else repr(segment))
    if element is not None:
        known = _ELEMENTS.get(element)
        parts.append(f"element {element} ({known.name})" if known else f"element {element}")
    return ", ".join(parts)


# --------------------------------------------------------------------------------------
# The file, as data


@dataclass(frozen=True, slots=True, kw_only=True)
class InformationSource:
    """IS: who sends the file. ``message`` (IS03) carries a zero report's date range."""

    id: str
    name: str
    message: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Pharmacy:
    """PHA: the dispensing pharmacy. At least one of NPI, NCPDP ID and DEA number."""

    npi: str = ""
    ncpdp: str = ""
    dea: str = ""
    name: str = ""
    address1: str = ""
    address2: str = ""
    city: str = ""
    state: str = ""
    zip: str = ""
    phone: str = ""
    contact_name: str = ""
    chain_site_id: str = ""
    permit_number: str = ""  # PHA13, ASAP 4.2A and later


@dataclass(frozen=True, slots=True, kw_only=True)
class Patient:
    """PAT: the patient (or, for a zero report, the placeholder REPORT ZERO)."""

    id_jurisdiction: str = ""
    id_qualifier: str = ""
    id: str = ""
    additional_id_jurisdiction: str = ""
    additional_id_qualifier: str = ""
    additional_id: str = ""
    last_name: str = ""
    first_name: str = ""
    middle_name: str = ""
    name_prefix: str = ""
    name_suffix: str = ""
    address1: str = ""
    address2: str = ""
    city: str = ""
    state: str = ""
    zip: str = ""
    phone: str = ""
    birth_date: dt.date | None = None
    gender: str = ""
    species: str = ""
    location_code: str = ""
    country: str = ""  # of a non-US resident
    animal_name: str = ""

    @property
    def is_zero_report(self) -> bool:
        """The placeholder patient of a zero report (6.4)."""
        return (self.last_name, self.first_name) == (ZERO_REPORT_LAST_NAME, ZERO_REPORT_FIRST_NAME)


@dataclass(frozen=True, slots=True, kw_only=True)
class Prescriber:
    """PRE: the prescriber; empty in a zero report."""

    npi: str = ""
    dea: str = ""
    dea_suffix: str = ""
    license: str = ""
    last_name: str = ""
    first_name: str = ""
    middle_name: str = ""
    phone: str = ""
    xdea: str = ""  # largely obsolete since 2023


@dataclass(frozen=True, slots=True, kw_only=True)
class Ingredient:
    """CDI: one ingredient of a compound. The writer numbers them 1, 2, 3 (CDI01) and
    identifies them by NDC (CDI02 = 01)."""

    ndc: str
    quantity: Decimal
    unit: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class AdditionalInfo:
    """AIR: state-specific extras — the official Rx blank's serial number, and who dropped
    off or picked up the prescription."""

    rx_serial_state: str = ""
    rx_serial_number: str = ""
    id_jurisdiction: str = ""
    id_qualifier: str = ""
    id: str = ""
    relationship: str = ""  # two digits: 01 patient, 02 parent/guardian, 03 spouse …
    last_name: str = ""
    first_name: str = ""
    pharmacist_last_name: str = ""
    pharmacist_first_name: str = ""
    drop_off_pick_up: str = ""  # two digits: 01 picking up, 02 dropping off (unverified)


@dataclass(frozen=True, slots=True, kw_only=True)
class Dispensing:
    """DSP with its PRE, CDI and AIR: one fill.

    A reported fill needs its status, Rx number, fill date, fill number, quantity and either
    an 11-digit NDC or compound ingredients (then ``ndc`` is the state's filler, e.g.
    :data:`COMPOUND_PRODUCT_ID`, or empty). DSP07 is not a field: it follows from the
    product (:attr:`product_qualifier`).
    """

    status: str
    rx_number: str
    date_filled: dt.date
    prescriber: Prescriber
    date_written: dt.date | None = None
    refills_authorized: int | None = None
    fill_number: int | None = None  # 0 = original fill
    ndc: str = ""
    quantity: Decimal | None = None
    days_supply: int | None = None
    unit: str = ""
    origin: str = ""
    partial_fill: str = ""  # 00 not partial, 01 first partial, 02 …
    pharmacist_npi: str = ""
    pharmacist_license: str = ""
    payment_type: str = ""
    date_sold: dt.date | None = None
    rxnorm_qualifier: str = ""
    rxnorm_code: str = ""
    erx_reference: str = ""
    erx_order_number: str = ""
    quantity_prescribed: Decimal | None = None  # DSP22, 4.2A and later
    sig: str = ""  # DSP23, 4.2A and later
    treatment_type: str = ""  # DSP24, 4.2A and later
    diagnosis_code: str = ""  # DSP25, 4.2B
    compound: tuple[Ingredient, ...] = ()
    additional: AdditionalInfo | None = None

    @property
    def product_qualifier(self) -> str:
        """DSP07 as the writer writes it: 06 for a compound, 01 for an NDC, else empty."""
        if self.compound:
            return ProductQualifier.COMPOUND
        return ProductQualifier.NDC if self.ndc else ""


@dataclass(frozen=True, slots=True, kw_only=True)
class PatientReport:
    """PAT and the patient's dispensings (at least one)."""

    patient: Patient
    dispensings: tuple[Dispensing, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class PharmacyReport:
    """PHA, its patients (at least one) and, on the wire, its TP trailer."""

    pharmacy: Pharmacy
    patients: tuple[PatientReport, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class AsapFile:
    """One transmission: TH, IS, one or more pharmacies, TT.

    ``created`` (TH05, TH06) is the sender's wall-clock time, written as it stands: pass
    local time. Its time zone and microseconds are not written; the reader returns a naive
    datetime.
    """

    version: str
    control_number: str
    created: dt.datetime
    production: bool
    source: InformationSource
    pharmacies: tuple[PharmacyReport, ...]
    transaction_type: str = TransactionType.SEND
    response_id: str = ""
    routing_number: str = ""  # real-time reporting only


# --------------------------------------------------------------------------------------
# Element positions (6.3), shared by the writer and the reader


class Kind(Enum):
    """How an element's value is written."""

    TEXT = "text"
    CODE = "code"  # one of the codes of ``Element.codes``
    TWO_DIGITS = "two digits"  # a code from a list the reference marks unverified
    DIGITS = "digits"  # exactly ``Element.length`` digits: NPI 10, NDC 11
    DATE = "date"  # CCYYMMDD
    TIME = "time"  # HHMMSS (HHMM read too)
    INTEGER = "integer"
    DECIMAL = "decimal"
    TERMINATOR = "terminator"  # TH09


class Element(NamedTuple):
    """One element: its id (segment id + position), name, the attribute of the segment's
    dataclass it holds (``None`` when the codec fills it: dates split from ``created``, the
    product qualifier, counts), how its value is written, and the first release with it."""

    id: str
    name: str
    attr: str | None = None
    kind: Kind = Kind.TEXT
    codes: type[StrEnum] | None = None
    length: int = 0
    since: AsapVersion = AsapVersion.V4_2

    @property
    def position(self) -> int:
        return int(self.id[-2:])


class SegmentSpec(NamedTuple):
    id: str
    name: str
    elements: tuple[Element, ...]


_C, _D = Kind.CODE, Kind.DATE
_A = AsapVersion.V4_2A

SEGMENTS: dict[str, SegmentSpec] = {
    s.id: s
    for s in (
        SegmentSpec(
            "TH",
            "Transaction Header",
            (
                Element("TH01", "Version/Release Number", "version", _C, AsapVersion),
                Element("TH02", "Transaction Control Number", "control_number"),
                Element("TH03", "Transaction Type", "transaction_type", _C, TransactionType),
                Element("TH04", "Response ID", "response_id"),
                Element("TH05", "Creation Date", None, _D),
                Element("TH06", "Creation Time", None, Kind.TIME),
                Element("TH07", "File Type", None, _C, FileType),
                Element("TH08", "Routing Number", "routing_number"),
                Element("TH09", "Segment Terminator Character", None, Kind.TERMINATOR),
            ),
        ),
        SegmentSpec(
            "IS",
            "Information Source",
            (
                Element("IS01", "Unique Information Source ID", "id"),
                Element("IS02", "Information Source Entity Name", "name"),
                Element("IS03", "Message", "message"),
            ),
        ),
        SegmentSpec(
            "PHA",
            "Pharmacy Header",
            (
                Element(
                    "PHA01", "National Provider Identifier (NPI)", "npi", Kind.DIGITS, None, 10
                ),
                Element("PHA02", "NCPDP/NABP Provider ID", "ncpdp"),
                Element("PHA03", "DEA Number", "dea"),
                Element("PHA04", "Pharmacy Name", "name"),
                Element("PHA05", "Address Information 1", "address1"),
                Element("PHA06", "Address Information 2", "address2"),
                Element("PHA07", "City", "city"),
                Element("PHA08", "State", "state"),
                Element("PHA09", "ZIP Code", "zip"),
                Element("PHA10", "Phone Number", "phone"),
                Element("PHA11", "Contact Name", "contact_name"),
                Element("PHA12", "Chain Site ID", "chain_site_id"),
                Element(
                    "PHA13", "Pharmacy's Permit Number/License Number", "permit_number", since=_A
                ),
            ),
        ),
        SegmentSpec(
            "PAT",
            "Patient Information",
            (
                Element("PAT01", "Jurisdiction Issuing Patient ID", "id_jurisdiction"),
                Element("PAT02", "Patient ID Qualifier", "id_qualifier", Kind.TWO_DIGITS),
                Element("PAT03", "Patient ID", "id"),
                Element(
                    "PAT04", "Additional Patient ID Jurisdiction", "additional_id_jurisdiction"
                ),
                Element(
                    "PAT05",
                    "Additional Patient ID Qualifier",
                    "additional_id_qualifier",
                    Kind.TWO_DIGITS,
                ),
                Element("PAT06", "Additional Patient ID", "additional_id"),
                Element("PAT07", "Last Name", "last_name"),
                Element("PAT08", "First Name", "first_name"),
                Element("PAT09", "Middle Name", "middle_name"),
                Element("PAT10", "Name Prefix", "name_prefix"),
                Element("PAT11", "Name Suffix", "name_suffix"),
                Element("PAT12", "Address Information 1", "address1"),
                Element("PAT13", "Address Information 2", "address2"),
                Element("PAT14", "City", "city"),
                Element("PAT15", "State", "state"),
                Element("PAT16", "ZIP Code", "zip"),
                Element("PAT17", "Phone Number", "phone"),
                Element("PAT18", "Date of Birth", "birth_date", _D),
                Element("PAT19", "Gender Code", "gender", _C, Gender),
                Element("PAT20", "Species Code", "species", _C, Species),
                Element("PAT21", "Patient Location Code", "location_code"),
                Element("PAT22", "Country of Non-US Resident", "country"),
                Element("PAT23", "Name of Animal", "animal_name"),
            ),
        ),
        SegmentSpec(
            "DSP",
            "Dispensing Record",
            (
                Element("DSP01", "Reporting Status", "status", _C, ReportingStatus),
                Element("DSP02", "Prescription Number", "rx_number"),
                Element("DSP03", "Date Written", "date_written", _D),
                Element("DSP04", "Refills Authorized", "refills_authorized", Kind.INTEGER),
                Element("DSP05", "Date Filled", "date_filled", _D),
                Element("DSP06", "Refill Number", "fill_number", Kind.INTEGER),
                Element("DSP07", "Product ID Qualifier", None, _C, ProductQualifier),
                Element("DSP08", "Product ID (NDC)", "ndc", Kind.DIGITS, None, 11),
                Element("DSP09", "Quantity Dispensed", "quantity", Kind.DECIMAL),
                Element("DSP10", "Days Supply", "days_supply", Kind.INTEGER),
                Element("DSP11", "Drug Dosage Units Code", "unit", _C, Unit),
                Element("DSP12", "Transmission Form of Rx Origin Code", "origin", _C, RxOrigin),
                Element("DSP13", "Partial Fill Indicator", "partial_fill", Kind.TWO_DIGITS),
                Element("DSP14", "Pharmacist NPI", "pharmacist_npi", Kind.DIGITS, None, 10),
                Element("DSP15", "Pharmacist State License Number", "pharmacist_license"),
                Element(
                    "DSP16", "Classification Code for Payment Type", "payment_type", _C, PaymentType
                ),
                Element("DSP17", "Date Sold", "date_sold", _D),
                Element("DSP18", "RxNorm Product Qualifier", "rxnorm_qualifier"),
                Element("DSP19", "RxNorm Code", "rxnorm_code"),
                Element("DSP20", "Electronic Prescription Reference Number", "erx_reference"),
                Element("DSP21", "Electronic Prescription Order Number", "erx_order_number"),
                Element(
                    "DSP22", "Quantity Prescribed", "quantity_prescribed", Kind.DECIMAL, since=_A
                ),
                Element("DSP23", "Rx SIG", "sig", since=_A),
                Element("DSP24", "Treatment Type", "treatment_type", since=_A),
                Element("DSP25", "Diagnosis Code", "diagnosis_code", since=AsapVersion.V4_2B),
            ),
        ),
        SegmentSpec(
            "PRE",
            "Prescriber Information",
            (
                Element(
                    "PRE01", "National Provider Identifier (NPI)", "npi", Kind.DIGITS, None, 10
                ),
                Element("PRE02", "DEA Number", "dea"),
                Element("PRE03", "DEA Number Suffix", "dea_suffix"),
                Element("PRE04", "Prescriber State License Number", "license"),
                Element("PRE05", "Last Name", "last_name"),
                Element("PRE06", "First Name", "first_name"),
                Element("PRE07", "Middle Name", "middle_name"),
                Element("PRE08", "Phone Number", "phone"),
                Element("PRE09", "XDEA Number", "xdea"),
            ),
        ),
        SegmentSpec(
            "CDI",
            "Compound Drug Ingredient Detail",
            (
                Element("CDI01", "Compound Drug Ingredient Sequence Number", None, Kind.INTEGER),
                Element("CDI02", "Product ID Qualifier", None, _C, ProductQualifier),
                Element("CDI03", "Product ID (NDC)", "ndc", Kind.DIGITS, None, 11),
                Element("CDI04", "Compound Ingredient Quantity", "quantity", Kind.DECIMAL),
                Element("CDI05", "Compound Drug Dosage Units Code", "unit", _C, Unit),
            ),
        ),
        SegmentSpec(
            "AIR",
            "Additional Information Reporting",
            (
                Element("AIR01", "State Issuing Rx Serial Number", "rx_serial_state"),
                Element("AIR02", "State Issued Rx Serial Number", "rx_serial_number"),
                Element("AIR03", "Jurisdiction Issuing ID", "id_jurisdiction"),
                Element("AIR04", "ID Qualifier of Person", "id_qualifier", Kind.TWO_DIGITS),
                Element("AIR05", "ID of Person", "id"),
                Element(
                    "AIR06", "Relationship of Person to Patient", "relationship", Kind.TWO_DIGITS
                ),
                Element("AIR07", "Last Name of Person", "last_name"),
                Element("AIR08", "First Name of Person", "first_name"),
                Element("AIR09", "Last Name or Initials of Pharmacist", "pharmacist_last_name"),
                Element("AIR10", "First Name of Pharmacist", "pharmacist_first_name"),
                Element(
                    "AIR11",
                    "Dropping Off/Picking Up Identifier Qualifier",
                    "drop_off_pick_up",
                    Kind.TWO_DIGITS,
                ),
            ),
        ),
        SegmentSpec(
            "TP",
            "Pharmacy Trailer",
            (Element("TP01", "Detail Segment Count", None, Kind.INTEGER),),
        ),
        SegmentSpec(
            "TT",
            "Transaction Trailer",
            (
                Element("TT01", "Transaction Control Number", None),
                Element("TT02", "Segment Count", None, Kind.INTEGER),
            ),
        ),
    )
}
"""Segment id -> its name and elements, in position order (the element at index i is
position i + 1)."""

_ELEMENTS: dict[str, Element] = {e.id: e for s in SEGMENTS.values() for e in s.elements}
_SEGMENT_LIST = ", ".join(SEGMENTS)


# --------------------------------------------------------------------------------------
# Values: shared rules for writing and reading


def _fail(element: Element, position: int | None, message: str) -> NoReturn:
    raise AsapError(message, segment=element.id[:-2], element=element.id, position=position)


def _check_chars(
    text: str, element: Element, position: int, sep: str, term: str, hint: str = ""
) -> None:
    """Printable ASCII without the delimiters; ``hint`` ends the message about a delimiter."""
    if text.isascii() and text.isprintable() and sep not in text and term not in text:
        return
    for ch in text:
        if ch == sep:
            _fail(element, position, f"{text[:40]!r} contains the element separator {sep!r}{hint}")
        if ch == term:
            _fail(
                element, position, f"{text[:40]!r} contains the segment terminator {term!r}{hint}"
            )
        if not ch.isascii():
            _fail(element, position, f"{text[:40]!r} contains {ch!r}, which is not plain ASCII")
        if not ch.isprintable():
            _fail(
                element, position, f"{text[:40]!r} contains the control character 0x{ord(ch):02X}"
            )


def _code_list(codes: type[StrEnum]) -> str:
    return ", ".join(f"{c.value} ({c.name.lower().replace('_', ' ')})" for c in codes)


def _is_digits(text: str) -> bool:
    return text.isascii() and text.isdigit()


def _date_text(value: dt.date) -> str:
    return f"{value.year:04d}{value.month:02d}{value.day:02d}"


def _time_text(value: dt.datetime) -> str:
    return f"{value.hour:02d}{value.minute:02d}{value.second:02d}"


def _quantity(value: Decimal, element: Element, position: int | None) -> Decimal:
    """``value`` with trailing zeros dropped; AsapError when it cannot be written exactly."""
    if not value.is_finite():
        _fail(element, position, f"quantity {value} is not a number")
    if value < 0:
        _fail(element, position, f"quantity {value} is negative")
    if value >= _QUANTITY_LIMIT:
        _fail(element, position, f"quantity {value} is too large")
    trimmed = value.normalize(_CONTEXT)
    exponent = trimmed.as_tuple().exponent
    if trimmed != value or (isinstance(exponent, int) and exponent < -_MAX_DECIMALS):
        _fail(element, position, f"quantity {value} has more than {_MAX_DECIMALS} decimal places")
    # normalize() writes 60 as 6E+1; "f" spells it out again without a float.
    return Decimal(format(trimmed, "f")) if value else Decimal(0)


def _format(element: Element, value: object, position: int) -> str:
    """The element's text for ``value``; AsapError naming the element when it is wrong."""
    kind = element.kind
    if kind in (Kind.DATE, Kind.INTEGER, Kind.DECIMAL):
        if value is None:
            return ""
        if kind is Kind.DATE:
            if not isinstance(value, dt.date) or isinstance(value, dt.datetime):
                _fail(element, position, f"must be a date, not {type(value).__name__}")
            return _date_text(value)
        if kind is Kind.INTEGER:
            if not isinstance(value, int) or isinstance(value, bool):
                _fail(element, position, f"must be a whole number, not {type(value).__name__}")
            if not 0 <= value <= _MAX_INTEGER:
                _fail(element, position, f"{value} is not a count from 0 to {_MAX_INTEGER}")
            return str(value)
        if not isinstance(value, Decimal):
            _fail(element, position, f"must be a Decimal, not {type(value).__name__}")
        return format(_quantity(value, element, position), "f")
    if not isinstance(value, str):
        _fail(element, position, f"must be text, not {type(value).__name__}")
    text = str.__str__(value)  # the code itself, also for an enum member
    if not text:
        return ""
    _check_chars(text, element, position, SEPARATOR, TERMINATOR, "; clean the text first")
    _check_code(element, text, position)
    return text


def _check_code(element: Element, text: str, position: int) -> None:
    kind = element.kind
    if kind is Kind.CODE:
        codes = element.codes
        if codes is not None and text not in {c.value for c in codes}:
            _fail(element, position, f"{text!r} is not one of {_code_list(codes)}")
    elif kind is Kind.TWO_DIGITS:
        if not (len(text) == 2 and _is_digits(text)):
            _fail(element, position, f"{text!r} is not a two-digit code")
    elif kind is Kind.DIGITS and not (len(text) == element.length and _is_digits(text)):
        what = "an NDC" if element.length == 11 else "an NPI"
        _fail(element, position, f"{text!r} is not {what} ({element.length} digits, no hyphens)")


_DECIMAL_TEXT = re.compile(r"[0-9]+(?:\.[0-9]+)?")


def _parse(element: Element, text: str, position: int) -> Any:
    """The value of an element's text (characters already checked)."""
    kind = element.kind
    if not text:
        return None if kind in (Kind.DATE, Kind.TIME, Kind.INTEGER, Kind.DECIMAL) else ""
    if kind is Kind.DATE:
        if len(text) == 8 and _is_digits(text):
            try:
                return dt.date(int(text[:4]), int(text[4:6]), int(text[6:]))
            except ValueError:
                pass
        _fail(element, position, f"{text[:40]!r} is not a date (CCYYMMDD)")
    if kind is Kind.TIME:
        if len(text) in (4, 6) and _is_digits(text):
            try:
                return dt.time(int(text[:2]), int(text[2:4]), int(text[4:] or 0))
            except ValueError:
                pass
        _fail(element, position, f"{text[:40]!r} is not a time (HHMMSS or HHMM)")
    if kind is Kind.INTEGER:
        if not _is_digits(text):
            _fail(element, position, f"{text[:40]!r} is not a whole number")
        if len(text.lstrip("0")) > len(str(_MAX_INTEGER)):
            _fail(element, position, f"{text[:40]!r} is too large a count")
        return int(text)
    if kind is Kind.DECIMAL:
        if not _DECIMAL_TEXT.fullmatch(text):
            _fail(element, position, f"{text[:40]!r} is not a quantity (digits, a decimal point)")
        return _quantity(Decimal(text), element, position)
    _check_code(element, text, position)
    if kind is Kind.CODE and element.codes is not None:
        return element.codes(text)
    return text


# --------------------------------------------------------------------------------------
# Required elements: the same checks for the writer and the reader


def _missing(element_id: str, position: int | None, why: str) -> NoReturn:
    raise AsapError(
        f"missing; {why}", segment=element_id[:-2], element=element_id, position=position
    )


def _check_header(control_number: str, transaction_type: str) -> None:
    if not control_number:
        _missing("TH02", 1, "the file needs a control number, unique per file")
    if not transaction_type:
        _missing("TH03", 1, "01 for a report")


def _check_source(source: InformationSource, position: int) -> None:
    if not source.id:
        _missing("IS01", position, "the ID the PMP knows the sender by")
    if not source.name:
        _missing("IS02", position, "the sender's name")


def _check_pharmacy(pharmacy: Pharmacy, position: int) -> None:
    if not (pharmacy.npi or pharmacy.ncpdp or pharmacy.dea):
        _missing(
            "PHA01",
            position,
            "give the pharmacy's NPI (PHA01), NCPDP ID (PHA02) or DEA number (PHA03)",
        )


def _check_patient(patient: Patient, position: int) -> None:
    if not patient.last_name:
        _missing("PAT07", position, "the patient's last name")


def _check_dispensing(dispensing: Dispensing, zero: bool, position: int) -> None:
    if dispensing.date_filled is None:
        _missing("DSP05", position, "the date filled (a zero report's report date)")
    if zero:
        if dispensing.status not in ("", ReportingStatus.NEW):
            raise AsapError(
                f"a zero report's dispensing record has no reporting status (or 00), not "
                f"{str(dispensing.status)!r}",
                segment="DSP",
                element="DSP01",
                position=position,
            )
        return
    why = "every reported dispensing needs it"
    if not dispensing.status:
        _missing("DSP01", position, why)
    if not dispensing.rx_number:
        _missing("DSP02", position, why)
    if dispensing.fill_number is None:
        _missing("DSP06", position, f"{why} (0 for the original fill)")
    if not (dispensing.ndc or dispensing.compound):
        _missing("DSP08", position, "give the NDC, or the compound's ingredients")
    if dispensing.quantity is None:
        _missing("DSP09", position, why)


def _check_prescriber(prescriber: Prescriber, zero: bool, position: int) -> None:
    if not (zero or prescriber.npi or prescriber.dea or prescriber.license):
        _missing(
            "PRE01",
            position,
            "give the prescriber's NPI (PRE01), DEA number (PRE02) or state license (PRE04)",
        )


def _check_ingredient(ingredient: Ingredient, position: int) -> None:
    if not ingredient.ndc:
        _missing("CDI03", position, "every ingredient needs its NDC")
    if ingredient.quantity is None:
        _missing("CDI04", position, "every ingredient needs its quantity")


# --------------------------------------------------------------------------------------
# Writing


_T = TypeVar("_T")


class _Writer:
    def __init__(self, rank: int) -> None:
        self.rank = rank
        self.segments: list[str] = []

    @property
    def next(self) -> int:
        """The position the next segment takes (TH is 1)."""
        return len(self.segments) + 1

    def add(self, segment: str, obj: object, special: dict[str, str] | None = None) -> None:
        position = self.next
        values = []
        for element in SEGMENTS[segment].elements:
            if element.attr is None:
                text = special.get(element.id, "") if special else ""
            else:
                text = _format(element, getattr(obj, element.attr), position)
                if text and _RANK[element.since] > self.rank:
                    _fail(element, position, _too_new(element))
            values.append(text)
        while values and not values[-1]:
            values.pop()
        self.segments.append(SEPARATOR.join((segment, *values)))


def _too_new(element: Element) -> str:
    return f"not part of this file's ASAP version; it came with {element.since}"


def _instance(value: object, cls: type[_T], segment: str, position: int) -> _T:
    if not isinstance(value, cls):
        raise AsapError(
            f"must be {cls.__name__}, not {type(value).__name__}",
            segment=segment,
            position=position,
        )
    return value


def _items(
    value: object, cls: type[_T], segment: str, position: int, what: str, *, empty: bool = False
) -> list[_T]:
    if not isinstance(value, tuple | list):
        raise AsapError(
            f"{what} must be a tuple of {cls.__name__}, not {type(value).__name__}",
            segment=segment,
            position=position,
        )
    if not value and not empty:
        raise AsapError(f"{what} is empty; there must be at least one", segment=segment)
    return [_instance(item, cls, segment, position) for item in value]


def write(file: AsapFile, *, line_breaks: bool = False) -> str:
    """The ASAP text of ``file``: ``*`` between elements, ``~`` after each segment, and
    CR LF after each terminator when ``line_breaks`` (if the state allows it). Raises
    AsapError, and only AsapError, for a value the file cannot carry; nothing is stripped or
    rounded (only ``created``'s microseconds and time zone are not written)."""
    file = _instance(file, AsapFile, "TH", 1)
    version = file.version
    if not isinstance(version, str) or version not in _RANK:
        raise AsapError(
            f"{version!r} is not one of 4.2, 4.2A, 4.2B", segment="TH", element="TH01", position=1
        )
    created = file.created
    if not isinstance(created, dt.datetime):
        raise AsapError(
            f"must be a date and time, not {type(created).__name__}",
            segment="TH",
            element="TH05",
            position=1,
        )
    if not isinstance(file.production, bool):
        raise AsapError(
            "production must be True (P) or False (T)", segment="TH", element="TH07", position=1
        )
    _check_header(file.control_number, file.transaction_type)
    writer = _Writer(_RANK[version])
    writer.add(
        "TH",
        file,
        {
            "TH05": _date_text(created),
            "TH06": _time_text(created),
            "TH07": FileType.PRODUCTION if file.production else FileType.TEST,
            "TH09": TERMINATOR,
        },
    )
    source = _instance(file.source, InformationSource, "IS", 2)
    _check_source(source, 2)
    writer.add("IS", source)
    for report in _items(file.pharmacies, PharmacyReport, "PHA", 3, "pharmacies"):
        first = writer.next
        pharmacy = _instance(report.pharmacy, Pharmacy, "PHA", first)
        _check_pharmacy(pharmacy, first)
        writer.add("PHA", pharmacy)
        _write_patients(writer, report)
        writer.add("TP", None, {"TP01": str(writer.next - first + 1)})
    writer.add("TT", None, {"TT01": file.control_number, "TT02": str(writer.next)})
    end = TERMINATOR + (LINE_BREAK if line_breaks else "")
    return "".join(segment + end for segment in writer.segments)


def _write_patients(writer: _Writer, report: PharmacyReport) -> None:
    for patient_report in _items(report.patients, PatientReport, "PAT", writer.next, "patients"):
        position = writer.next
        patient = _instance(patient_report.patient, Patient, "PAT", position)
        _check_patient(patient, position)
        writer.add("PAT", patient)
        zero = patient.is_zero_report
        dispensings = _items(
            patient_report.dispensings, Dispensing, "DSP", writer.next, "dispensings"
        )
        for dispensing in dispensings:
            position = writer.next
            compound = _items(
                dispensing.compound, Ingredient, "CDI", position + 2, "compound", empty=True
            )
            _check_dispensing(dispensing, zero, position)
            writer.add("DSP", dispensing, {"DSP07": dispensing.product_qualifier})
            prescriber = _instance(dispensing.prescriber, Prescriber, "PRE", writer.next)
            _check_prescriber(prescriber, zero, writer.next)
            writer.add("PRE", prescriber)
            for sequence, ingredient in enumerate(compound, start=1):
                _check_ingredient(ingredient, writer.next)
                writer.add(
                    "CDI", ingredient, {"CDI01": str(sequence), "CDI02": ProductQualifier.NDC}
                )
            if dispensing.additional is not None:
                additional = _instance(dispensing.additional, AdditionalInfo, "AIR", writer.next)
                writer.add("AIR", additional)


def zero_report(
    *,
    source: InformationSource,
    pharmacy: Pharmacy,
    start: dt.date,
    end: dt.date,
    control_number: str,
    created: dt.datetime,
    version: str,
    production: bool = True,
) -> AsapFile:
    """The file that tells the PMP the pharmacy dispensed nothing reportable from ``start``
    through ``end`` (6.4): IS03 ``#start#-#end#``, a patient REPORT ZERO, one dispensing with
    only DSP05 (the report date, ``created``'s date) and an empty PRE. The pharmacy is
    written as given; ``source.message`` is replaced by the period."""
    for name, value in (("start", start), ("end", end)):
        if not isinstance(value, dt.date) or isinstance(value, dt.datetime):
            raise AsapError(
                f"the period's {name} must be a date, not {type(value).__name__}",
                segment="IS",
                element="IS03",
            )
    if end < start:
        raise AsapError(
            f"the period ends ({end.isoformat()}) before it starts ({start.isoformat()})",
            segment="IS",
            element="IS03",
        )
    if not isinstance(created, dt.datetime):
        raise AsapError(
            f"must be a date and time, not {type(created).__name__}", segment="TH", element="TH05"
        )
    source = _instance(source, InformationSource, "IS", 2)
    return AsapFile(
        version=version,
        control_number=control_number,
        created=created,
        production=production,
        source=replace(source, message=f"#{_date_text(start)}#-#{_date_text(end)}#"),
        pharmacies=(
            PharmacyReport(
                pharmacy=pharmacy,
                patients=(
                    PatientReport(
                        patient=Patient(
                            last_name=ZERO_REPORT_LAST_NAME, first_name=ZERO_REPORT_FIRST_NAME
                        ),
                        dispensings=(
                            Dispensing(
                                status="",
                                rx_number="",
                                date_filled=created.date(),
                                prescriber=Prescriber(),
                            ),
                        ),
                    ),
                ),
            ),
        ),
    )


def clean_text(value: str) -> str:
    """``value`` made safe for any text element: upper case, accents dropped ("JOSÉ" ->
    "JOSE"), and every character an ASAP file cannot carry — the delimiters ``*`` and ``~``,
    control characters, other non-ASCII — replaced by a space; runs of spaces become one
    and the ends are trimmed. For names and addresses, before building the file."""
    if not isinstance(value, str):
        raise AsapError(f"clean_text() takes text, not {type(value).__name__}")
    folded = unicodedata.normalize("NFKD", unicodedata.normalize("NFKD", value).upper())
    kept = (
        ch if " " <= ch <= "~" and ch not in (SEPARATOR, TERMINATOR) else " "
        for ch in folded
        if not unicodedata.combining(ch)
    )
    return " ".join("".join(kept).split())


# --------------------------------------------------------------------------------------
# Reading


class _Segment(NamedTuple):
    position: int
    id: str
    values: list[str]


def _usable_delimiter(ch: str) -> bool:
    return ch.isascii() and ch.isprintable() and not ch.isalnum() and ch != " "


def _split_header(text: str) -> tuple[str, str, list[str], str]:
    """The separator, the terminator, TH01-TH09 and the text after the header."""
    if not text.startswith("TH"):
        raise AsapError(
            f"the file starts with {text[:20]!r}; an ASAP file starts with its TH header",
            segment="TH",
            position=1,
        )
    sep = text[2:3]
    if not sep:
        raise AsapError("the file ends after 'TH' (cut short?)", segment="TH", position=1)
    if not _usable_delimiter(sep):
        raise AsapError(
            f"{sep!r} after TH cannot be the element separator (ASAP files use '*')",
            segment="TH",
            position=1,
        )
    at = 2
    for _ in range(8):
        at = text.find(sep, at + 1)
        if at < 0:
            raise AsapError(
                "the header has fewer than 9 elements; TH09 holds the segment terminator "
                "(cut short?)",
                segment="TH",
                element="TH09",
                position=1,
            )
    term = text[at + 1 : at + 2]
    th09 = _ELEMENTS["TH09"]
    if not term:
        _fail(th09, 1, "the file ends where TH09 should hold the segment terminator (cut short?)")
    if text[at + 1 : at + 5] == "\r\n\r\n":  # line-feed terminators saved with CR LF
        return sep, "\n", [*text[3:at].split(sep), "\n"], text[at + 5 :]
    if not (term == "\n" or (_usable_delimiter(term) and term != sep)):
        _fail(th09, 1, f"{term!r} cannot be the segment terminator (ASAP files use '~')")
    if text[at + 2 : at + 3] != term:
        _fail(
            th09,
            1,
            f"must hold the segment terminator alone, then the terminator ends the header "
            f"({term * 2!r}); found {text[at + 1 : at + 4]!r}",
        )
    return sep, term, [*text[3:at].split(sep), term], text[at + 3 :]


def _split_segments(rest: str, sep: str, term: str) -> list[_Segment]:
    pieces = rest.split(term)
    tail = pieces.pop().lstrip("\r\n")
    if term == "\n":  # blank lines at the end of a file whose segments end with LF
        while pieces and not pieces[-1].strip("\r"):
            pieces.pop()
    segments = []
    for position, piece in enumerate(pieces, start=2):
        piece = piece.lstrip("\r\n")
        if term == "\n":
            piece = piece.rstrip("\r")
        if not piece:
            raise AsapError(f"empty segment: two terminators {term!r} in a row", position=position)
        segment, *values = piece.split(sep)
        if segment not in SEGMENTS:
            _unknown_segment(segment, position)
        segments.append(_Segment(position, segment, values))
    if tail:
        _cut_short(tail, sep, term, 2 + len(pieces))
    return segments


def _unknown_segment(segment: str, position: int) -> NoReturn:
    raise AsapError(
        f"unknown segment {segment[:20]!r}; an ASAP file holds {_SEGMENT_LIST}",
        segment=segment[:20],
        position=position,
    )


def _cut_short(tail: str, sep: str, term: str, position: int) -> NoReturn:
    segment, *values = tail.split(sep)
    message = f"the file ends before the segment terminator {term!r} (cut short?)"
    if segment not in SEGMENTS:
        raise AsapError(f"the file ends with {tail[:20]!r}; {message}", position=position)
    element = f"{segment}{len(values):02d}" if values else None
    raise AsapError(message, segment=segment, element=element, position=position)


def _values(segment: _Segment, rank: int, sep: str, term: str) -> dict[str, Any]:
    """Every element of ``segment`` by attribute name (or by element id when the codec
    fills it), empty ones included."""
    elements = SEGMENTS[segment.id].elements
    given = segment.values
    if len(given) > len(elements):
        raise AsapError(
            f"{segment.id} has {len(elements)} elements; this one has {len(given)}",
            segment=segment.id,
            element=f"{segment.id}{len(elements) + 1:02d}",
            position=segment.position,
        )
    out: dict[str, Any] = {}
    for index, element in enumerate(elements):
        text = given[index] if index < len(given) else ""
        if element.kind is Kind.TERMINATOR:
            out[element.id] = text
            continue
        if text:
            _check_chars(text, element, segment.position, sep, term)
            if _RANK[element.since] > rank:
                _fail(element, segment.position, _too_new(element))
        out[element.attr or element.id] = _parse(element, text, segment.position)
    return out


class _Reader:
    def __init__(self, segments: list[_Segment], rank: int, sep: str, term: str) -> None:
        self.segments = segments
        self.rank = rank
        self.sep = sep
        self.term = term
        self.index = 0

    def peek(self) -> str | None:
        return self.segments[self.index].id if self.index < len(self.segments) else None

    def expect(self, segment: str, rule: str) -> _Segment:
        if self.peek() != segment:
            if self.index < len(self.segments):
                found = self.segments[self.index]
                raise AsapError(
                    f"{rule}; found {found.id} ({SEGMENTS[found.id].name})",
                    segment=segment,
                    position=found.position,
                )
            raise AsapError(
                f"{rule}; the file ends here (cut short?)",
                segment=segment,
                position=len(self.segments) + 2,
            )
        self.index += 1
        return self.segments[self.index - 1]

    def values(self, segment: _Segment) -> dict[str, Any]:
        return _values(segment, self.rank, self.sep, self.term)

    def pharmacy(self) -> PharmacyReport:
        pha = self.expect("PHA", "the IS segment or a TP trailer is followed by a PHA")
        pharmacy = Pharmacy(**self.values(pha))
        _check_pharmacy(pharmacy, pha.position)
        patients = [self.patient("a PHA is followed by its first patient, PAT")]
        while self.peek() == "PAT":
            patients.append(self.patient(""))
        tp = self.expect(
            "TP", "after a dispensing's PRE, CDI and AIR comes a DSP, a PAT or the TP trailer"
        )
        count = self.values(tp)["TP01"]
        actual = tp.position - pha.position + 1
        if count is None:
            _missing("TP01", tp.position, f"the pharmacy's segment count ({actual})")
        if count != actual:
            raise AsapError(
                f"says {count} segments, but this pharmacy has {actual} from PHA through TP",
                segment="TP",
                element="TP01",
                position=tp.position,
            )
        return PharmacyReport(pharmacy=pharmacy, patients=tuple(patients))

    def patient(self, rule: str) -> PatientReport:
        pat = self.expect("PAT", rule)
        patient = Patient(**self.values(pat))
        _check_patient(patient, pat.position)
        zero = patient.is_zero_report
        dispensings = [self.dispensing(zero, "a PAT is followed by its first dispensing, DSP")]
        while self.peek() == "DSP":
            dispensings.append(self.dispensing(zero, ""))
        return PatientReport(patient=patient, dispensings=tuple(dispensings))

    def dispensing(self, zero: bool, rule: str) -> Dispensing:
        dsp = self.expect("DSP", rule)
        fields = self.values(dsp)
        qualifier = fields.pop("DSP07")
        pre = self.expect("PRE", "a DSP is followed by its prescriber, PRE")
        prescriber = Prescriber(**self.values(pre))
        compound: list[Ingredient] = []
        while self.peek() == "CDI":
            compound.append(self.ingredient(len(compound) + 1))
        additional = None
        if self.peek() == "AIR":
            additional = AdditionalInfo(**self.values(self.expect("AIR", "")))
        dispensing = Dispensing(
            **fields, prescriber=prescriber, compound=tuple(compound), additional=additional
        )
        _check_dispensing(dispensing, zero, dsp.position)
        _check_prescriber(prescriber, zero, pre.position)
        expected = dispensing.product_qualifier
        if qualifier != expected:
            if qualifier == ProductQualifier.COMPOUND:
                reason = "says compound (06), but no CDI ingredient follows"
            elif expected == ProductQualifier.COMPOUND:
                reason = f"is {str(qualifier)!r}, but CDI ingredients follow; 06 means compound"
            elif qualifier:
                reason = "says NDC (01), but DSP08 holds no NDC"
            else:
                reason = "is empty, but DSP08 holds an NDC; 01 means NDC"
            raise AsapError(reason, segment="DSP", element="DSP07", position=dsp.position)
        return dispensing

    def ingredient(self, sequence: int) -> Ingredient:
        cdi = self.expect("CDI", "")
        fields = self.values(cdi)
        number = fields.pop("CDI01")
        qualifier = fields.pop("CDI02")
        if number != sequence:
            raise AsapError(
                f"ingredient number {number} where {sequence} comes next (1, 2, 3 … per DSP)",
                segment="CDI",
                element="CDI01",
                position=cdi.position,
            )
        if qualifier != ProductQualifier.NDC:
            raise AsapError(
                f"{str(qualifier)!r}; ingredients are identified by NDC (01)",
                segment="CDI",
                element="CDI02",
                position=cdi.position,
            )
        ingredient = Ingredient(**fields)
        _check_ingredient(ingredient, cdi.position)
        return ingredient


def read(text: str) -> AsapFile:
    """Parse an ASAP 4.2/4.2A/4.2B file: the separator is the character after "TH", the
    terminator is TH09; CR/LF after a terminator is skipped. Checks the hierarchy (6.2), every
    element's form, the required elements, and TP01, TT01 and TT02. Raises AsapError, and
    only AsapError, when the text is not a well-formed file."""
    if not isinstance(text, str):
        raise AsapError(f"an ASAP file is read as text, not {type(text).__name__}")
    sep, term, th_values, rest = _split_header(text)
    version = th_values[0]
    if version not in _RANK:
        _fail(_ELEMENTS["TH01"], 1, f"{version[:20]!r} is not one of 4.2, 4.2A, 4.2B")
    rank = _RANK[version]
    header = _values(_Segment(1, "TH", th_values), rank, sep, term)
    _check_header(header["control_number"], header["transaction_type"])
    for element_id in ("TH05", "TH06", "TH07"):
        if header[element_id] in (None, ""):
            _missing(element_id, 1, "the header needs the creation date, time and file type")
    segments = _split_segments(rest, sep, term)
    reader = _Reader(segments, rank, sep, term)
    source_segment = reader.expect("IS", "the TH header is followed by IS")
    source = InformationSource(**reader.values(source_segment))
    _check_source(source, source_segment.position)
    pharmacies = [reader.pharmacy()]
    while reader.peek() == "PHA":
        pharmacies.append(reader.pharmacy())
    tt = reader.expect("TT", "after a TP trailer comes a PHA or the TT trailer")
    if reader.index < len(segments):
        extra = segments[reader.index]
        raise AsapError(
            "nothing may follow the TT trailer", segment=extra.id, position=extra.position
        )
    trailer = reader.values(tt)
    file = AsapFile(
        version=header["version"],
        control_number=header["control_number"],
        created=dt.datetime.combine(header["TH05"], header["TH06"]),
        production=header["TH07"] == FileType.PRODUCTION,
        source=source,
        pharmacies=tuple(pharmacies),
        transaction_type=header["transaction_type"],
        response_id=header["response_id"],
        routing_number=header["routing_number"],
    )
    if trailer["TT01"] != file.control_number:
        raise AsapError(
            f"{trailer['TT01'][:40]!r} does not match the control number "
            f"{file.control_number!r} in TH02",
            segment="TT",
            element="TT01",
            position=tt.position,
        )
    if trailer["TT02"] is None:
        _missing("TT02", tt.position, f"the file's segment count ({tt.position})")
    if trailer["TT02"] != tt.position:
        raise AsapError(
            f"says {trailer['TT02']} segments, but the file has {tt.position} from TH through TT",
            segment="TT",
            element="TT02",
            position=tt.position,
        )
    return file
