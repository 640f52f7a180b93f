"""API of the controlled-substance records: the perpetual inventory (Schedule II apart from
III–V), one package's running record, the daily log and its sign-off, the days waiting for
one, and the diversion signals. Parse, call a query or service, serialize.

The role is checked before ninja reads the body (``cs.view`` to read, ``cs.signoff`` to
sign, ``cs.signals`` for the signals), so a role without it gets 403 whatever it sends; the
queries and services check again. ``?format=csv`` gives text/csv (a header row, one row per
line). A bad NDC, group or date is a 422 problem naming the field."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, Literal

from django.http import HttpRequest, HttpResponse
from ninja import Field, Query, Router, Schema, Status

from rxdesk.controlled import queries, queries_diversion, services_log
from rxdesk.core.capabilities import Cap
from rxdesk.rx.api_fills import BearerToken, BrowserSession

router = Router(tags=["controlled substances"])

CSV = {
    "responses": {
        200: {
            "description": "JSON, or with format=csv a CSV file (a header row, one row per line)",
            "content": {"text/csv": {"schema": {"type": "string"}}},
        }
    }
}
GROUP = Field("II", max_length=10, description='"II" (Schedules I–II) or "III-V" (Schedules III–V)')


def _gate(*caps: Cap) -> list[Any]:
    return [BearerToken(*caps), BrowserSession(*caps)]


def _user(request: HttpRequest) -> Any:
    return request.user


def _csv(text: str, name: str) -> HttpResponse:
    response = HttpResponse(text, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    response["Cache-Control"] = "private, no-store"
    return response


# --- Schemas ----------------------------------------------------------------------------------


class PerpetualQuery(Schema):
    group: str = GROUP
    q: str = Field("", max_length=200, description="Drug name, NDC (any layout), lot, or a scan")
    format: Literal["json", "csv"] = "json"


class LedgerQuery(Schema):
    lot: str = Field("", max_length=40, description="Only this lot's moves")
    start: dt.date | None = Field(None, description="First day (the pharmacy's calendar)")
    end: dt.date | None = Field(None, description="Last day")
    format: Literal["json", "csv"] = "json"


class CsLedgerQuery(Schema):
    day: dt.date | None = Field(None, description="The day (default: today at the pharmacy)")
    group: str = GROUP
    format: Literal["json", "csv"] = "json"


class UnsignedQuery(Schema):
    days: int = Field(30, ge=1, le=queries.MAX_UNSIGNED_DAYS, description="How far back")


class SignalsQuery(Schema):
    days: int = Field(
        queries_diversion.LOOKBACK_DAYS,
        ge=queries_diversion.MIN_DAYS,
        le=queries_diversion.MAX_DAYS,
        description="How far back to look",
    )


class SignIn(Schema):
    model_config = {"extra": "forbid"}

    day: dt.date
    group: str = Field(..., max_length=10, description='"II" or "III-V"')
    note: str = Field("", max_length=services_log.NOTE_MAX)


class CsLedgerLotOut(Schema):
    balance_id: int
    lot: str
    expiry: dt.date | None
    on_hand: Decimal
    status: str
    status_label: str
    expired: bool


class PerpetualRowOut(Schema):
    ndc: str = Field(description="As printed (10 digits with hyphens)")
    ndc11: str
    drug: str
    schedule: str
    package_quantity: Decimal
    unit: str
    on_hand: Decimal = Field(description="The sum of its lots")
    lots: list[CsLedgerLotOut]
    last_move_id: int | None
    last_move_at: dt.datetime | None


class PerpetualOut(Schema):
    group: str
    group_label: str
    as_of: dt.datetime
    packages: list[PerpetualRowOut]


class CsLedgerMoveOut(Schema):
    id: int
    occurred_at: dt.datetime
    local_date: dt.date
    local_time: str
    ndc: str
    drug: str
    unit: str
    reason: str
    reason_label: str
    adjust_reason: str
    adjust_label: str
    quantity: Decimal = Field(description="Signed: + into stock, − out")
    lot: str
    lot_balance: Decimal = Field(description="The lot's balance right after the move")
    package_balance: Decimal | None = Field(
        description="The package's balance at the site right after the move (package record)"
    )
    by: str
    witness: str
    reference_type: str
    reference_id: str
    belongs_to: str = Field(description="What the move belongs to, in words")
    patient: str = Field(description="The patient's name, for readers who may see patients")
    note: str


class PackageLedgerOut(Schema):
    ndc: str
    ndc11: str
    drug: str
    schedule: str
    group: str
    unit: str
    lot: str
    start: dt.date | None
    end: dt.date | None
    opening: Decimal = Field(description="The package's balance before the start day")
    lot_opening: Decimal | None
    closing: Decimal
    on_hand: Decimal = Field(description="The package's balance now")
    moves: list[CsLedgerMoveOut]


class ReasonTotalOut(Schema):
    reason: str
    label: str
    moves: int
    quantities: dict[str, Decimal] = Field(description="Signed total per billing unit")


class SignoffOut(Schema):
    id: int
    day: dt.date
    group: str
    moves: int
    last_move_id: int
    signed_by: str
    signed_at: dt.datetime
    note: str


class DailyLogOut(Schema):
    day: dt.date
    group: str
    group_label: str
    moves: int
    last_move_id: int
    state: str = Field(description="not_signed, signed or changed (since signed)")
    state_text: str
    lines: list[CsLedgerMoveOut]
    totals: list[ReasonTotalOut]
    signoffs: list[SignoffOut]


class SignedOut(Schema):
    signoff: SignoffOut
    message: str
    log: DailyLogOut


class UnsignedOut(Schema):
    day: dt.date
    group: str
    group_label: str
    moves: int
    state: str
    text: str


class PackageSignalOut(Schema):
    ndc: str
    drug: str
    schedule: str
    score: Decimal = Field(description="1 or more: flagged")
    flagged: bool
    since: dt.date | None
    counts: int
    reasons: list[str]


class PersonSignalOut(Schema):
    user_id: int | None
    name: str
    score: Decimal
    flagged: bool
    since: dt.date | None
    reasons: list[str]


class SignalsOut(Schema):
    start: dt.date
    end: dt.date
    packages: list[PackageSignalOut]
    people: list[PersonSignalOut]


# --- Serializers ------------------------------------------------------------------------------


def _move(line: queries.MoveLine) -> dict[str, Any]:
    return {
        "id": line.id,
        "occurred_at": line.occurred_at,
        "local_date": line.local.date(),
        "local_time": line.local.strftime("%H:%M:%S"),
        "ndc": line.ndc,
        "drug": line.drug,
        "unit": line.unit,
        "reason": line.reason,
        "reason_label": line.reason_label,
        "adjust_reason": line.adjust_reason,
        "adjust_label": line.adjust_label,
        "quantity": line.quantity,
        "lot": line.lot_number,
        "lot_balance": line.lot_balance,
        "package_balance": line.package_balance,
        "by": line.actor_name,
        "witness": line.witness_name,
        "reference_type": line.reference_type,
        "reference_id": line.reference_id,
        "belongs_to": line.reference,
        "patient": line.patient,
        "note": line.note,
    }


def _signoff(s: Any) -> dict[str, Any]:
    return {
        "id": s.pk,
        "day": s.day,
        "group": s.group,
        "moves": s.moves,
        "last_move_id": s.last_move_id,
        "signed_by": s.signer_name,
        "signed_at": s.signed_at,
        "note": s.note,
    }


def _log(log: queries.DailyLog) -> dict[str, Any]:
    return {
        "day": log.day,
        "group": str(log.group),
        "group_label": log.group_label,
        "moves": log.moves,
        "last_move_id": log.last_move_id,
        "state": log.state.state,
        "state_text": log.state.text,
        "lines": [_move(line) for line in log.lines],
        "totals": [
            {
                "reason": t.reason,
                "label": t.label,
                "moves": t.moves,
                "quantities": dict(t.quantities),
            }
            for t in log.totals
        ],
        "signoffs": [_signoff(s) for s in log.signoffs],
    }


# --- Operations -------------------------------------------------------------------------------


@router.get(
    "/perpetual",
    response=PerpetualOut,
    auth=_gate(Cap.CS_VIEW),
    summary="The perpetual inventory of one schedule group (II, or III-V), per package and lot",
    openapi_extra=CSV,
)
def perpetual(request: HttpRequest, q: Query[PerpetualQuery]) -> Any:
    report = queries.perpetual(actor=_user(request), group=q.group, q=q.q)
    if q.format == "csv":
        name = f"perpetual-{'CII' if report.group == 'II' else 'CIII-CV'}-{report.as_of:%Y%m%d}.csv"
        return _csv(queries.perpetual_csv(report), name)
    return {
        "group": str(report.group),
        "group_label": report.group_label,
        "as_of": report.as_of,
        "packages": [
            {
                "ndc": row.package.ndc10,
                "ndc11": row.package.ndc11,
                "drug": row.drug,
                "schedule": row.schedule,
                "package_quantity": row.package.package_quantity,
                "unit": row.unit,
                "on_hand": row.on_hand,
                "lots": [
                    {
                        "balance_id": lot.balance_id,
                        "lot": lot.lot_number,
                        "expiry": lot.expiry,
                        "on_hand": lot.on_hand,
                        "status": lot.status,
                        "status_label": lot.status_label,
                        "expired": lot.expired,
                    }
                    for lot in row.lots
                ],
                "last_move_id": row.last_move_id,
                "last_move_at": row.last_move_at,
            }
            for row in report.rows
        ],
    }


@router.get(
    "/perpetual/{ndc}",
    response=PackageLedgerOut,
    auth=_gate(Cap.CS_VIEW),
    summary="One controlled package's record at the pharmacy: every move, oldest first",
    description="Each move with its local date and time, why, the lot and its balance after, "
    "the package's running balance after, who, the witness and what it belongs to. With "
    "start, the opening balance is the package's balance before that day.",
    openapi_extra=CSV,
)
def package_ledger(request: HttpRequest, ndc: str, q: Query[LedgerQuery]) -> Any:
    report = queries.package_ledger(
        actor=_user(request), package=ndc, lot=q.lot or None, start=q.start, end=q.end
    )
    if q.format == "csv":
        return _csv(queries.package_ledger_csv(report), f"cs-record-{report.package.ndc11}.csv")
    return {
        "ndc": report.package.ndc10,
        "ndc11": report.package.ndc11,
        "drug": report.drug,
        "schedule": report.schedule,
        "group": str(report.group),
        "unit": report.package.billing_unit,
        "lot": report.lot.number if report.lot else "",
        "start": report.start,
        "end": report.end,
        "opening": report.opening,
        "lot_opening": report.lot_opening,
        "closing": report.closing,
        "on_hand": report.on_hand,
        "moves": [_move(line) for line in report.lines],
    }


@router.get(
    "/log",
    response=DailyLogOut,
    auth=_gate(Cap.CS_VIEW),
    summary="One day's controlled-substance log of one schedule group, with its sign-off",
    openapi_extra=CSV,
)
def daily_log(request: HttpRequest, q: Query[CsLedgerQuery]) -> Any:
    log = queries.daily_log(actor=_user(request), day=q.day, group=q.group)
    if q.format == "csv":
        name = f"cs-log-{log.day.isoformat()}-{'CII' if log.group == 'II' else 'CIII-CV'}.csv"
        return _csv(queries.daily_log_csv(log), name)
    return _log(log)


@router.post(
    "/log/sign",
    response={201: SignedOut},
    auth=_gate(Cap.CS_SIGNOFF),
    summary="Sign a day's log as it stands (pharmacists)",
    description="A day with no activity may be signed; a day to come may not (422, day). "
    "Signing again after the log changed adds a new sign-off; signing the same unchanged "
    "log twice is 409.",
)
def log_sign(request: HttpRequest, payload: SignIn) -> Any:
    actor = _user(request)
    signoff = services_log.daily_log_sign(
        actor=actor, day=payload.day, group=payload.group, note=payload.note
    )
    log = queries.daily_log(actor=actor, day=signoff.day, group=signoff.group)
    return Status(
        201,
        {
            "signoff": _signoff(signoff),
            "message": services_log.signoff_words(signoff),
            "log": _log(log),
        },
    )


@router.get(
    "/log/unsigned",
    response=list[UnsignedOut],
    auth=_gate(Cap.CS_VIEW),
    summary="Past days with controlled-substance moves and no sign-off covering them",
)
def log_unsigned(request: HttpRequest, q: Query[UnsignedQuery]) -> Any:
    return [
        {
            "day": u.day,
            "group": str(u.group),
            "group_label": u.group_label,
            "moves": u.moves,
            "state": u.state,
            "text": u.text,
        }
        for u in queries.unsigned_days(actor=_user(request), days=q.days)
    ]


@router.get(
    "/signals",
    response=SignalsOut,
    auth=_gate(Cap.CS_SIGNALS),
    summary="Diversion signals per package and per person, flagged first",
)
def signals(request: HttpRequest, q: Query[SignalsQuery]) -> Any:
    found = queries_diversion.signals(actor=_user(request), days=q.days)
    return {
        "start": found.start,
        "end": found.end,
        "packages": [
            {
                "ndc": p.package.ndc10,
                "drug": p.drug,
                "schedule": p.schedule,
                "score": p.score,
                "flagged": p.flagged,
                "since": p.since,
                "counts": len(p.cusum.observations),
                "reasons": p.reasons,
            }
            for p in found.packages
        ],
        "people": [
            {
                "user_id": p.user_id,
                "name": p.name,
                "score": p.score,
                "flagged": p.flagged,
                "since": p.since,
                "reasons": p.reasons,
            }
            for p in found.people
        ],
    }
