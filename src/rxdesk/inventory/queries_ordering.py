"""Reads of ordering and receiving: suppliers, par levels, suggested orders, purchase
orders and their supplier order file, receipts and discrepancies. Every read is scoped to
the actor's site and checks a capability first."""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db.models import Count, F, Prefetch, Q, QuerySet, Sum, Value
from django.db.models.functions import Greatest
from django.utils import timezone

from rxdesk.catalog.models import Package
from rxdesk.core.capabilities import Cap
from rxdesk.core.errors import Conflict, Invalid, NotFound
from rxdesk.core.models import Site, User
from rxdesk.core.services import authorize
from rxdesk.inventory.choices import (
    DiscrepancyStatus,
    LotStatus,
    MoveReason,
    PurchaseOrderStatus,
    ReceiptStatus,
)
from rxdesk.inventory.ledger import QUANTUM
from rxdesk.inventory.models import (
    Discrepancy,
    ParLevel,
    PurchaseOrder,
    PurchaseOrderLine,
    Receipt,
    ReceiptLine,
    StockBalance,
    StockMove,
    Supplier,
)
from rxdesk.inventory.services.common import site_of

DEFAULT_USAGE_DAYS = 30
DEFAULT_REVIEW_DAYS = 7
MAX_USAGE_DAYS = 366
MAX_REVIEW_DAYS = 120
# Orders whose unreceived packages count as "on order" (a draft too: suggesting the same
# packages again while a draft waits to be sent would order them twice).
ON_ORDER = (PurchaseOrderStatus.DRAFT, PurchaseOrderStatus.SENT, PurchaseOrderStatus.PARTIAL)


def _where(actor: User | None, site: Site | None) -> Site:
    # Staff read only their own site (another site's row is simply not found); the
    # operator at the shell names one.
    return site_of(actor, None if actor is not None else site)


def _pk(value: Any) -> int:
    try:
        pk = int(value)
    except (TypeError, ValueError):
        return 0
    return pk if 0 < pk < 2**63 else 0


# --- Suppliers and par levels --------------------------------------------------------------


def supplier_list(
    *, actor: User | None, site: Site | None = None, include_inactive: bool = False
) -> QuerySet[Supplier]:
    authorize(actor, Cap.INVENTORY_VIEW)
    qs = Supplier.objects.filter(site=_where(actor, site))
    if not include_inactive:
        qs = qs.filter(active=True)
    return qs.order_by("name")


def supplier_for(*, actor: User | None, supplier_id: Any, site: Site | None = None) -> Supplier:
    authorize(actor, Cap.INVENTORY_VIEW)
    found = Supplier.objects.filter(site=_where(actor, site), pk=_pk(supplier_id)).first()
    if found is None:
        raise NotFound("No such supplier here.")
    return found


def par_level_list(*, actor: User | None, site: Site | None = None) -> QuerySet[ParLevel]:
    authorize(actor, Cap.INVENTORY_VIEW)
    return (
        ParLevel.objects.filter(site=_where(actor, site))
        .select_related("package__product", "location", "preferred_supplier")
        .order_by("package__product__name", "package__ndc11")
    )


def par_level_for(*, actor: User | None, package: Package, site: Site | None = None) -> ParLevel:
    authorize(actor, Cap.INVENTORY_VIEW)
    found = (
        ParLevel.objects.select_related("package__product", "location", "preferred_supplier")
        .filter(site=_where(actor, site), package=package)
        .first()
    )
    if found is None:
        raise NotFound(f"No par level for NDC {package.ndc10} here.")
    return found


# --- Suggested orders ----------------------------------------------------------------------


@dataclass(frozen=True)
class Suggestion:
    """What to order of one package, and why, in words a buyer checks at a glance."""

    par: ParLevel
    package: Package
    supplier: Supplier | None
    on_hand: Decimal  # available, in-date stock (billing units)
    on_order: Decimal  # ordered and not yet received (billing units)
    usage: Decimal  # dispensed, net of returns to stock, over the usage window
    daily_usage: Decimal
    days_left: Decimal | None  # on hand ÷ daily usage; None without usage
    packages: int
    reason: str  # "minimum" or "usage"
    explanation: str


def _num(value: Decimal) -> str:
    value = value.quantize(Decimal("0.01")) if value != value.to_integral_value() else value
    return format(value.normalize(), "f")


def _explain(
    *,
    on_hand: Decimal,
    on_order: Decimal,
    par: ParLevel,
    daily: Decimal,
    days_left: Decimal | None,
    reason: str,
    review_days: int,
    packages: int,
    package: Package,
) -> str:
    unit = package.billing_unit
    parts = [f"{_num(on_hand)} on hand"]
    if on_order:
        parts.append(f"{_num(on_order)} on order")
    parts += [f"min {_num(par.minimum)}", f"par {_num(par.maximum)}"]
    if daily:
        parts.append(f"uses {_num(daily)}/day")
        if days_left is not None:
            parts.append(f"about {_num(days_left)} days left")
    else:
        parts.append("no recent use")
    why = (
        "at or below the minimum"
        if reason == "minimum"
        else f"runs out within the {review_days}-day review"
    )
    size = _num(package.package_quantity)
    return (
        f"{', '.join(parts)} ({unit}): {why}; order {packages} × {size} {unit} "
        f"= {_num(package.package_quantity * packages)} {unit}."
    )


