"""Days supply: how many days a dispensed quantity lasts at the directed use.

A pure calculator for typing a prescription (issue 5, item 3). It computes the days supply
from the quantity, the dose and how often it is taken, and checks the days supply a
technician typed against it. No Django, no database.

Sources (project reference ``identifiers-labels-math.md`` §5 and §6):

* days supply = quantity ÷ daily use, **rounded down** to whole days (a partial day is not
  billed as a day), and never less than 1; NCPDP field 405-D5 holds at most 3 digits (999).
* tablets/capsules, liquids in mL, eye/ear drops (20 drops per mL by convention; a
  parameter, since real products hold about 15–20), insulin (units per mL, 2-unit priming
  "air shot" per pen injection, in-use discard limits), inhalers and sprays (actuations per
  canister), topicals (grams per application; 1 fingertip unit ≈ 0.5 g, Long & Finlay);
* PRN: the **maximum** daily use the directions allow;
* a stated course ("for 10 days", X10D): the days supply is the course when the quantity
  covers it (bottle overfill is not extra days);
* liquid doses in mL only (ISMP list of error-prone abbreviations: no teaspoons, no "cc";
  "units", never "U").

Arithmetic is exact (``fractions.Fraction`` over ``Decimal`` inputs), so 90 tablets at
2 a day is 45 days, never 44.999… → 44. Results are ``Decimal``/``int``; no float anywhere.

Left out on purpose: tapers and other multi-step directions (sum the steps yourself),
cyclic packs counted by calendar (a 21-tablet contraceptive pack is 28 days), payer
standard days for PRN rescue inhalers, and rounding the quantity up to whole packages
(that is the dispenser's job; we only warn when the quantity is not whole packages).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal
from enum import StrEnum
from fractions import Fraction

from rxdesk.core.errors import Invalid

__all__ = [
    "DEFAULT_DROPS_PER_ML",
    "DEFAULT_GRAMS_PER_FTU",
    "DEFAULT_PEN_PRIMING_UNITS",
    "DEFAULT_TOLERANCE_DAYS",
    "DEFAULT_UNITS_PER_ML",
    "FINGERTIP_UNITS_PER_APPLICATION",
    "MAX_DAYS_SUPPLY",
    "Check",
    "CheckCode",
    "DaysSupply",
    "DaysSupplyError",
    "Directions",
    "ProductFacts",
    "Unit",
    "check_days_supply",
    "days_supply",
    "parse_unit",
]

# Conventional 0.05 mL drop (reference §5.3, §6.13). Products range about 15–20 drops/mL
# and payers may specify their own figure, so it is a per-product parameter.
DEFAULT_DROPS_PER_ML = Decimal(20)
# U-100, the standard insulin concentration (reference §5.4).
DEFAULT_UNITS_PER_ML = Decimal(100)
# Pen manufacturers' instructions: a 2-unit "safety test" before every injection (§5.4).
DEFAULT_PEN_PRIMING_UNITS = Decimal(2)
# One fingertip unit of cream from a 5 mm nozzle ≈ 0.5 g (Long & Finlay; reference §5.6).
DEFAULT_GRAMS_PER_FTU = Decimal("0.5")
# Adult fingertip units per single application, by body area (Long & Finlay, §5.6).
FINGERTIP_UNITS_PER_APPLICATION: dict[str, Decimal] = {
    "face and neck": Decimal("2.5"),
    "one hand (front and back)": Decimal(1),
    "one arm": Decimal(3),
    "one foot": Decimal(2),
    "one leg": Decimal(6),
    "front of trunk": Decimal(7),
    "back of trunk and buttocks": Decimal(7),
}
# NCPDP Telecommunication D.0 field 405-D5 Days Supply is 3 digits.
MAX_DAYS_SUPPLY = 999
# NCPDP 442-E7 Quantity Dispensed carries at most 3 decimal places.
_QUANTITY_STEP = Decimal("0.001")
# House choice: a typed days supply up to 2 days under the computed one is not flagged
# (month lengths, rounding by the prescriber). Overstating is flagged at any size.
DEFAULT_TOLERANCE_DAYS = 2
# Days supplies a technician types by habit rather than by arithmetic.
_HABIT_DAYS = frozenset({30})


class DaysSupplyError(Invalid):
    """The directions or quantity cannot give a days supply; ``field`` names the input."""

    code = "days_supply_invalid"
    title = "Days supply cannot be computed"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message, field=field)


class Unit(StrEnum):
    """What a quantity or a dose is counted in (NCPDP billing units EA, ML, GM and the
    counting units directions use)."""

    EACH = "EA"  # tablets, capsules, patches, suppositories, test strips
    ML = "ML"
    GM = "GM"
    DROP = "DROP"
    UNIT = "UNIT"  # insulin (and other) units
    ACTUATION = "ACTUATION"  # puffs, sprays, inhalation blisters
    FTU = "FTU"  # fingertip unit of cream or ointment; doses only
    PACKAGE = "PACKAGE"  # pens, vials, canisters, bottles, tubes, packs


class _Family(StrEnum):
    COUNT = "count"
    VOLUME = "volume"
    MASS = "mass"
    ACTUATION = "actuation"
    PACKAGE = "package"


_FAMILY = {
    Unit.EACH: _Family.COUNT,
    Unit.ML: _Family.VOLUME,
    Unit.DROP: _Family.VOLUME,
    Unit.UNIT: _Family.VOLUME,
    Unit.GM: _Family.MASS,
    Unit.FTU: _Family.MASS,
    Unit.ACTUATION: _Family.ACTUATION,
    Unit.PACKAGE: _Family.PACKAGE,
}
# The unit a package's content is stated in, per family.
_BASE = {
    _Family.COUNT: Unit.EACH,
    _Family.VOLUME: Unit.ML,
    _Family.MASS: Unit.GM,
    _Family.ACTUATION: Unit.ACTUATION,
    _Family.PACKAGE: Unit.PACKAGE,
}
# The ProductFacts field that says how much of a family one package holds.
_CONTENT_FIELD = {
    _Family.COUNT: "package_count",
    _Family.VOLUME: "package_ml",
    _Family.MASS: "package_grams",
    _Family.ACTUATION: "actuations_per_package",
}
_CONTENT_WORDS = {
    _Family.COUNT: "how many it holds (EA)",
    _Family.VOLUME: "its volume in mL",
    _Family.MASS: "its weight in grams",
    _Family.ACTUATION: "its number of actuations (puffs or sprays)",
}

# ISMP "do not use" and error-prone units: refuse them with the reason rather than convert.
_REFUSED_UNITS = {
    "tsp": "Liquid doses are measured in mL only (ISMP): write 5 mL, not 1 teaspoon.",
    "teaspoon": "Liquid doses are measured in mL only (ISMP): write 5 mL, not 1 teaspoon.",
    "teaspoonful": "Liquid doses are measured in mL only (ISMP): write 5 mL, not 1 teaspoon.",
    "tbsp": "Liquid doses are measured in mL only (ISMP): write 15 mL, not 1 tablespoon.",
    "tablespoon": "Liquid doses are measured in mL only (ISMP): write 15 mL, not 1 tablespoon.",
    "tablespoonful": "Liquid doses are measured in mL only (ISMP): write 15 mL, not 1 tablespoon.",
    "cc": "Write mL, not cc: 'cc' is read as 'u' (ISMP error-prone abbreviation).",
    "u": "Write 'units' in full: 'U' is misread as 0 or 4 (ISMP do-not-use list).",
    "iu": "Write 'units' in full: 'IU' is misread as IV or 10 (ISMP do-not-use list).",
}
_UNIT_ALIASES = {
    Unit.EACH: ("ea", "each", "tab", "tabs", "tablet", "tablets", "cap", "caps", "capsule",
                "capsules", "patch", "patches", "suppository", "suppositories", "strip",
                "strips"),
    Unit.ML: ("ml", "milliliter", "milliliters", "millilitre", "millilitres"),
    Unit.GM: ("g", "gm", "gram", "grams"),
    Unit.DROP: ("drop", "drops", "gtt", "gtts"),
    Unit.UNIT: ("unit", "units"),
    Unit.ACTUATION: ("actuation", "actuations", "puff", "puffs", "spray", "sprays",
                     "inhalation", "inhalations", "blister", "blisters"),
    Unit.FTU: ("ftu", "fingertip unit", "fingertip units"),
    Unit.PACKAGE: ("package", "packages", "pkg", "pen", "pens", "vial", "vials", "canister",
                   "canisters", "inhaler", "inhalers", "bottle", "bottles", "tube", "tubes",
                   "pack", "packs", "box", "boxes", "cartridge", "cartridges"),
}  # fmt: skip
_ALIAS_TO_UNIT = {alias: unit for unit, names in _UNIT_ALIASES.items() for alias in names}
_ALIAS_TO_UNIT.update({unit.value.lower(): unit for unit in Unit})

# Typo guards, not regulations: a larger number is almost surely a keying error.
_MAX_QUANTITY = {
    Unit.EACH: Decimal(10_000),
    Unit.ML: Decimal(10_000),
    Unit.GM: Decimal(5_000),
    Unit.DROP: Decimal(100_000),
    Unit.UNIT: Decimal(100_000),
    Unit.ACTUATION: Decimal(10_000),
    Unit.PACKAGE: Decimal(100),
}
_MAX_DOSE = {
    Unit.EACH: Decimal(50),
    Unit.ML: Decimal(1_000),
    Unit.GM: Decimal(100),
    Unit.DROP: Decimal(10),
    Unit.UNIT: Decimal(1_000),
    Unit.ACTUATION: Decimal(20),
    Unit.FTU: Decimal(40),  # about the whole adult body (reference §5.6)
    Unit.PACKAGE: Decimal(10),
}
# Smallest step a dose can be measured in: quarter tablets, whole drops and puffs,
# half units (half-unit pens and syringes, reference §6.14).
_DOSE_STEP = {
    Unit.EACH: Fraction(1, 4),
    Unit.DROP: Fraction(1),
    Unit.ACTUATION: Fraction(1),
    Unit.UNIT: Fraction(1, 2),
}
_MAX_PER_DAY = 48  # every 30 minutes (e.g. bowel preparation)


@dataclass(frozen=True, kw_only=True)
class Directions:
    """What the prescription says, as numbers.

    ``quantity``/``quantity_unit`` is the quantity dispensed. ``dose``/``dose_unit`` is one
    administration, per side when ``sides`` is 2 ("1 drop in each eye": dose 1 DROP,
    sides 2). How often: exactly one of ``per_day`` (times a day; for PRN the **maximum**
    a day), ``every_hours`` (q4h → 6 a day) or ``every_days`` (weekly → 7). ``duration_days``
    is a stated course ("x10 days"). ``form`` is the word for one EA item in the
    explanation ("tablet", "capsule", "patch").
    """

    quantity: Decimal
    quantity_unit: Unit | str
    dose: Decimal
    dose_unit: Unit | str
    per_day: Decimal | None = None
    every_hours: Decimal | None = None
    every_days: Decimal | None = None
    sides: int = 1
    prn: bool = False
    duration_days: int | None = None
    form: str = "tablet"


@dataclass(frozen=True, kw_only=True)
class ProductFacts:
    """Facts about the product, from the catalog, needed for some dosage forms.

    ``drops_per_ml`` defaults to the conventional 20; ``units_per_ml`` to U-100.
    ``pen`` turns on the default 2-unit priming per injection; ``priming_units`` overrides
    it (0 for none). A package (``package_noun``: pen, vial, canister, bottle, tube) is
    described by what it holds: ``package_ml``, ``package_grams``, ``package_count``,
    ``actuations_per_package`` — give the ones the conversion needs. ``in_use_days`` is how
    long an opened package may be used (28 days for many insulins). ``grams_per_ftu``
    is the weight assumed for one fingertip unit.
    """

    drops_per_ml: Decimal = DEFAULT_DROPS_PER_ML
    units_per_ml: Decimal = DEFAULT_UNITS_PER_ML
    pen: bool = False
    priming_units: Decimal | None = None
    package_noun: str = "package"
    package_ml: Decimal | None = None
    package_grams: Decimal | None = None
    package_count: int | None = None
    actuations_per_package: int | None = None
    in_use_days: int | None = None
    grams_per_ftu: Decimal = DEFAULT_GRAMS_PER_FTU


@dataclass(frozen=True)
class DaysSupply:
    """The computed days supply.

    ``days`` is whole days, rounded down, at least 1. ``exact_days`` is the unrounded
    value before the course and in-use limits (to 2 places, cut not rounded).
    ``daily_use`` is in the quantity's unit (4 decimals at most). ``days_per_package`` is
    how long one package lasts, when the package size is known. ``basis`` shows the sum.
    """

    days: int
    exact_days: Decimal
    daily_use: Decimal
    quantity_unit: Unit
    basis: str
    warnings: tuple[str, ...] = ()
    days_per_package: Decimal | None = None


class CheckCode(StrEnum):
    MATCHES = "matches"
    WITHIN_TOLERANCE = "within_tolerance"
    OVERSTATED = "overstated"
    UNDERSTATED = "understated"
    HABIT_DEFAULT = "habit_default"


@dataclass(frozen=True)
class Check:
    """The typed days supply against the computed one; ``ok`` is False when it needs a look."""

    ok: bool
    code: CheckCode
    typed_days: int
    computed_days: int
    message: str


def parse_unit(text: str, *, field: str = "dose_unit") -> Unit:
    """The ``Unit`` for what a technician typed ("tab", "mL", "puffs", "pen").

    Teaspoons, tablespoons, "cc", "U" and "IU" are refused with the ISMP reason.
    """
    key = " ".join(text.strip().lower().rstrip(".").split())
    if key in _REFUSED_UNITS:
        raise DaysSupplyError(field, _REFUSED_UNITS[key])
    try:
        return _ALIAS_TO_UNIT[key]
    except KeyError:
        raise DaysSupplyError(
            field,
            f"'{text}' is not a unit days supply can count; use tablets/capsules (EA), mL, "
            "g, drops, units, puffs/sprays, fingertip units or packages.",
        ) from None


def days_supply(directions: Directions, product: ProductFacts | None = None) -> DaysSupply:
    """Compute the days supply of ``directions`` for a product with ``product``'s facts.

    Raises ``DaysSupplyError`` naming the field for a missing, zero, negative or absurd
    number, a missing frequency, or units that cannot be compared (tablets against mL).
    """
    facts = product or ProductFacts()
    d = directions
    qunit, dunit = _unit(d.quantity_unit, "quantity_unit"), _unit(d.dose_unit, "dose_unit")
    if qunit is Unit.FTU:
        raise DaysSupplyError(
            "quantity_unit", "Fingertip units measure a dose; give the quantity in grams."
        )
    quantity = _positive(d.quantity, "quantity", "The quantity dispensed")
    if quantity > _MAX_QUANTITY[qunit]:
        raise DaysSupplyError(
            "quantity",
            f"{_num(quantity)} {_noun(qunit, 2, d.form, facts)} is more than any one fill; "
            "check the quantity.",
        )
    if quantity != quantity.quantize(_QUANTITY_STEP):
        raise DaysSupplyError(
            "quantity", "A quantity dispensed has at most 3 decimal places (NCPDP 442-E7)."
        )
    dose = _positive(d.dose, "dose", "The dose")
    if dose > _MAX_DOSE[dunit]:
        raise DaysSupplyError(
            "dose",
            f"A dose of {_num(dose)} {_noun(dunit, 2, d.form, facts)} is not plausible; "
            "check the directions.",
        )
    step = _DOSE_STEP.get(dunit)
    if step is not None and Fraction(dose) % step:
        raise DaysSupplyError("dose", _STEP_MESSAGE[dunit])
    if dunit is Unit.EACH and dose != dose.to_integral_value() and d.form.lower() != "tablet":
        raise DaysSupplyError("dose", f"Only tablets are split; give whole {_plural(d.form)}.")
    per_day, freq_text = _frequency(d)
    if not isinstance(d.sides, int) or isinstance(d.sides, bool) or not 1 <= d.sides <= 2:
        raise DaysSupplyError(
            "sides", "A dose goes into one side or both (eyes, ears, nostrils): 1 or 2."
        )
    if d.duration_days is not None:
        _whole(d.duration_days, "duration_days", "The course length in days", MAX_DAYS_SUPPLY)
    priming = _priming(facts, dunit)

    total, total_text, packages = _convert_quantity(quantity, qunit, dunit, d.form, facts)
    per_dose = Fraction(dose) * d.sides + priming
    daily = per_dose * per_day  # in dose units
    exact = total / daily
    warnings: list[str] = []
    notes: list[str] = []

    effective = exact
    days_per_package: Fraction | None = None
    content = _package_content_in(dunit, facts)
    if content is not None:
        days_per_package = content / daily
    if facts.in_use_days is not None:
        in_use = _whole(facts.in_use_days, "in_use_days", "The in-use (opened) limit", 365)
        pkg = facts.package_noun
        if days_per_package is not None and packages is not None:
            if days_per_package > in_use:
                # Reference §5.4: an opened pen/vial is discarded after its in-use life, so
                # each package covers at most that many days; billing more overstates.
                effective = packages * in_use
                notes.append(
                    f"one {pkg} lasts {_days(days_per_package)} days but is discarded "
                    f"{in_use} days after opening: {_num(packages)} "
                    f"{_noun(Unit.PACKAGE, packages, d.form, facts)} × {in_use} days"
                )
                warnings.append(
                    f"Each {pkg} would last {_days(days_per_package)} days, but an opened "
                    f"{pkg} must be discarded after {in_use} days; days supply is limited "
                    f"to {_num(packages)} {_noun(Unit.PACKAGE, packages, d.form, facts)} × "
                    f"{in_use} = {math.floor(effective)} days."
                )
        elif exact > in_use:
            warnings.append(
                f"An opened {pkg} must be discarded after {in_use} days; give the {pkg} "
                f"size so the days supply can be limited per {pkg}."
            )
    if packages is not None and packages.denominator != 1 and qunit is not Unit.PACKAGE:
        warnings.append(
            f"{_num(quantity)} {_noun(qunit, quantity, d.form, facts)} is "
            f"{_num(packages)} {_noun(Unit.PACKAGE, packages, d.form, facts)}; "
            f"a {facts.package_noun} is dispensed whole."
        )
    if dunit is Unit.EACH and Fraction(dose).denominator != 1:
        warnings.append(
            f"Part-{d.form} dose: split only a scored {d.form} that is not extended-release "
            "or enteric-coated."
        )
    if d.duration_days is not None:
        course = d.duration_days
        if effective >= course:
            if effective > course:
                notes.append(f"the course is {course} days (the quantity would last longer)")
            excess = total - daily * course
            if qunit is Unit.EACH and dunit is Unit.EACH and excess > 0:
                # Counted solids are dispensed to the dose (unlike a bottle that cannot be
                # split): extra tablets of a course are a keying error or a leftover supply.
                warnings.append(
                    f"The quantity is {_num(excess)} {_noun(Unit.EACH, excess, d.form)} more "
                    f"than the {course}-day course needs; check the quantity."
                )
            effective = Fraction(course)
        else:
            warnings.append(
                f"The quantity lasts only {math.floor(effective)} days of the {course}-day "
                "course; check the quantity or the directions."
            )
    days = math.floor(effective)
    if days > MAX_DAYS_SUPPLY:
        raise DaysSupplyError(
            "quantity",
            f"This quantity would last {days:,} days; a claim allows at most "
            f"{MAX_DAYS_SUPPLY} (NCPDP 405-D5). Check the quantity and the directions.",
        )
    if days < 1:
        days = 1
        warnings.append(
            f"The quantity lasts less than a day ({_days(effective)}); days supply is 1, "
            "the least a claim allows."
        )

    dose_text = f"{_num(dose)} {_noun(dunit, dose, d.form, facts)}"
    if d.sides == 2:
        dose_text += " × 2 sides"
    if priming:
        dose_text = f"({dose_text} + {_num(priming)} priming {_noun(Unit.UNIT, priming)})"
    daily_text = f"{'at most ' if d.prn else ''}{dose_text} {freq_text}"
    if d.prn:
        daily_text += ", as needed"
    basis = f"{total_text} ÷ ({daily_text}) = {_days(exact)}"
    if exact.denominator != 1:
        basis += f" → {math.floor(exact)}"
    basis += " days"
    for note in notes:
        basis += f"; {note}"
    if math.floor(exact) != days:
        basis += f"; days supply {days}"

    daily_in_quantity_unit = daily * Fraction(quantity) / total
    return DaysSupply(
        days=days,
        exact_days=_to_decimal(exact, "0.01", ROUND_DOWN),
        daily_use=_to_decimal(daily_in_quantity_unit, "0.0001", ROUND_HALF_UP),
        quantity_unit=qunit,
        basis=basis,
        warnings=tuple(warnings),
        days_per_package=(
            None if days_per_package is None else _to_decimal(days_per_package, "0.01", ROUND_DOWN)
        ),
    )


def check_days_supply(
    typed_days: int,
    computed: DaysSupply,
    *,
    tolerance: int = DEFAULT_TOLERANCE_DAYS,
    over_tolerance: int = 0,
) -> Check:
    """Compare the days supply a technician typed with the computed one.

    Up to ``tolerance`` days under is accepted; any day over (beyond ``over_tolerance``,
    0 unless a payer accepts more, as some do for eye drops) is flagged, because payers
    reject an overstated days supply and it delays the patient's next refill. A typed 30
    that the arithmetic does not support gets its own message: it is usually a habit.
    """
    typed = _whole(typed_days, "days_supply", "The days supply", MAX_DAYS_SUPPLY)
    for value, name in ((tolerance, "tolerance"), (over_tolerance, "over_tolerance")):
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise DaysSupplyError(name, "A tolerance is a whole number of days, 0 or more.")
    want = computed.days
    diff = typed - want
    why = computed.basis
    if diff == 0:
        return Check(True, CheckCode.MATCHES, typed, want, f"Days supply {typed} matches.")
    if -tolerance <= diff <= over_tolerance:
        return Check(
            True,
            CheckCode.WITHIN_TOLERANCE,
            typed,
            want,
            f"Days supply {typed} is close to the computed {want} days ({why}).",
        )
    if typed in _HABIT_DAYS:
        return Check(
            False,
            CheckCode.HABIT_DEFAULT,
            typed,
            want,
            f"Days supply {typed} looks like a habit, not the directions: the quantity lasts "
            f"{want} days ({why}). Type {want}.",
        )
    if diff > 0:
        return Check(
            False,
            CheckCode.OVERSTATED,
            typed,
            want,
            f"Days supply {typed} is more than the quantity lasts, {want} days ({why}). "
            f"Payers reject an overstated days supply; type {want}.",
        )
    return Check(
        False,
        CheckCode.UNDERSTATED,
        typed,
        want,
        f"Days supply {typed} is less than the quantity lasts, {want} days ({why}). "
        f"An understated days supply lets refills come too early and fails audits; type {want}.",
    )


# --- helpers ---------------------------------------------------------------------------------

_STEP_MESSAGE = {
    Unit.EACH: "A tablet or capsule dose is whole, half or quarter tablets.",
    Unit.DROP: "A dose of drops is a whole number of drops.",
    Unit.ACTUATION: "A dose of puffs or sprays is a whole number.",
    Unit.UNIT: "An insulin dose is whole or half units.",
}

_FIELD_LIMITS: dict[str, tuple[Decimal, Decimal, str]] = {
    "drops_per_ml": (Decimal(5), Decimal(60), "Drops per mL"),
    "units_per_ml": (Decimal(1), Decimal(10_000), "Units per mL"),
    "package_ml": (Decimal("0.1"), Decimal(5_000), "The package volume"),
    "package_grams": (Decimal("0.1"), Decimal(5_000), "The package weight"),
    "grams_per_ftu": (Decimal("0.1"), Decimal(5), "Grams per fingertip unit"),
}


def _unit(value: Unit | str, field: str) -> Unit:
    if isinstance(value, Unit):
        return value
    if isinstance(value, str):
        return parse_unit(value, field=field)
    raise DaysSupplyError(field, "Give the unit, like EA, ML, GM, drops, units or puffs.")


def _decimal(value: object, field: str, label: str) -> Decimal:
    # Floats are refused, not converted: 0.1 as a float is not 0.1 and the days would drift.
    if isinstance(value, bool) or not isinstance(value, Decimal | int | str):
        raise DaysSupplyError(field, f"{label} must be a number written exactly (a Decimal).")
    try:
        number = Decimal(value)
    except ArithmeticError:
        raise DaysSupplyError(field, f"{label} must be a number.") from None
    if not number.is_finite():
        raise DaysSupplyError(field, f"{label} must be a number.")
    return number


def _positive(value: object, field: str, label: str) -> Decimal:
    if value is None:
        raise DaysSupplyError(field, f"{label} is missing.")
    number = _decimal(value, field, label)
    if number <= 0:
        raise DaysSupplyError(field, f"{label} must be more than zero.")
    return number


def _whole(value: object, field: str, label: str, maximum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise DaysSupplyError(field, f"{label} is a whole number of days.")
    if not 1 <= value <= maximum:
        raise DaysSupplyError(field, f"{label} must be from 1 to {maximum} days.")
    return value


def _frequency(d: Directions) -> tuple[Fraction, str]:
    given = [
        (name, value)
        for name, value in (
            ("per_day", d.per_day),
            ("every_hours", d.every_hours),
            ("every_days", d.every_days),
        )
        if value is not None
    ]
    if not given:
        raise DaysSupplyError(
            "per_day",
            "The directions need how often: times a day, every N hours or every N days"
            + (" (for as-needed use, the most a day)." if d.prn else "."),
        )
    if len(given) > 1:
        raise DaysSupplyError(
            given[1][0], "Give how often one way only: times a day, every N hours or every N days."
        )
    name, raw = given[0]
    value = _positive(raw, name, "How often")
    if name == "per_day":
        per_day = Fraction(value)
        text = f"× {_num(value)} a day"
    elif name == "every_hours":
        if value < Decimal("0.5"):
            raise DaysSupplyError(name, "A dose is at most every 30 minutes (0.5 hours).")
        per_day = 24 / Fraction(value)
        text = f"every {_num(value)} hours = {_num(per_day)} a day"
    else:
        if value < 1 or value > 365:
            raise DaysSupplyError(name, "Every N days must be from 1 to 365 days.")
        per_day = 1 / Fraction(value)
        text = f"once every {_num(value)} days"
    if per_day > _MAX_PER_DAY:
        raise DaysSupplyError(name, f"More than {_MAX_PER_DAY} doses a day is not plausible.")
    return per_day, text


def _fact(facts: ProductFacts, field: str) -> Fraction | None:
    value = getattr(facts, field)
    if value is None:
        return None
    if field in ("package_count", "actuations_per_package"):
        return Fraction(_whole_count(value, field))
    low, high, label = _FIELD_LIMITS[field]
    number = _decimal(value, field, label)
    if not low <= number <= high:
        raise DaysSupplyError(field, f"{label} must be from {_num(low)} to {_num(high)}.")
    return Fraction(number)


def _whole_count(value: object, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 10_000:
        raise DaysSupplyError(field, "A package holds a whole number from 1 to 10,000.")
    return value


def _priming(facts: ProductFacts, dunit: Unit) -> Fraction:
    if facts.priming_units is None:
        if facts.pen and dunit is Unit.UNIT:
            return Fraction(DEFAULT_PEN_PRIMING_UNITS)
        return Fraction(0)
    value = _decimal(facts.priming_units, "priming_units", "Priming units")
    if value < 0 or value > 20:
        raise DaysSupplyError("priming_units", "Priming is from 0 to 20 units per injection.")
    if value and dunit is not Unit.UNIT:
        raise DaysSupplyError("priming_units", "Priming applies to doses in units (insulin).")
    return Fraction(value)


def _per_base(unit: Unit, facts: ProductFacts) -> Fraction:
    """How many of ``unit`` make one of its family's base unit (drops per mL, …)."""
    if unit is Unit.DROP:
        return _fact(facts, "drops_per_ml") or Fraction(DEFAULT_DROPS_PER_ML)
    if unit is Unit.UNIT:
        return _fact(facts, "units_per_ml") or Fraction(DEFAULT_UNITS_PER_ML)
    if unit is Unit.FTU:
        return 1 / (_fact(facts, "grams_per_ftu") or Fraction(DEFAULT_GRAMS_PER_FTU))
    return Fraction(1)


