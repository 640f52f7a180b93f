"""Sig codes in, patient-readable directions out: "1 T PO BID" → "Take 1 tablet by mouth
twice daily." (or "Tome 1 tableta por vía oral dos veces al día.").

Pure: no Django, no database. ``expand`` turns what the technician typed into

* the label text in the patient's language (English and Spanish; the table in
  ``rxdesk.rx.sig_codes`` has one column per language),
* the numbers days supply needs (dose, dose unit, doses a day, as needed, maximum a day,
  duration), and
* flags for the pharmacist (words not understood, ISMP error-prone abbreviations,
  "as directed", multi-step directions, no frequency).

Rules and their sources (team reference ``identifiers-labels-math.md``):

* §3.5 / Joint Commission "Do Not Use": U, IU, QD, QOD, MS, MSO4, MgSO4, trailing zeros
  ("1.0") and naked decimals (".5") are refused with a message saying what to type — the
  label must never carry them, and a silent fix could guess wrong (was "1.0" meant as 1 or
  10?).
* §4.1: the rest of ISMP's error-prone list (OD/OS/OU, AD/AS/AU, HS, SC/SQ, BIW/TIW, UD)
  is accepted as typed shorthand, printed in full words and flagged.
* §3.4 USP <17>: numerals, not words ("Take 2 tablets"); no Latin or abbreviations; "as
  directed" only when there is no alternative (so it is flagged). Halves and quarters are
  printed as ½ ¼ ¾ (in Latin-1, so every label printer has them) rather than "1/2", since
  ISMP warns that a slash is read as a 1. Large numbers get thousands commas ("1,000
  units", ISMP rule 18) in every language.
* §4.2: unknown words are kept as typed and flagged; the longest code wins ("AS NEEDED"
  before "AS" = left ear); numbers glued to codes are split ("2T", "X7D", "Q4-6H").
* §5.1/§5.7: for a range ("1-2", "Q4-6H") the numbers are the maximum: the larger dose and
  the shorter interval.

``SigError`` is an ``rxdesk.core.errors.Invalid`` (itself free of Django), so the API
answers it with a 422 naming the field, like every other bad input.

USP <17>'s "in the morning and in the evening" wording for BID is not produced: the table
prints "twice daily", which the issue asks for.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Final

from rxdesk.core.errors import Invalid
from rxdesk.rx.sig_codes import (
    DO_NOT_USE,
    FORMS,
    LANGUAGES,
    LOOKUP,
    REFUSED,
    TEMPLATES,
    Entry,
    Kind,
)

__all__ = [
    "LANGUAGES",
    "MAX_LENGTH",
    "SigError",
    "SigFlag",
    "SigFlagCode",
    "SigResult",
    "expand",
]

# NCPDP SCRIPT 2017071 carries a free-text sig of up to 1,000 characters (reference §4.3).
MAX_LENGTH: Final = 1000
# A dose typed without a form ("2 PO BID") is still checked for typing errors.
_MAX_BARE_DOSE: Final = Decimal(100)
_MAX_HOURS: Final = 72  # Q72H: the longest interval in use (fentanyl patches)
_MAX_DAYS_INTERVAL: Final = 90
_MAX_DURATION_DAYS: Final = 365
_PHRASE_WORDS: Final = max(len(key.split()) for key in LOOKUP)

_FIELD: Final = "directions"


class SigError(Invalid):
    """The directions cannot be put on a label as typed; the message says what to type.

    ``field`` is ``"directions"`` (or ``"language"`` for an unsupported language); the
    offending text is in ``token`` when there is one.
    """

    def __init__(self, message: str, *, field: str = _FIELD, token: str | None = None) -> None:
        super().__init__(message, field=field, token=token)
        self.token = token


class SigFlagCode(StrEnum):
    """Why the pharmacist should look at the directions before verifying them."""

    FREE_TEXT = "free_text"  # words not understood, kept as typed
    ERROR_PRONE = "error_prone"  # an ISMP error-prone abbreviation was typed
    AS_DIRECTED = "as_directed"  # "as directed" tells the patient nothing (USP <17>)
    COMPLEX = "complex"  # several doses or steps: days supply must be worked out by hand
    INCOMPLETE = "incomplete"  # no frequency: days supply cannot be worked out


@dataclass(frozen=True)
class SigFlag:
    """One reason for the pharmacist's attention, in words a pharmacist reads at a glance."""

    code: SigFlagCode
    message: str
    token: str | None = None


