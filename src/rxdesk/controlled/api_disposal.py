"""API of the controlled-substance records: disposal. Destruction on site (DEA Form 41, two
witnesses), witnessed waste and patient returns, and the disposal register. Parse, call a
service or query, serialize.

The capability is checked before ninja reads the body (cs.view to read, cs.destroy and
cs.waste to write), so a role without it gets 403 whatever it sends; the services check
again. Records of another pharmacy do not exist here (404). Witnesses re-authenticate in
the request: a wrong password is a 422 naming ``witnesses.0.password`` (or
``witness.password``), and nothing is recorded."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, Literal

from django.http import HttpRequest, HttpResponse
from ninja import Field, Query, Router, Schema, Status

from rxdesk.controlled import queries_disposal as queries
from rxdesk.controlled import services_disposal as services
from rxdesk.controlled.choices import WasteKind
from rxdesk.controlled.models import Destruction, Waste
from rxdesk.core.capabilities import Cap
from rxdesk.rx.api_fills import BearerToken, BrowserSession

router = Router(tags=["controlled substances"])

MAX_ID = 2**63 - 1
PDF = {
    "responses": {
        200: {
            "description": "The Form 41 record as a PDF",
            "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}},
        }
    }
}
CSV = {
    "responses": {
        200: {
            "description": "JSON, or with format=csv a CSV file (a header row, one row per line)",
            "content": {"text/csv": {"schema": {"type": "string"}}},
        }
    }
}


def _gate(*caps: Cap) -> list[Any]:
    return [BearerToken(*caps), BrowserSession(*caps)]


def _user(request: HttpRequest) -> Any:
    return request.user


class _In(Schema):
    model_config = {"extra": "forbid"}


# --- Schemas ----------------------------------------------------------------------------------


class DisposalWitnessIn(_In):
    username: str = Field(..., max_length=150)
    password: str = Field(..., max_length=256)
    otp: str = Field("", max_length=12, description="Six digits, where the witness enrolled")


class DestructionLineIn(_In):
    balance_id: int | None = Field(
        None, ge=1, le=MAX_ID, description="The stock destroyed; or give ndc + lot_number"
    )
    ndc: str = Field("", max_length=200)
    lot_number: str = Field("", max_length=40)
    full_packages: int = Field(0, ge=0, le=services.MAX_PACKAGES)
    partial_quantity: Decimal = Field(
        Decimal(0), ge=0, description="Units left in an opened package (less than a package)"
    )


class DestructionIn(_In):
    destroyed_at: dt.datetime = Field(
        ..., description="When it was destroyed (without a zone: the pharmacy's local time)"
    )
    method: str = Field(
        ...,
        max_length=200,
        description="incineration, chemical_digestion, or another non-retrievable method in "
        "words (flushing, the sewer, trash, coffee grounds or kitty litter are refused)",
    )
    location: str = Field(..., max_length=200)
    lines: list[DestructionLineIn] = Field(..., min_length=1, max_length=services.MAX_LINES)
    witnesses: list[DisposalWitnessIn] = Field(
        ..., min_length=2, max_length=2, description="Two authorized employees, not the actor"
    )
    note: str = Field("", max_length=500)


class WitnessOut(Schema):
    user: str
    name: str
    factors: str


class DestructionLineOut(Schema):
    id: int
    balance_id: int
    ndc11: str
    ndc10: str
    name: str
    strength: str
    dosage_form: str
    schedule: str
    lot: str
    expiry: dt.date | None
    package_quantity: Decimal
    billing_unit: str
    full_packages: int
    partial_quantity: Decimal
    quantity: Decimal = Field(description="Total destroyed, in billing units")
    move_id: int
    balance_after: Decimal


class DestructionSummaryOut(Schema):
    id: int
    destroyed_at: dt.datetime
    method: str
    location: str
    performed_by: str
    witnesses: list[WitnessOut]
    note: str
    created_at: dt.datetime


class DestructionOut(DestructionSummaryOut):
    lines: list[DestructionLineOut]


class WasteIn(_In):
    kind: WasteKind
    ndc: str = Field(..., max_length=200)
    quantity: Decimal = Field(..., description="In billing units, more than 0")
    reason: str = Field(..., max_length=500)
    lot_number: str | None = Field(None, max_length=40)
    balance_id: int | None = Field(None, ge=1, le=MAX_ID, description="Stock still held")
    fill_id: int | None = Field(None, ge=1, le=MAX_ID, description="A dispensed fill")
    patient_id: int | None = Field(None, ge=1, le=MAX_ID)
    method: str = Field("", max_length=200, description="How it is disposed of")
    witness: DisposalWitnessIn


class WasteOut(Schema):
    id: int
    kind: str
    kind_label: str
    ndc11: str
    ndc10: str
    name: str
    schedule: str
    lot: str
    quantity: Decimal
    billing_unit: str
    fill_id: int | None
    patient_id: int | None
    move_id: int | None = Field(description="The WASTE move, when stock left the shelf")
    balance_after: Decimal | None
    method: str
    reason: str
    performed_by: str
    witness: WitnessOut
    witnessed_at: dt.datetime | None
    occurred_at: dt.datetime


class DisposalRangeQuery(Schema):
    start: dt.date | None = Field(None, description="First day (default: 30 days before end)")
    end: dt.date | None = Field(None, description="Last day (default: today at the pharmacy)")


class DisposalRegisterQuery(DisposalRangeQuery):
    format: Literal["json", "csv"] = "json"


class DisposalOut(Schema):
    date: dt.date
    at: dt.datetime
    kind: str
    kind_label: str
    record: str
    record_id: int
    ndc: str
    drug: str
    schedule: str
    lot: str
    quantity: Decimal
    unit: str
    who: str
    witnesses: list[str]
    dea_form_222: str
    detail: str


class RegisterOut(Schema):
    start: dt.date
    end: dt.date
    rows: list[DisposalOut]


def _summary(d: Destruction) -> dict[str, Any]:
    return {
        "id": d.pk,
        "destroyed_at": d.destroyed_at,
        "method": d.method,
        "location": d.location,
        "performed_by": d.performer_name,
        "witnesses": [
            {
                "user": d.witness_1.username if d.witness_1 else "",
                "name": d.witness_1_name,
                "factors": d.witness_1_factors,
            },
            {
                "user": d.witness_2.username if d.witness_2 else "",
                "name": d.witness_2_name,
                "factors": d.witness_2_factors,
            },
        ],
        "note": d.note,
        "created_at": d.created_at,
    }


def _destruction(d: Destruction) -> dict[str, Any]:
    return {
        **_summary(d),
        "lines": [
            {
                "id": line.pk,
                "balance_id": line.balance_id,
                "ndc11": line.package.ndc11,
                "ndc10": line.package.ndc10,
                "name": line.package.product.display_name,
                "strength": line.package.product.strength,
                "dosage_form": line.package.product.dosage_form,
                "schedule": line.package.product.dea_schedule,
                "lot": line.lot.number,
                "expiry": line.lot.expiry,
                "package_quantity": line.package.package_quantity,
                "billing_unit": line.package.billing_unit,
                "full_packages": line.full_packages,
                "partial_quantity": line.partial_quantity,
                "quantity": line.quantity,
                "move_id": line.move_id,
                "balance_after": line.move.balance_after if line.move else None,
            }
            for line in queries.destruction_lines(d)
        ],
    }


def _waste(w: Waste) -> dict[str, Any]:
    return {
        "id": w.pk,
        "kind": w.kind,
        "kind_label": w.get_kind_display(),
        "ndc11": w.package.ndc11,
        "ndc10": w.package.ndc10,
        "name": w.package.product.display_name,
        "schedule": w.package.product.dea_schedule,
        "lot": w.lot.number if w.lot is not None else "",
        "quantity": w.quantity,
        "billing_unit": w.package.billing_unit,
        "fill_id": w.fill_id,
        "patient_id": w.patient_id,
        "move_id": w.move_id,
        "balance_after": w.move.balance_after if w.move is not None else None,
        "method": w.method,
        "reason": w.reason,
        "performed_by": w.performer_name,
        "witness": {
            "user": w.witness.username if w.witness is not None else "",
            "name": w.witness_name,
            "factors": w.witness_factors,
        },
        "witnessed_at": w.witnessed_at,
        "occurred_at": w.occurred_at,
    }


# --- Destructions -----------------------------------------------------------------------------


@router.get(
    "/destructions",
    response=list[DestructionSummaryOut],
    auth=_gate(Cap.CS_VIEW),
    summary="Form 41 destruction records, newest first (all, or destroyed between the dates)",
)
def destruction_list(request: HttpRequest, q: Query[DisposalRangeQuery]) -> Any:
    found = queries.destructions(actor=_user(request), start=q.start, end=q.end)
    return [_summary(d) for d in found]


@router.post(
    "/destructions",
    response={201: DestructionOut},
    auth=_gate(Cap.CS_DESTROY),
    summary="Record a destruction on site (DEA Form 41) with two witnesses",
    description="Each line takes stock out of the ledger (a WASTE move naming the first "
    "witness). Both witnesses re-authenticate now; neither may be the caller. All or nothing: "
    "a line with less on hand than destroyed refuses the whole record (409).",
)
def destruction_create(request: HttpRequest, payload: DestructionIn) -> Any:
    actor = _user(request)
    destruction = services.cs_destroy(
        actor=actor,
        destroyed_at=payload.destroyed_at,
        method=payload.method,
        location=payload.location,
        lines=[line.model_dump() for line in payload.lines],
        witnesses=[w.model_dump() for w in payload.witnesses],
        note=payload.note,
    )
    found = queries.destruction_get(actor=actor, destruction_id=destruction.pk)
    return Status(201, _destruction(found))


@router.get(
    "/destructions/{int:destruction_id}",
    response=DestructionOut,
    auth=_gate(Cap.CS_VIEW),
    summary="A Form 41 destruction record with its lines",
)
def destruction_read(request: HttpRequest, destruction_id: int) -> Any:
    return _destruction(
        queries.destruction_get(actor=_user(request), destruction_id=destruction_id)
    )


@router.get(
    "/destructions/{int:destruction_id}/pdf",
    auth=_gate(Cap.CS_VIEW),
    summary="The DEA Form 41 record as a PDF",
    openapi_extra=PDF,
)
def destruction_pdf(request: HttpRequest, destruction_id: int) -> HttpResponse:
    destruction, pdf = queries.form_41_pdf(actor=_user(request), destruction_id=destruction_id)
    return pdf_response(destruction, pdf)


def pdf_response(destruction: Destruction, pdf: bytes) -> HttpResponse:
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="dea-form-41-{destruction.pk}.pdf"'
    response["Cache-Control"] = "private, no-store"
    return response


# --- Waste ------------------------------------------------------------------------------------


@router.get(
    "/waste",
    response=list[WasteOut],
    auth=_gate(Cap.CS_VIEW),
    summary="Witnessed waste and patient returns, newest first",
)
def waste_list(request: HttpRequest, q: Query[DisposalRangeQuery]) -> Any:
    return [_waste(w) for w in queries.wastes(actor=_user(request), start=q.start, end=q.end)]


@router.post(
    "/waste",
    response={201: WasteOut},
    auth=_gate(Cap.CS_WASTE),
    summary="Record a wasted partial dose, a breakage or a patient's return, with a witness",
    description="partial_dose: from stock (balance_id or lot_number: a WASTE move) or from a "
    "dispensed fill (fill_id: recorded only). breakage: from stock. patient_return: recorded "
    "only, never restocked; patient_id or fill_id, and the method of disposal.",
)
def waste_create(request: HttpRequest, payload: WasteIn) -> Any:
    waste = services.cs_waste_record(
        actor=_user(request),
        kind=payload.kind,
        ndc=payload.ndc,
        quantity=payload.quantity,
        reason=payload.reason,
        lot_number=payload.lot_number,
        balance_id=payload.balance_id,
        fill_id=payload.fill_id,
        patient_id=payload.patient_id,
        method=payload.method,
        witness=payload.witness.model_dump(),
    )
    found = Waste.objects.select_related("package__product", "lot", "move", "witness").get(
        pk=waste.pk
    )
    return Status(201, _waste(found))


# --- The disposal register --------------------------------------------------------------------


@router.get(
    "/disposals",
    response=RegisterOut,
    auth=_gate(Cap.CS_VIEW),
    summary="The disposal register: destroyed, shipped to a reverse distributor, wasted",
    openapi_extra=CSV,
)
def disposal_register(request: HttpRequest, q: Query[DisposalRegisterQuery]) -> Any:
    register = queries.disposal_register(actor=_user(request), start=q.start, end=q.end)
    if q.format == "csv":
        response = HttpResponse(queries.register_csv(register), content_type="text/csv")
        name = f"cs-disposals-{register.start.isoformat()}_{register.end.isoformat()}.csv"
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        response["Cache-Control"] = "private, no-store"
        return response
    return {
        "start": register.start,
        "end": register.end,
        "rows": [
            {
                "date": register.day_of(row),
                "at": row.when,
                "kind": row.kind,
                "kind_label": row.kind_label,
                "record": row.record,
                "record_id": row.record_id,
                "ndc": row.ndc,
                "drug": row.drug,
                "schedule": row.schedule,
                "lot": row.lot,
                "quantity": row.quantity,
                "unit": row.unit,
                "who": row.who,
                "witnesses": list(row.witnesses),
                "dea_form_222": row.form_222,
                "detail": row.detail,
            }
            for row in register.rows
        ],
    }
