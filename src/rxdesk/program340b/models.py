"""340B: the covered entity a contract pharmacy serves, its eligibility lists and rules,
the decisions on dispenses, the virtual inventory per NDC-11 and the replenishment orders
with the dispenses each one covers.

One covered entity per site: the pharmacy dispenses its own stock to the entity's eligible
patients and is replenished at the 340B price on the entity's account ("bill to CE, ship to
pharmacy"). Quantities are in the package's NCPDP billing unit, exact (no rounding)."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils import timezone

from rxdesk.catalog.models import Package
from rxdesk.claims.models import Plan
from rxdesk.core.models import Site, User
from rxdesk.patients.models import Patient
from rxdesk.program340b.choices import CaptureKind, PayerAction
from rxdesk.rx.models import Fill


class CoveredEntity(models.Model):
    """The 340B covered entity (HRSA OPAIS record) this pharmacy is a contract pharmacy of."""

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="+")
    opais_id = models.CharField("340B ID", max_length=20, help_text='e.g. "DSH140001"')
    name = models.CharField(max_length=120)
    entity_type = models.CharField(max_length=6)
    active = models.BooleanField(default=True)
    starts_on = models.DateField(help_text="The first day of dispenses captured for the entity")
    lookback_months = models.PositiveSmallIntegerField(
        default=12, help_text="An encounter this many months back makes the patient the entity's."
    )
    account_number = models.CharField("340B account", max_length=40, blank=True)
    wholesaler = models.CharField(max_length=80, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)
    updated_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+", null=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["site"], name="p340b_one_entity_per_site"),
            models.CheckConstraint(
                condition=Q(lookback_months__gte=1, lookback_months__lte=36),
                name="p340b_lookback_range",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.opais_id})"


class EligiblePrescriber(models.Model):
    """A prescriber on the entity's eligible list, by NPI, with the dates the listing holds."""

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="+")
    entity = models.ForeignKey(CoveredEntity, on_delete=models.PROTECT, related_name="prescribers")
    npi = models.CharField("NPI", max_length=10)
    name = models.CharField(max_length=120, blank=True)
    effective_from = models.DateField()
    effective_to = models.DateField(null=True, blank=True)
    added_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(effective_to__isnull=True)
                | Q(effective_to__gte=models.F("effective_from")),
                name="p340b_prescriber_dates",
            ),
            models.CheckConstraint(condition=Q(npi__regex=r"^[0-9]{10}$"), name="p340b_npi_digits"),
        ]
        indexes = [models.Index(fields=["entity", "npi"], name="p340b_prescriber_npi")]

    def __str__(self) -> str:
        return f"NPI {self.npi} from {self.effective_from}"


class EligiblePatient(models.Model):
    """A patient on the entity's patient list (registered with the entity)."""

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="+")
    entity = models.ForeignKey(CoveredEntity, on_delete=models.PROTECT, related_name="patients")
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="+")
    effective_from = models.DateField()
    effective_to = models.DateField(null=True, blank=True)
    added_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(effective_to__isnull=True)
                | Q(effective_to__gte=models.F("effective_from")),
                name="p340b_patient_dates",
            ),
        ]

    def __str__(self) -> str:
        return f"Patient {self.patient_id} from {self.effective_from}"


class Encounter(models.Model):
    """A visit of a patient at one of the entity's locations (a clinic, a department):
    within the look-back window it makes the patient the entity's."""

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="+")
    entity = models.ForeignKey(CoveredEntity, on_delete=models.PROTECT, related_name="encounters")
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="+")
    location = models.CharField(max_length=120)
    on = models.DateField()
    added_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["entity", "patient", "location", "on"], name="p340b_encounter_once"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.location} on {self.on}"


class PayerRule(models.Model):
    """What a plan does with a 340B dispense: carved out, or billed with SCC 20 (and the
    basis of cost 08 where the payer asks for it)."""

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="+")
    entity = models.ForeignKey(CoveredEntity, on_delete=models.PROTECT, related_name="payer_rules")
    plan = models.ForeignKey(Plan, on_delete=models.PROTECT, related_name="+")
    action = models.CharField(max_length=10, choices=PayerAction.choices)
    basis_of_cost_08 = models.BooleanField(default=False)
    note = models.CharField(max_length=200, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["entity", "plan"], name="p340b_one_rule_per_plan"),
            models.CheckConstraint(
                condition=Q(action="bill_340b") | Q(basis_of_cost_08=False),
                name="p340b_basis_only_when_billed",
            ),
        ]

    def __str__(self) -> str:
        return f"Plan {self.plan_id}: {self.action}"


