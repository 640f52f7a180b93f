"""The printed inventory, read back with pypdf: the registrant's name, address and DEA
number; kind, date, opening or close of business; Schedule II in its own section before
Schedules III–V; each line's figures with exact or estimated; stock held for disposal with
its reason; a zero inventory said so; who signed it and when; page numbers."""

from __future__ import annotations

import datetime as dt
import io
import re

import pytest
from django.test import Client
from pypdf import PdfReader

from rxdesk.controlled import documents_inventory as doc
from rxdesk.controlled import queries_inventories as queries
from rxdesk.controlled.services_inventories import (
    cs_inventory_count,
    cs_inventory_sign,
    cs_inventory_start,
)
from tests.controlled.factories import alprazolam, codeine_syrup, cs_stock, oxycodone


def text_of(pdf: bytes) -> list[str]:
    return [page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages]


def flat(text: str) -> str:
    return re.sub(r"\s+", " ", text)


@pytest.fixture
def registrant(site):
    site.name = "Riverside Test Pharmacy"
    site.address_line1 = "12 Main Street"
    site.city = "Peoria"
    site.state = "IL"
    site.postal_code = "61602"
    site.dea_number = "BR1234563"
    site.save()
    return site


@pytest.mark.django_db
def test_the_signed_inventory_prints_each_section_and_figure(registrant, technician, pic):
    site = registrant
    cs_stock(site, oxycodone(), 130, lot="OX1")
    cs_stock(site, alprazolam(), 1500, lot="AL1")
    cs_stock(site, codeine_syrup(), 200, lot="CV1")
    inventory = cs_inventory_start(
        actor=technician, kind="biennial", taken_on=site.today(), taken_at="close"
    )
    cs_inventory_count(
        actor=technician,
        inventory=inventory,
        ndc="0406-0552-01",
        lot_number="OX1",
        sealed_containers=1,
        opened_quantity="30",
    )
    cs_inventory_count(
        actor=technician,
        inventory=inventory,
        ndc="0228-2029-96",
        lot_number="AL1",
        sealed_containers=1,
        opened_quantity="500",
        estimated=True,
    )
    cs_inventory_count(
        actor=technician,
        inventory=inventory,
        ndc="0603-1585-58",
        lot_number="CV1",
        sealed_containers=0,
        opened_quantity="200",
        estimated=True,
        held_for_disposal=True,
        disposal_reason="Expired 01/2026",
    )
    cs_inventory_sign(actor=pic, inventory=inventory)
    client = Client()
    client.force_login(technician)

    response = client.get(f"/api/v1/controlled/inventories/{inventory.pk}/pdf")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    (page,) = text_of(response.content)
    text = flat(page)
    inventory.refresh_from_db()
    signed_at = inventory.signed_at.astimezone(site.tz)
    for expected in [
        "Controlled substances inventory — Biennial inventory",
        "Registrant: Riverside Test Pharmacy",
        "Address: 12 Main Street, Peoria, IL 61602",
        "DEA registration: BR1234563",
        f"Date: {site.today():%m/%d/%Y} · Taken at: Close of business",
        f"Signed by {pic.display_name}, pharmacist-in-charge, license RPH-051.0099, on "
        f"{signed_at:%m/%d/%Y} at {signed_at:%H:%M}.",
        "Page 1 of 1",
    ]:
        assert expected in text, expected
    schedule_ii = text.index("Schedule II ")
    iii_v = text.index("Schedules III-V")
    disposal = text.index("Stock held for disposal")
    oxy, alp, cod = (text.index(ndc) for ndc in ("0406-0552-01", "0228-2029-96", "0603-1585-58"))
    assert schedule_ii < oxy < iii_v < alp < disposal < cod
    assert "0406-0552-01 OX1 100 EA 1 30 (exact) 130 EA" in text
    assert "0228-2029-96 AL1 1,000 EA 1 500 (estimated) 1,500 EA" in text
    assert "0603-1585-58 CV1 200 ML Expired 01/2026" in text
    assert "ZERO INVENTORY" not in text and "NOT SIGNED" not in text


@pytest.mark.django_db
def test_nothing_on_hand_prints_a_zero_inventory_and_an_open_one_says_not_signed(
    registrant, technician, pic
):
    inventory = cs_inventory_start(
        actor=technician, kind="initial", taken_on=registrant.today(), taken_at="opening"
    )
    draft = flat(text_of(doc.render_inventory(queries.inventory_document(inventory)))[0])
    assert "NOT SIGNED (Being counted): a worksheet, not the inventory of record." in draft
    cs_inventory_sign(actor=pic, inventory=inventory)
    inventory.refresh_from_db()
    text = flat(text_of(doc.render_inventory(queries.inventory_document(inventory)))[0])
    assert "Initial inventory" in text and "Taken at: Opening of business" in text
    assert doc.ZERO_INVENTORY in text
    assert "Schedule II " not in text and "NOT SIGNED" not in text


def _line(n: int, **values) -> doc.Line:
    base = dict(
        drug=f"Drug {n}",
        strength="5 mg/1",
        dosage_form="TABLET",
        ndc=f"0406-{n:04d}-01",
        lot=f"L{n}",
        unit="EA",
        units_per_container="100",
        sealed_containers=n,
        opened="",
        method="",
        total=str(100 * n),
    )
    return doc.Line(**{**base, **values})


def test_a_long_inventory_numbers_its_pages_and_keeps_the_sections_apart():
    document = doc.InventoryDocument(
        inventory_id=7,
        registrant=doc.Registrant("Lakeside Pharmacy", ("1 Lake Road",), "BL1234563"),
        kind="Newly scheduled substance",
        taken_on=dt.date(2026, 3, 2),
        taken_at="Opening of business",
        substance="Tramadol Hydrochloride 50 mg/1 TABLET",
        effective_on=dt.date(2026, 3, 2),
        schedule_ii=tuple(_line(n) for n in range(1, 80)),
        schedule_iii_v=(_line(900, opened="12.5", method="estimated", total="12.5", unit="ML"),),
        signed_by="Pat Quinn",
        signer_license="RPH-1",
        signed_at=dt.datetime(2026, 3, 2, 8, 5),
        status="Signed by the pharmacist-in-charge",
    )
    pages = [flat(p) for p in text_of(doc.render_inventory(document))]
    assert len(pages) >= 3
    for number, page in enumerate(pages, start=1):
        assert f"Page {number} of {len(pages)}" in page
    whole = " ".join(pages)
    assert (
        "Newly scheduled substance: Tramadol Hydrochloride 50 mg/1 TABLET "
        "(rule effective 03/02/2026)" in whole
    )
    assert (
        whole.index("0406-0079-01") < whole.index("Schedules III-V") < whole.index("0406-0900-01")
    )
    assert "12.5 (estimated) 12.5 ML" in whole
    assert (
        "Signed by Pat Quinn, pharmacist-in-charge, license RPH-1, on 03/02/2026 at 08:05." in whole
    )
