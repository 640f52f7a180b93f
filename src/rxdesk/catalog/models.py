"""The drug catalog: FDA NDC Directory products and packages, Orange Book therapeutic
equivalence, per-product safety flags and package prices.

Reference data shared by every site (a Citus reference table at scale). Rows change only
through rxdesk.catalog.services (imports and flag edits)."""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from rxdesk.catalog.choices import BillingUnit, DeaSchedule, PriceKind, Storage


class Product(models.Model):
    """One FDA NDC Directory product (labeler + product code): a drug in one strength and
    dosage form from one labeler."""

    product_id = models.CharField("FDA PRODUCTID", max_length=80, unique=True)
    product_ndc = models.CharField(max_length=10, db_index=True, help_text="e.g. 0002-3227")
    product_type = models.CharField(max_length=60)
    name = models.CharField("proprietary name", max_length=500)
    name_suffix = models.CharField(max_length=200, blank=True)
    generic_name = models.CharField("nonproprietary name", max_length=600, blank=True)
    tall_man_name = models.CharField(
        max_length=500, blank=True, help_text="FDA/ISMP tall-man lettering, where it applies"
    )
    dosage_form = models.CharField(max_length=100, blank=True)
    route = models.CharField(max_length=200, blank=True)
    strength = models.TextField(blank=True, help_text="e.g. 10 mg/1; 25 mg/1")
    substances = models.TextField(blank=True)
    pharm_classes = models.TextField(blank=True)
    marketing_category = models.CharField(max_length=60, blank=True)
    application_number = models.CharField(max_length=20, blank=True, db_index=True)
    labeler = models.CharField(max_length=200, blank=True)
    marketing_start = models.DateField(null=True, blank=True)
    marketing_end = models.DateField(null=True, blank=True)
    directory_dea_schedule = models.CharField(
        max_length=4,
        choices=DeaSchedule.choices,
        blank=True,
        help_text="As published in the FDA NDC Directory",
    )
    dea_schedule_override = models.CharField(
        max_length=4,
        choices=DeaSchedule.choices,
        blank=True,
        help_text="A state's stricter scheduling, set by the pharmacist-in-charge",
    )
    hazardous = models.BooleanField("NIOSH hazardous drug", default=False)
    high_alert = models.BooleanField("ISMP high-alert medication", default=False)
    storage = models.CharField(max_length=12, choices=Storage.choices, default=Storage.ROOM)
    protect_from_light = models.BooleanField(default=False)
    cold_chain = models.BooleanField(default=False)
    rems = models.BooleanField("REMS program", default=False)
    maintenance = models.BooleanField("maintenance medication", default=False)
    unit_dose = models.BooleanField(default=False)
    otc = models.BooleanField("over the counter", default=False)
    cmea = models.BooleanField(
        "CMEA behind-the-counter product",
        default=False,
        help_text="OTC pseudoephedrine, ephedrine or phenylpropanolamine (21 CFR 1314).",
    )
    cmea_base_mg = models.DecimalField(
        "CMEA base per dosage unit (mg)",
        max_digits=10,
        decimal_places=4,
        null=True,
        blank=True,
        help_text="Base (not salt) per tablet or capsule, or per mL of a liquid.",
    )
    look_alikes = models.ManyToManyField(
        "self", symmetrical=True, blank=True, help_text="Look-alike / sound-alike partners"
    )
    excluded = models.BooleanField(
        default=False, help_text="On FDA's excluded list (NDC_EXCLUDE_FLAG E)"
    )
    active = models.BooleanField(default=True, help_text="In the latest directory import")
    imported_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["name"], name="product_name")]

    def __str__(self) -> str:
        return f"{self.display_name} {self.strength} {self.dosage_form}".strip()

    @property
    def display_name(self) -> str:
        return self.tall_man_name or self.name

    @property
    def dea_schedule(self) -> str:
        """The schedule in force: the state override where set, else the directory's."""
        return self.dea_schedule_override or self.directory_dea_schedule


