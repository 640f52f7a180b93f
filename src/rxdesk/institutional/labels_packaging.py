"""Labels of packaging, as PDF (reportlab).

* Unit-dose labels: a sheet of separable labels, one per repackaged unit, each with the
  drug's name, strength and dosage form, the internal lot, the beyond-use date, the
  manufacturer and its lot, and a Code 128 barcode of the package's NDC (reference §6.2).
  Letter sheets of 30 labels of 2⅝ × 1 in (3 columns × 10 rows, the common address-label
  layout).
* A med pak's label: everything §6.3 lists — the patient; the pak's serial and each Rx
  number; each drug's name, strength, physical description, total quantity, directions,
  cautions and storage, prescriber, manufacturer and lot; the preparation date and the
  beyond-use date; the pharmacy's name, address and phone — and a days × time-slot grid
  showing what is in each cavity.

Only a checked record or pak gets its labels (Conflict before). Reads only: printing is
recorded by rxdesk.institutional.services_packaging."""

from __future__ import annotations

import datetime as dt
import io
import re
import unicodedata
from dataclasses import dataclass
from decimal import Decimal
from xml.sax.saxutils import escape

from reportlab.graphics.barcode.code128 import Code128
from reportlab.lib import colors
from reportlab.lib.pagesizes import letter
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.utils import simpleSplit
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from rxdesk.catalog.choices import Storage
from rxdesk.catalog.models import Product
from rxdesk.core.errors import Conflict
from rxdesk.core.models import Site
from rxdesk.institutional.choices import PackagingStatus, Slot
from rxdesk.institutional.models import MedPak, MedPakItem, RepackRecord
from rxdesk.rx import labels as rx_labels

INCH = 72.0
# 3 × 10 labels of 2⅝ × 1 in on a letter sheet: top margin ½ in, side margin 3⁄16 in,
# columns 2¾ in apart.
LABEL_W, LABEL_H = 2.625 * INCH, 1.0 * INCH
SHEET_LEFT, SHEET_TOP, COLUMN_PITCH = 0.1875 * INCH, 0.5 * INCH, 2.75 * INCH
COLUMNS, ROWS = 3, 10
PER_SHEET = COLUMNS * ROWS
MAX_LABELS = 1200  # 40 sheets: a larger run prints in several batches
PAD = 5.0
SLOT_WORDS = dict(Slot.choices)
STORAGE_WORDS: dict[str, str] = {
    Storage.ROOM: "Store at 20–25 °C (room temperature)",
    Storage.REFRIGERATE: "Store in a refrigerator, 2–8 °C",
    Storage.FREEZE: "Store frozen, −25 to −10 °C",
}


def _pdf_safe(text: str) -> str:
    """Helvetica speaks Windows-1252: keep what it can show, spell the rest without its
    accents, '?' as the last resort."""
    out = []
    for ch in text or "":
        try:
            ch.encode("cp1252")
            out.append(ch)
        except UnicodeEncodeError:
            base = unicodedata.normalize("NFKD", ch).encode("ascii", "ignore").decode()
            out.append(base or "?")
    return "".join(out)


def _us(day: dt.date) -> str:
    return f"{day:%m/%d/%Y}"


def _phone(digits: str) -> str:
    d = re.sub(r"\D", "", digits or "")
    return f"({d[:3]}) {d[3:6]}-{d[6:]}" if len(d) == 10 else (digits or "")


def _address(site: Site) -> str:
    place = " ".join(p for p in (site.state, site.postal_code) if p)
    city = ", ".join(p for p in (site.city, place) if p)
    return ", ".join(p for p in (site.address_line1, site.address_line2, city) if p)


def _num(value: Decimal) -> str:
    return rx_labels.format_quantity(value)


def drug_words(product: Product) -> str:
    """ "Prozac 20 mg Capsule": name, strength, dosage form (as a prescription label)."""
    strength = rx_labels.format_strength(product.strength)
    form = " ".join((product.dosage_form or "").split()).lower()
    form = form[:1].upper() + form[1:]
    return " ".join(p for p in (product.display_name, strength, form) if p)


def storage_words(product: Product) -> str:
    words = STORAGE_WORDS.get(product.storage, STORAGE_WORDS[Storage.ROOM])
    extra = "; protect from light" if product.protect_from_light else ""
    return f"{words}; keep dry{extra}"


# --- Unit-dose labels ------------------------------------------------------------------------


def label_count(record: RepackRecord) -> int:
    """How many labels one print makes: one per unit, at most MAX_LABELS."""
    return max(1, min(int(record.quantity), MAX_LABELS))


def unit_dose_lines(record: RepackRecord) -> list[tuple[str, str, float]]:
    """(text, font, size) of one unit-dose label, top to bottom."""
    product = record.package.product
    maker = product.labeler or "manufacturer not on file"
    return [
        (drug_words(product), "Helvetica-Bold", 7.0),
        (f"Lot {record.number}   BUD {_us(record.bud)}", "Helvetica-Bold", 6.5),
        (f"Mfr {maker}, lot {record.source_lot.number}", "Helvetica", 5.5),
    ]


