"""Tables of institutional pharmacy.

Long-term care: facilities with their units and medication pass times, residents (each a
patient of the pharmacy) and their census changes, the administration times of each
resident's orders, cycle-fill schedules and runs, unit-dose repackaging records and
multi-dose adherence packages (med paks).

Automated dispensing cabinets (Pyxis, Omnicell): cabinets (each a storage location of
the site), their pockets with par and minimum, the cabinet's own stock ledger
(:class:`CabinetMove` appended, :class:`PocketStock` changed in the same transaction:
stock = sum of moves, as in the site ledger), the feeds that bring the cabinets'
transactions in, discrepancies, override reviews and imported administrations.

Every row carries its site (directly or through its parent). Writes go through the
services of this app; moves and census events are never edited."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from rxdesk.catalog.models import Package, Product
from rxdesk.core.models import Site
from rxdesk.institutional.choices import (
    CabinetEvent,
    CabinetVendor,
    CensusKind,
    ContainerClass,
    CycleLineStatus,
    CycleMode,
    CycleRunStatus,
    DiscrepancyCause,
    DiscrepancyKind,
    DiscrepancyStatus,
    FacilityKind,
    FeedSource,
    FeedStatus,
    OverrideOutcome,
    PackagingStatus,
    RepackRule,
    ResidentStatus,
    Slot,
)
from rxdesk.inventory.models import AppendOnlyQuerySet, Lot, StockMove, StorageLocation
from rxdesk.patients.models import Patient
from rxdesk.rx.models import Fill, Prescription

USER = settings.AUTH_USER_MODEL


class InstitutionalSettings(models.Model):
    """A site's rules for repackaging and packaging (a per-jurisdiction setting: reference
    §6.2 and §6.3) and its cabinet discrepancy window. Absent row = the defaults."""

    site = models.OneToOneField(
        Site, on_delete=models.CASCADE, related_name="institutional_settings"
    )
    repack_rule = models.CharField(
        max_length=20, choices=RepackRule.choices, default=RepackRule.STATE_12_MONTHS
    )
    repack_months = models.PositiveSmallIntegerField(
        default=12, help_text="Months allowed under the custom rule (capped by the expiry)"
    )
    med_pak_days = models.PositiveSmallIntegerField(
        default=60, help_text="Beyond-use days of a med pak from preparation (at most 60)"
    )
    discrepancy_hours = models.PositiveSmallIntegerField(
        default=12, help_text="Hours a cabinet discrepancy may stay open (the shift)"
    )
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(med_pak_days__gte=1) & Q(med_pak_days__lte=60),
                name="inst_settings_med_pak_days",
            ),
            models.CheckConstraint(
                condition=Q(repack_months__gte=1) & Q(repack_months__lte=12),
                name="inst_settings_repack_months",
            ),
            models.CheckConstraint(
                condition=Q(discrepancy_hours__gte=1) & Q(discrepancy_hours__lte=24),
                name="inst_settings_discrepancy_hours",
            ),
        ]

    def __str__(self) -> str:
        return f"Institutional settings of {self.site}"


# --- Long-term care: facilities, census ------------------------------------------------------


class Facility(models.Model):
    """A long-term-care facility (or a hospital) the pharmacy serves."""

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="facilities")
    code = models.CharField(max_length=20)
    name = models.CharField(max_length=120)
    kind = models.CharField(max_length=12, choices=FacilityKind.choices, default=FacilityKind.SNF)
    address = models.CharField(max_length=200, blank=True)
    phone = models.CharField(max_length=10, blank=True)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["site", "name"]
        constraints = [
            models.UniqueConstraint(fields=["site", "code"], name="facility_site_code"),
        ]

    def __str__(self) -> str:
        return self.name


class PassTime(models.Model):
    """One of a facility's medication pass times (e.g. 08:00, morning)."""

    facility = models.ForeignKey(Facility, on_delete=models.CASCADE, related_name="pass_times")
    time = models.TimeField()
    slot = models.CharField(max_length=8, choices=Slot.choices)
    label = models.CharField(max_length=30, blank=True)

    class Meta:
        ordering = ["facility", "time"]
        constraints = [
            models.UniqueConstraint(fields=["facility", "time"], name="pass_time_facility_time"),
        ]

    def __str__(self) -> str:
        return f"{self.time:%H:%M} ({self.get_slot_display()})"


