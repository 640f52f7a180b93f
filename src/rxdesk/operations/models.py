"""Operations: who is on duty (and the technician-to-pharmacist ratio), the cleaning
schedule and its records, the waste log, and the automation equipment's maintenance and
downtime log."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

from rxdesk.core.choices import Role
from rxdesk.core.models import Site
from rxdesk.operations.choices import (
    CleaningArea,
    CleaningFrequency,
    EquipmentEventKind,
    EquipmentKind,
    WasteKind,
    WasteUnit,
)
from rxdesk.rx.models import DispensingDevice

USER = settings.AUTH_USER_MODEL


class OperationsSettings(models.Model):
    """A site's staffing rule as its state board writes it, entered by the PIC. There is no
    table of states in the code: rules change and differ by technician category. The row is
    also the per-site lock of duty sign-on (``duty_version``), see ``services_duty``."""

    site = models.OneToOneField(
        Site, on_delete=models.PROTECT, primary_key=True, related_name="operations_settings"
    )
    max_technicians_per_pharmacist = models.PositiveSmallIntegerField(
        "technicians allowed per pharmacist on duty",
        null=True,
        blank=True,
        validators=[MinValueValidator(1)],
        help_text=(
            "Your state board's ratio, e.g. 3 for 1:3. Leave empty where the state sets no "
            "limit (Illinois for registered technicians, for example)."
        ),
    )
    trainees_count = models.BooleanField(
        "technicians in training count toward the ratio", default=True
    )
    citation = models.CharField(
        "rule or citation", max_length=300, blank=True, help_text="e.g. the board rule number"
    )
    duty_version = models.PositiveBigIntegerField(default=0, editable=False)
    updated_at = models.DateTimeField(default=timezone.now)
    updated_by = models.ForeignKey(USER, on_delete=models.PROTECT, null=True, related_name="+")

    class Meta:
        verbose_name_plural = "operations settings"
        constraints = [
            models.CheckConstraint(
                condition=Q(max_technicians_per_pharmacist__isnull=True)
                | Q(max_technicians_per_pharmacist__gte=1),
                name="ops_settings_ratio_positive",
            )
        ]

    def __str__(self) -> str:
        return f"Operations settings of site {self.site_id}"


class DutyShift(models.Model):
    """One person's time on duty, from sign-on to sign-off. The role is copied at sign-on.
    A sign-on (or a pharmacist's sign-off) that left more technicians on duty than the
    state's ratio allows is kept with the counts at that moment and the reason given."""

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="+")
    person = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="duty_shifts")
    role = models.CharField(max_length=32, choices=Role.choices)
    started_at = models.DateTimeField(default=timezone.now)
    ended_at = models.DateTimeField(null=True, blank=True)
    over_ratio = models.BooleanField(default=False)
    technicians_at_sign_on = models.PositiveSmallIntegerField(null=True, blank=True)
    pharmacists_at_sign_on = models.PositiveSmallIntegerField(null=True, blank=True)
    over_ratio_reason = models.CharField(max_length=300, blank=True)
    warning = models.CharField(max_length=300, blank=True, help_text="the warning shown")
    warned = models.CharField(
        max_length=300, blank=True, help_text="who was warned: the person and the pharmacists"
    )
    ended_by = models.ForeignKey(
        USER, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    end_reason = models.CharField(max_length=300, blank=True)
    ended_over_ratio = models.BooleanField(default=False)

    class Meta:
        ordering = ["-started_at", "-pk"]
        indexes = [models.Index(fields=["site", "started_at"])]
        constraints = [
            models.UniqueConstraint(
                fields=["person"],
                condition=Q(ended_at__isnull=True),
                name="ops_one_open_shift_per_person",
            ),
            models.CheckConstraint(
                condition=Q(ended_at__isnull=True) | Q(ended_at__gte=models.F("started_at")),
                name="ops_shift_ends_after_start",
            ),
            models.CheckConstraint(
                condition=Q(over_ratio=False) | ~Q(over_ratio_reason=""),
                name="ops_over_ratio_has_reason",
            ),
        ]

    def __str__(self) -> str:
        return f"Shift {self.pk} of user {self.person_id}"


class CleaningTask(models.Model):
    """A cleaning duty on the site's schedule (the PIC keeps it)."""

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="+")
    area = models.CharField(max_length=20, choices=CleaningArea.choices)
    name = models.CharField(max_length=120)
    frequency = models.CharField(max_length=10, choices=CleaningFrequency.choices)
    agent = models.CharField("cleaning agent", max_length=120, blank=True)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["area", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["site", "area", "name"], name="ops_cleaning_task_unique"
            )
        ]

    def __str__(self) -> str:
        return self.name


