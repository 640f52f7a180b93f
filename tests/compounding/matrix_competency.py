"""Permission-matrix rows for staff competency (API_ROWS in the shape of
tests/test_permission_matrix.py's API_MATRIX; UI_ROWS and WATCHED in the shape of
tests/test_permission_matrix_ui.py's UI_MATRIX). Written by hand from the specification:

* the board and a person's page are read with compounding.view (technician, pharmacist,
  pharmacist-in-charge, auditor);
* recording an evaluation is compounding.competency: pharmacists and the
  pharmacist-in-charge only, never a technician."""

from __future__ import annotations

from typing import Any

from rxdesk.compounding.models import CompetencyResult
from rxdesk.core.choices import Role
from rxdesk.core.models import Site, User
from tests.factories import UserFactory

T, RPH, PIC, AUD = (
    Role.TECHNICIAN,
    Role.PHARMACIST,
    Role.PHARMACIST_IN_CHARGE,
    Role.AUDITOR,
)
VIEWERS = frozenset({T, RPH, PIC, AUD})
EVALUATORS = frozenset({RPH, PIC})

P = "/api/v1/compounding"


def evaluated(site: Site) -> User:
    """A technician of the site whose competency is recorded (never the caller)."""
    name = f"cmp-evaluated-{site.pk}"
    return User.objects.filter(username=name).first() or UserFactory(
        site=site, role=T, username=name, first_name="Tess", last_name="Nguyen"
    )


def _record(site: Site, user: User | None) -> tuple[str, dict[str, Any]]:
    return f"{P}/competency/results", {
        "person_id": evaluated(site).pk,
        "kind": "didactic_sterile",
        "performed_on": site.today().isoformat(),
        "passed": True,
    }


API_ROWS: dict[tuple[str, str], Any] = {
    ("GET", "/compounding/competency"): (
        VIEWERS,
        200,
        lambda s, u: (f"{P}/competency?category=3", None),
    ),
    ("GET", "/compounding/competency/people/{user_id}"): (
        VIEWERS,
        200,
        lambda s, u: (f"{P}/competency/people/{evaluated(s).pk}", None),
    ),
    ("POST", "/compounding/competency/results"): (EVALUATORS, 201, _record),
}


def _none(site: Site) -> dict[str, Any]:
    return {}


def _person(site: Site) -> dict[str, Any]:
    return {"pk": evaluated(site).pk}


# name: (kwargs, GET roles, POST roles, POST status for an allowed role with an empty form)
UI_ROWS: dict[str, Any] = {
    "compounding_competency": (_none, VIEWERS, frozenset(), None),
    "compounding_competency_person": (_person, VIEWERS, EVALUATORS, 422),
}
WATCHED: list[Any] = [CompetencyResult]
