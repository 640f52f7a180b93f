"""Services of the formulary and therapeutic interchange.

The pharmacist-in-charge keeps the site's formulary (one entry per catalog product) and the
interchange protocols (drafted, approved by the PIC, retired). A pharmacist applies or
declines an approved protocol's suggestion on a non-formulary prescription; accepting
creates the new prescription for the formulary product through the rx intake (with
``replaces`` pointing back) and inactivates the old one as replaced, in one transaction."""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from rxdesk.catalog.models import Product
from rxdesk.catalog.queries import products_by_ndc
from rxdesk.core.audit import audit_record, diff, register_actions
from rxdesk.core.capabilities import Cap
from rxdesk.core.errors import Conflict, Forbidden, Invalid, NotFound
from rxdesk.core.models import User
from rxdesk.core.services import authorize
from rxdesk.formulary import conversion
from rxdesk.formulary.choices import FormularyStatus, NotifyMethod, ProtocolStatus
from rxdesk.formulary.models import FormularyEntry, InterchangeDecision, InterchangeProtocol
from rxdesk.formulary.queries import (
    convert_for,
    entry_in_effect,
    ingredient_matches,
    ingredients_of,
    protocol_matches,
)
from rxdesk.rx.choices import Daw, FillStatus, InactiveReason, RxStatus
from rxdesk.rx.models import Prescription
from rxdesk.rx.services.common import PENDING_FILLS
from rxdesk.rx.services.prescriptions import Intake, create_from_intake, inactivate

register_actions(
    {
        "formulary.entry.set": "Formulary entry added or changed",
        "formulary.entry.removed": "Formulary entry removed",
        "formulary.entry.imported": "Formulary entries imported from a CSV file",
        "formulary.protocol.created": "Interchange protocol drafted",
        "formulary.protocol.updated": "Interchange protocol draft changed",
        "formulary.protocol.approved": "Interchange protocol approved by the PIC",
        "formulary.protocol.retired": "Interchange protocol retired",
        "formulary.interchange.decided": "Therapeutic interchange accepted or declined",
    }
)

CRITERIA_MAX, NOTES_MAX, NAME_MAX, NOTE_MAX = 1000, 2000, 120, 500
IMPORT_MAX_ROWS = 5000
ENTRY_FIELDS = ["status", "tier", "criteria", "notes", "effective_from", "effective_to"]
PROTOCOL_FIELDS = [
    "name",
    "from_ingredient",
    "from_strength",
    "to_product_id",
    "ratio",
    "conversions",
    "sig_note",
    "notes",
]
# The formulary statuses a protocol's target may have: interchange is toward the formulary.
TARGET_STATUSES = (FormularyStatus.PREFERRED, FormularyStatus.FORMULARY)


# --- Helpers ----------------------------------------------------------------------------------


def _site_of(actor: User | None) -> Any:
    if actor is None or actor.site is None:
        raise Forbidden("Sign in at a pharmacy first.")
    return actor.site


# Free text kept with its line breaks; one-line fields have their spaces collapsed.
MULTILINE = frozenset({"notes", "criteria"})


def _text(value: Any, *, field: str, limit: int, required: str = "") -> str:
    raw = str(value if value is not None else "")
    text = raw.strip() if field in MULTILINE else " ".join(raw.split())
    if required and not text:
        raise Invalid(required, field=field)
    if len(text) > limit:
        raise Invalid(f"Keep it to {limit} characters.", field=field)
    return text


