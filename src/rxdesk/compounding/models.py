"""Tables of compounding: master formulation records (versioned, approved by the
pharmacist-in-charge), compounding records with their components, quality checks and
beyond-use date, the cleanroom (rooms, primary engineering controls, certifications,
environmental samples, pressure and temperature/humidity readings, cleaning logs,
corrective actions), staff competency results and hazardous-drug assessments of risk.

Every row carries its site. Writes go through the services in this app; logs of what was
measured or done (samples, readings, cleaning, competency results) are never edited —
a wrong entry is corrected by a new one with a note."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from rxdesk.catalog.models import Package, Product
from rxdesk.compounding.choices import (
    ActionSource,
    Category,
    CleaningArea,
    CleaningKind,
    CompetencyKind,
    ContainerKind,
    FormulaStatus,
    IngredientRole,
    IsoClass,
    PecKind,
    Preparation,
    Pressure,
    RecordStatus,
    RoomKind,
    SampleKind,
    SourceContainer,
    Sterilization,
    Storage,
)
from rxdesk.core.models import Site
from rxdesk.inventory.models import Lot, StockMove

USER = settings.AUTH_USER_MODEL


class CompoundingSettings(models.Model):
    """A site's stricter-than-USP limits (a state board may codify older or tighter ones,
    e.g. California 16 CCR §1751.9). Absent row = the USP defaults."""

    site = models.OneToOneField(Site, on_delete=models.CASCADE, related_name="compounding_settings")
    single_dose_iso5_hours = models.PositiveSmallIntegerField(
        default=12, help_text="In-use hours of a single-dose container entered in ISO 5 air"
    )
    single_dose_outside_iso5_hours = models.PositiveSmallIntegerField(
        default=0,
        help_text="In-use hours of a single-dose container entered outside ISO 5 (0: use at "
        "once, immediate use only)",
    )
    multiple_dose_days = models.PositiveSmallIntegerField(
        default=28, help_text="In-use days of a multiple-dose container after first entry"
    )
    cap_at_source_in_use = models.BooleanField(
        default=False,
        help_text="Local policy: a preparation's BUD never passes an opened source's in-use time",
    )
    retention_years = models.PositiveSmallIntegerField(
        default=3, help_text="Years compounding records are kept (USP: at least 3)"
    )

    def __str__(self) -> str:
        return f"Compounding settings of {self.site}"


# --- Cleanroom ------------------------------------------------------------------------------


class Room(models.Model):
    """A room or area where compounding happens or hazardous drugs are kept."""

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="compounding_rooms")
    name = models.CharField(max_length=80)
    kind = models.CharField(max_length=12, choices=RoomKind.choices)
    iso_class = models.CharField(max_length=1, choices=IsoClass.choices, blank=True)
    pressure = models.CharField(max_length=8, choices=Pressure.choices, default=Pressure.POSITIVE)
    hazardous = models.BooleanField(default=False, help_text="Used for hazardous drugs (<800>)")
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["site", "name"]
        constraints = [
            models.UniqueConstraint(fields=["site", "name"], name="compounding_room_name"),
        ]

    def __str__(self) -> str:
        return self.name


class EngineeringControl(models.Model):
    """A primary engineering control (hood, BSC, isolator, CVE) in a room."""

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="+")
    room = models.ForeignKey(Room, on_delete=models.PROTECT, related_name="controls")
    name = models.CharField(max_length=80)
    kind = models.CharField(max_length=6, choices=PecKind.choices)
    iso_class = models.CharField(max_length=1, choices=IsoClass.choices, default=IsoClass.ISO_5)
    hazardous = models.BooleanField(default=False, help_text="Containment PEC (C-PEC) for HDs")
    serial_number = models.CharField(max_length=40, blank=True)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["site", "name"]
        constraints = [
            models.UniqueConstraint(fields=["site", "name"], name="compounding_pec_name"),
        ]

    def __str__(self) -> str:
        return self.name


class CorrectiveAction(models.Model):
    """An excursion's investigation and remedy: opened by the reading or sample that went
    over its limit, closed by a pharmacist with what was done."""

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="+")
    source = models.CharField(max_length=14, choices=ActionSource.choices)
    room = models.ForeignKey(
        Room, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    control = models.ForeignKey(
        EngineeringControl, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    problem = models.CharField(max_length=500)
    opened_at = models.DateTimeField(default=timezone.now)
    opened_by = models.ForeignKey(USER, on_delete=models.PROTECT, null=True, related_name="+")
    action_taken = models.TextField(blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    closed_by = models.ForeignKey(
        USER, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-opened_at"]
        indexes = [models.Index(fields=["site", "closed_at"], name="cmp_action_open")]

    def __str__(self) -> str:
        return f"Corrective action {self.pk}: {self.problem[:60]}"


class Certification(models.Model):
    """A certification of a room or a PEC (airflow, HEPA integrity, particle counts, smoke
    pattern): initially and at least every 6 months."""

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="+")
    room = models.ForeignKey(
        Room, on_delete=models.PROTECT, null=True, blank=True, related_name="certifications"
    )
    control = models.ForeignKey(
        EngineeringControl,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="certifications",
    )
    certified_on = models.DateField()
    due_on = models.DateField()
    passed = models.BooleanField(default=True)
    certifier = models.CharField(max_length=120)
    report_reference = models.CharField(max_length=80, blank=True)
    note = models.CharField(max_length=500, blank=True)
    corrective_action = models.ForeignKey(
        CorrectiveAction, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    recorded_by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-certified_on", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(room__isnull=False, control__isnull=True)
                | Q(room__isnull=True, control__isnull=False),
                name="certification_room_or_pec",
            ),
        ]

    def __str__(self) -> str:
        return f"Certification of {self.room or self.control} on {self.certified_on}"


class EnvironmentalSample(models.Model):
    """A viable air or surface sample's result against its ISO class's action level."""

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=8, choices=SampleKind.choices)
    room = models.ForeignKey(Room, on_delete=models.PROTECT, related_name="samples")
    control = models.ForeignKey(
        EngineeringControl, on_delete=models.PROTECT, null=True, blank=True, related_name="samples"
    )
    location = models.CharField(max_length=120, help_text="Where on the map, e.g. PEC work surface")
    iso_class = models.CharField(max_length=1, choices=IsoClass.choices)
    sampled_at = models.DateTimeField()
    air_volume_liters = models.DecimalField(max_digits=8, decimal_places=1, null=True, blank=True)
    cfu = models.PositiveIntegerField("colony-forming units counted")
    cfu_measure = models.DecimalField(
        max_digits=10, decimal_places=2, help_text="CFU per m³ (air) or per plate (surface)"
    )
    action_level = models.DecimalField(max_digits=8, decimal_places=2)
    excursion = models.BooleanField(default=False)
    organism = models.CharField(max_length=120, blank=True)
    highly_pathogenic = models.BooleanField(default=False)
    corrective_action = models.ForeignKey(
        CorrectiveAction, on_delete=models.PROTECT, null=True, blank=True, related_name="samples"
    )
    recorded_by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField(default=timezone.now)
    note = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-sampled_at", "-pk"]
        indexes = [models.Index(fields=["site", "kind", "sampled_at"], name="cmp_sample_when")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} sample {self.location}: {self.cfu} CFU"


class PressureReading(models.Model):
    """A room's pressure differential against the room it opens into (inches water column)."""

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="+")
    room = models.ForeignKey(Room, on_delete=models.PROTECT, related_name="pressures")
    reference = models.CharField(max_length=80, help_text="Measured against, e.g. ante-room")
    inches_wc = models.DecimalField("in. w.c.", max_digits=6, decimal_places=4)
    read_at = models.DateTimeField()
    in_range = models.BooleanField()
    corrective_action = models.ForeignKey(
        CorrectiveAction, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    recorded_by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")
    note = models.CharField(max_length=500, blank=True)
    recorded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-read_at", "-pk"]
        indexes = [models.Index(fields=["site", "room", "read_at"], name="cmp_pressure_when")]

    def __str__(self) -> str:
        return f"{self.room} {self.inches_wc} in. w.c. at {self.read_at:%Y-%m-%d %H:%M}"


class RoomConditions(models.Model):
    """A room's temperature and relative humidity on a compounding day."""

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="+")
    room = models.ForeignKey(Room, on_delete=models.PROTECT, related_name="conditions")
    read_at = models.DateTimeField()
    temperature_c = models.DecimalField(max_digits=4, decimal_places=1)
    humidity_pct = models.DecimalField(max_digits=4, decimal_places=1)
    in_range = models.BooleanField()
    corrective_action = models.ForeignKey(
        CorrectiveAction, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    recorded_by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")
    note = models.CharField(max_length=500, blank=True)
    recorded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-read_at", "-pk"]
        indexes = [models.Index(fields=["site", "room", "read_at"], name="cmp_conditions_when")]

    def __str__(self) -> str:
        return f"{self.room} {self.temperature_c} °C {self.humidity_pct} % RH"


class CleaningLog(models.Model):
    """Cleaning, disinfecting or sporicidal work done on an area of a room or in a PEC."""

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="+")
    room = models.ForeignKey(Room, on_delete=models.PROTECT, related_name="cleanings")
    control = models.ForeignKey(
        EngineeringControl, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    area = models.CharField(max_length=14, choices=CleaningArea.choices)
    kind = models.CharField(max_length=12, choices=CleaningKind.choices)
    agent = models.CharField(max_length=120)
    performed_at = models.DateTimeField()
    performed_by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")
    performed_by_name = models.CharField(max_length=150)
    note = models.CharField(max_length=500, blank=True)
    recorded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-performed_at", "-pk"]
        indexes = [
            models.Index(
                fields=["site", "room", "area", "kind", "performed_at"], name="cmp_clean_when"
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} of {self.get_area_display()} in {self.room}"


# --- Staff competency ----------------------------------------------------------------------


class CompetencyResult(models.Model):
    """One evaluation of one person: training, garbing with fingertip sampling, media fill,
    cleaning, hazardous-drug handling. Due dates follow from the kind and the categories the
    person compounds (rxdesk.compounding.competency)."""

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="+")
    person = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="competency_results")
    kind = models.CharField(max_length=20, choices=CompetencyKind.choices)
    performed_on = models.DateField()
    passed = models.BooleanField()
    initial = models.BooleanField(
        default=False, help_text="Part of the initial qualification (three fingertip samples)"
    )
    cfu = models.PositiveIntegerField(
        "CFU, both hands", null=True, blank=True, help_text="Fingertip and thumb sampling"
    )
    evaluator = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")
    evaluator_name = models.CharField(max_length=150)
    note = models.CharField(max_length=500, blank=True)
    recorded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-performed_on", "-pk"]
        indexes = [models.Index(fields=["person", "kind", "performed_on"], name="cmp_competency")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} of {self.person_id} on {self.performed_on}"


