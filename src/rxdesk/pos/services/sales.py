"""Sales at the counter: start one, scan OTC items onto it, take it off again, take the
payment (split tenders: cash, card, FSA/HSA, house charge, check), cancel an unpaid sale,
void a paid one the same day, refund lines.

Locks are taken in one order everywhere: the sale, then its fills (through the fill
workflow), then the house account. A payment is all or nothing: the tenders, the house
charge, every fill handed out and the sale completed commit together or not at all."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from rxdesk.catalog import queries as catalog_queries
from rxdesk.catalog.choices import PriceKind
from rxdesk.catalog.models import Package, PackagePrice
from rxdesk.core.audit import register_actions
from rxdesk.core.capabilities import Cap
from rxdesk.core.errors import Conflict, Invalid, NotFound
from rxdesk.core.models import User
from rxdesk.core.services import authorize
from rxdesk.patients.models import Patient
from rxdesk.pos.choices import DrawerStatus, HouseEntryKind, LineKind, SaleStatus, TenderKind
from rxdesk.pos.models import (
    Drawer,
    HouseAccount,
    HouseEntry,
    Pickup,
    Refund,
    Sale,
    SaleLine,
    Tender,
)
from rxdesk.pos.services import pse
from rxdesk.pos.services.common import (
    EDITABLE,
    add_line,
    audit,
    cents,
    lock_sale,
    own,
    parse_money,
    recompute,
)
from rxdesk.pos.services.drawers import drawer_for
from rxdesk.rx.services import workflow

register_actions(
    {
        "pos.sale.started": "Sale started",
        "pos.sale.item_added": "Item added to a sale",
        "pos.sale.line_removed": "Line taken off a sale",
        "pos.sale.paid": "Sale paid",
        "pos.sale.cancelled": "Unpaid sale cancelled",
        "pos.sale.voided": "Paid sale voided",
        "pos.sale.refunded": "Money refunded on a sale",
    }
)

MAX_ITEM_QUANTITY = 99
MAX_TENDERS = 10
# A run of 13 or more digits is a card number (PANs are 13–19 digits); it is never kept.
CARD_NUMBER = re.compile(r"\d{13,}")
NEEDS_REFERENCE = (TenderKind.CARD, TenderKind.FSA_HSA)
NEEDS_DRAWER = (TenderKind.CASH, TenderKind.CHECK)
REFUND_KINDS = (TenderKind.CASH, TenderKind.CARD, TenderKind.FSA_HSA, TenderKind.HOUSE)


@dataclass
class TenderIn:
    """One way the customer pays part of a sale. ``tendered`` is the cash handed over (cash
    only; the change is what is over ``amount``); ``reference`` is the card's last four
    digits and the approval code, or the check number; ``account`` the house account."""

    kind: str
    amount: Decimal | str
    tendered: Decimal | str | None = None
    reference: str = ""
    account: HouseAccount | None = None


def _reason(reason: str) -> str:
    text = " ".join(str(reason or "").split())
    if not text:
        raise Invalid("Say why.", field="reason")
    if len(text) > 300:
        raise Invalid("The reason is at most 300 characters.", field="reason")
    return text


def clean_reference(value: str, field: str, *, required: bool) -> str:
    """A card's last four and approval code, or a check number: never a full card number."""
    text = " ".join(str(value or "").split())
    if CARD_NUMBER.search(re.sub(r"[\s-]", "", text)):
        raise Invalid(
            "Never type the full card number: only its last four digits and the approval code.",
            field=field,
        )
    if required and not text:
        raise Invalid(
            "Type the card's last four digits and the approval code from the terminal.",
            field=field,
        )
    if len(text) > 40:
        raise Invalid("The reference is at most 40 characters.", field=field)
    return text


def _line_of(sale: Sale, line: SaleLine | int) -> SaleLine:
    pk = line.pk if isinstance(line, SaleLine) else line
    found = SaleLine.objects.filter(pk=pk, sale=sale).select_related("fill").first()
    if found is None:
        raise NotFound(f"Sale {sale.receipt_number} has no such line.", field="line")
    return found


def void_pse_entries(
    actor: User, sale: Sale, reason: str, lines: Iterable[int] | None = None
) -> int:
    """Void the logbook entries of a sale (or of some of its lines): the entry stays in the
    logbook, marked void, and stops counting toward the purchaser's limits."""
    return pse.pse_entries_void(actor=actor, sale=sale, reason=reason, lines=lines)


