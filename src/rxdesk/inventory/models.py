"""The stock ledger and everything that feeds it (DESIGN, "Stock ledger").

Every unit that enters or leaves a site is one append-only :class:`StockMove`; the
:class:`StockBalance` of its (site, package, lot) changes in the same transaction, by a
conditional update that refuses to go below zero (rxdesk.inventory.ledger). Quantities are
in the package's NCPDP billing unit (EA / ML / GM). Rows change only through
rxdesk.inventory.services."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from typing import Any, TypeVar

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from rxdesk.catalog.models import Package
from rxdesk.core.models import Site
from rxdesk.inventory.choices import (
    AbcClass,
    AdjustReason,
    CountScope,
    CountStatus,
    DiscrepancyKind,
    DiscrepancyStatus,
    ExcursionStatus,
    LocationKind,
    LotStatus,
    MoveReason,
    PurchaseOrderStatus,
    ReadingSource,
    RecallClass,
    RecallStatus,
    ReceiptStatus,
    TransferStatus,
    VendorReturnKind,
    VendorReturnStatus,
)

USER = settings.AUTH_USER_MODEL

M = TypeVar("M", bound=models.Model)


class StorageLocation(models.Model):
    """A shelf, refrigerator, freezer, vault or quarantine area of a site. Refrigerators
    and freezers carry the temperature range their readings are checked against."""

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="storage_locations")
    code = models.CharField(max_length=30, help_text="Short code on the shelf label, e.g. A-12")
    name = models.CharField(max_length=120)
    kind = models.CharField(max_length=20, choices=LocationKind.choices, default=LocationKind.SHELF)
    temperature_min_c = models.DecimalField(
        "lowest allowed °C", max_digits=5, decimal_places=1, null=True, blank=True
    )
    temperature_max_c = models.DecimalField(
        "highest allowed °C", max_digits=5, decimal_places=1, null=True, blank=True
    )
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["site", "code"]
        constraints = [
            models.UniqueConstraint(fields=["site", "code"], name="location_site_code"),
            models.CheckConstraint(
                condition=Q(temperature_min_c__isnull=True)
                | Q(temperature_max_c__isnull=True)
                | Q(temperature_min_c__lt=models.F("temperature_max_c")),
                name="location_temperature_range",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"

    @property
    def monitored(self) -> bool:
        return self.temperature_min_c is not None and self.temperature_max_c is not None


class Lot(models.Model):
    """A manufacturer's lot of one package, with its expiry (usable through that date).
    Shared by every site: a recall names lots, not a site's stock."""

    package = models.ForeignKey(Package, on_delete=models.PROTECT, related_name="lots")
    number = models.CharField("lot number", max_length=40)
    expiry = models.DateField(
        null=True, blank=True, help_text="Blank only for stock that carries no expiry (devices)"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["package", "expiry", "number"]
        constraints = [
            models.UniqueConstraint(fields=["package", "number"], name="lot_package_number"),
            models.CheckConstraint(condition=~Q(number=""), name="lot_number_present"),
        ]

    def __str__(self) -> str:
        expiry = self.expiry.isoformat() if self.expiry else "no expiry"
        return f"lot {self.number} (exp {expiry})"


class StockBalance(models.Model):
    """What a site holds of one lot of one package, and whether it may be dispensed.

    Changed only by rxdesk.inventory.ledger in the transaction that appends the move;
    ``on_hand`` always equals the sum of that (site, lot)'s moves (``rxdesk inventory
    verify`` proves it)."""

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="stock_balances")
    package = models.ForeignKey(Package, on_delete=models.PROTECT, related_name="+")
    lot = models.ForeignKey(Lot, on_delete=models.PROTECT, related_name="balances")
    on_hand = models.DecimalField(max_digits=14, decimal_places=3, default=0)
    status = models.CharField(max_length=12, choices=LotStatus.choices, default=LotStatus.AVAILABLE)
    status_reason = models.CharField(max_length=200, blank=True)
    status_changed_at = models.DateTimeField(null=True, blank=True)
    location = models.ForeignKey(
        StorageLocation, on_delete=models.PROTECT, null=True, blank=True, related_name="balances"
    )
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["site", "lot"], name="balance_site_lot"),
            # The last line of defence: even a bug in the ledger cannot store negative stock.
            models.CheckConstraint(condition=Q(on_hand__gte=0), name="balance_not_negative"),
            models.CheckConstraint(condition=Q(status__in=LotStatus.values), name="balance_status"),
        ]
        indexes = [
            models.Index(fields=["site", "package", "status"], name="balance_site_pkg_status"),
            models.Index(fields=["site", "location"], name="balance_site_location"),
        ]

    def __str__(self) -> str:
        return f"{self.package.ndc10} {self.lot.number}: {self.on_hand} ({self.status})"


