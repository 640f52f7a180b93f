"""The demo loader enrols a patient with two chronic prescriptions through the services."""

from __future__ import annotations

import datetime as dt

from rxdesk.medsync import demo
from rxdesk.medsync.models import SyncCall, SyncEnrollment
from tests.medsync.factories import chronic_rx, patient_of


def test_the_demo_enrols_aligns_and_leaves_a_message(clock, site, technician):
    patient = patient_of(site)
    chronic_rx(technician, patient, filled_on=dt.date(2027, 1, 1))
    chronic_rx(technician, patient, filled_on=dt.date(2027, 1, 5), quantity="60")
    demo.load(site, {"tech": technician})
    enrollment = SyncEnrollment.objects.get(site=site)
    assert (enrollment.patient_id, enrollment.sync_day) == (patient.pk, 24)
    assert enrollment.members.filter(included=True).count() == 2
    cycle = enrollment.cycles.get()
    assert cycle.fills.count() == 2
    assert SyncCall.objects.get(cycle=cycle).outcome == "left_message"
    demo.load(site, {"tech": technician})  # a second run changes nothing
    assert SyncEnrollment.objects.filter(site=site).count() == 1
