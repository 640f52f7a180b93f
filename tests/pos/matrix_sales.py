"""Permission-matrix rows for the point of sale (sales): API_ROWS in the shape of
tests/test_permission_matrix.py's API_MATRIX, UI_ROWS and WATCHED in the shape of
tests/test_permission_matrix_ui.py's UI_MATRIX. Written by hand from the specification:

* sales, payments, receipts and payments on house accounts are every prescription
  worker's (rx.sell: technician, trainee, pharmacist, PIC);
* the cash drawer is opened and closed by a technician, pharmacist or PIC (pos.drawer; a
  trainee does not handle the drawer);
* voids, refunds and opening house accounts are the pharmacist's and the PIC's;
* the day's reports: pharmacist, PIC and the auditor (pos.report);
* the counter rules: read by everyone at the site, changed by the PIC and the admin."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from rxdesk.core.choices import Role
from rxdesk.core.models import Site, User
from rxdesk.pos.choices import HouseEntryKind, TenderKind
from rxdesk.pos.models import (
    Drawer,
    HouseAccount,
    HouseEntry,
    PosSettings,
    Refund,
    Sale,
    SaleLine,
    Tender,
)
from rxdesk.pos.services import accounts, drawers, sales
from tests.factories import UserFactory
from tests.pos.factories import otc_package

T, TT, RPH, PIC, INV, AUD, ADM = (
    Role.TECHNICIAN,
    Role.TECHNICIAN_IN_TRAINING,
    Role.PHARMACIST,
    Role.PHARMACIST_IN_CHARGE,
    Role.INVENTORY_SPECIALIST,
    Role.AUDITOR,
    Role.ADMIN,
)
EVERYONE = frozenset(Role)
CLINICAL = frozenset({T, TT, RPH, PIC})
DRAWER = frozenset({T, RPH, PIC})
PHARMACISTS = frozenset({RPH, PIC})
REPORTERS = frozenset({RPH, PIC, AUD})
SITE_EDITORS = frozenset({PIC, ADM})
NOBODY: frozenset[Role] = frozenset()

PP = "/api/v1/pos"
CARD = {"kind": "card", "amount": "5.00", "reference": "4242 OK1234"}


def _user(site: Site, role: Role, name: str) -> User:
    return User.objects.filter(site=site, username=name).first() or UserFactory(
        site=site, role=role, username=name
    )


def _clerk(site: Site) -> User:
    return _user(site, T, "matrix-sales-tech")


def _rph(site: Site) -> User:
    return _user(site, RPH, "matrix-sales-rph")


def _drawer(site: Site) -> Drawer:
    return drawers.drawer_open(actor=_clerk(site), opening_cash="100.00")


def _sale(site: Site) -> Sale:
    return sales.sale_start(actor=_clerk(site))


def _sale_with_item(site: Site) -> tuple[Sale, SaleLine]:
    sale = _sale(site)
    line = sales.sale_add_item(actor=_clerk(site), sale=sale, code=otc_package(retail="5.00").ndc10)
    return sale, line


def _paid(site: Site) -> tuple[Sale, SaleLine]:
    sale, line = _sale_with_item(site)
    sales.sale_pay(
        actor=_clerk(site),
        sale=sale,
        tenders=[sales.TenderIn(kind=TenderKind.CARD, amount="5.00", reference="4242 OK1234")],
    )
    return sale, line


def _account(site: Site, owing: str = "0") -> HouseAccount:
    account = accounts.house_account_create(actor=_rph(site), number="H-1", name="Lopez family")
    if Decimal(owing):
        HouseEntry.objects.create(
            account=account,
            kind=HouseEntryKind.CHARGE,
            amount=Decimal(owing),
            recorded_by=_rph(site),
        )
    return account


def _today(site: Site) -> str:
    return site.today().isoformat()


def _sale_path(site: Site, tail: str = "") -> str:
    return f"{PP}/sales/{_sale(site).pk}{tail}"


def _line_path(site: Site) -> str:
    sale, line = _sale_with_item(site)
    return f"{PP}/sales/{sale.pk}/lines/{line.pk}"


def _refund(site: Site) -> tuple[str, dict[str, Any]]:
    sale, line = _paid(site)
    return (
        f"{PP}/sales/{sale.pk}/refunds",
        {
            "lines": [{"line_id": line.pk, "quantity": "1"}],
            "reason": "Damaged box",
            "tender_kind": "card",
        },
    )


def _statement(site: Site) -> str:
    today = site.today()
    return (
        f"{PP}/house-accounts/{_account(site).pk}/statement?year={today.year}&month={today.month}"
    )


API_ROWS: dict[tuple[str, str], Any] = {
    ("POST", "/pos/drawers"): (
        DRAWER,
        201,
        lambda s, u: (f"{PP}/drawers", {"opening_cash": "100.00"}),
    ),
    ("POST", "/pos/drawers/{drawer_id}/close"): (
        DRAWER,
        200,
        lambda s, u: (f"{PP}/drawers/{_drawer(s).pk}/close", {"counted_cash": "100.00"}),
    ),
    ("GET", "/pos/drawers/current"): (CLINICAL, 200, lambda s, u: (f"{PP}/drawers/current", None)),
    ("POST", "/pos/sales"): (CLINICAL, 201, lambda s, u: (f"{PP}/sales", {})),
    ("GET", "/pos/sales/{sale_id}"): (CLINICAL, 200, lambda s, u: (_sale_path(s), None)),
    ("POST", "/pos/sales/{sale_id}/items"): (
        CLINICAL,
        201,
        lambda s, u: (_sale_path(s, "/items"), {"code": otc_package().ndc10}),
    ),
    ("DELETE", "/pos/sales/{sale_id}/lines/{line_id}"): (
        CLINICAL,
        200,
        lambda s, u: (_line_path(s), None),
    ),
    ("POST", "/pos/sales/{sale_id}/payment"): (
        CLINICAL,
        200,
        lambda s, u: (f"{PP}/sales/{_sale_with_item(s)[0].pk}/payment", {"tenders": [CARD]}),
    ),
    ("POST", "/pos/sales/{sale_id}/cancel"): (
        CLINICAL,
        200,
        lambda s, u: (_sale_path(s, "/cancel"), {"reason": "Customer left"}),
    ),
    ("POST", "/pos/sales/{sale_id}/void"): (
        PHARMACISTS,
        200,
        lambda s, u: (f"{PP}/sales/{_paid(s)[0].pk}/void", {"reason": "Wrong bag"}),
    ),
    ("POST", "/pos/sales/{sale_id}/refunds"): (PHARMACISTS, 201, lambda s, u: _refund(s)),
    ("GET", "/pos/sales/{sale_id}/receipt"): (
        CLINICAL,
        200,
        lambda s, u: (f"{PP}/sales/{_paid(s)[0].pk}/receipt", None),
    ),
    ("POST", "/pos/house-accounts"): (
        PHARMACISTS,
        201,
        lambda s, u: (f"{PP}/house-accounts", {"number": "H-9", "name": "Oak group home"}),
    ),
    ("GET", "/pos/house-accounts/{account_id}"): (
        CLINICAL,
        200,
        lambda s, u: (f"{PP}/house-accounts/{_account(s).pk}", None),
    ),
    ("POST", "/pos/house-accounts/{account_id}/payments"): (
        CLINICAL,
        201,
        lambda s, u: (
            f"{PP}/house-accounts/{_account(s, owing='20.00').pk}/payments",
            {"amount": "5.00", "kind": "card", "reference": "4242 OK1234"},
        ),
    ),
    ("GET", "/pos/house-accounts/{account_id}/statement"): (
        CLINICAL,
        200,
        lambda s, u: (_statement(s), None),
    ),
    ("GET", "/pos/reports/daily"): (
        REPORTERS,
        200,
        lambda s, u: (f"{PP}/reports/daily?date={_today(s)}", None),
    ),
    ("GET", "/pos/reports/cs-pickups"): (
        REPORTERS,
        200,
        lambda s, u: (f"{PP}/reports/cs-pickups?date={_today(s)}", None),
    ),
    ("GET", "/pos/settings"): (EVERYONE, 200, lambda s, u: (f"{PP}/settings", None)),
    ("PUT", "/pos/settings"): (
        SITE_EDITORS,
        200,
        lambda s, u: (f"{PP}/settings", {"tax_percent": "6.25"}),
    ),
}


# --- Screens ----------------------------------------------------------------------------------


def _none(site: Site) -> dict[str, Any]:
    return {}


def _sale_kwargs(site: Site) -> dict[str, Any]:
    return {"pk": _paid(site)[0].pk}


def _account_kwargs(site: Site) -> dict[str, Any]:
    return {"pk": _account(site, owing="20.00").pk}


# name: (kwargs, GET roles, POST roles, POST status for an allowed role with an empty form)
UI_ROWS: dict[Any, Any] = {
    "pos_drawer": (_none, DRAWER, DRAWER, 422),
    "pos_sale": (_sale_kwargs, CLINICAL, NOBODY, None),
    "pos_sale_void": (_sale_kwargs, None, PHARMACISTS, 302),
    "pos_sale_refund": (_sale_kwargs, None, PHARMACISTS, 302),
    "pos_sale_receipt_pdf": (_sale_kwargs, CLINICAL, NOBODY, None),
    "pos_sale_receipt": (_sale_kwargs, CLINICAL, NOBODY, None),
    "pos_accounts": (_none, CLINICAL, PHARMACISTS, 422),
    "pos_account": (_account_kwargs, CLINICAL, CLINICAL, 422),
    "pos_account_statement": (_account_kwargs, CLINICAL, NOBODY, None),
    "pos_report_daily": (_none, REPORTERS, NOBODY, None),
    "pos_report_daily_csv": (_none, REPORTERS, NOBODY, None),
    "pos_report_cs_csv": (_none, REPORTERS, NOBODY, None),
    "pos_settings": (_none, SITE_EDITORS, SITE_EDITORS, 422),
}
WATCHED: list[Any] = [Drawer, HouseAccount, HouseEntry, PosSettings, Refund, Sale, Tender]

__all__ = ["API_ROWS", "UI_ROWS", "WATCHED"]
