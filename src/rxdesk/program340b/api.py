"""340B: the API (``/api/v1/340b``). Parse, call rxdesk.program340b services / queries,
serialize.

Read with 340b.view (technician, pharmacist, PIC, inventory specialist, auditor); the
patient list and encounters name patients and also need patient.view. Capture and
replenishment orders need 340b.order; the covered entity, its lists and the payer rules
340b.setup (the PIC)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema, Status

from rxdesk.claims.models import Plan
from rxdesk.core.capabilities import Cap
from rxdesk.institutional.api_common import StrictIn, gate, user_of
from rxdesk.patients.models import Patient
from rxdesk.program340b import queries, services
from rxdesk.program340b.choices import PayerAction
from rxdesk.program340b.models import (
    Capture,
    CoveredEntity,
    EligiblePatient,
    EligiblePrescriber,
    Encounter,
    NdcExclusion,
    PayerRule,
    ReplenishmentOrder,
)

router = Router(tags=["340B"])

MAX_ID = 2**63 - 1
VIEW = gate(Cap.P340B_VIEW)
VIEW_PATIENTS = gate(Cap.P340B_VIEW, Cap.PATIENT_VIEW)
ORDER = gate(Cap.P340B_ORDER)
SETUP = gate(Cap.P340B_SETUP)


# --- Input ------------------------------------------------------------------------------------


class P340bEntityIn(StrictIn):
    opais_id: str = Field(..., min_length=1, max_length=20, examples=["DSH140001"])
    name: str = Field(..., min_length=1, max_length=services.NAME_MAX)
    starts_on: dt.date
    active: bool = True
    lookback_months: int = Field(12, ge=1, le=36)
    account_number: str = Field("", max_length=services.ACCOUNT_MAX)
    wholesaler: str = Field("", max_length=80)


class P340bPrescriberIn(StrictIn):
    npi: str = Field(..., min_length=1, max_length=12)
    name: str = Field("", max_length=services.NAME_MAX)
    effective_from: dt.date
    effective_to: dt.date | None = None


class P340bPatientIn(StrictIn):
    patient_id: int = Field(..., ge=1, le=MAX_ID)
    effective_from: dt.date
    effective_to: dt.date | None = None


class P340bEncounterIn(StrictIn):
    patient_id: int = Field(..., ge=1, le=MAX_ID)
    location: str = Field(..., min_length=1, max_length=services.LOCATION_MAX)
    on: dt.date


class P340bPayerRuleIn(StrictIn):
    plan_id: int = Field(..., ge=1, le=MAX_ID)
    action: PayerAction
    basis_of_cost_08: bool = False
    note: str = Field("", max_length=services.NOTE_MAX)


class P340bExclusionIn(StrictIn):
    ndc: str = Field(..., min_length=1, max_length=13)
    reason: str = Field(..., min_length=1, max_length=services.NOTE_MAX)


class P340bCaptureIn(StrictIn):
    through: dt.date | None = Field(None, description="Default: today at the pharmacy")


class P340bOrderIn(StrictIn):
    ndc: str = Field(..., min_length=1, max_length=13)
    packages: int = Field(..., ge=1, le=services.MAX_PACKAGES)
    po_number: str = Field(..., min_length=1, max_length=services.PO_MAX)


class P340bDecisionQuery(Schema):
    day: dt.date | None = Field(None, description="Default: the most recent")
    limit: int = Field(100, ge=1, le=500)


class P340bReportQuery(Schema):
    start: dt.date | None = None
    end: dt.date | None = None


# --- Output -----------------------------------------------------------------------------------


class P340bEntityOut(Schema):
    id: int
    opais_id: str
    name: str
    entity_type: str
    entity_type_label: str
    starts_on: dt.date
    active: bool
    lookback_months: int
    account_number: str
    wholesaler: str


class P340bPrescriberOut(Schema):
    id: int
    npi: str
    name: str
    effective_from: dt.date
    effective_to: dt.date | None


class P340bPatientOut(Schema):
    id: int
    patient_id: int
    patient_name: str
    effective_from: dt.date
    effective_to: dt.date | None


class P340bEncounterOut(Schema):
    id: int
    patient_id: int
    patient_name: str
    location: str
    on: dt.date


class P340bPayerRuleOut(Schema):
    id: int
    plan_id: int
    plan_name: str
    action: str
    basis_of_cost_08: bool
    note: str


class P340bExclusionOut(Schema):
    id: int
    ndc11: str
    reason: str


class P340bCaptureOut(Schema):
    decided: int
    eligible: int
    reversed: int
    units_by_ndc: dict[str, Decimal]
    summary: str


class P340bInventoryOut(Schema):
    package_id: int
    ndc11: str
    description: str
    billing_unit: str
    package_size: Decimal
    units: Decimal
    packages_due: int
    remainder: Decimal
    owed_back: Decimal


class P340bReasonOut(Schema):
    rule: str
    passed: bool
    detail: str


class P340bDecisionOut(Schema):
    id: int
    fill_id: int
    rx_number: str
    fill_number: int
    kind: str
    ndc11: str
    day: dt.date
    eligible: bool
    units: Decimal
    reasons: list[P340bReasonOut]


class P340bOrderOut(Schema):
    id: int
    po_number: str
    ndc11: str
    packages: int
    units: Decimal
    ordered_at: dt.datetime
    ordered_by: str


class P340bReportLineOut(Schema):
    po_number: str
    ordered_at: dt.datetime
    ndc11: str
    packages: int
    order_units: Decimal
    rx_number: str
    fill_number: int
    dispensed_on: dt.date
    prescriber_npi: str
    dispensed_units: Decimal
    allocated_units: Decimal
    returned: bool


def _entity(row: CoveredEntity) -> dict[str, Any]:
    return {
        "id": row.pk,
        "opais_id": row.opais_id,
        "name": row.name,
        "entity_type": row.entity_type,
        "entity_type_label": services.rules.ENTITY_TYPES.get(row.entity_type, ""),
        "starts_on": row.starts_on,
        "active": row.active,
        "lookback_months": row.lookback_months,
        "account_number": row.account_number,
        "wholesaler": row.wholesaler,
    }


def _prescriber(row: EligiblePrescriber) -> dict[str, Any]:
    return {
        "id": row.pk,
        "npi": row.npi,
        "name": row.name,
        "effective_from": row.effective_from,
        "effective_to": row.effective_to,
    }


def _patient(row: EligiblePatient) -> dict[str, Any]:
    return {
        "id": row.pk,
        "patient_id": row.patient_id,
        "patient_name": f"{row.patient.last_name}, {row.patient.first_name}",
        "effective_from": row.effective_from,
        "effective_to": row.effective_to,
    }


def _encounter(row: Encounter) -> dict[str, Any]:
    return {
        "id": row.pk,
        "patient_id": row.patient_id,
        "patient_name": f"{row.patient.last_name}, {row.patient.first_name}",
        "location": row.location,
        "on": row.on,
    }


def _rule(row: PayerRule) -> dict[str, Any]:
    return {
        "id": row.pk,
        "plan_id": row.plan_id,
        "plan_name": row.plan.name,
        "action": row.action,
        "basis_of_cost_08": row.basis_of_cost_08,
        "note": row.note,
    }


def _exclusion(row: NdcExclusion) -> dict[str, Any]:
    return {"id": row.pk, "ndc11": row.ndc11, "reason": row.reason}


def _decision(row: Capture) -> dict[str, Any]:
    return {
        "id": row.pk,
        "fill_id": row.fill_id,
        "rx_number": str(row.fill.prescription.number),
        "fill_number": row.fill.number,
        "kind": row.kind,
        "ndc11": row.ndc11,
        "day": row.day,
        "eligible": row.eligible,
        "units": row.units,
        "reasons": list(row.reasons or []),
    }


def _order(row: ReplenishmentOrder) -> dict[str, Any]:
    return {
        "id": row.pk,
        "po_number": row.po_number,
        "ndc11": row.package.ndc11,
        "packages": row.packages,
        "units": row.units,
        "ordered_at": row.ordered_at,
        "ordered_by": row.ordered_by.display_name if row.ordered_by else "",
    }


# --- Covered entity and lists -----------------------------------------------------------------


@router.get("/entity", response=P340bEntityOut | None, auth=VIEW)
def entity_get(request: HttpRequest) -> Any:
    row = queries.entity(actor=user_of(request))
    return _entity(row) if row else None


@router.put("/entity", response=P340bEntityOut, auth=SETUP)
def entity_put(request: HttpRequest, payload: P340bEntityIn) -> Any:
    row = services.p340b_entity_set(actor=user_of(request), **payload.dict())
    return _entity(row)


@router.get("/prescribers", response=list[P340bPrescriberOut], auth=VIEW)
def prescriber_list(request: HttpRequest) -> Any:
    return [_prescriber(r) for r in queries.prescribers(actor=user_of(request))]


@router.post("/prescribers", response={201: P340bPrescriberOut}, auth=SETUP)
def prescriber_add(request: HttpRequest, payload: P340bPrescriberIn) -> Any:
    row = services.p340b_prescriber_add(actor=user_of(request), **payload.dict())
    return Status(201, _prescriber(row))


@router.get("/patients", response=list[P340bPatientOut], auth=VIEW_PATIENTS)
def patient_list(request: HttpRequest) -> Any:
    return [_patient(r) for r in queries.patients(actor=user_of(request))]


@router.post("/patients", response={201: P340bPatientOut}, auth=SETUP)
def patient_add(request: HttpRequest, payload: P340bPatientIn) -> Any:
    data = payload.dict()
    row = services.p340b_patient_add(
        actor=user_of(request), patient=Patient(pk=data.pop("patient_id")), **data
    )
    return Status(201, _patient(row))


@router.get("/encounters", response=list[P340bEncounterOut], auth=VIEW_PATIENTS)
def encounter_list(request: HttpRequest) -> Any:
    return [_encounter(r) for r in queries.encounters(actor=user_of(request))]


@router.post("/encounters", response={201: P340bEncounterOut}, auth=SETUP)
def encounter_add(request: HttpRequest, payload: P340bEncounterIn) -> Any:
    data = payload.dict()
    row = services.p340b_encounter_add(
        actor=user_of(request), patient=Patient(pk=data.pop("patient_id")), **data
    )
    return Status(201, _encounter(row))


@router.get("/payer-rules", response=list[P340bPayerRuleOut], auth=VIEW)
def payer_rule_list(request: HttpRequest) -> Any:
    return [_rule(r) for r in queries.payer_rules(actor=user_of(request))]


@router.put("/payer-rules", response=P340bPayerRuleOut, auth=SETUP)
def payer_rule_set(request: HttpRequest, payload: P340bPayerRuleIn) -> Any:
    data = payload.dict()
    row = services.p340b_payer_rule_set(
        actor=user_of(request),
        plan=Plan(pk=data.pop("plan_id")),
        action=str(data.pop("action")),
        **data,
    )
    return _rule(row)


@router.get("/exclusions", response=list[P340bExclusionOut], auth=VIEW)
def exclusion_list(request: HttpRequest) -> Any:
    return [_exclusion(r) for r in queries.exclusions(actor=user_of(request))]


@router.post("/exclusions", response={201: P340bExclusionOut}, auth=SETUP)
def exclusion_add(request: HttpRequest, payload: P340bExclusionIn) -> Any:
    row = services.p340b_exclusion_add(actor=user_of(request), **payload.dict())
    return Status(201, _exclusion(row))


# --- Virtual inventory, capture, orders, report ----------------------------------------------


@router.get("/inventory", response=list[P340bInventoryOut], auth=VIEW)
def inventory(request: HttpRequest) -> Any:
    return [
        {
            "package_id": line.package_id,
            "ndc11": line.ndc11,
            "description": line.description,
            "billing_unit": line.billing_unit,
            "package_size": line.package_size,
            "units": line.units,
            "packages_due": line.packages_due,
            "remainder": line.remainder,
            "owed_back": line.owed_back,
        }
        for line in queries.inventory(actor=user_of(request))
    ]


@router.post("/capture", response=P340bCaptureOut, auth=ORDER)
def capture(request: HttpRequest, payload: P340bCaptureIn) -> Any:
    result = services.p340b_capture(actor=user_of(request), through=payload.through)
    return {
        "decided": result.decided,
        "eligible": result.eligible,
        "reversed": result.reversed,
        "units_by_ndc": result.units_by_ndc,
        "summary": result.summary(),
    }


@router.get("/decisions", response=list[P340bDecisionOut], auth=VIEW)
def decision_list(request: HttpRequest, filters: Query[P340bDecisionQuery]) -> Any:
    rows = queries.decisions(actor=user_of(request), day=filters.day, limit=filters.limit)
    return [_decision(r) for r in rows]


@router.get("/orders", response=list[P340bOrderOut], auth=VIEW)
def order_list(request: HttpRequest) -> Any:
    return [_order(r) for r in queries.orders(actor=user_of(request))]


@router.post("/orders", response={201: P340bOrderOut}, auth=ORDER)
def order_create(request: HttpRequest, payload: P340bOrderIn) -> Any:
    row = services.p340b_order_create(actor=user_of(request), **payload.dict())
    return Status(201, _order(row))


@router.get("/orders/{int:order_id}", response=P340bOrderOut, auth=VIEW)
def order_get(request: HttpRequest, order_id: int) -> Any:
    return _order(queries.order(actor=user_of(request), pk=order_id))


@router.get("/report", response=list[P340bReportLineOut], auth=VIEW)
def report(request: HttpRequest, filters: Query[P340bReportQuery]) -> Any:
    lines = queries.report(actor=user_of(request), start=filters.start, end=filters.end)
    return [line.__dict__ for line in lines]
