"""Set-up for medication-sync tests: chronic prescriptions of one patient with a fill
history (rows of the history written straight, as tests/rx/factories.py does; the
behaviour under test always goes through the services)."""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal
from typing import Any

from rxdesk.core.models import User
from rxdesk.medsync import services
from rxdesk.medsync.models import SyncEnrollment
from rxdesk.patients.models import Patient
from rxdesk.rx.models import Prescription
from tests.catalog.factories import PackageFactory, ProductFactory
from tests.factories import PatientFactory
from tests.rx.factories import dispense, first_fill, make_rx

_NDC = itertools.count(2000)


def patient_of(site: Any, **over: Any) -> Patient:
    return PatientFactory(site=site, **over)


def chronic_rx(
    actor: User,
    patient: Patient,
    *,
    filled_on: dt.date | None,
    quantity: str = "30",
    days_supply: int = 30,
    unit: str = "EA",
    schedule: str = "",
    refills: int = 5,
    dosage_form: str = "",
    package_description: str = "",
    **over: Any,
) -> Prescription:
    """A prescription of ``patient`` written 60 days ago; its first fill dispensed on
    ``filled_on`` (None: still waiting in the queue)."""
    site = actor.site
    assert site is not None
    if dosage_form or package_description or unit != "EA":
        n = next(_NDC)
        product = ProductFactory(
            name="Albuterol" if dosage_form.startswith("AEROSOL") else "Lactulose",
            dosage_form=dosage_form or "SOLUTION",
            directory_dea_schedule=schedule,
        )
        over["product"] = product
        over["package"] = PackageFactory(
            product=product,
            ndc10=f"0003-{n:04d}-01",
            description=package_description or "150 mL in 1 BOTTLE",
            billing_unit=unit,
            package_quantity=Decimal(quantity),
        )
    rx = make_rx(
        actor,
        patient=patient,
        quantity=Decimal(quantity),
        quantity_unit=unit,
        days_supply=days_supply,
        schedule=schedule,
        refills_authorized=0 if schedule == "CII" else refills,
        date_written=site.today() - dt.timedelta(days=60),
        **over,
    )
    if filled_on is not None:
        dispense(first_fill(rx), filled_on)
    return Prescription.objects.get(pk=rx.pk)


def enrolled(
    actor: User, patient: Patient, rxs: list[Prescription], *, sync_day: int = 31
) -> SyncEnrollment:
    return services.sync_enroll(
        actor=actor,
        patient=patient,
        sync_day=sync_day,
        prescriptions=rxs,
        consent_note="Agreed by phone",
    )
