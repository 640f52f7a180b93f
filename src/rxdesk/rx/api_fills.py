"""API for the fill workflow: the queues, a fill with its steps and history, and each step
(data verification, fill, final verification, hold, release, priority, sale, return to
stock). Parse, call a service or query, serialize.

The role is checked before ninja reads the body (each step's operation authenticates with
the API's own token or session and then checks the step's capabilities), so a role without
the step gets 403 whatever it sends, and learns nothing about the fill; the services check
again. Fills of another pharmacy do not exist here (404)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from decimal import Decimal
from typing import Any, Literal

from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from ninja import Field, Query, Router, Schema
from ninja.security import APIKeyCookie, HttpBearer

from rxdesk.catalog import queries as catalog_queries
from rxdesk.catalog.models import Package
from rxdesk.core.capabilities import Cap
from rxdesk.core.errors import DomainError, Invalid
from rxdesk.core.models import User
from rxdesk.core.services import authorize
from rxdesk.inventory.models import StockMove
from rxdesk.rx import queries_fills
from rxdesk.rx.choices import (
    FillStatus,
    FillStep,
    HoldReason,
    PartialReason,
    Priority,
)
from rxdesk.rx.models import Fill, FillEvent
from rxdesk.rx.services import workflow
from rxdesk.rx.services.common import settings_of

router = Router(tags=["fill workflow"])

MAX_ID = 2**63 - 1
# A waiter, a STAT order or a first dose is timed against the site's service target.
TIMED = frozenset({Priority.STAT, Priority.FIRST_DOSE, Priority.WAITER})


def _user(request: HttpRequest) -> Any:
    return request.user


# --- The role, before the body ----------------------------------------------------------------


def _allowed(user: Any, caps: tuple[Cap, ...]) -> Any:
    if user is not None:
        for cap in caps:
            authorize(user, cap)  # Forbidden: answered 403 before the body is parsed
    return user


class BearerToken(HttpBearer):
    """The API's bearer token (rxdesk.api.BearerToken), then the step's capabilities.
    Named as the API's scheme, so the OpenAPI security is the same."""

    def __init__(self, *caps: Cap) -> None:
        self.caps = caps
        super().__init__()

    def authenticate(self, request: HttpRequest, token: str) -> Any:
        from rxdesk.api import BearerToken as ApiBearer  # the API root imports this module

        return _allowed(ApiBearer().authenticate(request, token), self.caps)


class BrowserSession(APIKeyCookie):
    """The signed-in browser's session (with its CSRF check), then the capabilities."""

    param_name = "sessionid"

    def __init__(self, *caps: Cap) -> None:
        self.caps = caps
        super().__init__()

    def authenticate(self, request: HttpRequest, key: str | None) -> Any:
        from rxdesk.api import BrowserSession as ApiSession

        return _allowed(ApiSession().authenticate(request, key), self.caps)


def _gate(*caps: Cap) -> list[Any]:
    return [BearerToken(*caps), BrowserSession(*caps)]


# --- Input ------------------------------------------------------------------------------------


class _In(Schema):
    model_config = {"extra": "forbid"}


class FillQueueQuery(Schema):
    status: FillStatus = Field(FillStatus.QUEUED, description="The step's queue (default queued)")
    priority: Priority | None = None
    patient_id: int | None = Field(None, ge=1, le=MAX_ID)
    prescriber_id: int | None = Field(None, ge=1, le=MAX_ID)
    product_id: int | None = Field(None, ge=1, le=MAX_ID)
    limit: int = Field(100, ge=1, le=500)


class DataVerificationIn(_In):
    approve: bool = Field(True, description="False sends the fill back (give `reason`)")
    reason: str = Field("", max_length=300)


class FillIn(_In):
    scanned_code: str = Field(
        "",
        max_length=200,
        description="What the scanner read: NDC, UPC-A, GTIN-14 or a GS1 DataMatrix string "
        "(which also gives the lot and expiry). Empty only when a pharmacist accepts a "
        "package picked by hand (`package_ndc` and `override_reason`).",
    )
    quantity: Decimal | None = Field(
        None,
        max_digits=10,
        decimal_places=3,
        description="The count, in the prescription's unit; default the fill's quantity",
    )
    package_ndc: str | None = Field(
        None, max_length=40, description="The package picked by hand when no barcode scans"
    )
    override_reason: str = Field(
        "",
        max_length=300,
        description="Pharmacist only: why a package whose scan did not match is accepted",
    )
    partial_reason: PartialReason | Literal[""] = Field(
        "", description="Why less than the fill's quantity is dispensed (Schedule II)"
    )


