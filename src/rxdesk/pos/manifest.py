"""The driver's manifest as a PDF: one block per stop with the address, phone, the Rx
numbers, a fridge flag for cold bags, the co-pay to collect and lines to sign."""

from __future__ import annotations

import io
from decimal import Decimal

from django.utils import timezone
from reportlab.lib.pagesizes import letter
from reportlab.lib.units import inch
from reportlab.pdfgen import canvas

from rxdesk.core.validators import format_phone
from rxdesk.pos import pricing
from rxdesk.pos.models import Delivery, Manifest
from rxdesk.pos.queries_willcall import is_cold

MARGIN = 0.6 * inch
STOP_HEIGHT = 1.55 * inch


def _stop_lines(delivery: Delivery) -> tuple[list[str], Decimal | None, bool]:
    fills = list(
        delivery.fills.select_related("prescription__product", "package__product").order_by("pk")
    )
    rxs: list[str] = []
    due: Decimal | None = Decimal("0.00")
    cold = False
    for f in fills:
        cold = cold or is_cold(f)
        rxs.append(f"Rx {f.prescription.number}-{f.number} {f.prescription.drug_description}"[:90])
        amount = pricing.fill_price(f)
        due = None if amount is None or due is None else due + amount
    return rxs, due, cold


def manifest_pdf(manifest: Manifest) -> bytes:
    """The manifest, letter size, as the driver carries it."""
    out = io.BytesIO()
    pdf = canvas.Canvas(out, pagesize=letter, pageCompression=0, invariant=1)
    pdf.setTitle(f"Delivery manifest {manifest.pk}")
    width, height = letter
    site = manifest.site
    deliveries = list(manifest.deliveries.select_related("patient").order_by("pk"))

    def header() -> float:
        y = height - MARGIN
        pdf.setFont("Helvetica-Bold", 14)
        pdf.drawString(MARGIN, y, f"Delivery manifest {manifest.pk} — {site.name}")
        y -= 16
        pdf.setFont("Helvetica", 10)
        when = timezone.localtime(manifest.created_at, site.tz)
        driver = manifest.driver_name or "(no driver)"
        pdf.drawString(
            MARGIN,
            y,
            f"{manifest.get_method_display()} · driver {driver} · {when:%m/%d/%Y %I:%M %p} · "
            f"{len(deliveries)} stop(s)",
        )
        return y - 22

    y = header()
    for number, delivery in enumerate(deliveries, start=1):
        if y - STOP_HEIGHT < MARGIN:
            pdf.showPage()
            y = header()
        rxs, due, cold = _stop_lines(delivery)
        pdf.setFont("Helvetica-Bold", 11)
        flag = "   [FRIDGE: keep cold]" if cold else ""
        pdf.drawString(MARGIN, y, f"{number}. {delivery.patient.full_name}{flag}")
        pdf.setFont("Helvetica", 10)
        y -= 14
        street = ", ".join(p for p in (delivery.address_line1, delivery.address_line2) if p)
        pdf.drawString(
            MARGIN + 14,
            y,
            f"{street}, {delivery.city} {delivery.state} {delivery.postal_code}"
            + (f" · phone {format_phone(delivery.phone)}" if delivery.phone else ""),
        )
        if delivery.instructions:
            y -= 13
            pdf.drawString(MARGIN + 14, y, f"Note: {delivery.instructions}")
        for line in rxs:
            y -= 13
            pdf.drawString(MARGIN + 14, y, line)
        y -= 13
        pdf.setFont("Helvetica-Bold", 10)
        pdf.drawString(
            MARGIN + 14, y, f"Collect: ${due}" if due is not None else "Collect: (ask the pharmacy)"
        )
        pdf.setFont("Helvetica", 9)
        y -= 24
        pdf.line(MARGIN + 14, y, MARGIN + 3.4 * inch, y)
        pdf.line(MARGIN + 3.6 * inch, y, MARGIN + 5.2 * inch, y)
        pdf.line(MARGIN + 5.4 * inch, y, width - MARGIN, y)
        y -= 10
        pdf.drawString(MARGIN + 14, y, "Signature of the person receiving")
        pdf.drawString(MARGIN + 3.6 * inch, y, "Printed name / relationship")
        pdf.drawString(MARGIN + 5.4 * inch, y, "Time")
        y -= 22
    pdf.showPage()
    pdf.save()
    return out.getvalue()
