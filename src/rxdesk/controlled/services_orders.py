"""Schedule II order forms: DEA Form 222 (paper, single sheet) and CSOS electronic orders
(21 CFR 1305; team reference controlled-substances.md §3, §5.2 item 1).

A pharmacist records the form the registrant (or a power-of-attorney holder) signed: its
serial or CSOS order number, the supplier, the date executed and one numbered line per
item. Receiving is not a second step here: when a delivery is posted to stock
(rxdesk.inventory.services.receiving.receipt_post), :func:`receipt_posted` runs inside that
transaction and records, per Schedule II line, the containers received and the date, linked
to the receipt line — or refuses the whole post. The same holds for the other direction: a
Schedule II return shipped to a reverse distributor or a supplier
(rxdesk.inventory.services.removal.vendor_return_ship) is recorded on the form that
registrant issued to the pharmacy (:func:`return_shipped`).

A form is valid 60 days from its execution (rxdesk.controlled.rules.form_222_expires_on):
after that nothing more is received against it; rxdesk.controlled.queries_orders shows an
open or partly filled form past that day as expired."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F

from rxdesk.catalog.choices import DeaSchedule
from rxdesk.catalog.models import Package
from rxdesk.controlled.choices import OrderDirection, OrderForm, OrderStatus
from rxdesk.controlled.models import Form222Line, Form222Order, Form222Receipt
from rxdesk.controlled.rules import FORM_222_VALID_DAYS, form_222_expires_on
from rxdesk.core.audit import audit_record, register_actions
from rxdesk.core.capabilities import Cap
from rxdesk.core.errors import Conflict, Invalid, NotFound
from rxdesk.core.models import Site, User
from rxdesk.core.services import authorize
from rxdesk.inventory.models import (
    PurchaseOrder,
    Receipt,
    ReceiptLine,
    Supplier,
    VendorReturn,
    VendorReturnLine,
)
from rxdesk.inventory.services.common import date_of, package_of
from rxdesk.inventory.services.removal import dea_form_222_of

register_actions(
    {
        "cs.order.recorded": "DEA Form 222 / CSOS order recorded",
        "cs.order.voided": "DEA Form 222 / CSOS order void (unaccepted, defective or lost)",
        "cs.order.received": "Schedule II containers received on a DEA Form 222 / CSOS order",
        "cs.order.shipped": "Schedule II containers shipped on a form another registrant issued",
    }
)

# The single-sheet Form 222 has 20 numbered lines (reference §3.1; one item per line).
PAPER_LINES = 20
# A CSOS order has no printed limit; this only keeps one request to a sane size.
CSOS_LINES = 500
MAX_PACKAGES = 9999
NUMBER_MAX = 40
NAME_MAX = 150
NOTE_MAX = 500
REASON_MAX = 300
MAX_ID = 2**63 - 1
SCHEDULE_III_V = (DeaSchedule.CIII, DeaSchedule.CIV, DeaSchedule.CV)


# --- Helpers -------------------------------------------------------------------------------


def order_number(value: Any) -> str:
    """A form's number as kept and matched: no spaces, upper case ('csos 12' → 'CSOS12')."""
    return "".join(str(value or "").split()).upper()


def _text(value: Any, *, field: str, limit: int) -> str:
    text = " ".join(str(value or "").split())
    if len(text) > limit:
        raise Invalid(f"Keep it to {limit} characters at most.", field=field)
    return text


