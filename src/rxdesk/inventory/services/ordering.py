"""Inventory services: ordering — suppliers, par levels (min/max), purchase orders from
draft to closed.

Each service: one transaction, a capability check first, the rules, the writes, and one
audit event last. Purchase orders count whole packages; par levels are in the package's
billing unit (EA / ML / GM), like the ledger. Receipts against an order (and the order's
move to partially received / received) are in rxdesk.inventory.services.receiving."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models.functions import Length
from django.utils import timezone

from rxdesk.catalog.models import Package
from rxdesk.core.audit import audit_record, register_actions
from rxdesk.core.capabilities import Cap
from rxdesk.core.errors import Conflict, Invalid, NotFound
from rxdesk.core.identifiers import dea_normalize, dea_problem
from rxdesk.core.models import Site, User
from rxdesk.core.services import authorize, full_clean
from rxdesk.core.validators import normalize_phone
from rxdesk.inventory.choices import AbcClass, PurchaseOrderStatus, ReceiptStatus
from rxdesk.inventory.ledger import MAX_QUANTITY, QUANTUM
from rxdesk.inventory.models import (
    ParLevel,
    PurchaseOrder,
    PurchaseOrderLine,
    Receipt,
    Supplier,
)
from rxdesk.inventory.services.common import location_of, package_of, site_of
from rxdesk.inventory.services.stock import schedule_ii_check

register_actions(
    {
        "inventory.supplier.created": "Supplier added",
        "inventory.supplier.updated": "Supplier changed",
        "inventory.par_level.set": "Par level set",
        "inventory.purchase_order.created": "Purchase order drafted",
        "inventory.purchase_order.line_added": "Purchase order line added",
        "inventory.purchase_order.line_changed": "Purchase order line changed",
        "inventory.purchase_order.line_removed": "Purchase order line removed",
        "inventory.purchase_order.sent": "Purchase order sent",
        "inventory.purchase_order.closed": "Purchase order closed",
        "inventory.purchase_order.cancelled": "Purchase order cancelled",
    }
)

MAX_PACKAGES = 100_000
MAX_COST = Decimal("9999999999.99")  # DecimalField(12, 2)
PO_PREFIX = "PO-"
PO_DIGITS = 6
# Orders whose lines are still expected from the supplier.
OPEN_ORDER = (
    PurchaseOrderStatus.DRAFT,
    PurchaseOrderStatus.SENT,
    PurchaseOrderStatus.PARTIAL,
)
RECEIVABLE_ORDER = (PurchaseOrderStatus.SENT, PurchaseOrderStatus.PARTIAL)


# --- Parsing helpers shared with receiving -------------------------------------------------


def packages_of(value: Any, *, field: str, allow_zero: bool = False) -> int:
    """A whole number of packages (more than zero unless ``allow_zero``)."""
    if isinstance(value, bool):
        raise Invalid("Enter a number of packages.", field=field)
    text = str(value).strip() if value is not None else ""
    if not text:
        raise Invalid("Enter a number of packages.", field=field)
    try:
        number = Decimal(text)
    except (InvalidOperation, ValueError):
        raise Invalid(f"'{text}' is not a number of packages.", field=field) from None
    if not number.is_finite() or number != number.to_integral_value():
        raise Invalid("Count whole packages.", field=field)
    if number < 0 or (number == 0 and not allow_zero):
        raise Invalid(
            "Enter zero or more packages." if allow_zero else "Enter at least 1 package.",
            field=field,
        )
    if number > MAX_PACKAGES:
        raise Invalid(f"At most {MAX_PACKAGES} packages on one line.", field=field)
    return int(number)


def money_of(value: Any, *, field: str) -> Decimal | None:
    """An amount in dollars and cents, not negative; blank is None."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, float | bool):
        value = str(value)
    try:
        amount = Decimal(str(value).strip().replace("$", "").replace(",", ""))
    except (InvalidOperation, ValueError):
        raise Invalid(f"'{value}' is not an amount of money.", field=field) from None
    if not amount.is_finite():
        raise Invalid("Enter an amount.", field=field)
    if amount < 0:
        raise Invalid("An amount cannot be negative.", field=field)
    if amount > MAX_COST:
        raise Invalid("The amount is too large.", field=field)
    if amount != amount.quantize(Decimal("0.01")):
        raise Invalid("Use at most two decimal places (cents).", field=field)
    return amount.quantize(Decimal("0.01"))


