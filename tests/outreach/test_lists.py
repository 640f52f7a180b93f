"""The outreach lists (rxdesk.outreach.queries) against hand-computed fixtures."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.apps import apps
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from rxdesk.core.errors import Invalid
from rxdesk.immunizations.queries_outreach import due_list
from rxdesk.outreach import queries
from rxdesk.outreach.choices import ListKind
from rxdesk.outreach.models import OutreachContact
from rxdesk.patients.choices import ContactMethod
from rxdesk.rx.choices import InactiveReason, RxStatus
from rxdesk.rx.models import Prescription
from tests.factories import PatientFactory, UserFactory
from tests.outreach.setup import drug, history, prescribe, queue_next


def ids(listing):
    return [
        (r.patient.last_name, r.figures.get("rx_number") or r.figures.get("drug"))
        for r in listing.rows
    ]


@pytest.fixture
def today(site):
    return site.today()


@pytest.fixture
def lisinopril(db):
    return drug("Lisinopril", "LISINOPRIL")


@pytest.fixture
def atorvastatin(db):
    return drug("Lipitor", "ATORVASTATIN CALCIUM TRIHYDRATE")


@pytest.fixture
def metformin(db):
    return drug("Metformin", "METFORMIN HYDROCHLORIDE")


# --- Refills due --------------------------------------------------------------------------------


def test_refills_due_lists_supplies_running_out_or_run_out(site, pharmacist, today, lisinopril):
    soon = PatientFactory(site=site, last_name="Soon", phone_mobile="5551230001")
    lapsed = PatientFactory(site=site, last_name="Lapsed", contact_method=ContactMethod.SMS)
    later = PatientFactory(site=site, last_name="Later")
    gone = PatientFactory(site=site, last_name="Gone")
    queued = PatientFactory(site=site, last_name="Queued")
    used_up = PatientFactory(site=site, last_name="Usedup")
    quiet = PatientFactory(site=site, last_name="Quiet", contact_method=ContactMethod.NONE)
    a = history(prescribe(pharmacist, soon, lisinopril, auto_refill=True), today, (25, 30))
    b = history(prescribe(pharmacist, lapsed, lisinopril), today, (80, 30), (50, 30))
    history(prescribe(pharmacist, later, lisinopril), today, (10, 30))
    history(prescribe(pharmacist, gone, lisinopril), today, (65, 30))
    queue_next(history(prescribe(pharmacist, queued, lisinopril), today, (25, 30)))
    history(prescribe(pharmacist, used_up, lisinopril, refills=0), today, (25, 30))
    history(prescribe(pharmacist, quiet, lisinopril), today, (26, 30))

    listing = queries.refills_due(site)

    assert listing.filters == {"ahead": 7, "behind": 30}
    assert ids(listing) == [("Lapsed", b.number), ("Soon", a.number)]
    assert listing.do_not_contact == 1
    first, second = listing.rows
    assert first.figures == {
        "rx_number": b.number,
        "drug": "Lisinopril 10 mg tablet",
        "last_filled_on": today - dt.timedelta(days=50),
        "days_supply": 30,
        "runs_out_on": today - dt.timedelta(days=20),
        "days_left": -20,
        "refills_remaining": 4,
        "auto_refill": False,
    }
    assert first.why == f"Rx {b.number} ran out 20 days ago"
    assert (first.contact_by, first.contact) == ("Text message", "")
    assert second.why == f"Rx {a.number} runs out in 5 days"
    assert second.figures["refills_remaining"] == 5
    assert second.figures["auto_refill"] is True
    assert (second.contact_by, second.contact) == ("Phone call", "(555) 123-0001")
    assert second.last is None


def test_refills_due_honours_the_window(site, pharmacist, today, lisinopril):
    p = PatientFactory(site=site, last_name="Window")
    history(prescribe(pharmacist, p, lisinopril), today, (50, 30))  # ran out 20 days ago
    assert len(queries.refills_due(site, behind=20).rows) == 1
    assert len(queries.refills_due(site, behind=19).rows) == 0
    q = PatientFactory(site=site, last_name="Ahead")
    history(prescribe(pharmacist, q, lisinopril), today, (20, 30))  # runs out in 10 days
    assert len(queries.refills_due(site, ahead=10, behind=0).rows) == 1
    assert len(queries.refills_due(site, ahead=9, behind=0).rows) == 0
    with pytest.raises(Invalid) as exc:
        queries.refills_due(site, ahead=61)
    assert exc.value.field == "ahead"


def test_refills_due_never_shows_another_sites_patients(site, other_site, today, lisinopril):
    outsider_rph = UserFactory(site=other_site, role="pharmacist", username="elsewhere")
    p = PatientFactory(site=other_site)
    history(prescribe(outsider_rph, p, lisinopril), today, (25, 30))
    assert queries.refills_due(site).rows == []
    assert len(queries.refills_due(other_site).rows) == 1


# --- Low adherence ------------------------------------------------------------------------------


def _adherence_fixture(site, pharmacist, today, lisinopril, atorvastatin, metformin):
    stat = PatientFactory(site=site, last_name="Statin")
    diab = PatientFactory(site=site, last_name="Diabetic")
    once = PatientFactory(site=site, last_name="Once")
    # 90 of 180 days: 0.5000.
    history(prescribe(pharmacist, stat, atorvastatin), today, (179, 30), (120, 30), (60, 30))
    # Every day covered: 1.0000, not listed.
    history(
        prescribe(pharmacist, stat, lisinopril),
        today,
        *[(ago, 30) for ago in (179, 149, 119, 89, 59, 29)],
    )
    # Two metformin products, one drug: index 100 days ago, 101 days, 30 + 30 covered: 60/101.
    history(prescribe(pharmacist, diab, metformin), today, (100, 30))
    glucophage = drug("Glucophage", "METFORMIN HYDROCHLORIDE")
    history(prescribe(pharmacist, diab, glucophage), today, (40, 30))
    # One fill: not measured.
    history(prescribe(pharmacist, once, atorvastatin), today, (100, 30))
    # Stopped by the prescriber: no call about it.
    stopped = drug("Pravachol", "PRAVASTATIN SODIUM")
    rx = history(prescribe(pharmacist, once, stopped), today, (170, 30), (100, 30))
    Prescription.objects.filter(pk=rx.pk).update(
        status=RxStatus.INACTIVE, inactive_reason=InactiveReason.DISCONTINUED
    )
    # Not a maintenance medicine: not on the list.
    amox = drug("Amoxicillin", "AMOXICILLIN", maintenance=False)
    history(prescribe(pharmacist, once, amox), today, (170, 10), (100, 10))
    return stat, diab


def test_low_adherence_lists_pdc_under_80_percent(
    site, pharmacist, today, lisinopril, atorvastatin, metformin
):
    _adherence_fixture(site, pharmacist, today, lisinopril, atorvastatin, metformin)

    listing = queries.low_adherence(site)

    assert listing.filters == {"days": 180, "group": "maintenance"}
    assert [(r.patient.last_name, r.figures["drug"]) for r in listing.rows] == [
        ("Statin", "Atorvastatin"),
        ("Diabetic", "Metformin"),
    ]
    statin, diabetic = listing.rows
    assert statin.figures == {
        "drug": "Atorvastatin",
        "classes": "Statins",
        "fills": 3,
        "index_date": today - dt.timedelta(days=179),
        "covered_days": 90,
        "period_days": 180,
        "pdc": Decimal("0.5000"),
        "pdc_percent": Decimal("50.00"),
    }
    assert statin.why == "Atorvastatin: 50.00% of days covered"
    assert diabetic.figures["fills"] == 2
    assert (diabetic.figures["covered_days"], diabetic.figures["period_days"]) == (60, 101)
    assert diabetic.figures["pdc"] == Decimal("0.5941")  # 60/101 = 0.594059…
    assert diabetic.figures["classes"] == "Diabetes (non-insulin)"


def test_low_adherence_filters_by_pqa_class_and_period(
    site, pharmacist, today, lisinopril, atorvastatin, metformin
):
    _adherence_fixture(site, pharmacist, today, lisinopril, atorvastatin, metformin)
    assert [r.patient.last_name for r in queries.low_adherence(site, group="statins").rows] == [
        "Statin"
    ]
    assert [r.patient.last_name for r in queries.low_adherence(site, group="diabetes").rows] == [
        "Diabetic"
    ]
    assert queries.low_adherence(site, group="ras").rows == []
    # Over 90 days both have one fill in the period: not measured.
    assert queries.low_adherence(site, days=90).rows == []
    # Over 150 days the statin's fills are 120 and 60 days ago: index 120 days ago, 121
    # days, 60 covered: 60/121 = 0.4959 (the metformin unchanged).
    assert [
        (r.patient.last_name, r.figures["pdc"]) for r in queries.low_adherence(site, days=150).rows
    ] == [
        ("Statin", Decimal("0.4959")),
        ("Diabetic", Decimal("0.5941")),
    ]
    with pytest.raises(Invalid) as exc:
        queries.low_adherence(site, group="antibiotics")
    assert exc.value.field == "group"


def test_low_adherence_runs_in_a_fixed_number_of_queries(
    site, pharmacist, today, lisinopril, atorvastatin, metformin
):
    _adherence_fixture(site, pharmacist, today, lisinopril, atorvastatin, metformin)
    with CaptureQueriesContext(connection) as few:
        queries.low_adherence(site)
    for n in range(3):
        p = PatientFactory(site=site, last_name=f"More{n}")
        history(prescribe(pharmacist, p, atorvastatin), today, (150, 30), (60, 30))
    with CaptureQueriesContext(connection) as many:
        listing = queries.low_adherence(site)
    assert len(listing.rows) == 5
    assert len(many) == len(few) == 3


@pytest.mark.parametrize("kind", ["refills", "sync"])
def test_the_lists_run_in_a_fixed_number_of_queries(
    site, pharmacist, technician, today, lisinopril, atorvastatin, kind
):
    def patient(n):
        p = PatientFactory(site=site, last_name=f"Fixed{n}")
        history(prescribe(pharmacist, p, lisinopril), today, (25, 30))
        history(prescribe(pharmacist, p, atorvastatin), today, (27, 30))
        OutreachContact.objects.create(
            site=site, patient=p, kind=kind, outcome="no_answer", by=technician, by_name="T"
        )

    patient(0)
    with CaptureQueriesContext(connection) as few:
        one = queries.build(site, kind, {})
    for n in range(1, 4):
        patient(n)
    with CaptureQueriesContext(connection) as many:
        four = queries.build(site, kind, {})
    assert len(one.rows) * 4 == len(four.rows) > 0
    assert all(r.last is not None for r in four.rows)
    assert len(many) == len(few)


# --- Vaccines -----------------------------------------------------------------------------------


def test_vaccines_due_is_the_immunization_forecast(site):
    PatientFactory(site=site, last_name="Senior", date_of_birth=dt.date(1950, 3, 1))
    PatientFactory(site=site, last_name="Quiet", contact_method=ContactMethod.NONE)
    forecast = due_list(site)

    listing = queries.vaccines_due(site)

    assert [r.patient.pk for r in listing.rows] == [r.patient.pk for r in forecast.rows]
    assert listing.do_not_contact == forecast.do_not_contact
    assert listing.rows, "a 76-year-old with no doses on file is due"
    row, source = listing.rows[0], forecast.rows[0]
    assert row.figures["vaccines"] == ", ".join(d.vaccine for d in source.due)
    assert row.figures["status"] == source.due[0].status.label
    assert row.figures["age"] == source.age


# --- Med sync -----------------------------------------------------------------------------------


def test_sync_eligible_needs_two_maintenance_prescriptions_with_refills(
    site, pharmacist, today, lisinopril, atorvastatin, metformin
):
    two = PatientFactory(site=site, last_name="Two")
    three = PatientFactory(site=site, last_name="Three")
    mixed = PatientFactory(site=site, last_name="Mixed")
    spent = PatientFactory(site=site, last_name="Spent")
    history(prescribe(pharmacist, two, lisinopril), today, (20, 30))
    history(prescribe(pharmacist, two, atorvastatin), today, (5, 30))
    for medicine in (lisinopril, atorvastatin, metformin):
        history(prescribe(pharmacist, three, medicine), today, (10, 30))
    history(prescribe(pharmacist, mixed, lisinopril), today, (10, 30))
    amox = drug("Amoxicillin", "AMOXICILLIN", maintenance=False)
    history(prescribe(pharmacist, mixed, amox), today, (10, 10))
    history(prescribe(pharmacist, spent, lisinopril), today, (10, 30))
    history(prescribe(pharmacist, spent, atorvastatin, refills=0), today, (10, 30))

    listing = queries.sync_eligible(site)

    assert [r.patient.last_name for r in listing.rows] == ["Three", "Two"]
    three_row, two_row = listing.rows
    assert three_row.figures["prescriptions"] == 3
    assert three_row.figures["spread_days"] == 0
    assert two_row.figures["prescriptions"] == 2
    assert two_row.figures["spread_days"] == 15
    assert two_row.figures["drugs"] == "Lisinopril 10 mg tablet; Lipitor 10 mg tablet"
    assert two_row.why == "2 maintenance prescriptions, refills 15 days apart"


def test_sync_eligible_leaves_out_patients_enrolled_in_sync(
    site, pharmacist, technician, today, lisinopril, atorvastatin
):
    enrollment = apps.get_model("medsync", "SyncEnrollment")
    synced = PatientFactory(site=site, last_name="Synced")
    ended = PatientFactory(site=site, last_name="Ended")
    for p in (synced, ended):
        history(prescribe(pharmacist, p, lisinopril), today, (20, 30))
        history(prescribe(pharmacist, p, atorvastatin), today, (5, 30))
    assert [r.patient.last_name for r in queries.sync_eligible(site).rows] == ["Ended", "Synced"]
    # Set-up straight in the table: the enrollment workflow is the medsync app's.
    common = {"site": site, "sync_day": 1, "anchor_date": today, "consent_note": "By phone"}
    enrollment.objects.create(patient=synced, enrolled_by=technician, **common)
    enrollment.objects.create(
        patient=ended, enrolled_by=technician, active=False, ended_at=timezone.now(), **common
    )
    assert [r.patient.last_name for r in queries.sync_eligible(site).rows] == ["Ended"]


# --- Last contact -------------------------------------------------------------------------------


def test_rows_show_the_last_contact_of_that_list(site, pharmacist, technician, today, lisinopril):
    p = PatientFactory(site=site, last_name="Called")
    history(prescribe(pharmacist, p, lisinopril), today, (25, 30))
    now = timezone.now()
    OutreachContact.objects.create(
        site=site,
        patient=p,
        kind=ListKind.REFILLS,
        outcome="no_answer",
        by=technician,
        by_name="Tess Tech",
        at=now - dt.timedelta(days=2),
    )
    OutreachContact.objects.create(
        site=site,
        patient=p,
        kind=ListKind.REFILLS,
        outcome="left_message",
        note="voicemail",
        by=technician,
        by_name="Tess Tech",
        at=now - dt.timedelta(days=1),
    )
    OutreachContact.objects.create(
        site=site,
        patient=p,
        kind=ListKind.SYNC,
        outcome="declined",
        by=technician,
        by_name="Tess Tech",
        at=now,
    )
    [row] = queries.refills_due(site).rows
    assert row.last is not None
    assert (row.last.outcome, row.last.outcome_label, row.last.note) == (
        "left_message",
        "Left a message",
        "voicemail",
    )


def test_the_csv_has_one_line_per_row(site, pharmacist, today, lisinopril):
    p = PatientFactory(
        site=site, last_name="=Csv", first_name="Ann", date_of_birth=dt.date(1960, 1, 2)
    )
    rx = history(prescribe(pharmacist, p, lisinopril), today, (25, 30))
    text = queries.listing_csv(queries.refills_due(site))
    header, line, end = text.split("\r\n")
    assert header == (
        "last_name,first_name,date_of_birth,contact_by,contact,why,rx_number,drug,"
        "last_filled_on,days_supply,runs_out_on,days_left,refills_remaining,auto_refill,"
        "last_contact_at,last_contact_outcome"
    )
    runs_out = (today + dt.timedelta(days=5)).isoformat()
    filled = (today - dt.timedelta(days=25)).isoformat()
    assert line == (
        f"'=Csv,Ann,1960-01-02,Phone call,,Rx {rx.number} runs out in 5 days,{rx.number},"
        f"Lisinopril 10 mg tablet,{filled},30,{runs_out},5,5,no,,"
    )
    assert end == ""
