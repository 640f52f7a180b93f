"""Patient notification letters for a drug recall, as one PDF (reportlab), one letter a page.

Pure: the caller hands in plain values (rxdesk.inventory.services.recalls builds them from
the recall and the ledger), so the layout and wording are tested without a database. The
wording is plain language for the patient: what they received, why it is recalled, and
what to do — first of all not to stop a medicine without talking to the pharmacist or the
prescriber."""

from __future__ import annotations

import datetime as dt
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.pagesizes import LETTER
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import inch
from reportlab.platypus import (
    KeepTogether,
    PageBreak,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

# FDA's recall classes, in words a patient understands.
CLASS_IN_PLAIN_WORDS = {
    "I": (
        "This is a Class I recall, the most serious kind: there is a reasonable chance that "
        "using the product could cause serious health problems or death."
    ),
    "II": (
        "This is a Class II recall: using the product may cause temporary health problems "
        "that can be treated, and the chance of serious harm is small."
    ),
    "III": (
        "This is a Class III recall: using the product is not likely to cause health "
        "problems, but it does not meet the standards it should."
    ),
}


@dataclass(frozen=True)
class Pharmacy:
    name: str
    address_lines: tuple[str, ...]
    phone: str  # as printed, e.g. "(217) 555-1100"


@dataclass(frozen=True)
class RecallFacts:
    number: str  # the FDA recall number, or the pharmacy's own reference
    classification: str  # "I" | "II" | "III"
    reason: str
    firm: str


@dataclass(frozen=True)
class Medicine:
    drug: str  # name, strength and form
    ndc: str  # as printed on the package
    lot: str
    dispensed_on: dt.date


@dataclass(frozen=True)
class Letter:
    patient_name: str
    address_lines: tuple[str, ...]
    medicines: tuple[Medicine, ...]


def drug_label(name: str, generic: str, strength: str, form: str) -> str:
    """ "Prozac (fluoxetine hydrochloride) 20 mg capsule" from NDC Directory fields."""
    strength = re.sub(r"/1\b", "", strength or "").replace(";", ",").strip()
    parts = [name.strip() or generic.strip().title()]
    if name.strip() and generic.strip() and generic.strip().lower() != name.strip().lower():
        parts.append(f"({generic.strip().lower()})")
    if strength:
        parts.append(strength)
    if form:
        parts.append(form.strip().lower())
    return " ".join(p for p in parts if p)


def _styles() -> dict[str, ParagraphStyle]:
    base = getSampleStyleSheet()
    body = ParagraphStyle("body", parent=base["BodyText"], fontSize=11, leading=15, spaceAfter=6)
    return {
        "pharmacy": ParagraphStyle(
            "pharmacy", parent=body, fontName="Helvetica-Bold", fontSize=14, leading=17
        ),
        "small": ParagraphStyle("small", parent=body, fontSize=10, leading=13, spaceAfter=0),
        "heading": ParagraphStyle(
            "heading",
            parent=body,
            fontName="Helvetica-Bold",
            fontSize=13,
            leading=16,
            spaceBefore=8,
            spaceAfter=6,
        ),
        "subheading": ParagraphStyle(
            "subheading", parent=body, fontName="Helvetica-Bold", spaceBefore=6, spaceAfter=3
        ),
        "body": body,
        "item": ParagraphStyle("item", parent=body, leftIndent=16, bulletIndent=2),
        "cell": ParagraphStyle("cell", parent=body, fontSize=10, leading=12, spaceAfter=0),
    }


def _lines(lines: Sequence[str], style: ParagraphStyle) -> list[Paragraph]:
    return [Paragraph(escape(line), style) for line in lines if line.strip()]


def _letter_story(
    letter: Letter,
    pharmacy: Pharmacy,
    recall: RecallFacts,
    dated: dt.date,
    s: dict[str, ParagraphStyle],
) -> list[object]:
    story: list[object] = [Paragraph(escape(pharmacy.name), s["pharmacy"])]
    story += _lines(pharmacy.address_lines, s["small"])
    if pharmacy.phone:
        story.append(Paragraph(f"Telephone {escape(pharmacy.phone)}", s["small"]))
    story.append(Spacer(1, 0.25 * inch))
    story.append(Paragraph(f"{dated:%B} {dated.day}, {dated.year}", s["body"]))
    story.append(Spacer(1, 0.1 * inch))
    story.append(Paragraph(escape(letter.patient_name), s["small"]))
    story += _lines(letter.address_lines, s["small"])
    story.append(Spacer(1, 0.2 * inch))
    story.append(Paragraph("Important: a medicine you received is being recalled", s["heading"]))
    story.append(Paragraph(f"Dear {escape(letter.patient_name)},", s["body"]))
    who = f"{escape(recall.firm)}, its maker or distributor," if recall.firm else "The maker"
    number = f" (FDA recall {escape(recall.number)})" if recall.number else ""
    story.append(
        Paragraph(
            f"Our records show that you received the medicine below from our pharmacy. "
            f"{who} is recalling it{number}.",
            s["body"],
        )
    )
    rows: list[list[object]] = [["Medicine", "NDC", "Lot", "Date dispensed"]]
    for medicine in letter.medicines:
        rows.append(
            [
                Paragraph(escape(medicine.drug), s["cell"]),
                medicine.ndc,
                medicine.lot,
                f"{medicine.dispensed_on:%m/%d/%Y}",
            ]
        )
    table = Table(rows, colWidths=[3.2 * inch, 1.2 * inch, 1.0 * inch, 1.2 * inch], repeatRows=1)
    table.setStyle(
        TableStyle(
            [
                ("FONTNAME", (0, 0), (-1, 0), "Helvetica-Bold"),
                ("FONTSIZE", (0, 0), (-1, -1), 10),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("LINEBELOW", (0, 0), (-1, 0), 0.75, colors.black),
                ("LINEBELOW", (0, 1), (-1, -1), 0.25, colors.grey),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 4),
            ]
        )
    )
    story += [Spacer(1, 0.05 * inch), table, Spacer(1, 0.1 * inch)]
    story.append(Paragraph("Why it is being recalled", s["subheading"]))
    story.append(Paragraph(escape(recall.reason), s["body"]))
    story.append(Paragraph(CLASS_IN_PLAIN_WORDS.get(recall.classification, ""), s["body"]))
    phone = escape(pharmacy.phone) if pharmacy.phone else "the pharmacy"
    steps = [
        "<b>Do not stop taking your medicine</b> without first talking to your pharmacist or "
        "the prescriber who ordered it. Stopping suddenly can be more harmful than the "
        "problem that caused the recall.",
        "<b>Bring back</b> any of this medicine you have left, in its container, to the "
        "pharmacy. We will help you get a supply that is not affected.",
        f"<b>Call us at {phone}</b> if you have questions, or if you have had a problem you "
        "think may be related to this medicine.",
    ]
    what = [Paragraph("What to do", s["subheading"])]
    what += [
        Paragraph(step, s["item"], bulletText=f"{n}.") for n, step in enumerate(steps, start=1)
    ]
    story.append(KeepTogether(what))
    story.append(Spacer(1, 0.15 * inch))
    story.append(Paragraph("Sincerely,", s["body"]))
    story.append(Paragraph(f"The pharmacists of {escape(pharmacy.name)}", s["body"]))
    return story


def render_letters(
    *, pharmacy: Pharmacy, recall: RecallFacts, letters: Sequence[Letter], dated: dt.date
) -> bytes:
    """One PDF with a letter per patient, each starting on a new page."""
    buffer = io.BytesIO()
    title = f"Recall notification {recall.number}".strip()
    doc = SimpleDocTemplate(
        buffer,
        pagesize=LETTER,
        leftMargin=0.9 * inch,
        rightMargin=0.9 * inch,
        topMargin=0.8 * inch,
        bottomMargin=0.8 * inch,
        title=title,
        author=pharmacy.name,
        subject="Patient notification of a drug recall",
    )
    styles = _styles()
    story: list[object] = []
    for index, letter in enumerate(letters):
        if index:
            story.append(PageBreak())
        story += _letter_story(letter, pharmacy, recall, dated, styles)
    doc.build(story)
    return buffer.getvalue()
