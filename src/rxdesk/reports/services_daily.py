"""Writes of the daily reports: generate (and keep) a day's reports, read a kept report
that names patients (a PHI access), and sign the day's set as reviewed.

Regenerating (rxdesk reports daily run twice, or "Generate now" again) keeps one set:

* a report whose content (its CSV) has not changed is left as it is ("unchanged");
* a changed report that no pharmacist has reviewed is replaced in place ("replaced");
* a report already reviewed is never replaced: the new generation is kept as the next
  version and the reviewed one stays as it was signed ("new version").

``actor=None`` is the system (cron through the CLI); the audit events say so."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.utils import timezone

from rxdesk.core.audit import audit_record, register_actions
from rxdesk.core.capabilities import Cap
from rxdesk.core.errors import Conflict, Invalid, NotFound
from rxdesk.core.models import Site, User
from rxdesk.core.services import authorize
from rxdesk.reports import daily_reports
from rxdesk.reports.daily_pdf import render_pdf
from rxdesk.reports.daily_table import ReportTable, sha256_of, table_csv
from rxdesk.reports.models import DailyReport, DailyReview

register_actions(
    {
        "reports.daily.generated": "Daily reports generated",
        "reports.daily.read": "Daily report read (PHI access)",
        "reports.daily.reviewed": "Daily reports signed as reviewed",
    }
)

NOTE_MAX = 500
CREATED, REPLACED, NEW_VERSION, UNCHANGED = "created", "replaced", "new version", "unchanged"


def site_for(actor: User | None, site: Site | None) -> Site:
    """The pharmacy a call is about: the actor's own; the operator at the shell names one."""
    if actor is not None:
        if actor.site is None:
            raise NotFound("Your account is not attached to a pharmacy.")
        return actor.site
    if site is None:
        raise Invalid("Name the site.", field="site")
    return site


def date_of(value: dt.date | str | None, *, field: str = "date") -> dt.date:
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value or "").strip())
    except ValueError:
        raise Invalid("Enter the date as YYYY-MM-DD.", field=field) from None


def business_date_check(site: Site, day: dt.date) -> None:
    """A report is of a day that has begun at the pharmacy (today's is a report so far)."""
    if day > site.today():
        raise Invalid(
            f"{day:%m/%d/%Y} has not come yet at the pharmacy: choose today or an earlier day.",
            field="date",
        )


def codes_of(codes: Iterable[str] | None) -> list[str]:
    if codes is None:
        return list(daily_reports.CODES)
    chosen = [str(c).strip() for c in codes if str(c).strip()]
    unknown = [c for c in chosen if c not in daily_reports.REGISTRY]
    if unknown:
        raise Invalid(
            f"Unknown report {unknown[0]!r}: use one of {', '.join(daily_reports.CODES)}.",
            field="codes",
        )
    if not chosen:
        raise Invalid("Choose at least one report.", field="codes")
    return [c for c in daily_reports.CODES if c in chosen]


@dataclass(frozen=True)
class Generated:
    """One report of a generation run and what became of it."""

    report: DailyReport
    outcome: str  # created, replaced, new version, unchanged

    @property
    def text(self) -> str:
        r = self.report
        rows = f"{r.row_count} row{'' if r.row_count == 1 else 's'}"
        if self.outcome == NEW_VERSION:
            return (
                f"{r.title}: {rows} — kept as version {r.version} "
                f"(version {r.version - 1} was reviewed and stays as signed)"
            )
        return f"{r.title}: {rows} — {self.outcome} (version {r.version})"


def _contents(site: Site, day: dt.date, table: ReportTable, version: int) -> dict[str, object]:
    now = timezone.now()
    csv_text = table_csv(table)
    pdf = render_pdf(
        table,
        pharmacy=site.name,
        ncpdp_id=site.ncpdp_id,
        business_date=day,
        generated_at=now.astimezone(site.tz),
        version=version,
    )
    return {
        "title": table.title,
        "generated_at": now,
        "row_count": len(table.rows),
        "has_phi": table.has_phi,
        "data": table.as_data(),
        "csv_text": csv_text,
        "csv_sha256": sha256_of(csv_text),
        "pdf": pdf,
        "pdf_sha256": sha256_of(pdf),
    }


def daily_reports_generate(
    *,
    actor: User | None,
    day: dt.date | str | None = None,
    site: Site | None = None,
    codes: Sequence[str] | None = None,
) -> list[Generated]:
    """Generate the day's reports (all seven unless ``codes``) of the actor's pharmacy (the
    system names ``site``) for the local ``day`` (default: yesterday) and keep them, one
    set per day (see the module's docstring). One audit event for the run."""
    authorize(actor, Cap.REPORTS_DAILY)
    where = site_for(actor, site)
    the_day = date_of(day) if day is not None else where.today() - dt.timedelta(days=1)
    business_date_check(where, the_day)
    chosen = codes_of(codes)
    name = actor.username if actor is not None else "system"
    try:
        return _generate(actor, where, the_day, chosen, name)
    except IntegrityError:
        # Two runs for the same day at once (cron and "Generate now"): the unique
        # (site, code, date, version) lets one win; the other changes nothing.
        raise Conflict(
            f"The reports of {the_day:%m/%d/%Y} are being generated by another run: "
            "try again in a moment."
        ) from None


