"""Census changes stop and restart cycle fills: a discharge or a leave cancels what is
pending and stops the lines; a return or readmission queues the days left; the next
generation includes the resident again."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from rxdesk.core.errors import Forbidden
from rxdesk.institutional import services_cycles as services
from rxdesk.institutional.choices import CensusKind, CycleLineStatus, ResidentStatus
from rxdesk.institutional.models import CensusEvent, CycleLine, CycleRun, Resident
from rxdesk.rx.choices import FillSource, FillStatus, FillStep
from rxdesk.rx.services import workflow
from tests.conftest import audit_count, last_event
from tests.institutional import matrix_cycles as m
from tests.rx.factories import dispense

pytestmark = pytest.mark.django_db


def _at(site, days: int) -> dt.datetime:
    """Noon at the pharmacy ``days`` from today."""
    day = site.today() + dt.timedelta(days=days)
    return dt.datetime.combine(day, dt.time(12, 0), tzinfo=site.tz)


def _census(who: Resident, kind: str, when: dt.datetime, actor) -> list[CycleLine]:
    """The census change as A1's census_record records it, then the cycles' reaction."""
    status = {
        CensusKind.DISCHARGE: ResidentStatus.DISCHARGED,
        CensusKind.LEAVE: ResidentStatus.LEAVE,
    }.get(kind, ResidentStatus.ADMITTED)
    Resident.objects.filter(pk=who.pk).update(status=status)
    event = CensusEvent.objects.create(
        resident=who, kind=kind, effective_at=when, recorded_by=actor
    )
    return services.census_changed(event=event, actor=actor)


def _current_run(site) -> CycleRun:
    """The cycle under way (started 12 days ago, ends tomorrow) with the resident's order."""
    schedule = m.schedule_of(site)
    start = schedule.anchor - dt.timedelta(days=14)
    return services.cycle_generate(actor=m.tech_of(site), schedule=schedule, period_start=start)


def test_a_discharge_mid_cycle_cancels_pending_fills_and_stops_the_lines(site):
    who, queued_rx = m.resident_with_order(site)
    verified_rx = m.stocked(m.order(m.tech_of(site), who))
    run = _current_run(site)
    done = run.lines.get(prescription=verified_rx)
    workflow.fill_data_verify(actor=m.rph_of(site), fill=done.fill)
    workflow.fill_product(
        actor=m.tech_of(site), fill=done.fill, scanned_code=verified_rx.package.ndc10
    )
    workflow.fill_final_verify(actor=m.rph_of(site), fill=done.fill)
    tech = m.tech_of(site)

    changed = _census(who, CensusKind.DISCHARGE, _at(site, 0), tech)

    day = f"{site.today():%m/%d/%Y}"
    assert len(changed) == 2
    pending = run.lines.get(prescription=queued_rx)
    assert (pending.status, pending.reason) == (
        CycleLineStatus.STOPPED,
        f"discharged {day}: fill cancelled",
    )
    assert pending.fill.status == FillStatus.CANCELLED
    assert pending.fill.events.filter(step=FillStep.CANCELLED).exists()
    done.refresh_from_db()
    assert (done.status, done.reason) == (
        CycleLineStatus.STOPPED,
        f"discharged {day}: already verified: return it to stock",
    )
    assert done.fill.status == FillStatus.READY
    assert last_event().action == "institutional.cycle.census"


def test_a_pharmacist_recording_a_leave_sends_a_counted_out_fill_back(site):
    who, rx = m.resident_with_order(site)
    run = _current_run(site)
    line = run.lines.get()
    workflow.fill_data_verify(actor=m.rph_of(site), fill=line.fill)
    workflow.fill_product(actor=m.tech_of(site), fill=line.fill, scanned_code=rx.package.ndc10)

    _census(who, CensusKind.LEAVE, _at(site, 0), m.rph_of(site))

    line.refresh_from_db()
    assert line.status == CycleLineStatus.STOPPED
    assert line.reason.endswith("fill sent back to the shelf and cancelled")
    assert line.fill.status == FillStatus.CANCELLED


