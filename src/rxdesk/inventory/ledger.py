"""The stock ledger's engine: append a move and change its balance in one step, safely
under concurrent writers on SQLite and PostgreSQL alike (DESIGN, "Stock ledger").

These functions check no capability and write no audit event: they run inside the
transaction of a service (rxdesk.inventory.services, later the fill workflow) that does
both. Every balance change is a conditional UPDATE whose row count is checked:

* SQLite has no row locks; its IMMEDIATE transactions serialise writers, and the
  conditional update keeps the rule in the database statement itself.
* PostgreSQL (READ COMMITTED) blocks a second writer on the row and re-evaluates the
  WHERE clause against the committed row, so ``on_hand >= n`` can never be beaten by a
  concurrent dispense (no lost update, no negative stock).

The race for a lot's first move (no balance row yet to lock) is settled by the unique
constraint on (site, lot) and a retry inside a savepoint.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.db.models import F, Q, QuerySet, Sum, Window
from django.utils import timezone

from rxdesk.catalog.models import Package
from rxdesk.core.errors import Conflict, Invalid
from rxdesk.core.models import Site, User
from rxdesk.inventory.choices import INCOMING, OUTGOING, LotStatus, MoveReason
from rxdesk.inventory.models import Lot, StockBalance, StockMove, StorageLocation

MAX_QUANTITY = Decimal("99999999999")  # fits DecimalField(14, 3)
QUANTUM = Decimal("0.001")


def quantity_of(value: Any, *, field: str = "quantity") -> Decimal:
    """A positive quantity of at most three decimals, or :class:`Invalid` naming ``field``."""
    if isinstance(value, float):
        # A float is already rounded: 0.1 + 0.2 is not 0.3. Counts and doses come as text.
        value = str(value)
    try:
        quantity = Decimal(value)
    except (InvalidOperation, TypeError, ValueError):
        raise Invalid(f"'{value}' is not a quantity.", field=field) from None
    if not quantity.is_finite():
        raise Invalid("Enter a number.", field=field)
    if quantity <= 0:
        raise Invalid("The quantity must be more than zero.", field=field)
    if quantity > MAX_QUANTITY:
        raise Invalid("The quantity is too large.", field=field)
    if quantity != quantity.quantize(QUANTUM):
        raise Invalid("Use at most three decimal places.", field=field)
    return quantity.quantize(QUANTUM)


def dispensable(balance: StockBalance, today: dt.date) -> bool:
    """Available and not past its expiry (a lot is usable through its expiry date)."""
    expiry = balance.lot.expiry
    return balance.status == LotStatus.AVAILABLE and (expiry is None or expiry >= today)


def why_not_dispensable(balance: StockBalance, today: dt.date) -> str:
    lot = balance.lot
    if balance.status != LotStatus.AVAILABLE:
        why = f" ({balance.status_reason})" if balance.status_reason else ""
        return f"Lot {lot.number} is {balance.get_status_display().lower()}{why}."
    if lot.expiry is not None and lot.expiry < today:
        return f"Lot {lot.number} expired on {lot.expiry:%m/%d/%Y}."
    return ""


# --- Lots and balance rows -----------------------------------------------------------------


def lot_get_or_create(*, package: Package, number: str, expiry: dt.date | None) -> Lot:
    """The lot of ``package`` numbered ``number``; created on first sight. A lot number on
    file with another expiry is refused: one of the two is a typing or scanning error."""
    number = (number or "").strip().upper()
    if not number:
        raise Invalid("Enter the lot number.", field="lot_number")
    if len(number) > 40:
        raise Invalid("A lot number has at most 40 characters.", field="lot_number")
    lot = Lot.objects.filter(package=package, number=number).first()
    if lot is None:
        try:
            with transaction.atomic():
                lot = Lot.objects.create(package=package, number=number, expiry=expiry)
        except IntegrityError:
            # Another worker created it between our read and insert: use theirs.
            lot = Lot.objects.get(package=package, number=number)
    if lot.expiry != expiry and expiry is not None:
        on_file = lot.expiry.strftime("%m/%d/%Y") if lot.expiry else "no expiry"
        raise Invalid(
            f"Lot {number} is on file with expiry {on_file}; check the package.",
            field="expiry",
        )
    return lot


def balance_row(*, site: Site, lot: Lot, location: StorageLocation | None = None) -> StockBalance:
    """The (site, lot) balance row, created at zero the first time the lot moves here."""
    qs = StockBalance.objects.select_related("lot", "package", "site")
    found = qs.filter(site=site, lot=lot).first()
    if found is not None:
        return found
    try:
        with transaction.atomic():
            StockBalance.objects.create(
                site=site, package_id=lot.package_id, lot=lot, location=location
            )
    except IntegrityError:
        pass  # the first-move race: the other worker's row stands, and we use it
    return qs.get(site=site, lot=lot)


# --- Posting moves -------------------------------------------------------------------------


@dataclass(frozen=True)
class Ref:
    """What a move belongs to, e.g. ``Ref("receipt_line", 12)``."""

    type: str = ""
    id: str | int = ""


NO_REF = Ref()


def _append(
    *,
    balance: StockBalance,
    quantity: Decimal,
    reason: MoveReason,
    actor: User | None,
    ref: Ref,
    patient_id: int | None,
    note: str,
    adjust_reason: str,
    now: dt.datetime,
    witness: User | None = None,
) -> StockMove:
    # Read back inside our transaction: the row is ours (locked on PostgreSQL, the whole
    # database on SQLite) until commit, so this is exactly the balance our update made.
    after = StockBalance.objects.filter(pk=balance.pk).values_list("on_hand", flat=True).get()
    balance.on_hand = after
    move = StockMove.objects.create(
        site_id=balance.site_id,
        package_id=balance.package_id,
        lot_id=balance.lot_id,
        quantity=quantity,
        balance_after=after,
        reason=reason,
        adjust_reason=adjust_reason,
        reference_type=ref.type[:40],
        reference_id=str(ref.id)[:40],
        patient_id=patient_id,
        actor=actor,
        actor_name=actor.username if actor is not None else "system",
        witness=witness,
        witness_name=witness.username if witness is not None else "",
        occurred_at=now,
        note=note[:500],
    )
    if "lot" in balance._state.fields_cache:
        move.lot = balance.lot  # read with the balance: the caller's move.lot costs no query
    return move


def _require_atomic() -> None:
    if not connection.in_atomic_block:
        raise RuntimeError("Ledger moves must run inside the service's transaction")


def post_in(
    *,
    site: Site,
    lot: Lot,
    quantity: Decimal,
    reason: MoveReason,
    actor: User | None,
    ref: Ref = NO_REF,
    patient_id: int | None = None,
    note: str = "",
    adjust_reason: str = "",
    location: StorageLocation | None = None,
    witness: User | None = None,
) -> StockMove:
    """Add ``quantity`` of ``lot`` to the site's stock."""
    _require_atomic()
    if reason not in INCOMING and reason not in {MoveReason.ADJUST, MoveReason.COUNT}:
        raise ValueError(f"{reason} is not an incoming move")
    quantity = quantity_of(quantity)
    balance = balance_row(site=site, lot=lot, location=location)
    now = timezone.now()
    values: dict[str, Any] = {"on_hand": F("on_hand") + quantity, "updated_at": now}
    if location is not None and balance.location_id is None:
        values["location"] = location
    updated = StockBalance.objects.filter(pk=balance.pk).update(**values)
    if updated != 1:  # pragma: no cover - the row exists: we just read or created it
        raise Conflict("The stock record changed; try again.")
    return _append(
        balance=balance,
        quantity=quantity,
        reason=reason,
        actor=actor,
        ref=ref,
        patient_id=patient_id,
        note=note,
        adjust_reason=adjust_reason,
        now=now,
        witness=witness,
    )


