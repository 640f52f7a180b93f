"""Cabinet feeds through the API: a transaction file, an HL7 message (with its ACK), an
administrations file, the list and one feed; refusals are problem bodies naming the field
with nothing written; patients are named only for roles that may see them; another
pharmacy's feed is 404."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from rxdesk.core.models import AuditEvent
from rxdesk.institutional.models import Administration, CabinetFeed, CabinetMove
from tests.institutional.matrix_feeds import (
    MRN,
    NDC,
    csv_text,
    ft1,
    hl7_message,
    now_stamp,
    now_text,
    patient_of,
    received,
    removal,
    tech_of,
    ward,
)

pytestmark = pytest.mark.django_db

P = "/api/v1/institutional"


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _post(client: Client, path: str, body: Any) -> Any:
    return client.post(path, data=json.dumps(body), content_type="application/json")


def _kept() -> tuple[int, int, int, int]:
    return (
        CabinetFeed.objects.count(),
        CabinetMove.objects.count(),
        Administration.objects.count(),
        AuditEvent.objects.exclude(action__startswith="auth.").count(),
    )


def test_a_file_is_received_and_read_back(site, auditor):
    ward(site, stocked=10)
    api = signed_in(tech_of(site))
    text = csv_text(
        removal(**{"Date Time": now_text(site), "Transaction ID": "TX-1"}),
        removal(**{"Date Time": now_text(site), "Station": "3W-9"}),
    )

    made = _post(api, f"{P}/cabinet-feeds/csv", {"name": "pyxis.csv", "content": text})

    assert made.status_code == 201, made.content
    body = made.json()
    assert (body["kind"], body["source"], body["status"]) == ("cabinet", "csv", "partial")
    assert (body["rows"], body["accepted"]) == (2, 1)
    assert body["notes"] == [
        {"row": 3, "column": "Station", "message": "station 3W-9 is not a cabinet here",
         "kind": "refused"}
    ]  # fmt: skip
    (move,) = body["moves"]
    assert (move["event"], move["quantity"], move["external_id"]) == ("removal", "-2", "TX-1")
    assert move["patient"].endswith(f"(MRN {MRN})")
    listed = api.get(f"{P}/cabinet-feeds").json()
    assert [f["id"] for f in listed] == [body["id"]]
    hidden = signed_in(auditor).get(f"{P}/cabinet-feeds/{body['id']}").json()
    assert hidden["moves"][0]["patient"] == "a patient"
    assert MRN not in json.dumps(hidden)


def test_an_unreadable_file_is_a_422_naming_content(site):
    ward(site)
    api = signed_in(tech_of(site))
    before = _kept()

    bad = _post(api, f"{P}/cabinet-feeds/csv", {"name": "x.csv", "content": "Station,Qty\n1,2\n"})
    nul = _post(api, f"{P}/cabinet-feeds/csv", {"name": "x.csv", "content": "a\u0000b"})
    extra = _post(api, f"{P}/cabinet-feeds/csv", {"content": "x", "evil": 1})

    assert bad.status_code == 422
    assert bad["Content-Type"] == "application/problem+json"
    assert bad.json()["errors"][0]["field"] == "content"
    assert nul.status_code == 422
    assert extra.status_code == 422
    assert _kept() == before


def test_an_hl7_message_answers_with_its_ack(site):
    ward(site, stocked=10)
    api = signed_in(tech_of(site))

    made = _post(
        api,
        f"{P}/cabinet-feeds/hl7",
        {"message": hl7_message(ft1(when=now_stamp(site)), control="C1")},
    )
    bad = _post(
        api,
        f"{P}/cabinet-feeds/hl7",
        {"message": hl7_message(ft1(when=now_stamp(site), qty="2^3"))},
    )
    junk = _post(api, f"{P}/cabinet-feeds/hl7", {"message": "\u0001 not hl7"})
    nul = _post(api, f"{P}/cabinet-feeds/hl7", {"message": "MSH|^~\\&|\u0000"})

    assert made.status_code == 201, made.content
    assert made.json()["ack"].split("\r")[1].startswith("MSA|AA|C1|")
    assert made.json()["feed"]["source"] == "hl7"
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "FT1[1]-10"
    assert junk.status_code == 422
    assert junk.json()["errors"][0]["field"] == "MSH"
    assert nul.status_code == 422  # refused as text before the HL7 parser sees it
    assert nul.json()["errors"][0]["field"] == "message"


def test_administrations_are_imported(site):
    patient_of(site)
    api = signed_in(tech_of(site))
    ward(site)
    text = (
        "Administration ID,Given At,NDC,Quantity,Nurse ID,MRN\n"
        f"A-1,{now_text(site)},{NDC},1,NURSE1,{MRN}\n"
    )

    made = _post(api, f"{P}/administrations/csv", {"name": "emar.csv", "content": text})

    assert made.status_code == 201, made.content
    assert made.json()["kind"] == "administrations"
    assert Administration.objects.get().external_id == "A-1"


def test_the_inventory_specialist_may_read_but_not_import(site, inventory):
    ward(site)
    api = signed_in(inventory)
    before = _kept()

    sent = _post(
        api,
        f"{P}/cabinet-feeds/csv",
        {"name": "x.csv", "content": csv_text(removal(**{"Date Time": now_text(site)}))},
    )

    assert sent.status_code == 403
    assert _kept() == before
    assert api.get(f"{P}/cabinet-feeds").status_code == 200


def test_another_pharmacys_feed_is_not_found(site, outsider):
    feed = received(site)

    assert signed_in(outsider).get(f"{P}/cabinet-feeds/{feed.pk}").status_code == 404
    assert signed_in(tech_of(site)).get(f"{P}/cabinet-feeds/{2**70}").status_code in (404, 422)
