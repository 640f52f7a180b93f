"""Reads of medication synchronization: enrollments, cycles, the plan of each medication
and the monthly pre-sync call list. Rows of another pharmacy do not exist here."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.db.models import QuerySet

from rxdesk.core.capabilities import Cap
from rxdesk.core.errors import NotFound
from rxdesk.core.models import Site, User
from rxdesk.core.services import authorize
from rxdesk.medsync import proration
from rxdesk.medsync.choices import CycleStatus, PlanAction
from rxdesk.medsync.models import SyncCycle, SyncEnrollment, SyncFill, SyncMember
from rxdesk.rx.models import Fill, Prescription
from rxdesk.rx.services.common import remaining
from rxdesk.rx.services.fills import last_dispensed

# The pre-sync call list looks this many days ahead (setting RXDESK_SYNC_CALL_DAYS).
DEFAULT_CALL_DAYS = 7
OPEN_CYCLES = (CycleStatus.TO_CALL, CycleStatus.CALLED, CycleStatus.CONFIRMED)


def call_days() -> int:
    return int(getattr(settings, "RXDESK_SYNC_CALL_DAYS", DEFAULT_CALL_DAYS))


@dataclass(frozen=True)
class MedPlan:
    """One medication of a cycle as the screens show it."""

    prescription: Prescription
    line: proration.Line
    last_fill: Fill | None
    refills_left: int
    quantity_left: Decimal

    @property
    def action_label(self) -> str:
        return PlanAction(self.line.action).label


def med_of(rx: Prescription, today: dt.date) -> tuple[proration.Med, Fill | None, int, str]:
    """The facts the plan needs of ``rx``; also its last fill, the refills left and why it
    cannot be filled now ("" when it can)."""
    last = last_dispensed(rx)
    decision = remaining(rx, today)
    package = rx.package
    unit = package.billing_unit if package is not None else rx.quantity_unit
    med = proration.Med(
        key=rx.pk,
        quantity=rx.quantity,
        days_supply=rx.days_supply,
        billing_unit=unit,
        last_fill_date=last.dispensed_on if last is not None else None,
        last_days_supply=last.days_supply if last is not None else None,
        quantity_left=decision.quantity_remaining if decision.allowed else Decimal(0),
        schedule=rx.schedule,
        unsplittable=proration.is_unsplittable(
            rx.product.dosage_form, package.description if package is not None else ""
        ),
    )
    return med, last, decision.refills_remaining, "" if decision.allowed else decision.reason


def plan_for(
    prescriptions: Iterable[Prescription], *, sync_date: dt.date, sync_day: int, today: dt.date
) -> list[MedPlan]:
    """The plan of each prescription for the cycle on ``sync_date``."""
    out = []
    for rx in prescriptions:
        med, last, refills_left, refused = med_of(rx, today)
        line = proration.plan_line(med, sync_date=sync_date, sync_day=sync_day, today=today)
        if refused:
            line = proration.Line(**{**line.__dict__, "problem": refused})
        out.append(
            MedPlan(
                prescription=rx,
                line=line,
                last_fill=last,
                refills_left=refills_left,
                quantity_left=med.quantity_left or Decimal(0),
            )
        )
    return out


def first_sync_date(site: Site, sync_day: int) -> dt.date:
    """The first sync date of a new enrollment: on or after today at the pharmacy."""
    return proration.next_sync_date(site.today(), sync_day, inclusive=True)


def enrollment_preview(
    *, actor: User, sync_day: int, prescriptions: list[Prescription]
) -> tuple[dt.date, list[MedPlan]]:
    """What enrolling would do: the first sync date and each medication's short fill."""
    authorize(actor, Cap.SYNC_VIEW)
    site = actor.site
    assert site is not None
    anchor = first_sync_date(site, sync_day)
    return anchor, plan_for(prescriptions, sync_date=anchor, sync_day=sync_day, today=site.today())


def enrollments(*, actor: User, active: bool = True) -> QuerySet[SyncEnrollment]:
    authorize(actor, Cap.SYNC_VIEW)
    return (
        SyncEnrollment.objects.filter(site_id=actor.site_id, active=active)
        .select_related("patient")
        .order_by("patient__last_name", "patient__first_name", "pk")
    )


def enrollment_get(*, actor: User, enrollment_id: int) -> SyncEnrollment:
    authorize(actor, Cap.SYNC_VIEW)
    found = (
        SyncEnrollment.objects.filter(pk=enrollment_id, site_id=actor.site_id)
        .select_related("patient", "enrolled_by", "ended_by")
        .first()
    )
    if found is None:
        raise NotFound("No such sync enrollment at this pharmacy.", field="enrollment")
    return found


