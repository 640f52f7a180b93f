"""Patients (demographics, allergies, conditions, measurements, coverages) and prescribers.

Every row carries its site. Rows change only through rxdesk.patients.services."""

from __future__ import annotations

import datetime as dt
import unicodedata

from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone

from rxdesk.core.models import Site, User
from rxdesk.core.validators import (
    format_phone,
    validate_dea,
    validate_npi,
    validate_phone,
    validate_postal_code,
    validate_state,
)
from rxdesk.patients.choices import (
    AllergenKind,
    AllergyStatus,
    AllergyType,
    ConditionStatus,
    ContactMethod,
    CoverageKind,
    IdentifierKind,
    InfoSource,
    LactationStatus,
    Language,
    MeasurementKind,
    PatientStatus,
    PregnancyStatus,
    PrescriberCredential,
    PrivacyAck,
    Relationship,
    Severity,
    Sex,
)


def name_key(value: str) -> str:
    """Lower-case, accent-free, letters and digits only: 'O’Brien-Núñez' -> 'obriennunez'."""
    folded = unicodedata.normalize("NFKD", value or "").casefold()
    return "".join(c for c in folded if c.isalnum() and not unicodedata.combining(c))


# The characters of a name key, in the order every collation puts them (digits, then
# letters): a key above a prefix is built from them, never from punctuation that a
# PostgreSQL locale collation would skip over.
KEY_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"


def key_upper_bound(prefix: str) -> str | None:
    """The shortest key above every key that starts with ``prefix`` ('smi' -> 'smj',
    'diaz' -> 'dib', 'zz' -> None: no bound). A last character outside KEY_ALPHABET (an
    unaccented non-Latin letter) is dropped and the one before it raised."""
    stem = prefix
    while stem:
        at = KEY_ALPHABET.find(stem[-1])
        if 0 <= at < len(KEY_ALPHABET) - 1:
            return stem[:-1] + KEY_ALPHABET[at + 1]
        stem = stem[:-1]
    return None


def key_prefix(field: str, prefix: str) -> models.Q:
    """``field`` (a name key column) starts with ``prefix``, as an index range scan.

    ``__startswith`` alone is a LIKE, which SQLite cannot answer from an index (its LIKE
    ignores case, the index does not), nor PostgreSQL under a locale collation: the range
    ``prefix <= key < key_upper_bound(prefix)`` both can. The LIKE is kept beside it so
    that the answer is exact under any collation (the range is the wider of the two)."""
    q = models.Q(**{f"{field}__gte": prefix, f"{field}__startswith": prefix})
    upper = key_upper_bound(prefix)
    return q & models.Q(**{f"{field}__lt": upper}) if upper is not None else q


class Household(models.Model):
    """People a pharmacy serves together (a family at one address): at pickup the
    counter sees what is ready for each of them."""

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="+")
    name = models.CharField(max_length=120)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    def __str__(self) -> str:
        return self.name


