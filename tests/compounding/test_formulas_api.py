"""The master-formula API: list, read, create, change a draft, version, approve, retire —
the same rules as the services, as problem JSON naming the field."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from rxdesk.compounding.models import MasterFormula
from tests.compounding.factories import hydrocortisone_cream, stocked_components
from tests.compounding.matrix_formulas import new_formula_body
from tests.factories import UserFactory

P = "/api/v1/compounding/formulas"


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _post(client: Client, path: str, body: Any = None):
    if body is None:
        return client.post(path)
    return client.post(path, data=json.dumps(body), content_type="application/json")


def _patch(client: Client, path: str, body: Any):
    return client.patch(path, data=json.dumps(body), content_type="application/json")


@pytest.fixture
def cream(site, pharmacist, pic):
    stocked_components(site)
    return hydrocortisone_cream(site, pharmacist, approver=pic)


def test_it_creates_a_draft_and_answers_the_whole_formula(pharmacist):
    response = _post(_client(pharmacist), P, new_formula_body("mg-1"))
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["code"], body["version"], body["status"]) == ("MG-1", 1, "draft")
    assert body["batch_quantity"] == "100" and body["batch_unit"] == "mL"
    assert [
        (i["position"], i["name"], i["quantity"], i["quantity_sufficient"])
        for i in body["ingredients"]
    ] == [
        (1, "Magnesium hydroxide powder", "8", False),
        (2, "Ora-Plus : Ora-Sweet 1:1", "100", True),
    ]
    assert body["hd"]["hazardous"] is False and body["hd"]["requirements"] == []
    assert [v["version"] for v in body["versions"]] == [1]


def test_a_broken_rule_is_422_naming_the_ingredients_field(pharmacist):
    body = new_formula_body()
    body["ingredients"][1]["quantity"] = "0"
    response = _post(_client(pharmacist), P, body)
    assert response.status_code == 422
    problem = response.json()
    assert response["Content-Type"] == "application/problem+json"
    assert problem["errors"] == [
        {"field": "ingredients[1].quantity", "message": "The quantity must be more than 0."}
    ]
    assert MasterFormula.objects.count() == 0


def test_a_combination_without_a_bud_is_422(pharmacist):
    body = new_formula_body() | {"preserved": False, "storage": "room"}
    response = _post(_client(pharmacist), P, body)
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "storage"


def test_an_unknown_field_is_422(pharmacist):
    response = _post(_client(pharmacist), P, new_formula_body() | {"colour": "blue"})
    assert response.status_code == 422 and MasterFormula.objects.count() == 0


def test_the_list_shows_the_latest_version_of_each_code(pharmacist, pic, cream):
    client = _client(pharmacist)
    _post(client, f"{P}/{cream.pk}/versions", {"change_note": "new jar"})
    _post(client, P, new_formula_body())
    rows = client.get(P).json()
    assert [(r["code"], r["version"], r["status"]) for r in rows] == [
        ("HC1CR", 2, "draft"),
        ("MGSUSP", 1, "draft"),
    ]
    approved = client.get(P, {"status": "approved"}).json()
    assert [(r["code"], r["version"]) for r in approved] == [("HC1CR", 1)]
    assert [r["code"] for r in client.get(P, {"q": "magnesium"}).json()] == ["MGSUSP"]
    assert [r["version"] for r in client.get(P, {"code": "hc1cr"}).json()] == [2, 1]


def test_a_draft_is_patched_and_an_approved_version_is_409(pharmacist, cream):
    client = _client(pharmacist)
    response = _patch(client, f"{P}/{cream.pk}", {"strength": "2 %"})
    assert response.status_code == 409
    assert "make a new version" in response.json()["detail"]
    made = _post(client, f"{P}/{cream.pk}/versions", {"change_note": "Stronger"}).json()
    response = _patch(
        client,
        f"{P}/{made['id']}",
        {"strength": "2 %", "ingredients": [{"name": "Water", "quantity": 1, "unit": "g"}]},
    )
    assert response.status_code == 200, response.content
    assert response.json()["strength"] == "2 %"
    assert [i["name"] for i in response.json()["ingredients"]] == ["Water"]


def test_only_the_pic_approves_and_the_old_version_retires(pharmacist, pic, cream):
    made = _post(_client(pharmacist), f"{P}/{cream.pk}/versions", {"change_note": "x"}).json()
    assert _post(_client(pharmacist), f"{P}/{made['id']}/approve").status_code == 403
    response = _post(_client(pic), f"{P}/{made['id']}/approve")
    assert response.status_code == 200
    assert response.json()["status"] == "approved"
    versions = {v["version"]: v["status"] for v in response.json()["versions"]}
    assert versions == {2: "approved", 1: "retired"}


def test_a_second_open_draft_is_409(pharmacist, cream):
    client = _client(pharmacist)
    assert _post(client, f"{P}/{cream.pk}/versions", {"change_note": "a"}).status_code == 201
    assert _post(client, f"{P}/{cream.pk}/versions", {"change_note": "b"}).status_code == 409


def test_retire_needs_a_reason(pic, cream):
    client = _client(pic)
    response = _post(client, f"{P}/{cream.pk}/retire", {"reason": ""})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "reason"
    response = _post(client, f"{P}/{cream.pk}/retire", {"reason": "Not prescribed any more"})
    assert response.status_code == 200 and response.json()["status"] == "retired"


def test_another_sites_formula_is_404(other_site, cream):
    there = UserFactory(site=other_site, role="pharmacist", username="rph-there")
    assert _client(there).get(f"{P}/{cream.pk}").status_code == 404
    assert _client(there).get(f"{P}/99999999999999999999").status_code in (404, 422)


def test_the_detail_carries_the_hd_profile(pharmacist, cream):
    product = cream.ingredients.first().product
    product.hazardous = True
    product.save(update_fields=["hazardous"])
    body = _client(pharmacist).get(f"{P}/{cream.pk}").json()
    assert body["hd"]["hazardous"] is True
    assert body["hd"]["applied"] == "full containment"
    assert body["hd"]["drugs"][0]["name"] == "Hydrocortisone 2.5 % cream"
    assert body["ingredients"][0]["hazardous"] is True
