"""NCPDP SCRIPT 2017071 e-prescribing messages: a safe parser, checks and reply builders.

What it is for: the e-prescription inbox (issue 5, item 5) hands the raw XML of a posted
message to :func:`parse`, gets back a typed :class:`ScriptMessage` (or a :class:`ScriptError`
naming the element at fault), runs :func:`problems` / :func:`validate` before anything is
matched or stored, and answers with :func:`status`, :func:`error` or
:func:`cancel_rx_response`. :func:`rx_renewal_request` asks a prescriber for more refills.
The module is pure: no Django, no database, no network.

Sources: the team reference ``messages-ncpdp-hl7-fhir.md`` §2 (envelope, header, body
choices, NewRx content in schema order, NCI unit codes, Status/Error/Verify, response types),
``identifiers-labels-math.md`` (NCPDP billing units EA/ML/GM) and ``controlled-substances.md``
(21 CFR 1306 refill limits). The XSD itself is licensed by NCPDP and not used here; element
names are the schema's tag names as the reference gives them. Where the reference marks a
fact "(unverified)" the code says so too.

Safety: the XML is read with defusedxml's parser with every DTD, entity declaration and
external reference refused (so no "billion laughs", no ``file:///etc/passwd``), after a size
limit, and with a depth and element-count limit enforced while the tree is being built.

Element paths in errors are relative to the transaction element, as a technician reading a
rejection needs them, e.g. ``MedicationPrescribed.Quantity.Value``; header fields start with
``Header.``.
"""

from __future__ import annotations

import datetime as dt
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from enum import Enum, StrEnum
from typing import Any, TypeVar

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import DefusedXMLParser
from lxml import etree

# Both are pure (stdlib only): the shared error family and the NPI/DEA check digits.
from rxdesk.core.errors import Invalid
from rxdesk.core.identifiers import dea_problem, npi_problem

__all__ = [
    "MAX_DAYS_SUPPLY",
    "MAX_DEPTH",
    "MAX_ELEMENTS",
    "MAX_MESSAGE_BYTES",
    "MAX_QUANTITY",
    "QUANTITY_UNITS",
    "CancelRx",
    "CancelRxResponse",
    "Code",
    "DeaSchedule",
    "Diagnosis",
    "Endpoint",
    "ErrorReply",
    "Header",
    "Medication",
    "MessageType",
    "Name",
    "NewRx",
    "Patient",
    "PatientIdentifier",
    "Pharmacy",
    "PostalAddress",
    "Prescriber",
    "Quantity",
    "RenewalDecision",
    "RenewalResponse",
    "RxRenewalRequest",
    "RxRenewalResponse",
    "ScriptError",
    "ScriptMessage",
    "ScriptProblem",
    "Sig",
    "StatusReply",
    "Strength",
    "StructuredSig",
    "VerifyReply",
    "cancel_rx_response",
    "error",
    "new_rx",
    "parse",
    "problems",
    "rx_renewal_request",
    "status",
    "validate",
    "verify",
]

# A NewRx is a few kilobytes; 1 MB leaves room for long notes and structured sigs while
# keeping a hostile upload from tying up a worker.
MAX_MESSAGE_BYTES = 1_000_000
# The deepest real path (Message/Body/NewRx/MedicationPrescribed/Sig/Instruction/...) is
# about 10 levels; 40 is generous and stops "deep nesting" attacks early.
MAX_DEPTH = 40
# A NewRx has a few hundred elements at most.
MAX_ELEMENTS = 5_000

# Sanity bounds, not regulations: above them a person must look before anything is filled.
# D.0 Quantity Dispensed (442-E7) carries at most 3 decimals, Days Supply (405-D5) 3 digits,
# Number of Refills Authorized (415-DF) 2 digits.
MAX_QUANTITY = Decimal("10000")
MAX_QUANTITY_DECIMALS = 3
MAX_DAYS_SUPPLY = 365
MAX_REFILLS = 99

# Field lengths from the reference §2.3.
MAX_DRUG_DESCRIPTION = 105
MAX_NOTE = 210
MAX_SIG_TEXT = 1000

_T = TypeVar("_T")

VERSION = "20170715"
_ROOT_ATTRS = (
    "DatatypesVersion",
    "TransportVersion",
    "TransactionDomain",
    "TransactionVersion",
    "StructuresVersion",
    "ECLVersion",
)


class ScriptError(Invalid):
    """A SCRIPT message that cannot be read, is hostile, or breaks a rule.

    ``field`` is the element path at fault (``MedicationPrescribed.Quantity.Value``) or
    ``None`` when the document as a whole is refused. ``header`` is the message header when
    it could be read, so the caller can still answer with an Error (RelatesToMessageID).
    ``problems`` lists every finding when :func:`validate` raised it; ``errors`` (from
    ``Invalid``) carries them in the API's problem+json shape.
    """

    code = "script_invalid"
    title = "The e-prescription message cannot be accepted"

    def __init__(
        self,
        message: str,
        *,
        field: str | None = None,
        header: Header | None = None,
        problems: tuple[ScriptProblem, ...] = (),
    ) -> None:
        errors = [{"field": p.field, "message": p.message} for p in problems] or None
        super().__init__(message, field=field, errors=errors)
        self.header = header
        self.problems = problems


@dataclass(frozen=True)
class ScriptProblem:
    """One validation finding: the element path and a sentence a technician can act on."""

    field: str
    message: str


# ---------------------------------------------------------------------------------------
# Code sets
# ---------------------------------------------------------------------------------------


class MessageType(StrEnum):
    """The Body transaction elements this module reads (reference §2.2)."""

    NEW_RX = "NewRx"
    CANCEL_RX = "CancelRx"
    CANCEL_RX_RESPONSE = "CancelRxResponse"
    RX_RENEWAL_REQUEST = "RxRenewalRequest"
    RX_RENEWAL_RESPONSE = "RxRenewalResponse"
    STATUS = "Status"
    ERROR = "Error"
    VERIFY = "Verify"


class DeaSchedule(Enum):
    """DEA schedule as SCRIPT codes it in DrugCoded/DEASchedule/Code (NCI Thesaurus)."""

    CI = "C48672"
    CII = "C48675"
    CIII = "C48676"
    CIV = "C48677"
    CV = "C48679"
    NOT_CONTROLLED = "C38046"

    @property
    def is_controlled(self) -> bool:
        return self is not DeaSchedule.NOT_CONTROLLED


class RenewalDecision(StrEnum):
    """The choice inside RxRenewalResponse/Response (reference §2.6)."""

    APPROVED = "Approved"
    APPROVED_WITH_CHANGES = "ApprovedWithChanges"
    DENIED = "Denied"
    REPLACE = "Replace"


