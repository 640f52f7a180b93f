"""Reads of recalls: the list, one recall, its quarantined stock per site, and every patient
at the actor's pharmacy who received an affected lot.

The patient query is built on the ledger alone (StockMove rows of reason DISPENSE with a
patient, net of RETURN_TO_STOCK), so it answers today from manual dispensings and, once
fills exist, from the fill each move references. It reads the (lot, reason) index and
aggregates in the database: a recall of a few lots answers in milliseconds over millions
of moves (bench/recall_bench.py)."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db.models import Count, F, Max, Min, Q, QuerySet, Sum, Value

from rxdesk.core.capabilities import Cap
from rxdesk.core.errors import Invalid, NotFound
from rxdesk.core.models import AuditEvent, Site, User
from rxdesk.core.services import authorize
from rxdesk.inventory.choices import MoveReason, RecallStatus
from rxdesk.inventory.models import Lot, Recall, RecallStock, StockMove
from rxdesk.patients.models import Patient

LETTERS_ACTION = "inventory.recall.letters_printed"
MAX_ID = 2**63 - 1  # a BIGINT: a larger id finds nothing and must not reach the driver
QUANTUM = Decimal("0.001")  # SQLite's SUM loses the column's scale: put it back


def site_of(actor: User | None, site: Site | None) -> Site:
    """The actor's own site (a read never looks at another pharmacy's patients or shelves),
    or the one the operator at the shell names."""
    if actor is not None:
        return actor.site
    if site is None:
        raise Invalid("Name the site.", field="site")
    return site


def recall_list(*, actor: User | None, status: str = "") -> QuerySet[Recall]:
    """Every recall (a recall is the FDA's, not one pharmacy's), newest first, with how many
    packages it names and how many of this site's balances it quarantined."""
    authorize(actor, Cap.INVENTORY_VIEW)
    qs = Recall.objects.all()
    if status in RecallStatus.values:
        qs = qs.filter(status=status)
    here = Q(stock__balance__site_id=actor.site_id) if actor is not None else Q(pk__isnull=True)
    return qs.annotate(
        item_count=Count("items", distinct=True),
        stock_here=Count("stock", filter=here, distinct=True),
    ).order_by("-recall_date", "-id")


def recall_for(*, actor: User | None, recall_id: int | Any) -> Recall:
    authorize(actor, Cap.INVENTORY_VIEW)
    try:
        pk = int(recall_id)
    except (TypeError, ValueError):
        raise NotFound("No such recall.") from None
    found = (
        Recall.objects.select_related("entered_at_site", "entered_by", "closed_by")
        .filter(pk=pk)
        .first()
        if 0 < pk <= MAX_ID
        else None
    )
    if found is None:
        raise NotFound("No such recall.")
    return found


def recall_items(recall: Recall) -> list[Any]:
    return list(recall.items.select_related("package__product").order_by("package__ndc11", "id"))


def affected_lots(recall: Recall) -> QuerySet[Lot]:
    """The lots a recall names: a lot number of a package, or every lot of it. Lot.number
    is stored upper-case, and a recall item's lot number too."""
    match = Q()
    for package_id, number in recall.items.values_list("package_id", "lot_number"):
        match |= Q(package_id=package_id, number=number) if number else Q(package_id=package_id)
    if not match:
        return Lot.objects.none()
    return Lot.objects.filter(match)


# --- Stock --------------------------------------------------------------------------------


def recall_stock_here(
    *, actor: User | None, recall: Recall, site: Site | None = None
) -> list[RecallStock]:
    """This site's quarantined balances of the recall, in detail."""
    authorize(actor, Cap.INVENTORY_VIEW)
    where = site_of(actor, site)
    return list(
        RecallStock.objects.filter(recall=recall, balance__site=where)
        .select_related("balance__lot", "balance__package__product", "balance__location")
        .order_by("balance__package__ndc11", "balance__lot__number")
    )


@dataclass(frozen=True)
class SiteStock:
    """One site's share of a recall: balances quarantined, resolved, still to deal with."""

    site_id: int
    site_name: str
    balances: int
    quantity: Decimal
    on_hand: Decimal
    resolved: int
    outstanding: int


def recall_sites(*, actor: User | None, recall: Recall) -> list[SiteStock]:
    """Counts per site (no lot detail for other pharmacies)."""
    authorize(actor, Cap.INVENTORY_VIEW)
    rows = (
        RecallStock.objects.filter(recall=recall)
        .values("balance__site_id", "balance__site__name")
        .annotate(
            balances=Count("id"),
            quantity=Sum("quantity_at_quarantine"),
            on_hand=Sum("balance__on_hand"),
            resolved=Count("id", filter=Q(resolved_at__isnull=False)),
            outstanding=Count("id", filter=Q(resolved_at__isnull=True, balance__on_hand__gt=0)),
        )
        .order_by("balance__site__name", "balance__site_id")
    )
    return [
        SiteStock(
            site_id=r["balance__site_id"],
            site_name=r["balance__site__name"],
            balances=r["balances"],
            quantity=Decimal(r["quantity"] or 0).quantize(QUANTUM),
            on_hand=Decimal(r["on_hand"] or 0).quantize(QUANTUM),
            resolved=r["resolved"],
            outstanding=r["outstanding"],
        )
        for r in rows
    ]


