from __future__ import annotations

from typing import TYPE_CHECKING

from django.apps import AppConfig

if TYPE_CHECKING:
    from rxdesk.claims.models import Plan
    from rxdesk.claims.seams import ClaimMarks
    from rxdesk.rx.models import Fill

# NCPDP 420-DK Submission Clarification Code 47: "Shortened Days Supply Fill" — a fill
# shortened to bring the patient's medications to one sync date.
SCC_SHORTENED_DAYS_SUPPLY = "47"


def sync_claim_marks(fill: Fill, plan: Plan) -> ClaimMarks:
    """Mark the claim of a synchronization short fill with SCC 47."""
    from rxdesk.claims.seams import ClaimMarks
    from rxdesk.medsync.services import sync_short_fill

    if fill.pk and sync_short_fill(fill.pk):
        return ClaimMarks(clarification_codes=(SCC_SHORTENED_DAYS_SUPPLY,))
    return ClaimMarks()


class MedsyncConfig(AppConfig):
    name = "rxdesk.medsync"
    label = "medsync"
    verbose_name = "Medication synchronization"

    def ready(self) -> None:
        from rxdesk.claims.seams import register_claim_marker

        register_claim_marker(sync_claim_marks)
