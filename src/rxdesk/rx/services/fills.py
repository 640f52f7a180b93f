"""Refill requests (phone, web, counter, automatic) and the fills they create."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone

from rxdesk.core.audit import audit_record, register_actions
from rxdesk.core.capabilities import Cap
from rxdesk.core.errors import Conflict, Invalid
from rxdesk.core.models import Site, User
from rxdesk.core.services import authorize
from rxdesk.rx import rules, seams
from rxdesk.rx.choices import FillSource, FillStatus, FillStep, RxStatus
from rxdesk.rx.models import Fill, Prescription
from rxdesk.rx.services.common import (
    DISPENSED_FILLS,
    PENDING_FILLS,
    facts_of,
    own,
    record,
    schedule_of,
    state_rules,
    status_set,
)

register_actions(
    {
        "rx.refill.requested": "Refill requested",
        "rx.refill.refused": "Refill request refused",
        "rx.fill.cancelled": "Fill cancelled",
        "rx.auto_refill.set": "Automatic refill enrolment changed",
        "rx.auto_refill.run": "Automatic refills queued",
    }
)

# A fill may be cancelled until its product is counted out.
NOT_YET_FILLED = (FillStatus.QUEUED, FillStatus.SCHEDULED, FillStatus.ON_HOLD, FillStatus.TO_FILL)
REQUEST_SOURCES = (FillSource.PHONE, FillSource.WEB, FillSource.COUNTER, FillSource.AUTO)


class RefillRefused(Conflict):
    """The prescription cannot be filled again; ``reason_code`` says why (no_refills,
    expired, inactive, …) and whether asking the prescriber for a renewal would help."""

    code = "refill_refused"
    title = "Refill not possible"

    def __init__(self, message: str, *, reason_code: str, renewable: bool) -> None:
        super().__init__(message, field="prescription", reason=reason_code, renewable=renewable)
        self.reason_code = reason_code
        self.renewable = renewable


@dataclass(frozen=True)
class RefillResult:
    fill: Fill
    too_soon: bool
    message: str


def last_dispensed(rx: Prescription) -> Fill | None:
    return rx.fills.filter(status__in=DISPENSED_FILLS).order_by("-dispensed_on", "-number").first()


def _too_soon(rx: Prescription, today: dt.date) -> rules.TooSoon | None:
    last = last_dispensed(rx)
    if last is None or last.dispensed_on is None:
        return None
    return rules.refill_too_soon(
        last_fill_date=last.dispensed_on,
        days_supply=last.days_supply,
        today=today,
        schedule=schedule_of(rx),
        state=state_rules(rx.site),
    )


def _next_number(rx: Prescription) -> int:
    numbers = rx.fills.exclude(status=FillStatus.CANCELLED).values_list("number", flat=True)
    if numbers:
        return max(numbers) + 1
    # A transferred-in prescription continues the count of the fills made elsewhere.
    used_elsewhere = (rx.dispensed_elsewhere / rx.quantity).to_integral_value()
    return int(used_elsewhere)


def _refuse(rx: Prescription, message: str, code: str, renewable: bool) -> RefillRefused:
    return RefillRefused(f"Rx {rx.number}: {message}", reason_code=code, renewable=renewable)


def queue_refill(
    rx: Prescription,
    *,
    actor: User | None,
    source: str,
    today: dt.date,
    quantity: Decimal | None = None,
    days_supply: int | None = None,
) -> RefillResult:
    """Create the next fill of a locked prescription, or raise RefillRefused (no audit).
    ``quantity`` and ``days_supply`` shorten a fill (e.g. a medication-synchronization
    short fill); by default the prescription's own."""
    if days_supply is not None and not 1 <= days_supply <= (rx.days_supply or days_supply):
        raise Invalid(
            f"A shortened fill's days supply is 1 to {rx.days_supply} days.", field="days_supply"
        )
    if rx.status == RxStatus.INACTIVE:
        raise _refuse(
            rx, "this prescription is inactive; it cannot be refilled.", "inactive", False
        )
    if rx.status == RxStatus.TRANSFERRED:
        raise _refuse(
            rx, "this prescription was transferred to another pharmacy.", "transferred", False
        )
    if rx.fills.filter(status__in=PENDING_FILLS).exists():
        raise _refuse(rx, "a fill is already waiting in the queue.", "already_queued", False)
    ask = rx.quantity if quantity is None else quantity
    decision = rules.fill_allowed(
        rx=facts_of(rx), today=today, requested_quantity=ask, state=state_rules(rx.site)
    )
    if not decision.allowed:
        renewable = decision.code in ("no_refills", "expired")
        raise _refuse(rx, decision.reason, decision.code, renewable)
    soon = _too_soon(rx, today)
    too_soon = soon is not None and soon.too_soon
    if rx.do_not_fill_before and rx.do_not_fill_before > today:
        fillable_on: dt.date | None = rx.do_not_fill_before
        message = f"Not to be filled before {rx.do_not_fill_before:%m/%d/%Y}."
    elif too_soon:
        assert soon is not None
        fillable_on, message = soon.fillable_on, soon.message
    else:
        fillable_on, message = None, ""
    if rx.status == RxStatus.ON_HOLD:
        status_set(rx, RxStatus.ACTIVE)
    fill = Fill.objects.create(
        site=rx.site,
        prescription=rx,
        number=_next_number(rx),
        status=FillStatus.SCHEDULED if fillable_on else FillStatus.QUEUED,
        source=source,
        quantity=min(ask, decision.quantity_remaining) if decision.quantity_remaining else ask,
        days_supply=rx.days_supply if days_supply is None else days_supply,
        fillable_on=fillable_on,
        too_soon_message=message[:300],
        requested_by=actor,
    )
    record(fill, FillStep.ENTERED, actor=actor, data={"source": source})
    return RefillResult(fill=fill, too_soon=fillable_on is not None, message=message)


