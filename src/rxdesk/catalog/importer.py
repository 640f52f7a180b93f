"""Reading the FDA files behind the drug catalog: the NDC Directory (product.txt,
package.txt), Drugs@FDA (Products.txt, TE.txt, MarketingStatus*.txt) and a price CSV.

Pure: no Django, no database. Each reader turns a file's text into typed rows and a list of
:class:`Problem` — one per refused line, with its line number (the header is line 1) — so
the services in ``rxdesk.catalog.services`` only compare and write. A row is taken whole or
refused whole; a package is taken only if its product was.

The FDA files are tab-separated with a header row and CRLF line ends. Older NDC Directory
files are Latin-1 (a labeler "Schwäbisch Gmünd"), newer ones UTF-8: text that is valid
UTF-8 is read as UTF-8, anything else as Latin-1, which never fails.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import io
import operator
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import NamedTuple

from rxdesk.catalog.ndc import CodeError, layout_of, ndc10_candidates, ndc10_to_11
from rxdesk.catalog.tallman import tall_man

__all__ = [
    "DEA_SCHEDULES",
    "PACKAGE_COLUMNS",
    "PRICE_COLUMNS",
    "PRICE_KINDS",
    "PRODUCT_COLUMNS",
    "ApplicationRow",
    "DescriptionError",
    "FileError",
    "NdcFiles",
    "PackageRow",
    "PriceRow",
    "Problem",
    "ProductRow",
    "TeFiles",
    "appl_no_of",
    "billing_quantity",
    "decode",
    "ndc_readings",
    "parse_ndc",
    "parse_prices",
    "parse_te",
    "split_substances",
]

PRODUCT_COLUMNS = (
    "PRODUCTID",
    "PRODUCTNDC",
    "PRODUCTTYPENAME",
    "PROPRIETARYNAME",
    "PROPRIETARYNAMESUFFIX",
    "NONPROPRIETARYNAME",
    "DOSAGEFORMNAME",
    "ROUTENAME",
    "STARTMARKETINGDATE",
    "ENDMARKETINGDATE",
    "MARKETINGCATEGORYNAME",
    "APPLICATIONNUMBER",
    "LABELERNAME",
    "SUBSTANCENAME",
    "ACTIVE_NUMERATOR_STRENGTH",
    "ACTIVE_INGRED_UNIT",
    "PHARM_CLASSES",
    "DEASCHEDULE",
    "NDC_EXCLUDE_FLAG",
)
PACKAGE_COLUMNS = (
    "PRODUCTID",
    "PRODUCTNDC",
    "NDCPACKAGECODE",
    "PACKAGEDESCRIPTION",
    "STARTMARKETINGDATE",
    "ENDMARKETINGDATE",
    "SAMPLE_PACKAGE",
)
DA_PRODUCT_COLUMNS = (
    "ApplNo",
    "ProductNo",
    "Form",
    "Strength",
    "ReferenceDrug",
    "DrugName",
    "ActiveIngredient",
)
TE_COLUMNS = ("ApplNo", "ProductNo", "MarketingStatusID", "TECode")
STATUS_COLUMNS = ("MarketingStatusID", "ApplNo", "ProductNo")
STATUS_LOOKUP_COLUMNS = ("MarketingStatusID", "MarketingStatusDescription")
PRICE_COLUMNS = ("ndc", "price_type", "price", "effective_date")

DEA_SCHEDULES = frozenset({"CI", "CII", "CIII", "CIV", "CV"})

# Price types as the CSV may name them -> PriceKind values.
PRICE_KINDS = {
    "acquisition": "acquisition",
    "aac": "acquisition",
    "list": "list",
    "awp": "list",
    "usual_customary": "usual_customary",
    "usual and customary": "usual_customary",
    "uc": "usual_customary",
    "u&c": "usual_customary",
}


class FileError(ValueError):
    """The file as a whole cannot be read (empty, or a column missing)."""

    def __init__(self, message: str, *, file: str) -> None:
        super().__init__(message)
        self.file = file


class DescriptionError(ValueError):
    """A package description from which no billing quantity can be read."""


@dataclass(frozen=True, slots=True)
class Problem:
    """A refused line: which file, which line (the header is line 1), and why."""

    file: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.file} line {self.line}: {self.message}"


class RowError(ValueError):
    """One line cannot be taken; the message says which field and why."""


# --- Reading tab-separated files -----------------------------------------------------------


def decode(data: bytes) -> str:
    """The text of an FDA file: UTF-8 when it is valid UTF-8 (a BOM dropped), else Latin-1."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def read_tsv(
    text: str, *, columns: Sequence[str], file: str
) -> tuple[list[tuple[int, list[str]]], list[Problem]]:
    """The rows of a tab-separated file as ``(line number, values in columns order)``.

    Columns are found by their header names, so extra or reordered columns are fine; a
    missing one makes the whole file unusable. A line with another number of fields than
    the header is refused (empty fields after the last column are tolerated: some FDA rows
    carry a trailing tab). Blank lines are skipped but keep their numbers.
    """
    # Split on LF only: str.splitlines() would also break a line at a stray form feed or
    # NEL inside a field and shift every line number after it.
    lines = text.split("\n")
    header_at = next((i for i, line in enumerate(lines) if line.strip()), None)
    if header_at is None:
        raise FileError(f"{file} is empty.", file=file)
    header = [name.strip() for name in lines[header_at].rstrip("\r").split("\t")]
    positions = {name: i for i, name in enumerate(header)}
    missing = [c for c in columns if c not in positions]
    if missing:
        raise FileError(
            f"{file} lacks the column{'s' if len(missing) > 1 else ''} {', '.join(missing)} "
            f"(its header is on line {header_at + 1}); is it the right file?",
            file=file,
        )
    pick = operator.itemgetter(*(positions[c] for c in columns))
    width = len(header)
    strip = str.strip
    rows: list[tuple[int, list[str]]] = []
    problems: list[Problem] = []
    for number in range(header_at + 2, len(lines) + 1):
        line = lines[number - 1]
        if line.endswith("\r"):
            line = line[:-1]
        if not line or line.isspace():
            continue
        values = line.split("\t")
        if len(values) != width:
            while len(values) > width and not values[-1].strip():
                values.pop()
            if len(values) != width:
                problems.append(
                    Problem(file, number, f"has {len(values)} fields where the header has {width}")
                )
                continue
        rows.append((number, list(map(strip, pick(values)))))
    return rows, problems


