"""Permission-matrix rows for the inventory's counts screens and API (same shape as
tests/test_permission_matrix.py's API_MATRIX and tests/test_permission_matrix_ui.py's
UI_MATRIX; WATCHED lists models whose row counts must not change on a refused POST).

Counting and removal: cycle counts (count: technicians, trainees, pharmacists, the
inventory specialist; approve: pharmacists), the expiring report (every inventory reader),
the expiry sweep (stock control: pharmacists and the inventory specialist), returns to
vendor (stock work, not trainees)."""

from __future__ import annotations

from typing import Any

from rxdesk.core.choices import Role
from rxdesk.core.models import Site, User
from rxdesk.inventory.models import (
    CycleCount,
    CycleCountLine,
    Lot,
    StockMove,
    Supplier,
    VendorReturn,
    VendorReturnLine,
)
from rxdesk.inventory.services import counts, removal
from tests.factories import UserFactory
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
VIEW = frozenset({T, TT, RPH, PIC, INV, AUD})
COUNT = frozenset({T, TT, RPH, PIC, INV})
APPROVE = frozenset({RPH, PIC})
ADJUST = frozenset({RPH, PIC, INV})
RETURN = frozenset({T, RPH, PIC, INV})
NOBODY: frozenset[Role] = frozenset()

P = "/api/v1/inventory"


def _helper(site: Site) -> User:
    """Someone other than the caller who sets the scene (and submits counts, so any
    pharmacist may approve them)."""
    return UserFactory(site=site, role=PIC, username="matrix-helper")


def _open_count(site: Site) -> CycleCount:
    stock(site, package(), "M1", 10)
    return counts.cycle_count_create(actor=_helper(site), scope="full")


def _counted_count(site: Site) -> CycleCount:
    count = _open_count(site)
    counts.cycle_count_record(actor=_helper(site), line=count.lines.get(), counted="10")
    return count


def _submitted_count(site: Site) -> CycleCount:
    count = _counted_count(site)
    return counts.cycle_count_submit(actor=_helper(site), count=count)


def _supplier(site: Site) -> Supplier:
    return Supplier.objects.create(site=site, name="Matrix Wholesale")


def _draft_return(site: Site) -> VendorReturn:
    balance = stock(site, package(), "R1", 10)
    return removal.vendor_return_create(
        actor=_helper(site),
        kind="vendor",
        supplier=_supplier(site),
        lines=[{"balance": balance.pk, "quantity": "4", "reason": "Overstock"}],
    )


def _shipped_return(site: Site) -> VendorReturn:
    packed = _draft_return(site)
    return removal.vendor_return_ship(
        actor=_helper(site), vendor_return=packed, carrier="UPS", tracking_number="1Z1"
    )


def _count_path(count: CycleCount, rest: str = "") -> str:
    return f"{P}/cycle-counts/{count.pk}{rest}"


def _line_path(count: CycleCount, rest: str = "") -> str:
    return f"{P}/cycle-counts/{count.pk}/lines/{count.lines.get().pk}{rest}"


