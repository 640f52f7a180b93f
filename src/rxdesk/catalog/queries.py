"""Reads of the drug catalog that more than one door needs: type-ahead search, resolving a
scanned or typed code to a package, a product with what its page shows, and the
therapeutically equivalent products a pharmacist may substitute."""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from django.db.models import Prefetch
from django.utils import timezone

from rxdesk.catalog import search
from rxdesk.catalog.choices import PriceKind
from rxdesk.catalog.models import ApplicationProduct, Package, PackagePrice, Product
from rxdesk.catalog.ndc import CodeError, Scan, format_ndc11, parse_scan
from rxdesk.core.capabilities import Cap
from rxdesk.core.errors import Conflict, Invalid, NotFound
from rxdesk.core.forms import MAX_ID
from rxdesk.core.models import User
from rxdesk.core.services import authorize

SEARCH_LIMIT = 25
MAX_LIMIT = 100
# A GS1 DataMatrix element string is a few dozen characters; anything longer is not a code.
MAX_CODE = 200
# Packages listed under each product in search results.
PACKAGES_SHOWN = 6


# --- Search -----------------------------------------------------------------------------------


@dataclass
class SearchHit:
    """One line of the type-ahead: a product and, when an NDC or a scanned code matched
    one of its packages, that package. ``packages`` are the product's active packages (for
    a product matched by name), so that sizes can be told apart before a pick."""

    product: Product
    package: Package | None = None
    packages: list[Package] = field(default_factory=list)


def _active_packages() -> Prefetch:
    return Prefetch(
        "packages",
        queryset=Package.objects.filter(active=True).order_by("package_quantity", "ndc11"),
        to_attr="active_packages",
    )


def catalog_search(*, actor: User | None, q: str, limit: int = SEARCH_LIMIT) -> list[SearchHit]:
    """Products (or, for an NDC, packages) matching what was typed, best first.

    A name, ingredient, strength or form ('ator 40', 'metformin er', 'insulin glargine')
    searches products; digits and hyphens are the start of an NDC in any layout and search
    packages; a whole UPC, GTIN or GS1 code finds its package. Fewer than three letters or
    digits lists nothing. See rxdesk.catalog.search for the index and the ranking."""
    authorize(actor, Cap.CATALOG_VIEW)
    q = (q or "").strip()[: search.MAX_QUERY]
    limit = max(1, min(int(limit), MAX_LIMIT))
    if _is_whole_code(q):
        return [SearchHit(product=p.product, package=p) for p in _scanned_packages(q)][:limit]
    if search.is_ndc_like(q):
        ids = search.package_ids_by_ndc(q, limit=limit)
        by_id = Package.objects.select_related("product").in_bulk(ids)
        return [SearchHit(product=by_id[i].product, package=by_id[i]) for i in ids if i in by_id]
    ids = search.product_ids(search.terms_of(q), limit=limit)
    if not ids:
        return []
    products = Product.objects.prefetch_related(_active_packages()).in_bulk(ids)
    hits = [SearchHit(product=products[i]) for i in ids if i in products]
    for hit in hits:
        hit.packages = list(getattr(hit.product, "active_packages", []))[:PACKAGES_SHOWN]
    return _by_strength(hits)


def _is_whole_code(q: str) -> bool:
    """A scanned barcode rather than an NDC being typed: a UPC, GTIN-14, GS1 string."""
    digits = re.sub(r"[\s-]", "", q)
    if q.startswith(("(", "]")) or "\x1d" in q:
        return True
    return digits.isdigit() and len(digits) >= 12 and "-" not in q


def _scanned_packages(q: str) -> list[Package]:
    try:
        scan = parse_scan(q)
    except CodeError:
        return []
    return packages_for_scan(scan)


_AMOUNT = re.compile(r"(?<![/\w.])(\d*\.?\d+)")


def _strength_key(text: str) -> tuple[Decimal, ...]:
    """The numbers of a strength in order ('5 mg/1' -> (5,)), for sorting like strengths
    numerically (5 mg before 10 mg)."""
    out = []
    for number in _AMOUNT.findall(text or ""):
        try:
            out.append(Decimal(number))
        except InvalidOperation:  # pragma: no cover - the pattern admits only numbers
            continue
    return tuple(out)