# NCI QuantityUnitOfMeasure codes (reference §2.4) with the NCPDP billing unit (600-28) each
# maps to. None where the billing unit needs the package: an inhaler canister is billed by
# weight (an 8.5 g HFA inhaler is 8.5 GM, identifiers-labels-math.md), and "unspecified"
# says nothing. Discrete dosage units are EA under the NCPDP Billing Unit Standard.
QUANTITY_UNITS: dict[str, tuple[str, str | None]] = {
    "C48542": ("Tablet", "EA"),
    "C48480": ("Capsule", "EA"),
    "C28254": ("Milliliter", "ML"),
    "C48155": ("Gram", "GM"),
    "C64933": ("Each", "EA"),
    "C38046": ("Unspecified", None),
    "C62412": ("Applicator", "EA"),
    "C54564": ("Blister", "EA"),
    "C64696": ("Caplet", "EA"),
    "C53499": ("Film", "EA"),
    "C69124": ("Gum", "EA"),
    "C48499": ("Implant", "EA"),
    "C62276": ("Insert", "EA"),
    "C48504": ("Kit", "EA"),
    "C120263": ("Lancet", "EA"),
    "C48506": ("Lozenge", "EA"),
    "C48524": ("Patch", "EA"),
    "C120216": ("Pen needle", "EA"),
    "C62609": ("Ring", "EA"),
    "C53502": ("Sponge", "EA"),
    "C53503": ("Stick", "EA"),
    "C48538": ("Strip", "EA"),
    "C48539": ("Suppository", "EA"),
    "C53504": ("Swab", "EA"),
    "C48548": ("Troche", "EA"),
    "C48552": ("Wafer", "EA"),
    "C62413": ("Canister", None),
    "C48521": ("Packet", "EA"),  # (inferred) in the reference
    "C65032": ("Pad", "EA"),  # (inferred) in the reference
}

# RxNorm term types allowed as DrugDBCode/Qualifier (reference §2.3).
RXNORM_QUALIFIERS = frozenset({"SCD", "SBD", "GPK", "BPK", "SGD", "SBG"})
GENDERS = frozenset({"M", "F", "U"})

# ---------------------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Endpoint:
    """Header To/From: the value and its Qualifier (P pharmacy NCPDP ID, D prescriber id,
    M mailbox, ZZZ mutually defined; C and PY are unverified)."""

    qualifier: str
    value: str


@dataclass(frozen=True)
class Header:
    to: Endpoint
    from_: Endpoint
    message_id: str
    sent_time: dt.datetime
    relates_to_message_id: str | None = None
    prescriber_order_number: str | None = None
    rx_reference_number: str | None = None
    test_message: bool = False
    # EPCS: the sender says the message carries a two-factor digital signature (21 CFR 1311).
    digitally_signed: bool = False

    def reply_endpoints(self) -> tuple[Endpoint, Endpoint]:
        """(to, from) for an answer to this message: the sender becomes the receiver."""
        return self.from_, self.to


@dataclass(frozen=True)
class Code:
    """A coded value with its qualifier, e.g. NDC ``(Code, ND)`` or RxNorm ``(Code, SCD)``."""

    code: str
    qualifier: str | None = None


@dataclass(frozen=True)
class Name:
    last: str
    first: str
    middle: str | None = None
    suffix: str | None = None
    prefix: str | None = None


@dataclass(frozen=True)
class PostalAddress:
    line1: str | None = None
    line2: str | None = None
    city: str | None = None
    state: str | None = None
    postal_code: str | None = None
    country: str | None = None


@dataclass(frozen=True)
class PatientIdentifier:
    """One Patient Identification child: ``kind`` is its element name
    (e.g. MedicalRecordIdentificationNumberEHR, SocialSecurity)."""

    kind: str
    value: str


@dataclass(frozen=True)
class Patient:
    name: Name
    gender: str
    date_of_birth: dt.date
    address: PostalAddress | None = None
    phone: str | None = None
    email: str | None = None
    identifiers: tuple[PatientIdentifier, ...] = ()
    # HumanPatient, or NonHumanPatient for a veterinary prescription.
    kind: str = "HumanPatient"


@dataclass(frozen=True)
class Prescriber:
    name: Name
    npi: str | None = None
    dea_number: str | None = None
    state_license_number: str | None = None
    state_control_substance_number: str | None = None
    address: PostalAddress | None = None
    phone: str | None = None
    clinic_name: str | None = None
    # NonVeterinarian or Veterinarian.
    kind: str = "NonVeterinarian"


@dataclass(frozen=True)
class Pharmacy:
    ncpdp_id: str
    npi: str | None = None
    business_name: str | None = None
    address: PostalAddress | None = None
    phone: str | None = None


@dataclass(frozen=True)
class Strength:
    # Text, not Decimal: combination products state strengths like "5-325".
    value: str | None = None
    form_code: str | None = None
    unit_code: str | None = None


@dataclass(frozen=True)
class Quantity:
    value: Decimal
    # 38 original quantity; 40, 87 and QS are unverified in the reference.
    code_list_qualifier: str
    unit_code: str

    @property
    def unit_name(self) -> str | None:
        entry = QUANTITY_UNITS.get(self.unit_code)
        return entry[0] if entry else None

    @property
    def billing_unit(self) -> str | None:
        """The NCPDP billing unit (EA, ML, GM), or None when the unit alone cannot tell."""
        entry = QUANTITY_UNITS.get(self.unit_code)
        return entry[1] if entry else None


@dataclass(frozen=True)
class Diagnosis:
    code: str
    qualifier: str | None  # ABF = ICD-10-CM; LD = SNOMED (unverified)
    description: str | None = None
    primary: bool = True

    @property
    def is_icd10(self) -> bool:
        return self.qualifier == "ABF"


@dataclass(frozen=True)
class StructuredSig:
    """The parts of a structured Sig the pharmacy uses; codes keep their code system."""

    code_system: str | None = None
    dose_delivery_method: str | None = None
    dose_quantity: Decimal | None = None
    dose_unit: str | None = None
    route: str | None = None
    frequency_value: Decimal | None = None
    frequency_unit: str | None = None


@dataclass(frozen=True)
class Sig:
    text: str
    structured: StructuredSig | None = None


@dataclass(frozen=True)
class Medication:
    """MedicationPrescribed (or MedicationDispensed in a renewal request)."""

    drug_description: str
    quantity: Quantity
    written_date: dt.date
    substitutions: int
    sig: Sig
    product_code: Code | None = None
    drug_db_code: Code | None = None
    strength: Strength | None = None
    dea_schedule: DeaSchedule | None = None
    days_supply: int | None = None
    # None when the element is absent; the reference defines 0 as "no refills".
    refills: int | None = None
    diagnoses: tuple[Diagnosis, ...] = ()
    note: str | None = None
    last_fill_date: dt.date | None = None

    @property
    def ndc(self) -> str | None:
        if self.product_code and self.product_code.qualifier == "ND":
            return self.product_code.code
        return None

    @property
    def rxnorm(self) -> str | None:
        if self.drug_db_code and self.drug_db_code.qualifier in RXNORM_QUALIFIERS:
            return self.drug_db_code.code
        return None

    @property
    def daw_code(self) -> int:
        """Substitutions 1 (not allowed by prescriber) is DAW 1; 0 is DAW 0 (reference §2.3)."""
        return self.substitutions

    @property
    def is_controlled(self) -> bool:
        return self.dea_schedule is not None and self.dea_schedule.is_controlled


@dataclass(frozen=True)
class NewRx:
    patient: Patient
    pharmacy: Pharmacy
    prescriber: Prescriber
    medication: Medication
    prohibit_renewal_request: bool = False