# --- Starting a sale and its items -----------------------------------------------------------


def sale_start(
    *, actor: User, patient: Patient | None = None, drawer: Drawer | None = None
) -> Sale:
    """A new, empty sale at the counter (for a patient, or for a walk-in customer)."""
    authorize(actor, Cap.RX_SELL)
    assert actor.site is not None
    if patient is not None:
        own(actor, "patient", patient.site_id)
    with transaction.atomic():
        if drawer is not None:
            own(actor, "drawer", drawer.site_id)
            if not Drawer.objects.filter(pk=drawer.pk, status=DrawerStatus.OPEN).exists():
                raise Conflict("That drawer is closed; open a drawer first.", field="drawer")
        sale = Sale.objects.create(
            site=actor.site, patient=patient, drawer=drawer, started_by=actor
        )
        audit(actor, "pos.sale.started", sale, drawer=drawer.pk if drawer else None)
    return sale


def _quantity(value: Any) -> int:
    try:
        number = int(str(value).strip())
    except (TypeError, ValueError):
        raise Invalid("Type how many, from 1 to 99.", field="quantity") from None
    if not 1 <= number <= MAX_ITEM_QUANTITY:
        raise Invalid("Type how many, from 1 to 99.", field="quantity")
    return number


def shelf_price(package: Package, day: Any) -> Decimal | None:
    """The package's usual-and-customary price in effect on ``day`` (the latest one)."""
    found = (
        PackagePrice.objects.filter(
            package=package, kind=PriceKind.USUAL_CUSTOMARY, effective_on__lte=day
        )
        .order_by("-effective_on", "-recorded_at")
        .first()
    )
    return found.amount if found is not None else None


def is_otc(package: Package) -> bool:
    product = package.product
    return bool(product.otc) or "OTC" in (product.product_type or "").upper()


def sale_add_item(
    *, actor: User, sale: Sale, code: str, quantity: int = 1, price: Any = None
) -> SaleLine:
    """Scan (or type) an OTC item onto the sale at its shelf price, or at a typed price.
    Prescription-only products are sold only on a prescription; pseudoephedrine and
    ephedrine go through the CMEA logbook. OTC items are taxed and FSA/HSA eligible."""
    authorize(actor, Cap.RX_SELL)
    count = _quantity(quantity)
    typed = parse_money(price, "price") if price not in (None, "") else None
    try:
        resolved = catalog_queries.resolve_code(actor=actor, code=str(code or "").strip())
    except (Invalid, NotFound, Conflict) as exc:
        raise Invalid(exc.message, field="code") from None
    package = resolved.package
    product = package.product
    if not is_otc(package):
        raise Conflict(
            f"{product.display_name} needs a prescription; it cannot be sold as an OTC item.",
            field="code",
        )
    if product.cmea:
        raise Conflict(
            f"{product.display_name} contains pseudoephedrine or ephedrine: sell it through "
            "the logbook (PSE sale), not as an OTC item.",
            field="code",
        )
    with transaction.atomic():
        locked = lock_sale(actor, sale, *EDITABLE)
        unit = typed if typed is not None else shelf_price(package, locked.site.today())
        if unit is None:
            raise Conflict(
                f"{product.display_name} has no shelf price on file: type the price.",
                field="price",
            )
        line = _add_otc(locked, package, count, unit)
        audit(
            actor,
            "pos.sale.item_added",
            locked,
            line=line.pk,
            ndc=package.ndc11,
            quantity=count,
            amount=str(line.amount),
            price_typed=typed is not None,
        )
    return line


def _add_otc(sale: Sale, package: Package, count: int, unit: Decimal) -> SaleLine:
    product = package.product
    drug = "DRUG" in (product.product_type or "").upper()
    return add_line(
        sale,
        kind=LineKind.OTC,
        description=f"{product.display_name} {product.strength}".strip(),
        quantity=Decimal(count),
        unit_price=unit,
        package=package,
        taxable=True,
        fsa_eligible=drug,
    )


