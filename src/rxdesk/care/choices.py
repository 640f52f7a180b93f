"""Choices of the patient-care records."""

from django.db import models

# --- medication reconciliation ----------------------------------------------------------------


class MedRecReason(models.TextChoices):
    ADMISSION = "admission", "Admission"
    TRANSFER = "transfer", "Transfer of care"
    DISCHARGE = "discharge", "Discharge"
    NEW_PATIENT = "new_patient", "New patient"
    ANNUAL_REVIEW = "annual_review", "Annual / comprehensive review"
    OTHER = "other", "Other"


class MedRecStatus(models.TextChoices):
    OPEN = "open", "Gathering the history"
    REVIEW = "review", "Waiting for the pharmacist"
    COMPLETED = "completed", "Completed"


class HistorySource(models.TextChoices):
    """Where a line of the best possible medication history came from."""

    INTERVIEW = "interview", "Patient interview"
    CAREGIVER = "caregiver", "Caregiver interview"
    FILL_HISTORY = "fill_history", "Pharmacy fill history"
    OUTSIDE_LIST = "outside_list", "Outside list (discharge list, other pharmacy, prescriber)"
    PILL_BOTTLES = "pill_bottles", "Medication bottles brought in"
    OTHER = "other", "Other"


class Taking(models.TextChoices):
    TAKING = "taking", "Taking as listed"
    DIFFERENTLY = "differently", "Taking differently"
    AS_NEEDED = "as_needed", "Takes as needed"
    NOT_TAKING = "not_taking", "Not taking"
    UNSURE = "unsure", "Unsure"


class MedRecDiscrepancyKind(models.TextChoices):
    OMISSION = "omission", "Omission (taking it; not on the profile)"
    COMMISSION = "commission", "Commission (on the profile; not taking it)"
    DOSE = "dose", "Different dose"
    FREQUENCY = "frequency", "Different frequency"
    ROUTE = "route", "Different route"
    DUPLICATION = "duplication", "Duplication"
    OTHER = "other", "Other"


class MedRecOutcome(models.TextChoices):
    PROFILE_UPDATED = "profile_updated", "Profile updated to match"
    CONTINUED = "continued", "Continue as on the profile"
    DISCONTINUED = "discontinued", "Discontinued"
    PRESCRIBER_CONTACTED = "prescriber_contacted", "Prescriber contacted; change ordered"
    PRESCRIBER_NO_CHANGE = "prescriber_no_change", "Prescriber contacted; no change"
    INTENTIONAL = "intentional", "Intentional, documented (no action)"
    PATIENT_EDUCATED = "patient_educated", "Patient educated"


# --- counseling --------------------------------------------------------------------------------


class CounselingOutcome(models.TextChoices):
    ACCEPTED = "accepted", "Offered and accepted"
    DECLINED = "declined", "Offered and declined"


class CounselingMethod(models.TextChoices):
    IN_PERSON = "in_person", "In person"
    PHONE = "phone", "By phone"
    VIDEO = "video", "By video"
    WRITTEN = "written", "Written only"


class CounselingTopic(models.TextChoices):
    NAME_PURPOSE = "name_purpose", "Name and purpose"
    DIRECTIONS = "directions", "Dose, route and directions"
    DURATION = "duration", "How long to take it"
    SIDE_EFFECTS = "side_effects", "Common and severe side effects"
    INTERACTIONS = "interactions", "Interactions and what to avoid"
    MISSED_DOSE = "missed_dose", "Missed dose"
    STORAGE = "storage", "Storage"
    TECHNIQUE = "technique", "Technique / device use"
    MONITORING = "monitoring", "Self-monitoring"
    REFILLS = "refills", "Refills"
    DISPOSAL = "disposal", "Disposal"
    OTHER = "other", "Other"


# --- interventions -----------------------------------------------------------------------------


class InterventionProblem(models.TextChoices):
    """The problem found; the value is the NCPDP DUR reason-for-service code (439-E4)
    where one fits."""

    DRUG_INTERACTION = "DD", "Drug-drug interaction"
    ALLERGY = "DA", "Drug-allergy"
    DISEASE = "MC", "Drug-disease"
    DUPLICATION = "TD", "Therapeutic duplication"
    HIGH_DOSE = "HD", "High dose"
    LOW_DOSE = "LD", "Low dose"
    AGE = "PA", "Drug-age"
    PREGNANCY = "PG", "Drug-pregnancy"
    EARLY_REFILL = "ER", "Early refill / overuse"
    LATE_REFILL = "LR", "Late refill / underuse"
    ADDITIONAL_DRUG = "AD", "Additional drug needed"
    NO_INDICATION = "NN", "Unnecessary drug"
    PRESCRIPTION_ERROR = "RX", "Prescription unclear or incomplete"
    COST = "CO", "Cost / coverage"
    OTHER = "OT", "Other"


