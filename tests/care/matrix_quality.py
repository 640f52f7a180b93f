"""Permission-matrix rows for care: quality (API_ROWS in the shape of
tests/test_permission_matrix.py's API_MATRIX; UI_ROWS and WATCHED in the shape of
tests/test_permission_matrix_ui.py's UI_MATRIX). Written by hand from the specification:

* anyone on staff reports events, errors and MedWatch drafts (care.event): technician,
  trainee, pharmacist, PIC; they also see their own action items;
* lists, details, reports and the PDF name patients: care.view and patient.view —
  technician, trainee, pharmacist, PIC (never the auditor or the inventory specialist);
* analysis, action items, follow-ups, submitting and closing are care.qi: pharmacist, PIC
  (an action item's owner may also mark it done);
* the trends are aggregate (care.qi_report): pharmacist, PIC and the auditor."""

from __future__ import annotations

import datetime as dt
from typing import Any

from rxdesk.care.models import (
    ActionItem,
    AdverseEventProduct,
    AdverseEventReport,
    ContributingFactor,
    MedicationError,
    RootCauseAnalysis,
    SafetyEvent,
)
from rxdesk.core.choices import Role
from rxdesk.core.models import Site, User
from tests.care import quality_setup as qs

T, TT, RPH, PIC, INV, AUD = (
    Role.TECHNICIAN,
    Role.TECHNICIAN_IN_TRAINING,
    Role.PHARMACIST,
    Role.PHARMACIST_IN_CHARGE,
    Role.INVENTORY_SPECIALIST,
    Role.AUDITOR,
)
NOBODY: frozenset[Role] = frozenset()
EVENT = frozenset({T, TT, RPH, PIC})
READERS = frozenset({T, TT, RPH, PIC})
QI = frozenset({RPH, PIC})
REPORT = frozenset({RPH, PIC, AUD})

P = "/api/v1/care/quality"
Q = "/care/quality"


def _soon(site: Site) -> str:
    return (site.today() + dt.timedelta(days=10)).isoformat()


def _when() -> str:
    return qs.ago(hours=1).isoformat()


def _action_for(site: Site, user: User | None) -> tuple[str, dict[str, Any]]:
    rca = qs.rca_of(site)
    item = qs.action(rca, owner=user)
    return f"{P}/actions/{item.pk}/complete", {"note": "Done."}


API_ROWS: dict[tuple[str, str], Any] = {
    ("POST", f"{Q}/events"): (
        EVENT,
        201,
        lambda s, u: (
            f"{P}/events",
            {
                "kind": "equipment",
                "title": "Counting tray cracked",
                "occurred_at": _when(),
                "description": "A tablet lodged in the crack.",
            },
        ),
    ),
    ("GET", f"{Q}/events"): (READERS, 200, lambda s, u: (f"{P}/events", None)),
    ("GET", f"{Q}/events/{{event_id}}"): (
        READERS,
        200,
        lambda s, u: (f"{P}/events/{qs.error(s, 'C').safety_event_id}", None),
    ),
    ("POST", f"{Q}/events/{{event_id}}/rca"): (
        QI,
        201,
        lambda s, u: (
            f"{P}/events/{qs.near_miss(s).pk}/rca",
            {"what_happened": "Bottles shelved together."},
        ),
    ),
    ("POST", f"{Q}/events/{{event_id}}/close"): (
        QI,
        200,
        lambda s, u: (f"{P}/events/{qs.near_miss(s).pk}/close", {"note": "Shelves moved."}),
    ),
    ("POST", f"{Q}/medication-errors"): (
        EVENT,
        201,
        lambda s, u: (
            f"{P}/medication-errors",
            {
                "step": "fill",
                "error_type": "wrong_drug",
                "category": "B",
                "description": "Wrong bottle picked; caught at the scan.",
                "occurred_at": _when(),
                "discovered_at": _when(),
                "caught_at_step": "fill",
            },
        ),
    ),
    ("GET", f"{Q}/medication-errors/{{error_id}}"): (
        READERS,
        200,
        lambda s, u: (f"{P}/medication-errors/{qs.error(s, 'D').pk}", None),
    ),
    ("POST", f"{Q}/medication-errors/{{error_id}}/follow-up-done"): (
        QI,
        200,
        lambda s, u: (
            f"{P}/medication-errors/{qs.with_follow_up(s).pk}/follow-up-done",
            {"note": "Patient called; fine."},
        ),
    ),
    ("POST", f"{Q}/ade-reports"): (
        EVENT,
        201,
        lambda s, u: (
            f"{P}/ade-reports",
            {
                "patient_id": qs.patient(s).pk,
                "event_date": (s.today() - dt.timedelta(days=1)).isoformat(),
                "description": "Rash after starting the antibiotic.",
                "products": [{"name": "Amoxicillin 500 mg"}],
            },
        ),
    ),
    ("GET", f"{Q}/ade-reports/{{report_id}}"): (
        READERS,
        200,
        lambda s, u: (f"{P}/ade-reports/{qs.ade_draft(s).pk}", None),
    ),
    ("PATCH", f"{Q}/ade-reports/{{report_id}}"): (
        EVENT,
        200,
        lambda s, u: (f"{P}/ade-reports/{qs.ade_draft(s).pk}", {"history": "Penicillin allergy."}),
    ),
    ("POST", f"{Q}/ade-reports/{{report_id}}/submit"): (
        QI,
        200,
        lambda s, u: (f"{P}/ade-reports/{qs.ade_draft(s).pk}/submit", {"fda_reference": ""}),
    ),
    ("GET", f"{Q}/ade-reports/{{report_id}}/pdf"): (
        READERS,
        200,
        lambda s, u: (f"{P}/ade-reports/{qs.ade_draft(s).pk}/pdf", None),
    ),
    ("POST", f"{Q}/rca/{{rca_id}}/factors"): (
        QI,
        201,
        lambda s, u: (
            f"{P}/rca/{qs.rca_of(s).pk}/factors",
            {"category": "workload", "description": "One technician at lunch."},
        ),
    ),
    ("POST", f"{Q}/rca/{{rca_id}}/actions"): (
        QI,
        201,
        lambda s, u: (
            f"{P}/rca/{qs.rca_of(s).pk}/actions",
            {
                "description": "Add a second scan.",
                "strength": "strong",
                "owner_id": qs.rph(s).pk,
                "due_on": _soon(s),
            },
        ),
    ),
    ("POST", f"{Q}/rca/{{rca_id}}/complete"): (QI, 200, lambda s, u: _complete(s)),
    ("POST", f"{Q}/actions/{{action_id}}/complete"): (EVENT, 200, _action_for),
    ("POST", f"{Q}/actions/{{action_id}}/drop"): (
        QI,
        200,
        lambda s, u: (
            f"{P}/actions/{qs.action(qs.rca_of(s)).pk}/drop",
            {"note": "Replaced by the new shelf plan."},
        ),
    ),
    ("GET", f"{Q}/my-actions"): (EVENT, 200, lambda s, u: (f"{P}/my-actions", None)),
    ("GET", f"{Q}/trends"): (REPORT, 200, lambda s, u: (f"{P}/trends", None)),
}


