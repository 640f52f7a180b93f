"""The medication administration record (MAR) of a resident for a month: what the nurses
initial as they give each dose. Pure (no database): rxdesk.institutional.queries_census
hands in plain values; :func:`build` lays out the grid, :func:`to_csv` and :func:`to_pdf`
render it.

One row per order and pass time, one column per day of the month. A day's cell is a box to
initial when the order is in force that day (its own start and stop, the prescription's
dates) and the resident is in the facility; "LOA" while the resident is on leave of absence;
"—" otherwise (not ordered that day, or not a resident). An as-needed (PRN) order gets a
row of its own in the PRN block, with its most per day: the nurse writes each dose given."""

from __future__ import annotations

import calendar
import csv
import datetime as dt
import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.pagesizes import LETTER, landscape
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import inch
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Paragraph, SimpleDocTemplate, Table, TableStyle

BOX = ""  # a box to initial
OFF = "—"  # not in force that day, or not a resident
LEAVE = "LOA"  # on leave of absence
PRN_TIME = "PRN"
LEGEND = (
    "Initial the box when the dose is given. — : not ordered that day or not in the "
    "facility. LOA: on leave of absence. PRN: write the time, dose and reason of each dose "
    "given, within the most allowed per day."
)


@dataclass(frozen=True)
class Span:
    """A stretch of the resident's census: in the facility, or on leave (days inclusive;
    ``end`` None while it lasts)."""

    start: dt.date
    end: dt.date | None = None
    leave: bool = False

    def covers(self, day: dt.date) -> bool:
        return self.start <= day and (self.end is None or day <= self.end)


@dataclass(frozen=True)
class ResidentInfo:
    name: str
    date_of_birth: dt.date
    allergies: str  # "Penicillin (hives); Sulfa" or "No known allergies"
    facility: str
    unit: str
    room: str
    pharmacy: str
    spans: tuple[Span, ...]
    pharmacy_phone: str = ""
    bed: str = ""


@dataclass(frozen=True)
class Order:
    """One order as the MAR shows it (an OrderSchedule and its prescription)."""

    rx_number: int
    drug: str
    directions: str
    dose: str  # "1", "0.5"
    unit: str  # "EA", "ML"
    times: tuple[str, ...]
    start_on: dt.date
    stop_on: dt.date | None = None
    prn: bool = False
    prn_max_per_day: str = ""
    rx_start: dt.date | None = None  # the prescription's dates
    rx_end: dt.date | None = None

    def in_force(self, day: dt.date) -> bool:
        starts = max(d for d in (self.start_on, self.rx_start) if d is not None)
        ends = [d for d in (self.stop_on, self.rx_end) if d is not None]
        return starts <= day and (not ends or day <= min(ends))

    @property
    def label(self) -> str:
        return f"{self.drug} — {self.directions} (Rx {self.rx_number})"


@dataclass(frozen=True)
class Row:
    order: Order
    time: str  # "08:00" or "PRN"
    cells: tuple[str, ...]  # one per day: BOX, OFF or LEAVE


@dataclass(frozen=True)
class Mar:
    resident: ResidentInfo
    month: dt.date  # the first of the month
    days: tuple[dt.date, ...]
    rows: tuple[Row, ...]  # scheduled rows, by order then time
    prn_rows: tuple[Row, ...] = field(default_factory=tuple)

    @property
    def title(self) -> str:
        return f"Medication administration record — {self.month:%B %Y}"

    @property
    def all_rows(self) -> tuple[Row, ...]:
        return self.rows + self.prn_rows


def first_of_month(day: dt.date) -> dt.date:
    return day.replace(day=1)


def month_days(month: dt.date) -> tuple[dt.date, ...]:
    first = first_of_month(month)
    count = calendar.monthrange(first.year, first.month)[1]
    return tuple(first + dt.timedelta(days=n) for n in range(count))


def presence(spans: Sequence[Span], day: dt.date) -> str:
    """``"in"``, ``"leave"`` or ``"out"`` on ``day``: a day partly in the facility (the
    day of leaving or of coming back) counts as in."""
    if any(s.covers(day) and not s.leave for s in spans):
        return "in"
    if any(s.covers(day) and s.leave for s in spans):
        return "leave"
    return "out"


