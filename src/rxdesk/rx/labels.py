"""Prescription labels: what one label says, drawn as a PDF for laser label sheets and as
ZPL II for thermal printers. Reads only; printing is recorded by
rxdesk.rx.services.labels.label_print.

What a label carries (../shared/reference/identifiers-labels-math.md §3, and
controlled-substances.md §4 for Schedules II–IV):

- federal minimum, FD&C Act §503(b)(2) and 21 CFR 1306.14/1306.24: pharmacy name and
  address, Rx (serial) number, date filled, prescriber, patient, directions and cautionary
  statements;
- the CII–CIV transfer caution of 21 CFR 290.5, word for word;
- what states commonly add (§3.3): drug name (tall-man where it applies), strength and
  dosage form, quantity, refills remaining or "No refills", discard-after date,
  manufacturer, pharmacy phone, NDC dispensed;
- USP <17> (§3.4): patient, drug, strength and directions on top and largest; everything
  else smaller at the bottom; directions in the patient's language with the English too;
- ISMP (§3.5): numbers with no trailing zero and always a leading zero ("5 mg", "0.5 mg"),
  a space between number and unit, "per" instead of a slash, "units" instead of U/IU.

The pill's physical description (California B&P §4076) is not in our drug data, so it is
not printed. Rules that differ by state are data (``STATE_LABEL_RULES``), never a branch
on a state code.
"""

from __future__ import annotations

import calendar
import datetime as dt
import io
import re
import textwrap
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from reportlab.graphics.barcode.code128 import Code128
from reportlab.lib.utils import simpleSplit
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen.canvas import Canvas

from rxdesk.catalog.choices import Storage
from rxdesk.catalog.models import Product
from rxdesk.core.models import Site
from rxdesk.inventory.choices import MoveReason
from rxdesk.inventory.models import StockMove
from rxdesk.rx.models import Fill, Prescription

# --- the rules, as data -------------------------------------------------------------------

# 21 CFR 290.5, wording fixed by regulation (identifiers-labels-math.md §3.2).
TRANSFER_CAUTION = (
    "Caution: Federal law prohibits the transfer of this drug to any person other than "
    "the patient for whom it was prescribed."
)


@dataclass(frozen=True)
class LabelRules:
    """What a state asks of a label beyond the federal floor.

    ``caution_schedules``: DEA schedules (2…5) whose label carries the transfer caution —
    federally II, III and IV (21 CFR 290.5); some states add V.
    ``discard_after_months``: the discard-after date is the earlier of the lot's
    expiration date and this many months after the date filled (USP's dispensing rule for
    patient containers: the manufacturer's expiry or 1 year from dispensing, whichever is
    earlier — identifiers-labels-math.md §3.3, compounding-storage.md §6.2).
    ``english_with_translation``: print the English directions too when the patient's
    are in another language (USP <17>).
    """

    caution_schedules: frozenset[int] = frozenset({2, 3, 4})
    discard_after_months: int = 12
    english_with_translation: bool = True


FEDERAL = LabelRules()
# Two-letter state code → its rules. Empty until a state's rule is checked against its
# current statute (the reference lists, unverified, states that add the caution for CV):
# add a row here, never an ``if state == …``.
STATE_LABEL_RULES: dict[str, LabelRules] = {}


def label_rules(state: str) -> LabelRules:
    return STATE_LABEL_RULES.get((state or "").upper(), FEDERAL)


@dataclass(frozen=True)
class AuxiliaryWarning:
    """One auxiliary warning: when it applies and its words (short, plain, USP <17>)."""

    applies: Callable[[Product], bool]
    text: str


# Storage and handling lines from the product's flags; the transfer caution is added from
# the schedule (it depends on the state's rules). Wording: the storage ranges of USP
# (identifiers-labels-math.md §6) and the hazardous-drug label of USP <800>
# (compounding-storage.md §5); ISMP asks for auxiliary labels on high-alert drugs
# (clinical-screening.md §2).
AUXILIARY_WARNINGS: tuple[AuxiliaryWarning, ...] = (
    AuxiliaryWarning(
        lambda p: p.cold_chain or p.storage == Storage.REFRIGERATE,
        "Refrigerate — do not freeze",
    ),
    AuxiliaryWarning(lambda p: p.storage == Storage.FREEZE, "Keep frozen"),
    AuxiliaryWarning(lambda p: p.protect_from_light, "Protect from light"),
    AuxiliaryWarning(lambda p: p.hazardous, "Hazardous drug — handle with gloves"),
    AuxiliaryWarning(lambda p: p.high_alert, "High-alert medicine: take exactly as directed"),
)


