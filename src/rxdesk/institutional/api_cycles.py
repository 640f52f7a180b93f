"""API of cycle fills (mounted at /api/v1/institutional): the schedules (list, create,
change), generating a cycle, the runs and one run with its lines, and the batch steps —
data verification, filling a line by scan, final verification, close, cancel. Parse, call
rxdesk.institutional services_cycles / queries_cycles, serialize.

Reading is ltc.view; schedules are ltc.setup; generating, filling, closing and cancelling
ltc.cycle; the batch data and final verifications also need the pharmacist's
rx.verify_data / rx.verify_final — each checked before the body is read, and again by the
services. Rows of another pharmacy do not exist here (404); an id in a body that is not
this pharmacy's is a 422 naming the field."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated, Any

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema, Status

from rxdesk.core.capabilities import Cap
from rxdesk.core.errors import Invalid
from rxdesk.core.models import User
from rxdesk.institutional import queries_cycles as queries
from rxdesk.institutional import services_cycles as services
from rxdesk.institutional.api_common import StrictIn, gate, user_of
from rxdesk.institutional.choices import CycleMode, CycleRunStatus
from rxdesk.institutional.models import CycleLine, CycleRun, CycleSchedule, Facility, Unit

router = Router(tags=["institutional: cycles"])

MAX_ID = 2**63 - 1


# --- Input ------------------------------------------------------------------------------------


class CycleScheduleIn(StrictIn):
    facility_id: int = Field(..., ge=1, le=MAX_ID)
    unit_id: int | None = Field(None, ge=1, le=MAX_ID, description="None: the whole facility")
    days: int = Field(..., description="7, 14 or 30")
    mode: CycleMode = CycleMode.PERIOD
    anchor: dt.date = Field(..., description="First day of the first cycle")
    lead_days: int = Field(3, ge=0, le=14, description="Days before a cycle it is generated")
    active: bool = True


class SchedulePatch(StrictIn):
    unit_id: int | None = Field(None, ge=1, le=MAX_ID)
    days: int | None = None
    mode: CycleMode | None = None
    anchor: dt.date | None = None
    lead_days: int | None = Field(None, ge=0, le=14)
    active: bool | None = None


class GenerateIn(StrictIn):
    period_start: dt.date | None = Field(
        None, description="First day of the cycle (default: the next not generated)"
    )


class CycleFillIn(StrictIn):
    code: str = Field(..., min_length=1, max_length=200, description="Scanned barcode or NDC")


class VerifyIn(StrictIn):
    line_ids: list[Annotated[int, Field(ge=1, le=MAX_ID)]] = Field(
        ..., min_length=1, max_length=services.MAX_BATCH
    )


class CycleCancelIn(StrictIn):
    reason: str = Field("", max_length=200)


class RunQuery(Schema):
    status: CycleRunStatus | None = None
    schedule_id: int | None = Field(None, ge=1, le=MAX_ID)
    limit: int = Field(100, ge=1, le=queries.RUN_LIMIT)


# --- Output -----------------------------------------------------------------------------------


class PeriodOut(Schema):
    start: dt.date
    end: dt.date
    days: int


class CycleScheduleOut(Schema):
    id: int
    facility_id: int
    facility: str
    unit_id: int | None
    unit: str | None
    days: int
    mode: str
    anchor: dt.date
    lead_days: int
    active: bool
    next_due: PeriodOut | None
    next_period: PeriodOut
    open_runs: int


class RunSummaryOut(Schema):
    id: int
    schedule_id: int
    where: str
    period_start: dt.date
    period_end: dt.date
    status: str
    lines: int
    created_at: dt.datetime


class CycleLineOut(Schema):
    id: int
    resident_id: int
    resident: str
    prescription_id: int
    rx_number: int
    drug: str
    status: str
    days: int
    quantity: Decimal
    reason: str
    fill_id: int | None
    fill_status: str | None


class RunOut(RunSummaryOut):
    summary: str
    counts: dict[str, int]
    closable: bool
    items: list[CycleLineOut]


class BatchOut(Schema):
    done: list[int]
    failed: list[dict[str, Any]]
    summary: str


class CycleFillOut(Schema):
    line_id: int
    fill_id: int
    fill_status: str
    quantity: Decimal
    ndc: str


def _period(p: Any) -> dict[str, Any] | None:
    if p is None:
        return None
    return {"start": p.start, "end": p.end, "days": p.days}


def _schedule(row: queries.ScheduleRow) -> dict[str, Any]:
    s = row.schedule
    return {
        "id": s.pk,
        "facility_id": s.facility_id,
        "facility": s.facility.name,
        "unit_id": s.unit_id,
        "unit": s.unit.code if s.unit is not None else None,
        "days": s.days,
        "mode": s.mode,
        "anchor": s.anchor,
        "lead_days": s.lead_days,
        "active": s.active,
        "next_due": _period(row.next_due),
        "next_period": _period(row.next_period),
        "open_runs": row.open_runs,
    }


def _schedule_out(actor: User, schedule_id: int) -> dict[str, Any]:
    for row in queries.schedules(actor=actor):
        if row.schedule.pk == schedule_id:
            return _schedule(row)
    raise Invalid("No such cycle schedule.", field="schedule_id")  # pragma: no cover


def _where(run: CycleRun) -> str:
    s = run.schedule
    return f"{s.facility.name} {s.unit.code}" if s.unit is not None else s.facility.name


def _summary(run: CycleRun) -> dict[str, Any]:
    return {
        "id": run.pk,
        "schedule_id": run.schedule_id,
        "where": _where(run),
        "period_start": run.period_start,
        "period_end": run.period_end,
        "status": run.status,
        "lines": getattr(run, "line_count", None) or run.lines.count(),
        "created_at": run.created_at,
    }


def _line(label: str, line: CycleLine) -> dict[str, Any]:
    rx = line.prescription
    return {
        "id": line.pk,
        "resident_id": line.resident_id,
        "resident": label,
        "prescription_id": rx.pk,
        "rx_number": rx.number,
        "drug": str(rx.product),
        "status": line.status,
        "days": line.days,
        "quantity": line.quantity,
        "reason": line.reason,
        "fill_id": line.fill_id,
        "fill_status": line.fill.status if line.fill is not None else None,
    }


def _run_out(actor: User, run_id: int) -> dict[str, Any]:
    view = queries.run_view(actor=actor, run_id=run_id)
    out = _summary(view.run)
    out.update(
        summary=services.run_summary(view.run),
        counts=view.counts,
        closable=view.closable,
        items=[_line(group.label, line) for group in view.residents for line in group.lines],
    )
    return out


def _batch(result: services.BatchResult) -> dict[str, Any]:
    return {
        "done": result.done,
        "failed": [{"line_id": k, "message": v} for k, v in sorted(result.failed.items())],
        "summary": result.summary(),
    }


def _facility(actor: User, pk: int) -> Facility:
    found = Facility.objects.filter(site_id=actor.site_id, pk=pk).first()
    if found is None:
        raise Invalid("No such facility at this pharmacy.", field="facility_id")
    return found


def _unit(facility: Facility, pk: int | None) -> Unit | None:
    if pk is None:
        return None
    found = Unit.objects.filter(facility__site_id=facility.site_id, pk=pk).first()
    if found is None:
        raise Invalid("No such unit at this pharmacy.", field="unit_id")
    return found


def _schedule_row(actor: User, schedule_id: int) -> CycleSchedule:
    return queries.schedule_get(actor=actor, schedule_id=schedule_id)


# --- Operations -------------------------------------------------------------------------------


@router.get(
    "/cycles",
    response=list[CycleScheduleOut],
    auth=gate(Cap.LTC_VIEW),
    summary="Cycle-fill schedules with the cycle each generates next",
)
def cycles_list(request: HttpRequest) -> Any:
    return [_schedule(row) for row in queries.schedules(actor=user_of(request))]


@router.post(
    "/cycles",
    response={201: CycleScheduleOut},
    auth=gate(Cap.LTC_SETUP),
    summary="Create the cycle-fill schedule of a facility or unit",
    description="Every 7, 14 or 30 days, by period (from the anchor) or by each resident's "
    "anniversary. One schedule per facility/unit (409 naming `unit`).",
)
def cycle_create(request: HttpRequest, payload: CycleScheduleIn) -> Any:
    actor = user_of(request)
    facility = _facility(actor, payload.facility_id)
    schedule = services.cycle_schedule_save(
        actor=actor,
        facility=facility,
        unit=_unit(facility, payload.unit_id),
        days=payload.days,
        mode=payload.mode,
        anchor=payload.anchor,
        lead_days=payload.lead_days,
        active=payload.active,
    )
    return Status(201, _schedule_out(actor, schedule.pk))


@router.patch(
    "/cycles/{int:schedule_id}",
    response=CycleScheduleOut,
    auth=gate(Cap.LTC_SETUP),
    summary="Change a cycle-fill schedule (only the fields sent)",
)
def cycle_update(request: HttpRequest, schedule_id: int, payload: SchedulePatch) -> Any:
    actor = user_of(request)
    schedule = _schedule_row(actor, schedule_id)
    sent = payload.model_fields_set
    unit = _unit(schedule.facility, payload.unit_id) if "unit_id" in sent else schedule.unit
    services.cycle_schedule_save(
        actor=actor,
        facility=schedule.facility,
        unit=unit,
        schedule=schedule,
        days=payload.days if payload.days is not None else schedule.days,
        mode=payload.mode if payload.mode is not None else schedule.mode,
        anchor=payload.anchor if payload.anchor is not None else schedule.anchor,
        lead_days=payload.lead_days if payload.lead_days is not None else schedule.lead_days,
        active=payload.active if payload.active is not None else schedule.active,
    )
    return _schedule_out(actor, schedule.pk)


@router.post(
    "/cycles/{int:schedule_id}/generate",
    response={201: RunOut},
    auth=gate(Cap.LTC_CYCLE),
    summary="Generate a cycle's fills",
    description="The cycle starting `period_start` (default: the next not generated): a "
    "fill queued per resident's scheduled order, prorated for orders or admissions that "
    "start late; skipped lines say why. 409 when that cycle was already generated.",
)
def cycle_generate(request: HttpRequest, schedule_id: int, payload: GenerateIn) -> Any:
    actor = user_of(request)
    schedule = _schedule_row(actor, schedule_id)
    run = services.cycle_generate(actor=actor, schedule=schedule, period_start=payload.period_start)
    return Status(201, _run_out(actor, run.pk))


@router.get(
    "/cycle-runs",
    response=list[RunSummaryOut],
    auth=gate(Cap.LTC_VIEW),
    summary="Cycle runs, newest cycle first",
)
def runs_list(request: HttpRequest, q: Query[RunQuery]) -> Any:
    rows = queries.runs(
        actor=user_of(request), status=q.status, schedule_id=q.schedule_id, limit=q.limit
    )
    return [_summary(r) for r in rows]


@router.get(
    "/cycle-runs/{int:run_id}",
    response=RunOut,
    auth=gate(Cap.LTC_VIEW),
    summary="A cycle run with its lines by resident and their fills' status",
)
def run_read(request: HttpRequest, run_id: int) -> Any:
    return _run_out(user_of(request), run_id)


@router.post(
    "/cycle-runs/{int:run_id}/data-verify",
    response=BatchOut,
    auth=gate(Cap.LTC_CYCLE, Cap.RX_VERIFY_DATA),
    summary="Data-verify every queued fill of the run (pharmacist)",
    description="Each fill in its own transaction: a refused one is listed in `failed` "
    "with the reason, the others go on.",
)
def run_data_verify(request: HttpRequest, run_id: int) -> Any:
    actor = user_of(request)
    run = queries.run_get(actor=actor, run_id=run_id)
    return _batch(services.cycle_run_data_verify(actor=actor, run=run))


@router.post(
    "/cycle-runs/{int:run_id}/lines/{int:line_id}/fill",
    response=CycleFillOut,
    auth=gate(Cap.LTC_CYCLE, Cap.RX_FILL),
    summary="Fill one line: scan its product (stock leaves the shelf)",
)
def line_fill(request: HttpRequest, run_id: int, line_id: int, payload: CycleFillIn) -> Any:
    actor = user_of(request)
    run = queries.run_get(actor=actor, run_id=run_id)
    line = queries.line_get(actor=actor, run=run, line_id=line_id)
    fill = services.cycle_run_fill(actor=actor, run=run, line=line, code=payload.code)
    return {
        "line_id": line.pk,
        "fill_id": fill.pk,
        "fill_status": fill.status,
        "quantity": fill.quantity,
        "ndc": fill.package.ndc10 if fill.package else "",
    }


@router.post(
    "/cycle-runs/{int:run_id}/verify",
    response=BatchOut,
    auth=gate(Cap.LTC_CYCLE, Cap.RX_VERIFY_FINAL),
    summary="Final-verify the chosen lines' fills (pharmacist)",
    description="An id not in the run is a 422 naming `line_ids[n]` (nothing verified); "
    "a line whose fill is not counted out is listed in `failed`.",
)
def run_verify(request: HttpRequest, run_id: int, payload: VerifyIn) -> Any:
    actor = user_of(request)
    run = queries.run_get(actor=actor, run_id=run_id)
    return _batch(services.cycle_run_verify(actor=actor, run=run, line_ids=payload.line_ids))


@router.post(
    "/cycle-runs/{int:run_id}/close",
    response=RunOut,
    auth=gate(Cap.LTC_CYCLE),
    summary="Close a run whose every line is verified, skipped or stopped",
)
def run_close(request: HttpRequest, run_id: int) -> Any:
    actor = user_of(request)
    run = queries.run_get(actor=actor, run_id=run_id)
    services.cycle_run_close(actor=actor, run=run)
    return _run_out(actor, run_id)


@router.post(
    "/cycle-runs/{int:run_id}/cancel",
    response=RunOut,
    auth=gate(Cap.LTC_CYCLE, Cap.RX_ENTER),
    summary="Cancel a run: its fills not yet counted out are cancelled",
)
def run_cancel(request: HttpRequest, run_id: int, payload: CycleCancelIn) -> Any:
    actor = user_of(request)
    run = queries.run_get(actor=actor, run_id=run_id)
    services.cycle_run_cancel(actor=actor, run=run, reason=payload.reason)
    return _run_out(actor, run_id)
