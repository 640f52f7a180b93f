"""The draft of DEA Form 106 (theft or significant loss of controlled substances) as a PDF
(reportlab), for the pharmacist who enters it in the DEA's online Theft/Loss Reporting
system — paper Form 106 is no longer accepted (team reference §5.1; 88 FR 40707).

It carries what the online form asks: the registrant's name, address and DEA number; the
dates of the theft or loss and of its discovery; its type; whether the police were
notified (department, report number); the number of previous thefts or losses; every
product (NDC, name, strength, dosage form, quantity lost, estimated value); the security
measures taken; and the narrative — with both deadlines. It is marked DRAFT on every page
until the form is recorded as submitted, and shows the DEA's reference after.

:func:`render` is pure (plain values in, bytes out); :func:`form_106_pdf` reads one record."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.pagesizes import LETTER
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import inch
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from rxdesk.controlled.choices import LossStatus
from rxdesk.controlled.models import TheftLoss
from rxdesk.controlled.services_losses import notice_late, police_answered, submitted_late

TITLE = "DEA Form 106 — Report of Theft or Loss of Controlled Substances"


@dataclass(frozen=True)
class Registrant:
    name: str
    address_lines: tuple[str, ...]
    dea_number: str
    phone: str


@dataclass(frozen=True)
class Product:
    ndc: str
    name: str
    strength: str
    dosage_form: str
    schedule: str
    lot: str
    quantity: Decimal
    unit: str
    estimated_value: Decimal | None


@dataclass(frozen=True)
class LossFacts:
    record: int
    loss_type: str
    discovered_at: dt.datetime  # local time of the pharmacy
    occurred_on: dt.date | None
    notify_by: dt.date
    complete_by: dt.date
    dea_notified_at: dt.datetime | None  # local
    dea_notified_how: str
    notice_late: bool
    police: bool | None
    police_department: str
    police_report_number: str
    previous_losses: int
    security_measures: str
    narrative: str
    products: tuple[Product, ...]
    submitted: bool
    submitted_at: dt.datetime | None  # local
    submitted_late: bool
    dea_reference: str
    cancelled: bool = False


def _money(value: Decimal | None) -> str:
    return "not estimated" if value is None else f"${value:,.2f}"


def _qty(value: Decimal) -> str:
    return format(value.normalize(), "f")


def _styles() -> dict[str, ParagraphStyle]:
    base = getSampleStyleSheet()
    body = ParagraphStyle("body", parent=base["BodyText"], fontSize=10, leading=13, spaceAfter=4)
    return {
        "title": ParagraphStyle(
            "title", parent=body, fontName="Helvetica-Bold", fontSize=14, leading=18
        ),
        "banner": ParagraphStyle(
            "banner",
            parent=body,
            fontName="Helvetica-Bold",
            fontSize=12,
            textColor=colors.HexColor("#a40000"),
        ),
        "heading": ParagraphStyle(
            "heading",
            parent=body,
            fontName="Helvetica-Bold",
            fontSize=11,
            spaceBefore=8,
            spaceAfter=4,
        ),
        "body": body,
        "cell": ParagraphStyle("cell", parent=body, fontSize=9, leading=11, spaceAfter=0),
    }


def _facts(rows: Sequence[tuple[str, str]], s: dict[str, ParagraphStyle]) -> Table:
    table = Table(
        [
            [Paragraph(f"<b>{escape(label)}</b>", s["cell"]), Paragraph(escape(value), s["cell"])]
            for label, value in rows
        ],
        colWidths=[2.1 * inch, 4.8 * inch],
        hAlign="LEFT",
    )
    table.setStyle(
        TableStyle(
            [
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("LINEBELOW", (0, 0), (-1, -1), 0.25, colors.lightgrey),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
            ]
        )
    )
    return table


def _police(facts: LossFacts) -> str:
    if facts.police is None:
        return "NOT ANSWERED YET"
    if not facts.police:
        return "No"
    parts = ["Yes", facts.police_department]
    if facts.police_report_number:
        parts.append(f"report no. {facts.police_report_number}")
    return " — ".join(p for p in parts if p)


def render(*, registrant: Registrant, facts: LossFacts, printed_at: dt.datetime) -> bytes:
    """The Form 106 draft as one PDF."""
    buffer = io.BytesIO()
    draft = not facts.submitted
    doc = SimpleDocTemplate(
        buffer,
        pagesize=LETTER,
        leftMargin=0.8 * inch,
        rightMargin=0.8 * inch,
        topMargin=0.8 * inch,
        bottomMargin=0.8 * inch,
        title=f"{TITLE} ({'DRAFT' if draft else 'submitted'})",
        author=registrant.name,
        subject=f"Theft/loss record {facts.record}",
    )
    s = _styles()
    story: list[Any] = [Paragraph(escape(TITLE), s["title"])]
    if facts.cancelled:
        story.append(Paragraph("CANCELLED — not a theft or significant loss", s["banner"]))
    elif draft:
        story.append(
            Paragraph(
                "DRAFT — not submitted. Enter it in the DEA Theft/Loss Reporting system "
                f"by {facts.complete_by:%m/%d/%Y}.",
                s["banner"],
            )
        )
    else:
        when = f" on {facts.submitted_at:%m/%d/%Y}" if facts.submitted_at else ""
        late = " (late)" if facts.submitted_late else ""
        story.append(
            Paragraph(
                f"Submitted to DEA{escape(when)}{late} — DEA reference "
                f"{escape(facts.dea_reference)}",
                s["heading"],
            )
        )
    story.append(Paragraph("Registrant", s["heading"]))
    story.append(
        _facts(
            [
                ("Name", registrant.name),
                ("Address", ", ".join(a for a in registrant.address_lines if a)),
                ("DEA registration", registrant.dea_number or "NOT ON FILE"),
                ("Telephone", registrant.phone),
            ],
            s,
        )
    )
    notice = "NOT RECORDED YET"
    if facts.dea_notified_at is not None:
        notice = f"{facts.dea_notified_at:%m/%d/%Y %H:%M}"
        if facts.dea_notified_how:
            notice += f" by {facts.dea_notified_how}"
        if facts.notice_late:
            notice += " (LATE)"
    story.append(Paragraph("The theft or loss", s["heading"]))
    story.append(
        _facts(
            [
                ("Record", str(facts.record)),
                ("Type of theft or loss", facts.loss_type),
                (
                    "Date of theft or loss",
                    f"{facts.occurred_on:%m/%d/%Y}" if facts.occurred_on else "unknown",
                ),
                ("Discovered", f"{facts.discovered_at:%m/%d/%Y %H:%M}"),
                ("DEA field office to be notified by", f"{facts.notify_by:%m/%d/%Y}"),
                ("DEA field office notified", notice),
                ("Form 106 to be submitted by", f"{facts.complete_by:%m/%d/%Y}"),
                ("Police notified", _police(facts)),
                ("Previous thefts or losses", str(facts.previous_losses)),
            ],
            s,
        )
    )
    story.append(Paragraph("Controlled substances lost", s["heading"]))
    rows: list[list[Any]] = [
        ["NDC", "Name", "Strength", "Dosage form", "Sched.", "Lot", "Quantity", "Est. value"]
    ]
    total = Decimal(0)
    for p in facts.products:
        rows.append(
            [
                p.ndc,
                Paragraph(escape(p.name), s["cell"]),
                Paragraph(escape(p.strength), s["cell"]),
                Paragraph(escape(p.dosage_form), s["cell"]),
                p.schedule,
                p.lot or "—",
                f"{_qty(p.quantity)} {p.unit}",
                _money(p.estimated_value),
            ]
        )
        total += p.estimated_value or 0
    rows.append(["", "", "", "", "", "", "Total", _money(total)])
    table = Table(
        rows,
        colWidths=[
            0.95 * inch,
            1.45 * inch,
            0.85 * inch,
            0.8 * inch,
            0.45 * inch,
            0.6 * inch,
            0.8 * inch,
            0.85 * inch,
        ],
        repeatRows=1,
        hAlign="LEFT",
    )
    table.setStyle(
        TableStyle(
            [
                ("FONTNAME", (0, 0), (-1, 0), "Helvetica-Bold"),
                ("FONTNAME", (0, -1), (-1, -1), "Helvetica-Bold"),
                ("FONTSIZE", (0, 0), (-1, -1), 8.5),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("LINEBELOW", (0, 0), (-1, 0), 0.75, colors.black),
                ("LINEBELOW", (0, 1), (-1, -2), 0.25, colors.grey),
            ]
        )
    )
    story.append(table)
    story.append(Paragraph("Security measures taken", s["heading"]))
    story.append(Paragraph(escape(facts.security_measures or "NOT GIVEN YET"), s["body"]))
    story.append(Paragraph("What happened", s["heading"]))
    for part in (facts.narrative or "NOT GIVEN YET").split("\n"):
        if part.strip():
            story.append(Paragraph(escape(part), s["body"]))
    story.append(Spacer(1, 0.2 * inch))
    story.append(
        Paragraph(f"Printed {printed_at:%m/%d/%Y %H:%M} from the pharmacy's records.", s["cell"])
    )

    def mark(canvas: Any, _doc: Any) -> None:
        if not draft:
            return
        canvas.saveState()
        canvas.setFont("Helvetica-Bold", 80)
        canvas.setFillColor(colors.Color(0.85, 0.85, 0.85, alpha=0.4))
        canvas.translate(LETTER[0] / 2, LETTER[1] / 2)
        canvas.rotate(45)
        canvas.drawCentredString(0, 0, "DRAFT")
        canvas.restoreState()

    doc.build(story, onFirstPage=mark, onLaterPages=mark)
    return buffer.getvalue()


def registrant_of(loss: TheftLoss) -> Registrant:
    site = loss.site
    city = ", ".join(p for p in (site.city, f"{site.state} {site.postal_code}".strip()) if p)
    phone = site.phone
    if len(phone) == 10:
        phone = f"({phone[:3]}) {phone[3:6]}-{phone[6:]}"
    return Registrant(
        name=site.name,
        address_lines=tuple(a for a in (site.address_line1, site.address_line2, city) if a),
        dea_number=site.dea_number,
        phone=phone,
    )


def facts_of(loss: TheftLoss) -> LossFacts:
    tz = loss.site.tz
    kind = loss.get_loss_type_display()
    if loss.loss_type_other:
        kind = f"{kind}: {loss.loss_type_other}"
    products = tuple(
        Product(
            ndc=line.package.ndc10,
            name=line.package.product.display_name,
            strength=line.package.product.strength,
            dosage_form=line.package.product.dosage_form,
            schedule=line.package.product.dea_schedule,
            lot=line.lot.number if line.lot else "",
            quantity=line.quantity,
            unit=line.package.billing_unit,
            estimated_value=line.estimated_value,
        )
        for line in loss.lines.select_related("package__product", "lot").order_by("id")
    )
    return LossFacts(
        record=loss.pk,
        loss_type=kind,
        discovered_at=loss.discovered_at.astimezone(tz),
        occurred_on=loss.occurred_on,
        notify_by=loss.notify_by,
        complete_by=loss.complete_by,
        dea_notified_at=loss.dea_notified_at.astimezone(tz) if loss.dea_notified_at else None,
        dea_notified_how=loss.dea_notified_how,
        notice_late=notice_late(loss),
        police=police_answered(loss),
        police_department=loss.police_department,
        police_report_number=loss.police_report_number,
        previous_losses=loss.previous_losses,
        security_measures=loss.security_measures,
        narrative=loss.narrative,
        products=products,
        submitted=loss.status == LossStatus.SUBMITTED,
        submitted_at=loss.submitted_at.astimezone(tz) if loss.submitted_at else None,
        submitted_late=submitted_late(loss),
        dea_reference=loss.dea_reference,
        cancelled=loss.status == LossStatus.CANCELLED,
    )


def form_106_pdf(loss: TheftLoss, *, now: dt.datetime) -> bytes:
    """The record's Form 106 draft (or its submitted copy) as PDF bytes."""
    return render(
        registrant=registrant_of(loss),
        facts=facts_of(loss),
        printed_at=now.astimezone(loss.site.tz),
    )


def file_name(loss: TheftLoss) -> str:
    state = "submitted" if loss.status == LossStatus.SUBMITTED else "draft"
    return f"dea-form-106-{loss.pk}-{state}.pdf"