# --- numbers --------------------------------------------------------------------------------


def format_quantity(value: Decimal | int | str) -> str:
    """A dose or quantity as a label prints it: no trailing zero ("5", never "5.0"), a
    leading zero ("0.5", never ".5"), thousands grouped with commas ("1,000" — ISMP: commas
    in large numbers), never an exponent."""
    try:
        number = value if isinstance(value, Decimal) else Decimal(str(value).replace(",", ""))
    except InvalidOperation:
        raise ValueError(f"Not a number: {value!r}") from None
    if not number.is_finite():
        raise ValueError(f"Not a finite number: {value!r}")
    if number == 0:
        return "0"
    return format(number.normalize(), ",f")


# A decimal number inside text: digits with a point, or a naked ".5".
_DECIMAL_IN_TEXT = re.compile(r"(?<![\d.,])(\d[\d,]*\.\d+|\.\d+)(?![\d])(?!\.\d)")


def safe_numbers(text: str) -> str:
    """Every decimal number in ``text`` rewritten by format_quantity (a last guard: typed
    directions were already refused with a trailing zero or a naked decimal)."""

    def fix(m: re.Match[str]) -> str:
        try:
            return format_quantity(Decimal(m[0].replace(",", "")))
        except (ValueError, InvalidOperation):
            return m[0]

    return _DECIMAL_IN_TEXT.sub(fix, text)


# FDA NDC Directory unit spellings → ISMP's words.
_UNIT_WORDS = {
    "[usp'u]": "units",
    "[iu]": "units",
    "iu": "units",
    "u": "units",
    "ug": "mcg",
    "µg": "mcg",
    "meq": "mEq",
    "ml": "mL",
    "cc": "mL",
}
_AMOUNT = re.compile(r"^\s*(\d[\d,]*(?:\.\d+)?|\.\d+)?\s*(.*?)\s*$")


def _amount(text: str) -> str:
    m = _AMOUNT.match(text)
    if not m:
        return text.strip()
    number, unit = m[1], m[2]
    unit = _UNIT_WORDS.get(unit.casefold(), unit)
    if number is None:
        return unit
    shown = format_quantity(Decimal(number.replace(",", "")))
    return f"{shown} {unit}".strip()


def format_strength(strength: str) -> str:
    """The directory's strength ("20 mg/1", "250 mg/5mL; 62.5 mg/5mL") as a label says it:
    "20 mg", "250 mg per 5 mL, 62.5 mg per 5 mL" (a slash is read as a 1 — ISMP)."""
    shown = []
    for part in (p.strip() for p in (strength or "").split(";")):
        if not part:
            continue
        amount, _, per = part.partition("/")
        per = per.strip()
        if per in ("", "1"):
            shown.append(_amount(amount))
        else:
            shown.append(f"{_amount(amount)} per {_amount(per)}")
    return ", ".join(shown)


def _form(dosage_form: str) -> str:
    """Dosage form in sentence case: "TABLET, FILM COATED" → "Tablet, film coated" (USP <17>)."""
    text = " ".join((dosage_form or "").split()).lower()
    return text[:1].upper() + text[1:]


# Words for a count of dosage units (billing unit EA), by the dosage form's first word.
_COUNT_NOUNS = {
    "tablet": ("tablet", "tablets"),
    "capsule": ("capsule", "capsules"),
    "caplet": ("caplet", "caplets"),
    "patch": ("patch", "patches"),
    "suppository": ("suppository", "suppositories"),
    "lozenge": ("lozenge", "lozenges"),
    "troche": ("troche", "troches"),
    "film": ("film", "films"),
    "pellet": ("pellet", "pellets"),
    "ring": ("ring", "rings"),
    "insert": ("insert", "inserts"),
    "kit": ("kit", "kits"),
    "pen": ("pen", "pens"),
    "syringe": ("syringe", "syringes"),
    "vial": ("vial", "vials"),
    "inhaler": ("inhaler", "inhalers"),
}
_MEASURES = {"ML": "mL", "GM": "g"}


