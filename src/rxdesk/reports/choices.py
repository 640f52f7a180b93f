"""Choices of the reports app."""

from __future__ import annotations

from django.db import models


class ReportCode(models.TextChoices):
    """The daily reports, by a stable code (used in URLs, file names and the API)."""

    DISPENSING = "dispensing", "Dispensing report"
    CONTROLLED = "controlled", "Controlled-substance log"
    INVENTORY_MOVEMENT = "inventory_movement", "Inventory movement"
    CLAIMS_SUMMARY = "claims_summary", "Claims summary"
    WILL_CALL_AGING = "will_call_aging", "Will-call aging"
    EXPIRING_STOCK = "expiring_stock", "Expiring stock"
    INTERVENTIONS = "interventions", "Interventions"


class ReportFormat(models.TextChoices):
    CSV = "csv", "CSV"
    PDF = "pdf", "PDF"
