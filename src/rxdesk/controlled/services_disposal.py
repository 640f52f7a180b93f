"""Controlled substances leaving the pharmacy for good, with a second person present:
destruction on site recorded on DEA Form 41 (two witnesses), and witnessed waste — a
partial dose wasted, a breakage, a patient's returned medicine.

Reference (/work/shared/reference/controlled-substances.md): §5.2 — Form 41 lists each
package destroyed (NDC, full packages, partial count, total), the date, method and location,
and two authorized employees who witnessed destruction to a non-retrievable state; flushing,
or mixing with coffee grounds or kitty litter, is not non-retrievable. §5.3 — a patient's
returned controlled substance is never put back in stock. §5.4 — a wasted partial dose is
recorded with a second witness. §5.1 — a breakage that cannot be recovered is documented
with witnesses.

Both services re-authenticate their witnesses (rxdesk.core.services.witness_confirm) before
their own transaction: a failed proof is audited on its own, and nothing of the action is
written. Stock leaves the ledger as WASTE moves that name the witness; the balances are
locked in the ledger's one order first, so a line that would go below zero refuses the
whole record."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from rxdesk.catalog.models import Package
from rxdesk.controlled.choices import WasteKind
from rxdesk.controlled.models import Destruction, DestructionLine, Waste
from rxdesk.core.audit import audit_record, register_actions
from rxdesk.core.capabilities import Cap
from rxdesk.core.errors import Conflict, Invalid, NotFound
from rxdesk.core.models import Site, User
from rxdesk.core.services import Witness, authorize, witness_confirm
from rxdesk.inventory import ledger
from rxdesk.inventory.choices import AdjustReason, LotStatus, MoveReason
from rxdesk.inventory.ledger import Ref
from rxdesk.inventory.models import Lot, StockBalance, StockMove
from rxdesk.inventory.services.common import balance_at, package_of, site_of
from rxdesk.patients.models import Patient
from rxdesk.rx.choices import FillStatus
from rxdesk.rx.models import Fill

register_actions(
    {
        "cs.destruction.recorded": "Controlled substances destroyed on site (DEA Form 41)",
        "cs.waste.recorded": "Controlled-substance waste or patient return recorded",
    }
)

MAX_LINES = 100
MAX_PACKAGES = 100_000
MAX_NOTE = 500
MAX_REASON = 500
MAX_TEXT = 200
MAX_ID = 2**63 - 1
# A destruction is recorded as it happens or soon after: a clock a few minutes fast on the
# counter PC is not "the future".
CLOCK_SKEW = dt.timedelta(minutes=5)

# Non-retrievable methods (21 CFR 1300.05; DEA names none, incineration meets the standard).
INCINERATION = "incineration"
CHEMICAL_DIGESTION = "chemical_digestion"
OTHER = "other"
METHODS: dict[str, str] = {
    INCINERATION: "On-site incineration",
    CHEMICAL_DIGESTION: "Chemical digestion / denaturing container",
}
METHOD_CHOICES: tuple[tuple[str, str], ...] = (
    *METHODS.items(),
    (OTHER, "Other non-retrievable method (describe it)"),
)
# Ways of getting rid of a drug that leave it retrievable (the 2014 disposal rule's
# preamble): never a method of destruction.
RETRIEVABLE = re.compile(
    r"flush|sewer|drain|toilet|\bsink|trash|garbage|rubbish|dumpster|landfill|"
    r"coffee[\s-]*grounds?|(?:kitty|cat)[\s-]*litter",
    re.IGNORECASE,
)
# Control characters (a NUL byte cannot even be stored by PostgreSQL) are never typed text.
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
MOMENT_FORMATS = (
    "%m/%d/%Y %H:%M",
    "%m/%d/%Y %I:%M %p",
    "%m/%d/%Y %H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%d %H:%M:%S",
)

# A dispensed fill's stock has left the shelf from the moment it is filled.
FILLED = (FillStatus.FILLED, FillStatus.READY, FillStatus.DISPENSED)


# --- Helpers ----------------------------------------------------------------------------------


def schedule_of(package: Package) -> str:
    """The DEA schedule in force for the package's product ('' if not controlled)."""
    return package.product.dea_schedule


