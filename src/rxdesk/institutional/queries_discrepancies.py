"""Reads of cabinet discrepancies, override removals and the dispensed-versus-administered
comparison: the lists with each discrepancy's age and whether it is past the shift, the
aging report (open discrepancies in buckets per cabinet, controlled first), the override
removals to review, and per cabinet user and drug what was removed, returned, wasted and
given (the diversion check hospitals run on controlled drugs).

Reading discrepancies is adc.view (the inventory specialist and the auditor too: they see
no patient names); override removals adc.resolve; the comparison, which names nurses,
adc.report. Another pharmacy's rows do not exist here."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Q, QuerySet, Sum
from django.utils import timezone

from rxdesk.catalog.models import Package
from rxdesk.core.capabilities import Cap, has
from rxdesk.core.errors import Invalid, NotFound
from rxdesk.core.models import Site, User
from rxdesk.core.services import authorize
from rxdesk.institutional.choices import CabinetEvent, DiscrepancyStatus
from rxdesk.institutional.models import (
    Administration,
    Cabinet,
    CabinetDiscrepancy,
    CabinetMove,
    OverrideReview,
    Pocket,
)

ZERO = Decimal(0)
MAX_ID = 2**63 - 1
LIST_LIMIT = 500
MOVES_SHOWN = 10
MAX_SPAN_DAYS = 366
EARLIEST, LATEST = dt.date(1900, 1, 1), dt.date(2999, 12, 31)
NO_ADMINISTRATIONS = "No administration data imported for these dates."
STATUSES = ("open", "resolved", "all")

# Aging buckets of open discrepancies: (key, label, overdue by more than, at most).
WITHIN = "within_shift"
OVERDUE = "overdue_24h"
OVERDUE_DAY = "overdue_72h"
OVERDUE_DAYS = "overdue_more"
BUCKETS: tuple[tuple[str, str], ...] = (
    (WITHIN, "Within the shift"),
    (OVERDUE, "Past the shift, up to 24 h"),
    (OVERDUE_DAY, "Past the shift, 24 to 72 h"),
    (OVERDUE_DAYS, "Past the shift, more than 72 h"),
)
BUCKET_LABELS = dict(BUCKETS)
DAY = dt.timedelta(hours=24)
THREE_DAYS = dt.timedelta(hours=72)


def bucket_of(due_at: dt.datetime, now: dt.datetime) -> str:
    """The bucket of an open discrepancy due at ``due_at``: due exactly now is still within
    the shift; exactly 24 h (72 h) past it is still in the 24 h (72 h) bucket."""
    late = now - due_at
    if late <= dt.timedelta(0):
        return WITHIN
    if late <= DAY:
        return OVERDUE
    if late <= THREE_DAYS:
        return OVERDUE_DAY
    return OVERDUE_DAYS


# --- Helpers -------------------------------------------------------------------------------


def _own(actor: User | None, site: Site) -> Site:
    if actor is not None and actor.site_id != site.pk:
        raise NotFound("No such pharmacy here.")
    return site


def sees_patients(actor: User | None) -> bool:
    return actor is None or has(actor, Cap.PATIENT_VIEW)


def masked(ref: str) -> str:
    """An MRN with all but its last two characters hidden (for roles without patient.view)."""
    ref = ref.strip()
    if not ref:
        return ""
    return "•" * max(len(ref) - 2, 2) + ref[-2:] if len(ref) > 2 else "•" * len(ref)


def patient_words(actor: User | None, move: CabinetMove) -> str:
    """Whom a removal was for: the name and MRN for roles that see patients, else the MRN
    masked (never the name)."""
    if sees_patients(actor):
        name = move.patient.full_name if move.patient is not None else ""
        ref = move.patient_ref
        return f"{name} (MRN {ref})" if name and ref else name or (f"MRN {ref}" if ref else "")
    return f"MRN {masked(move.patient_ref)}" if move.patient_ref else ""


def drug_words(package: Package) -> str:
    product = package.product
    return " ".join(p for p in (product.display_name, product.strength, product.dosage_form) if p)


def _span(site: Site, start: dt.date, end: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """The window [start 00:00, end + 1 day 00:00) in the pharmacy's zone, as aware times."""
    if end < start:
        raise Invalid("The end date is before the start date.", field="end")
    if (end - start).days >= MAX_SPAN_DAYS:
        raise Invalid(f"Choose at most {MAX_SPAN_DAYS} days.", field="start")
    if start < EARLIEST or end > LATEST:
        raise Invalid(
            f"Choose dates between {EARLIEST:%m/%d/%Y} and {LATEST:%m/%d/%Y}.",
            field="start" if start < EARLIEST else "end",
        )
    tz = site.tz
    first = dt.datetime.combine(start, dt.time.min, tzinfo=tz)
    after = dt.datetime.combine(end + dt.timedelta(days=1), dt.time.min, tzinfo=tz)
    return first, after


