"""API of hazardous drugs (USP <800>): the pharmacy's HD list with its receiving and
storage requirements, and the assessments of risk — write, review, retire. Parse, call
rxdesk.compounding services_hd / queries_hd, serialize.

Reading is compounding.view; assessments are compounding.approve (the pharmacist-in-charge),
checked before the body is read and again by the services."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from django.http import HttpRequest
from ninja import Field, Router, Schema, Status

from rxdesk.compounding import hd, queries_hd, services_hd
from rxdesk.compounding.api_common import StrictIn, gate, user_of
from rxdesk.compounding.models import RiskAssessment
from rxdesk.compounding.queries_hd import AssessmentView, HdProfile
from rxdesk.core.capabilities import Cap

router = Router(tags=["compounding"])

ManipulationIn = Literal[
    "count-repackage",
    "dispense-intact",
    "crush-split",
    "reconstitute-dilute",
    "compound-nonsterile",
    "compound-sterile",
    "administer",
]


# --- Schemas ----------------------------------------------------------------------------------


class AssessmentIn(StrictIn):
    product: int = Field(..., description="The catalog product (must be NIOSH-hazardous)")
    dosage_form: str
    packaging: str
    manipulation: ManipulationIn = Field(
        ..., description="; ".join(f"{k}: {v}" for k, v in hd.MANIPULATIONS.items())
    )
    risk_of_exposure: str
    containment: str = Field(..., description="Alternative containment and work practices")
    ppe: str
    reviewed_on: dt.date = Field(..., description="Not in the future; due again 12 months on")


class HdReviewIn(StrictIn):
    reviewed_on: dt.date
    note: str = Field("", description="What the review found")


class HdRetireIn(StrictIn):
    reason: str


class AssessmentOut(Schema):
    id: int
    product_id: int
    product_name: str
    dosage_form: str
    packaging: str
    manipulation: str
    manipulation_label: str
    risk_of_exposure: str
    containment: str
    ppe: str
    reviewed_on: dt.date
    review_due: dt.date
    overdue: bool
    covers_compounding: bool
    approved_by: str
    active: bool


class HdDrugOut(Schema):
    name: str
    product_id: int | None
    antineoplastic: bool
    bulk: bool
    covered: bool = Field(..., description="An assessment of risk in force covers compounding")


class HdProfileOut(Schema):
    hazardous: bool
    level: str | None = Field(..., description="What the ingredients allow")
    applied: str | None = Field(
        ..., description="What applies: full containment while an assessment is missing"
    )
    drugs: list[HdDrugOut]
    requirements: list[str]
    receiving: list[str]
    storage: list[str]
    assessments: list[AssessmentOut]
    needs_assessment: list[str]


class HdRowOut(Schema):
    product_id: int
    product_name: str
    generic_name: str
    dosage_form: str
    substances: str
    stock: list[str] = Field(..., description="On hand by billing unit")
    formulas: list[str] = Field(..., description="Codes of formulas in draft or in use")
    antineoplastic: bool
    bulk: bool
    status: Literal["assessment", "overdue", "full", "needs"]
    status_label: str
    assessment_ids: list[int]


class HdListOut(Schema):
    today: dt.date
    rows: list[HdRowOut]
    assessments: list[AssessmentOut]
    receiving: list[str]
    storage: list[str]


def assessment_out(view: AssessmentView) -> dict[str, Any]:
    a = view.assessment
    return {
        "id": a.pk,
        "product_id": a.product_id,
        "product_name": a.product.name,
        "dosage_form": a.dosage_form,
        "packaging": a.packaging,
        "manipulation": a.manipulation,
        "manipulation_label": view.manipulation,
        "risk_of_exposure": a.risk_of_exposure,
        "containment": a.containment,
        "ppe": a.ppe,
        "reviewed_on": a.reviewed_on,
        "review_due": a.review_due,
        "overdue": view.overdue,
        "covers_compounding": view.covers_compounding,
        "approved_by": a.approved_by_name,
        "active": a.active,
    }


def profile_out(profile: HdProfile) -> dict[str, Any]:
    return {
        "hazardous": profile.hazardous,
        "level": profile.level,
        "applied": profile.applied,
        "drugs": [
            {
                "name": d.name,
                "product_id": d.product.pk if d.product else None,
                "antineoplastic": d.antineoplastic,
                "bulk": d.bulk,
                "covered": d.covered,
            }
            for d in profile.drugs
        ],
        "requirements": profile.requirements,
        "receiving": profile.receiving,
        "storage": profile.storage,
        "assessments": [assessment_out(a) for a in profile.assessments],
        "needs_assessment": profile.needs_assessment,
    }


def _one(request: HttpRequest, assessment: RiskAssessment) -> dict[str, Any]:
    return assessment_out(queries_hd.assessment_view(assessment, user_of(request).site.today()))


# --- Operations -------------------------------------------------------------------------------


@router.get(
    "/hd",
    response=HdListOut,
    auth=gate(Cap.COMPOUNDING_VIEW),
    summary="The pharmacy's hazardous-drug list with assessments of risk and review dates",
)
def hd_list(request: HttpRequest) -> Any:
    found = queries_hd.hd_list(actor=user_of(request))
    return {
        "today": found.today,
        "rows": [
            {
                "product_id": r.product.pk,
                "product_name": r.product.name,
                "generic_name": r.product.generic_name,
                "dosage_form": r.product.dosage_form,
                "substances": r.product.substances,
                "stock": r.stock,
                "formulas": r.formulas,
                "antineoplastic": r.antineoplastic,
                "bulk": r.bulk,
                "status": r.status,
                "status_label": r.status_label,
                "assessment_ids": [a.assessment.pk for a in r.assessments],
            }
            for r in found.rows
        ],
        "assessments": [assessment_out(a) for a in found.assessments],
        "receiving": list(hd.RECEIVING),
        "storage": list(hd.STORAGE),
    }


@router.post(
    "/hd/assessments",
    response={201: AssessmentOut},
    auth=gate(Cap.COMPOUNDING_APPROVE),
    summary="Approve an assessment of risk for a hazardous drug (pharmacist-in-charge)",
    description="422 for a product the catalog does not flag hazardous, a hazardous API, or "
    "an antineoplastic manipulated beyond counting or repackaging; 409 when the same drug, "
    "dosage form and handling already has one.",
)
def assessment_create(request: HttpRequest, payload: AssessmentIn) -> Any:
    made = services_hd.risk_assessment_create(actor=user_of(request), **payload.model_dump())
    return Status(201, _one(request, made))


@router.post(
    "/hd/assessments/{int:assessment_id}/review",
    response=AssessmentOut,
    auth=gate(Cap.COMPOUNDING_APPROVE),
    summary="Record the yearly review of an assessment of risk",
)
def assessment_review(request: HttpRequest, assessment_id: int, payload: HdReviewIn) -> Any:
    actor = user_of(request)
    found = queries_hd.assessment_get(actor=actor, assessment_id=assessment_id)
    done = services_hd.risk_assessment_review(
        actor=actor, assessment=found, reviewed_on=payload.reviewed_on, note=payload.note
    )
    return _one(request, done)


@router.post(
    "/hd/assessments/{int:assessment_id}/retire",
    response=AssessmentOut,
    auth=gate(Cap.COMPOUNDING_APPROVE),
    summary="Retire an assessment of risk (the drug is then handled with full containment)",
)
def assessment_retire(request: HttpRequest, assessment_id: int, payload: HdRetireIn) -> Any:
    actor = user_of(request)
    found = queries_hd.assessment_get(actor=actor, assessment_id=assessment_id)
    done = services_hd.risk_assessment_retire(actor=actor, assessment=found, reason=payload.reason)
    return _one(request, done)
