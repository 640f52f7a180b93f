"""Packaging: unit-dose repackaging (reference §6.2) and multi-dose adherence packages —
med paks, blister cards by day and time (§6.3) — with the site's rules, what each looks
like, the pharmacist's check and the labels.

Repackaging moves stock in one transaction: the source lot leaves the shelf ("Repackaged
into unit doses (source)"), the unit doses come in under their own internal lot with the
beyond-use date as its expiry ("Unit doses repackaged here"), and that lot is quarantined
until a second person — a pharmacist — checks it; a rejected repackaging is destroyed
(waste). A med pak takes no stock: its fills already took it. Every write is audited; a
broken rule changes nothing."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from rxdesk.catalog.models import Package, Product
from rxdesk.core.audit import audit_record, register_actions
from rxdesk.core.capabilities import Cap
from rxdesk.core.errors import Conflict, Forbidden, Invalid, NotFound
from rxdesk.core.models import Site, User
from rxdesk.core.services import authorize
from rxdesk.institutional import labels_packaging, repack
from rxdesk.institutional import queries_packaging as queries
from rxdesk.institutional.cabinet_ledger import settings_of
from rxdesk.institutional.choices import ContainerClass, PackagingStatus, RepackRule, Slot
from rxdesk.institutional.models import (
    Appearance,
    InstitutionalSettings,
    MedPak,
    MedPakItem,
    RepackRecord,
    Resident,
)
from rxdesk.inventory import ledger
from rxdesk.inventory.choices import LotStatus, MoveReason
from rxdesk.inventory.models import Lot, StockBalance
from rxdesk.patients.models import Patient
from rxdesk.rx.models import Fill

register_actions(
    {
        "institutional.packaging_settings.saved": "Repackaging rule and packaging limits saved",
        "institutional.appearance.saved": "A product's appearance (colour, shape, imprint) saved",
        "institutional.repack.created": "Unit doses repackaged (source taken, internal lot "
        "quarantined)",
        "institutional.repack.checked": "Repackaged unit doses checked and released",
        "institutional.repack.rejected": "Repackaged unit doses rejected and destroyed",
        "institutional.repack.labeled": "Unit-dose labels printed",
        "institutional.med_pak.created": "Med pak (adherence package) prepared",
        "institutional.med_pak.checked": "Med pak checked by the pharmacist",
        "institutional.med_pak.labeled": "Med pak label printed",
    }
)

REPACK_PREFIX, PAK_PREFIX = "R", "MP"
NUMBER_ATTEMPTS = 8
CONTAINER_MAX, NOTE_MAX, DESIGN_MAX, CONSENT_MAX = 120, 300, 200, 120
DESCRIPTION_MAX, COLOR_MAX, SHAPE_MAX, IMPRINT_MAX = 160, 40, 40, 60
REPACK_MAX = Decimal("100000")  # units in one repackaging run
MAX_ITEMS = 20
PAK_MAX_DAYS = 35  # a card holds at most five weeks (the table's limit)
QUARANTINE_REASON = "awaiting the pharmacist's check"
SLOT_ORDER = [s.value for s in Slot]


# --- Helpers -------------------------------------------------------------------------------


def _signed_in(actor: User | None) -> User:
    if actor is None:
        raise Forbidden("Sign in: packaging records name who made and who checked them.")
    return actor


def _text(value: Any, *, field: str, limit: int, required: str = "") -> str:
    text = " ".join(str(value or "").split())
    if required and not text:
        raise Invalid(required, field=field)
    if len(text) > limit:
        raise Invalid(f"Keep it to {limit} characters.", field=field)
    return text


def _whole(value: Any, *, field: str, low: int, high: int, what: str) -> int:
    if isinstance(value, bool):
        raise Invalid(f"Give {what} as a whole number.", field=field)
    try:
        number = int(str(value).strip())
    except (TypeError, ValueError):
        raise Invalid(f"Give {what} as a whole number.", field=field) from None
    if not low <= number <= high:
        raise Invalid(f"{what[0].upper()}{what[1:]} must be {low} to {high}.", field=field)
    return number


def _container_class(value: Any) -> str:
    text = str(value or "").strip().upper()
    if text not in ContainerClass.values:
        raise Invalid(
            "Choose the container's moisture class (USP <671>): Class A or Class B.",
            field="container_class",
        )
    return text


def _number(model: type[RepackRecord] | type[MedPak], site: Site, prefix: str) -> str:
    numbers = model.objects.filter(site=site, number__startswith=prefix).values_list(
        "number", flat=True
    )
    last = max((int(n[len(prefix) :]) for n in numbers if n[len(prefix) :].isdigit()), default=0)
    return f"{prefix}{last + 1:03d}"


def _prefix(kind: str, day: dt.date) -> str:
    return f"{kind}{day:%y%m%d}-"


# --- Settings and appearances ----------------------------------------------------------------


def packaging_settings_save(
    *,
    actor: User | None,
    repack_rule: Any,
    repack_months: Any,
    med_pak_days: Any,
    discrepancy_hours: Any,
) -> InstitutionalSettings:
    """The site's repackaging rule (a per-jurisdiction setting), the months of the board's
    own rule, a med pak's beyond-use days (at most 60) and the hours a cabinet discrepancy
    may stay open (the shift)."""
    authorize(actor, Cap.LTC_SETUP)
    actor = _signed_in(actor)
    rule = str(repack_rule or "")
    if rule not in RepackRule.values:
        raise Invalid(
            "Choose the repackaging rule: state 12 months, FDA 6 months or 25 %, or the "
            "board's own months.",
            field="repack_rule",
        )
    months = _whole(repack_months, field="repack_months", low=1, high=12, what="the board's months")
    days = _whole(
        med_pak_days,
        field="med_pak_days",
        low=1,
        high=repack.MED_PAK_MAX_DAYS,
        what="the med pak's beyond-use days",
    )
    hours = _whole(
        discrepancy_hours,
        field="discrepancy_hours",
        low=1,
        high=24,
        what="the hours a discrepancy may stay open",
    )
    site = actor.site
    with transaction.atomic():
        kept = InstitutionalSettings.objects.select_for_update().filter(site=site).first()
        before = (
            {
                "repack_rule": kept.repack_rule,
                "repack_months": kept.repack_months,
                "med_pak_days": kept.med_pak_days,
                "discrepancy_hours": kept.discrepancy_hours,
            }
            if kept is not None
            else None
        )
        if kept is None:
            try:
                with transaction.atomic():
                    kept = InstitutionalSettings.objects.create(site=site)
            except IntegrityError:
                kept = InstitutionalSettings.objects.select_for_update().get(site=site)
        kept.repack_rule = rule
        kept.repack_months = months
        kept.med_pak_days = days
        kept.discrepancy_hours = hours
        kept.updated_at = timezone.now()
        kept.save()
        audit_record(
            actor=actor,
            action="institutional.packaging_settings.saved",
            site=site,
            obj=kept,
            data={
                "before": before,
                "after": {
                    "repack_rule": rule,
                    "repack_months": months,
                    "med_pak_days": days,
                    "discrepancy_hours": hours,
                },
            },
        )
    return kept


def appearance_save(
    *, actor: User | None, product: Product, color: str, shape: str, imprint: str = ""
) -> Appearance:
    """What a product looks like, printed on adherence cards so each tablet can be told
    apart (reference §6.3: the physical description of each drug)."""
    authorize(actor, Cap.PACKAGING_MAKE)
    actor = _signed_in(actor)
    the_color = _text(color, field="color", limit=COLOR_MAX, required="Enter the colour.")
    the_shape = _text(shape, field="shape", limit=SHAPE_MAX, required="Enter the shape.")
    the_imprint = _text(imprint, field="imprint", limit=IMPRINT_MAX)
    with transaction.atomic():
        found = Appearance.objects.select_for_update().filter(product=product).first()
        before = (
            {"color": found.color, "shape": found.shape, "imprint": found.imprint}
            if found is not None
            else None
        )
        if found is None:
            found = Appearance(product=product)
        found.color, found.shape, found.imprint = the_color, the_shape, the_imprint
        found.updated_at = timezone.now()
        found.save()
        audit_record(
            actor=actor,
            action="institutional.appearance.saved",
            site=actor.site,
            obj=found,
            data={
                "product": product.product_ndc,
                "before": before,
                "after": {"color": the_color, "shape": the_shape, "imprint": the_imprint},
            },
        )
    return found


# --- Repackaging ---------------------------------------------------------------------------


def _source_lot(
    package: Package, lot_number: str | None, scanned: queries.ScannedSource | None
) -> Lot:
    typed = " ".join((lot_number or "").split()).upper()
    from_scan = scanned.lot_number if scanned is not None else ""
    if typed and from_scan and typed != from_scan:
        raise Invalid(
            f"The barcode says lot {from_scan} but {typed} was typed: scan the package again.",
            field="lot",
        )
    number = typed or from_scan
    if not number:
        raise Invalid("Scan the package's barcode or type its lot number.", field="lot")
    lot = Lot.objects.filter(package=package, number=number).first()
    if lot is None:
        raise Invalid(
            f"Lot {number} of NDC {package.ndc10} is not in stock here: receive it first.",
            field="lot",
        )
    if scanned is not None and scanned.expiry is not None and lot.expiry != scanned.expiry:
        on_file = repack.us(lot.expiry) if lot.expiry else "no expiry"
        raise Invalid(
            f"The barcode says lot {number} expires {repack.us(scanned.expiry)}, but it is on "
            f"file with {on_file}: check the package.",
            field="lot",
        )
    return lot


def _usable(site: Site, lot: Lot, quantity: Decimal, today: dt.date) -> StockBalance:
    balance = (
        StockBalance.objects.select_related("lot", "package", "site")
        .filter(site=site, lot=lot)
        .first()
    )
    if balance is None or balance.on_hand <= 0:
        raise Invalid(f"Lot {lot.number} is not in stock here.", field="lot")
    if lot.expiry is not None and lot.expiry < today:
        raise Invalid(
            f"Lot {lot.number} expired on {repack.us(lot.expiry)}: expired stock is never "
            "repackaged.",
            field="lot",
        )
    problem = ledger.why_not_dispensable(balance, today)
    if problem:
        raise Invalid(f"{problem} It may not be repackaged.", field="lot")
    if balance.on_hand < quantity:
        raise Invalid(
            f"Only {balance.on_hand.normalize():f} of lot {lot.number} on hand; cannot "
            f"repackage {quantity.normalize():f}.",
            field="quantity",
        )
    return balance


def _repack_quantity(value: Any) -> Decimal:
    count = ledger.quantity_of(value, field="quantity")
    if count != count.to_integral_value():
        raise Invalid("Repackage whole tablets or capsules (no fractions).", field="quantity")
    if count > REPACK_MAX:
        raise Invalid(f"Repackage at most {REPACK_MAX:,} units at a time.", field="quantity")
    return count


def _internal_number(site: Site, package: Package, day: dt.date) -> str:
    """The next internal lot of the day at this pharmacy, skipping a number the ledger
    already knows for this NDC (lots are kept per package, whatever the pharmacy)."""
    prefix = _prefix(REPACK_PREFIX, day)
    number = _number(RepackRecord, site, prefix)
    taken = set(
        Lot.objects.filter(package=package, number__startswith=prefix).values_list(
            "number", flat=True
        )
    )
    n = int(number[len(prefix) :])
    while f"{prefix}{n:03d}" in taken:
        n += 1
    return f"{prefix}{n:03d}"


@dataclass(frozen=True)
class RepackPlan:
    """What a repackaging would do: the package, the source lot and the BUD it would get."""

    package: Package
    lot: Lot
    on_hand: Decimal
    bud: repack.Bud


def _plan(site: Site, package: Package | None, lot_number: str | None, scan: str) -> RepackPlan:
    scanned = queries.read_scan(scan, field="scan") if (scan or "").strip() else None
    if scanned is not None:
        if package is not None and scanned.package is not None and package.pk != scanned.package.pk:
            raise Invalid(
                f"The barcode is NDC {scanned.package.ndc10}, not {package.ndc10}: scan the "
                "package being repackaged.",
                field="scan",
            )
        package = package or scanned.package
    if package is None:
        raise Invalid("Scan the package or give its NDC.", field="package")
    problem = queries.solid_oral_problem(package)
    if problem:
        raise Invalid(problem, field="package")
    lot = _source_lot(package, lot_number, scanned)
    today = site.today()
    balance = _usable(site, lot, Decimal("0.001"), today)
    kept = settings_of(site)
    bud = repack.repack_bud(kept.repack_rule, kept.repack_months, today, lot.expiry)
    return RepackPlan(package=package, lot=lot, on_hand=balance.on_hand, bud=bud)


def repack_preview(
    *, actor: User | None, package: Package | None, lot_number: str | None = None, scan: str = ""
) -> RepackPlan:
    """What :func:`repack_create` would take and the BUD it would give, writing nothing
    (the same checks: solid oral, the lot in stock here and dispensable)."""
    authorize(actor, Cap.PACKAGING_MAKE)
    actor = _signed_in(actor)
    return _plan(actor.site, package, lot_number, scan)


def repack_create(
    *,
    actor: User | None,
    package: Package | None,
    lot_number: str | None = None,
    scan: str = "",
    quantity: Any,
    container: str,
    container_class: str,
    note: str = "",
) -> RepackRecord:
    """Repackage ``quantity`` tablets or capsules of one source lot (scanned, or typed) into
    unit doses: the source leaves stock, the unit doses come in under the day's next
    internal lot (``R``YYMMDD-NNN) with the beyond-use date of the site's rule, quarantined
    until the pharmacist's check."""
    authorize(actor, Cap.PACKAGING_MAKE)
    actor = _signed_in(actor)
    site = actor.site
    today = site.today()
    plan = _plan(site, package, lot_number, scan)
    package, lot, bud = plan.package, plan.lot, plan.bud
    count = _repack_quantity(quantity)
    what = _text(
        container,
        field="container",
        limit=CONTAINER_MAX,
        required="Name the unit-dose container used (e.g. blister, cup, bag).",
    )
    klass = _container_class(container_class)
    the_note = _text(note, field="note", limit=NOTE_MAX)
    _usable(site, lot, count, today)
    kept = settings_of(site)
    assert lot.expiry is not None  # repack_bud refuses a lot without one
    with transaction.atomic():
        record: RepackRecord | None = None
        for _ in range(NUMBER_ATTEMPTS):
            number = _internal_number(site, package, today)
            try:
                with transaction.atomic():
                    record = RepackRecord.objects.create(
                        site=site,
                        number=number,
                        package=package,
                        source_lot=lot,
                        source_expiry=lot.expiry,
                        quantity=count,
                        container=what,
                        container_class=klass,
                        repackaged_on=today,
                        bud=bud.date,
                        bud_rule=bud.rule_text[:300],
                        repackaged_by=actor,
                        note=the_note,
                    )
                break
            except IntegrityError:
                if not RepackRecord.objects.filter(site=site, number=number).exists():
                    raise
        if record is None:
            raise Conflict("Another repackaging took the internal lot; try again.", field="lot")
        ref = ledger.Ref("repack", record.pk)
        taken = ledger.take(
            site=site,
            package=package,
            quantity=count,
            reason=MoveReason.REPACKAGE,
            actor=actor,
            lot=lot,
            ref=ref,
            note=f"Repackaged as {record.number}",
        )
        internal = ledger.lot_get_or_create(package=package, number=record.number, expiry=bud.date)
        came = ledger.post_in(
            site=site,
            lot=internal,
            quantity=count,
            reason=MoveReason.REPACKAGED,
            actor=actor,
            ref=ref,
            note=f"Unit doses from lot {lot.number}",
        )
        balance = ledger.balance_row(site=site, lot=internal)
        ledger.status_set(balance=balance, status=LotStatus.QUARANTINED, reason=QUARANTINE_REASON)
        record.lot = internal
        record.save(update_fields=["lot"])
        audit_record(
            actor=actor,
            action="institutional.repack.created",
            site=site,
            obj=record,
            data={
                "number": record.number,
                "ndc": package.ndc11,
                "source_lot": lot.number,
                "source_expiry": lot.expiry.isoformat(),
                "quantity": f"{count.normalize():f}",
                "container_class": klass,
                "bud": bud.date.isoformat(),
                "rule": kept.repack_rule,
                "moves": [m.pk for m in taken] + [came.pk],
            },
        )
    return record


