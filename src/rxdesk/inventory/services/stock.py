"""Stock on the shelf: storage locations, single receipts, dispensing and return to stock,
adjustments, lot status (quarantine, hold, release), and transfers between sites.

Each service: one transaction, a capability check first, the rules, the ledger moves, and
one audit event last. Quantities are in the package's billing unit (EA / ML / GM)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone

from rxdesk.catalog.choices import DeaSchedule
from rxdesk.catalog.models import Package
from rxdesk.core.audit import audit_record, register_actions
from rxdesk.core.capabilities import Cap
from rxdesk.core.errors import Conflict, Invalid, NotFound
from rxdesk.core.models import Site, User
from rxdesk.core.services import Witness, authorize, full_clean, witness_confirm
from rxdesk.inventory import ledger
from rxdesk.inventory.choices import (
    AdjustReason,
    LocationKind,
    LotStatus,
    MoveReason,
    TransferStatus,
)
from rxdesk.inventory.ledger import NO_REF, Ref
from rxdesk.inventory.models import (
    Lot,
    RecallItem,
    RecallStock,
    StockBalance,
    StockMove,
    StockTransfer,
    StockTransferLine,
    StorageLocation,
)
from rxdesk.inventory.services.common import (
    balance_at,
    date_of,
    location_of,
    package_of,
    site_of,
)

register_actions(
    {
        "inventory.location.created": "Storage location created",
        "inventory.location.updated": "Storage location changed",
        "inventory.stock.received": "Stock received",
        "inventory.stock.dispensed": "Stock dispensed",
        "inventory.stock.returned": "Stock returned to stock",
        "inventory.stock.adjusted": "Stock adjusted",
        "inventory.stock.status_changed": "Lot status changed",
        "inventory.stock.relocated": "Stock moved to another location",
        "inventory.transfer.sent": "Stock transfer sent",
        "inventory.transfer.received": "Stock transfer received",
    }
)

# Statuses a person may set by hand. RECALLED comes only from a recall; EXPIRED from the
# expiry sweep; AVAILABLE again only by a pharmacist's release (INVENTORY_APPROVE).
HAND_SET = {LotStatus.QUARANTINED, LotStatus.ON_HOLD, LotStatus.DAMAGED, LotStatus.AVAILABLE}


def _moves_data(moves: list[StockMove]) -> list[dict[str, Any]]:
    return [
        {
            "move": m.pk,
            "lot": m.lot_id,
            "quantity": str(m.quantity),
            "balance_after": str(m.balance_after),
        }
        for m in moves
    ]


def _check_unit(package: Package, unit: str | None) -> None:
    if unit and unit.upper() != package.billing_unit:
        raise Invalid(
            f"NDC {package.ndc10} is counted in {package.billing_unit}, not {unit}.",
            field="unit",
        )


def recall_blocks(package: Package, lot_number: str) -> RecallItem | None:
    """The recall naming this lot, open or closed (a recalled lot never comes back into
    stock), or an open recall of every lot of the package; None when the lot is clear."""
    from django.db.models import Q

    from rxdesk.inventory.choices import RecallStatus

    return (
        RecallItem.objects.select_related("recall")
        .filter(package=package)
        .filter(
            Q(lot_number="", recall__status=RecallStatus.OPEN)
            | Q(lot_number=lot_number.strip().upper())
        )
        .order_by("-recall__recall_date", "-id")
        .first()
    )


def receivable_lot(
    *, site: Site, package: Package, lot_number: str, expiry: Any, field_prefix: str = ""
) -> Lot:
    """The lot to receive into, after the receiving rules: an expiry is required (unless the
    product is a device or OTC item without one), no expired lot, no recalled lot."""
    expiry_date = date_of(expiry, field=f"{field_prefix}expiry")
    if expiry_date is None and not package.product.otc:
        raise Invalid(
            "Enter the expiry date printed on the package.", field=f"{field_prefix}expiry"
        )
    if expiry_date is not None and expiry_date < site.today():
        raise Invalid(
            f"This lot expired on {expiry_date:%m/%d/%Y}; it cannot be received into stock. "
            "Record it as a discrepancy and return it.",
            field=f"{field_prefix}expiry",
        )
    blocked = recall_blocks(package, lot_number or "")
    if blocked is not None:
        raise Conflict(
            f"Lot {lot_number} of NDC {package.ndc10} is under recall "
            f"{blocked.recall.recall_number or blocked.recall_id}; do not receive it.",
            field=f"{field_prefix}lot_number",
        )
    try:
        return ledger.lot_get_or_create(package=package, number=lot_number, expiry=expiry_date)
    except Invalid as exc:
        raise Invalid(
            errors=[
                {"field": field_prefix + e["field"], "message": e["message"]} for e in exc.errors
            ]
        ) from None


def schedule_ii_check(package: Package, dea_order_number: str, *, field: str) -> None:
    """Schedule II stock arrives only against a DEA Form 222 or CSOS order."""
    if package.product.dea_schedule == DeaSchedule.CII and not (dea_order_number or "").strip():
        raise Invalid(
            "Schedule II: enter the DEA Form 222 or CSOS order number for this line.",
            field=field,
        )


# --- Storage locations ---------------------------------------------------------------------

LOCATION_FIELDS = ["code", "name", "kind", "temperature_min_c", "temperature_max_c", "active"]


def location_create(
    *, actor: User | None, site: Site | None = None, code: str, name: str, **values: Any
) -> StorageLocation:
    """A shelf, refrigerator, freezer, vault or quarantine area."""
    authorize(actor, Cap.INVENTORY_SETUP)
    with transaction.atomic():
        where = site_of(actor, site)
        location = StorageLocation(site=where, code=(code or "").strip(), name=name)
        for key, value in values.items():
            if key not in LOCATION_FIELDS:
                raise Invalid("This field cannot be set here.", field=key)
            setattr(location, key, value)
        _check_range(location)
        if StorageLocation.objects.filter(site=where, code=location.code).exists():
            raise Invalid(f"Location {location.code} already exists here.", field="code")
        full_clean(location)
        location.save()
        audit_record(
            actor=actor,
            site=where,
            action="inventory.location.created",
            obj=location,
            data={"code": location.code, "kind": location.kind},
        )
    return location


def _check_range(location: StorageLocation) -> None:
    low, high = location.temperature_min_c, location.temperature_max_c
    if (low is None) != (high is None):
        raise Invalid("Give both the lowest and highest temperature.", field="temperature_max_c")
    if low is not None and high is not None and Decimal(low) >= Decimal(high):
        raise Invalid(
            "The highest temperature must be above the lowest.", field="temperature_max_c"
        )
    if location.kind in {LocationKind.REFRIGERATOR, LocationKind.FREEZER} and low is None:
        raise Invalid(
            "A refrigerator or freezer needs its allowed temperature range.",
            field="temperature_min_c",
        )


def location_update(
    *, actor: User | None, location: StorageLocation, **values: Any
) -> StorageLocation:
    authorize(actor, Cap.INVENTORY_SETUP)
    with transaction.atomic():
        site = site_of(actor, location.site)
        fresh = StorageLocation.objects.get(pk=location.pk, site=site)
        before = {f: str(getattr(fresh, f)) for f in LOCATION_FIELDS}
        for key, value in values.items():
            if key not in LOCATION_FIELDS:
                raise Invalid("This field cannot be set here.", field=key)
            setattr(fresh, key, value)
        _check_range(fresh)
        if StorageLocation.objects.filter(site=site, code=fresh.code).exclude(pk=fresh.pk).exists():
            raise Invalid(f"Location {fresh.code} already exists here.", field="code")
        full_clean(fresh)
        fresh.save()
        after = {f: str(getattr(fresh, f)) for f in LOCATION_FIELDS}
        audit_record(
            actor=actor,
            site=site,
            action="inventory.location.updated",
            obj=fresh,
            data={"changes": {k: [before[k], after[k]] for k in after if before[k] != after[k]}},
        )
    return fresh


# --- Stock in and out ----------------------------------------------------------------------


def stock_receive(
    *,
    actor: User | None,
    site: Site | None = None,
    ndc: Package | str,
    lot_number: str,
    expiry: Any,
    quantity: Any,
    unit: str | None = None,
    location: StorageLocation | str | None = None,
    dea_order_number: str = "",
    note: str = "",
    reference: Ref = NO_REF,
    opening: bool = False,
) -> StockMove:
    """Put one lot into stock outside a delivery (an opening balance, a found box). A
    delivery is checked in through rxdesk.inventory.services.receiving."""
    authorize(actor, Cap.INVENTORY_RECEIVE)
    with transaction.atomic():
        where = site_of(actor, site)
        package = package_of(ndc)
        _check_unit(package, unit)
        qty = ledger.quantity_of(quantity)
        if package.product.dea_schedule == DeaSchedule.CII and not opening:
            # The DEA Form 222 / CSOS record of what arrived is written on receipt posting
            # (rxdesk.controlled); a receive outside a delivery would bypass it.
            raise Invalid(
                "Schedule II stock comes in on a delivery checked in under Receiving against "
                "its DEA Form 222 or CSOS order, so the form records what arrived. Only an "
                "opening balance is entered here.",
                field="ndc",
            )
        schedule_ii_check(package, dea_order_number, field="dea_order_number")
        lot = receivable_lot(site=where, package=package, lot_number=lot_number, expiry=expiry)
        place = location_of(where, location)
        move = ledger.post_in(
            site=where,
            lot=lot,
            quantity=qty,
            reason=MoveReason.OPENING if opening else MoveReason.RECEIVE,
            actor=actor,
            ref=reference,
            note=note,
            location=place,
        )
        audit_record(
            actor=actor,
            site=where,
            action="inventory.stock.received",
            obj=move,
            data={
                "ndc": package.ndc11,
                "lot": lot.number,
                "expiry": lot.expiry.isoformat() if lot.expiry else None,
                "quantity": str(qty),
                "balance_after": str(move.balance_after),
                "dea_order_number": dea_order_number,
            },
        )
    return move


def stock_dispense(
    *,
    actor: User | None,
    site: Site | None = None,
    ndc: Package | str,
    quantity: Any,
    unit: str | None = None,
    lot: Lot | None = None,
    lot_number: str = "",
    patient_id: int | None = None,
    reference: Ref = NO_REF,
    note: str = "",
) -> list[StockMove]:
    """Take stock out for a dispensing: the scanned lot, or first-expiry-first-out. Expired,
    recalled, quarantined, damaged or held lots are never dispensed."""
    authorize(actor, Cap.STOCK_DISPENSE)
    with transaction.atomic():
        where = site_of(actor, site)
        package = package_of(ndc)
        _check_unit(package, unit)
        qty = ledger.quantity_of(quantity)
        if lot is None and lot_number:
            lot = Lot.objects.filter(package=package, number=lot_number.strip().upper()).first()
            if lot is None:
                raise Invalid(f"No lot {lot_number} of NDC {package.ndc10}.", field="lot_number")
        moves = ledger.take(
            site=where,
            package=package,
            quantity=qty,
            reason=MoveReason.DISPENSE,
            actor=actor,
            lot=lot,
            ref=reference,
            patient_id=patient_id,
            note=note,
        )
        audit_record(
            actor=actor,
            site=where,
            action="inventory.stock.dispensed",
            object_type="catalog.package",
            object_id=package.pk,
            patient_id=patient_id,
            data={"ndc": package.ndc11, "quantity": str(qty), "moves": _moves_data(moves)},
        )
    return moves


def stock_return_to_stock(
    *,
    actor: User | None,
    site: Site | None = None,
    lot: Lot,
    quantity: Any,
    patient_id: int | None = None,
    reference: Ref = NO_REF,
    note: str = "",
) -> StockMove:
    """Put back a dispensed quantity that was never picked up (same lot it left from)."""
    authorize(actor, Cap.STOCK_DISPENSE)
    with transaction.atomic():
        where = site_of(actor, site)
        qty = ledger.quantity_of(quantity)
        move = ledger.post_in(
            site=where,
            lot=lot,
            quantity=qty,
            reason=MoveReason.RETURN_TO_STOCK,
            actor=actor,
            ref=reference,
            patient_id=patient_id,
            note=note,
        )
        audit_record(
            actor=actor,
            site=where,
            action="inventory.stock.returned",
            obj=move,
            patient_id=patient_id,
            data={"lot": lot.pk, "quantity": str(qty), "balance_after": str(move.balance_after)},
        )
    return move


def _given(witness: Any) -> bool:
    """Whether anything of a witness was typed (a user name)."""
    if witness is None:
        return False
    name = (
        witness.get("username") if isinstance(witness, dict) else getattr(witness, "username", "")
    )
    return bool(str(name or "").strip())


def stock_adjust(
    *,
    actor: User | None,
    balance: StockBalance,
    quantity: Any,
    reason: str,
    note: str = "",
    witness: Any = None,
) -> StockMove:
    """Correct a balance by a signed quantity with a reason code; never below zero.
    Damage, waste and destruction take stock out with their reason too.

    A Schedule II adjustment needs a witness: a second authorized person re-authenticates
    now (``witness``: username, password, and the authenticator code where enrolled), and
    the move holds both (issue 10, two-person integrity). A witness given for other stock
    is confirmed and kept the same way."""
    authorize(actor, Cap.INVENTORY_ADJUST)
    if reason not in AdjustReason.values:
        raise Invalid("Choose a reason for the adjustment.", field="reason")
    if reason == AdjustReason.OTHER and not note.strip():
        raise Invalid("Explain the adjustment.", field="note")
    raw = str(quantity).strip() if quantity is not None else ""
    negative = raw.startswith("-")
    qty = ledger.quantity_of(raw.lstrip("+-") if raw else raw)
    confirmed: Witness | None = None
    if balance.package.product.dea_schedule == DeaSchedule.CII or _given(witness):
        # Before the transaction: a refused witness is audited in its own.
        site_of(actor, balance.site)
        confirmed = witness_confirm(
            actor=actor, given=witness, action="inventory.stock.adjusted", field="witness"
        )
    with transaction.atomic():
        where = site_of(actor, balance.site)
        fresh = balance_at(where, balance.pk)
        kind = MoveReason.WASTE if reason in _WASTE else MoveReason.ADJUST
        if kind == MoveReason.WASTE and not negative:
            raise Invalid(
                "Waste and damage take stock out: enter a negative quantity.", field="quantity"
            )
        witness_user = confirmed.user if confirmed is not None else None
        if negative:
            move = ledger.post_out(
                balance=fresh,
                quantity=qty,
                reason=kind,
                actor=actor,
                note=note,
                adjust_reason=reason,
                ref=Ref("adjustment", ""),
                witness=witness_user,
            )
        else:
            move = ledger.post_in(
                site=where,
                lot=fresh.lot,
                quantity=qty,
                reason=MoveReason.ADJUST,
                actor=actor,
                note=note,
                adjust_reason=reason,
                ref=Ref("adjustment", ""),
                witness=witness_user,
            )
        data: dict[str, Any] = {
            "balance": fresh.pk,
            "quantity": str(move.quantity),
            "reason": reason,
            "balance_after": str(move.balance_after),
        }
        if confirmed is not None:
            data["witness"] = confirmed.user.username
            data["witness_factors"] = confirmed.factors
        audit_record(
            actor=actor,
            site=where,
            action="inventory.stock.adjusted",
            obj=move,
            reason=note,
            data=data,
        )
    return move


_WASTE = {
    AdjustReason.DAMAGED,
    AdjustReason.EXPIRED_WASTE,
    AdjustReason.BROKEN,
    AdjustReason.CONTAMINATED,
}


def stock_status_set(
    *, actor: User | None, balance: StockBalance, status: str, reason: str
) -> StockBalance:
    """Quarantine, hold or mark damaged a lot at this site, or release it back to
    available (a pharmacist's decision). Recalled stock is released only by closing the
    recall; expired stock never."""
    authorize(actor, Cap.INVENTORY_ADJUST)
    if status not in {s.value for s in HAND_SET}:
        raise Invalid("Choose quarantined, on hold, damaged or available.", field="status")
    releasing = status == LotStatus.AVAILABLE
    if releasing:
        authorize(actor, Cap.INVENTORY_APPROVE)
    if not (reason or "").strip():
        raise Invalid("Say why.", field="reason")
    with transaction.atomic():
        where = site_of(actor, balance.site)
        fresh = balance_at(where, balance.pk)
        before = fresh.status
        if before == status:
            raise Conflict(
                f"Lot {fresh.lot.number} is already {fresh.get_status_display().lower()}."
            )
        if before in {LotStatus.RECALLED, LotStatus.EXPIRED}:
            raise Conflict(
                f"Lot {fresh.lot.number} is {fresh.get_status_display().lower()}; it cannot be "
                "changed by hand.",
                field="status",
            )
        if releasing and fresh.lot.expiry is not None and fresh.lot.expiry < where.today():
            raise Conflict(
                f"Lot {fresh.lot.number} has expired; it cannot be released.", field="status"
            )
        changed = ledger.status_set(
            balance=fresh, status=LotStatus(status), reason=reason, only_from=[before]
        )
        if not changed:
            raise Conflict("The lot's status changed meanwhile; look again.")
        audit_record(
            actor=actor,
            site=where,
            action="inventory.stock.status_changed",
            obj=fresh,
            reason=reason,
            data={"lot": fresh.lot.number, "status": [before, status]},
        )
    return fresh


def stock_relocate(
    *, actor: User | None, balance: StockBalance, location: StorageLocation | str
) -> StockBalance:
    """Record where a lot is kept."""
    authorize(actor, Cap.INVENTORY_RECEIVE)
    with transaction.atomic():
        where = site_of(actor, balance.site)
        fresh = balance_at(where, balance.pk)
        place = location_of(where, location)
        if place is None:
            raise Invalid("Choose a location.", field="location")
        before = fresh.location.code if fresh.location else None
        StockBalance.objects.filter(pk=fresh.pk).update(location=place)
        fresh.location = place
        audit_record(
            actor=actor,
            site=where,
            action="inventory.stock.relocated",
            obj=fresh,
            data={"location": [before, place.code]},
        )
    return fresh


# --- Transfers between sites ----------------------------------------------------------------


def stock_transfer_send(
    *,
    actor: User | None,
    site: Site | None = None,
    to_site: Site,
    lines: list[dict[str, Any]],
    note: str = "",
) -> StockTransfer:
    """Send stock to another site of the same organization. Each line names a balance
    (``balance``) and a ``quantity``; the stock leaves now and arrives when the other site
    receives it. Only dispensable lots travel."""
    authorize(actor, Cap.INVENTORY_TRANSFER)
    if not lines:
        raise Invalid("Add at least one line.", field="lines")
    with transaction.atomic():
        where = site_of(actor, site)
        if to_site.pk == where.pk:
            raise Invalid("Choose another site.", field="to_site")
        if where.organization_id is None or where.organization_id != to_site.organization_id:
            raise Invalid(
                "Stock can move only between sites of the same organization.", field="to_site"
            )
        transfer = StockTransfer.objects.create(
            from_site=where, to_site=to_site, sent_by=actor, note=note[:500]
        )
        parsed = []
        for index, line in enumerate(lines):
            try:
                balance = balance_at(where, line.get("balance"))
            except NotFound:
                raise Invalid(
                    "No such stock at this site.", field=f"lines.{index}.balance"
                ) from None
            qty = ledger.quantity_of(line.get("quantity"), field=f"lines.{index}.quantity")
            parsed.append((index, balance, qty))
        # Several balances change: take their locks in the ledger's one order.
        fresh = {b.pk: b for b in ledger.lock_in_order(b.pk for _, b, _ in parsed)}
        moves = []
        for index, balance, qty in sorted(parsed, key=lambda item: item[1].pk):
            StockTransferLine.objects.create(
                transfer=transfer, package_id=balance.package_id, lot=balance.lot, quantity=qty
            )
            try:
                moves.append(
                    ledger.post_out(
                        balance=fresh[balance.pk],
                        quantity=qty,
                        reason=MoveReason.TRANSFER_OUT,
                        actor=actor,
                        ref=Ref("transfer", transfer.pk),
                        dispensable_only=True,
                    )
                )
            except Conflict as exc:
                raise Conflict(exc.message, field=f"lines.{index}.quantity") from None
        audit_record(
            actor=actor,
            site=where,
            action="inventory.transfer.sent",
            obj=transfer,
            data={"to_site": to_site.pk, "moves": _moves_data(moves)},
        )
    return transfer


def stock_transfer_receive(
    *,
    actor: User | None,
    transfer: StockTransfer,
    location: StorageLocation | str | None = None,
) -> StockTransfer:
    """Check in a transfer at the receiving site: its lines enter stock here."""
    authorize(actor, Cap.INVENTORY_TRANSFER)
    with transaction.atomic():
        where = site_of(actor, transfer.to_site)
        # Conditional: two technicians checking in the same box at once post it once.
        claimed = StockTransfer.objects.filter(
            pk=transfer.pk, to_site=where, status=TransferStatus.IN_TRANSIT
        ).update(status=TransferStatus.RECEIVED, received_by=actor, received_at=timezone.now())
        if claimed != 1:
            raise Conflict("This transfer has already been received.")
        place = location_of(where, location)
        lines = list(transfer.lines.select_related("lot").order_by("id"))
        rows = {line.pk: ledger.balance_row(site=where, lot=line.lot) for line in lines}
        ledger.lock_in_order(row.pk for row in rows.values())
        moves = [
            ledger.post_in(
                site=where,
                lot=line.lot,
                quantity=line.quantity,
                reason=MoveReason.TRANSFER_IN,
                actor=actor,
                ref=Ref("transfer", transfer.pk),
                location=place,
            )
            for line in sorted(lines, key=lambda line: rows[line.pk].pk)
        ]
        # A lot recalled while it was on the road arrives recalled, not available.
        for line in lines:
            blocked = recall_blocks(line.lot.package, line.lot.number)
            if blocked is not None:
                row = rows[line.pk]
                row.refresh_from_db()
                ledger.status_set(
                    balance=row,
                    status=LotStatus.RECALLED,
                    reason=f"Recall {blocked.recall.recall_number or blocked.recall_id}",
                    only_from=[s for s in LotStatus.values if s != LotStatus.RECALLED],
                )
                RecallStock.objects.get_or_create(
                    recall=blocked.recall,
                    balance=row,
                    defaults={"quantity_at_quarantine": row.on_hand},
                )
        transfer.refresh_from_db()
        audit_record(
            actor=actor,
            site=where,
            action="inventory.transfer.received",
            obj=transfer,
            data={"from_site": transfer.from_site_id, "moves": _moves_data(moves)},
        )
    return transfer