def level_of(value: Any, *, field: str) -> Decimal:
    """A stock level in billing units: zero or more, at most three decimals."""
    if isinstance(value, float):
        value = str(value)
    try:
        level = Decimal(str(value).strip()) if value is not None else None
    except (InvalidOperation, ValueError):
        level = None
    if level is None or not level.is_finite():
        raise Invalid("Enter a quantity in billing units.", field=field)
    if level < 0:
        raise Invalid("A level cannot be negative.", field=field)
    if level > MAX_QUANTITY:
        raise Invalid("The quantity is too large.", field=field)
    if level != level.quantize(QUANTUM):
        raise Invalid("Use at most three decimal places.", field=field)
    return level.quantize(QUANTUM)


def supplier_at(site: Site, value: Supplier | int | str | None, *, field: str) -> Supplier:
    """A supplier of ``site``, given as one or by id."""
    if isinstance(value, Supplier):
        if value.site_id != site.pk:
            raise Invalid("That supplier belongs to another pharmacy.", field=field)
        return value
    if value is None or str(value).strip() == "":
        raise Invalid("Choose a supplier.", field=field)
    try:
        pk = int(str(value))
    except ValueError:
        raise Invalid("Choose a supplier from the list.", field=field) from None
    found = Supplier.objects.filter(site=site, pk=pk).first() if 0 < pk < 2**63 else None
    if found is None:
        raise Invalid("No such supplier here.", field=field)
    return found


def home_site(actor: User | None, site: Site | None) -> Site:
    """The site a service on an existing row acts at: the actor's own (a row of another
    site is then simply not found there), or the row's site for the operator at the shell."""
    return site_of(actor, None if actor is not None else site)


def _text(value: Any, *, field: str, max_length: int) -> str:
    text = str(value or "").strip()
    if len(text) > max_length:
        raise Invalid(f"At most {max_length} characters.", field=field)
    return text


# --- Suppliers -----------------------------------------------------------------------------

SUPPLIER_FIELDS = [
    "name",
    "account_number",
    "dea_number",
    "reverse_distributor",
    "phone",
    "email",
    "active",
]


def _supplier_apply(supplier: Supplier, values: Mapping[str, Any]) -> None:
    unknown = sorted(set(values) - set(SUPPLIER_FIELDS))
    if unknown:
        raise Invalid(
            errors=[{"field": f, "message": "This field cannot be set here."} for f in unknown]
        )
    for key, value in values.items():
        if key in ("reverse_distributor", "active"):
            setattr(supplier, key, bool(value))
            continue
        text = str(value or "").strip()
        if key == "name" and not text:
            raise Invalid("Enter the supplier's name.", field="name")
        if key == "dea_number" and text:
            text = dea_normalize(text)
            problem = dea_problem(text)
            if problem:
                raise Invalid(problem, field="dea_number")
        if key == "phone" and text:
            text = normalize_phone(text)
            if len(text) != 10:
                raise Invalid("A phone number has 10 digits with the area code.", field="phone")
        setattr(supplier, key, text)


def _supplier_save(supplier: Supplier) -> None:
    taken = Supplier.objects.filter(site_id=supplier.site_id, name__iexact=supplier.name)
    if supplier.pk is not None:
        taken = taken.exclude(pk=supplier.pk)
    if taken.exists():
        raise Invalid(f"There is already a supplier named {supplier.name}.", field="name")
    full_clean(supplier, exclude=["site"])
    try:
        with transaction.atomic():
            supplier.save()
    except IntegrityError:
        raise Invalid(f"There is already a supplier named {supplier.name}.", field="name") from None


