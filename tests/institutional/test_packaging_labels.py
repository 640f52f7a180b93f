"""Packaging labels read back with pypdf: a sheet of unit-dose labels (one per unit; drug,
strength, form, internal lot, BUD, manufacturer and its lot, the NDC), and the med pak's
label (patient, serials, each drug's identification and directions, prescriber, dates,
the pharmacy, the days × slots grid); both only after the check; each print audited."""

from __future__ import annotations

import io

import pytest
from pypdf import PdfReader

from rxdesk.core.errors import Conflict
from rxdesk.institutional import labels_packaging as labels
from rxdesk.institutional import services_packaging as services
from tests.conftest import last_event
from tests.institutional.matrix_packaging import (
    checker_of,
    maker_of,
    pak,
    pak_checked,
    repack_checked,
    repacked,
)

pytestmark = pytest.mark.django_db


def _pages(pdf: bytes) -> list[str]:
    reader = PdfReader(io.BytesIO(pdf))
    return [" ".join(p.extract_text().split()) for p in reader.pages]


def _dress(site):
    site.address_line1, site.city, site.state, site.postal_code, site.phone = (
        "100 Main St",
        "Springfield",
        "IL",
        "62701",
        "2175550100",
    )
    site.save()


def test_unit_dose_labels_one_per_unit_with_what_the_board_asks(site):
    record = repack_checked(site)  # 30 units: one sheet of 30

    pdf = services.repack_labels_print(actor=maker_of(site), record=record)

    pages = _pages(pdf)
    assert len(pages) == 1
    text = pages[0]
    assert text.count(f"Lot {record.number}") == 30
    assert text.count(f"BUD {record.bud:%m/%d/%Y}") == 30
    assert "Prozac 20 mg Capsule" in text
    assert "Eli Lilly and Company, lot SRC1" in text
    assert f"NDC {record.package.ndc10}" in text
    event = last_event()
    assert event.action == "institutional.repack.labeled"


def test_a_longer_run_takes_more_sheets(site):
    record = services.repack_check(actor=checker_of(site), record=repacked(site, quantity="31"))
    assert len(_pages(labels.unit_dose_labels(record))) == 2


def test_no_unit_dose_labels_before_the_check(site):
    record = repacked(site)
    with pytest.raises(Conflict):
        labels.unit_dose_labels(record)
    with pytest.raises(Conflict):
        services.repack_labels_print(actor=maker_of(site), record=record)


def test_the_med_pak_label_carries_what_usp_lists(site):
    _dress(site)
    card = pak_checked(site)
    items = list(card.items.select_related("prescription__prescriber").order_by("id"))

    pdf = services.med_pak_label_print(actor=maker_of(site), pak=card)

    text = " ".join(_pages(pdf))
    assert card.patient.full_name in text
    assert f"Med pak {card.number}" in text
    for item in items:
        assert f"Rx {item.prescription.number}" in text
        assert item.prescription.prescriber.full_name in text
        assert item.lot.number in text
    assert "green oblong capsule, imprint DISTA 3105" in text
    assert "white round, imprint DISTA 3105" in text
    assert "Total 7 (morning 1 each day)" in text
    assert f"Prepared {card.prepared_on:%m/%d/%Y}" in text
    assert f"Beyond-use date {card.bud:%m/%d/%Y}" in text
    assert "Store at 20" in text
    assert "Riverside Test Pharmacy" in text and "(217) 555-0100" in text
    assert "100 Main St, Springfield, IL 62701" in text
    # The grid: a row per day, a column per slot, the drugs by letter.
    assert "Morning" in text and "Bedtime" in text
    first = card.start_on
    assert f"{first:%a} {first:%m/%d}" in text
    assert text.count("A 1") == 7 and text.count("B 1") == 7
    event = last_event()
    assert event.action == "institutional.med_pak.labeled"
    assert event.patient_id == card.patient_id


def test_no_med_pak_label_before_the_check(site):
    card = pak(site)
    with pytest.raises(Conflict):
        labels.med_pak_label(card)
