"""The cold-chain API at /api/v1/inventory/: storage units, readings, logger imports,
excursions and the checks due — exact bodies, problem+json for bad input and broken rules,
nothing written on a refusal, other pharmacies' rows not found."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import time_machine
from django.test import Client

from rxdesk.inventory.choices import ExcursionStatus, LotStatus
from rxdesk.inventory.models import Excursion, StockBalance, TemperatureReading
from tests.conftest import audit_count
from tests.inventory.factories import package, stock
from tests.inventory.matrix_coldchain import LOGGER_CSV, fridge, open_excursion

pytestmark = pytest.mark.django_db

P = "/api/v1/inventory"
PROBLEM = "application/problem+json"
NOW = dt.datetime(2026, 6, 10, 15, 0, tzinfo=dt.UTC)  # 10:00 in Chicago


@pytest.fixture(autouse=True)
def _clock():
    with time_machine.travel(NOW, tick=False):
        yield


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def post(client: Client, path: str, body: dict):
    return client.post(f"{P}{path}", body, content_type="application/json")


def problem(response, status: int) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == PROBLEM
    return response.json()


def reading_json(reading, *, out_of_range=False, by="tech", **changes) -> dict:
    body = {
        "id": reading.pk,
        "recorded_at": reading.recorded_at.isoformat().replace("+00:00", "Z"),
        "minimum_c": str(reading.minimum_c),
        "maximum_c": str(reading.maximum_c),
        "current_c": None if reading.current_c is None else str(reading.current_c),
        "source": reading.source,
        "recorded_by": by,
        "note": reading.note,
        "out_of_range": out_of_range,
    }
    body.update(changes)
    return body


def test_it_records_a_reading_and_reports_the_excursion_it_opens(site, technician):
    unit = fridge(site)
    balance = stock(site, package("0006-4943-00"), "V1", 10, location=unit)

    response = post(
        client_for(technician),
        f"/storage-units/{unit.pk}/readings",
        {"minimum_c": 3.1, "maximum_c": "9.5", "current_c": "4", "note": "PM check"},
    )

    assert response.status_code == 201, response.content
    reading = TemperatureReading.objects.get()
    excursion = Excursion.objects.get()
    assert response.json() == {
        "reading": reading_json(reading, out_of_range=True),
        "excursion": {
            "id": excursion.pk,
            "unit_id": unit.pk,
            "unit_code": "FRIDGE-1",
            "status": "open",
            "started_at": "2026-06-10T15:00:00Z",
            "detected_at": "2026-06-10T15:00:00Z",
            "lowest_c": "3.1",
            "highest_c": "9.5",
            "response_documented": False,
        },
        "excursion_opened": True,
        "quarantined": [balance.pk],
    }
    assert reading.note == "PM check"


def test_a_bad_reading_is_a_problem_naming_the_field_and_writes_nothing(site, technician):
    unit = fridge(site)
    client = client_for(technician)
    before = (TemperatureReading.objects.count(), audit_count())

    body = problem(
        post(client, f"/storage-units/{unit.pk}/readings", {"minimum_c": "3.15", "maximum_c": "9"}),
        422,
    )
    assert body["errors"] == [{"field": "minimum_c", "message": "Use at most one decimal place."}]
    body = problem(
        post(client, f"/storage-units/{unit.pk}/readings", {"minimum_c": "9", "maximum_c": "3"}),
        422,
    )
    assert body["errors"] == [
        {"field": "maximum_c", "message": "The maximum cannot be below the minimum."}
    ]
    body = problem(
        post(client, f"/storage-units/{unit.pk}/readings", {"minimum_c": "3", "extra": 1}), 422
    )
    assert {e["field"] for e in body["errors"]} == {"maximum_c", "extra"}
    assert (TemperatureReading.objects.count(), audit_count()) == before


def test_a_second_reading_at_the_same_minute_is_a_conflict(site, technician):
    unit = fridge(site)
    client = client_for(technician)
    path = f"/storage-units/{unit.pk}/readings"
    assert post(client, path, {"minimum_c": "3", "maximum_c": "6"}).status_code == 201
    body = problem(post(client, path, {"minimum_c": "3", "maximum_c": "6"}), 409)
    assert body["detail"] == "FRIDGE-1 already has a reading at 06/10/2026 10:00."


def test_it_lists_a_units_readings_newest_first(site, technician):
    unit = fridge(site)
    old = TemperatureReading.objects.create(
        location=unit,
        recorded_at=NOW - dt.timedelta(hours=6),
        minimum_c=Decimal("3.0"),
        maximum_c=Decimal("5.0"),
    )
    new = TemperatureReading.objects.create(
        location=unit,
        recorded_at=NOW - dt.timedelta(hours=1),
        minimum_c=Decimal("1.5"),
        maximum_c=Decimal("5.0"),
        current_c=Decimal("4.0"),
    )
    client = client_for(technician)

    response = client.get(f"{P}/storage-units/{unit.pk}/readings")

    assert response.status_code == 200
    assert response.json() == [
        reading_json(new, out_of_range=True, by=None),
        reading_json(old, by=None),
    ]
    limited = client.get(f"{P}/storage-units/{unit.pk}/readings", {"limit": 1})
    assert [r["id"] for r in limited.json()] == [new.pk]
    # 05:00 without an offset is the pharmacy's time (10:00 UTC): the 09:00 UTC one is older.
    since = client.get(f"{P}/storage-units/{unit.pk}/readings", {"since": "2026-06-10T05:00:00"})
    assert [r["id"] for r in since.json()] == [new.pk]


def test_another_pharmacys_unit_and_excursion_are_not_found(site, other_site, technician):
    theirs = fridge(other_site)
    excursion = open_excursion(other_site)
    client = client_for(technician)
    before = (TemperatureReading.objects.count(), audit_count())
    problem(client.get(f"{P}/storage-units/{theirs.pk}/readings"), 404)
    check = {"minimum_c": "3", "maximum_c": "6"}
    problem(post(client, f"/storage-units/{theirs.pk}/readings", check), 404)
    problem(client.get(f"{P}/excursions/{excursion.pk}"), 404)
    problem(post(client, f"/excursions/{excursion.pk}/respond", {"response": "x"}), 404)
    problem(client.get(f"{P}/excursions/{2**64}"), 404)
    problem(client.get(f"{P}/storage-units/{2**64}/readings"), 404)
    assert (TemperatureReading.objects.count(), audit_count()) == before


def test_it_imports_a_logger_file(site, inventory):
    unit = fridge(site)

    response = post(
        client_for(inventory), f"/storage-units/{unit.pk}/logger-import", {"csv_text": LOGGER_CSV}
    )

    assert response.status_code == 200, response.content
    assert response.json() == {
        "rows_read": 2,
        "imported": 2,
        "skipped": 0,
        "out_of_range": 0,
        "excursions_opened": 0,
        "excursion": None,
        "quarantined": [],
        "unit": "C",
        "first_at": "2024-05-01T13:00:00Z",
        "last_at": "2024-05-01T13:30:00Z",
    }


def test_a_bad_logger_file_names_row_and_column(site, technician):
    unit = fridge(site)
    text = LOGGER_CSV + "2024-05-01T09:00:00,hot\n"
    client = client_for(technician)
    before = (TemperatureReading.objects.count(), audit_count())

    body = problem(post(client, f"/storage-units/{unit.pk}/logger-import", {"csv_text": text}), 422)

    message = "Row 4, column 'Temperature (°C)': 'hot' is not a temperature."
    assert body["detail"] == message
    assert body["errors"] == [{"field": "csv_text", "message": message}]
    assert (body["row"], body["column"]) == (4, "Temperature (°C)")
    assert (TemperatureReading.objects.count(), audit_count()) == before


def test_it_lists_and_shows_excursions(site, technician):
    excursion = open_excursion(site, response="06/10/2026 09:05 tech: Door closed.\n")
    done = open_excursion(site, code="FRIDGE-2")
    Excursion.objects.filter(pk=done.pk).update(status=ExcursionStatus.DISCARDED)
    client = client_for(technician)

    listed = client.get(f"{P}/excursions", {"status": "open"})
    assert [e["id"] for e in listed.json()] == [excursion.pk]
    assert [e["id"] for e in client.get(f"{P}/excursions").json()] == [excursion.pk, done.pk]

    detail = client.get(f"{P}/excursions/{excursion.pk}").json()
    assert detail["responses"] == ["06/10/2026 09:05 tech: Door closed."]
    assert detail["response_documented"] is True
    assert detail["stock"] == []
    assert [r["id"] for r in detail["readings"]] == [excursion.reading_id]
    assert detail["readings"][0]["out_of_range"] is True


def test_respond_then_resolve_releases_the_stock(site, technician, pharmacist):
    unit = fridge(site)
    balance = stock(site, package("0006-4943-00"), "V1", 10, location=unit)
    tech = client_for(technician)
    post(tech, f"/storage-units/{unit.pk}/readings", {"minimum_c": "3", "maximum_c": "12"})
    excursion = Excursion.objects.get()
    rph = client_for(pharmacist)
    path = f"/excursions/{excursion.pk}/resolve"

    refused = problem(post(rph, path, {"disposition": "release", "note": "ok"}), 409)
    assert refused["errors"][0]["field"] == "response"

    responded = post(tech, f"/excursions/{excursion.pk}/respond", {"response": "Door closed."})
    assert responded.status_code == 200
    assert responded.json()["responses"] == [
        f"06/10/2026 10:00 {technician.display_name} (tech): Door closed."
    ]
    problem(post(tech, path, {"disposition": "release", "note": "ok"}), 403)

    resolved = post(rph, path, {"disposition": "release", "note": "Maker: stable."})

    assert resolved.status_code == 200, resolved.content
    body = resolved.json()
    assert (body["status"], body["resolved_by"], body["resolution_note"]) == (
        "released",
        "rph",
        "Maker: stable.",
    )
    assert body["resolved_at"] == "2026-06-10T15:00:00Z"
    assert body["stock"] == [
        {
            "balance_id": balance.pk,
            "ndc": "00006494300",
            "lot": "V1",
            "expiry": "2030-12-31",
            "quantity_quarantined": "10.000",
            "on_hand": "10.000",
            "status": "available",
        }
    ]
    assert StockBalance.objects.get(pk=balance.pk).status == LotStatus.AVAILABLE


def test_the_units_and_the_checks_due(site, technician, django_assert_max_num_queries):
    for code in ("F-1", "F-2", "F-3"):
        fridge(site, code)
    client = client_for(technician)
    check = {"minimum_c": "3", "maximum_c": "6"}
    post(client, f"/storage-units/{fridge(site, 'F-2').pk}/readings", check)

    with django_assert_max_num_queries(9):
        units = client.get(f"{P}/storage-units").json()
    assert [(u["code"], u["checks_today"], u["check_due"]) for u in units] == [
        ("F-1", 0, True),
        ("F-2", 1, True),
        ("F-3", 0, True),
    ]
    assert units[1]["last_reading"]["minimum_c"] == "3.0"
    due = client.get(f"{P}/readings-due").json()
    assert due[1] == {
        "unit_id": fridge(site, "F-2").pk,
        "code": "F-2",
        "name": "Vaccine refrigerator",
        "checks_today": 1,
        "checks_needed": 1,
        "last_reading_at": "2026-06-10T15:00:00Z",
    }
    assert client.get(f"{P}/readings-due", {"on": "2026-06-09"}).json()[1]["checks_today"] == 0
