"""The plan file through /api/v1/claims/payers and /api/v1/claims/plans: the same rules as
the services, answered as JSON problems that name the field; writes refused (403) to roles
without claims.plans whatever they send, with nothing written."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from rxdesk.claims.models import Payer, Plan
from rxdesk.core.models import AuditEvent, User
from tests.claims.test_plans import make_payer, make_plan

pytestmark = pytest.mark.django_db

P = "/api/v1/claims"
PROBLEM = "application/problem+json"


class Session:
    """A signed-in browser calling the API."""

    def __init__(self, user: User) -> None:
        self.client = Client()
        self.client.force_login(user)

    def get(self, path: str, **params: Any) -> Any:
        return self.client.get(f"{P}{path}", params)

    def send(self, method: str, path: str, body: dict[str, Any]) -> Any:
        return getattr(self.client, method)(
            f"{P}{path}", json.dumps(body), content_type="application/json"
        )

    def post(self, path: str, body: dict[str, Any]) -> Any:
        return self.send("post", path, body)

    def patch(self, path: str, body: dict[str, Any]) -> Any:
        return self.send("patch", path, body)


def problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == PROBLEM
    return response.json()


def writes() -> tuple[int, int, int]:
    events = AuditEvent.objects.exclude(action__startswith="auth.")  # signing in is logged
    return Payer.objects.count(), Plan.objects.count(), events.count()


PAYER = {"name": "Caremark", "help_desk_phone": "800-555-0142", "port": 7011}


def test_a_pharmacist_adds_a_payer_and_a_plan(pharmacist):
    api = Session(pharmacist)
    response = api.post("/payers", PAYER)
    assert response.status_code == 201, response.content
    payer = response.json()
    assert {k: payer[k] for k in ("name", "help_desk_phone", "host", "port", "active")} == {
        "name": "Caremark",
        "help_desk_phone": "8005550142",
        "host": "127.0.0.1",
        "port": 7011,
        "active": True,
    }

    response = api.post(
        "/plans",
        {
            "payer_id": payer["id"],
            "name": "Caremark Commercial",
            "bin": "004336",
            "pcn": "adv",
            "group": "rx1234",
            "max_days_supply": 34,
            "dispensing_fee": "1.75",
        },
    )
    assert response.status_code == 201, response.content
    plan = response.json()
    assert {
        k: plan[k]
        for k in ("bin", "pcn", "group", "phone", "return_to_stock_days", "dispensing_fee")
    } == {
        "bin": "004336",
        "pcn": "ADV",
        "group": "RX1234",
        "phone": "8005550142",
        "return_to_stock_days": 14,
        "dispensing_fee": "1.75",
    }
    assert plan["payer"] == {"id": payer["id"], "name": "Caremark"}


def test_the_plans_are_listed_and_filtered_by_bin(technician):
    plan = make_plan()
    make_plan(plan.payer, name="Other", bin="003858", pcn="A4")
    api = Session(technician)
    assert [p["bin"] for p in api.get("/plans").json()] == ["003858", "610014"]
    assert [p["name"] for p in api.get("/plans", bin="610014").json()] == ["Test Commercial"]
    assert api.get("/plans", bin="999999").json() == []
    assert api.get(f"/plans/{plan.pk}").json()["name"] == "Test Commercial"
    assert [p["name"] for p in api.get("/payers").json()] == ["Test Processor"]


def test_a_missing_plan_is_a_404_problem(technician):
    body = problem(Session(technician).get("/plans/999999"), 404)
    assert body["detail"] == "No such plan in the plan file."


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"bin": "61001"}, "bin"),
        ({"bin": "1234567"}, "bin"),
        ({"return_to_stock_days": 0}, "return_to_stock_days"),
        ({"return_to_stock_days": 91}, "return_to_stock_days"),
        ({"max_days_supply": 366}, "max_days_supply"),
        ({"dispensing_fee": "-1.00"}, "dispensing_fee"),
        ({"dispensing_fee": "1.234"}, "dispensing_fee"),
        ({"help_desk_phone": "555"}, "help_desk_phone"),
        ({"payer_id": 999999}, "payer_id"),
        ({"colour": "blue"}, "colour"),
    ],
)
def test_a_bad_plan_is_a_422_naming_the_field(pharmacist, body, field):
    payer = make_payer()
    before = writes()
    response = Session(pharmacist).post(
        "/plans", {"payer_id": payer.pk, "name": "Gold", "bin": "004336", **body}
    )
    assert [e["field"] for e in problem(response, 422)["errors"]] == [field]
    assert writes() == before


def test_a_duplicate_plan_is_a_422_on_bin_in_words(pharmacist):
    plan = make_plan()
    response = Session(pharmacist).post(
        "/plans",
        {"payer_id": plan.payer_id, "name": "Again", "bin": "610014", "pcn": "testpcn"},
    )
    assert problem(response, 422)["errors"] == [
        {
            "field": "bin",
            "message": "BIN 610014, PCN TESTPCN, group (any) is already in the plan file. "
            "Change the existing plan instead of adding it again.",
        }
    ]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"port": 0}, "port"),
        ({"port": 65536}, "port"),
        ({"timeout_seconds": 500}, "timeout_seconds"),
    ],
)
def test_a_bad_payer_is_a_422_naming_the_field(pharmacist, body, field):
    before = writes()
    response = Session(pharmacist).post("/payers", {**PAYER, **body})
    assert [e["field"] for e in problem(response, 422)["errors"]] == [field]
    assert writes() == before


def test_patching_a_plan_deactivates_it_and_moves_it(pharmacist):
    plan = make_plan()
    other = make_payer(name="Other Processor")
    response = Session(pharmacist).patch(
        f"/plans/{plan.pk}", {"active": False, "payer_id": other.pk, "group": " g1 "}
    )
    assert response.status_code == 200, response.content
    assert (response.json()["active"], response.json()["group"]) == (False, "G1")
    plan.refresh_from_db()
    assert (plan.active, plan.payer_id, plan.group) == (False, other.pk, "G1")
    assert AuditEvent.objects.filter(action="claims.plan.updated").count() == 1


def test_patching_a_payer_changes_only_what_is_sent(pharmacist):
    payer = make_payer()
    response = Session(pharmacist).patch(f"/payers/{payer.pk}", {"timeout_seconds": 30})
    assert response.status_code == 200, response.content
    payer.refresh_from_db()
    assert (payer.timeout_seconds, payer.port, payer.name) == (30, 7010, "Test Processor")


def test_a_patch_that_blanks_a_required_field_names_it(pharmacist):
    plan = make_plan()
    response = Session(pharmacist).patch(f"/plans/{plan.pk}", {"name": None})
    assert problem(response, 422)["errors"] == [
        {"field": "name", "message": "Type the plan's name."}
    ]


@pytest.mark.parametrize("username", ["tech", "trainee", "inventory", "auditor"])
def test_writes_are_refused_to_roles_without_the_plan_file_whatever_they_send(personas, username):
    actor = {p.username: p for p in personas.values()}[username]
    plan = make_plan()
    api = Session(actor)
    before = writes()
    for method, path in (
        ("post", "/payers"),
        ("patch", f"/payers/{plan.payer_id}"),
        ("post", "/plans"),
        ("patch", f"/plans/{plan.pk}"),
    ):
        problem(api.send(method, path, {"nonsense": True}), 403)
    assert writes() == before


def test_the_auditor_does_not_read_the_plan_file(auditor):
    problem(Session(auditor).get("/plans"), 403)
    problem(Session(auditor).get("/payers"), 403)
