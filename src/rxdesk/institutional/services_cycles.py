"""Cycle fills of long-term care: the schedule of a facility (or unit), the run generated
for each period (a fill queued per resident's scheduled order, prorated when it starts
late), the batch worked through the ordinary fill workflow, and what census changes do to
the runs still open.

Every fill is made and moved by the prescription app's own services
(``rxdesk.rx.services.fills.queue_refill`` / ``fill_cancel`` and
``rxdesk.rx.services.workflow``), so the refill rules, the scan check, the stock ledger,
the pharmacist's steps and the fill's history are exactly those of any other fill."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from rxdesk.catalog import queries as catalog_queries
from rxdesk.core.audit import audit_record, register_actions
from rxdesk.core.capabilities import Cap, has
from rxdesk.core.errors import Conflict, DomainError, Invalid, NotFound
from rxdesk.core.models import Site, User
from rxdesk.core.services import authorize
from rxdesk.institutional import cycles
from rxdesk.institutional.choices import (
    CensusKind,
    CycleLineStatus,
    CycleMode,
    CycleRunStatus,
    ResidentStatus,
)
from rxdesk.institutional.models import (
    CensusEvent,
    CycleLine,
    CycleRun,
    CycleSchedule,
    Facility,
    OrderSchedule,
    Resident,
    Unit,
)
from rxdesk.rx.choices import FillSource, FillStatus, FillStep, RxStatus
from rxdesk.rx.models import Fill, Prescription
from rxdesk.rx.services.common import PENDING_FILLS, record
from rxdesk.rx.services.fills import NOT_YET_FILLED, RefillRefused, fill_cancel, queue_refill
from rxdesk.rx.services.workflow import (
    fill_data_verify,
    fill_final_verify,
    fill_product,
    product_mismatch,
)

register_actions(
    {
        "institutional.cycle_schedule.saved": "Cycle-fill schedule saved",
        "institutional.cycle.generated": "Cycle fills generated",
        "institutional.cycle.census": "Cycle lines changed by a census change",
        "institutional.cycle.data_verified": "Cycle fills data-verified as a batch",
        "institutional.cycle.verified": "Cycle fills final-verified as a batch",
        "institutional.cycle.closed": "Cycle run closed",
        "institutional.cycle.cancelled": "Cycle run cancelled",
    }
)

# Lines whose fill still counts for the cycle.
LIVE_LINES = (CycleLineStatus.QUEUED, CycleLineStatus.PRORATED)
# A run is done when each line is one of these, or its fill one of DONE_FILLS.
SETTLED_LINES = (CycleLineStatus.SKIPPED, CycleLineStatus.STOPPED)
DONE_FILLS = (FillStatus.READY, FillStatus.DISPENSED)
# Counted out, or verified: the medicine exists; it goes back to stock, not "cancelled".
COUNTED_OUT = (FillStatus.FILLED, FillStatus.READY)
MAX_BATCH = 1000
PRN_REASON = "as needed: filled on request"


# --- helpers ----------------------------------------------------------------------------------


def _own(actor: User | None, what: str, site_id: int) -> None:
    if actor is not None and actor.site_id != site_id:
        raise NotFound(f"No such {what} at this pharmacy.")


def _mdy(day: dt.date) -> str:
    return f"{day:%m/%d/%Y}"


def _local_day(site: Site, moment: dt.datetime) -> dt.date:
    return timezone.localtime(moment, site.tz).date()


def _words(text: str, limit: int = 300) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _run_locked(run: CycleRun, actor: User) -> CycleRun:
    _own(actor, "cycle run", run.site_id)
    locked = (
        CycleRun.objects.select_for_update(of=("self",))
        .select_related("site", "schedule__facility", "schedule__unit")
        .get(pk=run.pk)
    )
    return locked


def _require_open(run: CycleRun) -> None:
    if run.status != CycleRunStatus.OPEN:
        raise Conflict(
            f"{run} is {run.get_status_display().lower()}; it cannot be changed.", field="status"
        )


def schedule_label(schedule: CycleSchedule) -> str:
    """ "Oakwood Care Center 1W" (or the facility alone for a whole-facility schedule)."""
    return _where(schedule)


def _where(schedule: CycleSchedule) -> str:
    where = schedule.facility.name
    return f"{where} {schedule.unit.code}" if schedule.unit is not None else where


# --- Schedules --------------------------------------------------------------------------------


def cycle_schedule_save(
    *,
    actor: User,
    facility: Facility,
    unit: Unit | None = None,
    schedule: CycleSchedule | None = None,
    days: int,
    mode: str,
    anchor: dt.date,
    lead_days: int = 3,
    active: bool = True,
) -> CycleSchedule:
    """Create (or, given ``schedule``, change) how often a facility or one of its units is
    cycle-filled: every 7, 14 or 30 days, by period or by each resident's anniversary,
    generated ``lead_days`` before each cycle starts. One schedule per facility/unit."""
    authorize(actor, Cap.LTC_SETUP)
    _own(actor, "facility", facility.site_id)
    if schedule is not None:
        _own(actor, "cycle schedule", schedule.facility.site_id)
    errors = []
    if unit is not None and unit.facility_id != facility.pk:
        errors.append({"field": "unit", "message": f"Unit {unit.code} is not in {facility}."})
    if days not in cycles.CYCLE_DAYS:
        errors.append({"field": "days", "message": "A cycle is 7, 14 or 30 days."})
    if mode not in CycleMode.values:
        errors.append({"field": "mode", "message": "Choose by period or by anniversary."})
    if not isinstance(anchor, dt.date):
        errors.append({"field": "anchor", "message": "Enter the first day of the first cycle."})
    top = min(cycles.MAX_LEAD_DAYS, days - 1) if days in cycles.CYCLE_DAYS else 14
    if not isinstance(lead_days, int) or not 0 <= lead_days <= top:
        errors.append(
            {
                "field": "lead_days",
                "message": f"Generate 0 to {top} days before a cycle starts.",
            }
        )
    if errors:
        raise Invalid(errors=errors, field=errors[0]["field"])
    with transaction.atomic():
        clash = CycleSchedule.objects.filter(facility=facility, unit=unit)
        if schedule is not None:
            clash = clash.exclude(pk=schedule.pk)
        if clash.exists():
            where = f"unit {unit.code}" if unit is not None else "the whole facility"
            raise Conflict(
                f"{facility} already has a cycle schedule for {where}; change that one.",
                field="unit",
            )
        fields = ["facility", "unit", "days", "mode", "anchor", "lead_days", "active"]
        if schedule is None:
            target = CycleSchedule(facility=facility)
            before: dict[str, Any] = {}
        else:
            target = CycleSchedule.objects.select_for_update().get(pk=schedule.pk)
            before = {
                "unit_id": target.unit_id,
                "days": target.days,
                "mode": target.mode,
                "anchor": target.anchor.isoformat(),
                "lead_days": target.lead_days,
                "active": target.active,
            }
        target.facility, target.unit = facility, unit
        target.days, target.mode, target.anchor = days, mode, anchor
        target.lead_days, target.active = lead_days, active
        try:
            with transaction.atomic():
                if schedule is None:
                    target.save()
                else:
                    target.save(update_fields=fields)
        except IntegrityError:
            raise Conflict(
                f"{facility} already has a cycle schedule there; change that one.", field="unit"
            ) from None
        audit_record(
            actor=actor,
            action="institutional.cycle_schedule.saved",
            obj=target,
            data={
                "before": before,
                "after": {
                    "facility_id": facility.pk,
                    "unit_id": target.unit_id,
                    "days": days,
                    "mode": mode,
                    "anchor": anchor.isoformat(),
                    "lead_days": lead_days,
                    "active": active,
                },
            },
        )
    return target


def _generated_starts(schedule: CycleSchedule) -> set[dt.date]:
    return set(
        schedule.runs.exclude(status=CycleRunStatus.CANCELLED).values_list(
            "period_start", flat=True
        )
    )


def next_due(schedule: CycleSchedule, today: dt.date) -> cycles.Period | None:
    """The period the schedule generates now (lead days ahead), None when none is due."""
    return cycles.due(
        schedule.anchor, schedule.days, schedule.lead_days, today, _generated_starts(schedule)
    )


def next_to_generate(schedule: CycleSchedule, today: dt.date) -> cycles.Period:
    """The next period not generated yet starting today or later (due or not). A cycle
    already under way is generated only when asked for by its first day."""
    done = _generated_starts(schedule)
    period = cycles.period_containing(schedule.anchor, schedule.days, today)
    if period.start < today:
        period = cycles.next_period(schedule.anchor, schedule.days, today)
    while period.start in done:
        period = cycles.next_period(schedule.anchor, schedule.days, period.start)
    return period


# --- Generation -------------------------------------------------------------------------------


@dataclass
class _Counts:
    queued: int = 0
    prorated: int = 0
    skipped: int = 0
    on_leave: int = 0
    linked: int = 0

    def as_dict(self) -> dict[str, int]:
        return {
            "queued": self.queued,
            "prorated": self.prorated,
            "skipped": self.skipped,
            "on_leave": self.on_leave,
            "linked": self.linked,
        }


def _in_force(order: OrderSchedule, period: cycles.Period) -> bool:
    return order.start_on <= period.end and (order.stop_on is None or order.stop_on >= period.start)


def _leave_since(resident: Resident) -> dt.date | None:
    event = (
        CensusEvent.objects.filter(resident=resident, kind=CensusKind.LEAVE)
        .order_by("-effective_at", "-id")
        .first()
    )
    return _local_day(resident.site, event.effective_at) if event is not None else None


def _put_line(
    run: CycleRun,
    resident: Resident,
    rx: Prescription,
    *,
    status: str,
    fill: Fill | None = None,
    days: int = 0,
    quantity: Any = 0,
    reason: str = "",
) -> CycleLine:
    line, _ = CycleLine.objects.update_or_create(
        run=run,
        prescription=rx,
        defaults={
            "resident": resident,
            "status": status,
            "fill": fill,
            "days": days,
            "quantity": quantity,
            "reason": _words(reason),
        },
    )
    return line


def _queue_line(
    *,
    actor: User | None,
    run: CycleRun,
    resident: Resident,
    order: OrderSchedule,
    full: cycles.Period,
    start: dt.date,
    today: dt.date,
    note: str = "",
) -> CycleLine:
    """Queue the fill of one order for ``start`` .. the end of ``full`` (the resident's
    period, cut at the order's stop date): full, prorated, linked to a fill already
    waiting, or skipped with the refill rules' reason."""
    rx = (
        Prescription.objects.select_for_update(of=("self",))
        .select_related("site")
        .get(pk=order.prescription_id)
    )
    end = min(full.end, order.stop_on) if order.stop_on else full.end
    covered = cycles.Period(start, end)
    prorated = covered != full
    status = CycleLineStatus.PRORATED if prorated else CycleLineStatus.QUEUED
    lead = f"{note} " if note else ""
    pending = rx.fills.filter(status__in=PENDING_FILLS).order_by("number").first()
    other = (
        CycleLine.objects.filter(fill=pending).exclude(run=run).select_related("run").first()
        if pending is not None
        else None
    )
    if pending is not None and other is not None:
        # One fill waits per prescription: the other cycle's comes first.
        return _put_line(
            run,
            resident,
            rx,
            status=CycleLineStatus.SKIPPED,
            reason=f"{lead}Fill {rx.number}-{pending.number} of the cycle "
            f"{other.run.period_start:%m/%d}–{other.run.period_end:%m/%d} is still waiting: "
            "fill this cycle on request once it is dispensed.",
        )
    if pending is not None:
        return _put_line(
            run,
            resident,
            rx,
            status=status,
            fill=pending,
            days=pending.days_supply or covered.days,
            quantity=pending.quantity,
            reason=f"{lead}Fill {rx.number}-{pending.number} was already waiting "
            f"({pending.get_status_display().lower()}): it is used for this cycle.",
        )
    try:
        wanted = cycles.quantity(len(order.times), order.dose, covered.days, rx.quantity_unit)
    except ValueError as exc:
        return _put_line(run, resident, rx, status=CycleLineStatus.SKIPPED, reason=f"{lead}{exc}")
    if wanted <= 0:
        return _put_line(
            run,
            resident,
            rx,
            status=CycleLineStatus.SKIPPED,
            reason=f"{lead}no administration times: nothing to fill.",
        )
    try:
        with transaction.atomic():
            result = queue_refill(
                rx, actor=actor, source=FillSource.CYCLE, today=today, quantity=wanted
            )
    except RefillRefused as refused:
        return _put_line(
            run, resident, rx, status=CycleLineStatus.SKIPPED, reason=f"{lead}{refused.message}"
        )
    fill = result.fill
    fill.days_supply = covered.days
    fill.save(update_fields=["days_supply"])
    words = [lead.strip()] if lead else []
    if prorated:
        words.append(f"Short fill: {covered.days} days ({covered}) to align with the cycle.")
    if fill.quantity < wanted:
        words.append(f"Only {fill.quantity:f} left on the prescription ({wanted:f} wanted).")
    if result.too_soon and fill.fillable_on:
        words.append(f"Fillable on {_mdy(fill.fillable_on)}.")
    return _put_line(
        run,
        resident,
        rx,
        status=status,
        fill=fill,
        days=covered.days,
        quantity=fill.quantity,
        reason=" ".join(words),
    )


def _residents(schedule: CycleSchedule) -> list[Resident]:
    found = Resident.objects.filter(
        facility=schedule.facility,
        status__in=(ResidentStatus.ADMITTED, ResidentStatus.LEAVE),
    ).select_related("site", "patient")
    if schedule.unit_id:
        found = found.filter(unit_id=schedule.unit_id)
    return list(found.order_by("room", "bed", "pk"))


def _orders(resident: Resident) -> list[OrderSchedule]:
    return list(
        OrderSchedule.objects.filter(resident=resident)
        .select_related("prescription")
        .order_by("prescription__number", "pk")
    )


def _resident_period(schedule: CycleSchedule, resident: Resident, window: cycles.Period) -> Any:
    anchor = None
    if schedule.mode == CycleMode.ANNIVERSARY:
        anchor = resident.cycle_anniversary or resident.admitted_on
    return cycles.resident_period(window=window, days=schedule.days, resident_anchor=anchor)


def _generate_resident(
    actor: User | None, run: CycleRun, resident: Resident, today: dt.date, counts: _Counts
) -> None:
    window = cycles.Period(run.period_start, run.period_end)
    period = _resident_period(run.schedule, resident, window)
    if resident.admitted_on > period.end:
        return
    orders = [o for o in _orders(resident) if _in_force(o, period)]
    if resident.status == ResidentStatus.LEAVE:
        since = _leave_since(resident)
        why = f"on leave of absence since {since:%m/%d}" if since else "on leave of absence"
        for order in orders:
            _put_line(run, resident, order.prescription, status=CycleLineStatus.SKIPPED, reason=why)
            counts.on_leave += 1
        return
    for order in orders:
        rx = order.prescription
        if order.prn:
            _put_line(run, resident, rx, status=CycleLineStatus.SKIPPED, reason=PRN_REASON)
            counts.skipped += 1
            continue
        if rx.status == RxStatus.ON_HOLD:
            _put_line(
                run,
                resident,
                rx,
                status=CycleLineStatus.SKIPPED,
                reason=f"Rx {rx.number} is on hold: release it, then fill it on request.",
            )
            counts.skipped += 1
            continue
        if rx.status != RxStatus.ACTIVE:
            continue
        start = max(period.start, order.start_on, resident.admitted_on)
        line = _queue_line(
            actor=actor,
            run=run,
            resident=resident,
            order=order,
            full=period,
            start=start,
            today=today,
        )
        if line.status == CycleLineStatus.SKIPPED:
            counts.skipped += 1
        elif line.status == CycleLineStatus.PRORATED:
            counts.prorated += 1
        else:
            counts.queued += 1
        if line.fill_id and line.fill is not None and line.fill.source != FillSource.CYCLE:
            counts.linked += 1


def cycle_generate(
    *, actor: User | None, schedule: CycleSchedule, period_start: dt.date | None = None
) -> CycleRun:
    """Generate one period of a schedule: for every resident there (and in its unit), a
    fill queued per scheduled order for the period's days — prorated when the order
    starts, or the resident came in, after the period's first day; lines skipped, with the
    reason, for residents on leave, medicines as needed and refills refused. Discharged
    residents get no line. Without ``period_start``, the next period not yet generated."""
    authorize(actor, Cap.LTC_CYCLE)
    site = schedule.facility.site
    _own(actor, "cycle schedule", site.pk)
    if not schedule.active:
        raise Conflict(f"The schedule of {_where(schedule)} is paused.", field="schedule")
    today = site.today()
    if period_start is None:
        period = next_to_generate(schedule, today)
    else:
        period = cycles.period_containing(schedule.anchor, schedule.days, period_start)
        if period.start != period_start:
            raise Invalid(
                f"{_mdy(period_start)} is not the first day of a cycle of this schedule; "
                f"the cycle holding it starts {_mdy(period.start)}.",
                field="period_start",
            )
        if period.end < today:
            raise Invalid(
                f"The cycle {period} is over; generate the current or a coming one.",
                field="period_start",
            )
    with transaction.atomic():
        CycleSchedule.objects.select_for_update().filter(pk=schedule.pk).first()
        existing = (
            CycleRun.objects.filter(schedule=schedule, period_start=period.start)
            .exclude(status=CycleRunStatus.CANCELLED)
            .first()
        )
        if existing is not None:
            raise Conflict(
                f"The cycle {period} of {_where(schedule)} was already generated "
                f"(run {existing.pk}).",
                field="period_start",
                run_id=existing.pk,
            )
        try:
            with transaction.atomic():
                run = CycleRun.objects.create(
                    site=site,
                    schedule=schedule,
                    period_start=period.start,
                    period_end=period.end,
                    created_by=actor,
                )
        except IntegrityError:
            raise Conflict(
                f"The cycle {period} of {_where(schedule)} was just generated by someone else.",
                field="period_start",
            ) from None
        run.schedule = schedule
        counts = _Counts()
        residents = _residents(schedule)
        for resident in residents:
            _generate_resident(actor, run, resident, today, counts)
        audit_record(
            actor=actor,
            site=site,
            action="institutional.cycle.generated",
            obj=run,
            data={
                "schedule_id": schedule.pk,
                "period_start": period.start.isoformat(),
                "period_end": period.end.isoformat(),
                "residents": len(residents),
                **counts.as_dict(),
            },
        )
    return run


def run_summary(run: CycleRun) -> str:
    """One line in words: "Oakwood Care Center 1W: 11/29–12/05, 14 fills queued, 2 prorated,
    1 skipped (on leave)"."""
    lines = list(run.lines.values_list("status", "reason"))
    queued = sum(1 for s, _ in lines if s in LIVE_LINES)
    prorated = sum(1 for s, _ in lines if s == CycleLineStatus.PRORATED)
    leave = sum(1 for s, r in lines if s == CycleLineStatus.SKIPPED and r.startswith("on leave"))
    skipped = sum(1 for s, _ in lines if s == CycleLineStatus.SKIPPED)
    period = cycles.Period(run.period_start, run.period_end)
    text = f"{_where(run.schedule)}: {period}, {queued} fills queued, {prorated} prorated"
    if skipped:
        text += f", {skipped} skipped" + (f" ({leave} on leave)" if leave else "")
    return text


def cycles_due(*, actor: User | None, site: Site, today: dt.date | None = None) -> list[Any]:
    """The active schedules of ``site`` with the period each generates now (lead days)."""
    authorize(actor, Cap.LTC_VIEW)
    _own(actor, "site", site.pk)
    day = today or site.today()
    out = []
    for schedule in (
        CycleSchedule.objects.filter(facility__site=site, active=True, facility__active=True)
        .select_related("facility", "unit")
        .order_by("facility__name", "unit__code")
    ):
        period = next_due(schedule, day)
        if period is not None:
            out.append((schedule, period))
    return out


# --- Census -----------------------------------------------------------------------------------


def _cancel(actor: User, fill: Fill, reason: str) -> None:
    """Cancel a fill not yet counted out: through fill_cancel when the actor may enter
    prescriptions; else the same change, recorded in the fill's history (the census is
    recorded by someone allowed to change a resident's stay, whose fills follow it)."""
    if has(actor, Cap.RX_ENTER):
        fill_cancel(actor=actor, fill=fill, reason=reason)
        return
    locked = Fill.objects.select_for_update().get(pk=fill.pk)
    before = locked.status
    locked.status, locked.cancel_reason = FillStatus.CANCELLED, reason[:200]
    locked.save(update_fields=["status", "cancel_reason"])
    record(locked, FillStep.CANCELLED, actor=actor, from_status=before, reason=reason)


def _stop_lines(event: CensusEvent, actor: User, day: dt.date) -> list[CycleLine]:
    what = "discharged" if event.kind == CensusKind.DISCHARGE else "on leave"
    head = f"{what} {_mdy(day)}"
    changed: list[CycleLine] = []
    lines = (
        CycleLine.objects.filter(
            run__status=CycleRunStatus.OPEN,
            run__site_id=event.resident.site_id,
            resident__patient_id=event.resident.patient_id,
            status__in=LIVE_LINES,
            fill__status__in=PENDING_FILLS,
        )
        .select_related("fill", "prescription")
        .order_by("run_id", "pk")
    )
    for line in lines:
        fill = line.fill
        assert fill is not None
        if fill.status in NOT_YET_FILLED:
            _cancel(actor, fill, f"Resident {head}")
            why = f"{head}: fill cancelled"
        elif fill.status == FillStatus.FILLED and has(actor, Cap.RX_VERIFY_FINAL):
            # Counted out, not verified: the pharmacist's send-back puts the exact lots back.
            fill_final_verify(
                actor=actor, fill=fill, approve=False, reason=f"Resident {head}: not needed"
            )
            _cancel(actor, fill, f"Resident {head}")
            why = f"{head}: fill sent back to the shelf and cancelled"
        elif fill.status == FillStatus.FILLED:
            why = (
                f"{head}: already counted out: a pharmacist sends it back at final "
                "verification, then cancels it"
            )
        else:
            why = f"{head}: already verified: return it to stock"
        line.status, line.reason = CycleLineStatus.STOPPED, _words(why)
        line.save(update_fields=["status", "reason"])
        changed.append(line)
    return changed


def _restart_lines(event: CensusEvent, actor: User, day: dt.date) -> list[CycleLine]:
    resident = Resident.objects.select_related("site", "facility", "unit").get(pk=event.resident_id)
    what = "returned" if event.kind == CensusKind.RETURN else "readmitted"
    runs = (
        CycleRun.objects.filter(
            site_id=resident.site_id,
            status=CycleRunStatus.OPEN,
            period_end__gte=day,
            schedule__facility_id=resident.facility_id,
        )
        .select_related("schedule__facility", "schedule__unit")
        .order_by("period_start", "pk")
    )
    today = resident.site.today()
    changed: list[CycleLine] = []
    for run in runs:
        if run.schedule.unit_id and run.schedule.unit_id != resident.unit_id:
            continue
        window = cycles.Period(run.period_start, run.period_end)
        period = _resident_period(run.schedule, resident, window)
        if period.end < day:
            continue
        start = max(day, period.start)
        for order in _orders(resident):
            rx = order.prescription
            if order.prn or rx.status != RxStatus.ACTIVE or not _in_force(order, period):
                continue
            line = CycleLine.objects.filter(run=run, prescription=rx).first()
            if (
                line is not None
                and line.status in LIVE_LINES
                and line.fill is not None
                and line.fill.status in PENDING_FILLS
            ):
                continue  # its fill is still coming
            changed.append(
                _queue_line(
                    actor=actor,
                    run=run,
                    resident=resident,
                    order=order,
                    full=period,
                    start=max(start, order.start_on),
                    today=today,
                    note=f"{what} {_mdy(day)}:",
                )
            )
    return changed


def census_changed(*, event: CensusEvent, actor: User) -> list[CycleLine]:
    """What a census change does to the cycle runs still open; call it inside the
    transaction that records the event.

    Discharge or leave: every fill of the resident's lines not yet counted out is
    cancelled and the line stopped, saying so; a fill counted out is sent back when the
    actor is a pharmacist, and a verified one stays (the line says to return it to stock).
    Return or readmission: for each open run not over by the return day, each scheduled
    order gets a fill for the days left (prorated), on its existing line or a new one.
    Returns the lines changed."""
    authorize(actor, Cap.LTC_CENSUS)
    resident = event.resident
    _own(actor, "resident", resident.site_id)
    day = _local_day(resident.site, event.effective_at)
    with transaction.atomic():
        if event.kind in (CensusKind.DISCHARGE, CensusKind.LEAVE):
            changed = _stop_lines(event, actor, day)
        elif event.kind in (CensusKind.RETURN, CensusKind.READMIT):
            changed = _restart_lines(event, actor, day)
        else:
            return []
        if changed:
            audit_record(
                actor=actor,
                site=resident.site,
                action="institutional.cycle.census",
                obj=event,
                patient_id=resident.patient_id,
                data={
                    "kind": event.kind,
                    "day": day.isoformat(),
                    "lines": [line.pk for line in changed],
                    "statuses": [line.status for line in changed],
                },
            )
    return changed


# --- Batch workflow ---------------------------------------------------------------------------


@dataclass
class BatchResult:
    """Lines a batch step went through, and each one that failed with the reason."""

    done: list[int] = field(default_factory=list)
    failed: dict[int, str] = field(default_factory=dict)

    def summary(self) -> str:
        text = f"{len(self.done)} done"
        if self.failed:
            text += f", {len(self.failed)} not: see each line"
        return text + "."


def _lines(run: CycleRun) -> list[CycleLine]:
    return list(
        run.lines.select_related("fill", "prescription", "resident")
        .filter(status__in=LIVE_LINES, fill__isnull=False)
        .order_by("resident__room", "resident__bed", "resident_id", "prescription__number")
    )


def _batch_audit(actor: User, run: CycleRun, action: str, result: BatchResult) -> None:
    if not result.done:
        return
    with transaction.atomic():
        audit_record(
            actor=actor,
            site=run.site,
            action=action,
            obj=run,
            data={"lines": result.done, "failed": sorted(result.failed)},
        )


def _run_of(actor: User, run: CycleRun) -> CycleRun:
    _own(actor, "cycle run", run.site_id)
    fresh = CycleRun.objects.select_related("site", "schedule__facility", "schedule__unit").get(
        pk=run.pk
    )
    _require_open(fresh)
    return fresh


def cycle_run_data_verify(*, actor: User, run: CycleRun) -> BatchResult:
    """The pharmacist's data verification of every queued fill of the run (and every one
    scheduled for today or before): each in its own transaction; a refused one is reported
    on its line and the others go on."""
    authorize(actor, Cap.LTC_CYCLE)
    authorize(actor, Cap.RX_VERIFY_DATA)
    run = _run_of(actor, run)
    today = run.site.today()
    result = BatchResult()
    for line in _lines(run):
        fill = line.fill
        assert fill is not None
        waiting = fill.status == FillStatus.QUEUED or (
            fill.status == FillStatus.SCHEDULED
            and (fill.fillable_on is None or fill.fillable_on <= today)
        )
        if not waiting:
            continue
        try:
            fill_data_verify(actor=actor, fill=fill)
        except DomainError as exc:
            result.failed[line.pk] = exc.message
        else:
            result.done.append(line.pk)
    _batch_audit(actor, run, "institutional.cycle.data_verified", result)
    return result


def cycle_run_fill(*, actor: User, run: CycleRun, line: CycleLine, code: str) -> Fill:
    """Count one line's fill out: the scanned product must match the order (the fill
    workflow's scan check); its lot leaves the stock ledger."""
    authorize(actor, Cap.LTC_CYCLE)
    run = _run_of(actor, run)
    if line.run_id != run.pk:
        raise NotFound("No such line in this cycle run.")
    fresh = CycleLine.objects.select_related("fill").get(pk=line.pk)
    if fresh.status not in LIVE_LINES or fresh.fill is None:
        raise Conflict(
            f"This line is {fresh.get_status_display().lower()}: nothing to fill.", field="line"
        )
    if fresh.fill.status != FillStatus.TO_FILL:
        raise Conflict(
            f"Fill {fresh.fill} is {fresh.fill.get_status_display().lower()}; only a "
            "data-verified fill is counted out.",
            field="line",
        )
    code = (code or "").strip()
    if not code:
        raise Invalid("Scan the package's barcode.", field="code")
    try:
        return fill_product(actor=actor, fill=fresh.fill, scanned_code=code)
    except Invalid as exc:
        if exc.field == "scanned_code":
            raise Invalid(exc.message, field="code") from None
        raise


def cycle_run_scan(*, actor: User, run: CycleRun, code: str) -> CycleLine:
    """The scan box of the run: fill the next line (by room) waiting to be filled whose
    prescription the scanned package may fill."""
    authorize(actor, Cap.LTC_CYCLE)
    authorize(actor, Cap.RX_FILL)
    run = _run_of(actor, run)
    code = (code or "").strip()
    if not code:
        raise Invalid("Scan the package's barcode.", field="code")
    try:
        resolved = catalog_queries.resolve_code(actor=actor, code=code)
    except (Invalid, NotFound, Conflict) as exc:
        raise Invalid(exc.message, field="code") from None
    package = resolved.package
    for line in _lines(run):
        fill = line.fill
        assert fill is not None
        if fill.status == FillStatus.TO_FILL and not product_mismatch(line.prescription, package):
            cycle_run_fill(actor=actor, run=run, line=line, code=code)
            line.refresh_from_db()
            return line
    raise Invalid(
        f"No line of this cycle waiting to be filled takes NDC {package.ndc10} "
        f"({package.product}).",
        field="code",
    )


def _ids(run: CycleRun, line_ids: Sequence[int]) -> list[CycleLine]:
    if not line_ids:
        raise Invalid("Choose the lines to verify.", field="line_ids")
    if len(line_ids) > MAX_BATCH:
        raise Invalid(f"At most {MAX_BATCH} lines at a time.", field="line_ids")
    found = {
        line.pk: line
        for line in run.lines.select_related("fill", "prescription").filter(pk__in=line_ids)
    }
    errors = [
        {"field": f"line_ids[{i}]", "message": f"Line {pk} is not in this cycle run."}
        for i, pk in enumerate(line_ids)
        if pk not in found
    ]
    if errors:
        raise Invalid(errors=errors, field=errors[0]["field"])
    return [found[pk] for pk in dict.fromkeys(line_ids)]


def cycle_run_verify(*, actor: User, run: CycleRun, line_ids: list[int]) -> BatchResult:
    """The pharmacist's final verification of the chosen lines' fills, each in its own
    transaction; a line whose fill is not counted out is reported, the others go on."""
    authorize(actor, Cap.LTC_CYCLE)
    authorize(actor, Cap.RX_VERIFY_FINAL)
    run = _run_of(actor, run)
    result = BatchResult()
    for line in _ids(run, line_ids):
        fill = line.fill
        if line.status not in LIVE_LINES or fill is None:
            result.failed[line.pk] = f"{line.get_status_display()}: nothing to verify."
            continue
        try:
            fill_final_verify(actor=actor, fill=fill)
        except DomainError as exc:
            result.failed[line.pk] = exc.message
        else:
            result.done.append(line.pk)
    _batch_audit(actor, run, "institutional.cycle.verified", result)
    return result


def cycle_run_close(*, actor: User, run: CycleRun) -> CycleRun:
    """Close a run when every line is skipped or stopped, or its fill ready or sold."""
    authorize(actor, Cap.LTC_CYCLE)
    with transaction.atomic():
        locked = _run_locked(run, actor)
        _require_open(locked)
        left = [
            line
            for line in locked.lines.select_related("fill", "prescription").order_by("pk")
            if line.status not in SETTLED_LINES
            and (line.fill is None or line.fill.status not in DONE_FILLS)
        ]
        if left:
            shown = "; ".join(
                f"Rx {line.prescription.number} "
                f"({line.fill.get_status_display().lower() if line.fill else 'no fill'})"
                for line in left[:10]
            )
            more = f" and {len(left) - 10} more" if len(left) > 10 else ""
            raise Conflict(
                f"{len(left)} line(s) are not finished: {shown}{more}.",
                field="lines",
                lines=[line.pk for line in left],
            )
        locked.status, locked.closed_at = CycleRunStatus.DONE, timezone.now()
        locked.save(update_fields=["status", "closed_at"])
        audit_record(
            actor=actor,
            site=locked.site,
            action="institutional.cycle.closed",
            obj=locked,
            data={"lines": locked.lines.count()},
        )
    return locked


def cycle_run_cancel(*, actor: User, run: CycleRun, reason: str = "") -> CycleRun:
    """Cancel a run: its fills not yet counted out are cancelled and their lines stopped.
    Refused while a fill is counted out and not verified (send it back first)."""
    authorize(actor, Cap.LTC_CYCLE)
    authorize(actor, Cap.RX_ENTER)
    why = _words(reason or "cycle run cancelled", 200)
    with transaction.atomic():
        locked = _run_locked(run, actor)
        _require_open(locked)
        lines = list(
            locked.lines.select_related("fill", "prescription")
            .filter(status__in=LIVE_LINES)
            .order_by("pk")
        )
        counted = [line for line in lines if line.fill and line.fill.status == FillStatus.FILLED]
        if counted:
            numbers = ", ".join(f"Rx {line.prescription.number}" for line in counted[:10])
            raise Conflict(
                f"Counted out and not verified: {numbers}. A pharmacist sends them back first.",
                field="status",
            )
        cancelled = []
        for line in lines:
            if line.fill is not None and line.fill.status in NOT_YET_FILLED:
                fill_cancel(actor=actor, fill=line.fill, reason=f"Cycle {locked}: {why}")
                line.status, line.reason = CycleLineStatus.STOPPED, _words(f"{why}: fill cancelled")
                line.save(update_fields=["status", "reason"])
                cancelled.append(line.pk)
        locked.status, locked.closed_at = CycleRunStatus.CANCELLED, timezone.now()
        locked.save(update_fields=["status", "closed_at"])
        audit_record(
            actor=actor,
            site=locked.site,
            action="institutional.cycle.cancelled",
            obj=locked,
            data={"lines_cancelled": cancelled},
        )
    return locked