_DATE = re.compile(r"[0-9]{8}")


def _date(value: str, column: str, cache: dict[str, dt.date | None]) -> dt.date | None:
    """A YYYYMMDD date, None when blank."""
    try:
        return cache[value]
    except KeyError:
        pass
    if not value:
        result = None
    else:
        if not _DATE.fullmatch(value):
            raise RowError(f"{column} {value!r} is not a date (YYYYMMDD)")
        try:
            result = dt.date(int(value[:4]), int(value[4:6]), int(value[6:]))
        except ValueError:
            raise RowError(f"{column} {value!r} is not a date (YYYYMMDD)") from None
    cache[value] = result
    return result


# --- Ingredients --------------------------------------------------------------------------


def split_substances(value: str) -> list[str]:
    """The ';'-separated list of SUBSTANCENAME, keeping a ';' inside parentheses.

    "GLYCERIN; HYDROLYZED SOY PROTEIN (ENZYMATIC; 2000 MW)" is two substances.
    """
    if not value.strip():
        return []
    if "(" not in value:
        return [part.strip() for part in value.split(";")]
    parts, depth, start = [], 0, 0
    for i, char in enumerate(value):
        if char in "([":
            depth += 1
        elif char in ")]":
            depth = max(0, depth - 1)
        elif char == ";" and depth == 0:
            parts.append(value[start:i].strip())
            start = i + 1
    parts.append(value[start:].strip())
    return parts


def _list(value: str) -> list[str]:
    return [part.strip() for part in value.split(";")] if value.strip() else []