@dataclass(frozen=True)
class SigResult:
    """Expanded directions and the numbers behind them.

    ``dose`` is the largest single dose in ``dose_unit`` ("1-2 T" → 2 tablets; "1 TSP" →
    5 mL) and ``dose_min`` the smallest (equal to ``dose`` unless a range was typed).
    ``frequency_per_day`` counts administrations (BID → 2, Q4-6H → 6, QWK → 1/7).
    ``site_count`` is 2 for both eyes, both ears or each nostril. ``max_daily_doses`` is
    the most of ``dose_unit`` used in a day: dose × frequency × sites, or the "do not take
    more than" limit when that is lower. Numbers that cannot be derived are ``None``;
    multi-step directions leave them ``None`` and carry a COMPLEX flag.
    """

    text: str
    language: str
    canonical: str
    flags: tuple[SigFlag, ...]
    dose: Decimal | None
    dose_min: Decimal | None
    dose_unit: str | None
    frequency_per_day: Decimal | None
    prn: bool
    max_daily_doses: Decimal | None
    duration_days: int | None
    site_count: int
    route: str | None

    @property
    def needs_review(self) -> bool:
        return bool(self.flags)


# --- numbers --------------------------------------------------------------------------

_INTEGER = re.compile(r"[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+")
_DECIMAL = re.compile(r"[0-9]+\.[0-9]+")
_FRACTION = re.compile(r"([0-9]+)/([0-9]+)")
_GLYPHS: Final = {
    "1/2": (Decimal("0.5"), "½"),
    "1/4": (Decimal("0.25"), "¼"),
    "3/4": (Decimal("0.75"), "¾"),
}
# ISMP rule 1 and 2, looked for anywhere in the input (ASCII digits only).
_TRAILING_ZERO = re.compile(r"[0-9]+\.[0-9]*0(?![0-9])")
_NAKED_DECIMAL = re.compile(r"(?<![0-9])\.[0-9]+")


@dataclass(frozen=True)
class _Num:
    value: Decimal
    shown: str  # on the label
    typed: str  # in the canonical code string


def _fmt(value: Decimal) -> str:
    """A number as the label prints it: no trailing zero, a leading zero, thousands commas."""
    value = value.normalize()
    if value == value.to_integral_value():
        return f"{int(value):,}"
    return format(value, "f")


def _plain(value: Decimal) -> Decimal:
    """Drop trailing zeros without turning 10 into 1E+1."""
    if value == value.to_integral_value():
        return value.quantize(Decimal(1))
    return value.normalize()


def _number(key: str) -> _Num | None:
    if _INTEGER.fullmatch(key):
        value = Decimal(key.replace(",", ""))
        return _Num(value, _fmt(value), _fmt(value))
    if _DECIMAL.fullmatch(key):
        value = Decimal(key)
        return _Num(value, _fmt(value), _fmt(value))
    if _FRACTION.fullmatch(key):
        if key not in _GLYPHS:
            raise SigError(
                f'"{key}": type halves and quarters as 1/2, 1/4 or 3/4, anything else as a '
                "decimal with a leading zero (for example 0.2).",
                token=key,
            )
        value, glyph = _GLYPHS[key]
        return _Num(value, glyph, key)
    return None


# --- tokens ---------------------------------------------------------------------------

