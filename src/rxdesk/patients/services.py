"""Writes for patients and prescribers. One transaction, one capability check, one audit
event per call (see rxdesk.core.services for the shared helpers)."""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from rxdesk.core.audit import audit_record, diff, register_actions
from rxdesk.core.capabilities import Cap
from rxdesk.core.errors import Conflict, Invalid, NotFound
from rxdesk.core.identifiers import dea_name_mismatch, dea_parse
from rxdesk.core.models import User
from rxdesk.core.services import _apply, authorize, full_clean, snapshot
from rxdesk.core.validators import normalize_phone
from rxdesk.patients.choices import (
    AllergenKind,
    AllergyStatus,
    CoverageKind,
    MeasurementKind,
    PatientStatus,
)
from rxdesk.patients.models import (
    Allergy,
    Condition,
    Coverage,
    Household,
    Measurement,
    Patient,
    PatientIdentifier,
    Prescriber,
    PrescriberAddress,
    name_key,
)

register_actions(
    {
        "patient.created": "Patient created",
        "patient.updated": "Patient record changed",
        "patient.record.viewed": "Patient record opened (PHI access)",
        "patient.allergy.added": "Allergy recorded",
        "patient.allergy.inactivated": "Allergy removed",
        "patient.allergies.none_known": "No known allergies recorded",
        "patient.condition.added": "Condition recorded",
        "patient.condition.updated": "Condition changed",
        "patient.measurement.recorded": "Weight or height recorded",
        "patient.coverage.added": "Insurance coverage added",
        "patient.coverage.updated": "Insurance coverage changed",
        "patient.identifier.added": "Patient identifier added",
        "prescriber.created": "Prescriber created",
        "prescriber.updated": "Prescriber record changed",
        "prescriber.address.added": "Prescriber address added",
    }
)

PATIENT_FIELDS = [
    "first_name",
    "middle_name",
    "last_name",
    "suffix",
    "preferred_name",
    "date_of_birth",
    "sex",
    "status",
    "address_line1",
    "address_line2",
    "city",
    "state",
    "postal_code",
    "phone_mobile",
    "phone_home",
    "phone_work",
    "email",
    "preferred_language",
    "pregnancy_status",
    "lactation_status",
    "privacy_notice",
    "privacy_notice_on",
    "contact_method",
    "refill_reminders",
    "easy_open_caps",
    "large_print",
]
PHONE_FIELDS = ("phone_mobile", "phone_home", "phone_work")
OLDEST_AGE_YEARS = 130


class PossibleDuplicate(Conflict):
    """Another patient has the same name and date of birth."""

    code = "possible_duplicate"
    title = "Possible duplicate patient"

    def __init__(self, candidates: list[Patient]) -> None:
        names = "; ".join(f"{p.full_name} (#{p.pk})" for p in candidates[:5])
        super().__init__(
            f"A patient with the same name and date of birth is already on file: {names}. "
            "Open that record, or confirm this is a different person.",
            field="last_name",
            candidates=[p.pk for p in candidates],
        )
        self.candidates = candidates


def _own(actor: User | None, obj: Any, site_id: int) -> None:
    """Rows of another site do not exist for this actor (no cross-site probing)."""
    if actor is not None and actor.site_id != site_id:
        raise NotFound(f"No such {obj} at this pharmacy.")


def _normalize_patient(values: dict[str, Any]) -> dict[str, Any]:
    out = dict(values)
    for key in PHONE_FIELDS:
        if key in out and out[key] is not None:
            out[key] = normalize_phone(str(out[key]))
    for key in (
        "first_name",
        "middle_name",
        "last_name",
        "suffix",
        "preferred_name",
        "city",
        "address_line1",
        "address_line2",
        "email",
    ):
        if key in out and isinstance(out[key], str):
            out[key] = " ".join(out[key].split())
    if isinstance(out.get("state"), str):
        out["state"] = out["state"].strip().upper()
    return out


