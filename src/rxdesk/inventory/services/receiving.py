"""Inventory services: receiving — a delivery checked in against its purchase order and
supplier invoice, scanned package by package (GS1 DataMatrix: NDC, lot, expiry, serial),
with its DSCSA transaction information and statement, posted to stock all at once, and the
short, over, damaged and wrong items followed up with the supplier as discrepancies.

Each service: one transaction, a capability check first, the rules, the writes, and one
audit event last. Receipts count whole packages; posting moves ``packages ×
package_quantity`` billing units into the ledger (rxdesk.inventory.ledger)."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from rxdesk.catalog.models import Package
from rxdesk.catalog.ndc import CodeError, parse_scan
from rxdesk.core.audit import audit_record, register_actions
from rxdesk.core.capabilities import Cap
from rxdesk.core.errors import Conflict, DomainError, Invalid, NotFound
from rxdesk.core.models import Site, User
from rxdesk.core.services import authorize
from rxdesk.inventory import ledger, seams
from rxdesk.inventory.choices import (
    DiscrepancyKind,
    DiscrepancyStatus,
    MoveReason,
    PurchaseOrderStatus,
    ReceiptStatus,
)
from rxdesk.inventory.invoice import InvoiceError, parse_file
from rxdesk.inventory.ledger import Ref
from rxdesk.inventory.models import (
    Discrepancy,
    Lot,
    PurchaseOrder,
    PurchaseOrderLine,
    Receipt,
    ReceiptLine,
    Supplier,
)
from rxdesk.inventory.services.common import date_of, location_of, package_of, site_of
from rxdesk.inventory.services.ordering import (
    MAX_PACKAGES,
    RECEIVABLE_ORDER,
    home_site,
    money_of,
    packages_of,
    supplier_at,
)
from rxdesk.inventory.services.stock import recall_blocks, receivable_lot, schedule_ii_check

register_actions(
    {
        "inventory.receipt.created": "Delivery check-in started",
        "inventory.receipt.updated": "Delivery details changed",
        "inventory.receipt.line_added": "Delivery line scanned or entered",
        "inventory.receipt.line_changed": "Delivery line changed",
        "inventory.receipt.line_removed": "Delivery line removed",
        "inventory.receipt.invoice_imported": "Supplier invoice imported",
        "inventory.receipt.posted": "Delivery posted to stock",
        "inventory.receipt.discrepancy_added": "Refused package recorded as a discrepancy",
        "inventory.discrepancy.updated": "Delivery discrepancy followed up",
    }
)

MAX_SCAN = 200
MAX_SERIAL = 40
MAX_TRANSACTION_INFO = 5000
# What a person adds to a recorded discrepancy's note; the facts of the package (NDC, lot,
# expiry, serial, recall) come first and the whole fits Discrepancy.note (500).
MAX_DISCREPANCY_NOTE = 160
# Kinds of a package that arrived and was refused: it is accounted for, not short.
REFUSED_KINDS = frozenset(
    {
        DiscrepancyKind.EXPIRED,
        DiscrepancyKind.DAMAGED,
        DiscrepancyKind.WRONG_ITEM,
        DiscrepancyKind.NOT_ORDERED,
    }
)

_UNSET: Any = object()


def _text(value: Any, *, field: str, max_length: int) -> str:
    text = str(value or "").strip()
    if len(text) > max_length:
        raise Invalid(f"At most {max_length} characters.", field=field)
    return text


def _pk(value: Any) -> int:
    try:
        pk = int(value)
    except (TypeError, ValueError):
        return 0
    return pk if 0 < pk < 2**63 else 0


def _receipt_at(site: Site, receipt: Receipt | int) -> Receipt:
    pk = receipt.pk if isinstance(receipt, Receipt) else receipt
    # Locks the receipt row on PostgreSQL (SQLite's IMMEDIATE transaction holds the whole
    # database): two scanners on one delivery add their lines one after the other.
    found = Receipt.objects.select_for_update().filter(pk=pk, site=site).first()
    if found is None:
        raise NotFound("No such receipt here.")
    return found


def _require_open(receipt: Receipt) -> None:
    if receipt.status != ReceiptStatus.OPEN:
        raise Conflict(
            f"Receipt {receipt.pk} is posted to stock; it cannot change.", field="status"
        )


def _order_of(site: Site, value: Any, supplier: Supplier) -> PurchaseOrder | None:
    if value is None or value == "":
        return None
    pk = value.pk if isinstance(value, PurchaseOrder) else _pk(value)
    order = PurchaseOrder.objects.select_for_update().filter(site=site, pk=pk).first()
    if order is None:
        raise Invalid("No such purchase order here.", field="purchase_order")
    if order.status not in RECEIVABLE_ORDER:
        raise Invalid(
            f"{order.number} is {order.get_status_display().lower()}; a delivery is received "
            "against a sent or partially received order.",
            field="purchase_order",
        )
    if order.supplier_id != supplier.pk:
        raise Invalid(
            f"{order.number} was sent to another supplier, not {supplier.name}.",
            field="purchase_order",
        )
    return order


def _shipment_date(site: Site, value: Any) -> dt.date | None:
    day = date_of(value, field="shipment_date")
    if day is not None and day > site.today():
        raise Invalid("The shipment date cannot be in the future.", field="shipment_date")
    return day


def _receipt_data(receipt: Receipt) -> dict[str, Any]:
    return {
        "supplier": receipt.supplier_id,
        "purchase_order": receipt.purchase_order_id,
        "invoice_number": receipt.invoice_number,
        "shipment_date": receipt.shipment_date.isoformat() if receipt.shipment_date else None,
        "dscsa_transaction_info": bool(receipt.dscsa_transaction_info),
        "dscsa_statement_received": receipt.dscsa_statement_received,
    }


# --- Receipts ------------------------------------------------------------------------------


def receipt_create(
    *,
    actor: User | None,
    site: Site | None = None,
    supplier: Supplier | int | str,
    purchase_order: PurchaseOrder | int | str | None = None,
    invoice_number: str = "",
    shipment_date: Any = None,
    dscsa_transaction_info: str = "",
    dscsa_statement_received: bool = False,
    note: str = "",
) -> Receipt:
    """Start checking in a delivery from ``supplier``: optionally against one of its sent
    purchase orders, with the invoice number, the shipment date and the DSCSA transaction
    information (TI) and whether the seller's transaction statement (TS) came with it."""
    authorize(actor, Cap.INVENTORY_RECEIVE)
    with transaction.atomic():
        where = site_of(actor, site)
        vendor = supplier_at(where, supplier, field="supplier")
        if not vendor.active:
            raise Invalid(f"{vendor.name} is inactive.", field="supplier")
        if vendor.reverse_distributor:
            raise Invalid(
                f"{vendor.name} is a reverse distributor: it takes returns, it does not ship "
                "stock in.",
                field="supplier",
            )
        order = _order_of(where, purchase_order, vendor)
        receipt = Receipt.objects.create(
            site=where,
            supplier=vendor,
            purchase_order=order,
            invoice_number=_text(invoice_number, field="invoice_number", max_length=40),
            shipment_date=_shipment_date(where, shipment_date),
            dscsa_transaction_info=_text(
                dscsa_transaction_info,
                field="dscsa_transaction_info",
                max_length=MAX_TRANSACTION_INFO,
            ),
            dscsa_statement_received=bool(dscsa_statement_received),
            received_by=actor,
            note=_text(note, field="note", max_length=500),
        )
        audit_record(
            actor=actor,
            site=where,
            action="inventory.receipt.created",
            obj=receipt,
            data=_receipt_data(receipt),
        )
    return receipt


