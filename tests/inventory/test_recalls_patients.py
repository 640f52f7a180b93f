"""Every patient who received an affected lot, from the ledger (dispensings net of returns to
stock), and their notification letters as a real PDF."""

from __future__ import annotations

import copy
import io
import json
from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from pypdf import PdfReader

from rxdesk.core.errors import Conflict, Forbidden
from rxdesk.core.models import Site
from rxdesk.inventory import ledger
from rxdesk.inventory.choices import MoveReason
from rxdesk.inventory.models import StockBalance, StockMove
from rxdesk.inventory.queries_recalls import recall_notified, recall_patients
from rxdesk.inventory.services.recalls import recall_letters_print
from tests.conftest import audit_count, last_event, on_postgres
from tests.factories import PatientFactory
from tests.inventory.factories import package, stock
from tests.inventory.matrix_recalls import dispense, make_recall

pytestmark = pytest.mark.django_db


def _return(site: Site, balance: StockBalance, patient, quantity) -> None:
    with transaction.atomic():
        ledger.post_in(
            site=site,
            lot=balance.lot,
            quantity=Decimal(quantity),
            reason=MoveReason.RETURN_TO_STOCK,
            actor=None,
            patient_id=patient.pk,
            ref=ledger.Ref("fill", "r"),
        )


@pytest.fixture
def scene(site, other_site):
    """Lot L1 (recalled) and L2 (not) of Prozac, dispensed to five patients at two sites."""
    Site.objects.filter(pk=site.pk).update(
        address_line1="12 Main St",
        city="Springfield",
        state="IL",
        postal_code="62704",
        phone="2175551100",
    )
    site.refresh_from_db()
    pkg = package()
    l1 = stock(site, pkg, "L1", 200)
    l2 = stock(site, pkg, "L2", 200)
    there = stock(other_site, pkg, "L1", 100)
    ana = PatientFactory(
        site=site,
        first_name="Ana",
        last_name="Lima",
        address_line1="4 Elm Ct",
        city="Springfield",
        state="IL",
        postal_code="62701",
        phone_mobile="2175550101",
    )
    ben = PatientFactory(site=site, first_name="Ben", last_name="Adams")
    cy = PatientFactory(site=site, first_name="Cy", last_name="Baker")
    dee = PatientFactory(site=site, first_name="Dee", last_name="Cole")
    eve = PatientFactory(site=other_site, first_name="Eve", last_name="Diaz")
    dispense(site, l1, ana, 30, ref=("fill", 11))
    dispense(site, l1, ben, 30, ref=("fill", 12))
    _return(site, l1, ben, 30)  # never picked up
    dispense(site, l1, cy, 20, ref=("fill", 13))
    dispense(site, l1, cy, 10, ref=("fill", 14))
    _return(site, l1, cy, 5)
    dispense(site, l2, dee, 30, ref=("fill", 15))
    dispense(other_site, there, eve, 30, ref=("fill", 16))
    with transaction.atomic():  # a sale with no patient on it (e.g. a wasted partial)
        ledger.post_out(balance=l1, quantity=Decimal(3), reason=MoveReason.WASTE, actor=None)
    recall = make_recall(site, lot="L1")
    return {"recall": recall, "ana": ana, "ben": ben, "cy": cy, "eve": eve}


def test_it_lists_each_patient_who_kept_some_of_an_affected_lot(scene, technician):
    rows = recall_patients(actor=technician, recall=scene["recall"])

    assert [
        (
            r.patient.first_name,
            r.lot.number,
            r.dispensed,
            r.returned,
            r.net,
            [(d.quantity, d.reference_type, d.reference_id) for d in r.dispensings],
        )
        for r in rows
    ] == [
        (
            "Cy",
            "L1",
            Decimal("30.000"),
            Decimal("5.000"),
            Decimal("25.000"),
            [
                (Decimal("20.000"), "fill", "13"),
                (Decimal("10.000"), "fill", "14"),
            ],
        ),
        (
            "Ana",
            "L1",
            Decimal("30.000"),
            Decimal("0.000"),
            Decimal("30.000"),
            [
                (Decimal("30.000"), "fill", "11"),
            ],
        ),
    ]
    cy = rows[0]
    assert cy.first_dispensed_at <= cy.last_dispensed_at
    assert cy.dispensings[-1].occurred_at == cy.last_dispensed_at


def test_the_other_site_sees_only_its_own_patients(scene, outsider):
    rows = recall_patients(actor=outsider, recall=scene["recall"])
    assert [(r.patient.first_name, r.net) for r in rows] == [("Eve", Decimal("30.000"))]


@pytest.mark.parametrize("role_fixture", ["inventory", "auditor", "admin_user"])
def test_it_needs_patient_and_inventory_rights(request, scene, role_fixture):
    with pytest.raises(Forbidden):
        recall_patients(actor=request.getfixturevalue(role_fixture), recall=scene["recall"])


