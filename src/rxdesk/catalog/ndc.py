"""National Drug Codes and the barcodes that carry them.

Pure functions: no Django, no database. The rules follow the team reference
(identifiers-labels-math.md §1.1–1.5):

* An FDA NDC has 10 digits in one of three layouts (4-4-2, 5-3-2, 5-4-1). Claims and
  compendia carry it as 11 digits, 5-4-2, made by putting one zero in front of the short
  segment. Going back needs the layout, which only the NDC Directory knows.
* A UPC-A on a drug package is ``3`` + the 10 NDC digits + a GS1 check digit; a GTIN-14 is
  an indicator digit + ``03`` + the 10 NDC digits + a check digit. Neither says where the
  hyphens go, so a scan gives a 10-digit string plus its three possible 11-digit readings
  and the caller looks them up.
* A DSCSA 2D DataMatrix is a GS1 element string (GTIN, expiry, lot, serial). Parsing the
  Application Identifiers is left to ``biip`` rather than a home-made AI table.

Every failure is a ``CodeError`` whose message a technician can act on.
"""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass

from biip import BiipException
from biip.gs1_messages import GS1Message
from biip.symbology import GS1Symbology, SymbologyIdentifier

__all__ = [
    "LAYOUTS",
    "CodeError",
    "Scan",
    "code_problem",
    "format_ndc11",
    "gs1_check_digit",
    "layout_of",
    "ndc10_candidates",
    "ndc10_to_11",
    "ndc11_to_10",
    "ndc_to_gtin14",
    "ndc_to_upc",
    "parse_scan",
]


class CodeError(ValueError):
    """A typed or scanned code is not a usable NDC, UPC, GTIN or GS1 barcode.

    The message is meant to be shown to the technician as it is.
    """


LAYOUTS = ("4-4-2", "5-3-2", "5-4-1")

# Segment lengths of each 10-digit layout, and where its padding zero goes in the 11-digit
# form (the index of the short segment).
_SEGMENTS: dict[str, tuple[int, int, int]] = {
    "4-4-2": (4, 4, 2),
    "5-3-2": (5, 3, 2),
    "5-4-1": (5, 4, 1),
}
_PADDED_SEGMENT = {"4-4-2": 0, "5-3-2": 1, "5-4-1": 2}
_NDC11_SEGMENTS = (5, 4, 2)

_UPC_NUMBER_SYSTEM = "3"  # reserved for drugs (NDC / HRI)
_GTIN_NDC_PREFIX = "03"  # after the GTIN-14 indicator digit
_GS = "\x1d"  # FNC1 as transmitted by scanners

# ASCII digits only: str.isdigit() also accepts "²" and Arabic-Indic digits.
_DIGITS = re.compile(r"[0-9]+")
_DIGITS_AND_HYPHENS = re.compile(r"[0-9-]+")
# Dashes that arrive when an NDC is copied from a PDF or a word processor.
_DASHES = str.maketrans(dict.fromkeys("\u2010\u2011\u2012\u2013\u2014\u2212\ufe63\uff0d", "-"))
_BLANKS = re.compile(r"[ \t\u00a0]+")

_MSG_NDC_SHAPE = "An NDC has 10 digits in 4-4-2, 5-3-2 or 5-4-1 form, or 11 digits."
_MSG_NDC10_SHAPE = "A 10-digit NDC has hyphens in 4-4-2, 5-3-2 or 5-4-1 form, e.g. 0002-1433-80."


# --- NDC formats -----------------------------------------------------------------------


def _is_digits(value: str, length: int | None = None) -> bool:
    return _DIGITS.fullmatch(value) is not None and (length is None or len(value) == length)


def _segments(hyphenated: str) -> tuple[str, ...]:
    """Split a hyphenated NDC, refusing anything but digits and hyphens."""
    value = hyphenated.strip().translate(_DASHES)
    if "-" not in value or _DIGITS_AND_HYPHENS.fullmatch(value) is None:
        raise CodeError(_MSG_NDC_SHAPE)
    return tuple(value.split("-"))


def _layout_of_segments(parts: tuple[str, ...]) -> str | None:
    lengths = tuple(len(p) for p in parts)
    for layout, segment_lengths in _SEGMENTS.items():
        if lengths == segment_lengths:
            return layout
    return None


