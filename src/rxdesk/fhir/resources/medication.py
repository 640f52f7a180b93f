"""FHIR Medication (US Core Medication): one per catalog package, id = the package's pk.

The NDC-11 is the package's identity (code.coding with codes.NDC, 11 digits, no hyphens).
The catalog has no RxNorm column, so no RxNorm coding is made up here. The drug file is
shared by every site and is not PHI: no patient is accounted for on a read.

The helpers ``ndc_coding``, ``unit_of`` and ``package_quantity`` are shared with the
MedicationRequest and MedicationDispense modules so a drug and a quantity read the same in
every resource."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db.models import Q, QuerySet

from rxdesk.catalog.models import Ingredient, Package, Product
from rxdesk.core.capabilities import Cap
from rxdesk.fhir import codes
from rxdesk.fhir.registry import Context, ResourceType, SearchParam, register
from rxdesk.fhir.resources.common import clean, coding, concept, meta, quantity
from rxdesk.fhir.search import bad, split, token

# UCUM units the FDA directory writes exactly as UCUM spells them; others stay unit text.
_UCUM = {"mg", "g", "kg", "ug", "ng", "mL", "L", "[iU]", "meq", "mmol", "%"}
# Dosage forms counted one by one: an "each" quantity reads "30 capsule".
_COUNTED = {
    "capsule",
    "tablet",
    "patch",
    "suppository",
    "lozenge",
    "troche",
    "film",
    "ring",
    "insert",
    "pellet",
    "implant",
    "kit",
    "wafer",
    "gum",
    "pastille",
    "bar",
}
_NDC_PARTS = {(4, 4, 2), (5, 3, 2), (5, 4, 1), (5, 4, 2)}
_DENOMINATOR = re.compile(r"^(?P<value>\d+(?:\.\d+)?)?\s*(?P<unit>.*)$")
_CONTAINER = re.compile(r"^\s*[\d.]+\s+.+?\s+in\s+1\s+(?P<unit>[A-Z][A-Z ,-]*?)\s*(?:\(|>|$)")
STATUSES = ("active", "inactive", "entered-in-error")


def ndc11(value: str) -> str | None:
    """An NDC as 11 digits: ``00002322730`` as is, ``0002-3227-30`` (any 10-digit layout)
    padded 5-4-2; None for anything that is not an NDC."""
    value = value.strip()
    if re.fullmatch(r"\d{11}", value):
        return value
    parts = value.split("-")
    if len(parts) != 3 or not all(p.isdigit() for p in parts):
        return None
    if tuple(len(p) for p in parts) not in _NDC_PARTS:
        return None
    return parts[0].rjust(5, "0") + parts[1].rjust(4, "0") + parts[2].rjust(2, "0")


def ndc_coding(package: Package | None) -> dict[str, Any] | None:
    if package is None:
        return None
    return coding(codes.NDC, package.ndc11, package.description[:200] or None)


def form_word(product: Product | None) -> str | None:
    """``TABLET, FILM COATED`` → ``tablet`` when the form is counted one by one."""
    if product is None or not product.dosage_form:
        return None
    word = product.dosage_form.split(",")[0].strip().lower()
    return word if word in _COUNTED else None


def unit_of(billing_unit: str, product: Product | None) -> tuple[str, str | None]:
    """(unit text, UCUM code or None) for an NCPDP billing unit (EA, ML, GM)."""
    if billing_unit == "ML":
        return "mL", "mL"
    if billing_unit == "GM":
        return "g", "g"
    return form_word(product) or "each", None


def package_quantity(
    value: Decimal | None, billing_unit: str, product: Product | None
) -> dict[str, Any] | None:
    unit, code = unit_of(billing_unit, product)
    return quantity(value, unit, code)


def _strength(ingredient: Ingredient, product: Product) -> dict[str, Any] | None:
    """``20`` + ``mg/1`` → 20 mg per 1 capsule; ``250`` + ``mg/5mL`` → 250 mg per 5 mL.
    None when the directory's text does not read as amount/amount."""
    try:
        value = Decimal(ingredient.strength.strip())
    except (InvalidOperation, ValueError):
        return None
    if not value.is_finite() or "/" not in ingredient.unit:
        return None
    top, _, bottom = ingredient.unit.partition("/")
    top, bottom = top.strip(), bottom.strip()
    m = _DENOMINATOR.match(bottom)
    if not top or not m or "/" in bottom:
        return None
    per = Decimal(m.group("value") or 1)
    per_unit = m.group("unit").strip()
    if per_unit:
        denominator = quantity(per, per_unit, per_unit if per_unit in _UCUM else None)
    else:
        denominator = quantity(per, form_word(product) or "unit")
    return {
        "numerator": quantity(value, top, top if top in _UCUM else None),
        "denominator": denominator,
    }