def _generate(
    actor: User | None, where: Site, the_day: dt.date, chosen: list[str], name: str
) -> list[Generated]:
    out: list[Generated] = []
    with transaction.atomic():
        for code in chosen:
            table = daily_reports.build(code, where, the_day)
            latest = (
                DailyReport.objects.select_for_update()
                .filter(site=where, code=code, business_date=the_day)
                .order_by("-version")
                .first()
            )
            csv_sha = sha256_of(table_csv(table))
            if latest is not None and latest.csv_sha256 == csv_sha:
                out.append(Generated(latest, UNCHANGED))
                continue
            if latest is not None and not latest.reviewed:
                for key, value in _contents(where, the_day, table, latest.version).items():
                    setattr(latest, key, value)
                latest.generated_by = actor
                latest.generated_by_name = name
                latest.save()
                out.append(Generated(latest, REPLACED))
                continue
            version = latest.version + 1 if latest is not None else 1
            report = DailyReport.objects.create(
                site=where,
                code=code,
                business_date=the_day,
                version=version,
                generated_by=actor,
                generated_by_name=name,
                **_contents(where, the_day, table, version),
            )
            out.append(Generated(report, NEW_VERSION if latest is not None else CREATED))
        audit_record(
            actor=actor,
            site=where,
            action="reports.daily.generated",
            object_type="reports.dailyreport",
            object_id=the_day.isoformat(),
            data={
                "business_date": the_day.isoformat(),
                "reports": {
                    g.report.code: {
                        "outcome": g.outcome,
                        "version": g.report.version,
                        "rows": g.report.row_count,
                        "csv_sha256": g.report.csv_sha256,
                    }
                    for g in out
                },
            },
        )
    return out


def daily_report_read(*, actor: User | None, report: DailyReport, form: str = "rows") -> None:
    """Record that ``actor`` opened a kept report that names patients (as ``form``: rows,
    csv or pdf). A report without patient names is read without an event."""
    authorize(actor, Cap.REPORTS_DAILY)
    where = site_for(actor, report.site if actor is None else None)
    if report.site_id != where.pk:
        raise NotFound("No such report at this pharmacy.")
    if not report.has_phi:
        return
    with transaction.atomic():
        audit_record(
            actor=actor,
            site=where,
            action="reports.daily.read",
            obj=report,
            data={
                "code": report.code,
                "business_date": report.business_date.isoformat(),
                "version": report.version,
                "form": form,
            },
        )


def daily_review_sign(
    *,
    actor: User | None,
    day: dt.date | str,
    note: str = "",
    site: Site | None = None,
) -> DailyReview:
    """The pharmacist signs the day's reports as reviewed: every kept report (the latest
    version of each) not yet reviewed is covered by this review. All seven must have been
    generated first; a day already signed as it stands is a :class:`Conflict`."""
    authorize(actor, Cap.REPORTS_REVIEW)
    if actor is None:
        raise Invalid("A pharmacist signs the review: sign in.", field="actor")
    where = site_for(actor, site)
    the_day = date_of(day)
    note = (note or "").strip()
    if len(note) > NOTE_MAX:
        raise Invalid(f"Keep the note to {NOTE_MAX} characters.", field="note")
    business_date_check(where, the_day)
    with transaction.atomic():
        kept = latest_versions(where, the_day, lock=True)
        missing = [c for c in daily_reports.CODES if c not in kept]
        if missing:
            titles = ", ".join(str(daily_reports.REGISTRY[c].code.label) for c in missing)
            raise Invalid(f"Generate the day's reports first (missing: {titles}).", field="date")
        unsigned = [r for r in kept.values() if not r.reviewed]
        if not unsigned:
            raise Conflict(f"The reports of {the_day:%m/%d/%Y} are already signed as reviewed.")
        review = DailyReview.objects.create(
            site=where,
            business_date=the_day,
            reviewed_by=actor,
            reviewed_by_name=actor.username,
            note=note,
        )
        DailyReport.objects.filter(pk__in=[r.pk for r in unsigned]).update(review=review)
        audit_record(
            actor=actor,
            site=where,
            action="reports.daily.reviewed",
            obj=review,
            data={
                "business_date": the_day.isoformat(),
                "reports": {r.code: r.version for r in sorted(unsigned, key=lambda r: r.code)},
            },
        )
    return review


def latest_versions(site: Site, day: dt.date, *, lock: bool = False) -> dict[str, DailyReport]:
    """The kept (latest) version of each report of the day, by code."""
    qs = DailyReport.objects.filter(site=site, business_date=day)
    qs = qs.select_for_update() if lock else qs.defer("pdf", "csv_text", "data")
    out: dict[str, DailyReport] = {}
    for r in qs.order_by("code", "version"):
        out[r.code] = r
    return out
