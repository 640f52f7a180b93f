"""Permission-matrix rows for care: counsel (API_ROWS in the shape of
tests/test_permission_matrix.py's API_MATRIX; UI_ROWS and WATCHED in the shape of
tests/test_permission_matrix_ui.py's UI_MATRIX). Written by hand from the specification:

* the counseling log and the interventions name patients: care.view and patient.view —
  technician, trainee, pharmacist, PIC;
* counseling is recorded with care.counsel: technician (offers, declines), pharmacist, PIC;
* interventions, closing them and their report are care.intervene: pharmacist, PIC."""

from __future__ import annotations

from typing import Any

from rxdesk.care import services_counsel as services
from rxdesk.care.models import CounselingRecord, Intervention
from rxdesk.core.choices import Role
from rxdesk.core.models import Site
from tests.care import medrec_setup as ms

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
COUNSEL = frozenset({T, RPH, PIC})
PHARMACISTS = frozenset({RPH, PIC})

P = "/api/v1/care"


def _open_intervention(site: Site) -> Intervention:
    return services.intervention_record(
        actor=ms.rph(site),
        patient=ms.patient(site),
        problem="DD",
        problem_detail="Interaction to check",
        action="PE",
        minutes=2,
    )


API_ROWS: dict[tuple[str, str], Any] = {
    ("POST", "/care/counseling"): (
        COUNSEL,
        201,
        lambda s, u: (f"{P}/counseling", {"patient_id": ms.patient(s).pk, "outcome": "declined"}),
    ),
    ("GET", "/care/counseling"): (READERS, 200, lambda s, u: (f"{P}/counseling", None)),
    ("POST", "/care/interventions"): (
        PHARMACISTS,
        201,
        lambda s, u: (
            f"{P}/interventions",
            {
                "patient_id": ms.patient(s).pk,
                "problem": "HD",
                "problem_detail": "Above the maximum dose",
                "action": "PE",
                "outcome": "1C",
                "minutes": 4,
            },
        ),
    ),
    ("GET", "/care/interventions"): (READERS, 200, lambda s, u: (f"{P}/interventions", None)),
    ("GET", "/care/interventions/report"): (
        PHARMACISTS,
        200,
        lambda s, u: (f"{P}/interventions/report", None),
    ),
    ("GET", "/care/interventions/{intervention_id}"): (
        READERS,
        200,
        lambda s, u: (f"{P}/interventions/{_open_intervention(s).pk}", None),
    ),
    ("POST", "/care/interventions/{intervention_id}/close"): (
        PHARMACISTS,
        200,
        lambda s, u: (
            f"{P}/interventions/{_open_intervention(s).pk}/close",
            {"outcome": "3A", "minutes": 5},
        ),
    ),
}


def _none(site: Site) -> dict[str, Any]:
    return {}


def _intervention_kw(site: Site) -> dict[str, Any]:
    return {"pk": _open_intervention(site).pk}


# name: (kwargs, GET roles, POST roles, POST status for an allowed role with an empty form)
UI_ROWS: dict[str, Any] = {
    "care_counseling": (_none, READERS, NOBODY, None),
    "care_counseling_new": (_none, COUNSEL, COUNSEL, 422),
    "care_interventions": (_none, READERS, NOBODY, None),
    "care_intervention_new": (_none, PHARMACISTS, PHARMACISTS, 422),
    "care_interventions_report": (_none, PHARMACISTS, NOBODY, None),
    "care_intervention": (_intervention_kw, READERS, NOBODY, None),
    "care_intervention_close": (_intervention_kw, None, PHARMACISTS, 422),
}
WATCHED: list[Any] = [CounselingRecord, Intervention]