def method_of(value: Any) -> str:
    """The method of destruction as recorded: a listed non-retrievable method, or another
    one described in words. Flushing, the sewer, the trash, coffee grounds or kitty litter
    leave the drug retrievable and are refused."""
    text = " ".join(_text(value, field="method", limit=MAX_TEXT).split())
    if not text or text.lower() == OTHER:
        raise Invalid(
            "Choose the method of destruction (incineration, chemical digestion) or describe "
            "another non-retrievable method.",
            field="method",
        )
    if text in METHODS:
        return METHODS[text]
    if text in METHODS.values():
        return text
    if RETRIEVABLE.search(text):
        raise Invalid(
            "Flushing, the sewer or sink, the trash, coffee grounds or kitty litter do not make "
            "a drug non-retrievable: destroy it by incineration or a chemical digestion "
            "container, or send it to a reverse distributor.",
            field="method",
        )
    if len(text) < 8:
        raise Invalid("Describe the method in a few words.", field="method")
    described = f"Other: {text}"
    if len(described) > MAX_TEXT:
        raise Invalid(f"At most {MAX_TEXT - 7} characters.", field="method")
    return described


def moment_of(value: Any, site: Site, *, field: str) -> dt.datetime:
    """An aware date and time; one typed without a zone is the pharmacy's local time."""
    if value is None or (isinstance(value, str) and not value.strip()):
        raise Invalid("Enter the date and time.", field=field)
    when: dt.datetime | None = None
    if isinstance(value, dt.datetime):
        when = value
    elif isinstance(value, dt.date):
        raise Invalid("Enter the time as well as the date.", field=field)
    else:
        text = str(value).strip()
        try:
            when = dt.datetime.fromisoformat(text)
        except ValueError:
            for pattern in MOMENT_FORMATS:
                try:
                    when = dt.datetime.strptime(text, pattern)
                    break
                except ValueError:
                    continue
        if when is None:
            raise Invalid("Enter the date and time as MM/DD/YYYY HH:MM.", field=field)
    if timezone.is_naive(when):
        when = when.replace(tzinfo=site.tz)
    if when.year < 2000:
        raise Invalid("Check the year.", field=field)
    return when


def _count_of(value: Any, *, field: str) -> int:
    """A whole number of packages, zero or more."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return 0
    if isinstance(value, bool):
        raise Invalid("Enter a whole number of packages.", field=field)
    try:
        number = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise Invalid(f"'{value}' is not a number of packages.", field=field) from None
    if not number.is_finite() or number != number.to_integral_value():
        raise Invalid("Enter a whole number of packages.", field=field)
    if number < 0:
        raise Invalid("The number of packages cannot be negative.", field=field)
    if number > MAX_PACKAGES:
        raise Invalid("Too many packages for one line.", field=field)
    return int(number)


def _partial_of(value: Any, *, field: str) -> Decimal:
    """What is left in an opened package: zero or more, at most three decimals."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return Decimal(0)
    if isinstance(value, bool):
        raise Invalid("Enter a quantity.", field=field)
    if isinstance(value, float):
        value = str(value)
    try:
        quantity = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise Invalid(f"'{value}' is not a quantity.", field=field) from None
    if not quantity.is_finite():
        raise Invalid("Enter a number.", field=field)
    if quantity < 0:
        raise Invalid("The quantity cannot be negative.", field=field)
    if quantity != quantity.quantize(ledger.QUANTUM):
        raise Invalid("Use at most three decimal places.", field=field)
    return quantity.quantize(ledger.QUANTUM)


def _id_of(value: Any, *, field: str, what: str) -> int:
    try:
        pk = int(str(value).strip())
    except ValueError:
        raise Invalid(f"No such {what} at this pharmacy.", field=field) from None
    if not 0 < pk <= MAX_ID:
        raise Invalid(f"No such {what} at this pharmacy.", field=field)
    return pk