def _by_strength(hits: list[SearchHit]) -> list[SearchHit]:
    """Within a run of the same name (as ranked by the index), order by strength as a
    number, then labeler: 'atorvastatin 10 mg, 20 mg, 40 mg, 80 mg'."""
    out: list[SearchHit] = []
    run: list[SearchHit] = []

    def flush() -> None:
        run.sort(key=lambda h: (_strength_key(h.product.strength), h.product.labeler.lower()))
        out.extend(run)
        run.clear()

    for hit in hits:
        if run and (
            hit.product.name.lower() != run[0].product.name.lower()
            or hit.product.active != run[0].product.active
        ):
            flush()
        run.append(hit)
    flush()
    return out


# --- Codes ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Resolved:
    """A code resolved to its package, with what the code itself carried (a DSCSA 2D
    barcode's lot, expiry and serial number)."""

    package: Package
    scan: Scan

    @property
    def lot(self) -> str | None:
        return self.scan.lot

    @property
    def expiry(self) -> dt.date | None:
        return self.scan.expiry

    @property
    def serial(self) -> str | None:
        return self.scan.serial


class AmbiguousCode(Conflict):
    """Ten digits without hyphens that match more than one package in the catalog."""

    code = "ambiguous_code"
    title = "More than one package has this code"


def _digits(text: str) -> str:
    return re.sub(r"\D", "", text or "")


def packages_for_scan(scan: Scan) -> list[Package]:
    """The packages a scan can mean. A 10-digit code (typed without hyphens, or inside a
    UPC, GTIN or GS1 barcode) has three 11-digit readings; of the packages found, those
    whose printed 10-digit NDC is those very digits are the real match."""
    qs = Package.objects.select_related("product").order_by("ndc11")
    if scan.ndc11:
        return list(qs.filter(ndc11=scan.ndc11))
    found = list(qs.filter(ndc11__in=scan.candidates))
    printed = [p for p in found if _digits(p.ndc10) == scan.ndc10_digits]
    return printed or found


def resolve_code(*, actor: User | None, code: str) -> Resolved:
    """The package a typed or scanned code names: an 11-digit NDC (with or without
    hyphens), a hyphenated 10-digit NDC, 10 digits without hyphens, a UPC-A, a GTIN-14, or
    a GS1 DataMatrix element string (with its lot, expiry and serial).

    Raises Invalid (field ``code``) for a malformed code or a bad check digit, NotFound for
    a well-formed code that is not in the catalog, and AmbiguousCode, listing the
    candidates, when 10 digits match more than one package."""
    authorize(actor, Cap.CATALOG_VIEW)
    if len(code or "") > MAX_CODE:
        raise Invalid(f"A code is at most {MAX_CODE} characters.", field="code")
    try:
        scan = parse_scan(code or "")
    except CodeError as exc:
        raise Invalid(str(exc), field="code") from None
    packages = packages_for_scan(scan)
    if len(packages) == 1:
        return Resolved(package=packages[0], scan=scan)
    if not packages:
        if scan.ndc11:
            raise NotFound(f"No package with NDC {format_ndc11(scan.ndc11)} is in the catalog.")
        raise NotFound(
            f"No package with NDC {scan.ndc10_digits} (in any of the layouts 4-4-2, 5-3-2 "
            "and 5-4-1) is in the catalog."
        )
    raise AmbiguousCode(
        f"{len(packages)} packages have NDC {scan.ndc10_digits}; choose one, or type the NDC "
        "with its hyphens.",
        candidates=[
            {
                "ndc11": p.ndc11,
                "ndc10": p.ndc10,
                "package_description": p.description,
                "product": p.product.display_name,
                "strength": p.product.strength,
                "dosage_form": p.product.dosage_form,
                "labeler": p.product.labeler,
            }
            for p in packages
        ],
    )


# --- Products ---------------------------------------------------------------------------------


def packages_by_ids(*, actor: User | None, ids: Iterable[int]) -> list[Package]:
    """Packages by id, in the order given (unknown ids left out)."""
    authorize(actor, Cap.CATALOG_VIEW)
    wanted = list(dict.fromkeys(ids))
    found = Package.objects.select_related("product").in_bulk(wanted)
    return [found[pk] for pk in wanted if pk in found]


def product_for(*, actor: User | None, product_id: int) -> Product:
    """The product with this id, or NotFound."""
    authorize(actor, Cap.CATALOG_VIEW)
    product = None
    if 0 < product_id <= MAX_ID:
        product = Product.objects.filter(pk=product_id).first()
    if product is None:
        raise NotFound("No such product in the catalog.")
    return product


