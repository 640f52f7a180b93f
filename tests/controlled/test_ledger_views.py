"""The controlled-substance ledger pages: /controlled/ (the perpetual inventory, Schedule II
and III–V on separate tabs, search, the unsigned days), a package's record, the daily log
with the pharmacist's Sign form, and the signals — rendered for the roles that may see
them, refused for the others, with bad input shown beside its field."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from rxdesk.controlled.models import DailyLogSignoff
from rxdesk.core.models import AuditEvent
from rxdesk.inventory.choices import AdjustReason, MoveReason
from tests.controlled.factories import alprazolam, cs_stock, oxycodone
from tests.controlled.matrix_ledger import local, move
from tests.inventory.factories import package, stock

pytestmark = pytest.mark.django_db

D = Decimal
NOW = dt.datetime(2026, 3, 12, 18, 0, tzinfo=dt.UTC)  # 13:00 in Chicago
DAY = dt.date(2026, 3, 10)


@pytest.fixture(autouse=True)
def _clock():
    with time_machine.travel(NOW, tick=False):
        yield


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def shelf(site, technician):
    oxy, alp = oxycodone(), alprazolam()
    move(site, oxy, 100, lot="OX1", actor=technician, when=local(site, DAY, 9))
    move(site, oxy, -20, reason=MoveReason.DISPENSE, lot="OX1", actor=technician,
         when=local(site, DAY, 15))  # fmt: skip
    cs_stock(site, alp, 1000, lot="AL1")
    stock(site, package(), lot="PZ1", quantity=30)
    return oxy, alp


def test_the_landing_page_shows_schedule_ii_and_the_unsigned_days(site, technician, shelf):
    response = client_for(technician).get(reverse("cs_perpetual"))

    assert response.status_code == 200
    html = response.content.decode()
    assert "Perpetual inventory · Schedule II" in html
    assert "Oxycodone Hydrochloride 5 mg tablet" in html
    assert reverse("cs_package_ledger", args=["00406055201"]) in html
    assert "Alprazolam" not in html and "Prozac" not in html
    assert 'aria-current="page" data-key="2"' in html
    # The unsigned days box: DAY had two Schedule II moves and nobody signed.
    assert "Tue 03/10/2026 · Schedule II" in html
    assert "not signed" in html


def test_the_other_tab_shows_schedules_iii_to_v(site, technician, shelf):
    html = client_for(technician).get(reverse("cs_perpetual"), {"group": "III-V"}).content
    assert b"Alprazolam 1 mg tablet" in html
    assert b"Oxycodone" not in html


def test_the_landing_page_searches(site, technician, shelf):
    found = client_for(technician).get(reverse("cs_perpetual"), {"q": "OX1"}).content.decode()
    missing = client_for(technician).get(reverse("cs_perpetual"), {"q": "zzz"}).content.decode()
    assert "Oxycodone Hydrochloride 5 mg tablet" in found
    assert "No Schedule II drug matches “zzz”." in missing


def test_an_unknown_tab_is_refused_naming_it(site, technician):
    response = client_for(technician).get(reverse("cs_perpetual"), {"group": "IV"})
    assert response.status_code == 422
    assert b"Choose Schedule II (II) or Schedules III" in response.content


def test_the_landing_page_reads_a_fixed_number_of_queries(site, technician, shelf):
    client = client_for(technician)
    client.get(reverse("cs_perpetual"))
    with CaptureQueriesContext(connection) as few:
        client.get(reverse("cs_perpetual"))
    for n in range(8):
        cs_stock(site, oxycodone(), 10, lot=f"OXM{n}")
    with CaptureQueriesContext(connection) as many:
        response = client.get(reverse("cs_perpetual"))
    assert response.content.decode().count("OXM") == 8
    assert len(many) == len(few)


def test_the_perpetual_csv_downloads(site, technician, shelf):
    response = client_for(technician).get(reverse("cs_perpetual_csv"), {"group": "III-V"})
    assert response.status_code == 200
    assert response["Content-Disposition"] == (
        'attachment; filename="perpetual-CIII-CV-20260312.csv"'
    )
    assert response.content.decode().splitlines()[1].startswith("CIV,Alprazolam 1 mg tablet,")


def test_a_packages_record_page(site, technician, shelf):
    url = reverse("cs_package_ledger", args=["0406-0552-01"])
    response = client_for(technician).get(url)

    assert response.status_code == 200
    html = response.content.decode()
    assert "Oxycodone Hydrochloride 5 mg tablet" in html
    assert "Received from supplier" in html and "Dispensed" in html
    assert "Closing balance: 80 EA" in html
    assert "<strong>80</strong>" in html


def test_a_packages_record_for_a_period_and_as_csv(site, technician, shelf):
    url = reverse("cs_package_ledger", args=["00406055201"])
    client = client_for(technician)

    page = client.get(url, {"start": "03/11/2026"}).content.decode()
    download = client.get(url, {"start": "03/10/2026", "format": "csv"})

    assert "No move in these dates." in page
    assert "Closing balance: 80 EA" in page
    assert download["Content-Type"] == "text/csv; charset=utf-8"
    assert len(download.content.decode().splitlines()) == 4  # header, opening, two moves


def test_a_bad_lot_or_date_is_shown_beside_its_field(site, technician, shelf):
    url = reverse("cs_package_ledger", args=["00406055201"])
    client = client_for(technician)

    bad_lot = client.get(url, {"lot": "NOPE"})
    bad_date = client.get(url, {"start": "13/45/2026"})

    assert bad_lot.status_code == 422
    assert "NDC 0406-0552-01 has no lot NOPE on file." in bad_lot.content.decode()
    assert bad_date.status_code == 422
    assert "Enter the date as MM/DD/YYYY." in bad_date.content.decode()


def test_a_package_that_is_not_controlled_has_no_record_here(site, technician, shelf):
    response = client_for(technician).get(reverse("cs_package_ledger", args=["0002-3227-30"]))
    assert response.status_code == 422
    assert b"is not a controlled substance" in response.content


def test_the_daily_log_page_offers_pharmacists_the_sign_form(site, technician, pharmacist, shelf):
    url = reverse("cs_daily_log")
    as_tech = client_for(technician).get(url, {"day": "03/10/2026", "group": "II"})
    as_rph = client_for(pharmacist).get(url, {"day": "2026-03-10", "group": "II"})

    assert as_tech.status_code == as_rph.status_code == 200
    assert "Daily log · Tuesday 03/10/2026 · Schedule II" in as_tech.content.decode()
    assert "Sign the log of 03/10/2026" not in as_tech.content.decode()
    html = as_rph.content.decode()
    assert "Sign the log of 03/10/2026" in html
    assert "Not signed." in html
    assert html.count("<td>tech</td>") == 2


def test_a_pharmacist_signs_from_the_page(site, pharmacist, shelf):
    client = client_for(pharmacist)
    response = client.post(
        reverse("cs_daily_log"), {"day": "03/10/2026", "group": "II", "note": "OK"}
    )

    assert response.status_code == 302
    assert response["Location"] == f"{reverse('cs_daily_log')}?day=2026-03-10&group=II"
    signoff = DailyLogSignoff.objects.get()
    assert (signoff.day, signoff.group, signoff.moves, signoff.note) == (DAY, "II", 2, "OK")
    page = client.get(response["Location"]).content.decode()
    assert "Schedule II log of 03/10/2026 signed: 2 moves." in page
    assert f"Signed by {pharmacist.display_name} at 03/12/2026 13:00." in page


def test_signing_a_day_to_come_is_refused_on_the_page(site, pharmacist):
    client = client_for(pharmacist)  # signing in writes its own event first
    before = (DailyLogSignoff.objects.count(), AuditEvent.objects.count())
    response = client.post(reverse("cs_daily_log"), {"day": "03/13/2026", "group": "II"})
    assert response.status_code == 422
    assert "has not come yet" in response.content.decode()
    assert (DailyLogSignoff.objects.count(), AuditEvent.objects.count()) == before


def test_a_technician_cannot_sign_from_the_page(site, technician, shelf):
    response = client_for(technician).post(
        reverse("cs_daily_log"), {"day": "03/10/2026", "group": "II"}
    )
    assert response.status_code == 403
    assert DailyLogSignoff.objects.count() == 0


def test_the_signals_page(site, pic, pharmacist, technician):
    oxy = oxycodone()
    move(site, oxy, 100, lot="OX1", when=local(site, DAY, 8))
    for hour in (10, 11):
        move(site, oxy, -2, reason=MoveReason.ADJUST, lot="OX1", actor=pharmacist,
             adjust_reason=AdjustReason.THEFT_LOSS, when=local(site, DAY, hour))  # fmt: skip

    response = client_for(pic).get(reverse("cs_signals"))

    assert response.status_code == 200
    html = response.content.decode()
    assert "1 drug · 0 people flagged" in html
    assert "2 adjustments for theft or loss (-4 EA)" in html
    assert client_for(technician).get(reverse("cs_signals")).status_code == 403
    assert client_for(pic).get(reverse("cs_signals"), {"days": "2"}).status_code == 422