def _locked_repack(record: RepackRecord, site: Site) -> RepackRecord:
    found = (
        RepackRecord.objects.select_for_update(of=("self",))
        .select_related("package__product", "source_lot", "lot", "site")
        .filter(pk=record.pk, site=site)
        .first()
    )
    if found is None:
        raise NotFound("No such repackaging record at this pharmacy.")
    return found


def _need_made(status: str, label: str, what: str, doing: str) -> None:
    if status != PackagingStatus.MADE:
        raise Conflict(f"{what} is {label.lower()}: it cannot be {doing} now.", field="status")


def repack_check(*, actor: User | None, record: RepackRecord) -> RepackRecord:
    """The pharmacist's check: a second person, never the one who repackaged. Releases the
    internal lot (available to dispense and restock)."""
    authorize(actor, Cap.PACKAGING_CHECK)
    actor = _signed_in(actor)
    site = actor.site
    with transaction.atomic():
        current = _locked_repack(record, site)
        if current.repackaged_by_id == actor.pk:
            raise Conflict(
                f"A second person checks: you repackaged {current.number}. Ask another pharmacist.",
                field="record",
            )
        _need_made(current.status, current.get_status_display(), current.number, "checked")
        released = False
        if current.lot is not None:
            balance = StockBalance.objects.filter(site=site, lot=current.lot).first()
            if balance is not None:
                released = ledger.status_set(
                    balance=balance,
                    status=LotStatus.AVAILABLE,
                    reason="checked by the pharmacist",
                    only_from=[LotStatus.QUARANTINED],
                )
        current.status = PackagingStatus.CHECKED
        current.checked_by = actor
        current.checked_at = timezone.now()
        current.save(update_fields=["status", "checked_by", "checked_at"])
        audit_record(
            actor=actor,
            action="institutional.repack.checked",
            site=site,
            obj=current,
            data={"number": current.number, "released": released},
        )
    record.refresh_from_db()
    return current


