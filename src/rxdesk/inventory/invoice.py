"""Supplier invoice files: a CSV with a header row, one invoiced package per line.

Pure code: no Django, no database. The parser turns text into typed lines or raises
:class:`InvoiceError` naming the row and the column of every bad cell, so a technician can
open the file, go to that cell, and fix it; the receiving service imports nothing unless
every line is good.

Columns are found by their header name (case, spaces, ``_``, ``-``, ``#`` and ``.`` do not
matter); wholesalers name them differently, so a few common names are accepted for each:

===================  ==========================================================  ========
column               header names accepted                                       required
===================  ==========================================================  ========
ndc                  NDC, NDC11, NDC 11, Item NDC, NDC Number                    yes
description          Description, Item Description, Product, Product Name, Desc  yes
quantity             Quantity, Qty, Packages, Qty Shipped, Quantity Shipped      yes
unit_cost            Unit Cost, Unit Price, Cost, Price, Invoice Cost            yes
lot                  Lot, Lot Number, Lot No, Batch                              no
expiry               Expiry, Expiration, Expiration Date, Exp, Exp Date          no
invoice_number       Invoice, Invoice Number, Invoice No, Invoice #              no
dea_order_number     DEA Order Number, 222, Form 222, CSOS, CSOS Order Number    no
===================  ==========================================================  ========

Rows are counted as a spreadsheet shows them: the header is row 1.

An ANSI X12 810 (electronic invoice) is read too (:func:`parse_x12_810`; :func:`parse_file`
tells the two apart): BIG carries the invoice number, each IT1 a line (quantity, unit,
unit price, and the NDC under qualifier N4/ND, a lot under LT), PID its description. There
a problem names the segment's position (its "row") and the element, e.g. ``IT102``.
"""

from __future__ import annotations

import calendar
import csv
import datetime as dt
import io
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from rxdesk.catalog.ndc import CodeError, parse_scan

__all__ = [
    "COLUMNS",
    "MAX_LINES",
    "MAX_PACKAGES",
    "MAX_TEXT",
    "Invoice",
    "InvoiceError",
    "InvoiceLine",
    "Problem",
    "parse_file",
    "parse_invoice",
    "parse_x12_810",
]

MAX_TEXT = 2_000_000  # characters; a wholesaler's invoice is a few hundred lines
MAX_LINES = 5000
MAX_PACKAGES = 100_000
MAX_COST = Decimal("9999999999.99")  # fits DecimalField(12, 2)
# Longest value each column takes (the receipt line's fields).
MAX_LENGTH = {
    "ndc": 40,
    "description": 1000,
    "quantity": 20,
    "unit_cost": 20,
    "lot": 40,
    "expiry": 20,
    "invoice_number": 40,
    "dea_order_number": 40,
}

COLUMNS: dict[str, tuple[str, ...]] = {
    "ndc": ("ndc", "ndc11", "itemndc", "ndcnumber", "ndccode"),
    "description": ("description", "itemdescription", "product", "productname", "desc", "item"),
    "quantity": (
        "quantity",
        "qty",
        "packages",
        "qtyshipped",
        "quantityshipped",
        "shipped",
        "qtyinvoiced",
    ),
    "unit_cost": ("unitcost", "unitprice", "cost", "price", "invoicecost", "netcost"),
    "lot": ("lot", "lotnumber", "lotno", "batch", "batchnumber"),
    "expiry": ("expiry", "expiration", "expirationdate", "exp", "expdate", "expirydate"),
    "invoice_number": ("invoice", "invoicenumber", "invoiceno", "invoicenum"),
    "dea_order_number": (
        "deaordernumber",
        "222",
        "form222",
        "csos",
        "csosordernumber",
        "deaorder",
    ),
}
REQUIRED = ("ndc", "description", "quantity", "unit_cost")
_ALIASES = {alias: name for name, aliases in COLUMNS.items() for alias in aliases}
_HEADER_NOISE = re.compile(r"[\s_\-#.]+")
_MONEY_NOISE = re.compile(r"[$,\s]")
_LOT = re.compile(r"[A-Za-z0-9][A-Za-z0-9 ./\-]*")
# What a spreadsheet does to an 11-digit NDC typed as a number: the leading zeros go.
_SHORTENED_NDC = re.compile(r"[0-9]{6,9}")


@dataclass(frozen=True)
class Problem:
    """One bad cell: the row (the header is row 1) and the column's name."""

    row: int
    column: str
    message: str

    def __str__(self) -> str:
        return f"Row {self.row}, column {self.column}: {self.message}"


