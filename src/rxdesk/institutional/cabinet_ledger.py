"""The cabinets' stock ledger: append a :class:`CabinetMove` and change the pocket's lot
(:class:`PocketStock`) and the pocket's total (``Pocket.on_hand``) in one step, safely under
concurrent writers on SQLite and PostgreSQL alike — the same engine as the site ledger
(rxdesk.inventory.ledger; DESIGN, "Stock ledger").

A cabinet is a storage location of the site. Stock enters a cabinet only from the pharmacy's
own stock (a restock: ``cabinet_restock`` out of the site ledger, ``restock`` into the pocket)
and goes back the same way (an unload); removals for patients, returns, waste and counts
change the pocket alone. Invariants: a pocket lot's stock = the sum of its moves; a pocket's
total = the sum of its lots; never below zero; each move's ``balance_after`` is the pocket's
running total.

These functions check no capability and write no audit event: they run inside the
transaction of a service of this app that does both. Rows are changed by conditional
UPDATEs whose row count is checked; when several rows change, PocketStock rows are changed
before the Pocket row and lots in ascending id order, so two transactions never deadlock."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.db import IntegrityError, connection, transaction
from django.db.models import F, Sum, Window
from django.utils import timezone

from rxdesk.core.errors import Conflict, Invalid
from rxdesk.core.models import Site, User
from rxdesk.institutional.choices import CabinetEvent, DiscrepancyKind, FeedSource
from rxdesk.institutional.models import (
    CabinetDiscrepancy,
    CabinetFeed,
    CabinetMove,
    InstitutionalSettings,
    Pocket,
    PocketStock,
)
from rxdesk.inventory.models import Lot, StockMove
from rxdesk.patients.models import Patient

ZERO = Decimal(0)
# Signs a cabinet event may carry (a count goes either way).
INTO_POCKET = frozenset({CabinetEvent.RESTOCK, CabinetEvent.RETURN})
OUT_OF_POCKET = frozenset({CabinetEvent.REMOVAL, CabinetEvent.WASTE, CabinetEvent.UNLOAD})


def settings_of(site: Site) -> InstitutionalSettings:
    """The site's institutional settings, or the defaults (unsaved) when none are kept."""
    found = InstitutionalSettings.objects.filter(site=site).first()
    return found or InstitutionalSettings(site=site)


def _require_atomic() -> None:
    if not connection.in_atomic_block:
        raise RuntimeError("Cabinet moves must run inside the service's transaction")


@dataclass(frozen=True)
class Who:
    """Who and what a cabinet move records besides the quantity."""

    source: str = FeedSource.USER
    actor: User | None = None
    occurred_at: dt.datetime | None = None
    feed: CabinetFeed | None = None
    external_id: str = ""
    cabinet_user: str = ""
    witness_name: str = ""
    patient: Patient | None = None
    patient_ref: str = ""
    override: bool = False
    stock_move: StockMove | None = None
    note: str = ""


def stock_row(*, pocket: Pocket, lot: Lot) -> PocketStock:
    """The (pocket, lot) row, created at zero the first time the lot goes in."""
    found = PocketStock.objects.filter(pocket=pocket, lot=lot).first()
    if found is not None:
        return found
    if lot.package_id != pocket.package_id:
        raise Invalid(
            f"Lot {lot.number} is not of the package this pocket holds ({pocket.package.ndc10}).",
            field="lot",
        )
    try:
        with transaction.atomic():
            PocketStock.objects.create(pocket=pocket, lot=lot)
    except IntegrityError:
        pass  # the first-move race: the other worker's row stands
    return PocketStock.objects.get(pocket=pocket, lot=lot)


