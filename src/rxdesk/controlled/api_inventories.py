"""API of the controlled-substance records: inventories (initial, biennial, newly
scheduled, change of pharmacist-in-charge, other). Parse, call, serialize.

cs.view reads (and prints the PDF), cs.count starts, counts and cancels, and only the
pharmacist-in-charge (cs.inventory_sign) signs. Another pharmacy's inventories do not
exist here (404)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.http import HttpRequest, HttpResponse
from ninja import Field, Router, Schema, Status

from rxdesk.controlled import documents_inventory
from rxdesk.controlled import queries_inventories as queries
from rxdesk.controlled import services_inventories as services
from rxdesk.controlled.api_orders import renamed
from rxdesk.controlled.choices import InventoryKind, InventoryStatus, TakenAt
from rxdesk.controlled.models import CsInventory, CsInventoryLine
from rxdesk.core.capabilities import Cap
from rxdesk.core.errors import Invalid
from rxdesk.core.models import User
from rxdesk.rx.api_fills import BearerToken, BrowserSession

router = Router(tags=["controlled substances"])

MAX_ID = 2**63 - 1
PDF = {
    "responses": {
        200: {
            "description": "The inventory as a PDF",
            "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}},
        }
    }
}


def _gate(*caps: Cap) -> list[Any]:
    return [BearerToken(*caps), BrowserSession(*caps)]


def _user(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]


class _In(Schema):
    model_config = {"extra": "forbid"}


# --- Schemas ---------------------------------------------------------------------------------


class InventoryIn(_In):
    kind: InventoryKind
    taken_on: dt.date = Field(..., description="Today or earlier")
    taken_at: TakenAt = Field(..., description="Opening or close of business")
    product_id: int | None = Field(
        None, ge=1, le=MAX_ID, description="Newly scheduled: the substance's product"
    )
    effective_on: dt.date | None = Field(
        None, description="Newly scheduled: the rule's effective date (the inventory's date)"
    )
    note: str = Field("", max_length=500)


class CsInventoryCountIn(_In):
    ndc: str = Field(..., max_length=200, description="NDC (any printed form) or a scan")
    lot_number: str | None = Field(
        None, max_length=40, description="Blank: the package counted as a whole (all lots)"
    )
    sealed_containers: int = Field(..., ge=0, le=services.MAX_CONTAINERS)
    opened_quantity: Decimal | None = Field(
        None, ge=0, description="Units or volume in the opened container, if one is open"
    )
    estimated: bool = Field(
        False,
        description="The opened count is an estimate (never Schedule II; never a container of "
        "more than 1,000 tablets or capsules)",
    )
    held_for_disposal: bool = False
    disposal_reason: str = Field("", max_length=200)


class CsInventoryCancelIn(_In):
    reason: str = Field(..., max_length=200)


class CsInventoryLineOut(Schema):
    id: int
    ndc11: str
    ndc10: str
    drug: str
    strength: str
    dosage_form: str
    schedule: str
    lot: str | None
    billing_unit: str
    units_per_container: Decimal
    sealed_containers: int
    opened_quantity: Decimal | None
    method: str = Field(description="sealed, exact or estimate")
    total: Decimal
    ledger_balance: Decimal = Field(description="The perpetual balance when it was counted")
    held_for_disposal: bool
    disposal_reason: str
    counted_by: str
    counted_at: dt.datetime


class WorksheetOut(Schema):
    ndc11: str
    ndc10: str
    drug: str
    strength: str
    dosage_form: str
    schedule: str
    lot: str
    lot_status: str
    on_hand: Decimal = Field(description="The perpetual balance now")
    line_id: int | None = Field(description="The line that counts it; null: not counted yet")


class InventoryOut(Schema):
    id: int
    kind: str
    kind_label: str
    taken_on: dt.date
    taken_at: str
    product_id: int | None
    product: str
    effective_on: dt.date | None
    status: str
    status_label: str
    started_by: str
    started_at: dt.datetime
    signed_by: str
    signed_at: dt.datetime | None
    note: str


class InventoryDetailOut(InventoryOut):
    worksheet: list[WorksheetOut]
    lines: list[CsInventoryLineOut]
    missing: int = Field(description="Worksheet rows not counted yet")


class InventoriesOut(Schema):
    next_biennial_due: dt.date | None = Field(
        description="Two years after the last signed inventory of the whole stock"
    )
    inventories: list[InventoryOut]


def _inventory(inv: CsInventory) -> dict[str, Any]:
    return {
        "id": inv.pk,
        "kind": inv.kind,
        "kind_label": InventoryKind(inv.kind).label,
        "taken_on": inv.taken_on,
        "taken_at": inv.taken_at,
        "product_id": inv.product_id,
        "product": str(inv.product) if inv.product else "",
        "effective_on": inv.effective_on,
        "status": inv.status,
        "status_label": InventoryStatus(inv.status).label,
        "started_by": inv.started_by.username if inv.started_by else "",
        "started_at": inv.started_at,
        "signed_by": inv.signer_name,
        "signed_at": inv.signed_at,
        "note": inv.note,
    }


def _line(line: CsInventoryLine) -> dict[str, Any]:
    product = line.package.product
    return {
        "id": line.pk,
        "ndc11": line.package.ndc11,
        "ndc10": line.package.ndc10,
        "drug": product.display_name,
        "strength": product.strength,
        "dosage_form": product.dosage_form,
        "schedule": line.schedule,
        "lot": line.lot.number if line.lot else None,
        "billing_unit": line.package.billing_unit,
        "units_per_container": line.units_per_container,
        "sealed_containers": line.sealed_containers,
        "opened_quantity": line.opened_quantity,
        "method": line.method,
        "total": line.total,
        "ledger_balance": line.ledger_balance,
        "held_for_disposal": line.held_for_disposal,
        "disposal_reason": line.disposal_reason,
        "counted_by": line.counted_by.username if line.counted_by else "",
        "counted_at": line.counted_at,
    }


def _detail(actor: User, inventory_id: int) -> dict[str, Any]:
    inv = queries.inventory_get(actor=actor, inventory_id=inventory_id)
    lines = queries.inventory_lines(inv)
    rows = queries.worksheet(inv, lines) if inv.status == InventoryStatus.OPEN else []
    return {
        **_inventory(inv),
        "worksheet": [
            {
                "ndc11": r.package.ndc11,
                "ndc10": r.package.ndc10,
                "drug": r.package.product.display_name,
                "strength": r.package.product.strength,
                "dosage_form": r.package.product.dosage_form,
                "schedule": r.schedule,
                "lot": r.lot.number,
                "lot_status": r.lot_status,
                "on_hand": r.on_hand,
                "line_id": r.line.pk if r.line else None,
            }
            for r in rows
        ],
        "lines": [_line(line) for line in lines],
        "missing": sum(1 for r in rows if r.line is None),
    }


# --- Operations ------------------------------------------------------------------------------


@router.get(
    "/inventories",
    response=InventoriesOut,
    auth=_gate(Cap.CS_VIEW),
    summary="Inventories, newest first, and when the next biennial one is due",
)
def inventory_list(request: HttpRequest) -> Any:
    actor = _user(request)
    return {
        "next_biennial_due": queries.next_biennial_due(actor.site),
        "inventories": [_inventory(inv) for inv in queries.inventories(actor=actor)],
    }


@router.post(
    "/inventories",
    response={201: InventoryDetailOut},
    auth=_gate(Cap.CS_COUNT),
    summary="Start an inventory (one open at a time)",
    description="A newly scheduled substance's inventory names the product and the rule's "
    "effective date, and is taken on that date.",
)
def inventory_start(request: HttpRequest, payload: InventoryIn) -> Any:
    actor = _user(request)
    try:
        inv = services.cs_inventory_start(
            actor=actor,
            kind=payload.kind,
            taken_on=payload.taken_on,
            taken_at=payload.taken_at,
            product=payload.product_id,
            effective_on=payload.effective_on,
            note=payload.note,
        )
    except Invalid as exc:
        raise renamed(exc, {"product": "product_id"}) from None
    return Status(201, _detail(actor, inv.pk))


@router.get(
    "/inventories/{int:inventory_id}",
    response=InventoryDetailOut,
    auth=_gate(Cap.CS_VIEW),
    summary="One inventory: its worksheet (while open) and counted lines",
)
def inventory_read(request: HttpRequest, inventory_id: int) -> Any:
    return _detail(_user(request), inventory_id)


@router.post(
    "/inventories/{int:inventory_id}/lines",
    response=CsInventoryLineOut,
    auth=_gate(Cap.CS_COUNT),
    summary="Count a package (one lot, or all its lots); counting it again replaces the line",
)
def inventory_count(request: HttpRequest, inventory_id: int, payload: CsInventoryCountIn) -> Any:
    actor = _user(request)
    inv = queries.inventory_get(actor=actor, inventory_id=inventory_id)
    line = services.cs_inventory_count(
        actor=actor,
        inventory=inv,
        ndc=payload.ndc,
        lot_number=payload.lot_number,
        sealed_containers=payload.sealed_containers,
        opened_quantity=payload.opened_quantity,
        estimated=payload.estimated,
        held_for_disposal=payload.held_for_disposal,
        disposal_reason=payload.disposal_reason,
    )
    line = CsInventoryLine.objects.select_related("package__product", "lot", "counted_by").get(
        pk=line.pk
    )
    return _line(line)


@router.post(
    "/inventories/{int:inventory_id}/sign",
    response=InventoryDetailOut,
    auth=_gate(Cap.CS_INVENTORY_SIGN),
    summary="Sign the inventory (pharmacist-in-charge); nothing changes afterwards",
    description="422 naming lines while a package on hand is not counted.",
)
def inventory_sign(request: HttpRequest, inventory_id: int) -> Any:
    actor = _user(request)
    inv = queries.inventory_get(actor=actor, inventory_id=inventory_id)
    services.cs_inventory_sign(actor=actor, inventory=inv)
    return _detail(actor, inventory_id)


@router.post(
    "/inventories/{int:inventory_id}/cancel",
    response=InventoryDetailOut,
    auth=_gate(Cap.CS_COUNT),
    summary="Cancel an inventory still being counted",
)
def inventory_cancel(request: HttpRequest, inventory_id: int, payload: CsInventoryCancelIn) -> Any:
    actor = _user(request)
    inv = queries.inventory_get(actor=actor, inventory_id=inventory_id)
    services.cs_inventory_cancel(actor=actor, inventory=inv, reason=payload.reason)
    return _detail(actor, inventory_id)


def pdf_response(inventory: CsInventory) -> HttpResponse:
    """The inventory as a PDF download, never cached."""
    body = documents_inventory.render_inventory(queries.inventory_document(inventory))
    response = HttpResponse(body, content_type="application/pdf")
    name = f"cs-inventory-{inventory.pk}-{inventory.taken_on:%Y%m%d}.pdf"
    response["Content-Disposition"] = f'inline; filename="{name}"'
    response["Cache-Control"] = "private, no-store"
    return response


@router.get(
    "/inventories/{int:inventory_id}/pdf",
    auth=_gate(Cap.CS_VIEW),
    summary="The inventory as a PDF (Schedule II apart from III–V, signed by the PIC)",
    openapi_extra=PDF,
)
def inventory_pdf(request: HttpRequest, inventory_id: int) -> HttpResponse:
    return pdf_response(queries.inventory_get(actor=_user(request), inventory_id=inventory_id))
