"""Permission-matrix rows for people and training (API_ROWS in the shape of
tests/test_permission_matrix.py's API_MATRIX; UI_ROWS and WATCHED in the shape of
tests/test_permission_matrix_ui.py's UI_MATRIX). Written by hand from the specification:

* everyone who works here (technician, trainee, pharmacist, PIC, inventory specialist, and
  the auditor who reads everyone's) reads their own record, the skills catalog and the lists
  (their own rows, or everyone's with people.view); the administrator runs accounts, not
  the pharmacy;
* everyone's record, the alerts, the matrix and the settings are people.view: pharmacist,
  PIC, auditor;
* CE and precepting hours are logged with people.ce: everyone but the auditor (whose CE is
  not kept here); assigning plans, assessing and signing precepting are people.train
  (pharmacist, PIC); the skills and the renewal rules are people.setup (the PIC).

Rows that reach a service with a body it refuses (a matrix user is not the preceptor named
on the entry, the CE row is another person's…) expect the service's answer: the point of the
matrix is who gets past the door."""

from __future__ import annotations

import datetime as dt
from typing import Any

from rxdesk.core.choices import Role
from rxdesk.core.models import Site, User
from rxdesk.people.models import (
    CompetencyAssessment,
    ContinuingEducation,
    PeopleSettings,
    PreceptorshipEntry,
    Skill,
    TrainingPlan,
)
from tests.people.setup import ce, precepting, skill, staff

T, TT, RPH, PIC, INV, AUD = (
    Role.TECHNICIAN,
    Role.TECHNICIAN_IN_TRAINING,
    Role.PHARMACIST,
    Role.PHARMACIST_IN_CHARGE,
    Role.INVENTORY_SPECIALIST,
    Role.AUDITOR,
)
NOBODY: frozenset[Role] = frozenset()
VIEWERS = frozenset({T, TT, RPH, PIC, INV, AUD})
READERS = frozenset({RPH, PIC, AUD})
STAFF = frozenset({T, TT, RPH, PIC, INV})
TRAINERS = frozenset({RPH, PIC})
SETUP = frozenset({PIC})

P = "/api/v1/people"


def _none(site: Site) -> dict[str, Any]:
    return {}


def _get(path: str) -> Any:
    return lambda s, u: (f"{P}{path}", None)


def _person(site: Site, user: User | None) -> tuple[str, None]:
    other = staff(site, Role.TECHNICIAN, "fx-other")
    return f"{P}/staff/{other.pk}", None


def _settings_body(site: Site, user: User | None) -> tuple[str, dict[str, Any]]:
    return f"{P}/settings", {
        "alert_window_days": 45,
        "tech_ce_hours": "20",
        "tech_ce_law_hours": "1",
        "tech_ce_safety_hours": "1",
        "tech_cycle_months": 24,
        "rph_ce_hours": "30",
        "rph_ce_law_hours": "2",
        "rph_ce_safety_hours": "1",
        "rph_cycle_months": 24,
    }


def _skill_body(site: Site, user: User | None) -> tuple[str, dict[str, Any]]:
    return f"{P}/skills", {"code": "robot", "name": "Robot", "category": "automation"}


def _skill_patch(site: Site, user: User | None) -> tuple[str, dict[str, Any]]:
    return f"{P}/skills/{skill(site).pk}", {"renew_months": 24}


def _plan_body(site: Site, user: User | None) -> tuple[str, dict[str, Any]]:
    trainee = staff(site, Role.TECHNICIAN_IN_TRAINING, "fx-plan-trainee")
    today = site.today()
    return f"{P}/plans", {
        "trainee_id": trainee.pk,
        "title": "Onboarding",
        "started_on": today.isoformat(),
        "due_on": (today + dt.timedelta(days=30)).isoformat(),
        "skill_ids": [skill(site).pk],
    }


def _assess_body(site: Site, user: User | None) -> tuple[str, dict[str, Any]]:
    person = staff(site, Role.TECHNICIAN, "fx-assessed")
    return f"{P}/assessments", {
        "person_id": person.pk,
        "skill_id": skill(site).pk,
        "assessed_on": site.today().isoformat(),
        "method": "observation",
        "result": "pass",
    }


def _precept_body(site: Site, user: User | None) -> tuple[str, dict[str, Any]]:
    # The matrix user logs their own hours: a pharmacist as preceptor, anyone else as trainee.
    rph = staff(site, Role.PHARMACIST, "fx-preceptor")
    tech = staff(site, Role.TECHNICIAN_IN_TRAINING, "fx-trainee")
    me = user.pk if user is not None else tech.pk
    mine_as_preceptor = user is not None and user.role in TRAINERS
    return f"{P}/precepting", {
        "trainee_id": tech.pk if mine_as_preceptor else me,
        "preceptor_id": me if mine_as_preceptor else rph.pk,
        "on": site.today().isoformat(),
        "hours": "3.5",
        "activities": "Data entry under supervision",
    }


