"""The database itself refuses what the services never do: negative stock, a second
open excursion on one unit, a second open recall under one FDA number."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import IntegrityError, transaction

from rxdesk.inventory.models import Excursion, Recall, StockBalance
from tests.inventory.factories import package, stock
from tests.inventory.matrix_coldchain import open_excursion

pytestmark = pytest.mark.django_db


def test_a_balance_cannot_be_stored_below_zero(site):
    balance = stock(site, package(), "A", 5)
    with pytest.raises(IntegrityError), transaction.atomic():
        StockBalance.objects.filter(pk=balance.pk).update(on_hand=-1)


def test_a_unit_has_at_most_one_open_excursion(site):
    first = open_excursion(site)
    with pytest.raises(IntegrityError), transaction.atomic():
        Excursion.objects.create(
            location=first.location, reading=first.reading, lowest_c=3, highest_c=12
        )
    Excursion.objects.filter(pk=first.pk).update(status="released")
    Excursion.objects.create(
        location=first.location, reading=first.reading, lowest_c=3, highest_c=12
    )


def test_an_fda_recall_number_is_open_once(site):
    values = {
        "classification": "II",
        "reason": "Subpotent",
        "recall_date": dt.date(2026, 1, 5),
        "recall_number": "D-0001-2026",
        "entered_at_site": site,
    }
    first = Recall.objects.create(**values)
    with pytest.raises(IntegrityError), transaction.atomic():
        Recall.objects.create(**values)
    Recall.objects.filter(pk=first.pk).update(status="closed")
    Recall.objects.create(**values)
    # Recalls typed without an FDA number are not held to it.
    Recall.objects.create(**{**values, "recall_number": ""})
    Recall.objects.create(**{**values, "recall_number": ""})
