"""The printed controlled-substance inventory (21 CFR 1304.11; reference §2.3), as a PDF
(reportlab).

Pure: the caller hands in plain values (rxdesk.controlled.queries_inventories builds them
from the inventory), so the layout is tested without a database. What it prints: the
registrant's name, address and DEA number; the kind of inventory, its date and whether it
was taken at the opening or the close of business; Schedule II in a section of its own,
apart from Schedules III–V (1304.04(h)); per line the drug, strength, form, NDC, units per
commercial container, sealed containers, the opened container's count marked exact or
estimated, and the total; stock held for disposal with its reason; "zero inventory" when
nothing is on hand; who signed it (the pharmacist-in-charge, license) and when; page
numbers."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.pagesizes import LETTER, landscape
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import inch
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

ZERO_INVENTORY = "ZERO INVENTORY: no controlled substances on hand."


@dataclass(frozen=True)
class Registrant:
    name: str
    address_lines: tuple[str, ...]
    dea_number: str


@dataclass(frozen=True)
class Line:
    drug: str
    strength: str
    dosage_form: str
    ndc: str
    lot: str  # "" when the package was counted as a whole
    unit: str  # EA, ML, GM
    units_per_container: str
    sealed_containers: int
    opened: str  # "" when no container is open
    method: str  # "exact" | "estimated" | "" (sealed only)
    total: str
    held_for_disposal: bool = False
    disposal_reason: str = ""


@dataclass(frozen=True)
class InventoryDocument:
    inventory_id: int
    registrant: Registrant
    kind: str  # "Biennial inventory"
    taken_on: dt.date
    taken_at: str  # "Opening of business" | "Close of business"
    substance: str  # newly scheduled: the product; else ""
    effective_on: dt.date | None
    schedule_ii: tuple[Line, ...]
    schedule_iii_v: tuple[Line, ...]
    signed_by: str  # "" while not signed
    signer_license: str
    signed_at: dt.datetime | None  # local time at the pharmacy
    status: str
    note: str = ""


def _styles() -> dict[str, ParagraphStyle]:
    base = getSampleStyleSheet()
    body = ParagraphStyle("body", parent=base["BodyText"], fontSize=10, leading=13, spaceAfter=3)
    return {
        "title": ParagraphStyle(
            "title", parent=body, fontName="Helvetica-Bold", fontSize=15, leading=19
        ),
        "heading": ParagraphStyle(
            "heading",
            parent=body,
            fontName="Helvetica-Bold",
            fontSize=12,
            leading=15,
            spaceBefore=10,
            spaceAfter=4,
        ),
        "sub": ParagraphStyle(
            "sub", parent=body, fontName="Helvetica-Bold", spaceBefore=6, spaceAfter=2
        ),
        "body": body,
        "cell": ParagraphStyle("cell", parent=body, fontSize=8.5, leading=10, spaceAfter=0),
        "strong": ParagraphStyle("strong", parent=body, fontName="Helvetica-Bold"),
    }


def _table(rows: list[list[Any]], widths: Sequence[float]) -> Table:
    table = Table(rows, colWidths=list(widths), repeatRows=1)
    table.setStyle(
        TableStyle(
            [
                ("FONTNAME", (0, 0), (-1, 0), "Helvetica-Bold"),
                ("FONTSIZE", (0, 0), (-1, -1), 8.5),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("ALIGN", (5, 1), (-1, -1), "RIGHT"),
                ("LINEBELOW", (0, 0), (-1, 0), 0.75, colors.black),
                ("LINEBELOW", (0, 1), (-1, -1), 0.25, colors.grey),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
            ]
        )
    )
    return table


HEADER = [
    "Drug",
    "Strength",
    "Form",
    "NDC",
    "Lot",
    "Units per container",
    "Sealed containers",
    "Opened container",
    "Total",
]
WIDTHS = [2.1, 1.3, 1.0, 1.05, 0.8, 0.85, 0.8, 1.05, 0.85]


def _counted(lines: Sequence[Line], s: dict[str, ParagraphStyle]) -> Table:
    rows: list[list[Any]] = [[Paragraph(h, s["cell"]) for h in HEADER]]
    for line in lines:
        opened = f"{line.opened} ({line.method})" if line.opened else "none"
        rows.append(
            [
                Paragraph(escape(line.drug), s["cell"]),
                Paragraph(escape(line.strength), s["cell"]),
                Paragraph(escape(line.dosage_form.lower()), s["cell"]),
                line.ndc,
                line.lot or "all lots",
                f"{line.units_per_container} {line.unit}",
                str(line.sealed_containers),
                opened,
                f"{line.total} {line.unit}",
            ]
        )
    return _table(rows, [w * inch for w in WIDTHS])


def _disposal(lines: Sequence[Line], s: dict[str, ParagraphStyle]) -> Table:
    rows: list[list[Any]] = [
        [Paragraph(h, s["cell"]) for h in ("Drug", "Strength", "Form", "NDC", "Lot")]
        + [Paragraph("Total quantity", s["cell"]), Paragraph("Why it is held", s["cell"])]
    ]
    for line in lines:
        rows.append(
            [
                Paragraph(escape(line.drug), s["cell"]),
                Paragraph(escape(line.strength), s["cell"]),
                Paragraph(escape(line.dosage_form.lower()), s["cell"]),
                line.ndc,
                line.lot or "all lots",
                f"{line.total} {line.unit}",
                Paragraph(escape(line.disposal_reason), s["cell"]),
            ]
        )
    return _table(rows, [w * inch for w in (2.1, 1.3, 1.0, 1.05, 0.8, 1.0, 2.55)])


def _section(title: str, lines: Sequence[Line], s: dict[str, ParagraphStyle]) -> list[Any]:
    story: list[Any] = [Paragraph(title, s["heading"])]
    counted = [line for line in lines if not line.held_for_disposal]
    held = [line for line in lines if line.held_for_disposal]
    if not lines:
        story.append(Paragraph("None on hand.", s["body"]))
        return story
    if counted:
        story.append(_counted(counted, s))
    else:
        story.append(Paragraph("None on hand for dispensing.", s["body"]))
    if held:
        story.append(Paragraph("Stock held for disposal (damaged, expired, returned)", s["sub"]))
        story.append(_disposal(held, s))
    return story


class _NumberedCanvas(Canvas):
    """Prints "Page n of N" on every page: pages are kept until the count is known."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._pages: list[dict[str, Any]] = []

    def showPage(self) -> None:  # reportlab's name
        self._pages.append(dict(self.__dict__))
        self._startPage()

    def save(self) -> None:
        total = len(self._pages)
        for page in self._pages:
            self.__dict__.update(page)
            self.setFont("Helvetica", 8)
            self.drawRightString(
                self._pagesize[0] - 0.5 * inch,
                0.4 * inch,
                f"Page {self._pageNumber} of {total}",
            )
            super().showPage()
        super().save()


