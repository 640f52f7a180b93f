"""Read the CSV export of a refrigerator's or freezer's digital data logger (no Django).

Loggers from different makers export differently, so the reader looks for what they share:

* some lines of preamble (device, serial number, calibration…), then a **header row** with
  a time column and a temperature column (or minimum and maximum columns);
* the time as one column (``Date/Time``, ``Timestamp``…) or as ``Date`` and ``Time``
  columns, written in ISO 8601 (``2024-05-01T08:00:00``, with or without an offset) or as
  ``MM/DD/YYYY HH:MM[:SS]`` with an optional AM/PM. A time without an offset is the
  pharmacy's local time (or UTC when the header says so, e.g. ``Time (UTC)``);
* °C or °F, named in the header (``Temp (°F)``, ``Celsius``…) or given by the caller;
  °F is converted to °C with ``Decimal`` and rounded to 0.1 °C, the resolution of the
  temperature log;
* comma, semicolon or tab separated.

A bad row is an error naming its line and column, and then nothing is imported: a log with
a hole the pharmacist does not know about is worse than a file sent back. Every problem is
a :class:`LoggerCsvError`; the parser raises nothing else (a property test holds it to that).
"""

from __future__ import annotations

import csv
import datetime as dt
import re
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

# What a pharmacy unit can plausibly read (an ultra-cold freezer reaches −90 °C; +60 °C is
# already a broken unit in a heat wave). Anything beyond is a typing or export error.
PLAUSIBLE_MIN_C = Decimal("-100")
PLAUSIBLE_MAX_C = Decimal("60")
TENTH = Decimal("0.1")

MAX_CHARS = 2_000_000  # a year of 15-minute readings is about 35,000 lines of ~40 characters
MAX_ROWS = 50_000
HEADER_SEARCH_LINES = 30
FIRST_YEAR, LAST_YEAR = 2000, 2099

UNITS = ("C", "F")


class LoggerCsvError(Exception):
    """A problem with the file: which line (1-based, as a spreadsheet numbers it), which
    column (its header name), and what is wrong."""

    def __init__(
        self,
        message: str,
        *,
        row: int | None = None,
        column: str | None = None,
        field: str = "csv_text",
    ) -> None:
        where = []
        if row is not None:
            where.append(f"Row {row}")
        if column:
            where.append(f"column '{column}'")
        text = f"{', '.join(where)}: {message}" if where else message
        super().__init__(text)
        self.message = text
        self.row = row
        self.column = column
        self.field = field


@dataclass(frozen=True)
class LoggerRow:
    """One reading of the file, in °C. ``minimum_c``/``maximum_c`` are the row's own
    minimum and maximum columns, or its temperature when the file has none."""

    row: int
    recorded_at: dt.datetime  # in UTC (a repeated autumn hour compares safely)
    current_c: Decimal | None
    minimum_c: Decimal
    maximum_c: Decimal


@dataclass(frozen=True)
class LoggerExport:
    unit: str  # the unit the file was written in: "C" or "F"
    header_row: int
    columns: dict[str, str]  # role (timestamp, date, time, current, minimum, maximum) -> header
    rows: list[LoggerRow] = field(default_factory=list)


def fahrenheit_to_celsius(value: Decimal) -> Decimal:
    """°F to °C, rounded half-up to 0.1 °C (40 °F → 4.4 °C, 46 °F → 7.8 °C)."""
    return ((value - 32) * 5 / 9).quantize(TENTH, rounding=ROUND_HALF_UP)


# --- Header ----------------------------------------------------------------------------------

_F_MARK = re.compile(r"°\s*f\b|℉|\(f\)|\[f\]|\bdeg\s*f\b|fahrenheit|\bf\)|\bf$")
_C_MARK = re.compile(r"°\s*c\b|℃|\(c\)|\[c\]|\bdeg\s*c\b|celsius|centigrade|\bc\)|\bc$")
_NOT_TEMPERATURE = re.compile(r"dew|humid|%\s*rh|\brh\b|battery|voltage|pressure|alarm")
_MIN = re.compile(r"\bmin(imum)?\b|\blow(est)?\b")
_MAX = re.compile(r"\bmax(imum)?\b|\bhigh(est)?\b")
_TEMPERATURE = re.compile(r"temp|\bcurrent\b|\bvalue\b|celsius|fahrenheit|°|℃|℉")


