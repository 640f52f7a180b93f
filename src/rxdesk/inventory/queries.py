"""Reads of the stock ledger that the screens and the API share: what is on the shelf, one
package's lots, the movement history with running balances, storage locations and
transfers. Each read checks ``inventory.view`` and sees only the actor's own site.

No read here names a patient: the inventory roles hold no ``patient.view`` (HIPAA minimum
necessary), so a dispensing shows as "dispensed" with its reference only."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db.models import Count, F, Q, QuerySet, Sum, Window

from rxdesk.catalog.models import Package
from rxdesk.catalog.ndc import CodeError, parse_scan
from rxdesk.catalog.queries import packages_for_scan
from rxdesk.catalog.search import is_ndc_like, ndc_prefixes
from rxdesk.core.capabilities import Cap
from rxdesk.core.errors import Invalid, NotFound
from rxdesk.core.forms import MAX_ID
from rxdesk.core.models import Site, User
from rxdesk.core.services import authorize
from rxdesk.inventory import ledger
from rxdesk.inventory.choices import LotStatus, TransferStatus
from rxdesk.inventory.models import (
    Lot,
    StockBalance,
    StockMove,
    StockTransfer,
    StockTransferLine,
    StorageLocation,
)

ON_HAND_LIMIT = 200
HISTORY_LIMIT = 200
MAX_LIMIT = 1000
MAX_QUERY = 100
MAX_SCAN = 200
MAX_DAYS = 3650
TRANSFER_DIRECTIONS = ("all", "out", "in")
_BLANKS = re.compile(r"\s+")
# A GS1 element string as a scanner sends it: AI 01 and a GTIN-14 first, then more AIs.
_GS1_GTIN = re.compile(r"01\d{14}\d\d")


def _site(actor: User | None, site: Site | None = None) -> Site:
    """The site a read looks at: the actor's own; the shell operator names one."""
    authorize(actor, Cap.INVENTORY_VIEW)
    if actor is not None:
        if actor.site is None:
            raise NotFound("Your account is not attached to a pharmacy.")
        return actor.site
    if site is None:
        raise Invalid("Name the site.", field="site")
    return site


def _limit(value: int, default: int) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        return default
    return max(1, min(number, MAX_LIMIT))


# --- On hand -------------------------------------------------------------------------------


@dataclass(frozen=True)
class StockRow:
    """One lot on the shelf, and whether it may be dispensed today (rxdesk.inventory.ledger
    .dispensable: available and in date)."""

    balance: StockBalance
    dispensable: bool
    expired: bool
    days_left: int | None  # days until the expiry date (negative once past), None: no expiry


def _row(balance: StockBalance, today: dt.date) -> StockRow:
    expiry = balance.lot.expiry
    return StockRow(
        balance=balance,
        dispensable=ledger.dispensable(balance, today),
        expired=expiry is not None and expiry < today,
        days_left=(expiry - today).days if expiry is not None else None,
    )


def _balances(site: Site) -> QuerySet[StockBalance]:
    return (
        StockBalance.objects.filter(site=site)
        .select_related("lot", "package__product", "location")
        .order_by(
            "package__product__name",
            F("lot__expiry").asc(nulls_last=True),
            "lot__number",
            "pk",
        )
    )


def _is_scan(q: str) -> bool:
    """A barcode rather than a name or an NDC being typed: a GS1 string, a UPC or GTIN."""
    digits = re.sub(r"[\s-]", "", q)
    if q.startswith(("(", "]")) or "\x1d" in q or _GS1_GTIN.match(q):
        return True
    return digits.isdigit() and len(digits) >= 12 and "-" not in q


def _scan_filter(code: str) -> Q:
    """A scan finds its package, and the lot the code carried. One that cannot be read, or
    names nothing in the catalog, finds nothing: the search box is soft, unlike the
    receiving form, which names the bad field."""
    try:
        scan = parse_scan(code)
    except CodeError:
        return Q(pk__in=[])
    found = Q(package__in=[p.pk for p in packages_for_scan(scan)])
    if scan.lot:
        found &= Q(lot__number=scan.lot.strip().upper())
    return found


