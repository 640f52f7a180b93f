"""Stock leaving the shelf for good: the nightly expiry sweep (expired lots become EXPIRED,
optionally moved to a quarantine area) and returns to a vendor or reverse distributor with
their chain of custody (who packed, carrier, tracking, credit expected and received).

Damage and waste are adjustments (rxdesk.inventory.services.stock.stock_adjust)."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction
from django.utils import timezone

from rxdesk.catalog.choices import DeaSchedule
from rxdesk.core.audit import audit_record, register_actions
from rxdesk.core.capabilities import Cap
from rxdesk.core.errors import Conflict, Invalid, NotFound
from rxdesk.core.models import Site, User
from rxdesk.core.services import authorize
from rxdesk.inventory import ledger, seams
from rxdesk.inventory.choices import (
    LocationKind,
    LotStatus,
    MoveReason,
    VendorReturnKind,
    VendorReturnStatus,
)
from rxdesk.inventory.ledger import Ref
from rxdesk.inventory.models import (
    Recall,
    StockBalance,
    StockMove,
    StorageLocation,
    Supplier,
    VendorReturn,
    VendorReturnLine,
)
from rxdesk.inventory.services.common import balance_at, location_of, package_of, site_of

register_actions(
    {
        "inventory.stock.expired_quarantined": "Expired stock set aside",
        "inventory.return.created": "Return to vendor packed",
        "inventory.return.shipped": "Return to vendor shipped",
        "inventory.return.credited": "Return to vendor credited",
        "inventory.return.closed": "Return to vendor closed",
    }
)

# The statuses the expiry sweep takes over. RECALLED, DAMAGED and EXPIRED stay as they are:
# a recall's hold must survive the lot's expiry (the recall tracks it to its return).
SWEPT = (LotStatus.AVAILABLE, LotStatus.ON_HOLD, LotStatus.QUARANTINED)

# Until the controlled-substances issue gives a return line its own field, the DEA Form 222
# the supplier issued for a Schedule II return is kept at the start of the line's reason.
DEA_222_PREFIX = "DEA 222: "

MAX_LINES = 200


# --- The expiry sweep ----------------------------------------------------------------------


def stock_expired_quarantine(
    *,
    actor: User | None,
    site: Site | None = None,
    location: StorageLocation | str | None = None,
) -> int:
    """Mark every lot on hand at the site whose expiry has passed as EXPIRED (from
    available, on hold or quarantined), optionally moving it to a quarantine area. Returns
    how many balances changed. Run nightly by ``rxdesk inventory expire`` (``actor=None``
    with ``site=``) or from the expiring-stock screen."""
    authorize(actor, Cap.INVENTORY_ADJUST)
    with transaction.atomic():
        where = site_of(actor, site)
        place = location_of(where, location)
        if place is not None and place.kind != LocationKind.QUARANTINE:
            raise Invalid(
                f"{place.code} is not a quarantine area; choose one or leave it blank.",
                field="location",
            )
        today = where.today()
        candidates = list(
            StockBalance.objects.select_related("lot", "package", "location")
            .filter(site=where, on_hand__gt=0, lot__expiry__lt=today, status__in=SWEPT)
            .order_by("lot__expiry", "pk")
        )
        # Many balances change: lock them in the ledger's one order first (no deadlock).
        ledger.lock_in_order(b.pk for b in candidates)
        changed: list[dict[str, Any]] = []
        for balance in candidates:
            before = balance.status
            assert balance.lot.expiry is not None
            # Conditional: a recall that lands between our read and this update keeps its
            # RECALLED status (status_set updates only from the statuses we swept).
            if not ledger.status_set(
                balance=balance,
                status=LotStatus.EXPIRED,
                reason=f"Expired {balance.lot.expiry:%m/%d/%Y}",
                only_from=SWEPT,
            ):
                continue
            moved_from = balance.location.code if balance.location else None
            if place is not None and balance.location_id != place.pk:
                # Where the lot is kept, not how much: the same update stock_relocate makes.
                StockBalance.objects.filter(pk=balance.pk, status=LotStatus.EXPIRED).update(
                    location=place
                )
            changed.append(
                {
                    "balance": balance.pk,
                    "ndc": balance.package.ndc11,
                    "lot": balance.lot.number,
                    "expiry": balance.lot.expiry.isoformat(),
                    "on_hand": str(balance.on_hand),
                    "status": [before, LotStatus.EXPIRED.value],
                    "location": [moved_from, place.code if place is not None else moved_from],
                }
            )
        # Nothing expired tonight: nothing changed, so nothing to record (like an edit that
        # changes no field).
        if changed:
            audit_record(
                actor=actor,
                site=where,
                action="inventory.stock.expired_quarantined",
                object_type="core.site",
                object_id=where.pk,
                data={
                    "today": today.isoformat(),
                    "location": place.code if place is not None else None,
                    "balances": changed,
                },
            )
    return len(changed)


# --- Returns to vendor / reverse distributor -----------------------------------------------


def money_of(value: Any, *, field: str) -> Decimal | None:
    """An amount of money to the cent, zero or more, or None when left blank."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, float):
        value = str(value)
    try:
        amount = Decimal(str(value).strip().lstrip("$"))
    except (InvalidOperation, ValueError):
        raise Invalid(f"'{value}' is not an amount.", field=field) from None
    if not amount.is_finite() or amount < 0:
        raise Invalid("Enter an amount of zero or more.", field=field)
    if amount != amount.quantize(Decimal("0.01")):
        raise Invalid("Give the amount to the cent.", field=field)
    if amount >= Decimal("10000000000"):
        raise Invalid("The amount is too large.", field=field)
    return amount.quantize(Decimal("0.01"))