def refill_request(
    *, actor: User, prescription: Prescription, source: str = FillSource.PHONE
) -> RefillResult:
    """A patient asks for the next fill (by phone, online or at the counter). A request
    made too soon waits until the day it becomes fillable, with that date shown."""
    authorize(actor, Cap.RX_ENTER)
    own(actor, "prescription", prescription.site_id)
    if source not in REQUEST_SOURCES:
        raise Invalid(
            "Say how the refill was requested: phone, web, counter or auto.", field="source"
        )
    with transaction.atomic():
        rx = (
            Prescription.objects.select_for_update(of=("self",))
            .select_related("site")
            .get(pk=prescription.pk)
        )
        try:
            result = queue_refill(rx, actor=actor, source=source, today=rx.site.today())
        except RefillRefused as refused:
            # The refusal is recorded on its own, in a transaction that commits.
            transaction.set_rollback(True)
            refusal = refused
        else:
            audit_record(
                actor=actor,
                action="rx.refill.requested",
                obj=rx,
                patient_id=rx.patient_id,
                data={
                    "fill_id": result.fill.pk,
                    "fill_number": result.fill.number,
                    "source": source,
                    "fillable_on": result.fill.fillable_on.isoformat()
                    if result.fill.fillable_on
                    else None,
                },
            )
            return result
    with transaction.atomic():
        audit_record(
            actor=actor,
            action="rx.refill.refused",
            obj=prescription,
            patient_id=prescription.patient_id,
            data={"source": source, "reason": refusal.reason_code},
        )
    raise refusal


def fill_cancel(*, actor: User, fill: Fill, reason: str) -> Fill:
    """Cancel a fill that has not been dispensed (patient no longer wants it, …)."""
    authorize(actor, Cap.RX_ENTER)
    own(actor, "fill", fill.site_id)
    reason = " ".join((reason or "").split())
    if not reason:
        raise Invalid("Say why the fill is cancelled.", field="reason")
    with transaction.atomic():
        Prescription.objects.select_for_update().filter(pk=fill.prescription_id).first()
        locked = Fill.objects.select_related("prescription").get(pk=fill.pk)
        if locked.status not in NOT_YET_FILLED:
            what = locked.get_status_display().lower()
            advice = (
                " Return it to stock instead."
                if locked.status in (FillStatus.FILLED, FillStatus.READY)
                else ""
            )
            raise Conflict(
                f"Fill {locked} is {what}; only a fill not yet counted out can be cancelled."
                + advice,
                field="status",
            )
        before = locked.status
        reversal = seams.claim_reverse(locked, actor)
        locked.status, locked.cancel_reason = FillStatus.CANCELLED, reason[:200]
        locked.save(update_fields=["status", "cancel_reason"])
        record(
            locked,
            FillStep.CANCELLED,
            actor=actor,
            from_status=before,
            reason=reason,
            data={"claim": reversal.record} if reversal.ran else None,
        )
        audit_record(
            actor=actor,
            action="rx.fill.cancelled",
            obj=locked,
            patient_id=locked.prescription.patient_id,
            data={"prescription_id": locked.prescription_id, "reason": reason[:200]},
        )
    return locked


