"""Permission-matrix rows for the dispensing cabinets (API_ROWS in the shape of
tests/test_permission_matrix.py's API_MATRIX; UI_ROWS and WATCHED in the shape of
tests/test_permission_matrix_ui.py's UI_MATRIX). Written by hand from the specification:

* reading cabinets, pockets, pick lists and moves is adc.view: technician, pharmacist, PIC,
  inventory specialist, auditor (never a trainee);
* restocking and unloading is adc.restock: technician, pharmacist, PIC, inventory
  specialist (never a trainee or the auditor);
* setting up cabinets and pockets is adc.setup: pharmacist and PIC."""

from __future__ import annotations

from typing import Any

from rxdesk.core.choices import Role
from rxdesk.core.models import Site, User
from rxdesk.institutional.models import Cabinet, CabinetDiscrepancy, CabinetMove, Pocket
from rxdesk.inventory.models import StockMove, StorageLocation
from tests.institutional.cabinets_setup import NEAR, ward
from tests.institutional.factories import pocket_stock

T, TT, RPH, PIC, INV, AUD, ADM = (
    Role.TECHNICIAN,
    Role.TECHNICIAN_IN_TRAINING,
    Role.PHARMACIST,
    Role.PHARMACIST_IN_CHARGE,
    Role.INVENTORY_SPECIALIST,
    Role.AUDITOR,
    Role.ADMIN,
)
VIEWERS = frozenset({T, RPH, PIC, INV, AUD})
RESTOCKERS = frozenset({T, RPH, PIC, INV})
SETUP = frozenset({RPH, PIC})
NOBODY: frozenset[Role] = frozenset()

P = "/api/v1/institutional"


def _w(site: Site) -> dict[str, Any]:
    return ward(site)


def _cabinet_path(suffix: str = "") -> Any:
    return lambda s, u: (f"{P}/cabinets/{_w(s)['cabinet'].pk}{suffix}", None)


def _new_pocket(site: Site, user: User | None) -> tuple[str, dict[str, Any]]:
    w = _w(site)
    return f"{P}/cabinets/{w['cabinet'].pk}/pockets", {
        "drawer": "3",
        "pocket_code": "C",
        "ndc": "0002-3227-30",
        "par": "8",
        "minimum": "2",
    }


def _restock(site: Site, user: User | None) -> tuple[str, dict[str, Any]]:
    w = _w(site)
    return f"{P}/cabinets/{w['cabinet'].pk}/restock", {
        "lines": [{"pocket_id": w["plain"].pk, "lot_number": "P-NEAR", "quantity": "4"}]
    }


def _unload(site: Site, user: User | None) -> tuple[str, dict[str, Any]]:
    w = _w(site)
    pocket_stock(w["plain"], "P-NEAR", 3, NEAR)
    return f"{P}/pockets/{w['plain'].pk}/unload", {"quantity": "1", "reason": "par lowered"}


API_ROWS: dict[tuple[str, str], Any] = {
    ("GET", "/institutional/cabinets"): (VIEWERS, 200, lambda s, u: (f"{P}/cabinets", None)),
    ("POST", "/institutional/cabinets"): (
        SETUP,
        201,
        lambda s, u: (f"{P}/cabinets", {"code": "5N-1", "name": "5 North", "vendor": "pyxis"}),
    ),
    ("GET", "/institutional/cabinets/{cabinet_id}"): (VIEWERS, 200, _cabinet_path()),
    ("PATCH", "/institutional/cabinets/{cabinet_id}"): (
        SETUP,
        200,
        lambda s, u: (f"{P}/cabinets/{_w(s)['cabinet'].pk}", {"area": "3 West, beds 1-20"}),
    ),
    ("POST", "/institutional/cabinets/{cabinet_id}/pockets"): (SETUP, 201, _new_pocket),
    ("PATCH", "/institutional/pockets/{pocket_id}"): (
        SETUP,
        200,
        lambda s, u: (f"{P}/pockets/{_w(s)['plain'].pk}", {"par": "12"}),
    ),
    ("GET", "/institutional/cabinets/{cabinet_id}/pick-list"): (
        VIEWERS,
        200,
        _cabinet_path("/pick-list"),
    ),
    ("POST", "/institutional/cabinets/{cabinet_id}/restock"): (RESTOCKERS, 201, _restock),
    ("POST", "/institutional/pockets/{pocket_id}/unload"): (RESTOCKERS, 200, _unload),
    ("GET", "/institutional/cabinets/{cabinet_id}/moves"): (VIEWERS, 200, _cabinet_path("/moves")),
}


# --- UI rows ----------------------------------------------------------------------------------


def _none(site: Site) -> dict[str, Any]:
    return {}


def _cabinet(site: Site) -> dict[str, Any]:
    return {"pk": _w(site)["cabinet"].pk}


def _pocket(site: Site) -> dict[str, Any]:
    return {"pk": _w(site)["plain"].pk}


def _stocked_pocket(site: Site) -> dict[str, Any]:
    w = _w(site)
    pocket_stock(w["plain"], "P-NEAR", 3, NEAR)
    return {"pk": w["plain"].pk}


# name: (kwargs, GET roles, POST roles, POST status for an allowed role with an empty form)
UI_ROWS: dict[str, Any] = {
    "adc_cabinets": (_none, VIEWERS, NOBODY, None),
    "adc_cabinet_new": (_none, SETUP, SETUP, 422),
    "adc_cabinet": (_cabinet, VIEWERS, NOBODY, None),
    "adc_cabinet_edit": (_cabinet, SETUP, SETUP, 422),
    "adc_pocket_new": (_cabinet, SETUP, SETUP, 422),
    "adc_pocket_edit": (_pocket, SETUP, SETUP, 422),
    "adc_pick_list": (_cabinet, VIEWERS, NOBODY, None),
    "adc_restock": (_cabinet, RESTOCKERS, RESTOCKERS, 422),
    "adc_pocket_unload": (_stocked_pocket, RESTOCKERS, RESTOCKERS, 422),
}
WATCHED: list[Any] = [Cabinet, Pocket, CabinetMove, CabinetDiscrepancy, StorageLocation, StockMove]
