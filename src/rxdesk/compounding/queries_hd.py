"""Reads of hazardous-drug handling (USP <800>): a formula's profile (the containment and
PPE a record of it lists, the assessments of risk that apply) and the pharmacy's HD list
(every hazardous drug stocked or compounded here, with its assessment of risk or why it
has none, and the review dates)."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db.models import Sum

from rxdesk.catalog.models import Product
from rxdesk.compounding import hd
from rxdesk.compounding.choices import STERILE_CATEGORIES, FormulaStatus
from rxdesk.compounding.models import FormulaIngredient, MasterFormula, RiskAssessment
from rxdesk.core.capabilities import Cap
from rxdesk.core.errors import NotFound
from rxdesk.core.models import Site, User
from rxdesk.core.services import authorize
from rxdesk.inventory.models import StockBalance

MAX_ID = 2**63 - 1
# An assessment due within this many days shows as "due soon".
DUE_SOON_DAYS = 30


def is_bulk(product: Product) -> bool:
    """An active pharmaceutical ingredient: the directory's product type says BULK."""
    return "BULK" in (product.product_type or "").upper()


def manipulation_label(code: str) -> str:
    return hd.MANIPULATIONS.get(code, code)


@dataclass(frozen=True)
class AssessmentView:
    """An assessment of risk with its review standing on a given day."""

    assessment: RiskAssessment
    overdue: bool
    due_soon: bool

    @property
    def manipulation(self) -> str:
        return manipulation_label(self.assessment.manipulation)

    @property
    def covers_compounding(self) -> bool:
        return self.assessment.manipulation in hd.COMPOUNDING_MANIPULATIONS


def _view(assessment: RiskAssessment, today: dt.date) -> AssessmentView:
    return AssessmentView(
        assessment=assessment,
        overdue=assessment.review_due < today,
        due_soon=today <= assessment.review_due <= today + dt.timedelta(days=DUE_SOON_DAYS),
    )


# --- A formula's profile ---------------------------------------------------------------------


@dataclass(frozen=True)
class HdDrug:
    """A hazardous ingredient of a formula."""

    name: str
    product: Product | None
    antineoplastic: bool
    bulk: bool
    assessments: list[AssessmentView]

    @property
    def covered(self) -> bool:
        """An assessment of risk in force (not overdue) covers compounding with it."""
        return any(a.covers_compounding and not a.overdue for a in self.assessments)


@dataclass(frozen=True)
class HdProfile:
    """What USP <800> asks of a preparation of the formula.

    ``level`` is what the ingredients allow (:func:`hd.handling`; full containment when the
    pharmacist flagged the formula by hand and no catalog product is hazardous); ``applied``
    is full containment as well when a drug the level counts on has no assessment of risk in
    force for compounding — without one, full containment is the rule."""

    hazardous: bool
    level: str | None
    applied: str | None
    drugs: list[HdDrug]
    requirements: list[str]
    receiving: list[str] = field(default_factory=list)
    storage: list[str] = field(default_factory=list)

    @property
    def assessments(self) -> list[AssessmentView]:
        return [a for d in self.drugs for a in d.assessments]

    @property
    def needs_assessment(self) -> list[str]:
        """Hazardous drugs that could be handled under an assessment of risk but have none
        in force for compounding."""
        if self.level != hd.ASSESSMENT:
            return []
        return [d.name for d in self.drugs if not d.covered]

    def record_lines(self) -> list[str]:
        """The lines a compounding record keeps: the requirements, then each assessment of
        risk relied on."""
        lines = list(self.requirements)
        if self.applied == hd.ASSESSMENT:
            for a in self.assessments:
                if a.covers_compounding and not a.overdue:
                    r = a.assessment
                    lines.append(
                        f"Assessment of risk #{r.pk}: {r.product.name} {r.dosage_form}, "
                        f"{a.manipulation.lower()}; reviewed {r.reviewed_on.isoformat()}, "
                        f"due {r.review_due.isoformat()}"
                    )
        return lines

    def as_json(self) -> dict[str, Any]:
        return {
            "hazardous": self.hazardous,
            "level": self.level,
            "applied": self.applied,
            "drugs": [
                {
                    "name": d.name,
                    "product_id": d.product.pk if d.product else None,
                    "antineoplastic": d.antineoplastic,
                    "bulk": d.bulk,
                    "covered": d.covered,
                }
                for d in self.drugs
            ],
            "requirements": self.requirements,
            "receiving": self.receiving,
            "storage": self.storage,
            "assessments": [
                {
                    "id": a.assessment.pk,
                    "product_id": a.assessment.product_id,
                    "dosage_form": a.assessment.dosage_form,
                    "manipulation": a.assessment.manipulation,
                    "review_due": a.assessment.review_due.isoformat(),
                    "overdue": a.overdue,
                }
                for a in self.assessments
            ],
            "needs_assessment": self.needs_assessment,
        }


