"""The fill workflow: from the queue to the bag.

    queued ─data verification (pharmacist)─▶ to_fill ─fill (scan, count, stock out)─▶ filled
    filled ─final verification (pharmacist)─▶ ready (will-call bin) ─sale─▶ dispensed (sold)
    filled ─sent back─▶ to_fill (the product goes back on the shelf)
    ready ─return to stock─▶ returned (the exact lots go back; the quantity reopens)
    queued / scheduled / to_fill ─hold─▶ on_hold ─release─▶ where it was

Each step is one service: a capability check, the prescription's row locked first and the
fill's after it (then the stock balances, in the ledger's own order), the step recorded in
the fill's append-only history and one audit event. A technician or trainee can never take
a pharmacist's step, through any door. Clinical screening and claims are called through
rxdesk.rx.seams."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction
from django.utils import timezone

from rxdesk.catalog import queries as catalog_queries
from rxdesk.catalog.models import Package, Product
from rxdesk.core.audit import audit_record, register_actions
from rxdesk.core.capabilities import Cap, has
from rxdesk.core.errors import Conflict, Forbidden, Invalid, NotFound
from rxdesk.core.models import User
from rxdesk.core.services import authorize
from rxdesk.inventory.choices import MoveReason
from rxdesk.inventory.ledger import Ref
from rxdesk.inventory.models import StockMove
from rxdesk.inventory.services.stock import stock_dispense, stock_return_to_stock
from rxdesk.rx import rules, seams
from rxdesk.rx.choices import Daw, FillStatus, FillStep, HoldReason, Priority, RxStatus
from rxdesk.rx.models import Fill, Prescription
from rxdesk.rx.services.common import facts_of, own, record, settings_of, state_rules

register_actions(
    {
        "rx.fill.data_verified": "Data verification approved",
        "rx.fill.data_sent_back": "Data verification sent back",
        "rx.fill.filled": "Fill counted out (product scanned, stock taken)",
        "rx.fill.verified": "Final verification approved",
        "rx.fill.sent_back": "Final verification sent back",
        "rx.fill.held": "Fill put on hold",
        "rx.fill.released": "Fill taken off hold",
        "rx.fill.priority": "Fill priority changed",
        "rx.fill.sold": "Fill sold",
        "rx.fill.sale_voided": "Fill's sale voided (back in will-call)",
        "rx.fill.returned": "Fill returned to stock",
    }
)

# Substitution of an A-rated equivalent is not allowed for these DAW codes.
BRAND_ONLY_DAW = (Daw.PRESCRIBER, Daw.PATIENT, Daw.BRAND_BY_LAW)
HOLDABLE = (FillStatus.QUEUED, FillStatus.SCHEDULED, FillStatus.TO_FILL)


ALL_RELATED = ("site", "patient", "product")


def _locked(
    fill: Fill, actor: User, *allowed: str, related: tuple[str, ...] = ALL_RELATED
) -> tuple[Prescription, Fill]:
    """Lock the prescription, then the fill; refuse unless the fill is in ``allowed``.
    ``related``: what the step reads of the prescription in the same statement (the rest
    is still there, read when used) — each table's columns cost time to build and read."""
    own(actor, "fill", fill.site_id)
    rx = (
        Prescription.objects.select_for_update(of=("self",))
        .select_related(*related)
        .get(pk=fill.prescription_id)
    )
    locked = Fill.objects.select_for_update().get(pk=fill.pk)
    locked.prescription = rx
    if allowed and locked.status not in allowed:
        raise Conflict(
            f"Fill {rx.number}-{locked.number} is {locked.get_status_display().lower()}; "
            "this step does not apply now.",
            field="status",
            fill_status=locked.status,
        )
    return rx, locked


def _reason(reason: str, field: str = "reason") -> str:
    text = " ".join((reason or "").split())
    if not text:
        raise Invalid("Say why.", field=field)
    return text[:300]


