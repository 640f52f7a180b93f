"""API of the point of sale (sales): drawers, sales and their payment, cancel, void and
refunds, receipts, house accounts, the day's reports and the counter settings. Parse, call
a service or query, serialize.

Each operation checks the role before ninja reads the body (as the fill workflow's API
does), so a role without the capability gets 403 whatever it sends; the services check
again. Rows of another pharmacy do not exist here (404)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, Literal

from django.http import HttpRequest, HttpResponse
from ninja import Field, Query, Router, Schema, Status

from rxdesk.core.capabilities import Cap
from rxdesk.core.errors import NotFound
from rxdesk.core.models import User
from rxdesk.patients import queries as patient_queries
from rxdesk.pos import queries
from rxdesk.pos.choices import TenderKind
from rxdesk.pos.models import (
    Drawer,
    HouseAccount,
    HouseEntry,
    Pickup,
    Refund,
    Sale,
    SaleLine,
    Tender,
)
from rxdesk.pos.services import accounts, drawers, sales
from rxdesk.pos.services.common import settings_of
from rxdesk.rx.api_fills import BearerToken, BrowserSession

router = Router(tags=["Point of sale"])

MAX_ID = 2**63 - 1
PDF = {
    "responses": {
        200: {
            "description": "The PDF",
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


# --- Drawers ----------------------------------------------------------------------------------


class DrawerOpenIn(_In):
    opening_cash: Decimal = Field(..., ge=0, max_digits=7, decimal_places=2)
    register_name: str = Field("Register 1", min_length=1, max_length=30)


class DrawerCloseIn(_In):
    counted_cash: Decimal = Field(..., ge=0, max_digits=7, decimal_places=2)
    counted_checks: Decimal = Field(Decimal(0), ge=0, max_digits=7, decimal_places=2)
    note: str = Field("", max_length=300, description="Why, when over or short beyond tolerance")


class DrawerOut(Schema):
    id: int
    register_name: str = Field(..., description="The register's name")
    status: str
    opened_by: str
    opened_at: dt.datetime
    opening_cash: Decimal
    closed_by: str | None
    closed_at: dt.datetime | None
    counted_cash: Decimal | None
    counted_checks: Decimal | None
    expected_cash: Decimal | None = Field(description="Known once closed")
    expected_checks: Decimal | None
    over_short: Decimal | None
    close_note: str


class SaleRegisterQuery(Schema):
    register_name: str = Field("Register 1", min_length=1, max_length=30)


def _drawer(d: Drawer) -> dict[str, Any]:
    return {
        "id": d.pk,
        "register_name": d.register,
        "status": d.status,
        "opened_by": d.opened_by.display_name,
        "opened_at": d.opened_at,
        "opening_cash": d.opening_cash,
        "closed_by": d.closed_by.display_name if d.closed_by else None,
        "closed_at": d.closed_at,
        "counted_cash": d.counted_cash,
        "counted_checks": d.counted_checks,
        "expected_cash": d.expected_cash,
        "expected_checks": d.expected_checks,
        "over_short": d.over_short,
        "close_note": d.close_note,
    }


@router.post(
    "/drawers",
    response={201: DrawerOut},
    auth=_gate(Cap.POS_DRAWER),
    summary="Open a register's cash drawer with its opening count",
    description="409 when the register already has an open drawer.",
)
def drawer_open(request: HttpRequest, payload: DrawerOpenIn) -> Any:
    d = drawers.drawer_open(
        actor=_user(request), opening_cash=payload.opening_cash, register=payload.register_name
    )
    return Status(201, _drawer(d))


@router.post(
    "/drawers/{int:drawer_id}/close",
    response=DrawerOut,
    auth=_gate(Cap.POS_DRAWER),
    summary="Count and close a drawer: expected cash, over/short",
    description=(
        "Refused (409) while a sale on the drawer is open. Over or short beyond the "
        "pharmacy's tolerance needs a `note` and a pharmacist closing it."
    ),
)
def drawer_close(request: HttpRequest, drawer_id: int, payload: DrawerCloseIn) -> Any:
    actor = _user(request)
    d = queries.drawer_get(actor=actor, drawer_id=drawer_id)
    d = drawers.drawer_close(
        actor=actor,
        drawer=d,
        counted_cash=payload.counted_cash,
        counted_checks=payload.counted_checks,
        note=payload.note,
    )
    return _drawer(d)


@router.get(
    "/drawers/current",
    response=DrawerOut | None,
    auth=_gate(Cap.RX_SELL),
    summary="The register's open drawer (null when none is open)",
)
def drawer_current(request: HttpRequest, q: Query[SaleRegisterQuery]) -> Any:
    d = drawers.drawer_for(actor=_user(request), register=q.register_name)
    return _drawer(d) if d else None


# --- Sales ------------------------------------------------------------------------------------


class SaleStartIn(_In):
    patient_id: int | None = Field(None, ge=1, le=MAX_ID)
    drawer_id: int | None = Field(None, ge=1, le=MAX_ID)


class ItemIn(_In):
    code: str = Field(..., min_length=1, max_length=200, description="Scanned or typed NDC/UPC")
    quantity: int = Field(1, ge=1, le=99)
    price: Decimal | None = Field(
        None, ge=0, max_digits=7, decimal_places=2, description="Typed price (default: shelf)"
    )


class TenderSchema(_In):
    kind: TenderKind
    amount: Decimal = Field(..., gt=0, max_digits=7, decimal_places=2)
    tendered: Decimal | None = Field(
        None, ge=0, max_digits=7, decimal_places=2, description="Cash handed over"
    )
    reference: str = Field(
        "", max_length=40, description="Card: last four digits and approval code; check number"
    )
    account_id: int | None = Field(None, ge=1, le=MAX_ID, description="House account")


class PaymentIn(_In):
    tenders: list[TenderSchema] = Field(..., max_length=10)


class SaleReasonIn(_In):
    reason: str = Field(..., min_length=1, max_length=300)


class RefundLineIn(_In):
    line_id: int = Field(..., ge=1, le=MAX_ID)
    quantity: Decimal = Field(..., gt=0, max_digits=10, decimal_places=3)


class RefundIn(_In):
    lines: list[RefundLineIn] = Field(..., min_length=1, max_length=50)
    reason: str = Field(..., min_length=1, max_length=300)
    tender_kind: Literal["cash", "card", "fsa_hsa", "house"] = "cash"


class RegisterSaleLineOut(Schema):
    id: int
    kind: str
    description: str
    fill_id: int | None
    ndc11: str | None
    quantity: Decimal
    unit_price: Decimal
    amount: Decimal
    tax: Decimal
    taxable: bool
    fsa_eligible: bool
    refunded_quantity: Decimal
    refunded_amount: Decimal


class TenderOut(Schema):
    id: int
    kind: str
    amount: Decimal
    tendered: Decimal | None
    reference: str
    account_id: int | None
    drawer_id: int | None
    refund_id: int | None
    taken_by: str
    taken_at: dt.datetime


class RefundOut(Schema):
    id: int
    sale_id: int
    is_void: bool
    amount: Decimal
    reason: str
    lines: list[dict[str, Any]]
    refunded_by: str
    refunded_at: dt.datetime


class PickupSummary(Schema):
    person: str
    person_name: str
    relationship: str
    counseling: str
    counseled: bool
    id_type: str


class PersonRef(Schema):
    id: int
    name: str


class SaleOut(Schema):
    id: int
    receipt_number: str
    status: str
    patient: PersonRef | None
    drawer_id: int | None
    subtotal: Decimal
    tax: Decimal
    total: Decimal
    fsa_eligible_total: Decimal
    paid: Decimal
    change_given: Decimal
    refunded: Decimal
    started_by: str
    started_at: dt.datetime
    completed_by: str | None
    completed_at: dt.datetime | None
    void_reason: str
    lines: list[RegisterSaleLineOut]
    tenders: list[TenderOut]
    refunds: list[RefundOut]
    pickup: PickupSummary | None


def _line(ln: SaleLine) -> dict[str, Any]:
    return {
        "id": ln.pk,
        "kind": ln.kind,
        "description": ln.description,
        "fill_id": ln.fill_id,
        "ndc11": ln.package.ndc11 if ln.package_id and ln.package else None,
        "quantity": ln.quantity,
        "unit_price": ln.unit_price,
        "amount": ln.amount,
        "tax": ln.tax,
        "taxable": ln.taxable,
        "fsa_eligible": ln.fsa_eligible,
        "refunded_quantity": ln.refunded_quantity,
        "refunded_amount": ln.refunded_amount,
    }


def _tender(t: Tender) -> dict[str, Any]:
    return {
        "id": t.pk,
        "kind": t.kind,
        "amount": t.amount,
        "tendered": t.tendered,
        "reference": t.reference,
        "account_id": t.account_id,
        "drawer_id": t.drawer_id,
        "refund_id": t.refund_id,
        "taken_by": t.taken_by.display_name,
        "taken_at": t.taken_at,
    }


def _refund(r: Refund) -> dict[str, Any]:
    return {
        "id": r.pk,
        "sale_id": r.sale_id,
        "is_void": r.is_void,
        "amount": r.amount,
        "reason": r.reason,
        "lines": r.lines,
        "refunded_by": r.refunded_by.display_name,
        "refunded_at": r.refunded_at,
    }


def sale_detail(sale: Sale) -> dict[str, Any]:
    lines = list(sale.lines.select_related("package").order_by("pk"))
    pickup = Pickup.objects.filter(sale=sale).first()
    return {
        "id": sale.pk,
        "receipt_number": sale.receipt_number,
        "status": sale.status,
        "patient": (
            {"id": sale.patient.pk, "name": sale.patient.full_name} if sale.patient else None
        ),
        "drawer_id": sale.drawer_id,
        "subtotal": sale.subtotal,
        "tax": sale.tax,
        "total": sale.total,
        "fsa_eligible_total": sum(
            (ln.amount + ln.tax for ln in lines if ln.fsa_eligible), Decimal("0.00")
        ),
        "paid": sale.paid,
        "change_given": sale.change_given,
        "refunded": sale.refunded,
        "started_by": sale.started_by.display_name,
        "started_at": sale.started_at,
        "completed_by": sale.completed_by.display_name if sale.completed_by else None,
        "completed_at": sale.completed_at,
        "void_reason": sale.void_reason,
        "lines": [_line(ln) for ln in lines],
        "tenders": [_tender(t) for t in sale.tenders.select_related("taken_by").order_by("pk")],
        "refunds": [_refund(r) for r in sale.refunds.select_related("refunded_by").order_by("pk")],
        "pickup": (
            {
                "person": pickup.person,
                "person_name": pickup.person_name,
                "relationship": pickup.relationship,
                "counseling": pickup.counseling,
                "counseled": pickup.counseled_at is not None,
                "id_type": pickup.id_type,
            }
            if pickup is not None
            else None
        ),
    }


def _sale(request: HttpRequest, sale_id: int) -> Sale:
    return queries.sale_get(actor=_user(request), sale_id=sale_id)


def _fresh(request: HttpRequest, sale: Sale) -> dict[str, Any]:
    return sale_detail(_sale(request, sale.pk))


@router.post(
    "/sales",
    response={201: SaleOut},
    auth=_gate(Cap.RX_SELL),
    summary="Start a sale (for a patient, or a walk-in customer)",
)
def sale_start(request: HttpRequest, payload: SaleStartIn) -> Any:
    actor = _user(request)
    patient = (
        patient_queries.patient_for(actor=actor, patient_id=payload.patient_id)
        if payload.patient_id
        else None
    )
    drawer = (
        queries.drawer_get(actor=actor, drawer_id=payload.drawer_id) if payload.drawer_id else None
    )
    sale = sales.sale_start(actor=actor, patient=patient, drawer=drawer)
    return Status(201, _fresh(request, sale))


@router.get(
    "/sales/{int:sale_id}",
    response=SaleOut,
    auth=_gate(Cap.RX_SELL),
    summary="A sale: its lines, payments, refunds and pickup",
)
def sale_get(request: HttpRequest, sale_id: int) -> Any:
    return sale_detail(_sale(request, sale_id))


@router.post(
    "/sales/{int:sale_id}/items",
    response={201: SaleOut},
    auth=_gate(Cap.RX_SELL),
    summary="Scan an OTC item onto a sale (shelf price, or a typed price)",
    description=(
        "422 for a code that is not in the catalog; 409 for a prescription-only product or a "
        "pseudoephedrine product (those go through the logbook)."
    ),
)
def sale_add_item(request: HttpRequest, sale_id: int, payload: ItemIn) -> Any:
    sale = _sale(request, sale_id)
    sales.sale_add_item(
        actor=_user(request),
        sale=sale,
        code=payload.code,
        quantity=payload.quantity,
        price=payload.price,
    )
    return Status(201, _fresh(request, sale))


@router.delete(
    "/sales/{int:sale_id}/lines/{int:line_id}",
    response=SaleOut,
    auth=_gate(Cap.RX_SELL),
    summary="Take a line off an unpaid sale (a prescription goes back to will-call)",
)
def sale_remove_line(request: HttpRequest, sale_id: int, line_id: int) -> Any:
    sale = _sale(request, sale_id)
    sales.sale_remove_line(actor=_user(request), sale=sale, line=line_id)
    return _fresh(request, sale)


@router.post(
    "/sales/{int:sale_id}/payment",
    response=SaleOut,
    auth=_gate(Cap.RX_SELL),
    summary="Pay and complete a sale (split tenders); the prescriptions are handed out",
    description=(
        "The tenders must add up to the total (cash may be more: `tendered`, and the change "
        "is given). A card or FSA/HSA needs `reference` (last four and approval code, never "
        "the card number); a house charge needs `account_id`."
    ),
)
def sale_pay(request: HttpRequest, sale_id: int, payload: PaymentIn) -> Any:
    actor = _user(request)
    sale = _sale(request, sale_id)
    tenders = []
    for i, t in enumerate(payload.tenders):
        account = None
        if t.account_id is not None:
            try:
                account = queries.house_account_get(actor=actor, account_id=t.account_id)
            except NotFound as exc:
                exc.field = f"tenders.{i}.account_id"
                raise
        tenders.append(
            sales.TenderIn(
                kind=t.kind,
                amount=t.amount,
                tendered=t.tendered,
                reference=t.reference,
                account=account,
            )
        )
    sales.sale_pay(actor=actor, sale=sale, tenders=tenders)
    return _fresh(request, sale)


@router.post(
    "/sales/{int:sale_id}/cancel",
    response=SaleOut,
    auth=_gate(Cap.RX_SELL),
    summary="Cancel an unpaid sale (its logbook entries are voided)",
)
def sale_cancel(request: HttpRequest, sale_id: int, payload: SaleReasonIn) -> Any:
    sale = _sale(request, sale_id)
    sales.sale_cancel(actor=_user(request), sale=sale, reason=payload.reason)
    return _fresh(request, sale)


@router.post(
    "/sales/{int:sale_id}/void",
    response=SaleOut,
    auth=_gate(Cap.POS_REFUND),
    summary="Void a paid sale of today while its drawer is open (pharmacist)",
)
def sale_void(request: HttpRequest, sale_id: int, payload: SaleReasonIn) -> Any:
    actor = _user(request)
    sale = queries.sale_get(actor=actor, sale_id=sale_id)
    sales.sale_void(actor=actor, sale=sale, reason=payload.reason)
    return _fresh(request, sale)


@router.post(
    "/sales/{int:sale_id}/refunds",
    response={201: RefundOut},
    auth=_gate(Cap.POS_REFUND),
    summary="Refund lines of a paid sale (pharmacist); prescriptions are never restocked",
)
def sale_refund(request: HttpRequest, sale_id: int, payload: RefundIn) -> Any:
    actor = _user(request)
    sale = queries.sale_get(actor=actor, sale_id=sale_id)
    refund = sales.sale_refund(
        actor=actor,
        sale=sale,
        lines=[(ln.line_id, ln.quantity) for ln in payload.lines],
        reason=payload.reason,
        tender_kind=payload.tender_kind,
    )
    return Status(201, _refund(refund))


@router.get(
    "/sales/{int:sale_id}/receipt",
    auth=_gate(Cap.RX_SELL),
    summary="The sale's receipt (PDF, 80 mm wide)",
    openapi_extra=PDF,
)
def sale_receipt(request: HttpRequest, sale_id: int) -> HttpResponse:
    from rxdesk.pos.receipts import receipt_pdf

    sale = _sale(request, sale_id)
    response = HttpResponse(receipt_pdf(sale), content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="receipt-{sale.receipt_number}.pdf"'
    response["Cache-Control"] = "private, no-store"
    return response


# --- House accounts ---------------------------------------------------------------------------


class HouseAccountIn(_In):
    number: str = Field(..., min_length=1, max_length=20)
    name: str = Field(..., min_length=1, max_length=120)
    patient_id: int | None = Field(None, ge=1, le=MAX_ID)
    credit_limit: Decimal = Field(Decimal("500.00"), ge=0, max_digits=7, decimal_places=2)
    address_line1: str = Field("", max_length=120)
    address_line2: str = Field("", max_length=120)
    city: str = Field("", max_length=80)
    state: str = Field("", max_length=2)
    postal_code: str = Field("", max_length=10)


class HousePaymentIn(_In):
    amount: Decimal = Field(..., gt=0, max_digits=7, decimal_places=2)
    kind: Literal["cash", "check", "card"] = "cash"
    reference: str = Field("", max_length=40)
    drawer_id: int | None = Field(None, ge=1, le=MAX_ID)


class HouseEntryOut(Schema):
    id: int
    kind: str
    amount: Decimal
    receipt_number: str | None
    note: str
    recorded_by: str
    recorded_at: dt.datetime


class HouseAccountOut(Schema):
    id: int
    number: str
    name: str
    patient: PersonRef | None
    credit_limit: Decimal
    balance: Decimal
    active: bool
    address_line1: str
    address_line2: str
    city: str
    state: str
    postal_code: str
    entries: list[HouseEntryOut]


class StatementQuery(Schema):
    year: int = Field(..., ge=2000, le=2200)
    month: int = Field(..., ge=1, le=12)


def _entry(e: HouseEntry) -> dict[str, Any]:
    return {
        "id": e.pk,
        "kind": e.kind,
        "amount": e.amount,
        "receipt_number": e.sale.receipt_number if e.sale_id and e.sale else None,
        "note": e.note,
        "recorded_by": e.recorded_by.display_name,
        "recorded_at": e.recorded_at,
    }


def _account(a: HouseAccount) -> dict[str, Any]:
    entries = a.entries.select_related("sale", "recorded_by").order_by("-recorded_at", "-pk")
    return {
        "id": a.pk,
        "number": a.number,
        "name": a.name,
        "patient": {"id": a.patient.pk, "name": a.patient.full_name} if a.patient else None,
        "credit_limit": a.credit_limit,
        "balance": accounts.house_account_balance(a),
        "active": a.active,
        "address_line1": a.address_line1,
        "address_line2": a.address_line2,
        "city": a.city,
        "state": a.state,
        "postal_code": a.postal_code,
        "entries": [_entry(e) for e in entries[:200]],
    }


@router.post(
    "/house-accounts",
    response={201: HouseAccountOut},
    auth=_gate(Cap.POS_ACCOUNTS),
    summary="Open a house charge account (pharmacist)",
)
def house_account_create(request: HttpRequest, payload: HouseAccountIn) -> Any:
    actor = _user(request)
    patient = (
        patient_queries.patient_for(actor=actor, patient_id=payload.patient_id)
        if payload.patient_id
        else None
    )
    values = payload.model_dump(exclude={"patient_id"})
    account = accounts.house_account_create(actor=actor, patient=patient, **values)
    return Status(201, _account(account))


@router.get(
    "/house-accounts/{int:account_id}",
    response=HouseAccountOut,
    auth=_gate(Cap.RX_SELL),
    summary="A house account: its balance and latest entries",
)
def house_account_get(request: HttpRequest, account_id: int) -> Any:
    return _account(queries.house_account_get(actor=_user(request), account_id=account_id))


@router.post(
    "/house-accounts/{int:account_id}/payments",
    response={201: HouseEntryOut},
    auth=_gate(Cap.RX_SELL),
    summary="Take a payment on a house account (cash and checks into the open drawer)",
)
def house_payment(request: HttpRequest, account_id: int, payload: HousePaymentIn) -> Any:
    actor = _user(request)
    account = queries.house_account_get(actor=actor, account_id=account_id)
    drawer = (
        queries.drawer_get(actor=actor, drawer_id=payload.drawer_id) if payload.drawer_id else None
    )
    entry = accounts.house_payment(
        actor=actor,
        account=account,
        amount=payload.amount,
        kind=payload.kind,
        reference=payload.reference,
        drawer=drawer,
    )
    return Status(201, _entry(entry))


@router.get(
    "/house-accounts/{int:account_id}/statement",
    auth=_gate(Cap.RX_SELL),
    summary="A house account's monthly statement (PDF)",
    openapi_extra=PDF,
)
def house_statement(
    request: HttpRequest, account_id: int, q: Query[StatementQuery]
) -> HttpResponse:
    account = queries.house_account_get(actor=_user(request), account_id=account_id)
    pdf = accounts.house_statement_pdf(account, q.year, q.month)
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = (
        f'inline; filename="statement-{account.number}-{q.year}-{q.month:02d}.pdf"'
    )
    response["Cache-Control"] = "private, no-store"
    return response


# --- Reports ----------------------------------------------------------------------------------


class ReportQuery(Schema):
    date: dt.date | None = Field(None, description="The day (default: today at the pharmacy)")
    format: Literal["json", "csv"] = "json"


class TenderTotalOut(Schema):
    kind: str
    amount: Decimal


class DrawerLineOut(Schema):
    register_name: str = Field(..., description="The register's name")
    status: str
    opened_by: str
    opened_at: dt.datetime
    closed_by: str
    closed_at: dt.datetime | None
    opening_cash: Decimal
    expected_cash: Decimal | None
    counted_cash: Decimal | None
    expected_checks: Decimal | None
    counted_checks: Decimal | None
    over_short: Decimal | None
    note: str


class DailySalesOut(Schema):
    date: dt.date
    sales: int
    subtotal: Decimal
    tax: Decimal
    gross: Decimal
    net: Decimal
    by_tender: list[TenderTotalOut]
    refunds: int
    refunded: Decimal
    voids: int
    voided: Decimal
    cancelled: int
    rx_picked_up: int
    otc_items: Decimal
    pse_items: Decimal
    house_charges: Decimal
    house_payments: Decimal
    drawers: list[DrawerLineOut]


class CsPickupOut(Schema):
    sold_at: dt.datetime
    receipt: str
    rx_number: int
    fill_number: int
    schedule: str
    drug: str
    quantity: Decimal
    patient: str
    picked_up_by: str
    relationship: str
    id_type: str
    id_last4: str
    id_state: str
    cashier: str


def _csv(text: str, name: str) -> HttpResponse:
    response = HttpResponse(text, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    response["Cache-Control"] = "private, no-store"
    return response


@router.get(
    "/reports/daily",
    response=DailySalesOut,
    auth=_gate(Cap.POS_REPORT),
    summary="The day's sales report (format=csv for a spreadsheet)",
)
def report_daily(request: HttpRequest, q: Query[ReportQuery]) -> Any:
    actor = _user(request)
    assert actor.site is not None
    day = q.date or actor.site.today()
    report = queries.daily_sales(actor=actor, day=day)
    if q.format == "csv":
        return _csv(queries.daily_sales_csv(report), f"day-report-{day}.csv")
    return {
        **{k: getattr(report, k) for k in DailySalesOut.model_fields if hasattr(report, k)},
        "date": day,
        "net": report.net,
        "by_tender": [{"kind": k, "amount": v} for k, v in sorted(report.by_tender.items())],
        "drawers": [{**vars(d), "register_name": d.register} for d in report.drawers],
    }


@router.get(
    "/reports/cs-pickups",
    response=list[CsPickupOut],
    auth=_gate(Cap.POS_REPORT),
    summary="Controlled-substance prescriptions picked up on a day (ID: type and last four)",
)
def report_cs_pickups(request: HttpRequest, q: Query[ReportQuery]) -> Any:
    actor = _user(request)
    assert actor.site is not None
    day = q.date or actor.site.today()
    rows = queries.cs_pickups(actor=actor, day=day)
    if q.format == "csv":
        return _csv(queries.cs_pickups_csv(actor.site, rows), f"cs-pickups-{day}.csv")
    return [vars(r) for r in rows]


# --- Settings ---------------------------------------------------------------------------------


class PosSettingsOut(Schema):
    cs_id_schedules: str
    cs_id_types: str
    cs_id_record_number: bool
    cs_id_record_expiry: bool
    pse_daily_mg: Decimal
    pse_30day_mg: Decimal
    pse_30day_mail_mg: Decimal
    pse_minimum_age: int
    tax_percent: Decimal
    drawer_tolerance: Decimal


class PosSettingsIn(_In):
    cs_id_schedules: str | None = Field(None, max_length=20, description="e.g. 2,3")
    cs_id_types: str | None = Field(None, max_length=120)
    cs_id_record_number: bool | None = None
    cs_id_record_expiry: bool | None = None
    pse_daily_mg: Decimal | None = Field(None, ge=0, max_digits=7, decimal_places=1)
    pse_30day_mg: Decimal | None = Field(None, ge=0, max_digits=7, decimal_places=1)
    pse_30day_mail_mg: Decimal | None = Field(None, ge=0, max_digits=7, decimal_places=1)
    pse_minimum_age: int | None = Field(None, ge=0, le=25)
    tax_percent: Decimal | None = Field(None, ge=0, max_digits=6, decimal_places=3)
    drawer_tolerance: Decimal | None = Field(None, ge=0, max_digits=7, decimal_places=2)


def _settings(actor: User) -> dict[str, Any]:
    assert actor.site is not None
    row = settings_of(actor.site)
    return {f: getattr(row, f) for f in PosSettingsOut.model_fields}


@router.get(
    "/settings",
    response=PosSettingsOut,
    auth=_gate(Cap.SITE_VIEW),
    summary="The pharmacy's counter rules (CS ID at pickup, PSE limits, tax, drawer tolerance)",
)
def settings_get(request: HttpRequest) -> Any:
    return _settings(_user(request))


@router.put(
    "/settings",
    response=PosSettingsOut,
    auth=_gate(Cap.SITE_EDIT),
    summary="Change the counter rules (a state may only be stricter than federal law)",
)
def settings_put(request: HttpRequest, payload: PosSettingsIn) -> Any:
    actor = _user(request)
    values = payload.model_dump(exclude_none=True)
    drawers.pos_settings_save(actor=actor, **values)
    return _settings(actor)
