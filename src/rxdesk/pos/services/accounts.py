"""House charge accounts: open one, take a payment on it, and its monthly statement.

The balance is the sum of the account's entries (charges positive, payments and credits
negative). A payment taken at the register is recorded as a payment-on-account sale — a
sale with no lines, one tender and the account's payment entry — so the cash or check
lands in that register's drawer count and the customer gets a receipt, like any sale."""

from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.utils import timezone

from rxdesk.core.audit import audit_record, register_actions
from rxdesk.core.capabilities import Cap
from rxdesk.core.errors import Conflict, Invalid
from rxdesk.core.models import Site, User
from rxdesk.core.services import authorize
from rxdesk.patients.models import Patient
from rxdesk.pos.choices import DrawerStatus, HouseEntryKind, SaleStatus, TenderKind
from rxdesk.pos.models import Drawer, HouseAccount, HouseEntry, Sale, Tender
from rxdesk.pos.services.common import cents, own, parse_money
from rxdesk.pos.services.drawers import drawer_for
from rxdesk.pos.services.sales import clean_reference

register_actions(
    {
        "pos.house_account.created": "House charge account opened",
        "pos.house_account.payment": "Payment taken on a house charge account",
    }
)

PAYMENT_KINDS = (TenderKind.CASH, TenderKind.CHECK, TenderKind.CARD)
ACCOUNT_NUMBER = re.compile(r"^[A-Za-z0-9-]{1,20}$")
POSTAL_CODE = re.compile(r"^\d{5}(-?\d{4})?$")


def _text(value: Any, field: str, limit: int, *, required: bool = False, what: str = "") -> str:
    text = " ".join(str(value or "").split())
    if required and not text:
        raise Invalid(f"Type the {what or field.replace('_', ' ')}.", field=field)
    if len(text) > limit:
        raise Invalid(f"At most {limit} characters.", field=field)
    return text


def house_account_create(
    *,
    actor: User,
    number: str,
    name: str,
    patient: Patient | None = None,
    credit_limit: Any = "500.00",
    address_line1: str = "",
    address_line2: str = "",
    city: str = "",
    state: str = "",
    postal_code: str = "",
) -> HouseAccount:
    """Open a house charge account (a family, a group home, a business) with its credit
    limit and billing address (a pharmacist or the PIC)."""
    authorize(actor, Cap.POS_ACCOUNTS)
    number = _text(number, "number", 20, required=True, what="account number").upper()
    if not ACCOUNT_NUMBER.match(number):
        raise Invalid("Use letters, digits and hyphens only.", field="number")
    values: dict[str, Any] = {
        "name": _text(name, "name", 120, required=True, what="account name"),
        "address_line1": _text(address_line1, "address_line1", 120),
        "address_line2": _text(address_line2, "address_line2", 120),
        "city": _text(city, "city", 80),
        "state": _text(state, "state", 2).upper(),
        "postal_code": _text(postal_code, "postal_code", 10),
        "credit_limit": parse_money(credit_limit, "credit_limit"),
    }
    if values["state"] and not re.match(r"^[A-Z]{2}$", values["state"]):
        raise Invalid("Use the state's two letters, like IL.", field="state")
    if values["postal_code"] and not POSTAL_CODE.match(values["postal_code"]):
        raise Invalid("Type a ZIP code: 5 digits, or ZIP+4.", field="postal_code")
    if patient is not None:
        own(actor, "patient", patient.site_id)
    assert actor.site is not None
    with transaction.atomic():
        if HouseAccount.objects.filter(site=actor.site, number=number).exists():
            raise Conflict(f"Account {number} already exists.", field="number")
        try:
            with transaction.atomic():
                account = HouseAccount.objects.create(
                    site=actor.site, number=number, patient=patient, **values
                )
        except IntegrityError:
            raise Conflict(f"Account {number} already exists.", field="number") from None
        audit_record(
            actor=actor,
            site=actor.site,
            action="pos.house_account.created",
            obj=account,
            patient_id=patient.pk if patient else None,
            data={"number": number, "credit_limit": str(values["credit_limit"])},
        )
    return account


def house_account_balance(account: HouseAccount) -> Decimal:
    """What the account owes now (negative: a credit in the customer's favor)."""
    total = HouseEntry.objects.filter(account=account).aggregate(s=Sum("amount"))["s"]
    return cents(total or Decimal(0))


