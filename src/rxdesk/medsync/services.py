"""Every write of medication synchronization.

Enrol a patient (sync day, chronic prescriptions; a CII is kept out), include or keep out
a prescription, align (store the first cycle's plan of short fills), record the pre-sync
call, queue the cycle's fills through the prescription services (the normal queue and its
too-soon rules: a too-soon fill waits until its day and is reported, never forced), end
an enrollment. Each runs in one transaction, checks sync.manage first and writes one
audit event."""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from rxdesk.core.audit import audit_record, register_actions
from rxdesk.core.capabilities import Cap
from rxdesk.core.errors import Conflict, Invalid, NotFound
from rxdesk.core.models import User
from rxdesk.core.services import authorize
from rxdesk.medsync import proration, queries
from rxdesk.medsync.choices import CallOutcome, CycleStatus, EndReason, Exclusion, PlanAction
from rxdesk.medsync.models import SyncCall, SyncCycle, SyncEnrollment, SyncFill, SyncMember
from rxdesk.patients.choices import PatientStatus
from rxdesk.patients.models import Patient
from rxdesk.rx.choices import FillSource, RxStatus
from rxdesk.rx.models import Prescription
from rxdesk.rx.services.fills import RefillRefused, queue_refill

register_actions(
    {
        "medsync.enrolled": "Patient enrolled in medication synchronization",
        "medsync.member.set": "Prescription included in or kept out of medication sync",
        "medsync.aligned": "Medication sync plan of short fills computed",
        "medsync.call.recorded": "Pre-sync call recorded",
        "medsync.fills.queued": "Medication sync fills queued",
        "medsync.unenrolled": "Medication synchronization ended",
    }
)

CONSENT_MAX, NOTE_MAX = 300, 300
SYNCABLE = (RxStatus.ACTIVE, RxStatus.ON_HOLD)
# A call outcome that needs words: what changes, or why this month is held.
NOTE_NEEDED = (CallOutcome.CHANGES, CallOutcome.HOLD)


def _text(value: Any, *, field: str, limit: int, required: str = "") -> str:
    text = " ".join(str(value or "").split())
    if required and not text:
        raise Invalid(required, field=field)
    if len(text) > limit:
        raise Invalid(f"Keep it to {limit} characters.", field=field)
    return text


def _sync_day(value: Any) -> int:
    try:
        day = int(value)
    except (TypeError, ValueError):
        day = 0
    if not 1 <= day <= 31:
        raise Invalid("Pick a sync day of the month from 1 to 31.", field="sync_day")
    return day


def _own(actor: User, site_id: int, what: str, field: str) -> None:
    if actor.site_id != site_id:
        raise NotFound(f"No such {what} at this pharmacy.", field=field)


def _check_rx(actor: User, patient: Patient, rx: Prescription) -> None:
    _own(actor, rx.site_id, "prescription", "prescriptions")
    if rx.patient_id != patient.pk:
        raise Invalid(f"Rx {rx.number} is not this patient's.", field="prescriptions")
    if rx.status not in SYNCABLE:
        raise Invalid(
            f"Rx {rx.number} is {rx.get_status_display().lower()}: only an active "
            "prescription can be synchronized.",
            field="prescriptions",
        )


def _enrollment_locked(actor: User, enrollment: SyncEnrollment) -> SyncEnrollment:
    found = (
        SyncEnrollment.objects.select_for_update()
        .filter(pk=enrollment.pk, site_id=actor.site_id)
        .select_related("patient", "site")
        .first()
    )
    if found is None:
        raise NotFound("No such sync enrollment at this pharmacy.", field="enrollment")
    if not found.active:
        raise Conflict("This sync enrollment has ended.", field="enrollment")
    return found


def _cycle_locked(actor: User, cycle: SyncCycle) -> SyncCycle:
    found = (
        SyncCycle.objects.select_for_update(of=("self",))
        .filter(pk=cycle.pk, site_id=actor.site_id)
        .select_related("enrollment", "enrollment__patient", "site")
        .first()
    )
    if found is None:
        raise NotFound("No such sync cycle at this pharmacy.", field="cycle")
    if not found.enrollment.active:
        raise Conflict("This patient's sync enrollment has ended.", field="cycle")
    return found


