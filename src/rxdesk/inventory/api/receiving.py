"""API: ordering and receiving — suppliers, par levels, suggested orders, purchase orders
(with the supplier order file), receipts (scan, type or import an invoice, then post) and
delivery discrepancies. Parse, call a service or query, serialize.

Orders and receipts count whole packages; par levels and stock quantities are decimal
strings in the package's billing unit, which each object names in ``unit``."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, Literal

from django.http import HttpRequest, HttpResponse
from ninja import Field, Query, Router, Schema, Status

from rxdesk.catalog.choices import BillingUnit, DeaSchedule
from rxdesk.catalog.models import Package
from rxdesk.core.errors import NotFound
from rxdesk.inventory import queries_ordering as queries
from rxdesk.inventory.choices import (
    AbcClass,
    DiscrepancyKind,
    DiscrepancyStatus,
    PurchaseOrderStatus,
    ReceiptStatus,
)
from rxdesk.inventory.invoice import MAX_TEXT
from rxdesk.inventory.models import (
    Discrepancy,
    ParLevel,
    PurchaseOrder,
    PurchaseOrderLine,
    Receipt,
    ReceiptLine,
)
from rxdesk.inventory.services import ordering, receiving

router = Router(tags=["inventory"])

MAX_PACKAGES = ordering.MAX_PACKAGES


def _user(request: HttpRequest) -> Any:
    return request.user


class _In(Schema):
    model_config = {"extra": "forbid"}


# --- Output -------------------------------------------------------------------------------


class SupplierOut(Schema):
    id: int
    name: str
    account_number: str = Field(description="The pharmacy's account number at this supplier")
    dea_number: str = Field(description="The supplier's DEA registration ('' if none)")
    reverse_distributor: bool
    phone: str
    email: str
    active: bool


class PackageRef(Schema):
    """The package a line is for, as a buyer tells look-alikes apart."""

    package_id: int
    ndc11: str
    ndc10: str
    name: str = Field(description="Tall-man name where one applies, else the brand name")
    strength: str
    dosage_form: str
    package_description: str
    package_quantity: Decimal = Field(description="Billing units in one package")
    unit: BillingUnit
    dea_schedule: DeaSchedule | None


def _package(package: Package) -> dict[str, Any]:
    product = package.product
    return {
        "package_id": package.pk,
        "ndc11": package.ndc11,
        "ndc10": package.ndc10,
        "name": product.display_name,
        "strength": product.strength,
        "dosage_form": product.dosage_form,
        "package_description": package.description,
        "package_quantity": package.package_quantity,
        "unit": package.billing_unit,
        "dea_schedule": product.dea_schedule or None,
    }


class ParLevelOut(Schema):
    id: int
    package: PackageRef
    minimum: Decimal = Field(description="Reorder at or below this (billing units)")
    maximum: Decimal = Field(description="Order up to this: the par (billing units)")
    abc_class: str
    location: str | None = Field(description="Home storage location code")
    preferred_supplier_id: int | None
    preferred_supplier: str | None


def _par(par: ParLevel) -> dict[str, Any]:
    return {
        "id": par.pk,
        "package": _package(par.package),
        "minimum": par.minimum,
        "maximum": par.maximum,
        "abc_class": par.abc_class,
        "location": par.location.code if par.location else None,
        "preferred_supplier_id": par.preferred_supplier_id,
        "preferred_supplier": par.preferred_supplier.name if par.preferred_supplier else None,
    }


class ReorderSuggestionOut(Schema):
    package: PackageRef
    supplier_id: int | None = Field(description="The package's preferred supplier, if any")
    supplier: str | None
    on_hand: Decimal = Field(description="Available, in-date stock (billing units)")
    on_order: Decimal = Field(description="Ordered and not yet received (billing units)")
    minimum: Decimal
    maximum: Decimal
    usage: Decimal = Field(description="Dispensed, net of returns to stock, in the window")
    daily_usage: Decimal
    days_left: Decimal | None = Field(description="On hand ÷ daily usage; null without usage")
    packages: int = Field(description="Whole packages to order")
    reason: Literal["minimum", "usage"]
    explanation: str = Field(examples=["12 on hand, min 30, par 90, uses 4/day …"])


class OrderLineOut(Schema):
    id: int
    package: PackageRef
    packages_ordered: int
    packages_received: int = Field(description="Good packages received so far")
    unit_cost: Decimal | None
    dea_order_number: str = Field(description="DEA Form 222 / CSOS order number")


class OrderSummary(Schema):
    id: int
    number: str = Field(examples=["PO-000001"])
    status: PurchaseOrderStatus
    supplier_id: int
    supplier: str
    created_by: str
    created_at: dt.datetime
    sent_at: dt.datetime | None
    closed_at: dt.datetime | None
    note: str
    line_count: int
    packages: int


class OrderOut(OrderSummary):
    lines: list[OrderLineOut]


def _order(order: PurchaseOrder, *, lines: bool) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": order.pk,
        "number": order.number,
        "status": order.status,
        "supplier_id": order.supplier_id,
        "supplier": order.supplier.name,
        "created_by": order.created_by.username if order.created_by else "",
        "created_at": order.created_at,
        "sent_at": order.sent_at,
        "closed_at": order.closed_at,
        "note": order.note,
        "line_count": getattr(order, "line_count", 0),
        "packages": getattr(order, "packages", 0) or 0,
    }
    if lines:
        found: list[PurchaseOrderLine] = list(order.lines.all())
        out["line_count"] = len(found)
        out["packages"] = sum(line.packages_ordered for line in found)
        out["lines"] = [
            {
                "id": line.pk,
                "package": _package(line.package),
                "packages_ordered": line.packages_ordered,
                "packages_received": line.packages_received,
                "unit_cost": line.unit_cost,
                "dea_order_number": line.dea_order_number,
            }
            for line in found
        ]
    return out


class ReceiptLineOut(Schema):
    id: int
    package: PackageRef
    lot_id: int | None
    lot_number: str = Field(description="'' for an invoice line not checked in yet")
    expiry: dt.date | None
    serials: list[str] = Field(description="DSCSA serial numbers scanned")
    packages_invoiced: int
    packages_received: int
    packages_damaged: int = Field(description="Counted among those received")
    unit_cost: Decimal | None
    location: str | None
    dea_order_number: str
    order_line_id: int | None = Field(description="The purchase-order line it fills")


class ReceivingDiscrepancyOut(Schema):
    id: int
    receipt_id: int
    receipt_line_id: int | None
    supplier: str
    invoice_number: str
    package: PackageRef | None
    kind: DiscrepancyKind
    packages: int
    note: str
    status: DiscrepancyStatus
    follow_up: str = Field(description="Follow-up notes, one per line, each with when and who")
    credit_expected: Decimal | None
    credit_received: Decimal | None
    opened_by: str
    opened_at: dt.datetime
    resolved_at: dt.datetime | None


class ReceiptSummary(Schema):
    id: int
    status: ReceiptStatus
    supplier_id: int
    supplier: str
    purchase_order_id: int | None
    purchase_order_number: str | None
    invoice_number: str
    shipment_date: dt.date | None
    dscsa_transaction_info: str = Field(description="DSCSA transaction information (TI)")
    dscsa_statement_received: bool = Field(description="The seller's transaction statement")
    received_by: str
    created_at: dt.datetime
    posted_at: dt.datetime | None
    note: str
    line_count: int
    packages: int = Field(description="Packages received so far")


class ReceiptOut(ReceiptSummary):
    lines: list[ReceiptLineOut]
    discrepancies: list[ReceivingDiscrepancyOut]


def _line(line: ReceiptLine) -> dict[str, Any]:
    return {
        "id": line.pk,
        "package": _package(line.package),
        "lot_id": line.lot_id,
        "lot_number": line.lot_number,
        "expiry": line.expiry,
        "serials": [s for s in line.serials.splitlines() if s],
        "packages_invoiced": line.packages_invoiced,
        "packages_received": line.packages_received,
        "packages_damaged": line.packages_damaged,
        "unit_cost": line.unit_cost,
        "location": line.location.code if line.location else None,
        "dea_order_number": line.dea_order_number,
        "order_line_id": line.order_line_id,
    }


def _discrepancy(found: Discrepancy, receipt: Receipt | None = None) -> dict[str, Any]:
    of = receipt or found.receipt
    return {
        "id": found.pk,
        "receipt_id": found.receipt_id,
        "receipt_line_id": found.receipt_line_id,
        "supplier": of.supplier.name,
        "invoice_number": of.invoice_number,
        "package": _package(found.package) if found.package else None,
        "kind": found.kind,
        "packages": found.packages,
        "note": found.note,
        "status": found.status,
        "follow_up": found.follow_up,
        "credit_expected": found.credit_expected,
        "credit_received": found.credit_received,
        "opened_by": found.opened_by.username if found.opened_by else "",
        "opened_at": found.opened_at,
        "resolved_at": found.resolved_at,
    }


def _receipt(receipt: Receipt, *, lines: bool) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": receipt.pk,
        "status": receipt.status,
        "supplier_id": receipt.supplier_id,
        "supplier": receipt.supplier.name,
        "purchase_order_id": receipt.purchase_order_id,
        "purchase_order_number": receipt.purchase_order.number if receipt.purchase_order else None,
        "invoice_number": receipt.invoice_number,
        "shipment_date": receipt.shipment_date,
        "dscsa_transaction_info": receipt.dscsa_transaction_info,
        "dscsa_statement_received": receipt.dscsa_statement_received,
        "received_by": receipt.received_by.username if receipt.received_by else "",
        "created_at": receipt.created_at,
        "posted_at": receipt.posted_at,
        "note": receipt.note,
        "line_count": getattr(receipt, "line_count", 0),
        "packages": getattr(receipt, "packages", 0) or 0,
    }
    if lines:
        found = list(receipt.lines.all())
        out["line_count"] = len(found)
        out["packages"] = sum(line.packages_received for line in found)
        out["lines"] = [_line(line) for line in found]
        out["discrepancies"] = [_discrepancy(d, receipt) for d in receipt.discrepancies.all()]
    return out


# --- Suppliers ----------------------------------------------------------------------------


class SupplierFilters(Schema):
    include_inactive: bool = False


@router.get("/suppliers", response=list[SupplierOut], summary="Suppliers of this pharmacy")
def supplier_list(request: HttpRequest, filters: Query[SupplierFilters]) -> Any:
    return list(queries.supplier_list(actor=_user(request), **filters.model_dump()))


class SupplierIn(_In):
    name: str = Field(min_length=1, max_length=120)
    account_number: str = Field("", max_length=40)
    dea_number: str = Field("", max_length=12, description="Checksum-validated when given")
    reverse_distributor: bool = False
    phone: str = Field("", max_length=20)
    email: str = Field("", max_length=254)
    active: bool = True


@router.post("/suppliers", response={201: SupplierOut}, summary="Add a supplier")
def supplier_create(request: HttpRequest, payload: SupplierIn) -> Any:
    return Status(201, ordering.supplier_create(actor=_user(request), **payload.model_dump()))


class SupplierPatch(_In):
    name: str | None = Field(None, min_length=1, max_length=120)
    account_number: str | None = Field(None, max_length=40)
    dea_number: str | None = Field(None, max_length=12)
    reverse_distributor: bool | None = None
    phone: str | None = Field(None, max_length=20)
    email: str | None = Field(None, max_length=254)
    active: bool | None = None


@router.patch(
    "/suppliers/{int:supplier_id}", response=SupplierOut, summary="Change a supplier's record"
)
def supplier_patch(request: HttpRequest, supplier_id: int, payload: SupplierPatch) -> Any:
    actor = _user(request)
    vendor = queries.supplier_for(actor=actor, supplier_id=supplier_id)
    changes = {k: v for k, v in payload.model_dump(exclude_unset=True).items() if v is not None}
    return ordering.supplier_update(actor=actor, supplier=vendor, **changes)


# --- Par levels ---------------------------------------------------------------------------


@router.get("/par-levels", response=list[ParLevelOut], summary="Par (min/max) levels")
def par_level_list(request: HttpRequest) -> Any:
    return [_par(p) for p in queries.par_level_list(actor=_user(request))]


class ParLevelIn(_In):
    minimum: Decimal = Field(ge=0, description="Reorder at or below this, in billing units")
    maximum: Decimal = Field(ge=0, description="Order up to this (the par), in billing units")
    abc_class: AbcClass | Literal[""] = ""
    location: str = Field("", max_length=30, description="Home storage location code")
    preferred_supplier_id: int | None = None


@router.put(
    "/par-levels/{ndc}",
    response=ParLevelOut,
    summary="Set one package's par level (created or replaced)",
    description="`ndc`: the NDC in any printed form (11 digits, or 10 with hyphens).",
)
def par_level_put(request: HttpRequest, ndc: str, payload: ParLevelIn) -> Any:
    actor = _user(request)
    values = payload.model_dump()
    par = ordering.par_level_set(
        actor=actor,
        ndc=ndc[:40],
        minimum=values["minimum"],
        maximum=values["maximum"],
        abc_class=values["abc_class"],
        location=values["location"] or None,
        preferred_supplier=values["preferred_supplier_id"],
    )
    return _par(queries.par_level_for(actor=actor, package=par.package))


# --- Suggested orders ---------------------------------------------------------------------


class SuggestionFilters(Schema):
    days: int = Field(queries.DEFAULT_USAGE_DAYS, ge=1, le=queries.MAX_USAGE_DAYS)
    review_days: int = Field(queries.DEFAULT_REVIEW_DAYS, ge=1, le=queries.MAX_REVIEW_DAYS)
    supplier_id: int | None = Field(
        None, description="Only packages this supplier is preferred for (or that name none)"
    )


@router.get(
    "/order-suggestions",
    response=list[ReorderSuggestionOut],
    summary="What to order now, from par levels and recent usage",
    description=(
        "A package is suggested when on hand (available, in-date lots) plus on order (open "
        "purchase-order lines) is at or below its minimum, or when usage over the last "
        "`days` (dispensed net of returns to stock) empties it within `review_days`. The "
        "suggestion is whole packages up to the par."
    ),
)
def order_suggestions(request: HttpRequest, filters: Query[SuggestionFilters]) -> Any:
    actor = _user(request)
    vendor = None
    if filters.supplier_id is not None:
        vendor = queries.supplier_for(actor=actor, supplier_id=filters.supplier_id)
    found = queries.order_suggestions(
        actor=actor, days=filters.days, review_days=filters.review_days, supplier=vendor
    )
    return [
        {
            "package": _package(s.package),
            "supplier_id": s.supplier.pk if s.supplier else None,
            "supplier": s.supplier.name if s.supplier else None,
            "on_hand": s.on_hand,
            "on_order": s.on_order,
            "minimum": s.par.minimum,
            "maximum": s.par.maximum,
            "usage": s.usage,
            "daily_usage": s.daily_usage,
            "days_left": s.days_left,
            "packages": s.packages,
            "reason": s.reason,
            "explanation": s.explanation,
        }
        for s in found
    ]


# --- Purchase orders ----------------------------------------------------------------------


class OrderFilters(Schema):
    status: PurchaseOrderStatus | None = None


@router.get("/purchase-orders", response=list[OrderSummary], summary="Purchase orders")
def purchase_order_list(request: HttpRequest, filters: Query[OrderFilters]) -> Any:
    found = queries.purchase_order_list(actor=_user(request), status=filters.status or "")
    return [_order(o, lines=False) for o in found[:500]]


class OrderLineIn(_In):
    ndc: str = Field(min_length=1, max_length=200, description="NDC in any form, or a scan")
    packages: int = Field(ge=1, le=MAX_PACKAGES, description="Whole packages")
    unit_cost: Decimal | None = Field(None, ge=0, max_digits=12, decimal_places=2)
    dea_order_number: str = Field("", max_length=40, description="Schedule II: 222 / CSOS")


class OrderIn(_In):
    supplier_id: int
    note: str = Field("", max_length=500)
    lines: list[OrderLineIn] = Field(default_factory=list, max_length=500)


def _order_out(request: HttpRequest, order_id: int) -> dict[str, Any]:
    return _order(queries.purchase_order_for(actor=_user(request), order_id=order_id), lines=True)


@router.post("/purchase-orders", response={201: OrderOut}, summary="Draft a purchase order")
def purchase_order_create(request: HttpRequest, payload: OrderIn) -> Any:
    order = ordering.purchase_order_create(
        actor=_user(request),
        supplier=payload.supplier_id,
        note=payload.note,
        lines=[line.model_dump() for line in payload.lines],
    )
    return Status(201, _order_out(request, order.pk))


class FromSuggestionsIn(_In):
    supplier_id: int
    days: int = Field(queries.DEFAULT_USAGE_DAYS, ge=1, le=queries.MAX_USAGE_DAYS)
    review_days: int = Field(queries.DEFAULT_REVIEW_DAYS, ge=1, le=queries.MAX_REVIEW_DAYS)


@router.post(
    "/purchase-orders/from-suggestions",
    response={201: OrderOut},
    summary="Draft an order to a supplier from today's suggested orders",
)
def purchase_order_from_suggestions(request: HttpRequest, payload: FromSuggestionsIn) -> Any:
    order = ordering.purchase_order_from_suggestions(
        actor=_user(request),
        supplier=payload.supplier_id,
        days=payload.days,
        review_days=payload.review_days,
    )
    return Status(201, _order_out(request, order.pk))


@router.get(
    "/purchase-orders/{int:order_id}", response=OrderOut, summary="A purchase order and its lines"
)
def purchase_order_get(request: HttpRequest, order_id: int) -> Any:
    return _order_out(request, order_id)


@router.post(
    "/purchase-orders/{int:order_id}/lines",
    response={201: OrderOut},
    summary="Add packages to a draft order (the same NDC again adds to its line)",
)
def purchase_order_line_add(request: HttpRequest, order_id: int, payload: OrderLineIn) -> Any:
    actor = _user(request)
    order = queries.purchase_order_for(actor=actor, order_id=order_id)
    ordering.purchase_order_line_add(actor=actor, order=order, **payload.model_dump())
    return Status(201, _order_out(request, order_id))


def _order_line(request: HttpRequest, order_id: int, line_id: int) -> PurchaseOrderLine:
    order = queries.purchase_order_for(actor=_user(request), order_id=order_id)
    line = next((x for x in order.lines.all() if x.pk == line_id), None)
    if line is None:
        raise NotFound("No such line on this order.")
    return line


class OrderLinePatch(_In):
    packages: int | None = Field(None, ge=1, le=MAX_PACKAGES)
    unit_cost: Decimal | None = Field(
        None, ge=0, max_digits=12, decimal_places=2, description="null clears it"
    )
    dea_order_number: str | None = Field(None, max_length=40)


@router.patch(
    "/purchase-orders/{int:order_id}/lines/{int:line_id}",
    response=OrderOut,
    summary="Change a draft order's line",
)
def purchase_order_line_patch(
    request: HttpRequest, order_id: int, line_id: int, payload: OrderLinePatch
) -> Any:
    line = _order_line(request, order_id, line_id)
    changes = payload.model_dump(exclude_unset=True)
    if changes.get("packages", 0) is None:
        changes.pop("packages")
    if changes.get("dea_order_number", "") is None:
        changes.pop("dea_order_number")
    ordering.purchase_order_line_update(actor=_user(request), line=line, **changes)
    return _order_out(request, order_id)


@router.delete(
    "/purchase-orders/{int:order_id}/lines/{int:line_id}",
    response={204: None},
    summary="Take a line off a draft order",
)
def purchase_order_line_delete(request: HttpRequest, order_id: int, line_id: int) -> Any:
    line = _order_line(request, order_id, line_id)
    ordering.purchase_order_line_remove(actor=_user(request), line=line)
    return Status(204, None)


@router.post(
    "/purchase-orders/{int:order_id}/send",
    response=OrderOut,
    summary="Mark a draft as sent (Schedule II lines need their 222/CSOS number)",
)
def purchase_order_send(request: HttpRequest, order_id: int) -> Any:
    actor = _user(request)
    order = queries.purchase_order_for(actor=actor, order_id=order_id)
    ordering.purchase_order_send(actor=actor, order=order)
    return _order_out(request, order_id)


class ReceivingReasonIn(_In):
    reason: str = Field("", max_length=400)


@router.post(
    "/purchase-orders/{int:order_id}/close",
    response=OrderOut,
    summary="Close a received or partially received order (say why if lines are open)",
)
def purchase_order_close(request: HttpRequest, order_id: int, payload: ReceivingReasonIn) -> Any:
    actor = _user(request)
    order = queries.purchase_order_for(actor=actor, order_id=order_id)
    ordering.purchase_order_close(actor=actor, order=order, reason=payload.reason)
    return _order_out(request, order_id)


@router.post(
    "/purchase-orders/{int:order_id}/cancel",
    response=OrderOut,
    summary="Cancel a draft, or a sent order (with a reason)",
)
def purchase_order_cancel(request: HttpRequest, order_id: int, payload: ReceivingReasonIn) -> Any:
    actor = _user(request)
    order = queries.purchase_order_for(actor=actor, order_id=order_id)
    ordering.purchase_order_cancel(actor=actor, order=order, reason=payload.reason)
    return _order_out(request, order_id)


def order_file_response(text: str, order: PurchaseOrder) -> HttpResponse:
    response = HttpResponse(text, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{order.number}.csv"'
    response["Cache-Control"] = "no-store"
    return response


@router.get(
    "/purchase-orders/{int:order_id}/order-file",
    response={200: None},
    summary="The supplier order file (CSV)",
    description=(
        "Columns: account_number, po_number, ndc11, packages, unit_cost, dea_order_number. "
        "Cells a spreadsheet would run as a formula are prefixed with '."
    ),
    openapi_extra={
        "responses": {
            200: {
                "description": "CSV, one row per line",
                "content": {"text/csv": {"schema": {"type": "string"}}},
            }
        }
    },
)
def purchase_order_file(request: HttpRequest, order_id: int) -> Any:
    actor = _user(request)
    order = queries.purchase_order_for(actor=actor, order_id=order_id)
    return order_file_response(queries.purchase_order_csv(actor=actor, order=order), order)


# --- Receipts -----------------------------------------------------------------------------


class ReceiptFilters(Schema):
    status: ReceiptStatus | None = None


@router.get("/receipts", response=list[ReceiptSummary], summary="Deliveries checked in")
def receipt_list(request: HttpRequest, filters: Query[ReceiptFilters]) -> Any:
    found = queries.receipt_list(actor=_user(request), status=filters.status or "")
    return [_receipt(r, lines=False) for r in found[:500]]


class ReceiptIn(_In):
    supplier_id: int
    purchase_order_id: int | None = Field(None, description="A sent or partially received PO")
    invoice_number: str = Field("", max_length=40)
    shipment_date: dt.date | None = None
    dscsa_transaction_info: str = Field(
        "", max_length=receiving.MAX_TRANSACTION_INFO, description="DSCSA transaction information"
    )
    dscsa_statement_received: bool = Field(
        False, description="The seller's DSCSA transaction statement came with the shipment"
    )
    note: str = Field("", max_length=500)


def _receipt_out(request: HttpRequest, receipt_id: int) -> dict[str, Any]:
    found = queries.receipt_for(actor=_user(request), receipt_id=receipt_id)
    return _receipt(found, lines=True)


@router.post("/receipts", response={201: ReceiptOut}, summary="Start checking in a delivery")
def receipt_create(request: HttpRequest, payload: ReceiptIn) -> Any:
    values = payload.model_dump()
    receipt = receiving.receipt_create(
        actor=_user(request),
        supplier=values.pop("supplier_id"),
        purchase_order=values.pop("purchase_order_id"),
        **values,
    )
    return Status(201, _receipt_out(request, receipt.pk))


@router.get("/receipts/{int:receipt_id}", response=ReceiptOut, summary="A delivery and its lines")
def receipt_get(request: HttpRequest, receipt_id: int) -> Any:
    return _receipt_out(request, receipt_id)


class ReceiptPatch(_In):
    invoice_number: str | None = Field(None, max_length=40)
    shipment_date: dt.date | None = None
    dscsa_transaction_info: str | None = Field(None, max_length=receiving.MAX_TRANSACTION_INFO)
    dscsa_statement_received: bool | None = None
    note: str | None = Field(None, max_length=500)


@router.patch(
    "/receipts/{int:receipt_id}",
    response=ReceiptOut,
    summary="Record the invoice number, shipment date or DSCSA information of a delivery",
)
def receipt_patch(request: HttpRequest, receipt_id: int, payload: ReceiptPatch) -> Any:
    actor = _user(request)
    receipt = queries.receipt_for(actor=actor, receipt_id=receipt_id)
    changes = payload.model_dump(exclude_unset=True)
    for key in ("invoice_number", "dscsa_transaction_info", "dscsa_statement_received", "note"):
        if key in changes and changes[key] is None:
            changes.pop(key)
    receiving.receipt_update(actor=actor, receipt=receipt, **changes)
    return _receipt_out(request, receipt_id)


class ReceiptLineIn(_In):
    scan: str = Field(
        "",
        max_length=receiving.MAX_SCAN,
        description="What the scanner sent: a GS1 DataMatrix (NDC, lot, expiry, serial), a "
        "UPC, GTIN or NDC. Either this or `ndc`.",
    )
    ndc: str = Field("", max_length=40, description="A typed NDC (when nothing is scanned)")
    lot_number: str = Field("", max_length=40, description="Must agree with the scan's lot")
    expiry: dt.date | None = Field(None, description="Must agree with the scan's expiry")
    serial: str = Field("", max_length=40)
    packages_invoiced: int = Field(0, ge=0, le=MAX_PACKAGES)
    packages_received: int | None = Field(
        None, ge=0, le=MAX_PACKAGES, description="Default 1 (one scan, one package)"
    )
    packages_damaged: int = Field(0, ge=0, le=MAX_PACKAGES)
    unit_cost: Decimal | None = Field(None, ge=0, max_digits=12, decimal_places=2)
    location: str = Field("", max_length=30, description="Storage location code")
    dea_order_number: str = Field(
        "", max_length=40, description="Schedule II: 222 / CSOS (default: the PO line's)"
    )


@router.post(
    "/receipts/{int:receipt_id}/lines",
    response={201: ReceiptLineOut},
    summary="Scan or type a package into a delivery",
    description="The same NDC and lot again adds to its line (each serial recorded).",
)
def receipt_line_add(request: HttpRequest, receipt_id: int, payload: ReceiptLineIn) -> Any:
    actor = _user(request)
    receipt = queries.receipt_for(actor=actor, receipt_id=receipt_id)
    values = payload.model_dump()
    values["location"] = values["location"] or None
    line = receiving.receipt_line_add(actor=actor, receipt=receipt, **values)
    fresh = queries.receipt_for(actor=actor, receipt_id=receipt_id)
    return Status(201, _line(next(x for x in fresh.lines.all() if x.pk == line.pk)))


def _receipt_line(request: HttpRequest, receipt_id: int, line_id: int) -> ReceiptLine:
    receipt = queries.receipt_for(actor=_user(request), receipt_id=receipt_id)
    line = next((x for x in receipt.lines.all() if x.pk == line_id), None)
    if line is None:
        raise NotFound("No such line on this receipt.")
    return line


class ReceiptLinePatch(_In):
    packages_invoiced: int | None = Field(None, ge=0, le=MAX_PACKAGES)
    packages_received: int | None = Field(None, ge=0, le=MAX_PACKAGES)
    packages_damaged: int | None = Field(None, ge=0, le=MAX_PACKAGES)
    unit_cost: Decimal | None = Field(
        None, ge=0, max_digits=12, decimal_places=2, description="null clears it"
    )
    location: str | None = Field(None, max_length=30)
    dea_order_number: str | None = Field(None, max_length=40)
    lot_number: str | None = Field(None, min_length=1, max_length=40)
    expiry: dt.date | None = None


@router.patch(
    "/receipts/{int:receipt_id}/lines/{int:line_id}",
    response=ReceiptLineOut,
    summary="Correct a line of a delivery being checked in",
)
def receipt_line_patch(
    request: HttpRequest, receipt_id: int, line_id: int, payload: ReceiptLinePatch
) -> Any:
    actor = _user(request)
    line = _receipt_line(request, receipt_id, line_id)
    changes = payload.model_dump(exclude_unset=True)
    for key in list(changes):
        if changes[key] is None and key not in ("unit_cost", "location"):
            changes.pop(key)
    receiving.receipt_line_update(actor=actor, line=line, **changes)
    return _line(_receipt_line(request, receipt_id, line_id))


@router.delete(
    "/receipts/{int:receipt_id}/lines/{int:line_id}",
    response={204: None},
    summary="Take a line off a delivery being checked in",
)
def receipt_line_delete(request: HttpRequest, receipt_id: int, line_id: int) -> Any:
    line = _receipt_line(request, receipt_id, line_id)
    receiving.receipt_line_remove(actor=_user(request), line=line)
    return Status(204, None)


class InvoiceIn(_In):
    text: str = Field(
        min_length=1,
        max_length=MAX_TEXT,
        description="The supplier invoice: a CSV, header row first, with columns (by header "
        "name) NDC, Description, Quantity (packages), Unit Cost and optional Lot, Expiry, "
        "Invoice Number, DEA Order Number; or an ANSI X12 810 interchange (starting with "
        "ISA). A bad cell is refused by row and column (the problem's `problems`: for X12 "
        "the segment's position and the element, e.g. IT102), and then nothing is imported.",
    )


@router.post(
    "/receipts/{int:receipt_id}/import-invoice",
    response=ReceiptOut,
    summary="Put a supplier invoice (CSV or X12 810) on a delivery",
)
def receipt_import_invoice(request: HttpRequest, receipt_id: int, payload: InvoiceIn) -> Any:
    actor = _user(request)
    receipt = queries.receipt_for(actor=actor, receipt_id=receipt_id)
    receiving.receipt_import_invoice(actor=actor, receipt=receipt, text=payload.text)
    return _receipt_out(request, receipt_id)


@router.post(
    "/receipts/{int:receipt_id}/post",
    response=ReceiptOut,
    summary="Post a checked delivery to stock (all or nothing, once)",
    description=(
        "Good packages (received − damaged) enter stock; the purchase order becomes "
        "partially received or received; short, over, damaged, wrong-item and not-ordered "
        "packages open discrepancies. Prescription products need the DSCSA transaction "
        "information and statement recorded."
    ),
)
def receipt_post(request: HttpRequest, receipt_id: int) -> Any:
    actor = _user(request)
    receipt = queries.receipt_for(actor=actor, receipt_id=receipt_id)
    receiving.receipt_post(actor=actor, receipt=receipt)
    return _receipt_out(request, receipt_id)


class ReceiptDiscrepancyIn(_In):
    kind: DiscrepancyKind = Field(
        description="expired (also short-dated), damaged, wrong_item (also a recalled lot), "
        "not_ordered, short or over"
    )
    scan: str = Field(
        "",
        max_length=receiving.MAX_SCAN,
        description="What the scanner sent (a GS1 DataMatrix gives NDC, lot, expiry, serial). "
        "Either this or `ndc`.",
    )
    ndc: str = Field("", max_length=40, description="A typed NDC (when nothing is scanned)")
    lot_number: str = Field("", max_length=40, description="Required for expired")
    expiry: dt.date | None = Field(None, description="Required for expired")
    serial: str = Field("", max_length=40)
    packages: int = Field(1, ge=1, le=MAX_PACKAGES)
    note: str = Field("", max_length=receiving.MAX_DISCREPANCY_NOTE)


@router.post(
    "/receipts/{int:receipt_id}/discrepancies",
    response={201: ReceivingDiscrepancyOut},
    summary="Record a refused package (expired, damaged, wrong item, recalled lot) on a delivery",
    description=(
        "For a package that does not go into stock but must be credited by the supplier and "
        "sent back. Nothing is received (no lot, line or stock move). The note records the "
        "NDC, lot, expiry and serial, and the recall when the lot is under one. The "
        "discrepancy is then followed up with PATCH /inventory/discrepancies/{id}; posting the "
        "delivery keeps it and does not open it again as short."
    ),
)
def receipt_discrepancy_add(
    request: HttpRequest, receipt_id: int, payload: ReceiptDiscrepancyIn
) -> Any:
    actor = _user(request)
    receipt = queries.receipt_for(actor=actor, receipt_id=receipt_id)
    found = receiving.receipt_discrepancy_add(actor=actor, receipt=receipt, **payload.model_dump())
    return Status(201, _discrepancy(queries.discrepancy_for(actor=actor, discrepancy_id=found.pk)))


# --- Discrepancies ------------------------------------------------------------------------


class DiscrepancyFilters(Schema):
    status: DiscrepancyStatus | None = None
    open_only: bool = Field(False, description="Everything not yet resolved")


@router.get(
    "/discrepancies", response=list[ReceivingDiscrepancyOut], summary="Delivery discrepancies"
)
def discrepancy_list(request: HttpRequest, filters: Query[DiscrepancyFilters]) -> Any:
    found = queries.discrepancy_list(
        actor=_user(request), status=filters.status or "", open_only=filters.open_only
    )
    return [_discrepancy(d) for d in found[:500]]


class DiscrepancyPatch(_In):
    follow_up: str = Field("", max_length=2000, description="Appended with when and who")
    status: DiscrepancyStatus | None = Field(None, description="Forward only")
    credit_expected: Decimal | None = Field(None, ge=0, max_digits=12, decimal_places=2)
    credit_received: Decimal | None = Field(None, ge=0, max_digits=12, decimal_places=2)


@router.patch(
    "/discrepancies/{int:discrepancy_id}",
    response=ReceivingDiscrepancyOut,
    summary="Follow a discrepancy up: a note, its status, the credit",
)
def discrepancy_patch(request: HttpRequest, discrepancy_id: int, payload: DiscrepancyPatch) -> Any:
    actor = _user(request)
    found = queries.discrepancy_for(actor=actor, discrepancy_id=discrepancy_id)
    changes = payload.model_dump(exclude_unset=True)
    receiving.discrepancy_update(actor=actor, discrepancy=found, **changes)
    return _discrepancy(queries.discrepancy_for(actor=actor, discrepancy_id=discrepancy_id))
