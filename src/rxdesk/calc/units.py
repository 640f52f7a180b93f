"""Units of pharmacy quantities, through pint (DESIGN: never hand-roll unit conversion).

One registry for rxdesk, with Decimal magnitudes (no floats in doses). Besides pint's SI and
US units it knows the pharmacy counts and activities a formula or an order is written in:

- ``each`` (alias ``ea``, ``tablet``, ``capsule``, ``syringe``, ``bag``, ``vial``,
  ``suppository``, ``troche``): a count;
- ``unit`` (USP units of activity: heparin, insulin), a dimension of its own;
- ``mEq`` and ``mmol`` of an ion: milliequivalents are their own dimension (converting to
  mass needs the salt's molecular weight and valence: rxdesk.calc.pharmmath);
- ``mcg`` for micrograms, as pharmacists write it;
- ``gtt`` (``drop``): a drop of an IV set, a dimension of its own, because a drop's volume is
  the set's drop factor (10, 15, 20 or 60 gtt/mL), never a constant;
- ``Osm`` (osmole; ``mOsm`` with pint's prefixes): osmotically active particles;
- ``textbook_pound`` (``lb_2_2``): the 2.2 lb = 1 kg convention of pharmacy exams and many
  dosing charts (reference identifiers-labels-math.md §6.8); ``lb`` is the exact avoirdupois
  pound (0.45359237 kg).

Pure: no Django. :func:`quantity` raises :class:`UnitError` naming the field on a unit it
does not know or a value that is not a number."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation, localcontext
from functools import lru_cache
from typing import Any

import pint

ureg: Any = pint.UnitRegistry(non_int_type=Decimal, autoconvert_offset_to_baseunit=True)
# Pint's own "bag" is a bag of cement (a weight); ours is a count, replacing it on purpose:
# silence pint's "Redefining" notice for this one definition.
_pint_log = logging.getLogger("pint.util")
_pint_level = _pint_log.level
_pint_log.setLevel(logging.ERROR)
try:
    ureg.define(
        "each = [count] = ea = tablet = capsule = syringe = bag = vial = suppository = troche"
    )
finally:
    _pint_log.setLevel(_pint_level)
ureg.define("usp_unit = [activity] = unit = units = USP_unit")
ureg.define("milliequivalent = [charge_equivalent] = mEq = meq")
ureg.define("mcg = microgram")
ureg.define("drop = [drop] = gtt = drops")
ureg.define("osmole = [osmotic_amount] = Osm = osmol")
ureg.define("textbook_pound = kilogram / 2.2 = lb_2_2")
Quantity = ureg.Quantity

# NCPDP billing units (the stock ledger's) and the pint unit each is counted in.
BILLING_UNITS = {"EA": "each", "ML": "milliliter", "GM": "gram"}


class UnitError(ValueError):
    def __init__(self, message: str, *, field: str) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


@lru_cache(maxsize=512)
def _unit(text: str) -> Any:
    return ureg.parse_units(text.strip())


def unit_of(text: str, *, field: str = "unit") -> Any:
    """The pint unit spelled ``text`` ("mg", "mL", "g", "mEq", "each", "units", "mg/mL")."""
    cleaned = (text or "").strip()
    if not cleaned:
        raise UnitError("Give the unit (mg, g, mL, each…).", field=field)
    try:
        return _unit(cleaned)
    except Exception as exc:  # pint's parser raises many kinds on hostile text: all are "unknown"
        raise UnitError(f"{cleaned!r} is not a unit rxdesk knows.", field=field) from exc


def known_unit(text: str) -> bool:
    try:
        unit_of(text)
    except UnitError:
        return False
    return True


def decimal_of(value: Any, *, field: str = "quantity") -> Decimal:
    if isinstance(value, float):
        value = repr(value)
    try:
        number = Decimal(str(value).strip())
    except (InvalidOperation, ValueError) as exc:
        raise UnitError(f"{value!r} is not a number.", field=field) from exc
    if not number.is_finite():
        raise UnitError("Give a finite number.", field=field)
    return number


def quantity(value: Any, unit: str, *, field: str = "quantity") -> Any:
    """A pint Quantity with a Decimal magnitude."""
    return Quantity(decimal_of(value, field=field), unit_of(unit, field=f"{field}_unit"))


def convert(value: Any, from_unit: str, to_unit: str, *, field: str = "quantity") -> Decimal:
    """``value`` in ``from_unit`` expressed in ``to_unit`` (same dimension only)."""
    q = quantity(value, from_unit, field=field)
    try:
        return Decimal(q.to(unit_of(to_unit, field=f"{field}_unit")).magnitude)
    except pint.DimensionalityError as exc:
        raise UnitError(
            f"{from_unit} cannot be expressed in {to_unit}: they measure different things.",
            field=field,
        ) from exc


def same_dimension(a: str, b: str) -> bool:
    try:
        return bool(ureg.Quantity(1, unit_of(a)).check(unit_of(b).dimensionality))
    except UnitError:
        return False


def billing_quantity(
    value: Any, unit: str, billing_unit: str, *, field: str = "quantity"
) -> Decimal:
    """How many of a package's billing units (EA, ML, GM) ``value`` ``unit`` is."""
    target = BILLING_UNITS.get(billing_unit)
    if target is None:
        raise UnitError(f"Unknown billing unit {billing_unit!r}.", field=field)
    try:
        return convert(value, unit, target, field=field)
    except UnitError as exc:
        raise UnitError(
            f"{unit} cannot be taken from stock counted in {billing_unit} "
            f"({target}); state the ingredient in {target}s or pick another package.",
            field=field,
        ) from exc


def rounded(value: Decimal, places: int = 4) -> Decimal:
    """Half-up rounding for display (Python's round() is half-even). Works for any finite
    magnitude: the precision is widened so that quantize never fails on a large number."""
    value = Decimal(value)
    if not value.is_finite():
        raise UnitError("Give a finite number.", field="value")
    digits = max(value.adjusted(), 0) + places + 2
    with localcontext() as ctx:
        ctx.prec = max(ctx.prec, digits)
        return value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def show(value: Decimal, unit: str = "", places: int = 4) -> str:
    """``value`` rounded half-up and stripped of trailing zeros, with its unit."""
    number = rounded(Decimal(value), places).normalize()
    text = f"{number:f}"
    return f"{text} {unit}".strip()


@dataclass(frozen=True)
class Step:
    """One line of a calculation shown to the person checking it: what is computed, the
    arithmetic with its units, and the result."""

    label: str
    expression: str
    result: str

    def as_dict(self) -> dict[str, str]:
        return {"label": self.label, "expression": self.expression, "result": self.result}