class FinalVerificationIn(_In):
    approve: bool = Field(True, description="False sends the fill back to be filled again")
    reason: str = Field("", max_length=300)
    bin: str = Field("", max_length=10, description="Will-call bin; default the last initial")


class FillHoldIn(_In):
    reason: HoldReason
    note: str = Field("", max_length=200)


class PriorityIn(_In):
    priority: Priority
    promised_at: dt.datetime | None = Field(
        None, description="With its time zone; required for `promised`"
    )


class ReturnIn(_In):
    reason: str = Field(max_length=300, description="Why it goes back (not picked up, …)")


# --- Output -----------------------------------------------------------------------------------


class FillPatientRef(Schema):
    id: int
    name: str


class FillQueueItemOut(Schema):
    id: int
    prescription_id: int
    rx_number: int
    fill_number: int
    status: FillStatus
    priority: Priority
    promised_at: dt.datetime | None
    requested_at: dt.datetime
    minutes_waiting: int = Field(description="Since the fill was asked for")
    over_target: bool = Field(
        description="A STAT, first-dose or waiter fill waiting longer than the site's "
        "service target"
    )
    patient: FillPatientRef
    drug: str
    quantity: str


class FillStepOut(Schema):
    by: str | None
    at: dt.datetime | None


class FillStepsOut(Schema):
    entered: FillStepOut
    data_verified: FillStepOut
    filled: FillStepOut
    final_verified: FillStepOut
    sold: FillStepOut
    returned: FillStepOut


class FillPackageRef(Schema):
    ndc10: str
    ndc11: str
    description: str


class FillLotOut(Schema):
    lot_number: str
    expiry: dt.date | None
    quantity: str = Field(description="Taken from this lot for the fill and not put back")
    returned: str = Field(description="Put back on the shelf (sent back or returned to stock)")


class FillEventOut(Schema):
    step: FillStep
    step_label: str
    from_status: str
    to_status: str
    actor_name: str
    at: dt.datetime
    reason: str


class FillDetailOut(Schema):
    id: int
    prescription_id: int
    rx_number: int
    fill_number: int
    status: FillStatus
    status_label: str
    priority: Priority
    promised_at: dt.datetime | None
    requested_at: dt.datetime
    patient: FillPatientRef
    drug: str
    quantity: str
    days_supply: int
    partial_reason: str
    fillable_on: dt.date | None
    hold_reason: str
    hold_note: str
    package: FillPackageRef | None = Field(description="The package counted out")
    scanned_code: str
    scan_override_reason: str
    device: str
    bin: str
    ready_at: dt.datetime | None
    labels_printed: int
    steps: FillStepsOut
    lots: list[FillLotOut]
    history: list[FillEventOut]


class WillCallOut(Schema):
    id: int
    prescription_id: int
    rx_number: int
    fill_number: int
    patient: FillPatientRef
    drug: str
    quantity: str
    bin: str
    ready_at: dt.datetime | None
    days_waiting: int


# --- Reads ------------------------------------------------------------------------------------


def _qty(value: Decimal) -> str:
    return format(value.normalize(), "f") if value else "0"


def _queue(actor: User, q: FillQueueQuery) -> list[Fill]:
    """Fills of the actor's site at one status, in the workstation queues' order."""
    authorize(actor, Cap.RX_VIEW)
    qs: QuerySet[Fill] = Fill.objects.filter(site_id=actor.site_id, status=q.status)
    if q.priority:
        qs = qs.filter(priority=q.priority)
    if q.patient_id:
        qs = qs.filter(prescription__patient_id=q.patient_id)
    if q.prescriber_id:
        qs = qs.filter(prescription__prescriber_id=q.prescriber_id)
    if q.product_id:
        qs = qs.filter(prescription__product_id=q.product_id)
    return list(queries_fills.ordered(qs.select_related("prescription__patient"))[: q.limit])