def layout_of(hyphenated10: str) -> str:
    """The layout ("4-4-2", "5-3-2" or "5-4-1") of a hyphenated 10-digit NDC."""
    layout = _layout_of_segments(_segments(hyphenated10))
    if layout is None:
        raise CodeError(_MSG_NDC10_SHAPE)
    return layout


def ndc10_to_11(hyphenated: str) -> str:
    """The 11-digit billing NDC (5-4-2, no hyphens) for a hyphenated NDC.

    "0002-3227-30" -> "00002322730". A hyphenated 5-4-2 NDC, or 11 plain digits, is
    already in billing form and comes back without hyphens.
    """
    value = hyphenated.strip()
    if _is_digits(value, 11):
        return value
    if _is_digits(value, 10):
        raise CodeError(
            "Without hyphens a 10-digit NDC could be 4-4-2, 5-3-2 or 5-4-1; "
            "type it with its hyphens, e.g. 0002-1433-80."
        )
    parts = _segments(value)
    if tuple(len(p) for p in parts) == _NDC11_SEGMENTS:
        return "".join(parts)
    layout = _layout_of_segments(parts)
    if layout is None:
        raise CodeError(_MSG_NDC_SHAPE)
    padded = _PADDED_SEGMENT[layout]
    return "".join("0" + p if i == padded else p for i, p in enumerate(parts))


def _ndc11_digits(ndc11: str) -> str:
    """The 11 digits of an NDC given plain or hyphenated 5-4-2."""
    value = ndc11.strip().translate(_DASHES)
    if "-" in value and tuple(len(p) for p in _segments(value)) == _NDC11_SEGMENTS:
        value = value.replace("-", "")
    if not _is_digits(value, 11):
        raise CodeError("An 11-digit NDC has 11 digits, hyphenated 5-4-2 if at all.")
    return value


def ndc11_to_10(ndc11: str, layout: str) -> str:
    """The hyphenated 10-digit NDC for an 11-digit one whose 10-digit layout is known.

    The layout comes from the NDC Directory: the padding zero cannot be told apart from a
    segment that really begins with 0.
    """
    value = _ndc11_digits(ndc11)
    if layout not in _SEGMENTS:
        raise CodeError(f"Unknown NDC layout {layout!r}; use one of {', '.join(LAYOUTS)}.")
    parts = [value[:5], value[5:9], value[9:]]
    padded = _PADDED_SEGMENT[layout]
    if not parts[padded].startswith("0"):
        names = ("labeler", "product", "package")
        raise CodeError(
            f"NDC {format_ndc11(value)} cannot be written {layout}: its "
            f"{names[padded]} code {parts[padded]} does not start with the padding 0."
        )
    parts[padded] = parts[padded][1:]
    return "-".join(parts)


def format_ndc11(ndc11: str) -> str:
    """The 11-digit NDC with 5-4-2 hyphens: "00002143380" -> "00002-1433-80"."""
    value = _ndc11_digits(ndc11)
    return f"{value[:5]}-{value[5:9]}-{value[9:]}"


def ndc10_candidates(digits10: str) -> list[tuple[str, str]]:
    """The three readings of 10 unhyphenated NDC digits, in ``LAYOUTS`` order.

    Each is ``(ndc11, hyphenated10)``; "1234567890" gives ("01234567890", "1234-5678-90"),
    ("12345067890", "12345-678-90") and ("12345678900", "12345-6789-0"). Which one is real
    is for the NDC Directory to say.
    """
    value = digits10.strip()
    if not _is_digits(value, 10):
        raise CodeError("Expected the 10 digits of an NDC without hyphens.")
    return [
        (f"0{value}", f"{value[:4]}-{value[4:8]}-{value[8:]}"),
        (f"{value[:5]}0{value[5:]}", f"{value[:5]}-{value[5:8]}-{value[8:]}"),
        (f"{value[:9]}0{value[9:]}", f"{value[:5]}-{value[5:9]}-{value[9:]}"),
    ]


def _ndc10_digits(ndc10: str) -> str:
    """The 10 digits of a hyphenated (or already plain) 10-digit NDC."""
    value = ndc10.strip()
    if _is_digits(value, 10):
        return value
    if _is_digits(value, 11) or (
        "-" in value and tuple(len(p) for p in _segments(value)) == _NDC11_SEGMENTS
    ):
        raise CodeError(
            "A barcode carries the 10-digit NDC as printed on the package; "
            "an 11-digit billing NDC cannot be put in one."
        )
    layout_of(value)
    return value.translate(_DASHES).replace("-", "")