def post_out(
    *,
    balance: StockBalance,
    quantity: Decimal,
    reason: MoveReason,
    actor: User | None,
    ref: Ref = NO_REF,
    patient_id: int | None = None,
    note: str = "",
    adjust_reason: str = "",
    dispensable_only: bool = False,
    today: dt.date | None = None,
    witness: User | None = None,
) -> StockMove:
    """Take ``quantity`` out of one balance; never below zero. With ``dispensable_only``,
    the lot must be available and in date at the moment of the update."""
    _require_atomic()
    if reason not in OUTGOING and reason not in {MoveReason.ADJUST, MoveReason.COUNT}:
        raise ValueError(f"{reason} is not an outgoing move")
    quantity = quantity_of(quantity)
    now = timezone.now()
    guard = Q(pk=balance.pk, on_hand__gte=quantity)
    if dispensable_only:
        today = today or balance.site.today()
        if not dispensable(balance, today):
            raise Conflict(why_not_dispensable(balance, today), field="lot")
        # The status is re-checked in the statement: a recall that lands between our read
        # and our update must win.
        guard &= Q(status=LotStatus.AVAILABLE)
    updated = StockBalance.objects.filter(guard).update(
        on_hand=F("on_hand") - quantity, updated_at=now
    )
    if updated != 1:
        balance.refresh_from_db()
        if dispensable_only and balance.status != LotStatus.AVAILABLE:
            raise Conflict(why_not_dispensable(balance, today or now.date()), field="lot")
        raise Conflict(
            f"Only {balance.on_hand.normalize():f} {balance.package.billing_unit} of lot "
            f"{balance.lot.number} on hand; cannot take {quantity.normalize():f}.",
            field="quantity",
            code_detail="insufficient_stock",
        )
    return _append(
        balance=balance,
        quantity=-quantity,
        reason=reason,
        actor=actor,
        ref=ref,
        patient_id=patient_id,
        note=note,
        adjust_reason=adjust_reason,
        now=now,
        witness=witness,
    )


