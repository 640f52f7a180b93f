"""Sales: OTC items, payment with split tenders, cancel, void and refund."""

from __future__ import annotations

import hashlib
from decimal import Decimal
from typing import Any

import pytest
from django.db import transaction

from rxdesk.core.errors import Conflict, Forbidden, Invalid, NotFound
from rxdesk.core.models import User
from rxdesk.pos.choices import (
    Counseling,
    HouseEntryKind,
    LineKind,
    PickupPerson,
    SaleStatus,
    SecondIdentifier,
    TenderKind,
)
from rxdesk.pos.models import HouseEntry, Pickup, PseEntry, Refund, Sale, SaleLine, Tender
from rxdesk.pos.services.accounts import house_account_balance, house_account_create
from rxdesk.pos.services.common import add_line, lock_sale
from rxdesk.pos.services.drawers import drawer_close, drawer_open, pos_settings_save
from rxdesk.pos.services.sales import (
    TenderIn,
    sale_add_item,
    sale_cancel,
    sale_pay,
    sale_refund,
    sale_remove_line,
    sale_start,
    sale_void,
)
from rxdesk.rx.choices import FillStatus
from rxdesk.rx.models import Fill
from tests.catalog.factories import PackageFactory, ProductFactory
from tests.conftest import audit_count, last_event
from tests.pos.factories import cmea_package, otc_package, ready_fill, signature

# --- Helpers (imported by the other point-of-sale tests) --------------------------------------


def rx_sale(
    technician: User,
    pharmacist: User,
    *,
    copay: str = "10.00",
    picked_up: bool = True,
    drawer: Any = None,
    id_number: str = "",
    **over: Any,
) -> Sale:
    """A sale with one ready prescription on it at ``copay`` and (by default) its pickup
    recorded, as the pickup screen leaves it."""
    fill = ready_fill(technician, pharmacist, **over)
    with transaction.atomic():
        sale = Sale.objects.create(
            site=technician.site,
            patient=fill.prescription.patient,
            started_by=technician,
            drawer=drawer,
        )
        sale = lock_sale(technician, sale)
        add_line(
            sale,
            kind=LineKind.RX,
            description=f"Rx {fill.prescription.number}-{fill.number} "
            f"{fill.prescription.drug_description}",
            quantity=fill.quantity,
            unit_price=Decimal(copay),
            fill=fill,
        )
        if picked_up:
            png = signature()
            Pickup.objects.create(
                site=sale.site,
                patient=fill.prescription.patient,
                sale=sale,
                person=PickupPerson.CAREGIVER,
                person_name="Maria Lopez",
                relationship="Daughter",
                dob_confirmed=True,
                second_identifier=SecondIdentifier.ADDRESS,
                counseling=Counseling.DECLINED,
                id_type="drivers_license" if id_number else "",
                id_number=id_number,
                id_state="IL" if id_number else "",
                signature=png,
                signature_sha256=hashlib.sha256(png).hexdigest(),
                recorded_by=technician,
            )
    return sale


def cash(amount: str, tendered: str | None = None) -> TenderIn:
    return TenderIn(kind=TenderKind.CASH, amount=amount, tendered=tendered)


def card(amount: str, reference: str = "4242 A1B2C3", kind: str = TenderKind.CARD) -> TenderIn:
    return TenderIn(kind=kind, amount=amount, reference=reference)


def pse_line(sale: Sale, technician: User) -> SaleLine:
    """A PSE line and its logbook entry, as the PSE helper writes them."""
    package = cmea_package()
    with transaction.atomic():
        locked = lock_sale(technician, sale)
        line = add_line(
            locked,
            kind=LineKind.PSE,
            description="Sudafed 30",
            quantity=Decimal(1),
            unit_price=Decimal("7.49"),
            package=package,
            taxable=True,
            fsa_eligible=True,
            pse_base_mg=Decimal("576"),
        )
        png = signature()
        PseEntry.objects.create(
            site=sale.site,
            sale=sale,
            line=line,
            sold_by=technician,
            first_name="Sam",
            last_name="Hill",
            name_key="hill sam",
            date_of_birth="1980-01-01",
            address_line1="1 Main St",
            city="Springfield",
            state="IL",
            postal_code="62704",
            id_type="drivers_license",
            id_number="D1234567",
            id_expiry="2030-01-01",
            id_key="IL:D1234567",
            package=package,
            ndc11=package.ndc11,
            product_name="Sudafed 30",
            packages=1,
            dosage_units=Decimal(24),
            base_mg=Decimal("576"),
            signature=png,
            signature_sha256=hashlib.sha256(png).hexdigest(),
        )
    return line


