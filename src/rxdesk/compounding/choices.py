"""Choices of the compounding app. Values of Category, Preparation and Storage are the
words of the BUD contract (POST /api/v1/compounding/bud)."""

from __future__ import annotations

from django.db import models


class Category(models.TextChoices):
    """What the chapter the preparation falls under calls it (USP <795>, <797> 2023)."""

    NONSTERILE = "nonsterile", "Nonsterile (USP <795>)"
    IMMEDIATE_USE = "immediate-use", "Sterile, immediate use (<797>)"
    CATEGORY_1 = "1", "Sterile Category 1 (<797>)"
    CATEGORY_2 = "2", "Sterile Category 2 (<797>)"
    CATEGORY_3 = "3", "Sterile Category 3 (<797>)"


STERILE_CATEGORIES = frozenset(
    {Category.IMMEDIATE_USE, Category.CATEGORY_1, Category.CATEGORY_2, Category.CATEGORY_3}
)


class Preparation(models.TextChoices):
    """The rows of the USP <795> (2023) default BUD table, by water activity."""

    AQUEOUS = "aqueous", "Aqueous (water activity ≥ 0.60)"
    NONAQUEOUS_ORAL_LIQUID = "nonaqueous-oral-liquid", "Nonaqueous oral liquid (aw < 0.60)"
    OTHER_NONAQUEOUS = "other-nonaqueous", "Other nonaqueous form (aw < 0.60): capsules, ointments…"


class Storage(models.TextChoices):
    ROOM = "room", "Controlled room temperature (20–25 °C)"
    REFRIGERATOR = "refrigerator", "Refrigerator (2–8 °C)"
    FREEZER = "freezer", "Freezer (−25 to −10 °C)"


class Sterilization(models.TextChoices):
    """How a sterile preparation is made sterile (the compounding record's method)."""

    NONE = "", "Not applicable / aseptic from sterile components"
    FILTRATION = "filtration", "Filtration (0.22 µm), aseptically processed"
    STEAM = "steam", "Steam (terminal)"
    DRY_HEAT = "dry_heat", "Dry heat (terminal)"
    IRRADIATION = "irradiation", "Irradiation (terminal)"


class ContainerKind(models.TextChoices):
    """What the finished preparation is labeled as (USP <797> labeling)."""

    SINGLE_DOSE = "single-dose", "Single-dose container"
    MULTIPLE_DOSE = "multiple-dose", "Multiple-dose container"
    NOT_APPLICABLE = "", "Not applicable (nonsterile)"


class SourceContainer(models.TextChoices):
    """An opened container used as a component source; drives its in-use limit (<797> 1.8)."""

    UNOPENED = "", "Unopened / not a punctured container"
    SINGLE_DOSE = "single-dose", "Single-dose vial, bag or bottle"
    AMPULE = "ampule", "Single-dose ampule"
    MULTIPLE_DOSE = "multiple-dose", "Multiple-dose vial"
    PHARMACY_BULK = "pharmacy-bulk", "Pharmacy bulk package"


class FormulaStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    APPROVED = "approved", "Approved"
    RETIRED = "retired", "Retired (superseded)"


class IngredientRole(models.TextChoices):
    ACTIVE = "active", "Active ingredient"
    VEHICLE = "vehicle", "Vehicle or base"
    DILUENT = "diluent", "Diluent"
    EXCIPIENT = "excipient", "Excipient"
    PRESERVATIVE = "preservative", "Preservative"


class RecordStatus(models.TextChoices):
    IN_PROGRESS = "in_progress", "Being compounded"
    AWAITING_VERIFICATION = "awaiting_verification", "Waiting for pharmacist verification"
    VERIFIED = "verified", "Verified and released"
    REJECTED = "rejected", "Rejected (not released)"


class RoomKind(models.TextChoices):
    BUFFER = "buffer", "Buffer room (cleanroom)"
    ANTE = "ante", "Ante-room"
    SCA = "sca", "Segregated compounding area"
    C_SEC = "c_sec", "Containment buffer room (C-SEC, hazardous)"
    C_SCA = "c_sca", "Containment segregated compounding area (C-SCA)"
    NONSTERILE = "nonsterile", "Nonsterile compounding area"
    HD_STORAGE = "hd_storage", "Hazardous drug storage room"


class IsoClass(models.TextChoices):
    ISO_5 = "5", "ISO Class 5"
    ISO_7 = "7", "ISO Class 7"
    ISO_8 = "8", "ISO Class 8"
    UNCLASSIFIED = "", "Unclassified"


class Pressure(models.TextChoices):
    POSITIVE = "positive", "Positive"
    NEGATIVE = "negative", "Negative"
    NEUTRAL = "neutral", "Neutral"


class PecKind(models.TextChoices):
    LAFW = "lafw", "Laminar airflow workbench"
    BSC_II = "bsc2", "Class II biological safety cabinet"
    BSC_III = "bsc3", "Class III biological safety cabinet"
    CAI = "cai", "Compounding aseptic isolator"
    CACI = "caci", "Compounding aseptic containment isolator"
    IVLFZ = "ivlfz", "Integrated vertical laminar flow zone"
    CVE = "cve", "Containment ventilated enclosure (nonsterile)"
    BSC_I = "bsc1", "Class I biological safety cabinet (nonsterile)"


class SampleKind(models.TextChoices):
    AIR = "air", "Viable air"
    SURFACE = "surface", "Surface"


class CleaningKind(models.TextChoices):
    CLEANING = "cleaning", "Cleaning"
    DISINFECTING = "disinfecting", "Disinfecting"
    SPORICIDAL = "sporicidal", "Sporicidal"


class CleaningArea(models.TextChoices):
    PEC_INTERIOR = "pec_interior", "PEC interior and equipment inside it"
    PEC_TRAY = "pec_tray", "PEC work tray and area beneath"
    PASS_THROUGH = "pass_through", "Pass-through chambers"
    WORK_SURFACES = "work_surfaces", "Work surfaces outside the PEC"
    FLOORS = "floors", "Floors"
    WALLS = "walls", "Walls, doors and door frames"
    CEILINGS = "ceilings", "Ceilings"
    SHELVING = "shelving", "Storage shelving and bins"
    EQUIPMENT = "equipment", "Equipment outside the PEC"


class ActionSource(models.TextChoices):
    SAMPLE = "sample", "Environmental sample over the action level"
    PRESSURE = "pressure", "Pressure differential out of range"
    CONDITIONS = "conditions", "Temperature or humidity out of range"
    CERTIFICATION = "certification", "Certification failed or lapsed"
    OTHER = "other", "Other"


class CompetencyKind(models.TextChoices):
    DIDACTIC_STERILE = "didactic_sterile", "Didactic training and test, sterile (<797>)"
    DIDACTIC_NONSTERILE = "didactic_nonsterile", "Didactic training and test, nonsterile (<795>)"
    GARBING_GFT = "garbing_gft", "Hand hygiene and garbing with gloved fingertip and thumb sampling"
    GARBING_NONSTERILE = "garbing_nonsterile", "Hand hygiene and garbing, nonsterile (observed)"
    MEDIA_FILL = "media_fill", "Media-fill test"
    CLEANING = "cleaning", "Cleaning and disinfecting competency"
    HD_TRAINING = "hd_training", "Hazardous drug handling training (<800>)"