def products_by_ndc(codes: Iterable[str]) -> tuple[list[Product], list[str]]:
    """Products named by their product NDC ('0002-3227', labeler-product as the directory
    prints it) or by any package code; returns (products found, codes not found)."""
    found: list[Product] = []
    missing: list[str] = []
    for code in codes:
        code = code.strip()
        if not code:
            continue
        product = Product.objects.filter(product_ndc=code).order_by("-active", "pk").first()
        if product is None:
            try:
                packages = packages_for_scan(parse_scan(code))
            except CodeError:
                packages = []
            product = packages[0].product if len(packages) == 1 else None
        if product is None:
            missing.append(code)
        elif product not in found:
            found.append(product)
    return found, missing


@dataclass(frozen=True)
class LatestPrice:
    kind: str
    amount: Decimal
    effective_on: dt.date

    @property
    def label(self) -> str:
        return str(PriceKind(self.kind).label) if self.kind in PriceKind.values else self.kind


def latest_prices(
    packages: Iterable[Package], *, on: dt.date | None = None
) -> dict[int, list[LatestPrice]]:
    """``{package id: [LatestPrice per kind]}``: for each kind the price with the latest
    effective date on or before ``on`` (today) — history is kept; the latest applies."""
    on = on or timezone.localdate()
    ids = [p.pk for p in packages]
    out: dict[int, dict[str, LatestPrice]] = {i: {} for i in ids}
    rows = PackagePrice.objects.filter(package_id__in=ids, effective_on__lte=on).order_by(
        "package_id", "kind", "-effective_on"
    )
    for row in rows:
        out[row.package_id].setdefault(
            row.kind, LatestPrice(row.kind, row.amount, row.effective_on)
        )
    return {i: sorted(kinds.values(), key=lambda p: p.kind) for i, kinds in out.items()}


def pharm_classes(product: Product) -> list[str]:
    """'HMG-CoA Reductase Inhibitor [EPC],Hydroxymethylglutaryl-CoA …' as a list."""
    return [c.strip() for c in re.split(r",(?=\S)", product.pharm_classes or "") if c.strip()]


# --- Therapeutic equivalence (Orange Book) ----------------------------------------------------

_APPLICATION = re.compile(r"^(?:NDA|ANDA|BLA)(\d{1,6})$")
_MASS = {"mg": Decimal(1), "g": Decimal(1000), "gm": Decimal(1000), "kg": Decimal(10**6)}
_MICRO = {"ug", "mcg", "µg", "μg"}
_AMOUNT_UNIT = re.compile(r"(?<![/\w.])(\d*\.?\d+)\s*([a-zµμ%]*)", re.IGNORECASE)


@dataclass(frozen=True)
class Equivalent:
    """A product a pharmacist may substitute, with its Orange Book TE code."""

    product: Product
    te_code: str


def appl_no_of(product: Product) -> str:
    """'ANDA075350' -> '075350' (Drugs@FDA's ApplNo); '' for OTC monographs and others."""
    return _appl_no(product.application_number)


def _appl_no(application_number: str) -> str:
    match = _APPLICATION.match((application_number or "").strip().upper())
    return match.group(1).zfill(6) if match else ""


@functools.lru_cache(maxsize=4096)
def strength_amounts(text: str) -> tuple[Decimal, ...]:
    """The amounts of a strength, masses in mg, denominators left out, sorted: NDC
    '25 ug/1' and Drugs@FDA '0.025MG' are both (0.025,); 'EQ 10MG BASE' is (10,);
    '.75 mg/.5mL' is (0.75,). Drugs@FDA's footnotes after '**' are ignored."""
    text = (text or "").split("**")[0]
    out = []
    for number, unit in _AMOUNT_UNIT.findall(text):
        try:
            value = Decimal(number)
        except InvalidOperation:  # pragma: no cover
            continue
        unit = unit.lower()
        if unit in _MICRO:
            value = value / 1000
        elif unit in _MASS:
            value = value * _MASS[unit]
        out.append(value.normalize())
    return tuple(sorted(out))


def te_codes(text: str) -> list[str]:
    """A TE code field as a list: 'AB1,AB2' -> ['AB1', 'AB2'] (Drugs@FDA lists a product
    once per code; the importer keeps them together)."""
    return [c for c in re.split(r"[\s,;]+", (text or "").upper()) if c]


def _a_rated(text: str) -> bool:
    return any(code.startswith("A") for code in te_codes(text))


def _form_word(text: str) -> str:
    return re.split(r"[,;\s]", (text or "").strip().upper(), maxsplit=1)[0]


