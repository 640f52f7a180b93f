"""Reads of medication reconciliation: best possible medication history, comparison with the
profile, discrepancies and outcomes.

Every read is of the actor's pharmacy only; a med rec names its patient, so reading one
needs care.view and patient.view. Opening one is recorded by the caller
(services_medrec.medrec_opened)."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Case, Count, IntegerField, Q, QuerySet, Value, When

from rxdesk.care import medrec_compare as mc
from rxdesk.care.choices import MedRecStatus
from rxdesk.care.models import MedRec, MedRecDiscrepancy, MedRecItem
from rxdesk.catalog.models import Product
from rxdesk.core.capabilities import Cap, require
from rxdesk.core.errors import NotFound
from rxdesk.core.models import Site, User
from rxdesk.patients.models import Patient
from rxdesk.rx.choices import RxStatus
from rxdesk.rx.models import Prescription
from rxdesk.screening.names import ingredient_names

LIST_LIMIT = 200
# The review queue first (the pharmacist's work), then those being gathered, then done.
_STATUS_ORDER = Case(
    When(status=MedRecStatus.REVIEW, then=Value(0)),
    When(status=MedRecStatus.OPEN, then=Value(1)),
    default=Value(2),
    output_field=IntegerField(),
)


def _reader(actor: User) -> Site:
    require(actor, Cap.CARE_VIEW)
    require(actor, Cap.PATIENT_VIEW)
    if actor.site is None:
        raise NotFound("Your account is not attached to a pharmacy.")
    return actor.site


def medrecs(
    *,
    actor: User,
    status: str | None = None,
    patient_id: int | None = None,
    limit: int = LIST_LIMIT,
) -> QuerySet[MedRec]:
    """Med recs of the pharmacy, the review queue first, then open, then completed; each
    with ``n_items`` and ``n_open`` (discrepancies without an outcome)."""
    site = _reader(actor)
    rows = MedRec.objects.filter(site=site).select_related("patient", "started_by")
    if status:
        rows = rows.filter(status=status)
    if patient_id is not None:
        rows = rows.filter(patient_id=patient_id)
    return rows.annotate(
        n_items=Count("items", distinct=True),
        n_open=Count("discrepancies", filter=Q(discrepancies__outcome=""), distinct=True),
        rank=_STATUS_ORDER,
    ).order_by("rank", "started_at", "pk")[:limit]


def medrec_get(*, actor: User, medrec_id: int) -> MedRec:
    site = _reader(actor)
    row = (
        MedRec.objects.select_related(
            "patient", "site", "started_by", "submitted_by", "completed_by"
        )
        .filter(site=site, pk=medrec_id)
        .first()
    )
    if row is None:
        raise NotFound("No such medication reconciliation at this pharmacy.")
    return row


def items_of(medrec: MedRec) -> list[MedRecItem]:
    return list(
        MedRecItem.objects.filter(medrec=medrec)
        .select_related("prescription", "package", "added_by")
        .order_by("pk")
    )


def discrepancies_of(medrec: MedRec) -> list[MedRecDiscrepancy]:
    return list(
        MedRecDiscrepancy.objects.filter(medrec=medrec)
        .select_related("item", "prescription", "prescriber_contacted", "found_by", "resolved_by")
        .order_by(Case(When(outcome="", then=Value(0)), default=Value(1)), "pk")
    )


def profile_of(patient: Patient) -> list[Prescription]:
    """The patient's active prescriptions at the patient's pharmacy."""
    return list(
        Prescription.objects.filter(
            site_id=patient.site_id, patient=patient, status=RxStatus.ACTIVE
        )
        .select_related("product", "prescriber")
        .order_by("drug_description", "number")
    )


def _catalog_ingredients(key: str, seen: dict[str, frozenset[str]]) -> frozenset[str]:
    """Ingredients of a typed name the catalog knows (a brand or generic name)."""
    if not key:
        return frozenset()
    if key in seen:
        return seen[key]
    product = (
        Product.objects.filter(Q(name__iexact=key) | Q(generic_name__iexact=key))
        .only("substances")
        .first()
    )
    found = frozenset(ingredient_names(product.substances)) if product is not None else frozenset()
    seen[key] = found
    return found


def _product_ingredients(product: Product | None) -> frozenset[str]:
    if product is None or not product.substances:
        return frozenset()
    return frozenset(ingredient_names(product.substances))


def history_line(item: MedRecItem, seen: dict[str, frozenset[str]] | None = None) -> mc.HistoryLine:
    ingredients = frozenset[str]()
    if item.package_id is not None:
        ingredients = _product_ingredients(item.package.product)  # type: ignore[union-attr]
    if not ingredients and item.prescription_id is not None:
        ingredients = _product_ingredients(item.prescription.product)  # type: ignore[union-attr]
    if not ingredients:
        ingredients = _catalog_ingredients(
            mc.name_key(item.drug_name), {} if seen is None else seen
        )
    return mc.HistoryLine(
        key=item.pk,
        drug_name=item.drug_name,
        dose=item.dose,
        frequency=item.frequency,
        route=item.route,
        taking=item.taking,
        prescription_id=item.prescription_id,
        ingredients=ingredients,
    )


def profile_line(rx: Prescription) -> mc.ProfileLine:
    dose, frequency, route = mc.profile_line_parts(rx.directions)
    if not route:
        route = mc.parse_route(rx.product.route or "") or ""
    return mc.ProfileLine(
        prescription_id=rx.pk,
        drug_name=rx.drug_description,
        dose=dose,
        frequency=frequency,
        route=route,
        ingredients=_product_ingredients(rx.product),
    )


@dataclass(frozen=True)
class SideBySide:
    """The comparison with the rows' model objects, for the screens and the API."""

    comparison: mc.Comparison
    items: dict[int, MedRecItem]
    prescriptions: dict[int, Prescription]


def comparison(medrec: MedRec) -> mc.Comparison:
    return side_by_side(medrec).comparison


def side_by_side(medrec: MedRec) -> SideBySide:
    items = items_of(medrec)
    profile = profile_of(medrec.patient)
    seen: dict[str, frozenset[str]] = {}
    result = mc.compare([history_line(i, seen) for i in items], [profile_line(p) for p in profile])
    return SideBySide(
        comparison=result,
        items={i.pk: i for i in items},
        prescriptions={p.pk: p for p in profile},
    )


def counts(*, site: Site) -> dict[str, int]:
    """For the home page: med recs waiting for the pharmacist, and being gathered."""
    rows = MedRec.objects.filter(site=site).values("status").annotate(n=Count("pk"))
    by = {r["status"]: r["n"] for r in rows}
    return {
        "review": by.get(MedRecStatus.REVIEW, 0),
        "open": by.get(MedRecStatus.OPEN, 0),
    }


__all__ = [
    "SideBySide",
    "comparison",
    "counts",
    "discrepancies_of",
    "items_of",
    "medrec_get",
    "medrecs",
    "profile_of",
    "side_by_side",
]
