"""Dispensing cabinets (Pyxis, Omnicell): set up a cabinet and its pockets (the package each
holds, its par and minimum, controlled or not), restock pockets from the pharmacy's own
stock by lot, and unload a pocket back to the pharmacy.

A cabinet is a storage location of the site. A restock is one transaction across both
ledgers: each line's lot is taken out of the pharmacy's stock (rxdesk.inventory.ledger,
reason "Moved to a dispensing cabinet", dispensable lots only) and put into the pocket
(rxdesk.institutional.cabinet_ledger), the cabinet move keeping the pharmacy move it came
from. All lines go in or none. A controlled pocket is counted before it is restocked (a
count that differs from the record sets the pocket to what was found and opens a
discrepancy to be resolved within the shift) and the restock is witnessed by a second
person who re-authenticates (DEA two-person practice for ADC stock; reference,
controlled-substances). An unload takes stock out of a pocket — expired lots included, for
return to the vendor — and back onto the pharmacy's shelf."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Sum

from rxdesk.catalog.models import Package
from rxdesk.catalog.ndc import CodeError, parse_scan
from rxdesk.catalog.queries import packages_for_scan
from rxdesk.core.audit import audit_record, register_actions
from rxdesk.core.capabilities import Cap
from rxdesk.core.errors import Conflict, Forbidden, Invalid, NotFound
from rxdesk.core.models import Site, User
from rxdesk.core.services import Witness, authorize, witness_confirm
from rxdesk.institutional import cabinet_ledger
from rxdesk.institutional.cabinet_ledger import Who
from rxdesk.institutional.choices import CabinetEvent, CabinetVendor, DiscrepancyKind, FeedSource
from rxdesk.institutional.models import (
    Cabinet,
    CabinetDiscrepancy,
    CabinetMove,
    Pocket,
    PocketStock,
)
from rxdesk.inventory import ledger
from rxdesk.inventory.choices import LocationKind, MoveReason
from rxdesk.inventory.models import Lot, StockBalance, StorageLocation

register_actions(
    {
        "institutional.cabinet.created": "Dispensing cabinet set up",
        "institutional.cabinet.updated": "Dispensing cabinet changed",
        "institutional.pocket.created": "Cabinet pocket set up",
        "institutional.pocket.updated": "Cabinet pocket changed",
        "institutional.cabinet.restocked": "Dispensing cabinet restocked from the pharmacy",
        "institutional.pocket.unloaded": "Cabinet pocket unloaded back to the pharmacy",
    }
)

LOCATION_PREFIX = "ADC-"
CODE_MAX = 30 - len(LOCATION_PREFIX)  # the storage location's code is "ADC-" + the code
NAME_MAX, AREA_MAX, PLACE_MAX, REASON_MAX, LOT_MAX, SCAN_MAX = 120, 80, 10, 200, 40, 200
PAR_LIMIT = Decimal(10) ** 7  # DecimalField(10, 3)
QUANTUM = Decimal("0.001")
MAX_LINES = 200
RESTOCK_ACTION = "institutional.cabinet.restocked"
UNLOAD_ACTION = "institutional.pocket.unloaded"
CABINET_FIELDS = ["code", "name", "vendor", "area", "active"]
POCKET_FIELDS = ["drawer", "pocket", "package_id", "par", "minimum", "controlled", "active"]


# --- Helpers -------------------------------------------------------------------------------------


def _signed_in(actor: User | None) -> User:
    if actor is None:
        raise Forbidden("Sign in: cabinet records name who set them up and who restocked.")
    return actor


def _text(value: Any, *, field: str, limit: int, what: str, required: bool = True) -> str:
    text = " ".join(str(value or "").split())
    if required and not text:
        raise Invalid(f"Enter {what}.", field=field)
    if len(text) > limit:
        raise Invalid(f"Keep {what} to {limit} characters.", field=field)
    return text


def _amount(value: Any, *, field: str, what: str, zero_ok: bool) -> Decimal:
    """A par, minimum or count: a number of at most three decimals, ≥ 0 (or > 0)."""
    if isinstance(value, float):
        value = repr(value)
    if value is None or (isinstance(value, str) and not value.strip()):
        raise Invalid(f"Enter the {what}.", field=field)
    try:
        number = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise Invalid(f"{value!r} is not a number.", field=field) from None
    if not number.is_finite():
        raise Invalid("Enter a number.", field=field)
    if number < 0 or (number == 0 and not zero_ok):
        raise Invalid(
            f"The {what} must be {'zero or more' if zero_ok else 'more than zero'}.", field=field
        )
    if number >= PAR_LIMIT:
        raise Invalid(f"The {what} is too large.", field=field)
    if number != number.quantize(QUANTUM):
        raise Invalid("Use at most three decimal places.", field=field)
    return number.quantize(QUANTUM)


def _n(value: Decimal) -> str:
    return f"{value.normalize():f}"


def _own(obj: Cabinet, site: Site, what: str = "cabinet") -> None:
    if obj.site_id != site.pk:
        raise NotFound(f"No such {what} at this pharmacy.")


def _drug(package: Package) -> str:
    p = package.product
    name = " ".join(x for x in (p.display_name, p.strength) if x)
    return f"{name} (NDC {package.ndc10})"


def holds_stock(pocket: Pocket) -> bool:
    """Whether any lot of the pocket has stock on record."""
    return PocketStock.objects.filter(pocket=pocket, on_hand__gt=0).exists()


# --- Cabinets -----------------------------------------------------------------------------------


def cabinet_save(
    *,
    actor: User | None,
    cabinet: Cabinet | None = None,
    code: str,
    name: str,
    vendor: str,
    area: str = "",
    active: bool = True,
) -> Cabinet:
    """Set up a cabinet (with its storage location, code "ADC-<code>") or change one. The
    code is the station name the vendor reports, unique at the pharmacy. A cabinet holding
    stock is not taken out of service: unload its pockets first."""
    authorize(actor, Cap.ADC_SETUP)
    actor = _signed_in(actor)
    site = actor.site
    if cabinet is not None:
        _own(cabinet, site)
    code = _text(code, field="code", limit=CODE_MAX, what="the station code").upper()
    name = _text(name, field="name", limit=NAME_MAX, what="the cabinet's name")
    area = _text(area, field="area", limit=AREA_MAX, what="the area", required=False)
    if vendor not in CabinetVendor.values:
        raise Invalid(
            "Choose the vendor: " + ", ".join(str(label) for label in CabinetVendor.labels) + ".",
            field="vendor",
        )
    active = bool(active)
    taken = Cabinet.objects.filter(site=site, code=code)
    if cabinet is not None:
        taken = taken.exclude(pk=cabinet.pk)
    if taken.exists():
        raise Invalid(f"Cabinet {code} is already set up here.", field="code")
    location_code = f"{LOCATION_PREFIX}{code}"
    clash = StorageLocation.objects.filter(site=site, code=location_code)
    if cabinet is not None:
        clash = clash.exclude(pk=cabinet.location_id)
    if clash.exists():
        raise Invalid(
            f"Storage location {location_code} already exists here: choose another code.",
            field="code",
        )

    with transaction.atomic():
        if cabinet is None:
            before: dict[str, Any] = {}
            try:
                with transaction.atomic():
                    location = StorageLocation.objects.create(
                        site=site, code=location_code, name=name, kind=LocationKind.CABINET
                    )
                    cabinet = Cabinet.objects.create(
                        site=site,
                        location=location,
                        code=code,
                        name=name,
                        vendor=vendor,
                        area=area,
                        active=active,
                    )
            except IntegrityError:
                raise Invalid(f"Cabinet {code} is already set up here.", field="code") from None
            action = "institutional.cabinet.created"
        else:
            cabinet = Cabinet.objects.select_for_update().get(pk=cabinet.pk)
            before = {f: getattr(cabinet, f) for f in CABINET_FIELDS}
            if cabinet.active and not active:
                held = Pocket.objects.filter(cabinet=cabinet, on_hand__gt=0).count()
                if held:
                    raise Conflict(
                        f"Cabinet {cabinet.code} still holds stock in {held} pocket"
                        f"{'s' if held != 1 else ''}: unload them before taking it out of "
                        "service.",
                        field="active",
                    )
            cabinet.code, cabinet.name, cabinet.vendor = code, name, vendor
            cabinet.area, cabinet.active = area, active
            try:
                with transaction.atomic():
                    cabinet.save(update_fields=CABINET_FIELDS)
                    StorageLocation.objects.filter(pk=cabinet.location_id).update(
                        code=location_code, name=name, active=active
                    )
            except IntegrityError:
                raise Invalid(f"Cabinet {code} is already set up here.", field="code") from None
            action = "institutional.cabinet.updated"
        after = {f: getattr(cabinet, f) for f in CABINET_FIELDS}
        changed = {k for k in after if before.get(k) != after[k]}
        audit_record(
            actor=actor,
            action=action,
            site=site,
            obj=cabinet,
            data={
                "before": {k: before[k] for k in changed if k in before},
                "after": {k: after[k] for k in changed},
            },
        )
    return cabinet


# --- Pockets ------------------------------------------------------------------------------------


def pocket_save(
    *,
    actor: User | None,
    cabinet: Cabinet,
    pocket: Pocket | None = None,
    drawer: str,
    pocket_code: str,
    package: Package,
    par: Any,
    minimum: Any,
    controlled: bool | None = None,
    active: bool = True,
) -> Pocket:
    """Set up a pocket of ``cabinet`` or change one: its place (drawer and pocket, unique in
    the cabinet), the package it holds, par ≥ minimum ≥ 0. A scheduled drug's pocket is
    always controlled (``controlled=None`` follows the drug). The package of a pocket
    holding stock does not change, and a pocket is taken out of use only when empty."""
    authorize(actor, Cap.ADC_SETUP)
    actor = _signed_in(actor)
    site = actor.site
    _own(cabinet, site)
    if pocket is not None and pocket.cabinet_id != cabinet.pk:
        raise NotFound("No such pocket in this cabinet.")
    drawer = _text(drawer, field="drawer", limit=PLACE_MAX, what="the drawer").upper()
    place = _text(pocket_code, field="pocket_code", limit=PLACE_MAX, what="the pocket").upper()
    if not isinstance(package, Package):
        raise Invalid("Enter or scan the NDC of the package the pocket holds.", field="package")
    errors: list[dict[str, str]] = []
    the_par = the_minimum = None
    for name, value, what in (("par", par, "par level"), ("minimum", minimum, "minimum")):
        try:
            number = _amount(value, field=name, what=what, zero_ok=name == "minimum")
        except Invalid as exc:
            errors.extend(exc.errors)
            continue
        if name == "par":
            the_par = number
        else:
            the_minimum = number
    if the_par is not None and the_minimum is not None and the_par < the_minimum:
        errors.append(
            {
                "field": "par",
                "message": f"The par level ({_n(the_par)}) must be at least the minimum "
                f"({_n(the_minimum)}).",
            }
        )
    if errors:
        raise Invalid(errors=errors)
    assert the_par is not None and the_minimum is not None
    schedule = package.product.dea_schedule
    if controlled is None:
        controlled = bool(schedule) or (pocket.controlled if pocket is not None else False)
    elif schedule and not controlled:
        raise Invalid(
            f"{_drug(package)} is a Schedule {schedule.removeprefix('C')} controlled "
            "substance: its pocket is always counted and its restocks witnessed.",
            field="controlled",
        )
    controlled = bool(controlled)
    active = bool(active)
    if not cabinet.active and (pocket is None or active):
        raise Conflict(f"Cabinet {cabinet.code} is out of service.", field="cabinet")
    taken = Pocket.objects.filter(cabinet=cabinet, drawer=drawer, pocket=place)
    if pocket is not None:
        taken = taken.exclude(pk=pocket.pk)
    if taken.exists():
        raise Invalid(
            f"Drawer {drawer}, pocket {place} of {cabinet.code} is already set up.",
            field="pocket_code",
        )

    with transaction.atomic():
        if pocket is None:
            before: dict[str, Any] = {}
            try:
                with transaction.atomic():
                    pocket = Pocket.objects.create(
                        cabinet=cabinet,
                        drawer=drawer,
                        pocket=place,
                        package=package,
                        par=the_par,
                        minimum=the_minimum,
                        controlled=controlled,
                        active=active,
                    )
            except IntegrityError:
                raise Invalid(
                    f"Drawer {drawer}, pocket {place} of {cabinet.code} is already set up.",
                    field="pocket_code",
                ) from None
            action = "institutional.pocket.created"
        else:
            pocket = Pocket.objects.select_for_update().select_related("package").get(pk=pocket.pk)
            before = {f: getattr(pocket, f) for f in POCKET_FIELDS}
            if package.pk != pocket.package_id and holds_stock(pocket):
                raise Conflict(
                    f"Pocket {pocket.place} holds {_n(pocket.on_hand)} of "
                    f"{_drug(pocket.package)}: unload it before it holds another drug.",
                    field="package",
                )
            if pocket.active and not active and holds_stock(pocket):
                raise Conflict(
                    f"Pocket {pocket.place} still holds {_n(pocket.on_hand)}: unload it before "
                    "taking it out of use.",
                    field="active",
                )
            pocket.drawer, pocket.pocket, pocket.package = drawer, place, package
            pocket.par, pocket.minimum = the_par, the_minimum
            pocket.controlled, pocket.active = controlled, active
            try:
                with transaction.atomic():
                    pocket.save(
                        update_fields=[
                            "drawer",
                            "pocket",
                            "package",
                            "par",
                            "minimum",
                            "controlled",
                            "active",
                        ]
                    )
            except IntegrityError:
                raise Invalid(
                    f"Drawer {drawer}, pocket {place} of {cabinet.code} is already set up.",
                    field="pocket_code",
                ) from None
            action = "institutional.pocket.updated"
        after = {f: getattr(pocket, f) for f in POCKET_FIELDS}
        changed = {k for k in after if before.get(k) != after[k]}

        def shown(value: Any) -> Any:
            return _n(value) if isinstance(value, Decimal) else value

        audit_record(
            actor=actor,
            action=action,
            site=site,
            obj=pocket,
            data={
                "cabinet": cabinet.code,
                "place": pocket.place,
                "ndc": package.ndc11,
                "before": {k: shown(before[k]) for k in changed if k in before},
                "after": {k: shown(after[k]) for k in changed},
            },
        )
    return pocket


# --- Restock ------------------------------------------------------------------------------------


@dataclass
class _Line:
    index: int
    pocket: Pocket
    lot: Lot
    quantity: Decimal
    counted_before: Decimal | None


def _field(index: int, name: str) -> str:
    return f"lines[{index}].{name}"


def _lot_of_line(pocket: Pocket, raw: Mapping[str, Any], index: int) -> Lot:
    """The lot a restock line names: read from a scanned barcode (GS1 DataMatrix carries NDC
    and lot; the NDC must be the pocket's package) or typed. Only a lot the pharmacy has
    on file can come out of its stock."""
    scan_text = str(raw.get("scan") or "").strip()
    typed = str(raw.get("lot_number") or "").strip().upper()
    number = ""
    if scan_text:
        if len(scan_text) > SCAN_MAX:
            raise Invalid(
                f"A barcode has at most {SCAN_MAX} characters.", field=_field(index, "scan")
            )
        try:
            scan = parse_scan(scan_text)
        except CodeError as exc:
            raise Invalid(str(exc), field=_field(index, "scan")) from None
        found = packages_for_scan(scan)
        if pocket.package not in found:
            what = f"NDC {found[0].ndc10}" if len(found) == 1 else "another package"
            raise Invalid(
                f"This barcode is {what}, not {_drug(pocket.package)} that pocket "
                f"{pocket.place} holds.",
                field=_field(index, "scan"),
            )
        number = (scan.lot or "").strip().upper()
        if number and typed and typed != number:
            raise Invalid(
                f"The barcode says lot {number} but lot {typed} was typed.",
                field=_field(index, "lot_number"),
            )
        if not number and not typed:
            raise Invalid(
                "That barcode carries no lot number: type the lot.", field=_field(index, "scan")
            )
    number = number or typed
    if not number:
        raise Invalid(
            f"Scan the package or type its lot number for pocket {pocket.place}.",
            field=_field(index, "lot"),
        )
    if len(number) > LOT_MAX:
        raise Invalid(
            f"A lot number has at most {LOT_MAX} characters.", field=_field(index, "lot_number")
        )
    lot = Lot.objects.filter(package_id=pocket.package_id, number=number).first()
    if lot is None:
        raise Invalid(
            f"Lot {number} of {_drug(pocket.package)} is not in the pharmacy's stock.",
            field=_field(index, "lot"),
        )
    return lot


def _room_left(pocket: Pocket, on_hand: Decimal, quantity: Decimal, index: int) -> None:
    room = pocket.par - on_hand
    if quantity > room:
        fits = f"at most {_n(room)} fit" if room > 0 else "nothing fits"
        raise Invalid(
            f"Pocket {pocket.place} holds {_n(on_hand)} of par {_n(pocket.par)}: {fits}, "
            f"{_n(quantity)} is too many.",
            field=_field(index, "quantity"),
        )


def _parse_lines(cabinet: Cabinet, lines: Sequence[Any]) -> list[_Line]:
    if not isinstance(lines, Sequence) or isinstance(lines, str | bytes):
        raise Invalid("Give the restock lines.", field="lines")
    if not lines:
        raise Invalid("Enter a quantity for at least one pocket.", field="lines")
    if len(lines) > MAX_LINES:
        raise Invalid(f"At most {MAX_LINES} lines in one restock.", field="lines")
    pockets = {
        p.pk: p
        for p in Pocket.objects.select_related("package__product", "cabinet").filter(
            cabinet=cabinet
        )
    }
    out: list[_Line] = []
    errors: list[dict[str, str]] = []
    planned: dict[int, Decimal] = {}
    for index, raw in enumerate(lines):
        try:
            if not isinstance(raw, Mapping):
                raise Invalid(
                    "Each line is a pocket, a lot and a quantity.", field=_field(index, "pocket_id")
                )
            try:
                pocket_id = int(str(raw.get("pocket_id")))
            except (TypeError, ValueError):
                pocket_id = 0
            pocket = pockets.get(pocket_id)
            if pocket is None:
                raise Invalid(
                    f"No pocket {raw.get('pocket_id')!s} in cabinet {cabinet.code}.",
                    field=_field(index, "pocket_id"),
                )
            if not pocket.active:
                raise Invalid(
                    f"Pocket {pocket.place} is out of use.", field=_field(index, "pocket_id")
                )
            quantity = ledger.quantity_of(raw.get("quantity"), field=_field(index, "quantity"))
            counted = raw.get("counted_before")
            counted_before: Decimal | None = None
            already = planned.get(pocket.pk)
            given = counted is not None and not (isinstance(counted, str) and not counted.strip())
            if pocket.controlled and already is None and not given:
                raise Invalid(
                    f"Count pocket {pocket.place} before restocking it: it holds a "
                    "controlled drug.",
                    field=_field(index, "counted_before"),
                )
            if given and already is None:
                counted_before = _amount(
                    counted, field=_field(index, "counted_before"), what="count", zero_ok=True
                )
            lot = _lot_of_line(pocket, raw, index)
            start = (
                already
                if already is not None
                else (counted_before if counted_before is not None else pocket.on_hand)
            )
            _room_left(pocket, start, quantity, index)
            planned[pocket.pk] = start + quantity
            out.append(_Line(index, pocket, lot, quantity, counted_before))
        except Invalid as exc:
            errors.extend(exc.errors)
    if errors:
        raise Invalid(errors=errors)
    return out


def _witness(
    actor: User, needed: bool, witness: Mapping[str, Any] | None, action: str
) -> Witness | None:
    if not needed:
        return None
    if not witness or not str(witness.get("username") or "").strip():
        raise Invalid(
            "A controlled pocket's stock is witnessed: enter the witness's user name and password.",
            field="witness.username",
        )
    return witness_confirm(actor=actor, given=witness, action=action)


@dataclass(frozen=True)
class Restocked:
    """What a restock did: the moves into the pockets and any discrepancy opened by a count."""

    moves: list[CabinetMove]
    discrepancies: list[CabinetDiscrepancy]


def cabinet_restock(
    *,
    actor: User | None,
    cabinet: Cabinet,
    lines: Sequence[Mapping[str, Any]],
    witness: Mapping[str, Any] | None = None,
) -> list[CabinetMove]:
    """Restock pockets of ``cabinet`` from the pharmacy's stock. Each line is a dict with
    ``pocket_id``, ``lot_number`` or ``scan`` (a barcode, GS1 included), ``quantity`` and,
    for a controlled pocket, ``counted_before``. All lines or none. Returns the restock
    moves (one per line), in line order."""
    return cabinet_restock_full(actor=actor, cabinet=cabinet, lines=lines, witness=witness).moves


def cabinet_restock_full(
    *,
    actor: User | None,
    cabinet: Cabinet,
    lines: Sequence[Mapping[str, Any]],
    witness: Mapping[str, Any] | None = None,
) -> Restocked:
    """:func:`cabinet_restock`, also returning the discrepancies its counts opened."""
    authorize(actor, Cap.ADC_RESTOCK)
    actor = _signed_in(actor)
    site = actor.site
    _own(cabinet, site)
    if not cabinet.active:
        raise Conflict(f"Cabinet {cabinet.code} is out of service.", field="cabinet")
    parsed = _parse_lines(cabinet, lines)
    # The witness re-authenticates before the transaction: a failed proof is recorded in
    # the audit log in its own transaction, and must stay recorded.
    proof = _witness(actor, any(line.pocket.controlled for line in parsed), witness, RESTOCK_ACTION)
    witness_user = proof.user if proof is not None else None
    witness_name = proof.name if proof is not None else ""
    today = site.today()
    ref = ledger.Ref("cabinet", cabinet.pk)
    moves: list[CabinetMove] = []
    opened: list[CabinetDiscrepancy] = []
    logged: list[dict[str, Any]] = []

    with transaction.atomic():
        balances = {
            b.lot_id: b
            for b in ledger.lock_in_order(
                StockBalance.objects.filter(
                    site=site, lot_id__in=[line.lot.pk for line in parsed]
                ).values_list("pk", flat=True)
            )
        }
        for line in parsed:
            pocket = line.pocket
            # The witness signs for the controlled pockets: the other lines are not theirs.
            seen_by = witness_user if pocket.controlled else None
            seen_name = witness_name if pocket.controlled else ""
            who = Who(
                source=FeedSource.USER,
                actor=actor,
                witness_name=seen_name,
                note=f"Restock of {cabinet.code} from the pharmacy",
            )
            entry: dict[str, Any] = {
                "pocket": pocket.place,
                "ndc": pocket.package.ndc11,
                "lot": line.lot.number,
                "quantity": _n(line.quantity),
            }
            if line.counted_before is not None:
                try:
                    counted, expected = cabinet_ledger.count(
                        pocket=pocket, counted=line.counted_before, who=who
                    )
                except (Invalid, Conflict) as exc:
                    raise type(exc)(
                        exc.message, field=_field(line.index, "counted_before")
                    ) from None
                entry |= {"counted_before": _n(line.counted_before), "expected": _n(expected)}
                if line.counted_before != expected:
                    found = cabinet_ledger.discrepancy_open(
                        pocket=pocket,
                        kind=DiscrepancyKind.COUNT_MISMATCH,
                        expected=expected,
                        found=line.counted_before,
                        move=counted[0] if counted else None,
                        cabinet_user=actor.username,
                    )
                    opened.append(found)
                    entry["discrepancy"] = found.pk
            pocket.refresh_from_db(fields=["on_hand"])
            _room_left(pocket, pocket.on_hand, line.quantity, line.index)
            balance = balances.get(line.lot.pk)
            if balance is None:
                raise Conflict(
                    f"Lot {line.lot.number} is not in the pharmacy's stock.",
                    field=_field(line.index, "lot"),
                )
            try:
                out = ledger.post_out(
                    balance=balance,
                    quantity=line.quantity,
                    reason=MoveReason.CABINET_RESTOCK,
                    actor=actor,
                    ref=ref,
                    note=f"To cabinet {cabinet.code}, pocket {pocket.place}",
                    dispensable_only=True,
                    today=today,
                    witness=seen_by,
                )
            except Conflict as exc:
                raise Conflict(exc.message, field=_field(line.index, "lot")) from None
            moves.append(
                cabinet_ledger.post(
                    pocket=pocket,
                    lot=line.lot,
                    quantity=line.quantity,
                    event=CabinetEvent.RESTOCK,
                    who=Who(
                        source=FeedSource.USER,
                        actor=actor,
                        witness_name=seen_name,
                        stock_move=out,
                    ),
                )
            )
            entry["on_hand"] = _n(pocket.on_hand)
            logged.append(entry)
        audit_record(
            actor=actor,
            action=RESTOCK_ACTION,
            site=site,
            obj=cabinet,
            data={"cabinet": cabinet.code, "witness": witness_name, "lines": logged},
        )
    return Restocked(moves=moves, discrepancies=opened)


# --- Unload -------------------------------------------------------------------------------------


def pocket_unload(
    *,
    actor: User | None,
    pocket: Pocket,
    quantity: Any,
    lot_number: str | None = None,
    reason: str,
    witness: Mapping[str, Any] | None = None,
) -> list[CabinetMove]:
    """Take ``quantity`` out of ``pocket`` back to the pharmacy's stock: from ``lot_number``
    when given, else first expiry first. Expired and recalled lots come back too (for return
    to the vendor). The record must hold the quantity (a shortfall changes nothing: count
    the pocket first). A controlled pocket's unload is witnessed."""
    authorize(actor, Cap.ADC_RESTOCK)
    actor = _signed_in(actor)
    site = actor.site
    if pocket.cabinet.site_id != site.pk:
        raise NotFound("No such pocket at this pharmacy.")
    amount = ledger.quantity_of(quantity)
    why = _text(reason, field="reason", limit=REASON_MAX, what="why the pocket is unloaded")
    lot: Lot | None = None
    number = str(lot_number or "").strip().upper()
    if number:
        lot = Lot.objects.filter(package_id=pocket.package_id, number=number).first()
        held = (
            PocketStock.objects.filter(pocket=pocket, lot=lot)
            .values_list("on_hand", flat=True)
            .first()
            if lot is not None
            else None
        )
        if lot is None or not held:
            raise Invalid(f"Pocket {pocket.place} holds no lot {number}.", field="lot_number")
    total = PocketStock.objects.filter(pocket=pocket, **({"lot": lot} if lot else {})).aggregate(
        total=Sum("on_hand")
    )["total"] or Decimal(0)
    if amount > total:
        what = f" of lot {number}" if lot else ""
        raise Conflict(
            f"Pocket {pocket.place} holds only {_n(total)}{what} on record; cannot unload "
            f"{_n(amount)}. Count the pocket first.",
            field="quantity",
            code_detail="insufficient_stock",
        )
    proof = _witness(actor, pocket.controlled, witness, UNLOAD_ACTION)
    witness_name = proof.name if proof is not None else ""
    ref = ledger.Ref("cabinet", pocket.cabinet_id)
    moves: list[CabinetMove] = []
    logged: list[dict[str, str]] = []

    with transaction.atomic():
        rows = cabinet_ledger.lots_in(pocket)
        if lot is not None:
            rows = [r for r in rows if r.lot_id == lot.pk]
        remaining = amount
        for row in rows:
            if remaining <= 0:
                break
            portion = min(row.on_hand, remaining)
            back = ledger.post_in(
                site=site,
                lot=row.lot,
                quantity=portion,
                reason=MoveReason.CABINET_RETURN,
                actor=actor,
                ref=ref,
                note=f"From cabinet {pocket.cabinet.code}, pocket {pocket.place}: {why}"[:500],
                witness=proof.user if proof is not None else None,
            )
            try:
                moves.append(
                    cabinet_ledger.post(
                        pocket=pocket,
                        lot=row.lot,
                        quantity=-portion,
                        event=CabinetEvent.UNLOAD,
                        who=Who(
                            source=FeedSource.USER,
                            actor=actor,
                            witness_name=witness_name,
                            stock_move=back,
                            note=why,
                        ),
                    )
                )
            except Conflict as exc:  # a removal landed since we read the pocket
                raise Conflict(exc.message, field="quantity") from None
            logged.append({"lot": row.lot.number, "quantity": _n(portion)})
            remaining -= portion
        if remaining > 0:
            raise Conflict(
                f"Pocket {pocket.place} holds less than {_n(amount)} now; count it first.",
                field="quantity",
                code_detail="insufficient_stock",
            )
        audit_record(
            actor=actor,
            action=UNLOAD_ACTION,
            site=site,
            obj=pocket,
            reason=why,
            data={
                "cabinet": pocket.cabinet.code,
                "place": pocket.place,
                "ndc": pocket.package.ndc11,
                "witness": witness_name,
                "lots": logged,
                "on_hand": _n(pocket.on_hand),
            },
        )
    return moves


__all__ = [
    "Restocked",
    "cabinet_restock",
    "cabinet_restock_full",
    "cabinet_save",
    "holds_stock",
    "pocket_save",
    "pocket_unload",
]