def _text(value: Any, *, field: str, limit: int, required: str = "") -> str:
    text = str(value or "").strip()
    if CONTROL.search(text):
        raise Invalid("Remove the control characters.", field=field)
    if required and not text:
        raise Invalid(required, field=field)
    if len(text) > limit:
        raise Invalid(f"At most {limit} characters.", field=field)
    return text


def _stock_of(site: Site, package: Package | None, line: Mapping[str, Any], prefix: str) -> Any:
    """The stock a line names: a balance id, or an NDC (or scan) and a lot number."""
    balance_id = line.get("balance_id")
    if balance_id not in (None, ""):
        try:
            return balance_at(site, _id_of(balance_id, field=f"{prefix}balance_id", what="stock"))
        except NotFound:
            raise Invalid("No such stock at this pharmacy.", field=f"{prefix}balance_id") from None
    if package is None:
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


def _controlled(package: Package, *, field: str) -> str:
    schedule = schedule_of(package)
    if not schedule:
        raise Invalid(
            f"NDC {package.ndc10} is not a controlled substance: record it as an ordinary "
            "inventory adjustment.",
            field=field,
        )
    return schedule


def _witness_site(witness: Witness, site: Site, field: str) -> Witness:
    # An actor always names a witness of its own pharmacy (witness_confirm); the operator at
    # the shell names the site, and the witness must work there too.
    if witness.user.site_id != site.pk:
        raise Invalid(
            f"{witness.user.username} does not work at this pharmacy.", field=f"{field}.username"
        )
    return witness


def _witness_data(witness: Witness) -> dict[str, str]:
    return {
        "user": witness.user.username,
        "name": witness.user.display_name,
        "factors": witness.factors,
        "at": witness.at.isoformat(),
    }


def _destroy_reason(balance: StockBalance, today: dt.date) -> str:
    expiry = balance.lot.expiry
    if balance.status == LotStatus.EXPIRED or (expiry is not None and expiry < today):
        return AdjustReason.EXPIRED_WASTE
    if balance.status == LotStatus.DAMAGED:
        return AdjustReason.DAMAGED
    # Recalled, quarantined or simply unwanted stock: the note names the Form 41.
    return AdjustReason.OTHER


# --- Destruction (DEA Form 41) ----------------------------------------------------------------


@dataclass(frozen=True)
class _Line:
    index: int
    balance: StockBalance
    schedule: str
    full_packages: int
    partial: Decimal
    quantity: Decimal

    @property
    def field(self) -> str:
        name = "full_packages" if self.full_packages else "partial_quantity"
        return f"lines.{self.index}.{name}"


def _destruction_lines(site: Site, lines: Sequence[Mapping[str, Any]]) -> list[_Line]:
    if isinstance(lines, (str, bytes, Mapping)) or not lines:
        raise Invalid("Add at least one package to destroy.", field="lines")
    if len(lines) > MAX_LINES:
        raise Invalid(f"At most {MAX_LINES} lines on one Form 41.", field="lines")
    parsed: list[_Line] = []
    seen: dict[int, int] = {}
    for index, line in enumerate(lines):
        prefix = f"lines.{index}."
        if not isinstance(line, Mapping):
            raise Invalid("Each line names the stock and how much.", field=f"lines.{index}")
        balance = _stock_of(site, None, line, prefix)
        where_named = "balance_id" if line.get("balance_id") not in (None, "") else "ndc"
        schedule = _controlled(balance.package, field=f"{prefix}{where_named}")
        if balance.pk in seen:
            raise Invalid(
                f"Lot {balance.lot.number} is on line {seen[balance.pk] + 1} already.",
                field=f"{prefix}{where_named}",
            )
        seen[balance.pk] = index
        full = _count_of(line.get("full_packages"), field=f"{prefix}full_packages")
        partial = _partial_of(line.get("partial_quantity"), field=f"{prefix}partial_quantity")
        size = balance.package.package_quantity
        unit = balance.package.billing_unit
        if partial >= size:
            raise Invalid(
                f"A partial package holds less than a full one ({size.normalize():f} {unit}): "
                "count full packages as packages.",
                field=f"{prefix}partial_quantity",
            )
        quantity = (size * full + partial).quantize(ledger.QUANTUM)
        if quantity <= 0:
            raise Invalid(
                "Enter the full packages or the partial count destroyed.",
                field=f"{prefix}full_packages",
            )
        item = _Line(index, balance, schedule, full, partial, quantity)
        if quantity > balance.on_hand:
            raise Conflict(
                f"Only {balance.on_hand.normalize():f} {unit} of lot {balance.lot.number} on "
                f"hand; cannot destroy {quantity.normalize():f}.",
                field=item.field,
            )
        parsed.append(item)
    return parsed


