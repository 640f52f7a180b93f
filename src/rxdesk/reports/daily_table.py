"""A daily report as a plain table, and the pure rules the reports share (no database):
the table itself, its CSV, quantity and money formatting, will-call age buckets and
expiry windows. Tested directly and with hypothesis (tests/reports/test_daily_table.py)."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any


@dataclass
class ReportTable:
    """What every daily report is: a title, columns, rows of text cells, totals (label,
    value) and notes. ``has_phi``: the rows name patients (reading it is a PHI access)."""

    code: str
    title: str
    columns: list[str]
    rows: list[list[str]] = field(default_factory=list)
    totals: list[tuple[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    has_phi: bool = False

    def __post_init__(self) -> None:
        width = len(self.columns)
        for row in self.rows:
            if len(row) != width:
                raise ValueError(f"{self.code}: a row has {len(row)} cells, not {width}")

    def as_data(self) -> dict[str, Any]:
        """The table as JSON-ready data (kept with the report)."""
        return {
            "columns": list(self.columns),
            "rows": [list(r) for r in self.rows],
            "totals": [[label, value] for label, value in self.totals],
            "notes": list(self.notes),
        }

    @classmethod
    def from_data(
        cls, code: str, title: str, data: dict[str, Any], *, has_phi: bool = False
    ) -> ReportTable:
        return cls(
            code=code,
            title=title,
            columns=[str(c) for c in data.get("columns", [])],
            rows=[[str(c) for c in r] for r in data.get("rows", [])],
            totals=[(str(t[0]), str(t[1])) for t in data.get("totals", [])],
            notes=[str(n) for n in data.get("notes", [])],
            has_phi=has_phi,
        )


def table_csv(table: ReportTable) -> str:
    """The table as CSV: a header row, then one row per line (totals and notes stay in the
    PDF and the screen, so a spreadsheet reads the file as one clean table)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(table.columns)
    writer.writerows(table.rows)
    return out.getvalue()


def sha256_of(data: str | bytes) -> str:
    raw = data.encode("utf-8") if isinstance(data, str) else data
    return hashlib.sha256(raw).hexdigest()


def qty(value: Decimal | int | None) -> str:
    """A quantity exactly as counted, without trailing zeros: 30.000 → "30", 2.500 → "2.5",
    -12 → "-12". Never rounds."""
    if value is None:
        return ""
    d = Decimal(value)
    if d == 0:
        return "0"
    if d == d.to_integral_value():
        return str(d.quantize(Decimal(1)))
    text = format(d.normalize(), "f")
    return text


def money(value: Decimal | None) -> str:
    """Dollars to the cent, no symbol (spreadsheet-friendly): 1234.5 → "1234.50"."""
    return f"{Decimal(value or 0).quantize(Decimal('0.01')):f}"


# Will-call age buckets (days since the bag went into will-call), in reading order.
AGE_BUCKETS: tuple[tuple[str, int, int | None], ...] = (
    ("0–3 days", 0, 3),
    ("4–7 days", 4, 7),
    ("8–10 days", 8, 10),
    ("Over 10 days", 11, None),
)


def age_bucket(days: int) -> str:
    """The bucket of a bag ``days`` old (a negative age — ready after the report's day — is
    not possible for a report row and is refused)."""
    if days < 0:
        raise ValueError("age cannot be negative")
    for label, low, high in AGE_BUCKETS:
        if days >= low and (high is None or days <= high):
            return label
    raise AssertionError("unreachable")  # pragma: no cover


# Expiry windows, in reading order; a lot falls in the first that holds it.
EXPIRED = "Expired"
EXPIRY_WINDOWS: tuple[tuple[str, int], ...] = (
    ("Within 30 days", 30),
    ("31–60 days", 60),
    ("61–90 days", 90),
)
EXPIRY_HORIZON = 90


def expiry_window(expiry: dt.date, day: dt.date) -> str | None:
    """Where a lot expiring on ``expiry`` stands on ``day``: "Expired" (the expiry date
    has passed: a lot is good through its expiry date), one of the windows, or None (beyond
    90 days)."""
    left = (expiry - day).days
    if left < 0:
        return EXPIRED
    for label, limit in EXPIRY_WINDOWS:
        if left <= limit:
            return label
    return None


def count_by(labels: Sequence[str], order: Sequence[str]) -> list[tuple[str, int]]:
    """How many of each label, in ``order`` (every label of ``order``, zeros included)."""
    return [(label, sum(1 for x in labels if x == label)) for label in order]
