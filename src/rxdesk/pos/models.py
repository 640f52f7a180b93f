"""Pickup and point of sale: what left the pharmacy, to whom, checked how, paid how.

Rows change only through rxdesk.pos.services. Money is Decimal to the cent; a signature is
the PNG drawn on the screen, kept with the record it signs (and its SHA-256, so a copy can
be matched to the original)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone

from rxdesk.catalog.models import Package
from rxdesk.core.errors import Conflict
from rxdesk.core.models import Site, User
from rxdesk.patients.models import Patient
from rxdesk.pos.choices import (
    Counseling,
    DeliveryMethod,
    DeliveryStatus,
    DrawerStatus,
    HouseEntryKind,
    IdType,
    LineKind,
    PickupPerson,
    SaleStatus,
    SecondIdentifier,
    TenderKind,
)
from rxdesk.rx.models import Fill

MAX_SIGNATURE_BYTES = 256 * 1024
ZERO = Decimal("0.00")


def money(**kwargs: object) -> models.DecimalField:
    return models.DecimalField(max_digits=12, decimal_places=2, **kwargs)  # type: ignore[arg-type]


class PosSettings(models.Model):
    """A pharmacy's counter rules. The federal floor is the default; a state can only be
    stricter (smaller PSE limits, more schedules needing ID)."""

    site = models.OneToOneField(Site, on_delete=models.PROTECT, related_name="pos_settings")
    cs_id_schedules = models.CharField(
        "schedules needing ID at pickup",
        max_length=20,
        blank=True,
        default="2",
        help_text="Comma list of 2,3,4,5 (state law; federal law asks for none).",
    )
    cs_id_types = models.CharField(
        "ID types accepted",
        max_length=120,
        default="drivers_license,state_id,passport,military_id,tribal_id",
    )
    cs_id_record_number = models.BooleanField("record the ID number", default=True)
    cs_id_record_expiry = models.BooleanField("record the ID expiry", default=True)
    pse_daily_mg = models.DecimalField(
        "PSE/ephedrine base per purchaser per day (mg)",
        max_digits=7,
        decimal_places=1,
        default=Decimal("3600"),
        validators=[MinValueValidator(0), MaxValueValidator(Decimal("3600"))],
    )
    pse_30day_mg = models.DecimalField(
        "PSE/ephedrine base per purchaser per 30 days (mg)",
        max_digits=7,
        decimal_places=1,
        default=Decimal("9000"),
        validators=[MinValueValidator(0), MaxValueValidator(Decimal("9000"))],
    )
    pse_30day_mail_mg = models.DecimalField(
        "PSE/ephedrine base by mail per 30 days (mg)",
        max_digits=7,
        decimal_places=1,
        default=Decimal("7500"),
        validators=[MinValueValidator(0), MaxValueValidator(Decimal("7500"))],
    )
    pse_minimum_age = models.PositiveSmallIntegerField(
        "minimum purchaser age for PSE (0 = none)",
        default=0,
        validators=[MaxValueValidator(25)],
    )
    tax_percent = models.DecimalField(
        "sales tax on taxable OTC items (%)",
        max_digits=6,
        decimal_places=3,
        default=Decimal("0"),
        validators=[MinValueValidator(0), MaxValueValidator(Decimal("30"))],
    )
    drawer_tolerance = money(
        default=Decimal("5.00"),
        validators=[MinValueValidator(0)],
        help_text="Over/short beyond this at drawer close needs a pharmacist's sign-off note.",
    )
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name_plural = "POS settings"

    def __str__(self) -> str:
        return f"POS settings of {self.site}"


class Drawer(models.Model):
    """One cash drawer from opening count to closing count."""

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="+")
    register = models.CharField(max_length=30, default="Register 1")
    status = models.CharField(max_length=8, choices=DrawerStatus.choices, default=DrawerStatus.OPEN)
    opened_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    opened_at = models.DateTimeField(default=timezone.now)
    opening_cash = money(validators=[MinValueValidator(0)])
    closed_by = models.ForeignKey(
        User, on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    closed_at = models.DateTimeField(null=True, blank=True)
    counted_cash = money(null=True, blank=True)
    counted_checks = money(null=True, blank=True)
    expected_cash = money(null=True, blank=True)
    expected_checks = money(null=True, blank=True)
    over_short = money(null=True, blank=True)
    close_note = models.CharField(max_length=300, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["site", "register"],
                condition=models.Q(status="open"),
                name="drawer_one_open_per_register",
            )
        ]
        indexes = [models.Index(fields=["site", "opened_at"], name="drawer_site_day")]

    def __str__(self) -> str:
        return f"{self.register} opened {self.opened_at:%Y-%m-%d %H:%M}"


class HouseAccount(models.Model):
    """A charge account the pharmacy bills monthly (a family, a group home, a business)."""

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="+")
    number = models.CharField(max_length=20)
    name = models.CharField(max_length=120)
    patient = models.ForeignKey(
        Patient, on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    address_line1 = models.CharField(max_length=120, blank=True)
    address_line2 = models.CharField(max_length=120, blank=True)
    city = models.CharField(max_length=80, blank=True)
    state = models.CharField(max_length=2, blank=True)
    postal_code = models.CharField(max_length=10, blank=True)
    credit_limit = money(default=Decimal("500.00"), validators=[MinValueValidator(0)])
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["site", "number"], name="house_account_number")
        ]

    def __str__(self) -> str:
        return f"{self.number} {self.name}"


class Sale(models.Model):
    """One transaction at the counter (or at the door, for a delivery)."""

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="+")
    drawer = models.ForeignKey(
        Drawer, on_delete=models.PROTECT, related_name="sales", null=True, blank=True
    )
    patient = models.ForeignKey(
        Patient, on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    status = models.CharField(max_length=10, choices=SaleStatus.choices, default=SaleStatus.OPEN)
    started_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    started_at = models.DateTimeField(default=timezone.now)
    completed_by = models.ForeignKey(
        User, on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    completed_at = models.DateTimeField(null=True, blank=True)
    subtotal = money(default=ZERO)
    tax = money(default=ZERO)
    total = money(default=ZERO)
    paid = money(default=ZERO)
    change_given = money(default=ZERO)
    refunded = money(default=ZERO)
    voided_by = models.ForeignKey(
        User, on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    voided_at = models.DateTimeField(null=True, blank=True)
    void_reason = models.CharField(max_length=300, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["site", "status", "completed_at"], name="sale_site_day"),
            models.Index(fields=["site", "patient"], name="sale_patient"),
        ]

    def __str__(self) -> str:
        return f"Sale {self.receipt_number}"

    @property
    def receipt_number(self) -> str:
        return f"S{self.pk:07d}" if self.pk else "S-new"


class SaleLine(models.Model):
    """A prescription, an OTC item or a behind-the-counter PSE product on a sale."""

    sale = models.ForeignKey(Sale, on_delete=models.PROTECT, related_name="lines")
    kind = models.CharField(max_length=4, choices=LineKind.choices)
    fill = models.ForeignKey(
        Fill, on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    package = models.ForeignKey(
        Package, on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    description = models.CharField(max_length=200)
    quantity = models.DecimalField(
        max_digits=10, decimal_places=3, validators=[MinValueValidator(Decimal("0.001"))]
    )
    unit_price = money(validators=[MinValueValidator(0)])
    amount = money()
    tax = money(default=ZERO)
    taxable = models.BooleanField(default=False)
    fsa_eligible = models.BooleanField("FSA/HSA eligible", default=False)
    pse_base_mg = models.DecimalField(max_digits=10, decimal_places=2, null=True, blank=True)
    refunded_quantity = models.DecimalField(max_digits=10, decimal_places=3, default=Decimal(0))
    refunded_amount = money(default=ZERO)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(kind="rx") | models.Q(fill__isnull=False),
                name="sale_line_rx_has_fill",
            ),
            models.CheckConstraint(
                condition=models.Q(kind="rx") | models.Q(package__isnull=False),
                name="sale_line_item_has_package",
            ),
        ]

    def __str__(self) -> str:
        return self.description


class Tender(models.Model):
    """A payment taken on a sale (negative when money went back, on a refund or void).
    Card processing is an integration point: the tender records what the terminal said."""

    sale = models.ForeignKey(Sale, on_delete=models.PROTECT, related_name="tenders")
    kind = models.CharField(max_length=8, choices=TenderKind.choices)
    amount = money()
    tendered = money(null=True, blank=True, help_text="Cash handed over, before change.")
    reference = models.CharField(
        max_length=40, blank=True, help_text="Card last four and approval code, check number…"
    )
    account = models.ForeignKey(
        HouseAccount, on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    drawer = models.ForeignKey(
        Drawer, on_delete=models.PROTECT, related_name="tenders", null=True, blank=True
    )
    refund = models.ForeignKey(
        "Refund", on_delete=models.PROTECT, related_name="tenders", null=True, blank=True
    )
    taken_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    taken_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["drawer", "kind"], name="tender_drawer_kind")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.amount}"


class Refund(models.Model):
    """Money given back on a completed sale, by a role allowed to; a void undoes a whole
    sale the same day. A prescription a patient brings back is never restocked."""

    sale = models.ForeignKey(Sale, on_delete=models.PROTECT, related_name="refunds")
    is_void = models.BooleanField(default=False)
    amount = money()
    reason = models.CharField(max_length=300)
    lines = models.JSONField(default=list, help_text="[{line, quantity, amount}]")
    refunded_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    refunded_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{'Void' if self.is_void else 'Refund'} {self.amount} on {self.sale}"


class HouseEntry(models.Model):
    """A charge to or payment on a house account; the balance is their sum."""

    account = models.ForeignKey(HouseAccount, on_delete=models.PROTECT, related_name="entries")
    kind = models.CharField(max_length=8, choices=HouseEntryKind.choices)
    amount = money(help_text="Positive raises what is owed; payments and credits are negative.")
    sale = models.ForeignKey(
        Sale, on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    note = models.CharField(max_length=200, blank=True)
    recorded_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["account", "recorded_at"], name="house_entry_when")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.amount}"


class Manifest(models.Model):
    """A driver's run (or a day's mail): the deliveries that leave together."""

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="+")
    method = models.CharField(
        max_length=8, choices=DeliveryMethod.choices, default=DeliveryMethod.COURIER
    )
    driver = models.ForeignKey(
        User, on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    driver_name = models.CharField(max_length=120, blank=True)
    created_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    departed_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"Manifest {self.pk} ({self.get_method_display()})"


class Delivery(models.Model):
    """Ready prescriptions going to a patient's door (or in the mail)."""

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="+")
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="+")
    manifest = models.ForeignKey(
        Manifest, on_delete=models.PROTECT, related_name="deliveries", null=True, blank=True
    )
    method = models.CharField(
        max_length=8, choices=DeliveryMethod.choices, default=DeliveryMethod.COURIER
    )
    status = models.CharField(
        max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    fills = models.ManyToManyField(Fill, related_name="+")
    address_line1 = models.CharField(max_length=120)
    address_line2 = models.CharField(max_length=120, blank=True)
    city = models.CharField(max_length=80)
    state = models.CharField(max_length=2)
    postal_code = models.CharField(max_length=10)
    phone = models.CharField(max_length=10, blank=True)
    instructions = models.CharField(max_length=200, blank=True)
    tracking_number = models.CharField(max_length=40, blank=True)
    sale = models.ForeignKey(
        Sale, on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    created_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    delivered_at = models.DateTimeField(null=True, blank=True)
    failed_reason = models.CharField(max_length=200, blank=True)

    class Meta:
        verbose_name_plural = "deliveries"
        indexes = [models.Index(fields=["site", "status"], name="delivery_site_status")]

    def __str__(self) -> str:
        return f"Delivery {self.pk} to {self.patient}"


class Pickup(models.Model):
    """Who received the prescriptions of a sale or delivery, how they were identified, the
    counseling offer, and the signature."""

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="+")
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="+")
    sale = models.OneToOneField(
        Sale, on_delete=models.PROTECT, related_name="pickup", null=True, blank=True
    )
    delivery = models.OneToOneField(
        Delivery, on_delete=models.PROTECT, related_name="pickup", null=True, blank=True
    )
    person = models.CharField(max_length=10, choices=PickupPerson.choices)
    person_name = models.CharField(max_length=120)
    relationship = models.CharField(max_length=40, blank=True)
    dob_confirmed = models.BooleanField(default=False)
    second_identifier = models.CharField(max_length=10, choices=SecondIdentifier.choices)
    counseling = models.CharField(max_length=10, choices=Counseling.choices)
    counseled_by = models.ForeignKey(
        User, on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    counseled_at = models.DateTimeField(null=True, blank=True)
    counseling_note = models.TextField(blank=True)
    privacy_notice_acknowledged = models.BooleanField(default=False)
    id_type = models.CharField(max_length=16, choices=IdType.choices, blank=True)
    id_number = models.CharField(max_length=30, blank=True)
    id_state = models.CharField(max_length=2, blank=True)
    id_expiry = models.DateField(null=True, blank=True)
    signature = models.BinaryField(max_length=MAX_SIGNATURE_BYTES)
    signature_sha256 = models.CharField(max_length=64)
    recorded_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["site", "recorded_at"], name="pickup_site_day")]

    def __str__(self) -> str:
        return f"Pickup by {self.person_name} for {self.patient}"


