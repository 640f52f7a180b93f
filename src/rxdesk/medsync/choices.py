"""Choices of medication synchronization, named as a pharmacy says them."""

from __future__ import annotations

from django.db import models


class EndReason(models.TextChoices):
    PATIENT_REQUEST = "patient_request", "Patient asked to stop"
    MOVED = "moved", "Patient moved or transferred out"
    DECEASED = "deceased", "Patient deceased"
    NO_CHRONIC_MEDS = "no_chronic_meds", "No chronic medications left to align"
    OTHER = "other", "Other"


class Exclusion(models.TextChoices):
    """Why a prescription of an enrolled patient is kept out of the sync date."""

    CONTROLLED_CII = "controlled_cii", "Controlled CII (no refills, its own fill rules)"
    ACUTE = "acute", "Acute (short course)"
    AS_NEEDED = "as_needed", "As needed (PRN)"
    PATIENT_CHOICE = "patient_choice", "Patient prefers to fill it separately"
    OTHER = "other", "Other"


class CycleStatus(models.TextChoices):
    TO_CALL = "to_call", "To call"
    CALLED = "called", "Called (not yet confirmed)"
    CONFIRMED = "confirmed", "Confirmed by the patient"
    QUEUED = "queued", "Sync fills queued"
    DONE = "done", "Done"


class CallOutcome(models.TextChoices):
    CONFIRMED = "confirmed", "Reached: confirmed"
    CHANGES = "changes", "Reached: changes to make"
    HOLD = "hold", "Reached: hold this month"
    LEFT_MESSAGE = "left_message", "Left a message"
    NO_ANSWER = "no_answer", "No answer"


class PlanAction(models.TextChoices):
    """What a sync cycle does with one medication (see proration.py)."""

    SHORT = "short", "Short fill to the sync date"
    REGULAR = "regular", "Regular fill on the sync date"
    NEXT_MONTH = "next_month", "Short fill to next month's sync date"
    ADJUST_FULL = "adjust_full", "Align by changing the next full fill"
    SKIP = "skip", "Not filled this cycle"