def auto_refill_set(*, actor: User, prescription: Prescription, enrolled: bool) -> Prescription:
    """Enrol a prescription in automatic refills (or take it out)."""
    authorize(actor, Cap.RX_ENTER)
    own(actor, "prescription", prescription.site_id)
    with transaction.atomic():
        rx = Prescription.objects.select_for_update().get(pk=prescription.pk)
        if enrolled and rx.status not in (RxStatus.ACTIVE, RxStatus.ON_HOLD):
            raise Conflict(
                f"Rx {rx.number} is {rx.get_status_display().lower()}; it cannot refill "
                "automatically.",
                field="auto_refill",
            )
        if rx.auto_refill == enrolled:
            return rx
        rx.auto_refill, rx.updated_at = enrolled, timezone.now()
        rx.save(update_fields=["auto_refill", "updated_at"])
        audit_record(
            actor=actor,
            action="rx.auto_refill.set",
            obj=rx,
            patient_id=rx.patient_id,
            data={"auto_refill": enrolled},
        )
    return rx


@dataclass(frozen=True)
class AutoRefillRun:
    queued: list[Fill]
    refused: list[tuple[Prescription, str]]

    def summary(self) -> str:
        return (
            f"{len(self.queued)} automatic refill(s) queued; "
            f"{len(self.refused)} could not be refilled (renewal needed or not fillable)."
        )


def auto_refill_run(
    *, actor: User | None, site: Site, lead_days: int = 3, progress: Any = None
) -> AutoRefillRun:
    """Queue the next fill of every prescription enrolled in automatic refill whose refill
    falls due within ``lead_days``. Run each morning (``rxdesk rx auto-refill``)."""
    authorize(actor, Cap.RX_ENTER)
    if actor is not None:
        own(actor, "site", site.pk)
    if not 0 <= lead_days <= 14:
        raise Invalid("Look ahead 0 to 14 days.", field="lead_days")
    today = site.today()
    horizon = today + dt.timedelta(days=lead_days)
    ids = list(
        Prescription.objects.filter(site=site, auto_refill=True, status=RxStatus.ACTIVE)
        .exclude(fills__status__in=PENDING_FILLS)
        .values_list("pk", flat=True)
        .distinct()
    )
    queued: list[Fill] = []
    refused: list[tuple[Prescription, str]] = []
    for index, pk in enumerate(ids):
        if progress is not None:
            progress(index + 1, len(ids))
        with transaction.atomic():
            rx = (
                Prescription.objects.select_for_update(of=("self",))
                .select_related("site")
                .get(pk=pk)
            )
            soon = _too_soon(rx, horizon)
            if soon is None or soon.too_soon:
                continue  # never dispensed here, or not due yet
            try:
                result = queue_refill(rx, actor=actor, source=FillSource.AUTO, today=today)
            except RefillRefused as exc:
                refused.append((rx, exc.reason_code))
                audit_record(
                    actor=actor,
                    site=site,
                    action="rx.refill.refused",
                    obj=rx,
                    patient_id=rx.patient_id,
                    data={"source": FillSource.AUTO, "reason": exc.reason_code},
                )
                continue
            queued.append(result.fill)
            audit_record(
                actor=actor,
                site=site,
                action="rx.refill.requested",
                obj=rx,
                patient_id=rx.patient_id,
                data={
                    "fill_id": result.fill.pk,
                    "fill_number": result.fill.number,
                    "source": FillSource.AUTO,
                    "fillable_on": result.fill.fillable_on.isoformat()
                    if result.fill.fillable_on
                    else None,
                },
            )
    return AutoRefillRun(queued=queued, refused=refused)