def post(*, pocket: Pocket, lot: Lot, quantity: Decimal, event: str, who: Who) -> CabinetMove:
    """Add (positive) or take (negative) ``quantity`` of ``lot`` in ``pocket``."""
    _require_atomic()
    if event in INTO_POCKET and quantity <= 0:
        raise ValueError(f"{event} puts stock in: the quantity must be positive")
    if event in OUT_OF_POCKET and quantity >= 0:
        raise ValueError(f"{event} takes stock out: the quantity must be negative")
    row = stock_row(pocket=pocket, lot=lot)
    now = timezone.now()
    if quantity < 0:
        taken = PocketStock.objects.filter(pk=row.pk, on_hand__gte=-quantity).update(
            on_hand=F("on_hand") + quantity, updated_at=now
        )
        if taken != 1:
            row.refresh_from_db()
            raise Conflict(
                f"Pocket {pocket.place} holds only {row.on_hand.normalize():f} of lot "
                f"{lot.number}; cannot take {(-quantity).normalize():f}.",
                field="quantity",
                code_detail="insufficient_stock",
            )
        changed = Pocket.objects.filter(pk=pocket.pk, on_hand__gte=-quantity).update(
            on_hand=F("on_hand") + quantity
        )
    else:
        PocketStock.objects.filter(pk=row.pk).update(
            on_hand=F("on_hand") + quantity, updated_at=now
        )
        changed = Pocket.objects.filter(pk=pocket.pk).update(on_hand=F("on_hand") + quantity)
    if changed != 1:  # pragma: no cover - the pocket total always covers its lots
        raise Conflict("The pocket's stock changed; try again.")
    after = Pocket.objects.filter(pk=pocket.pk).values_list("on_hand", flat=True).get()
    pocket.on_hand = after
    return CabinetMove.objects.create(
        site_id=pocket.cabinet.site_id,
        cabinet_id=pocket.cabinet_id,
        pocket=pocket,
        package_id=pocket.package_id,
        lot=lot,
        event=event,
        quantity=quantity,
        balance_after=after,
        source=who.source,
        feed=who.feed,
        external_id=who.external_id[:40],
        cabinet_user=who.cabinet_user[:80],
        witness_name=who.witness_name[:80],
        patient=who.patient,
        patient_ref=who.patient_ref[:40],
        override=who.override,
        stock_move=who.stock_move,
        actor=who.actor,
        occurred_at=who.occurred_at or now,
        note=who.note[:300],
    )


def lots_in(pocket: Pocket) -> list[PocketStock]:
    """The pocket's lots with stock, first expiry first (no expiry last)."""
    return list(
        PocketStock.objects.select_related("lot")
        .filter(pocket=pocket, on_hand__gt=0)
        .order_by(F("lot__expiry").asc(nulls_last=True), "lot_id")
    )


def take(
    *, pocket: Pocket, quantity: Decimal, event: str, who: Who, lot: Lot | None = None
) -> tuple[list[CabinetMove], Decimal]:
    """Take ``quantity`` out of the pocket: from ``lot`` when the cabinet named it, else
    first-expiry-first across its lots. Takes what the record holds and returns the moves
    and the shortfall (what the cabinet reported beyond the stock on record): the caller
    decides whether a shortfall is an error (an unload) or a discrepancy (a removal)."""
    _require_atomic()
    if quantity <= 0:
        raise Invalid("The quantity must be more than zero.", field="quantity")
    rows = lots_in(pocket)
    if lot is not None:
        rows = [r for r in rows if r.lot_id == lot.pk] + [r for r in rows if r.lot_id != lot.pk]
    moves: list[CabinetMove] = []
    remaining = quantity
    for row in rows:
        if remaining <= 0:
            break
        portion = min(row.on_hand, remaining)
        moves.append(post(pocket=pocket, lot=row.lot, quantity=-portion, event=event, who=who))
        remaining -= portion
    return moves, remaining


def last_lot(pocket: Pocket) -> Lot | None:
    """The lot most recently put in the pocket (where an overage is counted) — of the
    package the pocket holds now (a pocket emptied and set up for another drug keeps the
    old drug's moves)."""
    move = (
        CabinetMove.objects.select_related("lot")
        .filter(pocket=pocket, quantity__gt=0, lot__package_id=pocket.package_id)
        .order_by("-id")
        .first()
    )
    if move is not None:
        return move.lot
    row = (
        PocketStock.objects.select_related("lot")
        .filter(pocket=pocket, lot__package_id=pocket.package_id)
        .order_by("-id")
        .first()
    )
    return row.lot if row is not None else None


def count(*, pocket: Pocket, counted: Decimal, who: Who) -> tuple[list[CabinetMove], Decimal]:
    """Set the pocket to what was counted. A shortage comes out of the lots first expiry
    first (the ones used first); an overage goes to the lot most recently put in. A count
    that agrees is recorded as a zero move on that lot. Returns (moves, what the record
    held before the count)."""
    _require_atomic()
    if counted < 0:
        raise Invalid("A count cannot be negative.", field="counted")
    pocket.refresh_from_db(fields=["on_hand"])
    expected = pocket.on_hand
    difference = counted - expected
    if difference < 0:
        moves, short = take(pocket=pocket, quantity=-difference, event=CabinetEvent.COUNT, who=who)
        if short:  # pragma: no cover - the lots always sum to the pocket
            raise Conflict("The pocket's lots do not add up; run the cabinet check.")
        return moves, expected
    lot = last_lot(pocket)
    if lot is None:
        if difference == 0:
            return [], expected
        raise Conflict(
            f"Pocket {pocket.place} has never been stocked here, so the lot of the "
            f"{difference.normalize():f} counted is unknown: restock it instead.",
            field="counted",
        )
    return [
        post(pocket=pocket, lot=lot, quantity=difference, event=CabinetEvent.COUNT, who=who)
    ], expected