@pytest.fixture
def drawer(technician):
    return drawer_open(actor=technician, opening_cash="100.00")


# --- Starting and adding items ----------------------------------------------------------------


def test_it_starts_a_sale(technician, drawer):
    sale = sale_start(actor=technician, drawer=drawer)

    assert sale.status == SaleStatus.OPEN
    assert sale.started_by == technician
    assert sale.drawer == drawer
    assert last_event().action == "pos.sale.started"


def test_an_auditor_may_not_start_a_sale(auditor):
    with pytest.raises(Forbidden):
        sale_start(actor=auditor)
    assert Sale.objects.count() == 0


def test_it_adds_an_otc_item_at_its_shelf_price_with_tax(technician, pic):
    pos_settings_save(actor=pic, tax_percent="7")
    package = otc_package("Loratadine", retail="9.99")
    sale = sale_start(actor=technician)

    line = sale_add_item(actor=technician, sale=sale, code=package.ndc10, quantity=2)

    assert line.kind == LineKind.OTC
    assert line.amount == Decimal("19.98")
    assert line.tax == Decimal("1.40")
    assert line.taxable and line.fsa_eligible
    sale.refresh_from_db()
    assert (sale.subtotal, sale.tax, sale.total) == (
        Decimal("19.98"),
        Decimal("1.40"),
        Decimal("21.38"),
    )
    assert last_event().action == "pos.sale.item_added"


def test_a_typed_price_wins(technician):
    package = otc_package(retail="9.99")
    sale = sale_start(actor=technician)
    line = sale_add_item(actor=technician, sale=sale, code=package.ndc10, price="4.50")
    assert line.unit_price == Decimal("4.50")


def test_an_item_without_a_price_needs_one_typed(technician):
    product = ProductFactory(name="Aspirin", product_type="HUMAN OTC DRUG", otc=True)
    package = PackageFactory(product=product, ndc10="0363-9999-01")
    sale = sale_start(actor=technician)

    with pytest.raises(Conflict) as exc:
        sale_add_item(actor=technician, sale=sale, code=package.ndc10)

    assert exc.value.field == "price"
    assert SaleLine.objects.count() == 0


def test_a_prescription_drug_is_not_an_otc_item(technician):
    product = ProductFactory(name="Lisinopril", product_type="HUMAN PRESCRIPTION DRUG", otc=False)
    package = PackageFactory(product=product, ndc10="0363-9998-01")
    sale = sale_start(actor=technician)

    with pytest.raises(Conflict) as exc:
        sale_add_item(actor=technician, sale=sale, code=package.ndc10, price="3.00")

    assert "needs a prescription" in exc.value.message
    assert SaleLine.objects.count() == 0


def test_pseudoephedrine_goes_through_the_logbook(technician):
    package = cmea_package()
    package.product.cmea = True
    package.product.save()
    sale = sale_start(actor=technician)

    with pytest.raises(Conflict) as exc:
        sale_add_item(actor=technician, sale=sale, code=package.ndc10)

    assert "logbook" in exc.value.message
    assert SaleLine.objects.count() == 0


@pytest.mark.parametrize(
    ("code", "quantity", "price", "field"),
    [
        ("not-a-code", 1, None, "code"),
        ("0363-0000-00", 1, None, "code"),
        (None, 0, None, "quantity"),
        (None, 100, None, "quantity"),
        (None, "two", None, "quantity"),
        (None, 1, "-1", "price"),
    ],
)
def test_bad_item_input_names_the_field(technician, code, quantity, price, field):
    package = otc_package()
    sale = sale_start(actor=technician)
    before = audit_count()

    with pytest.raises(Invalid) as exc:
        sale_add_item(
            actor=technician, sale=sale, code=code or package.ndc10, quantity=quantity, price=price
        )

    assert exc.value.field == field
    assert SaleLine.objects.count() == 0
    assert audit_count() == before