class AppendOnlyQuerySet(models.QuerySet[M]):
    """Refuses bulk update and delete: ledger rows are history."""

    def update(self, **kwargs: Any) -> int:
        raise PermissionError(f"{self.model.__name__} rows are append-only.")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise PermissionError(f"{self.model.__name__} rows are append-only.")

    def bulk_create(
        self,
        objs: Iterable[M],
        batch_size: int | None = None,
        ignore_conflicts: bool = False,
        update_conflicts: bool = False,
        update_fields: Collection[str] | None = None,
        unique_fields: Collection[str] | None = None,
    ) -> list[M]:
        if update_conflicts:
            raise PermissionError(f"{self.model.__name__} rows are append-only.")
        return super().bulk_create(objs, batch_size=batch_size, ignore_conflicts=ignore_conflicts)


class StockMove(models.Model):
    """One append-only entry of the stock ledger: a signed quantity of one lot at one site,
    why it moved, what it belongs to, who moved it, and the balance right after."""

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="+")
    package = models.ForeignKey(Package, on_delete=models.PROTECT, related_name="+")
    lot = models.ForeignKey(Lot, on_delete=models.PROTECT, related_name="moves")
    quantity = models.DecimalField(
        max_digits=14, decimal_places=3, help_text="Signed: + into stock, − out of stock"
    )
    balance_after = models.DecimalField(max_digits=14, decimal_places=3)
    reason = models.CharField(max_length=20, choices=MoveReason.choices)
    adjust_reason = models.CharField(
        max_length=20, choices=AdjustReason.choices, blank=True, default=""
    )
    # What the move belongs to (a receipt line, a fill, a count, a transfer…): type and id.
    reference_type = models.CharField(max_length=40, blank=True)
    reference_id = models.CharField(max_length=40, blank=True)
    # The patient a dispensing (or return to stock) was for: a recall finds them by lot.
    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    actor = models.ForeignKey(
        USER, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    actor_name = models.CharField(max_length=150)
    # A second authorized person who re-authenticated for this move (controlled-substance
    # destruction, waste, Schedule II adjustments, count corrections): the record holds both.
    witness = models.ForeignKey(
        USER, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    witness_name = models.CharField(max_length=150, blank=True)
    occurred_at = models.DateTimeField(default=timezone.now)
    note = models.CharField(max_length=500, blank=True)

    objects = AppendOnlyQuerySet["StockMove"].as_manager()

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(condition=~Q(quantity=0), name="move_not_zero"),
            models.CheckConstraint(condition=Q(balance_after__gte=0), name="move_balance_ok"),
            models.CheckConstraint(condition=Q(reason__in=MoveReason.values), name="move_reason"),
        ]
        indexes = [
            models.Index(fields=["site", "lot", "id"], name="move_site_lot"),
            models.Index(fields=["site", "package", "id"], name="move_site_package"),
            # A package's record for a period (the DEA perpetual inventory, by date).
            models.Index(fields=["site", "package", "occurred_at"], name="move_site_package_when"),
            models.Index(fields=["lot", "reason"], name="move_lot_reason"),
            models.Index(fields=["site", "reason", "occurred_at"], name="move_site_reason_when"),
            models.Index(fields=["reference_type", "reference_id"], name="move_reference"),
        ]

    def __str__(self) -> str:
        return f"{self.reason} {self.quantity:+} of lot {self.lot_id} at site {self.site_id}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise PermissionError("Stock moves are append-only: post a correcting move instead.")
        kwargs["force_insert"] = True
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise PermissionError("Stock moves are append-only: post a correcting move instead.")


# --- Ordering and receiving ----------------------------------------------------------------


class Supplier(models.Model):
    """A wholesaler, manufacturer or reverse distributor a site buys from or returns to."""

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="suppliers")
    name = models.CharField(max_length=120)
    account_number = models.CharField(max_length=40, blank=True)
    dea_number = models.CharField("DEA registration", max_length=9, blank=True)
    reverse_distributor = models.BooleanField(default=False)
    phone = models.CharField(max_length=20, blank=True)
    email = models.EmailField(blank=True)
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["site", "name"]
        constraints = [
            models.UniqueConstraint(fields=["site", "name"], name="supplier_site_name"),
        ]

    def __str__(self) -> str:
        return self.name


