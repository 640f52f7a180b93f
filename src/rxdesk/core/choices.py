"""Choices shared across rxdesk: roles and pharmacy settings."""

from django.db import models


class Role(models.TextChoices):
    TECHNICIAN = "technician", "Pharmacy technician"
    TECHNICIAN_IN_TRAINING = "technician_in_training", "Technician in training"
    PHARMACIST = "pharmacist", "Pharmacist"
    PHARMACIST_IN_CHARGE = "pharmacist_in_charge", "Pharmacist-in-charge"
    INVENTORY_SPECIALIST = "inventory_specialist", "Inventory specialist"
    AUDITOR = "auditor", "Auditor"
    ADMIN = "admin", "Administrator"


TECHNICIAN_ROLES = frozenset({Role.TECHNICIAN, Role.TECHNICIAN_IN_TRAINING})
PHARMACIST_ROLES = frozenset({Role.PHARMACIST, Role.PHARMACIST_IN_CHARGE})

# Everyone whose work will touch controlled substances (counts, fills, receipts): the
# site's "MFA required" setting applies to them (DEA EPCS and CS-ordering practice).
CONTROLLED_SUBSTANCE_ROLES = frozenset(
    {Role.TECHNICIAN, Role.PHARMACIST, Role.PHARMACIST_IN_CHARGE, Role.INVENTORY_SPECIALIST}
)


class PracticeSetting(models.TextChoices):
    RETAIL = "retail", "Retail / community"
    HOSPITAL = "hospital", "Hospital / institutional"
    LTC = "ltc", "Long-term care"
    SPECIALTY = "specialty", "Specialty"
    COMPOUNDING = "compounding", "Compounding"


class Certification(models.TextChoices):
    NONE = "", "None"
    PTCB = "ptcb", "PTCB CPhT"
    EXCPT = "excpt", "NHA ExCPT"