def test_an_inventory_specialist_may_not_add_items(technician, inventory):
    package = otc_package()
    sale = sale_start(actor=technician)
    with pytest.raises(Forbidden):
        sale_add_item(actor=inventory, sale=sale, code=package.ndc10)
    assert SaleLine.objects.count() == 0


def test_another_pharmacys_sale_does_not_exist(technician, outsider):
    package = otc_package()
    sale = sale_start(actor=technician)
    with pytest.raises(NotFound):
        sale_add_item(actor=outsider, sale=sale, code=package.ndc10)


# --- Removing lines ---------------------------------------------------------------------------


def test_removing_an_rx_line_leaves_the_fill_in_will_call(technician, pharmacist):
    sale = rx_sale(technician, pharmacist, picked_up=False)
    line = sale.lines.get()

    done = sale_remove_line(actor=technician, sale=sale, line=line)

    assert done.total == Decimal("0.00")
    assert not SaleLine.objects.filter(pk=line.pk).exists()
    assert Fill.objects.get(pk=line.fill_id).status == FillStatus.READY
    assert last_event().action == "pos.sale.line_removed"


def test_removing_a_pse_line_voids_its_logbook_entry(technician):
    sale = sale_start(actor=technician)
    line = pse_line(sale, technician)

    done = sale_remove_line(actor=technician, sale=sale, line=line)

    entry = PseEntry.objects.get(line=line)
    assert entry.voided_at is not None
    assert done.total == Decimal("0.00")


def test_a_paid_sales_line_cannot_be_removed(technician, drawer):
    package = otc_package(retail="5.00")
    sale = sale_start(actor=technician)
    line = sale_add_item(actor=technician, sale=sale, code=package.ndc10)
    sale_pay(actor=technician, sale=sale, tenders=[cash("5.00")])

    with pytest.raises(Conflict):
        sale_remove_line(actor=technician, sale=sale, line=line)
    assert SaleLine.objects.filter(pk=line.pk).exists()


def test_a_line_of_another_sale_is_not_found(technician):
    package = otc_package()
    one, two = sale_start(actor=technician), sale_start(actor=technician)
    line = sale_add_item(actor=technician, sale=one, code=package.ndc10)
    with pytest.raises(NotFound):
        sale_remove_line(actor=technician, sale=two, line=line)


def test_an_auditor_may_not_remove_lines(technician, auditor):
    package = otc_package()
    sale = sale_start(actor=technician)
    line = sale_add_item(actor=technician, sale=sale, code=package.ndc10)
    with pytest.raises(Forbidden):
        sale_remove_line(actor=auditor, sale=sale, line=line)
    assert SaleLine.objects.filter(pk=line.pk).exists()


# --- Payment ----------------------------------------------------------------------------------


def test_cash_with_change_hands_out_the_prescription(technician, pharmacist, drawer):
    sale = rx_sale(technician, pharmacist, copay="12.50")

    paid = sale_pay(actor=technician, sale=sale, tenders=[cash("12.50", tendered="20.00")])

    assert paid.status == SaleStatus.COMPLETED
    assert paid.paid == Decimal("12.50")
    assert paid.change_given == Decimal("7.50")
    assert paid.completed_by == technician
    assert paid.drawer == drawer
    tender = Tender.objects.get(sale=sale)
    assert (tender.kind, tender.amount, tender.tendered, tender.drawer) == (
        TenderKind.CASH,
        Decimal("12.50"),
        Decimal("20.00"),
        drawer,
    )
    fill = Fill.objects.get(pk=sale.lines.get().fill_id)
    assert fill.status == FillStatus.DISPENSED
    assert fill.sold_by == technician
    event = last_event()
    assert event.action == "pos.sale.paid"
    assert '"change":"7.50"' in event.data


