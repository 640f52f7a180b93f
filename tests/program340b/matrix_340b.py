"""Permission-matrix rows for 340B (API_ROWS in the shape of
tests/test_permission_matrix.py's API_MATRIX; UI_ROWS and WATCHED in the shape of
tests/test_permission_matrix_ui.py's UI_MATRIX). Written by hand from the specification:

* 340b.view reads the program: technician, pharmacist, PIC, inventory specialist, auditor;
  the patient list and encounters name patients and also need patient.view (not the
  inventory specialist nor the auditor);
* 340b.order captures dispenses and records replenishment orders: technician, pharmacist,
  PIC, inventory specialist;
* 340b.setup keeps the covered entity, its lists and the payer rules: the PIC."""

from __future__ import annotations

import datetime as dt
from typing import Any

from rxdesk.claims.models import Payer, Plan
from rxdesk.core.choices import Role
from rxdesk.core.models import Site, User
from rxdesk.program340b import services
from rxdesk.program340b.models import (
    Accumulator,
    Allocation,
    Capture,
    CoveredEntity,
    EligiblePatient,
    EligiblePrescriber,
    Encounter,
    NdcExclusion,
    PayerRule,
    ReplenishmentOrder,
)
from tests.factories import PatientFactory
from tests.program340b.factories import eligible_site, entity, package, sold_fill, tech_of

T, TT, RPH, PIC, INV, AUD = (
    Role.TECHNICIAN,
    Role.TECHNICIAN_IN_TRAINING,
    Role.PHARMACIST,
    Role.PHARMACIST_IN_CHARGE,
    Role.INVENTORY_SPECIALIST,
    Role.AUDITOR,
)
NOBODY: frozenset[Role] = frozenset()
VIEWERS = frozenset({T, RPH, PIC, INV, AUD})
PATIENT_READERS = frozenset({T, RPH, PIC})
ORDERERS = frozenset({T, RPH, PIC, INV})
SETUP = frozenset({PIC})

P = "/api/v1/340b"


def _none(site: Site) -> dict[str, Any]:
    return {}


def _get(path: str) -> Any:
    return lambda s, u: (f"{P}{path}", None)


def _accumulated(site: Site) -> str:
    """One package of a new NDC accumulated (a sold, eligible, captured fill)."""
    _ce, patient = eligible_site(site)
    pack = package(size="30")
    sold_fill(site, pack, "30", patient=patient)
    services.p340b_capture(actor=tech_of(site))
    return pack.ndc11


def _plan() -> Plan:
    payer = Payer.objects.create(name="Medicaid", host="127.0.0.1", port=9, timeout_seconds=1)
    return Plan.objects.create(payer=payer, name="Medicaid FFS", bin="610494", pcn="MCAID")


def _entity_body(site: Site, user: User | None) -> tuple[str, dict[str, Any]]:
    return f"{P}/entity", {
        "opais_id": "DSH140001",
        "name": "Riverside Regional",
        "starts_on": (site.today() - dt.timedelta(days=30)).isoformat(),
        "lookback_months": 12,
    }


def _prescriber_body(site: Site, user: User | None) -> tuple[str, dict[str, Any]]:
    entity(site)
    return f"{P}/prescribers", {"npi": "1234567893", "effective_from": "2026-01-01"}


def _patient_body(site: Site, user: User | None) -> tuple[str, dict[str, Any]]:
    entity(site)
    patient = PatientFactory(site=site)
    return f"{P}/patients", {"patient_id": patient.pk, "effective_from": "2026-01-01"}


def _encounter_body(site: Site, user: User | None) -> tuple[str, dict[str, Any]]:
    entity(site)
    patient = PatientFactory(site=site)
    on = (site.today() - dt.timedelta(days=3)).isoformat()
    return f"{P}/encounters", {"patient_id": patient.pk, "location": "Clinic", "on": on}