def quantity_text(quantity: Decimal, unit: str, dosage_form: str = "") -> str:
    """The quantity in words: "30 capsules", "1 tablet", "150 mL", "30 g" ("2 each" otherwise)."""
    amount = format_quantity(quantity)
    if unit in _MEASURES:
        return f"{amount} {_MEASURES[unit]}"
    first = re.split(r"[\s,]+", (dosage_form or "").strip().lower(), maxsplit=1)[0]
    nouns = _COUNT_NOUNS.get(first)
    if nouns is None:
        return f"{amount} each"
    return f"{amount} {nouns[0] if quantity == 1 else nouns[1]}"


# --- what one label says --------------------------------------------------------------------


@dataclass(frozen=True)
class LabelData:
    """Every line one label prints, already as text (the renderers only lay it out)."""

    pharmacy_name: str
    pharmacy_address: str
    pharmacy_phone: str
    rx_number: str  # "Rx 1042-0": the prescription's number and the fill's
    barcode: str  # "1042-0": the Code 128 value
    date_filled: str  # "05/14/2026"
    patient_name: str
    prescriber_name: str
    drug: str  # "PROzac 20 mg Capsule": name (tall-man), strength, dosage form
    generic_name: str  # the nonproprietary name when the drug is named otherwise
    quantity: str  # "30 capsules"
    directions: str  # in the patient's language
    directions_english: str  # the English too when the directions are translated
    language: str
    refills: str  # "Refills: 2" or "No refills"
    discard_after: str  # "05/14/2027"
    manufacturer: str
    ndc: str  # "NDC 0002-3227-30"
    warnings: tuple[str, ...]
    discard_after_date: dt.date | None = None

    def text(self) -> str:
        """Everything printed, one line each (for previews and checks)."""
        lines = [
            self.patient_name,
            self.drug,
            f"({self.generic_name})" if self.generic_name else "",
            self.directions,
            self.directions_english,
            *self.warnings,
            f"Qty: {self.quantity}",
            self.refills,
            f"Filled: {self.date_filled}",
            f"Discard after: {self.discard_after}" if self.discard_after else "",
            f"Prescriber: {self.prescriber_name}",
            f"Mfr: {self.manufacturer}" if self.manufacturer else "",
            self.ndc,
            self.rx_number,
            self.pharmacy_name,
            self.pharmacy_address,
            self.pharmacy_phone,
        ]
        return "\n".join(line for line in lines if line)


def _us(day: dt.date) -> str:
    return f"{day:%m/%d/%Y}"


def _phone(digits: str) -> str:
    d = re.sub(r"\D", "", digits or "")
    return f"({d[:3]}) {d[3:6]}-{d[6:]}" if len(d) == 10 else (digits or "")


def _address(site: Site) -> str:
    place = " ".join(p for p in (site.state, site.postal_code) if p)
    city = ", ".join(p for p in (site.city, place) if p)
    return ", ".join(p for p in (site.address_line1, site.address_line2, city) if p)


def schedule_number(code: str) -> int | None:
    """A DEA schedule as a number: "CII", "2", "2N", "CIIN", "C-IV" → 2, 2, 2, 2, 4."""
    text = re.sub(r"[^A-Z0-9]", "", (code or "").upper())
    if text.startswith("C") and len(text) > 1:
        text = text[1:]
    if text.endswith("N") and len(text) > 1:
        text = text[:-1]
    roman = {"I": 1, "II": 2, "III": 3, "IV": 4, "V": 5}
    if text in roman:
        return roman[text]
    return int(text) if text.isdigit() and 1 <= int(text) <= 5 else None


