"""The cabinets' API through the Django test client: set-up, the pick list as JSON and CSV
(order and quantities), a restock and an unload with their problem bodies, the moves without
patient names for roles that do not see patients, and hostile input answered with a 4xx."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal

import pytest
from django.db import transaction
from django.test import Client

from rxdesk.institutional import cabinet_ledger as cl
from rxdesk.institutional.choices import CabinetEvent
from rxdesk.institutional.models import CabinetMove, Pocket
from rxdesk.inventory import ledger
from tests.factories import PatientFactory
from tests.institutional.cabinets_setup import NEAR, datamatrix, on_shelf, prozac, ward, witness
from tests.institutional.factories import pocket, pocket_stock

P = "/api/v1/institutional"


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _post(client, path, body, method="post"):
    return getattr(client, method)(path, data=body, content_type="application/json")


def test_a_pharmacist_sets_up_a_cabinet_and_a_pocket(site, pharmacist):
    prozac()
    client = _client(pharmacist)
    made = _post(client, f"{P}/cabinets", {"code": "5n-1", "name": "5 North", "vendor": "omnicell"})
    assert made.status_code == 201, made.content
    body = made.json()
    assert (body["code"], body["location_code"], body["pockets"]) == ("5N-1", "ADC-5N-1", [])
    again = _post(client, f"{P}/cabinets", {"code": "5N-1", "name": "x", "vendor": "pyxis"})
    assert again.status_code == 422
    assert again["Content-Type"] == "application/problem+json"
    added = _post(
        client,
        f"{P}/cabinets/{body['id']}/pockets",
        {"drawer": "1", "pocket_code": "a", "ndc": "00002322730", "par": "10", "minimum": "3"},
    )
    assert added.status_code == 201, added.content
    assert added.json()["place"] == "1-A" and added.json()["controlled"] is False
    bad = _post(
        client,
        f"{P}/cabinets/{body['id']}/pockets",
        {"drawer": "1", "pocket_code": "B", "ndc": "00002322730", "par": "2", "minimum": "3"},
    )
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "par"
    changed = _post(client, f"{P}/pockets/{added.json()['id']}", {"par": "12"}, method="patch")
    assert changed.status_code == 200 and changed.json()["par"] == "12"


def test_unknown_fields_and_hostile_input_are_4xx(site, pharmacist, technician):
    w = ward(site)
    client = _client(pharmacist)
    assert (
        _post(
            client, f"{P}/cabinets", {"code": "X", "name": "X", "vendor": "pyxis", "x": 1}
        ).status_code
        == 422
    )
    assert client.get(f"{P}/cabinets/{2**63}").status_code == 404
    assert client.get(f"{P}/cabinets/99999999").status_code == 404
    assert client.get(f"{P}/cabinets/{w['cabinet'].pk}/pick-list?format=xml").status_code == 422
    tech = _client(technician)
    for quantity in ("NaN", "1e999999", "-3", "0.0001", "Infinity"):
        answer = _post(
            tech,
            f"{P}/cabinets/{w['cabinet'].pk}/restock",
            {"lines": [{"pocket_id": w["plain"].pk, "lot_number": "P-NEAR", "quantity": quantity}]},
        )
        assert answer.status_code == 422, (quantity, answer.content)
    answer = _post(
        tech,
        f"{P}/cabinets/{w['cabinet'].pk}/restock",
        {"lines": [{"pocket_id": w["plain"].pk, "scan": "\x00\x1d]]((", "quantity": "1"}]},
    )
    assert answer.status_code == 422
    assert not CabinetMove.objects.exists()


def test_the_pick_list_in_json_and_csv(site, technician):
    w = ward(site)
    box = w["cabinet"]
    far = pocket(box, prozac(), drawer="10", place="A", par="6", minimum="2")
    mid = pocket(box, prozac(), drawer="2", place="A", par="8", minimum="4")
    pocket_stock(mid, "P-NEAR", 3, NEAR)  # 3 ≤ 4: on the list, needs 5
    pocket_stock(w["plain"], "P-NEAR", 5, NEAR)  # 5 > 3: only when topping up
    with transaction.atomic():  # two removals from 2-A this week
        lot = ledger.lot_get_or_create(package=prozac(), number="P-NEAR", expiry=NEAR)
        cl.post(pocket=mid, lot=lot, quantity=Decimal(-1), event=CabinetEvent.REMOVAL, who=cl.Who())
    client = _client(technician)
    body = client.get(f"{P}/cabinets/{box.pk}/pick-list").json()
    places = [(line["drawer"], line["pocket_code"], line["quantity"]) for line in body["lines"]]
    assert places == [("2", "A", "6"), ("2", "B", "20"), ("10", "A", "6")]
    first = body["lines"][0]
    assert first["used_7_days"] == "1"
    assert [(s["lot"], s["take"]) for s in first["lots"]] == [("P-NEAR", "6"), ("P-FAR", "0")]
    top = client.get(f"{P}/cabinets/{box.pk}/pick-list?top_up=true").json()
    assert [(line["drawer"], line["quantity"]) for line in top["lines"]] == [
        ("1", "5"),
        ("2", "6"),
        ("2", "20"),
        ("10", "6"),
    ]
    answer = client.get(f"{P}/cabinets/{box.pk}/pick-list?format=csv")
    assert answer["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(answer.content.decode())))
    assert [(r["drawer"], r["pocket"], r["lot"], r["take"]) for r in rows][:2] == [
        ("2", "A", "P-NEAR", "6"),
        ("2", "A", "P-FAR", "0"),
    ]
    assert far.pk in {line["pocket_id"] for line in body["lines"]}


def test_a_restock_and_an_unload_through_the_api(site, technician):
    w = ward(site)
    client = _client(technician)
    answer = _post(
        client,
        f"{P}/cabinets/{w['cabinet'].pk}/restock",
        {
            "lines": [
                {
                    "pocket_id": w["plain"].pk,
                    "scan": datamatrix(prozac(), "P-NEAR", NEAR),
                    "quantity": "6",
                },
                {
                    "pocket_id": w["cs"].pk,
                    "lot_number": "OX1",
                    "quantity": "10",
                    "counted_before": "0",
                },
            ],
            "witness": witness(site),
        },
    )
    assert answer.status_code == 201, answer.content
    body = answer.json()
    assert [(m["place"], m["quantity"], m["lot"]) for m in body["moves"]] == [
        ("1-A", "6", "P-NEAR"),
        ("2-B", "10", "OX1"),
    ]
    assert body["message"].startswith("Restocked 2 pockets of cabinet 3W-1")
    assert on_shelf(site, "OX1") == Decimal(90)
    over = _post(
        client,
        f"{P}/cabinets/{w['cabinet'].pk}/restock",
        {"lines": [{"pocket_id": w["plain"].pk, "lot_number": "P-NEAR", "quantity": "5"}]},
    )
    assert over.status_code == 422
    assert over.json()["errors"] == [
        {
            "field": "lines[0].quantity",
            "message": "Pocket 1-A holds 6 of par 10: at most 4 fit, 5 is too many.",
        }
    ]
    unload = _post(
        client, f"{P}/pockets/{w['plain'].pk}/unload", {"quantity": "2", "reason": "par lowered"}
    )
    assert unload.status_code == 200, unload.content
    assert unload.json()["moves"][0]["quantity"] == "-2"
    short = _post(client, f"{P}/pockets/{w['plain'].pk}/unload", {"quantity": "9", "reason": "x"})
    assert short.status_code == 409 and short.json()["errors"][0]["field"] == "quantity"


@pytest.mark.parametrize(
    ("role", "sees"), [("pharmacist", True), ("auditor", False), ("inventory", False)]
)
def test_moves_name_the_patient_only_to_roles_that_see_patients(site, role, sees, request):
    w = ward(site)
    p = pocket_stock(w["plain"], "P-NEAR", 5, NEAR)
    patient = PatientFactory(site=site, last_name="Okafor", first_name="Grace")
    with transaction.atomic():
        cl.take(
            pocket=p,
            quantity=Decimal(1),
            event=CabinetEvent.REMOVAL,
            who=cl.Who(
                source="csv", patient=patient, patient_ref="MRN778", cabinet_user="nurse.kim"
            ),
        )
    body = (
        _client(request.getfixturevalue(role)).get(f"{P}/cabinets/{w['cabinet'].pk}/moves").json()
    )
    removal = body[0]
    assert removal["event"] == "removal" and removal["has_patient"] is True
    assert (removal["patient"] == "Okafor, Grace") is sees
    assert (removal["patient_ref"] == "MRN778") is sees
    if not sees:
        assert "Okafor" not in str(body) and "MRN778" not in str(body)


def test_another_pharmacys_pocket_is_not_found(site, other_site, technician):
    theirs = ward(other_site)
    client = _client(technician)
    assert client.get(f"{P}/cabinets/{theirs['cabinet'].pk}").status_code == 404
    answer = _post(
        client, f"{P}/pockets/{theirs['plain'].pk}/unload", {"quantity": "1", "reason": "x"}
    )
    assert answer.status_code == 404
    assert Pocket.objects.get(pk=theirs["plain"].pk).on_hand == 0


def test_dates_stay_dates(site, technician):
    w = ward(site)
    body = _client(technician).get(f"{P}/cabinets/{w['cabinet'].pk}/pick-list").json()
    assert dt.date.fromisoformat(body["date"]) == site.today()