def dispensable_balances(site: Site, package: Package, today: dt.date) -> QuerySet[StockBalance]:
    """Lots of ``package`` the site may dispense now, first expiry first (FEFO)."""
    return (
        StockBalance.objects.select_related("lot", "package", "site")
        .filter(site=site, package=package, status=LotStatus.AVAILABLE, on_hand__gt=0)
        .filter(Q(lot__expiry__isnull=True) | Q(lot__expiry__gte=today))
        .order_by(F("lot__expiry").asc(nulls_last=True), "lot_id")
    )


def take(
    *,
    site: Site,
    package: Package,
    quantity: Decimal,
    reason: MoveReason,
    actor: User | None,
    lot: Lot | None = None,
    ref: Ref = NO_REF,
    patient_id: int | None = None,
    note: str = "",
) -> list[StockMove]:
    """Take ``quantity`` of ``package`` out of dispensable stock: from the scanned ``lot``
    only, or first-expiry-first-out across lots. All or nothing."""
    _require_atomic()
    quantity = quantity_of(quantity)
    today = site.today()
    if lot is not None:
        if lot.package_id != package.pk:
            raise Invalid(f"Lot {lot.number} belongs to another NDC.", field="lot")
        balance = (
            StockBalance.objects.select_related("lot", "package", "site")
            .filter(site=site, lot=lot)
            .first()
        )
        if balance is None:
            raise Conflict(f"Lot {lot.number} is not in stock here.", field="lot")
        return [
            post_out(
                balance=balance,
                quantity=quantity,
                reason=reason,
                actor=actor,
                ref=ref,
                patient_id=patient_id,
                note=note,
                dispensable_only=True,
                today=today,
            )
        ]
    # Lock every candidate row first, in ascending id order — the one order every
    # transaction that changes several balances uses (see lock_in_order) — so two
    # dispensings of the same drug can never deadlock on PostgreSQL. Locking re-reads each
    # row as committed, so the amounts below are exact; SQLite serialises writers anyway.
    candidate_ids = list(dispensable_balances(site, package, today).values_list("pk", flat=True))
    locked = lock_in_order(candidate_ids)
    usable = sorted(
        (b for b in locked if b.on_hand > 0 and dispensable(b, today)),
        key=lambda b: (b.lot.expiry is None, b.lot.expiry or today, b.lot_id),
    )
    total = sum((b.on_hand for b in usable), Decimal(0))
    if total < quantity:
        raise Conflict(
            f"Only {total.normalize():f} {package.billing_unit} of NDC {package.ndc10} can be "
            f"dispensed (in date and available); {quantity.normalize():f} needed.",
            field="quantity",
            code_detail="insufficient_stock",
        )
    moves: list[StockMove] = []
    remaining = quantity
    for balance in usable:
        if remaining <= 0:
            break
        portion = min(balance.on_hand, remaining)
        moves.append(
            post_out(
                balance=balance,
                quantity=portion,
                reason=reason,
                actor=actor,
                ref=ref,
                patient_id=patient_id,
                note=note,
                dispensable_only=True,
                today=today,
            )
        )
        remaining -= portion
    return moves


