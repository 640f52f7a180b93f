"""API of the plan file: payers (processors and their switch endpoints) and plans (BIN, PCN,
group). Parse, call rxdesk.claims.services_plans, serialize.

Writes check ``claims.plans`` before ninja reads the body (a role without it gets 403
whatever it sends); reads are checked by the service (``claims.view`` or ``claims.plans``)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema, Status

from rxdesk.claims import services_plans as plans
from rxdesk.claims.models import Payer, Plan
from rxdesk.core.capabilities import Cap
from rxdesk.core.errors import Invalid, NotFound
from rxdesk.rx.api_fills import BearerToken, BrowserSession

router = Router(tags=["claims"])

MAX_ID = 2**63 - 1


def _gate(*caps: Cap) -> list[Any]:
    return [BearerToken(*caps), BrowserSession(*caps)]


def _user(request: HttpRequest) -> Any:
    return request.user


class _In(Schema):
    model_config = {"extra": "forbid"}


# --- Payers -----------------------------------------------------------------------------------


class PayerOut(Schema):
    id: int
    name: str
    processor_name: str
    help_desk_phone: str
    host: str = Field(description="The switch's host name or address")
    port: int = Field(description="The switch's TCP port")
    timeout_seconds: int
    software_vendor_id: str
    active: bool
    created_at: dt.datetime


class PayerIn(_In):
    name: str = Field(max_length=80)
    processor_name: str = Field("", max_length=80)
    help_desk_phone: str = Field("", max_length=20, description="10 digits, like 800-555-0100")
    host: str = Field("127.0.0.1", max_length=255)
    port: int = Field(description="1 to 65535")
    timeout_seconds: int = Field(15, description="1 to 120 seconds")
    software_vendor_id: str = Field("", max_length=10)
    active: bool = True


class PayerPatch(_In):
    name: str | None = Field(None, max_length=80)
    processor_name: str | None = Field(None, max_length=80)
    help_desk_phone: str | None = Field(None, max_length=20)
    host: str | None = Field(None, max_length=255)
    port: int | None = None
    timeout_seconds: int | None = None
    software_vendor_id: str | None = Field(None, max_length=10)
    active: bool | None = None


@router.get("/payers", response=list[PayerOut], summary="The payers (processors) in the plan file")
def payer_list(request: HttpRequest) -> Any:
    return list(plans.payer_list(actor=_user(request)))


@router.post(
    "/payers",
    response={201: PayerOut},
    auth=_gate(Cap.CLAIMS_PLANS),
    summary="Add a payer (processor) and its switch endpoint",
)
def payer_create(request: HttpRequest, payload: PayerIn) -> Any:
    return Status(201, plans.payer_create(actor=_user(request), **payload.model_dump()))


@router.patch(
    "/payers/{int:payer_id}",
    response=PayerOut,
    auth=_gate(Cap.CLAIMS_PLANS),
    summary="Change a payer (active=false retires it)",
)
def payer_patch(request: HttpRequest, payer_id: int, payload: PayerPatch) -> Any:
    actor = _user(request)
    payer = plans.payer_get(actor=actor, payer_id=payer_id)
    return plans.payer_update(actor=actor, payer=payer, **payload.model_dump(exclude_unset=True))


# --- Plans ------------------------------------------------------------------------------------


class PayerRef(Schema):
    id: int
    name: str


class PlanOut(Schema):
    id: int
    payer: PayerRef
    name: str
    bin: str
    pcn: str
    group: str = Field(description="Blank: any group under the BIN and PCN")
    help_desk_phone: str = Field(description="The plan's own help desk (blank: the payer's)")
    phone: str = Field(description="The help desk to call: the plan's, else the payer's")
    return_to_stock_days: int
    max_days_supply: int | None
    max_days_supply_mail: int | None
    dispensing_fee: Decimal
    active: bool
    created_at: dt.datetime


class PlanIn(_In):
    payer_id: int = Field(ge=1, le=MAX_ID)
    name: str = Field(max_length=80)
    bin: str = Field(max_length=6, description="6 digits")
    pcn: str = Field("", max_length=10)
    group: str = Field("", max_length=15, description="Blank: any group")
    help_desk_phone: str = Field("", max_length=20)
    return_to_stock_days: int = Field(14, description="1 to 90 days")
    max_days_supply: int | None = Field(None, description="1 to 365 (blank: none known)")
    max_days_supply_mail: int | None = None
    dispensing_fee: Decimal = Field(Decimal("0"), max_digits=10, decimal_places=2)
    active: bool = True


class PlanPatch(_In):
    payer_id: int | None = Field(None, ge=1, le=MAX_ID)
    name: str | None = Field(None, max_length=80)
    bin: str | None = Field(None, max_length=6)
    pcn: str | None = Field(None, max_length=10)
    group: str | None = Field(None, max_length=15)
    help_desk_phone: str | None = Field(None, max_length=20)
    return_to_stock_days: int | None = None
    max_days_supply: int | None = None
    max_days_supply_mail: int | None = None
    dispensing_fee: Decimal | None = Field(None, max_digits=10, decimal_places=2)
    active: bool | None = None


class PlanQuery(Schema):
    bin: str = Field("", max_length=6, description="Only the plans of this BIN")


def _payer_for(actor: Any, payer_id: int) -> Payer:
    try:
        return plans.payer_get(actor=actor, payer_id=payer_id)
    except NotFound:
        raise Invalid("No such payer in the plan file.", field="payer_id") from None


def _values(payload: Schema, *, exclude_unset: bool = False) -> dict[str, Any]:
    values = payload.model_dump(exclude_unset=exclude_unset)
    values.pop("payer_id", None)
    return values


@router.get("/plans", response=list[PlanOut], summary="The plans in the plan file (?bin=)")
def plan_list(request: HttpRequest, q: Query[PlanQuery]) -> Any:
    return list(plans.plan_list(actor=_user(request), bin=q.bin))


@router.post(
    "/plans",
    response={201: PlanOut},
    auth=_gate(Cap.CLAIMS_PLANS),
    summary="Add a plan under a payer",
)
def plan_create(request: HttpRequest, payload: PlanIn) -> Any:
    actor = _user(request)
    payer = _payer_for(actor, payload.payer_id)
    return Status(201, plans.plan_create(actor=actor, payer=payer, **_values(payload)))


@router.get("/plans/{int:plan_id}", response=PlanOut, summary="One plan")
def plan_detail(request: HttpRequest, plan_id: int) -> Plan:
    return plans.plan_get(actor=_user(request), plan_id=plan_id)


@router.patch(
    "/plans/{int:plan_id}",
    response=PlanOut,
    auth=_gate(Cap.CLAIMS_PLANS),
    summary="Change a plan (active=false deactivates it; its claims stay)",
)
def plan_patch(request: HttpRequest, plan_id: int, payload: PlanPatch) -> Any:
    actor = _user(request)
    plan = plans.plan_get(actor=actor, plan_id=plan_id)
    values = _values(payload, exclude_unset=True)
    if payload.payer_id is not None:
        values["payer"] = _payer_for(actor, payload.payer_id)
    return plans.plan_update(actor=actor, plan=plan, **values)