_TRAILING_PUNCTUATION: Final = ",;:!?."
_FLAGS = re.IGNORECASE | re.ASCII
_PER_DAY_SUFFIX = re.compile(r"(.+?)(/(?:DAY|D|24H|24HR|24HRS))", _FLAGS)
_GLUED = re.compile(r"([0-9][0-9.,/-]*?)([A-Z]+)", _FLAGS)
_EVERY_HOURS = re.compile(r"Q([0-9]+)(?:H|HR|HRS)")
_EVERY_HOURS_RANGE = re.compile(r"Q([0-9]+)-([0-9]+)(?:H|HR|HRS)")
_EVERY_DAYS = re.compile(r"Q([0-9]+)D")
_DURATION_UNIT = r"(D|DAY|DAYS|W|WK|WKS|WEEK|WEEKS)"
_DURATION = re.compile(r"X([0-9]+)" + _DURATION_UNIT)
_DURATION_GLUED = re.compile(r"([0-9]+)" + _DURATION_UNIT)
_DURATION_WORD = re.compile(_DURATION_UNIT)
_LETTERS = re.compile(r"[A-Z]+")
_ALNUM = re.compile(r"[A-Z0-9]+")
_DAY: Final = frozenset({"DAY", "24H", "24HR", "24HRS"})
_PER_DAY: Final = frozenset({"/DAY", "/D", "/24H", "/24HR", "/24HRS", "DAILY"})


@dataclass(frozen=True)
class _Tok:
    raw: str  # as typed, for free text
    key: str  # upper case, trailing punctuation and abbreviation full stops removed


def _key(piece: str) -> str:
    key = piece.upper().rstrip(_TRAILING_PUNCTUATION)
    # "P.O.", "b.i.d.", "q.d.": full stops in a code without digits are decoration. Keys
    # with digits keep theirs, so "X1.5D" is not read as X15D.
    if not any(ch in "0123456789" for ch in key):
        key = key.replace(".", "")
    return key


def _split(raw: str) -> list[str]:
    stripped = raw.rstrip(_TRAILING_PUNCTUATION) or raw
    if m := _PER_DAY_SUFFIX.fullmatch(stripped):
        return [*_split(m[1]), m[2]]
    if (m := _GLUED.fullmatch(stripped)) and m[2].upper() in FORMS:
        return [m[1], m[2]]
    return [raw]


def _tokens(text: str) -> list[_Tok]:
    return [_Tok(piece, _key(piece)) for raw in text.split() for piece in _split(raw)]


def _refuse_do_not_use(tok: _Tok) -> None:
    upper = tok.raw.upper()
    if tok.key in REFUSED:
        raise SigError(REFUSED[tok.key], token=tok.raw)
    # Inside a longer token only the Joint Commission list counts: "4U", "10IU", "Q.O.D.".
    squeezed = "".join(_ALNUM.findall(upper))
    for part in (squeezed, *_ALNUM.findall(upper), *_LETTERS.findall(upper)):
        if part in DO_NOT_USE:
            raise SigError(REFUSED[part], token=tok.raw)


def _refuse_bad_decimals(text: str) -> None:
    if m := _TRAILING_ZERO.search(text):
        fixed = _fmt(Decimal(m[0]))
        raise SigError(
            f'"{m[0]}" has a trailing zero, which is read as ten times the dose: type {fixed}.',
            token=m[0],
        )
    if m := _NAKED_DECIMAL.search(text):
        raise SigError(
            f'"{m[0]}" has no zero before the decimal point, so it is read as '
            f"{m[0][1:]}: type 0{m[0]}.",
            token=m[0],
        )


# --- parts of the directions ----------------------------------------------------------


@dataclass(frozen=True)
class _Verb:
    entry: Entry


@dataclass(frozen=True)
class _Dose:
    high: _Num
    low: _Num | None
    form: Entry | None
    typed: str  # the tokens as typed, for error messages


@dataclass(frozen=True)
class _Code:
    entry: Entry


@dataclass(frozen=True)
class _Every:
    low: int
    high: int | None
    days: bool  # every N days rather than hours

    @property
    def per_day(self) -> Decimal:
        if self.days:
            return Decimal(1) / Decimal(self.low)
        return Decimal(24) / Decimal(self.low)


@dataclass(frozen=True)
class _For:
    n: int
    weeks: bool

    @property
    def days(self) -> int:
        return self.n * 7 if self.weeks else self.n


@dataclass(frozen=True)
class _Free:
    raw: str


@dataclass(frozen=True)
class _Prn:
    entry: Entry
    what: tuple[_Code | _Free, ...]


@dataclass(frozen=True)
class _Limit:
    amount: _Num
    form: Entry | None