def _container(package: Package) -> str:
    m = _CONTAINER.match(package.description.split(">")[0])
    return m.group("unit").strip().lower() if m else "package"


def drug_text(product: Product) -> str:
    return " ".join(x for x in (product.display_name, product.strength, product.dosage_form) if x)


def to_fhir(package: Package, ctx: Context) -> dict[str, Any]:
    product = package.product
    ingredients = []
    for ing in product.ingredients.all():
        ingredients.append(
            {
                "itemCodeableConcept": concept(text=ing.name),
                "isActive": True,
                "strength": _strength(ing, product),
            }
        )
    unit, code = unit_of(package.billing_unit, product)
    return clean(
        {
            "resourceType": "Medication",
            "id": str(package.pk),
            "meta": meta("Medication", product.imported_at),
            "code": concept(ndc_coding(package), text=drug_text(product)),
            "status": "active" if package.active and product.active else "inactive",
            "form": concept(text=product.dosage_form.lower() or None),
            "amount": {
                "numerator": quantity(package.package_quantity, unit, code),
                "denominator": {"value": 1, "unit": _container(package)},
            },
            "ingredient": ingredients,
        }
    )


def queryset(ctx: Context) -> QuerySet[Package]:
    return (
        Package.objects.select_related("product")
        .prefetch_related("product__ingredients")
        .order_by("pk")
    )


def code_q(param: str, values: list[str], field: str = "ndc11") -> Q:
    """NDC token search on ``field``: ``[codes.NDC|]<NDC-11 or hyphenated 10>``. A value in
    another system, or one that is no NDC, matches nothing."""
    q = Q()
    for group in split(values):
        alt = Q(pk__in=[])
        for value in group:
            system, code = token(param, value)
            if system not in (None, codes.NDC) or not code:
                continue
            found = ndc11(code)
            if found:
                alt |= Q(**{field: found})
        q &= alt
    return q


def _code(qs: QuerySet[Any], values: list[str], ctx: Context) -> QuerySet[Any]:
    return qs.filter(code_q("code", values))


def _status(qs: QuerySet[Any], values: list[str], ctx: Context) -> QuerySet[Any]:
    q = Q()
    for group in split(values):
        alt = Q(pk__in=[])
        for value in group:
            _, code = token("status", value)
            if code not in STATUSES:
                raise bad("status", f"use one of {', '.join(STATUSES)}.")
            if code == "active":
                alt |= Q(active=True, product__active=True)
            elif code == "inactive":
                alt |= Q(active=False) | Q(product__active=False)
        q &= alt
    return qs.filter(q)


def used_by_site(ctx: Context) -> QuerySet[Package]:
    """The packages the site's prescriptions and fills name (for exports: the whole FDA
    catalog is not the pharmacy's data)."""
    from rxdesk.rx.models import Fill, Prescription

    written = Prescription.objects.filter(site=ctx.site, package__isnull=False).values("package")
    filled = Fill.objects.filter(site=ctx.site, package__isnull=False).values("package")
    return queryset(ctx).filter(Q(pk__in=written) | Q(pk__in=filled))


MEDICATION = register(
    ResourceType(
        name="Medication",
        cap=Cap.CATALOG_VIEW,
        queryset=queryset,
        to_fhir=to_fhir,
        params={
            "code": SearchParam(
                "code",
                "token",
                "NDC of the package (11 digits, or the 10-digit form with hyphens)",
                _code,
            ),
            "status": SearchParam("status", "token", "active | inactive", _status),
        },
        profile=codes.PROFILE["Medication"],
        documentation="The drug file: one Medication per NDC package (not PHI).",
    )
)