@dataclass(frozen=True)
class CancelRx:
    """A prescriber's cancel. The prescription is found by the header's
    PrescriberOrderNumber / RelatesToMessageID / RxReferenceNumber, then patient and drug."""

    patient: Patient
    pharmacy: Pharmacy | None
    prescriber: Prescriber
    medication: Medication


@dataclass(frozen=True)
class CancelRxResponse:
    approved: bool
    note: str | None = None
    reason_code: str | None = None
    reason_text: str | None = None


@dataclass(frozen=True)
class RenewalResponse:
    decision: RenewalDecision
    note: str | None = None
    reason_code: str | None = None
    reason_text: str | None = None


@dataclass(frozen=True)
class RxRenewalResponse:
    response: RenewalResponse
    patient: Patient | None
    pharmacy: Pharmacy | None
    prescriber: Prescriber | None
    # The approved prescription, or the new one for Replace.
    medication: Medication | None


@dataclass(frozen=True)
class RxRenewalRequest:
    patient: Patient
    pharmacy: Pharmacy
    prescriber: Prescriber
    dispensed: Medication
    prescribed: Medication | None = None


@dataclass(frozen=True)
class StatusReply:
    code: str
    description: str | None = None


@dataclass(frozen=True)
class ErrorReply:
    code: str
    description_code: str | None = None
    description: str | None = None

    @property
    def retry(self) -> bool:
        """600 and 602 are worth retrying later; 601 and 900 need a fix (reference §2.5)."""
        return self.code in {"600", "602"}


@dataclass(frozen=True)
class VerifyReply:
    code: str
    description: str | None = None


Body = (
    NewRx
    | CancelRx
    | CancelRxResponse
    | RxRenewalRequest
    | RxRenewalResponse
    | StatusReply
    | ErrorReply
    | VerifyReply
)


@dataclass(frozen=True)
class ScriptMessage:
    message_type: MessageType
    header: Header
    body: Body = field(repr=False)

    @property
    def message_id(self) -> str:
        """The sender's unique id: the key that makes receiving a message idempotent."""
        return self.header.message_id

    @property
    def new_rx(self) -> NewRx:
        return self._expect(NewRx)

    @property
    def cancel_rx(self) -> CancelRx:
        return self._expect(CancelRx)

    @property
    def rx_renewal_response(self) -> RxRenewalResponse:
        return self._expect(RxRenewalResponse)

    def _expect(self, kind: type[_T]) -> _T:
        if not isinstance(self.body, kind):
            raise ScriptError(
                f"This is a {self.message_type.value} message, not a {kind.__name__}.",
                field="Body",
                header=self.header,
            )
        return self.body


# ---------------------------------------------------------------------------------------
# Safe XML reading
# ---------------------------------------------------------------------------------------


class _LimitExceeded(Exception):
    pass


class _Builder(ET.TreeBuilder):
    """Builds the tree without namespaces (senders differ, reference §2.1) and stops at once
    when the document is too deep or too large."""

    def __init__(self) -> None:
        super().__init__()
        self._depth = 0
        self._count = 0

    def start(self, tag: Any, attrs: Any) -> ET.Element:
        self._depth += 1
        self._count += 1
        if self._depth > MAX_DEPTH:
            raise _LimitExceeded(f"is nested deeper than {MAX_DEPTH} levels")
        if self._count > MAX_ELEMENTS:
            raise _LimitExceeded(f"has more than {MAX_ELEMENTS} elements")
        local = {k.rsplit("}", 1)[-1]: v for k, v in attrs.items()}
        return super().start(str(tag).rsplit("}", 1)[-1], local)

    def end(self, tag: Any) -> ET.Element:
        self._depth -= 1
        return super().end(str(tag).rsplit("}", 1)[-1])


def _read_xml(xml: bytes | str) -> ET.Element:
    if isinstance(xml, str):
        try:
            data = xml.encode("utf-8")
        except UnicodeError:
            raise ScriptError("The message is not valid text (UTF-8).") from None
        # The text is already decoded: drop a declared encoding so it is not applied twice.
        data = re.sub(rb"^\s*<\?xml[^>]*\?>", b"", data, count=1)
    elif isinstance(xml, bytes | bytearray):
        data = bytes(xml)
    else:
        raise ScriptError("The message must be XML text or bytes.")
    if len(data) > MAX_MESSAGE_BYTES:
        raise ScriptError(
            f"The message is larger than {MAX_MESSAGE_BYTES:,} bytes; it is refused unread."
        )
    if not data.strip():
        raise ScriptError("The message is empty.")
    parser = DefusedXMLParser(
        target=_Builder(), forbid_dtd=True, forbid_entities=True, forbid_external=True
    )
    try:
        parser.feed(data)
        root: ET.Element = parser.close()
    except _LimitExceeded as exc:
        raise ScriptError(f"The message {exc}; it is refused.") from None
    except DefusedXmlException as exc:
        # DTDForbidden, EntitiesForbidden, ExternalReferenceForbidden: hostile or at best
        # needless in a SCRIPT message, and never resolved.
        raise ScriptError(
            "The message uses a DTD or entity declaration, which is refused "
            f"({type(exc).__name__})."
        ) from None
    except ET.ParseError as exc:
        raise ScriptError(f"The message is not well-formed XML: {exc}.") from None
    except (ValueError, UnicodeError, LookupError) as exc:
        raise ScriptError(f"The message could not be read as XML: {exc}.") from None
    return root


# ---------------------------------------------------------------------------------------
# Element helpers
# ---------------------------------------------------------------------------------------

_DECIMAL_RE = re.compile(r"-?[0-9]{1,12}(?:\.[0-9]{1,6})?", re.ASCII)
_INT_RE = re.compile(r"-?[0-9]{1,6}", re.ASCII)
_DATE_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", re.ASCII)


class _Node:
    """An element together with its path, so every error can name the field."""

    def __init__(self, el: ET.Element, path: str) -> None:
        self.el = el
        self.path = path

    @property
    def name(self) -> str:
        return self.el.tag if isinstance(self.el.tag, str) else ""

    def sub(self, name: str) -> str:
        return f"{self.path}.{name}" if self.path else name

    def child(self, name: str) -> _Node | None:
        for el in self.el:
            if el.tag == name:
                return _Node(el, self.sub(name))
        return None

    def children(self, name: str) -> list[_Node]:
        return [_Node(el, self.sub(name)) for el in self.el if el.tag == name]

    def elements(self) -> list[_Node]:
        return [_Node(el, self.sub(str(el.tag))) for el in self.el if isinstance(el.tag, str)]

    def require(self, name: str) -> _Node:
        node = self.child(name)
        if node is None:
            raise ScriptError(f"The message has no {self.sub(name)}.", field=self.sub(name))
        return node

    def value(self) -> str | None:
        text = (self.el.text or "").strip()
        return text or None

    def text(self, name: str) -> str | None:
        node = self.child(name)
        return node.value() if node else None

    def require_text(self, name: str) -> str:
        node = self.require(name)
        text = node.value()
        if text is None:
            raise ScriptError(f"{node.path} is empty.", field=node.path)
        return text

    def first_descendant(self, name: str) -> _Node | None:
        for el in self.el.iter(name):
            if el is not self.el:
                return _Node(el, f"{self.path}...{name}")
        return None


