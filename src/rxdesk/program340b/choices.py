"""Choices of the 340B program."""

from __future__ import annotations

from django.db import models


class PayerAction(models.TextChoices):
    """What a plan's rule does with an otherwise eligible dispense."""

    # Medicaid fee-for-service is carved out for a contract pharmacy (the HRSA Medicaid
    # Exclusion File) unless the covered entity carved in: such a plan is "exclude".
    EXCLUDE = "exclude", "Carved out: never 340B"
    BILL_340B = "bill_340b", "340B: mark the claim (SCC 20)"


class CaptureKind(models.TextChoices):
    """One row of the virtual inventory's history: a dispense decided, or its reversal."""

    DISPENSE = "dispense", "Dispense"
    REVERSAL = "reversal", "Return to stock (reversal)"
