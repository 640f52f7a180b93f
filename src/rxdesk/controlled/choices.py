"""Code sets of the DEA records: order forms, inventories, audits, investigations, theft and
loss (Form 106), destruction (Form 41), waste and PMP submissions."""

from django.db import models


class ScheduleGroup(models.TextChoices):
    """21 CFR 1304.04(h): Schedule II records are kept apart from Schedules III–V."""

    II = "II", "Schedule II"
    III_V = "III-V", "Schedules III–V"


class OrderForm(models.TextChoices):
    PAPER_222 = "222", "DEA Form 222 (paper)"
    CSOS = "csos", "CSOS electronic order"


class OrderDirection(models.TextChoices):
    """Who issued the order: the pharmacy buying Schedule II stock, or another registrant
    (a reverse distributor, a supplier taking a return) ordering from the pharmacy."""

    PURCHASE = "purchase", "We order from a supplier"
    SUPPLY = "supply", "Issued to us (we ship: reverse distributor, return)"


class OrderStatus(models.TextChoices):
    OPEN = "open", "Open — nothing received"
    PARTIAL = "partial", "Partly received"
    COMPLETE = "complete", "Complete"
    EXPIRED = "expired", "Expired (60 days) with lines unfilled"
    VOID = "void", "Void / unaccepted"


class InventoryKind(models.TextChoices):
    INITIAL = "initial", "Initial inventory"
    BIENNIAL = "biennial", "Biennial inventory"
    NEWLY_SCHEDULED = "newly_scheduled", "Newly scheduled substance"
    PIC_CHANGE = "pic_change", "Change of pharmacist-in-charge"
    OTHER = "other", "Other (state rule, closing)"


class TakenAt(models.TextChoices):
    OPENING = "opening", "Opening of business"
    CLOSE = "close", "Close of business"


class InventoryStatus(models.TextChoices):
    OPEN = "open", "Being counted"
    SIGNED = "signed", "Signed by the pharmacist-in-charge"
    CANCELLED = "cancelled", "Cancelled"


class AuditStatus(models.TextChoices):
    MATCHED = "matched", "Matches the perpetual balance"
    DISCREPANCY = "discrepancy", "Discrepancy — to investigate"
    INVESTIGATING = "investigating", "Under investigation"
    RESOLVED = "resolved", "Resolved"


class InvestigationStatus(models.TextChoices):
    OPEN = "open", "Open"
    RESOLVED = "resolved", "Resolved"


class InvestigationOutcome(models.TextChoices):
    COUNTING_ERROR = "counting_error", "Counting error — recount matched"
    RECORD_ERROR = "record_error", "Record error — a transaction was missing or wrong"
    FOUND = "found", "Stock found"
    NOT_SIGNIFICANT = "not_significant", "Loss, not significant — balance corrected"
    THEFT = "theft", "Theft — Form 106"
    SIGNIFICANT_LOSS = "significant_loss", "Significant loss — Form 106"


class LossType(models.TextChoices):
    """DEA Form 106 types of theft or loss."""

    NIGHT_BREAK_IN = "night_break_in", "Night break-in"
    ARMED_ROBBERY = "armed_robbery", "Armed robbery"
    EMPLOYEE_PILFERAGE = "employee_pilferage", "Employee pilferage"
    CUSTOMER_THEFT = "customer_theft", "Customer theft"
    LOST_IN_TRANSIT = "lost_in_transit", "Lost in transit"
    OTHER = "other", "Other (explain)"


class LossStatus(models.TextChoices):
    DRAFT = "draft", "Draft — being completed"
    NOTIFIED = "notified", "DEA field office notified"
    SUBMITTED = "submitted", "Form 106 submitted"
    CANCELLED = "cancelled", "Cancelled (not a theft or significant loss)"


class DestructionStatus(models.TextChoices):
    DESTROYED = "destroyed", "Destroyed"


class WasteKind(models.TextChoices):
    PARTIAL_DOSE = "partial_dose", "Wasted partial dose"
    PATIENT_RETURN = "patient_return", "Returned by a patient (never restocked)"
    BREAKAGE = "breakage", "Breakage or spill (not recoverable)"


class PmpKind(models.TextChoices):
    DAILY = "daily", "Daily report"
    RANGE = "range", "Date range"
    ZERO = "zero", "Zero report"


class PmpStatus(models.TextChoices):
    CREATED = "created", "Created"
    SENT = "sent", "Sent to the PMP"
    ACCEPTED = "accepted", "Accepted"
    REJECTED = "rejected", "Rejected — correct and resend"


class PmpAction(models.TextChoices):
    """ASAP DSP01: what a dispensing record in a file does."""

    NEW = "00", "New record"
    REVISE = "01", "Revise"
    VOID = "02", "Void"