def _decimal(text: str, path: str) -> Decimal:
    if not _DECIMAL_RE.fullmatch(text):
        raise ScriptError(f"{path} must be a plain number, not {text[:40]!r}.", field=path)
    return Decimal(text)


def _int(text: str, path: str) -> int:
    if not _INT_RE.fullmatch(text):
        raise ScriptError(f"{path} must be a whole number, not {text[:40]!r}.", field=path)
    return int(text)


def _date(text: str, path: str) -> dt.date:
    if not _DATE_RE.fullmatch(text):
        raise ScriptError(f"{path} must be a date like 2025-03-15, not {text[:40]!r}.", field=path)
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise ScriptError(f"{path} is not a real date: {text[:40]!r}.", field=path) from None


def _datetime(text: str, path: str) -> dt.datetime:
    if not _DATE_RE.match(text) or len(text) > 40:
        raise ScriptError(
            f"{path} must be an ISO 8601 date and time, not {text[:40]!r}.", field=path
        )
    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError:
        raise ScriptError(
            f"{path} is not a real date and time: {text[:40]!r}.", field=path
        ) from None
    # SentTime is UTC by the standard; a sender that omits the offset still means UTC.
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def _date_choice(node: _Node) -> dt.date:
    """A SCRIPT date element holds either <Date> or <DateTime>."""
    if (text := node.text("Date")) is not None:
        return _date(text, node.sub("Date"))
    if (text := node.text("DateTime")) is not None:
        return _datetime(text, node.sub("DateTime")).date()
    raise ScriptError(f"{node.path} has neither a Date nor a DateTime.", field=node.path)


def _code(node: _Node | None) -> str | None:
    """The Code inside a coded element, or its own text."""
    if node is None:
        return None
    return node.text("Code") or node.text("Text") or node.value()


# ---------------------------------------------------------------------------------------
# Parsing
# ---------------------------------------------------------------------------------------


def _endpoint(node: _Node) -> Endpoint:
    value = node.value()
    if value is None:
        raise ScriptError(f"{node.path} is empty.", field=node.path)
    qualifier = (node.el.get("Qualifier") or "").strip()
    if not qualifier:
        path = f"{node.path}@Qualifier"
        raise ScriptError(f"{node.path} has no Qualifier.", field=path)
    return Endpoint(qualifier=qualifier, value=value)


def _header(root: _Node) -> Header:
    head = root.require("Header")
    signature = head.child("DigitalSignature")
    indicator = signature.text("DigitalSignatureIndicator") if signature else None
    return Header(
        to=_endpoint(head.require("To")),
        from_=_endpoint(head.require("From")),
        message_id=head.require_text("MessageID"),
        sent_time=_datetime(head.require_text("SentTime"), head.sub("SentTime")),
        relates_to_message_id=head.text("RelatesToMessageID"),
        prescriber_order_number=head.text("PrescriberOrderNumber"),
        rx_reference_number=head.text("RxReferenceNumber"),
        test_message=head.text("TestMessage") in {"1", "true"},
        digitally_signed=(indicator or "").lower() in {"1", "true", "y"},
    )


def _name(node: _Node) -> Name:
    return Name(
        last=node.require_text("LastName"),
        first=node.require_text("FirstName"),
        middle=node.text("MiddleName"),
        suffix=node.text("Suffix"),
        prefix=node.text("Prefix"),
    )


def _address(node: _Node | None) -> PostalAddress | None:
    if node is None:
        return None
    return PostalAddress(
        line1=node.text("AddressLine1"),
        line2=node.text("AddressLine2"),
        city=node.text("City"),
        state=node.text("StateProvince"),
        postal_code=node.text("PostalCode"),
        country=node.text("CountryCode"),
    )


def _phone(node: _Node) -> str | None:
    numbers = node.child("CommunicationNumbers")
    if numbers is None:
        return None
    primary = numbers.child("PrimaryTelephone")
    return primary.text("Number") if primary else None


def _email(node: _Node) -> str | None:
    numbers = node.child("CommunicationNumbers")
    return numbers.text("ElectronicMail") if numbers else None


def _one_of(node: _Node, choices: tuple[str, ...]) -> _Node:
    for choice in choices:
        if (found := node.child(choice)) is not None:
            return found
    path = node.sub(choices[0])
    raise ScriptError(f"{node.path} has no {' or '.join(choices)}.", field=path)


def _patient(body: _Node) -> Patient:
    person = _one_of(body.require("Patient"), ("HumanPatient", "NonHumanPatient"))
    identifiers: list[PatientIdentifier] = []
    if (ident := person.child("Identification")) is not None:
        for item in ident.elements():
            if (text := item.value()) is not None:
                identifiers.append(PatientIdentifier(kind=item.name, value=text))
    return Patient(
        name=_name(person.require("Name")),
        gender=person.require_text("Gender"),
        date_of_birth=_date_choice(person.require("DateOfBirth")),
        address=_address(person.child("Address")),
        phone=_phone(person),
        email=_email(person),
        identifiers=tuple(identifiers),
        kind=person.name,
    )


def _prescriber(body: _Node) -> Prescriber:
    person = _one_of(body.require("Prescriber"), ("NonVeterinarian", "Veterinarian"))
    ident = person.child("Identification")
    location = person.child("PracticeLocation")
    return Prescriber(
        name=_name(person.require("Name")),
        npi=ident.text("NPI") if ident else None,
        dea_number=ident.text("DEANumber") if ident else None,
        state_license_number=ident.text("StateLicenseNumber") if ident else None,
        state_control_substance_number=(
            ident.text("StateControlSubstanceNumber") if ident else None
        ),
        address=_address(person.child("Address")),
        phone=_phone(person),
        clinic_name=location.text("BusinessName") if location else None,
        kind=person.name,
    )


def _pharmacy(node: _Node) -> Pharmacy:
    ident = node.require("Identification")
    return Pharmacy(
        ncpdp_id=ident.require_text("NCPDPID"),
        npi=ident.text("NPI"),
        business_name=node.text("BusinessName"),
        address=_address(node.child("Address")),
        phone=_phone(node),
    )


def _coded(node: _Node | None) -> Code | None:
    if node is None:
        return None
    return Code(code=node.require_text("Code"), qualifier=node.text("Qualifier"))


def _structured_sig(sig: _Node) -> StructuredSig | None:
    # The structured sig nests deeply and its exact layout varies between senders; the
    # elements below are found by name anywhere under Sig (reference §2.3).
    if sig.child("Instruction") is None:
        return None

    def number(name: str) -> Decimal | None:
        found = sig.first_descendant(name)
        text = found.value() if found else None
        return _decimal(text, found.path) if found and text else None

    def coded(name: str) -> str | None:
        return _code(sig.first_descendant(name))

    frequency = sig.first_descendant("Frequency")
    return StructuredSig(
        code_system=_code(sig.child("CodeSystem")),
        dose_delivery_method=coded("DoseDeliveryMethod"),
        dose_quantity=number("DoseQuantity"),
        dose_unit=coded("DoseUnitOfMeasure"),
        route=coded("RouteOfAdministration"),
        frequency_value=number("FrequencyNumericValue") if frequency else None,
        frequency_unit=coded("FrequencyUnits") if frequency else None,
    )


