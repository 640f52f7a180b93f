"""Read one openFDA drug enforcement (recall) record into what a recall needs.

Pure: no Django, no database. Accepts the record as JSON text, bytes or an already
decoded mapping, alone or as an openFDA API response (``{"meta": …, "results": [record]}``),
with the current field names (``reason_for_recall``, ``recall_initiation_date``,
``openfda.package_ndc`` …) or the older hyphenated ones of the FDA's enforcement report
files (``reason-for-recall``, ``report-date`` …).

The NDCs come from ``openfda.package_ndc`` / ``openfda.product_ndc`` and from every NDC
written in ``product_description``; the lot numbers from the free text of ``code_info``
("Lot #: 12345, Exp 12/2025; Lot 67890"). When the lots cannot be read with confidence (no
"lot" in the text, a range such as "from 00112 through 10412", "all lots"), the record says
so and the caller recalls every lot: quarantining too much is the safe error, too little is
not. Every failure is a :class:`RecordError` naming the field.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from rxdesk.catalog.ndc import CodeError, ndc10_to_11

MAX_RECORD_BYTES = 1_000_000
MAX_LOT_LENGTH = 40

CLASSES = {"CLASS I": "I", "CLASS II": "II", "CLASS III": "III", "I": "I", "II": "II", "III": "III"}


class RecordError(ValueError):
    """The record cannot be read; ``field`` names the part that is wrong."""

    def __init__(self, message: str, *, field: str) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


@dataclass(frozen=True)
class EnforcementRecord:
    """What one enforcement record says, normalized."""

    recall_number: str
    classification: str  # "I" | "II" | "III"
    reason: str
    recall_date: dt.date
    firm: str
    status: str
    product_description: str
    code_info: str
    package_ndcs: tuple[str, ...]  # 11 digits, in the order first seen
    product_ndcs: tuple[str, ...]  # hyphenated labeler-product codes, e.g. "0093-0787"
    unreadable_ndcs: tuple[str, ...]  # NDC-looking values that are no valid NDC
    lots: tuple[str, ...]  # upper-case, as Lot.number stores them
    all_lots: bool  # True: recall every lot of the packages
    lot_note: str  # why every lot is recalled, when it is


# --- Decoding ------------------------------------------------------------------------------


def parse_enforcement(record: str | bytes | Mapping[str, Any]) -> EnforcementRecord:
    """Read one enforcement record; raise :class:`RecordError` naming the bad field."""
    data = _one_record(_decode(record))
    fields = {str(key).replace("-", "_").lower(): value for key, value in data.items()}

    product_type = _text(fields, "product_type")
    if product_type and product_type.strip().lower() not in {"drugs", "drug"}:
        raise RecordError(
            f"This is a {product_type.strip().lower()} recall, not a drug recall.",
            field="product_type",
        )
    classification = _classification(fields)
    reason = _text(fields, "reason_for_recall").strip()
    if not reason:
        raise RecordError("The record has no reason for the recall.", field="reason_for_recall")
    description = _text(fields, "product_description")
    code_info = _text(fields, "code_info")
    more_code_info = _text(fields, "more_code_info")
    if more_code_info:
        code_info = f"{code_info}; {more_code_info}" if code_info else more_code_info
    recall_number = _text(fields, "recall_number").strip() or _recall_number_in(description)
    if len(recall_number) > 30:
        raise RecordError("A recall number has at most 30 characters.", field="recall_number")

    packages, products, unreadable = _ndcs(fields, description)
    if not packages and not products:
        raise RecordError(
            "The record names no NDC (openfda.package_ndc, openfda.product_ndc or an "
            "NDC in product_description).",
            field="product_description",
        )
    lots, all_lots, note = read_lots(code_info)
    return EnforcementRecord(
        recall_number=recall_number,
        classification=classification,
        reason=reason,
        recall_date=_recall_date(fields),
        firm=_text(fields, "recalling_firm").strip()[:200],
        status=_text(fields, "status").strip(),
        product_description=description.strip(),
        code_info=code_info.strip(),
        package_ndcs=packages,
        product_ndcs=products,
        unreadable_ndcs=unreadable,
        lots=lots,
        all_lots=all_lots,
        lot_note=note,
    )


def _decode(record: str | bytes | Mapping[str, Any]) -> Any:
    if isinstance(record, Mapping):
        return record
    if isinstance(record, bytes | bytearray):
        if len(record) > MAX_RECORD_BYTES:
            raise RecordError("The record is too large (at most 1 MB).", field="record")
        try:
            record = bytes(record).decode("utf-8-sig")
        except UnicodeDecodeError:
            raise RecordError("The record is not UTF-8 text.", field="record") from None
    if not isinstance(record, str):
        raise RecordError("Paste the openFDA record as JSON.", field="record")
    if len(record) > MAX_RECORD_BYTES:
        raise RecordError("The record is too large (at most 1 MB).", field="record")
    if not record.strip():
        raise RecordError("Paste the openFDA record (JSON).", field="record")
    try:
        return json.loads(record)
    except json.JSONDecodeError as exc:
        raise RecordError(
            f"This is not valid JSON (line {exc.lineno}, column {exc.colno}).", field="record"
        ) from None
    except (ValueError, RecursionError):
        raise RecordError("This is not valid JSON.", field="record") from None


def _one_record(data: Any) -> Mapping[str, Any]:
    if not isinstance(data, Mapping):
        raise RecordError("Expected one JSON object: an enforcement record.", field="record")
    if "results" in data:
        results = data["results"]
        if not isinstance(results, list) or not results:
            raise RecordError("The response holds no record.", field="results")
        if len(results) != 1:
            raise RecordError(
                f"The response holds {len(results)} records; import them one at a time.",
                field="results",
            )
        data = results[0]
        if not isinstance(data, Mapping):
            raise RecordError("The record is not a JSON object.", field="results.0")
    return data


def _text(fields: Mapping[str, Any], name: str) -> str:
    value = fields.get(name)
    if value is None:
        return ""
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return "; ".join(value)
    if not isinstance(value, str):
        raise RecordError("Expected text.", field=name)
    return value


def _classification(fields: Mapping[str, Any]) -> str:
    raw = _text(fields, "classification")
    if not raw.strip():
        raise RecordError(
            "The record has no classification (Class I, II or III).", field="classification"
        )
    found = CLASSES.get(" ".join(raw.upper().split()))
    if found is None:
        raise RecordError(
            f"Unknown classification {raw[:40]!r}; expected Class I, II or III.",
            field="classification",
        )
    return found


_DATE_FIELDS = ("recall_initiation_date", "report_date", "center_classification_date")


def _recall_date(fields: Mapping[str, Any]) -> dt.date:
    for name in _DATE_FIELDS:
        raw = _text(fields, name).strip()
        if not raw:
            continue
        for layout in ("%Y%m%d", "%m/%d/%Y", "%Y-%m-%d"):
            try:
                return dt.datetime.strptime(raw, layout).date()
            except ValueError:
                continue
        raise RecordError(f"{raw[:20]!r} is not a date (YYYYMMDD).", field=name)
    raise RecordError("The record has no recall date.", field="recall_initiation_date")


_RECALL_NUMBER = re.compile(r"RECALL\s*(?:#|NO\.?|NUMBER)?\s*:?\s*([A-Z]-\d{3,5}-\d{2,4})", re.I)


def _recall_number_in(description: str) -> str:
    found = _RECALL_NUMBER.search(description)
    return found.group(1).upper() if found else ""


# --- NDCs ----------------------------------------------------------------------------------

# A hyphenated NDC not glued to other digits or hyphens (so not part of a phone number,
# a date or a longer code): 4-4-2, 5-3-2, 5-4-1 or the 5-4-2 billing form.
_NDC_HYPHENATED = re.compile(r"(?<![\d-])(\d{4,5}-\d{3,4}-\d{1,2})(?![\d-])")
_NDC_PLAIN11 = re.compile(r"NDC\s*(?:#|NO\.?|NUMBER)?\s*:?\s*(\d{11})(?!\d)", re.I)
_NDC_PRODUCT = re.compile(r"NDC\s*(?:#|NO\.?|NUMBER)?\s*:?\s*(\d{4,5}-\d{3,4})(?![\d-])", re.I)
_PRODUCT_NDC = re.compile(r"^\d{4,5}-\d{3,4}$")


def _string_list(fields: Mapping[str, Any], parent: str, name: str) -> list[str]:
    block = fields.get(parent)
    if block is None:
        return []
    if not isinstance(block, Mapping):
        raise RecordError("Expected an object.", field=parent)
    value = block.get(name)
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise RecordError("Expected a list of NDCs.", field=f"{parent}.{name}")
    return value


def _ndcs(
    fields: Mapping[str, Any], description: str
) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    packages: dict[str, None] = {}
    products: dict[str, None] = {}
    unreadable: dict[str, None] = {}

    def add_package(text: str) -> None:
        try:
            packages[ndc10_to_11(text)] = None
        except CodeError:
            unreadable[text.strip()[:20]] = None

    for value in _string_list(fields, "openfda", "package_ndc"):
        add_package(value)
    for value in _string_list(fields, "openfda", "product_ndc"):
        value = value.strip()
        if _PRODUCT_NDC.fullmatch(value):
            products[value] = None
        else:
            unreadable[value[:20]] = None
    for match in _NDC_HYPHENATED.finditer(description):
        add_package(match.group(1))
    for match in _NDC_PLAIN11.finditer(description):
        packages[match.group(1)] = None
    for match in _NDC_PRODUCT.finditer(description):
        products[match.group(1)] = None
    return tuple(packages), tuple(products), tuple(unreadable)


# --- Lot numbers ---------------------------------------------------------------------------

_MONTHS = r"JAN|FEB|MAR|APR|MAY|JUN|JUL|AUG|SEP|SEPT|OCT|NOV|DEC"
# Dates written out ("December 31, 2025", "Dec. 2025") and with slashes ("12/31/2025",
# "09/13"): expiries, never lot numbers. Removed before the text is read.
_WORD_DATE = re.compile(
    rf"\b(?:{_MONTHS})[A-Z]*\.?[\s.]+(?:\d{{1,2}}(?:ST|ND|RD|TH)?,?\s+)?(?:\d{{4}}|\d{{2}})\b"
)
_SLASH_DATE = re.compile(r"(?<![A-Z0-9])\d{1,4}/\d{1,2}(?:/\d{2,4})?(?![A-Z0-9/])")
_ISO_DATE = re.compile(r"(?<![A-Z0-9-])\d{4}-\d{2}-\d{2}(?![A-Z0-9-])")
_ALL_LOTS = re.compile(r"\bALL\b[^.;]{0,40}?\bLOTS?\b|\bALL\s+(?:UNEXPIRED|REMAINING)\b")
_TOKEN = re.compile(r"[A-Z0-9][A-Z0-9.\-/]*|[,;&()]|\S")
_DATE_SHAPED = re.compile(r"\d{1,4}(?:[-./]\d{1,4}){0,2}")

_LOT_WORDS = {"LOT", "LOTS", "BATCH", "BATCHES"}
_EXPIRY_WORDS = {"EXP", "EXPS", "EXPIRY", "EXPIRES", "EXPIRING", "EXPIRATION", "EXPIRE", "EXPD"}
# Words that start something other than lot numbers: the numbers after them are not lots.
_OTHER_CODES = {"UPC", "NDC", "GTIN", "SERIAL", "SN", "MODEL", "CATALOG", "SKU"}
_REMOVED = "~"  # where a date was taken out
_RANGE_WORDS = {"THROUGH", "THRU", "TO", "BETWEEN", "RANGE", "FROM", "UNTIL"}
_SEPARATORS = {",", ";", "&", "AND"}
_HYPHEN_RANGE = re.compile(r"([A-Z]*)(\d+)-\1(\d+)")


def _is_range(token: str) -> bool:
    """ "1234-1240" or "LF0047-LF0052": two lot numbers of one series joined by a hyphen."""
    found = _HYPHEN_RANGE.fullmatch(token)
    return (
        found is not None
        and len(found.group(2)) == len(found.group(3))
        and int(found.group(2)) < int(found.group(3))
    )


def read_lots(code_info: str) -> tuple[tuple[str, ...], bool, str]:
    """The lot numbers in an openFDA ``code_info`` text: ``(lots, all_lots, note)``.

    ``all_lots`` is True (and ``lots`` empty) when the text names no lot, says "all lots",
    or gives a range that cannot be listed; ``note`` says which, for the person importing."""
    text = (code_info or "").upper()
    if not text.strip():
        return (), True, "The record gives no lot numbers: every lot is recalled."
    if _ALL_LOTS.search(text):
        return (), True, "The record recalls all lots."
    for pattern in (_WORD_DATE, _SLASH_DATE, _ISO_DATE):
        text = pattern.sub(f" {_REMOVED} ", text)
    tokens = [t.rstrip(".-/") or t for t in _TOKEN.findall(text)]

    lots: dict[str, None] = {}
    in_lots = False
    seen_lot_word = False
    expiry_left = 0  # date parts still to skip after an "Exp"
    for index, token in enumerate(tokens):
        following = tokens[index + 1] if index + 1 < len(tokens) else ""
        if token in _LOT_WORDS:
            in_lots = seen_lot_word = True
            expiry_left = 0
            continue
        if not in_lots:
            continue
        if token in _OTHER_CODES:
            in_lots = False
            continue
        if token in _SEPARATORS or token in {"(", ")", _REMOVED}:
            expiry_left = 0
            continue
        if token in _EXPIRY_WORDS:
            expiry_left = 2
            continue
        if token in _RANGE_WORDS:
            return (
                (),
                True,
                (
                    "The record gives a range of lots, which cannot be listed: every lot is "
                    "recalled."
                ),
            )
        if not any(c.isdigit() for c in token):
            continue  # "No.", "Number", "a)", "Exp" … words, not lots
        if expiry_left and _DATE_SHAPED.fullmatch(token):
            expiry_left -= 1
            continue
        expiry_left = 0
        if following == ")" and len(token) <= 2:
            continue  # an enumerator: "1)", "2)"
        if len(token) > MAX_LOT_LENGTH:
            return (), True, "A lot number could not be read: every lot is recalled."
        if _is_range(token):
            return (
                (),
                True,
                (
                    f"The record gives a range of lots ({token}), which cannot be listed: every "
                    "lot is recalled."
                ),
            )
        if len(token) < 2:
            continue
        lots[token] = None
    if not seen_lot_word or not lots:
        return (), True, "No lot number could be read from the record: every lot is recalled."
    return tuple(lots), False, ""
