"""Choices of the outreach lists, named as a pharmacy says them."""

from __future__ import annotations

from django.db import models


class ListKind(models.TextChoices):
    """The four outreach lists (the tabs of the outreach screen, keys 1–4)."""

    REFILLS = "refills", "Refills due"
    ADHERENCE = "adherence", "Low adherence"
    VACCINES = "vaccines", "Due for vaccines"
    SYNC = "sync", "Eligible for med sync"


class Outcome(models.TextChoices):
    """How one call, text or visit about an outreach list ended."""

    REACHED = "reached", "Reached"
    LEFT_MESSAGE = "left_message", "Left a message"
    NO_ANSWER = "no_answer", "No answer"
    WRONG_NUMBER = "wrong_number", "Wrong number"
    DECLINED = "declined", "Declined"
    REFILL_QUEUED = "refill_queued", "Refill queued"
    SCHEDULED = "scheduled", "Scheduled"