def supplier_create(
    *, actor: User | None, site: Site | None = None, name: str, **values: Any
) -> Supplier:
    """Add a wholesaler, manufacturer or reverse distributor. A DEA registration, when
    given, must pass its checksum (Schedule II orders name the supplier's registration)."""
    authorize(actor, Cap.INVENTORY_SETUP)
    with transaction.atomic():
        where = site_of(actor, site)
        supplier = Supplier(site=where)
        _supplier_apply(supplier, {"name": name, **values})
        _supplier_save(supplier)
        audit_record(
            actor=actor,
            site=where,
            action="inventory.supplier.created",
            obj=supplier,
            data={f: getattr(supplier, f) for f in SUPPLIER_FIELDS},
        )
    return supplier


def supplier_update(*, actor: User | None, supplier: Supplier, **values: Any) -> Supplier:
    """Change a supplier's record (name, account, DEA registration, contact, active)."""
    authorize(actor, Cap.INVENTORY_SETUP)
    with transaction.atomic():
        where = home_site(actor, supplier.site)
        fresh = Supplier.objects.filter(pk=supplier.pk, site=where).first()
        if fresh is None:
            raise NotFound("No such supplier here.")
        before = {f: getattr(fresh, f) for f in SUPPLIER_FIELDS}
        _supplier_apply(fresh, values)
        _supplier_save(fresh)
        after = {f: getattr(fresh, f) for f in SUPPLIER_FIELDS}
        audit_record(
            actor=actor,
            site=where,
            action="inventory.supplier.updated",
            obj=fresh,
            data={"changes": {k: [before[k], after[k]] for k in after if before[k] != after[k]}},
        )
    return fresh


# --- Par levels ----------------------------------------------------------------------------


def _par_snapshot(par: ParLevel) -> dict[str, Any]:
    return {
        "minimum": str(par.minimum),
        "maximum": str(par.maximum),
        "abc_class": par.abc_class,
        "location": par.location.code if par.location else None,
        "preferred_supplier": par.preferred_supplier_id,
    }


def par_level_set(
    *,
    actor: User | None,
    site: Site | None = None,
    ndc: Package | str,
    minimum: Any,
    maximum: Any,
    abc_class: str = "",
    location: Any = None,
    preferred_supplier: Supplier | int | str | None = None,
) -> ParLevel:
    """Create or replace one package's levels at the site: reorder at ``minimum``, order up
    to ``maximum`` (the par), both in billing units; its ABC class, home location and the
    supplier it is usually ordered from."""
    authorize(actor, Cap.INVENTORY_SETUP)
    with transaction.atomic():
        where = site_of(actor, site)
        package = package_of(ndc)
        low = level_of(minimum, field="minimum")
        high = level_of(maximum, field="maximum")
        if high < low:
            raise Invalid("The maximum (par) must be at least the minimum.", field="maximum")
        abc = (abc_class or "").strip().upper()
        if abc and abc not in AbcClass.values:
            raise Invalid("The ABC class is A, B or C.", field="abc_class")
        place = location_of(where, location)
        vendor = None
        if preferred_supplier not in (None, ""):
            vendor = supplier_at(where, preferred_supplier, field="preferred_supplier")
            if not vendor.active:
                raise Invalid(f"{vendor.name} is inactive.", field="preferred_supplier")
        values = {
            "minimum": low,
            "maximum": high,
            "abc_class": abc,
            "location": place,
            "preferred_supplier": vendor,
        }
        par = ParLevel.objects.filter(site=where, package=package).first()
        before = _par_snapshot(par) if par is not None else None
        if par is None:
            try:
                with transaction.atomic():
                    par = ParLevel.objects.create(site=where, package=package, **values)
            except IntegrityError:
                # Someone set this package's level a moment ago: ours replaces theirs.
                par = ParLevel.objects.get(site=where, package=package)
                before = _par_snapshot(par)
        if before is not None:
            ParLevel.objects.filter(pk=par.pk).update(**values)
            for key, value in values.items():
                setattr(par, key, value)
        audit_record(
            actor=actor,
            site=where,
            action="inventory.par_level.set",
            obj=par,
            data={"ndc": package.ndc11, "before": before, "after": _par_snapshot(par)},
        )
    return par


