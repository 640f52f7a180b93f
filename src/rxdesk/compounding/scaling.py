"""Scaling a master formula to the quantity wanted: the scale factor, each ingredient's
quantity in its own unit, and the steps that show the work with their units. Pure: no
Django, no database.

The wanted quantity is converted to the formula's batch unit with pint when the two measure
the same thing (100 g of a 200 g batch; 0.1 kg of it); a batch counted in units ("bag",
"capsules", "syringes") scales by count. Each ingredient is scaled from its own formula
quantity (``quantity × wanted ÷ batch``), not from a rounded factor, so 100 g of a 300 g
batch still asks for exactly 50 g of a 150 g ingredient. A q.s. ingredient is shown as
"q.s. to" the total: its amount is what makes up the rest."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from rxdesk.calc import units
from rxdesk.calc.units import Step, UnitError

# A batch a thousand times the formula's, or a thousandth of it, is a typing error far more
# often than a real preparation (and its ingredient amounts stop being weighable).
MAX_FACTOR = Decimal(1000)
MIN_FACTOR = Decimal("0.001")
# Four decimals of the ingredient's unit: the precision of the record's columns.
PLACES = 4
SMALLEST = Decimal(1).scaleb(-PLACES)
LARGEST = Decimal(10) ** 10  # DecimalField(14, 4)


class ScaleError(UnitError):
    """A quantity that cannot be made from the formula; ``field`` names what to change."""


@dataclass(frozen=True)
class Ingredient:
    """An ingredient as the formula writes it for its batch."""

    position: int
    name: str
    quantity: Decimal
    unit: str
    quantity_sufficient: bool = False


@dataclass(frozen=True)
class Scaled:
    """An ingredient scaled to the wanted quantity, in its own unit."""

    position: int
    name: str
    quantity: Decimal
    unit: str
    quantity_sufficient: bool = False

    @property
    def shown(self) -> str:
        return units.show(self.quantity, self.unit)


@dataclass(frozen=True)
class Scaling:
    factor: Decimal
    quantity: Decimal
    unit: str
    ingredients: tuple[Scaled, ...]
    steps: tuple[Step, ...]

    def step_dicts(self) -> list[dict[str, str]]:
        return [s.as_dict() for s in self.steps]


def _same_words(a: str, b: str) -> bool:
    def word(text: str) -> str:
        text = " ".join((text or "").split()).casefold()
        return text[:-1] if text.endswith("s") else text

    return bool(word(a)) and word(a) == word(b)


def _in_batch_unit(quantity: Decimal, unit: str, batch_unit: str) -> tuple[Decimal, Step | None]:
    """The wanted quantity in the batch's unit, and the step that converted it (if any)."""
    if units.known_unit(unit) and units.known_unit(batch_unit):
        if not units.same_dimension(unit, batch_unit):
            raise ScaleError(
                f"The formula is made by {batch_unit}; {unit} measures something else. "
                f"Give the quantity in {batch_unit} or a unit of the same kind.",
                field="unit",
            )
        converted = units.convert(quantity, unit, batch_unit, field="quantity")
        if units.unit_of(unit) == units.unit_of(batch_unit):
            return converted, None
        step = Step(
            "Quantity in the batch unit",
            f"{units.show(quantity, unit)} = {units.show(converted, batch_unit)}",
            units.show(converted, batch_unit),
        )
        return converted, step
    if _same_words(unit, batch_unit):
        return quantity, None
    raise ScaleError(
        f"The formula is made by {batch_unit}; give the quantity in {batch_unit}.",
        field="unit",
    )


def scale(
    *,
    batch_quantity: Decimal,
    batch_unit: str,
    quantity: Any,
    unit: str,
    ingredients: Sequence[Ingredient],
) -> Scaling:
    """Scale ``ingredients`` (written for ``batch_quantity`` ``batch_unit``) to ``quantity``
    ``unit``. Raises :class:`ScaleError` naming ``quantity`` or ``unit``."""
    wanted = units.decimal_of(quantity, field="quantity")
    if wanted <= 0:
        raise ScaleError("The quantity to make must be more than zero.", field="quantity")
    if not (unit or "").strip():
        raise ScaleError("Give the unit of the quantity (g, mL, bag…).", field="unit")
    unit = unit.strip()
    if batch_quantity <= 0:
        raise ScaleError("The formula's batch size is not a positive quantity.", field="formula")
    in_batch, convert_step = _in_batch_unit(wanted, unit, batch_unit)
    factor = in_batch / batch_quantity
    batch_shown = units.show(batch_quantity, batch_unit)
    wanted_shown = units.show(in_batch, batch_unit)
    if factor > MAX_FACTOR:
        raise ScaleError(
            f"{wanted_shown} is more than {MAX_FACTOR:f} times the formula's batch of "
            f"{batch_shown}; check the quantity.",
            field="quantity",
        )
    if factor < MIN_FACTOR:
        raise ScaleError(
            f"{wanted_shown} is less than a thousandth of the formula's batch of "
            f"{batch_shown}; check the quantity.",
            field="quantity",
        )
    factor_shown = units.show(factor, "", 6)
    steps: list[Step] = []
    if convert_step is not None:
        steps.append(convert_step)
    steps.append(Step("Scale factor", f"{wanted_shown} ÷ {batch_shown}", factor_shown))
    scaled: list[Scaled] = []
    for ing in sorted(ingredients, key=lambda i: i.position):
        exact = ing.quantity * in_batch / batch_quantity
        amount = units.rounded(exact, PLACES)
        if amount < SMALLEST:
            raise ScaleError(
                f"{ing.name} would be {units.show(exact, ing.unit, 8)}: too little to weigh "
                "or measure. Make a larger quantity.",
                field="quantity",
            )
        if amount >= LARGEST:
            raise ScaleError(
                f"{ing.name} would be {units.show(exact, ing.unit)}: more than a record "
                "can hold. Make a smaller quantity.",
                field="quantity",
            )
        nominal = f"{units.show(ing.quantity, ing.unit)} × {factor_shown}"
        shown = units.show(amount, ing.unit)
        if ing.quantity_sufficient:
            total = units.show(in_batch, batch_unit)
            steps.append(Step(ing.name, f"{nominal} = {shown} at most", f"q.s. to {total}"))
        else:
            steps.append(Step(ing.name, nominal, shown))
        scaled.append(
            Scaled(
                position=ing.position,
                name=ing.name,
                quantity=amount,
                unit=ing.unit,
                quantity_sufficient=ing.quantity_sufficient,
            )
        )
    return Scaling(
        factor=factor,
        quantity=wanted,
        unit=unit,
        ingredients=tuple(scaled),
        steps=tuple(steps),
    )
