"""Prescriptions, their fills, transfers, scanned hard copies and e-prescribing messages.

Rows change only through rxdesk.rx.services. The rules of the schedules live in the pure
module rxdesk.rx.rules; these tables hold what was written and what was done."""

from __future__ import annotations

from decimal import Decimal

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.utils import timezone

from rxdesk.catalog.models import Package, Product
from rxdesk.core.models import Site, User
from rxdesk.core.validators import validate_dea, validate_ncpdp_id, validate_npi, validate_phone
from rxdesk.patients.models import Patient, Prescriber
from rxdesk.rx.choices import (
    Daw,
    ErxStatus,
    FillSource,
    FillStatus,
    FillStep,
    HoldReason,
    InactiveReason,
    MessageDirection,
    Origin,
    PartialReason,
    Priority,
    QuantityUnit,
    RxStatus,
    TransferDirection,
)

MAX_REFILLS = 99
ICD10 = RegexValidator(
    r"^[A-Z][0-9][0-9A-Z](\.[0-9A-Z]{1,4})?$", "An ICD-10-CM code looks like E11.9 or I10."
)


def validate_label_printer(value: str) -> None:
    from rxdesk.rx.printing import parse_printer

    try:
        parse_printer(value)
    except ValueError as exc:
        raise ValidationError(str(exc)) from None


class RxSettings(models.Model):
    """A site's prescription rules where the state differs from the federal baseline."""

    site = models.OneToOneField(Site, on_delete=models.PROTECT, related_name="rx_settings")
    refill_threshold_percent = models.PositiveSmallIntegerField(
        default=80,
        validators=[MinValueValidator(50), MaxValueValidator(100)],
        help_text="A refill is due once this share of the last fill's days supply has passed.",
    )
    controlled_refill_threshold_percent = models.PositiveSmallIntegerField(
        default=90, validators=[MinValueValidator(50), MaxValueValidator(100)]
    )
    noncontrolled_expiry_months = models.PositiveSmallIntegerField(
        default=12,
        validators=[MinValueValidator(1), MaxValueValidator(60)],
        help_text="Months after the date written that a non-controlled prescription expires.",
    )
    cv_expiry_months = models.PositiveSmallIntegerField(
        default=12, validators=[MinValueValidator(1), MaxValueValidator(60)]
    )
    cii_expiry_days = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(365)],
        help_text="Days after the date written a Schedule II prescription may first be filled "
        "(empty: no state limit).",
    )
    service_target_minutes = models.PositiveSmallIntegerField(
        default=15,
        validators=[MinValueValidator(1), MaxValueValidator(1440)],
        help_text="Minutes a waiter's prescription should take from entry to ready.",
    )
    return_to_stock_days = models.PositiveSmallIntegerField(
        default=10,
        validators=[MinValueValidator(1), MaxValueValidator(60)],
        help_text="Days a ready fill may wait in will-call before it is returned to stock.",
    )
    label_printer = models.CharField(
        max_length=260,
        blank=True,
        validators=[validate_label_printer],
        help_text="The thermal label printer's network address (host or host:port, ZPL on "
        "port 9100); empty: labels print as PDF from the browser.",
    )
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "prescription settings"
        verbose_name_plural = "prescription settings"
        constraints = [
            models.CheckConstraint(
                condition=models.Q(
                    refill_threshold_percent__gte=50, refill_threshold_percent__lte=100
                ),
                name="rxsettings_threshold_range",
            ),
            models.CheckConstraint(
                condition=models.Q(
                    controlled_refill_threshold_percent__gte=50,
                    controlled_refill_threshold_percent__lte=100,
                ),
                name="rxsettings_cs_threshold_range",
            ),
        ]

    def __str__(self) -> str:
        return f"Prescription settings of {self.site}"


class RxNumber(models.Model):
    """The last prescription number a site handed out (one row per site, bumped in place)."""

    site = models.OneToOneField(Site, on_delete=models.PROTECT, related_name="+")
    last = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.site}: {self.last}"


