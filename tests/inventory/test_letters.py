"""Recall notification letters: the PDF read back with a real PDF parser (pypdf)."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from pypdf import PdfReader

from rxdesk.inventory.letters import (
    CLASS_IN_PLAIN_WORDS,
    Letter,
    Medicine,
    Pharmacy,
    RecallFacts,
    drug_label,
    render_letters,
)

PHARMACY = Pharmacy(
    name="Riverside Pharmacy",
    address_lines=("12 Main St", "Springfield, IL 62704"),
    phone="(217) 555-1100",
)
FACTS = RecallFacts(
    number="D-1362-2012",
    classification="II",
    reason="Presence of foreign substance: stainless steel particles in the tablets.",
    firm="Teva Pharmaceuticals USA",
)


def _letter(name: str, *medicines: Medicine) -> Letter:
    return Letter(
        patient_name=name, address_lines=("4 Elm Ct", "Springfield, IL 62701"), medicines=medicines
    )


ATENOLOL = Medicine(
    drug="Atenolol 25 mg tablet", ndc="0093-0787-01", lot="90A024", dispensed_on=dt.date(2012, 5, 2)
)


def _text(pdf: bytes) -> list[str]:
    return [" ".join(p.extract_text().split()) for p in PdfReader(io.BytesIO(pdf)).pages]


def test_each_patient_gets_a_letter_on_its_own_page():
    pdf = render_letters(
        pharmacy=PHARMACY,
        recall=FACTS,
        letters=[
            _letter("Ana Lima", ATENOLOL),
            _letter(
                "Ben Adams",
                ATENOLOL,
                Medicine("Atenolol 25 mg tablet", "0093-0787-10", "90A028", dt.date(2012, 5, 9)),
            ),
        ],
        dated=dt.date(2012, 6, 15),
    )

    pages = _text(pdf)
    assert len(pages) == 2
    first, second = pages
    assert first.startswith(
        "Riverside Pharmacy 12 Main St Springfield, IL 62704 Telephone (217) 555-1100 "
        "June 15, 2012 Ana Lima 4 Elm Ct Springfield, IL 62701 "
        "Important: a medicine you received is being recalled Dear Ana Lima, "
        "Our records show that you received the medicine below from our pharmacy. "
        "Teva Pharmaceuticals USA, its maker or distributor, is recalling it "
        "(FDA recall D-1362-2012)."
    ), first
    assert (
        "Medicine NDC Lot Date dispensed Atenolol 25 mg tablet 0093-0787-01 90A024 05/02/2012"
        in first
    )
    assert "Why it is being recalled Presence of foreign substance: stainless steel" in first
    assert CLASS_IN_PLAIN_WORDS["II"] in first
    assert (
        "What to do 1. Do not stop taking your medicine without first talking to your "
        "pharmacist or the prescriber who ordered it."
    ) in first
    assert "2. Bring back any of this medicine you have left, in its container" in first
    assert "3. Call us at (217) 555-1100 if you have questions" in first
    assert first.endswith("Sincerely, The pharmacists of Riverside Pharmacy")
    assert "Dear Ben Adams," in second
    assert "0093-0787-10 90A028 05/09/2012" in second
    assert PdfReader(io.BytesIO(pdf)).metadata.title == "Recall notification D-1362-2012"


@pytest.mark.parametrize("klass", ["I", "II", "III"])
def test_the_class_is_said_in_plain_words(klass):
    pdf = render_letters(
        pharmacy=PHARMACY,
        recall=RecallFacts(number="#4", classification=klass, reason="Mislabeled.", firm=""),
        letters=[_letter("Ana Lima", ATENOLOL)],
        dated=dt.date(2026, 1, 5),
    )
    text = _text(pdf)[0]
    assert CLASS_IN_PLAIN_WORDS[klass] in text
    assert "The maker is recalling it (FDA recall #4)." in text


def test_text_from_the_records_is_printed_not_interpreted():
    pdf = render_letters(
        pharmacy=Pharmacy(name="A & B <Drugs>", address_lines=(), phone=""),
        recall=FACTS,
        letters=[_letter("O'Neil <b>Jr</b> & Co", ATENOLOL)],
        dated=dt.date(2026, 1, 5),
    )
    text = _text(pdf)[0]
    assert "Dear O'Neil <b>Jr</b> & Co," in text
    assert "The pharmacists of A & B <Drugs>" in text
    assert "Call us at the pharmacy if you have questions" in text


def test_a_drug_is_named_with_its_strength_and_form():
    assert drug_label("Prozac", "Fluoxetine Hydrochloride", "20 mg/1", "CAPSULE") == (
        "Prozac (fluoxetine hydrochloride) 20 mg capsule"
    )
    assert drug_label("Atenolol", "ATENOLOL", "25 mg/1", "TABLET") == "Atenolol 25 mg tablet"
    assert drug_label("", "amoxicillin", "250 mg/5mL", "POWDER, FOR SUSPENSION") == (
        "Amoxicillin 250 mg/5mL powder, for suspension"
    )
