"""The pure parts of the daily reports (rxdesk.reports.daily_table, daily_pdf): quantities
never rounded, age buckets and expiry windows at their edges, the CSV, and the PDF
(landscape letter, page x of y, header on every page, tables across pages)."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pypdf import PdfReader

from rxdesk.reports.daily_pdf import render_pdf
from rxdesk.reports.daily_table import (
    ReportTable,
    age_bucket,
    count_by,
    expiry_window,
    money,
    qty,
    sha256_of,
    table_csv,
)

DAY = dt.date(2026, 11, 26)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (Decimal("30.000"), "30"),
        (Decimal("2.500"), "2.5"),
        (Decimal("-12.000"), "-12"),
        (Decimal("0.125"), "0.125"),
        (Decimal("0.000"), "0"),
        (Decimal("-0.000"), "0"),
        (Decimal("1000"), "1000"),
        (None, ""),
    ],
)
def test_it_writes_quantities_exactly(value, text):
    assert qty(value) == text


@given(st.decimals(min_value=-(10**9), max_value=10**9, places=3, allow_nan=False))
def test_a_written_quantity_reads_back_to_the_same_number(value):
    assert Decimal(qty(value)) == value
    assert "E" not in qty(value)


def test_money_is_to_the_cent():
    assert money(Decimal("1234.5")) == "1234.50"
    assert money(None) == "0.00"


@pytest.mark.parametrize(
    ("days", "bucket"),
    [
        (0, "0–3 days"),
        (3, "0–3 days"),
        (4, "4–7 days"),
        (7, "4–7 days"),
        (8, "8–10 days"),
        (10, "8–10 days"),
        (11, "Over 10 days"),
        (400, "Over 10 days"),
    ],
)
def test_age_buckets_at_their_edges(days, bucket):
    assert age_bucket(days) == bucket


def test_a_negative_age_is_refused():
    with pytest.raises(ValueError):
        age_bucket(-1)


@given(st.integers(min_value=0, max_value=10_000), st.integers(min_value=0, max_value=10_000))
def test_older_bags_never_fall_in_a_younger_bucket(a, b):
    order = ["0–3 days", "4–7 days", "8–10 days", "Over 10 days"]
    lo, hi = sorted((a, b))
    assert order.index(age_bucket(lo)) <= order.index(age_bucket(hi))


@pytest.mark.parametrize(
    ("expiry", "window"),
    [
        (DAY - dt.timedelta(days=1), "Expired"),
        (DAY, "Within 30 days"),  # good through its expiry date
        (DAY + dt.timedelta(days=30), "Within 30 days"),
        (DAY + dt.timedelta(days=31), "31–60 days"),
        (DAY + dt.timedelta(days=60), "31–60 days"),
        (DAY + dt.timedelta(days=61), "61–90 days"),
        (DAY + dt.timedelta(days=90), "61–90 days"),
        (DAY + dt.timedelta(days=91), None),
    ],
)
def test_expiry_windows_at_their_edges(expiry, window):
    assert expiry_window(expiry, DAY) == window


def test_count_by_keeps_the_order_and_the_zeros():
    assert count_by(["b", "a", "b"], ["a", "b", "c"]) == [("a", 1), ("b", 2), ("c", 0)]


def test_a_row_of_the_wrong_width_is_refused():
    with pytest.raises(ValueError):
        ReportTable(code="x", title="X", columns=["a", "b"], rows=[["1"]])


cells = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=20)


@given(st.lists(st.lists(cells, min_size=3, max_size=3), max_size=10))
def test_the_csv_has_a_header_and_reads_back_to_the_rows(rows):
    table = ReportTable(code="x", title="X", columns=["A", "B", "C"], rows=rows)
    text = table_csv(table)
    back = list(csv.reader(io.StringIO(text, newline="")))
    assert back[0] == ["A", "B", "C"]
    assert back[1:] == rows


@given(st.lists(st.lists(cells, min_size=2, max_size=2), max_size=5))
def test_the_table_survives_its_json_form(rows):
    table = ReportTable(
        code="x", title="X", columns=["A", "B"], rows=rows, totals=[("n", "1")], notes=["z"]
    )
    again = ReportTable.from_data("x", "X", table.as_data())
    assert again == table


def test_sha256_is_hex():
    assert sha256_of("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    assert sha256_of(b"abc") == sha256_of("abc")


def _pdf(rows: int) -> PdfReader:
    table = ReportTable(
        code="dispensing",
        title="Dispensing report",
        columns=["Rx", "Patient", "Drug"],
        rows=[[str(1000 + i), f"Pat <{i}> & Co", "OXYCODONE 5 mg"] for i in range(rows)],
        totals=[("Fills", str(rows))],
        notes=["A note."],
    )
    pdf = render_pdf(
        table,
        pharmacy="Riverside Pharmacy",
        ncpdp_id="0512345",
        business_date=DAY,
        generated_at=dt.datetime(2026, 11, 27, 2, 0, tzinfo=dt.UTC),
    )
    assert pdf.startswith(b"%PDF-")
    assert pdf.rstrip().endswith(b"%%EOF")
    return PdfReader(io.BytesIO(pdf))


def test_the_pdf_is_landscape_letter_headed_and_numbered():
    reader = _pdf(3)
    assert len(reader.pages) == 1
    page = reader.pages[0]
    assert (float(page.mediabox.width), float(page.mediabox.height)) == (792.0, 612.0)
    text = page.extract_text()
    assert "Riverside Pharmacy — NCPDP 0512345" in text
    assert "Dispensing report, 11/26/2026" in text
    assert "Page 1 of 1" in text
    assert "Generated 11/27/2026 02:00 UTC" in text
    assert "Pat <2> & Co" in text
    assert "Fills: 3" in text


def test_a_long_table_breaks_across_pages_each_headed_and_numbered():
    reader = _pdf(120)
    n = len(reader.pages)
    assert n >= 3
    for number, page in enumerate(reader.pages, start=1):
        text = page.extract_text()
        assert f"Page {number} of {n}" in text
        assert "Riverside Pharmacy — NCPDP 0512345" in text
        assert "Patient" in text  # the header row repeats
    everything = "".join(p.extract_text() for p in reader.pages)
    assert all(str(1000 + i) in everything for i in range(120))


def test_an_empty_report_says_so():
    text = _pdf(0).pages[0].extract_text()
    assert "Nothing to report for this day." in text