def test_a_technician_recording_a_leave_leaves_a_counted_out_fill_to_the_pharmacist(site):
    who, rx = m.resident_with_order(site)
    run = _current_run(site)
    line = run.lines.get()
    workflow.fill_data_verify(actor=m.rph_of(site), fill=line.fill)
    workflow.fill_product(actor=m.tech_of(site), fill=line.fill, scanned_code=rx.package.ndc10)

    _census(who, CensusKind.LEAVE, _at(site, 0), m.tech_of(site))

    line.refresh_from_db()
    assert line.status == CycleLineStatus.STOPPED
    assert "a pharmacist sends it back at final verification" in line.reason
    assert line.fill.status == FillStatus.FILLED


def test_a_return_from_leave_queues_a_prorated_fill_for_the_days_left(site):
    who, rx = m.resident_with_order(site)
    run = _current_run(site)
    tech = m.tech_of(site)
    _census(who, CensusKind.LEAVE, _at(site, -1), tech)
    line = run.lines.get()
    assert line.status == CycleLineStatus.STOPPED

    changed = _census(who, CensusKind.RETURN, _at(site, 0), tech)

    line.refresh_from_db()
    assert changed == [line]
    # The cycle ends tomorrow: today and tomorrow are left.
    days = (run.period_end - site.today()).days + 1
    assert days == 2
    assert (line.status, line.days, line.quantity) == (
        CycleLineStatus.PRORATED,
        days,
        Decimal(2 * days),
    )
    assert line.fill.status == FillStatus.QUEUED and line.fill.source == FillSource.CYCLE
    assert line.fill.days_supply == days
    assert line.reason.startswith(f"returned {site.today():%m/%d/%Y}:")
    assert rx.fills.filter(status=FillStatus.CANCELLED).count() >= 2


def test_a_readmission_queues_the_days_left_too(site):
    who, _rx = m.resident_with_order(site)
    run = _current_run(site)
    tech = m.tech_of(site)
    _census(who, CensusKind.DISCHARGE, _at(site, 0), tech)

    _census(who, CensusKind.READMIT, _at(site, 1), tech)

    line = run.lines.get()
    assert line.status == CycleLineStatus.PRORATED
    assert line.reason.startswith("readmitted ")
    assert line.fill.status == FillStatus.QUEUED


def test_the_next_generation_includes_a_returned_resident_again(site):
    who, _rx = m.resident_with_order(site)
    current = _current_run(site)
    tech = m.tech_of(site)
    _census(who, CensusKind.LEAVE, _at(site, -1), tech)
    _census(who, CensusKind.RETURN, _at(site, 0), tech)
    short = current.lines.get()
    assert short.status == CycleLineStatus.PRORATED
    dispense(short.fill, site.today())

    coming = services.cycle_generate(actor=tech, schedule=m.schedule_of(site))

    line = coming.lines.get()
    assert (line.status, line.days) == (CycleLineStatus.QUEUED, 14)
    assert line.fill is not None and line.fill.source == FillSource.CYCLE


def test_a_return_while_another_cycles_fill_waits_says_so(site):
    who, _rx = m.resident_with_order(site)
    current = _current_run(site)
    tech = m.tech_of(site)
    _census(who, CensusKind.LEAVE, _at(site, -1), tech)
    coming = services.cycle_generate(actor=tech, schedule=m.schedule_of(site))
    assert coming.lines.get().status == CycleLineStatus.SKIPPED  # on leave

    _census(who, CensusKind.RETURN, _at(site, 0), tech)

    assert current.lines.get().status == CycleLineStatus.PRORATED
    later = coming.lines.get()
    assert later.status == CycleLineStatus.SKIPPED and later.fill is None
    assert "is still waiting: fill this cycle on request" in later.reason


def test_a_room_move_changes_nothing(site):
    who, _rx = m.resident_with_order(site)
    run = _current_run(site)
    before = audit_count()
    assert _census(who, CensusKind.ROOM_MOVE, _at(site, 0), m.tech_of(site)) == []
    assert run.lines.get().status == CycleLineStatus.QUEUED
    assert audit_count() == before


def test_someone_who_cannot_record_census_cannot_stop_fills(site, auditor):
    who, _rx = m.resident_with_order(site)
    run = _current_run(site)
    event = CensusEvent.objects.create(
        resident=who, kind=CensusKind.DISCHARGE, effective_at=timezone.now()
    )
    with pytest.raises(Forbidden):
        services.census_changed(event=event, actor=auditor)
    assert run.lines.get().fill.status == FillStatus.QUEUED
