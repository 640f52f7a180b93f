"""The controlled-substance perpetual inventory and the daily log: views over the stock ledger
(StockMove, StockBalance), never a second copy of it (DESIGN, "Stock ledger").

* :func:`perpetual` — every controlled package the site holds or has moved, Schedule II
  apart from Schedules III–V (21 CFR 1304.04(h): C-I/C-II records kept separately; C-III–V
  separately or readily retrievable), with each lot on hand and the last move.
* :func:`package_ledger` — one package's running record at the site (1304.21, 1304.22(c)):
  every receipt and disposition with its date, who, the witness, what it belongs to in
  words, the lot's balance after it and the package's running balance after it.
* :func:`daily_log` / :func:`unsigned_days` — one day's controlled-substance moves of one
  schedule group for the pharmacist's review and sign-off (1306.22(f)), and the days still
  waiting for one. The sign-off itself is a write: rxdesk.controlled.services_log.

Each read checks ``cs.view`` and sees only the actor's own site. Days are the pharmacy's
calendar days (its time zone). A patient's name shows only to a reader who holds
``patient.view``; the others see the Rx number. CSV forms (a header row, one row per line)
let the pharmacy hand an inspector the record in seconds."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db.models import (
    Case,
    CharField,
    Count,
    F,
    Max,
    OuterRef,
    Q,
    Subquery,
    Sum,
    Value,
    When,
    Window,
)
from django.db.models.functions import TruncDate
from django.utils import timezone

from rxdesk.catalog.models import Package
from rxdesk.controlled.choices import ScheduleGroup, WasteKind
from rxdesk.controlled.models import DailyLogSignoff, DestructionLine, Waste
from rxdesk.core.capabilities import Cap, has
from rxdesk.core.errors import Invalid, NotFound
from rxdesk.core.forms import MAX_ID
from rxdesk.core.models import Site, User
from rxdesk.core.services import authorize
from rxdesk.inventory import ledger
from rxdesk.inventory.choices import AdjustReason, LotStatus, MoveReason, VendorReturnKind
from rxdesk.inventory.models import (
    CycleCountLine,
    Lot,
    ReceiptLine,
    StockBalance,
    StockMove,
    StockTransfer,
    VendorReturnLine,
)
from rxdesk.inventory.queries import search_filter
from rxdesk.inventory.services.common import date_of, package_of
from rxdesk.patients.models import Patient
from rxdesk.rx.models import Fill

# 21 CFR 1304.04(h): Schedules I and II together, apart from III–V. (A pharmacy holds no
# Schedule I stock; were a package so labeled, it belongs with the strictest records.)
GROUP_SCHEDULES: dict[str, tuple[str, ...]] = {
    ScheduleGroup.II: ("CI", "CII"),
    ScheduleGroup.III_V: ("CIII", "CIV", "CV"),
}
CONTROLLED_SCHEDULES: tuple[str, ...] = (*GROUP_SCHEDULES["II"], *GROUP_SCHEDULES["III-V"])
MAX_UNSIGNED_DAYS = 366
MAX_QUERY = 200
# Control characters (NUL above all: PostgreSQL cannot store or compare it) in typed text.
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_GROUP_WORDS = {
    "II": ScheduleGroup.II,
    "2": ScheduleGroup.II,
    "CII": ScheduleGroup.II,
    "C2": ScheduleGroup.II,
    "III-V": ScheduleGroup.III_V,
    "3-5": ScheduleGroup.III_V,
    "CIII-CV": ScheduleGroup.III_V,
    "C3-C5": ScheduleGroup.III_V,
}


# --- Site, group, package ----------------------------------------------------------------------


def cs_site(actor: User | None, site: Site | None = None, *, cap: Cap = Cap.CS_VIEW) -> Site:
    """The site a read looks at: the actor's own (after checking ``cap``); the operator at
    the shell names one."""
    authorize(actor, cap)
    if actor is not None:
        if actor.site is None:
            raise NotFound("Your account is not attached to a pharmacy.")
        return actor.site
    if site is None:
        raise Invalid("Name the site.", field="site")
    return site


def group_of(value: Any, *, field: str = "group") -> ScheduleGroup:
    """ "II" or "III-V" (also 2, CII, 3-5, III–V…), or :class:`Invalid` naming ``field``."""
    text = str(value or "").strip().upper().replace("–", "-").replace("—", "-").replace(" ", "")
    found = _GROUP_WORDS.get(text)
    if found is None:
        raise Invalid("Choose Schedule II (II) or Schedules III–V (III-V).", field=field)
    return found


def group_for_schedule(schedule: str) -> ScheduleGroup | None:
    """The records group of a schedule in force ("CII" → II), None if not controlled."""
    for group, schedules in GROUP_SCHEDULES.items():
        if schedule in schedules:
            return ScheduleGroup(group)
    return None


def schedule_filter(schedules: Sequence[str], prefix: str = "package__product__") -> Q:
    """Rows whose product's schedule in force (the state override where set, else the FDA
    directory's — catalog.Product.dea_schedule) is one of ``schedules``."""
    return Q(**{f"{prefix}dea_schedule_override__in": list(schedules)}) | Q(
        **{
            f"{prefix}dea_schedule_override": "",
            f"{prefix}directory_dea_schedule__in": list(schedules),
        }
    )


