"""Permission-matrix rows for compounding: calc (API_ROWS in the shape of
tests/test_permission_matrix.py's API_MATRIX; UI_ROWS and WATCHED in the shape of
tests/test_permission_matrix_ui.py's UI_MATRIX). Written by hand from the specification:

* the calculators, the PN order calculator and the IV admixture standards are
  compounding.view: technicians, pharmacists, the pharmacist-in-charge and auditors; the
  technician-in-training, the inventory specialist and the admin get 403;
* they write nothing (no row to watch); a valid calculation answers 200, and an empty
  form on a page is a 422 beside its fields."""

from __future__ import annotations

from typing import Any

from rxdesk.core.choices import Role
from rxdesk.core.models import Site

T, RPH, PIC, AUD = Role.TECHNICIAN, Role.PHARMACIST, Role.PHARMACIST_IN_CHARGE, Role.AUDITOR
VIEWERS = frozenset({T, RPH, PIC, AUD})

P = "/api/v1/compounding"


def _post(path: str, body: dict[str, Any]) -> Any:
    return lambda site, user: (f"{P}{path}", body)


API_ROWS: dict[tuple[str, str], Any] = {
    ("POST", "/compounding/calc/dose-volume"): (
        VIEWERS,
        200,
        _post("/calc/dose-volume", {"dose": "375", "strength": "250", "per_volume": "5"}),
    ),
    ("POST", "/compounding/calc/percent"): (
        VIEWERS,
        200,
        _post("/calc/percent", {"kind": "w/v", "ratio": "1000"}),
    ),
    ("POST", "/compounding/calc/dilution"): (
        VIEWERS,
        200,
        _post("/calc/dilution", {"c1": "70", "c2": "30", "v2": "500"}),
    ),
    ("POST", "/compounding/calc/alligation"): (
        VIEWERS,
        200,
        _post("/calc/alligation", {"high": "2.5", "low": "0.5", "desired": "1", "total": "200"}),
    ),
    ("POST", "/compounding/calc/milliequivalents"): (
        VIEWERS,
        200,
        _post("/calc/milliequivalents", {"salt": "kcl", "amount": "750", "unit": "mg"}),
    ),
    ("POST", "/compounding/calc/osmolarity"): (
        VIEWERS,
        200,
        _post("/calc/osmolarity", {"solute": "nacl", "concentration": "0.9"}),
    ),
    ("POST", "/compounding/calc/dose"): (
        VIEWERS,
        200,
        _post("/calc/dose", {"dose": "90", "weight": "20", "doses_per_day": "2"}),
    ),
    ("POST", "/compounding/calc/bsa"): (
        VIEWERS,
        200,
        _post("/calc/bsa", {"height": "170", "weight": "70"}),
    ),
    ("POST", "/compounding/calc/flow-rate"): (
        VIEWERS,
        200,
        _post("/calc/flow-rate", {"volume": "1000", "time": "8", "drop_factor": 15}),
    ),
    ("POST", "/compounding/calc/infusion-time"): (
        VIEWERS,
        200,
        _post("/calc/infusion-time", {"volume": "500", "rate": "75"}),
    ),
    ("POST", "/compounding/calc/dose-rate"): (
        VIEWERS,
        200,
        _post(
            "/calc/dose-rate",
            {
                "dose": "1000",
                "dose_unit": "units/h",
                "concentration": "50",
                "concentration_unit": "units/mL",
            },
        ),
    ),
    ("POST", "/compounding/calc/temperature"): (
        VIEWERS,
        200,
        _post("/calc/temperature", {"value": "8", "unit": "degC"}),
    ),
    ("POST", "/compounding/pn"): (
        VIEWERS,
        200,
        _post(
            "/pn",
            {
                "final_volume_ml": "1250",
                "dextrose_g": "250",
                "dextrose_stock_percent": "50",
                "amino_acids_g": "50",
                "lipid_ml": "250",
            },
        ),
    ),
    ("GET", "/compounding/admixtures"): (VIEWERS, 200, lambda s, u: (f"{P}/admixtures", None)),
    ("POST", "/compounding/admixtures/calculate"): (
        VIEWERS,
        200,
        _post("/admixtures/calculate", {"drug": "heparin-100"}),
    ),
}


def _none(site: Site) -> dict[str, Any]:
    return {}


# name: (kwargs, GET roles, POST roles, POST status for an allowed role with an empty form)
UI_ROWS: dict[str, Any] = {
    "compounding_calc": (_none, VIEWERS, VIEWERS, 422),
    "compounding_pn": (_none, VIEWERS, VIEWERS, 422),
    "compounding_admixtures": (_none, VIEWERS, VIEWERS, 422),
}

# The calculators write nothing; the matrix's audit-event count covers that.
WATCHED: list[Any] = []