def _sign(site: Site, user: User | None) -> tuple[str, None]:
    entry = precepting(site)
    if user is not None and user.role in TRAINERS:
        # The matrix user is the entry's preceptor, so the signature goes through.
        PreceptorshipEntry.objects.filter(pk=entry.pk).update(preceptor=user)
    return f"{P}/precepting/{entry.pk}/sign", None


def _ce_body(site: Site, user: User | None) -> tuple[str, dict[str, Any]]:
    return f"{P}/ce", {
        "provider": "Power-Pak C.E.",
        "title": "Sterile compounding refresher",
        "completed_on": site.today().isoformat(),
        "hours": "2",
        "uan": "0197-0000-23-105-H07-T",
    }


def _ce_error(site: Site, user: User | None) -> tuple[str, dict[str, Any]]:
    row = ce(site)
    if user is not None:
        ContinuingEducation.objects.filter(pk=row.pk).update(person=user)
    return f"{P}/ce/{row.pk}/entered-in-error", {"reason": "Duplicate certificate"}


API_ROWS: dict[tuple[str, str], Any] = {
    ("GET", "/people/me"): (VIEWERS, 200, _get("/me")),
    ("GET", "/people/staff/{user_id}"): (READERS, 200, _person),
    ("GET", "/people/alerts"): (READERS, 200, _get("/alerts")),
    ("GET", "/people/matrix"): (READERS, 200, _get("/matrix")),
    ("GET", "/people/settings"): (READERS, 200, _get("/settings")),
    ("PUT", "/people/settings"): (SETUP, 200, _settings_body),
    ("GET", "/people/skills"): (VIEWERS, 200, _get("/skills")),
    ("POST", "/people/skills"): (SETUP, 201, _skill_body),
    ("PATCH", "/people/skills/{skill_id}"): (SETUP, 200, _skill_patch),
    ("GET", "/people/plans"): (VIEWERS, 200, _get("/plans")),
    ("POST", "/people/plans"): (TRAINERS, 201, _plan_body),
    ("GET", "/people/assessments"): (VIEWERS, 200, _get("/assessments")),
    ("POST", "/people/assessments"): (TRAINERS, 201, _assess_body),
    ("GET", "/people/precepting"): (VIEWERS, 200, _get("/precepting")),
    ("POST", "/people/precepting"): (STAFF, 201, _precept_body),
    ("POST", "/people/precepting/{entry_id}/sign"): (TRAINERS, 200, _sign),
    ("GET", "/people/ce"): (VIEWERS, 200, _get("/ce")),
    ("POST", "/people/ce"): (STAFF, 201, _ce_body),
    ("POST", "/people/ce/{ce_id}/entered-in-error"): (STAFF, 200, _ce_error),
}


def _other(site: Site) -> dict[str, Any]:
    return {"pk": staff(site, Role.TECHNICIAN, "fx-other").pk}


def _skill_kw(site: Site) -> dict[str, Any]:
    return {"pk": skill(site).pk}


def _entry_kw(site: Site) -> dict[str, Any]:
    return {"pk": precepting(site).pk}


def _ce_kw(site: Site) -> dict[str, Any]:
    return {"pk": ce(site).pk}


# An empty POST: a form answers 422; a button reaches its service, which refuses (the matrix
# user is not the entry's preceptor: 403 for everyone; the CE row is another person's and no
# reason was given: 422 from the form).
UI_ROWS: dict[str, Any] = {
    "people_home": (_none, VIEWERS, NOBODY, None),
    "people_person": (_other, READERS, NOBODY, None),
    "people_matrix": (_none, READERS, NOBODY, None),
    "people_matrix_csv": (_none, READERS, NOBODY, None),
    "people_settings": (_none, READERS, SETUP, 422),
    "people_skills": (_none, READERS, SETUP, 422),
    "people_skill_edit": (_skill_kw, SETUP, SETUP, 422),
    "people_plan_new": (_none, TRAINERS, TRAINERS, 422),
    "people_assess": (_none, TRAINERS, TRAINERS, 422),
    "people_precept_new": (_none, STAFF, STAFF, 422),
    "people_precept_sign": (_entry_kw, None, NOBODY, 403),
    "people_ce_new": (_none, STAFF, STAFF, 422),
    "people_ce_error": (_ce_kw, None, STAFF, 422),
}
WATCHED: list[Any] = [
    PeopleSettings,
    Skill,
    TrainingPlan,
    CompetencyAssessment,
    PreceptorshipEntry,
    ContinuingEducation,
]