def add_months(day: dt.date, months: int) -> dt.date:
    """The same day ``months`` later, or that month's last day (29 Feb → 28 Feb)."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def lot_expiries(fill: Fill) -> list[dt.date]:
    """Expiry dates of the lots in this fill's container: the lots its stock moves took out
    and did not put back."""
    net: dict[int, Decimal] = {}
    expiry: dict[int, dt.date | None] = {}
    moves = StockMove.objects.filter(
        site_id=fill.site_id,
        reference_type="fill",
        reference_id=str(fill.pk),
        reason__in=(MoveReason.DISPENSE, MoveReason.RETURN_TO_STOCK),
    ).select_related("lot")
    for move in moves:
        net[move.lot_id] = net.get(move.lot_id, Decimal(0)) + move.quantity
        expiry[move.lot_id] = move.lot.expiry
    return sorted(e for lot, e in expiry.items() if e is not None and net[lot] < 0)


def discard_after(
    date_filled: dt.date, lot_expiries: Sequence[dt.date], rules: LabelRules = FEDERAL
) -> dt.date:
    """The earlier of the soonest lot expiry and ``rules.discard_after_months`` (12) after
    the date filled — USP's rule for patient containers (see LabelRules)."""
    return min([add_months(date_filled, rules.discard_after_months), *lot_expiries])


def _directions(rx: Prescription, language: str, rules: LabelRules) -> tuple[str, str, str]:
    """(directions, the English too or "", their language): the patient's language when
    the prescription has the directions in it (Spanish today), else English."""
    english = " ".join(rx.directions_en.split())
    if language == "es" and rx.directions_es.strip():
        translated = " ".join(rx.directions_es.split())
        return translated, english if rules.english_with_translation else "", "es"
    return english, "", "en"


def label_data(fill: Fill, *, today: dt.date | None = None) -> LabelData:
    """What ``fill``'s label says: read from the fill, its prescription, patient,
    prescriber, the product and package dispensed, the lots its stock moves took, and the
    site. ``today`` (the site's date by default) counts the refills remaining."""
    from rxdesk.rx.queries import rx_state

    rx = fill.prescription
    site = rx.site
    rules = label_rules(site.state)
    today = today or site.today()
    patient, prescriber = rx.patient, rx.prescriber
    # The drug in the container: the package counted out (it may be an A-rated equivalent
    # of the product written for).
    package = fill.package or rx.package
    product = package.product if package is not None else rx.product
    filled_on = fill.dispensed_on or today

    strength = format_strength(product.strength)
    drug = " ".join(p for p in (product.display_name, strength, _form(product.dosage_form)) if p)
    generic = " ".join((product.generic_name or "").split())
    if generic.casefold() in {product.name.casefold(), product.display_name.casefold()}:
        generic = ""
    unit = package.billing_unit if package is not None else rx.quantity_unit

    directions, english, language = _directions(rx, patient.preferred_language, rules)

    refills_left = rx_state(rx, today).refills_remaining
    refills = f"Refills: {refills_left}" if refills_left > 0 else "No refills"

    discard = discard_after(filled_on, lot_expiries(fill), rules)

    warnings = [w.text for w in AUXILIARY_WARNINGS if w.applies(product)]
    schedules = {schedule_number(product.dea_schedule), schedule_number(rx.schedule)}
    if schedules & rules.caution_schedules:
        warnings.insert(0, TRANSFER_CAUTION)

    return LabelData(
        pharmacy_name=site.name,
        pharmacy_address=_address(site),
        pharmacy_phone=_phone(site.phone),
        rx_number=f"Rx {rx.number}-{fill.number}",
        barcode=f"{rx.number}-{fill.number}",
        date_filled=_us(filled_on),
        patient_name=patient.full_name,
        prescriber_name=prescriber.full_name,
        drug=safe_numbers(drug),
        generic_name=generic,
        quantity=quantity_text(fill.quantity, unit, product.dosage_form),
        directions=safe_numbers(directions),
        directions_english=safe_numbers(english),
        language=language,
        refills=refills,
        discard_after=_us(discard),
        manufacturer=product.labeler,
        ndc=f"NDC {package.ndc10}" if package is not None else "",
        warnings=tuple(safe_numbers(w) for w in warnings),
        discard_after_date=discard,
    )


# --- layout shared by both renderers --------------------------------------------------------


