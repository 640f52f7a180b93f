"""Medication sync through its doors: the claim marker (SCC 47 on a sync short fill, built
by the real claim builder), the API (/api/v1/sync) and the workstation screens."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse

from rxdesk.catalog.choices import PriceKind
from rxdesk.catalog.models import PackagePrice
from rxdesk.claims import seams
from rxdesk.claims.models import Payer
from rxdesk.claims.services import _claim_data
from rxdesk.medsync import services
from rxdesk.medsync.choices import CallOutcome, CycleStatus
from rxdesk.medsync.models import SyncCall, SyncCycle, SyncEnrollment
from tests.claims.billing_helpers import card, plan_for
from tests.medsync.factories import chronic_rx, enrolled, patient_of

D = dt.date
P = "/api/v1/sync"


@pytest.fixture
def two_meds(clock, site, technician):
    """A patient: Rx a 30/30 filled 01/01 (due 01/31, regular); Rx b 60/30 filled 12/27
    (due 01/26: 5 days short → 10 tablets). Sync day 31."""
    patient = patient_of(site)
    a = chronic_rx(technician, patient, filled_on=D(2027, 1, 1))
    b = chronic_rx(technician, patient, filled_on=D(2026, 12, 27), quantity="60")
    return patient, a, b


def _queued(technician, patient, rxs, clock):
    enrollment = enrolled(technician, patient, rxs)
    cycle = services.sync_align(actor=technician, enrollment=enrollment)
    clock.move_to(dt.datetime(2027, 1, 27, 18, 0, tzinfo=dt.UTC))
    services.sync_call_record(actor=technician, cycle=cycle, outcome=CallOutcome.CONFIRMED)
    return services.sync_fills_queue(actor=technician, cycle=cycle)


# --- Claims -----------------------------------------------------------------------------------


def test_a_sync_short_fill_is_billed_with_scc_47(two_meds, site, technician, clock):
    patient, a, b = two_meds
    cycle = _queued(technician, patient, [a, b], clock)
    site.npi = "1234567893"
    site.save(update_fields=["npi"])
    payer = Payer.objects.create(name="Test PBM", host="127.0.0.1", port=5999)
    plan = plan_for(payer)
    coverage = card(patient)
    rows = {r.prescription_id: r for r in cycle.fills.select_related("fill")}
    short, regular = rows[b.pk].fill, rows[a.pk].fill
    for rx in (a, b):
        PackagePrice.objects.create(
            package=rx.package,
            kind=PriceKind.LIST,
            amount=Decimal("30.00"),
            effective_on=D(2027, 1, 1),
        )
    data = _claim_data(short, coverage, plan, date_of_service=D(2027, 1, 27))
    assert data.clarification_codes == ("47",)
    assert data.quantity == Decimal("10")
    assert (
        _claim_data(regular, coverage, plan, date_of_service=D(2027, 1, 27)).clarification_codes
        == ()
    )
    # a technician's own code comes first, 47 is added once
    assert seams.marks_for(short, plan, ("08", "47")).clarification_codes == ("08", "47")


# --- API --------------------------------------------------------------------------------------


@pytest.fixture
def api(technician):
    client = Client()
    client.force_login(technician)
    return client


def test_the_api_previews_enrols_aligns_calls_and_queues(two_meds, api, clock, technician):
    patient, a, b = two_meds
    preview = api.get(
        f"{P}/preview",
        {"patient_id": patient.pk, "sync_day": 31, "prescription_ids": [a.pk, b.pk]},
    )
    assert preview.status_code == 200, preview.content
    body = preview.json()
    assert body["sync_date"] == "2027-01-31"
    assert [(x["action"], x["quantity"], x["days_supply"]) for x in body["lines"]] == [
        ("regular", "30", 30),
        ("short", "10", 5),
    ]
    made = api.post(
        f"{P}/enrollments",
        {
            "patient_id": patient.pk,
            "sync_day": 31,
            "prescription_ids": [a.pk, b.pk],
            "consent_note": "By phone",
        },
        content_type="application/json",
    )
    assert made.status_code == 201, made.content
    enrollment_id = made.json()["id"]
    assert made.json()["anchor_date"] == "2027-01-31"
    aligned = api.post(
        f"{P}/enrollments/{enrollment_id}/align", {}, content_type="application/json"
    )
    assert aligned.status_code == 200, aligned.content
    cycle_id = aligned.json()["id"]
    assert [(f["action"], f["quantity"], f["short_fill"]) for f in aligned.json()["fills"]] == [
        ("regular", "30", False),
        ("short", "10", True),
    ]
    listed = api.get(f"{P}/call-list", {"within": 14})
    assert [r["cycle_id"] for r in listed.json()] == [cycle_id]
    csv = api.get(f"{P}/call-list", {"within": 14, "format": "csv"})
    assert csv["Content-Type"] == "text/csv; charset=utf-8"
    assert csv.content.decode().count("\r\n") == 3
    clock.move_to(dt.datetime(2027, 1, 27, 18, 0, tzinfo=dt.UTC))
    api.force_login(technician)  # the session timed out over the week
    called = api.post(
        f"{P}/cycles/{cycle_id}/calls", {"outcome": "confirmed"}, content_type="application/json"
    )
    assert called.status_code == 201, called.content
    queued = api.post(f"{P}/cycles/{cycle_id}/queue", {}, content_type="application/json")
    assert queued.status_code == 200, queued.content
    assert queued.json()["status"] == "queued"
    assert all(f["fill_id"] for f in queued.json()["fills"])


def test_the_api_refuses_bad_input_and_other_sites(two_meds, api, site, other_site, outsider):
    patient, a, b = two_meds
    bad = api.post(
        f"{P}/enrollments",
        {"patient_id": patient.pk, "sync_day": 32, "prescription_ids": [a.pk], "consent_note": "x"},
        content_type="application/json",
    )
    assert bad.status_code == 422
    assert SyncEnrollment.objects.count() == 0
    enrollment = enrolled(a.entered_by, patient, [a, b])
    stranger = Client()
    stranger.force_login(outsider)
    assert stranger.get(f"{P}/enrollments/{enrollment.pk}").status_code == 404
    conflict = api.post(
        f"{P}/cycles/{services.sync_align(actor=a.entered_by, enrollment=enrollment).pk}/queue",
        {},
        content_type="application/json",
    )
    assert conflict.status_code == 409
    assert conflict["Content-Type"] == "application/problem+json"


# --- Screens ----------------------------------------------------------------------------------


def test_the_enrol_screen_previews_then_enrols_and_aligns(two_meds, api):
    patient, a, b = two_meds
    url = reverse("medsync_enroll")
    form = {
        "patient": patient.pk,
        "sync_day": 31,
        "prescriptions": [a.pk, b.pk],
        "consent_note": "Agreed at pickup",
    }
    preview = api.post(url, {**form, "action": "preview"})
    assert preview.status_code == 200
    page = preview.content.decode()
    assert "first sync date Sun 01/31/2027" in page
    assert "Short fill to the sync date" in page
    assert SyncEnrollment.objects.count() == 0
    saved = api.post(url, {**form, "action": "save"})
    enrollment = SyncEnrollment.objects.get()
    assert saved.status_code == 302
    assert saved["Location"] == reverse("medsync_enrollment", kwargs={"pk": enrollment.pk})
    assert enrollment.cycles.get().fills.count() == 2


def test_the_home_lists_the_call_and_the_cycle_screen_queues(two_meds, technician, api, clock):
    patient, a, b = two_meds
    enrollment = enrolled(technician, patient, [a, b])
    cycle = services.sync_align(actor=technician, enrollment=enrollment)
    clock.move_to(dt.datetime(2027, 1, 27, 18, 0, tzinfo=dt.UTC))
    api.force_login(technician)
    home = api.get(reverse("medsync_home"))
    assert home.status_code == 200
    assert reverse("medsync_cycle", kwargs={"pk": cycle.pk}) in home.content.decode()
    call = api.post(reverse("medsync_call", kwargs={"pk": cycle.pk}), {"outcome": "confirmed"})
    assert call.status_code == 302
    assert SyncCall.objects.get().outcome == "confirmed"
    queued = api.post(reverse("medsync_queue", kwargs={"pk": cycle.pk}))
    assert queued.status_code == 302
    cycle.refresh_from_db()
    assert cycle.status == CycleStatus.QUEUED
    page = api.get(reverse("medsync_cycle", kwargs={"pk": cycle.pk})).content.decode()
    assert "Queue sync fills" not in page
    assert SyncCycle.objects.filter(enrollment=enrollment, sync_date=D(2027, 2, 28)).exists()


def test_the_call_screen_shows_a_missing_note_beside_the_field(two_meds, technician, api):
    patient, a, _b = two_meds
    cycle = services.sync_align(actor=technician, enrollment=enrolled(technician, patient, [a]))
    response = api.post(reverse("medsync_call", kwargs={"pk": cycle.pk}), {"outcome": "changes"})
    assert response.status_code == 422
    assert "Say what changes or why this month is held." in response.content.decode()
    assert SyncCall.objects.count() == 0
