"""Recalls: enter one by hand or from an openFDA enforcement record, which quarantines the
matching stock at every site in the same transaction; print the patients' notification
letters; record what became of each quarantined balance; close the recall.

Each service: one transaction, a capability check first, the rules, the writes, and one
audit event last. A recall is the FDA's, not one pharmacy's: it names packages and lots,
and the stock of every site that holds them is set RECALLED through the ledger (a
conditional status change, so a concurrent dispense either finished before it or fails).
Closing a recall never releases stock: recalled stock leaves only by return or waste."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from rxdesk.catalog.models import Package
from rxdesk.catalog.ndc import format_ndc11
from rxdesk.core.audit import audit_record, register_actions
from rxdesk.core.capabilities import Cap
from rxdesk.core.errors import Conflict, Invalid, NotFound
from rxdesk.core.models import Site, User
from rxdesk.core.services import authorize
from rxdesk.core.validators import format_phone
from rxdesk.inventory import ledger, letters
from rxdesk.inventory.choices import LotStatus, RecallClass, RecallStatus
from rxdesk.inventory.models import Recall, RecallItem, RecallStock, StockBalance
from rxdesk.inventory.openfda import RecordError, parse_enforcement
from rxdesk.inventory.queries_recalls import (
    LETTERS_ACTION,
    affected_lots,
    recall_outstanding,
    recall_patients,
)
from rxdesk.inventory.services.common import date_of, package_of, site_of

register_actions(
    {
        "inventory.recall.created": "Recall entered; matching stock quarantined at every site",
        "inventory.recall.imported": "Recall imported from openFDA; matching stock quarantined",
        LETTERS_ACTION: "Recall letters printed (patients' information disclosed)",
        "inventory.recall.stock_resolved": "Recalled stock resolved (returned, destroyed…)",
        "inventory.recall.closed": "Recall closed",
    }
)

MAX_REASON = 4000
MAX_SOURCE_RECORD = 1_000_000
SOURCES = ("manual", "openfda")
# Every status a recall overrides: a lot already quarantined, held, damaged or expired
# becomes RECALLED too, so no later release of that hold can make it dispensable.
_NOT_RECALLED = [s for s in LotStatus.values if s != LotStatus.RECALLED]


@dataclass(frozen=True)
class Quarantine:
    """What entering a recall set aside."""

    balances: int
    sites: int


# --- Entering a recall ---------------------------------------------------------------------


def _classification(value: Any) -> str:
    text = " ".join(str(value or "").upper().split()).removeprefix("CLASS ").strip()
    if text not in RecallClass.values:
        raise Invalid("Choose class I, II or III.", field="classification")
    return text


def _header(
    *,
    where: Site,
    classification: Any,
    reason: Any,
    recall_date: Any,
    recall_number: Any,
    firm: Any,
) -> tuple[str, str, dt.date, str, str]:
    errors: list[dict[str, str]] = []
    try:
        klass = _classification(classification)
    except Invalid as exc:
        errors += exc.errors
        klass = ""
    why = str(reason or "").strip()
    if not why:
        errors.append({"field": "reason", "message": "Say why the product is recalled."})
    elif len(why) > MAX_REASON:
        errors.append({"field": "reason", "message": f"At most {MAX_REASON} characters."})
    when: dt.date | None = None
    try:
        when = date_of(recall_date, field="recall_date")
    except Invalid as exc:
        errors += exc.errors
    else:
        if when is None:
            errors.append({"field": "recall_date", "message": "Enter the date of the recall."})
        elif when > where.today():
            errors.append({"field": "recall_date", "message": "The recall date is in the future."})
    number = str(recall_number or "").strip().upper()
    if len(number) > 30:
        errors.append({"field": "recall_number", "message": "At most 30 characters."})
    elif not number.isprintable():
        errors.append({"field": "recall_number", "message": "Letters, digits and dashes only."})
    maker = str(firm or "").strip()
    if len(maker) > 200:
        errors.append({"field": "firm", "message": "At most 200 characters."})
    if errors:
        raise Invalid(errors=errors)
    assert when is not None
    return klass, why, when, number, maker


def _items(items: Any) -> list[tuple[Package, str]]:
    """The (package, lot number) pairs, each NDC looked up in the catalog; errors name
    ``items.N.ndc`` / ``items.N.lot_number``."""
    if not isinstance(items, Sequence) or isinstance(items, str | bytes) or not items:
        raise Invalid("Name at least one NDC.", field="items")
    errors: list[dict[str, str]] = []
    found: dict[tuple[int, str], tuple[Package, str]] = {}
    for index, item in enumerate(items):
        if not isinstance(item, Mapping):
            errors.append({"field": f"items.{index}", "message": "Give an NDC and a lot."})
            continue
        lot_number = str(item.get("lot_number") or "").strip().upper()
        if len(lot_number) > 40:
            errors.append(
                {"field": f"items.{index}.lot_number", "message": "At most 40 characters."}
            )
        try:
            package = package_of(item.get("ndc"), field=f"items.{index}.ndc")
        except Invalid as exc:
            errors += exc.errors
            continue
        found.setdefault((package.pk, lot_number), (package, lot_number))
    if errors:
        raise Invalid(errors=errors)
    return list(found.values())


def _lock_recall_number(number: str) -> None:
    """Two people entering the same FDA recall at once: the second waits, then sees the
    first. SQLite's IMMEDIATE transactions already serialise writers; PostgreSQL needs a
    lock, and there is no row yet to lock."""
    if number and connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [f"recall:{number}"])


def _quarantine(recall: Recall) -> Quarantine:
    """Set every matching balance at every site RECALLED and record it with its quantity."""
    reason = f"Recall {recall.recall_number or recall.pk} (class {recall.classification})"
    balances = list(
        StockBalance.objects.filter(lot__in=affected_lots(recall))
        .select_related("lot", "site")
        .order_by("id")
    )
    # Many balances change: lock them in the ledger's one order first (no deadlock).
    ledger.lock_in_order(b.pk for b in balances)
    for balance in balances:
        ledger.status_set(
            balance=balance, status=LotStatus.RECALLED, reason=reason, only_from=_NOT_RECALLED
        )
    # Read after the status change: from here no dispense can take from these balances
    # (post_out re-checks AVAILABLE in its UPDATE), so this is what the shelf holds.
    on_hand = dict(
        StockBalance.objects.filter(pk__in=[b.pk for b in balances]).values_list("pk", "on_hand")
    )
    RecallStock.objects.bulk_create(
        RecallStock(recall=recall, balance=b, quantity_at_quarantine=on_hand[b.pk])
        for b in balances
    )
    return Quarantine(balances=len(balances), sites=len({b.site_id for b in balances}))


def _enter(
    *,
    actor: User | None,
    where: Site,
    classification: Any,
    reason: Any,
    recall_date: Any,
    recall_number: Any,
    firm: Any,
    items: Any,
    source: str,
    source_record: str,
) -> tuple[Recall, list[tuple[Package, str]], Quarantine]:
    klass, why, when, number, maker = _header(
        where=where,
        classification=classification,
        reason=reason,
        recall_date=recall_date,
        recall_number=recall_number,
        firm=firm,
    )
    pairs = _items(items)
    if source not in SOURCES:
        raise Invalid("Unknown source.", field="source")
    if len(source_record) > MAX_SOURCE_RECORD:
        raise Invalid("The source record is too large (at most 1 MB).", field="source_record")
    _lock_recall_number(number)
    if number and Recall.objects.filter(recall_number=number, status=RecallStatus.OPEN).exists():
        raise Conflict(f"Recall {number} is already open.", field="recall_number")
    recall = Recall.objects.create(
        recall_number=number,
        classification=klass,
        reason=why,
        recall_date=when,
        firm=maker,
        source=source,
        source_record=source_record,
        entered_at_site=where,
        entered_by=actor,
    )
    RecallItem.objects.bulk_create(
        RecallItem(recall=recall, package=package, lot_number=lot) for package, lot in pairs
    )
    return recall, pairs, _quarantine(recall)


def _entered_data(
    recall: Recall, pairs: list[tuple[Package, str]], done: Quarantine
) -> dict[str, Any]:
    return {
        "recall_number": recall.recall_number,
        "classification": recall.classification,
        "recall_date": recall.recall_date.isoformat(),
        "items": [{"ndc": p.ndc11, "lot_number": lot} for p, lot in pairs],
        "balances": done.balances,
        "sites": done.sites,
        "source": recall.source,
    }


def recall_create(
    *,
    actor: User | None,
    classification: str,
    reason: str,
    recall_date: dt.date | str,
    recall_number: str = "",
    firm: str = "",
    items: Sequence[Mapping[str, Any]],
    source: str = "manual",
    source_record: str = "",
    site: Site | None = None,
) -> Recall:
    """Enter a recall of FDA class I, II or III naming packages by NDC, each with a lot
    number or blank for every lot. In the same transaction every matching balance at every
    site becomes RECALLED (never dispensable again, receiving the lot is refused)."""
    authorize(actor, Cap.INVENTORY_RECALL)
    with transaction.atomic():
        where = site_of(actor, site)
        recall, pairs, done = _enter(
            actor=actor,
            where=where,
            classification=classification,
            reason=reason,
            recall_date=recall_date,
            recall_number=recall_number,
            firm=firm,
            items=items,
            source=source,
            source_record=source_record,
        )
        audit_record(
            actor=actor,
            site=where,
            action="inventory.recall.created",
            obj=recall,
            data=_entered_data(recall, pairs, done),
        )
    return recall


@dataclass
class RecallImport:
    """An imported recall and what the person importing should check."""

    recall: Recall
    ndcs_not_in_catalog: list[str] = field(default_factory=list)
    lots: list[str] = field(default_factory=list)
    all_lots: bool = False
    notes: list[str] = field(default_factory=list)


def _record_text(record: str | bytes | Mapping[str, Any]) -> str:
    if isinstance(record, Mapping):
        return json.dumps(record, ensure_ascii=False)
    if isinstance(record, bytes | bytearray):
        return bytes(record).decode("utf-8-sig", errors="replace")
    return str(record)


def recall_import_openfda(
    *, actor: User | None, record: str | bytes | Mapping[str, Any], site: Site | None = None
) -> RecallImport:
    """Enter a recall from one openFDA drug enforcement record (or an API response holding
    one). NDCs the catalog does not hold are reported, not fatal, unless none match. When
    no lot number can be read from ``code_info``, every lot of the packages is recalled:
    quarantining too much is the safe error."""
    authorize(actor, Cap.INVENTORY_RECALL)
    try:
        parsed = parse_enforcement(record)
    except RecordError as exc:
        raise Invalid(exc.message, field=exc.field) from None
    with transaction.atomic():
        where = site_of(actor, site)
        packages = {
            p.ndc11: p
            for p in Package.objects.filter(ndc11__in=parsed.package_ndcs).select_related("product")
        }
        by_product: dict[str, list[Package]] = {}
        for p in Package.objects.filter(
            product__product_ndc__in=parsed.product_ndcs
        ).select_related("product"):
            by_product.setdefault(p.product.product_ndc, []).append(p)
            packages.setdefault(p.ndc11, p)
        missing = [format_ndc11(n) for n in parsed.package_ndcs if n not in packages]
        missing += [n for n in parsed.product_ndcs if n not in by_product]
        if not packages:
            raise Invalid(
                "None of the NDCs in the record is in the drug catalog: "
                + ", ".join(missing or parsed.unreadable_ndcs)
                + ".",
                field="openfda.package_ndc",
            )
        lots = list(parsed.lots) if not parsed.all_lots else [""]
        items = [
            {"ndc": package, "lot_number": lot}
            for package in sorted(packages.values(), key=lambda p: p.ndc11)
            for lot in lots
        ]
        recall, pairs, done = _enter(
            actor=actor,
            where=where,
            classification=parsed.classification,
            reason=parsed.reason,
            recall_date=parsed.recall_date,
            recall_number=parsed.recall_number,
            firm=parsed.firm,
            items=items,
            source="openfda",
            source_record=_record_text(record),
        )
        notes = []
        if parsed.all_lots:
            notes.append(parsed.lot_note)
        if missing:
            notes.append(f"Not in the drug catalog (nothing to quarantine): {', '.join(missing)}.")
        if parsed.unreadable_ndcs:
            notes.append(f"Not read as NDCs: {', '.join(parsed.unreadable_ndcs)}.")
        data = _entered_data(recall, pairs, done)
        data.update(ndcs_not_in_catalog=missing, all_lots=parsed.all_lots, lots=list(parsed.lots))
        audit_record(
            actor=actor, site=where, action="inventory.recall.imported", obj=recall, data=data
        )
    return RecallImport(
        recall=recall,
        ndcs_not_in_catalog=missing,
        lots=list(parsed.lots),
        all_lots=parsed.all_lots,
        notes=notes,
    )


# --- Letters -------------------------------------------------------------------------------


def _address(line1: str, line2: str, city: str, state: str, postal_code: str) -> tuple[str, ...]:
    last = " ".join(p for p in (f"{city}," if city else "", state, postal_code) if p).strip(",")
    return tuple(line for line in (line1, line2, last) if line.strip())


def recall_letters_print(*, actor: User | None, recall: Recall, site: Site | None = None) -> bytes:
    """A PDF with one notification letter per patient of this site who received an
    affected lot. Printing discloses patients' information: it is audited with the
    patients it went to."""
    authorize(actor, Cap.PATIENT_VIEW)
    authorize(actor, Cap.INVENTORY_VIEW)
    where = site_of(actor, site)
    affected = recall_patients(actor=actor, recall=recall, site=where)
    if not affected:
        raise Conflict("No patient of this pharmacy received an affected lot: no letter to print.")
    grouped: dict[int, list[Any]] = {}
    for row in affected:
        grouped.setdefault(row.patient.pk, []).append(row)
    tz = where.tz
    batch = []
    for rows in grouped.values():
        person = rows[0].patient
        name = " ".join(p for p in (person.first_name, person.last_name, person.suffix) if p)
        medicines = tuple(
            letters.Medicine(
                drug=letters.drug_label(
                    r.lot.package.product.name,
                    r.lot.package.product.generic_name,
                    r.lot.package.product.strength,
                    r.lot.package.product.dosage_form,
                ),
                ndc=r.lot.package.ndc10,
                lot=r.lot.number,
                dispensed_on=timezone.localtime(r.last_dispensed_at, tz).date(),
            )
            for r in rows
        )
        address = _address(
            person.address_line1,
            person.address_line2,
            person.city,
            person.state,
            person.postal_code,
        )
        batch.append(letters.Letter(patient_name=name, address_lines=address, medicines=medicines))
    pharmacy = letters.Pharmacy(
        name=where.name,
        address_lines=_address(
            where.address_line1, where.address_line2, where.city, where.state, where.postal_code
        ),
        phone=format_phone(where.phone) if where.phone else "",
    )
    facts = letters.RecallFacts(
        number=recall.recall_number or f"#{recall.pk}",
        classification=recall.classification,
        reason=recall.reason,
        firm=recall.firm,
    )
    pdf = letters.render_letters(
        pharmacy=pharmacy, recall=facts, letters=batch, dated=where.today()
    )
    with transaction.atomic():
        audit_record(
            actor=actor,
            site=where,
            action=LETTERS_ACTION,
            obj=recall,
            data={
                "patients": len(grouped),
                "patient_ids": sorted(grouped),
                "lots": sorted({row.lot.number for row in affected}),
            },
        )
    return pdf


def letters_filename(recall: Recall) -> str:
    """A safe file name for the letters PDF (the recall number may come from a record)."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", recall.recall_number).strip("-.")
    return f"{stem or f'recall-{recall.pk}'}-letters.pdf"