def _medication(med: _Node) -> Medication:
    drug = med.child("DrugCoded")
    strength: Strength | None = None
    schedule: DeaSchedule | None = None
    if drug is not None:
        if (s := drug.child("Strength")) is not None:
            strength = Strength(
                value=s.text("StrengthValue"),
                form_code=_code(s.child("StrengthForm")),
                unit_code=_code(s.child("StrengthUnitOfMeasure")),
            )
        if (dea := drug.child("DEASchedule")) is not None:
            code = dea.require_text("Code")
            try:
                schedule = DeaSchedule(code)
            except ValueError:
                path = dea.sub("Code")
                raise ScriptError(
                    f"{path} {code[:20]!r} is not a DEA schedule code (C48672, C48675, "
                    "C48676, C48677, C48679 or C38046).",
                    field=path,
                ) from None

    qty = med.require("Quantity")
    quantity = Quantity(
        value=_decimal(qty.require_text("Value"), qty.sub("Value")),
        code_list_qualifier=qty.require_text("CodeListQualifier"),
        unit_code=qty.require("QuantityUnitOfMeasure").require_text("Code"),
    )

    subs_text = med.require_text("Substitutions")
    if subs_text not in {"0", "1"}:
        path = med.sub("Substitutions")
        raise ScriptError(
            f"{path} must be 0 (substitution permitted) or 1 (not allowed), not "
            f"{subs_text[:20]!r}.",
            field=path,
        )

    days = med.text("DaysSupply")
    refills = med.text("NumberOfRefills")
    diagnoses: list[Diagnosis] = []
    for diag in med.children("Diagnosis"):
        for part, primary in (("Primary", True), ("Secondary", False)):
            if (node := diag.child(part)) is not None:
                diagnoses.append(
                    Diagnosis(
                        code=node.require_text("Code"),
                        qualifier=node.text("Qualifier"),
                        description=node.text("Description"),
                        primary=primary,
                    )
                )
    sig = med.require("Sig")
    last_fill = med.child("LastFillDate")
    return Medication(
        drug_description=med.require_text("DrugDescription"),
        product_code=_coded(drug.child("ProductCode")) if drug else None,
        drug_db_code=_coded(drug.child("DrugDBCode")) if drug else None,
        strength=strength,
        dea_schedule=schedule,
        quantity=quantity,
        days_supply=_int(days, med.sub("DaysSupply")) if days is not None else None,
        written_date=_date_choice(med.require("WrittenDate")),
        substitutions=int(subs_text),
        refills=_int(refills, med.sub("NumberOfRefills")) if refills is not None else None,
        diagnoses=tuple(diagnoses),
        note=med.text("Note"),
        sig=Sig(text=sig.require_text("SigText"), structured=_structured_sig(sig)),
        last_fill_date=_date_choice(last_fill) if last_fill else None,
    )


def _new_rx(body: _Node) -> NewRx:
    return NewRx(
        patient=_patient(body),
        pharmacy=_pharmacy(body.require("Pharmacy")),
        prescriber=_prescriber(body),
        medication=_medication(body.require("MedicationPrescribed")),
        prohibit_renewal_request=(body.text("ProhibitRenewalRequest") or "").lower()
        in {"true", "1"},
    )


def _cancel_rx(body: _Node) -> CancelRx:
    pharmacy = body.child("Pharmacy")
    return CancelRx(
        patient=_patient(body),
        pharmacy=_pharmacy(pharmacy) if pharmacy else None,
        prescriber=_prescriber(body),
        medication=_medication(body.require("MedicationPrescribed")),
    )


def _cancel_rx_response(body: _Node) -> CancelRxResponse:
    choice = _one_of(body.require("Response"), ("Approved", "Denied"))
    return CancelRxResponse(
        approved=choice.name == "Approved",
        note=choice.text("Note"),
        reason_code=choice.text("ReasonCode"),
        reason_text=choice.text("DenialReason"),
    )


def _rx_renewal_response(body: _Node) -> RxRenewalResponse:
    choice = _one_of(body.require("Response"), tuple(d.value for d in RenewalDecision))
    decision = RenewalDecision(choice.name)
    reason_code = choice.text("ReasonCode")
    if decision is RenewalDecision.DENIED and reason_code is None:
        path = choice.sub("ReasonCode")
        raise ScriptError(f"A denied renewal must give {path}.", field=path)
    medication = body.child("MedicationPrescribed")
    if decision is RenewalDecision.REPLACE and medication is None:
        path = body.sub("MedicationPrescribed")
        raise ScriptError(f"A Replace renewal must carry the new {path}.", field=path)
    pharmacy = body.child("Pharmacy")
    return RxRenewalResponse(
        response=RenewalResponse(
            decision=decision,
            note=choice.text("Note"),
            reason_code=reason_code,
            reason_text=choice.text("DenialReason"),
        ),
        patient=_patient(body) if body.child("Patient") else None,
        pharmacy=_pharmacy(pharmacy) if pharmacy else None,
        prescriber=_prescriber(body) if body.child("Prescriber") else None,
        medication=_medication(medication) if medication else None,
    )


def _rx_renewal_request(body: _Node) -> RxRenewalRequest:
    prescribed = body.child("MedicationPrescribed")
    return RxRenewalRequest(
        patient=_patient(body),
        pharmacy=_pharmacy(body.require("Pharmacy")),
        prescriber=_prescriber(body),
        dispensed=_medication(body.require("MedicationDispensed")),
        prescribed=_medication(prescribed) if prescribed else None,
    )


def _status(body: _Node) -> StatusReply:
    return StatusReply(code=body.require_text("Code"), description=body.text("Description"))


def _error(body: _Node) -> ErrorReply:
    return ErrorReply(
        code=body.require_text("Code"),
        description_code=body.text("DescriptionCode"),
        description=body.text("Description"),
    )


def _verify(body: _Node) -> VerifyReply:
    node = body.require("VerifyStatus")
    return VerifyReply(code=node.require_text("Code"), description=node.text("Description"))


_READERS: dict[MessageType, Callable[[_Node], Body]] = {
    MessageType.NEW_RX: _new_rx,
    MessageType.CANCEL_RX: _cancel_rx,
    MessageType.CANCEL_RX_RESPONSE: _cancel_rx_response,
    MessageType.RX_RENEWAL_REQUEST: _rx_renewal_request,
    MessageType.RX_RENEWAL_RESPONSE: _rx_renewal_response,
    MessageType.STATUS: _status,
    MessageType.ERROR: _error,
    MessageType.VERIFY: _verify,
}

# Answers name the message they answer (reference §2.1, §2.5).
_NEEDS_RELATES_TO = frozenset(
    {
        MessageType.CANCEL_RX_RESPONSE,
        MessageType.RX_RENEWAL_RESPONSE,
        MessageType.STATUS,
        MessageType.ERROR,
        MessageType.VERIFY,
    }
)


