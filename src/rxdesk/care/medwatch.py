"""The adverse drug event report as a PDF: our own layout of every field of FDA Form 3500
(MedWatch, voluntary, health professional), each labelled with the form's section and item
numbers so that the pharmacist can key it into MedWatch Online or attach it. The patient is
the identifier (initials), never the name.

Sections as the current form numbers them: A patient, B adverse event or product problem,
C product availability (not kept by rxdesk: marked "not recorded"), D suspect products,
E suspect medical device (not applicable: drugs only), F other (concomitant) products,
G reporter. The caller records the PHI access (services_quality.ade_report_opened)."""

from __future__ import annotations

import datetime as dt
import io
from typing import Any
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.pagesizes import LETTER
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import inch
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import KeepTogether, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from rxdesk.care import quality_rules as rules
from rxdesk.care.choices import AdeOutcome, ProductRole, ReportStatus, YesNoNa
from rxdesk.care.models import AdverseEventProduct, AdverseEventReport

PAGE = LETTER
MARGIN = 0.6 * inch
WIDTH = PAGE[0] - 2 * MARGIN
EMPTY = "—"
CHECKED, UNCHECKED = "[X]", "[ ]"
SEX = {"M": "Male", "F": "Female"}
ALSO = {
    "manufacturer": "Manufacturer",
    "compounder": "Compounder",
    "user_facility": "User facility",
    "distributor": "Distributor / importer",
}


def _style(name: str, size: float, *, bold: bool = False, space: float = 0) -> ParagraphStyle:
    return ParagraphStyle(
        name,
        fontName="Helvetica-Bold" if bold else "Helvetica",
        fontSize=size,
        leading=size + 2.5,
        spaceBefore=space,
    )


TITLE = _style("mw-title", 14, bold=True)
HEAD = _style("mw-head", 10.5, bold=True, space=8)
LABEL = _style("mw-label", 7.5, bold=True)
TEXT = _style("mw-text", 9)
SMALL = _style("mw-small", 7.5)


def _p(text: Any, style: ParagraphStyle = TEXT) -> Paragraph:
    value = EMPTY if text in (None, "") else str(text)
    return Paragraph(escape(value).replace("\n", "<br/>"), style)


def _date(day: dt.date | None) -> str:
    return f"{day:%m/%d/%Y}" if day else ""


def _box(on: bool, label: str) -> str:
    return f"{CHECKED if on else UNCHECKED} {label}"


def _grid(rows: list[tuple[str, Any]], columns: int = 2) -> Table:
    """Label-value cells, ``columns`` pairs a row."""
    cells: list[list[Any]] = []
    line: list[Any] = []
    for label, value in rows:
        line += [_p(label, LABEL), _p(value)]
        if len(line) == 2 * columns:
            cells.append(line)
            line = []
    if line:
        line += [""] * (2 * columns - len(line))
        cells.append(line)
    label_w = 1.35 * inch
    value_w = WIDTH / columns - label_w
    table = Table(cells, colWidths=[label_w, value_w] * columns)
    table.setStyle(
        TableStyle(
            [
                ("GRID", (0, 0), (-1, -1), 0.4, colors.grey),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                *[
                    ("BACKGROUND", (c, 0), (c, -1), colors.HexColor("#f0f0f0"))
                    for c in range(0, 2 * columns, 2)
                ],
            ]
        )
    )
    return table


def _section(title: str, *flowables: Any) -> list[Any]:
    return [
        KeepTogether([Paragraph(escape(title), HEAD), Spacer(1, 3), *flowables[:1]]),
        *flowables[1:],
    ]


def _product_rows(n: int, p: AdverseEventProduct) -> list[tuple[str, Any]]:
    return [
        (f"#{n} 1. Name", p.name),
        (f"#{n} Strength", p.strength),
        (f"#{n} Manufacturer / labeler", p.manufacturer),
        (f"#{n} NDC", p.ndc11),
        (f"#{n} Lot number", p.lot_number),
        (f"#{n} Expiration date", _date(p.expiry)),
        (f"#{n} 3. Dose", p.dose),
        (f"#{n} Frequency", p.frequency),
        (f"#{n} Route", p.route),
        (
            f"#{n} 4. Therapy dates",
            f"{_date(p.therapy_start) or '?'} to {_date(p.therapy_end) or 'ongoing'}",
        ),
        (f"#{n} 5. Indication", p.indication),
        (f"#{n} Rx number", str(p.prescription.number) if p.prescription is not None else ""),
        (f"#{n} Event abated after stop or dose reduced", YesNoNa(p.dechallenge).label),
        (f"#{n} Event reappeared after reintroduction", YesNoNa(p.rechallenge).label),
    ]


class _Numbered(Canvas):
    """Writes "Page n of N" and the report's footer once the page count is known."""

    footer = ""

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
            self.drawString(MARGIN, MARGIN * 0.55, self.footer)
            self.drawRightString(
                PAGE[0] - MARGIN, MARGIN * 0.55, f"Page {self._pageNumber} of {total}"
            )
            super().showPage()
        super().save()


