"""Compounding records through the API: start one (201, stock taken), measure, check, submit,
verify, the label PDF; refusals are problem bodies naming the field, with nothing written;
another pharmacy's record is 404."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from django.test import Client

from rxdesk.compounding.models import CompoundingRecord, RecordComponent
from rxdesk.core.models import AuditEvent, User
from rxdesk.inventory.models import StockBalance, StockMove
from tests.compounding.factories import competent, hydrocortisone_cream
from tests.compounding.matrix_records import (
    bench,
    checker_of,
    evaluator_of,
    maker_of,
    staff,
    started,
    submitted,
)

pytestmark = pytest.mark.django_db

P = "/api/v1/compounding/records"


def signed_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _post(client: Client, path: str, body: Any = None) -> Any:
    return client.post(path, data=json.dumps(body or {}), content_type="application/json")


def _kept() -> tuple[int, int, int, int]:
    return (
        CompoundingRecord.objects.count(),
        RecordComponent.objects.count(),
        StockMove.objects.count(),
        AuditEvent.objects.exclude(action__startswith="auth.").count(),
    )


def test_a_record_is_started_worked_verified_and_labeled(site):
    the_bench = bench(site)
    tech, rph = maker_of(site), checker_of(site)
    api, pharmacist = signed_in(tech), signed_in(rph)

    made = _post(api, P, {"formula_id": the_bench["hc"].pk, "quantity": "100", "unit": "g"})

    assert made.status_code == 201, made.content
    body = made.json()
    assert body["status"] == "in_progress" and body["compounded_by"] == "Maria Lopez"
    assert (body["quantity"], body["unit"], body["scale"]) == ("100", "g", "0.5")
    assert body["bud_rule"].startswith("USP <795> Table 4: aqueous")
    assert body["calculations"][0] == {
        "label": "Scale factor",
        "expression": "100 g ÷ 200 g",
        "result": "0.5",
    }
    assert [
        (c["position"], c["lot_number"], c["required_quantity"], c["stock_quantity"])
        for c in body["components"]
    ] == [(1, "HC25-A", "25", "25"), (2, "HC05-A", "75", "75")]
    record_id = body["id"]
    assert StockBalance.objects.get(site=site, lot__number="HC25-A").on_hand == 975

    for c in body["components"]:
        r = _post(
            api,
            f"{P}/{record_id}/measurements",
            {
                "component_id": c["id"],
                "measured_quantity": c["required_quantity"],
                "measured_unit": "g",
            },
        )
        assert r.status_code == 200, r.content
    checked = _post(
        api, f"{P}/{record_id}/checks", {"name": "Appearance", "result": "smooth", "passed": True}
    )
    assert checked.status_code == 201 and checked.json()["checks"][0]["passed"] is True
    early = api.get(f"{P}/{record_id}/label.pdf")
    assert early.status_code == 422
    assert early.json()["errors"][0]["field"] == "record"
    sent = _post(api, f"{P}/{record_id}/submit", {"physical_description": "Smooth white cream"})
    assert sent.status_code == 200 and sent.json()["status"] == "awaiting_verification"
    done = _post(pharmacist, f"{P}/{record_id}/verify")
    assert done.status_code == 200, done.content
    assert (done.json()["status"], done.json()["verified_by"]) == ("verified", "Rita Singh")

    label = api.get(f"{P}/{record_id}/label.pdf")

    assert label.status_code == 200
    assert label["Content-Type"] == "application/pdf"
    assert label.content.startswith(b"%PDF")
    assert api.get(f"{P}/{record_id}").json()["label_printed_at"] is not None


def test_a_lapsed_person_is_refused_with_the_reason_and_nothing_written(site):
    the_bench = bench(site)
    tech = staff(site, "maria", first_name="Maria", last_name="Lopez")
    competent(tech, "2", evaluator=evaluator_of(site), on=site.today() - dt.timedelta(days=200))
    before = _kept()

    r = _post(
        signed_in(tech),
        P,
        {
            "formula_id": the_bench["vanco"].pk,
            "quantity": "1",
            "unit": "bag",
            "control_id": the_bench["hood"].pk,
        },
    )

    assert r.status_code == 422
    problem = r.json()
    assert problem["errors"][0]["field"] == "compounded_by"
    assert problem["detail"].startswith("Maria Lopez cannot compound Category 2:")
    assert any("media-fill test lapsed" in line for line in problem["lapses"])
    assert _kept() == before


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"quantity": "100", "unit": "g", "formula_id": 999999}, "formula_id"),
        ({"quantity": "0", "unit": "g"}, "quantity"),
        ({"quantity": "100", "unit": "g", "lots": {"1": "NOPE"}}, "lots[1]"),
        ({"quantity": "100", "unit": "g", "colour": "blue"}, "colour"),
        ({"quantity": "100", "unit": "g", "control_id": 999999}, "control_id"),
    ],
)
def test_bad_input_is_a_problem_naming_the_field(site, body, field):
    the_bench = bench(site)
    before = _kept()

    r = _post(signed_in(maker_of(site)), P, {"formula_id": the_bench["hc"].pk, **body})

    assert r.status_code == 422, r.content
    assert field in [e["field"] for e in r.json()["errors"]]
    assert _kept() == before


def test_another_pharmacys_formula_is_not_found_by_id(site, other_site):
    bench(site)
    theirs = hydrocortisone_cream(other_site, evaluator_of(site), approver=evaluator_of(site))
    r = _post(
        signed_in(maker_of(site)), P, {"formula_id": theirs.pk, "quantity": "100", "unit": "g"}
    )
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "formula_id"


def test_the_list_filters_by_status_and_lot(site):
    first = started(site)
    second = submitted(site)
    api = signed_in(maker_of(site))

    waiting = api.get(f"{P}?status=awaiting_verification").json()
    by_lot = api.get(f"{P}?q={first.lot_number}").json()
    by_stock_lot = api.get(f"{P}?q=HC25-A").json()

    assert [r["id"] for r in waiting] == [second.pk]
    assert [r["id"] for r in by_lot] == [first.pk]
    assert {r["id"] for r in by_stock_lot} == {first.pk, second.pk}


def test_self_verification_is_a_conflict(site):
    bench(site)
    rph = checker_of(site)
    competent(rph, "nonsterile", evaluator=evaluator_of(site))
    api = signed_in(rph)
    made = _post(api, P, {"formula_id": bench(site)["hc"].pk, "quantity": "100", "unit": "g"})
    record_id = made.json()["id"]
    for c in made.json()["components"]:
        _post(
            api,
            f"{P}/{record_id}/measurements",
            {
                "position": c["position"],
                "measured_quantity": c["required_quantity"],
                "measured_unit": "g",
            },
        )
    _post(api, f"{P}/{record_id}/checks", {"name": "Appearance", "result": "ok", "passed": True})
    _post(api, f"{P}/{record_id}/submit")

    r = _post(api, f"{P}/{record_id}/verify")

    assert r.status_code == 409
    assert r.json()["detail"].startswith("A second person verifies")


def test_a_measurement_off_by_more_than_5_percent_needs_a_deviation(site):
    record = started(site)
    api = signed_in(maker_of(site))
    r = _post(
        api,
        f"{P}/{record.pk}/measurements",
        {"position": 1, "measured_quantity": "23.5", "measured_unit": "g"},
    )
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "measured_quantity"
    assert "6 % less than the 25 g required" in r.json()["detail"]


def test_another_pharmacys_record_is_not_found(site, other_site, outsider):
    record = started(site)
    their_rph = staff(other_site, "their-rph", "pharmacist")
    assert signed_in(outsider).get(f"{P}/{record.pk}").status_code == 404
    r = _post(signed_in(their_rph), f"{P}/{record.pk}/reject", {"reason": "x"})
    assert r.status_code == 404
    assert CompoundingRecord.objects.get(pk=record.pk).status == "in_progress"
