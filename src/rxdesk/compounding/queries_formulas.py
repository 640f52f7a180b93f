"""Reads of master formulas: the list (the latest version of each code, by status, by
name), one formula with its ingredients and its versions, and the scale preview shown on a
formula's page (what each ingredient comes to for a typed quantity, through pint)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db.models import OuterRef, Q, QuerySet, Subquery
from django.utils import timezone

from rxdesk.calc import units
from rxdesk.compounding import bud
from rxdesk.compounding.choices import Category, FormulaStatus
from rxdesk.compounding.models import FormulaIngredient, MasterFormula
from rxdesk.core.capabilities import Cap
from rxdesk.core.errors import Invalid, NotFound
from rxdesk.core.models import Site, User
from rxdesk.core.services import authorize

MAX_ID = 2**63 - 1
SEARCH_MAX = 100


def _formulas(site_id: int) -> QuerySet[MasterFormula]:
    return MasterFormula.objects.select_related("created_by", "approved_by").filter(site_id=site_id)


def formula_list(
    *,
    actor: User,
    q: str = "",
    status: str | None = None,
    code: str | None = None,
) -> list[MasterFormula]:
    """The pharmacy's formulas, by code: the latest version of each (of that status when
    one is asked), or every version of one ``code``, newest first. ``q`` searches the name
    and the code."""
    authorize(actor, Cap.COMPOUNDING_VIEW)
    if status and status not in FormulaStatus.values:
        raise Invalid(f"The status is one of: {', '.join(FormulaStatus.values)}.", field="status")
    rows = _formulas(actor.site_id)
    versions = MasterFormula.objects.filter(site_id=actor.site_id)
    if status:
        rows, versions = rows.filter(status=status), versions.filter(status=status)
    if code:
        return list(rows.filter(code=code.strip().upper()).order_by("-version"))
    top = versions.filter(code=OuterRef("code")).order_by("-version").values("version")[:1]
    rows = rows.filter(version=Subquery(top))
    words = " ".join((q or "").split())[:SEARCH_MAX]
    for word in words.split():
        rows = rows.filter(Q(name__icontains=word) | Q(code__icontains=word))
    return list(rows.order_by("name", "code"))


def formula_get(*, actor: User, formula_id: int | str) -> MasterFormula:
    """One formula version of the actor's pharmacy; another pharmacy's does not exist here."""
    authorize(actor, Cap.COMPOUNDING_VIEW)
    try:
        pk = int(str(formula_id))
    except ValueError:
        raise NotFound("No such formula at this pharmacy.") from None
    found = (
        _formulas(actor.site_id).select_related("supersedes").filter(pk=pk).first()
        if 0 < pk <= MAX_ID
        else None
    )
    if found is None:
        raise NotFound("No such formula at this pharmacy.")
    return found


def formula_ingredients(formula: MasterFormula) -> list[FormulaIngredient]:
    return list(
        FormulaIngredient.objects.select_related("product")
        .filter(formula=formula)
        .order_by("position")
    )


def ingredient_dicts(formula: MasterFormula) -> list[dict[str, Any]]:
    """The formula's ingredients in the shape the formula services take (and an edit form
    shows), in order."""
    return [
        {
            "product": i.product,
            "name": i.name,
            "quantity": i.quantity,
            "unit": i.unit,
            "role": i.role,
            "quantity_sufficient": i.quantity_sufficient,
            "note": i.note,
        }
        for i in formula_ingredients(formula)
    ]


def formula_versions(formula: MasterFormula) -> list[MasterFormula]:
    """Every version of the formula's code, newest first."""
    return list(_formulas(formula.site_id).filter(code=formula.code).order_by("-version"))


def approved_version(site: Site, code: str) -> MasterFormula | None:
    """The version of ``code`` in use (the one records are made from), if any."""
    return (
        _formulas(site.pk)
        .filter(code=code.strip().upper(), status=FormulaStatus.APPROVED)
        .order_by("-version")
        .first()
    )


def open_draft(formula: MasterFormula) -> MasterFormula | None:
    """The code's draft being written, if there is one."""
    return (
        MasterFormula.objects.filter(
            site_id=formula.site_id, code=formula.code, status=FormulaStatus.DRAFT
        )
        .order_by("-version")
        .first()
    )


