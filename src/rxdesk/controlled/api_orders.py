"""API of the controlled-substance records: Schedule II order forms (DEA Form 222, CSOS)
and the controlled-substance receipts list. Parse, call a service or query, serialize.

The role is checked before ninja reads the body (cs.view to read, cs.order to record or
void a form); the services check again. Another pharmacy's forms do not exist here (404).
Receiving against a form happens when a delivery is posted (the inventory's receipts)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, Literal

from django.http import HttpRequest, HttpResponse
from ninja import Field, Query, Router, Schema, Status

from rxdesk.controlled import queries_orders as queries
from rxdesk.controlled import services_orders as services
from rxdesk.controlled.choices import OrderDirection, OrderForm, OrderStatus, ScheduleGroup
from rxdesk.core.capabilities import Cap
from rxdesk.core.errors import Invalid
from rxdesk.core.models import User
from rxdesk.rx.api_fills import BearerToken, BrowserSession

router = Router(tags=["controlled substances"])

MAX_ID = 2**63 - 1
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


def _user(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]


class _In(Schema):
    model_config = {"extra": "forbid"}


def renamed(exc: Invalid, names: dict[str, str]) -> Invalid:
    """The service's error with its fields named as the request body names them."""
    return Invalid(
        exc.message,
        errors=[
            {**e, "field": names.get(e.get("field", ""), e.get("field", ""))} for e in exc.errors
        ],
    )


# --- Schemas ---------------------------------------------------------------------------------


class CsOrderLineIn(_In):
    ndc: str = Field(..., max_length=200, description="NDC (any printed form) or a scan")
    packages: int = Field(..., ge=1, le=services.MAX_PACKAGES, description="Containers ordered")


class CsOrderIn(_In):
    form: OrderForm = OrderForm.PAPER_222
    direction: OrderDirection = Field(
        OrderDirection.PURCHASE,
        description="purchase: we order from the supplier; supply: the supplier (a reverse "
        "distributor, a supplier taking a return) issued the form to us and we ship",
    )
    number: str = Field(..., max_length=60, description="Form 222 serial or CSOS order number")
    supplier_id: int = Field(..., ge=1, le=MAX_ID)
    executed_on: dt.date = Field(..., description="The date the form was signed")
    lines: list[CsOrderLineIn] = Field(
        ..., description="In numbered order; 1 to 20 on a paper form, Schedule II only"
    )
    purchase_order_id: int | None = Field(None, ge=1, le=MAX_ID)
    signer_name: str = Field(
        "", max_length=150, description="Registrant or power-of-attorney holder who signed"
    )
    csos_signed_order: str = Field(
        "", max_length=200_000, description="CSOS: the signed electronic order, verbatim"
    )
    note: str = Field("", max_length=500)


class VoidIn(_In):
    reason: str = Field(
        ..., max_length=300, description="The supplier's statement (unaccepted, defective) or lost"
    )


class OrdersQuery(Schema):
    status: OrderStatus | None = Field(
        None, description="expired: open or partly filled past its 60 days"
    )


class ReceiptsQuery(Schema):
    start: dt.date | None = Field(None, description="First day received (default: today)")
    end: dt.date | None = Field(None, description="Last day received (default: the start day)")
    group: ScheduleGroup | None = Field(None, description="II or III-V (default: both)")
    format: Literal["json", "csv"] = "json"


class ReceivedOut(Schema):
    packages: int
    received_on: dt.date
    receipt_id: int | None
    receipt_line_id: int | None
    vendor_return_id: int | None
    vendor_return_line_id: int | None
    recorded_by: str


class CsOrderLineOut(Schema):
    line_no: int
    ndc11: str
    ndc10: str
    drug: str
    strength: str
    dosage_form: str
    units_per_container: Decimal
    packages_ordered: int
    packages_received: int = Field(description="purchase: received; supply: shipped")
    last_received_on: dt.date | None


