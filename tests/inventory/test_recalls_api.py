"""The recall API at /api/v1/inventory/recalls, through django.test.Client."""

from __future__ import annotations

import io

import pytest
from django.test import Client
from pypdf import PdfReader

from rxdesk.core.choices import Role
from rxdesk.inventory.choices import LotStatus
from rxdesk.inventory.models import Recall, RecallStock, StockBalance
from tests.conftest import audit_count, last_event
from tests.factories import PatientFactory, UserFactory
from tests.inventory.factories import package, stock
from tests.inventory.matrix_recalls import IMPORT_RECORD, dispense, make_recall

pytestmark = pytest.mark.django_db

P = "/api/v1/inventory/recalls"


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


BODY = {
    "classification": "I",
    "reason": "Mislabeled: bottles labeled 20 mg hold 40 mg capsules.",
    "recall_date": "2026-01-05",
    "recall_number": "D-0099-2026",
    "firm": "Eli Lilly and Company",
    "items": [{"ndc": "00002322730", "lot_number": "a1"}],
}


def test_it_enters_a_recall_and_shows_the_stock_it_quarantined(site, other_site, pharmacist):
    pkg = package()
    here = stock(site, pkg, "A1", 100)
    stock(other_site, pkg, "A1", 40)

    response = _client(pharmacist).post(P, BODY, content_type="application/json")

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["recall_number"] == "D-0099-2026"
    assert body["classification"] == "I"
    assert body["status"] == "open"
    assert body["entered_at_site"] == site.pk
    assert body["items"] == [
        {"ndc": "0002-3227-30", "ndc11": "00002322730", "product": "Prozac", "lot_number": "A1"}
    ]
    [row] = body["stock"]
    assert row["id"] == RecallStock.objects.get(balance=here).pk
    assert (row["ndc"], row["lot_number"], row["quantity_at_quarantine"], row["status"]) == (
        "0002-3227-30",
        "A1",
        "100.000",
        "recalled",
    )
    assert [
        (s["site_name"], s["balances"], s["quantity"], s["outstanding"]) for s in body["sites"]
    ] == [
        ("Lakeside Pharmacy", 1, "40.000", 1),
        ("Riverside Test Pharmacy", 1, "100.000", 1),
    ]
    assert last_event().action == "inventory.recall.created"


def test_a_bad_item_is_a_problem_naming_it(site, pharmacist):
    package()
    client = _client(pharmacist)
    before = audit_count()
    body = dict(BODY, items=[{"ndc": "0002-3227-30"}, {"ndc": "11111-1111-11", "lot_number": ""}])

    response = client.post(P, body, content_type="application/json")

    assert response.status_code == 422
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["errors"] == [
        {"field": "items.1.ndc", "message": "NDC 11111-1111-11 is not in the drug catalog."}
    ]
    assert (Recall.objects.count(), audit_count()) == (0, before)


def test_a_second_open_recall_with_the_number_is_a_conflict(site, pharmacist):
    package()
    client = _client(pharmacist)
    assert client.post(P, BODY, content_type="application/json").status_code == 201
    response = client.post(P, BODY, content_type="application/json")
    assert response.status_code == 409
    assert response.json()["detail"] == "Recall D-0099-2026 is already open."


def test_it_imports_an_openfda_record(site, inventory):
    stock(site, package(), "L9", 12)

    response = _client(inventory).post(
        f"{P}/import-openfda", IMPORT_RECORD, content_type="application/json"
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["recall"]["recall_number"] == "D-0456-2026"
    assert body["recall"]["source"] == "openfda"
    assert (body["lots"], body["all_lots"], body["ndcs_not_in_catalog"], body["notes"]) == (
        ["L9"],
        False,
        [],
        [],
    )
    assert StockBalance.objects.get().status == LotStatus.RECALLED


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"results": []}, 422, "results"),
        (dict(IMPORT_RECORD, classification="Class 2"), 422, "classification"),
        ([IMPORT_RECORD], 422, ""),
    ],
)
def test_a_bad_openfda_record_is_a_problem(site, pharmacist, body, status, field):
    package()
    response = _client(pharmacist).post(
        f"{P}/import-openfda", body, content_type="application/json"
    )
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/problem+json"
    if field:
        assert response.json()["errors"][0]["field"] == field
    assert not Recall.objects.exists()


def test_text_that_is_not_json_is_refused(site, pharmacist):
    response = _client(pharmacist).post(
        f"{P}/import-openfda", "{not json", content_type="application/json"
    )
    assert response.status_code in (400, 422)
    assert not Recall.objects.exists()


