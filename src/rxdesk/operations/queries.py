"""Reads of duty, cleaning, waste and equipment. Each checks its capability; rows of
another site are never returned (one of them asked for by id is NotFound)."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass

from django.db.models import Max, Min, QuerySet
from django.utils import timezone

from rxdesk.core.capabilities import Cap, has, require
from rxdesk.core.choices import PHARMACIST_ROLES
from rxdesk.core.errors import Invalid, NotFound
from rxdesk.core.models import Site, User
from rxdesk.operations import ratio, schedule
from rxdesk.operations.choices import EquipmentEventKind
from rxdesk.operations.common import settings_of
from rxdesk.operations.models import (
    CleaningRecord,
    CleaningTask,
    DutyShift,
    Equipment,
    EquipmentEvent,
    OperationsSettings,
    WasteRecord,
)
from rxdesk.operations.services_duty import counts_toward_ratio

LOG_DAYS_MAX = 400
MAINTENANCE_KINDS = (EquipmentEventKind.MAINTENANCE, EquipmentEventKind.CALIBRATION)


def operations_settings(*, actor: User) -> OperationsSettings:
    if not (has(actor, Cap.DUTY_VIEW) or has(actor, Cap.OPS_VIEW)):
        require(actor, Cap.OPS_VIEW)
    return settings_of(actor.site)


# --- Duty -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DutyBoard:
    shifts: list[DutyShift]
    technicians: int
    pharmacists: int
    limit: int | None
    trainees_count: bool
    citation: str
    check: ratio.RatioCheck
    mine: DutyShift | None

    @property
    def line(self) -> str:
        return ratio.line(self.technicians, self.pharmacists, self.limit)


def duty_board(*, actor: User) -> DutyBoard:
    """Who is on duty now (longest on first), the counts, the rule and the actor's shift."""
    require(actor, Cap.DUTY_VIEW)
    row = settings_of(actor.site)
    shifts = list(
        DutyShift.objects.filter(site=actor.site, ended_at__isnull=True)
        .select_related("person")
        .order_by("started_at", "pk")
    )
    techs = sum(1 for s in shifts if counts_toward_ratio(s.role, row))
    pharmacists = sum(1 for s in shifts if s.role in PHARMACIST_ROLES)
    mine = next((s for s in shifts if s.person_id == actor.pk), None)
    return DutyBoard(
        shifts=shifts,
        technicians=techs,
        pharmacists=pharmacists,
        limit=row.max_technicians_per_pharmacist,
        trainees_count=row.trainees_count,
        citation=row.citation,
        check=ratio.check(techs, pharmacists, row.max_technicians_per_pharmacist),
        mine=mine,
    )


def _range(
    site: Site, start: dt.date | None, end: dt.date | None
) -> tuple[dt.datetime, dt.datetime]:
    """Local days [start, end] as aware bounds (default: the last 30 days)."""
    end = end or site.today()
    start = start or end - dt.timedelta(days=29)
    if start > end:
        raise Invalid("The first day comes after the last.", field="start")
    if (end - start).days >= LOG_DAYS_MAX:
        raise Invalid(f"Ask for at most {LOG_DAYS_MAX} days at a time.", field="start")
    tz = site.tz
    return (
        dt.datetime.combine(start, dt.time(0), tzinfo=tz),
        dt.datetime.combine(end + dt.timedelta(days=1), dt.time(0), tzinfo=tz),
    )


def shift_log(
    *, actor: User, start: dt.date | None = None, end: dt.date | None = None
) -> QuerySet[DutyShift]:
    """Shifts begun on the local days [start, end], newest first."""
    require(actor, Cap.DUTY_VIEW)
    low, high = _range(actor.site, start, end)
    return DutyShift.objects.filter(
        site=actor.site, started_at__gte=low, started_at__lt=high
    ).select_related("person", "ended_by")


def shift_get(*, actor: User, shift_id: int) -> DutyShift:
    require(actor, Cap.DUTY_VIEW)
    found = DutyShift.objects.filter(pk=shift_id, site=actor.site).select_related("person").first()
    if found is None:
        raise NotFound("No such shift at this pharmacy.", field="shift")
    return found


