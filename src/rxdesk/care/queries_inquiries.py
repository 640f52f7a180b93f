"""Reads of inquiries: the queue (overdue callbacks first, then what is escalated to me,
open, waiting), one inquiry with its log, a patient's or prescriber's inquiries, and the
counts the home page shows. Every read is scoped to the actor's site."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.db.models import Q, QuerySet
from django.utils import timezone

from rxdesk.care.choices import InquiryStatus
from rxdesk.care.models import Inquiry, InquiryEntry
from rxdesk.core.capabilities import Cap, has
from rxdesk.core.errors import NotFound
from rxdesk.core.models import User
from rxdesk.core.services import authorize
from rxdesk.patients.models import Patient, Prescriber

LIST_LIMIT = 200
OWED = (InquiryStatus.AWAITING, InquiryStatus.ESCALATED)
NOT_CLOSED = (InquiryStatus.OPEN, InquiryStatus.AWAITING, InquiryStatus.ESCALATED)


def _reader(actor: User) -> None:
    authorize(actor, Cap.CARE_VIEW)
    authorize(actor, Cap.PATIENT_VIEW)


def _base(actor: User) -> QuerySet[Inquiry]:
    return Inquiry.objects.select_related(
        "patient", "prescriber", "prescription", "escalated_to", "opened_by"
    ).filter(site_id=actor.site_id)


def duration_words(delta: dt.timedelta) -> str:
    """'1 h 20 min', '3 d 2 h', '45 min', 'under a minute'."""
    minutes = int(delta.total_seconds() // 60)
    if minutes < 1:
        return "under a minute"
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h" if hours else f"{days} d"
    if hours:
        return f"{hours} h {mins} min" if mins else f"{hours} h"
    return f"{mins} min"


def due_words(due: dt.datetime | None, now: dt.datetime) -> str:
    """'overdue by 1 h 20 min' or 'due in 45 min' ('' without a due time)."""
    if due is None:
        return ""
    if due <= now:
        return f"overdue by {duration_words(now - due)}"
    return f"due in {duration_words(due - now)}"


def is_overdue(inquiry: Inquiry, now: dt.datetime) -> bool:
    return (
        inquiry.status in OWED and inquiry.callback_due is not None and inquiry.callback_due <= now
    )


@dataclass
class Queue:
    overdue: list[Inquiry] = field(default_factory=list)
    escalated: list[Inquiry] = field(default_factory=list)
    open: list[Inquiry] = field(default_factory=list)
    waiting: list[Inquiry] = field(default_factory=list)
    escalated_to_me: int = 0
    now: dt.datetime = field(default_factory=timezone.now)

    @property
    def total(self) -> int:
        return len(self.overdue) + len(self.escalated) + len(self.open) + len(self.waiting)


def queue(*, actor: User, now: dt.datetime | None = None) -> Queue:
    """The inquiries not closed, in the order they are worked: overdue callbacks first
    (longest overdue first), then escalated (a pharmacist sees those escalated to them
    first, then those to any pharmacist), then open, then waiting (soonest due first)."""
    _reader(actor)
    now = now or timezone.now()
    out = Queue(now=now)
    rows = list(_base(actor).filter(status__in=NOT_CLOSED).order_by("opened_at", "pk")[:1000])
    me = actor.pk if has(actor, Cap.CARE_INTERVENE) else None
    for row in rows:
        if is_overdue(row, now):
            out.overdue.append(row)
        elif row.status == InquiryStatus.ESCALATED:
            out.escalated.append(row)
        elif row.status == InquiryStatus.AWAITING:
            out.waiting.append(row)
        else:
            out.open.append(row)
        if row.status == InquiryStatus.ESCALATED and me is not None and row.escalated_to_id == me:
            out.escalated_to_me += 1
    far = dt.datetime.max.replace(tzinfo=dt.UTC)
    out.overdue.sort(key=lambda r: (r.callback_due or far, r.pk))
    out.escalated.sort(
        key=lambda r: (
            0
            if me is not None and r.escalated_to_id == me
            else 1
            if r.escalated_to_id is None
            else 2,
            r.escalated_at or r.opened_at,
            r.pk,
        )
    )
    out.waiting.sort(key=lambda r: (r.callback_due or far, r.pk))
    return out


def inquiry_get(*, actor: User, inquiry_id: int) -> Inquiry:
    """One inquiry of the actor's site, or NotFound (never another site's)."""
    _reader(actor)
    row = _base(actor).filter(pk=inquiry_id).first()
    if row is None:
        raise NotFound("No such inquiry at this pharmacy.")
    return row


def entries_of(inquiry: Inquiry) -> list[InquiryEntry]:
    return list(inquiry.entries.select_related("by").order_by("at", "pk"))


def inquiries_list(
    *,
    actor: User,
    status: str | None = None,
    overdue: bool | None = None,
    patient_id: int | None = None,
    now: dt.datetime | None = None,
    limit: int = LIST_LIMIT,
) -> QuerySet[Inquiry]:
    """Inquiries filtered by status ('open', 'awaiting', 'escalated', 'closed'; default:
    all not closed), overdue callbacks only, or one patient's; newest first."""
    _reader(actor)
    now = now or timezone.now()
    qs = _base(actor)
    if status:
        qs = qs.filter(status=status)
    elif patient_id is None:
        qs = qs.filter(status__in=NOT_CLOSED)
    if overdue is True:
        qs = qs.filter(status__in=OWED, callback_due__lte=now)
    elif overdue is False:
        qs = qs.exclude(Q(status__in=OWED) & Q(callback_due__lte=now))
    if patient_id is not None:
        qs = qs.filter(patient_id=patient_id)
    return qs.order_by("-opened_at", "-pk")[:limit]


def for_patient(patient: Patient) -> QuerySet[Inquiry]:
    """A patient's inquiries, newest first (for the patient's page; link each to
    ``care_inquiry``)."""
    return Inquiry.objects.filter(site_id=patient.site_id, patient=patient).order_by(
        "-opened_at", "-pk"
    )


def for_prescriber(prescriber: Prescriber) -> QuerySet[Inquiry]:
    """A prescriber's inquiries, newest first (for the prescriber's page)."""
    return Inquiry.objects.filter(site_id=prescriber.site_id, prescriber=prescriber).order_by(
        "-opened_at", "-pk"
    )


def overdue_count(*, actor: User, now: dt.datetime | None = None) -> int:
    """Callbacks overdue now (the care home page's count)."""
    authorize(actor, Cap.CARE_VIEW)
    now = now or timezone.now()
    return Inquiry.objects.filter(
        site_id=actor.site_id, status__in=OWED, callback_due__lte=now
    ).count()
