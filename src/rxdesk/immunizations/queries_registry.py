"""Reads of reporting to the state registry (IIS): the message queue by status, one
message, the deadlines (overdue and due within a day), the home page's counts, batches.

Reading the queue is imm.registry (the staff who send) or imm.report (pharmacists, the
auditor: figures). Patients are named only for roles holding patient.view; the VXU and
ACK texts (they hold PHI) likewise."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import Q, QuerySet
from django.utils import timezone

from rxdesk.core.capabilities import Cap, has
from rxdesk.core.errors import Forbidden, Invalid, NotFound
from rxdesk.core.models import Site, User
from rxdesk.immunizations.ack import AckError
from rxdesk.immunizations.choices import REGISTRY_DONE, RegistryStatus
from rxdesk.immunizations.models import RegistryBatch, RegistryMessage

SOON = dt.timedelta(hours=24)
LIST_LIMIT = 500
# Not overdue: delivered (accepted), handed over in a batch file, or replaced.
SETTLED = frozenset({*REGISTRY_DONE, RegistryStatus.EXPORTED, RegistryStatus.CANCELLED})
TABS = (
    ("open", "Needs attention"),
    (RegistryStatus.QUEUED, "Waiting"),
    (RegistryStatus.REJECTED, "Rejected"),
    (RegistryStatus.FAILED, "Not delivered"),
    (RegistryStatus.GAVE_UP, "Retries used up"),
    (RegistryStatus.WARNING, "Accepted with warnings"),
    (RegistryStatus.ACCEPTED, "Accepted"),
    (RegistryStatus.EXPORTED, "Exported"),
    (RegistryStatus.CANCELLED, "Cancelled"),
    ("all", "All"),
)
OPEN = (
    RegistryStatus.QUEUED,
    RegistryStatus.FAILED,
    RegistryStatus.GAVE_UP,
    RegistryStatus.REJECTED,
)


def may_read(actor: User) -> bool:
    return has(actor, Cap.IMM_REGISTRY) or has(actor, Cap.IMM_REPORT)


def require_reader(actor: User) -> None:
    if not may_read(actor):
        raise Forbidden(
            "Your role may not see the registry queue (imm.registry or imm.report).",
            capability=str(Cap.IMM_REGISTRY),
        )


def shows_patients(actor: User) -> bool:
    return has(actor, Cap.PATIENT_VIEW)


def _unsettled(site: Site) -> QuerySet[RegistryMessage]:
    return RegistryMessage.objects.filter(site=site).exclude(status__in=SETTLED)


def overdue_q(now: dt.datetime) -> Q:
    return Q(due_at__lt=now)


def overdue(site: Site, now: dt.datetime | None = None) -> QuerySet[RegistryMessage]:
    """Messages not yet accepted (nor exported) whose reporting deadline has passed."""
    now = now or timezone.now()
    return _unsettled(site).filter(overdue_q(now)).order_by("due_at", "pk")


def due_soon(site: Site, now: dt.datetime | None = None) -> QuerySet[RegistryMessage]:
    """Messages not yet accepted whose deadline falls within the next 24 hours."""
    now = now or timezone.now()
    return _unsettled(site).filter(due_at__gte=now, due_at__lt=now + SOON).order_by("due_at")


@dataclass(frozen=True)
class Counts:
    rejected: int
    failed: int  # not delivered: failed or retries used up
    overdue: int
    waiting: int
    due_soon: int

    def headline(self) -> str:
        """The home page's line, e.g. ``2 rejected, 1 overdue``."""
        parts = [
            f"{self.rejected} rejected" if self.rejected else "",
            f"{self.failed} not delivered" if self.failed else "",
            f"{self.overdue} overdue" if self.overdue else "",
            f"{self.waiting} waiting" if self.waiting else "",
        ]
        return ", ".join(p for p in parts if p) or "All reported"


