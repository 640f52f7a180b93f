"""Choices of institutional pharmacy: long-term care (facilities, census, cycle fills,
repackaging, adherence packaging) and automated dispensing cabinets."""

from __future__ import annotations

from django.db import models


class FacilityKind(models.TextChoices):
    SNF = "snf", "Skilled nursing facility"
    ALF = "alf", "Assisted living facility"
    GROUP_HOME = "group_home", "Group home"
    HOSPICE = "hospice", "Hospice"
    HOSPITAL = "hospital", "Hospital"
    OTHER = "other", "Other"


class ResidentStatus(models.TextChoices):
    ADMITTED = "admitted", "In the facility"
    LEAVE = "leave", "On leave of absence"
    DISCHARGED = "discharged", "Discharged"


class CensusKind(models.TextChoices):
    ADMIT = "admit", "Admitted"
    DISCHARGE = "discharge", "Discharged"
    LEAVE = "leave", "Left on leave of absence"
    RETURN = "return", "Returned from leave"
    READMIT = "readmit", "Readmitted"
    ROOM_MOVE = "room_move", "Moved room or unit"


class CycleMode(models.TextChoices):
    PERIOD = "period", "By period (everyone on the same cycle start)"
    ANNIVERSARY = "anniversary", "By anniversary (each resident's admission day)"


class CycleRunStatus(models.TextChoices):
    OPEN = "open", "Generated: filling"
    DONE = "done", "Filled and verified"
    CANCELLED = "cancelled", "Cancelled"


class CycleLineStatus(models.TextChoices):
    QUEUED = "queued", "Fill queued"
    PRORATED = "prorated", "Short fill queued to align the cycle"
    SKIPPED = "skipped", "Not filled"
    STOPPED = "stopped", "Stopped by a census change"


class RepackRule(models.TextChoices):
    """Who sets a repackaged unit dose's beyond-use date (reference §6.2)."""

    STATE_12_MONTHS = (
        "state_12_months",
        ("State-licensed pharmacy: 12 months or the manufacturer's expiry, if earlier"),
    )
    FDA_6_MONTHS_25 = (
        "fda_6_months_25",
        ("FDA repackager: 6 months or 25 % of the time left to expiry, if earlier"),
    )
    CUSTOM_MONTHS = "custom_months", "A board's own limit in months, capped by the expiry"


class ContainerClass(models.TextChoices):
    """USP <671> moisture-permeation class of the unit-dose or blister packaging."""

    A = "A", "Class A"
    B = "B", "Class B"


class PackagingStatus(models.TextChoices):
    MADE = "made", "Made: waiting for the pharmacist's check"
    CHECKED = "checked", "Checked by the pharmacist"
    REJECTED = "rejected", "Rejected"


class Slot(models.TextChoices):
    """Administration time slots of an adherence card (and of a facility's med pass)."""

    MORNING = "morning", "Morning"
    NOON = "noon", "Noon"
    EVENING = "evening", "Evening"
    BEDTIME = "bedtime", "Bedtime"


class CabinetVendor(models.TextChoices):
    PYXIS = "pyxis", "BD Pyxis"
    OMNICELL = "omnicell", "Omnicell"
    OTHER = "other", "Other"


class CabinetEvent(models.TextChoices):
    """What a cabinet transaction did to a pocket. The sign follows."""

    RESTOCK = "restock", "Restocked"
    REMOVAL = "removal", "Removed for a patient"
    RETURN = "return", "Returned to the pocket"
    WASTE = "waste", "Wasted"
    COUNT = "count", "Counted"
    UNLOAD = "unload", "Unloaded back to the pharmacy"


class FeedSource(models.TextChoices):
    CSV = "csv", "Transaction file (CSV)"
    HL7 = "hl7", "HL7 v2 message"
    USER = "user", "Entered in rxdesk"


class FeedStatus(models.TextChoices):
    ACCEPTED = "accepted", "Accepted"
    PARTIAL = "partial", "Accepted with rows refused"
    REJECTED = "rejected", "Rejected"
    DUPLICATE = "duplicate", "Already received"


class DiscrepancyKind(models.TextChoices):
    COUNT_MISMATCH = "count_mismatch", "Count did not match"
    SHORT_REMOVAL = "short_removal", "Removal exceeds the stock on record"


class DiscrepancyStatus(models.TextChoices):
    OPEN = "open", "Open"
    RESOLVED = "resolved", "Resolved"


class DiscrepancyCause(models.TextChoices):
    MISCOUNT = "miscount", "Miscount at the last access"
    UNDOCUMENTED_REMOVAL = "undocumented_removal", "Removal not documented"
    UNDOCUMENTED_RETURN = "undocumented_return", "Return not documented"
    UNDOCUMENTED_WASTE = "undocumented_waste", "Waste not documented"
    WRONG_POCKET = "wrong_pocket", "Restocked or returned to the wrong pocket"
    RESTOCK_ERROR = "restock_error", "Restock quantity error"
    DIVERSION_SUSPECTED = "diversion_suspected", "Unexplained: diversion suspected"
    OTHER = "other", "Other"


class OverrideOutcome(models.TextChoices):
    APPROPRIATE = "appropriate", "Appropriate (emergency or order followed)"
    FOLLOW_UP = "follow_up", "Needs follow-up with nursing"