def _check_patient(patient: Patient, today: dt.date) -> None:
    full_clean(patient, exclude=["site"])
    dob = patient.date_of_birth
    if dob > today:
        raise Invalid("The date of birth is in the future.", field="date_of_birth")
    if dob < today.replace(year=today.year - OLDEST_AGE_YEARS):
        raise Invalid(
            f"The date of birth is more than {OLDEST_AGE_YEARS} years ago; check the year.",
            field="date_of_birth",
        )
    if patient.privacy_notice and not patient.privacy_notice_on:
        raise Invalid(
            "Enter the date the privacy notice was acknowledged.", field="privacy_notice_on"
        )
    if patient.privacy_notice_on and patient.privacy_notice_on > today:
        raise Invalid("The acknowledgement date is in the future.", field="privacy_notice_on")


def _snapshot(patient: Patient) -> dict[str, Any]:
    return snapshot(patient, PATIENT_FIELDS)


def patient_create(*, actor: User, allow_duplicate: bool = False, **values: Any) -> Patient:
    """Register a patient. A same-name, same-birth-date patient is refused with the
    candidates, unless the user confirms a different person (then flagged for review)."""
    authorize(actor, Cap.PATIENT_EDIT)
    site = actor.site
    assert site is not None
    with transaction.atomic():
        patient = Patient(site=site)
        _apply(patient, PATIENT_FIELDS, _normalize_patient(values))
        _check_patient(patient, site.today())
        twins = list(
            Patient.objects.filter(
                site=site,
                last_name_key=name_key(patient.last_name),
                first_name_key=name_key(patient.first_name),
                date_of_birth=patient.date_of_birth,
            ).exclude(status=PatientStatus.INACTIVE)
        )
        if twins and not allow_duplicate:
            raise PossibleDuplicate(twins)
        patient.possible_duplicate = bool(twins)
        patient.save()
        audit_record(
            actor=actor,
            action="patient.created",
            obj=patient,
            patient_id=patient.pk,
            data={"after": _snapshot(patient), "possible_duplicate_of": [p.pk for p in twins]},
        )
    return patient


def patient_update(*, actor: User, patient: Patient, **values: Any) -> Patient:
    """Change demographics, contact details, status or preferences."""
    authorize(actor, Cap.PATIENT_EDIT)
    _own(actor, "patient", patient.site_id)
    with transaction.atomic():
        patient = Patient.objects.select_for_update().get(pk=patient.pk)
        before = _snapshot(patient)
        _apply(patient, PATIENT_FIELDS, _normalize_patient(values))
        _check_patient(patient, patient.site.today())
        changes = diff(before, _snapshot(patient))
        if not changes:
            return patient
        patient.updated_at = timezone.now()
        patient.save(update_fields=[*changes, "updated_at"])
        audit_record(
            actor=actor,
            action="patient.updated",
            obj=patient,
            patient_id=patient.pk,
            data={"changes": changes},
        )
    return patient


def patient_record_open(*, actor: User, patient: Patient, purpose: str = "") -> Patient:
    """Open a patient's record: the PHI access is logged (HIPAA access accounting)."""
    authorize(actor, Cap.PATIENT_VIEW)
    _own(actor, "patient", patient.site_id)
    with transaction.atomic():
        audit_record(
            actor=actor,
            action="patient.record.viewed",
            obj=patient,
            patient_id=patient.pk,
            reason=purpose[:200],
        )
    return patient


# --- Allergies --------------------------------------------------------------------------------

ALLERGY_FIELDS = [
    "allergen_kind",
    "allergen",
    "allergen_code",
    "allergy_type",
    "reaction",
    "severity",
    "source",
]


def allergy_add(
    *, actor: User, patient: Patient, allergen: str, allergen_kind: str, **values: Any
) -> Allergy:
    """Record an allergy or intolerance; the profile then 'has allergies'."""
    authorize(actor, Cap.PATIENT_EDIT)
    _own(actor, "patient", patient.site_id)
    with transaction.atomic():
        patient = Patient.objects.select_for_update().get(pk=patient.pk)
        allergy = Allergy(patient=patient, recorded_by=actor)
        _apply(
            allergy,
            ALLERGY_FIELDS,
            {
                "allergen": " ".join((allergen or "").split()),
                "allergen_kind": allergen_kind,
                **values,
            },
        )
        full_clean(allergy, exclude=["patient", "recorded_by"])
        if patient.allergies.filter(
            active=True, allergen__iexact=allergy.allergen, allergen_kind=allergy.allergen_kind
        ).exists():
            raise Invalid(
                f"{allergy.allergen} is already on this patient's allergy list.", field="allergen"
            )
        try:
            allergy.save()
        except IntegrityError:
            raise Invalid(
                f"{allergy.allergen} is already on this patient's allergy list.", field="allergen"
            ) from None
        patient.allergy_status = AllergyStatus.HAS_ALLERGIES
        patient.allergies_reviewed_at = timezone.now()
        patient.save(update_fields=["allergy_status", "allergies_reviewed_at"])
        audit_record(
            actor=actor,
            action="patient.allergy.added",
            obj=allergy,
            patient_id=patient.pk,
            # the reaction is clinical free text: not copied into the log
            data={
                "allergen": allergy.allergen,
                "kind": allergy.allergen_kind,
                "severity": allergy.severity,
                "type": allergy.allergy_type,
            },
        )
    return allergy