RECEIPT_FIELDS = (
    "invoice_number",
    "shipment_date",
    "dscsa_transaction_info",
    "dscsa_statement_received",
    "note",
)


def receipt_update(*, actor: User | None, receipt: Receipt, **changes: Any) -> Receipt:
    """Record the invoice number, shipment date, DSCSA transaction information and
    statement, or a note on a delivery still being checked in."""
    authorize(actor, Cap.INVENTORY_RECEIVE)
    unknown = sorted(set(changes) - set(RECEIPT_FIELDS))
    if unknown:
        raise Invalid(
            errors=[{"field": f, "message": "This field cannot be set here."} for f in unknown]
        )
    with transaction.atomic():
        where = home_site(actor, receipt.site)
        fresh = _receipt_at(where, receipt)
        _require_open(fresh)
        before = _receipt_data(fresh)
        for key, value in changes.items():
            if key == "shipment_date":
                fresh.shipment_date = _shipment_date(where, value)
            elif key == "dscsa_statement_received":
                fresh.dscsa_statement_received = bool(value)
            else:
                limit = {"invoice_number": 40, "note": 500}.get(key, MAX_TRANSACTION_INFO)
                setattr(fresh, key, _text(value, field=key, max_length=limit))
        fresh.save(update_fields=list(RECEIPT_FIELDS))
        after = _receipt_data(fresh)
        audit_record(
            actor=actor,
            site=where,
            action="inventory.receipt.updated",
            obj=fresh,
            data={"changes": {k: [before[k], after[k]] for k in after if before[k] != after[k]}},
        )
    return fresh


# --- Lines ---------------------------------------------------------------------------------


def _serials(line: ReceiptLine) -> list[str]:
    return [s for s in line.serials.splitlines() if s]


def _line_data(line: ReceiptLine) -> dict[str, Any]:
    return {
        "line": line.pk,
        "ndc": line.package.ndc11,
        "lot": line.lot_number,
        "expiry": line.expiry.isoformat() if line.expiry else None,
        "packages_invoiced": line.packages_invoiced,
        "packages_received": line.packages_received,
        "packages_damaged": line.packages_damaged,
        "unit_cost": str(line.unit_cost) if line.unit_cost is not None else None,
        "location": line.location.code if line.location else None,
        "dea_order_number": line.dea_order_number,
    }


def _order_line(receipt: Receipt, package: Package) -> PurchaseOrderLine | None:
    if receipt.purchase_order_id is None:
        return None
    return PurchaseOrderLine.objects.filter(
        order_id=receipt.purchase_order_id, package=package
    ).first()


def _same(a: str | None, b: str | None) -> bool:
    return (a or "").strip().upper() == (b or "").strip().upper()


def _scanned_package(code: str, scanned: Any) -> Package:
    try:
        return package_of(code, field="scan")
    except Invalid as exc:
        if scanned.kind != "gs1" or "not in the drug catalog" not in exc.message:
            raise
        raise Invalid(
            f"NDC {scanned.ndc10_digits} (from the barcode) is not in the drug catalog.",
            field="scan",
        ) from None