# --- Tracking to closure -------------------------------------------------------------------


def recall_stock_resolve(
    *, actor: User | None, recall_stock: RecallStock, resolution: str, site: Site | None = None
) -> RecallStock:
    """Record what became of one quarantined balance at this site: returned to the vendor,
    destroyed, none found… The stock itself leaves through a return or waste move."""
    authorize(actor, Cap.INVENTORY_RECALL)
    text = " ".join(str(resolution or "").split())
    if not text:
        raise Invalid("Say what became of the stock.", field="resolution")
    if len(text) > 200:
        raise Invalid("At most 200 characters.", field="resolution")
    with transaction.atomic():
        where = site_of(actor, site) if actor is not None or site is not None else None
        qs = RecallStock.objects.select_related(
            "recall", "balance__lot", "balance__package", "balance__site"
        )
        if where is not None:
            qs = qs.filter(balance__site=where)
        fresh = qs.filter(pk=recall_stock.pk).first()
        if fresh is None:
            raise NotFound("No such recalled stock at this site.")
        if fresh.recall.status != RecallStatus.OPEN:
            raise Conflict("This recall is closed.")
        now = timezone.now()
        # Conditional: two people resolving the same shelf at once record it once.
        claimed = RecallStock.objects.filter(pk=fresh.pk, resolved_at__isnull=True).update(
            resolved_at=now, resolution=text
        )
        if claimed != 1:
            raise Conflict("This stock has already been resolved.", field="resolution")
        fresh.resolved_at, fresh.resolution = now, text
        on_hand = StockBalance.objects.filter(pk=fresh.balance_id).values_list(
            "on_hand", flat=True
        )[0]
        audit_record(
            actor=actor,
            site=fresh.balance.site,
            action="inventory.recall.stock_resolved",
            obj=fresh,
            data={
                "recall": fresh.recall_id,
                "ndc": fresh.balance.package.ndc11,
                "lot": fresh.balance.lot.number,
                "on_hand": str(on_hand),
                "resolution": text,
            },
        )
    return fresh


