"""Reads of counting and removal: counts and their sheets (blind-aware), the expiring and
short-dated stock report, and returns to vendor.

A blind count's expected quantities and variances are hidden here, in one place, until the
count is submitted: every screen and API response builds its count lines from
:func:`cycle_count_sheet`, never from the rows themselves."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db.models import Count, F, Q, QuerySet

from rxdesk.core.capabilities import Cap
from rxdesk.core.errors import Invalid, NotFound
from rxdesk.core.models import Site, User
from rxdesk.core.services import authorize
from rxdesk.inventory.choices import CountStatus, LocationKind
from rxdesk.inventory.models import (
    CycleCount,
    CycleCountLine,
    Recall,
    StockBalance,
    StorageLocation,
    Supplier,
    VendorReturn,
)
from rxdesk.inventory.services.common import site_of

DEFAULT_EXPIRY_DAYS = 90
MAX_EXPIRY_DAYS = 3650


# --- Counts --------------------------------------------------------------------------------


def cycle_count_list(*, actor: User | None, status: str = "") -> QuerySet[CycleCount]:
    """The site's counts, newest first, with how many lines each has and how many are
    counted."""
    authorize(actor, Cap.INVENTORY_VIEW)
    if status and status not in CountStatus.values:
        raise Invalid(f"Choose a status: {', '.join(CountStatus.values)}.", field="status")
    qs = (
        CycleCount.objects.filter(site=site_of(actor, None) if actor else None)
        .select_related("created_by", "submitted_by", "approved_by")
        .annotate(
            lines_total=Count("lines"),
            lines_counted=Count("lines", filter=Q(lines__counted__isnull=False)),
        )
        .order_by("-created_at", "-pk")
    )
    if status:
        qs = qs.filter(status=status)
    return qs


def cycle_count_for(*, actor: User | None, count_id: int) -> CycleCount:
    """One of the site's counts (another site's is not found)."""
    authorize(actor, Cap.INVENTORY_VIEW)
    found = (
        CycleCount.objects.select_related("site", "created_by", "submitted_by", "approved_by")
        .filter(site=site_of(actor, None) if actor else None, pk=count_id)
        .first()
    )
    if found is None:
        raise NotFound("No such count at this pharmacy.")
    return found


def reveals(count: CycleCount) -> bool:
    """Whether a reader may see the count's expected quantities and variances: once it has
    been submitted (even if later cancelled), or at any time for a count that is not blind.
    A blind count cancelled while open never reveals them: else cancelling would be a way
    to peek before counting again."""
    return count.submitted_at is not None or not count.blind


@dataclass(frozen=True)
class SheetLine:
    """One line of a count as a reader may see it: ``expected`` and ``variance`` are None
    while the count is blind."""

    id: int
    ndc11: str
    ndc10: str
    name: str
    strength: str
    dosage_form: str
    description: str
    billing_unit: str
    controlled: str
    lot: str
    expiry: dt.date | None
    location: str
    counted: Decimal | None
    counted_by: str
    counted_at: dt.datetime | None
    expected: Decimal | None
    variance: Decimal | None
    investigation: str
    adjust_reason: str
    adjust_reason_label: str


def _sheet_line(line: CycleCountLine, show: bool) -> SheetLine:
    product = line.package.product
    return SheetLine(
        id=line.pk,
        ndc11=line.package.ndc11,
        ndc10=line.package.ndc10,
        name=product.display_name,
        strength=product.strength,
        dosage_form=product.dosage_form,
        description=line.package.description,
        billing_unit=line.package.billing_unit,
        controlled=product.dea_schedule,
        lot=line.lot.number,
        expiry=line.lot.expiry,
        location=line.location.code if line.location else "",
        counted=line.counted,
        counted_by=line.counted_by.username if line.counted_by else "",
        counted_at=line.counted_at,
        expected=line.expected if show else None,
        variance=line.variance if show else None,
        investigation=line.investigation,
        adjust_reason=line.adjust_reason,
        adjust_reason_label=line.get_adjust_reason_display() if line.adjust_reason else "",
    )


def cycle_count_sheet(*, actor: User | None, count: CycleCount) -> list[SheetLine]:
    """The count's lines in sheet order, blind while the count is blind and open."""
    authorize(actor, Cap.INVENTORY_VIEW)
    if actor is not None and count.site_id != actor.site_id:
        raise NotFound("No such count at this pharmacy.")
    show = reveals(count)
    lines = (
        CycleCountLine.objects.filter(count=count)
        .select_related("package__product", "lot", "location", "counted_by")
        .order_by("pk")
    )
    return [_sheet_line(line, show) for line in lines]