@dataclass(frozen=True)
class _Line:
    text: str
    role: str  # patient, drug, generic, directions, english, warning


def _top(label: LabelData) -> list[_Line]:
    """USP <17>: the patient, the drug and the directions first and largest."""
    lines = [_Line(label.patient_name, "patient"), _Line(label.drug, "drug")]
    if label.generic_name:
        lines.append(_Line(f"({label.generic_name})", "generic"))
    lines.append(_Line(label.directions, "directions"))
    if label.directions_english:
        lines.append(_Line(label.directions_english, "english"))
    lines += [_Line(w, "warning") for w in label.warnings]
    return lines


def _details(label: LabelData) -> list[tuple[str, str]]:
    """The less critical lines, smaller, at the bottom (USP <17>), as (left, right) pairs:
    two columns when both fit, else one line joined by "; "."""
    discard = f"Discard after: {label.discard_after}" if label.discard_after else ""
    mfr = f"Mfr: {label.manufacturer}" if label.manufacturer else ""
    return [
        (f"Qty: {label.quantity}", label.refills),
        (f"Filled: {label.date_filled}", discard),
        (f"Prescriber: {label.prescriber_name}", ""),
        (mfr, label.ndc) if mfr else (label.ndc, ""),
    ]


def _joined(pair: tuple[str, str]) -> str:
    return "; ".join(p for p in pair if p)


def _pharmacy(label: LabelData) -> list[str]:
    return [
        label.rx_number,
        "  ".join(p for p in (label.pharmacy_name, label.pharmacy_phone) if p),
        label.pharmacy_address,
    ]


# --- PDF (laser label sheets) -------------------------------------------------------------

# Avery 5164-style sheet: US letter, two columns by three rows of 4 × 3⅓ in labels; top
# margin 0.5 in, side margins 0.156 in, 0.188 in between the columns. Labels fill the
# slots left to right, top to bottom; a seventh label starts a new sheet.
INCH = 72.0
SHEET = (8.5 * INCH, 11 * INCH)
LABEL_W, LABEL_H = 4 * INCH, 10 / 3 * INCH
SHEET_LEFT, SHEET_TOP, COLUMN_PITCH = 0.156 * INCH, 0.5 * INCH, 4.188 * INCH
COLUMNS, ROWS = 2, 3
PAD = 10.0

# Point sizes at full scale. USP <17>: critical items at least 11-point Arial; the scale
# only goes lower when long directions would not otherwise fit.
_PDF_SIZES = {
    "patient": 13.0,
    "drug": 12.0,
    "generic": 9.0,
    "directions": 12.0,
    "english": 9.0,
    "warning": 8.5,
}
_PDF_BOLD = {"patient", "drug", "warning"}


def _pdf_safe(text: str) -> str:
    """Helvetica speaks Windows-1252: keep what it can show ("Núñez", "cápsula", "—"),
    spell the rest without its accents, and '?' as the very last resort."""
    out = []
    for ch in text:
        try:
            ch.encode("cp1252")
            out.append(ch)
        except UnicodeEncodeError:
            base = unicodedata.normalize("NFKD", ch).encode("ascii", "ignore").decode()
            out.append(base or "?")
    return "".join(out)


def _fit_size(text: str, font: str, size: float, width: float, floor: float = 5.0) -> float:
    while size > floor and stringWidth(text, font, size) > width:
        size -= 0.25
    return size


# A line: its text, font and size, and the text of its right-hand column ("" if none).
_Laid = tuple[str, str, float, str]


def _fit_lines(text: str, font: str, size: float, width: float) -> list[_Laid]:
    """One line: smaller until it fits (down to 6 pt), then wrapped."""
    text = _pdf_safe(text)
    size = _fit_size(text, font, size, width, floor=6.0)
    return [(piece, font, size, "") for piece in simpleSplit(text, font, size, width)]


def _fit_pair(pair: tuple[str, str], font: str, size: float, width: float) -> list[_Laid]:
    left, right = (_pdf_safe(t) for t in pair)
    half = width / 2
    if (
        left
        and right
        and stringWidth(left, font, size) <= half - 6
        and stringWidth(right, font, size) <= half
    ):
        return [(left, font, size, right)]
    return _fit_lines(_joined(pair), font, size, width)


