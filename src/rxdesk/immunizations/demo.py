"""Demo immunizations for the Riverside demo pharmacy, made through the services like any
user's work: the CDC code sets shipped with rxdesk (`data/cdc/`, loaded by the importer),
the state's rules and a registry connection to a local test registry
(`rxdesk test-iis --port 2575`), flu vaccine received as private and VFC stock, a flu
shot given by the technician under the pharmacist (its VXU waiting for the registry), and
a Tdap dose recorded from a patient's card."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import threading
import time
from decimal import Decimal
from pathlib import Path

from rxdesk.core.models import Site, User
from rxdesk.immunizations import queries_catalog, screening_questions
from rxdesk.immunizations.choices import (
    BodySite,
    ConsentBy,
    Eligibility,
    Funding,
    InformationSource,
    Route,
)
from rxdesk.immunizations.models import Immunization, Vaccine
from rxdesk.immunizations.services_administer import (
    immunization_administer,
    immunization_record_historical,
)
from rxdesk.immunizations.services_catalog import catalog_import_cvx, vaccine_stock_receive
from rxdesk.immunizations.services_registry import registry_send_due, registry_settings_set
from rxdesk.patients.models import Patient

CDC_DATA = Path(__file__).resolve().parent / "data" / "cdc"
FLU_CARTON = "49281-0425-50"  # Fluzone trivalent 2025–2026, 10 single-dose syringes (CVX 140)
FLU_SYRINGE = "49281-0425-88"
TEST_IIS_PORT = 2575


def iis_port() -> int:
    return int(os.environ.get("RXDESK_DEMO_IIS_PORT", TEST_IIS_PORT))


def demo_immunizations_load(site: Site) -> None:
    if Immunization.objects.filter(site=site).exists():
        return
    users = {u.username: u for u in User.objects.filter(site=site)}
    tech, rph, pic = users.get("tech"), users.get("pharmacist"), users.get("pic")
    if tech is None or rph is None or pic is None:
        return
    if not Vaccine.objects.exists():
        catalog_import_cvx(actor=pic, directory=CDC_DATA)
    registry_settings_set(
        actor=pic,
        transport="mllp",
        iis_host="127.0.0.1",
        iis_port=iis_port(),
        sending_facility=f"RX{site.ncpdp_id or site.pk}",
        receiving_application="TESTIIS",
        receiving_facility="IL",
        processing_id="T",
        technicians_administer=True,
    )
    if queries_catalog.vaccine_for_code(FLU_CARTON) is None:
        return
    next_june = dt.date(site.today().year + 1, 6, 30)
    for lot, funding in (("UT8410AA", Funding.PRIVATE), ("UT8422AB", Funding.VFC)):
        vaccine_stock_receive(
            actor=tech,
            code=FLU_CARTON,
            lot_number=lot,
            expiry=next_june,
            quantity=10,
            funding=funding,
        )
    patients = list(Patient.objects.filter(site=site).order_by("pk")[:3])
    if len(patients) < 2:
        return
    adult = patients[0]
    flu = queries_catalog.vaccine_for_code(FLU_SYRINGE)
    vis = queries_catalog.current_vis_for(flu.vaccine) if flu is not None else []
    today = site.today()
    immunization_administer(
        actor=tech,
        patient=adult,
        code=FLU_SYRINGE,
        lot_number="UT8410AA",
        expiry=next_june,
        dose_ml=Decimal("0.5"),
        route=Route.IM,
        body_site=BodySite.LD,
        answers={q.code: "no" for q in screening_questions.QUESTIONS},
        consent_by=ConsentBy.SELF,
        consent_name=f"{adult.first_name} {adult.last_name}",
        vis=[(doc.pk, today) for doc in vis[:1]],
        eligibility=Eligibility.V01,
        supervising_pharmacist=rph,
        protocol="Influenza vaccination standing order (pharmacist-in-charge)",
    )
    immunization_record_historical(
        actor=tech,
        patient=patients[1],
        cvx="115",
        administered_on=today - dt.timedelta(days=3 * 365),
        source=InformationSource.OTHER_PROVIDER,
        historical_source="Immunization card from the patient's clinic",
    )


def start_demo_registry() -> subprocess.Popen[str] | None:
    """Start ``rxdesk test-iis`` on the demo's port (a real MLLP test registry that
    acknowledges). None when the port is taken or it did not start."""
    command = [sys.executable, "-m", "rxdesk.cli", "test-iis", "--port", str(iis_port())]
    process = subprocess.Popen(  # noqa: S603 - our own command, fixed arguments
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    deadline = time.monotonic() + 15
    assert process.stdout is not None
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if line.startswith("Test registry listening on "):
            threading.Thread(target=_drain, args=(process,), daemon=True).start()
            return process
        if not line and process.poll() is not None:
            return None
    process.terminate()
    return None


def _drain(process: subprocess.Popen[str]) -> None:
    assert process.stdout is not None
    for _line in process.stdout:
        pass


def demo_registry_send(site: Site) -> str:
    """Send what waits for the registry (the demo's flu shot); say what happened."""
    pic = User.objects.filter(site=site, username="pic").first()
    if pic is None:
        return ""
    return registry_send_due(actor=pic, site=site).in_words()
