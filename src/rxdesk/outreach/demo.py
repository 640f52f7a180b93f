"""Demo outreach for the Riverside demo pharmacy, made through the services: the technician
worked the refill list this morning — one patient reached and a refill queued, one voicemail
— and offered med sync to a patient on the sync list, who asked to be called back."""

from __future__ import annotations

from collections.abc import Mapping

from rxdesk.core.choices import Role
from rxdesk.core.models import Site, User
from rxdesk.outreach import queries
from rxdesk.outreach.choices import ListKind, Outcome
from rxdesk.outreach.models import OutreachContact
from rxdesk.outreach.services import outreach_contact_record
from rxdesk.patients.choices import ContactMethod, PatientStatus
from rxdesk.patients.models import Patient


def load(site: Site, users: Mapping[str, User] | None = None) -> None:
    """A few contacts from the lists (nothing when the site has some already)."""
    if OutreachContact.objects.filter(site=site).exists():
        return
    tech = (users or {}).get("tech") or User.objects.filter(
        site=site, role=Role.TECHNICIAN, is_active=True
    ).first()
    if tech is None:
        return
    refills = [r.patient for r in queries.refills_due(site).rows]
    sync = [r.patient for r in queries.sync_eligible(site).rows]
    others = list(
        Patient.objects.filter(site=site, status=PatientStatus.ACTIVE)
        .exclude(contact_method=ContactMethod.NONE)
        .order_by("pk")[:3]
    )
    refill_people = (refills + others)[:2]
    plan = [
        (ListKind.REFILLS, Outcome.REFILL_QUEUED, "Wants it ready after 5 pm."),
        (ListKind.REFILLS, Outcome.LEFT_MESSAGE, ""),
    ]
    for patient, (kind, outcome, note) in zip(refill_people, plan, strict=False):
        outreach_contact_record(
            actor=tech, patient_id=patient.pk, kind=kind, outcome=outcome, note=note
        )
    for patient in (sync or others[2:])[:1]:
        outreach_contact_record(
            actor=tech,
            patient_id=patient.pk,
            kind=ListKind.SYNC,
            outcome=Outcome.SCHEDULED,
            note="Call back Thursday to pick a sync day.",
        )
