"""Set-up the med rec, counseling and intervention tests share: a patient with a profile
of active prescriptions (filled through the table helpers of tests/rx/factories.py)."""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

from rxdesk.care import services_medrec as services
from rxdesk.care.models import MedRec
from rxdesk.core.choices import Role
from rxdesk.core.models import Site, User
from rxdesk.patients.models import Patient
from rxdesk.rx.models import Prescription
from tests.care.factories import staff
from tests.catalog.factories import PackageFactory, ProductFactory
from tests.factories import PatientFactory
from tests.rx.factories import dispense, first_fill, make_rx

_NDC = itertools.count(7100)


def tech(site: Site) -> User:
    return staff(site, Role.TECHNICIAN, username=f"mr-tech-{site.pk}")


def rph(site: Site) -> User:
    return staff(site, Role.PHARMACIST, username=f"mr-rph-{site.pk}")


def patient(site: Site, **over: Any) -> Patient:
    over.setdefault("first_name", "Rosa")
    over.setdefault("last_name", "Medina")
    return PatientFactory(site=site, **over)


def drug_rx(
    site: Site,
    who: Patient,
    *,
    name: str,
    substance: str,
    strength: str = "20 mg/1",
    directions: str = "1 T PO DAILY",
    filled_days_ago: int | None = 10,
    form: str = "TABLET",
) -> Prescription:
    """An active prescription of ``name`` for ``who``, its first fill dispensed
    ``filled_days_ago`` days ago (None: not filled)."""
    product = ProductFactory(
        name=name,
        generic_name=substance.title(),
        substances=substance.upper(),
        strength=strength,
        dosage_form=form,
    )
    n = next(_NDC)
    package = PackageFactory(
        product=product,
        ndc10=f"0777-{n:04d}-30",
        description=f"30 {form} in 1 BOTTLE (0777-{n:04d}-30)",
    )
    rx = make_rx(
        tech(site),
        patient=who,
        product=product,
        package=package,
        drug_description=f"{name} {strength.split('/')[0]} {form.title()}",
        directions=directions,
    )
    if filled_days_ago is not None:
        dispense(first_fill(rx), site.today() - dt.timedelta(days=filled_days_ago))
    return rx


def started(site: Site, who: Patient | None = None) -> MedRec:
    return services.medrec_start(
        actor=tech(site),
        patient=who or patient(site),
        reason="new_patient",
        interviewed="patient",
    )
