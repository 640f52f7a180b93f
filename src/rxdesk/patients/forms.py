"""Forms of the patient and prescriber screens: parsing only (the rules are in
rxdesk.patients.services, shown beside the fields through rxdesk.core.forms.bind_errors)."""

from __future__ import annotations

from typing import Any

from django import forms

from rxdesk.core.forms import DateField, RxForm, choice, flag, text
from rxdesk.patients.choices import (
    AllergenKind,
    AllergyType,
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


class PatientSearchForm(RxForm):
    q = text(
        100,
        label="Find a patient",
        autocomplete="off",
        type="search",
        placeholder="smith, jo · 05/17/1970 · 217-555-2001",
    )
    include_inactive = flag("Include inactive")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["q"].widget.attrs["data-search"] = True


class PatientForm(RxForm):
    FIELDSETS = (
        (
            "Name and birth",
            (
                "last_name",
                "first_name",
                "middle_name",
                "suffix",
                "preferred_name",
                "date_of_birth",
                "sex",
                "status",
            ),
        ),
        (
            "Address and phones",
            (
                "address_line1",
                "address_line2",
                "city",
                "state",
                "postal_code",
                "phone_mobile",
                "phone_home",
                "phone_work",
                "email",
            ),
        ),
        ("Clinical", ("pregnancy_status", "lactation_status")),
        (
            "Language and communication",
            (
                "preferred_language",
                "contact_method",
                "refill_reminders",
                "easy_open_caps",
                "large_print",
            ),
        ),
        ("HIPAA privacy notice", ("privacy_notice", "privacy_notice_on")),
    )
    SEPARATE = ("allow_duplicate",)

    last_name = text(60, required=True, label="Last name")
    first_name = text(60, required=True, label="First name")
    middle_name = text(60, label="Middle name")
    suffix = text(10, placeholder="Jr., III")
    preferred_name = text(60, label="Preferred name")
    date_of_birth = DateField(label="Date of birth")
    sex = choice(Sex.choices)
    status = choice(PatientStatus.choices)
    address_line1 = text(120, label="Address")
    address_line2 = text(120, label="Address, line 2")
    city = text(80)
    state = text(2, placeholder="IL")
    postal_code = text(10, label="ZIP code")
    phone_mobile = text(20, label="Mobile phone", type="tel")
    phone_home = text(20, label="Home phone", type="tel")
    phone_work = text(20, label="Work phone", type="tel")
    email = text(254, type="email")
    pregnancy_status = choice(PregnancyStatus.choices, label="Pregnancy")
    lactation_status = choice(LactationStatus.choices, label="Breastfeeding")
    preferred_language = choice(Language.choices, label="Preferred language")
    contact_method = forms.ChoiceField(
        choices=ContactMethod.choices, label="Contact by", initial=ContactMethod.PHONE
    )
    refill_reminders = flag("Refill reminders")
    easy_open_caps = flag(
        "Non-child-resistant caps",
        "The patient asked for easy-open caps (Poison Prevention Packaging Act waiver).",
    )
    large_print = flag("Large-print labels")
    privacy_notice = choice(PrivacyAck.choices, label="Notice acknowledgement", required=False)
    privacy_notice_on = DateField(required=False, label="Acknowledged on")
    allow_duplicate = flag(
        "This is a different person",
        "Tick only after checking the records above: the new patient is flagged for review.",
    )

    def __init__(self, *args: Any, creating: bool = True, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if creating:
            del self.fields["status"]
        else:
            del self.fields["allow_duplicate"]


class AllergyForm(RxForm):
    allergen = text(
        120, required=True, label="Allergen", placeholder="ingredient, drug class, food…"
    )
    allergen_kind = choice(AllergenKind.choices, label="Kind")
    allergy_type = choice(AllergyType.choices, label="Type")
    severity = choice(Severity.choices)
    reaction = text(200, placeholder="e.g. hives, anaphylaxis")
    source = choice(InfoSource.choices, label="Reported by")
    allergen_code = text(20, label="Code (RxNorm or UNII)")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["severity"].initial = Severity.UNKNOWN


class AllergyRemoveForm(RxForm):
    reason = forms.CharField(
        max_length=200,
        label="Why is it being removed?",
        widget=forms.TextInput(attrs={"placeholder": "e.g. entered in error, tolerated since"}),
    )


class ConditionForm(RxForm):
    description = text(200, required=True, placeholder="e.g. Type 2 diabetes")
    icd10 = text(8, label="ICD-10-CM code", placeholder="E11.9")
    onset = DateField(required=False, label="Onset")


class IdentifierForm(RxForm):
    kind = choice(IdentifierKind.choices)
    value = text(40, required=True, label="Number", autocomplete="off")
    issuer = text(40, placeholder="e.g. issuing state")


# Only the units the counter uses; the service also converts g and m.
UNITS = [
    ("kg", "kg"),
    ("lb", "lb"),
    ("cm", "cm"),
    ("in", "in"),
    ("mg/dL", "mg/dL"),
    ("umol/L", "µmol/L"),
]


class MeasurementForm(RxForm):
    kind = choice(MeasurementKind.choices)
    # The same bounds as the API's schema: a number the service can convert exactly (its
    # Decimal context cannot quantize an exponent like 1E+30).
    value = forms.DecimalField(
        max_digits=8,
        decimal_places=3,
        widget=forms.TextInput(
            attrs={"inputmode": "decimal", "placeholder": "72.5", "autocomplete": "off"}
        ),
        error_messages={"invalid": "Enter a number, like 72.5."},
    )
    unit = choice(UNITS)
    measured_on = DateField(required=False, label="Measured on", help_text="Leave empty for today.")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # The kind comes from the link that opened the form; the value is what is typed.
        self.fields["kind"].widget.attrs.pop("autofocus", None)
        self.fields["value"].widget.attrs["autofocus"] = True


class CoverageForm(RxForm):
    FIELDSETS = (
        ("Card", ("kind", "bin", "pcn", "group", "member_id", "person_code", "relationship")),
        ("Plan", ("plan_name", "rank", "effective_on", "terminates_on")),
    )

    # What pays: a plan, a copay card (billed last), an assistance program, or cash. BIN and
    # cardholder ID may be left empty only for cash: the service says so beside the field.
    kind = choice(CoverageKind.choices, label="Kind", required=False)
    bin = text(6, label="BIN", inputmode="numeric")
    pcn = text(10, label="PCN")
    group = text(15, label="Group")
    member_id = text(20, label="Cardholder ID")
    person_code = text(3, label="Person code")
    relationship = choice(Relationship.choices)
    plan_name = text(80, label="Plan name")
    rank = forms.TypedChoiceField(
        choices=[(1, "Primary"), (2, "Secondary"), (3, "Tertiary")],
        coerce=int,
        initial=1,
        label="Bill as",
    )
    effective_on = DateField(required=False, label="Effective")
    terminates_on = DateField(required=False, label="Ends")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("initial", {}).setdefault("kind", CoverageKind.PLAN)
        super().__init__(*args, **kwargs)
        self.fields["bin"].help_text = "6 digits, from the card (blank for cash)."
        self.fields["member_id"].help_text = "Blank for cash."
        # Most cards are plans: the technician starts typing the BIN (Shift+Tab for the kind).
        self.fields["kind"].widget.attrs.pop("autofocus", None)
        self.fields["bin"].widget.attrs["autofocus"] = True

    def clean_kind(self) -> str:
        """No kind sent (an older client, a script): a plan, as before kinds existed."""
        return self.cleaned_data.get("kind") or CoverageKind.PLAN


class PrescriberSearchForm(RxForm):
    q = text(
        100,
        label="Find a prescriber",
        autocomplete="off",
        type="search",
        placeholder="okafor, m · 1234567893",
    )
    include_inactive = flag("Include inactive")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["q"].widget.attrs["data-search"] = True


class PrescriberForm(RxForm):
    FIELDSETS = (
        (
            "Name",
            (
                "last_name",
                "first_name",
                "middle_name",
                "suffix",
                "credential",
                "specialty",
                "active",
            ),
        ),
        (
            "Identifiers",
            ("npi", "dea_number", "confirm_dea_name", "state_license", "state_license_state"),
        ),
    )

    last_name = text(60, required=True, label="Last name")
    first_name = text(60, required=True, label="First name")
    middle_name = text(60, label="Middle name")
    suffix = text(10)
    credential = choice([("", "—"), *PrescriberCredential.choices], required=False)
    specialty = text(80)
    active = flag("Active", "An inactive prescriber is left out of searches.")
    npi = text(12, required=True, label="NPI", inputmode="numeric")
    dea_number = text(20, label="DEA number", placeholder="AB1234563 or AB1234563-045A")
    confirm_dea_name = flag(
        "DEA second letter checked",
        "Tick to keep a DEA number whose second letter differs from the last name "
        "(e.g. after a name change), once you have confirmed the registration.",
    )
    state_license = text(30, label="State license")
    state_license_state = text(2, label="License state", placeholder="IL")

    def __init__(self, *args: Any, creating: bool = True, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if creating:
            del self.fields["active"]


class AddressForm(RxForm):
    label = text(60, placeholder="e.g. clinic name")
    address_line1 = text(120, required=True, label="Address")
    address_line2 = text(120, label="Address, line 2")
    city = text(80, required=True)
    state = text(2, required=True, placeholder="IL")
    postal_code = text(10, required=True, label="ZIP code")
    phone = text(20, required=True, type="tel")
    fax = text(20, type="tel")
    primary = flag("Primary address")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["primary"].initial = True
