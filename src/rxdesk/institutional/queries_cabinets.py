"""Reads of the dispensing cabinets: the cabinets with what needs doing (pockets at or below
their minimum, open discrepancies), one cabinet's pockets by drawer with their lots and
expiries, the pick list (what to bring from the pharmacy to refill each pocket, with the
pharmacy's lots first expiry first), and a cabinet's moves. Patient names appear only for
roles that may see patients (patient.view); others see that a patient is on record, and
no name or MRN."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db.models import Count, F, Q, Sum
from django.utils import timezone

from rxdesk.core.capabilities import Cap, has
from rxdesk.core.errors import NotFound
from rxdesk.core.models import User
from rxdesk.core.services import authorize
from rxdesk.institutional.choices import CabinetEvent, DiscrepancyStatus
from rxdesk.institutional.models import (
    Cabinet,
    CabinetDiscrepancy,
    CabinetMove,
    Pocket,
    PocketStock,
)
from rxdesk.inventory.choices import LotStatus
from rxdesk.inventory.models import StockBalance

MAX_ID = 2**63 - 1
EXPIRING_DAYS = 30
USAGE_DAYS = 7
MOVES_LIMIT = 500
_DIGITS = re.compile(r"(\d+)")
_SCAN_LIKE = re.compile(r"^[\d\s-]{10,}$")


def natural(text: str) -> tuple[Any, ...]:
    """Sort key that puts drawer 2 before drawer 10."""
    return tuple(int(part) if part.isdigit() else part for part in _DIGITS.split(text or ""))


def place_key(pocket: Pocket) -> tuple[Any, ...]:
    return (natural(pocket.drawer), natural(pocket.pocket), pocket.pk)


def _id(value: Any) -> int | None:
    try:
        pk = int(str(value))
    except (TypeError, ValueError):
        return None
    return pk if 0 < pk <= MAX_ID else None


def scan_or_lot(text: str) -> tuple[str, str]:
    """What a technician put in a row's scan field, as (barcode, lot number): a barcode
    (GS1 with its symbology prefix, "(01)…" or FNC1, a UPC, GTIN or NDC) or a lot typed."""
    value = (text or "").strip()
    if not value:
        return "", ""
    if value.startswith(("]", "(")) or "\x1d" in value or _SCAN_LIKE.match(value):
        return value, ""
    if len(value) > 16 and value[:2] == "01" and value[2:16].isdigit():
        return value, ""  # a GS1 element string without its FNC1 prefix
    return "", value


# --- Look-ups ------------------------------------------------------------------------------------


def cabinet_get(*, actor: User, cabinet_id: Any) -> Cabinet:
    """A cabinet of the actor's pharmacy (404 for anything else)."""
    authorize(actor, Cap.ADC_VIEW)
    pk = _id(cabinet_id)
    found = (
        Cabinet.objects.select_related("site", "location").filter(site=actor.site, pk=pk).first()
        if pk is not None
        else None
    )
    if found is None:
        raise NotFound("No such cabinet at this pharmacy.")
    return found


def pocket_get(*, actor: User, pocket_id: Any) -> Pocket:
    """A pocket of a cabinet of the actor's pharmacy (404 for anything else)."""
    authorize(actor, Cap.ADC_VIEW)
    pk = _id(pocket_id)
    found = (
        Pocket.objects.select_related("cabinet__site", "package__product")
        .filter(cabinet__site=actor.site, pk=pk)
        .first()
        if pk is not None
        else None
    )
    if found is None:
        raise NotFound("No such pocket at this pharmacy.")
    return found


# --- Cabinets ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CabinetRow:
    cabinet: Cabinet
    pockets: int
    low: int  # active pockets at or below their minimum
    controlled: int
    open_discrepancies: int


