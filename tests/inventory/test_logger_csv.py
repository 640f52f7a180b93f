"""The data logger CSV reader (pure, no database): the header found after a preamble, the
time formats, °F to °C, min/max columns, errors naming row and column, and — whatever the
input — no exception but its own."""

from __future__ import annotations

import contextlib
import datetime as dt
import zoneinfo
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rxdesk.inventory.logger_csv import (
    LoggerCsvError,
    LoggerRow,
    fahrenheit_to_celsius,
    parse_logger_csv,
)

CHICAGO = zoneinfo.ZoneInfo("America/Chicago")


def utc(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=dt.UTC)


def parse(text: str, unit: str | None = None):
    return parse_logger_csv(text, tz=CHICAGO, unit=unit)


def error_of(text: str, unit: str | None = None) -> LoggerCsvError:
    with pytest.raises(LoggerCsvError) as caught:
        parse(text, unit)
    return caught.value


def test_it_reads_iso_times_in_celsius():
    export = parse("Timestamp,Temperature (°C)\n2024-05-01T08:00:00,4.0\n2024-05-01 08:30,4.55\n")
    assert export.unit == "C"
    assert export.header_row == 1
    assert export.columns == {"timestamp": "Timestamp", "current": "Temperature (°C)"}
    assert export.rows == [
        LoggerRow(2, utc(2024, 5, 1, 13, 0), Decimal("4.0"), Decimal("4.0"), Decimal("4.0")),
        LoggerRow(3, utc(2024, 5, 1, 13, 30), Decimal("4.6"), Decimal("4.6"), Decimal("4.6")),
    ]


def test_it_skips_a_preamble_and_converts_fahrenheit_with_us_dates():
    text = (
        "Device: LogTag TRIX-8\n"
        "Serial,A1234567\n"
        "\n"
        "Date/Time,Temp (°F),Humidity (%RH)\n"
        "05/01/2024 08:00,40.0,51\n"
        "05/01/2024 8:30:15 PM,46,50\n"
    )
    export = parse(text)
    assert export.unit == "F"
    assert export.header_row == 4
    assert [(r.row, r.recorded_at, r.current_c) for r in export.rows] == [
        (5, utc(2024, 5, 1, 13, 0), Decimal("4.4")),
        (6, utc(2024, 5, 2, 1, 30, 15), Decimal("7.8")),
    ]


@pytest.mark.parametrize(
    ("fahrenheit", "celsius"),
    [
        ("32", "0.0"),
        ("35.6", "2.0"),
        ("46.4", "8.0"),
        ("5", "-15.0"),
        ("-58", "-50.0"),
        ("41.05", "5.0"),
    ],
)
def test_it_converts_fahrenheit_with_decimal_rounding(fahrenheit, celsius):
    assert fahrenheit_to_celsius(Decimal(fahrenheit)) == Decimal(celsius)


def test_it_reads_separate_date_and_time_columns_and_min_max_with_semicolons():
    text = "Date;Time;Min (°C);Max (°C)\n2024-05-01;08:00;3,5;7,9\n"
    export = parse(text)
    assert export.columns == {
        "date": "Date",
        "time": "Time",
        "minimum": "Min (°C)",
        "maximum": "Max (°C)",
    }
    assert export.rows == [
        LoggerRow(2, utc(2024, 5, 1, 13, 0), None, Decimal("3.5"), Decimal("7.9"))
    ]


def test_it_keeps_the_row_min_max_around_the_temperature():
    text = "Timestamp,Temp,Min,Max\n2024-05-01T08:00,4.1,3.0,6.2\n2024-05-01T09:00,4.4,,\n"
    rows = parse(text, unit="C").rows
    assert [(r.current_c, r.minimum_c, r.maximum_c) for r in rows] == [
        (Decimal("4.1"), Decimal("3.0"), Decimal("6.2")),
        (Decimal("4.4"), Decimal("4.4"), Decimal("4.4")),
    ]


def test_it_honours_an_offset_and_a_utc_header():
    with_offset = parse("Timestamp,Temp C\n2024-05-01T08:00:00-04:00,4\n")
    assert with_offset.rows[0].recorded_at == utc(2024, 5, 1, 12, 0)
    in_utc = parse("Time (UTC),Date,Temp C\n08:00,2024-05-01,4\n")
    assert in_utc.rows[0].recorded_at == utc(2024, 5, 1, 8, 0)


def test_it_tells_the_repeated_autumn_hour_apart():
    # 11/03/2024: Chicago goes from CDT (UTC-5) back to CST (UTC-6) at 02:00.
    text = "Date/Time,Temp (°C)\n11/03/2024 01:30,4.0\n11/03/2024 01:30,4.2\n"
    assert [r.recorded_at for r in parse(text).rows] == [
        utc(2024, 11, 3, 6, 30),
        utc(2024, 11, 3, 7, 30),
    ]


def test_a_given_unit_is_used_when_the_header_says_none():
    assert parse("Timestamp,Temperature\n2024-05-01T08:00,39.2\n", unit="F").rows[0].current_c == (
        Decimal("4.0")
    )


