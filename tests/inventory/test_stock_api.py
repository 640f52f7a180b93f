"""The stock API at /api/v1/inventory: the on-hand contract (exact JSON, quantities as
decimal strings with their unit), a lot, a package's lots, the movement history with
running totals, single receipts, adjustments, lot status, storage locations and transfers.
Bad input is a problem body naming the field with nothing written; a role that may not
write writes nothing."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
from collections.abc import Iterator
from decimal import Decimal

import pytest
from django.test import Client

from rxdesk.catalog.ndc import ndc_to_gtin14
from rxdesk.core.models import AuditEvent, Organization, User
from rxdesk.inventory.choices import LotStatus, TransferStatus
from rxdesk.inventory.ledger import Ref, ledger_verify
from rxdesk.inventory.models import (
    Lot,
    StockBalance,
    StockMove,
    StockTransfer,
    StockTransferLine,
    StorageLocation,
)
from rxdesk.inventory.services.stock import stock_dispense
from tests.factories import PatientFactory, SiteFactory, UserFactory
from tests.inventory.factories import package, stock

pytestmark = pytest.mark.django_db

P = "/api/v1/inventory"
PROBLEM = "application/problem+json"
WRITES = (StockMove, StockBalance, Lot, StorageLocation, StockTransfer, StockTransferLine)


def client_of(user: User) -> Client:
    client = Client()
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    return client


def post(client: Client, path: str, body: dict) -> object:
    return client.post(f"{P}{path}", data=body, content_type="application/json")


def patch(client: Client, path: str, body: dict) -> object:
    return client.patch(f"{P}{path}", data=body, content_type="application/json")


@contextlib.contextmanager
def nothing_written() -> Iterator[None]:
    before = _counts()
    yield
    assert _counts() == before


def _counts() -> dict[str, int]:
    counts = {t.__name__: t.objects.count() for t in WRITES}
    # Signing in is logged (auth.*); only the stock's own events count here.
    counts["events"] = AuditEvent.objects.exclude(action__startswith="auth.").count()
    return counts


def problem_of(response, status: int) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == PROBLEM
    return response.json()


def fields_of(response, status: int = 422) -> list[str]:
    return [e["field"] for e in problem_of(response, status).get("errors", [])]


def last_event() -> AuditEvent:
    event = AuditEvent.objects.exclude(action__startswith="auth.").order_by("-id").first()
    assert event is not None
    return event


@pytest.fixture
def lot(site):
    bay = StorageLocation.objects.create(site=site, code="A-1", name="Aisle 1")
    return stock(site, package(), "PZ1", 100, expiry=dt.date(2030, 12, 31), location=bay)


def stock_json(balance: StockBalance, **changes: object) -> dict:
    out = {
        "id": balance.pk,
        "package_id": balance.package_id,
        "ndc11": "00002322730",
        "ndc10": "0002-3227-30",
        "name": "Prozac",
        "generic_name": "Fluoxetine Hydrochloride",
        "strength": "20 mg/1",
        "dosage_form": "CAPSULE",
        "package_description": "30 CAPSULE in 1 BOTTLE (0002-3227-30)",
        "package_quantity": "30.000",
        "unit": "EA",
        "lot_id": balance.lot_id,
        "lot_number": "PZ1",
        "expiry": "2030-12-31",
        "on_hand": "100.000",
        "status": "available",
        "status_reason": "",
        "location": "A-1",
        "location_name": "Aisle 1",
        "dispensable": True,
        "expired": False,
    }
    out.update(changes)
    return out


# --- Reading stock -------------------------------------------------------------------------


def test_stock_lists_lots_with_quantities_as_strings_and_their_unit(technician, lot):
    response = client_of(technician).get(f"{P}/stock")

    assert response.status_code == 200
    assert response.json() == [stock_json(lot)]


def test_stock_filters_by_search_status_location_and_expiry(technician, pharmacist, site, lot):
    stock(site, package(), "PZ2", 5, expiry=site.today() + dt.timedelta(days=10))
    client = client_of(technician)

    def lots(query: str) -> list[str]:
        response = client.get(f"{P}/stock?{query}")
        assert response.status_code == 200, response.content
        return [row["lot_number"] for row in response.json()]

    gtin = ndc_to_gtin14("0002-3227-30")
    assert lots("q=prozac") == ["PZ2", "PZ1"]
    assert lots("q=0002-3227-30") == ["PZ2", "PZ1"]
    assert lots(f"q=01{gtin}1730123110PZ1") == ["PZ1"]
    assert lots("location=A-1") == ["PZ1"]
    assert lots("expiring_within_days=30") == ["PZ2"]
    assert lots("status=quarantined") == []


def test_bad_stock_filters_name_the_field(technician, lot):
    client = client_of(technician)

    assert fields_of(client.get(f"{P}/stock?status=lost")) == ["status"]
    assert fields_of(client.get(f"{P}/stock?expiring_within_days=-1")) == ["expiring_within_days"]
    assert fields_of(client.get(f"{P}/stock?location=NOWHERE")) == ["location"]


def test_one_lot_and_another_sites_lot(technician, outsider, lot):
    assert client_of(technician).get(f"{P}/stock/{lot.pk}").json() == stock_json(lot)
    problem = problem_of(client_of(outsider).get(f"{P}/stock/{lot.pk}"), 404)
    assert problem["detail"] == "No such stock at this site."


def test_package_stock_totals(pharmacist, site, lot):
    held = stock(site, lot.package, "PZ0", 8, expiry=dt.date(2029, 1, 31))
    client_of(pharmacist).post(
        f"{P}/stock/{held.pk}/status",
        data={"status": "on_hold", "reason": "check count"},
        content_type="application/json",
    )

    body = client_of(pharmacist).get(f"{P}/packages/{lot.package_id}/stock").json()

    assert {k: v for k, v in body.items() if k != "lots"} == {
        "package_id": lot.package_id,
        "ndc11": "00002322730",
        "ndc10": "0002-3227-30",
        "name": "Prozac",
        "strength": "20 mg/1",
        "dosage_form": "CAPSULE",
        "package_description": "30 CAPSULE in 1 BOTTLE (0002-3227-30)",
        "unit": "EA",
        "on_hand": "108.000",
        "dispensable": "100.000",
    }
    assert [(r["lot_number"], r["status"], r["dispensable"]) for r in body["lots"]] == [
        ("PZ0", "on_hold", False),
        ("PZ1", "available", True),
    ]


def test_moves_of_a_package_carry_the_running_total(technician, pharmacist, site, lot):
    second = stock(site, lot.package, "PZ2", 50, expiry=dt.date(2031, 3, 31))
    patient = PatientFactory(site=site)
    stock_dispense(
        actor=technician,
        ndc=lot.package,
        quantity="30",
        lot=lot.lot,
        patient_id=patient.pk,
        reference=Ref("fill", 12),
    )
    client_of(pharmacist).post(
        f"{P}/stock/{second.pk}/adjust",
        data={"quantity": "-2", "reason": "broken", "note": "vial cracked"},
        content_type="application/json",
    )

    by_id = client_of(technician).get(f"{P}/moves?package_id={lot.package_id}").json()
    by_ndc = client_of(technician).get(f"{P}/moves?ndc=00002-3227-30").json()

    assert by_id == by_ndc
    assert [
        (m["lot_number"], m["quantity"], m["balance_after"], m["package_total"]) for m in by_id
    ] == [
        ("PZ2", "-2.000", "48.000", "118.000"),
        ("PZ1", "-30.000", "70.000", "120.000"),
        ("PZ2", "50.000", "50.000", "150.000"),
        ("PZ1", "100.000", "100.000", "100.000"),
    ]
    adjusted, dispensed = by_id[0], by_id[1]
    assert {k: adjusted[k] for k in ("actor_name", "reason", "reason_label")} == {
        "actor_name": "rph",
        "reason": "waste",
        "reason_label": "Waste or damage",
    }
    assert (adjusted["adjust_reason"], adjusted["adjust_reason_label"], adjusted["note"]) == (
        "broken",
        "Broken or spilled",
        "vial cracked",
    )
    # A dispensing names its fill, never the patient.
    assert dispensed["reason_label"] == "Dispensed"
    assert (dispensed["reference_type"], dispensed["reference_id"]) == ("fill", "12")
    assert not any("patient" in key for key in dispensed)
    assert dispensed["unit"] == "EA"


def test_moves_of_a_lot_and_paging(technician, pharmacist, lot):
    client = client_of(pharmacist)
    for quantity in ("-1", "-2", "3"):
        post(client, f"/stock/{lot.pk}/adjust", {"quantity": quantity, "reason": "data_entry"})

    page = client_of(technician).get(f"{P}/moves?lot_id={lot.lot_id}&limit=2").json()
    older = (
        client_of(technician)
        .get(f"{P}/moves?lot_id={lot.lot_id}&limit=2&before_id={page[-1]['id']}")
        .json()
    )

    assert [(m["quantity"], m["balance_after"]) for m in page] == [
        ("3.000", "100.000"),
        ("-2.000", "97.000"),
    ]
    assert [(m["quantity"], m["balance_after"], m["package_total"]) for m in older] == [
        ("-1.000", "99.000", None),
        ("100.000", "100.000", None),
    ]


def test_bad_move_filters_name_the_field(technician, lot):
    client = client_of(technician)

    assert fields_of(client.get(f"{P}/moves?ndc=12")) == ["ndc"]
    assert fields_of(client.get(f"{P}/moves?ndc=99999-9999-99")) == ["ndc"]
    assert fields_of(client.get(f"{P}/moves?ndc=0002-3227-30&package_id=1")) == ["ndc"]
    assert fields_of(client.get(f"{P}/moves?lot_id=0")) == ["lot_id"]
    problem_of(client.get(f"{P}/moves?lot_id=999999"), 404)


# --- Receiving one lot ---------------------------------------------------------------------


RECEIPT = {
    "ndc": "0002-3227-30",
    "lot_number": "new7",
    "expiry": "2031-01-31",
    "quantity": "24",
    "unit": "EA",
    "location": "A-1",
    "note": "found behind the shelf",
}


def test_receive_puts_a_lot_into_stock(technician, lot):
    response = post(client_of(technician), "/stock/receive", RECEIPT)

    assert response.status_code == 201, response.content
    body = response.json()
    balance = StockBalance.objects.get(lot__number="NEW7")
    assert body["balance"] == stock_json(
        balance,
        lot_number="NEW7",
        expiry="2031-01-31",
        on_hand="24.000",
    )
    assert (body["move"]["reason"], body["move"]["quantity"], body["move"]["note"]) == (
        "receive",
        "24.000",
        "found behind the shelf",
    )
    event = last_event()
    assert event.action == "inventory.stock.received"
    assert json.loads(event.data) == {
        "ndc": "00002322730",
        "lot": "NEW7",
        "expiry": "2031-01-31",
        "quantity": "24.000",
        "balance_after": "24.000",
        "dea_order_number": "",
    }


def test_an_opening_balance_is_recorded_as_one(inventory, lot):
    response = post(client_of(inventory), "/stock/receive", {**RECEIPT, "opening": True})

    assert response.json()["move"]["reason"] == "opening"
    assert response.json()["move"]["reason_label"] == "Opening balance"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"quantity": "0"}, "quantity"),
        ({"quantity": "-3"}, "quantity"),
        ({"quantity": "1.0001"}, "quantity"),
        ({"quantity": "lots"}, "quantity"),
        ({"ndc": "99999-9999-99"}, "ndc"),
        ({"ndc": ""}, "ndc"),
        ({"expiry": None}, "expiry"),
        ({"expiry": "2020-01-31"}, "expiry"),
        ({"expiry": "31/01/2031"}, "expiry"),
        ({"lot_number": ""}, "lot_number"),
        ({"unit": "ML"}, "unit"),
        ({"location": "NOWHERE"}, "location"),
        ({"colour": "blue"}, "colour"),
    ],
)
def test_bad_receipts_name_the_field_and_write_nothing(technician, lot, changes, field):
    with nothing_written():
        response = post(client_of(technician), "/stock/receive", {**RECEIPT, **changes})

    assert fields_of(response) == [field]


def test_a_lot_on_file_with_another_expiry_is_refused(technician, lot):
    with nothing_written():
        response = post(client_of(technician), "/stock/receive", {**RECEIPT, "lot_number": "PZ1"})

    assert fields_of(response) == ["expiry"]


def test_a_role_that_may_not_receive_writes_nothing(auditor, trainee, lot):
    for user in (auditor, trainee):
        with nothing_written():
            problem_of(post(client_of(user), "/stock/receive", RECEIPT), 403)


# --- Adjusting, status, location ----------------------------------------------------------


def test_adjust_takes_out_and_puts_back(pharmacist, lot):
    client = client_of(pharmacist)

    out = post(client, f"/stock/{lot.pk}/adjust", {"quantity": "-2", "reason": "data_entry"})
    back = post(client, f"/stock/{lot.pk}/adjust", {"quantity": "+1.5", "reason": "found"})

    assert out.status_code == 200, out.content
    assert out.json()["move"]["quantity"] == "-2.000"
    assert out.json()["balance"]["on_hand"] == "98.000"
    assert back.json()["balance"]["on_hand"] == "99.500"
    event = last_event()
    assert event.action == "inventory.stock.adjusted"
    assert json.loads(event.data) == {
        "balance": lot.pk,
        "quantity": "1.500",
        "reason": "found",
        "balance_after": "99.500",
    }
    assert ledger_verify() == (1, [])


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"quantity": "0", "reason": "data_entry"}, 422, "quantity"),
        ({"quantity": "-101", "reason": "data_entry"}, 409, "quantity"),
        ({"quantity": "5", "reason": "broken"}, 422, "quantity"),
        ({"quantity": "-1", "reason": "because"}, 422, "reason"),
        ({"quantity": "-1", "reason": "other"}, 422, "note"),
        ({"reason": "data_entry"}, 422, "quantity"),
    ],
)
def test_bad_adjustments_name_the_field_and_write_nothing(pharmacist, lot, body, status, field):
    with nothing_written():
        response = post(client_of(pharmacist), f"/stock/{lot.pk}/adjust", body)

    assert fields_of(response, status) == [field]


def test_a_technician_may_not_adjust(technician, lot):
    with nothing_written():
        problem_of(
            post(
                client_of(technician),
                f"/stock/{lot.pk}/adjust",
                {"quantity": "-1", "reason": "data_entry"},
            ),
            403,
        )


def test_another_sites_lot_cannot_be_adjusted(outsider, pharmacist, lot):
    other_rph = UserFactory(site=outsider.site, role="pharmacist", username="other-rph")
    with nothing_written():
        problem_of(
            post(
                client_of(other_rph),
                f"/stock/{lot.pk}/adjust",
                {"quantity": "-1", "reason": "data_entry"},
            ),
            404,
        )


def test_quarantine_then_release_by_a_pharmacist(inventory, pharmacist, lot):
    held = post(
        client_of(inventory),
        f"/stock/{lot.pk}/status",
        {"status": "quarantined", "reason": "box crushed"},
    )
    with nothing_written():
        refused = post(
            client_of(inventory), f"/stock/{lot.pk}/status", {"status": "available", "reason": "ok"}
        )
    released = post(
        client_of(pharmacist),
        f"/stock/{lot.pk}/status",
        {"status": "available", "reason": "contents intact"},
    )

    assert held.json() == stock_json(
        lot, status="quarantined", status_reason="box crushed", dispensable=False
    )
    problem_of(refused, 403)
    assert released.json()["status"] == "available"
    event = last_event()
    assert event.action == "inventory.stock.status_changed"
    assert json.loads(event.data) == {"lot": "PZ1", "status": ["quarantined", "available"]}


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"status": "quarantined", "reason": ""}, 422, "reason"),
        ({"status": "recalled", "reason": "x"}, 422, "status"),
        ({"status": "gone", "reason": "x"}, 422, "status"),
        ({"status": "available", "reason": "x"}, 409, None),
    ],
)
def test_bad_status_changes_write_nothing(pharmacist, lot, body, status, field):
    with nothing_written():
        response = post(client_of(pharmacist), f"/stock/{lot.pk}/status", body)

    problem = problem_of(response, status)
    if field:
        assert [e["field"] for e in problem["errors"]] == [field]
    else:
        assert problem["detail"] == "Lot PZ1 is already available."


def test_relocate(technician, site, lot):
    StorageLocation.objects.create(site=site, code="F-1", name="Fridge 1")

    response = post(client_of(technician), f"/stock/{lot.pk}/relocate", {"location": "F-1"})
    with nothing_written():
        bad = post(client_of(technician), f"/stock/{lot.pk}/relocate", {"location": "X-9"})

    assert response.json()["location"] == "F-1"
    assert json.loads(last_event().data) == {"location": ["A-1", "F-1"]}
    assert fields_of(bad) == ["location"]


# --- Storage locations --------------------------------------------------------------------


def test_locations_list_create_and_change(inventory, technician, lot):
    client = client_of(inventory)

    created = post(
        client,
        "/locations",
        {
            "code": "F-2",
            "name": "Fridge 2",
            "kind": "refrigerator",
            "temperature_min_c": "2.0",
            "temperature_max_c": "8.0",
        },
    )
    changed = patch(client, f"/locations/{created.json()['id']}", {"name": "Vaccine fridge"})
    listed = client_of(technician).get(f"{P}/locations").json()

    assert created.status_code == 201, created.content
    assert changed.json() == {
        "id": created.json()["id"],
        "code": "F-2",
        "name": "Vaccine fridge",
        "kind": "refrigerator",
        "temperature_min_c": "2.0",
        "temperature_max_c": "8.0",
        "active": True,
        "lots": 0,
    }
    assert [(p["code"], p["lots"]) for p in listed] == [("A-1", 1), ("F-2", 0)]
    assert last_event().action == "inventory.location.updated"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        # The (site, code) constraint is reported for the whole row by the service.
        ({"code": "A-1", "name": "Again"}, "code"),
        ({"code": "", "name": "No code"}, "code"),
        ({"code": "F-3", "name": "Fridge", "kind": "refrigerator"}, "temperature_min_c"),
        (
            {"code": "F-3", "name": "Fridge", "temperature_min_c": "8", "temperature_max_c": "2"},
            "temperature_max_c",
        ),
        ({"code": "F-3", "name": "Fridge", "kind": "attic"}, "kind"),
    ],
)
def test_bad_locations_name_the_field(inventory, lot, body, field):
    with nothing_written():
        response = post(client_of(inventory), "/locations", body)

    assert field in fields_of(response)


def test_a_location_patch_cannot_blank_its_code(inventory, lot):
    with nothing_written():
        response = patch(client_of(inventory), f"/locations/{lot.location_id}", {"code": None})

    assert fields_of(response) == ["code"]


def test_a_technician_may_not_set_up_locations(technician, lot):
    with nothing_written():
        problem_of(post(client_of(technician), "/locations", {"code": "Z", "name": "Z"}), 403)
        problem_of(
            patch(client_of(technician), f"/locations/{lot.location_id}", {"name": "Z"}), 403
        )


# --- Transfers ----------------------------------------------------------------------------


@pytest.fixture
def downtown(site):
    org = Organization.objects.create(name="River Group")
    site.organization = org
    site.save(update_fields=["organization"])
    return SiteFactory(name="Downtown", ncpdp_id="3334445", organization=org)


def test_a_transfer_leaves_here_and_arrives_there(technician, site, lot, downtown):
    there = UserFactory(site=downtown, role="technician", username="downtown-tech")
    StorageLocation.objects.create(site=downtown, code="R-1", name="Receiving")

    sent = post(
        client_of(technician),
        "/transfers",
        {"to_site": downtown.pk, "lines": [{"balance": lot.pk, "quantity": "12"}], "note": "short"},
    )
    transfer_id = sent.json()["id"]
    listed = client_of(technician).get(f"{P}/transfers?direction=out").json()
    incoming = client_of(there).get(f"{P}/transfers?direction=in").json()
    received = post(client_of(there), f"/transfers/{transfer_id}/receive", {"location": "R-1"})
    with nothing_written():
        again = post(client_of(there), f"/transfers/{transfer_id}/receive", {})

    assert sent.status_code == 201, sent.content
    body = sent.json()
    assert {k: body[k] for k in ("from_site", "to_site", "status", "sent_by", "line_count")} == {
        "from_site": {"id": site.pk, "name": site.name},
        "to_site": {"id": downtown.pk, "name": "Downtown"},
        "status": "in_transit",
        "sent_by": "tech",
        "line_count": 1,
    }
    assert body["lines"] == [
        {
            "package_id": lot.package_id,
            "ndc11": "00002322730",
            "ndc10": "0002-3227-30",
            "name": "Prozac",
            "lot_id": lot.lot_id,
            "lot_number": "PZ1",
            "expiry": "2030-12-31",
            "quantity": "12.000",
            "unit": "EA",
        }
    ]
    assert [t["id"] for t in listed] == [transfer_id]
    assert [(t["id"], t["line_count"]) for t in incoming] == [(transfer_id, 1)]
    assert received.json()["status"] == TransferStatus.RECEIVED
    assert received.json()["received_by"] == "downtown-tech"
    problem_of(again, 409)
    here = StockBalance.objects.get(site=site, lot=lot.lot)
    arrived = StockBalance.objects.get(site=downtown, lot=lot.lot)
    assert (here.on_hand, arrived.on_hand, arrived.location.code) == (
        Decimal("88"),
        Decimal("12"),
        "R-1",
    )
    assert client_of(there).get(f"{P}/transfers/{transfer_id}").json()["status"] == "received"
    assert ledger_verify() == (2, [])


def test_the_sending_site_cannot_receive_its_own_transfer(technician, lot, downtown):
    sent = post(
        client_of(technician),
        "/transfers",
        {"to_site": downtown.pk, "lines": [{"balance": lot.pk, "quantity": "1"}]},
    )

    with nothing_written():
        problem_of(post(client_of(technician), f"/transfers/{sent.json()['id']}/receive", {}), 403)


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"lines": []}, 422, "lines"),
        ({"lines": [{"balance": "LOT", "quantity": "1"}]}, 422, "lines.0.balance"),
        ({"lines": [{"balance": "SELF", "quantity": "0"}]}, 422, "lines.0.quantity"),
        ({"lines": [{"balance": "SELF", "quantity": "500"}]}, 409, "lines.0.quantity"),
        ({"to_site": 999999}, 422, "to_site"),
        ({"to_site": "HERE"}, 422, "to_site"),
        ({"to_site": "STRANGER"}, 422, "to_site"),
    ],
)
def test_bad_transfers_name_the_field_and_write_nothing(
    technician, site, lot, downtown, body, status, field
):
    stranger = SiteFactory(name="Stranger", ncpdp_id="7778889")
    sites = {"HERE": site.pk, "STRANGER": stranger.pk}
    lines = [
        {
            "balance": lot.pk if line["balance"] == "SELF" else line["balance"],
            "quantity": line["quantity"],
        }
        for line in body.get("lines", [{"balance": "SELF", "quantity": "1"}])
    ]
    to_site = body.get("to_site", downtown.pk)
    payload = {"to_site": sites.get(to_site, to_site), "lines": lines}

    with nothing_written():
        response = post(client_of(technician), "/transfers", payload)

    assert fields_of(response, status) == [field]


def test_a_trainee_may_not_send_stock(trainee, lot, downtown):
    with nothing_written():
        problem_of(
            post(
                client_of(trainee),
                "/transfers",
                {"to_site": downtown.pk, "lines": [{"balance": lot.pk, "quantity": "1"}]},
            ),
            403,
        )


def test_a_held_lot_does_not_travel(technician, pharmacist, lot, downtown):
    post(client_of(pharmacist), f"/stock/{lot.pk}/status", {"status": "on_hold", "reason": "x"})

    with nothing_written():
        response = post(
            client_of(technician),
            "/transfers",
            {"to_site": downtown.pk, "lines": [{"balance": lot.pk, "quantity": "1"}]},
        )

    assert problem_of(response, 409)["detail"] == "Lot PZ1 is on hold (x)."
    assert StockBalance.objects.get(pk=lot.pk).status == LotStatus.ON_HOLD
