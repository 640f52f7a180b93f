"""The MAR (rxdesk.institutional.mar): the grid of a month — an order starting mid-month, a
discharge, a leave of absence, February and a 31-day month, a PRN block — its CSV read back
with the csv module, and its PDF read back with pypdf."""

from __future__ import annotations

import csv
import datetime as dt
import io

from pypdf import PdfReader

from rxdesk.institutional import mar

BOX, OFF, LEAVE = mar.BOX, mar.OFF, mar.LEAVE


ALWAYS = (mar.Span(dt.date(2025, 1, 1)),)


def _resident(spans=ALWAYS, allergies="No known allergies"):
    return mar.ResidentInfo(
        name="Lucia Diaz",
        date_of_birth=dt.date(1940, 5, 17),
        allergies=allergies,
        facility="Oakwood Care Center",
        unit="1W",
        room="101",
        bed="A",
        pharmacy="Riverside Test Pharmacy",
        spans=tuple(spans),
    )


def _order(**over):
    values = {
        "rx_number": 1001,
        "drug": "Metoprolol tartrate 25 mg tablet",
        "directions": "Take 1 tablet by mouth twice daily",
        "dose": "1",
        "unit": "EA",
        "times": ("08:00", "17:00"),
        "start_on": dt.date(2025, 1, 1),
    }
    values.update(over)
    return mar.Order(**values)


def test_a_31_day_month_has_a_row_per_order_and_time():
    grid = mar.build(_resident(), [_order()], dt.date(2026, 3, 15))
    assert grid.month == dt.date(2026, 3, 1)
    assert len(grid.days) == 31
    assert [(r.time, r.order.rx_number) for r in grid.rows] == [("08:00", 1001), ("17:00", 1001)]
    assert all(r.cells == (BOX,) * 31 for r in grid.rows)
    assert grid.prn_rows == ()


def test_february_has_28_or_29_days():
    assert len(mar.build(_resident(), [_order()], dt.date(2026, 2, 1)).days) == 28
    assert len(mar.build(_resident(), [_order()], dt.date(2028, 2, 10)).days) == 29


def test_an_order_starting_mid_month_and_a_discharge_shade_their_days():
    spans = mar.spans_from_census(
        [("admit", dt.date(2025, 6, 1)), ("discharge", dt.date(2026, 3, 20))]
    )
    order = _order(start_on=dt.date(2026, 3, 10))
    grid = mar.build(_resident(spans), [order], dt.date(2026, 3, 1))
    cells = grid.rows[0].cells
    assert cells[:9] == (OFF,) * 9  # 1–9: not yet ordered
    assert cells[9:20] == (BOX,) * 11  # 10–20: given (the day of discharge counts)
    assert cells[20:] == (OFF,) * 11  # 21–31: discharged


def test_a_leave_of_absence_shows_loa_and_a_stop_date_ends_the_boxes():
    spans = mar.spans_from_census(
        [
            ("admit", dt.date(2025, 6, 1)),
            ("leave", dt.date(2026, 4, 5)),
            ("return", dt.date(2026, 4, 9)),
        ]
    )
    grid = mar.build(_resident(spans), [_order(stop_on=dt.date(2026, 4, 25))], dt.date(2026, 4, 1))
    cells = grid.rows[0].cells
    assert len(cells) == 30
    assert cells[4] == BOX  # the day of leaving
    assert cells[5:8] == (LEAVE,) * 3  # 6–8 April away
    assert cells[8] == BOX  # back on the 9th
    assert cells[24] == BOX and cells[25:] == (OFF,) * 5  # stopped after the 25th


def test_the_prescriptions_own_dates_limit_the_order():
    order = _order(rx_start=dt.date(2026, 5, 3), rx_end=dt.date(2026, 5, 30))
    cells = mar.build(_resident(), [order], dt.date(2026, 5, 1)).rows[0].cells
    assert cells[:2] == (OFF, OFF) and cells[2] == BOX and cells[29] == BOX and cells[30] == OFF


def test_prn_orders_have_their_own_block_and_orders_not_in_force_are_left_out():
    prn = _order(
        rx_number=1002, drug="Acetaminophen 325 mg", times=(), prn=True, prn_max_per_day="4"
    )
    old = _order(rx_number=1003, drug="Amoxicillin", stop_on=dt.date(2026, 1, 10))
    grid = mar.build(_resident(), [prn, old, _order()], dt.date(2026, 2, 1))
    assert [r.order.rx_number for r in grid.rows] == [1001, 1001]
    assert [(r.order.rx_number, r.time) for r in grid.prn_rows] == [(1002, "PRN")]