def _package_read(
    *, scan: Any, ndc: Package | str, lot_number: Any, expiry: Any, serial: Any
) -> tuple[Package, str, dt.date | None, str]:
    """The package, lot, expiry and serial of a scanned code (a GS1 DataMatrix carries all
    four; a lot, expiry or serial typed beside it must agree) or of a typed NDC with the lot
    and expiry typed. Nothing is checked against stock or recalls here."""
    code = str(scan or "").strip()
    typed_ndc = ndc if isinstance(ndc, Package) else str(ndc or "").strip()
    lot_text = str(lot_number or "").strip().upper()
    typed_expiry = date_of(expiry, field="expiry")
    serial_text = _text(serial, field="serial", max_length=MAX_SERIAL)
    if code:
        if len(code) > MAX_SCAN:
            raise Invalid(f"A scan is at most {MAX_SCAN} characters.", field="scan")
        try:
            scanned = parse_scan(code)
        except CodeError as exc:
            raise Invalid(str(exc), field="scan") from None
        package = _scanned_package(code, scanned)
        if typed_ndc and package_of(typed_ndc, field="ndc").pk != package.pk:
            raise Invalid(
                f"The barcode is NDC {package.ndc10}; the NDC typed differs.", field="ndc"
            )
        if scanned.lot and lot_text and not _same(scanned.lot, lot_text):
            raise Invalid(
                f"The barcode says lot {scanned.lot.upper()}; the lot typed is {lot_text}.",
                field="lot_number",
            )
        if scanned.expiry and typed_expiry and scanned.expiry != typed_expiry:
            raise Invalid(
                f"The barcode says expiry {scanned.expiry:%m/%d/%Y}; the expiry typed "
                f"is {typed_expiry:%m/%d/%Y}.",
                field="expiry",
            )
        if scanned.serial and serial_text and scanned.serial != serial_text:
            raise Invalid(
                f"The barcode says serial {scanned.serial}; the serial typed differs.",
                field="serial",
            )
        lot_text = (scanned.lot or lot_text).strip().upper()
        typed_expiry = scanned.expiry or typed_expiry
        serial_text = _text(scanned.serial or serial_text, field="serial", max_length=MAX_SERIAL)
    elif typed_ndc:
        package = package_of(typed_ndc, field="ndc")
    else:
        raise Invalid("Scan the package or type its NDC.", field="scan")
    return package, lot_text, typed_expiry, serial_text


def _check_counts(received: int, damaged: int, invoiced: int) -> None:
    if invoiced == 0 and received == 0:
        raise Invalid(
            "Enter how many packages arrived (or were invoiced).", field="packages_received"
        )
    if damaged > received:
        raise Invalid(
            f"Damaged packages are counted among those received: at most {received}.",
            field="packages_damaged",
        )
    if max(invoiced, received) > MAX_PACKAGES:
        raise Invalid(f"At most {MAX_PACKAGES} packages on one line.", field="packages_received")


def receipt_line_add(
    *,
    actor: User | None,
    receipt: Receipt,
    scan: str = "",
    ndc: Package | str = "",
    lot_number: str = "",
    expiry: Any = None,
    serial: str = "",
    packages_invoiced: Any = 0,
    packages_received: Any = None,
    packages_damaged: Any = 0,
    unit_cost: Any = None,
    location: Any = None,
    dea_order_number: str = "",
) -> ReceiptLine:
    """Check in packages of one NDC and lot, from a scanned code (a GS1 DataMatrix fills the
    NDC, lot, expiry and serial; lot and expiry typed beside it must agree) or a typed NDC.
    A scan counts one package received unless told otherwise. The lot is checked at once:
    an expiry is required, an expired or recalled lot is refused, Schedule II needs its
    DEA 222/CSOS order number (taken from the purchase order line when it has one).
    Scanning an NDC and lot already on the receipt adds to that line and records the
    serial; the same serial twice is refused (a double scan)."""
    authorize(actor, Cap.INVENTORY_RECEIVE)
    with transaction.atomic():
        where = home_site(actor, receipt.site)
        fresh = _receipt_at(where, receipt)
        _require_open(fresh)
        package, lot_text, typed_expiry, serial_text = _package_read(
            scan=scan, ndc=ndc, lot_number=lot_number, expiry=expiry, serial=serial
        )

        invoiced = packages_of(packages_invoiced or 0, field="packages_invoiced", allow_zero=True)
        received = (
            1
            if packages_received is None or packages_received == ""
            else packages_of(packages_received, field="packages_received", allow_zero=True)
        )
        damaged = packages_of(packages_damaged or 0, field="packages_damaged", allow_zero=True)
        _check_counts(received, damaged, invoiced)
        if serial_text and received != 1:
            raise Invalid(
                "A serial number names one package: scan each package on its own.",
                field="packages_received",
            )
        cost = money_of(unit_cost, field="unit_cost")
        place = location_of(where, location)
        order_line = _order_line(fresh, package)
        dea = _text(dea_order_number, field="dea_order_number", max_length=40)
        if not dea and order_line is not None:
            dea = order_line.dea_order_number
        schedule_ii_check(package, dea, field="dea_order_number")
        lot = receivable_lot(site=where, package=package, lot_number=lot_text, expiry=typed_expiry)

        lines = list(ReceiptLine.objects.select_for_update().filter(receipt=fresh, package=package))
        if serial_text and any(serial_text in _serials(other) for other in lines):
            raise Conflict(
                f"Serial {serial_text} of NDC {package.ndc10} is already on this receipt "
                "(scanned twice?).",
                field="scan",
            )
        line = next((x for x in lines if x.lot_number == lot.number), None)
        if line is None:
            # An invoice line imported without a lot takes the lot of the first scan.
            line = next((x for x in lines if not x.lot_number and x.lot_id is None), None)
        merged = line is not None
        if line is None:
            line = ReceiptLine(
                receipt=fresh,
                package=package,
                order_line=order_line,
                packages_invoiced=0,
                packages_received=0,
                packages_damaged=0,
            )
        line.lot = lot
        line.lot_number = lot.number
        line.expiry = lot.expiry
        line.packages_invoiced += invoiced
        line.packages_received += received
        line.packages_damaged += damaged
        _check_counts(line.packages_received, line.packages_damaged, line.packages_invoiced)
        if serial_text:
            line.serials = "\n".join([*_serials(line), serial_text])
        if cost is not None:
            line.unit_cost = cost
        if place is not None:
            line.location = place
        if dea:
            line.dea_order_number = dea
        if line.order_line_id is None:
            line.order_line = order_line
        line.save()
        line.package = package
        audit_record(
            actor=actor,
            site=where,
            action="inventory.receipt.line_added",
            obj=fresh,
            data={
                **_line_data(line),
                "serial": serial_text or None,
                "added": {"invoiced": invoiced, "received": received, "damaged": damaged},
                "merged": merged,
            },
        )
    return line