def controlled_package(value: Package | str | None, *, field: str = "ndc") -> Package:
    """A catalog package of a controlled substance, by row or NDC (any layout, or a scan);
    anything else is :class:`Invalid` naming ``field``."""
    package = package_of(value, field=field)
    if group_for_schedule(package.product.dea_schedule) is None:
        raise Invalid(
            f"NDC {package.ndc10} is not a controlled substance: it has no DEA schedule.",
            field=field,
        )
    return package


def day_bounds(
    where: Site, start: dt.date, end: dt.date | None = None
) -> tuple[dt.datetime, dt.datetime]:
    """Midnight starting ``start`` to midnight after ``end`` (default: ``start``), at the
    pharmacy, as aware datetimes (compared in UTC by the database)."""
    tz = where.tz
    last = end or start
    return (
        dt.datetime.combine(start, dt.time.min, tzinfo=tz),
        dt.datetime.combine(last + dt.timedelta(days=1), dt.time.min, tzinfo=tz),
    )


def _quantity(value: Any) -> Decimal:
    """A sum as the ledger writes quantities (SQLite returns 118 where PostgreSQL says
    118.000); None (no rows) is zero."""
    return Decimal(value if value is not None else 0).quantize(ledger.QUANTUM)


def drug_of(package: Package) -> str:
    """The drug as the records name it: name, strength and form."""
    product = package.product
    strength = product.strength.replace("/1;", ";").removesuffix("/1")
    return " ".join(p for p in (product.display_name, strength, product.dosage_form.lower()) if p)


# --- What a move belongs to, in words -----------------------------------------------------------


def _ids(refs: Iterable[tuple[str, str]], kind: str) -> list[int]:
    out = []
    for ref_type, ref_id in refs:
        if ref_type == kind and ref_id.isdigit() and 0 < int(ref_id) <= MAX_ID:
            out.append(int(ref_id))
    return sorted(set(out))


def _receipt_words(line_ids: list[int]) -> dict[str, str]:
    out = {}
    rows = ReceiptLine.objects.filter(pk__in=line_ids).values_list(
        "pk", "receipt_id", "receipt__invoice_number", "receipt__supplier__name", "dea_order_number"
    )
    for pk, receipt_id, invoice, supplier, dea_number in rows:
        invoice_words = f"invoice {invoice}" if invoice else "no invoice number"
        form = f" (222/CSOS {dea_number})" if dea_number else ""
        out[str(pk)] = f"Receipt {receipt_id}, {invoice_words} from {supplier}{form}"
    return out


def _fill_words(fill_ids: list[int]) -> dict[str, str]:
    rows = Fill.objects.filter(pk__in=fill_ids).values_list("pk", "prescription__number", "number")
    return {str(pk): f"Rx {rx}-{number}" for pk, rx, number in rows}


