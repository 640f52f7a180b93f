"""Reading the CDC immunization code sets (pure: no database).

The directory is what CDC publishes for immunization information systems (the IIS
code-set downloads), read as published:

* ``cvx.xml`` (or ``cvx.csv``) — CVX vaccines; ``mvx.xml`` (or ``mvx.csv``) — MVX
  manufacturers; ``vac2vg.xml`` (or ``cvx_vaccine_group.csv``) — CVX → vaccine group;
* ``NDC_Unit_sale.txt`` and ``NDC_Unit_use.txt`` — the NDC crosswalks, pipe-separated,
  no header. Columns (checked against the rows, not named in the files):
  sale: id | labeler | product | package | proprietary name | description | labeler name |
  start YYYYMMDD | end YYYYMMDD | package form | route | last updated | CVX | CVX
  description | NDC 5-4-2 | GTIN;
  use: id | labeler | product | package | proprietary name | description | labeler name |
  start | end | package form | GTIN | CVX | CVX description | flag | NDC 5-4-2 | last
  updated | GTIN;
* ``NDC_Linker.txt`` — link id | unit-of-sale id | unit-of-use id | MVX. (CDC's page says
  "use id | sale id"; the rows say otherwise: 573 of 575 links join rows of the same CVX
  only when the second column is read as the sale row and the third as the use row.)
* ``vis.xml`` (VIS editions with their GS1 GDTI barcode), ``cvxvis.xml`` (CVX → edition),
  ``visurl.xml`` (document code → the CDC page).

A malformed file or line raises :class:`CdcFileError` naming the file and line. What is
real in CDC's files and not an error: the same NDC listed twice (once per CVX, e.g.
Engerix-B for the adult and the dialysis dose: the first row is kept and the rest are
counted), and links that name a row no longer in the crosswalks (skipped and counted).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from lxml import etree

from rxdesk.catalog.ndc import LAYOUTS

__all__ = [
    "CdcFileError",
    "CdcFiles",
    "CvxRow",
    "Link",
    "MvxRow",
    "NdcRow",
    "VisRow",
    "doses_in",
    "is_live",
    "read_directory",
]

MAX_FILE_BYTES = 20_000_000  # the whole CDC set is about 2 MB
SALE_COLUMNS, USE_COLUMNS, LINK_COLUMNS = 16, 17, 4
_NDC542 = re.compile(r"^(\d{5})-(\d{4})-(\d{2})$")
_DIGITS = re.compile(r"^\d+$")
_CODE = re.compile(r"^[0-9A-Za-z]{1,4}$")
_SEGMENTS = {"4-4-2": (4, 4, 2), "5-3-2": (5, 3, 2), "5-4-1": (5, 4, 1)}


class CdcFileError(ValueError):
    """A CDC file that cannot be read; ``str()`` names the file and line."""

    def __init__(self, file: str, line: int | None, message: str) -> None:
        where = f"{file} line {line}" if line else file
        super().__init__(f"{where}: {message}")
        self.file = file
        self.line = line
        self.message = message


@dataclass(frozen=True)
class CvxRow:
    cvx: str
    short_description: str
    full_name: str
    notes: str
    status: str
    last_updated: dt.date | None
    live: bool


@dataclass(frozen=True)
class MvxRow:
    mvx: str
    name: str
    notes: str
    status: str
    last_updated: dt.date | None


@dataclass(frozen=True)
class NdcRow:
    """One crosswalk row."""

    source_id: str
    unit: str  # "sale" | "use"
    ndc11: str
    ndc10: str  # as printed (labeler-product-package), or 5-4-2 when the columns disagree
    cvx: str
    proprietary_name: str
    description: str
    labeler: str
    package_form: str
    route: str
    start_date: dt.date | None
    end_date: dt.date | None
    gtin: str
    line: int

    @property
    def labeler_code(self) -> str:
        return self.ndc11[:5]

    @property
    def product_ndc(self) -> str:
        """The printed labeler-product code, e.g. 49281-425."""
        return self.ndc10.rsplit("-", 1)[0]


@dataclass(frozen=True)
class Link:
    sale_id: str
    use_id: str
    mvx: str
    line: int


@dataclass(frozen=True)
class VisRow:
    name: str
    edition_date: dt.date
    barcode: str
    document_code: str
    status: str  # "current" | "historic"


@dataclass
class CdcFiles:
    vaccines: list[CvxRow] = field(default_factory=list)
    groups: dict[str, list[str]] = field(default_factory=dict)
    manufacturers: list[MvxRow] = field(default_factory=list)
    sale: list[NdcRow] = field(default_factory=list)
    use: list[NdcRow] = field(default_factory=list)
    links: list[Link] = field(default_factory=list)
    vis: list[VisRow] = field(default_factory=list)
    vis_cvx: dict[str, set[str]] = field(default_factory=dict)  # barcode -> CVX codes
    vis_urls: dict[str, str] = field(default_factory=dict)  # GDTI document code -> URL
    repeated_ndcs: int = 0  # NDC rows listed again (another CVX): first kept
    dangling_links: int = 0  # links naming a row in neither crosswalk


# --- Small readers ----------------------------------------------------------------------------


def _us_date(value: str, *, file: str, line: int | None, what: str) -> dt.date | None:
    """M/D/YYYY as CDC writes it (or blank)."""
    value = value.strip()
    if not value:
        return None
    try:
        return dt.datetime.strptime(value, "%m/%d/%Y").date()
    except ValueError:
        raise CdcFileError(file, line, f"{what} {value!r} is not a date (M/D/YYYY)") from None


def _ymd(value: str, *, file: str, line: int, what: str) -> dt.date | None:
    value = value.strip()
    if not value:
        return None
    try:
        return dt.datetime.strptime(value, "%Y%m%d").date()
    except ValueError:
        raise CdcFileError(file, line, f"{what} {value!r} is not a date (YYYYMMDD)") from None


def _cvx(value: str, *, file: str, line: int | None) -> str:
    code = value.strip()
    if not _DIGITS.match(code) or len(code) > 4:
        raise CdcFileError(file, line, f"CVX code {value.strip()!r} is not 1 to 4 digits")
    return code


def is_live(full_name: str) -> bool:
    """Whether CDC's full vaccine name says the vaccine is live (attenuated), and not
    inactivated: 'zoster vaccine live' yes, 'influenza, live, intranasal' yes."""
    text = full_name.lower()
    if "inactivated" in text or "non-live" in text or "nonlive" in text:
        return False
    return re.search(r"\blive\b", text) is not None


def printed_ndc10(labeler: str, product: str, package: str, ndc11: str) -> str:
    """The 10-digit NDC as printed, from the crosswalk's three segment columns, when they
    form a real layout and agree with the 5-4-2 column; else the 5-4-2 form itself."""
    lengths = (len(labeler), len(product), len(package))
    if all(_DIGITS.match(p) for p in (labeler, product, package)):
        for layout in LAYOUTS:
            if _SEGMENTS[layout] == lengths:
                padded = labeler.rjust(5, "0") + product.rjust(4, "0") + package.rjust(2, "0")
                if padded == ndc11:
                    return f"{labeler}-{product}-{package}"
    return f"{ndc11[:5]}-{ndc11[5:9]}-{ndc11[9:]}"


_COUNTED = re.compile(
    r"(\d+)\s*-?\s*(?:[A-Z][A-Z-]*\s+){0,3}?(SYRINGE|VIAL|APPLICATOR|SPRAYER)S?\b"
)


def doses_in(package_form: str) -> int | None:
    """How many single-dose units a unit-of-sale package holds, when its package form says
    so: 'PACKAGE, 10 SYRINGE' → 10, '1 VIAL, SINGLE-DOSE' or 'SYRINGE' → 1. None when it
    does not: a multi-dose vial (billed in mL; its volume is not in the file), a vial not
    said to be single-dose, a kit, a blister pack, a case of cartons, a bare 'CARTON'."""
    text = " ".join(package_form.upper().replace("PRE- FILLED", "PRE-FILLED").split())
    if not text or "MULTI" in text:
        return None
    single_vial = "SINGLE-DOSE" in text or "SINGLE DOSE" in text
    if re.search(r"\b(KIT|BLISTER PACK|CASE)\b", text) and "SYRINGE" not in text:
        return None
    found = _COUNTED.search(text)
    if found is not None:
        count, unit = int(found.group(1)), found.group(2)
        if unit == "VIAL" and not single_vial:
            return None
        return count if 0 < count <= 1000 else None
    if re.search(r"\bSYRINGES?\b", text) or (single_vial and "VIAL" in text):
        # "Package of 10, single dose syringe": the count comes before the unit's name.
        counted = re.search(r"\bOF (\d+)\b", text)
        return int(counted.group(1)) if counted and 0 < int(counted.group(1)) <= 1000 else 1
    return None


# --- Files ------------------------------------------------------------------------------------


def _read_bytes(path: Path) -> bytes:
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise CdcFileError(path.name, None, f"cannot be read ({exc.strerror})") from None
    if size > MAX_FILE_BYTES:
        raise CdcFileError(path.name, None, "is far larger than a CDC code-set file")
    return path.read_bytes()


def _text(raw: bytes) -> str:
    """CDC files are UTF-8 or Latin-1 (cvx.xml says ISO-8859-1)."""
    for encoding in ("utf-8-sig", "latin-1"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise AssertionError("latin-1 decodes every byte")  # pragma: no cover


def _xml(raw: bytes, file: str) -> etree._Element:
    """Parse safely: no DTD, no entities, no network (a code-set file has none of them)."""
    if b"<!DOCTYPE" in raw or b"<!ENTITY" in raw:
        raise CdcFileError(file, None, "has a DOCTYPE or ENTITY declaration; refused")
    parser = etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False
    )
    try:
        return etree.fromstring(raw, parser=parser)
    except etree.XMLSyntaxError as exc:
        raise CdcFileError(file, exc.lineno, f"is not well-formed XML ({exc.msg})") from None


def _child_text(element: etree._Element, name: str) -> str:
    found = element.find(name)
    return (found.text or "").strip() if found is not None else ""


def _pairs(element: etree._Element) -> dict[str, str]:
    """MVX and vac2vg list <Name>/<Value> pairs inside each record."""
    out: dict[str, str] = {}
    name = None
    for child in element:
        if child.tag == "Name":
            name = (child.text or "").strip()
        elif child.tag == "Value" and name is not None:
            out[name] = (child.text or "").strip()
            name = None
    return out


def _csv_rows(raw: bytes, file: str, required: list[str]) -> Iterator[tuple[int, dict[str, str]]]:
    reader = csv.DictReader(io.StringIO(_text(raw), newline=""))
    missing = [c for c in required if c not in (reader.fieldnames or [])]
    if missing:
        raise CdcFileError(file, 1, f"has no column {', '.join(missing)}")
    for row in reader:
        yield reader.line_num, {k: (v or "").strip() for k, v in row.items() if k}


def parse_cvx_xml(raw: bytes, file: str = "cvx.xml") -> list[CvxRow]:
    root = _xml(raw, file)
    out = []
    for info in root.iter("CVXInfo"):
        line = info.sourceline
        full = _child_text(info, "FullVaccinename")
        out.append(
            CvxRow(
                cvx=_cvx(_child_text(info, "CVXCode"), file=file, line=line),
                short_description=_required(info, "ShortDescription", file),
                full_name=full,
                notes=_child_text(info, "Notes"),
                status=_required(info, "Status", file),
                last_updated=_us_date(
                    _child_text(info, "LastUpdated"), file=file, line=line, what="LastUpdated"
                ),
                live=is_live(full),
            )
        )
    return out


def _required(info: etree._Element, name: str, file: str) -> str:
    value = _child_text(info, name)
    if not value:
        raise CdcFileError(file, info.sourceline, f"{name} is empty")
    return value


def parse_cvx_csv(raw: bytes, file: str = "cvx.csv") -> list[CvxRow]:
    cols = ["CVXCode", "ShortDescription", "FullVaccinename", "Notes", "Status", "LastUpdated"]
    out = []
    for line, row in _csv_rows(raw, file, cols):
        if not row["ShortDescription"] or not row["Status"]:
            raise CdcFileError(file, line, "ShortDescription and Status are required")
        out.append(
            CvxRow(
                cvx=_cvx(row["CVXCode"], file=file, line=line),
                short_description=row["ShortDescription"],
                full_name=row["FullVaccinename"],
                notes=row["Notes"],
                status=row["Status"],
                last_updated=_us_date(row["LastUpdated"], file=file, line=line, what="date"),
                live=is_live(row["FullVaccinename"]),
            )
        )
    return out


def _mvx_row(values: dict[str, str], file: str, line: int | None) -> MvxRow:
    code = values.get("MVX_CODE", "")
    if not _CODE.match(code):
        raise CdcFileError(file, line, f"MVX code {code!r} is not 1 to 4 letters or digits")
    name = values.get("Manufacturer Name", "")
    if not name:
        raise CdcFileError(file, line, "Manufacturer Name is empty")
    return MvxRow(
        mvx=code.upper(),
        name=name,
        notes=values.get("Notes", ""),
        status=values.get("Status", ""),
        last_updated=_us_date(
            values.get("Last Updated", ""), file=file, line=line, what="Last Updated"
        ),
    )


def parse_mvx_xml(raw: bytes, file: str = "mvx.xml") -> list[MvxRow]:
    root = _xml(raw, file)
    return [_mvx_row(_pairs(info), file, info.sourceline) for info in root.iter("MVXInfo")]


def parse_mvx_csv(raw: bytes, file: str = "mvx.csv") -> list[MvxRow]:
    cols = ["MVX_CODE", "Manufacturer Name", "Notes", "Status", "Last Updated"]
    return [_mvx_row(row, file, line) for line, row in _csv_rows(raw, file, cols)]


def _add_group(groups: dict[str, list[str]], cvx: str, group: str) -> None:
    names = groups.setdefault(cvx, [])
    if group and group not in names:
        names.append(group)


def parse_groups_xml(raw: bytes, file: str = "vac2vg.xml") -> dict[str, list[str]]:
    root = _xml(raw, file)
    groups: dict[str, list[str]] = {}
    for info in root.iter("CVXVGInfo"):
        values = _pairs(info)
        cvx = _cvx(values.get("CVXCode", ""), file=file, line=info.sourceline)
        _add_group(groups, cvx, values.get("Vaccine Group Name", ""))
    return groups


def parse_groups_csv(raw: bytes, file: str = "cvx_vaccine_group.csv") -> dict[str, list[str]]:
    groups: dict[str, list[str]] = {}
    for line, row in _csv_rows(raw, file, ["CVXCode", "Vaccine Group Name"]):
        _add_group(groups, _cvx(row["CVXCode"], file=file, line=line), row["Vaccine Group Name"])
    return groups


def _pipe_lines(raw: bytes, file: str, columns: int) -> Iterator[tuple[int, list[str]]]:
    for number, text in enumerate(_text(raw).splitlines(), start=1):
        if not text.strip():
            continue
        cells = text.split("|")
        if len(cells) != columns:
            raise CdcFileError(file, number, f"has {len(cells)} columns, expected {columns}")
        yield number, cells


def _ndc_row(
    cells: list[str], *, unit: str, file: str, line: int, cvx_col: int, ndc_col: int, gtin: str
) -> NdcRow:
    source_id = cells[0].strip()
    if not _DIGITS.match(source_id):
        raise CdcFileError(file, line, f"row id {source_id!r} is not a number")
    found = _NDC542.match(cells[ndc_col].strip())
    if found is None:
        raise CdcFileError(
            file, line, f"NDC {cells[ndc_col].strip()!r} is not 5-4-2 (e.g. 49281-0421-50)"
        )
    ndc11 = "".join(found.groups())
    gtin = gtin.strip()
    if gtin and (not _DIGITS.match(gtin) or not 12 <= len(gtin) <= 14):
        raise CdcFileError(file, line, f"GTIN {gtin!r} is not 12 to 14 digits")
    gtin = gtin.zfill(14) if gtin else ""  # a GTIN-12/13 is the GTIN-14 with leading zeros
    route = cells[10].strip() if unit == "sale" else ""
    return NdcRow(
        source_id=source_id,
        unit=unit,
        ndc11=ndc11,
        ndc10=printed_ndc10(cells[1].strip(), cells[2].strip(), cells[3].strip(), ndc11),
        cvx=_cvx(cells[cvx_col], file=file, line=line),
        proprietary_name=cells[4].strip()[:200],
        description=cells[5].strip()[:300],
        labeler=cells[6].strip()[:200],
        package_form=" ".join(cells[9].split())[:120],
        route=" ".join(route.split())[:60],
        start_date=_ymd(cells[7], file=file, line=line, what="start date"),
        end_date=_ymd(cells[8], file=file, line=line, what="end date"),
        gtin=gtin,
        line=line,
    )


def parse_sale(raw: bytes, file: str = "NDC_Unit_sale.txt") -> list[NdcRow]:
    return [
        _ndc_row(c, unit="sale", file=file, line=n, cvx_col=12, ndc_col=14, gtin=c[15])
        for n, c in _pipe_lines(raw, file, SALE_COLUMNS)
    ]


def parse_use(raw: bytes, file: str = "NDC_Unit_use.txt") -> list[NdcRow]:
    return [
        _ndc_row(c, unit="use", file=file, line=n, cvx_col=11, ndc_col=14, gtin=c[10] or c[16])
        for n, c in _pipe_lines(raw, file, USE_COLUMNS)
    ]


def parse_links(raw: bytes, file: str = "NDC_Linker.txt") -> list[Link]:
    out = []
    for number, cells in _pipe_lines(raw, file, LINK_COLUMNS):
        ids = [c.strip() for c in cells[:3]]
        if not all(_DIGITS.match(i) for i in ids):
            raise CdcFileError(file, number, "the first three columns are row ids (numbers)")
        mvx = cells[3].strip().upper()
        if mvx and not _CODE.match(mvx):
            raise CdcFileError(file, number, f"MVX code {mvx!r} is not 1 to 4 letters or digits")
        out.append(Link(sale_id=ids[1], use_id=ids[2], mvx=mvx, line=number))
    return out


def parse_vis(raw: bytes, file: str = "vis.xml") -> list[VisRow]:
    root = _xml(raw, file)
    out = []
    for info in root.iter("VISInfo"):
        line = info.sourceline
        barcode = _child_text(info, "VIS_encoded_string")
        if not _DIGITS.match(barcode) or len(barcode) > 40:
            raise CdcFileError(file, line, f"VIS barcode {barcode!r} is not a GDTI")
        status = _child_text(info, "status").lower()
        if status not in ("current", "historic"):
            raise CdcFileError(file, line, f"status {status!r} is neither Current nor Historic")
        edition = _us_date(
            _child_text(info, "Edition_Date"), file=file, line=line, what="Edition_Date"
        )
        if edition is None:
            raise CdcFileError(file, line, "Edition_Date is empty")
        out.append(
            VisRow(
                name=_required(info, "VIS_Document_Type_Description", file)[:200],
                edition_date=edition,
                barcode=barcode,
                document_code=_child_text(info, "VIS_GDTI_document_code")[:20],
                status=status,
            )
        )
    return out


def parse_cvx_vis(raw: bytes, file: str = "cvxvis.xml") -> dict[str, set[str]]:
    root = _xml(raw, file)
    out: dict[str, set[str]] = {}
    for info in root.iter("CVXVISMapping"):
        cvx = _cvx(_child_text(info, "CVXCode"), file=file, line=info.sourceline)
        barcode = _child_text(info, "Fully-encodedString")
        if not _DIGITS.match(barcode):
            raise CdcFileError(file, info.sourceline, f"VIS barcode {barcode!r} is not a GDTI")
        out.setdefault(barcode, set()).add(cvx)
    return out


XLINK = "{http://www.w3.org/1999/xlink}href"


def parse_vis_urls(raw: bytes, file: str = "visurl.xml") -> dict[str, str]:
    """GDTI document code → the VIS's page at CDC (the PDF, printed for the patient; the
    web page when there is no PDF)."""
    root = _xml(raw, file)
    out: dict[str, str] = {}
    for info in root.iter("VISURLInfo"):
        code = _child_text(info, "VIS_GDTI_document_Conceptcode")
        urls = [
            (el.get(XLINK) or "").strip()
            for name in ("VIS_PDF_URL", "VIS_HTML_URL")
            if (el := info.find(name)) is not None
        ]
        url = next((u for u in urls if u.startswith("https://") and len(u) <= 300), "")
        if code and url:
            out[code] = url
    return out


# --- The directory ----------------------------------------------------------------------------


def _pick(folder: Path, *names: str) -> Path:
    for name in names:
        candidate = folder / name
        if candidate.is_file():
            return candidate
    raise CdcFileError(" or ".join(names), None, f"is missing from {folder}")


def _first_per_ndc(rows: list[NdcRow]) -> tuple[list[NdcRow], int]:
    seen: set[str] = set()
    kept = []
    for row in rows:
        if row.ndc11 in seen:
            continue
        seen.add(row.ndc11)
        kept.append(row)
    return kept, len(rows) - len(kept)


def read_directory(folder: str | Path) -> CdcFiles:
    """Read every file of the CDC set in ``folder``; raise :class:`CdcFileError` at the first
    bad file or line (nothing is loaded then)."""
    path = Path(folder)
    if not path.is_dir():
        raise CdcFileError(str(folder), None, "is not a directory")
    files = CdcFiles()

    cvx_path = _pick(path, "cvx.xml", "cvx.csv")
    raw = _read_bytes(cvx_path)
    files.vaccines = (
        parse_cvx_xml(raw, cvx_path.name)
        if cvx_path.suffix == ".xml"
        else parse_cvx_csv(raw, cvx_path.name)
    )
    if not files.vaccines:
        raise CdcFileError(cvx_path.name, None, "holds no CVX code")
    mvx_path = _pick(path, "mvx.xml", "mvx.csv")
    raw = _read_bytes(mvx_path)
    files.manufacturers = (
        parse_mvx_xml(raw, mvx_path.name)
        if mvx_path.suffix == ".xml"
        else parse_mvx_csv(raw, mvx_path.name)
    )
    group_path = _pick(path, "vac2vg.xml", "cvx_vaccine_group.csv")
    raw = _read_bytes(group_path)
    files.groups = (
        parse_groups_xml(raw, group_path.name)
        if group_path.suffix == ".xml"
        else parse_groups_csv(raw, group_path.name)
    )

    sale_path = _pick(path, "NDC_Unit_sale.txt")
    use_path = _pick(path, "NDC_Unit_use.txt")
    sale = parse_sale(_read_bytes(sale_path), sale_path.name)
    use = parse_use(_read_bytes(use_path), use_path.name)
    known = {v.cvx for v in files.vaccines}
    for rows, name in ((sale, sale_path.name), (use, use_path.name)):
        for row in rows:
            if row.cvx not in known:
                raise CdcFileError(name, row.line, f"CVX {row.cvx} is not in {cvx_path.name}")
    files.sale, repeated_sale = _first_per_ndc(sale)
    files.use, repeated_use = _first_per_ndc(use)
    files.repeated_ndcs = repeated_sale + repeated_use

    link_path = _pick(path, "NDC_Linker.txt")
    links = parse_links(_read_bytes(link_path), link_path.name)
    sale_ids = {r.source_id for r in sale}
    use_ids = {r.source_id for r in use}
    files.links = [k for k in links if k.sale_id in sale_ids and k.use_id in use_ids]
    files.dangling_links = len(links) - len(files.links)

    vis_path = _pick(path, "vis.xml")
    files.vis = parse_vis(_read_bytes(vis_path), vis_path.name)
    map_path = _pick(path, "cvxvis.xml")
    files.vis_cvx = parse_cvx_vis(_read_bytes(map_path), map_path.name)
    url_path = _pick(path, "visurl.xml")
    files.vis_urls = parse_vis_urls(_read_bytes(url_path), url_path.name)
    return files