def test_split_tenders_card_fsa_and_house(technician, pharmacist, pic, drawer):
    sale = rx_sale(technician, pharmacist, copay="30.00")
    account = house_account_create(actor=pharmacist, number="H1", name="Lopez family")
    package = otc_package(retail="10.00")
    sale_add_item(actor=technician, sale=sale, code=package.ndc10)

    paid = sale_pay(
        actor=technician,
        sale=sale,
        tenders=[
            card("15.00", kind=TenderKind.FSA_HSA),
            card("5.00"),
            TenderIn(kind=TenderKind.HOUSE, amount="20.00", account=account),
        ],
    )

    assert paid.status == SaleStatus.COMPLETED
    assert sorted(Tender.objects.filter(sale=sale).values_list("kind", flat=True)) == sorted(
        [TenderKind.FSA_HSA, TenderKind.CARD, TenderKind.HOUSE]
    )
    entry = HouseEntry.objects.get(account=account)
    assert (entry.kind, entry.amount, entry.sale) == (HouseEntryKind.CHARGE, Decimal("20.00"), sale)
    assert house_account_balance(account) == Decimal("20.00")


def test_a_sale_waiting_for_counseling_cannot_be_paid(technician, pharmacist, drawer):
    sale = rx_sale(technician, pharmacist)
    Sale.objects.filter(pk=sale.pk).update(status=SaleStatus.AWAITING_COUNSEL)

    with pytest.raises(Conflict) as exc:
        sale_pay(actor=technician, sale=sale, tenders=[cash("10.00")])

    assert "not counseled" in exc.value.message
    assert Tender.objects.count() == 0


def test_a_prescription_needs_its_pickup_recorded(technician, pharmacist, drawer):
    sale = rx_sale(technician, pharmacist, picked_up=False)

    with pytest.raises(Conflict) as exc:
        sale_pay(actor=technician, sale=sale, tenders=[cash("10.00")])

    assert exc.value.field == "pickup"
    assert Fill.objects.get(pk=sale.lines.get().fill_id).status == FillStatus.READY


def test_an_empty_sale_cannot_be_paid(technician, drawer):
    sale = sale_start(actor=technician)
    with pytest.raises(Conflict):
        sale_pay(actor=technician, sale=sale, tenders=[])


def test_the_tenders_must_add_up(technician, pharmacist, drawer):
    sale = rx_sale(technician, pharmacist, copay="10.00")
    before = audit_count()

    with pytest.raises(Invalid) as exc:
        sale_pay(actor=technician, sale=sale, tenders=[cash("9.99")])

    assert exc.value.field == "tenders"
    assert Tender.objects.count() == 0
    assert audit_count() == before
    assert Sale.objects.get(pk=sale.pk).status == SaleStatus.OPEN


def test_fsa_pays_only_for_eligible_items(technician, drawer):
    sale = sale_start(actor=technician)
    product = ProductFactory(name="Sunscreen", product_type="HUMAN OTC DRUG", otc=True)
    package = PackageFactory(product=product, ndc10="0363-9997-01")
    line = sale_add_item(actor=technician, sale=sale, code=package.ndc10, price="10.00")
    SaleLine.objects.filter(pk=line.pk).update(fsa_eligible=False)

    with pytest.raises(Conflict) as exc:
        sale_pay(actor=technician, sale=sale, tenders=[card("10.00", kind=TenderKind.FSA_HSA)])

    assert "FSA/HSA" in exc.value.message
    assert Tender.objects.count() == 0


@pytest.mark.parametrize(
    ("tender", "field"),
    [
        (TenderIn(kind=TenderKind.CARD, amount="10.00"), "tenders.0.reference"),
        (
            TenderIn(kind=TenderKind.CARD, amount="10.00", reference="4111 1111 1111 1111"),
            "tenders.0.reference",
        ),
        (TenderIn(kind="bitcoin", amount="10.00"), "tenders.0.kind"),
        (TenderIn(kind=TenderKind.CASH, amount="0"), "tenders.0.amount"),
        (TenderIn(kind=TenderKind.CASH, amount="10.00", tendered="5.00"), "tenders.0.tendered"),
        (
            TenderIn(kind=TenderKind.CARD, amount="10.00", reference="4242", tendered="20"),
            "tenders.0.tendered",
        ),
        (TenderIn(kind=TenderKind.HOUSE, amount="10.00"), "tenders.0.account"),
    ],
)
def test_bad_tenders_name_their_field(technician, pharmacist, drawer, tender, field):
    sale = rx_sale(technician, pharmacist, copay="10.00")
    before = audit_count()

    with pytest.raises(Invalid) as exc:
        sale_pay(actor=technician, sale=sale, tenders=[tender])

    assert exc.value.field == field
    assert Tender.objects.count() == 0
    assert audit_count() == before


