"""Diversion signals of one pharmacy (``cs.signals``: the pharmacist-in-charge and the
auditor): which controlled packages and which people to look at first, with the reasons in
words. The arithmetic is pure (rxdesk.controlled.diversion, where the method and its
constants are explained); this module reads what it needs from the ledger and the blind
counts, in a fixed handful of queries whatever the size of the history:

* the site's controlled-substance moves in the period, each with the package's running
  balance (a window sum per package, plus each package's balance before the period);
* the blind counts (CsAudit) in the period, and each package's last count before it (the
  gap already known when the period starts);
* the cycle counts, fills and receipts the moves refer to; the receipts posted without an
  invoice number; the people's names.

What is a count, a book correction or a plain move:

* a COUNT move of a cycle count (reference ``count_line``) is a count and its correction;
* a COUNT move of an investigation (or any other) and an ADJUST move for a count variance,
  theft or loss, found stock or a data-entry error put the books right
  (:data:`BOOK_CORRECTIONS`): no physical stock moved;
* every other move (dispensed, received, returned, wasted, damaged…) is someone's activity
  on the package, which is what a shortage found at the next count is attributed to.
  Moves made by the system (no person) are attributed to nobody."""

from __future__ import annotations

import bisect
import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db.models import F, Max, Sum, Window
from django.utils import timezone

from rxdesk.catalog.models import Package
from rxdesk.controlled import diversion as dv
from rxdesk.controlled.models import CsAudit
from rxdesk.controlled.queries import CONTROLLED_SCHEDULES, cs_site, drug_of, schedule_filter
from rxdesk.core.capabilities import Cap
from rxdesk.core.errors import Invalid
from rxdesk.core.models import Site, User
from rxdesk.inventory.choices import AdjustReason, MoveReason, ReceiptStatus
from rxdesk.inventory.models import CycleCountLine, ReceiptLine, StockMove
from rxdesk.rx.models import Fill

LOOKBACK_DAYS = 90
MIN_DAYS = 7
MAX_DAYS = 366
# ADJUST reasons that put the books right (nothing physical moved).
BOOK_CORRECTIONS = frozenset(
    {
        AdjustReason.COUNT_VARIANCE,
        AdjustReason.THEFT_LOSS,
        AdjustReason.FOUND,
        AdjustReason.DATA_ENTRY,
    }
)


@dataclass(frozen=True)
class PackageFlag:
    """One package's signals: its score (1 or more: flagged), since when, and why."""

    package: Package
    drug: str
    schedule: str
    unit: str
    score: Decimal
    flagged: bool
    since: dt.date | None
    cusum: dv.PackageSignal
    reasons: list[str]

    @property
    def cusum_flagged(self) -> bool:
        return self.cusum.flagged


@dataclass(frozen=True)
class PersonFlag:
    """One person's signals: their score (1 or more: flagged), since when, and why."""

    user_id: int | None
    name: str
    score: Decimal
    flagged: bool
    since: dt.date | None
    reasons: list[str]


@dataclass(frozen=True)
class Signals:
    site: Site
    start: dt.date
    end: dt.date
    packages: list[PackageFlag]
    people: list[PersonFlag]

    @property
    def flagged_packages(self) -> list[PackageFlag]:
        return [p for p in self.packages if p.flagged]

    @property
    def flagged_people(self) -> list[PersonFlag]:
        return [p for p in self.people if p.flagged]


@dataclass
class _Tally:
    """Lesser signs, counted per package or per person, with the first day seen."""

    count: int = 0
    quantity: Decimal = Decimal(0)
    first: dt.datetime | None = None
    labels: list[str] = field(default_factory=list)

    def add(self, when: dt.datetime, quantity: Decimal = Decimal(0), label: str = "") -> None:
        self.count += 1
        self.quantity += quantity
        self.first = when if self.first is None or when < self.first else self.first
        if label and label not in self.labels:
            self.labels.append(label)


def _days(value: Any) -> int:
    try:
        days = int(value)
    except (TypeError, ValueError):
        raise Invalid("Enter a number of days.", field="days") from None
    if not MIN_DAYS <= days <= MAX_DAYS:
        raise Invalid(f"Look back {MIN_DAYS} to {MAX_DAYS} days.", field="days")
    return days


def _num(value: Decimal) -> str:
    return f"{value.quantize(Decimal('0.1')).normalize():f}"


def _plural(n: int, one: str, many: str | None = None) -> str:
    return f"{n} {one if n == 1 else (many or one + 's')}"


def _date(when: dt.datetime | None, tz: Any) -> dt.date | None:
    return when.astimezone(tz).date() if when is not None else None