class Prescription(models.Model):
    """A prescription as written, with who took it in and how."""

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="+")
    number = models.PositiveIntegerField("Rx number")
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="prescriptions")
    prescriber = models.ForeignKey(
        Prescriber, on_delete=models.PROTECT, related_name="prescriptions"
    )
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="+")
    package = models.ForeignKey(
        Package,
        on_delete=models.PROTECT,
        related_name="+",
        null=True,
        blank=True,
        help_text="The package written for, when the prescription names an NDC.",
    )
    drug_description = models.CharField(
        max_length=200, help_text="The drug as written (name, strength, form)."
    )
    schedule = models.CharField(
        max_length=4, blank=True, help_text="DEA schedule when taken in (CII…CV, empty if none)."
    )
    origin = models.PositiveSmallIntegerField(choices=Origin.choices)
    status = models.CharField(max_length=12, choices=RxStatus.choices, default=RxStatus.ACTIVE)
    hold_reason = models.CharField(max_length=20, choices=HoldReason.choices, blank=True)
    inactive_reason = models.CharField(max_length=20, choices=InactiveReason.choices, blank=True)
    status_note = models.CharField(max_length=200, blank=True)
    status_changed_at = models.DateTimeField(null=True, blank=True)
    quantity = models.DecimalField(max_digits=10, decimal_places=3)
    quantity_unit = models.CharField(max_length=2, choices=QuantityUnit.choices)
    days_supply = models.PositiveSmallIntegerField(
        validators=[MinValueValidator(1), MaxValueValidator(365)]
    )
    directions = models.CharField(
        "directions as typed", max_length=500, help_text="Sig codes or free text."
    )
    directions_en = models.CharField("directions (English)", max_length=1000)
    directions_es = models.CharField("directions (Spanish)", max_length=1000, blank=True)
    directions_flags = models.JSONField(default=list, blank=True)
    needs_review = models.BooleanField(
        default=False, help_text="Free text or unusual directions: the pharmacist looks closely."
    )
    days_supply_warning = models.CharField(max_length=400, blank=True)
    refills_authorized = models.PositiveSmallIntegerField(
        default=0, validators=[MaxValueValidator(MAX_REFILLS)]
    )
    daw = models.PositiveSmallIntegerField("DAW code", choices=Daw.choices, default=Daw.NONE)
    date_written = models.DateField()
    expires_on = models.DateField(null=True, blank=True)
    do_not_fill_before = models.DateField(null=True, blank=True)
    emergency_oral = models.BooleanField(
        "emergency oral Schedule II", default=False, help_text="Written follow-up due in 7 days."
    )
    diagnosis_code = models.CharField(
        "diagnosis (ICD-10-CM)", max_length=8, blank=True, validators=[ICD10]
    )
    notes = models.TextField(max_length=2000, blank=True)
    auto_refill = models.BooleanField("automatic refill", default=False)
    prescriber_order_number = models.CharField(max_length=35, blank=True)
    digitally_signed = models.BooleanField(
        default=False, help_text="Received as a signed electronic prescription (EPCS)."
    )
    dispensed_elsewhere = models.DecimalField(
        max_digits=10,
        decimal_places=3,
        default=Decimal(0),
        help_text="Quantity dispensed at the transferring pharmacy (transfers in).",
    )
    replaces = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="replaced_by"
    )
    entered_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+", null=True)
    entered_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["site", "number"], name="rx_site_number_unique"),
            models.CheckConstraint(condition=models.Q(quantity__gt=0), name="rx_quantity_positive"),
            models.CheckConstraint(
                condition=models.Q(days_supply__gte=1, days_supply__lte=365),
                name="rx_days_supply_range",
            ),
            models.CheckConstraint(
                condition=models.Q(refills_authorized__lte=MAX_REFILLS), name="rx_refills_range"
            ),
            models.CheckConstraint(
                condition=~models.Q(schedule="CII") | models.Q(refills_authorized=0),
                name="rx_cii_no_refills",
            ),
            models.CheckConstraint(condition=models.Q(daw__lte=9), name="rx_daw_range"),
            models.CheckConstraint(condition=models.Q(origin__lte=5), name="rx_origin_range"),
        ]
        indexes = [
            models.Index(fields=["patient", "status"], name="rx_patient_status"),
            models.Index(fields=["site", "status", "product"], name="rx_site_status_product"),
            models.Index(fields=["site", "prescriber_order_number"], name="rx_site_order_number"),
        ]

    def __str__(self) -> str:
        return f"Rx {self.number}"

    @property
    def is_controlled(self) -> bool:
        return bool(self.schedule)