# --- Purchase orders -----------------------------------------------------------------------


def _next_number(site: Site) -> str:
    last = (
        PurchaseOrder.objects.filter(site=site, number__startswith=PO_PREFIX)
        .order_by(Length("number").desc(), "-number")
        .values_list("number", flat=True)
        .first()
    )
    tail = (last or "")[len(PO_PREFIX) :]
    current = int(tail) if tail.isdigit() else 0
    return f"{PO_PREFIX}{current + 1:0{PO_DIGITS}d}"


def _create_numbered(
    site: Site, supplier: Supplier, actor: User | None, note: str
) -> PurchaseOrder:
    # Two people drafting at once read the same last number; the unique (site, number)
    # constraint lets one win and the other retry with the next number.
    for _attempt in range(20):
        number = _next_number(site)
        try:
            with transaction.atomic():
                return PurchaseOrder.objects.create(
                    site=site,
                    supplier=supplier,
                    number=number,
                    created_by=actor,
                    note=note,
                )
        except IntegrityError:
            continue
    raise Conflict("Could not number the purchase order; try again.")  # pragma: no cover


def _line_data(line: PurchaseOrderLine) -> dict[str, Any]:
    return {
        "line": line.pk,
        "ndc": line.package.ndc11,
        "packages": line.packages_ordered,
        "unit_cost": str(line.unit_cost) if line.unit_cost is not None else None,
        "dea_order_number": line.dea_order_number,
    }


def _order_at(site: Site, order: PurchaseOrder | int) -> PurchaseOrder:
    pk = order.pk if isinstance(order, PurchaseOrder) else order
    # Locks the order row on PostgreSQL (SQLite's IMMEDIATE transaction already holds the
    # database), so line changes, sending and receipts on one order happen one at a time.
    found = (
        PurchaseOrder.objects.select_for_update().filter(pk=pk, site=site).first()
        if pk is not None
        else None
    )
    if found is None:
        raise NotFound("No such purchase order here.")
    return found


def _require_draft(order: PurchaseOrder) -> None:
    if order.status != PurchaseOrderStatus.DRAFT:
        raise Conflict(
            f"{order.number} is {order.get_status_display().lower()}; only a draft can be changed.",
            field="status",
        )


def _add_line(
    order: PurchaseOrder,
    *,
    ndc: Package | str,
    packages: Any,
    unit_cost: Any = None,
    dea_order_number: str = "",
    prefix: str = "",
) -> PurchaseOrderLine:
    package = package_of(ndc, field=f"{prefix}ndc")
    count = packages_of(packages, field=f"{prefix}packages")
    cost = money_of(unit_cost, field=f"{prefix}unit_cost")
    dea = _text(dea_order_number, field=f"{prefix}dea_order_number", max_length=40)
    line = (
        PurchaseOrderLine.objects.select_for_update().filter(order=order, package=package).first()
    )
    if line is None:
        line = PurchaseOrderLine.objects.create(
            order=order,
            package=package,
            packages_ordered=count,
            unit_cost=cost,
            dea_order_number=dea,
        )
    else:
        # The same NDC twice on one order is one line: a second entry adds to it.
        if line.packages_ordered + count > MAX_PACKAGES:
            raise Invalid(
                f"At most {MAX_PACKAGES} packages on one line.", field=f"{prefix}packages"
            )
        line.packages_ordered += count
        if cost is not None:
            line.unit_cost = cost
        if dea:
            line.dea_order_number = dea
        line.save(update_fields=["packages_ordered", "unit_cost", "dea_order_number"])
    line.package = package
    return line


