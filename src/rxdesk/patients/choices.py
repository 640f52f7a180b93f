"""Code sets for patients and prescribers (NCPDP / HL7 where one applies)."""

from django.db import models


class Sex(models.TextChoices):
    # NCPDP 305-C5 Patient Gender Code: 0 not specified, 1 male, 2 female.
    UNKNOWN = "U", "Not specified"
    MALE = "M", "Male"
    FEMALE = "F", "Female"


class PatientStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    INACTIVE = "inactive", "Inactive"
    DECEASED = "deceased", "Deceased"


class Language(models.TextChoices):
    ENGLISH = "en", "English"
    SPANISH = "es", "Spanish"
    CHINESE = "zh", "Chinese"
    VIETNAMESE = "vi", "Vietnamese"
    TAGALOG = "tl", "Tagalog"
    KOREAN = "ko", "Korean"
    ARABIC = "ar", "Arabic"
    RUSSIAN = "ru", "Russian"
    FRENCH = "fr", "French"
    HAITIAN_CREOLE = "ht", "Haitian Creole"
    PORTUGUESE = "pt", "Portuguese"
    POLISH = "pl", "Polish"
    OTHER = "other", "Other"


class PregnancyStatus(models.TextChoices):
    UNKNOWN = "unknown", "Unknown"
    NOT_PREGNANT = "not_pregnant", "Not pregnant"
    PREGNANT = "pregnant", "Pregnant"
    NOT_APPLICABLE = "not_applicable", "Not applicable"


class LactationStatus(models.TextChoices):
    UNKNOWN = "unknown", "Unknown"
    NOT_LACTATING = "not_lactating", "Not breastfeeding"
    LACTATING = "lactating", "Breastfeeding"
    NOT_APPLICABLE = "not_applicable", "Not applicable"


class AllergyStatus(models.TextChoices):
    """The profile-level state: never asked is not the same as 'no known allergies'."""

    NOT_ASKED = "not_asked", "Allergies not yet recorded"
    NO_KNOWN = "nka", "No known allergies"
    HAS_ALLERGIES = "has", "Has allergies"


class AllergenKind(models.TextChoices):
    INGREDIENT = "ingredient", "Drug ingredient"
    DRUG_CLASS = "class", "Drug class"
    EXCIPIENT = "excipient", "Inactive ingredient / excipient"
    NON_DRUG = "non_drug", "Food or environmental"


class AllergyType(models.TextChoices):
    ALLERGY = "allergy", "Allergy"
    INTOLERANCE = "intolerance", "Intolerance / side effect"


class Severity(models.TextChoices):
    MILD = "mild", "Mild"
    MODERATE = "moderate", "Moderate"
    SEVERE = "severe", "Severe"
    LIFE_THREATENING = "life_threatening", "Life-threatening (e.g. anaphylaxis)"
    UNKNOWN = "unknown", "Unknown"


class InfoSource(models.TextChoices):
    PATIENT = "patient", "Patient"
    CAREGIVER = "caregiver", "Caregiver / family"
    PRESCRIBER = "prescriber", "Prescriber"
    PHARMACIST = "pharmacist", "Pharmacist"
    OUTSIDE_RECORD = "record", "Outside record"


class ConditionStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    RESOLVED = "resolved", "Resolved"


class MeasurementKind(models.TextChoices):
    WEIGHT = "weight", "Weight"
    HEIGHT = "height", "Height"
    SERUM_CREATININE = "scr", "Serum creatinine"


class IdentifierKind(models.TextChoices):
    DRIVERS_LICENSE = "drivers_license", "Driver's license"
    STATE_ID = "state_id", "State ID"
    MEDICARE_MBI = "medicare_mbi", "Medicare beneficiary ID"
    MEDICAID = "medicaid", "Medicaid ID"
    MEDICAL_RECORD = "mrn", "Medical record number"
    PASSPORT = "passport", "Passport"
    SSN_LAST4 = "ssn_last4", "SSN, last four digits"
    OTHER = "other", "Other"


class ContactMethod(models.TextChoices):
    SMS = "sms", "Text message"
    PHONE = "phone", "Phone call"
    EMAIL = "email", "Email"
    NONE = "none", "Do not contact"


class PrivacyAck(models.TextChoices):
    NOT_GIVEN = "", "Not yet given"
    SIGNED = "signed", "Signed acknowledgement"
    ELECTRONIC = "electronic", "Electronic acknowledgement"
    REFUSED = "refused", "Notice given; patient declined to sign"


class CoverageKind(models.TextChoices):
    """What pays on a coverage. Plans, copay cards and assistance programs with a BIN are
    billed over NCPDP in rank order (a copay card last); cash bills nobody."""

    PLAN = "plan", "Insurance plan"
    COPAY_CARD = "copay_card", "Coupon / copay card"
    ASSISTANCE = "assistance", "Patient-assistance program"
    CASH = "cash", "Cash (bill no plan)"


class Relationship(models.TextChoices):
    # NCPDP 306-C6 Patient Relationship Code
    CARDHOLDER = "1", "Cardholder"
    SPOUSE = "2", "Spouse"
    CHILD = "3", "Child"
    OTHER = "4", "Other"


class PrescriberCredential(models.TextChoices):
    MD = "MD", "MD"
    DO = "DO", "DO"
    NP = "NP", "Nurse practitioner"
    PA = "PA", "Physician assistant"
    DDS = "DDS", "DDS / DMD"
    DPM = "DPM", "DPM"
    OD = "OD", "Optometrist"
    DVM = "DVM", "Veterinarian"
    CNM = "CNM", "Certified nurse midwife"
    RPH = "RPh", "Pharmacist prescriber"
    OTHER = "other", "Other"