def _line_at(site: Site, line: ReceiptLine) -> tuple[Receipt, ReceiptLine]:
    receipt = _receipt_at(site, line.receipt_id)
    fresh = (
        ReceiptLine.objects.select_related("package__product", "location", "lot")
        .filter(pk=line.pk, receipt=receipt)
        .first()
    )
    if fresh is None:
        raise NotFound("No such line on this receipt.")
    return receipt, fresh


LINE_FIELDS = (
    "packages_invoiced",
    "packages_received",
    "packages_damaged",
    "unit_cost",
    "location",
    "dea_order_number",
    "lot_number",
    "expiry",
)


def receipt_line_update(*, actor: User | None, line: ReceiptLine, **changes: Any) -> ReceiptLine:
    """Correct a line of a delivery being checked in: the packages invoiced, received or
    damaged, unit cost, location, DEA order number, or its lot and expiry (checked again)."""
    authorize(actor, Cap.INVENTORY_RECEIVE)
    unknown = sorted(set(changes) - set(LINE_FIELDS))
    if unknown:
        raise Invalid(
            errors=[{"field": f, "message": "This field cannot be set here."} for f in unknown]
        )
    with transaction.atomic():
        where = home_site(actor, line.receipt.site)
        receipt, fresh = _line_at(where, line)
        _require_open(receipt)
        before = _line_data(fresh)
        for key in ("packages_invoiced", "packages_received", "packages_damaged"):
            if key in changes:
                setattr(fresh, key, packages_of(changes[key], field=key, allow_zero=True))
        _check_counts(fresh.packages_received, fresh.packages_damaged, fresh.packages_invoiced)
        if len(_serials(fresh)) > fresh.packages_received:
            raise Invalid(
                f"{len(_serials(fresh))} serial numbers were scanned on this line; remove the "
                "line and scan again to receive fewer.",
                field="packages_received",
            )
        if "unit_cost" in changes:
            fresh.unit_cost = money_of(changes["unit_cost"], field="unit_cost")
        if "location" in changes:
            fresh.location = location_of(where, changes["location"])
        if "dea_order_number" in changes:
            fresh.dea_order_number = _text(
                changes["dea_order_number"], field="dea_order_number", max_length=40
            )
        schedule_ii_check(fresh.package, fresh.dea_order_number, field="dea_order_number")
        if "lot_number" in changes or "expiry" in changes:
            number = changes.get("lot_number", fresh.lot_number)
            expiry = changes.get("expiry", fresh.expiry)
            lot = receivable_lot(
                site=where, package=fresh.package, lot_number=number or "", expiry=expiry
            )
            clash = (
                ReceiptLine.objects.filter(
                    receipt=receipt, package=fresh.package, lot_number=lot.number
                )
                .exclude(pk=fresh.pk)
                .exists()
            )
            if clash:
                raise Conflict(
                    f"Lot {lot.number} already has a line on this receipt; change that one.",
                    field="lot_number",
                )
            fresh.lot, fresh.lot_number, fresh.expiry = lot, lot.number, lot.expiry
        fresh.save()
        after = _line_data(fresh)
        audit_record(
            actor=actor,
            site=where,
            action="inventory.receipt.line_changed",
            obj=receipt,
            data={
                "line": fresh.pk,
                "ndc": fresh.package.ndc11,
                "changes": {k: [before[k], after[k]] for k in after if before[k] != after[k]},
            },
        )
    return fresh


def receipt_line_remove(*, actor: User | None, line: ReceiptLine) -> None:
    """Take a line off a delivery still being checked in (scanned by mistake)."""
    authorize(actor, Cap.INVENTORY_RECEIVE)
    with transaction.atomic():
        where = home_site(actor, line.receipt.site)
        receipt, fresh = _line_at(where, line)
        _require_open(receipt)
        data = _line_data(fresh)
        fresh.delete()
        audit_record(
            actor=actor,
            site=where,
            action="inventory.receipt.line_removed",
            obj=receipt,
            data=data,
        )


# --- Invoice import ------------------------------------------------------------------------

_COLUMN_OF_FIELD = {"lot_number": "lot", "expiry": "expiry", "ndc": "ndc", "scan": "ndc"}


def _invoice_invalid(problems: list[tuple[int, str, str]]) -> Invalid:
    rows = [{"row": r, "column": c, "message": m} for r, c, m in problems]
    return Invalid(
        errors=[{"field": "text", "message": f"Row {r}, column {c}: {m}"} for r, c, m in problems],
        problems=rows,
    )


def _invoiced_lot(site: Site, package: Package, number: str, expiry: Any) -> Lot | None:
    """The lot an invoice line names, checked like a scan (expiry, recall). An invoice often
    names the lot without its expiry (an X12 810 rarely carries one): then only the recall
    is checked now, and the first scan of the package brings the expiry."""
    if not number and expiry is None:
        return None
    if expiry is None:
        known = Lot.objects.filter(package=package, number=number.strip().upper()).first()
        if known is None or known.expiry is None:
            blocked = recall_blocks(package, number)
            if blocked is not None:
                raise Conflict(
                    f"Lot {number} of NDC {package.ndc10} is under recall "
                    f"{blocked.recall.recall_number or blocked.recall_id}; do not receive it.",
                    field="lot_number",
                )
            return None
        expiry = known.expiry
    return receivable_lot(site=site, package=package, lot_number=number, expiry=expiry)


