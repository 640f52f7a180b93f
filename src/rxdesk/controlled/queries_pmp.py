"""Reads of the PMP files kept (rxdesk.controlled.services_pmp writes them): the list, one
file with its records, and the daily files in force — for each day the latest file made for
it, a corrected resend superseding the one before. Only the daily stream counts as what the
state was told: an ad-hoc date-range file answers a state's request and changes nothing."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import F, OuterRef, Q, QuerySet, Subquery

from rxdesk.controlled.choices import PmpAction, PmpKind
from rxdesk.controlled.models import PmpRecord, PmpSubmission
from rxdesk.controlled.pmp import REPORTABLE
from rxdesk.core.capabilities import Cap
from rxdesk.core.errors import NotFound
from rxdesk.core.models import Site, User
from rxdesk.core.services import authorize

DAILY_KINDS = (PmpKind.DAILY, PmpKind.ZERO)
MAX_ID = 2**63 - 1


def daily_stream(site: Site, state: str) -> QuerySet[PmpSubmission]:
    """The daily files in force for ``state``: one per day, the latest made for it."""
    base = PmpSubmission.objects.filter(site=site, state=state, kind__in=DAILY_KINDS)
    latest = (
        PmpSubmission.objects.filter(
            site=site, state=state, kind__in=DAILY_KINDS, period_start=OuterRef("period_start")
        )
        .order_by("-pk")
        .values("pk")[:1]
    )
    return base.filter(pk=Subquery(latest))


def daily_file(site: Site, state: str, day: dt.date) -> PmpSubmission | None:
    """The daily file in force for ``day`` (None when the day has none)."""
    return (
        PmpSubmission.objects.filter(site=site, state=state, kind__in=DAILY_KINDS, period_start=day)
        .order_by("-pk")
        .first()
    )


def days_reported(site: Site, state: str, start: dt.date, end: dt.date) -> set[dt.date]:
    return set(
        PmpSubmission.objects.filter(
            site=site,
            state=state,
            kind__in=DAILY_KINDS,
            period_start__gte=start,
            period_start__lte=end,
        ).values_list("period_start", flat=True)
    )


def voids_due(site: Site, state: str, day: dt.date) -> list[PmpRecord]:
    """The voids the file of ``day`` carries: the new records, in the daily files in force
    of earlier days, of fills reported and not voided since whose fill no longer stands as
    reported — returned to stock, sent back, cancelled, or counted out again on another
    day. (A catch-up file of an earlier day never voids a later report.) Each record comes
    with its submission: the void repeats what that file said."""
    stream = daily_stream(site, state).filter(period_start__lt=day)
    stale = (
        ~Q(fill__status__in=REPORTABLE)
        | Q(fill__dispensed_on__isnull=True)
        | ~Q(fill__dispensed_on=F("submission__period_start"))
    )
    fill_ids = set(
        PmpRecord.objects.filter(submission__in=stream, action=PmpAction.NEW)
        .filter(stale)
        .values_list("fill_id", flat=True)
    )
    if not fill_ids:
        return []
    last: dict[int, PmpRecord] = {}
    for record in (
        PmpRecord.objects.filter(submission__in=stream, fill_id__in=fill_ids)
        .select_related("submission", "fill__prescription__patient", "fill__prescription")
        .order_by("submission_id", "pk")
    ):
        last[record.fill_id] = record
    due = []
    for record in last.values():
        fill = record.fill
        if record.action != PmpAction.NEW:
            continue
        if fill.status in REPORTABLE and fill.dispensed_on == record.submission.period_start:
            continue
        due.append(record)
    return sorted(due, key=lambda r: (r.submission_id, r.pk))


# --- What the screens and the API read ----------------------------------------------------------


@dataclass(frozen=True)
class SubmissionRow:
    """A kept file as listed: ``superseded`` when a later file was made for the same day."""

    submission: PmpSubmission
    superseded: bool


def _superseded_ids(site: Site, rows: list[PmpSubmission]) -> set[int]:
    days = {(s.state, s.period_start) for s in rows if s.kind in DAILY_KINDS}
    if not days:
        return set()
    latest: dict[tuple[str, dt.date], int] = {}
    for pk, state, day in PmpSubmission.objects.filter(
        site=site,
        kind__in=DAILY_KINDS,
        period_start__in={d for _, d in days},
    ).values_list("pk", "state", "period_start"):
        key = (state, day)
        latest[key] = max(latest.get(key, 0), pk)
    return {
        s.pk
        for s in rows
        if s.kind in DAILY_KINDS and latest.get((s.state, s.period_start), s.pk) != s.pk
    }


def pmp_submissions(
    *,
    actor: User,
    start: dt.date | None = None,
    end: dt.date | None = None,
    state: str | None = None,
    limit: int = 200,
) -> list[SubmissionRow]:
    """The site's kept files, newest period first (at most ``limit``), each marked when a
    later file for its day superseded it."""
    authorize(actor, Cap.CS_PMP)
    files = PmpSubmission.objects.filter(site_id=actor.site_id).select_related("created_by")
    if start is not None:
        files = files.filter(period_end__gte=start)
    if end is not None:
        files = files.filter(period_start__lte=end)
    if state:
        files = files.filter(state=state.upper())
    rows = list(files.order_by("-period_end", "-pk")[:limit])
    superseded = _superseded_ids(actor.site, rows)
    return [SubmissionRow(s, s.pk in superseded) for s in rows]


def pmp_get(*, actor: User, submission_id: int) -> PmpSubmission:
    """One kept file of the actor's pharmacy; another pharmacy's does not exist here."""
    authorize(actor, Cap.CS_PMP)
    found = (
        PmpSubmission.objects.select_related("created_by", "site")
        .filter(pk=submission_id, site_id=actor.site_id)
        .first()
        if 0 < submission_id <= MAX_ID
        else None
    )
    if found is None:
        raise NotFound("No such PMP file at this pharmacy.")
    return found


def pmp_records(submission: PmpSubmission) -> list[PmpRecord]:
    """The file's records with their fills, in the order they were written."""
    return list(
        PmpRecord.objects.filter(submission=submission)
        .select_related(
            "fill__prescription__patient", "fill__prescription__product", "fill__package"
        )
        .order_by("pk")
    )


def is_superseded(submission: PmpSubmission) -> bool:
    return bool(_superseded_ids(submission.site, [submission]))
