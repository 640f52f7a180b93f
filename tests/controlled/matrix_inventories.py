"""Permission-matrix rows for the controlled-substance inventories pages and API (the shapes of
tests/test_permission_matrix.py API_MATRIX and tests/test_permission_matrix_ui.py UI_MATRIX)."""

from __future__ import annotations

from typing import Any

API_ROWS: dict[tuple[str, str], Any] = {}
UI_ROWS: dict[str, Any] = {}
WATCHED: list[Any] = []
