"""Permission-matrix rows for the controlled-substance inventories pages and API (the shapes of
tests/test_permission_matrix.py API_MATRIX and tests/test_permission_matrix_ui.py UI_MATRIX).

Reading and printing: cs.view (technician, pharmacist, PIC, inventory specialist, auditor);
starting, counting and cancelling: cs.count (not the auditor); signing: the PIC only."""

from __future__ import annotations

from typing import Any

from rxdesk.controlled import services_inventories
from rxdesk.controlled.models import CsInventory, CsInventoryLine
from rxdesk.core.choices import Role
from rxdesk.core.models import Site, User
from tests.controlled.factories import cs_stock, oxycodone
from tests.factories import UserFactory

T, TT, RPH, PIC, INV, AUD, ADM = (
    Role.TECHNICIAN,
    Role.TECHNICIAN_IN_TRAINING,
    Role.PHARMACIST,
    Role.PHARMACIST_IN_CHARGE,
    Role.INVENTORY_SPECIALIST,
    Role.AUDITOR,
    Role.ADMIN,
)
VIEW = frozenset({T, RPH, PIC, INV, AUD})
COUNT = frozenset({T, RPH, PIC, INV})
SIGN = frozenset({PIC})
NOBODY: frozenset[Role] = frozenset()

P = "/api/v1/controlled"


def _helper(site: Site) -> User:
    return UserFactory(site=site, role=PIC, username="cs-inventory-helper")


def _open(site: Site) -> CsInventory:
    """An open initial inventory (nothing on hand: it may be signed as a zero inventory)."""
    return services_inventories.cs_inventory_start(
        actor=_helper(site), kind="initial", taken_on=site.today(), taken_at="opening"
    )


def _with_stock(site: Site) -> CsInventory:
    cs_stock(site, oxycodone(), 100, lot="MX1")
    return _open(site)


def _path(inventory: CsInventory, rest: str = "") -> str:
    return f"{P}/inventories/{inventory.pk}{rest}"


API_ROWS: dict[tuple[str, str], Any] = {
    ("GET", "/controlled/inventories"): (VIEW, 200, lambda s, u: (f"{P}/inventories", None)),
    ("POST", "/controlled/inventories"): (
        COUNT,
        201,
        lambda s, u: (
            f"{P}/inventories",
            {"kind": "initial", "taken_on": s.today().isoformat(), "taken_at": "close"},
        ),
    ),
    ("GET", "/controlled/inventories/{inventory_id}"): (
        VIEW,
        200,
        lambda s, u: (_path(_with_stock(s)), None),
    ),
    ("POST", "/controlled/inventories/{inventory_id}/lines"): (
        COUNT,
        200,
        lambda s, u: (
            _path(_with_stock(s), "/lines"),
            {"ndc": oxycodone().ndc10, "lot_number": "MX1", "sealed_containers": 1},
        ),
    ),
    ("POST", "/controlled/inventories/{inventory_id}/sign"): (
        SIGN,
        200,
        lambda s, u: (_path(_open(s), "/sign"), None),
    ),
    ("POST", "/controlled/inventories/{inventory_id}/cancel"): (
        COUNT,
        200,
        lambda s, u: (_path(_open(s), "/cancel"), {"reason": "Started by mistake"}),
    ),
    ("GET", "/controlled/inventories/{inventory_id}/pdf"): (
        VIEW,
        200,
        lambda s, u: (_path(_open(s), "/pdf"), None),
    ),
}


def none(site: Site) -> dict[str, Any]:
    return {}


def open_inventory(site: Site) -> dict[str, Any]:
    return {"pk": _with_stock(site).pk}


# name: (kwargs, GET roles, POST roles, POST status for an allowed role with an empty form)
UI_ROWS: dict[str, Any] = {
    "cs_inventories": (none, VIEW, NOBODY, None),
    "cs_inventory_start": (none, COUNT, COUNT, 422),
    "cs_inventory_detail": (open_inventory, VIEW, COUNT, 422),
    "cs_inventory_sign": (open_inventory, SIGN, SIGN, 422),
    "cs_inventory_cancel": (open_inventory, COUNT, COUNT, 422),
    "cs_inventory_pdf": (open_inventory, VIEW, NOBODY, None),
}
WATCHED: list[Any] = [CsInventory, CsInventoryLine]
