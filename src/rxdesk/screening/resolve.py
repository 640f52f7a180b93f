"""From the catalog, the patient record and the prescriptions to screening's words.

``Drug`` values come from a catalog product (its ingredient rows, or the directory's
substance and strength columns when a product has none), with ingredient names reduced to
their generic base names ("FLUOXETINE HYDROCHLORIDE" → "fluoxetine") and class keys from
rxdesk.screening.classes; a prescription adds its directions' daily dose (rxdesk.rx.sig)
and its fill history. ``Patient`` values come from the patient record: birth date, sex,
the latest weight and height, active allergies (allergy or intolerance), pregnancy and
lactation status, active conditions. The record keeps no serum creatinine yet, so a
kidney check sees None and says what it would need.

Nothing here writes. An NDC or an ingredient that screening cannot know is ``Invalid``
naming the field: a check that silently skipped an unknown drug would look like a pass."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import replace
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db.models import OuterRef, Prefetch, Subquery, prefetch_related_objects

from rxdesk.catalog.models import Ingredient as CatalogIngredient
from rxdesk.catalog.models import Package, Product
from rxdesk.catalog.ndc import CodeError, parse_scan
from rxdesk.core.errors import Invalid
from rxdesk.patients.choices import (
    AllergenKind,
    AllergyType,
    ConditionStatus,
    LactationStatus,
    MeasurementKind,
    PregnancyStatus,
)
from rxdesk.patients.models import Measurement
from rxdesk.patients.models import Patient as PatientRecord
from rxdesk.rx.choices import FillStatus, RxStatus
from rxdesk.rx.models import Fill, Prescription
from rxdesk.rx.sig import SigError, expand
from rxdesk.screening.classes import classes_of
from rxdesk.screening.names import ingredient_name as base_name
from rxdesk.screening.types import AllergyFact, Drug, Ingredient, Patient

# A profile drug counts while its last fill's supply lasts, with half again for late
# refills (reference §7.7.4: suppress when the days' supply ended beyond a grace period),
# and at least this long when the days' supply is unknown.
GRACE_FACTOR = Decimal("1.5")
UNKNOWN_SUPPLY_DAYS = 120
# Daily doses are kept to the microgram: enough for any limit, no repeating decimals.
MG = Decimal("0.001")
_MASS_TO_MG = {"mg": Decimal(1), "g": Decimal(1000), "gm": Decimal(1000), "kg": Decimal(10**6)}
_MICRO = {"ug", "mcg", "µg", "μg"}
_PER = re.compile(r"^\s*([a-zµμ]+)\s*/\s*(\d*\.?\d*)\s*([a-z]*)\s*$", re.IGNORECASE)
_WEEKLY_CODES = frozenset({"QWK", "BIW", "TIW"})
# Statuses of a fill that put the drug in the patient's hands (or about to).
_HANDED = (FillStatus.DISPENSED, FillStatus.READY, FillStatus.FILLED)


# --- ingredients and strengths ---------------------------------------------------------------


def _decimal(text: str) -> Decimal | None:
    try:
        value = Decimal(text.strip())
    except (InvalidOperation, AttributeError):
        return None
    return value if value.is_finite() and value > 0 else None


def strength_mg(amount: str, unit: str) -> tuple[Decimal | None, str]:
    """A directory strength as mg per dosage unit, or per mL for liquids: ("20", "mg/1")
    → (20, "mg"); ("160", "mg/5mL") → (32, "mg/mL"); ("25", "ug/1") → (0.025, "mg").
    Anything else (units, percent, mEq) keeps its number and unit as printed."""
    value = _decimal(amount)
    if value is None:
        return None, unit.strip()
    match = _PER.match(unit or "")
    if not match:
        return value, unit.strip()
    mass, per_amount, per_unit = match.group(1).lower(), match.group(2), match.group(3).lower()
    if mass in _MICRO:
        value, mass = value / 1000, "mg"
    elif mass in _MASS_TO_MG:
        value, mass = value * _MASS_TO_MG[mass], "mg"
    else:
        return value, unit.strip()
    per = _decimal(per_amount or "1") or Decimal(1)
    if per_unit in ("ml", "l"):
        per = per * (1000 if per_unit == "l" else 1)
        return (value / per).normalize(), "mg/mL"
    if per_unit in ("", "1") and per == 1:
        return value.normalize(), "mg"
    return (value / per).normalize(), f"mg/{per_unit or '1'}"


def _split(text: str) -> list[str]:
    return [part.strip() for part in (text or "").split(";")]


def _ingredient_rows(product: Product) -> list[tuple[str, str, str]]:
    rows = [
        (i.name, i.strength, i.unit)
        for i in sorted(product.ingredients.all(), key=lambda i: i.position)
    ]
    if rows:
        return rows
    # A product without ingredient rows (hand-made test and demo rows): the directory's
    # columns, "ACETAMINOPHEN; HYDROCODONE BITARTRATE" with "325 mg/1; 5 mg/1".
    names = [n for n in _split(product.substances) if n] or [product.generic_name]
    strengths = _split(product.strength)
    out = []
    for n, name in enumerate(names):
        amount, _, unit = (strengths[n] if n < len(strengths) else "").partition(" ")
        out.append((name, amount, unit))
    return out


def ingredients_of(product: Product) -> tuple[Ingredient, ...]:
    """The product's active ingredients by generic base name, with mg strengths."""
    out: dict[str, Ingredient] = {}
    for name, amount, unit in _ingredient_rows(product):
        base = base_name(name)
        if not base or base in out:
            continue
        value, shown = strength_mg(amount, unit)
        out[base] = Ingredient(name=base, strength=value, unit=shown)
    return tuple(out.values())