_Part = _Verb | _Dose | _Code | _Every | _For | _Free | _Prn | _Limit


class _Parser:
    def __init__(self, toks: list[_Tok]) -> None:
        self.toks = toks
        self.i = 0
        self.parts: list[_Part] = []

    def key(self, offset: int = 0) -> str | None:
        j = self.i + offset
        return self.toks[j].key if j < len(self.toks) else None

    def entry(self) -> tuple[Entry, int] | None:
        """The longest table code starting here, and how many tokens it spans."""
        for n in range(min(_PHRASE_WORDS, len(self.toks) - self.i), 0, -1):
            phrase = " ".join(t.key for t in self.toks[self.i : self.i + n])
            if phrase in LOOKUP:
                return LOOKUP[phrase], n
        return None

    def parse(self) -> list[_Part]:
        while self.i < len(self.toks):
            self.step()
        return self.parts

    def step(self) -> None:
        key = self.toks[self.i].key
        # "3 times a day" is a frequency, not a dose of 3 followed by words.
        found = self.entry()
        if found is not None and found[1] > 1 and found[0].kind is Kind.FREQUENCY:
            self.i += found[1]
            self.parts.append(_Code(found[0]))
            return
        if (dose := self.dose()) is not None:
            self.parts.append(dose)
            return
        if (pattern := self.pattern(key)) is not None:
            self.parts.append(pattern)
            self.i += 1
            return
        if (duration := self.duration()) is not None:
            self.parts.append(duration)
            return
        if key in ("NTE", "MAX") and (limit := self.limit()) is not None:
            self.parts.append(limit)
            return
        found = self.entry()
        if found is None:
            self.parts.append(_Free(self.toks[self.i].raw))
            self.i += 1
            return
        entry, n = found
        self.i += n
        if entry.kind is Kind.VERB:
            self.parts.append(_Verb(entry))
        elif entry.kind is Kind.PRN:
            self.parts.append(self.prn(entry))
        else:
            self.parts.append(_Code(entry))

    def number(self) -> _Num | None:
        key = self.key()
        if key is None:
            return None
        num = _number(key)
        if num is None:
            return None
        self.i += 1
        # "1 1/2": a whole number and a fraction make one number.
        nxt = self.key()
        if nxt in _GLYPHS and _INTEGER.fullmatch(num.typed.replace(",", "")):
            value, glyph = _GLYPHS[nxt]
            self.i += 1
            return _Num(num.value + value, f"{num.shown}{glyph}", f"{num.typed} {nxt}")
        return num

    def dose(self) -> _Dose | None:
        start = self.i
        key = self.toks[start].key
        low: _Num | None = None
        if key.count("-") == 1 and all(side for side in key.split("-")):
            left, right = key.split("-")
            low, high = _number(left), _number(right)
            if low is None or high is None:
                return None
            self.i += 1
        else:
            first = self.number()
            if first is None:
                return None
            high = first
            if self.key() in ("TO", "-"):
                self.i += 1
                second = self.number()
                if second is None:  # "1 TO" something else: only the first is a number
                    self.i -= 1
                else:
                    low, high = first, second
        if low is not None and low.value >= high.value:
            raise SigError(
                f'"{low.typed}-{high.typed}": a dose range goes from the smaller to the '
                "larger dose, e.g. 1-2.",
                token=self.toks[start].raw,
            )
        form = None
        nxt = self.key()
        if nxt is not None and nxt in FORMS:
            form = FORMS[nxt]
            self.i += 1
        typed = " ".join(t.raw for t in self.toks[start : self.i])
        return _Dose(high, low, form, typed)

    def pattern(self, key: str) -> _Every | None:
        if m := _EVERY_HOURS_RANGE.fullmatch(key):
            low, high = int(m[1]), int(m[2])
            _check_hours(low, key)
            _check_hours(high, key)
            if low >= high:
                raise SigError(f'"{key}": the shorter interval comes first, e.g. Q4-6H.', token=key)
            return _Every(low, high, days=False)
        if m := _EVERY_HOURS.fullmatch(key):
            _check_hours(int(m[1]), key)
            return _Every(int(m[1]), None, days=False)
        if m := _EVERY_DAYS.fullmatch(key):
            n = int(m[1])
            if not 2 <= n <= _MAX_DAYS_INTERVAL:
                raise SigError(
                    f'"{key}": every 2 to {_MAX_DAYS_INTERVAL} days can be typed as Q2D to '
                    f"Q{_MAX_DAYS_INTERVAL}D; once a day is DAILY.",
                    token=key,
                )
            return _Every(n, None, days=True)
        return None

    def duration(self) -> _For | None:
        key = self.toks[self.i].key
        if m := _DURATION.fullmatch(key):
            self.i += 1
            return _for(int(m[1]), m[2], key)
        # "X 7D", "X 7 DAYS", "FOR 7 DAYS"
        if key not in ("X", "FOR") or self.key(1) is None:
            return None
        nxt = self.key(1) or ""
        if m := _DURATION_GLUED.fullmatch(nxt):
            self.i += 2
            return _for(int(m[1]), m[2], nxt)
        unit = self.key(2)
        if _INTEGER.fullmatch(nxt) and unit is not None and _DURATION_WORD.fullmatch(unit):
            self.i += 3
            return _for(int(nxt.replace(",", "")), unit, f"{nxt} {unit}")
        return None

    def limit(self) -> _Limit | None:
        start = self.i
        self.i += 1
        amount = self.number()
        if amount is None:
            self.i = start
            return None
        form = None
        nxt = self.key()
        if nxt is not None and nxt in FORMS:
            form = FORMS[nxt]
            self.i += 1
        # "/DAY", "PER DAY", "IN 24H": the limit is always per 24 hours here.
        if self.key() in _PER_DAY:
            self.i += 1
        elif self.key() in ("PER", "A", "IN") and self.key(1) in _DAY:
            self.i += 2
        if amount.value <= 0:
            raise SigError("A maximum of 0 is not a maximum: check the directions.")
        return _Limit(amount, form)

    def prn(self, entry: Entry) -> _Prn:
        # "PRN PAIN", "PRN FOR SEVERE PAIN": every word up to the next code says what for.
        if self.key() == "FOR":
            self.i += 1
        what: list[_Code | _Free] = []
        while self.i < len(self.toks):
            key = self.toks[self.i].key
            found = self.entry()
            if found is not None and found[0].kind is Kind.INDICATION:
                what.append(_Code(found[0]))
                self.i += found[1]
                continue
            if (
                found is not None
                or key in ("NTE", "MAX", "X", "FOR")
                or _number(key) is not None
                or _DURATION.fullmatch(key)
                or self.pattern(key) is not None
                or (key.count("-") == 1 and _number(key.split("-")[0]) is not None)
            ):
                break
            what.append(_Free(self.toks[self.i].raw))
            self.i += 1
        return _Prn(entry, tuple(what))