def cabinets(*, actor: User, include_inactive: bool = True) -> list[CabinetRow]:
    """The pharmacy's cabinets by code, with the pockets to refill and open discrepancies."""
    authorize(actor, Cap.ADC_VIEW)
    qs = Cabinet.objects.filter(site=actor.site)
    if not include_inactive:
        qs = qs.filter(active=True)
    active = Q(pockets__active=True)
    rows = qs.annotate(
        n_pockets=Count("pockets", filter=active, distinct=True),
        n_low=Count(
            "pockets",
            filter=active & Q(pockets__on_hand__lte=F("pockets__minimum")),
            distinct=True,
        ),
        n_controlled=Count("pockets", filter=active & Q(pockets__controlled=True), distinct=True),
    ).order_by("-active", "code")
    open_counts = dict(
        CabinetDiscrepancy.objects.filter(site=actor.site, status=DiscrepancyStatus.OPEN)
        .values("cabinet_id")
        .annotate(n=Count("id"))
        .values_list("cabinet_id", "n")
        .order_by()
    )
    return [
        CabinetRow(
            cabinet=c,
            pockets=c.n_pockets,
            low=c.n_low,
            controlled=c.n_controlled,
            open_discrepancies=open_counts.get(c.pk, 0),
        )
        for c in rows
    ]


@dataclass(frozen=True)
class LotRow:
    lot_id: int
    number: str
    expiry: dt.date | None
    on_hand: Decimal
    expired: bool
    expiring: bool  # within EXPIRING_DAYS


@dataclass(frozen=True)
class PocketRow:
    pocket: Pocket
    lots: list[LotRow]
    low: bool
    open_discrepancies: int

    @property
    def expiring(self) -> bool:
        return any(lot.expiring or lot.expired for lot in self.lots)

    @property
    def expired(self) -> bool:
        return any(lot.expired for lot in self.lots)


@dataclass(frozen=True)
class Drawer:
    name: str
    pockets: list[PocketRow]


@dataclass(frozen=True)
class CabinetDetail:
    cabinet: Cabinet
    drawers: list[Drawer]
    pockets: int
    low: int
    expiring: int
    open_discrepancies: int


def _lot_rows(rows: Iterable[PocketStock], today: dt.date) -> list[LotRow]:
    soon = today + dt.timedelta(days=EXPIRING_DAYS)
    out = []
    for r in rows:
        expiry = r.lot.expiry
        out.append(
            LotRow(
                lot_id=r.lot_id,
                number=r.lot.number,
                expiry=expiry,
                on_hand=r.on_hand,
                expired=expiry is not None and expiry < today,
                expiring=expiry is not None and today <= expiry <= soon,
            )
        )
    return out


def cabinet_detail(*, actor: User, cabinet: Cabinet, today: dt.date | None = None) -> CabinetDetail:
    """The cabinet's pockets by drawer and pocket: package, par, minimum, on hand, the lots
    with their expiry (expired, or expiring within 30 days, flagged), controlled or not."""
    authorize(actor, Cap.ADC_VIEW)
    if cabinet.site_id != actor.site_id:
        raise NotFound("No such cabinet at this pharmacy.")
    today = today or actor.site.today()
    pockets = sorted(
        Pocket.objects.select_related("package__product").filter(cabinet=cabinet), key=place_key
    )
    stock: dict[int, list[PocketStock]] = {}
    for row in (
        PocketStock.objects.select_related("lot")
        .filter(pocket__cabinet=cabinet, on_hand__gt=0)
        .order_by(F("lot__expiry").asc(nulls_last=True), "lot_id")
    ):
        stock.setdefault(row.pocket_id, []).append(row)
    open_by_pocket = dict(
        CabinetDiscrepancy.objects.filter(cabinet=cabinet, status=DiscrepancyStatus.OPEN)
        .values("pocket_id")
        .annotate(n=Count("id"))
        .values_list("pocket_id", "n")
        .order_by()
    )
    drawers: dict[str, list[PocketRow]] = {}
    for p in pockets:
        drawers.setdefault(p.drawer, []).append(
            PocketRow(
                pocket=p,
                lots=_lot_rows(stock.get(p.pk, []), today),
                low=p.active and p.on_hand <= p.minimum,
                open_discrepancies=open_by_pocket.get(p.pk, 0),
            )
        )
    rows = [r for group in drawers.values() for r in group]
    return CabinetDetail(
        cabinet=cabinet,
        drawers=[Drawer(name, group) for name, group in drawers.items()],
        pockets=sum(1 for r in rows if r.pocket.active),
        low=sum(1 for r in rows if r.low),
        expiring=sum(1 for r in rows if r.expiring),
        open_discrepancies=sum(open_by_pocket.values()),
    )