def _ratio_text(unit: Unit, facts: ProductFacts) -> str:
    if unit is Unit.DROP:
        return f"{_num(_per_base(unit, facts))} drops/mL"
    if unit is Unit.UNIT:
        return f"{_num(_per_base(unit, facts))} units/mL"
    return f"{_num(1 / _per_base(unit, facts))} g per fingertip unit"


def _package_content_in(unit: Unit, facts: ProductFacts) -> Fraction | None:
    """What one package holds, counted in ``unit``; None when the facts do not say."""
    family = _FAMILY[unit]
    if family is _Family.PACKAGE:
        return Fraction(1)
    content = _fact(facts, _CONTENT_FIELD[family])
    return None if content is None else content * _per_base(unit, facts)


def _convert_quantity(
    quantity: Decimal, qunit: Unit, dunit: Unit, form: str, facts: ProductFacts
) -> tuple[Fraction, str, Fraction | None]:
    """The quantity counted in dose units, the sum as text, and the number of packages
    (None when the package size is not known)."""
    amount = Fraction(quantity)
    text = f"{_num(quantity)} {_noun(qunit, amount, form, facts)}"
    qfam, dfam = _FAMILY[qunit], _FAMILY[dunit]
    if {qunit, dunit} == {Unit.DROP, Unit.UNIT}:
        raise DaysSupplyError("dose_unit", "Drops and units cannot be compared.")
    if qfam is dfam:
        total = amount / _per_base(qunit, facts) * _per_base(dunit, facts)
        if qunit is not dunit:
            op = "×" if qunit is _BASE[qfam] else "÷"
            ratio = _ratio_text(dunit if qunit is _BASE[qfam] else qunit, facts)
            text += f" {op} {ratio} = {_num(total)} {_noun(dunit, total, form, facts)}"
        content = _package_content_in(qunit, facts)
        packages = None if content is None else amount / content
        return total, text, packages
    mixed = {qfam, dfam}
    if _Family.COUNT in mixed and mixed & {_Family.VOLUME, _Family.MASS}:
        raise DaysSupplyError(
            "dose_unit",
            f"The quantity is in {_noun(qunit, 2, form, facts)} but the dose is in "
            f"{_noun(dunit, 2, form, facts)}; they must measure the same thing.",
        )
    pkg = facts.package_noun
    if qfam is not _Family.PACKAGE:
        if qunit is not _BASE[qfam]:
            raise DaysSupplyError(
                "quantity_unit",
                f"Give the quantity in {_noun(_BASE[qfam], 2, form, facts)} or {pkg}s.",
            )
        field = _CONTENT_FIELD[qfam]
        content_q = _fact(facts, field)
        if content_q is None:
            raise DaysSupplyError(
                field,
                f"To count {_noun(dunit, 2, form, facts)} in {_noun(qunit, 2, form, facts)}, "
                f"give the {pkg} size: {_CONTENT_WORDS[qfam]}.",
            )
        packages = amount / content_q
        text += (
            f" ÷ {_num(content_q)} {_noun(qunit, content_q, form, facts)} per {pkg}"
            f" = {_num(packages)} {_noun(Unit.PACKAGE, packages, form, facts)}"
        )
    else:
        packages = amount
    if dfam is _Family.PACKAGE:
        return packages, text, packages
    field = _CONTENT_FIELD[dfam]
    content_d = _fact(facts, field)
    if content_d is None:
        raise DaysSupplyError(
            field,
            f"To count {_noun(dunit, 2, form, facts)} in {pkg}s, give what one {pkg} holds: "
            f"{_CONTENT_WORDS[dfam]}.",
        )
    base = _BASE[dfam]
    in_base = packages * content_d
    text += f" × {_num(content_d)} {_noun(base, content_d, form, facts)}"
    total = in_base * _per_base(dunit, facts)
    # "1 inhaler × 200 actuations" needs no "= 200 actuations" after it.
    if dunit is not base:
        if packages != 1:
            text += f" = {_num(in_base)} {_noun(base, in_base, form, facts)}"
        text += f" × {_ratio_text(dunit, facts)}"
    if dunit is not base or packages != 1:
        text += f" = {_num(total)} {_noun(dunit, total, form, facts)}"
    return total, text, packages


