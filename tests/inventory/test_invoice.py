"""The supplier invoice CSV parser (pure): typed lines from a wholesaler's file, and for any
bad line an error naming its row and column — never another exception."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rxdesk.inventory.invoice import (
    COLUMNS,
    Invoice,
    InvoiceError,
    InvoiceLine,
    Problem,
    parse_file,
    parse_invoice,
)

GOOD = (
    "NDC,Description,Qty Shipped,Unit Price,Lot Number,Exp Date,Invoice #,Ext. Cost\r\n"
    "00002-3227-30,PROZAC 20MG CAP 30,3,$12.50,ab123,2030-12-31,INV-99812,37.50\r\n"
    "\r\n"
    '0002-3227-01,PROZAC 20MG CAP 100,1,"1,040.00",,,INV-99812,1040.00\r\n'
    "42858000101,OXYCODONE 5MG 100,2,31.9,X7,11/2029,INV-99812,63.80\r\n"
)


def test_it_reads_a_wholesalers_invoice():
    invoice = parse_invoice("\ufeff" + GOOD)
    assert invoice.invoice_number == "INV-99812"
    assert invoice.lines == [
        InvoiceLine(
            row=2,
            ndc="00002-3227-30",
            description="PROZAC 20MG CAP 30",
            packages=3,
            unit_cost=Decimal("12.50"),
            lot="AB123",
            expiry=dt.date(2030, 12, 31),
            invoice_number="INV-99812",
        ),
        InvoiceLine(
            row=4,
            ndc="0002-3227-01",
            description="PROZAC 20MG CAP 100",
            packages=1,
            unit_cost=Decimal("1040.00"),
            invoice_number="INV-99812",
        ),
        InvoiceLine(
            row=5,
            ndc="42858000101",
            description="OXYCODONE 5MG 100",
            packages=2,
            unit_cost=Decimal("31.90"),
            lot="X7",
            expiry=dt.date(2029, 11, 30),  # a month-only expiry: its last day
            invoice_number="INV-99812",
        ),
    ]
    assert invoice.total == Decimal("1141.30")


def test_the_minimal_columns_are_enough():
    invoice = parse_invoice("ndc,description,quantity,unit_cost\n00002322730,,2,0\n")
    assert invoice == Invoice(
        invoice_number="",
        lines=[
            InvoiceLine(
                row=2, ndc="00002322730", description="", packages=2, unit_cost=Decimal("0.00")
            )
        ],
    )


def problems_of(text: str) -> list[Problem]:
    with pytest.raises(InvoiceError) as caught:
        parse_invoice(text)
    return caught.value.problems


HEADER = "NDC,Description,Quantity,Unit Cost,Lot,Expiry,Invoice Number\n"


@pytest.mark.parametrize(
    ("line", "column", "message"),
    [
        ("0002-3227-30,X,0,1.00,,,", "quantity", "the quantity must be at least 1 package."),
        ("0002-3227-30,X,1.5,1.00,,,", "quantity", "count whole packages (no fractions)."),
        ("0002-3227-30,X,three,1.00,,,", "quantity", "'three' is not a number of packages."),
        (
            "0002-3227-30,X,1,-2,,,",
            "unit_cost",
            "a unit cost cannot be negative (a credit is not an invoice line).",
        ),
        ("0002-3227-30,X,1,1.001,,,", "unit_cost", "use at most two decimal places (cents)."),
        ("0002-3227-30,X,1,free,,,", "unit_cost", "'free' is not an amount of money."),
        (
            "2322730,X,1,1.00,,,",
            "ndc",
            "this looks like an NDC a spreadsheet shortened "
            "(leading zeros dropped); save the NDC column as text.",
        ),
        (",X,1,1.00,,,", "ndc", "this cell is empty."),
        (
            "0002-3227-30,X,1,1.00,L1,31/12/2030,",
            "expiry",
            "'31/12/2030' is not a date; use YYYY-MM-DD or MM/DD/YYYY.",
        ),
        ("0002-3227-30,X,1,1.00,L#1,,", "lot", "a lot number has letters and digits only."),
        (
            "0002-3227-30,X,1,1.00,,,,extra",
            "#8",
            "this row has 8 cells but the header names 7; is a comma missing its quotes?",
        ),
    ],
)
def test_a_bad_cell_is_named_by_row_and_column(line, column, message):
    text = HEADER + "0002-3227-30,OK,1,1.00,,,\n" + line + "\n"
    assert problems_of(text) == [Problem(3, column, message)]
    with pytest.raises(InvoiceError, match=f"^Row 3, column {column}: "):
        parse_invoice(text)


def test_it_reports_every_bad_cell_and_counts_them():
    text = HEADER + "0002-3227-30,X,0,x,,,\n0002-3227-30,X,1,1,,bad,\n"
    problems = problems_of(text)
    assert [(p.row, p.column) for p in problems] == [
        (2, "quantity"),
        (2, "unit_cost"),
        (3, "expiry"),
    ]
    with pytest.raises(InvoiceError, match=r"\(and 2 more problems\)$"):
        parse_invoice(text)


def test_a_missing_or_doubled_column_is_named_in_the_header():
    assert problems_of("NDC,Qty,Price\n0002-3227-30,1,1\n") == [
        Problem(1, "description", "no description column in the header; the header row names it.")
    ]
    assert problems_of("NDC,Description,Qty,Quantity,Cost\n") == [
        Problem(1, "Quantity", "a second quantity column; keep one.")
    ]


def test_one_file_is_one_invoice():
    text = HEADER + "0002-3227-30,X,1,1,,,A-1\n0002-3227-30,X,1,1,,,\n0002-3227-30,X,1,1,,,B-2\n"
    assert problems_of(text) == [
        Problem(4, "invoice_number", "invoice B-2 differs from A-1; import one invoice at a time.")
    ]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", Problem(1, "header", "the file is empty.")),
        ("   \n", Problem(1, "header", "the file is empty.")),
        (HEADER, Problem(2, "ndc", "the file has a header but no lines.")),
        (HEADER + ",,,,,,\n", Problem(2, "ndc", "the file has a header but no lines.")),
    ],
)
def test_an_empty_file_is_refused(text, problem):
    assert problems_of(text) == [problem]


def test_a_huge_file_is_refused_before_reading():
    assert problems_of("x" * 2_000_001)[0].message == "the file is too large for one delivery."


# --- Properties ----------------------------------------------------------------------------

FIELDS = ["ndc", "description", "quantity", "unit_cost", "lot", "expiry", "invoice_number"]
VALID_ROW = ["0002-3227-30", "PROZAC", "2", "12.50", "L1", "2030-12-31", "INV-1"]


def csv_text(rows: list[list[str]]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(FIELDS)
    writer.writerows(rows)
    return buf.getvalue()


cells = st.text(max_size=30) | st.sampled_from(
    [
        "",
        " ",
        "0",
        "-1",
        "1e9",
        "NaN",
        "sNaN",
        "1E+999999",
        "$-0.001",
        "02/30/2030",
        "13/2030",
        "0002-3227-30",
        "(01)00300023227305",
        "=SUM(A1)",
        "1,5",
        '"',
        "\x00",
        "\u0663",
    ]
)


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(
    lines=st.integers(min_value=1, max_value=4),
    bad_line=st.integers(min_value=0, max_value=3),
    column=st.sampled_from(FIELDS),
    value=cells,
)
def test_any_malformed_cell_is_named_by_its_row_and_column(lines, bad_line, column, value):
    rows = [list(VALID_ROW) for _ in range(lines)]
    target = bad_line % lines
    rows[target][FIELDS.index(column)] = value
    try:
        invoice = parse_invoice(csv_text(rows))
    except InvoiceError as exc:
        row = target + 2
        if column == "invoice_number":
            # Which of two differing invoice numbers is the odd one out is a guess; the
            # problem still names the column and a row of the file.
            assert all(p.column == column and 2 <= p.row <= lines + 1 for p in exc.problems)
        else:
            assert all(p.row == row and p.column == column for p in exc.problems), exc.problems
            assert str(exc).startswith(f"Row {row}, column {column}: ")
    else:
        assert len(invoice.lines) == lines


@settings(max_examples=300)
@given(rows=st.lists(st.lists(cells, max_size=9), max_size=6))
def test_any_rows_give_an_invoice_or_an_invoice_error(rows):
    try:
        parse_invoice(csv_text(rows))
    except InvoiceError as exc:
        for problem in exc.problems:
            assert 1 <= problem.row <= len(rows) + 2
            assert problem.column in COLUMNS or problem.column.startswith("#")


@settings(max_examples=300)
@given(text=st.text(max_size=300))
def test_any_text_gives_an_invoice_or_an_invoice_error(text):
    try:
        parse_invoice(text)
    except InvoiceError as exc:
        assert exc.problems and all(p.row >= 1 and p.column for p in exc.problems)


# --- X12 810 -------------------------------------------------------------------------------

ISA = (
    "ISA*00*          *00*          *ZZ*MCKESSON       *ZZ*PHARMACY123    "
    "*250301*1200*U*00401*000000001*0*P*>~"
)
X12_LINES = [
    "GS*IN*MCK*PHARM*20250301*1200*1*X*004010",
    "ST*810*0001",
    "BIG*20250301*INV-99812*20250228*PO-000001",
    "IT1*1*3*EA*12.50**N4*00002322730",
    "PID*F****PROZAC 20MG CAP 30",
    "IT1*2*1*EA*31.90**N4*42858000101*LT*x7",
    "TDS*6940",
    "CTT*2",
    "SE*9*0001",
    "GE*1*1",
    "IEA*1*000000001",
]


def x12(lines: list[str] = X12_LINES, terminator: str = "~\n") -> str:
    return ISA + "\n" + terminator.join(lines) + terminator


def test_it_reads_an_x12_810_invoice():
    invoice = parse_file("\ufeff" + x12())
    assert invoice == Invoice(
        invoice_number="INV-99812",
        lines=[
            InvoiceLine(
                row=5,
                ndc="00002322730",
                description="PROZAC 20MG CAP 30",
                packages=3,
                unit_cost=Decimal("12.50"),
                invoice_number="INV-99812",
            ),
            InvoiceLine(
                row=7,
                ndc="42858000101",
                description="",
                packages=1,
                unit_cost=Decimal("31.90"),
                lot="X7",
                invoice_number="INV-99812",
            ),
        ],
    )


def with_segment(index: int, segment: str) -> str:
    lines = list(X12_LINES)
    lines[index] = segment
    return x12(lines)


@pytest.mark.parametrize(
    ("segment", "column", "message"),
    [
        ("IT1*1*0*EA*12.50**N4*00002322730", "IT102", "the quantity must be at least 1 package."),
        (
            "IT1*1*3*CA*12.50**N4*00002322730",
            "IT103",
            "unit CA is not a package (invoice by the each).",
        ),
        ("IT1*1*3*EA*12,5x**N4*00002322730", "IT104", "'12,5x' is not an amount of money."),
        ("IT1*1*3*EA*12.50**VN*A-77", "IT107", "no NDC (qualifier N4) on this line."),
        (
            "IT1*1*3*EA*12.50**N4*2322730",
            "IT107",
            "this looks like an NDC a spreadsheet "
            "shortened (leading zeros dropped); save the NDC column as text.",
        ),
    ],
)
def test_a_bad_x12_element_is_named_by_segment_and_element(segment, column, message):
    with pytest.raises(InvoiceError) as caught:
        parse_file(with_segment(3, segment))
    assert caught.value.problems == [Problem(5, column, message)]


def test_only_an_810_is_an_invoice():
    with pytest.raises(InvoiceError, match=r"^Row 3, column ST01: this is a 856, not an 810"):
        parse_file(with_segment(1, "ST*856*0001"))
    with pytest.raises(InvoiceError, match="complete ISA segment"):
        parse_file("ISA*00*short~")


@settings(max_examples=300)
@given(element=st.integers(min_value=1, max_value=8), value=cells)
def test_any_bad_it1_element_is_named_by_its_segment(element, value):
    parts = X12_LINES[3].split("*") + [""] * 2
    parts[element] = value.replace("~", "").replace("*", "").replace("\n", "")
    try:
        parse_file(with_segment(3, "*".join(parts)))
    except InvoiceError as exc:
        assert all(p.row == 5 and p.column.startswith("IT1") for p in exc.problems), exc.problems


@settings(max_examples=200)
@given(tail=st.text(max_size=200))
def test_any_interchange_gives_an_invoice_or_an_invoice_error(tail):
    try:
        parse_file(ISA + tail)
    except InvoiceError as exc:
        assert exc.problems and all(p.row >= 1 and p.column for p in exc.problems)