def _return_at(site: Site, vendor_return: VendorReturn) -> VendorReturn:
    found = (
        VendorReturn.objects.select_related("site", "supplier")
        .filter(site=site, pk=vendor_return.pk)
        .first()
    )
    if found is None:
        raise NotFound("No such return at this pharmacy.")
    return found


def _acting_site(actor: User | None, site: Site) -> Site:
    return site_of(actor, None) if actor is not None else site


def _supplier_of(site: Site, value: Supplier | int | str | None) -> Supplier:
    if value in (None, ""):
        raise Invalid("Choose the supplier or reverse distributor.", field="supplier")
    pk = value.pk if isinstance(value, Supplier) else value
    try:
        found = Supplier.objects.filter(site=site, pk=int(str(pk))).first()
    except ValueError:
        found = None
    if found is None:
        raise Invalid("No such supplier at this pharmacy.", field="supplier")
    if not found.active:
        raise Invalid(f"{found.name} is marked inactive.", field="supplier")
    return found


def _line_balance(site: Site, index: int, line: dict[str, Any]) -> StockBalance:
    """The stock a return line takes from: a balance id, or an NDC (or scan) and a lot."""
    prefix = f"lines.{index}."
    if line.get("balance") not in (None, ""):
        try:
            return balance_at(site, int(str(line["balance"])))
        except (NotFound, ValueError):
            raise Invalid("No such stock at this pharmacy.", field=f"{prefix}balance") from None
    package = package_of(line.get("ndc"), field=f"{prefix}ndc")
    number = str(line.get("lot_number") or "").strip().upper()
    if not number:
        raise Invalid("Enter the lot number.", field=f"{prefix}lot_number")
    found = (
        StockBalance.objects.select_related("lot", "package__product", "site", "location")
        .filter(site=site, package=package, lot__number=number)
        .first()
    )
    if found is None:
        raise Invalid(
            f"No lot {number} of NDC {package.ndc10} in stock here.", field=f"{prefix}lot_number"
        )
    return found


def _line_reason(index: int, line: dict[str, Any], schedule_ii: bool) -> str:
    reason = str(line.get("reason") or "").strip()
    form_222 = str(line.get("dea_form_222") or "").strip()
    if reason.upper().startswith(DEA_222_PREFIX.upper()):
        number, _, rest = reason[len(DEA_222_PREFIX) :].partition(" — ")
        form_222 = form_222 or number.strip()
        reason = rest.strip()
    if schedule_ii and not form_222:
        raise Invalid(
            "Schedule II: enter the number of the DEA Form 222 the supplier issued for this "
            "return.",
            field=f"lines.{index}.dea_form_222",
        )
    if form_222:
        if len(form_222) > 40:
            raise Invalid("At most 40 characters.", field=f"lines.{index}.dea_form_222")
        reason = f"{DEA_222_PREFIX}{form_222}" + (f" — {reason}" if reason else "")
    if len(reason) > 200:
        raise Invalid("At most 200 characters.", field=f"lines.{index}.reason")
    return reason


def dea_form_222_of(line: VendorReturnLine) -> str:
    """The DEA Form 222 number kept in a Schedule II return line's reason ('' if none)."""
    if not line.reason.startswith(DEA_222_PREFIX):
        return ""
    return line.reason[len(DEA_222_PREFIX) :].partition(" — ")[0].strip()