class InterventionStatus(models.TextChoices):
    OPEN = "open", "Waiting for an outcome"
    CLOSED = "closed", "Closed"


# --- adverse drug events (FDA MedWatch 3500) ------------------------------------------------------


class AdeOutcome(models.TextChoices):
    """Form 3500 section B.2: outcome attributed to the adverse event (check all that apply)."""

    DEATH = "death", "Death"
    LIFE_THREATENING = "life_threatening", "Life-threatening"
    HOSPITALIZATION = "hospitalization", "Hospitalization - initial or prolonged"
    DISABILITY = "disability", "Disability or permanent damage"
    CONGENITAL = "congenital", "Congenital anomaly / birth defect"
    INTERVENTION = "intervention", "Required intervention to prevent permanent impairment"
    OTHER_SERIOUS = "other_serious", "Other serious or important medical event"


class AgeUnit(models.TextChoices):
    YEARS = "years", "Years"
    MONTHS = "months", "Months"
    WEEKS = "weeks", "Weeks"
    DAYS = "days", "Days"


class ProductRole(models.TextChoices):
    SUSPECT = "suspect", "Suspect product"
    CONCOMITANT = "concomitant", "Concomitant product"


class YesNoNa(models.TextChoices):
    YES = "yes", "Yes"
    NO = "no", "No"
    NOT_APPLICABLE = "na", "Doesn't apply"
    UNKNOWN = "unknown", "Unknown"


class ReportStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    SUBMITTED = "submitted", "Submitted"


# --- medication errors and safety events ---------------------------------------------------------


class MerpCategory(models.TextChoices):
    """NCC MERP Index for Categorizing Medication Errors."""

    A = "A", "A - Circumstances that could cause error"
    B = "B", "B - Error did not reach the patient"
    C = "C", "C - Reached the patient, no harm"
    D = "D", "D - Reached the patient, monitoring needed to preclude harm"
    E = "E", "E - Temporary harm, intervention required"
    F = "F", "F - Temporary harm, hospitalization"
    G = "G", "G - Permanent harm"
    H = "H", "H - Intervention to sustain life"
    I = "I", "I - Death"  # noqa: E741 - the category's name


REACHED_PATIENT = frozenset("CDEFGHI")
HARM = frozenset("EFGHI")


class WorkflowStep(models.TextChoices):
    """Where in the pharmacy's process an error happened (or was caught)."""

    INTAKE = "intake", "Intake / prescription received"
    ENTRY = "entry", "Data entry (typing)"
    DATA_VERIFICATION = "data_verification", "Pharmacist data verification"
    BILLING = "billing", "Insurance billing"
    FILL = "fill", "Filling / product selection"
    FINAL_VERIFICATION = "final_verification", "Pharmacist final verification"
    STORAGE = "storage", "Storage / will-call"
    PICKUP = "pickup", "Pickup / counseling"
    ADMINISTRATION = "administration", "Administration"
    COMPOUNDING = "compounding", "Compounding"
    PACKAGING = "packaging", "Packaging"
    OTHER = "other", "Other"


class ErrorType(models.TextChoices):
    WRONG_DRUG = "wrong_drug", "Wrong drug"
    WRONG_STRENGTH = "wrong_strength", "Wrong strength"
    WRONG_FORM = "wrong_form", "Wrong dosage form"
    WRONG_DOSE = "wrong_dose", "Wrong dose"
    WRONG_QUANTITY = "wrong_quantity", "Wrong quantity"
    WRONG_DIRECTIONS = "wrong_directions", "Wrong directions"
    WRONG_PATIENT = "wrong_patient", "Wrong patient"
    WRONG_PRESCRIBER = "wrong_prescriber", "Wrong prescriber"
    WRONG_LABEL = "wrong_label", "Labeling error"
    OMISSION = "omission", "Omission"
    EXPIRED = "expired", "Expired or deteriorated drug"
    WRONG_TIME = "wrong_time", "Wrong time"
    MONITORING = "monitoring", "Monitoring error (allergy, interaction missed)"
    OTHER = "other", "Other"


