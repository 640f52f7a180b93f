"""API: stock on the shelf, its history, storage locations and transfers between sites.
Parse, call a service or query, serialize.

Quantities travel as decimal strings ("30.000") in the package's billing unit, which each
object names in ``unit`` (EA, ML or GM)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema, Status

from rxdesk.catalog.choices import BillingUnit
from rxdesk.core.capabilities import Cap
from rxdesk.core.errors import Invalid
from rxdesk.core.services import authorize
from rxdesk.inventory import queries
from rxdesk.inventory.choices import (
    AdjustReason,
    LocationKind,
    LotStatus,
    MoveReason,
    TransferStatus,
)
from rxdesk.inventory.models import StockMove, StockTransfer, StorageLocation
from rxdesk.inventory.services import stock as services
from rxdesk.inventory.services.common import package_of

router = Router(tags=["inventory"])

MAX_DAYS = queries.MAX_DAYS


def _user(request: HttpRequest) -> Any:
    return request.user


class _In(Schema):
    model_config = {"extra": "forbid"}


# --- Output -------------------------------------------------------------------------------


class StockOut(Schema):
    """One lot of one package at this site."""

    id: int = Field(description="The balance's id (one per site and lot)")
    package_id: int
    ndc11: str
    ndc10: str
    name: str = Field(description="Tall-man name where one applies, else the brand name")
    generic_name: str
    strength: str
    dosage_form: str
    package_description: str
    package_quantity: Decimal = Field(description="Billing units in one package")
    unit: BillingUnit = Field(description="The billing unit every quantity here is in")
    lot_id: int
    lot_number: str
    expiry: dt.date | None
    on_hand: Decimal
    status: LotStatus
    status_reason: str
    location: str | None = Field(description="Storage location code")
    location_name: str | None
    dispensable: bool = Field(description="Available and in date today")
    expired: bool


class PackageStockOut(Schema):
    package_id: int
    ndc11: str
    ndc10: str
    name: str
    strength: str
    dosage_form: str
    package_description: str
    unit: BillingUnit
    on_hand: Decimal = Field(description="All lots at this site")
    dispensable: Decimal = Field(description="Lots that may be dispensed today")
    lots: list[StockOut]


class StockMoveOut(Schema):
    """One ledger entry. A dispensing names its reference (the fill), never the patient."""

    id: int
    occurred_at: dt.datetime
    actor_name: str
    reason: MoveReason
    reason_label: str
    adjust_reason: str
    adjust_reason_label: str
    note: str
    reference_type: str
    reference_id: str
    package_id: int
    ndc11: str
    lot_id: int
    lot_number: str
    quantity: Decimal = Field(description="Signed: + into stock, − out of stock")
    unit: BillingUnit
    balance_after: Decimal = Field(description="The lot's balance right after this move")
    package_total: Decimal | None = Field(
        description="Package histories only: the package's total at this site, all lots, "
        "right after this move"
    )


class StockChangedOut(Schema):
    move: StockMoveOut
    balance: StockOut


class LocationOut(Schema):
    id: int
    code: str
    name: str
    kind: LocationKind
    temperature_min_c: Decimal | None
    temperature_max_c: Decimal | None
    active: bool
    lots: int = Field(description="Lots with stock kept here")


class SiteRef(Schema):
    id: int
    name: str


class TransferLineOut(Schema):
    package_id: int
    ndc11: str
    ndc10: str
    name: str
    lot_id: int
    lot_number: str
    expiry: dt.date | None
    quantity: Decimal
    unit: BillingUnit


class TransferSummary(Schema):
    id: int
    from_site: SiteRef
    to_site: SiteRef
    status: TransferStatus
    sent_by: str
    sent_at: dt.datetime
    received_by: str
    received_at: dt.datetime | None
    note: str
    line_count: int


class TransferOut(TransferSummary):
    lines: list[TransferLineOut]


def _stock(row: queries.StockRow) -> dict[str, Any]:
    b = row.balance
    product = b.package.product
    return {
        "id": b.pk,
        "package_id": b.package_id,
        "ndc11": b.package.ndc11,
        "ndc10": b.package.ndc10,
        "name": product.display_name,
        "generic_name": product.generic_name,
        "strength": product.strength,
        "dosage_form": product.dosage_form,
        "package_description": b.package.description,
        "package_quantity": b.package.package_quantity,
        "unit": b.package.billing_unit,
        "lot_id": b.lot_id,
        "lot_number": b.lot.number,
        "expiry": b.lot.expiry,
        "on_hand": b.on_hand,
        "status": b.status,
        "status_reason": b.status_reason,
        "location": b.location.code if b.location else None,
        "location_name": b.location.name if b.location else None,
        "dispensable": row.dispensable,
        "expired": row.expired,
    }


def _move(move: StockMove, package_total: Decimal | None = None) -> dict[str, Any]:
    return {
        "id": move.pk,
        "occurred_at": move.occurred_at,
        "actor_name": move.actor_name,
        "reason": move.reason,
        "reason_label": move.get_reason_display(),
        "adjust_reason": move.adjust_reason,
        "adjust_reason_label": move.get_adjust_reason_display() if move.adjust_reason else "",
        "note": move.note,
        "reference_type": move.reference_type,
        "reference_id": move.reference_id,
        "package_id": move.package_id,
        "ndc11": move.package.ndc11,
        "lot_id": move.lot_id,
        "lot_number": move.lot.number,
        "quantity": move.quantity,
        "unit": move.package.billing_unit,
        "balance_after": move.balance_after,
        "package_total": package_total,
    }


def _location(place: StorageLocation) -> dict[str, Any]:
    return {
        "id": place.pk,
        "code": place.code,
        "name": place.name,
        "kind": place.kind,
        "temperature_min_c": place.temperature_min_c,
        "temperature_max_c": place.temperature_max_c,
        "active": place.active,
        "lots": getattr(place, "lots", 0),
    }


def _transfer(transfer: StockTransfer, *, lines: bool) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": transfer.pk,
        "from_site": {"id": transfer.from_site.pk, "name": transfer.from_site.name},
        "to_site": {"id": transfer.to_site.pk, "name": transfer.to_site.name},
        "status": transfer.status,
        "sent_by": transfer.sent_by.username if transfer.sent_by else "",
        "sent_at": transfer.sent_at,
        "received_by": transfer.received_by.username if transfer.received_by else "",
        "received_at": transfer.received_at,
        "note": transfer.note,
        "line_count": getattr(transfer, "line_count", 0),
    }
    if lines:
        found = queries.transfer_lines(transfer)
        out["line_count"] = len(found)
        out["lines"] = [
            {
                "package_id": line.package_id,
                "ndc11": line.package.ndc11,
                "ndc10": line.package.ndc10,
                "name": line.package.product.display_name,
                "lot_id": line.lot_id,
                "lot_number": line.lot.number,
                "expiry": line.lot.expiry,
                "quantity": line.quantity,
                "unit": line.package.billing_unit,
            }
            for line in found
        ]
    return out


def _balance(request: HttpRequest, balance_id: int) -> dict[str, Any]:
    return _stock(queries.balance_detail(actor=_user(request), balance_id=balance_id))


# --- Stock --------------------------------------------------------------------------------


class StockFilters(Schema):
    q: str = Field("", max_length=200, description="Drug name, NDC (any layout), lot, or a scan")
    status: LotStatus | None = None
    location: str | None = Field(None, max_length=30, description="Storage location code")
    expiring_within_days: int | None = Field(
        None, ge=0, le=MAX_DAYS, description="Expiring within N days (expired included)"
    )
    include_empty: bool = Field(False, description="Include lots with nothing on hand")
    limit: int = Field(queries.ON_HAND_LIMIT, ge=1, le=queries.MAX_LIMIT)


@router.get("/stock", response=list[StockOut], summary="Stock on hand at this site")
def stock_list(request: HttpRequest, filters: Query[StockFilters]) -> Any:
    rows = queries.on_hand(actor=_user(request), **filters.model_dump())
    return [_stock(r) for r in rows]


class ReceiveIn(_In):
    ndc: str = Field(max_length=200, description="NDC in any printed form, or a scan")
    lot_number: str = Field(max_length=40)
    expiry: dt.date | None = None
    quantity: Decimal = Field(description='In the package\'s billing unit, e.g. "30"')
    unit: BillingUnit | None = Field(None, description="Checked against the NDC's billing unit")
    location: str | None = Field(None, max_length=30, description="Storage location code")
    dea_order_number: str = Field("", max_length=40, description="Schedule II: 222 / CSOS")
    note: str = Field("", max_length=500)
    opening: bool = Field(False, description="An opening balance (else: found stock)")


@router.post(
    "/stock/receive",
    response={201: StockChangedOut},
    summary="Put one lot into stock outside a delivery (opening balance, found stock)",
)
def stock_receive(request: HttpRequest, payload: ReceiveIn) -> Any:
    actor = _user(request)
    move = services.stock_receive(actor=actor, **payload.model_dump())
    row = queries.balance_of_lot(actor=actor, lot_id=move.lot_id)
    return Status(201, {"move": _move(move), "balance": _stock(row)})


@router.get("/stock/{int:balance_id}", response=StockOut, summary="One lot at this site")
def stock_get(request: HttpRequest, balance_id: int) -> Any:
    return _balance(request, balance_id)


class StockWitnessIn(_In):
    """A second authorized person, re-authenticating now (controlled substances)."""

    username: str = Field("", max_length=150)
    password: str = Field("", max_length=128)
    otp: str = Field("", max_length=10, description="Six digits, where an authenticator is set up")


class AdjustIn(_In):
    quantity: Decimal = Field(description='Signed change, e.g. "-2" or "5"')
    reason: AdjustReason
    note: str = Field("", max_length=500)
    witness: StockWitnessIn | None = Field(
        None, description="Required for a Schedule II lot: a second person's sign-in"
    )


@router.post(
    "/stock/{int:balance_id}/adjust",
    response=StockChangedOut,
    summary="Correct a lot's balance by a signed quantity with a reason code",
)
def stock_adjust(request: HttpRequest, balance_id: int, payload: AdjustIn) -> Any:
    actor = _user(request)
    row = queries.balance_detail(actor=actor, balance_id=balance_id)
    move = services.stock_adjust(
        actor=actor,
        balance=row.balance,
        quantity=str(payload.quantity),
        reason=payload.reason,
        note=payload.note,
        witness=payload.witness.model_dump() if payload.witness is not None else None,
    )
    return {"move": _move(move), "balance": _balance(request, balance_id)}


class StatusIn(_In):
    status: LotStatus = Field(description="quarantined, on_hold, damaged, or available (release)")
    reason: str = Field(max_length=200)


@router.post(
    "/stock/{int:balance_id}/status",
    response=StockOut,
    summary="Quarantine, hold or mark damaged a lot; release it (pharmacist)",
)
def stock_status(request: HttpRequest, balance_id: int, payload: StatusIn) -> Any:
    actor = _user(request)
    row = queries.balance_detail(actor=actor, balance_id=balance_id)
    services.stock_status_set(
        actor=actor, balance=row.balance, status=payload.status, reason=payload.reason
    )
    return _balance(request, balance_id)


class RelocateIn(_In):
    location: str = Field(max_length=30, description="Storage location code")


@router.post(
    "/stock/{int:balance_id}/relocate", response=StockOut, summary="Record where a lot is kept"
)
def stock_relocate(request: HttpRequest, balance_id: int, payload: RelocateIn) -> Any:
    actor = _user(request)
    row = queries.balance_detail(actor=actor, balance_id=balance_id)
    services.stock_relocate(actor=actor, balance=row.balance, location=payload.location)
    return _balance(request, balance_id)


@router.get(
    "/packages/{int:package_id}/stock",
    response=PackageStockOut,
    summary="A package's lots at this site, with totals",
)
def package_stock(request: HttpRequest, package_id: int) -> Any:
    actor = _user(request)
    package = queries.package_for(actor=actor, package_id=package_id)
    found = queries.package_stock(actor=actor, package=package)
    return {
        "package_id": package.pk,
        "ndc11": package.ndc11,
        "ndc10": package.ndc10,
        "name": package.product.display_name,
        "strength": package.product.strength,
        "dosage_form": package.product.dosage_form,
        "package_description": package.description,
        "unit": package.billing_unit,
        "on_hand": found.on_hand,
        "dispensable": found.dispensable,
        "lots": [_stock(r) for r in found.rows],
    }


class MoveFilters(Schema):
    ndc: str = Field("", max_length=200, description="A package by NDC (any layout) or scan")
    package_id: int | None = Field(None, ge=1)
    lot_id: int | None = Field(None, ge=1)
    before_id: int | None = Field(None, ge=1, description="Older than this move (paging)")
    limit: int = Field(queries.HISTORY_LIMIT, ge=1, le=queries.MAX_LIMIT)


@router.get(
    "/moves",
    response=list[StockMoveOut],
    summary="Movement history of a package or a lot at this site, newest first",
)
def move_list(request: HttpRequest, filters: Query[MoveFilters]) -> Any:
    actor = _user(request)
    # The capability first: a refused role learns nothing about NDCs or lots.
    authorize(actor, Cap.INVENTORY_VIEW)
    if filters.ndc and filters.package_id:
        raise Invalid("Give the NDC or the package id, not both.", field="ndc")
    package = None
    if filters.package_id:
        package = queries.package_for(actor=actor, package_id=filters.package_id)
    elif filters.ndc:
        package = package_of(filters.ndc)
    lot = queries.lot_for(actor=actor, lot_id=filters.lot_id) if filters.lot_id else None
    rows = queries.move_history(
        actor=actor, package=package, lot=lot, limit=filters.limit, before_id=filters.before_id
    )
    return [_move(r.move, r.package_total) for r in rows]


# --- Storage locations --------------------------------------------------------------------


class LocationIn(_In):
    code: str = Field(max_length=30)
    name: str = Field(max_length=120)
    kind: LocationKind = LocationKind.SHELF
    temperature_min_c: Decimal | None = Field(None, max_digits=5, decimal_places=1)
    temperature_max_c: Decimal | None = Field(None, max_digits=5, decimal_places=1)


class LocationPatch(_In):
    code: str | None = Field(None, max_length=30)
    name: str | None = Field(None, max_length=120)
    kind: LocationKind | None = None
    temperature_min_c: Decimal | None = Field(None, max_digits=5, decimal_places=1)
    temperature_max_c: Decimal | None = Field(None, max_digits=5, decimal_places=1)
    active: bool | None = None


@router.get("/locations", response=list[LocationOut], summary="Storage locations of this site")
def location_list(request: HttpRequest) -> Any:
    return [_location(p) for p in queries.locations(actor=_user(request))]


@router.post("/locations", response={201: LocationOut}, summary="Add a storage location")
def location_create(request: HttpRequest, payload: LocationIn) -> Any:
    actor = _user(request)
    place = services.location_create(actor=actor, **payload.model_dump())
    return Status(201, _location(queries.location_detail(actor=actor, location_id=place.pk)))


@router.patch(
    "/locations/{int:location_id}", response=LocationOut, summary="Change a storage location"
)
def location_patch(request: HttpRequest, location_id: int, payload: LocationPatch) -> Any:
    actor = _user(request)
    place = queries.location_detail(actor=actor, location_id=location_id)
    changes = payload.model_dump(exclude_unset=True)
    for name in ("code", "name", "kind", "active"):
        if name in changes and changes[name] is None:
            raise Invalid("This field cannot be empty.", field=name)
    services.location_update(actor=actor, location=place, **changes)
    return _location(queries.location_detail(actor=actor, location_id=location_id))


# --- Transfers ----------------------------------------------------------------------------


class TransferFilters(Schema):
    direction: str = Field("all", pattern="^(all|out|in)$", description="all, out or in")


class TransferLineIn(_In):
    balance: int = Field(ge=1, description="The id of a lot at this site (GET /stock)")
    quantity: Decimal


class TransferIn(_In):
    to_site: int = Field(ge=1, description="A site of the same organization")
    lines: list[TransferLineIn] = Field(max_length=200)
    note: str = Field("", max_length=500)


class TransferReceiveIn(_In):
    location: str | None = Field(None, max_length=30, description="Put away at this location")


@router.get(
    "/transfers", response=list[TransferSummary], summary="Transfers sent from or to this site"
)
def transfer_list(request: HttpRequest, filters: Query[TransferFilters]) -> Any:
    found = queries.transfers(actor=_user(request), direction=filters.direction)
    return [_transfer(t, lines=False) for t in found]


@router.post(
    "/transfers",
    response={201: TransferOut},
    summary="Send stock to another site of the same organization",
)
def transfer_send(request: HttpRequest, payload: TransferIn) -> Any:
    actor = _user(request)
    to_site = queries.destination_site(actor=actor, site_id=payload.to_site)
    transfer = services.stock_transfer_send(
        actor=actor,
        to_site=to_site,
        lines=[{"balance": line.balance, "quantity": line.quantity} for line in payload.lines],
        note=payload.note,
    )
    found = queries.transfer_detail(actor=actor, transfer_id=transfer.pk)
    return Status(201, _transfer(found, lines=True))


@router.get("/transfers/{int:transfer_id}", response=TransferOut, summary="One transfer")
def transfer_get(request: HttpRequest, transfer_id: int) -> Any:
    found = queries.transfer_detail(actor=_user(request), transfer_id=transfer_id)
    return _transfer(found, lines=True)


@router.post(
    "/transfers/{int:transfer_id}/receive",
    response=TransferOut,
    summary="Check in a transfer at the receiving site",
)
def transfer_receive(request: HttpRequest, transfer_id: int, payload: TransferReceiveIn) -> Any:
    actor = _user(request)
    found = queries.transfer_detail(actor=actor, transfer_id=transfer_id)
    services.stock_transfer_receive(actor=actor, transfer=found, location=payload.location)
    return _transfer(queries.transfer_detail(actor=actor, transfer_id=transfer_id), lines=True)