def _witnesses_given(witnesses: Any) -> tuple[Any, Any]:
    if isinstance(witnesses, (str, bytes, Mapping)) or not isinstance(witnesses, Sequence):
        raise Invalid("Two witnesses sign a Form 41.", field="witnesses")
    if len(witnesses) != 2:
        raise Invalid(
            "Exactly two authorized witnesses sign a Form 41: enter both.", field="witnesses"
        )
    return witnesses[0], witnesses[1]


def cs_destroy(
    *,
    actor: User | None,
    destroyed_at: Any,
    method: Any,
    location: Any,
    lines: Sequence[Mapping[str, Any]],
    witnesses: Sequence[Mapping[str, Any]],
    note: str = "",
    site: Site | None = None,
) -> Destruction:
    """Record the destruction on site of controlled stock to a non-retrievable state, on
    DEA Form 41. Each line names a controlled package of this pharmacy (``balance_id``, or
    ``ndc`` + ``lot_number``) in any status — expired, damaged, recalled stock is what gets
    destroyed — with ``full_packages`` and a ``partial_quantity`` (less than a package).
    Two ``witnesses`` (``username``, ``password``, ``otp``), distinct and neither of them the
    actor, re-authenticate now. One WASTE move per line; all or nothing."""
    authorize(actor, Cap.CS_DESTROY)
    where = site_of(actor, site)
    moment = moment_of(destroyed_at, where, field="destroyed_at")
    if moment > timezone.now() + CLOCK_SKEW:
        raise Invalid("The destruction cannot be in the future.", field="destroyed_at")
    how = method_of(method)
    place = _text(
        location, field="location", limit=MAX_TEXT, required="Enter where it was destroyed."
    )
    remark = _text(note, field="note", limit=MAX_NOTE)
    parsed = _destruction_lines(where, lines)
    first_given, second_given = _witnesses_given(witnesses)
    action = "cs.destruction.recorded"
    first = _witness_site(
        witness_confirm(actor=actor, given=first_given, action=action, field="witnesses.0"),
        where,
        "witnesses.0",
    )
    second = _witness_site(
        witness_confirm(
            actor=actor,
            given=second_given,
            action=action,
            field="witnesses.1",
            not_also=(first.user,),
        ),
        where,
        "witnesses.1",
    )
    with transaction.atomic():
        today = where.today()
        # Several balances change: lock them in the ledger's one order, then decide on the
        # amounts as committed now (a dispensing may have landed since the lines were read).
        locked = {b.pk: b for b in ledger.lock_in_order(item.balance.pk for item in parsed)}
        for item in parsed:
            fresh = locked[item.balance.pk]
            if item.quantity > fresh.on_hand:
                raise Conflict(
                    f"Line {item.index + 1}: only {fresh.on_hand.normalize():f} "
                    f"{fresh.package.billing_unit} of lot {fresh.lot.number} on hand; cannot "
                    f"destroy {item.quantity.normalize():f}. Nothing was destroyed.",
                    field=item.field,
                )
        destruction = Destruction.objects.create(
            site=where,
            destroyed_at=moment,
            method=how,
            location=place,
            performed_by=actor,
            performer_name=actor.display_name if actor is not None else "system",
            witness_1=first.user,
            witness_1_name=first.user.display_name,
            witness_1_factors=first.factors,
            witness_2=second.user,
            witness_2_name=second.user.display_name,
            witness_2_factors=second.factors,
            note=remark,
        )
        recorded: list[dict[str, Any]] = []
        for item in parsed:
            fresh = locked[item.balance.pk]
            # The line and its move point at each other. The move is append-only, so it is
            # posted second with the line's id; the line's move is set once the move exists.
            row = DestructionLine.objects.create(
                destruction=destruction,
                balance=fresh,
                package_id=fresh.package_id,
                lot_id=fresh.lot_id,
                full_packages=item.full_packages,
                partial_quantity=item.partial,
                quantity=item.quantity,
            )
            try:
                move = ledger.post_out(
                    balance=fresh,
                    quantity=item.quantity,
                    reason=MoveReason.WASTE,
                    actor=actor,
                    ref=Ref("cs_destruction_line", row.pk),
                    note=f"DEA Form 41 #{destruction.pk}: {how}",
                    adjust_reason=_destroy_reason(fresh, today),
                    witness=first.user,
                )
            except Conflict as exc:
                raise Conflict(
                    f"Line {item.index + 1}: {exc.message} Nothing was destroyed.",
                    field=item.field,
                ) from None
            DestructionLine.objects.filter(pk=row.pk).update(move=move)
            row.move = move
            recorded.append(
                {
                    "line": row.pk,
                    "ndc": fresh.package.ndc11,
                    "lot": fresh.lot.number,
                    "schedule": item.schedule,
                    "full_packages": item.full_packages,
                    "partial_quantity": str(item.partial),
                    "quantity": str(item.quantity),
                    "move": move.pk,
                    "balance_after": str(move.balance_after),
                }
            )
        audit_record(
            actor=actor,
            site=where,
            action=action,
            obj=destruction,
            reason=remark,
            data={
                "destroyed_at": moment.isoformat(),
                "method": how,
                "location": place,
                "lines": recorded,
                "witnesses": [_witness_data(first), _witness_data(second)],
            },
        )
    return destruction


