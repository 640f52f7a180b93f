"""Set-up shared by the point-of-care and inquiry tests of patient care: a site that
offers testing under a current CLIA certificate, patients, prescribers, results recorded
through the service."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from rxdesk.care import services_poct
from rxdesk.care.models import CareSettings, PocTestResult
from rxdesk.core.choices import Role
from rxdesk.core.models import Site, User
from rxdesk.patients.models import Patient, Prescriber
from tests.care.factories import care_settings, staff
from tests.conftest import earlier_today
from tests.factories import PatientFactory, PrescriberFactory

ALL_TESTS = ["flu_a", "flu_b", "strep_a", "covid_ag", "hba1c", "glucose", "inr", "hiv", "hcv"]


def poct_site(site: Site, **over: Any) -> CareSettings:
    """The site offers every catalog test above under a certificate good for a year;
    technicians may perform them unless told."""
    values: dict[str, Any] = {
        "poct_enabled": True,
        "clia_certificate": "05D1234567",
        "clia_expires": site.today() + dt.timedelta(days=365),
        "poct_tests": list(ALL_TESTS),
        "technicians_perform_poct": True,
    }
    values.update(over)
    return care_settings(site, **values)


def patient(site: Site, first: str = "Maria", last: str = "Lopez") -> Patient:
    return PatientFactory(site=site, first_name=first, last_name=last)


def prescriber(site: Site) -> Prescriber:
    return PrescriberFactory(site=site)


def tester(site: Site) -> User:
    """The pharmacist who records results in set-up."""
    return staff(site, Role.PHARMACIST, username=f"poct-rph-{site.pk}")


def record(site: Site, who: Patient | None = None, **over: Any) -> PocTestResult:
    """A negative strep test recorded through the service (a glucose when given a value)."""
    poct_site(site)
    actor = over.pop("actor", None) or tester(site)
    values: dict[str, Any] = {
        "test_code": "strep_a",
        "collected_at": earlier_today(site, minutes=10),
        "kit_lot": "LOT42",
        "kit_expiry": site.today() + dt.timedelta(days=90),
        "result": "negative",
    }
    values.update(over)
    return services_poct.poct_record(actor=actor, patient=who or patient(site), **values)


def glucose(site: Site, value: str = "112", **over: Any) -> PocTestResult:
    return record(site, test_code="glucose", result="value", value=Decimal(value), **over)
