"""Permission-matrix rows for medication synchronization (API_ROWS in the shape of
tests/test_permission_matrix.py's API_MATRIX; UI_ROWS and WATCHED in the shape of
tests/test_permission_matrix_ui.py's UI_MATRIX). Written by hand from the specification."""

from __future__ import annotations

from typing import Any

from rxdesk.core.choices import Role
from rxdesk.core.models import Site

T, TT, RPH, PIC, INV, AUD = (
    Role.TECHNICIAN,
    Role.TECHNICIAN_IN_TRAINING,
    Role.PHARMACIST,
    Role.PHARMACIST_IN_CHARGE,
    Role.INVENTORY_SPECIALIST,
    Role.AUDITOR,
)
NOBODY: frozenset[Role] = frozenset()
VIEWERS = frozenset({T, TT, RPH, PIC})


def _none(site: Site) -> dict[str, Any]:
    return {}


API_ROWS: dict[tuple[str, str], Any] = {}
UI_ROWS: dict[str, Any] = {
    "medsync_home": (_none, VIEWERS, NOBODY, None),
}
WATCHED: list[Any] = []