def _complete(site: Site) -> tuple[str, dict[str, Any]]:
    rca = qs.rca_of(site)
    qs.factor(rca)
    qs.action(rca)
    return f"{P}/rca/{rca.pk}/complete", {"root_cause": "Shelving by alphabet."}


# --- UI rows ----------------------------------------------------------------------------------


def _none(site: Site) -> dict[str, Any]:
    return {}


def _event(site: Site) -> dict[str, Any]:
    return {"pk": qs.error(site, "D").safety_event_id}


def _error(site: Site) -> dict[str, Any]:
    return {"pk": qs.with_follow_up(site).pk}


def _rca(site: Site) -> dict[str, Any]:
    return {"pk": qs.rca_of(site).pk}


def _action(site: Site) -> dict[str, Any]:
    return {"pk": qs.action(qs.rca_of(site)).pk}


def _draft(site: Site) -> dict[str, Any]:
    return {"pk": qs.ade_draft(site, complete=False).pk}


UI_ROWS: dict[str, Any] = {
    "care_events": (_none, READERS, NOBODY, None),
    "care_event_new": (_none, EVENT, EVENT, 422),
    "care_error_new": (_none, EVENT, EVENT, 422),
    "care_event": (_event, READERS, NOBODY, None),
    "care_event_close": (_event, None, QI, 422),
    "care_rca_start": (_event, None, QI, 422),
    "care_error_follow_up": (_error, None, QI, 422),
    "care_rca_factor": (_rca, None, QI, 422),
    "care_rca_action": (_rca, None, QI, 422),
    "care_rca_complete": (_rca, None, QI, 422),
    "care_my_actions": (_none, EVENT, NOBODY, None),
    # The matrix's user does not own the item: only care.qi may mark it done.
    "care_action_complete": (_action, None, QI, 302),
    "care_action_drop": (_action, None, QI, 422),
    "care_ade_new": (_none, EVENT, EVENT, 422),
    "care_ade": (_draft, READERS, EVENT, 422),
    "care_ade_submit": (_draft, None, QI, 422),
    "care_ade_pdf": (_draft, READERS, NOBODY, None),
    "care_trends": (_none, REPORT, NOBODY, None),
}
WATCHED: list[Any] = [
    SafetyEvent,
    MedicationError,
    AdverseEventReport,
    AdverseEventProduct,
    RootCauseAnalysis,
    ContributingFactor,
    ActionItem,
]
