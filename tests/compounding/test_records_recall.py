"""A recall reaches the compounded preparations made from the recalled lots: the recall's
page lists them (through rxdesk.inventory.seams.lot_uses) for whoever may see compounding,
and not for the inventory specialist, who may not."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client
from django.urls import reverse

from rxdesk.compounding.queries_records import recall_uses
from rxdesk.inventory.models import Lot
from rxdesk.inventory.services.recalls import recall_create
from tests.compounding.factories import hc_05, hc_25
from tests.compounding.matrix_records import started

pytestmark = pytest.mark.django_db


def _recall(actor, ndc10: str, lot: str):
    return recall_create(
        actor=actor,
        classification="II",
        reason="Cream may be contaminated with Burkholderia.",
        recall_date=dt.date(2026, 1, 5),
        recall_number="D-0101-2026",
        firm="Fougera",
        items=[{"ndc": ndc10, "lot_number": lot}],
    )


def _page(user, recall) -> str:
    client = Client()
    client.force_login(user)
    response = client.get(reverse("inventory_recall_detail", args=[recall.pk]))
    assert response.status_code == 200
    return response.content.decode()


def test_the_recall_page_names_the_preparation_made_from_the_recalled_lot(
    site, pharmacist, inventory
):
    record = started(site)
    recall = _recall(pharmacist, hc_25().ndc10, "HC25-A")

    page = _page(pharmacist, recall)
    assert "Made from these lots" in page
    assert record.lot_number in page
    assert reverse("compounding_record", args=[record.pk]) in page
    # the inventory specialist sees the recall, not the compounding records
    assert record.lot_number not in _page(inventory, recall)


def test_a_recall_of_a_lot_no_preparation_used_lists_nothing(site, pharmacist):
    started(site)
    recall = _recall(pharmacist, hc_05().ndc10, "NOT-USED")

    assert "Made from these lots" not in _page(pharmacist, recall)


def test_the_seam_names_the_recalled_lot_used_and_only_this_sites_records(
    site, other_site, pharmacist
):
    record = started(site)
    lot = Lot.objects.get(number="HC25-A")

    [use] = recall_uses(pharmacist, site.pk, [lot.pk])
    assert (use.lot_number, use.status) == ("HC25-A", "Being compounded")
    assert record.lot_number in use.what
    assert recall_uses(pharmacist, other_site.pk, [lot.pk]) == []
    assert recall_uses(pharmacist, site.pk, []) == []
