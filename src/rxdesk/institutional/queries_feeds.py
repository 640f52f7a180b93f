"""Reads of the cabinet feeds: the list (newest first), one feed with what it applied (its
moves), the rows it refused or skipped, and the discrepancies it opened.

Reading is adc.view. Patients are named (and their MRN shown) only to roles holding
patient.view: the inventory specialist and the auditor see that a move was for a patient,
not who."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet

from rxdesk.core.capabilities import Cap, has, require
from rxdesk.core.errors import NotFound
from rxdesk.core.models import User
from rxdesk.institutional.models import CabinetDiscrepancy, CabinetFeed, CabinetMove
from rxdesk.institutional.services_feeds import ADMINISTRATIONS_PREFIX

LIST_LIMIT = 200


def is_administrations(feed: CabinetFeed) -> bool:
    """An eMAR administrations file rather than cabinet activity."""
    return feed.name.startswith(ADMINISTRATIONS_PREFIX)


def feeds_list(*, actor: User, limit: int = 100) -> list[CabinetFeed]:
    """The site's feeds, newest first."""
    require(actor, Cap.ADC_VIEW)
    limit = max(1, min(limit, LIST_LIMIT))
    return list(
        CabinetFeed.objects.filter(site=actor.site)
        .select_related("received_by")
        .order_by("-received_at", "-id")[:limit]
    )


def feed_get(*, actor: User, feed_id: int) -> CabinetFeed:
    """One feed of the actor's site (another site's does not exist here)."""
    require(actor, Cap.ADC_VIEW)
    found = (
        CabinetFeed.objects.select_related("received_by")
        .filter(site=actor.site, pk=feed_id)
        .first()
    )
    if found is None:
        raise NotFound("No such cabinet feed at this pharmacy.")
    return found


def feed_moves(feed: CabinetFeed) -> QuerySet[CabinetMove]:
    return (
        CabinetMove.objects.filter(feed=feed)
        .select_related("cabinet", "pocket", "package__product", "lot", "patient")
        .order_by("id")
    )


def feed_discrepancies(feed: CabinetFeed) -> list[CabinetDiscrepancy]:
    ids = [
        e["discrepancy"]
        for e in feed.errors or []
        if isinstance(e, dict) and isinstance(e.get("discrepancy"), int)
    ]
    return list(
        CabinetDiscrepancy.objects.filter(site=feed.site_id, pk__in=ids)
        .select_related("cabinet", "pocket", "package")
        .order_by("id")
    )


def feed_notes(feed: CabinetFeed, kind: str | None = None) -> list[dict[str, Any]]:
    """The feed's entries (rows refused, skipped, confirmed…), optionally of one kind."""
    entries = [e for e in feed.errors or [] if isinstance(e, dict)]
    if kind is not None:
        entries = [e for e in entries if e.get("kind") == kind]
    return entries


@dataclass(frozen=True)
class MoveRow:
    id: int
    cabinet: str
    pocket: str
    ndc: str
    drug: str
    lot: str
    event: str
    event_label: str
    quantity: str
    balance_after: str
    occurred_at: Any
    cabinet_user: str
    witness: str
    patient: str
    override: bool
    external_id: str
    note: str


def move_rows(actor: User, feed: CabinetFeed) -> list[MoveRow]:
    """The feed's moves for display, patients named only for roles with patient.view."""
    named = has(actor, Cap.PATIENT_VIEW)
    out = []
    for m in feed_moves(feed):
        if m.patient_id is None and not m.patient_ref:
            patient = ""
        elif not named:
            patient = "a patient"
        elif m.patient is not None:
            patient = f"{m.patient} (MRN {m.patient_ref})" if m.patient_ref else str(m.patient)
        else:
            patient = f"MRN {m.patient_ref} (not on file)"
        out.append(
            MoveRow(
                id=m.pk,
                cabinet=m.cabinet.code,
                pocket=m.pocket.place,
                ndc=m.package.ndc10,
                drug=str(m.package.product),
                lot=m.lot.number,
                event=m.event,
                event_label=m.get_event_display(),
                quantity=f"{m.quantity.normalize():f}",
                balance_after=f"{m.balance_after.normalize():f}",
                occurred_at=m.occurred_at,
                cabinet_user=m.cabinet_user,
                witness=m.witness_name,
                patient=patient,
                override=m.override,
                external_id=m.external_id,
                note=m.note,
            )
        )
    return out