def repack_reject(*, actor: User | None, record: RepackRecord, reason: str) -> RepackRecord:
    """Reject repackaged unit doses not yet checked: they are destroyed (what remains of the
    internal lot leaves stock as waste) and never released."""
    authorize(actor, Cap.PACKAGING_CHECK)
    actor = _signed_in(actor)
    site = actor.site
    why = _text(reason, field="reason", limit=200, required="Say why the unit doses are rejected.")
    with transaction.atomic():
        current = _locked_repack(record, site)
        _need_made(current.status, current.get_status_display(), current.number, "rejected")
        wasted = Decimal(0)
        if current.lot is not None:
            balance = (
                StockBalance.objects.select_related("lot", "package", "site")
                .filter(site=site, lot=current.lot)
                .first()
            )
            if balance is not None and balance.on_hand > 0:
                wasted = balance.on_hand
                ledger.post_out(
                    balance=balance,
                    quantity=wasted,
                    reason=MoveReason.WASTE,
                    actor=actor,
                    ref=ledger.Ref("repack", current.pk),
                    note=f"Repackaging {current.number} rejected",
                )
        current.status = PackagingStatus.REJECTED
        current.note = "; ".join(p for p in (current.note, f"Rejected: {why}") if p)[:NOTE_MAX]
        current.checked_by = actor
        current.checked_at = timezone.now()
        current.save(update_fields=["status", "note", "checked_by", "checked_at"])
        audit_record(
            actor=actor,
            action="institutional.repack.rejected",
            site=site,
            obj=current,
            reason=why,
            data={"number": current.number, "wasted": f"{wasted.normalize():f}"},
        )
    return current