def _number(value: Decimal) -> str:
    return f"{value.normalize():f}" if value else "0"


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: object) -> object:
    """A CSV cell a spreadsheet will not run as a formula (CSV injection)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, Decimal):
        return _number(value)
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def _csv(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([_cell(v) for v in row])
    return buf.getvalue()


def _local(site: Site, moment: dt.datetime | None) -> str:
    return moment.astimezone(site.tz).strftime("%Y-%m-%d %H:%M") if moment else ""


# --- Discrepancies -------------------------------------------------------------------------


@dataclass(frozen=True)
class DiscrepancyRow:
    """A discrepancy with what its age means: ``overdue`` = open past its due time (the end
    of the shift); ``late`` = resolved after it."""

    d: CabinetDiscrepancy
    age: dt.timedelta
    overdue: bool
    late: bool
    controlled: bool
    bucket: str  # for open ones (see BUCKETS); "" once resolved

    @property
    def due_at(self) -> dt.datetime:
        return self.d.due_at

    @property
    def age_hours(self) -> Decimal:
        return (Decimal(self.age.total_seconds()) / 3600).quantize(Decimal("0.1"))

    @property
    def age_words(self) -> str:
        minutes = int(self.age.total_seconds() // 60)
        days, rest = divmod(minutes, 24 * 60)
        hours, minutes = divmod(rest, 60)
        if days:
            return f"{days} d {hours} h"
        if hours:
            return f"{hours} h {minutes} min"
        return f"{minutes} min"

    @property
    def bucket_label(self) -> str:
        return BUCKET_LABELS.get(self.bucket, "")

    @property
    def is_open(self) -> bool:
        return self.d.status == DiscrepancyStatus.OPEN


def _row(d: CabinetDiscrepancy, now: dt.datetime) -> DiscrepancyRow:
    controlled = d.controlled or bool(d.package.product.dea_schedule)
    if d.status == DiscrepancyStatus.OPEN:
        return DiscrepancyRow(
            d=d,
            age=max(now - d.opened_at, dt.timedelta(0)),
            overdue=now > d.due_at,
            late=False,
            controlled=controlled,
            bucket=bucket_of(d.due_at, now),
        )
    ended = d.resolved_at or now
    return DiscrepancyRow(
        d=d,
        age=max(ended - d.opened_at, dt.timedelta(0)),
        overdue=False,
        late=d.resolved_at is not None and d.resolved_at > d.due_at,
        controlled=controlled,
        bucket="",
    )


def _discrepancies(site: Site) -> QuerySet[CabinetDiscrepancy]:
    return CabinetDiscrepancy.objects.select_related(
        "site", "cabinet", "pocket", "package__product", "resolved_by", "witness"
    ).filter(site=site)


def discrepancies(
    *,
    actor: User | None,
    site: Site,
    status: str = "open",
    cabinet: Cabinet | None = None,
    now: dt.datetime | None = None,
    limit: int = LIST_LIMIT,
) -> list[DiscrepancyRow]:
    """Discrepancies of the pharmacy (``status`` open, resolved or all; one cabinet or
    every one): open ones first, the earliest due first, controlled before the rest at
    the same due time; then resolved ones, the latest first."""
    authorize(actor, Cap.ADC_VIEW)
    _own(actor, site)
    if status not in STATUSES:
        raise Invalid("Choose open, resolved or all.", field="status")
    now = now or timezone.now()
    found = _discrepancies(site)
    if cabinet is not None:
        if cabinet.site_id != site.pk:
            raise NotFound("No such cabinet at this pharmacy.", field="cabinet")
        found = found.filter(cabinet=cabinet)
    rows: list[DiscrepancyRow] = []
    if status in ("open", "all"):
        opened = found.filter(status=DiscrepancyStatus.OPEN).order_by("due_at", "id")[:limit]
        rows += sorted(
            (_row(d, now) for d in opened), key=lambda r: (r.d.due_at, not r.controlled, r.d.pk)
        )
    if status in ("resolved", "all"):
        done = found.filter(status=DiscrepancyStatus.RESOLVED).order_by("-resolved_at", "-id")
        rows += [_row(d, now) for d in done[:limit]]
    return rows


def discrepancy_get(
    *, actor: User | None, discrepancy_id: int, site: Site | None = None
) -> DiscrepancyRow:
    """One discrepancy of the actor's pharmacy (404 otherwise)."""
    authorize(actor, Cap.ADC_VIEW)
    where = site if actor is None else actor.site
    found = None
    if where is not None and 0 < discrepancy_id <= MAX_ID:
        found = _discrepancies(where).filter(pk=discrepancy_id).first()
    if found is None:
        raise NotFound("No such discrepancy at this pharmacy.")
    return _row(found, timezone.now())