def _audit(actor: User | None, action: str, fill: Fill, **data: Any) -> None:
    audit_record(
        actor=actor,
        site=fill.prescription.site,
        action=action,
        obj=fill,
        patient_id=fill.prescription.patient_id,
        data={"prescription_id": fill.prescription_id, "fill_number": fill.number, **data},
    )


# --- Data verification -----------------------------------------------------------------------


def fill_data_verify(*, actor: User, fill: Fill, approve: bool = True, reason: str = "") -> Fill:
    """The pharmacist checks the typed prescription against the original (image or
    e-prescription) and the screening results; approved, the fill goes to be filled (and
    its claim is sent); sent back, it waits in the queue with the reason."""
    authorize(actor, Cap.RX_VERIFY_DATA)
    with transaction.atomic():
        rx, locked = _locked(fill, actor, FillStatus.QUEUED, FillStatus.SCHEDULED)
        today = rx.site.today()
        if (
            locked.status == FillStatus.SCHEDULED
            and locked.fillable_on
            and locked.fillable_on > today
        ):
            raise Conflict(
                f"Fill {rx.number}-{locked.number} cannot be filled before "
                f"{locked.fillable_on:%m/%d/%Y}.",
                field="status",
            )
        if rx.status not in (RxStatus.ACTIVE,):
            raise Conflict(
                f"Rx {rx.number} is {rx.get_status_display().lower()}.", field="prescription"
            )
        before = locked.status
        if not approve:
            why = _reason(reason)
            locked.status = FillStatus.QUEUED
            locked.save(update_fields=["status"])
            record(
                locked,
                FillStep.SENT_BACK,
                actor=actor,
                from_status=before,
                reason=why,
                data={"at_step": "data_verification"},
            )
            _audit(actor, "rx.fill.data_sent_back", locked, reason=why)
            return locked
        screening = seams.screen(locked, actor)
        if screening.blocking:
            raise Invalid(errors=screening.blocking)
        locked.status = FillStatus.TO_FILL
        locked.data_verified_by, locked.data_verified_at = actor, timezone.now()
        locked.fillable_on = None
        locked.save(update_fields=["status", "data_verified_by", "data_verified_at", "fillable_on"])
        claim = seams.claim(locked, actor)
        if claim.blocking:
            raise Invalid(errors=claim.blocking)
        record(
            locked,
            FillStep.DATA_VERIFIED,
            actor=actor,
            from_status=before,
            data={
                "screening": screening.note if not screening.ran else screening.record,
                "claim": claim.note if not claim.ran else claim.record,
            },
        )
        _audit(actor, "rx.fill.data_verified", locked)
    return locked


# --- Filling ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scanned:
    package: Package
    lot_number: str
    expiry: dt.date | None


def _scan(actor: User, code: str) -> Scanned:
    try:
        resolved = catalog_queries.resolve_code(actor=actor, code=code)
    except (Invalid, NotFound, Conflict) as exc:
        raise Invalid(exc.message, field="scanned_code") from None
    return Scanned(
        package=resolved.package,
        lot_number=(resolved.scan.lot or "").strip().upper(),
        expiry=resolved.scan.expiry,
    )


def product_mismatch(rx: Prescription, package: Package) -> str:
    """Why ``package`` may not fill ``rx`` ('' when it may): the prescribed product, or an
    A-rated equivalent when the DAW code allows substitution."""
    if package.product_id == rx.product_id:
        return ""  # another package size of the same product is the same drug
    if rx.daw in BRAND_ONLY_DAW:
        return (
            f"NDC {package.ndc10} is {package.product}, not the prescribed {rx.product}; "
            f"DAW {rx.daw} does not allow a substitute."
        )
    equivalent = {e.product.pk for e in catalog_queries.equivalents(rx.product)}
    if package.product_id in equivalent:
        return ""
    return (
        f"NDC {package.ndc10} is {package.product}, which is neither the prescribed "
        f"{rx.product} nor an A-rated equivalent of it."
    )


