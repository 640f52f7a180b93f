"""Demo medication synchronization for the demo pharmacy, made through the services: a
patient with two chronic prescriptions enrolled on a sync day, the first cycle aligned
(its short fills planned) and a pre-sync call that left a message."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.db.models import Count, Q

from rxdesk.core.errors import DomainError
from rxdesk.core.models import Site, User
from rxdesk.medsync import services
from rxdesk.medsync.choices import CallOutcome
from rxdesk.medsync.models import SyncEnrollment
from rxdesk.patients.models import Patient, Prescriber
from rxdesk.rx import services as rx_services
from rxdesk.rx.choices import FillStatus, Origin, RxStatus
from rxdesk.rx.models import Prescription

CHRONIC = Q(status=RxStatus.ACTIVE, schedule="")


def _chronic(patient: Patient) -> list[Prescription]:
    return list(
        Prescription.objects.filter(CHRONIC, patient=patient)
        .filter(fills__status=FillStatus.DISPENSED)
        .distinct()
        .order_by("number")
    )


def _second_rx(tech: User, patient: Patient, have: list[Prescription]) -> None:
    """Give the demo patient a second maintenance prescription (a product another demo
    patient takes daily), taken in through the prescription service."""
    other = (
        Prescription.objects.filter(CHRONIC, site=patient.site, days_supply=30)
        .exclude(product_id__in=[rx.product_id for rx in have])
        .select_related("package", "prescriber")
        .order_by("number")
        .first()
    )
    prescriber = other.prescriber if other else Prescriber.objects.filter(site=patient.site).first()
    if other is None or other.package is None or prescriber is None:
        return
    rx_services.prescription_create(
        actor=tech,
        patient=patient,
        prescriber=prescriber,
        product=other.product,
        package=other.package,
        origin=Origin.ELECTRONIC,
        quantity=Decimal(other.quantity),
        quantity_unit=other.package.billing_unit,
        days_supply=30,
        directions=other.directions_en or "1 T PO DAILY",
        date_written=patient.site.today() - dt.timedelta(days=3),
        refills_authorized=5,
    )


def load(site: Site, users: dict[str, User] | None = None) -> None:
    if SyncEnrollment.objects.filter(site=site).exists():
        return
    staff = users or {u.username: u for u in User.objects.filter(site=site)}
    tech = staff.get("tech")
    if tech is None:
        return
    patient = (
        Patient.objects.filter(site=site)
        .annotate(
            chronic=Count(
                "prescriptions",
                filter=Q(prescriptions__status=RxStatus.ACTIVE, prescriptions__schedule=""),
            )
        )
        .filter(chronic__gte=1)
        .order_by("-chronic", "pk")
        .first()
    )
    if patient is None:
        return
    rxs = _chronic(patient)
    if len(rxs) < 2:
        _second_rx(tech, patient, rxs)
        rxs = list(Prescription.objects.filter(CHRONIC, patient=patient).order_by("number")[:4])
    if len(rxs) < 2:
        return
    try:
        enrollment = services.sync_enroll(
            actor=tech,
            patient=patient,
            sync_day=min(site.today().day + 5, 28),
            prescriptions=rxs,
            consent_note="Agreed by phone to pick everything up on one day each month",
        )
        cycle = services.sync_align(actor=tech, enrollment=enrollment)
        services.sync_call_record(
            actor=tech,
            cycle=cycle,
            outcome=CallOutcome.LEFT_MESSAGE,
            note="Voicemail: call back to confirm the sync fills",
        )
    except DomainError:
        return
