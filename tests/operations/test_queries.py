"""Reads: the duty board, cleaning due in the site's time zone, maintenance due and
downtime minutes per machine (hand-computed)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from rxdesk.core.choices import Role
from rxdesk.core.errors import Forbidden
from rxdesk.operations import queries
from rxdesk.operations.models import CleaningRecord, EquipmentEvent
from tests.operations.factories import downtime, machine, on_duty, rule, staff, task

pytestmark = pytest.mark.django_db
CHI = ZoneInfo("America/Chicago")


def _chi(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=CHI)


def test_the_duty_board_counts_and_line(site, technician, trainee, pharmacist, auditor):
    rule(site, 3)
    on_duty(pharmacist, minutes_ago=90)
    on_duty(technician, minutes_ago=60)
    on_duty(trainee, minutes_ago=30)
    board = queries.duty_board(actor=auditor)
    assert [s.person for s in board.shifts] == [pharmacist, technician, trainee]
    assert (board.technicians, board.pharmacists, board.check.over) == (2, 1, False)
    assert board.line == "2 technicians · 1 pharmacist · state allows 3 per pharmacist"
    assert board.mine is None


def test_an_outsider_sees_no_board(site, outsider):
    on_duty(staff(site, Role.PHARMACIST, "p"))
    board = queries.duty_board(actor=outsider)
    assert board.shifts == []


def test_cleaning_due_in_the_sites_day(site, technician):
    # 21:30 on Nov 26 in Chicago (03:30 UTC on the 27th).
    now = _chi(2026, 11, 26, 21, 30)
    daily = task(site, "Counter", "daily", created_at=_chi(2026, 1, 1))
    weekly = task(site, "Fridge", "weekly", area="refrigerator", created_at=_chi(2026, 1, 1))
    monthly = task(site, "Shelves", "monthly", area="shelves", created_at=_chi(2026, 1, 1))
    new = task(site, "Restroom", "daily", area="restroom", created_at=_chi(2026, 11, 26, 9))
    for t, at in (
        (daily, _chi(2026, 11, 26, 0, 30)),  # today local (06:30 UTC): done
        (weekly, _chi(2026, 11, 20, 12)),  # last week: due this week
        (monthly, _chi(2026, 9, 30, 12)),  # two months ago: overdue
    ):
        CleaningRecord.objects.create(site=site, task=t, done_by=technician, done_at=at)
    rows = {d.task.name: d.status for d in queries.cleaning_due(actor=technician, now=now)}
    assert rows == {"Counter": "done", "Fridge": "due", "Shelves": "overdue", "Restroom": "due"}
    # One minute after local midnight the daily task is due again (not done "today").
    later = {
        d.task.name: d.status
        for d in queries.cleaning_due(actor=technician, now=_chi(2026, 11, 27, 0, 1))
    }
    assert later["Counter"] == "due"
    assert new.active


def test_downtime_minutes_this_month_per_machine(site, technician, pic):
    robot, printer = machine(site, "Robot"), machine(site, "Printer", kind="label_printer")
    downtime(robot, technician, _chi(2026, 10, 31, 23, 30), _chi(2026, 11, 1, 0, 45))  # 45 in Nov
    downtime(robot, technician, _chi(2026, 11, 12, 9, 0), _chi(2026, 11, 12, 11, 20))  # 140
    downtime(printer, technician, _chi(2026, 11, 26, 8, 0))  # open: 90 until now
    EquipmentEvent.objects.create(
        site=site,
        equipment=printer,
        kind="repair",
        started_at=_chi(2026, 11, 3, 8),
        ended_at=_chi(2026, 11, 3, 9),
        recorded_by=technician,
    )  # a repair is not downtime
    minutes = queries.downtime_minutes(
        actor=pic, year=2026, month=11, now=_chi(2026, 11, 26, 9, 30)
    )
    assert minutes == {robot.pk: 185, printer.pk: 90}
    october = queries.downtime_minutes(
        actor=pic, year=2026, month=10, now=_chi(2026, 11, 26, 9, 30)
    )
    assert october == {robot.pk: 30}


def test_maintenance_due_from_the_last_maintenance(site, technician):
    m = machine(site, maintenance_days=30)
    never = machine(site, "Packager", maintenance_days=7)
    EquipmentEvent.objects.create(
        site=site,
        equipment=m,
        kind="maintenance",
        started_at=_chi(2026, 10, 1, 10),
        ended_at=_chi(2026, 10, 1, 10),
        recorded_by=technician,
    )
    board = {
        s.equipment.name: s
        for s in queries.equipment_board(actor=technician, now=_chi(2026, 11, 2, 9))
    }
    assert board["Counting robot"].maintenance_due == dt.date(2026, 10, 31)
    assert board["Counting robot"].maintenance_overdue is True
    assert board["Packager"].maintenance_due == dt.date(2026, 11, 2)
    assert board["Packager"].maintenance_overdue is False
    assert never.pk


def test_logs_need_ops_view(site, outsider, admin_user):
    with pytest.raises(Forbidden):
        queries.waste_log(actor=admin_user)
