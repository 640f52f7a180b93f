"""Permission-matrix rows for institutional pharmacy: discrepancies (API_ROWS in the shape of
tests/test_permission_matrix.py's API_MATRIX; UI_ROWS and WATCHED in the shape of
tests/test_permission_matrix_ui.py's UI_MATRIX). Written by hand from the specification."""

from __future__ import annotations

from typing import Any

API_ROWS: dict[tuple[str, str], Any] = {}
UI_ROWS: dict[str, Any] = {}
WATCHED: list[Any] = []
