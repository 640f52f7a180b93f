"""API of the claims reports (``claims.report``, the caller's pharmacy): the summary by
status, plan and day with paid vs expected, the paid-under-expected list, outstanding
rejects and PAs, reversals and the outbox, fills due back to stock. ``?format=csv`` gives
text/csv (a header row, one row per item). Parse, call rxdesk.claims.queries_reports,
serialize."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, Literal

from django.http import HttpRequest, HttpResponse
from ninja import Field, Query, Router, Schema

from rxdesk.claims import queries_reports as reports
from rxdesk.core.capabilities import Cap
from rxdesk.rx.api_fills import BearerToken, BrowserSession

router = Router(tags=["claims"])

CSV = {
    "responses": {
        200: {
            "description": "JSON, or with format=csv a CSV file (a header row, one row per item)",
            "content": {"text/csv": {"schema": {"type": "string"}}},
        }
    }
}


def _gate(*caps: Cap) -> list[Any]:
    return [BearerToken(*caps), BrowserSession(*caps)]


def _user(request: HttpRequest) -> Any:
    return request.user


def _csv(text: str, name: str) -> HttpResponse:
    response = HttpResponse(text, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    response["Cache-Control"] = "private, no-store"
    return response


class ClaimReportRangeQuery(Schema):
    start: dt.date | None = Field(None, description="First day (default: today at the pharmacy)")
    end: dt.date | None = Field(None, description="Last day (default: today, or the start day)")
    format: Literal["json", "csv"] = "json"


class FormatQuery(Schema):
    format: Literal["json", "csv"] = "json"


def _days(start: dt.date, end: dt.date) -> str:
    return start.isoformat() if start == end else f"{start.isoformat()}_{end.isoformat()}"


# --- Summary and paid vs expected -------------------------------------------------------------


class SummaryLineOut(Schema):
    date_of_service: dt.date
    plan_id: int
    plan: str
    bin: str
    status: str
    claims: int
    patient_pay: Decimal
    plan_paid: Decimal


class StatusTotalOut(Schema):
    status: str
    label: str
    claims: int
    patient_pay: Decimal
    plan_paid: Decimal


class UnderpaidOut(Schema):
    claim_id: int
    date_of_service: dt.date
    rx_number: int
    fill_number: int
    plan: str
    bin: str
    gross_amount_due: Decimal
    other_payer_paid: Decimal
    expected: Decimal = Field(description="Gross amount due less other payers' payments")
    plan_paid: Decimal
    patient_pay: Decimal
    received: Decimal = Field(description="Plan paid plus patient pay")
    short: Decimal


class PaidVsExpectedOut(Schema):
    checked: int = Field(description="Paid claims compared")
    tolerance: Decimal
    underpaid: list[UnderpaidOut]
    expected: Decimal
    received: Decimal
    short: Decimal


class SummaryOut(Schema):
    start: dt.date
    end: dt.date
    claims: int
    lines: list[SummaryLineOut]
    by_status: list[StatusTotalOut]
    outbox: int = Field(description="Claims of the pharmacy waiting in the outbox now")
    paid_vs_expected: PaidVsExpectedOut
    text: str = Field(description="The summary in words")


def _paid_vs_expected(report: reports.PaidVsExpected) -> dict[str, Any]:
    return {
        "checked": report.checked,
        "tolerance": reports.UNDERPAID_TOLERANCE,
        "underpaid": [{**vars(r), "short": r.short} for r in report.rows],
        "expected": report.expected,
        "received": report.received,
        "short": report.short,
    }


@router.get(
    "/reports/summary",
    response=SummaryOut,
    auth=_gate(Cap.CLAIMS_REPORT),
    summary="Claims by status, plan and day, with paid vs expected (no patient names)",
    openapi_extra=CSV,
)
def report_summary(request: HttpRequest, q: Query[ClaimReportRangeQuery]) -> Any:
    actor = _user(request)
    summary = reports.claims_summary(actor=actor, start=q.start, end=q.end)
    if q.format == "csv":
        return _csv(reports.summary_csv(summary), f"claims-{_days(summary.start, summary.end)}.csv")
    underpaid = reports.paid_vs_expected(actor=actor, start=summary.start, end=summary.end)
    return {
        "start": summary.start,
        "end": summary.end,
        "claims": summary.claims,
        "lines": [{**vars(x), "date_of_service": x.day} for x in summary.lines],
        "by_status": [
            {**vars(t), "label": t.status_label} for _, t in sorted(summary.by_status.items())
        ],
        "outbox": summary.outbox,
        "paid_vs_expected": _paid_vs_expected(underpaid),
        "text": reports.summary_text(summary),
    }


@router.get(
    "/reports/underpaid",
    response=PaidVsExpectedOut,
    auth=_gate(Cap.CLAIMS_REPORT),
    summary="Paid claims short of what was expected by more than $0.50",
    openapi_extra=CSV,
)
def report_underpaid(request: HttpRequest, q: Query[ClaimReportRangeQuery]) -> Any:
    report = reports.paid_vs_expected(actor=_user(request), start=q.start, end=q.end)
    if q.format == "csv":
        return _csv(
            reports.underpaid_csv(report), f"underpaid-{_days(report.start, report.end)}.csv"
        )
    return _paid_vs_expected(report)


# --- Outstanding rejects and PAs --------------------------------------------------------------


class RejectReportOut(Schema):
    claim_id: int
    fill_id: int
    rx_number: int
    fill_number: int
    patient_id: int
    patient: str
    drug: str
    plan: str
    bin: str
    status: str
    codes: list[str]
    meaning: str
    message: str
    since: dt.date
    age_days: int


class PaOut(Schema):
    prior_auth_id: int
    rx_number: int
    patient_id: int
    patient: str
    drug: str
    plan: str
    bin: str
    status: str
    opened_on: dt.date
    follow_up_on: dt.date | None
    overdue: bool


class OutstandingOut(Schema):
    today: dt.date
    rejects: list[RejectReportOut]
    prior_auths: list[PaOut]
    overdue: int = Field(description="Open PA cases whose follow-up date has passed")


@router.get(
    "/reports/rejects",
    response=OutstandingOut,
    auth=_gate(Cap.CLAIMS_REPORT),
    summary="Outstanding rejected claims (age in days) and open prior authorizations",
    openapi_extra=CSV,
)
def report_rejects(request: HttpRequest, q: Query[FormatQuery]) -> Any:
    report = reports.outstanding(actor=_user(request))
    if q.format == "csv":
        return _csv(reports.outstanding_csv(report), f"rejects-{report.today.isoformat()}.csv")
    return {
        "today": report.today,
        "rejects": [vars(r) for r in report.rejects],
        "prior_auths": [vars(p) for p in report.prior_auths],
        "overdue": report.overdue,
    }


# --- Reversals and the outbox -----------------------------------------------------------------


class ReversalOut(Schema):
    claim_id: int
    rx_number: int
    fill_number: int
    plan: str
    bin: str
    reversed_at: dt.datetime
    who: str
    reason: str


class OutboxReportOut(Schema):
    claim_id: int
    rx_number: int
    fill_number: int
    plan: str
    bin: str
    status: str
    waiting_since: dt.datetime
    attempts: int


class ReversalsOut(Schema):
    start: dt.date
    end: dt.date
    reversed: list[ReversalOut]
    outbox: list[OutboxReportOut]


@router.get(
    "/reports/reversals",
    response=ReversalsOut,
    auth=_gate(Cap.CLAIMS_REPORT),
    summary="Claims reversed in the dates (who, why) and the claims in the outbox now",
    openapi_extra=CSV,
)
def report_reversals(request: HttpRequest, q: Query[ClaimReportRangeQuery]) -> Any:
    report = reports.reversals(actor=_user(request), start=q.start, end=q.end)
    if q.format == "csv":
        name = f"reversals-{_days(report.start, report.end)}.csv"
        return _csv(reports.reversals_csv(report), name)
    return {
        "start": report.start,
        "end": report.end,
        "reversed": [vars(r) for r in report.reversed],
        "outbox": [vars(o) for o in report.outbox],
    }


# --- Return to stock --------------------------------------------------------------------------


class RtsOut(Schema):
    fill_id: int
    rx_number: int
    fill_number: int
    patient_id: int
    patient: str
    drug: str
    will_call_bin: str
    plans: str
    window_days: int
    ready_on: dt.date
    due_on: dt.date
    days_waiting: int


@router.get(
    "/reports/rts-due",
    response=list[RtsOut],
    auth=_gate(Cap.CLAIMS_REPORT),
    summary="Paid fills still in will-call past their plan's return-to-stock window",
    openapi_extra=CSV,
)
def report_rts_due(request: HttpRequest, q: Query[FormatQuery]) -> Any:
    actor = _user(request)
    lines = reports.rts_due(actor=actor)
    if q.format == "csv":
        today = actor.site.today().isoformat()
        return _csv(reports.rts_csv(lines), f"rts-due-{today}.csv")
    return [vars(r) for r in lines]