def sale_remove_line(*, actor: User, sale: Sale, line: SaleLine | int) -> Sale:
    """Take a line off a sale before it is paid. A prescription goes back to waiting in
    will-call (it was never handed out). A pseudoephedrine line's logbook entry is voided;
    the law keeps the entry, and the entry keeps its line, so that line stays on the sale
    at no charge, marked as taken off."""
    authorize(actor, Cap.RX_SELL)
    with transaction.atomic():
        locked = lock_sale(actor, sale, *EDITABLE)
        found = _line_of(locked, line)
        data = {"line": found.pk, "kind": found.kind, "amount": str(found.amount)}
        if found.kind == LineKind.PSE:
            void_pse_entries(actor, locked, "Taken off the sale before payment", [found.pk])
            found.amount = found.tax = Decimal("0.00")
            found.unit_price = Decimal("0.00")
            found.refunded_quantity = found.quantity
            if not found.description.startswith("Taken off: "):
                found.description = f"Taken off: {found.description}"[:200]
            found.save(
                update_fields=["amount", "tax", "unit_price", "refunded_quantity", "description"]
            )
        else:
            if found.fill_id:
                data["fill"] = found.fill_id
            found.delete()
        recompute(locked)
        audit(actor, "pos.sale.line_removed", locked, **data)
    return locked


# --- Payment ---------------------------------------------------------------------------------


@dataclass
class _Tender:
    kind: str
    amount: Decimal
    tendered: Decimal | None
    change: Decimal
    reference: str
    account: HouseAccount | None


def _tenders(tenders: list[TenderIn]) -> list[_Tender]:
    if len(tenders) > MAX_TENDERS:
        raise Invalid(f"At most {MAX_TENDERS} payments on one sale.", field="tenders")
    out = []
    for i, t in enumerate(tenders):
        at = f"tenders.{i}"
        if t.kind not in TenderKind.values:
            raise Invalid("Choose cash, card, FSA/HSA, house charge or check.", field=f"{at}.kind")
        amount = parse_money(t.amount, f"{at}.amount", allow_zero=False)
        tendered = None
        change = Decimal("0.00")
        if t.tendered not in (None, ""):
            if t.kind != TenderKind.CASH:
                raise Invalid("Only cash is handed over with change.", field=f"{at}.tendered")
            tendered = parse_money(t.tendered, f"{at}.tendered")
            if tendered < amount:
                raise Invalid(
                    f"The cash handed over (${tendered}) is less than ${amount}.",
                    field=f"{at}.tendered",
                )
            change = tendered - amount
        reference = clean_reference(
            t.reference, f"{at}.reference", required=t.kind in NEEDS_REFERENCE
        )
        if t.kind == TenderKind.HOUSE and t.account is None:
            raise Invalid("Choose the house account to charge.", field=f"{at}.account")
        if t.kind != TenderKind.HOUSE and t.account is not None:
            raise Invalid("Only a house charge names an account.", field=f"{at}.account")
        out.append(_Tender(t.kind, amount, tendered, change, reference, t.account))
    return out


def _paying_drawer(actor: User, sale: Sale, needed: bool) -> Drawer | None:
    drawer = None
    if sale.drawer_id:
        drawer = Drawer.objects.filter(pk=sale.drawer_id, status=DrawerStatus.OPEN).first()
        if drawer is None and needed:
            raise Conflict(
                "This sale's drawer is closed: open a drawer for cash or checks.", field="drawer"
            )
    if drawer is None:
        drawer = drawer_for(actor=actor)
    if drawer is None and needed:
        raise Conflict("Open the cash drawer first: cash and checks go into it.", field="drawer")
    return drawer


def house_balance(account: HouseAccount) -> Decimal:
    total = HouseEntry.objects.filter(account=account).aggregate(s=Sum("amount"))["s"]
    return cents(total or Decimal(0))


def _charge(actor: User, sale: Sale, tender: _Tender, field: str) -> HouseAccount:
    assert tender.account is not None
    if tender.account.site_id != sale.site_id:
        raise NotFound("No such house account at this pharmacy.", field=field)
    account = HouseAccount.objects.select_for_update(of=("self",)).get(pk=tender.account.pk)
    if not account.active:
        raise Conflict(f"House account {account.number} is closed.", field=field)
    balance = house_balance(account)
    if balance + tender.amount > account.credit_limit:
        room = max(account.credit_limit - balance, Decimal("0.00"))
        raise Conflict(
            f"House account {account.number} can take ${room} more (limit "
            f"${account.credit_limit}, owing ${balance}).",
            field=field,
        )
    HouseEntry.objects.create(
        account=account,
        kind=HouseEntryKind.CHARGE,
        amount=tender.amount,
        sale=sale,
        note=f"Sale {sale.receipt_number}",
        recorded_by=actor,
    )
    return account