def same_drug(a: Product, b: Product) -> bool:
    """The same ingredients, strength and dosage form (a different labeler or package):
    what a pharmacist may accept when the equivalence data do not say it. Never a
    different drug."""

    def key(p: Product) -> tuple[str, str, str]:
        return (
            " ".join(p.generic_name.casefold().split()),
            " ".join(p.strength.casefold().split()),
            " ".join(p.dosage_form.casefold().split()),
        )

    return bool(a.generic_name) and key(a) == key(b)


def fill_product(
    *,
    actor: User,
    fill: Fill,
    scanned_code: str = "",
    quantity: Any = None,
    package: Package | None = None,
    override_reason: str = "",
    partial_reason: str = "",
    device: str = "",
    lot_number: str = "",
) -> Fill:
    """Count the fill out: the scanned package must be the prescribed product or an A-rated
    equivalent (a pharmacist may accept a failed scan with a reason); the scanned lot — or
    first-expiry-first-out — leaves the stock ledger in the same transaction."""
    authorize(actor, Cap.RX_FILL)
    authorize(actor, Cap.STOCK_DISPENSE)
    code = (scanned_code or "").strip()
    with transaction.atomic():
        rx, locked = _locked(fill, actor, FillStatus.TO_FILL, related=("site", "product"))
        scanned: Scanned | None = _scan(actor, code) if code else None
        if scanned is None:
            # A label that will not scan: the package is picked by hand, and must still be
            # the prescribed product or an equivalent; a pharmacist accepts it.
            hand = package or rx.package
            if hand is None:
                raise Invalid("Scan the package's barcode.", field="scanned_code")
            chosen = hand
            mismatch = product_mismatch(rx, chosen)
            if mismatch:
                raise Invalid(mismatch, field="package")
            problem = "No barcode was scanned; the package was picked by hand."
        else:
            chosen = scanned.package
            problem = product_mismatch(rx, chosen)
            if problem and not same_drug(rx.product, chosen.product):
                raise Invalid(
                    problem + " Scan the right product.",
                    field="scanned_code",
                )
        override = " ".join((override_reason or "").split())
        if problem:
            if not override:
                raise Invalid(
                    problem + " A pharmacist may accept it with a reason.", field="scanned_code"
                )
            if not has(actor, Cap.RX_SCAN_OVERRIDE):
                raise Forbidden(
                    "Only a pharmacist may accept a product whose scan did not match.",
                    capability=str(Cap.RX_SCAN_OVERRIDE),
                )
        try:
            count = Decimal(str(quantity)) if quantity not in (None, "") else locked.quantity
        except (InvalidOperation, ValueError):
            raise Invalid("Enter the quantity counted.", field="quantity") from None
        if not count.is_finite() or count <= 0:
            raise Invalid("The quantity counted must be more than zero.", field="quantity")
        if count > locked.quantity:
            raise Invalid(
                f"Counted {count} but this fill is for {locked.quantity}.", field="quantity"
            )
        partial = rules.PartialReason(partial_reason) if partial_reason else None
        today = rx.site.today()
        # The rules decide on the other fills; this one is what is being counted now.
        facts = facts_of(rx, exclude_fill=locked.pk)
        decision = rules.fill_allowed(
            rx=facts,
            today=today,
            requested_quantity=count,
            partial_reason=partial,
            now=timezone.now(),
            state=state_rules(rx.site),
        )
        if not decision.allowed:
            raise Conflict(
                f"Rx {rx.number}: {decision.reason}", field="quantity", reason=decision.code
            )
        # The lot a GS1 code carries, else the one a device reported, else first-expiry-first-out.
        lot_number = (scanned.lot_number if scanned else "") or lot_number.strip().upper()
        if scanned is not None and scanned.expiry is not None and scanned.expiry < today:
            raise Invalid(
                f"Lot {lot_number or '(no lot)'} expired on {scanned.expiry:%m/%d/%Y}; take "
                "it off the shelf.",
                field="scanned_code",
            )
        moves = stock_dispense(
            actor=actor,
            site=rx.site,
            ndc=chosen,
            quantity=count,
            lot_number=lot_number,
            patient_id=rx.patient_id,
            reference=Ref("fill", locked.pk),
            note=f"Rx {rx.number}-{locked.number}",
        )
        before = locked.status
        if problem:
            # Recorded while the fill is still to be filled: the override comes first, then
            # the fill (each event starts where the one before ended).
            record(
                locked,
                FillStep.SCAN_OVERRIDDEN,
                actor=actor,
                from_status=before,
                reason=override,
                data={"problem": problem, "scanned_code": code[:120]},
            )
        now = timezone.now()
        locked.status = FillStatus.FILLED
        locked.package = chosen
        locked.quantity = count
        locked.partial_reason = partial_reason or ""
        locked.scanned_code = code[:120]
        locked.scan_override_reason = override[:300] if problem else ""
        locked.filled_by = actor
        locked.device = device[:40]
        locked.dispensed_on, locked.dispensed_at = today, now
        locked.save(
            update_fields=[
                "status",
                "package",
                "quantity",
                "partial_reason",
                "scanned_code",
                "scan_override_reason",
                "filled_by",
                "device",
                "dispensed_on",
                "dispensed_at",
            ]
        )
        record(
            locked,
            FillStep.FILLED,
            actor=actor,
            from_status=before,
            data={
                "ndc": chosen.ndc11,
                "quantity": str(count),
                "lots": [{"lot": m.lot.number, "quantity": str(-m.quantity)} for m in moves],
                "device": device[:40],
            },
        )
        _audit(
            actor,
            "rx.fill.filled",
            locked,
            ndc=chosen.ndc11,
            quantity=str(count),
            moves=[m.pk for m in moves],
            scan_overridden=bool(problem),
        )
    return locked


