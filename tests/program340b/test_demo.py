"""The demo loader: an entity, its lists, a plan billed as 340B, the sold fills captured."""

from __future__ import annotations

import pytest

from rxdesk.claims.models import Payer, Plan
from rxdesk.program340b import demo
from rxdesk.program340b.models import Capture, CoveredEntity, PayerRule
from tests.program340b.factories import package, sold_fill

pytestmark = pytest.mark.django_db


def test_it_loads_once(site, pic, technician):
    Plan.objects.create(
        payer=Payer.objects.create(name="Demo PBM", host="127.0.0.1", port=9),
        name="Demo Commercial",
        bin="610014",
    )
    sold_fill(site, package(), "30")
    demo.load(site, {"pic": pic, "tech": technician})
    demo.load(site, {"pic": pic, "tech": technician})
    assert CoveredEntity.objects.get().opais_id == "DSH140001"
    assert PayerRule.objects.get().basis_of_cost_08
    assert Capture.objects.count() == 1
