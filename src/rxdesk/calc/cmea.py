"""CMEA arithmetic (21 U.S.C. 830(e), 21 CFR 1314): which ingredients are scheduled listed
chemicals, how much *base* a dosage unit holds, and how much a purchaser may still buy.

Pure: no Django, Decimal only. The limits count base drug, not salt (reference
controlled-substances.md §7): ``base mg = units × salt mg per unit × factor``; a limit turned
into a count of units is rounded DOWN. Base per unit is rounded UP (to 0.0001 mg) and a
purchase's base UP to the cent of a milligram, so rounding never lets a purchaser past a
limit."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import ROUND_DOWN, ROUND_UP, Decimal, InvalidOperation

# Molecular weights (g/mol) the factors come from (reference §7.2).
MW_PSE_BASE = Decimal("165.23")  # pseudoephedrine and ephedrine are stereoisomers
MW_HCL_SALT = Decimal("201.69")
MW_SULFATE_SALT = Decimal("428.54")  # (base)2·H2SO4: two bases per formula unit
MW_PPA_BASE = Decimal("151.21")
MW_PPA_HCL = Decimal("187.67")

# The factors as published (reference §7.2 table), the ones the limits are enforced with.
# Derived from the weights above they are 0.81923, 0.77113 and 0.80572; the HCl factor is
# published rounded up to 0.8193, which counts a hair more base: the stricter side.
FACTOR_HCL = Decimal("0.8193")
FACTOR_SULFATE = Decimal("0.7711")
FACTOR_PPA_HCL = Decimal("0.8057")

# Federal limits in mg of base (21 U.S.C. 830(d)); a state may set lower ones.
DAILY_MG = Decimal("3600")
THIRTY_DAY_MG = Decimal("9000")
MAIL_THIRTY_DAY_MG = Decimal("7500")

BASE_QUANTUM = Decimal("0.0001")  # Product.cmea_base_mg keeps four decimals
ENTRY_QUANTUM = Decimal("0.01")  # PseEntry.base_mg keeps two

_BASES = {
    "PSEUDOEPHEDRINE": "pseudoephedrine",
    "EPHEDRINE": "ephedrine",
    "RACEPHEDRINE": "ephedrine",  # racemic ephedrine: an optical isomer mix, still listed
    "PHENYLPROPANOLAMINE": "phenylpropanolamine",
}
_HCL_WORDS = frozenset({"HYDROCHLORIDE", "HCL", "HCI"})  # "HCI" is a common typo of HCl
_SULFATE_WORDS = frozenset({"SULFATE", "SULPHATE"})


class CmeaError(ValueError):
    """An ingredient that is a listed chemical but whose amount cannot be worked out."""


@dataclass(frozen=True)
class Salt:
    """A listed chemical in one salt form, and its base fraction by weight."""

    base: str  # pseudoephedrine, ephedrine, phenylpropanolamine
    form: str  # hydrochloride, sulfate, base
    factor: Decimal

    @property
    def label(self) -> str:
        return self.base if self.form == "base" else f"{self.base} {self.form}"


def factor_from_weights(base_mw: Decimal, salt_mw: Decimal, bases_per_salt: int = 1) -> Decimal:
    """Base ÷ salt by weight (unrounded)."""
    return base_mw * bases_per_salt / salt_mw


def _words(name: str) -> list[str]:
    return [w for w in re.split(r"[^A-Z]+", (name or "").upper()) if w]


def salt_of(name: str) -> Salt | None:
    """The listed chemical an FDA ingredient name ('PSEUDOEPHEDRINE HYDROCHLORIDE',
    'Pseudoephedrine HCl', 'EPHEDRINE SULFATE', 'PSEUDOEPHEDRINE') is, or None when it is not
    one ('METHYLEPHEDRINE HYDROCHLORIDE' is not: it is a different chemical). Raises
    CmeaError for a listed base in a salt whose factor is not known here (say a tannate):
    such a product must not pass as an ordinary OTC item."""
    words = _words(name)
    if not words or words[0] not in _BASES:
        return None
    base = _BASES[words[0]]
    rest = set(words[1:])
    if base == "phenylpropanolamine":
        if rest & _HCL_WORDS:
            return Salt(base, "hydrochloride", FACTOR_PPA_HCL)
        if not rest:
            return Salt(base, "base", Decimal(1))
        raise CmeaError(f"No base factor is known for {name.strip()}.")
    if rest & _HCL_WORDS:
        return Salt(base, "hydrochloride", FACTOR_HCL)
    if rest & _SULFATE_WORDS:
        return Salt(base, "sulfate", FACTOR_SULFATE)
    if not rest:
        return Salt(base, "base", Decimal(1))
    raise CmeaError(f"No base factor is known for {name.strip()}.")


def is_listed(name: str) -> bool:
    """Whether an ingredient name is pseudoephedrine, ephedrine or phenylpropanolamine in any
    salt (known factor or not)."""
    words = _words(name)
    return bool(words) and words[0] in _BASES


_MASS_MG = {"MG": Decimal(1), "G": Decimal(1000), "MCG": Decimal("0.001"), "UG": Decimal("0.001")}
_VOLUME_ML = {"ML": Decimal(1), "L": Decimal(1000)}
_DENOMINATOR = re.compile(r"^([0-9]*\.?[0-9]*)\s*([A-Z]*)$")


def _decimal(text: str, what: str) -> Decimal:
    try:
        value = Decimal(text.strip())
    except (InvalidOperation, AttributeError):
        raise CmeaError(f"The {what} {text!r} is not a number.") from None
    if not value.is_finite() or value <= 0:
        raise CmeaError(f"The {what} {text!r} must be more than zero.")
    return value


def salt_mg_per_unit(strength: str, unit: str) -> Decimal:
    """Salt mg per billing unit from the directory's strength and unit: "120" "mg/1" is 120
    per tablet; "30" "mg/5mL" is 6 per mL; "5" "mg/mL" is 5 per mL; "60" "mg/350mg" is 60 per
    dosage unit (the 350 mg is what one capsule weighs, and such packages are counted)."""
    amount = _decimal(strength, "strength")
    numerator, slash, denominator = (unit or "").upper().replace(" ", "").partition("/")
    if numerator not in _MASS_MG or not slash:
        raise CmeaError(f"The strength unit {unit!r} is not a weight per dose or per volume.")
    match = _DENOMINATOR.match(denominator)
    if match is None:
        raise CmeaError(f"The strength unit {unit!r} cannot be read.")
    count_text, per = match.groups()
    count = _decimal(count_text, "strength unit") if count_text else Decimal(1)
    mg = amount * _MASS_MG[numerator]
    if per == "":
        return mg / count  # per dosage unit ("mg/1")
    if per in _VOLUME_ML:
        return mg / (count * _VOLUME_ML[per])  # per mL
    if per in _MASS_MG:
        return mg  # per dosage unit of the stated weight
    raise CmeaError(f"The strength unit {unit!r} is not a weight per dose or per volume.")


def base_mg_per_unit(name: str, strength: str, unit: str) -> Decimal | None:
    """Base mg per tablet/capsule (or per mL of a liquid) for one ingredient; None when the
    ingredient is not a listed chemical. Rounded up to 0.0001 mg."""
    salt = salt_of(name)
    if salt is None:
        return None
    return (salt_mg_per_unit(strength, unit) * salt.factor).quantize(BASE_QUANTUM, ROUND_UP)


def product_base_mg(ingredients: list[tuple[str, str, str]]) -> Decimal | None:
    """Base mg per unit of a product from its (name, strength, unit) ingredients: the sum
    over its listed chemicals (one in every real product), None when it has none."""
    total: Decimal | None = None
    for name, strength, unit in ingredients:
        base = base_mg_per_unit(name, strength, unit)
        if base is not None:
            total = base if total is None else total + base
    return total


def purchase_base_mg(base_per_unit: Decimal, units: Decimal) -> Decimal:
    """Base mg of ``units`` dosage units (or mL), rounded up to the logbook's 0.01 mg."""
    return (base_per_unit * units).quantize(ENTRY_QUANTUM, ROUND_UP)


