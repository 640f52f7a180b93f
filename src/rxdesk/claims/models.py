"""Payers and plans (reference data, shared by every site), claims and their transmissions,
eligibility checks, prior authorization cases and the billing decisions on a fill.

Patients' cards (``patients.Coverage``) carry the BIN, PCN and group as printed; the plan
that bills them is found by those three (``claims.queries.plan_for``), so the patient
record does not depend on this app."""

from __future__ import annotations

from typing import Any

from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.utils import timezone

from rxdesk.claims.choices import (
    BillingMode,
    ClaimStatus,
    EligibilityStatus,
    Outcome,
    PriorAuthStatus,
    TransmissionKind,
)
from rxdesk.core.models import Site, User
from rxdesk.core.validators import validate_phone
from rxdesk.patients.models import Coverage, Patient
from rxdesk.rx.models import Fill, Prescription

BIN_VALIDATOR = RegexValidator(r"^\d{6}$", "A BIN is exactly 6 digits.")


def money(**options: Any) -> models.DecimalField:
    """Dollars and cents (up to $99,999,999.99)."""
    return models.DecimalField(max_digits=10, decimal_places=2, **options)


class Payer(models.Model):
    """A processor (PBM) and the switch endpoint its claims go to over TCP."""

    name = models.CharField(max_length=80, unique=True)
    processor_name = models.CharField(max_length=80, blank=True)
    help_desk_phone = models.CharField(max_length=10, blank=True, validators=[validate_phone])
    host = models.CharField("switch host", max_length=255, default="127.0.0.1")
    port = models.PositiveIntegerField(
        "switch port", validators=[MinValueValidator(1), MaxValueValidator(65535)]
    )
    timeout_seconds = models.PositiveSmallIntegerField(
        default=15,
        validators=[MinValueValidator(1), MaxValueValidator(120)],
        help_text="How long to wait for the switch's answer before the claim goes to the outbox.",
    )
    software_vendor_id = models.CharField(
        "software vendor/certification ID (110-AK)", max_length=10, blank=True
    )
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Plan(models.Model):
    """A benefit plan of a payer, found by the BIN, PCN and group on the patient's card (a
    blank group matches any group under its BIN and PCN)."""

    payer = models.ForeignKey(Payer, on_delete=models.PROTECT, related_name="plans")
    name = models.CharField(max_length=80)
    bin = models.CharField("BIN", max_length=6, validators=[BIN_VALIDATOR])
    pcn = models.CharField("PCN", max_length=10, blank=True)
    group = models.CharField(max_length=15, blank=True, help_text="Blank: any group.")
    help_desk_phone = models.CharField(max_length=10, blank=True, validators=[validate_phone])
    return_to_stock_days = models.PositiveSmallIntegerField(
        "return-to-stock window (days)",
        default=14,
        validators=[MinValueValidator(1), MaxValueValidator(90)],
        help_text="Reverse a paid claim the patient has not picked up within this many days.",
    )
    max_days_supply = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(365)],
        help_text="Retail days-supply limit (blank: none known).",
    )
    max_days_supply_mail = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(365)]
    )
    dispensing_fee = money(
        default=0, validators=[MinValueValidator(0)], help_text="Fee submitted (412-DC)."
    )
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["bin", "pcn", "group"], name="plan_bin_pcn_group")
        ]

    def __str__(self) -> str:
        return f"{self.name} (BIN {self.bin}{' PCN ' + self.pcn if self.pcn else ''})"

    @property
    def phone(self) -> str:
        return self.help_desk_phone or self.payer.help_desk_phone


