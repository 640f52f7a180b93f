"""Permission-matrix rows for the inventory's stock screens and API (same shape as
tests/test_permission_matrix.py's API_MATRIX and tests/test_permission_matrix_ui.py's
UI_MATRIX; WATCHED lists models whose row counts must not change on a refused POST).

Written out by hand from the specification (who does stock work), not copied from
rxdesk.core.capabilities."""

from __future__ import annotations

from typing import Any

from rxdesk.core.choices import Role
from rxdesk.core.models import Organization, Site, User
from rxdesk.inventory.models import (
    Lot,
    StockBalance,
    StockMove,
    StockTransfer,
    StockTransferLine,
    StorageLocation,
)
from rxdesk.inventory.services.stock import stock_transfer_send
from tests.factories import SiteFactory, UserFactory
from tests.inventory.factories import package, stock

T, TT, RPH, PIC, INV, AUD, ADM = (
    Role.TECHNICIAN,
    Role.TECHNICIAN_IN_TRAINING,
    Role.PHARMACIST,
    Role.PHARMACIST_IN_CHARGE,
    Role.INVENTORY_SPECIALIST,
    Role.AUDITOR,
    Role.ADMIN,
)
# Everyone who works in or audits the pharmacy sees its stock; the system administrator
# runs accounts, not the shelf.
VIEWERS = frozenset({T, TT, RPH, PIC, INV, AUD})
# Checking stock in (opening balances, found stock) and saying where it is kept.
RECEIVERS = frozenset({T, RPH, PIC, INV})
# Taking stock out of the ledger without a sale, or holding a lot back.
ADJUSTERS = frozenset({RPH, PIC, INV})
# Storage locations are the stock room's set-up.
SETUP = frozenset({PIC, INV})
TRANSFERRERS = frozenset({T, RPH, PIC, INV})

P = "/api/v1/inventory"


def _balance(site: Site) -> StockBalance:
    return stock(site, package(), "MX1", 20)


def _location(site: Site, code: str = "M-1") -> StorageLocation:
    return StorageLocation.objects.create(site=site, code=code, name="Matrix shelf")


def _sister(site: Site) -> Site:
    """Another site of ``site``'s organization (both put in one organization here)."""
    org = Organization.objects.create(name=f"Matrix group {site.pk}")
    Site.objects.filter(pk=site.pk).update(organization=org)
    site.organization = org
    return SiteFactory(name="Matrix sister", ncpdp_id="1112223", organization=org)


def _incoming(site: Site) -> StockTransfer:
    """A transfer in transit from a sister site to ``site``."""
    sister = _sister(site)
    sender = UserFactory(site=sister, role=T, username=f"matrix-sender-{site.pk}")
    lot = stock(sister, package(), "MX2", 10)
    return stock_transfer_send(
        actor=sender, to_site=site, lines=[{"balance": lot.pk, "quantity": "4"}]
    )


def _outgoing(site: Site, user: User | None) -> tuple[str, dict[str, Any]]:
    sister = _sister(site)
    lot = _balance(site)
    return (
        f"{P}/transfers",
        {"to_site": sister.pk, "lines": [{"balance": lot.pk, "quantity": "2"}], "note": "m"},
    )