def discrepancy_open(
    *,
    pocket: Pocket,
    kind: str,
    expected: Decimal,
    found: Decimal,
    move: CabinetMove | None,
    cabinet_user: str = "",
    opened_at: dt.datetime | None = None,
) -> CabinetDiscrepancy:
    """Open a discrepancy on the pocket, due by the end of the site's window (the shift)."""
    _require_atomic()
    site = pocket.cabinet.site
    opened = opened_at or timezone.now()
    hours = settings_of(site).discrepancy_hours
    return CabinetDiscrepancy.objects.create(
        site=site,
        cabinet_id=pocket.cabinet_id,
        pocket=pocket,
        package_id=pocket.package_id,
        kind=kind,
        expected=expected,
        found=found,
        controlled=pocket.controlled,
        move=move,
        cabinet_user=cabinet_user[:80],
        opened_at=opened,
        due_at=opened + dt.timedelta(hours=hours),
    )


# --- Proof ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Mismatch:
    pocket_id: int
    lot_id: int | None
    recorded: Decimal | None
    computed: Decimal | None
    detail: str


def cabinet_verify(*, site_id: int | None = None) -> tuple[int, list[Mismatch]]:
    """Recompute every pocket lot and pocket total from the moves and check each move's
    ``balance_after`` against the pocket's running total. Returns (rows checked,
    mismatches) — there must be none."""
    moves = CabinetMove.objects.all()
    rows = PocketStock.objects.all()
    pockets = Pocket.objects.all()
    if site_id is not None:
        moves = moves.filter(site_id=site_id)
        rows = rows.filter(pocket__cabinet__site_id=site_id)
        pockets = pockets.filter(cabinet__site_id=site_id)
    by_lot: dict[tuple[int, int], Decimal] = {
        (r["pocket_id"], r["lot_id"]): r["total"]
        for r in moves.values("pocket_id", "lot_id").annotate(total=Sum("quantity")).order_by()
    }
    problems: list[Mismatch] = []
    checked = 0
    for pocket_id, lot_id, on_hand in rows.values_list("pocket_id", "lot_id", "on_hand"):
        checked += 1
        total = by_lot.pop((pocket_id, lot_id), ZERO)
        if total != on_hand:
            problems.append(
                Mismatch(pocket_id, lot_id, on_hand, total, "lot stock differs from its moves")
            )
    for (pocket_id, lot_id), total in by_lot.items():
        problems.append(Mismatch(pocket_id, lot_id, None, total, "moves without a stock row"))
    lot_sums: dict[int, Decimal] = {
        r["pocket_id"]: r["total"]
        for r in rows.values("pocket_id").annotate(total=Sum("on_hand")).order_by()
    }
    for pocket_id, on_hand in pockets.values_list("id", "on_hand"):
        checked += 1
        total = lot_sums.get(pocket_id, ZERO) or ZERO
        if total != on_hand:
            problems.append(
                Mismatch(pocket_id, None, on_hand, total, "pocket total differs from its lots")
            )
    running = (
        moves.annotate(
            running=Window(Sum("quantity"), partition_by=[F("pocket_id")], order_by=F("id").asc())
        )
        .values_list("pocket_id", "id", "balance_after", "running")
        .order_by()
    )
    for pocket_id, move_id, after, total in running.iterator(chunk_size=5000):
        if Decimal(after) != Decimal(total):
            problems.append(
                Mismatch(
                    pocket_id,
                    None,
                    Decimal(after),
                    Decimal(total),
                    f"move {move_id} records {after} but the running total is {total}",
                )
            )
    return checked, problems


__all__ = [
    "DiscrepancyKind",
    "Who",
    "cabinet_verify",
    "count",
    "discrepancy_open",
    "last_lot",
    "lots_in",
    "post",
    "settings_of",
    "stock_row",
    "take",
]