@pytest.mark.parametrize(
    ("text", "unit", "message", "row", "column", "field"),
    [
        ("", None, "The file is empty.", None, None, "csv_text"),
        (
            "a,b\n1,2\n",
            None,
            "No header row was found in the first 30 lines",
            None,
            None,
            "csv_text",
        ),
        (
            "Timestamp,Temperature\n2024-05-01T08:00,4\n",
            None,
            "The header does not say whether the temperatures are °C or °F",
            None,
            None,
            "unit",
        ),
        (
            "Timestamp,Temp (°F)\n2024-05-01T08:00,40\n",
            "C",
            "The file's header says °F, but °C was chosen.",
            None,
            None,
            "unit",
        ),
        (
            "Timestamp,Temp (°C)\n2024-05-01T08:00,4\n2024-05-01T08:30,abc\n",
            None,
            "Row 3, column 'Temp (°C)': 'abc' is not a temperature.",
            3,
            "Temp (°C)",
            "csv_text",
        ),
        (
            "Timestamp,Temp (°C)\n2024-13-01T08:00,4\n",
            None,
            "Row 2, column 'Timestamp': '2024-13-01T08:00' is not a date and time",
            2,
            "Timestamp",
            "csv_text",
        ),
        (
            "Timestamp,Temp (°C)\n2024-05-01T08:00,75\n",
            None,
            "Row 2, column 'Temp (°C)': 75 is outside what a storage unit can read",
            2,
            "Temp (°C)",
            "csv_text",
        ),
        (
            "Timestamp,Temp (°C)\n2024-05-01T08:00,4\n2024-05-01T08:00,5\n",
            None,
            "Row 3, column 'Timestamp': This time is already on row 2.",
            3,
            "Timestamp",
            "csv_text",
        ),
        (
            "Timestamp,Temp,Min,Max\n2024-05-01T08:00,4,5,9\n",
            "C",
            "Row 2, column 'Temp': The temperature (4.0 °C) is outside the row's minimum",
            2,
            "Temp",
            "csv_text",
        ),
        (
            "Timestamp,Min (°C),Max (°C)\n2024-05-01T08:00,9,5\n",
            None,
            "Row 2, column 'Min (°C)': The minimum (9.0 °C) is above the maximum (5.0 °C).",
            2,
            "Min (°C)",
            "csv_text",
        ),
        (
            "Timestamp,Temp (°C)\n2024-05-01T08:00\n",
            None,
            "Row 2, column 'Temp (°C)': This row has no value here.",
            2,
            "Temp (°C)",
            "csv_text",
        ),
        (
            "Timestamp,Temp (°F)\n2024-05-01T08:00,4 °C\n",
            None,
            "Row 2, column 'Temp (°F)': '4 °C' is in °C, but the file's temperatures are in °F.",
            2,
            "Temp (°F)",
            "csv_text",
        ),
        (
            "Timestamp,Temp (°C)\n",
            None,
            "Row 1: The file has a header but no readings.",
            1,
            None,
            "csv_text",
        ),
        ("Timestamp,Temp\n2024-05-01T08:00,4\n", "K", "Choose °C or °F.", None, None, "unit"),
    ],
)
def test_it_names_the_row_and_column_of_a_problem(text, unit, message, row, column, field):
    error = error_of(text, unit)
    assert error.message.startswith(message)
    assert (error.row, error.column, error.field) == (row, column, field)


def test_it_refuses_an_implausible_year():
    error = error_of("Timestamp,Temp (°C)\n1970-01-01T00:00,4\n")
    assert error.message == (
        "Row 2, column 'Timestamp': The year 1970 is not plausible for a temperature reading."
    )


CELL = st.one_of(
    st.text(max_size=12),
    st.sampled_from(["4.0", "-20", "40.1 °F", "2024-05-01T08:00", "05/01/2024 08:00 PM", ""]),
)
ROW = st.lists(CELL, min_size=0, max_size=5).map(",".join)
HEADERS = st.sampled_from(
    ["Timestamp,Temp (°C)", "Date/Time,Temp (°F),Min,Max", "Date;Time;Min (°C);Max (°C)", ""]
)


@settings(max_examples=300, deadline=None)
@given(header=HEADERS, rows=st.lists(ROW, max_size=6), unit=st.sampled_from([None, "C", "F", "x"]))
def test_it_raises_nothing_but_its_own_error_on_csv_like_input(header, rows, unit):
    text = "\n".join([header, *rows])
    try:
        export = parse(text, unit)
    except LoggerCsvError as exc:
        assert exc.message
    else:
        assert export.rows
        for row in export.rows:
            assert row.minimum_c <= row.maximum_c
            assert row.recorded_at.tzinfo is not None


@settings(max_examples=300, deadline=None)
@given(text=st.text(max_size=300), unit=st.one_of(st.none(), st.text(max_size=3)))
def test_it_raises_nothing_but_its_own_error_on_any_text(text, unit):
    with contextlib.suppress(LoggerCsvError):
        parse(text, unit)
