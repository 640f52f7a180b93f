"""The DEA Form 41 record of controlled substances destroyed on site, as a PDF (reportlab).

Pure: the caller hands in plain values (rxdesk.controlled.queries_disposal builds them from
a Destruction and its lines), so the layout and wording are tested without a database.

What the form holds (reference controlled-substances.md §5.2): the registrant's name, DEA
number, address and telephone; for each package destroyed its NDC, name, strength, form,
package quantity, number of full packages, partial package count and total destroyed; the
date, method and location of destruction; and two authorized employees who print their
names and declare that they personally witnessed the destruction to a non-retrievable
state. The form is kept two years at the pharmacy, not sent to DEA unless asked for."""

from __future__ import annotations

import datetime as dt
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.pagesizes import LETTER, landscape
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import inch
from reportlab.platypus import KeepTogether, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

TITLE = "DEA Form 41 — Registrant Record of Controlled Substances Destroyed"
DECLARATION = (
    "Under penalty of perjury, we, the undersigned authorized employees, declare that we "
    "personally witnessed the destruction of the controlled substances listed above to a "
    "non-retrievable state, by the method and at the place and time stated."
)
KEEP = (
    "Keep this record at the registered location for at least two years. It is not sent to "
    "DEA unless DEA asks for it."
)


@dataclass(frozen=True)
class Registrant:
    name: str
    dea_number: str
    address_lines: tuple[str, ...]
    phone: str  # as printed, e.g. "(217) 555-1100"
    contact: str = ""  # who to ask about this record


@dataclass(frozen=True)
class Item:
    ndc: str  # as printed on the package, e.g. "0406-0552-01"
    name: str
    strength: str
    form: str
    schedule: str
    lot: str
    package_quantity: Decimal
    unit: str  # NCPDP billing unit: EA, ML, GM
    full_packages: int
    partial: Decimal
    total: Decimal


@dataclass(frozen=True)
class Signer:
    name: str  # printed name
    username: str
    at: dt.datetime  # when they re-authenticated, aware
    factors: str  # "password" or "password+totp"


@dataclass(frozen=True)
class Form41:
    number: int
    registrant: Registrant
    items: tuple[Item, ...]
    destroyed_at: dt.datetime  # aware
    method: str
    location: str
    performed_by: str
    witnesses: tuple[Signer, ...]
    tz: dt.tzinfo
    note: str = ""


def amount(value: Decimal) -> str:
    """A quantity as people write it: 100, 2.5, 0.125 (never 1E+2 or 100.000)."""
    text = format(value.normalize(), "f")
    return text


def strength_label(strength: str) -> str:
    """ "5 mg/1" → "5 mg"; "6.25 mg/5mL; 10 mg/5mL" → "6.25 mg/5mL, 10 mg/5mL"."""
    return re.sub(r"/1\b", "", strength or "").replace(";", ",").strip()


def local(when: dt.datetime, tz: dt.tzinfo) -> str:
    moment = when.astimezone(tz)
    return f"{moment:%m/%d/%Y %H:%M} {moment.tzname() or ''}".strip()


def _styles() -> dict[str, ParagraphStyle]:
    base = getSampleStyleSheet()
    body = ParagraphStyle("body", parent=base["BodyText"], fontSize=10, leading=13, spaceAfter=4)
    return {
        "title": ParagraphStyle(
            "title", parent=body, fontName="Helvetica-Bold", fontSize=14, leading=18
        ),
        "heading": ParagraphStyle(
            "heading",
            parent=body,
            fontName="Helvetica-Bold",
            fontSize=11,
            leading=14,
            spaceBefore=8,
            spaceAfter=4,
        ),
        "body": body,
        "small": ParagraphStyle("small", parent=body, fontSize=8.5, leading=11, spaceAfter=0),
        "cell": ParagraphStyle("cell", parent=body, fontSize=9, leading=11, spaceAfter=0),
    }


def _facts(rows: Sequence[tuple[str, str]], s: dict[str, ParagraphStyle]) -> Table:
    table = Table(
        [
            [Paragraph(f"<b>{escape(k)}</b>", s["cell"]), Paragraph(escape(v), s["cell"])]
            for k, v in rows
        ],
        colWidths=[1.9 * inch, 7.5 * inch],
        hAlign="LEFT",
    )
    table.setStyle(
        TableStyle(
            [
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
                ("TOPPADDING", (0, 0), (-1, -1), 2),
            ]
        )
    )
    return table