def spans_from_census(
    events: Sequence[tuple[str, dt.date]],
    *,
    admitted_on: dt.date | None = None,
    discharged_on: dt.date | None = None,
) -> tuple[Span, ...]:
    """The stretches in the facility and on leave from the census events ``[(kind, local
    day)]`` in order. The day of leaving and the day of coming back count as in the
    facility. No events (a resident loaded without them): from admission to discharge."""
    if not events:
        if admitted_on is None:
            return ()
        return (Span(start=admitted_on, end=discharged_on),)
    spans: list[Span] = []
    open_start: dt.date | None = None
    open_leave = False
    for kind, day in events:
        if kind in ("admit", "readmit", "return"):
            if open_start is not None and open_leave:
                if day - dt.timedelta(days=1) >= open_start:
                    spans.append(Span(open_start, day - dt.timedelta(days=1), leave=True))
            elif open_start is not None:
                continue  # already in: nothing changes
            open_start, open_leave = day, False
        elif kind == "leave" and open_start is not None and not open_leave:
            spans.append(Span(open_start, day))
            open_start, open_leave = day + dt.timedelta(days=1), True
        elif kind == "discharge" and open_start is not None:
            if open_leave:
                if day >= open_start:
                    spans.append(Span(open_start, day, leave=True))
            else:
                spans.append(Span(open_start, day))
            open_start, open_leave = None, False
    if open_start is not None:
        spans.append(Span(open_start, None, leave=open_leave))
    return tuple(spans)


def _cells(order: Order, spans: Sequence[Span], days: Sequence[dt.date]) -> tuple[str, ...]:
    out = []
    for day in days:
        where = presence(spans, day)
        if not order.in_force(day) or where == "out":
            out.append(OFF)
        elif where == "leave":
            out.append(LEAVE)
        else:
            out.append(BOX)
    return tuple(out)


def build(resident_info: ResidentInfo, orders: Sequence[Order], month: dt.date) -> Mar:
    """The MAR grid of ``month`` (any day of it) for the resident's ``orders``. Orders not in
    force on any day of the month are left out."""
    days = month_days(month)
    rows: list[Row] = []
    prn_rows: list[Row] = []
    ordered = sorted(orders, key=lambda o: (o.drug.casefold(), o.rx_number))
    for order in ordered:
        if not any(order.in_force(day) for day in days):
            continue
        cells = _cells(order, resident_info.spans, days)
        if order.prn:
            prn_rows.append(Row(order=order, time=PRN_TIME, cells=cells))
            continue
        for time in sorted(order.times):
            rows.append(Row(order=order, time=time, cells=cells))
    return Mar(
        resident=resident_info,
        month=first_of_month(month),
        days=days,
        rows=tuple(rows),
        prn_rows=tuple(prn_rows),
    )


# --- CSV --------------------------------------------------------------------------------------

CSV_FIXED = ["Resident", "Month", "Rx", "Drug", "Directions", "Dose", "Time", "PRN max per day"]


def _safe_cell(value: str) -> str:
    """A spreadsheet reads a cell starting with = + - @ as a formula: never from a MAR."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def to_csv(mar: Mar) -> str:
    """One row per order and time (PRN orders once), then a column per day 1..N."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([*CSV_FIXED, *(str(d.day) for d in mar.days)])
    for row in mar.all_rows:
        o = row.order
        writer.writerow(
            [
                _safe_cell(value)
                for value in (
                    mar.resident.name,
                    f"{mar.month:%Y-%m}",
                    str(o.rx_number),
                    o.drug,
                    o.directions,
                    f"{o.dose} {o.unit}".strip(),
                    row.time,
                    o.prn_max_per_day if o.prn else "",
                    *row.cells,
                )
            ]
        )
    return buffer.getvalue()


# --- PDF --------------------------------------------------------------------------------------

DRUG_WIDTH, TIME_WIDTH = 2.35 * inch, 0.45 * inch
PAGE = landscape(LETTER)
MARGIN = 0.4 * inch
HEADER_HEIGHT = 0.95 * inch
FOOTER_HEIGHT = 0.5 * inch


def _style(size: float, bold: bool = False) -> ParagraphStyle:
    return ParagraphStyle(
        f"mar{size}{bold}",
        fontName="Helvetica-Bold" if bold else "Helvetica",
        fontSize=size,
        leading=size + 1.5,
    )


class _NumberedCanvas(Canvas):
    """Writes "Page n of N" once the count of pages is known."""

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
            self.setFont("Helvetica", 7)
            self.drawRightString(
                PAGE[0] - MARGIN, MARGIN * 0.6, f"Page {self._pageNumber} of {total}"
            )
            super().showPage()
        super().save()


