"""Tables of immunizations.

The vaccine catalog comes from the CDC code sets (`rxdesk import-cvx DIR`): CVX vaccines,
MVX manufacturers, the NDC crosswalks (unit of sale and unit of use, each NDC to its CVX)
and the Vaccine Information Statements. Vaccine stock lives in the site's stock ledger
(inventory) like every other package; :class:`VaccineLot` records which program paid for
a site's doses of a lot, so VFC, state and private stock are kept apart.

An :class:`Immunization` is one dose given here (or a historical dose reported from
elsewhere): screening answers, consent, VIS given, the scanned package and lot, dose,
route and site, who gave it, funding and VFC eligibility, and the ledger move. Each dose
given here is reported to the state registry (IIS) as an HL7 v2.5.1 VXU^V04
(:class:`RegistryMessage`), sent over MLLP or exported in a :class:`RegistryBatch`; the
ACK is kept with the message.

Every row carries its site (directly or through its parent). Writes go through the
services of this app."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

from rxdesk.catalog.models import Package
from rxdesk.core.models import Site
from rxdesk.immunizations.choices import (
    BodySite,
    Completion,
    ConsentBy,
    CrosswalkUnit,
    Eligibility,
    Funding,
    InformationSource,
    ProcessingId,
    RecordStatus,
    RefusalReason,
    RegistryAction,
    RegistryStatus,
    Route,
    Transport,
    VisStatus,
)
from rxdesk.inventory.models import Lot, StockMove
from rxdesk.patients.models import Patient, Prescriber

USER = settings.AUTH_USER_MODEL


class ImmunizationSettings(models.Model):
    """A site's immunization rules (its state's) and its registry connection."""

    site = models.OneToOneField(
        Site, on_delete=models.PROTECT, primary_key=True, related_name="immunization_settings"
    )
    # Who may vaccinate: some states let a trained, registered technician administer.
    technicians_administer = models.BooleanField(
        "technicians may administer vaccines (state allows it)", default=False
    )
    minimum_age_months = models.PositiveSmallIntegerField(
        "youngest patient the pharmacy may vaccinate (months)",
        default=36,
        validators=[MaxValueValidator(1200)],
    )
    technician_minimum_age_months = models.PositiveSmallIntegerField(
        "youngest patient a technician may vaccinate (months)",
        default=36,
        validators=[MaxValueValidator(1200)],
    )
    # The registry (IIS)
    transport = models.CharField(max_length=8, choices=Transport.choices, default=Transport.NONE)
    iis_host = models.CharField("registry host", max_length=255, blank=True)
    iis_port = models.PositiveIntegerField(
        "registry port", null=True, blank=True, validators=[MaxValueValidator(65535)]
    )
    timeout_seconds = models.PositiveSmallIntegerField(
        default=10, validators=[MinValueValidator(1), MaxValueValidator(120)]
    )
    sending_application = models.CharField(
        "MSH-3 sending application", max_length=40, default="RXDESK"
    )
    sending_facility = models.CharField(
        "MSH-4 / RXA-11 facility id assigned by the registry", max_length=40, blank=True
    )
    receiving_application = models.CharField("MSH-5 registry name", max_length=40, blank=True)
    receiving_facility = models.CharField("MSH-6 registry facility", max_length=40, blank=True)
    processing_id = models.CharField(
        max_length=1, choices=ProcessingId.choices, default=ProcessingId.PRODUCTION
    )
    reporting_deadline_hours = models.PositiveIntegerField(
        "the state's reporting deadline (hours after the dose)",
        default=72,
        validators=[MinValueValidator(1), MaxValueValidator(24 * 60)],
    )
    retry_max_attempts = models.PositiveSmallIntegerField(
        default=8, validators=[MinValueValidator(1), MaxValueValidator(50)]
    )
    retry_minutes = models.PositiveSmallIntegerField(
        "first retry after (minutes; doubles each time)",
        default=5,
        validators=[MinValueValidator(1), MaxValueValidator(24 * 60)],
    )
    updated_at = models.DateTimeField(default=timezone.now)
    updated_by = models.ForeignKey(USER, on_delete=models.PROTECT, null=True, related_name="+")

    class Meta:
        verbose_name_plural = "immunization settings"

    def __str__(self) -> str:
        return f"Immunization settings of site {self.site_id}"


class Vaccine(models.Model):
    """A CDC CVX code."""

    cvx = models.CharField("CVX", max_length=4, unique=True)
    short_description = models.CharField(max_length=300)
    full_name = models.CharField(max_length=600, blank=True)
    notes = models.TextField(blank=True)
    status = models.CharField(max_length=20, help_text="CDC status: Active, Inactive, ...")
    last_updated = models.DateField(null=True, blank=True)
    groups = models.JSONField(default=list, help_text="CDC vaccine group names, e.g. ['FLU']")
    live = models.BooleanField("live attenuated", default=False)
    imported_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["short_description"]

    def __str__(self) -> str:
        return f"{self.short_description} (CVX {self.cvx})"


class Manufacturer(models.Model):
    """A CDC MVX code."""

    mvx = models.CharField("MVX", max_length=4, unique=True)
    name = models.CharField(max_length=200)
    notes = models.TextField(blank=True)
    status = models.CharField(max_length=20)
    last_updated = models.DateField(null=True, blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.mvx})"


class VaccineNdc(models.Model):
    """One row of the CDC NDC crosswalks: a vaccine NDC and its CVX. A unit-of-use NDC
    (the syringe or vial a technician scans) points to its unit-of-sale NDC (the carton
    the stock is received and kept in, ``package``)."""

    ndc11 = models.CharField("NDC (11-digit)", max_length=11)
    ndc10 = models.CharField("NDC as printed", max_length=13)
    unit = models.CharField(max_length=4, choices=CrosswalkUnit.choices)
    vaccine = models.ForeignKey(Vaccine, on_delete=models.PROTECT, related_name="ndcs")
    manufacturer = models.ForeignKey(
        Manufacturer, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    proprietary_name = models.CharField(max_length=200, blank=True)
    description = models.CharField(max_length=300, blank=True)
    labeler = models.CharField(max_length=200, blank=True)
    package_form = models.CharField(max_length=120, blank=True)
    route = models.CharField(max_length=60, blank=True)
    start_date = models.DateField(null=True, blank=True)
    end_date = models.DateField(null=True, blank=True)
    gtin = models.CharField(max_length=14, blank=True)
    sale_ndc11 = models.CharField(
        "unit-of-sale NDC this unit of use comes in", max_length=11, blank=True
    )
    package = models.ForeignKey(
        Package,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="The catalog package stock of this vaccine is kept in",
    )

    class Meta:
        ordering = ["ndc11"]
        constraints = [
            models.UniqueConstraint(fields=["ndc11", "unit"], name="vaccine_ndc_unit"),
        ]
        indexes = [models.Index(fields=["gtin"], name="vaccine_ndc_gtin")]

    def __str__(self) -> str:
        return f"{self.ndc10} → CVX {self.vaccine.cvx}"


class VisDocument(models.Model):
    """One edition of a Vaccine Information Statement, with its GS1 (GDTI) barcode."""

    name = models.CharField(max_length=200)
    edition_date = models.DateField()
    barcode = models.CharField("fully encoded GDTI", max_length=40, unique=True)
    document_code = models.CharField("GDTI document code", max_length=20, blank=True)
    status = models.CharField(max_length=10, choices=VisStatus.choices)
    url = models.URLField(max_length=300, blank=True)
    vaccines = models.ManyToManyField(Vaccine, related_name="vis_documents", blank=True)

    class Meta:
        ordering = ["name", "-edition_date"]

    def __str__(self) -> str:
        return f"{self.name} ({self.edition_date:%m/%d/%Y})"


class VaccineLot(models.Model):
    """Which program paid for a site's doses of one lot. A VFC dose goes only to a
    VFC-eligible child; private doses are never borrowed for VFC patients."""

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="+")
    lot = models.ForeignKey(Lot, on_delete=models.PROTECT, related_name="+")
    funding = models.CharField(max_length=8, choices=Funding.choices)
    recorded_by = models.ForeignKey(USER, on_delete=models.PROTECT, null=True, related_name="+")
    recorded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["site", "lot"], name="vaccine_lot_site_lot"),
        ]

    def __str__(self) -> str:
        return f"{self.lot} ({self.get_funding_display()})"


class Immunization(models.Model):
    """One dose: given here (information source 00) or a historical record (01–08)."""

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="+")
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="immunizations")
    vaccine = models.ForeignKey(Vaccine, on_delete=models.PROTECT, related_name="+")
    information_source = models.CharField(
        max_length=2, choices=InformationSource.choices, default=InformationSource.NEW
    )
    completion = models.CharField(
        max_length=2, choices=Completion.choices, default=Completion.COMPLETE
    )
    refusal_reason = models.CharField(max_length=2, choices=RefusalReason.choices, blank=True)
    administered_at = models.DateTimeField()
    # What was given (blank for a historical dose with no package in hand)
    ndc11 = models.CharField("NDC scanned", max_length=11, blank=True)
    package = models.ForeignKey(
        Package, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    lot = models.ForeignKey(Lot, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    lot_number = models.CharField(max_length=40, blank=True)
    expiry = models.DateField(null=True, blank=True)
    manufacturer = models.ForeignKey(
        Manufacturer, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    dose_ml = models.DecimalField(
        "dose (mL)", max_digits=6, decimal_places=3, null=True, blank=True
    )
    route = models.CharField(max_length=8, choices=Route.choices, blank=True)
    body_site = models.CharField(max_length=4, choices=BodySite.choices, blank=True)
    dose_number = models.PositiveSmallIntegerField(null=True, blank=True)
    funding = models.CharField(max_length=8, choices=Funding.choices, blank=True)
    eligibility = models.CharField(max_length=3, choices=Eligibility.choices, blank=True)
    # Who
    administered_by = models.ForeignKey(
        USER, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    administered_by_name = models.CharField(max_length=150, blank=True)
    supervising_pharmacist = models.ForeignKey(
        USER, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    ordering_prescriber = models.ForeignKey(
        Prescriber, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    protocol = models.CharField("standing order / protocol", max_length=200, blank=True)
    historical_source = models.CharField(
        "where a historical dose was reported from", max_length=200, blank=True
    )
    # Screening and consent
    screening = models.JSONField(default=dict, help_text="question code -> yes / no / unknown")
    contraindications = models.JSONField(
        default=list, help_text="[{code, kind: contraindication|precaution, text}]"
    )
    screening_reviewed_by = models.ForeignKey(
        USER, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    screening_note = models.CharField(max_length=500, blank=True)
    consent_by = models.CharField(max_length=3, choices=ConsentBy.choices, blank=True)
    consent_name = models.CharField(max_length=120, blank=True)
    consent_at = models.DateTimeField(null=True, blank=True)
    # Stock and reporting
    stock_move = models.ForeignKey(
        StockMove, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    reporting_due_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(
        max_length=20, choices=RecordStatus.choices, default=RecordStatus.RECORDED
    )
    status_reason = models.CharField(max_length=300, blank=True)
    note = models.CharField(max_length=500, blank=True)
    recorded_by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-administered_at", "-pk"]
        indexes = [
            models.Index(fields=["site", "administered_at"], name="imm_site_when"),
            models.Index(fields=["patient", "administered_at"], name="imm_patient_when"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(dose_ml__isnull=True) | Q(dose_ml__gt=0), name="imm_dose_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"Immunization {self.pk}: CVX {self.vaccine_id} for {self.patient_id}"

    @property
    def given_here(self) -> bool:
        return self.information_source == InformationSource.NEW


class ImmunizationVis(models.Model):
    """A VIS given to the patient (or parent) before the dose."""

    immunization = models.ForeignKey(
        Immunization, on_delete=models.CASCADE, related_name="vis_given"
    )
    document = models.ForeignKey(VisDocument, on_delete=models.PROTECT, related_name="+")
    presented_on = models.DateField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["immunization", "document"], name="imm_vis_once"),
        ]

    def __str__(self) -> str:
        return f"{self.document} presented {self.presented_on}"


class RegistryBatch(models.Model):
    """A batch file of VXU messages (FHS/BHS … BTS/FTS) exported for the registry."""

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="+")
    control_id = models.CharField(max_length=40, unique=True)
    file_name = models.CharField(max_length=120)
    content = models.TextField()
    message_count = models.PositiveIntegerField()
    created_by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Registry batch {self.control_id} ({self.message_count} messages)"


class RegistryMessage(models.Model):
    """One VXU^V04 for one immunization, and what the registry answered."""

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="+")
    immunization = models.ForeignKey(
        Immunization, on_delete=models.PROTECT, related_name="registry_messages"
    )
    action = models.CharField(max_length=1, choices=RegistryAction.choices)
    control_id = models.CharField("MSH-10", max_length=40, unique=True)
    message = models.TextField(help_text="The VXU, segments separated by carriage returns")
    status = models.CharField(
        max_length=10, choices=RegistryStatus.choices, default=RegistryStatus.QUEUED
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    ack_code = models.CharField("MSA-1", max_length=2, blank=True)
    ack_text = models.TextField(blank=True)
    errors = models.JSONField(
        default=list, help_text="[{severity, location, code, text}] from the ACK's ERR segments"
    )
    acked_at = models.DateTimeField(null=True, blank=True)
    due_at = models.DateTimeField(null=True, blank=True)
    batch = models.ForeignKey(
        RegistryBatch, on_delete=models.PROTECT, null=True, blank=True, related_name="messages"
    )
    created_by = models.ForeignKey(USER, on_delete=models.PROTECT, null=True, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(fields=["site", "status", "next_attempt_at"], name="regmsg_site_status"),
        ]

    def __str__(self) -> str:
        return f"VXU {self.control_id} ({self.status})"
