"""What the prescription services share: the site's rules, Rx numbers, the facts the pure
rules need, and the site boundary."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F

from rxdesk.core.errors import Invalid, NotFound
from rxdesk.core.models import Site, User
from rxdesk.rx import rules
from rxdesk.rx.choices import FillStatus, Origin
from rxdesk.rx.models import Fill, Prescription, RxNumber, RxSettings

# Fills waiting somewhere between the request and the patient's hands: while one waits,
# no other fill of the prescription is asked for.
PENDING_FILLS = (
    FillStatus.QUEUED,
    FillStatus.SCHEDULED,
    FillStatus.ON_HOLD,
    FillStatus.TO_FILL,
    FillStatus.FILLED,
    FillStatus.READY,
)
# Fills whose product has been counted out (the date filled is set).
DISPENSED_FILLS = (FillStatus.FILLED, FillStatus.READY, FillStatus.DISPENSED)
# A fill asked for and neither cancelled nor returned to stock uses up what the
# prescription allows.
LIVE_FILLS = (*PENDING_FILLS, FillStatus.DISPENSED)


def own(actor: User | None, what: str, site_id: int) -> None:
    """Rows of another site do not exist for this actor (no cross-site probing)."""
    if actor is not None and actor.site_id != site_id:
        raise NotFound(f"No such {what} at this pharmacy.")


def settings_of(site: Site) -> RxSettings:
    """The site's prescription settings; the federal defaults when none were saved."""
    found = RxSettings.objects.filter(site=site).first()
    return found or RxSettings(site=site)


def state_rules(site: Site, settings: RxSettings | None = None) -> rules.StateRules:
    """The site's state rules, from ``settings`` when the caller has read them already."""
    s = settings if settings is not None else settings_of(site)
    return rules.StateRules(
        noncontrolled_expiry=rules.Period(months=s.noncontrolled_expiry_months),
        cv_expiry=rules.Period(months=s.cv_expiry_months),
        cii_expiry=rules.Period(days=s.cii_expiry_days) if s.cii_expiry_days else None,
        refill_threshold=Decimal(s.refill_threshold_percent) / 100,
        controlled_refill_threshold=Decimal(s.controlled_refill_threshold_percent) / 100,
    )


def next_rx_number(site: Site) -> int:
    """The next prescription number of ``site``. Call inside the writing transaction: the
    counter row stays locked until it commits, so two intakes never share a number."""
    if not RxNumber.objects.filter(site=site).update(last=F("last") + 1):
        try:
            with transaction.atomic():
                RxNumber.objects.create(site=site, last=1)
        except IntegrityError:  # another intake created the row first
            RxNumber.objects.filter(site=site).update(last=F("last") + 1)
    return RxNumber.objects.filter(site=site).values_list("last", flat=True).get()


def schedule_of(rx: Prescription) -> rules.Schedule:
    return rules.Schedule.from_code(rx.schedule)


def fill_records(rx: Prescription, exclude_fill: int | None = None) -> tuple[rules.FillRecord, ...]:
    """Fills that count against the prescription: dispensed ones on their day, pending ones
    on the day they were asked for (a queued refill already uses a refill)."""
    out = []
    live = sorted(
        (f for f in rx.fills.all() if f.status in LIVE_FILLS and f.pk != exclude_fill),
        key=lambda f: f.number,
    )
    for fill in live:
        day = fill.dispensed_on or fill.requested_at.astimezone(rx.site.tz).date()
        out.append(
            rules.FillRecord(
                filled_on=day,
                quantity=fill.quantity,
                partial_reason=rules.PartialReason(fill.partial_reason)
                if fill.partial_reason
                else None,
                filled_at=fill.dispensed_at,
            )
        )
    return tuple(out)


def facts_of(rx: Prescription, exclude_fill: int | None = None) -> rules.RxFacts:
    return rules.RxFacts(
        schedule=schedule_of(rx),
        date_written=rx.date_written,
        written_quantity=rx.quantity,
        refills_authorized=rx.refills_authorized,
        fills=fill_records(rx, exclude_fill),
        do_not_fill_before=rx.do_not_fill_before,
        emergency_oral=rx.emergency_oral,
        transferred_out=rx.status == "transferred",
        dispensed_elsewhere=rx.dispensed_elsewhere,
    )


def remaining(rx: Prescription, today: dt.date | None = None) -> rules.FillDecision:
    """What is left on ``rx`` today, and whether a fill of the written quantity may be made."""
    today = today or rx.site.today()
    facts = facts_of(rx)
    left = rx.quantity * (1 + rx.refills_authorized) - rx.dispensed_elsewhere
    left -= sum((f.quantity for f in facts.fills), Decimal(0))
    ask = min(rx.quantity, left) if left > 0 else rx.quantity
    return rules.fill_allowed(
        rx=facts, today=today, requested_quantity=ask, state=state_rules(rx.site)
    )


def is_electronic(rx: Prescription) -> bool:
    return rx.origin == Origin.ELECTRONIC


def rule_problems(found: list[rules.RuleProblem]) -> None:
    if found:
        raise Invalid(errors=[{"field": p.field, "message": p.message} for p in found])


def first(values: dict[str, Any], *names: str) -> Any:
    for name in names:
        if values.get(name) not in (None, ""):
            return values[name]
    return None


def latest_fill(rx: Prescription) -> Fill | None:
    return rx.fills.exclude(status=FillStatus.CANCELLED).order_by("-number").first()


def status_set(
    rx: Prescription,
    status: str,
    *,
    note: str = "",
    hold_reason: str = "",
    inactive_reason: str = "",
    auto_refill: bool | None = None,
) -> None:
    """Move a locked prescription to ``status`` with its reason and note (no audit: the
    calling service writes its own event)."""
    from django.utils import timezone

    rx.status, rx.hold_reason, rx.status_note = status, hold_reason, note.strip()[:200]
    if inactive_reason or status != "inactive":
        rx.inactive_reason = inactive_reason
    rx.status_changed_at = rx.updated_at = timezone.now()
    fields = [
        "status",
        "hold_reason",
        "inactive_reason",
        "status_note",
        "status_changed_at",
        "updated_at",
    ]
    if auto_refill is not None:
        rx.auto_refill = auto_refill
        fields.append("auto_refill")
    rx.save(update_fields=fields)


def record(
    fill: Fill,
    step: str,
    *,
    actor: User | None,
    from_status: str = "",
    reason: str = "",
    data: dict[str, Any] | None = None,
) -> None:
    """Append one step to the fill's history (who, when, from which status to which)."""
    from rxdesk.rx.models import FillEvent

    FillEvent.objects.create(
        fill=fill,
        step=step,
        from_status=from_status,
        to_status=fill.status,
        actor=actor,
        actor_name=(actor.get_full_name() or actor.username) if actor else "operator",
        reason=reason[:300],
        data=data or {},
    )
