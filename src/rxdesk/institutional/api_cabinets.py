"""API of the dispensing cabinets (mounted at /api/v1/institutional): cabinets and their
pockets (set up by a pharmacist), the pick list (JSON or CSV), a restock from the pharmacy's
stock by lot (controlled pockets counted and witnessed), a pocket unloaded back to the
pharmacy, and a cabinet's moves. Parse, call rxdesk.institutional services_cabinets /
queries_cabinets, serialize.

Reading is adc.view; set-up adc.setup; restocking and unloading adc.restock — each checked
before the body is read, and again by the services. A cabinet or pocket of another pharmacy
does not exist here (404)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, Literal

from django.http import HttpRequest, HttpResponse
from ninja import Field, Query, Router, Schema, Status

from rxdesk.core.capabilities import Cap
from rxdesk.institutional import queries_cabinets as queries
from rxdesk.institutional import services_cabinets as services
from rxdesk.institutional.api_common import StrictIn, gate, user_of
from rxdesk.institutional.choices import CabinetVendor
from rxdesk.institutional.models import Cabinet, CabinetDiscrepancy, Pocket
from rxdesk.inventory.services.common import package_of

router = Router(tags=["institutional: cabinets"])

MAX_ID = 2**63 - 1
CSV = {
    "responses": {
        200: {
            "description": "JSON, or with format=csv a CSV file (a header row, one row per "
            "pocket and suggested lot)",
            "content": {"text/csv": {"schema": {"type": "string"}}},
        }
    }
}
Vendor = Literal["pyxis", "omnicell", "other"]


# --- Input ------------------------------------------------------------------------------------


class CabinetIn(StrictIn):
    code: str = Field(..., max_length=26, description="The station name the vendor reports")
    name: str = Field(..., max_length=120)
    vendor: Vendor
    area: str = Field("", max_length=80, description="The nursing unit it serves")
    active: bool = True


class CabinetPatch(StrictIn):
    code: str | None = Field(None, max_length=26)
    name: str | None = Field(None, max_length=120)
    vendor: Vendor | None = None
    area: str | None = Field(None, max_length=80)
    active: bool | None = None


class PocketIn(StrictIn):
    drawer: str = Field(..., max_length=10)
    pocket_code: str = Field(
        ..., max_length=10, description="The pocket (bin, cubie) in the drawer"
    )
    ndc: str = Field(..., max_length=200, description="The package's NDC, or its barcode")
    par: Decimal
    minimum: Decimal
    controlled: bool | None = Field(
        None,
        description="Counted at every access, restocks witnessed (always for a scheduled drug)",
    )
    active: bool = True


class PocketPatch(StrictIn):
    drawer: str | None = Field(None, max_length=10)
    pocket_code: str | None = Field(None, max_length=10)
    ndc: str | None = Field(None, max_length=200)
    par: Decimal | None = None
    minimum: Decimal | None = None
    controlled: bool | None = None
    active: bool | None = None


class CabinetWitnessIn(StrictIn):
    username: str = Field(..., max_length=150)
    password: str = Field(..., max_length=256)
    otp: str = Field("", max_length=12, description="Six digits, when the witness has enrolled")


class RestockLineIn(StrictIn):
    pocket_id: int = Field(..., ge=1, le=MAX_ID)
    lot_number: str | None = Field(None, max_length=40)
    scan: str | None = Field(None, max_length=200, description="The package's barcode (GS1 too)")
    quantity: Decimal
    counted_before: Decimal | None = Field(
        None, description="What the pocket held before the restock (controlled pockets)"
    )


class RestockIn(StrictIn):
    lines: list[RestockLineIn] = Field(..., max_length=200)
    witness: CabinetWitnessIn | None = Field(
        None, description="Required when a pocket is controlled"
    )


class UnloadIn(StrictIn):
    quantity: Decimal
    lot_number: str | None = Field(None, max_length=40, description="Default: first expiry")
    reason: str = Field(..., max_length=200)
    witness: CabinetWitnessIn | None = None


class PickQuery(Schema):
    top_up: bool = Field(False, description="Every pocket below par, not only at the minimum")
    format: Literal["json", "csv"] = "json"


class MovesQuery(Schema):
    pocket_id: int | None = Field(None, ge=1, le=MAX_ID)
    limit: int = Field(100, ge=1, le=queries.MOVES_LIMIT)


# --- Output -----------------------------------------------------------------------------------


class CabinetSummaryOut(Schema):
    id: int
    code: str
    name: str
    vendor: str
    vendor_label: str
    area: str
    active: bool
    location_code: str
    pockets: int
    low: int = Field(description="Active pockets at or below their minimum")
    controlled: int
    open_discrepancies: int


class CabinetLotOut(Schema):
    lot: str
    expiry: dt.date | None
    on_hand: str
    expired: bool
    expiring: bool = Field(description="Expires within 30 days")


class PocketOut(Schema):
    id: int
    cabinet_id: int
    drawer: str
    pocket_code: str
    place: str
    ndc: str
    ndc11: str
    drug: str
    billing_unit: str
    par: str
    minimum: str
    on_hand: str
    controlled: bool
    active: bool
    low: bool
    open_discrepancies: int
    lots: list[CabinetLotOut]


class CabinetOut(Schema):
    id: int
    code: str
    name: str
    vendor: str
    vendor_label: str
    area: str
    active: bool
    location_code: str
    pockets: list[PocketOut]
    low: int
    expiring: int
    open_discrepancies: int


class CabinetSuggestionOut(Schema):
    lot: str
    expiry: dt.date | None
    available: str
    take: str


class PickLineOut(Schema):
    pocket_id: int
    drawer: str
    pocket_code: str
    ndc: str
    drug: str
    controlled: bool
    par: str
    minimum: str
    on_hand: str
    quantity: str
    used_7_days: str
    short: str
    lots: list[CabinetSuggestionOut]


class PickListOut(Schema):
    cabinet_id: int
    cabinet: str
    date: dt.date
    top_up: bool
    lines: list[PickLineOut]


class CabinetMoveOut(Schema):
    id: int
    pocket_id: int
    place: str
    ndc: str
    lot: str
    event: str
    event_label: str
    quantity: str
    balance_after: str
    source: str
    occurred_at: dt.datetime
    actor: str
    cabinet_user: str
    witness_name: str
    override: bool
    has_patient: bool
    patient: str = Field(description="Only for roles that may see patients")
    patient_ref: str = Field(description="Only for roles that may see patients")
    stock_move_id: int | None


class CabinetDiscrepancyOut(Schema):
    id: int
    pocket_id: int
    kind: str
    expected: str
    found: str
    due_at: dt.datetime


class RestockOut(Schema):
    moves: list[CabinetMoveOut]
    discrepancies: list[CabinetDiscrepancyOut]
    message: str


class UnloadOut(Schema):
    moves: list[CabinetMoveOut]
    message: str


def _num(value: Decimal) -> str:
    return f"{value.normalize():f}"


def _drug(pocket: Pocket) -> str:
    p = pocket.package.product
    return " ".join(x for x in (p.display_name, p.strength, p.dosage_form) if x)


def _summary(row: queries.CabinetRow) -> dict[str, Any]:
    c = row.cabinet
    return {
        "id": c.pk,
        "code": c.code,
        "name": c.name,
        "vendor": c.vendor,
        "vendor_label": c.get_vendor_display(),
        "area": c.area,
        "active": c.active,
        "location_code": c.location.code,
        "pockets": row.pockets,
        "low": row.low,
        "controlled": row.controlled,
        "open_discrepancies": row.open_discrepancies,
    }


def _pocket(row: queries.PocketRow) -> dict[str, Any]:
    p = row.pocket
    return {
        "id": p.pk,
        "cabinet_id": p.cabinet_id,
        "drawer": p.drawer,
        "pocket_code": p.pocket,
        "place": p.place,
        "ndc": p.package.ndc10,
        "ndc11": p.package.ndc11,
        "drug": _drug(p),
        "billing_unit": p.package.billing_unit,
        "par": _num(p.par),
        "minimum": _num(p.minimum),
        "on_hand": _num(p.on_hand),
        "controlled": p.controlled,
        "active": p.active,
        "low": row.low,
        "open_discrepancies": row.open_discrepancies,
        "lots": [
            {
                "lot": lot.number,
                "expiry": lot.expiry,
                "on_hand": _num(lot.on_hand),
                "expired": lot.expired,
                "expiring": lot.expiring,
            }
            for lot in row.lots
        ],
    }


def _cabinet(request: HttpRequest, cabinet: Cabinet) -> dict[str, Any]:
    detail = queries.cabinet_detail(actor=user_of(request), cabinet=cabinet)
    c = detail.cabinet
    return {
        "id": c.pk,
        "code": c.code,
        "name": c.name,
        "vendor": c.vendor,
        "vendor_label": c.get_vendor_display(),
        "area": c.area,
        "active": c.active,
        "location_code": c.location.code,
        "pockets": [_pocket(r) for d in detail.drawers for r in d.pockets],
        "low": detail.low,
        "expiring": detail.expiring,
        "open_discrepancies": detail.open_discrepancies,
    }


def _pocket_of(request: HttpRequest, pocket: Pocket) -> dict[str, Any]:
    detail = queries.cabinet_detail(actor=user_of(request), cabinet=pocket.cabinet)
    row = next(r for d in detail.drawers for r in d.pockets if r.pocket.pk == pocket.pk)
    return _pocket(row)


def _move(row: queries.MoveRow) -> dict[str, Any]:
    m = row.move
    return {
        "id": m.pk,
        "pocket_id": m.pocket_id,
        "place": m.pocket.place,
        "ndc": m.package.ndc10,
        "lot": m.lot.number,
        "event": m.event,
        "event_label": m.get_event_display(),
        "quantity": _num(m.quantity),
        "balance_after": _num(m.balance_after),
        "source": m.source,
        "occurred_at": m.occurred_at,
        "actor": m.actor.username if m.actor is not None else "",
        "cabinet_user": m.cabinet_user,
        "witness_name": m.witness_name,
        "override": m.override,
        "has_patient": row.has_patient,
        "patient": row.patient,
        "patient_ref": row.patient_ref,
        "stock_move_id": m.stock_move_id,
    }


def _moves_of(request: HttpRequest, moves: list[Any]) -> list[dict[str, Any]]:
    return [_move(r) for r in queries.move_rows(actor=user_of(request), moves=moves)]


def _discrepancy(d: CabinetDiscrepancy) -> dict[str, Any]:
    return {
        "id": d.pk,
        "pocket_id": d.pocket_id,
        "kind": d.kind,
        "expected": _num(d.expected),
        "found": _num(d.found),
        "due_at": d.due_at,
    }


def csv_response(text: str, name: str) -> HttpResponse:
    response = HttpResponse(text, content_type="text/csv; charset=utf-8")
    safe = "".join(ch if ch.isalnum() or ch in "._-" else "_" for ch in name)
    response["Content-Disposition"] = f'attachment; filename="{safe}"'
    response["Cache-Control"] = "private, no-store"
    return response


def restock_message(cabinet: Cabinet, moves: list[Any], opened: list[Any]) -> str:
    """The restock in words (the API's message and the screen's confirmation)."""
    parts = [
        f"{m.pocket.place} +{_num(m.quantity)} (lot {m.lot.number}, now {_num(m.balance_after)})"
        for m in moves
    ]
    text = (
        f"Restocked {len(moves)} pocket{'s' if len(moves) != 1 else ''} of cabinet "
        f"{cabinet.code} from the pharmacy's stock: " + "; ".join(parts) + "."
    )
    if opened:
        text += (
            f" {len(opened)} count{'s' if len(opened) != 1 else ''} did not match the record: "
            "a discrepancy is open, to be resolved within the shift."
        )
    return text


# --- Operations -------------------------------------------------------------------------------


@router.get(
    "/cabinets",
    response=list[CabinetSummaryOut],
    auth=gate(Cap.ADC_VIEW),
    summary="Dispensing cabinets, with pockets to refill and open discrepancies",
)
def cabinet_list(request: HttpRequest) -> Any:
    return [_summary(r) for r in queries.cabinets(actor=user_of(request))]


@router.post(
    "/cabinets",
    response={201: CabinetOut},
    auth=gate(Cap.ADC_SETUP),
    summary="Set up a dispensing cabinet (a storage location ADC-<code>)",
)
def cabinet_create(request: HttpRequest, payload: CabinetIn) -> Any:
    cabinet = services.cabinet_save(actor=user_of(request), **payload.model_dump())
    return Status(201, _cabinet(request, cabinet))


@router.get(
    "/cabinets/{int:cabinet_id}",
    response=CabinetOut,
    auth=gate(Cap.ADC_VIEW),
    summary="A cabinet with its pockets by drawer, their lots and expiries",
)
def cabinet_read(request: HttpRequest, cabinet_id: int) -> Any:
    return _cabinet(request, queries.cabinet_get(actor=user_of(request), cabinet_id=cabinet_id))


@router.patch(
    "/cabinets/{int:cabinet_id}",
    response=CabinetOut,
    auth=gate(Cap.ADC_SETUP),
    summary="Change a cabinet (fields left out stay as they are)",
)
def cabinet_update(request: HttpRequest, cabinet_id: int, payload: CabinetPatch) -> Any:
    actor = user_of(request)
    cabinet = queries.cabinet_get(actor=actor, cabinet_id=cabinet_id)
    values: dict[str, Any] = {f: getattr(cabinet, f) for f in services.CABINET_FIELDS}
    values.update(
        {k: v for k, v in payload.model_dump(exclude_unset=True).items() if v is not None}
    )
    done = services.cabinet_save(actor=actor, cabinet=cabinet, **values)
    return _cabinet(request, done)


@router.post(
    "/cabinets/{int:cabinet_id}/pockets",
    response={201: PocketOut},
    auth=gate(Cap.ADC_SETUP),
    summary="Set up a pocket: its place, the package it holds, par and minimum",
    description="A scheduled drug's pocket is always controlled (422 `controlled` if set "
    "false). 422 names `par`/`minimum` when par < minimum, `pocket_code` for a place "
    "already set up, `ndc` for a package not in the catalog.",
)
def pocket_create(request: HttpRequest, cabinet_id: int, payload: PocketIn) -> Any:
    actor = user_of(request)
    cabinet = queries.cabinet_get(actor=actor, cabinet_id=cabinet_id)
    values = payload.model_dump()
    package = package_of(values.pop("ndc"), field="ndc")
    pocket = services.pocket_save(actor=actor, cabinet=cabinet, package=package, **values)
    return Status(201, _pocket_of(request, pocket))


@router.patch(
    "/pockets/{int:pocket_id}",
    response=PocketOut,
    auth=gate(Cap.ADC_SETUP),
    summary="Change a pocket (fields left out stay as they are)",
    description="The package of a pocket holding stock does not change, and a pocket is "
    "taken out of use only when empty (409).",
)
def pocket_update(request: HttpRequest, pocket_id: int, payload: PocketPatch) -> Any:
    actor = user_of(request)
    pocket = queries.pocket_get(actor=actor, pocket_id=pocket_id)
    changes = {k: v for k, v in payload.model_dump(exclude_unset=True).items() if v is not None}
    if "ndc" in payload.model_fields_set and payload.ndc is not None:
        package = package_of(changes.pop("ndc"), field="ndc")
    else:
        package = pocket.package
    values: dict[str, Any] = {
        "drawer": pocket.drawer,
        "pocket_code": pocket.pocket,
        "par": pocket.par,
        "minimum": pocket.minimum,
        "controlled": pocket.controlled,
        "active": pocket.active,
    }
    values.update(changes)
    done = services.pocket_save(
        actor=actor, cabinet=pocket.cabinet, pocket=pocket, package=package, **values
    )
    return _pocket_of(request, done)


@router.get(
    "/cabinets/{int:cabinet_id}/pick-list",
    response=PickListOut,
    auth=gate(Cap.ADC_VIEW),
    summary="What to bring from the pharmacy to refill the cabinet, by drawer and pocket",
    description="Pockets at or below their minimum (top_up: below par), the quantity to par, "
    "the last 7 days' removals, and the pharmacy's dispensable lots first expiry first.",
    openapi_extra=CSV,
)
def pick_list(request: HttpRequest, cabinet_id: int, q: Query[PickQuery]) -> Any:
    actor = user_of(request)
    cabinet = queries.cabinet_get(actor=actor, cabinet_id=cabinet_id)
    pick = queries.pick_list(actor=actor, cabinet=cabinet, top_up=q.top_up)
    if q.format == "csv":
        return csv_response(
            queries.pick_list_csv(pick), f"pick-list-{cabinet.code}-{pick.today:%Y%m%d}.csv"
        )
    return {
        "cabinet_id": cabinet.pk,
        "cabinet": cabinet.code,
        "date": pick.today,
        "top_up": pick.top_up,
        "lines": [
            {
                "pocket_id": line.pocket.pk,
                "drawer": line.pocket.drawer,
                "pocket_code": line.pocket.pocket,
                "ndc": line.pocket.package.ndc10,
                "drug": _drug(line.pocket),
                "controlled": line.pocket.controlled,
                "par": _num(line.pocket.par),
                "minimum": _num(line.pocket.minimum),
                "on_hand": _num(line.on_hand),
                "quantity": _num(line.quantity),
                "used_7_days": _num(line.used),
                "short": _num(line.short),
                "lots": [
                    {
                        "lot": s.lot,
                        "expiry": s.expiry,
                        "available": _num(s.available),
                        "take": _num(s.take),
                    }
                    for s in line.lots
                ],
            }
            for line in pick.lines
        ],
    }


@router.post(
    "/cabinets/{int:cabinet_id}/restock",
    response={201: RestockOut},
    auth=gate(Cap.ADC_RESTOCK),
    summary="Restock pockets from the pharmacy's stock, by lot (all lines or none)",
    description="Each line takes its lot out of the pharmacy's stock and puts it in the "
    "pocket. A controlled pocket needs `counted_before` (a count that differs from the record "
    "sets the pocket to it and opens a discrepancy) and the whole restock a witness who "
    "re-authenticates. 422 names the line's field: `lines[n].quantity` beyond par, "
    "`lines[n].scan` for a barcode of another package, `lines[n].lot` for an expired, "
    "recalled or short lot; `witness.password` for a wrong password. Nothing is written "
    "when it is refused.",
)
def cabinet_restock(request: HttpRequest, cabinet_id: int, payload: RestockIn) -> Any:
    actor = user_of(request)
    cabinet = queries.cabinet_get(actor=actor, cabinet_id=cabinet_id)
    done = services.cabinet_restock_full(
        actor=actor,
        cabinet=cabinet,
        lines=[line.model_dump() for line in payload.lines],
        witness=payload.witness.model_dump() if payload.witness is not None else None,
    )
    return Status(
        201,
        {
            "moves": _moves_of(request, done.moves),
            "discrepancies": [_discrepancy(d) for d in done.discrepancies],
            "message": restock_message(cabinet, done.moves, done.discrepancies),
        },
    )


@router.post(
    "/pockets/{int:pocket_id}/unload",
    response=UnloadOut,
    auth=gate(Cap.ADC_RESTOCK),
    summary="Unload a pocket back to the pharmacy's stock (expired lots too)",
    description="From `lot_number`, else first expiry first. 409 when the pocket does not "
    "hold that much on record (nothing changes). A controlled pocket needs a witness.",
)
def pocket_unload(request: HttpRequest, pocket_id: int, payload: UnloadIn) -> Any:
    actor = user_of(request)
    pocket = queries.pocket_get(actor=actor, pocket_id=pocket_id)
    moves = services.pocket_unload(
        actor=actor,
        pocket=pocket,
        quantity=payload.quantity,
        lot_number=payload.lot_number,
        reason=payload.reason,
        witness=payload.witness.model_dump() if payload.witness is not None else None,
    )
    total = sum((-m.quantity for m in moves), Decimal(0))
    return {
        "moves": _moves_of(request, moves),
        "message": f"Unloaded {_num(total)} from pocket {pocket.place} of {pocket.cabinet.code} "
        "back to the pharmacy's stock.",
    }


@router.get(
    "/cabinets/{int:cabinet_id}/moves",
    response=list[CabinetMoveOut],
    auth=gate(Cap.ADC_VIEW),
    summary="A cabinet's moves, newest first (patient names only for roles that see patients)",
)
def cabinet_moves(request: HttpRequest, cabinet_id: int, q: Query[MovesQuery]) -> Any:
    actor = user_of(request)
    cabinet = queries.cabinet_get(actor=actor, cabinet_id=cabinet_id)
    pocket = None
    if q.pocket_id is not None:
        pocket = queries.pocket_get(actor=actor, pocket_id=q.pocket_id)
        if pocket.cabinet_id != cabinet.pk:
            return []
    rows = queries.cabinet_moves(actor=actor, cabinet=cabinet, pocket=pocket, limit=q.limit)
    return [_move(r) for r in rows]


__all__ = ["CabinetVendor", "csv_response", "restock_message", "router"]