def active_enrollment_of(*, actor: User, patient_id: int) -> SyncEnrollment | None:
    authorize(actor, Cap.SYNC_VIEW)
    return SyncEnrollment.objects.filter(
        site_id=actor.site_id, patient_id=patient_id, active=True
    ).first()


def members(enrollment: SyncEnrollment) -> list[SyncMember]:
    return list(
        enrollment.members.select_related("prescription", "prescription__product").order_by(
            "-included", "prescription__number"
        )
    )


def cycle_get(*, actor: User, cycle_id: int) -> SyncCycle:
    authorize(actor, Cap.SYNC_VIEW)
    found = (
        SyncCycle.objects.filter(pk=cycle_id, site_id=actor.site_id)
        .select_related("enrollment", "enrollment__patient")
        .first()
    )
    if found is None:
        raise NotFound("No such sync cycle at this pharmacy.", field="cycle")
    return found


def cycles(enrollment: SyncEnrollment) -> list[SyncCycle]:
    return list(enrollment.cycles.order_by("-sync_date"))


def cycle_fills(cycle: SyncCycle) -> list[SyncFill]:
    return list(
        cycle.fills.select_related("prescription", "prescription__product", "fill").order_by(
            "prescription__number"
        )
    )


def cycle_plan(cycle: SyncCycle, today: dt.date | None = None) -> list[MedPlan]:
    """The plan of an open cycle computed now from the fills on file (the stored rows of
    the alignment cycle are what sync_align decided)."""
    enrollment = cycle.enrollment
    rxs = [m.prescription for m in members(enrollment) if m.included]
    return plan_for(
        rxs,
        sync_date=cycle.sync_date,
        sync_day=enrollment.sync_day,
        today=today or cycle.site.today(),
    )


@dataclass(frozen=True)
class CallRow:
    cycle: SyncCycle
    plan: list[MedPlan]


def call_list(*, actor: User, within: int | None = None) -> list[CallRow]:
    """Cycles whose sync date falls within ``within`` days (default: the setting) and that
    nobody has confirmed yet (overdue ones included), each with what will be filled."""
    authorize(actor, Cap.SYNC_VIEW)
    site = actor.site
    assert site is not None
    days = call_days() if within is None else within
    horizon = site.today() + dt.timedelta(days=days)
    rows = (
        SyncCycle.objects.filter(
            site=site,
            enrollment__active=True,
            status__in=(CycleStatus.TO_CALL, CycleStatus.CALLED),
            sync_date__lte=horizon,
        )
        .select_related("enrollment", "enrollment__patient", "site")
        .order_by("sync_date", "pk")
    )
    return [CallRow(cycle=c, plan=cycle_plan(c)) for c in rows]


def cycles_due(*, actor: User, within: int | None = None) -> list[SyncCycle]:
    """Confirmed cycles waiting for their sync fills to be queued."""
    authorize(actor, Cap.SYNC_VIEW)
    return list(
        SyncCycle.objects.filter(
            site_id=actor.site_id, enrollment__active=True, status=CycleStatus.CONFIRMED
        )
        .select_related("enrollment", "enrollment__patient")
        .order_by("sync_date", "pk")
    )


CSV_HEADER = [
    "sync_date",
    "patient",
    "phone",
    "status",
    "rx_number",
    "drug",
    "refills_left",
    "last_fill",
    "plan",
    "quantity",
    "days_supply",
    "note",
]


def call_list_csv(rows: list[CallRow]) -> str:
    """The call list as CSV: one line per medication."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    for row in rows:
        patient = row.cycle.enrollment.patient
        phone = next((number for _, number in patient.phones), "")
        for med in row.plan:
            rx = med.prescription
            writer.writerow(
                _cell(value)
                for value in [
                    row.cycle.sync_date.isoformat(),
                    patient.full_name,
                    phone,
                    row.cycle.get_status_display(),
                    rx.number,
                    rx.drug_description or str(rx.product),
                    med.refills_left,
                    med.last_fill.dispensed_on.isoformat()
                    if med.last_fill and med.last_fill.dispensed_on
                    else "",
                    med.action_label,
                    _num(med.line.quantity),
                    med.line.days,
                    med.line.problem or med.line.warning,
                ]
            )
    return out.getvalue()


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: object) -> object:
    """A CSV cell that a spreadsheet will not run as a formula (CSV injection)."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def _num(value: Decimal) -> str:
    return format(value.normalize(), "f")


def home_counts(*, actor: User) -> dict[str, int]:
    authorize(actor, Cap.SYNC_VIEW)
    return {
        "enrolled": SyncEnrollment.objects.filter(site_id=actor.site_id, active=True).count(),
    }
