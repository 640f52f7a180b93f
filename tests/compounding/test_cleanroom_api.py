"""The cleanroom through the API: the board, rooms and PECs, a sample's excursion and the
action it opens, readings in and out of range, closing an action; bad input is a problem
body naming the field, another pharmacy's rows are 404."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from rxdesk.compounding.models import CorrectiveAction, EnvironmentalSample, PressureReading, Room
from rxdesk.core.models import AuditEvent, User
from tests.compounding.factories import cleanroom

pytestmark = pytest.mark.django_db

P = "/api/v1/compounding/cleanroom"


def client_of(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _post(client: Client, path: str, body: object) -> Any:
    return client.post(path, data=json.dumps(body), content_type="application/json")


def _events() -> int:
    return AuditEvent.objects.exclude(action__startswith="auth.").count()


@pytest.fixture
def suite(site):
    return cleanroom(site)


def test_the_pic_sets_up_a_room_and_a_pec(pic):
    api = client_of(pic)
    made = _post(api, f"{P}/rooms", {"name": "Chemo buffer", "kind": "c_sec"})
    assert made.status_code == 201, made.content
    room = made.json()
    assert (room["iso_class"], room["iso_label"], room["pressure"], room["hazardous"]) == (
        "7",
        "ISO 7",
        "negative",
        True,
    )
    pec = _post(
        api,
        f"{P}/controls",
        {"room_id": room["id"], "name": "BSC 1", "kind": "bsc2", "hazardous": True},
    )
    assert pec.status_code == 201, pec.content
    assert (pec.json()["iso_class"], pec.json()["room"]) == ("5", "Chemo buffer")
    renamed = api.patch(
        f"{P}/rooms/{room['id']}",
        data=json.dumps({"name": "C-SEC"}),
        content_type="application/json",
    )
    assert renamed.status_code == 200 and renamed.json()["name"] == "C-SEC"


def test_a_room_against_its_kind_is_a_422_naming_the_field(pic):
    response = _post(
        client_of(pic), f"{P}/rooms", {"name": "B", "kind": "buffer", "iso_class": "8"}
    )
    assert response.status_code == 422
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["errors"][0]["field"] == "iso_class"
    assert Room.objects.count() == 0


def test_an_excursion_says_so_and_names_its_action(technician, suite):
    _, hood = suite
    response = _post(
        client_of(technician),
        f"{P}/samples",
        {
            "kind": "air",
            "control_id": hood.pk,
            "location": "Hood, centre",
            "cfu": 1,
            "air_volume_liters": 500,
        },
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["cfu_measure"], body["unit"], body["action_level"], body["excursion"]) == (
        "2.00",
        "CFU/m³",
        "1.00",
        True,
    )
    action = CorrectiveAction.objects.get()
    assert body["corrective_action_id"] == action.pk
    assert "EXCURSION" in body["message"]


def test_readings_say_whether_they_are_in_range(technician, suite):
    room, _ = suite
    api = client_of(technician)
    ok = _post(api, f"{P}/pressures", {"room_id": room.pk, "reference": "ante", "inches_wc": 0.025})
    low = _post(api, f"{P}/pressures", {"room_id": room.pk, "reference": "ante", "inches_wc": 0.01})
    assert (ok.status_code, low.status_code) == (201, 201)
    assert (ok.json()["in_range"], ok.json()["corrective_action_id"]) == (True, None)
    assert low.json()["in_range"] is False and low.json()["corrective_action_id"] is not None
    assert low.json()["requirement"] == "positive, at least +0.020 in. w.c."
    warm = _post(
        api, f"{P}/conditions", {"room_id": room.pk, "temperature_c": 22, "humidity_pct": 40}
    )
    assert warm.status_code == 201 and warm.json()["in_range"] is False


def test_a_future_reading_is_a_422_and_nothing_is_written(technician, suite):
    room, _ = suite
    events = _events()
    later = (timezone.now() + dt.timedelta(hours=1)).isoformat()
    response = _post(
        client_of(technician),
        f"{P}/pressures",
        {"room_id": room.pk, "reference": "ante", "inches_wc": 0.03, "read_at": later},
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "read_at"
    assert PressureReading.objects.count() == 0 and _events() == events


def test_unknown_fields_are_refused(technician, suite):
    room, _ = suite
    response = _post(
        client_of(technician),
        f"{P}/conditions",
        {"room_id": room.pk, "temperature_c": 19, "humidity_pct": 40, "colour": "blue"},
    )
    assert response.status_code == 422


def test_another_sites_room_is_404(technician, other_site):
    theirs, their_hood = cleanroom(other_site)
    api = client_of(technician)
    pressure = _post(
        api, f"{P}/pressures", {"room_id": theirs.pk, "reference": "a", "inches_wc": 0.03}
    )
    sample = _post(
        api,
        f"{P}/samples",
        {"kind": "surface", "control_id": their_hood.pk, "location": "x", "cfu": 0},
    )
    assert (pressure.status_code, sample.status_code) == (404, 404)
    assert EnvironmentalSample.objects.count() == 0 and PressureReading.objects.count() == 0


def test_the_board_and_closing_an_action(pharmacist, technician, suite):
    _, hood = suite
    _post(
        client_of(technician),
        f"{P}/samples",
        {"kind": "surface", "control_id": hood.pk, "location": "Tray", "cfu": 4},
    )
    board = client_of(technician).get(P)
    assert board.status_code == 200
    body = board.json()
    assert body["strictest"] == "Categories 1 and 2"
    (row,) = body["rooms"]
    assert row["room"]["name"] == "Buffer room" and row["pressure"] is None
    assert row["certification"]["due"]["state"] == "never"
    assert row["controls"][0]["control"]["name"] == "LAFW 1"
    hood_surface = next(
        s for s in body["sampling"] if s["control_id"] == hood.pk and s["kind"] == "surface"
    )
    assert (hood_surface["every"], hood_surface["due"]["state"]) == ("monthly", "current")
    (action,) = body["actions"]
    api = client_of(pharmacist)
    missing = _post(api, f"{P}/actions/{action['id']}/close", {"action_taken": "Re-cleaned"})
    assert missing.status_code == 422
    assert missing.json()["errors"][0]["field"] == "resample"
    closed = _post(
        api,
        f"{P}/actions/{action['id']}/close",
        {"action_taken": "Re-cleaned", "resample": "0 CFU two days later"},
    )
    assert closed.status_code == 200, closed.content
    assert closed.json()["open"] is False and closed.json()["closed_by"] == "Test " + (
        pharmacist.last_name
    )
    again = _post(api, f"{P}/actions/{action['id']}/close", {"action_taken": "x", "resample": "y"})
    assert again.status_code == 409
    listed = api.get(f"{P}/actions?open_only=true")
    assert listed.status_code == 200 and listed.json() == []
