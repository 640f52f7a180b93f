"""Permission-matrix rows for the prescription screens (same shape as
tests/test_permission_matrix_ui.py's UI_MATRIX; WATCHED lists models whose row counts
must not change on a refused POST). Written by hand from the specification."""

from __future__ import annotations

from typing import Any

UI_ROWS: dict[str, Any] = {}
WATCHED: list[Any] = []
