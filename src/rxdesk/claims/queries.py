"""Reads of the claims app that more than one caller needs: which plan bills a card, the
order the payers of a fill are billed in, a fill's claims, the reject queue."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from decimal import Decimal

from django.db.models import OuterRef, Subquery

from rxdesk.claims.choices import ACCEPTED, DEAD, OUTBOX, BillingMode, ClaimStatus
from rxdesk.claims.models import Claim, Plan
from rxdesk.core.capabilities import Cap
from rxdesk.core.capabilities import require as authorize
from rxdesk.core.errors import NotFound
from rxdesk.core.models import User
from rxdesk.patients.choices import CoverageKind
from rxdesk.patients.models import Coverage, Patient
from rxdesk.rx.models import Fill

CENT = Decimal("0.01")


def plan_for(coverage: Coverage) -> Plan | None:
    """The active plan that bills ``coverage``: same BIN, PCN and group, else the plan of
    that BIN and PCN for any group. PCN and group compare without case or spaces."""
    if not coverage.bin:
        return None
    pcn = coverage.pcn.strip().upper()
    group = coverage.group.strip().upper()
    found = list(
        Plan.objects.filter(bin=coverage.bin, pcn__iexact=pcn, active=True)
        .filter(group__iexact=group)
        .select_related("payer")[:1]
    ) or list(
        Plan.objects.filter(
            bin=coverage.bin, pcn__iexact=pcn, active=True, group=""
        ).select_related("payer")[:1]
    )
    return found[0] if found else None


def billing_order(patient: Patient, on: dt.date) -> list[Coverage]:
    """The coverages billed for a fill on ``on``, in order: plans and assistance programs by
    rank, copay cards last. A cash coverage ranked first means bill nobody."""
    rows = [c for c in patient.coverages.filter(active=True).order_by("rank") if c.in_effect(on)]
    if rows and rows[0].kind == CoverageKind.CASH:
        return []
    billed = [c for c in rows if c.billable]
    return sorted(billed, key=lambda c: (c.kind == CoverageKind.COPAY_CARD, c.rank))


def claims_of(fill: Fill) -> list[Claim]:
    """The fill's live claims (not reversed or closed), in payer order."""
    return list(
        Claim.objects.filter(fill=fill)
        .exclude(status__in=DEAD)
        .select_related("plan__payer", "coverage")
        .order_by("payer_rank")
    )


def history_of(fill: Fill) -> list[Claim]:
    """Every claim of the fill, the reversed and closed ones too, newest first."""
    return list(
        Claim.objects.filter(fill=fill)
        .select_related("plan__payer", "coverage", "submitted_by")
        .order_by("-created_at", "-pk")
    )


def reject_queue(*, actor: User) -> list[Claim]:
    """Live claims a technician has to work: rejected, or with an answer that needs
    attention, at the actor's site, oldest first."""
    authorize(actor, Cap.CLAIMS_VIEW)
    return list(
        Claim.objects.filter(
            site=actor.site, status__in=[ClaimStatus.REJECTED, ClaimStatus.ATTENTION]
        )
        .select_related(
            "fill__prescription__patient",
            "fill__prescription__product",
            "plan__payer",
            "coverage",
        )
        .order_by("created_at", "pk")
    )


def patient_pays(fills: Iterable[Fill]) -> dict[int, Decimal]:
    """What each fill's patient pays according to its claims, for the fills that have
    something to say (pos.pricing falls through to the cash price for the others): the
    patient pay of the last payer that accepted the claim, or what the pharmacist said to
    collect while the claim waits in the outbox. A fill billed as cash is left out."""
    ids = [f.pk for f in fills]
    if not ids:
        return {}
    last_paid = (
        Claim.objects.filter(fill=OuterRef("pk"), status__in=ACCEPTED, patient_pay__isnull=False)
        .order_by("-payer_rank")
        .values("patient_pay")[:1]
    )
    rows = (
        Fill.objects.filter(pk__in=ids)
        .annotate(pay=Subquery(last_paid))
        .values_list("pk", "billing__mode", "billing__collect", "pay")
    )
    out: dict[int, Decimal] = {}
    for fill_id, mode, collect, pay in rows:
        if mode == BillingMode.CASH:
            continue
        # A subquery's value comes back without the column's scale on SQLite.
        if pay is not None:
            out[fill_id] = Decimal(pay).quantize(CENT)
        elif mode == BillingMode.PROCEED and collect is not None:
            out[fill_id] = Decimal(collect).quantize(CENT)
    return out


def claim_get(*, actor: User, claim_id: int) -> Claim:
    """A claim of the actor's site; anything else is not found."""
    authorize(actor, Cap.CLAIMS_VIEW)
    found = (
        Claim.objects.filter(site_id=actor.site_id, pk=claim_id)
        .select_related("fill__prescription__patient", "plan__payer", "coverage")
        .first()
    )
    if found is None:
        raise NotFound("No such claim at this pharmacy.")
    return found


def coverage_get(*, actor: User, coverage_id: int) -> Coverage:
    authorize(actor, Cap.CLAIMS_VIEW)
    found = (
        Coverage.objects.filter(patient__site_id=actor.site_id, pk=coverage_id)
        .select_related("patient")
        .first()
    )
    if found is None:
        raise NotFound("No such coverage at this pharmacy.")
    return found


def outbox(*, actor: User) -> list[Claim]:
    """What waits for the switch at the actor's site, oldest first."""
    authorize(actor, Cap.CLAIMS_VIEW)
    return list(
        Claim.objects.filter(site=actor.site, status__in=OUTBOX)
        .select_related("fill__prescription__patient", "plan__payer")
        .order_by("created_at", "pk")
    )