def allergy_inactivate(*, actor: User, allergy: Allergy, reason: str) -> Allergy:
    """Remove an allergy from the active list (entered in error, disproven), with a reason."""
    authorize(actor, Cap.PATIENT_EDIT)
    _own(actor, "allergy", allergy.patient.site_id)
    reason = " ".join((reason or "").split())
    if not reason:
        raise Invalid("Say why the allergy is being removed.", field="reason")
    with transaction.atomic():
        allergy = Allergy.objects.select_for_update().get(pk=allergy.pk)
        if not allergy.active:
            raise Conflict("This allergy was already removed.")
        allergy.active = False
        allergy.inactivated_reason = reason[:200]
        allergy.save(update_fields=["active", "inactivated_reason"])
        patient = allergy.patient
        if not patient.allergies.filter(active=True).exists():
            # Nothing left does not mean "no known allergies": someone must ask again.
            patient.allergy_status = AllergyStatus.NOT_ASKED
            patient.save(update_fields=["allergy_status"])
        audit_record(
            actor=actor,
            action="patient.allergy.inactivated",
            obj=allergy,
            patient_id=patient.pk,
            reason=reason[:200],
            data={"allergen": allergy.allergen},
        )
    return allergy


def patient_record_no_known_allergies(*, actor: User, patient: Patient) -> Patient:
    """Record that the patient was asked and has no known allergies."""
    authorize(actor, Cap.PATIENT_EDIT)
    _own(actor, "patient", patient.site_id)
    with transaction.atomic():
        patient = Patient.objects.select_for_update().get(pk=patient.pk)
        active = list(patient.allergies.filter(active=True).values_list("allergen", flat=True))
        if active:
            raise Conflict(
                "This patient has allergies on file (" + ", ".join(active) + "); remove them "
                "first if they were entered in error.",
                field="allergy_status",
            )
        patient.allergy_status = AllergyStatus.NO_KNOWN
        patient.allergies_reviewed_at = timezone.now()
        patient.save(update_fields=["allergy_status", "allergies_reviewed_at"])
        audit_record(
            actor=actor, action="patient.allergies.none_known", obj=patient, patient_id=patient.pk
        )
    return patient


# --- Conditions, measurements, identifiers, coverage -----------------------------------------


CONDITION_FIELDS = ["description", "icd10", "onset", "status"]


def _normalize_condition(values: dict[str, Any]) -> dict[str, Any]:
    out = dict(values)
    if isinstance(out.get("description"), str):
        out["description"] = " ".join(out["description"].split())
    if isinstance(out.get("icd10"), str):
        out["icd10"] = out["icd10"].strip().upper()
    return out


def _check_condition(condition: Condition, today: dt.date) -> None:
    full_clean(condition, exclude=["patient", "recorded_by"])
    if condition.onset and condition.onset > today:
        raise Invalid("The onset date is in the future.", field="onset")


def condition_add(
    *,
    actor: User,
    patient: Patient,
    description: str,
    icd10: str = "",
    onset: dt.date | None = None,
) -> Condition:
    authorize(actor, Cap.PATIENT_EDIT)
    _own(actor, "patient", patient.site_id)
    with transaction.atomic():
        condition = Condition(patient=patient, recorded_by=actor)
        _apply(
            condition,
            CONDITION_FIELDS,
            _normalize_condition({"description": description, "icd10": icd10, "onset": onset}),
        )
        _check_condition(condition, patient.site.today())
        condition.save()
        audit_record(
            actor=actor,
            action="patient.condition.added",
            obj=condition,
            patient_id=patient.pk,
            data={"icd10": condition.icd10},
        )
    return condition


