"""A search page costs the same number of queries for 2 rows as for 6 (no query per row)
for every type of part A."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from rxdesk.core.models import Site, User
from rxdesk.fhir import bundle
from rxdesk.fhir.registry import TYPES, Context
from rxdesk.patients import services
from tests.factories import PatientFactory, PrescriberFactory

NPIS = ["1234567893", "1245319599", "1679576722", "1003000126", "1588667638", "1497758544"]


def _patient(site: Site, actor: User, n: int) -> None:
    patient = PatientFactory(site=site, phone_mobile="2175550143", email="p@example.org")
    services.identifier_add(actor=actor, patient=patient, kind="mrn", value=f"M{n}")


def _prescriber(site: Site, actor: User, n: int) -> None:
    prescriber = PrescriberFactory(site=site, npi=NPIS[n])
    services.prescriber_address_add(
        actor=actor,
        prescriber=prescriber,
        address_line1="1 Main St",
        city="Springfield",
        state="IL",
        postal_code="62701",
        phone="2175550123",
    )


def _allergy(site: Site, actor: User, n: int) -> None:
    services.allergy_add(
        actor=actor,
        patient=PatientFactory(site=site),
        allergen=f"Drug {n}",
        allergen_kind="ingredient",
        reaction="Rash",
    )


def _condition(site: Site, actor: User, n: int) -> None:
    services.condition_add(
        actor=actor, patient=PatientFactory(site=site), description="Asthma", icd10="J45.909"
    )


def _queries(type_name: str, ctx: Context) -> int:
    with CaptureQueriesContext(connection) as captured:
        bundle.search(TYPES[type_name], ctx, {}, count=50, offset=0)
    return len(captured)


@pytest.mark.parametrize(
    ("type_name", "make"),
    [
        ("Patient", _patient),
        ("Practitioner", _prescriber),
        ("AllergyIntolerance", _allergy),
        ("Condition", _condition),
    ],
)
def test_a_search_page_costs_no_query_per_row(
    site, pharmacist, type_name: str, make: Callable[[Site, User, int], Any]
):
    ctx = Context(site=site, actor=pharmacist, base="http://testserver/fhir")
    for n in range(2):
        make(site, pharmacist, n)
    with_two = _queries(type_name, ctx)
    for n in range(2, 6):
        make(site, pharmacist, n)

    assert _queries(type_name, ctx) == with_two