class InvoiceError(ValueError):
    """The file cannot be imported; ``problems`` names every bad cell (row and column)."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        first = problems[0]
        more = len(problems) - 1
        suffix = f" (and {more} more problem{'s' if more != 1 else ''})" if more else ""
        super().__init__(f"{first}{suffix}")

    @property
    def row(self) -> int:
        return self.problems[0].row

    @property
    def column(self) -> str:
        return self.problems[0].column


@dataclass(frozen=True)
class InvoiceLine:
    """One invoiced package: ``packages`` whole packages at ``unit_cost`` each."""

    row: int
    ndc: str
    description: str
    packages: int
    unit_cost: Decimal
    lot: str = ""
    expiry: dt.date | None = None
    invoice_number: str = ""
    dea_order_number: str = ""


@dataclass(frozen=True)
class Invoice:
    invoice_number: str
    lines: list[InvoiceLine] = field(default_factory=list)

    @property
    def total(self) -> Decimal:
        return sum((line.unit_cost * line.packages for line in self.lines), Decimal("0.00"))


def _header_key(text: str) -> str:
    return _HEADER_NOISE.sub("", text.strip().lstrip("\ufeff").lower())


def _columns(header: list[str]) -> tuple[dict[str, int], list[Problem]]:
    found: dict[str, int] = {}
    problems: list[Problem] = []
    for index, cell in enumerate(header):
        name = _ALIASES.get(_header_key(cell))
        if name is None:
            continue  # extra columns (extended cost, item number…) are ignored
        if name in found:
            problems.append(
                Problem(1, cell.strip() or f"#{index + 1}", f"a second {name} column; keep one.")
            )
            continue
        found[name] = index
    for name in REQUIRED:
        if name not in found:
            problems.append(
                Problem(1, name, f"no {name} column in the header; the header row names it.")
            )
    return found, problems


def _ndc(text: str) -> str:
    if _SHORTENED_NDC.fullmatch(text):
        raise ValueError(
            "this looks like an NDC a spreadsheet shortened (leading zeros dropped); "
            "save the NDC column as text."
        )
    try:
        scan = parse_scan(text)
    except CodeError as exc:
        raise ValueError(str(exc)) from None
    if scan.kind == "gs1":
        raise ValueError("put the NDC here, not a 2D barcode.")
    return text


def _packages(text: str) -> int:
    try:
        value = Decimal(text.replace(",", ""))
    except InvalidOperation:
        raise ValueError(f"'{text}' is not a number of packages.") from None
    if not value.is_finite() or value != value.to_integral_value():
        raise ValueError("count whole packages (no fractions).")
    if value <= 0:
        raise ValueError("the quantity must be at least 1 package.")
    if value > MAX_PACKAGES:
        raise ValueError(f"more than {MAX_PACKAGES} packages on one line.")
    return int(value)


def _money(text: str) -> Decimal:
    cleaned = _MONEY_NOISE.sub("", text)
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        raise ValueError(f"'{text}' is not an amount of money.") from None
    if not value.is_finite():
        raise ValueError(f"'{text}' is not an amount of money.")
    if value < 0:
        raise ValueError("a unit cost cannot be negative (a credit is not an invoice line).")
    if value > MAX_COST:
        raise ValueError("the amount is too large.")
    if value != value.quantize(Decimal("0.01")):
        raise ValueError("use at most two decimal places (cents).")
    return value.quantize(Decimal("0.01"))


def _expiry(text: str) -> dt.date:
    """YYYY-MM-DD, MM/DD/YYYY, MM/DD/YY, or a month (MM/YYYY, YYYY-MM): a product labelled
    with a month only is usable through that month's last day."""
    value = text.strip()
    for fmt in ("%Y-%m-%d", "%m/%d/%Y", "%m/%d/%y", "%Y%m%d"):
        try:
            return dt.datetime.strptime(value, fmt).date()
        except ValueError:
            continue
    for fmt in ("%m/%Y", "%Y-%m", "%m-%Y"):
        try:
            first = dt.datetime.strptime(value, fmt).date()
        except ValueError:
            continue
        return first.replace(day=calendar.monthrange(first.year, first.month)[1])
    raise ValueError(f"'{text}' is not a date; use YYYY-MM-DD or MM/DD/YYYY.")


def _lot(text: str) -> str:
    value = text.strip().upper()
    if not _LOT.fullmatch(value):
        raise ValueError("a lot number has letters and digits only.")
    return value


def _plain(text: str) -> str:
    if any(ord(c) < 32 for c in text):
        raise ValueError("remove the control characters from this cell.")
    return text.strip()


