"""Master formulation records (USP <795> §4.3 / <797> §3.2 of the reference): written and
changed by a pharmacist as a draft, approved by the pharmacist-in-charge, versioned.

* :func:`formula_create` — a new formula code: draft version 1.
* :func:`formula_update` — change a draft (an approved version is never edited).
* :func:`formula_new_version` — copy the approved version into draft version N+1.
* :func:`formula_approve` — the PIC approves a draft; the version it supersedes retires.
* :func:`formula_retire` — the PIC takes an approved formula out of use.

Every input is checked before anything is written, and every error names its field
(an ingredient's as ``ingredients[2].quantity``, counting from 0). A formula must be one the
chapters give a beyond-use date for: the BUD rules (rxdesk.compounding.bud) are asked with a
stand-in preparation time, and what they refuse is refused here, under the formula's field
names. The formula is hazardous when any ingredient's catalog product is (NIOSH); the
pharmacist may flag it by hand as well, never below the catalog."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from rxdesk.calc import units
from rxdesk.catalog.models import Product
from rxdesk.compounding import bud
from rxdesk.compounding.choices import (
    Category,
    ContainerKind,
    FormulaStatus,
    IngredientRole,
    Preparation,
    Sterilization,
    Storage,
)
from rxdesk.compounding.models import FormulaIngredient, MasterFormula
from rxdesk.compounding.queries_formulas import bud_input, ingredient_dicts
from rxdesk.core.audit import audit_record, diff, register_actions
from rxdesk.core.capabilities import Cap
from rxdesk.core.errors import Conflict, Forbidden, Invalid, NotFound
from rxdesk.core.models import Site, User
from rxdesk.core.services import authorize

register_actions(
    {
        "compounding.formula.created": "Master formula created (draft version 1)",
        "compounding.formula.updated": "Master formula draft changed",
        "compounding.formula.versioned": "Master formula: new draft version from the approved one",
        "compounding.formula.approved": "Master formula version approved by the PIC",
        "compounding.formula.retired": "Master formula version retired",
    }
)

CODE = re.compile(r"^[A-Z0-9-]{1,30}$")
# One-line text fields and their lengths (the table's), then the long ones.
LINES: dict[str, int] = {
    "name": 200,
    "strength": 80,
    "dosage_form": 80,
    "route": 60,
    "container": 200,
    "physical_description": 300,
    "change_note": 500,
}
LONG_TEXT = (
    "equipment",
    "procedure",
    "calculations",
    "quality_checks",
    "bud_rationale",
    "references",
    "labeling",
)
LONG_MAX = 20_000
REQUIRED_TEXT = ("name", "strength", "dosage_form", "route", "container", "procedure")
FLAGS = ("preserved", "aseptic", "sterile_starting_components", "sterility_tested", "hazardous")
CHOICES: dict[str, tuple[str, ...]] = {
    "category": tuple(Category.values),
    "preparation": ("", *Preparation.values),
    "sterilization": tuple(Sterilization.values),
    "storage": tuple(Storage.values),
    "container_kind": tuple(ContainerKind.values),
}
# Every field of a formula a service takes (code is set once, for every version).
FIELDS = (
    *LINES,
    *LONG_TEXT,
    *FLAGS,
    *CHOICES,
    "batch_quantity",
    "batch_unit",
    "stability_days",
)
DEFAULTS: dict[str, Any] = {
    "preparation": "",
    "preserved": False,
    "aseptic": True,
    "sterilization": "",
    "sterile_starting_components": True,
    "sterility_tested": False,
    "storage": Storage.ROOM.value,
    "container_kind": "",
    "equipment": "",
    "calculations": "",
    "quality_checks": "",
    "physical_description": "",
    "stability_days": None,
    "bud_rationale": "",
    "references": "",
    "labeling": "",
    "hazardous": False,
    "change_note": "",
}
INGREDIENT_KEYS = frozenset(
    {"name", "quantity", "unit", "role", "product", "quantity_sufficient", "note"}
)
MAX_INGREDIENTS = 40
MAX_STABILITY_DAYS = 3650
TERMINAL = frozenset({Sterilization.STEAM, Sterilization.DRY_HEAT, Sterilization.IRRADIATION})
# What the BUD rules read: with an error in one of these, they are not asked.
BUD_FIELDS = (
    "category",
    "preparation",
    "storage",
    "preserved",
    "aseptic",
    "sterile_starting_components",
    "sterility_tested",
    "stability_days",
    "container_kind",
    "sterilization",
)
# The BUD rules are asked about the formula with this stand-in time of compounding.
_PROBE_TIME = dt.datetime(2026, 1, 5, 9, 0, tzinfo=dt.UTC)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_LINE_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# Decimal columns: at most this many digits before the point, and 4 after.
_BATCH_INTEGER_DIGITS, _INGREDIENT_INTEGER_DIGITS, _PLACES = 8, 10, 4


class _Errors:
    """Every broken rule of one input, each naming its field; raised together."""

    def __init__(self) -> None:
        self.items: list[dict[str, str]] = []

    def add(self, field: str, message: str) -> None:
        if not any(e["field"] == field for e in self.items):
            self.items.append({"field": field, "message": message})

    def has(self, *fields: str) -> bool:
        return any(e["field"] in fields for e in self.items)

    def raise_any(self) -> None:
        if self.items:
            first = self.items[0]
            message = first["message"] if len(self.items) == 1 else ""
            raise Invalid(message, field=first["field"], errors=self.items)


# --- Helpers ---------------------------------------------------------------------------------


def _signed_in(actor: User | None) -> User:
    if actor is None:
        raise Forbidden("Sign in: a master formula names who wrote and who approved it.")
    return actor


def _site(actor: User, site: Site | None) -> Site:
    if site is not None and site.pk != actor.site_id:
        raise Forbidden("You can only keep your own pharmacy's formulas.")
    return actor.site


def _own(actor: User, formula: MasterFormula) -> None:
    if formula.site_id != actor.site_id:
        raise NotFound("No such formula at this pharmacy.")


def code_of(value: Any, errors: _Errors) -> str:
    """The formula's code as kept: upper case letters, digits and hyphens, at most 30."""
    code = str(value or "").strip().upper()
    if not code:
        errors.add("code", "Give the formula a short code (letters, digits and -).")
    elif not CODE.match(code):
        errors.add("code", "Use only letters, digits and - in the code, at most 30 characters.")
    return code


