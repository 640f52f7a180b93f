"""Services of the 340B program: the covered-entity set-up (PIC), capture of dispensed
fills into the virtual inventory, and replenishment orders.

When a dispense counts: a fill is captured once it is sold (status "dispensed"): the
product left the pharmacy's stock at filling, and once the patient took it home it is no
longer expected back on the shelf. A sale voided puts the fill back in will-call; it is
reversed only if it is then returned to stock (status "returned"), by a negative row that
takes its units back out of the accumulator. If those units were already replenished the
accumulator goes below zero: the pharmacy owes them back to the entity, and the next order
of that NDC waits until new dispenses cover the debt (nothing is lost silently)."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F, Max, Q, Sum
from django.utils import timezone

from rxdesk.catalog.models import Package
from rxdesk.catalog.ndc import ndc10_to_11
from rxdesk.claims.choices import ACCEPTED
from rxdesk.claims.models import Claim, Plan
from rxdesk.core.audit import audit_record, register_actions
from rxdesk.core.capabilities import Cap
from rxdesk.core.errors import Conflict, Invalid, NotFound
from rxdesk.core.identifiers import npi_problem
from rxdesk.core.models import Site, User
from rxdesk.core.services import authorize
from rxdesk.patients.models import Patient
from rxdesk.program340b import rules
from rxdesk.program340b.choices import CaptureKind, PayerAction
from rxdesk.program340b.models import (
    Accumulator,
    Allocation,
    Capture,
    CoveredEntity,
    EligiblePatient,
    EligiblePrescriber,
    Encounter,
    NdcExclusion,
    PayerRule,
    ReplenishmentOrder,
)
from rxdesk.rx.choices import FillStatus
from rxdesk.rx.models import Fill

register_actions(
    {
        "p340b.entity.set": "340B covered entity set up or changed",
        "p340b.prescriber.added": "Prescriber added to the 340B eligible list",
        "p340b.patient.added": "Patient added to the 340B covered entity's patient list",
        "p340b.encounter.added": "Encounter at a 340B covered-entity location recorded",
        "p340b.payer_rule.set": "340B payer rule set for a plan",
        "p340b.exclusion.added": "NDC excluded from 340B",
        "p340b.captured": "Dispensed fills decided and accumulated for 340B",
        "p340b.order.placed": "340B replenishment order recorded",
    }
)

NAME_MAX, NOTE_MAX, LOCATION_MAX, PO_MAX, ACCOUNT_MAX = 120, 200, 120, 30, 40
PO_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ./_-]*$")
MAX_PACKAGES = 9999


# --- Helpers ----------------------------------------------------------------------------------


def _site_of(actor: User | None, site: Site | None = None) -> Site:
    found = site or (actor.site if actor is not None else None)
    if found is None:
        raise Invalid("Choose the pharmacy.", field="site")
    if actor is not None and actor.site_id != found.pk:
        raise NotFound("No such pharmacy.", field="site")
    return found


def entity_of(site: Site) -> CoveredEntity | None:
    return CoveredEntity.objects.filter(site=site).first()


def _entity(site: Site) -> CoveredEntity:
    entity = entity_of(site)
    if entity is None:
        raise Invalid(
            "The 340B covered entity is not set up yet: the PIC enters it first.", field="entity"
        )
    return entity


def _text(value: Any, *, field: str, limit: int, required: bool = False, what: str = "") -> str:
    text = str(value if value is not None else "").strip()
    if required and not text:
        raise Invalid(f"Enter {what or field.replace('_', ' ')}.", field=field)
    if len(text) > limit:
        raise Invalid(f"Keep it to {limit} characters.", field=field)
    return text


def _dates(start: Any, end: Any) -> tuple[dt.date, dt.date | None]:
    if not isinstance(start, dt.date):
        raise Invalid("Enter the date the listing starts.", field="effective_from")
    if end is not None and not isinstance(end, dt.date):
        raise Invalid("Enter the end date as a date.", field="effective_to")
    if end is not None and end < start:
        raise Invalid("The listing cannot end before it starts.", field="effective_to")
    return start, end


def _patient(site: Site, patient: Patient) -> Patient:
    found = Patient.objects.filter(pk=getattr(patient, "pk", 0) or 0, site=site).first()
    if found is None:
        raise NotFound("No such patient at this pharmacy.", field="patient")
    return found


def ndc11_of(raw: Any, *, field: str = "ndc") -> str:
    """The 11-digit NDC of what was typed or scanned (5-4-2 with or without hyphens, or a
    hyphenated 10-digit NDC)."""
    text = str(raw or "").strip()
    if not text:
        raise Invalid("Enter the NDC.", field=field)
    try:
        return ndc10_to_11(text)
    except Exception:  # the NDC module's own error: say it in one sentence
        raise Invalid(
            f"{text[:20]!r} is not an NDC: type 11 digits or the NDC with its hyphens.",
            field=field,
        ) from None


# --- Set-up (the PIC) -------------------------------------------------------------------------


def p340b_entity_set(
    *,
    actor: User | None,
    site: Site | None = None,
    opais_id: str,
    name: str,
    starts_on: dt.date,
    active: bool = True,
    lookback_months: int = rules.DEFAULT_LOOKBACK_MONTHS,
    account_number: str = "",
    wholesaler: str = "",
) -> CoveredEntity:
    """Set up (or change) the covered entity this pharmacy serves: its 340B ID from HRSA
    OPAIS (the prefix is its entity type), the first day captured, the encounter look-back."""
    authorize(actor, Cap.P340B_SETUP)
    where = _site_of(actor, site)
    code = _text(opais_id, field="opais_id", limit=20, required=True, what="the 340B ID").upper()
    kind = rules.entity_type_of(code)
    if not kind:
        raise Invalid(
            f"{code} is not a 340B ID: it starts with the entity type (DSH, CAH, CH, RW…) "
            "followed by digits, e.g. DSH140001.",
            field="opais_id",
        )
    label = _text(name, field="name", limit=NAME_MAX, required=True, what="the entity's name")
    if not isinstance(starts_on, dt.date):
        raise Invalid("Enter the first day to capture.", field="starts_on")
    low, high = rules.LOOKBACK_LIMITS
    if not isinstance(lookback_months, int) or not low <= lookback_months <= high:
        raise Invalid(f"The look-back is {low} to {high} months.", field="lookback_months")
    values = {
        "opais_id": code,
        "name": label,
        "entity_type": kind,
        "starts_on": starts_on,
        "active": bool(active),
        "lookback_months": lookback_months,
        "account_number": _text(account_number, field="account_number", limit=ACCOUNT_MAX),
        "wholesaler": _text(wholesaler, field="wholesaler", limit=80),
    }
    with transaction.atomic():
        row = CoveredEntity.objects.select_for_update().filter(site=where).first()
        before = _entity_snapshot(row) if row else {}
        if row is None:
            row = CoveredEntity(site=where)
        for key, value in values.items():
            setattr(row, key, value)
        row.updated_at, row.updated_by = timezone.now(), actor
        row.save()
        after = _entity_snapshot(row)
        audit_record(
            actor=actor,
            site=where,
            action="p340b.entity.set",
            obj=row,
            data={"before": before, "after": after},
        )
    return row


def _entity_snapshot(row: CoveredEntity) -> dict[str, Any]:
    return {
        "opais_id": row.opais_id,
        "name": row.name,
        "entity_type": row.entity_type,
        "starts_on": row.starts_on.isoformat(),
        "active": row.active,
        "lookback_months": row.lookback_months,
        "account_number": row.account_number,
        "wholesaler": row.wholesaler,
    }


def p340b_prescriber_add(
    *,
    actor: User | None,
    site: Site | None = None,
    npi: str,
    effective_from: dt.date,
    effective_to: dt.date | None = None,
    name: str = "",
) -> EligiblePrescriber:
    """Put a prescriber (by NPI) on the entity's eligible list for the dates given."""
    authorize(actor, Cap.P340B_SETUP)
    where = _site_of(actor, site)
    number = re.sub(r"\s", "", str(npi or ""))
    problem = npi_problem(number)
    if problem:
        raise Invalid(problem, field="npi")
    start, end = _dates(effective_from, effective_to)
    label = _text(name, field="name", limit=NAME_MAX)
    with transaction.atomic():
        entity = _entity(where)
        overlapping = EligiblePrescriber.objects.filter(entity=entity, npi=number).filter(
            Q(effective_to__isnull=True) | Q(effective_to__gte=start)
        )
        if end is not None:
            overlapping = overlapping.filter(effective_from__lte=end)
        if overlapping.exists():
            raise Conflict(f"NPI {number} is already listed for part of these dates.", field="npi")
        row = EligiblePrescriber.objects.create(
            site=where,
            entity=entity,
            npi=number,
            name=label,
            effective_from=start,
            effective_to=end,
        )
        audit_record(
            actor=actor,
            site=where,
            action="p340b.prescriber.added",
            obj=row,
            data={"npi": number, "from": start.isoformat(), "to": end.isoformat() if end else None},
        )
    return row