class Ingredient(models.Model):
    """An active ingredient of a product with its strength (as the directory states it)."""

    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="ingredients")
    position = models.PositiveSmallIntegerField()
    name = models.CharField(max_length=300)
    strength = models.CharField(max_length=40, blank=True)
    unit = models.CharField(max_length=80, blank=True)

    class Meta:
        ordering = ["product", "position"]
        constraints = [
            models.UniqueConstraint(fields=["product", "position"], name="ingredient_position")
        ]

    def __str__(self) -> str:
        return f"{self.name} {self.strength} {self.unit}".strip()


class Package(models.Model):
    """A package by NDC: stored as 11 digits (5-4-2, no hyphens) with the 10-digit form as
    printed on the package kept for display."""

    ndc11 = models.CharField("NDC (11-digit)", max_length=11, unique=True)
    ndc10 = models.CharField("NDC as printed", max_length=12, help_text="e.g. 0002-3227-30")
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="packages")
    description = models.CharField(max_length=1000)
    billing_unit = models.CharField(max_length=2, choices=BillingUnit.choices)
    package_quantity = models.DecimalField(
        max_digits=12, decimal_places=3, help_text="Billing units in the package"
    )
    marketing_start = models.DateField(null=True, blank=True)
    marketing_end = models.DateField(null=True, blank=True)
    sample = models.BooleanField(default=False)
    active = models.BooleanField(default=True, help_text="In the latest directory import")

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(ndc11__regex=r"^[0-9]{11}$"), name="package_ndc11_digits"
            ),
            models.CheckConstraint(
                condition=models.Q(package_quantity__gt=0), name="package_quantity_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.ndc10} {self.description}"


class ApplicationProduct(models.Model):
    """A Drugs@FDA product of an application, with its Orange Book TE code."""

    appl_no = models.CharField(max_length=6, db_index=True)
    product_no = models.CharField(max_length=3)
    drug_name = models.CharField(max_length=200, blank=True)
    active_ingredient = models.CharField(max_length=500, blank=True)
    form = models.CharField(max_length=200, blank=True)
    strength = models.CharField(max_length=300, blank=True)
    reference_drug = models.BooleanField(default=False)
    te_code = models.CharField(
        "TE code", max_length=40, blank=True, db_index=True, help_text="e.g. AB, or AB1,AB2"
    )
    marketing_status = models.CharField(max_length=40, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["appl_no", "product_no"], name="appl_product_unique")
        ]
        indexes = [
            models.Index(fields=["active_ingredient", "form", "strength"], name="appl_equiv")
        ]

    def __str__(self) -> str:
        return f"{self.appl_no}/{self.product_no} {self.drug_name} {self.te_code}"


class PackagePrice(models.Model):
    """A price of a package from a given date; history is kept, the latest applies."""

    package = models.ForeignKey(Package, on_delete=models.PROTECT, related_name="prices")
    kind = models.CharField(max_length=16, choices=PriceKind.choices)
    amount = models.DecimalField(max_digits=12, decimal_places=2)
    effective_on = models.DateField()
    recorded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["package", "kind", "effective_on"], name="price_once_per_day"
            ),
            models.CheckConstraint(condition=models.Q(amount__gte=0), name="price_not_negative"),
        ]
        indexes = [models.Index(fields=["package", "kind", "-effective_on"], name="price_latest")]

    def __str__(self) -> str:
        return f"{self.package.ndc10} {self.kind} {self.amount} from {self.effective_on}"


class ImportRun(models.Model):
    """One run of an importer: what file, how many rows, which were refused and why."""

    kind = models.CharField(max_length=20)  # ndc, te, prices
    source = models.CharField(max_length=500)
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    created = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    unchanged = models.PositiveIntegerField(default=0)
    deactivated = models.PositiveIntegerField(default=0)
    rejected = models.PositiveIntegerField(default=0)
    problems = models.TextField(blank=True, help_text="One line per refused row")

    def __str__(self) -> str:
        return f"{self.kind} import of {self.source} at {self.started_at:%Y-%m-%d %H:%M}"
