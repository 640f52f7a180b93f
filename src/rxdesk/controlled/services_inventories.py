"""Controlled-substance inventories (21 CFR 1304.11; reference §2.3): initial, biennial,
newly scheduled substance, change of pharmacist-in-charge, other (a state rule, a closing).

Start one (taken at the opening or the close of business, on a day not in the future),
count each package and lot of the worksheet (rxdesk.controlled.queries_inventories) — sealed
containers times the labeled size, plus an opened container counted exactly or, where the
rule allows, estimated (rxdesk.controlled.rules.count_method) — and the pharmacist-in-charge
signs it. The ledger's balance when a line was counted is kept beside it. Once signed,
nothing of it changes. One inventory is open at a pharmacy at a time.

Each service: a capability check first, one transaction, the rules, the writes, one audit
event last."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from rxdesk.catalog.choices import DeaSchedule
from rxdesk.catalog.models import Product
from rxdesk.controlled import queries_inventories as queries
from rxdesk.controlled.choices import InventoryKind, InventoryStatus, TakenAt
from rxdesk.controlled.models import CsInventory, CsInventoryLine
from rxdesk.controlled.rules import EXACT_COUNT_ABOVE, CountMethod, count_method
from rxdesk.core.audit import audit_record, register_actions
from rxdesk.core.capabilities import Cap
from rxdesk.core.errors import Conflict, Invalid, NotFound
from rxdesk.core.models import Site, User
from rxdesk.core.services import authorize
from rxdesk.inventory import ledger
from rxdesk.inventory.models import Lot, StockBalance
from rxdesk.inventory.services.common import date_of, package_of

register_actions(
    {
        "cs.inventory.started": "Controlled-substance inventory started",
        "cs.inventory.counted": "Controlled-substance inventory line counted",
        "cs.inventory.signed": "Controlled-substance inventory signed by the pharmacist-in-charge",
        "cs.inventory.cancelled": "Controlled-substance inventory cancelled",
    }
)

CONTROLLED = (DeaSchedule.CII, DeaSchedule.CIII, DeaSchedule.CIV, DeaSchedule.CV)
MAX_CONTAINERS = 100_000
NOTE_MAX = 500
REASON_MAX = 200
MAX_ID = 2**63 - 1


def _text(value: Any, *, field: str, limit: int) -> str:
    text = " ".join(str(value or "").split())
    if len(text) > limit:
        raise Invalid(f"Keep it to {limit} characters at most.", field=field)
    return text


def _lock_site(site: Site) -> None:
    """Serialise the starts of inventories at one pharmacy, so two people pressing Start at
    once cannot open two (SQLite's IMMEDIATE transactions already serialise writers). FOR
    NO KEY UPDATE does not block the other work that inserts rows referencing the site."""
    Site.objects.select_for_update(no_key=True).filter(pk=site.pk).first()


def _locked(actor: User, inventory: CsInventory | int) -> CsInventory:
    """The inventory of the actor's pharmacy, its row locked for the rest of the
    transaction: counting and signing the same inventory take turns, so nothing is counted
    into an inventory being signed."""
    pk = inventory.pk if isinstance(inventory, CsInventory) else inventory
    try:
        number = int(str(pk))
    except ValueError:
        number = 0
    found = (
        CsInventory.objects.select_for_update(no_key=True)
        .filter(pk=number, site_id=actor.site_id)
        .first()
        if 0 < number <= MAX_ID
        else None
    )
    if found is None:
        raise NotFound("No such inventory at this pharmacy.")
    return found


def _still_open(inventory: CsInventory) -> None:
    if inventory.status == InventoryStatus.SIGNED:
        raise Conflict(
            "This inventory is signed: nothing of it changes. Start a new one if needed.",
            field="status",
        )
    if inventory.status != InventoryStatus.OPEN:
        raise Conflict("This inventory was cancelled.", field="status")


def _product_of(value: Product | int | str | None) -> Product | None:
    if value in (None, ""):
        return None
    if isinstance(value, Product):
        return value
    try:
        pk = int(str(value))
    except ValueError:
        pk = 0
    found = Product.objects.filter(pk=pk).first() if 0 < pk <= MAX_ID else None
    if found is None:
        raise Invalid("No such product in the drug catalog.", field="product")
    return found


def _snapshot(inventory: CsInventory) -> dict[str, Any]:
    return {
        "kind": inventory.kind,
        "taken_on": inventory.taken_on.isoformat(),
        "taken_at": inventory.taken_at,
        "product": inventory.product_id,
        "effective_on": inventory.effective_on.isoformat() if inventory.effective_on else None,
    }


# --- Start -----------------------------------------------------------------------------------


def cs_inventory_start(
    *,
    actor: User,
    kind: str,
    taken_on: dt.date | str | None,
    taken_at: str | None,
    product: Product | int | str | None = None,
    effective_on: dt.date | str | None = None,
    note: str = "",
) -> CsInventory:
    """Start an inventory of every controlled substance on hand (a newly scheduled
    substance's: that product only, on the rule's effective date)."""
    authorize(actor, Cap.CS_COUNT)
    errors: list[dict[str, str]] = []
    if kind not in InventoryKind.values:
        errors.append(
            {
                "field": "kind",
                "message": "Choose initial, biennial, newly scheduled, change of "
                "pharmacist-in-charge or other.",
            }
        )
    if taken_at not in TakenAt.values:
        errors.append(
            {
                "field": "taken_at",
                "message": "Say whether it is taken at the opening or the close of business.",
            }
        )
    try:
        day = date_of(taken_on, field="taken_on")
        if day is None:
            raise Invalid("Enter the date the inventory is taken.", field="taken_on")
    except Invalid as exc:
        errors.extend(exc.errors)
        day = None
    try:
        effective = date_of(effective_on, field="effective_on")
    except Invalid as exc:
        errors.extend(exc.errors)
        effective = None
    text_note = ""
    try:
        text_note = _text(note, field="note", limit=NOTE_MAX)
    except Invalid as exc:
        errors.extend(exc.errors)
    if errors:
        raise Invalid(errors=errors)
    assert day is not None and taken_at is not None
    substance = _product_of(product)
    if kind == InventoryKind.NEWLY_SCHEDULED:
        if substance is None:
            raise Invalid("Name the newly scheduled product.", field="product")
        if substance.dea_schedule not in CONTROLLED:
            raise Invalid(
                f"{substance} is not a controlled substance in the drug catalog: set its "
                "schedule (Catalog → the product) first.",
                field="product",
            )
        if effective is None:
            raise Invalid("Enter the date the scheduling rule takes effect.", field="effective_on")
        if day != effective:
            raise Invalid(
                f"A newly scheduled substance is inventoried on the rule's effective date, "
                f"{effective:%m/%d/%Y}.",
                field="taken_on",
            )
    elif substance is not None or effective is not None:
        raise Invalid(
            "Only a newly scheduled substance's inventory names a product and a rule's date.",
            field="product" if substance is not None else "effective_on",
        )
    with transaction.atomic():
        site = actor.site
        if day > site.today():
            raise Invalid("An inventory is not taken in the future.", field="taken_on")
        _lock_site(site)
        busy = queries.open_inventory(site)
        if busy is not None:
            raise Conflict(
                f"{busy} (inventory {busy.pk}) is still being counted: sign or cancel it first.",
                field="kind",
            )
        inventory = CsInventory.objects.create(
            site=site,
            kind=kind,
            taken_on=day,
            taken_at=taken_at,
            product=substance,
            effective_on=effective,
            status=InventoryStatus.OPEN,
            started_by=actor,
            note=text_note,
        )
        audit_record(
            actor=actor,
            site=site,
            action="cs.inventory.started",
            obj=inventory,
            data={**_snapshot(inventory), "worksheet": len(queries.held_balances(inventory))},
        )
    return inventory


# --- Count -----------------------------------------------------------------------------------


def _containers(value: Any) -> int:
    if isinstance(value, bool) or value in (None, ""):
        raise Invalid("Enter the sealed containers (0 if none).", field="sealed_containers")
    try:
        count = int(str(value).strip())
    except ValueError:
        raise Invalid(
            f"'{value}' is not a whole number of containers.", field="sealed_containers"
        ) from None
    if count < 0:
        raise Invalid("Containers cannot be negative.", field="sealed_containers")
    if count > MAX_CONTAINERS:
        raise Invalid("That is more containers than a pharmacy holds.", field="sealed_containers")
    return count


def _opened(value: Any) -> Decimal | None:
    """The opened container's count or measure; blank (or 0) when none is open."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise Invalid("Enter a count or measure.", field="opened_quantity")
    if isinstance(value, float):
        value = str(value)
    text = str(value).strip()
    if not text:
        return None
    try:
        quantity = Decimal(text)
    except (InvalidOperation, ValueError):
        raise Invalid(f"'{text}' is not a quantity.", field="opened_quantity") from None
    if not quantity.is_finite() or quantity < 0:
        raise Invalid("Enter what is in the opened container.", field="opened_quantity")
    if quantity != quantity.quantize(ledger.QUANTUM) or quantity > ledger.MAX_QUANTITY:
        raise Invalid("Use at most three decimal places.", field="opened_quantity")
    return quantity.quantize(ledger.QUANTUM) if quantity else None


def _ledger_balance(site: Site, package_id: int, lot: Lot | None) -> Decimal:
    qs = StockBalance.objects.filter(site=site, package_id=package_id)
    if lot is not None:
        qs = qs.filter(lot=lot)
    total = qs.aggregate(total=Sum("on_hand"))["total"]
    return Decimal(total if total is not None else 0).quantize(ledger.QUANTUM)


def _flag(value: Any, field: str) -> bool:
    if isinstance(value, bool):
        return value
    if value in (None, "", 0, "0", "false", "False", "off", "no"):
        return False
    if value in (1, "1", "true", "True", "on", "yes"):
        return True
    raise Invalid("Yes or no.", field=field)


def cs_inventory_count(
    *,
    actor: User,
    inventory: CsInventory | int,
    ndc: Any,
    lot_number: str | None = None,
    sealed_containers: Any,
    opened_quantity: Any = None,
    estimated: Any = False,
    held_for_disposal: Any = False,
    disposal_reason: str = "",
) -> CsInventoryLine:
    """Record one package (one lot, or the package as a whole when no lot is named): sealed
    containers, and an opened container's count or measure — exact, or ``estimated`` where
    the counting rule allows it (never for Schedule II; never for a Schedule III–V container
    of more than 1,000 tablets or capsules). ``held_for_disposal`` (damaged, expired,
    returned) needs its reason. Counting the same package and lot again replaces the line
    while the inventory is open."""
    authorize(actor, Cap.CS_COUNT)
    sealed = _containers(sealed_containers)
    opened = _opened(opened_quantity)
    guess = _flag(estimated, "estimated")
    disposal = _flag(held_for_disposal, "held_for_disposal")
    why = _text(disposal_reason, field="disposal_reason", limit=REASON_MAX)
    if disposal and not why:
        raise Invalid(
            "Say why it is held for disposal (expired, damaged, recalled, returned).",
            field="disposal_reason",
        )
    if not disposal and why:
        why = ""
    number = "".join(str(lot_number or "").split()).upper()
    if len(number) > 40:
        raise Invalid("At most 40 characters.", field="lot_number")
    with transaction.atomic():
        fresh = _locked(actor, inventory)
        _still_open(fresh)
        package = package_of(ndc)
        schedule = package.product.dea_schedule
        if schedule not in CONTROLLED:
            raise Invalid(f"NDC {package.ndc10} is not a controlled substance.", field="ndc")
        if fresh.kind == InventoryKind.NEWLY_SCHEDULED and package.product_id != fresh.product_id:
            raise Invalid(
                f"NDC {package.ndc10} is not {fresh.product}: this inventory is of that "
                "newly scheduled substance only.",
                field="ndc",
            )
        lot = None
        if number:
            lot = Lot.objects.filter(package=package, number=number).first()
            if lot is None:
                raise Invalid(
                    f"No lot {number} of NDC {package.ndc10} is known here: check the lot, or "
                    "leave it blank to count the package as a whole.",
                    field="lot_number",
                )
        units = package.package_quantity
        if opened is not None and opened > units:
            raise Invalid(
                f"A container of NDC {package.ndc10} holds {units.normalize():f} "
                f"{package.billing_unit}; the opened one cannot hold more.",
                field="opened_quantity",
            )
        if opened is None:
            if guess:
                raise Invalid(
                    "Only an opened container may be estimated; sealed ones are counted.",
                    field="estimated",
                )
            method = CountMethod.SEALED
        else:
            allowed = count_method(
                schedule=schedule,
                opened=True,
                units_in_container=units,
                solid=queries.is_solid(package.product.dosage_form),
            )
            if guess and allowed == CountMethod.EXACT:
                raise Invalid(
                    "Schedule II: count the opened container exactly."
                    if schedule == DeaSchedule.CII
                    else f"This container holds {units.normalize():f} tablets or capsules, "
                    f"more than {EXACT_COUNT_ABOVE:,}: count it exactly.",
                    field="estimated",
                )
            method = CountMethod.ESTIMATE if guess else CountMethod.EXACT
        siblings = CsInventoryLine.objects.filter(
            inventory=fresh, package=package, held_for_disposal=disposal
        )
        other_way = (
            siblings.exclude(lot__isnull=True) if lot is None else siblings.filter(lot__isnull=True)
        )
        if other_way.exists():
            raise Conflict(
                f"NDC {package.ndc10} is already counted "
                + ("lot by lot" if lot is None else "as a whole (all lots)")
                + " on this inventory: count it the same way.",
                field="lot_number",
            )
        same = siblings.filter(lot=lot) if lot is not None else siblings.filter(lot__isnull=True)
        line = same.first()
        before = None
        if line is not None:
            before = {
                "sealed": line.sealed_containers,
                "opened": str(line.opened_quantity) if line.opened_quantity is not None else None,
                "method": line.method,
                "total": str(line.total),
            }
        else:
            line = CsInventoryLine(inventory=fresh, package=package, lot=lot)
        line.schedule = schedule
        line.units_per_container = units
        line.sealed_containers = sealed
        line.opened_quantity = opened
        line.method = method
        line.total = Decimal(sealed) * units + (opened or Decimal(0))
        line.ledger_balance = _ledger_balance(fresh.site, package.pk, lot)
        line.held_for_disposal = disposal
        line.disposal_reason = why
        line.counted_by = actor
        line.counted_at = timezone.now()
        line.save()
        audit_record(
            actor=actor,
            site=fresh.site,
            action="cs.inventory.counted",
            obj=fresh,
            data={
                "line": line.pk,
                "ndc": package.ndc11,
                "lot": lot.number if lot else None,
                "sealed": sealed,
                "opened": str(opened) if opened is not None else None,
                "method": method,
                "total": str(line.total),
                "ledger_balance": str(line.ledger_balance),
                "held_for_disposal": disposal,
                "replaced": before,
            },
        )
    return line


# --- Sign and cancel -------------------------------------------------------------------------


def _missing_text(rows: list[queries.WorksheetRow]) -> str:
    shown = [f"NDC {row.package.ndc10} lot {row.lot.number}" for row in rows[:10]]
    more = f" and {len(rows) - 10} more" if len(rows) > 10 else ""
    return (
        f"{len(rows)} package{'s' if len(rows) != 1 else ''} on hand not counted yet: "
        + "; ".join(shown)
        + more
        + "."
    )


def cs_inventory_sign(*, actor: User, inventory: CsInventory | int) -> CsInventory:
    """The pharmacist-in-charge signs the inventory: every package and lot on the worksheet
    must have its line (an initial inventory with nothing on hand is a valid zero
    inventory). After signing nothing changes."""
    authorize(actor, Cap.CS_INVENTORY_SIGN)
    with transaction.atomic():
        fresh = _locked(actor, inventory)
        _still_open(fresh)
        missing = queries.missing(fresh)
        if missing:
            raise Invalid(_missing_text(missing), field="lines")
        lines = list(CsInventoryLine.objects.filter(inventory=fresh))
        now = timezone.now()
        CsInventory.objects.filter(pk=fresh.pk, status=InventoryStatus.OPEN).update(
            status=InventoryStatus.SIGNED,
            signed_by=actor,
            signer_name=actor.display_name,
            signed_at=now,
        )
        fresh.refresh_from_db()
        audit_record(
            actor=actor,
            site=fresh.site,
            action="cs.inventory.signed",
            obj=fresh,
            data={
                **_snapshot(fresh),
                "lines": len(lines),
                "zero_inventory": not lines,
                "schedule_ii_lines": sum(1 for x in lines if x.schedule == DeaSchedule.CII),
                "held_for_disposal": sum(1 for x in lines if x.held_for_disposal),
                "signer_license": actor.pharmacist_license,
            },
        )
    return fresh


def cs_inventory_cancel(*, actor: User, inventory: CsInventory | int, reason: str) -> CsInventory:
    """Drop an inventory still being counted (started by mistake, to be taken again)."""
    authorize(actor, Cap.CS_COUNT)
    why = _text(reason, field="reason", limit=REASON_MAX)
    if not why:
        raise Invalid("Say why the inventory is cancelled.", field="reason")
    with transaction.atomic():
        fresh = _locked(actor, inventory)
        _still_open(fresh)
        CsInventory.objects.filter(pk=fresh.pk, status=InventoryStatus.OPEN).update(
            status=InventoryStatus.CANCELLED
        )
        fresh.refresh_from_db()
        audit_record(
            actor=actor,
            site=fresh.site,
            action="cs.inventory.cancelled",
            obj=fresh,
            data={"status": [InventoryStatus.OPEN, fresh.status]},
            reason=why,
        )
    return fresh
