"""Condition (US Core Condition Problems and Health Concerns) from
``rxdesk.patients.models.Condition``: the diagnoses on a patient's profile, as
problem-list items coded in ICD-10-CM where the pharmacy has the code."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db.models import Q, QuerySet

from rxdesk.core.capabilities import Cap
from rxdesk.fhir import codes
from rxdesk.fhir.registry import Context, ResourceType, SearchParam, register
from rxdesk.fhir.resources.common import clean, coding, concept, date, instant, meta, reference
from rxdesk.fhir.resources.patient import param_table
from rxdesk.fhir.search import bad, pk_of, reference_id, split, token
from rxdesk.patients.choices import ConditionStatus
from rxdesk.patients.models import Condition

CONDITION_VERIFICATION = "http://terminology.hl7.org/CodeSystem/condition-ver-status"

_CLINICAL: dict[str, str] = {ConditionStatus.ACTIVE: "active", ConditionStatus.RESOLVED: "resolved"}
# http://hl7.org/fhir/R4/valueset-condition-clinical.html
_CLINICAL_CODES = {"active", "recurrence", "relapse", "inactive", "remission", "resolved"}


def to_fhir(condition: Condition, ctx: Context) -> dict[str, Any]:
    clinical = _CLINICAL.get(condition.status, "active")
    return clean(
        {
            "resourceType": "Condition",
            "id": str(condition.pk),
            "meta": meta("Condition"),
            "clinicalStatus": concept(
                coding(codes.CONDITION_CLINICAL, clinical, clinical.capitalize())
            ),
            "verificationStatus": concept(coding(CONDITION_VERIFICATION, "confirmed", "Confirmed")),
            "category": [
                concept(coding(codes.CONDITION_CATEGORY, "problem-list-item", "Problem List Item"))
            ],
            "code": concept(coding(codes.ICD10CM, condition.icd10), text=condition.description),
            "subject": reference("Patient", condition.patient_id),
            "onsetDateTime": date(condition.onset),
            "recordedDate": instant(condition.recorded_at),
        }
    )


def queryset(ctx: Context) -> QuerySet[Any]:
    return Condition.objects.filter(patient__site=ctx.site).order_by("pk")


def _patient(qs: QuerySet[Any], values: list[str], ctx: Context) -> QuerySet[Any]:
    for group in split(values):
        ids = [pk_of("patient", reference_id("patient", v, "Patient")) for v in group]
        qs = qs.filter(patient_id__in=[i for i in ids if i is not None])
    return qs


def _clinical_status(qs: QuerySet[Any], values: list[str], ctx: Context) -> QuerySet[Any]:
    ours = {fhir: status for status, fhir in _CLINICAL.items()}
    for group in split(values):
        wanted: list[str] = []
        for value in group:
            system, code = token("clinical-status", value)
            if code not in _CLINICAL_CODES:
                raise bad(
                    "clinical-status", "use active, resolved or another condition-clinical code."
                )
            if system in (None, codes.CONDITION_CLINICAL) and code in ours:
                wanted.append(ours[code])
        qs = qs.filter(status__in=wanted)
    return qs


def _code(qs: QuerySet[Any], values: list[str], ctx: Context) -> QuerySet[Any]:
    for group in split(values):
        alt = Q(pk__in=[])
        for value in group:
            system, code = token("code", value)
            if system not in (None, codes.ICD10CM):
                continue  # rxdesk codes conditions in ICD-10-CM only
            alt |= Q(icd10=code.strip().upper()) if code else ~Q(icd10="")
        qs = qs.filter(alt)
    return qs


PARAMS = param_table(
    SearchParam("patient", "reference", "The patient (Patient/<id>).", _patient),
    SearchParam(
        "clinical-status",
        "token",
        "active | resolved (rxdesk's two states; other codes match nothing).",
        _clinical_status,
    ),
    SearchParam("code", "token", f"ICD-10-CM code ({codes.ICD10CM}|E11.9).", _code),
)


def _of_patient(ctx: Context, patient_id: int) -> Iterable[Any]:
    return queryset(ctx).filter(patient_id=patient_id)


CONDITION = register(
    ResourceType(
        name="Condition",
        cap=Cap.PATIENT_VIEW,
        queryset=queryset,
        to_fhir=to_fhir,
        params=PARAMS,
        profile=codes.PROFILE["Condition"],
        patient_of=lambda row: int(row.patient_id),
        of_patient=_of_patient,
        documentation="Diagnoses on the patient's profile (problem-list items, ICD-10-CM).",
    )
)
