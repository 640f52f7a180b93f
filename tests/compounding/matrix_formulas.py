"""Permission-matrix rows for master formulas (API_ROWS in the shape of
tests/test_permission_matrix.py's API_MATRIX; UI_ROWS and WATCHED in the shape of
tests/test_permission_matrix_ui.py's UI_MATRIX). Written by hand from the specification:

* reading formulas is compounding.view: technician, pharmacist, PIC, auditor;
* writing a formula (a draft, a new version) is compounding.formula: pharmacist and PIC;
* approving and retiring is compounding.approve: the pharmacist-in-charge only.

Also the set-up the formula tests share: a pharmacist author, and the two formulas of
tests/compounding/factories.py with their components' packages counted in the units the
formulas use (so a formula checks out when approved)."""

from __future__ import annotations

from typing import Any

from rxdesk.compounding.models import FormulaIngredient, MasterFormula
from rxdesk.core.choices import Role
from rxdesk.core.models import Site, User
from tests.compounding.factories import hydrocortisone_cream, stocked_components
from tests.factories import UserFactory

T, TT, RPH, PIC, INV, AUD, ADM = (
    Role.TECHNICIAN,
    Role.TECHNICIAN_IN_TRAINING,
    Role.PHARMACIST,
    Role.PHARMACIST_IN_CHARGE,
    Role.INVENTORY_SPECIALIST,
    Role.AUDITOR,
    Role.ADMIN,
)
VIEWERS = frozenset({T, RPH, PIC, AUD})
WRITERS = frozenset({RPH, PIC})
APPROVERS = frozenset({PIC})
NOBODY: frozenset[Role] = frozenset()

P = "/api/v1/compounding/formulas"


# --- set-up helpers ---------------------------------------------------------------------------


def author_of(site: Site) -> User:
    """A pharmacist of the site who writes formulas."""
    return UserFactory(site=site, role=RPH, username=f"cmp-author-{site.pk}")


def approver_of(site: Site) -> User:
    return UserFactory(site=site, role=PIC, username=f"cmp-pic-{site.pk}")


def draft(site: Site, code: str = "HC1CR") -> MasterFormula:
    """Hydrocortisone 1 % cream, a draft that checks out (its creams counted in grams)."""
    stocked_components(site)
    found = MasterFormula.objects.filter(site=site, code=code, status="draft").first()
    return found or hydrocortisone_cream(site, author_of(site), code=code)


def approved(site: Site, code: str = "HC1CR") -> MasterFormula:
    stocked_components(site)
    found = MasterFormula.objects.filter(site=site, code=code, status="approved").first()
    return found or hydrocortisone_cream(
        site, author_of(site), approver=approver_of(site), code=code
    )


def new_formula_body(code: str = "MGSUSP") -> dict[str, Any]:
    """A nonsterile oral suspension with one unstocked ingredient (water): no catalog
    product, so nothing about the stock can refuse it."""
    return {
        "code": code,
        "name": "Magnesium hydroxide",
        "strength": "80 mg/mL",
        "dosage_form": "oral suspension",
        "route": "oral",
        "category": "nonsterile",
        "preparation": "aqueous",
        "preserved": True,
        "storage": "room",
        "batch_quantity": "100",
        "batch_unit": "mL",
        "container": "120 mL amber bottle",
        "procedure": "Levigate the powder; add the vehicle q.s. to 100 mL; shake.",
        "ingredients": [
            {"name": "Magnesium hydroxide powder", "quantity": "8", "unit": "g"},
            {
                "name": "Ora-Plus : Ora-Sweet 1:1",
                "quantity": "100",
                "unit": "mL",
                "role": "vehicle",
                "quantity_sufficient": True,
            },
        ],
    }


# --- API rows ---------------------------------------------------------------------------------

API_ROWS: dict[tuple[str, str], Any] = {
    ("GET", "/compounding/formulas"): (VIEWERS, 200, lambda s, u: (P, None)),
    ("POST", "/compounding/formulas"): (WRITERS, 201, lambda s, u: (P, new_formula_body())),
    ("GET", "/compounding/formulas/{formula_id}"): (
        VIEWERS,
        200,
        lambda s, u: (f"{P}/{draft(s).pk}", None),
    ),
    ("PATCH", "/compounding/formulas/{formula_id}"): (
        WRITERS,
        200,
        lambda s, u: (f"{P}/{draft(s).pk}", {"strength": "1 % w/w"}),
    ),
    ("POST", "/compounding/formulas/{formula_id}/versions"): (
        WRITERS,
        201,
        lambda s, u: (f"{P}/{approved(s).pk}/versions", {"change_note": "Larger jar"}),
    ),
    ("POST", "/compounding/formulas/{formula_id}/approve"): (
        APPROVERS,
        200,
        lambda s, u: (f"{P}/{draft(s).pk}/approve", None),
    ),
    ("POST", "/compounding/formulas/{formula_id}/retire"): (
        APPROVERS,
        200,
        lambda s, u: (f"{P}/{approved(s).pk}/retire", {"reason": "No longer prescribed"}),
    ),
}


# --- UI rows ----------------------------------------------------------------------------------


def _none(site: Site) -> dict[str, Any]:
    return {}


def _draft(site: Site) -> dict[str, Any]:
    return {"pk": draft(site).pk}


def _approved(site: Site) -> dict[str, Any]:
    return {"pk": approved(site).pk}


# name: (kwargs, GET roles, POST roles, POST status for an allowed role with an empty form)
UI_ROWS: dict[str, Any] = {
    "compounding_formulas": (_none, VIEWERS, NOBODY, None),
    "compounding_formula_new": (_none, WRITERS, WRITERS, 422),
    "compounding_formula": (_draft, VIEWERS, NOBODY, None),
    "compounding_formula_edit": (_draft, WRITERS, WRITERS, 422),
    "compounding_formula_version": (_approved, None, WRITERS, 422),
    "compounding_formula_approve": (_draft, None, APPROVERS, 302),
    "compounding_formula_retire": (_approved, None, APPROVERS, 422),
}
WATCHED: list[Any] = [MasterFormula, FormulaIngredient]
