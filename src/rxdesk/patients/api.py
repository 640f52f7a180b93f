"""API for patients and prescribers: parse, call a service or query, serialize."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, Literal

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema, Status

from rxdesk.core.errors import NotFound
from rxdesk.patients import queries, services
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
from rxdesk.patients.models import Allergy, Condition, Coverage, Patient, PatientIdentifier

router = Router(tags=["patients"])
prescribers = Router(tags=["prescribers"])

Name = Field(max_length=60)


class _In(Schema):
    model_config = {"extra": "forbid"}


# --- Patients ---------------------------------------------------------------------------------


class PatientFields(_In):
    middle_name: str = Field("", max_length=60)
    suffix: str = Field("", max_length=10)
    preferred_name: str = Field("", max_length=60)
    sex: Sex = Sex.UNKNOWN
    status: PatientStatus = PatientStatus.ACTIVE
    address_line1: str = Field("", max_length=120)
    address_line2: str = Field("", max_length=120)
    city: str = Field("", max_length=80)
    state: str = Field("", max_length=2)
    postal_code: str = Field("", max_length=10)
    phone_mobile: str = Field("", max_length=20)
    phone_home: str = Field("", max_length=20)
    phone_work: str = Field("", max_length=20)
    email: str = Field("", max_length=254)
    preferred_language: Language = Language.ENGLISH
    pregnancy_status: PregnancyStatus = PregnancyStatus.UNKNOWN
    lactation_status: LactationStatus = LactationStatus.UNKNOWN
    privacy_notice: PrivacyAck = PrivacyAck.NOT_GIVEN
    privacy_notice_on: dt.date | None = None
    contact_method: ContactMethod = ContactMethod.PHONE
    refill_reminders: bool = False
    easy_open_caps: bool = False
    large_print: bool = False


class PatientIn(PatientFields):
    first_name: str = Field(min_length=1, max_length=60)
    last_name: str = Field(min_length=1, max_length=60)
    date_of_birth: dt.date
    allow_duplicate: bool = Field(
        False, description="Create even though a patient with the same name and birth date exists"
    )


class PatientPatch(_In):
    first_name: str | None = Field(None, min_length=1, max_length=60)
    last_name: str | None = Field(None, min_length=1, max_length=60)
    date_of_birth: dt.date | None = None
    middle_name: str | None = Field(None, max_length=60)
    suffix: str | None = Field(None, max_length=10)
    preferred_name: str | None = Field(None, max_length=60)
    sex: Sex | None = None
    status: PatientStatus | None = None
    address_line1: str | None = Field(None, max_length=120)
    address_line2: str | None = Field(None, max_length=120)
    city: str | None = Field(None, max_length=80)
    state: str | None = Field(None, max_length=2)
    postal_code: str | None = Field(None, max_length=10)
    phone_mobile: str | None = Field(None, max_length=20)
    phone_home: str | None = Field(None, max_length=20)
    phone_work: str | None = Field(None, max_length=20)
    email: str | None = Field(None, max_length=254)
    preferred_language: Language | None = None
    pregnancy_status: PregnancyStatus | None = None
    lactation_status: LactationStatus | None = None
    privacy_notice: PrivacyAck | None = None
    privacy_notice_on: dt.date | None = None
    contact_method: ContactMethod | None = None
    refill_reminders: bool | None = None
    easy_open_caps: bool | None = None
    large_print: bool | None = None


class AllergyOut(Schema):
    id: int
    allergen: str
    allergen_kind: AllergenKind
    allergen_code: str
    allergy_type: AllergyType
    reaction: str
    severity: Severity
    source: InfoSource
    active: bool
    recorded_at: dt.datetime


class ConditionOut(Schema):
    id: int
    icd10: str
    description: str
    onset: dt.date | None
    status: ConditionStatus


class MeasurementOut(Schema):
    id: int
    kind: MeasurementKind
    value: Decimal
    unit: str
    measured_on: dt.date


class CoverageOut(Schema):
    id: int
    kind: CoverageKind
    rank: int
    plan_name: str
    bin: str
    pcn: str
    group: str
    member_id: str
    person_code: str
    relationship: Relationship
    effective_on: dt.date | None
    terminates_on: dt.date | None
    active: bool


class IdentifierOut(Schema):
    id: int
    kind: IdentifierKind
    value: str
    issuer: str


class PatientSummary(Schema):
    id: int
    first_name: str
    last_name: str
    date_of_birth: dt.date
    sex: Sex
    phone_mobile: str
    phone_home: str
    allergy_status: AllergyStatus
    status: PatientStatus
    possible_duplicate: bool


class PatientOut(PatientSummary):
    middle_name: str
    suffix: str
    preferred_name: str
    address_line1: str
    address_line2: str
    city: str
    state: str
    postal_code: str
    phone_work: str
    email: str
    preferred_language: Language
    pregnancy_status: PregnancyStatus
    lactation_status: LactationStatus
    privacy_notice: PrivacyAck
    privacy_notice_on: dt.date | None
    contact_method: ContactMethod
    refill_reminders: bool
    easy_open_caps: bool
    large_print: bool
    allergies: list[AllergyOut]
    conditions: list[ConditionOut]
    measurements: list[MeasurementOut]
    coverages: list[CoverageOut]
    identifiers: list[IdentifierOut]
    created_at: dt.datetime
    updated_at: dt.datetime

    @staticmethod
    def resolve_allergies(obj: Patient) -> list[Allergy]:
        return list(obj.allergies.filter(active=True).order_by("allergen"))

    @staticmethod
    def resolve_conditions(obj: Patient) -> list[Condition]:
        return list(obj.conditions.order_by("status", "-recorded_at"))

    @staticmethod
    def resolve_measurements(obj: Patient) -> list[Any]:
        return list(obj.measurements.order_by("-measured_on", "-recorded_at")[:20])

    @staticmethod
    def resolve_coverages(obj: Patient) -> list[Coverage]:
        return list(obj.coverages.order_by("-active", "rank"))

    @staticmethod
    def resolve_identifiers(obj: Patient) -> list[PatientIdentifier]:
        return list(obj.identifiers.order_by("kind", "value"))


class PatientSearch(Schema):
    q: str = Field("", max_length=100, description="name ('smith, jo'), birth date or phone")
    dob: str = Field("", max_length=10, description="MM/DD/YYYY or YYYY-MM-DD")
    phone: str = Field("", max_length=20)
    include_inactive: bool = False


def _user(request: HttpRequest) -> Any:
    return request.user


@router.get("", response=list[PatientSummary], summary="Find patients")
def patient_list(request: HttpRequest, filters: Query[PatientSearch]) -> Any:
    return list(queries.patient_search(actor=_user(request), **filters.model_dump()))


@router.post("", response={201: PatientOut}, summary="Register a patient")
def patient_create(request: HttpRequest, payload: PatientIn) -> Any:
    return Status(201, services.patient_create(actor=_user(request), **payload.model_dump()))


@router.get("/{int:patient_id}", response=PatientOut, summary="Open a patient's record (logged)")
def patient_get(request: HttpRequest, patient_id: int) -> Any:
    patient = queries.patient_for(actor=_user(request), patient_id=patient_id)
    return services.patient_record_open(actor=_user(request), patient=patient)


@router.patch("/{int:patient_id}", response=PatientOut, summary="Change a patient's record")
def patient_patch(request: HttpRequest, patient_id: int, payload: PatientPatch) -> Any:
    patient = queries.patient_for(actor=_user(request), patient_id=patient_id)
    return services.patient_update(
        actor=_user(request), patient=patient, **payload.model_dump(exclude_unset=True)
    )


class AllergyIn(_In):
    allergen: str = Field(min_length=1, max_length=120)
    allergen_kind: AllergenKind
    allergen_code: str = Field("", max_length=20)
    allergy_type: AllergyType = AllergyType.ALLERGY
    reaction: str = Field("", max_length=200)
    severity: Severity = Severity.UNKNOWN
    source: InfoSource = InfoSource.PATIENT


@router.post("/{int:patient_id}/allergies", response={201: AllergyOut}, summary="Record an allergy")
def allergy_add(request: HttpRequest, patient_id: int, payload: AllergyIn) -> Any:
    patient = queries.patient_for(actor=_user(request), patient_id=patient_id)
    return Status(
        201, services.allergy_add(actor=_user(request), patient=patient, **payload.model_dump())
    )


class ReasonIn(_In):
    reason: str = Field(min_length=1, max_length=200)


@router.post(
    "/{int:patient_id}/allergies/{int:allergy_id}/inactivate",
    response=AllergyOut,
    summary="Remove an allergy from the active list",
)
def allergy_inactivate(
    request: HttpRequest, patient_id: int, allergy_id: int, payload: ReasonIn
) -> Any:
    patient = queries.patient_for(actor=_user(request), patient_id=patient_id)
    allergy = patient.allergies.filter(pk=allergy_id).first()
    if allergy is None:
        raise NotFound("No such allergy on this patient's record.")
    return services.allergy_inactivate(actor=_user(request), allergy=allergy, reason=payload.reason)


@router.post(
    "/{int:patient_id}/no-known-allergies",
    response=PatientOut,
    summary="Record 'no known allergies'",
)
def no_known_allergies(request: HttpRequest, patient_id: int) -> Any:
    patient = queries.patient_for(actor=_user(request), patient_id=patient_id)
    return services.patient_record_no_known_allergies(actor=_user(request), patient=patient)


class ConditionIn(_In):
    description: str = Field(min_length=1, max_length=200)
    icd10: str = Field("", max_length=8)
    onset: dt.date | None = None


@router.post(
    "/{int:patient_id}/conditions", response={201: ConditionOut}, summary="Record a condition"
)
def condition_add(request: HttpRequest, patient_id: int, payload: ConditionIn) -> Any:
    patient = queries.patient_for(actor=_user(request), patient_id=patient_id)
    return Status(
        201, services.condition_add(actor=_user(request), patient=patient, **payload.model_dump())
    )


class ConditionPatch(_In):
    description: str | None = Field(None, min_length=1, max_length=200)
    icd10: str | None = Field(None, max_length=8)
    onset: dt.date | None = None
    status: ConditionStatus | None = None


@router.patch(
    "/{int:patient_id}/conditions/{int:condition_id}",
    response=ConditionOut,
    summary="Change a condition (e.g. mark it resolved)",
)
def condition_patch(
    request: HttpRequest, patient_id: int, condition_id: int, payload: ConditionPatch
) -> Any:
    patient = queries.patient_for(actor=_user(request), patient_id=patient_id)
    condition = patient.conditions.filter(pk=condition_id).first()
    if condition is None:
        raise NotFound("No such condition on this patient's record.")
    return services.condition_update(
        actor=_user(request), condition=condition, **payload.model_dump(exclude_unset=True)
    )


class MeasurementIn(_In):
    kind: MeasurementKind
    value: Decimal = Field(gt=0, max_digits=8, decimal_places=3)
    unit: Literal["kg", "lb", "g", "cm", "in", "m", "mg/dL", "umol/L"]
    measured_on: dt.date | None = None


@router.post(
    "/{int:patient_id}/measurements",
    response={201: MeasurementOut},
    summary="Record a weight or height",
)
def measurement_add(request: HttpRequest, patient_id: int, payload: MeasurementIn) -> Any:
    patient = queries.patient_for(actor=_user(request), patient_id=patient_id)
    return Status(
        201,
        services.measurement_record(actor=_user(request), patient=patient, **payload.model_dump()),
    )


class CoverageIn(_In):
    kind: CoverageKind = CoverageKind.PLAN
    rank: int = Field(1, ge=1, le=3)
    plan_name: str = Field("", max_length=80)
    bin: str = Field("", max_length=6, description="Required unless the kind is cash.")
    pcn: str = Field("", max_length=10)
    group: str = Field("", max_length=15)
    member_id: str = Field("", max_length=20, description="Required unless the kind is cash.")
    person_code: str = Field("", max_length=3)
    relationship: Relationship = Relationship.CARDHOLDER
    effective_on: dt.date | None = None
    terminates_on: dt.date | None = None


@router.post(
    "/{int:patient_id}/coverages", response={201: CoverageOut}, summary="Add an insurance plan"
)
def coverage_add(request: HttpRequest, patient_id: int, payload: CoverageIn) -> Any:
    patient = queries.patient_for(actor=_user(request), patient_id=patient_id)
    return Status(
        201, services.coverage_add(actor=_user(request), patient=patient, **payload.model_dump())
    )


class CoveragePatch(_In):
    kind: CoverageKind | None = None
    rank: int | None = Field(None, ge=1, le=3)
    plan_name: str | None = Field(None, max_length=80)
    bin: str | None = Field(None, max_length=6)
    pcn: str | None = Field(None, max_length=10)
    group: str | None = Field(None, max_length=15)
    member_id: str | None = Field(None, max_length=20)
    person_code: str | None = Field(None, max_length=3)
    relationship: Relationship | None = None
    effective_on: dt.date | None = None
    terminates_on: dt.date | None = None
    active: bool | None = None


@router.patch(
    "/{int:patient_id}/coverages/{int:coverage_id}",
    response=CoverageOut,
    summary="Change an insurance plan (e.g. end it)",
)
def coverage_patch(
    request: HttpRequest, patient_id: int, coverage_id: int, payload: CoveragePatch
) -> Any:
    patient = queries.patient_for(actor=_user(request), patient_id=patient_id)
    coverage = patient.coverages.filter(pk=coverage_id).first()
    if coverage is None:
        raise NotFound("No such plan on this patient's record.")
    return services.coverage_update(
        actor=_user(request), coverage=coverage, **payload.model_dump(exclude_unset=True)
    )


class IdentifierIn(_In):
    kind: IdentifierKind
    value: str = Field(min_length=1, max_length=40)
    issuer: str = Field("", max_length=40)


@router.post(
    "/{int:patient_id}/identifiers",
    response={201: IdentifierOut},
    summary="Add an identifier (driver's license, MBI…)",
)
def identifier_add(request: HttpRequest, patient_id: int, payload: IdentifierIn) -> Any:
    patient = queries.patient_for(actor=_user(request), patient_id=patient_id)
    return Status(
        201, services.identifier_add(actor=_user(request), patient=patient, **payload.model_dump())
    )


# --- Prescribers ------------------------------------------------------------------------------


class AddressOut(Schema):
    id: int
    label: str
    address_line1: str
    address_line2: str
    city: str
    state: str
    postal_code: str
    phone: str
    fax: str
    primary: bool


class PrescriberOut(Schema):
    id: int
    first_name: str
    middle_name: str
    last_name: str
    suffix: str
    credential: str
    npi: str
    dea_number: str
    dea_suffix: str
    state_license: str
    state_license_state: str
    specialty: str
    active: bool
    addresses: list[AddressOut]

    @staticmethod
    def resolve_addresses(obj: Any) -> list[Any]:
        return list(obj.addresses.order_by("-primary", "pk"))


class PrescriberIn(_In):
    first_name: str = Field(min_length=1, max_length=60)
    last_name: str = Field(min_length=1, max_length=60)
    npi: str = Field(min_length=1, max_length=12)
    middle_name: str = Field("", max_length=60)
    suffix: str = Field("", max_length=10)
    credential: PrescriberCredential | Literal[""] = ""
    dea_number: str = Field("", max_length=20)
    state_license: str = Field("", max_length=30)
    state_license_state: str = Field("", max_length=2)
    specialty: str = Field("", max_length=80)
    confirm_dea_name: bool = Field(
        False, description="Keep a DEA number whose second letter differs from the last name"
    )


class PrescriberPatch(_In):
    first_name: str | None = Field(None, min_length=1, max_length=60)
    last_name: str | None = Field(None, min_length=1, max_length=60)
    npi: str | None = Field(None, min_length=1, max_length=12)
    middle_name: str | None = Field(None, max_length=60)
    suffix: str | None = Field(None, max_length=10)
    credential: PrescriberCredential | Literal[""] | None = None
    dea_number: str | None = Field(None, max_length=20)
    state_license: str | None = Field(None, max_length=30)
    state_license_state: str | None = Field(None, max_length=2)
    specialty: str | None = Field(None, max_length=80)
    active: bool | None = None
    confirm_dea_name: bool = False


class PrescriberSearch(Schema):
    q: str = Field("", max_length=100, description="name ('smith, jo') or NPI")
    include_inactive: bool = False


class AddressIn(_In):
    label: str = Field("", max_length=60)
    address_line1: str = Field(min_length=1, max_length=120)
    address_line2: str = Field("", max_length=120)
    city: str = Field(min_length=1, max_length=80)
    state: str = Field(min_length=2, max_length=2)
    postal_code: str = Field(min_length=5, max_length=10)
    phone: str = Field(min_length=7, max_length=20)
    fax: str = Field("", max_length=20)
    primary: bool = True


@prescribers.get("", response=list[PrescriberOut], summary="Find prescribers by name or NPI")
def prescriber_list(request: HttpRequest, filters: Query[PrescriberSearch]) -> Any:
    return list(
        queries.prescriber_search(actor=_user(request), **filters.model_dump()).prefetch_related(
            "addresses"
        )
    )


@prescribers.post("", response={201: PrescriberOut}, summary="Add a prescriber")
def prescriber_create(request: HttpRequest, payload: PrescriberIn) -> Any:
    return Status(201, services.prescriber_create(actor=_user(request), **payload.model_dump()))


@prescribers.get("/{int:prescriber_id}", response=PrescriberOut, summary="A prescriber")
def prescriber_get(request: HttpRequest, prescriber_id: int) -> Any:
    return queries.prescriber_for(actor=_user(request), prescriber_id=prescriber_id)


@prescribers.patch("/{int:prescriber_id}", response=PrescriberOut, summary="Change a prescriber")
def prescriber_patch(request: HttpRequest, prescriber_id: int, payload: PrescriberPatch) -> Any:
    prescriber = queries.prescriber_for(actor=_user(request), prescriber_id=prescriber_id)
    return services.prescriber_update(
        actor=_user(request), prescriber=prescriber, **payload.model_dump(exclude_unset=True)
    )


@prescribers.post(
    "/{int:prescriber_id}/addresses", response={201: AddressOut}, summary="Add a practice address"
)
def prescriber_address_add(request: HttpRequest, prescriber_id: int, payload: AddressIn) -> Any:
    prescriber = queries.prescriber_for(actor=_user(request), prescriber_id=prescriber_id)
    return Status(
        201,
        services.prescriber_address_add(
            actor=_user(request), prescriber=prescriber, **payload.model_dump()
        ),
    )


# --- Households (issue 7) -----------------------------------------------------------------------


class HouseholdIn(_In):
    with_patient_id: int = Field(ge=1, le=2**63 - 1, description="Join this patient's household")


class HouseholdMemberOut(Schema):
    id: int
    name: str


class HouseholdOut(Schema):
    id: int | None
    name: str
    members: list[HouseholdMemberOut]


def _household(patient: Patient) -> dict[str, Any]:
    household = patient.household
    if household is None:
        return {"id": None, "name": "", "members": []}
    members = household.members.order_by("last_name_key", "first_name_key", "pk")
    return {
        "id": household.pk,
        "name": household.name,
        "members": [{"id": m.pk, "name": m.full_name} for m in members],
    }


@router.post(
    "/{int:patient_id}/household",
    response=HouseholdOut,
    summary="Put the patient in another patient's household (a new one when needed)",
)
def household_join(request: HttpRequest, patient_id: int, payload: HouseholdIn) -> Any:
    actor = _user(request)
    patient = queries.patient_for(actor=actor, patient_id=patient_id)
    try:
        other = queries.patient_for(actor=actor, patient_id=payload.with_patient_id)
    except NotFound as exc:
        from rxdesk.core.errors import Invalid

        raise Invalid(exc.message, field="with_patient_id") from None
    services.patient_household_join(actor=actor, patient=patient, with_patient=other)
    return _household(Patient.objects.get(pk=patient.pk))


@router.delete(
    "/{int:patient_id}/household",
    response=HouseholdOut,
    summary="Take the patient out of the household",
)
def household_leave(request: HttpRequest, patient_id: int) -> Any:
    actor = _user(request)
    patient = queries.patient_for(actor=actor, patient_id=patient_id)
    services.patient_household_leave(actor=actor, patient=patient)
    return _household(Patient.objects.get(pk=patient.pk))
