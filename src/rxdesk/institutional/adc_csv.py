"""Cabinet transaction files (CSV), as Pyxis and Omnicell report exports are saved, read
into :class:`~rxdesk.institutional.adc_feed.Transaction` rows; and the eMAR's
administrations file. Pure: no database.

The transaction file
--------------------
Comma-separated (a tab- or semicolon-separated export is recognised by its header line),
UTF-8 (a byte-order mark is allowed), one header row, then one transaction a row::

    Transaction ID,Date Time,Station,Drawer,Pocket,NDC,Transaction Type,Quantity,
    Counted,Expected,User ID,User Name,Witness,Patient ID,Patient Name,Override,Note

=================  ========  ===============================================================
column             required  aliases (case, spaces and punctuation ignored)
=================  ========  ===============================================================
Transaction ID     yes       TransactionId, Txn ID, TxID, Trans ID, ID
Date Time          yes       DateTime, Transaction Date, TxDateTime, Timestamp, Date/Time
Station            yes       Device, Cabinet, Station Name, Device Name
Drawer             \\*       Drawer ID
Pocket             \\*       Pocket ID, Bin, Cubie, Location
NDC                \\*       Med ID, Item ID, Item, NDC11, Medication ID
Transaction Type   yes       TxType, Type, Activity, Event
Quantity           yes       Qty, Amount
Counted                      End Count, Count, Actual Count
Begin Count                  Beginning Count, Start Count
Expected                     Expected Count, System Count
User ID                      UserId, User, Employee ID
User Name                    UserName, Employee Name
Witness                      Witness ID, WitnessId, Witness User ID
Patient ID                   MRN, PatientId, Medical Record Number
Patient Name                 PatientName, Patient
Override                     Override Flag, Overridden  (Y/N, Yes/No, 1/0)
Note                         Notes, Comment, Reason
=================  ========  ===============================================================

\\* the pocket is named by Drawer and Pocket, or found by its NDC when the station has one
pocket of it: a file needs Drawer and Pocket columns, or an NDC column.

Values:

- Transaction Type: removal (also Remove, Issue, Dispense, Withdraw, WD, RM, CG), return
  (RT, CD, CR, Credit), waste (WS, WST), restock (Refill, Load, RS, RF), count (Inventory,
  Cycle Count, CT, INV), unload (UL, UNL).
- Date Time: ``YYYY-MM-DD HH:MM[:SS]`` (ISO 8601, an offset allowed), ``MM/DD/YYYY
  HH:MM[:SS]`` (optionally AM/PM) or ``YYYYMMDDHHMM[SS]``; without an offset it is the
  pharmacy's local time.
- Quantity: more than zero, at most three decimal places; for a count, the count (zero
  allowed).
- Counted: the user's count of the pocket after the access (a blind count). Begin Count is
  the count before it: when Counted is empty, the count after is worked out from it (minus
  what a removal, waste or unload took, plus what a return or restock put in).
- NDC: 11 digits, 5-4-2, or the 10-digit NDC with its hyphens; 10 bare digits are read
  all three ways and the pocket's package must be one of them.
- Text values must not begin with ``=``, ``+``, ``@`` or ``-`` (a spreadsheet formula) nor
  hold control characters; ids longer than their column are refused (Transaction ID 40,
  Station 30, Drawer and Pocket 10, User ID and Witness 80, Patient ID 40 characters).

A bad row is reported by its row number (the header is row 1) and column and the other
rows are read; a file that cannot be read at all (not text, no header, a required column
missing, more than 5 MB or 50,000 rows) is an ``Invalid`` naming ``file``.

The administrations file
------------------------
The eMAR's export of doses given, one a row::

    Administration ID,Given At,NDC,Quantity,Nurse ID,MRN

Aliases: Administration ID — Admin ID, Event ID, ID; Given At — Administered At, Date Time,
Admin Time, Given; Quantity — Qty, Dose Qty; Nurse ID — User ID, UserId, Nurse;
MRN — Patient ID. The nurse's id is the one the cabinet knows (what the comparison of
removals with administrations matches on)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, TypeVar

from rxdesk.core.errors import Invalid
from rxdesk.institutional.adc_feed import (
    COUNT,
    EVENTS,
    REMOVAL,
    RESTOCK,
    RETURN,
    UNLOAD,
    WASTE,
    Administered,
    Transaction,
    ValueProblem,
    decimal_of,
    flag_of,
    in_range,
    local,
    ndc_of,
    text_of,
)

MAX_BYTES = 5 * 1024 * 1024
MAX_ROWS = 50_000
MAX_CELL = 1000  # characters; the longest real value is a 300-character note
MAX_ERRORS = 500  # past this the file is not worth reading on: fix it first

T = TypeVar("T")


@dataclass(frozen=True)
class RowError:
    """A row that was not read: the file's row number (header = 1), the column as named in
    the file's header ("" for the whole row) and why."""

    row: int
    column: str
    message: str


