"""Set-up for the permission-matrix rows of medication sync: one patient of the site with
two chronic prescriptions, enrolled and aligned through the services (any day: the first
sync date is the next one on or after today)."""

from __future__ import annotations

import datetime as dt

from rxdesk.core.choices import Role
from rxdesk.core.models import Site, User
from rxdesk.medsync import services
from rxdesk.medsync.choices import CallOutcome, CycleStatus
from rxdesk.medsync.models import SyncCycle, SyncEnrollment
from rxdesk.patients.models import Patient
from rxdesk.rx.models import Prescription
from tests.factories import UserFactory
from tests.medsync.factories import chronic_rx, patient_of


def sync_tech(site: Site) -> User:
    username = f"sync-tech-{site.pk}"
    return User.objects.filter(username=username).first() or UserFactory(
        site=site, role=Role.TECHNICIAN, username=username
    )


def sync_patient(site: Site) -> tuple[Patient, list[Prescription]]:
    """A patient (the first of the site named Sync) with two chronic prescriptions."""
    tech = sync_tech(site)
    found = Patient.objects.filter(site=site, last_name="Sync").order_by("pk").first()
    if found is not None:
        rxs = list(Prescription.objects.filter(patient=found).order_by("number"))
        return found, rxs
    patient = patient_of(site, last_name="Sync", first_name="Sam")
    today = site.today()
    rxs = [
        chronic_rx(tech, patient, filled_on=today - dt.timedelta(days=26)),
        chronic_rx(tech, patient, filled_on=today - dt.timedelta(days=20), quantity="60"),
    ]
    return patient, rxs


def enrollment(site: Site) -> SyncEnrollment:
    """The patient's enrollment, aligned (its first cycle planned)."""
    patient, rxs = sync_patient(site)
    found = SyncEnrollment.objects.filter(site=site, patient=patient, active=True).first()
    if found is not None:
        return found
    tech = sync_tech(site)
    row = services.sync_enroll(
        actor=tech, patient=patient, sync_day=15, prescriptions=rxs, consent_note="By phone"
    )
    services.sync_align(actor=tech, enrollment=row)
    return row


def cycle(site: Site, *, confirmed: bool = False) -> SyncCycle:
    row = enrollment(site).cycles.order_by("sync_date").first()
    assert row is not None
    if confirmed and row.status != CycleStatus.CONFIRMED:
        services.sync_call_record(actor=sync_tech(site), cycle=row, outcome=CallOutcome.CONFIRMED)
        row.refresh_from_db()
    return row
