"""The PMP screens: the files kept with the forms that make them, one file with its records,
its download, and marking it; refused roles see 403 and write nothing."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from rxdesk.controlled import services_pmp
from rxdesk.controlled.models import PmpRecord, PmpSubmission
from rxdesk.core.models import AuditEvent, User
from tests.controlled.matrix_pmp import pharmacist_of, pmp_ready, ready_fill

pytestmark = pytest.mark.django_db


def signed_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def rph(site) -> User:
    return pharmacist_of(pmp_ready(site))


def _kept() -> tuple[int, int, int]:
    events = AuditEvent.objects.exclude(action__startswith="auth.").count()
    return PmpSubmission.objects.count(), PmpRecord.objects.count(), events


def _us(day: dt.date) -> str:
    return day.strftime("%m/%d/%Y")


def test_the_page_offers_yesterdays_file_and_lists_the_files(rph, site):
    client = signed_in(rph)
    response = client.get(reverse("cs_pmp"))
    html = response.content.decode()
    assert response.status_code == 200
    assert f'value="{_us(site.today() - dt.timedelta(days=1))}"' in html
    assert "No PMP file made yet." in html and "autofocus" in html


def _queries_of(client: Client, url: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries)


def test_the_list_reads_a_fixed_number_of_queries(rph, site):
    client = signed_in(rph)
    url = reverse("cs_pmp")
    services_pmp.pmp_daily(actor=rph, day=site.today())
    one = _queries_of(client, url)
    services_pmp.pmp_range(actor=rph, start=site.today() - dt.timedelta(days=4), end=site.today())
    services_pmp.pmp_daily(actor=rph, day=site.today(), again=True)
    assert PmpSubmission.objects.count() == 6
    assert _queries_of(client, url) == one


def test_making_a_days_file_shows_it_with_its_records(rph, site):
    fill = ready_fill(site, schedule="CIV")
    client = signed_in(rph)
    response = client.post(
        reverse("cs_pmp"), {"form": "daily", "daily-day": _us(site.today())}, follow=True
    )
    made = PmpSubmission.objects.get()
    assert response.redirect_chain[-1][0] == reverse("cs_pmp_detail", kwargs={"pk": made.pk})
    html = response.content.decode()
    assert f"{_us(site.today())}: 1 dispensing — {made.file_name}" in html
    assert f"Rx {fill.prescription.number}-0" in html and made.sha256 in html
    listing = client.get(reverse("cs_pmp")).content.decode()
    assert made.file_name in listing


def test_the_same_day_again_is_shown_beside_the_field(rph, site):
    client = signed_in(rph)
    day = {"form": "daily", "daily-day": _us(site.today())}
    client.post(reverse("cs_pmp"), day)
    before = _kept()
    response = client.post(reverse("cs_pmp"), day)
    assert response.status_code == 409
    assert "is already reported" in response.content.decode()
    assert _kept() == before
    again = client.post(reverse("cs_pmp"), {**day, "daily-again": "on"})
    assert again.status_code == 302 and PmpSubmission.objects.count() == 2


def test_a_missing_dea_number_is_shown_and_nothing_is_kept(rph, site):
    site.dea_number = ""
    site.save(update_fields=["dea_number"])
    before = _kept()
    response = signed_in(rph).post(
        reverse("cs_pmp"), {"form": "daily", "daily-day": _us(site.today())}
    )
    assert response.status_code == 422
    assert "DEA registration is not on file" in response.content.decode()
    assert _kept() == before


def test_a_date_that_does_not_parse_is_422(rph):
    before = _kept()
    response = signed_in(rph).post(reverse("cs_pmp"), {"form": "daily", "daily-day": "31/31/2026"})
    assert response.status_code == 422 and "Enter the date as MM/DD/YYYY." in (
        response.content.decode()
    )
    assert _kept() == before


def test_catching_up_says_what_was_made_then_that_nothing_was(rph, site):
    client = signed_in(rph)
    today = site.today()
    period = {
        "form": "range",
        "range-start": _us(today - dt.timedelta(days=1)),
        "range-end": _us(today),
    }
    first = client.post(reverse("cs_pmp"), period, follow=True).content.decode()
    assert "zero report (no controlled dispensing)" in first
    assert PmpSubmission.objects.count() == 2
    second = client.post(reverse("cs_pmp"), period, follow=True).content.decode()
    assert "Nothing to make" in second and PmpSubmission.objects.count() == 2
    backwards = client.post(
        reverse("cs_pmp"),
        {
            **period,
            "range-start": period["range-end"],
            "range-end": _us(today - dt.timedelta(days=3)),
        },
    )
    assert backwards.status_code == 422


def test_the_file_downloads_as_kept_and_is_marked(rph, site):
    client = signed_in(rph)
    client.post(reverse("cs_pmp"), {"form": "daily", "daily-day": _us(site.today())})
    made = PmpSubmission.objects.get()
    download = client.get(reverse("cs_pmp_file", kwargs={"pk": made.pk}))
    assert download.status_code == 200 and download.content == made.content.encode("ascii")
    assert download["Content-Type"].startswith("text/plain")
    status_url = reverse("cs_pmp_status", kwargs={"pk": made.pk})
    rejected = client.post(status_url, {"status": "rejected", "note": ""})
    assert rejected.status_code == 422 and "Say why the PMP rejected" in rejected.content.decode()
    sent = client.post(status_url, {"status": "sent"})
    assert sent.status_code == 302
    made.refresh_from_db()
    assert made.status == "sent"


def test_another_pharmacys_file_is_not_found(rph, other_site):
    stranger = pharmacist_of(pmp_ready(other_site))
    signed_in(stranger).post(
        reverse("cs_pmp"), {"form": "daily", "daily-day": _us(other_site.today())}
    )
    theirs = PmpSubmission.objects.get()
    client = signed_in(rph)
    for name in ("cs_pmp_detail", "cs_pmp_file"):
        assert client.get(reverse(name, kwargs={"pk": theirs.pk})).status_code == 404
    before = _kept()
    response = client.post(reverse("cs_pmp_status", kwargs={"pk": theirs.pk}), {"status": "sent"})
    assert response.status_code == 404 and _kept() == before


def test_a_technician_is_refused(technician, site):
    before = _kept()
    client = signed_in(technician)
    assert client.get(reverse("cs_pmp")).status_code == 403
    response = client.post(reverse("cs_pmp"), {"form": "daily", "daily-day": _us(site.today())})
    assert response.status_code == 403 and _kept() == before
