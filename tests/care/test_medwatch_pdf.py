"""The MedWatch PDF: every Form 3500 section, labelled, the patient's initials and never the
name; parsed back with pypdf."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from pypdf import PdfReader

from rxdesk.care import medwatch
from tests.care import quality_setup as qs

pytestmark = pytest.mark.django_db


def _text(data: bytes) -> tuple[int, str]:
    reader = PdfReader(io.BytesIO(data))
    return len(reader.pages), "\n".join(page.extract_text() for page in reader.pages)


def test_the_pdf_has_every_section_and_field_and_no_patient_name(site):
    p = qs.patient(site, first_name="Maria", last_name="Lopez", date_of_birth=dt.date(1950, 3, 4))
    report = qs.ade_draft(
        site,
        patient=p,
        event_date=dt.date(2025, 3, 3),
        outcomes=["death", "hospitalization"],
        death_date=dt.date(2025, 3, 9),
        tests_labs="INR 6.2 on 03/04/2025",
        history="Atrial fibrillation",
        products=[
            {
                "name": "Warfarin sodium",
                "strength": "5 mg",
                "ndc11": "00093172101",
                "lot_number": "LOT77A",
                "dose": "5 mg",
                "frequency": "daily",
                "route": "oral",
                "therapy_start": dt.date(2025, 1, 2),
                "dechallenge": "yes",
            },
            {"name": "Metoprolol", "role": "concomitant", "strength": "25 mg"},
        ],
        reporter_email="rph@example.org",
    )

    data = medwatch.render(report)

    assert data.startswith(b"%PDF")
    pages, text = _text(data)
    assert pages >= 1
    assert f"Page 1 of {pages}" in text
    for label in (
        "Section A",
        "A.1 Patient identifier",
        "Section B",
        "B.2 Outcome",
        "B.3 Date of event",
        "B.5 Describe event",
        "Section C",
        "Section D",
        "Section E",
        "Section F",
        "Section G",
        "G.1 Name",
    ):
        assert label in text, label
    assert "ML" in text
    assert "Lopez" not in text and "Maria" not in text
    assert "75 years" in text or "74 years" in text
    assert "03/03/2025" in text and "03/09/2025" in text
    assert "[X] Death" in text and "[X] Hospitalization" in text and "[ ] Disability" in text
    assert "Warfarin sodium" in text and "LOT77A" in text and "00093172101" in text
    assert "Metoprolol" in text
    assert "INR 6.2" in text and "Atrial fibrillation" in text
    assert "rph@example.org" in text and "(312) 555-0142" in text
    assert "DRAFT" in text


def test_a_long_description_runs_onto_more_pages(site):
    long = "Itching and hives, then swelling of the lips. " * 80
    report = qs.ade_draft(site, description=long, tests_labs=long, history=long)
    pages, text = _text(medwatch.render(report))
    assert pages >= 2
    assert f"Page {pages} of {pages}" in text
