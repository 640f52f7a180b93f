"""The disposal API at /api/v1/controlled/… through the full Django stack: destruction on
Form 41 with two witnesses, its PDF, witnessed waste and patient returns, the disposal
register as JSON and CSV, and each refusal (bad input, wrong password, another pharmacy) as a
problem body naming the field, with nothing written."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import pytest

from rxdesk.controlled.models import Destruction, DestructionLine, Waste
from rxdesk.core.choices import Role
from rxdesk.core.models import AuditEvent
from rxdesk.inventory import ledger
from rxdesk.inventory.models import StockBalance, StockMove
from tests.conftest import earlier_today
from tests.controlled.factories import credentials, cs_stock, oxycodone, witness
from tests.controlled.matrix_disposal import recorded
from tests.factories import PatientFactory
from tests.rx.test_api import Api, fields_of, problem_of

pytestmark = pytest.mark.django_db

P = "/controlled"


@pytest.fixture
def w1(site):
    return witness(site, Role.TECHNICIAN, "wit-tech")


@pytest.fixture
def w2(site):
    return witness(site, Role.PHARMACIST, "wit-rph")


@pytest.fixture
def oxy(site):
    return cs_stock(site, oxycodone(), 300, lot="OX1")


def kept() -> tuple[int, ...]:
    return (
        Destruction.objects.count(),
        DestructionLine.objects.count(),
        Waste.objects.count(),
        StockMove.objects.count(),
        AuditEvent.objects.exclude(action="auth.witness_failed").count(),
    )


def destruction_body(oxy, w1, w2, **over):
    body = {
        "destroyed_at": earlier_today(oxy.site, minutes=10).isoformat(),
        "method": "incineration",
        "location": "On-site incinerator",
        "lines": [{"balance_id": oxy.pk, "full_packages": 1, "partial_quantity": "5"}],
        "witnesses": [credentials(w1), credentials(w2)],
    }
    return body | over


def test_a_pharmacist_records_a_destruction_and_reads_it_back(pharmacist, w1, w2, oxy):
    api = Api(pharmacist)

    made = api.post(f"{P}/destructions", destruction_body(oxy, w1, w2))

    assert made.status_code == 201, made.content
    body = made.json()
    assert body["method"] == "On-site incineration"
    assert [w["user"] for w in body["witnesses"]] == ["wit-tech", "wit-rph"]
    line = body["lines"][0]
    assert (line["ndc10"], line["lot"], line["schedule"]) == ("0406-0552-01", "OX1", "CII")
    assert Decimal(line["quantity"]) == Decimal(105)
    assert Decimal(line["balance_after"]) == Decimal(195)
    assert api.get(f"{P}/destructions/{body['id']}").json() == body
    assert [d["id"] for d in api.get(f"{P}/destructions").json()] == [body["id"]]
    pdf = api.get(f"{P}/destructions/{body['id']}/pdf")
    assert pdf.status_code == 200
    assert pdf["Content-Type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF-")
    assert ledger.ledger_verify() == (1, [])


def test_a_wrong_password_is_a_422_naming_the_witness_and_nothing_is_destroyed(
    pharmacist, w1, w2, oxy
):
    api = Api(pharmacist)
    before = kept()
    body = destruction_body(oxy, w1, w2)
    body["witnesses"][1]["password"] = "wrong-password"

    response = api.post(f"{P}/destructions", body)

    assert fields_of(response) == ["witnesses.1.password"]
    assert kept() == before
    assert StockBalance.objects.get(pk=oxy.pk).on_hand == Decimal(300)


@pytest.mark.parametrize(
    ("over", "field"),
    [
        ({"witnesses": []}, "witnesses"),
        ({"method": "flushed"}, "method"),
        ({"destroyed_at": "soon"}, "destroyed_at"),
        ({"location": ""}, "location"),
        ({"lines": []}, "lines"),
        ({"lines": [{"balance_id": "x"}]}, "lines.0.balance_id"),
        ({"lines": [{"balance_id": 1, "full_packages": -1}]}, "lines.0.full_packages"),
        ({"lines": [{"balance_id": 1, "partial_quantity": "lots"}]}, "lines.0.partial_quantity"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_bad_input_names_the_field(pharmacist, w1, w2, oxy, over, field):
    api = Api(pharmacist)
    before = kept()

    response = api.post(f"{P}/destructions", destruction_body(oxy, w1, w2, **over))

    assert field in fields_of(response)
    assert kept() == before


def test_the_same_witness_twice_is_refused(pharmacist, w1, oxy):
    response = Api(pharmacist).post(f"{P}/destructions", destruction_body(oxy, w1, w1))
    assert fields_of(response) == ["witnesses.1.username"]


def test_more_than_on_hand_is_a_409(pharmacist, w1, w2, oxy):
    body = destruction_body(oxy, w1, w2, lines=[{"balance_id": oxy.pk, "full_packages": 4}])
    api = Api(pharmacist)
    before = kept()

    response = api.post(f"{P}/destructions", body)

    problem = problem_of(response, 409)
    assert problem["errors"][0]["field"] == "lines.0.full_packages"
    assert kept() == before


def test_another_pharmacys_destruction_is_404(site, outsider):
    theirs = recorded(site)
    api = Api(outsider)

    for path in (f"{P}/destructions/{theirs.pk}", f"{P}/destructions/{theirs.pk}/pdf"):
        problem_of(api.get(path), 404)
    problem_of(api.get(f"{P}/destructions/{2**70}"), 404)
    assert api.get(f"{P}/destructions").json() == []


def test_a_technician_records_a_patient_return_and_no_stock_moves(technician, w1, oxy, site):
    patient = PatientFactory(site=site)
    api = Api(technician)
    moves = StockMove.objects.count()

    made = api.post(
        f"{P}/waste",
        {
            "kind": "patient_return",
            "ndc": "0406-0552-01",
            "quantity": "12",
            "reason": "Therapy stopped; patient brought them back",
            "patient_id": patient.pk,
            "method": "Denaturing container",
            "witness": credentials(w1),
        },
    )

    assert made.status_code == 201, made.content
    body = made.json()
    assert (body["kind"], body["patient_id"], body["move_id"]) == (
        "patient_return",
        patient.pk,
        None,
    )
    assert body["witness"]["user"] == "wit-tech"
    assert StockMove.objects.count() == moves
    assert StockBalance.objects.get(pk=oxy.pk).on_hand == Decimal(300)
    assert [w["id"] for w in api.get(f"{P}/waste").json()] == [body["id"]]


def test_a_breakage_through_the_api_leaves_stock(technician, w1, oxy):
    made = Api(technician).post(
        f"{P}/waste",
        {
            "kind": "breakage",
            "ndc": "0406-0552-01",
            "quantity": "3",
            "reason": "Dropped",
            "balance_id": oxy.pk,
            "witness": credentials(w1),
        },
    )

    assert made.status_code == 201, made.content
    assert Decimal(made.json()["balance_after"]) == Decimal(297)


@pytest.mark.parametrize(
    ("over", "field"),
    [
        ({"kind": "spill"}, "kind"),
        ({"quantity": "0"}, "quantity"),
        ({"quantity": "x"}, "quantity"),
        ({"witness": {"username": "wit-tech"}}, "witness.password"),
        ({"witness": {"username": "tech", "password": "pharmacy-counter-42"}}, "witness.username"),
        ({"reason": ""}, "reason"),
    ],
)
def test_bad_waste_input_names_the_field(technician, w1, oxy, over, field):
    body = {
        "kind": "breakage",
        "ndc": "0406-0552-01",
        "quantity": "3",
        "reason": "Dropped",
        "balance_id": oxy.pk,
        "witness": credentials(w1),
    } | over
    api = Api(technician)
    before = kept()

    response = api.post(f"{P}/waste", body)

    assert field in fields_of(response)
    assert kept() == before


def test_the_register_as_json_and_csv(auditor, site):
    made = recorded(site)
    api = Api(auditor)

    body = api.get(f"{P}/disposals").json()
    assert [(r["kind"], r["record_id"], r["quantity"]) for r in body["rows"]] == [
        ("destruction", made.pk, "100.000")
    ]
    assert body["end"] == site.today().isoformat()

    response = api.get(f"{P}/disposals", format="csv")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0][:3] == ["date", "time", "kind"]
    assert rows[1][2:4] == ["destruction", f"Form 41 #{made.pk}"]


def test_a_bad_register_range_names_the_field(auditor):
    response = Api(auditor).get(f"{P}/disposals", start="2025-02-01", end="2025-01-01")
    assert fields_of(response) == ["end"]
    assert "start" in fields_of(Api(auditor).get(f"{P}/disposals", start="someday"))