def _header(canvas: Canvas, mar: Mar) -> None:
    """The resident's block, printed on every page."""
    r = mar.resident
    width, height = PAGE
    top = height - MARGIN
    canvas.setFont("Helvetica-Bold", 12)
    canvas.drawString(MARGIN, top - 12, mar.title)
    canvas.setFont("Helvetica", 8)
    canvas.drawRightString(width - MARGIN, top - 10, f"{r.pharmacy} {r.pharmacy_phone}".strip())
    canvas.setFont("Helvetica-Bold", 11)
    canvas.drawString(MARGIN, top - 28, r.name)
    canvas.setFont("Helvetica", 8)
    where = (
        f"{r.facility} · unit {r.unit or '—'} · room {r.room}{(' bed ' + r.bed) if r.bed else ''}"
    )
    canvas.drawString(MARGIN + 3.3 * inch, top - 28, where)
    canvas.drawString(MARGIN, top - 41, f"Date of birth: {r.date_of_birth:%m/%d/%Y}")
    canvas.setFont("Helvetica-Bold", 8)
    allergy_text = f"Allergies: {r.allergies}"
    if len(allergy_text) > 150:
        allergy_text = allergy_text[:147] + "…"
    canvas.drawString(MARGIN + 1.8 * inch, top - 41, allergy_text)
    canvas.setStrokeColor(colors.black)
    canvas.line(MARGIN, top - 48, width - MARGIN, top - 48)


def _footer(canvas: Canvas) -> None:
    canvas.setFont("Helvetica", 6.5)
    canvas.drawString(MARGIN, MARGIN * 0.6, LEGEND)


def _grid(rows: Sequence[Row], days: Sequence[dt.date], title: str) -> Table:
    day_width = (PAGE[0] - 2 * MARGIN - DRUG_WIDTH - TIME_WIDTH) / len(days)
    small, bold = _style(6.5), _style(6.5, bold=True)
    head = [Paragraph(escape(title), bold), "Time", *(str(d.day) for d in days)]
    body: list[list[Any]] = [head]
    shade: list[tuple[Any, ...]] = []
    for r, row in enumerate(rows, start=1):
        o = row.order
        text = f"<b>{escape(o.drug)}</b><br/>{escape(o.directions)}<br/>Rx {o.rx_number} · "
        text += f"dose {escape(o.dose)} {escape(o.unit)}"
        if o.prn and o.prn_max_per_day:
            text += f" · at most {escape(o.prn_max_per_day)} a day"
        body.append([Paragraph(text, small), row.time, *row.cells])
        for c, cell in enumerate(row.cells, start=2):
            if cell != BOX:
                shade.append(("BACKGROUND", (c, r), (c, r), colors.HexColor("#d9d9d9")))
    table = Table(
        body,
        colWidths=[DRUG_WIDTH, TIME_WIDTH, *([day_width] * len(days))],
        repeatRows=1,
    )
    style = [
        ("FONT", (0, 0), (-1, -1), "Helvetica", 6.5),
        ("FONT", (0, 0), (-1, 0), "Helvetica-Bold", 6.5),
        ("GRID", (0, 0), (-1, -1), 0.4, colors.black),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ("ALIGN", (1, 0), (-1, -1), "CENTER"),
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#eeeeee")),
        ("LEFTPADDING", (2, 0), (-1, -1), 1),
        ("RIGHTPADDING", (2, 0), (-1, -1), 1),
        *shade,
    ]
    table.setStyle(TableStyle(style))
    return table


def to_pdf(mar: Mar) -> bytes:
    """The MAR on letter landscape: the resident's block and the legend on every page, the
    grid split across pages with its day header repeated."""
    buffer = io.BytesIO()
    document = SimpleDocTemplate(
        buffer,
        pagesize=PAGE,
        leftMargin=MARGIN,
        rightMargin=MARGIN,
        topMargin=MARGIN + HEADER_HEIGHT * 0.75,
        bottomMargin=MARGIN + FOOTER_HEIGHT * 0.5,
        title=f"MAR {mar.month:%Y-%m}",
        author=mar.resident.pharmacy,
        subject="Medication administration record",
    )

    def on_page(canvas: Canvas, _doc: Any) -> None:
        canvas.saveState()
        _header(canvas, mar)
        _footer(canvas)
        canvas.restoreState()

    story: list[Any] = []
    if mar.rows:
        story.append(_grid(mar.rows, mar.days, "Scheduled medications"))
    if mar.prn_rows:
        story.append(_grid(mar.prn_rows, mar.days, "As needed (PRN)"))
    if not story:
        story.append(Paragraph("No orders in force this month.", _style(10, bold=True)))
    document.build(story, onFirstPage=on_page, onLaterPages=on_page, canvasmaker=_NumberedCanvas)
    return buffer.getvalue()