class Unit(models.Model):
    """A unit or wing of a facility."""

    facility = models.ForeignKey(Facility, on_delete=models.PROTECT, related_name="units")
    code = models.CharField(max_length=20)
    name = models.CharField(max_length=80)
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["facility", "code"]
        constraints = [
            models.UniqueConstraint(fields=["facility", "code"], name="unit_facility_code"),
        ]

    def __str__(self) -> str:
        return f"{self.facility.code}/{self.code}"


class Resident(models.Model):
    """A patient living in a facility. The row keeps where the resident is now; the census
    events keep how they got there."""

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="+")
    facility = models.ForeignKey(Facility, on_delete=models.PROTECT, related_name="residents")
    unit = models.ForeignKey(
        Unit, on_delete=models.PROTECT, null=True, blank=True, related_name="residents"
    )
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="residencies")
    room = models.CharField(max_length=10, blank=True)
    bed = models.CharField(max_length=4, blank=True)
    status = models.CharField(
        max_length=12, choices=ResidentStatus.choices, default=ResidentStatus.ADMITTED
    )
    admitted_on = models.DateField()
    discharged_on = models.DateField(null=True, blank=True)
    cycle_anniversary = models.DateField(
        null=True, blank=True, help_text="First day of the resident's own cycle (anniversary)"
    )
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["facility", "room", "bed"]
        constraints = [
            # A patient lives in at most one facility at a time.
            models.UniqueConstraint(
                fields=["patient"],
                condition=~Q(status="discharged"),
                name="resident_one_current_stay",
            ),
        ]
        indexes = [models.Index(fields=["facility", "status"], name="resident_facility_status")]

    def __str__(self) -> str:
        return f"{self.patient} ({self.facility.code} {self.room})"


class CensusEvent(models.Model):
    """A census change: admit, discharge, leave of absence, return, readmit, room move."""

    resident = models.ForeignKey(Resident, on_delete=models.PROTECT, related_name="census")
    kind = models.CharField(max_length=10, choices=CensusKind.choices)
    effective_at = models.DateTimeField()
    from_unit = models.ForeignKey(
        Unit, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    to_unit = models.ForeignKey(
        Unit, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    from_room = models.CharField(max_length=10, blank=True)
    to_room = models.CharField(max_length=10, blank=True)
    expected_return = models.DateField(null=True, blank=True)
    note = models.CharField(max_length=300, blank=True)
    recorded_by = models.ForeignKey(USER, on_delete=models.PROTECT, null=True, related_name="+")
    recorded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["resident", "effective_at", "id"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.effective_at:%Y-%m-%d}"


class OrderSchedule(models.Model):
    """When a resident's order is given: the pass times and the dose at each (or PRN).
    It drives the cycle quantity, the med pak's slots and the MAR."""

    prescription = models.OneToOneField(
        Prescription, on_delete=models.PROTECT, related_name="ltc_schedule"
    )
    resident = models.ForeignKey(Resident, on_delete=models.PROTECT, related_name="schedules")
    times = models.JSONField(default=list, help_text='Pass times, e.g. ["08:00", "20:00"]')
    dose = models.DecimalField(
        max_digits=8, decimal_places=3, help_text="Units given at each pass time"
    )
    prn = models.BooleanField("as needed", default=False)
    prn_max_per_day = models.DecimalField(max_digits=8, decimal_places=3, null=True, blank=True)
    start_on = models.DateField()
    stop_on = models.DateField(null=True, blank=True)
    updated_by = models.ForeignKey(USER, on_delete=models.PROTECT, null=True, related_name="+")
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(dose__gt=0), name="order_schedule_dose"),
        ]

    def __str__(self) -> str:
        return f"{self.prescription_id}: {', '.join(self.times) or 'PRN'}"