def purchase_order_create(
    *,
    actor: User | None,
    site: Site | None = None,
    supplier: Supplier | int | str,
    note: str = "",
    lines: Iterable[Mapping[str, Any]] = (),
) -> PurchaseOrder:
    """Draft an order to a supplier, numbered PO-000001, PO-000002… per site; ``lines``
    (each ``ndc``, ``packages``, optional ``unit_cost`` and ``dea_order_number``) may come
    at once or later."""
    authorize(actor, Cap.INVENTORY_ORDER)
    with transaction.atomic():
        where = site_of(actor, site)
        vendor = supplier_at(where, supplier, field="supplier")
        if not vendor.active:
            raise Invalid(f"{vendor.name} is inactive.", field="supplier")
        if vendor.reverse_distributor:
            raise Invalid(
                f"{vendor.name} is a reverse distributor: it takes returns, it does not sell.",
                field="supplier",
            )
        order = _create_numbered(where, vendor, actor, _text(note, field="note", max_length=500))
        added = [
            _add_line(
                order,
                ndc=line.get("ndc", ""),
                packages=line.get("packages"),
                unit_cost=line.get("unit_cost"),
                dea_order_number=line.get("dea_order_number", ""),
                prefix=f"lines.{index}.",
            )
            for index, line in enumerate(lines)
        ]
        audit_record(
            actor=actor,
            site=where,
            action="inventory.purchase_order.created",
            obj=order,
            data={
                "number": order.number,
                "supplier": vendor.pk,
                "lines": [_line_data(line) for line in added],
            },
        )
    return order


def purchase_order_from_suggestions(
    *,
    actor: User | None,
    site: Site | None = None,
    supplier: Supplier | int | str,
    days: int = 30,
    review_days: int = 7,
) -> PurchaseOrder:
    """Draft an order to ``supplier`` holding today's suggested orders (from par levels and
    recent usage) for the packages it is the preferred supplier of, or that name none."""
    from rxdesk.inventory.queries_ordering import order_suggestions

    authorize(actor, Cap.INVENTORY_ORDER)
    with transaction.atomic():
        where = site_of(actor, site)
        vendor = supplier_at(where, supplier, field="supplier")
        suggestions = [
            s
            for s in order_suggestions(actor=actor, site=where, days=days, review_days=review_days)
            if s.supplier is None or s.supplier.pk == vendor.pk
        ]
        if not suggestions:
            raise Conflict(
                f"Nothing to order from {vendor.name}: every package is above its minimum.",
                field="supplier",
            )
        return purchase_order_create(
            actor=actor,
            site=where,
            supplier=vendor,
            note=f"From suggested orders ({days}-day usage, {review_days}-day review).",
            lines=[{"ndc": s.package, "packages": s.packages} for s in suggestions],
        )


def purchase_order_line_add(
    *,
    actor: User | None,
    order: PurchaseOrder,
    ndc: Package | str,
    packages: Any,
    unit_cost: Any = None,
    dea_order_number: str = "",
) -> PurchaseOrderLine:
    """Add packages of an NDC to a draft order (the same NDC again adds to its line)."""
    authorize(actor, Cap.INVENTORY_ORDER)
    with transaction.atomic():
        where = home_site(actor, order.site)
        fresh = _order_at(where, order)
        _require_draft(fresh)
        line = _add_line(
            fresh,
            ndc=ndc,
            packages=packages,
            unit_cost=unit_cost,
            dea_order_number=dea_order_number,
        )
        audit_record(
            actor=actor,
            site=where,
            action="inventory.purchase_order.line_added",
            obj=fresh,
            data=_line_data(line),
        )
    return line


LINE_FIELDS = ("packages", "unit_cost", "dea_order_number")


def _line_at(site: Site, line: PurchaseOrderLine) -> tuple[PurchaseOrder, PurchaseOrderLine]:
    order = _order_at(site, line.order_id)
    fresh = (
        PurchaseOrderLine.objects.select_related("package__product")
        .filter(pk=line.pk, order=order)
        .first()
    )
    if fresh is None:
        raise NotFound("No such line on this order.")
    return order, fresh