def p340b_patient_add(
    *,
    actor: User | None,
    site: Site | None = None,
    patient: Patient,
    effective_from: dt.date,
    effective_to: dt.date | None = None,
) -> EligiblePatient:
    """Put a patient on the entity's patient list (registered with the entity)."""
    authorize(actor, Cap.P340B_SETUP)
    where = _site_of(actor, site)
    start, end = _dates(effective_from, effective_to)
    with transaction.atomic():
        entity = _entity(where)
        person = _patient(where, patient)
        overlapping = EligiblePatient.objects.filter(entity=entity, patient=person).filter(
            Q(effective_to__isnull=True) | Q(effective_to__gte=start)
        )
        if end is not None:
            overlapping = overlapping.filter(effective_from__lte=end)
        if overlapping.exists():
            raise Conflict(
                "The patient is already listed for part of these dates.", field="patient"
            )
        row = EligiblePatient.objects.create(
            site=where, entity=entity, patient=person, effective_from=start, effective_to=end
        )
        audit_record(
            actor=actor,
            site=where,
            action="p340b.patient.added",
            obj=row,
            patient_id=person.pk,
            data={"from": start.isoformat(), "to": end.isoformat() if end else None},
        )
    return row


def p340b_encounter_add(
    *, actor: User | None, site: Site | None = None, patient: Patient, location: str, on: dt.date
) -> Encounter:
    """Record a visit of the patient at one of the entity's locations (from its records)."""
    authorize(actor, Cap.P340B_SETUP)
    where = _site_of(actor, site)
    place = _text(
        location, field="location", limit=LOCATION_MAX, required=True, what="the location"
    )
    if not isinstance(on, dt.date):
        raise Invalid("Enter the date of the encounter.", field="on")
    if on > where.today():
        raise Invalid("An encounter cannot be in the future.", field="on")
    with transaction.atomic():
        entity = _entity(where)
        person = _patient(where, patient)
        if Encounter.objects.filter(entity=entity, patient=person, location=place, on=on).exists():
            raise Conflict("This encounter is already recorded.", field="on")
        row = Encounter.objects.create(
            site=where, entity=entity, patient=person, location=place, on=on
        )
        audit_record(
            actor=actor,
            site=where,
            action="p340b.encounter.added",
            obj=row,
            patient_id=person.pk,
            data={"location": place, "on": on.isoformat()},
        )
    return row