class Patient(models.Model):
    """A person the pharmacy serves."""

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="+")
    first_name = models.CharField(max_length=60)
    middle_name = models.CharField(max_length=60, blank=True)
    last_name = models.CharField(max_length=60)
    suffix = models.CharField(max_length=10, blank=True)
    preferred_name = models.CharField(max_length=60, blank=True)
    date_of_birth = models.DateField()
    sex = models.CharField(max_length=1, choices=Sex.choices, default=Sex.UNKNOWN)
    status = models.CharField(
        max_length=10, choices=PatientStatus.choices, default=PatientStatus.ACTIVE
    )
    address_line1 = models.CharField(max_length=120, blank=True)
    address_line2 = models.CharField(max_length=120, blank=True)
    city = models.CharField(max_length=80, blank=True)
    state = models.CharField(max_length=2, blank=True, validators=[validate_state])
    postal_code = models.CharField(max_length=10, blank=True, validators=[validate_postal_code])
    phone_mobile = models.CharField(max_length=10, blank=True, validators=[validate_phone])
    phone_home = models.CharField(max_length=10, blank=True, validators=[validate_phone])
    phone_work = models.CharField(max_length=10, blank=True, validators=[validate_phone])
    email = models.EmailField(blank=True)
    preferred_language = models.CharField(
        max_length=8, choices=Language.choices, default=Language.ENGLISH
    )
    pregnancy_status = models.CharField(
        max_length=20, choices=PregnancyStatus.choices, default=PregnancyStatus.UNKNOWN
    )
    lactation_status = models.CharField(
        max_length=20, choices=LactationStatus.choices, default=LactationStatus.UNKNOWN
    )
    pregnancy_recorded_on = models.DateField(null=True, blank=True)
    allergy_status = models.CharField(
        max_length=12, choices=AllergyStatus.choices, default=AllergyStatus.NOT_ASKED
    )
    allergies_reviewed_at = models.DateTimeField(null=True, blank=True)
    privacy_notice = models.CharField(
        "HIPAA privacy notice", max_length=12, choices=PrivacyAck.choices, blank=True, default=""
    )
    privacy_notice_on = models.DateField(null=True, blank=True)
    contact_method = models.CharField(
        max_length=8, choices=ContactMethod.choices, default=ContactMethod.PHONE
    )
    refill_reminders = models.BooleanField(default=False)
    easy_open_caps = models.BooleanField(
        "non-child-resistant caps requested",
        default=False,
        help_text="Poison Prevention Packaging Act waiver requested by the patient.",
    )
    large_print = models.BooleanField("large-print labels", default=False)
    household = models.ForeignKey(
        Household, on_delete=models.SET_NULL, related_name="members", null=True, blank=True
    )
    possible_duplicate = models.BooleanField(
        default=False,
        help_text="Created although another patient has the same name and birth date.",
    )
    last_name_key = models.CharField(max_length=60, editable=False, db_index=True)
    first_name_key = models.CharField(max_length=60, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        indexes = [
            models.Index(fields=["site", "last_name_key", "first_name_key"], name="patient_name"),
            models.Index(fields=["site", "date_of_birth"], name="patient_dob"),
            models.Index(fields=["site", "phone_mobile"], name="patient_mobile"),
            models.Index(fields=["site", "phone_home"], name="patient_home"),
        ]
        constraints = [
            models.CheckConstraint(condition=~models.Q(first_name=""), name="patient_first_name"),
            models.CheckConstraint(condition=~models.Q(last_name=""), name="patient_last_name"),
        ]

    def __str__(self) -> str:
        return f"{self.last_name}, {self.first_name}"

    def save(self, *args: object, **kwargs: object) -> None:
        self.last_name_key = name_key(self.last_name)[:60]
        self.first_name_key = name_key(self.first_name)[:60]
        update_fields = kwargs.get("update_fields")
        if update_fields is not None:
            kwargs["update_fields"] = {*update_fields, "last_name_key", "first_name_key"}  # type: ignore[misc]
        super().save(*args, **kwargs)  # type: ignore[arg-type]

    @property
    def full_name(self) -> str:
        parts = [self.first_name, self.middle_name, self.last_name, self.suffix]
        return " ".join(p for p in parts if p)

    @property
    def phones(self) -> list[tuple[str, str]]:
        return [
            (label, format_phone(number))
            for label, number in (
                ("mobile", self.phone_mobile),
                ("home", self.phone_home),
                ("work", self.phone_work),
            )
            if number
        ]

    def age_on(self, day: dt.date | None = None) -> int:
        """Age in whole years on ``day`` (default: today at the pharmacy)."""
        today = day or self.site.today()
        dob = self.date_of_birth
        return today.year - dob.year - ((today.month, today.day) < (dob.month, dob.day))


class PatientIdentifier(models.Model):
    """An identifier a patient is known by (driver's license for controlled pickups, MBI…)."""

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="identifiers")
    kind = models.CharField(max_length=20, choices=IdentifierKind.choices)
    value = models.CharField(max_length=40)
    issuer = models.CharField(max_length=40, blank=True, help_text="e.g. issuing state")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["patient", "kind", "value"], name="patient_ident_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.value}"