def _fill_of(actor: User, fill_id: int) -> Fill:
    return queries_fills.fill_get(actor=actor, fill_id=fill_id)


# --- Serializers ------------------------------------------------------------------------------


def _patient(fill: Fill) -> dict[str, Any]:
    p = fill.prescription.patient
    return {"id": p.pk, "name": p.full_name}


def _queue_item(fill: Fill, now: dt.datetime, target: int) -> dict[str, Any]:
    rx = fill.prescription
    waiting = max(0, int((now - fill.requested_at).total_seconds() // 60))
    return {
        "id": fill.pk,
        "prescription_id": rx.pk,
        "rx_number": rx.number,
        "fill_number": fill.number,
        "status": fill.status,
        "priority": fill.priority,
        "promised_at": fill.promised_at,
        "requested_at": fill.requested_at,
        "minutes_waiting": waiting,
        "over_target": fill.priority in TIMED and waiting > target,
        "patient": _patient(fill),
        "drug": rx.drug_description,
        "quantity": _qty(fill.quantity),
    }


def _step(by: User | None, at: dt.datetime | None) -> dict[str, Any]:
    return {"by": by.display_name if by else None, "at": at}


def _lots(fill: Fill) -> list[dict[str, Any]]:
    """Each lot the fill's stock moves touched: what is still out, what came back."""
    moves = StockMove.objects.filter(
        site_id=fill.site_id, reference_type="fill", reference_id=str(fill.pk)
    ).select_related("lot")
    lots: dict[int, dict[str, Any]] = {}
    for move in moves.order_by("id"):
        lot = lots.setdefault(
            move.lot_id,
            {"lot": move.lot, "out": Decimal(0), "back": Decimal(0)},
        )
        lot["out" if move.quantity < 0 else "back"] += abs(move.quantity)
    return [
        {
            "lot_number": v["lot"].number,
            "expiry": v["lot"].expiry,
            "quantity": _qty(v["out"] - v["back"]),
            "returned": _qty(v["back"]),
        }
        for v in lots.values()
    ]


def _history(events: Iterable[FillEvent]) -> list[dict[str, Any]]:
    return [
        {
            "step": e.step,
            "step_label": e.get_step_display(),
            "from_status": e.from_status,
            "to_status": e.to_status,
            "actor_name": e.actor_name,
            "at": e.at,
            "reason": e.reason,
        }
        for e in events
    ]


def _detail(fill: Fill) -> dict[str, Any]:
    rx = fill.prescription
    package: Package | None = fill.package
    return {
        "id": fill.pk,
        "prescription_id": rx.pk,
        "rx_number": rx.number,
        "fill_number": fill.number,
        "status": fill.status,
        "status_label": fill.get_status_display(),
        "priority": fill.priority,
        "promised_at": fill.promised_at,
        "requested_at": fill.requested_at,
        "patient": _patient(fill),
        "drug": rx.drug_description,
        "quantity": _qty(fill.quantity),
        "days_supply": fill.days_supply,
        "partial_reason": fill.partial_reason,
        "fillable_on": fill.fillable_on,
        "hold_reason": fill.hold_reason,
        "hold_note": fill.hold_note,
        "package": (
            {
                "ndc10": package.ndc10,
                "ndc11": package.ndc11,
                "description": package.description,
            }
            if package
            else None
        ),
        "scanned_code": fill.scanned_code,
        "scan_override_reason": fill.scan_override_reason,
        "device": fill.device,
        "bin": fill.bin,
        "ready_at": fill.ready_at,
        "labels_printed": fill.labels_printed,
        "steps": {
            "entered": _step(fill.requested_by, fill.requested_at),
            "data_verified": _step(fill.data_verified_by, fill.data_verified_at),
            "filled": _step(fill.filled_by, fill.dispensed_at),
            "final_verified": _step(fill.verified_by, fill.verified_at),
            "sold": _step(fill.sold_by, fill.sold_at),
            "returned": _step(fill.returned_by, fill.returned_at),
        },
        "lots": _lots(fill),
        "history": _history(fill.events.order_by("at", "pk")),
    }


def _fresh(actor: User, fill: Fill) -> dict[str, Any]:
    return _detail(_fill_of(actor, fill.pk))


# --- Queues -----------------------------------------------------------------------------------


@router.get(
    "/fills",
    response=list[FillQueueItemOut],
    summary="A step's queue: fills most urgent first (STAT, first dose, waiter, promised…)",
    description=(
        "Fills of this pharmacy with the given `status` (default queued: waiting for data "
        "verification), sorted by priority, then the promised time, then the oldest request. "
        "`over_target` marks a STAT, first-dose or waiter fill waiting longer than the "
        "site's service target."
    ),
)
def fill_queue(request: HttpRequest, filters: Query[FillQueueQuery]) -> Any:
    actor = _user(request)
    fills = _queue(actor, filters)
    target = settings_of(actor.site).service_target_minutes
    now = timezone.now()
    return [_queue_item(f, now, target) for f in fills]


@router.get(
    "/fills/return-to-stock",
    response=list[WillCallOut],
    summary="Fills waiting in will-call longer than the site's limit (default 10 days)",
)
def fill_return_due(request: HttpRequest) -> Any:
    actor = _user(request)
    now = timezone.now()
    return [
        {
            "id": f.pk,
            "prescription_id": f.prescription_id,
            "rx_number": f.prescription.number,
            "fill_number": f.number,
            "patient": _patient(f),
            "drug": f.prescription.drug_description,
            "quantity": _qty(f.quantity),
            "bin": f.bin,
            "ready_at": f.ready_at,
            "days_waiting": (now - f.ready_at).days if f.ready_at else 0,
        }
        for f in workflow.return_to_stock_due(actor=actor)
    ]


@router.get(
    "/fills/{int:fill_id}",
    response=FillDetailOut,
    summary="A fill: who did each step and when, the package and lots, and its history",
)
def fill_get(request: HttpRequest, fill_id: int) -> Any:
    return _detail(_fill_of(_user(request), fill_id))


# --- Steps ------------------------------------------------------------------------------------


@router.post(
    "/fills/{int:fill_id}/data-verification",
    response=FillDetailOut,
    auth=_gate(Cap.RX_VERIFY_DATA),
    summary="Data verification (pharmacist): approve, or send back with a reason",
    description=(
        "Approved, the fill goes to be filled; sent back (`approve: false`, `reason`), it "
        "waits in the queue with the reason. 409 when the fill is not waiting for data "
        "verification."
    ),
)
def fill_data_verify(request: HttpRequest, fill_id: int, payload: DataVerificationIn) -> Any:
    actor = _user(request)
    authorize(actor, Cap.RX_VERIFY_DATA)
    fill = _fill_of(actor, fill_id)
    workflow.fill_data_verify(
        actor=actor, fill=fill, approve=payload.approve, reason=payload.reason
    )
    return _fresh(actor, fill)


@router.post(
    "/fills/{int:fill_id}/fill",
    response=FillDetailOut,
    auth=_gate(Cap.RX_FILL, Cap.STOCK_DISPENSE),
    summary="Fill: scan the package, count, and take the stock out",
    description=(
        "The scanned package must be the prescribed product or an A-rated equivalent; a "
        "wrong product is a 422 naming `scanned_code` with the reason. Expired, recalled or "
        "quarantined lots are refused. The lot scanned (or first-expiry-first-out) leaves "
        "the stock ledger in the same transaction. A pharmacist may accept a failed scan "
        "with `override_reason`."
    ),
)
def fill_product(request: HttpRequest, fill_id: int, payload: FillIn) -> Any:
    actor = _user(request)
    authorize(actor, Cap.RX_FILL)
    authorize(actor, Cap.STOCK_DISPENSE)
    fill = _fill_of(actor, fill_id)
    package = None
    if payload.package_ndc:
        try:
            package = catalog_queries.resolve_code(actor=actor, code=payload.package_ndc).package
        except DomainError as exc:
            raise Invalid(exc.message, field="package_ndc") from None
    try:
        workflow.fill_product(
            actor=actor,
            fill=fill,
            scanned_code=payload.scanned_code,
            quantity=payload.quantity,
            package=package,
            override_reason=payload.override_reason,
            partial_reason=payload.partial_reason,
        )
    except Invalid as exc:
        errors = [
            {**e, "field": "package_ndc" if e["field"] == "package" else e["field"]}
            for e in exc.errors
        ]
        raise Invalid(errors=errors) from None
    return _fresh(actor, fill)


@router.post(
    "/fills/{int:fill_id}/final-verification",
    response=FillDetailOut,
    auth=_gate(Cap.RX_VERIFY_FINAL),
    summary="Final verification (pharmacist): approve into a will-call bin, or send back",
    description=(
        "Approved, the fill is ready in its will-call bin (`bin`, default the patient's "
        "last initial). Sent back (`approve: false`, `reason`), the product goes back on "
        "the shelf and the fill is filled again."
    ),
)
def fill_final_verify(request: HttpRequest, fill_id: int, payload: FinalVerificationIn) -> Any:
    actor = _user(request)
    authorize(actor, Cap.RX_VERIFY_FINAL)
    fill = _fill_of(actor, fill_id)
    workflow.fill_final_verify(
        actor=actor, fill=fill, approve=payload.approve, reason=payload.reason, bin=payload.bin
    )
    return _fresh(actor, fill)


@router.post(
    "/fills/{int:fill_id}/hold",
    response=FillDetailOut,
    auth=_gate(Cap.RX_FILL),
    summary="Hold a fill (waiting on the prescriber or prior authorization, out of stock…)",
)
def fill_hold(request: HttpRequest, fill_id: int, payload: FillHoldIn) -> Any:
    actor = _user(request)
    authorize(actor, Cap.RX_FILL)
    fill = _fill_of(actor, fill_id)
    workflow.fill_hold(actor=actor, fill=fill, reason=payload.reason, note=payload.note)
    return _fresh(actor, fill)


@router.post(
    "/fills/{int:fill_id}/release",
    response=FillDetailOut,
    auth=_gate(Cap.RX_FILL),
    summary="Take a fill off hold (it goes back to the step it was held at)",
)
def fill_release(request: HttpRequest, fill_id: int) -> Any:
    actor = _user(request)
    authorize(actor, Cap.RX_FILL)
    fill = _fill_of(actor, fill_id)
    workflow.fill_release(actor=actor, fill=fill)
    return _fresh(actor, fill)


@router.post(
    "/fills/{int:fill_id}/priority",
    response=FillDetailOut,
    auth=_gate(Cap.RX_ENTER),
    summary="Mark a fill STAT, first dose, waiter, promised for a time, delivery or normal",
)
def fill_priority_set(request: HttpRequest, fill_id: int, payload: PriorityIn) -> Any:
    actor = _user(request)
    authorize(actor, Cap.RX_ENTER)
    fill = _fill_of(actor, fill_id)
    workflow.fill_priority_set(
        actor=actor, fill=fill, priority=payload.priority, promised_at=payload.promised_at
    )
    return _fresh(actor, fill)


@router.post(
    "/fills/{int:fill_id}/sale",
    response=FillDetailOut,
    auth=_gate(Cap.RX_SELL),
    summary="Hand a ready fill to the patient (sold)",
)
def fill_sell(request: HttpRequest, fill_id: int) -> Any:
    actor = _user(request)
    authorize(actor, Cap.RX_SELL)
    fill = _fill_of(actor, fill_id)
    workflow.fill_sell(actor=actor, fill=fill)
    return _fresh(actor, fill)


@router.post(
    "/fills/{int:fill_id}/return-to-stock",
    response=FillDetailOut,
    auth=_gate(Cap.RX_FILL),
    summary="Put a fill not picked up back on the shelf (the exact lots go back)",
    description="The prescription's quantity reopens; the claim is reversed when one was sent.",
)
def fill_return_to_stock(request: HttpRequest, fill_id: int, payload: ReturnIn) -> Any:
    actor = _user(request)
    authorize(actor, Cap.RX_FILL)
    fill = _fill_of(actor, fill_id)
    workflow.fill_return_to_stock(actor=actor, fill=fill, reason=payload.reason)
    return _fresh(actor, fill)
