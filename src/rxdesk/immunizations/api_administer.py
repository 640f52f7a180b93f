"""API of administering a vaccine: screening, consent, VIS, the scanned dose, the ledger move;
historical doses; corrections (mounted at /api/v1/immunizations). Parse, call
rxdesk.immunizations services_administer / queries_administer, serialize.

Doses name patients: every read needs imm.view and patient.view, and each opening is an
audit event (PHI access). Giving a dose is imm.administer (a technician only where the
site's state allows it: checked by the service); historical doses and refusals are
imm.record. Another pharmacy's rows do not exist here (404); an id in a body that is not
this pharmacy's is a 404/422 naming the field."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, Literal

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema, Status

from rxdesk.core.capabilities import Cap
from rxdesk.core.errors import Invalid, NotFound
from rxdesk.core.models import Site, User
from rxdesk.immunizations import queries_administer as queries
from rxdesk.immunizations import screening_questions as sq
from rxdesk.immunizations import services_administer as services
from rxdesk.immunizations.models import Immunization
from rxdesk.institutional.api_common import StrictIn, gate, user_of
from rxdesk.patients.models import Patient, Prescriber

router = Router(tags=["immunizations: administrations"])

MAX_ID = 2**63 - 1
Answer = Literal["yes", "no", "unknown"]


# --- Input --------------------------------------------------------------------------------


class VisIn(StrictIn):
    document_id: int = Field(..., ge=1, le=MAX_ID)
    presented_on: dt.date


class AdministerIn(StrictIn):
    patient_id: int = Field(..., ge=1, le=MAX_ID)
    code: str = Field(
        ..., min_length=1, max_length=200, description="NDC, UPC, GTIN or GS1 DataMatrix text"
    )
    lot_number: str = Field(..., min_length=1, max_length=40)
    expiry: dt.date | None = None
    dose_ml: Decimal = Field(..., description="0 < mL <= 1.0, at most 3 decimals")
    route: str = Field(..., max_length=8, description="NCIT route code, e.g. C28161 (IM)")
    body_site: str = Field("", max_length=4, description="HL70163, e.g. LD; blank for NS/PO")
    answers: dict[str, Answer] = Field(
        ..., description="Every screening question's code -> yes / no"
    )
    consent_by: str = Field(..., max_length=3, description="HL70063: SEL, MTH, FTH, PAR, GRD…")
    consent_name: str = Field("", max_length=120)
    vis: list[VisIn] = Field(default_factory=list, max_length=10)
    eligibility: str = Field(..., max_length=3, description="HL70064 V01–V05")
    administered_at: dt.datetime | None = Field(None, description="Default now; with offset")
    supervising_pharmacist_id: int | None = Field(None, ge=1, le=MAX_ID)
    screening_note: str = Field("", max_length=500)
    ordering_prescriber_id: int | None = Field(None, ge=1, le=MAX_ID)
    protocol: str = Field("", max_length=200)
    dose_number: int | None = Field(None, ge=1, le=services.MAX_DOSE_NUMBER)
    note: str = Field("", max_length=500)


class HistoricalIn(StrictIn):
    patient_id: int = Field(..., ge=1, le=MAX_ID)
    cvx: str = Field(..., min_length=1, max_length=4)
    administered_on: dt.date
    source: str = Field(..., max_length=2, description="NIP001 01–08")
    historical_source: str = Field(..., min_length=1, max_length=200)
    lot_number: str = Field("", max_length=40)
    ndc: str = Field("", max_length=20)


class RefusalIn(StrictIn):
    patient_id: int = Field(..., ge=1, le=MAX_ID)
    cvx: str = Field(..., min_length=1, max_length=4)
    refusal_reason: str = Field(..., max_length=2, description="NIP002 00–03")
    note: str = Field("", max_length=500)


class CorrectionIn(StrictIn):
    route: str | None = Field(None, max_length=8)
    body_site: str | None = Field(None, max_length=4)
    dose_number: int | None = Field(None, ge=1, le=services.MAX_DOSE_NUMBER)
    eligibility: str | None = Field(None, max_length=3)
    note: str | None = Field(None, max_length=500)


class EnteredInErrorIn(StrictIn):
    reason: str = Field(..., min_length=1, max_length=300)


class ListQuery(Schema):
    patient_id: int = Field(..., ge=1, le=MAX_ID)


# --- Output -------------------------------------------------------------------------------


class QuestionOut(Schema):
    code: str
    text: str
    hint: str


class FindingOut(Schema):
    code: str
    kind: str
    text: str


class VisOut(Schema):
    document_id: int
    name: str
    edition_date: dt.date
    presented_on: dt.date


class ImmunizationSummaryOut(Schema):
    id: int
    patient_id: int
    cvx: str
    vaccine: str
    administered_at: dt.datetime
    information_source: str
    completion: str
    refusal_reason: str
    status: str
    lot_number: str
    dose_ml: str | None
    route: str
    body_site: str
    dose_number: int | None
    funding: str
    eligibility: str
    registry_status: str | None


class ImmunizationOut(ImmunizationSummaryOut):
    ndc11: str
    expiry: dt.date | None
    manufacturer: str
    administered_by: str
    supervising_pharmacist_id: int | None
    screening: dict[str, str]
    findings: list[FindingOut]
    screening_reviewed_by_id: int | None
    screening_note: str
    consent_by: str
    consent_name: str
    vis: list[VisOut]
    historical_source: str
    protocol: str
    stock_move_id: int | None
    reporting_due_at: dt.datetime | None
    status_reason: str
    note: str


def _summary(i: Immunization) -> dict[str, Any]:
    return {
        "id": i.pk,
        "patient_id": i.patient_id,
        "cvx": i.vaccine.cvx,
        "vaccine": i.vaccine.short_description,
        "administered_at": i.administered_at,
        "information_source": i.information_source,
        "completion": i.completion,
        "refusal_reason": i.refusal_reason,
        "status": i.status,
        "lot_number": i.lot_number,
        "dose_ml": f"{i.dose_ml:f}" if i.dose_ml is not None else None,
        "route": i.route,
        "body_site": i.body_site,
        "dose_number": i.dose_number,
        "funding": i.funding,
        "eligibility": i.eligibility,
        "registry_status": getattr(i, "registry_status", None),
    }


def _full(i: Immunization) -> dict[str, Any]:
    return _summary(i) | {
        "ndc11": i.ndc11,
        "expiry": i.expiry,
        "manufacturer": i.manufacturer.name if i.manufacturer else "",
        "administered_by": i.administered_by_name,
        "supervising_pharmacist_id": i.supervising_pharmacist_id,
        "screening": i.screening,
        "findings": i.contraindications,
        "screening_reviewed_by_id": i.screening_reviewed_by_id,
        "screening_note": i.screening_note,
        "consent_by": i.consent_by,
        "consent_name": i.consent_name,
        "vis": [
            {
                "document_id": v.document_id,
                "name": v.document.name,
                "edition_date": v.document.edition_date,
                "presented_on": v.presented_on,
            }
            for v in i.vis_given.select_related("document")
        ],
        "historical_source": i.historical_source,
        "protocol": i.protocol,
        "stock_move_id": i.stock_move_id,
        "reporting_due_at": i.reporting_due_at,
        "status_reason": i.status_reason,
        "note": i.note,
    }


def _patient(actor: User, pk: int) -> Patient:
    found = Patient.objects.filter(site_id=actor.site_id, pk=pk).first()
    if found is None:
        raise NotFound("No such patient at this pharmacy.", field="patient_id")
    return found


def _person(site: Site | None, pk: int | None, field: str) -> User | None:
    if pk is None:
        return None
    found = User.objects.filter(site=site, pk=pk).first()
    if found is None:
        raise Invalid("No such member of staff at this pharmacy.", field=field)
    return found


def _prescriber(actor: User, pk: int | None) -> Prescriber | None:
    if pk is None:
        return None
    found = Prescriber.objects.filter(site_id=actor.site_id, pk=pk).first()
    if found is None:
        raise Invalid("No such prescriber at this pharmacy.", field="ordering_prescriber_id")
    return found


def _read(actor: User, immunization_id: int) -> Immunization:
    return queries.immunization_get(actor=actor, immunization_id=immunization_id)


# --- Operations ---------------------------------------------------------------------------


@router.get(
    "/screening-questions",
    response=list[QuestionOut],
    auth=gate(Cap.IMM_VIEW),
    summary="The pre-vaccination screening questions (answer each yes or no)",
)
def screening_questions(request: HttpRequest) -> Any:
    return [{"code": q.code, "text": q.text, "hint": q.hint} for q in sq.QUESTIONS]


@router.post(
    "",
    response={201: ImmunizationOut},
    auth=gate(Cap.IMM_ADMINISTER),
    summary="Give a vaccine: record the dose and take it out of stock",
    description="422 names the field of a broken rule; 409 for a contraindication ('do not "
    "vaccinate'), VFC stock for a patient who is not VFC eligible, or a lot that is not "
    "available; 403 for a technician where the site's state does not allow it.",
)
def administer(request: HttpRequest, payload: AdministerIn) -> Any:
    actor = user_of(request)
    site = actor.site
    imm = services.immunization_administer(
        actor=actor,
        patient=_patient(actor, payload.patient_id),
        code=payload.code,
        lot_number=payload.lot_number,
        expiry=payload.expiry,
        dose_ml=payload.dose_ml,
        route=payload.route,
        body_site=payload.body_site,
        answers=dict(payload.answers),
        consent_by=payload.consent_by,
        consent_name=payload.consent_name,
        vis=[(v.document_id, v.presented_on) for v in payload.vis],
        eligibility=payload.eligibility,
        administered_at=payload.administered_at,
        supervising_pharmacist=_person(
            site, payload.supervising_pharmacist_id, "supervising_pharmacist_id"
        ),
        screening_note=payload.screening_note,
        ordering_prescriber=_prescriber(actor, payload.ordering_prescriber_id),
        protocol=payload.protocol,
        dose_number=payload.dose_number,
        note=payload.note,
    )
    return Status(201, _full(_read(actor, imm.pk)))


@router.get(
    "",
    response=list[ImmunizationSummaryOut],
    auth=gate(Cap.IMM_VIEW, Cap.PATIENT_VIEW),
    summary="A patient's immunizations (given, historical, refused, entered in error)",
    description="patient_id is required; the opening is recorded (PHI access).",
)
def immunizations_list(request: HttpRequest, filters: Query[ListQuery]) -> Any:
    actor = user_of(request)
    patient = queries.patient_get(actor=actor, patient_id=filters.patient_id)
    rows = queries.immunizations_of(actor=actor, patient=patient)
    services.immunization_record_viewed(actor=actor, patient=patient, output="json")
    return [_summary(i) for i in rows]


@router.post(
    "/historical",
    response={201: ImmunizationOut},
    auth=gate(Cap.IMM_RECORD),
    summary="Record a dose given elsewhere (no stock move, not sent to the registry)",
)
def historical(request: HttpRequest, payload: HistoricalIn) -> Any:
    actor = user_of(request)
    values = payload.model_dump()
    imm = services.immunization_record_historical(
        actor=actor, patient=_patient(actor, values.pop("patient_id")), **values
    )
    return Status(201, _full(_read(actor, imm.pk)))


@router.post(
    "/refusals",
    response={201: ImmunizationOut},
    auth=gate(Cap.IMM_RECORD),
    summary="Record that the patient or parent declined a vaccine (sent to the registry)",
)
def refusal(request: HttpRequest, payload: RefusalIn) -> Any:
    actor = user_of(request)
    values = payload.model_dump()
    imm = services.immunization_record_refusal(
        actor=actor, patient=_patient(actor, values.pop("patient_id")), **values
    )
    return Status(201, _full(_read(actor, imm.pk)))


@router.get(
    "/{int:immunization_id}",
    response=ImmunizationOut,
    auth=gate(Cap.IMM_VIEW, Cap.PATIENT_VIEW),
    summary="One dose in full (the opening is recorded: PHI access)",
)
def immunization_read(request: HttpRequest, immunization_id: int) -> Any:
    actor = user_of(request)
    imm = _read(actor, immunization_id)
    services.immunization_record_viewed(
        actor=actor, patient=imm.patient, immunization=imm, output="json"
    )
    return _full(imm)


@router.post(
    "/{int:immunization_id}/correction",
    response=ImmunizationOut,
    auth=gate(Cap.IMM_ADMINISTER),
    summary="Correct route, body site, dose number, VFC eligibility or note",
    description="The lot and the vaccine are not corrected: mark the dose entered in error "
    "and record it again.",
)
def correction(request: HttpRequest, immunization_id: int, payload: CorrectionIn) -> Any:
    actor = user_of(request)
    imm = queries.immunization_get(actor=actor, immunization_id=immunization_id)
    fields = payload.model_dump(exclude_unset=True)
    services.immunization_correct(actor=actor, immunization=imm, **fields)
    return _full(_read(actor, imm.pk))


@router.post(
    "/{int:immunization_id}/entered-in-error",
    response=ImmunizationOut,
    auth=gate(Cap.IMM_ADMINISTER),
    summary="Mark a dose entered in error (a pharmacist; the registry is told to delete it)",
    description="No stock is put back automatically.",
)
def entered_in_error(request: HttpRequest, immunization_id: int, payload: EnteredInErrorIn) -> Any:
    actor = user_of(request)
    imm = queries.immunization_get(actor=actor, immunization_id=immunization_id)
    services.immunization_mark_entered_in_error(
        actor=actor, immunization=imm, reason=payload.reason
    )
    return _full(_read(actor, imm.pk))
