"""The formulary API: a few calls through the ninja test client, exact bodies."""

from __future__ import annotations

import json

from django.test import Client

from rxdesk.formulary.models import FormularyEntry
from rxdesk.rx.models import Prescription
from tests.formulary.setup import fluoxetine, ppis, protocol, rx

P = "/api/v1/formulary"


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _post(client: Client, path: str, body: dict) -> object:
    return client.post(path, data=json.dumps(body), content_type="application/json")


def test_the_pic_adds_lists_and_removes_an_entry(pic):
    drugs = fluoxetine()
    client = _client(pic)
    added = _post(client, f"{P}/entries", {"product_id": drugs["teva"].pk, "status": "preferred"})
    assert added.status_code == 201
    body = added.json()
    assert (body["status"], body["status_label"], body["product"]["labeler"]) == (
        "preferred",
        "Preferred",
        "Teva",
    )
    listed = client.get(f"{P}/entries", {"status": "preferred"}).json()
    assert [e["id"] for e in listed] == [body["id"]]
    assert client.delete(f"{P}/entries/{body['id']}").status_code == 204
    assert FormularyEntry.objects.count() == 0


def test_a_restricted_entry_without_criteria_is_a_422_naming_the_field(pic):
    drugs = fluoxetine()
    answer = _post(
        _client(pic), f"{P}/entries", {"product_id": drugs["teva"].pk, "status": "restricted"}
    )
    assert answer.status_code == 422
    assert answer["Content-Type"] == "application/problem+json"
    assert "criteria" in answer.content.decode()


def test_the_offer_for_an_rx(pic, pharmacist):
    # Nothing on formulary, in stock or priced: same name, so catalog order.
    drugs = fluoxetine()
    old = rx(pharmacist, drugs["prozac"])
    body = _client(pharmacist).get(f"{P}/rx/{old.pk}/offer").json()
    assert (body["daw"], body["may_offer"], body["te_code"]) == (0, True, "AB")
    assert [e["product"]["labeler"] for e in body["equivalents"]] == ["Teva", "Mylan", "Aurobindo"]


def test_a_pharmacist_accepts_through_the_api(site, pharmacist):
    row = protocol(site)
    old = rx(pharmacist, ppis()["ome20"])
    client = _client(pharmacist)
    (suggestion,) = client.get(f"{P}/rx/{old.pk}/suggestions").json()
    assert (suggestion["protocol_id"], suggestion["conversion"]) == (row.pk, "20 mg/1 → 40 mg")
    answer = _post(
        client,
        f"{P}/rx/{old.pk}/decide",
        {"protocol_id": row.pk, "accept": True, "prescriber_notified": "electronic"},
    )
    assert answer.status_code == 201
    new = Prescription.objects.get(replaces=old)
    assert answer.json()["new_prescription_id"] == new.pk
    again = _post(client, f"{P}/rx/{old.pk}/decide", {"protocol_id": row.pk, "accept": True})
    assert again.status_code == 409


def test_a_protocol_is_drafted_changed_and_approved(pic):
    drugs = ppis()
    client = _client(pic)
    _post(client, f"{P}/entries", {"product_id": drugs["panto40"].pk, "status": "formulary"})
    made = _post(
        client,
        f"{P}/protocols",
        {
            "name": "PPI",
            "from_ingredient": "omeprazole",
            "to_product_id": drugs["panto40"].pk,
            "ratio": "2",
        },
    )
    assert made.status_code == 201 and made.json()["status"] == "draft"
    pk = made.json()["id"]
    changed = client.patch(
        f"{P}/protocols/{pk}",
        data=json.dumps({"conversions": [{"from": "20 mg", "to": "40 mg"}]}),
        content_type="application/json",
    )
    assert changed.json()["conversions"] == [{"from": "20 mg", "to": "40 mg"}]
    assert changed.json()["ratio"] == "2.0000"
    approved = _post(client, f"{P}/protocols/{pk}/approve", {})
    assert (approved.json()["status"], approved.json()["approved_by"]) == ("approved", pic.username)