def test_cash_needs_an_open_drawer(technician, pharmacist):
    sale = rx_sale(technician, pharmacist)

    with pytest.raises(Conflict) as exc:
        sale_pay(actor=technician, sale=sale, tenders=[cash("10.00")])

    assert exc.value.field == "drawer"
    # a card needs none
    assert sale_pay(actor=technician, sale=sale, tenders=[card("10.00")]).status == "completed"


def test_a_house_charge_stays_within_the_limit(technician, pharmacist, drawer):
    account = house_account_create(
        actor=pharmacist, number="H2", name="Group home", credit_limit="15"
    )
    sale = rx_sale(technician, pharmacist, copay="10.00")
    sale_pay(
        actor=technician,
        sale=sale,
        tenders=[TenderIn(kind=TenderKind.HOUSE, amount="10.00", account=account)],
    )
    second = rx_sale(technician, pharmacist, copay="10.00")

    with pytest.raises(Conflict) as exc:
        sale_pay(
            actor=technician,
            sale=second,
            tenders=[TenderIn(kind=TenderKind.HOUSE, amount="10.00", account=account)],
        )

    assert "$5.00 more" in exc.value.message
    assert HouseEntry.objects.count() == 1
    assert Fill.objects.get(pk=second.lines.get().fill_id).status == FillStatus.READY


def test_a_closed_house_account_takes_no_charge(technician, pharmacist, drawer):
    account = house_account_create(actor=pharmacist, number="H3", name="Closed")
    account.active = False
    account.save()
    sale = rx_sale(technician, pharmacist)
    with pytest.raises(Conflict):
        sale_pay(
            actor=technician,
            sale=sale,
            tenders=[TenderIn(kind=TenderKind.HOUSE, amount="10.00", account=account)],
        )
    assert HouseEntry.objects.count() == 0


def test_payment_is_all_or_nothing(technician, pharmacist, drawer):
    sale = rx_sale(technician, pharmacist)
    # the bag went back to stock in the meantime: the fill can no longer be sold
    Fill.objects.filter(pk=sale.lines.get().fill_id).update(status=FillStatus.RETURNED)

    with pytest.raises(Conflict):
        sale_pay(actor=technician, sale=sale, tenders=[cash("10.00")])

    assert Tender.objects.count() == 0
    assert Sale.objects.get(pk=sale.pk).status == SaleStatus.OPEN


def test_an_auditor_may_not_take_payment(technician, pharmacist, auditor, drawer):
    sale = rx_sale(technician, pharmacist)
    with pytest.raises(Forbidden):
        sale_pay(actor=auditor, sale=sale, tenders=[cash("10.00")])
    assert Tender.objects.count() == 0


# --- Cancel -----------------------------------------------------------------------------------


def test_cancelling_an_unpaid_sale_voids_its_logbook_entries(technician, pharmacist):
    sale = rx_sale(technician, pharmacist, picked_up=False)
    line = pse_line(sale, technician)

    done = sale_cancel(actor=technician, sale=sale, reason="Customer left")

    assert done.status == SaleStatus.VOIDED
    assert done.void_reason == "Customer left"
    assert PseEntry.objects.get(line=line).voided_at is not None
    assert Fill.objects.get(pk=sale.lines.filter(kind="rx").get().fill_id).status == "ready"
    assert last_event().action == "pos.sale.cancelled"


def test_cancelling_needs_a_reason(technician):
    sale = sale_start(actor=technician)
    with pytest.raises(Invalid) as exc:
        sale_cancel(actor=technician, sale=sale, reason="  ")
    assert exc.value.field == "reason"
    assert Sale.objects.get(pk=sale.pk).status == SaleStatus.OPEN


def test_a_paid_sale_is_not_cancelled(technician, drawer):
    package = otc_package(retail="5.00")
    sale = sale_start(actor=technician)
    sale_add_item(actor=technician, sale=sale, code=package.ndc10)
    sale_pay(actor=technician, sale=sale, tenders=[cash("5.00")])
    with pytest.raises(Conflict):
        sale_cancel(actor=technician, sale=sale, reason="Oops")


