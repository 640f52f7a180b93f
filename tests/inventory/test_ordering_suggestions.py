"""Suggested orders: the stock position (available in-date stock + open order lines) against
the minimum, recent usage (dispensed net of returns) against a review period, whole
packages up to the par, explained in words; and drafting an order from them."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest
import time_machine
from django.db import transaction
from django.utils import timezone

from rxdesk.core.errors import Conflict, Forbidden, Invalid
from rxdesk.inventory import ledger
from rxdesk.inventory.choices import LotStatus, MoveReason, PurchaseOrderStatus
from rxdesk.inventory.models import ParLevel, PurchaseOrder, PurchaseOrderLine, StockBalance
from rxdesk.inventory.queries_ordering import order_suggestions
from rxdesk.inventory.services import ordering
from tests.conftest import audit_count, last_event
from tests.inventory.factories import stock
from tests.inventory.matrix_receiving import ibuprofen, order, prozac, supplier

pytestmark = pytest.mark.django_db


def par(site, pkg, minimum, maximum, vendor=None) -> ParLevel:
    return ParLevel.objects.create(
        site=site, package=pkg, minimum=minimum, maximum=maximum, preferred_supplier=vendor
    )


def dispense(site, pkg, quantity) -> None:
    with transaction.atomic():
        ledger.take(
            site=site,
            package=pkg,
            quantity=Decimal(quantity),
            reason=MoveReason.DISPENSE,
            actor=None,
        )


def test_it_suggests_whole_packages_up_to_par_and_says_why(technician, site):
    pkg = prozac()
    par(site, pkg, 30, 90)
    stock(site, pkg, "L1", 132)
    stock(site, pkg, "OLD", 20, expiry=dt.date(2020, 1, 31))  # expired: not on hand
    held = stock(site, pkg, "HELD", 30)
    with transaction.atomic():
        ledger.status_set(balance=held, status=LotStatus.QUARANTINED, reason="Fridge")
    dispense(site, pkg, 120)

    [suggestion] = order_suggestions(actor=technician)

    assert (suggestion.on_hand, suggestion.on_order, suggestion.usage) == (12, 0, 120)
    assert (suggestion.daily_usage, suggestion.days_left) == (Decimal("4.00"), Decimal("3.0"))
    assert (suggestion.packages, suggestion.reason) == (3, "minimum")
    assert suggestion.explanation == (
        "12 on hand, min 30, par 90, uses 4/day, about 3 days left (EA): at or below the "
        "minimum; order 3 × 30 EA = 90 EA."
    )


def test_open_order_lines_count_as_on_order(technician, site):
    pkg = prozac()
    par(site, pkg, 30, 90)
    stock(site, pkg, "L1", 12)
    po = order(site, status=PurchaseOrderStatus.PARTIAL, lines=((pkg, 2),))
    PurchaseOrderLine.objects.filter(order=po).update(packages_received=1)
    # One package (30 EA) still expected: 12 + 30 = 42 is above the minimum, no usage.
    assert order_suggestions(actor=technician) == []
    # A closed or cancelled order is no longer on order.
    PurchaseOrder.objects.filter(pk=po.pk).update(status=PurchaseOrderStatus.CLOSED)
    [suggestion] = order_suggestions(actor=technician)
    assert (suggestion.on_order, suggestion.packages) == (0, 3)


def test_usage_that_empties_the_shelf_within_the_review_period_orders_too(technician, site):
    pkg = prozac()
    par(site, pkg, 10, 50)
    stock(site, pkg, "L1", 220)
    dispense(site, pkg, 180)  # 6 a day over 30 days; 40 left lasts under 7 days
    [suggestion] = order_suggestions(actor=technician)
    assert (suggestion.on_hand, suggestion.reason, suggestion.packages) == (40, "usage", 1)
    assert "runs out within the 7-day review" in suggestion.explanation
    # With a 5-day review 6 × 5 = 30 < 40: nothing to order yet.
    assert order_suggestions(actor=technician, review_days=5) == []


def test_usage_counts_only_the_window_and_nets_returns_to_stock(technician, site):
    pkg = prozac()
    par(site, pkg, 150, 300)
    balance = stock(site, pkg, "L1", 400)
    with time_machine.travel(timezone.now() - dt.timedelta(days=45)):
        dispense(site, pkg, 200)  # outside the 30 days
    dispense(site, pkg, 90)
    with transaction.atomic():
        ledger.post_in(
            site=site,
            lot=balance.lot,
            quantity=Decimal(30),
            reason=MoveReason.RETURN_TO_STOCK,
            actor=None,
        )
    [suggestion] = order_suggestions(actor=technician)
    assert suggestion.usage == 60 and suggestion.daily_usage == Decimal("2.00")
    assert (suggestion.on_hand, suggestion.reason, suggestion.packages) == (140, "minimum", 6)
    wider = order_suggestions(actor=technician, days=60)[0]
    assert wider.usage == 260


def test_nothing_is_suggested_above_the_minimum_without_usage(technician, site):
    pkg = prozac()
    par(site, pkg, 30, 90)
    stock(site, pkg, "L1", 31)
    assert order_suggestions(actor=technician) == []


def test_the_suggestions_cost_four_queries(technician, site, django_assert_num_queries):
    for n in range(5):
        from tests.catalog.factories import PackageFactory

        pkg = PackageFactory(ndc10=f"1000-{n:04d}-01", product=prozac().product)
        par(site, pkg, 10, 60)
        stock(site, pkg, "L1", 5)
    with django_assert_num_queries(4):
        suggestions = order_suggestions(actor=technician)
    assert len(suggestions) == 5


@pytest.mark.parametrize(
    ("days", "review", "field"), [(0, 7, "days"), (400, 7, "days"), (30, 0, "review_days")]
)
def test_it_refuses_an_impossible_window(technician, days, review, field):
    with pytest.raises(Invalid) as caught:
        order_suggestions(actor=technician, days=days, review_days=review)
    assert caught.value.errors[0]["field"] == field


def test_a_trainee_may_not_see_suggested_orders(trainee):
    with pytest.raises(Forbidden):
        order_suggestions(actor=trainee)


def test_it_drafts_an_order_from_the_suggestions_for_a_supplier(technician, site):
    mine, other = supplier(site), supplier(site, "Cardinal")
    par(site, prozac(), 30, 90, vendor=mine)
    par(site, ibuprofen(), 100, 400)  # no preferred supplier: anyone's
    stock(site, prozac(), "L1", 12)
    po = ordering.purchase_order_from_suggestions(actor=technician, supplier=mine.pk)
    assert po.status == PurchaseOrderStatus.DRAFT and po.supplier == mine
    assert sorted(po.lines.values_list("package__ndc10", "packages_ordered")) == [
        ("0002-3227-30", 3),
        ("0904-5853-40", 4),
    ]
    event = last_event()
    assert event.action == "inventory.purchase_order.created"
    assert [line["packages"] for line in json.loads(event.data)["lines"]] == [4, 3]
    # Cardinal is preferred for neither package, and both are now on order.
    with pytest.raises(Conflict, match="Nothing to order from Cardinal"):
        ordering.purchase_order_from_suggestions(actor=technician, supplier=other)


def test_a_trainee_may_not_draft_from_suggestions(trainee, site):
    par(site, prozac(), 30, 90)
    before = audit_count()
    with pytest.raises(Forbidden):
        ordering.purchase_order_from_suggestions(actor=trainee, supplier=supplier(site))
    assert PurchaseOrder.objects.count() == 0 and audit_count() == before
    assert StockBalance.objects.count() == 0