def _draw(
    canvas: Canvas, laid: list[_Laid], x: float, top: float, leading: float, width: float
) -> None:
    """Draw lines downwards from ``top`` (in reading order, so the text extracts in it)."""
    y = top
    for piece, font, size, right in laid:
        y -= size * leading
        canvas.setFont(font, size)
        canvas.drawString(x, y + size * (leading - 1), piece)
        if right:
            canvas.drawString(x + width / 2, y + size * (leading - 1), right)


def _height(laid: list[_Laid], leading: float) -> float:
    return sum(size * leading for _, _, size, _ in laid)


def _draw_label(canvas: Canvas, label: LabelData, left: float, top: float) -> None:
    width = LABEL_W - 2 * PAD
    x = left + PAD
    bottom = top - LABEL_H + PAD

    # Bottom: the pharmacy block with the barcode beside it, the details above.
    barcode = Code128(label.barcode, barHeight=24, barWidth=0.9, humanReadable=False)
    beside = width - barcode.width - 6
    pharmacy: list[_Laid] = []
    for i, text in enumerate(_pharmacy(label)):
        bold = i == 0
        font = "Helvetica-Bold" if bold else "Helvetica"
        pharmacy += _fit_lines(text, font, 9.0 if bold else 7.0, beside)
    details: list[_Laid] = []
    for pair in _details(label):
        details += _fit_pair(pair, "Helvetica", 7.5, width)
    pharmacy_top = bottom + max(_height(pharmacy, 1.2), barcode.height + 2)
    details_top = pharmacy_top + 1 + _height(details, 1.2)
    floor = details_top + 3

    # Top: shrink together until everything fits above the details.
    lines = _top(label)
    scale = 1.0
    while True:
        laid: list[_Laid] = []
        for line in lines:
            font = "Helvetica-Bold" if line.role in _PDF_BOLD else "Helvetica"
            size = _PDF_SIZES[line.role] * scale
            text = _pdf_safe(line.text)
            laid += [(p, font, size, "") for p in simpleSplit(text, font, size, width)]
        if top - PAD - _height(laid, 1.2) >= floor or scale <= 0.55:
            break
        scale -= 0.05

    _draw(canvas, laid, x, top - PAD, 1.2, width)
    _draw(canvas, details, x, details_top, 1.2, width)
    _draw(canvas, pharmacy, x, pharmacy_top, 1.2, width)
    barcode.drawOn(canvas, x + width - barcode.width, bottom)


def label_pdf(labels: Sequence[LabelData]) -> bytes:
    """A PDF of ``labels`` on Avery 5164-style laser label sheets: US letter, six 4 × 3⅓ in
    labels (two columns, three rows), one label per slot, in order."""
    if not labels:
        raise ValueError("No labels to print.")
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=SHEET, invariant=True)
    canvas.setTitle("Prescription labels")
    canvas.setCreator("rxdesk")
    per_sheet = COLUMNS * ROWS
    for i, label in enumerate(labels):
        if i and i % per_sheet == 0:
            canvas.showPage()
        slot = i % per_sheet
        column, row = slot % COLUMNS, slot // COLUMNS
        _draw_label(
            canvas,
            label,
            left=SHEET_LEFT + column * COLUMN_PITCH,
            top=SHEET[1] - SHEET_TOP - row * LABEL_H,
        )
    canvas.showPage()
    canvas.save()
    return buffer.getvalue()


# --- ZPL II (thermal printers) --------------------------------------------------------------

# A 4 × 3 in label at 203 dpi: 812 × 609 dots, 20-dot margins. Text is font 0 (scalable);
# ^CI28 makes field data UTF-8 and ^FH lets it travel as hex (_C3_B1 is "ñ"), so the ZPL
# itself is plain ASCII and a "^" or "~" in a name cannot end a field or start a command.
DOTS_W, DOTS_H, MARGIN = 812, 609, 20
_ZPL_SIZES = {
    "patient": 40,
    "drug": 32,
    "generic": 22,
    "directions": 30,
    "english": 22,
    "warning": 20,
}
_ZPL_PLAIN = str.maketrans({"—": "-", "–": "-", "‘": "'", "’": "'", "“": '"', "”": '"'})
_ZPL_CHAR_WIDTH = 0.55  # a font 0 character is about 0.55 × its height wide, on average