def parse(xml: bytes | str) -> ScriptMessage:
    """Read one SCRIPT 2017071 message safely.

    Raises :class:`ScriptError` for anything else: not XML, a DTD or entity, over the size,
    depth or element limits, no Header or Body, a transaction this module does not read,
    a required element missing, or a value of the wrong form. The error carries the
    header when it was readable. Business checks (NPI, DEA, dates, amounts) are
    :func:`problems`' job, so a message can be stored and shown even when it fails them.
    """
    root = _Node(_read_xml(xml), "")
    if root.name != "Message":
        raise ScriptError(
            f"The document is a <{root.name[:40]}>, not a SCRIPT <Message>.", field="Message"
        )
    header = _header(root)
    try:
        body = root.require("Body")
        transactions = body.elements()
        if len(transactions) != 1:
            raise ScriptError(
                f"The Body must hold exactly one transaction; it holds {len(transactions)}.",
                field="Body",
            )
        element = transactions[0]
        try:
            kind = MessageType(element.name)
        except ValueError:
            raise ScriptError(
                f"{element.name[:40]} messages are not accepted here; rxdesk reads "
                + ", ".join(t.value for t in MessageType)
                + ".",
                field="Body",
            ) from None
        if kind in _NEEDS_RELATES_TO and header.relates_to_message_id is None:
            raise ScriptError(
                f"A {kind.value} must name the message it answers in Header.RelatesToMessageID.",
                field="Header.RelatesToMessageID",
            )
        content = _READERS[kind](_Node(element.el, ""))
    except ScriptError as exc:
        exc.header = header
        raise
    return ScriptMessage(message_type=kind, header=header, body=content)


# ---------------------------------------------------------------------------------------
# Validation
# ---------------------------------------------------------------------------------------


def _identifier_problems(
    found: list[ScriptProblem],
    *,
    patient: Patient | None,
    prescriber: Prescriber | None,
    pharmacy: Pharmacy | None,
    today: dt.date,
) -> None:
    if patient is not None:
        base = f"Patient.{patient.kind}"
        if patient.gender not in GENDERS:
            found.append(ScriptProblem(f"{base}.Gender", "Gender must be M, F or U."))
        if patient.date_of_birth > today:
            found.append(
                ScriptProblem(f"{base}.DateOfBirth", "The date of birth is in the future.")
            )
    if prescriber is not None:
        base = f"Prescriber.{prescriber.kind}.Identification"
        if prescriber.npi is None:
            found.append(ScriptProblem(f"{base}.NPI", "The prescriber's NPI is missing."))
        elif (why := npi_problem(prescriber.npi)) is not None:
            found.append(ScriptProblem(f"{base}.NPI", f"Prescriber NPI: {why}"))
        if prescriber.dea_number is not None and (why := dea_problem(prescriber.dea_number)):
            found.append(ScriptProblem(f"{base}.DEANumber", f"Prescriber DEA: {why}"))
    if pharmacy is not None:
        if not re.fullmatch(r"[0-9]{7}", pharmacy.ncpdp_id, re.ASCII):
            found.append(
                ScriptProblem(
                    "Pharmacy.Identification.NCPDPID", "An NCPDP pharmacy ID is 7 digits."
                )
            )
        if pharmacy.npi is not None and (why := npi_problem(pharmacy.npi)):
            found.append(ScriptProblem("Pharmacy.Identification.NPI", f"Pharmacy NPI: {why}"))


def _medication_problems(
    found: list[ScriptProblem],
    med: Medication,
    *,
    base: str,
    prescriber: Prescriber | None,
    today: dt.date,
) -> None:
    def add(path: str, message: str) -> None:
        found.append(ScriptProblem(f"{base}.{path}", message))

    if len(med.drug_description) > MAX_DRUG_DESCRIPTION:
        add("DrugDescription", f"The drug description is over {MAX_DRUG_DESCRIPTION} characters.")
    ndc = med.ndc
    if ndc is not None and not re.fullmatch(r"[0-9]{11}", ndc, re.ASCII):
        add(
            "DrugCoded.ProductCode.Code",
            "An NDC in SCRIPT is 11 digits without hyphens (5-4-2), e.g. 00093505601.",
        )
    value = med.quantity.value
    if value <= 0:
        add("Quantity.Value", "The quantity must be more than zero.")
    elif value > MAX_QUANTITY:
        add("Quantity.Value", f"A quantity over {MAX_QUANTITY} is not plausible; confirm it.")
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and -exponent > MAX_QUANTITY_DECIMALS:
        add("Quantity.Value", "A quantity has at most 3 decimal places.")
    if med.quantity.unit_code not in QUANTITY_UNITS:
        add(
            "Quantity.QuantityUnitOfMeasure.Code",
            f"{med.quantity.unit_code[:20]!r} is not an NCPDP quantity unit code.",
        )
    if med.days_supply is not None and not 1 <= med.days_supply <= MAX_DAYS_SUPPLY:
        add("DaysSupply", f"The days supply must be between 1 and {MAX_DAYS_SUPPLY}.")
    if med.written_date > today:
        add("WrittenDate", "The date written is in the future.")
    if med.refills is not None and not 0 <= med.refills <= MAX_REFILLS:
        add("NumberOfRefills", f"Refills must be between 0 and {MAX_REFILLS}.")
    refills = med.refills or 0
    if med.dea_schedule is DeaSchedule.CII and refills > 0:
        add(
            "NumberOfRefills", "A Schedule II prescription cannot have refills (21 CFR 1306.12(a))."
        )
    if med.dea_schedule in {DeaSchedule.CIII, DeaSchedule.CIV} and refills > 5:
        add(
            "NumberOfRefills",
            "A Schedule III or IV prescription allows at most 5 refills (21 CFR 1306.22(a)).",
        )
    if med.is_controlled and prescriber is not None and prescriber.dea_number is None:
        found.append(
            ScriptProblem(
                f"Prescriber.{prescriber.kind}.Identification.DEANumber",
                "A controlled-substance prescription must carry the prescriber's DEA number "
                "(21 CFR 1306.05(a)).",
            )
        )
    if med.note is not None and len(med.note) > MAX_NOTE:
        add("Note", f"The note is over {MAX_NOTE} characters.")
    if len(med.sig.text) > MAX_SIG_TEXT:
        add("Sig.SigText", f"The directions are over {MAX_SIG_TEXT} characters.")
    for diag in med.diagnoses:
        if diag.is_icd10 and not re.fullmatch(r"[A-Z][0-9][0-9A-Z](\.?[0-9A-Z]{1,4})?", diag.code):
            add(
                f"Diagnosis.{'Primary' if diag.primary else 'Secondary'}.Code",
                f"{diag.code[:20]!r} is not an ICD-10-CM code.",
            )


def problems(message: ScriptMessage, *, today: dt.date) -> list[ScriptProblem]:
    """Every business-rule finding in a NewRx or a renewal response's prescription.

    ``today`` is the pharmacy's local date (a written date after it is refused). Cancels,
    requests and acknowledgements are only read, not judged: a cancel must be honoured even
    when the original prescription had faults.
    """
    found: list[ScriptProblem] = []
    body = message.body
    if isinstance(body, NewRx):
        _identifier_problems(
            found,
            patient=body.patient,
            prescriber=body.prescriber,
            pharmacy=body.pharmacy,
            today=today,
        )
        _medication_problems(
            found,
            body.medication,
            base="MedicationPrescribed",
            prescriber=body.prescriber,
            today=today,
        )
    elif isinstance(body, RxRenewalResponse) and body.medication is not None:
        _identifier_problems(
            found, patient=body.patient, prescriber=body.prescriber, pharmacy=None, today=today
        )
        _medication_problems(
            found,
            body.medication,
            base="MedicationPrescribed",
            prescriber=body.prescriber,
            today=today,
        )
    return found