def sync_enroll(
    *,
    actor: User,
    patient: Patient,
    sync_day: int,
    prescriptions: list[Prescription],
    consent_note: str,
) -> SyncEnrollment:
    """Enrol ``patient``: the sync day of the month and the prescriptions to align (a CII
    among them is kept out with its reason). The first sync date is the next one on or
    after today; ``sync_align`` then plans its short fills."""
    authorize(actor, Cap.SYNC_MANAGE)
    _own(actor, patient.site_id, "patient", "patient")
    day = _sync_day(sync_day)
    consent = _text(
        consent_note,
        field="consent_note",
        limit=CONSENT_MAX,
        required="Note how the patient agreed to synchronization.",
    )
    if patient.status != PatientStatus.ACTIVE:
        raise Invalid("Only an active patient can be enrolled.", field="patient")
    unique = {rx.pk: rx for rx in prescriptions}
    if not unique:
        raise Invalid("Pick at least one prescription to synchronize.", field="prescriptions")
    for rx in unique.values():
        _check_rx(actor, patient, rx)
    if all(rx.schedule == "CII" for rx in unique.values()):
        raise Invalid(
            "A CII cannot be synchronized: pick at least one other prescription.",
            field="prescriptions",
        )
    site = actor.site
    assert site is not None
    with transaction.atomic():
        if SyncEnrollment.objects.filter(site=site, patient=patient, active=True).exists():
            raise Conflict(
                f"{patient.full_name} is already enrolled in medication sync.", field="patient"
            )
        try:
            with transaction.atomic():
                enrollment = SyncEnrollment.objects.create(
                    site=site,
                    patient=patient,
                    sync_day=day,
                    anchor_date=queries.first_sync_date(site, day),
                    consent_note=consent,
                    enrolled_by=actor,
                )
        except IntegrityError:  # another workstation enrolled the patient at the same time
            raise Conflict(
                f"{patient.full_name} is already enrolled in medication sync.", field="patient"
            ) from None
        for rx in sorted(unique.values(), key=lambda r: r.number):
            cii = rx.schedule == "CII"
            SyncMember.objects.create(
                site=site,
                enrollment=enrollment,
                prescription=rx,
                included=not cii,
                exclusion=Exclusion.CONTROLLED_CII if cii else "",
            )
        audit_record(
            actor=actor,
            action="medsync.enrolled",
            obj=enrollment,
            patient_id=patient.pk,
            data={
                "sync_day": day,
                "anchor_date": enrollment.anchor_date.isoformat(),
                "prescriptions": sorted(unique),
            },
        )
    return enrollment


def sync_member_set(
    *,
    actor: User,
    enrollment: SyncEnrollment,
    prescription: Prescription,
    included: bool,
    exclusion: str = "",
    note: str = "",
) -> SyncMember:
    """Include a prescription of the enrolled patient in the sync date, or keep it out with
    its reason (a CII is always kept out)."""
    authorize(actor, Cap.SYNC_MANAGE)
    _own(actor, enrollment.site_id, "sync enrollment", "enrollment")
    text = _text(note, field="note", limit=200)
    if included:
        exclusion = ""
    elif exclusion not in Exclusion.values:
        raise Invalid(
            "Say why the prescription is kept out (CII, acute, as needed, patient's choice, "
            "other).",
            field="exclusion",
        )
    if included and prescription.schedule == "CII":
        raise Invalid(
            f"Rx {prescription.number} is a CII: it has no refills and its own fill rules, "
            "so it cannot be synchronized.",
            field="included",
        )
    with transaction.atomic():
        locked = _enrollment_locked(actor, enrollment)
        _check_rx(actor, locked.patient, prescription)
        member, created = SyncMember.objects.get_or_create(
            enrollment=locked,
            prescription=prescription,
            defaults={
                "site_id": locked.site_id,
                "included": included,
                "exclusion": exclusion,
                "note": text,
            },
        )
        before = {"included": member.included, "exclusion": member.exclusion}
        if not created:
            member.included, member.exclusion, member.note = included, exclusion, text
            member.changed_at = timezone.now()
            member.save(update_fields=["included", "exclusion", "note", "changed_at"])
        audit_record(
            actor=actor,
            action="medsync.member.set",
            obj=member,
            patient_id=locked.patient_id,
            data={
                "prescription_id": prescription.pk,
                "before": None if created else before,
                "included": included,
                "exclusion": exclusion,
            },
        )
    return member


