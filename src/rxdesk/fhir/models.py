"""What the FHIR interface keeps: where imported rows came from (so a re-import never
duplicates), medication history read from other systems, import runs, bulk exports, and the
FHIR prescriptions received (kept as sent beside the e-prescription they became)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from rxdesk.core.models import Site
from rxdesk.patients.models import Patient

USER = settings.AUTH_USER_MODEL


class RunStatus(models.TextChoices):
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class ImportRun(models.Model):
    """One ``rxdesk import-fhir`` run: what it read and what it did, per resource type."""

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="+")
    path = models.CharField(max_length=500)
    started_by = models.ForeignKey(USER, on_delete=models.PROTECT, null=True, related_name="+")
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=8, choices=RunStatus.choices, default=RunStatus.RUNNING)
    files = models.PositiveIntegerField(default=0)
    # {"Patient": {"created": 1, "updated": 0, "unchanged": 0, "skipped": 0}, ...}
    counts = models.JSONField(default=dict, blank=True)
    # [{"file": ..., "resource": "Patient/abc", "message": ...}] (at most 500 kept)
    problems = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["-started_at"]

    def __str__(self) -> str:
        return f"FHIR import {self.pk} ({self.get_status_display()})"


class SourceLink(models.Model):
    """An imported resource and the row it became: (site, source system, type, source id)
    is unique, so importing the same bundle again updates or leaves alone, never doubles."""

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="+")
    source = models.CharField(max_length=200, help_text="The sender's id system, e.g. urn:uuid")
    resource_type = models.CharField(max_length=40)
    source_id = models.CharField(max_length=200)
    target_type = models.CharField(max_length=60, help_text="app_label.model of the row made")
    target_id = models.PositiveBigIntegerField()
    digest = models.CharField(max_length=64, help_text="SHA-256 of the resource last imported")
    run = models.ForeignKey(ImportRun, on_delete=models.SET_NULL, null=True, related_name="+")
    imported_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["site", "source", "resource_type", "source_id"],
                name="fhir_sourcelink_unique",
            )
        ]
        indexes = [models.Index(fields=["target_type", "target_id"])]

    def __str__(self) -> str:
        return f"{self.resource_type}/{self.source_id} → {self.target_type}#{self.target_id}"


class MedicationHistory(models.Model):
    """A medication from another system's record (an imported MedicationRequest or
    MedicationStatement). History for screening, med rec and the profile — never a
    prescription this pharmacy fills."""

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="+")
    patient = models.ForeignKey(
        Patient, on_delete=models.PROTECT, related_name="medication_history"
    )
    status = models.CharField(max_length=20, help_text="As the source said: active, completed…")
    drug_name = models.CharField(max_length=300)
    rxnorm = models.CharField("RxNorm code", max_length=12, blank=True)
    ndc11 = models.CharField("NDC (11-digit)", max_length=11, blank=True)
    package = models.ForeignKey(
        "catalog.Package", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    authored_on = models.DateField(null=True, blank=True)
    prescriber_name = models.CharField(max_length=150, blank=True)
    prescriber_npi = models.CharField("prescriber NPI", max_length=10, blank=True)
    directions = models.CharField(max_length=1000, blank=True)
    quantity = models.DecimalField(max_digits=10, decimal_places=3, null=True, blank=True)
    quantity_unit = models.CharField(max_length=20, blank=True)
    days_supply = models.PositiveSmallIntegerField(null=True, blank=True)
    refills = models.PositiveSmallIntegerField(null=True, blank=True)
    reason = models.CharField(max_length=200, blank=True)
    source = models.CharField(max_length=200, help_text="The system it came from")
    source_id = models.CharField(max_length=200)
    run = models.ForeignKey(ImportRun, on_delete=models.SET_NULL, null=True, related_name="+")
    imported_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-authored_on", "-pk"]
        verbose_name_plural = "medication history"

    def __str__(self) -> str:
        return f"{self.drug_name} ({self.status})"


class Export(models.Model):
    """A whole-pharmacy bulk export (FHIR Bulk Data style): one NDJSON file per type."""

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="+")
    requested_by = models.ForeignKey(USER, on_delete=models.PROTECT, null=True, related_name="+")
    requested_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=8, choices=RunStatus.choices, default=RunStatus.RUNNING)
    types = models.JSONField(default=list, blank=True)
    since = models.DateTimeField(null=True, blank=True)
    directory = models.CharField(max_length=500, blank=True)
    error = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-requested_at"]

    def __str__(self) -> str:
        return f"FHIR export {self.pk} ({self.get_status_display()})"


class ExportFile(models.Model):
    export = models.ForeignKey(Export, on_delete=models.CASCADE, related_name="files")
    resource_type = models.CharField(max_length=40)
    count = models.PositiveIntegerField()
    path = models.CharField(max_length=500)
    size = models.PositiveBigIntegerField()
    sha256 = models.CharField(max_length=64)

    class Meta:
        ordering = ["resource_type"]
        constraints = [
            models.UniqueConstraint(
                fields=["export", "resource_type"], name="fhir_exportfile_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.resource_type}.ndjson ({self.count:,})"


class InboundRequest(models.Model):
    """A MedicationRequest received at POST /fhir/MedicationRequest (or in a transaction
    Bundle), kept exactly as sent beside the e-prescription it became. (site, key) is unique:
    the same request sent again answers with what the first one made."""

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="+")
    key = models.CharField(
        max_length=300, help_text="identifier system|value, else the body's hash"
    )
    digest = models.CharField(max_length=64, help_text="SHA-256 of the body as received")
    body = models.TextField()
    message = models.ForeignKey(
        "rx.ErxMessage", on_delete=models.PROTECT, null=True, related_name="+"
    )
    received_by = models.ForeignKey(USER, on_delete=models.PROTECT, null=True, related_name="+")
    received_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["site", "key"], name="fhir_inbound_unique")]

    def __str__(self) -> str:
        return f"FHIR MedicationRequest {self.key}"