def _entry_values(values: dict[str, Any]) -> dict[str, Any]:
    status = values.get("status")
    if status not in FormularyStatus.values:
        raise Invalid(
            "Choose a status: preferred, formulary, restricted or non-formulary.", field="status"
        )
    tier = values.get("tier")
    if tier in ("", None):
        tier = None
    else:
        try:
            tier = int(tier)
        except (TypeError, ValueError):
            raise Invalid("The tier is a whole number from 1 to 9.", field="tier") from None
        if not 1 <= tier <= 9:
            raise Invalid("The tier is a whole number from 1 to 9.", field="tier")
    criteria = _text(values.get("criteria"), field="criteria", limit=CRITERIA_MAX)
    if status == FormularyStatus.RESTRICTED and not criteria:
        raise Invalid(
            "A restricted product needs its criteria (who may get it, when).", field="criteria"
        )
    notes = _text(values.get("notes"), field="notes", limit=NOTES_MAX)
    start, end = values.get("effective_from"), values.get("effective_to")
    for name, day in (("effective_from", start), ("effective_to", end)):
        if day is not None and not isinstance(day, dt.date):
            raise Invalid("Enter the date as MM/DD/YYYY.", field=name)
    if start and end and end < start:
        raise Invalid("The entry cannot end before it starts.", field="effective_to")
    return {
        "status": status,
        "tier": tier,
        "criteria": criteria,
        "notes": notes,
        "effective_from": start,
        "effective_to": end,
    }


def _entry_snapshot(entry: FormularyEntry) -> dict[str, Any]:
    return {
        "status": entry.status,
        "tier": entry.tier,
        "criteria": entry.criteria,
        "notes": entry.notes,
        "effective_from": entry.effective_from.isoformat() if entry.effective_from else None,
        "effective_to": entry.effective_to.isoformat() if entry.effective_to else None,
    }


def _product(product: Product | None) -> Product:
    found = Product.objects.filter(pk=getattr(product, "pk", 0) or 0).first()
    if found is None:
        raise NotFound("No such product in the catalog.", field="product")
    return found


# --- Formulary entries ------------------------------------------------------------------------


def formulary_entry_set(
    *,
    actor: User,
    product: Product,
    status: str,
    tier: int | None = None,
    criteria: str = "",
    notes: str = "",
    effective_from: dt.date | None = None,
    effective_to: dt.date | None = None,
) -> FormularyEntry:
    """Put a product on the site's formulary with ``status`` (or change its entry)."""
    authorize(actor, Cap.FORMULARY_EDIT)
    site = _site_of(actor)
    product = _product(product)
    values = _entry_values(
        {
            "status": status,
            "tier": tier,
            "criteria": criteria,
            "notes": notes,
            "effective_from": effective_from,
            "effective_to": effective_to,
        }
    )
    with transaction.atomic():
        entry = (
            FormularyEntry.objects.select_for_update().filter(site=site, product=product).first()
        )
        before = _entry_snapshot(entry) if entry else {}
        if entry is None:
            entry = FormularyEntry(site=site, product=product)
        for name, value in values.items():
            setattr(entry, name, value)
        entry.updated_by, entry.updated_at = actor, timezone.now()
        try:
            with transaction.atomic():
                entry.save()
        except IntegrityError:  # another PIC added the same product a moment ago
            raise Conflict(
                f"{product} was just added to the formulary by someone else; open it again.",
                field="product",
            ) from None
        changes = diff(before, _entry_snapshot(entry))
        audit_record(
            actor=actor,
            action="formulary.entry.set",
            obj=entry,
            data={"product_id": product.pk, "created": not before, "changes": changes},
        )
    return entry


def formulary_entry_remove(*, actor: User, entry: FormularyEntry) -> None:
    """Take a product off the site's formulary (it becomes non-formulary by absence)."""
    authorize(actor, Cap.FORMULARY_EDIT)
    site = _site_of(actor)
    with transaction.atomic():
        found = FormularyEntry.objects.filter(site=site, pk=getattr(entry, "pk", 0) or 0).first()
        if found is None:
            raise NotFound("No such formulary entry at this pharmacy.")
        used = InterchangeProtocol.objects.filter(
            site=site, to_product_id=found.product_id, status=ProtocolStatus.APPROVED
        ).first()
        if used is not None:
            raise Conflict(
                f"Approved protocol '{used.name}' changes prescriptions to {found.product}; "
                "retire it first.",
                field="entry",
            )
        snapshot = {"product_id": found.product_id, **_entry_snapshot(found)}
        pk = found.pk
        found.delete()
        audit_record(
            actor=actor,
            action="formulary.entry.removed",
            object_type="formulary.formularyentry",
            object_id=pk,
            data=snapshot,
        )