def _put_back(rx: Prescription, fill: Fill, actor: User | None, why: str) -> list[int]:
    """Return to the shelf exactly the lots this fill took (net of what came back)."""
    moves = StockMove.objects.filter(
        site=rx.site, reference_type="fill", reference_id=str(fill.pk)
    ).select_related("lot")
    net: dict[int, Decimal] = {}
    lots = {}
    for move in moves:
        if move.reason in (MoveReason.DISPENSE, MoveReason.RETURN_TO_STOCK):
            net[move.lot_id] = net.get(move.lot_id, Decimal(0)) + move.quantity
            lots[move.lot_id] = move.lot
    returned = []
    for lot_id, qty in sorted(net.items()):
        if qty < 0:
            back = stock_return_to_stock(
                actor=actor,
                site=rx.site,
                lot=lots[lot_id],
                quantity=-qty,
                patient_id=rx.patient_id,
                reference=Ref("fill", fill.pk),
                note=why[:200],
            )
            returned.append(back.pk)
    return returned


# --- Final verification ----------------------------------------------------------------------


def _bin_for(rx: Prescription) -> str:
    initial = next((c for c in rx.patient.last_name.upper() if c.isalpha()), "#")
    return initial


def fill_final_verify(
    *, actor: User, fill: Fill, approve: bool = True, reason: str = "", bin: str = ""
) -> Fill:
    """The pharmacist compares the image, the typed record, the scanned product and the
    label: approved, the fill goes to its will-call bin; sent back (with the reason), the
    product goes back on the shelf and the fill is filled again."""
    authorize(actor, Cap.RX_VERIFY_FINAL)
    with transaction.atomic():
        rx, locked = _locked(fill, actor, FillStatus.FILLED, related=("site", "patient"))
        before = locked.status
        if not approve:
            why = _reason(reason)
            moves = _put_back(rx, locked, actor, f"Sent back at final verification: {why}")
            locked.status = FillStatus.TO_FILL
            locked.dispensed_on = locked.dispensed_at = None
            locked.save(update_fields=["status", "dispensed_on", "dispensed_at"])
            record(
                locked,
                FillStep.SENT_BACK,
                actor=actor,
                from_status=before,
                reason=why,
                data={"at_step": "final_verification", "returned_moves": moves},
            )
            _audit(actor, "rx.fill.sent_back", locked, reason=why)
            return locked
        if locked.filled_by_id == actor.pk and locked.scan_override_reason:
            raise Conflict(
                "You accepted this product's failed scan; another pharmacist verifies it.",
                field="status",
            )
        claim = seams.claim_check(locked, actor)
        if claim.blocking:
            raise Invalid(errors=claim.blocking)
        where = (" ".join((bin or "").split()) or _bin_for(rx)).upper()[:10]
        now = timezone.now()
        locked.status = FillStatus.READY
        locked.verified_by, locked.verified_at, locked.ready_at = actor, now, now
        locked.bin = where
        locked.save(update_fields=["status", "verified_by", "verified_at", "ready_at", "bin"])
        record(
            locked, FillStep.FINAL_VERIFIED, actor=actor, from_status=before, data={"bin": where}
        )
        _audit(actor, "rx.fill.verified", locked, bin=where)
    return locked