def condition_update(*, actor: User, condition: Condition, **values: Any) -> Condition:
    """Correct a condition or mark it resolved."""
    authorize(actor, Cap.PATIENT_EDIT)
    _own(actor, "condition", condition.patient.site_id)
    fields = CONDITION_FIELDS
    with transaction.atomic():
        condition = Condition.objects.select_for_update().get(pk=condition.pk)
        before = snapshot(condition, fields)
        _apply(condition, fields, _normalize_condition(values))
        _check_condition(condition, condition.patient.site.today())
        changes = diff(before, snapshot(condition, fields))
        if not changes:
            return condition
        condition.save(update_fields=list(changes))
        changes.pop("description", None)  # clinical free text stays out of the log
        audit_record(
            actor=actor,
            action="patient.condition.updated",
            obj=condition,
            patient_id=condition.patient_id,
            data={"changes": changes},
        )
    return condition


_TO_KG = {"kg": Decimal(1), "lb": Decimal("0.45359237"), "g": Decimal("0.001")}
_TO_CM = {"cm": Decimal(1), "in": Decimal("2.54"), "m": Decimal(100)}
# Serum creatinine: mg/dL, or µmol/L from an SI lab (1 mg/dL = 88.4 µmol/L).
_TO_MG_DL = {"mg/dL": Decimal(1), "umol/L": Decimal(1) / Decimal("88.4")}
_FACTORS = {
    MeasurementKind.WEIGHT: _TO_KG,
    MeasurementKind.HEIGHT: _TO_CM,
    MeasurementKind.SERUM_CREATININE: _TO_MG_DL,
}
# Plausible human ranges: a 500 g preterm neonate up to the heaviest recorded adults.
_RANGES = {
    MeasurementKind.WEIGHT: (Decimal("0.3"), Decimal("650")),
    MeasurementKind.HEIGHT: (Decimal("20"), Decimal("275")),
    MeasurementKind.SERUM_CREATININE: (Decimal("0.1"), Decimal("25")),
}


def measurement_record(
    *,
    actor: User,
    patient: Patient,
    kind: str,
    value: Decimal | str,
    unit: str,
    measured_on: dt.date | None = None,
) -> Measurement:
    """Record a weight, height or serum creatinine, converted to kg, cm or mg/dL
    (exactly, then to 2 decimals)."""
    authorize(actor, Cap.PATIENT_EDIT)
    _own(actor, "patient", patient.site_id)
    if kind not in MeasurementKind.values:
        raise Invalid("Choose weight, height or serum creatinine.", field="kind")
    factors = _FACTORS[MeasurementKind(kind)]
    if unit not in factors:
        raise Invalid(f"Use one of: {', '.join(factors)}.", field="unit")
    try:
        amount = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise Invalid("Enter a number, like 72.5.", field="value") from None
    if not amount.is_finite():
        raise Invalid("Enter a number, like 72.5.", field="value")
    low, high = _RANGES[MeasurementKind(kind)]
    exact = amount * factors[unit]
    if not low <= exact <= high:  # compare before rounding: 1E+30 cannot be quantized
        unit_name = Measurement.UNITS[MeasurementKind(kind)]
        raise Invalid(
            f"{amount} {unit} is outside {low}–{high} {unit_name}; check the value and the unit.",
            field="value",
        )
    converted = exact.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    if not low <= converted <= high:
        unit_name = Measurement.UNITS[MeasurementKind(kind)]
        raise Invalid(
            f"{converted} {unit_name} is outside {low}–{high} {unit_name}; check the "
            "value and the unit.",
            field="value",
        )
    today = patient.site.today()
    measured_on = measured_on or today
    if measured_on > today:
        raise Invalid("The measurement date is in the future.", field="measured_on")
    with transaction.atomic():
        m = Measurement.objects.create(
            patient=patient, kind=kind, value=converted, measured_on=measured_on, recorded_by=actor
        )
        audit_record(
            actor=actor,
            action="patient.measurement.recorded",
            obj=m,
            patient_id=patient.pk,
            data={
                "kind": kind,
                "value": str(converted),
                "unit": m.unit,
                "entered": f"{amount} {unit}",
                "measured_on": measured_on.isoformat(),
            },
        )
    return m