def receipt_import_invoice(*, actor: User | None, receipt: Receipt, text: str) -> list[ReceiptLine]:
    """Put a supplier's invoice (CSV or X12 810; see rxdesk.inventory.invoice) on a receipt:
    one line per NDC and lot with the packages invoiced and unit cost, none received until the
    delivery is checked (scanning then fills them). A line already scanned for that NDC
    and lot takes the invoiced count. Every row is checked first (a known NDC; a lot's
    expiry, recall and date); a bad row is named by row and column and nothing is
    imported."""
    authorize(actor, Cap.INVENTORY_RECEIVE)
    try:
        invoice = parse_file(text)
    except InvoiceError as exc:
        raise _invoice_invalid([(p.row, p.column, p.message) for p in exc.problems]) from None
    with transaction.atomic():
        where = home_site(actor, receipt.site)
        fresh = _receipt_at(where, receipt)
        _require_open(fresh)
        if ReceiptLine.objects.filter(receipt=fresh, packages_invoiced__gt=0).exists():
            raise Conflict(
                "An invoice is already on this receipt; start another receipt for another invoice.",
                field="text",
            )
        first_row = invoice.lines[0].row
        if (
            fresh.invoice_number
            and invoice.invoice_number
            and not _same(fresh.invoice_number, invoice.invoice_number)
        ):
            raise _invoice_invalid(
                [
                    (
                        first_row,
                        "invoice_number",
                        f"this file is invoice {invoice.invoice_number}; the receipt is for "
                        f"invoice {fresh.invoice_number}.",
                    )
                ]
            )
        problems: list[tuple[int, str, str]] = []
        resolved: list[tuple[Any, Package, Lot | None, str]] = []
        for item in invoice.lines:
            try:
                package = package_of(item.ndc, field="ndc")
                lot = _invoiced_lot(where, package, item.lot, item.expiry)
            except DomainError as exc:
                field = (exc.errors[0]["field"] if exc.errors else exc.field) or "lot"
                problems.append((item.row, _COLUMN_OF_FIELD.get(field, field), exc.message))
                continue
            resolved.append((item, package, lot, lot.number if lot else item.lot))
        if problems:
            raise _invoice_invalid(problems)

        existing = list(ReceiptLine.objects.select_for_update().filter(receipt=fresh))
        touched: dict[int, ReceiptLine] = {}
        for item, package, lot, number in resolved:
            line = next(
                (x for x in existing if x.package_id == package.pk and x.lot_number == number),
                None,
            )
            if line is None:
                order_line = _order_line(fresh, package)
                line = ReceiptLine(
                    receipt=fresh,
                    package=package,
                    order_line=order_line,
                    lot=lot,
                    lot_number=number,
                    expiry=lot.expiry if lot is not None else None,
                    packages_invoiced=0,
                    packages_received=0,
                    dea_order_number=item.dea_order_number
                    or (order_line.dea_order_number if order_line else ""),
                )
                existing.append(line)
            line.packages_invoiced += item.packages
            if line.packages_invoiced > MAX_PACKAGES:
                raise _invoice_invalid(
                    [(item.row, "quantity", f"more than {MAX_PACKAGES} packages of this NDC.")]
                )
            line.unit_cost = item.unit_cost
            if item.dea_order_number and not line.dea_order_number:
                line.dea_order_number = item.dea_order_number
            line.save()
            line.package = package
            touched[line.pk] = line
        if invoice.invoice_number and not fresh.invoice_number:
            fresh.invoice_number = invoice.invoice_number[:40]
            fresh.save(update_fields=["invoice_number"])
        audit_record(
            actor=actor,
            site=where,
            action="inventory.receipt.invoice_imported",
            obj=fresh,
            data={
                "invoice_number": invoice.invoice_number or fresh.invoice_number,
                "rows": len(invoice.lines),
                "lines": sorted(touched),
                "packages": sum(item.packages for item in invoice.lines),
                "total": str(invoice.total),
            },
        )
    return list(touched.values())


# --- Posting -------------------------------------------------------------------------------


