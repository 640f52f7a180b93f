"""The ordering API: suppliers, par levels, suggested orders and purchase orders, through
the test client; errors come back as problem+json naming the field."""

from __future__ import annotations

import pytest
from django.test import Client

from rxdesk.core.models import User
from rxdesk.inventory.choices import PurchaseOrderStatus
from rxdesk.inventory.models import PurchaseOrder, PurchaseOrderLine, Supplier
from tests.conftest import audit_count
from tests.inventory.factories import stock
from tests.inventory.matrix_receiving import order, oxycodone, prozac, supplier

pytestmark = pytest.mark.django_db

P = "/api/v1/inventory"


def client_for(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_it_adds_and_changes_a_supplier(inventory):
    api = client_for(inventory)
    created = api.post(
        f"{P}/suppliers",
        {"name": "Cardinal Health", "account_number": "55-1", "dea_number": "pm1234563"},
        content_type="application/json",
    )
    assert created.status_code == 201
    body = created.json()
    assert body == {
        "id": body["id"],
        "name": "Cardinal Health",
        "account_number": "55-1",
        "dea_number": "PM1234563",
        "reverse_distributor": False,
        "phone": "",
        "email": "",
        "active": True,
    }
    patched = api.patch(
        f"{P}/suppliers/{body['id']}", {"active": False}, content_type="application/json"
    )
    assert patched.status_code == 200 and patched.json()["active"] is False
    assert api.get(f"{P}/suppliers").json() == []
    listed = api.get(f"{P}/suppliers", {"include_inactive": "true"}).json()
    assert [s["name"] for s in listed] == ["Cardinal Health"]


def test_a_bad_dea_number_is_a_problem_naming_the_field(inventory):
    response = client_for(inventory).post(
        f"{P}/suppliers",
        {"name": "Cardinal", "dea_number": "PM1234564"},
        content_type="application/json",
    )
    assert response.status_code == 422
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["errors"] == [
        {
            "field": "dea_number",
            "message": "This DEA number's check digit is wrong; check for a mistyped digit.",
        }
    ]
    assert Supplier.objects.count() == 0


def test_it_sets_a_par_level_by_ndc(inventory, site):
    prozac()
    vendor = supplier(site)
    response = client_for(inventory).put(
        f"{P}/par-levels/0002-3227-30",
        {"minimum": "30", "maximum": "90", "abc_class": "A", "preferred_supplier_id": vendor.pk},
        content_type="application/json",
    )
    assert response.status_code == 200
    body = response.json()
    assert (body["minimum"], body["maximum"], body["abc_class"]) == ("30.000", "90.000", "A")
    assert body["package"]["ndc11"] == "00002322730" and body["package"]["unit"] == "EA"
    assert body["preferred_supplier"] == "McKesson"
    bad = client_for(inventory).put(
        f"{P}/par-levels/0002-3227-30",
        {"minimum": "90", "maximum": "30"},
        content_type="application/json",
    )
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "maximum"


def test_suggestions_explain_themselves(technician, inventory, site):
    pkg = prozac()
    client_for(inventory).put(
        f"{P}/par-levels/{pkg.ndc11}",
        {"minimum": "30", "maximum": "90"},
        content_type="application/json",
    )
    stock(site, pkg, "L1", 12)
    response = client_for(technician).get(f"{P}/order-suggestions", {"days": 30})
    assert response.status_code == 200
    [suggestion] = response.json()
    assert (suggestion["packages"], suggestion["reason"]) == (3, "minimum")
    assert suggestion["explanation"] == (
        "12 on hand, min 30, par 90, no recent use (EA): at or below the minimum; "
        "order 3 × 30 EA = 90 EA."
    )
    assert (suggestion["on_hand"], suggestion["on_order"]) == ("12.000", "0.000")
    assert suggestion["days_left"] is None


def test_an_order_goes_from_draft_to_sent_through_the_api(technician, site):
    api = client_for(technician)
    oxycodone()
    prozac()
    created = api.post(
        f"{P}/purchase-orders",
        {
            "supplier_id": supplier(site).pk,
            "lines": [
                {"ndc": "0002-3227-30", "packages": 2, "unit_cost": "12.50"},
                {"ndc": "42858-001-01", "packages": 1},
            ],
        },
        content_type="application/json",
    )
    assert created.status_code == 201
    po = created.json()
    assert (po["number"], po["status"], po["line_count"], po["packages"]) == (
        "PO-000001",
        "draft",
        2,
        3,
    )
    oxy_line = po["lines"][1]
    refused = api.post(f"{P}/purchase-orders/{po['id']}/send")
    assert refused.status_code == 422
    assert refused.json()["errors"] == [
        {
            "field": "lines.1.dea_order_number",
            "message": "Schedule II: enter the DEA Form 222 or CSOS order number for this line.",
        }
    ]
    patched = api.patch(
        f"{P}/purchase-orders/{po['id']}/lines/{oxy_line['id']}",
        {"dea_order_number": "CSOS-1"},
        content_type="application/json",
    )
    assert patched.json()["lines"][1]["dea_order_number"] == "CSOS-1"
    sent = api.post(f"{P}/purchase-orders/{po['id']}/send")
    assert sent.status_code == 200 and sent.json()["status"] == "sent"
    again = api.post(
        f"{P}/purchase-orders/{po['id']}/lines",
        {"ndc": "0002-3227-30", "packages": 1},
        content_type="application/json",
    )
    assert again.status_code == 409
    assert again["Content-Type"] == "application/problem+json"
    assert again.json()["detail"] == "PO-000001 is sent; only a draft can be changed."


def test_lines_are_added_removed_and_cancelled(technician, site):
    api = client_for(technician)
    po = order(site, lines=())
    prozac()
    added = api.post(
        f"{P}/purchase-orders/{po.pk}/lines",
        {"ndc": "00002322730", "packages": 4},
        content_type="application/json",
    )
    assert added.status_code == 201
    line_id = added.json()["lines"][0]["id"]
    assert api.delete(f"{P}/purchase-orders/{po.pk}/lines/{line_id}").status_code == 204
    assert PurchaseOrderLine.objects.count() == 0
    missing = api.delete(f"{P}/purchase-orders/{po.pk}/lines/{line_id}")
    assert missing.status_code == 404
    cancelled = api.post(
        f"{P}/purchase-orders/{po.pk}/cancel", {"reason": ""}, content_type="application/json"
    )
    assert cancelled.json()["status"] == "cancelled"


def test_the_order_file_is_formula_safe_csv(technician, site):
    vendor = supplier(site, "Anda", account_number='=HYPERLINK("x")')
    po = order(
        site,
        vendor=vendor,
        status=PurchaseOrderStatus.SENT,
        lines=((prozac(), 3), (oxycodone(), 1)),
    )
    PurchaseOrderLine.objects.filter(package=oxycodone()).update(dea_order_number="-222-1")
    response = client_for(technician).get(f"{P}/purchase-orders/{po.pk}/order-file")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="PO-000001.csv"'
    assert response.content.decode().splitlines() == [
        "account_number,po_number,ndc11,packages,unit_cost,dea_order_number",
        '"\'=HYPERLINK(""x"")",PO-000001,00002322730,3,12.50,',
        '"\'=HYPERLINK(""x"")",PO-000001,42858000101,1,12.50,\'-222-1',
    ]


def test_a_cancelled_order_has_no_order_file(technician, site):
    po = order(site, status=PurchaseOrderStatus.CANCELLED)
    response = client_for(technician).get(f"{P}/purchase-orders/{po.pk}/order-file")
    assert response.status_code == 409


def test_another_pharmacys_order_is_404(technician, other_site):
    po = order(other_site)
    api = client_for(technician)
    assert api.get(f"{P}/purchase-orders/{po.pk}").status_code == 404
    assert api.post(f"{P}/purchase-orders/{po.pk}/send").status_code == 404
    assert PurchaseOrder.objects.get().status == "draft"


def test_from_suggestions_drafts_an_order(technician, site):
    from rxdesk.inventory.models import ParLevel

    ParLevel.objects.create(site=site, package=prozac(), minimum=30, maximum=90)
    api = client_for(technician)
    before = audit_count()
    response = api.post(
        f"{P}/purchase-orders/from-suggestions",
        {"supplier_id": supplier(site).pk},
        content_type="application/json",
    )
    assert response.status_code == 201
    assert [(x["package"]["ndc10"], x["packages_ordered"]) for x in response.json()["lines"]] == [
        ("0002-3227-30", 3)
    ]
    assert audit_count() == before + 1


def test_the_order_list_costs_a_fixed_number_of_queries(
    technician, site, django_assert_max_num_queries
):
    for n in range(1, 21):
        order(site, number=f"PO-{n:06d}")
    api = client_for(technician)
    with django_assert_max_num_queries(8):
        response = api.get(f"{P}/purchase-orders")
    assert len(response.json()) == 20
    sent = api.get(f"{P}/purchase-orders", {"status": "sent"})
    assert sent.json() == []
