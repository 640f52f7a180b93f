"""Choices of duty, cleaning, waste and equipment records."""

from __future__ import annotations

from django.db import models


class CleaningArea(models.TextChoices):
    """Areas of the dispensing pharmacy. The compounding area is not here: its cleaning is
    kept in the compounding app's cleanroom logs (USP <795>/<797>)."""

    COUNTER = "counter", "Counter and pickup"
    FILL_STATION = "fill_station", "Fill stations"
    COUNTING_TRAYS = "counting_trays", "Counting trays and spatulas"
    REFRIGERATOR = "refrigerator", "Refrigerator and freezer"
    SHELVES = "shelves", "Shelves and bins"
    RESTROOM = "restroom", "Restroom"
    FLOOR = "floor", "Floors"
    OTHER = "other", "Other"


class CleaningFrequency(models.TextChoices):
    SHIFT = "shift", "Each shift"
    DAILY = "daily", "Daily"
    WEEKLY = "weekly", "Weekly"
    MONTHLY = "monthly", "Monthly"


class CleaningStatus(models.TextChoices):
    DONE = "done", "Done"
    DUE = "due", "Due"
    OVERDUE = "overdue", "Overdue"


class WasteKind(models.TextChoices):
    """Waste leaving the pharmacy. Controlled-substance destruction is not here: it is the
    DEA Form 41 record in the controlled app."""

    RCRA_HAZARDOUS = "rcra_hazardous", "RCRA hazardous pharmaceutical waste"
    SHARPS = "sharps", "Sharps container"
    NON_HAZARDOUS = "non_hazardous", "Non-hazardous pharmaceutical waste"
    TRACE_CHEMO = "trace_chemo", "Trace chemotherapy waste"
    UNIVERSAL = "universal", "Universal waste (batteries, lamps)"
    P_LISTED = "p_listed", "P-listed container (e.g. warfarin, nicotine)"


# A pick-up of these leaves with a hazardous-waste manifest or a tracking number.
MANIFEST_REQUIRED = frozenset(
    {WasteKind.RCRA_HAZARDOUS, WasteKind.SHARPS, WasteKind.TRACE_CHEMO, WasteKind.P_LISTED}
)


class WasteUnit(models.TextChoices):
    LB = "lb", "lb"
    KG = "kg", "kg"
    GAL = "gal", "gal"
    CONTAINER = "container", "container(s)"


class EquipmentKind(models.TextChoices):
    ROBOT = "robot", "Robot"
    COUNTING_MACHINE = "counting_machine", "Counting machine"
    PACKAGER = "packager", "Packager"
    CABINET = "cabinet", "Cabinet"
    REFRIGERATOR = "refrigerator", "Refrigerator"
    LABEL_PRINTER = "label_printer", "Label printer"
    OTHER = "other", "Other"


class EquipmentEventKind(models.TextChoices):
    MAINTENANCE = "maintenance", "Maintenance"
    CALIBRATION = "calibration", "Calibration"
    DOWNTIME = "downtime", "Downtime"
    REPAIR = "repair", "Repair"