# --- Pick list -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Suggestion:
    """A pharmacy lot to pick from, first expiry first, and how much of it to take."""

    balance_id: int
    lot: str
    expiry: dt.date | None
    available: Decimal
    take: Decimal


@dataclass(frozen=True)
class PickLine:
    pocket: Pocket
    on_hand: Decimal
    quantity: Decimal  # par − on hand
    used: Decimal  # removals in the last USAGE_DAYS days
    lots: list[Suggestion]

    @property
    def available(self) -> Decimal:
        return sum((s.available for s in self.lots), Decimal(0))

    @property
    def short(self) -> Decimal:
        """What the pharmacy's dispensable stock cannot cover."""
        return max(self.quantity - self.available, Decimal(0))


@dataclass(frozen=True)
class PickList:
    cabinet: Cabinet
    today: dt.date
    top_up: bool
    lines: list[PickLine] = field(default_factory=list)

    @property
    def total_short(self) -> int:
        return sum(1 for line in self.lines if line.short > 0)


def usage(cabinet: Cabinet, since: dt.datetime) -> dict[int, Decimal]:
    """Units removed for patients from each pocket since ``since`` (removals, not net of
    returns: what nursing drew)."""
    return {
        row["pocket_id"]: -row["total"]
        for row in CabinetMove.objects.filter(
            cabinet=cabinet, event=CabinetEvent.REMOVAL, occurred_at__gte=since
        )
        .values("pocket_id")
        .annotate(total=Sum("quantity"))
        .order_by()
    }


def pick_list(
    *, actor: User, cabinet: Cabinet, today: dt.date | None = None, top_up: bool = False
) -> PickList:
    """What to bring to ``cabinet``: every active pocket at or below its minimum (with
    ``top_up``, every one below par), to fill it to par; the last 7 days' removals; the
    pharmacy's dispensable lots of the package, first expiry first, with what each has and
    how much to take of it. Sorted by drawer, then pocket, as a technician walks the
    cabinet."""
    authorize(actor, Cap.ADC_VIEW)
    if cabinet.site_id != actor.site_id:
        raise NotFound("No such cabinet at this pharmacy.")
    site = actor.site
    today = today or site.today()
    qs = Pocket.objects.select_related("package__product").filter(cabinet=cabinet, active=True)
    qs = qs.filter(on_hand__lt=F("par")) if top_up else qs.filter(on_hand__lte=F("minimum"))
    pockets = sorted((p for p in qs if p.par > p.on_hand), key=place_key)
    used = usage(cabinet, timezone.now() - dt.timedelta(days=USAGE_DAYS))
    # The pharmacy's dispensable lots of every package on the list, in one query (first
    # expiry first, as ledger.dispensable_balances orders them).
    by_package: dict[int, list[StockBalance]] = {}
    for b in (
        StockBalance.objects.select_related("lot")
        .filter(
            site=site,
            package_id__in={p.package_id for p in pockets},
            status=LotStatus.AVAILABLE,
            on_hand__gt=0,
        )
        .filter(Q(lot__expiry__isnull=True) | Q(lot__expiry__gte=today))
        .order_by(F("lot__expiry").asc(nulls_last=True), "lot_id")
    ):
        by_package.setdefault(b.package_id, []).append(b)
    lines: list[PickLine] = []
    for p in pockets:
        need = p.par - p.on_hand
        remaining = need
        suggestions = []
        for b in by_package.get(p.package_id, []):
            take = min(b.on_hand, max(remaining, Decimal(0)))
            suggestions.append(
                Suggestion(
                    balance_id=b.pk,
                    lot=b.lot.number,
                    expiry=b.lot.expiry,
                    available=b.on_hand,
                    take=take,
                )
            )
            remaining -= take
        lines.append(
            PickLine(
                pocket=p,
                on_hand=p.on_hand,
                quantity=need,
                used=used.get(p.pk, Decimal(0)),
                lots=suggestions,
            )
        )
    return PickList(cabinet=cabinet, today=today, top_up=top_up, lines=lines)