def recall_outstanding(recall: Recall) -> QuerySet[RecallStock]:
    """Quarantined stock still on a shelf with nothing recorded about it: blocks closing."""
    return RecallStock.objects.filter(
        recall=recall, resolved_at__isnull=True, balance__on_hand__gt=0
    )


# --- Patients -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Dispensing:
    """One dispensing move of an affected lot to the patient."""

    move_id: int
    occurred_at: dt.datetime
    quantity: Decimal  # positive: what left the shelf
    reference_type: str
    reference_id: str


@dataclass
class AffectedPatient:
    """A patient who received an affected lot here, and how much of it they kept."""

    patient: Patient
    lot: Lot
    dispensed: Decimal
    returned: Decimal
    first_dispensed_at: dt.datetime
    last_dispensed_at: dt.datetime
    dispensings: list[Dispensing] = field(default_factory=list)

    @property
    def net(self) -> Decimal:
        return self.dispensed - self.returned


def _moves_of(site: Site, lot_ids: list[int]) -> QuerySet[StockMove]:
    """The site's patient moves of the given lots, read through the (lot, reason) index.

    The site is compared as ``site_id + 0``: an expression no index can serve, so neither
    SQLite (which keeps no statistics unless ANALYZE runs) nor PostgreSQL is tempted by
    (site, reason, occurred_at), which at a busy counter holds every dispensing of years.
    A recall names a few lots; their moves are few, and the site is checked on those."""
    return (
        StockMove.objects.alias(site_plain=F("site_id") + Value(0))
        .filter(lot_id__in=lot_ids, site_plain=site.pk, patient_id__isnull=False)
        .order_by()
    )


def recall_patients(
    *, actor: User | None, recall: Recall, site: Site | None = None
) -> list[AffectedPatient]:
    """Every patient at the actor's site who received an affected lot and did not return
    all of it to stock: one row per (patient, lot), by name."""
    authorize(actor, Cap.PATIENT_VIEW)
    authorize(actor, Cap.INVENTORY_VIEW)
    where = site_of(actor, site)
    lots = {lot.pk: lot for lot in affected_lots(recall).select_related("package__product")}
    lot_ids = list(lots)
    if not lot_ids:
        return []
    totals = list(
        _moves_of(where, lot_ids)
        .filter(reason__in=[MoveReason.DISPENSE, MoveReason.RETURN_TO_STOCK])
        .values("patient_id", "lot_id")
        .annotate(
            total=Sum("quantity"),
            dispensed=Sum("quantity", filter=Q(reason=MoveReason.DISPENSE)),
            first=Min("occurred_at", filter=Q(reason=MoveReason.DISPENSE)),
            last=Max("occurred_at", filter=Q(reason=MoveReason.DISPENSE)),
        )
        .filter(total__lt=0)
        .order_by()
    )
    if not totals:
        return []
    pairs = {(row["patient_id"], row["lot_id"]) for row in totals}
    patient_ids = {p for p, _ in pairs}
    dispensings: dict[tuple[int, int], list[Dispensing]] = {pair: [] for pair in pairs}
    moves = (
        _moves_of(where, list({lot for _, lot in pairs}))
        .filter(reason=MoveReason.DISPENSE, patient_id__in=patient_ids)
        .values_list(
            "id",
            "patient_id",
            "lot_id",
            "occurred_at",
            "quantity",
            "reference_type",
            "reference_id",
        )
        .order_by("occurred_at", "id")
    )
    for move_id, patient_id, lot_id, at, quantity, ref_type, ref_id in moves:
        bucket = dispensings.get((patient_id, lot_id))
        if bucket is not None:
            bucket.append(Dispensing(move_id, at, -quantity, ref_type, ref_id))
    patients = Patient.objects.in_bulk(patient_ids)
    out = [
        AffectedPatient(
            patient=patients[row["patient_id"]],
            lot=lots[row["lot_id"]],
            dispensed=(-row["dispensed"]).quantize(QUANTUM),
            returned=(row["total"] - row["dispensed"]).quantize(QUANTUM),
            first_dispensed_at=row["first"],
            last_dispensed_at=row["last"],
            dispensings=dispensings[(row["patient_id"], row["lot_id"])],
        )
        for row in totals
        if row["dispensed"] is not None
    ]
    out.sort(
        key=lambda a: (
            a.patient.last_name.lower(),
            a.patient.first_name.lower(),
            a.patient.pk,
            a.lot.number,
        )
    )
    return out


def recall_notified(*, actor: User | None, recall: Recall, site: Site | None = None) -> set[int]:
    """The patients this site has printed a recall letter for (from the audit log, which
    records each printing with the patients it went to)."""
    authorize(actor, Cap.INVENTORY_VIEW)
    where = site_of(actor, site)
    notified: set[int] = set()
    events = AuditEvent.objects.filter(
        site=where, action=LETTERS_ACTION, object_type="inventory.recall", object_id=str(recall.pk)
    ).values_list("data", flat=True)
    for data in events:
        try:
            ids = json.loads(data).get("patient_ids", [])
        except (ValueError, AttributeError):
            continue
        notified.update(int(i) for i in ids if isinstance(i, int))
    return notified
