"""Workstation screens: the home page, signing on through the warning page, the one-key
cleaning done, the CSV logs."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from rxdesk.core.choices import Role
from rxdesk.operations.models import CleaningRecord, DutyShift
from tests.operations.factories import machine, on_duty, rule, staff, task, waste

pytestmark = pytest.mark.django_db


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_home_shows_who_is_on_duty_and_the_ratio(site, technician, pharmacist):
    rule(site, 3)
    on_duty(pharmacist)
    on_duty(technician)
    task(site, "Wipe the counter", area="counter")
    machine(site)
    page = _client(technician).get(reverse("operations_home")).content.decode()
    assert "1 technician · 1 pharmacist · state allows 3 per pharmacist" in page
    assert pharmacist.display_name in page
    assert "Wipe the counter" in page
    assert "Sign off" in page


def test_signing_on_past_the_ratio_shows_the_warning_then_records(site, technician, pharmacist):
    rule(site, 1)
    on_duty(pharmacist)
    on_duty(staff(site, Role.TECHNICIAN, "t1"))
    client = _client(technician)
    response = client.post(reverse("operations_duty"), {"action": "on"})
    assert response.status_code == 409
    page = response.content.decode()
    assert (
        "2 technicians would be on duty with 1 pharmacist; the state allows 1 per pharmacist"
        in page
    )
    assert "Sign on anyway" in page
    assert not DutyShift.objects.filter(person=technician).exists()
    response = client.post(
        reverse("operations_duty"),
        {"action": "on", "acknowledge_over_ratio": "on", "reason": "Covering the drive-thru"},
    )
    assert response.status_code == 302
    shift = DutyShift.objects.get(person=technician)
    assert (shift.over_ratio, shift.over_ratio_reason) == (True, "Covering the drive-thru")


def test_one_key_cleaning_done(site, technician):
    t = task(site)
    response = _client(technician).post(reverse("operations_cleaning_done", args=[t.pk]), {})
    assert response.status_code == 302
    assert CleaningRecord.objects.get().done_by == technician


def test_the_waste_csv_for_a_range(site, technician, auditor):
    waste(site, technician, manifest_number="=HYPERLINK(1)", sealed_at=timezone.now())
    today = site.today()
    url = reverse("operations_csv", args=["waste"])
    response = _client(auditor).get(
        url,
        {
            "start": (today - dt.timedelta(days=1)).strftime("%m/%d/%Y"),
            "end": today.strftime("%m/%d/%Y"),
        },
    )
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    lines = response.content.decode().splitlines()
    assert lines[0].startswith("recorded at,kind,container,quantity,unit")
    assert len(lines) == 2
    assert "Sharps container" in lines[1] and "'=HYPERLINK(1)" in lines[1]


def test_an_unknown_log_is_404(site, auditor):
    assert _client(auditor).get(reverse("operations_csv", args=["bogus"])).status_code == 404


def test_the_waste_page_says_form_41_is_elsewhere(site, technician):
    page = _client(technician).get(reverse("operations_waste")).content.decode()
    assert "DEA Form 41" in page


def _home_queries(client) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as ctx:
        assert client.get(reverse("operations_home")).status_code == 200
    return len(ctx.captured_queries)


def test_the_home_page_query_count_does_not_grow_with_rows(site, technician, pharmacist):
    on_duty(pharmacist)
    task(site, "Task 0")
    machine(site, "Machine 0", maintenance_days=1)
    waste(site, technician)
    client = _client(technician)
    _home_queries(client)  # settings row, session warm-up
    few = _home_queries(client)
    for n in range(1, 5):
        on_duty(staff(site, Role.TECHNICIAN, f"t{n}"))
        task(site, f"Task {n}")
        machine(site, f"Machine {n}", maintenance_days=1)
        waste(site, technician)
    assert _home_queries(client) == few


def test_recording_and_ending_a_downtime_on_screen(site, technician):
    m = machine(site)
    client = _client(technician)
    url = reverse("operations_equipment_detail", args=[m.pk])
    response = client.post(url, {"kind": "downtime", "description": "Vial jam"})
    assert response.status_code == 302
    event = m.events.get()
    assert event.ended_at is None
    page = client.get(reverse("operations_equipment")).content.decode()
    assert "Down since" in page
    response = client.post(
        reverse("operations_event_end", args=[event.pk]), {"vendor_ticket": "CASE-1"}
    )
    assert response.status_code == 302
    event.refresh_from_db()
    assert (event.vendor_ticket, event.ended_by) == ("CASE-1", technician)


def test_the_pic_signs_off_a_forgotten_shift_on_screen(site, pic, technician):
    shift = on_duty(technician, minutes_ago=700)
    client = _client(pic)
    url = reverse("operations_duty_end", args=[shift.pk])
    assert client.post(url, {"reason": ""}).status_code == 422
    assert client.post(url, {"reason": "Forgot at closing"}).status_code == 302
    shift.refresh_from_db()
    assert (shift.ended_by, shift.end_reason) == (pic, "Forgot at closing")


def test_the_pic_sets_the_ratio_on_screen(site, pic, technician):
    client = _client(pic)
    response = client.post(
        reverse("operations_settings"),
        {"max_technicians_per_pharmacist": "4", "trainees_count": "on", "citation": "Rule 9"},
    )
    assert response.status_code == 302
    page = _client(technician).get(reverse("operations_settings")).content.decode()
    assert 'value="4"' in page and "Only the pharmacist-in-charge" in page


def test_the_equipment_csv_has_the_minutes(site, technician, auditor):
    from tests.operations.factories import downtime

    m = machine(site, "Robot", serial="=cmd")
    start = timezone.now() - dt.timedelta(hours=3)
    downtime(m, technician, start, start + dt.timedelta(minutes=75))
    response = _client(auditor).get(reverse("operations_csv", args=["equipment"]))
    lines = response.content.decode().splitlines()
    assert lines[0] == (
        "equipment,serial,event,started,ended,minutes,vendor ticket,description,recorded by"
    )
    cells = lines[1].split(",")
    assert (cells[0], cells[1], cells[2], cells[5]) == ("Robot", "'=cmd", "Downtime", "75")
