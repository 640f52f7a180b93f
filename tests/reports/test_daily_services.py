"""Writes of the daily reports (rxdesk.reports.services_daily): generation keeps one set
per day (unchanged left alone, an unreviewed change replaced, a reviewed report never
replaced but versioned), the review sign-off, the PHI-access event of a read; each with
its audit event, its broken rules and its forbidden roles (nothing written)."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from rxdesk.core.errors import Conflict, Forbidden, Invalid, NotFound
from rxdesk.core.models import AuditEvent
from rxdesk.reports import queries_daily as queries
from rxdesk.reports.daily_reports import CODES
from rxdesk.reports.daily_table import sha256_of
from rxdesk.reports.models import DailyReport, DailyReview
from rxdesk.reports.services_daily import (
    daily_report_read,
    daily_reports_generate,
    daily_review_sign,
)
from tests.factories import PatientFactory
from tests.inventory.factories import package, stock
from tests.reports.daily_setup import as_cron, generate
from tests.rx.factories import dispense, first_fill, make_rx

pytestmark = pytest.mark.django_db


def written() -> tuple[int, int, int]:
    return DailyReport.objects.count(), DailyReview.objects.count(), AuditEvent.objects.count()


def test_a_pharmacist_generates_the_seven_reports_and_one_audit_event(site, pharmacist):
    day = site.today() - dt.timedelta(days=1)
    before = AuditEvent.objects.count()

    done = daily_reports_generate(actor=pharmacist, day=day)

    assert [g.report.code for g in done] == CODES
    assert [g.outcome for g in done] == ["created"] * 7
    first = done[0].report
    assert (first.site, first.business_date, first.version) == (site, day, 1)
    assert (first.generated_by, first.generated_by_name, first.row_count) == (
        pharmacist,
        pharmacist.username,
        0,
    )
    assert first.csv_sha256 == sha256_of(first.csv_text)
    assert first.pdf_sha256 == sha256_of(bytes(first.pdf))
    assert bytes(first.pdf).startswith(b"%PDF-")
    assert first.csv_text.startswith("Rx,Fill,Patient,Drug,NDC,")
    assert AuditEvent.objects.count() == before + 1
    event = AuditEvent.objects.latest("seq")
    assert (event.action, event.actor, event.site) == ("reports.daily.generated", pharmacist, site)
    assert json.loads(event.data)["business_date"] == day.isoformat()
    assert json.loads(event.data)["reports"]["dispensing"] == {
        "outcome": "created",
        "version": 1,
        "rows": 0,
        "csv_sha256": first.csv_sha256,
    }


def test_the_system_generates_for_a_named_site_and_says_so(site):
    day = site.today() - dt.timedelta(days=1)
    done = generate(site, day, ["expiring_stock"])
    assert done[0].report.generated_by is None
    assert done[0].report.generated_by_name == "system"
    event = AuditEvent.objects.latest("seq")
    assert (event.actor_kind, event.actor_name) == ("system", "system")


def test_the_default_day_is_yesterday_at_the_pharmacy(site, pharmacist):
    done = daily_reports_generate(actor=pharmacist, codes=["interventions"])
    assert done[0].report.business_date == site.today() - dt.timedelta(days=1)


def test_running_twice_keeps_one_set_and_leaves_unchanged_reports_alone(site, pharmacist):
    day = site.today()
    first = daily_reports_generate(actor=pharmacist, day=day)

    again = daily_reports_generate(actor=pharmacist, day=day)

    assert [g.outcome for g in again] == ["unchanged"] * 7
    assert [g.report.pk for g in again] == [g.report.pk for g in first]
    assert DailyReport.objects.count() == 7
    assert "unchanged (version 1)" in again[0].text


def test_a_changed_report_not_yet_reviewed_is_replaced_in_place(site, pharmacist):
    day = site.today()
    old = daily_reports_generate(actor=pharmacist, day=day, codes=["expiring_stock"])[0].report
    stock(site, package(), lot="X1", quantity=4, expiry=day + dt.timedelta(days=10))

    new = daily_reports_generate(actor=pharmacist, day=day, codes=["expiring_stock"])[0]

    assert new.outcome == "replaced"
    assert (new.report.pk, new.report.version, new.report.row_count) == (old.pk, 1, 1)
    assert DailyReport.objects.filter(code="expiring_stock").count() == 1
    assert new.text == "Expiring stock: 1 row — replaced (version 1)"


def test_a_reviewed_report_is_never_replaced_the_new_generation_is_a_new_version(
    site, pharmacist, pic
):
    day = site.today() - dt.timedelta(days=1)
    daily_reports_generate(actor=pharmacist, day=day)
    daily_review_sign(actor=pic, day=day)
    signed = DailyReport.objects.get(code="expiring_stock")
    signed_csv = signed.csv_text
    stock(site, package(), lot="X1", quantity=4, expiry=day + dt.timedelta(days=10))

    done = {g.report.code: g for g in daily_reports_generate(actor=pharmacist, day=day)}

    assert done["expiring_stock"].outcome == "new version"
    assert done["expiring_stock"].report.version == 2
    assert done["expiring_stock"].report.review is None
    assert done["dispensing"].outcome == "unchanged"
    signed.refresh_from_db()
    assert (signed.version, signed.csv_text, signed.reviewed) == (1, signed_csv, True)
    assert "kept as version 2 (version 1 was reviewed and stays as signed)" in (
        done["expiring_stock"].text
    )
    found = queries.day_set(actor=pharmacist, day=day)
    assert found.state == "generated"
    assert found.state_text == "Regenerated since the last review: sign the new versions."


@pytest.mark.parametrize("who", ["technician", "trainee", "inventory", "admin_user", "outsider"])
def test_a_role_without_reports_cannot_generate_and_nothing_is_written(request, site, who):
    actor = request.getfixturevalue(who)
    before = written()
    with pytest.raises(Forbidden):
        daily_reports_generate(actor=actor, day=site.today())
    assert written() == before


def test_the_web_cannot_act_as_the_system(site):
    before = written()
    with pytest.raises(Forbidden):
        daily_reports_generate(actor=None, site=site, day=site.today())
    assert written() == before


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"day": "2026-13-40"}, "date"),
        ({"codes": ["dispensing", "payroll"]}, "codes"),
        ({"codes": []}, "codes"),
    ],
)
def test_bad_input_is_refused_and_nothing_is_written(pharmacist, kwargs, field):
    before = written()
    with pytest.raises(Invalid) as caught:
        daily_reports_generate(actor=pharmacist, **kwargs)
    assert caught.value.errors[0]["field"] == field
    assert written() == before


def test_a_day_that_has_not_come_is_refused(site, pharmacist):
    before = written()
    with pytest.raises(Invalid, match="has not come yet"):
        daily_reports_generate(actor=pharmacist, day=site.today() + dt.timedelta(days=1))
    assert written() == before


# --- The review --------------------------------------------------------------------------------


def test_a_pharmacist_signs_the_days_set_and_one_audit_event(site, pharmacist):
    day = site.today() - dt.timedelta(days=1)
    generate(site, day)

    review = daily_review_sign(actor=pharmacist, day=day, note="  All in order.  ")

    assert (review.site, review.business_date, review.reviewed_by, review.note) == (
        site,
        day,
        pharmacist,
        "All in order.",
    )
    assert DailyReport.objects.filter(review=review).count() == 7
    event = AuditEvent.objects.latest("seq")
    assert (event.action, event.actor) == ("reports.daily.reviewed", pharmacist)
    assert json.loads(event.data) == {
        "business_date": day.isoformat(),
        "reports": dict.fromkeys(sorted(CODES), 1),
    }
    found = queries.day_set(actor=pharmacist, day=day)
    assert (found.state, found.state_text) == ("reviewed", f"Reviewed by {pharmacist.username}.")


def test_a_day_not_fully_generated_cannot_be_signed(site, pharmacist):
    day = site.today() - dt.timedelta(days=1)
    generate(site, day, ["dispensing"])
    before = written()
    with pytest.raises(Invalid, match="Generate the day's reports first"):
        daily_review_sign(actor=pharmacist, day=day)
    assert written() == before


def test_a_day_signed_as_it_stands_cannot_be_signed_again(site, pharmacist, pic):
    day = site.today() - dt.timedelta(days=1)
    generate(site, day)
    daily_review_sign(actor=pharmacist, day=day)
    before = written()
    with pytest.raises(Conflict, match="already signed"):
        daily_review_sign(actor=pic, day=day)
    assert written() == before


def test_a_long_note_is_refused(site, pharmacist):
    day = site.today() - dt.timedelta(days=1)
    generate(site, day)
    before = written()
    with pytest.raises(Invalid) as caught:
        daily_review_sign(actor=pharmacist, day=day, note="x" * 501)
    assert caught.value.errors[0]["field"] == "note"
    assert written() == before


@pytest.mark.parametrize("who", ["technician", "auditor", "inventory"])
def test_only_a_pharmacist_signs_and_nothing_is_written(request, site, who):
    day = site.today() - dt.timedelta(days=1)
    generate(site, day)
    before = written()
    with pytest.raises(Forbidden):
        daily_review_sign(actor=request.getfixturevalue(who), day=day)
    assert written() == before


# --- Reading ----------------------------------------------------------------------------------


def test_reading_a_report_that_names_patients_is_a_phi_access(site, technician, auditor):
    day = site.today()
    dispense(first_fill(make_rx(technician, patient=PatientFactory(site=site))), day)
    reports = {g.report.code: g.report for g in generate(site, day)}
    before = AuditEvent.objects.count()

    daily_report_read(actor=auditor, report=reports["dispensing"], form="pdf")

    event = AuditEvent.objects.latest("seq")
    assert AuditEvent.objects.count() == before + 1
    assert (event.action, event.actor, event.object_type, event.object_id) == (
        "reports.daily.read",
        auditor,
        "reports.dailyreport",
        str(reports["dispensing"].pk),
    )
    assert json.loads(event.data) == {
        "code": "dispensing",
        "business_date": day.isoformat(),
        "version": 1,
        "form": "pdf",
    }
    daily_report_read(actor=auditor, report=reports["claims_summary"])  # no patient names
    assert AuditEvent.objects.count() == before + 1


def test_another_pharmacys_report_is_not_found(site, other_site, pharmacist):
    theirs = generate(other_site, other_site.today(), ["dispensing"])[0].report
    before = written()
    with pytest.raises(NotFound):
        daily_report_read(actor=pharmacist, report=theirs)
    with pytest.raises(NotFound):
        queries.report_get(actor=pharmacist, pk=theirs.pk)
    assert written() == before


def test_a_technician_cannot_read_reports(site, technician):
    report = generate(site, site.today(), ["dispensing"])[0].report
    before = written()
    with pytest.raises(Forbidden):
        daily_report_read(actor=technician, report=report)
    with pytest.raises(Forbidden):
        queries.day_set(actor=technician, day=site.today())
    assert written() == before


def test_cron_context_helper_is_the_cli(site):
    with as_cron():
        done = daily_reports_generate(actor=None, site=site, day=site.today(), codes=["controlled"])
    assert done[0].outcome == "created"
