"""Permission-matrix rows for clinical screening: API_ROWS in the shape of
tests/test_permission_matrix.py's API_MATRIX, UI_ROWS and WATCHED in the shape of
tests/test_permission_matrix_ui.py's UI_MATRIX. Written by hand from the specification:

* screening a drug or a fill reads prescriptions: the four clinical roles (technician,
  trainee, pharmacist, PIC) — not the inventory specialist, the auditor or the admin;
* resolving an alert is a pharmacist's judgement (pharmacist, PIC);
* the alert and override rates (no patient names) are read by pharmacists, the PIC and
  the auditor."""

from __future__ import annotations

import datetime as dt
from typing import Any

from rxdesk.core.choices import Role
from rxdesk.core.models import Site, User
from rxdesk.screening.models import FillAlert
from tests.factories import PatientFactory, UserFactory
from tests.screening.helpers import on_profile, package, prescribe, queued_fill

T, TT, RPH, PIC, INV, AUD, ADM = (
    Role.TECHNICIAN,
    Role.TECHNICIAN_IN_TRAINING,
    Role.PHARMACIST,
    Role.PHARMACIST_IN_CHARGE,
    Role.INVENTORY_SPECIALIST,
    Role.AUDITOR,
    Role.ADMIN,
)
SCREENERS = frozenset({T, TT, RPH, PIC})
RESOLVERS = frozenset({RPH, PIC})
REPORT_READERS = frozenset({RPH, PIC, AUD})
NOBODY: frozenset[Role] = frozenset()

P = "/api/v1/screening"


def _clerk(site: Site) -> User:
    return User.objects.filter(site=site, username="matrix-screening-tech").first() or UserFactory(
        site=site, role=T, username="matrix-screening-tech"
    )


def _fill(site: Site) -> Any:
    """A queued fluoxetine fill for a patient taking phenelzine (an ONC high-priority pair)."""
    clerk = _clerk(site)
    patient = PatientFactory(site=site)
    on_profile(clerk, patient, package("Nardil", "PHENELZINE SULFATE", "15"))
    return queued_fill(
        prescribe(clerk, patient, package("Prozac", "FLUOXETINE HYDROCHLORIDE", "20"))
    )


def _alert(site: Site) -> FillAlert:
    fill = _fill(site)
    return FillAlert.objects.create(
        site=site,
        fill=fill,
        key="dd:onc-high-priority:8|fluoxetine|phenelzine",
        rule="dd:onc-high-priority:8",
        type="DD",
        severity="major",
        interrupting=True,
        drugs=["fluoxetine", "phenelzine"],
        message="Serotonin syndrome",
        source="ONC High-Priority DDI list (Phansalkar 2012)",
    )


def _report(site: Site, user: User | None) -> tuple[str, None]:
    today = site.today()
    return f"{P}/report?start={today - dt.timedelta(days=30)}&end={today}", None


API_ROWS: dict[tuple[str, str], Any] = {
    ("POST", "/screening/check"): (
        SCREENERS,
        200,
        lambda s, u: (
            f"{P}/check",
            {
                "patient": {"medications": [{"ingredient": "phenelzine"}]},
                "proposed": {"ingredient": "fluoxetine"},
            },
        ),
    ),
    ("POST", "/screening/fills/{fill_id}/screen"): (
        SCREENERS,
        200,
        lambda s, u: (f"{P}/fills/{_fill(s).pk}/screen", None),
    ),
    ("POST", "/screening/alerts/{alert_id}/resolve"): (
        RESOLVERS,
        200,
        lambda s, u: (
            f"{P}/alerts/{_alert(s).pk}/resolve",
            {"professional_service": "M0", "result_of_service": "1G", "note": "Prescriber aware"},
        ),
    ),
    ("GET", "/screening/report"): (REPORT_READERS, 200, _report),
}


def _none(site: Site) -> dict[str, Any]:
    return {}


def _alert_kwargs(site: Site) -> dict[str, Any]:
    return {"pk": _alert(site).pk}


# name: (kwargs, GET roles, POST roles, POST status for an allowed role with an empty form)
UI_ROWS: dict[Any, Any] = {
    "screening_alert_resolve": (_alert_kwargs, RESOLVERS, RESOLVERS, 422),
    "screening_report": (_none, REPORT_READERS, NOBODY, None),
}
WATCHED: list[Any] = [FillAlert]