def _check_hours(n: int, key: str) -> None:
    if not 1 <= n <= _MAX_HOURS:
        raise SigError(
            f'"{key}": an interval is 1 to {_MAX_HOURS} hours (Q1H to Q{_MAX_HOURS}H).',
            token=key,
        )


def _for(n: int, unit: str, typed: str) -> _For:
    weeks = unit.startswith("W")
    days = n * 7 if weeks else n
    if not 1 <= days <= _MAX_DURATION_DAYS:
        raise SigError(f'"{typed}": a duration is 1 to {_MAX_DURATION_DAYS} days.', token=typed)
    return _For(n, weeks)


# --- rendering ------------------------------------------------------------------------


def _amount(high: _Num, low: _Num | None, form: Entry | None, lang: str) -> str:
    def shown(num: _Num) -> str:
        if form is not None and form.to_unit != 1:
            return _fmt(num.value * form.to_unit)
        return num.shown

    number = shown(high)
    if low is not None:
        number = TEMPLATES["range"][lang].format(low=shown(low), high=number)
    if form is None:
        return number
    value = high.value * form.to_unit
    # USP <17>: "Take ½ tablet", "Take 1 tablet", "Take 1 to 2 tablets".
    noun = form.text[lang] if value <= 1 else form.plural[lang]
    return f"{number} {noun}"


