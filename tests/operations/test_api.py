"""The operations API: the over-ratio problem body, figures and site isolation."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client
from django.utils import timezone

from rxdesk.core.choices import Role
from rxdesk.operations.models import DutyShift
from tests.operations.factories import downtime, machine, on_duty, rule, staff, task

pytestmark = pytest.mark.django_db
P = "/api/v1/operations"


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_an_over_ratio_sign_on_is_a_409_problem(site, technician, pharmacist):
    rule(site, 1)
    on_duty(pharmacist)
    on_duty(staff(site, Role.TECHNICIAN, "t1"))
    response = _client(technician).post(f"{P}/duty/sign-on", {}, content_type="application/json")
    assert response.status_code == 409
    body = response.json()
    assert body["type"] == "/problems/over_ratio"
    assert (body["technicians"], body["pharmacists"], body["limit"]) == (2, 1, 1)
    assert not DutyShift.objects.filter(person=technician).exists()
    response = _client(technician).post(
        f"{P}/duty/sign-on",
        {"acknowledge_over_ratio": True, "reason": "Inventory day"},
        content_type="application/json",
    )
    assert response.status_code == 201
    assert response.json()["over_ratio"] is True


def test_the_board_shows_the_line(site, technician, pharmacist, auditor):
    rule(site, 3)
    on_duty(pharmacist)
    on_duty(technician)
    body = _client(auditor).get(f"{P}/duty").json()
    assert body["line"] == "1 technician · 1 pharmacist · state allows 3 per pharmacist"
    assert body["within_ratio"] is True
    assert [s["person_id"] for s in body["on_duty"]] == [pharmacist.pk, technician.pk]


def test_another_sites_task_is_404(site, other_site, technician):
    theirs = task(other_site)
    response = _client(technician).post(
        f"{P}/cleaning/tasks/{theirs.pk}/done", {}, content_type="application/json"
    )
    assert response.status_code == 404


def test_unknown_fields_are_refused(site, pic):
    response = _client(pic).put(
        f"{P}/settings",
        {"max_technicians_per_pharmacist": 3, "state": "IL"},
        content_type="application/json",
    )
    assert response.status_code == 422


def test_waste_quantity_keeps_its_decimals(site, technician):
    response = _client(technician).post(
        f"{P}/waste",
        {
            "kind": "rcra_hazardous",
            "quantity": "3.125",
            "unit": "kg",
            "sealed_at": timezone.now().isoformat(),
        },
        content_type="application/json",
    )
    assert response.status_code == 201, response.content
    assert response.json()["quantity"] == "3.125"


def test_downtime_minutes_by_equipment(site, technician):
    # Last month's, closed: the figure does not depend on the time the test runs.
    m = machine(site, "Robot")
    this_month = timezone.now().astimezone(site.tz).date().replace(day=1)
    last = this_month - dt.timedelta(days=1)
    start = dt.datetime(last.year, last.month, 1, tzinfo=site.tz)
    downtime(m, technician, start + dt.timedelta(minutes=10), start + dt.timedelta(minutes=52))
    body = (
        _client(technician)
        .get(f"{P}/equipment/downtime?year={last.year}&month={last.month}")
        .json()
    )
    assert body == [{"equipment_id": m.pk, "equipment": "Robot", "minutes": 42}]
