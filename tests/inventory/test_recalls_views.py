"""The recall screens: list, entering a recall (typed or pasted from openFDA), its status
page, letters, resolving stock and closing."""

from __future__ import annotations

import json

import pytest
from django.test import Client
from django.urls import reverse

from rxdesk.inventory.choices import LotStatus, RecallStatus
from rxdesk.inventory.models import Recall, RecallStock, StockBalance
from tests.factories import PatientFactory
from tests.inventory.factories import package, stock
from tests.inventory.matrix_recalls import IMPORT_RECORD, dispense, make_recall

pytestmark = pytest.mark.django_db


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _messages(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


def test_the_list_shows_every_recall_in_few_queries(
    site, pharmacist, django_assert_max_num_queries
):
    package()
    package("0002-3228-30")
    make_recall(site, number="D-0001-2026")
    make_recall(site, ndc="0002-3228-30", number="D-0002-2026", classification="I")
    client = _client(pharmacist)

    # Sign-in and session (6) plus the one list query, however many recalls there are.
    with django_assert_max_num_queries(8):
        response = client.get(reverse("inventory_recalls"))

    assert response.status_code == 200
    html = response.content.decode()
    assert "D-0001-2026" in html and "D-0002-2026" in html
    assert "Class I</span>" in html
    assert reverse("inventory_recall_create") in html
    closed = client.get(reverse("inventory_recalls") + "?status=closed")
    assert "No recalls with this status." in closed.content.decode()


def test_a_technician_sees_the_list_without_the_new_button(site, technician):
    response = _client(technician).get(reverse("inventory_recalls"))
    assert response.status_code == 200
    assert reverse("inventory_recall_create") not in response.content.decode()


def test_it_enters_a_recall_from_the_form(site, other_site, pharmacist):
    pkg = package()
    stock(site, pkg, "A1", 10)
    stock(site, pkg, "A2", 10)
    stock(other_site, pkg, "A1", 10)

    response = _client(pharmacist).post(
        reverse("inventory_recall_create"),
        {
            "classification": "II",
            "recall_date": "01/05/2026",
            "recall_number": "D-0077-2026",
            "reason": "Failed dissolution.",
            "ndc_0": "0002-3227-30",
            "lots_0": "a1, A2",
        },
        follow=True,
    )

    recall = Recall.objects.get()
    assert response.redirect_chain == [
        (reverse("inventory_recall_detail", kwargs={"pk": recall.pk}), 302)
    ]
    assert _messages(response) == ["Recall D-0077-2026 entered: 3 lots quarantined at 2 sites."]
    assert sorted(recall.items.values_list("lot_number", flat=True)) == ["A1", "A2"]
    assert StockBalance.objects.filter(status=LotStatus.RECALLED).count() == 3


def test_a_bad_ndc_is_shown_beside_its_row(site, pharmacist):
    package()
    response = _client(pharmacist).post(
        reverse("inventory_recall_create"),
        {
            "classification": "II",
            "recall_date": "01/05/2026",
            "reason": "Failed dissolution.",
            "ndc_0": "0002-3227-30",
            "lots_0": "all",
            "ndc_2": "12345-678-90",
            "lots_2": "X1 X2",
        },
    )
    assert response.status_code == 422
    form = response.context["form"]
    assert form.errors == {"ndc_2": ["NDC 12345-678-90 is not in the drug catalog."]}
    assert not Recall.objects.exists()


def test_every_lot_must_be_asked_for_with_all(site, pharmacist):
    pkg = package()
    stock(site, pkg, "A1", 10)
    stock(site, pkg, "A2", 10)
    client = _client(pharmacist)
    header = {"classification": "II", "recall_date": "01/05/2026", "reason": "Failed assay."}

    # A scanner's Enter submits the form with the lot box still empty: not "every lot".
    scanned = client.post(reverse("inventory_recall_create"), {**header, "ndc_0": "00002322730"})
    assert scanned.status_code == 422
    assert scanned.context["form"].errors == {
        "lots_0": ["Type the lot numbers, or ALL for every lot."]
    }
    assert not Recall.objects.exists()

    every = client.post(
        reverse("inventory_recall_create"), {**header, "ndc_0": "00002322730", "lots_0": "ALL"}
    )
    assert every.status_code == 302
    assert list(Recall.objects.get().items.values_list("lot_number", flat=True)) == [""]
    assert StockBalance.objects.filter(status=LotStatus.RECALLED).count() == 2


def test_an_empty_form_names_what_is_missing(site, pharmacist):
    response = _client(pharmacist).post(reverse("inventory_recall_create"), {})
    assert response.status_code == 422
    assert set(response.context["form"].errors) == {"classification", "recall_date", "reason"}
    no_items = _client(pharmacist).post(
        reverse("inventory_recall_create"),
        {"classification": "III", "recall_date": "01/05/2026", "reason": "Label typo."},
    )
    assert no_items.status_code == 422
    assert no_items.context["form"].errors == {"ndc_0": ["Name at least one NDC."]}


def test_a_pasted_openfda_record_is_imported(site, inventory):
    stock(site, package(), "L9", 10)
    record = dict(IMPORT_RECORD, code_info="see firm's letter")

    response = _client(inventory).post(
        reverse("inventory_recall_import"), {"record": json.dumps(record)}, follow=True
    )

    recall = Recall.objects.get()
    assert response.redirect_chain[-1][0] == reverse(
        "inventory_recall_detail", kwargs={"pk": recall.pk}
    )
    assert _messages(response) == [
        "Recall D-0456-2026 entered: 1 lot quarantined at 1 site.",
        "No lot number could be read from the record: every lot is recalled.",
    ]


def test_a_bad_record_is_shown_beside_the_box(site, inventory):
    package()
    response = _client(inventory).post(reverse("inventory_recall_import"), {"record": "{oops"})
    assert response.status_code == 422
    assert response.context["import_form"].errors == {
        "record": ["This is not valid JSON (line 1, column 2)."]
    }
    missing = _client(inventory).post(
        reverse("inventory_recall_import"),
        {"record": json.dumps(dict(IMPORT_RECORD, classification=""))},
    )
    assert missing.context["import_form"].errors == {
        "record": ["classification: The record has no classification (Class I, II or III)."]
    }


@pytest.fixture
def recalled(site, other_site):
    pkg = package()
    here = stock(site, pkg, "L1", 100)
    stock(other_site, pkg, "L1", 40)
    ana = PatientFactory(site=site, first_name="Ana", last_name="Lima")
    dispense(site, here, ana, 30, ref=("fill", 77))
    return make_recall(site)


def test_the_status_page_shows_stock_here_counts_elsewhere_and_patients(
    recalled, technician, django_assert_max_num_queries
):
    client = _client(technician)
    # 17, and 3 for the compounded preparations made from the lots (the lots, their
    # components) and 2 for the unit doses repackaged and the med paks packed from them:
    # rxdesk.inventory.seams.lot_uses — a fixed number, whatever the number of lots
    with django_assert_max_num_queries(22):
        response = client.get(reverse("inventory_recall_detail", kwargs={"pk": recalled.pk}))

    assert response.status_code == 200
    html = response.content.decode()
    assert [
        (r.balance.lot.number, r.quantity_at_quarantine) for r in response.context["stock"]
    ] == [("L1", 70)]
    assert [(s.site_name, s.balances, s.outstanding) for s in response.context["other_sites"]] == [
        ("Lakeside Pharmacy", 1, 1)
    ]
    assert "Lima, Ana" in html
    assert "fill 77" in html
    assert "1 patient · 0 sent a letter" in html
    assert reverse("inventory_recall_letters", kwargs={"pk": recalled.pk}) in html
    assert "Record outcome" not in html  # a technician does not resolve recalled stock


def test_the_inventory_specialist_sees_no_patient(recalled, inventory):
    response = _client(inventory).get(
        reverse("inventory_recall_detail", kwargs={"pk": recalled.pk})
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert "Lima" not in html
    assert "Patients who received" not in html
    assert "Record outcome" in html


def test_printing_letters_gives_the_pdf_and_counts_the_patients(recalled, technician):
    client = _client(technician)
    url = reverse("inventory_recall_letters", kwargs={"pk": recalled.pk})

    response = client.post(url)

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF-")
    page = client.get(reverse("inventory_recall_detail", kwargs={"pk": recalled.pk}))
    assert "1 patient · 1 sent a letter" in page.content.decode()


def test_with_no_patient_the_letters_button_explains(site, pharmacist):
    package()
    recall = make_recall(site)
    response = _client(pharmacist).post(
        reverse("inventory_recall_letters", kwargs={"pk": recall.pk}), follow=True
    )
    assert _messages(response) == [
        "No patient of this pharmacy received an affected lot: no letter to print."
    ]


def test_resolving_and_closing_from_the_screens(recalled, pharmacist, other_site):
    client = _client(pharmacist)
    close_url = reverse("inventory_recall_close", kwargs={"pk": recalled.pk})

    refused = client.post(close_url, {"closing_note": "Done."})
    assert refused.status_code == 409
    assert refused.context["form"].non_field_errors() == [
        "2 quarantined lots at 2 sites still hold stock with no resolution; record what "
        "became of them first."
    ]

    for row in RecallStock.objects.filter(recall=recalled).select_related("balance"):
        if row.balance.site_id == other_site.pk:
            continue  # theirs to resolve
        url = reverse("inventory_recall_resolve", kwargs={"pk": recalled.pk, "stock_pk": row.pk})
        assert client.get(url).status_code == 200
        assert client.post(url, {}).status_code == 422
        done = client.post(url, {"resolution": "Destroyed by reverse distributor"})
        assert done.status_code == 302
    theirs = RecallStock.objects.get(recall=recalled, balance__site=other_site)
    elsewhere = reverse(
        "inventory_recall_resolve", kwargs={"pk": recalled.pk, "stock_pk": theirs.pk}
    )
    assert client.get(elsewhere).status_code == 404

    still = client.post(close_url, {"closing_note": "Done."})
    assert still.status_code == 409
    assert "1 quarantined lot at 1 site" in still.context["form"].non_field_errors()[0]
    assert Recall.objects.get().status == RecallStatus.OPEN


def test_a_recall_that_found_no_stock_closes_from_the_screen(site, pharmacist):
    package()
    recall = make_recall(site)
    client = _client(pharmacist)
    url = reverse("inventory_recall_close", kwargs={"pk": recall.pk})

    assert client.get(url).status_code == 200
    response = client.post(url, {"closing_note": "None held; notice filed."}, follow=True)

    assert _messages(response) == ["The recall is closed. Recalled stock stays quarantined."]
    recall.refresh_from_db()
    assert (recall.status, recall.closing_note) == (RecallStatus.CLOSED, "None held; notice filed.")
    assert "closed" in response.content.decode()