def _pk(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    try:
        pk = int(str(value).strip())
    except ValueError:
        return None
    return pk if 0 < pk <= MAX_ID else None


def _supplier_at(site: Site, value: Supplier | int | str | None) -> Supplier:
    if value in (None, ""):
        raise Invalid("Choose the supplier named on the form.", field="supplier")
    pk = value.pk if isinstance(value, Supplier) else _pk(value)
    found = Supplier.objects.filter(site=site, pk=pk).first() if pk else None
    if found is None:
        raise Invalid("No such supplier at this pharmacy.", field="supplier")
    if not found.dea_number.strip():
        raise Invalid(
            f"{found.name} has no DEA registration on file: a Schedule II order names the "
            "supplier's registration. Add it to the supplier first.",
            field="supplier",
        )
    return found


def _purchase_order_at(
    site: Site, value: PurchaseOrder | int | str | None, supplier: Supplier
) -> PurchaseOrder | None:
    if value in (None, ""):
        return None
    pk = value.pk if isinstance(value, PurchaseOrder) else _pk(value)
    found = PurchaseOrder.objects.filter(site=site, pk=pk).first() if pk else None
    if found is None:
        raise Invalid("No such purchase order at this pharmacy.", field="purchase_order")
    if found.supplier_id != supplier.pk:
        raise Invalid(
            f"{found.number} is an order to another supplier; a form names one supplier.",
            field="purchase_order",
        )
    return found


def _packages(value: Any, *, field: str) -> int:
    if isinstance(value, bool) or value in (None, ""):
        raise Invalid("Enter the number of containers ordered.", field=field)
    try:
        count = int(str(value).strip())
    except ValueError:
        raise Invalid(f"'{value}' is not a whole number of containers.", field=field) from None
    if count < 1:
        raise Invalid("Order at least one container.", field=field)
    if count > MAX_PACKAGES:
        raise Invalid(f"At most {MAX_PACKAGES} containers on one line.", field=field)
    return count


@dataclass(frozen=True)
class _Line:
    line_no: int
    package: Package
    packages: int


def _parse_lines(form: str, lines: Any) -> list[_Line]:
    if not isinstance(lines, Sequence) or isinstance(lines, str | bytes) or not lines:
        raise Invalid("Add at least one line (NDC and containers).", field="lines")
    limit = PAPER_LINES if form == OrderForm.PAPER_222 else CSOS_LINES
    if len(lines) > limit:
        raise Invalid(
            f"A Form 222 has {PAPER_LINES} numbered lines: put the rest on a second form."
            if form == OrderForm.PAPER_222
            else f"At most {CSOS_LINES} lines on one order.",
            field="lines",
        )
    out: list[_Line] = []
    errors: list[dict[str, str]] = []
    seen: dict[int, int] = {}
    for index, line in enumerate(lines):
        prefix = f"lines.{index}."
        if not isinstance(line, dict):
            errors.append(
                {"field": f"lines.{index}", "message": "Each line is an NDC and a count."}
            )
            continue
        try:
            package = package_of(line.get("ndc"), field=f"{prefix}ndc")
            schedule = package.product.dea_schedule
            if schedule in SCHEDULE_III_V:
                raise Invalid(
                    f"NDC {package.ndc10} is {DeaSchedule(schedule).label}: order Schedule "
                    "III–V on an ordinary purchase order.",
                    field=f"{prefix}ndc",
                )
            if schedule != DeaSchedule.CII:
                raise Invalid(
                    f"NDC {package.ndc10} is not a Schedule II drug: a Form 222 or CSOS "
                    "order is for Schedule II only.",
                    field=f"{prefix}ndc",
                )
            if package.pk in seen:
                raise Invalid(
                    f"NDC {package.ndc10} is already on line {seen[package.pk] + 1}: one item "
                    "per numbered line — add the containers there.",
                    field=f"{prefix}ndc",
                )
            seen[package.pk] = index
            packages = _packages(line.get("packages"), field=f"{prefix}packages")
        except Invalid as exc:
            errors.extend(exc.errors)
            continue
        out.append(_Line(line_no=index + 1, package=package, packages=packages))
    if errors:
        raise Invalid(errors=errors)
    return out


def _order_at(actor: User, order: Form222Order | int) -> Form222Order:
    """The order of the actor's pharmacy (another pharmacy's is not found)."""
    pk = order.pk if isinstance(order, Form222Order) else _pk(order)
    found = (
        Form222Order.objects.select_related("supplier", "site")
        .filter(pk=pk, site_id=actor.site_id)
        .first()
        if pk
        else None
    )
    if found is None:
        raise NotFound("No such order form at this pharmacy.")
    return found


def _line_data(lines: Sequence[_Line]) -> list[dict[str, Any]]:
    return [
        {"line_no": line.line_no, "ndc": line.package.ndc11, "packages": line.packages}
        for line in lines
    ]


# --- Record and void -------------------------------------------------------------------------


def form222_create(
    *,
    actor: User,
    form: str = OrderForm.PAPER_222,
    number: str,
    supplier: Supplier | int | str | None,
    executed_on: dt.date | str | None,
    lines: Sequence[dict[str, Any]],
    purchase_order: PurchaseOrder | int | str | None = None,
    signer_name: str | None = None,
    csos_signed_order: str = "",
    direction: str = OrderDirection.PURCHASE,
    note: str = "",
) -> Form222Order:
    """Record an executed Form 222 or CSOS order (status open).

    ``lines`` in numbered order, each ``{"ndc", "packages"}``: 1 to 20 on a paper form, one
    item per line (the same package twice is refused), every line a Schedule II package.
    The supplier is this pharmacy's and carries a DEA registration. ``executed_on`` is the
    date signed (not in the future). The number is unique per pharmacy and kind of form. A
    CSOS order keeps the signed order text verbatim. ``direction`` supply: another
    registrant (a reverse distributor, a supplier taking a return) issued the form to the
    pharmacy, which ships against it. ``signer_name``: the registrant or power-of-attorney
    holder who signed, when not the person recording it."""
    authorize(actor, Cap.CS_ORDER)
    if form not in OrderForm.values:
        raise Invalid("Choose Form 222 (paper) or CSOS.", field="form")
    if direction not in OrderDirection.values:
        raise Invalid("Choose purchase (we order) or supply (issued to us).", field="direction")
    text_number = order_number(number)
    if not text_number:
        raise Invalid("Enter the form's serial number or the CSOS order number.", field="number")
    if len(text_number) > NUMBER_MAX:
        raise Invalid(f"At most {NUMBER_MAX} characters.", field="number")
    signed = str(csos_signed_order or "")
    if form == OrderForm.CSOS and not signed.strip():
        raise Invalid(
            "Paste the signed electronic order (kept as it is, with its signature).",
            field="csos_signed_order",
        )
    if form == OrderForm.PAPER_222 and signed.strip():
        raise Invalid("Only a CSOS order has a signed electronic order.", field="csos_signed_order")
    signer = _text(signer_name, field="signer_name", limit=NAME_MAX)
    text_note = _text(note, field="note", limit=NOTE_MAX)
    executed = date_of(executed_on, field="executed_on")
    if executed is None:
        raise Invalid("Enter the date the form was signed.", field="executed_on")
    parsed = _parse_lines(form, lines)
    with transaction.atomic():
        site = actor.site
        vendor = _supplier_at(site, supplier)
        if executed > site.today():
            raise Invalid("A form cannot be signed in the future.", field="executed_on")
        po = _purchase_order_at(site, purchase_order, vendor)
        if po is not None and direction != OrderDirection.PURCHASE:
            raise Invalid(
                "A form issued to the pharmacy is not linked to a purchase order.",
                field="purchase_order",
            )
        taken = Conflict(
            f"{OrderForm(form).label} {text_number} is already on file here.", field="number"
        )
        if Form222Order.objects.filter(site=site, form=form, number=text_number).exists():
            raise taken
        try:
            # Two people recording the same form at once: the unique (site, form, number)
            # refuses the second inside its own savepoint, and it gets the same message.
            with transaction.atomic():
                order = Form222Order.objects.create(
                    site=site,
                    form=form,
                    direction=direction,
                    number=text_number,
                    supplier=vendor,
                    purchase_order=po,
                    executed_on=executed,
                    signer=None if signer else actor,
                    signer_name=signer or actor.display_name,
                    csos_signed_order=signed,
                    status=OrderStatus.OPEN,
                    note=text_note,
                    created_by=actor,
                )
        except IntegrityError:
            raise taken from None
        Form222Line.objects.bulk_create(
            [
                Form222Line(
                    order=order,
                    line_no=line.line_no,
                    package=line.package,
                    packages_ordered=line.packages,
                )
                for line in parsed
            ]
        )
        audit_record(
            actor=actor,
            site=site,
            action="cs.order.recorded",
            obj=order,
            data={
                "form": form,
                "direction": direction,
                "number": text_number,
                "supplier": vendor.pk,
                "supplier_dea": vendor.dea_number,
                "executed_on": executed.isoformat(),
                "expires_on": form_222_expires_on(executed).isoformat(),
                "purchase_order": po.pk if po else None,
                "signer_name": order.signer_name,
                "lines": _line_data(parsed),
            },
        )
    return order


def form222_void(*, actor: User, order: Form222Order | int, reason: str) -> Form222Order:
    """Mark a form void — returned unaccepted or defective by the supplier, or lost — and
    keep the statement why. A form on which containers were received is not voided: what
    remains lapses 60 days after it was signed."""
    authorize(actor, Cap.CS_ORDER)
    why = _text(reason, field="reason", limit=REASON_MAX)
    if not why:
        raise Invalid(
            "Say why: the supplier's statement (unaccepted, defective) or that it was lost.",
            field="reason",
        )
    with transaction.atomic():
        fresh = _order_at(actor, order)
        if fresh.status == OrderStatus.VOID:
            raise Conflict(f"{fresh} is already void.", field="status")
        if Form222Receipt.objects.filter(line__order=fresh).exists():
            raise Conflict(
                f"Containers were received on {fresh}: it is kept as filled; what remains "
                f"lapses {FORM_222_VALID_DAYS} days after it was signed.",
                field="status",
            )
        # Conditional: a delivery posted at this moment either lands first (and the void is
        # refused above on the next try) or finds the form void.
        changed = Form222Order.objects.filter(pk=fresh.pk, status=OrderStatus.OPEN).update(
            status=OrderStatus.VOID, void_reason=why
        )
        if changed != 1:
            raise Conflict(f"{fresh} changed meanwhile; open it again.", field="status")
        before = fresh.status
        fresh.refresh_from_db()
        audit_record(
            actor=actor,
            site=fresh.site,
            action="cs.order.voided",
            obj=fresh,
            data={"number": fresh.number, "form": fresh.form, "status": [before, fresh.status]},
            reason=why,
        )
    return fresh


# --- Receipts and shipments (run inside the inventory's posting transaction) -----------------


@dataclass
class _Take:
    """One Schedule II line of a receipt or return, matched to its order line."""

    index: int
    order_line: Form222Line
    packages: int
    receipt_line: ReceiptLine | None = None
    return_line: VendorReturnLine | None = None


def _match(
    *,
    site: Site,
    number: str,
    direction: str,
    package: Package,
    supplier: Supplier,
    today: dt.date,
    field: str,
) -> Form222Line:
    """The order line the containers count against, or Invalid naming ``field``."""
    if not number:
        raise Invalid(
            f"Schedule II: enter the DEA Form 222 or CSOS order number for NDC {package.ndc10}.",
            field=field,
        )
    found = list(
        Form222Order.objects.select_related("supplier")
        .filter(site=site, number=number, direction=direction)
        .order_by("id")
    )
    issued = "issued to the pharmacy" if direction == OrderDirection.SUPPLY else "recorded"
    if not found:
        raise Invalid(
            f"No DEA Form 222 or CSOS order {number} is {issued} here: record the form "
            "(Controlled substances → Order forms) before this one.",
            field=field,
        )
    live = [order for order in found if order.status != OrderStatus.VOID]
    if not live:
        raise Invalid(f"Order form {number} is void: it cannot be filled.", field=field)
    mine = [order for order in live if order.supplier_id == supplier.pk]
    if not mine:
        raise Invalid(
            f"Order form {number} names {live[0].supplier.name}, not {supplier.name}: one "
            "supplier per form.",
            field=field,
        )
    lines = {
        line.order_id: line for line in Form222Line.objects.filter(order__in=mine, package=package)
    }
    order = next((o for o in mine if o.pk in lines), None)
    if order is None:
        raise Invalid(f"NDC {package.ndc10} is not on order form {number}.", field=field)
    expires = form_222_expires_on(order.executed_on)
    if today > expires:
        raise Invalid(
            f"Order form {number} was signed {order.executed_on:%m/%d/%Y} and expired "
            f"{expires:%m/%d/%Y} ({FORM_222_VALID_DAYS} days): the rest needs a new form.",
            field=field,
        )
    return lines[order.pk]


def _lock_orders(order_ids: set[int]) -> None:
    """Serialise deliveries against the same forms, in one order (no deadlock): the order's
    status is decided from all its lines, which a concurrent delivery may be changing. FOR
    NO KEY UPDATE does not block the receipt rows that reference the lines."""
    list(
        Form222Order.objects.select_for_update(no_key=True)
        .filter(pk__in=sorted(order_ids))
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def _count(take: _Take, today: dt.date, *, field: str, verb: str) -> None:
    """Raise the line's count by a conditional update that can never pass what was
    ordered: of two deliveries racing for the last containers only one fits."""
    line = take.order_line
    fits = Form222Line.objects.filter(
        pk=line.pk, packages_received__lte=F("packages_ordered") - take.packages
    ).update(packages_received=F("packages_received") + take.packages, last_received_on=today)
    if fits != 1:
        line.refresh_from_db(fields=["packages_received"])
        left = line.packages_ordered - line.packages_received
        raise Invalid(
            f"Line {line.line_no} of order form {line.order.number} has {left} of "
            f"{line.packages_ordered} container{'s' if line.packages_ordered != 1 else ''} "
            f"left; {take.packages} {verb}.",
            field=field,
        )


def _settle(order_id: int) -> tuple[Form222Order, str]:
    """Partial or complete, from what its lines now count."""
    order = Form222Order.objects.select_related("site").get(pk=order_id)
    before = order.status
    counts = list(
        Form222Line.objects.filter(order_id=order_id).values_list(
            "packages_ordered", "packages_received"
        )
    )
    status = (
        OrderStatus.COMPLETE
        if all(got >= wanted for wanted, got in counts)
        else OrderStatus.PARTIAL
        if any(got for _wanted, got in counts)
        else OrderStatus.OPEN
    )
    Form222Order.objects.filter(
        pk=order_id, status__in=[OrderStatus.OPEN, OrderStatus.PARTIAL]
    ).update(status=status)
    order.refresh_from_db(fields=["status"])
    return order, before


def _record(
    takes: list[_Take],
    *,
    site: Site,
    actor: User | None,
    today: dt.date,
    action: str,
    field: str,
    verb: str,
    source: dict[str, Any],
    vendor_return: VendorReturn | None = None,
) -> None:
    _lock_orders({take.order_line.order_id for take in takes})
    for take in takes:
        _count(take, today, field=f"lines.{take.index}.{field}", verb=verb)
        Form222Receipt.objects.create(
            line=take.order_line,
            packages=take.packages,
            received_on=today,
            receipt_line=take.receipt_line,
            vendor_return_line=take.return_line,
            recorded_by=actor,
        )
    for order_id in sorted({take.order_line.order_id for take in takes}):
        order, before = _settle(order_id)
        if vendor_return is not None:
            # The form is linked to the first return shipped against it.
            Form222Order.objects.filter(pk=order_id, vendor_return__isnull=True).update(
                vendor_return=vendor_return
            )
        audit_record(
            actor=actor,
            site=site,
            action=action,
            obj=order,
            data={
                **source,
                "number": order.number,
                "form": order.form,
                "on": today.isoformat(),
                "lines": [
                    {"line_no": t.order_line.line_no, "packages": t.packages}
                    for t in takes
                    if t.order_line.order_id == order_id
                ],
                "status": [before, order.status],
            },
        )


def _is_schedule_ii(package: Package) -> bool:
    return package.product.dea_schedule == DeaSchedule.CII


def receipt_posted(receipt: Receipt, lines: list[ReceiptLine], actor: User | None) -> None:
    """The receipt seam (rxdesk.inventory.seams): each posted Schedule II line is recorded on
    its order form — the good containers that enter stock, received today at the pharmacy —
    or the whole post is refused, naming ``lines.N.dea_order_number`` (no such form on
    file, void, another supplier's, expired, the package not on it) or
    ``lines.N.packages_received`` (more than the line has left)."""
    wanted = [line for line in lines if _is_schedule_ii(line.package)]
    if not wanted:
        return
    site = receipt.site
    today = site.today()
    # The receipt post names a line by its place among all the receipt's lines.
    position = {
        pk: index
        for index, pk in enumerate(
            ReceiptLine.objects.filter(receipt=receipt).order_by("id").values_list("pk", flat=True)
        )
    }
    takes: list[_Take] = []
    errors: list[dict[str, str]] = []
    for line in wanted:
        index = position[line.pk]
        good = line.packages_received - line.packages_damaged
        if good <= 0:
            continue
        try:
            order_line = _match(
                site=site,
                number=order_number(line.dea_order_number),
                direction=OrderDirection.PURCHASE,
                package=line.package,
                supplier=receipt.supplier,
                today=today,
                field=f"lines.{index}.dea_order_number",
            )
        except Invalid as exc:
            errors.extend(exc.errors)
            continue
        takes.append(_Take(index=index, order_line=order_line, packages=good, receipt_line=line))
    if errors:
        raise Invalid(errors=errors)
    _record(
        takes,
        site=site,
        actor=actor,
        today=today,
        action="cs.order.received",
        field="packages_received",
        verb="arrived",
        source={"receipt": receipt.pk, "invoice_number": receipt.invoice_number},
    )


def containers_of(quantity: Decimal, package: Package) -> int:
    """Containers a return line ships: whole ones, and an opened one counts as one."""
    return max(1, math.ceil(quantity / package.package_quantity))


def return_shipped(
    vendor_return: VendorReturn, lines: list[VendorReturnLine], actor: User | None
) -> None:
    """The return seam: a Schedule II line shipped to a reverse distributor or a supplier
    is recorded, in containers (an opened one counts as one), on the form that registrant
    issued to the pharmacy (direction supply, the return's supplier) — or the shipment is
    refused, naming ``lines.N.dea_form_222`` or ``lines.N.quantity``."""
    site = vendor_return.site
    today = site.today()
    takes: list[_Take] = []
    errors: list[dict[str, str]] = []
    for index, line in enumerate(lines):
        package = Package.objects.select_related("product").get(pk=line.package_id)
        if not _is_schedule_ii(package):
            continue
        try:
            order_line = _match(
                site=site,
                number=order_number(dea_form_222_of(line)),
                direction=OrderDirection.SUPPLY,
                package=package,
                supplier=vendor_return.supplier,
                today=today,
                field=f"lines.{index}.dea_form_222",
            )
        except Invalid as exc:
            errors.extend(exc.errors)
            continue
        takes.append(
            _Take(
                index=index,
                order_line=order_line,
                packages=containers_of(line.quantity, package),
                return_line=line,
            )
        )
    if errors:
        raise Invalid(errors=errors)
    if takes:
        _record(
            takes,
            site=site,
            actor=actor,
            today=today,
            action="cs.order.shipped",
            field="quantity",
            verb="would ship",
            source={"vendor_return": vendor_return.pk},
            vendor_return=vendor_return,
        )