class CycleSchedule(models.Model):
    """How often a facility (or one unit of it) gets its cycle fill."""

    facility = models.ForeignKey(Facility, on_delete=models.PROTECT, related_name="cycles")
    unit = models.ForeignKey(
        Unit, on_delete=models.PROTECT, null=True, blank=True, related_name="cycles"
    )
    days = models.PositiveSmallIntegerField(help_text="7, 14 or 30")
    mode = models.CharField(max_length=12, choices=CycleMode.choices, default=CycleMode.PERIOD)
    anchor = models.DateField(help_text="First day of the first cycle")
    lead_days = models.PositiveSmallIntegerField(
        default=3, help_text="Days before a cycle starts that its fills are generated"
    )
    active = models.BooleanField(default=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(days__in=[7, 14, 30]), name="cycle_days"),
            models.UniqueConstraint(fields=["facility", "unit"], name="cycle_facility_unit"),
            models.UniqueConstraint(
                fields=["facility"], condition=Q(unit__isnull=True), name="cycle_facility_whole"
            ),
        ]

    def __str__(self) -> str:
        where = self.unit.code if self.unit is not None else "all units"
        return f"{self.facility.code} {where}: every {self.days} days"


class CycleRun(models.Model):
    """The fills generated for one cycle period of a schedule: a batch worked through fill
    and verification."""

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="+")
    schedule = models.ForeignKey(CycleSchedule, on_delete=models.PROTECT, related_name="runs")
    period_start = models.DateField()
    period_end = models.DateField(help_text="Last day covered")
    status = models.CharField(
        max_length=10, choices=CycleRunStatus.choices, default=CycleRunStatus.OPEN
    )
    created_by = models.ForeignKey(USER, on_delete=models.PROTECT, null=True, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-period_start", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["schedule", "period_start"],
                condition=~Q(status="cancelled"),
                name="cycle_run_once_per_period",
            ),
        ]

    def __str__(self) -> str:
        return f"Cycle {self.period_start:%m/%d}-{self.period_end:%m/%d}"


class CycleLine(models.Model):
    """One resident's order in a cycle run: the fill queued (full or prorated) or why none."""

    run = models.ForeignKey(CycleRun, on_delete=models.PROTECT, related_name="lines")
    resident = models.ForeignKey(Resident, on_delete=models.PROTECT, related_name="+")
    prescription = models.ForeignKey(Prescription, on_delete=models.PROTECT, related_name="+")
    fill = models.ForeignKey(
        Fill, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    status = models.CharField(max_length=10, choices=CycleLineStatus.choices)
    days = models.PositiveSmallIntegerField(default=0)
    quantity = models.DecimalField(max_digits=10, decimal_places=3, default=0)
    reason = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["run", "resident", "prescription"]
        constraints = [
            models.UniqueConstraint(fields=["run", "prescription"], name="cycle_line_once"),
        ]

    def __str__(self) -> str:
        return f"{self.prescription_id}: {self.status}"


# --- Packaging ----------------------------------------------------------------------------


class Appearance(models.Model):
    """What a product looks like (colour, shape, imprint): printed on adherence cards so a
    nurse or patient can tell each tablet apart."""

    product = models.OneToOneField(Product, on_delete=models.CASCADE, related_name="appearance")
    color = models.CharField(max_length=40)
    shape = models.CharField(max_length=40)
    imprint = models.CharField(max_length=60, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        imprint = f", imprint {self.imprint}" if self.imprint else ""
        return f"{self.color} {self.shape}{imprint}"


class RepackRecord(models.Model):
    """A unit-dose repackaging run: one source lot into labelled unit doses with their own
    internal lot and beyond-use date (the repackaging log states require)."""

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="+")
    number = models.CharField("internal lot", max_length=20)
    package = models.ForeignKey(Package, on_delete=models.PROTECT, related_name="+")
    source_lot = models.ForeignKey(Lot, on_delete=models.PROTECT, related_name="+")
    source_expiry = models.DateField()
    quantity = models.DecimalField(max_digits=10, decimal_places=3)
    container = models.CharField(max_length=120, help_text="Unit-dose container used")
    container_class = models.CharField(max_length=1, choices=ContainerClass.choices)
    repackaged_on = models.DateField()
    bud = models.DateField("beyond-use date")
    bud_rule = models.CharField(max_length=300)
    lot = models.ForeignKey(
        Lot,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="The repackaged units' lot in the stock ledger",
    )
    status = models.CharField(
        max_length=10, choices=PackagingStatus.choices, default=PackagingStatus.MADE
    )
    repackaged_by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")
    checked_by = models.ForeignKey(
        USER, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    checked_at = models.DateTimeField(null=True, blank=True)
    note = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["site", "number"], name="repack_site_number"),
            models.CheckConstraint(condition=Q(quantity__gt=0), name="repack_quantity"),
            models.CheckConstraint(
                condition=Q(bud__lte=models.F("source_expiry")), name="repack_bud_not_past_expiry"
            ),
        ]

    def __str__(self) -> str:
        return f"Repack {self.number}"


