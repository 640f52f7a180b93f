"""Ordering: suppliers, par levels and purchase orders from draft to closed. Every service
has its audit event, a broken rule, and a forbidden role that writes nothing."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from django.db import IntegrityError

from rxdesk.core.errors import Conflict, Forbidden, Invalid, NotFound
from rxdesk.inventory.choices import PurchaseOrderStatus
from rxdesk.inventory.models import ParLevel, PurchaseOrder, PurchaseOrderLine, Supplier
from rxdesk.inventory.services import ordering
from rxdesk.inventory.services.stock import location_create
from tests.conftest import audit_count, last_event
from tests.inventory.matrix_receiving import (
    order,
    oxycodone,
    prozac,
    prozac_100,
    receipt,
    supplier,
)

pytestmark = pytest.mark.django_db

VALID_DEA = "PM1234563"  # 1+3+5 + 2×(2+4+6) = 33: check digit 3


def data(event) -> dict:
    return json.loads(event.data)


# --- Suppliers -----------------------------------------------------------------------------


def test_it_adds_a_supplier_with_a_checked_dea_number(inventory):
    vendor = ordering.supplier_create(
        actor=inventory,
        name=" Cardinal Health ",
        account_number="55-1200",
        dea_number="pm1234563",
        phone="(217) 555-0100",
    )
    assert (vendor.name, vendor.dea_number, vendor.phone) == (
        "Cardinal Health",
        VALID_DEA,
        "2175550100",
    )
    event = last_event()
    assert event.action == "inventory.supplier.created"
    assert data(event)["dea_number"] == VALID_DEA
    assert data(event)["account_number"] == "55-1200"


def test_it_refuses_a_dea_number_with_a_wrong_check_digit(inventory):
    before = audit_count()
    with pytest.raises(Invalid) as caught:
        ordering.supplier_create(actor=inventory, name="Cardinal", dea_number="PM1234564")
    assert caught.value.errors == [
        {
            "field": "dea_number",
            "message": "This DEA number's check digit is wrong; check for a mistyped digit.",
        }
    ]
    assert Supplier.objects.count() == 0 and audit_count() == before


def test_it_refuses_a_second_supplier_of_the_same_name(inventory, site):
    supplier(site, "McKesson")
    with pytest.raises(Invalid, match="already a supplier named mckesson") as caught:
        ordering.supplier_create(actor=inventory, name="mckesson")
    assert caught.value.errors[0]["field"] == "name"


def test_a_technician_may_not_add_suppliers(technician):
    before = audit_count()
    with pytest.raises(Forbidden):
        ordering.supplier_create(actor=technician, name="Cardinal")
    assert Supplier.objects.count() == 0 and audit_count() == before


def test_it_changes_a_supplier_and_records_what_changed(pic, site):
    vendor = supplier(site)
    ordering.supplier_update(actor=pic, supplier=vendor, account_number="NEW-1", active=False)
    vendor.refresh_from_db()
    assert (vendor.account_number, vendor.active) == ("NEW-1", False)
    event = last_event()
    assert event.action == "inventory.supplier.updated"
    assert data(event) == {
        "changes": {"account_number": ["ACCT-778", "NEW-1"], "active": [True, False]}
    }


def test_another_pharmacys_supplier_is_not_found(inventory, other_site):
    vendor = supplier(other_site)
    with pytest.raises(NotFound):
        ordering.supplier_update(actor=inventory, supplier=vendor, name="Mine now")


def test_an_unknown_supplier_field_is_refused(inventory, site):
    with pytest.raises(Invalid) as caught:
        ordering.supplier_update(actor=inventory, supplier=supplier(site), site=1)
    assert caught.value.errors == [{"field": "site", "message": "This field cannot be set here."}]


def test_the_cli_operator_adds_a_supplier_at_a_named_site(cli_context, site):
    vendor = ordering.supplier_create(actor=None, site=site, name="Anda")
    assert vendor.site == site and last_event().actor_name == "system"


# --- Par levels ----------------------------------------------------------------------------


def test_it_sets_and_replaces_a_par_level(inventory, site):
    vendor = supplier(site)
    shelf = location_create(actor=inventory, code="A-12", name="Aisle A, shelf 12")
    prozac()
    par = ordering.par_level_set(
        actor=inventory,
        ndc="0002-3227-30",
        minimum="30",
        maximum="90",
        abc_class="a",
        location="A-12",
        preferred_supplier=vendor.pk,
    )
    assert (par.minimum, par.maximum, par.abc_class, par.location, par.preferred_supplier) == (
        Decimal(30),
        Decimal(90),
        "A",
        shelf,
        vendor,
    )
    event = last_event()
    assert event.action == "inventory.par_level.set"
    assert data(event) == {
        "ndc": "00002322730",
        "before": None,
        "after": {
            "minimum": "30.000",
            "maximum": "90.000",
            "abc_class": "A",
            "location": "A-12",
            "preferred_supplier": vendor.pk,
        },
    }
    again = ordering.par_level_set(actor=inventory, ndc="00002322730", minimum=0, maximum=60)
    assert again.pk == par.pk and ParLevel.objects.count() == 1
    assert data(last_event())["before"]["maximum"] == "90.000"
    assert data(last_event())["after"] == {
        "minimum": "0.000",
        "maximum": "60.000",
        "abc_class": "",
        "location": None,
        "preferred_supplier": None,
    }


@pytest.mark.parametrize(
    ("minimum", "maximum", "field", "message"),
    [
        ("40", "30", "maximum", "The maximum (par) must be at least the minimum."),
        ("-1", "30", "minimum", "A level cannot be negative."),
        ("ten", "30", "minimum", "Enter a quantity in billing units."),
        ("1", "30.0001", "maximum", "Use at most three decimal places."),
    ],
)
def test_it_refuses_impossible_levels(inventory, minimum, maximum, field, message):
    prozac()
    before = audit_count()
    with pytest.raises(Invalid) as caught:
        ordering.par_level_set(
            actor=inventory, ndc="0002-3227-30", minimum=minimum, maximum=maximum
        )
    assert caught.value.errors == [{"field": field, "message": message}]
    assert ParLevel.objects.count() == 0 and audit_count() == before


def test_it_refuses_an_unknown_ndc_for_a_par_level(inventory):
    with pytest.raises(Invalid) as caught:
        ordering.par_level_set(actor=inventory, ndc="99999-9999-99", minimum=1, maximum=2)
    assert caught.value.errors == [
        {"field": "ndc", "message": "NDC 99999-9999-99 is not in the drug catalog."}
    ]


def test_the_database_refuses_min_above_max_too(site):
    with pytest.raises(IntegrityError):
        ParLevel.objects.create(site=site, package=prozac(), minimum=5, maximum=1)


def test_a_technician_may_not_set_par_levels(technician):
    prozac()
    before = audit_count()
    with pytest.raises(Forbidden):
        ordering.par_level_set(actor=technician, ndc="0002-3227-30", minimum=1, maximum=2)
    assert ParLevel.objects.count() == 0 and audit_count() == before


# --- Purchase orders -----------------------------------------------------------------------


def test_it_drafts_numbered_orders_per_site(technician, outsider, site, other_site):
    prozac()
    first = ordering.purchase_order_create(
        actor=technician,
        supplier=supplier(site).pk,
        lines=[{"ndc": "0002-3227-30", "packages": 3, "unit_cost": "12.50"}],
    )
    second = ordering.purchase_order_create(actor=technician, supplier=supplier(site))
    theirs = ordering.purchase_order_create(actor=outsider, supplier=supplier(other_site))
    assert [first.number, second.number, theirs.number] == ["PO-000001", "PO-000002", "PO-000001"]
    assert first.status == PurchaseOrderStatus.DRAFT and first.created_by == technician
    event = last_event()
    assert event.action == "inventory.purchase_order.created"
    created = [e for e in type(event).objects.filter(action=event.action).order_by("id")]
    assert data(created[0]) == {
        "number": "PO-000001",
        "supplier": supplier(site).pk,
        "lines": [
            {
                "line": first.lines.get().pk,
                "ndc": "00002322730",
                "packages": 3,
                "unit_cost": "12.50",
                "dea_order_number": "",
            }
        ],
    }


def test_numbering_skips_a_number_another_worker_just_took(technician, site, monkeypatch):
    # The race: both read PO-000001 as the last number; the unique constraint refuses the
    # second insert of PO-000002 and the service tries the next number.
    order(site, number="PO-000001")
    real = ordering._next_number
    calls = []

    def stale(where):
        calls.append(1)
        if len(calls) == 1:
            PurchaseOrder.objects.create(site=where, supplier=supplier(where), number="PO-000002")
            return "PO-000002"
        return real(where)

    monkeypatch.setattr(ordering, "_next_number", stale)
    po = ordering.purchase_order_create(actor=technician, supplier=supplier(site))
    assert po.number == "PO-000003" and len(calls) == 2


def test_a_bad_line_drafts_nothing(technician, site):
    prozac()
    before = audit_count()
    with pytest.raises(Invalid) as caught:
        ordering.purchase_order_create(
            actor=technician,
            supplier=supplier(site),
            lines=[{"ndc": "0002-3227-30", "packages": 1}, {"ndc": "0002-3227-30", "packages": 0}],
        )
    assert caught.value.errors == [
        {"field": "lines.1.packages", "message": "Enter at least 1 package."}
    ]
    assert PurchaseOrder.objects.count() == 0 and audit_count() == before


def test_it_refuses_an_inactive_supplier_or_a_reverse_distributor(technician, site):
    with pytest.raises(Invalid, match="is inactive"):
        ordering.purchase_order_create(
            actor=technician, supplier=supplier(site, "Old", active=False)
        )
    with pytest.raises(Invalid, match="reverse distributor"):
        ordering.purchase_order_create(
            actor=technician, supplier=supplier(site, "Returns Co", reverse_distributor=True)
        )


def test_a_trainee_may_not_order(trainee, site):
    before = audit_count()
    with pytest.raises(Forbidden):
        ordering.purchase_order_create(actor=trainee, supplier=supplier(site))
    assert PurchaseOrder.objects.count() == 0 and audit_count() == before


def test_adding_the_same_ndc_again_adds_to_its_line(technician, site):
    po = order(site, lines=())
    ordering.purchase_order_line_add(actor=technician, order=po, ndc=prozac(), packages=2)
    line = ordering.purchase_order_line_add(
        actor=technician, order=po, ndc="00002322730", packages="3", unit_cost="$11.00"
    )
    assert (line.packages_ordered, line.unit_cost) == (5, Decimal("11.00"))
    assert PurchaseOrderLine.objects.count() == 1
    event = last_event()
    assert event.action == "inventory.purchase_order.line_added"
    assert data(event)["packages"] == 5


@pytest.mark.parametrize(
    ("packages", "cost", "field", "message"),
    [
        ("1.5", None, "packages", "Count whole packages."),
        ("-2", None, "packages", "Enter at least 1 package."),
        ("2", "-1", "unit_cost", "An amount cannot be negative."),
        ("2", "1.005", "unit_cost", "Use at most two decimal places (cents)."),
    ],
)
def test_it_refuses_bad_line_values(technician, site, packages, cost, field, message):
    po = order(site, lines=())
    prozac()
    with pytest.raises(Invalid) as caught:
        ordering.purchase_order_line_add(
            actor=technician, order=po, ndc="0002-3227-30", packages=packages, unit_cost=cost
        )
    assert caught.value.errors == [{"field": field, "message": message}]
    assert PurchaseOrderLine.objects.count() == 0


def test_lines_change_only_while_draft(technician, site):
    po = order(site, status=PurchaseOrderStatus.SENT)
    line = po.lines.get()
    with pytest.raises(Conflict, match="PO-000001 is sent; only a draft can be changed"):
        ordering.purchase_order_line_update(actor=technician, line=line, packages=9)
    with pytest.raises(Conflict):
        ordering.purchase_order_line_remove(actor=technician, line=line)
    with pytest.raises(Conflict):
        ordering.purchase_order_line_add(actor=technician, order=po, ndc=prozac(), packages=1)
    line.refresh_from_db()
    assert line.packages_ordered == 3


def test_it_changes_and_removes_draft_lines(technician, site):
    po = order(site)
    line = po.lines.get()
    ordering.purchase_order_line_update(
        actor=technician, line=line, packages=4, unit_cost="", dea_order_number="X1"
    )
    line.refresh_from_db()
    assert (line.packages_ordered, line.unit_cost, line.dea_order_number) == (4, None, "X1")
    assert data(last_event())["changes"] == {
        "packages": [3, 4],
        "unit_cost": ["12.50", None],
        "dea_order_number": ["", "X1"],
    }
    ordering.purchase_order_line_remove(actor=technician, line=line)
    assert PurchaseOrderLine.objects.count() == 0
    event = last_event()
    assert event.action == "inventory.purchase_order.line_removed"
    assert data(event)["ndc"] == "00002322730"


def test_an_auditor_may_not_change_lines(auditor, site):
    po = order(site)
    line = po.lines.get()
    before = audit_count()
    with pytest.raises(Forbidden):
        ordering.purchase_order_line_update(actor=auditor, line=line, packages=9)
    with pytest.raises(Forbidden):
        ordering.purchase_order_line_remove(actor=auditor, line=line)
    with pytest.raises(Forbidden):
        ordering.purchase_order_line_add(actor=auditor, order=po, ndc=prozac(), packages=1)
    assert PurchaseOrderLine.objects.get().packages_ordered == 3 and audit_count() == before


def test_sending_needs_the_dea_order_number_of_a_schedule_ii_line(technician, site):
    po = order(site, lines=((prozac(), 2), (oxycodone(), 1)))
    with pytest.raises(Invalid) as caught:
        ordering.purchase_order_send(actor=technician, order=po)
    assert caught.value.errors == [
        {
            "field": "lines.1.dea_order_number",
            "message": "Schedule II: enter the DEA Form 222 or CSOS order number for this line.",
        }
    ]
    po.refresh_from_db()
    assert po.status == PurchaseOrderStatus.DRAFT and po.sent_at is None
    PurchaseOrderLine.objects.filter(package=oxycodone()).update(dea_order_number="CSOS-7781")
    sent = ordering.purchase_order_send(actor=technician, order=po)
    assert sent.status == PurchaseOrderStatus.SENT and sent.sent_at is not None
    event = last_event()
    assert event.action == "inventory.purchase_order.sent"
    assert [line["dea_order_number"] for line in data(event)["lines"]] == ["", "CSOS-7781"]


def test_an_empty_or_already_sent_order_is_not_sent(technician, site):
    with pytest.raises(Conflict, match="Add at least one line"):
        ordering.purchase_order_send(actor=technician, order=order(site, lines=()))
    sent = order(site, status=PurchaseOrderStatus.SENT, number="PO-000002")
    with pytest.raises(Conflict, match="PO-000002 is sent"):
        ordering.purchase_order_send(actor=technician, order=sent)


def test_a_trainee_may_not_send(trainee, site):
    po = order(site)
    before = audit_count()
    with pytest.raises(Forbidden):
        ordering.purchase_order_send(actor=trainee, order=po)
    po.refresh_from_db()
    assert po.status == PurchaseOrderStatus.DRAFT and audit_count() == before


def test_closing_an_order_with_open_lines_needs_a_reason(technician, site):
    po = order(site, status=PurchaseOrderStatus.PARTIAL)
    PurchaseOrderLine.objects.update(packages_received=1)
    with pytest.raises(Invalid) as caught:
        ordering.purchase_order_close(actor=technician, order=po)
    assert caught.value.errors[0]["field"] == "reason"
    closed = ordering.purchase_order_close(
        actor=technician, order=po, reason="Rest back-ordered until May"
    )
    assert closed.status == PurchaseOrderStatus.CLOSED and closed.closed_at is not None
    assert closed.note == "Closed: Rest back-ordered until May"
    event = last_event()
    assert event.action == "inventory.purchase_order.closed"
    assert event.reason == "Rest back-ordered until May"
    assert data(event)["status"] == ["partial", "closed"]


def test_a_fully_received_order_closes_without_a_reason(technician, site):
    po = order(site, status=PurchaseOrderStatus.RECEIVED)
    PurchaseOrderLine.objects.update(packages_received=3)
    assert ordering.purchase_order_close(actor=technician, order=po).status == "closed"


def test_a_draft_or_sent_order_is_cancelled_not_closed(technician, site):
    with pytest.raises(Conflict, match="only a received or partially received order is closed"):
        ordering.purchase_order_close(actor=technician, order=order(site), reason="x")


def test_a_trainee_may_not_close(trainee, site):
    po = order(site, status=PurchaseOrderStatus.RECEIVED)
    before = audit_count()
    with pytest.raises(Forbidden):
        ordering.purchase_order_close(actor=trainee, order=po)
    po.refresh_from_db()
    assert po.status == PurchaseOrderStatus.RECEIVED and audit_count() == before


def test_it_cancels_a_draft_and_a_sent_order_with_a_reason(technician, site):
    draft = ordering.purchase_order_cancel(actor=technician, order=order(site))
    assert draft.status == PurchaseOrderStatus.CANCELLED
    assert data(last_event())["status"] == ["draft", "cancelled"]
    sent = order(site, status=PurchaseOrderStatus.SENT, number="PO-000002")
    with pytest.raises(Invalid, match="Say why a sent order is cancelled"):
        ordering.purchase_order_cancel(actor=technician, order=sent)
    done = ordering.purchase_order_cancel(actor=technician, order=sent, reason="Duplicate order")
    assert done.status == "cancelled" and done.note == "Cancelled: Duplicate order"
    assert last_event().action == "inventory.purchase_order.cancelled"


def test_an_order_being_received_or_received_is_not_cancelled(technician, site):
    sent = order(site, status=PurchaseOrderStatus.SENT)
    rec = receipt(site, sent)
    with pytest.raises(Conflict, match=f"Receipt {rec.pk} is being checked in against PO-000001"):
        ordering.purchase_order_cancel(actor=technician, order=sent, reason="x")
    partial = order(site, status=PurchaseOrderStatus.PARTIAL, number="PO-000002")
    with pytest.raises(Conflict, match="partially received"):
        ordering.purchase_order_cancel(actor=technician, order=partial, reason="x")


def test_a_trainee_may_not_cancel(trainee, site):
    po = order(site)
    before = audit_count()
    with pytest.raises(Forbidden):
        ordering.purchase_order_cancel(actor=trainee, order=po)
    assert PurchaseOrder.objects.get().status == "draft" and audit_count() == before


def test_another_pharmacys_order_is_not_found(technician, other_site):
    theirs = order(other_site)
    with pytest.raises(NotFound):
        ordering.purchase_order_send(actor=technician, order=theirs)
    with pytest.raises(NotFound):
        ordering.purchase_order_line_add(actor=technician, order=theirs, ndc=prozac(), packages=1)


def test_another_package_of_the_same_product_is_its_own_line(technician, site):
    po = order(site)
    ordering.purchase_order_line_add(actor=technician, order=po, ndc=prozac_100(), packages=1)
    assert sorted(po.lines.values_list("package__ndc10", "packages_ordered")) == [
        ("0002-3227-01", 1),
        ("0002-3227-30", 3),
    ]
