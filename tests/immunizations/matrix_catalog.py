"""Permission-matrix rows for immunizations: catalog (API_ROWS in the shape of
tests/test_permission_matrix.py's API_MATRIX; UI_ROWS and WATCHED in the shape of
tests/test_permission_matrix_ui.py's UI_MATRIX). Written by hand from the specification:

* the vaccine catalog is reference data with no PHI: every role reads it (catalog.view);
* vaccine stock (read, receive, record a lot's funding) is imm.stock: technician,
  pharmacist, PIC and the inventory specialist — never the trainee, auditor or admin."""

from __future__ import annotations

from typing import Any

from rxdesk.core.choices import Role
from rxdesk.core.models import Site, User
from rxdesk.immunizations.models import VaccineLot
from rxdesk.inventory.models import Lot, StockBalance, StockMove
from tests.immunizations.factories import FLU_SALE_NDC10, flu_package, stocked, vaccine

T, TT, RPH, PIC, INV, AUD = (
    Role.TECHNICIAN,
    Role.TECHNICIAN_IN_TRAINING,
    Role.PHARMACIST,
    Role.PHARMACIST_IN_CHARGE,
    Role.INVENTORY_SPECIALIST,
    Role.AUDITOR,
)
NOBODY: frozenset[Role] = frozenset()
EVERYONE = frozenset(Role)
STOCK = frozenset({T, RPH, PIC, INV})

P = "/api/v1/immunizations"


def _none(site: Site) -> dict[str, Any]:
    return {}


def _vaccine(site: Site) -> dict[str, Any]:
    return {"cvx": vaccine("150").cvx}


def _lot(site: Site) -> dict[str, Any]:
    return {"lot_id": stocked(site).lot_id}


def _receive(site: Site, user: User | None) -> tuple[str, dict[str, Any]]:
    flu_package()
    return (
        f"{P}/stock",
        {
            "code": FLU_SALE_NDC10,
            "lot_number": "MX1234",
            "expiry": "2030-06-30",
            "quantity": "10",
            "funding": "private",
        },
    )


API_ROWS: dict[tuple[str, str], Any] = {
    ("GET", "/immunizations/vaccines"): (
        EVERYONE,
        200,
        lambda s, u: (f"{P}/vaccines?q=flu", None),
    ),
    ("GET", "/immunizations/vaccines/{cvx}"): (
        EVERYONE,
        200,
        lambda s, u: (f"{P}/vaccines/{vaccine('150').cvx}", None),
    ),
    ("GET", "/immunizations/vaccine-code"): (
        EVERYONE,
        200,
        lambda s, u: (flu_package() and f"{P}/vaccine-code?code={FLU_SALE_NDC10}", None),
    ),
    ("GET", "/immunizations/stock"): (STOCK, 200, lambda s, u: (f"{P}/stock", None)),
    ("POST", "/immunizations/stock"): (STOCK, 201, _receive),
    ("PUT", "/immunizations/stock/lots/{lot_id}/funding"): (
        STOCK,
        200,
        lambda s, u: (f"{P}/stock/lots/{stocked(s).lot_id}/funding", {"funding": "vfc"}),
    ),
}
UI_ROWS: dict[str, Any] = {
    "imm_vaccines": (_none, EVERYONE, NOBODY, None),
    "imm_vaccine": (_vaccine, EVERYONE, NOBODY, None),
    "imm_stock": (_none, STOCK, NOBODY, None),
    "imm_stock_receive": (_none, STOCK, STOCK, 422),
    "imm_stock_lot_funding": (_lot, STOCK, STOCK, 422),
}
WATCHED: list[Any] = [VaccineLot, Lot, StockBalance, StockMove]