def _store_plan(cycle: SyncCycle, plan: list[queries.MedPlan]) -> list[SyncFill]:
    SyncFill.objects.filter(cycle=cycle, fill__isnull=True).delete()
    rows = []
    for med in plan:
        line = med.line
        rows.append(
            SyncFill.objects.create(
                site_id=cycle.site_id,
                cycle=cycle,
                prescription=med.prescription,
                action=PlanAction.SKIP if line.problem else line.action,
                due_date=line.due_date,
                target_date=line.target_date,
                days_supply=line.days,
                quantity=line.quantity,
                short_fill=line.short_fill and not line.problem,
                warning=(line.problem or line.warning)[:300],
            )
        )
    return rows


def sync_align(*, actor: User, enrollment: SyncEnrollment) -> SyncCycle:
    """Compute and store the plan of the first cycle (the alignment): each included
    medication's short fill to the sync date. Run again to recompute it until its fills
    are queued; a sync date already past moves to the next one."""
    authorize(actor, Cap.SYNC_MANAGE)
    _own(actor, enrollment.site_id, "sync enrollment", "enrollment")
    with transaction.atomic():
        locked = _enrollment_locked(actor, enrollment)
        site = locked.site
        today = site.today()
        if locked.cycles.exclude(status__in=queries.OPEN_CYCLES).exists():
            raise Conflict(
                "This patient's sync fills were already queued: the alignment is done.",
                field="enrollment",
            )
        included = [m.prescription for m in queries.members(locked) if m.included]
        if not included:
            raise Invalid(
                "No prescription is included: include at least one before aligning.",
                field="enrollment",
            )
        if locked.anchor_date < today:
            locked.anchor_date = proration.next_sync_date(today, locked.sync_day, inclusive=True)
            locked.save(update_fields=["anchor_date"])
        cycle = locked.cycles.filter(alignment=True).first()
        if cycle is None:
            cycle = SyncCycle.objects.create(
                site=site, enrollment=locked, sync_date=locked.anchor_date, alignment=True
            )
        elif cycle.sync_date != locked.anchor_date:
            # Its sync date passed before the fills were queued: call again for the new one.
            cycle.sync_date, cycle.status = locked.anchor_date, CycleStatus.TO_CALL
            cycle.save(update_fields=["sync_date", "status"])
        plan = queries.plan_for(
            included, sync_date=cycle.sync_date, sync_day=locked.sync_day, today=today
        )
        rows = _store_plan(cycle, plan)
        audit_record(
            actor=actor,
            action="medsync.aligned",
            obj=cycle,
            patient_id=locked.patient_id,
            data={
                "sync_date": cycle.sync_date.isoformat(),
                "plan": [
                    {
                        "prescription_id": r.prescription_id,
                        "action": r.action,
                        "days_supply": r.days_supply,
                        "quantity": str(r.quantity),
                    }
                    for r in rows
                ],
            },
        )
    return cycle


def sync_call_record(*, actor: User, cycle: SyncCycle, outcome: str, note: str = "") -> SyncCall:
    """Record the pre-sync call: reached and confirmed (the cycle may be queued), changes
    or a hold (say what), a message left, or no answer (call again)."""
    authorize(actor, Cap.SYNC_MANAGE)
    _own(actor, cycle.site_id, "sync cycle", "cycle")
    if outcome not in CallOutcome.values:
        raise Invalid(
            "Pick the call's outcome: confirmed, changes, hold, left a message or no answer.",
            field="outcome",
        )
    text = _text(
        note,
        field="note",
        limit=NOTE_MAX,
        required="Say what changes or why this month is held." if outcome in NOTE_NEEDED else "",
    )
    with transaction.atomic():
        locked = _cycle_locked(actor, cycle)
        if locked.status not in queries.OPEN_CYCLES:
            raise Conflict(
                "This cycle's fills are already queued: record changes on the fills.",
                field="cycle",
            )
        call = SyncCall.objects.create(
            site_id=locked.site_id, cycle=locked, called_by=actor, outcome=outcome, note=text
        )
        before = locked.status
        locked.status = (
            CycleStatus.CONFIRMED if outcome == CallOutcome.CONFIRMED else CycleStatus.CALLED
        )
        locked.save(update_fields=["status"])
        audit_record(
            actor=actor,
            action="medsync.call.recorded",
            obj=call,
            patient_id=locked.enrollment.patient_id,
            data={
                "cycle_id": locked.pk,
                "outcome": outcome,
                "status": {"before": before, "after": locked.status},
            },
        )
    return call