def _q(value: Decimal) -> str:
    return f"{value.normalize():f}"


def pick_list_csv(pick: PickList) -> str:
    """The pick list as CSV: one row per pocket and suggested lot (a pocket with no lot in
    stock gets one row with the lot columns empty)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(
        [
            "cabinet",
            "drawer",
            "pocket",
            "ndc",
            "drug",
            "controlled",
            "par",
            "minimum",
            "on_hand",
            "quantity",
            "used_7_days",
            "lot",
            "expiry",
            "available",
            "take",
        ]
    )
    for line in pick.lines:
        p = line.pocket
        product = p.package.product
        head = [
            pick.cabinet.code,
            p.drawer,
            p.pocket,
            p.package.ndc10,
            " ".join(x for x in (product.display_name, product.strength) if x),
            "yes" if p.controlled else "no",
            _q(p.par),
            _q(p.minimum),
            _q(line.on_hand),
            _q(line.quantity),
            _q(line.used),
        ]
        if not line.lots:
            writer.writerow([*head, "", "", "0", "0"])
        for s in line.lots:
            expiry = s.expiry.isoformat() if s.expiry else ""
            writer.writerow([*head, s.lot, expiry, _q(s.available), _q(s.take)])
    return buf.getvalue()


# --- Moves ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MoveRow:
    move: CabinetMove
    patient: str  # the name, for roles with patient.view; else ""
    patient_ref: str  # the MRN as reported, for roles with patient.view; else ""
    has_patient: bool


def move_rows(*, actor: User, moves: Iterable[CabinetMove]) -> list[MoveRow]:
    """``moves`` as rows, the patient shown only to roles with patient.view."""
    sees_patients = has(actor, Cap.PATIENT_VIEW)
    out = []
    for m in moves:
        out.append(
            MoveRow(
                move=m,
                patient=(
                    f"{m.patient.last_name}, {m.patient.first_name}"
                    if sees_patients and m.patient is not None
                    else ""
                ),
                patient_ref=m.patient_ref if sees_patients else "",
                has_patient=m.patient_id is not None or bool(m.patient_ref),
            )
        )
    return out


def cabinet_moves(
    *,
    actor: User,
    cabinet: Cabinet,
    pocket: Pocket | None = None,
    limit: int = 100,
) -> list[MoveRow]:
    """The cabinet's moves, newest first (at most ``limit``, up to 500)."""
    authorize(actor, Cap.ADC_VIEW)
    if cabinet.site_id != actor.site_id:
        raise NotFound("No such cabinet at this pharmacy.")
    qs = CabinetMove.objects.filter(cabinet=cabinet).select_related(
        "pocket", "package__product", "lot", "actor", "patient"
    )
    if pocket is not None:
        qs = qs.filter(pocket=pocket)
    return move_rows(actor=actor, moves=qs.order_by("-id")[: max(1, min(limit, MOVES_LIMIT))])


__all__ = [
    "CabinetDetail",
    "CabinetRow",
    "MoveRow",
    "PickLine",
    "PickList",
    "cabinet_detail",
    "cabinet_get",
    "cabinet_moves",
    "cabinets",
    "move_rows",
    "natural",
    "pick_list",
    "pick_list_csv",
    "pocket_get",
    "scan_or_lot",
    "usage",
]
