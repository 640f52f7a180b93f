"""The inventory's rows of the permission matrices, gathered from one file per part of
the stock room so each part keeps its own rows beside its tests."""

from __future__ import annotations

from typing import Any

from tests.inventory import (
    matrix_coldchain,
    matrix_counts,
    matrix_recalls,
    matrix_receiving,
    matrix_stock,
)

_PARTS = (matrix_stock, matrix_receiving, matrix_counts, matrix_recalls, matrix_coldchain)

API_ROWS: dict[tuple[str, str], Any] = {}
UI_ROWS: dict[str, Any] = {}
WATCHED: list[Any] = []
for _part in _PARTS:
    API_ROWS.update(_part.API_ROWS)
    UI_ROWS.update(_part.UI_ROWS)
    WATCHED.extend(_part.WATCHED)