def _ingredients(substances: str, strengths: str, units: str) -> tuple[tuple[str, str, str], ...]:
    if ";" not in substances and ";" not in strengths and ";" not in units:
        if not substances:
            if strengths or units.strip("/ "):
                raise RowError("ACTIVE_NUMERATOR_STRENGTH is given but SUBSTANCENAME is blank")
            return ()
        return ((substances, strengths, units if units.strip("/ ") else ""),)
    names = split_substances(substances)
    amounts = _list(strengths)
    unit_list = _list(units)
    n = len(names)
    # FDA publishes a few products without strengths ("" and "/; /; /"): names still count.
    if not any(amounts):
        amounts = [""] * n
    if not any(u.strip("/ ") for u in unit_list):
        unit_list = [""] * n
    if len(amounts) != n or len(unit_list) != n:
        raise RowError(
            f"SUBSTANCENAME names {n} substance{'s' if n != 1 else ''} but "
            f"ACTIVE_NUMERATOR_STRENGTH has {len(amounts)} and ACTIVE_INGRED_UNIT "
            f"{len(unit_list)} entries"
        )
    return tuple(zip(names, amounts, unit_list, strict=True))


# --- Billing unit and package quantity -----------------------------------------------------

# NCPDP billing units: volume in mL, mass in g, everything else counted (EA).
_VOLUME = {"mL": Decimal(1), "L": Decimal(1000), "uL": Decimal("0.001")}
_MASS = {"g": Decimal(1), "kg": Decimal(1000)}
# Package.package_quantity keeps three decimals and fewer than ten digits before them.
_QUANTUM = Decimal("0.001")
_TOO_MANY = Decimal(1_000_000_000)

# One level of a description: "30 TABLET in 1 BOTTLE (0002-3227-30)". The unit may be
# missing ("1  in 1 CARTON"); the trailing parenthesis is an NDC or a GS1 code, or absent.
_LEVEL = re.compile(
    r"\s*(?P<qty>[0-9]*\.?[0-9]+)\s+(?:(?P<unit>.+?)\s+)?in\s+[0-9]*\.?[0-9]+\s+"
    r"(?P<container>.+?)\s*(?:\([^()]*\))?\s*"
)


def _is_metered(unit: str) -> bool:
    """Doses counted inside a device (puffs, sprays): the device is what is dispensed."""
    return unit.startswith(("AEROSOL", "SPRAY")) or unit.endswith("METERED") or unit == "INHALANT"


def _is_measure_not_billed(unit: str) -> bool:
    """Units that are neither a count nor mL/g: hours of a patch (h, d), area (cm2), length
    (mm), homeopathic potencies ([hp_C]), activity (Ci, [USP'U]), and milligrams — a few
    hundred homeopathic and nicotine packages state their contents as "0.3 mg in 1 BOTTLE",
    which as grams rounds away; such a package is billed by the container."""
    return unit != unit.upper() or unit.startswith("[")


def _levels(chain: str) -> list[tuple[Decimal, str]]:
    levels = []
    for part in chain.split(">"):
        if not part.strip():
            continue
        match = _LEVEL.fullmatch(part)
        if match is None:
            raise DescriptionError(f"cannot read {part.strip()!r}")
        levels.append((Decimal(match["qty"]), (match["unit"] or "").strip()))
    return levels


def billing_quantity(description: str, dosage_form: str = "") -> tuple[str, Decimal]:
    """The NCPDP billing unit (EA, ML or GM) of a package and its quantity in that unit,
    from the NDC Directory's PACKAGEDESCRIPTION.

    Nested levels multiply: "5 VIAL in 1 CARTON > 2 mL in 1 VIAL" is 10 mL. Liquids are
    billed in mL, creams and other solids by weight in g, and everything counted — tablets,
    vials of powder for injection, patches, kits, inhalers whose doses are counted in
    actuations — each (EA). ``dosage_form`` (the product's DOSAGEFORMNAME) tells a kit, a
    powder for injection (billed by the vial, not by its reconstituted volume) and a
    medical gas (by the cylinder) from the rest.
    """
    text = description.strip()
    if not text:
        raise DescriptionError("the package description is blank")
    form = dosage_form.strip().upper()
    # The NDCs in parentheses make every description unique; without them a directory has
    # a few thousand shapes, so a cache saves most of the parsing.
    key = (_PARENTHESES.sub("", text), form)
    try:
        return _SHAPES[key]
    except KeyError:
        pass
    result = _billing_quantity(text, form)
    if len(_SHAPES) < 100_000:
        _SHAPES[key] = result
    return result