def _rule_body(site: Site, user: User | None) -> tuple[str, dict[str, Any]]:
    entity(site)
    return f"{P}/payer-rules", {"plan_id": _plan().pk, "action": "exclude"}


def _exclusion_body(site: Site, user: User | None) -> tuple[str, dict[str, Any]]:
    entity(site)
    return f"{P}/exclusions", {"ndc": "00002322730", "reason": "Orphan drug"}


def _capture_body(site: Site, user: User | None) -> tuple[str, dict[str, Any]]:
    entity(site)
    return f"{P}/capture", {}


def _order_body(site: Site, user: User | None) -> tuple[str, dict[str, Any]]:
    ndc = _accumulated(site)
    return f"{P}/orders", {"ndc": ndc, "packages": 1, "po_number": "PO-1"}


def _order_get(site: Site, user: User | None) -> tuple[str, None]:
    ndc = _accumulated(site)
    order = services.p340b_order_create(
        actor=tech_of(site), site=site, ndc=ndc, packages=1, po_number="PO-7"
    )
    return f"{P}/orders/{order.pk}", None


API_ROWS: dict[tuple[str, str], Any] = {
    ("GET", "/340b/entity"): (VIEWERS, 200, _get("/entity")),
    ("PUT", "/340b/entity"): (SETUP, 200, _entity_body),
    ("GET", "/340b/prescribers"): (VIEWERS, 200, _get("/prescribers")),
    ("POST", "/340b/prescribers"): (SETUP, 201, _prescriber_body),
    ("GET", "/340b/patients"): (PATIENT_READERS, 200, _get("/patients")),
    ("POST", "/340b/patients"): (SETUP, 201, _patient_body),
    ("GET", "/340b/encounters"): (PATIENT_READERS, 200, _get("/encounters")),
    ("POST", "/340b/encounters"): (SETUP, 201, _encounter_body),
    ("GET", "/340b/payer-rules"): (VIEWERS, 200, _get("/payer-rules")),
    ("PUT", "/340b/payer-rules"): (SETUP, 200, _rule_body),
    ("GET", "/340b/exclusions"): (VIEWERS, 200, _get("/exclusions")),
    ("POST", "/340b/exclusions"): (SETUP, 201, _exclusion_body),
    ("GET", "/340b/inventory"): (VIEWERS, 200, _get("/inventory")),
    ("POST", "/340b/capture"): (ORDERERS, 200, _capture_body),
    ("GET", "/340b/decisions"): (VIEWERS, 200, _get("/decisions")),
    ("GET", "/340b/orders"): (VIEWERS, 200, _get("/orders")),
    ("POST", "/340b/orders"): (ORDERERS, 201, _order_body),
    ("GET", "/340b/orders/{order_id}"): (VIEWERS, 200, _order_get),
    ("GET", "/340b/report"): (VIEWERS, 200, _get("/report")),
}
UI_ROWS: dict[str, Any] = {
    "p340b_home": (_none, VIEWERS, NOBODY, None),
    "p340b_capture": (_none, None, ORDERERS, 302),
    "p340b_entity": (_none, VIEWERS, SETUP, 422),
    "p340b_prescribers": (_none, VIEWERS, SETUP, 422),
    "p340b_patients": (_none, PATIENT_READERS, SETUP, 422),
    "p340b_encounters": (_none, PATIENT_READERS, SETUP, 422),
    "p340b_payer_rules": (_none, VIEWERS, SETUP, 422),
    "p340b_exclusions": (_none, VIEWERS, SETUP, 422),
    "p340b_order": (_none, ORDERERS, ORDERERS, 422),
    "p340b_report": (_none, VIEWERS, NOBODY, None),
    "p340b_decisions": (_none, VIEWERS, NOBODY, None),
}
WATCHED: list[Any] = [
    CoveredEntity,
    EligiblePrescriber,
    EligiblePatient,
    Encounter,
    PayerRule,
    NdcExclusion,
    Accumulator,
    Capture,
    ReplenishmentOrder,
    Allocation,
]
