"""Permission-matrix rows for the compounding home page."""

from __future__ import annotations

from typing import Any

from rxdesk.core.choices import Role
from rxdesk.core.models import Site

VIEWERS = frozenset({Role.TECHNICIAN, Role.PHARMACIST, Role.PHARMACIST_IN_CHARGE, Role.AUDITOR})
NOBODY: frozenset[Role] = frozenset()


def _none(site: Site) -> dict[str, Any]:
    return {}


API_ROWS: dict[tuple[str, str], Any] = {}
UI_ROWS: dict[str, Any] = {
    "compounding_home": (_none, VIEWERS, NOBODY, None),
}
WATCHED: list[Any] = []
