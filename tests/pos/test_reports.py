"""End of day: the daily sales report and the controlled-substance pickups."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import pytest
from django.core.management import call_command

from rxdesk.core.errors import Forbidden
from rxdesk.core.models import AuditEvent
from rxdesk.pos.choices import TenderKind
from rxdesk.pos.queries import cs_pickups, cs_pickups_csv, daily_sales, daily_sales_csv
from rxdesk.pos.services.accounts import house_account_create, house_payment
from rxdesk.pos.services.drawers import drawer_close, drawer_open
from rxdesk.pos.services.sales import (
    TenderIn,
    sale_add_item,
    sale_pay,
    sale_refund,
    sale_start,
    sale_void,
)
from tests.conftest import last_event
from tests.pos.factories import otc_package
from tests.pos.test_sales import cash, rx_sale


@pytest.fixture
def day_of_sales(technician, pharmacist):
    drawer = drawer_open(actor=technician, opening_cash="100.00")
    account = house_account_create(actor=pharmacist, number="H1", name="Lopez")
    # 1: a prescription paid in cash
    one = rx_sale(technician, pharmacist, copay="10.00")
    sale_pay(actor=technician, sale=one, tenders=[cash("10.00", "20.00")])
    # 2: two OTC items on the house account, one refunded
    two = sale_start(actor=technician)
    line = sale_add_item(
        actor=technician, sale=two, code=otc_package(retail="4.00").ndc10, quantity=2
    )
    sale_pay(
        actor=technician,
        sale=two,
        tenders=[TenderIn(kind=TenderKind.HOUSE, amount="8.00", account=account)],
    )
    sale_refund(
        actor=pharmacist, sale=two, lines=[(line.pk, 1)], reason="Damaged", tender_kind="house"
    )
    # 3: a controlled substance, by card, picked up by a caregiver with ID
    three = rx_sale(technician, pharmacist, copay="5.00", schedule="CIV", id_number="D12345678")
    sale_pay(
        actor=technician,
        sale=three,
        tenders=[TenderIn(kind=TenderKind.CARD, amount="5.00", reference="4242 OK")],
    )
    # 4: voided
    four = rx_sale(technician, pharmacist, copay="7.00")
    sale_pay(actor=technician, sale=four, tenders=[cash("7.00")])
    sale_void(actor=pharmacist, sale=four, reason="Wrong bag")
    # a payment on the account (not a sale)
    house_payment(actor=technician, account=account, amount="3.00")
    drawer_close(actor=technician, drawer=drawer, counted_cash="113.00")
    return {"drawer": drawer, "cs": three}


def test_the_daily_report(pharmacist, day_of_sales):
    report = daily_sales(actor=pharmacist, day=pharmacist.site.today())

    assert report.sales == 4
    assert report.gross == Decimal("30.00")
    assert report.tax == Decimal("0.00")
    assert report.by_tender[TenderKind.CASH] == Decimal("10.00")  # 10 + 7 − 7 (the void)
    assert report.by_tender[TenderKind.HOUSE] == Decimal("4.00")  # 8 − 4 credited back
    assert report.by_tender[TenderKind.CARD] == Decimal("5.00")
    assert (report.refunds, report.refunded) == (1, Decimal("4.00"))
    assert (report.voids, report.voided) == (1, Decimal("7.00"))
    assert report.net == Decimal("19.00")
    assert report.rx_picked_up == 2
    assert report.otc_items == 2
    assert report.house_charges == Decimal("8.00")  # the credit is a refund, not a payment
    assert report.house_payments == Decimal("3.00")
    [drawer] = report.drawers
    assert drawer.expected_cash == Decimal("113.00")
    assert drawer.over_short == Decimal("0.00")

    rows = list(csv.reader(io.StringIO(daily_sales_csv(report))))
    assert ["gross", "30.00"] in rows
    assert ["tender_cash", "10.00"] in rows


def test_a_day_without_sales_is_empty(pharmacist):
    report = daily_sales(actor=pharmacist, day=pharmacist.site.today())
    assert (report.sales, report.gross, report.drawers) == (0, Decimal("0.00"), [])


def test_controlled_substance_pickups_show_the_id_last_four(pharmacist, day_of_sales):
    rows = cs_pickups(actor=pharmacist, day=pharmacist.site.today())

    [row] = rows
    fill = day_of_sales["cs"].lines.get().fill
    assert (row.rx_number, row.fill_number, row.schedule) == (
        fill.prescription.number,
        fill.number,
        "CIV",
    )
    assert row.picked_up_by == "Maria Lopez"
    assert row.relationship == "Daughter"
    assert row.id_type == "Driver's license"
    assert row.id_last4 == "5678"
    event = last_event()
    assert event.action == "pos.report.cs_pickups"
    text = cs_pickups_csv(pharmacist.site, rows)
    assert "D12345678" not in text and "5678" in text


def test_a_technician_may_not_see_the_reports(technician):
    before = AuditEvent.objects.count()
    with pytest.raises(Forbidden):
        daily_sales(actor=technician, day=technician.site.today())
    with pytest.raises(Forbidden):
        cs_pickups(actor=technician, day=technician.site.today())
    assert AuditEvent.objects.count() == before


def test_the_auditor_sees_them(auditor):
    assert daily_sales(actor=auditor, day=auditor.site.today()).sales == 0
    assert cs_pickups(actor=auditor, day=auditor.site.today()) == []


def test_the_day_report_command(site, pharmacist, day_of_sales, capsys):
    out = io.StringIO()
    call_command("pos", "day-report", "--site", str(site.pk), stdout=out)
    text = out.getvalue()
    assert "Sales: 4" in text
    assert "$30.00" in text


def test_the_report_screen_shows_the_cs_pickups(pharmacist, day_of_sales):
    from django.test import Client

    client = Client()
    client.force_login(pharmacist)
    page = client.get("/pos/reports/daily/")
    assert page.status_code == 200
    assert b"Maria Lopez" in page.content and b"5678" in page.content
    assert b"D12345678" not in page.content
    csv_page = client.get("/pos/reports/cs-pickups.csv")
    assert csv_page["Content-Type"].startswith("text/csv")


def test_the_settings_screen(pic):
    from django.test import Client

    from rxdesk.pos.services.common import settings_of

    client = Client()
    client.force_login(pic)
    assert client.get("/pos/settings/").status_code == 200
    form = {
        "cs_id_schedules": "2,3",
        "cs_id_types": ["drivers_license", "passport"],
        "cs_id_record_number": "on",
        "pse_daily_mg": "3600",
        "pse_30day_mg": "9000",
        "pse_30day_mail_mg": "7500",
        "pse_minimum_age": "18",
        "tax_percent": "6.5",
        "drawer_tolerance": "3.00",
    }
    assert client.post("/pos/settings/", form).status_code == 302
    row = settings_of(pic.site)
    assert (row.cs_id_schedules, row.cs_id_types, row.pse_minimum_age) == (
        "2,3",
        "drivers_license,passport",
        18,
    )
    too_much = client.post("/pos/settings/", {**form, "pse_daily_mg": "4000"})
    assert too_much.status_code == 422
