"""Cash drawers (open, count, close) and the counter's settings."""

from __future__ import annotations

from decimal import Decimal

import pytest

from rxdesk.core.errors import Conflict, Forbidden, Invalid, NotFound
from rxdesk.pos.choices import DrawerStatus, TenderKind
from rxdesk.pos.models import Drawer, PosSettings, Tender
from rxdesk.pos.services.common import settings_of
from rxdesk.pos.services.drawers import (
    drawer_close,
    drawer_expected,
    drawer_for,
    drawer_open,
    pos_settings_save,
)
from rxdesk.pos.services.sales import TenderIn, sale_add_item, sale_pay, sale_start
from tests.conftest import audit_count, last_event
from tests.pos.factories import otc_package


def _cash_sale(actor, drawer, retail="10.00", tendered="20.00"):
    package = otc_package(retail=retail)
    sale = sale_start(actor=actor, drawer=drawer)
    sale_add_item(actor=actor, sale=sale, code=package.ndc10)
    return sale_pay(
        actor=actor,
        sale=sale,
        tenders=[TenderIn(kind=TenderKind.CASH, amount=retail, tendered=tendered)],
    )


# --- Opening ----------------------------------------------------------------------------------


def test_it_opens_a_drawer_with_its_count(technician):
    drawer = drawer_open(actor=technician, opening_cash="150.00")

    assert drawer.status == DrawerStatus.OPEN
    assert drawer.opening_cash == Decimal("150.00")
    assert drawer.register == "Register 1"
    assert drawer_for(actor=technician) == drawer
    event = last_event()
    assert event.action == "pos.drawer.opened"
    assert '"opening_cash":"150.00"' in event.data


def test_it_refuses_a_second_open_drawer_on_a_register(technician, pharmacist):
    drawer_open(actor=technician, opening_cash="100")

    with pytest.raises(Conflict) as exc:
        drawer_open(actor=pharmacist, opening_cash="50")

    assert exc.value.field == "register"
    assert Drawer.objects.count() == 1
    # another register is another drawer
    assert drawer_open(actor=pharmacist, opening_cash="50", register="Register 2").pk


@pytest.mark.parametrize("amount", ["-5", "12.345", "abc", "100000"])
def test_it_refuses_a_bad_opening_count(technician, amount):
    before = audit_count()
    with pytest.raises(Invalid) as exc:
        drawer_open(actor=technician, opening_cash=amount)
    assert exc.value.field == "opening_cash"
    assert Drawer.objects.count() == 0
    assert audit_count() == before


def test_a_trainee_may_not_open_a_drawer(trainee):
    with pytest.raises(Forbidden):
        drawer_open(actor=trainee, opening_cash="100")
    assert Drawer.objects.count() == 0


def test_drawer_for_is_none_when_no_drawer_is_open(technician):
    assert drawer_for(actor=technician) is None


# --- Closing ----------------------------------------------------------------------------------


def test_it_closes_a_drawer_that_balances(technician):
    drawer = drawer_open(actor=technician, opening_cash="100.00")
    _cash_sale(technician, drawer, retail="10.00", tendered="20.00")

    closed = drawer_close(actor=technician, drawer=drawer, counted_cash="110.00")

    assert closed.status == DrawerStatus.CLOSED
    assert closed.expected_cash == Decimal("110.00")
    assert closed.counted_cash == Decimal("110.00")
    assert closed.over_short == Decimal("0.00")
    assert closed.closed_by == technician
    assert last_event().action == "pos.drawer.closed"


def test_expected_cash_counts_checks_apart_and_takes_off_refunds(technician, pharmacist):
    drawer = drawer_open(actor=technician, opening_cash="50.00")
    sale = _cash_sale(technician, drawer, retail="8.00", tendered="10.00")
    package = otc_package(retail="5.00")
    other = sale_start(actor=technician, drawer=drawer)
    sale_add_item(actor=technician, sale=other, code=package.ndc10)
    sale_pay(
        actor=technician,
        sale=other,
        tenders=[TenderIn(kind=TenderKind.CHECK, amount="5.00", reference="1042")],
    )
    from rxdesk.pos.services.sales import sale_refund

    line = sale.lines.get()
    sale_refund(actor=pharmacist, sale=sale, lines=[(line.pk, 1)], reason="Wrong item")

    assert drawer_expected(drawer) == (Decimal("50.00"), Decimal("5.00"))