def test_spans_without_events_run_from_admission_to_discharge():
    assert mar.spans_from_census([], admitted_on=dt.date(2026, 1, 5), discharged_on=None) == (
        mar.Span(dt.date(2026, 1, 5)),
    )
    spans = mar.spans_from_census(
        [
            ("admit", dt.date(2026, 1, 1)),
            ("leave", dt.date(2026, 1, 10)),
            ("discharge", dt.date(2026, 1, 15)),
            ("readmit", dt.date(2026, 2, 1)),
        ]
    )
    assert spans == (
        mar.Span(dt.date(2026, 1, 1), dt.date(2026, 1, 10)),
        mar.Span(dt.date(2026, 1, 11), dt.date(2026, 1, 15), leave=True),
        mar.Span(dt.date(2026, 2, 1)),
    )


def test_the_csv_reads_back_one_row_per_order_and_time():
    prn = _order(rx_number=1002, drug="=HYPERLINK(1)", times=(), prn=True, prn_max_per_day="4")
    spans = mar.spans_from_census([("admit", dt.date(2026, 2, 10))])
    grid = mar.build(_resident(spans), [_order(), prn], dt.date(2026, 2, 1))
    rows = list(csv.reader(io.StringIO(mar.to_csv(grid))))
    head, body = rows[0], rows[1:]
    assert head[: len(mar.CSV_FIXED)] == mar.CSV_FIXED
    assert head[len(mar.CSV_FIXED) :] == [str(d) for d in range(1, 29)]
    assert [(r[2], r[6]) for r in body] == [("1001", "08:00"), ("1001", "17:00"), ("1002", "PRN")]
    first = dict(zip(head, body[0], strict=True))
    assert (first["Resident"], first["Month"], first["Dose"]) == ("Lucia Diaz", "2026-02", "1 EA")
    assert (first["9"], first["10"], first["28"]) == (OFF, BOX, BOX)
    assert body[2][3] == "'=HYPERLINK(1)"  # never a formula in a spreadsheet
    assert body[2][7] == "4"


def _pdf(grid) -> tuple[PdfReader, list[str]]:
    reader = PdfReader(io.BytesIO(mar.to_pdf(grid)))
    return reader, [" ".join(p.extract_text().split()) for p in reader.pages]


def test_the_pdf_is_letter_landscape_and_names_resident_drug_and_times():
    grid = mar.build(
        _resident(allergies="Penicillin (hives)"),
        [
            _order(),
            _order(
                rx_number=1002, drug="Acetaminophen 325 mg", times=(), prn=True, prn_max_per_day="4"
            ),
        ],
        dt.date(2026, 1, 1),
    )
    reader, pages = _pdf(grid)
    box = reader.pages[0].mediabox
    assert (float(box.width), float(box.height)) == (792.0, 612.0)
    text = pages[0]
    for expected in (
        "Medication administration record — January 2026",
        "Lucia Diaz",
        "05/17/1940",
        "Allergies: Penicillin (hives)",
        "Oakwood Care Center",
        "room 101",
        "Metoprolol tartrate 25 mg tablet",
        "08:00",
        "17:00",
        "Acetaminophen 325 mg",
        "PRN",
        "at most 4 a day",
        "Riverside Test Pharmacy",
        "Page 1 of 1",
        "LOA: on leave of absence",
    ):
        assert expected in text, expected


def test_a_long_mar_is_paginated_with_the_header_on_every_page():
    orders = [_order(rx_number=2000 + n, drug=f"Drug number {n:02d}") for n in range(30)]
    _reader, pages = _pdf(mar.build(_resident(), orders, dt.date(2026, 1, 1)))
    assert len(pages) > 1
    for n, text in enumerate(pages, start=1):
        assert "Lucia Diaz" in text and "Allergies: No known allergies" in text
        assert f"Page {n} of {len(pages)}" in text
        assert "Initial the box" in text
    assert "Drug number 29" in pages[-1]


def test_a_month_without_orders_still_prints():
    _, pages = _pdf(mar.build(_resident(), [], dt.date(2026, 1, 1)))
    assert "No orders in force this month." in pages[0]