def _check_window(days: Any, review_days: Any) -> tuple[int, int]:
    try:
        usage_days = int(days)
    except (TypeError, ValueError):
        raise Invalid("Enter a number of days.", field="days") from None
    try:
        review = int(review_days)
    except (TypeError, ValueError):
        raise Invalid("Enter a number of days.", field="review_days") from None
    if not 1 <= usage_days <= MAX_USAGE_DAYS:
        raise Invalid(f"Usage is averaged over 1 to {MAX_USAGE_DAYS} days.", field="days")
    if not 1 <= review <= MAX_REVIEW_DAYS:
        raise Invalid(f"The review period is 1 to {MAX_REVIEW_DAYS} days.", field="review_days")
    return usage_days, review


def order_suggestions(
    *,
    actor: User | None,
    site: Site | None = None,
    days: Any = DEFAULT_USAGE_DAYS,
    review_days: Any = DEFAULT_REVIEW_DAYS,
    supplier: Supplier | None = None,
) -> list[Suggestion]:
    """Packages to order now, from each par level at the site.

    The stock position is what is on hand (available, in-date lots) plus what is on order
    (open purchase-order lines: ordered − received, in billing units). A package is
    suggested when its position is at or below its minimum, or when recent usage (dispensed
    net of returns to stock over the last ``days``) says the position runs out within
    ``review_days``. The suggestion is whole packages up to the par (the maximum), or up
    to the review period's usage when that is more. Four queries, whatever the number of
    par levels."""
    authorize(actor, Cap.INVENTORY_ORDER)
    where = _where(actor, site)
    usage_days, review = _check_window(days, review_days)
    pars = ParLevel.objects.filter(site=where).select_related(
        "package__product", "preferred_supplier", "location"
    )
    if supplier is not None:
        pars = pars.filter(Q(preferred_supplier=supplier) | Q(preferred_supplier__isnull=True))
    par_list = list(pars.order_by("package__product__name", "package__ndc11"))
    if not par_list:
        return []
    package_ids = [p.package_id for p in par_list]
    today = where.today()
    on_hand = dict(
        StockBalance.objects.filter(
            site=where, package_id__in=package_ids, status=LotStatus.AVAILABLE
        )
        .filter(Q(lot__expiry__isnull=True) | Q(lot__expiry__gte=today))
        .values("package_id")
        .annotate(total=Sum("on_hand"))
        .values_list("package_id", "total")
    )
    on_order_packages = dict(
        PurchaseOrderLine.objects.filter(
            order__site=where, order__status__in=ON_ORDER, package_id__in=package_ids
        )
        .values("package_id")
        .annotate(open=Sum(Greatest(F("packages_ordered") - F("packages_received"), Value(0))))
        .values_list("package_id", "open")
    )
    since = timezone.now() - dt.timedelta(days=usage_days)
    used = dict(
        StockMove.objects.filter(
            site=where,
            package_id__in=package_ids,
            reason__in=[MoveReason.DISPENSE, MoveReason.RETURN_TO_STOCK],
            occurred_at__gte=since,
        )
        .values("package_id")
        .annotate(total=Sum("quantity"))
        .values_list("package_id", "total")
    )
    out: list[Suggestion] = []
    for par in par_list:
        package = par.package
        size = package.package_quantity
        have = Decimal(on_hand.get(package.pk) or 0)
        coming = Decimal(on_order_packages.get(package.pk) or 0) * size
        usage = max(-(Decimal(used.get(package.pk) or 0)), Decimal(0))
        daily = usage / usage_days
        position = have + coming
        days_left = (have / daily).quantize(Decimal("0.1")) if daily > 0 else None
        if position <= par.minimum:
            reason = "minimum"
        elif daily > 0 and daily * review >= position:
            reason = "usage"
        else:
            continue
        target = max(par.maximum, daily * review)
        packages = math.ceil((target - position) / size) if target > position else 0
        if packages <= 0:
            continue
        out.append(
            Suggestion(
                par=par,
                package=package,
                supplier=par.preferred_supplier,
                on_hand=have.quantize(QUANTUM),
                on_order=coming.quantize(QUANTUM),
                usage=usage.quantize(QUANTUM),
                daily_usage=daily.quantize(Decimal("0.01")),
                days_left=days_left,
                packages=packages,
                reason=reason,
                explanation=_explain(
                    on_hand=have,
                    on_order=coming,
                    par=par,
                    daily=daily,
                    days_left=days_left,
                    reason=reason,
                    review_days=review,
                    packages=packages,
                    package=package,
                ),
            )
        )
    return out


# --- Purchase orders -----------------------------------------------------------------------


