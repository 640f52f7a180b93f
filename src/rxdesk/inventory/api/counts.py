"""API: cycle counts, expiring stock and returns to vendor. Parse, call a service or query,
serialize.

Count lines are always serialized from rxdesk.inventory.queries_counts' blind-aware sheet:
while a blind count is open, ``expected`` and ``variance`` are null in every response."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from typing import Any, Literal

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema, Status
from ninja.errors import ValidationError as NinjaValidationError
from pydantic import ValidationError as PydanticError

from rxdesk.core.capabilities import Cap
from rxdesk.core.errors import Invalid
from rxdesk.core.services import authorize
from rxdesk.inventory import queries_counts as queries
from rxdesk.inventory.choices import (
    AdjustReason,
    CountScope,
    CountStatus,
    LotStatus,
    VendorReturnKind,
    VendorReturnStatus,
)
from rxdesk.inventory.models import CycleCount, Recall, VendorReturn
from rxdesk.inventory.services import counts as count_services
from rxdesk.inventory.services import removal

router = Router(tags=["inventory"])


def _user(request: HttpRequest) -> Any:
    return request.user


class _In(Schema):
    model_config = {"extra": "forbid"}


# --- Cycle counts ----------------------------------------------------------------------------


class CountLineOut(Schema):
    id: int
    ndc11: str
    ndc10: str
    name: str
    strength: str
    dosage_form: str
    description: str
    billing_unit: str
    controlled: str = Field(description="DEA schedule of the product ('' if not controlled)")
    lot: str
    expiry: dt.date | None
    location: str
    counted: Decimal | None
    counted_by: str
    counted_at: dt.datetime | None
    expected: Decimal | None = Field(
        description="The ledger balance when the line was counted; null while a blind count is open"
    )
    variance: Decimal | None = Field(
        description="counted − expected; null while a blind count is open"
    )
    investigation: str
    adjust_reason: AdjustReason | Literal[""]


class CountSummaryOut(Schema):
    id: int
    scope: CountScope
    scope_value: str
    blind: bool
    status: CountStatus
    note: str
    created_by: str
    created_at: dt.datetime
    submitted_by: str
    submitted_at: dt.datetime | None
    approved_by: str
    approved_at: dt.datetime | None
    lines_total: int
    lines_counted: int


class CountOut(CountSummaryOut):
    variances_shown: bool = Field(description="False while a blind count is open")
    variances: int | None = Field(description="Lines with a variance; null while blind")
    lines: list[CountLineOut]


def _name(user: Any) -> str:
    return user.username if user is not None else ""


def _summary(count: CycleCount, *, total: int, counted: int) -> dict[str, Any]:
    return {
        "id": count.pk,
        "scope": count.scope,
        "scope_value": count.scope_value,
        "blind": count.blind,
        "status": count.status,
        "note": count.note,
        "created_by": _name(count.created_by),
        "created_at": count.created_at,
        "submitted_by": _name(count.submitted_by),
        "submitted_at": count.submitted_at,
        "approved_by": _name(count.approved_by),
        "approved_at": count.approved_at,
        "lines_total": total,
        "lines_counted": counted,
    }


def _count_body(request: HttpRequest, count_id: int) -> dict[str, Any]:
    actor = _user(request)
    count = queries.cycle_count_for(actor=actor, count_id=count_id)
    lines = queries.cycle_count_sheet(actor=actor, count=count)
    totals = queries.sheet_totals(count)
    return {
        **_summary(count, total=totals.lines, counted=totals.counted),
        "variances_shown": queries.reveals(count),
        "variances": totals.variances,
        "lines": lines,
    }


class CountFilter(Schema):
    status: CountStatus | None = None


@router.get("/cycle-counts", response=list[CountSummaryOut], summary="List cycle counts")
def cycle_count_list(request: HttpRequest, filters: Query[CountFilter]) -> Any:
    counts = queries.cycle_count_list(actor=_user(request), status=filters.status or "")
    return [
        _summary(c, total=c.lines_total, counted=c.lines_counted)  # type: ignore[attr-defined]
        for c in counts[:200]
    ]


class CountIn(_In):
    scope: CountScope
    scope_value: str | list[str] = Field(
        "",
        description="Shelf: a location code; ABC: A, B or C; schedule: CII–CV; packages: a "
        "list of NDCs (or one string, comma-separated); full: leave blank",
    )
    blind: bool = True
    note: str = Field("", max_length=500)


@router.post(
    "/cycle-counts",
    response={201: CountOut},
    summary="Start a cycle count (by shelf, ABC class, schedule, packages, or full)",
)
def cycle_count_create(request: HttpRequest, payload: CountIn) -> Any:
    count = count_services.cycle_count_create(actor=_user(request), **payload.model_dump())
    return Status(201, _count_body(request, count.pk))


@router.get(
    "/cycle-counts/{int:count_id}",
    response=CountOut,
    summary="A count and its lines (expected and variance hidden while a blind count is open)",
)
def cycle_count_get(request: HttpRequest, count_id: int) -> Any:
    return _count_body(request, count_id)


class CountRecordIn(_In):
    counted: Decimal = Field(description="What is on the shelf (0 if none), in billing units")


def _line(request: HttpRequest, count_id: int, line_id: int) -> Any:
    count = queries.cycle_count_for(actor=_user(request), count_id=count_id)
    return queries.cycle_count_line_for(actor=_user(request), count=count, line_id=line_id)


@router.put(
    "/cycle-counts/{int:count_id}/lines/{int:line_id}",
    response=CountLineOut,
    summary="Record (or recount) what is on the shelf for one line",
)
def cycle_count_record(
    request: HttpRequest, count_id: int, line_id: int, payload: CountRecordIn
) -> Any:
    line = count_services.cycle_count_record(
        actor=_user(request), line=_line(request, count_id, line_id), counted=payload.counted
    )
    return queries.sheet_line_of(actor=_user(request), line=line)


class AddLineIn(_In):
    ndc: str = Field(min_length=1, max_length=200, description="The NDC, or a GS1 DataMatrix scan")
    lot_number: str = Field("", max_length=40, description="Blank: the lot the scan carried")
    expiry: dt.date | None = Field(None, description="Blank: the expiry the scan carried")
    counted: Decimal
    location: str = Field("", max_length=30)


@router.post(
    "/cycle-counts/{int:count_id}/lines",
    response={201: CountLineOut},
    summary="Add a lot found on the shelf that the count did not list",
)
def cycle_count_add_line(request: HttpRequest, count_id: int, payload: AddLineIn) -> Any:
    count = queries.cycle_count_for(actor=_user(request), count_id=count_id)
    line = count_services.cycle_count_add_line(
        actor=_user(request), count=count, **payload.model_dump()
    )
    return Status(201, queries.sheet_line_of(actor=_user(request), line=line))


@router.post(
    "/cycle-counts/{int:count_id}/submit",
    response=CountOut,
    summary="Submit the count (every line counted); variances show from now on",
)
def cycle_count_submit(request: HttpRequest, count_id: int) -> Any:
    count = queries.cycle_count_for(actor=_user(request), count_id=count_id)
    count_services.cycle_count_submit(actor=_user(request), count=count)
    return _count_body(request, count_id)


class InvestigateIn(_In):
    note: str = Field("", max_length=2000)
    adjust_reason: AdjustReason | Literal[""] = ""


@router.post(
    "/cycle-counts/{int:count_id}/lines/{int:line_id}/investigate",
    response=CountLineOut,
    summary="Add an investigation note and/or the reason code of a variance",
)
def cycle_count_investigate(
    request: HttpRequest, count_id: int, line_id: int, payload: InvestigateIn
) -> Any:
    line = count_services.cycle_count_investigate(
        actor=_user(request), line=_line(request, count_id, line_id), **payload.model_dump()
    )
    return queries.sheet_line_of(actor=_user(request), line=line)


class CountWitnessIn(_In):
    """A second authorized person, re-authenticating now (controlled substances)."""

    username: str = Field("", max_length=150)
    password: str = Field("", max_length=128)
    otp: str = Field("", max_length=10, description="Six digits, where an authenticator is set up")


class ApproveIn(_In):
    witness: CountWitnessIn | None = Field(
        None,
        description="Required when a controlled-substance line has a variance (a count "
        "correction): a second person's sign-in",
    )


def _approve_body(request: HttpRequest) -> ApproveIn:
    """The optional JSON body: none at all (no controlled variance) or ApproveIn. Read
    here, as ninja answers a missing body of a declared parameter with 400."""
    raw = request.body
    if request.content_type != "application/json" or not raw.strip():
        return ApproveIn(witness=None)
    try:
        data = json.loads(raw)
    except ValueError:
        raise Invalid("The body is not JSON.", field="body") from None
    try:
        return ApproveIn.model_validate(data)
    except PydanticError as exc:
        raise NinjaValidationError(
            [{**e, "loc": ("body", *e["loc"])} for e in exc.errors(include_context=False)]
        ) from None


_WITNESS_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "username": {"type": "string", "maxLength": 150},
        "password": {"type": "string", "maxLength": 128},
        "otp": {"type": "string", "maxLength": 10},
    },
}


@router.post(
    "/cycle-counts/{int:count_id}/approve",
    response=CountOut,
    summary="Approve a submitted count: its variances are posted to the ledger",
    description='No body, or `{"witness": {username, password, otp}}`: a second person\'s '
    "sign-in, required when a controlled-substance line has a variance.",
    openapi_extra={
        "requestBody": {
            "required": False,
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "additionalProperties": False,
                        "properties": {"witness": {**_WITNESS_SCHEMA, "nullable": True}},
                    }
                }
            },
        }
    },
)
def cycle_count_approve(request: HttpRequest, count_id: int) -> Any:
    authorize(_user(request), Cap.INVENTORY_APPROVE)  # a refused role: 403 whatever the body
    count = queries.cycle_count_for(actor=_user(request), count_id=count_id)
    witness = _approve_body(request).witness
    count_services.cycle_count_approve(
        actor=_user(request),
        count=count,
        witness=witness.model_dump() if witness is not None else None,
    )
    return _count_body(request, count_id)


class CountCancelIn(_In):
    reason: str = Field(min_length=1, max_length=200)


@router.post(
    "/cycle-counts/{int:count_id}/cancel",
    response=CountOut,
    summary="Cancel an open or submitted count (nothing is posted)",
)
def cycle_count_cancel(request: HttpRequest, count_id: int, payload: CountCancelIn) -> Any:
    count = queries.cycle_count_for(actor=_user(request), count_id=count_id)
    count_services.cycle_count_cancel(actor=_user(request), count=count, reason=payload.reason)
    return _count_body(request, count_id)


# --- Expiring stock ---------------------------------------------------------------------------


class ExpiringOut(Schema):
    balance_id: int
    ndc11: str
    ndc10: str
    name: str
    strength: str
    dosage_form: str
    controlled: str
    lot: str
    expiry: dt.date
    days_left: int = Field(description="Negative once expired")
    expired: bool
    quantity: Decimal
    billing_unit: str
    location: str
    status: LotStatus


class ExpiringFilter(Schema):
    days: int = Field(
        queries.DEFAULT_EXPIRY_DAYS,
        ge=0,
        le=queries.MAX_EXPIRY_DAYS,
        description="Expired, or expiring within this many days",
    )


@router.get(
    "/stock/expiring",
    response=list[ExpiringOut],
    summary="Expired and short-dated stock on hand",
)
def stock_expiring(request: HttpRequest, filters: Query[ExpiringFilter]) -> Any:
    return queries.expiring_stock(actor=_user(request), days=filters.days)


class QuarantineIn(_In):
    location: str = Field(
        "", max_length=30, description="A quarantine area's code to move the lots to (optional)"
    )


class QuarantineOut(Schema):
    quarantined: int = Field(description="How many lots were marked expired")


@router.post(
    "/stock/expired-quarantine",
    response=QuarantineOut,
    summary="Mark every expired lot on hand as expired (the nightly sweep, run now)",
)
def stock_expired_quarantine(request: HttpRequest, payload: QuarantineIn) -> Any:
    changed = removal.stock_expired_quarantine(
        actor=_user(request), location=payload.location or None
    )
    return {"quarantined": changed}


# --- Returns to vendor --------------------------------------------------------------------------


class SupplierRefOut(Schema):
    id: int
    name: str
    reverse_distributor: bool


class ReturnLineOut(Schema):
    id: int
    ndc11: str
    ndc10: str
    name: str
    description: str
    lot: str
    expiry: dt.date | None
    quantity: Decimal
    billing_unit: str
    reason: str
    dea_form_222: str


class ReturnSummaryOut(Schema):
    id: int
    kind: VendorReturnKind
    status: VendorReturnStatus
    supplier: SupplierRefOut
    recall_id: int | None
    packed_by: str
    packed_at: dt.datetime
    carrier: str
    tracking_number: str
    shipped_by: str
    shipped_at: dt.datetime | None
    credit_expected: Decimal | None
    credit_received: Decimal | None
    credited_at: dt.datetime | None
    note: str

    @staticmethod
    def resolve_packed_by(obj: VendorReturn) -> str:
        return _name(obj.packed_by)

    @staticmethod
    def resolve_shipped_by(obj: VendorReturn) -> str:
        return _name(obj.shipped_by)


class ReturnOut(ReturnSummaryOut):
    lines: list[ReturnLineOut]

    @staticmethod
    def resolve_lines(obj: VendorReturn) -> list[dict[str, Any]]:
        return [
            {
                "id": line.pk,
                "ndc11": line.package.ndc11,
                "ndc10": line.package.ndc10,
                "name": line.package.product.display_name,
                "description": line.package.description,
                "lot": line.lot.number,
                "expiry": line.lot.expiry,
                "quantity": line.quantity,
                "billing_unit": line.package.billing_unit,
                "reason": line.reason,
                "dea_form_222": removal.dea_form_222_of(line),
            }
            for line in queries.vendor_return_lines(obj)
        ]


class ReturnFilter(Schema):
    status: VendorReturnStatus | None = None


@router.get("/vendor-returns", response=list[ReturnSummaryOut], summary="List returns to vendor")
def vendor_return_list(request: HttpRequest, filters: Query[ReturnFilter]) -> Any:
    return list(queries.vendor_return_list(actor=_user(request), status=filters.status or "")[:200])


class ReturnLineIn(_In):
    balance: int | None = Field(None, description="The stock to return; or give ndc + lot_number")
    ndc: str = Field("", max_length=200)
    lot_number: str = Field("", max_length=40)
    quantity: Decimal = Field(description="In billing units")
    reason: str = Field("", max_length=200)
    dea_form_222: str = Field(
        "", max_length=40, description="Schedule II: the DEA Form 222 the supplier issued"
    )


class VendorReturnIn(_In):
    kind: VendorReturnKind
    supplier: int
    lines: list[ReturnLineIn] = Field(min_length=1, max_length=removal.MAX_LINES)
    credit_expected: Decimal | None = None
    note: str = Field("", max_length=500)
    recall: int | None = Field(None, description="The recall a recall return belongs to")


def _recall(recall_id: int | None) -> Recall | None:
    if recall_id is None:
        return None
    found = queries.recall_of(recall_id)
    if found is None:
        raise Invalid("No such recall.", field="recall")
    return found


@router.post(
    "/vendor-returns",
    response={201: ReturnOut},
    summary="Pack a return to a vendor or reverse distributor (a draft until shipped)",
)
def vendor_return_create(request: HttpRequest, payload: VendorReturnIn) -> Any:
    data = payload.model_dump()
    packed = removal.vendor_return_create(
        actor=_user(request),
        kind=data["kind"],
        supplier=data["supplier"],
        lines=data["lines"],
        credit_expected=data["credit_expected"],
        note=data["note"],
        recall=_recall(data["recall"]),
    )
    return Status(201, queries.vendor_return_for(actor=_user(request), return_id=packed.pk))


@router.get("/vendor-returns/{int:return_id}", response=ReturnOut, summary="A return to vendor")
def vendor_return_get(request: HttpRequest, return_id: int) -> Any:
    return queries.vendor_return_for(actor=_user(request), return_id=return_id)


class ShipIn(_In):
    carrier: str = Field(min_length=1, max_length=60)
    tracking_number: str = Field(min_length=1, max_length=60)


@router.post(
    "/vendor-returns/{int:return_id}/ship",
    response=ReturnOut,
    summary="Ship a packed return: its lines leave stock",
)
def vendor_return_ship(request: HttpRequest, return_id: int, payload: ShipIn) -> Any:
    found = queries.vendor_return_for(actor=_user(request), return_id=return_id)
    removal.vendor_return_ship(actor=_user(request), vendor_return=found, **payload.model_dump())
    return queries.vendor_return_for(actor=_user(request), return_id=return_id)


class CreditIn(_In):
    credit_received: Decimal = Field(ge=0)


@router.post(
    "/vendor-returns/{int:return_id}/credit",
    response=ReturnOut,
    summary="Record the credit received for a shipped return",
)
def vendor_return_credit(request: HttpRequest, return_id: int, payload: CreditIn) -> Any:
    found = queries.vendor_return_for(actor=_user(request), return_id=return_id)
    removal.vendor_return_credit(
        actor=_user(request), vendor_return=found, credit_received=payload.credit_received
    )
    return queries.vendor_return_for(actor=_user(request), return_id=return_id)


class VendorReturnCloseIn(_In):
    note: str = Field("", max_length=200, description="Required to close a draft")


@router.post(
    "/vendor-returns/{int:return_id}/close",
    response=ReturnOut,
    summary="Close a return (shipped, credited, or a draft that will not ship)",
)
def vendor_return_close(request: HttpRequest, return_id: int, payload: VendorReturnCloseIn) -> Any:
    found = queries.vendor_return_for(actor=_user(request), return_id=return_id)
    removal.vendor_return_close(actor=_user(request), vendor_return=found, note=payload.note)
    return queries.vendor_return_for(actor=_user(request), return_id=return_id)
