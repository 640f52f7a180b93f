"""Code sets of the inventory: lot statuses, why stock moved, and the states of orders,
counts, returns, recalls and excursions."""

from django.db import models


class LotStatus(models.TextChoices):
    """Where a lot at a site stands. Only AVAILABLE stock (and not past its expiry) may be
    dispensed; every other status holds it back whatever door the request comes through."""

    AVAILABLE = "available", "Available"
    QUARANTINED = "quarantined", "Quarantined"
    RECALLED = "recalled", "Recalled"
    EXPIRED = "expired", "Expired"
    DAMAGED = "damaged", "Damaged"
    ON_HOLD = "on_hold", "On hold"


class MoveReason(models.TextChoices):
    """Why a quantity entered or left a site's stock. The sign of the move follows."""

    RECEIVE = "receive", "Received from supplier"
    DISPENSE = "dispense", "Dispensed"
    RETURN_TO_STOCK = "return_to_stock", "Returned to stock (not picked up)"
    ADJUST = "adjust", "Adjustment"
    COUNT = "count", "Count adjustment"
    TRANSFER_OUT = "transfer_out", "Transferred to another site"
    TRANSFER_IN = "transfer_in", "Transferred from another site"
    VENDOR_RETURN = "vendor_return", "Returned to vendor / reverse distributor"
    WASTE = "waste", "Waste or damage"
    OPENING = "opening", "Opening balance"
    COMPOUND = "compound", "Used in compounding"
    CABINET_RESTOCK = "cabinet_restock", "Moved to a dispensing cabinet"
    CABINET_RETURN = "cabinet_return", "Returned from a dispensing cabinet"
    REPACKAGE = "repackage", "Repackaged into unit doses (source)"
    REPACKAGED = "repackaged", "Unit doses repackaged here"
    ADMINISTER = "administer", "Administered here (vaccine)"


# Reasons that move stock out of the pharmacy and may never exceed what is on hand.
OUTGOING = frozenset(
    {
        MoveReason.DISPENSE,
        MoveReason.TRANSFER_OUT,
        MoveReason.VENDOR_RETURN,
        MoveReason.WASTE,
        MoveReason.COMPOUND,
        MoveReason.CABINET_RESTOCK,
        MoveReason.REPACKAGE,
        MoveReason.ADMINISTER,
    }
)
INCOMING = frozenset(
    {
        MoveReason.RECEIVE,
        MoveReason.RETURN_TO_STOCK,
        MoveReason.TRANSFER_IN,
        MoveReason.OPENING,
        MoveReason.CABINET_RETURN,
        MoveReason.REPACKAGED,
    }
)


class AdjustReason(models.TextChoices):
    """Reason codes for an adjustment (a count variance or a correction)."""

    COUNT_VARIANCE = "count_variance", "Count variance"
    DAMAGED = "damaged", "Damaged"
    EXPIRED_WASTE = "expired_waste", "Expired — destroyed"
    BROKEN = "broken", "Broken or spilled"
    CONTAMINATED = "contaminated", "Contaminated"
    DATA_ENTRY = "data_entry", "Data-entry correction"
    FOUND = "found", "Found stock"
    THEFT_LOSS = "theft_loss", "Theft or loss suspected"
    OTHER = "other", "Other (explain)"


class LocationKind(models.TextChoices):
    SHELF = "shelf", "Shelf"
    REFRIGERATOR = "refrigerator", "Refrigerator"
    FREEZER = "freezer", "Freezer"
    VAULT = "vault", "Controlled-substance vault / safe"
    QUARANTINE = "quarantine", "Quarantine area"
    WILL_CALL = "will_call", "Will-call"
    CABINET = "cabinet", "Automated dispensing cabinet"
    OTHER = "other", "Other"


class AbcClass(models.TextChoices):
    A = "A", "A — highest value / movement"
    B = "B", "B"
    C = "C", "C"


class PurchaseOrderStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    SENT = "sent", "Sent"
    PARTIAL = "partial", "Partially received"
    RECEIVED = "received", "Received"
    CLOSED = "closed", "Closed"
    CANCELLED = "cancelled", "Cancelled"


class ReceiptStatus(models.TextChoices):
    OPEN = "open", "Open (being checked in)"
    POSTED = "posted", "Posted to stock"


class DiscrepancyKind(models.TextChoices):
    SHORT = "short", "Short (fewer than invoiced)"
    OVER = "over", "Over (more than invoiced)"
    DAMAGED = "damaged", "Damaged"
    WRONG_ITEM = "wrong_item", "Wrong item"
    EXPIRED = "expired", "Expired or short-dated on arrival"
    NOT_ORDERED = "not_ordered", "Not ordered"


class DiscrepancyStatus(models.TextChoices):
    OPEN = "open", "Open"
    REPORTED = "reported", "Reported to supplier"
    CREDITED = "credited", "Credit received"
    RESOLVED = "resolved", "Resolved"


class CountScope(models.TextChoices):
    SHELF = "shelf", "By shelf / location"
    ABC = "abc", "By ABC class"
    SCHEDULE = "schedule", "By DEA schedule"
    PACKAGES = "packages", "Chosen packages"
    FULL = "full", "Full physical inventory"


class CountStatus(models.TextChoices):
    OPEN = "open", "Counting"
    SUBMITTED = "submitted", "Submitted — variances shown"
    APPROVED = "approved", "Approved — adjustments posted"
    CANCELLED = "cancelled", "Cancelled"


class VendorReturnKind(models.TextChoices):
    VENDOR = "vendor", "Return to vendor (credit)"
    REVERSE_DISTRIBUTOR = "reverse_distributor", "Reverse distributor"
    RECALL = "recall", "Recall return"


class VendorReturnStatus(models.TextChoices):
    DRAFT = "draft", "Being packed"
    SHIPPED = "shipped", "Shipped"
    CREDITED = "credited", "Credit received"
    CLOSED = "closed", "Closed"


class RecallClass(models.TextChoices):
    I = "I", "Class I — serious harm or death"  # noqa: E741  (FDA's own name)
    II = "II", "Class II — temporary or reversible harm"
    III = "III", "Class III — unlikely to cause harm"


class RecallStatus(models.TextChoices):
    OPEN = "open", "Open"
    CLOSED = "closed", "Closed"


class TransferStatus(models.TextChoices):
    IN_TRANSIT = "in_transit", "In transit"
    RECEIVED = "received", "Received"


class ExcursionStatus(models.TextChoices):
    OPEN = "open", "Open — stock quarantined"
    RELEASED = "released", "Stock released by pharmacist"
    DISCARDED = "discarded", "Stock discarded"


class ReadingSource(models.TextChoices):
    MANUAL = "manual", "Entered by hand"
    LOGGER = "logger", "Data logger import"
