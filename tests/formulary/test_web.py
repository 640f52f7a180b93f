"""The formulary screens: what they show and what a form posts (through the services)."""

from __future__ import annotations

import csv
import io

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from rxdesk.formulary import services
from rxdesk.formulary.models import FormularyEntry, InterchangeDecision, InterchangeProtocol
from rxdesk.rx.models import Prescription
from tests.catalog.factories import ProductFactory
from tests.formulary.setup import fluoxetine, ppis, protocol, rx


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_the_list_filters_by_status_and_keeps_its_query_count(pic):
    drugs = fluoxetine()
    services.formulary_entry_set(actor=pic, product=drugs["teva"], status="preferred")
    services.formulary_entry_set(actor=pic, product=drugs["prozac"], status="non_formulary")
    client = _client(pic)
    with CaptureQueriesContext(connection) as few:
        page = client.get(reverse("formulary_home"), {"status": "preferred"})
    body = page.content.decode()
    assert page.status_code == 200
    assert "Teva" in body and "Eli Lilly" not in body and "Entries (1)" in body
    for key in ("mylan", "aurobindo", "bx"):
        services.formulary_entry_set(actor=pic, product=drugs[key], status="preferred")
    with CaptureQueriesContext(connection) as more:
        client.get(reverse("formulary_home"), {"status": "preferred"})
    assert len(more) == len(few)


def test_the_pic_adds_a_product_from_the_form(pic):
    product = ProductFactory()
    page = _client(pic).post(
        reverse("formulary_product", kwargs={"product_id": product.pk}),
        {"status": "restricted", "tier": "2", "criteria": "Cardiology only"},
    )
    assert page.status_code == 302
    entry = FormularyEntry.objects.get()
    assert (entry.product_id, entry.status, entry.tier, entry.criteria) == (
        product.pk,
        "restricted",
        2,
        "Cardiology only",
    )


def test_a_broken_rule_shows_beside_the_field(pic):
    product = ProductFactory()
    page = _client(pic).post(
        reverse("formulary_product", kwargs={"product_id": product.pk}), {"status": "restricted"}
    )
    assert page.status_code == 422
    assert "needs its criteria" in page.content.decode()
    assert FormularyEntry.objects.count() == 0


def test_the_export_reads_back_through_the_import(pic):
    drugs = fluoxetine()
    services.formulary_entry_set(actor=pic, product=drugs["teva"], status="preferred", tier=1)
    page = _client(pic).get(reverse("formulary_export"))
    assert page["Content-Type"] == "text/csv; charset=utf-8"
    text = page.content.decode()
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [(r["product_id"], r["status"], r["tier"]) for r in rows] == [
        (str(drugs["teva"].pk), "preferred", "1")
    ]
    FormularyEntry.objects.all().delete()
    page = _client(pic).post(reverse("formulary_import"), {"text": text})
    assert page.status_code == 302
    assert FormularyEntry.objects.get().product_id == drugs["teva"].pk


def test_a_bad_import_names_its_lines(pic):
    page = _client(pic).post(reverse("formulary_import"), {"text": "ndc,status\n9999-9999,gold\n"})
    assert page.status_code == 422
    assert "Line 2: 9999-9999 is not in the catalog." in page.content.decode()


def test_the_pic_drafts_and_approves_a_protocol_from_the_screens(site, pic):
    drugs = ppis()
    services.formulary_entry_set(actor=pic, product=drugs["panto40"], status="preferred")
    client = _client(pic)
    page = client.post(
        reverse("formulary_protocol_new"),
        {
            "name": "PPI interchange",
            "from_ingredient": "omeprazole",
            "to_product": drugs["panto40"].pk,
            "conversions": "20 mg = 40 mg\n40 mg = 40 mg",
        },
    )
    row = InterchangeProtocol.objects.get()
    assert page.status_code == 302 and row.conversions == [
        {"from": "20 mg", "to": "40 mg"},
        {"from": "40 mg", "to": "40 mg"},
    ]
    client.post(reverse("formulary_protocol_approve", kwargs={"pk": row.pk}))
    row.refresh_from_db()
    assert row.status == "approved" and row.approved_by_id == pic.pk
    page = client.get(reverse("formulary_protocol", kwargs={"pk": row.pk}))
    assert "Approved" in page.content.decode()


def test_the_rx_screen_shows_the_daw_code_offer_and_suggestion(site, pharmacist):
    protocol(site)
    old = rx(pharmacist, ppis()["ome20"], daw=2)
    page = _client(pharmacist).get(reverse("formulary_rx", kwargs={"pk": old.pk}))
    body = page.content.decode()
    assert page.status_code == 200
    assert "2 – Substitution allowed, patient requested product dispensed" in body
    assert "DAW 2: the patient asked for the product as written." in body
    assert "Omeprazole to pantoprazole" in body and "20 mg/1 → 40 mg" in body
    assert 'action="/formulary/rx/' in body


def test_a_technician_sees_the_suggestion_without_the_form(site, pharmacist, technician):
    protocol(site)
    old = rx(pharmacist, ppis()["ome20"])
    body = _client(technician).get(reverse("formulary_rx", kwargs={"pk": old.pk})).content.decode()
    assert "Omeprazole to pantoprazole" in body and "Record the decision" not in body


def test_the_pharmacist_accepts_from_the_screen(site, pharmacist):
    row = protocol(site)
    old = rx(pharmacist, ppis()["ome20"])
    page = _client(pharmacist).post(
        reverse("formulary_rx_decide", kwargs={"pk": old.pk}),
        {
            "protocol": row.pk,
            "decision": "accept",
            "prescriber_notified": "phone",
            "directions": "",
        },
    )
    new = Prescription.objects.get(replaces=old)
    assert page.status_code == 302 and page["Location"] == f"/formulary/rx/{new.pk}/"
    decision = InterchangeDecision.objects.get()
    assert (decision.accepted, decision.prescriber_notified) == (True, "phone")


def test_declining_without_a_reason_shows_the_rule(site, pharmacist):
    row = protocol(site)
    old = rx(pharmacist, ppis()["ome20"])
    page = _client(pharmacist).post(
        reverse("formulary_rx_decide", kwargs={"pk": old.pk}),
        {"protocol": row.pk, "decision": "decline"},
    )
    assert page.status_code == 422
    assert "Say why the interchange is declined." in page.content.decode()
    assert InterchangeDecision.objects.count() == 0


@pytest.mark.parametrize("name", ["formulary_rx", "formulary_rx_decide"])
def test_another_sites_rx_is_a_404(site, other_site, pharmacist, name):
    from rxdesk.core.choices import Role
    from tests.formulary.setup import user

    theirs = rx(user(other_site, Role.PHARMACIST), ppis()["ome20"])
    client = _client(pharmacist)
    url = reverse(name, kwargs={"pk": theirs.pk})
    page = client.get(url) if name == "formulary_rx" else client.post(url, {})
    assert page.status_code == 404
