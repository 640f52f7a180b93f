"""API: recalls. Parse, call a service or query, serialize.

Paths under /api/v1/inventory/recalls: the list, entering a recall (by hand or from an
openFDA enforcement record), one recall with its stock, the patients who received an
affected lot, their letters (PDF), resolving quarantined stock, closing."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, Literal

from django.http import HttpRequest, HttpResponse
from ninja import Body, Field, Query, Router, Schema, Status

from rxdesk.core.errors import NotFound
from rxdesk.inventory import queries_recalls as queries
from rxdesk.inventory.choices import LotStatus, RecallClass, RecallStatus
from rxdesk.inventory.models import Recall, RecallStock
from rxdesk.inventory.services import recalls as services

router = Router(tags=["inventory"])


def _user(request: HttpRequest) -> Any:
    return request.user


class _In(Schema):
    model_config = {"extra": "forbid"}


# --- Output ------------------------------------------------------------------------------


class RecallSummary(Schema):
    id: int
    recall_number: str
    classification: RecallClass
    recall_date: dt.date
    firm: str
    status: RecallStatus
    source: str
    item_count: int = Field(description="Packages (and lots) the recall names")
    stock_here: int = Field(description="Balances of the caller's site it quarantined")


class RecallItemOut(Schema):
    ndc: str = Field(description="As printed on the package")
    ndc11: str
    product: str
    lot_number: str = Field(description="Blank: every lot")


class RecallStockOut(Schema):
    id: int
    ndc: str
    lot_number: str
    expiry: dt.date | None
    location: str
    quantity_at_quarantine: Decimal
    on_hand: Decimal
    status: LotStatus
    quarantined_at: dt.datetime
    resolved_at: dt.datetime | None
    resolution: str

    @staticmethod
    def resolve_ndc(obj: RecallStock) -> str:
        return obj.balance.package.ndc10

    @staticmethod
    def resolve_lot_number(obj: RecallStock) -> str:
        return obj.balance.lot.number

    @staticmethod
    def resolve_expiry(obj: RecallStock) -> dt.date | None:
        return obj.balance.lot.expiry

    @staticmethod
    def resolve_location(obj: RecallStock) -> str:
        return obj.balance.location.code if obj.balance.location else ""

    @staticmethod
    def resolve_on_hand(obj: RecallStock) -> Decimal:
        return obj.balance.on_hand

    @staticmethod
    def resolve_status(obj: RecallStock) -> str:
        return obj.balance.status


class SiteStockOut(Schema):
    site_id: int
    site_name: str
    balances: int
    quantity: Decimal = Field(description="Quantity at quarantine, all lots")
    on_hand: Decimal
    resolved: int
    outstanding: int = Field(description="Balances still holding stock with no resolution")


class RecallOut(Schema):
    id: int
    recall_number: str
    classification: RecallClass
    reason: str
    recall_date: dt.date
    firm: str
    status: RecallStatus
    source: str
    entered_at_site: int
    entered_at: dt.datetime
    closed_at: dt.datetime | None
    closing_note: str
    items: list[RecallItemOut]
    stock: list[RecallStockOut] = Field(description="The caller's site's quarantined stock")
    sites: list[SiteStockOut] = Field(description="Counts per site")


def _recall_out(request: HttpRequest, recall: Recall) -> dict[str, Any]:
    actor = _user(request)
    return {
        "id": recall.pk,
        "recall_number": recall.recall_number,
        "classification": recall.classification,
        "reason": recall.reason,
        "recall_date": recall.recall_date,
        "firm": recall.firm,
        "status": recall.status,
        "source": recall.source,
        "entered_at_site": recall.entered_at_site_id,
        "entered_at": recall.entered_at,
        "closed_at": recall.closed_at,
        "closing_note": recall.closing_note,
        "items": [
            {
                "ndc": item.package.ndc10,
                "ndc11": item.package.ndc11,
                "product": item.package.product.name,
                "lot_number": item.lot_number,
            }
            for item in queries.recall_items(recall)
        ],
        "stock": queries.recall_stock_here(actor=actor, recall=recall),
        "sites": queries.recall_sites(actor=actor, recall=recall),
    }


# --- Recalls ---------------------------------------------------------------------------------


class RecallFilter(Schema):
    status: RecallStatus | Literal[""] = ""


@router.get("/recalls", response=list[RecallSummary], summary="Recalls, newest first")
def recall_list(request: HttpRequest, filters: Query[RecallFilter]) -> Any:
    return list(queries.recall_list(actor=_user(request), status=filters.status))


class RecallItemIn(_In):
    ndc: str = Field(min_length=1, max_length=60, description="NDC in any printed form, or a scan")
    lot_number: str = Field("", max_length=40, description="Blank: every lot")


class RecallIn(_In):
    classification: RecallClass
    reason: str = Field(min_length=1, max_length=4000)
    recall_date: dt.date
    recall_number: str = Field("", max_length=30, description="FDA recall number, e.g. D-0123-2025")
    firm: str = Field("", max_length=200)
    items: list[RecallItemIn] = Field(min_length=1, max_length=500)


@router.post(
    "/recalls",
    response={201: RecallOut},
    summary="Enter a recall: matching stock at every site is quarantined at once",
)
def recall_create(request: HttpRequest, payload: RecallIn) -> Any:
    recall = services.recall_create(
        actor=_user(request),
        classification=payload.classification,
        reason=payload.reason,
        recall_date=payload.recall_date,
        recall_number=payload.recall_number,
        firm=payload.firm,
        items=[item.model_dump() for item in payload.items],
    )
    return Status(201, _recall_out(request, recall))


class ImportOut(Schema):
    recall: RecallOut
    ndcs_not_in_catalog: list[str]
    lots: list[str] = Field(description="Lot numbers read from code_info")
    all_lots: bool = Field(description="No lot could be read with confidence: every lot recalled")
    notes: list[str]


@router.post(
    "/recalls/import-openfda",
    response={201: ImportOut},
    summary="Enter a recall from one openFDA drug enforcement record",
    description=(
        "The body is one record of https://api.fda.gov/drug/enforcement.json as it comes, "
        "or the API's response holding exactly one record in `results`."
    ),
)
def recall_import(request: HttpRequest, record: dict[str, Any] = Body(...)) -> Any:  # noqa: B008
    result = services.recall_import_openfda(actor=_user(request), record=record)
    return Status(
        201,
        {
            "recall": _recall_out(request, result.recall),
            "ndcs_not_in_catalog": result.ndcs_not_in_catalog,
            "lots": result.lots,
            "all_lots": result.all_lots,
            "notes": result.notes,
        },
    )


@router.get("/recalls/{int:recall_id}", response=RecallOut, summary="A recall and its stock")
def recall_get(request: HttpRequest, recall_id: int) -> Any:
    recall = queries.recall_for(actor=_user(request), recall_id=recall_id)
    return _recall_out(request, recall)


class DispensingOut(Schema):
    move_id: int
    occurred_at: dt.datetime
    quantity: Decimal
    reference_type: str = Field(description="What the move belongs to, e.g. fill")
    reference_id: str


class AffectedPatientOut(Schema):
    patient_id: int
    first_name: str
    last_name: str
    date_of_birth: dt.date
    phone: str
    ndc: str
    lot_number: str
    dispensed: Decimal
    returned: Decimal
    net_quantity: Decimal = Field(description="Dispensed less returned to stock")
    first_dispensed_at: dt.datetime
    last_dispensed_at: dt.datetime
    dispensings: list[DispensingOut]


@router.get(
    "/recalls/{int:recall_id}/patients",
    response=list[AffectedPatientOut],
    summary="Patients of this site who received an affected lot",
)
def recall_patients(request: HttpRequest, recall_id: int) -> Any:
    actor = _user(request)
    recall = queries.recall_for(actor=actor, recall_id=recall_id)
    return [
        {
            "patient_id": row.patient.pk,
            "first_name": row.patient.first_name,
            "last_name": row.patient.last_name,
            "date_of_birth": row.patient.date_of_birth,
            "phone": row.patient.phone_mobile or row.patient.phone_home,
            "ndc": row.lot.package.ndc10,
            "lot_number": row.lot.number,
            "dispensed": row.dispensed,
            "returned": row.returned,
            "net_quantity": row.net,
            "first_dispensed_at": row.first_dispensed_at,
            "last_dispensed_at": row.last_dispensed_at,
            "dispensings": [d.__dict__ for d in row.dispensings],
        }
        for row in queries.recall_patients(actor=actor, recall=recall)
    ]


@router.get(
    "/recalls/{int:recall_id}/letters",
    response={200: None},
    summary="Patient notification letters (PDF, one letter per patient; audited)",
    openapi_extra={"responses": {200: {"description": "PDF", "content": {"application/pdf": {}}}}},
)
def recall_letters(request: HttpRequest, recall_id: int) -> Any:
    actor = _user(request)
    recall = queries.recall_for(actor=actor, recall_id=recall_id)
    pdf = services.recall_letters_print(actor=actor, recall=recall)
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="{services.letters_filename(recall)}"'
    return response


class RecallResolveIn(_In):
    resolution: str = Field(
        min_length=1,
        max_length=200,
        description="What became of the stock: returned to vendor, destroyed, none found…",
    )


@router.post(
    "/recalls/{int:recall_id}/stock/{int:stock_id}/resolve",
    response=RecallStockOut,
    summary="Record what became of one quarantined lot at this site",
)
def recall_stock_resolve(
    request: HttpRequest, recall_id: int, stock_id: int, payload: RecallResolveIn
) -> Any:
    actor = _user(request)
    recall = queries.recall_for(actor=actor, recall_id=recall_id)
    row = RecallStock.objects.filter(recall=recall, pk=stock_id).first()
    if row is None:
        raise NotFound("No such recalled stock.")
    services.recall_stock_resolve(actor=actor, recall_stock=row, resolution=payload.resolution)
    return (
        RecallStock.objects.select_related("balance__lot", "balance__package", "balance__location")
        .filter(pk=row.pk)
        .get()
    )


class RecallCloseIn(_In):
    closing_note: str = Field(min_length=1, max_length=4000)


@router.post(
    "/recalls/{int:recall_id}/close",
    response=RecallOut,
    summary="Close a recall once all quarantined stock is accounted for",
)
def recall_close(request: HttpRequest, recall_id: int, payload: RecallCloseIn) -> Any:
    actor = _user(request)
    recall = queries.recall_for(actor=actor, recall_id=recall_id)
    closed = services.recall_close(actor=actor, recall=recall, closing_note=payload.closing_note)
    return _recall_out(request, closed)
