"""Set-up for the screening tests that touch the database: real generic products in the
catalog, a patient's active profile built through the prescription services, and the
ONC knowledge base seeded."""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

from rxdesk.catalog.models import Ingredient, Package
from rxdesk.core.models import User
from rxdesk.patients.models import Patient
from rxdesk.rx.models import Fill, Prescription
from tests.catalog.factories import PackageFactory, ProductFactory
from tests.rx.factories import dispense, first_fill, make_rx

_NDC = itertools.count(4100)


def package(
    name: str,
    substance: str,
    strength: str = "10",
    unit: str = "mg/1",
    *,
    form: str = "TABLET",
    schedule: str = "",
    route: str = "ORAL",
) -> Package:
    """A catalog package of a one-ingredient product, e.g. package("Nardil",
    "PHENELZINE SULFATE", "15")."""
    product = ProductFactory(
        name=name,
        generic_name=substance.title(),
        substances=substance,
        strength=f"{strength} {unit}",
        dosage_form=form,
        route=route,
        pharm_classes="",
        directory_dea_schedule=schedule,
    )
    Ingredient.objects.create(
        product=product, position=1, name=substance, strength=strength, unit=unit
    )
    n = next(_NDC)
    return PackageFactory(
        product=product,
        ndc10=f"0093-{n:04d}-01",
        description=f"100 {form} in 1 BOTTLE (0093-{n:04d}-01)",
    )


def prescribe(
    actor: User, patient: Patient, pkg: Package, directions: str = "1 T PO DAILY", **over: Any
) -> Prescription:
    return make_rx(
        actor, patient=patient, product=pkg.product, package=pkg, directions=directions, **over
    )


def on_profile(
    actor: User,
    patient: Patient,
    pkg: Package,
    *,
    days_ago: int = 5,
    directions: str = "1 T PO DAILY",
) -> Prescription:
    """An active prescription whose first fill reached the patient ``days_ago`` days ago."""
    rx = prescribe(actor, patient, pkg, directions)
    dispense(first_fill(rx), patient.site.today() - dt.timedelta(days=days_ago))
    return rx


def queued_fill(rx: Prescription) -> Fill:
    return first_fill(rx)


def seed_kb() -> None:
    from rxdesk.screening import kb

    kb.ensure_seeded()