_PARENTHESES = re.compile(r"\([^()]*\)")
_SHAPES: dict[tuple[str, str], tuple[str, Decimal]] = {}
_KIT = re.compile(r"\bKIT\b")


def _billing_quantity(text: str, form: str) -> tuple[str, Decimal]:
    if "*" in text or form == "KIT" or ("KIT" in text and _KIT.search(text)):
        return "EA", _kits(text)
    count_containers = form.startswith("INJECTION, POWDER") or form == "GAS"
    count = Decimal(1)
    for qty, unit in _levels(text):
        if unit in _VOLUME or unit in _MASS:
            if count_containers:
                return "EA", _checked(count)
            if unit in _VOLUME:
                return "ML", _checked(count * qty * _VOLUME[unit])
            return "GM", _checked(count * qty * _MASS[unit])
        if _is_metered(unit) or _is_measure_not_billed(unit):
            return "EA", _checked(count)
        if qty == 0:
            raise DescriptionError(f"it says 0 {unit or 'units'}")
        count *= qty
    return "EA", _checked(count)


def _kits(text: str) -> Decimal:
    """How many kits a kit package holds: the counts down to the level that names KIT."""
    main = text.split("*")[0]
    count = Decimal(1)
    for qty, unit in _levels(main):
        count *= qty
        if unit == "KIT":
            return _checked(count)
    return Decimal(1)


def _checked(quantity: Decimal) -> Decimal:
    quantity = quantity.quantize(_QUANTUM)
    if quantity <= 0:
        raise DescriptionError("the package quantity comes to zero")
    if quantity >= _TOO_MANY:
        raise DescriptionError(f"the package quantity {quantity:f} is too large")
    return quantity


# --- NDC Directory ------------------------------------------------------------------------


class ProductRow(NamedTuple):
    """A product line of product.txt, as the catalog stores it (field names are Product's)."""

    line: int
    product_id: str
    product_ndc: str
    product_type: str
    name: str
    name_suffix: str
    generic_name: str
    tall_man_name: str
    dosage_form: str
    route: str
    strength: str
    substances: str
    pharm_classes: str
    marketing_category: str
    application_number: str
    labeler: str
    marketing_start: dt.date | None
    marketing_end: dt.date | None
    directory_dea_schedule: str
    otc: bool
    excluded: bool
    ingredients: tuple[tuple[str, str, str], ...]  # (name, strength, unit) in order


class PackageRow(NamedTuple):
    """A package line of package.txt (field names are Package's; product_id is FDA's)."""

    line: int
    product_id: str
    ndc10: str
    ndc11: str
    description: str
    billing_unit: str
    package_quantity: Decimal
    marketing_start: dt.date | None
    marketing_end: dt.date | None
    sample: bool


@dataclass
class NdcFiles:
    """What parse_ndc read: the rows to load, the refused lines, and the keys of refused
    rows (a refused row leaves what the catalog holds for it as it was)."""

    products: list[ProductRow] = field(default_factory=list)
    packages: list[PackageRow] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    refused_product_ids: set[str] = field(default_factory=set)
    refused_ndc11s: set[str] = field(default_factory=set)
    product_lines: int = 0
    package_lines: int = 0


_PRODUCT_NDC = re.compile(r"(?:[0-9]{4}-[0-9]{4}|[0-9]{5}-[0-9]{3,4})")


_TALL_MAN: dict[str, str] = {}


def _tall_man(name: str) -> str:
    try:
        return _TALL_MAN[name]
    except KeyError:
        tall = tall_man(name)
        if len(_TALL_MAN) < 200_000:
            _TALL_MAN[name] = tall
        return tall