def repack_labels_print(*, actor: User | None, record: RepackRecord) -> bytes:
    """The sheet of unit-dose labels (checked records only); every print is recorded."""
    authorize(actor, Cap.PACKAGING_MAKE)
    actor = _signed_in(actor)
    site = actor.site
    with transaction.atomic():
        current = _locked_repack(record, site)
        pdf = labels_packaging.unit_dose_labels(current)
        audit_record(
            actor=actor,
            action="institutional.repack.labeled",
            site=site,
            obj=current,
            data={"number": current.number, "labels": labels_packaging.label_count(current)},
        )
    return pdf


# --- Med paks ------------------------------------------------------------------------------


def _slots(value: Any) -> list[str]:
    if not isinstance(value, (list, tuple)) or not value:
        raise Invalid(
            "Choose the administration times on the card (morning, noon, evening, bedtime).",
            field="slots",
        )
    chosen = set()
    for slot in value:
        if str(slot) not in SLOT_ORDER:
            raise Invalid(
                f"{str(slot)[:20]!r} is not a time slot: use morning, noon, evening or bedtime.",
                field="slots",
            )
        if str(slot) in chosen:
            raise Invalid(f"{slot} is listed twice.", field="slots")
        chosen.add(str(slot))
    return [s for s in SLOT_ORDER if s in chosen]