class Fill(models.Model):
    """One dispensing (0 the original, 1… the refills), from the moment it is asked for.

    The fill workflow issue adds the steps between queued and dispensed."""

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="+")
    prescription = models.ForeignKey(Prescription, on_delete=models.PROTECT, related_name="fills")
    number = models.PositiveSmallIntegerField("fill number")
    status = models.CharField(max_length=12, choices=FillStatus.choices, default=FillStatus.QUEUED)
    source = models.CharField(max_length=10, choices=FillSource.choices)
    quantity = models.DecimalField(max_digits=10, decimal_places=3)
    days_supply = models.PositiveSmallIntegerField(
        validators=[MinValueValidator(1), MaxValueValidator(365)]
    )
    partial_reason = models.CharField(max_length=20, choices=PartialReason.choices, blank=True)
    fillable_on = models.DateField(
        null=True, blank=True, help_text="Requested too soon: the first day it may be filled."
    )
    too_soon_message = models.CharField(max_length=300, blank=True)
    requested_at = models.DateTimeField(default=timezone.now)
    requested_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+", null=True)
    dispensed_on = models.DateField(
        "date filled", null=True, blank=True, help_text="The day the product was counted out."
    )
    dispensed_at = models.DateTimeField(null=True, blank=True)
    cancel_reason = models.CharField(max_length=200, blank=True)
    # The workflow (rx/services/workflow.py): who did each step and when.
    priority = models.CharField(max_length=10, choices=Priority.choices, default=Priority.NORMAL)
    promised_at = models.DateTimeField(null=True, blank=True)
    hold_reason = models.CharField(max_length=20, choices=HoldReason.choices, blank=True)
    hold_note = models.CharField(max_length=200, blank=True)
    data_verified_by = models.ForeignKey(
        User, on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    data_verified_at = models.DateTimeField(null=True, blank=True)
    package = models.ForeignKey(
        Package, on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    scanned_code = models.CharField(max_length=120, blank=True)
    scan_override_reason = models.CharField(max_length=300, blank=True)
    filled_by = models.ForeignKey(
        User, on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    device = models.CharField(max_length=40, blank=True, help_text="Dispensing device used.")
    verified_by = models.ForeignKey(
        User, on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    verified_at = models.DateTimeField(null=True, blank=True)
    bin = models.CharField("will-call bin", max_length=10, blank=True)
    ready_at = models.DateTimeField(null=True, blank=True)
    sold_by = models.ForeignKey(
        User, on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    sold_at = models.DateTimeField(null=True, blank=True)
    returned_by = models.ForeignKey(
        User, on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    returned_at = models.DateTimeField(null=True, blank=True)
    labels_printed = models.PositiveSmallIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["prescription", "number"],
                condition=~models.Q(status="cancelled"),
                name="fill_number_unique",
            ),
            models.CheckConstraint(
                condition=models.Q(quantity__gt=0), name="fill_quantity_positive"
            ),
        ]
        indexes = [
            models.Index(fields=["site", "status", "fillable_on"], name="fill_queue"),
            models.Index(fields=["prescription", "-number"], name="fill_latest"),
            models.Index(fields=["site", "status", "dispensed_on"], name="fill_dispensed"),
            models.Index(fields=["site", "status", "priority"], name="fill_step_queue"),
        ]

    def __str__(self) -> str:
        return f"Rx {self.prescription.number}-{self.number}"


class FillEventQuerySet(models.QuerySet["FillEvent"]):
    def update(self, **kwargs: object) -> int:
        raise TypeError("A fill's history is append-only.")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise TypeError("A fill's history is append-only.")


class FillEvent(models.Model):
    """One step in a fill's history: who, when, from which status to which, and why.
    Append-only (the model refuses update and delete; on PostgreSQL a trigger too)."""

    fill = models.ForeignKey(Fill, on_delete=models.PROTECT, related_name="events")
    step = models.CharField(max_length=20, choices=FillStep.choices)
    from_status = models.CharField(max_length=12, blank=True)
    to_status = models.CharField(max_length=12, blank=True)
    actor = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+", null=True)
    actor_name = models.CharField(max_length=150, blank=True)
    at = models.DateTimeField(default=timezone.now)
    reason = models.CharField(max_length=300, blank=True)
    data = models.JSONField(default=dict, blank=True)

    objects = FillEventQuerySet.as_manager()

    class Meta:
        indexes = [
            models.Index(fields=["fill", "at"], name="fill_event_fill"),
            models.Index(fields=["step", "at"], name="fill_event_step"),
        ]

    def __str__(self) -> str:
        return f"{self.get_step_display()} at {self.at:%Y-%m-%d %H:%M}"

    def save(self, *args: object, **kwargs: object) -> None:
        if not self._state.adding:
            raise TypeError("A fill's history is append-only.")
        super().save(*args, **kwargs)  # type: ignore[arg-type]

    def delete(self, *args: object, **kwargs: object) -> tuple[int, dict[str, int]]:
        raise TypeError("A fill's history is append-only.")


class DispensingDevice(models.Model):
    """A counting robot, vial filler or packager the pharmacy sends fills to: by HL7 v2
    messages in a drop folder or over TCP (MLLP). When it is down, fills go the manual way."""

    class Kind(models.TextChoices):
        COUNTER = "counter", "Counting robot"
        VIAL_FILLER = "vial_filler", "Vial filler"
        PACKAGER = "packager", "Pouch or blister packager"

    class Transport(models.TextChoices):
        FOLDER = "folder", "Files in a drop folder"
        TCP = "tcp", "HL7 over TCP (MLLP)"

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="+")
    code = models.CharField(max_length=20, help_text="Short name on screens, e.g. ROBOT1")
    name = models.CharField(max_length=80)
    kind = models.CharField(max_length=12, choices=Kind.choices, default=Kind.COUNTER)
    transport = models.CharField(max_length=8, choices=Transport.choices)
    folder = models.CharField(
        max_length=300,
        blank=True,
        help_text="Orders go to <folder>/out, results come in <folder>/in",
    )
    host = models.CharField(max_length=120, blank=True)
    port = models.PositiveIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(65535)]
    )
    active = models.BooleanField(default=True)
    down_since = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["site", "code"], name="device_site_code_unique")
        ]

    def __str__(self) -> str:
        return f"{self.code} ({self.name})"

    @property
    def is_up(self) -> bool:
        return self.active and self.down_since is None