API_ROWS: dict[tuple[str, str], Any] = {
    ("GET", "/inventory/cycle-counts"): (VIEW, 200, lambda s, u: (f"{P}/cycle-counts", None)),
    ("POST", "/inventory/cycle-counts"): (
        COUNT,
        201,
        lambda s, u: (stock(s, package(), "N1", 5) and f"{P}/cycle-counts", {"scope": "full"}),
    ),
    ("GET", "/inventory/cycle-counts/{count_id}"): (
        VIEW,
        200,
        lambda s, u: (_count_path(_open_count(s)), None),
    ),
    ("PUT", "/inventory/cycle-counts/{count_id}/lines/{line_id}"): (
        COUNT,
        200,
        lambda s, u: (_line_path(_open_count(s)), {"counted": "9"}),
    ),
    ("POST", "/inventory/cycle-counts/{count_id}/lines"): (
        COUNT,
        201,
        lambda s, u: (
            _count_path(_open_count(s), "/lines"),
            {"ndc": "0002-3227-30", "lot_number": "FOUND1", "expiry": "2031-01-31", "counted": 2},
        ),
    ),
    ("POST", "/inventory/cycle-counts/{count_id}/submit"): (
        COUNT,
        200,
        lambda s, u: (_count_path(_counted_count(s), "/submit"), None),
    ),
    ("POST", "/inventory/cycle-counts/{count_id}/lines/{line_id}/investigate"): (
        COUNT,
        200,
        lambda s, u: (_line_path(_submitted_count(s), "/investigate"), {"note": "Checked"}),
    ),
    ("POST", "/inventory/cycle-counts/{count_id}/approve"): (
        APPROVE,
        200,
        lambda s, u: (_count_path(_submitted_count(s), "/approve"), None),
    ),
    ("POST", "/inventory/cycle-counts/{count_id}/cancel"): (
        COUNT,
        200,
        lambda s, u: (_count_path(_open_count(s), "/cancel"), {"reason": "Wrong shelf"}),
    ),
    ("GET", "/inventory/stock/expiring"): (
        VIEW,
        200,
        lambda s, u: (f"{P}/stock/expiring?days=30", None),
    ),
    ("POST", "/inventory/stock/expired-quarantine"): (
        ADJUST,
        200,
        lambda s, u: (f"{P}/stock/expired-quarantine", {}),
    ),
    ("GET", "/inventory/vendor-returns"): (VIEW, 200, lambda s, u: (f"{P}/vendor-returns", None)),
    ("POST", "/inventory/vendor-returns"): (
        RETURN,
        201,
        lambda s, u: (
            f"{P}/vendor-returns",
            {
                "kind": "vendor",
                "supplier": _supplier(s).pk,
                "lines": [{"balance": stock(s, package(), "V1", 5).pk, "quantity": "5"}],
            },
        ),
    ),
    ("GET", "/inventory/vendor-returns/{return_id}"): (
        VIEW,
        200,
        lambda s, u: (f"{P}/vendor-returns/{_draft_return(s).pk}", None),
    ),
    ("POST", "/inventory/vendor-returns/{return_id}/ship"): (
        RETURN,
        200,
        lambda s, u: (
            f"{P}/vendor-returns/{_draft_return(s).pk}/ship",
            {"carrier": "UPS", "tracking_number": "1Z2"},
        ),
    ),
    ("POST", "/inventory/vendor-returns/{return_id}/credit"): (
        RETURN,
        200,
        lambda s, u: (
            f"{P}/vendor-returns/{_shipped_return(s).pk}/credit",
            {"credit_received": "3.50"},
        ),
    ),
    ("POST", "/inventory/vendor-returns/{return_id}/close"): (
        RETURN,
        200,
        lambda s, u: (f"{P}/vendor-returns/{_shipped_return(s).pk}/close", {}),
    ),
}


def none(site: Site) -> dict[str, Any]:
    return {}


def open_count(site: Site) -> dict[str, Any]:
    return {"pk": _open_count(site).pk}


def submitted_count(site: Site) -> dict[str, Any]:
    return {"pk": _submitted_count(site).pk}


def submitted_line(site: Site) -> dict[str, Any]:
    count = _submitted_count(site)
    return {"pk": count.pk, "line_pk": count.lines.get().pk}


def draft_return(site: Site) -> dict[str, Any]:
    return {"pk": _draft_return(site).pk}


# name: (kwargs, GET roles, POST roles, POST status for an allowed role with an empty form)
UI_ROWS: dict[str, Any] = {
    "inventory_counts": (none, VIEW, NOBODY, None),
    "inventory_count_create": (none, COUNT, COUNT, 422),
    "inventory_count_detail": (open_count, VIEW, NOBODY, None),
    "inventory_count_record": (open_count, None, COUNT, 422),
    "inventory_count_add_line": (open_count, COUNT, COUNT, 422),
    # An uncounted line: the submit is refused beside the sheet (a redirect with the message).
    "inventory_count_submit": (open_count, None, COUNT, 302),
    "inventory_count_investigate": (submitted_line, COUNT, COUNT, 422),
    "inventory_count_approve": (submitted_count, None, APPROVE, 302),
    "inventory_count_cancel": (open_count, COUNT, COUNT, 422),
    "inventory_expiring": (none, VIEW, NOBODY, None),
    "inventory_expiring_csv": (none, VIEW, NOBODY, None),
    "inventory_expired_quarantine": (none, None, ADJUST, 302),
    "inventory_returns": (none, VIEW, NOBODY, None),
    "inventory_return_create": (none, RETURN, RETURN, 422),
    "inventory_return_detail": (draft_return, VIEW, NOBODY, None),
    "inventory_return_ship": (draft_return, None, RETURN, 422),
    "inventory_return_credit": (draft_return, None, RETURN, 422),
    "inventory_return_close": (draft_return, None, RETURN, 422),
    "inventory_return_custody": (draft_return, VIEW, NOBODY, None),
}

WATCHED: list[Any] = [
    CycleCount,
    CycleCountLine,
    VendorReturn,
    VendorReturnLine,
    StockMove,
    Lot,
]
