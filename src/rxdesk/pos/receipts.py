"""Receipts and house-account statements.

A receipt is laid out once, as 40-column lines of text (what a receipt printer prints),
and drawn from those lines on a narrow 80 mm PDF page, so the PDF and the printable page
always say the same thing. The FSA/HSA-eligible total is printed for the IIAS rules
(a card processor checks it against the eligible items)."""

from __future__ import annotations

import datetime as dt
import io
import textwrap
from collections.abc import Iterable
from decimal import Decimal
from typing import TYPE_CHECKING

from reportlab.lib.pagesizes import letter
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas

from rxdesk.core.models import Site
from rxdesk.pos.choices import LineKind, TenderKind
from rxdesk.pos.models import Sale, SaleLine

if TYPE_CHECKING:
    from rxdesk.pos.services.accounts import Statement

WIDTH = 40
PAGE_W = 80 * mm
MARGIN = 4 * mm
FONT, BOLD, SIZE = "Courier", "Courier-Bold", 8.4
LEADING = SIZE * 1.25
FOOTER = (
    "Keep this receipt for your records. Items marked F are FSA/HSA eligible. "
    "Prescriptions cannot be returned once they leave the pharmacy."
)


def money(value: Decimal) -> str:
    return f"-${-value:,.2f}" if value < 0 else f"${value:,.2f}"


def _phone(digits: str) -> str:
    if len(digits) == 10 and digits.isdigit():
        return f"({digits[:3]}) {digits[3:6]}-{digits[6:]}"
    return digits


def _row(left: str, right: str, width: int = WIDTH) -> str:
    room = width - len(right) - 1
    if len(left) > room:
        left = left[: max(room - 1, 0)] + "…"
    return f"{left}{' ' * (width - len(left) - len(right))}{right}"


def _center(text: str) -> list[str]:
    return [line.center(WIDTH).rstrip() for line in textwrap.wrap(text, WIDTH)] or [""]


def _wrap(text: str, indent: str = "") -> list[str]:
    return textwrap.wrap(text, WIDTH, subsequent_indent=indent) or [""]


def pharmacy_lines(site: Site) -> list[str]:
    out = _center(site.name)
    if site.address_line1:
        out += _center(" ".join(p for p in (site.address_line1, site.address_line2) if p))
    place = ", ".join(p for p in (site.city, f"{site.state} {site.postal_code}".strip()) if p)
    if place:
        out += _center(place)
    if site.phone:
        out += _center(_phone(site.phone))
    return out


def _line_text(line: SaleLine) -> list[str]:
    flag = " F" if line.fsa_eligible else ""
    flag += " T" if line.taxable else ""
    if line.kind == LineKind.RX and line.fill is not None:
        fill = line.fill
        label = f"Rx {fill.prescription.number}-{fill.number}"
        drug = fill.prescription.drug_description
        out = [_row(label + flag, money(line.amount))]
        out += _wrap("  " + drug, "  ")
        return out
    qty = line.quantity.normalize()
    first = line.description
    out = _wrap(first)
    detail = f"  {qty:f} @ {money(line.unit_price)}{flag}"
    out.append(_row(detail, money(line.amount)))
    return out


def _when(site: Site, at: dt.datetime | None) -> str:
    if at is None:
        return ""
    local = at.astimezone(site.tz)
    return local.strftime("%m/%d/%Y %I:%M %p ") + (local.tzname() or "")


def receipt_lines(sale: Sale) -> list[str]:
    """The receipt, 40 columns wide, line by line."""
    site = sale.site
    lines = list(sale.lines.select_related("fill__prescription").order_by("pk"))
    tenders = list(sale.tenders.select_related("account", "refund").order_by("pk"))
    out = pharmacy_lines(site)
    out.append("")
    out.append(_row(f"Receipt {sale.receipt_number}", ""))
    out.append(_when(site, sale.completed_at or sale.started_at))
    cashier = sale.completed_by or sale.started_by
    out.append(f"Cashier: {cashier.display_name}"[:WIDTH])
    if sale.status != "completed":
        out.append(f"*** {sale.get_status_display().upper()} ***"[:WIDTH])
    out.append("-" * WIDTH)
    if not lines:
        out.append(_row("Payment on account", money(sale.paid)))
        for t in tenders:
            if t.account is not None:
                out.append(f"  Account {t.account.number} {t.account.name}"[:WIDTH])
    for line in lines:
        out += _line_text(line)
    out.append("-" * WIDTH)
    if lines:
        out.append(_row("Subtotal", money(sale.subtotal)))
        out.append(_row("Tax", money(sale.tax)))
        out.append(_row("TOTAL", money(sale.total)))
        eligible = sum((ln.amount + ln.tax for ln in lines if ln.fsa_eligible), Decimal("0.00"))
        out.append(_row("FSA/HSA eligible total", money(eligible)))
        rx_total = sum((ln.amount for ln in lines if ln.kind == LineKind.RX), Decimal("0.00"))
        if rx_total:
            out.append(_row("  of which prescriptions", money(rx_total)))
        out.append("")
    for t in tenders:
        if t.refund_id is not None:
            continue
        label = TenderKind(t.kind).label
        if t.kind == TenderKind.HOUSE and t.account is not None:
            label = f"House {t.account.number}"
        elif t.reference:
            label = f"{label} {t.reference}"
        if t.kind == TenderKind.CASH and t.tendered is not None:
            out.append(_row("Cash tendered", money(t.tendered)))
        out.append(_row(label, money(t.amount)))
    if sale.change_given:
        out.append(_row("Change", money(sale.change_given)))
    for refund in sale.refunds.order_by("pk"):
        what = "VOID" if refund.is_void else "Refund"
        out.append("")
        out.append(_row(f"{what} {_when(site, refund.refunded_at)[:10]}", money(-refund.amount)))
        for t in refund.tenders.order_by("pk"):
            out.append(_row(f"  to {TenderKind(t.kind).label.lower()}", money(t.amount)))
    out.append("-" * WIDTH)
    out += _center(FOOTER)
    return out