class Transfer(models.Model):
    """A prescription moved between pharmacies, with what 21 CFR 1306.25 asks both to keep."""

    prescription = models.ForeignKey(
        Prescription, on_delete=models.PROTECT, related_name="transfers"
    )
    direction = models.CharField(max_length=3, choices=TransferDirection.choices)
    transferred_at = models.DateTimeField(default=timezone.now)
    pharmacy_name = models.CharField(max_length=120)
    pharmacy_address = models.CharField(max_length=300)
    pharmacy_phone = models.CharField(max_length=10, blank=True, validators=[validate_phone])
    pharmacy_ncpdp_id = models.CharField(
        "NCPDP ID", max_length=7, blank=True, validators=[validate_ncpdp_id]
    )
    pharmacy_npi = models.CharField("NPI", max_length=10, blank=True, validators=[validate_npi])
    pharmacy_dea = models.CharField(
        "DEA number", max_length=9, blank=True, validators=[validate_dea]
    )
    other_rx_number = models.CharField("their Rx number", max_length=20, blank=True)
    other_pharmacist = models.CharField("their pharmacist", max_length=120)
    pharmacist = models.ForeignKey(
        User, on_delete=models.PROTECT, related_name="+", help_text="Our pharmacist."
    )
    original_refills_authorized = models.PositiveSmallIntegerField(
        validators=[MaxValueValidator(MAX_REFILLS)]
    )
    first_fill_date = models.DateField(null=True, blank=True)
    last_fill_date = models.DateField(null=True, blank=True)
    refills_remaining = models.PositiveSmallIntegerField(
        validators=[MaxValueValidator(MAX_REFILLS)]
    )
    originally_filled_at = models.CharField(
        max_length=300,
        blank=True,
        help_text="Name, address, DEA and Rx number of the first pharmacy, if different.",
    )
    shared_database = models.BooleanField(
        default=False, help_text="Both pharmacies share a real-time, online database."
    )
    notes = models.CharField(max_length=500, blank=True)

    class Meta:
        indexes = [models.Index(fields=["prescription", "transferred_at"], name="transfer_rx")]

    def __str__(self) -> str:
        return f"{self.get_direction_display()} {self.pharmacy_name}"