# --- Holds, priority -------------------------------------------------------------------------


def fill_hold(*, actor: User, fill: Fill, reason: str, note: str = "") -> Fill:
    """Hold a fill (waiting on the prescriber or a prior authorization, out of stock, the
    patient wants it later); it comes back where it was when released."""
    authorize(actor, Cap.RX_FILL)
    if reason not in HoldReason.values:
        raise Invalid("Say why the fill is on hold.", field="reason")
    with transaction.atomic():
        _rx, locked = _locked(fill, actor, *HOLDABLE)
        before = locked.status
        locked.status, locked.hold_reason, locked.hold_note = (
            FillStatus.ON_HOLD,
            reason,
            note.strip()[:200],
        )
        locked.save(update_fields=["status", "hold_reason", "hold_note"])
        record(
            locked,
            FillStep.HELD,
            actor=actor,
            from_status=before,
            reason=note,
            data={"hold_reason": reason},
        )
        _audit(actor, "rx.fill.held", locked, reason=reason)
    return locked


def fill_release(*, actor: User, fill: Fill) -> Fill:
    authorize(actor, Cap.RX_FILL)
    with transaction.atomic():
        _rx, locked = _locked(fill, actor, FillStatus.ON_HOLD)
        held = locked.events.filter(step=FillStep.HELD).order_by("-at", "-pk").first()
        back = held.from_status if held and held.from_status in HOLDABLE else FillStatus.QUEUED
        locked.status, locked.hold_reason, locked.hold_note = back, "", ""
        locked.save(update_fields=["status", "hold_reason", "hold_note"])
        record(locked, FillStep.RELEASED, actor=actor, from_status=FillStatus.ON_HOLD)
        _audit(actor, "rx.fill.released", locked, to=back)
    return locked


def fill_priority_set(
    *, actor: User, fill: Fill, priority: str, promised_at: dt.datetime | None = None
) -> Fill:
    """Mark a fill STAT, first dose, waiter, promised for a time, delivery or normal."""
    authorize(actor, Cap.RX_ENTER)
    if priority not in Priority.values:
        raise Invalid("Choose a priority.", field="priority")
    if priority == Priority.PROMISED and promised_at is None:
        raise Invalid("Give the time promised to the patient.", field="promised_at")
    if promised_at is not None and timezone.is_naive(promised_at):
        raise Invalid("Give the promised time with its time zone.", field="promised_at")
    with transaction.atomic():
        rx, locked = _locked(fill, actor)
        if locked.status in (FillStatus.DISPENSED, FillStatus.RETURNED, FillStatus.CANCELLED):
            raise Conflict(f"Fill {rx.number}-{locked.number} is finished.", field="status")
        before = (locked.priority, locked.promised_at)
        locked.priority, locked.promised_at = priority, promised_at
        locked.save(update_fields=["priority", "promised_at"])
        record(
            locked,
            FillStep.PRIORITY_CHANGED,
            actor=actor,
            from_status=locked.status,
            data={
                "from": before[0],
                "to": priority,
                "promised_at": promised_at.isoformat() if promised_at else None,
            },
        )
        _audit(actor, "rx.fill.priority", locked, priority=priority)
    return locked


