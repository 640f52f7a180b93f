"""The PMP files through the API: make a day's file (409 twice, 201 again), catch up a
period, read a file with its records, download its exact bytes, mark it; bad input is a
problem body naming the field, another pharmacy's file is 404."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.test import Client

from rxdesk.controlled import asap
from rxdesk.controlled.models import PmpRecord, PmpSubmission
from rxdesk.core.models import AuditEvent
from tests.controlled.matrix_pmp import pharmacist_of, pmp_ready, ready_fill, sell

pytestmark = pytest.mark.django_db

P = "/api/v1/controlled/pmp"


@pytest.fixture
def rph(site):
    return pharmacist_of(pmp_ready(site))


@pytest.fixture
def api(rph) -> Client:
    client = Client()
    client.force_login(rph)
    return client


def _post(client: Client, path: str, body: object) -> object:
    return client.post(path, data=json.dumps(body), content_type="application/json")


def _kept() -> tuple[int, int, int]:
    events = AuditEvent.objects.exclude(action__startswith="auth.").count()
    return PmpSubmission.objects.count(), PmpRecord.objects.count(), events


def test_a_days_file_is_made_read_downloaded_and_marked(api, site):
    fill = sell(ready_fill(site, schedule="CII"))
    today = site.today().isoformat()

    made = _post(api, f"{P}/daily", {"day": today})

    assert made.status_code == 201, made.content
    body = made.json()
    assert (body["kind"], body["state"], body["dispensings"], body["voids"]) == (
        "daily",
        "IL",
        1,
        0,
    )
    assert body["status"] == "created" and body["superseded"] is False
    assert body["file_name"] == f"RXD{site.today():%Y%m%d}.dat"
    (record,) = body["records"]
    assert record["fill_id"] == fill.pk and record["action"] == "00"
    assert record["rx_number"] == fill.prescription.number
    assert record["ndc"] == fill.package.ndc11 and record["quantity"] == "30"

    listed = api.get(f"{P}/submissions")
    assert listed.status_code == 200 and [s["id"] for s in listed.json()] == [body["id"]]

    download = api.get(f"{P}/submissions/{body['id']}/file")
    kept = PmpSubmission.objects.get(pk=body["id"])
    assert download.status_code == 200
    assert download["Content-Type"].startswith("text/plain")
    assert download.content == kept.content.encode("ascii")
    assert f'filename="{kept.file_name}"' in download["Content-Disposition"]
    assert AuditEvent.objects.order_by("-pk").first().action == "cs.pmp.file_read"
    parsed = asap.read(download.content.decode("ascii"))
    assert parsed.control_number == body["control_number"]

    marked = _post(api, f"{P}/submissions/{body['id']}/status", {"status": "sent"})
    assert marked.status_code == 200 and marked.json()["status"] == "sent"
    assert marked.json()["sent_at"] is not None


def test_the_same_day_twice_is_409_and_again_is_201(api, site):
    today = site.today().isoformat()
    assert _post(api, f"{P}/daily", {"day": today}).status_code == 201
    before = _kept()
    twice = _post(api, f"{P}/daily", {"day": today})
    assert twice.status_code == 409
    assert twice["Content-Type"] == "application/problem+json"
    problem = twice.json()
    assert problem["type"] == "/problems/conflict" and problem["errors"][0]["field"] == "day"
    assert problem["submission_id"] == PmpSubmission.objects.get().pk
    assert _kept() == before
    again = _post(api, f"{P}/daily", {"day": today, "again": True})
    assert again.status_code == 201 and again.json()["file_name"].endswith("-2.dat")
    listed = api.get(f"{P}/submissions").json()
    assert [s["superseded"] for s in listed] == [False, True]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "day"),
        ({"day": "11/25/2026"}, "day"),
        ({"day": "2026-01-01", "state": "Illinois"}, "state"),
        ({"day": "2026-01-01", "extra": 1}, "extra"),
    ],
)
def test_a_malformed_body_is_422_naming_the_field(api, body, field):
    before = _kept()
    response = _post(api, f"{P}/daily", body)
    assert response.status_code == 422, response.content
    assert field in {e["field"] for e in response.json()["errors"]}
    assert _kept() == before


def test_a_broken_rule_is_422_naming_the_field(api, site):
    before = _kept()
    future = _post(api, f"{P}/daily", {"day": (site.today() + dt.timedelta(days=1)).isoformat()})
    assert future.status_code == 422 and future.json()["errors"][0]["field"] == "day"
    site.dea_number = ""
    site.save(update_fields=["dea_number"])
    missing = _post(api, f"{P}/daily", {"day": site.today().isoformat()})
    assert missing.status_code == 422
    assert [e["field"] for e in missing.json()["errors"]] == ["site.dea_number"]
    assert _kept() == before


def test_catch_up_is_201_with_the_files_then_200_with_none(api, site):
    today = site.today()
    body = {"start": (today - dt.timedelta(days=2)).isoformat(), "end": today.isoformat()}
    first = _post(api, f"{P}/range", body)
    assert first.status_code == 201
    assert [s["kind"] for s in first.json()] == ["zero", "zero", "zero"]
    second = _post(api, f"{P}/range", body)
    assert second.status_code == 200 and second.json() == []
    one = _post(api, f"{P}/range", {**body, "single_file": True})
    assert one.status_code == 201 and [s["kind"] for s in one.json()] == ["range"]
    backwards = _post(api, f"{P}/range", {"start": body["end"], "end": body["start"]})
    assert backwards.status_code == 422 and backwards.json()["errors"][0]["field"] == "end"


def test_a_rejection_without_its_reason_is_422(api, site):
    made = _post(api, f"{P}/daily", {"day": site.today().isoformat()}).json()
    bad = _post(api, f"{P}/submissions/{made['id']}/status", {"status": "rejected"})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "note"
    unknown = _post(api, f"{P}/submissions/{made['id']}/status", {"status": "lost"})
    assert unknown.status_code == 422
    ok = _post(api, f"{P}/submissions/{made['id']}/status", {"status": "rejected", "note": "PAT18"})
    assert ok.status_code == 200 and ok.json()["status_note"] == "PAT18"
    again = _post(api, f"{P}/submissions/{made['id']}/status", {"status": "accepted"})
    assert again.status_code == 409


def test_another_pharmacys_file_is_404(api, site, other_site):
    stranger = pharmacist_of(pmp_ready(other_site))
    client = Client()
    client.force_login(stranger)
    theirs = _post(client, f"{P}/daily", {"day": other_site.today().isoformat()}).json()
    before = _kept()
    for path in (f"{P}/submissions/{theirs['id']}", f"{P}/submissions/{theirs['id']}/file"):
        assert api.get(path).status_code == 404
    assert (
        _post(api, f"{P}/submissions/{theirs['id']}/status", {"status": "sent"}).status_code == 404
    )
    assert api.get(f"{P}/submissions/{2**70}").status_code == 404
    assert _kept() == before
    assert api.get(f"{P}/submissions").json() == []


def test_a_technician_is_refused_and_nothing_is_written(site, technician):
    client = Client()
    client.force_login(technician)
    before = _kept()
    response = _post(client, f"{P}/daily", {"day": site.today().isoformat()})
    assert response.status_code == 403
    assert client.get(f"{P}/submissions").status_code == 403
    assert _kept() == before