def identifier_add(
    *, actor: User, patient: Patient, kind: str, value: str, issuer: str = ""
) -> PatientIdentifier:
    authorize(actor, Cap.PATIENT_EDIT)
    _own(actor, "patient", patient.site_id)
    value = (value or "").strip().upper()
    if kind == "ssn_last4" and not (len(value) == 4 and value.isdigit()):
        raise Invalid("Keep only the last four digits of a Social Security number.", field="value")
    with transaction.atomic():
        ident = PatientIdentifier(
            patient=patient, kind=kind, value=value, issuer=issuer.strip().upper()
        )
        full_clean(ident, exclude=["patient"])
        # full_clean skips the (patient, kind, value) constraint: patient is excluded.
        duplicate = Invalid("This identifier is already on the patient's record.", field="value")
        if patient.identifiers.filter(kind=ident.kind, value=ident.value).exists():
            raise duplicate
        try:
            ident.save()
        except IntegrityError:
            raise duplicate from None
        audit_record(
            actor=actor,
            action="patient.identifier.added",
            obj=ident,
            patient_id=patient.pk,
            data={"kind": kind},
        )
    return ident


COVERAGE_FIELDS = [
    "kind",
    "rank",
    "plan_name",
    "bin",
    "pcn",
    "group",
    "member_id",
    "person_code",
    "relationship",
    "effective_on",
    "terminates_on",
    "active",
]


def _check_coverage(coverage: Coverage) -> None:
    full_clean(coverage, exclude=["patient"])
    if coverage.kind != CoverageKind.CASH:
        # Billed over NCPDP: the switch routes by BIN, the plan finds the member by ID.
        if not coverage.bin:
            raise Invalid("Type the BIN from the card (6 digits).", field="bin")
        if not coverage.member_id.strip():
            raise Invalid("Type the cardholder ID from the card.", field="member_id")
    if (
        coverage.effective_on
        and coverage.terminates_on
        and coverage.terminates_on < coverage.effective_on
    ):
        raise Invalid("The plan ends before it starts.", field="terminates_on")
    if (
        coverage.active
        and Coverage.objects.filter(patient_id=coverage.patient_id, rank=coverage.rank, active=True)
        .exclude(pk=coverage.pk)
        .exists()
    ):
        raise Invalid(
            f"The patient already has an active plan at rank {coverage.rank}.", field="rank"
        )


def _save_coverage(coverage: Coverage, update_fields: list[str] | None = None) -> None:
    # Two counters adding a plan at the same rank at once: the unique constraint decides.
    try:
        with transaction.atomic():
            coverage.save(update_fields=update_fields)
    except IntegrityError:
        raise Invalid(
            f"The patient already has an active plan at rank {coverage.rank}.", field="rank"
        ) from None


def coverage_add(*, actor: User, patient: Patient, **values: Any) -> Coverage:
    """Add a plan from the patient's card (billing comes with the claims issue)."""
    authorize(actor, Cap.PATIENT_EDIT)
    _own(actor, "patient", patient.site_id)
    with transaction.atomic():
        coverage = Coverage(patient=patient)
        _apply(coverage, COVERAGE_FIELDS, values)
        _check_coverage(coverage)
        _save_coverage(coverage)
        audit_record(
            actor=actor,
            action="patient.coverage.added",
            obj=coverage,
            patient_id=patient.pk,
            data={"after": snapshot(coverage, COVERAGE_FIELDS)},
        )
    return coverage


def coverage_update(*, actor: User, coverage: Coverage, **values: Any) -> Coverage:
    authorize(actor, Cap.PATIENT_EDIT)
    _own(actor, "coverage", coverage.patient.site_id)
    with transaction.atomic():
        coverage = Coverage.objects.select_for_update().get(pk=coverage.pk)
        before = snapshot(coverage, COVERAGE_FIELDS)
        _apply(coverage, COVERAGE_FIELDS, values)
        _check_coverage(coverage)
        changes = diff(before, snapshot(coverage, COVERAGE_FIELDS))
        if not changes:
            return coverage
        _save_coverage(coverage, update_fields=list(changes))
        audit_record(
            actor=actor,
            action="patient.coverage.updated",
            obj=coverage,
            patient_id=coverage.patient_id,
            data={"changes": changes},
        )
    return coverage