class MedPak(models.Model):
    """A customized patient medication package (blister card or pouches): two or more
    solid oral drugs sorted by day and administration time (reference §6.3)."""

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="+")
    number = models.CharField("med pak serial", max_length=20)
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="med_paks")
    resident = models.ForeignKey(
        Resident, on_delete=models.PROTECT, null=True, blank=True, related_name="med_paks"
    )
    start_on = models.DateField(help_text="First day on the card")
    days = models.PositiveSmallIntegerField()
    slots = models.JSONField(default=list, help_text='Slots used, e.g. ["morning", "bedtime"]')
    design = models.CharField(max_length=200, help_text="The card or pouch design, to remake it")
    container_class = models.CharField(max_length=1, choices=ContainerClass.choices)
    consent_by = models.CharField(max_length=120, help_text="Who consented to the packaging")
    prepared_on = models.DateField()
    bud = models.DateField("beyond-use date")
    bud_rule = models.CharField(max_length=300)
    status = models.CharField(
        max_length=10, choices=PackagingStatus.choices, default=PackagingStatus.MADE
    )
    prepared_by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")
    checked_by = models.ForeignKey(
        USER, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    checked_at = models.DateTimeField(null=True, blank=True)
    note = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["site", "number"], name="med_pak_site_number"),
            models.CheckConstraint(condition=Q(days__gte=1) & Q(days__lte=35), name="med_pak_days"),
        ]

    def __str__(self) -> str:
        return f"Med pak {self.number}"


class MedPakItem(models.Model):
    """One prescription in a med pak: the fill it was dispensed by, the lot, how it looks
    and how many go in each slot."""

    pak = models.ForeignKey(MedPak, on_delete=models.CASCADE, related_name="items")
    prescription = models.ForeignKey(Prescription, on_delete=models.PROTECT, related_name="+")
    fill = models.ForeignKey(Fill, on_delete=models.PROTECT, related_name="+")
    package = models.ForeignKey(Package, on_delete=models.PROTECT, related_name="+")
    lot = models.ForeignKey(Lot, on_delete=models.PROTECT, related_name="+")
    expiry = models.DateField()
    description = models.CharField(max_length=160, help_text="Colour, shape, imprint")
    per_slot = models.JSONField(default=dict, help_text='Units per slot, e.g. {"morning": "1"}')
    total_quantity = models.DecimalField(max_digits=10, decimal_places=3)

    class Meta:
        ordering = ["pak", "id"]
        constraints = [
            models.UniqueConstraint(fields=["pak", "prescription"], name="med_pak_item_once"),
        ]

    def __str__(self) -> str:
        return f"{self.pak.number}: Rx {self.prescription.number}"


# --- Automated dispensing cabinets -----------------------------------------------------------