class Claim(models.Model):
    """One payer's claim for one fill: what was submitted and the latest answer. Every
    message sent and received is kept in its ``transmissions``."""

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="+")
    fill = models.ForeignKey(Fill, on_delete=models.PROTECT, related_name="claims")
    coverage = models.ForeignKey(Coverage, on_delete=models.PROTECT, related_name="claims")
    plan = models.ForeignKey(Plan, on_delete=models.PROTECT, related_name="claims")
    payer_rank = models.PositiveSmallIntegerField(
        default=1, validators=[MinValueValidator(1), MaxValueValidator(3)]
    )
    status = models.CharField(max_length=16, choices=ClaimStatus.choices)
    # The key a payer matches a claim on (B2/B3 and duplicate detection).
    rx_number = models.PositiveIntegerField()
    fill_number = models.PositiveSmallIntegerField()
    date_of_service = models.DateField()
    ndc = models.CharField("NDC billed", max_length=11)
    quantity = models.DecimalField(max_digits=10, decimal_places=3)
    days_supply = models.PositiveSmallIntegerField()
    # Submitted
    daw = models.PositiveSmallIntegerField(default=0)
    other_coverage_code = models.PositiveSmallIntegerField(default=0)
    clarification_codes = models.JSONField(default=list, blank=True)
    prior_auth_number = models.CharField(max_length=11, blank=True)
    dur_pps = models.JSONField(default=list, blank=True)
    ingredient_cost = money(null=True, blank=True)
    dispensing_fee = money(null=True, blank=True)
    usual_customary = money(null=True, blank=True)
    gross_amount_due = money(null=True, blank=True)
    other_payer_paid = money(null=True, blank=True)
    # Answered
    patient_pay = money(null=True, blank=True)
    plan_paid = money(null=True, blank=True)
    ingredient_paid = money(null=True, blank=True)
    fee_paid = money(null=True, blank=True)
    copay = money(null=True, blank=True)
    authorization_number = models.CharField(max_length=20, blank=True)
    reject_codes = models.JSONField(default=list, blank=True)
    message = models.CharField(max_length=400, blank=True)
    dur_response = models.JSONField(default=list, blank=True)
    duplicate = models.BooleanField(
        default=False, help_text="The payer answered 'duplicate of paid': the original stands."
    )
    attention = models.CharField(max_length=400, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    submitted_by = models.ForeignKey(
        User, on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)
    answered_at = models.DateTimeField(null=True, blank=True)
    reversed_at = models.DateTimeField(null=True, blank=True)
    reversed_by = models.ForeignKey(
        User, on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    reversal_reason = models.CharField(max_length=200, blank=True)

    class Meta:
        constraints = [
            # Idempotency: one live claim per fill and payer, so replaying the outbox or a
            # second click can never make a second paid claim.
            models.UniqueConstraint(
                fields=["fill", "payer_rank"],
                condition=~models.Q(status__in=["reversed", "closed"]),
                name="claim_live_per_fill_payer",
            ),
            models.CheckConstraint(
                condition=models.Q(payer_rank__gte=1, payer_rank__lte=3),
                name="claim_rank_range",
            ),
        ]
        indexes = [
            models.Index(fields=["site", "status", "created_at"], name="claim_queue"),
            models.Index(fields=["site", "date_of_service"], name="claim_day"),
            models.Index(fields=["fill", "payer_rank"], name="claim_fill"),
        ]

    def __str__(self) -> str:
        return f"Claim {self.rx_number}-{self.fill_number} to {self.plan.bin} ({self.status})"


class Eligibility(models.Model):
    """An E1 eligibility check of a patient's coverage and what the payer answered."""

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="+")
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="+")
    coverage = models.ForeignKey(Coverage, on_delete=models.PROTECT, related_name="+")
    plan = models.ForeignKey(Plan, on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=10, choices=EligibilityStatus.choices)
    reject_codes = models.JSONField(default=list, blank=True)
    message = models.CharField(max_length=400, blank=True)
    answer = models.JSONField(default=dict, blank=True)
    checked_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+", null=True)
    checked_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"Eligibility of coverage {self.coverage_id}: {self.status}"