@dataclass
class ImportResult:
    """What an import did: entries added, changed and left as they were."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    products: list[int] = field(default_factory=list)


_STATUS_WORDS = {
    **{v: v for v in FormularyStatus.values},
    "non-formulary": FormularyStatus.NON_FORMULARY,
    "nonformulary": FormularyStatus.NON_FORMULARY,
    "on formulary": FormularyStatus.FORMULARY,
}


def parse_import(text: str) -> list[dict[str, str]]:
    """CSV rows with a header naming ``ndc`` or ``product_id``, ``status`` and optionally
    ``tier``, ``criteria``, ``notes``. Raises Invalid listing every bad line."""
    reader = csv.DictReader(io.StringIO(text or ""))
    header = [h.strip().lower() for h in (reader.fieldnames or [])]
    if "status" not in header or not ({"ndc", "product_id"} & set(header)):
        raise Invalid(
            "The first line must name the columns: ndc (or product_id) and status.",
            field="file",
        )
    rows = []
    for row in reader:
        rows.append({(k or "").strip().lower(): (v or "").strip() for k, v in row.items()})
        if len(rows) > IMPORT_MAX_ROWS:
            raise Invalid(f"Import at most {IMPORT_MAX_ROWS} lines at a time.", field="file")
    if not rows:
        raise Invalid("The file has no lines after the header.", field="file")
    return rows


def formulary_import(*, actor: User, text: str) -> ImportResult:
    """Set many entries from a CSV file, all or nothing: a file with any bad line changes
    nothing and every bad line is named (line 2 is the first after the header)."""
    authorize(actor, Cap.FORMULARY_EDIT)
    site = _site_of(actor)
    rows = parse_import(text)
    errors: list[dict[str, str]] = []
    planned: list[tuple[Product, dict[str, Any]]] = []
    for line, row in enumerate(rows, 2):
        product: Product | None = None
        if row.get("product_id"):
            pid = row["product_id"]
            product = Product.objects.filter(pk=int(pid)).first() if pid.isdigit() else None
        elif row.get("ndc"):
            found, _missing = products_by_ndc([row["ndc"]])
            product = found[0] if found else None
        if product is None:
            ref = row.get("product_id") or row.get("ndc") or "(blank)"
            errors.append(
                {"field": "file", "message": f"Line {line}: {ref[:30]} is not in the catalog."}
            )
            continue
        status = _STATUS_WORDS.get(row.get("status", "").lower())
        try:
            values = _entry_values(
                {
                    "status": status,
                    "tier": row.get("tier") or None,
                    "criteria": row.get("criteria", ""),
                    "notes": row.get("notes", ""),
                }
            )
        except Invalid as exc:
            errors.append({"field": "file", "message": f"Line {line}: {exc.message}"})
            continue
        if any(p.pk == product.pk for p, _ in planned):
            errors.append({"field": "file", "message": f"Line {line}: {product} is listed twice."})
            continue
        planned.append((product, values))
    if errors:
        raise Invalid(errors=errors[:50])
    result = ImportResult()
    now = timezone.now()
    with transaction.atomic():
        existing = {
            e.product_id: e
            for e in FormularyEntry.objects.select_for_update().filter(
                site=site, product__in=[p for p, _ in planned]
            )
        }
        for product, values in planned:
            entry = existing.get(product.pk)
            if entry is None:
                entry = FormularyEntry(site=site, product=product)
                result.created += 1
            else:
                same = all(
                    getattr(entry, k) == v
                    for k, v in values.items()
                    if k in ("status", "tier", "criteria", "notes")
                )
                if same:
                    result.unchanged += 1
                    continue
                result.updated += 1
            for name in ("status", "tier", "criteria", "notes"):
                setattr(entry, name, values[name])
            entry.updated_by, entry.updated_at = actor, now
            entry.save()
            result.products.append(product.pk)
        audit_record(
            actor=actor,
            action="formulary.entry.imported",
            site=site,
            object_type="formulary.formularyentry",
            data={
                "created": result.created,
                "updated": result.updated,
                "unchanged": result.unchanged,
                "products": result.products,
            },
        )
    return result


# --- Interchange protocols --------------------------------------------------------------------


def _protocol_values(values: dict[str, Any]) -> dict[str, Any]:
    name = _text(values.get("name"), field="name", limit=NAME_MAX, required="Name the protocol.")
    ingredient = _text(
        values.get("from_ingredient"),
        field="from_ingredient",
        limit=200,
        required="Name the active ingredient the protocol changes from (e.g. OMEPRAZOLE).",
    ).upper()
    from_strength = _text(values.get("from_strength"), field="from_strength", limit=60)
    to_product = values.get("to_product")
    if not isinstance(to_product, Product):
        raise Invalid("Choose the formulary product to change to.", field="to_product")
    ratio = values.get("ratio")
    if ratio in ("", None):
        ratio = None
    else:
        try:
            ratio = Decimal(str(ratio))
        except InvalidOperation:
            raise Invalid("The ratio is a number, e.g. 2 or 0.5.", field="ratio") from None
        if not ratio.is_finite() or ratio <= 0 or ratio >= 100000:
            raise Invalid("The ratio is a number greater than 0, e.g. 2 or 0.5.", field="ratio")
        if ratio != ratio.quantize(Decimal("0.0001")):
            raise Invalid("Give the ratio to at most 4 decimal places.", field="ratio")
    try:
        table = conversion.table_rows(values.get("conversions"))
    except ValueError as exc:
        raise Invalid(str(exc), field="conversions") from None
    if len(table) > 20:
        raise Invalid("List at most 20 strengths.", field="conversions")
    if ratio is None and not table:
        raise Invalid("Give the dose conversion: a ratio or a table of strengths.", field="ratio")
    if ingredient_matches(ingredient, ingredients_of(to_product)):
        raise Invalid(
            f"{to_product} is {ingredient.lower()} itself: an interchange changes the drug.",
            field="to_product",
        )
    return {
        "name": name,
        "from_ingredient": ingredient,
        "from_strength": from_strength,
        "to_product": to_product,
        "ratio": ratio,
        "conversions": table,
        "sig_note": _text(values.get("sig_note"), field="sig_note", limit=300),
        "notes": _text(values.get("notes"), field="notes", limit=4000),
    }


def _protocol_snapshot(p: InterchangeProtocol) -> dict[str, Any]:
    return {
        "name": p.name,
        "from_ingredient": p.from_ingredient,
        "from_strength": p.from_strength,
        "to_product_id": p.to_product_id,
        "ratio": str(p.ratio) if p.ratio is not None else None,
        "conversions": p.conversions,
        "sig_note": p.sig_note,
        "notes_length": len(p.notes),
        "status": p.status,
    }


def _protocol_of(site: Any, protocol: InterchangeProtocol) -> InterchangeProtocol:
    found = (
        InterchangeProtocol.objects.select_for_update()
        .filter(site=site, pk=getattr(protocol, "pk", 0) or 0)
        .first()
    )
    if found is None:
        raise NotFound("No such interchange protocol at this pharmacy.")
    return found


def _save_protocol(protocol: InterchangeProtocol) -> None:
    try:
        with transaction.atomic():
            protocol.save()
    except IntegrityError:
        raise Conflict(
            f"A protocol named '{protocol.name}' already exists here.", field="name"
        ) from None


def protocol_create(
    *,
    actor: User,
    name: str,
    from_ingredient: str,
    to_product: Product,
    from_strength: str = "",
    ratio: Decimal | str | None = None,
    conversions: list[dict[str, str]] | None = None,
    sig_note: str = "",
    notes: str = "",
) -> InterchangeProtocol:
    """Draft an interchange protocol (it suggests nothing until the PIC approves it)."""
    authorize(actor, Cap.FORMULARY_EDIT)
    site = _site_of(actor)
    values = _protocol_values(
        {
            "name": name,
            "from_ingredient": from_ingredient,
            "from_strength": from_strength,
            "to_product": _product(to_product),
            "ratio": ratio,
            "conversions": conversions,
            "sig_note": sig_note,
            "notes": notes,
        }
    )
    with transaction.atomic():
        protocol = InterchangeProtocol(site=site, created_by=actor, **values)
        _save_protocol(protocol)
        audit_record(
            actor=actor,
            action="formulary.protocol.created",
            obj=protocol,
            data=_protocol_snapshot(protocol),
        )
    return protocol


def protocol_update(
    *, actor: User, protocol: InterchangeProtocol, **values: Any
) -> InterchangeProtocol:
    """Change a draft protocol (an approved one is retired and drafted anew, so what a
    pharmacist applied stays what the PIC approved). ``values``: the fields of
    :func:`protocol_create`; those left out keep their value."""
    authorize(actor, Cap.FORMULARY_EDIT)
    site = _site_of(actor)
    unknown = set(values) - {f.removesuffix("_id") for f in PROTOCOL_FIELDS}
    if unknown:
        raise Invalid(f"Unknown field {sorted(unknown)[0]}.", field=sorted(unknown)[0])
    with transaction.atomic():
        row = _protocol_of(site, protocol)
        if row.status != ProtocolStatus.DRAFT:
            raise Conflict(
                f"'{row.name}' is {row.get_status_display().lower()}; only a draft is changed. "
                "Retire it and draft a new one.",
                field="status",
            )
        merged = {
            "name": row.name,
            "from_ingredient": row.from_ingredient,
            "from_strength": row.from_strength,
            "to_product": row.to_product,
            "ratio": row.ratio,
            "conversions": row.conversions,
            "sig_note": row.sig_note,
            "notes": row.notes,
        }
        if "to_product" in values:
            values["to_product"] = _product(values["to_product"])
        merged.update(values)
        clean = _protocol_values(merged)
        before = _protocol_snapshot(row)
        for name, value in clean.items():
            setattr(row, name, value)
        row.updated_at = timezone.now()
        _save_protocol(row)
        audit_record(
            actor=actor,
            action="formulary.protocol.updated",
            obj=row,
            data={"changes": diff(before, _protocol_snapshot(row))},
        )
    return row


def protocol_approve(*, actor: User, protocol: InterchangeProtocol) -> InterchangeProtocol:
    """The PIC approves a draft protocol: from now on it suggests. Its target must be on
    the formulary (preferred or on formulary) today."""
    authorize(actor, Cap.FORMULARY_EDIT)
    site = _site_of(actor)
    with transaction.atomic():
        row = _protocol_of(site, protocol)
        if row.status != ProtocolStatus.DRAFT:
            raise Conflict(
                f"'{row.name}' is {row.get_status_display().lower()}, not a draft.",
                field="status",
            )
        entry = entry_in_effect(site, row.to_product, site.today())
        if entry is None or entry.status not in TARGET_STATUSES:
            raise Conflict(
                f"{row.to_product} is not on the formulary (preferred or on formulary); "
                "add it before approving a protocol that changes prescriptions to it.",
                field="to_product",
            )
        row.status = ProtocolStatus.APPROVED
        row.approved_by, row.approved_at = actor, timezone.now()
        row.updated_at = row.approved_at
        row.save(update_fields=["status", "approved_by", "approved_at", "updated_at"])
        audit_record(
            actor=actor,
            action="formulary.protocol.approved",
            obj=row,
            data={"to_product_id": row.to_product_id, "from_ingredient": row.from_ingredient},
        )
    return row


def protocol_retire(
    *, actor: User, protocol: InterchangeProtocol, reason: str
) -> InterchangeProtocol:
    """Retire a protocol (draft or approved): it suggests no more. Its decisions stay."""
    authorize(actor, Cap.FORMULARY_EDIT)
    site = _site_of(actor)
    why = _text(reason, field="reason", limit=300, required="Say why the protocol is retired.")
    with transaction.atomic():
        row = _protocol_of(site, protocol)
        if row.status == ProtocolStatus.RETIRED:
            raise Conflict(f"'{row.name}' is already retired.", field="status")
        before = row.status
        row.status, row.status_reason, row.updated_at = ProtocolStatus.RETIRED, why, timezone.now()
        row.save(update_fields=["status", "status_reason", "updated_at"])
        audit_record(
            actor=actor,
            action="formulary.protocol.retired",
            obj=row,
            data={"from_status": before},
            reason=why,
        )
    return row


# --- Interchange decisions --------------------------------------------------------------------


def _fills_left(rx: Prescription) -> int:
    """Fills still authorized: the original plus refills, less those made (not pending,
    not cancelled)."""
    done = rx.fills.exclude(status__in=[*PENDING_FILLS, FillStatus.CANCELLED]).count()
    return 1 + rx.refills_authorized - done


def interchange_decide(
    *,
    actor: User,
    prescription: Prescription,
    protocol: InterchangeProtocol,
    accept: bool,
    note: str = "",
    prescriber_notified: str = NotifyMethod.NOT_YET,
    notified_at: dt.datetime | None = None,
    directions: str = "",
) -> InterchangeDecision:
    """Record a pharmacist's decision on an approved protocol's suggestion for a
    non-formulary prescription. Declining needs a reason. Accepting creates the new
    prescription for the protocol's product (same patient, prescriber, quantity, days
    supply, date written; the fills still authorized; ``directions`` or the old ones;
    ``replaces`` the old one) with its first fill queued, and inactivates the old one as
    replaced (its waiting fills cancelled). ``prescriber_notified`` says how the prescriber
    was told ('' — not yet), ``notified_at`` when (default now)."""
    authorize(actor, Cap.INTERCHANGE_APPLY)
    site = _site_of(actor)
    note = _text(note, field="note", limit=NOTE_MAX)
    if not isinstance(accept, bool):
        raise Invalid("Accept or decline the interchange.", field="accept")
    if not accept and not note:
        raise Invalid("Say why the interchange is declined.", field="note")
    if prescriber_notified not in NotifyMethod.values:
        raise Invalid(
            "Say how the prescriber was told: phone, fax, electronic, in person.",
            field="prescriber_notified",
        )
    if prescriber_notified:
        notified_at = notified_at or timezone.now()
        if notified_at.tzinfo is None:
            raise Invalid("Give the time with its time-zone offset.", field="notified_at")
        if notified_at > timezone.now() + dt.timedelta(minutes=5):
            raise Invalid(
                "The prescriber cannot have been told in the future.", field="notified_at"
            )
    else:
        notified_at = None
    directions = " ".join((directions or "").split())
    if len(directions) > 500:
        raise Invalid("Keep the directions to 500 characters.", field="directions")
    with transaction.atomic():
        rx = (
            Prescription.objects.select_for_update(of=("self",))
            .select_related("product", "patient", "prescriber", "site")
            .filter(site=site, pk=getattr(prescription, "pk", 0) or 0)
            .first()
        )
        if rx is None:
            raise NotFound("No such prescription at this pharmacy.")
        row = _protocol_of(site, protocol)
        if row.status != ProtocolStatus.APPROVED:
            raise Conflict(
                f"'{row.name}' is {row.get_status_display().lower()}; only an approved protocol "
                "is applied.",
                field="protocol",
            )
        if not protocol_matches(row, rx.product):
            raise Invalid(f"'{row.name}' does not apply to {rx.product}.", field="protocol")
        if InterchangeDecision.objects.filter(prescription=rx, protocol=row).exists():
            raise Conflict(
                f"The interchange '{row.name}' was already decided for Rx {rx.number}.",
                field="protocol",
            )
        entry = entry_in_effect(site, rx.product, site.today())
        if entry is not None and entry.status != FormularyStatus.NON_FORMULARY:
            raise Conflict(
                f"{rx.product} is {entry.get_status_display().lower()} on the formulary: no "
                "interchange is needed.",
                field="prescription",
            )
        converted = convert_for(row, rx.product)
        if not converted.to_strength:
            raise Invalid(
                f"'{row.name}' gives no dose for {rx.product.strength}; it cannot be applied.",
                field="protocol",
            )
        decision = InterchangeDecision(
            site=site,
            prescription=rx,
            protocol=row,
            suggested_product=row.to_product,
            accepted=accept,
            note=note,
            conversion=f"{converted.from_strength} → {converted.to_strength}"[:300],
            prescriber_notified=prescriber_notified,
            notified_at=notified_at,
            decided_by=actor,
        )
        new_rx = None
        if accept:
            new_rx = _interchange_rx(rx, row, actor=actor, directions=directions, note=note)
            decision.new_prescription = new_rx
        decision.save()
        audit_record(
            actor=actor,
            action="formulary.interchange.decided",
            obj=decision,
            patient_id=rx.patient_id,
            data={
                "prescription_id": rx.pk,
                "rx_number": rx.number,
                "protocol_id": row.pk,
                "accepted": accept,
                "from_product_id": rx.product_id,
                "to_product_id": row.to_product_id,
                "new_prescription_id": new_rx.pk if new_rx else None,
                "new_rx_number": new_rx.number if new_rx else None,
                "prescriber_notified": prescriber_notified,
            },
        )
    return decision


def _interchange_rx(
    rx: Prescription, protocol: InterchangeProtocol, *, actor: User, directions: str, note: str
) -> Prescription:
    """Create the replacing prescription and inactivate ``rx`` (locked) as replaced."""
    if rx.status not in (RxStatus.ACTIVE, RxStatus.ON_HOLD):
        raise Conflict(
            f"Rx {rx.number} is {rx.get_status_display().lower()}; only an active or held "
            "prescription is changed.",
            field="prescription",
        )
    if rx.daw in (Daw.PRESCRIBER, Daw.BRAND_BY_LAW):
        raise Conflict(
            f"Rx {rx.number} is DAW {rx.daw}: the drug is required as written. Ask the "
            "prescriber for a new prescription instead.",
            field="prescription",
        )
    if rx.schedule:
        raise Conflict(
            f"Rx {rx.number} is a controlled substance ({rx.schedule}); "
            "it is not changed under a protocol. Ask the prescriber.",
            field="prescription",
        )
    left = _fills_left(rx)
    if left <= 0:
        raise Conflict(
            f"Rx {rx.number} has no fills left; ask the prescriber for a new prescription.",
            field="prescription",
        )
    intake = Intake(
        patient=rx.patient,
        prescriber=rx.prescriber,
        product=protocol.to_product,
        origin=rx.origin,
        quantity=rx.quantity,
        quantity_unit=rx.quantity_unit,
        days_supply=rx.days_supply,
        directions=directions or rx.directions,
        date_written=rx.date_written,
        refills_authorized=left - 1,
        daw=Daw.NONE,
        diagnosis_code=rx.diagnosis_code,
        notes=(
            f"Therapeutic interchange from Rx {rx.number} ({rx.product}) under protocol "
            f"'{protocol.name}'." + (f" {note}" if note else "")
        )[:2000],
    )
    new_rx, _fill = create_from_intake(intake, actor=actor, site=rx.site, replaces=rx)
    inactivate(
        rx,
        actor=actor,
        reason=InactiveReason.REPLACED,
        note=f"Interchanged to Rx {new_rx.number} ({protocol.name})",
    )
    return new_rx