def _product(values: list[str], line: int, dates: dict[str, dt.date | None]) -> ProductRow:
    """A product line, or RowError naming every bad field of it."""
    (
        product_id,
        product_ndc,
        product_type,
        proprietary,
        suffix,
        generic,
        form,
        route,
        start,
        end,
        category,
        application,
        labeler,
        substances,
        strengths,
        units,
        classes,
        schedule,
        exclude_flag,
    ) = values
    errors: list[str] = []
    if not product_id:
        errors.append("PRODUCTID is blank")
    if not _PRODUCT_NDC.fullmatch(product_ndc):
        errors.append(f"PRODUCTNDC {product_ndc!r} is not a labeler-product code like 0002-3227")
    name = proprietary or generic
    if not name:
        errors.append("PROPRIETARYNAME and NONPROPRIETARYNAME are both blank")
    schedule = schedule.upper()
    if schedule and schedule not in DEA_SCHEDULES:
        errors.append(f"DEASCHEDULE {schedule!r} is not a DEA schedule (CI to CV, or blank)")
    ingredients: tuple[tuple[str, str, str], ...] = ()
    marketing_start = marketing_end = None
    try:
        ingredients = _ingredients(substances, strengths, units)
    except RowError as exc:
        errors.append(str(exc))
    try:
        marketing_start = _date(start, "STARTMARKETINGDATE", dates)
    except RowError as exc:
        errors.append(str(exc))
    try:
        marketing_end = _date(end, "ENDMARKETINGDATE", dates)
    except RowError as exc:
        errors.append(str(exc))
    if errors:
        raise RowError("; ".join(errors))
    tall = _tall_man(name)
    return ProductRow(
        line,
        product_id,
        product_ndc,
        product_type,
        name,
        suffix,
        generic,
        tall if tall != name else "",
        form,
        route,
        "; ".join(f"{amount} {unit}".strip() for _, amount, unit in ingredients),
        substances,
        classes,
        category,
        application,
        labeler,
        marketing_start,
        marketing_end,
        schedule,
        "OTC" in product_type.upper(),
        exclude_flag.upper() not in {"", "N"},
        ingredients,
    )


# The directory writes every package code as a hyphenated 10-digit NDC; this reads the
# three layouts directly (ndc.py's general reader costs ~20 µs a code, a quarter of a
# million times). A test checks both agree over the whole directory.
_NDC10 = re.compile(r"([0-9]{4,5})-([0-9]{3,4})-([0-9]{1,2})")


def _ndc11_of_package(code: str) -> str:
    match = _NDC10.fullmatch(code)
    if match is not None:
        labeler, product, package = match.groups()
        lengths = (len(labeler), len(product), len(package))
        if lengths == (4, 4, 2):
            return f"0{labeler}{product}{package}"
        if lengths == (5, 3, 2):
            return f"{labeler}0{product}{package}"
        if lengths == (5, 4, 1):
            return f"{labeler}{product}0{package}"
    try:
        layout_of(code)
        return ndc10_to_11(code)  # pragma: no cover - the fast path covers every layout
    except CodeError as exc:
        raise RowError(f"NDCPACKAGECODE {code!r} is not a 10-digit NDC: {exc}") from None


