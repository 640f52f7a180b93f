"""The cleanroom screens: the board in words, the quick-entry forms (room preselected,
the form back for the next entry, broken rules beside their field), facility set-up,
certifications, corrective actions and the histories with their CSV."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from rxdesk.compounding import services_cleanroom as services
from rxdesk.compounding.models import (
    Certification,
    CleaningLog,
    CorrectiveAction,
    EngineeringControl,
    EnvironmentalSample,
    PressureReading,
    Room,
)
from rxdesk.core.models import User
from tests.compounding.factories import cleanroom

pytestmark = pytest.mark.django_db


def signed_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def suite(site):
    return cleanroom(site)


def test_the_board_says_what_is_due_in_words(technician, suite):
    room, _ = suite
    html = signed_in(technician).get(reverse("compounding_cleanroom")).content.decode()
    assert "Needs attention" in html
    assert "Buffer room: certification never done: due now" in html
    assert "Cleaning: 27 tasks overdue or never done (see the schedule)" in html
    assert "LAFW 1" in html and "not logged today" in html
    assert "never done: due now" in html
    assert f'href="{reverse("compounding_pressure_new")}?room={room.pk}"' in html
    assert "<kbd>p</kbd> Pressure" in html


def test_the_auditor_reads_the_board_without_entry_links(auditor, suite):
    response = signed_in(auditor).get(reverse("compounding_cleanroom"))
    assert response.status_code == 200
    assert reverse("compounding_pressure_new") not in response.content.decode()


def _queries(client: Client, url: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured)


def test_the_board_reads_a_fixed_number_of_queries(pic, technician, site, suite):
    client = signed_in(technician)
    url = reverse("compounding_cleanroom")
    one = _queries(client, url)
    for n in range(3):
        room = services.room_create(actor=pic, name=f"Buffer {n}", kind="buffer")
        services.control_create(actor=pic, room=room, name=f"Hood {n}", kind="lafw")
        services.pressure_record(actor=technician, room=room, reference="ante", inches_wc="0.03")
        services.cleaning_record(
            actor=technician, room=room, area="floors", kind="cleaning", agent="Detergent"
        )
        services.certification_record(
            actor=pic, room=room, certified_on=site.today(), certifier="A"
        )
    assert _queries(client, url) == one


def test_the_sample_form_preselects_the_room_and_comes_back_for_the_next(technician, suite):
    room, hood = suite
    client = signed_in(technician)
    url = reverse("compounding_sample_new")
    page = client.get(f"{url}?room={room.pk}").content.decode()
    assert f'<option value="{room.pk}" selected>' in page and "autofocus" in page
    response = client.post(
        f"{url}?room={room.pk}",
        {
            "room": room.pk,
            "control": hood.pk,
            "kind": "air",
            "location": "Hood, centre",
            "cfu": "3",
            "air_volume_liters": "1000",
        },
        follow=True,
    )
    assert response.redirect_chain[-1][0] == f"{url}?room={room.pk}"
    html = response.content.decode()
    action = CorrectiveAction.objects.get()
    assert f"EXCURSION. Corrective action {action.pk} is open" in html
    assert EnvironmentalSample.objects.get().recorded_by == technician


def test_a_broken_rule_shows_beside_its_field_and_writes_nothing(technician, suite):
    room, _ = suite
    response = signed_in(technician).post(
        reverse("compounding_sample_new"),
        {"room": room.pk, "kind": "air", "location": "Centre", "cfu": "2"},
    )
    assert response.status_code == 422
    html = response.content.decode()
    assert 'id="id_air_volume_liters_error"' in html
    assert EnvironmentalSample.objects.count() == 0


def test_a_pressure_out_of_range_is_said_in_words(technician, suite):
    room, _ = suite
    response = signed_in(technician).post(
        reverse("compounding_pressure_new"),
        {"room": room.pk, "reference": "ante-room", "inches_wc": "0.010"},
        follow=True,
    )
    html = response.content.decode()
    assert "OUT OF RANGE" in html
    assert PressureReading.objects.get().in_range is False


def test_a_late_reading_typed_in_local_time_needs_a_note(technician, site, suite):
    room, _ = suite
    old = (timezone.now() - dt.timedelta(days=9)).astimezone(site.tz)
    client = signed_in(technician)
    values = {
        "room": room.pk,
        "temperature_c": "19",
        "humidity_pct": "40",
        "read_at": old.strftime("%m/%d/%Y %H:%M"),
    }
    response = client.post(reverse("compounding_conditions_new"), values)
    assert response.status_code == 422
    assert 'id="id_note_error"' in response.content.decode()
    response = client.post(reverse("compounding_conditions_new"), values | {"note": "Paper log"})
    assert response.status_code == 302


def test_the_cleaning_form_logs_the_pec_interior(technician, suite):
    room, hood = suite

    response = signed_in(technician).post(
        reverse("compounding_cleaning_new"),
        {"room": room.pk, "area": "pec_interior", "kind": "disinfecting", "agent": "Sterile IPA"},
        follow=True,
    )
    assert "Disinfecting recorded: PEC interior and equipment inside it (LAFW 1), Buffer room." in (
        response.content.decode()
    )
    assert CleaningLog.objects.get().control == hood


def test_the_pic_adds_rooms_and_pecs_and_a_technician_cannot(pic, technician):
    client = signed_in(pic)
    url = reverse("compounding_rooms")
    response = client.post(url, {"form": "room", "room-name": "Ante", "room-kind": "ante"})
    assert response.status_code == 302
    ante = Room.objects.get()
    bad = client.post(
        url,
        {
            "form": "control",
            "control-room": ante.pk,
            "control-name": "Hood",
            "control-kind": "lafw",
        },
    )
    assert bad.status_code == 422
    assert "not a place for sterile compounding" in bad.content.decode()
    refused = signed_in(technician).post(
        url, {"form": "room", "room-name": "X", "room-kind": "sca"}
    )
    assert refused.status_code == 403
    assert Room.objects.count() == 1 and EngineeringControl.objects.count() == 0


def test_a_certification_from_the_form(pic, site, suite):
    _, hood = suite
    client = signed_in(pic)
    url = reverse("compounding_certification_new")
    assert f'value="pec-{hood.pk}" selected' in client.get(f"{url}?pec={hood.pk}").content.decode()
    day = site.today() - dt.timedelta(days=3)
    response = client.post(
        url,
        {
            "target": f"pec-{hood.pk}",
            "certified_on": day.strftime("%m/%d/%Y"),
            "certifier": "CleanAir",
            "passed": "no",
            "note": "Downflow velocity low",
        },
        follow=True,
    )
    cert = Certification.objects.get()
    assert cert.control == hood and not cert.passed
    assert "certification FAILED" in response.content.decode()


def test_closing_an_action_from_the_list(pharmacist, technician, site, suite):
    room, _ = suite
    action = services.action_open(actor=pharmacist, problem="Tile loose", room=room)
    listing = signed_in(technician).get(reverse("compounding_actions")).content.decode()
    assert "Tile loose" in listing and reverse(
        "compounding_action_close", args=[action.pk]
    ) not in (listing)
    client = signed_in(pharmacist)
    url = reverse("compounding_action_close", args=[action.pk])
    response = client.post(url, {"action_taken": "Tile refitted and sealed"})
    assert response.status_code == 302
    action.refresh_from_db()
    assert action.closed_by == pharmacist
    assert signed_in(technician).get(url).status_code == 403


def test_the_sample_history_and_its_csv(technician, site, suite):
    room, hood = suite
    services.sample_record(
        actor=technician,
        kind="surface",
        room=room,
        control=hood,
        location="=HYPERLINK()",
        cfu=1,
        organism="Candida",
    )
    client = signed_in(technician)
    html = client.get(reverse("compounding_samples")).content.decode()
    assert "excursion" in html and "highly pathogenic" in html
    response = client.get(f"{reverse('compounding_samples')}?format=csv")
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    lines = response.content.decode().splitlines()
    assert lines[0].startswith(f"Sampled ({site.time_zone}),Kind,Room,PEC,Location")
    assert len(lines) == 2
    assert (
        ",Surface,Buffer room,LAFW 1,'=HYPERLINK(),ISO 5,,1,1.00,CFU/plate,3.00,yes,Candida,yes,"
        in (lines[1])
    )
    earlier = site.today() - dt.timedelta(days=60)
    empty = client.get(
        reverse("compounding_samples"),
        {
            "start": earlier.strftime("%m/%d/%Y"),
            "end": earlier.strftime("%m/%d/%Y"),
            "format": "csv",
        },
    )
    assert len(empty.content.decode().splitlines()) == 1


def test_the_readings_csv(technician, site, suite):
    room, _ = suite
    services.pressure_record(actor=technician, room=room, reference="ante", inches_wc="-0.01")
    services.conditions_record(actor=technician, room=room, temperature_c="19.5", humidity_pct="41")
    response = signed_in(technician).get(f"{reverse('compounding_readings')}?format=csv")
    lines = response.content.decode().splitlines()
    assert len(lines) == 3
    assert any(",Buffer room,pressure,ante,-0.0100,,,no," in line for line in lines)
    assert any(",Buffer room,temperature and humidity,,,19.5,41.0,yes," in line for line in lines)
    html = signed_in(technician).get(reverse("compounding_cleaning_log")).content.decode()
    assert "No cleaning logged in this period." in html