def search_filter(q: str) -> Q:
    """What ``q`` finds among a site's balances: a scanned code finds its package (and the
    lot the code carried); digits and hyphens are an NDC in any layout, or a lot number;
    words must each match the drug's name (brand, generic or tall-man), its strength, the
    lot number or the printed NDC."""
    q = (q or "").strip()[:MAX_SCAN]
    if not q:
        return Q()
    if _is_scan(q):
        return _scan_filter(q)
    q = _BLANKS.sub(" ", q)[:MAX_QUERY]
    if is_ndc_like(q):
        by_lot = Q(lot__number__icontains=q.replace(" ", ""))
        prefixes = ndc_prefixes(q)
        if not prefixes:
            return by_lot
        by_ndc = Q()
        for prefix in prefixes:
            by_ndc |= Q(package__ndc11__startswith=prefix)
        return by_ndc | by_lot
    found = Q()
    for term in q.split(" ")[:8]:
        found &= (
            Q(package__product__name__icontains=term)
            | Q(package__product__generic_name__icontains=term)
            | Q(package__product__tall_man_name__icontains=term)
            | Q(package__product__strength__icontains=term)
            | Q(package__ndc10__icontains=term)
            | Q(lot__number__icontains=term)
        )
    return found


def location_for(site: Site, value: StorageLocation | str | int | None) -> StorageLocation | None:
    """A location of ``site`` by row, code or id; None for none; Invalid naming
    ``location`` for one that is not here."""
    if value is None or value == "":
        return None
    if isinstance(value, StorageLocation):
        if value.site_id != site.pk:
            raise Invalid("That location belongs to another site.", field="location")
        return value
    text = str(value).strip()
    found = StorageLocation.objects.filter(site=site, code=text).first()
    if found is None and text.isdigit() and int(text) <= MAX_ID:
        found = StorageLocation.objects.filter(site=site, pk=int(text)).first()
    if found is None:
        raise Invalid(f"No storage location {text} here.", field="location")
    return found


def on_hand(
    *,
    actor: User | None,
    site: Site | None = None,
    q: str = "",
    status: str | None = None,
    location: StorageLocation | str | int | None = None,
    expiring_within_days: int | None = None,
    include_empty: bool = False,
    limit: int = ON_HAND_LIMIT,
) -> list[StockRow]:
    """The site's lots on the shelf, by drug name then first expiry: searchable by name,
    NDC (typed in any layout or scanned) and lot number; filtered by status, storage
    location and "expires within N days" (already expired lots included)."""
    where = _site(actor, site)
    qs = _balances(where).filter(search_filter(q))
    if status:
        if status not in LotStatus.values:
            raise Invalid("Choose a lot status.", field="status")
        qs = qs.filter(status=status)
    place = location_for(where, location)
    if place is not None:
        qs = qs.filter(location=place)
    today = where.today()
    if expiring_within_days is not None:
        if not 0 <= int(expiring_within_days) <= MAX_DAYS:
            raise Invalid(f"Enter 0 to {MAX_DAYS} days.", field="expiring_within_days")
        qs = qs.filter(lot__expiry__lte=today + dt.timedelta(days=int(expiring_within_days)))
    if not include_empty:
        qs = qs.filter(on_hand__gt=0)
    return [_row(b, today) for b in qs[: _limit(limit, ON_HAND_LIMIT)]]


def balance_detail(*, actor: User | None, balance_id: int, site: Site | None = None) -> StockRow:
    """One lot at the actor's site; NotFound for another site's."""
    where = _site(actor, site)
    if not 0 < int(balance_id) <= MAX_ID:
        raise NotFound("No such stock at this site.")
    found = _balances(where).filter(pk=balance_id).first()
    if found is None:
        raise NotFound("No such stock at this site.")
    return _row(found, where.today())


def balance_of_lot(*, actor: User | None, lot_id: int, site: Site | None = None) -> StockRow:
    """The site's balance of one lot (after a receipt: where the stock went)."""
    where = _site(actor, site)
    found = _balances(where).filter(lot_id=lot_id).first()
    if found is None:
        raise NotFound("No such stock at this site.")
    return _row(found, where.today())