def _package(
    values: list[str], line: int, product: ProductRow, dates: dict[str, dt.date | None]
) -> PackageRow:
    """A package line of a product already read, or RowError naming every bad field."""
    product_id, _, code, description, start, end, sample = values
    errors: list[str] = []
    ndc11 = ""
    unit, quantity = "", Decimal(0)
    marketing_start = marketing_end = None
    try:
        ndc11 = _ndc11_of_package(code)
    except RowError as exc:
        errors.append(str(exc))
    else:
        if not code.startswith(product.product_ndc + "-"):
            errors.append(
                f"NDCPACKAGECODE {code} is not a package of product {product.product_ndc} "
                f"(line {product.line} of the product file)"
            )
    try:
        unit, quantity = billing_quantity(description, product.dosage_form)
    except DescriptionError as exc:
        errors.append(f"PACKAGEDESCRIPTION {description!r}: {exc}")
    try:
        marketing_start = _date(start, "STARTMARKETINGDATE", dates)
    except RowError as exc:
        errors.append(str(exc))
    try:
        marketing_end = _date(end, "ENDMARKETINGDATE", dates)
    except RowError as exc:
        errors.append(str(exc))
    if errors:
        raise RowError("; ".join(errors))
    return PackageRow(
        line,
        product_id,
        code,
        ndc11,
        description,
        unit,
        quantity,
        marketing_start,
        marketing_end,
        sample.upper() == "Y",
    )


def parse_ndc(
    product_text: str,
    package_text: str,
    *,
    product_file: str = "product.txt",
    package_file: str = "package.txt",
) -> NdcFiles:
    """Read an NDC Directory pair. Raises :class:`FileError` if either file is unusable."""
    product_rows, problems = read_tsv(product_text, columns=PRODUCT_COLUMNS, file=product_file)
    package_rows, package_problems = read_tsv(
        package_text, columns=PACKAGE_COLUMNS, file=package_file
    )
    out = NdcFiles(
        problems=problems,
        product_lines=len(product_rows) + len(problems),
        package_lines=len(package_rows) + len(package_problems),
    )
    dates: dict[str, dt.date | None] = {}
    loaded: dict[str, ProductRow] = {}
    refused_lines: dict[str, int] = {}
    for line, values in product_rows:
        product_id = values[0]
        if product_id in loaded or product_id in refused_lines:
            first = loaded[product_id].line if product_id in loaded else refused_lines[product_id]
            out.problems.append(
                Problem(product_file, line, f"PRODUCTID {product_id} repeats line {first}")
            )
            continue
        try:
            row = _product(values, line, dates)
        except RowError as exc:
            out.problems.append(Problem(product_file, line, str(exc)))
            if product_id:
                refused_lines[product_id] = line
                out.refused_product_ids.add(product_id)
            continue
        loaded[product_id] = row
        out.products.append(row)

    out.problems.extend(package_problems)
    taken: dict[str, int] = {}
    for line, values in package_rows:
        product_id, code = values[0], values[2]
        product = loaded.get(product_id)
        if product is None:
            if product_id in refused_lines:
                message = (
                    f"its product {product_id} was refused (line {refused_lines[product_id]} "
                    "of the product file)"
                )
            else:
                message = f"PRODUCTID {product_id!r} is not in the product file"
            out.problems.append(Problem(package_file, line, message))
            _remember_refused(out, code)
            continue
        try:
            package = _package(values, line, product, dates)
        except RowError as exc:
            out.problems.append(Problem(package_file, line, str(exc)))
            _remember_refused(out, code)
            continue
        if package.ndc11 in taken:
            out.problems.append(
                Problem(
                    package_file,
                    line,
                    f"NDC {package.ndc10} repeats line {taken[package.ndc11]} (kept that one)",
                )
            )
            continue
        taken[package.ndc11] = line
        out.packages.append(package)
    out.problems.sort(key=lambda p: (p.file != product_file, p.line))
    return out


def _remember_refused(out: NdcFiles, code: str) -> None:
    with contextlib.suppress(CodeError):
        out.refused_ndc11s.add(ndc10_to_11(code))


# --- Drugs@FDA (Orange Book TE codes) -----------------------------------------------------


class ApplicationRow(NamedTuple):
    """A Drugs@FDA product with its TE code(s) (field names are ApplicationProduct's)."""

    line: int
    appl_no: str
    product_no: str
    drug_name: str
    active_ingredient: str
    form: str
    strength: str
    reference_drug: bool
    te_code: str
    marketing_status: str


@dataclass
class TeFiles:
    rows: list[ApplicationRow] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    lines: int = 0


_APPL_NO = re.compile(r"[0-9]{6}")
_PRODUCT_NO = re.compile(r"[0-9]{3}")
_APPLICATION_NUMBER = re.compile(r"(?:ANDA|NDA|BLA)([0-9]{6})")