class LogbookChange(Conflict):
    code = "logbook_append_only"
    title = "The CMEA logbook cannot be changed"


VOID_FIELDS = frozenset({"voided_at", "void_reason"})


class PseEntryQuerySet(models.QuerySet["PseEntry"]):
    def update(self, **kwargs: object) -> int:
        if set(kwargs) - VOID_FIELDS or kwargs.get("voided_at") is None:
            raise LogbookChange("A logbook entry is never changed; a void only marks it void.")
        return super().update(**kwargs)

    def delete(self) -> tuple[int, dict[str, int]]:
        raise LogbookChange(
            "A logbook entry is kept two years and is never deleted; void the sale instead."
        )


class PseEntry(models.Model):
    """One line of the CMEA logbook (21 CFR 1314.30): kept two years, shown only to those
    allowed. Limits are counted over every entry not voided, matched by the purchaser's ID
    and by name and date of birth."""

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="+")
    sale = models.ForeignKey(Sale, on_delete=models.PROTECT, related_name="pse_entries")
    line = models.OneToOneField(SaleLine, on_delete=models.PROTECT, related_name="pse_entry")
    sold_at = models.DateTimeField(default=timezone.now)
    sold_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    first_name = models.CharField(max_length=60)
    last_name = models.CharField(max_length=60)
    name_key = models.CharField(max_length=120, editable=False)
    date_of_birth = models.DateField()
    address_line1 = models.CharField(max_length=120)
    address_line2 = models.CharField(max_length=120, blank=True)
    city = models.CharField(max_length=80)
    state = models.CharField(max_length=2)
    postal_code = models.CharField(max_length=10)
    id_type = models.CharField(max_length=16, choices=IdType.choices)
    id_number = models.CharField(max_length=30)
    id_state = models.CharField(max_length=2, blank=True)
    id_expiry = models.DateField()
    id_key = models.CharField(max_length=40, editable=False)
    package = models.ForeignKey(Package, on_delete=models.PROTECT, related_name="+")
    ndc11 = models.CharField(max_length=11)
    product_name = models.CharField(max_length=200)
    packages = models.PositiveSmallIntegerField(validators=[MinValueValidator(1)])
    dosage_units = models.DecimalField(max_digits=10, decimal_places=3)
    base_mg = models.DecimalField(max_digits=10, decimal_places=2)
    mail_order = models.BooleanField(default=False)
    signature = models.BinaryField(max_length=MAX_SIGNATURE_BYTES)
    signature_sha256 = models.CharField(max_length=64)
    voided_at = models.DateTimeField(null=True, blank=True)
    void_reason = models.CharField(max_length=300, blank=True)

    objects = PseEntryQuerySet.as_manager()

    class Meta:
        verbose_name = "PSE logbook entry"
        verbose_name_plural = "PSE logbook entries"
        indexes = [
            models.Index(fields=["site", "id_key", "sold_at"], name="pse_by_id"),
            models.Index(
                fields=["site", "name_key", "date_of_birth", "sold_at"], name="pse_by_name"
            ),
            models.Index(fields=["site", "sold_at"], name="pse_by_day"),
        ]

    def __str__(self) -> str:
        return f"{self.last_name}, {self.first_name}: {self.product_name} × {self.packages}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        """New entries only; an existing one may only be marked void, once."""
        if not self._state.adding:
            before = type(self).objects.filter(pk=self.pk).first()
            if before is not None:
                names = set(kwargs.get("update_fields") or ()) or {
                    f.attname for f in self._meta.concrete_fields if not f.primary_key
                }
                changed = {n for n in names if getattr(before, n) != getattr(self, n)}
                if changed - VOID_FIELDS or (before.voided_at is not None and changed):
                    raise LogbookChange(
                        "A logbook entry is never changed; only a sale's void marks it void, once."
                    )
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise LogbookChange(
            "A logbook entry is kept two years and is never deleted; void the sale instead."
        )
