"""The DEA records kept on top of the stock ledger (DESIGN, "Stock ledger"): they are
documents and decisions, never a second copy of the balances. The perpetual inventory is a
query over StockMove (rxdesk.controlled.queries); these tables hold what the ledger cannot:
order forms and their receipt per line, inventories signed by the pharmacist-in-charge,
blind audit counts and their investigations, theft and loss (Form 106), destruction
(Form 41), witnessed waste, the daily log's sign-off and the PMP files sent.

Rows change only through rxdesk.controlled.services*."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from rxdesk.catalog.models import Package, Product
from rxdesk.controlled.choices import (
    AuditStatus,
    InventoryKind,
    InventoryStatus,
    InvestigationOutcome,
    InvestigationStatus,
    LossStatus,
    LossType,
    OrderDirection,
    OrderForm,
    OrderStatus,
    PmpAction,
    PmpKind,
    PmpStatus,
    ScheduleGroup,
    TakenAt,
    WasteKind,
)
from rxdesk.controlled.rules import CountMethod
from rxdesk.core.models import Site
from rxdesk.inventory.models import (
    Lot,
    PurchaseOrder,
    ReceiptLine,
    StockBalance,
    StockMove,
    Supplier,
    VendorReturn,
    VendorReturnLine,
)

USER = settings.AUTH_USER_MODEL


def quantity(verbose_name: str | None = None, **kwargs: Any) -> models.DecimalField:
    """A quantity in the package's billing unit (the ledger's precision)."""
    return models.DecimalField(verbose_name, max_digits=14, decimal_places=3, **kwargs)


def _user(related: str = "+", *, null: bool = True) -> models.ForeignKey:
    return models.ForeignKey(
        USER, on_delete=models.PROTECT, null=null, blank=null, related_name=related
    )


class WitnessFields(models.Model):
    """A second authorized person who re-authenticated at the moment of the action
    (rxdesk.core.services.witness_confirm): who, their name as it was, when, and how."""

    witness = _user()
    witness_name = models.CharField(max_length=150, blank=True)
    witnessed_at = models.DateTimeField(null=True, blank=True)
    witness_factors = models.CharField(
        max_length=20, blank=True, help_text="password, or password+totp"
    )

    class Meta:
        abstract = True


# --- Daily controlled-substance log ---------------------------------------------------------


class DailyLogSignoff(models.Model):
    """A pharmacist's review and sign-off of one day's controlled-substance moves of one
    schedule group. The moves it covered are fixed by ``last_move_id`` and ``moves``: a
    move posted later for that day shows the log as changed since it was signed."""

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="+")
    day = models.DateField()
    group = models.CharField(max_length=5, choices=ScheduleGroup.choices)
    moves = models.PositiveIntegerField(help_text="Moves on the log when it was signed")
    last_move_id = models.BigIntegerField(default=0)
    signed_by = _user(null=False)
    signer_name = models.CharField(max_length=150)
    signed_at = models.DateTimeField(default=timezone.now)
    note = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-day", "group", "-signed_at"]
        indexes = [models.Index(fields=["site", "day", "group"], name="cs_signoff_day")]

    def __str__(self) -> str:
        return f"CS log {self.day} {self.group} signed by {self.signer_name}"


# --- DEA Form 222 / CSOS orders ---------------------------------------------------------------


class Form222Order(models.Model):
    """A Schedule II order: a DEA Form 222 (serial number) or a CSOS order (its unique id).

    ``direction`` PURCHASE: the pharmacy orders from a supplier; receipts record per line the
    containers and the date received. SUPPLY: another registrant (a reverse distributor, a
    supplier taking a return) issued the form to the pharmacy, which ships against it."""

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="+")
    form = models.CharField(max_length=4, choices=OrderForm.choices)
    direction = models.CharField(
        max_length=8, choices=OrderDirection.choices, default=OrderDirection.PURCHASE
    )
    number = models.CharField("222 serial / CSOS order number", max_length=40)
    supplier = models.ForeignKey(Supplier, on_delete=models.PROTECT, related_name="+")
    purchase_order = models.ForeignKey(
        PurchaseOrder, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    vendor_return = models.ForeignKey(
        VendorReturn, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    executed_on = models.DateField(help_text="The date the form was signed (valid 60 days)")
    signer = _user()
    signer_name = models.CharField(
        max_length=150, help_text="Registrant or power-of-attorney holder who signed"
    )
    csos_signed_order = models.TextField(
        blank=True, help_text="The signed electronic order, kept verbatim"
    )
    status = models.CharField(max_length=10, choices=OrderStatus.choices, default=OrderStatus.OPEN)
    void_reason = models.CharField(max_length=300, blank=True)
    note = models.CharField(max_length=500, blank=True)
    created_by = _user()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-executed_on", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["site", "form", "number"], name="cs_order_site_number"),
            models.CheckConstraint(condition=~Q(number=""), name="cs_order_number_present"),
        ]

    def __str__(self) -> str:
        return f"{self.get_form_display()} {self.number}"


class Form222Line(models.Model):
    """One numbered line: one finished form and package size, in commercial containers."""

    order = models.ForeignKey(Form222Order, on_delete=models.PROTECT, related_name="lines")
    line_no = models.PositiveSmallIntegerField()
    package = models.ForeignKey(Package, on_delete=models.PROTECT, related_name="+")
    packages_ordered = models.PositiveIntegerField()
    packages_received = models.PositiveIntegerField(
        default=0, help_text="PURCHASE: received; SUPPLY: shipped"
    )
    last_received_on = models.DateField(null=True, blank=True)

    class Meta:
        ordering = ["order", "line_no"]
        constraints = [
            models.UniqueConstraint(fields=["order", "line_no"], name="cs_order_line_no"),
            models.CheckConstraint(condition=Q(packages_ordered__gt=0), name="cs_line_ordered"),
            models.CheckConstraint(
                condition=Q(packages_received__lte=models.F("packages_ordered")),
                name="cs_line_not_over",
            ),
        ]

    def __str__(self) -> str:
        return f"line {self.line_no}: {self.packages_ordered} × {self.package.ndc10}"


class Form222Receipt(models.Model):
    """Containers received (or shipped) on one line, on one date, linked to the inventory
    receipt line (or vendor-return line) that moved the stock."""

    line = models.ForeignKey(Form222Line, on_delete=models.PROTECT, related_name="receipts")
    packages = models.PositiveIntegerField()
    received_on = models.DateField()
    receipt_line = models.ForeignKey(
        ReceiptLine, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    vendor_return_line = models.ForeignKey(
        VendorReturnLine, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    recorded_by = _user()
    recorded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["line", "received_on", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(packages__gt=0), name="cs_receipt_packages"),
        ]

    def __str__(self) -> str:
        return f"{self.packages} received {self.received_on}"


# --- Inventories (initial, biennial, newly scheduled) ----------------------------------------


class CsInventory(models.Model):
    """An inventory of every controlled substance on hand (21 CFR 1304.11): its kind, the
    date and whether taken at the opening or the close of business, signed by the
    pharmacist-in-charge. A newly scheduled substance's inventory names the product and the
    rule's effective date. Once signed, nothing of it changes."""

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=16, choices=InventoryKind.choices)
    taken_on = models.DateField()
    taken_at = models.CharField(max_length=8, choices=TakenAt.choices)
    product = models.ForeignKey(
        Product,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="Newly scheduled: the substance's product",
    )
    effective_on = models.DateField(
        null=True, blank=True, help_text="Newly scheduled: the rule's effective date"
    )
    status = models.CharField(
        max_length=10, choices=InventoryStatus.choices, default=InventoryStatus.OPEN
    )
    started_by = _user()
    started_at = models.DateTimeField(default=timezone.now)
    signed_by = _user()
    signer_name = models.CharField(max_length=150, blank=True)
    signed_at = models.DateTimeField(null=True, blank=True)
    note = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-taken_on", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(kind=InventoryKind.NEWLY_SCHEDULED) | Q(product__isnull=False),
                name="cs_inventory_new_names_product",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.taken_on}"