def _per_slot(value: Any, slots: list[str], field: str) -> dict[str, Decimal]:
    if not isinstance(value, dict) or not value:
        raise Invalid("Give how many go in each time slot.", field=field)
    out: dict[str, Decimal] = {}
    for slot, raw in value.items():
        if str(slot) not in slots:
            raise Invalid(
                f"{str(slot)[:20]!r} is not one of the card's time slots ({', '.join(slots)}).",
                field=field,
            )
        if raw in (None, "", 0, "0"):
            continue
        if isinstance(raw, bool):
            raise Invalid("Give a number of tablets.", field=field)
        if isinstance(raw, float):
            raw = repr(raw)  # a float is already rounded: read it as typed
        try:
            qty = Decimal(str(raw).strip())
        except (InvalidOperation, ValueError):
            raise Invalid(f"{str(raw)[:20]!r} is not a number of tablets.", field=field) from None
        if not qty.is_finite() or qty < 0:
            raise Invalid("Give a number of tablets of zero or more.", field=field)
        if qty == 0:
            continue
        if qty > 20:
            raise Invalid("At most 20 units of one drug in one cavity.", field=field)
        if qty != qty.quantize(Decimal("0.001")):
            raise Invalid("Use at most three decimal places.", field=field)
        if qty * 2 != (qty * 2).to_integral_value():
            raise Invalid("Use whole or half tablets.", field=field)
        out[str(slot)] = qty
    if not out:
        raise Invalid("Give how many go in at least one time slot.", field=field)
    return {s: out[s] for s in slots if s in out}


