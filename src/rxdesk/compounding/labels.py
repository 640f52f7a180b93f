"""The label of a compounded preparation: what it says (USP <797> §3.4 and <795> §4.5 of the
reference) and its PDF, one 4 × 2.5 in label per page for a label printer.

A label carries the internal lot number (with a Code 128 barcode), the preparation's name,
strength and dosage form, its active ingredients and their amounts, the total quantity,
"This is a compounded preparation", the beyond-use date — with the time when the BUD is
counted in hours or a few days —, how to store it, the route, for a sterile preparation
whether the container is single- or multiple-dose, the hazardous-drug warning, the
formula's auxiliary statements, the patient and Rx number when the preparation is
dispensed, and the pharmacy's name, address and phone. Reads only: printing is recorded
by rxdesk.compounding.services_records.record_label."""

from __future__ import annotations

import io
import re
import unicodedata
from dataclasses import dataclass, field
from decimal import Decimal

from reportlab.graphics.barcode.code128 import Code128
from reportlab.lib.utils import simpleSplit
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen.canvas import Canvas

from rxdesk.calc import units
from rxdesk.compounding import bud
from rxdesk.compounding.choices import (
    STERILE_CATEGORIES,
    Category,
    ContainerKind,
    IngredientRole,
    Storage,
)
from rxdesk.compounding.models import CompoundingRecord
from rxdesk.core.models import Site

COMPOUNDED = "This is a compounded preparation"
HD_WARNING = "Hazardous drug — handle with gloves"
STORAGE_WORDS: dict[str, str] = {
    Storage.ROOM: "Store at controlled room temperature 20–25 °C",
    Storage.REFRIGERATOR: "Store in refrigerator 2–8 °C",
    Storage.FREEZER: "Store in freezer -25 to -10 °C",
}
CONTAINER_WORDS: dict[str, str] = {
    ContainerKind.SINGLE_DOSE: "Single-dose container",
    ContainerKind.MULTIPLE_DOSE: "Multiple-dose container",
}
# A label prints the BUD's time for immediate use and Category 1 always (hours), and for
# any BUD a few days or less from compounding (bud.SHOW_TIME_WITHIN).
TIMED_CATEGORIES = frozenset({Category.IMMEDIATE_USE, Category.CATEGORY_1})


@dataclass(frozen=True)
class CompoundLabel:
    """Every line one label prints, already as text (the renderer only lays it out)."""

    preparation: str  # "Hydrocortisone 1 % cream"
    actives: tuple[str, ...]  # "Hydrocortisone 2.5 % cream 25 g"
    total: str  # "Total: 100 g"
    lot_number: str
    beyond_use: str  # "BUD: 02/09/2026" or "BUD: 01/05/2026 21:00"
    storage: str
    route: str
    container: str  # single-/multiple-dose statement, sterile only
    warnings: tuple[str, ...]
    patient: str
    rx_number: str
    compounded: str  # "Compounded 01/05/2026"
    pharmacy_name: str
    pharmacy_address: str
    pharmacy_phone: str
    statement: str = COMPOUNDED
    shows_time: bool = False
    extra: tuple[str, ...] = field(default_factory=tuple)

    def lines(self) -> list[tuple[str, str]]:
        """(text, role) in reading order; role picks the font."""
        out: list[tuple[str, str]] = []
        if self.patient:
            rx = f"   {self.rx_number}" if self.rx_number else ""
            out.append((f"{self.patient}{rx}", "patient"))
        out.append((self.preparation, "title"))
        out += [(a, "body") for a in self.actives]
        out.append((self.total, "body"))
        out.append((self.statement, "strong"))
        out.append((self.beyond_use, "strong"))
        out.append((self.storage, "body"))
        out.append((self.route, "body"))
        if self.container:
            out.append((self.container, "body"))
        out += [(w, "warning") for w in self.warnings]
        out.append((f"Lot {self.lot_number}   {self.compounded}", "small"))
        return out

    def text(self) -> str:
        footer = [self.pharmacy_name, self.pharmacy_address, self.pharmacy_phone]
        return "\n".join([t for t, _ in self.lines()] + [p for p in footer if p])


def _phone(digits: str) -> str:
    d = re.sub(r"\D", "", digits or "")
    return f"({d[:3]}) {d[3:6]}-{d[6:]}" if len(d) == 10 else (digits or "")


def _address(site: Site) -> str:
    place = " ".join(p for p in (site.state, site.postal_code) if p)
    city = ", ".join(p for p in (site.city, place) if p)
    return ", ".join(p for p in (site.address_line1, site.address_line2, city) if p)


def shows_time(record: CompoundingRecord) -> bool:
    """Whether the label prints the BUD's time as well as its date."""
    return (
        record.category in TIMED_CATEGORIES
        or record.beyond_use - record.prepared_at <= bud.SHOW_TIME_WITHIN
    )


