"""Set-up helpers for 340B tests: a covered entity with a listed prescriber and patient,
packages of a chosen size and unit, and sold fills."""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal
from typing import Any

from django.utils import timezone

from rxdesk.catalog.models import Package
from rxdesk.core.choices import Role
from rxdesk.core.models import Site, User
from rxdesk.patients.models import Patient
from rxdesk.program340b import services
from rxdesk.program340b.models import CoveredEntity
from rxdesk.rx.choices import FillStatus
from rxdesk.rx.models import Fill
from tests.catalog.factories import PackageFactory, ProductFactory
from tests.factories import PatientFactory, UserFactory
from tests.rx.factories import dispense, first_fill, make_rx

NPI = "1234567893"  # the prescriber of tests.rx.factories (check digit good)
OTHER_NPI = "1245319599"
_N = itertools.count(5000)


def pic_of(site: Site) -> User:
    found = User.objects.filter(site=site, role=Role.PHARMACIST_IN_CHARGE).first()
    return found or UserFactory(
        site=site, role=Role.PHARMACIST_IN_CHARGE, username=f"pic{next(_N)}"
    )


def tech_of(site: Site) -> User:
    found = User.objects.filter(site=site, role=Role.TECHNICIAN, is_active=True).first()
    return found or UserFactory(site=site, role=Role.TECHNICIAN, username=f"tech{next(_N)}")


def entity(site: Site, *, starts_on: dt.date | None = None, **over: Any) -> CoveredEntity:
    """A DSH covered entity capturing from 90 days ago (look-back 12 months)."""
    found = CoveredEntity.objects.filter(site=site).first()
    if found is not None:
        return found
    values: dict[str, Any] = {
        "opais_id": "DSH140001",
        "name": "Riverside Regional Medical Center",
        "starts_on": starts_on or site.today() - dt.timedelta(days=90),
    }
    values.update(over)
    return services.p340b_entity_set(actor=pic_of(site), site=site, **values)


def list_prescriber(site: Site, npi: str = NPI, **over: Any) -> Any:
    values: dict[str, Any] = {"effective_from": site.today() - dt.timedelta(days=365)}
    values.update(over)
    return services.p340b_prescriber_add(actor=pic_of(site), site=site, npi=npi, **values)


def list_patient(site: Site, patient: Patient, **over: Any) -> Any:
    values: dict[str, Any] = {"effective_from": site.today() - dt.timedelta(days=365)}
    values.update(over)
    return services.p340b_patient_add(actor=pic_of(site), site=site, patient=patient, **values)


def package(*, size: str = "30", unit: str = "EA") -> Package:
    n = next(_N)
    return PackageFactory(
        product=ProductFactory(name=f"Drug {n}"),
        ndc10=f"0003-{n:04d}-30",
        description=f"{size} {unit} in 1 BOTTLE (0003-{n:04d}-30)",
        billing_unit=unit,
        package_quantity=Decimal(size),
    )


def sold_fill(
    site: Site,
    pack: Package,
    quantity: str,
    *,
    patient: Patient | None = None,
    on: dt.date | None = None,
) -> Fill:
    """A prescription for ``quantity`` of ``pack`` whose first fill was sold on ``on``."""
    rx = make_rx(
        tech_of(site),
        package=pack,
        product=pack.product,
        quantity=Decimal(quantity),
        quantity_unit=pack.billing_unit,
        **({"patient": patient} if patient is not None else {}),
    )
    fill = first_fill(rx)
    fill.package = pack
    fill.save(update_fields=["package"])
    return dispense(fill, on or site.today() - dt.timedelta(days=1))


def return_to_stock(fill: Fill) -> Fill:
    """The fill came back to will-call (sale voided) and was returned to stock."""
    fill.status = FillStatus.RETURNED
    fill.returned_at = timezone.now()
    fill.save(update_fields=["status", "returned_at"])
    return fill


def eligible_site(site: Site) -> tuple[CoveredEntity, Patient]:
    """An entity with the test prescriber listed and one patient on its list."""
    ce = entity(site)
    list_prescriber(site)
    patient = PatientFactory(site=site)
    list_patient(site, patient)
    return ce, patient