def signals(*, actor: User | None, days: Any = LOOKBACK_DAYS, site: Site | None = None) -> Signals:
    """The packages and people with any signal over the last ``days`` days (default 90),
    flagged first, highest score first."""
    where = cs_site(actor, site, cap=Cap.CS_SIGNALS)
    span = _days(days)
    tz = where.tz
    now = timezone.now()
    end = now.astimezone(tz).date()
    start = end - dt.timedelta(days=span)
    lower = dt.datetime.combine(start, dt.time.min, tzinfo=tz)

    moves = list(
        StockMove.objects.filter(site=where, occurred_at__gte=lower)
        .filter(schedule_filter(CONTROLLED_SCHEDULES))
        .annotate(
            running=Window(
                Sum("quantity"),
                partition_by=[F("package_id")],
                order_by=F("id").asc(),
                output_field=StockMove.quantity.field,
            )
        )
        .values(
            "id",
            "package_id",
            "quantity",
            "reason",
            "adjust_reason",
            "reference_type",
            "reference_id",
            "actor_id",
            "occurred_at",
            "running",
        )
        .order_by("id")
    )
    audits = list(
        CsAudit.objects.filter(site=where, counted_at__gte=lower)
        .filter(schedule_filter(CONTROLLED_SCHEDULES))
        .values("id", "package_id", "expected", "counted", "counted_at")
        .order_by("counted_at", "id")
    )
    package_ids = sorted({m["package_id"] for m in moves} | {a["package_id"] for a in audits})
    opening = {
        r["package_id"]: Decimal(r["total"] or 0)
        for r in StockMove.objects.filter(
            site=where, package_id__in=package_ids, occurred_at__lt=lower
        )
        .values("package_id")
        .annotate(total=Sum("quantity"))
        .order_by()
    }
    baseline_ids = [
        r["last"]
        for r in CsAudit.objects.filter(
            site=where, package_id__in=package_ids, counted_at__lt=lower
        )
        .values("package_id")
        .annotate(last=Max("id"))
        .order_by()
    ]
    baselines = list(
        CsAudit.objects.filter(pk__in=baseline_ids).values(
            "id", "package_id", "expected", "counted", "counted_at"
        )
    )
    count_of = dict(
        CycleCountLine.objects.filter(
            pk__in=[
                int(m["reference_id"])
                for m in moves
                if m["reference_type"] == "count_line" and m["reference_id"].isdigit()
            ]
        ).values_list("pk", "count_id")
    )
    returned_fill_ids = sorted(
        {
            int(m["reference_id"])
            for m in moves
            if m["reason"] == MoveReason.RETURN_TO_STOCK
            and m["reference_type"] == "fill"
            and m["reference_id"].isdigit()
        }
    )
    fills = {
        pk: (filled_by, f"Rx {rx}-{number}")
        for pk, filled_by, rx, number in Fill.objects.filter(pk__in=returned_fill_ids).values_list(
            "pk", "filled_by_id", "prescription__number", "number"
        )
    }
    no_invoice = list(
        ReceiptLine.objects.filter(
            receipt__site=where,
            receipt__status=ReceiptStatus.POSTED,
            receipt__posted_at__gte=lower,
            receipt__invoice_number="",
        )
        .filter(schedule_filter(CONTROLLED_SCHEDULES))
        .values("receipt_id", "package_id", "receipt__received_by_id", "receipt__posted_at")
        .order_by("receipt_id")
    )
    package_ids = sorted(set(package_ids) | {r["package_id"] for r in no_invoice})
    packages = {
        p.pk: p for p in Package.objects.filter(pk__in=package_ids).select_related("product")
    }

    # --- Per package: events for the CUSUM, and the lesser signs ---------------------------
    events: dict[int, list[dv.Event]] = defaultdict(list)
    balance_at: dict[int, list[tuple[dt.datetime, Decimal]]] = defaultdict(list)
    theft: dict[int, _Tally] = defaultdict(_Tally)
    corrections: dict[int, _Tally] = defaultdict(_Tally)
    returns: dict[int, _Tally] = defaultdict(_Tally)
    receipts: dict[int, _Tally] = defaultdict(_Tally)
    # --- Per person ------------------------------------------------------------------------
    p_corrections: dict[int, _Tally] = defaultdict(_Tally)
    p_returns: dict[int, _Tally] = defaultdict(_Tally)
    p_after_hours: dict[int, _Tally] = defaultdict(_Tally)
    p_receipts: dict[int, _Tally] = defaultdict(_Tally)

    for m in moves:
        pid = m["package_id"]
        quantity = Decimal(m["quantity"])
        after = opening.get(pid, Decimal(0)) + Decimal(m["running"] or 0)
        when = m["occurred_at"]
        balance_at[pid].append((when, after))
        actor_id = m["actor_id"]
        user = str(actor_id) if actor_id else ""
        reason, adjust = m["reason"], m["adjust_reason"]
        if adjust == AdjustReason.THEFT_LOSS:
            theft[pid].add(when, quantity)
        if reason == MoveReason.COUNT:
            if quantity < 0:
                corrections[pid].add(when, quantity)
            if actor_id:
                p_corrections[actor_id].add(when, quantity)
        if reason == MoveReason.COUNT and m["reference_type"] == "count_line":
            count_id = count_of.get(int(m["reference_id"])) if m["reference_id"].isdigit() else None
            events[pid].append(
                dv.Event(
                    at=when,
                    kind=dv.EventKind.COUNT,
                    user=user,
                    quantity=quantity,
                    expected=after - quantity,
                    label=f"Count {count_id}" if count_id else f"Count line {m['reference_id']}",
                )
            )
        elif reason == MoveReason.COUNT or (
            reason == MoveReason.ADJUST and adjust in BOOK_CORRECTIONS
        ):
            events[pid].append(
                dv.Event(at=when, kind=dv.EventKind.CORRECTION, user=user, quantity=quantity)
            )
        else:
            events[pid].append(
                dv.Event(at=when, kind=dv.EventKind.MOVE, user=user, quantity=quantity)
            )
        if reason == MoveReason.RETURN_TO_STOCK and m["reference_type"] == "fill":
            fill_id = int(m["reference_id"]) if m["reference_id"].isdigit() else 0
            filled_by, label = fills.get(fill_id, (None, f"fill {m['reference_id']}"))
            returns[pid].add(when, quantity, label)
            for person in {actor_id, filled_by}:
                if person is not None:
                    p_returns[person].add(when, quantity, label)
        if actor_id and dv.after_hours(when.astimezone(tz)):
            p_after_hours[actor_id].add(when)

    times = {pid: [at for at, _ in rows] for pid, rows in balance_at.items()}

    def held(pid: int, when: dt.datetime) -> Decimal:
        """The package's balance at ``when`` (after the last move at or before it)."""
        index = bisect.bisect_right(times.get(pid, []), when)
        return balance_at[pid][index - 1][1] if index else opening.get(pid, Decimal(0))

    for audit in [*baselines, *audits]:
        pid = audit["package_id"]
        events[pid].append(
            dv.Event(
                at=audit["counted_at"],
                kind=dv.EventKind.AUDIT,
                expected=Decimal(audit["expected"]),
                counted=Decimal(audit["counted"]),
                held=held(pid, audit["counted_at"]),
                label=f"Blind count {audit['id']}",
            )
        )
    for row in no_invoice:
        label = f"Receipt {row['receipt_id']}"
        posted_at = row["receipt__posted_at"] or lower
        receipts[row["package_id"]].add(posted_at, Decimal(0), label)
        if row["receipt__received_by_id"]:
            person_tally = p_receipts[row["receipt__received_by_id"]]
            if label not in person_tally.labels:
                person_tally.add(posted_at, Decimal(0), label)

    # --- Scores ----------------------------------------------------------------------------
    package_rows: list[PackageFlag] = []
    person_loss: dict[int, Decimal] = defaultdict(Decimal)
    person_reasons: dict[int, list[str]] = defaultdict(list)
    person_since: dict[int, list[dt.datetime]] = defaultdict(list)
    weights = dv.PACKAGE_EVENT_WEIGHTS
    for pid in package_ids:
        package = packages[pid]
        unit = package.billing_unit
        found = [
            o
            for o in dv.observations(events.get(pid, []), container=package.package_quantity)
            if o.at >= lower
        ]
        signal = dv.package_signal(found)
        score = signal.score
        reasons: list[str] = []
        starts: list[dt.datetime] = []
        if signal.score > 0 and signal.since is not None:
            state = (
                f"flagged {signal.flagged_at.astimezone(tz):%m/%d/%Y}"
                if signal.flagged_at is not None
                else "not flagged"
            )
            since = _date(signal.since, tz)
            reasons.append(
                f"Counts came up short by about {_num(signal.shortage)} {unit} since "
                f"{since:%m/%d/%Y} ({_plural(len(found), 'count')} in the period): "
                f"{signal.score}× the threshold, {state}"
            )
            starts.append(signal.since)
        for pkg_tally, key, words in (
            (theft.get(pid), "theft_loss", "adjustment for theft or loss"),
            (corrections.get(pid), "count_correction", "count correction down"),
            (returns.get(pid), "fill_returned", "controlled fill cancelled or returned to stock"),
            (
                receipts.get(pid),
                "receipt_without_invoice",
                "receipt posted without an invoice number",
            ),
        ):
            if pkg_tally is None or not pkg_tally.count:
                continue
            score += weights[key] * pkg_tally.count
            if key == "fill_returned":
                label = "controlled fills cancelled or returned to stock"
                text = (
                    f"1 {words}" if pkg_tally.count == 1 else f"{pkg_tally.count} {label}"
                ) + f" ({', '.join(pkg_tally.labels[:5])})"
            elif key == "receipt_without_invoice":
                text = (
                    f"1 {words}"
                    if pkg_tally.count == 1
                    else f"{pkg_tally.count} receipts posted without an invoice number"
                ) + f" ({', '.join(pkg_tally.labels[:5])})"
            else:
                plural = words.replace("adjustment ", "adjustments ").replace(
                    "correction ", "corrections "
                )
                text = f"1 {words}" if pkg_tally.count == 1 else f"{pkg_tally.count} {plural}"
                text += f" ({_num(pkg_tally.quantity)} {unit})"
            reasons.append(text)
            if pkg_tally.first is not None:
                starts.append(pkg_tally.first)
        if signal.flagged:
            losses = dv.user_losses(found)
            top = max((loss.peak for loss in losses.values()), default=Decimal(0))
            for key, loss in losses.items():
                if loss.peak <= 0 or loss.units <= 0:
                    continue
                person = int(key)
                part = dv.person_loss_score(loss, top)
                person_loss[person] = max(person_loss[person], part)
                loss_since = _date(loss.since, tz)
                since_words = f" since {loss_since:%m/%d/%Y}" if loss_since else ""
                person_reasons[person].append(
                    f"Losses on {drug_of(package)} (NDC {package.ndc10}): about "
                    f"{_num(loss.units)} {unit} of the shortages found after their moves"
                    f"{since_words} ({_plural(loss.counts, 'count')})"
                )
                if loss.since is not None:
                    person_since[person].append(loss.since)
        if score <= 0:
            continue
        package_rows.append(
            PackageFlag(
                package=package,
                drug=drug_of(package),
                schedule=package.product.dea_schedule,
                unit=unit,
                score=score,
                flagged=score >= 1,
                since=_date(min(starts), tz) if starts else None,
                cusum=signal,
                reasons=reasons,
            )
        )
    package_rows.sort(key=lambda p: (not p.flagged, -p.score, p.drug, p.package.ndc11))

    people_ids = (
        set(person_loss)
        | set(p_corrections)
        | set(p_returns)
        | set(p_after_hours)
        | set(p_receipts)
    )
    names = {u.pk: u.display_name for u in User.objects.filter(pk__in=sorted(people_ids))}
    opens = dv.AFTER_HOURS_UNTIL.strftime("%H:%M")
    closes = dv.AFTER_HOURS_FROM.strftime("%H:%M")
    people: list[PersonFlag] = []
    for person in sorted(people_ids):
        score = person_loss.get(person, Decimal(0))
        reasons = list(person_reasons.get(person, []))
        firsts = list(person_since.get(person, []))
        for tallies, key, one, many in (
            (
                p_corrections,
                "count_correction",
                "count correction posted",
                "count corrections posted",
            ),
            (
                p_returns,
                "fill_returned",
                "controlled fill cancelled or returned to stock",
                "controlled fills cancelled or returned to stock",
            ),
            (
                p_after_hours,
                "after_hours",
                f"controlled-substance move after hours (before {opens} or after {closes})",
                f"controlled-substance moves after hours (before {opens} or after {closes})",
            ),
            (
                p_receipts,
                "receipt_without_invoice",
                "receipt posted without an invoice number",
                "receipts posted without an invoice number",
            ),
        ):
            signs = tallies.get(person)
            if signs is None or not signs.count:
                continue
            score += dv.EVENT_WEIGHTS[key] * signs.count
            text = f"1 {one}" if signs.count == 1 else f"{signs.count} {many}"
            if signs.labels:
                text += f" ({', '.join(signs.labels[:5])})"
            reasons.append(text)
            if signs.first is not None:
                firsts.append(signs.first)
        if score <= 0:
            continue
        people.append(
            PersonFlag(
                user_id=person,
                name=names.get(person, f"user {person}"),
                score=score.quantize(Decimal("0.01")),
                flagged=score >= 1,
                since=_date(min(firsts), tz) if firsts else None,
                reasons=reasons,
            )
        )
    people.sort(key=lambda p: (not p.flagged, -p.score, p.name))
    return Signals(site=where, start=start, end=end, packages=package_rows, people=people)
