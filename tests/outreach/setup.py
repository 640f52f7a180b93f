"""Set-up helpers of the outreach tests: drugs, prescriptions and their dispensings.

Prescriptions go through rx's own service; their history of dispensings is written straight
in the fill table (as tests/rx/factories.py does): the dispensing workflow is another app's."""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal
from typing import Any

from django.utils import timezone

from rxdesk.catalog.models import Package, Product
from rxdesk.core.models import User
from rxdesk.patients.models import Patient
from rxdesk.rx.choices import FillSource, FillStatus
from rxdesk.rx.models import Fill, Prescription
from tests.catalog.factories import PackageFactory, ProductFactory
from tests.rx.factories import first_fill, make_rx

_NDC = itertools.count(5000)


def drug(name: str, substances: str, *, maintenance: bool = True) -> tuple[Product, Package]:
    product = ProductFactory(
        name=name, generic_name=substances.title(), substances=substances, maintenance=maintenance
    )
    n = next(_NDC)
    package = PackageFactory(
        product=product, ndc10=f"0003-{n:04d}-30", description=f"30 TABLET in 1 BOTTLE ({n})"
    )
    return product, package


def prescribe(
    actor: User,
    patient: Patient,
    medicine: tuple[Product, Package],
    *,
    refills: int = 5,
    auto_refill: bool = False,
    **over: Any,
) -> Prescription:
    """An active prescription written 200 days ago for 30 a month; its first fill is left
    queued until :func:`dispensed` hands it out."""
    product, package = medicine
    assert actor.site is not None
    return make_rx(
        actor,
        patient=patient,
        product=product,
        package=package,
        drug_description=f"{product.name} 10 mg tablet",
        refills_authorized=refills,
        auto_refill=auto_refill,
        date_written=actor.site.today() - dt.timedelta(days=200),
        **over,
    )


def dispensed(rx: Prescription, on: dt.date, days_supply: int = 30) -> Fill:
    """Hand out the queued first fill, or else add the next fill, on ``on``."""
    fill = first_fill(rx)
    if fill.status != FillStatus.QUEUED:
        fill = Fill(
            site=rx.site,
            prescription=rx,
            number=rx.fills.count(),
            source=FillSource.PHONE,
            quantity=Decimal(days_supply),
        )
    fill.status = FillStatus.DISPENSED
    fill.days_supply = days_supply
    fill.quantity = Decimal(days_supply)
    fill.dispensed_on = on
    fill.dispensed_at = timezone.now()
    fill.fillable_on = None
    fill.save()
    return fill


def history(rx: Prescription, today: dt.date, *days_ago_supply: tuple[int, int]) -> Prescription:
    """Dispensings ``(days ago, days supply)``, oldest first."""
    for ago, supply in days_ago_supply:
        dispensed(rx, today - dt.timedelta(days=ago), supply)
    return rx


def queue_next(rx: Prescription) -> Fill:
    return Fill.objects.create(
        site=rx.site,
        prescription=rx,
        number=rx.fills.count(),
        source=FillSource.PHONE,
        quantity=Decimal(30),
        days_supply=30,
    )