# --- Waste: partial doses, breakage, patient returns -----------------------------------------


def _fill_at(site: Site, fill_id: Any) -> Fill:
    pk = _id_of(fill_id, field="fill_id", what="fill")
    found = Fill.objects.select_related("prescription", "package").filter(site=site, pk=pk).first()
    if found is None:
        raise Invalid("No such fill at this pharmacy.", field="fill_id")
    return found


def _patient_at(site: Site, patient_id: Any) -> Patient:
    pk = _id_of(patient_id, field="patient_id", what="patient")
    found = Patient.objects.filter(site=site, pk=pk).first()
    if found is None:
        raise Invalid("No such patient at this pharmacy.", field="patient_id")
    return found


def _fill_lot(fill: Fill, package: Package, lot_number: str) -> Lot | None:
    """The lot a fill's medicine came from: the one typed, else the single lot its
    dispensing took (None when it took several or none is on record)."""
    if lot_number:
        found = Lot.objects.filter(package=package, number=lot_number).first()
        if found is None:
            raise Invalid(f"No lot {lot_number} of NDC {package.ndc10}.", field="lot_number")
        return found
    lots = set(
        StockMove.objects.filter(
            site_id=fill.site_id,
            reference_type="fill",
            reference_id=str(fill.pk),
            reason=MoveReason.DISPENSE,
            package=package,
        ).values_list("lot_id", flat=True)
    )
    return Lot.objects.get(pk=lots.pop()) if len(lots) == 1 else None


