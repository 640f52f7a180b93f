"""Permission-matrix rows for daily reports (API_ROWS in the shape of
tests/test_permission_matrix.py's API_MATRIX; UI_ROWS and WATCHED in the shape of
tests/test_permission_matrix_ui.py's UI_MATRIX). Written by hand from the specification:

* the day's reports are read and generated with reports.daily — pharmacist, PIC, auditor;
* the day's set is signed as reviewed with reports.review — pharmacist, PIC."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from rxdesk.core import context
from rxdesk.core.choices import Role
from rxdesk.core.models import Site, User
from rxdesk.reports.models import DailyReport, DailyReview

T, TT, RPH, PIC, INV, AUD = (
    Role.TECHNICIAN,
    Role.TECHNICIAN_IN_TRAINING,
    Role.PHARMACIST,
    Role.PHARMACIST_IN_CHARGE,
    Role.INVENTORY_SPECIALIST,
    Role.AUDITOR,
)
NOBODY: frozenset[Role] = frozenset()
VIEWERS = frozenset({RPH, PIC, AUD})
REVIEWERS = frozenset({RPH, PIC})

P = "/api/v1/reports"


def _none(site: Site) -> dict[str, Any]:
    return {}


def _kept(site: Site, codes: list[str] | None = None) -> DailyReport:
    """Yesterday's reports, generated as cron does (the dispensing report first)."""
    from rxdesk.reports.services_daily import daily_reports_generate

    day = site.today() - dt.timedelta(days=1)
    found = DailyReport.objects.filter(site=site, business_date=day, code="dispensing").first()
    if found is not None and codes is not None:
        return found
    with context.using(dataclasses.replace(context.current(), channel="cli")):
        daily_reports_generate(actor=None, site=site, day=day, codes=codes)
    return DailyReport.objects.get(site=site, business_date=day, code="dispensing", version=1)


def _r(site: Site) -> dict[str, Any]:
    return {"pk": _kept(site, ["dispensing"]).pk}


def _on(suffix: str) -> Any:
    def setup(site: Site, user: User | None) -> tuple[str, None]:
        return f"{P}/daily/{_kept(site, ['dispensing']).pk}{suffix}", None

    return setup


def _review(site: Site, user: User | None) -> tuple[str, dict[str, Any]]:
    day = _kept(site).business_date
    return f"{P}/daily/review", {"date": day.isoformat(), "note": "Reviewed."}


API_ROWS: dict[tuple[str, str], Any] = {
    ("GET", "/reports/daily"): (VIEWERS, 200, lambda s, u: (f"{P}/daily", None)),
    ("POST", "/reports/daily/generate"): (
        VIEWERS,
        201,
        lambda s, u: (f"{P}/daily/generate", {"codes": ["claims_summary"]}),
    ),
    ("POST", "/reports/daily/review"): (REVIEWERS, 201, _review),
    ("GET", "/reports/daily/{report_id}"): (VIEWERS, 200, _on("")),
    ("GET", "/reports/daily/{report_id}/csv"): (VIEWERS, 200, _on("/csv")),
    ("GET", "/reports/daily/{report_id}/pdf"): (VIEWERS, 200, _on("/pdf")),
}
UI_ROWS: dict[str, Any] = {
    "reports_daily": (_none, VIEWERS, NOBODY, None),
    "reports_daily_report": (_r, VIEWERS, NOBODY, None),
    "reports_daily_csv": (_r, VIEWERS, NOBODY, None),
    "reports_daily_pdf": (_r, VIEWERS, NOBODY, None),
    "reports_daily_generate": (_none, None, VIEWERS, 302),
    "reports_daily_review": (_none, None, REVIEWERS, 422),
}
WATCHED: list[Any] = [DailyReport, DailyReview]