class Allergy(models.Model):
    """One recorded allergy or intolerance. Removed entries stay, marked inactive."""

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="allergies")
    allergen_kind = models.CharField(max_length=12, choices=AllergenKind.choices)
    allergen = models.CharField(max_length=120, help_text="Ingredient or class name")
    allergen_code = models.CharField(
        max_length=20, blank=True, help_text="Code of the ingredient or class (e.g. RxNorm, UNII)"
    )
    allergy_type = models.CharField(
        max_length=12, choices=AllergyType.choices, default=AllergyType.ALLERGY
    )
    reaction = models.CharField(max_length=200, blank=True)
    severity = models.CharField(max_length=20, choices=Severity.choices, default=Severity.UNKNOWN)
    source = models.CharField(max_length=12, choices=InfoSource.choices, default=InfoSource.PATIENT)
    active = models.BooleanField(default=True)
    inactivated_reason = models.CharField(max_length=200, blank=True)
    recorded_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+", null=True)
    recorded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name_plural = "allergies"
        constraints = [
            models.UniqueConstraint(
                Lower("allergen"),
                "patient",
                "allergen_kind",
                condition=models.Q(active=True),
                name="allergy_active_unique",
            ),
            models.CheckConstraint(condition=~models.Q(allergen=""), name="allergy_allergen"),
        ]

    def __str__(self) -> str:
        return f"{self.allergen} ({self.get_severity_display()})"


class Condition(models.Model):
    """A diagnosis on the patient's profile, coded in ICD-10-CM where known."""

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="conditions")
    icd10 = models.CharField(
        "ICD-10-CM code",
        max_length=8,
        blank=True,
        validators=[
            RegexValidator(
                r"^[A-Z][0-9][0-9A-Z](\.[0-9A-Z]{1,4})?$",
                "An ICD-10-CM code looks like E11.9 or I10.",
            )
        ],
    )
    description = models.CharField(max_length=200)
    onset = models.DateField(null=True, blank=True)
    status = models.CharField(
        max_length=10, choices=ConditionStatus.choices, default=ConditionStatus.ACTIVE
    )
    recorded_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+", null=True)
    recorded_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.icd10} {self.description}".strip()


class Measurement(models.Model):
    """A dated weight (kg), height (cm) or serum creatinine (mg/dL); dose and kidney
    checks use the latest one."""

    UNITS = {
        MeasurementKind.WEIGHT: "kg",
        MeasurementKind.HEIGHT: "cm",
        MeasurementKind.SERUM_CREATININE: "mg/dL",
    }

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="measurements")
    kind = models.CharField(max_length=8, choices=MeasurementKind.choices)
    value = models.DecimalField(max_digits=6, decimal_places=2, validators=[MinValueValidator(0)])
    measured_on = models.DateField()
    recorded_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+", null=True)
    recorded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["patient", "kind", "-measured_on"], name="measure_latest")]
        constraints = [
            models.CheckConstraint(condition=models.Q(value__gt=0), name="measurement_positive")
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.value} {self.unit} on {self.measured_on}"

    @property
    def unit(self) -> str:
        return self.UNITS[MeasurementKind(self.kind)]


class Coverage(models.Model):
    """A prescription plan on the patient's card (billed in the claims issue)."""

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="coverages")
    rank = models.PositiveSmallIntegerField(
        default=1,
        validators=[MinValueValidator(1), MaxValueValidator(3)],
        help_text="1 primary, 2 secondary, 3 tertiary",
    )
    kind = models.CharField(max_length=10, choices=CoverageKind.choices, default=CoverageKind.PLAN)
    plan_name = models.CharField(max_length=80, blank=True)
    bin = models.CharField(
        "BIN",
        max_length=6,
        blank=True,
        validators=[RegexValidator(r"^\d{6}$", "A BIN is exactly 6 digits.")],
    )
    pcn = models.CharField("PCN", max_length=10, blank=True)
    group = models.CharField(max_length=15, blank=True)
    member_id = models.CharField("cardholder ID", max_length=20, blank=True)
    person_code = models.CharField(max_length=3, blank=True)
    relationship = models.CharField(
        max_length=1, choices=Relationship.choices, default=Relationship.CARDHOLDER
    )
    effective_on = models.DateField(null=True, blank=True)
    terminates_on = models.DateField(null=True, blank=True)
    active = models.BooleanField(default=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(rank__gte=1, rank__lte=3), name="coverage_rank_range"
            ),
            models.UniqueConstraint(
                fields=["patient", "rank"],
                condition=models.Q(active=True),
                name="coverage_active_rank_unique",
            ),
        ]

    def __str__(self) -> str:
        if self.kind == CoverageKind.CASH:
            return f"Cash (rank {self.rank})"
        return f"{self.plan_name or self.get_kind_display()} (BIN {self.bin}, rank {self.rank})"

    @property
    def billable(self) -> bool:
        """Billed over NCPDP: anything but cash, with a BIN to route it."""
        return self.kind != CoverageKind.CASH and bool(self.bin)

    def in_effect(self, on: dt.date) -> bool:
        return (
            self.active
            and (self.effective_on is None or self.effective_on <= on)
            and (self.terminates_on is None or on <= self.terminates_on)
        )


