"""A daily report as a PDF (reportlab): landscape letter; each page headed with the
pharmacy's name and NCPDP number, the report and its business date, and footed with
"Page x of y" and when it was generated; the table's header row repeats on every page and
long tables break across pages. Only what the report's table holds is printed."""

from __future__ import annotations

import datetime as dt
import io
from typing import Any
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.pagesizes import landscape, letter
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import inch
from reportlab.pdfgen import canvas as pdfcanvas
from reportlab.platypus import LongTable, Paragraph, SimpleDocTemplate, Spacer, TableStyle

from rxdesk.reports.daily_table import ReportTable

PAGE = landscape(letter)
MARGIN = 0.5 * inch
_STYLES = getSampleStyleSheet()
_CELL = ParagraphStyle("cell", parent=_STYLES["BodyText"], fontSize=7.5, leading=9)
_HEAD = ParagraphStyle("head", parent=_CELL, fontName="Helvetica-Bold")
_NOTE = ParagraphStyle("note", parent=_STYLES["BodyText"], fontSize=8.5, leading=11)


class _NumberedCanvas(pdfcanvas.Canvas):
    """Holds every page until the end so each can say "Page x of y"."""

    header: tuple[str, str, str] = ("", "", "")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._pages: list[dict[str, Any]] = []

    def showPage(self) -> None:  # reportlab's name
        self._pages.append(dict(self.__dict__))
        self._startPage()

    def save(self) -> None:
        total = len(self._pages)
        for number, state in enumerate(self._pages, start=1):
            self.__dict__.update(state)
            self._decorate(number, total)
            super().showPage()
        super().save()

    def _decorate(self, number: int, total: int) -> None:
        left, right, footer = self.header
        width, height = PAGE
        self.setFont("Helvetica-Bold", 10)
        self.drawString(MARGIN, height - 0.4 * inch, left)
        self.drawRightString(width - MARGIN, height - 0.4 * inch, right)
        self.setLineWidth(0.5)
        self.line(MARGIN, height - 0.47 * inch, width - MARGIN, height - 0.47 * inch)
        self.setFont("Helvetica", 8)
        self.drawString(MARGIN, 0.3 * inch, footer)
        self.drawRightString(width - MARGIN, 0.3 * inch, f"Page {number} of {total}")


def _widths(table: ReportTable, room: float) -> list[float]:
    """Column widths in proportion to their longest text (header included), each at least
    a sixteenth of the room's even share and at most 4 inches."""
    weights = []
    for i, name in enumerate(table.columns):
        longest = max([len(name), *(len(r[i]) for r in table.rows[:500])])
        weights.append(min(max(longest, 4), 40))
    total = sum(weights) or 1
    return [room * w / total for w in weights]


def render_pdf(
    table: ReportTable,
    *,
    pharmacy: str,
    ncpdp_id: str,
    business_date: dt.date,
    generated_at: dt.datetime,
    version: int = 1,
) -> bytes:
    """The report as PDF bytes. ``generated_at`` is printed as given (pass it in the
    pharmacy's time zone)."""
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer,
        pagesize=PAGE,
        leftMargin=MARGIN,
        rightMargin=MARGIN,
        topMargin=0.65 * inch,
        bottomMargin=0.55 * inch,
        title=f"{table.title} {business_date.isoformat()}",
        author=pharmacy,
    )
    story: list[Any] = [
        Paragraph(
            escape(f"{table.title} — {business_date:%A %m/%d/%Y}"),
            _STYLES["Heading2"],
        )
    ]
    room = PAGE[0] - 2 * MARGIN
    if table.rows:
        data = [[Paragraph(escape(c), _HEAD) for c in table.columns]]
        data += [[Paragraph(escape(c), _CELL) for c in row] for row in table.rows]
        grid = LongTable(data, colWidths=_widths(table, room), repeatRows=1)
        grid.setStyle(
            TableStyle(
                [
                    ("GRID", (0, 0), (-1, -1), 0.25, colors.grey),
                    ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8e8e8")),
                    ("VALIGN", (0, 0), (-1, -1), "TOP"),
                    ("LEFTPADDING", (0, 0), (-1, -1), 2),
                    ("RIGHTPADDING", (0, 0), (-1, -1), 2),
                ]
            )
        )
        story.append(grid)
    else:
        story.append(Paragraph("Nothing to report for this day.", _NOTE))
    if table.totals:
        story.append(Spacer(1, 8))
        story.append(Paragraph("<b>Totals</b>", _NOTE))
        for label, value in table.totals:
            story.append(Paragraph(f"{escape(label)}: <b>{escape(value)}</b>", _NOTE))
    for note in table.notes:
        story.append(Spacer(1, 4))
        story.append(Paragraph(escape(note), _NOTE))

    ncpdp = f"NCPDP {ncpdp_id}" if ncpdp_id else "NCPDP not on file"
    header = (
        f"{pharmacy} — {ncpdp}",
        f"{table.title}, {business_date:%m/%d/%Y}"
        + (f" (version {version})" if version > 1 else ""),
        f"Generated {generated_at:%m/%d/%Y %H:%M %Z}".strip(),
    )

    class _Canvas(_NumberedCanvas):
        pass

    _Canvas.header = header
    doc.build(story, canvasmaker=_Canvas)
    return buffer.getvalue()
