"""Permission-matrix rows for care: point-of-care tests and the care settings (API_ROWS
in the shape of tests/test_permission_matrix.py's API_MATRIX; UI_ROWS and WATCHED in the
shape of tests/test_permission_matrix_ui.py's UI_MATRIX). Written by hand from the
specification (the site offers testing and lets technicians perform it):

* results name patients: read with care.view and patient.view — technician, trainee,
  pharmacist, PIC;
* recording a test and "given to the patient" are care.poct: technician, pharmacist, PIC;
* review and entered-in-error are care.intervene: pharmacist, PIC;
* the catalog and the settings are read with care.view; the settings are set with
  care.setup: the PIC."""

from __future__ import annotations

import datetime as dt
from typing import Any

from rxdesk.care.models import CareSettings, PocTestResult
from rxdesk.core.choices import Role
from rxdesk.core.models import Site, User
from tests.care.poct_setup import patient, poct_site, record
from tests.conftest import earlier_today

T, TT, RPH, PIC, INV, AUD = (
    Role.TECHNICIAN,
    Role.TECHNICIAN_IN_TRAINING,
    Role.PHARMACIST,
    Role.PHARMACIST_IN_CHARGE,
    Role.INVENTORY_SPECIALIST,
    Role.AUDITOR,
)
NOBODY: frozenset[Role] = frozenset()
READERS = frozenset({T, TT, RPH, PIC})
TESTERS = frozenset({T, RPH, PIC})
PHARMACISTS = frozenset({RPH, PIC})
SETUP = frozenset({PIC})

P = "/api/v1/care"


def _r(site: Site) -> dict[str, Any]:
    return {"pk": record(site).pk}


def _record_body(site: Site, user: User | None) -> tuple[str, dict[str, Any]]:
    poct_site(site)
    return f"{P}/poct", {
        "patient_id": patient(site).pk,
        "test_code": "glucose",
        "collected_at": earlier_today(site, minutes=5).isoformat(),
        "kit_lot": "G-77",
        "kit_expiry": (site.today() + dt.timedelta(days=60)).isoformat(),
        "result": "value",
        "value": "98",
    }


def _on(suffix: str, body: dict[str, Any] | None) -> Any:
    def setup(site: Site, user: User | None) -> tuple[str, dict[str, Any] | None]:
        return f"{P}/poct/{record(site).pk}{suffix}", body

    return setup


API_ROWS: dict[tuple[str, str], Any] = {
    ("GET", "/care/poct/tests"): (READERS, 200, lambda s, u: (f"{P}/poct/tests", None)),
    ("GET", "/care/poct"): (READERS, 200, lambda s, u: (f"{P}/poct", None)),
    ("POST", "/care/poct"): (TESTERS, 201, _record_body),
    ("GET", "/care/poct/{result_id}"): (READERS, 200, _on("", None)),
    ("POST", "/care/poct/{result_id}/communicated"): (TESTERS, 200, _on("/communicated", {})),
    ("POST", "/care/poct/{result_id}/review"): (PHARMACISTS, 200, _on("/review", {"note": "ok"})),
    ("POST", "/care/poct/{result_id}/entered-in-error"): (
        PHARMACISTS,
        200,
        _on("/entered-in-error", {"reason": "Wrong patient"}),
    ),
    ("GET", "/care/settings"): (READERS, 200, lambda s, u: (f"{P}/settings", None)),
    ("PUT", "/care/settings"): (
        SETUP,
        200,
        lambda s, u: (
            f"{P}/settings",
            {
                "poct_enabled": True,
                "clia_certificate": "05D1234567",
                "clia_expires": (s.today() + dt.timedelta(days=300)).isoformat(),
                "poct_tests": ["strep_a"],
                "callback_hours": 3,
            },
        ),
    ),
}

UI_ROWS: dict[str, Any] = {
    "care_poct": (lambda s: {}, READERS, NOBODY, None),
    "care_poct_new": (lambda s: {}, TESTERS, TESTERS, 422),
    "care_poct_result": (_r, READERS, NOBODY, None),
    "care_poct_print": (_r, READERS, NOBODY, None),
    "care_poct_communicated": (_r, None, TESTERS, 302),
    "care_poct_review": (_r, None, PHARMACISTS, 302),
    "care_poct_error": (_r, None, PHARMACISTS, 422),
    "care_settings": (lambda s: {}, READERS, SETUP, 422),
}
WATCHED: list[Any] = [PocTestResult, CareSettings]