@dataclass(frozen=True)
class MoveLine:
    """A move of the pocket as a reader may see it (the patient masked for some)."""

    move: CabinetMove
    patient: str
    is_cause: bool  # the move that opened the discrepancy


def moves_around(
    *, actor: User | None, discrepancy: CabinetDiscrepancy, limit: int = MOVES_SHOWN
) -> list[MoveLine]:
    """The pocket's last ``limit`` moves up to the discrepancy (the count that opened it
    included), newest first; the moves after it when it has none of its own."""
    authorize(actor, Cap.ADC_VIEW)
    moves = CabinetMove.objects.select_related("lot", "patient").filter(
        pocket_id=discrepancy.pocket_id
    )
    if discrepancy.move_id is not None:
        moves = moves.filter(pk__lte=discrepancy.move_id)
    else:
        moves = moves.filter(occurred_at__lte=discrepancy.opened_at)
    return [
        MoveLine(move=m, patient=patient_words(actor, m), is_cause=m.pk == discrepancy.move_id)
        for m in moves.order_by("-id")[:limit]
    ]


def discrepancies_csv(site: Site, rows: Iterable[DiscrepancyRow]) -> str:
    """One line per discrepancy, times in the pharmacy's zone (no patient)."""
    return _csv(
        [
            "Id",
            "Cabinet",
            "Pocket",
            "Drug",
            "NDC",
            "Controlled",
            "Kind",
            "Expected",
            "Found",
            "Difference",
            "Cabinet user",
            f"Opened ({site.time_zone})",
            f"Due ({site.time_zone})",
            "Age (hours)",
            "Aging",
            "Status",
            "Cause",
            "Nurse",
            "Resolved by",
            "Witness",
            f"Resolved ({site.time_zone})",
            "Resolved late",
        ],
        (
            [
                r.d.pk,
                r.d.cabinet.code,
                r.d.pocket.place,
                drug_words(r.d.package),
                r.d.package.ndc10,
                r.controlled,
                r.d.get_kind_display(),
                r.d.expected,
                r.d.found,
                r.d.difference,
                r.d.cabinet_user,
                _local(site, r.d.opened_at),
                _local(site, r.d.due_at),
                r.age_hours,
                r.bucket_label,
                r.d.get_status_display(),
                r.d.get_cause_display() if r.d.cause else "",
                r.d.nurse_name,
                r.d.resolved_by.display_name if r.d.resolved_by else "",
                r.d.witness.username if r.d.witness else "",
                _local(site, r.d.resolved_at),
                r.late,
            ]
            for r in rows
        ),
    )


# --- Aging ---------------------------------------------------------------------------------


@dataclass
class AgingLine:
    """One cabinet's open discrepancies of controlled pockets, or of the others."""

    cabinet: Cabinet
    controlled: bool
    counts: dict[str, int] = field(default_factory=lambda: {k: 0 for k, _ in BUCKETS})
    rows: list[DiscrepancyRow] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def overdue(self) -> int:
        return self.total - self.counts[WITHIN]

    @property
    def cells(self) -> list[tuple[str, int]]:
        return [(k, self.counts[k]) for k, _ in BUCKETS]


@dataclass(frozen=True)
class Aging:
    now: dt.datetime
    lines: list[AgingLine]
    totals: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.totals.values())

    @property
    def buckets(self) -> tuple[tuple[str, str], ...]:
        return BUCKETS

    @property
    def total_cells(self) -> list[tuple[str, int]]:
        return [(k, self.totals[k]) for k, _ in BUCKETS]

    def rows(self) -> list[DiscrepancyRow]:
        return [r for line in self.lines for r in line.rows]


