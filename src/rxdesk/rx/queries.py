"""Reads of prescriptions that more than one door (screens, API, CLI) needs."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db.models import Exists, OuterRef, Prefetch, Q, QuerySet

from rxdesk.core.capabilities import Cap
from rxdesk.core.errors import NotFound
from rxdesk.core.models import Site, User
from rxdesk.core.services import authorize
from rxdesk.patients.models import Patient
from rxdesk.rx import rules
from rxdesk.rx.choices import ErxStatus, FillStatus, MessageDirection, RxStatus
from rxdesk.rx.models import ErxMessage, Fill, Prescription, PrescriptionImage, RxSettings
from rxdesk.rx.services.common import (
    DISPENSED_FILLS,
    LIVE_FILLS,
    PENDING_FILLS,
    facts_of,
    schedule_of,
    state_rules,
)

MAX_ID = 2**63 - 1  # a BIGINT: a larger number finds nothing and must not reach the driver


def _pk(value: Any) -> int | None:
    try:
        pk = int(str(value).strip())
    except ValueError:
        return None
    return pk if 0 < pk <= MAX_ID else None


def _with_fills(qs: QuerySet[Prescription]) -> QuerySet[Prescription]:
    return qs.select_related(
        "site", "patient", "prescriber", "product", "package"
    ).prefetch_related(
        Prefetch("fills", queryset=Fill.objects.order_by("number", "pk")), "transfers", "images"
    )


def prescription_get(*, actor: User, prescription_id: Any) -> Prescription:
    """A prescription of the actor's site by id, with its fills; anything else is not found."""
    authorize(actor, Cap.RX_VIEW)
    pk = _pk(prescription_id)
    found = (
        _with_fills(Prescription.objects.filter(site_id=actor.site_id, pk=pk)).first()
        if pk
        else None
    )
    if found is None:
        raise NotFound("No such prescription at this pharmacy.")
    return found


def prescription_by_number(*, actor: User, number: Any) -> Prescription:
    authorize(actor, Cap.RX_VIEW)
    pk = _pk(number)
    found = (
        _with_fills(Prescription.objects.filter(site_id=actor.site_id, number=pk)).first()
        if pk and pk < 2**31
        else None
    )
    if found is None:
        raise NotFound(f"No Rx number {number} at this pharmacy.")
    return found


@dataclass(frozen=True)
class RxState:
    """Where a prescription stands today, in the words of the profile."""

    rx: Prescription
    state: str  # active, on_hold, inactive, transferred, expired
    label: str
    refills_remaining: int
    quantity_remaining: Decimal
    expires_on: dt.date | None
    can_fill: bool
    reason: str
    last_filled_on: dt.date | None
    next_fill_on: dt.date | None
    pending: Fill | None
    fills: list[Fill] = field(default_factory=list)