def test_it_refuses_to_close_while_a_sale_is_open(technician):
    drawer = drawer_open(actor=technician, opening_cash="100")
    sale_start(actor=technician, drawer=drawer)

    with pytest.raises(Conflict) as exc:
        drawer_close(actor=technician, drawer=drawer, counted_cash="100")

    assert exc.value.field == "drawer"
    drawer.refresh_from_db()
    assert drawer.status == DrawerStatus.OPEN


def test_it_refuses_to_close_a_closed_drawer(technician):
    drawer = drawer_open(actor=technician, opening_cash="100")
    drawer_close(actor=technician, drawer=drawer, counted_cash="100")
    with pytest.raises(Conflict):
        drawer_close(actor=technician, drawer=drawer, counted_cash="100")


def test_within_tolerance_a_technician_closes_short(technician):
    drawer = drawer_open(actor=technician, opening_cash="100.00")

    closed = drawer_close(actor=technician, drawer=drawer, counted_cash="95.00")

    assert closed.over_short == Decimal("-5.00")  # the default tolerance is $5.00


def test_beyond_tolerance_a_note_is_needed(pharmacist):
    drawer = drawer_open(actor=pharmacist, opening_cash="100.00")

    with pytest.raises(Invalid) as exc:
        drawer_close(actor=pharmacist, drawer=drawer, counted_cash="94.99")

    assert exc.value.field == "note"
    assert "short by $5.01" in exc.value.message
    drawer.refresh_from_db()
    assert drawer.status == DrawerStatus.OPEN


def test_beyond_tolerance_a_technician_may_not_close_it(technician, pharmacist):
    drawer = drawer_open(actor=technician, opening_cash="100.00")

    with pytest.raises(Conflict) as exc:
        drawer_close(actor=technician, drawer=drawer, counted_cash="120.00", note="Found $20")
    assert "pharmacist" in exc.value.message

    closed = drawer_close(
        actor=pharmacist, drawer=drawer, counted_cash="120.00", note="Found $20 under the tray"
    )
    assert closed.over_short == Decimal("20.00")
    assert closed.close_note == "Found $20 under the tray"


def test_a_trainee_may_not_close_a_drawer(technician, trainee):
    drawer = drawer_open(actor=technician, opening_cash="100")
    with pytest.raises(Forbidden):
        drawer_close(actor=trainee, drawer=drawer, counted_cash="100")
    drawer.refresh_from_db()
    assert drawer.status == DrawerStatus.OPEN


def test_another_pharmacys_drawer_does_not_exist(technician, outsider):
    drawer = drawer_open(actor=technician, opening_cash="100")
    with pytest.raises(NotFound):
        drawer_close(actor=outsider, drawer=drawer, counted_cash="100")


def test_a_bad_count_changes_nothing(technician):
    drawer = drawer_open(actor=technician, opening_cash="100")
    before = audit_count()
    with pytest.raises(Invalid) as exc:
        drawer_close(actor=technician, drawer=drawer, counted_cash="1O0")
    assert exc.value.field == "counted_cash"
    assert audit_count() == before
    assert Tender.objects.count() == 0


# --- Settings ---------------------------------------------------------------------------------


def test_the_pic_saves_stricter_settings(pic):
    row = pos_settings_save(
        actor=pic,
        cs_id_schedules="CII, 3,4",
        pse_daily_mg="3600",
        pse_30day_mg="7500",
        tax_percent="6.25",
        drawer_tolerance="2.00",
    )

    assert row.cs_id_schedules == "2,3,4"
    assert row.pse_30day_mg == Decimal("7500")
    assert settings_of(pic.site).tax_percent == Decimal("6.25")
    event = last_event()
    assert event.action == "pos.settings.saved"
    assert '"pse_30day_mg":["9000.0","7500"]' in event.data


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("pse_daily_mg", "3600.1"),
        ("pse_30day_mg", "9001"),
        ("pse_30day_mail_mg", "7600"),
        ("cs_id_schedules", "1,2"),
        ("cs_id_types", "library_card"),
        ("cs_id_types", ""),
        ("tax_percent", "31"),
        ("drawer_tolerance", "-1"),
        ("pse_minimum_age", "26"),
        ("colour", "blue"),
    ],
)
def test_a_state_can_only_be_stricter(pic, name, value):
    before = audit_count()
    with pytest.raises(Invalid) as exc:
        pos_settings_save(actor=pic, **{name: value})
    assert exc.value.field == name
    assert PosSettings.objects.count() == 0
    assert audit_count() == before


def test_a_technician_may_not_change_the_settings(technician):
    with pytest.raises(Forbidden):
        pos_settings_save(actor=technician, tax_percent="5")
    assert PosSettings.objects.count() == 0