def sale_pay(*, actor: User, sale: Sale, tenders: list[TenderIn]) -> Sale:
    """Take the payment and complete the sale: the tenders must add up to the total (cash
    may be more, and the change is given back), FSA/HSA pays only for eligible lines (with
    their tax), a card needs its last four and approval code, a house charge stays within
    the account's limit, cash and checks go into an open drawer. Each prescription is
    handed out (the fill becomes dispensed) in the same transaction: all or nothing."""
    authorize(actor, Cap.RX_SELL)
    parsed = _tenders(tenders)
    with transaction.atomic():
        locked = lock_sale(actor, sale, *EDITABLE)
        if locked.status == SaleStatus.AWAITING_COUNSEL:
            raise Conflict(
                "The pharmacist has not counseled yet: the sale waits for counseling.",
                field="sale",
            )
        lines = list(locked.lines.select_related("fill").order_by("pk"))
        if not lines:
            raise Conflict("Nothing to pay for: add a prescription or an item.", field="sale")
        rx_lines = [ln for ln in lines if ln.kind == LineKind.RX]
        if rx_lines and not Pickup.objects.filter(sale=locked).exists():
            raise Conflict(
                "Record who is picking up (identity, counseling, signature) before payment.",
                field="pickup",
            )
        paid = sum((t.amount for t in parsed), Decimal("0.00"))
        if paid != locked.total:
            raise Invalid(
                f"The payments add up to ${paid}; the total is ${locked.total}.", field="tenders"
            )
        eligible = sum((ln.amount + ln.tax for ln in lines if ln.fsa_eligible), Decimal("0.00"))
        fsa = sum((t.amount for t in parsed if t.kind == TenderKind.FSA_HSA), Decimal("0.00"))
        if fsa > eligible:
            raise Conflict(
                f"The FSA/HSA card can pay ${eligible} (the eligible items with their tax), "
                f"not ${fsa}.",
                field="tenders",
            )
        drawer = _paying_drawer(actor, locked, any(t.kind in NEEDS_DRAWER for t in parsed))
        now = timezone.now()
        for i, t in enumerate(parsed):
            account = None
            if t.kind == TenderKind.HOUSE:
                account = _charge(actor, locked, t, f"tenders.{i}.account")
            Tender.objects.create(
                sale=locked,
                kind=t.kind,
                amount=t.amount,
                tendered=t.tendered if t.kind == TenderKind.CASH else None,
                reference=t.reference,
                account=account,
                drawer=drawer,
                taken_by=actor,
                taken_at=now,
            )
        for line in rx_lines:
            assert line.fill is not None
            workflow.fill_sell(actor=actor, fill=line.fill, receipt=locked.receipt_number)
        locked.status = SaleStatus.COMPLETED
        locked.completed_by, locked.completed_at = actor, now
        locked.paid = paid
        locked.change_given = sum((t.change for t in parsed), Decimal("0.00"))
        locked.drawer = drawer
        locked.save(
            update_fields=[
                "status",
                "completed_by",
                "completed_at",
                "paid",
                "change_given",
                "drawer",
            ]
        )
        audit(
            actor,
            "pos.sale.paid",
            locked,
            total=str(locked.total),
            change=str(locked.change_given),
            tenders=[{"kind": t.kind, "amount": str(t.amount)} for t in parsed],
            fills=[ln.fill_id for ln in rx_lines],
        )
    return locked


# --- Cancel, void, refund ----------------------------------------------------------------------


def sale_cancel(*, actor: User, sale: Sale, reason: str) -> Sale:
    """Cancel a sale not yet paid: its prescriptions stay in will-call, its logbook entries
    are voided, the sale is kept (voided) for the record."""
    authorize(actor, Cap.RX_SELL)
    why = _reason(reason)
    with transaction.atomic():
        locked = lock_sale(actor, sale, *EDITABLE)
        voided = void_pse_entries(actor, locked, why)
        locked.status = SaleStatus.VOIDED
        locked.voided_by, locked.voided_at, locked.void_reason = actor, timezone.now(), why
        locked.save(update_fields=["status", "voided_by", "voided_at", "void_reason"])
        audit(actor, "pos.sale.cancelled", locked, pse_entries_voided=voided)
    return locked