class ParLevel(models.Model):
    """How much of a package a site keeps: reorder when on hand falls to ``minimum``, order
    up to ``maximum`` (the par). In billing units. Also the package's ABC class and home
    location for cycle counts."""

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="par_levels")
    package = models.ForeignKey(Package, on_delete=models.PROTECT, related_name="+")
    minimum = models.DecimalField(max_digits=14, decimal_places=3)
    maximum = models.DecimalField(max_digits=14, decimal_places=3)
    abc_class = models.CharField(max_length=1, choices=AbcClass.choices, blank=True)
    location = models.ForeignKey(
        StorageLocation, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    preferred_supplier = models.ForeignKey(
        Supplier, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["site", "package"], name="par_site_package"),
            models.CheckConstraint(
                condition=Q(minimum__gte=0) & Q(maximum__gte=models.F("minimum")),
                name="par_min_le_max",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.package.ndc10}: min {self.minimum} / par {self.maximum}"


class PurchaseOrder(models.Model):
    """An order to a supplier, from draft to closed."""

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="purchase_orders")
    supplier = models.ForeignKey(Supplier, on_delete=models.PROTECT, related_name="orders")
    number = models.CharField(max_length=20)
    status = models.CharField(
        max_length=12, choices=PurchaseOrderStatus.choices, default=PurchaseOrderStatus.DRAFT
    )
    created_by = models.ForeignKey(USER, on_delete=models.PROTECT, null=True, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    note = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["site", "number"], name="po_site_number"),
        ]

    def __str__(self) -> str:
        return self.number


class PurchaseOrderLine(models.Model):
    """One package on an order, counted in whole packages."""

    order = models.ForeignKey(PurchaseOrder, on_delete=models.PROTECT, related_name="lines")
    package = models.ForeignKey(Package, on_delete=models.PROTECT, related_name="+")
    packages_ordered = models.PositiveIntegerField()
    packages_received = models.PositiveIntegerField(default=0)
    unit_cost = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    # Schedule II needs a DEA Form 222 or CSOS order (rxdesk.controlled records the form).
    dea_order_number = models.CharField("DEA 222 / CSOS order number", max_length=40, blank=True)

    class Meta:
        ordering = ["order", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(packages_ordered__gt=0), name="po_line_qty"),
        ]

    def __str__(self) -> str:
        return f"{self.packages_ordered} × {self.package.ndc10}"