def _plural(word: str) -> str:
    if word.endswith(("s", "x", "ch", "sh")):
        return word + "es"
    if word.endswith("y") and word[-2:-1] not in "aeiou":
        return word[:-1] + "ies"
    return word + "s"


def _noun(
    unit: Unit,
    amount: Decimal | Fraction | int,
    form: str = "tablet",
    facts: ProductFacts | None = None,
) -> str:
    # "0.5 tablet", "1 drop", "2 drops": plural only above one.
    many = amount > 1
    if unit is Unit.ML:
        return "mL"
    if unit is Unit.GM:
        return "g"
    word = {
        Unit.EACH: form,
        Unit.DROP: "drop",
        Unit.UNIT: "unit",
        Unit.ACTUATION: "actuation",
        Unit.FTU: "fingertip unit",
        Unit.PACKAGE: facts.package_noun if facts else "package",
    }[unit]
    return _plural(word) if many else word


def _to_decimal(value: Fraction, places: str, rounding: str) -> Decimal:
    exact = Decimal(value.numerator) / Decimal(value.denominator)
    out = exact.quantize(Decimal(places), rounding=rounding)
    # No trailing zeros (ISMP): 2 not 2.00, 0.5 not 0.50.
    return out.quantize(Decimal(1)) if out == out.to_integral_value() else out.normalize()


def _num(value: Decimal | Fraction | int) -> str:
    """A number for people: thousands separated, no trailing zeros, at most 2 decimals."""
    number = _to_decimal(Fraction(value), "0.01", ROUND_HALF_UP)
    return f"{number:,}"


def _days(value: Fraction) -> str:
    # Cut, never rounded up, so the text never shows more days than the floor allows.
    return f"{_to_decimal(value, '0.1', ROUND_DOWN):,}"
