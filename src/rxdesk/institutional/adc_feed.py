"""One cabinet transaction as the vendors report it, whatever the door it came in by: a row
of a transaction file (:mod:`rxdesk.institutional.adc_csv`) or an FT1 of an HL7 DFT^P03
message (:mod:`rxdesk.institutional.adc_hl7`). Both parsers yield :class:`Transaction`;
rxdesk.institutional.services_feeds applies them to the cabinet ledger.

Also the value readers both parsers share (quantities, NDCs, identifiers, dates), each
raising :class:`ValueProblem` with a message a technician can act on; the parser turns it
into its own error (a row error of the file, an HL7Error naming the segment and field).

Pure: no database."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from rxdesk.catalog.ndc import CodeError, ndc10_candidates, ndc10_to_11

REMOVAL, RETURN, WASTE, RESTOCK, COUNT, UNLOAD = (
    "removal",
    "return",
    "waste",
    "restock",
    "count",
    "unload",
)
EVENTS = (REMOVAL, RETURN, WASTE, RESTOCK, COUNT, UNLOAD)

# The columns of the tables the values end in (rxdesk.institutional.models): a longer value
# is refused, never cut, so two different ids never become one.
LIMITS = {
    "external_id": 40,
    "station": 30,
    "drawer": 10,
    "pocket": 10,
    "cabinet_user": 80,
    "user_name": 120,
    "witness": 80,
    "patient_ref": 40,
    "patient_name": 120,
    "note": 300,
}
# DecimalField(12, 3): below 10^9, three decimal places at most.
QUANTITY_LIMIT = Decimal(10) ** 9
PLACES = 3
# A spreadsheet runs a cell beginning with one of these as a formula ("CSV injection").
FORMULA_START = ("=", "+", "@", "\t", "\r")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
EARLIEST = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
LATEST = dt.datetime(2100, 1, 1, tzinfo=dt.UTC)


class ValueProblem(ValueError):
    """A value that cannot be used; the message says why, in words."""


@dataclass(frozen=True)
class Transaction:
    """One thing a cabinet did to one pocket.

    ``row`` is the file's row (the header is row 1) or the FT1's set id. ``quantity`` is
    more than zero, except for a count, where it is the count (zero allowed). ``counted`` is
    the user's count of the pocket after the access (a blind count), ``expected`` what the
    cabinet expected there. ``ndc11`` is "" when the cabinet names only the pocket;
    ``ndc_candidates`` then holds the three 11-digit readings of an NDC sent as 10 digits
    without hyphens (the pocket's package must be one of them)."""

    row: int
    external_id: str
    occurred_at: dt.datetime
    station: str
    drawer: str
    pocket: str
    ndc11: str
    event: str
    quantity: Decimal
    counted: Decimal | None = None
    expected: Decimal | None = None
    cabinet_user: str = ""
    user_name: str = ""
    witness: str = ""
    patient_ref: str = ""
    patient_name: str = ""
    override: bool = False
    note: str = ""
    ndc_candidates: tuple[str, ...] = ()


@dataclass(frozen=True)
class Administered:
    """One dose given, as the eMAR reports it (the administrations file)."""

    row: int
    external_id: str
    given_at: dt.datetime
    ndc11: str
    quantity: Decimal
    nurse: str
    patient_ref: str = ""
    ndc_candidates: tuple[str, ...] = ()


# --- Value readers --------------------------------------------------------------------------


def text_of(value: str, what: str, *, required: bool = False) -> str:
    """A one-line text value: trimmed, no control characters, not a spreadsheet formula,
    within its column's limit (``what`` is a key of LIMITS)."""
    value = (value or "").strip()
    if not value:
        if required:
            raise ValueProblem("is empty")
        return ""
    if _CONTROL.search(value):
        raise ValueProblem("holds control characters")
    if value.startswith(FORMULA_START) or (value[0] == "-" and not _looks_numeric(value)):
        raise ValueProblem(f"begins with {value[0]!r}: a spreadsheet formula is not a value")
    limit = LIMITS[what]
    if len(value) > limit:
        if what == "note":
            return value[:limit]
        raise ValueProblem(f"is longer than {limit} characters")
    return value


def _looks_numeric(value: str) -> bool:
    return bool(re.fullmatch(r"-?[0-9.,]+", value))


def decimal_of(value: str, *, zero: bool = False) -> Decimal:
    """A quantity: a plain decimal number more than zero (zero too when ``zero``), with at
    most three decimal places."""
    value = (value or "").strip()
    if not value:
        raise ValueProblem("is empty")
    if len(value) > 20 or not re.fullmatch(r"[+-]?[0-9]*\.?[0-9]*", value):
        raise ValueProblem(f"{value[:20]!r} is not a number")
    try:
        number = Decimal(value)
    except InvalidOperation:
        raise ValueProblem(f"{value!r} is not a number") from None
    if not number.is_finite():
        raise ValueProblem("is not a number")
    if number < 0 or (number == 0 and not zero):
        raise ValueProblem(f"{value} must be {'zero or more' if zero else 'more than zero'}")
    if number >= QUANTITY_LIMIT:
        raise ValueProblem(f"{value} is too large")
    if number != number.quantize(Decimal(1).scaleb(-PLACES)):
        raise ValueProblem(f"{value} has more than {PLACES} decimal places")
    return number


def ndc_of(value: str) -> tuple[str, tuple[str, ...]]:
    """(11-digit NDC, candidates) of an NDC as a cabinet sends it: 11 digits, 5-4-2, a
    hyphenated 10-digit NDC, or 10 bare digits (ambiguous: the three readings)."""
    value = (value or "").strip()
    if not value:
        return "", ()
    if len(value) > 13:
        raise ValueProblem(f"{value[:20]!r} is not an NDC")
    if re.fullmatch(r"[0-9]{10}", value):
        return "", tuple(ndc11 for ndc11, _layout in ndc10_candidates(value))
    try:
        ndc11 = ndc10_to_11(value)
    except CodeError as exc:
        raise ValueProblem(f"{value!r} is not an NDC: {exc}") from None
    if not re.fullmatch(r"[0-9]{11}", ndc11):
        raise ValueProblem(f"{value!r} is not an NDC")
    return ndc11, ()


def flag_of(value: str) -> bool:
    """Y/N, Yes/No, True/False, 1/0 (empty: no)."""
    word = (value or "").strip().casefold()
    if word in {"", "n", "no", "false", "0", "f"}:
        return False
    if word in {"y", "yes", "true", "1", "t"}:
        return True
    raise ValueProblem(f"{value[:20]!r} is not Y or N")


def in_range(moment: dt.datetime) -> dt.datetime:
    """An aware moment in UTC, refused when it is not a plausible date of cabinet activity."""
    if not EARLIEST <= moment < LATEST:
        raise ValueProblem(f"{moment:%Y-%m-%d} is not a plausible date")
    return moment.astimezone(dt.UTC)


def local(naive: dt.datetime, tz: dt.tzinfo) -> dt.datetime:
    """A naive time read as the site's wall clock."""
    return in_range(naive.replace(tzinfo=tz))