def _title_block(d: InventoryDocument, s: dict[str, ParagraphStyle]) -> list[Any]:
    r = d.registrant
    story: list[Any] = [
        Paragraph(f"Controlled substances inventory — {escape(d.kind)}", s["title"])
    ]
    story.append(Paragraph(f"<b>Registrant:</b> {escape(r.name)}", s["body"]))
    if r.address_lines:
        story.append(Paragraph(f"<b>Address:</b> {escape(', '.join(r.address_lines))}", s["body"]))
    story.append(
        Paragraph(f"<b>DEA registration:</b> {escape(r.dea_number or 'not on file')}", s["body"])
    )
    story.append(
        Paragraph(
            f"<b>Date:</b> {d.taken_on:%m/%d/%Y} · <b>Taken at:</b> {escape(d.taken_at)}",
            s["body"],
        )
    )
    if d.substance:
        effective = f" (rule effective {d.effective_on:%m/%d/%Y})" if d.effective_on else ""
        story.append(
            Paragraph(
                f"<b>Newly scheduled substance:</b> {escape(d.substance)}{effective}", s["body"]
            )
        )
    story.append(
        Paragraph(
            "Sealed containers are counted and multiplied by the labeled size; an opened "
            "C-II container is counted exactly; an opened C-III, C-IV or C-V container may "
            "be estimated unless it holds more than 1,000 tablets or capsules.",
            s["cell"],
        )
    )
    return story


def _signature(d: InventoryDocument, s: dict[str, ParagraphStyle]) -> list[Any]:
    story: list[Any] = [Spacer(1, 0.2 * inch)]
    if d.signed_at is not None:
        license_text = f", license {escape(d.signer_license)}" if d.signer_license else ""
        story.append(
            Paragraph(
                f"Signed by {escape(d.signed_by)}, pharmacist-in-charge{license_text}, on "
                f"{d.signed_at:%m/%d/%Y} at {d.signed_at:%H:%M}.",
                s["strong"],
            )
        )
    else:
        story.append(
            Paragraph(
                f"NOT SIGNED ({escape(d.status)}): a worksheet, not the inventory of record.",
                s["strong"],
            )
        )
    if d.note:
        story.append(Paragraph(f"Note: {escape(d.note)}", s["body"]))
    return story


def render_inventory(d: InventoryDocument) -> bytes:
    """The inventory as a PDF, letter landscape."""
    buffer = io.BytesIO()
    document = SimpleDocTemplate(
        buffer,
        pagesize=landscape(LETTER),
        leftMargin=0.5 * inch,
        rightMargin=0.5 * inch,
        topMargin=0.5 * inch,
        bottomMargin=0.7 * inch,
        title=f"{d.kind} {d.taken_on:%Y-%m-%d}",
        author=d.registrant.name,
        subject="Controlled substances inventory (21 CFR 1304.11)",
    )
    s = _styles()
    story = _title_block(d, s)
    if not d.schedule_ii and not d.schedule_iii_v:
        story += [Spacer(1, 0.15 * inch), Paragraph(ZERO_INVENTORY, s["heading"])]
    else:
        story += _section("Schedule II", d.schedule_ii, s)
        story += _section("Schedules III-V", d.schedule_iii_v, s)
    story += _signature(d, s)
    document.build(story, canvasmaker=_NumberedCanvas)
    return buffer.getvalue()