class CsInventoryLine(models.Model):
    """One package (and lot) on an inventory: sealed containers, and for an opened container
    the count or measure and how it was taken (rxdesk.controlled.rules.count_method). The
    perpetual balance at the time is kept beside it. Stock held for disposal says why."""

    inventory = models.ForeignKey(CsInventory, on_delete=models.PROTECT, related_name="lines")
    package = models.ForeignKey(Package, on_delete=models.PROTECT, related_name="+")
    lot = models.ForeignKey(Lot, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    schedule = models.CharField(max_length=4)
    units_per_container = quantity()
    sealed_containers = models.PositiveIntegerField(default=0)
    opened_quantity = quantity(
        null=True, blank=True, help_text="Units in the opened container, if any"
    )
    method = models.CharField(
        max_length=8, choices=[(m.value, m.value) for m in CountMethod], blank=True
    )
    total = quantity()
    ledger_balance = quantity(help_text="Perpetual balance when counted")
    held_for_disposal = models.BooleanField(default=False)
    disposal_reason = models.CharField(max_length=200, blank=True)
    counted_by = _user()
    counted_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["inventory", "schedule", "package__product__name", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["inventory", "package", "lot", "held_for_disposal"],
                name="cs_inventory_line_unique",
            ),
            models.CheckConstraint(condition=Q(total__gte=0), name="cs_inventory_total"),
        ]

    def __str__(self) -> str:
        return f"{self.package.ndc10}: {self.total}"


