"""Reporting controlled-substance dispensings to the state prescription monitoring program
(PMP) as ASAP 4.2 files (reference ``controlled-substances.md`` §6, §8.2).

* :func:`pmp_daily` — the file of one day: a new record for each controlled fill counted out
  that day, a void (DSP01 = 02) for each fill reported earlier that has since gone back to
  stock, been sent back or cancelled; with neither, a zero report. A day has one file in
  force: a second is refused unless ``again`` (a corrected resend, which supersedes it).
* :func:`pmp_range` — catch-up: a daily file for each day of a period that has none (what
  ``rxdesk controlled pmp`` runs from cron); or, ``single_file``, one ad-hoc file covering
  the whole period for a state's request (it is not part of the daily stream).
* :func:`pmp_status_set` — the file was sent, accepted or rejected (with a note).
* :func:`pmp_file_read` — the file's exact text, for download (a PHI access, logged).

Every file is kept verbatim (``PmpSubmission.content``, its SHA-256, its counts and a control
number unique per site) with one :class:`PmpRecord` per fill and action. Missing data that a
PMP requires is one :class:`~rxdesk.core.errors.Invalid` naming each gap, and no file.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence
from typing import Any

from django.db import transaction
from django.utils import timezone

from rxdesk.controlled import asap, pmp
from rxdesk.controlled.choices import PmpAction, PmpKind, PmpStatus
from rxdesk.controlled.models import PmpRecord, PmpSubmission
from rxdesk.controlled.queries_pmp import daily_file, days_reported, voids_due
from rxdesk.core.audit import audit_record, register_actions
from rxdesk.core.capabilities import Cap
from rxdesk.core.errors import Conflict, Forbidden, Invalid, NotFound
from rxdesk.core.models import Site, User
from rxdesk.core.services import authorize
from rxdesk.core.validators import US_STATES
from rxdesk.rx.models import Fill

register_actions(
    {
        "cs.pmp.created": "PMP file made (daily report, zero report or date range)",
        "cs.pmp.status": "PMP file marked sent, accepted or rejected",
        "cs.pmp.file_read": "PMP file downloaded (PHI access)",
    }
)

# A catch-up or a state's request covers at most a year and a day.
MAX_RANGE_DAYS = 366
NOTE_MAX = 500
FILE_PREFIX = "RXD"

S = PmpStatus
NEXT: dict[str, frozenset[str]] = {
    S.CREATED: frozenset({S.SENT, S.ACCEPTED, S.REJECTED}),
    S.SENT: frozenset({S.ACCEPTED, S.REJECTED}),
    S.ACCEPTED: frozenset(),
    S.REJECTED: frozenset(),
}
"""The statuses a kept file may move to. A rejected file is corrected by a resend
(``pmp_daily(..., again=True)``), never by changing the file."""


# --- Helpers -----------------------------------------------------------------------------------


def _site(actor: User | None, site: Site | None) -> Site:
    """Staff report for their own pharmacy; the operator at the shell names one."""
    if actor is not None:
        if site is not None and site.pk != actor.site_id:
            raise Forbidden("You can only report your own pharmacy's dispensings.")
        return actor.site
    if site is None:
        raise Invalid("Name the pharmacy (site).", field="site")
    return site


def _state(site: Site, state: str | None) -> str:
    """The PMP's state: the pharmacy's own unless another is named (a non-resident
    pharmacy reports its dispensings to that state's residents there)."""
    if state is None or not str(state).strip():
        if not site.state:
            raise Invalid(
                "The pharmacy's state is not on file (Site settings); it says which PMP to "
                "report to.",
                field="site.state",
            )
        return site.state
    code = str(state).strip().upper()
    if code not in US_STATES:
        raise Invalid(f"{state!r} is not a two-letter US state code.", field="state")
    return code


def _day(value: Any, field: str) -> dt.date:
    if isinstance(value, dt.datetime) or not isinstance(value, dt.date):
        try:
            return dt.date.fromisoformat(str(value))
        except ValueError:
            raise Invalid("Give the date as YYYY-MM-DD.", field=field) from None
    return value


def _not_future(site: Site, day: dt.date, field: str) -> None:
    today = site.today()
    if day > today:
        raise Invalid(
            f"{day:%m/%d/%Y} is after today ({today:%m/%d/%Y}) at the pharmacy: a PMP file "
            "reports dispensings already made.",
            field=field,
        )


def _lock_site(site: Site) -> None:
    """Serialise the PMP files of one pharmacy: two clerks making the same day's file at
    once must not both find it missing (PostgreSQL; SQLite's IMMEDIATE transactions already
    run one writer at a time)."""
    Site.objects.select_for_update().filter(pk=site.pk).first()


def _control_number(site: Site) -> str:
    """The next control number of the site (TH02, unique per site): nine digits, counting."""
    last = (
        PmpSubmission.objects.filter(site=site, control_number__regex=r"^[0-9]{9}$")
        .order_by("-control_number")
        .values_list("control_number", flat=True)
        .first()
    )
    return f"{int(last) + 1 if last else 1:09d}"


def _file_name(site: Site, state: str, start: dt.date, end: dt.date, resend: int) -> str:
    where = "" if state == site.state else state
    days = f"{start:%Y%m%d}" if start == end else f"{start:%Y%m%d}-{end:%Y%m%d}"
    again = f"-{resend}" if resend > 1 else ""
    return f"{FILE_PREFIX}{where}{days}{again}.dat"


def _created(site: Site) -> dt.datetime:
    """TH05/TH06: the pharmacy's wall-clock time (the file carries no zone)."""
    return timezone.now().astimezone(site.tz).replace(tzinfo=None, microsecond=0)


def _keep(
    *,
    actor: User | None,
    site: Site,
    state: str,
    kind: str,
    start: dt.date,
    end: dt.date,
    new: Sequence[Fill],
    voids: Sequence[PmpRecord],
    again: bool = False,
    replaces: PmpSubmission | None = None,
) -> PmpSubmission:
    """Build, write and keep one file (inside the caller's transaction), its records and
    its audit event. Raises Invalid naming every gap before anything is written."""
    gaps = pmp.Gaps()
    extras = pmp.extras_for(new)
    items: list[tuple[Any, Any]] = []
    void_fills: list[Fill] = []
    for record in voids:
        fill = record.fill
        found = pmp.find_reported(record.submission.content, fill.prescription.number, fill.number)
        if found is None:  # a kept file always reads back; rebuild from the tables if not
            found = pmp.dispensing_of(
                fill, asap.ReportingStatus.NEW, pmp.extras_for([fill]), site, gaps
            )
        patient, original = found
        items.append((patient, pmp.voided(original)))
        void_fills.append(fill)
    for fill in new:
        items.append(pmp.dispensing_of(fill, asap.ReportingStatus.NEW, extras, site, gaps))
    control_number = _control_number(site)
    content = pmp.build(
        site=site,
        control_number=control_number,
        created=_created(site),
        items=items,
        start=start,
        end=end,
        gaps=gaps,
    )
    if kind == PmpKind.DAILY and not items:
        kind = PmpKind.ZERO
    resend = 1
    if kind in (PmpKind.DAILY, PmpKind.ZERO):
        resend = (
            PmpSubmission.objects.filter(
                site=site,
                state=state,
                kind__in=(PmpKind.DAILY, PmpKind.ZERO),
                period_start=start,
            ).count()
            + 1
        )
    submission = PmpSubmission.objects.create(
        site=site,
        kind=kind,
        state=state,
        period_start=start,
        period_end=end,
        control_number=control_number,
        version=pmp.VERSION.value,
        file_name=_file_name(site, state, start, end, resend),
        content=content,
        sha256=hashlib.sha256(content.encode("ascii")).hexdigest(),
        dispensings=len(new),
        voids=len(void_fills),
        created_by=actor,
    )
    PmpRecord.objects.bulk_create(
        [PmpRecord(submission=submission, fill=f, action=PmpAction.VOID) for f in void_fills]
        + [PmpRecord(submission=submission, fill=f, action=PmpAction.NEW) for f in new]
    )
    audit_record(
        actor=actor,
        site=site,
        action="cs.pmp.created",
        obj=submission,
        data={
            "kind": submission.kind,
            "state": state,
            "period_start": start,
            "period_end": end,
            "control_number": control_number,
            "file_name": submission.file_name,
            "dispensings": submission.dispensings,
            "voids": submission.voids,
            "sha256": submission.sha256,
            "again": again,
            "replaces": replaces.pk if replaces is not None else None,
        },
    )
    return submission


def _daily(
    actor: User | None, site: Site, state: str, day: dt.date, *, again: bool
) -> PmpSubmission:
    earlier = daily_file(site, state, day)
    if earlier is not None and not again:
        raise Conflict(
            f"{day:%m/%d/%Y} is already reported to the {state} PMP ({earlier.file_name}); "
            "to send a corrected file, make it again.",
            field="day",
            submission_id=earlier.pk,
        )
    return _keep(
        actor=actor,
        site=site,
        state=state,
        kind=PmpKind.DAILY,
        start=day,
        end=day,
        new=list(pmp.reportable_fills(site, state, day, day)),
        voids=voids_due(site, state, day),
        again=again,
        replaces=earlier,
    )


# --- Services ----------------------------------------------------------------------------------


def pmp_daily(
    *,
    actor: User | None,
    day: dt.date,
    state: str | None = None,
    again: bool = False,
    site: Site | None = None,
) -> PmpSubmission:
    """Make and keep the PMP file of ``day``: the day's controlled dispensings as new
    records, voids for fills reported earlier that went back, or a zero report.

    Conflict when the day already has a file, unless ``again`` (a corrected resend that
    supersedes it: the day's fills are reported again as they now stand). Invalid for a day
    after today or for data a PMP requires that is missing (each gap named)."""
    authorize(actor, Cap.CS_PMP)
    where = _site(actor, site)
    day = _day(day, "day")
    code = _state(where, state)
    _not_future(where, day, "day")
    with transaction.atomic():
        _lock_site(where)
        return _daily(actor, where, code, day, again=bool(again))


def pmp_range(
    *,
    actor: User | None,
    start: dt.date,
    end: dt.date,
    state: str | None = None,
    single_file: bool = False,
    site: Site | None = None,
) -> list[PmpSubmission]:
    """Catch up: a daily file (or zero report) for each day from ``start`` through ``end``
    that has none yet, oldest first — nothing when every day has one. ``single_file``: one
    ad-hoc file of every controlled dispensing of the period as it now stands (a zero
    report when there is none), for a state's request; it is kept but is not part of the
    daily stream. All or nothing: a gap in the data makes no file at all."""
    authorize(actor, Cap.CS_PMP)
    where = _site(actor, site)
    start, end = _day(start, "start"), _day(end, "end")
    code = _state(where, state)
    _not_future(where, end, "end")
    if end < start:
        raise Invalid(
            f"The period ends ({end:%m/%d/%Y}) before it starts ({start:%m/%d/%Y}).", field="end"
        )
    if (end - start).days + 1 > MAX_RANGE_DAYS:
        raise Invalid(f"A period covers at most {MAX_RANGE_DAYS} days.", field="start")
    with transaction.atomic():
        _lock_site(where)
        if single_file:
            return [
                _keep(
                    actor=actor,
                    site=where,
                    state=code,
                    kind=PmpKind.RANGE,
                    start=start,
                    end=end,
                    new=list(pmp.reportable_fills(where, code, start, end)),
                    voids=[],
                )
            ]
        done = days_reported(where, code, start, end)
        made = []
        day = start
        while day <= end:
            if day not in done:
                try:
                    made.append(_daily(actor, where, code, day, again=False))
                except Invalid as exc:
                    raise Invalid(
                        f"{day:%m/%d/%Y}: {exc.message}", field=exc.field, errors=exc.errors
                    ) from None
            day += dt.timedelta(days=1)
        return made


def pmp_status_set(
    *, actor: User | None, submission: PmpSubmission, status: str, note: str = ""
) -> PmpSubmission:
    """Record what became of a kept file: sent to the PMP, accepted, or rejected (say why,
    then send a corrected file with ``pmp_daily(again=True)``)."""
    authorize(actor, Cap.CS_PMP)
    where = _site(actor, None) if actor is not None else submission.site
    if submission.site_id != where.pk:
        raise NotFound("No such PMP file at this pharmacy.")
    if status not in (S.SENT, S.ACCEPTED, S.REJECTED):
        raise Invalid("Choose sent, accepted or rejected.", field="status")
    text = " ".join((note or "").split())
    if len(text) > NOTE_MAX:
        raise Invalid(f"Keep the note to {NOTE_MAX} characters at most.", field="note")
    if status == S.REJECTED and not text:
        raise Invalid("Say why the PMP rejected the file (its error report).", field="note")
    with transaction.atomic():
        locked = PmpSubmission.objects.select_for_update().get(pk=submission.pk)
        before = locked.status
        if status not in NEXT[before]:
            raise Conflict(
                f"{locked.file_name} is {S(before).label.lower()}; it cannot be marked "
                f"{S(status).label.lower()}.",
                field="status",
            )
        locked.status = status
        locked.status_note = text
        fields = ["status", "status_note"]
        if locked.sent_at is None:
            locked.sent_at = timezone.now()
            fields.append("sent_at")
        locked.save(update_fields=fields)
        audit_record(
            actor=actor,
            site=where,
            action="cs.pmp.status",
            obj=locked,
            data={"status": [before, status], "file_name": locked.file_name},
        )
    return locked


def pmp_file_read(*, actor: User | None, submission: PmpSubmission) -> PmpSubmission:
    """The kept file for download: its text holds patients' names, so the access is
    logged (one audit event)."""
    authorize(actor, Cap.CS_PMP)
    where = _site(actor, None) if actor is not None else submission.site
    if submission.site_id != where.pk:
        raise NotFound("No such PMP file at this pharmacy.")
    with transaction.atomic():
        audit_record(
            actor=actor,
            site=where,
            action="cs.pmp.file_read",
            obj=submission,
            data={"file_name": submission.file_name, "sha256": submission.sha256},
        )
    return submission


def describe(submission: PmpSubmission) -> str:
    """What a file holds, in words: "11/25/2026: 3 dispensings, 1 void — RXD20261125.dat"."""

    def n(count: int, word: str) -> str:
        return f"{count} {word}{'' if count == 1 else 's'}"

    s = submission
    days = (
        f"{s.period_start:%m/%d/%Y}"
        if s.period_start == s.period_end
        else f"{s.period_start:%m/%d/%Y}–{s.period_end:%m/%d/%Y}"
    )
    if s.state != s.site.state:
        days += f" ({s.state} PMP)"
    if not s.dispensings and not s.voids:
        what = "zero report (no controlled dispensing)"
    else:
        what = n(s.dispensings, "dispensing") + (f", {n(s.voids, 'void')}" if s.voids else "")
    return f"{days}: {what} — {s.file_name}"