def _text(name: str, value: Any, errors: _Errors) -> str:
    if value is None:
        value = ""
    if not isinstance(value, str):
        errors.add(name, "Give text.")
        return ""
    if name in LINES:
        text = " ".join(value.split())
        if len(text) > LINES[name]:
            errors.add(name, f"Keep it to {LINES[name]} characters.")
        elif _LINE_CONTROL.search(text):
            errors.add(name, "It has characters that cannot be kept; retype it.")
    else:
        text = value.replace("\r\n", "\n").strip()
        if len(text) > LONG_MAX:
            errors.add(name, f"Keep it to {LONG_MAX} characters.")
        elif _CONTROL.search(text):
            errors.add(name, "It has characters that cannot be kept; retype it.")
    if name in REQUIRED_TEXT and not text:
        words = name.replace("_", " ")
        errors.add(name, f"Give the {words}.")
    return text


def _flag(name: str, value: Any, errors: _Errors) -> bool:
    if not isinstance(value, bool):
        errors.add(name, "Answer yes or no (true or false).")
        return False
    return value


def _decimal(
    field: str, value: Any, errors: _Errors, *, integer_digits: int, what: str
) -> Decimal | None:
    if value is None or (isinstance(value, str) and not value.strip()) or isinstance(value, bool):
        errors.add(field, f"Give the {what}.")
        return None
    try:
        number = units.decimal_of(value, field=field)
    except units.UnitError as exc:
        errors.add(field, exc.message)
        return None
    if number <= 0:
        errors.add(field, f"The {what} must be more than 0.")
        return None
    exponent = number.normalize().as_tuple().exponent
    if isinstance(exponent, int) and exponent < -_PLACES:
        errors.add(field, f"Give the {what} to at most {_PLACES} decimal places.")
        return None
    if number >= Decimal(10) ** integer_digits:
        errors.add(field, f"The {what} is too large.")
        return None
    return number


# What a formula's quantities are measured in: mass, volume, a count, units of activity,
# milliequivalents, moles (a unit of each, as calc.units spells them).
_AMOUNT_UNITS = ("g", "mL", "each", "unit", "units", "mEq", "mmol")