def _line(
    row: int, cells: list[str], where: dict[str, int], problems: list[Problem]
) -> InvoiceLine | None:
    values: dict[str, object] = {}
    bad = False
    for name, index in where.items():
        raw = cells[index].strip() if index < len(cells) else ""
        if len(raw) > MAX_LENGTH[name]:
            problems.append(Problem(row, name, f"at most {MAX_LENGTH[name]} characters."))
            bad = True
            continue
        if not raw:
            if name in ("ndc", "quantity", "unit_cost"):
                problems.append(Problem(row, name, "this cell is empty."))
                bad = True
            continue
        try:
            if name == "ndc":
                values[name] = _ndc(raw)
            elif name == "quantity":
                values[name] = _packages(raw)
            elif name == "unit_cost":
                values[name] = _money(raw)
            elif name == "expiry":
                values[name] = _expiry(raw)
            elif name == "lot":
                values[name] = _lot(raw)
            else:
                values[name] = _plain(raw)
        except ValueError as exc:
            problems.append(Problem(row, name, str(exc)))
            bad = True
    if bad:
        return None
    return InvoiceLine(
        row=row,
        ndc=str(values["ndc"]),
        description=str(values.get("description", "")),
        packages=int(values["quantity"]),  # type: ignore[call-overload]
        unit_cost=values["unit_cost"],  # type: ignore[arg-type]
        lot=str(values.get("lot", "")),
        expiry=values.get("expiry"),  # type: ignore[arg-type]
        invoice_number=str(values.get("invoice_number", "")),
        dea_order_number=str(values.get("dea_order_number", "")),
    )


def parse_invoice(text: str) -> Invoice:
    """The lines of a supplier invoice CSV, or :class:`InvoiceError` naming each bad cell.

    Blank lines are skipped; columns the invoice carries beyond the known ones are ignored.
    All rows must name the same invoice number (when the column is there)."""
    if not isinstance(text, str) or not text.strip():
        raise InvoiceError([Problem(1, "header", "the file is empty.")])
    if len(text) > MAX_TEXT:
        raise InvoiceError([Problem(1, "header", "the file is too large for one delivery.")])
    reader = csv.reader(io.StringIO(text, newline=""))
    problems: list[Problem] = []
    lines: list[InvoiceLine] = []
    where: dict[str, int] = {}
    width = 0
    row = 0
    try:
        for cells in reader:
            row += 1
            if row == 1:
                where, header_problems = _columns(cells)
                width = len(cells)
                if header_problems:
                    raise InvoiceError(header_problems)
                continue
            if not any(c.strip() for c in cells):
                continue
            if len(cells) > width and any(c.strip() for c in cells[width:]):
                problems.append(
                    Problem(
                        row,
                        f"#{width + 1}",
                        f"this row has {len(cells)} cells but the header names {width}; "
                        "is a comma missing its quotes?",
                    )
                )
                continue
            if len(lines) + len(problems) >= MAX_LINES:
                problems.append(Problem(row, "ndc", f"more than {MAX_LINES} lines in one file."))
                break
            line = _line(row, cells, where, problems)
            if line is not None:
                lines.append(line)
            if len(problems) >= 50:
                break  # enough to fix first
    except csv.Error as exc:
        problems.append(Problem(row + 1, "line", f"the CSV cannot be read here ({exc})."))
    if not problems and not lines:
        problems.append(Problem(2, "ndc", "the file has a header but no lines."))
    numbers = {line.invoice_number for line in lines if line.invoice_number}
    if not problems and len(numbers) > 1:
        first = next(line.invoice_number for line in lines if line.invoice_number)
        for line in lines:
            if line.invoice_number and line.invoice_number != first:
                problems.append(
                    Problem(
                        line.row,
                        "invoice_number",
                        f"invoice {line.invoice_number} differs from {first}; import one "
                        "invoice at a time.",
                    )
                )
                break
    if problems:
        raise InvoiceError(problems)
    return Invoice(invoice_number=next(iter(numbers), ""), lines=lines)


# --- ANSI X12 810 (invoice) ----------------------------------------------------------------

# Units of measure that mean "one package" on a pharmacy wholesaler's invoice (a bottle,
# box, each…). A case holds an unknown number of packages, so it cannot be received as such.
PACKAGE_UNITS = frozenset({"EA", "UN", "BX", "BO", "PK", "PH", "VI", "TU", "KT", "CT"})
NDC_QUALIFIERS = ("N4", "ND", "N1", "N2", "N3", "N5", "N6")


def _x12_segments(text: str) -> tuple[list[list[str]], list[Problem]]:
    """Split an interchange into segments of elements, using the delimiters its ISA header
    declares (element separator after "ISA", segment terminator after the 16th element)."""
    body = text.strip()
    if not body.startswith("ISA") or len(body) < 106:
        return [], [Problem(1, "ISA", "an X12 interchange starts with a complete ISA segment.")]
    element = body[3]
    terminator = body[105]
    if element.isalnum() or terminator.isalnum() or element == terminator:
        return [], [Problem(1, "ISA", "the ISA segment's separators cannot be read.")]
    segments = []
    for raw in body.split(terminator):
        raw = raw.strip("\r\n ")
        if raw:
            segments.append(raw.split(element))
    return segments, []


