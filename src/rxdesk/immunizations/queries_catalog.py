"""Reads of the vaccine catalog (CVX, MVX, NDC crosswalk, VIS) and vaccine stock by funding
source.

The catalog is reference data with no PHI (every role that reads the drug catalog reads
it); vaccine stock is a site's and is read with imm.stock. :func:`vaccine_for_code` is the
one way to turn a scan into a vaccine: the administration screens call it too."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import OuterRef, Q, Subquery

from rxdesk.catalog.models import Package
from rxdesk.catalog.ndc import CodeError, Scan, parse_scan
from rxdesk.core.capabilities import Cap
from rxdesk.core.errors import Invalid, NotFound
from rxdesk.core.models import Site, User
from rxdesk.core.services import authorize
from rxdesk.immunizations.choices import CrosswalkUnit, Funding, VisStatus
from rxdesk.immunizations.models import Vaccine, VaccineLot, VaccineNdc, VisDocument
from rxdesk.inventory.models import StockBalance

MAX_CODE = 200
MAX_QUERY = 100
PAGE = 50
EXPIRING_DAYS = 30
_NON_DIGITS = re.compile(r"[^0-9]")


# --- Scans ------------------------------------------------------------------------------------


def read_code(code: str) -> Scan:
    """What a typed or scanned code says (NDC 10/11 digits with or without hyphens, UPC,
    GTIN-14, GS1 DataMatrix); Invalid naming ``code`` when it is not one."""
    text = code or ""
    if len(text) > MAX_CODE:
        raise Invalid(f"A code is at most {MAX_CODE} characters.", field="code")
    try:
        return parse_scan(text)
    except CodeError as exc:
        raise Invalid(str(exc), field="code") from None


def vaccine_for_code(code: str) -> VaccineNdc | None:
    """The crosswalk row a scan names, with its vaccine, manufacturer and ``package`` (the
    unit-of-sale package stock is kept in), or None when the code is no vaccine's.

    Accepts an 11-digit NDC (plain or 5-4-2), a hyphenated 10-digit NDC, 10 plain digits, a
    UPC, a GTIN-14 or a GS1 DataMatrix string. A syringe's (unit-of-use) NDC gives its own
    row, whose package is its carton's. Of several rows, one with a package comes first,
    then the unit of sale. Raises Invalid (field ``code``) for a malformed code, or for 10
    plain digits that read as two different vaccine NDCs."""
    scan = read_code(code)
    qs = VaccineNdc.objects.select_related("vaccine", "manufacturer", "package__product")
    if scan.ndc11:
        rows = list(qs.filter(ndc11=scan.ndc11))
    else:
        match = Q(ndc11__in=scan.candidates)
        if scan.gtin:
            match |= Q(gtin=scan.gtin)
        rows = list(qs.filter(match))
        exact = [
            r
            for r in rows
            if (scan.gtin and r.gtin == scan.gtin)
            or _NON_DIGITS.sub("", r.ndc10) == scan.ndc10_digits
        ]
        rows = exact or rows
        if len({r.ndc11 for r in rows}) > 1:
            raise Invalid(
                f"{code.strip()} matches more than one vaccine NDC; type it with hyphens.",
                field="code",
            )
    if not rows:
        return None
    rows.sort(key=lambda r: (r.package_id is None, r.unit != CrosswalkUnit.SALE, r.pk))
    return rows[0]


def is_vaccine_package(package: Package) -> bool:
    return VaccineNdc.objects.filter(package=package).exists()


def current_vis_for(vaccine: Vaccine) -> list[VisDocument]:
    """The current edition(s) of the VIS for ``vaccine`` (a combination vaccine has one per
    disease, e.g. DTaP-HepB-IPV), by name. CDC maps some CVX codes only to editions that
    have since been replaced (influenza quadrivalent, CVX 150, to the 2021 edition): the
    current edition of the same document (its GDTI document code) is the one to give."""
    mapped = VisDocument.objects.filter(vaccines=vaccine)
    codes = [c for c in mapped.values_list("document_code", flat=True).distinct() if c]
    return list(
        VisDocument.objects.filter(status=VisStatus.CURRENT)
        .filter(Q(vaccines=vaccine) | Q(document_code__in=codes))
        .distinct()
        .order_by("name", "-edition_date")
    )


# --- Vaccine search and detail ----------------------------------------------------------------


@dataclass(frozen=True)
class VaccinePage:
    rows: list[Vaccine]
    total: int
    groups: list[str]  # every vaccine group, for the filter
    statuses: list[str]
    scanned: VaccineNdc | None = None  # the query was a code that named this NDC


def _looks_like_code(q: str) -> bool:
    compact = q.replace("-", "").replace(" ", "")
    return len(compact) >= 10 and (compact.isdigit() or q.startswith(("]", "(", "01")))


def vaccine_search(
    *,
    actor: User | None,
    q: str = "",
    group: str = "",
    status: str = "",
    limit: int = PAGE,
    offset: int = 0,
) -> VaccinePage:
    """Vaccines by CVX code, name (CDC's or a trade name such as Fluzone), CDC vaccine group
    and status; a scanned or typed NDC finds its vaccine."""
    authorize(actor, Cap.CATALOG_VIEW)
    q = " ".join((q or "").split())
    if len(q) > MAX_QUERY:
        raise Invalid(f"Search with at most {MAX_QUERY} characters.", field="q")
    scanned = None
    if q and _looks_like_code(q):
        scanned = vaccine_for_code(q)
    everything = list(Vaccine.objects.order_by("short_description", "cvx"))
    groups = sorted({g for v in everything for g in (v.groups or [])}, key=str.lower)
    statuses = sorted({v.status for v in everything if v.status})
    if scanned is not None:
        rows = [v for v in everything if v.pk == scanned.vaccine_id]
    elif q:
        ids = set(
            Vaccine.objects.filter(
                Q(cvx=q)
                | Q(short_description__icontains=q)
                | Q(full_name__icontains=q)
                | Q(ndcs__proprietary_name__icontains=q)
            ).values_list("pk", flat=True)
        )
        rows = [v for v in everything if v.pk in ids]
        rows.sort(key=lambda v: (v.cvx != q, v.status != "Active", v.short_description.lower()))
    else:
        rows = everything
    if group:
        rows = [v for v in rows if group.lower() in {g.lower() for g in v.groups or []}]
    if status:
        rows = [v for v in rows if v.status.lower() == status.lower()]
    return VaccinePage(
        rows=rows[offset : offset + limit],
        total=len(rows),
        groups=groups,
        statuses=statuses,
        scanned=scanned,
    )


@dataclass(frozen=True)
class VaccineDetail:
    vaccine: Vaccine
    sale: list[VaccineNdc]
    use: list[VaccineNdc]
    vis: list[VisDocument]  # every edition, current first
    manufacturers: list[str]


def vaccine_get(*, actor: User | None, cvx: str) -> VaccineDetail:
    """A vaccine with its NDCs (carton and syringe/vial), manufacturers and VIS editions."""
    authorize(actor, Cap.CATALOG_VIEW)
    vaccine = Vaccine.objects.filter(cvx=(cvx or "").strip()[:4]).first()
    if vaccine is None:
        raise NotFound(f"No vaccine with CVX {cvx} in the catalog.")
    ndcs = list(
        VaccineNdc.objects.filter(vaccine=vaccine)
        .select_related("manufacturer", "package__product")
        .order_by("unit", "-start_date", "ndc11")
    )
    vis = list(
        VisDocument.objects.filter(vaccines=vaccine).order_by("status", "name", "-edition_date")
    )
    makers = sorted({n.manufacturer.name for n in ndcs if n.manufacturer is not None})
    return VaccineDetail(
        vaccine=vaccine,
        sale=[n for n in ndcs if n.unit == CrosswalkUnit.SALE],
        use=[n for n in ndcs if n.unit == CrosswalkUnit.USE],
        vis=vis,
        manufacturers=makers,
    )


# --- Vaccine stock by funding -----------------------------------------------------------------


@dataclass(frozen=True)
class StockRow:
    balance: StockBalance
    vaccine: Vaccine | None
    ndc: VaccineNdc | None
    funding: str  # "" when not recorded
    expired: bool
    expiring: bool  # within EXPIRING_DAYS

    @property
    def lot_id(self) -> int:
        return self.balance.lot_id

    @property
    def on_hand(self) -> Decimal:
        return self.balance.on_hand


@dataclass
class StockReport:
    today: dt.date
    by_funding: dict[str, list[StockRow]] = field(default_factory=dict)
    unfunded: list[StockRow] = field(default_factory=list)

    def sections(self) -> list[tuple[str, str, list[StockRow], Decimal]]:
        """[(funding, label, rows, doses on hand)] in VFC, state, private order."""
        return [
            (
                f.value,
                f.label,
                self.by_funding.get(f.value, []),
                sum((r.on_hand for r in self.by_funding.get(f.value, [])), Decimal(0)),
            )
            for f in Funding
        ]

    @property
    def rows(self) -> list[StockRow]:
        return [r for f in Funding for r in self.by_funding.get(f.value, [])] + self.unfunded


def vaccine_stock(*, actor: User | None, site: Site | None = None) -> StockReport:
    """The site's vaccine doses on hand, by funding source, vaccine, NDC, lot and expiry;
    lots with no funding recorded apart (they are not to be used until it is). Three
    queries, whatever the number of lots."""
    authorize(actor, Cap.IMM_STOCK)
    site = site or (actor.site if actor is not None else None)
    if site is None:
        raise Invalid("Name the site.", field="site")
    today = site.today()
    packages = VaccineNdc.objects.filter(package__isnull=False).values("package_id")
    balances = list(
        StockBalance.objects.filter(site=site, package_id__in=packages, on_hand__gt=0)
        .select_related("lot", "package__product", "location")
        .annotate(
            funding=Subquery(
                VaccineLot.objects.filter(site=site, lot=OuterRef("lot")).values("funding")[:1]
            )
        )
        .order_by("package__product__name", "lot__expiry", "lot__number")
    )
    ndc_of: dict[int, VaccineNdc] = {}
    for n in (
        VaccineNdc.objects.filter(package_id__in={b.package_id for b in balances})
        .select_related("vaccine")
        .order_by("unit", "pk")  # the unit of sale ("sale" < "use") names the carton
    ):
        ndc_of.setdefault(n.package_id or 0, n)
    report = StockReport(today=today)
    soon = today + dt.timedelta(days=EXPIRING_DAYS)
    for b in balances:
        found = ndc_of.get(b.package_id)
        expiry = b.lot.expiry
        row = StockRow(
            balance=b,
            vaccine=found.vaccine if found is not None else None,
            ndc=found,
            funding=getattr(b, "funding", None) or "",
            expired=expiry is not None and expiry < today,
            expiring=expiry is not None and today <= expiry <= soon,
        )
        if row.funding:
            report.by_funding.setdefault(row.funding, []).append(row)
        else:
            report.unfunded.append(row)
    return report


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: object) -> object:
    """A CSV cell a spreadsheet will not run as a formula (CSV injection)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def to_csv(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([csv_cell(v) for v in row])
    return buf.getvalue()


def stock_csv(report: StockReport) -> str:
    """One row per lot on hand: funding (blank = not recorded), vaccine, NDC, lot, expiry."""

    def line(r: StockRow) -> list[object]:
        b = r.balance
        return [
            Funding(r.funding).label if r.funding else "not recorded",
            r.vaccine.cvx if r.vaccine else "",
            r.vaccine.short_description if r.vaccine else "",
            b.package.product.name,
            b.package.ndc10,
            b.lot.number,
            b.lot.expiry,
            "expired" if r.expired else ("expiring" if r.expiring else ""),
            f"{b.on_hand.normalize():f}",
            b.get_status_display(),
        ]

    return to_csv(
        [
            "funding",
            "cvx",
            "vaccine",
            "product",
            "ndc",
            "lot",
            "expiry",
            "dating",
            "doses_on_hand",
            "status",
        ],
        [line(r) for r in report.rows],
    )


def vaccine_lot_at(*, actor: User | None, lot_id: int) -> StockBalance | VaccineLot:
    """A vaccine lot of the actor's site (its balance row, or its funding row when nothing
    is on hand); another site's or an unknown id is not found."""
    authorize(actor, Cap.IMM_STOCK)
    if actor is None or not 0 < lot_id < 2**63:
        raise NotFound("No such vaccine lot at this pharmacy.")
    found = (
        StockBalance.objects.select_related("lot__package")
        .filter(site=actor.site, lot_id=lot_id)
        .first()
    )
    if found is not None:
        return found
    funded = VaccineLot.objects.select_related("lot__package").filter(
        site=actor.site, lot_id=lot_id
    )
    row = funded.first()
    if row is None:
        raise NotFound("No such vaccine lot at this pharmacy.")
    return row


__all__ = [
    "StockReport",
    "StockRow",
    "VaccineDetail",
    "VaccinePage",
    "current_vis_for",
    "is_vaccine_package",
    "read_code",
    "stock_csv",
    "vaccine_for_code",
    "vaccine_get",
    "vaccine_search",
    "vaccine_stock",
]