def test_an_auditor_may_not_cancel(technician, auditor):
    sale = sale_start(actor=technician)
    with pytest.raises(Forbidden):
        sale_cancel(actor=auditor, sale=sale, reason="No")
    assert Sale.objects.get(pk=sale.pk).status == SaleStatus.OPEN


# --- Void -------------------------------------------------------------------------------------


def test_voiding_reverses_every_tender_and_puts_the_bag_back(technician, pharmacist, drawer):
    account = house_account_create(actor=pharmacist, number="H4", name="Lopez")
    sale = rx_sale(technician, pharmacist, copay="30.00")
    sale_pay(
        actor=technician,
        sale=sale,
        tenders=[
            cash("10.00", tendered="20.00"),
            TenderIn(kind=TenderKind.HOUSE, amount="20.00", account=account),
        ],
    )

    done = sale_void(actor=pharmacist, sale=sale, reason="Wrong patient's bag")

    assert done.status == SaleStatus.VOIDED
    assert done.refunded == Decimal("30.00")
    refund = Refund.objects.get(sale=sale)
    assert refund.is_void and refund.amount == Decimal("30.00")
    reversals = Tender.objects.filter(refund=refund).order_by("pk")
    assert [(t.kind, t.amount) for t in reversals] == [
        (TenderKind.CASH, Decimal("-10.00")),
        (TenderKind.HOUSE, Decimal("-20.00")),
    ]
    assert house_account_balance(account) == Decimal("0.00")
    fill = Fill.objects.get(pk=sale.lines.get().fill_id)
    assert fill.status == FillStatus.READY
    assert last_event().action == "pos.sale.voided"


def test_a_technician_may_not_void(technician, pharmacist, drawer):
    sale = rx_sale(technician, pharmacist)
    sale_pay(actor=technician, sale=sale, tenders=[cash("10.00")])
    with pytest.raises(Forbidden):
        sale_void(actor=technician, sale=sale, reason="Oops")
    assert Refund.objects.count() == 0


def test_a_void_needs_the_drawer_still_open(technician, pharmacist, drawer):
    package = otc_package(retail="5.00")
    sale = sale_start(actor=technician)
    sale_add_item(actor=technician, sale=sale, code=package.ndc10)
    sale_pay(actor=technician, sale=sale, tenders=[cash("5.00")])
    drawer_close(actor=technician, drawer=drawer, counted_cash="105.00")

    with pytest.raises(Conflict) as exc:
        sale_void(actor=pharmacist, sale=sale, reason="Oops")

    assert "refund it instead" in exc.value.message
    assert Refund.objects.count() == 0


def test_only_a_sale_of_today_is_voided(technician, pharmacist, drawer):
    import datetime as dt

    package = otc_package(retail="5.00")
    sale = sale_start(actor=technician)
    sale_add_item(actor=technician, sale=sale, code=package.ndc10)
    paid = sale_pay(actor=technician, sale=sale, tenders=[card("5.00")])
    assert paid.completed_at is not None
    Sale.objects.filter(pk=sale.pk).update(completed_at=paid.completed_at - dt.timedelta(days=1))
    with pytest.raises(Conflict):
        sale_void(actor=pharmacist, sale=sale, reason="Late")


# --- Refund -----------------------------------------------------------------------------------


def test_a_partial_refund_is_prorated_with_tax(technician, pharmacist, pic, drawer):
    pos_settings_save(actor=pic, tax_percent="10")
    package = otc_package(retail="3.33")
    sale = sale_start(actor=technician)
    line = sale_add_item(actor=technician, sale=sale, code=package.ndc10, quantity=3)
    sale.refresh_from_db()
    assert sale.total == Decimal("10.99")  # 9.99 + 1.00 tax
    sale_pay(actor=technician, sale=sale, tenders=[cash("10.99", tendered="11.00")])

    first = sale_refund(actor=pharmacist, sale=sale, lines=[(line.pk, 1)], reason="Damaged box")
    second = sale_refund(actor=pharmacist, sale=sale, lines=[(line.pk, 2)], reason="Damaged box")

    assert first.amount == Decimal("3.66")
    assert second.amount == Decimal("7.33")  # the rest, so nothing is lost to rounding
    line.refresh_from_db()
    assert line.refunded_quantity == 3
    assert line.refunded_amount == Decimal("10.99")
    sale.refresh_from_db()
    assert sale.refunded == Decimal("10.99")
    tender = Tender.objects.get(refund=first)
    assert (tender.kind, tender.amount, tender.drawer) == ("cash", Decimal("-3.66"), drawer)
    assert last_event().action == "pos.sale.refunded"

    with pytest.raises(Conflict) as exc:
        sale_refund(actor=pharmacist, sale=sale, lines=[(line.pk, 1)], reason="Again")
    assert exc.value.field == "lines.0.quantity"