def _count_words(line_ids: list[int]) -> dict[str, str]:
    rows = CycleCountLine.objects.filter(pk__in=line_ids).values_list("pk", "count_id")
    return {str(pk): f"Count {count_id}" for pk, count_id in rows}


def _return_words(line_ids: list[int]) -> dict[str, str]:
    out = {}
    rows = VendorReturnLine.objects.filter(pk__in=line_ids).values_list(
        "pk", "vendor_return_id", "vendor_return__kind", "vendor_return__supplier__name"
    )
    for pk, return_id, kind, supplier in rows:
        what = (
            "Reverse distributor return"
            if kind == VendorReturnKind.REVERSE_DISTRIBUTOR
            else "Recall return"
            if kind == VendorReturnKind.RECALL
            else "Return"
        )
        out[str(pk)] = f"{what} {return_id} to {supplier}"
    return out


def _transfer_words(transfer_ids: list[int], site: Site) -> dict[str, str]:
    out = {}
    rows = StockTransfer.objects.filter(pk__in=transfer_ids).values_list(
        "pk", "from_site_id", "from_site__name", "to_site__name"
    )
    for pk, from_id, from_name, to_name in rows:
        out[str(pk)] = (
            f"Transfer {pk} to {to_name}"
            if from_id == site.pk
            else f"Transfer {pk} from {from_name}"
        )
    return out


def _destruction_words(line_ids: list[int]) -> dict[str, str]:
    rows = DestructionLine.objects.filter(pk__in=line_ids).values_list("pk", "destruction_id")
    return {str(pk): f"Destruction (Form 41) {destruction_id}" for pk, destruction_id in rows}


def _waste_words(waste_ids: list[int]) -> dict[str, str]:
    rows = Waste.objects.filter(pk__in=waste_ids).values_list("pk", "kind")
    labels = dict(WasteKind.choices)
    return {str(pk): f"{labels.get(kind, 'Waste')} {pk} (witnessed)" for pk, kind in rows}


_PLAIN = {
    "adjustment": "Adjustment",
    "excursion": "Temperature excursion",
    "cs_investigation": "Investigation",
    "cs_audit": "Blind count",
    "opening": "Opening balance",
}


def describe_references(refs: Iterable[tuple[str, str]], site: Site) -> dict[tuple[str, str], str]:
    """``(reference_type, reference_id)`` of moves → what each belongs to, in words
    ("Receipt 12, invoice INV-9 from McKesson", "Rx 1000123-1", "Count 7"…). One query per
    kind of document, however many moves."""
    wanted = {(t or "", i or "") for t, i in refs}
    by_kind = {
        "receipt_line": _receipt_words,
        "fill": _fill_words,
        "count_line": _count_words,
        "vendor_return_line": _return_words,
        "cs_destruction_line": _destruction_words,
        "cs_waste": _waste_words,
    }
    found: dict[str, dict[str, str]] = {}
    for kind, words in by_kind.items():
        ids = _ids(wanted, kind)
        found[kind] = words(ids) if ids else {}
    transfers = _ids(wanted, "transfer")
    found["transfer"] = _transfer_words(transfers, site) if transfers else {}
    out: dict[tuple[str, str], str] = {}
    for ref_type, ref_id in wanted:
        if not ref_type:
            out[(ref_type, ref_id)] = ""
            continue
        text = found.get(ref_type, {}).get(ref_id)
        if text is None:
            name = _PLAIN.get(ref_type) or ref_type.replace("_", " ").capitalize()
            text = f"{name} {ref_id}".strip()
        out[(ref_type, ref_id)] = text
    return out


# --- One move, as the records show it ----------------------------------------------------------