# --- Limits ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Limits:
    """Base mg a purchaser may buy: per calendar day, per trailing 30 days, and of those by
    mail order or from a mobile vendor."""

    daily_mg: Decimal = DAILY_MG
    thirty_day_mg: Decimal = THIRTY_DAY_MG
    mail_thirty_day_mg: Decimal = MAIL_THIRTY_DAY_MG


@dataclass(frozen=True)
class History:
    """What the purchaser already bought (base mg, entries not voided)."""

    today_mg: Decimal = Decimal(0)
    thirty_day_mg: Decimal = Decimal(0)
    mail_thirty_day_mg: Decimal = Decimal(0)


@dataclass(frozen=True)
class Decision:
    allowed: bool
    requested_mg: Decimal
    today_after_mg: Decimal
    thirty_day_after_mg: Decimal
    left_today_mg: Decimal
    left_thirty_day_mg: Decimal
    max_units: int  # whole units (tablets, or mL) still allowed now
    broken: str  # "" when allowed, else "daily", "30-day" or "mail"
    limit_mg: Decimal  # the limit that was broken (0 when allowed)


def left_mg(history: History, limits: Limits, *, mail_order: bool = False) -> tuple[Decimal, ...]:
    """(left today, left in the 30 days) in base mg, never below zero. By mail the 30 days
    are also capped by what is left of the mail limit."""
    today = max(limits.daily_mg - history.today_mg, Decimal(0))
    thirty = max(limits.thirty_day_mg - history.thirty_day_mg, Decimal(0))
    if mail_order:
        thirty = min(
            thirty, max(limits.mail_thirty_day_mg - history.mail_thirty_day_mg, Decimal(0))
        )
    return today, thirty


