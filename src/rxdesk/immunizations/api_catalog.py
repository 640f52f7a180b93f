"""API of the vaccine catalog (CVX, MVX, NDC crosswalk, VIS) and vaccine stock by funding
source (mounted at /api/v1/immunizations). Parse, call rxdesk.immunizations
services_catalog / queries_catalog, serialize.

The catalog holds no PHI: every role that reads the drug catalog reads it (catalog.view).
Vaccine stock is read, received and funded with imm.stock (technician, pharmacist, PIC,
inventory specialist); it names no patient."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.http import HttpRequest, HttpResponse
from ninja import Field, Query, Router, Schema, Status

from rxdesk.core.capabilities import Cap
from rxdesk.core.errors import NotFound
from rxdesk.immunizations import queries_catalog as queries
from rxdesk.immunizations import services_catalog as services
from rxdesk.immunizations.choices import Funding
from rxdesk.immunizations.models import Vaccine, VaccineNdc, VisDocument
from rxdesk.institutional.api_common import StrictIn, gate, user_of

router = Router(tags=["immunizations: catalog and stock"])

MAX_ID = 2**63 - 1
CSV = {
    "responses": {
        200: {
            "description": "Vaccine stock as JSON or CSV (text/csv)",
            "content": {
                "application/json": {"schema": {"type": "object"}},
                "text/csv": {"schema": {"type": "string"}},
            },
        }
    }
}


# --- Input ------------------------------------------------------------------------------------


class VaccineQuery(Schema):
    q: str = Field("", max_length=queries.MAX_QUERY, description="CVX, name, trade name, NDC")
    group: str = Field("", max_length=40, description="CDC vaccine group, e.g. FLU")
    status: str = Field("", max_length=20, description="Active, Inactive, Non-US …")
    limit: int = Field(queries.PAGE, ge=1, le=300)
    offset: int = Field(0, ge=0, le=100_000)


class StockQuery(Schema):
    format: str = Field("json", pattern="^(json|csv)$")


class CatalogReceiveIn(StrictIn):
    code: str = Field(..., min_length=1, max_length=queries.MAX_CODE, description="NDC or scan")
    lot_number: str = Field("", max_length=40, description="Blank: taken from a GS1 scan")
    expiry: dt.date | None = Field(None, description="Blank: taken from a GS1 scan")
    quantity: Decimal = Field(..., description="Doses received (whole doses)")
    funding: Funding
    supplier_id: int | None = Field(None, ge=1, le=MAX_ID)
    note: str = Field("", max_length=services.NOTE_MAX)


class FundingIn(StrictIn):
    funding: Funding


# --- Output -----------------------------------------------------------------------------------


class VaccineSummaryOut(Schema):
    cvx: str
    short_description: str
    full_name: str
    status: str
    groups: list[str]
    live: bool


class VaccineListOut(Schema):
    total: int
    results: list[VaccineSummaryOut]
    scanned_ndc: str | None


class CatalogNdcOut(Schema):
    ndc11: str
    ndc10: str
    unit: str
    cvx: str
    vaccine: str
    proprietary_name: str
    manufacturer: str
    mvx: str
    package_form: str
    route: str
    start_date: dt.date | None
    end_date: dt.date | None
    gtin: str
    sale_ndc11: str
    package_ndc11: str | None
    package_quantity: str | None
    billing_unit: str | None


class CatalogVisOut(Schema):
    name: str
    edition_date: dt.date
    barcode: str
    status: str
    url: str


class VaccineOut(VaccineSummaryOut):
    notes: str
    manufacturers: list[str]
    sale_ndcs: list[CatalogNdcOut]
    use_ndcs: list[CatalogNdcOut]
    vis: list[CatalogVisOut]
    current_vis: list[CatalogVisOut]


class StockRowOut(Schema):
    lot_id: int
    funding: str | None
    cvx: str
    vaccine: str
    product: str
    ndc11: str
    ndc10: str
    lot: str
    expiry: dt.date | None
    expired: bool
    expiring: bool
    doses_on_hand: str
    status: str


class StockSectionOut(Schema):
    funding: str
    label: str
    doses_on_hand: str
    lots: list[StockRowOut]


class CatalogStockOut(Schema):
    today: dt.date
    sections: list[StockSectionOut]
    unfunded: list[StockRowOut]


class CatalogReceivedOut(Schema):
    move_id: int
    lot_id: int
    lot: str
    expiry: dt.date | None
    ndc11: str
    cvx: str
    funding: str
    doses: str
    balance_after: str


class LotFundingOut(Schema):
    lot_id: int
    lot: str
    ndc11: str
    funding: str


def _num(value: Decimal | None) -> str | None:
    return None if value is None else f"{Decimal(value).normalize():f}"


def _summary(v: Vaccine) -> dict[str, Any]:
    return {
        "cvx": v.cvx,
        "short_description": v.short_description,
        "full_name": v.full_name,
        "status": v.status,
        "groups": list(v.groups or []),
        "live": v.live,
    }


def _ndc(n: VaccineNdc) -> dict[str, Any]:
    pkg = n.package
    return {
        "ndc11": n.ndc11,
        "ndc10": n.ndc10,
        "unit": n.unit,
        "cvx": n.vaccine.cvx,
        "vaccine": n.vaccine.short_description,
        "proprietary_name": n.proprietary_name,
        "manufacturer": n.manufacturer.name if n.manufacturer else "",
        "mvx": n.manufacturer.mvx if n.manufacturer else "",
        "package_form": n.package_form,
        "route": n.route,
        "start_date": n.start_date,
        "end_date": n.end_date,
        "gtin": n.gtin,
        "sale_ndc11": n.sale_ndc11,
        "package_ndc11": pkg.ndc11 if pkg else None,
        "package_quantity": _num(pkg.package_quantity) if pkg else None,
        "billing_unit": pkg.billing_unit if pkg else None,
    }


def _vis(d: VisDocument) -> dict[str, Any]:
    return {
        "name": d.name,
        "edition_date": d.edition_date,
        "barcode": d.barcode,
        "status": d.status,
        "url": d.url,
    }


def _stock_row(r: queries.StockRow) -> dict[str, Any]:
    b = r.balance
    return {
        "lot_id": b.lot_id,
        "funding": r.funding or None,
        "cvx": r.vaccine.cvx if r.vaccine else "",
        "vaccine": r.vaccine.short_description if r.vaccine else "",
        "product": b.package.product.name,
        "ndc11": b.package.ndc11,
        "ndc10": b.package.ndc10,
        "lot": b.lot.number,
        "expiry": b.lot.expiry,
        "expired": r.expired,
        "expiring": r.expiring,
        "doses_on_hand": _num(b.on_hand),
        "status": b.status,
    }


def _csv(text: str, name: str) -> HttpResponse:
    response = HttpResponse(text, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response


# --- Catalog ----------------------------------------------------------------------------------


@router.get(
    "/vaccines",
    response=VaccineListOut,
    auth=gate(Cap.CATALOG_VIEW),
    summary="Search vaccines (CVX, name, trade name, group, status; an NDC finds its vaccine)",
)
def vaccines_list(request: HttpRequest, q: Query[VaccineQuery]) -> Any:
    page = queries.vaccine_search(
        actor=user_of(request),
        q=q.q,
        group=q.group,
        status=q.status,
        limit=q.limit,
        offset=q.offset,
    )
    return {
        "total": page.total,
        "results": [_summary(v) for v in page.rows],
        "scanned_ndc": page.scanned.ndc11 if page.scanned else None,
    }


@router.get(
    "/vaccines/{cvx}",
    response=VaccineOut,
    auth=gate(Cap.CATALOG_VIEW),
    summary="A vaccine: its NDCs (carton and syringe/vial), manufacturers and VIS editions",
)
def vaccine_read(request: HttpRequest, cvx: str) -> Any:
    detail = queries.vaccine_get(actor=user_of(request), cvx=cvx)
    v = detail.vaccine
    return {
        **_summary(v),
        "notes": v.notes,
        "manufacturers": detail.manufacturers,
        "sale_ndcs": [_ndc(n) for n in detail.sale],
        "use_ndcs": [_ndc(n) for n in detail.use],
        "vis": [_vis(d) for d in detail.vis],
        "current_vis": [_vis(d) for d in queries.current_vis_for(v)],
    }


class CodeQuery(Schema):
    code: str = Field(..., min_length=1, max_length=queries.MAX_CODE)


@router.get(
    "/vaccine-code",
    response=CatalogNdcOut,
    auth=gate(Cap.CATALOG_VIEW),
    summary="The vaccine NDC a scan or typed code names (NDC, UPC, GTIN-14, GS1 DataMatrix)",
    description="404 when the code is no vaccine's; 422 naming code when it is malformed.",
)
def vaccine_code_read(request: HttpRequest, q: Query[CodeQuery]) -> Any:
    row = queries.vaccine_for_code(q.code)
    if row is None:
        raise NotFound(f"{q.code.strip()} is not a vaccine NDC of the CDC crosswalk.")
    return _ndc(row)


# --- Stock ------------------------------------------------------------------------------------


@router.get(
    "/stock",
    response=CatalogStockOut,
    auth=gate(Cap.IMM_STOCK),
    summary="Vaccine doses on hand by funding source (VFC, state, private), lot and expiry",
    description="format=csv for a file. Lots with no funding recorded are listed apart.",
    openapi_extra=CSV,
)
def stock_read(request: HttpRequest, q: Query[StockQuery]) -> Any:
    actor = user_of(request)
    report = queries.vaccine_stock(actor=actor)
    if q.format == "csv":
        return _csv(queries.stock_csv(report), f"vaccine-stock-{report.today:%Y%m%d}.csv")
    return {
        "today": report.today,
        "sections": [
            {
                "funding": key,
                "label": label,
                "doses_on_hand": _num(total),
                "lots": [_stock_row(r) for r in rows],
            }
            for key, label, rows, total in report.sections()
        ],
        "unfunded": [_stock_row(r) for r in report.unfunded],
    }


@router.post(
    "/stock",
    response={201: CatalogReceivedOut},
    auth=gate(Cap.IMM_STOCK),
    summary="Receive vaccine doses into stock with their funding source",
    description="422 names the field (code not a vaccine NDC or not linked to a package, "
    "expired lot, expiry not as on file); 409 (field funding) when the lot is kept here "
    "under another funding source, or (field lot_number) when it is recalled.",
)
def stock_receive(request: HttpRequest, payload: CatalogReceiveIn) -> Any:
    done = services.vaccine_stock_receive(
        actor=user_of(request),
        code=payload.code,
        lot_number=payload.lot_number,
        expiry=payload.expiry,
        quantity=payload.quantity,
        funding=payload.funding,
        supplier=payload.supplier_id,
        note=payload.note,
    )
    move = done.move
    return Status(
        201,
        {
            "move_id": move.pk,
            "lot_id": move.lot_id,
            "lot": move.lot.number,
            "expiry": move.lot.expiry,
            "ndc11": move.package.ndc11,
            "cvx": done.ndc.vaccine.cvx,
            "funding": done.vaccine_lot.funding,
            "doses": _num(move.quantity),
            "balance_after": _num(move.balance_after),
        },
    )


@router.put(
    "/stock/lots/{int:lot_id}/funding",
    response=LotFundingOut,
    auth=gate(Cap.IMM_STOCK),
    summary="Record which program paid for a vaccine lot (VFC, state, private)",
    description="409 (field funding) once a dose of the lot was given under another funding.",
)
def lot_funding_put(request: HttpRequest, lot_id: int, payload: FundingIn) -> Any:
    actor = user_of(request)
    found = queries.vaccine_lot_at(actor=actor, lot_id=lot_id)
    row = services.vaccine_lot_fund(actor=actor, lot=found.lot, funding=payload.funding)
    return {
        "lot_id": row.lot_id,
        "lot": row.lot.number,
        "ndc11": row.lot.package.ndc11,
        "funding": row.funding,
    }