def render(report: AdverseEventReport) -> bytes:
    """The report on letter paper: every Form 3500 field this pharmacy keeps, by section."""
    products = list(report.products.select_related("prescription"))
    suspects = [p for p in products if p.role == ProductRole.SUSPECT]
    others = [p for p in products if p.role == ProductRole.CONCOMITANT]
    outcomes = set(report.outcomes or [])
    status = (
        f"Submitted {report.submitted_at:%m/%d/%Y}"
        + (f" — FDA report number {report.fda_reference}" if report.fda_reference else "")
        if report.status == ReportStatus.SUBMITTED and report.submitted_at
        else "DRAFT — not yet submitted to FDA"
    )
    story: list[Any] = [
        Paragraph("Adverse drug event report — FDA Form 3500 (MedWatch) fields", TITLE),
        _p(
            f"rxdesk report {report.pk} · safety event {report.safety_event_id} · {status}",
            SMALL,
        ),
        _p(
            "Voluntary report by a health professional. Vaccines are reported to VAERS, "
            "not on this form. The patient is identified by initials only.",
            SMALL,
        ),
    ]
    story += _section(
        "Section A — Patient information",
        _grid(
            [
                ("A.1 Patient identifier", report.patient_identifier),
                ("A.2 Age at the event", rules.age_words(report.age, report.age_unit)),
                ("A.3 Sex", SEX.get(report.sex, "Not given")),
                ("A.4 Weight", f"{report.weight_kg} kg" if report.weight_kg else ""),
            ]
        ),
    )
    outcome_lines = [
        _box(o.value in outcomes, o.label)
        + (
            f" (date of death {_date(report.death_date)})"
            if o == AdeOutcome.DEATH and report.death_date
            else ""
        )
        for o in AdeOutcome
    ]
    outcome_lines.append(_box(rules.NON_SERIOUS in outcomes, "None of the above (not serious)"))
    story += _section(
        "Section B — Adverse event or product problem",
        _grid(
            [
                (
                    "B.1 Check all that apply",
                    "   ".join(
                        [
                            _box(report.adverse_event, "Adverse event"),
                            _box(report.product_problem, "Product problem"),
                        ]
                    ),
                ),
                ("B.2 Outcome attributed to the adverse event", "\n".join(outcome_lines)),
                ("B.3 Date of event", _date(report.event_date)),
                ("B.4 Date of this report", _date(report.report_date)),
                ("B.5 Describe event or problem", report.description),
                ("B.6 Relevant tests / laboratory data", report.tests_labs),
                ("B.7 Other relevant history, pre-existing conditions", report.history),
            ],
            columns=1,
        ),
    )
    story += _section(
        "Section C — Product availability",
        _p("Not recorded by the pharmacy (state it when keying the report).", SMALL),
    )
    if suspects:
        for n, p in enumerate(suspects, start=1):
            story += _section(f"Section D — Suspect product #{n}", _grid(_product_rows(n, p)))
    else:
        story += _section("Section D — Suspect products", _p("None entered.", TEXT))
    story += _section(
        "Section E — Suspect medical device", _p("Not applicable (drug products only).", SMALL)
    )
    if others:
        lines = [
            f"#{n} {p.name} {p.strength} — {p.dose} {p.frequency} {p.route} — "
            f"{_date(p.therapy_start) or '?'} to {_date(p.therapy_end) or 'ongoing'}"
            for n, p in enumerate(others, start=1)
        ]
        story += _section("Section F — Other (concomitant) medical products", _p("\n".join(lines)))
    else:
        story += _section(
            "Section F — Other (concomitant) medical products", _p("None entered.", TEXT)
        )
    story += _section(
        "Section G — Reporter",
        _grid(
            [
                ("G.1 Name", report.reporter_name),
                ("G.1 Address", report.reporter_address),
                ("G.1 Phone", _phone(report.reporter_phone)),
                ("G.1 E-mail", report.reporter_email),
                ("G.2 Health professional?", "Yes" if report.health_professional else "No"),
                ("G.3 Occupation", report.occupation),
                (
                    "G.4 Also reported to",
                    ", ".join(ALSO.get(a, a) for a in report.also_reported_to or []) or "None",
                ),
            ]
        ),
    )
    buffer = io.BytesIO()
    document = SimpleDocTemplate(
        buffer,
        pagesize=PAGE,
        leftMargin=MARGIN,
        rightMargin=MARGIN,
        topMargin=MARGIN,
        bottomMargin=MARGIN,
        title=f"Adverse event report {report.pk}",
        author="rxdesk",
        subject="FDA Form 3500 (MedWatch) fields",
    )

    class Canvas_(_Numbered):
        footer = (
            f"Adverse event report {report.pk} · patient {report.patient_identifier} · Confidential"
        )

    document.build(story, canvasmaker=Canvas_)
    return buffer.getvalue()


def _phone(digits: str) -> str:
    if len(digits) == 10 and digits.isdigit():
        return f"({digits[:3]}) {digits[3:6]}-{digits[6:]}"
    return digits