def _fill_id(value: Any, field: str) -> int:
    if isinstance(value, bool):
        raise Invalid("Choose the fill.", field=field)
    try:
        pk = int(str(value))
    except (TypeError, ValueError):
        raise Invalid("Choose the fill.", field=field) from None
    if not 0 < pk <= queries.MAX_ID:
        raise Invalid("No such fill at this pharmacy.", field=field)
    return pk


def _pak_number(site: Site, day: dt.date) -> str:
    return _number(MedPak, site, _prefix(PAK_PREFIX, day))


def med_pak_create(
    *,
    actor: User | None,
    patient: Patient,
    start_on: dt.date,
    days: Any,
    slots: list[str],
    design: str,
    container_class: str,
    consent_by: str,
    items: list[dict[str, Any]],
    resident: Resident | None = None,
    note: str = "",
) -> MedPak:
    """Prepare a med pak: two or more of the patient's filled tablets or capsules sorted by
    day and time slot, its beyond-use date (the site's days, at most 60, or the earliest
    expiry) and serial ``MP``YYMMDD-NNN. No stock moves: the fills took the stock."""
    authorize(actor, Cap.PACKAGING_MAKE)
    actor = _signed_in(actor)
    site = actor.site
    today = site.today()
    if patient.site_id != site.pk:
        raise NotFound("No such patient at this pharmacy.", field="patient")
    if resident is not None and (resident.site_id != site.pk or resident.patient_id != patient.pk):
        raise Invalid("That resident is not this patient.", field="resident")
    if not isinstance(start_on, dt.date) or isinstance(start_on, dt.datetime):
        raise Invalid("Give the first day on the card.", field="start_on")
    if start_on < today:
        raise Invalid(f"The card cannot start before today ({repack.us(today)}).", field="start_on")
    n_days = _whole(days, field="days", low=1, high=PAK_MAX_DAYS, what="the days on the card")
    the_slots = _slots(slots)
    the_design = _text(
        design,
        field="design",
        limit=DESIGN_MAX,
        required="Describe the card or pouch design (so it can be made again the same way).",
    )
    klass = _container_class(container_class)
    consent = _text(
        consent_by,
        field="consent_by",
        limit=CONSENT_MAX,
        required="Name who consented to the packaging (patient, caregiver or prescriber).",
    )
    the_note = _text(note, field="note", limit=NOTE_MAX)
    if not isinstance(items, (list, tuple)) or len(items) < 2:
        raise Invalid(
            "A med pak holds two or more drugs: for one drug, dispense a unit-of-use or "
            "unit-dose package instead.",
            field="items",
        )
    if len(items) > MAX_ITEMS:
        raise Invalid(f"At most {MAX_ITEMS} drugs on one card.", field="items")
    ids = [
        _fill_id(item.get("fill_id") if isinstance(item, dict) else None, f"items[{i}].fill_id")
        for i, item in enumerate(items)
    ]
    fills = {
        f.pk: f
        for f in Fill.objects.filter(site=site, pk__in=ids).select_related(
            "prescription__patient", "package__product", "prescription__package__product"
        )
    }
    lines: list[dict[str, Any]] = []
    lot_notes: list[str] = []
    seen_rx: set[int] = set()
    for i, (item, pk) in enumerate(zip(items, ids, strict=True)):
        where = f"items[{i}]"
        fill = fills.get(pk)
        if fill is None:
            raise Invalid("No such fill at this pharmacy.", field=f"{where}.fill_id")
        rx = fill.prescription
        label = f"Rx {rx.number}-{fill.number}"
        if rx.patient_id != patient.pk:
            raise Invalid(f"{label} is another patient's prescription.", field=f"{where}.fill_id")
        if fill.status not in queries.PACKABLE_FILLS:
            raise Invalid(
                f"{label} is {fill.get_status_display().lower()}: only a filled fill goes in "
                "a med pak.",
                field=f"{where}.fill_id",
            )
        if rx.pk in seen_rx:
            raise Invalid(f"Rx {rx.number} is already on the card.", field=f"{where}.fill_id")
        seen_rx.add(rx.pk)
        package = fill.package or rx.package
        if package is None:
            raise Invalid(f"{label} names no package.", field=where)
        problem = queries.solid_oral_problem(package)
        if problem:
            raise Invalid(problem, field=where)
        per_slot = _per_slot(item.get("per_slot"), the_slots, f"{where}.per_slot")
        daily = sum(per_slot.values(), Decimal(0))
        total = daily * n_days
        if total > fill.quantity:
            raise Invalid(
                f"{n_days} days at {daily.normalize():f} a day need "
                f"{total.normalize():f}, but {label} holds {fill.quantity.normalize():f}.",
                field=f"{where}.per_slot",
            )
        held = queries.fill_lots(fill)
        lot = held.earliest
        if lot is None or lot.expiry is None:
            raise Invalid(
                f"{label}: no lot with an expiry is recorded for what it took from stock, so "
                "the pak's beyond-use date cannot be set.",
                field=f"{where}.fill_id",
            )
        if len(held.lots) > 1:
            lot_notes.append(
                f"Rx {rx.number}: lots "
                + ", ".join(
                    f"{x.number}" + (f" exp {repack.us(x.expiry)}" if x.expiry else "")
                    for x in held.lots
                )
            )
        given = item.get("description")
        description = _text(given, field=f"{where}.description", limit=DESCRIPTION_MAX)
        if not description:
            look = Appearance.objects.filter(product_id=package.product_id).first()
            if look is None:
                raise Invalid(
                    f"Describe {package.product.display_name} (colour, shape, imprint): no "
                    "appearance is on file for it.",
                    field=f"{where}.description",
                )
            description = str(look)[:DESCRIPTION_MAX]
        lines.append(
            {
                "prescription": rx,
                "fill": fill,
                "package": package,
                "lot": lot,
                "expiry": lot.expiry,
                "description": description,
                "per_slot": {s: f"{q.normalize():f}" for s, q in per_slot.items()},
                "total_quantity": total,
            }
        )
    kept = settings_of(site)
    bud = repack.med_pak_bud(today, kept.med_pak_days, [line["expiry"] for line in lines])
    last_day = start_on + dt.timedelta(days=n_days - 1)
    if last_day > bud.date:
        raise Invalid(
            f"The card runs to {repack.us(last_day)}, past its beyond-use date "
            f"{repack.us(bud.date)} ({bud.rule_text}): make it shorter.",
            field="days",
        )
    full_note = "; ".join(p for p in (the_note, *lot_notes) if p)[:NOTE_MAX]
    with transaction.atomic():
        pak: MedPak | None = None
        for _ in range(NUMBER_ATTEMPTS):
            number = _pak_number(site, today)
            try:
                with transaction.atomic():
                    pak = MedPak.objects.create(
                        site=site,
                        number=number,
                        patient=patient,
                        resident=resident,
                        start_on=start_on,
                        days=n_days,
                        slots=the_slots,
                        design=the_design,
                        container_class=klass,
                        consent_by=consent,
                        prepared_on=today,
                        bud=bud.date,
                        bud_rule=bud.rule_text[:300],
                        prepared_by=actor,
                        note=full_note,
                    )
                break
            except IntegrityError:
                if not MedPak.objects.filter(site=site, number=number).exists():
                    raise
        if pak is None:
            raise Conflict("Another med pak took the serial; try again.", field="items")
        MedPakItem.objects.bulk_create([MedPakItem(pak=pak, **line) for line in lines])
        audit_record(
            actor=actor,
            action="institutional.med_pak.created",
            site=site,
            obj=pak,
            patient_id=patient.pk,
            data={
                "number": pak.number,
                "start_on": start_on.isoformat(),
                "days": n_days,
                "slots": the_slots,
                "bud": bud.date.isoformat(),
                "fills": [line["fill"].pk for line in lines],
            },
        )
    return pak