# --- Audits (blind counts) and investigations --------------------------------------------------


class CsAudit(models.Model):
    """A blind count of one controlled package (one lot, or all its lots): the counter does
    not see the perpetual balance until the count is in. The expected balance is read in
    the same transaction that records the count."""

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="+")
    package = models.ForeignKey(Package, on_delete=models.PROTECT, related_name="+")
    lot = models.ForeignKey(Lot, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    counted = quantity()
    expected = quantity()
    variance = quantity(help_text="counted − expected")
    last_move_id = models.BigIntegerField(default=0)
    status = models.CharField(max_length=14, choices=AuditStatus.choices)
    counted_by = _user()
    counter_name = models.CharField(max_length=150)
    counted_at = models.DateTimeField(default=timezone.now)
    note = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-counted_at", "-id"]
        indexes = [
            models.Index(fields=["site", "package", "counted_at"], name="cs_audit_package"),
            models.Index(fields=["site", "status"], name="cs_audit_status"),
        ]

    def __str__(self) -> str:
        return f"Count of {self.package.ndc10}: {self.counted} (expected {self.expected})"


class Investigation(WitnessFields):
    """The follow-up of a discrepancy: notes and evidence, then an outcome. A correction of
    the balance is a witnessed count move on the ledger (``correction``); a theft or a
    significant loss opens a Form 106 record."""

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="+")
    audit = models.OneToOneField(
        CsAudit, on_delete=models.PROTECT, null=True, blank=True, related_name="investigation"
    )
    package = models.ForeignKey(Package, on_delete=models.PROTECT, related_name="+")
    lot = models.ForeignKey(Lot, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    variance = quantity()
    status = models.CharField(
        max_length=10, choices=InvestigationStatus.choices, default=InvestigationStatus.OPEN
    )
    outcome = models.CharField(max_length=20, choices=InvestigationOutcome.choices, blank=True)
    conclusion = models.TextField(blank=True)
    correction = models.ForeignKey(
        StockMove, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    opened_by = _user()
    opened_at = models.DateTimeField(default=timezone.now)
    resolved_by = _user()
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-opened_at", "-id"]
        indexes = [models.Index(fields=["site", "status"], name="cs_investigation_status")]

    def __str__(self) -> str:
        return f"Investigation {self.pk} ({self.status})"


class InvestigationNote(models.Model):
    """Append-only: what was looked at and found, by whom, when."""

    investigation = models.ForeignKey(Investigation, on_delete=models.PROTECT, related_name="notes")
    text = models.TextField()
    author = _user()
    author_name = models.CharField(max_length=150)
    written_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["investigation", "written_at", "id"]

    def __str__(self) -> str:
        return f"Note by {self.author_name} at {self.written_at:%Y-%m-%d %H:%M}"


class InvestigationEvidence(models.Model):
    """A file attached to an investigation (camera still, invoice scan, count sheet), kept
    in the database like prescription images."""

    investigation = models.ForeignKey(
        Investigation, on_delete=models.PROTECT, related_name="evidence"
    )
    name = models.CharField(max_length=200)
    content_type = models.CharField(max_length=100)
    content = models.BinaryField()
    sha256 = models.CharField(max_length=64)
    description = models.CharField(max_length=500, blank=True)
    added_by = _user()
    added_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["investigation", "added_at", "id"]

    def __str__(self) -> str:
        return self.name


# --- Theft or significant loss: DEA Form 106 ---------------------------------------------------


class TheftLoss(models.Model):
    """A theft or significant loss: the one-business-day notice to the DEA field office and
    the Form 106 to complete within 45 days of discovery (rxdesk.controlled.rules)."""

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="+")
    investigation = models.ForeignKey(
        Investigation, on_delete=models.PROTECT, null=True, blank=True, related_name="losses"
    )
    loss_type = models.CharField(max_length=20, choices=LossType.choices)
    loss_type_other = models.CharField(max_length=200, blank=True)
    discovered_at = models.DateTimeField()
    occurred_on = models.DateField(null=True, blank=True)
    notify_by = models.DateField(help_text="Written notice to the DEA field office by this day")
    complete_by = models.DateField(help_text="Form 106 submitted electronically by this day")
    # Form 106 asks whether the police were notified: None until answered.
    police_notified = models.BooleanField(null=True, blank=True, default=None)
    police_department = models.CharField(max_length=120, blank=True)
    police_report_number = models.CharField(max_length=60, blank=True)
    previous_losses = models.PositiveIntegerField(default=0)
    security_measures = models.TextField(blank=True)
    narrative = models.TextField(blank=True)
    status = models.CharField(max_length=10, choices=LossStatus.choices, default=LossStatus.DRAFT)
    dea_notified_at = models.DateTimeField(null=True, blank=True)
    dea_notified_how = models.CharField(max_length=200, blank=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    dea_reference = models.CharField(max_length=60, blank=True)
    opened_by = _user()
    opened_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-discovered_at", "-id"]
        indexes = [models.Index(fields=["site", "status"], name="cs_loss_status")]

    def __str__(self) -> str:
        return f"Theft/loss {self.pk} ({self.get_loss_type_display()})"


class TheftLossLine(models.Model):
    loss = models.ForeignKey(TheftLoss, on_delete=models.PROTECT, related_name="lines")
    package = models.ForeignKey(Package, on_delete=models.PROTECT, related_name="+")
    lot = models.ForeignKey(Lot, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    quantity = quantity()
    estimated_value = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)

    class Meta:
        ordering = ["loss", "id"]
        constraints = [models.CheckConstraint(condition=Q(quantity__gt=0), name="cs_loss_qty")]

    def __str__(self) -> str:
        return f"{self.quantity} of {self.package.ndc10}"


# --- Destruction (DEA Form 41) and waste -------------------------------------------------------


class Destruction(models.Model):
    """Expired, damaged or unwanted inventory destroyed on site to a non-retrievable state,
    recorded on DEA Form 41 with two authorized witnesses who re-authenticated."""

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="+")
    destroyed_at = models.DateTimeField()
    method = models.CharField(max_length=200)
    location = models.CharField(max_length=200)
    performed_by = _user()
    performer_name = models.CharField(max_length=150)
    witness_1 = _user()
    witness_1_name = models.CharField(max_length=150)
    witness_1_factors = models.CharField(max_length=20)
    witness_2 = _user()
    witness_2_name = models.CharField(max_length=150)
    witness_2_factors = models.CharField(max_length=20)
    note = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-destroyed_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(witness_1=models.F("witness_2")), name="cs_destruction_two_witnesses"
            ),
        ]

    def __str__(self) -> str:
        return f"Form 41 #{self.pk} ({self.destroyed_at:%Y-%m-%d})"


