"""Reads of the daily reports: a day's set (each report's kept version and where its
review stands), one kept report, its versions. Reading rows that name patients is
recorded by rxdesk.reports.services_daily.daily_report_read (the callers do it)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from rxdesk.core.capabilities import Cap
from rxdesk.core.errors import NotFound
from rxdesk.core.models import Site, User
from rxdesk.core.services import authorize
from rxdesk.reports import daily_reports
from rxdesk.reports.daily_table import ReportTable
from rxdesk.reports.models import DailyReport, DailyReview
from rxdesk.reports.services_daily import latest_versions, site_for

NOT_GENERATED, GENERATED, REVIEWED = "not_generated", "generated", "reviewed"
STATUS_TEXT = {
    NOT_GENERATED: "Not generated",
    GENERATED: "Generated, not reviewed",
    REVIEWED: "Reviewed",
}


@dataclass(frozen=True)
class DayEntry:
    code: str
    title: str
    report: DailyReport | None

    @property
    def status(self) -> str:
        if self.report is None:
            return NOT_GENERATED
        return REVIEWED if self.report.reviewed else GENERATED

    @property
    def status_text(self) -> str:
        return STATUS_TEXT[self.status]


@dataclass(frozen=True)
class DaySet:
    site: Site
    day: dt.date
    entries: list[DayEntry]
    reviews: list[DailyReview]

    @property
    def state(self) -> str:
        """``not_generated`` (some report missing), ``reviewed`` (every kept version
        signed) or ``generated`` (something to sign)."""
        states = {e.status for e in self.entries}
        if NOT_GENERATED in states:
            return NOT_GENERATED
        return REVIEWED if states == {REVIEWED} else GENERATED

    @property
    def state_text(self) -> str:
        if self.state == NOT_GENERATED:
            missing = sum(1 for e in self.entries if e.report is None)
            return f"{missing} of {len(self.entries)} reports not generated yet."
        if self.state == REVIEWED:
            last = self.reviews[0]
            return f"Reviewed by {last.reviewed_by_name}."
        if self.reviews:
            return "Regenerated since the last review: sign the new versions."
        return "Generated, waiting for a pharmacist's review."


def day_set(*, actor: User | None, day: dt.date, site: Site | None = None) -> DaySet:
    """The seven reports of the local ``day``: each one's kept version (or none yet), and
    the day's reviews, newest first."""
    authorize(actor, Cap.REPORTS_DAILY)
    where = site_for(actor, site)
    kept = latest_versions(where, day)
    entries = [
        DayEntry(code=code, title=str(spec.code.label), report=kept.get(code))
        for code, spec in daily_reports.REGISTRY.items()
    ]
    reviews = list(
        DailyReview.objects.filter(site=where, business_date=day).order_by("-reviewed_at", "-pk")
    )
    return DaySet(site=where, day=day, entries=entries, reviews=reviews)


def report_get(*, actor: User | None, pk: int, site: Site | None = None) -> DailyReport:
    """One kept report of the actor's pharmacy (another pharmacy's is :class:`NotFound`)."""
    authorize(actor, Cap.REPORTS_DAILY)
    where = site_for(actor, site)
    found = (
        DailyReport.objects.select_related("review", "site").filter(pk=pk, site=where).first()
        if 0 < pk < 2**63
        else None
    )
    if found is None:
        raise NotFound("No such report at this pharmacy.")
    return found


def report_table(report: DailyReport) -> ReportTable:
    return ReportTable.from_data(report.code, report.title, report.data, has_phi=report.has_phi)


def report_versions(report: DailyReport) -> list[DailyReport]:
    """Every version of the same report of the same day, newest first."""
    return list(
        DailyReport.objects.filter(
            site_id=report.site_id, code=report.code, business_date=report.business_date
        )
        .select_related("review")
        .defer("pdf", "csv_text", "data")
        .order_by("-version")
    )


def file_name(report: DailyReport, ext: str) -> str:
    suffix = f"-v{report.version}" if report.version > 1 else ""
    return f"{report.code}-{report.business_date.isoformat()}{suffix}.{ext}"