def vendor_return_create(
    *,
    actor: User | None,
    site: Site | None = None,
    kind: str,
    supplier: Supplier | int | str | None,
    lines: Sequence[dict[str, Any]],
    credit_expected: Any = None,
    note: str = "",
    recall: Recall | None = None,
) -> VendorReturn:
    """Pack a return (a draft until shipped; the packer is the actor). Each line names the
    stock (``balance``, or ``ndc`` + ``lot_number``), a ``quantity`` no more than on hand,
    and a ``reason``; a Schedule II line needs ``dea_form_222``. Expired and recalled
    stock is exactly what goes back, so any status may be returned."""
    authorize(actor, Cap.INVENTORY_RETURN)
    if kind not in VendorReturnKind.values:
        raise Invalid("Choose vendor, reverse distributor or recall.", field="kind")
    if not lines:
        raise Invalid("Add at least one line.", field="lines")
    if len(lines) > MAX_LINES:
        raise Invalid(f"At most {MAX_LINES} lines per return.", field="lines")
    if len(note or "") > 500:
        raise Invalid("A note has at most 500 characters.", field="note")
    expected = money_of(credit_expected, field="credit_expected")
    with transaction.atomic():
        where = site_of(actor, site)
        vendor = _supplier_of(where, supplier)
        if kind == VendorReturnKind.REVERSE_DISTRIBUTOR and not vendor.reverse_distributor:
            raise Invalid(f"{vendor.name} is not a reverse distributor.", field="supplier")
        if kind == VendorReturnKind.RECALL and recall is None:
            raise Invalid("Name the recall this return belongs to.", field="recall")
        parsed: list[tuple[StockBalance, Decimal, str]] = []
        taken: dict[int, Decimal] = {}
        for index, line in enumerate(lines):
            balance = _line_balance(where, index, line)
            qty = ledger.quantity_of(line.get("quantity"), field=f"lines.{index}.quantity")
            wanted = taken[balance.pk] = taken.get(balance.pk, Decimal(0)) + qty
            if wanted > balance.on_hand:
                raise Conflict(
                    f"Only {balance.on_hand.normalize():f} {balance.package.billing_unit} of lot "
                    f"{balance.lot.number} on hand; cannot return {wanted.normalize():f}.",
                    field=f"lines.{index}.quantity",
                )
            schedule_ii = balance.package.product.dea_schedule == DeaSchedule.CII
            parsed.append((balance, qty, _line_reason(index, line, schedule_ii)))
        packed = VendorReturn.objects.create(
            site=where,
            kind=kind,
            supplier=vendor,
            recall=recall,
            packed_by=actor,
            credit_expected=expected,
            note=(note or "").strip(),
        )
        rows = VendorReturnLine.objects.bulk_create(
            [
                VendorReturnLine(
                    vendor_return=packed,
                    package_id=balance.package_id,
                    lot_id=balance.lot_id,
                    quantity=qty,
                    reason=reason,
                )
                for balance, qty, reason in parsed
            ]
        )
        audit_record(
            actor=actor,
            site=where,
            action="inventory.return.created",
            obj=packed,
            data={
                "kind": kind,
                "supplier": vendor.name,
                "credit_expected": str(expected) if expected is not None else None,
                "lines": [
                    {
                        "ndc": balance.package.ndc11,
                        "lot": balance.lot.number,
                        "quantity": str(qty),
                        "reason": reason,
                    }
                    for (balance, qty, reason) in parsed
                ],
            },
        )
        assert len(rows) == len(parsed)
    return packed


