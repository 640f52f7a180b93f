"""Permission-matrix rows for the institutional home page: whoever reads long-term care
(ltc.view) or the cabinets (adc.view)."""

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
VIEWERS = frozenset({T, TT, RPH, PIC, INV, AUD})
NOBODY: frozenset[Role] = frozenset()


def _none(site: Site) -> dict[str, Any]:
    return {}


API_ROWS: dict[tuple[str, str], Any] = {}
UI_ROWS: dict[str, Any] = {
    "institutional_home": (_none, VIEWERS, NOBODY, None),
}
WATCHED: list[Any] = []
