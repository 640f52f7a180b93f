"""Cycle schedules and generation: full, prorated (new order, mid-cycle admission), on
leave, discharged, refused refills, as-needed orders, a fill already waiting, a cycle
generated twice, and who may do it."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest
from django.utils import timezone

from rxdesk.core.errors import Conflict, Forbidden, Invalid, NotFound
from rxdesk.institutional import services_cycles as services
from rxdesk.institutional.choices import (
    CensusKind,
    CycleLineStatus,
    CycleMode,
    CycleRunStatus,
    ResidentStatus,
)
from rxdesk.institutional.models import CensusEvent, CycleLine, CycleRun, CycleSchedule
from rxdesk.rx.choices import FillSource, FillStatus
from tests.conftest import audit_count, last_event
from tests.institutional import factories as f
from tests.institutional import matrix_cycles as m
from tests.rx.factories import dispense, first_fill

pytestmark = pytest.mark.django_db


def _day(site, n: int) -> dt.date:
    return site.today() + dt.timedelta(days=n)


def _generate(site, actor=None) -> CycleRun:
    return services.cycle_generate(actor=actor or m.tech_of(site), schedule=m.schedule_of(site))


def test_it_queues_a_full_cycle_fill_for_each_scheduled_order(site):
    who, rx = m.resident_with_order(site)
    before = audit_count()

    run = _generate(site)

    assert (run.period_start, run.period_end) == (_day(site, 2), _day(site, 15))
    line = run.lines.get()
    assert (line.status, line.days, line.quantity, line.resident) == (
        CycleLineStatus.QUEUED,
        14,
        Decimal("28"),
        who,
    )
    fill = line.fill
    assert fill is not None and fill.prescription == rx
    assert (fill.status, fill.source, fill.days_supply, fill.quantity) == (
        FillStatus.QUEUED,
        FillSource.CYCLE,
        14,
        Decimal("28"),
    )
    assert audit_count() == before + 1
    event = last_event()
    assert event.action == "institutional.cycle.generated"
    data = json.loads(event.data)
    assert (data["queued"], data["prorated"], data["residents"]) == (1, 0, 1)


def test_a_new_order_starting_mid_cycle_gets_a_prorated_fill(site):
    who = f.resident(site)
    rx = m.order(m.tech_of(site), who, start_on=_day(site, 7))

    line = _generate(site).lines.get(prescription=rx)

    assert (line.status, line.days, line.quantity) == (CycleLineStatus.PRORATED, 9, Decimal("18"))
    assert line.fill is not None and line.fill.days_supply == 9
    assert "Short fill: 9 days" in line.reason


def test_a_resident_admitted_mid_cycle_gets_prorated_fills(site):
    who = f.resident(site, admitted_on=_day(site, 5))
    rx = m.order(m.tech_of(site), who, start_on=_day(site, 5))

    line = _generate(site).lines.get(prescription=rx)

    assert (line.status, line.days, line.quantity) == (CycleLineStatus.PRORATED, 11, Decimal("22"))


def test_a_resident_on_leave_is_skipped_with_the_day_they_left(site):
    who, _rx = m.resident_with_order(site)
    left = timezone.now() - dt.timedelta(days=1)
    CensusEvent.objects.create(resident=who, kind=CensusKind.LEAVE, effective_at=left)
    who.status = ResidentStatus.LEAVE
    who.save()

    line = _generate(site).lines.get()

    since = timezone.localtime(left, site.tz).date()
    assert line.status == CycleLineStatus.SKIPPED and line.fill is None
    assert line.reason == f"on leave of absence since {since:%m/%d}"
    assert json.loads(last_event().data)["on_leave"] == 1


def test_a_discharged_resident_gets_no_line(site):
    who, _rx = m.resident_with_order(site)
    who.status, who.discharged_on = ResidentStatus.DISCHARGED, site.today()
    who.save()

    run = _generate(site)

    assert not run.lines.exists()


def test_a_prescription_without_refills_left_is_skipped_with_the_reason(site):
    who = f.resident(site)
    rx = f.scheduled_rx(m.tech_of(site), who, refills_authorized=0)
    dispense(first_fill(rx), site.today() - dt.timedelta(days=20))

    line = _generate(site).lines.get()

    assert line.status == CycleLineStatus.SKIPPED and line.fill is None
    assert line.reason.startswith(f"Rx {rx.number}: ")
    assert rx.fills.filter(status=FillStatus.QUEUED).count() == 0


def test_an_as_needed_order_is_not_cycle_filled(site):
    who = f.resident(site)
    m.order(m.tech_of(site), who, prn=True)

    line = _generate(site).lines.get()

    assert (line.status, line.reason, line.fill) == (
        CycleLineStatus.SKIPPED,
        services.PRN_REASON,
        None,
    )


def test_a_fill_already_waiting_is_linked_not_doubled(site):
    who = f.resident(site)
    rx = f.scheduled_rx(m.tech_of(site), who)  # its first fill is still queued
    waiting = first_fill(rx)

    line = _generate(site).lines.get()

    assert line.fill == waiting
    assert "already waiting" in line.reason
    assert rx.fills.exclude(status=FillStatus.CANCELLED).count() == 1


def test_an_order_stopped_before_the_cycle_gets_no_line(site):
    who = f.resident(site)
    m.order(m.tech_of(site), who, start_on=_day(site, -30))
    f.OrderSchedule.objects.filter(resident=who).update(stop_on=_day(site, 1))

    assert not _generate(site).lines.exists()


def test_a_cycle_is_generated_once(site):
    m.resident_with_order(site)
    first = _generate(site)
    fills = CycleLine.objects.count()
    before = audit_count()

    with pytest.raises(Conflict, match="already generated") as caught:
        services.cycle_generate(
            actor=m.tech_of(site), schedule=m.schedule_of(site), period_start=first.period_start
        )

    assert caught.value.field == "period_start"
    assert CycleRun.objects.count() == 1 and CycleLine.objects.count() == fills
    assert audit_count() == before


def test_without_a_period_it_generates_the_next_not_generated(site):
    m.resident_with_order(site)
    current = services.cycle_generate(
        actor=m.tech_of(site), schedule=m.schedule_of(site), period_start=_day(site, -12)
    )
    following = _generate(site)
    assert (current.period_start, following.period_start) == (_day(site, -12), _day(site, 2))


def test_a_period_start_off_the_schedule_is_refused(site):
    with pytest.raises(Invalid, match="not the first day of a cycle") as caught:
        services.cycle_generate(
            actor=m.tech_of(site), schedule=m.schedule_of(site), period_start=_day(site, 3)
        )
    assert caught.value.field == "period_start"
    assert not CycleRun.objects.exists()


def test_a_trainee_cannot_generate(site, trainee):
    m.resident_with_order(site)
    before = audit_count()
    with pytest.raises(Forbidden):
        services.cycle_generate(actor=trainee, schedule=m.schedule_of(site))
    assert not CycleRun.objects.exists() and audit_count() == before


def test_another_pharmacys_schedule_does_not_exist(site, outsider):
    with pytest.raises(NotFound):
        services.cycle_generate(actor=m.pic_of(outsider.site), schedule=m.schedule_of(site))


def test_by_anniversary_each_resident_is_filled_for_their_own_cycle(site):
    place = f.facility(site)
    schedule = CycleSchedule.objects.create(
        facility=place,
        unit=None,
        days=14,
        mode=CycleMode.ANNIVERSARY,
        anchor=_day(site, 2),
        lead_days=3,
    )
    who = f.resident(site, admitted_on=_day(site, -60))
    who.cycle_anniversary = _day(site, 6)
    who.save()
    m.stocked(m.order(m.tech_of(site), who))

    run = services.cycle_generate(actor=m.tech_of(site), schedule=schedule)

    line = run.lines.get()
    assert (run.period_start, run.period_end) == (_day(site, 2), _day(site, 15))
    assert (line.status, line.days) == (CycleLineStatus.QUEUED, 14)


# --- Schedules --------------------------------------------------------------------------------


def test_the_pic_saves_a_schedule(site, pic):
    place = f.facility(site)
    saved = services.cycle_schedule_save(
        actor=pic,
        facility=place,
        unit=f.unit(place),
        days=7,
        mode=CycleMode.PERIOD,
        anchor=site.today(),
        lead_days=2,
    )
    assert (saved.days, saved.lead_days, saved.unit.code) == (7, 2, "1W")
    assert last_event().action == "institutional.cycle_schedule.saved"

    changed = services.cycle_schedule_save(
        actor=pic,
        facility=place,
        unit=f.unit(place),
        schedule=saved,
        days=30,
        mode=CycleMode.ANNIVERSARY,
        anchor=site.today(),
    )
    assert (changed.pk, changed.days, changed.mode) == (saved.pk, 30, CycleMode.ANNIVERSARY)
    assert json.loads(last_event().data)["before"]["days"] == 7


@pytest.mark.parametrize(
    ("over", "field"),
    [({"days": 10}, "days"), ({"mode": "weekly"}, "mode"), ({"lead_days": 7}, "lead_days")],
)
def test_a_broken_schedule_is_refused_naming_the_field(site, pic, over, field):
    place = f.facility(site)
    values = {"days": 7, "mode": CycleMode.PERIOD, "anchor": site.today(), "lead_days": 2}
    values.update(over)
    with pytest.raises(Invalid) as caught:
        services.cycle_schedule_save(actor=pic, facility=place, **values)
    assert caught.value.field == field
    assert not CycleSchedule.objects.exists()


def test_one_schedule_per_facility_and_unit(site, pic):
    m.schedule_of(site)
    place = f.facility(site)
    with pytest.raises(Conflict, match="already has a cycle schedule"):
        services.cycle_schedule_save(
            actor=pic,
            facility=place,
            unit=f.unit(place),
            days=7,
            mode=CycleMode.PERIOD,
            anchor=site.today(),
        )
    assert CycleSchedule.objects.count() == 1


def test_a_technician_cannot_set_up_a_schedule(site, technician):
    before = audit_count()
    with pytest.raises(Forbidden):
        services.cycle_schedule_save(
            actor=technician,
            facility=f.facility(site),
            days=7,
            mode=CycleMode.PERIOD,
            anchor=site.today(),
        )
    assert not CycleSchedule.objects.exists() and audit_count() == before


def test_the_run_reads_in_words(site):
    m.resident_with_order(site)
    run = _generate(site)
    assert services.run_summary(run) == (
        f"Oakwood Care Center 1W: {run.period_start:%m/%d}–{run.period_end:%m/%d}, "
        "1 fills queued, 0 prorated"
    )
    assert run.status == CycleRunStatus.OPEN