# --- Beyond-use date --------------------------------------------------------------------------


def bud_input(
    values: Mapping[str, Any], prepared_at: dt.datetime, expirations: tuple[dt.date, ...] = ()
) -> bud.BudInput:
    """The BUD rules' question about a formula (its fields, as a row or a mapping)."""
    sterile = values["category"] != Category.NONSTERILE
    return bud.BudInput(
        type=bud.STERILE if sterile else bud.NONSTERILE,
        prepared_at=prepared_at,
        storage=values["storage"],
        category=values["category"] if sterile else None,
        aseptic=values["aseptic"],
        sterile_starting_components=values["sterile_starting_components"],
        sterility_tested=values["sterility_tested"],
        preserved=values["preserved"],
        preparation=values["preparation"] or None,
        component_expirations=expirations,
        stability_days=values["stability_days"],
    )


def bud_preview(formula: MasterFormula, at: dt.datetime | None = None) -> bud.Bud:
    """The beyond-use date and rule of a preparation of the formula made ``at`` (now, in
    the pharmacy's time zone), before any component's expiry is known."""
    when = at or timezone.now().astimezone(formula.site.tz)
    fields = (
        "category",
        "storage",
        "aseptic",
        "sterile_starting_components",
        "sterility_tested",
        "preserved",
        "preparation",
        "stability_days",
    )
    return bud.beyond_use(bud_input({f: getattr(formula, f) for f in fields}, when))


# --- Scale preview ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ScaledIngredient:
    ingredient: FormulaIngredient
    quantity: Decimal
    shown: str


@dataclass(frozen=True)
class ScalePreview:
    quantity: Decimal
    unit: str
    factor: Decimal
    rows: list[ScaledIngredient]
    steps: list[units.Step]

    @property
    def factor_shown(self) -> str:
        return units.show(self.factor, "", 6)

    @property
    def quantity_shown(self) -> str:
        return units.show(self.quantity, self.unit)


def scale_preview(
    formula: MasterFormula,
    quantity: Any,
    unit: str | None = None,
    ingredients: list[FormulaIngredient] | None = None,
) -> ScalePreview:
    """What each ingredient comes to for ``quantity`` ``unit`` of the preparation: the
    scale factor is that quantity (in the batch's unit) over the batch quantity. A unit of
    another dimension than the batch's is refused, naming ``unit``."""
    the_unit = (unit or "").strip() or formula.batch_unit
    try:
        amount = units.decimal_of(quantity, field="quantity")
    except units.UnitError as exc:
        raise Invalid(exc.message, field="quantity") from None
    if amount <= 0:
        raise Invalid("Give a quantity more than 0.", field="quantity")
    if amount >= Decimal(10) ** 9:
        raise Invalid("That quantity is too large.", field="quantity")
    batch, batch_unit = formula.batch_quantity, formula.batch_unit
    steps: list[units.Step] = []
    try:
        units.unit_of(the_unit, field="unit")
        if the_unit != batch_unit:
            in_batch_unit = units.convert(amount, the_unit, batch_unit, field="unit")
            steps.append(
                units.Step(
                    "Quantity in the batch's unit",
                    f"{units.show(amount, the_unit)} → {batch_unit}",
                    units.show(in_batch_unit, batch_unit, 6),
                )
            )
        else:
            in_batch_unit = amount
    except units.UnitError as exc:
        raise Invalid(exc.message, field="unit") from None
    factor = in_batch_unit / batch
    steps.append(
        units.Step(
            "Scale factor",
            f"{units.show(in_batch_unit, batch_unit, 6)} ÷ {units.show(batch, batch_unit)}",
            units.show(factor, "", 6),
        )
    )
    rows = []
    for ingredient in ingredients if ingredients is not None else formula_ingredients(formula):
        scaled = ingredient.quantity * factor
        shown = units.show(scaled, ingredient.unit)
        rows.append(ScaledIngredient(ingredient=ingredient, quantity=scaled, shown=shown))
        steps.append(
            units.Step(
                ingredient.name + (" (q.s.)" if ingredient.quantity_sufficient else ""),
                f"{units.show(ingredient.quantity, ingredient.unit)} × {units.show(factor, '', 6)}",
                shown,
            )
        )
    return ScalePreview(quantity=amount, unit=the_unit, factor=factor, rows=rows, steps=steps)