# --- Cleaning ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class CleaningDue:
    task: CleaningTask
    status: str
    last_done: CleaningRecord | None
    period_start: dt.datetime

    @property
    def status_label(self) -> str:
        return {"done": "Done", "due": "Due", "overdue": "Overdue"}[self.status]


def cleaning_due(*, actor: User, now: dt.datetime | None = None) -> list[CleaningDue]:
    """Every active task with its state now (done / due / overdue) in the site's time zone,
    overdue first, then due, then done."""
    require(actor, Cap.OPS_VIEW)
    site = actor.site
    now = now or timezone.now()
    tasks = list(CleaningTask.objects.filter(site=site, active=True))
    latest = {
        r["task_id"]: r["last"]
        for r in CleaningRecord.objects.filter(site=site, task__in=tasks)
        .values("task_id")
        .annotate(last=Max("done_at"))
    }
    last_rows = {
        r.task_id: r
        for r in CleaningRecord.objects.filter(
            site=site, task__in=tasks, done_at__in=[v for v in latest.values()]
        ).select_related("done_by")
        if latest.get(r.task_id) == r.done_at
    }
    shift_start = DutyShift.objects.filter(site=site, ended_at__isnull=True).aggregate(
        first=Min("started_at")
    )["first"]
    out = []
    for task in tasks:
        previous, current = schedule.period_bounds(task.frequency, now, site.tz, shift_start)
        state = schedule.status(latest.get(task.pk), task.created_at, previous, current)
        out.append(CleaningDue(task, state, last_rows.get(task.pk), current))
    order = {schedule.OVERDUE: 0, schedule.DUE: 1, schedule.DONE: 2}
    out.sort(key=lambda d: (order[d.status], d.task.area, d.task.name))
    return out


def cleaning_tasks(*, actor: User, include_inactive: bool = False) -> QuerySet[CleaningTask]:
    require(actor, Cap.OPS_VIEW)
    rows = CleaningTask.objects.filter(site=actor.site)
    return rows if include_inactive else rows.filter(active=True)


def cleaning_task_get(*, actor: User, task_id: int) -> CleaningTask:
    require(actor, Cap.OPS_VIEW)
    found = CleaningTask.objects.filter(pk=task_id, site=actor.site).first()
    if found is None:
        raise NotFound("No such cleaning task at this pharmacy.", field="task")
    return found


def cleaning_log(
    *, actor: User, start: dt.date | None = None, end: dt.date | None = None
) -> QuerySet[CleaningRecord]:
    require(actor, Cap.OPS_VIEW)
    low, high = _range(actor.site, start, end)
    return CleaningRecord.objects.filter(
        site=actor.site, done_at__gte=low, done_at__lt=high
    ).select_related("task", "done_by")


# --- Waste ------------------------------------------------------------------------------------


def waste_log(
    *, actor: User, start: dt.date | None = None, end: dt.date | None = None
) -> QuerySet[WasteRecord]:
    """Waste rows recorded on the local days [start, end], newest first."""
    require(actor, Cap.OPS_VIEW)
    low, high = _range(actor.site, start, end)
    return WasteRecord.objects.filter(
        site=actor.site, recorded_at__gte=low, recorded_at__lt=high
    ).select_related("recorded_by", "witness")


# --- Equipment --------------------------------------------------------------------------------


@dataclass(frozen=True)
class EquipmentStatus:
    equipment: Equipment
    open_downtime: EquipmentEvent | None
    last_maintenance: dt.datetime | None
    maintenance_due: dt.date | None  # None: no interval set
    maintenance_overdue: bool
    downtime_minutes_this_month: int


