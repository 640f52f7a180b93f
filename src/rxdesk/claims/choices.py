"""Choices of the claims app: where a claim stands, how a transmission ended, prior
authorization statuses, and what a pharmacist decided when a fill is not billed."""

from __future__ import annotations

from django.db import models


class ClaimStatus(models.TextChoices):
    """Where one payer's claim for one fill stands. A claim is *live* until it is reversed
    or closed: a fill has at most one live claim per payer rank (the idempotency rule)."""

    QUEUED = "queued", "Waiting in the outbox (switch not answering)"
    SENDING = "sending", "Sending"
    PAID = "paid", "Paid"
    CAPTURED = "captured", "Captured"
    REJECTED = "rejected", "Rejected"
    ATTENTION = "attention", "Needs attention"
    REVERSAL_QUEUED = "reversal_queued", "Reversal waiting in the outbox"
    REVERSED = "reversed", "Reversed"
    CLOSED = "closed", "Closed without payment"


# Paid or captured: the payer owes (or has recorded) the claim; reverse it to undo.
ACCEPTED = frozenset({ClaimStatus.PAID, ClaimStatus.CAPTURED})
# Still counts against the fill (the unique live-claim rule).
DEAD = frozenset({ClaimStatus.REVERSED, ClaimStatus.CLOSED})
# The outbox: sent when the switch answers again.
OUTBOX = frozenset({ClaimStatus.QUEUED, ClaimStatus.REVERSAL_QUEUED})


class Outcome(models.TextChoices):
    """How one exchange with a switch ended."""

    ANSWERED = "answered", "Answered"
    NO_CONNECTION = "no_connection", "Switch not reachable (nothing sent)"
    NO_ANSWER = "no_answer", "Sent, no answer (outcome unknown)"
    UNREADABLE = "unreadable", "Answer could not be read"


class TransmissionKind(models.TextChoices):
    BILLING = "B1", "B1 claim billing"
    REVERSAL = "B2", "B2 claim reversal"
    REBILL = "B3", "B3 claim rebill"
    ELIGIBILITY = "E1", "E1 eligibility check"


class PriorAuthStatus(models.TextChoices):
    NEEDED = "needed", "Needed"
    SUBMITTED = "submitted", "Submitted to the plan"
    APPROVED = "approved", "Approved"
    DENIED = "denied", "Denied"
    APPEALED = "appealed", "Appealed"
    ABANDONED = "abandoned", "Abandoned"


# A case still being worked (one per prescription and plan).
PA_OPEN = frozenset({PriorAuthStatus.NEEDED, PriorAuthStatus.SUBMITTED, PriorAuthStatus.APPEALED})


class BillingMode(models.TextChoices):
    """What a pharmacist or technician decided for a fill that is not (yet) paid."""

    CASH = "cash", "Bill as cash (the patient pays the cash price)"
    PROCEED = "proceed", "Proceed while the claim waits in the outbox"


class EligibilityStatus(models.TextChoices):
    ACTIVE = "active", "Coverage active"
    REJECTED = "rejected", "Not eligible"
    NO_ANSWER = "no_answer", "No answer"
