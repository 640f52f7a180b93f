"""Set-up for compounding tests (rows written directly, bypassing the services on purpose):
catalog products with stock for the components of two formulas, approved master formulas,
competent staff, a cleanroom.

- Nonsterile: hydrocortisone 1 % cream 200 g from hydrocortisone 2.5 % cream (50 g) and
  hydrocortisone 0.5 % cream (150 g), the reference's alligation example; a cream is an
  aqueous preparation, here preserved → 35 days (USP <795> Table 4).
- Sterile Category 2: vancomycin 1 g in 0.9 % sodium chloride 250 mL (aseptic, sterile
  components only → 10 days refrigerated)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from rxdesk.catalog.models import Package
from rxdesk.compounding import competency
from rxdesk.compounding.models import (
    CompetencyResult,
    EngineeringControl,
    FormulaIngredient,
    MasterFormula,
    Room,
)
from rxdesk.core.models import Site, User
from rxdesk.inventory.models import StockBalance
from tests.inventory.factories import package, stock

FAR = dt.date(2030, 12, 31)


def hc_25() -> Package:
    return package(
        "70000-101-01",
        name="Hydrocortisone",
        generic_name="Hydrocortisone",
        dosage_form="CREAM",
        route="TOPICAL",
        strength="25 mg/g",
        substances="HYDROCORTISONE",
        product_type="HUMAN PRESCRIPTION DRUG",
        product_id="70000-0101_hc25",
        product_ndc="70000-0101",
    )


def hc_05() -> Package:
    return package(
        "70000-102-01",
        name="Hydrocortisone",
        generic_name="Hydrocortisone",
        dosage_form="CREAM",
        route="TOPICAL",
        strength="5 mg/g",
        substances="HYDROCORTISONE",
        product_type="HUMAN OTC DRUG",
        product_id="70000-0102_hc05",
        product_ndc="70000-0102",
    )


def vancomycin() -> Package:
    return package(
        "70000-201-01",
        name="Vancomycin Hydrochloride",
        generic_name="Vancomycin Hydrochloride",
        dosage_form="INJECTION, POWDER, LYOPHILIZED, FOR SOLUTION",
        route="INTRAVENOUS",
        strength="1 g/1",
        substances="VANCOMYCIN HYDROCHLORIDE",
        product_id="70000-0201_vanco",
        product_ndc="70000-0201",
    )


def sodium_chloride() -> Package:
    return package(
        "70000-301-01",
        name="Sodium Chloride",
        generic_name="Sodium Chloride",
        dosage_form="INJECTION, SOLUTION",
        route="INTRAVENOUS",
        strength="9 mg/mL",
        substances="SODIUM CHLORIDE",
        product_id="70000-0301_ns",
        product_ndc="70000-0301",
    )


def _set_billing(pkg: Package, unit: str, quantity: str) -> Package:
    if pkg.billing_unit != unit or pkg.package_quantity != Decimal(quantity):
        pkg.billing_unit, pkg.package_quantity = unit, Decimal(quantity)
        pkg.save(update_fields=["billing_unit", "package_quantity"])
    return pkg


def stocked_components(site: Site, *, expiry: dt.date | None = FAR) -> dict[str, StockBalance]:
    """Stock of every component of the two formulas (grams of cream, vials, mL of saline)."""
    return {
        "hc25": stock(site, _set_billing(hc_25(), "GM", "454"), "HC25-A", 1000, expiry),
        "hc05": stock(site, _set_billing(hc_05(), "GM", "454"), "HC05-A", 1000, expiry),
        "vanco": stock(site, _set_billing(vancomycin(), "EA", "10"), "VAN-A", 20, expiry),
        "ns": stock(site, _set_billing(sodium_chloride(), "ML", "250"), "NS-A", 5000, expiry),
    }


def _formula(
    site: Site,
    author: User,
    approver: User | None,
    values: dict[str, Any],
    ingredients: list[dict[str, Any]],
) -> MasterFormula:
    now = dt.datetime.now(dt.UTC)
    formula = MasterFormula.objects.create(
        site=site,
        created_by=author,
        approved_by=approver,
        approved_at=now if approver else None,
        status="approved" if approver else "draft",
        **values,
    )
    for position, ingredient in enumerate(ingredients, start=1):
        FormulaIngredient.objects.create(formula=formula, position=position, **ingredient)
    return formula


def hydrocortisone_cream(
    site: Site, author: User, *, approver: User | None = None, code: str = "HC1CR", version: int = 1
) -> MasterFormula:
    """Hydrocortisone 1 % cream, 200 g batch (approved when ``approver`` is given)."""
    return _formula(
        site,
        author,
        approver,
        {
            "code": code,
            "version": version,
            "name": "Hydrocortisone",
            "strength": "1 %",
            "dosage_form": "cream",
            "route": "topical",
            "category": "nonsterile",
            "preparation": "aqueous",
            "preserved": True,
            "storage": "room",
            "batch_quantity": Decimal("200"),
            "batch_unit": "g",
            "container": "60 g white ointment jar",
            "equipment": "Electronic balance; ointment slab; spatula",
            "procedure": "Weigh each cream. Mix geometrically on the slab until uniform.",
            "calculations": "Alligation: 2.5 % and 0.5 % to 1 %: 1 part : 3 parts.",
            "quality_checks": "Appearance = smooth white cream, uniform\nWeight = 200 g ± 2 %",
            "physical_description": "Smooth white cream",
            "bud_rationale": "USP <795> Table 4: aqueous, preserved: 35 days",
            "labeling": "For external use only",
        },
        [
            {
                "product": hc_25().product,
                "name": "Hydrocortisone 2.5 % cream",
                "quantity": Decimal("50"),
                "unit": "g",
                "role": "active",
            },
            {
                "product": hc_05().product,
                "name": "Hydrocortisone 0.5 % cream",
                "quantity": Decimal("150"),
                "unit": "g",
                "role": "vehicle",
            },
        ],
    )


def vancomycin_bag(
    site: Site,
    author: User,
    *,
    approver: User | None = None,
    code: str = "VANC1G",
    version: int = 1,
) -> MasterFormula:
    """Vancomycin 1 g in 0.9 % sodium chloride 250 mL, Category 2, refrigerated."""
    return _formula(
        site,
        author,
        approver,
        {
            "code": code,
            "version": version,
            "name": "Vancomycin in 0.9 % sodium chloride",
            "strength": "1 g/250 mL",
            "dosage_form": "intravenous solution",
            "route": "intravenous",
            "category": "2",
            "aseptic": True,
            "sterile_starting_components": True,
            "sterility_tested": False,
            "storage": "refrigerator",
            "container_kind": "single-dose",
            "batch_quantity": Decimal("1"),
            "batch_unit": "bag",
            "container": "250 mL 0.9 % sodium chloride bag",
            "procedure": "Reconstitute the vial with 20 mL from the bag; add to the bag.",
            "quality_checks": "Visual inspection = clear, no particles, no leaks",
            "bud_rationale": "USP <797> Category 2, aseptic, sterile components: 10 days fridge",
        },
        [
            {
                "product": vancomycin().product,
                "name": "Vancomycin 1 g vial",
                "quantity": Decimal("1"),
                "unit": "each",
                "role": "active",
            },
            {
                "product": sodium_chloride().product,
                "name": "0.9 % sodium chloride",
                "quantity": Decimal("250"),
                "unit": "mL",
                "role": "diluent",
            },
        ],
    )


def competent(
    person: User,
    category: str,
    *,
    evaluator: User,
    on: dt.date | None = None,
    hazardous: bool = False,
) -> User:
    """Results that make ``person`` qualified for ``category`` on ``on`` (default today)."""
    day = on or dt.date.today()

    def add(kind: str, when: dt.date, *, initial: bool = False) -> None:
        CompetencyResult.objects.create(
            site=person.site,
            person=person,
            kind=kind,
            performed_on=when,
            passed=True,
            initial=initial,
            cfu=0 if kind == competency.GARBING_GFT else None,
            evaluator=evaluator,
            evaluator_name=evaluator.username,
        )

    if category in ("1", "2", "3"):
        for back in (3, 2, 1):
            add(competency.GARBING_GFT, day - dt.timedelta(days=back + 10), initial=True)
    for need in competency.requirements(category, hazardous=hazardous):
        add(need.kind, day - dt.timedelta(days=5))
    return person


def cleanroom(site: Site) -> tuple[Room, EngineeringControl]:
    """An ISO 7 buffer room with an ISO 5 laminar airflow workbench."""
    room = Room.objects.create(site=site, name="Buffer room", kind="buffer", iso_class="7")
    hood = EngineeringControl.objects.create(
        site=site, room=room, name="LAFW 1", kind="lafw", iso_class="5"
    )
    return room, hood
