"""Tables of patient care.

- Medication reconciliation: a :class:`MedRec` gathers the best possible medication
  history (:class:`MedRecItem`, each line with its source) and compares it with the
  profile; :class:`MedRecDiscrepancy` rows are resolved by a pharmacist with an outcome.
- :class:`CounselingRecord` (offer, acceptance, who counseled, topics) and
  :class:`Intervention` (problem, action, prescriber contacted, outcome, time spent).
- :class:`AdverseEventReport` with the FDA MedWatch 3500 fields and its products;
  :class:`MedicationError` with the NCC MERP category and the step where it happened.
- Quality improvement: :class:`SafetyEvent` (every error, near miss and adverse event
  report has one), :class:`RootCauseAnalysis` with :class:`ContributingFactor` and
  :class:`ActionItem` (owner, due date).
- :class:`Inquiry`: calls and messages with prescribers and patients, with their log
  (:class:`InquiryEntry`), callbacks due and escalation to the pharmacist.
- :class:`PocTestResult`: CLIA-waived point-of-care tests where the site permits them.

Every row carries its site (directly or through its parent). Writes go through the
services of this app; PHI stays out of the audit log's data (only ids and codes)."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

from rxdesk.care.choices import (
    ActionStatus,
    ActionStrength,
    AgeUnit,
    CounselingMethod,
    CounselingOutcome,
    ErrorType,
    FactorCategory,
    HistorySource,
    InquiryChannel,
    InquiryEntryKind,
    InquiryParty,
    InquiryStatus,
    InquiryTopic,
    InterventionProblem,
    InterventionStatus,
    MedRecDiscrepancyKind,
    MedRecOutcome,
    MedRecReason,
    MedRecStatus,
    MerpCategory,
    PocInterpretation,
    PocResult,
    PocStatus,
    ProductRole,
    ReportStatus,
    SafetyEventKind,
    SafetyEventStatus,
    Taking,
    WorkflowStep,
    YesNoNa,
)
from rxdesk.catalog.models import Package
from rxdesk.core.models import Site
from rxdesk.patients.models import Patient, Prescriber
from rxdesk.rx.models import Fill, Prescription

USER = settings.AUTH_USER_MODEL


class CareSettings(models.Model):
    """A site's patient-care rules: point-of-care testing (CLIA certificate of waiver and
    the tests the state lets the pharmacy perform) and inquiry callbacks."""

    site = models.OneToOneField(
        Site, on_delete=models.PROTECT, primary_key=True, related_name="care_settings"
    )
    poct_enabled = models.BooleanField("point-of-care testing offered", default=False)
    clia_certificate = models.CharField(
        "CLIA certificate of waiver number", max_length=10, blank=True
    )
    clia_expires = models.DateField(null=True, blank=True)
    poct_tests = models.JSONField(default=list, help_text="codes of the tests permitted here")
    technicians_perform_poct = models.BooleanField(
        "technicians may perform CLIA-waived tests (state allows it)", default=False
    )
    callback_hours = models.PositiveSmallIntegerField(
        "default time to call back (hours)",
        default=4,
        validators=[MinValueValidator(1), MaxValueValidator(168)],
    )
    updated_at = models.DateTimeField(default=timezone.now)
    updated_by = models.ForeignKey(USER, on_delete=models.PROTECT, null=True, related_name="+")

    class Meta:
        verbose_name_plural = "care settings"

    def __str__(self) -> str:
        return f"Care settings of site {self.site_id}"


# --- medication reconciliation ------------------------------------------------------------------


class MedRec(models.Model):
    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="+")
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="medrecs")
    reason = models.CharField(max_length=16, choices=MedRecReason.choices)
    status = models.CharField(
        max_length=10, choices=MedRecStatus.choices, default=MedRecStatus.OPEN
    )
    interviewed = models.CharField(
        "who was interviewed (patient, caregiver's name)", max_length=120, blank=True
    )
    started_by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")
    started_at = models.DateTimeField(default=timezone.now)
    submitted_by = models.ForeignKey(
        USER, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    submitted_at = models.DateTimeField(null=True, blank=True)
    completed_by = models.ForeignKey(
        USER, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    completed_at = models.DateTimeField(null=True, blank=True)
    summary = models.TextField(blank=True)

    class Meta:
        ordering = ["-started_at", "-pk"]
        indexes = [models.Index(fields=["site", "status"], name="medrec_site_status")]
        constraints = [
            # One med rec in progress per patient at a time.
            models.UniqueConstraint(
                fields=["site", "patient"],
                condition=~Q(status="completed"),
                name="medrec_one_open",
            ),
        ]

    def __str__(self) -> str:
        return f"Med rec {self.pk} ({self.get_reason_display()})"


class MedRecItem(models.Model):
    """One medication of the best possible medication history."""

    medrec = models.ForeignKey(MedRec, on_delete=models.CASCADE, related_name="items")
    source = models.CharField(max_length=16, choices=HistorySource.choices)
    source_detail = models.CharField(max_length=200, blank=True)
    drug_name = models.CharField(max_length=200)
    package = models.ForeignKey(
        Package, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    prescription = models.ForeignKey(
        Prescription,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="The profile prescription this line is the same medication as",
    )
    strength = models.CharField(max_length=60, blank=True)
    dose = models.CharField(max_length=60, blank=True)
    route = models.CharField(max_length=40, blank=True)
    frequency = models.CharField(max_length=80, blank=True)
    indication = models.CharField(max_length=120, blank=True)
    last_taken = models.DateField(null=True, blank=True)
    taking = models.CharField(max_length=12, choices=Taking.choices, default=Taking.TAKING)
    note = models.CharField(max_length=300, blank=True)
    added_by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")
    added_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["pk"]

    def __str__(self) -> str:
        return f"{self.drug_name} ({self.get_source_display()})"


class MedRecDiscrepancy(models.Model):
    medrec = models.ForeignKey(MedRec, on_delete=models.CASCADE, related_name="discrepancies")
    kind = models.CharField(max_length=12, choices=MedRecDiscrepancyKind.choices)
    item = models.ForeignKey(
        MedRecItem, on_delete=models.CASCADE, null=True, blank=True, related_name="discrepancies"
    )
    prescription = models.ForeignKey(
        Prescription, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    description = models.CharField(max_length=500)
    found_by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")
    found_at = models.DateTimeField(default=timezone.now)
    outcome = models.CharField(max_length=24, choices=MedRecOutcome.choices, blank=True)
    outcome_note = models.CharField(max_length=500, blank=True)
    prescriber_contacted = models.ForeignKey(
        Prescriber, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    resolved_by = models.ForeignKey(
        USER, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["pk"]
        verbose_name_plural = "med rec discrepancies"

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.description[:60]}"


# --- counseling and interventions -----------------------------------------------------------------


class CounselingRecord(models.Model):
    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="+")
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="+")
    prescription = models.ForeignKey(
        Prescription, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    fill = models.ForeignKey(
        Fill, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    pickup_id = models.BigIntegerField(
        null=True, blank=True, help_text="pos.Pickup whose counseling offer this records"
    )
    offered_by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")
    offered_at = models.DateTimeField(default=timezone.now)
    outcome = models.CharField(max_length=10, choices=CounselingOutcome.choices)
    counseled_by = models.ForeignKey(
        USER, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    counseled_at = models.DateTimeField(null=True, blank=True)
    method = models.CharField(max_length=10, choices=CounselingMethod.choices, blank=True)
    topics = models.JSONField(default=list)
    minutes = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MaxValueValidator(600)]
    )
    interpreter = models.CharField("interpreter / language", max_length=80, blank=True)
    note = models.TextField(blank=True)

    class Meta:
        ordering = ["-offered_at", "-pk"]
        indexes = [models.Index(fields=["site", "offered_at"], name="counsel_site_when")]

    def __str__(self) -> str:
        return f"Counseling {self.pk} ({self.get_outcome_display()})"


class Intervention(models.Model):
    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="+")
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="+")
    prescription = models.ForeignKey(
        Prescription, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    fill = models.ForeignKey(
        Fill, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    problem = models.CharField(max_length=2, choices=InterventionProblem.choices)
    problem_detail = models.TextField()
    action = models.CharField(
        "professional service (NCPDP 440-E5)",
        max_length=2,
        help_text="e.g. M0 prescriber consulted",
    )
    action_detail = models.TextField(blank=True)
    prescriber = models.ForeignKey(
        Prescriber, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    prescriber_contacted_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(
        "result of service (NCPDP 441-E6)", max_length=2, blank=True, help_text="e.g. 1B changed"
    )
    outcome_detail = models.TextField(blank=True)
    minutes = models.PositiveSmallIntegerField(
        "time spent (minutes)", default=0, validators=[MaxValueValidator(600)]
    )
    status = models.CharField(
        max_length=8, choices=InterventionStatus.choices, default=InterventionStatus.OPEN
    )
    recorded_by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField(default=timezone.now)
    closed_by = models.ForeignKey(
        USER, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-recorded_at", "-pk"]
        indexes = [models.Index(fields=["site", "status"], name="interv_site_status")]

    def __str__(self) -> str:
        return f"Intervention {self.pk} ({self.get_problem_display()})"


# --- quality: safety events, errors, adverse events ----------------------------------------------


class SafetyEvent(models.Model):
    """The quality-improvement record every error, near miss and adverse event has."""

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=20, choices=SafetyEventKind.choices)
    title = models.CharField(max_length=200)
    occurred_at = models.DateTimeField()
    step = models.CharField(max_length=20, choices=WorkflowStep.choices, blank=True)
    error_type = models.CharField(max_length=20, choices=ErrorType.choices, blank=True)
    category = models.CharField(max_length=1, choices=MerpCategory.choices, blank=True)
    description = models.TextField()
    patient = models.ForeignKey(
        Patient, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    status = models.CharField(
        max_length=10, choices=SafetyEventStatus.choices, default=SafetyEventStatus.OPEN
    )
    reported_by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")
    reported_at = models.DateTimeField(default=timezone.now)
    closed_by = models.ForeignKey(
        USER, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    closed_at = models.DateTimeField(null=True, blank=True)
    closing_note = models.TextField(blank=True)

    class Meta:
        ordering = ["-occurred_at", "-pk"]
        indexes = [
            models.Index(fields=["site", "occurred_at"], name="safety_site_when"),
            models.Index(fields=["site", "status"], name="safety_site_status"),
        ]

    def __str__(self) -> str:
        return f"Safety event {self.pk}: {self.title}"


class MedicationError(models.Model):
    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="+")
    safety_event = models.OneToOneField(
        SafetyEvent, on_delete=models.PROTECT, related_name="medication_error"
    )
    patient = models.ForeignKey(
        Patient, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    prescription = models.ForeignKey(
        Prescription, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    fill = models.ForeignKey(
        Fill, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    occurred_at = models.DateTimeField()
    discovered_at = models.DateTimeField()
    discovered_by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")
    step = models.CharField(max_length=20, choices=WorkflowStep.choices)
    caught_at_step = models.CharField(
        "where it was caught", max_length=20, choices=WorkflowStep.choices, blank=True
    )
    error_type = models.CharField(max_length=20, choices=ErrorType.choices)
    category = models.CharField("NCC MERP category", max_length=1, choices=MerpCategory.choices)
    description = models.TextField()
    immediate_action = models.TextField(blank=True)
    patient_notified = models.BooleanField(default=False)
    prescriber_notified = models.BooleanField(default=False)
    follow_up = models.TextField(blank=True)
    follow_up_due = models.DateField(null=True, blank=True)
    follow_up_done_at = models.DateTimeField(null=True, blank=True)
    follow_up_done_by = models.ForeignKey(
        USER, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    reported_by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")
    reported_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-occurred_at", "-pk"]

    def __str__(self) -> str:
        return f"Medication error {self.pk} (category {self.category})"


class AdverseEventReport(models.Model):
    """An adverse drug event with the fields of FDA Form 3500 (MedWatch)."""

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="+")
    safety_event = models.OneToOneField(
        SafetyEvent, on_delete=models.PROTECT, related_name="adverse_event"
    )
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="+")
    # A. Patient information (the form carries an identifier, never the name)
    patient_identifier = models.CharField("A.1 patient identifier (initials)", max_length=10)
    age = models.PositiveSmallIntegerField(null=True, blank=True)
    age_unit = models.CharField(max_length=6, choices=AgeUnit.choices, blank=True)
    sex = models.CharField(max_length=1, blank=True)
    weight_kg = models.DecimalField(max_digits=6, decimal_places=2, null=True, blank=True)
    # B. Adverse event or product problem
    adverse_event = models.BooleanField("B.1 adverse event", default=True)
    product_problem = models.BooleanField("B.1 product problem", default=False)
    outcomes = models.JSONField(default=list, help_text="B.2 outcomes (AdeOutcome values)")
    death_date = models.DateField(null=True, blank=True)
    event_date = models.DateField("B.3 date of event")
    report_date = models.DateField("B.4 date of this report")
    description = models.TextField("B.5 describe event or problem")
    tests_labs = models.TextField("B.6 relevant tests / laboratory data", blank=True)
    history = models.TextField("B.7 other relevant history, pre-existing conditions", blank=True)
    # E. Reporter
    reporter_name = models.CharField(max_length=120)
    reporter_address = models.CharField(max_length=300, blank=True)
    reporter_phone = models.CharField(max_length=20, blank=True)
    reporter_email = models.EmailField(blank=True)
    health_professional = models.BooleanField(default=True)
    occupation = models.CharField(max_length=60, default="Pharmacist")
    also_reported_to = models.JSONField(
        default=list, help_text="manufacturer, compounder, user facility, distributor"
    )
    # Submission
    status = models.CharField(
        max_length=10, choices=ReportStatus.choices, default=ReportStatus.DRAFT
    )
    submitted_by = models.ForeignKey(
        USER, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    submitted_at = models.DateTimeField(null=True, blank=True)
    fda_reference = models.CharField("MedWatch report number", max_length=40, blank=True)
    created_by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"Adverse event report {self.pk}"


class AdverseEventProduct(models.Model):
    """Form 3500 section C (suspect products) or the concomitant products list."""

    report = models.ForeignKey(
        AdverseEventReport, on_delete=models.CASCADE, related_name="products"
    )
    role = models.CharField(max_length=12, choices=ProductRole.choices)
    prescription = models.ForeignKey(
        Prescription, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    name = models.CharField(max_length=200)
    strength = models.CharField(max_length=60, blank=True)
    manufacturer = models.CharField(max_length=120, blank=True)
    ndc11 = models.CharField(max_length=11, blank=True)
    lot_number = models.CharField(max_length=40, blank=True)
    expiry = models.DateField(null=True, blank=True)
    dose = models.CharField(max_length=60, blank=True)
    frequency = models.CharField(max_length=60, blank=True)
    route = models.CharField(max_length=40, blank=True)
    therapy_start = models.DateField(null=True, blank=True)
    therapy_end = models.DateField(null=True, blank=True)
    indication = models.CharField(max_length=200, blank=True)
    dechallenge = models.CharField(
        "event abated after use stopped or dose reduced",
        max_length=8,
        choices=YesNoNa.choices,
        default=YesNoNa.UNKNOWN,
    )
    rechallenge = models.CharField(
        "event reappeared after reintroduction",
        max_length=8,
        choices=YesNoNa.choices,
        default=YesNoNa.UNKNOWN,
    )

    class Meta:
        ordering = ["pk"]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_role_display()})"


class RootCauseAnalysis(models.Model):
    event = models.OneToOneField(SafetyEvent, on_delete=models.PROTECT, related_name="rca")
    led_by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")
    team = models.CharField(max_length=300, blank=True)
    what_happened = models.TextField()
    root_cause = models.TextField(blank=True)
    started_at = models.DateTimeField(default=timezone.now)
    completed_by = models.ForeignKey(
        USER, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "root cause analyses"

    def __str__(self) -> str:
        return f"Root-cause analysis of event {self.event_id}"


class ContributingFactor(models.Model):
    rca = models.ForeignKey(RootCauseAnalysis, on_delete=models.CASCADE, related_name="factors")
    category = models.CharField(max_length=14, choices=FactorCategory.choices)
    description = models.CharField(max_length=500)

    class Meta:
        ordering = ["pk"]

    def __str__(self) -> str:
        return f"{self.get_category_display()}: {self.description[:60]}"


class ActionItem(models.Model):
    rca = models.ForeignKey(RootCauseAnalysis, on_delete=models.CASCADE, related_name="actions")
    description = models.CharField(max_length=500)
    strength = models.CharField(max_length=12, choices=ActionStrength.choices)
    owner = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")
    due_on = models.DateField()
    status = models.CharField(max_length=8, choices=ActionStatus.choices, default=ActionStatus.OPEN)
    done_at = models.DateTimeField(null=True, blank=True)
    done_by = models.ForeignKey(
        USER, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    done_note = models.CharField(max_length=500, blank=True)
    created_by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["due_on", "pk"]

    def __str__(self) -> str:
        return f"{self.description[:60]} (due {self.due_on})"


# --- inquiries ----------------------------------------------------------------------------------


class Inquiry(models.Model):
    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="+")
    channel = models.CharField(max_length=10, choices=InquiryChannel.choices)
    incoming = models.BooleanField(default=True)
    party = models.CharField(max_length=12, choices=InquiryParty.choices)
    topic = models.CharField(max_length=14, choices=InquiryTopic.choices)
    patient = models.ForeignKey(
        Patient, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    prescriber = models.ForeignKey(
        Prescriber, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    prescription = models.ForeignKey(
        Prescription, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    contact_name = models.CharField(max_length=120, blank=True)
    contact_phone = models.CharField(max_length=20, blank=True)
    summary = models.TextField()
    status = models.CharField(
        max_length=10, choices=InquiryStatus.choices, default=InquiryStatus.OPEN
    )
    callback_due = models.DateTimeField(null=True, blank=True)
    escalated_to = models.ForeignKey(
        USER, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    escalated_at = models.DateTimeField(null=True, blank=True)
    resolution = models.TextField(blank=True)
    opened_by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")
    opened_at = models.DateTimeField(default=timezone.now)
    closed_by = models.ForeignKey(
        USER, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-opened_at", "-pk"]
        verbose_name_plural = "inquiries"
        indexes = [
            models.Index(fields=["site", "status", "callback_due"], name="inquiry_site_due"),
        ]

    def __str__(self) -> str:
        return f"Inquiry {self.pk} ({self.get_topic_display()})"


class InquiryEntry(models.Model):
    inquiry = models.ForeignKey(Inquiry, on_delete=models.CASCADE, related_name="entries")
    kind = models.CharField(max_length=10, choices=InquiryEntryKind.choices)
    text = models.TextField(blank=True)
    by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["at", "pk"]
        verbose_name_plural = "inquiry entries"

    def __str__(self) -> str:
        return f"{self.get_kind_display()} at {self.at:%Y-%m-%d %H:%M}"


# --- point-of-care tests --------------------------------------------------------------------------


class PocTestResult(models.Model):
    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="+")
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="+")
    test_code = models.CharField(max_length=20, help_text="rxdesk.care.poct_tests code")
    test_name = models.CharField(max_length=120)
    loinc = models.CharField("LOINC", max_length=10, blank=True)
    kit_name = models.CharField(max_length=120, blank=True)
    kit_lot = models.CharField(max_length=40)
    kit_expiry = models.DateField()
    specimen = models.CharField(max_length=40)
    collected_at = models.DateTimeField()
    performed_by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")
    result = models.CharField(max_length=10, choices=PocResult.choices)
    value = models.DecimalField(max_digits=8, decimal_places=2, null=True, blank=True)
    unit = models.CharField(max_length=20, blank=True)
    reference_range = models.CharField(max_length=60, blank=True)
    interpretation = models.CharField(max_length=10, choices=PocInterpretation.choices, blank=True)
    follow_up = models.TextField(blank=True)
    referred = models.BooleanField(default=False)
    referral_to = models.CharField(max_length=200, blank=True)
    referral_reason = models.CharField(max_length=300, blank=True)
    communicated_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=18, choices=PocStatus.choices, default=PocStatus.RECORDED)
    status_reason = models.CharField(max_length=300, blank=True)
    reviewed_by = models.ForeignKey(
        USER, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)
    recorded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-collected_at", "-pk"]
        indexes = [models.Index(fields=["site", "collected_at"], name="poct_site_when")]
        constraints = [
            models.CheckConstraint(
                condition=~Q(result="value") | Q(value__isnull=False), name="poct_value_present"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.test_name} {self.pk} ({self.get_result_display()})"