class CleaningRecord(models.Model):
    """A cleaning done: who, when, with which agent (and its lot)."""

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="+")
    task = models.ForeignKey(CleaningTask, on_delete=models.PROTECT, related_name="records")
    done_by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")
    done_at = models.DateTimeField()
    agent = models.CharField(max_length=120, blank=True)
    agent_lot = models.CharField(max_length=40, blank=True)
    note = models.CharField(max_length=300, blank=True)
    recorded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-done_at", "-pk"]
        indexes = [models.Index(fields=["site", "done_at"])]

    def __str__(self) -> str:
        return f"Cleaning {self.pk}"


class WasteRecord(models.Model):
    """A waste container sealed or picked up (not controlled-substance destruction: that is
    DEA Form 41 in the controlled app)."""

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=20, choices=WasteKind.choices)
    container_id = models.CharField(max_length=40, blank=True)
    quantity = models.DecimalField(max_digits=10, decimal_places=3)
    unit = models.CharField(max_length=10, choices=WasteUnit.choices)
    hauler = models.CharField(max_length=120, blank=True)
    manifest_number = models.CharField("manifest or tracking number", max_length=40, blank=True)
    sealed_at = models.DateTimeField(null=True, blank=True)
    picked_up_at = models.DateTimeField(null=True, blank=True)
    recorded_by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")
    witness = models.ForeignKey(
        USER, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    note = models.CharField(max_length=300, blank=True)
    recorded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-recorded_at", "-pk"]
        indexes = [models.Index(fields=["site", "recorded_at"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(quantity__gt=Decimal(0)), name="ops_waste_quantity_positive"
            ),
            models.CheckConstraint(
                condition=Q(sealed_at__isnull=False) | Q(picked_up_at__isnull=False),
                name="ops_waste_sealed_or_picked_up",
            ),
        ]

    def __str__(self) -> str:
        return f"Waste {self.pk}"


class Equipment(models.Model):
    """A piece of automation or equipment on the site's list (the PIC keeps it)."""

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="+")
    name = models.CharField(max_length=80)
    kind = models.CharField(max_length=20, choices=EquipmentKind.choices)
    vendor = models.CharField(max_length=80, blank=True)
    model = models.CharField(max_length=80, blank=True)
    serial = models.CharField(max_length=60, blank=True)
    maintenance_days = models.PositiveSmallIntegerField(
        "maintenance every (days)", null=True, blank=True, validators=[MinValueValidator(1)]
    )
    device = models.ForeignKey(
        DispensingDevice, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "equipment"
        constraints = [
            models.UniqueConstraint(fields=["site", "name"], name="ops_equipment_name_unique"),
            models.CheckConstraint(
                condition=Q(maintenance_days__isnull=True) | Q(maintenance_days__gte=1),
                name="ops_equipment_interval_positive",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class EquipmentEvent(models.Model):
    """Maintenance, calibration, downtime or repair of a piece of equipment. A downtime (or
    repair) stays open until it is ended."""

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="+")
    equipment = models.ForeignKey(Equipment, on_delete=models.PROTECT, related_name="events")
    kind = models.CharField(max_length=12, choices=EquipmentEventKind.choices)
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
    vendor_ticket = models.CharField(max_length=40, blank=True)
    description = models.CharField(max_length=500, blank=True)
    recorded_by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")
    ended_by = models.ForeignKey(
        USER, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    recorded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-started_at", "-pk"]
        indexes = [models.Index(fields=["site", "started_at"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(ended_at__isnull=True) | Q(ended_at__gte=models.F("started_at")),
                name="ops_event_ends_after_start",
            ),
            models.UniqueConstraint(
                fields=["equipment"],
                condition=Q(kind="downtime", ended_at__isnull=True),
                name="ops_one_open_downtime",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} of {self.equipment_id}"
