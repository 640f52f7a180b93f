"""Permission-matrix rows for the beyond-use date rules (API_ROWS in the shape of
tests/test_permission_matrix.py's API_MATRIX; UI_ROWS and WATCHED in the shape of
tests/test_permission_matrix_ui.py's UI_MATRIX). Written by hand from the specification:

* the BUD and in-use calculators and the site's limits are read by everyone who compounds or
  checks compounding (compounding.view: technician, pharmacist, pharmacist-in-charge,
  auditor); trainees, inventory specialists and admins get nothing;
* only the pharmacist-in-charge changes the site's limits (compounding.facility)."""

from __future__ import annotations

from typing import Any

from rxdesk.compounding.models import CompoundingSettings
from rxdesk.core.choices import Role
from rxdesk.core.models import Site, User

T, RPH, PIC, AUD = (
    Role.TECHNICIAN,
    Role.PHARMACIST,
    Role.PHARMACIST_IN_CHARGE,
    Role.AUDITOR,
)
VIEWERS = frozenset({T, RPH, PIC, AUD})
FACILITY = frozenset({PIC})
NOBODY: frozenset[Role] = frozenset()

P = "/api/v1/compounding"

# The issue's example body, made concrete: Category 2, aseptic from sterile components,
# refrigerated → 10 days, a component good through March.
ISSUE_BODY: dict[str, Any] = {
    "type": "sterile",
    "category": "2",
    "prepared_at": "2026-01-05T09:00:00-05:00",
    "storage": "refrigerator",
    "aseptic": True,
    "sterile_starting_components": True,
    "sterility_tested": False,
    "preserved": False,
    "preparation": "aqueous",
    "component_expirations": ["2026-03-01"],
}


def _bud(site: Site, user: User | None) -> tuple[str, dict[str, Any]]:
    return f"{P}/bud", dict(ISSUE_BODY)


def _in_use(site: Site, user: User | None) -> tuple[str, dict[str, Any]]:
    return f"{P}/in-use", {
        "container": "single-dose",
        "opened_at": "2026-01-05T09:00:00-06:00",
        "in_iso5": True,
    }


API_ROWS: dict[tuple[str, str], Any] = {
    ("POST", "/compounding/bud"): (VIEWERS, 200, _bud),
    ("POST", "/compounding/in-use"): (VIEWERS, 200, _in_use),
    ("GET", "/compounding/settings"): (VIEWERS, 200, lambda s, u: (f"{P}/settings", None)),
    ("PATCH", "/compounding/settings"): (
        FACILITY,
        200,
        lambda s, u: (f"{P}/settings", {"single_dose_iso5_hours": 6}),
    ),
}


def _none(site: Site) -> dict[str, Any]:
    return {}


# name: (kwargs, GET roles, POST roles, POST status for an allowed role with an empty form)
UI_ROWS: dict[str, Any] = {
    "compounding_bud": (_none, VIEWERS, VIEWERS, 422),
    "compounding_in_use": (_none, VIEWERS, VIEWERS, 422),
    "compounding_settings": (_none, VIEWERS, FACILITY, 422),
}
WATCHED: list[Any] = [CompoundingSettings]