def _zpl_text(text: str) -> str:
    out = []
    for ch in text.translate(_ZPL_PLAIN):
        if ch in "^~_" or not (32 <= ord(ch) <= 126):
            ch = " " if ord(ch) < 32 else ch
            out.append("".join(f"_{b:02X}" for b in ch.encode("utf-8")))
        else:
            out.append(ch)
    return "".join(out)


def _zpl_wrap(text: str, height: int, width: int) -> list[str]:
    per_line = max(8, int(width / (height * _ZPL_CHAR_WIDTH)))
    return textwrap.wrap(text, per_line, break_on_hyphens=False) or [""]


def _zpl_fit(text: str, height: int, width: int, floor: int = 16) -> list[tuple[str, int]]:
    """One line: smaller until it fits (down to ``floor`` dots), then wrapped."""
    while height > floor and len(text) * height * _ZPL_CHAR_WIDTH > width:
        height -= 1
    return [(piece, height) for piece in _zpl_wrap(text, height, width)]


def _zpl_field(x: int, y: int, height: int, text: str) -> str:
    return f"^FO{x},{y}^A0N,{height},{height}^FH^FD{_zpl_text(text)}^FS"


def label_zpl(label: LabelData) -> str:
    """ZPL II for a 4 × 3 in thermal label (203 dpi): the same lines as the PDF, with a
    Code 128 barcode (^BC) of the Rx and fill number. ASCII only."""
    width = DOTS_W - 2 * MARGIN
    fields: list[str] = []

    # Bottom up: the pharmacy block beside the barcode, the details above it.
    barcode_h = 60
    # Code 128 at 2 dots a module: 11 modules a character (subset B, the widest) plus
    # start, check and stop.
    bar_w = 2 * (11 * len(label.barcode) + 35)
    bar_x = DOTS_W - MARGIN - bar_w
    bar_y = DOTS_H - MARGIN - barcode_h - 24  # room for the printed interpretation line
    fields.append(
        f"^FO{bar_x},{bar_y}^BY2,3,{barcode_h}^BCN,{barcode_h},Y,N,N,A"
        f"^FD{_zpl_text(label.barcode)}^FS"
    )
    y = DOTS_H - MARGIN
    for i, text in reversed(list(enumerate(_pharmacy(label)))):
        for piece, height in reversed(_zpl_fit(text, 26 if i == 0 else 20, bar_x - 10 - MARGIN)):
            y -= height + 4
            fields.append(_zpl_field(MARGIN, y, height, piece))
    y = min(y, bar_y) - 4
    half = width // 2
    for left, right in reversed(_details(label)):
        if left and right and max(len(left) + 2, len(right)) * 20 * _ZPL_CHAR_WIDTH <= half:
            y -= 24
            fields.append(_zpl_field(MARGIN, y, 20, left))
            fields.append(_zpl_field(MARGIN + half, y, 20, right))
            continue
        for piece, height in reversed(_zpl_fit(_joined((left, right)), 20, width)):
            y -= height + 4
            fields.append(_zpl_field(MARGIN, y, height, piece))
    floor = y - 6

    lines = _top(label)
    scale = 1.0
    while True:
        laid: list[tuple[str, int]] = []
        for line in lines:
            height = max(16, round(_ZPL_SIZES[line.role] * scale))
            laid += [(piece, height) for piece in _zpl_wrap(line.text, height, width)]
        total = sum(height + 4 for _, height in laid)
        if MARGIN + total <= floor or scale <= 0.55:
            break
        scale -= 0.05
    y = MARGIN
    for piece, height in laid:
        fields.append(_zpl_field(MARGIN, y, height, piece))
        y += height + 4

    head = f"^XA^CI28^PW{DOTS_W}^LL{DOTS_H}^LH0,0"
    return "\n".join([head, *fields, "^XZ"]) + "\n"
