"""Permission-matrix rows for immunizations: administer (API_ROWS in the shape of
tests/test_permission_matrix.py's API_MATRIX; UI_ROWS and WATCHED in the shape of
tests/test_permission_matrix_ui.py's UI_MATRIX). Written by hand from the specification:

* doses name patients: reading them is imm.view + patient.view — technician, trainee,
  pharmacist, PIC (never the auditor or the inventory specialist);
* giving a dose and correcting one is imm.administer: technician (the rows set the site's
  "technicians administer" on, and name a supervising pharmacist), pharmacist, PIC;
* historical doses and refusals are imm.record: technician, pharmacist, PIC;
* entered in error is a pharmacist's (imm.administer + a pharmacist role): pharmacist, PIC;
* the screening questions hold no PHI: imm.view — technician, trainee, pharmacist, PIC."""

from __future__ import annotations

from typing import Any

from rxdesk.core.choices import Role
from rxdesk.core.models import Site, User
from rxdesk.immunizations.models import Immunization, ImmunizationVis, RegistryMessage
from rxdesk.inventory.models import StockBalance, StockMove
from tests.immunizations.administer_setup import (
    adult,
    dose_kwargs,
    given,
    pharmacist,
    ready,
)
from tests.immunizations.factories import FLU_USE_NDC10, imm_settings

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
GIVERS = frozenset({T, RPH, PIC})
RECORDERS = frozenset({T, RPH, PIC})
PHARMACISTS = frozenset({RPH, PIC})

P = "/api/v1/immunizations"


def _administer(site: Site, user: User | None) -> tuple[str, dict[str, Any]]:
    ready(site)
    imm_settings(site, technicians_administer=True)
    patient = adult(site)
    values = dose_kwargs(site, patient)
    body = {
        "patient_id": patient.pk,
        "code": FLU_USE_NDC10,
        "lot_number": values["lot_number"],
        "dose_ml": "0.5",
        "route": "C28161",
        "body_site": "LD",
        "answers": values["answers"],
        "consent_by": "SEL",
        "vis": [
            {"document_id": doc_id, "presented_on": on.isoformat()} for doc_id, on in values["vis"]
        ],
        "eligibility": "V01",
        "supervising_pharmacist_id": pharmacist(site).pk,
    }
    return P, body


def _historical(site: Site, user: User | None) -> tuple[str, dict[str, Any]]:
    given(site)  # the vaccine exists
    return f"{P}/historical", {
        "patient_id": adult(site, first_name="Hist").pk,
        "cvx": "150",
        "administered_on": "2023-10-01",
        "source": "02",
        "historical_source": "County health clinic",
    }


def _refusal(site: Site, user: User | None) -> tuple[str, dict[str, Any]]:
    given(site)
    return f"{P}/refusals", {
        "patient_id": adult(site, first_name="Ref").pk,
        "cvx": "150",
        "refusal_reason": "03",
    }


API_ROWS: dict[tuple[str, str], Any] = {
    ("GET", "/immunizations/screening-questions"): (
        READERS,
        200,
        lambda s, u: (f"{P}/screening-questions", None),
    ),
    ("POST", "/immunizations"): (GIVERS, 201, _administer),
    ("GET", "/immunizations"): (
        READERS,
        200,
        lambda s, u: (f"{P}?patient_id={given(s).patient_id}", None),
    ),
    ("GET", "/immunizations/{immunization_id}"): (
        READERS,
        200,
        lambda s, u: (f"{P}/{given(s).pk}", None),
    ),
    ("POST", "/immunizations/historical"): (RECORDERS, 201, _historical),
    ("POST", "/immunizations/refusals"): (RECORDERS, 201, _refusal),
    ("POST", "/immunizations/{immunization_id}/correction"): (
        GIVERS,
        200,
        lambda s, u: (f"{P}/{given(s).pk}/correction", {"dose_number": 2}),
    ),
    ("POST", "/immunizations/{immunization_id}/entered-in-error"): (
        PHARMACISTS,
        200,
        lambda s, u: (f"{P}/{given(s).pk}/entered-in-error", {"reason": "Wrong patient"}),
    ),
}


def _none(site: Site) -> dict[str, Any]:
    return {}


def _patient(site: Site) -> dict[str, Any]:
    return {"pk": adult(site).pk}


def _dose(site: Site) -> dict[str, Any]:
    return {"pk": given(site).pk}


# name: (kwargs, GET roles, POST roles, POST status for an allowed role with an empty form)
UI_ROWS: dict[str, Any] = {
    "imm_give": (_none, GIVERS, GIVERS, 422),
    "imm_give_findings": (_none, None, GIVERS, 200),
    "imm_patient_record": (_patient, READERS, NOBODY, None),
    "imm_historical_new": (_patient, RECORDERS, RECORDERS, 422),
    "imm_refusal_new": (_patient, RECORDERS, RECORDERS, 422),
    "imm_dose": (_dose, READERS, NOBODY, None),
    "imm_dose_correct": (_dose, None, GIVERS, 422),
    "imm_dose_error": (_dose, None, PHARMACISTS, 422),
}
WATCHED: list[Any] = [Immunization, ImmunizationVis, RegistryMessage, StockMove, StockBalance]