def _fit(text: str, font: str, size: float, width: float) -> list[tuple[str, str, float]]:
    safe = _pdf_safe(text)
    while size > 4.5 and stringWidth(safe, font, size) > width * 2:
        size -= 0.25
    return [(p, font, size) for p in simpleSplit(safe, font, size, width)[:2]]


def unit_dose_labels(record: RepackRecord) -> bytes:
    """A letter sheet (or several) of separable unit-dose labels, one per unit."""
    if record.status != PackagingStatus.CHECKED:
        raise Conflict(
            f"{record.number} has not been checked by a pharmacist: unit-dose labels are "
            "printed after the check.",
            field="status",
        )
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=letter, invariant=True)
    canvas.setTitle(f"Unit-dose labels {record.number}")
    canvas.setCreator("rxdesk")
    width = LABEL_W - 2 * PAD
    laid: list[tuple[str, str, float]] = []
    for text, font, size in unit_dose_lines(record):
        laid += _fit(text, font, size, width)
    package = record.package
    barcode = Code128(package.ndc11, barHeight=14, barWidth=0.55, humanReadable=False)
    ndc_text = f"NDC {package.ndc10}"
    count = label_count(record)
    _, page_h = letter
    for i in range(count):
        if i and i % PER_SHEET == 0:
            canvas.showPage()
        slot = i % PER_SHEET
        col, row = slot % COLUMNS, slot // COLUMNS
        left = SHEET_LEFT + col * COLUMN_PITCH
        top = page_h - SHEET_TOP - row * LABEL_H
        y = top - PAD
        for piece, font, size in laid:
            y -= size * 1.12
            canvas.setFont(font, size)
            canvas.drawString(left + PAD, y, piece)
        bottom = top - LABEL_H + PAD - 1
        barcode.drawOn(canvas, left + PAD, bottom)
        canvas.setFont("Helvetica", 5.5)
        canvas.drawString(left + PAD + barcode.width + 4, bottom + 2, ndc_text)
    canvas.showPage()
    canvas.save()
    return buffer.getvalue()


# --- The med pak's label ---------------------------------------------------------------------


def _styles() -> dict[str, ParagraphStyle]:
    base = ParagraphStyle("base", fontName="Helvetica", fontSize=8, leading=10)
    return {
        "base": base,
        "small": ParagraphStyle("small", parent=base, fontSize=7, leading=8.5),
        "title": ParagraphStyle(
            "title", parent=base, fontName="Helvetica-Bold", fontSize=13, leading=16
        ),
        "strong": ParagraphStyle(
            "strong", parent=base, fontName="Helvetica-Bold", fontSize=9, leading=11
        ),
        "cell": ParagraphStyle("cell", parent=base, fontSize=7, leading=8.5),
        "head": ParagraphStyle(
            "head", parent=base, fontName="Helvetica-Bold", fontSize=7.5, leading=9
        ),
    }


def _p(text: str, style: ParagraphStyle) -> Paragraph:
    return Paragraph(escape(_pdf_safe(text)), style)


def _key(index: int) -> str:
    """A, B, … Z, AA, AB…: the letter a drug goes by in the grid."""
    letters = ""
    n = index
    while True:
        letters = chr(ord("A") + n % 26) + letters
        n = n // 26 - 1
        if n < 0:
            return letters


def _item_lines(item: MedPakItem, key: str) -> dict[str, str]:
    fill = item.fill
    data = rx_labels.label_data(fill)
    product = item.package.product
    per = ", ".join(
        f"{SLOT_WORDS.get(s, s).lower()} {_num(Decimal(q))}" for s, q in item.per_slot.items()
    )
    cautions = "; ".join(data.warnings) or "None"
    return {
        "key": key,
        "rx": f"Rx {item.prescription.number}",
        "drug": drug_words(product),
        "description": item.description,
        "total": f"Total {_num(item.total_quantity)} ({per} each day)",
        "directions": data.directions,
        "cautions": cautions,
        "storage": storage_words(product),
        "prescriber": data.prescriber_name,
        "maker": f"{product.labeler or 'Manufacturer not on file'}, lot {item.lot.number}, "
        f"exp {_us(item.expiry)}",
    }


@dataclass(frozen=True)
class PakLabel:
    """What a med pak's label says, as text (the renderer lays it out)."""

    pharmacy: str
    address: str
    phone: str
    patient: str
    where: str
    serial: str
    prepared: str
    bud: str
    first: str
    last: str
    slots: list[str]
    drugs: list[dict[str, str]]
    grid: list[list[str]]

    def text(self) -> str:
        lines = [self.patient, self.where, f"Med pak {self.serial}", self.prepared, self.bud]
        for d in self.drugs:
            lines += list(d.values())
        lines += [self.pharmacy, self.address, self.phone]
        return "\n".join(line for line in lines if line)


