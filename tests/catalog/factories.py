"""factory_boy factories for catalog rows (set-up only: they bypass the importers and
services on purpose). Defaults are one real directory product: Prozac 20 mg capsules."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import factory

from rxdesk.catalog.models import ApplicationProduct, Ingredient, Package, PackagePrice, Product


class ProductFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Product

    product_id = factory.Sequence(lambda n: f"0002-3227_test-{n}")
    product_ndc = "0002-3227"
    product_type = "HUMAN PRESCRIPTION DRUG"
    name = "Prozac"
    generic_name = "Fluoxetine Hydrochloride"
    dosage_form = "CAPSULE"
    route = "ORAL"
    strength = "20 mg/1"
    substances = "FLUOXETINE HYDROCHLORIDE"
    pharm_classes = "Serotonin Reuptake Inhibitor [EPC],Serotonin Uptake Inhibitors [MoA]"
    marketing_category = "NDA"
    application_number = "NDA018936"
    labeler = "Eli Lilly and Company"
    marketing_start = dt.date(1988, 1, 4)


class IngredientFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Ingredient

    product = factory.SubFactory(ProductFactory)
    position = factory.Sequence(lambda n: n + 1)
    name = "FLUOXETINE HYDROCHLORIDE"
    strength = "20"
    unit = "mg/1"


def _ndc11(ndc10: str) -> str:
    a, b, c = ndc10.split("-")
    return a.rjust(5, "0") + b.rjust(4, "0") + c.rjust(2, "0")


class PackageFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Package

    product = factory.SubFactory(ProductFactory)
    ndc10 = "0002-3227-30"
    ndc11 = factory.LazyAttribute(lambda o: _ndc11(o.ndc10))
    description = "30 CAPSULE in 1 BOTTLE (0002-3227-30)"
    billing_unit = "EA"
    package_quantity = Decimal("30")
    marketing_start = dt.date(1988, 1, 4)


class PriceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PackagePrice

    package = factory.SubFactory(PackageFactory)
    kind = "acquisition"
    amount = Decimal("12.50")
    effective_on = dt.date(2024, 1, 1)


class ApplicationProductFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ApplicationProduct

    appl_no = "018936"
    product_no = factory.Sequence(lambda n: f"{n % 1000:03d}")
    drug_name = "PROZAC"
    active_ingredient = "FLUOXETINE HYDROCHLORIDE"
    form = "CAPSULE;ORAL"
    strength = "EQ 20MG BASE"
    te_code = "AB"
    marketing_status = "1"
