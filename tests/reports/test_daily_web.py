"""The daily-reports screens (/reports/daily/…) and API (/api/v1/reports/daily…): the
day's list, one report as a table, CSV and PDF downloads of the kept version, "Generate
now" and "Sign as reviewed"; PHI-access events; another pharmacy's report is a 404."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json

import pytest
from django.test import Client
from django.urls import reverse

from rxdesk.core.models import AuditEvent
from rxdesk.reports.models import DailyReport, DailyReview
from tests.factories import PatientFactory
from tests.reports.daily_setup import generate
from tests.rx.factories import dispense, first_fill, make_rx

pytestmark = pytest.mark.django_db
API = "/api/v1/reports"


@pytest.fixture(autouse=True)
def _plain_http(settings):
    settings.SECURE_SSL_REDIRECT = False


def client_of(user) -> Client:
    c = Client()
    c.force_login(user)
    return c


@pytest.fixture
def day(site):
    return site.today() - dt.timedelta(days=1)


@pytest.fixture
def kept(site, technician, day):
    patient = PatientFactory(site=site, first_name="Ana", last_name="Lopez")
    dispense(first_fill(make_rx(technician, patient=patient)), day)
    return {g.report.code: g.report for g in generate(site, day)}


def test_the_day_page_lists_the_seven_reports_with_rows_and_status(pharmacist, kept, day):
    response = client_of(pharmacist).get(reverse("reports_daily"), {"date": day.isoformat()})
    assert response.status_code == 200
    page = response.content.decode()
    assert "Dispensing report" in page and "Will-call aging" in page
    assert reverse("reports_daily_report", args=[kept["dispensing"].pk]) in page
    assert reverse("reports_daily_pdf", args=[kept["dispensing"].pk]) in page
    assert "Generated, waiting for a pharmacist&#x27;s review." in page
    assert "Sign as reviewed" in page
    assert response.context["found"].entries[0].report.row_count == 1


def test_the_auditor_reads_but_is_not_offered_the_sign_off(auditor, kept, day):
    response = client_of(auditor).get(reverse("reports_daily"), {"date": day.isoformat()})
    assert response.status_code == 200
    assert "Sign as reviewed" not in response.content.decode()


def test_a_bad_date_is_shown_beside_the_picker(pharmacist):
    response = client_of(pharmacist).get(reverse("reports_daily"), {"date": "31/31/2026"})
    assert response.status_code == 422
    assert "Enter the date as MM/DD/YYYY." in response.content.decode()


def test_a_report_screen_is_a_table_and_a_phi_access(pharmacist, kept):
    report = kept["dispensing"]
    c = client_of(pharmacist)
    events = AuditEvent.objects.exclude(action__startswith="auth.")
    before = events.count()
    response = c.get(reverse("reports_daily_report", args=[report.pk]))
    assert response.status_code == 200
    assert "Ana Lopez" in response.content.decode()
    assert events.count() == before + 1
    event = AuditEvent.objects.latest("seq")
    assert (event.action, json.loads(event.data)["form"]) == ("reports.daily.read", "screen")


def test_the_kept_csv_and_pdf_download(pharmacist, kept, day):
    report = kept["dispensing"]
    c = client_of(pharmacist)
    response = c.get(reverse("reports_daily_csv", args=[report.pk]))
    assert response.status_code == 200
    assert response["Content-Disposition"] == f'attachment; filename="dispensing-{day}.csv"'
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0][:3] == ["Rx", "Fill", "Patient"]
    assert rows[1][2] == "Ana Lopez"
    response = c.get(reverse("reports_daily_pdf", args=[report.pk]))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response.content == bytes(report.pdf)


def test_generate_now_redirects_back_with_what_it_did(pharmacist, site, day):
    response = client_of(pharmacist).post(
        reverse("reports_daily_generate"), {"date": day.isoformat()}
    )
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('reports_daily')}?date={day.isoformat()}"
    assert DailyReport.objects.filter(site=site, business_date=day).count() == 7


def test_sign_as_reviewed_from_the_page(pharmacist, kept, day):
    response = client_of(pharmacist).post(
        reverse("reports_daily_review"), {"date": day.isoformat(), "note": "ok"}
    )
    assert response.status_code == 302
    assert DailyReview.objects.get().note == "ok"


def test_signing_an_ungenerated_day_shows_why(pharmacist, day):
    response = client_of(pharmacist).post(
        reverse("reports_daily_review"), {"date": day.isoformat()}
    )
    assert response.status_code == 422
    assert "Generate the day&#x27;s reports first" in response.content.decode()
    assert DailyReview.objects.count() == 0


def test_another_pharmacys_report_is_a_404(other_site, pharmacist):
    theirs = generate(other_site, other_site.today(), ["dispensing"])[0].report
    c = client_of(pharmacist)
    for name in ("reports_daily_report", "reports_daily_csv", "reports_daily_pdf"):
        assert c.get(reverse(name, args=[theirs.pk])).status_code == 404
    assert c.get(f"{API}/daily/{theirs.pk}").status_code == 404


# --- API --------------------------------------------------------------------------------------


def test_api_lists_the_day(pharmacist, kept, day):
    response = client_of(pharmacist).get(f"{API}/daily", {"date": day.isoformat()})
    assert response.status_code == 200
    body = response.json()
    assert body["business_date"] == day.isoformat()
    assert body["state"] == "generated"
    assert [e["code"] for e in body["reports"]][:2] == ["dispensing", "controlled"]
    first = body["reports"][0]
    assert (first["status"], first["report"]["row_count"], first["report"]["version"]) == (
        "generated",
        1,
        1,
    )
    assert first["report"]["names_patients"] is True


def test_api_report_rows_csv_and_pdf(pharmacist, kept):
    report = kept["dispensing"]
    c = client_of(pharmacist)
    body = c.get(f"{API}/daily/{report.pk}").json()
    assert body["columns"][:3] == ["Rx", "Fill", "Patient"]
    assert body["rows"][0][2] == "Ana Lopez"
    assert body["totals"] == [["Fills", "1"], ["New", "1"], ["Refills", "0"], ["Controlled", "0"]]
    assert [v["version"] for v in body["versions"]] == [1]
    assert c.get(f"{API}/daily/{report.pk}/csv").content.decode() == report.csv_text
    assert c.get(f"{API}/daily/{report.pk}/pdf").content == bytes(report.pdf)


def test_api_generate_and_review(pharmacist, site, day):
    c = client_of(pharmacist)
    response = c.post(
        f"{API}/daily/generate", {"date": day.isoformat()}, content_type="application/json"
    )
    assert response.status_code == 201
    assert [r["outcome"] for r in response.json()["results"]] == ["created"] * 7
    response = c.post(
        f"{API}/daily/review",
        {"date": day.isoformat(), "note": "fine"},
        content_type="application/json",
    )
    assert response.status_code == 201
    assert response.json()["reports"]["dispensing"] == 1
    again = c.post(
        f"{API}/daily/review", {"date": day.isoformat()}, content_type="application/json"
    )
    assert again.status_code == 409


def test_api_refuses_an_unknown_report_code(pharmacist):
    response = client_of(pharmacist).post(
        f"{API}/daily/generate", {"codes": ["payroll"]}, content_type="application/json"
    )
    assert response.status_code == 422
    assert DailyReport.objects.count() == 0