def test_it_lists_and_filters_recalls(site, pharmacist):
    stock(site, package(), "L1", 5)
    recall = make_recall(site)
    client = _client(pharmacist)

    listed = client.get(P).json()
    assert [(r["id"], r["item_count"], r["stock_here"]) for r in listed] == [(recall.pk, 1, 1)]
    assert client.get(f"{P}?status=closed").json() == []
    assert client.get(f"{P}?status=bogus").status_code == 422
    assert client.get(f"{P}/{recall.pk + 1}").status_code == 404


def test_it_lists_the_patients_and_prints_their_letters(site, technician):
    balance = stock(site, package(), "L1", 100)
    ana = PatientFactory(site=site, first_name="Ana", last_name="Lima", phone_mobile="2175550101")
    move = dispense(site, balance, ana, 30, ref=("fill", 77))
    recall = make_recall(site)
    client = _client(technician)

    patients = client.get(f"{P}/{recall.pk}/patients").json()

    assert patients == [
        {
            "patient_id": ana.pk,
            "first_name": "Ana",
            "last_name": "Lima",
            "date_of_birth": "1970-05-17",
            "phone": "2175550101",
            "ndc": "0002-3227-30",
            "lot_number": "L1",
            "dispensed": "30.000",
            "returned": "0.000",
            "net_quantity": "30.000",
            "first_dispensed_at": patients[0]["first_dispensed_at"],
            "last_dispensed_at": patients[0]["last_dispensed_at"],
            "dispensings": [
                {
                    "move_id": move.pk,
                    "occurred_at": patients[0]["last_dispensed_at"],
                    "quantity": "30.000",
                    "reference_type": "fill",
                    "reference_id": "77",
                }
            ],
        }
    ]

    letters = client.get(f"{P}/{recall.pk}/letters")

    assert letters.status_code == 200
    assert letters["Content-Type"] == "application/pdf"
    assert letters["Content-Disposition"] == 'inline; filename="D-0001-2026-letters.pdf"'
    [page] = PdfReader(io.BytesIO(letters.content)).pages
    assert "Dear Ana Lima," in page.extract_text()
    assert last_event().action == "inventory.recall.letters_printed"


def test_letters_with_no_patient_are_a_conflict(site, technician):
    package()
    recall = make_recall(site)
    response = _client(technician).get(f"{P}/{recall.pk}/letters")
    assert response.status_code == 409
    assert response["Content-Type"] == "application/problem+json"


def test_stock_is_resolved_then_the_recall_closed(site, other_site, pharmacist):
    pkg = package()
    here = stock(site, pkg, "L1", 30)
    there = stock(other_site, pkg, "L1", 30)
    recall = make_recall(site)
    client = _client(pharmacist)
    mine = RecallStock.objects.get(balance=here)
    theirs = RecallStock.objects.get(balance=there)

    refused = client.post(
        f"{P}/{recall.pk}/close", {"closing_note": "Done"}, content_type="application/json"
    )
    assert refused.status_code == 409
    assert refused.json()["detail"].startswith("2 quarantined lots at 2 sites")

    resolved = client.post(
        f"{P}/{recall.pk}/stock/{mine.pk}/resolve",
        {"resolution": "Returned to vendor"},
        content_type="application/json",
    )
    assert resolved.status_code == 200, resolved.content
    assert (resolved.json()["resolution"], resolved.json()["on_hand"]) == (
        "Returned to vendor",
        "30.000",
    )
    again = client.post(
        f"{P}/{recall.pk}/stock/{mine.pk}/resolve",
        {"resolution": "Destroyed"},
        content_type="application/json",
    )
    assert again.status_code == 409
    other = client.post(
        f"{P}/{recall.pk}/stock/{theirs.pk}/resolve",
        {"resolution": "Destroyed"},
        content_type="application/json",
    )
    assert other.status_code == 404

    colleague = UserFactory(site=other_site, role=Role.PHARMACIST, username="rph-there")
    assert (
        _client(colleague)
        .post(
            f"{P}/{recall.pk}/stock/{theirs.pk}/resolve",
            {"resolution": "None found"},
            content_type="application/json",
        )
        .status_code
        == 200
    )
    closed = client.post(
        f"{P}/{recall.pk}/close",
        {"closing_note": "All returned."},
        content_type="application/json",
    )
    assert closed.status_code == 200, closed.content
    assert (closed.json()["status"], closed.json()["closing_note"]) == ("closed", "All returned.")
    here.refresh_from_db()
    assert here.status == LotStatus.RECALLED