# --- Prescribers ------------------------------------------------------------------------------

PRESCRIBER_FIELDS = [
    "first_name",
    "middle_name",
    "last_name",
    "suffix",
    "credential",
    "npi",
    "dea_number",
    "dea_suffix",
    "state_license",
    "state_license_state",
    "specialty",
    "active",
]


def _normalize_prescriber(values: dict[str, Any]) -> dict[str, Any]:
    out = dict(values)
    for key in ("first_name", "middle_name", "last_name", "suffix", "specialty"):
        if isinstance(out.get(key), str):
            out[key] = " ".join(out[key].split())
    if isinstance(out.get("npi"), str):
        out["npi"] = out["npi"].strip().replace("-", "").replace(" ", "")
    if isinstance(out.get("state_license_state"), str):
        out["state_license_state"] = out["state_license_state"].strip().upper()
    raw_dea = out.get("dea_number")
    if isinstance(raw_dea, str) and raw_dea.strip():
        try:
            parsed = dea_parse(raw_dea)
        except ValueError as exc:
            raise Invalid(str(exc), field="dea_number") from None
        out["dea_number"] = parsed.number
        if parsed.suffix or "dea_suffix" not in out:
            out["dea_suffix"] = parsed.suffix  # a new number never keeps an old suffix
    elif isinstance(raw_dea, str):
        out["dea_number"] = ""
        out["dea_suffix"] = ""
    return out


def _check_prescriber(prescriber: Prescriber, confirm_dea_name: bool) -> None:
    full_clean(prescriber, exclude=["site"])
    clash = (
        Prescriber.objects.filter(site_id=prescriber.site_id, npi=prescriber.npi)
        .exclude(pk=prescriber.pk)
        .first()
    )
    if clash:
        raise Invalid(
            f"NPI {prescriber.npi} is already on file for {clash.full_name}.", field="npi"
        )
    if prescriber.dea_number and not confirm_dea_name:
        warning = dea_name_mismatch(prescriber.dea_number, prescriber.last_name)
        if warning:
            raise Invalid(warning + " Tick 'confirmed' to keep it.", field="dea_number")


def prescriber_create(*, actor: User, confirm_dea_name: bool = False, **values: Any) -> Prescriber:
    """Add a prescriber with checksum-valid NPI (and DEA number when they prescribe CS)."""
    authorize(actor, Cap.PRESCRIBER_EDIT)
    with transaction.atomic():
        prescriber = Prescriber(site=actor.site)
        _apply(prescriber, PRESCRIBER_FIELDS, _normalize_prescriber(values))
        _check_prescriber(prescriber, confirm_dea_name)
        try:
            prescriber.save()
        except IntegrityError:
            raise Invalid("That NPI is already on file.", field="npi") from None
        audit_record(
            actor=actor,
            action="prescriber.created",
            obj=prescriber,
            data={
                "after": snapshot(prescriber, PRESCRIBER_FIELDS),
                "dea_name_confirmed": confirm_dea_name,
            },
        )
    return prescriber


def prescriber_update(
    *, actor: User, prescriber: Prescriber, confirm_dea_name: bool = False, **values: Any
) -> Prescriber:
    authorize(actor, Cap.PRESCRIBER_EDIT)
    _own(actor, "prescriber", prescriber.site_id)
    with transaction.atomic():
        prescriber = Prescriber.objects.select_for_update().get(pk=prescriber.pk)
        before = snapshot(prescriber, PRESCRIBER_FIELDS)
        _apply(prescriber, PRESCRIBER_FIELDS, _normalize_prescriber(values))
        # A mismatch confirmed once need not be confirmed again on every later edit.
        unchanged = (prescriber.dea_number, prescriber.last_name) == (
            before["dea_number"],
            before["last_name"],
        )
        _check_prescriber(prescriber, confirm_dea_name or unchanged)
        changes = diff(before, snapshot(prescriber, PRESCRIBER_FIELDS))
        if not changes:
            return prescriber
        prescriber.save(update_fields=list(changes))
        audit_record(
            actor=actor, action="prescriber.updated", obj=prescriber, data={"changes": changes}
        )
    return prescriber


ADDRESS_FIELDS = [
    "label",
    "address_line1",
    "address_line2",
    "city",
    "state",
    "postal_code",
    "phone",
    "fax",
    "primary",
]