def _render_part(part: _Part, verb: Entry, lang: str) -> str:
    if isinstance(part, _Verb):  # a second verb, inside multi-step directions
        return part.entry.text[lang].lower()
    if isinstance(part, _Dose):
        return _amount(part.high, part.low, part.form, lang)
    if isinstance(part, _Code):
        if part.entry.code == "INH" and verb.code == "INHALE":
            return ""  # "Inhale 2 puffs", not "Inhale 2 puffs by inhalation"
        return part.entry.text[lang]
    if isinstance(part, _Every):
        if part.days:
            return TEMPLATES["every_days"][lang].format(n=part.low)
        if part.high is not None:
            return TEMPLATES["every_hours_range"][lang].format(low=part.low, high=part.high)
        if part.low == 1:
            return TEMPLATES["every_hour"][lang]
        return TEMPLATES["every_hours"][lang].format(n=part.low)
    if isinstance(part, _For):
        if part.weeks:
            name = "for_week" if part.n == 1 else "for_weeks"
        else:
            name = "for_day" if part.n == 1 else "for_days"
        return TEMPLATES[name][lang].format(n=_fmt(Decimal(part.n)))
    if isinstance(part, _Free):
        return part.raw
    if isinstance(part, _Prn):
        if not part.what:
            return part.entry.text[lang]
        what = " ".join(_render_part(w, verb, lang) for w in part.what)
        return TEMPLATES["prn_for"][lang].format(what=what)
    return ""  # _Limit: a sentence of its own


def _sentence(pieces: list[str]) -> str:
    body = " ".join(p for p in pieces if p).rstrip(" .,;:")
    return body[:1].upper() + body[1:] + "."


# --- canonical code string --------------------------------------------------------------


def _code_of(entry: Entry) -> str:
    # A form standing alone needs a spelling that is not also a verb: SPRAY alone is the
    # verb, so the form is written SPRAYS.
    if LOOKUP.get(entry.code) is entry:
        return entry.code
    return next(a for a in entry.aliases if LOOKUP.get(a) is entry)


def _canonical_part(part: _Part) -> str:
    if isinstance(part, _Verb | _Code):
        return _code_of(part.entry)
    if isinstance(part, _Dose):
        number = part.high.typed
        if part.low is not None:
            # "1-2", but "1 TO 1 1/2": a hyphen would swallow only half a mixed number.
            joint = " TO " if " " in part.low.typed + part.high.typed else "-"
            number = f"{part.low.typed}{joint}{part.high.typed}"
        return number if part.form is None else f"{number} {part.form.code}"
    if isinstance(part, _Every):
        letter = "D" if part.days else "H"
        span = f"{part.low}" if part.high is None else f"{part.low}-{part.high}"
        return f"Q{span}{letter}"
    if isinstance(part, _For):
        return f"X{part.n}{'WK' if part.weeks else 'D'}"
    if isinstance(part, _Free):
        return part.raw
    if isinstance(part, _Prn):
        return " ".join([part.entry.code, *(_canonical_part(w) for w in part.what)])
    # "/DAY" closes the limit, so a code typed after it is not read as the limit's form.
    form = f" {part.form.code}" if part.form is not None else ""
    return f"NTE {part.amount.typed}{form}/DAY"


# --- the public function --------------------------------------------------------------


def expand(text: str, *, language: str = "en") -> SigResult:
    """Expand typed sig codes into label directions in ``language`` ("en" or "es").

    Raises ``SigError`` (field "directions") for empty input, Do-Not-Use abbreviations,
    trailing zeros, naked decimals, doses of 0 or of an absurd size, contradictions
    (two frequencies, "OD" next to a tablet); ``SigError`` (field "language") for a
    language without a column in the table.
    """
    if language not in LANGUAGES:
        raise SigError(f"Directions can be printed in: {', '.join(LANGUAGES)}.", field="language")
    if not isinstance(text, str) or not text.strip():
        raise SigError("Type the directions, e.g. 1 T PO BID.")
    if len(text) > MAX_LENGTH:
        raise SigError(f"Directions are limited to {MAX_LENGTH:,} characters.")
    _refuse_bad_decimals(text)
    toks = _tokens(text)
    for tok in toks:
        _refuse_do_not_use(tok)
    parts = _Parser(toks).parse()
    return _result(parts, language)