def appl_no_of(application_number: str) -> str | None:
    """The Drugs@FDA ApplNo of an NDC Directory APPLICATIONNUMBER: 'ANDA075350' -> '075350'.

    None for monograph and unapproved products ('part341', blank), which have none."""
    match = _APPLICATION_NUMBER.fullmatch(application_number.strip().upper())
    return match[1] if match else None


def _key_problem(appl_no: str, product_no: str) -> str | None:
    if not _APPL_NO.fullmatch(appl_no):
        return f"ApplNo {appl_no!r} is not 6 digits"
    if not _PRODUCT_NO.fullmatch(product_no):
        return f"ProductNo {product_no!r} is not 3 digits"
    return None


def parse_te(
    products_text: str,
    te_text: str,
    lookup_text: str,
    status_text: str | None = None,
    *,
    products_file: str = "Products.txt",
    te_file: str = "TE.txt",
    lookup_file: str = "MarketingStatus_Lookup.txt",
    status_file: str = "MarketingStatus.txt",
) -> TeFiles:
    """Join Drugs@FDA Products.txt with TE.txt (one product may carry several TE codes, as
    levothyroxine's AB1…AB4) and the marketing status, from MarketingStatus.txt when given,
    else from TE.txt."""
    out = TeFiles()
    lookup_rows, out.problems = read_tsv(
        lookup_text, columns=STATUS_LOOKUP_COLUMNS, file=lookup_file
    )
    statuses = {status_id: text for _, (status_id, text) in lookup_rows}

    def status_name(status_id: str) -> str | None:
        return statuses.get(status_id.lstrip("0") or "0", statuses.get(status_id))

    marketing: dict[tuple[str, str], list[str]] = {}

    def note_status(key: tuple[str, str], status_id: str, file: str, line: int) -> None:
        name = status_name(status_id)
        if name is None:
            out.problems.append(
                Problem(file, line, f"MarketingStatusID {status_id!r} is not in {lookup_file}")
            )
            return
        names = marketing.setdefault(key, [])
        if name not in names:
            names.append(name)

    if status_text is not None:
        status_rows, problems = read_tsv(status_text, columns=STATUS_COLUMNS, file=status_file)
        out.problems.extend(problems)
        for line, (status_id, appl_no, product_no) in status_rows:
            note_status((appl_no, product_no), status_id, status_file, line)

    product_rows, problems = read_tsv(products_text, columns=DA_PRODUCT_COLUMNS, file=products_file)
    out.problems.extend(problems)
    out.lines = len(product_rows) + len(problems)
    te_rows, problems = read_tsv(te_text, columns=TE_COLUMNS, file=te_file)
    out.problems.extend(problems)

    products: dict[tuple[str, str], tuple[int, list[str]]] = {}
    for line, values in product_rows:
        key = (values[0], values[1])
        problem = _key_problem(*key)
        if problem is None and key in products:
            problem = f"ApplNo {key[0]} ProductNo {key[1]} repeats line {products[key][0]}"
        if problem:
            out.problems.append(Problem(products_file, line, problem))
            continue
        products[key] = (line, values)

    codes: dict[tuple[str, str], list[str]] = {}
    for line, (appl_no, product_no, status_id, te_code) in te_rows:
        key = (appl_no, product_no)
        problem = _key_problem(appl_no, product_no)
        if problem is None and key not in products:
            problem = f"ApplNo {appl_no} ProductNo {product_no} is not in {products_file}"
        if problem:
            out.problems.append(Problem(te_file, line, problem))
            continue
        if te_code and te_code not in codes.setdefault(key, []):
            codes[key].append(te_code)
        if status_text is None:
            note_status(key, status_id, te_file, line)

    for key, (line, values) in products.items():
        appl_no, product_no, form, strength, reference, drug_name, ingredient = values
        out.rows.append(
            ApplicationRow(
                line=line,
                appl_no=appl_no,
                product_no=product_no,
                drug_name=drug_name,
                active_ingredient=ingredient,
                form=form,
                strength=strength,
                reference_drug=reference == "1",
                te_code=",".join(sorted(codes.get(key, []))),
                marketing_status="; ".join(marketing.get(key, [])),
            )
        )
    out.problems.sort(key=lambda p: (p.file, p.line))
    return out