def med_pak_text(pak: MedPak) -> PakLabel:
    """What the med pak's label says, as text (the renderer lays it out)."""
    site = pak.site
    items = list(
        pak.items.select_related(
            "prescription__prescriber",
            "prescription__patient",
            "prescription__site",
            "fill__prescription__patient",
            "fill__prescription__prescriber",
            "fill__prescription__site",
            "fill__package__product",
            "package__product",
            "lot",
        ).order_by("id")
    )
    drugs = [_item_lines(item, _key(i)) for i, item in enumerate(items)]
    grid: list[list[str]] = []
    for d in range(pak.days):
        day = pak.start_on + dt.timedelta(days=d)
        row = [f"{day:%a} {day:%m/%d}"]
        for slot in pak.slots:
            parts = [
                f"{_key(i)} {_num(Decimal(item.per_slot[slot]))}"
                for i, item in enumerate(items)
                if slot in item.per_slot
            ]
            row.append(", ".join(parts) or "—")
        grid.append(row)
    where = ""
    if pak.resident is not None:
        r = pak.resident
        where = " · ".join(p for p in (r.facility.name, f"room {r.room}" if r.room else "") if p)
    return PakLabel(
        pharmacy=site.name,
        address=_address(site),
        phone=_phone(site.phone),
        patient=pak.patient.full_name,
        where=where,
        serial=pak.number,
        prepared=_us(pak.prepared_on),
        bud=_us(pak.bud),
        first=_us(pak.start_on),
        last=_us(pak.start_on + dt.timedelta(days=pak.days - 1)),
        slots=[SLOT_WORDS.get(s, s) for s in pak.slots],
        drugs=drugs,
        grid=grid,
    )


def med_pak_label(pak: MedPak) -> bytes:
    """The card's label as a letter-size PDF (more pages for a long card)."""
    if pak.status != PackagingStatus.CHECKED:
        raise Conflict(
            f"{pak.number} has not been checked by a pharmacist: its label is printed after "
            "the check.",
            field="status",
        )
    label = med_pak_text(pak)
    s = _styles()
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer,
        pagesize=letter,
        leftMargin=0.5 * INCH,
        rightMargin=0.5 * INCH,
        topMargin=0.5 * INCH,
        bottomMargin=0.5 * INCH,
        title=f"Med pak {label.serial}",
        creator="rxdesk",
        invariant=True,
    )
    story: list[object] = [
        _p(f"{label.patient}", s["title"]),
        _p(
            f"Med pak {label.serial}   Prepared {label.prepared}   "
            f"Beyond-use date {label.bud}   Days {label.first} to {label.last}",
            s["strong"],
        ),
    ]
    if label.where:
        story.append(_p(label.where, s["base"]))
    story.append(
        _p(
            f"{label.pharmacy} · {label.address} · {label.phone}",
            s["base"],
        )
    )
    story.append(Spacer(1, 6))
    rows = [[_p(h, s["head"]) for h in ("", "Rx", "Drug and description", "Directions, cautions")]]
    for d in label.drugs:
        rows.append(
            [
                _p(d["key"], s["strong"]),
                _p(d["rx"], s["cell"]),
                Paragraph(
                    "<b>"
                    + escape(_pdf_safe(d["drug"]))
                    + "</b><br/>"
                    + escape(_pdf_safe(d["description"]))
                    + "<br/>"
                    + escape(_pdf_safe(d["total"]))
                    + "<br/>Prescriber: "
                    + escape(_pdf_safe(d["prescriber"]))
                    + "<br/>Mfr "
                    + escape(_pdf_safe(d["maker"])),
                    s["cell"],
                ),
                Paragraph(
                    escape(_pdf_safe(d["directions"]))
                    + "<br/>Cautions: "
                    + escape(_pdf_safe(d["cautions"]))
                    + "<br/>"
                    + escape(_pdf_safe(d["storage"])),
                    s["cell"],
                ),
            ]
        )
    drugs_table = Table(rows, colWidths=[0.3 * INCH, 0.7 * INCH, 3.3 * INCH, 3.2 * INCH])
    drugs_table.setStyle(
        TableStyle(
            [
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("GRID", (0, 0), (-1, -1), 0.4, colors.grey),
                ("BACKGROUND", (0, 0), (-1, 0), colors.whitesmoke),
            ]
        )
    )
    story += [drugs_table, Spacer(1, 8)]
    slots = label.slots
    head = [_p("Day", s["head"])] + [_p(w, s["head"]) for w in slots]
    body = [[_p(c, s["cell"]) for c in row] for row in label.grid]
    slot_w = (7.5 * INCH - 1.0 * INCH) / max(1, len(slots))
    grid = Table([head, *body], colWidths=[1.0 * INCH] + [slot_w] * len(slots), repeatRows=1)
    grid.setStyle(
        TableStyle(
            [
                ("GRID", (0, 0), (-1, -1), 0.4, colors.grey),
                ("BACKGROUND", (0, 0), (-1, 0), colors.whitesmoke),
                ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
            ]
        )
    )
    story += [
        _p("What is in each cavity (letters as in the list above):", s["strong"]),
        grid,
        Spacer(1, 6),
        _p(
            "Do not use after the beyond-use date. Keep in this package, away from moisture; "
            "do not reuse a returned card.",
            s["small"],
        ),
    ]
    doc.build(story)
    return buffer.getvalue()
