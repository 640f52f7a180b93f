"""Reads of cycle fills: the schedules with the period each generates next, the runs, and
one run's lines by resident with their fills' status. A reader without patient.view (the
auditor) sees rooms, never names."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field

from django.db.models import Count, Q

from rxdesk.core.capabilities import Cap, has
from rxdesk.core.errors import NotFound
from rxdesk.core.models import User
from rxdesk.core.services import authorize
from rxdesk.institutional import cycles
from rxdesk.institutional.choices import CycleLineStatus, CycleRunStatus
from rxdesk.institutional.models import CycleLine, CycleRun, CycleSchedule, Facility, Resident
from rxdesk.institutional.services_cycles import (
    LIVE_LINES,
    next_due,
    next_to_generate,
)
from rxdesk.rx.choices import FillStatus

RUN_LIMIT = 200


def _site_id(actor: User) -> int:
    if actor.site_id is None:
        raise NotFound("Your account is not attached to a pharmacy.")
    return actor.site_id


def resident_label(actor: User, resident: Resident) -> str:
    """The resident's name and room, or only the room for a reader who may not see
    patients."""
    room = f"room {resident.room}{resident.bed}".strip() if resident.room else "no room"
    if not has(actor, Cap.PATIENT_VIEW):
        return f"Resident {resident.pk} ({room})"
    p = resident.patient
    return f"{p.last_name}, {p.first_name} ({room})"


@dataclass(frozen=True)
class ScheduleRow:
    schedule: CycleSchedule
    next_due: cycles.Period | None
    next_period: cycles.Period
    open_runs: int


def schedules(*, actor: User) -> list[ScheduleRow]:
    """The site's cycle schedules, each with the period it generates now (if due) and the
    next one not generated."""
    authorize(actor, Cap.LTC_VIEW)
    site_id = _site_id(actor)
    assert actor.site is not None
    today = actor.site.today()
    rows = (
        CycleSchedule.objects.filter(facility__site_id=site_id)
        .select_related("facility", "unit")
        .annotate(open_runs=Count("runs", filter=Q(runs__status=CycleRunStatus.OPEN)))
        .order_by("facility__name", "unit__code", "pk")
    )
    return [
        ScheduleRow(
            schedule=s,
            next_due=next_due(s, today) if s.active else None,
            next_period=next_to_generate(s, today),
            open_runs=s.open_runs,
        )
        for s in rows
    ]


def schedule_get(*, actor: User, schedule_id: int) -> CycleSchedule:
    authorize(actor, Cap.LTC_VIEW)
    found = (
        CycleSchedule.objects.filter(facility__site_id=_site_id(actor), pk=schedule_id)
        .select_related("facility__site", "unit")
        .first()
    )
    if found is None:
        raise NotFound("No such cycle schedule at this pharmacy.")
    return found


def facilities(*, actor: User) -> list[Facility]:
    authorize(actor, Cap.LTC_VIEW)
    return list(
        Facility.objects.filter(site_id=_site_id(actor), active=True)
        .prefetch_related("units")
        .order_by("name")
    )


def runs(
    *,
    actor: User,
    status: str | None = None,
    schedule_id: int | None = None,
    limit: int = RUN_LIMIT,
) -> list[CycleRun]:
    """Runs, newest period first, with their line counts (``line_count``, ``live_count``)."""
    authorize(actor, Cap.LTC_VIEW)
    found = CycleRun.objects.filter(site_id=_site_id(actor)).select_related(
        "schedule__facility", "schedule__unit"
    )
    if status:
        found = found.filter(status=status)
    if schedule_id:
        found = found.filter(schedule_id=schedule_id)
    found = found.annotate(
        line_count=Count("lines"),
        live_count=Count("lines", filter=Q(lines__status__in=LIVE_LINES)),
    ).order_by("-period_start", "-pk")
    return list(found[: max(1, min(limit, RUN_LIMIT))])


def run_get(*, actor: User, run_id: int) -> CycleRun:
    authorize(actor, Cap.LTC_VIEW)
    found = (
        CycleRun.objects.filter(site_id=_site_id(actor), pk=run_id)
        .select_related("site", "schedule__facility", "schedule__unit")
        .first()
    )
    if found is None:
        raise NotFound("No such cycle run at this pharmacy.")
    return found


def line_get(*, actor: User, run: CycleRun, line_id: int) -> CycleLine:
    found = run.lines.filter(pk=line_id).first()
    if found is None:
        raise NotFound("No such line in this cycle run.")
    return found


@dataclass
class ResidentLines:
    label: str
    resident: Resident
    lines: list[CycleLine] = field(default_factory=list)


@dataclass
class RunView:
    run: CycleRun
    residents: list[ResidentLines]
    counts: dict[str, int]
    to_verify_data: int
    to_fill: int
    to_verify: list[int]
    closable: bool

    @property
    def lines(self) -> list[CycleLine]:
        return [line for r in self.residents for line in r.lines]


def run_view(*, actor: User, run_id: int) -> RunView:
    """One run: its lines grouped by resident (by room), counts of the fills by status, and
    what each batch step would take."""
    run = run_get(actor=actor, run_id=run_id)
    lines = list(
        run.lines.select_related(
            "resident__patient", "prescription__product", "prescription__package", "fill"
        ).order_by("resident__room", "resident__bed", "resident_id", "prescription__number")
    )
    groups: dict[int, ResidentLines] = {}
    counts: Counter[str] = Counter()
    today = run.site.today()
    to_verify_data = to_fill = 0
    to_verify: list[int] = []
    closable = True
    for line in lines:
        group = groups.get(line.resident_id)
        if group is None:
            group = groups[line.resident_id] = ResidentLines(
                label=resident_label(actor, line.resident), resident=line.resident
            )
        group.lines.append(line)
        fill = line.fill
        live = line.status in LIVE_LINES and fill is not None
        counts[fill.status if live and fill else line.status] += 1
        if live and fill is not None:
            if fill.status == FillStatus.QUEUED or (
                fill.status == FillStatus.SCHEDULED
                and (fill.fillable_on is None or fill.fillable_on <= today)
            ):
                to_verify_data += 1
            elif fill.status == FillStatus.TO_FILL:
                to_fill += 1
            elif fill.status == FillStatus.FILLED:
                to_verify.append(line.pk)
            if fill.status not in (FillStatus.READY, FillStatus.DISPENSED):
                closable = False
        elif line.status not in (CycleLineStatus.SKIPPED, CycleLineStatus.STOPPED):
            closable = False
    return RunView(
        run=run,
        residents=list(groups.values()),
        counts=dict(counts),
        to_verify_data=to_verify_data,
        to_fill=to_fill,
        to_verify=to_verify,
        closable=closable and run.status == CycleRunStatus.OPEN,
    )


def period_of(run: CycleRun) -> cycles.Period:
    return cycles.Period(run.period_start, run.period_end)


def today_of(actor: User) -> dt.date:
    assert actor.site is not None
    return actor.site.today()
