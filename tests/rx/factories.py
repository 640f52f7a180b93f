"""Set-up helpers for prescription tests.

``dispense`` marks a fill dispensed straight in the table: the fill workflow issue owns the
real dispensing service; tests of refills and transfers need a fill history before it."""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal
from typing import Any

from django.utils import timezone

from rxdesk.catalog.models import Package, Product
from rxdesk.core.models import User
from rxdesk.patients.models import Patient, Prescriber
from rxdesk.rx import services
from rxdesk.rx.choices import FillStatus, Origin
from rxdesk.rx.models import Fill, Prescription
from tests.catalog.factories import PackageFactory, ProductFactory
from tests.factories import PatientFactory, PrescriberFactory

# Real DEA-shaped numbers with good check digits (second letter O for Okafor).
DEA_OKAFOR = "BO1234563"
_NDC = itertools.count(1000)


def parts(site: Any, *, schedule: str = "", dea: str = DEA_OKAFOR) -> dict[str, Any]:
    """A patient, a prescriber with a DEA number, and a product with one package."""
    product = ProductFactory(
        directory_dea_schedule=schedule,
        name="Oxycodone" if schedule else "Prozac",
    )
    n = next(_NDC)
    package = PackageFactory(
        product=product,
        ndc10=f"0002-{n:04d}-30",
        description=f"30 CAPSULE in 1 BOTTLE (0002-{n:04d}-30)",
    )
    return {
        "patient": PatientFactory(site=site),
        "prescriber": Prescriber.objects.filter(site=site, npi="1234567893").first()
        or PrescriberFactory(site=site, dea_number=dea),
        "product": product,
        "package": package,
    }


def typed(site: Any, **over: Any) -> dict[str, Any]:
    """Keyword arguments for prescription_create: 30 capsules, 1 a day, 5 refills."""
    values: dict[str, Any] = {
        **parts(site, schedule=over.pop("schedule", "")),
        "origin": Origin.WRITTEN,
        "quantity": Decimal("30"),
        "quantity_unit": "EA",
        "days_supply": 30,
        "directions": "1 CAP PO QD".replace("QD", "DAILY"),
        "date_written": site.today(),
        "refills_authorized": 5,
    }
    values.update(over)
    return values


def make_rx(actor: User, **over: Any) -> Prescription:
    assert actor.site is not None
    return services.prescription_create(actor=actor, **typed(actor.site, **over))


def dispense(fill: Fill, on: dt.date) -> Fill:
    fill.status = FillStatus.DISPENSED
    fill.dispensed_on = on
    fill.dispensed_at = timezone.now()
    fill.fillable_on = None
    fill.save()
    return fill


def first_fill(rx: Prescription) -> Fill:
    return rx.fills.order_by("number").first()  # type: ignore[return-value]


__all__ = ["Package", "Patient", "Prescriber", "Product", "dispense", "first_fill", "make_rx"]