class NdcExclusion(models.Model):
    """An NDC-11 never dispensed as 340B for this entity (e.g. an orphan drug for a CAH,
    SCH, RRC or cancer hospital)."""

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="+")
    entity = models.ForeignKey(CoveredEntity, on_delete=models.PROTECT, related_name="exclusions")
    ndc11 = models.CharField("NDC (11-digit)", max_length=11)
    reason = models.CharField(max_length=200)
    added_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["entity", "ndc11"], name="p340b_exclusion_once"),
            models.CheckConstraint(
                condition=Q(ndc11__regex=r"^[0-9]{11}$"), name="p340b_exclusion_ndc11"
            ),
        ]

    def __str__(self) -> str:
        return f"NDC {self.ndc11} excluded"


class Accumulator(models.Model):
    """The virtual inventory of one NDC-11: eligible units dispensed and not yet
    replenished, in the package's billing unit. Negative: units owed back (a replenished
    dispense was returned to stock). Changed only by conditional updates."""

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="+")
    entity = models.ForeignKey(CoveredEntity, on_delete=models.PROTECT, related_name="+")
    package = models.ForeignKey(Package, on_delete=models.PROTECT, related_name="+")
    units = models.DecimalField(max_digits=14, decimal_places=3, default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["entity", "package"], name="p340b_accumulator_once"),
        ]

    def __str__(self) -> str:
        return f"Package {self.package_id}: {self.units}"


class Capture(models.Model):
    """One decision on a dispensed fill (eligible or not, with each rule's reason), or the
    reversal of an eligible one returned to stock (negative units). Unique per fill and
    kind: capturing twice adds nothing."""

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="+")
    entity = models.ForeignKey(CoveredEntity, on_delete=models.PROTECT, related_name="+")
    fill = models.ForeignKey(Fill, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=10, choices=CaptureKind.choices)
    package = models.ForeignKey(Package, on_delete=models.PROTECT, related_name="+")
    ndc11 = models.CharField(max_length=11)
    day = models.DateField(help_text="The day dispensed (or returned), at the pharmacy")
    eligible = models.BooleanField()
    units = models.DecimalField(
        max_digits=14, decimal_places=3, help_text="Signed; counted only when eligible"
    )
    reasons = models.JSONField(default=list)
    captured_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["fill", "kind"], name="p340b_capture_once"),
            models.CheckConstraint(
                condition=(Q(kind="dispense") & Q(units__gt=0))
                | (Q(kind="reversal") & Q(units__lt=0)),
                name="p340b_capture_sign",
            ),
        ]
        indexes = [models.Index(fields=["site", "day"], name="p340b_capture_day")]

    def __str__(self) -> str:
        return f"{self.kind} of fill {self.fill_id}: {self.units}"


class ReplenishmentOrder(models.Model):
    """A 340B replenishment order of whole packages of one NDC (bill to the entity, ship to
    the pharmacy); it consumes accumulated units."""

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="+")
    entity = models.ForeignKey(CoveredEntity, on_delete=models.PROTECT, related_name="+")
    package = models.ForeignKey(Package, on_delete=models.PROTECT, related_name="+")
    packages = models.PositiveIntegerField()
    units = models.DecimalField(max_digits=14, decimal_places=3)
    po_number = models.CharField("PO number", max_length=30)
    ordered_at = models.DateTimeField(default=timezone.now)
    ordered_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+", null=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(packages__gte=1), name="p340b_order_packages"),
            models.CheckConstraint(condition=Q(units__gt=0), name="p340b_order_units"),
            models.UniqueConstraint(
                fields=["site", "po_number", "package"], name="p340b_po_line_once"
            ),
        ]

    def __str__(self) -> str:
        return f"PO {self.po_number}: {self.packages} x package {self.package_id}"


class Allocation(models.Model):
    """Units of one eligible dispense covered by one order (oldest dispense first; a
    dispense may be split between two orders). Kept so the audit report is reproducible."""

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="+")
    order = models.ForeignKey(
        ReplenishmentOrder, on_delete=models.PROTECT, related_name="allocations"
    )
    capture = models.ForeignKey(Capture, on_delete=models.PROTECT, related_name="allocations")
    units = models.DecimalField(max_digits=14, decimal_places=3)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(units__gt=0), name="p340b_allocation_units"),
            models.UniqueConstraint(fields=["order", "capture"], name="p340b_allocation_once"),
        ]

    def __str__(self) -> str:
        return f"Order {self.order_id} <- capture {self.capture_id}: {self.units}"