class CsOrderOut(Schema):
    id: int
    form: str
    direction: str
    number: str
    supplier_id: int
    supplier: str
    supplier_dea: str
    executed_on: dt.date
    expires_on: dt.date = Field(description="The last day anything may be received (60 days)")
    status: str = Field(description="open, partial, complete, expired or void")
    status_label: str
    signer_name: str
    purchase_order_id: int | None
    vendor_return_id: int | None
    void_reason: str
    note: str
    packages_ordered: int
    packages_received: int
    created_by: str
    created_at: dt.datetime


class OrderDetailOut(CsOrderOut):
    csos_signed_order: str
    lines: list[CsOrderLineOut]
    received: list[ReceivedOut]


class CsReceiptLineOut(Schema):
    receipt_id: int
    line_id: int
    received_on: dt.date = Field(description="The day the delivery was posted, at the pharmacy")
    schedule: str
    group: str
    supplier: str
    supplier_address: str
    supplier_dea: str
    invoice_number: str
    no_invoice: bool = Field(description="Flagged: a controlled receipt with no invoice number")
    ndc10: str
    ndc11: str
    drug: str
    strength: str
    dosage_form: str
    units_per_container: Decimal
    lot: str
    containers: int = Field(description="Containers that entered stock (received − damaged)")
    damaged: int
    dea_order_number: str = Field(description="Schedule II: the Form 222 / CSOS number")
    order_id: int | None


class ReceiptsOut(Schema):
    start: dt.date
    end: dt.date
    lines: list[CsReceiptLineOut]


def _order(row: queries.OrderRow) -> dict[str, Any]:
    order = row.order
    return {
        "id": order.pk,
        "form": order.form,
        "direction": order.direction,
        "number": order.number,
        "supplier_id": order.supplier_id,
        "supplier": order.supplier.name,
        "supplier_dea": order.supplier.dea_number,
        "executed_on": order.executed_on,
        "expires_on": row.expires_on,
        "status": row.status,
        "status_label": row.status_label,
        "signer_name": order.signer_name,
        "purchase_order_id": order.purchase_order_id,
        "vendor_return_id": order.vendor_return_id,
        "void_reason": order.void_reason,
        "note": order.note,
        "packages_ordered": row.packages_ordered,
        "packages_received": row.packages_received,
        "created_by": order.created_by.username if order.created_by else "",
        "created_at": order.created_at,
    }


def _detail(actor: User, order_id: int) -> dict[str, Any]:
    row = queries.order_get(actor=actor, order_id=order_id)
    order = row.order
    return {
        **_order(row),
        "csos_signed_order": order.csos_signed_order,
        "lines": [
            {
                "line_no": line.line_no,
                "ndc11": line.package.ndc11,
                "ndc10": line.package.ndc10,
                "drug": line.package.product.display_name,
                "strength": line.package.product.strength,
                "dosage_form": line.package.product.dosage_form,
                "units_per_container": line.package.package_quantity,
                "packages_ordered": line.packages_ordered,
                "packages_received": line.packages_received,
                "last_received_on": line.last_received_on,
            }
            for line in order.lines.all()
        ],
        "received": [
            {
                "packages": r.packages,
                "received_on": r.received_on,
                "receipt_id": r.receipt_line.receipt_id if r.receipt_line else None,
                "receipt_line_id": r.receipt_line_id,
                "vendor_return_id": r.vendor_return_line.vendor_return_id
                if r.vendor_return_line
                else None,
                "vendor_return_line_id": r.vendor_return_line_id,
                "recorded_by": r.recorded_by.username if r.recorded_by else "system",
            }
            for r in queries.order_receipts(order)
        ],
    }


# --- Operations ------------------------------------------------------------------------------


@router.get(
    "/orders",
    response=list[CsOrderOut],
    auth=_gate(Cap.CS_VIEW),
    summary="Schedule II order forms (Form 222, CSOS), newest first",
)
def order_list(request: HttpRequest, q: Query[OrdersQuery]) -> Any:
    return [_order(row) for row in queries.orders(actor=_user(request), status=q.status)]


