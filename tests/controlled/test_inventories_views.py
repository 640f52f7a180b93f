"""The inventory screens: start one, count each worksheet row from the keyboard (Enter goes
to the next row not counted; an error stays beside its row), the PIC signs on a
confirmation, the PDF prints; the list shows when the next biennial inventory is due."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from rxdesk.controlled import queries_inventories as queries
from rxdesk.controlled.models import CsInventory, CsInventoryLine
from tests.controlled.factories import alprazolam, cs_stock, oxycodone

pytestmark = pytest.mark.django_db


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_an_inventory_is_started_counted_and_signed_from_the_screens(site, technician, pic):
    cs_stock(site, oxycodone(), 130, lot="OX1")
    cs_stock(site, alprazolam(), 1000, lot="AL1")
    counter = client_for(technician)
    listing = counter.get(reverse("cs_inventories"))
    assert b"None signed yet" in listing.content

    started = counter.post(
        reverse("cs_inventory_start"),
        {"kind": "initial", "taken_on": site.today().strftime("%m/%d/%Y"), "taken_at": "close"},
    )

    inventory = CsInventory.objects.get()
    detail_url = reverse("cs_inventory_detail", kwargs={"pk": inventory.pk})
    assert (started.status_code, started["Location"]) == (302, detail_url)
    sheet = counter.get(detail_url).content.decode()
    # The cursor waits in the first row not counted: the Schedule II row comes first.
    assert 'id="row-00406055201-OX1"' in sheet
    first_input = sheet.index('name="sealed_containers"', sheet.index('id="row-00406055201-OX1"'))
    assert "autofocus" in sheet[first_input : sheet.index(">", first_input)]

    refused = counter.post(
        detail_url,
        {
            "ndc": "0406-0552-01",
            "lot_number": "OX1",
            "sealed_containers": "1",
            "opened_quantity": "30",
            "estimated": "on",
        },
    )
    assert refused.status_code == 422
    assert "Schedule II: count the opened container exactly." in refused.content.decode()
    assert CsInventoryLine.objects.count() == 0

    saved = counter.post(
        detail_url,
        {
            "ndc": "0406-0552-01",
            "lot_number": "OX1",
            "sealed_containers": "1",
            "opened_quantity": "30",
        },
    )
    assert saved.status_code == 302
    assert saved["Location"] == f"{detail_url}?next=00228202996-AL1#row-00228202996-AL1"
    counter.post(
        detail_url,
        {
            "ndc": "0228-2029-96",
            "lot_number": "AL1",
            "sealed_containers": "0",
            "opened_quantity": "990",
            "estimated": "on",
        },
    )
    assert list(CsInventoryLine.objects.values_list("method", flat=True).order_by("id")) == [
        "exact",
        "estimate",
    ]

    signer = client_for(pic)
    sign_url = reverse("cs_inventory_sign", kwargs={"pk": inventory.pk})
    assert signer.get(sign_url).status_code == 200
    assert signer.post(sign_url, {}).status_code == 422  # the box not ticked
    assert CsInventory.objects.get().status == "open"
    assert signer.post(sign_url, {"confirm": "on"}).status_code == 302
    assert CsInventory.objects.get().status == "signed"
    signed_page = counter.get(detail_url).content.decode()
    assert "Counted lines (2)" in signed_page and "estimated" in signed_page
    assert 'name="sealed_containers"' not in signed_page
    listing = counter.get(reverse("cs_inventories")).content.decode()
    assert queries.next_biennial_due(site).strftime("%m/%d/%Y") in listing
    pdf = counter.get(reverse("cs_inventory_pdf", kwargs={"pk": inventory.pk}))
    assert (pdf.status_code, pdf["Content-Type"]) == (200, "application/pdf")


def test_the_sign_page_lists_what_is_not_counted(site, technician, pic):
    cs_stock(site, oxycodone(), 100, lot="OX1")
    counter = client_for(technician)
    counter.post(
        reverse("cs_inventory_start"),
        {"kind": "biennial", "taken_on": site.today().strftime("%m/%d/%Y"), "taken_at": "opening"},
    )
    inventory = CsInventory.objects.get()
    response = client_for(pic).post(
        reverse("cs_inventory_sign", kwargs={"pk": inventory.pk}), {"confirm": "on"}
    )
    assert response.status_code == 422
    text = response.content.decode()
    assert "1 package on hand not counted yet: NDC 0406-0552-01 lot OX1." in text
    assert CsInventory.objects.get().status == "open"


def test_a_newly_scheduled_product_is_named_by_an_ndc_on_the_start_form(site, technician):
    response = client_for(technician).post(
        reverse("cs_inventory_start"),
        {
            "kind": "newly_scheduled",
            "taken_on": site.today().strftime("%m/%d/%Y"),
            "taken_at": "opening",
            "product_ndc": "9999-9999-99",
        },
    )
    assert response.status_code == 422
    assert response.context["form"].errors["product_ndc"] == [
        "NDC 9999-9999-99 is not in the drug catalog."
    ]
    assert CsInventory.objects.count() == 0