def lock_in_order(balance_ids: Iterable[int]) -> list[StockBalance]:
    """Lock these balance rows in ascending id order and return them as committed now.

    A transaction that changes several balances takes their row locks in this one order,
    so two such transactions can never wait on each other in a circle (a PostgreSQL
    deadlock). On SQLite ``select_for_update`` does nothing: IMMEDIATE transactions have
    already serialised the writers."""
    ids = sorted(set(balance_ids))
    if not ids:
        return []
    return list(
        StockBalance.objects.select_related("lot", "package", "site")
        .select_for_update(of=("self",))
        .filter(pk__in=ids)
        .order_by("pk")
    )


def status_set(
    *, balance: StockBalance, status: LotStatus, reason: str, only_from: Sequence[str] = ()
) -> bool:
    """Change a balance's status; with ``only_from``, only when it is in one of those
    (a conditional update, so a concurrent recall is never overwritten). True if changed."""
    _require_atomic()
    qs = StockBalance.objects.filter(pk=balance.pk)
    if only_from:
        qs = qs.filter(status__in=list(only_from))
    now = timezone.now()
    changed = qs.update(status=status, status_reason=reason[:200], status_changed_at=now)
    if changed:
        balance.status = status
        balance.status_reason = reason[:200]
        balance.status_changed_at = now
    return bool(changed)


# --- Proof ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Mismatch:
    site_id: int
    lot_id: int
    on_hand: Decimal | None
    moves_total: Decimal | None
    detail: str


def ledger_verify(*, site_id: int | None = None) -> tuple[int, list[Mismatch]]:
    """Recompute every balance from its moves and check each move's balance_after against
    the running total. Returns (balances checked, mismatches) — there must be none."""
    moves = StockMove.objects.all()
    balances = StockBalance.objects.all()
    if site_id is not None:
        moves = moves.filter(site_id=site_id)
        balances = balances.filter(site_id=site_id)
    totals = {
        (row["site_id"], row["lot_id"]): row["total"]
        for row in moves.values("site_id", "lot_id").annotate(total=Sum("quantity")).order_by()
    }
    problems: list[Mismatch] = []
    checked = 0
    for b_site, b_lot, on_hand in balances.values_list("site_id", "lot_id", "on_hand").iterator(
        chunk_size=5000
    ):
        checked += 1
        total = totals.pop((b_site, b_lot), Decimal(0))
        if total != on_hand:
            problems.append(
                Mismatch(b_site, b_lot, on_hand, total, "balance differs from the sum of moves")
            )
        if on_hand < 0:
            problems.append(Mismatch(b_site, b_lot, on_hand, total, "negative balance"))
    for (m_site, m_lot), total in totals.items():
        problems.append(Mismatch(m_site, m_lot, None, total, "moves without a balance row"))
    running = (
        moves.annotate(
            running=Window(
                Sum("quantity"), partition_by=[F("site_id"), F("lot_id")], order_by=F("id").asc()
            )
        )
        .values_list("site_id", "lot_id", "id", "balance_after", "running")
        .order_by()
    )
    for m_site, m_lot, move_id, after, total in running.iterator(chunk_size=5000):
        if Decimal(after) != Decimal(total):
            problems.append(
                Mismatch(
                    m_site,
                    m_lot,
                    Decimal(after),
                    Decimal(total),
                    f"move {move_id} records balance {after} but the running total is {total}",
                )
            )
    return checked, problems