def validate(message: ScriptMessage, *, today: dt.date) -> None:
    """Raise :class:`ScriptError` (first finding as message, all in ``problems``) if
    :func:`problems` finds anything."""
    found = problems(message, today=today)
    if found:
        first = found[0]
        more = f" (and {len(found) - 1} more)" if len(found) > 1 else ""
        raise ScriptError(
            f"{first.field}: {first.message}{more}",
            field=first.field,
            header=message.header,
            problems=tuple(found),
        )


# ---------------------------------------------------------------------------------------
# Building (lxml)
# ---------------------------------------------------------------------------------------


def _sub(parent: Any, tag: str, text: str | None = None) -> Any:
    el = etree.SubElement(parent, tag)
    if text is not None:
        try:
            el.text = text
        except ValueError:
            raise ScriptError(
                f"{tag} contains characters that cannot go into XML.", field=tag
            ) from None
    return el


def _opt(parent: Any, tag: str, text: str | None) -> None:
    if text is not None:
        _sub(parent, tag, text)


def _time(value: dt.datetime) -> str:
    if value.tzinfo is None:
        raise ScriptError("SentTime must be an aware date and time.", field="Header.SentTime")
    utc = value.astimezone(dt.UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 100000}Z"


def _envelope(
    *,
    to: Endpoint,
    from_: Endpoint,
    message_id: str,
    sent_time: dt.datetime,
    relates_to_message_id: str | None = None,
    rx_reference_number: str | None = None,
    prescriber_order_number: str | None = None,
) -> tuple[Any, Any]:
    if not message_id.strip():
        raise ScriptError("A message needs a MessageID.", field="Header.MessageID")
    root = etree.Element("Message", {name: VERSION for name in _ROOT_ATTRS})
    root.set("TransactionDomain", "SCRIPT")
    head = _sub(root, "Header")
    _sub(head, "To", to.value).set("Qualifier", to.qualifier)
    _sub(head, "From", from_.value).set("Qualifier", from_.qualifier)
    _sub(head, "MessageID", message_id)
    _opt(head, "RelatesToMessageID", relates_to_message_id)
    _sub(head, "SentTime", _time(sent_time))
    _opt(head, "RxReferenceNumber", rx_reference_number)
    _opt(head, "PrescriberOrderNumber", prescriber_order_number)
    return root, _sub(root, "Body")


def _bytes(root: Any) -> bytes:
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))


def _put_name(parent: Any, name: Name) -> None:
    el = _sub(parent, "Name")
    _sub(el, "LastName", name.last)
    _sub(el, "FirstName", name.first)
    _opt(el, "MiddleName", name.middle)
    _opt(el, "Suffix", name.suffix)
    _opt(el, "Prefix", name.prefix)


def _put_address(parent: Any, address: PostalAddress | None) -> None:
    if address is None:
        return
    el = _sub(parent, "Address")
    _opt(el, "AddressLine1", address.line1)
    _opt(el, "AddressLine2", address.line2)
    _opt(el, "City", address.city)
    _opt(el, "StateProvince", address.state)
    _opt(el, "PostalCode", address.postal_code)
    _opt(el, "CountryCode", address.country)


def _put_numbers(parent: Any, phone: str | None, email: str | None = None) -> None:
    if phone is None and email is None:
        return
    el = _sub(parent, "CommunicationNumbers")
    if phone is not None:
        _sub(_sub(el, "PrimaryTelephone"), "Number", phone)
    _opt(el, "ElectronicMail", email)


def _put_patient(body: Any, patient: Patient) -> None:
    person = _sub(_sub(body, "Patient"), patient.kind)
    if patient.identifiers:
        ident = _sub(person, "Identification")
        for item in patient.identifiers:
            _sub(ident, item.kind, item.value)
    _put_name(person, patient.name)
    _sub(person, "Gender", patient.gender)
    _sub(_sub(person, "DateOfBirth"), "Date", patient.date_of_birth.isoformat())
    _put_address(person, patient.address)
    _put_numbers(person, patient.phone, patient.email)


def _put_pharmacy(body: Any, pharmacy: Pharmacy) -> None:
    el = _sub(body, "Pharmacy")
    ident = _sub(el, "Identification")
    _sub(ident, "NCPDPID", pharmacy.ncpdp_id)
    _opt(ident, "NPI", pharmacy.npi)
    _opt(el, "BusinessName", pharmacy.business_name)
    _put_address(el, pharmacy.address)
    _put_numbers(el, pharmacy.phone)


def _put_prescriber(body: Any, prescriber: Prescriber) -> None:
    person = _sub(_sub(body, "Prescriber"), prescriber.kind)
    ident = _sub(person, "Identification")
    _opt(ident, "NPI", prescriber.npi)
    _opt(ident, "DEANumber", prescriber.dea_number)
    _opt(ident, "StateLicenseNumber", prescriber.state_license_number)
    _opt(ident, "StateControlSubstanceNumber", prescriber.state_control_substance_number)
    if prescriber.clinic_name is not None:
        _sub(_sub(person, "PracticeLocation"), "BusinessName", prescriber.clinic_name)
    _put_name(person, prescriber.name)
    _put_address(person, prescriber.address)
    _put_numbers(person, prescriber.phone)


def _put_coded(parent: Any, tag: str, code: Code | None) -> None:
    if code is None:
        return
    el = _sub(parent, tag)
    _sub(el, "Code", code.code)
    _opt(el, "Qualifier", code.qualifier)


def _put_medication(body: Any, tag: str, med: Medication) -> None:
    el = _sub(body, tag)
    _sub(el, "DrugDescription", med.drug_description)
    if med.product_code or med.drug_db_code or med.strength or med.dea_schedule:
        drug = _sub(el, "DrugCoded")
        _put_coded(drug, "ProductCode", med.product_code)
        if (s := med.strength) is not None:
            strength = _sub(drug, "Strength")
            _opt(strength, "StrengthValue", s.value)
            if s.form_code is not None:
                _sub(_sub(strength, "StrengthForm"), "Code", s.form_code)
            if s.unit_code is not None:
                _sub(_sub(strength, "StrengthUnitOfMeasure"), "Code", s.unit_code)
        _put_coded(drug, "DrugDBCode", med.drug_db_code)
        if med.dea_schedule is not None:
            _sub(_sub(drug, "DEASchedule"), "Code", med.dea_schedule.value)
    qty = _sub(el, "Quantity")
    _sub(qty, "Value", format(med.quantity.value, "f"))
    _sub(qty, "CodeListQualifier", med.quantity.code_list_qualifier)
    _sub(_sub(qty, "QuantityUnitOfMeasure"), "Code", med.quantity.unit_code)
    if med.days_supply is not None:
        _sub(el, "DaysSupply", str(med.days_supply))
    _sub(_sub(el, "WrittenDate"), "Date", med.written_date.isoformat())
    if med.last_fill_date is not None:
        _sub(_sub(el, "LastFillDate"), "Date", med.last_fill_date.isoformat())
    _sub(el, "Substitutions", str(med.substitutions))
    if med.refills is not None:
        _sub(el, "NumberOfRefills", str(med.refills))
    primaries = [d for d in med.diagnoses if d.primary]
    secondaries = [d for d in med.diagnoses if not d.primary]
    for index in range(max(len(primaries), len(secondaries))):
        diag = _sub(el, "Diagnosis")
        _sub(diag, "ClinicalInformationQualifier", "1")
        for part, items in (("Primary", primaries), ("Secondary", secondaries)):
            if index < len(items):
                item = _sub(diag, part)
                _sub(item, "Code", items[index].code)
                _opt(item, "Qualifier", items[index].qualifier)
                _opt(item, "Description", items[index].description)
    _opt(el, "Note", med.note)
    _sub(_sub(el, "Sig"), "SigText", med.sig.text)