def _locked_pak(pak: MedPak, site: Site) -> MedPak:
    found = (
        MedPak.objects.select_for_update(of=("self",))
        .select_related("patient", "site")
        .filter(pk=pak.pk, site=site)
        .first()
    )
    if found is None:
        raise NotFound("No such med pak at this pharmacy.")
    return found


def med_pak_check(*, actor: User | None, pak: MedPak) -> MedPak:
    """The pharmacist's check of a med pak: never by the person who prepared it."""
    authorize(actor, Cap.PACKAGING_CHECK)
    actor = _signed_in(actor)
    site = actor.site
    with transaction.atomic():
        current = _locked_pak(pak, site)
        if current.prepared_by_id == actor.pk:
            raise Conflict(
                f"A second person checks: you prepared {current.number}. Ask another pharmacist.",
                field="pak",
            )
        _need_made(current.status, current.get_status_display(), current.number, "checked")
        current.status = PackagingStatus.CHECKED
        current.checked_by = actor
        current.checked_at = timezone.now()
        current.save(update_fields=["status", "checked_by", "checked_at"])
        audit_record(
            actor=actor,
            action="institutional.med_pak.checked",
            site=site,
            obj=current,
            patient_id=current.patient_id,
            data={"number": current.number},
        )
    return current


def med_pak_label_print(*, actor: User | None, pak: MedPak) -> bytes:
    """The card's label (checked paks only); every print is recorded with the patient."""
    authorize(actor, Cap.PACKAGING_MAKE)
    actor = _signed_in(actor)
    site = actor.site
    with transaction.atomic():
        current = _locked_pak(pak, site)
        pdf = labels_packaging.med_pak_label(current)
        audit_record(
            actor=actor,
            action="institutional.med_pak.labeled",
            site=site,
            obj=current,
            patient_id=current.patient_id,
            data={"number": current.number},
        )
    return pdf