def _result(parts: list[_Part], lang: str) -> SigResult:
    verbs = [p.entry for p in parts if isinstance(p, _Verb)]
    doses = [p for p in parts if isinstance(p, _Dose)]
    codes = [p.entry for p in parts if isinstance(p, _Code)]
    codes += [w.entry for p in parts if isinstance(p, _Prn) for w in p.what if isinstance(w, _Code)]
    routes = [e for e in codes if e.kind is Kind.ROUTE]
    sites = [e for e in codes if e.kind is Kind.SITE]
    steps = any(e.code == "THEN" for e in codes)
    complex_ = steps or len(doses) > 1 or len({v.code for v in verbs}) > 1

    for each in doses:
        _check_dose(each)
    _check_site(sites, routes, doses)

    verb = verbs[0] if verbs else _infer_verb(routes, sites, doses)
    body: list[_Part] = []
    first_verb_seen = False
    for part in parts:
        if isinstance(part, _Verb) and not first_verb_seen:
            first_verb_seen = True
            continue
        if isinstance(part, _Verb) and part.entry.code == verb.code:
            continue  # "TAKE 1 T PO TAKE": said once
        body.append(part)
    pieces = [verb.text[lang], *(_render_part(p, verb, lang) for p in body)]
    sentences = [_sentence(pieces)]

    dose_unit: str | None = None
    dose: Decimal | None = None
    dose_min: Decimal | None = None
    if len(doses) == 1 and not complex_:
        only = doses[0]
        factor = only.form.to_unit if only.form is not None else Decimal(1)
        dose = _plain(only.high.value * factor)
        dose_min = _plain((only.low or only.high).value * factor)
        dose_unit = only.form.unit if only.form is not None else None

    per_day = None if steps else _per_day(parts)
    durations = [p for p in parts if isinstance(p, _For)]
    if len(durations) > 1 and not steps:
        raise SigError(
            "The directions give two durations: type one (e.g. X7D).",
            token=" ".join(_canonical_part(d) for d in durations),
        )
    duration = sum(d.days for d in durations) if durations else None
    site_count = max((e.sites for e in sites), default=1)

    max_daily = None
    if dose is not None and per_day is not None:
        max_daily = dose * per_day * site_count
    for limit in (p for p in parts if isinstance(p, _Limit)):
        form = limit.form or (doses[0].form if len(doses) == 1 else None)
        amount = _amount(limit.amount, None, form, lang)
        name = "limit_take" if verb.code == "TAKE" else "limit_use"
        sentences.append(TEMPLATES[name][lang].format(amount=amount))
        factor = form.to_unit if form is not None else Decimal(1)
        cap = limit.amount.value * factor
        same_unit = form is not None and form.unit == dose_unit
        if same_unit and not complex_:
            max_daily = cap if max_daily is None else min(max_daily, cap)

    flags = _flags(parts, codes, complex_, per_day, steps)
    return SigResult(
        text=" ".join(sentences),
        language=lang,
        canonical=" ".join(_canonical_part(p) for p in parts),
        flags=flags,
        dose=dose,
        dose_min=dose_min,
        dose_unit=dose_unit,
        frequency_per_day=per_day,
        prn=any(isinstance(p, _Prn) for p in parts),
        max_daily_doses=_plain(max_daily) if max_daily is not None else None,
        duration_days=duration,
        site_count=site_count,
        route=routes[0].code if routes else None,
    )


def _check_dose(dose: _Dose) -> None:
    form = dose.form
    factor = form.to_unit if form is not None else Decimal(1)
    label = dose.typed
    for num in (dose.low, dose.high):
        if num is not None and num.value == 0:
            raise SigError(
                f'"{label}": a dose of 0 is not a dose: type the amount taken each time.',
                token=label,
            )
    limit = form.max_dose if form is not None and form.max_dose is not None else _MAX_BARE_DOSE
    if dose.high.value * factor > limit:
        what = f"{_fmt(limit)} {form.plural['en']}" if form is not None else _fmt(limit)
        raise SigError(f'"{label}" is more than {what} at a time: check the dose.', token=label)


