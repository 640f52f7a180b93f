"""Set-up for the registry tests: Immunization rows written directly (the administration
services are another part's), a test registry (rxdesk.immunizations.registry_testiis)
listening on a free port in a thread, and settings pointing at it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

from django.utils import timezone

from rxdesk.core.choices import Role
from rxdesk.core.models import Site
from rxdesk.immunizations.choices import (
    BodySite,
    Completion,
    ConsentBy,
    Eligibility,
    Funding,
    InformationSource,
    RegistryAction,
    Route,
    Transport,
)
from rxdesk.immunizations.mllp import MllpServer
from rxdesk.immunizations.models import Immunization, ImmunizationSettings, ImmunizationVis
from rxdesk.immunizations.registry_testiis import TestRegistry
from rxdesk.immunizations.services_registry import registry_enqueue
from rxdesk.patients.models import Patient
from tests.factories import PatientFactory, PrescriberFactory
from tests.immunizations.factories import (
    flu_vis,
    imm_settings,
    manufacturer,
    staff,
    vaccine,
)


def patient(site: Site, **over: Any) -> Patient:
    values: dict[str, Any] = {
        "first_name": "Jane",
        "last_name": "Testpatient",
        "date_of_birth": dt.date(1980, 7, 4),
        "sex": "F",
        "address_line1": "1 Main St",
        "city": "Peoria",
        "state": "IL",
        "postal_code": "61602",
        "phone_home": "3095550100",
    }
    values.update(over)
    return PatientFactory(site=site, **values)


def dose(site: Site, cvx: str = "150", **over: Any) -> Immunization:
    """A dose given here (flu unless told): lot, NDC, route, site, VIS, private funding."""
    rph = staff(site, Role.PHARMACIST)
    values: dict[str, Any] = {
        "site": site,
        "vaccine": vaccine(cvx),
        "administered_at": timezone.now() - dt.timedelta(hours=1),
        "information_source": InformationSource.NEW,
        "completion": Completion.COMPLETE,
        "manufacturer": manufacturer("PMC"),
        "lot_number": "UT7011AA",
        "expiry": dt.date(2030, 6, 30),
        "dose_ml": Decimal("0.5"),
        "route": Route.IM,
        "body_site": BodySite.LD,
        "dose_number": 1,
        "funding": Funding.PRIVATE,
        "eligibility": Eligibility.V01,
        "administered_by": rph,
        "administered_by_name": rph.get_full_name(),
        "recorded_by": rph,
        "consent_by": ConsentBy.SELF,
    }
    if cvx == "150":
        # The syringe scanned (the VXU sends the NDC; the catalog package is not needed,
        # and factories.flu_package() cannot be saved on PostgreSQL: see the report).
        values["ndc11"] = "49281042188"
    with_vis = over.pop("vis", cvx == "150")
    if "patient" not in over:
        values["patient"] = patient(site)
    values.update(over)
    imm = Immunization.objects.create(**values)
    if with_vis and imm.given_here:
        ImmunizationVis.objects.create(
            immunization=imm, document=flu_vis(), presented_on=imm.administered_at.date()
        )
    return imm


def queued(site: Site, cvx: str = "150", **over: Any) -> Any:
    """A dose and its queued ADD message (through registry_enqueue)."""
    imm = dose(site, cvx, **over)
    from django.db import transaction

    with transaction.atomic():
        return registry_enqueue(immunization=imm, action=RegistryAction.ADD, actor=imm.recorded_by)


def prescriber(site: Site) -> Any:
    return PrescriberFactory(site=site, npi="1234567893")


@contextmanager
def iis_running(**kwargs: Any) -> Iterator[tuple[MllpServer, TestRegistry]]:
    """A test registry on a free local port (closed on exit)."""
    brain = TestRegistry(**kwargs)
    server = MllpServer(lambda data, peer: brain.answer(data)[0], read_timeout=5).start()
    try:
        yield server, brain
    finally:
        server.close()


def pointed(site: Site, port: int, **over: Any) -> ImmunizationSettings:
    values: dict[str, Any] = {
        "transport": Transport.MLLP,
        "iis_host": "127.0.0.1",
        "iis_port": port,
        "timeout_seconds": 2,
        "sending_facility": "RX0001",
        "receiving_application": "TESTIIS",
        "receiving_facility": "STATEIIS",
        "retry_minutes": 5,
        "retry_max_attempts": 3,
    }
    values.update(over)
    return imm_settings(site, **values)