def _discrepancies(
    receipt: Receipt, lines: list[ReceiptLine], actor: User | None
) -> list[Discrepancy]:
    """The short, over, damaged, wrong-item and not-ordered packages of a posted delivery.
    Short and over compare the invoice with what arrived per NDC (lots split an invoice
    line); they are checked only when the delivery came with an invoice."""
    found: list[Discrepancy] = []

    def add(line: ReceiptLine, kind: DiscrepancyKind, packages: int, note: str) -> None:
        found.append(
            Discrepancy(
                site_id=receipt.site_id,
                receipt=receipt,
                receipt_line=line,
                package=line.package,
                kind=kind,
                packages=packages,
                note=note[:500],
                opened_by=actor,
            )
        )

    by_package: dict[int, list[ReceiptLine]] = defaultdict(list)
    for line in lines:
        by_package[line.package_id].append(line)
    # Packages recorded at check-in (receipt_discrepancy_add) already have their own
    # discrepancy: a refused package arrived (it is not short as well), and a shortage or
    # overage recorded by hand is not opened a second time.
    refused: dict[int, int] = defaultdict(int)
    recorded_short: dict[int, int] = defaultdict(int)
    recorded_over: dict[int, int] = defaultdict(int)
    for kind, package_id, packages in Discrepancy.objects.filter(
        receipt=receipt, receipt_line__isnull=True, package__isnull=False
    ).values_list("kind", "package_id", "packages"):
        if kind in REFUSED_KINDS:
            refused[package_id] += packages
        elif kind == DiscrepancyKind.SHORT:
            recorded_short[package_id] += packages
        elif kind == DiscrepancyKind.OVER:
            recorded_over[package_id] += packages
    invoiced_any = any(line.packages_invoiced for line in lines)
    ordered: dict[int, PurchaseOrderLine] = {}
    if receipt.purchase_order_id is not None:
        ordered = {
            ol.package_id: ol
            for ol in PurchaseOrderLine.objects.select_related("package__product").filter(
                order_id=receipt.purchase_order_id
            )
        }
    for group in by_package.values():
        first = group[0]
        ndc = first.package.ndc10
        invoiced = sum(x.packages_invoiced for x in group)
        received = sum(x.packages_received for x in group)
        back = refused[first.package_id]
        short = invoiced - received - back - recorded_short[first.package_id]
        if invoiced_any and short > 0:
            add(
                first,
                DiscrepancyKind.SHORT,
                short,
                f"NDC {ndc}: invoiced {invoiced}, received {received}"
                + (f", refused {back}" if back else "")
                + (
                    f", {recorded_short[first.package_id]} recorded short at check-in"
                    if recorded_short[first.package_id]
                    else ""
                )
                + ".",
            )
        over = received - invoiced - recorded_over[first.package_id]
        if invoiced_any and over > 0:
            where = "not on the invoice" if invoiced == 0 else f"invoiced {invoiced}"
            add(
                first,
                DiscrepancyKind.OVER,
                over,
                f"NDC {ndc}: {where}, received {received}"
                + (
                    f", {recorded_over[first.package_id]} recorded over at check-in"
                    if recorded_over[first.package_id]
                    else ""
                )
                + ".",
            )
        for line in group:
            if line.packages_damaged:
                add(
                    line,
                    DiscrepancyKind.DAMAGED,
                    line.packages_damaged,
                    f"NDC {ndc} lot {line.lot_number or '?'}: {line.packages_damaged} damaged "
                    "on arrival.",
                )
        if receipt.purchase_order_id is not None and received and first.package_id not in ordered:
            number = receipt.purchase_order.number if receipt.purchase_order else ""
            product = first.package.product_id
            instead = next(
                (ol for ol in ordered.values() if ol.package.product_id == product), None
            )
            if instead is not None:
                add(
                    first,
                    DiscrepancyKind.WRONG_ITEM,
                    received,
                    f"Ordered NDC {instead.package.ndc10} on {number}; received NDC {ndc}.",
                )
            else:
                add(first, DiscrepancyKind.NOT_ORDERED, received, f"NDC {ndc} is not on {number}.")
    return Discrepancy.objects.bulk_create(found) if found else []


def _update_order(receipt: Receipt, lines: list[ReceiptLine]) -> dict[str, Any] | None:
    if receipt.purchase_order_id is None:
        return None
    good: dict[int, int] = defaultdict(int)
    for line in lines:
        if line.order_line_id is not None:
            good[line.order_line_id] += line.packages_received - line.packages_damaged
    for order_line_id, packages in good.items():
        if packages > 0:
            PurchaseOrderLine.objects.filter(
                pk=order_line_id, order_id=receipt.purchase_order_id
            ).update(packages_received=F("packages_received") + packages)
    order_lines = list(
        PurchaseOrderLine.objects.filter(order_id=receipt.purchase_order_id).values_list(
            "packages_ordered", "packages_received"
        )
    )
    if order_lines and all(got >= wanted for wanted, got in order_lines):
        status = PurchaseOrderStatus.RECEIVED
    elif any(got for _wanted, got in order_lines):
        status = PurchaseOrderStatus.PARTIAL
    else:
        status = PurchaseOrderStatus.SENT
    order = PurchaseOrder.objects.get(pk=receipt.purchase_order_id)
    before = order.status
    # Only an order still being received moves; one closed meanwhile keeps its status.
    PurchaseOrder.objects.filter(pk=order.pk, status__in=RECEIVABLE_ORDER).update(status=status)
    order.refresh_from_db(fields=["status"])
    return {"number": order.number, "status": [before, order.status]}