# --- Sale and return to stock ----------------------------------------------------------------


def fill_sell(*, actor: User, fill: Fill, receipt: str = "") -> Fill:
    """Hand a ready fill to the patient. The point of sale (rxdesk.pos) calls this when
    the sale is paid, after identity, counseling and the signature are recorded."""
    authorize(actor, Cap.RX_SELL)
    with transaction.atomic():
        _rx, locked = _locked(fill, actor, FillStatus.READY, related=("site",))
        before = locked.status
        locked.status, locked.sold_by, locked.sold_at = FillStatus.DISPENSED, actor, timezone.now()
        locked.save(update_fields=["status", "sold_by", "sold_at"])
        data = {"receipt": receipt} if receipt else None
        record(locked, FillStep.SOLD, actor=actor, from_status=before, data=data)
        _audit(actor, "rx.fill.sold", locked, **(data or {}))
    return locked


def fill_unsell(*, actor: User, fill: Fill, reason: str, receipt: str = "") -> Fill:
    """Undo a sale voided before the bag left the counter: the fill goes back to
    will-call as it was (its stock was never returned, so none comes back)."""
    authorize(actor, Cap.POS_REFUND)
    why = _reason(reason)
    with transaction.atomic():
        _rx, locked = _locked(fill, actor, FillStatus.DISPENSED)
        before = locked.status
        locked.status, locked.sold_by, locked.sold_at = FillStatus.READY, None, None
        locked.save(update_fields=["status", "sold_by", "sold_at"])
        data = {"receipt": receipt} if receipt else None
        record(locked, FillStep.SALE_VOIDED, actor=actor, from_status=before, reason=why, data=data)
        _audit(actor, "rx.fill.sale_voided", locked, reason=why, **(data or {}))
    return locked


def fill_return_to_stock(*, actor: User | None, fill: Fill, reason: str) -> Fill:
    """Put a fill not picked up back on the shelf: the exact lots return, the claim is
    reversed, and the prescription's quantity reopens."""
    authorize(actor, Cap.RX_FILL)
    why = _reason(reason)
    with transaction.atomic():
        if actor is None:
            rx = Prescription.objects.select_for_update().get(pk=fill.prescription_id)
            locked = Fill.objects.select_for_update().get(pk=fill.pk)
            locked.prescription = rx
            if locked.status != FillStatus.READY:
                raise Conflict("Only a fill waiting in will-call goes back.", field="status")
        else:
            rx, locked = _locked(fill, actor, FillStatus.READY)
        before = locked.status
        moves = _put_back(rx, locked, actor, f"Not picked up: {why}")
        reversal = seams.claim_reverse(locked, actor)
        locked.status = FillStatus.RETURNED
        locked.returned_by, locked.returned_at = actor, timezone.now()
        locked.save(update_fields=["status", "returned_by", "returned_at"])
        record(
            locked,
            FillStep.RETURNED,
            actor=actor,
            from_status=before,
            reason=why,
            data={"moves": moves, "claim": reversal.note if not reversal.ran else reversal.record},
        )
        _audit(actor, "rx.fill.returned", locked, reason=why, moves=moves)
    return locked


def return_to_stock_due(*, actor: User) -> list[Fill]:
    """Ready fills waiting in will-call longer than the site's limit (default 10 days)."""
    authorize(actor, Cap.RX_VIEW)
    site = actor.site
    assert site is not None
    days = settings_of(site).return_to_stock_days
    cutoff = timezone.now() - dt.timedelta(days=days)
    return list(
        Fill.objects.filter(site=site, status=FillStatus.READY, ready_at__lte=cutoff)
        .select_related("prescription__patient", "prescription__product", "package")
        .order_by("ready_at")
    )
