"""Choices of the prescription records, named as a pharmacy says them."""

from __future__ import annotations

from django.db import models


class Origin(models.IntegerChoices):
    """NCPDP Prescription Origin Code (419-DJ)."""

    NOT_KNOWN = 0, "Not known"
    WRITTEN = 1, "Written"
    TELEPHONE = 2, "Telephone"
    ELECTRONIC = 3, "Electronic"
    FACSIMILE = 4, "Facsimile"
    PHARMACY = 5, "Pharmacy transfer"


class Daw(models.IntegerChoices):
    """NCPDP Dispense As Written / product selection code (408-D8)."""

    NONE = 0, "0 – No product selection indicated"
    PRESCRIBER = 1, "1 – Substitution not allowed by prescriber"
    PATIENT = 2, "2 – Substitution allowed, patient requested product dispensed"
    PHARMACIST = 3, "3 – Substitution allowed, pharmacist selected product dispensed"
    GENERIC_UNAVAILABLE = 4, "4 – Substitution allowed, generic drug not in stock"
    BRAND_AS_GENERIC = 5, "5 – Substitution allowed, brand drug dispensed as a generic"
    OVERRIDE = 6, "6 – Override"
    BRAND_BY_LAW = 7, "7 – Substitution not allowed, brand drug mandated by law"
    GENERIC_NOT_MARKETED = 8, "8 – Substitution allowed, generic drug not available in marketplace"
    PLAN_REQUESTS_BRAND = 9, "9 – Substitution allowed by prescriber but plan requests brand"


class QuantityUnit(models.TextChoices):
    """NCPDP billing units."""

    EACH = "EA", "each"
    ML = "ML", "mL"
    GRAM = "GM", "g"


class RxStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    ON_HOLD = "on_hold", "On hold"
    INACTIVE = "inactive", "Inactive"
    TRANSFERRED = "transferred", "Transferred out"


class InactiveReason(models.TextChoices):
    DISCONTINUED = "discontinued", "Discontinued by prescriber"
    CANCELLED_ERX = "cancelled_erx", "Cancelled by the prescriber (CancelRx)"
    PATIENT_REQUEST = "patient_request", "Patient request"
    REPLACED = "replaced", "Replaced by a new prescription"
    ENTERED_IN_ERROR = "entered_in_error", "Entered in error"
    RENEWAL_DENIED = "renewal_denied", "Renewal denied"


class HoldReason(models.TextChoices):
    PROFILE = "profile", "Profiled: patient will call when needed"
    PATIENT_LATER = "patient_later", "Patient requested later"
    WAITING_PRESCRIBER = "waiting_prescriber", "Waiting on prescriber"
    WAITING_PA = "waiting_pa", "Waiting on prior authorization"
    OUT_OF_STOCK = "out_of_stock", "Out of stock"


class FillStatus(models.TextChoices):
    """Where a fill stands on its way from the queue to the bag (see rx/workflow.py)."""

    QUEUED = "queued", "Entered: waiting for data verification"
    SCHEDULED = "scheduled", "Waiting until fillable"
    ON_HOLD = "on_hold", "On hold"
    TO_FILL = "to_fill", "Data verified: waiting to be filled"
    FILLED = "filled", "Filled: waiting for final verification"
    READY = "ready", "Ready in will-call"
    DISPENSED = "dispensed", "Sold"
    RETURNED = "returned", "Returned to stock"
    CANCELLED = "cancelled", "Cancelled"


class Priority(models.TextChoices):
    """How urgent a fill is; the queues sort by this, then by the promised time."""

    STAT = "stat", "STAT"
    FIRST_DOSE = "first_dose", "First dose"
    WAITER = "waiter", "Waiter"
    PROMISED = "promised", "Promised time"
    DELIVERY = "delivery", "Delivery"
    NORMAL = "normal", "Normal"


PRIORITY_RANK = {
    Priority.STAT: 0,
    Priority.FIRST_DOSE: 1,
    Priority.WAITER: 2,
    Priority.PROMISED: 3,
    Priority.DELIVERY: 4,
    Priority.NORMAL: 5,
}


class FillStep(models.TextChoices):
    """A step of the fill workflow, as recorded in a fill's history."""

    ENTERED = "entered", "Entered"
    DATA_VERIFIED = "data_verified", "Data verified"
    FILLED = "filled", "Filled"
    FINAL_VERIFIED = "final_verified", "Final verification"
    SENT_BACK = "sent_back", "Sent back"
    HELD = "held", "Put on hold"
    RELEASED = "released", "Taken off hold"
    SOLD = "sold", "Sold"
    SALE_VOIDED = "sale_voided", "Sale voided (back in will-call)"
    RETURNED = "returned", "Returned to stock"
    CANCELLED = "cancelled", "Cancelled"
    LABEL_PRINTED = "label_printed", "Label printed"
    LABEL_REPRINTED = "label_reprinted", "Label reprinted"
    SCAN_OVERRIDDEN = "scan_overridden", "Product scan overridden"
    PRIORITY_CHANGED = "priority_changed", "Priority changed"
    DEVICE_SENT = "device_sent", "Sent to a dispensing device"
    DEVICE_DONE = "device_done", "Device reported"


class FillSource(models.TextChoices):
    NEW = "new", "New prescription"
    PHONE = "phone", "Refill request by phone"
    WEB = "web", "Refill request online"
    COUNTER = "counter", "Refill request at the counter"
    AUTO = "auto", "Automatic refill"
    TRANSFER = "transfer", "Transferred history"
    CYCLE = "cycle", "Long-term-care cycle fill"
    SYNC = "sync", "Medication synchronization fill"


class PartialReason(models.TextChoices):
    PHARMACY_SHORTAGE = "pharmacy_shortage", "Pharmacy unable to supply (72 hours)"
    PATIENT_REQUEST = "patient_request", "Patient requested partial fill"
    PRESCRIBER_REQUEST = "prescriber_request", "Prescriber requested partial fill"
    LTC_PATIENT = "ltc_patient", "Long-term-care patient"
    TERMINALLY_ILL = "terminally_ill", "Terminally ill patient"


class TransferDirection(models.TextChoices):
    IN = "in", "Transferred in"
    OUT = "out", "Transferred out"


class MessageDirection(models.TextChoices):
    IN = "in", "Received"
    OUT = "out", "Sent"


class ErxStatus(models.TextChoices):
    """What became of one SCRIPT message."""

    NEEDS_MATCH = "needs_match", "Needs matching"
    QUEUED = "queued", "Prescription queued"
    APPLIED = "applied", "Applied"
    REJECTED = "rejected", "Rejected"
    SENT = "sent", "Sent"
    RECORDED = "recorded", "Recorded"