def _amount_dimensions() -> set[Any]:
    return {units.unit_of(u).dimensionality for u in _AMOUNT_UNITS}


def _unit(field: str, value: Any, errors: _Errors) -> str:
    text = str(value or "").strip()
    if len(text) > 20:
        errors.add(field, "Keep the unit to 20 characters.")
        return text
    try:
        unit = units.unit_of(text, field=field)
    except units.UnitError as exc:
        errors.add(field, exc.message)
        return text
    if unit.dimensionality not in _amount_dimensions():
        errors.add(
            field,
            f"{text} is not an amount: give a weight (g, mg), a volume (mL), a count (each), "
            "units or mEq.",
        )
    return text


def _product(field: str, value: Any, errors: _Errors) -> Product | None:
    if value is None or value == "":
        return None
    if isinstance(value, Product):
        return value
    try:
        pk = int(str(value))
    except ValueError:
        errors.add(field, "Give the catalog product's id (a number), or leave it blank.")
        return None
    found = (
        Product.objects.prefetch_related("packages").filter(pk=pk).first()
        if 0 < pk < 2**63
        else None
    )
    if found is None:
        errors.add(field, f"There is no product {pk} in the drug catalog.")
    return found


def _takeable(index: int, product: Product, unit: str, errors: _Errors) -> None:
    """The ingredient's unit must convert into the billing unit of one of the product's
    packages, or the records could not take it from stock."""
    packages = list(product.packages.all())
    if not packages:
        errors.add(
            f"ingredients[{index}].product",
            f"{product.name} has no package in the catalog, so it cannot be taken from stock; "
            "leave the product blank or pick another.",
        )
        return
    counted = sorted({p.billing_unit for p in packages})
    for billing_unit in counted:
        try:
            units.billing_quantity(1, unit, billing_unit, field=f"ingredients[{index}].unit")
        except units.UnitError:
            continue
        return
    names = " or ".join(units.BILLING_UNITS.get(b, b) + "s" for b in counted)
    errors.add(
        f"ingredients[{index}].unit",
        f"{unit} cannot be taken from stock of {product.name}: its packages are counted in "
        f"{', '.join(counted)}. State the quantity in {names}.",
    )


def _ingredients(value: Any, errors: _Errors) -> list[dict[str, Any]]:
    if isinstance(value, str | bytes) or not isinstance(value, Sequence):
        errors.add("ingredients", "Give the ingredients as a list.")
        return []
    if not value:
        errors.add("ingredients", "List at least one ingredient.")
        return []
    if len(value) > MAX_INGREDIENTS:
        errors.add("ingredients", f"A formula has at most {MAX_INGREDIENTS} ingredients.")
        return []
    cleaned: list[dict[str, Any]] = []
    sufficient = 0
    for index, row in enumerate(value):
        at = f"ingredients[{index}]"
        if not isinstance(row, Mapping):
            errors.add(at, "Give each ingredient as name, quantity and unit.")
            continue
        unknown = sorted(set(row) - INGREDIENT_KEYS)
        if unknown:
            errors.add(at, f"Unknown field(s): {', '.join(map(str, unknown))}.")
            continue
        name = str(row.get("name") or "").strip()
        name = " ".join(name.split())
        if not name:
            errors.add(f"{at}.name", "Give the ingredient's name.")
        elif len(name) > 200 or _LINE_CONTROL.search(name):
            errors.add(f"{at}.name", "Keep the name to 200 plain characters.")
        quantity = _decimal(
            f"{at}.quantity",
            row.get("quantity"),
            errors,
            integer_digits=_INGREDIENT_INTEGER_DIGITS,
            what="quantity",
        )
        unit = _unit(f"{at}.unit", row.get("unit"), errors)
        role = row.get("role") or IngredientRole.ACTIVE.value
        if role not in IngredientRole.values:
            errors.add(f"{at}.role", f"The role is one of: {', '.join(IngredientRole.values)}.")
        qs = row.get("quantity_sufficient", False)
        if not isinstance(qs, bool):
            errors.add(f"{at}.quantity_sufficient", "Answer yes or no (true or false).")
            qs = False
        if qs:
            sufficient += 1
            if sufficient > 1:
                errors.add(
                    f"{at}.quantity_sufficient",
                    "Only one ingredient may be q.s. (the one that makes up the batch).",
                )
        note = " ".join(str(row.get("note") or "").split())
        if len(note) > 200:
            errors.add(f"{at}.note", "Keep the note to 200 characters.")
        product = _product(f"{at}.product", row.get("product"), errors)
        if product is not None and not errors.has(f"{at}.unit"):
            _takeable(index, product, unit, errors)
        cleaned.append(
            {
                "product": product,
                "name": name,
                "quantity": quantity,
                "unit": unit,
                "role": role,
                "quantity_sufficient": qs,
                "note": note,
            }
        )
    return cleaned


