"""The demo loader makes its rows through the services (and only once)."""

from __future__ import annotations

import pytest

from rxdesk.core.models import AuditEvent
from rxdesk.operations import demo, queries
from rxdesk.operations.models import CleaningTask, DutyShift, Equipment, EquipmentEvent, WasteRecord

pytestmark = pytest.mark.django_db


def test_it_loads_the_demo_rows_once(site, technician, trainee, pharmacist, pic):
    users = {"tech": technician, "trainee": trainee, "pharmacist": pharmacist, "pic": pic}
    demo.load(site, users)
    assert CleaningTask.objects.filter(site=site).count() == 6
    assert WasteRecord.objects.filter(site=site).count() == 2
    assert Equipment.objects.filter(site=site).count() == 3
    assert EquipmentEvent.objects.filter(site=site).count() == 2
    flagged = DutyShift.objects.get(person=trainee)
    assert (flagged.over_ratio, flagged.over_ratio_reason) == (True, "Opening tasks")
    board = queries.duty_board(actor=pic)
    assert board.line == "2 technicians · 1 pharmacist · state allows 3 per pharmacist"
    events = AuditEvent.objects.count()
    demo.load(site, users)
    assert AuditEvent.objects.count() == events
