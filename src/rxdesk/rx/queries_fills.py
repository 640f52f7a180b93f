"""Reads of the fill workflow: the step queues (one per step, with their counts), one fill
with everything its step screens show, and a fill's history and stock moves.

Every queue sorts the same way: the priority's rank (STAT first, rxdesk.rx.choices.
PRIORITY_RANK), then the time promised to the patient, then when the fill was asked for,
so two terminals always agree on which fill is next."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.db.models import (
    Case,
    Count,
    F,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.utils import timezone

from rxdesk.core.capabilities import Cap
from rxdesk.core.errors import NotFound
from rxdesk.core.models import User
from rxdesk.core.services import authorize
from rxdesk.inventory.models import StockMove
from rxdesk.patients.models import Allergy, key_prefix, name_key
from rxdesk.rx.choices import PRIORITY_RANK, FillStatus, FillStep, MessageDirection, Priority
from rxdesk.rx.models import ErxMessage, Fill, FillEvent
from rxdesk.rx.services.common import settings_of
from rxdesk.rx.services.workflow import return_to_stock_due

MAX_ID = 2**63 - 1
QUEUE_LIMIT = 200


@dataclass(frozen=True)
class Step:
    """One queue: the key in the address, its tab's label and the fill status it holds
    (the return-to-stock list holds ready fills past the site's limit)."""

    key: str
    label: str
    status: str
    timed: bool  # the timer runs against the service target at this step


STEPS: tuple[Step, ...] = (
    Step("data", "Data verification", FillStatus.QUEUED, True),
    Step("fill", "Fill", FillStatus.TO_FILL, True),
    Step("verify", "Final verification", FillStatus.FILLED, True),
    Step("ready", "Ready in will-call", FillStatus.READY, False),
    Step("hold", "On hold", FillStatus.ON_HOLD, False),
    Step("scheduled", "Waiting until fillable", FillStatus.SCHEDULED, False),
    Step("return", "Return to stock", FillStatus.READY, False),
)
STEP_BY_KEY = {s.key: s for s in STEPS}
DEFAULT_STEP = "data"
# Fills whose wait is measured against the site's service target (the patient is waiting,
# or a dose is due now).
TIMED_PRIORITIES = frozenset({Priority.STAT, Priority.FIRST_DOSE, Priority.WAITER})


def step_of(key: str) -> Step:
    return STEP_BY_KEY.get(key or "", STEP_BY_KEY[DEFAULT_STEP])


def step_for_status(status: str) -> Step | None:
    """The queue a fill in ``status`` waits in (None for a finished fill)."""
    return next((s for s in STEPS if s.status == status and s.key != "return"), None)


def _pk(value: Any) -> int | None:
    text = str(value or "").strip()
    return int(text) if text.isdigit() and 0 < int(text) <= MAX_ID else None


# --- The queues --------------------------------------------------------------------------------


@dataclass(frozen=True)
class QueueRow:
    """One fill in a queue, with how long it has waited and whether that is too long."""

    fill: Fill
    minutes: int  # since it was asked for
    late: bool  # past the service target (waiter, STAT, first dose) or the promised time
    timed: bool

    @property
    def sent_back(self) -> str:
        """Why the fill was sent back, when that is the last thing that happened to it."""
        if getattr(self.fill, "last_step", "") == FillStep.SENT_BACK:
            return str(getattr(self.fill, "last_reason", "") or "no reason given")
        return ""

    @property
    def waited(self) -> str:
        """'7 min', '2 h 05 min', '3 d 4 h'."""
        m = self.minutes
        if m < 60:
            return f"{m} min"
        if m < 24 * 60:
            return f"{m // 60} h {m % 60:02d} min"
        return f"{m // (24 * 60)} d {m % (24 * 60) // 60} h"


@dataclass(frozen=True)
class Filters:
    """What the queue's filter boxes hold (free text, as typed)."""

    patient: str = ""
    prescriber: str = ""
    drug: str = ""

    @classmethod
    def of(cls, data: Any) -> Filters:
        def clean(name: str) -> str:
            return " ".join(str(data.get(name, "") or "").split())[:60]

        return cls(patient=clean("patient"), prescriber=clean("prescriber"), drug=clean("drug"))

    def as_dict(self) -> dict[str, str]:
        return {k: v for k, v in vars(self).items() if v}


def _name_q(prefix: str, text: str) -> Q:
    """'smith, jo' is last name then first name; other words each match either name."""
    if "," in text:
        last, _, first = text.partition(",")
        q = Q()
        if name_key(last):
            q &= key_prefix(f"{prefix}__last_name_key", name_key(last))
        if name_key(first):
            q &= Q(**{f"{prefix}__first_name_key__startswith": name_key(first)})
        return q
    q = Q()
    for word in text.split():
        key = name_key(word)
        if key:
            q &= key_prefix(f"{prefix}__last_name_key", key) | Q(
                **{f"{prefix}__first_name_key__startswith": key}
            )
    return q


def _drug_q(text: str) -> Q:
    q = Q()
    for word in text.split():
        digits = "".join(c for c in word if c.isdigit())
        words = (
            Q(prescription__product__name__icontains=word)
            | Q(prescription__product__generic_name__icontains=word)
            | Q(prescription__product__tall_man_name__icontains=word)
            | Q(prescription__drug_description__icontains=word)
        )
        if len(digits) >= 4 and digits == word.replace("-", ""):
            words |= Q(package__ndc11__contains=digits) | Q(
                prescription__package__ndc11__contains=digits
            )
        q &= words
    return q


def _filtered(qs: QuerySet[Fill], filters: Filters) -> QuerySet[Fill]:
    if filters.patient:
        qs = qs.filter(_name_q("prescription__patient", filters.patient))
    if filters.prescriber:
        text = filters.prescriber
        npi = text.replace(" ", "")
        if npi.isdigit() and len(npi) == 10:
            qs = qs.filter(prescription__prescriber__npi=npi)
        else:
            qs = qs.filter(_name_q("prescription__prescriber", text))
    if filters.drug:
        qs = qs.filter(_drug_q(filters.drug))
    return qs


def _rank() -> Case:
    return Case(
        *(When(priority=p, then=Value(rank)) for p, rank in PRIORITY_RANK.items()),
        default=Value(len(PRIORITY_RANK)),
        output_field=IntegerField(),
    )


def ordered(qs: QuerySet[Fill]) -> QuerySet[Fill]:
    """Most urgent first: the priority's rank, then the promised time, then the oldest."""
    return qs.annotate(rank=_rank()).order_by(
        "rank", F("promised_at").asc(nulls_last=True), "requested_at", "pk"
    )


def _queue_qs(actor: User, step: Step) -> QuerySet[Fill]:
    qs = Fill.objects.filter(site_id=actor.site_id)
    if step.key == "return":
        return qs.filter(pk__in=[f.pk for f in return_to_stock_due(actor=actor)])
    return qs.filter(status=step.status)


def queue_rows(
    *, actor: User, step: str, filters: Filters | None = None, limit: int = QUEUE_LIMIT
) -> list[QueueRow]:
    """The fills of one step's queue, next first, with their timers."""
    authorize(actor, Cap.RX_VIEW)
    the_step = step_of(step)
    qs = _filtered(_queue_qs(actor, the_step), filters or Filters())
    last = FillEvent.objects.filter(fill=OuterRef("pk")).order_by("-at", "-pk")
    qs = qs.annotate(
        last_step=Subquery(last.values("step")[:1]),
        last_reason=Subquery(last.values("reason")[:1]),
    )
    fills = list(
        ordered(qs).select_related(
            "prescription__patient",
            "prescription__prescriber",
            "prescription__product",
            "package",
        )[:limit]
    )
    assert actor.site is not None
    target = settings_of(actor.site).service_target_minutes
    now = timezone.now()
    rows = []
    for fill in fills:
        minutes = max(0, int((now - fill.requested_at).total_seconds() // 60))
        timed = the_step.timed and fill.priority in TIMED_PRIORITIES
        overdue = the_step.timed and fill.promised_at is not None and fill.promised_at < now
        rows.append(
            QueueRow(
                fill=fill,
                minutes=minutes,
                late=(timed and minutes > target) or overdue,
                timed=timed,
            )
        )
    return rows


def queue_counts(*, actor: User) -> dict[str, int]:
    """How many fills wait at each step (the return-to-stock list included)."""
    authorize(actor, Cap.RX_VIEW)
    by_status = dict(
        Fill.objects.filter(site_id=actor.site_id, status__in=[s.status for s in STEPS])
        .values_list("status")
        .annotate(n=Count("pk"))
        .values_list("status", "n")
    )
    assert actor.site is not None
    days = settings_of(actor.site).return_to_stock_days
    due = Fill.objects.filter(
        site_id=actor.site_id,
        status=FillStatus.READY,
        ready_at__lte=timezone.now() - dt.timedelta(days=days),
    ).count()
    return {s.key: due if s.key == "return" else by_status.get(s.status, 0) for s in STEPS}


def next_fill(*, actor: User, step: str, exclude: int | None = None) -> Fill | None:
    """The fill to open next at ``step`` (not ``exclude``, the one just worked)."""
    authorize(actor, Cap.RX_VIEW)
    qs = _queue_qs(actor, step_of(step))
    if exclude is not None:
        qs = qs.exclude(pk=exclude)
    return ordered(qs).first()


# --- One fill ----------------------------------------------------------------------------------


def fill_get(*, actor: User, fill_id: Any) -> Fill:
    """A fill of the actor's site with its prescription, patient, prescriber and products;
    anything else is not found."""
    authorize(actor, Cap.RX_VIEW)
    pk = _pk(fill_id)
    found = (
        Fill.objects.filter(site_id=actor.site_id, pk=pk)
        .select_related(
            "site",
            "prescription__site",
            "prescription__patient",
            "prescription__prescriber",
            "prescription__product",
            "prescription__package",
            "prescription__entered_by",
            "package__product",
            "requested_by",
            "data_verified_by",
            "filled_by",
            "verified_by",
            "sold_by",
            "returned_by",
        )
        .first()
        if pk
        else None
    )
    if found is None:
        raise NotFound("No such fill at this pharmacy.")
    return found


def fill_moves(fill: Fill) -> list[StockMove]:
    """The stock moves of the fill (taken out, put back), oldest first, with their lots."""
    return list(
        StockMove.objects.filter(
            site_id=fill.site_id, reference_type="fill", reference_id=str(fill.pk)
        )
        .select_related("lot", "package")
        .order_by("id")
    )


def fill_events(fill: Fill) -> list[FillEvent]:
    """The fill's whole history, oldest first."""
    return list(FillEvent.objects.filter(fill=fill).order_by("at", "pk"))


def patient_allergies(fill: Fill) -> list[Allergy]:
    return list(
        Allergy.objects.filter(patient_id=fill.prescription.patient_id, active=True).order_by(
            "allergen"
        )
    )


def original_message(fill: Fill) -> ErxMessage | None:
    """The e-prescription the prescription was taken in from, when it came electronically."""
    return (
        ErxMessage.objects.filter(
            prescription_id=fill.prescription_id,
            direction=MessageDirection.IN,
            message_type__in=("NewRx", "RxRenewalResponse"),
        )
        .order_by("received_at", "pk")
        .first()
    )
