"""Dispensed versus administered by cabinet user (controlled drugs): the arithmetic
(removed − returned − wasted − administered), flags, the order, totals, controlled only,
the message when no administration data was imported, the CSV, who may read it."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse

from rxdesk.core.errors import Forbidden
from rxdesk.institutional import queries_discrepancies as queries
from rxdesk.institutional.choices import CabinetEvent
from tests.institutional.factories import pocket_stock
from tests.institutional.matrix_discrepancies import administered, cabinet_event, new_pocket

pytestmark = pytest.mark.django_db

API = "/api/v1/institutional/cabinet-reports/dispensed-vs-administered"


def _activity(site):
    """NURSE01 removes 10 oxycodone, returns 1, wastes 1, gives 7 (1 unaccounted); NURSE02
    removes 4 and gives 4; NURSE01 also removes 3 fluoxetine (not controlled), gives 1."""
    oxy = pocket_stock(new_pocket(site, controlled=True), quantity=30)
    flx = pocket_stock(new_pocket(site), quantity=30)
    cabinet_event(oxy, CabinetEvent.REMOVAL, 10, cabinet_user="NURSE01")
    cabinet_event(oxy, CabinetEvent.RETURN, 1, cabinet_user="NURSE01")
    cabinet_event(oxy, CabinetEvent.WASTE, 1, cabinet_user="NURSE01")
    administered(site, oxy.package, 5, nurse="NURSE01")
    administered(site, oxy.package, 2, nurse="NURSE01")
    cabinet_event(oxy, CabinetEvent.REMOVAL, 4, cabinet_user="NURSE02")
    administered(site, oxy.package, 4, nurse="NURSE02")
    cabinet_event(flx, CabinetEvent.REMOVAL, 3, cabinet_user="NURSE01")
    administered(site, flx.package, 1, nurse="NURSE01")
    return oxy, flx


def test_the_arithmetic_flags_what_is_unaccounted(site, pharmacist):
    oxy, _ = _activity(site)
    today = site.today()

    usage = queries.dispensed_vs_administered(actor=pharmacist, site=site, start=today, end=today)

    assert usage.has_data and usage.message == ""
    assert [(r.user, r.package.pk) for r in usage.rows] == [
        ("NURSE01", oxy.package.pk),
        ("NURSE02", oxy.package.pk),
    ]
    first, second = usage.rows
    assert (first.removed, first.returned, first.wasted, first.administered) == (
        Decimal(10),
        Decimal(1),
        Decimal(1),
        Decimal(7),
    )
    assert first.unaccounted == Decimal(1) and first.flagged
    assert second.unaccounted == 0 and not second.flagged
    assert usage.flagged == 1
    assert usage.totals == {
        "removed": Decimal(14),
        "returned": Decimal(1),
        "wasted": Decimal(1),
        "administered": Decimal(11),
        "unaccounted": Decimal(1),
    }


def test_non_controlled_drugs_are_left_out_unless_asked(site, pharmacist):
    _, flx = _activity(site)
    today = site.today()

    everything = queries.dispensed_vs_administered(
        actor=pharmacist, site=site, start=today, end=today, controlled_only=False
    )

    assert len(everything.rows) == 3
    row = next(r for r in everything.rows if r.package.pk == flx.package.pk)
    assert row.unaccounted == Decimal(2) and not row.controlled
    # Sorted by unaccounted, the largest first.
    assert [r.unaccounted for r in everything.rows] == [Decimal(2), Decimal(1), Decimal(0)]


def test_without_administration_data_it_says_so(site, pharmacist):
    oxy = pocket_stock(new_pocket(site, controlled=True), quantity=10)
    cabinet_event(oxy, CabinetEvent.REMOVAL, 2)
    earlier = dt.datetime.now(dt.UTC) - dt.timedelta(days=20)
    administered(site, oxy.package, 2, given_at=earlier)  # outside the window
    today = site.today()

    usage = queries.dispensed_vs_administered(actor=pharmacist, site=site, start=today, end=today)

    assert not usage.has_data and usage.rows == []
    assert usage.message == "No administration data imported for these dates."


def test_administration_without_removal_shows_as_negative(site, pharmacist):
    oxy = pocket_stock(new_pocket(site, controlled=True), quantity=10)
    administered(site, oxy.package, 2, nurse="NURSE09")
    today = site.today()
    usage = queries.dispensed_vs_administered(actor=pharmacist, site=site, start=today, end=today)
    assert [(r.user, r.unaccounted, r.flagged) for r in usage.rows] == [
        ("NURSE09", Decimal(-2), True)
    ]


@pytest.mark.parametrize("who", ["inventory", "technician", "trainee"])
def test_roles_without_adc_report_may_not_see_it(site, who, request):
    actor = request.getfixturevalue(who)
    today = site.today()
    with pytest.raises(Forbidden):
        queries.dispensed_vs_administered(actor=actor, site=site, start=today, end=today)


def test_the_auditor_may_see_it(site, auditor):
    _activity(site)
    today = site.today()
    usage = queries.dispensed_vs_administered(actor=auditor, site=site, start=today, end=today)
    assert usage.flagged == 1


def test_the_csv_has_the_rows_and_totals(site, pharmacist):
    _activity(site)
    today = site.today()
    usage = queries.dispensed_vs_administered(actor=pharmacist, site=site, start=today, end=today)

    rows = list(csv.reader(io.StringIO(queries.usage_csv(site, usage))))

    assert rows[0] == [
        "Cabinet user",
        "Drug",
        "NDC",
        "Unit",
        "Controlled",
        "Removed",
        "Returned",
        "Wasted",
        "Administered",
        "Unaccounted",
        "Flagged",
    ]
    assert rows[1][0] == "NURSE01" and rows[1][5:] == ["10", "1", "1", "7", "1", "yes"]
    assert rows[-1][0] == "Total" and rows[-1][5:] == ["14", "1", "1", "11", "1", "1"]


# --- API and page ----------------------------------------------------------------------------


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_the_api_answers_json_and_csv(site, pharmacist):
    _activity(site)
    client = _client(pharmacist)

    body = client.get(API).json()
    assert body["has_data"] is True and body["flagged"] == 1
    assert body["rows"][0]["user"] == "NURSE01"
    assert Decimal(str(body["rows"][0]["unaccounted"])) == 1
    assert [Decimal(str(v)) for v in body["totals"].values()] == [14, 1, 1, 11, 1]

    answer = client.get(API, {"format": "csv", "controlled_only": "false"})
    assert answer["Content-Type"].startswith("text/csv")
    assert answer.content.decode().count("\r\n") == 5  # header, 3 rows, totals


def test_the_api_refuses_bad_windows(site, pharmacist):
    client = _client(pharmacist)
    backwards = client.get(API, {"start": "2025-03-10", "end": "2025-03-01"})
    too_long = client.get(API, {"start": "2023-01-01", "end": "2025-01-01"})
    far = client.get(API, {"start": "9999-12-31", "end": "9999-12-31"})
    assert backwards.status_code == 422 and backwards.json()["errors"][0]["field"] == "end"
    assert too_long.status_code == 422
    assert far.status_code == 422


def test_the_api_says_when_no_administrations_were_imported(site, pharmacist):
    body = _client(pharmacist).get(API).json()
    assert body["has_data"] is False
    assert body["message"] == "No administration data imported for these dates."


def test_the_inventory_specialist_gets_403(site, inventory):
    client = _client(inventory)
    assert client.get(API).status_code == 403
    assert client.get(reverse("adc_usage")).status_code == 403


def test_the_page_shows_the_flagged_row_and_the_no_data_message(site, pharmacist):
    client = _client(pharmacist)
    empty = client.get(reverse("adc_usage")).content.decode()
    assert "No administration data imported for these dates." in empty

    _activity(site)
    html = client.get(reverse("adc_usage")).content.decode()
    assert "NURSE01" in html and "1 — flagged" in html
    assert "(1 flagged)" in html
    csv_answer = client.get(reverse("adc_usage"), {"format": "csv"})
    assert csv_answer["Content-Type"].startswith("text/csv")