def _rules(values: dict[str, Any], errors: _Errors) -> None:
    """The chapters' rules on the kind of preparation, then the BUD rules themselves."""
    category = values["category"]
    if errors.has("category") or not category:
        return
    if category == Category.NONSTERILE:
        if not values["preparation"]:
            errors.add(
                "preparation",
                "A nonsterile preparation needs its kind: aqueous, nonaqueous oral liquid or "
                "other nonaqueous (USP <795> Table 4).",
            )
        if values["container_kind"]:
            errors.add(
                "container_kind",
                "A nonsterile preparation is not labeled single- or multiple-dose; leave it blank.",
            )
        if values["sterilization"]:
            errors.add("sterilization", "A nonsterile preparation is not sterilized.")
        # The sterile-only answers mean nothing here: kept at their defaults.
        values.update(aseptic=True, sterile_starting_components=True, sterility_tested=False)
    else:
        _sterile_rules(values, errors)
    if errors.has(*BUD_FIELDS):
        return
    try:
        bud.beyond_use(bud_input(values, _PROBE_TIME))
    except bud.BudNotAllowed as exc:
        field = {"type": "category", "prepared_at": "category"}.get(exc.field, exc.field)
        errors.add(field if field in FIELDS else "category", exc.message)


def _sterile_rules(values: dict[str, Any], errors: _Errors) -> None:
    category, kind = values["category"], values["container_kind"]
    if values["preparation"]:
        errors.add(
            "preparation",
            "A sterile preparation has no USP <795> kind (aqueous, nonaqueous…); leave it blank.",
        )
    if category in (Category.CATEGORY_1, Category.CATEGORY_2, Category.CATEGORY_3) and not kind:
        errors.add(
            "container_kind",
            "Say whether it is labeled as a single-dose or a multiple-dose container.",
        )
    if kind == ContainerKind.MULTIPLE_DOSE:
        if category not in (Category.CATEGORY_2, Category.CATEGORY_3):
            errors.add(
                "container_kind",
                "Only a Category 2 or 3 preparation may be a multiple-dose container (USP <797>).",
            )
        elif not values["preserved"]:
            errors.add(
                "preserved",
                "A multiple-dose sterile preparation must contain a preservative (and pass "
                "antimicrobial effectiveness testing, USP <51>).",
            )
    if category == Category.CATEGORY_3 and not values["sterility_tested"]:
        errors.add(
            "sterility_tested",
            "A Category 3 preparation must pass sterility testing (USP <71>); untested, make "
            "it as Category 2.",
        )
    if category == Category.IMMEDIATE_USE:
        if not values["sterile_starting_components"]:
            errors.add(
                "sterile_starting_components",
                "An immediate-use preparation is made only from sterile products (USP <797>).",
            )
        if not values["aseptic"]:
            errors.add(
                "aseptic",
                "An immediate-use preparation is made by aseptic technique, not terminally "
                "sterilized.",
            )
    method = values["sterilization"]
    if not values["aseptic"]:
        if method not in TERMINAL:
            errors.add(
                "sterilization",
                "A terminally sterilized preparation names its method: steam, dry heat or "
                "irradiation.",
            )
    elif method in TERMINAL:
        errors.add(
            "sterilization",
            "Steam, dry heat and irradiation are terminal sterilization: choose filtration, "
            "or say it is not aseptically processed.",
        )
    elif not values["sterile_starting_components"] and method != Sterilization.FILTRATION:
        errors.add(
            "sterilization",
            "Made aseptically from a nonsterile component, the preparation is sterilized by "
            "filtration (0.22 µm): choose filtration.",
        )