def prescriber_address_add(
    *, actor: User, prescriber: Prescriber, **values: Any
) -> PrescriberAddress:
    authorize(actor, Cap.PRESCRIBER_EDIT)
    _own(actor, "prescriber", prescriber.site_id)
    values = dict(values)
    for key in ("phone", "fax"):
        if values.get(key):
            values[key] = normalize_phone(str(values[key]))
    if isinstance(values.get("state"), str):
        values["state"] = values["state"].strip().upper()
    with transaction.atomic():
        address = PrescriberAddress(prescriber=prescriber)
        _apply(address, ADDRESS_FIELDS, values)
        full_clean(address, exclude=["prescriber"])
        if address.primary:
            prescriber.addresses.filter(primary=True).update(primary=False)
        address.save()
        audit_record(
            actor=actor,
            action="prescriber.address.added",
            obj=address,
            data={"prescriber": prescriber.pk, "after": snapshot(address, ADDRESS_FIELDS)},
        )
    return address


__all__ = [
    "AllergenKind",
    "PossibleDuplicate",
    "allergy_add",
    "allergy_inactivate",
    "condition_add",
    "condition_update",
    "coverage_add",
    "coverage_update",
    "identifier_add",
    "measurement_record",
    "patient_create",
    "patient_record_no_known_allergies",
    "patient_record_open",
    "patient_update",
    "prescriber_address_add",
    "prescriber_create",
    "prescriber_update",
]


# --- Households (issue 7: the counter sees what is ready for the whole family) --------------

register_actions(
    {
        "patient.household.joined": "Patient joined a household",
        "patient.household.left": "Patient left a household",
    }
)


def patient_household_join(*, actor: User, patient: Patient, with_patient: Patient) -> Household:
    """Put ``patient`` in the household of ``with_patient`` (a new one, "<Last> household",
    for both when that patient has none). Both must be of the actor's pharmacy."""
    authorize(actor, Cap.PATIENT_EDIT)
    _own(actor, "patient", patient.site_id)
    _own(actor, "patient", with_patient.site_id)
    if patient.pk == with_patient.pk:
        raise Invalid("Choose another patient to share the household with.", field="with_patient")
    with transaction.atomic():
        first, second = sorted([patient.pk, with_patient.pk])
        locked = {
            p.pk: p for p in Patient.objects.select_for_update().filter(pk__in=[first, second])
        }
        me, other = locked[patient.pk], locked[with_patient.pk]
        if other.household_id is not None and me.household_id == other.household_id:
            raise Conflict(f"{me.full_name} is already in that household.", field="with_patient")
        before = me.household_id
        if other.household_id is None:
            household = Household.objects.create(
                site=other.site, name=f"{other.last_name} household"[:120]
            )
            other.household = household
            other.save(update_fields=["household"])
        else:
            household = Household.objects.get(pk=other.household_id)
        me.household = household
        me.save(update_fields=["household"])
        _dissolve_if_alone(before)
        audit_record(
            actor=actor,
            action="patient.household.joined",
            obj=me,
            patient_id=me.pk,
            data={"household": household.pk, "with_patient": other.pk, "left": before},
        )
    return household


def _dissolve_if_alone(household_id: int | None) -> None:
    """A household left with one member is no household: that member leaves it too."""
    if household_id is None:
        return
    members = Patient.objects.filter(household_id=household_id)
    if members.count() <= 1:
        members.update(household=None)
        Household.objects.filter(pk=household_id).delete()


def patient_household_leave(*, actor: User, patient: Patient) -> Patient:
    """Take ``patient`` out of the household (dissolving it when one member is left)."""
    authorize(actor, Cap.PATIENT_EDIT)
    _own(actor, "patient", patient.site_id)
    with transaction.atomic():
        me = Patient.objects.select_for_update().get(pk=patient.pk)
        if me.household_id is None:
            raise Conflict(f"{me.full_name} is not in a household.", field="household")
        before = me.household_id
        me.household = None
        me.save(update_fields=["household"])
        _dissolve_if_alone(before)
        audit_record(
            actor=actor,
            action="patient.household.left",
            obj=me,
            patient_id=me.pk,
            data={"household": before},
        )
    return me


__all__ += ["patient_household_join", "patient_household_leave"]