class PrescriptionImage(models.Model):
    """The scanned hard copy (or fax) of a prescription, kept in the database with it."""

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="+")
    prescription = models.ForeignKey(
        Prescription, on_delete=models.PROTECT, related_name="images", null=True, blank=True
    )
    content = models.BinaryField()
    content_type = models.CharField(max_length=40)
    size = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)
    filename = models.CharField(max_length=200, blank=True)
    uploaded_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+", null=True)
    uploaded_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return self.filename or f"image {self.pk}"


class ErxMessage(models.Model):
    """One NCPDP SCRIPT message received or sent, kept whole; MessageID makes receipt
    idempotent."""

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="+")
    direction = models.CharField(max_length=3, choices=MessageDirection.choices)
    message_type = models.CharField(max_length=30)
    message_id = models.CharField(max_length=35)
    relates_to_message_id = models.CharField(max_length=35, blank=True)
    prescriber_order_number = models.CharField(max_length=35, blank=True)
    rx_reference_number = models.CharField(max_length=35, blank=True)
    sender = models.CharField(max_length=40, blank=True)
    status = models.CharField(max_length=12, choices=ErxStatus.choices)
    status_note = models.CharField(max_length=500, blank=True)
    received_at = models.DateTimeField(default=timezone.now)
    xml = models.TextField()
    digest = models.CharField(max_length=64, help_text="SHA-256 of the message as received.")
    summary = models.CharField(max_length=300, blank=True)
    patient = models.ForeignKey(
        Patient, on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    prescriber = models.ForeignKey(
        Prescriber, on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    product = models.ForeignKey(
        Product, on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    package = models.ForeignKey(
        Package, on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    prescription = models.ForeignKey(
        Prescription, on_delete=models.PROTECT, related_name="messages", null=True, blank=True
    )
    candidates = models.JSONField(default=dict, blank=True)
    reply = models.ForeignKey(
        "self", on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    handled_by = models.ForeignKey(
        User, on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    handled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["site", "direction", "message_id"], name="erx_message_id_unique"
            )
        ]
        indexes = [
            models.Index(fields=["site", "direction", "status"], name="erx_inbox"),
            models.Index(fields=["site", "relates_to_message_id"], name="erx_relates_to"),
        ]

    def __str__(self) -> str:
        return f"{self.message_type} {self.message_id}"
