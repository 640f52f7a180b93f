"""Reads of long-term care: facilities with their census counts, one facility (units, pass
times, residents by unit), residents (by facility, unit, status or name), one resident
(census history, orders with their administration times and the usual times offered for
the ones not yet scheduled), and the plain values a MAR is built from.

Facilities are ltc.view. Anything that names a resident is ltc.view and patient.view: an
auditor reads the facilities and their counts, never who lives there (minimum necessary)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Count, Q, QuerySet

from rxdesk.core.capabilities import Cap, has
from rxdesk.core.errors import Invalid, NotFound
from rxdesk.core.models import User
from rxdesk.core.services import authorize
from rxdesk.core.validators import format_phone
from rxdesk.institutional import mar, schedule
from rxdesk.institutional.choices import ResidentStatus
from rxdesk.institutional.models import (
    CensusEvent,
    Facility,
    OrderSchedule,
    PassTime,
    Resident,
    Unit,
)
from rxdesk.patients.choices import AllergyStatus
from rxdesk.patients.models import Patient
from rxdesk.patients.queries import _name_filter
from rxdesk.rx.choices import RxStatus
from rxdesk.rx.models import Prescription

SEARCH_LIMIT = 500
MAX_ID = 2**63 - 1


def _sees_residents(actor: User) -> None:
    authorize(actor, Cap.LTC_VIEW)
    authorize(actor, Cap.PATIENT_VIEW)


# --- Facilities -------------------------------------------------------------------------------


def facilities_list(*, actor: User, include_inactive: bool = True) -> list[Facility]:
    """This pharmacy's facilities, by name, each with ``admitted``, ``on_leave`` and
    ``unit_count`` counted (one query)."""
    authorize(actor, Cap.LTC_VIEW)
    qs = Facility.objects.filter(site_id=actor.site_id)
    if not include_inactive:
        qs = qs.filter(active=True)
    return list(
        qs.annotate(
            admitted=Count(
                "residents",
                filter=Q(residents__status=ResidentStatus.ADMITTED),
                distinct=True,
            ),
            on_leave=Count(
                "residents", filter=Q(residents__status=ResidentStatus.LEAVE), distinct=True
            ),
            unit_count=Count("units", distinct=True),
        ).order_by("-active", "name")
    )


def facility_get(*, actor: User, facility_id: int) -> Facility:
    authorize(actor, Cap.LTC_VIEW)
    if not 0 < int(facility_id) <= MAX_ID:
        raise NotFound("No such facility at this pharmacy.")
    found = Facility.objects.filter(site_id=actor.site_id, pk=facility_id).first()
    if found is None:
        raise NotFound("No such facility at this pharmacy.")
    return found


@dataclass
class UnitCensus:
    unit: Unit | None
    admitted: int = 0
    on_leave: int = 0
    residents: list[Resident] = field(default_factory=list)


@dataclass
class FacilityDetail:
    facility: Facility
    units: list[Unit]
    pass_times: list[PassTime]
    by_unit: list[UnitCensus]
    shows_names: bool

    @property
    def admitted(self) -> int:
        return sum(u.admitted for u in self.by_unit)

    @property
    def on_leave(self) -> int:
        return sum(u.on_leave for u in self.by_unit)


def facility_detail(*, actor: User, facility: Facility) -> FacilityDetail:
    """Units, pass times and the current residents by unit (names only for a role that
    reads patients; counts for the others)."""
    authorize(actor, Cap.LTC_VIEW)
    if facility.site_id != actor.site_id:
        raise NotFound("No such facility at this pharmacy.")
    shows = has(actor, Cap.PATIENT_VIEW)
    units = list(facility.units.order_by("code"))
    current = (
        Resident.objects.filter(facility=facility)
        .exclude(status=ResidentStatus.DISCHARGED)
        .select_related("patient", "unit")
        .order_by("room", "bed", "pk")
    )
    by_id: dict[int | None, UnitCensus] = {u.pk: UnitCensus(unit=u) for u in units}
    for r in current:
        row = by_id.setdefault(r.unit_id, UnitCensus(unit=None))
        if r.status == ResidentStatus.LEAVE:
            row.on_leave += 1
        else:
            row.admitted += 1
        if shows:
            row.residents.append(r)
    return FacilityDetail(
        facility=facility,
        units=units,
        pass_times=list(facility.pass_times.order_by("time")),
        by_unit=list(by_id.values()),
        shows_names=shows,
    )


def pass_times_of(facility: Facility) -> list[tuple[dt.time, str]]:
    return [(p.time, p.slot) for p in facility.pass_times.order_by("time")]


# --- Residents --------------------------------------------------------------------------------


def residents_search(
    *,
    actor: User,
    facility_id: int | None = None,
    unit_id: int | None = None,
    status: str | None = None,
    q: str = "",
    limit: int = SEARCH_LIMIT,
) -> QuerySet[Resident]:
    """Residents of this pharmacy's facilities: by facility, unit, status (default: those in
    the facility or on leave; ``"all"`` for everyone) and name ('diaz', 'lu diaz')."""
    _sees_residents(actor)
    qs = Resident.objects.filter(site_id=actor.site_id).select_related(
        "patient", "facility", "unit"
    )
    if facility_id is not None:
        qs = qs.filter(facility_id=facility_id)
    if unit_id is not None:
        qs = qs.filter(unit_id=unit_id)
    if status in (None, ""):
        qs = qs.exclude(status=ResidentStatus.DISCHARGED)
    elif status != "all":
        if status not in ResidentStatus.values:
            raise Invalid("Choose in the facility, on leave, discharged or all.", field="status")
        qs = qs.filter(status=status)
    text = (q or "").strip()[:100]
    if text:
        name = _name_filter(text)
        if name is None:
            return qs.none()
        patients = Patient.objects.filter(site_id=actor.site_id).filter(name)
        qs = qs.filter(patient__in=patients)
    return qs.order_by("facility__name", "unit__code", "room", "bed", "pk")[: max(1, limit)]


def resident_get(*, actor: User, resident_id: int) -> Resident:
    _sees_residents(actor)
    if not 0 < int(resident_id) <= MAX_ID:
        raise NotFound("No such resident at this pharmacy.")
    found = (
        Resident.objects.select_related("patient", "facility", "unit")
        .filter(site_id=actor.site_id, pk=resident_id)
        .first()
    )
    if found is None:
        raise NotFound("No such resident at this pharmacy.")
    return found


@dataclass
class OrderLine:
    """A prescription of the resident and when it is given (or the usual times offered)."""

    prescription: Prescription
    schedule: OrderSchedule | None
    suggested: list[str]

    @property
    def times(self) -> list[str]:
        return list(self.schedule.times) if self.schedule is not None else self.suggested

    @property
    def per_day(self) -> Decimal | None:
        if self.schedule is None or self.schedule.prn:
            return None
        return schedule.doses_per_day(self.schedule.times, self.schedule.dose)


@dataclass
class ResidentDetail:
    resident: Resident
    census: list[CensusEvent]
    orders: list[OrderLine]
    pass_times: list[PassTime]
    units: list[Unit]

    @property
    def unscheduled(self) -> int:
        return sum(1 for o in self.orders if o.schedule is None)


def resident_detail(*, actor: User, resident: Resident) -> ResidentDetail:
    """Census history (newest first), the active prescriptions with their administration
    times, and for each not yet scheduled the usual times its directions suggest."""
    _sees_residents(actor)
    if resident.site_id != actor.site_id:
        raise NotFound("No such resident at this pharmacy.")
    census = list(
        resident.census.select_related("from_unit", "to_unit", "recorded_by").order_by(
            "-effective_at", "-id"
        )
    )
    slots = pass_times_of(resident.facility)
    schedules = {s.prescription_id: s for s in OrderSchedule.objects.filter(resident=resident)}
    prescriptions = (
        Prescription.objects.filter(site_id=actor.site_id, patient_id=resident.patient_id)
        .filter(Q(status=RxStatus.ACTIVE) | Q(pk__in=list(schedules)))
        .order_by("drug_description", "number")
    )
    orders = [
        OrderLine(
            prescription=p,
            schedule=schedules.get(p.pk),
            suggested=[] if p.pk in schedules else schedule.default_times(p.directions, slots),
        )
        for p in prescriptions
    ]
    return ResidentDetail(
        resident=resident,
        census=census,
        orders=orders,
        pass_times=list(resident.facility.pass_times.order_by("time")),
        units=list(resident.facility.units.filter(active=True).order_by("code")),
    )


# --- The MAR ----------------------------------------------------------------------------------


def allergy_text(patient: Patient) -> str:
    active = list(patient.allergies.filter(active=True).order_by("allergen"))
    if active:
        return "; ".join(a.allergen + (f" ({a.reaction})" if a.reaction else "") for a in active)
    if patient.allergy_status == AllergyStatus.NO_KNOWN:
        return "No known allergies"
    return "Not yet recorded: ask before giving"


def _end_of(p: Prescription, tz: dt.tzinfo) -> dt.date | None:
    """The last day a prescription is given: its expiry, or the day it was stopped."""
    ends = [p.expires_on] if p.expires_on else []
    if p.status != RxStatus.ACTIVE and p.status_changed_at is not None:
        ends.append(p.status_changed_at.astimezone(tz).date())
    return min(ends) if ends else None


def _num(value: Decimal | None) -> str:
    return "" if value is None else f"{Decimal(value).normalize():f}"


def mar_of(*, actor: User, resident: Resident, month: dt.date) -> mar.Mar:
    """The MAR of ``month`` (any day of it) from the resident's scheduled orders and census
    (reads only: the caller records the PHI access, services_census.mar_printed)."""
    _sees_residents(actor)
    if resident.site_id != actor.site_id:
        raise NotFound("No such resident at this pharmacy.")
    site = actor.site
    tz = site.tz
    patient = resident.patient
    events = [
        (e.kind, e.effective_at.astimezone(tz).date())
        for e in resident.census.order_by("effective_at", "id")
    ]
    info = mar.ResidentInfo(
        name=patient.full_name,
        date_of_birth=patient.date_of_birth,
        allergies=allergy_text(patient),
        facility=resident.facility.name,
        unit=resident.unit.code if resident.unit else "",
        room=resident.room,
        bed=resident.bed,
        pharmacy=site.name,
        pharmacy_phone=format_phone(site.phone or ""),
        spans=mar.spans_from_census(
            events, admitted_on=resident.admitted_on, discharged_on=resident.discharged_on
        ),
    )
    orders = []
    rows = OrderSchedule.objects.filter(resident=resident).select_related("prescription")
    for s in rows:
        p = s.prescription
        if p.status not in (RxStatus.ACTIVE, RxStatus.INACTIVE):
            continue
        orders.append(
            mar.Order(
                rx_number=p.number,
                drug=p.drug_description,
                directions=p.directions_en or p.directions,
                dose=_num(s.dose),
                unit=p.quantity_unit,
                times=tuple(s.times or ()),
                start_on=s.start_on,
                stop_on=s.stop_on,
                prn=s.prn,
                prn_max_per_day=_num(s.prn_max_per_day),
                rx_start=p.date_written,
                rx_end=_end_of(p, tz),
            )
        )
    return mar.build(info, orders, month)


def parse_month(text: str | None, today: dt.date) -> dt.date:
    """``"2026-02"`` to the first of that month; empty: this month."""
    raw = (text or "").strip()
    if not raw:
        return today.replace(day=1)
    try:
        year, month = raw.split("-")
        if len(year) != 4 or len(month) != 2:
            raise ValueError
        first = dt.date(int(year), int(month), 1)
    except ValueError:
        raise Invalid("Give the month as YYYY-MM, like 2026-02.", field="month") from None
    if not 2000 <= first.year <= 2100:
        raise Invalid("Give a month between 2000 and 2100.", field="month")
    return first