# --- GS1 check digits and barcodes -----------------------------------------------------


def gs1_check_digit(body: str) -> int:
    """The GS1 mod-10 check digit for the digits before it (UPC, GTIN-8/12/13/14, SSCC).

    Weights 3, 1, 3, 1 … from the rightmost digit; check = (10 − sum mod 10) mod 10.
    """
    if not _is_digits(body):
        raise CodeError("A GS1 check digit is computed over digits only.")
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return (10 - total % 10) % 10


def ndc_to_upc(hyphenated10: str) -> str:
    """The 12-digit UPC-A for a 10-digit NDC: "3" + the 10 digits + check digit."""
    body = _UPC_NUMBER_SYSTEM + _ndc10_digits(hyphenated10)
    return f"{body}{gs1_check_digit(body)}"


def ndc_to_gtin14(hyphenated10: str, indicator: int = 0) -> str:
    """The GTIN-14 for a 10-digit NDC: indicator + "03" + the 10 digits + check digit.

    Indicator 0 is the unit of sale (the UPC padded with zeros); 1–8 are higher packaging
    levels such as a case. 9 means a variable-measure item, never a drug package.
    """
    if isinstance(indicator, bool) or not isinstance(indicator, int) or not 0 <= indicator <= 8:
        raise CodeError("The GTIN indicator (packaging level) is a digit from 0 to 8.")
    body = f"{indicator}{_GTIN_NDC_PREFIX}{_ndc10_digits(hyphenated10)}"
    return f"{body}{gs1_check_digit(body)}"


def _verify_check_digit(code: str, name: str) -> None:
    expected = gs1_check_digit(code[:-1])
    if int(code[-1]) != expected:
        raise CodeError(f"The check digit of this {name} is wrong (expected {expected}).")


# --- Scans -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Scan:
    """What a typed or scanned code says about the product.

    Exactly one of ``ndc11`` (the NDC is certain) and ``ndc10_digits`` + ``candidates``
    (the layout needs a directory look-up) is filled in.
    """

    kind: str  # "ndc11" | "ndc10" | "ndc10_ambiguous" | "upc" | "gtin14" | "gs1"
    ndc11: str | None = None  # definite 11-digit NDC when known
    # The unhyphenated 10-digit NDC inside a UPC/GTIN/GS1 or typed without hyphens (needs a
    # directory look-up to know its layout).
    ndc10_digits: str | None = None
    candidates: tuple[str, ...] = ()  # 11-digit readings in LAYOUTS order when ambiguous
    gtin: str | None = None  # always as GTIN-14 (a UPC is padded with "00")
    lot: str | None = None
    expiry: datetime.date | None = None
    serial: str | None = None


def _ambiguous(
    kind: str,
    digits10: str,
    *,
    gtin: str | None = None,
    lot: str | None = None,
    expiry: datetime.date | None = None,
    serial: str | None = None,
) -> Scan:
    candidates = tuple(ndc11 for ndc11, _ in ndc10_candidates(digits10))
    return Scan(
        kind=kind,
        ndc10_digits=digits10,
        candidates=candidates,
        gtin=gtin,
        lot=lot,
        expiry=expiry,
        serial=serial,
    )


def _scan_gtin14(gtin: str) -> tuple[str, str]:
    """Verify an NDC-bearing GTIN-14 and return (gtin, ndc10_digits)."""
    _verify_check_digit(gtin, "GTIN")
    if gtin[0] == "9":
        raise CodeError("This GTIN is for a variable-measure item (it starts with 9), not a drug.")
    if gtin[1:3] != _GTIN_NDC_PREFIX:
        raise CodeError(
            "This GTIN does not contain an NDC (an NDC GTIN has 03 after its first digit)."
        )
    return gtin, gtin[3:13]