def test_an_rx_refund_gives_money_back_but_keeps_the_fill_dispensed(technician, pharmacist, drawer):
    sale = rx_sale(technician, pharmacist, copay="10.00")
    sale_pay(actor=technician, sale=sale, tenders=[card("10.00")])
    line = sale.lines.get()

    refund = sale_refund(
        actor=pharmacist,
        sale=sale,
        lines=[(line.pk, line.quantity)],
        reason="Copay adjusted",
        tender_kind=TenderKind.CARD,
    )

    assert refund.amount == Decimal("10.00")
    assert Tender.objects.get(refund=refund).reference == "4242 A1B2C3"
    assert Fill.objects.get(pk=line.fill_id).status == FillStatus.DISPENSED


def test_a_refund_goes_back_only_to_a_tender_the_sale_used(technician, pharmacist, drawer):
    package = otc_package(retail="5.00")
    sale = sale_start(actor=technician)
    line = sale_add_item(actor=technician, sale=sale, code=package.ndc10)
    sale_pay(actor=technician, sale=sale, tenders=[cash("5.00")])

    with pytest.raises(Conflict) as exc:
        sale_refund(
            actor=pharmacist, sale=sale, lines=[(line.pk, 1)], reason="x", tender_kind="card"
        )

    assert exc.value.field == "tender_kind"
    assert Refund.objects.count() == 0
    line.refresh_from_db()
    assert line.refunded_quantity == 0


@pytest.mark.parametrize(
    ("lines", "reason", "kind", "field"),
    [
        ([], "x", "cash", "lines"),
        ([(None, "0")], "x", "cash", "lines.0.quantity"),
        ([(None, "abc")], "x", "cash", "lines.0.quantity"),
        ([(None, "1")], "", "cash", "reason"),
        ([(None, "1")], "x", "check", "tender_kind"),
    ],
)
def test_bad_refund_input_changes_nothing(
    technician, pharmacist, drawer, lines, reason, kind, field
):
    package = otc_package(retail="5.00")
    sale = sale_start(actor=technician)
    line = sale_add_item(actor=technician, sale=sale, code=package.ndc10)
    sale_pay(actor=technician, sale=sale, tenders=[cash("5.00")])
    before = audit_count()

    with pytest.raises(Invalid) as exc:
        sale_refund(
            actor=pharmacist,
            sale=sale,
            lines=[(line.pk, q) for _, q in lines],
            reason=reason,
            tender_kind=kind,
        )

    assert exc.value.field == field
    assert Refund.objects.count() == 0
    assert audit_count() == before


def test_a_technician_may_not_refund(technician, drawer):
    package = otc_package(retail="5.00")
    sale = sale_start(actor=technician)
    line = sale_add_item(actor=technician, sale=sale, code=package.ndc10)
    sale_pay(actor=technician, sale=sale, tenders=[cash("5.00")])
    with pytest.raises(Forbidden):
        sale_refund(actor=technician, sale=sale, lines=[(line.pk, 1)], reason="x")
    assert Refund.objects.count() == 0


# --- Through the API and the screens ----------------------------------------------------------


def _client(user):
    from django.test import Client

    client = Client()
    client.force_login(user)
    return client