def purchase_order_line_update(
    *, actor: User | None, line: PurchaseOrderLine, **changes: Any
) -> PurchaseOrderLine:
    """Change a draft order's line: ``packages``, ``unit_cost`` (blank clears it) or
    ``dea_order_number``."""
    authorize(actor, Cap.INVENTORY_ORDER)
    unknown = sorted(set(changes) - set(LINE_FIELDS))
    if unknown:
        raise Invalid(
            errors=[{"field": f, "message": "This field cannot be set here."} for f in unknown]
        )
    with transaction.atomic():
        where = home_site(actor, line.order.site)
        order, fresh = _line_at(where, line)
        _require_draft(order)
        before = _line_data(fresh)
        if "packages" in changes:
            fresh.packages_ordered = packages_of(changes["packages"], field="packages")
        if "unit_cost" in changes:
            fresh.unit_cost = money_of(changes["unit_cost"], field="unit_cost")
        if "dea_order_number" in changes:
            fresh.dea_order_number = _text(
                changes["dea_order_number"], field="dea_order_number", max_length=40
            )
        fresh.save(update_fields=["packages_ordered", "unit_cost", "dea_order_number"])
        after = _line_data(fresh)
        audit_record(
            actor=actor,
            site=where,
            action="inventory.purchase_order.line_changed",
            obj=order,
            data={
                "line": fresh.pk,
                "ndc": fresh.package.ndc11,
                "changes": {k: [before[k], after[k]] for k in after if before[k] != after[k]},
            },
        )
    return fresh


def purchase_order_line_remove(*, actor: User | None, line: PurchaseOrderLine) -> None:
    """Take a line off a draft order."""
    authorize(actor, Cap.INVENTORY_ORDER)
    with transaction.atomic():
        where = home_site(actor, line.order.site)
        order, fresh = _line_at(where, line)
        _require_draft(order)
        data = _line_data(fresh)
        fresh.delete()
        audit_record(
            actor=actor,
            site=where,
            action="inventory.purchase_order.line_removed",
            obj=order,
            data=data,
        )


def purchase_order_send(*, actor: User | None, order: PurchaseOrder) -> PurchaseOrder:
    """Mark a draft as sent to the supplier. Every Schedule II line must carry the DEA
    Form 222 or CSOS order number it is ordered on (21 CFR 1305)."""
    authorize(actor, Cap.INVENTORY_ORDER)
    with transaction.atomic():
        where = home_site(actor, order.site)
        fresh = _order_at(where, order)
        _require_draft(fresh)
        lines = list(fresh.lines.select_related("package__product").order_by("id"))
        if not lines:
            raise Conflict("Add at least one line before sending the order.", field="lines")
        supplier = Supplier.objects.get(pk=fresh.supplier_id)
        if not supplier.active:
            raise Conflict(f"{supplier.name} is inactive.", field="supplier")
        for index, line in enumerate(lines):
            schedule_ii_check(
                line.package, line.dea_order_number, field=f"lines.{index}.dea_order_number"
            )
        now = timezone.now()
        claimed = PurchaseOrder.objects.filter(
            pk=fresh.pk, status=PurchaseOrderStatus.DRAFT
        ).update(status=PurchaseOrderStatus.SENT, sent_at=now)
        if claimed != 1:  # pragma: no cover - the row is locked (or the database is)
            raise Conflict(f"{fresh.number} was sent meanwhile.")
        fresh.status = PurchaseOrderStatus.SENT
        fresh.sent_at = now
        audit_record(
            actor=actor,
            site=where,
            action="inventory.purchase_order.sent",
            obj=fresh,
            data={
                "number": fresh.number,
                "supplier": supplier.pk,
                "lines": [_line_data(line) for line in lines],
            },
        )
    return fresh


def _with_note(note: str, addition: str) -> str:
    text = f"{note}\n{addition}" if note else addition
    return text[-500:]