def _items(items: Sequence[Item], s: dict[str, ParagraphStyle]) -> Table:
    head = [
        "NDC",
        "Name",
        "Strength",
        "Form",
        "Sch.",
        "Lot",
        "Package qty",
        "Full pkgs",
        "Partial",
        "Total destroyed",
    ]
    rows: list[list[object]] = [[Paragraph(f"<b>{h}</b>", s["cell"]) for h in head]]
    for item in items:
        rows.append(
            [
                item.ndc,
                Paragraph(escape(item.name), s["cell"]),
                Paragraph(escape(strength_label(item.strength)), s["cell"]),
                Paragraph(escape(item.form.lower()), s["cell"]),
                item.schedule,
                item.lot,
                f"{amount(item.package_quantity)} {item.unit}",
                str(item.full_packages),
                f"{amount(item.partial)} {item.unit}",
                f"{amount(item.total)} {item.unit}",
            ]
        )
    table = Table(
        rows,
        colWidths=[
            1.0 * inch,
            1.9 * inch,
            1.15 * inch,
            0.75 * inch,
            0.45 * inch,
            0.85 * inch,
            0.85 * inch,
            0.6 * inch,
            0.8 * inch,
            1.05 * inch,
        ],
        repeatRows=1,
        hAlign="LEFT",
    )
    table.setStyle(
        TableStyle(
            [
                ("FONTSIZE", (0, 0), (-1, -1), 9),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("LINEBELOW", (0, 0), (-1, 0), 0.75, colors.black),
                ("LINEBELOW", (0, 1), (-1, -1), 0.25, colors.grey),
                ("ALIGN", (6, 0), (-1, -1), "RIGHT"),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
            ]
        )
    )
    return table


def _witness(n: int, signer: Signer, tz: dt.tzinfo, s: dict[str, ParagraphStyle]) -> list[object]:
    return [
        Paragraph(f"<b>Witness {n}</b>", s["body"]),
        Paragraph(
            f"Printed name: {escape(signer.name)} (user {escape(signer.username)})", s["body"]
        ),
        Paragraph(
            f"Re-authenticated at {escape(local(signer.at, tz))} ({escape(signer.factors)})",
            s["body"],
        ),
        Spacer(1, 0.25 * inch),
        Paragraph("Signature: ____________________________ Date: ____________", s["body"]),
    ]


def _witnesses(signers: Sequence[Signer], tz: dt.tzinfo, s: dict[str, ParagraphStyle]) -> Table:
    """The witnesses side by side, so the declaration and both signatures stay together."""
    cells = [_witness(n, signer, tz, s) for n, signer in enumerate(signers, start=1)]
    table = Table([cells], colWidths=[4.85 * inch] * len(cells), hAlign="LEFT")
    table.setStyle(
        TableStyle(
            [
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("LEFTPADDING", (0, 0), (-1, -1), 0),
            ]
        )
    )
    return table


def render_form_41(form: Form41) -> bytes:
    """The Form 41 record as a PDF (US Letter, landscape)."""
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer,
        pagesize=landscape(LETTER),
        leftMargin=0.6 * inch,
        rightMargin=0.6 * inch,
        topMargin=0.5 * inch,
        bottomMargin=0.5 * inch,
        title=f"DEA Form 41 #{form.number}",
        author=form.registrant.name,
        subject="Registrant record of controlled substances destroyed",
    )
    s = _styles()
    r = form.registrant
    story: list[object] = [
        Paragraph(escape(TITLE), s["title"]),
        Paragraph(f"Record no. {form.number}", s["small"]),
        Paragraph("A. Registrant", s["heading"]),
        _facts(
            [
                ("Registrant name", r.name),
                ("DEA registration no.", r.dea_number or "(not on file)"),
                ("Address", ", ".join(line for line in r.address_lines if line.strip())),
                ("Telephone", r.phone or "(not on file)"),
                ("Contact", r.contact or r.name),
            ],
            s,
        ),
        Paragraph("B. Inventory destroyed", s["heading"]),
        _items(form.items, s),
        Paragraph("C. Destruction", s["heading"]),
        _facts(
            [
                ("Date and time", local(form.destroyed_at, form.tz)),
                ("Method of destruction", form.method),
                ("Location of destruction", form.location),
                ("Destroyed by", form.performed_by),
                *([("Note", form.note)] if form.note else []),
            ],
            s,
        ),
        KeepTogether(
            [
                Paragraph("D. Witnesses", s["heading"]),
                Paragraph(escape(DECLARATION), s["body"]),
                _witnesses(form.witnesses, form.tz, s),
            ]
        ),
        Spacer(1, 0.08 * inch),
        Paragraph(escape(KEEP), s["small"]),
    ]
    doc.build(story)
    return buffer.getvalue()