def label_data(record: CompoundingRecord) -> CompoundLabel:
    """What ``record``'s label says, read from the record, its formula, components,
    patient and prescription, and the site."""
    site = record.site
    formula = record.formula
    tz = site.tz
    components = list(record.components.select_related("ingredient").order_by("position", "pk"))
    totals: dict[int, Decimal] = {}
    described: dict[int, tuple[str, str, bool]] = {}
    for c in components:
        totals[c.position] = totals.get(c.position, Decimal(0)) + c.required_quantity
        active = c.ingredient is None or c.ingredient.role == IngredientRole.ACTIVE
        described[c.position] = (c.name, c.unit, active)
    if not any(active for _, _, active in described.values()):
        described = {p: (n, u, True) for p, (n, u, _) in described.items()}
    actives = tuple(
        f"{name} {units.show(totals[p], unit)}"
        for p, (name, unit, active) in described.items()
        if active
    )
    timed = shows_time(record)
    when = record.beyond_use.astimezone(tz)
    bud_text = f"BUD: {when:%m/%d/%Y %H:%M}" if timed else f"BUD: {when:%m/%d/%Y}"
    sterile = record.category in STERILE_CATEGORIES
    warnings = []
    if record.hazardous:
        warnings.append(HD_WARNING)
    warnings += [" ".join(line.split()) for line in formula.labeling.splitlines() if line.strip()]
    preparation = " ".join(p for p in (formula.name, formula.strength, formula.dosage_form) if p)
    patient = record.patient.full_name if record.patient is not None else ""
    rx = f"Rx {record.prescription.number}" if record.prescription is not None else ""
    return CompoundLabel(
        preparation=preparation,
        actives=actives,
        total=f"Total: {units.show(record.quantity, record.unit)}",
        lot_number=record.lot_number,
        beyond_use=bud_text,
        storage=STORAGE_WORDS.get(record.storage, STORAGE_WORDS[Storage.ROOM]),
        route=f"Route: {formula.route}",
        container=CONTAINER_WORDS.get(formula.container_kind, "") if sterile else "",
        warnings=tuple(warnings),
        patient=patient,
        rx_number=rx,
        compounded=f"Compounded {record.prepared_at.astimezone(tz):%m/%d/%Y %H:%M}",
        pharmacy_name=site.name,
        pharmacy_address=_address(site),
        pharmacy_phone=_phone(site.phone),
        shows_time=timed,
    )


# --- PDF -------------------------------------------------------------------------------------

INCH = 72.0
LABEL_W, LABEL_H = 4 * INCH, 2.5 * INCH
PAD = 7.0
SIZES = {"patient": 9.0, "title": 10.0, "strong": 9.0, "body": 7.5, "warning": 7.5, "small": 6.5}
BOLD = {"patient", "title", "strong", "warning"}
LEADING = 1.15


def _pdf_safe(text: str) -> str:
    """Helvetica speaks Windows-1252: keep what it can show, spell the rest without its
    accents, '?' as the last resort."""
    out = []
    for ch in text:
        try:
            ch.encode("cp1252")
            out.append(ch)
        except UnicodeEncodeError:
            base = unicodedata.normalize("NFKD", ch).encode("ascii", "ignore").decode()
            out.append(base or "?")
    return "".join(out)


_Laid = tuple[str, str, float]


def _lay(lines: list[tuple[str, str]], width: float, scale: float) -> list[_Laid]:
    laid: list[_Laid] = []
    for text, role in lines:
        font = "Helvetica-Bold" if role in BOLD else "Helvetica"
        size = SIZES[role] * scale
        laid += [(p, font, size) for p in simpleSplit(_pdf_safe(text), font, size, width)]
    return laid


def _height(laid: list[_Laid]) -> float:
    return sum(size * LEADING for _, _, size in laid)


def _draw(canvas: Canvas, laid: list[_Laid], x: float, top: float) -> None:
    y = top
    for piece, font, size in laid:
        y -= size * LEADING
        canvas.setFont(font, size)
        canvas.drawString(x, y + size * (LEADING - 1), piece)


def label_pdf(label: CompoundLabel) -> bytes:
    """One 4 × 2.5 in page: the lines from the top (shrunk together until they fit), the
    pharmacy at the bottom left and the lot's Code 128 barcode at the bottom right."""
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=(LABEL_W, LABEL_H), invariant=True)
    canvas.setTitle(f"Compounded preparation {label.lot_number}")
    canvas.setCreator("rxdesk")
    width = LABEL_W - 2 * PAD
    x, top, bottom = PAD, LABEL_H - PAD, PAD

    barcode = Code128(label.lot_number, barHeight=18, barWidth=0.8, humanReadable=False)
    beside = width - barcode.width - 6
    footer: list[_Laid] = []
    for i, text in enumerate(
        p for p in (label.pharmacy_name, label.pharmacy_address, label.pharmacy_phone) if p
    ):
        font = "Helvetica-Bold" if i == 0 else "Helvetica"
        size = 7.0 if i == 0 else 6.0
        text = _pdf_safe(text)
        while size > 4.5 and stringWidth(text, font, size) > beside:
            size -= 0.25
        footer += [(p, font, size) for p in simpleSplit(text, font, size, beside)]
    footer_top = bottom + max(_height(footer), barcode.height + 1)
    floor = footer_top + 2

    lines = label.lines()
    scale = 1.0
    laid = _lay(lines, width, scale)
    while top - _height(laid) < floor and scale > 0.6:
        scale -= 0.04
        laid = _lay(lines, width, scale)
    _draw(canvas, laid, x, top)
    _draw(canvas, footer, x, footer_top)
    barcode.drawOn(canvas, x + width - barcode.width, bottom)
    canvas.showPage()
    canvas.save()
    return buffer.getvalue()