def cycle_count_line_for(*, actor: User | None, count: CycleCount, line_id: int) -> CycleCountLine:
    """One line of one of the site's counts (the row, for a service to act on)."""
    authorize(actor, Cap.INVENTORY_VIEW)
    found = (
        CycleCountLine.objects.select_related("count__site", "package__product", "lot", "location")
        .filter(count=count, count__site_id=count.site_id, pk=line_id)
        .first()
    )
    if found is None or (actor is not None and found.count.site_id != actor.site_id):
        raise NotFound("No such line on this count.")
    return found


def sheet_line_of(*, actor: User | None, line: CycleCountLine) -> SheetLine:
    """One line as a reader may see it (blind-aware)."""
    authorize(actor, Cap.INVENTORY_VIEW)
    fresh = CycleCountLine.objects.select_related(
        "count", "package__product", "lot", "location", "counted_by"
    ).get(pk=line.pk)
    return _sheet_line(fresh, reveals(fresh.count))


def next_sheet_line(*, actor: User | None, count: CycleCount, after: int) -> SheetLine | None:
    """The line after ``after`` in sheet order (Enter moves the counter there), or None."""
    authorize(actor, Cap.INVENTORY_VIEW)
    line = (
        CycleCountLine.objects.filter(count=count, pk__gt=after)
        .select_related("package__product", "lot", "location", "counted_by")
        .order_by("pk")
        .first()
    )
    return _sheet_line(line, reveals(count)) if line is not None else None


@dataclass(frozen=True)
class SheetTotals:
    lines: int
    counted: int
    variances: int | None  # None while blind

    @property
    def complete(self) -> bool:
        return self.lines > 0 and self.counted == self.lines


def sheet_totals(count: CycleCount) -> SheetTotals:
    """How far the count is (and, once shown, how many lines vary)."""
    totals = CycleCountLine.objects.filter(count=count).aggregate(
        n_lines=Count("pk"),
        n_counted=Count("pk", filter=Q(counted__isnull=False)),
        n_varied=Count(
            "pk",
            filter=Q(counted__isnull=False, expected__isnull=False) & ~Q(counted=F("expected")),
        ),
    )
    return SheetTotals(
        totals["n_lines"], totals["n_counted"], totals["n_varied"] if reveals(count) else None
    )


@dataclass(frozen=True)
class SheetFind:
    """What a scan on the count sheet matched: the lines of its package (and lot, when the
    code carried or the counter typed one)."""

    ndc10: str
    lot: str
    expiry: dt.date | None
    line_ids: list[int]


def sheet_find(lines: list[SheetLine], code: str, lot: str = "") -> SheetFind:
    """The sheet lines a scanned or typed code names; :class:`Invalid` (field ``scan``) for
    a code that is no package in the catalog."""
    from rxdesk.catalog.ndc import CodeError, parse_scan
    from rxdesk.inventory.services.common import package_of

    package = package_of(code, field="scan")
    try:
        scan = parse_scan(code)
    except CodeError:  # pragma: no cover - package_of has read it already
        scan = None
    number = (lot or (scan.lot if scan and scan.lot else "")).strip().upper()
    ids = [
        line.id
        for line in lines
        if line.ndc11 == package.ndc11 and (not number or line.lot == number)
    ]
    return SheetFind(package.ndc10, number, scan.expiry if scan else None, ids)


# --- Expiring and short-dated stock ----------------------------------------------------------