@dataclass(frozen=True)
class MoveLine:
    """One ledger move as a line of a controlled-substance record."""

    id: int
    occurred_at: dt.datetime
    local: dt.datetime  # the same instant at the pharmacy
    package_id: int
    ndc: str
    drug: str
    unit: str
    reason: str
    reason_label: str
    adjust_reason: str
    adjust_label: str
    quantity: Decimal  # signed: + into stock, − out
    lot_number: str
    lot_expiry: dt.date | None
    lot_balance: Decimal  # the lot's balance right after the move (StockMove.balance_after)
    package_balance: Decimal | None  # the package's balance at the site right after it
    actor_name: str
    witness_name: str
    reference_type: str
    reference_id: str
    reference: str  # what it belongs to, in words
    patient: str  # the patient's name (readers with patient.view), else ""
    note: str

    @property
    def why(self) -> str:
        return (
            f"{self.reason_label} — {self.adjust_label}" if self.adjust_label else self.reason_label
        )


_REASONS = dict(MoveReason.choices)
_ADJUST = dict(AdjustReason.choices)


def _patients(actor: User | None, moves: Sequence[StockMove]) -> dict[int, str]:
    if actor is not None and not has(actor, Cap.PATIENT_VIEW):
        return {}
    ids = sorted({m.patient_id for m in moves if m.patient_id})
    if not ids:
        return {}
    return {
        p.pk: p.full_name
        for p in Patient.objects.filter(pk__in=ids).only(
            "pk", "first_name", "middle_name", "last_name", "suffix"
        )
    }


def move_lines(
    actor: User | None,
    where: Site,
    moves: Sequence[StockMove],
    running: dict[int, Decimal] | None = None,
) -> list[MoveLine]:
    """The moves (with lot and package__product selected) as record lines; ``running``:
    move id → the package's balance right after it."""
    words = describe_references(((m.reference_type, m.reference_id) for m in moves), where)
    names = _patients(actor, moves)
    tz = where.tz
    lines = []
    for m in moves:
        package = m.package
        lines.append(
            MoveLine(
                id=m.pk,
                occurred_at=m.occurred_at,
                local=m.occurred_at.astimezone(tz),
                package_id=m.package_id,
                ndc=package.ndc10,
                drug=drug_of(package),
                unit=package.billing_unit,
                reason=m.reason,
                reason_label=_REASONS.get(m.reason, m.reason),
                adjust_reason=m.adjust_reason,
                adjust_label=_ADJUST.get(m.adjust_reason, m.adjust_reason),
                quantity=m.quantity,
                lot_number=m.lot.number,
                lot_expiry=m.lot.expiry,
                lot_balance=m.balance_after,
                package_balance=running.get(m.pk) if running is not None else None,
                actor_name=m.actor_name,
                witness_name=m.witness_name,
                reference_type=m.reference_type,
                reference_id=m.reference_id,
                reference=words.get((m.reference_type, m.reference_id), ""),
                patient=names.get(m.patient_id or 0, ""),
                note=m.note,
            )
        )
    return lines


# --- The perpetual inventory -------------------------------------------------------------------


@dataclass(frozen=True)
class LotLine:
    balance_id: int
    lot_id: int
    lot_number: str
    expiry: dt.date | None
    on_hand: Decimal
    status: str
    status_label: str
    expired: bool


@dataclass(frozen=True)
class PerpetualRow:
    """One controlled package at the site: the schedule in force, on hand (the sum of its
    lots), each lot, and the last move."""

    package: Package
    schedule: str
    drug: str
    on_hand: Decimal
    unit: str
    lots: list[LotLine]
    last_move_id: int | None
    last_move_at: dt.datetime | None


@dataclass(frozen=True)
class Perpetual:
    site: Site
    group: ScheduleGroup
    q: str
    rows: list[PerpetualRow]
    as_of: dt.datetime

    @property
    def group_label(self) -> str:
        return self.group.label


_STATUS = dict(LotStatus.choices)