def receipt_post(*, actor: User | None, receipt: Receipt) -> Receipt:
    """Post a checked delivery to stock, all or nothing: each line's good packages
    (received − damaged) enter the ledger as one move (reason RECEIVE, reference the
    receipt line) in its lot and location; the purchase order's lines count what arrived
    and the order becomes partially received or received; discrepancies are opened for
    short, over, damaged, wrong and not-ordered items. Prescription products need the
    DSCSA transaction information and statement on record. A receipt posts once, even
    when two people press Post at the same moment."""
    authorize(actor, Cap.INVENTORY_RECEIVE)
    with transaction.atomic():
        where = home_site(actor, receipt.site)
        now = timezone.now()
        # The claim is a conditional update: of two concurrent posts exactly one sees the
        # receipt open (PostgreSQL re-checks the WHERE after the first commits; SQLite runs
        # them one after the other). Any later error rolls the claim back with the rest.
        claimed = Receipt.objects.filter(
            pk=receipt.pk, site=where, status=ReceiptStatus.OPEN
        ).update(status=ReceiptStatus.POSTED, posted_at=now, received_by=actor)
        if claimed != 1:
            if Receipt.objects.filter(pk=receipt.pk, site=where).exists():
                raise Conflict(f"Receipt {receipt.pk} is already posted to stock.")
            raise NotFound("No such receipt here.")
        fresh = Receipt.objects.select_related("supplier", "purchase_order", "site").get(
            pk=receipt.pk
        )
        lines = list(
            ReceiptLine.objects.select_related("package__product", "lot", "location")
            .filter(receipt=fresh)
            .order_by("id")
        )
        if not lines:
            raise Conflict("Nothing to post: scan the delivery or import its invoice first.")
        if not any(line.packages_received for line in lines):
            raise Conflict(
                "No package has been checked in yet (0 received on every line).",
                field="lines",
            )
        prescription = any(not line.package.product.otc for line in lines if line.packages_received)
        if prescription:
            missing = []
            if not fresh.dscsa_transaction_info.strip():
                missing.append(
                    {
                        "field": "dscsa_transaction_info",
                        "message": "Record the DSCSA transaction information for this "
                        "shipment (prescription products).",
                    }
                )
            if not fresh.dscsa_statement_received:
                missing.append(
                    {
                        "field": "dscsa_statement_received",
                        "message": "Confirm the seller's DSCSA transaction statement was received.",
                    }
                )
            if missing:
                raise Invalid(errors=missing)
        to_post: list[tuple[ReceiptLine, Lot, int]] = []
        for index, line in enumerate(lines):
            good = line.packages_received - line.packages_damaged
            if good <= 0:
                continue
            prefix = f"lines.{index}."
            if line.lot is None:
                raise Invalid(
                    f"Line {index + 1} (NDC {line.package.ndc10}) has no lot: scan a package "
                    "or enter its lot and expiry.",
                    field=f"{prefix}lot_number",
                )
            # Checked again now: a recall or the expiry date may have arrived since the scan.
            lot = receivable_lot(
                site=where,
                package=line.package,
                lot_number=line.lot.number,
                expiry=line.lot.expiry,
                field_prefix=prefix,
            )
            schedule_ii_check(
                line.package, line.dea_order_number, field=f"{prefix}dea_order_number"
            )
            to_post.append((line, lot, good))
        # Several balances change: take their row locks in the ledger's one order (by id),
        # so this post and a concurrent dispense or count never deadlock on PostgreSQL.
        rows = {
            line.pk: ledger.balance_row(site=where, lot=lot, location=line.location)
            for line, lot, _good in to_post
        }
        ledger.lock_in_order(row.pk for row in rows.values())
        note = f"Receipt {fresh.pk}" + (
            f", invoice {fresh.invoice_number}" if fresh.invoice_number else ""
        )
        moves = []
        for line, lot, good in sorted(to_post, key=lambda item: (rows[item[0].pk].pk, item[0].pk)):
            move = ledger.post_in(
                site=where,
                lot=lot,
                quantity=Decimal(good) * line.package.package_quantity,
                reason=MoveReason.RECEIVE,
                actor=actor,
                ref=Ref("receipt_line", line.pk),
                note=note,
                location=line.location,
            )
            moves.append(
                {
                    "line": line.pk,
                    "move": move.pk,
                    "ndc": line.package.ndc11,
                    "lot": lot.number,
                    "quantity": str(move.quantity),
                    "balance_after": str(move.balance_after),
                }
            )
        order = _update_order(fresh, lines)
        opened = _discrepancies(fresh, lines, actor)
        seams.receipt_posted(fresh, [line for line, _lot, _good in to_post], actor)
        fresh.refresh_from_db()
        audit_record(
            actor=actor,
            site=where,
            action="inventory.receipt.posted",
            obj=fresh,
            data={
                "moves": moves,
                "purchase_order": order,
                "discrepancies": [
                    {
                        "kind": d.kind,
                        "ndc": d.package.ndc11 if d.package else None,
                        "packages": d.packages,
                    }
                    for d in opened
                ],
            },
        )
    return fresh


# --- Discrepancies -------------------------------------------------------------------------

# The serial is the last fact of a recorded package ("…, serial SN001."): a serial recorded
# twice on one receipt is found by it.
_SERIAL_FACT = "serial {}"


def _package_facts(package: Package, lot: str, expiry: dt.date | None, serial: str) -> str:
    facts = [f"NDC {package.ndc10}"]
    if lot:
        facts.append(f"lot {lot}")
    if expiry is not None:
        facts.append(f"expiry {expiry:%m/%d/%Y}")
    if serial:
        facts.append(_SERIAL_FACT.format(serial))
    return ", ".join(facts) + "."


def _serial_recorded(note: str, serial: str) -> bool:
    token = ", " + _SERIAL_FACT.format(serial) + "."
    return note.endswith(token) or token + " " in note


def _dating(site: Site, expiry: dt.date) -> str:
    days = (expiry - site.today()).days
    if days < 0:
        return f"Expired {expiry:%m/%d/%Y}, before it arrived."
    if days == 0:
        return "Expires today, the day it arrived."
    plural = "s" if days != 1 else ""
    return f"Short-dated: expires {expiry:%m/%d/%Y}, {days} day{plural} after it arrived."