@dataclass(frozen=True)
class PackageStock:
    """Every lot of one package at a site, with the totals on hand and dispensable now."""

    package: Package
    rows: list[StockRow]
    on_hand: Decimal
    dispensable: Decimal
    unit: str


def package_for(*, actor: User | None, package_id: int) -> Package:
    """A catalog package by id (the catalog is shared by every site)."""
    authorize(actor, Cap.INVENTORY_VIEW)
    found = None
    if 0 < int(package_id) <= MAX_ID:
        found = Package.objects.select_related("product").filter(pk=package_id).first()
    if found is None:
        raise NotFound("No such package in the catalog.")
    return found


def package_stock(
    *, actor: User | None, package: Package, site: Site | None = None
) -> PackageStock:
    """The package's lots at the site (empty ones too: their history still counts), first
    expiry first, with the total on hand and the total that may be dispensed today."""
    where = _site(actor, site)
    today = where.today()
    balances = (
        StockBalance.objects.filter(site=where, package=package)
        .select_related("lot", "package__product", "location")
        .order_by(F("lot__expiry").asc(nulls_last=True), "lot__number", "pk")
    )
    rows = [_row(b, today) for b in balances]
    return PackageStock(
        package=package,
        rows=rows,
        on_hand=sum((r.balance.on_hand for r in rows), Decimal(0)),
        dispensable=sum((r.balance.on_hand for r in rows if r.dispensable), Decimal(0)),
        unit=package.billing_unit,
    )


# --- Movement history ----------------------------------------------------------------------


@dataclass(frozen=True)
class MoveRow:
    """One move of the history: ``move.balance_after`` is the lot's balance right after it;
    ``package_total`` (package histories only) the package's total on hand at the site,
    across all its lots, right after it."""

    move: StockMove
    package_total: Decimal | None


def move_history(
    *,
    actor: User | None,
    site: Site | None = None,
    package: Package | None = None,
    lot: Lot | None = None,
    limit: int = HISTORY_LIMIT,
    before_id: int | None = None,
) -> list[MoveRow]:
    """The site's moves of one lot, of one package, or all of them, newest first.

    For a package, the running total across its lots is a window sum over the site's moves
    of that package ordered by id, computed by the database (SQLite and PostgreSQL alike).
    Paging with ``before_id`` keeps every earlier move inside the window, so the totals of
    an older page are the same as if the whole history had been read."""
    where = _site(actor, site)
    qs: QuerySet[Any] = StockMove.objects.filter(site=where).select_related(
        "lot", "package__product"
    )
    running = False
    if lot is not None:
        if package is not None and lot.package_id != package.pk:
            raise Invalid("That lot belongs to another NDC.", field="lot_id")
        qs = qs.filter(lot=lot)
    elif package is not None:
        qs = qs.filter(package=package).annotate(
            # The field's own type: the database hands back the sum as a 3-decimal number.
            package_total=Window(
                Sum("quantity"), order_by=F("id").asc(), output_field=StockMove.quantity.field
            )
        )
        running = True
    if before_id is not None:
        qs = qs.filter(id__lt=before_id)
    moves = list(qs.order_by("-id")[: _limit(limit, HISTORY_LIMIT)])
    return [
        MoveRow(move=m, package_total=_quantity(m.package_total) if running else None)
        for m in moves
    ]


def _quantity(value: Decimal | None) -> Decimal | None:
    """A sum as the ledger writes quantities (SQLite returns 118 where PostgreSQL says
    118.000)."""
    return None if value is None else Decimal(value).quantize(ledger.QUANTUM)


def lot_for(*, actor: User | None, lot_id: int) -> Lot:
    """A lot by id (lots are shared by every site; its moves are read per site)."""
    authorize(actor, Cap.INVENTORY_VIEW)
    found = None
    if 0 < int(lot_id) <= MAX_ID:
        found = Lot.objects.select_related("package__product").filter(pk=lot_id).first()
    if found is None:
        raise NotFound("No such lot.")
    return found


# --- Storage locations ---------------------------------------------------------------------


