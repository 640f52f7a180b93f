"""The test payer: a real NCPDP D.0 adjudicator behind a TCP socket, for tests and the demo.

``rxdesk test-payer --port P`` runs it as its own process; rxdesk bills it exactly as it
bills a switch (:mod:`rxdesk.claims.transport`: STX + D.0 + ETX, one exchange per
connection). Nothing here touches Django or the database.

Plans and their rules come from JSON (:func:`load_rules`; :data:`DEFAULT_RULES` when none
is given)::

    {"plans": [{"bin": "610014", "pcn": "TESTPCN", "name": "Test Commercial",
                "copay": {"generic": "5.00", "brand": "25.00"},
                "brand_ndcs": ["00071015523"],
                "ingredient_cost_percent": "90", "dispensing_fee": "1.50",
                "max_days_supply": 34, "prior_auth": ["00003089321"],
                "pa_pattern": "^PA[0-9]{7}$", ...}]}

Every key is described on :class:`PlanRules`; an unknown key or a bad value is refused with
the key named (``plans[0].copay.generic``), so a typo cannot silently switch a rule off.

Adjudication (:meth:`Payer.adjudicate`), one answer per claim of the transmission:

- the plan is found by BIN and PCN; neither matching rejects the whole transmission (header
  status R) with reject 01 (M/I BIN) or 04 (M/I PCN).
- B1: a claim whose key (BIN, PCN, pharmacy, Rx number, fill number, date of service) was
  already paid and not reversed is answered "D" (duplicate of paid) with the original
  pricing and authorization number: a claim is never paid twice. Otherwise the rejects are
  checked in this order, and every failing one is reported: 07 (no cardholder), M/I fields
  (16 Rx number, 17 fill number, 19 days supply, 21 product, E7 quantity, D9 ingredient
  cost), 52 (not a member), 65 (coverage terminated), 25 (prescriber), 41 (bill the primary
  first), 70 (not covered), MR (not on formulary), 76 (plan limits), 75 (prior
  authorization), 79 (refill too soon), 88 (DUR). Any reject: status R.
- Paid: ``pay = ingredient cost submitted x ingredient_cost_percent / 100 + dispensing_fee``
  (ingredient part rounded half-up to the cent); the copay comes from the tier (brand when
  the NDC is in ``brand_ndcs``) or the coinsurance (percent of ``pay`` rounded to the cent,
  within ``min``/``max``), never more than ``pay``. Patient pay F5 = copay, plan paid F9 =
  pay - copay, F6 ingredient paid, F7 fee paid, FI the copay (4U for a coinsurance),
  authorization F3 ``TP`` + 10 digits, message "PAID".
- Coordination of benefits: when the claim says other coverage paid (C8 = 2, or 8 =
  patient responsibility only), the amount left to cover is the last other payer's patient
  responsibility NQ from AM05 (or, without NQ, gross amount due DU - the other payers'
  DV). A secondary plan pays that amount less its own copay, and never more than it would
  pay as primary (pay - copay): patient pay = what it leaves. A copay-card plan
  (``copay_card``) pays that amount down to ``copay_floor``, at most ``card_max`` per
  claim; the patient pays the rest. Both report the other payers' total in J5.
- B2 reverses a paid claim ("A"); a claim already reversed answers "S" (duplicate of
  approved), so a reversal resent after a lost answer is harmless; an unknown claim is
  rejected 84 (claim has not been paid).
- B3 reverses the claim (if paid) and adjudicates the new one as a B1.
- E1: "A" with AM25 (group, cardholder, plan id) and "ELIGIBLE"; rejected 07/52/65.

Fault rules for tests, by cardholder id: ``delay_ms`` (adjudicate and record, then answer
late), ``drop`` (read the request, close without answering; nothing recorded),
``drop_after_paying`` (adjudicate and record, then close without answering, once per
claim; the resubmission gets the duplicate answer).

A request that cannot be read is answered with header status R, the codec's error in the
AM20 message, and (when the header could be read) one group rejected R8 (syntax error).

State (paid and reversed claims, the answers already dropped, the last authorization
number) is kept in memory behind one lock. With ``state=`` a path, every change is also
appended to that file as a JSON line and read back at start, so a payer restarted after an
"outage" still knows what it paid.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import socket
import socketserver
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from pathlib import Path
from typing import Any, TextIO

from rxdesk.claims.ncpdp import (
    FieldValue,
    HeaderStatus,
    NcpdpError,
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
    encode_response,
)
from rxdesk.claims.transport import ETX, MAX_FRAME, STX, frame
from rxdesk.core.identifiers import npi_is_valid

__all__ = [
    "DEFAULT_RULES",
    "DEFAULT_RULES_DOCUMENT",
    "REJECT_MEANINGS",
    "Payer",
    "PayerServer",
    "PlanRules",
    "Reply",
    "Rules",
    "RulesError",
    "load_rules",
    "rules_from_dict",
    "serve",
    "start_server",
]

CENT = Decimal("0.01")
HUNDRED = Decimal(100)
READ_TIMEOUT = 30.0  # seconds a client may take to send its request

# What the payer says for each reject code it sends (reference §1.8).
REJECT_MEANINGS: dict[str, str] = {
    "01": "M/I BIN",
    "04": "M/I PROCESSOR CONTROL NUMBER",
    "07": "M/I CARDHOLDER ID",
    "16": "M/I PRESCRIPTION/SERVICE REFERENCE NUMBER",
    "17": "M/I FILL NUMBER",
    "19": "M/I DAYS SUPPLY",
    "21": "M/I PRODUCT/SERVICE ID",
    "E7": "M/I QUANTITY DISPENSED",
    "D9": "M/I INGREDIENT COST SUBMITTED",
    "25": "M/I PRESCRIBER ID",
    "41": "SUBMIT BILL TO OTHER PROCESSOR OR PRIMARY PAYER",
    "52": "NON-MATCHED CARDHOLDER ID",
    "65": "PATIENT IS NOT COVERED",
    "67": "FILLED BEFORE COVERAGE EFFECTIVE",
    "68": "FILLED AFTER COVERAGE EXPIRED",
    "70": "PRODUCT/SERVICE NOT COVERED",
    "75": "PRIOR AUTHORIZATION REQUIRED",
    "76": "PLAN LIMITATIONS EXCEEDED",
    "79": "REFILL TOO SOON",
    "84": "CLAIM HAS NOT BEEN PAID/CAPTURED",
    "88": "DUR REJECT ERROR",
    "MR": "PRODUCT NOT ON FORMULARY",
    "R8": "SYNTAX ERROR",
    "99": "HOST PROCESSING ERROR",
}

# Submission clarification codes that lift a refill-too-soon (reference §1.11).
_SCC_LIFTS_79 = frozenset({"3", "5"})  # vacation supply, therapy change
# Other coverage codes that mean another payer paid first (reference §1.10).
_OTHER_PAYER_PAID = frozenset({"2", "8"})


# --------------------------------------------------------------------------------------
# Rules


class RulesError(ValueError):
    """A rules document that cannot be used; the message names the key at fault."""


@dataclass(frozen=True)
class PlanRules:
    """One plan the payer adjudicates. JSON keys are the attribute names.

    - ``bin``, ``pcn`` (required; PCN may be ""), ``name``.
    - ``copay``: ``{"generic": "5.00", "brand": "25.00"}`` or ``{"coinsurance_percent":
      "20", "min": "2.00", "max": "50.00"}``; ``brand_ndcs``: NDCs on the brand tier.
    - ``ingredient_cost_percent`` (default 100) and ``dispensing_fee`` (default 0): the price.
    - ``max_days_supply``, ``max_quantity`` (NDC -> quantity): over them, reject 76.
    - ``not_covered`` (70), ``non_formulary`` (MR; ``preferred`` NDC -> NDC named in AM22),
      ``prior_auth`` (75, lifted by a PA number in ``pa_numbers`` or matching
      ``pa_pattern``).
    - ``refill_too_soon_percent`` (79; default 75; 0 switches it off).
    - ``dur_reject`` (NDC -> reason code, 88 unless the claim's DUR/PPS answers it).
    - ``blocked_prescribers`` (25, as a missing or invalid prescriber NPI).
    - ``secondary_only`` (41 unless another payer was billed first), ``copay_card``,
      ``copay_floor``, ``card_max``.
    - ``members`` (null: everyone is a member; else other cardholders get 52),
      ``terminated`` (cardholders whose coverage ended: 65); ``covered_from`` /
      ``covered_to`` (ISO dates: a date of service before the plan year is 67, after it 68).
    - Faults by cardholder: ``delay_ms``, ``drop``, ``drop_after_paying``.
    """

    bin: str
    pcn: str
    name: str = ""
    copay_generic: Decimal = Decimal("0.00")
    copay_brand: Decimal = Decimal("0.00")
    coinsurance_percent: Decimal | None = None
    coinsurance_min: Decimal = Decimal("0.00")
    coinsurance_max: Decimal | None = None
    brand_ndcs: frozenset[str] = frozenset()
    ingredient_cost_percent: Decimal = HUNDRED
    dispensing_fee: Decimal = Decimal("0.00")
    max_days_supply: int | None = None
    max_quantity: dict[str, Decimal] = field(default_factory=dict)
    not_covered: frozenset[str] = frozenset()
    non_formulary: frozenset[str] = frozenset()
    preferred: dict[str, str] = field(default_factory=dict)
    prior_auth: frozenset[str] = frozenset()
    pa_numbers: frozenset[str] = frozenset()
    pa_pattern: re.Pattern[str] | None = None
    refill_too_soon_percent: Decimal = Decimal(75)
    dur_reject: dict[str, str] = field(default_factory=dict)
    blocked_prescribers: frozenset[str] = frozenset()
    secondary_only: bool = False
    copay_card: bool = False
    copay_floor: Decimal = Decimal("0.00")
    card_max: Decimal | None = None
    members: frozenset[str] | None = None
    terminated: frozenset[str] = frozenset()
    covered_from: dt.date | None = None
    covered_to: dt.date | None = None
    delay_ms: dict[str, int] = field(default_factory=dict)
    drop: frozenset[str] = frozenset()
    drop_after_paying: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Rules:
    """The plans of one payer, found by (BIN, PCN)."""

    plans: tuple[PlanRules, ...]

    def plan(self, bin_number: str, pcn: str) -> PlanRules | None:
        for plan in self.plans:
            if plan.bin == bin_number and plan.pcn == pcn:
                return plan
        return None

    def knows_bin(self, bin_number: str) -> bool:
        return any(plan.bin == bin_number for plan in self.plans)


_PLAN_KEYS = frozenset(
    {
        *("bin", "pcn", "name", "copay", "brand_ndcs", "ingredient_cost_percent"),
        *("dispensing_fee", "max_days_supply", "max_quantity", "not_covered"),
        *("non_formulary", "preferred", "prior_auth", "pa_numbers", "pa_pattern"),
        *("refill_too_soon_percent", "dur_reject", "blocked_prescribers", "secondary_only"),
        *("copay_card", "copay_floor", "card_max", "members", "terminated", "delay_ms"),
        *("covered_from", "covered_to"),
        *("drop", "drop_after_paying"),
    }
)
_NDC = re.compile(r"^[0-9]{11}$")


def _decimal(value: object, where: str, *, places: int, what: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
        raise RulesError(f'{where}: {what} is written as text ("5.00"), not {value!r}')
    try:
        number = Decimal(value) if not isinstance(value, Decimal) else value
    except InvalidOperation:
        raise RulesError(f"{where}: {value!r} is not {what}") from None
    if not number.is_finite() or number < 0:
        raise RulesError(f"{where}: {value!r} is not {what} (zero or more)")
    if number != number.quantize(Decimal(1).scaleb(-places)):
        raise RulesError(f"{where}: {value!r} has more than {places} decimal places")
    return number


def _money(value: object, where: str) -> Decimal:
    return _decimal(value, where, places=2, what="an amount of money").quantize(CENT)


def _percent(value: object, where: str) -> Decimal:
    number = _decimal(value, where, places=4, what="a percentage")
    if number > HUNDRED:
        raise RulesError(f"{where}: {value!r} is more than 100 percent")
    return number


def _whole(value: object, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise RulesError(f"{where}: {value!r} is not a whole number (zero or more)")
    return value


def _flag(value: object, where: str) -> bool:
    if not isinstance(value, bool):
        raise RulesError(f"{where}: {value!r} is not true or false")
    return value


def _text(value: object, where: str) -> str:
    if not isinstance(value, str):
        raise RulesError(f"{where}: {value!r} is not text")
    return value


def _strings(value: object, where: str, *, ndc: bool = False) -> frozenset[str]:
    if not isinstance(value, list):
        raise RulesError(f"{where}: a list is expected, not {value!r}")
    out = set()
    for i, item in enumerate(value):
        text = _text(item, f"{where}[{i}]")
        if ndc and not _NDC.match(text):
            raise RulesError(f"{where}[{i}]: {text!r} is not an 11-digit NDC (no dashes)")
        out.add(text)
    return frozenset(out)


def _mapping(value: object, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise RulesError(f"{where}: an object is expected, not {value!r}")
    return value


def _ndc_key(key: str, where: str) -> str:
    if not _NDC.match(key):
        raise RulesError(f"{where}: {key!r} is not an 11-digit NDC (no dashes)")
    return key


def _plan_rules(raw: object, where: str) -> PlanRules:
    data = _mapping(raw, where)
    unknown = sorted(set(data) - _PLAN_KEYS)
    if unknown:
        raise RulesError(f"{where}: unknown key {unknown[0]!r}")
    for required in ("bin", "pcn"):
        if required not in data:
            raise RulesError(f"{where}: {required!r} is required")
    bin_number = _text(data["bin"], f"{where}.bin")
    if not re.fullmatch(r"[0-9]{6}", bin_number):
        raise RulesError(f"{where}.bin: {bin_number!r} is not a 6-digit BIN")
    pcn = _text(data["pcn"], f"{where}.pcn")
    if len(pcn) > 10 or not (pcn.isascii() and pcn.isprintable()) or pcn != pcn.strip():
        raise RulesError(f"{where}.pcn: {pcn!r} is not a PCN (up to 10 characters)")
    kw: dict[str, Any] = {"bin": bin_number, "pcn": pcn}
    kw["name"] = _text(data.get("name", f"{bin_number} {pcn}".strip()), f"{where}.name")
    if "copay" in data:
        copay = _mapping(data["copay"], f"{where}.copay")
        if "coinsurance_percent" in copay:
            extra = sorted(set(copay) - {"coinsurance_percent", "min", "max"})
            if extra:
                raise RulesError(f"{where}.copay: unknown key {extra[0]!r} with a coinsurance")
            kw["coinsurance_percent"] = _percent(
                copay["coinsurance_percent"], f"{where}.copay.coinsurance_percent"
            )
            if "min" in copay:
                kw["coinsurance_min"] = _money(copay["min"], f"{where}.copay.min")
            if "max" in copay:
                kw["coinsurance_max"] = _money(copay["max"], f"{where}.copay.max")
                if kw["coinsurance_max"] < kw.get("coinsurance_min", 0):
                    raise RulesError(f"{where}.copay.max: below the minimum")
        else:
            extra = sorted(set(copay) - {"generic", "brand"})
            if extra:
                raise RulesError(f"{where}.copay: unknown key {extra[0]!r}")
            if "generic" in copay:
                kw["copay_generic"] = _money(copay["generic"], f"{where}.copay.generic")
            kw["copay_brand"] = (
                _money(copay["brand"], f"{where}.copay.brand")
                if "brand" in copay
                else kw.get("copay_generic", Decimal("0.00"))
            )
    for key in ("brand_ndcs", "not_covered", "non_formulary", "prior_auth"):
        if key in data:
            kw[key] = _strings(data[key], f"{where}.{key}", ndc=True)
    for key in ("pa_numbers", "blocked_prescribers", "terminated", "drop", "drop_after_paying"):
        if key in data:
            kw[key] = _strings(data[key], f"{where}.{key}")
    if data.get("members") is not None:
        kw["members"] = _strings(data["members"], f"{where}.members")
    for key in ("covered_from", "covered_to"):
        if data.get(key) is not None:
            text = _text(data[key], f"{where}.{key}")
            try:
                kw[key] = dt.date.fromisoformat(text)
            except ValueError:
                raise RulesError(f"{where}.{key}: {text!r} is not a date (YYYY-MM-DD)") from None
    if "ingredient_cost_percent" in data:
        kw["ingredient_cost_percent"] = _decimal(
            data["ingredient_cost_percent"],
            f"{where}.ingredient_cost_percent",
            places=4,
            what="a percentage",
        )
    for key in ("dispensing_fee", "copay_floor"):
        if key in data:
            kw[key] = _money(data[key], f"{where}.{key}")
    if data.get("card_max") is not None:
        kw["card_max"] = _money(data["card_max"], f"{where}.card_max")
    if data.get("max_days_supply") is not None:
        kw["max_days_supply"] = _whole(data["max_days_supply"], f"{where}.max_days_supply")
    if "refill_too_soon_percent" in data:
        kw["refill_too_soon_percent"] = _percent(
            data["refill_too_soon_percent"], f"{where}.refill_too_soon_percent"
        )
    if "max_quantity" in data:
        limits = _mapping(data["max_quantity"], f"{where}.max_quantity")
        kw["max_quantity"] = {
            _ndc_key(ndc, f"{where}.max_quantity"): _decimal(
                qty, f"{where}.max_quantity.{ndc}", places=3, what="a quantity"
            )
            for ndc, qty in limits.items()
        }
    if "preferred" in data:
        preferred = _mapping(data["preferred"], f"{where}.preferred")
        kw["preferred"] = {
            _ndc_key(ndc, f"{where}.preferred"): _ndc_key(
                _text(alt, f"{where}.preferred.{ndc}"), f"{where}.preferred.{ndc}"
            )
            for ndc, alt in preferred.items()
        }
    if "dur_reject" in data:
        dur = _mapping(data["dur_reject"], f"{where}.dur_reject")
        codes = {}
        for ndc, code in dur.items():
            text = _text(code, f"{where}.dur_reject.{ndc}")
            if not re.fullmatch(r"[A-Z0-9]{2}", text):
                raise RulesError(f"{where}.dur_reject.{ndc}: {text!r} is not a DUR reason code")
            codes[_ndc_key(ndc, f"{where}.dur_reject")] = text
        kw["dur_reject"] = codes
    if data.get("pa_pattern") is not None:
        pattern = _text(data["pa_pattern"], f"{where}.pa_pattern")
        try:
            kw["pa_pattern"] = re.compile(pattern)
        except re.error as error:
            raise RulesError(f"{where}.pa_pattern: not a regular expression ({error})") from None
    if "delay_ms" in data:
        delays = _mapping(data["delay_ms"], f"{where}.delay_ms")
        kw["delay_ms"] = {
            _text(k, f"{where}.delay_ms"): _whole(v, f"{where}.delay_ms.{k}")
            for k, v in delays.items()
        }
    for key in ("secondary_only", "copay_card"):
        if key in data:
            kw[key] = _flag(data[key], f"{where}.{key}")
    return PlanRules(**kw)


def rules_from_dict(data: object) -> Rules:
    """Rules from the parsed JSON document; :class:`RulesError` names the bad key."""
    document = _mapping(data, "rules")
    unknown = sorted(set(document) - {"plans"})
    if unknown:
        raise RulesError(f"rules: unknown key {unknown[0]!r}")
    raw_plans = document.get("plans")
    if not isinstance(raw_plans, list) or not raw_plans:
        raise RulesError("rules.plans: a list of at least one plan is expected")
    plans = tuple(_plan_rules(raw, f"plans[{i}]") for i, raw in enumerate(raw_plans))
    seen: set[tuple[str, str]] = set()
    for i, plan in enumerate(plans):
        if (plan.bin, plan.pcn) in seen:
            raise RulesError(f"plans[{i}]: BIN {plan.bin} PCN {plan.pcn!r} is listed twice")
        seen.add((plan.bin, plan.pcn))
    return Rules(plans)


def load_rules(path: str | Path) -> Rules:
    """Rules from a JSON file. Numbers may be written as text ("5.00") or as JSON numbers
    (read exactly, never as floats)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as error:
        raise RulesError(f"{path}: cannot be read ({error.strerror})") from None
    try:
        data = json.loads(text, parse_float=Decimal)
    except json.JSONDecodeError as error:
        raise RulesError(f"{path}: not JSON ({error})") from None
    return rules_from_dict(data)


# The built-in payer (the demo's, and the one used without --rules): four made-up plans,
# a commercial one with copay tiers, a Part D-like one with coinsurance, a secondary and a
# copay card. The brand and PA NDCs are in the demo catalog: Lipitor 10 mg x 90
# (0071-0155-23) and Eliquis 2.5 mg x 60 (0003-0893-21; a prior authorization on the
# commercial plan, lifted by any PA number shaped PA + 7 digits).
DEFAULT_RULES_DOCUMENT: dict[str, Any] = {
    "plans": [
        {
            "bin": "610014",
            "pcn": "TESTPCN",
            "name": "Test Commercial",
            "copay": {"generic": "5.00", "brand": "25.00"},
            "brand_ndcs": ["00071015523", "00003089321"],
            "ingredient_cost_percent": "90",
            "dispensing_fee": "1.50",
            "max_days_supply": 34,
            "prior_auth": ["00003089321"],
            "pa_pattern": "^PA[0-9]{7}$",
            "refill_too_soon_percent": 75,
        },
        {
            "bin": "004336",
            "pcn": "MEDDPCN",
            "name": "Test Medicare Part D",
            "copay": {"coinsurance_percent": "25", "min": "1.00", "max": "47.00"},
            "ingredient_cost_percent": "95",
            "dispensing_fee": "1.00",
            "max_days_supply": 90,
            "refill_too_soon_percent": 80,
        },
        {
            "bin": "610020",
            "pcn": "SECPCN",
            "name": "Test Secondary",
            "copay": {"generic": "0.00", "brand": "10.00"},
            "brand_ndcs": ["00071015523", "00003089321"],
            "ingredient_cost_percent": "90",
            "dispensing_fee": "1.50",
            "secondary_only": True,
        },
        {
            "bin": "600426",
            "pcn": "CARDPCN",
            "name": "Test Copay Card",
            "copay_card": True,
            "secondary_only": True,
            "copay_floor": "0.00",
            "card_max": "150.00",
        },
    ]
}
DEFAULT_RULES: Rules = rules_from_dict(DEFAULT_RULES_DOCUMENT)


# --------------------------------------------------------------------------------------
# Adjudication

ClaimKey = tuple[str, str, str, str, str, str]


@dataclass
class PaidClaim:
    """A claim the payer paid (and may since have reversed)."""

    key: ClaimKey
    cardholder: str
    ndc: str
    date_of_service: dt.date
    days_supply: int
    quantity: Decimal
    authorization: str
    pricing: tuple[tuple[str, Decimal], ...]
    reversed: bool = False

    def as_json(self) -> dict[str, Any]:
        return {
            "key": list(self.key),
            "cardholder": self.cardholder,
            "ndc": self.ndc,
            "date_of_service": self.date_of_service.isoformat(),
            "days_supply": self.days_supply,
            "quantity": str(self.quantity),
            "authorization": self.authorization,
            "pricing": [[fid, str(amount)] for fid, amount in self.pricing],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PaidClaim:
        key = tuple(str(part) for part in data["key"])
        if len(key) != 6:
            raise ValueError("a claim key has 6 parts")
        return cls(
            key=key,
            cardholder=str(data["cardholder"]),
            ndc=str(data["ndc"]),
            date_of_service=dt.date.fromisoformat(data["date_of_service"]),
            days_supply=int(data["days_supply"]),
            quantity=Decimal(data["quantity"]),
            authorization=str(data["authorization"]),
            pricing=tuple((str(fid), Decimal(amount)) for fid, amount in data["pricing"]),
        )


@dataclass(frozen=True)
class Reply:
    """What the server does with one request: send ``payload`` (None: close without an
    answer) after ``delay`` seconds."""

    payload: bytes | None
    delay: float = 0.0


@dataclass
class _Outcome:
    """One claim's answer while it is being built."""

    status: str
    group: list[Segment]
    message: str
    line: str
    key: ClaimKey | None = None


def _number(value: object) -> str:
    """A numeric id as compared: leading zeros do not make a different Rx or fill."""
    text = str(value).strip() if value is not None else ""
    if text.isascii() and text.isdigit():
        return text.lstrip("0") or "0"
    return text


def _text_of(segment: Segment | None, field_id: str) -> str:
    if segment is None:
        return ""
    value = segment.get(field_id)
    return value.strip() if isinstance(value, str) else ""


def _amount_of(segment: Segment | None, field_id: str) -> Decimal | None:
    value = segment.get(field_id) if segment is not None else None
    return value if isinstance(value, Decimal) else None


def _cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def _money_text(value: Decimal) -> str:
    return f"${value:,.2f}"


def _dur_answers(segment: Segment | None) -> list[dict[str, str]]:
    """The DUR/PPS occurrences of a claim (AM08): each starts at its counter 7E."""
    occurrences: list[dict[str, str]] = []
    if segment is None:
        return occurrences
    for fid, value in segment.fields:
        if fid == "7E" or not occurrences:
            occurrences.append({})
        if fid in ("E4", "E5", "E6") and isinstance(value, str):
            occurrences[-1][fid] = value.strip()
    return occurrences


class Payer:
    """The adjudicator and its memory. Thread-safe: one lock around every adjudication.

    ``log`` receives one line per claim ("B1 Rx 1042-0 paid $4.25 ..."). ``state``: a JSON
    lines file that keeps the memory across restarts (read at start, appended to after
    every change)."""

    def __init__(
        self,
        rules: Rules,
        *,
        state: str | Path | None = None,
        log: Callable[[str], None] | None = None,
    ) -> None:
        self.rules = rules
        self._log = log or (lambda line: None)
        self._lock = threading.Lock()
        self._claims: dict[ClaimKey, PaidClaim] = {}
        self._history: dict[tuple[str, str, str, str], list[PaidClaim]] = {}
        self._dropped: set[tuple[str, ClaimKey]] = set()
        self._last_authorization = 0
        self._journal: TextIO | None = None
        if state is not None:
            path = Path(state)
            if path.exists():
                self._replay(path)
            self._journal = path.open("a", encoding="utf-8")

    def close(self) -> None:
        with self._lock:
            if self._journal is not None:
                self._journal.close()
                self._journal = None

    # -- memory

    def _replay(self, path: Path) -> None:
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                event = json.loads(line)
                if "paid" in event:
                    self._remember(PaidClaim.from_json(event["paid"]))
                elif "reversed" in event:
                    key = tuple(event["reversed"])
                    if key in self._claims:
                        self._claims[key].reversed = True
                elif "dropped" in event:
                    code, key = event["dropped"]
                    self._dropped.add((code, tuple(key)))
            except (ValueError, KeyError, TypeError):
                continue  # a line cut short when the process was killed mid-write

    def _write(self, event: dict[str, Any]) -> None:
        if self._journal is not None:
            self._journal.write(json.dumps(event) + "\n")
            self._journal.flush()

    def _remember(self, claim: PaidClaim) -> None:
        self._claims[claim.key] = claim
        bin_number, pcn = claim.key[0], claim.key[1]
        self._history.setdefault((bin_number, pcn, claim.cardholder, claim.ndc), []).append(claim)
        number = claim.authorization[2:]
        if claim.authorization.startswith("TP") and number.isdigit():
            self._last_authorization = max(self._last_authorization, int(number))

    def paid_claims(self) -> list[PaidClaim]:
        """Every claim paid so far (reversed ones flagged), for tests and reports."""
        with self._lock:
            return list(self._claims.values())

    # -- the wire

    def respond(self, data: bytes) -> Reply:
        """The reply to one request's D.0 bytes, with the plan's fault rules applied."""
        try:
            request = decode_request(data)
        except NcpdpError as error:
            self._log(f"transmission rejected: {error}")
            return Reply(encode_response(_rejected(data, f"TRANSMISSION REJECTED: {error}")))
        try:
            return self._respond(request)
        except Exception as error:  # a bug here must not look like a lost connection
            self._log(f"host processing error: {type(error).__name__}: {error}")
            return Reply(encode_response(_rejected(data, "HOST PROCESSING ERROR", "99")))

    def _respond(self, request: Request) -> Reply:
        header = request.header
        plan = self.rules.plan(header.bin, header.pcn)
        cardholder = _text_of(request.segment(SegmentCode.INSURANCE), "C2")
        if plan is not None and cardholder in plan.drop:
            self._log(f"{header.transaction_code} {_describe(request)} dropped (no answer)")
            return Reply(None)
        with self._lock:
            response, keys = self._adjudicate(request)
            if (
                plan is not None
                and cardholder in plan.drop_after_paying
                and header.transaction_code is not TransactionCode.ELIGIBILITY
            ):
                fresh = [(str(header.transaction_code), k) for k in keys]
                fresh = [d for d in fresh if d not in self._dropped]
                if fresh:
                    for dropped in fresh:
                        self._dropped.add(dropped)
                        self._write({"dropped": [dropped[0], list(dropped[1])]})
                    self._log(
                        f"{header.transaction_code} {_describe(request)} recorded, answer dropped"
                    )
                    return Reply(None)
        delay = plan.delay_ms.get(cardholder, 0) / 1000 if plan is not None else 0.0
        return Reply(encode_response(response), delay)

    def adjudicate(self, request: Request) -> Response:
        """Adjudicate one transmission and remember what it paid or reversed. Fault rules
        (drop, delay) are not applied here; see :meth:`respond`."""
        with self._lock:
            return self._adjudicate(request)[0]

    # -- adjudication

    def _adjudicate(self, request: Request) -> tuple[Response, list[ClaimKey]]:
        header = request.header
        code = TransactionCode(header.transaction_code)
        plan = self.rules.plan(header.bin, header.pcn)
        if plan is None:
            return self._unknown_plan(request), []
        if code is TransactionCode.ELIGIBILITY:
            return self._eligibility(request, plan), []
        outcomes = []
        for transaction in request.transactions:
            if code is TransactionCode.REVERSAL:
                outcome = self._reverse(request, transaction)
            else:
                if code is TransactionCode.REBILL:
                    self._reverse(request, transaction)
                outcome = self._bill(request, transaction, plan)
            self._log(f"{code} {outcome.line}")
            outcomes.append(outcome)
        if len(outcomes) == 1:
            message = outcomes[0].message
        else:
            message = " / ".join(f"CLAIM {n} {o.message}" for n, o in enumerate(outcomes, 1))
        response = Response(
            _response_header(header, len(outcomes), HeaderStatus.ACCEPTED),
            (Segment(SegmentCode.RESPONSE_MESSAGE, (("F4", message),)),),
            tuple(ResponseTransaction(tuple(o.group)) for o in outcomes),
        )
        return response, [o.key for o in outcomes if o.key is not None]

    def _unknown_plan(self, request: Request) -> Response:
        header = request.header
        reject = "04" if self.rules.knows_bin(header.bin) else "01"
        message = "M/I BIN" if reject == "01" else "M/I PCN"
        self._log(
            f"{header.transaction_code} transmission rejected {reject}: BIN {header.bin} "
            f"PCN {header.pcn!r} unknown"
        )
        count = len(request.transactions)
        group = (Segment(SegmentCode.RESPONSE_STATUS, (("AN", "R"), ("FA", "1"), ("FB", reject))),)
        return Response(
            _response_header(header, count, HeaderStatus.REJECTED),
            (Segment(SegmentCode.RESPONSE_MESSAGE, (("F4", message),)),),
            tuple(ResponseTransaction(group) for _ in range(count)),
        )

    def _eligibility(self, request: Request, plan: PlanRules) -> Response:
        header = request.header
        insurance = request.segment(SegmentCode.INSURANCE)
        cardholder = _text_of(insurance, "C2")
        rejects = self._member_rejects(plan, cardholder, header.date_of_service)
        if rejects:
            status_fields: list[tuple[str, str]] = [("AN", "R"), ("FA", str(len(rejects)))]
            status_fields += [("FB", r) for r in rejects]
            message = _reject_message(rejects, "NOT ELIGIBLE")
            self._log(f"E1 cardholder {cardholder or '-'} rejected {' '.join(rejects)}")
        else:
            status_fields = [("AN", "A")]
            message = "ELIGIBLE"
            self._log(f"E1 cardholder {cardholder} eligible ({plan.name})")
        segments = [Segment(SegmentCode.RESPONSE_MESSAGE, (("F4", message),))]
        if not rejects:
            insured: list[tuple[str, str]] = []
            group_id = _text_of(insurance, "C1")
            if group_id:
                insured.append(("C1", group_id))
            insured += [("FO", plan.name[:8]), ("C2", cardholder)]
            segments.append(Segment(SegmentCode.RESPONSE_INSURANCE, tuple(insured)))
        return Response(
            _response_header(header, 1, HeaderStatus.ACCEPTED),
            tuple(segments),
            (ResponseTransaction((Segment(SegmentCode.RESPONSE_STATUS, tuple(status_fields)),)),),
        )

    @staticmethod
    def _member_rejects(plan: PlanRules, cardholder: str, on: dt.date | None = None) -> list[str]:
        if not cardholder:
            return ["07"]
        rejects = []
        if plan.members is not None and cardholder not in plan.members:
            rejects.append("52")
        if cardholder in plan.terminated:
            rejects.append("65")
        if on is not None and plan.covered_from is not None and on < plan.covered_from:
            rejects.append("67")
        if on is not None and plan.covered_to is not None and on > plan.covered_to:
            rejects.append("68")
        return rejects

    def _key(self, header: RequestHeader, claim: Segment | None) -> ClaimKey:
        return (
            header.bin,
            header.pcn,
            header.service_provider_id,
            _number(_text_of(claim, "D2")),
            _number(_text_of(claim, "D3")),
            header.date_of_service.isoformat(),
        )

    def _reverse(self, request: Request, transaction: Transaction) -> _Outcome:
        claim = transaction.segment(SegmentCode.CLAIM)
        key = self._key(request.header, claim)
        label = f"Rx {key[3]}-{key[4]}"
        echo = _claim_echo(claim)
        paid = self._claims.get(key)
        if paid is None:
            status = [("AN", "R"), ("FA", "1"), ("FB", "84")]
            return _Outcome(
                "R", [_status(status), echo], _reject_message(["84"]), f"{label} rejected 84"
            )
        if paid.reversed:
            return _Outcome(
                "S",
                [_status([("AN", "S"), ("F3", paid.authorization)]), echo],
                "CLAIM ALREADY REVERSED",
                f"{label} already reversed",
                key,
            )
        paid.reversed = True
        self._write({"reversed": list(key)})
        return _Outcome(
            "A",
            [_status([("AN", "A"), ("F3", paid.authorization)]), echo],
            "REVERSAL ACCEPTED",
            f"{label} reversed",
            key,
        )

    def _bill(self, request: Request, transaction: Transaction, plan: PlanRules) -> _Outcome:
        header = request.header
        insurance = request.segment(SegmentCode.INSURANCE)
        claim = transaction.segment(SegmentCode.CLAIM)
        key = self._key(header, claim)
        label = f"Rx {key[3]}-{key[4]}"
        echo = _claim_echo(claim)
        existing = self._claims.get(key)
        if existing is not None and not existing.reversed:
            return _Outcome(
                "D",
                [
                    _status([("AN", "D"), ("F3", existing.authorization)]),
                    echo,
                    Segment(SegmentCode.RESPONSE_PRICING, existing.pricing),
                ],
                "DUPLICATE OF PAID CLAIM",
                f"{label} duplicate of paid {existing.authorization}",
                key,
            )
        check = _Checks(self, plan, header, insurance, claim, transaction)
        rejects = check.run()
        if rejects:
            fields: list[tuple[str, str]] = [("AN", "R"), ("FA", str(len(rejects)))]
            fields += [("FB", r) for r in rejects]
            if check.next_fill is not None:
                fields += [("UF", "1"), ("UH", "01"), ("FQ", f"NEXT FILL {check.next_fill:%Y%m%d}")]
            group = [_status(fields), _claim_echo(claim, check.preferred)]
            if check.alerts:
                alert_fields: list[tuple[str, FieldValue]] = []
                for n, alert in enumerate(check.alerts, 1):
                    alert_fields += [("J6", str(n)), *alert]
                group.append(Segment(SegmentCode.RESPONSE_DUR_PPS, tuple(alert_fields)))
            return _Outcome(
                "R", group, _reject_message(rejects), f"{label} rejected {' '.join(rejects)}", key
            )
        pricing, patient_pay, plan_paid = check.price()
        self._last_authorization += 1
        authorization = f"TP{self._last_authorization:010d}"
        paid = PaidClaim(
            key=key,
            cardholder=check.cardholder,
            ndc=check.ndc,
            date_of_service=header.date_of_service,
            days_supply=check.days_supply,
            quantity=check.quantity,
            authorization=authorization,
            pricing=pricing,
        )
        self._remember(paid)
        self._write({"paid": paid.as_json()})
        return _Outcome(
            "P",
            [
                _status([("AN", "P"), ("F3", authorization)]),
                echo,
                Segment(SegmentCode.RESPONSE_PRICING, pricing),
            ],
            "PAID",
            f"{label} paid {_money_text(plan_paid)} patient pays {_money_text(patient_pay)} "
            f"auth {authorization}",
            key,
        )


class _Checks:
    """The reject checks and the pricing of one claim."""

    def __init__(
        self,
        payer: Payer,
        plan: PlanRules,
        header: RequestHeader,
        insurance: Segment | None,
        claim: Segment | None,
        transaction: Transaction,
    ) -> None:
        self.payer = payer
        self.plan = plan
        self.header = header
        self.claim = claim
        self.cardholder = _text_of(insurance, "C2")
        self.ndc = _text_of(claim, "D7")
        self.prescriber = transaction.segment(SegmentCode.PRESCRIBER)
        self.cob = transaction.segment(SegmentCode.COORDINATION_OF_BENEFITS)
        self.dur = transaction.segment(SegmentCode.DUR_PPS)
        self.pricing = transaction.segment(SegmentCode.PRICING)
        days = _text_of(claim, "D5")
        self.days_supply = int(days) if days.isascii() and days.isdigit() else -1
        quantity = _amount_of(claim, "E7")
        self.quantity = quantity if quantity is not None else Decimal(-1)
        self.next_fill: dt.date | None = None
        self.alerts: list[list[tuple[str, FieldValue]]] = []
        self.preferred: str | None = None

    def run(self) -> list[str]:
        plan, claim, rejects = self.plan, self.claim, []
        if not self.cardholder:
            rejects.append("07")
        rx, fill = _text_of(claim, "D2"), _text_of(claim, "D3")
        if not (rx.isascii() and rx.isdigit()):
            rejects.append("16")
        if not (fill.isascii() and fill.isdigit() and int(fill) <= 99):
            rejects.append("17")
        if self.days_supply <= 0:
            rejects.append("19")
        if not _NDC.match(self.ndc):
            rejects.append("21")
        if self.quantity <= 0:
            rejects.append("E7")
        if _amount_of(self.pricing, "D9") is None and not plan.copay_card:
            rejects.append("D9")
        if self.cardholder:
            rejects += [
                r
                for r in Payer._member_rejects(plan, self.cardholder, self.header.date_of_service)
                if r != "07"
            ]
        npi = _text_of(self.prescriber, "DB")
        if not npi or npi in plan.blocked_prescribers or not npi_is_valid(npi):
            rejects.append("25")
        if plan.secondary_only and self.other_coverage in (None, 0, 1):
            rejects.append("41")
        if self.ndc in plan.not_covered:
            rejects.append("70")
        if self.ndc in plan.non_formulary:
            rejects.append("MR")
            self.preferred = plan.preferred.get(self.ndc)
        limit = plan.max_quantity.get(self.ndc)
        if (plan.max_days_supply is not None and self.days_supply > plan.max_days_supply) or (
            limit is not None and self.quantity > limit
        ):
            rejects.append("76")
        if self.ndc in plan.prior_auth and not self._pa_on_file():
            rejects.append("75")
        if self._too_soon():
            rejects.append("79")
        code = plan.dur_reject.get(self.ndc)
        if code is not None and not any(
            answer.get("E4") == code and answer.get("E5") and answer.get("E6")
            for answer in _dur_answers(self.dur)
        ):
            rejects.append("88")
            self.alerts.append([("E4", code), ("FS", "1")])
        return rejects

    @property
    def other_coverage(self) -> int | None:
        text = _text_of(self.claim, "C8")
        return int(text) if text.isascii() and text.isdigit() else None

    def _pa_on_file(self) -> bool:
        number = _text_of(self.claim, "EV")
        if not number:
            return False
        pattern = self.plan.pa_pattern
        return number in self.plan.pa_numbers or bool(pattern and pattern.fullmatch(number))

    def _too_soon(self) -> bool:
        percent = self.plan.refill_too_soon_percent
        if not percent or self.days_supply <= 0:
            return False
        clarifications = self.claim.get_all("DK") if self.claim is not None else ()
        if _SCC_LIFTS_79 & {_number(v) for v in clarifications}:
            return False
        dos = self.header.date_of_service
        history = self.payer._history.get(
            (self.header.bin, self.header.pcn, self.cardholder, self.ndc), []
        )
        latest: PaidClaim | None = None
        next_fill: dt.date | None = None
        for prior in history:
            if prior.reversed or prior.date_of_service > dos:
                continue
            # Whole days: 30 days at 75% = 22 days (22.5 rounded down).
            days = int(Decimal(prior.days_supply) * percent / HUNDRED)
            candidate = prior.date_of_service + dt.timedelta(days=days)
            if next_fill is None or candidate > next_fill:
                next_fill, latest = candidate, prior
        if next_fill is None or latest is None or next_fill <= dos:
            return False
        self.next_fill = next_fill
        self.alerts.append(
            [
                ("E4", "ER"),
                ("FS", "1"),
                ("FU", f"{latest.date_of_service:%Y%m%d}"),
                ("FV", latest.quantity),
            ]
        )
        return True

    def price(self) -> tuple[tuple[tuple[str, Decimal], ...], Decimal, Decimal]:
        """The Response Pricing fields, the patient pay and the plan paid."""
        plan = self.plan
        other_paid = sum(
            (v for v in (self.cob.get_all("DV") if self.cob else ()) if isinstance(v, Decimal)),
            Decimal("0.00"),
        )
        if plan.copay_card:
            owed = self._responsibility(other_paid)
            paid = max(owed - plan.copay_floor, Decimal("0.00"))
            if plan.card_max is not None:
                paid = min(paid, plan.card_max)
            patient = owed - paid
            fields: list[tuple[str, Decimal]] = [("F5", patient), ("F9", paid)]
            if self.cob is not None:
                fields.append(("J5", other_paid))
            return tuple(fields), patient, paid
        ingredient = _cents(
            (_amount_of(self.pricing, "D9") or Decimal(0)) * plan.ingredient_cost_percent / HUNDRED
        )
        fee = plan.dispensing_fee
        pay = ingredient + fee
        if plan.coinsurance_percent is not None:
            share = _cents(pay * plan.coinsurance_percent / HUNDRED)
            share = max(share, plan.coinsurance_min)
            if plan.coinsurance_max is not None:
                share = min(share, plan.coinsurance_max)
        else:
            share = plan.copay_brand if self.ndc in plan.brand_ndcs else plan.copay_generic
        share = min(share, pay)
        patient, paid = share, pay - share
        if self.other_coverage is not None and self.other_coverage in (2, 8):
            owed = self._responsibility(other_paid)
            paid = min(owed - min(share, owed), pay - share)
            patient = owed - paid
        fields = [("F5", patient), ("F6", ingredient), ("F7", fee)]
        fields.append(("4U" if plan.coinsurance_percent is not None else "FI", share))
        fields.append(("F9", paid))
        if self.cob is not None:
            fields.append(("J5", other_paid))
        return tuple(fields), patient, paid

    def _responsibility(self, other_paid: Decimal) -> Decimal:
        """What the other payers left to the patient: the last NQ of AM05, else the gross
        amount due (else ingredient cost + fee submitted) less what they paid."""
        owed = [v for v in (self.cob.get_all("NQ") if self.cob else ()) if isinstance(v, Decimal)]
        if owed:
            return max(owed[-1], Decimal("0.00"))
        gross = _amount_of(self.pricing, "DU")
        if gross is None:
            gross = (_amount_of(self.pricing, "D9") or Decimal(0)) + (
                _amount_of(self.pricing, "DC") or Decimal(0)
            )
        return max(gross - other_paid, Decimal("0.00"))


def _status(fields: Iterable[tuple[str, str]]) -> Segment:
    return Segment(SegmentCode.RESPONSE_STATUS, tuple(fields))


def _claim_echo(claim: Segment | None, preferred: str | None = None) -> Segment:
    fields: list[tuple[str, str]] = [("EM", _text_of(claim, "EM") or "1")]
    rx = _text_of(claim, "D2")
    if rx:
        fields.append(("D2", rx))
    if preferred:
        fields += [("9F", "1"), ("AP", "03"), ("AR", preferred)]
    return Segment(SegmentCode.RESPONSE_CLAIM, tuple(fields))


def _reject_message(rejects: list[str], lead: str = "REJECTED") -> str:
    return f"{lead}: " + "; ".join(f"{r} {REJECT_MEANINGS.get(r, '')}".strip() for r in rejects)


def _response_header(header: RequestHeader, count: int, status: HeaderStatus) -> ResponseHeader:
    return ResponseHeader(
        transaction_code=header.transaction_code,
        transaction_count=count,
        status=status,
        service_provider_id=header.service_provider_id,
        service_provider_id_qualifier=header.service_provider_id_qualifier,
        date_of_service=header.date_of_service,
    )


def _describe(request: Request) -> str:
    parts = []
    for transaction in request.transactions:
        claim = transaction.segment(SegmentCode.CLAIM)
        if claim is not None:
            parts.append(f"Rx {_number(_text_of(claim, 'D2'))}-{_number(_text_of(claim, 'D3'))}")
    cardholder = _text_of(request.segment(SegmentCode.INSURANCE), "C2")
    return ", ".join(parts) or f"cardholder {cardholder or '-'}"


def _printable(text: str, limit: int = 200) -> str:
    return "".join(ch if " " <= ch <= "~" else "?" for ch in text)[:limit]


def _rejected(data: bytes, text: str, reject: str = "R8") -> Response:
    """The answer to a request that could not be handled (R8: the codec could not read it;
    99: the payer failed): transmission rejected, ``text`` in the message and, when the
    header can be read, one group with the reject code."""
    head = data[:56].decode("latin-1")
    code: TransactionCode | None = None
    dos: dt.date | None = None
    if len(head) == 56 and head.isascii() and head.isprintable() and head[6:8] == "D0":
        try:
            code = TransactionCode(head[8:10])
            dos = dt.datetime.strptime(head[38:46], "%Y%m%d").date()
        except ValueError:
            code = None
    message = _printable(text)
    if code is None or dos is None:
        return Response(
            ResponseHeader(
                transaction_code=TransactionCode.BILLING,
                transaction_count=1,
                status=HeaderStatus.REJECTED,
                service_provider_id="",
                date_of_service=dt.date.today(),
            ),
            (Segment(SegmentCode.RESPONSE_MESSAGE, (("F4", message),)),),
        )
    count = int(head[20]) if head[20] in "1234" and code is not TransactionCode.ELIGIBILITY else 1
    return Response(
        ResponseHeader(
            transaction_code=code,
            transaction_count=count,
            status=HeaderStatus.REJECTED,
            service_provider_id_qualifier=head[21:23].rstrip(" "),
            service_provider_id=head[23:38].rstrip(" "),
            date_of_service=dos,
        ),
        (Segment(SegmentCode.RESPONSE_MESSAGE, (("F4", message),)),),
        (ResponseTransaction((_status([("AN", "R"), ("FA", "1"), ("FB", reject)]),)),),
    )


# --------------------------------------------------------------------------------------
# The server


def _read_frame(sock: socket.socket) -> bytes | None:
    """One framed request, or None when the client sent something else (no STX first, a
    frame over 64 KiB, a second STX) or closed early: such a client gets no answer."""
    buffer = bytearray()
    while True:
        chunk = sock.recv(16 * 1024)
        if not chunk:
            return None
        if not buffer and chunk[0] != STX:
            return None
        start = len(buffer)
        buffer += chunk
        end = buffer.find(ETX, max(start, 1))
        if end < 0:
            if len(buffer) > MAX_FRAME + 1:
                return None
            continue
        payload = bytes(buffer[1:end])
        if len(payload) > MAX_FRAME or STX in payload:
            return None
        return payload


class _Handler(socketserver.BaseRequestHandler):
    server: PayerServer

    def handle(self) -> None:
        sock: socket.socket = self.request
        sock.settimeout(READ_TIMEOUT)
        try:
            data = _read_frame(sock)
        except OSError:
            return
        if data is None:
            return
        reply = self.server.payer.respond(data)
        if reply.payload is None:
            return
        if reply.delay and self.server.closing.wait(reply.delay):
            return
        try:
            sock.sendall(frame(reply.payload))
        except (OSError, ValueError):
            return


class PayerServer(socketserver.ThreadingTCPServer):
    """The TCP front of a :class:`Payer`: one thread per connection."""

    allow_reuse_address = True  # start again on the same port right after a stop
    daemon_threads = True  # a delayed answer never holds up a stop

    def __init__(self, payer: Payer, host: str = "127.0.0.1", port: int = 0) -> None:
        self.payer = payer
        self.closing = threading.Event()
        self._thread: threading.Thread | None = None
        super().__init__((host, port), _Handler)

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def start(self) -> PayerServer:
        self._thread = threading.Thread(
            target=self.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True
        )
        self._thread.start()
        return self

    def close(self) -> None:
        """Stop answering, close the socket and the payer's state file."""
        self.closing.set()
        if self._thread is not None:
            self.shutdown()
            self._thread.join()
            self._thread = None
        self.server_close()
        self.payer.close()


def start_server(
    rules: Rules,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    state: str | Path | None = None,
    log: Callable[[str], None] | None = None,
) -> PayerServer:
    """Bind (OSError if the port is taken) and serve in a background thread; ``close()``
    the result to stop."""
    payer = Payer(rules, state=state, log=log)
    try:
        server = PayerServer(payer, host, port)
    except OSError:
        payer.close()
        raise
    return server.start()


def serve(
    rules: Rules,
    host: str = "127.0.0.1",
    port: int = 0,
    ready: Callable[[int], None] | None = None,
    *,
    state: str | Path | None = None,
    log: Callable[[str], None] | None = None,
    stop: threading.Event | None = None,
) -> None:
    """Serve until ``stop`` is set (forever without one). ``ready(port)`` is called once the
    socket is bound (port 0 -> the port the system chose)."""
    server = start_server(rules, host, port, state=state, log=log)
    try:
        if ready is not None:
            ready(server.port)
        waiter = stop or threading.Event()
        while not waiter.wait(0.5):
            pass
    finally:
        server.close()