def sale_void(*, actor: User, sale: Sale, reason: str) -> Sale:
    """Undo a paid sale the same day while its drawer is still open (a pharmacist or the
    PIC): every payment is reversed (a house charge gets a credit), the prescriptions go
    back to will-call as they were, the logbook entries are voided."""
    authorize(actor, Cap.POS_REFUND)
    why = _reason(reason)
    with transaction.atomic():
        locked = lock_sale(actor, sale, SaleStatus.COMPLETED)
        site = locked.site
        assert locked.completed_at is not None
        if locked.completed_at.astimezone(site.tz).date() != site.today():
            raise Conflict("Only a sale of today can be voided; refund it instead.", field="sale")
        lines = list(locked.lines.select_related("fill").order_by("pk"))
        if not lines:
            raise Conflict(
                "A payment on a house account is not voided here; correct the account.",
                field="sale",
            )
        if Refund.objects.filter(sale=locked).exists():
            raise Conflict(
                "Part of this sale was refunded already; refund the rest instead.", field="sale"
            )
        taken = list(locked.tenders.filter(refund__isnull=True).select_related("drawer"))
        if any(t.drawer is not None and t.drawer.status != DrawerStatus.OPEN for t in taken):
            raise Conflict(
                "The drawer this sale was paid into is closed; refund it instead.", field="sale"
            )
        now = timezone.now()
        refund = Refund.objects.create(
            sale=locked,
            is_void=True,
            amount=locked.paid,
            reason=why,
            lines=[
                {"line": ln.pk, "quantity": str(ln.quantity), "amount": str(ln.amount + ln.tax)}
                for ln in lines
            ],
            refunded_by=actor,
            refunded_at=now,
        )
        for t in taken:
            Tender.objects.create(
                sale=locked,
                kind=t.kind,
                amount=-t.amount,
                reference=t.reference,
                account=t.account,
                drawer=t.drawer,
                refund=refund,
                taken_by=actor,
                taken_at=now,
            )
            if t.kind == TenderKind.HOUSE and t.account is not None:
                HouseEntry.objects.create(
                    account=t.account,
                    kind=HouseEntryKind.CREDIT,
                    amount=-t.amount,
                    sale=locked,
                    note=f"Void of sale {locked.receipt_number}",
                    recorded_by=actor,
                )
        for line in lines:
            if line.kind == LineKind.RX and line.fill is not None:
                workflow.fill_unsell(
                    actor=actor, fill=line.fill, reason=why, receipt=locked.receipt_number
                )
        voided = void_pse_entries(actor, locked, why)
        locked.status = SaleStatus.VOIDED
        locked.voided_by, locked.voided_at, locked.void_reason = actor, now, why
        locked.refunded = locked.paid
        locked.save(update_fields=["status", "voided_by", "voided_at", "void_reason", "refunded"])
        audit(
            actor,
            "pos.sale.voided",
            locked,
            amount=str(locked.paid),
            refund=refund.pk,
            pse_entries_voided=voided,
        )
    return locked


def _refund_quantity(value: Any, field: str) -> Decimal:
    try:
        number = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise Invalid("Type how many to refund.", field=field) from None
    if not number.is_finite() or number <= 0 or number != number.quantize(Decimal("0.001")):
        raise Invalid("Type how many to refund (more than 0).", field=field)
    return number