def rx_state(
    rx: Prescription, today: dt.date, state_rules_: rules.StateRules | None = None
) -> RxState:
    """The state of one prescription (its fills prefetched; pass the site's rules when
    reading many)."""
    fills = list(rx.fills.all())
    live = [f for f in fills if f.status in LIVE_FILLS]
    dispensed = [f for f in fills if f.status in DISPENSED_FILLS and f.dispensed_on]
    pending = next((f for f in fills if f.status in PENDING_FILLS), None)
    used = sum((f.quantity for f in live), Decimal(0))
    left = rx.quantity * (1 + rx.refills_authorized) - rx.dispensed_elsewhere - used
    ask = min(rx.quantity, left) if left > 0 else rx.quantity
    state_rules_ = state_rules_ or state_rules(rx.site)
    decision = rules.fill_allowed(
        rx=facts_of(rx), today=today, requested_quantity=ask, state=state_rules_
    )
    last = max(dispensed, key=lambda f: (f.dispensed_on, f.number)) if dispensed else None
    next_on = None
    if last is not None and last.dispensed_on is not None:
        next_on = rules.refill_too_soon(
            last_fill_date=last.dispensed_on,
            days_supply=last.days_supply,
            today=today,
            schedule=schedule_of(rx),
            state=state_rules_,
        ).fillable_on
    reason = decision.reason
    if pending is not None and decision.allowed:
        waiting = (
            f"waiting until {pending.fillable_on:%m/%d/%Y}" if pending.fillable_on else "queued"
        )
        reason = f"Fill {pending.number} is already {waiting}; the next one comes after it."
    if rx.status == RxStatus.TRANSFERRED:
        state = "transferred"
        reason = f"Rx {rx.number} was transferred out ({rx.status_note or 'see transfers'})."
    elif rx.status == RxStatus.INACTIVE:
        state = "inactive"
        why = rx.get_inactive_reason_display().lower() if rx.inactive_reason else "stopped"
        reason = f"Rx {rx.number} is inactive ({why}); it cannot be filled."
    elif decision.code == "expired":
        state = "expired"
    elif rx.status == RxStatus.ON_HOLD:
        state = "on_hold"
    else:
        state = "active"
    labels = {
        "transferred": "Transferred out",
        "inactive": "Inactive",
        "expired": "Expired",
        "on_hold": "On hold",
        "active": "Active",
    }
    return RxState(
        rx=rx,
        state=state,
        label=labels[state],
        refills_remaining=decision.refills_remaining,
        quantity_remaining=max(left, Decimal(0)),
        expires_on=decision.expires_on,
        can_fill=pending is None
        and decision.allowed
        and rx.status in (RxStatus.ACTIVE, RxStatus.ON_HOLD),
        reason=reason,
        last_filled_on=last.dispensed_on if last else None,
        next_fill_on=next_on,
        pending=pending,
        fills=fills,
    )


@dataclass(frozen=True)
class Profile:
    """A patient's medication profile, grouped as a pharmacist reads it."""

    patient: Patient
    today: dt.date
    active: list[RxState]
    on_hold: list[RxState]
    expired: list[RxState]
    inactive: list[RxState]
    transferred: list[RxState]

    @property
    def groups(self) -> list[tuple[str, str, list[RxState]]]:
        return [
            ("active", "Active", self.active),
            ("on_hold", "On hold", self.on_hold),
            ("expired", "Expired", self.expired),
            ("inactive", "Inactive", self.inactive),
            ("transferred", "Transferred out", self.transferred),
        ]


def patient_profile(
    *, actor: User, patient: Patient, settings: RxSettings | None = None
) -> Profile:
    """Every prescription of the patient with its fills, grouped by where it stands
    (``settings``: the site's prescription settings, when the caller has read them)."""
    authorize(actor, Cap.RX_VIEW)
    if patient.site_id != actor.site_id:
        raise NotFound("No such patient at this pharmacy.")
    today = patient.site.today()
    groups: dict[str, list[RxState]] = {
        k: [] for k in ("active", "on_hold", "expired", "inactive", "transferred")
    }
    rxs = _with_fills(Prescription.objects.filter(patient=patient)).order_by(
        "-date_written", "-number"
    )
    site_rules = state_rules(patient.site, settings)
    for rx in rxs:
        item = rx_state(rx, today, site_rules)
        groups[item.state].append(item)
    return Profile(patient=patient, today=today, **groups)


@dataclass(frozen=True)
class DueRefill:
    state: RxState
    due_on: dt.date


OVERDUE_DAYS = 30  # a refill overdue longer than this has lapsed: not on the daily list


