"""API of clinical screening: screen a proposed drug for facts an integration sends
(``POST /screening/check``, the contract of issue 8), screen a fill and keep its alerts,
resolve an alert (a pharmacist), and the alert and override rates per rule. Parse, call a
service or query, serialize.

The check reads and keeps nothing about a patient (the facts come in the request and go
out as alerts), so, like the catalog's look-ups, it writes no audit event."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from decimal import Decimal
from typing import Annotated, Any, Literal

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema
from pydantic import StringConstraints, model_validator

from rxdesk.core.capabilities import Cap
from rxdesk.core.errors import Invalid
from rxdesk.core.services import authorize
from rxdesk.rx import queries_fills
from rxdesk.screening import queries, resolve, services
from rxdesk.screening.models import FillAlert
from rxdesk.screening.types import Alert, AllergyFact, Drug, Patient

router = Router(tags=["Clinical screening"])

MAX_PROFILE = 100
MAX_ALLERGIES = 100
_MG = {"mg": Decimal(1), "g": Decimal(1000), "mcg": Decimal("0.001")}


def _user(request: HttpRequest) -> Any:
    return request.user


class _In(Schema):
    model_config = {"extra": "forbid"}


class ScreeningDrugRef(_In):
    """A drug by its NDC (10 digits in any layout, or 11) or its generic ingredient name
    (any case): exactly one of the two."""

    ndc: str | None = Field(None, max_length=20, examples=["0002-3227-30"])
    ingredient: str | None = Field(None, max_length=120, examples=["warfarin"])

    @model_validator(mode="after")
    def _one(self) -> ScreeningDrugRef:
        if (self.ndc is None) == (self.ingredient is None):
            raise ValueError("Give either ndc or ingredient (one of the two).")
        return self

    def drug(self, path: str) -> Drug:
        if self.ndc is not None:
            return resolve.drug_from_ndc(self.ndc, field=f"{path}.ndc")
        return resolve.drug_from_ingredient(self.ingredient or "", field=f"{path}.ingredient")


class ScreeningAllergyIn(_In):
    allergen: str = Field(min_length=1, max_length=120, examples=["penicillin"])
    kind: Literal["allergy", "intolerance"] = "allergy"


class ScreeningPatientIn(_In):
    birth_date: dt.date | None = None
    sex: Literal["F", "M", "U"] = "U"
    weight_kg: Decimal | None = Field(None, gt=0, le=700, decimal_places=2)
    height_cm: Decimal | None = Field(None, gt=0, le=300, decimal_places=1)
    serum_creatinine_mg_dl: Decimal | None = Field(None, gt=0, le=30, decimal_places=2)
    pregnant: bool = False
    breastfeeding: bool = False
    allergies: list[ScreeningAllergyIn] = Field(default_factory=list, max_length=MAX_ALLERGIES)
    conditions: list[Annotated[str, StringConstraints(max_length=200)]] = Field(
        default_factory=list,
        max_length=50,
        description="ICD-10-CM codes or words (e.g. 'I50.9', 'asthma'); optional",
    )
    medications: list[ScreeningDrugRef] = Field(
        default_factory=list,
        max_length=MAX_PROFILE,
        description="The active profile: each by ndc or ingredient",
    )


class ScreeningDailyDoseIn(_In):
    value: Decimal = Field(gt=0, le=1_000_000, decimal_places=3)
    unit: Literal["mg", "g", "mcg"] = "mg"


class ScreeningCheckIn(_In):
    patient: ScreeningPatientIn = Field(
        default_factory=lambda: ScreeningPatientIn.model_validate({})
    )
    proposed: ScreeningDrugRef
    daily_dose: ScreeningDailyDoseIn | None = Field(
        None, description="The proposed drug's total daily dose (a one-ingredient drug)"
    )


class ScreeningAlertOut(Schema):
    type: str = Field(description="NCPDP DUR reason for service (439-E4): DD, DA, TD, ID, HD…")
    severity: Literal["contraindicated", "major", "moderate", "minor"]
    drugs: list[str]
    message: str
    consequence: str
    action: str
    source: str
    interrupts: bool = Field(description="Contraindicated and major alerts interrupt")
    key: str = Field(description="Stable: rule and drugs")


class ScreeningCheckOut(Schema):
    alerts: list[ScreeningAlertOut]


def _alert_out(alert: Alert) -> dict[str, Any]:
    return {
        "type": alert.type,
        "severity": alert.severity.value,
        "drugs": list(alert.drugs),
        "message": alert.message,
        "consequence": alert.consequence,
        "action": alert.action,
        "source": alert.source,
        "interrupts": alert.interrupts,
        "key": alert.key,
    }


def _patient(p: ScreeningPatientIn) -> Patient:
    return Patient(
        birth_date=p.birth_date,
        sex=p.sex,
        weight_kg=p.weight_kg,
        height_cm=p.height_cm,
        serum_creatinine_mg_dl=p.serum_creatinine_mg_dl,
        pregnant=p.pregnant,
        breastfeeding=p.breastfeeding,
        allergies=tuple(
            AllergyFact(allergen=resolve.allergen_name(a.allergen), kind=a.kind)
            for a in p.allergies
        ),
        conditions=tuple(" ".join(c.split()).lower() for c in p.conditions if c.strip()),
    )


def _with_dose(drug: Drug, dose: ScreeningDailyDoseIn) -> Drug:
    if len(drug.ingredients) != 1:
        raise Invalid(
            f"{drug.label} has {len(drug.ingredients)} ingredients: a daily dose in "
            f"{dose.unit} is given for a one-ingredient drug.",
            field="daily_dose",
        )
    mg = (dose.value * _MG[dose.unit]).quantize(resolve.MG)
    return replace(drug, daily_dose={drug.ingredients[0].name: mg})


@router.post(
    "/check",
    response=ScreeningCheckOut,
    summary="Screen a proposed drug against a patient's facts and profile",
    description=(
        "Drug–drug interactions (ONC high-priority and non-interruptive lists, or the loaded "
        "knowledge base), allergy and cross-sensitivity, therapeutic and ingredient "
        "duplication, dose range, age (Beers), pregnancy and lactation, kidneys, opioid MME. "
        "Alerts are ranked: the interrupting ones (contraindicated, major) first. A bad or "
        "unknown NDC or ingredient is a 422 naming its field (e.g. "
        "`patient.medications.2.ndc`). Nothing is stored."
    ),
)
def screening_check(request: HttpRequest, payload: ScreeningCheckIn) -> Any:
    actor = _user(request)
    authorize(actor, Cap.RX_VIEW)  # before any look-up
    errors: list[dict[str, str]] = []
    profile: list[Drug] = []
    for n, ref in enumerate(payload.patient.medications):
        try:
            profile.append(ref.drug(f"patient.medications.{n}"))
        except Invalid as exc:
            errors.extend(exc.errors)
    proposed: Drug | None = None
    try:
        proposed = payload.proposed.drug("proposed")
        if payload.daily_dose is not None:
            proposed = _with_dose(proposed, payload.daily_dose)
    except Invalid as exc:
        errors.extend(exc.errors)
    if errors or proposed is None:
        raise Invalid(errors=errors)
    alerts = queries.check(
        actor=actor, patient=_patient(payload.patient), profile=profile, proposed=proposed
    )
    return {"alerts": [_alert_out(a) for a in alerts]}


# --- a fill's alerts --------------------------------------------------------------------------


class FillAlertOut(Schema):
    id: int
    fill_id: int
    key: str
    rule: str
    type: str
    severity: str
    interrupting: bool
    blocking: bool = Field(description="Stops data verification until a pharmacist resolves it")
    drugs: list[str]
    message: str
    consequence: str
    action: str
    source: str
    raised_at: dt.datetime
    resolved_by: str | None
    resolved_at: dt.datetime | None
    professional_service: str
    result_of_service: str
    note: str


class FillAlertsOut(Schema):
    alerts: list[FillAlertOut]


def _row_out(row: FillAlert) -> dict[str, Any]:
    return {
        "id": row.pk,
        "fill_id": row.fill_id,
        "key": row.key,
        "rule": row.rule,
        "type": row.type,
        "severity": row.severity,
        "interrupting": row.interrupting,
        "blocking": services.blocks(row),
        "drugs": list(row.drugs),
        "message": row.message,
        "consequence": row.consequence,
        "action": row.action,
        "source": row.source,
        "raised_at": row.raised_at,
        "resolved_by": row.resolved_by.username if row.resolved_by is not None else None,
        "resolved_at": row.resolved_at,
        "professional_service": row.professional_service,
        "result_of_service": row.result_of_service,
        "note": row.note,
    }


@router.post(
    "/fills/{int:fill_id}/screen",
    response=FillAlertsOut,
    summary="Screen a fill now and keep its alerts (resolutions kept)",
    description=(
        "What data verification runs: the fill's current alerts, ranked, with their "
        "resolutions; `blocking` ones stop data verification until a pharmacist resolves them."
    ),
)
def screening_fill(request: HttpRequest, fill_id: int) -> Any:
    actor = _user(request)
    authorize(actor, Cap.RX_VIEW)
    fill = queries_fills.fill_get(actor=actor, fill_id=fill_id)
    screened = services.fill_screen(actor=actor, fill=fill)
    return {"alerts": [_row_out(row) for _, row in screened.alerts]}


class AlertResolveIn(_In):
    professional_service: str = Field(
        max_length=2, description="NCPDP 440-E5, e.g. M0 (prescriber consulted; a zero)"
    )
    result_of_service: str = Field(
        max_length=2, description="NCPDP 441-E6, e.g. 1G (filled with prescriber approval)"
    )
    note: str = Field(max_length=services.NOTE_MAX)


@router.post(
    "/alerts/{int:alert_id}/resolve",
    response=FillAlertOut,
    summary="Resolve a screening alert (a pharmacist): NCPDP E5/E6 codes and a note",
)
def screening_resolve(request: HttpRequest, alert_id: int, payload: AlertResolveIn) -> Any:
    actor = _user(request)
    authorize(actor, Cap.SCREENING_RESOLVE)  # before the alert is looked up
    row = services.alert_resolve(
        actor=actor,
        alert=queries.alert_get(actor=actor, alert_id=alert_id),
        professional_service=payload.professional_service,
        result_of_service=payload.result_of_service,
        note=payload.note,
    )
    return _row_out(row)


class ScreeningReportQuery(Schema):
    start: dt.date
    end: dt.date


class RuleRateOut(Schema):
    rule: str
    type: str
    source: str
    raised: int
    interrupted: int
    resolved: int
    overridden: int = Field(description="Interrupting alerts resolved as filled (result 1x)")
    override_rate: Decimal | None = Field(description="Percent of the interrupting alerts")


class ScreeningReportOut(Schema):
    start: dt.date
    end: dt.date
    rules: list[RuleRateOut]


@router.get(
    "/report",
    response=ScreeningReportOut,
    summary="Alert and override rates per screening rule between two dates",
)
def screening_report(request: HttpRequest, filters: Query[ScreeningReportQuery]) -> Any:
    rates = queries.alert_rates(actor=_user(request), start=filters.start, end=filters.end)
    return {"start": filters.start, "end": filters.end, "rules": rates}