def _classes(ingredients: Iterable[Ingredient]) -> frozenset[str]:
    found: set[str] = set()
    for ingredient in ingredients:
        found |= classes_of(ingredient.name)
    return frozenset(found)


def _route(product: Product) -> str:
    return (product.route or "").split(";")[0].strip().lower()


_PER_ONE = re.compile(r"/1\b")


def _label(product: Product) -> str:
    """What a technician reads: "amitriptyline hydrochloride 25 mg tablet" (the directory's
    "25 mg/1" is per one tablet)."""
    name = product.generic_name or product.name
    strength = _PER_ONE.sub("", product.strength or "")
    parts = [name.lower(), strength, (product.dosage_form or "").lower()]
    return " ".join(p for p in parts if p).strip()


def drug_of_product(product: Product, *, ndc: str = "") -> Drug:
    """The drug a catalog product is (no directions, no history)."""
    ingredients = ingredients_of(product)
    return Drug(
        label=_label(product),
        ingredients=ingredients,
        classes=_classes(ingredients),
        route=_route(product),
        dosage_form=(product.dosage_form or "").lower(),
        ndc=ndc,
        schedule=product.dea_schedule,
    )


# --- by NDC, by ingredient ---------------------------------------------------------------------


def package_for_ndc(ndc: str, *, field: str = "ndc") -> Package:
    """The catalog package an NDC names (10 digits in any layout, or 11), or Invalid
    naming ``field``."""
    text = (ndc or "").strip()
    if not text or len(text) > 20:
        raise Invalid("Give an NDC, e.g. 0002-3227-30 or 00002322730.", field=field)
    try:
        scan = parse_scan(text)
    except CodeError as exc:
        raise Invalid(f"{text!r} is not an NDC: {exc}", field=field) from None
    qs = Package.objects.select_related("product").prefetch_related("product__ingredients")
    if scan.ndc11:
        packages = list(qs.filter(ndc11=scan.ndc11))
    else:
        packages = list(qs.filter(ndc11__in=scan.candidates))
        digits = re.sub(r"\D", "", text)
        packages = [p for p in packages if re.sub(r"\D", "", p.ndc10) == digits] or packages
    if not packages:
        raise Invalid(f"NDC {text} is not in the catalog.", field=field)
    if len(packages) > 1:
        raise Invalid(
            f"NDC {text} matches {len(packages)} packages; type it with its hyphens.",
            field=field,
        )
    return packages[0]


def drug_from_ndc(ndc: str, *, field: str = "ndc") -> Drug:
    """The drug an NDC names, or Invalid naming ``field`` (malformed, or not in the
    catalog)."""
    package = package_for_ndc(ndc, field=field)
    return drug_of_product(package.product, ndc=package.ndc11)


