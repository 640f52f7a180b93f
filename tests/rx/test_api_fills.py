"""The fill workflow API at /api/v1/fills… through the full Django stack: the whole way from
typed intake to sale, the queues and their sort, each step's refusals (role, bad input,
wrong state, another pharmacy) and what a refusal leaves unchanged."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from rxdesk.core.models import AuditEvent
from rxdesk.inventory.models import StockBalance, StockMove
from rxdesk.rx.choices import FillStatus
from rxdesk.rx.models import Fill, FillEvent
from rxdesk.rx.services import workflow
from tests.catalog.factories import PackageFactory, ProductFactory
from tests.inventory.factories import stock
from tests.rx.factories import first_fill, make_rx
from tests.rx.test_api import Api, problem_of, typed_body

pytestmark = pytest.mark.django_db


@pytest.fixture
def as_tech(technician) -> Api:
    return Api(technician)


@pytest.fixture
def as_rph(pharmacist) -> Api:
    return Api(pharmacist)


def _on_hand(package) -> Decimal:
    return sum((b.on_hand for b in StockBalance.objects.filter(package=package)), Decimal(0))


def _snapshot(fill: Fill) -> tuple[Any, ...]:
    fill.refresh_from_db()
    return (
        fill.status,
        fill.data_verified_by_id,
        fill.verified_by_id,
        FillEvent.objects.filter(fill=fill).count(),
        AuditEvent.objects.count(),
        StockMove.objects.count(),
    )


def _queued(technician) -> Fill:
    rx = make_rx(technician)
    stock(rx.site, rx.package, lot="LOT-A", quantity=100)
    return first_fill(rx)


def _to_fill(technician, pharmacist) -> Fill:
    return workflow.fill_data_verify(actor=pharmacist, fill=_queued(technician))


def _filled(technician, pharmacist) -> Fill:
    fill = _to_fill(technician, pharmacist)
    return workflow.fill_product(
        actor=technician, fill=fill, scanned_code=fill.prescription.package.ndc10
    )


def _ready(technician, pharmacist) -> Fill:
    return workflow.fill_final_verify(actor=pharmacist, fill=_filled(technician, pharmacist))


# --- The whole way -----------------------------------------------------------------------------


def test_it_takes_a_prescription_from_intake_to_sale(as_tech, as_rph, site, technician, pharmacist):
    # Given a technician types a prescription, and its drug is on the shelf
    created = as_tech.post("/prescriptions", typed_body(site))
    assert created.status_code == 201, created.content
    fill_id = created.json()["fills"][0]["id"]
    fill = Fill.objects.select_related("prescription__package", "prescription__patient").get(
        pk=fill_id
    )
    rx = fill.prescription
    stock(site, rx.package, lot="LOT-A", quantity=100, expiry=dt.date(2031, 1, 31))

    # it waits in the data-verification queue
    queue = as_tech.get("/fills")
    assert queue.status_code == 200
    assert [(i["id"], i["status"], i["rx_number"], i["fill_number"]) for i in queue.json()] == [
        (fill_id, "queued", rx.number, 0)
    ]
    item = queue.json()[0]
    assert item["patient"] == {"id": rx.patient_id, "name": rx.patient.full_name}
    assert (item["drug"], item["quantity"], item["priority"]) == (
        rx.drug_description,
        "30",
        "normal",
    )
    assert (item["minutes_waiting"], item["over_target"]) == (0, False)

    # When the pharmacist verifies the data
    verified = as_rph.post(f"/fills/{fill_id}/data-verification", {"approve": True})
    assert verified.status_code == 200, verified.content
    out = verified.json()
    assert out["status"] == "to_fill"
    assert out["steps"]["data_verified"]["by"] == pharmacist.display_name
    assert out["steps"]["data_verified"]["at"] is not None
    assert [i["id"] for i in as_tech.get("/fills", status="to_fill").json()] == [fill_id]

    # and the technician scans the right package and counts it out
    filled = as_tech.post(f"/fills/{fill_id}/fill", {"scanned_code": rx.package.ndc10})
    assert filled.status_code == 200, filled.content
    out = filled.json()
    assert out["status"] == "filled"
    assert out["package"] == {
        "ndc10": rx.package.ndc10,
        "ndc11": rx.package.ndc11,
        "description": rx.package.description,
    }
    assert (out["scanned_code"], out["scan_override_reason"]) == (rx.package.ndc10, "")
    assert out["lots"] == [
        {"lot_number": "LOT-A", "expiry": "2031-01-31", "quantity": "30", "returned": "0"}
    ]
    assert out["steps"]["filled"]["by"] == technician.display_name
    assert _on_hand(rx.package) == 70

    # and the pharmacist approves it at final verification
    ready = as_rph.post(f"/fills/{fill_id}/final-verification", {})
    assert ready.status_code == 200, ready.content
    assert (ready.json()["status"], ready.json()["bin"]) == ("ready", "D")  # patient Doe

    # Then the technician sells it, and the history names every step
    sold = as_tech.post(f"/fills/{fill_id}/sale")
    assert sold.status_code == 200, sold.content
    out = sold.json()
    assert (out["status"], out["status_label"]) == ("dispensed", "Sold")
    assert out["steps"]["sold"]["by"] == technician.display_name
    assert [(h["step"], h["from_status"], h["to_status"]) for h in out["history"]] == [
        ("entered", "", "queued"),
        ("data_verified", "queued", "to_fill"),
        ("filled", "to_fill", "filled"),
        ("final_verified", "filled", "ready"),
        ("sold", "ready", "dispensed"),
    ]
    assert out["history"][-1]["actor_name"] == technician.display_name
    assert as_tech.get(f"/fills/{fill_id}").json() == out


def test_it_shows_a_fill_with_who_did_each_step(as_tech, technician, pharmacist):
    fill = _ready(technician, pharmacist)

    response = as_tech.get(f"/fills/{fill.pk}")

    assert response.status_code == 200
    out = response.json()
    assert {k: v["by"] for k, v in out["steps"].items()} == {
        "entered": technician.display_name,
        "data_verified": pharmacist.display_name,
        "filled": technician.display_name,
        "final_verified": pharmacist.display_name,
        "sold": None,
        "returned": None,
    }
    assert [h["step_label"] for h in out["history"]] == [
        "Entered",
        "Data verified",
        "Filled",
        "Final verification",
    ]


# --- Pharmacist-only steps ---------------------------------------------------------------------


def test_a_technician_cannot_verify_the_data(as_tech, technician):
    fill = _queued(technician)
    before = _snapshot(fill)

    response = as_tech.post(f"/fills/{fill.pk}/data-verification", {"approve": True})

    assert problem_of(response, 403)["type"] == "/problems/forbidden"
    assert _snapshot(fill) == before


def test_a_technician_cannot_verify_the_fill(as_tech, technician, pharmacist):
    fill = _filled(technician, pharmacist)
    before = _snapshot(fill)

    response = as_tech.post(f"/fills/{fill.pk}/final-verification", {"bin": "A"})

    problem_of(response, 403)
    assert _snapshot(fill) == before
    assert before[0] == FillStatus.FILLED


def test_a_forbidden_role_gets_403_whatever_it_sends(as_tech, technician, pharmacist):
    queued = _queued(technician)
    filled = _filled(technician, pharmacist)

    # A malformed body, an unknown field, a fill that does not exist: still 403, not 422/404.
    for path, body in [
        (f"/fills/{queued.pk}/data-verification", {"approve": "perhaps"}),
        (f"/fills/{queued.pk}/data-verification", {"sneaky": 1}),
        (f"/fills/{filled.pk}/final-verification", {"bin": "X" * 50}),
        ("/fills/999999/final-verification", {}),
    ]:
        problem_of(as_tech.post(path, body), 403)


def test_roles_without_prescriptions_see_no_fills(technician, inventory, auditor):
    fill = _queued(technician)
    for user in (inventory, auditor):
        api = Api(user)
        problem_of(api.get("/fills"), 403)
        problem_of(api.get(f"/fills/{fill.pk}"), 403)
        problem_of(api.post(f"/fills/{fill.pk}/hold", {"reason": "profile"}), 403)


def test_a_browser_session_needs_its_csrf_token(technician, pharmacist):
    fill = _queued(technician)
    client = Client(enforce_csrf_checks=True)
    client.force_login(pharmacist)

    response = client.post(
        f"/api/v1/fills/{fill.pk}/data-verification", {}, content_type="application/json"
    )

    assert problem_of(response, 403)["type"] == "/problems/csrf"
    assert Fill.objects.get(pk=fill.pk).status == FillStatus.QUEUED


def test_it_needs_a_signed_in_user(technician):
    fill = _queued(technician)
    response = Client().post(f"/api/v1/fills/{fill.pk}/sale")
    problem_of(response, 401)


# --- Bad input ---------------------------------------------------------------------------------


def test_a_wrong_product_scanned_is_refused_naming_the_scan(as_tech, technician, pharmacist):
    fill = _to_fill(technician, pharmacist)
    other = PackageFactory(
        product=ProductFactory(name="Zoloft", generic_name="Sertraline", strength="50 mg/1"),
        ndc10="0049-4900-30",
    )
    stock(fill.site, other, quantity=100)
    before = _snapshot(fill)

    response = as_tech.post(f"/fills/{fill.pk}/fill", {"scanned_code": "0049-4900-30"})

    body = problem_of(response, 422)
    assert [e["field"] for e in body["errors"]] == ["scanned_code"]
    assert "Zoloft" in body["detail"] and "Scan the right product" in body["detail"]
    assert _snapshot(fill) == before
    assert _on_hand(other) == 100


@pytest.mark.parametrize(
    ("quantity", "message"),
    [
        ("0", "more than zero"),
        ("-3", "more than zero"),
        ("31", "this fill is for 30"),
        ("abc", "decimal"),
        ("1.0005", "3 decimal places"),
    ],
)
def test_a_bad_count_is_refused_naming_the_quantity(
    as_tech, technician, pharmacist, quantity, message
):
    fill = _to_fill(technician, pharmacist)
    before = _snapshot(fill)

    response = as_tech.post(
        f"/fills/{fill.pk}/fill",
        {"scanned_code": fill.prescription.package.ndc10, "quantity": quantity},
    )

    body = problem_of(response, 422)
    assert [e["field"] for e in body["errors"]] == ["quantity"]
    assert message in body["errors"][0]["message"]
    assert _snapshot(fill) == before


def test_an_unknown_package_is_refused_naming_it(as_rph, technician, pharmacist):
    fill = _to_fill(technician, pharmacist)

    response = as_rph.post(
        f"/fills/{fill.pk}/fill", {"package_ndc": "9999-9999-99", "override_reason": "torn"}
    )

    assert [e["field"] for e in problem_of(response, 422)["errors"]] == ["package_ndc"]


def test_a_pharmacist_accepts_a_package_picked_by_hand(as_rph, as_tech, technician, pharmacist):
    fill = _to_fill(technician, pharmacist)
    ndc = fill.prescription.package.ndc10

    # No scan: a technician is told to scan; a pharmacist may accept it with a reason.
    refused = as_tech.post(f"/fills/{fill.pk}/fill", {"package_ndc": ndc})
    assert [e["field"] for e in problem_of(refused, 422)["errors"]] == ["scanned_code"]
    forbidden = as_tech.post(f"/fills/{fill.pk}/fill", {"package_ndc": ndc, "override_reason": "x"})
    problem_of(forbidden, 403)
    response = as_rph.post(
        f"/fills/{fill.pk}/fill", {"package_ndc": ndc, "override_reason": "Label torn"}
    )

    assert response.status_code == 200, response.content
    out = response.json()
    assert (out["status"], out["scan_override_reason"]) == ("filled", "Label torn")
    assert [h["step"] for h in out["history"]][-2:] == ["scan_overridden", "filled"]


def test_send_back_needs_a_reason(as_rph, technician, pharmacist):
    fill = _filled(technician, pharmacist)
    before = _snapshot(fill)

    response = as_rph.post(f"/fills/{fill.pk}/final-verification", {"approve": False})

    assert [e["field"] for e in problem_of(response, 422)["errors"]] == ["reason"]
    assert _snapshot(fill) == before

    back = as_rph.post(
        f"/fills/{fill.pk}/final-verification", {"approve": False, "reason": "Count was 29"}
    )
    assert back.status_code == 200
    out = back.json()
    assert out["status"] == "to_fill"
    assert out["lots"] == [
        {"lot_number": "LOT-A", "expiry": "2030-12-31", "quantity": "0", "returned": "30"}
    ]
    assert out["history"][-1] | {"at": None} == {
        "step": "sent_back",
        "step_label": "Sent back",
        "from_status": "filled",
        "to_status": "to_fill",
        "actor_name": pharmacist.display_name,
        "at": None,
        "reason": "Count was 29",
    }


def test_a_promised_time_needs_its_time_zone(as_tech, technician):
    fill = _queued(technician)

    naive = as_tech.post(
        f"/fills/{fill.pk}/priority", {"priority": "promised", "promised_at": "2030-01-01T10:00"}
    )
    missing = as_tech.post(f"/fills/{fill.pk}/priority", {"priority": "promised"})
    unknown = as_tech.post(f"/fills/{fill.pk}/priority", {"priority": "whenever"})

    assert [e["field"] for e in problem_of(naive, 422)["errors"]] == ["promised_at"]
    assert [e["field"] for e in problem_of(missing, 422)["errors"]] == ["promised_at"]
    assert [e["field"] for e in problem_of(unknown, 422)["errors"]] == ["priority"]
    assert Fill.objects.get(pk=fill.pk).priority == "normal"


def test_a_bad_queue_filter_is_refused(as_tech):
    assert [
        e["field"] for e in problem_of(as_tech.get("/fills", status="lost"), 422)["errors"]
    ] == ["status"]
    assert [e["field"] for e in problem_of(as_tech.get("/fills", limit=0), 422)["errors"]] == [
        "limit"
    ]


# --- Wrong state, other pharmacy ---------------------------------------------------------------


def test_a_step_that_does_not_apply_now_is_a_conflict(as_tech, as_rph, technician, pharmacist):
    fill = _to_fill(technician, pharmacist)
    before = _snapshot(fill)

    again = as_rph.post(f"/fills/{fill.pk}/data-verification", {})
    sale = as_tech.post(f"/fills/{fill.pk}/sale")
    release = as_tech.post(f"/fills/{fill.pk}/release")

    for response in (again, sale, release):
        body = problem_of(response, 409)
        assert body["type"] == "/problems/conflict"
        assert "does not apply now" in body["detail"]
        assert body["fill_status"] == "to_fill"
    assert _snapshot(fill) == before


def test_fills_of_another_pharmacy_are_not_found(as_tech, outsider):
    theirs = _queued(outsider)
    before = _snapshot(theirs)

    for response in (
        as_tech.get(f"/fills/{theirs.pk}"),
        as_tech.post(f"/fills/{theirs.pk}/hold", {"reason": "profile"}),
        as_tech.post(f"/fills/{theirs.pk}/priority", {"priority": "stat"}),
    ):
        assert problem_of(response, 404)["detail"] == "No such fill at this pharmacy."
    assert as_tech.get("/fills").json() == []
    assert _snapshot(theirs) == before


# --- Queues, holds, return to stock ------------------------------------------------------------


def test_the_queue_puts_the_most_urgent_first(as_tech, technician, site):
    fills = {name: first_fill(make_rx(technician)) for name in ("normal", "w", "s", "p2", "p1")}
    soon = timezone.now() + dt.timedelta(hours=1)
    later = soon + dt.timedelta(hours=2)
    for name, body in [
        ("w", {"priority": "waiter"}),
        ("s", {"priority": "stat"}),
        ("p2", {"priority": "promised", "promised_at": later.isoformat()}),
        ("p1", {"priority": "promised", "promised_at": soon.isoformat()}),
    ]:
        response = as_tech.post(f"/fills/{fills[name].pk}/priority", body)
        assert response.status_code == 200, response.content
    # The waiter has been waiting longer than the site's 15-minute target.
    Fill.objects.filter(pk=fills["w"].pk).update(
        requested_at=timezone.now() - dt.timedelta(minutes=20)
    )

    queue = as_tech.get("/fills").json()

    order = {f.pk: name for name, f in fills.items()}
    assert [order[i["id"]] for i in queue] == ["s", "w", "p1", "p2", "normal"]
    assert [(i["priority"], i["over_target"]) for i in queue] == [
        ("stat", False),
        ("waiter", True),
        ("promised", False),
        ("promised", False),
        ("normal", False),
    ]
    assert queue[1]["minutes_waiting"] >= 20
    patient = fills["p2"].prescription.patient_id
    assert [i["id"] for i in as_tech.get("/fills", patient_id=patient).json()] == [fills["p2"].pk]
    assert [i["id"] for i in as_tech.get("/fills", priority="stat").json()] == [fills["s"].pk]
    assert len(as_tech.get("/fills", limit=2).json()) == 2


def test_hold_and_release(as_tech, technician):
    fill = _queued(technician)

    held = as_tech.post(f"/fills/{fill.pk}/hold", {"reason": "waiting_pa", "note": "Plan PA"})
    assert held.status_code == 200
    assert (held.json()["status"], held.json()["hold_reason"], held.json()["hold_note"]) == (
        "on_hold",
        "waiting_pa",
        "Plan PA",
    )
    assert as_tech.get("/fills").json() == []
    assert [i["id"] for i in as_tech.get("/fills", status="on_hold").json()] == [fill.pk]
    bad = as_tech.post(f"/fills/{fill.pk}/hold", {"reason": "lunch"})
    assert [e["field"] for e in problem_of(bad, 422)["errors"]] == ["reason"]

    released = as_tech.post(f"/fills/{fill.pk}/release")
    assert released.status_code == 200
    assert (released.json()["status"], released.json()["hold_reason"]) == ("queued", "")


def test_return_to_stock_lists_and_puts_back_what_was_not_picked_up(
    as_tech, technician, pharmacist
):
    fill = _ready(technician, pharmacist)
    package = fill.prescription.package
    assert as_tech.get("/fills/return-to-stock").json() == []
    Fill.objects.filter(pk=fill.pk).update(ready_at=timezone.now() - dt.timedelta(days=11))

    due = as_tech.get("/fills/return-to-stock")

    assert due.status_code == 200
    [item] = due.json()
    assert (item["id"], item["bin"], item["days_waiting"], item["quantity"]) == (
        fill.pk,
        "D",
        11,
        "30",
    )
    missing = as_tech.post(f"/fills/{fill.pk}/return-to-stock", {})
    assert [e["field"] for e in problem_of(missing, 422)["errors"]] == ["reason"]
    assert _on_hand(package) == 70

    back = as_tech.post(f"/fills/{fill.pk}/return-to-stock", {"reason": "Not picked up"})

    assert back.status_code == 200, back.content
    out = back.json()
    assert out["status"] == "returned"
    assert out["steps"]["returned"]["by"] == technician.display_name
    assert out["lots"][0]["quantity"] == "0" and out["lots"][0]["returned"] == "30"
    assert _on_hand(package) == 100
    problem_of(as_tech.post(f"/fills/{fill.pk}/sale"), 409)


def test_ids_beyond_a_bigint_are_not_found_never_a_server_error(as_tech):
    big = "99999999999999999999"

    assert problem_of(as_tech.get(f"/fills/{big}"), 404)["type"] == "/problems/not_found"
    problem_of(as_tech.post(f"/fills/{big}/hold", {"reason": "profile"}), 404)
    bad = problem_of(as_tech.get("/fills", patient_id=big), 422)
    assert [e["field"] for e in bad["errors"]] == ["patient_id"]
