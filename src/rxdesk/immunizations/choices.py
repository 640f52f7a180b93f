"""Choices of the immunization records, with the HL7/CDC code each one is sent as.

The codes are the CDC Implementation Guide's (HL7 v2.5.1, Release 1.5): NIP001 information
source, NIP002 refusal reason, HL70064 VFC eligibility, HL70163 body site, NCIT routes,
CDCPHINVS funding source (../shared/reference/messages-ncpdp-hl7-fhir.md §3)."""

from django.db import models


class Funding(models.TextChoices):
    """Who paid for a dose: public (VFC, state) and private stock are kept apart."""

    VFC = "vfc", "VFC (Vaccines for Children)"
    STATE = "state", "State / public, non-VFC"
    PRIVATE = "private", "Private"


# OBX 30963-3 (vaccine funding source), CDCPHINVS
FUNDING_HL7 = {
    Funding.VFC: ("VXC51", "Public VFC"),
    Funding.STATE: ("VXC52", "Public non-VFC"),
    Funding.PRIVATE: ("PHC70", "Private funds"),
}


class Eligibility(models.TextChoices):
    """VFC eligibility of the patient for this dose (HL70064), OBX 64994-7."""

    V01 = "V01", "Not VFC eligible"
    V02 = "V02", "VFC eligible - Medicaid/Medicaid managed care"
    V03 = "V03", "VFC eligible - Uninsured"
    V04 = "V04", "VFC eligible - American Indian/Alaska Native"
    V05 = "V05", "VFC eligible - Underinsured at FQHC/RHC"


VFC_ELIGIBLE = frozenset({Eligibility.V02, Eligibility.V03, Eligibility.V04, Eligibility.V05})


class Route(models.TextChoices):
    """Route of administration; the value is the NCIT code sent in RXR-1."""

    IM = "C28161", "Intramuscular"
    SC = "C38299", "Subcutaneous"
    ID = "C38238", "Intradermal"
    NS = "C38284", "Intranasal"
    PO = "C38288", "Oral"


# NCIT code -> HL70162 abbreviation (dual coding of RXR-1)
ROUTE_HL70162 = {
    Route.IM: "IM",
    Route.SC: "SC",
    Route.ID: "ID",
    Route.NS: "NS",
    Route.PO: "PO",
}


class BodySite(models.TextChoices):
    """Administration site (HL70163), RXR-2."""

    LD = "LD", "Left deltoid"
    RD = "RD", "Right deltoid"
    LA = "LA", "Left arm"
    RA = "RA", "Right arm"
    LT = "LT", "Left thigh"
    RT = "RT", "Right thigh"
    LVL = "LVL", "Left vastus lateralis"
    RVL = "RVL", "Right vastus lateralis"
    LG = "LG", "Left gluteus medius"
    RG = "RG", "Right gluteus medius"
    LLFA = "LLFA", "Left lower forearm"
    RLFA = "RLFA", "Right lower forearm"


class InformationSource(models.TextChoices):
    """RXA-9 (NIP001): a dose given here, or a historical dose reported from elsewhere."""

    NEW = "00", "New immunization record (given here)"
    HISTORICAL = "01", "Historical - source unspecified"
    OTHER_PROVIDER = "02", "Historical - from other provider"
    PARENT_WRITTEN = "03", "Historical - from parent's written record"
    PARENT_RECALL = "04", "Historical - from parent's recall"
    OTHER_REGISTRY = "05", "Historical - from other registry"
    BIRTH_CERTIFICATE = "06", "Historical - from birth certificate"
    SCHOOL = "07", "Historical - from school record"
    PUBLIC_AGENCY = "08", "Historical - from public agency"


class Completion(models.TextChoices):
    """RXA-20."""

    COMPLETE = "CP", "Complete"
    REFUSED = "RE", "Refused"
    NOT_ADMINISTERED = "NA", "Not administered"
    PARTIAL = "PA", "Partially administered"


class RefusalReason(models.TextChoices):
    """RXA-18 (NIP002)."""

    PARENTAL = "00", "Parental decision"
    RELIGIOUS = "01", "Religious exemption"
    OTHER = "02", "Other"
    PATIENT = "03", "Patient decision"


class ConsentBy(models.TextChoices):
    """Who gave consent; the value is the HL70063 relationship code (NK1-3)."""

    SELF = "SEL", "The patient"
    MOTHER = "MTH", "Mother"
    FATHER = "FTH", "Father"
    PARENT = "PAR", "Parent"
    GUARDIAN = "GRD", "Legal guardian"
    OTHER = "OTH", "Other authorized person"


class RecordStatus(models.TextChoices):
    RECORDED = "recorded", "Recorded"
    ENTERED_IN_ERROR = "entered_in_error", "Entered in error"


class Transport(models.TextChoices):
    """How the site reaches its state registry (IIS)."""

    NONE = "none", "Not configured (messages wait in the queue)"
    MLLP = "mllp", "HL7 over MLLP/TCP"
    BATCH = "batch", "Batch file export"


class ProcessingId(models.TextChoices):
    """MSH-11."""

    PRODUCTION = "P", "Production"
    TRAINING = "T", "Training / test"
    DEBUG = "D", "Debugging"


class RegistryStatus(models.TextChoices):
    """Where one VXU message stands with the state registry."""

    QUEUED = "queued", "Waiting to be sent"
    ACCEPTED = "accepted", "Accepted (AA)"
    WARNING = "warning", "Accepted with warnings (AE)"
    REJECTED = "rejected", "Rejected - needs correction"
    FAILED = "failed", "Not delivered - will retry"
    GAVE_UP = "gave_up", "Not delivered - retries used up"
    EXPORTED = "exported", "Exported in a batch file"
    CANCELLED = "cancelled", "Cancelled (replaced)"


REGISTRY_DONE = frozenset({RegistryStatus.ACCEPTED, RegistryStatus.WARNING})
REGISTRY_OPEN = frozenset(
    {RegistryStatus.QUEUED, RegistryStatus.FAILED, RegistryStatus.REJECTED, RegistryStatus.GAVE_UP}
)


class RegistryAction(models.TextChoices):
    """RXA-21."""

    ADD = "A", "Add"
    UPDATE = "U", "Update"
    DELETE = "D", "Delete"


class CrosswalkUnit(models.TextChoices):
    """Which CDC NDC crosswalk a vaccine NDC comes from."""

    SALE = "sale", "Unit of sale (carton)"
    USE = "use", "Unit of use (syringe, vial)"


class VisStatus(models.TextChoices):
    CURRENT = "current", "Current"
    HISTORIC = "historic", "Historic"