def purchase_order_list(
    *, actor: User | None, site: Site | None = None, status: str = ""
) -> QuerySet[PurchaseOrder]:
    authorize(actor, Cap.INVENTORY_VIEW)
    qs = PurchaseOrder.objects.filter(site=_where(actor, site))
    if status:
        if status not in PurchaseOrderStatus.values:
            raise Invalid("Choose a status from the list.", field="status")
        qs = qs.filter(status=status)
    return (
        qs.select_related("supplier", "created_by")
        .annotate(line_count=Count("lines"), packages=Sum("lines__packages_ordered"))
        .order_by("-created_at", "-id")
    )


def purchase_order_for(
    *, actor: User | None, order_id: Any, site: Site | None = None
) -> PurchaseOrder:
    authorize(actor, Cap.INVENTORY_VIEW)
    found = (
        PurchaseOrder.objects.select_related("supplier", "created_by", "site")
        .prefetch_related(
            Prefetch(
                "lines",
                queryset=PurchaseOrderLine.objects.select_related("package__product").order_by(
                    "id"
                ),
            )
        )
        .filter(site=_where(actor, site), pk=_pk(order_id))
        .first()
    )
    if found is None:
        raise NotFound("No such purchase order here.")
    return found


ORDER_FILE_COLUMNS = [
    "account_number",
    "po_number",
    "ndc11",
    "packages",
    "unit_cost",
    "dea_order_number",
]
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: object) -> str:
    """A CSV cell that a spreadsheet will not run as a formula (CSV injection)."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def purchase_order_csv(*, actor: User | None, order: PurchaseOrder) -> str:
    """The supplier order file: one row per line with the site's account number at the
    supplier, the PO number, the 11-digit NDC, packages, unit cost and the DEA 222/CSOS
    order number. Cells that a spreadsheet would run as a formula are quoted with '."""
    authorize(actor, Cap.INVENTORY_ORDER)
    fresh = purchase_order_for(actor=actor, order_id=order.pk, site=order.site)
    if fresh.status == PurchaseOrderStatus.CANCELLED:
        raise Conflict(f"{fresh.number} is cancelled; there is nothing to send.")
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(ORDER_FILE_COLUMNS)
    for line in fresh.lines.all():
        writer.writerow(
            [
                _cell(v)
                for v in (
                    fresh.supplier.account_number,
                    fresh.number,
                    line.package.ndc11,
                    line.packages_ordered,
                    line.unit_cost if line.unit_cost is not None else "",
                    line.dea_order_number,
                )
            ]
        )
    return buf.getvalue()


# --- Receipts and discrepancies ------------------------------------------------------------


def receipt_list(
    *, actor: User | None, site: Site | None = None, status: str = ""
) -> QuerySet[Receipt]:
    authorize(actor, Cap.INVENTORY_VIEW)
    qs = Receipt.objects.filter(site=_where(actor, site))
    if status:
        if status not in ReceiptStatus.values:
            raise Invalid("Choose a status from the list.", field="status")
        qs = qs.filter(status=status)
    return (
        qs.select_related("supplier", "purchase_order", "received_by")
        .annotate(
            line_count=Count("lines", distinct=True),
            packages=Sum("lines__packages_received"),
        )
        .order_by("-created_at", "-id")
    )


def receipt_for(*, actor: User | None, receipt_id: Any, site: Site | None = None) -> Receipt:
    authorize(actor, Cap.INVENTORY_VIEW)
    found = (
        Receipt.objects.select_related("supplier", "purchase_order", "received_by", "site")
        .prefetch_related(
            Prefetch(
                "lines",
                queryset=ReceiptLine.objects.select_related(
                    "package__product", "lot", "location", "order_line"
                ).order_by("id"),
            ),
            Prefetch(
                "discrepancies",
                queryset=Discrepancy.objects.select_related(
                    "package__product", "opened_by"
                ).order_by("id"),
            ),
        )
        .filter(site=_where(actor, site), pk=_pk(receipt_id))
        .first()
    )
    if found is None:
        raise NotFound("No such receipt here.")
    return found


def discrepancy_list(
    *, actor: User | None, site: Site | None = None, status: str = "", open_only: bool = False
) -> QuerySet[Discrepancy]:
    authorize(actor, Cap.INVENTORY_VIEW)
    qs = Discrepancy.objects.filter(site=_where(actor, site))
    if status:
        if status not in DiscrepancyStatus.values:
            raise Invalid("Choose a status from the list.", field="status")
        qs = qs.filter(status=status)
    if open_only:
        qs = qs.exclude(status=DiscrepancyStatus.RESOLVED)
    return qs.select_related(
        "receipt__supplier", "package__product", "receipt_line", "opened_by"
    ).order_by("-opened_at", "-id")


def discrepancy_for(
    *, actor: User | None, discrepancy_id: Any, site: Site | None = None
) -> Discrepancy:
    authorize(actor, Cap.INVENTORY_VIEW)
    found = (
        Discrepancy.objects.select_related(
            "receipt__supplier", "package__product", "receipt_line", "opened_by", "site"
        )
        .filter(site=_where(actor, site), pk=_pk(discrepancy_id))
        .first()
    )
    if found is None:
        raise NotFound("No such discrepancy here.")
    return found