def recall_close(
    *, actor: User | None, recall: Recall, closing_note: str, site: Site | None = None
) -> Recall:
    """Close a recall, at the pharmacy that entered it, once every quarantined balance at
    every site is empty or has a resolution. Recalled stock stays RECALLED."""
    authorize(actor, Cap.INVENTORY_RECALL)
    note = str(closing_note or "").strip()
    if not note:
        raise Invalid("Say how the recall was completed.", field="closing_note")
    if len(note) > MAX_REASON:
        raise Invalid(f"At most {MAX_REASON} characters.", field="closing_note")
    with transaction.atomic():
        where = site_of(actor, site or (None if actor is not None else recall.entered_at_site))
        fresh = Recall.objects.select_related("entered_at_site").get(pk=recall.pk)
        if fresh.entered_at_site_id != where.pk:
            raise Conflict(
                f"This recall was entered at {fresh.entered_at_site.name}; it is closed there."
            )
        if fresh.status != RecallStatus.OPEN:
            raise Conflict("This recall is already closed.")
        outstanding = recall_outstanding(fresh)
        count = outstanding.count()
        if count:
            sites = outstanding.values("balance__site_id").distinct().count()
            raise Conflict(
                f"{count} quarantined lot{'s' if count != 1 else ''} at {sites} "
                f"site{'s' if sites != 1 else ''} still hold stock with no resolution; "
                "record what became of them first.",
                code_detail="stock_outstanding",
            )
        now = timezone.now()
        closed = Recall.objects.filter(pk=fresh.pk, status=RecallStatus.OPEN).update(
            status=RecallStatus.CLOSED, closed_by=actor, closed_at=now, closing_note=note
        )
        if closed != 1:  # pragma: no cover - another closer won between our read and update
            raise Conflict("This recall is already closed.")
        fresh.refresh_from_db()
        totals = RecallStock.objects.filter(recall=fresh)
        audit_record(
            actor=actor,
            site=where,
            action="inventory.recall.closed",
            obj=fresh,
            reason=note,
            data={
                "balances": totals.count(),
                "resolved": totals.filter(resolved_at__isnull=False).count(),
                "quantity_at_quarantine": str(
                    sum((r.quantity_at_quarantine for r in totals), Decimal(0))
                ),
            },
        )
    return fresh