def counts(site: Site, now: dt.datetime | None = None) -> Counts:
    """Counts for the home page and the queue's tabs (one query)."""
    from django.db.models import Count

    now = now or timezone.now()
    row = RegistryMessage.objects.filter(site=site).aggregate(
        rejected=Count("pk", filter=Q(status=RegistryStatus.REJECTED)),
        failed=Count("pk", filter=Q(status__in=[RegistryStatus.FAILED, RegistryStatus.GAVE_UP])),
        waiting=Count("pk", filter=Q(status=RegistryStatus.QUEUED)),
        overdue=Count("pk", filter=~Q(status__in=SETTLED) & Q(due_at__lt=now)),
        due_soon=Count(
            "pk", filter=~Q(status__in=SETTLED) & Q(due_at__gte=now, due_at__lt=now + SOON)
        ),
    )
    return Counts(**{k: int(v or 0) for k, v in row.items()})


def messages_list(
    *,
    actor: User,
    status: str = "",
    only_overdue: bool = False,
    now: dt.datetime | None = None,
    limit: int = 200,
) -> list[RegistryMessage]:
    """The site's messages, overdue first (then the oldest deadline), filtered by status
    (a RegistryStatus, ``open`` for everything needing attention, ``all`` or empty)."""
    require_reader(actor)
    now = now or timezone.now()
    qs = RegistryMessage.objects.filter(site=actor.site).select_related(
        "immunization__vaccine", "immunization__patient", "batch"
    )
    if status in ("", "all"):
        pass
    elif status == "open":
        qs = qs.filter(status__in=OPEN)
    elif status in RegistryStatus.values:
        qs = qs.filter(status=status)
    else:
        raise Invalid(
            f"{status[:20]!r} is not a message status "
            f"({', '.join(['open', 'all', *RegistryStatus.values])}).",
            field="status",
        )
    if only_overdue:
        qs = qs.exclude(status__in=SETTLED).filter(overdue_q(now))
    rows = list(qs.order_by("-pk")[: max(1, min(limit, LIST_LIMIT))])
    rows.sort(key=lambda m: (not is_overdue(m, now), m.due_at or now, -m.pk))
    return rows


def is_overdue(message: RegistryMessage, now: dt.datetime) -> bool:
    return message.status not in SETTLED and message.due_at is not None and message.due_at < now


def message_get(*, actor: User, message_id: int) -> RegistryMessage:
    require_reader(actor)
    found = (
        RegistryMessage.objects.filter(site=actor.site, pk=message_id)
        .select_related("immunization__vaccine", "immunization__patient", "batch", "created_by")
        .first()
    )
    if found is None:
        raise NotFound("No such registry message at this pharmacy.")
    return found


def errors_of(message: RegistryMessage) -> list[AckError]:
    return [AckError.from_json(e) for e in (message.errors or []) if isinstance(e, dict)]


def errors_in_words(message: RegistryMessage) -> list[str]:
    return [e.in_words() for e in errors_of(message)]


def latest_message(site: Site, immunization_id: int) -> RegistryMessage | None:
    """The dose's latest message that is not a cancelled one (else the latest at all)."""
    qs = RegistryMessage.objects.filter(site=site, immunization_id=immunization_id)
    return (
        qs.exclude(status=RegistryStatus.CANCELLED).order_by("-pk").first()
        or qs.order_by("-pk").first()
    )


def batches(site: Site, limit: int = 20) -> list[RegistryBatch]:
    return list(RegistryBatch.objects.filter(site=site).select_related("created_by")[:limit])


def batch_get(*, actor: User, batch_id: int) -> RegistryBatch:
    if not has(actor, Cap.IMM_REGISTRY):
        raise Forbidden("Your role may not download registry files.", capability="imm.registry")
    found = RegistryBatch.objects.filter(site=actor.site, pk=batch_id).first()
    if found is None:
        raise NotFound("No such batch file at this pharmacy.")
    return found
