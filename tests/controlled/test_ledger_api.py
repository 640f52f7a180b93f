"""The controlled-substance ledger API at /api/v1/controlled/…: the perpetual inventory per
group, a package's record, the daily log and its sign-off, the unsigned days and the
signals, as JSON and CSV — and every refusal (role, bad NDC, group, date, day to come, the
same sign-off twice) as a problem body naming the field, with nothing written."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal

import pytest
import time_machine

from rxdesk.controlled.models import DailyLogSignoff
from rxdesk.core.models import AuditEvent
from rxdesk.inventory.choices import MoveReason
from rxdesk.inventory.ledger import Ref
from tests.controlled.factories import alprazolam, cs_stock, oxycodone
from tests.controlled.matrix_ledger import local, move
from tests.inventory.factories import package, stock
from tests.rx.factories import first_fill, make_rx
from tests.rx.test_api import Api, fields_of, problem_of

pytestmark = pytest.mark.django_db

D = Decimal
NOW = dt.datetime(2026, 3, 12, 18, 0, tzinfo=dt.UTC)  # 13:00 in Chicago
DAY = dt.date(2026, 3, 10)


@pytest.fixture(autouse=True)
def _clock():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def dispensed(site, technician):
    """Oxycodone received on DAY and dispensed on an Rx; alprazolam on hand."""
    oxy = oxycodone()
    rx = make_rx(technician, schedule="CII", product=oxy.product, package=oxy, refills_authorized=0)
    move(site, oxy, 100, lot="OX1", actor=technician, when=local(site, DAY, 9))
    move(site, oxy, -20, reason=MoveReason.DISPENSE, lot="OX1", actor=technician,
         ref=Ref("fill", first_fill(rx).pk), patient_id=rx.patient_id,
         when=local(site, DAY, 15))  # fmt: skip
    cs_stock(site, alprazolam(), 1000, lot="AL1")
    return rx


def _written() -> tuple[int, int]:
    return DailyLogSignoff.objects.count(), AuditEvent.objects.count()


def test_the_perpetual_inventory_of_a_group(site, technician, dispensed):
    response = Api(technician).get("/controlled/perpetual", group="II")

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["group"], body["group_label"]) == ("II", "Schedule II")
    (row,) = body["packages"]
    assert {k: row[k] for k in ("ndc", "ndc11", "drug", "schedule", "unit")} == {
        "ndc": "0406-0552-01",
        "ndc11": "00406055201",
        "drug": "Oxycodone Hydrochloride 5 mg tablet",
        "schedule": "CII",
        "unit": "EA",
    }
    assert D(row["on_hand"]) == 80
    assert [(lot["lot"], D(lot["on_hand"]), lot["status"]) for lot in row["lots"]] == [
        ("OX1", D(80), "available")
    ]
    others = Api(technician).get("/controlled/perpetual", group="III-V").json()["packages"]
    assert [p["ndc"] for p in others] == ["0228-2029-96"]


def test_the_perpetual_inventory_as_csv(site, technician, dispensed):
    response = Api(technician).get("/controlled/perpetual", group="II", format="csv")

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="perpetual-CII-20260312.csv"'
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[1][:7] == [
        "CII",
        "Oxycodone Hydrochloride 5 mg tablet",
        "0406-0552-01",
        "100",
        "EA",
        "80",
        "OX1",
    ]


@pytest.mark.parametrize("group", ["IV", "", "x" * 10])
def test_an_unknown_group_is_a_problem_naming_it(site, technician, group):
    response = Api(technician).get("/controlled/perpetual", group=group)
    assert fields_of(response) == ["group"]


def test_a_packages_record(site, pharmacist, dispensed):
    response = Api(pharmacist).get("/controlled/perpetual/0406-0552-01")

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["schedule"], body["group"], D(body["opening"]), D(body["closing"])) == (
        "CII",
        "II",
        D(0),
        D(80),
    )
    first, second = body["moves"]
    assert (first["reason"], D(first["quantity"]), D(first["package_balance"])) == (
        "receive",
        D(100),
        D(100),
    )
    assert (second["local_date"], second["local_time"], second["by"]) == (
        "2026-03-10",
        "15:00:00",
        "tech",
    )
    assert second["belongs_to"] == f"Rx {dispensed.number}-0"
    assert second["patient"] == dispensed.patient.full_name
    assert (D(second["lot_balance"]), D(second["package_balance"])) == (D(80), D(80))


def test_the_record_hides_the_patient_from_readers_without_patient_view(site, auditor, dispensed):
    moves = Api(auditor).get("/controlled/perpetual/00406055201").json()["moves"]
    assert [m["patient"] for m in moves] == ["", ""]
    assert moves[1]["belongs_to"] == f"Rx {dispensed.number}-0"


def test_a_packages_record_for_a_period_as_csv(site, pharmacist, dispensed):
    response = Api(pharmacist).get(
        "/controlled/perpetual/0406-0552-01", start="2026-03-10", end="2026-03-10", format="csv"
    )

    assert response.status_code == 200
    assert response["Content-Disposition"] == 'attachment; filename="cs-record-00406055201.csv"'
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert [r[3] for r in rows[1:]] == ["Opening balance", "Received from supplier", "Dispensed"]


@pytest.mark.parametrize(
    ("ndc", "params", "field"),
    [
        ("0002-3227-30", {}, "ndc"),  # not controlled
        ("9999-9999-99", {}, "ndc"),  # not in the catalog
        ("abc", {}, "ndc"),
        ("0406-0552-01", {"lot": "NOPE"}, "lot"),
        ("0406-0552-01", {"start": "2026-02-30"}, "start"),
        ("0406-0552-01", {"end": "tomorrow"}, "end"),
        ("0406-0552-01", {"start": "2026-03-10", "end": "2026-03-09"}, "end"),
        ("0406-0552-01", {"format": "pdf"}, "format"),
    ],
)
def test_a_bad_record_request_is_a_problem_naming_the_field(
    site, technician, dispensed, ndc, params, field
):
    stock(site, package(), lot="PZ1", quantity=30)
    response = Api(technician).get(f"/controlled/perpetual/{ndc}", **params)
    assert fields_of(response) == [field]


def test_the_daily_log(site, technician, dispensed):
    response = Api(technician).get("/controlled/log", day="2026-03-10", group="II")

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["day"], body["group"], body["moves"], body["state"]) == (
        "2026-03-10",
        "II",
        2,
        "not_signed",
    )
    assert body["state_text"] == "Not signed"
    assert [(t["reason"], t["moves"], t["quantities"]) for t in body["totals"]] == [
        ("receive", 1, {"EA": "100.000"}),
        ("dispense", 1, {"EA": "-20.000"}),
    ]
    assert [line["belongs_to"] for line in body["lines"]] == ["", f"Rx {dispensed.number}-0"]


def test_the_daily_log_as_csv(site, technician, dispensed):
    response = Api(technician).get("/controlled/log", day="2026-03-10", group="II", format="csv")
    assert response["Content-Disposition"] == 'attachment; filename="cs-log-2026-03-10-CII.csv"'
    assert len(response.content.decode().splitlines()) == 3


@pytest.mark.parametrize(
    ("params", "field"), [({"day": "03/10"}, "day"), ({"group": "V"}, "group")]
)
def test_a_bad_log_request_names_the_field(site, technician, params, field):
    assert fields_of(Api(technician).get("/controlled/log", **params)) == [field]


def test_a_pharmacist_signs_the_log(site, pharmacist, dispensed):
    response = Api(pharmacist).post(
        "/controlled/log/sign", {"day": "2026-03-10", "group": "II", "note": "Reviewed."}
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["message"] == "Schedule II log of 03/10/2026 signed: 2 moves."
    assert (body["signoff"]["moves"], body["signoff"]["signed_by"], body["signoff"]["note"]) == (
        2,
        pharmacist.display_name,
        "Reviewed.",
    )
    assert body["log"]["state"] == "signed"
    assert AuditEvent.objects.order_by("-id").first().action == "cs.log.signed"

    again = Api(pharmacist).post("/controlled/log/sign", {"day": "2026-03-10", "group": "II"})
    assert problem_of(again, 409)["errors"][0]["field"] == "day"
    assert DailyLogSignoff.objects.count() == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"day": "2026-03-13", "group": "II"}, "day"),  # tomorrow at the pharmacy
        ({"day": "2026-3-1", "group": "II"}, "day"),
        ({"group": "II"}, "day"),
        ({"day": "2026-03-10", "group": "IV"}, "group"),
        ({"day": "2026-03-10"}, "group"),
        ({"day": "2026-03-10", "group": "II", "note": "x" * 501}, "note"),
        ({"day": "2026-03-10", "group": "II", "signer": "someone"}, "signer"),
    ],
)
def test_a_bad_sign_off_names_the_field_and_writes_nothing(site, pharmacist, body, field):
    api = Api(pharmacist)  # its token is written first
    before = _written()
    response = api.post("/controlled/log/sign", body)
    assert fields_of(response) == [field]
    assert _written() == before


@pytest.mark.parametrize("who", ["technician", "inventory", "auditor"])
def test_readers_may_not_sign(request, site, who):
    api = Api(request.getfixturevalue(who))
    before = _written()
    response = api.post("/controlled/log/sign", {"day": "2026-03-10", "group": "II"})
    problem_of(response, 403)
    assert _written() == before


def test_the_unsigned_days(site, technician, dispensed):
    response = Api(technician).get("/controlled/log/unsigned", days=7)

    assert response.status_code == 200
    assert response.json() == [
        {
            "day": "2026-03-10",
            "group": "II",
            "group_label": "Schedule II",
            "moves": 2,
            "state": "not_signed",
            "text": "Not signed",
        }
    ]
    assert fields_of(Api(technician).get("/controlled/log/unsigned", days=0)) == ["days"]


def test_the_signals(site, pic, auditor, technician, dispensed):
    response = Api(pic).get("/controlled/signals", days=30)

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["start"], body["end"]) == ("2026-02-10", "2026-03-12")
    assert body["packages"] == [] and body["people"] == []
    assert Api(auditor).get("/controlled/signals").status_code == 200
    assert fields_of(Api(pic).get("/controlled/signals", days=3)) == ["days"]
    problem_of(Api(technician).get("/controlled/signals"), 403)