def hd_profile(
    formula: MasterFormula,
    *,
    today: dt.date | None = None,
    ingredients: list[FormulaIngredient] | None = None,
) -> HdProfile:
    """The formula's hazardous-drug handling, requirements and assessments of risk."""
    day = today or formula.site.today()
    rows = (
        ingredients
        if ingredients is not None
        else list(
            FormulaIngredient.objects.select_related("product")
            .filter(formula=formula)
            .order_by("position")
        )
    )
    items = [
        hd.HdIngredient(
            name=i.name,
            substances=i.product.substances if i.product else "",
            hazardous=bool(i.product and i.product.hazardous),
            bulk=bool(i.product and is_bulk(i.product)),
        )
        for i in rows
    ]
    level = hd.handling(items)
    if level is None and formula.hazardous:
        level = hd.FULL  # flagged by hand: no catalog product to hold an assessment of risk
    if level is None:
        return HdProfile(hazardous=False, level=None, applied=None, drugs=[], requirements=[])
    hazardous = [i for i in rows if i.product is not None and i.product.hazardous]
    by_product: dict[int, list[AssessmentView]] = defaultdict(list)
    for a in (
        RiskAssessment.objects.select_related("product")
        .filter(
            site_id=formula.site_id,
            active=True,
            product_id__in=[i.product_id for i in hazardous],
        )
        .order_by("product__name", "-reviewed_on")
    ):
        by_product[a.product_id].append(_view(a, day))
    drugs = []
    for i in hazardous:
        assert i.product is not None
        drugs.append(
            HdDrug(
                name=i.name,
                product=i.product,
                antineoplastic=hd.is_antineoplastic(i.product.substances),
                bulk=is_bulk(i.product),
                assessments=by_product.get(i.product.pk, []),
            )
        )
    applied = level
    if level == hd.ASSESSMENT and not all(d.covered for d in drugs):
        applied = hd.FULL
    sterile = formula.category in STERILE_CATEGORIES
    return HdProfile(
        hazardous=True,
        level=level,
        applied=applied,
        drugs=drugs,
        requirements=hd.requirements(sterile=sterile, level=applied),
        receiving=list(hd.RECEIVING),
        storage=list(hd.STORAGE),
    )


# --- The pharmacy's HD list ------------------------------------------------------------------

FULL, ASSESSED, OVERDUE, NEEDS = "full", "assessment", "overdue", "needs"
STATUS_LABELS = {
    ASSESSED: "Assessment of risk",
    OVERDUE: "Assessment of risk overdue for review",
    FULL: "None — full containment",
    NEEDS: "Needs an assessment of risk (full containment until then)",
}


@dataclass(frozen=True)
class HdRow:
    product: Product
    stock: list[str]
    formulas: list[str]
    antineoplastic: bool
    bulk: bool
    assessments: list[AssessmentView]
    status: str

    @property
    def status_label(self) -> str:
        return STATUS_LABELS[self.status]


@dataclass(frozen=True)
class HdList:
    today: dt.date
    rows: list[HdRow]
    assessments: list[AssessmentView]

    @property
    def overdue(self) -> int:
        return sum(1 for a in self.assessments if a.overdue)


def hd_list(*, actor: User) -> HdList:
    """Every NIOSH-hazardous product this pharmacy stocks (on hand), uses in a formula in
    draft or in use, or has an assessment of risk for; with that assessment, or why there
    is none, and when each is due for review. Four queries, whatever the size."""
    authorize(actor, Cap.COMPOUNDING_VIEW)
    site: Site = actor.site
    today = site.today()
    stock: dict[int, list[str]] = defaultdict(list)
    for b in (
        StockBalance.objects.filter(site=site, on_hand__gt=0, package__product__hazardous=True)
        .values("package__product_id", "package__billing_unit")
        .annotate(total=Sum("on_hand"))
        .order_by("package__product_id", "package__billing_unit")
    ):
        total = Decimal(b["total"]).normalize()
        stock[b["package__product_id"]].append(f"{total:f} {b['package__billing_unit']}")
    formulas: dict[int, list[str]] = defaultdict(list)
    for f in (
        FormulaIngredient.objects.filter(
            formula__site=site,
            formula__status__in=(FormulaStatus.DRAFT, FormulaStatus.APPROVED),
            product__hazardous=True,
        )
        .values("product_id", "formula__code")
        .distinct()
        .order_by("product_id", "formula__code")
    ):
        if f["formula__code"] not in formulas[f["product_id"]]:
            formulas[f["product_id"]].append(f["formula__code"])
    views = [
        _view(a, today)
        for a in RiskAssessment.objects.select_related("product")
        .filter(site=site, active=True)
        .order_by("product__name", "-reviewed_on", "-pk")
    ]
    by_product: dict[int, list[AssessmentView]] = defaultdict(list)
    for v in views:
        by_product[v.assessment.product_id].append(v)
    ids = set(stock) | set(formulas) | set(by_product)
    rows = []
    for product in Product.objects.filter(pk__in=ids).order_by("name", "pk"):
        antineoplastic = hd.is_antineoplastic(product.substances)
        bulk = is_bulk(product)
        mine = by_product.get(product.pk, [])
        used = formulas.get(product.pk, [])
        # Compounded here, the drug needs an assessment that covers compounding; one for
        # counting its tablets does not.
        covered = bool(mine) and (not used or any(a.covers_compounding for a in mine))
        if any(a.overdue for a in mine):
            status = OVERDUE
        elif covered:
            status = ASSESSED
        else:
            status = FULL if antineoplastic or bulk else NEEDS
        rows.append(
            HdRow(
                product=product,
                stock=stock.get(product.pk, []),
                formulas=used,
                antineoplastic=antineoplastic,
                bulk=bulk,
                assessments=mine,
                status=status,
            )
        )
    return HdList(today=today, rows=rows, assessments=views)


def assessment_get(*, actor: User, assessment_id: int | str) -> RiskAssessment:
    """One assessment of risk of the actor's pharmacy; another pharmacy's does not exist."""
    authorize(actor, Cap.COMPOUNDING_VIEW)
    try:
        pk = int(str(assessment_id))
    except ValueError:
        raise NotFound("No such assessment of risk at this pharmacy.") from None
    found = (
        RiskAssessment.objects.select_related("product", "approved_by")
        .filter(pk=pk, site_id=actor.site_id)
        .first()
        if 0 < pk <= MAX_ID
        else None
    )
    if found is None:
        raise NotFound("No such assessment of risk at this pharmacy.")
    return found


def assessment_view(assessment: RiskAssessment, today: dt.date) -> AssessmentView:
    return _view(assessment, today)