def vendor_return_ship(
    *, actor: User | None, vendor_return: VendorReturn, carrier: str, tracking_number: str
) -> VendorReturn:
    """Hand the packed return to the carrier: every line leaves stock (VENDOR_RETURN moves,
    whatever the lot's status) and the return is shipped. All or nothing."""
    authorize(actor, Cap.INVENTORY_RETURN)
    carrier = (carrier or "").strip()
    tracking = (tracking_number or "").strip()
    errors = []
    if not carrier:
        errors.append({"field": "carrier", "message": "Enter the carrier."})
    elif len(carrier) > 60:
        errors.append({"field": "carrier", "message": "At most 60 characters."})
    if not tracking:
        errors.append({"field": "tracking_number", "message": "Enter the tracking number."})
    elif len(tracking) > 60:
        errors.append({"field": "tracking_number", "message": "At most 60 characters."})
    if errors:
        raise Invalid(errors=errors)
    with transaction.atomic():
        where = _acting_site(actor, vendor_return.site)
        fresh = _return_at(where, vendor_return)
        now = timezone.now()
        # Conditional: two people shipping the same box at once post it once.
        claimed = VendorReturn.objects.filter(pk=fresh.pk, status=VendorReturnStatus.DRAFT).update(
            status=VendorReturnStatus.SHIPPED,
            carrier=carrier,
            tracking_number=tracking,
            shipped_by=actor,
            shipped_at=now,
        )
        if claimed != 1:
            raise Conflict(
                f"This return is {fresh.get_status_display().lower()}; it was shipped already.",
                field="status",
            )
        return_lines = list(fresh.lines.select_related("lot").order_by("pk"))
        # Several balances change: lock them in the ledger's one order first (no deadlock).
        ledger.lock_in_order(
            StockBalance.objects.filter(
                site=where, lot_id__in=[line.lot_id for line in return_lines]
            ).values_list("pk", flat=True)
        )
        moves: list[StockMove] = []
        for index, line in enumerate(return_lines):
            balance = (
                StockBalance.objects.select_related("lot", "package", "site")
                .filter(site=where, lot=line.lot)
                .first()
            )
            if balance is None:  # pragma: no cover - a line is only packed from a balance
                raise Conflict(f"Lot {line.lot.number} is not in stock here.", field="lines")
            try:
                moves.append(
                    ledger.post_out(
                        balance=balance,
                        quantity=line.quantity,
                        reason=MoveReason.VENDOR_RETURN,
                        actor=actor,
                        ref=Ref("vendor_return_line", line.pk),
                        note=f"Return {fresh.pk} to {fresh.supplier.name}",
                    )
                )
            except Conflict as exc:
                raise Conflict(
                    f"Line {index + 1}: {exc.message} Stock left since the return was packed; "
                    "correct the return.",
                    field=f"lines.{index}.quantity",
                ) from None
        seams.return_shipped(fresh, list(return_lines), actor)
        fresh.refresh_from_db()
        audit_record(
            actor=actor,
            site=where,
            action="inventory.return.shipped",
            obj=fresh,
            data={
                "carrier": carrier,
                "tracking_number": tracking,
                "moves": [
                    {
                        "move": m.pk,
                        "lot": m.lot_id,
                        "quantity": str(m.quantity),
                        "balance_after": str(m.balance_after),
                    }
                    for m in moves
                ],
            },
        )
    return fresh


def vendor_return_credit(
    *, actor: User | None, vendor_return: VendorReturn, credit_received: Any
) -> VendorReturn:
    """Record the credit the vendor gave for a shipped return."""
    authorize(actor, Cap.INVENTORY_RETURN)
    amount = money_of(credit_received, field="credit_received")
    if amount is None:
        raise Invalid("Enter the credit received (0 if none).", field="credit_received")
    with transaction.atomic():
        where = _acting_site(actor, vendor_return.site)
        fresh = _return_at(where, vendor_return)
        claimed = VendorReturn.objects.filter(
            pk=fresh.pk, status=VendorReturnStatus.SHIPPED
        ).update(
            status=VendorReturnStatus.CREDITED, credit_received=amount, credited_at=timezone.now()
        )
        if claimed != 1:
            raise Conflict(
                f"This return is {fresh.get_status_display().lower()}; a credit is recorded "
                "once it has shipped, and only once.",
                field="status",
            )
        fresh.refresh_from_db()
        audit_record(
            actor=actor,
            site=where,
            action="inventory.return.credited",
            obj=fresh,
            data={
                "credit_expected": (
                    str(fresh.credit_expected) if fresh.credit_expected is not None else None
                ),
                "credit_received": str(amount),
            },
        )
    return fresh


def vendor_return_close(
    *, actor: User | None, vendor_return: VendorReturn, note: str = ""
) -> VendorReturn:
    """Close a return: shipped or credited (nothing more to come), or a draft that will not
    ship (say why; nothing left stock)."""
    authorize(actor, Cap.INVENTORY_RETURN)
    text = (note or "").strip()
    if len(text) > 200:
        raise Invalid("At most 200 characters.", field="note")
    with transaction.atomic():
        where = _acting_site(actor, vendor_return.site)
        fresh = _return_at(where, vendor_return)
        before = fresh.status
        if before == VendorReturnStatus.CLOSED:
            raise Conflict("This return is closed already.", field="status")
        if before == VendorReturnStatus.DRAFT and not text:
            raise Invalid("Say why this return is not shipped.", field="note")
        values: dict[str, Any] = {"status": VendorReturnStatus.CLOSED}
        if text:
            values["note"] = f"{fresh.note}\nClosed: {text}".strip()[:500]
        claimed = VendorReturn.objects.filter(pk=fresh.pk, status=before).update(**values)
        if claimed != 1:
            raise Conflict("The return changed meanwhile; look again.")
        fresh.refresh_from_db()
        audit_record(
            actor=actor,
            site=where,
            action="inventory.return.closed",
            obj=fresh,
            reason=text,
            data={"status": [before, VendorReturnStatus.CLOSED.value]},
        )
    return fresh