def _next_cycle(cycle: SyncCycle) -> SyncCycle:
    day = cycle.enrollment.sync_day
    following = proration.next_sync_date(cycle.sync_date, day)
    found, _ = SyncCycle.objects.get_or_create(
        enrollment=cycle.enrollment, sync_date=following, defaults={"site_id": cycle.site_id}
    )
    return found


def sync_fills_queue(*, actor: User, cycle: SyncCycle) -> SyncCycle:
    """Queue the confirmed cycle's fills through the prescription services, with the
    planned (prorated) quantity. A too-soon fill waits in the queue until its day (the
    message is kept); a prescription that cannot be refilled is reported, never forced.
    The next month's cycle is opened for its call."""
    authorize(actor, Cap.SYNC_MANAGE)
    # The fills go into the prescription queue: whoever queues them must be able to.
    authorize(actor, Cap.RX_ENTER)
    _own(actor, cycle.site_id, "sync cycle", "cycle")
    with transaction.atomic():
        locked = _cycle_locked(actor, cycle)
        if locked.status != CycleStatus.CONFIRMED:
            raise Conflict(
                "Confirm the fills with the patient first (record the pre-sync call)."
                if locked.status in queries.OPEN_CYCLES
                else "This cycle's fills are already queued.",
                field="cycle",
            )
        site = locked.site
        today = site.today()
        if not locked.alignment or not locked.fills.exists():
            _store_plan(locked, queries.cycle_plan(locked, today))
        queued, reported = [], []
        for row in queries.cycle_fills(locked):
            if row.action in (PlanAction.SKIP,) or row.quantity <= 0:
                reported.append(row.prescription_id)
                continue
            rx = (
                Prescription.objects.select_for_update(of=("self",))
                .select_related("site")
                .get(pk=row.prescription_id)
            )
            try:
                with transaction.atomic():
                    result = queue_refill(
                        rx,
                        actor=actor,
                        source=FillSource.SYNC,
                        today=today,
                        quantity=row.quantity,
                        days_supply=row.days_supply if row.short_fill else None,
                    )
            except RefillRefused as refused:
                row.queue_message = str(refused)[:300]
                row.save(update_fields=["queue_message"])
                reported.append(row.prescription_id)
                continue
            row.fill = result.fill
            row.queue_message = result.message[:300]
            row.save(update_fields=["fill", "queue_message"])
            queued.append(result.fill.pk)
        locked.status, locked.queued_at, locked.queued_by = (
            CycleStatus.QUEUED,
            timezone.now(),
            actor,
        )
        locked.save(update_fields=["status", "queued_at", "queued_by"])
        following = _next_cycle(locked)
        audit_record(
            actor=actor,
            action="medsync.fills.queued",
            obj=locked,
            patient_id=locked.enrollment.patient_id,
            data={
                "sync_date": locked.sync_date.isoformat(),
                "fill_ids": queued,
                "not_queued_prescription_ids": reported,
                "next_cycle": following.sync_date.isoformat(),
            },
        )
    return locked


def sync_unenroll(
    *, actor: User, enrollment: SyncEnrollment, reason: str, note: str = ""
) -> SyncEnrollment:
    """End the enrollment (the rows stay as history). Fills already queued stay in the
    queue; open cycles leave the call list."""
    authorize(actor, Cap.SYNC_MANAGE)
    _own(actor, enrollment.site_id, "sync enrollment", "enrollment")
    if reason not in EndReason.values:
        raise Invalid("Say why synchronization ends.", field="reason")
    text = _text(
        note,
        field="note",
        limit=NOTE_MAX,
        required="Say why synchronization ends." if reason == EndReason.OTHER else "",
    )
    with transaction.atomic():
        locked = _enrollment_locked(actor, enrollment)
        locked.active, locked.ended_at, locked.ended_by = False, timezone.now(), actor
        locked.end_reason, locked.end_note = reason, text
        locked.save(update_fields=["active", "ended_at", "ended_by", "end_reason", "end_note"])
        audit_record(
            actor=actor,
            action="medsync.unenrolled",
            obj=locked,
            patient_id=locked.patient_id,
            data={"reason": reason},
        )
    return locked


def sync_short_fill(fill_id: int) -> bool:
    """Whether fill ``fill_id`` is a synchronization short fill (claims: SCC 47)."""
    return SyncFill.objects.filter(fill_id=fill_id, short_fill=True).exists()


__all__ = [
    "sync_align",
    "sync_call_record",
    "sync_enroll",
    "sync_fills_queue",
    "sync_member_set",
    "sync_short_fill",
    "sync_unenroll",
]