def _norm(name: str) -> str:
    return " ".join(name.replace("\ufeff", "").strip().strip('"').lower().split())


def _unit_of(name: str) -> str | None:
    n = _norm(name)
    if _F_MARK.search(n):
        return "F"
    if _C_MARK.search(n):
        return "C"
    return None


def _roles(header: list[str]) -> dict[str, int]:
    """Which column plays which part, by its name; the first match wins."""
    roles: dict[str, int] = {}
    for index, raw in enumerate(header):
        n = _norm(raw)
        if not n:
            continue
        has_date = "date" in n
        has_time = bool(re.search(r"\btime\b", n)) or n.startswith("time")
        if n.startswith(("timestamp", "time stamp", "recorded at", "recorded_at")) or (
            has_date and has_time
        ):
            roles.setdefault("timestamp", index)
        elif has_date:
            roles.setdefault("date", index)
        elif has_time:
            roles.setdefault("time", index)
        elif _NOT_TEMPERATURE.search(n):
            continue
        elif _MIN.search(n):
            roles.setdefault("minimum", index)
        elif _MAX.search(n):
            roles.setdefault("maximum", index)
        elif (_TEMPERATURE.search(n) or _unit_of(raw) is not None) and _better_probe(
            header, roles.get("current"), n
        ):
            roles["current"] = index
    return roles


def _better_probe(header: list[str], chosen: int | None, name: str) -> bool:
    """Several temperature columns (a second probe): the first one that says "temp" wins."""
    if chosen is None:
        return True
    return "temp" in name and "temp" not in _norm(header[chosen])


def _is_header(roles: dict[str, int]) -> bool:
    has_time = "timestamp" in roles or ("date" in roles and "time" in roles)
    has_temperature = "current" in roles or ("minimum" in roles and "maximum" in roles)
    return has_time and has_temperature


def _delimiter(lines: list[str]) -> str:
    """The separator that splits the most of the first lines into the same number of cells."""
    best, best_score = ",", -1
    for candidate in (",", ";", "\t"):
        score = sum(line.count(candidate) for line in lines[:HEADER_SEARCH_LINES])
        if score > best_score:
            best, best_score = candidate, score
    return best


# --- Cells -----------------------------------------------------------------------------------

_NUMBER = re.compile(
    r"^(?P<sign>[+\-−]?)\s*(?P<int>\d{1,4})(?:[.,](?P<frac>\d{1,4}))?\s*"
    r"(?P<unit>°\s*[CcFf]|℃|℉|[CcFf])?$"
)
_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")
_US = re.compile(
    r"^(?P<m>\d{1,2})/(?P<d>\d{1,2})/(?P<y>\d{4})[ T,]+(?P<H>\d{1,2}):(?P<M>\d{2})"
    r"(?::(?P<S>\d{2})(?:\.\d{1,6})?)?\s*(?P<ampm>[AaPp]\.?[Mm]\.?)?$"
)


def _temperature(text: str, *, unit: str, row: int, column: str) -> Decimal | None:
    cleaned = text.strip().strip('"').strip()
    if not cleaned:
        return None
    match = _NUMBER.match(cleaned)
    if match is None:
        raise LoggerCsvError(f"'{cleaned[:20]}' is not a temperature.", row=row, column=column)
    mark = match.group("unit")
    if mark:
        said = "F" if mark[-1] in "Ff℉" else "C"
        if said != unit:
            raise LoggerCsvError(
                f"'{cleaned}' is in °{said}, but the file's temperatures are in °{unit}.",
                row=row,
                column=column,
            )
    sign = "-" if match.group("sign") in {"-", "−"} else ""
    digits = match.group("int") + ("." + match.group("frac") if match.group("frac") else "")
    value = Decimal(sign + digits)
    celsius = (
        fahrenheit_to_celsius(value)
        if unit == "F"
        else value.quantize(TENTH, rounding=ROUND_HALF_UP)
    )
    if not PLAUSIBLE_MIN_C <= celsius <= PLAUSIBLE_MAX_C:
        raise LoggerCsvError(
            f"{cleaned} is outside what a storage unit can read "
            f"({PLAUSIBLE_MIN_C} to +{PLAUSIBLE_MAX_C} °C).",
            row=row,
            column=column,
        )
    return celsius