class Prescriber(models.Model):
    """A practitioner who writes prescriptions, with the identifiers a claim and a CS
    prescription need."""

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="+")
    first_name = models.CharField(max_length=60)
    middle_name = models.CharField(max_length=60, blank=True)
    last_name = models.CharField(max_length=60)
    suffix = models.CharField(max_length=10, blank=True)
    credential = models.CharField(max_length=6, choices=PrescriberCredential.choices, blank=True)
    npi = models.CharField("NPI", max_length=10, validators=[validate_npi])
    dea_number = models.CharField("DEA number", max_length=9, blank=True, validators=[validate_dea])
    dea_suffix = models.CharField("DEA institutional suffix", max_length=10, blank=True)
    state_license = models.CharField(max_length=30, blank=True)
    state_license_state = models.CharField(max_length=2, blank=True, validators=[validate_state])
    specialty = models.CharField(max_length=80, blank=True)
    active = models.BooleanField(default=True)
    last_name_key = models.CharField(max_length=60, editable=False, db_index=True)
    first_name_key = models.CharField(max_length=60, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["site", "npi"], name="prescriber_site_npi_unique"),
            models.CheckConstraint(condition=~models.Q(last_name=""), name="prescriber_last_name"),
        ]
        indexes = [
            models.Index(fields=["site", "last_name_key", "first_name_key"], name="prescriber_name")
        ]

    def __str__(self) -> str:
        cred = f", {self.credential}" if self.credential else ""
        return f"{self.last_name}, {self.first_name}{cred}"

    def save(self, *args: object, **kwargs: object) -> None:
        self.last_name_key = name_key(self.last_name)[:60]
        self.first_name_key = name_key(self.first_name)[:60]
        update_fields = kwargs.get("update_fields")
        if update_fields is not None:
            kwargs["update_fields"] = {*update_fields, "last_name_key", "first_name_key"}  # type: ignore[misc]
        super().save(*args, **kwargs)  # type: ignore[arg-type]

    @property
    def full_name(self) -> str:
        parts = [self.first_name, self.middle_name, self.last_name, self.suffix]
        name = " ".join(p for p in parts if p)
        return f"{name}, {self.credential}" if self.credential else name


class PrescriberAddress(models.Model):
    """A practice location with its phone and fax."""

    prescriber = models.ForeignKey(Prescriber, on_delete=models.CASCADE, related_name="addresses")
    label = models.CharField(max_length=60, blank=True, help_text="e.g. clinic name")
    address_line1 = models.CharField(max_length=120)
    address_line2 = models.CharField(max_length=120, blank=True)
    city = models.CharField(max_length=80)
    state = models.CharField(max_length=2, validators=[validate_state])
    postal_code = models.CharField(max_length=10, validators=[validate_postal_code])
    phone = models.CharField(max_length=10, validators=[validate_phone])
    fax = models.CharField(max_length=10, blank=True, validators=[validate_phone])
    primary = models.BooleanField(default=True)

    def __str__(self) -> str:
        return f"{self.address_line1}, {self.city} {self.state}"

    @property
    def phone_display(self) -> str:
        return format_phone(self.phone)

    @property
    def fax_display(self) -> str:
        return format_phone(self.fax)
