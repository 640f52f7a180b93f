"""Services of the outreach lists: opening a list (recorded as PHI access) and recording a
contact made from one.

The lists change no row, but they name patients with their phone numbers, medicines and
adherence: each opening or export is one audit event naming the patients shown (never their
details). Technicians, pharmacists and the PIC work the lists (``outreach.view``)."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from rxdesk.core.audit import audit_record, register_actions
from rxdesk.core.capabilities import Cap
from rxdesk.core.errors import Forbidden, Invalid, NotFound
from rxdesk.core.models import User
from rxdesk.core.services import authorize
from rxdesk.outreach import queries
from rxdesk.outreach.choices import ListKind, Outcome
from rxdesk.outreach.models import NOTE_MAX, OutreachContact
from rxdesk.patients.models import Patient

register_actions(
    {
        "outreach.list.opened": "Outreach list opened or exported (PHI)",
        "outreach.contact.recorded": "Outreach contact recorded",
    }
)

OUTPUTS = frozenset({"screen", "csv", "json"})
MAX_IDS = 1000  # the event names at most this many patients (a page is never longer)
# Outcomes that say what the patient answered: only when someone was reached.
NEEDS_NOTE = frozenset({Outcome.DECLINED, Outcome.WRONG_NUMBER})


def _signed_in(actor: User | None, cap: Cap) -> User:
    authorize(actor, cap)
    if actor is None or actor.site is None:
        raise Forbidden("Sign in: outreach is recorded under your name.")
    return actor


def outreach_list_open(
    *,
    actor: User | None,
    kind: str,
    output: str,
    filters: dict[str, Any] | None = None,
    shown: int | None = None,
) -> queries.Listing:
    """The outreach list ``kind`` (refills, adherence, vaccines, sync) of the actor's
    pharmacy, opened on a screen or as JSON, or exported as CSV. Records who opened it and
    the ids of the first ``shown`` patients (all when None) as PHI access."""
    user = _signed_in(actor, Cap.OUTREACH_VIEW)
    if kind not in ListKind.values:
        raise Invalid("Choose refills, adherence, vaccines or sync.", field="kind")
    if output not in OUTPUTS:
        raise Invalid("Choose screen, csv or json.", field="format")
    assert user.site is not None
    # The list is read before the transaction: only the audit event is written, so the
    # write lock (SQLite's IMMEDIATE transaction) is held for that one row, not the read.
    listing = queries.build(user.site, kind, filters or {})
    rows = listing.rows if shown is None else listing.rows[:shown]
    ids = list(dict.fromkeys(r.patient.pk for r in rows))
    with transaction.atomic():
        audit_record(
            actor=user,
            action="outreach.list.opened",
            object_type="outreach.list",
            object_id=kind,
            data={
                "list": kind,
                "filters": {k: str(v) for k, v in listing.filters.items()},
                "as_of": listing.today.isoformat(),
                "format": output,
                "rows": len(listing.rows),
                "shown": len(rows),
                "patient_ids": ids[:MAX_IDS],
            },
        )
    return listing


def outreach_contact_record(
    *,
    actor: User | None,
    patient_id: int,
    kind: str,
    outcome: str,
    note: str = "",
) -> OutreachContact:
    """Record one call, text or visit made from the outreach list ``kind`` to a patient of
    the actor's pharmacy and how it ended. A declined offer or a wrong number needs a note
    (what the patient said, or which number was wrong), so the next person does not call
    again blindly."""
    user = _signed_in(actor, Cap.OUTREACH_VIEW)
    if kind not in ListKind.values:
        raise Invalid("Choose the list: refills, adherence, vaccines or sync.", field="kind")
    if outcome not in Outcome.values:
        raise Invalid("Choose how the contact ended.", field="outcome")
    note = (note or "").strip()
    if len(note) > NOTE_MAX:
        raise Invalid(f"Keep the note to {NOTE_MAX} characters.", field="note")
    if outcome in NEEDS_NOTE and not note:
        label = Outcome(outcome).label.lower()
        raise Invalid(f"Add a note saying why: {label}.", field="note")
    with transaction.atomic():
        patient = Patient.objects.filter(site_id=user.site_id, pk=patient_id).first()
        if patient is None:
            raise NotFound("No such patient at this pharmacy.")
        contact = OutreachContact.objects.create(
            site_id=user.site_id,
            patient=patient,
            kind=kind,
            outcome=outcome,
            note=note,
            by=user,
            by_name=user.get_full_name() or user.get_username(),
        )
        audit_record(
            actor=user,
            action="outreach.contact.recorded",
            obj=contact,
            patient_id=patient.pk,
            data={"list": kind, "outcome": outcome, "note": bool(note)},
        )
    return contact
