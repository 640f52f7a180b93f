"""Permission-matrix rows for hazardous drugs (API_ROWS in the shape of
tests/test_permission_matrix.py's API_MATRIX; UI_ROWS and WATCHED in the shape of
tests/test_permission_matrix_ui.py's UI_MATRIX). Written by hand from the specification:

* the HD list is compounding.view: technician, pharmacist, PIC, auditor;
* assessments of risk are written, reviewed and retired by the pharmacist-in-charge
  (compounding.approve) only.

Also the set-up the HD tests share: a hazardous drug in the catalog that is no
antineoplastic (finasteride), an antineoplastic (methotrexate), and an assessment."""

from __future__ import annotations

import datetime as dt
from typing import Any

from rxdesk.catalog.models import Product
from rxdesk.compounding.competency import add_months
from rxdesk.compounding.models import RiskAssessment
from rxdesk.core.choices import Role
from rxdesk.core.models import Site
from tests.catalog.factories import ProductFactory
from tests.compounding.matrix_formulas import approver_of

T, RPH, PIC, AUD = Role.TECHNICIAN, Role.PHARMACIST, Role.PHARMACIST_IN_CHARGE, Role.AUDITOR
VIEWERS = frozenset({T, RPH, PIC, AUD})
APPROVERS = frozenset({PIC})
NOBODY: frozenset[Role] = frozenset()

P = "/api/v1/compounding/hd"


def finasteride() -> Product:
    found = Product.objects.filter(product_id="70000-0401_fin").first()
    return found or ProductFactory(
        product_id="70000-0401_fin",
        product_ndc="70000-0401",
        name="Finasteride",
        generic_name="Finasteride",
        dosage_form="TABLET, FILM COATED",
        strength="5 mg/1",
        substances="FINASTERIDE",
        hazardous=True,
    )


def methotrexate() -> Product:
    found = Product.objects.filter(product_id="70000-0402_mtx").first()
    return found or ProductFactory(
        product_id="70000-0402_mtx",
        product_ndc="70000-0402",
        name="Methotrexate",
        generic_name="Methotrexate Sodium",
        dosage_form="TABLET",
        strength="2.5 mg/1",
        substances="METHOTREXATE SODIUM",
        hazardous=True,
    )


def assessment(
    site: Site,
    *,
    product: Product | None = None,
    manipulation: str = "count-repackage",
    reviewed_on: dt.date | None = None,
) -> RiskAssessment:
    """An assessment of risk written straight into the table (bypassing the service)."""
    day = reviewed_on or site.today() - dt.timedelta(days=300)
    pic = approver_of(site)
    return RiskAssessment.objects.create(
        site=site,
        product=product or finasteride(),
        dosage_form="film-coated tablet",
        packaging="bottle of 30",
        manipulation=manipulation,
        risk_of_exposure="Low: intact coated tablets",
        containment="Dedicated counting tray; no automated counter",
        ppe="One pair of chemotherapy gloves",
        reviewed_on=day,
        review_due=add_months(day, 12),
        approved_by=pic,
        approved_by_name=pic.username,
    )


def _new_body(site: Site) -> dict[str, Any]:
    return {
        "product": finasteride().pk,
        "dosage_form": "film-coated tablet",
        "packaging": "bottle of 30",
        "manipulation": "count-repackage",
        "risk_of_exposure": "Low: intact coated tablets",
        "containment": "Dedicated counting tray; no automated counter",
        "ppe": "One pair of chemotherapy gloves",
        "reviewed_on": site.today().isoformat(),
    }


API_ROWS: dict[tuple[str, str], Any] = {
    ("GET", "/compounding/hd"): (VIEWERS, 200, lambda s, u: (P, None)),
    ("POST", "/compounding/hd/assessments"): (
        APPROVERS,
        201,
        lambda s, u: (f"{P}/assessments", _new_body(s)),
    ),
    ("POST", "/compounding/hd/assessments/{assessment_id}/review"): (
        APPROVERS,
        200,
        lambda s, u: (
            f"{P}/assessments/{assessment(s).pk}/review",
            {"reviewed_on": s.today().isoformat(), "note": "Unchanged"},
        ),
    ),
    ("POST", "/compounding/hd/assessments/{assessment_id}/retire"): (
        APPROVERS,
        200,
        lambda s, u: (f"{P}/assessments/{assessment(s).pk}/retire", {"reason": "Not stocked"}),
    ),
}


def _none(site: Site) -> dict[str, Any]:
    return {}


def _assessment(site: Site) -> dict[str, Any]:
    return {"pk": assessment(site).pk}


# name: (kwargs, GET roles, POST roles, POST status for an allowed role with an empty form)
UI_ROWS: dict[str, Any] = {
    "compounding_hd": (_none, VIEWERS, NOBODY, None),
    "compounding_hd_assessment_new": (_none, APPROVERS, APPROVERS, 422),
    "compounding_hd_assessment_review": (_assessment, APPROVERS, APPROVERS, 422),
    "compounding_hd_assessment_retire": (_assessment, None, APPROVERS, 422),
}
WATCHED: list[Any] = [RiskAssessment]
