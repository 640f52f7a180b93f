"""Services of patients due for vaccines by age and history.

The outreach list changes no row; opening or exporting it reveals patients' names, ages,
dose histories and phone numbers, so each opening is recorded as PHI access (one audit
event naming the patients shown, never their details)."""

from __future__ import annotations

from django.db import transaction

from rxdesk.core.audit import audit_record, register_actions
from rxdesk.core.capabilities import Cap
from rxdesk.core.errors import Forbidden, Invalid
from rxdesk.core.models import User
from rxdesk.core.services import authorize
from rxdesk.immunizations.queries_outreach import DueList

register_actions(
    {
        "immunizations.outreach.opened": "Vaccine outreach list opened or exported (PHI)",
    }
)

OUTPUTS = frozenset({"screen", "csv", "json"})
MAX_IDS = 1000  # the event names at most this many patients (a page is never longer)


def outreach_list_opened(
    *, actor: User | None, listing: DueList, shown: list[int], output: str
) -> None:
    """Record that ``actor`` opened (``screen``, ``json``) or exported (``csv``) the outreach
    list, with the ids of the patients it showed."""
    authorize(actor, Cap.IMM_OUTREACH)
    if actor is None:
        raise Forbidden("Sign in: opening the outreach list is recorded under your name.")
    if output not in OUTPUTS:
        raise Invalid("Choose screen, csv or json.", field="format")
    with transaction.atomic():
        audit_record(
            actor=actor,
            action="immunizations.outreach.opened",
            object_type="immunizations.outreach",
            data={
                "group": listing.group,
                "as_of": listing.today.isoformat(),
                "format": output,
                "patients": len(listing.rows),
                "shown": len(shown),
                "patient_ids": shown[:MAX_IDS],
            },
        )
