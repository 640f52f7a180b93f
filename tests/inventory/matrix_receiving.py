"""Permission-matrix rows for the inventory's receiving and ordering screens and API (same
shape as tests/test_permission_matrix.py's API_MATRIX and tests/test_permission_matrix_ui.py's
UI_MATRIX; WATCHED lists models whose row counts must not change on a refused POST).

The builders below set rows up directly (they bypass the services on purpose) and are
shared with the receiving and ordering tests."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from rxdesk.catalog.models import Package
from rxdesk.catalog.ndc import ndc_to_gtin14
from rxdesk.core.choices import Role
from rxdesk.core.models import Site, User
from rxdesk.inventory.choices import PurchaseOrderStatus
from rxdesk.inventory.models import (
    Discrepancy,
    Lot,
    ParLevel,
    PurchaseOrder,
    PurchaseOrderLine,
    Receipt,
    ReceiptLine,
    StockBalance,
    StockMove,
    Supplier,
)
from tests.catalog.factories import PackageFactory, ProductFactory
from tests.inventory.factories import package

GS = "\x1d"
FAR = dt.date(2030, 12, 31)

T, TT, RPH, PIC, INV, AUD, ADM = (
    Role.TECHNICIAN,
    Role.TECHNICIAN_IN_TRAINING,
    Role.PHARMACIST,
    Role.PHARMACIST_IN_CHARGE,
    Role.INVENTORY_SPECIALIST,
    Role.AUDITOR,
    Role.ADMIN,
)
NOBODY: frozenset[Role] = frozenset()
VIEWERS = frozenset({T, TT, RPH, PIC, INV, AUD})
RECEIVERS = frozenset({T, RPH, PIC, INV})
ORDERERS = frozenset({T, RPH, PIC, INV})
SETUP = frozenset({PIC, INV})


# --- Builders ------------------------------------------------------------------------------


def prozac() -> Package:
    """Prozac 20 mg × 30 (NDC 0002-3227-30), a prescription product."""
    return package()


def oxycodone() -> Package:
    """Oxycodone 5 mg × 100, Schedule II."""
    found = Package.objects.filter(ndc10="42858-001-01").first()
    if found is not None:
        return found
    product = ProductFactory(
        name="Oxycodone Hydrochloride",
        generic_name="Oxycodone Hydrochloride",
        product_ndc="42858-001",
        strength="5 mg/1",
        dosage_form="TABLET",
        directory_dea_schedule="CII",
        labeler="Rhodes Pharmaceuticals",
    )
    return PackageFactory(
        product=product,
        ndc10="42858-001-01",
        description="100 TABLET in 1 BOTTLE (42858-001-01)",
        package_quantity=Decimal(100),
    )


def prozac_100() -> Package:
    """The same Prozac product in a bottle of 100 (another NDC of one product)."""
    found = Package.objects.filter(ndc10="0002-3227-01").first()
    if found is not None:
        return found
    return PackageFactory(
        product=prozac().product,
        ndc10="0002-3227-01",
        description="100 CAPSULE in 1 BOTTLE (0002-3227-01)",
        package_quantity=Decimal(100),
    )


def ibuprofen() -> Package:
    """An OTC product (no DSCSA transaction statement needed)."""
    found = Package.objects.filter(ndc10="0904-5853-40").first()
    if found is not None:
        return found
    product = ProductFactory(
        name="Ibuprofen",
        generic_name="Ibuprofen",
        product_ndc="0904-5853",
        product_type="HUMAN OTC DRUG",
        strength="200 mg/1",
        dosage_form="TABLET",
        otc=True,
    )
    return PackageFactory(
        product=product,
        ndc10="0904-5853-40",
        description="100 TABLET in 1 BOTTLE (0904-5853-40)",
        package_quantity=Decimal(100),
    )


def datamatrix(pkg: Package, lot: str, expiry: dt.date = FAR, serial: str = "") -> str:
    """The GS1 element string a scanner sends for a DSCSA 2D code (GS as FNC1)."""
    code = f"01{ndc_to_gtin14(pkg.ndc10)}17{expiry:%y%m%d}10{lot}"
    return code + (f"{GS}21{serial}" if serial else "")


def supplier(site: Site, name: str = "McKesson", **values: Any) -> Supplier:
    found = Supplier.objects.filter(site=site, name=name).first()
    if found is not None:
        return found
    values.setdefault("account_number", "ACCT-778")
    return Supplier.objects.create(site=site, name=name, **values)


def order(
    site: Site,
    status: str = PurchaseOrderStatus.DRAFT,
    lines: tuple[tuple[Package, int], ...] | None = None,
    number: str = "PO-000001",
    vendor: Supplier | None = None,
) -> PurchaseOrder:
    po = PurchaseOrder.objects.create(
        site=site, supplier=vendor or supplier(site), number=number, status=status
    )
    for pkg, count in lines if lines is not None else ((prozac(), 3),):
        PurchaseOrderLine.objects.create(
            order=po, package=pkg, packages_ordered=count, unit_cost=Decimal("12.50")
        )
    return po


def receipt(site: Site, po: PurchaseOrder | None = None, **values: Any) -> Receipt:
    values.setdefault("dscsa_transaction_info", "TI via EPCIS, invoice 99812")
    values.setdefault("dscsa_statement_received", True)
    return Receipt.objects.create(
        site=site, supplier=po.supplier if po else supplier(site), purchase_order=po, **values
    )


def receipt_line(
    rec: Receipt, pkg: Package | None = None, lot: str = "L1", **values: Any
) -> ReceiptLine:
    pkg = pkg or prozac()
    the_lot, _ = Lot.objects.get_or_create(package=pkg, number=lot, defaults={"expiry": FAR})
    values.setdefault("packages_received", 2)
    return ReceiptLine.objects.create(
        receipt=rec, package=pkg, lot=the_lot, lot_number=lot, expiry=the_lot.expiry, **values
    )


def discrepancy(site: Site, user: User | None = None) -> Discrepancy:
    rec = receipt(site)
    line = receipt_line(rec)
    return Discrepancy.objects.create(
        site=site,
        receipt=rec,
        receipt_line=line,
        package=line.package,
        kind="short",
        packages=1,
        note="NDC 0002-3227-30: invoiced 3, received 2.",
    )


# --- API rows ------------------------------------------------------------------------------

P = "/api/v1/inventory"
INVOICE_CSV = "NDC,Description,Qty,Unit Cost\n0002-3227-30,PROZAC 20MG 30,3,12.50\n"


def _received_order(site: Site) -> PurchaseOrder:
    po = order(site, status=PurchaseOrderStatus.RECEIVED)
    po.lines.update(packages_received=3)
    return po


def _suggested(site: Site) -> Supplier:
    ParLevel.objects.create(site=site, package=prozac(), minimum=30, maximum=90)
    return supplier(site)


def _order_line(site: Site) -> str:
    po = order(site)
    return f"{P}/purchase-orders/{po.pk}/lines/{po.lines.get().pk}"


def _receipt_line(site: Site) -> str:
    line = receipt_line(receipt(site))
    return f"{P}/receipts/{line.receipt_id}/lines/{line.pk}"


def _invoice_receipt(site: Site) -> Receipt:
    prozac()  # the invoice's NDC is in the catalog
    return receipt(site)


def _posting(site: Site) -> str:
    return f"{P}/receipts/{receipt_line(receipt(site)).receipt_id}/post"


API_ROWS: dict[tuple[str, str], Any] = {
    ("GET", "/inventory/suppliers"): (VIEWERS, 200, lambda s, u: (f"{P}/suppliers", None)),
    ("POST", "/inventory/suppliers"): (
        SETUP,
        201,
        lambda s, u: (f"{P}/suppliers", {"name": "Cardinal Health", "dea_number": "PM1234563"}),
    ),
    ("PATCH", "/inventory/suppliers/{supplier_id}"): (
        SETUP,
        200,
        lambda s, u: (f"{P}/suppliers/{supplier(s).pk}", {"account_number": "A-2"}),
    ),
    ("GET", "/inventory/par-levels"): (VIEWERS, 200, lambda s, u: (f"{P}/par-levels", None)),
    ("PUT", "/inventory/par-levels/{ndc}"): (
        SETUP,
        200,
        lambda s, u: (f"{P}/par-levels/{prozac().ndc11}", {"minimum": "30", "maximum": "90"}),
    ),
    ("GET", "/inventory/order-suggestions"): (
        ORDERERS,
        200,
        lambda s, u: (f"{P}/order-suggestions", None),
    ),
    ("GET", "/inventory/purchase-orders"): (
        VIEWERS,
        200,
        lambda s, u: (f"{P}/purchase-orders", None),
    ),
    ("POST", "/inventory/purchase-orders"): (
        ORDERERS,
        201,
        lambda s, u: (
            f"{P}/purchase-orders",
            {"supplier_id": supplier(s).pk, "lines": [{"ndc": prozac().ndc11, "packages": 2}]},
        ),
    ),
    ("POST", "/inventory/purchase-orders/from-suggestions"): (
        ORDERERS,
        201,
        lambda s, u: (f"{P}/purchase-orders/from-suggestions", {"supplier_id": _suggested(s).pk}),
    ),
    ("GET", "/inventory/purchase-orders/{order_id}"): (
        VIEWERS,
        200,
        lambda s, u: (f"{P}/purchase-orders/{order(s).pk}", None),
    ),
    ("POST", "/inventory/purchase-orders/{order_id}/lines"): (
        ORDERERS,
        201,
        lambda s, u: (
            f"{P}/purchase-orders/{order(s, lines=()).pk}/lines",
            {"ndc": prozac().ndc10, "packages": 1},
        ),
    ),
    ("PATCH", "/inventory/purchase-orders/{order_id}/lines/{line_id}"): (
        ORDERERS,
        200,
        lambda s, u: (_order_line(s), {"packages": 5}),
    ),
    ("DELETE", "/inventory/purchase-orders/{order_id}/lines/{line_id}"): (
        ORDERERS,
        204,
        lambda s, u: (_order_line(s), None),
    ),
    ("POST", "/inventory/purchase-orders/{order_id}/send"): (
        ORDERERS,
        200,
        lambda s, u: (f"{P}/purchase-orders/{order(s).pk}/send", None),
    ),
    ("POST", "/inventory/purchase-orders/{order_id}/close"): (
        ORDERERS,
        200,
        lambda s, u: (f"{P}/purchase-orders/{_received_order(s).pk}/close", {"reason": ""}),
    ),
    ("POST", "/inventory/purchase-orders/{order_id}/cancel"): (
        ORDERERS,
        200,
        lambda s, u: (f"{P}/purchase-orders/{order(s).pk}/cancel", {"reason": "Duplicate"}),
    ),
    ("GET", "/inventory/purchase-orders/{order_id}/order-file"): (
        ORDERERS,
        200,
        lambda s, u: (f"{P}/purchase-orders/{order(s).pk}/order-file", None),
    ),
    ("GET", "/inventory/receipts"): (VIEWERS, 200, lambda s, u: (f"{P}/receipts", None)),
    ("POST", "/inventory/receipts"): (
        RECEIVERS,
        201,
        lambda s, u: (f"{P}/receipts", {"supplier_id": supplier(s).pk}),
    ),
    ("GET", "/inventory/receipts/{receipt_id}"): (
        VIEWERS,
        200,
        lambda s, u: (f"{P}/receipts/{receipt(s).pk}", None),
    ),
    ("PATCH", "/inventory/receipts/{receipt_id}"): (
        RECEIVERS,
        200,
        lambda s, u: (f"{P}/receipts/{receipt(s).pk}", {"invoice_number": "INV-7"}),
    ),
    ("POST", "/inventory/receipts/{receipt_id}/lines"): (
        RECEIVERS,
        201,
        lambda s, u: (f"{P}/receipts/{receipt(s).pk}/lines", {"scan": datamatrix(prozac(), "A1")}),
    ),
    ("PATCH", "/inventory/receipts/{receipt_id}/lines/{line_id}"): (
        RECEIVERS,
        200,
        lambda s, u: (_receipt_line(s), {"packages_received": 3}),
    ),
    ("DELETE", "/inventory/receipts/{receipt_id}/lines/{line_id}"): (
        RECEIVERS,
        204,
        lambda s, u: (_receipt_line(s), None),
    ),
    ("POST", "/inventory/receipts/{receipt_id}/import-invoice"): (
        RECEIVERS,
        200,
        lambda s, u: (
            f"{P}/receipts/{_invoice_receipt(s).pk}/import-invoice",
            {"text": INVOICE_CSV},
        ),
    ),
    ("POST", "/inventory/receipts/{receipt_id}/post"): (
        RECEIVERS,
        200,
        lambda s, u: (_posting(s), None),
    ),
    ("POST", "/inventory/receipts/{receipt_id}/discrepancies"): (
        RECEIVERS,
        201,
        lambda s, u: (
            f"{P}/receipts/{receipt(s).pk}/discrepancies",
            {"kind": "damaged", "ndc": prozac().ndc11, "note": "Crushed carton"},
        ),
    ),
    ("GET", "/inventory/discrepancies"): (VIEWERS, 200, lambda s, u: (f"{P}/discrepancies", None)),
    ("PATCH", "/inventory/discrepancies/{discrepancy_id}"): (
        RECEIVERS,
        200,
        lambda s, u: (f"{P}/discrepancies/{discrepancy(s).pk}", {"follow_up": "Called McKesson"}),
    ),
}

# --- UI rows -------------------------------------------------------------------------------


def _none(site: Site) -> dict[str, Any]:
    return {}


def _receipt_kw(site: Site) -> dict[str, Any]:
    return {"pk": receipt(site).pk}


def _receipt_line_kw(site: Site) -> dict[str, Any]:
    line = receipt_line(receipt(site))
    return {"pk": line.receipt_id, "line_pk": line.pk}


def _posting_kw(site: Site) -> dict[str, Any]:
    return {"pk": receipt_line(receipt(site)).receipt_id}


def _order_kw(site: Site) -> dict[str, Any]:
    return {"pk": order(site).pk}


def _order_line_kw(site: Site) -> dict[str, Any]:
    po = order(site)
    return {"pk": po.pk, "line_pk": po.lines.get().pk}


def _partial_order_kw(site: Site) -> dict[str, Any]:
    po = order(site, status=PurchaseOrderStatus.PARTIAL)
    po.lines.update(packages_received=1)
    return {"pk": po.pk}


def _sent_order_kw(site: Site) -> dict[str, Any]:
    return {"pk": order(site, status=PurchaseOrderStatus.SENT).pk}


def _supplier_kw(site: Site) -> dict[str, Any]:
    return {"pk": supplier(site).pk}


def _discrepancy_kw(site: Site) -> dict[str, Any]:
    return {"pk": discrepancy(site).pk}


# name: (kwargs, GET roles, POST roles, POST status for an allowed role with an empty form)
UI_ROWS: dict[str, Any] = {
    "inventory_receipts": (_none, VIEWERS, NOBODY, None),
    "inventory_receipt_create": (_none, RECEIVERS, RECEIVERS, 422),
    "inventory_receipt": (_receipt_kw, VIEWERS, NOBODY, None),
    "inventory_receipt_scan": (_receipt_kw, None, RECEIVERS, 422),
    "inventory_receipt_edit": (_receipt_kw, RECEIVERS, RECEIVERS, 302),
    "inventory_receipt_import": (_receipt_kw, RECEIVERS, RECEIVERS, 422),
    "inventory_receipt_post": (_posting_kw, None, RECEIVERS, 302),
    "inventory_receipt_discrepancy_add": (_receipt_kw, RECEIVERS, RECEIVERS, 422),
    "inventory_receipt_line_edit": (_receipt_line_kw, RECEIVERS, RECEIVERS, 422),
    "inventory_receipt_line_remove": (_receipt_line_kw, None, RECEIVERS, 302),
    "inventory_purchase_orders": (_none, VIEWERS, NOBODY, None),
    "inventory_purchase_order_create": (_none, ORDERERS, ORDERERS, 422),
    "inventory_order_suggestions": (_none, ORDERERS, NOBODY, None),
    "inventory_purchase_order_from_suggestions": (_none, None, ORDERERS, 302),
    "inventory_purchase_order": (_order_kw, VIEWERS, NOBODY, None),
    "inventory_purchase_order_line_add": (_order_kw, None, ORDERERS, 422),
    "inventory_purchase_order_line_edit": (_order_line_kw, ORDERERS, ORDERERS, 422),
    "inventory_purchase_order_line_remove": (_order_line_kw, None, ORDERERS, 302),
    "inventory_purchase_order_send": (_order_kw, None, ORDERERS, 302),
    "inventory_purchase_order_close": (_partial_order_kw, ORDERERS, ORDERERS, 422),
    "inventory_purchase_order_cancel": (_sent_order_kw, ORDERERS, ORDERERS, 422),
    "inventory_purchase_order_file": (_order_kw, ORDERERS, NOBODY, None),
    "inventory_suppliers": (_none, VIEWERS, NOBODY, None),
    "inventory_supplier_create": (_none, SETUP, SETUP, 422),
    "inventory_supplier_edit": (_supplier_kw, SETUP, SETUP, 422),
    "inventory_par_levels": (_none, VIEWERS, NOBODY, None),
    "inventory_par_level_set": (_none, SETUP, SETUP, 422),
    "inventory_discrepancies": (_none, VIEWERS, NOBODY, None),
    "inventory_discrepancy": (_discrepancy_kw, VIEWERS, RECEIVERS, 422),
}
WATCHED: list[Any] = [
    Supplier,
    ParLevel,
    PurchaseOrder,
    PurchaseOrderLine,
    Receipt,
    ReceiptLine,
    Discrepancy,
    StockMove,
    StockBalance,
]