def _key(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.casefold())


def _aliases(table: dict[str, tuple[str, ...]]) -> dict[str, str]:
    return {_key(alias): field for field, names in table.items() for alias in names}


TRANSACTION_COLUMNS: dict[str, tuple[str, ...]] = {
    "external_id": ("Transaction ID", "TransactionId", "Txn ID", "TxID", "Trans ID", "ID"),
    "occurred_at": (
        "Date Time",
        "DateTime",
        "Transaction Date",
        "TxDateTime",
        "Timestamp",
        "Date/Time",
    ),
    "station": ("Station", "Device", "Cabinet", "Station Name", "Device Name"),
    "drawer": ("Drawer", "Drawer ID"),
    "pocket": ("Pocket", "Pocket ID", "Bin", "Cubie", "Location"),
    "ndc": ("NDC", "Med ID", "Item ID", "Item", "NDC11", "Medication ID"),
    "event": ("Transaction Type", "TxType", "Type", "Activity", "Event"),
    "quantity": ("Quantity", "Qty", "Amount"),
    "counted": ("Counted", "End Count", "Count", "Actual Count"),
    "begin": ("Begin Count", "Beginning Count", "Start Count"),
    "expected": ("Expected", "Expected Count", "System Count"),
    "cabinet_user": ("User ID", "UserId", "User", "Employee ID"),
    "user_name": ("User Name", "UserName", "Employee Name"),
    "witness": ("Witness", "Witness ID", "WitnessId", "Witness User ID"),
    "patient_ref": ("Patient ID", "MRN", "PatientId", "Medical Record Number"),
    "patient_name": ("Patient Name", "PatientName", "Patient"),
    "override": ("Override", "Override Flag", "Overridden"),
    "note": ("Note", "Notes", "Comment", "Reason"),
}
TRANSACTION_REQUIRED = ("external_id", "occurred_at", "station", "event", "quantity")

ADMINISTRATION_COLUMNS: dict[str, tuple[str, ...]] = {
    "external_id": ("Administration ID", "Admin ID", "Event ID", "ID"),
    "given_at": ("Given At", "Administered At", "Date Time", "Admin Time", "Given"),
    "ndc": ("NDC", "NDC11"),
    "quantity": ("Quantity", "Qty", "Dose Qty"),
    "nurse": ("Nurse ID", "User ID", "UserId", "Nurse"),
    "patient_ref": ("MRN", "Patient ID"),
}
ADMINISTRATION_REQUIRED = ("external_id", "given_at", "ndc", "quantity", "nurse")

EVENT_WORDS: dict[str, str] = {
    **dict.fromkeys(
        ("removal", "remove", "issue", "dispense", "withdraw", "withdrawal", "wd", "rm", "cg"),
        REMOVAL,
    ),
    **dict.fromkeys(("return", "rt", "cd", "cr", "credit"), RETURN),
    **dict.fromkeys(("waste", "ws", "wst", "wasted"), WASTE),
    **dict.fromkeys(("restock", "refill", "load", "rs", "rf"), RESTOCK),
    **dict.fromkeys(("count", "inventory", "cyclecount", "ct", "inv"), COUNT),
    **dict.fromkeys(("unload", "ul", "unl"), UNLOAD),
}
assert set(EVENT_WORDS.values()) == set(EVENTS)

_FORMATS = (
    "%m/%d/%Y %H:%M:%S",
    "%m/%d/%Y %H:%M",
    "%m/%d/%Y %I:%M:%S %p",
    "%m/%d/%Y %I:%M %p",
    "%Y%m%d%H%M%S",
    "%Y%m%d%H%M",
)


def moment_of(value: str, tz: dt.tzinfo) -> dt.datetime:
    """A transaction's date and time, in UTC."""
    value = (value or "").strip()
    if not value:
        raise ValueProblem("is empty")
    if len(value) > 40:
        raise ValueProblem("is not a date and time")
    if re.match(r"^[0-9]{4}-", value):
        try:
            moment = dt.datetime.fromisoformat(value)
        except ValueError:
            raise ValueProblem(f"{value!r} is not a date and time") from None
        if len(value) <= 10:
            raise ValueProblem(f"{value!r} has no time of day")
        return in_range(moment) if moment.tzinfo else local(moment, tz)
    for fmt in _FORMATS:
        try:
            naive = dt.datetime.strptime(value, fmt)
        except ValueError:
            continue
        return local(naive, tz)
    raise ValueProblem(f"{value!r} is not a date and time (MM/DD/YYYY HH:MM or YYYY-MM-DD HH:MM)")


