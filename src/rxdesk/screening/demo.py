"""The demo's clinical screening: two new prescriptions waiting for data verification whose
alerts a pharmacist works through.

- John Smith takes warfarin (filled 10 days ago) and brings in metronidazole: FDA labeling,
  the INR can rise sharply (major) — the alert interrupts, a pharmacist must resolve it
  before the fill goes on.
- José Hernández takes clopidogrel and brings in omeprazole: FDA labeling, omeprazole
  weakens clopidogrel (moderate) — listed on the page, it does not stop the fill.

Only drugs of the shipped demo catalog. Written through the services (the prescriptions
are typed by the technician, who also screens them, as at typing; the FillAlert rows are
kept with the fills), once: a demo that has these prescriptions already is left alone."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.db import transaction

from rxdesk.core.models import Site, User
from rxdesk.patients.models import Patient, Prescriber
from rxdesk.rx import services as rx_services
from rxdesk.rx.choices import Origin
from rxdesk.rx.demo import _package, _record_history
from rxdesk.rx.models import Fill, Prescription
from rxdesk.screening import kb, services

# Marks the demo's screening prescriptions, so a second load finds them.
NOTE = "Demo: clinical screening."


@dataclass(frozen=True)
class ScreeningRx:
    patient: str  # last name
    prescriber: str  # last name
    generic: str  # as in the demo catalog
    directions: str
    quantity: str
    days_supply: int
    refills: int
    dispensed_days_ago: int | None = None  # on the profile; None: new, waiting in the queue


# (on the profile, new): the new one's data verification shows the pair's alert.
INTERRUPTING = (
    ScreeningRx("Smith", "Lindqvist", "warfarin sodium", "1 T PO DAILY", "30", 30, 5, 10),
    ScreeningRx("Smith", "Becker", "Metronidazole", "1 T PO TID X7D", "21", 7, 0),
)
LISTED = (
    ScreeningRx("Hernández", "Lindqvist", "clopidogrel bisulfate", "1 T PO DAILY", "30", 30, 5, 12),
    ScreeningRx("Hernández", "Whitaker", "Omeprazole", "1 CAP PO QAM AC", "30", 30, 2),
)
SCREENING_RX = (*INTERRUPTING, *LISTED)


def _take_in(site: Site, tech: User, spec: ScreeningRx) -> Prescription | None:
    package = _package(spec.generic)
    patient = Patient.objects.filter(site=site, last_name=spec.patient).first()
    prescriber = Prescriber.objects.filter(site=site, last_name=spec.prescriber).first()
    if package is None or patient is None or prescriber is None:
        return None
    today = site.today()
    ago = spec.dispensed_days_ago or 0
    rx = rx_services.prescription_create(
        actor=tech,
        patient=patient,
        prescriber=prescriber,
        product=package.product,
        package=package,
        origin=Origin.ELECTRONIC,
        quantity=Decimal(spec.quantity),
        quantity_unit=package.billing_unit,
        days_supply=spec.days_supply,
        directions=spec.directions,
        date_written=today - dt.timedelta(days=ago + 1),
        refills_authorized=spec.refills,
        notes=NOTE,
    )
    if spec.dispensed_days_ago is not None:
        _record_history(rx, (spec.dispensed_days_ago,), today)
    return rx


def demo_screening_load(site: Site) -> list[Fill]:
    """Take in the demo's screening prescriptions once and screen their new fills; return
    those fills (none when they were there already)."""
    if Prescription.objects.filter(site=site, notes=NOTE).exists():
        return []
    tech = User.objects.get(site=site, username="tech")
    # A fresh database has the ONC lists from its migration; this covers one emptied since.
    kb.ensure_seeded()
    queued: list[Fill] = []
    with transaction.atomic():
        for spec in SCREENING_RX:
            rx = _take_in(site, tech, spec)
            if rx is not None and spec.dispensed_days_ago is None:
                queued.append(rx.fills.get())
        for fill in queued:
            services.fill_screen(actor=tech, fill=fill)
    return queued
