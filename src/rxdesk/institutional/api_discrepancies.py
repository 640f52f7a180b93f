"""API of cabinet discrepancies, override removals and the dispensed-versus-administered
report (mounted at /api/v1/institutional). Parse, call rxdesk.institutional
services_discrepancies / queries_discrepancies, serialize.

Reading discrepancies is adc.view; resolving them and reviewing override removals
adc.resolve; the dispensed-versus-administered report adc.report — each checked before the
body is read, and again by the services and queries. Another pharmacy's discrepancy or
move does not exist here (404). ``format=csv`` gives text/csv (a header row, one row per
line). Patients are named only to roles that may see them; others get the MRN masked."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, Literal

from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from ninja import Field, Query, Router, Schema, Status

from rxdesk.core.capabilities import Cap
from rxdesk.core.errors import Invalid
from rxdesk.core.models import Site, User
from rxdesk.institutional import queries_discrepancies as queries
from rxdesk.institutional import services_discrepancies as services
from rxdesk.institutional.api_common import StrictIn, gate, user_of
from rxdesk.institutional.models import Cabinet, CabinetDiscrepancy, CabinetMove

router = Router(tags=["institutional: discrepancies"])

MAX_ID = queries.MAX_ID
DEFAULT_OVERRIDE_DAYS = 30
DEFAULT_USAGE_DAYS = 7
CSV = {
    "responses": {
        200: {
            "description": "JSON, or with format=csv a CSV file (a header row, one row per line)",
            "content": {"text/csv": {"schema": {"type": "string"}}},
        }
    }
}


def _csv(text: str, name: str) -> HttpResponse:
    response = HttpResponse(text, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    response["Cache-Control"] = "private, no-store"
    return response


# --- Input ------------------------------------------------------------------------------------


class DiscrepancyQuery(Schema):
    status: Literal["open", "resolved", "all"] = "open"
    cabinet_id: int | None = Field(None, ge=1, le=MAX_ID, description="Only this cabinet")


class AgingQuery(Schema):
    format: Literal["json", "csv"] = "json"


class OverrideQuery(Schema):
    reviewed: Literal["false", "true", "all"] = Field(
        "false", description="false: waiting for review; true: reviewed; all: both"
    )
    start: dt.date | None = Field(None, description="First day (default: 30 days ago)")
    end: dt.date | None = Field(None, description="Last day (default: today at the pharmacy)")


class UsageQuery(Schema):
    start: dt.date | None = Field(None, description="First day (default: 6 days before end)")
    end: dt.date | None = Field(None, description="Last day (default: today at the pharmacy)")
    controlled_only: bool = Field(True, description="Only scheduled drugs / controlled pockets")
    format: Literal["json", "csv"] = "json"


class DiscrepancyWitnessIn(StrictIn):
    username: str = Field("", max_length=150)
    password: str = Field("", max_length=256)
    otp: str = Field("", max_length=12, description="The six-digit code, when enrolled")


class DiscrepancyResolveIn(StrictIn):
    cause: str = Field(..., max_length=40, description="A DiscrepancyCause value")
    explanation: str = Field(
        ..., max_length=2000, description="What nursing and pharmacy found (10–500 characters)"
    )
    nurse_name: str = Field(..., max_length=200, description="The nurse who took part")
    witness: DiscrepancyWitnessIn | None = Field(
        None, description="Required for a controlled pocket: a second person re-authenticates"
    )


class DiscrepancyReviewIn(StrictIn):
    outcome: str = Field(..., max_length=20, description="appropriate or follow_up")
    note: str = Field("", max_length=2000, description="Required for follow_up (≤ 500)")


# --- Output -----------------------------------------------------------------------------------


class FollowUpOut(Schema):
    message: str
    url: str


class DiscrepancyOut(Schema):
    id: int
    cabinet_id: int
    cabinet: str
    pocket_id: int
    pocket: str
    ndc: str
    drug: str
    controlled: bool
    kind: str
    kind_label: str
    expected: Decimal
    found: Decimal
    difference: Decimal
    cabinet_user: str
    opened_at: dt.datetime
    due_at: dt.datetime
    age_hours: Decimal
    overdue: bool = Field(description="Open past its due time (the end of the shift)")
    late: bool = Field(description="Resolved after its due time")
    bucket: str = Field(description="Aging bucket of an open discrepancy")
    status: str
    cause: str
    cause_label: str
    explanation: str
    nurse_name: str
    resolved_by: str
    witness: str
    resolved_at: dt.datetime | None
    follow_up: FollowUpOut | None


class DiscrepancyMoveOut(Schema):
    id: int
    occurred_at: dt.datetime
    event: str
    event_label: str
    quantity: Decimal = Field(description="Signed: + into the pocket, − out")
    balance_after: Decimal
    lot: str
    cabinet_user: str
    witness_name: str
    patient: str = Field(description="Name and MRN, or the MRN masked for roles without it")
    override: bool
    opened_this: bool = Field(description="The move that opened the discrepancy")


class DiscrepancyDetailOut(DiscrepancyOut):
    moves: list[DiscrepancyMoveOut]


class BucketOut(Schema):
    key: str
    label: str


class AgingLineOut(Schema):
    cabinet_id: int
    cabinet: str
    controlled: bool
    counts: dict[str, int]
    total: int
    overdue: int


class AgingOut(Schema):
    now: dt.datetime
    buckets: list[BucketOut]
    lines: list[AgingLineOut]
    totals: dict[str, int]
    total: int


class ReviewOut(Schema):
    outcome: str
    outcome_label: str
    note: str
    reviewed_by: str
    reviewed_at: dt.datetime


class OverrideOut(Schema):
    move_id: int
    occurred_at: dt.datetime
    cabinet: str
    pocket: str
    ndc: str
    drug: str
    quantity: Decimal
    unit: str
    cabinet_user: str
    patient: str
    review: ReviewOut | None


class UsageRowOut(Schema):
    user: str
    ndc: str
    drug: str
    unit: str
    controlled: bool
    removed: Decimal
    returned: Decimal
    wasted: Decimal
    administered: Decimal
    unaccounted: Decimal
    flagged: bool


class UsageOut(Schema):
    start: dt.date
    end: dt.date
    controlled_only: bool
    has_data: bool
    message: str
    rows: list[UsageRowOut]
    totals: dict[str, Decimal]
    flagged: int


# --- Serializers ------------------------------------------------------------------------------


def _follow_up(d: CabinetDiscrepancy) -> dict[str, str] | None:
    step = services.follow_up(d)
    return None if step is None else {"message": step.message, "url": reverse(step.url_name)}


def _discrepancy(r: queries.DiscrepancyRow) -> dict[str, Any]:
    d = r.d
    return {
        "id": d.pk,
        "cabinet_id": d.cabinet_id,
        "cabinet": d.cabinet.code,
        "pocket_id": d.pocket_id,
        "pocket": d.pocket.place,
        "ndc": d.package.ndc10,
        "drug": queries.drug_words(d.package),
        "controlled": r.controlled,
        "kind": d.kind,
        "kind_label": d.get_kind_display(),
        "expected": d.expected,
        "found": d.found,
        "difference": d.difference,
        "cabinet_user": d.cabinet_user,
        "opened_at": d.opened_at,
        "due_at": d.due_at,
        "age_hours": r.age_hours,
        "overdue": r.overdue,
        "late": r.late,
        "bucket": r.bucket,
        "status": d.status,
        "cause": d.cause,
        "cause_label": d.get_cause_display() if d.cause else "",
        "explanation": d.explanation,
        "nurse_name": d.nurse_name,
        "resolved_by": d.resolved_by.display_name if d.resolved_by else "",
        "witness": d.witness.username if d.witness else "",
        "resolved_at": d.resolved_at,
        "follow_up": _follow_up(d),
    }


def _detail(actor: User, discrepancy_id: int) -> dict[str, Any]:
    row = queries.discrepancy_get(actor=actor, discrepancy_id=discrepancy_id)
    moves = queries.moves_around(actor=actor, discrepancy=row.d)
    return _discrepancy(row) | {
        "moves": [
            {
                "id": m.move.pk,
                "occurred_at": m.move.occurred_at,
                "event": m.move.event,
                "event_label": m.move.get_event_display(),
                "quantity": m.move.quantity,
                "balance_after": m.move.balance_after,
                "lot": m.move.lot.number,
                "cabinet_user": m.move.cabinet_user,
                "witness_name": m.move.witness_name,
                "patient": m.patient,
                "override": m.move.override,
                "opened_this": m.is_cause,
            }
            for m in moves
        ]
    }


def _override(r: queries.OverrideRow) -> dict[str, Any]:
    m = r.move
    review = r.review
    return {
        "move_id": m.pk,
        "occurred_at": m.occurred_at,
        "cabinet": m.cabinet.code,
        "pocket": m.pocket.place,
        "ndc": m.package.ndc10,
        "drug": queries.drug_words(m.package),
        "quantity": r.quantity,
        "unit": m.package.billing_unit,
        "cabinet_user": m.cabinet_user,
        "patient": r.patient,
        "review": None
        if review is None
        else {
            "outcome": review.outcome,
            "outcome_label": review.get_outcome_display(),
            "note": review.note,
            "reviewed_by": review.reviewed_by.display_name,
            "reviewed_at": review.reviewed_at,
        },
    }


def _cabinet(site: Site, pk: int | None) -> Cabinet | None:
    if pk is None:
        return None
    found = Cabinet.objects.filter(site=site, pk=pk).first()
    if found is None:
        raise Invalid("No such cabinet at this pharmacy.", field="cabinet_id")
    return found


# --- Operations -------------------------------------------------------------------------------


@router.get(
    "/cabinet-discrepancies",
    response=list[DiscrepancyOut],
    auth=gate(Cap.ADC_VIEW),
    summary="Cabinet discrepancies: open ones first (earliest due first), then resolved",
)
def discrepancy_list(request: HttpRequest, q: Query[DiscrepancyQuery]) -> Any:
    actor = user_of(request)
    rows = queries.discrepancies(
        actor=actor, site=actor.site, status=q.status, cabinet=_cabinet(actor.site, q.cabinet_id)
    )
    return [_discrepancy(r) for r in rows]


@router.get(
    "/cabinet-discrepancies/aging",
    response=AgingOut,
    auth=gate(Cap.ADC_VIEW),
    summary="Open discrepancies per cabinet in aging buckets, controlled pockets first",
    openapi_extra=CSV,
)
def discrepancy_aging(request: HttpRequest, q: Query[AgingQuery]) -> Any:
    actor = user_of(request)
    report = queries.aging(actor=actor, site=actor.site)
    if q.format == "csv":
        local = report.now.astimezone(actor.site.tz)
        return _csv(
            queries.aging_csv(actor.site, report), f"cabinet-discrepancies-{local:%Y%m%d}.csv"
        )
    return {
        "now": report.now,
        "buckets": [{"key": k, "label": label} for k, label in report.buckets],
        "lines": [
            {
                "cabinet_id": line.cabinet.pk,
                "cabinet": line.cabinet.code,
                "controlled": line.controlled,
                "counts": dict(line.counts),
                "total": line.total,
                "overdue": line.overdue,
            }
            for line in report.lines
        ],
        "totals": dict(report.totals),
        "total": report.total,
    }


@router.get(
    "/cabinet-discrepancies/{int:discrepancy_id}",
    response=DiscrepancyDetailOut,
    auth=gate(Cap.ADC_VIEW),
    summary="A discrepancy with the pocket's last moves up to it",
)
def discrepancy_read(request: HttpRequest, discrepancy_id: int) -> Any:
    return _detail(user_of(request), discrepancy_id)


@router.post(
    "/cabinet-discrepancies/{int:discrepancy_id}/resolve",
    response=DiscrepancyDetailOut,
    auth=gate(Cap.ADC_RESOLVE),
    summary="Resolve an open discrepancy (cause, explanation, nurse; a witness if controlled)",
    description="Moves no stock (the count already set the pocket). 409 when it is already "
    "resolved; 422 names cause, explanation, nurse_name or witness.username / .password / "
    ".otp. Suspected diversion of a controlled drug answers a follow_up: open a theft/loss "
    "report (DEA Form 106) at its url.",
)
def discrepancy_resolve(
    request: HttpRequest, discrepancy_id: int, payload: DiscrepancyResolveIn
) -> Any:
    actor = user_of(request)
    row = queries.discrepancy_get(actor=actor, discrepancy_id=discrepancy_id)
    services.discrepancy_resolve(
        actor=actor,
        discrepancy=row.d,
        cause=payload.cause,
        explanation=payload.explanation,
        nurse_name=payload.nurse_name,
        witness=payload.witness.model_dump() if payload.witness is not None else None,
    )
    return _detail(actor, discrepancy_id)


@router.get(
    "/cabinet-overrides",
    response=list[OverrideOut],
    auth=gate(Cap.ADC_RESOLVE),
    summary="Override removals (taken without a verified order) and their reviews",
)
def override_list(request: HttpRequest, q: Query[OverrideQuery]) -> Any:
    actor = user_of(request)
    end = q.end or actor.site.today()
    start = q.start or end - dt.timedelta(days=DEFAULT_OVERRIDE_DAYS)
    reviewed = {"false": False, "true": True, "all": None}[q.reviewed]
    rows = queries.overrides(actor=actor, site=actor.site, start=start, end=end, reviewed=reviewed)
    return [_override(r) for r in rows]


@router.post(
    "/cabinet-overrides/{int:move_id}/review",
    response={201: OverrideOut},
    auth=gate(Cap.ADC_RESOLVE),
    summary="Review an override removal: appropriate, or follow-up with nursing (with a note)",
    description="Once per removal (409 after). 422 when the move is not an override removal "
    "(move), the outcome is unknown (outcome) or a follow-up has no note (note).",
)
def override_review(request: HttpRequest, move_id: int, payload: DiscrepancyReviewIn) -> Any:
    actor = user_of(request)
    move: CabinetMove = queries.override_get(actor=actor, move_id=move_id)
    review = services.override_review(
        actor=actor, move=move, outcome=payload.outcome, note=payload.note
    )
    row = queries.OverrideRow(move=move, patient=queries.patient_words(actor, move), review=review)
    return Status(201, _override(row))


@router.get(
    "/cabinet-reports/dispensed-vs-administered",
    response=UsageOut,
    auth=gate(Cap.ADC_REPORT),
    summary="Per cabinet user and drug: removed, returned, wasted, administered, unaccounted",
    description="Only when administrations were imported for the dates: otherwise has_data "
    "is false and message says so. Rows with something unaccounted are flagged, the "
    "largest first.",
    openapi_extra=CSV,
)
def usage_report(request: HttpRequest, q: Query[UsageQuery]) -> Any:
    actor = user_of(request)
    end = q.end or actor.site.today()
    start = q.start or end - dt.timedelta(days=DEFAULT_USAGE_DAYS - 1)
    usage = queries.dispensed_vs_administered(
        actor=actor, site=actor.site, start=start, end=end, controlled_only=q.controlled_only
    )
    if q.format == "csv":
        return _csv(
            queries.usage_csv(actor.site, usage),
            f"dispensed-vs-administered-{start:%Y%m%d}-{end:%Y%m%d}.csv",
        )
    return {
        "start": usage.start,
        "end": usage.end,
        "controlled_only": usage.controlled_only,
        "has_data": usage.has_data,
        "message": usage.message,
        "rows": [
            {
                "user": r.user,
                "ndc": r.package.ndc10,
                "drug": queries.drug_words(r.package),
                "unit": r.package.billing_unit,
                "controlled": r.controlled,
                "removed": r.removed,
                "returned": r.returned,
                "wasted": r.wasted,
                "administered": r.administered,
                "unaccounted": r.unaccounted,
                "flagged": r.flagged,
            }
            for r in usage.rows
        ],
        "totals": usage.totals,
        "flagged": usage.flagged,
    }