def receipt_text(sale: Sale) -> str:
    """The receipt as plain text, 40 columns (for a printable page or a receipt printer)."""
    return "\n".join(receipt_lines(sale)) + "\n"


def _pdf(rows: list[tuple[str, str]], title: str, page: tuple[float, float] | None) -> bytes:
    buffer = io.BytesIO()
    height = page[1] if page else MARGIN * 2 + LEADING * (len(rows) + 1)
    width = page[0] if page else PAGE_W
    canvas = Canvas(buffer, pagesize=(width, height), invariant=True)
    canvas.setTitle(title)
    canvas.setCreator("rxdesk")
    y = height - MARGIN - SIZE
    for font, text in rows:
        if page and y < MARGIN:
            canvas.showPage()
            y = height - MARGIN - SIZE
        canvas.setFont(font, SIZE)
        canvas.drawString(MARGIN if not page else 0.75 * 72, y, text)
        y -= LEADING
    canvas.showPage()
    canvas.save()
    return buffer.getvalue()


def _bold_first(lines: Iterable[str], bold: int) -> list[tuple[str, str]]:
    return [(BOLD if i < bold else FONT, text) for i, text in enumerate(lines)]


def receipt_pdf(sale: Sale) -> bytes:
    """The receipt on an 80 mm wide page as long as the receipt."""
    lines = receipt_lines(sale)
    heading = len(_center(sale.site.name))
    rows = _bold_first(lines, heading)
    rows = [(BOLD if text.startswith("TOTAL") else font, text) for font, text in rows]
    return _pdf(rows, f"Receipt {sale.receipt_number}", None)


# --- House-account statements ------------------------------------------------------------------


def statement_lines(statement: Statement) -> list[str]:
    account, site = statement.account, statement.site
    width = 78
    out = [site.name]
    out += [
        p
        for p in (
            " ".join(x for x in (site.address_line1, site.address_line2) if x),
            ", ".join(x for x in (site.city, f"{site.state} {site.postal_code}".strip()) if x),
            _phone(site.phone),
        )
        if p
    ]
    out.append("")
    out.append(f"STATEMENT for {statement.start:%B %Y}")
    out.append(f"Account {account.number}  {account.name}")
    for part in (
        account.address_line1,
        account.address_line2,
        ", ".join(x for x in (account.city, f"{account.state} {account.postal_code}".strip()) if x),
    ):
        if part:
            out.append(part)
    out.append("")
    out.append(_row(f"Balance on {statement.start:%m/%d/%Y}", money(statement.opening), width))
    out.append("-" * width)
    tz = site.tz
    for entry in statement.entries:
        when = entry.recorded_at.astimezone(tz).strftime("%m/%d/%Y")
        what = entry.get_kind_display()
        if entry.sale_id:
            what += f" {entry.sale.receipt_number}" if entry.sale else ""
        note = entry.note if entry.kind != "charge" else ""
        out.append(_row(f"{when}  {what}  {note}".rstrip(), money(entry.amount), width))
    if not statement.entries:
        out.append("No charges or payments this month.")
    out.append("-" * width)
    out.append(_row("Charges this month", money(statement.charges), width))
    out.append(_row("Payments and credits this month", money(-statement.credits), width))
    out.append(_row(f"Balance on {statement.end:%m/%d/%Y}", money(statement.closing), width))
    out.append(_row("AMOUNT DUE", money(statement.amount_due), width))
    out.append(_row("Credit limit", money(account.credit_limit), width))
    return out


def statement_pdf(statement: Statement) -> bytes:
    lines = statement_lines(statement)
    rows = _bold_first(lines, 1)
    rows = [
        (BOLD if text.startswith(("STATEMENT", "AMOUNT DUE")) else font, text)
        for font, text in rows
    ]
    return _pdf(
        rows,
        f"Statement {statement.account.number} {statement.year}-{statement.month:02d}",
        letter,
    )
