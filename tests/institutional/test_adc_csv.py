"""Cabinet transaction files and eMAR administrations files, read without a database: the
documented header, the Pyxis/Omnicell column names, every kind of bad row (named by row
and column), and hostile files that never raise anything but the documented errors."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rxdesk.core.errors import Invalid
from rxdesk.institutional import adc_csv
from rxdesk.institutional.adc_csv import RowError, parse, parse_administrations

TZ = zoneinfo.ZoneInfo("America/New_York")
HEADER = (
    "Transaction ID,Date Time,Station,Drawer,Pocket,NDC,Transaction Type,Quantity,Counted,"
    "Expected,User ID,User Name,Witness,Patient ID,Patient Name,Override,Note"
)


def _file(*lines: str, header: str = HEADER) -> str:
    return "\n".join([header, *lines]) + "\n"


def test_it_reads_the_documented_header():
    text = _file(
        "TX-1,03/15/2025 14:10,3W-1,1,A,0002-3227-30,Removal,2,8,8,NURSE1,Anne Smith,,MRN100,"
        "Jane Doe,N,",
        "TX-2,2025-03-15 14:12:30,3W-1,1,A,00002322730,count,0,,,NURSE1,,W9,,,,",
    )

    found, errors = parse(text, TZ)

    assert errors == []
    first, second = found
    assert first.row == 2
    assert first.external_id == "TX-1"
    assert first.occurred_at == dt.datetime(2025, 3, 15, 18, 10, tzinfo=dt.UTC)
    assert (first.station, first.drawer, first.pocket) == ("3W-1", "1", "A")
    assert first.ndc11 == "00002322730"
    assert first.event == "removal"
    assert first.quantity == Decimal("2")
    assert first.counted == Decimal("8")
    assert first.expected == Decimal("8")
    assert (first.cabinet_user, first.user_name) == ("NURSE1", "Anne Smith")
    assert (first.patient_ref, first.patient_name) == ("MRN100", "Jane Doe")
    assert first.override is False
    assert second.event == "count"
    assert second.quantity == Decimal("0")
    assert second.counted is None
    assert second.witness == "W9"
    assert second.occurred_at == dt.datetime(2025, 3, 15, 18, 12, 30, tzinfo=dt.UTC)


def test_it_reads_pyxis_and_omnicell_column_names():
    pyxis = (
        "TxID,TransactionDate,Device,Drawer ID,Cubie,Med ID,TxType,Qty,End Count,UserId,MRN,"
        "Override Flag"
    )
    omnicell = (
        "Trans ID;Timestamp;Station Name;Drawer;Bin;Item ID;Activity;Quantity;Begin Count;"
        "Employee ID;Patient ID;Overridden"
    )

    found_p, errors_p = parse(
        _file("P-1,20250315141000,3W-1,2,B,00002322730,WD,1,4,RN7,MRN100,Y", header=pyxis), TZ
    )
    found_o, errors_o = parse(
        _file(
            "O-1;03/15/2025 2:10 PM;3W-1;2;B;0002-3227-30;ISSUE;1;5;RN7;MRN100;yes", header=omnicell
        ),
        TZ,
    )

    assert errors_p == errors_o == []
    p, o = found_p[0], found_o[0]
    assert (p.external_id, o.external_id) == ("P-1", "O-1")
    assert p.event == o.event == "removal"
    assert p.override is o.override is True
    assert p.occurred_at == o.occurred_at == dt.datetime(2025, 3, 15, 18, 10, tzinfo=dt.UTC)
    assert (p.station, p.drawer, p.pocket) == (o.station, o.drawer, o.pocket) == ("3W-1", "2", "B")
    # Pyxis sent the count after the access; Omnicell the count before it (5 - 1 = 4).
    assert p.counted == o.counted == Decimal("4")
    assert p.cabinet_user == o.cabinet_user == "RN7"


@pytest.mark.parametrize(
    ("word", "event"),
    [
        ("Remove", "removal"),
        ("CG", "removal"),
        ("Return", "return"),
        ("CD", "return"),
        ("Waste", "waste"),
        ("WS", "waste"),
        ("Refill", "restock"),
        ("Load", "restock"),
        ("Inventory", "count"),
        ("Cycle Count", "count"),
        ("Unload", "unload"),
    ],
)
def test_each_vendor_word_is_an_event(word, event):
    found, errors = parse(_file(f"T,03/15/2025 14:10,3W-1,1,A,,{word},1,,,,,,,,,"), TZ)

    assert errors == []
    assert found[0].event == event


def test_an_ndc_of_ten_bare_digits_is_read_all_three_ways():
    found, _ = parse(_file("T,03/15/2025 14:10,3W-1,,,0002322730,Removal,1,,,,,,,,,"), TZ)

    assert found[0].ndc11 == ""
    assert "00002322730" in found[0].ndc_candidates
    assert len(found[0].ndc_candidates) == 3


def test_a_time_with_an_offset_is_kept_and_without_one_is_local():
    found, _ = parse(
        _file(
            "A,2025-07-01T10:00:00-05:00,3W-1,1,A,,Removal,1,,,,,,,,,",
            "B,07/01/2025 10:00,3W-1,1,A,,Removal,1,,,,,,,,,",
        ),
        TZ,
    )

    assert found[0].occurred_at == dt.datetime(2025, 7, 1, 15, 0, tzinfo=dt.UTC)
    assert found[1].occurred_at == dt.datetime(2025, 7, 1, 14, 0, tzinfo=dt.UTC)  # EDT


BAD_ROWS = [
    ("T,03/15/2025 14:10,3W-1,1,A,,Removal,-2,,,,,,,,,", "Quantity", "more than zero"),
    ("T,03/15/2025 14:10,3W-1,1,A,,Removal,0,,,,,,,,,", "Quantity", "more than zero"),
    ("T,03/15/2025 14:10,3W-1,1,A,,Removal,two,,,,,,,,,", "Quantity", "not a number"),
    ("T,03/15/2025 14:10,3W-1,1,A,,Removal,1.2345,,,,,,,,,", "Quantity", "decimal places"),
    ("T,03/15/2025 14:10,3W-1,1,A,,Removal,NaN,,,,,,,,,", "Quantity", "not a number"),
    ("T,03/15/2025 14:10,3W-1,1,A,,Removal,1e9,,,,,,,,,", "Quantity", "not a number"),
    ("T,03/15/2025 14:10,3W-1,1,A,,Removal,1000000000,,,,,,,,,", "Quantity", "too large"),
    ("T,02/30/2025 14:10,3W-1,1,A,,Removal,1,,,,,,,,,", "Date Time", "not a date"),
    ("T,yesterday,3W-1,1,A,,Removal,1,,,,,,,,,", "Date Time", "not a date"),
    ("T,2025-03-15,3W-1,1,A,,Removal,1,,,,,,,,,", "Date Time", "no time of day"),
    ("T,03/15/1925 14:10,3W-1,1,A,,Removal,1,,,,,,,,,", "Date Time", "plausible"),
    ("T,03/15/2025 14:10,,1,A,,Removal,1,,,,,,,,,", "Station", "empty"),
    (",03/15/2025 14:10,3W-1,1,A,,Removal,1,,,,,,,,,", "Transaction ID", "empty"),
    ("T,03/15/2025 14:10,3W-1,1,A,,Borrow,1,,,,,,,,,", "Transaction Type", "not a transaction"),
    ("T,03/15/2025 14:10,3W-1,1,A,12345,Removal,1,,,,,,,,,", "NDC", "not an NDC"),
    ("T,03/15/2025 14:10,3W-1,1,A,,Removal,1,-3,,,,,,,,", "Counted", "zero or more"),
    ("T,03/15/2025 14:10,3W-1,1,A,,Removal,1,,,,,,,,maybe,", "Override", "not Y or N"),
    ("T,03/15/2025 14:10,3W-1,1,A,,Removal,1,,,=cmd|' /C calc'!A0,,,,,,", "User ID", "formula"),
    ("T,03/15/2025 14:10,3W-1,1,A,,Removal,1,,,@SUM(1+1),,,,,,", "User ID", "formula"),
    ("T,03/15/2025 14:10,3W-1,1,A,,Removal,1,,,,,,+MRN,,,", "Patient ID", "formula"),
    ("T,03/15/2025 14:10,3W-1,1,A,,Removal,1,,,,,,-MRN,,,", "Patient ID", "formula"),
    (f"{'T' * 41},03/15/2025 14:10,3W-1,1,A,,Removal,1,,,,,,,,,", "Transaction ID", "longer"),
    ("T,03/15/2025 14:10,3W-1,12345678901,A,,Removal,1,,,,,,,,,", "Drawer", "longer"),
    ("T,03/15/2025 14:10,3W-1,1,A,,Removal,1,,,RN\x07,,,,,,", "User ID", "control"),
    ("T,03/15/2025 14:10,3W-1,,,,Removal,1,,,,,,,,,", "NDC", "Drawer and Pocket or the NDC"),
]


@pytest.mark.parametrize(("line", "column", "words"), BAD_ROWS)
def test_a_bad_row_is_named_by_row_and_column_and_the_others_are_read(line, column, words):
    good = "OK,03/15/2025 14:10,3W-1,1,A,,Removal,1,,,,,,,,,"

    found, errors = parse(_file(good, line, good.replace("OK", "OK2")), TZ)

    assert [t.external_id for t in found] == ["OK", "OK2"]
    assert len(errors) == 1
    assert errors[0].row == 3
    assert errors[0].column == column
    assert words in errors[0].message


def test_a_begin_count_below_what_was_taken_is_refused():
    header = "ID,Date Time,Station,Drawer,Pocket,Type,Qty,Begin Count"
    _, errors = parse(_file("A,03/15/2025 14:10,3W-1,1,A,Removal,3,2", header=header), TZ)

    assert errors == [RowError(2, "Begin Count", "the begin count 2 is less than the 3 taken")]


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("", "empty"),
        ("Station,Qty\n3W-1,1\n", "no Transaction ID, Date Time, Transaction Type column"),
        ("ID,Date Time,Station,Type,Qty\nA,03/15/2025 14:10,3W-1,Removal,1\n", "Drawer and Pocket"),
        ("ID,Date\x00Time\n", "binary"),
    ],
)
def test_a_file_that_cannot_be_read_is_invalid_file(text, words):
    with pytest.raises(Invalid) as caught:
        parse(text, TZ)

    assert caught.value.field == "file"
    assert words in caught.value.message


def test_a_file_over_the_limits_is_refused(monkeypatch):
    monkeypatch.setattr(adc_csv, "MAX_ROWS", 100)
    rows = [f"T{i},03/15/2025 14:10,3W-1,1,A,,Removal,1,,,,,,,,," for i in range(101)]

    with pytest.raises(Invalid) as caught:
        parse(_file(*rows), TZ)

    assert caught.value.field == "file"
    assert "more than 100 rows" in caught.value.message
    with pytest.raises(Invalid, match="larger than 5 MB"):
        parse("x" * (5 * 1024 * 1024 + 1), TZ)


def test_ten_thousand_rows_are_read():
    rows = [f"T{i},03/15/2025 14:10,3W-1,1,A,,Removal,1,,,,,,,,," for i in range(10_000)]

    found, errors = parse(_file(*rows), TZ)

    assert len(found) == 10_000
    assert errors == []


def test_a_huge_field_is_a_row_error_not_a_crash():
    huge = "N" * 200_000  # past the csv module's own field limit
    found, errors = parse(
        _file(
            f"T,03/15/2025 14:10,3W-1,1,A,,Removal,1,,,,,,,,,{huge}",
            "U,03/15/2025 14:10,3W-1,1,A,,Removal,1,,,,,,,,,",
        ),
        TZ,
    )

    assert [t.external_id for t in found] == ["U"]
    assert errors[0].row == 2


def test_a_file_of_nothing_but_bad_rows_stops_early():
    rows = ["garbage,,,,,,,," for _ in range(1000)]

    with pytest.raises(Invalid, match="More than 500 rows are wrong"):
        parse(_file(*rows), TZ)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=3000))
def test_random_text_never_raises_anything_but_the_documented_errors(text):
    try:
        _found, errors = parse(HEADER + "\n" + text, TZ)
    except Invalid as exc:
        assert exc.field == "file"
    else:
        assert all(isinstance(e, RowError) for e in errors)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=2000))
def test_random_bytes_as_text_never_crash(data):
    try:
        parse(data.decode("latin-1"), TZ)
    except Invalid as exc:
        assert exc.field == "file"


# --- administrations ------------------------------------------------------------------------


def test_it_reads_an_administrations_file_and_names_bad_rows():
    text = (
        "Administration ID,Given At,NDC,Quantity,Nurse ID,MRN\n"
        "ADM-1,03/15/2025 14:30,0002-3227-30,1,NURSE1,MRN100\n"
        "ADM-2,03/15/2025 14:30,,1,NURSE1,MRN100\n"
        "ADM-3,03/15/2025 14:30,0002-3227-30,0,NURSE1,MRN100\n"
    )

    found, errors = parse_administrations(text, TZ)

    assert [(a.external_id, a.ndc11, a.quantity, a.nurse) for a in found] == [
        ("ADM-1", "00002322730", Decimal("1"), "NURSE1")
    ]
    assert found[0].given_at == dt.datetime(2025, 3, 15, 18, 30, tzinfo=dt.UTC)
    assert [(e.row, e.column) for e in errors] == [(3, "NDC"), (4, "Quantity")]


def test_an_administrations_file_needs_its_columns():
    with pytest.raises(Invalid, match="no Nurse ID column"):
        parse_administrations("Administration ID,Given At,NDC,Quantity\n", TZ)