def refills_due(*, actor: User, within_days: int = 7, limit: int = 200) -> list[DueRefill]:
    """Active prescriptions with refills left whose next fill falls due within
    ``within_days`` (or fell due at most OVERDUE_DAYS ago) and that have nothing waiting:
    the refill-reminder list.

    The database narrows the list through the dispensings of a short window of days
    (index ``fill_dispensed``): a prescription is due when its last dispensing is at least
    the threshold share of its days supply before the horizon. There are few distinct days
    supplies, so that is one condition per (days supply, controlled or not) — portable SQL
    with no date arithmetic in the database. The rules then decide each one exactly
    (refills left, expiry, the last fill's own days supply)."""
    authorize(actor, Cap.RX_VIEW)
    site = actor.site
    assert site is not None
    today = site.today()
    horizon = today + dt.timedelta(days=max(0, min(within_days, 60)))
    rules_ = state_rules(site)
    supplies = set(
        Prescription.objects.filter(site=site, status=RxStatus.ACTIVE)
        .values_list("days_supply", flat=True)
        .distinct()
    )
    due_when = Q(pk__in=[])
    for supply in supplies:
        for controlled, threshold in (
            (False, rules_.refill_threshold),
            (True, rules_.controlled_refill_threshold),
        ):
            wait = dt.timedelta(days=math.ceil(threshold * supply))
            kind = ~Q(prescription__schedule="") if controlled else Q(prescription__schedule="")
            due_when |= (
                Q(prescription__days_supply=supply)
                & kind
                & Q(dispensed_on__lte=horizon - wait)
                & Q(dispensed_on__gte=today - wait - dt.timedelta(days=OVERDUE_DAYS))
            )
    later = Fill.objects.filter(
        prescription=OuterRef("prescription"),
        status__in=DISPENSED_FILLS,
        dispensed_on__gt=OuterRef("dispensed_on"),
    )
    pending = Fill.objects.filter(prescription=OuterRef("prescription"), status__in=PENDING_FILLS)
    ids = list(
        Fill.objects.filter(
            due_when,
            site=site,
            status__in=DISPENSED_FILLS,
            prescription__status=RxStatus.ACTIVE,
        )
        .filter(~Exists(later), ~Exists(pending))
        .order_by("dispensed_on")
        .values_list("prescription_id", flat=True)[: limit * 2]
    )
    due: list[DueRefill] = []
    for rx in _with_fills(Prescription.objects.filter(pk__in=set(ids))):
        item = rx_state(rx, today, rules_)
        if item.can_fill and item.next_fill_on is not None and item.next_fill_on <= horizon:
            due.append(DueRefill(state=item, due_on=item.next_fill_on))
    due.sort(key=lambda d: (d.due_on, d.state.rx.number))
    return due[:limit]


def fill_queue(*, actor: User, status: str = FillStatus.QUEUED, limit: int = 200) -> list[Fill]:
    """Fills waiting at this site: queued (ready to work) or scheduled (too soon, with the
    day each becomes fillable)."""
    authorize(actor, Cap.RX_VIEW)
    if status not in PENDING_FILLS:
        status = FillStatus.QUEUED
    order = ("fillable_on", "requested_at") if status == FillStatus.SCHEDULED else ("requested_at",)
    return list(
        Fill.objects.filter(site_id=actor.site_id, status=status)
        .select_related("prescription__patient", "prescription__product", "prescription")
        .order_by(*order)[:limit]
    )


def prescription_image_get(*, actor: User, image_id: Any) -> PrescriptionImage:
    """A scanned hard copy of the actor's site by id; anything else is not found."""
    authorize(actor, Cap.RX_VIEW)
    pk = _pk(image_id)
    found = PrescriptionImage.objects.filter(site_id=actor.site_id, pk=pk).first() if pk else None
    if found is None:
        raise NotFound("No such scanned image at this pharmacy.")
    return found


def prescription_images_unattached(*, actor: User, image_ids: Any) -> list[PrescriptionImage]:
    """Scans uploaded on the typing screen and not yet attached to a prescription (this
    pharmacy's only; the bytes are not read). The service checks them again on attaching."""
    authorize(actor, Cap.RX_ENTER)
    ids = {pk for pk in (_pk(raw) for raw in image_ids) if pk}
    if not ids:
        return []
    return list(
        PrescriptionImage.objects.filter(
            site_id=actor.site_id, pk__in=ids, prescription__isnull=True
        )
        .defer("content")
        .order_by("pk")
    )


def erx_inbox(
    *, actor: User, status: str = ErxStatus.NEEDS_MATCH, limit: int = 200
) -> list[ErxMessage]:
    """Received e-prescribing messages, newest first, by status."""
    authorize(actor, Cap.RX_VIEW)
    qs = ErxMessage.objects.filter(site_id=actor.site_id, direction=MessageDirection.IN)
    if status:
        qs = qs.filter(status=status)
    return list(
        qs.select_related("patient", "prescriber", "product", "prescription").order_by(
            "-received_at", "-pk"
        )[:limit]
    )


