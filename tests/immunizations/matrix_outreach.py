"""Permission-matrix rows for immunizations: outreach (API_ROWS in the shape of
tests/test_permission_matrix.py's API_MATRIX; UI_ROWS and WATCHED in the shape of
tests/test_permission_matrix_ui.py's UI_MATRIX). Written by hand from the specification:
the outreach list names patients (imm.outreach): technician, pharmacist, PIC — never the
trainee, the inventory specialist, the auditor or the admin. It writes nothing but its
PHI-access event."""

from __future__ import annotations

from typing import Any

from rxdesk.core.choices import Role

T, TT, RPH, PIC, INV, AUD = (
    Role.TECHNICIAN,
    Role.TECHNICIAN_IN_TRAINING,
    Role.PHARMACIST,
    Role.PHARMACIST_IN_CHARGE,
    Role.INVENTORY_SPECIALIST,
    Role.AUDITOR,
)
NOBODY: frozenset[Role] = frozenset()
OUTREACH = frozenset({T, RPH, PIC})

P = "/api/v1/immunizations"

API_ROWS: dict[tuple[str, str], Any] = {
    ("GET", "/immunizations/outreach"): (
        OUTREACH,
        200,
        lambda s, u: (f"{P}/outreach?group=FLU&limit=50", None),
    ),
}
UI_ROWS: dict[str, Any] = {
    "imm_outreach": (lambda s: {}, OUTREACH, NOBODY, None),
}
WATCHED: list[Any] = []