def _clean(
    values: Mapping[str, Any], ingredients: Any
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Every field checked and normalized; raises :class:`Invalid` naming each bad one."""
    errors = _Errors()
    out: dict[str, Any] = {}
    for name in (*LINES, *LONG_TEXT):
        out[name] = _text(name, values.get(name), errors)
    for name in FLAGS:
        out[name] = _flag(name, values.get(name), errors)
    for name, allowed in CHOICES.items():
        value = values.get(name)
        value = "" if value is None else value
        if value not in allowed:
            shown = ", ".join(a for a in allowed if a) or "blank"
            errors.add(name, f"Choose one of: {shown}.")
        out[name] = value if isinstance(value, str) else ""
    out["batch_quantity"] = _decimal(
        "batch_quantity",
        values.get("batch_quantity"),
        errors,
        integer_digits=_BATCH_INTEGER_DIGITS,
        what="batch quantity",
    )
    out["batch_unit"] = _unit("batch_unit", values.get("batch_unit"), errors)
    days = values.get("stability_days")
    if days in (None, ""):
        out["stability_days"] = None
    elif isinstance(days, bool) or not isinstance(days, int | str):
        errors.add("stability_days", "Give the stability limit in whole days, or leave it blank.")
        out["stability_days"] = None
    else:
        try:
            number = int(str(days).strip())
        except ValueError:
            number = 0
        if not 1 <= number <= MAX_STABILITY_DAYS:
            errors.add(
                "stability_days",
                f"The stability limit is 1 to {MAX_STABILITY_DAYS} days, or blank.",
            )
        out["stability_days"] = number
    _rules(out, errors)
    rows = _ingredients(ingredients, errors)
    errors.raise_any()
    if any(r["product"] is not None and r["product"].hazardous for r in rows):
        out["hazardous"] = True
    return out, rows


def _write_ingredients(formula: MasterFormula, rows: list[dict[str, Any]]) -> None:
    FormulaIngredient.objects.bulk_create(
        [
            FormulaIngredient(formula=formula, position=position, **row)
            for position, row in enumerate(rows, start=1)
        ]
    )


def _snapshot(formula: MasterFormula) -> dict[str, Any]:
    return {name: getattr(formula, name) for name in FIELDS}


def _ingredient_lines(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """Ingredients as short lines for the audit log and for comparing two lists."""
    lines = []
    for r in rows:
        product = r.get("product")
        pk = product.pk if isinstance(product, Product) else product
        quantity = r["quantity"]
        shown = f"{Decimal(quantity).normalize():f}" if quantity is not None else "?"
        line = f"{r['name']} {shown} {r['unit']} ({r['role']}"
        line += f", product {pk}" if pk else ""
        line += ", q.s." if r.get("quantity_sufficient") else ""
        line += f"; {r['note']}" if r.get("note") else ""
        lines.append(line + ")")
    return lines


def _plain(values: Mapping[str, Any]) -> dict[str, Any]:
    return {k: (f"{v.normalize():f}" if isinstance(v, Decimal) else v) for k, v in values.items()}


# --- Services --------------------------------------------------------------------------------


def formula_create(
    *,
    actor: User | None,
    code: str,
    name: str,
    strength: str,
    dosage_form: str,
    route: str,
    category: str,
    batch_quantity: Decimal | str | int,
    batch_unit: str,
    container: str,
    procedure: str,
    ingredients: Sequence[Mapping[str, Any]],
    preparation: str = "",
    preserved: bool = False,
    aseptic: bool = True,
    sterilization: str = "",
    sterile_starting_components: bool = True,
    sterility_tested: bool = False,
    storage: str = Storage.ROOM.value,
    container_kind: str = "",
    equipment: str = "",
    calculations: str = "",
    quality_checks: str = "",
    physical_description: str = "",
    stability_days: int | None = None,
    bud_rationale: str = "",
    references: str = "",
    labeling: str = "",
    hazardous: bool = False,
    change_note: str = "",
    site: Site | None = None,
) -> MasterFormula:
    """A new master formula: draft version 1 of a code not used before at the pharmacy.
    The pharmacist-in-charge approves it before any record is made from it."""
    given = dict(locals())
    values = {k: v for k, v in given.items() if k in FIELDS}
    authorize(actor, Cap.COMPOUNDING_FORMULA)
    author = _signed_in(actor)
    where = _site(author, site)
    errors = _Errors()
    the_code = code_of(code, errors)
    if the_code and not errors.has("code"):
        last = (
            MasterFormula.objects.filter(site=where, code=the_code)
            .order_by("-version")
            .values_list("version", flat=True)
            .first()
        )
        if last is not None:
            errors.add(
                "code",
                f"{the_code} is already a formula here (version {last}); make a new version of "
                "it, or choose another code.",
            )
    try:
        cleaned, rows = _clean(values, ingredients)
    except Invalid as exc:
        errors.items = [*errors.items, *exc.errors]
    errors.raise_any()
    with transaction.atomic():
        try:
            with transaction.atomic():
                formula = MasterFormula.objects.create(
                    site=where,
                    code=the_code,
                    version=1,
                    status=FormulaStatus.DRAFT,
                    created_by=author,
                    **cleaned,
                )
        except IntegrityError:
            raise Conflict(
                f"{the_code} was just created by someone else; make a new version of it.",
                field="code",
            ) from None
        _write_ingredients(formula, rows)
        audit_record(
            actor=author,
            site=where,
            action="compounding.formula.created",
            obj=formula,
            data={
                "code": formula.code,
                "version": 1,
                "after": _plain(_snapshot(formula)),
                "ingredients": _ingredient_lines(rows),
            },
        )
    return formula


def _not_draft(formula: MasterFormula) -> Conflict:
    if formula.status == FormulaStatus.APPROVED:
        return Conflict(
            f"Approved version {formula.version} of {formula.code} is in use; make a new "
            "version to change it.",
            field="status",
        )
    return Conflict(
        f"Version {formula.version} of {formula.code} is retired; make a new version from the "
        "approved one.",
        field="status",
    )


def formula_update(*, actor: User | None, formula: MasterFormula, **changes: Any) -> MasterFormula:
    """Change a draft: any field but the code; ``ingredients``, when given, replaces the
    whole list. An approved or retired version is never edited."""
    authorize(actor, Cap.COMPOUNDING_FORMULA)
    editor = _signed_in(actor)
    _own(editor, formula)
    unknown = sorted(set(changes) - set(FIELDS) - {"ingredients", "code"})
    if unknown:
        raise Invalid(f"{unknown[0]} is not a field of a formula.", field=unknown[0])
    if "code" in changes and str(changes["code"] or "").strip().upper() != formula.code:
        raise Invalid(
            "The code stays the same for every version; make a new formula for a new code.",
            field="code",
        )
    with transaction.atomic():
        current = MasterFormula.objects.select_for_update().get(pk=formula.pk)
        if current.status != FormulaStatus.DRAFT:
            raise _not_draft(current)
        before = _snapshot(current)
        old_rows = ingredient_dicts(current)
        # The flag as kept stays unless changed; _clean adds the catalog's back.
        merged = {**before, **{k: v for k, v in changes.items() if k in FIELDS}}
        cleaned, rows = _clean(merged, changes.get("ingredients", old_rows))
        changed = diff(_plain(before), _plain(cleaned))
        old_lines, new_lines = _ingredient_lines(old_rows), _ingredient_lines(rows)
        if not changed and old_lines == new_lines:
            return current
        for name, value in cleaned.items():
            setattr(current, name, value)
        current.save(update_fields=list(cleaned))
        if old_lines != new_lines:
            current.ingredients.all().delete()
            _write_ingredients(current, rows)
        data: dict[str, Any] = {"code": current.code, "version": current.version}
        if changed:
            data["changes"] = changed
        if old_lines != new_lines:
            data["ingredients"] = [old_lines, new_lines]
        audit_record(
            actor=editor,
            site=current.site,
            action="compounding.formula.updated",
            obj=current,
            data=data,
        )
    return current


def formula_new_version(
    *, actor: User | None, formula: MasterFormula, change_note: str
) -> MasterFormula:
    """A new draft version N+1 copied (with its ingredients) from the code's approved
    version, saying why it changes. A code has at most one open draft."""
    authorize(actor, Cap.COMPOUNDING_FORMULA)
    author = _signed_in(actor)
    _own(author, formula)
    errors = _Errors()
    note = _text("change_note", change_note, errors)
    if not note and not errors.items:
        errors.add("change_note", "Say what changes in the new version.")
    errors.raise_any()
    with transaction.atomic():
        versions = MasterFormula.objects.filter(site_id=formula.site_id, code=formula.code)
        draft = versions.filter(status=FormulaStatus.DRAFT).order_by("-version").first()
        if draft is not None:
            raise Conflict(
                f"Version {draft.version} of {formula.code} is already an open draft; change "
                "it, or have it approved first.",
                draft_id=draft.pk,
            )
        source = versions.filter(status=FormulaStatus.APPROVED).order_by("-version").first()
        if source is None:
            raise Conflict(f"{formula.code} has no approved version to start from.", field="status")
        number = (versions.aggregate(top=Max("version"))["top"] or 0) + 1
        rows = ingredient_dicts(source)
        values = _snapshot(source)
        values["change_note"] = note
        values["hazardous"] = source.hazardous or any(
            r["product"] is not None and r["product"].hazardous for r in rows
        )
        try:
            with transaction.atomic():
                new = MasterFormula.objects.create(
                    site_id=source.site_id,
                    code=source.code,
                    version=number,
                    status=FormulaStatus.DRAFT,
                    supersedes=source,
                    created_by=author,
                    **values,
                )
        except IntegrityError:
            raise Conflict(
                f"Someone else just made version {number} of {source.code}; open it instead."
            ) from None
        _write_ingredients(new, rows)
        audit_record(
            actor=author,
            site=source.site,
            action="compounding.formula.versioned",
            obj=new,
            data={"code": new.code, "version": number, "from_version": source.version},
            reason=note,
        )
    return new


def formula_approve(*, actor: User | None, formula: MasterFormula) -> MasterFormula:
    """The pharmacist-in-charge approves a draft, checked once more against every rule (the
    catalog may have changed since it was written); the version it supersedes, and any
    other approved version of the code, retire."""
    authorize(actor, Cap.COMPOUNDING_APPROVE)
    approver = _signed_in(actor)
    _own(approver, formula)
    with transaction.atomic():
        current = MasterFormula.objects.select_for_update().get(pk=formula.pk)
        if current.status != FormulaStatus.DRAFT:
            if current.status == FormulaStatus.APPROVED:
                raise Conflict(
                    f"Version {current.version} of {current.code} is already approved.",
                    field="status",
                )
            raise _not_draft(current)
        cleaned, _rows = _clean(_snapshot(current), ingredient_dicts(current))
        now = timezone.now()
        older = list(
            MasterFormula.objects.filter(
                site_id=current.site_id, code=current.code, status=FormulaStatus.APPROVED
            ).exclude(pk=current.pk)
        )
        MasterFormula.objects.filter(pk__in=[o.pk for o in older]).update(
            status=FormulaStatus.RETIRED
        )
        current.status = FormulaStatus.APPROVED
        current.approved_by = approver
        current.approved_at = now
        current.hazardous = cleaned["hazardous"]
        current.save(update_fields=["status", "approved_by", "approved_at", "hazardous"])
        audit_record(
            actor=approver,
            site=current.site,
            action="compounding.formula.approved",
            obj=current,
            data={
                "code": current.code,
                "version": current.version,
                "hazardous": current.hazardous,
                "retired_versions": sorted(o.version for o in older),
            },
        )
    return current


def formula_retire(*, actor: User | None, formula: MasterFormula, reason: str) -> MasterFormula:
    """The pharmacist-in-charge takes an approved formula out of use (no record is made
    from it again); the reason is kept in the audit log."""
    authorize(actor, Cap.COMPOUNDING_APPROVE)
    approver = _signed_in(actor)
    _own(approver, formula)
    text = " ".join(str(reason or "").split())
    if not text:
        raise Invalid("Say why the formula is retired.", field="reason")
    if len(text) > 500 or _LINE_CONTROL.search(text):
        raise Invalid("Keep the reason to 500 plain characters.", field="reason")
    with transaction.atomic():
        current = MasterFormula.objects.select_for_update().get(pk=formula.pk)
        if current.status != FormulaStatus.APPROVED:
            if current.status == FormulaStatus.DRAFT:
                raise Conflict(
                    f"Version {current.version} of {current.code} is a draft, not in use; "
                    "only an approved formula is retired.",
                    field="status",
                )
            raise Conflict(
                f"Version {current.version} of {current.code} is already retired.",
                field="status",
            )
        current.status = FormulaStatus.RETIRED
        current.save(update_fields=["status"])
        audit_record(
            actor=approver,
            site=current.site,
            action="compounding.formula.retired",
            obj=current,
            data={"code": current.code, "version": current.version},
            reason=text,
        )
    return current
