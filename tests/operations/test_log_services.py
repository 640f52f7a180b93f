"""Cleaning, waste and equipment services: each rule, each refusal (nothing written), the
audit events."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from rxdesk.core.errors import Conflict, Forbidden, Invalid, NotFound
from rxdesk.core.models import AuditEvent
from rxdesk.operations import services_logs as services
from rxdesk.operations.models import (
    CleaningRecord,
    CleaningTask,
    Equipment,
    EquipmentEvent,
    WasteRecord,
)
from tests.conftest import last_event
from tests.operations.factories import downtime, machine, task

pytestmark = pytest.mark.django_db


# --- cleaning ---------------------------------------------------------------------------------


def test_the_pic_adds_a_cleaning_task(site, pic):
    row = services.cleaning_task_create(
        actor=pic, area="refrigerator", name=" Wipe shelves ", frequency="weekly", agent="Quat"
    )
    assert (row.site, row.area, row.name, row.frequency, row.agent, row.active) == (
        site,
        "refrigerator",
        "Wipe shelves",
        "weekly",
        "Quat",
        True,
    )
    assert last_event().action == "ops.cleaning_task.created"


def test_a_duplicate_task_is_refused(site, pic):
    task(site, "Wipe shelves", area="refrigerator")
    before = (CleaningTask.objects.count(), AuditEvent.objects.count())
    with pytest.raises(Conflict) as err:
        services.cleaning_task_create(
            actor=pic, area="refrigerator", name="Wipe shelves", frequency="weekly"
        )
    assert err.value.field == "name"
    assert (CleaningTask.objects.count(), AuditEvent.objects.count()) == before


def test_a_task_needs_a_known_frequency(site, pic):
    with pytest.raises(Invalid) as err:
        services.cleaning_task_create(actor=pic, area="counter", name="Wipe", frequency="hourly")
    assert err.value.field == "frequency"
    assert CleaningTask.objects.count() == 0


def test_a_technician_cannot_change_the_schedule(site, technician):
    with pytest.raises(Forbidden):
        services.cleaning_task_create(
            actor=technician, area="counter", name="Wipe", frequency="daily"
        )
    assert (CleaningTask.objects.count(), AuditEvent.objects.count()) == (0, 0)


def test_the_pic_retires_a_task(site, pic):
    t = task(site)
    row = services.cleaning_task_update(
        actor=pic,
        task=t,
        area=t.area,
        name=t.name,
        frequency=t.frequency,
        agent=t.agent,
        active=False,
    )
    assert row.active is False
    assert last_event().action == "ops.cleaning_task.updated"
    assert '"active":[true,false]' in last_event().data


def test_a_technician_records_a_cleaning(site, technician):
    t = task(site)
    record = services.cleaning_record(actor=technician, task=t, agent_lot="L-77")
    assert (record.task, record.done_by, record.agent, record.agent_lot) == (
        t,
        technician,
        "70% isopropyl alcohol",
        "L-77",
    )
    event = last_event()
    assert (event.action, event.object_id) == ("ops.cleaning.recorded", str(record.pk))


def test_a_cleaning_cannot_be_dated_in_the_future_or_long_ago(site, technician):
    t = task(site)
    for when in (timezone.now() + dt.timedelta(hours=1), timezone.now() - dt.timedelta(days=8)):
        with pytest.raises(Invalid) as err:
            services.cleaning_record(actor=technician, task=t, done_at=when)
        assert err.value.field == "done_at"
    assert (CleaningRecord.objects.count(), AuditEvent.objects.count()) == (0, 0)


def test_a_retired_task_is_not_recorded(site, technician):
    t = task(site, active=False)
    with pytest.raises(Conflict):
        services.cleaning_record(actor=technician, task=t)
    assert CleaningRecord.objects.count() == 0


def test_the_auditor_cannot_record_a_cleaning(site, auditor):
    t = task(site)
    with pytest.raises(Forbidden):
        services.cleaning_record(actor=auditor, task=t)
    assert (CleaningRecord.objects.count(), AuditEvent.objects.count()) == (0, 0)


def test_another_sites_task_is_not_found(site, other_site, technician):
    theirs = task(other_site)
    with pytest.raises(NotFound):
        services.cleaning_record(actor=technician, task=theirs)
    assert CleaningRecord.objects.count() == 0


# --- waste ------------------------------------------------------------------------------------


def test_a_sharps_pick_up_with_its_manifest(site, technician, pharmacist):
    sealed = timezone.now() - dt.timedelta(hours=2)
    picked = timezone.now() - dt.timedelta(minutes=10)
    row = services.waste_record(
        actor=technician,
        kind="sharps",
        quantity="2",
        unit="container",
        container_id="SC-0042",
        hauler="Stericycle",
        manifest_number="trk-889",
        sealed_at=sealed,
        picked_up_at=picked,
        witness=pharmacist,
    )
    assert (row.quantity, row.manifest_number, row.witness) == (Decimal("2"), "TRK-889", pharmacist)
    event = last_event()
    assert event.action == "ops.waste.recorded"
    assert '"quantity":"2"' in event.data


def test_a_hazardous_pick_up_needs_a_manifest(site, technician):
    before = (WasteRecord.objects.count(), AuditEvent.objects.count())
    with pytest.raises(Invalid) as err:
        services.waste_record(
            actor=technician,
            kind="rcra_hazardous",
            quantity="3.25",
            unit="lb",
            hauler="Clean Harbors",
            picked_up_at=timezone.now(),
        )
    assert err.value.field == "manifest_number"
    assert (WasteRecord.objects.count(), AuditEvent.objects.count()) == before


def test_a_sealed_non_hazardous_container_needs_no_manifest(site, technician):
    row = services.waste_record(
        actor=technician,
        kind="non_hazardous",
        quantity="12.125",
        unit="lb",
        sealed_at=timezone.now(),
    )
    assert row.quantity == Decimal("12.125")


@pytest.mark.parametrize(
    ("quantity", "field"), [("0", "quantity"), ("-1", "quantity"), ("1.0001", "quantity")]
)
def test_a_bad_quantity_is_refused(site, technician, quantity, field):
    with pytest.raises(Invalid) as err:
        services.waste_record(
            actor=technician,
            kind="sharps",
            quantity=quantity,
            unit="container",
            sealed_at=timezone.now(),
        )
    assert err.value.field == field
    assert WasteRecord.objects.count() == 0


def test_waste_needs_sealed_or_picked_up(site, technician):
    with pytest.raises(Invalid) as err:
        services.waste_record(actor=technician, kind="sharps", quantity="1", unit="container")
    assert err.value.field == "sealed_at"


def test_the_witness_is_someone_else_here(site, other_site, technician):
    from tests.operations.factories import staff

    for witness in (technician, staff(other_site, "pharmacist", "w")):
        with pytest.raises(Invalid) as err:
            services.waste_record(
                actor=technician,
                kind="sharps",
                quantity="1",
                unit="container",
                sealed_at=timezone.now(),
                witness=witness,
            )
        assert err.value.field == "witness"
    assert WasteRecord.objects.count() == 0


def test_the_auditor_cannot_record_waste(site, auditor):
    with pytest.raises(Forbidden):
        services.waste_record(
            actor=auditor, kind="sharps", quantity="1", unit="container", sealed_at=timezone.now()
        )
    assert (WasteRecord.objects.count(), AuditEvent.objects.count()) == (0, 0)


# --- equipment --------------------------------------------------------------------------------


def test_the_pic_adds_equipment(site, pic):
    row = services.equipment_create(
        actor=pic,
        name="Robot 1",
        kind="robot",
        vendor="Parata",
        serial="P-1",
        maintenance_days=90,
    )
    assert (row.site, row.name, row.maintenance_days) == (site, "Robot 1", 90)
    assert last_event().action == "ops.equipment.created"


def test_a_technician_cannot_add_equipment(site, technician):
    with pytest.raises(Forbidden):
        services.equipment_create(actor=technician, name="Robot 1", kind="robot")
    assert (Equipment.objects.count(), AuditEvent.objects.count()) == (0, 0)


def test_equipment_names_are_unique_per_site(site, pic):
    machine(site, "Robot 1")
    with pytest.raises(Conflict):
        services.equipment_create(actor=pic, name="Robot 1", kind="robot")
    assert Equipment.objects.count() == 1


def test_maintenance_ends_when_it_starts(site, technician):
    m = machine(site)
    event = services.equipment_event_record(
        actor=technician, equipment=m, kind="maintenance", vendor_ticket="PM-12"
    )
    assert event.ended_at == event.started_at
    assert last_event().action == "ops.equipment_event.recorded"


def test_a_downtime_stays_open_until_ended(site, technician):
    m = machine(site)
    start = timezone.now() - dt.timedelta(minutes=95)
    event = services.equipment_event_record(
        actor=technician,
        equipment=m,
        kind="downtime",
        started_at=start,
        description="Canister jam",
        vendor_ticket="",
    )
    assert event.ended_at is None
    ended = services.equipment_event_end(
        actor=technician,
        event=event,
        ended_at=start + dt.timedelta(minutes=95),
        vendor_ticket="CASE-5521",
    )
    assert (ended.vendor_ticket, ended.ended_by) == ("CASE-5521", technician)
    event_row = last_event()
    assert event_row.action == "ops.equipment_event.ended"
    assert '"minutes":95' in event_row.data


def test_one_open_downtime_per_machine(site, technician):
    m = machine(site)
    downtime(m, technician, timezone.now() - dt.timedelta(hours=1))
    before = (EquipmentEvent.objects.count(), AuditEvent.objects.count())
    with pytest.raises(Conflict):
        services.equipment_event_record(
            actor=technician, equipment=m, kind="downtime", description="Again"
        )
    assert (EquipmentEvent.objects.count(), AuditEvent.objects.count()) == before


def test_a_downtime_says_what_is_wrong(site, technician):
    with pytest.raises(Invalid) as err:
        services.equipment_event_record(actor=technician, equipment=machine(site), kind="downtime")
    assert err.value.field == "description"
    assert EquipmentEvent.objects.count() == 0


def test_ending_twice_is_refused(site, technician):
    m = machine(site)
    e = downtime(m, technician, timezone.now() - dt.timedelta(hours=1))
    services.equipment_event_end(actor=technician, event=e)
    before = AuditEvent.objects.count()
    with pytest.raises(Conflict):
        services.equipment_event_end(actor=technician, event=e)
    assert AuditEvent.objects.count() == before


def test_the_auditor_cannot_log_equipment(site, auditor, technician):
    m = machine(site)
    e = downtime(m, technician, timezone.now() - dt.timedelta(hours=1))
    with pytest.raises(Forbidden):
        services.equipment_event_record(actor=auditor, equipment=m, kind="maintenance")
    with pytest.raises(Forbidden):
        services.equipment_event_end(actor=auditor, event=e)
    e.refresh_from_db()
    assert (EquipmentEvent.objects.count(), e.ended_at, AuditEvent.objects.count()) == (1, None, 0)


def test_a_pick_up_may_carry_an_old_sealing_date(site, technician):
    sealed = timezone.now() - dt.timedelta(days=40)
    row = services.waste_record(
        actor=technician,
        kind="sharps",
        quantity="1",
        unit="container",
        hauler="Stericycle",
        manifest_number="T-1",
        sealed_at=sealed,
        picked_up_at=timezone.now(),
    )
    assert row.sealed_at == sealed
    with pytest.raises(Invalid) as err:
        services.waste_record(
            actor=technician,
            kind="sharps",
            quantity="1",
            unit="container",
            sealed_at=timezone.now() - dt.timedelta(days=40),
        )
    assert err.value.field == "sealed_at"
    assert WasteRecord.objects.count() == 1