def days_of(value: Any, *, field: str = "days") -> int:
    """The report's horizon in days (0 = expired only)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return DEFAULT_EXPIRY_DAYS
    try:
        days = int(str(value).strip())
    except ValueError:
        raise Invalid("Enter a whole number of days.", field=field) from None
    if days < 0 or days > MAX_EXPIRY_DAYS:
        raise Invalid(f"Enter 0 to {MAX_EXPIRY_DAYS} days.", field=field)
    return days


@dataclass(frozen=True)
class ExpiringRow:
    balance_id: int
    ndc11: str
    ndc10: str
    name: str
    strength: str
    dosage_form: str
    controlled: str
    lot: str
    expiry: dt.date
    days_left: int
    quantity: Decimal
    billing_unit: str
    location: str
    status: str
    status_label: str

    @property
    def expired(self) -> bool:
        return self.days_left < 0

    @property
    def days_ago(self) -> int:
        """Days since it expired (0 while in date)."""
        return max(0, -self.days_left)


def expiring_stock(
    *, actor: User | None, site: Site | None = None, days: int = DEFAULT_EXPIRY_DAYS
) -> list[ExpiringRow]:
    """Every lot on hand at the site that has expired or expires within ``days`` days,
    first expiry first, with days left (negative once expired), quantity, location and
    status."""
    authorize(actor, Cap.INVENTORY_VIEW)
    horizon = days_of(days)
    where = site_of(actor, site)
    today = where.today()
    rows = (
        StockBalance.objects.filter(
            site=where,
            on_hand__gt=0,
            lot__expiry__isnull=False,
            lot__expiry__lte=today + dt.timedelta(days=horizon),
        )
        .select_related("lot", "package__product", "location")
        .order_by("lot__expiry", "package__ndc11", "lot__number")
    )
    out = []
    for b in rows:
        expiry = b.lot.expiry
        assert expiry is not None
        product = b.package.product
        out.append(
            ExpiringRow(
                balance_id=b.pk,
                ndc11=b.package.ndc11,
                ndc10=b.package.ndc10,
                name=product.display_name,
                strength=product.strength,
                dosage_form=product.dosage_form,
                controlled=product.dea_schedule,
                lot=b.lot.number,
                expiry=expiry,
                days_left=(expiry - today).days,
                quantity=b.on_hand,
                billing_unit=b.package.billing_unit,
                location=b.location.code if b.location else "",
                status=b.status,
                status_label=b.get_status_display(),
            )
        )
    return out


CSV_HEADER = [
    "NDC",
    "Drug",
    "Strength",
    "Form",
    "Schedule",
    "Lot",
    "Expiry",
    "Days left",
    "Quantity",
    "Unit",
    "Location",
    "Status",
]


def expiring_csv(rows: list[ExpiringRow]) -> Iterator[str]:
    """The report as CSV lines (a spreadsheet opens it as is)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def flush() -> str:
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate(0)
        return text

    writer.writerow(CSV_HEADER)
    yield flush()
    for row in rows:
        writer.writerow(
            [
                row.ndc10,
                _safe(row.name),
                _safe(row.strength),
                _safe(row.dosage_form),
                row.controlled,
                _safe(row.lot),
                row.expiry.isoformat(),
                row.days_left,
                format(row.quantity.normalize(), "f"),
                row.billing_unit,
                _safe(row.location),
                row.status_label,
            ]
        )
        yield flush()


def _safe(value: str) -> str:
    """A cell a spreadsheet will not run as a formula."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


# --- Returns to vendor ----------------------------------------------------------------------


def vendor_return_list(*, actor: User | None, status: str = "") -> QuerySet[VendorReturn]:
    authorize(actor, Cap.INVENTORY_VIEW)
    from rxdesk.inventory.choices import VendorReturnStatus

    if status and status not in VendorReturnStatus.values:
        raise Invalid(f"Choose a status: {', '.join(VendorReturnStatus.values)}.", field="status")
    qs = (
        VendorReturn.objects.filter(site=site_of(actor, None) if actor else None)
        .select_related("supplier", "packed_by", "shipped_by")
        .annotate(line_count=Count("lines"))
        .order_by("-packed_at", "-pk")
    )
    if status:
        qs = qs.filter(status=status)
    return qs


def vendor_return_for(*, actor: User | None, return_id: int) -> VendorReturn:
    authorize(actor, Cap.INVENTORY_VIEW)
    found = (
        VendorReturn.objects.select_related("site", "supplier", "packed_by", "shipped_by", "recall")
        .filter(site=site_of(actor, None) if actor else None, pk=return_id)
        .first()
    )
    if found is None:
        raise NotFound("No such return at this pharmacy.")
    return found


def vendor_return_lines(vendor_return: VendorReturn) -> list[Any]:
    return list(vendor_return.lines.select_related("package__product", "lot").order_by("pk"))


def recall_of(recall_id: int) -> Recall | None:
    """A recall by id (recalls are shared by every site)."""
    return Recall.objects.filter(pk=recall_id).first()


def quarantine_areas(*, actor: User | None) -> list[StorageLocation]:
    """The site's active quarantine areas (where the expiry sweep may move stock)."""
    authorize(actor, Cap.INVENTORY_VIEW)
    return list(
        StorageLocation.objects.filter(
            site=site_of(actor, None) if actor else None,
            kind=LocationKind.QUARANTINE,
            active=True,
        ).order_by("code")
    )


def return_suppliers(*, actor: User | None) -> list[Supplier]:
    """The site's active suppliers and reverse distributors, to return to."""
    authorize(actor, Cap.INVENTORY_VIEW)
    return list(
        Supplier.objects.filter(site=site_of(actor, None) if actor else None, active=True).order_by(
            "name"
        )
    )


def balances_for_return(*, actor: User | None, ids: list[int]) -> list[StockBalance]:
    """Balances (of the actor's site, with stock) picked on the expiring report for a return."""
    authorize(actor, Cap.INVENTORY_VIEW)
    return list(
        StockBalance.objects.filter(
            site=site_of(actor, None) if actor else None, pk__in=ids[:200], on_hand__gt=0
        )
        .select_related("lot", "package__product")
        .order_by("lot__expiry", "pk")
    )
