"""House charge accounts: opening, payments, balances and the monthly statement."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal

import pypdfium2 as pdfium
import pytest
from django.utils import timezone

from rxdesk.core.errors import Conflict, Forbidden, Invalid
from rxdesk.pos.choices import HouseEntryKind, TenderKind
from rxdesk.pos.models import HouseAccount, HouseEntry, Sale, Tender
from rxdesk.pos.services.accounts import (
    house_account_balance,
    house_account_create,
    house_payment,
    house_statement,
    house_statement_pdf,
)
from rxdesk.pos.services.drawers import drawer_close, drawer_open
from rxdesk.pos.services.sales import TenderIn, sale_pay
from tests.conftest import audit_count, last_event
from tests.factories import PatientFactory
from tests.pos.test_sales import rx_sale


def pdf_text(pdf: bytes) -> str:
    document = pdfium.PdfDocument(io.BytesIO(pdf))
    return "\n".join(page.get_textpage().get_text_range() for page in document)


@pytest.fixture
def account(pharmacist):
    return house_account_create(
        actor=pharmacist,
        number="h-100",
        name="Lopez family",
        credit_limit="200.00",
        address_line1="12 Elm St",
        city="Springfield",
        state="il",
        postal_code="62704",
    )


def _charge(technician, pharmacist, account, amount="50.00"):
    sale = rx_sale(technician, pharmacist, copay=amount)
    return sale_pay(
        actor=technician,
        sale=sale,
        tenders=[TenderIn(kind=TenderKind.HOUSE, amount=amount, account=account)],
    )


def test_a_pharmacist_opens_an_account(pharmacist, site):
    patient = PatientFactory(site=site)
    account = house_account_create(
        actor=pharmacist, number="g-7", name="Oak group home", patient=patient
    )

    assert account.number == "G-7"
    assert account.credit_limit == Decimal("500.00")
    assert account.patient == patient
    event = last_event()
    assert event.action == "pos.house_account.created"
    assert event.patient_id == patient.pk


def test_account_numbers_are_unique_per_pharmacy(pharmacist, account):
    with pytest.raises(Conflict) as exc:
        house_account_create(actor=pharmacist, number="H-100", name="Someone else")
    assert exc.value.field == "number"
    assert HouseAccount.objects.count() == 1


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"number": ""}, "number"),
        ({"number": "a b!"}, "number"),
        ({"name": ""}, "name"),
        ({"credit_limit": "-1"}, "credit_limit"),
        ({"state": "Illinois"}, "state"),
        ({"postal_code": "6270"}, "postal_code"),
    ],
)
def test_bad_account_input_names_the_field(pharmacist, values, field):
    before = audit_count()
    with pytest.raises(Invalid) as exc:
        house_account_create(actor=pharmacist, **{"number": "A1", "name": "A", **values})
    assert exc.value.field == field
    assert HouseAccount.objects.count() == 0
    assert audit_count() == before


def test_a_technician_may_not_open_an_account(technician):
    with pytest.raises(Forbidden):
        house_account_create(actor=technician, number="A1", name="A")
    assert HouseAccount.objects.count() == 0


def test_a_cash_payment_lands_in_the_drawer(technician, pharmacist, account):
    drawer = drawer_open(actor=technician, opening_cash="100.00")
    _charge(technician, pharmacist, account, "50.00")

    entry = house_payment(actor=technician, account=account, amount="30.00")

    assert (entry.kind, entry.amount) == (HouseEntryKind.PAYMENT, Decimal("-30.00"))
    assert house_account_balance(account) == Decimal("20.00")
    tender = Tender.objects.get(sale=entry.sale)
    assert (tender.kind, tender.amount, tender.drawer) == ("cash", Decimal("30.00"), drawer)
    assert last_event().action == "pos.house_account.payment"
    closed = drawer_close(actor=technician, drawer=drawer, counted_cash="130.00")
    assert closed.over_short == Decimal("0.00")


def test_a_card_payment_needs_no_drawer_but_a_reference(technician, pharmacist, account):
    drawer_open(actor=technician, opening_cash="0")
    _charge(technician, pharmacist, account, "50.00")
    with pytest.raises(Invalid) as exc:
        house_payment(actor=technician, account=account, amount="10", kind="card")
    assert exc.value.field == "reference"

    entry = house_payment(
        actor=technician, account=account, amount="10", kind="card", reference="1111 OK1234"
    )
    assert entry.note == "Credit/debit card 1111 OK1234"


def test_no_more_than_is_owed(technician, pharmacist, account):
    drawer_open(actor=technician, opening_cash="0")
    _charge(technician, pharmacist, account, "50.00")
    with pytest.raises(Conflict) as exc:
        house_payment(actor=technician, account=account, amount="50.01")
    assert exc.value.field == "amount"
    assert HouseEntry.objects.filter(kind=HouseEntryKind.PAYMENT).count() == 0


def test_cash_payment_needs_an_open_drawer(technician, pharmacist, account):
    drawer = drawer_open(actor=technician, opening_cash="0")
    _charge(technician, pharmacist, account, "50.00")
    drawer_close(actor=technician, drawer=drawer, counted_cash="0")
    sales = Sale.objects.count()
    with pytest.raises(Conflict) as exc:
        house_payment(actor=technician, account=account, amount="5")
    assert exc.value.field == "drawer"
    assert Sale.objects.count() == sales


@pytest.mark.parametrize(
    ("amount", "kind", "field"), [("0", "cash", "amount"), ("5", "house", "kind")]
)
def test_bad_payment_input(technician, account, amount, kind, field):
    with pytest.raises(Invalid) as exc:
        house_payment(actor=technician, account=account, amount=amount, kind=kind)
    assert exc.value.field == field
    assert HouseEntry.objects.count() == 0


def test_an_auditor_may_not_take_a_payment(auditor, account):
    with pytest.raises(Forbidden):
        house_payment(actor=auditor, account=account, amount="5")
    assert HouseEntry.objects.count() == 0


def test_the_statement_of_a_month(technician, pharmacist, account):
    drawer_open(actor=technician, opening_cash="0")
    _charge(technician, pharmacist, account, "40.00")
    # last month's charge is the balance brought forward
    HouseEntry.objects.update(recorded_at=timezone.now() - dt.timedelta(days=40))
    _charge(technician, pharmacist, account, "25.00")
    house_payment(actor=technician, account=account, amount="15.00")
    today = account.site.today()

    statement = house_statement(account, today.year, today.month)
    text = pdf_text(house_statement_pdf(account, today.year, today.month))

    assert statement.opening == Decimal("40.00")
    assert [e.amount for e in statement.entries] == [Decimal("25.00"), Decimal("-15.00")]
    assert statement.closing == Decimal("50.00")
    assert statement.amount_due == Decimal("50.00")
    assert "Lopez family" in text
    assert "AMOUNT DUE" in text and "$50.00" in text
    assert "$40.00" in text


@pytest.mark.parametrize(("year", "month", "field"), [(2025, 13, "month"), (99, 1, "year")])
def test_a_statement_of_an_impossible_month(account, year, month, field):
    with pytest.raises(Invalid) as exc:
        house_statement(account, year, month)
    assert exc.value.field == field


def test_the_account_screens(technician, pharmacist):
    from django.test import Client

    rph = Client()
    rph.force_login(pharmacist)
    created = rph.post(
        "/pos/accounts/", {"number": "A-5", "name": "Elm house", "credit_limit": "300.00"}
    )
    assert created.status_code == 302
    account = HouseAccount.objects.get(number="A-5")
    tech = Client()
    tech.force_login(technician)
    assert tech.post("/pos/accounts/", {"number": "A-6", "name": "x"}).status_code == 403
    assert b"A-5" in tech.get("/pos/accounts/").content
    refused = tech.post(f"/pos/accounts/{account.pk}/", {"amount": "5.00", "kind": "cash"})
    assert refused.status_code == 409  # nothing owed
    statement = tech.get(f"/pos/accounts/{account.pk}/statement.pdf")
    assert statement["Content-Type"] == "application/pdf"