def max_units(
    base_per_unit: Decimal, history: History, limits: Limits, *, mail_order: bool = False
) -> int:
    """The most whole units (tablets, or mL) still allowed now, rounded down."""
    if base_per_unit <= 0:
        raise CmeaError("The base per unit must be more than zero.")
    today, thirty = left_mg(history, limits, mail_order=mail_order)
    return int((min(today, thirty) / base_per_unit).to_integral_value(rounding=ROUND_DOWN))


def decide(
    *,
    base_per_unit: Decimal,
    units: Decimal,
    history: History,
    limits: Limits,
    mail_order: bool = False,
) -> Decision:
    """Whether ``units`` more units fit under every limit, with what is left and the most
    whole units still allowed (for the refusal message)."""
    requested = purchase_base_mg(base_per_unit, units)
    today_after = history.today_mg + requested
    thirty_after = history.thirty_day_mg + requested
    broken, limit = "", Decimal(0)
    if today_after > limits.daily_mg:
        broken, limit = "daily", limits.daily_mg
    elif thirty_after > limits.thirty_day_mg:
        broken, limit = "30-day", limits.thirty_day_mg
    elif mail_order and history.mail_thirty_day_mg + requested > limits.mail_thirty_day_mg:
        broken, limit = "mail", limits.mail_thirty_day_mg
    today, thirty = left_mg(history, limits, mail_order=mail_order)
    return Decision(
        allowed=not broken,
        requested_mg=requested,
        today_after_mg=today_after,
        thirty_day_after_mg=thirty_after,
        left_today_mg=today,
        left_thirty_day_mg=thirty,
        max_units=max_units(base_per_unit, history, limits, mail_order=mail_order),
        broken=broken,
        limit_mg=limit,
    )


def grams(mg: Decimal) -> str:
    """'3.6 g' from 3600 mg (for messages), up to three decimals, no trailing zeros."""
    value = (mg / 1000).quantize(Decimal("0.001"), ROUND_DOWN).normalize()
    return f"{value:f} g"
