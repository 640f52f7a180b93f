"""API of point-of-care tests (CLIA-waived) and the site's patient-care settings (mounted
at /api/v1/care). Parse, call rxdesk.care services_poct / queries_poct, serialize.

Results name patients: reading them needs care.view and patient.view; recording one and
recording that it was given to the patient care.poct (where the site lets technicians
test; the service checks); reviewing and marking entered in error care.intervene (a
pharmacist). The catalog and the settings are read with care.view; the settings are
changed with care.setup (the PIC). Opening one result is a PHI access."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema, Status

from rxdesk.care import poct_tests
from rxdesk.care import queries_poct as queries
from rxdesk.care import services_poct as services
from rxdesk.care.models import CareSettings, PocTestResult
from rxdesk.core.capabilities import Cap
from rxdesk.core.errors import Invalid
from rxdesk.institutional.api_common import StrictIn, gate, user_of
from rxdesk.patients.models import Patient

router = Router(tags=["care: point-of-care tests"])

MAX_ID = 2**63 - 1
READ = (Cap.CARE_VIEW, Cap.PATIENT_VIEW)


# --- Input ------------------------------------------------------------------------------------


class PoctResultIn(StrictIn):
    patient_id: int = Field(..., ge=1, le=MAX_ID)
    test_code: str = Field(..., min_length=1, max_length=20, description="See GET /care/poct/tests")
    specimen: str = Field("", max_length=40, description="Default: the test's first specimen")
    collected_at: dt.datetime = Field(..., description="With its time-zone offset")
    kit_lot: str = Field(..., min_length=1, max_length=services.LOT_MAX)
    kit_expiry: dt.date
    result: str = Field(..., max_length=10, description="positive, negative, invalid or value")
    value: Decimal | None = Field(None, description="For a meter: the number it shows")
    kit_name: str = Field("", max_length=services.KIT_MAX)
    follow_up: str = Field("", max_length=services.FOLLOW_UP_MAX)
    referred: bool = False
    referral_to: str = Field("", max_length=services.REFER_TO_MAX)
    referral_reason: str = Field("", max_length=services.REASON_MAX)


class CommunicatedIn(StrictIn):
    at: dt.datetime | None = Field(None, description="Default: now")


class PoctReviewIn(StrictIn):
    note: str = Field("", max_length=services.NOTE_MAX)


class ErrorIn(StrictIn):
    reason: str = Field(..., min_length=1, max_length=services.REASON_MAX)


class CareSettingsIn(StrictIn):
    poct_enabled: bool
    clia_certificate: str = Field("", max_length=14, description="2 digits, D, 7 digits")
    clia_expires: dt.date | None = None
    poct_tests: list[str] = Field(default_factory=list, max_length=len(poct_tests.CATALOG))
    technicians_perform_poct: bool = False
    callback_hours: int = Field(4, ge=1, le=168)


class PoctLogQuery(Schema):
    patient_id: int | None = Field(None, ge=1, le=MAX_ID)
    day: dt.date | None = Field(None, description="Default: today at the pharmacy")
    limit: int = Field(100, ge=1, le=queries.LOG_LIMIT)


# --- Output -----------------------------------------------------------------------------------


class PoctResultOut(Schema):
    id: int
    patient_id: int
    patient_name: str
    test_code: str
    test_name: str
    loinc: str
    specimen: str
    collected_at: dt.datetime
    kit_name: str
    kit_lot: str
    kit_expiry: dt.date
    result: str
    result_label: str
    value: str | None
    unit: str
    reference_range: str
    interpretation: str
    interpretation_label: str
    follow_up: str
    referred: bool
    referral_to: str
    referral_reason: str
    communicated_at: dt.datetime | None
    status: str
    status_label: str
    status_reason: str
    performed_by: str
    reviewed_by: str
    reviewed_at: dt.datetime | None
    recorded_at: dt.datetime


class CatalogOut(Schema):
    code: str
    name: str
    loinc: str
    specimens: list[str]
    kind: str
    results: list[str]
    unit: str
    measuring_range: list[str] | None
    reference_range: str
    critical_low: str | None
    critical_high: str | None
    decimals: int
    permitted: bool


class CareSettingsOut(Schema):
    poct_enabled: bool
    clia_certificate: str
    clia_expires: dt.date | None
    clia_current: bool
    poct_tests: list[str]
    technicians_perform_poct: bool
    callback_hours: int
    updated_at: dt.datetime
    updated_by: str


def _result(r: PocTestResult) -> dict[str, Any]:
    return {
        "id": r.pk,
        "patient_id": r.patient_id,
        "patient_name": r.patient.full_name,
        "test_code": r.test_code,
        "test_name": r.test_name,
        "loinc": r.loinc,
        "specimen": r.specimen,
        "collected_at": r.collected_at,
        "kit_name": r.kit_name,
        "kit_lot": r.kit_lot,
        "kit_expiry": r.kit_expiry,
        "result": r.result,
        "result_label": r.get_result_display(),
        "value": _value(r),
        "unit": r.unit,
        "reference_range": r.reference_range,
        "interpretation": r.interpretation,
        "interpretation_label": r.get_interpretation_display(),
        "follow_up": r.follow_up,
        "referred": r.referred,
        "referral_to": r.referral_to,
        "referral_reason": r.referral_reason,
        "communicated_at": r.communicated_at,
        "status": r.status,
        "status_label": r.get_status_display(),
        "status_reason": r.status_reason,
        "performed_by": r.performed_by.display_name,
        "reviewed_by": r.reviewed_by.display_name if r.reviewed_by else "",
        "reviewed_at": r.reviewed_at,
        "recorded_at": r.recorded_at,
    }


def _value(r: PocTestResult) -> str | None:
    """The value as the meter shows it (6.1, not the column's 6.10)."""
    if r.value is None:
        return None
    test = poct_tests.BY_CODE.get(r.test_code)
    places = test.decimals if test is not None else 2
    return str(r.value.quantize(Decimal(1).scaleb(-places)))


def _settings(row: CareSettings) -> dict[str, Any]:
    return {
        "poct_enabled": row.poct_enabled,
        "clia_certificate": row.clia_certificate,
        "clia_expires": row.clia_expires,
        "clia_current": services.clia_problem(row, row.site.today()) is None,
        "poct_tests": list(row.poct_tests or []),
        "technicians_perform_poct": row.technicians_perform_poct,
        "callback_hours": row.callback_hours,
        "updated_at": row.updated_at,
        "updated_by": row.updated_by.display_name if row.updated_by else "",
    }


def _num(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


# --- Routes -----------------------------------------------------------------------------------


@router.get(
    "/poct/tests",
    response=list[CatalogOut],
    auth=gate(Cap.CARE_VIEW),
    summary="The CLIA-waived test catalog, with what this pharmacy permits",
)
def poct_catalog(request: HttpRequest) -> Any:
    _, rows = queries.catalog(actor=user_of(request))
    return [
        {
            "code": r.test.code,
            "name": r.test.name,
            "loinc": r.test.loinc,
            "specimens": list(r.test.specimens),
            "kind": r.test.kind,
            "results": list(r.test.results),
            "unit": r.test.unit,
            "measuring_range": [str(v) for v in r.test.plausible] if r.test.plausible else None,
            "reference_range": r.test.reference_range,
            "critical_low": _num(r.test.critical_low),
            "critical_high": _num(r.test.critical_high),
            "decimals": r.test.decimals,
            "permitted": r.permitted,
        }
        for r in rows
    ]


@router.get(
    "/poct",
    response=list[PoctResultOut],
    auth=gate(*READ),
    summary="The tests log: a day's results (default today) or a patient's",
)
def poct_log(request: HttpRequest, q: Query[PoctLogQuery]) -> Any:
    actor = user_of(request)
    patient = None
    if q.patient_id is not None:
        patient = Patient.objects.filter(pk=q.patient_id, site_id=actor.site_id).first()
        if patient is None:
            raise Invalid("No such patient at this pharmacy.", field="patient_id")
    rows = queries.results_log(actor=actor, day=q.day, patient=patient, limit=q.limit)
    return [_result(r) for r in rows]


@router.post(
    "/poct",
    response={201: PoctResultOut},
    auth=gate(Cap.CARE_POCT),
    summary="Record a waived test's result (interpretation computed)",
)
def poct_record(request: HttpRequest, payload: PoctResultIn) -> Any:
    actor = user_of(request)
    data = payload.model_dump()
    patient = Patient.objects.filter(pk=data.pop("patient_id"), site_id=actor.site_id).first()
    if patient is None:
        raise Invalid("No such patient at this pharmacy.", field="patient_id")
    row = services.poct_record(actor=actor, patient=patient, **data)
    return Status(201, _result(queries.result_get(actor=actor, result_id=row.pk)))


@router.get(
    "/poct/{int:result_id}",
    response=PoctResultOut,
    auth=gate(*READ),
    summary="One result (a PHI access)",
)
def poct_detail(request: HttpRequest, result_id: int) -> Any:
    actor = user_of(request)
    row = queries.result_get(actor=actor, result_id=result_id)
    services.poct_viewed(actor=actor, result=row, output="api")
    return _result(row)


@router.post(
    "/poct/{int:result_id}/communicated",
    response=PoctResultOut,
    auth=gate(Cap.CARE_POCT),
    summary="Record when the result was given to the patient",
)
def poct_communicated(request: HttpRequest, result_id: int, payload: CommunicatedIn) -> Any:
    actor = user_of(request)
    row = queries.result_get(actor=actor, result_id=result_id)
    services.poct_result_communicated(actor=actor, result=row, at=payload.at)
    return _result(queries.result_get(actor=actor, result_id=result_id))


@router.post(
    "/poct/{int:result_id}/review",
    response=PoctResultOut,
    auth=gate(Cap.CARE_INTERVENE),
    summary="The pharmacist reviews the result",
)
def poct_review(request: HttpRequest, result_id: int, payload: PoctReviewIn) -> Any:
    actor = user_of(request)
    row = queries.result_get(actor=actor, result_id=result_id)
    services.poct_review(actor=actor, result=row, note=payload.note)
    return _result(queries.result_get(actor=actor, result_id=result_id))


@router.post(
    "/poct/{int:result_id}/entered-in-error",
    response=PoctResultOut,
    auth=gate(Cap.CARE_INTERVENE),
    summary="A pharmacist marks the result entered in error (the row stays)",
)
def poct_entered_in_error(request: HttpRequest, result_id: int, payload: ErrorIn) -> Any:
    actor = user_of(request)
    row = queries.result_get(actor=actor, result_id=result_id)
    services.poct_mark_entered_in_error(actor=actor, result=row, reason=payload.reason)
    return _result(queries.result_get(actor=actor, result_id=result_id))


@router.get(
    "/settings",
    response=CareSettingsOut,
    auth=gate(Cap.CARE_VIEW),
    summary="The pharmacy's patient-care settings",
)
def care_settings_get(request: HttpRequest) -> Any:
    return _settings(queries.care_settings(actor=user_of(request)))


@router.put(
    "/settings",
    response=CareSettingsOut,
    auth=gate(Cap.CARE_SETUP),
    summary="Set point-of-care testing (CLIA certificate, tests) and callback hours (the PIC)",
)
def care_settings_put(request: HttpRequest, payload: CareSettingsIn) -> Any:
    row = services.care_settings_set(actor=user_of(request), **payload.model_dump())
    return _settings(row)
