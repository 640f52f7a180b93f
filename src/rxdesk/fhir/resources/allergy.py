"""AllergyIntolerance (US Core AllergyIntolerance) from ``rxdesk.patients.models.Allergy``,
plus one resource per patient recorded as having no known allergies.

"No known allergies" is a clinical statement, not the absence of data: a receiver that sees
no AllergyIntolerance cannot tell "asked, none" from "never asked". A patient whose profile
says NKA (and who has no active allergy) is therefore served as an AllergyIntolerance with
SNOMED CT 716186003 "No known allergy (situation)" (the code of the FHIR R4 example
allergyintolerance-nka), id ``nka-<patient id>``. A patient never asked gets nothing.

Honesty over completeness: verificationStatus says "confirmed" only when a prescriber or
pharmacist was the source; a patient's or caregiver's report is "unconfirmed". A removed
entry is "inactive" with its reason as a note, and no verificationStatus, since rxdesk does
not record whether it was disproven or entered in error. criticality is "high" only for a
life-threatening reaction; nothing else is claimed about future risk."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from django.db.models import Q, QuerySet

from rxdesk.core.capabilities import Cap
from rxdesk.fhir import codes
from rxdesk.fhir.registry import Context, ResourceType, SearchParam, register
from rxdesk.fhir.resources.common import clean, coding, concept, instant, meta, reference
from rxdesk.fhir.resources.patient import param_table
from rxdesk.fhir.search import bad, pk_of, reference_id, split, token
from rxdesk.patients.choices import AllergenKind, AllergyStatus, InfoSource, Severity
from rxdesk.patients.models import Allergy, Patient

UNII = "http://fdasis.nlm.nih.gov"
NO_KNOWN_ALLERGY = "716186003"
NKA_PREFIX = "nka-"

_REACTION_SEVERITY: dict[str, str] = {
    Severity.MILD: "mild",
    Severity.MODERATE: "moderate",
    Severity.SEVERE: "severe",
    Severity.LIFE_THREATENING: "severe",
}
_CONFIRMED_BY = {InfoSource.PRESCRIBER, InfoSource.PHARMACIST}
_DRUG_KINDS = {AllergenKind.INGREDIENT, AllergenKind.DRUG_CLASS, AllergenKind.EXCIPIENT}
_CLINICAL_CODES = {"active", "inactive", "resolved"}


def _status(code: str, display: str, system: str) -> dict[str, Any]:
    return concept(coding(system, code, display))


def allergen_coding(allergy: Allergy) -> dict[str, Any] | None:
    """The allergen's code with its system, when the code's shape tells the system: an
    RxNorm concept id is all digits, a UNII is 10 letters and digits. A drug-class code
    (from whatever class system the clerk used) is sent as text only."""
    code = (allergy.allergen_code or "").strip().upper()
    if not code or allergy.allergen_kind not in (AllergenKind.INGREDIENT, AllergenKind.EXCIPIENT):
        return None
    if code.isascii() and code.isdigit() and len(code) <= 8:
        return coding(codes.RXNORM, code)
    if re.fullmatch(r"[0-9A-Z]{10}", code) and not code.isdigit():
        return coding(UNII, code)
    return None


def _allergy_fhir(allergy: Allergy) -> dict[str, Any]:
    clinical = "active" if allergy.active else "inactive"
    verification = None
    if allergy.active:
        verification = "confirmed" if allergy.source in _CONFIRMED_BY else "unconfirmed"
    reaction = None
    if allergy.reaction:
        reaction = {
            "manifestation": [{"text": allergy.reaction}],
            "severity": _REACTION_SEVERITY.get(allergy.severity),
        }
    recorder = allergy.recorded_by
    return clean(
        {
            "resourceType": "AllergyIntolerance",
            "id": str(allergy.pk),
            "meta": meta("AllergyIntolerance"),
            "clinicalStatus": _status(clinical, clinical.capitalize(), codes.ALLERGY_CLINICAL),
            "verificationStatus": (
                _status(verification, verification.capitalize(), codes.ALLERGY_VERIFICATION)
                if verification
                else None
            ),
            "type": allergy.allergy_type,
            "category": ["medication"] if allergy.allergen_kind in _DRUG_KINDS else [],
            "criticality": "high" if allergy.severity == Severity.LIFE_THREATENING else None,
            "code": concept(allergen_coding(allergy), text=allergy.allergen),
            "patient": reference("Patient", allergy.patient_id),
            "recordedDate": instant(allergy.recorded_at),
            "recorder": (
                {"display": recorder.get_full_name() or recorder.username} if recorder else None
            ),
            "asserter": (
                reference("Patient", allergy.patient_id)
                if allergy.source == InfoSource.PATIENT
                else None
            ),
            "reaction": [reaction],
            "note": (
                [{"text": f"Removed: {allergy.inactivated_reason}"}]
                if not allergy.active and allergy.inactivated_reason
                else []
            ),
        }
    )


def _nka_fhir(patient: Patient) -> dict[str, Any]:
    return clean(
        {
            "resourceType": "AllergyIntolerance",
            "id": f"{NKA_PREFIX}{patient.pk}",
            "meta": meta("AllergyIntolerance"),
            "clinicalStatus": _status("active", "Active", codes.ALLERGY_CLINICAL),
            "verificationStatus": _status("confirmed", "Confirmed", codes.ALLERGY_VERIFICATION),
            "code": concept(
                coding(codes.SNOMED, NO_KNOWN_ALLERGY, "No known allergy (situation)"),
                text="No known allergies",
            ),
            "patient": reference("Patient", patient.pk),
            "recordedDate": instant(patient.allergies_reviewed_at),
        }
    )


def to_fhir(row: Allergy | Patient, ctx: Context) -> dict[str, Any]:
    if isinstance(row, Patient):
        return _nka_fhir(row)
    return _allergy_fhir(row)


def queryset(ctx: Context) -> QuerySet[Any]:
    return (
        Allergy.objects.filter(patient__site=ctx.site).select_related("recorded_by").order_by("pk")
    )


def nka_queryset(ctx: Context) -> QuerySet[Any]:
    """Patients at the site recorded as having no known allergies (and, to be safe, with no
    active allergy on file)."""
    return (
        Patient.objects.filter(site=ctx.site, allergy_status=AllergyStatus.NO_KNOWN)
        .exclude(allergies__active=True)
        .order_by("pk")
    )


def id_of(row: Any) -> str:
    return f"{NKA_PREFIX}{row.pk}" if isinstance(row, Patient) else str(row.pk)


def get(fhir_id: str, ctx: Context) -> Any:
    if fhir_id.startswith(NKA_PREFIX):
        pk = pk_of("_id", fhir_id[len(NKA_PREFIX) :])
        return nka_queryset(ctx).filter(pk=pk).first() if pk is not None else None
    pk = pk_of("_id", fhir_id)
    return queryset(ctx).filter(pk=pk).first() if pk is not None else None


def patient_of(row: Any) -> int:
    return int(row.pk) if isinstance(row, Patient) else int(row.patient_id)


# --- search: each parameter narrows both querysets (allergies, and NKA patients) --------


def _patient(qs: QuerySet[Any], values: list[str], ctx: Context) -> QuerySet[Any]:
    field = "pk" if qs.model is Patient else "patient_id"
    for group in split(values):
        ids = [pk_of("patient", reference_id("patient", v, "Patient")) for v in group]
        qs = qs.filter(**{f"{field}__in": [i for i in ids if i is not None]})
    return qs


def _clinical_status(qs: QuerySet[Any], values: list[str], ctx: Context) -> QuerySet[Any]:
    for group in split(values):
        alt = Q(pk__in=[])
        for value in group:
            system, code = token("clinical-status", value)
            if code not in _CLINICAL_CODES:
                raise bad("clinical-status", "use active, inactive or resolved.")
            if system not in (None, codes.ALLERGY_CLINICAL) or code == "resolved":
                continue
            if qs.model is Patient:
                if code == "active":
                    alt = Q()  # a "no known allergy" statement is active
            else:
                alt |= Q(active=code == "active")
        qs = qs.filter(alt)
    return qs


PARAMS = param_table(
    SearchParam("patient", "reference", "The patient (Patient/<id>).", _patient),
    SearchParam(
        "clinical-status",
        "token",
        "active | inactive (a removed entry) | resolved (never used by rxdesk).",
        _clinical_status,
    ),
)


def _of_patient(ctx: Context, patient_id: int) -> Iterable[Any]:
    return [
        *queryset(ctx).filter(patient_id=patient_id),
        *nka_queryset(ctx).filter(pk=patient_id),
    ]


ALLERGY = register(
    ResourceType(
        name="AllergyIntolerance",
        cap=Cap.PATIENT_VIEW,
        queryset=queryset,
        to_fhir=to_fhir,
        params=PARAMS,
        profile=codes.PROFILE["AllergyIntolerance"],
        patient_of=patient_of,
        id_of=id_of,
        get=get,
        extra_querysets=(nka_queryset,),
        of_patient=_of_patient,
        documentation=(
            "Allergies and intolerances; a patient with no known allergies has one "
            "AllergyIntolerance coded SNOMED CT 716186003 (id nka-<patient id>)."
        ),
    )
)
