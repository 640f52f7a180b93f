"""The ordering screens: suppliers, par levels, suggested orders (drafted into an order with
one button), purchase orders from draft to sent, closed or cancelled, and the order file;
list pages at a fixed number of queries."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from rxdesk.core.models import User
from rxdesk.inventory.choices import PurchaseOrderStatus
from rxdesk.inventory.models import ParLevel, PurchaseOrder, PurchaseOrderLine, Supplier
from tests.inventory.factories import stock
from tests.inventory.matrix_receiving import order, oxycodone, prozac, supplier

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _plain_http(settings):
    settings.SECURE_SSL_REDIRECT = False


def sign_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_it_adds_and_edits_a_supplier(inventory, site):
    client = sign_in(inventory)
    response = client.post(
        reverse("inventory_supplier_create"),
        {"name": "Cardinal Health", "account_number": "55-1", "dea_number": "PM1234564"},
    )
    assert response.status_code == 422
    assert "check digit is wrong" in response.content.decode()
    assert Supplier.objects.count() == 0
    client.post(reverse("inventory_supplier_create"), {"name": "Cardinal Health"})
    vendor = Supplier.objects.get()
    edit = reverse("inventory_supplier_edit", args=[vendor.pk])
    assert 'value="Cardinal Health"' in client.get(edit).content.decode()
    saved = client.post(edit, {"name": "Cardinal Health", "account_number": "77", "active": "on"})
    assert saved.status_code == 302
    vendor.refresh_from_db()
    assert vendor.account_number == "77"
    listed = client.get(reverse("inventory_suppliers")).content.decode()
    assert "Cardinal Health" in listed and ">77<" in listed


def test_a_technician_sees_suppliers_but_cannot_add_them(technician, site):
    supplier(site)
    client = sign_in(technician)
    html = client.get(reverse("inventory_suppliers")).content.decode()
    assert "McKesson" in html and "Add a supplier" not in html
    assert client.get(reverse("inventory_supplier_create")).status_code == 403


def test_it_sets_a_par_level_and_prefills_it_again(inventory, site):
    prozac()
    vendor = supplier(site)
    client = sign_in(inventory)
    response = client.post(
        reverse("inventory_par_level_set"),
        {
            "ndc": "0002-3227-30",
            "minimum": "30",
            "maximum": "90",
            "abc_class": "A",
            "preferred_supplier": vendor.pk,
        },
    )
    assert response.status_code == 302
    par = ParLevel.objects.get()
    assert (par.minimum, par.maximum, par.preferred_supplier) == (30, 90, vendor)
    form = client.get(reverse("inventory_par_level_set"), {"ndc": "00002322730"}).content.decode()
    assert 'value="30"' in form and 'value="90"' in form
    refused = client.post(
        reverse("inventory_par_level_set"), {"ndc": "0002-3227-30", "minimum": "9", "maximum": "3"}
    )
    assert refused.status_code == 422
    assert "The maximum (par) must be at least the minimum." in refused.content.decode()


def test_the_par_level_list_costs_a_fixed_number_of_queries(
    technician, site, django_assert_max_num_queries
):
    from tests.catalog.factories import PackageFactory

    for n in range(15):
        pkg = PackageFactory(ndc10=f"1000-{n:04d}-01", product=prozac().product)
        ParLevel.objects.create(site=site, package=pkg, minimum=1, maximum=5)
    client = sign_in(technician)
    with django_assert_max_num_queries(10):
        response = client.get(reverse("inventory_par_levels"))
    assert response.content.decode().count("1000-00") == 15


def test_suggestions_are_explained_and_drafted_with_one_button(technician, site):
    vendor = supplier(site)
    ParLevel.objects.create(
        site=site, package=prozac(), minimum=30, maximum=90, preferred_supplier=vendor
    )
    stock(site, prozac(), "L1", 12)
    client = sign_in(technician)
    html = client.get(reverse("inventory_order_suggestions")).content.decode()
    assert "12 on hand, min 30, par 90, no recent use (EA): at or below the minimum" in html
    assert "Draft an order to McKesson" in html
    response = client.post(
        reverse("inventory_purchase_order_from_suggestions"),
        {"supplier": vendor.pk, "days": "30", "review_days": "7"},
    )
    po = PurchaseOrder.objects.get()
    assert response["Location"] == reverse("inventory_purchase_order", args=[po.pk])
    assert list(po.lines.values_list("packages_ordered", flat=True)) == [3]
    html = client.get(reverse("inventory_order_suggestions")).content.decode()
    assert "Nothing to order" in html


def test_a_draft_order_is_built_and_sent_from_its_page(technician, site):
    oxycodone()
    prozac()
    client = sign_in(technician)
    client.post(reverse("inventory_purchase_order_create"), {"supplier": supplier(site).pk})
    po = PurchaseOrder.objects.get()
    page = reverse("inventory_purchase_order", args=[po.pk])
    add = reverse("inventory_purchase_order_line_add", args=[po.pk])
    assert client.post(add, {"ndc": "0002-3227-30", "packages": "2"}).status_code == 302
    bad = client.post(add, {"ndc": "0002-3227-30", "packages": "0"})
    assert bad.status_code == 422
    client.post(add, {"ndc": "42858-001-01", "packages": "1"})
    refused = client.post(reverse("inventory_purchase_order_send", args=[po.pk]), follow=True)
    assert "Schedule II: enter the DEA Form 222 or CSOS order number" in refused.content.decode()
    line = PurchaseOrderLine.objects.get(package=oxycodone())
    edit = reverse("inventory_purchase_order_line_edit", args=[po.pk, line.pk])
    client.post(edit, {"packages": "1", "unit_cost": "31.90", "dea_order_number": "CSOS-9"})
    sent = client.post(reverse("inventory_purchase_order_send", args=[po.pk]), follow=True)
    assert "PO-000001 is marked sent." in sent.content.decode()
    html = client.get(page).content.decode()
    assert "CSOS-9" in html and "Receive a delivery" in html and "Add a line" not in html
    csv = client.get(reverse("inventory_purchase_order_file", args=[po.pk]))
    assert csv.content.decode().splitlines()[2] == "ACCT-778,PO-000001,42858000101,1,31.90,CSOS-9"


def test_an_order_is_closed_or_cancelled_with_a_reason(technician, site):
    partial = order(site, status=PurchaseOrderStatus.PARTIAL)
    partial.lines.update(packages_received=1)
    client = sign_in(technician)
    close = reverse("inventory_purchase_order_close", args=[partial.pk])
    refused = client.post(close, {"reason": ""})
    assert refused.status_code == 422
    assert "Some lines are not fully received; say why the order is closed." in (
        refused.content.decode()
    )
    assert client.post(close, {"reason": "Back-ordered"}).status_code == 302
    assert PurchaseOrder.objects.get(pk=partial.pk).status == "closed"
    draft = order(site, number="PO-000002")
    client.post(reverse("inventory_purchase_order_cancel", args=[draft.pk]), {"reason": ""})
    assert PurchaseOrder.objects.get(pk=draft.pk).status == "cancelled"


def test_draft_lines_are_removed(technician, site):
    po = order(site)
    line = po.lines.get()
    client = sign_in(technician)
    client.post(reverse("inventory_purchase_order_line_remove", args=[po.pk, line.pk]))
    assert PurchaseOrderLine.objects.count() == 0


def test_the_order_list_costs_a_fixed_number_of_queries(
    technician, site, django_assert_max_num_queries
):
    for n in range(15):
        order(site, number=f"PO-{n:06d}")
    client = sign_in(technician)
    with django_assert_max_num_queries(10):
        response = client.get(reverse("inventory_purchase_orders"))
    html = response.content.decode()
    assert html.count("data-result") == 15
    drafts = client.get(reverse("inventory_purchase_orders"), {"status": "sent"}).content.decode()
    assert "No purchase orders with this status." in drafts


def test_the_order_page_costs_a_fixed_number_of_queries(
    technician, site, django_assert_max_num_queries
):
    from tests.catalog.factories import PackageFactory

    packages = [
        (PackageFactory(ndc10=f"1000-{n:04d}-01", product=prozac().product), 1) for n in range(10)
    ]
    po = order(site, lines=tuple(packages))
    client = sign_in(technician)
    with django_assert_max_num_queries(14):
        response = client.get(reverse("inventory_purchase_order", args=[po.pk]))
    assert response.content.decode().count("1000-00") == 10