def _scan_digits(value: str) -> Scan:
    """A typed or scanned code of digits and hyphens only."""
    if "-" in value:
        parts = _segments(value)
        if tuple(len(p) for p in parts) == _NDC11_SEGMENTS:
            return Scan(kind="ndc11", ndc11="".join(parts))
        if _layout_of_segments(parts) is None:
            raise CodeError(_MSG_NDC_SHAPE)
        return Scan(kind="ndc10", ndc11=ndc10_to_11(value))
    n = len(value)
    if n == 11:
        return Scan(kind="ndc11", ndc11=value)
    if n == 10:
        return _ambiguous("ndc10_ambiguous", value)
    if n in (12, 13):
        # 13 digits: a UPC-A sent in its EAN-13 form (leading 0), as many scanners do.
        if n == 13:
            if value[0] != "0":
                raise CodeError("This EAN-13 is not a US drug code (it does not start with 0).")
            value = value[1:]
        _verify_check_digit(value, "UPC")
        if value[0] != _UPC_NUMBER_SYSTEM:
            raise CodeError(
                f"This UPC does not contain an NDC (a drug UPC starts with 3, "
                f"this one with {value[0]})."
            )
        return _ambiguous("upc", value[1:11], gtin="00" + value)
    if n == 14:
        gtin, digits10 = _scan_gtin14(value)
        return _ambiguous("gtin14", digits10, gtin=gtin)
    raise CodeError(
        f"A code of {n} digit{'s' if n != 1 else ''} is not an NDC (10 or 11 digits), "
        "a UPC (12) or a GTIN-14 (14)."
    )


def _scan_gs1(data: str, *, hri: bool = False) -> Scan:
    """A GS1 element string (DataMatrix, GS1-128) or its printed "(01)…(17)…" form."""
    try:
        message = GS1Message.parse_hri(_BLANKS.sub("", data)) if hri else GS1Message.parse(data)
    # biip reports most problems as ParseError (a BiipException) but lets a few slip out as
    # ValueError/IndexError on malformed input; to the technician all of them mean the same.
    except (BiipException, ValueError, IndexError) as exc:
        raise CodeError(
            "This GS1 barcode could not be read. Scan it again; if it keeps failing, check "
            "that the scanner sends the GS separator, or type the NDC from the package."
        ) from exc

    strings = message.element_strings
    gtin_element = strings.get(ai="01")
    if gtin_element is None:
        raise CodeError("This GS1 barcode has no GTIN (AI 01), so it does not name a product.")
    gtin, digits10 = _scan_gtin14(gtin_element.value)

    def text(ai: str) -> str | None:
        element = strings.get(ai=ai)
        return element.value if element is not None else None

    expiry_element = strings.get(ai="17")
    # biip applies the GS1 rules: DD=00 is the last day of the month, and the century of YY
    # comes from the sliding window around today (tests pin both against the reference).
    expiry = expiry_element.date if expiry_element is not None else None
    return _ambiguous("gs1", digits10, gtin=gtin, lot=text("10"), expiry=expiry, serial=text("21"))


def parse_scan(text: str) -> Scan:
    """Read whatever a technician typed or a scanner sent into a ``Scan``.

    Accepts an 11-digit NDC (plain or 5-4-2), a hyphenated 10-digit NDC, 10 plain digits
    (ambiguous), a 12-digit UPC-A (or its 13-digit EAN form), a GTIN-14, and a GS1 element
    string with or without a symbology identifier (``]d2`` …), with GS (ASCII 29) as FNC1,
    or its printed "(01)…(17)…(10)…(21)…" form.
    """
    value = text.strip()  # also drops a leading/trailing GS, which carries nothing
    if not value:
        raise CodeError("Nothing was scanned or typed.")

    if value.startswith("]"):
        try:
            symbology = SymbologyIdentifier.extract(value)
        except (BiipException, ValueError, IndexError) as exc:
            raise CodeError("The scanner sent an unknown symbology prefix.") from exc
        value = value[len(symbology) :].strip()
        if not value:
            raise CodeError("The scan held no data after its symbology prefix.")
        if symbology.gs1_symbology in GS1Symbology.with_gs1_messages():
            return _scan_gs1(value)
        # Otherwise (EAN-13, ITF-14, a plain DataMatrix …) read the data as typed.

    if value.startswith("("):
        return _scan_gs1(value, hri=True)

    compact = _BLANKS.sub("", value).translate(_DASHES)
    if _DIGITS_AND_HYPHENS.fullmatch(compact) and ("-" in compact or len(compact) <= 14):
        return _scan_digits(compact)
    if _GS in value or (len(value) > 14 and _is_digits(value[:2])):
        return _scan_gs1(value)
    raise CodeError(
        "This is not an NDC, UPC, GTIN or GS1 barcode. An NDC has 10 digits in 4-4-2, "
        "5-3-2 or 5-4-1 form, or 11 digits."
    )


def code_problem(text: str) -> str | None:
    """The reason ``text`` cannot be read as a drug code, or None when it can."""
    try:
        parse_scan(text)
    except CodeError as exc:
        return str(exc)
    return None