API_ROWS: dict[tuple[str, str], Any] = {
    ("GET", "/inventory/stock"): (VIEWERS, 200, lambda s, u: (f"{P}/stock?q=prozac", None)),
    ("GET", "/inventory/stock/{balance_id}"): (
        VIEWERS,
        200,
        lambda s, u: (f"{P}/stock/{_balance(s).pk}", None),
    ),
    ("POST", "/inventory/stock/receive"): (
        RECEIVERS,
        201,
        lambda s, u: (
            f"{P}/stock/receive",
            {
                "ndc": package().ndc10,
                "lot_number": "MX9",
                "expiry": "2030-12-31",
                "quantity": "10",
                "unit": "EA",
            },
        ),
    ),
    ("POST", "/inventory/stock/{balance_id}/adjust"): (
        ADJUSTERS,
        200,
        lambda s, u: (
            f"{P}/stock/{_balance(s).pk}/adjust",
            {"quantity": "-1", "reason": "data_entry", "note": "matrix"},
        ),
    ),
    ("POST", "/inventory/stock/{balance_id}/status"): (
        ADJUSTERS,
        200,
        lambda s, u: (
            f"{P}/stock/{_balance(s).pk}/status",
            {"status": "quarantined", "reason": "matrix"},
        ),
    ),
    ("POST", "/inventory/stock/{balance_id}/relocate"): (
        RECEIVERS,
        200,
        lambda s, u: (
            f"{P}/stock/{_balance(s).pk}/relocate",
            {"location": _location(s).code},
        ),
    ),
    ("GET", "/inventory/packages/{package_id}/stock"): (
        VIEWERS,
        200,
        lambda s, u: (f"{P}/packages/{_balance(s).package_id}/stock", None),
    ),
    ("GET", "/inventory/moves"): (
        VIEWERS,
        200,
        lambda s, u: (f"{P}/moves?lot_id={_balance(s).lot_id}", None),
    ),
    ("GET", "/inventory/locations"): (VIEWERS, 200, lambda s, u: (f"{P}/locations", None)),
    ("POST", "/inventory/locations"): (
        SETUP,
        201,
        lambda s, u: (f"{P}/locations", {"code": "M-2", "name": "Bay 2"}),
    ),
    ("PATCH", "/inventory/locations/{location_id}"): (
        SETUP,
        200,
        lambda s, u: (f"{P}/locations/{_location(s).pk}", {"name": "Bay 1, left"}),
    ),
    ("GET", "/inventory/transfers"): (VIEWERS, 200, lambda s, u: (f"{P}/transfers", None)),
    ("POST", "/inventory/transfers"): (TRANSFERRERS, 201, _outgoing),
    ("GET", "/inventory/transfers/{transfer_id}"): (
        VIEWERS,
        200,
        lambda s, u: (f"{P}/transfers/{_incoming(s).pk}", None),
    ),
    ("POST", "/inventory/transfers/{transfer_id}/receive"): (
        TRANSFERRERS,
        200,
        lambda s, u: (f"{P}/transfers/{_incoming(s).pk}/receive", {}),
    ),
}


def _none(site: Site) -> dict[str, Any]:
    return {}


def _balance_kwargs(site: Site) -> dict[str, Any]:
    return {"pk": _balance(site).pk}


def _package_kwargs(site: Site) -> dict[str, Any]:
    return {"pk": _balance(site).package_id}


def _location_kwargs(site: Site) -> dict[str, Any]:
    return {"pk": _location(site).pk}


def _transfer_kwargs(site: Site) -> dict[str, Any]:
    return {"pk": _incoming(site).pk}


# name: (kwargs, GET roles, POST roles, POST status for an allowed role with an empty form)
UI_ROWS: dict[str, Any] = {
    "inventory_stock": (_none, VIEWERS, frozenset(), None),
    "inventory_stock_receive": (_none, RECEIVERS, RECEIVERS, 422),
    "inventory_balance": (_balance_kwargs, VIEWERS, frozenset(), None),
    "inventory_balance_adjust": (_balance_kwargs, ADJUSTERS, ADJUSTERS, 422),
    "inventory_balance_status": (_balance_kwargs, ADJUSTERS, ADJUSTERS, 422),
    "inventory_balance_relocate": (_balance_kwargs, RECEIVERS, RECEIVERS, 422),
    "inventory_package_stock": (_package_kwargs, VIEWERS, frozenset(), None),
    "inventory_locations": (_none, VIEWERS, frozenset(), None),
    "inventory_location_create": (_none, SETUP, SETUP, 422),
    "inventory_location_edit": (_location_kwargs, SETUP, SETUP, 422),
    "inventory_transfers": (_none, VIEWERS, frozenset(), None),
    "inventory_transfer_create": (_none, TRANSFERRERS, TRANSFERRERS, 422),
    "inventory_transfer_detail": (_transfer_kwargs, VIEWERS, frozenset(), None),
    # A button: an empty form receives the box with no location, then back to the page.
    "inventory_transfer_receive": (_transfer_kwargs, None, TRANSFERRERS, 302),
}

WATCHED: list[Any] = [
    StorageLocation,
    Lot,
    StockBalance,
    StockMove,
    StockTransfer,
    StockTransferLine,
]