def p340b_payer_rule_set(
    *,
    actor: User | None,
    site: Site | None = None,
    plan: Plan,
    action: str,
    basis_of_cost_08: bool = False,
    note: str = "",
) -> PayerRule:
    """Say what a plan does with 340B dispenses: carved out (e.g. Medicaid fee-for-service
    on the Medicaid Exclusion File) or billed with SCC 20 (and basis of cost 08)."""
    authorize(actor, Cap.P340B_SETUP)
    where = _site_of(actor, site)
    if action not in PayerAction.values:
        raise Invalid("Choose exclude or bill as 340B.", field="action")
    if basis_of_cost_08 and action != PayerAction.BILL_340B:
        raise Invalid(
            "Basis of cost 08 is sent only on claims billed as 340B.", field="basis_of_cost_08"
        )
    text = _text(note, field="note", limit=NOTE_MAX)
    with transaction.atomic():
        entity = _entity(where)
        chosen = Plan.objects.filter(pk=getattr(plan, "pk", 0) or 0).first()
        if chosen is None:
            raise NotFound("No such plan.", field="plan")
        row = PayerRule.objects.select_for_update().filter(entity=entity, plan=chosen).first()
        before = {"action": row.action, "basis_of_cost_08": row.basis_of_cost_08} if row else {}
        if row is None:
            row = PayerRule(site=where, entity=entity, plan=chosen)
        row.action, row.basis_of_cost_08, row.note = action, bool(basis_of_cost_08), text
        row.updated_at = timezone.now()
        row.save()
        audit_record(
            actor=actor,
            site=where,
            action="p340b.payer_rule.set",
            obj=row,
            data={
                "plan": chosen.pk,
                "before": before,
                "after": {"action": row.action, "basis_of_cost_08": row.basis_of_cost_08},
            },
        )
    return row