def aging(*, actor: User | None, site: Site, now: dt.datetime | None = None) -> Aging:
    """Open discrepancies counted per cabinet in aging buckets (within the shift; past it by
    up to 24 h, 24–72 h, more): controlled pockets first, then the most overdue."""
    authorize(actor, Cap.ADC_VIEW)
    _own(actor, site)
    now = now or timezone.now()
    found = _discrepancies(site).filter(status=DiscrepancyStatus.OPEN).order_by("due_at", "id")
    lines: dict[tuple[int, bool], AgingLine] = {}
    totals = {k: 0 for k, _ in BUCKETS}
    for d in found:
        row = _row(d, now)
        line = lines.setdefault(
            (d.cabinet_id, row.controlled), AgingLine(cabinet=d.cabinet, controlled=row.controlled)
        )
        line.counts[row.bucket] += 1
        line.rows.append(row)
        totals[row.bucket] += 1

    def order(line: AgingLine) -> tuple[bool, int, int, int, str]:
        return (
            not line.controlled,
            -line.counts[OVERDUE_DAYS],
            -line.counts[OVERDUE_DAY],
            -line.counts[OVERDUE],
            line.cabinet.code,
        )

    return Aging(now=now, lines=sorted(lines.values(), key=order), totals=totals)


def aging_csv(site: Site, report: Aging) -> str:
    """The aging report: one line per open discrepancy with its bucket."""
    return discrepancies_csv(site, report.rows())


# --- Override removals ---------------------------------------------------------------------


@dataclass(frozen=True)
class OverrideRow:
    move: CabinetMove
    patient: str  # name and MRN, or the MRN masked (roles without patient.view)
    review: OverrideReview | None

    @property
    def quantity(self) -> Decimal:
        return -self.move.quantity


def overrides(
    *,
    actor: User | None,
    site: Site,
    start: dt.date,
    end: dt.date,
    reviewed: bool | None = False,
    limit: int = LIST_LIMIT,
) -> list[OverrideRow]:
    """Override removals of the window (the pharmacy's days), oldest first when waiting for
    review, newest first otherwise; ``reviewed`` False = waiting, True = reviewed, None =
    both."""
    authorize(actor, Cap.ADC_RESOLVE)
    _own(actor, site)
    first, after = _span(site, start, end)
    found = CabinetMove.objects.select_related(
        "cabinet", "pocket", "package__product", "lot", "patient", "review__reviewed_by"
    ).filter(
        site=site,
        event=CabinetEvent.REMOVAL,
        override=True,
        occurred_at__gte=first,
        occurred_at__lt=after,
    )
    if reviewed is False:
        found = found.filter(review__isnull=True).order_by("occurred_at", "id")
    else:
        if reviewed is True:
            found = found.filter(review__isnull=False)
        found = found.order_by("-occurred_at", "-id")
    out = []
    for m in found[:limit]:
        review = getattr(m, "review", None)  # none yet: RelatedObjectDoesNotExist
        out.append(OverrideRow(move=m, patient=patient_words(actor, m), review=review))
    return out


def override_get(*, actor: User | None, move_id: int, site: Site | None = None) -> CabinetMove:
    """One cabinet move of the actor's pharmacy (404 otherwise)."""
    authorize(actor, Cap.ADC_RESOLVE)
    where = site if actor is None else actor.site
    found = None
    if where is not None and 0 < move_id <= MAX_ID:
        found = CabinetMove.objects.select_related("site").filter(site=where, pk=move_id).first()
    if found is None:
        raise NotFound("No such cabinet transaction at this pharmacy.")
    return found


# --- Dispensed versus administered ---------------------------------------------------------


@dataclass(frozen=True)
class UsageRow:
    user: str
    package: Package
    controlled: bool
    removed: Decimal
    returned: Decimal
    wasted: Decimal
    administered: Decimal

    @property
    def unaccounted(self) -> Decimal:
        return self.removed - self.returned - self.wasted - self.administered

    @property
    def flagged(self) -> bool:
        return self.unaccounted != 0


@dataclass(frozen=True)
class Usage:
    start: dt.date
    end: dt.date
    controlled_only: bool
    has_data: bool
    message: str
    rows: list[UsageRow]

    @property
    def flagged(self) -> int:
        return sum(1 for r in self.rows if r.flagged)

    @property
    def totals(self) -> dict[str, Decimal]:
        out = {k: ZERO for k in ("removed", "returned", "wasted", "administered", "unaccounted")}
        for r in self.rows:
            out["removed"] += r.removed
            out["returned"] += r.returned
            out["wasted"] += r.wasted
            out["administered"] += r.administered
            out["unaccounted"] += r.unaccounted
        return out