# --- Reading the file ----------------------------------------------------------------------


@dataclass
class _Sheet:
    header: list[str]
    columns: dict[str, int]  # field -> index
    rows: Iterator[tuple[int, list[str] | RowError]]


def _text_checked(text: str) -> str:
    if len(text.encode("utf-8", errors="surrogatepass")) > MAX_BYTES:
        raise Invalid("The file is larger than 5 MB: export a shorter period.", field="file")
    if "\x00" in text:
        raise Invalid("This is not a text (CSV) file: it holds binary data.", field="file")
    return text.removeprefix("\ufeff")


def _delimiter(first_line: str) -> str:
    if "," in first_line:
        return ","
    if "\t" in first_line:
        return "\t"
    if ";" in first_line:
        return ";"
    return ","


def _open(
    text: str, table: dict[str, tuple[str, ...]], required: tuple[str, ...], what: str
) -> _Sheet:
    text = _text_checked(text)
    first_line = text.split("\n", 1)[0][:5000]
    reader = csv.reader(io.StringIO(text), delimiter=_delimiter(first_line), strict=False)
    try:
        header = next(reader)
    except StopIteration:
        raise Invalid(f"The file is empty: it needs a header row ({what}).", field="file") from None
    except csv.Error as exc:
        raise Invalid(f"The header row cannot be read: {exc}.", field="file") from None
    header = [h.strip().removeprefix("\ufeff")[:100] for h in header]
    aliases = _aliases(table)
    columns: dict[str, int] = {}
    for index, name in enumerate(header):
        field = aliases.get(_key(name))
        if field is not None and field not in columns:
            columns[field] = index
    missing = [table[f][0] for f in required if f not in columns]
    if missing:
        raise Invalid(
            f"The header row has no {', '.join(missing)} column"
            f"{'s' if len(missing) > 1 else ''} (expected: {what}).",
            field="file",
        )

    def rows() -> Iterator[tuple[int, list[str] | RowError]]:
        line = 1
        while True:
            line += 1
            try:
                cells = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                yield line, RowError(line, "", f"The row cannot be read: {exc}.")
                continue
            if line - 1 > MAX_ROWS:
                raise Invalid(f"The file has more than {MAX_ROWS:,} rows: split it.", field="file")
            if not any(c.strip() for c in cells):
                continue
            yield line, cells

    return _Sheet(header, columns, rows())


def _cell(sheet: _Sheet, cells: list[str], field: str) -> str:
    index = sheet.columns.get(field)
    if index is None or index >= len(cells):
        return ""
    return cells[index]


class _Row:
    """One row's cells and the problems found reading them."""

    def __init__(self, sheet: _Sheet, line: int, cells: list[str]) -> None:
        self.sheet = sheet
        self.line = line
        self.cells = cells
        self.problems: list[RowError] = []

    def get(self, field: str, read: Callable[[str], Any]) -> Any:
        raw = _cell(self.sheet, self.cells, field)
        if len(raw) > MAX_CELL:
            self.problems.append(RowError(self.line, _column(self.sheet, field), "is far too long"))
            return None
        try:
            return read(raw)
        except ValueProblem as exc:
            self.problems.append(RowError(self.line, _column(self.sheet, field), str(exc)))
            return None


Getter = Callable[[str, Callable[[str], Any]], Any]


def _read_all(
    sheet: _Sheet, build: Callable[[int, Getter], T | None]
) -> tuple[list[T], list[RowError]]:
    out: list[T] = []
    errors: list[RowError] = []
    for line, cells in sheet.rows:
        if isinstance(cells, RowError):
            errors.append(cells)
        else:
            row = _Row(sheet, line, cells)
            item = build(line, row.get)
            if row.problems:
                errors.extend(row.problems)
            elif item is not None:
                out.append(item)
        if len(errors) >= MAX_ERRORS:
            raise Invalid(
                f"More than {MAX_ERRORS} rows are wrong (the first: row {errors[0].row}, "
                f"{errors[0].column or 'the row'}: {errors[0].message}). Is this the right "
                "file?",
                field="file",
            )
    return out, errors


def _column(sheet: _Sheet, field: str) -> str:
    index = sheet.columns.get(field)
    return sheet.header[index] if index is not None else field


def _event(value: str) -> str:
    word = _key(value)
    if not word:
        raise ValueProblem("is empty")
    found = EVENT_WORDS.get(word)
    if found is None:
        raise ValueProblem(
            f"{value[:30]!r} is not a transaction type (removal, return, waste, restock, "
            "count or unload)"
        )
    return found


def _optional_count(value: str) -> Decimal | None:
    return decimal_of(value, zero=True) if value.strip() else None