def purchase_order_close(
    *, actor: User | None, order: PurchaseOrder, reason: str = ""
) -> PurchaseOrder:
    """Close a received or partially received order; with lines still open (fewer packages
    received than ordered) say why (the rest is back-ordered, cancelled by the supplier…)."""
    authorize(actor, Cap.INVENTORY_ORDER)
    why = _text(reason, field="reason", max_length=400)
    with transaction.atomic():
        where = home_site(actor, order.site)
        fresh = _order_at(where, order)
        if fresh.status not in (PurchaseOrderStatus.RECEIVED, PurchaseOrderStatus.PARTIAL):
            raise Conflict(
                f"{fresh.number} is {fresh.get_status_display().lower()}; only a received or "
                "partially received order is closed (cancel a draft or sent one).",
                field="status",
            )
        open_lines = [
            line.pk for line in fresh.lines.all() if line.packages_received < line.packages_ordered
        ]
        if open_lines and not why:
            raise Invalid(
                "Some lines are not fully received; say why the order is closed.",
                field="reason",
            )
        before = fresh.status
        now = timezone.now()
        note = _with_note(fresh.note, f"Closed: {why}") if why else fresh.note
        claimed = PurchaseOrder.objects.filter(pk=fresh.pk, status=before).update(
            status=PurchaseOrderStatus.CLOSED, closed_at=now, note=note
        )
        if claimed != 1:  # pragma: no cover - the row is locked (or the database is)
            raise Conflict(f"{fresh.number} changed meanwhile; look again.")
        fresh.status, fresh.closed_at, fresh.note = PurchaseOrderStatus.CLOSED, now, note
        audit_record(
            actor=actor,
            site=where,
            action="inventory.purchase_order.closed",
            obj=fresh,
            reason=why,
            data={
                "number": fresh.number,
                "status": [before, fresh.status],
                "open_lines": open_lines,
            },
        )
    return fresh


def purchase_order_cancel(
    *, actor: User | None, order: PurchaseOrder, reason: str = ""
) -> PurchaseOrder:
    """Cancel a draft, or a sent order nothing has been received on (say why: the supplier
    must be told)."""
    authorize(actor, Cap.INVENTORY_ORDER)
    why = _text(reason, field="reason", max_length=400)
    with transaction.atomic():
        where = home_site(actor, order.site)
        fresh = _order_at(where, order)
        if fresh.status not in (PurchaseOrderStatus.DRAFT, PurchaseOrderStatus.SENT):
            raise Conflict(
                f"{fresh.number} is {fresh.get_status_display().lower()}; only a draft or a "
                "sent order with nothing received can be cancelled.",
                field="status",
            )
        if fresh.status == PurchaseOrderStatus.SENT and not why:
            raise Invalid("Say why a sent order is cancelled.", field="reason")
        receiving = (
            Receipt.objects.filter(purchase_order=fresh, status=ReceiptStatus.OPEN)
            .values_list("pk", flat=True)
            .first()
        )
        if receiving is not None:
            raise Conflict(
                f"Receipt {receiving} is being checked in against {fresh.number}; remove it "
                "from that receipt first.",
                field="status",
            )
        before = fresh.status
        note = _with_note(fresh.note, f"Cancelled: {why}") if why else fresh.note
        now = timezone.now()
        claimed = PurchaseOrder.objects.filter(pk=fresh.pk, status=before).update(
            status=PurchaseOrderStatus.CANCELLED, closed_at=now, note=note
        )
        if claimed != 1:  # pragma: no cover - the row is locked (or the database is)
            raise Conflict(f"{fresh.number} changed meanwhile; look again.")
        fresh.status, fresh.closed_at, fresh.note = PurchaseOrderStatus.CANCELLED, now, note
        audit_record(
            actor=actor,
            site=where,
            action="inventory.purchase_order.cancelled",
            obj=fresh,
            reason=why,
            data={"number": fresh.number, "status": [before, fresh.status]},
        )
    return fresh