def equipment_board(*, actor: User, now: dt.datetime | None = None) -> list[EquipmentStatus]:
    """Active equipment with its open downtime, last maintenance (or calibration), the
    date maintenance is next due (the day it was last done plus the interval; today if it
    never was) and this month's downtime minutes."""
    require(actor, Cap.OPS_VIEW)
    site = actor.site
    now = now or timezone.now()
    machines = list(Equipment.objects.filter(site=site, active=True).select_related("device"))
    open_down = {
        e.equipment_id: e
        for e in EquipmentEvent.objects.filter(
            site=site, kind=EquipmentEventKind.DOWNTIME, ended_at__isnull=True
        )
    }
    last = {
        r["equipment_id"]: r["last"]
        for r in EquipmentEvent.objects.filter(site=site, kind__in=MAINTENANCE_KINDS)
        .values("equipment_id")
        .annotate(last=Max("started_at"))
    }
    local = now.astimezone(site.tz)
    minutes = downtime_minutes(actor=actor, year=local.year, month=local.month, now=now)
    today = local.date()
    out = []
    for m in machines:
        done = last.get(m.pk)
        due: dt.date | None = None
        if m.maintenance_days:
            due = (
                done.astimezone(site.tz).date() + dt.timedelta(days=m.maintenance_days)
                if done
                else today
            )
        out.append(
            EquipmentStatus(
                equipment=m,
                open_downtime=open_down.get(m.pk),
                last_maintenance=done,
                maintenance_due=due,
                maintenance_overdue=due is not None and due < today,
                downtime_minutes_this_month=minutes.get(m.pk, 0),
            )
        )
    return out


def downtime_minutes(
    *, actor: User, year: int, month: int, now: dt.datetime | None = None
) -> dict[int, int]:
    """Minutes each piece of equipment was down in the site-local month (downtimes cut at
    the month's edges; an open one counts until now), by equipment id."""
    require(actor, Cap.OPS_VIEW)
    if not 1 <= month <= 12 or not 2000 <= year <= 2100:
        raise Invalid("Give a month 1-12 of a year 2000-2100.", field="month")
    site = actor.site
    now = now or timezone.now()
    low, high = schedule.month_window(year, month, site.tz)
    rows = EquipmentEvent.objects.filter(
        site=site, kind=EquipmentEventKind.DOWNTIME, started_at__lt=high
    ).exclude(ended_at__lt=low)
    spans: dict[int, list[tuple[dt.datetime, dt.datetime | None]]] = defaultdict(list)
    for e in rows:
        spans[e.equipment_id].append((e.started_at, e.ended_at))
    return {eid: schedule.overlap_seconds(s, low, high, now) // 60 for eid, s in spans.items()}


def equipment_get(*, actor: User, equipment_id: int) -> Equipment:
    require(actor, Cap.OPS_VIEW)
    found = Equipment.objects.filter(pk=equipment_id, site=actor.site).first()
    if found is None:
        raise NotFound("No such equipment at this pharmacy.", field="equipment")
    return found


def equipment_list(*, actor: User, include_inactive: bool = False) -> QuerySet[Equipment]:
    require(actor, Cap.OPS_VIEW)
    rows = Equipment.objects.filter(site=actor.site).select_related("device")
    return rows if include_inactive else rows.filter(active=True)


def equipment_events(
    *,
    actor: User,
    start: dt.date | None = None,
    end: dt.date | None = None,
    equipment: Equipment | None = None,
) -> QuerySet[EquipmentEvent]:
    """Events begun on the local days [start, end] (one machine's, or all), newest first."""
    require(actor, Cap.OPS_VIEW)
    low, high = _range(actor.site, start, end)
    rows = EquipmentEvent.objects.filter(
        site=actor.site, started_at__gte=low, started_at__lt=high
    ).select_related("equipment", "recorded_by", "ended_by")
    return rows if equipment is None else rows.filter(equipment=equipment)


def equipment_event_get(*, actor: User, event_id: int) -> EquipmentEvent:
    require(actor, Cap.OPS_VIEW)
    found = (
        EquipmentEvent.objects.filter(pk=event_id, site=actor.site)
        .select_related("equipment", "recorded_by", "ended_by")
        .first()
    )
    if found is None:
        raise NotFound("No such equipment event at this pharmacy.", field="event")
    return found