def _timestamp(text: str, *, row: int, column: str) -> dt.datetime:
    cleaned = " ".join(text.strip().strip('"').split())
    value: dt.datetime | None = None
    try:
        if _ISO.match(cleaned):
            value = dt.datetime.fromisoformat(cleaned)
        else:
            match = _US.match(cleaned)
            if match is not None:
                hour = int(match.group("H"))
                ampm = (match.group("ampm") or "").replace(".", "").upper()
                if ampm:
                    if not 1 <= hour <= 12:
                        raise ValueError("hour")
                    hour = hour % 12 + (12 if ampm == "PM" else 0)
                value = dt.datetime(
                    int(match.group("y")),
                    int(match.group("m")),
                    int(match.group("d")),
                    hour,
                    int(match.group("M")),
                    int(match.group("S") or 0),
                )
    except (ValueError, OverflowError):
        value = None
    if value is None:
        raise LoggerCsvError(
            f"'{cleaned[:40]}' is not a date and time (use YYYY-MM-DD HH:MM or MM/DD/YYYY HH:MM).",
            row=row,
            column=column,
        )
    if not FIRST_YEAR <= value.year <= LAST_YEAR:
        raise LoggerCsvError(
            f"The year {value.year} is not plausible for a temperature reading.",
            row=row,
            column=column,
        )
    return value


def _localize(naive: dt.datetime, tz: dt.tzinfo, *, fold: int) -> dt.datetime:
    return naive.replace(tzinfo=tz, fold=fold)


def _ambiguous(naive: dt.datetime, tz: dt.tzinfo) -> bool:
    """The wall-clock time happens twice (the hour repeated when daylight time ends)."""
    first = naive.replace(tzinfo=tz, fold=0).utcoffset()
    second = naive.replace(tzinfo=tz, fold=1).utcoffset()
    return first != second


# --- The file --------------------------------------------------------------------------------


def parse_logger_csv(text: str, *, tz: dt.tzinfo, unit: str | None = None) -> LoggerExport:
    """Read a logger export. ``unit`` ("C" or "F") is needed only when the header does not
    say; when both say, they must agree. Raises :class:`LoggerCsvError` and nothing else."""
    try:
        return _parse(text, tz=tz, unit=unit)
    except LoggerCsvError:
        raise
    except (csv.Error, ValueError, ArithmeticError, OverflowError, IndexError) as exc:
        # Belt and braces: a malformed file is the user's to fix, never a crash.
        raise LoggerCsvError(f"The file could not be read ({exc}).") from None