@router.post(
    "/orders",
    response={201: OrderDetailOut},
    auth=_gate(Cap.CS_ORDER),
    summary="Record an executed Form 222 or CSOS order",
    description="Every line a Schedule II package (a Schedule III–V line is refused: those "
    "are ordered on an ordinary purchase order); 1 to 20 lines on a paper form, one item per "
    "line; the supplier carries a DEA registration; the number is unique here (409).",
)
def order_create(request: HttpRequest, payload: CsOrderIn) -> Any:
    actor = _user(request)
    try:
        order = _create(actor, payload)
    except Invalid as exc:
        raise renamed(
            exc, {"supplier": "supplier_id", "purchase_order": "purchase_order_id"}
        ) from None
    return Status(201, _detail(actor, order.pk))


def _create(actor: User, payload: CsOrderIn) -> Any:
    return services.form222_create(
        actor=actor,
        form=payload.form,
        direction=payload.direction,
        number=payload.number,
        supplier=payload.supplier_id,
        executed_on=payload.executed_on,
        lines=[line.model_dump() for line in payload.lines],
        purchase_order=payload.purchase_order_id,
        signer_name=payload.signer_name,
        csos_signed_order=payload.csos_signed_order,
        note=payload.note,
    )


@router.get(
    "/orders/{int:order_id}",
    response=OrderDetailOut,
    auth=_gate(Cap.CS_VIEW),
    summary="One order form: its lines and what was received on each, by date",
)
def order_read(request: HttpRequest, order_id: int) -> Any:
    return _detail(_user(request), order_id)


@router.post(
    "/orders/{int:order_id}/void",
    response=OrderDetailOut,
    auth=_gate(Cap.CS_ORDER),
    summary="Void a form returned unaccepted or defective, or lost (the statement is kept)",
    description="409 once containers were received on it, or when it is void already.",
)
def order_void(request: HttpRequest, order_id: int, payload: VoidIn) -> Any:
    actor = _user(request)
    row = queries.order_get(actor=actor, order_id=order_id)
    services.form222_void(actor=actor, order=row.order, reason=payload.reason)
    return _detail(actor, order_id)


@router.get(
    "/receipts",
    response=ReceiptsOut,
    auth=_gate(Cap.CS_VIEW),
    summary="Controlled-substance receipts: supplier, DEA number, invoice, date received",
    description="Every controlled line of the deliveries posted in the range; Schedule II "
    "lines with their Form 222 / CSOS number; lines without an invoice number flagged.",
    openapi_extra=CSV,
)
def receipt_list(request: HttpRequest, q: Query[ReceiptsQuery]) -> Any:
    start, end, rows = queries.cs_receipts(
        actor=_user(request), start=q.start, end=q.end, group=q.group
    )
    if q.format == "csv":
        days = start.isoformat() if start == end else f"{start.isoformat()}_{end.isoformat()}"
        response = HttpResponse(
            queries.cs_receipts_csv(rows), content_type="text/csv; charset=utf-8"
        )
        response["Content-Disposition"] = f'attachment; filename="cs-receipts-{days}.csv"'
        response["Cache-Control"] = "private, no-store"
        return response
    return {
        "start": start,
        "end": end,
        "lines": [
            {
                "receipt_id": r.receipt_id,
                "line_id": r.line_id,
                "received_on": r.received_on,
                "schedule": r.schedule,
                "group": r.group,
                "supplier": r.supplier,
                "supplier_address": r.supplier_address,
                "supplier_dea": r.supplier_dea,
                "invoice_number": r.invoice_number,
                "no_invoice": r.no_invoice,
                "ndc10": r.ndc10,
                "ndc11": r.ndc11,
                "drug": r.drug,
                "strength": r.strength,
                "dosage_form": r.dosage_form,
                "units_per_container": r.units_per_container,
                "lot": r.lot,
                "containers": r.containers,
                "damaged": r.damaged,
                "dea_order_number": r.dea_order_number,
                "order_id": r.order_id,
            }
            for r in rows
        ],
    }