def _element(elements: list[str], position: int) -> str:
    return elements[position].strip() if position < len(elements) else ""


def _it1(
    index: int, elements: list[str], number: str, problems: list[Problem]
) -> dict[str, object] | None:
    """One IT1 (invoice line): IT102 quantity, IT103 unit, IT104 unit price, then
    qualifier/value pairs from IT106 (N4 = the 11-digit NDC, LT = lot)."""
    found = len(problems)
    packages = cost = None
    try:
        packages = _packages(_element(elements, 2))
    except ValueError as exc:
        problems.append(Problem(index, "IT102", str(exc)))
    unit = _element(elements, 3).upper()
    if unit and unit not in PACKAGE_UNITS:
        problems.append(
            Problem(index, "IT103", f"unit {unit} is not a package (invoice by the each).")
        )
    try:
        cost = _money(_element(elements, 4))
    except ValueError as exc:
        problems.append(Problem(index, "IT104", str(exc)))
    pairs = {
        _element(elements, i).upper(): (_element(elements, i + 1), i + 1)
        for i in range(6, len(elements) - 1, 2)
    }
    qualifier = next((q for q in NDC_QUALIFIERS if q in pairs), None)
    ndc = lot = ""
    if qualifier is None:
        problems.append(Problem(index, "IT107", "no NDC (qualifier N4) on this line."))
    else:
        ndc_text, position = pairs[qualifier]
        try:
            ndc = _ndc(ndc_text)
        except ValueError as exc:
            problems.append(Problem(index, f"IT1{position:02d}", str(exc)))
    if "LT" in pairs:
        lot_text, position = pairs["LT"]
        try:
            lot = _lot(lot_text) if lot_text else ""
        except ValueError as exc:
            problems.append(Problem(index, f"IT1{position:02d}", str(exc)))
    if len(problems) > found:
        return None
    return {
        "row": index,
        "ndc": ndc,
        "description": "",
        "packages": packages,
        "unit_cost": cost,
        "lot": lot,
        "invoice_number": number,
    }


def parse_x12_810(text: str) -> Invoice:
    """The lines of an X12 810 invoice, or :class:`InvoiceError` naming the segment (its
    position in the file) and the element of every bad value."""
    if not isinstance(text, str) or len(text) > MAX_TEXT:
        raise InvoiceError([Problem(1, "ISA", "the file is empty or too large.")])
    segments, problems = _x12_segments(text)
    if problems:
        raise InvoiceError(problems)
    number = ""
    lines: list[InvoiceLine] = []
    pending: dict[str, object] | None = None
    seen_st = False
    for index, elements in enumerate(segments, start=1):
        tag = elements[0].strip().upper()
        if tag in ("IT1", "SE", "CTT", "TDS") and pending is not None:
            lines.append(InvoiceLine(**pending))  # type: ignore[arg-type]
            pending = None
        if tag == "ST":
            seen_st = True
            kind = _element(elements, 1)
            if kind != "810":
                problems.append(
                    Problem(index, "ST01", f"this is a {kind or '?'}, not an 810 invoice.")
                )
        elif tag == "BIG":
            number = _element(elements, 2)
            if not number:
                problems.append(Problem(index, "BIG02", "the invoice number is missing."))
            elif len(number) > MAX_LENGTH["invoice_number"]:
                problems.append(Problem(index, "BIG02", "at most 40 characters."))
        elif tag == "IT1":
            pending = _it1(index, elements, number, problems)
        elif tag == "PID" and pending is not None:
            pending["description"] = _element(elements, 5)[: MAX_LENGTH["description"]]
        if len(problems) >= 50:
            break
    if pending is not None:
        lines.append(InvoiceLine(**pending))  # type: ignore[arg-type]
    if not problems and not seen_st:
        problems.append(Problem(1, "ST", "no transaction set (ST) in this interchange."))
    if not problems and not lines:
        problems.append(Problem(len(segments), "IT1", "the invoice has no lines (IT1)."))
    if problems:
        raise InvoiceError(problems)
    return Invoice(invoice_number=number, lines=lines)


def parse_file(text: str) -> Invoice:
    """A supplier invoice file: an X12 810 (it starts with ISA) or a CSV."""
    if isinstance(text, str) and text.lstrip("\ufeff \r\n\t").startswith("ISA"):
        return parse_x12_810(text.lstrip("\ufeff \r\n\t"))
    return parse_invoice(text)
