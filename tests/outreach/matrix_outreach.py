"""Permission-matrix rows for outreach lists (API_ROWS in the shape of
tests/test_permission_matrix.py's API_MATRIX; UI_ROWS and WATCHED in the shape of
tests/test_permission_matrix_ui.py's UI_MATRIX). Written by hand from the specification."""

from __future__ import annotations

from typing import Any

from rxdesk.core.choices import Role
from rxdesk.core.models import Site, User
from rxdesk.outreach.models import OutreachContact
from tests.factories import PatientFactory

T, TT, RPH, PIC, INV, AUD = (
    Role.TECHNICIAN,
    Role.TECHNICIAN_IN_TRAINING,
    Role.PHARMACIST,
    Role.PHARMACIST_IN_CHARGE,
    Role.INVENTORY_SPECIALIST,
    Role.AUDITOR,
)
NOBODY: frozenset[Role] = frozenset()
VIEWERS = frozenset({T, RPH, PIC})


def _none(site: Site) -> dict[str, Any]:
    return {}


P = "/api/v1/outreach"


def _contact(site: Site, user: User | None) -> tuple[str, dict[str, Any]]:
    patient = PatientFactory(site=site)
    return f"{P}/contacts", {"patient_id": patient.pk, "kind": "refills", "outcome": "reached"}


API_ROWS: dict[tuple[str, str], Any] = {
    ("GET", "/outreach/lists/{kind}"): (VIEWERS, 200, lambda s, u: (f"{P}/lists/refills", None)),
    ("GET", "/outreach/lists/{kind}/csv"): (
        VIEWERS,
        200,
        lambda s, u: (f"{P}/lists/adherence/csv", None),
    ),
    ("POST", "/outreach/contacts"): (VIEWERS, 201, _contact),
}
UI_ROWS: dict[str, Any] = {
    "outreach_home": (_none, VIEWERS, NOBODY, None),
    "outreach_contact": (_none, None, VIEWERS, 422),
}
WATCHED: list[Any] = [OutreachContact]