def receipt_discrepancy_add(
    *,
    actor: User | None,
    receipt: Receipt,
    kind: str,
    scan: str = "",
    ndc: Package | str = "",
    lot_number: str = "",
    expiry: Any = None,
    serial: str = "",
    packages: Any = 1,
    note: str = "",
) -> Discrepancy:
    """Record against a delivery being checked in a package that does not go into stock, so
    the supplier credits it and it goes back: expired or short-dated (EXPIRED), damaged
    (DAMAGED), the wrong item or a recalled lot (WRONG_ITEM), not ordered, or a shortage or
    overage seen before the invoice. The package comes from the scan (a GS1 DataMatrix gives
    its lot, expiry and serial) or the typed NDC, lot and expiry; the note keeps them for the
    return paperwork, and names the recall when the lot is under one. Nothing is received:
    no lot, receipt line or stock move is created. The discrepancy is then followed up like
    the ones posting opens (discrepancy_update)."""
    authorize(actor, Cap.INVENTORY_RECEIVE)
    kind = str(kind or "")
    if kind not in DiscrepancyKind.values:
        raise Invalid("Choose what is wrong with the package from the list.", field="kind")
    remark = _text(note, field="note", max_length=MAX_DISCREPANCY_NOTE)
    count = packages_of(packages, field="packages")
    with transaction.atomic():
        where = home_site(actor, receipt.site)
        fresh = _receipt_at(where, receipt)
        if fresh.status != ReceiptStatus.OPEN:
            raise Conflict(
                f"Receipt {fresh.pk} is posted to stock; record a refused package while the "
                "delivery is being checked in.",
                field="status",
            )
        package, lot, expiry_date, serial_text = _package_read(
            scan=scan, ndc=ndc, lot_number=lot_number, expiry=expiry, serial=serial
        )
        if len(lot) > 40:
            raise Invalid("A lot number has at most 40 characters.", field="lot_number")
        if kind == DiscrepancyKind.EXPIRED:
            # The return to the supplier names the lot and its date.
            if expiry_date is None:
                raise Invalid("Enter the expiry date printed on the package.", field="expiry")
            if not lot:
                raise Invalid("Enter the lot number printed on the package.", field="lot_number")
        if serial_text and count != 1:
            raise Invalid(
                "A serial number names one package: record each package on its own.",
                field="packages",
            )
        if serial_text:
            on_lines = ReceiptLine.objects.filter(receipt=fresh, package=package)
            if any(serial_text in _serials(line) for line in on_lines):
                raise Conflict(
                    f"Serial {serial_text} of NDC {package.ndc10} is checked in on this "
                    "receipt: mark it damaged on its line, or take it off the line first.",
                    field="scan",
                )
            recorded = Discrepancy.objects.filter(
                receipt=fresh, package=package, note__contains=_SERIAL_FACT.format(serial_text)
            ).values_list("note", flat=True)
            if any(_serial_recorded(text, serial_text) for text in recorded):
                raise Conflict(
                    f"Serial {serial_text} of NDC {package.ndc10} is already recorded on this "
                    "receipt (scanned twice?).",
                    field="scan",
                )
        blocked = recall_blocks(package, lot) if lot else None
        recall_number = (
            str(blocked.recall.recall_number or blocked.recall_id) if blocked is not None else None
        )
        parts = [_package_facts(package, lot, expiry_date, serial_text)]
        if kind == DiscrepancyKind.EXPIRED and expiry_date is not None:
            parts.append(_dating(where, expiry_date))
        if recall_number is not None:
            parts.append(f"Recalled lot {lot} under recall {recall_number}.")
        if remark:
            parts.append(remark)
        found = Discrepancy.objects.create(
            site=where,
            receipt=fresh,
            package=package,
            kind=kind,
            packages=count,
            note=" ".join(parts)[:500],
            opened_by=actor,
        )
        audit_record(
            actor=actor,
            site=where,
            action="inventory.receipt.discrepancy_added",
            obj=fresh,
            data={
                "discrepancy": found.pk,
                "kind": found.kind,
                "ndc": package.ndc11,
                "lot": lot or None,
                "expiry": expiry_date.isoformat() if expiry_date else None,
                "serial": serial_text or None,
                "packages": count,
                "recall": recall_number,
                "note": found.note,
            },
        )
    return found


_STATUS_ORDER = [
    DiscrepancyStatus.OPEN,
    DiscrepancyStatus.REPORTED,
    DiscrepancyStatus.CREDITED,
    DiscrepancyStatus.RESOLVED,
]


def discrepancy_update(
    *,
    actor: User | None,
    discrepancy: Discrepancy,
    follow_up: str = "",
    status: str | None = None,
    credit_expected: Any = _UNSET,
    credit_received: Any = _UNSET,
) -> Discrepancy:
    """Follow a delivery discrepancy up with the supplier: a note (kept with who wrote it
    and when), its status (reported, credited, resolved — never back), and the credit
    expected and received."""
    authorize(actor, Cap.INVENTORY_RECEIVE)
    note = _text(follow_up, field="follow_up", max_length=2000)
    with transaction.atomic():
        where = home_site(actor, discrepancy.site)
        fresh = (
            Discrepancy.objects.select_for_update().filter(pk=discrepancy.pk, site=where).first()
        )
        if fresh is None:
            raise NotFound("No such discrepancy here.")
        if fresh.status == DiscrepancyStatus.RESOLVED:
            raise Conflict("This discrepancy is resolved; it is closed to changes.", field="status")
        changes: dict[str, list[Any]] = {}
        if status not in (None, "") and status != fresh.status:
            if status not in DiscrepancyStatus.values:
                raise Invalid("Choose a status from the list.", field="status")
            if _STATUS_ORDER.index(DiscrepancyStatus(status)) < _STATUS_ORDER.index(
                DiscrepancyStatus(fresh.status)
            ):
                raise Conflict(
                    f"A discrepancy does not go back from {fresh.status} to {status}.",
                    field="status",
                )
            changes["status"] = [fresh.status, status]
            fresh.status = status
        for key, value in (
            ("credit_expected", credit_expected),
            ("credit_received", credit_received),
        ):
            if value is _UNSET:
                continue
            amount = money_of(value, field=key)
            old = getattr(fresh, key)
            if amount != old:
                changes[key] = [
                    str(old) if old is not None else None,
                    str(amount) if amount is not None else None,
                ]
                setattr(fresh, key, amount)
        if fresh.status == DiscrepancyStatus.CREDITED and fresh.credit_received is None:
            raise Invalid("Enter the credit received.", field="credit_received")
        if not note and not changes:
            raise Invalid("Write a follow-up note or change something.", field="follow_up")
        now = timezone.now()
        if note:
            who = actor.username if actor is not None else "system"
            stamp = now.astimezone(where.tz).strftime("%m/%d/%Y %H:%M")
            entry = f"{stamp} {who}: {note}"
            fresh.follow_up = f"{fresh.follow_up}\n{entry}" if fresh.follow_up else entry
        if fresh.status == DiscrepancyStatus.RESOLVED:
            fresh.resolved_at = now
        fresh.save(
            update_fields=[
                "status",
                "credit_expected",
                "credit_received",
                "follow_up",
                "resolved_at",
            ]
        )
        audit_record(
            actor=actor,
            site=where,
            action="inventory.discrepancy.updated",
            obj=fresh,
            data={"receipt": fresh.receipt_id, "changes": changes, "follow_up": note or None},
        )
    return fresh