class Transmission(models.Model):
    """One message sent to a switch and what came back, byte for byte (as latin-1 text):
    nothing a payer said is lost, even an answer that could not be read."""

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="+")
    claim = models.ForeignKey(
        Claim, on_delete=models.PROTECT, related_name="transmissions", null=True, blank=True
    )
    eligibility = models.ForeignKey(
        Eligibility,
        on_delete=models.PROTECT,
        related_name="transmissions",
        null=True,
        blank=True,
    )
    kind = models.CharField(max_length=2, choices=TransmissionKind.choices)
    request = models.TextField()
    response = models.TextField(blank=True)
    outcome = models.CharField(max_length=14, choices=Outcome.choices, blank=True)
    error = models.CharField(max_length=400, blank=True)
    actor = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+", null=True)
    started_at = models.DateTimeField(default=timezone.now)
    elapsed_ms = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["claim", "started_at"], name="transmission_claim")]

    def __str__(self) -> str:
        return f"{self.kind} at {self.started_at:%Y-%m-%d %H:%M:%S} ({self.outcome})"


class FillBilling(models.Model):
    """A decision about a fill's billing: cash instead of the plans, or a pharmacist's
    decision to go on while the claim waits in the outbox (with what to collect)."""

    fill = models.OneToOneField(Fill, on_delete=models.PROTECT, related_name="billing")
    mode = models.CharField(max_length=8, choices=BillingMode.choices)
    collect = money(
        null=True,
        blank=True,
        validators=[MinValueValidator(0)],
        help_text="What the patient pays meanwhile (proceed).",
    )
    reason = models.CharField(max_length=200)
    decided_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    decided_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"Fill {self.fill_id}: {self.mode}"


class PriorAuth(models.Model):
    """A prior authorization case for one prescription and plan."""

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="+")
    prescription = models.ForeignKey(
        Prescription, on_delete=models.PROTECT, related_name="prior_auths"
    )
    plan = models.ForeignKey(Plan, on_delete=models.PROTECT, related_name="prior_auths")
    claim = models.ForeignKey(
        Claim,
        on_delete=models.PROTECT,
        related_name="+",
        null=True,
        blank=True,
        help_text="The rejected claim that started the case.",
    )
    status = models.CharField(
        max_length=10, choices=PriorAuthStatus.choices, default=PriorAuthStatus.NEEDED
    )
    number = models.CharField("PA number", max_length=11, blank=True)
    approved_from = models.DateField(null=True, blank=True)
    approved_to = models.DateField(null=True, blank=True)
    denied_reason = models.CharField(max_length=300, blank=True)
    follow_up_on = models.DateField(null=True, blank=True)
    note = models.CharField(max_length=500, blank=True)
    opened_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    opened_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["prescription", "plan"],
                condition=models.Q(status__in=["needed", "submitted", "appealed"]),
                name="prior_auth_open_per_rx_plan",
            ),
            models.CheckConstraint(
                condition=models.Q(approved_to__isnull=True)
                | models.Q(approved_from__isnull=True)
                | models.Q(approved_to__gte=models.F("approved_from")),
                name="prior_auth_dates_order",
            ),
        ]
        indexes = [models.Index(fields=["site", "status", "follow_up_on"], name="prior_auth_queue")]

    def __str__(self) -> str:
        return f"PA for Rx {self.prescription_id} with {self.plan_id} ({self.status})"


class PriorAuthEvent(models.Model):
    """The case's history: each status change and note, who and when."""

    prior_auth = models.ForeignKey(PriorAuth, on_delete=models.PROTECT, related_name="events")
    status_from = models.CharField(max_length=10, choices=PriorAuthStatus.choices, blank=True)
    status_to = models.CharField(max_length=10, choices=PriorAuthStatus.choices)
    note = models.CharField(max_length=500, blank=True)
    actor = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.status_from or '—'} → {self.status_to}"


MAX_DOCUMENT_BYTES = 5 * 1024 * 1024


class PriorAuthDocument(models.Model):
    """A document kept with a PA case (the plan's form, chart notes, the approval letter)."""

    prior_auth = models.ForeignKey(PriorAuth, on_delete=models.PROTECT, related_name="documents")
    name = models.CharField(max_length=120)
    content_type = models.CharField(max_length=80)
    data = models.BinaryField()
    size = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)
    uploaded_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    uploaded_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return self.name