def sale_refund(
    *,
    actor: User,
    sale: Sale,
    lines: list[tuple[int, Any]],
    reason: str,
    tender_kind: str = TenderKind.CASH,
) -> Refund:
    """Give money back for (part of) lines of a paid sale (a pharmacist or the PIC). Each
    line's refund is its price and tax in proportion to the quantity returned. A
    prescription line refunds the money only: the fill stays dispensed, and a prescription
    a patient brings back is never put back in stock (it left the pharmacy's control).
    Cash comes out of an open drawer; card and FSA/HSA go back to the card the sale was
    paid with; a house charge is credited to its account. A pseudoephedrine line refunded
    in full has its logbook entry voided (the product came back)."""
    authorize(actor, Cap.POS_REFUND)
    why = _reason(reason)
    if tender_kind not in REFUND_KINDS:
        raise Invalid(
            "Refund in cash, to the card or FSA/HSA card, or to the house account.",
            field="tender_kind",
        )
    if not lines:
        raise Invalid("Choose the lines to refund.", field="lines")
    wanted: dict[int, Decimal] = {}
    for i, (line_id, quantity) in enumerate(lines):
        if line_id in wanted:
            raise Invalid("Each line once.", field=f"lines.{i}.line")
        wanted[int(line_id)] = _refund_quantity(quantity, f"lines.{i}.quantity")
    with transaction.atomic():
        locked = lock_sale(actor, sale, SaleStatus.COMPLETED)
        rows: list[dict[str, Any]] = []
        total = Decimal("0.00")
        changed: list[SaleLine] = []
        for i, (line_id, quantity) in enumerate(wanted.items()):
            line = _line_of(locked, line_id)
            left = line.quantity - line.refunded_quantity
            if quantity > left:
                raise Conflict(
                    f"{line.description}: {left.normalize():f} left to refund, not "
                    f"{quantity.normalize():f}.",
                    field=f"lines.{i}.quantity",
                )
            owed = line.amount + line.tax - line.refunded_amount
            amount = (
                owed
                if quantity == left
                else min(owed, cents((line.amount + line.tax) * quantity / line.quantity))
            )
            line.refunded_quantity += quantity
            line.refunded_amount += amount
            changed.append(line)
            total += amount
            rows.append({"line": line.pk, "quantity": str(quantity), "amount": str(amount)})
        if total <= 0:
            raise Conflict("Nothing is left to refund on those lines.", field="lines")
        drawer, account, reference = _refund_target(actor, locked, tender_kind, total)
        now = timezone.now()
        refund = Refund.objects.create(
            sale=locked, amount=total, reason=why, lines=rows, refunded_by=actor, refunded_at=now
        )
        for line in changed:
            line.save(update_fields=["refunded_quantity", "refunded_amount"])
        # A pseudoephedrine product brought back whole no longer counts toward the limits.
        returned = [
            ln.pk
            for ln in changed
            if ln.kind == LineKind.PSE and ln.refunded_quantity >= ln.quantity
        ]
        if returned:
            void_pse_entries(actor, locked, f"Returned: {why}", returned)
        Tender.objects.create(
            sale=locked,
            kind=tender_kind,
            amount=-total,
            reference=reference,
            account=account,
            drawer=drawer,
            refund=refund,
            taken_by=actor,
            taken_at=now,
        )
        if account is not None:
            HouseEntry.objects.create(
                account=account,
                kind=HouseEntryKind.CREDIT,
                amount=-total,
                sale=locked,
                note=f"Refund on sale {locked.receipt_number}",
                recorded_by=actor,
            )
        locked.refunded += total
        locked.save(update_fields=["refunded"])
        audit(
            actor,
            "pos.sale.refunded",
            locked,
            refund=refund.pk,
            amount=str(total),
            kind=tender_kind,
            lines=rows,
        )
    return refund


def _refund_target(
    actor: User, sale: Sale, kind: str, total: Decimal
) -> tuple[Drawer | None, HouseAccount | None, str]:
    """Where the refund's money goes: (drawer, house account, card reference)."""
    if kind == TenderKind.CASH:
        return _paying_drawer(actor, sale, True), None, ""
    paid = sale.tenders.filter(kind=kind, refund__isnull=True).order_by("pk")
    first = paid.first()
    if first is None:
        label = TenderKind(kind).label
        raise Conflict(
            f"This sale was not paid by {label.lower()}; refund in cash.", field="tender_kind"
        )
    taken = paid.aggregate(s=Sum("amount"))["s"] or Decimal(0)
    back = -(
        sale.tenders.filter(kind=kind, refund__isnull=False).aggregate(s=Sum("amount"))["s"]
        or Decimal(0)
    )
    if total > taken - back:
        raise Conflict(
            f"Only ${taken - back} was paid by {TenderKind(kind).label.lower()} and not yet "
            "given back; refund the rest in cash.",
            field="tender_kind",
        )
    drawer = _paying_drawer(actor, sale, False)
    return drawer, first.account if kind == TenderKind.HOUSE else None, first.reference
