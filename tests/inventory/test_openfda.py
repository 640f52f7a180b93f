"""The openFDA enforcement record parser: pure, tested without a database, and never failing
with anything but its own RecordError."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rxdesk.inventory.openfda import RecordError, parse_enforcement, read_lots

SAMPLES = Path(__file__).resolve().parents[3] / "shared" / "data" / "openfda-samples"

# The shape of https://api.fda.gov/drug/enforcement.json records.
RECORD = {
    "country": "United States",
    "city": "Parsippany",
    "reason_for_recall": "CGMP Deviations: presence of NDMA above the acceptable intake limit.",
    "address_1": "400 Interpace Pkwy",
    "product_quantity": "12,345 bottles",
    "code_info": "Lot #: 12345, Exp 12/2025; Lot 67890",
    "center_classification_date": "20240117",
    "distribution_pattern": "Nationwide",
    "state": "NJ",
    "product_description": "Metformin HCl ER tablets, 500 mg, 100-count bottle, Rx only, "
    "NDC 62332-0180-31",
    "report_date": "20240124",
    "classification": "Class II",
    "openfda": {
        "package_ndc": ["62332-180-31", "62332-180-90"],
        "product_ndc": ["62332-180"],
        "generic_name": ["METFORMIN HYDROCHLORIDE"],
    },
    "recall_number": "D-0234-2024",
    "recalling_firm": "Alembic Pharmaceuticals Inc.",
    "initial_firm_notification": "Letter",
    "event_id": "93731",
    "product_type": "Drugs",
    "termination_date": "",
    "recall_initiation_date": "20231221",
    "postal_code": "07054",
    "voluntary_mandated": "Voluntary: Firm initiated",
    "status": "Ongoing",
}


def test_it_reads_a_current_record():
    record = parse_enforcement(json.dumps(RECORD))

    assert record.recall_number == "D-0234-2024"
    assert record.classification == "II"
    assert record.recall_date == dt.date(2023, 12, 21)
    assert record.firm == "Alembic Pharmaceuticals Inc."
    assert record.status == "Ongoing"
    assert record.reason.startswith("CGMP Deviations")
    # openfda.package_ndc first, then the description's 5-4-2 NDC (the same package).
    assert record.package_ndcs == ("62332018031", "62332018090")
    assert record.product_ndcs == ("62332-180",)
    assert record.lots == ("12345", "67890")
    assert (record.all_lots, record.lot_note, record.unreadable_ndcs) == (False, "", ())


def test_it_reads_the_api_response_and_bytes():
    body = json.dumps({"meta": {"results": {"total": 1}}, "results": [RECORD]}).encode()
    assert parse_enforcement(body).recall_number == "D-0234-2024"
    assert parse_enforcement({"results": [RECORD]}).lots == ("12345", "67890")


@pytest.mark.skipif(not SAMPLES.exists(), reason="../shared/data/openfda-samples missing")
def test_it_reads_the_fda_report_files_older_hyphenated_fields():
    drugs = [
        parse_enforcement(line)
        for line in (SAMPLES / "enforcement_ucm308307.json").read_text().splitlines()
        if '"product-type": "Drugs"' in line
    ]
    assert [
        (r.recall_number, r.classification, r.recall_date, r.package_ndcs, r.lots) for r in drugs
    ] == [
        (
            "D-1362-2012",
            "II",
            dt.date(2012, 6, 13),
            ("00093078701", "00093078710"),
            ("90A024", "90A026", "90A028"),
        ),
        ("D-1369-2012", "II", dt.date(2012, 6, 13), ("11704060001",), ("8D1082", "8D1151")),
        (
            "D-1370-2012",
            "II",
            dt.date(2012, 6, 13),
            ("24208028015",),
            ("467061", "487551", "507521", "548051", "132171", "136571", "140181"),
        ),
        ("D-1367-2012", "III", dt.date(2012, 6, 13), ("00781524892",), ("BJ3186", "BJ3142")),
        (
            "D-1368-2012",
            "III",
            dt.date(2012, 6, 13),
            ("00781558436",),
            (
                "LF00478C",
                "LF00479C",
                "LF00551C",
                "LF00552C",
                "LF00687C",
                "LF00688C",
                "LF00763C",
                "LF00764C",
                "LF00765C",
                "LF01261C",
            ),
        ),
    ]


@pytest.mark.skipif(not SAMPLES.exists(), reason="../shared/data/openfda-samples missing")
def test_a_food_or_device_record_is_refused_naming_the_field():
    food = (SAMPLES / "enforcement_ucm308307.json").read_text().splitlines()[0]
    with pytest.raises(RecordError) as caught:
        parse_enforcement(food)
    assert (caught.value.field, caught.value.message) == (
        "product_type",
        "This is a food recall, not a drug recall.",
    )
    with pytest.raises(RecordError) as caught:
        parse_enforcement((SAMPLES / "enforcement_one-recall.json").read_bytes())
    assert caught.value.field == "classification"


@pytest.mark.parametrize(
    ("code_info", "lots"),
    [
        ("Lot #: 12345, Exp 12/2025; Lot 67890", ("12345", "67890")),
        (
            "Lot #'s: a) 90A024, 90A026, Exp 09/13; b) 90A028, Exp 09/13",
            ("90A024", "90A026", "90A028"),
        ),
        ("Lot # 8D1082, Exp 01/13; 8D1151, Exp 03/13", ("8D1082", "8D1151")),
        ("1) - 5) Lot #030813", ("030813",)),
        ("Lot Number: A123, Exp. Date: December 31, 2025, 4567B", ("A123", "4567B")),
        ("lot: 19a123 exp 12 2025 19A124 exp 2026", ("19A123", "19A124")),
        ("Lot 12-3456 exp 2025-12", ("12-3456",)),
        ("Lot 123456 UPC 3 0781-5248-92 5", ("123456",)),
        ("Batch No. GH5521 (2 units), GH5522", ("GH5521", "GH5522")),
        ("Lots: X1Y2 & Z3W4 and Q5R6; Exp. 2026-03-31", ("X1Y2", "Z3W4", "Q5R6")),
    ],
)
def test_it_reads_lot_numbers_from_code_info(code_info, lots):
    assert read_lots(code_info) == (lots, False, "")


@pytest.mark.parametrize(
    ("code_info", "note"),
    [
        ("", "The record gives no lot numbers: every lot is recalled."),
        ("All lots within expiry", "The record recalls all lots."),
        ("ALL UNEXPIRED product", "The record recalls all lots."),
        (
            "Expiration dates from 01/19/2012 through 05/02/2012 and lot number from 00112 "
            "through 10412",
            "The record gives a range of lots, which cannot be listed: every lot is recalled.",
        ),
        (
            "Lots 1234-1240",
            "The record gives a range of lots (1234-1240), which cannot be listed: every lot is "
            "recalled.",
        ),
        ("Exp 12/2025", "No lot number could be read from the record: every lot is recalled."),
        ("Units: 0886922", "No lot number could be read from the record: every lot is recalled."),
        ("Lot " + "9" * 41, "A lot number could not be read: every lot is recalled."),
    ],
)
def test_when_lots_cannot_be_read_every_lot_is_recalled(code_info, note):
    # Quarantining too much is the safe error: an unreadable lot list never recalls fewer.
    assert read_lots(code_info) == ((), True, note)


@pytest.mark.parametrize(
    ("record", "field"),
    [
        ("", "record"),
        ("[1, 2]", "record"),
        (b"\xff\xfe", "record"),
        ('{"results": []}', "results"),
        ('{"results": [1]}', "results.0"),
        (json.dumps(dict(RECORD, classification=None)), "classification"),
        (json.dumps(dict(RECORD, classification=2)), "classification"),
        (json.dumps(dict(RECORD, reason_for_recall=" ")), "reason_for_recall"),
        (json.dumps(dict(RECORD, recall_initiation_date="21/12/2023")), "recall_initiation_date"),
        (
            json.dumps({k: v for k, v in RECORD.items() if "date" not in k}),
            "recall_initiation_date",
        ),
        (json.dumps(dict(RECORD, openfda=["x"])), "openfda"),
        (json.dumps(dict(RECORD, openfda={"package_ndc": [1]})), "openfda.package_ndc"),
        (
            json.dumps(dict(RECORD, openfda={}, product_description="Tablets")),
            "product_description",
        ),
        (json.dumps(dict(RECORD, recall_number="D" * 31)), "recall_number"),
    ],
)
def test_a_bad_record_names_its_field(record, field):
    with pytest.raises(RecordError) as caught:
        parse_enforcement(record)
    assert caught.value.field == field


def test_ndcs_that_are_no_ndcs_are_reported():
    record = parse_enforcement(
        dict(RECORD, openfda={"package_ndc": ["1-2-3", "62332-180-31"], "product_ndc": ["x"]})
    )
    assert record.package_ndcs == ("62332018031",)
    assert record.unreadable_ndcs == ("1-2-3", "x")


def test_the_recall_number_is_found_in_the_description_when_missing():
    record = parse_enforcement(
        dict(
            RECORD,
            recall_number="",
            product_description="Tablets, NDC 0093-0787-01. Recall # D-1362-2012",
        )
    )
    assert record.recall_number == "D-1362-2012"


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=5)
    ),
    max_leaves=20,
)
field_names = st.sampled_from(
    [
        "classification",
        "reason_for_recall",
        "reason-for-recall",
        "recall_initiation_date",
        "report_date",
        "code_info",
        "code-info",
        "product_description",
        "recall_number",
        "recalling_firm",
        "openfda",
        "results",
        "product_type",
        "more_code_info",
    ]
)
records = st.dictionaries(field_names, json_values | st.text(), max_size=10)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(records, records.map(json.dumps), st.text(), st.binary(), json_values))
def test_it_never_fails_with_anything_but_its_own_error(value):
    try:
        parse_enforcement(value)
    except RecordError as exc:
        assert exc.field


@settings(max_examples=300)
@given(
    st.builds(
        lambda base, code: dict(base, code_info=code),
        st.just(RECORD),
        st.text(
            alphabet=st.sampled_from("Lot #:,;()/-.ExpAND 0123456789ABCXYZthrough"), max_size=80
        ),
    )
)
def test_any_code_info_gives_lots_or_every_lot(record):
    parsed = parse_enforcement(record)
    assert parsed.all_lots == (not parsed.lots)
    assert all(0 < len(lot) <= 40 and lot == lot.upper() for lot in parsed.lots)
