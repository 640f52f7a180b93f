"""Reads of counseling records and clinical interventions: the counseling log (a day, or a
patient), the interventions (open first), one intervention, and the report of
interventions by problem and outcome with the time spent.

All reads are of the actor's pharmacy. The log and the lists name patients: care.view and
patient.view. The report is aggregate (no patient), for pharmacists (care.intervene)."""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass

from django.db.models import Case, Count, IntegerField, QuerySet, Sum, Value, When

from rxdesk.care.choices import (
    CounselingOutcome,
    CounselingTopic,
    InterventionProblem,
    InterventionStatus,
)
from rxdesk.care.models import CounselingRecord, Intervention
from rxdesk.core.capabilities import Cap, require
from rxdesk.core.errors import Invalid, NotFound
from rxdesk.core.models import Site, User
from rxdesk.screening.services import PROFESSIONAL_SERVICE, RESULT_OF_SERVICE

LIST_LIMIT = 300
REPORT_DAYS_MAX = 366
TOPIC_LABELS = dict(CounselingTopic.choices)


def _reader(actor: User) -> Site:
    require(actor, Cap.CARE_VIEW)
    require(actor, Cap.PATIENT_VIEW)
    if actor.site is None:
        raise NotFound("Your account is not attached to a pharmacy.")
    return actor.site


def _day_bounds(site: Site, day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    start = dt.datetime.combine(day, dt.time.min, tzinfo=site.tz)
    return start, start + dt.timedelta(days=1)


def counseling_log(
    *,
    actor: User,
    day: dt.date | None = None,
    patient_id: int | None = None,
    limit: int = LIST_LIMIT,
) -> QuerySet[CounselingRecord]:
    """Counseling records, newest first: of a day (the pharmacy's date; default today) or of
    one patient (all days)."""
    site = _reader(actor)
    rows = CounselingRecord.objects.filter(site=site).select_related(
        "patient", "offered_by", "counseled_by", "prescription"
    )
    if patient_id is not None:
        rows = rows.filter(patient_id=patient_id)
    if day is not None or patient_id is None:
        start, end = _day_bounds(site, day or site.today())
        rows = rows.filter(offered_at__gte=start, offered_at__lt=end)
    return rows.order_by("-offered_at", "-pk")[:limit]


def counseling_counts(rows: list[CounselingRecord]) -> dict[str, int]:
    accepted = sum(1 for r in rows if r.outcome == CounselingOutcome.ACCEPTED)
    return {"offered": len(rows), "accepted": accepted, "declined": len(rows) - accepted}


def topic_labels(codes: list[str]) -> list[str]:
    return [TOPIC_LABELS.get(c, c) for c in codes]


_OPEN_FIRST = Case(
    When(status=InterventionStatus.OPEN, then=Value(0)),
    default=Value(1),
    output_field=IntegerField(),
)


def interventions(
    *,
    actor: User,
    status: str | None = None,
    patient_id: int | None = None,
    limit: int = LIST_LIMIT,
) -> QuerySet[Intervention]:
    """Interventions, the open ones first (oldest first: they have waited longest), then
    the closed ones newest first."""
    site = _reader(actor)
    rows = Intervention.objects.filter(site=site).select_related(
        "patient", "recorded_by", "closed_by", "prescriber", "prescription"
    )
    if status:
        rows = rows.filter(status=status)
    if patient_id is not None:
        rows = rows.filter(patient_id=patient_id)
    return rows.annotate(rank=_OPEN_FIRST).order_by("rank", "-recorded_at", "-pk")[:limit]


def intervention_get(*, actor: User, intervention_id: int) -> Intervention:
    site = _reader(actor)
    row = (
        Intervention.objects.select_related(
            "patient", "recorded_by", "closed_by", "prescriber", "prescription", "fill"
        )
        .filter(site=site, pk=intervention_id)
        .first()
    )
    if row is None:
        raise NotFound("No such intervention at this pharmacy.")
    return row


def action_label(code: str) -> str:
    return PROFESSIONAL_SERVICE.get(code, code)


def outcome_label(code: str) -> str:
    return RESULT_OF_SERVICE.get(code, code) if code else ""


# --- The report -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReportRow:
    problem: str
    problem_label: str
    outcome: str
    outcome_label: str
    count: int
    minutes: int


@dataclass(frozen=True)
class Report:
    start: dt.date
    end: dt.date
    rows: tuple[ReportRow, ...]
    total: int
    total_minutes: int
    open: int


def intervention_report(*, actor: User, start: dt.date, end: dt.date) -> Report:
    """Interventions recorded from ``start`` to ``end`` (the pharmacy's dates, both
    included), by problem and outcome ("" = still open), with the minutes spent."""
    require(actor, Cap.CARE_INTERVENE)
    site = actor.site
    if site is None:
        raise NotFound("Your account is not attached to a pharmacy.")
    if end < start:
        raise Invalid("The end is before the start.", field="end")
    if (end - start).days >= REPORT_DAYS_MAX:
        raise Invalid(f"A report covers at most {REPORT_DAYS_MAX} days.", field="end")
    lo, _ = _day_bounds(site, start)
    _, hi = _day_bounds(site, end)
    grouped = (
        Intervention.objects.filter(site=site, recorded_at__gte=lo, recorded_at__lt=hi)
        .values("problem", "outcome")
        .annotate(n=Count("pk"), mins=Sum("minutes"))
        .order_by("problem", "outcome")
    )
    problems = dict(InterventionProblem.choices)
    rows = tuple(
        ReportRow(
            problem=g["problem"],
            problem_label=problems.get(g["problem"], g["problem"]),
            outcome=g["outcome"],
            outcome_label=outcome_label(g["outcome"]) or "Still open",
            count=g["n"],
            minutes=g["mins"] or 0,
        )
        for g in grouped
    )
    return Report(
        start=start,
        end=end,
        rows=rows,
        total=sum(r.count for r in rows),
        total_minutes=sum(r.minutes for r in rows),
        open=sum(r.count for r in rows if not r.outcome),
    )


def report_csv(report: Report) -> str:
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\r\n")
    w.writerow(["problem", "problem_name", "outcome", "outcome_name", "interventions", "minutes"])
    for r in report.rows:
        w.writerow([r.problem, r.problem_label, r.outcome, r.outcome_label, r.count, r.minutes])
    w.writerow(["", "Total", "", "", report.total, report.total_minutes])
    return out.getvalue()


def counts(*, site: Site) -> dict[str, int]:
    """For the home page: open interventions and today's counseling offers."""
    start, end = _day_bounds(site, site.today())
    return {
        "interventions_open": Intervention.objects.filter(
            site=site, status=InterventionStatus.OPEN
        ).count(),
        "counseled_today": CounselingRecord.objects.filter(
            site=site, offered_at__gte=start, offered_at__lt=end
        ).count(),
    }


__all__ = [
    "Report",
    "ReportRow",
    "action_label",
    "counseling_counts",
    "counseling_log",
    "counts",
    "intervention_get",
    "intervention_report",
    "interventions",
    "outcome_label",
    "report_csv",
    "topic_labels",
]
