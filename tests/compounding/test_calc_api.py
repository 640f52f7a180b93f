"""The calculators, the PN order calculator and the admixture standards through the API:
answers with their steps (numbers as strings), 422 problem bodies naming the field for bad
or hostile input (never a 500), and compounding.view enforced before the body is read.
Nothing is written."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from rxdesk.core.models import AuditEvent

pytestmark = pytest.mark.django_db

P = "/api/v1/compounding"


@pytest.fixture
def api(technician) -> Client:
    client = Client()
    client.force_login(technician)
    return client


def _post(client: Client, path: str, body: Any) -> Any:
    raw = body if isinstance(body, str) else json.dumps(body)
    return client.post(f"{P}{path}", data=raw, content_type="application/json")


def _answers(body: dict[str, Any]) -> dict[str, str]:
    return {a["name"]: a["rounded"] for a in body["answers"]}


def test_dose_volume_with_its_steps(api):
    got = _post(api, "/calc/dose-volume", {"dose": 375, "strength": "250", "per_volume": 5})
    assert got.status_code == 200, got.content
    body = got.json()
    assert body["kind"] == "dose-volume"
    assert body["summary"] == "7.5 mL"
    assert body["answers"] == [
        {
            "name": "volume",
            "label": "Volume to give",
            "value": "7.5",
            "rounded": "7.5",
            "unit": "mL",
            "text": "7.5 mL",
        }
    ]
    assert body["steps"] == [
        {"label": "Volume (have/want)", "expression": "375 mg × 5 mL ÷ 250 mg", "result": "7.5 mL"}
    ]


@pytest.mark.parametrize(
    ("path", "body", "expected"),
    [
        ("/calc/percent", {"kind": "w/v", "ratio": 1000, "preparation": "0.3"},
         {"solute_mg": "0.3", "concentration": "1"}),
        ("/calc/dilution", {"c1": 70, "c2": 30, "v2": 500},
         {"v1": "214.3", "diluent": "285.7", "v2": "500"}),
        ("/calc/alligation", {"high": "2.5", "low": "0.5", "desired": 1, "total": 200},
         {"amount_high": "50", "amount_low": "150"}),
        ("/calc/milliequivalents", {"salt": "kcl", "amount": 750, "unit": "mg"},
         {"meq": "10.06"}),
        ("/calc/osmolarity", {"solute": "nacl", "concentration": "0.9"},
         {"osmolarity": "308"}),
        ("/calc/dose", {"dose": 90, "weight": 44, "weight_unit": "lb", "doses_per_day": 2,
                        "strength": 400, "per_volume": 5, "pounds": "2.2"},
         {"weight_kg": "20", "dose": "900", "volume": "11.3"}),
        ("/calc/bsa", {"height": 170, "weight": 70, "dose_per_m2": 100},
         {"bsa": "1.82", "dose": "181.8"}),
        ("/calc/flow-rate", {"volume": 1000, "time": 8, "drop_factor": 15},
         {"ml_per_h": "125", "gtt_per_min": "31"}),
        ("/calc/infusion-time", {"volume": 500, "rate": 75}, {"minutes": "400"}),
        ("/calc/dose-rate", {"dose": 1000, "dose_unit": "units/h", "drug_amount": 25000,
                             "drug_amount_unit": "units", "bag_volume": 500},
         {"concentration": "50", "ml_per_h": "20"}),
        ("/calc/temperature", {"value": 8, "unit": "degC"}, {"degF": "46.4"}),
    ],
)  # fmt: skip
def test_each_calculator_answers_the_worked_problems(api, path, body, expected):
    got = _post(api, path, body)
    assert got.status_code == 200, got.content
    answers = _answers(got.json())
    assert {k: answers[k] for k in expected} == expected
    assert got.json()["steps"]


def test_the_pn_calculator(api):
    got = _post(
        api,
        "/pn",
        {"final_volume_ml": 1250, "dextrose_g": 250, "dextrose_stock_percent": 50,
         "amino_acids_g": 50, "lipid_ml": 250},
    )  # fmt: skip
    assert got.status_code == 200, got.content
    body = got.json()
    totals = {t["name"]: t["rounded"] for t in body["totals"]}
    assert (totals["kcal_total"], totals["kcal_nonprotein"]) == ("1550", "1350")
    assert body["central_line_only"] is True
    assert body["calcium_phosphate_warning"] is False
    assert [a["key"] for a in body["additives"]] == [
        "dextrose",
        "amino_acids",
        "lipid",
        "sterile_water",
    ]
    assert body["additives"][0]["volume_text"] == "500 mL"
    assert any("central line only" in w for w in body["warnings"])


def test_the_pn_calcium_phosphate_warning(api):
    got = _post(
        api,
        "/pn",
        {"final_volume_ml": 1000, "dextrose_g": 150, "amino_acids_g": 40,
         "calcium_gluconate_meq": 12, "sodium_phosphate_mmol": 19},
    )  # fmt: skip
    assert got.status_code == 200, got.content
    assert got.json()["calcium_phosphate_warning"] is True


def test_the_admixture_list_and_a_calculation(api):
    listed = api.get(f"{P}/admixtures")
    assert listed.status_code == 200
    keys = [s["key"] for s in listed.json()]
    assert "norepinephrine-16" in keys and "insulin-1" in keys
    got = _post(
        api,
        "/admixtures/calculate",
        {"drug": "norepinephrine-16", "dose": "0.1", "dose_unit": "mcg/kg/min", "weight": 80},
    )
    assert got.status_code == 200, got.content
    body = got.json()
    assert _answers(body)["ml_per_h"] == "30"
    assert body["standard"]["concentration"] == "16"
    assert body["diluent"] == "D5W"


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/calc/dose-volume", '{"dose": 1e400, "strength": 250, "per_volume": 5}', "dose"),
        ("/calc/dose-volume", '{"dose": NaN, "strength": 250, "per_volume": 5}', "dose"),
        ("/calc/dose-volume", {"dose": "1e400", "strength": 250, "per_volume": 5}, "dose"),
        ("/calc/dose-volume", {"dose": "Infinity", "strength": 250, "per_volume": 5}, "dose"),
        ("/calc/dose-volume", {"dose": "lots", "strength": 250, "per_volume": 5}, "dose"),
        ("/calc/dose-volume", {"dose": True, "strength": 250, "per_volume": 5}, "dose"),
        ("/calc/dose-volume", {"dose": -375, "strength": 250, "per_volume": 5}, "dose"),
        ("/calc/dose-volume", {"dose": 0, "strength": 250, "per_volume": 5}, "dose"),
        ("/calc/dose-volume", {"dose": 375, "strength": 250, "per_volume": 5,
                               "dose_unit": "furlong"}, "dose_unit"),
        ("/calc/dose-volume", {"dose": 375, "strength": 250, "per_volume": 5,
                               "dose_unit": "m**99999"}, "dose_unit"),
        ("/calc/dose-volume", {"dose": 375, "strength": 250, "per_volume": 5,
                               "dose_unit": "mg'; DROP"}, "dose_unit"),
        ("/calc/dose-volume", {"dose": 375, "strength": 250}, "per_volume"),
        ("/calc/dose-volume", {"dose": 375, "strength": 250, "per_volume": 5, "x": 1}, "x"),
        ("/calc/percent", {"kind": "w/v"}, "percent"),
        ("/calc/percent", {"kind": "w/x", "percent": 1}, "kind"),
        ("/calc/dilution", {"c1": 30, "c2": 70, "v2": 500}, "c2"),
        ("/calc/alligation", {"high": 10, "low": 2, "desired": 12, "total": 100}, "desired"),
        ("/calc/milliequivalents", {"salt": "plutonium", "amount": 1}, "salt"),
        ("/calc/milliequivalents", {"salt": "kcl", "amount": 1, "unit": "mL"}, "unit"),
        ("/calc/dose", {"dose": 10, "dose_unit": "mg", "weight": 20}, "dose_unit"),
        ("/calc/bsa", {"height": 170, "weight": 0}, "weight"),
        ("/calc/flow-rate", {"volume": 1000, "time": 8, "drop_factor": 12}, "drop_factor"),
        ("/calc/flow-rate", {"volume": [1], "time": 8}, "volume"),
        ("/calc/dose-rate", {"dose": 1, "dose_unit": "mcg/kg/min", "concentration": 16,
                             "concentration_unit": "mcg/mL"}, "weight"),
        ("/calc/temperature", {"value": -500}, "value"),
        ("/pn", {"final_volume_ml": 500, "dextrose_g": 400}, "final_volume_ml"),
        ("/pn", {"final_volume_ml": 1000, "lipid_g": 30, "lipid_emulsion_percent": 30,
                 "lipid_in_bag": False}, "lipid_emulsion_percent"),
        ("/pn", {"final_volume_ml": 1000, "dextrose_g": 100, "lipid_in_bag": "yes"},
         "lipid_in_bag"),
        ("/admixtures/calculate", {"drug": "unobtainium"}, "drug"),
        ("/admixtures/calculate", {"drug": "insulin", "diluent": "D5W"}, "diluent"),
    ],
)  # fmt: skip
def test_bad_or_hostile_input_is_a_422_naming_the_field(api, path, body, field):
    before = AuditEvent.objects.exclude(action__startswith="auth.").count()
    got = _post(api, path, body)
    assert got.status_code == 422, got.content
    assert got["Content-Type"] == "application/problem+json"
    fields = [e["field"] for e in got.json()["errors"]]
    assert field in fields, got.json()
    assert AuditEvent.objects.exclude(action__startswith="auth.").count() == before


def test_a_body_that_is_not_json_is_refused(api):
    got = _post(api, "/calc/bsa", "{not json")
    assert 400 <= got.status_code < 500


@pytest.mark.parametrize("persona", ["trainee", "inventory", "admin_user"])
def test_roles_without_compounding_view_are_refused(request, persona):
    client = Client()
    client.force_login(request.getfixturevalue(persona))
    got = _post(client, "/calc/bsa", {"height": 170, "weight": 70})
    assert got.status_code == 403
    assert client.get(f"{P}/admixtures").status_code == 403


def test_the_auditor_may_calculate(auditor):
    client = Client()
    client.force_login(auditor)
    got = _post(client, "/calc/bsa", {"height": 170, "weight": 70})
    assert got.status_code == 200
    assert _answers(got.json())["bsa"] == "1.82"


def test_anonymous_is_401():
    got = _post(Client(), "/calc/bsa", {"height": 170, "weight": 70})
    assert got.status_code == 401
