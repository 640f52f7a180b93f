"""Permission-matrix rows for the inventory's receiving screens and API (same shape as
tests/test_permission_matrix.py's API_MATRIX and tests/test_permission_matrix_ui.py's
UI_MATRIX; WATCHED lists models whose row counts must not change on a refused POST)."""

from __future__ import annotations

from typing import Any

API_ROWS: dict[tuple[str, str], Any] = {}
UI_ROWS: dict[str, Any] = {}
WATCHED: list[Any] = []