def _check_site(sites: list[Entry], routes: list[Entry], doses: list[_Dose]) -> None:
    oral = [e.code for e in routes if e.oral]
    oral += [d.form.code for d in doses if d.form is not None and d.form.oral]
    for site in sites:
        if site.organ is not None and oral:
            raise SigError(
                f'{site.code} means "{site.text["en"]}", but {oral[0]} is taken by mouth: '
                "for once daily type DAILY.",
                token=site.code,
            )


def _infer_verb(routes: list[Entry], sites: list[Entry], doses: list[_Dose]) -> Entry:
    # §4.2: the verb follows the route first ("1 T SL" → Place), then the site ("1 GTT
    # OU" → Instill), then the dose form ("2 PUFFS" → Inhale).
    for entry in (*routes, *sites):
        if entry.verb is not None:
            return LOOKUP[entry.verb]
    for dose in doses:
        if dose.form is not None and dose.form.verb is not None:
            return LOOKUP[dose.form.verb]
    return LOOKUP["TAKE"] if doses else LOOKUP["USE"]


def _per_day(parts: list[_Part]) -> Decimal | None:
    # A time of day alone adds a dose ("QAM AND QHS" = 2). Next to a frequency it only
    # says when ("DAILY QAM" = 1), unless joined by AND ("BID AND QHS" = 3).
    fixed: list[tuple[str, Decimal]] = []
    times = Decimal(0)
    extra = Decimal(0)
    previous: _Part | None = None
    for part in parts:
        if isinstance(part, _Every):
            fixed.append((_canonical_part(part), part.per_day))
        elif isinstance(part, _Code) and part.entry.per_day is not None:
            if part.entry.kind is Kind.FREQUENCY:
                fixed.append((part.entry.code, part.entry.per_day))
            else:
                times += part.entry.per_day
                if isinstance(previous, _Code) and previous.entry.code == "AND":
                    extra += part.entry.per_day
        previous = part
    if len(fixed) > 1:
        both = " and ".join(code for code, _ in fixed)
        raise SigError(f"The directions give two frequencies ({both}): type one.", token=both)
    if fixed:
        return fixed[0][1] + extra
    return times or None


def _flags(
    parts: list[_Part],
    codes: list[Entry],
    complex_: bool,
    per_day: Decimal | None,
    steps: bool,
) -> tuple[SigFlag, ...]:
    flags: list[SigFlag] = []
    seen: set[str] = set()
    for entry in codes:
        if entry.error_prone and entry.code not in seen:
            seen.add(entry.code)
            flags.append(
                SigFlag(
                    SigFlagCode.ERROR_PRONE,
                    f"{entry.code} is on ISMP's list of error-prone abbreviations "
                    f'({entry.error_prone}); the label says "{entry.text["en"]}": check '
                    "that is what the prescriber meant.",
                    entry.code,
                )
            )
    free = [p.raw for p in parts if isinstance(p, _Free)]
    free += [w.raw for p in parts if isinstance(p, _Prn) for w in p.what if isinstance(w, _Free)]
    if free:
        words = " ".join(free)
        flags.append(
            SigFlag(
                SigFlagCode.FREE_TEXT,
                f'Not understood, printed as typed: "{words}". For the pharmacist\'s attention.',
                words,
            )
        )
    directed = [e for e in codes if e.kind is Kind.AS_DIRECTED]
    if directed:
        flags.append(
            SigFlag(
                SigFlagCode.AS_DIRECTED,
                '"As directed" tells the patient nothing (USP <17>): get explicit '
                "directions from the prescriber where possible.",
                directed[0].code,
            )
        )
    if complex_:
        flags.append(
            SigFlag(
                SigFlagCode.COMPLEX,
                "More than one dose or step: check the days supply by hand.",
            )
        )
    one_time = any(e.code in ("ONCE", "STAT") for e in codes)
    if per_day is None and not directed and not one_time and not steps:
        flags.append(
            SigFlag(
                SigFlagCode.INCOMPLETE,
                "No frequency: days supply cannot be worked out from these directions.",
            )
        )
    return tuple(flags)
