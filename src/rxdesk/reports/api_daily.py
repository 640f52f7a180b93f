"""Daily reports: the API (mounted at ``/api/v1/reports``). Parse, call
rxdesk.reports services_daily / queries_daily, serialize.

Reading and generating need ``reports.daily`` (pharmacist, PIC, auditor); signing a day's
set as reviewed ``reports.review`` (pharmacist, PIC). Opening a report that names
patients — its rows, CSV or PDF — is a PHI access, recorded."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.http import HttpRequest, HttpResponse
from ninja import Field, Query, Router, Schema, Status

from rxdesk.core.capabilities import Cap
from rxdesk.core.models import User
from rxdesk.reports import queries_daily as queries
from rxdesk.reports import services_daily as services
from rxdesk.reports.models import DailyReport, DailyReview
from rxdesk.rx.api_fills import BearerToken, BrowserSession

router = Router(tags=["Daily reports"])


def _gate(*caps: Cap) -> list[Any]:
    return [BearerToken(*caps), BrowserSession(*caps)]


def _user(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]


# --- Schemas ----------------------------------------------------------------------------------


class DailyStrictIn(Schema):
    model_config = {"extra": "forbid"}


class DailyDayQuery(Schema):
    date: dt.date | None = Field(None, description="The business day (default: yesterday)")


class DailyGenerateIn(DailyStrictIn):
    date: dt.date | None = Field(None, description="The business day (default: yesterday)")
    codes: list[str] | None = Field(
        None, description="Which reports (default: all seven)", max_length=7
    )


class DailyReviewIn(DailyStrictIn):
    date: dt.date
    note: str = Field("", max_length=services.NOTE_MAX)


class DailyReportSummaryOut(Schema):
    id: int
    code: str
    title: str
    business_date: dt.date
    version: int
    generated_at: dt.datetime
    generated_by: str
    row_count: int
    names_patients: bool
    csv_sha256: str
    pdf_sha256: str
    reviewed: bool
    review_id: int | None


class DailyReviewOut(Schema):
    id: int
    business_date: dt.date
    reviewed_by: str
    reviewed_at: dt.datetime
    note: str
    reports: dict[str, int]


class DailyEntryOut(Schema):
    code: str
    title: str
    status: str
    report: DailyReportSummaryOut | None


class DailyDayOut(Schema):
    business_date: dt.date
    state: str
    state_text: str
    reports: list[DailyEntryOut]
    reviews: list[DailyReviewOut]


class DailyReportOut(DailyReportSummaryOut):
    columns: list[str]
    rows: list[list[str]]
    totals: list[list[str]]
    notes: list[str]
    versions: list[DailyReportSummaryOut]


class DailyGeneratedOut(Schema):
    code: str
    outcome: str
    text: str
    report: DailyReportSummaryOut


class DailyGenerateOut(Schema):
    business_date: dt.date
    results: list[DailyGeneratedOut]


def _summary(r: DailyReport) -> dict[str, Any]:
    return {
        "id": r.pk,
        "code": r.code,
        "title": r.title,
        "business_date": r.business_date,
        "version": r.version,
        "generated_at": r.generated_at,
        "generated_by": r.generated_by_name,
        "row_count": r.row_count,
        "names_patients": r.has_phi,
        "csv_sha256": r.csv_sha256,
        "pdf_sha256": r.pdf_sha256,
        "reviewed": r.reviewed,
        "review_id": r.review_id,
    }


def _review(review: DailyReview) -> dict[str, Any]:
    return {
        "id": review.pk,
        "business_date": review.business_date,
        "reviewed_by": review.reviewed_by_name,
        "reviewed_at": review.reviewed_at,
        "note": review.note,
        "reports": {
            r.code: r.version for r in review.reports.only("code", "version").order_by("code")
        },
    }


def _yesterday(actor: User) -> dt.date:
    site = services.site_for(actor, None)
    return site.today() - dt.timedelta(days=1)


FILES = {
    "responses": {
        200: {
            "description": "The kept file",
            "content": {
                kind: {"schema": {"type": "string", "format": "binary"}}
                for kind in ("text/csv", "application/pdf")
            },
        }
    }
}


# --- Operations -------------------------------------------------------------------------------


@router.get(
    "/daily",
    response=DailyDayOut,
    auth=_gate(Cap.REPORTS_DAILY),
    summary="A day's reports: each one's kept version and where the review stands",
)
def daily_day(request: HttpRequest, q: Query[DailyDayQuery]) -> Any:
    actor = _user(request)
    day = q.date or _yesterday(actor)
    found = queries.day_set(actor=actor, day=day)
    return {
        "business_date": found.day,
        "state": found.state,
        "state_text": found.state_text,
        "reports": [
            {
                "code": e.code,
                "title": e.title,
                "status": e.status,
                "report": _summary(e.report) if e.report else None,
            }
            for e in found.entries
        ],
        "reviews": [_review(r) for r in found.reviews],
    }


@router.post(
    "/daily/generate",
    response={201: DailyGenerateOut},
    auth=_gate(Cap.REPORTS_DAILY),
    summary="Generate the day's reports now (kept; a reviewed one gets a new version)",
)
def daily_generate(request: HttpRequest, payload: DailyGenerateIn) -> Any:
    actor = _user(request)
    day = payload.date or _yesterday(actor)
    done = services.daily_reports_generate(actor=actor, day=day, codes=payload.codes)
    return Status(
        201,
        {
            "business_date": day,
            "results": [
                {
                    "code": g.report.code,
                    "outcome": g.outcome,
                    "text": g.text,
                    "report": _summary(g.report),
                }
                for g in done
            ],
        },
    )


@router.post(
    "/daily/review",
    response={201: DailyReviewOut},
    auth=_gate(Cap.REPORTS_REVIEW),
    summary="Sign the day's reports as reviewed (a pharmacist)",
)
def daily_review(request: HttpRequest, payload: DailyReviewIn) -> Any:
    review = services.daily_review_sign(actor=_user(request), day=payload.date, note=payload.note)
    return Status(201, _review(review))


@router.get(
    "/daily/{int:report_id}",
    response=DailyReportOut,
    auth=_gate(Cap.REPORTS_DAILY),
    summary="One kept report: its rows, totals and notes (a PHI access when it names patients)",
)
def daily_report(request: HttpRequest, report_id: int) -> Any:
    actor = _user(request)
    report = queries.report_get(actor=actor, pk=report_id)
    services.daily_report_read(actor=actor, report=report, form="rows")
    table = queries.report_table(report)
    return {
        **_summary(report),
        "columns": table.columns,
        "rows": table.rows,
        "totals": [list(t) for t in table.totals],
        "notes": table.notes,
        "versions": [_summary(v) for v in queries.report_versions(report)],
    }


def _download(report: DailyReport, body: bytes, content_type: str, ext: str) -> HttpResponse:
    response = HttpResponse(body, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{queries.file_name(report, ext)}"'
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response


@router.get(
    "/daily/{int:report_id}/csv",
    auth=_gate(Cap.REPORTS_DAILY),
    summary="The kept report as CSV",
    openapi_extra=FILES,
)
def daily_report_csv(request: HttpRequest, report_id: int) -> HttpResponse:
    actor = _user(request)
    report = queries.report_get(actor=actor, pk=report_id)
    services.daily_report_read(actor=actor, report=report, form="csv")
    return _download(report, report.csv_text.encode("utf-8"), "text/csv; charset=utf-8", "csv")


@router.get(
    "/daily/{int:report_id}/pdf",
    auth=_gate(Cap.REPORTS_DAILY),
    summary="The kept report as PDF",
    openapi_extra=FILES,
)
def daily_report_pdf(request: HttpRequest, report_id: int) -> HttpResponse:
    actor = _user(request)
    report = queries.report_get(actor=actor, pk=report_id)
    services.daily_report_read(actor=actor, report=report, form="pdf")
    return _download(report, bytes(report.pdf), "application/pdf", "pdf")