def p340b_exclusion_add(
    *, actor: User | None, site: Site | None = None, ndc: str, reason: str
) -> NdcExclusion:
    """Exclude an NDC-11 from 340B for the entity (e.g. an orphan drug for a CAH)."""
    authorize(actor, Cap.P340B_SETUP)
    where = _site_of(actor, site)
    code = ndc11_of(ndc)
    why = _text(reason, field="reason", limit=NOTE_MAX, required=True, what="the reason")
    with transaction.atomic():
        entity = _entity(where)
        if NdcExclusion.objects.filter(entity=entity, ndc11=code).exists():
            raise Conflict(f"NDC {code} is already excluded.", field="ndc")
        row = NdcExclusion.objects.create(site=where, entity=entity, ndc11=code, reason=why)
        audit_record(
            actor=actor,
            site=where,
            action="p340b.exclusion.added",
            obj=row,
            data={"ndc11": code, "reason": why},
        )
    return row


# --- Eligibility ------------------------------------------------------------------------------


def primary_plan(fill: Fill) -> Plan | None:
    """The plan that paid the fill as primary payer, or None (a cash sale)."""
    claim = (
        Claim.objects.filter(fill=fill, payer_rank=1, status__in=ACCEPTED)
        .select_related("plan")
        .order_by("-pk")
        .first()
    )
    return claim.plan if claim is not None else None


def decide(
    entity: CoveredEntity, fill: Fill, package: Package, day: dt.date, plan: Plan | None
) -> rules.Decision:
    """Every eligibility rule for ``fill`` dispensed on ``day`` and paid by ``plan``."""
    rx = fill.prescription
    npi = rx.prescriber.npi if rx.prescriber_id else ""
    current = Q(effective_from__lte=day) & (Q(effective_to__isnull=True) | Q(effective_to__gte=day))
    rule = PayerRule.objects.filter(entity=entity, plan=plan).first() if plan else None
    facts = rules.Facts(
        day=day,
        entity_active=entity.active,
        prescriber_npi=npi,
        prescriber_listed=bool(npi)
        and EligiblePrescriber.objects.filter(current, entity=entity, npi=npi).exists(),
        patient_listed=EligiblePatient.objects.filter(
            current, entity=entity, patient_id=rx.patient_id
        ).exists(),
        last_encounter=Encounter.objects.filter(
            entity=entity, patient_id=rx.patient_id, on__lte=day
        ).aggregate(last=Max("on"))["last"],
        lookback_months=entity.lookback_months,
        plan_name=plan.name if plan else "",
        payer_action=rule.action if rule else "",
        ndc11=package.ndc11,
        ndc_excluded=NdcExclusion.objects.filter(entity=entity, ndc11=package.ndc11).exists(),
    )
    return rules.decide(facts)


# --- Capture ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class CaptureResult:
    decided: int
    eligible: int
    reversed: int
    units_by_ndc: dict[str, Decimal]

    def summary(self) -> str:
        if not (self.decided or self.reversed):
            return "Nothing new to capture."
        return (
            f"{self.decided} dispense(s) decided, {self.eligible} eligible for 340B, "
            f"{self.reversed} return(s) to stock reversed."
        )