def perpetual(
    *,
    actor: User | None,
    group: Any = ScheduleGroup.II,
    q: str | None = None,
    site: Site | None = None,
) -> Perpetual:
    """Every package of the group the site holds or has moved (a balance row exists from
    its first move), by drug name: on hand, lots (on hand, expiry, status) and the last
    move. ``q`` finds packages by name, NDC (any layout, or a scan) or lot number."""
    where = cs_site(actor, site)
    the_group = group_of(group)
    text = CONTROL.sub("", q or "").strip()[:MAX_QUERY]
    as_of = timezone.now()
    balances = StockBalance.objects.filter(site=where).filter(
        schedule_filter(GROUP_SCHEDULES[the_group])
    )
    if text:
        balances = balances.filter(
            package_id__in=StockBalance.objects.filter(site=where)
            .filter(search_filter(text))
            .values("package_id")
        )
    # The package's last move: one seek down the (site, package, id) index per row, never a
    # pass over the package's whole history.
    last_of_package = (
        StockMove.objects.filter(site=where, package_id=OuterRef("package_id"))
        .order_by("-id")
        .values("id")[:1]
    )
    rows = list(
        balances.select_related("lot", "package__product")
        .annotate(last_move=Subquery(last_of_package))
        .order_by(
            "package__product__name",
            "package__ndc11",
            F("lot__expiry").asc(nulls_last=True),
            "lot__number",
            "pk",
        )
    )
    last_ids = {b.package_id: b.last_move for b in rows if b.last_move}
    when = dict(
        StockMove.objects.filter(pk__in=set(last_ids.values())).values_list("id", "occurred_at")
    )
    last = {package_id: (move_id, when.get(move_id)) for package_id, move_id in last_ids.items()}
    today = where.today()
    grouped: dict[int, list[StockBalance]] = {}
    for b in rows:
        grouped.setdefault(b.package_id, []).append(b)
    out = []
    for balances_of in grouped.values():
        package = balances_of[0].package
        last_id, last_at = last.get(package.pk, (None, None))
        out.append(
            PerpetualRow(
                package=package,
                schedule=package.product.dea_schedule,
                drug=drug_of(package),
                on_hand=sum((b.on_hand for b in balances_of), Decimal(0)),
                unit=package.billing_unit,
                lots=[
                    LotLine(
                        balance_id=b.pk,
                        lot_id=b.lot_id,
                        lot_number=b.lot.number,
                        expiry=b.lot.expiry,
                        on_hand=b.on_hand,
                        status=b.status,
                        status_label=_STATUS.get(b.status, b.status),
                        expired=b.lot.expiry is not None and b.lot.expiry < today,
                    )
                    for b in balances_of
                ],
                last_move_id=last_id,
                last_move_at=last_at,
            )
        )
    return Perpetual(site=where, group=the_group, q=text, rows=out, as_of=as_of)


