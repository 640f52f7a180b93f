"""Set-up shared by the administration tests and matrix rows: a patient, complete screening
answers, and the keyword arguments of a valid flu dose (Fluzone syringe, lot UT7011AA)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from rxdesk.core.choices import Role
from rxdesk.core.models import Site, User
from rxdesk.immunizations import screening_questions as sq
from rxdesk.immunizations import services_administer as services
from rxdesk.immunizations.models import Immunization
from rxdesk.patients.models import Patient
from tests.factories import PatientFactory
from tests.immunizations.factories import FLU_USE_NDC10, flu_vis, imm_settings, staff, stocked

LOT = "UT7011AA"


def all_no(**yes: str) -> dict[str, str]:
    answers = dict.fromkeys(sq.CODES, sq.NO)
    answers.update(yes)
    return answers


def adult(site: Site, **over: Any) -> Patient:
    over.setdefault("first_name", "Ada")
    over.setdefault("last_name", "Lovelace")
    over.setdefault("date_of_birth", dt.date(1970, 5, 17))
    return PatientFactory(site=site, **over)


def child(site: Site, years: int = 8, **over: Any) -> Patient:
    born = site.today().replace(year=site.today().year - years) - dt.timedelta(days=10)
    over.setdefault("first_name", "Timmy")
    over.setdefault("last_name", "Kid")
    return PatientFactory(site=site, date_of_birth=born, **over)


def pharmacist(site: Site) -> User:
    return staff(site, Role.PHARMACIST, username=f"imm-rph-{site.pk}")


def dose_kwargs(site: Site, patient: Patient, **over: Any) -> dict[str, Any]:
    """A valid flu dose for ``patient`` (stock and VIS set up as a side effect)."""
    vis = flu_vis()
    values: dict[str, Any] = {
        "patient": patient,
        "code": FLU_USE_NDC10,
        "lot_number": LOT,
        "expiry": None,
        "dose_ml": "0.5",
        "route": "C28161",
        "body_site": "LD",
        "answers": all_no(),
        "consent_by": "SEL",
        "consent_name": "",
        "vis": [(vis.pk, site.today())],
        "eligibility": "V01",
    }
    values.update(over)
    return values


def ready(site: Site, *, funding: str = "private", quantity: int = 10) -> None:
    """Stock of the flu lot on the shelf and the site's settings at their defaults."""
    imm_settings(site)
    stocked(site, funding=funding, lot=LOT, quantity=quantity)


def given(site: Site, patient: Patient | None = None, **over: Any) -> Immunization:
    """A flu dose given by the site's pharmacist through the service."""
    from rxdesk.inventory.models import StockBalance

    if not StockBalance.objects.filter(site=site, lot__number=LOT).exists():
        ready(site)
    who = patient or adult(site)
    return services.immunization_administer(
        actor=pharmacist(site), **dose_kwargs(site, who, **over)
    )
