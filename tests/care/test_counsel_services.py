"""Counseling records: a technician records offers and declines, a pharmacist counsels;
accepted needs a method and topics; prescriptions and fills must be the patient's."""

from __future__ import annotations

import json

import pytest

from rxdesk.care import services_counsel as services
from rxdesk.care.models import CounselingRecord
from rxdesk.core.choices import Role
from rxdesk.core.errors import Forbidden, Invalid, NotFound
from rxdesk.core.models import AuditEvent
from tests.care import medrec_setup as ms
from tests.care.factories import staff
from tests.conftest import last_event
from tests.rx.factories import first_fill


def _counts() -> tuple[int, int]:
    return CounselingRecord.objects.count(), AuditEvent.objects.count()


def test_a_pharmacist_counsels_and_is_the_default_counselor(site):
    p = ms.patient(site)
    rx = ms.drug_rx(site, p, name="Warfarin", substance="warfarin sodium")
    r = ms.rph(site)
    row = services.counseling_record(
        actor=r,
        patient=p,
        outcome="accepted",
        fill=first_fill(rx),
        method="in_person",
        topics=["side_effects", "name_purpose", "side_effects"],
        minutes=4,
        note="Bleeding signs reviewed",
    )
    assert row.counseled_by == r and row.counseled_at is not None
    assert row.prescription == rx  # the fill brings its prescription
    assert row.topics == ["name_purpose", "side_effects"]
    ev = last_event()
    assert ev.action == "care.counseling.recorded" and ev.patient_id == p.pk
    data = json.loads(ev.data) if isinstance(ev.data, str) else ev.data
    assert data["topics"] == ["name_purpose", "side_effects"]
    assert "Bleeding" not in str(ev.data)


def test_a_technician_records_an_offer_but_never_counsels(site):
    p = ms.patient(site)
    t = ms.tech(site)
    before = _counts()
    with pytest.raises(Invalid) as exc:
        services.counseling_record(
            actor=t, patient=p, outcome="accepted", method="in_person", topics=["directions"]
        )
    assert exc.value.field == "counseled_by"
    with pytest.raises(Invalid) as exc:
        services.counseling_record(
            actor=t,
            patient=p,
            outcome="accepted",
            counseled_by=t,
            method="in_person",
            topics=["directions"],
        )
    assert exc.value.field == "counseled_by"
    assert _counts() == before
    declined = services.counseling_record(actor=t, patient=p, outcome="declined")
    assert declined.offered_by == t and declined.counseled_by is None
    accepted = services.counseling_record(
        actor=t,
        patient=p,
        outcome="accepted",
        counseled_by=ms.rph(site),
        method="phone",
        topics=["directions"],
    )
    assert accepted.counseled_by.role == Role.PHARMACIST and accepted.offered_by == t


def test_accepted_needs_method_and_known_topics(site):
    p = ms.patient(site)
    r = ms.rph(site)
    before = _counts()
    with pytest.raises(Invalid) as exc:
        services.counseling_record(actor=r, patient=p, outcome="accepted")
    assert {e["field"] for e in exc.value.errors} == {"method", "topics"}
    with pytest.raises(Invalid) as exc:
        services.counseling_record(
            actor=r, patient=p, outcome="accepted", method="in_person", topics=["gossip"]
        )
    assert exc.value.field == "topics"
    with pytest.raises(Invalid) as exc:
        services.counseling_record(actor=r, patient=p, outcome="maybe")
    assert exc.value.field == "outcome"
    with pytest.raises(Invalid) as exc:
        services.counseling_record(actor=r, patient=p, outcome="declined", topics=["storage"])
    assert exc.value.field == "topics"
    assert _counts() == before


def test_prescription_of_another_patient_or_site_is_refused(site, other_site):
    p = ms.patient(site)
    other = ms.patient(site, first_name="Ana")
    rx = ms.drug_rx(site, other, name="Metformin", substance="metformin hydrochloride")
    r = ms.rph(site)
    before = _counts()
    with pytest.raises(Invalid) as exc:
        services.counseling_record(actor=r, patient=p, outcome="declined", prescription=rx)
    assert exc.value.field == "prescription"
    with pytest.raises(NotFound):
        services.counseling_record(actor=r, patient=ms.patient(other_site), outcome="declined")
    with pytest.raises(Invalid) as exc:
        services.counseling_record(actor=r, patient=p, outcome="declined", pickup_id=999999)
    assert exc.value.field == "pickup_id"
    assert _counts() == before


def test_roles_without_counsel_are_refused(site):
    p = ms.patient(site)
    before = _counts()
    for role in (Role.TECHNICIAN_IN_TRAINING, Role.AUDITOR, Role.INVENTORY_SPECIALIST):
        with pytest.raises(Forbidden):
            services.counseling_record(actor=staff(site, role), patient=p, outcome="declined")
    assert _counts() == before