def parse(text: str, tz: dt.tzinfo) -> tuple[list[Transaction], list[RowError]]:
    """The transactions of a cabinet transaction file and the rows refused (see the module
    documentation for the format). Raises ``Invalid(field="file")`` only for a file that
    cannot be read at all."""
    sheet = _open(
        text,
        TRANSACTION_COLUMNS,
        TRANSACTION_REQUIRED,
        "Transaction ID, Date Time, Station, Drawer, Pocket, NDC, Transaction Type, Quantity",
    )
    if "ndc" not in sheet.columns and not {"drawer", "pocket"} <= set(sheet.columns):
        raise Invalid(
            "The header row needs Drawer and Pocket columns, or an NDC column, to say which "
            "pocket each row is.",
            field="file",
        )

    def build(line: int, get: Getter) -> Transaction | None:
        event = get("event", _event)
        count_event = event == COUNT
        quantity = get("quantity", lambda v: decimal_of(v, zero=count_event))
        ndc11, candidates = get("ndc", ndc_of) or ("", ())
        drawer = get("drawer", lambda v: text_of(v, "drawer"))
        pocket = get("pocket", lambda v: text_of(v, "pocket"))
        counted = get("counted", _optional_count)
        begin = get("begin", _optional_count)
        values = {
            "external_id": get("external_id", lambda v: text_of(v, "external_id", required=True)),
            "occurred_at": get("occurred_at", lambda v: moment_of(v, tz)),
            "station": get("station", lambda v: text_of(v, "station", required=True)),
            "expected": get("expected", _optional_count),
            "cabinet_user": get("cabinet_user", lambda v: text_of(v, "cabinet_user")),
            "user_name": get("user_name", lambda v: text_of(v, "user_name")),
            "witness": get("witness", lambda v: text_of(v, "witness")),
            "patient_ref": get("patient_ref", lambda v: text_of(v, "patient_ref")),
            "patient_name": get("patient_name", lambda v: text_of(v, "patient_name")),
            "override": get("override", flag_of),
            "note": get("note", lambda v: text_of(v, "note")),
        }
        if any(v is None for k, v in values.items() if k != "expected") or None in (
            event,
            quantity,
            drawer,
            pocket,
        ):
            return None  # the problems are listed
        if not ndc11 and not candidates and not (drawer and pocket):
            where = "NDC" if "ndc" in sheet.columns else "Drawer"
            raise_row = RowError(
                line, _column(sheet, where), "say the Drawer and Pocket or the NDC"
            )
            _extra.append(raise_row)
            return None
        if counted is None and begin is not None and event != COUNT:
            taken = event in {REMOVAL, WASTE, UNLOAD}
            counted = begin - quantity if taken else begin + quantity
            if counted < 0:
                _extra.append(
                    RowError(
                        line,
                        _column(sheet, "begin"),
                        f"the begin count {begin:f} is less than the {quantity:f} taken",
                    )
                )
                return None
        return Transaction(
            row=line,
            ndc11=ndc11,
            ndc_candidates=candidates,
            drawer=drawer,
            pocket=pocket,
            event=event,
            quantity=quantity,
            counted=counted if event != COUNT else None,
            **values,
        )

    _extra: list[RowError] = []
    found, errors = _read_all(sheet, build)
    return found, sorted([*errors, *_extra], key=lambda e: e.row)


def parse_administrations(text: str, tz: dt.tzinfo) -> tuple[list[Administered], list[RowError]]:
    """The doses of an eMAR administrations file and the rows refused."""
    sheet = _open(
        text,
        ADMINISTRATION_COLUMNS,
        ADMINISTRATION_REQUIRED,
        "Administration ID, Given At, NDC, Quantity, Nurse ID, MRN",
    )

    def build(line: int, get: Getter) -> Administered | None:
        ndc = get("ndc", ndc_of)
        values = {
            "external_id": get("external_id", lambda v: text_of(v, "external_id", required=True)),
            "given_at": get("given_at", lambda v: moment_of(v, tz)),
            "quantity": get("quantity", decimal_of),
            "nurse": get("nurse", lambda v: text_of(v, "cabinet_user", required=True)),
            "patient_ref": get("patient_ref", lambda v: text_of(v, "patient_ref")),
        }
        if ndc is None or any(v is None for v in values.values()):
            return None
        if ndc == ("", ()):
            _extra.append(RowError(line, _column(sheet, "ndc"), "is empty"))
            return None
        return Administered(row=line, ndc11=ndc[0], ndc_candidates=ndc[1], **values)

    _extra: list[RowError] = []
    found, errors = _read_all(sheet, build)
    return found, sorted([*errors, *_extra], key=lambda e: e.row)