# --- Price files --------------------------------------------------------------------------


class PriceRow(NamedTuple):
    """A price line; ``ndc11s`` are the readings of its NDC (one, or three when it was
    given as 10 digits without hyphens and the directory must tell which is real)."""

    line: int
    ndc: str
    ndc11s: tuple[str, ...]
    kind: str
    amount: Decimal
    effective_on: dt.date


def ndc_readings(code: str) -> tuple[str, ...]:
    """The 11-digit NDCs a typed NDC may be: one for a hyphenated or 11-digit code, three
    for 10 plain digits. Raises CodeError for anything else."""
    value = code.strip()
    if re.fullmatch(r"[0-9]{10}", value):
        return tuple(ndc11 for ndc11, _ in ndc10_candidates(value))
    return (ndc10_to_11(value),)


_CENTS = Decimal("0.01")


def _price(value: str) -> Decimal:
    text = value.strip().removeprefix("$").replace(",", "")
    try:
        amount = Decimal(text)
    except InvalidOperation:
        raise RowError(f"price {value!r} is not a number") from None
    if not amount.is_finite() or amount < 0:
        raise RowError(f"price {value!r} is not an amount of money")
    if amount != amount.quantize(_CENTS):
        raise RowError(f"price {value!r} has more than two decimals (cents)")
    if amount >= Decimal("1e10"):
        raise RowError(f"price {value!r} is too large")
    return amount.quantize(_CENTS)


def _price_date(value: str) -> dt.date:
    text = value.strip()
    for pattern in ("%Y-%m-%d", "%Y%m%d", "%m/%d/%Y"):
        try:
            return dt.datetime.strptime(text, pattern).date()
        except ValueError:
            continue
    raise RowError(f"effective_date {value!r} is not a date (YYYY-MM-DD)")


def parse_prices(text: str, *, file: str = "prices.csv") -> tuple[list[PriceRow], list[Problem]]:
    """Read a price CSV: header ``ndc,price_type,price,effective_date`` (any order, any
    case), one price of one package per line."""
    reader = csv.reader(io.StringIO(text.removeprefix("\ufeff"), newline=""))
    header: list[str] | None = None
    rows: list[PriceRow] = []
    problems: list[Problem] = []
    positions: Mapping[str, int] = {}
    for values in reader:
        line = reader.line_num
        if not any(v.strip() for v in values):
            continue
        if header is None:
            header = [v.strip().lower() for v in values]
            positions = {name: i for i, name in enumerate(header)}
            missing = [c for c in PRICE_COLUMNS if c not in positions]
            if missing:
                raise FileError(
                    f"{file} lacks the column{'s' if len(missing) > 1 else ''} "
                    f"{', '.join(missing)}; the header must name {', '.join(PRICE_COLUMNS)}.",
                    file=file,
                )
            continue
        if len(values) != len(header):
            problems.append(
                Problem(file, line, f"has {len(values)} fields where the header has {len(header)}")
            )
            continue
        ndc, kind_text, price, date = (values[positions[c]].strip() for c in PRICE_COLUMNS)
        try:
            try:
                ndc11s = ndc_readings(ndc)
            except CodeError as exc:
                raise RowError(f"NDC {ndc!r}: {exc}") from None
            kind = PRICE_KINDS.get(kind_text.lower())
            if kind is None:
                raise RowError(
                    f"price_type {kind_text!r} is not acquisition, list or usual_customary"
                )
            rows.append(PriceRow(line, ndc, ndc11s, kind, _price(price), _price_date(date)))
        except RowError as exc:
            problems.append(Problem(file, line, str(exc)))
    if header is None:
        raise FileError(f"{file} is empty.", file=file)
    return rows, problems