def _parse(text: str, *, tz: dt.tzinfo, unit: str | None) -> LoggerExport:
    if not isinstance(text, str) or not text.strip():
        raise LoggerCsvError("The file is empty.")
    if len(text) > MAX_CHARS:
        raise LoggerCsvError(
            f"The file is too large (more than {MAX_CHARS:,} characters); export a shorter period."
        )
    wanted = (unit or "").strip().upper().lstrip("°") or None
    if wanted is not None and wanted not in UNITS:
        raise LoggerCsvError("Choose °C or °F.", field="unit")
    text = text.lstrip("\ufeff").replace("\x00", "")
    lines = text.splitlines()
    reader = csv.reader(lines, delimiter=_delimiter(lines))

    header: list[str] | None = None
    roles: dict[str, int] = {}
    header_row = 0
    for cells in reader:
        if reader.line_num > HEADER_SEARCH_LINES:
            break
        found = _roles(cells)
        if _is_header(found):
            header, roles, header_row = cells, found, reader.line_num
            break
    if header is None:
        raise LoggerCsvError(
            f"No header row was found in the first {HEADER_SEARCH_LINES} lines: the file needs "
            "a column for the date and time and one for the temperature (or minimum and maximum)."
        )

    names = {role: header[index].strip() or role for role, index in roles.items()}
    file_unit = _file_unit(header, roles, wanted)
    utc_naive = any(
        "utc" in _norm(header[roles[r]]) or "gmt" in _norm(header[roles[r]])
        for r in ("timestamp", "time")
        if r in roles
    )
    zone: dt.tzinfo = dt.UTC if utc_naive else tz

    rows: list[LoggerRow] = []
    seen_instants: dict[dt.datetime, int] = {}
    seen_local: dict[dt.datetime, int] = {}
    width = max(roles.values()) + 1
    for cells in reader:
        line = reader.line_num
        if not any(c.strip() for c in cells):
            continue
        if len(rows) >= MAX_ROWS:
            raise LoggerCsvError(
                f"The file has more than {MAX_ROWS:,} readings; export a shorter period.",
                row=line,
            )
        if len(cells) < width:
            missing = min((r for r, i in roles.items() if i >= len(cells)), key=roles.__getitem__)
            raise LoggerCsvError("This row has no value here.", row=line, column=names[missing])

        if "timestamp" in roles:
            when = _timestamp(cells[roles["timestamp"]], row=line, column=names["timestamp"])
        else:
            both = f"{cells[roles['date']].strip()} {cells[roles['time']].strip()}"
            when = _timestamp(both, row=line, column=f"{names['date']}/{names['time']}")
        if when.tzinfo is None:
            fold = 0
            if when in seen_local and _ambiguous(when, zone):
                fold = 1  # the second pass through the repeated hour in the autumn
            seen_local.setdefault(when, line)
            when = _localize(when, zone, fold=fold)
        instant = when.astimezone(dt.UTC)
        if instant in seen_instants:
            raise LoggerCsvError(
                f"This time is already on row {seen_instants[instant]}.",
                row=line,
                column=names.get("timestamp") or names["date"],
            )
        seen_instants[instant] = line

        current = low = high = None
        if "current" in roles:
            current = _temperature(
                cells[roles["current"]], unit=file_unit, row=line, column=names["current"]
            )
        if "minimum" in roles:
            low = _temperature(
                cells[roles["minimum"]], unit=file_unit, row=line, column=names["minimum"]
            )
        if "maximum" in roles:
            high = _temperature(
                cells[roles["maximum"]], unit=file_unit, row=line, column=names["maximum"]
            )
        if current is None and (low is None or high is None):
            column = names.get("current") or names.get("minimum") or names["maximum"]
            raise LoggerCsvError("This row has no temperature.", row=line, column=column)
        low = low if low is not None else current
        high = high if high is not None else current
        assert low is not None and high is not None
        if low > high:
            raise LoggerCsvError(
                f"The minimum ({low} °C) is above the maximum ({high} °C).",
                row=line,
                column=names.get("minimum"),
            )
        if current is not None and not low <= current <= high:
            raise LoggerCsvError(
                f"The temperature ({current} °C) is outside the row's minimum and maximum "
                f"({low} to {high} °C).",
                row=line,
                column=names["current"],
            )
        rows.append(
            LoggerRow(
                row=line, recorded_at=instant, current_c=current, minimum_c=low, maximum_c=high
            )
        )
    if not rows:
        raise LoggerCsvError("The file has a header but no readings.", row=header_row)
    return LoggerExport(unit=file_unit, header_row=header_row, columns=names, rows=rows)


def _file_unit(header: list[str], roles: dict[str, int], wanted: str | None) -> str:
    said = {
        u
        for r in ("current", "minimum", "maximum")
        if r in roles and (u := _unit_of(header[roles[r]])) is not None
    }
    if len(said) > 1:
        raise LoggerCsvError(
            "The header mixes °C and °F columns; export one unit.", row=None, field="csv_text"
        )
    header_unit = next(iter(said), None)
    if header_unit and wanted and header_unit != wanted:
        raise LoggerCsvError(
            f"The file's header says °{header_unit}, but °{wanted} was chosen.", field="unit"
        )
    chosen = header_unit or wanted
    if chosen is None:
        raise LoggerCsvError(
            "The header does not say whether the temperatures are °C or °F: choose one.",
            field="unit",
        )
    return chosen


__all__ = [
    "MAX_CHARS",
    "MAX_ROWS",
    "PLAUSIBLE_MAX_C",
    "PLAUSIBLE_MIN_C",
    "LoggerCsvError",
    "LoggerExport",
    "LoggerRow",
    "fahrenheit_to_celsius",
    "parse_logger_csv",
]