class Cabinet(models.Model):
    """An automated dispensing cabinet on a nursing unit; its stock is its pockets'."""

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="cabinets")
    location = models.OneToOneField(
        StorageLocation, on_delete=models.PROTECT, related_name="cabinet"
    )
    code = models.CharField(max_length=30, help_text="The station name the vendor reports")
    name = models.CharField(max_length=120)
    vendor = models.CharField(max_length=10, choices=CabinetVendor.choices)
    area = models.CharField(max_length=80, blank=True, help_text="Nursing unit it serves")
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["site", "code"]
        constraints = [
            models.UniqueConstraint(fields=["site", "code"], name="cabinet_site_code"),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class Pocket(models.Model):
    """A pocket (bin, cubie, matrix cell) of a cabinet drawer holding one package."""

    cabinet = models.ForeignKey(Cabinet, on_delete=models.PROTECT, related_name="pockets")
    drawer = models.CharField(max_length=10)
    pocket = models.CharField(max_length=10)
    package = models.ForeignKey(Package, on_delete=models.PROTECT, related_name="+")
    par = models.DecimalField(max_digits=10, decimal_places=3)
    minimum = models.DecimalField(max_digits=10, decimal_places=3)
    controlled = models.BooleanField(
        default=False, help_text="Counted at every access; restocks witnessed"
    )
    on_hand = models.DecimalField(
        max_digits=12,
        decimal_places=3,
        default=0,
        help_text="Sum of the pocket's lots (kept with them)",
    )
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["cabinet", "drawer", "pocket"]
        constraints = [
            models.UniqueConstraint(
                fields=["cabinet", "drawer", "pocket"], name="pocket_cabinet_place"
            ),
            models.CheckConstraint(condition=Q(minimum__gte=0), name="pocket_minimum"),
            models.CheckConstraint(condition=Q(par__gte=models.F("minimum")), name="pocket_par"),
            models.CheckConstraint(condition=Q(on_hand__gte=0), name="pocket_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.cabinet.code} {self.drawer}-{self.pocket}"

    @property
    def place(self) -> str:
        return f"{self.drawer}-{self.pocket}"


class PocketStock(models.Model):
    """What one pocket holds of one lot. Changed only by rxdesk.institutional.cabinet_ledger
    in the transaction that appends the move."""

    pocket = models.ForeignKey(Pocket, on_delete=models.PROTECT, related_name="stock")
    lot = models.ForeignKey(Lot, on_delete=models.PROTECT, related_name="+")
    on_hand = models.DecimalField(max_digits=12, decimal_places=3, default=0)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["pocket", "lot"], name="pocket_stock_lot"),
            models.CheckConstraint(condition=Q(on_hand__gte=0), name="pocket_stock_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.pocket}: {self.lot.number} {self.on_hand}"


class CabinetFeed(models.Model):
    """One file or HL7 message of cabinet activity as received, and what became of it."""

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="+")
    source = models.CharField(max_length=4, choices=FeedSource.choices)
    name = models.CharField(max_length=200, blank=True, help_text="File name or control id")
    digest = models.CharField(max_length=64, help_text="SHA-256 of the bytes received")
    status = models.CharField(max_length=10, choices=FeedStatus.choices)
    rows = models.PositiveIntegerField(default=0)
    accepted = models.PositiveIntegerField(default=0)
    errors = models.JSONField(default=list, blank=True)
    received_by = models.ForeignKey(
        USER, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    received_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-received_at", "-id"]
        indexes = [models.Index(fields=["site", "digest"], name="cabinet_feed_digest")]

    def __str__(self) -> str:
        return f"{self.get_source_display()} {self.name} ({self.status})"


class CabinetMove(models.Model):
    """One signed change of one pocket's lot: the cabinet's ledger. ``balance_after`` is the
    pocket's total after the move."""

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="+")
    cabinet = models.ForeignKey(Cabinet, on_delete=models.PROTECT, related_name="moves")
    pocket = models.ForeignKey(Pocket, on_delete=models.PROTECT, related_name="moves")
    package = models.ForeignKey(Package, on_delete=models.PROTECT, related_name="+")
    lot = models.ForeignKey(Lot, on_delete=models.PROTECT, related_name="+")
    event = models.CharField(max_length=10, choices=CabinetEvent.choices)
    quantity = models.DecimalField(max_digits=12, decimal_places=3, help_text="Signed")
    balance_after = models.DecimalField(max_digits=12, decimal_places=3)
    source = models.CharField(max_length=4, choices=FeedSource.choices)
    feed = models.ForeignKey(
        CabinetFeed, on_delete=models.PROTECT, null=True, blank=True, related_name="moves"
    )
    external_id = models.CharField(
        max_length=40, blank=True, help_text="The cabinet's own transaction id"
    )
    cabinet_user = models.CharField(max_length=80, blank=True, help_text="User at the cabinet")
    witness_name = models.CharField(max_length=80, blank=True)
    patient = models.ForeignKey(
        Patient, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    patient_ref = models.CharField(max_length=40, blank=True, help_text="MRN as reported")
    override = models.BooleanField(default=False, help_text="Removed without a verified order")
    stock_move = models.ForeignKey(
        StockMove,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="The pharmacy ledger's side of a restock or unload",
    )
    actor = models.ForeignKey(USER, on_delete=models.PROTECT, null=True, related_name="+")
    occurred_at = models.DateTimeField()
    recorded_at = models.DateTimeField(default=timezone.now)
    note = models.CharField(max_length=300, blank=True)

    objects = AppendOnlyQuerySet["CabinetMove"].as_manager()

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["cabinet", "external_id", "lot"],
                condition=~Q(external_id=""),
                name="cabinet_move_external_once",
            ),
            models.CheckConstraint(
                condition=~Q(quantity=0) | Q(event="count"), name="cabinet_move_nonzero"
            ),
        ]
        indexes = [
            models.Index(fields=["site", "occurred_at"], name="cabinet_move_site_time"),
            models.Index(fields=["pocket", "id"], name="cabinet_move_pocket"),
        ]

    def __str__(self) -> str:
        return f"{self.pocket} {self.event} {self.quantity}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise PermissionError("Cabinet moves are append-only: post a correcting move instead.")
        kwargs["force_insert"] = True
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise PermissionError("Cabinet moves are append-only: post a correcting move instead.")


class CabinetDiscrepancy(models.Model):
    """A count that did not match (or a removal the record could not cover), to be resolved
    within the shift by nursing and pharmacy."""

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="+")
    cabinet = models.ForeignKey(Cabinet, on_delete=models.PROTECT, related_name="discrepancies")
    pocket = models.ForeignKey(Pocket, on_delete=models.PROTECT, related_name="discrepancies")
    package = models.ForeignKey(Package, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=16, choices=DiscrepancyKind.choices)
    expected = models.DecimalField(max_digits=12, decimal_places=3)
    found = models.DecimalField(max_digits=12, decimal_places=3)
    controlled = models.BooleanField(default=False)
    move = models.ForeignKey(
        CabinetMove, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    cabinet_user = models.CharField(max_length=80, blank=True)
    opened_at = models.DateTimeField(default=timezone.now)
    due_at = models.DateTimeField()
    status = models.CharField(
        max_length=10, choices=DiscrepancyStatus.choices, default=DiscrepancyStatus.OPEN
    )
    cause = models.CharField(max_length=20, choices=DiscrepancyCause.choices, blank=True)
    explanation = models.CharField(max_length=500, blank=True)
    nurse_name = models.CharField(max_length=80, blank=True)
    resolved_by = models.ForeignKey(
        USER, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    witness = models.ForeignKey(
        USER, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-opened_at", "-id"]
        indexes = [models.Index(fields=["site", "status"], name="cabinet_disc_site_status")]

    def __str__(self) -> str:
        return f"{self.pocket}: expected {self.expected}, found {self.found}"

    @property
    def difference(self) -> Decimal:
        return self.found - self.expected


class OverrideReview(models.Model):
    """A pharmacist's review of an override removal (ISMP: review every override)."""

    move = models.OneToOneField(CabinetMove, on_delete=models.PROTECT, related_name="review")
    outcome = models.CharField(max_length=12, choices=OverrideOutcome.choices)
    note = models.CharField(max_length=500, blank=True)
    reviewed_by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")
    reviewed_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"Review of move {self.move_id}: {self.outcome}"


class Administration(models.Model):
    """A dose given, as imported from the eMAR: compared with cabinet removals by user."""

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="+")
    feed = models.ForeignKey(
        CabinetFeed, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    external_id = models.CharField(max_length=40)
    package = models.ForeignKey(Package, on_delete=models.PROTECT, related_name="+")
    quantity = models.DecimalField(max_digits=12, decimal_places=3)
    nurse = models.CharField(max_length=80, help_text="The user id the cabinet knows")
    patient = models.ForeignKey(
        Patient, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    patient_ref = models.CharField(max_length=40, blank=True)
    given_at = models.DateTimeField()
    recorded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-given_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["site", "external_id"], name="administration_once"),
            models.CheckConstraint(condition=Q(quantity__gt=0), name="administration_quantity"),
        ]
        indexes = [models.Index(fields=["site", "given_at"], name="administration_site_time")]

    def __str__(self) -> str:
        return f"{self.nurse}: {self.quantity} of {self.package_id}"