# --- Hazardous drugs ----------------------------------------------------------------------


class RiskAssessment(models.Model):
    """A USP <800> assessment of risk: how a hazardous drug in a dosage form is handled
    without full containment. Reviewed at least every 12 months."""

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="+")
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="+")
    dosage_form = models.CharField(max_length=100)
    packaging = models.CharField(max_length=200)
    manipulation = models.CharField(max_length=200)
    risk_of_exposure = models.CharField(max_length=500)
    containment = models.TextField(
        help_text="Alternative containment strategies and work practices"
    )
    ppe = models.CharField("PPE", max_length=300)
    reviewed_on = models.DateField()
    review_due = models.DateField()
    approved_by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")
    approved_by_name = models.CharField(max_length=150)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["product__name", "-reviewed_on"]

    def __str__(self) -> str:
        return f"Assessment of risk: {self.product_id} {self.dosage_form}"


# --- Master formulation records -----------------------------------------------------------


class MasterFormula(models.Model):
    """One version of a master formulation record. Editing an approved formula makes a new
    draft version; only the pharmacist-in-charge approves, and approving retires the version
    it supersedes. Records are made only from an approved version."""

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="master_formulas")
    code = models.CharField(max_length=30, help_text="Short code, the same for every version")
    version = models.PositiveIntegerField(default=1)
    status = models.CharField(
        max_length=10, choices=FormulaStatus.choices, default=FormulaStatus.DRAFT
    )
    name = models.CharField(max_length=200)
    strength = models.CharField(max_length=80)
    dosage_form = models.CharField(max_length=80)
    route = models.CharField(max_length=60)
    category = models.CharField(max_length=14, choices=Category.choices)
    preparation = models.CharField(
        max_length=24, choices=Preparation.choices, blank=True, help_text="Nonsterile only"
    )
    preserved = models.BooleanField(default=False)
    aseptic = models.BooleanField(
        default=True, help_text="Sterile: aseptically processed (else terminally sterilized)"
    )
    sterilization = models.CharField(max_length=12, choices=Sterilization.choices, blank=True)
    sterile_starting_components = models.BooleanField(default=True)
    sterility_tested = models.BooleanField(default=False)
    storage = models.CharField(max_length=12, choices=Storage.choices, default=Storage.ROOM)
    container_kind = models.CharField(max_length=14, choices=ContainerKind.choices, blank=True)
    batch_quantity = models.DecimalField(max_digits=12, decimal_places=4)
    batch_unit = models.CharField(max_length=20, help_text="mL, g, or a count (capsules, syringes)")
    container = models.CharField("container-closure", max_length=200)
    equipment = models.TextField(blank=True)
    procedure = models.TextField()
    calculations = models.TextField(blank=True)
    quality_checks = models.TextField(blank=True, help_text="One check per line: name = expected")
    physical_description = models.CharField(max_length=300, blank=True)
    stability_days = models.PositiveIntegerField(
        null=True, blank=True, help_text="Stability limit from the reference, if shorter"
    )
    bud_rationale = models.TextField(blank=True)
    references = models.TextField(blank=True)
    labeling = models.TextField(blank=True, help_text="Auxiliary statements, one per line")
    hazardous = models.BooleanField(default=False)
    change_note = models.CharField(max_length=500, blank=True)
    supersedes = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    approved_by = models.ForeignKey(
        USER, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    approved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["site", "code", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["site", "code", "version"], name="formula_version"),
            models.CheckConstraint(
                condition=Q(batch_quantity__gt=0), name="formula_batch_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} {self.strength} {self.dosage_form} (v{self.version})"


class FormulaIngredient(models.Model):
    """An ingredient of a formula with its quantity for the formula's batch size."""

    formula = models.ForeignKey(MasterFormula, on_delete=models.CASCADE, related_name="ingredients")
    position = models.PositiveSmallIntegerField()
    product = models.ForeignKey(
        Product,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="The stocked drug taken from inventory; blank for unstocked items (water)",
    )
    name = models.CharField(max_length=200)
    quantity = models.DecimalField(max_digits=14, decimal_places=4)
    unit = models.CharField(max_length=20, help_text="g, mg, mL, each…")
    role = models.CharField(
        max_length=12, choices=IngredientRole.choices, default=IngredientRole.ACTIVE
    )
    quantity_sufficient = models.BooleanField("q.s.", default=False)
    note = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["formula", "position"]
        constraints = [
            models.UniqueConstraint(
                fields=["formula", "position"], name="formula_ingredient_position"
            ),
            models.CheckConstraint(condition=Q(quantity__gt=0), name="formula_ingredient_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.name} {self.quantity.normalize():f} {self.unit}"


# --- Compounding records ------------------------------------------------------------------


class CompoundingRecord(models.Model):
    """One preparation (a batch or one patient's): what was made from which lots, by whom,
    checked how, verified by which pharmacist, with its internal lot and beyond-use date."""

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="compounding_records")
    formula = models.ForeignKey(MasterFormula, on_delete=models.PROTECT, related_name="records")
    lot_number = models.CharField("internal lot number", max_length=30)
    prescription = models.ForeignKey(
        "rx.Prescription", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    quantity = models.DecimalField(max_digits=12, decimal_places=4)
    unit = models.CharField(max_length=20)
    scale = models.DecimalField(max_digits=14, decimal_places=6)
    category = models.CharField(max_length=14, choices=Category.choices)
    storage = models.CharField(max_length=12, choices=Storage.choices)
    status = models.CharField(
        max_length=22, choices=RecordStatus.choices, default=RecordStatus.IN_PROGRESS
    )
    prepared_at = models.DateTimeField(help_text="The BUD clock starts here")
    beyond_use = models.DateTimeField()
    bud_rule = models.CharField(max_length=500)
    limited_by_component = models.BooleanField(default=False)
    room = models.ForeignKey(
        Room, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    control = models.ForeignKey(
        EngineeringControl, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    hazardous = models.BooleanField(default=False)
    hd_requirements = models.JSONField(default=list, blank=True)
    calculations = models.JSONField(default=list, blank=True)
    physical_description = models.CharField(max_length=300, blank=True)
    deviations = models.TextField(blank=True)
    compounded_by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")
    compounded_by_name = models.CharField(max_length=150)
    verified_by = models.ForeignKey(
        USER, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    verified_by_name = models.CharField(max_length=150, blank=True)
    verified_at = models.DateTimeField(null=True, blank=True)
    reject_reason = models.CharField(max_length=500, blank=True)
    label_printed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-prepared_at", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["site", "lot_number"], name="compounding_lot_number"),
            models.CheckConstraint(
                condition=Q(quantity__gt=0), name="compounding_quantity_positive"
            ),
        ]
        indexes = [models.Index(fields=["site", "status", "prepared_at"], name="cmp_record_status")]

    def __str__(self) -> str:
        return f"{self.lot_number} {self.formula.name}"


class RecordComponent(models.Model):
    """A component as used: the lot taken from stock (one row per lot), the amount the
    formula called for, and what was weighed or measured."""

    record = models.ForeignKey(
        CompoundingRecord, on_delete=models.CASCADE, related_name="components"
    )
    ingredient = models.ForeignKey(
        FormulaIngredient, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    position = models.PositiveSmallIntegerField()
    name = models.CharField(max_length=200)
    package = models.ForeignKey(
        Package, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    lot = models.ForeignKey(Lot, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    lot_number = models.CharField(max_length=40, blank=True)
    expiry = models.DateField(null=True, blank=True)
    manufacturer = models.CharField(max_length=200, blank=True)
    required_quantity = models.DecimalField(max_digits=14, decimal_places=4)
    unit = models.CharField(max_length=20)
    stock_quantity = models.DecimalField(
        max_digits=14, decimal_places=3, null=True, blank=True, help_text="Billing units taken"
    )
    stock_move = models.ForeignKey(
        StockMove, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    measured_quantity = models.DecimalField(max_digits=14, decimal_places=4, null=True, blank=True)
    measured_unit = models.CharField(max_length=20, blank=True)
    measured_by = models.ForeignKey(
        USER, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    measured_at = models.DateTimeField(null=True, blank=True)
    source_container = models.CharField(max_length=14, choices=SourceContainer.choices, blank=True)
    first_opened_at = models.DateTimeField(null=True, blank=True)
    opened_in_iso5 = models.BooleanField(default=True)
    in_use_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["record", "position", "pk"]

    def __str__(self) -> str:
        return f"{self.name} lot {self.lot_number or '-'}"


class QualityCheck(models.Model):
    """A quality-control result on a record: visual inspection, pH, weight, filter integrity…"""

    record = models.ForeignKey(CompoundingRecord, on_delete=models.CASCADE, related_name="checks")
    name = models.CharField(max_length=120)
    expected = models.CharField(max_length=200, blank=True)
    result = models.CharField(max_length=200)
    passed = models.BooleanField()
    checked_by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")
    checked_by_name = models.CharField(max_length=150)
    checked_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["record", "checked_at", "pk"]

    def __str__(self) -> str:
        return f"{self.name}: {self.result}"
