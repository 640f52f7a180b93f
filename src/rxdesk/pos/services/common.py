"""What the point-of-sale services share: the site's counter rules, money, signatures,
sale lines and totals, and the audit helper.

Every service here is a plain function in one ``transaction.atomic()``: capability first,
then the sale's row locked, then the rule checks, then the writes, the audit event last."""

from __future__ import annotations

import base64
import binascii
import hashlib
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from django.db.models import Sum

from rxdesk.core.audit import audit_record
from rxdesk.core.errors import Conflict, Invalid, NotFound
from rxdesk.core.models import Site, User
from rxdesk.pos.choices import LineKind, SaleStatus
from rxdesk.pos.models import MAX_SIGNATURE_BYTES, PosSettings, Sale, SaleLine

CENT = Decimal("0.01")
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
MAX_MONEY = Decimal("99999.99")
# A sale takes lines and payments only while it is open (or waiting for counseling).
EDITABLE = (SaleStatus.OPEN, SaleStatus.AWAITING_COUNSEL)


def own(actor: User | None, what: str, site_id: int) -> None:
    """Rows of another site do not exist for this actor (no cross-site probing)."""
    if actor is not None and actor.site_id != site_id:
        raise NotFound(f"No such {what} at this pharmacy.")


def settings_of(site: Site) -> PosSettings:
    """The site's counter rules; the federal defaults when none were saved."""
    found = PosSettings.objects.filter(site=site).first()
    return found or PosSettings(site=site)


def cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def parse_money(value: Any, field: str, *, allow_zero: bool = True) -> Decimal:
    """A dollar amount typed or sent: two decimals at most, not negative, below $100,000."""
    try:
        amount = Decimal(str(value).strip().lstrip("$").replace(",", ""))
    except (InvalidOperation, ValueError):
        raise Invalid("Type an amount in dollars and cents, like 12.50.", field=field) from None
    if not amount.is_finite():
        raise Invalid("Type an amount in dollars and cents, like 12.50.", field=field)
    if amount > MAX_MONEY:
        raise Invalid("That amount is too large for one entry.", field=field)
    if amount != amount.quantize(CENT):
        raise Invalid("Use dollars and cents (two decimals at most).", field=field)
    if amount < 0:
        raise Invalid("The amount cannot be negative.", field=field)
    if amount == 0 and not allow_zero:
        raise Invalid("The amount must be more than zero.", field=field)
    return cents(amount)


def signature_png(value: bytes | str | None, field: str = "signature") -> tuple[bytes, str]:
    """The drawn signature as PNG bytes and their SHA-256. Accepts raw PNG bytes, base64,
    or the ``data:image/png;base64,…`` URL a canvas gives. Anything else is refused."""
    if not value:
        raise Invalid("The signature is missing: have the person sign on the pad.", field=field)
    raw: bytes
    if isinstance(value, bytes):
        raw = value
    else:
        text = value.strip()
        if text.startswith("data:"):
            head, _, text = text.partition(",")
            if head.replace(" ", "").lower() != "data:image/png;base64":
                raise Invalid("The signature must be a PNG image.", field=field)
        try:
            raw = base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            raise Invalid("The signature could not be read (not base64).", field=field) from None
    if not raw.startswith(PNG_MAGIC):
        raise Invalid("The signature must be a PNG image.", field=field)
    if len(raw) > MAX_SIGNATURE_BYTES:
        raise Invalid("The signature image is too large.", field=field)
    if len(raw) < 100:
        raise Invalid("The signature is blank: have the person sign on the pad.", field=field)
    return raw, hashlib.sha256(raw).hexdigest()


def lock_sale(actor: User | None, sale: Sale, *allowed: str) -> Sale:
    """Lock the sale's row (the order every POS service takes locks in: sale, then fills,
    then stock), refusing unless it is in ``allowed``."""
    if actor is not None:
        own(actor, "sale", sale.site_id)
    locked = Sale.objects.select_for_update(of=("self",)).select_related("site").get(pk=sale.pk)
    if allowed and locked.status not in allowed:
        raise Conflict(
            f"Sale {locked.receipt_number} is {locked.get_status_display().lower()}; "
            "this does not apply now.",
            field="sale",
            sale_status=locked.status,
        )
    return locked


def line_tax(site: Site, amount: Decimal, taxable: bool) -> Decimal:
    if not taxable:
        return Decimal("0.00")
    return cents(amount * settings_of(site).tax_percent / 100)


def add_line(
    sale: Sale,
    *,
    kind: str,
    description: str,
    quantity: Decimal,
    unit_price: Decimal,
    fill: Any = None,
    package: Any = None,
    taxable: bool = False,
    fsa_eligible: bool = False,
    pse_base_mg: Decimal | None = None,
) -> SaleLine:
    """Put a line on a locked, editable sale and bring its totals up to date. Prescriptions
    are never taxed and are always FSA/HSA eligible."""
    if kind == LineKind.RX:
        taxable, fsa_eligible = False, True
    amount = cents(quantity * unit_price) if kind != LineKind.RX else cents(unit_price)
    line = SaleLine.objects.create(
        sale=sale,
        kind=kind,
        fill=fill,
        package=package,
        description=description[:200],
        quantity=quantity,
        unit_price=unit_price,
        amount=amount,
        tax=line_tax(sale.site, amount, taxable),
        taxable=taxable,
        fsa_eligible=fsa_eligible,
        pse_base_mg=pse_base_mg,
    )
    recompute(sale)
    return line


def recompute(sale: Sale) -> Sale:
    """Totals from the lines (subtotal, tax, total), saved on the locked sale."""
    sums = SaleLine.objects.filter(sale=sale).aggregate(s=Sum("amount"), t=Sum("tax"))
    sale.subtotal = cents(sums["s"] or Decimal(0))
    sale.tax = cents(sums["t"] or Decimal(0))
    sale.total = sale.subtotal + sale.tax
    sale.save(update_fields=["subtotal", "tax", "total"])
    return sale


def audit(actor: User | None, action: str, sale: Sale, **data: Any) -> None:
    """One audit event about a sale. No clinical free text and no ID numbers go in it."""
    audit_record(
        actor=actor,
        site=sale.site,
        action=action,
        obj=sale,
        patient_id=sale.patient_id,
        data={"receipt": sale.receipt_number, **data},
    )