def house_payment(
    *,
    actor: User,
    account: HouseAccount,
    amount: Any,
    kind: str = TenderKind.CASH,
    reference: str = "",
    drawer: Drawer | None = None,
) -> HouseEntry:
    """Take a payment on a house account at the register: cash or a check goes into the
    open drawer, a card needs its last four and approval code. No more than is owed."""
    authorize(actor, Cap.RX_SELL)
    paid = parse_money(amount, "amount", allow_zero=False)
    if kind not in PAYMENT_KINDS:
        raise Invalid("Take the payment in cash, by check or by card.", field="kind")
    ref = clean_reference(reference, "reference", required=kind == TenderKind.CARD)
    own(actor, "house account", account.site_id)
    with transaction.atomic():
        locked = HouseAccount.objects.select_for_update(of=("self",)).get(pk=account.pk)
        if drawer is not None:
            own(actor, "drawer", drawer.site_id)
            drawer = Drawer.objects.filter(pk=drawer.pk, status=DrawerStatus.OPEN).first()
            if drawer is None:
                raise Conflict("That drawer is closed; open a drawer first.", field="drawer")
        else:
            drawer = drawer_for(actor=actor)
        if drawer is None and kind != TenderKind.CARD:
            raise Conflict(
                "Open the cash drawer first: cash and checks go into it.", field="drawer"
            )
        owed = house_account_balance(locked)
        if paid > owed:
            raise Conflict(
                f"Account {locked.number} owes ${max(owed, Decimal('0.00'))}; take no more.",
                field="amount",
            )
        now = timezone.now()
        sale = Sale.objects.create(
            site=locked.site,
            drawer=drawer,
            patient=locked.patient,
            status=SaleStatus.COMPLETED,
            started_by=actor,
            started_at=now,
            completed_by=actor,
            completed_at=now,
            paid=paid,
        )
        Tender.objects.create(
            sale=sale,
            kind=kind,
            amount=paid,
            reference=ref,
            account=locked,
            drawer=drawer,
            taken_by=actor,
            taken_at=now,
        )
        entry = HouseEntry.objects.create(
            account=locked,
            kind=HouseEntryKind.PAYMENT,
            amount=-paid,
            sale=sale,
            note=f"{TenderKind(kind).label} {ref}".strip()[:200],
            recorded_by=actor,
            recorded_at=now,
        )
        audit_record(
            actor=actor,
            site=locked.site,
            action="pos.house_account.payment",
            obj=locked,
            patient_id=locked.patient_id,
            data={"receipt": sale.receipt_number, "amount": str(paid), "kind": kind},
        )
    return entry


def is_payment_on_account(sale: Sale) -> bool:
    """A payment-on-account sale: no lines, a payment entry on a house account."""
    return sale.status == SaleStatus.COMPLETED and not sale.lines.exists()


# --- Statements --------------------------------------------------------------------------------


@dataclass
class Statement:
    account: HouseAccount
    site: Site
    year: int
    month: int
    start: dt.date
    end: dt.date
    opening: Decimal
    entries: list[HouseEntry]
    closing: Decimal

    @property
    def amount_due(self) -> Decimal:
        return max(self.closing, Decimal("0.00"))

    @property
    def charges(self) -> Decimal:
        return sum((e.amount for e in self.entries if e.amount > 0), Decimal("0.00"))

    @property
    def credits(self) -> Decimal:
        return sum((-e.amount for e in self.entries if e.amount < 0), Decimal("0.00"))


def _month(year: Any, month: Any) -> tuple[int, int]:
    try:
        y, m = int(year), int(month)
    except (TypeError, ValueError):
        raise Invalid("Choose the month and year.", field="month") from None
    if not 1 <= m <= 12:
        raise Invalid("The month is 1 to 12.", field="month")
    if not 2000 <= y <= 2200:
        raise Invalid("Type a year like 2025.", field="year")
    return y, m


def house_statement(account: HouseAccount, year: Any, month: Any) -> Statement:
    """The account's month in the pharmacy's time zone: the balance brought forward, every
    charge, payment and credit of the month, and the balance at its end."""
    y, m = _month(year, month)
    site = account.site
    tz = site.tz
    first = dt.date(y, m, 1)
    last = dt.date(y, m, calendar.monthrange(y, m)[1])
    start = dt.datetime.combine(first, dt.time.min, tzinfo=tz)
    stop = dt.datetime.combine(last + dt.timedelta(days=1), dt.time.min, tzinfo=tz)
    before = HouseEntry.objects.filter(account=account, recorded_at__lt=start)
    opening = cents(before.aggregate(s=Sum("amount"))["s"] or Decimal(0))
    entries = list(
        HouseEntry.objects.filter(account=account, recorded_at__gte=start, recorded_at__lt=stop)
        .select_related("sale")
        .order_by("recorded_at", "pk")
    )
    closing = opening + sum((e.amount for e in entries), Decimal("0.00"))
    return Statement(account, site, y, m, first, last, opening, entries, cents(closing))


def house_statement_pdf(account: HouseAccount, year: Any, month: Any) -> bytes:
    """The monthly statement as a letter-size PDF: opening balance, the month's entries,
    closing balance and the amount due. (The caller checks who may see it.)"""
    from rxdesk.pos.receipts import statement_pdf

    return statement_pdf(house_statement(account, year, month))