def _add_units(site: Site, entity: CoveredEntity, package: Package, units: Decimal) -> None:
    # The first row of an NDC is a race (no row to lock yet): the unique constraint decides
    # and the loser retries the update.
    for _attempt in range(2):
        changed = Accumulator.objects.filter(entity=entity, package=package).update(
            units=F("units") + units
        )
        if changed:
            return
        try:
            with transaction.atomic():
                Accumulator.objects.create(site=site, entity=entity, package=package, units=units)
            return
        except IntegrityError:
            continue
    raise Conflict("The 340B inventory is busy; try again.", field="ndc")


def p340b_capture(
    *, actor: User | None, site: Site | None = None, through: dt.date | None = None
) -> CaptureResult:
    """Decide every sold fill not yet decided (dispensed from the entity's start through
    ``through``, default today), accumulate the eligible ones in their package's billing
    unit, and reverse the eligible ones since returned to stock. Idempotent: a fill is
    decided once and reversed once."""
    authorize(actor, Cap.P340B_ORDER)
    where = _site_of(actor, site)
    last = through or where.today()
    if not isinstance(last, dt.date):
        raise Invalid("Give the last day to capture as a date.", field="through")
    try:
        return _capture(actor, where, last)
    except IntegrityError:  # a capture running at the same time took these fills first
        raise Conflict(
            "Another capture is running; try again in a minute.", field="through"
        ) from None


def _capture(actor: User | None, where: Site, last: dt.date) -> CaptureResult:
    decided = eligible = reversed_ = 0
    units: dict[str, Decimal] = {}
    with transaction.atomic():
        entity = _entity(where)
        done = Capture.objects.filter(entity=entity, kind=CaptureKind.DISPENSE).values("fill_id")
        fills = (
            Fill.objects.filter(
                site=where,
                status=FillStatus.DISPENSED,
                dispensed_on__gte=entity.starts_on,
                dispensed_on__lte=last,
            )
            .exclude(pk__in=done)
            .select_related("prescription__prescriber", "package", "prescription__package")
            .order_by("dispensed_on", "pk")
        )
        for fill in fills:
            package = fill.package or fill.prescription.package
            if package is None or fill.dispensed_on is None:
                continue
            decision = decide(entity, fill, package, fill.dispensed_on, primary_plan(fill))
            Capture.objects.create(
                site=where,
                entity=entity,
                fill=fill,
                kind=CaptureKind.DISPENSE,
                package=package,
                ndc11=package.ndc11,
                day=fill.dispensed_on,
                eligible=decision.eligible,
                units=fill.quantity,
                reasons=decision.reasons(),
            )
            decided += 1
            if decision.eligible:
                eligible += 1
                _add_units(where, entity, package, fill.quantity)
                units[package.ndc11] = units.get(package.ndc11, Decimal(0)) + fill.quantity
        reversed_done = Capture.objects.filter(entity=entity, kind=CaptureKind.REVERSAL).values(
            "fill_id"
        )
        returned = (
            Capture.objects.filter(
                entity=entity,
                kind=CaptureKind.DISPENSE,
                eligible=True,
                fill__status=FillStatus.RETURNED,
            )
            .exclude(fill_id__in=reversed_done)
            .select_related("fill", "package")
            .order_by("pk")
        )
        for row in returned:
            when = row.fill.returned_at or timezone.now()
            Capture.objects.create(
                site=where,
                entity=entity,
                fill=row.fill,
                kind=CaptureKind.REVERSAL,
                package=row.package,
                ndc11=row.ndc11,
                day=when.astimezone(where.tz).date(),
                eligible=True,
                units=-row.units,
                reasons=[
                    {"rule": "return", "passed": True, "detail": "Returned to stock: reversed"}
                ],
            )
            reversed_ += 1
            _add_units(where, entity, row.package, -row.units)
            units[row.ndc11] = units.get(row.ndc11, Decimal(0)) - row.units
        result = CaptureResult(decided, eligible, reversed_, units)
        if decided or reversed_:
            audit_record(
                actor=actor,
                site=where,
                action="p340b.captured",
                obj=entity,
                data={
                    "through": last.isoformat(),
                    "decided": decided,
                    "eligible": eligible,
                    "reversed": reversed_,
                    "units": {k: rules.units_text(v) for k, v in sorted(units.items())},
                },
            )
    return result