class Receipt(models.Model):
    """One delivery checked in: its supplier invoice, the PO it fills (if any) and the DSCSA
    transaction information and statement that came with it."""

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="receipts")
    supplier = models.ForeignKey(Supplier, on_delete=models.PROTECT, related_name="receipts")
    purchase_order = models.ForeignKey(
        PurchaseOrder, on_delete=models.PROTECT, null=True, blank=True, related_name="receipts"
    )
    invoice_number = models.CharField(max_length=40, blank=True)
    shipment_date = models.DateField(null=True, blank=True)
    status = models.CharField(
        max_length=8, choices=ReceiptStatus.choices, default=ReceiptStatus.OPEN
    )
    # DSCSA: transaction information (TI) and the seller's transaction statement (TS).
    dscsa_transaction_info = models.TextField(blank=True)
    dscsa_statement_received = models.BooleanField(default=False)
    received_by = models.ForeignKey(USER, on_delete=models.PROTECT, null=True, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    posted_at = models.DateTimeField(null=True, blank=True)
    note = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Receipt {self.pk} ({self.invoice_number or 'no invoice'})"


class ReceiptLine(models.Model):
    """One package and lot checked in on a receipt (a GS1 DataMatrix scan fills NDC, lot,
    expiry and serial)."""

    receipt = models.ForeignKey(Receipt, on_delete=models.PROTECT, related_name="lines")
    order_line = models.ForeignKey(
        PurchaseOrderLine, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    package = models.ForeignKey(Package, on_delete=models.PROTECT, related_name="+")
    lot = models.ForeignKey(Lot, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    lot_number = models.CharField(max_length=40)
    expiry = models.DateField(null=True, blank=True)
    serials = models.TextField(blank=True, help_text="DSCSA serial numbers, one per line")
    packages_invoiced = models.PositiveIntegerField(default=0)
    packages_received = models.PositiveIntegerField(default=0)
    packages_damaged = models.PositiveIntegerField(default=0)
    unit_cost = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    location = models.ForeignKey(
        StorageLocation, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    dea_order_number = models.CharField("DEA 222 / CSOS order number", max_length=40, blank=True)

    class Meta:
        ordering = ["receipt", "id"]

    def __str__(self) -> str:
        return f"{self.packages_received} × {self.package.ndc10} lot {self.lot_number}"


class Discrepancy(models.Model):
    """A short, over, damaged, wrong-item or expired line of a delivery, followed up with
    the supplier until resolved."""

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="+")
    receipt = models.ForeignKey(Receipt, on_delete=models.PROTECT, related_name="discrepancies")
    receipt_line = models.ForeignKey(
        ReceiptLine, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    package = models.ForeignKey(
        Package, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    kind = models.CharField(max_length=12, choices=DiscrepancyKind.choices)
    packages = models.IntegerField(default=0)
    note = models.CharField(max_length=500, blank=True)
    status = models.CharField(
        max_length=10, choices=DiscrepancyStatus.choices, default=DiscrepancyStatus.OPEN
    )
    follow_up = models.TextField(blank=True)
    credit_expected = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    credit_received = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    opened_by = models.ForeignKey(USER, on_delete=models.PROTECT, null=True, related_name="+")
    opened_at = models.DateTimeField(default=timezone.now)
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-opened_at"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} on receipt {self.receipt_id}"


# --- Counting ------------------------------------------------------------------------------


class CycleCount(models.Model):
    """A counting session: by shelf, ABC class, schedule, chosen packages, or the full
    physical inventory. In a blind count the counter never sees the expected quantity;
    variances appear only once the count is submitted."""

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="cycle_counts")
    scope = models.CharField(max_length=10, choices=CountScope.choices)
    scope_value = models.CharField(max_length=40, blank=True)
    blind = models.BooleanField(default=True)
    status = models.CharField(max_length=10, choices=CountStatus.choices, default=CountStatus.OPEN)
    note = models.CharField(max_length=500, blank=True)
    created_by = models.ForeignKey(USER, on_delete=models.PROTECT, null=True, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    submitted_by = models.ForeignKey(
        USER, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    submitted_at = models.DateTimeField(null=True, blank=True)
    approved_by = models.ForeignKey(
        USER, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    approved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Count {self.pk} ({self.get_scope_display()})"


class CycleCountLine(models.Model):
    """One lot to count. ``expected`` is the ledger balance at the moment the line was
    counted, so moves during a long count do not show up as variance."""

    count = models.ForeignKey(CycleCount, on_delete=models.PROTECT, related_name="lines")
    package = models.ForeignKey(Package, on_delete=models.PROTECT, related_name="+")
    lot = models.ForeignKey(Lot, on_delete=models.PROTECT, related_name="+")
    location = models.ForeignKey(
        StorageLocation, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    counted = models.DecimalField(max_digits=14, decimal_places=3, null=True, blank=True)
    expected = models.DecimalField(max_digits=14, decimal_places=3, null=True, blank=True)
    counted_by = models.ForeignKey(
        USER, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    counted_at = models.DateTimeField(null=True, blank=True)
    investigation = models.TextField(blank=True)
    adjust_reason = models.CharField(max_length=20, choices=AdjustReason.choices, blank=True)

    class Meta:
        ordering = ["count", "id"]
        constraints = [
            models.UniqueConstraint(fields=["count", "lot"], name="count_line_lot"),
            models.CheckConstraint(
                condition=Q(counted__isnull=True) | Q(counted__gte=0), name="count_not_negative"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.package_id}/{self.lot_id}: {self.counted}"

    @property
    def variance(self) -> Any:
        if self.counted is None or self.expected is None:
            return None
        return self.counted - self.expected


# --- Leaving stock: returns to vendor ------------------------------------------------------


class VendorReturn(models.Model):
    """A return to a vendor or reverse distributor, with its chain of custody: who packed
    it, the carrier and tracking number, and the credit expected and received."""

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="vendor_returns")
    kind = models.CharField(max_length=20, choices=VendorReturnKind.choices)
    supplier = models.ForeignKey(Supplier, on_delete=models.PROTECT, related_name="returns")
    recall = models.ForeignKey(
        "Recall", on_delete=models.PROTECT, null=True, blank=True, related_name="returns"
    )
    status = models.CharField(
        max_length=10, choices=VendorReturnStatus.choices, default=VendorReturnStatus.DRAFT
    )
    packed_by = models.ForeignKey(USER, on_delete=models.PROTECT, null=True, related_name="+")
    packed_at = models.DateTimeField(default=timezone.now)
    carrier = models.CharField(max_length=60, blank=True)
    tracking_number = models.CharField(max_length=60, blank=True)
    shipped_by = models.ForeignKey(
        USER, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    shipped_at = models.DateTimeField(null=True, blank=True)
    credit_expected = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    credit_received = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    credited_at = models.DateTimeField(null=True, blank=True)
    note = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-packed_at"]

    def __str__(self) -> str:
        return f"Return {self.pk} to {self.supplier}"


class VendorReturnLine(models.Model):
    vendor_return = models.ForeignKey(VendorReturn, on_delete=models.PROTECT, related_name="lines")
    package = models.ForeignKey(Package, on_delete=models.PROTECT, related_name="+")
    lot = models.ForeignKey(Lot, on_delete=models.PROTECT, related_name="+")
    quantity = models.DecimalField(max_digits=14, decimal_places=3)
    reason = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["vendor_return", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="return_line_qty"),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} of lot {self.lot_id}"


# --- Recalls -------------------------------------------------------------------------------


class Recall(models.Model):
    """An FDA drug recall: the packages and lots it names (or all lots of a package), its
    class and reason. Entering it quarantines matching stock at every site at once."""

    recall_number = models.CharField("FDA recall number", max_length=30, blank=True)
    classification = models.CharField(max_length=3, choices=RecallClass.choices)
    reason = models.TextField()
    recall_date = models.DateField()
    firm = models.CharField(max_length=200, blank=True)
    status = models.CharField(max_length=6, choices=RecallStatus.choices, default=RecallStatus.OPEN)
    source = models.CharField(max_length=20, default="manual", help_text="manual or openfda")
    source_record = models.TextField(blank=True, help_text="The imported openFDA record, as is")
    entered_at_site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="+")
    entered_by = models.ForeignKey(USER, on_delete=models.PROTECT, null=True, related_name="+")
    entered_at = models.DateTimeField(default=timezone.now)
    closed_by = models.ForeignKey(
        USER, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    closed_at = models.DateTimeField(null=True, blank=True)
    closing_note = models.TextField(blank=True)

    class Meta:
        ordering = ["-recall_date", "-id"]
        constraints = [
            # One open recall per FDA recall number (a second entry would quarantine twice).
            models.UniqueConstraint(
                fields=["recall_number"],
                condition=Q(status="open") & ~Q(recall_number=""),
                name="recall_open_number_unique",
            ),
        ]

    def __str__(self) -> str:
        return f"Recall {self.recall_number or self.pk} (class {self.classification})"


class RecallItem(models.Model):
    """One package a recall names, with one lot number, or blank for every lot."""

    recall = models.ForeignKey(Recall, on_delete=models.PROTECT, related_name="items")
    package = models.ForeignKey(Package, on_delete=models.PROTECT, related_name="+")
    lot_number = models.CharField(max_length=40, blank=True, help_text="Blank: all lots")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["recall", "package", "lot_number"], name="recall_item_unique"
            ),
        ]
        indexes = [models.Index(fields=["package", "lot_number"], name="recall_item_pkg_lot")]

    def __str__(self) -> str:
        return f"{self.package_id} lot {self.lot_number or '(all)'}"


class RecallStock(models.Model):
    """A site's stock the recall quarantined, and what became of it (returned, destroyed)."""

    recall = models.ForeignKey(Recall, on_delete=models.PROTECT, related_name="stock")
    balance = models.ForeignKey(StockBalance, on_delete=models.PROTECT, related_name="+")
    quantity_at_quarantine = models.DecimalField(max_digits=14, decimal_places=3)
    quarantined_at = models.DateTimeField(default=timezone.now)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolution = models.CharField(max_length=200, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["recall", "balance"], name="recall_stock_unique"),
        ]

    def __str__(self) -> str:
        return f"recall {self.recall_id}: balance {self.balance_id}"


# --- Transfers between sites ----------------------------------------------------------------


class StockTransfer(models.Model):
    """Stock sent from one site to another site of the same organization: the sending
    site's move out and the receiving site's move in, each recorded by its own staff."""

    from_site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="transfers_out")
    to_site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="transfers_in")
    status = models.CharField(
        max_length=12, choices=TransferStatus.choices, default=TransferStatus.IN_TRANSIT
    )
    sent_by = models.ForeignKey(USER, on_delete=models.PROTECT, null=True, related_name="+")
    sent_at = models.DateTimeField(default=timezone.now)
    received_by = models.ForeignKey(
        USER, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    received_at = models.DateTimeField(null=True, blank=True)
    note = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-sent_at"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(from_site=models.F("to_site")), name="transfer_other_site"
            ),
        ]

    def __str__(self) -> str:
        return f"Transfer {self.pk} {self.from_site_id}→{self.to_site_id}"


class StockTransferLine(models.Model):
    transfer = models.ForeignKey(StockTransfer, on_delete=models.PROTECT, related_name="lines")
    package = models.ForeignKey(Package, on_delete=models.PROTECT, related_name="+")
    lot = models.ForeignKey(Lot, on_delete=models.PROTECT, related_name="+")
    quantity = models.DecimalField(max_digits=14, decimal_places=3)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="transfer_line_qty"),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} of lot {self.lot_id}"


# --- Cold chain ----------------------------------------------------------------------------


class TemperatureReading(models.Model):
    """A refrigerator's or freezer's min/max (and current) reading, entered at a check or
    imported from a data logger."""

    location = models.ForeignKey(StorageLocation, on_delete=models.PROTECT, related_name="readings")
    recorded_at = models.DateTimeField()
    minimum_c = models.DecimalField(max_digits=5, decimal_places=1)
    maximum_c = models.DecimalField(max_digits=5, decimal_places=1)
    current_c = models.DecimalField(max_digits=5, decimal_places=1, null=True, blank=True)
    source = models.CharField(
        max_length=8, choices=ReadingSource.choices, default=ReadingSource.MANUAL
    )
    recorded_by = models.ForeignKey(
        USER, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    note = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["location", "-recorded_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(minimum_c__lte=models.F("maximum_c")), name="reading_min_le_max"
            ),
            models.UniqueConstraint(
                fields=["location", "recorded_at"], name="reading_location_time"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.location_id} {self.minimum_c}–{self.maximum_c} °C"


class Excursion(models.Model):
    """A temperature outside a unit's range: the stock in it is quarantined until a
    pharmacist releases or discards it, with the response documented."""

    location = models.ForeignKey(
        StorageLocation, on_delete=models.PROTECT, related_name="excursions"
    )
    reading = models.ForeignKey(TemperatureReading, on_delete=models.PROTECT, related_name="+")
    detected_at = models.DateTimeField(default=timezone.now)
    lowest_c = models.DecimalField(max_digits=5, decimal_places=1)
    highest_c = models.DecimalField(max_digits=5, decimal_places=1)
    status = models.CharField(
        max_length=10, choices=ExcursionStatus.choices, default=ExcursionStatus.OPEN
    )
    response = models.TextField(blank=True, help_text="What was done, who was called")
    resolved_by = models.ForeignKey(
        USER, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolution_note = models.TextField(blank=True)

    class Meta:
        ordering = ["-detected_at"]
        constraints = [
            # Further out-of-range readings join the unit's open excursion.
            models.UniqueConstraint(
                fields=["location"], condition=Q(status="open"), name="excursion_one_open_per_unit"
            ),
        ]

    def __str__(self) -> str:
        return f"Excursion {self.pk} at location {self.location_id}"


class ExcursionStock(models.Model):
    excursion = models.ForeignKey(Excursion, on_delete=models.PROTECT, related_name="stock")
    balance = models.ForeignKey(StockBalance, on_delete=models.PROTECT, related_name="+")
    quantity = models.DecimalField(max_digits=14, decimal_places=3)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["excursion", "balance"], name="excursion_stock"),
        ]

    def __str__(self) -> str:
        return f"excursion {self.excursion_id}: balance {self.balance_id}"