def new_rx(
    *,
    to: Endpoint,
    from_: Endpoint,
    message_id: str,
    sent_time: dt.datetime,
    patient: Patient,
    pharmacy: Pharmacy,
    prescriber: Prescriber,
    medication: Medication,
    prescriber_order_number: str | None = None,
) -> bytes:
    """A NewRx, for demo data and tests of the inbox (a pharmacy does not send these).
    The structured sig is not written; SigText carries the directions."""
    root, body = _envelope(
        to=to,
        from_=from_,
        message_id=message_id,
        sent_time=sent_time,
        prescriber_order_number=prescriber_order_number,
    )
    tx = _sub(body, "NewRx")
    _put_patient(tx, patient)
    _put_pharmacy(tx, pharmacy)
    _put_prescriber(tx, prescriber)
    _put_medication(tx, "MedicationPrescribed", medication)
    return _bytes(root)


def cancel_rx_response(
    original: ScriptMessage,
    *,
    approved: bool,
    message_id: str,
    sent_time: dt.datetime,
    note: str | None = None,
    reason_code: str | None = None,
    reason_text: str | None = None,
) -> bytes:
    """The pharmacy's answer to a CancelRx: Approved (optionally with a note) or Denied with
    a ReasonCode (e.g. AH patient picked up the prescription, AJ picked up a partial fill).

    The reply goes back to the sender, names the cancel in RelatesToMessageID and echoes
    PrescriberOrderNumber and RxReferenceNumber. Only Response is written: whether the
    2017071 CancelRxResponse must also echo Patient/Prescriber/Medication is unverified.
    """
    if original.message_type is not MessageType.CANCEL_RX:
        raise ScriptError(
            f"A CancelRxResponse answers a CancelRx, not a {original.message_type.value}.",
            field="Body",
        )
    if not approved and not reason_code:
        raise ScriptError(
            "A denied cancel must give a reason code.", field="Response.Denied.ReasonCode"
        )
    head = original.header
    to, from_ = head.reply_endpoints()
    root, body = _envelope(
        to=to,
        from_=from_,
        message_id=message_id,
        sent_time=sent_time,
        relates_to_message_id=head.message_id,
        rx_reference_number=head.rx_reference_number,
        prescriber_order_number=head.prescriber_order_number,
    )
    response = _sub(_sub(body, "CancelRxResponse"), "Response")
    if approved:
        _opt(_sub(response, "Approved"), "Note", note)
    else:
        denied = _sub(response, "Denied")
        _sub(denied, "ReasonCode", reason_code)
        _opt(denied, "DenialReason", reason_text)
    return _bytes(root)


def rx_renewal_request(
    *,
    to: Endpoint,
    message_id: str,
    sent_time: dt.datetime,
    patient: Patient,
    pharmacy: Pharmacy,
    prescriber: Prescriber,
    dispensed: Medication,
    prescribed: Medication | None = None,
    rx_reference_number: str | None = None,
    prescriber_order_number: str | None = None,
    relates_to_message_id: str | None = None,
) -> bytes:
    """Ask the prescriber (``to``, usually Qualifier D with the network id the NewRx came
    from) to renew a prescription that is out of refills. ``dispensed`` is what the
    pharmacy last dispensed (with ``last_fill_date``); the sender is the pharmacy's NCPDP
    ID. ``rx_reference_number`` is the pharmacy's own reference, echoed in the answer."""
    root, body = _envelope(
        to=to,
        from_=Endpoint("P", pharmacy.ncpdp_id),
        message_id=message_id,
        sent_time=sent_time,
        relates_to_message_id=relates_to_message_id,
        rx_reference_number=rx_reference_number,
        prescriber_order_number=prescriber_order_number,
    )
    tx = _sub(body, "RxRenewalRequest")
    _put_patient(tx, patient)
    _put_pharmacy(tx, pharmacy)
    _put_prescriber(tx, prescriber)
    _put_medication(tx, "MedicationDispensed", dispensed)
    if prescribed is not None:
        _put_medication(tx, "MedicationPrescribed", prescribed)
    return _bytes(root)


def _reply(in_reply_to: Header, message_id: str, sent_time: dt.datetime) -> tuple[Any, Any]:
    to, from_ = in_reply_to.reply_endpoints()
    return _envelope(
        to=to,
        from_=from_,
        message_id=message_id,
        sent_time=sent_time,
        relates_to_message_id=in_reply_to.message_id,
    )


def status(
    *,
    in_reply_to: Header,
    message_id: str,
    sent_time: dt.datetime,
    code: str = "010",
    description: str | None = None,
) -> bytes:
    """A positive acknowledgement; 010 = accepted by the ultimate receiver (the pharmacy)."""
    root, body = _reply(in_reply_to, message_id, sent_time)
    el = _sub(body, "Status")
    _sub(el, "Code", code)
    _opt(el, "Description", description)
    return _bytes(root)


def error(
    *,
    in_reply_to: Header,
    message_id: str,
    sent_time: dt.datetime,
    code: str = "900",
    description: str | None = None,
    description_code: str | None = None,
) -> bytes:
    """A rejection. 900 = rejected, do not retry (the default for a bad prescription);
    600/602 ask the sender to retry later; 601 = cannot process, do not retry.
    Older versions limit Description to 70 characters, so it is cut there."""
    root, body = _reply(in_reply_to, message_id, sent_time)
    el = _sub(body, "Error")
    _sub(el, "Code", code)
    _opt(el, "DescriptionCode", description_code)
    _opt(el, "Description", description[:70] if description is not None else None)
    return _bytes(root)


def verify(
    *,
    in_reply_to: Header,
    message_id: str,
    sent_time: dt.datetime,
    code: str = "010",
    description: str | None = None,
) -> bytes:
    """ "Received and accepted by the ultimate receiver" (e.g. after an RxFill)."""
    root, body = _reply(in_reply_to, message_id, sent_time)
    el = _sub(_sub(body, "Verify"), "VerifyStatus")
    _sub(el, "Code", code)
    _opt(el, "Description", description)
    return _bytes(root)
