"""The BUD contract (POST /api/v1/compounding/bud), the in-use calculator by the site's
limits, and those limits (the service and GET/PATCH /compounding/settings): exact answers,
422 problem bodies naming the field for combinations the chapter does not allow and for
hostile JSON (never a 500), and limits changed only by the pharmacist-in-charge."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from rxdesk.compounding.models import CompoundingSettings
from rxdesk.compounding.services_settings import (
    compounding_settings_get,
    compounding_settings_update,
    in_use_limits,
)
from rxdesk.core.errors import Forbidden, Invalid
from rxdesk.core.models import AuditEvent
from rxdesk.core.services import token_create
from tests.compounding.matrix_bud import ISSUE_BODY

pytestmark = pytest.mark.django_db

P = "/api/v1/compounding"


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def api(technician) -> Client:
    return _client(technician)


def _post(client: Client, path: str, body: Any) -> Any:
    return client.post(path, data=json.dumps(body), content_type="application/json")


def _events() -> int:
    return AuditEvent.objects.exclude(action__startswith="auth.").count()


def _fields(response) -> list[str]:
    """The fields a problem body names (an item of a list by its field: ``a.0`` → ``a``)."""
    assert response["Content-Type"] == "application/problem+json"
    return [e["field"].split(".")[0] for e in response.json()["errors"]]


# --- The contract --------------------------------------------------------------------------


def test_the_issues_example_body_answers_the_category_2_refrigerated_bud(api):
    response = _post(api, f"{P}/bud", ISSUE_BODY)

    assert response.status_code == 200, response.content
    body = response.json()
    assert body == {
        "beyond_use": "2026-01-15T09:00:00-05:00",
        "rule": "USP <797> Category 2 (Table 13): aseptically processed, not sterility "
        "tested, only sterile starting components, refrigerator: 10 days from compounding",
        "limited_by_component": False,
        "limited_by_stability": False,
        "table_limit": "2026-01-15T09:00:00-05:00",
        "shows_time": False,
    }


def test_an_earlier_component_expiry_limits_the_bud_to_the_end_of_that_day(api):
    body = {**ISSUE_BODY, "component_expirations": ["2026-02-01", "2026-01-10", "2027-01-01"]}

    answer = _post(api, f"{P}/bud", body).json()

    assert answer["beyond_use"] == "2026-01-10T23:59:00-05:00"
    assert answer["limited_by_component"] is True
    assert answer["rule"].endswith("limited by the earliest component expiry, 2026-01-10")


@pytest.mark.parametrize(
    ("body", "beyond_use", "words"),
    [
        (
            {
                "type": "nonsterile",
                "prepared_at": "2026-01-05T09:00:00-06:00",
                "storage": "room",
                "preparation": "aqueous",
                "preserved": True,
            },
            "2026-02-09T09:00:00-06:00",
            "USP <795> Table 4: aqueous (water activity ≥ 0.60), preserved, room temperature: "
            "35 days",
        ),
        (
            {
                "type": "nonsterile",
                "category": "nonsterile",
                "prepared_at": "2026-01-05T09:00:00+05:30",
                "storage": "refrigerator",
                "preparation": "other-nonaqueous",
            },
            "2026-07-04T09:00:00+05:30",
            "180 days",
        ),
        (
            {
                "type": "sterile",
                "category": "1",
                "prepared_at": "2026-01-05T09:00:00Z",
                "storage": "room",
            },
            "2026-01-05T21:00:00Z",
            "Category 1 (Table 12), room temperature: 12 hours",
        ),
        (
            {
                "type": "sterile",
                "category": "3",
                "prepared_at": "2026-01-05T09:00:00-05:00",
                "storage": "freezer",
                "aseptic": False,
                "sterility_tested": True,
            },
            "2026-07-04T09:00:00-05:00",
            "Category 3 (Table 14): terminally sterilized",
        ),
        (
            {
                "type": "sterile",
                "category": "immediate-use",
                "prepared_at": "2026-01-05T09:00:00-05:00",
                "storage": "room",
            },
            "2026-01-05T13:00:00-05:00",
            "within 4 hours",
        ),
        (
            {**ISSUE_BODY, "stability_days": 7},
            "2026-01-12T09:00:00-05:00",
            "limited by stability data to 7 days",
        ),
    ],
)
def test_worked_examples(api, body, beyond_use, words):
    response = _post(api, f"{P}/bud", body)

    assert response.status_code == 200, response.content
    assert response.json()["beyond_use"] == beyond_use
    assert words in response.json()["rule"]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        (
            {"type": "nonsterile", "category": None, "preparation": "aqueous", "storage": "room"},
            "storage",
        ),
        ({"category": "1", "storage": "freezer"}, "storage"),
        ({"category": "3", "sterility_tested": False}, "sterility_tested"),
        (
            {"category": "immediate-use", "sterile_starting_components": False},
            "sterile_starting_components",
        ),
        ({"component_expirations": ["2026-01-04"]}, "component_expirations"),
        ({"type": "nonsterile", "category": None, "preparation": None}, "preparation"),
        ({"type": "nonsterile"}, "category"),
        ({"category": None}, "category"),
        ({"category": "nonsterile"}, "category"),
        ({"prepared_at": "2999-12-31T09:00:00-05:00", "category": "3"}, "sterility_tested"),
    ],
)
def test_combinations_the_chapter_does_not_allow_are_a_422_naming_the_field(api, changes, field):
    response = _post(api, f"{P}/bud", {**ISSUE_BODY, **changes})

    assert response.status_code == 422, response.content
    assert _fields(response) == [field]
    assert response.json()["errors"][0]["message"]


HOSTILE: list[tuple[str, Any, str]] = [
    ("naive datetime", {"prepared_at": "2026-01-05T09:00:00"}, "prepared_at"),
    ("date only", {"prepared_at": "2026-01-05"}, "prepared_at"),
    ("not a datetime", {"prepared_at": "soon"}, "prepared_at"),
    ("year 1", {"prepared_at": "0001-01-01T00:00:00+14:00"}, "prepared_at"),
    ("year 9999", {"prepared_at": "9999-12-31T23:00:00-12:00"}, "prepared_at"),
    ("unknown storage", {"storage": "cold"}, "storage"),
    ("unknown type", {"type": "semi-sterile"}, "type"),
    ("unknown category", {"category": "4"}, "category"),
    ("category a number", {"category": 2}, "category"),
    ("unknown preparation", {"preparation": "gel"}, "preparation"),
    ("unknown field", {"risk_level": "low"}, "risk_level"),
    ("null type", {"type": None}, "type"),
    ("null storage", {"storage": None}, "storage"),
    ("null prepared_at", {"prepared_at": None}, "prepared_at"),
    ("null aseptic", {"aseptic": None}, "aseptic"),
    ("string bool", {"aseptic": "yes"}, "aseptic"),
    ("number bool", {"sterility_tested": 1}, "sterility_tested"),
    ("null list", {"component_expirations": None}, "component_expirations"),
    ("string list", {"component_expirations": "2026-03-01"}, "component_expirations"),
    ("numbers in list", {"component_expirations": [20260301]}, "component_expirations"),
    ("objects in list", {"component_expirations": [{"a": 1}]}, "component_expirations"),
    ("bad date", {"component_expirations": ["2026-02-30"]}, "component_expirations"),
    ("huge list", {"component_expirations": ["2026-03-01"] * 5000}, "component_expirations"),
    ("stability zero", {"stability_days": 0}, "stability_days"),
    ("stability huge", {"stability_days": 10**30}, "stability_days"),
    ("stability text", {"stability_days": "ten"}, "stability_days"),
]


@pytest.mark.parametrize(
    ("changes", "field"), [pytest.param(c, f, id=name) for name, c, f in HOSTILE]
)
def test_hostile_json_is_a_422_naming_the_field(api, changes, field):
    response = _post(api, f"{P}/bud", {**ISSUE_BODY, **changes})

    assert response.status_code == 422, response.content
    assert field in _fields(response)


TOO_LARGE = pytest.param(
    json.dumps({**ISSUE_BODY, "component_expirations": ["2026-03-01"] * 300_000}),
    id="too large",
)


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param("[1, 2]", id="list"),
        pytest.param('"text"', id="string"),
        pytest.param("null", id="null"),
        pytest.param("{}", id="empty"),
        pytest.param("{not json", id="broken"),
        pytest.param("[" * 5000 + "]" * 5000, id="deep"),
        TOO_LARGE,
    ],
)
def test_bodies_that_are_not_a_preparation_are_refused_never_a_500(api, raw):
    response = api.post(f"{P}/bud", data=raw, content_type="application/json")

    assert 400 <= response.status_code < 500, response.content[:300]


def test_a_body_over_the_size_limit_is_a_413_problem(api):
    raw = json.dumps({**ISSUE_BODY, "component_expirations": ["2026-03-01"] * 300_000})

    response = api.post(f"{P}/bud", data=raw, content_type="application/json")

    assert response.status_code == 413
    assert response.json()["title"] == "Request too large"


def test_missing_required_fields_are_each_named(api):
    response = _post(api, f"{P}/bud", {})

    assert response.status_code == 422
    assert set(_fields(response)) == {"type", "prepared_at", "storage"}


def test_a_far_future_component_and_a_long_stability_do_not_limit(api):
    body = {**ISSUE_BODY, "component_expirations": ["9999-12-31"], "stability_days": 3650}

    answer = _post(api, f"{P}/bud", body).json()

    assert answer["beyond_use"] == "2026-01-15T09:00:00-05:00"
    assert (answer["limited_by_component"], answer["limited_by_stability"]) == (False, False)


def test_an_api_token_works_and_computing_writes_nothing(pharmacist):
    _, secret = token_create(actor=pharmacist, user=pharmacist, name="pump interface")
    before = _events()

    response = Client().post(
        f"{P}/bud",
        data=json.dumps(ISSUE_BODY),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {secret}",
    )

    assert response.status_code == 200
    assert _events() == before


def test_a_trainee_is_refused(trainee):
    response = _post(_client(trainee), f"{P}/bud", ISSUE_BODY)
    assert response.status_code == 403


# --- In-use by the site's limits ------------------------------------------------------------


def _california(site) -> CompoundingSettings:
    return CompoundingSettings.objects.create(
        site=site, single_dose_iso5_hours=6, single_dose_outside_iso5_hours=1
    )


@pytest.mark.parametrize(
    ("body", "usp", "california"),
    [
        ({"container": "single-dose"}, "2026-01-05T21:00:00-06:00", "2026-01-05T15:00:00-06:00"),
        (
            {"container": "single-dose", "in_iso5": False},
            "2026-01-05T09:00:00-06:00",
            "2026-01-05T10:00:00-06:00",
        ),
        ({"container": "ampule"}, "2026-01-05T09:00:00-06:00", "2026-01-05T09:00:00-06:00"),
        (
            {"container": "multiple-dose"},
            "2026-02-02T09:00:00-06:00",
            "2026-02-02T09:00:00-06:00",
        ),
        (
            {"container": "pharmacy-bulk", "label_hours": 4},
            "2026-01-05T13:00:00-06:00",
            "2026-01-05T13:00:00-06:00",
        ),
        (
            {"container": "multiple-dose", "expiry": "2026-01-20"},
            "2026-01-20T23:59:00-06:00",
            "2026-01-20T23:59:00-06:00",
        ),
    ],
)
def test_in_use_by_usp_and_by_a_stricter_state(api, site, body, usp, california):
    request = {"opened_at": "2026-01-05T09:00:00-06:00", **body}

    by_usp = _post(api, f"{P}/in-use", request)
    _california(site)
    by_state = _post(api, f"{P}/in-use", request)

    assert by_usp.status_code == by_state.status_code == 200, by_usp.content
    assert by_usp.json()["in_use_until"] == usp
    assert by_state.json()["in_use_until"] == california
    assert by_state.json()["rule"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"container": "pharmacy-bulk"}, "label_hours"),
        ({"container": "pharmacy-bulk", "label_hours": 4, "in_iso5": False}, "in_iso5"),
        ({"container": "vial"}, "container"),
        ({"container": "single-dose", "opened_at": "2026-01-05T09:00:00"}, "opened_at"),
        ({"container": "single-dose", "expiry": "2026-01-01"}, "expiry"),
        ({"container": "single-dose", "label_hours": -1}, "label_hours"),
        ({"container": "multiple-dose", "label_days": 0}, "label_days"),
        ({"container": "single-dose", "in_iso5": None}, "in_iso5"),
        ({"container": "single-dose", "bottle": True}, "bottle"),
    ],
)
def test_in_use_refusals_name_the_field(api, body, field):
    response = _post(api, f"{P}/in-use", {"opened_at": "2026-01-05T09:00:00-06:00", **body})

    assert response.status_code == 422, response.content
    assert field in _fields(response)


# --- The site's limits: the service --------------------------------------------------------


def test_without_a_row_the_limits_are_usps_and_reading_writes_nothing(site):
    found = compounding_settings_get(site)

    assert found.pk is None
    assert (
        found.single_dose_iso5_hours,
        found.single_dose_outside_iso5_hours,
        found.multiple_dose_days,
        found.retention_years,
        found.cap_at_source_in_use,
    ) == (12, 0, 28, 3, False)
    assert CompoundingSettings.objects.count() == 0
    assert in_use_limits(site).single_dose_iso5_hours == 12


def test_the_pic_sets_californias_limits_audited(pic, site):
    saved = compounding_settings_update(
        actor=pic, single_dose_iso5_hours=6, single_dose_outside_iso5_hours=1, retention_years=5
    )

    row = CompoundingSettings.objects.get(site=site)
    assert row.pk == saved.pk
    assert (row.single_dose_iso5_hours, row.single_dose_outside_iso5_hours) == (6, 1)
    assert (row.multiple_dose_days, row.retention_years) == (28, 5)
    event = AuditEvent.objects.order_by("-id").first()
    assert event.action == "compounding.settings.updated"
    assert json.loads(event.data)["changes"] == {
        "retention_years": [3, 5],
        "single_dose_iso5_hours": [12, 6],
        "single_dose_outside_iso5_hours": [0, 1],
    }
    assert in_use_limits(site).single_dose_outside_iso5_hours == 1


def test_no_change_writes_nothing(pic):
    before = _events()

    compounding_settings_update(actor=pic, multiple_dose_days=28)

    assert CompoundingSettings.objects.count() == 0 and _events() == before


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"single_dose_iso5_hours": 13}, "single_dose_iso5_hours"),
        ({"single_dose_iso5_hours": -1}, "single_dose_iso5_hours"),
        ({"single_dose_outside_iso5_hours": 13}, "single_dose_outside_iso5_hours"),
        # ISO 5 is 0 hours at this site: outside ISO 5 may not be longer.
        ({"single_dose_outside_iso5_hours": 1}, "single_dose_outside_iso5_hours"),
        (
            {"single_dose_iso5_hours": 2, "single_dose_outside_iso5_hours": 3},
            "single_dose_outside_iso5_hours",
        ),
        ({"multiple_dose_days": 0}, "multiple_dose_days"),
        ({"multiple_dose_days": 29}, "multiple_dose_days"),
        ({"retention_years": 2}, "retention_years"),
        ({"retention_years": 31}, "retention_years"),
        ({"retention_years": "5"}, "retention_years"),
        ({"retention_years": True}, "retention_years"),
        ({"cap_at_source_in_use": "yes"}, "cap_at_source_in_use"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_limits_out_of_bounds_are_refused_naming_the_field_and_nothing_changes(
    pic, site, fields, field
):
    CompoundingSettings.objects.create(site=site, single_dose_iso5_hours=0)
    before = _events()

    with pytest.raises(Invalid) as refused:
        compounding_settings_update(actor=pic, **fields)

    assert field in [e["field"] for e in refused.value.errors]
    row = CompoundingSettings.objects.get(site=site)
    assert (row.single_dose_iso5_hours, row.single_dose_outside_iso5_hours) == (0, 0)
    assert (row.multiple_dose_days, row.retention_years) == (28, 3)
    assert _events() == before


@pytest.mark.parametrize("role", ["technician", "pharmacist", "auditor", "admin_user"])
def test_only_the_pic_changes_the_limits(request, role):
    actor = request.getfixturevalue(role)
    before = _events()

    with pytest.raises(Forbidden):
        compounding_settings_update(actor=actor, single_dose_iso5_hours=6)

    assert CompoundingSettings.objects.count() == 0 and _events() == before


# --- The site's limits: the API ------------------------------------------------------------


def test_settings_read_and_patched_by_the_pic(pic, technician):
    assert _client(technician).get(f"{P}/settings").json()["usp_defaults"] is True

    response = _client(pic).patch(
        f"{P}/settings",
        data=json.dumps({"single_dose_iso5_hours": 6, "single_dose_outside_iso5_hours": 1}),
        content_type="application/json",
    )

    assert response.status_code == 200, response.content
    assert response.json() == {
        "single_dose_iso5_hours": 6,
        "single_dose_outside_iso5_hours": 1,
        "multiple_dose_days": 28,
        "cap_at_source_in_use": False,
        "retention_years": 3,
        "usp_defaults": False,
    }


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"single_dose_iso5_hours": 24}, "single_dose_iso5_hours"),
        ({"single_dose_iso5_hours": None}, "single_dose_iso5_hours"),
        ({"single_dose_outside_iso5_hours": 4}, "single_dose_outside_iso5_hours"),
        ({"retention_years": "many"}, "retention_years"),
        ({"cap_at_source_in_use": "true"}, "cap_at_source_in_use"),
        ({"site": 2}, "site"),
    ],
)
def test_settings_patch_refusals_name_the_field(pic, site, body, field):
    CompoundingSettings.objects.create(site=site, single_dose_iso5_hours=3)
    response = _client(pic).patch(
        f"{P}/settings", data=json.dumps(body), content_type="application/json"
    )

    assert response.status_code == 422, response.content
    assert field in _fields(response)
    assert CompoundingSettings.objects.get(site=site).single_dose_iso5_hours == 3


def test_settings_of_another_pharmacy_are_not_touched(pic, other_site):
    CompoundingSettings.objects.create(site=other_site, multiple_dose_days=7)

    compounding_settings_update(actor=pic, multiple_dose_days=14)

    assert CompoundingSettings.objects.get(site=other_site).multiple_dose_days == 7
    assert CompoundingSettings.objects.get(site=pic.site).multiple_dose_days == 14
