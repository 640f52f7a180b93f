"""Permission-matrix rows for the plan file, the eligibility check and the claims reports:
API_ROWS in the shape of tests/test_permission_matrix.py's API_MATRIX, UI_ROWS and WATCHED in
the shape of tests/test_permission_matrix_ui.py's UI_MATRIX. Written by hand from the
specification:

* the plan file is read by whoever works claims (technician, pharmacist, PIC) and by those
  who keep it (pharmacist, PIC, administrator: it is set-up data with no PHI); only the
  keepers add or change payers and plans;
* checking a card's eligibility is billing work: technician, pharmacist, PIC;
* the claims reports are read by the pharmacist, the PIC and the auditor."""

from __future__ import annotations

from typing import Any

from rxdesk.claims.models import Eligibility, Payer, Plan
from rxdesk.core.choices import Role
from rxdesk.core.models import Site
from rxdesk.patients.models import Coverage
from tests.factories import PatientFactory

T, TT, RPH, PIC, INV, AUD, ADM = (
    Role.TECHNICIAN,
    Role.TECHNICIAN_IN_TRAINING,
    Role.PHARMACIST,
    Role.PHARMACIST_IN_CHARGE,
    Role.INVENTORY_SPECIALIST,
    Role.AUDITOR,
    Role.ADMIN,
)
PLAN_READERS = frozenset({T, RPH, PIC, ADM})
PLAN_KEEPERS = frozenset({RPH, PIC, ADM})
BILLERS = frozenset({T, RPH, PIC})
REPORT_READERS = frozenset({RPH, PIC, AUD})
NOBODY: frozenset[Role] = frozenset()

P = "/api/v1/claims"


def _payer() -> Payer:
    # Port 9 (discard) on loopback: nothing is sent in the matrix.
    return Payer.objects.filter(name="Matrix PBM").first() or Payer.objects.create(
        name="Matrix PBM", port=9
    )


def _plan() -> Plan:
    return Plan.objects.filter(bin="610014", pcn="MATRIX").first() or Plan.objects.create(
        payer=_payer(), name="Matrix Commercial", bin="610014", pcn="MATRIX"
    )


def _coverage(site: Site) -> Coverage:
    """A card whose plan is on file. The site has no NPI, so an allowed role's check stops
    at that rule (422) before anything is sent."""
    _plan()
    return Coverage.objects.create(
        patient=PatientFactory(site=site), bin="610014", pcn="MATRIX", member_id="M1"
    )


API_ROWS: dict[tuple[str, str], Any] = {
    ("GET", "/claims/payers"): (PLAN_READERS, 200, lambda s, u: (f"{P}/payers", None)),
    ("POST", "/claims/payers"): (
        PLAN_KEEPERS,
        201,
        lambda s, u: (f"{P}/payers", {"name": "New PBM", "port": 7010}),
    ),
    ("PATCH", "/claims/payers/{payer_id}"): (
        PLAN_KEEPERS,
        200,
        lambda s, u: (f"{P}/payers/{_payer().pk}", {"timeout_seconds": 20}),
    ),
    ("GET", "/claims/plans"): (PLAN_READERS, 200, lambda s, u: (f"{P}/plans?bin=610014", None)),
    ("POST", "/claims/plans"): (
        PLAN_KEEPERS,
        201,
        lambda s, u: (
            f"{P}/plans",
            {"payer_id": _payer().pk, "name": "Part D", "bin": "004336", "pcn": "MEDDPCN"},
        ),
    ),
    ("GET", "/claims/plans/{plan_id}"): (
        PLAN_READERS,
        200,
        lambda s, u: (f"{P}/plans/{_plan().pk}", None),
    ),
    ("PATCH", "/claims/plans/{plan_id}"): (
        PLAN_KEEPERS,
        200,
        lambda s, u: (f"{P}/plans/{_plan().pk}", {"return_to_stock_days": 10}),
    ),
    ("GET", "/claims/reports/summary"): (
        REPORT_READERS,
        200,
        lambda s, u: (f"{P}/reports/summary", None),
    ),
    ("GET", "/claims/reports/underpaid"): (
        REPORT_READERS,
        200,
        lambda s, u: (f"{P}/reports/underpaid?format=csv", None),
    ),
    ("GET", "/claims/reports/rejects"): (
        REPORT_READERS,
        200,
        lambda s, u: (f"{P}/reports/rejects", None),
    ),
    ("GET", "/claims/reports/reversals"): (
        REPORT_READERS,
        200,
        lambda s, u: (f"{P}/reports/reversals", None),
    ),
    ("GET", "/claims/reports/rts-due"): (
        REPORT_READERS,
        200,
        lambda s, u: (f"{P}/reports/rts-due", None),
    ),
}


def _none(site: Site) -> dict[str, Any]:
    return {}


def _plan_kwargs(site: Site) -> dict[str, Any]:
    return {"pk": _plan().pk}


def _payer_kwargs(site: Site) -> dict[str, Any]:
    return {"pk": _payer().pk}


def _coverage_kwargs(site: Site) -> dict[str, Any]:
    return {"coverage_pk": _coverage(site).pk}


def _csv_kwargs(site: Site) -> dict[str, Any]:
    return {"name": "summary"}


# name: (kwargs, GET roles, POST roles, POST status for an allowed role with an empty form)
UI_ROWS: dict[Any, Any] = {
    "claims_plans": (_none, PLAN_READERS, NOBODY, None),
    "claims_plan_create": (_none, PLAN_KEEPERS, PLAN_KEEPERS, 422),
    "claims_plan_edit": (_plan_kwargs, PLAN_KEEPERS, PLAN_KEEPERS, 422),
    "claims_payer_create": (_none, PLAN_KEEPERS, PLAN_KEEPERS, 422),
    "claims_payer_edit": (_payer_kwargs, PLAN_KEEPERS, PLAN_KEEPERS, 422),
    "claims_eligibility": (_coverage_kwargs, None, BILLERS, 422),
    "claims_reports": (_none, REPORT_READERS, NOBODY, None),
    "claims_report_csv": (_csv_kwargs, REPORT_READERS, NOBODY, None),
}
WATCHED: list[Any] = [Payer, Plan, Eligibility]