def _controlled_packages(site: Site, package_ids: set[int]) -> set[int]:
    """Of ``package_ids``, those of a scheduled drug or held in a controlled pocket here."""
    scheduled = set(
        Package.objects.filter(pk__in=package_ids)
        .filter(~Q(product__dea_schedule_override="") | ~Q(product__directory_dea_schedule=""))
        .values_list("pk", flat=True)
    )
    pocketed = set(
        Pocket.objects.filter(cabinet__site=site, controlled=True, package_id__in=package_ids)
        .values_list("package_id", flat=True)
        .distinct()
    )
    return scheduled | pocketed


def dispensed_vs_administered(
    *,
    actor: User | None,
    site: Site,
    start: dt.date,
    end: dt.date,
    controlled_only: bool = True,
) -> Usage:
    """Per cabinet user and drug in the window (the pharmacy's days): removed, returned and
    wasted at the cabinets, administered per the imported eMAR (the nurse's cabinet user
    id), and what is unaccounted for (removed − returned − wasted − administered). A row
    with something unaccounted (either way) is flagged; the largest first. Only when
    administrations were imported for the window: otherwise ``has_data`` is False and the
    message says so."""
    authorize(actor, Cap.ADC_REPORT)
    _own(actor, site)
    first, after = _span(site, start, end)
    given = Administration.objects.filter(site=site, given_at__gte=first, given_at__lt=after)
    if not given.exists():
        return Usage(start, end, controlled_only, False, NO_ADMINISTRATIONS, [])
    moved = (
        CabinetMove.objects.filter(
            site=site,
            occurred_at__gte=first,
            occurred_at__lt=after,
            event__in=(CabinetEvent.REMOVAL, CabinetEvent.RETURN, CabinetEvent.WASTE),
        )
        .exclude(cabinet_user="")
        .values("cabinet_user", "package_id", "event")
        .annotate(total=Sum("quantity"))
        .order_by()
    )
    tally: dict[tuple[str, int], dict[str, Decimal]] = defaultdict(
        lambda: {"removed": ZERO, "returned": ZERO, "wasted": ZERO, "administered": ZERO}
    )
    for line in moved:
        key = (line["cabinet_user"], line["package_id"])
        total = line["total"] or ZERO
        if line["event"] == CabinetEvent.REMOVAL:
            tally[key]["removed"] += -total
        elif line["event"] == CabinetEvent.RETURN:
            tally[key]["returned"] += total
        else:
            tally[key]["wasted"] += -total
    doses = given.values("nurse", "package_id").annotate(total=Sum("quantity")).order_by()
    for dose in doses:
        tally[(dose["nurse"], dose["package_id"])]["administered"] += dose["total"] or ZERO
    package_ids = {pid for _, pid in tally}
    controlled = _controlled_packages(site, package_ids)
    packages = Package.objects.select_related("product").in_bulk(package_ids)
    rows = [
        UsageRow(
            user=user,
            package=packages[pid],
            controlled=pid in controlled,
            **values,
        )
        for (user, pid), values in tally.items()
        if not controlled_only or pid in controlled
    ]
    rows.sort(key=lambda r: (-r.unaccounted, r.user.casefold(), r.package.ndc11))
    return Usage(start, end, controlled_only, True, "", rows)


def usage_csv(site: Site, usage: Usage) -> str:
    """One line per cabinet user and drug, then the totals."""
    header = [
        "Cabinet user",
        "Drug",
        "NDC",
        "Unit",
        "Controlled",
        "Removed",
        "Returned",
        "Wasted",
        "Administered",
        "Unaccounted",
        "Flagged",
    ]
    lines: list[list[object]] = [
        [
            r.user,
            drug_words(r.package),
            r.package.ndc10,
            r.package.billing_unit,
            r.controlled,
            r.removed,
            r.returned,
            r.wasted,
            r.administered,
            r.unaccounted,
            r.flagged,
        ]
        for r in usage.rows
    ]
    if not usage.has_data:
        note: list[object] = [usage.message, *([""] * (len(header) - 1))]
        lines.append(note)
    else:
        t = usage.totals
        lines.append(
            [
                "Total",
                "",
                "",
                "",
                "",
                t["removed"],
                t["returned"],
                t["wasted"],
                t["administered"],
                t["unaccounted"],
                usage.flagged,
            ]
        )
    return _csv(header, lines)