def known_ingredient(name: str) -> bool:
    """Whether screening knows this generic name: a class member, a term of the loaded
    knowledge base, or an ingredient in the catalog."""
    from rxdesk.screening.kb import load_index

    if classes_of(name) or name in load_index().by_term:
        return True
    if CatalogIngredient.objects.filter(name__iexact=name).exists():
        return True
    return Product.objects.filter(substances__icontains=name).exists()


def drug_from_ingredient(name: str, *, field: str = "ingredient") -> Drug:
    """A drug given by its generic name, any case ("Warfarin", "fluoxetine
    hydrochloride"), or Invalid naming ``field`` when screening does not know it."""
    text = " ".join((name or "").split())
    if not text or len(text) > 120 or not text.isprintable():
        raise Invalid("Give the generic name of an ingredient, e.g. warfarin.", field=field)
    base = base_name(text)
    if not base or not known_ingredient(base):
        raise Invalid(
            f"{text!r} is not a generic ingredient name screening knows; type the generic "
            "name (e.g. fluoxetine, not Prozac), or give the NDC.",
            field=field,
        )
    ingredient = Ingredient(name=base)
    return Drug(label=base, ingredients=(ingredient,), classes=_classes((ingredient,)))


# --- prescriptions -------------------------------------------------------------------------------


def _daily(drug: Drug, directions: str) -> Drug:
    """The directions' daily dose per ingredient in mg (dose units a day × strength; a
    dose typed in mg, mcg or g for a one-ingredient drug), whether they say weekly, and
    doses a day. Directions that do not parse give no dose (the sig screen flags them)."""
    try:
        sig = expand(directions)
    except SigError:
        return drug
    per_day = sig.frequency_per_day
    weekly = bool(_WEEKLY_CODES & set(sig.canonical.split()))
    units = sig.max_daily_doses
    daily: dict[str, Decimal] = {}
    if units is not None and sig.dose_unit:
        unit = sig.dose_unit
        if unit in ("mg", "mcg", "g") and len(drug.ingredients) == 1:
            factor = {"mg": Decimal(1), "mcg": Decimal("0.001"), "g": Decimal(1000)}[unit]
            daily[drug.ingredients[0].name] = (units * factor).quantize(MG)
        else:
            for ingredient in drug.ingredients:
                if ingredient.strength is None:
                    continue
                liquid = unit == "mL" and ingredient.unit == "mg/mL"
                solid = unit != "mL" and ingredient.unit == "mg"
                if liquid or solid:
                    daily[ingredient.name] = (units * ingredient.strength).quantize(MG)
    return replace(drug, daily_dose=daily, doses_per_day=per_day, weekly=weekly)


def _last_handed(rx: Prescription, fill: Fill | None) -> Fill | None:
    fills = [f for f in rx.fills.all() if f.dispensed_on is not None and f.status in _HANDED]
    if fill is not None:
        fills = [f for f in fills if f.pk != fill.pk]
    return max(fills, key=lambda f: (f.dispensed_on, f.number), default=None)


def drug_from_prescription(rx: Prescription, fill: Fill | None = None) -> Drug:
    """The drug of a prescription as screening sees it: the product (or the filled
    package's), the directions' daily dose, the schedule, and — from the latest fill that
    reached the patient other than ``fill`` — when it was last filled and for how many
    days."""
    product = rx.product
    ndc = rx.package.ndc11 if rx.package_id and rx.package else ""
    if fill is not None and fill.package_id and fill.package:
        product, ndc = fill.package.product, fill.package.ndc11
    drug = drug_of_product(product, ndc=ndc)
    drug = _daily(drug, rx.directions)
    last = _last_handed(rx, fill)
    return replace(
        drug,
        schedule=rx.schedule or drug.schedule,
        days_supply=(last.days_supply if last is not None else rx.days_supply),
        last_filled=last.dispensed_on if last is not None else None,
        prescription_id=rx.pk,
    )


