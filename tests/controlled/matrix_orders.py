"""Permission-matrix rows for the controlled-substance orders pages and API (the shapes of
tests/test_permission_matrix.py API_MATRIX and tests/test_permission_matrix_ui.py UI_MATRIX).

Reading the order forms and the receipts: every role with cs.view (technician, pharmacist,
PIC, inventory specialist, auditor); recording and voiding a form: pharmacists (cs.order).

The builders below are shared with the order tests (tests/controlled/test_orders*.py)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from rxdesk.catalog.models import Package
from rxdesk.controlled import services_orders
from rxdesk.controlled.models import Form222Line, Form222Order, Form222Receipt
from rxdesk.core.choices import Role
from rxdesk.core.models import Site, User
from rxdesk.inventory.models import Receipt, Supplier
from rxdesk.inventory.services import receiving
from tests.controlled.factories import oxycodone
from tests.factories import UserFactory
from tests.inventory.factories import FAR, package

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
ORDER = frozenset({RPH, PIC})
NOBODY: frozenset[Role] = frozenset()

P = "/api/v1/controlled"


def _helper(site: Site) -> User:
    return UserFactory(site=site, role=PIC, username="cs-orders-helper")


def supplier(
    site: Site, name: str = "Matrix CII Wholesale", dea_number: str = "PM1234563", **values: Any
) -> Supplier:
    found = Supplier.objects.filter(site=site, name=name).first()
    if found is not None:
        return found
    return Supplier.objects.create(site=site, name=name, dea_number=dea_number, **values)


def reverse_distributor(site: Site) -> Supplier:
    return supplier(site, "Inmar Rx Solutions", "RI1234563", reverse_distributor=True)


def hydromorphone() -> Package:
    """Hydromorphone 2 mg tablets × 100: another Schedule II package."""
    pkg = package(
        "0054-0264-25",
        name="Hydromorphone Hydrochloride",
        generic_name="Hydromorphone Hydrochloride",
        dosage_form="TABLET",
        strength="2 mg/1",
        directory_dea_schedule="CII",
        product_ndc="0054-0264",
    )
    if pkg.package_quantity != 100:
        pkg.package_quantity = Decimal(100)
        pkg.save(update_fields=["package_quantity"])
    return pkg


def deliver(
    site: Site,
    actor: User,
    number: str,
    *,
    pkg: Package | None = None,
    packages: int = 1,
    damaged: int = 0,
    lot: str = "OX1",
    invoice: str = "INV-1",
    vendor: Supplier | None = None,
    expiry: dt.date = FAR,
) -> Receipt:
    """A delivery checked in (not posted): one line of ``pkg`` (oxycodone) with the
    Schedule II order number typed on it."""
    rec = receiving.receipt_create(
        actor=actor,
        supplier=vendor or supplier(site),
        invoice_number=invoice,
        dscsa_transaction_info="TI via EPCIS",
        dscsa_statement_received=True,
    )
    receiving.receipt_line_add(
        actor=actor,
        receipt=rec,
        ndc=pkg or oxycodone(),
        lot_number=lot,
        expiry=expiry,
        packages_received=packages,
        packages_damaged=damaged,
        dea_order_number=number,
    )
    return rec


def _order(site: Site) -> Form222Order:
    return services_orders.form222_create(
        actor=_helper(site),
        number="229000001",
        supplier=supplier(site),
        executed_on=site.today(),
        lines=[{"ndc": oxycodone().ndc10, "packages": 2}],
    )


def _new_order_body(site: Site) -> dict[str, Any]:
    return {
        "number": "229000002",
        "supplier_id": supplier(site).pk,
        "executed_on": site.today().isoformat(),
        "lines": [{"ndc": oxycodone().ndc10, "packages": 3}],
    }


API_ROWS: dict[tuple[str, str], Any] = {
    ("GET", "/controlled/orders"): (VIEW, 200, lambda s, u: (f"{P}/orders", None)),
    ("POST", "/controlled/orders"): (
        ORDER,
        201,
        lambda s, u: (f"{P}/orders", _new_order_body(s)),
    ),
    ("GET", "/controlled/orders/{order_id}"): (
        VIEW,
        200,
        lambda s, u: (f"{P}/orders/{_order(s).pk}", None),
    ),
    ("POST", "/controlled/orders/{order_id}/void"): (
        ORDER,
        200,
        lambda s, u: (f"{P}/orders/{_order(s).pk}/void", {"reason": "Returned unaccepted"}),
    ),
    ("GET", "/controlled/receipts"): (VIEW, 200, lambda s, u: (f"{P}/receipts", None)),
}


def none(site: Site) -> dict[str, Any]:
    return {}


def order(site: Site) -> dict[str, Any]:
    return {"pk": _order(site).pk}


# name: (kwargs, GET roles, POST roles, POST status for an allowed role with an empty form)
UI_ROWS: dict[str, Any] = {
    "cs_orders": (none, VIEW, NOBODY, None),
    "cs_order_create": (none, ORDER, ORDER, 422),
    "cs_order_detail": (order, VIEW, NOBODY, None),
    "cs_order_void": (order, ORDER, ORDER, 422),
    "cs_receipts": (none, VIEW, NOBODY, None),
}
WATCHED: list[Any] = [Form222Order, Form222Line, Form222Receipt]
