"""The long-term-care API through the Django test client: facilities and their set-up,
admitting, census changes, order times and the MAR (JSON, CSV, PDF). Problem JSON for
broken rules and hostile input, never a 500; another pharmacy's rows are 404."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
from django.test import Client
from pypdf import PdfReader

from rxdesk.core.models import AuditEvent
from rxdesk.institutional.models import CensusEvent, OrderSchedule, Resident
from rxdesk.institutional.services_census import census_record, order_schedule_set
from tests.factories import AllergyFactory
from tests.institutional.factories import facility, unit
from tests.institutional.matrix_census import admitted, patient, rx_of

pytestmark = pytest.mark.django_db
P = "/api/v1/institutional"


def _client(user) -> Client:
    c = Client()
    c.force_login(user)
    return c


def _json(c: Client, method: str, path: str, body=None):
    kwargs = {} if body is None else {"data": body, "content_type": "application/json"}
    return getattr(c, method)(path, **kwargs)


def test_the_pic_sets_up_a_facility(site, pic):
    c = _client(pic)
    r = _json(
        c,
        "post",
        f"{P}/facilities",
        {"code": "maple", "name": "Maple Grove", "kind": "alf", "phone": "309-555-0199"},
    )
    assert r.status_code == 201, r.content
    fid = r.json()["id"]
    assert r.json()["code"] == "MAPLE" and r.json()["pass_times"] == []

    r = _json(
        c,
        "put",
        f"{P}/facilities/{fid}/pass-times",
        {
            "times": [
                {"time": "20:00", "slot": "evening", "label": "PM"},
                {"time": "08:00", "slot": "morning"},
            ]
        },
    )
    assert r.status_code == 200, r.content
    assert r.json()["pass_times"] == [
        {"time": "08:00", "slot": "morning", "label": ""},
        {"time": "20:00", "slot": "evening", "label": "PM"},
    ]
    r = _json(c, "post", f"{P}/facilities/{fid}/units", {"code": "A", "name": "Wing A"})
    assert r.status_code == 201 and r.json()["code"] == "A"
    r = _json(c, "patch", f"{P}/facilities/{fid}", {"name": "Maple Grove ALF"})
    assert (
        r.status_code == 200 and r.json()["name"] == "Maple Grove ALF" and r.json()["kind"] == "alf"
    )
    listed = _json(c, "get", f"{P}/facilities").json()
    assert [f["code"] for f in listed] == ["MAPLE"]


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"times": []}, 422, "times"),
        (
            {"times": [{"time": "08:00", "slot": "morning"}, {"time": "08:00", "slot": "noon"}]},
            422,
            "times[1].time",
        ),
        ({"times": [{"time": "8am", "slot": "morning"}]}, 422, "times[0].time"),
        ({"times": [{"time": "08:00", "slot": "brunch"}]}, 422, None),
        ({"times": [{"time": "08:00", "slot": "morning", "extra": 1}]}, 422, None),
        ({"times": "08:00"}, 422, None),
    ],
)
def test_bad_pass_times_are_problems(site, pic, body, status, field):
    place = facility(site)
    r = _json(_client(pic), "put", f"{P}/facilities/{place.pk}/pass-times", body)
    assert r.status_code == status, r.content
    assert r["Content-Type"] == "application/problem+json"
    if field:
        assert field in [e["field"] for e in r.json()["errors"]], r.json()


def test_admit_census_and_schedule(site, technician):
    place = facility(site)
    who = patient(site)
    c = _client(technician)
    r = _json(
        c,
        "post",
        f"{P}/residents",
        {"facility_id": place.pk, "patient_id": who.pk, "unit_id": unit(place).pk, "room": "104"},
    )
    assert r.status_code == 201, r.content
    rid = r.json()["id"]
    assert (r.json()["name"], r.json()["status"], r.json()["census"][0]["kind"]) == (
        "Lucia Diaz",
        "admitted",
        "admit",
    )

    resident = Resident.objects.get(pk=rid)
    rx = rx_of(resident, directions="1 T PO TID")
    detail = _json(c, "get", f"{P}/residents/{rid}").json()
    [order] = detail["orders"]
    assert (order["rx_number"], order["schedule"], order["suggested_times"]) == (
        rx.number,
        None,
        ["08:00", "12:00", "17:00"],
    )

    r = _json(
        c,
        "put",
        f"{P}/residents/{rid}/schedules/{rx.pk}",
        {"times": order["suggested_times"], "dose": "2"},
    )
    assert r.status_code == 200, r.content
    sched = r.json()["orders"][0]["schedule"]
    assert (sched["times"], sched["dose"], sched["doses_per_day"]) == (
        ["08:00", "12:00", "17:00"],
        "2",
        "6",
    )

    r = _json(c, "put", f"{P}/residents/{rid}/schedules/{rx.pk}", {"times": ["09:00"], "dose": "1"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "times[0]"

    r = _json(
        c,
        "post",
        f"{P}/residents/{rid}/census",
        {"kind": "leave", "expected_return": site.today().isoformat()},
    )
    assert r.status_code == 201, r.content
    r = _json(c, "post", f"{P}/residents/{rid}/census", {"kind": "room_move", "to_room": "200"})
    assert r.status_code == 409
    assert r.json()["errors"] == [
        {"field": "kind", "message": "Lucia Diaz is on leave of absence: record her return first."}
    ]
    r = _json(c, "post", f"{P}/residents/{rid}/census", {"kind": "return", "to_room": "200"})
    assert r.status_code == 201 and r.json()["to_room"] == "200"

    listed = _json(c, "get", f"{P}/residents?q=diaz").json()
    assert [x["id"] for x in listed] == [rid]
    assert _json(c, "get", f"{P}/residents?q=smith").json() == []
    assert _json(c, "get", f"{P}/residents?status=discharged").json() == []


def test_admitting_a_patient_living_elsewhere_is_a_409_saying_where(site, technician):
    r0 = admitted(site)
    elm = facility(site, code="ELM", name="Elm House")
    r = _json(
        _client(technician),
        "post",
        f"{P}/residents",
        {"facility_id": elm.pk, "patient_id": r0.patient_id, "room": "1"},
    )
    assert r.status_code == 409
    assert "Oakwood Care Center (room 101)" in r.json()["detail"]


@pytest.mark.parametrize(
    "body",
    [
        {"facility_id": 0, "patient_id": 1, "room": "1"},
        {"facility_id": 2**63, "patient_id": 1, "room": "1"},
        {"facility_id": "x", "patient_id": 1, "room": "1"},
        {"patient_id": 1, "room": "1"},
        {"facility_id": 1, "patient_id": 1, "room": "x" * 11},
        {"facility_id": 1, "patient_id": 1, "room": "1", "admitted_at": "yesterday"},
        {"facility_id": 1, "patient_id": 1, "room": "1", "sql": "1; DROP TABLE"},
    ],
)
def test_hostile_admissions_are_422s(site, technician, body):
    before = Resident.objects.count()
    r = _json(_client(technician), "post", f"{P}/residents", body)
    assert r.status_code == 422, r.content
    assert Resident.objects.count() == before


def test_ids_of_another_pharmacy(site, other_site, technician):
    theirs = admitted(other_site)
    c = _client(technician)
    assert _json(c, "get", f"{P}/residents/{theirs.pk}").status_code == 404
    assert _json(c, "get", f"{P}/residents/{theirs.pk}/mar").status_code == 404
    assert _json(c, "get", f"{P}/facilities/{theirs.facility_id}").status_code == 404
    assert (
        _json(c, "post", f"{P}/residents/{theirs.pk}/census", {"kind": "leave"}).status_code == 404
    )
    r = _json(
        c,
        "post",
        f"{P}/residents",
        {"facility_id": theirs.facility_id, "patient_id": patient(site).pk, "room": "1"},
    )
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "facility_id"
    mine = admitted(site)
    rx = rx_of(theirs)
    assert (
        _json(
            c,
            "put",
            f"{P}/residents/{mine.pk}/schedules/{rx.pk}",
            {"times": ["08:00"], "dose": "1"},
        ).status_code
        == 404
    )


def test_the_auditor_reads_facilities_but_no_resident(site, auditor):
    r0 = admitted(site)
    c = _client(auditor)
    place = _json(c, "get", f"{P}/facilities/{r0.facility_id}").json()
    assert place["admitted"] == 1
    assert "Diaz" not in str(place)
    assert _json(c, "get", f"{P}/residents").status_code == 403
    assert _json(c, "get", f"{P}/residents/{r0.pk}/mar").status_code == 403


def _mar_resident(site, technician):
    """Admitted 1 March 2026 (well, 60 days ago here: dates fixed by the schedule), an order
    starting on the 10th and a discharge on the 20th of the month asked for."""
    r = admitted(site, days_ago=90)
    AllergyFactory(patient=r.patient, allergen="Penicillin", reaction="hives")
    rx = rx_of(r, drug_description="Metoprolol tartrate 25 mg tablet")
    today = site.today()
    first = (today.replace(day=1) - dt.timedelta(days=1)).replace(day=1)  # last month
    order_schedule_set(
        actor=technician,
        resident=r,
        prescription=rx,
        times=["08:00", "17:00"],
        dose="1",
        start_on=first + dt.timedelta(days=9),
    )
    discharge = dt.datetime.combine(first + dt.timedelta(days=19), dt.time(12), tzinfo=site.tz)
    census_record(actor=technician, resident=r, kind="discharge", effective_at=discharge)
    return r, rx, first


def test_the_mar_as_json_csv_and_pdf(site, technician):
    r, _rx, month = _mar_resident(site, technician)
    c = _client(technician)
    before = AuditEvent.objects.filter(action="institutional.mar.printed").count()

    data = _json(c, "get", f"{P}/residents/{r.pk}/mar?month={month:%Y-%m}").json()
    assert (data["name"], data["allergies"], data["month"]) == (
        "Lucia Diaz",
        "Penicillin (hives)",
        f"{month:%Y-%m}",
    )
    cells = data["rows"][0]["cells"]
    assert [row["time"] for row in data["rows"]] == ["08:00", "17:00"]
    assert cells[:9] == ["—"] * 9 and cells[9:20] == [""] * 11 and set(cells[20:]) == {"—"}

    resp = c.get(f"{P}/residents/{r.pk}/mar?month={month:%Y-%m}&format=csv")
    assert resp.status_code == 200 and resp["Content-Type"].startswith("text/csv")
    assert resp["Cache-Control"] == "private, no-store"
    rows = list(csv.reader(io.StringIO(resp.content.decode())))
    assert [row[6] for row in rows[1:]] == ["08:00", "17:00"]

    resp = c.get(f"{P}/residents/{r.pk}/mar?month={month:%Y-%m}&format=pdf")
    assert resp.status_code == 200 and resp["Content-Type"] == "application/pdf"
    text = " ".join(PdfReader(io.BytesIO(resp.content)).pages[0].extract_text().split())
    assert "Lucia Diaz" in text and "Metoprolol tartrate 25 mg tablet" in text and "17:00" in text

    events = AuditEvent.objects.filter(action="institutional.mar.printed")
    assert events.count() == before + 3
    assert set(events.values_list("patient_id", flat=True)) == {r.patient_id}


@pytest.mark.parametrize(
    "query", ["month=2026-13", "month=26-01", "month=abcd-ef", "format=docx", "month=1999-01"]
)
def test_a_bad_mar_query_is_a_422(site, technician, query):
    r = admitted(site)
    resp = _client(technician).get(f"{P}/residents/{r.pk}/mar?{query}")
    assert resp.status_code == 422, resp.content
    assert not AuditEvent.objects.filter(action="institutional.mar.printed").exists()


def test_writes_are_refused_to_roles_without_the_capability(site, trainee, auditor):
    r = admitted(site)
    for user in (trainee, auditor):
        c = _client(user)
        before = (CensusEvent.objects.count(), OrderSchedule.objects.count())
        assert (
            _json(c, "post", f"{P}/residents/{r.pk}/census", {"kind": "leave"}).status_code == 403
        )
        assert _json(c, "post", f"{P}/facilities", {"code": "X", "name": "X"}).status_code == 403
        assert (CensusEvent.objects.count(), OrderSchedule.objects.count()) == before