class SafetyEventKind(models.TextChoices):
    MEDICATION_ERROR = "medication_error", "Medication error"
    NEAR_MISS = "near_miss", "Near miss (caught before the patient)"
    ADVERSE_DRUG_EVENT = "adverse_drug_event", "Adverse drug event"
    EQUIPMENT = "equipment", "Equipment / automation"
    PROCESS = "process", "Process or workplace"
    OTHER = "other", "Other"


class SafetyEventStatus(models.TextChoices):
    OPEN = "open", "Open"
    ANALYSIS = "analysis", "Root-cause analysis under way"
    CLOSED = "closed", "Closed"


class FactorCategory(models.TextChoices):
    COMMUNICATION = "communication", "Communication"
    LABELING = "labeling", "Labeling and packaging"
    LOOK_ALIKE = "look_alike", "Look-alike / sound-alike names"
    WORKLOAD = "workload", "Staffing and workload"
    ENVIRONMENT = "environment", "Distractions and environment"
    TRAINING = "training", "Training and competency"
    POLICY = "policy", "Policies and procedures"
    EQUIPMENT = "equipment", "Equipment and technology"
    PATIENT = "patient", "Patient factors"
    OTHER = "other", "Other"


class ActionStrength(models.TextChoices):
    """ISMP / VA hierarchy of action strength."""

    STRONG = "strong", "Strong (forcing function, automation, simplification)"
    INTERMEDIATE = "intermediate", "Intermediate (checklists, redundancy, software alerts)"
    WEAK = "weak", "Weak (training, policy, warnings)"


class ActionStatus(models.TextChoices):
    OPEN = "open", "Open"
    DONE = "done", "Done"
    DROPPED = "dropped", "Dropped"


# --- inquiries ------------------------------------------------------------------------------------


class InquiryChannel(models.TextChoices):
    PHONE = "phone", "Phone"
    FAX = "fax", "Fax"
    ERX = "erx", "e-Prescribing message"
    PORTAL = "portal", "Portal / secure message"
    EMAIL = "email", "E-mail"
    IN_PERSON = "in_person", "In person"


class InquiryParty(models.TextChoices):
    PRESCRIBER = "prescriber", "Prescriber's office"
    PATIENT = "patient", "Patient"
    CAREGIVER = "caregiver", "Caregiver"
    INSURER = "insurer", "Insurer / PBM"
    PHARMACY = "pharmacy", "Another pharmacy"
    OTHER = "other", "Other"


class InquiryTopic(models.TextChoices):
    CLARIFICATION = "clarification", "Prescription clarification"
    DOSE_CHANGE = "dose_change", "Dose change"
    SUBSTITUTION = "substitution", "Therapeutic substitution request"
    REFILL = "refill", "Refill authorization"
    PRIOR_AUTH = "prior_auth", "Prior authorization"
    DRUG_INFO = "drug_info", "Drug information question"
    COMPLAINT = "complaint", "Complaint"
    OTHER = "other", "Other"


class InquiryStatus(models.TextChoices):
    OPEN = "open", "Open"
    AWAITING = "awaiting", "Waiting for a callback"
    ESCALATED = "escalated", "Escalated to the pharmacist"
    CLOSED = "closed", "Closed"


class InquiryEntryKind(models.TextChoices):
    NOTE = "note", "Note"
    CALL_OUT = "call_out", "Called"
    CALL_IN = "call_in", "Call received"
    CALLBACK = "callback", "Callback scheduled"
    ESCALATED = "escalated", "Escalated"
    ANSWERED = "answered", "Pharmacist answered"
    CLOSED = "closed", "Closed"
    REOPENED = "reopened", "Reopened"


# --- point-of-care tests --------------------------------------------------------------------------


class PocResult(models.TextChoices):
    POSITIVE = "positive", "Positive"
    NEGATIVE = "negative", "Negative"
    INVALID = "invalid", "Invalid (repeat the test)"
    VALUE = "value", "Numeric value"


class PocInterpretation(models.TextChoices):
    NORMAL = "normal", "Within the reference range"
    ABNORMAL = "abnormal", "Outside the reference range"
    CRITICAL = "critical", "Critical - act now"
    NOT_APPLICABLE = "", "Not interpreted"


class PocStatus(models.TextChoices):
    RECORDED = "recorded", "Recorded"
    REVIEWED = "reviewed", "Reviewed by the pharmacist"
    ENTERED_IN_ERROR = "entered_in_error", "Entered in error"