# --- Replenishment ----------------------------------------------------------------------------


def _open_rows(entity: CoveredEntity, package: Package) -> list[tuple[int, Decimal]]:
    """Eligible dispenses of the NDC not returned, oldest first, with units not yet
    covered by an order."""
    reversed_fills = Capture.objects.filter(entity=entity, kind=CaptureKind.REVERSAL).values(
        "fill_id"
    )
    rows = (
        Capture.objects.filter(
            entity=entity, package=package, kind=CaptureKind.DISPENSE, eligible=True
        )
        .exclude(fill_id__in=reversed_fills)
        .annotate(taken=Sum("allocations__units"))
        .order_by("day", "pk")
    )
    return [(r.pk, r.units - (r.taken or Decimal(0))) for r in rows]


def p340b_order_create(
    *,
    actor: User | None,
    site: Site | None = None,
    ndc: str,
    packages: int,
    po_number: str,
) -> ReplenishmentOrder:
    """Record a 340B replenishment order of whole packages of one NDC: it consumes the
    accumulated units and is tied to the dispenses it covers, oldest first."""
    authorize(actor, Cap.P340B_ORDER)
    where = _site_of(actor, site)
    code = ndc11_of(ndc)
    if not isinstance(packages, int) or isinstance(packages, bool) or packages < 1:
        raise Invalid("Order at least one package.", field="packages")
    if packages > MAX_PACKAGES:
        raise Invalid(f"Order at most {MAX_PACKAGES} packages at once.", field="packages")
    po = _text(po_number, field="po_number", limit=PO_MAX, required=True, what="the PO number")
    if not PO_RE.match(po):
        raise Invalid(
            "Use letters, digits, spaces and . / _ - in the PO number.", field="po_number"
        )
    with transaction.atomic():
        entity = _entity(where)
        package = Package.objects.filter(ndc11=code).first()
        if package is None:
            raise NotFound(f"NDC {code} is not in the catalog.", field="ndc")
        if ReplenishmentOrder.objects.filter(site=where, po_number=po, package=package).exists():
            raise Conflict(f"PO {po} already has a line for NDC {code}.", field="po_number")
        size = package.package_quantity
        units = size * packages
        taken = Accumulator.objects.filter(entity=entity, package=package, units__gte=units).update(
            units=F("units") - units
        )
        if not taken:
            row = Accumulator.objects.filter(entity=entity, package=package).first()
            have = row.units if row else Decimal(0)
            due, _rest = rules.packages_due(have, size)
            owed = (
                f" ({rules.units_text(-have)} {package.billing_unit} owed back)" if have < 0 else ""
            )
            raise Conflict(
                f"Only {due} package(s) of NDC {code} are accumulated{owed}: "
                f"{packages} cannot be ordered.",
                field="packages",
            )
        order = ReplenishmentOrder.objects.create(
            site=where,
            entity=entity,
            package=package,
            packages=packages,
            units=units,
            po_number=po,
            ordered_by=actor,
        )
        try:
            slices = rules.fifo_allocate(_open_rows(entity, package), units)
        except ValueError:  # the accumulator and the rows disagree: refuse, never guess
            raise Conflict(
                "The accumulated units do not match the dispenses on record; "
                "ask the PIC to check the 340B history.",
                field="packages",
            ) from None
        Allocation.objects.bulk_create(
            Allocation(site=where, order=order, capture_id=s.row_id, units=s.units) for s in slices
        )
        audit_record(
            actor=actor,
            site=where,
            action="p340b.order.placed",
            obj=order,
            data={
                "ndc11": code,
                "packages": packages,
                "units": rules.units_text(units),
                "po_number": po,
                "dispenses": [s.row_id for s in slices],
            },
        )
    return order
