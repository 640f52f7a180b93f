"""Code sets of the drug catalog."""

from django.db import models


class DeaSchedule(models.TextChoices):
    CI = "CI", "Schedule I"
    CII = "CII", "Schedule II"
    CIII = "CIII", "Schedule III"
    CIV = "CIV", "Schedule IV"
    CV = "CV", "Schedule V"


class BillingUnit(models.TextChoices):
    """NCPDP billing units (Billing Unit Standard)."""

    EACH = "EA", "Each"
    MILLILITER = "ML", "Milliliter"
    GRAM = "GM", "Gram"


class Storage(models.TextChoices):
    ROOM = "room", "Room temperature (20–25 °C)"
    REFRIGERATE = "refrigerate", "Refrigerate (2–8 °C)"
    FREEZE = "freeze", "Freeze (−25 to −10 °C)"


class PriceKind(models.TextChoices):
    ACQUISITION = "acquisition", "Acquisition cost"
    LIST = "list", "List price (AWP-style)"
    USUAL_CUSTOMARY = "usual_customary", "Usual and customary"