def profile_of(
    patient: PatientRecord, exclude_rx: Prescription | None = None, *, today: dt.date | None = None
) -> tuple[Drug, ...]:
    """The patient's active profile: active prescriptions whose latest fill reached the
    patient within its days' supply × 1.5 (or 120 days when the supply is unknown),
    ``exclude_rx`` left out (the one being screened)."""
    today = today or patient.site.today()
    # Only the fills that reached the patient matter (``_last_handed``), and only the
    # products of the prescriptions still in their window need their ingredients.
    handed = Fill.objects.filter(status__in=_HANDED, dispensed_on__isnull=False).only(
        "id", "prescription_id", "number", "status", "dispensed_on", "days_supply"
    )
    rxs = (
        Prescription.objects.filter(patient=patient, status=RxStatus.ACTIVE)
        .select_related("product", "package")
        .prefetch_related(Prefetch("fills", queryset=handed))
        .order_by("pk")
    )
    if exclude_rx is not None:
        rxs = rxs.exclude(pk=exclude_rx.pk)
    kept = []
    for rx in rxs:
        last = _last_handed(rx, None)
        if last is None or last.dispensed_on is None:
            continue
        supply = last.days_supply or rx.days_supply
        window = int(Decimal(supply) * GRACE_FACTOR) if supply else UNKNOWN_SUPPLY_DAYS
        if (today - last.dispensed_on).days > max(window, 0):
            continue
        kept.append(rx)
    prefetch_related_objects([rx.product for rx in kept], "ingredients")
    return tuple(drug_from_prescription(rx) for rx in kept)


# --- the patient -------------------------------------------------------------------------------


_MEASURED = (
    MeasurementKind.WEIGHT,
    MeasurementKind.HEIGHT,
    MeasurementKind.SERUM_CREATININE,
)


def _latest(patient: PatientRecord) -> dict[str, Decimal | None]:
    """The latest weight, height and serum creatinine, in one statement (a subquery per
    kind on the patient's row, each using the (patient, kind, date) index)."""
    value = Measurement._meta.get_field("value")
    latest = {
        f"latest_{kind.lower()}": Subquery(
            Measurement.objects.filter(patient=OuterRef("pk"), kind=kind)
            .order_by("-measured_on", "-pk")
            .values("value")[:1],
            output_field=value,
        )
        for kind in _MEASURED
    }
    row = (
        PatientRecord.objects.filter(pk=patient.pk).annotate(**latest).values_list(*latest).first()
    )
    values: tuple[Any, ...] = tuple(row) if row else (None,) * len(_MEASURED)
    return dict(zip(_MEASURED, values, strict=True))


def allergen_name(text: str) -> str:
    """An allergen as recorded, as screening compares it: lower case, a salt's base name."""
    words = " ".join((text or "").split()).lower()
    return base_name(words) or words


def patient_facts(patient: PatientRecord) -> Patient:
    """The facts screening reads from the record. Food and environmental allergens are
    kept too (an egg or gelatin allergy matters for some vaccines); ``kind`` tells an
    immune allergy from an intolerance."""
    allergies = tuple(
        AllergyFact(
            allergen=allergen_name(a.allergen),
            kind="intolerance" if a.allergy_type == AllergyType.INTOLERANCE else "allergy",
            reaction=a.reaction,
        )
        for a in patient.allergies.filter(active=True).order_by("pk")
        if a.allergen_kind != AllergenKind.EXCIPIENT or a.allergen
    )
    conditions: list[str] = []
    for c in patient.conditions.filter(status=ConditionStatus.ACTIVE).order_by("pk"):
        if c.icd10:
            conditions.append(c.icd10.upper())
        if c.description:
            conditions.append(" ".join(c.description.split()).lower())
    measured = _latest(patient)
    return Patient(
        birth_date=patient.date_of_birth,
        sex=patient.sex or "U",
        weight_kg=measured[MeasurementKind.WEIGHT],
        height_cm=measured[MeasurementKind.HEIGHT],
        serum_creatinine_mg_dl=measured[MeasurementKind.SERUM_CREATININE],
        pregnant=patient.pregnancy_status == PregnancyStatus.PREGNANT,
        breastfeeding=patient.lactation_status == LactationStatus.LACTATING,
        allergies=allergies,
        conditions=tuple(conditions),
    )
