"""The label of a compounded preparation: what it says (the compounded-preparation statement,
BUD — with its time when the BUD is short —, storage, route, lot, actives, the single-dose
statement of a sterile preparation, the HD warning, the patient and Rx number) and that the
PDF carries it (text extracted with pypdf)."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal

import pytest
from pypdf import PdfReader

from rxdesk.compounding import labels
from rxdesk.compounding import services_records as services
from tests.compounding.factories import hc_25
from tests.compounding.matrix_records import (
    bench,
    checker_of,
    maker_of,
    measured,
    verified,
)
from tests.factories import PatientFactory
from tests.inventory.factories import stock

pytestmark = pytest.mark.django_db


def _pdf_text(pdf: bytes) -> str:
    reader = PdfReader(io.BytesIO(pdf))
    assert len(reader.pages) == 1
    box = reader.pages[0].mediabox
    assert (float(box.width), float(box.height)) == (288.0, 180.0)  # 4 × 2.5 in
    return " ".join(reader.pages[0].extract_text().split())


def _finish(record):
    tech = maker_of(record.site)
    measured(record, tech)
    services.record_check(actor=tech, record=record, name="Visual", result="ok", passed=True)
    services.record_submit(actor=tech, record=record)
    return services.record_verify(actor=checker_of(record.site), record=record)


def test_a_nonsterile_cream_label_says_what_usp_asks(site):
    site.address_line1, site.city, site.postal_code, site.phone = (
        "100 Main St",
        "Springfield",
        "62701",
        "2175550100",
    )
    site.save()
    record = verified(site)
    bud_day = record.beyond_use.astimezone(site.tz)

    data = labels.label_data(record)
    text = _pdf_text(labels.label_pdf(data))

    assert data.preparation == "Hydrocortisone 1 % cream"
    assert data.actives == ("Hydrocortisone 2.5 % cream 25 g",)
    assert data.total == "Total: 100 g"
    assert data.beyond_use == f"BUD: {bud_day:%m/%d/%Y}"  # 35 days: the date only
    assert data.container == "" and data.patient == ""
    for words in (
        "Hydrocortisone 1 % cream",
        "Hydrocortisone 2.5 % cream 25 g",
        "Total: 100 g",
        "This is a compounded preparation",
        f"BUD: {bud_day:%m/%d/%Y}",
        "Store at controlled room temperature 20–25 °C",
        "Route: topical",
        "For external use only",
        f"Lot {record.lot_number}",
        "Riverside Test Pharmacy",
        "100 Main St, Springfield, IL 62701",
        "(217) 555-0100",
    ):
        assert words in text, words
    assert f"{bud_day:%H:%M}" not in data.beyond_use


def test_a_sterile_bag_label_has_its_storage_dose_statement_and_patient(site):
    the_bench = bench(site)
    patient = PatientFactory(site=site, first_name="Ann", last_name="Lee")
    record = services.record_start(
        actor=maker_of(site),
        formula=the_bench["vanco"],
        quantity="1",
        unit="bag",
        control=the_bench["hood"],
        patient=patient,
    )
    record = _finish(record)

    text = _pdf_text(labels.label_pdf(labels.label_data(record)))

    for words in (
        "Ann Lee",
        "Vancomycin in 0.9 % sodium chloride 1 g/250 mL intravenous solution",
        "Vancomycin 1 g vial 1 each",
        "This is a compounded preparation",
        "Store in refrigerator 2–8 °C",
        "Route: intravenous",
        "Single-dose container",
    ):
        assert words in text, words
    assert "Hazardous drug" not in text


def test_a_short_bud_prints_its_time(site):
    the_bench = bench(site)
    near = site.today() + dt.timedelta(days=2)
    stock(site, hc_25(), "HC25-NEAR", 100, near)
    record = _finish(
        services.record_start(
            actor=maker_of(site), formula=the_bench["hc"], quantity=Decimal("100"), unit="g"
        )
    )

    data = labels.label_data(record)

    assert data.shows_time is True
    assert data.beyond_use == f"BUD: {near:%m/%d/%Y} 23:59"
    assert data.beyond_use in _pdf_text(labels.label_pdf(data))


def test_a_hazardous_preparation_carries_the_warning(site):
    record = verified(site)
    record.hazardous = True  # as read: the label follows the record's own flag

    data = labels.label_data(record)

    assert data.warnings[0] == "Hazardous drug — handle with gloves"
    assert "Hazardous drug — handle with gloves" in _pdf_text(labels.label_pdf(data))


def test_a_long_label_still_fits_one_page(site):
    record = verified(site)
    record.formula.labeling = "\n".join(f"Auxiliary statement number {n}" for n in range(12))

    text = _pdf_text(labels.label_pdf(labels.label_data(record)))

    assert "Auxiliary statement number 11" in text
    assert "This is a compounded preparation" in text