def _csv(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue()


def _num(value: Decimal | None) -> str:
    return "" if value is None else f"{value.normalize():f}"


def perpetual_csv(report: Perpetual) -> str:
    """The perpetual inventory as CSV: one row per lot, the package's total beside it."""
    tz = report.site.tz
    return _csv(
        [
            "Schedule",
            "Drug",
            "NDC",
            "Package size",
            "Unit",
            "Package on hand",
            "Lot",
            "Expiry",
            "Lot status",
            "Lot on hand",
            "Last move",
            "Last move at",
        ],
        (
            [
                row.schedule,
                row.drug,
                row.package.ndc10,
                _num(row.package.package_quantity),
                row.unit,
                _num(row.on_hand),
                lot.lot_number,
                lot.expiry.isoformat() if lot.expiry else "",
                lot.status_label,
                _num(lot.on_hand),
                row.last_move_id or "",
                row.last_move_at.astimezone(tz).strftime("%Y-%m-%d %H:%M")
                if row.last_move_at
                else "",
            ]
            for row in report.rows
            for lot in row.lots
        ),
    )


# --- One package's running record ---------------------------------------------------------------


@dataclass(frozen=True)
class PackageLedger:
    """One package's moves at the site in a period, oldest first. ``opening``: the
    package's balance before the period; ``closing``: after it. With a lot, only that lot's
    moves are listed (the package balance after each still counts every lot) and
    ``lot_opening`` is the lot's own balance before the period."""

    site: Site
    package: Package
    schedule: str
    group: ScheduleGroup
    drug: str
    lot: Lot | None
    start: dt.date | None
    end: dt.date | None
    opening: Decimal
    lot_opening: Decimal | None
    closing: Decimal
    on_hand: Decimal  # the package's balance now
    lines: list[MoveLine]


def _lot_of(package: Package, value: Lot | str | None) -> Lot | None:
    if value is None or value == "":
        return None
    if isinstance(value, Lot):
        if value.package_id != package.pk:
            raise Invalid(f"Lot {value.number} belongs to another NDC.", field="lot")
        return value
    number = str(value).strip().upper()[:41]
    if CONTROL.search(number):
        raise Invalid("A lot number has letters and digits only.", field="lot")
    found = Lot.objects.filter(package=package, number=number).first()
    if found is None:
        raise Invalid(f"NDC {package.ndc10} has no lot {number} on file.", field="lot")
    return found


def package_ledger(
    *,
    actor: User | None,
    package: Package | str | None,
    lot: Lot | str | None = None,
    start: dt.date | str | None = None,
    end: dt.date | str | None = None,
    site: Site | None = None,
) -> PackageLedger:
    """Every move of ``package`` at the site (from ``start`` through ``end``, local days;
    both optional), oldest first, with the lot's balance and the package's running balance
    after each (a window sum over the site's moves of the package ordered by id, computed
    by the database in the same query) and what each belongs to in words."""
    where = cs_site(actor, site)
    pkg = controlled_package(package)
    the_lot = _lot_of(pkg, lot)
    first = date_of(start, field="start")
    last = date_of(end, field="end")
    if first is not None and last is not None and last < first:
        raise Invalid("The end date is before the start date.", field="end")
    moves = StockMove.objects.filter(site=where, package=pkg)
    lower = upper = None
    if first is not None:
        lower = day_bounds(where, first)[0]
    if last is not None:
        upper = day_bounds(where, last)[1]
    balances = StockBalance.objects.filter(site=where, package=pkg)
    wanted: dict[str, Any] = {"total": Sum("on_hand")}
    if the_lot is not None:
        wanted["lot"] = Sum("on_hand", filter=Q(lot=the_lot))
    held = balances.aggregate(**wanted)
    on_hand = _quantity(held["total"])
    opening = lot_opening = Decimal(0)
    if lower is not None:
        # Balance = sum of moves (the ledger's invariant), so the balance before ``lower`` is
        # what is on hand now less what moved since: a range of the (site, package,
        # occurred_at) index, never a pass over the years before the period.
        sums: dict[str, Any] = {"package": Sum("quantity")}
        if the_lot is not None:
            sums["lot"] = Sum("quantity", filter=Q(lot=the_lot))
        since = moves.filter(occurred_at__gte=lower).aggregate(**sums)
        opening = on_hand - _quantity(since["package"])
        lot_opening = _quantity(held.get("lot")) - _quantity(since.get("lot"))
    period = moves
    if lower is not None:
        period = period.filter(occurred_at__gte=lower)
    if upper is not None:
        period = period.filter(occurred_at__lt=upper)
    rows = list(
        period.select_related("lot", "package__product")
        .annotate(
            running=Window(
                Sum("quantity"), order_by=F("id").asc(), output_field=StockMove.quantity.field
            )
        )
        .order_by("id")
    )
    running = {m.pk: opening + _quantity(m.running) for m in rows}
    closing = running[rows[-1].pk] if rows else opening
    listed = [m for m in rows if the_lot is None or m.lot_id == the_lot.pk]
    group = group_for_schedule(pkg.product.dea_schedule)
    assert group is not None  # controlled_package made sure
    return PackageLedger(
        site=where,
        package=pkg,
        schedule=pkg.product.dea_schedule,
        group=group,
        drug=drug_of(pkg),
        lot=the_lot,
        start=first,
        end=last,
        opening=opening,
        lot_opening=lot_opening if the_lot is not None else None,
        closing=closing,
        on_hand=on_hand,
        lines=move_lines(actor, where, listed, running),
    )


_LEDGER_HEADER = [
    "Move",
    "Date",
    "Time",
    "Why",
    "Lot",
    "Expiry",
    "Quantity",
    "Lot balance after",
    "Package balance after",
    "By",
    "Witness",
    "Belongs to",
    "Patient",
    "Note",
]


def _line_row(line: MoveLine) -> list[Any]:
    return [
        line.id,
        line.local.strftime("%Y-%m-%d"),
        line.local.strftime("%H:%M:%S"),
        line.why,
        line.lot_number,
        line.lot_expiry.isoformat() if line.lot_expiry else "",
        _num(line.quantity),
        _num(line.lot_balance),
        _num(line.package_balance),
        line.actor_name,
        line.witness_name,
        line.reference,
        line.patient,
        line.note,
    ]


def package_ledger_csv(report: PackageLedger) -> str:
    """The package's record as CSV: the opening balance of the period first, then one row
    per move."""
    opening = ["", report.start.isoformat() if report.start else "", "", "Opening balance"]
    opening += ["", "", "", _num(report.lot_opening), _num(report.opening), "", "", "", "", ""]
    return _csv(_LEDGER_HEADER, [opening, *(_line_row(line) for line in report.lines)])


# --- The daily log -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ReasonTotal:
    reason: str
    label: str
    moves: int
    quantities: list[tuple[str, Decimal]]  # (billing unit, signed total)


@dataclass(frozen=True)
class SignoffState:
    """Where a day's log stands: ``not_signed``, ``signed`` (a sign-off covers exactly the
    moves on it now) or ``changed`` (moves were posted for the day after the last
    sign-off)."""

    state: str
    text: str
    current: list[DailyLogSignoff]


@dataclass(frozen=True)
class DailyLog:
    site: Site
    day: dt.date
    group: ScheduleGroup
    lines: list[MoveLine]
    totals: list[ReasonTotal]
    moves: int
    last_move_id: int
    signoffs: list[DailyLogSignoff]
    state: SignoffState

    @property
    def group_label(self) -> str:
        return self.group.label


def day_moves(where: Site, day: dt.date, group: ScheduleGroup) -> Any:
    """The site's moves of controlled packages of ``group`` on the local ``day``."""
    lower, upper = day_bounds(where, day)
    return StockMove.objects.filter(
        site=where, occurred_at__gte=lower, occurred_at__lt=upper
    ).filter(schedule_filter(GROUP_SCHEDULES[group]))


def day_tally(where: Site, day: dt.date, group: ScheduleGroup) -> tuple[int, int]:
    """(moves, last move id) of the day's log: what a sign-off covers."""
    found = day_moves(where, day, group).aggregate(n=Count("id"), last=Max("id"))
    return found["n"] or 0, found["last"] or 0


def _local_time(where: Site, when: dt.datetime) -> str:
    return when.astimezone(where.tz).strftime("%m/%d/%Y %H:%M")


def signoff_state(
    where: Site, signoffs: Sequence[DailyLogSignoff], moves: int, last_move_id: int
) -> SignoffState:
    """Whether the day's log is signed as it stands (``signoffs``: newest first)."""
    current = [s for s in signoffs if s.moves == moves and s.last_move_id == last_move_id]
    if current:
        who = "; ".join(f"{s.signer_name} at {_local_time(where, s.signed_at)}" for s in current)
        quiet = " — no controlled-substance activity" if moves == 0 else ""
        return SignoffState("signed", f"Signed by {who}{quiet}", current)
    if signoffs:
        latest = signoffs[0]
        return SignoffState(
            "changed",
            f"Changed since signed by {latest.signer_name} at "
            f"{_local_time(where, latest.signed_at)}: {moves} move{'s' if moves != 1 else ''} "
            f"now, {latest.moves} when signed",
            [],
        )
    if moves == 0:
        return SignoffState("not_signed", "Not signed — no controlled-substance activity", [])
    return SignoffState("not_signed", "Not signed", [])


def daily_log(
    *,
    actor: User | None,
    day: dt.date | str | None = None,
    group: Any = ScheduleGroup.II,
    site: Site | None = None,
) -> DailyLog:
    """Every controlled-substance move of the group on the local ``day`` (default: today),
    oldest first; totals by reason (moves and quantity per billing unit); and the sign-off
    state (rxdesk.controlled.services_log.daily_log_sign)."""
    where = cs_site(actor, site)
    the_group = group_of(group)
    the_day = date_of(day, field="day") or where.today()
    moves = list(
        day_moves(where, the_day, the_group)
        .select_related("lot", "package__product")
        .order_by("id")
    )
    lines = move_lines(actor, where, moves)
    counts: dict[str, int] = defaultdict(int)
    sums: dict[str, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for line in lines:
        counts[line.reason] += 1
        sums[line.reason][line.unit] += line.quantity
    order = list(MoveReason.values)
    totals = [
        ReasonTotal(
            reason=reason,
            label=_REASONS.get(reason, reason),
            moves=counts[reason],
            quantities=sorted(sums[reason].items()),
        )
        for reason in sorted(counts, key=lambda r: order.index(r) if r in order else len(order))
    ]
    signoffs = list(
        DailyLogSignoff.objects.filter(site=where, day=the_day, group=the_group)
        .select_related("signed_by")
        .order_by("-signed_at", "-id")
    )
    last_id = max((m.pk for m in moves), default=0)
    return DailyLog(
        site=where,
        day=the_day,
        group=the_group,
        lines=lines,
        totals=totals,
        moves=len(moves),
        last_move_id=last_id,
        signoffs=signoffs,
        state=signoff_state(where, signoffs, len(moves), last_id),
    )


def daily_log_csv(log: DailyLog) -> str:
    """The day's log as CSV: one row per move, the drug and NDC first."""
    return _csv(
        ["Drug", "NDC", "Unit", *_LEDGER_HEADER],
        ([line.drug, line.ndc, line.unit, *_line_row(line)] for line in log.lines),
    )


@dataclass(frozen=True)
class UnsignedDay:
    day: dt.date
    group: ScheduleGroup
    moves: int
    state: str  # "not_signed" or "changed"
    text: str

    @property
    def group_label(self) -> str:
        return self.group.label


def unsigned_days(
    *, actor: User | None, days: int = 30, site: Site | None = None
) -> list[UnsignedDay]:
    """The past ``days`` days (today excluded: it is not over) that had controlled-substance
    moves and have no sign-off covering them as they stand, newest first, per group."""
    where = cs_site(actor, site)
    try:
        span = int(days)
    except (TypeError, ValueError):
        raise Invalid("Enter a number of days.", field="days") from None
    if not 1 <= span <= MAX_UNSIGNED_DAYS:
        raise Invalid(f"Enter 1 to {MAX_UNSIGNED_DAYS} days.", field="days")
    today = where.today()
    first = today - dt.timedelta(days=span)
    lower, upper = day_bounds(where, first, today - dt.timedelta(days=1))
    ii = schedule_filter(GROUP_SCHEDULES[ScheduleGroup.II])
    tally = (
        StockMove.objects.filter(site=where, occurred_at__gte=lower, occurred_at__lt=upper)
        .filter(schedule_filter(CONTROLLED_SCHEDULES))
        .annotate(
            local_day=TruncDate("occurred_at", tzinfo=where.tz),
            records=Case(
                When(ii, then=Value(ScheduleGroup.II.value)),
                default=Value(ScheduleGroup.III_V.value),
                output_field=CharField(),
            ),
        )
        .values("local_day", "records")
        .annotate(n=Count("id"), last=Max("id"))
        .order_by()
    )
    signed: dict[tuple[dt.date, str], list[DailyLogSignoff]] = defaultdict(list)
    for s in DailyLogSignoff.objects.filter(site=where, day__gte=first, day__lt=today).order_by(
        "-signed_at", "-id"
    ):
        signed[(s.day, s.group)].append(s)
    out = []
    for row in tally:
        key = (row["local_day"], row["records"])
        state = signoff_state(where, signed.get(key, []), row["n"], row["last"])
        if state.state != "signed":
            out.append(
                UnsignedDay(
                    day=row["local_day"],
                    group=ScheduleGroup(row["records"]),
                    moves=row["n"],
                    state=state.state,
                    text=state.text,
                )
            )
    out.sort(key=lambda u: (u.day, u.group == ScheduleGroup.II), reverse=True)
    return out