def test_a_sale_through_the_api(technician, pharmacist):
    client = _client(technician)
    package = otc_package("Cetirizine", retail="6.00")
    opened = client.post(
        "/api/v1/pos/drawers", {"opening_cash": "100.00"}, content_type="application/json"
    )
    assert opened.status_code == 201, opened.content
    started = client.post("/api/v1/pos/sales", {}, content_type="application/json")
    assert started.status_code == 201
    sale_id = started.json()["id"]
    added = client.post(
        f"/api/v1/pos/sales/{sale_id}/items",
        {"code": package.ndc10, "quantity": 2},
        content_type="application/json",
    )
    assert added.status_code == 201
    assert added.json()["total"] == "12.00"

    refused = client.post(
        f"/api/v1/pos/sales/{sale_id}/payment",
        {"tenders": [{"kind": "card", "amount": "12.00", "reference": "4111111111111111"}]},
        content_type="application/json",
    )
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["field"] == "tenders.0.reference"

    paid = client.post(
        f"/api/v1/pos/sales/{sale_id}/payment",
        {"tenders": [{"kind": "cash", "amount": "12.00", "tendered": "20.00"}]},
        content_type="application/json",
    )
    assert paid.status_code == 200, paid.content
    body = paid.json()
    assert (body["status"], body["change_given"], body["fsa_eligible_total"]) == (
        "completed",
        "8.00",
        "12.00",
    )
    receipt = client.get(f"/api/v1/pos/sales/{sale_id}/receipt")
    assert receipt.status_code == 200 and receipt["Content-Type"] == "application/pdf"

    again = client.post(
        f"/api/v1/pos/sales/{sale_id}/cancel", {"reason": "x"}, content_type="application/json"
    )
    assert again.status_code == 409

    line_id = body["lines"][0]["id"]
    refund = _client(pharmacist).post(
        f"/api/v1/pos/sales/{sale_id}/refunds",
        {"lines": [{"line_id": line_id, "quantity": "1"}], "reason": "Opened box"},
        content_type="application/json",
    )
    assert refund.status_code == 201, refund.content
    assert refund.json()["amount"] == "6.00"


def test_the_sale_screen_and_its_receipt(technician, pharmacist, drawer):
    sale = rx_sale(technician, pharmacist, copay="10.00")
    sale_pay(actor=technician, sale=sale, tenders=[cash("10.00", "10.00")])

    page = _client(pharmacist).get(f"/pos/sales/{sale.pk}/")
    assert page.status_code == 200
    assert b"Void the whole sale" in page.content
    tech_page = _client(technician).get(f"/pos/sales/{sale.pk}/")
    assert b"Void the whole sale" not in tech_page.content
    receipt = _client(technician).get(f"/pos/sales/{sale.pk}/receipt/")
    assert sale.receipt_number.encode() in receipt.content

    line = sale.lines.get()
    refunded = _client(pharmacist).post(
        f"/pos/sales/{sale.pk}/refund/",
        {f"qty_{line.pk}": "30", "reason": "Copay fixed", "tender_kind": "cash"},
    )
    assert refunded.status_code == 302
    assert Refund.objects.get(sale=sale).amount == Decimal("10.00")


def test_the_drawer_screen_opens_and_closes(technician):
    client = _client(technician)
    assert client.post("/pos/drawer/", {"opening_cash": "abc"}).status_code == 422
    assert client.post("/pos/drawer/", {"opening_cash": "80.00"}).status_code == 302
    page = client.get("/pos/drawer/")
    assert b"Count and close" in page.content
    short = client.post("/pos/drawer/", {"counted_cash": "50.00"})
    assert short.status_code == 422
    assert b"write a note" in short.content
    assert client.post("/pos/drawer/", {"counted_cash": "80.00"}).status_code == 302
    assert b"Open the drawer" in client.get("/pos/drawer/").content


def test_a_pse_line_refunded_in_full_voids_its_logbook_entry(technician, pharmacist, drawer):
    sale = sale_start(actor=technician)
    line = pse_line(sale, technician)
    sale_pay(actor=technician, sale=sale, tenders=[card(str(Sale.objects.get(pk=sale.pk).total))])

    sale_refund(
        actor=pharmacist, sale=sale, lines=[(line.pk, 1)], reason="Unopened", tender_kind="card"
    )

    entry = PseEntry.objects.get(line=line)
    assert entry.voided_at is not None
    assert entry.void_reason == "Returned: Unopened"
