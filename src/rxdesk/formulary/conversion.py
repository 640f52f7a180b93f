"""Dose conversion of a therapeutic-interchange protocol (no database).

A protocol converts by a table of strengths (``[{"from": "20 mg", "to": "40 mg"}]``) or by
a ratio (to-amount = from-amount × ratio, in the from-strength's unit). The table wins
where it lists the prescription's strength; strengths are compared as amounts in mg
(``rxdesk.catalog.queries.strength_amounts``), so '20 mg/1' matches '20MG'."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

_AMOUNT = re.compile(r"(\d*\.?\d+)\s*([a-zµμ]*)", re.IGNORECASE)


@dataclass(frozen=True)
class Converted:
    """The converted strength in words ('' when the protocol cannot convert it)."""

    from_strength: str
    to_strength: str
    how: str  # "table", "ratio" or ""


def _fmt(value: Decimal) -> str:
    text = format(value.normalize(), "f")
    return text


def table_rows(value: Any) -> list[dict[str, str]]:
    """A conversions table as clean rows; ValueError naming the bad row."""
    if value in (None, ""):
        return []
    if not isinstance(value, Sequence) or isinstance(value, str):
        raise ValueError("Give the conversions as a list of from/to strengths.")
    rows = []
    for n, row in enumerate(value, 1):
        if not isinstance(row, dict):
            raise ValueError(f"Row {n}: give a from strength and a to strength.")
        src, dst = str(row.get("from") or "").strip(), str(row.get("to") or "").strip()
        if not src or not dst or len(src) > 60 or len(dst) > 60:
            raise ValueError(f"Row {n}: give a from strength and a to strength (60 characters).")
        if not _AMOUNT.search(src) or not _AMOUNT.search(dst):
            raise ValueError(f"Row {n}: a strength is a number and a unit, e.g. 20 mg.")
        rows.append({"from": src, "to": dst})
    return rows


def convert(
    strength: str,
    *,
    ratio: Decimal | None,
    table: list[dict[str, str]],
    amounts: Callable[[str], tuple[Decimal, ...]],
) -> Converted:
    """Convert ``strength`` (the prescription's, e.g. '20 mg/1') by the table or ratio."""
    own = amounts(strength)
    for row in table:
        if own and amounts(row["from"]) == own:
            return Converted(strength, row["to"], "table")
    match = _AMOUNT.search(strength or "")
    if ratio is not None and match:
        value = Decimal(match.group(1)) * ratio
        unit = match.group(2)
        return Converted(strength, f"{_fmt(value)} {unit}".strip(), "ratio")
    return Converted(strength, "", "")