def erx_message_get(*, actor: User, message_id: Any) -> ErxMessage:
    authorize(actor, Cap.RX_VIEW)
    pk = _pk(message_id)
    found = (
        ErxMessage.objects.filter(site_id=actor.site_id, pk=pk)
        .select_related("patient", "prescriber", "product", "package", "prescription", "reply")
        .first()
        if pk
        else None
    )
    if found is None:
        raise NotFound("No such e-prescribing message at this pharmacy.")
    return found


def intake_counts(site: Site) -> dict[str, int]:
    """Counts for the queue bar: e-prescriptions to match, fills queued, fills scheduled."""
    return {
        "erx_to_match": ErxMessage.objects.filter(
            site=site, direction=MessageDirection.IN, status=ErxStatus.NEEDS_MATCH
        ).count(),
        "fills_queued": Fill.objects.filter(site=site, status=FillStatus.QUEUED).count(),
        "fills_scheduled": Fill.objects.filter(site=site, status=FillStatus.SCHEDULED).count(),
    }


@dataclass(frozen=True)
class StepMetric:
    step: str
    label: str
    count: int
    median_minutes: float | None
    p90_minutes: float | None


@dataclass(frozen=True)
class FillMetrics:
    """How fills moved through the workflow since a moment: the time between steps, how
    often each verification sent a fill back, and how many scans a pharmacist overrode."""

    since: dt.datetime
    steps: list[StepMetric]
    sent_back: dict[str, int]
    verified: dict[str, int]
    scan_overrides: int

    def rejection_rate(self, step: str) -> float | None:
        done = self.verified.get(step, 0) + self.sent_back.get(step, 0)
        return None if not done else self.sent_back.get(step, 0) / done


_SPANS = (
    ("entered", "data_verified", "Entered → data verified"),
    ("data_verified", "filled", "Data verified → filled"),
    ("filled", "final_verified", "Filled → final verification"),
    ("entered", "final_verified", "Entered → ready"),
    ("final_verified", "sold", "Ready → sold"),
)


def fill_metrics(*, actor: User, since: dt.datetime) -> FillMetrics:
    """The workflow's timings and error rates at the actor's site since ``since``."""
    from rxdesk.rx.choices import FillStep
    from rxdesk.rx.models import FillEvent

    authorize(actor, Cap.RX_VIEW)
    events = (
        FillEvent.objects.filter(fill__site_id=actor.site_id, at__gte=since)
        .order_by("fill_id", "at", "pk")
        .values_list("fill_id", "step", "at", "data")
    )
    first_at: dict[int, dict[str, dt.datetime]] = {}
    sent_back: dict[str, int] = {}
    verified = {"data_verification": 0, "final_verification": 0}
    overrides = 0
    for fill_id, step, at, data in events.iterator(chunk_size=2000):
        first_at.setdefault(fill_id, {}).setdefault(step, at)
        if step == FillStep.SENT_BACK:
            where = (data or {}).get("at_step", "")
            sent_back[where] = sent_back.get(where, 0) + 1
        elif step == FillStep.DATA_VERIFIED:
            verified["data_verification"] += 1
        elif step == FillStep.FINAL_VERIFIED:
            verified["final_verification"] += 1
        elif step == FillStep.SCAN_OVERRIDDEN:
            overrides += 1
    steps = []
    for start, end, label in _SPANS:
        minutes = sorted(
            (times[end] - times[start]).total_seconds() / 60
            for times in first_at.values()
            if start in times and end in times and times[end] >= times[start]
        )
        steps.append(
            StepMetric(
                step=f"{start}:{end}",
                label=label,
                count=len(minutes),
                median_minutes=round(minutes[len(minutes) // 2], 1) if minutes else None,
                p90_minutes=round(minutes[min(len(minutes) - 1, int(len(minutes) * 0.9))], 1)
                if minutes
                else None,
            )
        )
    return FillMetrics(
        since=since, steps=steps, sent_back=sent_back, verified=verified, scan_overrides=overrides
    )
