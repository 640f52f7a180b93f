"""Medication synchronization: a patient's chronic medications aligned to one pickup day
each month.

An enrollment names the sync day of the month (1–31; a short month uses its last day);
each member prescription is included or kept out with its reason; a cycle is one month's
sync date with its pre-sync call(s) and the fills planned and then queued through the
prescription services (never written here)."""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from rxdesk.core.models import Site, User
from rxdesk.medsync.choices import CallOutcome, CycleStatus, EndReason, Exclusion, PlanAction
from rxdesk.patients.models import Patient
from rxdesk.rx.models import Fill, Prescription


class SyncEnrollment(models.Model):
    """A patient enrolled in medication synchronization at one pharmacy. One active
    enrollment per patient per site; an ended one stays as history."""

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="+")
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="sync_enrollments")
    active = models.BooleanField(default=True)
    sync_day = models.PositiveSmallIntegerField(
        help_text="Day of the month (1–31); in a shorter month, its last day."
    )
    anchor_date = models.DateField(help_text="The first sync date.")
    consent_note = models.CharField(max_length=300, help_text="How the patient agreed.")
    enrolled_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    enrolled_at = models.DateTimeField(default=timezone.now)
    ended_at = models.DateTimeField(null=True, blank=True)
    ended_by = models.ForeignKey(
        User, on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    end_reason = models.CharField(max_length=20, choices=EndReason.choices, blank=True)
    end_note = models.CharField(max_length=300, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["site", "patient"],
                condition=models.Q(active=True),
                name="medsync_one_active_enrollment",
            ),
            models.CheckConstraint(
                condition=models.Q(sync_day__gte=1, sync_day__lte=31),
                name="medsync_sync_day_range",
            ),
            models.CheckConstraint(
                condition=models.Q(active=True, ended_at__isnull=True)
                | models.Q(active=False, ended_at__isnull=False),
                name="medsync_ended_when_inactive",
            ),
        ]
        indexes = [models.Index(fields=["site", "active"], name="medsync_site_active")]

    def __str__(self) -> str:
        return f"Sync enrollment {self.pk} (day {self.sync_day})"


class SyncMember(models.Model):
    """One prescription of an enrolled patient: aligned to the sync date, or kept out
    with its reason (a CII, an acute course, …)."""

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="+")
    enrollment = models.ForeignKey(SyncEnrollment, on_delete=models.PROTECT, related_name="members")
    prescription = models.ForeignKey(Prescription, on_delete=models.PROTECT, related_name="+")
    included = models.BooleanField(default=True)
    exclusion = models.CharField(max_length=20, choices=Exclusion.choices, blank=True)
    note = models.CharField(max_length=200, blank=True)
    changed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["enrollment", "prescription"], name="medsync_member_unique"
            ),
            models.CheckConstraint(
                condition=models.Q(included=True, exclusion="")
                | (models.Q(included=False) & ~models.Q(exclusion="")),
                name="medsync_member_exclusion_reason",
            ),
        ]

    def __str__(self) -> str:
        return f"Sync member Rx {self.prescription_id}"


class SyncCycle(models.Model):
    """One month's sync date of an enrollment: called, confirmed, then its fills queued."""

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="+")
    enrollment = models.ForeignKey(SyncEnrollment, on_delete=models.PROTECT, related_name="cycles")
    sync_date = models.DateField()
    status = models.CharField(
        max_length=10, choices=CycleStatus.choices, default=CycleStatus.TO_CALL
    )
    alignment = models.BooleanField(
        default=False, help_text="The first cycle: short fills bring every medication in line."
    )
    created_at = models.DateTimeField(default=timezone.now)
    queued_at = models.DateTimeField(null=True, blank=True)
    queued_by = models.ForeignKey(
        User, on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["enrollment", "sync_date"], name="medsync_cycle_unique_date"
            ),
        ]
        indexes = [models.Index(fields=["site", "status", "sync_date"], name="medsync_cycle_due")]

    def __str__(self) -> str:
        return f"Sync cycle {self.sync_date:%m/%d/%Y}"


class SyncCall(models.Model):
    """A pre-sync call to the patient and its outcome (append-only)."""

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="+")
    cycle = models.ForeignKey(SyncCycle, on_delete=models.PROTECT, related_name="calls")
    called_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    called_at = models.DateTimeField(default=timezone.now)
    outcome = models.CharField(max_length=12, choices=CallOutcome.choices)
    note = models.CharField(max_length=300, blank=True)

    def __str__(self) -> str:
        return f"Sync call {self.pk} ({self.outcome})"


class SyncFill(models.Model):
    """One medication of a cycle: what the plan says (short fill, regular, next month,
    change the next full fill) and, once queued, the fill made by the prescription
    services (or why it could not be queued)."""

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="+")
    cycle = models.ForeignKey(SyncCycle, on_delete=models.PROTECT, related_name="fills")
    prescription = models.ForeignKey(Prescription, on_delete=models.PROTECT, related_name="+")
    action = models.CharField(max_length=12, choices=PlanAction.choices)
    due_date = models.DateField(help_text="When the medication runs out.")
    target_date = models.DateField(help_text="The sync date this fill lasts to.")
    days_supply = models.PositiveSmallIntegerField()
    quantity = models.DecimalField(max_digits=10, decimal_places=3)
    short_fill = models.BooleanField(default=False)
    warning = models.CharField(max_length=300, blank=True)
    fill = models.ForeignKey(
        Fill, on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    queue_message = models.CharField(max_length=300, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["cycle", "prescription"], name="medsync_fill_unique_rx"
            ),
            models.CheckConstraint(
                condition=models.Q(quantity__gte=0), name="medsync_fill_quantity_nonneg"
            ),
            models.CheckConstraint(
                condition=models.Q(days_supply__lte=365), name="medsync_fill_days_range"
            ),
        ]

    def __str__(self) -> str:
        return f"Sync fill Rx {self.prescription_id} ({self.action})"