def _fill_checked(fill: Fill, package: Package, statuses: Sequence[str], done: str) -> Fill:
    if fill.status not in statuses:
        raise Invalid(
            f"Rx {fill.prescription.number}-{fill.number} is "
            f"{fill.get_status_display().lower()}: {done}",
            field="fill_id",
        )
    if fill.package_id != package.pk:
        filled_with = fill.package.ndc10 if fill.package is not None else "no NDC"
        raise Invalid(
            f"Rx {fill.prescription.number}-{fill.number} was filled with {filled_with}, "
            f"not NDC {package.ndc10}.",
            field="ndc",
        )
    return fill


def cs_waste_record(
    *,
    actor: User | None,
    kind: str,
    ndc: Package | str | None,
    quantity: Any,
    reason: str,
    lot_number: str | None = None,
    balance_id: Any = None,
    fill_id: Any = None,
    patient_id: Any = None,
    method: str = "",
    witness: Mapping[str, Any] | Any = None,
    site: Site | None = None,
) -> Waste:
    """Record controlled-substance waste with one witness who re-authenticates now.

    * ``partial_dose``: what is left of a dose — from stock the pharmacy still holds (a
      ``balance_id``, or the ``lot_number``: a WASTE move naming the witness) or from a
      dispensed fill (``fill_id``: recorded only, no more than the fill's quantity);
    * ``patient_return``: a patient's returned medicine (``patient_id`` or ``fill_id``)
      — recorded only, never put back in stock; the ``method`` of disposal is stated;
    * ``breakage``: broken or spilled stock that cannot be recovered (``balance_id`` or
      ``lot_number``): a WASTE move."""
    authorize(actor, Cap.CS_WASTE)
    where = site_of(actor, site)
    kind = str(kind or "")
    if kind not in WasteKind.values:
        raise Invalid("Choose partial dose, patient return or breakage.", field="kind")
    package = package_of(ndc, field="ndc")
    schedule = _controlled(package, field="ndc")
    qty = ledger.quantity_of(quantity, field="quantity")
    why = _text(reason, field="reason", limit=MAX_REASON, required="Say why it was wasted.")
    how = _text(method, field="method", limit=MAX_TEXT)
    number = _text(lot_number, field="lot_number", limit=40).upper()
    has_balance = balance_id not in (None, "")
    has_fill = fill_id not in (None, "")
    has_patient = patient_id not in (None, "")
    from_stock = has_balance or (bool(number) and not has_fill)
    balance: StockBalance | None = None
    fill: Fill | None = None
    patient: Patient | None = None
    lot: Lot | None = None

    if kind == WasteKind.PATIENT_RETURN:
        if has_balance:
            raise Invalid(
                "A patient's returned medicine never goes back to stock: name the patient or "
                "the fill, not a stock lot.",
                field="balance_id",
            )
        if not has_fill and not has_patient:
            raise Invalid("Name the patient (or the fill) who returned it.", field="patient_id")
        if not how:
            raise Invalid("Say how the returned medicine is disposed of.", field="method")
        if RETRIEVABLE.search(how):
            raise Invalid(
                "Flushing, the sink, the trash, coffee grounds or kitty litter are not a "
                "disposal for a controlled substance.",
                field="method",
            )
    elif kind == WasteKind.BREAKAGE:
        if has_fill:
            raise Invalid("A breakage is of stock on the shelf, not of a fill.", field="fill_id")
        if not from_stock:
            raise Invalid("Name the stock (the lot) that broke.", field="balance_id")
    else:  # partial dose
        if has_fill and has_balance:
            raise Invalid(
                "A partial dose comes either from stock or from a dispensed fill, not both.",
                field="fill_id",
            )
        if not has_fill and not from_stock:
            raise Invalid(
                "Name the stock (the lot) or the dispensed fill the dose came from.",
                field="balance_id",
            )

    if from_stock and kind != WasteKind.PATIENT_RETURN:
        balance = _stock_of(
            where, package, {"balance_id": balance_id, "lot_number": number}, prefix=""
        )
        if balance.package_id != package.pk:
            raise Invalid(
                f"That stock is NDC {balance.package.ndc10}, not {package.ndc10}.",
                field="balance_id",
            )
        if qty > balance.on_hand:
            raise Conflict(
                f"Only {balance.on_hand.normalize():f} {package.billing_unit} of lot "
                f"{balance.lot.number} on hand.",
                field="quantity",
            )
        lot = balance.lot
    else:
        if has_fill:
            fill = _fill_checked(
                _fill_at(where, fill_id),
                package,
                (FillStatus.DISPENSED,) if kind == WasteKind.PATIENT_RETURN else FILLED,
                "only a fill the patient received can be returned."
                if kind == WasteKind.PATIENT_RETURN
                else "its medicine has not left the shelf.",
            )
            if qty > fill.quantity:
                raise Invalid(
                    f"More than the fill's {fill.quantity.normalize():f} {package.billing_unit}.",
                    field="quantity",
                )
            lot = _fill_lot(fill, package, number)
        elif number:
            lot = Lot.objects.filter(package=package, number=number).first()
            if lot is None:
                raise Invalid(f"No lot {number} of NDC {package.ndc10}.", field="lot_number")
    if has_patient:
        patient = _patient_at(where, patient_id)
        if fill is not None and fill.prescription.patient_id != patient.pk:
            raise Invalid("That fill is another patient's.", field="patient_id")
    elif fill is not None:
        patient = fill.prescription.patient

    confirmed = _witness_site(
        witness_confirm(actor=actor, given=witness, action="cs.waste.recorded", field="witness"),
        where,
        "witness",
    )
    with transaction.atomic():
        if fill is not None:
            # What was wasted or returned of one fill never adds up to more than it held.
            before = Waste.objects.filter(site=where, fill=fill).aggregate(total=Sum("quantity"))[
                "total"
            ] or Decimal(0)
            if before + qty > fill.quantity:
                raise Conflict(
                    f"{before.normalize():f} {package.billing_unit} of Rx "
                    f"{fill.prescription.number}-{fill.number} is recorded as wasted or returned "
                    f"already; the fill held {fill.quantity.normalize():f}.",
                    field="quantity",
                )
        if balance is not None:
            ledger.lock_in_order([balance.pk])
        waste = Waste.objects.create(
            site=where,
            kind=kind,
            package=package,
            lot=lot,
            quantity=qty,
            fill=fill,
            patient=patient,
            method=how,
            reason=why,
            performed_by=actor,
            performer_name=actor.display_name if actor is not None else "system",
            witness=confirmed.user,
            witness_name=confirmed.user.display_name,
            witnessed_at=confirmed.at,
            witness_factors=confirmed.factors,
        )
        move: StockMove | None = None
        if balance is not None:
            move = ledger.post_out(
                balance=balance,
                quantity=qty,
                reason=MoveReason.WASTE,
                actor=actor,
                ref=Ref("cs_waste", waste.pk),
                note=f"{WasteKind(kind).label}: {why}",
                adjust_reason=(
                    AdjustReason.BROKEN if kind == WasteKind.BREAKAGE else AdjustReason.OTHER
                ),
                witness=confirmed.user,
            )
            Waste.objects.filter(pk=waste.pk).update(move=move)
            waste.move = move
        audit_record(
            actor=actor,
            site=where,
            action="cs.waste.recorded",
            obj=waste,
            patient_id=patient.pk if patient is not None else None,
            reason=why,
            data={
                "kind": kind,
                "ndc": package.ndc11,
                "schedule": schedule,
                "lot": lot.number if lot is not None else None,
                "quantity": str(qty),
                "fill": fill.pk if fill is not None else None,
                "method": how,
                "move": move.pk if move is not None else None,
                "balance_after": str(move.balance_after) if move is not None else None,
                "witness": _witness_data(confirmed),
            },
        )
    return waste


__all__ = [
    "METHODS",
    "METHOD_CHOICES",
    "cs_destroy",
    "cs_waste_record",
    "method_of",
    "moment_of",
    "schedule_of",
]