def test_it_answers_in_a_few_queries(scene, technician, django_assert_max_num_queries):
    with django_assert_max_num_queries(5):
        recall_patients(actor=technician, recall=scene["recall"])


def _move_queries(actor, recall) -> list[str]:
    with CaptureQueriesContext(connection) as captured:
        recall_patients(actor=actor, recall=recall)
    return [q["sql"] for q in captured.captured_queries if "inventory_stockmove" in q["sql"]]


@pytest.mark.skipif(on_postgres(), reason="SQLite's planner")
def test_sqlite_reads_the_moves_through_the_lot_reason_index(scene, technician):
    # Only the recalled lots' moves are read, never the site's whole dispensing history
    # through (site, reason, occurred_at) — what SQLite picks, with no statistics, for a
    # plain site filter (bench/recall_bench.py shows the difference at 1,000,000 moves).
    queries = _move_queries(technician, scene["recall"])
    assert len(queries) == 2
    with connection.cursor() as cursor:
        for sql in queries:
            cursor.execute(f"EXPLAIN QUERY PLAN {sql}")
            plan = " | ".join(str(row[-1]) for row in cursor.fetchall())
            assert plan.startswith(
                "SEARCH inventory_stockmove USING INDEX move_lot_reason (lot_id=? AND reason=?)"
            ), plan


@pytest.mark.postgres
def test_postgres_reads_the_moves_through_the_lot_reason_index(scene, technician):
    queries = _move_queries(technician, scene["recall"])
    # A pharmacy's history: thousands of other dispensings (lot L2), and statistics that
    # say so. On a nearly empty table the planner may as well read through any index,
    # depending on when autovacuum last analysed it.
    history = StockMove.objects.filter(lot__number="L2", reason="dispense").first()
    assert history is not None
    copies = []
    for _ in range(3000):
        history.pk = None
        copies.append(copy.copy(history))
    StockMove.objects.bulk_create(copies)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE inventory_stockmove")
        cursor.execute("SET LOCAL enable_seqscan = off")
        for sql in queries:
            cursor.execute(f"EXPLAIN {sql}")
            plan = "\n".join(row[0] for row in cursor.fetchall())
            # (lot, reason) or the lot foreign key's own index: lot-led either way.
            assert "Index Cond: (lot_id = " in plan, plan


# --- Letters -------------------------------------------------------------------------------


def _pages(pdf: bytes) -> list[str]:
    reader = PdfReader(io.BytesIO(pdf))
    return [" ".join(page.extract_text().split()) for page in reader.pages]


def test_it_prints_one_letter_per_patient(scene, technician, site):
    pdf = recall_letters_print(actor=technician, recall=scene["recall"])

    assert pdf.startswith(b"%PDF-")
    pages = _pages(pdf)
    assert len(pages) == 2  # Cy, then Ana (by name), one page each
    ana = pages[1]
    today = site.today()
    for expected in [
        "Riverside Test Pharmacy",
        "12 Main St",
        "Springfield, IL 62704",
        "Telephone (217) 555-1100",
        f"{today:%B} {today.day}, {today.year}",
        "Ana Lima",
        "4 Elm Ct",
        "Springfield, IL 62701",
        "Dear Ana Lima,",
        "Eli Lilly and Company, its maker or distributor, is recalling it (FDA recall "
        "D-0001-2026).",
        "Prozac (fluoxetine hydrochloride) 20 mg capsule",
        "0002-3227-30",
        "L1",
        "Presence of foreign substance: metal particles found in tablets.",
        "This is a Class II recall",
        "Do not stop taking your medicine without first talking to your pharmacist or the "
        "prescriber",
        "Bring back any of this medicine you have left",
        "Call us at (217) 555-1100",
        "The pharmacists of Riverside Test Pharmacy",
    ]:
        assert expected in ana, expected
    assert "Dear Cy Doe" not in pages[0] and "Dear Cy Baker," in pages[0]
    event = last_event()
    assert (event.action, event.object_id, event.site_id) == (
        "inventory.recall.letters_printed",
        str(scene["recall"].pk),
        site.pk,
    )
    assert json.loads(event.data) == {
        "patients": 2,
        "patient_ids": sorted([scene["ana"].pk, scene["cy"].pk]),
        "lots": ["L1"],
    }
    assert recall_notified(actor=technician, recall=scene["recall"]) == {
        scene["ana"].pk,
        scene["cy"].pk,
    }


def test_no_patient_no_letter(site, pharmacist):
    stock(site, package(), "L1", 30)
    recall = make_recall(site)
    before = audit_count()
    with pytest.raises(Conflict, match="no letter to print"):
        recall_letters_print(actor=pharmacist, recall=recall)
    assert audit_count() == before


@pytest.mark.parametrize("role_fixture", ["inventory", "auditor"])
def test_printing_letters_needs_patient_rights(request, scene, role_fixture):
    before = audit_count()
    with pytest.raises(Forbidden):
        recall_letters_print(actor=request.getfixturevalue(role_fixture), recall=scene["recall"])
    assert audit_count() == before
