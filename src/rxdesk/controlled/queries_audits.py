"""Reads of the blind audits, their investigations and the theft and loss records, shared
by the API and the screens. Every read checks the capability first and sees only the
reader's pharmacy (another pharmacy's record is simply not found).

Blind counting: what a counter opens to enter a count (:func:`count_target`) names the
package and its lots, never a quantity."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Prefetch, QuerySet
from django.db.models.functions import Length

from rxdesk.catalog.models import Package
from rxdesk.controlled.choices import AuditStatus, InvestigationStatus, LossStatus
from rxdesk.controlled.models import (
    CsAudit,
    Investigation,
    InvestigationEvidence,
    InvestigationNote,
    TheftLoss,
    TheftLossLine,
)
from rxdesk.controlled.services_losses import (
    LOSS_OPEN,
    controlled_package,
    missing_for_submission,
    notice_late,
    police_answered,
    submitted_late,
)
from rxdesk.core.capabilities import Cap
from rxdesk.core.errors import NotFound
from rxdesk.core.models import User
from rxdesk.core.services import authorize
from rxdesk.inventory.models import StockBalance

MAX_ID = 2**63 - 1
LIST_LIMIT = 200


def _pk(value: Any) -> int:
    try:
        pk = int(str(value))
    except ValueError:
        return 0
    return pk if 0 < pk <= MAX_ID else 0


# --- Counting ------------------------------------------------------------------------------


@dataclass(frozen=True)
class CountTarget:
    """What the count screen shows once a package is scanned: the drug and the numbers of
    the lots this pharmacy holds — no quantity (the count is blind)."""

    package: Package
    schedule: str
    lots: list[str]


def count_target(*, actor: User, ndc: str) -> CountTarget:
    authorize(actor, Cap.CS_COUNT)
    package = controlled_package(ndc, field="ndc")
    lots = list(
        StockBalance.objects.filter(site_id=actor.site_id, package=package)
        .order_by("lot__number")
        .values_list("lot__number", flat=True)
    )
    return CountTarget(package=package, schedule=package.product.dea_schedule, lots=lots)


# --- Audits --------------------------------------------------------------------------------


def _audits(actor: User) -> QuerySet[CsAudit]:
    return (
        CsAudit.objects.filter(site_id=actor.site_id)
        .select_related("package__product", "lot", "investigation")
        .order_by("-counted_at", "-id")
    )


def audits(*, actor: User, status: str = "", limit: int = LIST_LIMIT) -> list[CsAudit]:
    """Recent blind counts with their results, newest first."""
    authorize(actor, Cap.CS_VIEW)
    found = _audits(actor)
    if status in AuditStatus.values:
        found = found.filter(status=status)
    return list(found[: max(1, min(limit, LIST_LIMIT))])


def audit_get(*, actor: User, audit_id: Any) -> CsAudit:
    authorize(actor, Cap.CS_VIEW)
    found = _audits(actor).filter(pk=_pk(audit_id)).first()
    if found is None:
        raise NotFound("No such count at this pharmacy.")
    return found


def investigation_of(audit: CsAudit) -> Investigation | None:
    try:
        return audit.investigation
    except Investigation.DoesNotExist:
        return None


# --- Investigations ------------------------------------------------------------------------


def _investigations(actor: User) -> QuerySet[Investigation]:
    return Investigation.objects.filter(site_id=actor.site_id).select_related(
        "package__product", "lot", "audit", "correction", "opened_by", "resolved_by", "witness"
    )


def investigations(
    *, actor: User, open_only: bool = False, limit: int = LIST_LIMIT
) -> list[Investigation]:
    """Investigations, the open ones first, newest first within each."""
    authorize(actor, Cap.CS_VIEW)
    found = _investigations(actor)
    if open_only:
        found = found.filter(status=InvestigationStatus.OPEN)
    found = found.order_by("status", "-opened_at", "-id")  # "open" sorts before "resolved"
    return list(found[: max(1, min(limit, LIST_LIMIT))])


def investigation_get(*, actor: User, investigation_id: Any) -> Investigation:
    authorize(actor, Cap.CS_VIEW)
    found = _investigations(actor).filter(pk=_pk(investigation_id)).first()
    if found is None:
        raise NotFound("No such investigation at this pharmacy.")
    return found


def investigation_notes(investigation: Investigation) -> list[InvestigationNote]:
    return list(investigation.notes.order_by("written_at", "id"))


def investigation_evidence(investigation: Investigation) -> list[InvestigationEvidence]:
    """The files kept with an investigation, without their bytes (``size`` annotated)."""
    return list(
        investigation.evidence.defer("content")
        .select_related("added_by")
        .annotate(size=Length("content"))
        .order_by("added_at", "id")
    )


def evidence_get(
    *, actor: User, investigation: Investigation, evidence_id: Any
) -> InvestigationEvidence:
    authorize(actor, Cap.CS_VIEW)
    if investigation.site_id != actor.site_id:
        raise NotFound("No such investigation at this pharmacy.")
    found = investigation.evidence.filter(pk=_pk(evidence_id)).first()
    if found is None:
        raise NotFound("No such evidence file in this investigation.")
    return found


def investigation_losses(investigation: Investigation) -> list[TheftLoss]:
    return list(investigation.losses.order_by("id"))


# --- Theft and loss (Form 106) -------------------------------------------------------------


@dataclass(frozen=True)
class Deadline:
    """Where a record stands against its clocks, in words, and how urgent it is:
    ``ok``, ``due`` (today or tomorrow), ``overdue`` or ``done``."""

    text: str
    level: str


def _in(day: dt.date, today: dt.date) -> str:
    days = (day - today).days
    if days == 0:
        return "today"
    if days == 1:
        return "tomorrow"
    return f"in {days} days"


def deadline_state(loss: TheftLoss, today: dt.date) -> Deadline:
    """The next step of a record and its deadline: "notify DEA by Mon 11/30 (tomorrow)",
    "OVERDUE: Form 106 was due 11/20", "Form 106 submitted 12/01"."""
    tz = loss.site.tz
    if loss.status == LossStatus.CANCELLED:
        return Deadline("cancelled", "done")
    if loss.status == LossStatus.SUBMITTED:
        assert loss.submitted_at is not None
        text = f"Form 106 submitted {loss.submitted_at.astimezone(tz):%m/%d/%Y}"
        if submitted_late(loss):
            text += f" (LATE: was due {loss.complete_by:%m/%d})"
        return Deadline(text, "done")
    if loss.dea_notified_at is None:
        if today > loss.notify_by:
            return Deadline(f"OVERDUE: DEA notice was due {loss.notify_by:%m/%d}", "overdue")
        level = "due" if (loss.notify_by - today).days <= 1 else "ok"
        return Deadline(
            f"notify DEA by {loss.notify_by:%a %m/%d} ({_in(loss.notify_by, today)})", level
        )
    if today > loss.complete_by:
        return Deadline(f"OVERDUE: Form 106 was due {loss.complete_by:%m/%d}", "overdue")
    level = "due" if (loss.complete_by - today).days <= 1 else "ok"
    return Deadline(
        f"submit Form 106 by {loss.complete_by:%a %m/%d} ({_in(loss.complete_by, today)})",
        level,
    )


@dataclass(frozen=True)
class LossRow:
    loss: TheftLoss
    deadline: Deadline
    police: bool | None
    notice_late: bool
    submitted_late: bool
    missing: list[dict[str, str]] = field(default_factory=list)


def loss_row(loss: TheftLoss, today: dt.date) -> LossRow:
    return LossRow(
        loss=loss,
        deadline=deadline_state(loss, today),
        police=police_answered(loss),
        notice_late=notice_late(loss),
        submitted_late=submitted_late(loss),
        missing=missing_for_submission(loss) if loss.status in LOSS_OPEN else [],
    )


def _losses(actor: User) -> QuerySet[TheftLoss]:
    lines = TheftLossLine.objects.select_related("package__product", "lot").order_by("id")
    return (
        TheftLoss.objects.filter(site_id=actor.site_id)
        .select_related("site", "opened_by", "investigation")
        .prefetch_related(Prefetch("lines", queryset=lines))
    )


def losses(*, actor: User, open_only: bool = False, limit: int = LIST_LIMIT) -> list[LossRow]:
    """Theft and loss records with where each stands against its deadlines; the open ones
    (notice or form outstanding) first, the earliest deadline first."""
    authorize(actor, Cap.CS_VIEW)
    found = _losses(actor)
    if open_only:
        found = found.filter(status__in=LOSS_OPEN)
    today = actor.site.today()
    rows = [loss_row(loss, today) for loss in found.order_by("-discovered_at", "-id")[:limit]]
    rank = {"overdue": 0, "due": 1, "ok": 2, "done": 3}
    return sorted(
        rows,
        key=lambda r: (
            rank[r.deadline.level],
            r.loss.notify_by if r.loss.dea_notified_at is None else r.loss.complete_by,
        ),
    )


def loss_get(*, actor: User, loss_id: Any) -> TheftLoss:
    authorize(actor, Cap.CS_VIEW)
    found = _losses(actor).filter(pk=_pk(loss_id)).first()
    if found is None:
        raise NotFound("No such theft or loss record at this pharmacy.")
    return found


def linkable_losses(*, actor: User) -> list[TheftLoss]:
    """Open records an investigation may link to instead of opening a second one."""
    authorize(actor, Cap.CS_VIEW)
    return list(
        TheftLoss.objects.filter(site_id=actor.site_id, status__in=LOSS_OPEN).order_by(
            "-discovered_at", "-id"
        )[:LIST_LIMIT]
    )