def locations(
    *, actor: User | None, site: Site | None = None, active_only: bool = False
) -> QuerySet[StorageLocation]:
    """The site's storage locations by code, each with ``lots``: how many lots with stock
    it holds."""
    where = _site(actor, site)
    qs = StorageLocation.objects.filter(site=where).annotate(
        lots=Count("balances", filter=Q(balances__on_hand__gt=0))
    )
    if active_only:
        qs = qs.filter(active=True)
    return qs.order_by("code")


def location_detail(
    *, actor: User | None, location_id: int, site: Site | None = None
) -> StorageLocation:
    """One storage location of the site (with ``lots``, as in :func:`locations`)."""
    found = None
    qs = locations(actor=actor, site=site)
    if 0 < int(location_id) <= MAX_ID:
        found = qs.filter(pk=location_id).first()
    if found is None:
        raise NotFound("No such storage location at this site.")
    return found


# --- Transfers ----------------------------------------------------------------------------


def transfers(
    *, actor: User | None, direction: str = "all", site: Site | None = None, limit: int = 200
) -> list[StockTransfer]:
    """Transfers this site sent (``out``), received or is to receive (``in``), or both,
    newest first, each with ``line_count``."""
    where = _site(actor, site)
    if direction not in TRANSFER_DIRECTIONS:
        raise Invalid("Choose all, out or in.", field="direction")
    qs = StockTransfer.objects.select_related("from_site", "to_site", "sent_by", "received_by")
    if direction == "out":
        qs = qs.filter(from_site=where)
    elif direction == "in":
        qs = qs.filter(to_site=where)
    else:
        qs = qs.filter(Q(from_site=where) | Q(to_site=where))
    qs = qs.annotate(line_count=Count("lines")).order_by("-sent_at", "-id")
    return list(qs[: _limit(limit, 200)])


def transfer_detail(
    *, actor: User | None, transfer_id: int, site: Site | None = None
) -> StockTransfer:
    """A transfer either end of which is this site."""
    where = _site(actor, site)
    found = None
    if 0 < int(transfer_id) <= MAX_ID:
        found = (
            StockTransfer.objects.select_related("from_site", "to_site", "sent_by", "received_by")
            .filter(Q(from_site=where) | Q(to_site=where))
            .filter(pk=transfer_id)
            .first()
        )
    if found is None:
        raise NotFound("No such transfer.")
    return found


def transfer_lines(transfer: StockTransfer) -> list[StockTransferLine]:
    """The transfer's lines with their packages and lots (the caller has read the
    transfer through :func:`transfer_detail`, which checked the capability and site)."""
    return list(transfer.lines.select_related("package__product", "lot").order_by("id"))


def transfer_pending(transfer: StockTransfer, site: Site) -> bool:
    """Whether ``site`` is to receive this transfer now."""
    return transfer.status == TransferStatus.IN_TRANSIT and transfer.to_site_id == site.pk


def sister_sites(*, actor: User | None, site: Site | None = None) -> list[Site]:
    """The other sites of this site's organization: where stock may be transferred."""
    where = _site(actor, site)
    if where.organization_id is None:
        return []
    return list(
        Site.objects.filter(organization_id=where.organization_id)
        .exclude(pk=where.pk)
        .order_by("name")
    )


def destination_site(*, actor: User | None, site_id: int | None) -> Site:
    """The site a transfer is addressed to, by id (whether it may receive from this site is
    the transfer service's rule); Invalid naming ``to_site`` for no such site."""
    authorize(actor, Cap.INVENTORY_VIEW)
    found = None
    if site_id is not None and 0 < int(site_id) <= MAX_ID:
        found = Site.objects.filter(pk=site_id).first()
    if found is None:
        raise Invalid("Choose the site to send to.", field="to_site")
    return found


def transferable(
    *, actor: User | None, q: str = "", site: Site | None = None, limit: int = ON_HAND_LIMIT
) -> list[StockRow]:
    """Lots that may travel to another site: on hand and dispensable today."""
    where = _site(actor, site)
    today = where.today()
    qs = (
        _balances(where)
        .filter(search_filter(q))
        .filter(on_hand__gt=0, status=LotStatus.AVAILABLE)
        .filter(Q(lot__expiry__isnull=True) | Q(lot__expiry__gte=today))
    )
    return [_row(b, today) for b in qs[: _limit(limit, ON_HAND_LIMIT)]]
