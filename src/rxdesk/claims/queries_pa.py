"""Reads of prior authorization cases: the approval in effect for a claim, the PA queue,
one case with its history and documents."""

from __future__ import annotations

import datetime as dt

from django.db.models import Case, F, IntegerField, QuerySet, Value, When

from rxdesk.claims.choices import PA_OPEN, PriorAuthStatus
from rxdesk.claims.models import PriorAuth, PriorAuthDocument, PriorAuthEvent
from rxdesk.core.capabilities import Cap
from rxdesk.core.errors import NotFound
from rxdesk.core.models import User
from rxdesk.core.services import authorize


def pa_in_effect(prescription_id: int, plan_id: int, on: dt.date) -> PriorAuth | None:
    """The approved case for this prescription and plan whose approval covers ``on``
    (approved_from ≤ on ≤ approved_to), the latest-ending one when several do. Its number
    goes in 462-EV of the claim (461-EU = 1). No actor: the claim builder calls it."""
    return (
        PriorAuth.objects.filter(
            prescription_id=prescription_id,
            plan_id=plan_id,
            status=PriorAuthStatus.APPROVED,
            approved_from__lte=on,
            approved_to__gte=on,
        )
        .order_by("-approved_to", "-pk")
        .first()
    )


def pa_open_case(prescription_id: int, plan_id: int) -> PriorAuth | None:
    """The open case (needed, submitted, appealed) of this prescription and plan, if any."""
    return PriorAuth.objects.filter(
        prescription_id=prescription_id, plan_id=plan_id, status__in=PA_OPEN
    ).first()


def _cases() -> QuerySet[PriorAuth]:
    return PriorAuth.objects.select_related(
        "prescription__patient", "prescription__product", "plan__payer", "opened_by"
    )


def pa_queue(*, actor: User, include_closed: bool = False) -> list[PriorAuth]:
    """The site's PA cases to work: open ones first, those with a follow-up date soonest
    first (so the overdue are on top), then those without a follow-up, oldest first.
    ``include_closed`` adds the approved, denied and abandoned cases after them, most
    recently closed first."""
    authorize(actor, Cap.CLAIMS_VIEW)
    cases = _cases().filter(site_id=actor.site_id)
    if not include_closed:
        cases = cases.filter(status__in=PA_OPEN)
    cases = cases.annotate(
        closed=Case(
            When(status__in=PA_OPEN, then=Value(0)), default=Value(1), output_field=IntegerField()
        )
    )
    return list(
        cases.order_by(
            "closed",
            F("follow_up_on").asc(nulls_last=True),
            F("closed_at").desc(nulls_last=True),
            "opened_at",
            "pk",
        )
    )


def pa_get(*, actor: User, pa_id: int) -> PriorAuth:
    """One case of the actor's site (another site's case does not exist here)."""
    authorize(actor, Cap.CLAIMS_VIEW)
    found = _cases().filter(pk=pa_id, site_id=actor.site_id).first()
    if found is None:
        raise NotFound("No such prior authorization at this pharmacy.")
    return found


def pa_events(prior_auth: PriorAuth) -> list[PriorAuthEvent]:
    """The case's history, oldest first."""
    return list(prior_auth.events.select_related("actor").order_by("at", "pk"))


def pa_documents(prior_auth: PriorAuth) -> list[PriorAuthDocument]:
    """The case's documents without their bytes, newest first."""
    return list(
        prior_auth.documents.select_related("uploaded_by")
        .defer("data")
        .order_by("-uploaded_at", "-pk")
    )


def pa_document_get(*, actor: User, prior_auth: PriorAuth, document_id: int) -> PriorAuthDocument:
    """A document of ``prior_auth`` (already checked to be the actor's site)."""
    authorize(actor, Cap.CLAIMS_VIEW)
    found = PriorAuthDocument.objects.filter(pk=document_id, prior_auth=prior_auth).first()
    if found is None or prior_auth.site_id != actor.site_id:
        raise NotFound("No such document on this prior authorization.")
    return found


def follow_up(prior_auth: PriorAuth, today: dt.date) -> str:
    """Where an open case's follow-up stands: "overdue" (the date has passed), "due" (today)
    or "" (later, none, or the case is closed)."""
    when = prior_auth.follow_up_on
    if prior_auth.status not in PA_OPEN or when is None or when > today:
        return ""
    return "overdue" if when < today else "due"