def _narrow(rows: list[ApplicationProduct], keep: Callable[[ApplicationProduct], bool]) -> list:
    """The rows that ``keep`` accepts, or all of them when it accepts none."""
    return [r for r in rows if keep(r)] or rows


@dataclass(frozen=True)
class _Fields:
    """The columns of a product that tell which Drugs@FDA row it is."""

    pk: int
    name: str
    strength: str
    dosage_form: str
    application_number: str


def _row_for(
    product: Product | _Fields, rows: list[ApplicationProduct]
) -> ApplicationProduct | None:
    """The Drugs@FDA product of the product's application that is this product: the same
    strength; among several, the same form, then the same name (an NDA may hold a brand
    and its sister brand, PROZAC and SARAFEM), then one with a TE code. The only row if
    the strength cannot tell."""
    if not rows:
        return None
    amounts = strength_amounts(product.strength)
    form = _form_word(product.dosage_form)
    same = [r for r in rows if amounts and strength_amounts(r.strength) == amounts]
    if len(same) > 1:
        same = _narrow(same, lambda r: _form_word(r.form) == form)
        name = product.name.strip().upper()
        same = _narrow(same, lambda r: bool(r.drug_name) and name.startswith(r.drug_name))
        same = _narrow(same, lambda r: bool(r.te_code))
        if len({(r.te_code, r.active_ingredient, r.form) for r in same}) == 1:
            return same[0]  # alike in every way that matters here
    if len(same) == 1:
        return same[0]
    if not same and len(rows) == 1 and _form_word(rows[0].form) == form:
        return rows[0]
    return None


def _substitutable(code: str, other: str) -> bool:
    """Whether two TE code fields share an A rating. Numbered codes (AB1, AB2 … as for
    levothyroxine) are separate groups: they must be the same code."""
    for a in te_codes(code):
        for b in te_codes(other):
            if not (a.startswith("A") and b.startswith("A")):
                continue
            if a == b or not any(c.isdigit() for c in a + b):
                return True
    return False


def te_code_of(product: Product) -> str:
    """The product's Orange Book TE code(s) as on file ('AB', 'AB1,AB2'; '' when none)."""
    appl_no = appl_no_of(product)
    if not appl_no:
        return ""
    row = _row_for(product, list(ApplicationProduct.objects.filter(appl_no=appl_no)))
    return row.te_code if row else ""


def equivalents(product: Product) -> list[Equivalent]:
    """The products a pharmacist may substitute for ``product``: those of the same active
    ingredient, form and strength in Drugs@FDA with an A-rated TE code (the same code when
    the code is numbered, AB1 ≠ AB2). B-rated products are never offered, and a product
    that is not itself A-rated has no equivalents. Active products first."""
    appl_no = appl_no_of(product)
    if not appl_no:
        return []
    own = _row_for(product, list(ApplicationProduct.objects.filter(appl_no=appl_no)))
    if own is None or not _a_rated(own.te_code):
        return []
    amounts = strength_amounts(own.strength)
    group = [
        r
        for r in ApplicationProduct.objects.filter(
            active_ingredient=own.active_ingredient, form=own.form, te_code__contains="A"
        )
        if strength_amounts(r.strength) == amounts and _substitutable(own.te_code, r.te_code)
    ]
    in_group = {r.pk for r in group}
    appl_nos = sorted({r.appl_no for r in group})
    rows_by_appl: dict[str, list[ApplicationProduct]] = {}
    for row in ApplicationProduct.objects.filter(appl_no__in=appl_nos):
        rows_by_appl.setdefault(row.appl_no, []).append(row)
    numbers = [f"{kind}{n}" for n in appl_nos for kind in ("NDA", "ANDA", "BLA")]
    # Read the few columns that decide first: an application holds every strength, and
    # repackagers relabel each one, so most candidates are other strengths.
    codes: dict[int, str] = {}
    for values in (
        Product.objects.filter(application_number__in=numbers)
        .exclude(pk=product.pk)
        .values_list("pk", "name", "strength", "dosage_form", "application_number")
    ):
        fields = _Fields(*values)
        match = _row_for(fields, rows_by_appl.get(_appl_no(fields.application_number), []))
        if match is not None and match.pk in in_group:
            codes[fields.pk] = match.te_code
    products = Product.objects.filter(pk__in=codes).order_by("-active", "name", "labeler", "pk")
    return [Equivalent(product=p, te_code=codes[p.pk]) for p in products]


def look_alikes(product: Product) -> list[Product]:
    return list(product.look_alikes.order_by("name", "strength", "pk"))