class DestructionLine(models.Model):
    destruction = models.ForeignKey(Destruction, on_delete=models.PROTECT, related_name="lines")
    balance = models.ForeignKey(StockBalance, on_delete=models.PROTECT, related_name="+")
    package = models.ForeignKey(Package, on_delete=models.PROTECT, related_name="+")
    lot = models.ForeignKey(Lot, on_delete=models.PROTECT, related_name="+")
    full_packages = models.PositiveIntegerField(default=0)
    partial_quantity = quantity(default=0)
    quantity = quantity(help_text="Total destroyed, in billing units")
    # Set in the same transaction, right after the move (which names this line) is posted.
    move = models.ForeignKey(
        StockMove, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["destruction", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="cs_destruction_qty")
        ]

    def __str__(self) -> str:
        return f"{self.quantity} of {self.package.ndc10}"


class Waste(WitnessFields):
    """A wasted partial dose, a breakage, or a patient's returned controlled substance,
    recorded with a witness. Stock the pharmacy still held (a partial vial) leaves the
    ledger as WASTE; a patient's return never enters stock and is recorded only."""

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=16, choices=WasteKind.choices)
    package = models.ForeignKey(Package, on_delete=models.PROTECT, related_name="+")
    lot = models.ForeignKey(Lot, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    quantity = quantity()
    fill = models.ForeignKey(
        "rx.Fill", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    move = models.ForeignKey(
        StockMove, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    method = models.CharField(max_length=200, blank=True)
    reason = models.CharField(max_length=500)
    performed_by = _user()
    performer_name = models.CharField(max_length=150)
    occurred_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-occurred_at", "-id"]
        constraints = [models.CheckConstraint(condition=Q(quantity__gt=0), name="cs_waste_qty")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.quantity} of {self.package.ndc10}"


# --- Prescription monitoring program (ASAP) ----------------------------------------------------


class PmpSubmission(models.Model):
    """One ASAP file made for the state PMP, kept verbatim with what it covered."""

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=6, choices=PmpKind.choices)
    state = models.CharField(max_length=2)
    period_start = models.DateField()
    period_end = models.DateField()
    control_number = models.CharField(max_length=30)
    version = models.CharField(max_length=5, default="4.2")
    file_name = models.CharField(max_length=120)
    content = models.TextField()
    sha256 = models.CharField(max_length=64)
    dispensings = models.PositiveIntegerField(default=0)
    voids = models.PositiveIntegerField(default=0)
    status = models.CharField(max_length=10, choices=PmpStatus.choices, default=PmpStatus.CREATED)
    status_note = models.CharField(max_length=500, blank=True)
    created_by = _user()
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-period_end", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["site", "control_number"], name="cs_pmp_control_number"
            ),
            models.CheckConstraint(
                condition=Q(period_end__gte=models.F("period_start")), name="cs_pmp_period"
            ),
        ]

    def __str__(self) -> str:
        return self.file_name


class PmpRecord(models.Model):
    """One fill's dispensing record in a PMP file: reported new, revised, or voided (a
    return to stock after the fill was reported sends a void, DSP01 = 02)."""

    submission = models.ForeignKey(PmpSubmission, on_delete=models.PROTECT, related_name="records")
    fill = models.ForeignKey("rx.Fill", on_delete=models.PROTECT, related_name="+")
    action = models.CharField(max_length=2, choices=PmpAction.choices)

    class Meta:
        ordering = ["submission", "id"]
        indexes = [models.Index(fields=["fill", "action"], name="cs_pmp_fill_action")]

    def __str__(self) -> str:
        return f"fill {self.fill_id}: {self.action}"
