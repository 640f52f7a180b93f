"""API of the point of sale (pse): pseudoephedrine/ephedrine sales, the purchaser's standing
against the CMEA limits, and the logbook. Parse, call a service or query, serialize."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, Literal

from django.http import HttpRequest, HttpResponse
from ninja import Field, Query, Router, Schema, Status

from rxdesk.core.capabilities import Cap
from rxdesk.core.errors import NotFound
from rxdesk.core.services import authorize
from rxdesk.pos.choices import IdType
from rxdesk.pos.models import PseEntry, Sale, SaleLine
from rxdesk.pos.services import pse

router = Router(tags=["Point of sale"])

MAX_ID = 2**63 - 1


def _user(request: HttpRequest) -> Any:
    return request.user


class _In(Schema):
    model_config = {"extra": "forbid"}


class PurchaserIn(_In):
    first_name: str = Field(max_length=60)
    last_name: str = Field(max_length=60)
    date_of_birth: dt.date
    address_line1: str = Field(max_length=120)
    address_line2: str = Field("", max_length=120)
    city: str = Field(max_length=80)
    state: str = Field(max_length=2, description="Two-letter postal code")
    postal_code: str = Field(max_length=10)
    id_type: IdType
    id_number: str = Field(max_length=30)
    id_state: str = Field("", max_length=2, description="The state that issued the ID")
    id_expiry: dt.date

    def purchaser(self) -> pse.Purchaser:
        return pse.Purchaser(**self.model_dump())


class PseSaleIn(_In):
    code: str = Field(max_length=200, description="Scanned or typed NDC, UPC or GS1 code")
    packages: int = Field(ge=1, le=pse.MAX_PACKAGES)
    mail_order: bool = False
    purchaser: PurchaserIn
    signature: str = Field(
        max_length=400_000,
        description="The purchaser's signature: a PNG as base64 or a data:image/png URL",
    )


class StandingIn(_In):
    purchaser: PurchaserIn
    mail_order: bool = False


class PseLineOut(Schema):
    id: int
    sale_id: int
    description: str
    packages: int
    unit_price: Decimal
    amount: Decimal
    tax: Decimal
    base_mg: Decimal
    sale_total: Decimal


class PseStandingOut(Schema):
    today_mg: Decimal = Field(description="Base bought here today (the pharmacy's day)")
    thirty_day_mg: Decimal = Field(description="Base bought here in the last 30 days")
    mail_thirty_day_mg: Decimal
    left_today_mg: Decimal
    left_thirty_day_mg: Decimal
    daily_limit_mg: Decimal
    thirty_day_limit_mg: Decimal
    mail_thirty_day_limit_mg: Decimal
    mail_order: bool


class PseLogQuery(Schema):
    start: dt.date
    end: dt.date
    q: str = Field("", max_length=80)
    format: Literal["json", "csv"] = "json"


class PseEntryOut(Schema):
    id: int
    sale_id: int
    sold_at: dt.datetime
    seller: str
    first_name: str
    last_name: str
    date_of_birth: dt.date
    address_line1: str
    address_line2: str
    city: str
    state: str
    postal_code: str
    id_type: IdType
    id_number: str
    id_state: str
    id_expiry: dt.date
    ndc11: str
    product_name: str
    packages: int
    dosage_units: Decimal
    base_mg: Decimal
    mail_order: bool
    signature_sha256: str
    voided_at: dt.datetime | None
    void_reason: str

    @staticmethod
    def resolve_seller(obj: PseEntry) -> str:
        return obj.sold_by.username


class PseLogOut(Schema):
    retained_since: dt.date = Field(description="Entries are kept two years from this date")
    entries: list[PseEntryOut]


def _sale(actor: Any, sale_id: int) -> Sale:
    sale = None
    if 0 < sale_id <= MAX_ID:
        sale = Sale.objects.filter(pk=sale_id, site_id=actor.site_id).first()
    if sale is None:
        raise NotFound("No such sale at this pharmacy.")
    return sale


def _line_out(line: SaleLine) -> dict[str, Any]:
    return {
        "id": line.pk,
        "sale_id": line.sale_id,
        "description": line.description,
        "packages": int(line.quantity),
        "unit_price": line.unit_price,
        "amount": line.amount,
        "tax": line.tax,
        "base_mg": line.pse_base_mg,
        "sale_total": line.sale.total,
    }


def _standing_out(s: pse.PseStanding) -> dict[str, Any]:
    return {
        "today_mg": s.today_mg,
        "thirty_day_mg": s.thirty_day_mg,
        "mail_thirty_day_mg": s.mail_thirty_day_mg,
        "left_today_mg": s.left_today_mg,
        "left_thirty_day_mg": s.left_thirty_day_mg,
        "daily_limit_mg": s.limits.daily_mg,
        "thirty_day_limit_mg": s.limits.thirty_day_mg,
        "mail_thirty_day_limit_mg": s.limits.mail_thirty_day_mg,
        "mail_order": s.mail_order,
    }


@router.post(
    "/sales/{int:sale_id}/pse",
    response={201: PseLineOut},
    summary="Sell a pseudoephedrine/ephedrine product (CMEA logbook entry)",
    description=(
        "Checks the purchaser's photo ID and the daily (3.6 g) and 30-day (9 g; 7.5 g by mail) "
        "limits in base over this pharmacy's logbook; 409 naming `packages` with the most "
        "still allowed when over a limit."
    ),
)
def pse_sell(request: HttpRequest, sale_id: int, payload: PseSaleIn) -> Any:
    actor = _user(request)
    authorize(actor, Cap.POS_PSE_SELL)  # before the sale is looked up
    line = pse.pse_add(
        actor=actor,
        sale=_sale(actor, sale_id),
        code=payload.code,
        packages=payload.packages,
        purchaser=payload.purchaser.purchaser(),
        signature=payload.signature,
        mail_order=payload.mail_order,
    )
    return Status(201, _line_out(line))


@router.post(
    "/pse/limits",
    response=PseStandingOut,
    summary="What a purchaser bought here today and in 30 days, and what is left",
)
def pse_standing(request: HttpRequest, payload: StandingIn) -> Any:
    standing = pse.pse_limits(
        actor=_user(request),
        purchaser=payload.purchaser.purchaser(),
        mail_order=payload.mail_order,
    )
    return _standing_out(standing)


@router.get(
    "/pse/log",
    response=PseLogOut,
    summary="The CMEA logbook between two dates (JSON, or CSV with format=csv)",
)
def pse_logbook(request: HttpRequest, filters: Query[PseLogQuery]) -> Any:
    actor = _user(request)
    entries = pse.pse_log(
        actor=actor,
        start=filters.start,
        end=filters.end,
        q=filters.q,
        export=filters.format == "csv",
    )
    if filters.format == "csv":
        response = HttpResponse(pse.pse_log_csv(entries), content_type="text/csv; charset=utf-8")
        name = f"pse-log-{filters.start:%Y%m%d}-{filters.end:%Y%m%d}.csv"
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        response["Cache-Control"] = "no-store"
        return response
    return {"retained_since": pse.pse_log_retained_since(actor.site), "entries": entries}
