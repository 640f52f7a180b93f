"""The code and identifier systems rxdesk writes and reads (FHIR R4, US Core). One place, so a
system URI is never spelled two ways (reference/messages-ncpdp-hl7-fhir.md, 4.1)."""

from __future__ import annotations

FHIR_VERSION = "4.0.1"
MIME = "application/fhir+json"
NDJSON = "application/fhir+ndjson"

NDC = "http://hl7.org/fhir/sid/ndc"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
CVX = "http://hl7.org/fhir/sid/cvx"
MVX = "http://hl7.org/fhir/sid/mvx"
NPI = "http://hl7.org/fhir/sid/us-npi"
SNOMED = "http://snomed.info/sct"
LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
V2_0203 = "http://terminology.hl7.org/CodeSystem/v2-0203"  # identifier types (DEA, MR, DL…)
V2_0443 = "http://terminology.hl7.org/CodeSystem/v2-0443"  # provider role (AP, OP)
V2_0064 = "http://terminology.hl7.org/CodeSystem/v2-0064"  # VFC eligibility
ACT_SITE = "http://terminology.hl7.org/CodeSystem/v3-ActSite"
ROUTE = "http://terminology.hl7.org/CodeSystem/v3-RouteOfAdministration"
# The ActPharmacySupplyType value set (FF, RF, FFP…) draws its codes from v3-ActCode; there
# is no code system named v3-ActPharmacySupplyType (R4 MedicationDispense examples).
SUPPLY_TYPE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
SUBSTANCE_ADMIN_SUBST = "http://terminology.hl7.org/CodeSystem/v3-substanceAdminSubstitution"
ACT_REASON = "http://terminology.hl7.org/CodeSystem/v3-ActReason"
RX_CATEGORY = "http://terminology.hl7.org/CodeSystem/medicationrequest-category"
FUNDING_SOURCE = "http://terminology.hl7.org/CodeSystem/immunization-funding-source"
IMM_ORIGIN = "http://terminology.hl7.org/CodeSystem/immunization-origin"
ALLERGY_CLINICAL = "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical"
ALLERGY_VERIFICATION = "http://terminology.hl7.org/CodeSystem/allergyintolerance-verification"
CONDITION_CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
CONDITION_CATEGORY = "http://terminology.hl7.org/CodeSystem/condition-category"
DATA_ABSENT = "http://terminology.hl7.org/CodeSystem/data-absent-reason"
ORG_TYPE = "http://terminology.hl7.org/CodeSystem/organization-type"
NCPDP_PROVIDER = "http://terminology.hl7.org/NamingSystem/NCPDPProviderIdentificationNumber"
US_STATE = "http://hl7.org/fhir/us/core/ValueSet/us-core-usps-state"
OMB_RACE = "urn:oid:2.16.840.1.113883.6.238"

# rxdesk's own identifier systems: a receiving system keeps them to know where a record came
# from. The site's NCPDP ID (or its pk) scopes the Rx number.
RXDESK = "urn:rxdesk"
RX_NUMBER = "urn:rxdesk:rx-number"
PATIENT_ID = "urn:rxdesk:patient"
PRESCRIBER_ORDER_NUMBER = "urn:rxdesk:prescriber-order-number"

US_CORE = "http://hl7.org/fhir/us/core/StructureDefinition/"
PROFILE = {
    "Patient": US_CORE + "us-core-patient",
    "Practitioner": US_CORE + "us-core-practitioner",
    "Organization": US_CORE + "us-core-organization",
    "Medication": US_CORE + "us-core-medication",
    "MedicationRequest": US_CORE + "us-core-medicationrequest",
    "MedicationDispense": US_CORE + "us-core-medicationdispense",
    "Immunization": US_CORE + "us-core-immunization",
    "AllergyIntolerance": US_CORE + "us-core-allergyintolerance",
    "Condition": US_CORE + "us-core-condition-problems-health-concerns",
}
