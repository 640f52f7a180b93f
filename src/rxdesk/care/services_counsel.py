"""Services of counseling records and clinical interventions.

Counseling (OBRA '90 and the state boards: the offer to counsel is made to every patient,
counseling itself is the pharmacist's): a technician records the offer and the patient's
answer; an ACCEPTED counseling names the pharmacist who gave it (a current pharmacist of
the pharmacy: the actor when a pharmacist, else chosen), its method and at least one topic.

Interventions (care.intervene: pharmacists) document a problem found (NCPDP reason for
service, 439-E4), what the pharmacist did (professional service, 440-E5) and the outcome
(result of service, 441-E6), with the prescriber contacted and the time spent. The codes
are those of rxdesk.screening.services, so an intervention reads like a DUR resolution. A
prescriber consult (M0) names the prescriber and when; an intervention recorded with its
outcome is closed at once, else it waits in the open list until closed.

The audit data carries ids and codes, never the typed notes (clinical free text)."""

from __future__ import annotations

import datetime as dt
import unicodedata
from collections.abc import Iterable
from typing import Any

from django.db import transaction
from django.utils import timezone

from rxdesk.care.choices import (
    CounselingMethod,
    CounselingOutcome,
    CounselingTopic,
    InterventionProblem,
    InterventionStatus,
)
from rxdesk.care.models import CounselingRecord, Intervention
from rxdesk.core.audit import audit_record, register_actions
from rxdesk.core.capabilities import Cap, has
from rxdesk.core.choices import PHARMACIST_ROLES
from rxdesk.core.errors import Conflict, Forbidden, Invalid, NotFound
from rxdesk.core.models import User
from rxdesk.core.services import authorize
from rxdesk.patients.models import Patient, Prescriber
from rxdesk.rx.models import Fill, Prescription
from rxdesk.screening.services import PROFESSIONAL_SERVICE, RESULT_OF_SERVICE

register_actions(
    {
        "care.counseling.recorded": "Counseling offer recorded",
        "care.intervention.recorded": "Clinical intervention recorded",
        "care.intervention.closed": "Clinical intervention closed",
        "care.intervention.viewed": "Clinical intervention opened (PHI)",
    }
)

MINUTES_MAX = 600
INTERPRETER_MAX = 80
NOTE_MAX = 2000
DETAIL_MAX = 2000
# Professional services that are a consultation of the prescriber: the prescriber is named
# with the time of the contact.
PRESCRIBER_SERVICES = frozenset({"M0"})
# Results that need no outcome: "00 not specified" closes nothing.
NO_RESULT = "00"
NO_SERVICE = "00"
CANNOT_KEEP = "The text holds a character that cannot be kept (a control character)."


class _Errors:
    """Errors gathered field by field, raised together (one Invalid naming each field)."""

    def __init__(self) -> None:
        self.items: list[dict[str, str]] = []

    def add(self, field: str, message: str) -> None:
        if not any(e["field"] == field for e in self.items):
            self.items.append({"field": field, "message": message})

    def raise_any(self) -> None:
        if len(self.items) == 1:
            raise Invalid(self.items[0]["message"], field=self.items[0]["field"])
        if self.items:
            raise Invalid(errors=self.items)


def _signed_in(actor: User | None) -> User:
    if actor is None or actor.site_id is None:
        raise Forbidden("Sign in: the record names who made it.")
    return actor


def _text(value: Any, limit: int, field: str, errors: _Errors, *, multiline: bool = False) -> str:
    raw = str(value if value is not None else "")
    text = raw.strip() if multiline else " ".join(raw.split())
    allowed = {"\n", "\r", "\t"} if multiline else set()
    if any(unicodedata.category(ch) == "Cc" and ch not in allowed for ch in text):
        errors.add(field, CANNOT_KEEP)
        return ""
    if len(text) > limit:
        errors.add(field, f"Keep it to {limit} characters.")
        return ""
    return text


def _minutes(value: Any, field: str, errors: _Errors, *, required: bool) -> int | None:
    if value is None or value == "":
        if required:
            errors.add(field, "Enter the minutes spent (0 to 600).")
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MINUTES_MAX:
        errors.add(field, f"Minutes are a whole number from 0 to {MINUTES_MAX}.")
        return None
    return value


def _patient(actor: User, patient: Patient | None) -> Patient:
    if patient is None or patient.site_id != actor.site_id:
        raise NotFound("No such patient at this pharmacy.", field="patient")
    return patient


def _rx_fill(
    actor: User,
    patient: Patient,
    prescription: Prescription | None,
    fill: Fill | None,
    errors: _Errors,
) -> tuple[Prescription | None, Fill | None]:
    """The prescription and fill, when they are this patient's at this pharmacy; a fill
    without its prescription brings its prescription."""
    if prescription is not None and (
        prescription.site_id != actor.site_id or prescription.patient_id != patient.pk
    ):
        errors.add("prescription", "That prescription is not this patient's.")
        prescription = None
    if fill is not None:
        if fill.site_id != actor.site_id or fill.prescription.patient_id != patient.pk:
            errors.add("fill", "That fill is not this patient's.")
            fill = None
        elif prescription is not None and fill.prescription_id != prescription.pk:
            errors.add("fill", "That fill is not of the prescription given.")
            fill = None
        elif prescription is None:
            prescription = fill.prescription
    return prescription, fill


def _is_pharmacist(user: User) -> bool:
    return user.role in PHARMACIST_ROLES and user.is_active and has(user, Cap.CARE_INTERVENE)


# --- Counseling -------------------------------------------------------------------------------


def counseling_record(
    *,
    actor: User | None,
    patient: Patient,
    outcome: str,
    prescription: Prescription | None = None,
    fill: Fill | None = None,
    pickup_id: int | None = None,
    counseled_by: User | None = None,
    method: str = "",
    topics: Iterable[str] = (),
    minutes: int | None = None,
    interpreter: str = "",
    note: str = "",
) -> CounselingRecord:
    """Record an offer to counsel and the patient's answer. Accepted: the pharmacist who
    counseled (default the actor when a pharmacist; a technician never counsels), the
    method and at least one topic. Declined: the offer is recorded; no counselor, method
    or topics."""
    authorize(actor, Cap.CARE_COUNSEL)
    actor = _signed_in(actor)
    patient = _patient(actor, patient)
    errors = _Errors()
    outcome_ = str(outcome or "").strip()
    if outcome_ not in CounselingOutcome.values:
        errors.add("outcome", "Say whether the patient accepted or declined counseling.")
    method_ = str(method or "").strip()
    if method_ and method_ not in CounselingMethod.values:
        errors.add(
            "method",
            "Choose the method: " + ", ".join(CounselingMethod.values) + ".",
        )
    if isinstance(topics, str):
        topics = [topics]
    chosen: list[str] = []
    for t in topics or ():
        code = str(t or "").strip()
        if code not in CounselingTopic.values:
            errors.add("topics", f"Unknown topic {code[:30]!r}: choose from the list.")
        elif code not in chosen:
            chosen.append(code)
    chosen.sort(key=CounselingTopic.values.index)
    mins = _minutes(minutes, "minutes", errors, required=False)
    interp = _text(interpreter, INTERPRETER_MAX, "interpreter", errors)
    words = _text(note, NOTE_MAX, "note", errors, multiline=True)
    rx, the_fill = _rx_fill(actor, patient, prescription, fill, errors)
    if pickup_id is not None:
        from rxdesk.pos.models import Pickup  # pos sits beside care; read one row

        if isinstance(pickup_id, bool) or not isinstance(pickup_id, int):
            errors.add("pickup_id", "No such pickup.")
        elif not Pickup.objects.filter(
            pk=pickup_id, site_id=actor.site_id, patient_id=patient.pk
        ).exists():
            errors.add("pickup_id", "No such pickup of this patient.")
    counselor: User | None = None
    if outcome_ == CounselingOutcome.ACCEPTED:
        if counseled_by is None:
            if actor.role in PHARMACIST_ROLES:
                counseled_by = actor
            else:
                errors.add(
                    "counseled_by",
                    "Name the pharmacist who counseled: a technician records the offer, "
                    "a pharmacist counsels.",
                )
        if counseled_by is not None:
            if counseled_by.site_id != actor.site_id or not _is_pharmacist(counseled_by):
                errors.add("counseled_by", "Counseling is given by a pharmacist of this pharmacy.")
            elif counseled_by.credential_problem():
                errors.add(
                    "counseled_by",
                    f"{counseled_by.display_name} has no current licence on file.",
                )
            else:
                counselor = counseled_by
        if not method_:
            errors.add("method", "Say how the patient was counseled.")
        if not chosen:
            errors.add("topics", "Tick at least one topic discussed.")
    elif outcome_ == CounselingOutcome.DECLINED:
        if counseled_by is not None:
            errors.add("counseled_by", "A declined offer has no counselor.")
        if chosen:
            errors.add("topics", "A declined offer has no topics.")
        if method_ or mins:
            errors.add("method", "A declined offer has no method or minutes.")
    errors.raise_any()
    with transaction.atomic():
        now = timezone.now()
        row = CounselingRecord.objects.create(
            site_id=actor.site_id,
            patient=patient,
            prescription=rx,
            fill=the_fill,
            pickup_id=pickup_id,
            offered_by=actor,
            offered_at=now,
            outcome=outcome_,
            counseled_by=counselor,
            counseled_at=now if counselor is not None else None,
            method=method_,
            topics=chosen,
            minutes=mins,
            interpreter=interp,
            note=words,
        )
        audit_record(
            actor=actor,
            action="care.counseling.recorded",
            obj=row,
            patient_id=patient.pk,
            data={
                "outcome": outcome_,
                "counseled_by": counselor.username if counselor else "",
                "method": method_,
                "topics": chosen,
                "minutes": mins,
                "prescription": row.prescription_id,
                "fill": row.fill_id,
                "pickup": pickup_id,
                "interpreter": bool(interp),
            },
        )
    return row


# --- Interventions ----------------------------------------------------------------------------


def _code(value: Any, table: dict[str, str], field: str, what: str, errors: _Errors) -> str:
    code = str(value or "").strip().upper()
    if code not in table:
        errors.add(field, f"Choose the {what} (NCPDP code, e.g. {next(iter(table.keys()))}).")
        return ""
    return code


def _outcome_code(value: Any, errors: _Errors, field: str = "outcome") -> str:
    code = str(value or "").strip().upper()
    if not code:
        return ""
    code = _code(code, RESULT_OF_SERVICE, field, "result of service", errors)
    if code == NO_RESULT:
        errors.add(field, "Say what came of it (00 is 'not specified').")
        return ""
    return code


def intervention_record(
    *,
    actor: User | None,
    patient: Patient,
    problem: str,
    problem_detail: str,
    action: str,
    action_detail: str = "",
    prescription: Prescription | None = None,
    fill: Fill | None = None,
    prescriber: Prescriber | None = None,
    prescriber_contacted_at: dt.datetime | None = None,
    outcome: str = "",
    outcome_detail: str = "",
    minutes: int = 0,
) -> Intervention:
    """Record a pharmacist's intervention. With an outcome it is closed at once; without,
    it waits in the open list (e.g. for the prescriber's call back)."""
    authorize(actor, Cap.CARE_INTERVENE)
    actor = _signed_in(actor)
    patient = _patient(actor, patient)
    errors = _Errors()
    problem_ = str(problem or "").strip().upper()
    if problem_ not in InterventionProblem.values:
        errors.add("problem", "Choose the problem found.")
    detail = _text(problem_detail, DETAIL_MAX, "problem_detail", errors, multiline=True)
    if not detail:
        errors.add("problem_detail", "Describe the problem.")
    action_ = _code(action, PROFESSIONAL_SERVICE, "action", "action taken", errors)
    if action_ == NO_SERVICE:
        errors.add("action", "Say what you did (00 is 'no intervention').")
    a_detail = _text(action_detail, DETAIL_MAX, "action_detail", errors, multiline=True)
    outcome_ = _outcome_code(outcome, errors)
    o_detail = _text(outcome_detail, DETAIL_MAX, "outcome_detail", errors, multiline=True)
    if o_detail and not outcome_ and not any(e["field"] == "outcome" for e in errors.items):
        errors.add("outcome", "Choose the outcome the detail describes.")
    mins = _minutes(minutes, "minutes", errors, required=True)
    rx, the_fill = _rx_fill(actor, patient, prescription, fill, errors)
    now = timezone.now()
    if prescriber is not None and prescriber.site_id != actor.site_id:
        errors.add("prescriber", "No such prescriber at this pharmacy.")
        prescriber = None
    if prescriber_contacted_at is not None:
        if timezone.is_naive(prescriber_contacted_at):
            errors.add("prescriber_contacted_at", "Give the time with its time zone.")
        elif prescriber_contacted_at > now + dt.timedelta(minutes=5):
            errors.add("prescriber_contacted_at", "The contact cannot be in the future.")
        elif prescriber is None and action_ not in PRESCRIBER_SERVICES:
            errors.add("prescriber", "Name the prescriber contacted.")
    if action_ in PRESCRIBER_SERVICES:
        if prescriber is None:
            errors.add("prescriber", "A prescriber consult names the prescriber.")
        if prescriber_contacted_at is None:
            errors.add("prescriber_contacted_at", "When was the prescriber contacted?")
    errors.raise_any()
    with transaction.atomic():
        closed = bool(outcome_)
        row = Intervention.objects.create(
            site_id=actor.site_id,
            patient=patient,
            prescription=rx,
            fill=the_fill,
            problem=problem_,
            problem_detail=detail,
            action=action_,
            action_detail=a_detail,
            prescriber=prescriber,
            prescriber_contacted_at=prescriber_contacted_at,
            outcome=outcome_,
            outcome_detail=o_detail,
            minutes=mins or 0,
            status=InterventionStatus.CLOSED if closed else InterventionStatus.OPEN,
            recorded_by=actor,
            recorded_at=now,
            closed_by=actor if closed else None,
            closed_at=now if closed else None,
        )
        audit_record(
            actor=actor,
            action="care.intervention.recorded",
            obj=row,
            patient_id=patient.pk,
            data={
                "problem": problem_,
                "action": action_,
                "outcome": outcome_,
                "status": row.status,
                "minutes": row.minutes,
                "prescriber": row.prescriber_id,
                "prescription": row.prescription_id,
                "fill": row.fill_id,
            },
        )
    return row


def intervention_close(
    *,
    actor: User | None,
    intervention: Intervention,
    outcome: str,
    outcome_detail: str = "",
    minutes: int | None = None,
) -> Intervention:
    """Close an open intervention with its outcome; ``minutes`` (if given) is the total
    time spent, replacing what was recorded."""
    authorize(actor, Cap.CARE_INTERVENE)
    actor = _signed_in(actor)
    current = Intervention.objects.filter(pk=intervention.pk, site_id=actor.site_id).first()
    if current is None:
        raise NotFound("No such intervention at this pharmacy.")
    if current.status != InterventionStatus.OPEN:
        raise Conflict("This intervention is already closed.", field="status")
    errors = _Errors()
    outcome_ = _outcome_code(outcome, errors)
    if not outcome_ and not errors.items:
        errors.add("outcome", "Choose the outcome.")
    detail = _text(outcome_detail, DETAIL_MAX, "outcome_detail", errors, multiline=True)
    mins = _minutes(minutes, "minutes", errors, required=False)
    errors.raise_any()
    with transaction.atomic():
        now = timezone.now()
        values: dict[str, Any] = {
            "status": InterventionStatus.CLOSED,
            "outcome": outcome_,
            "outcome_detail": detail,
            "closed_by": actor,
            "closed_at": now,
        }
        if mins is not None:
            values["minutes"] = mins
        changed = Intervention.objects.filter(pk=current.pk, status=InterventionStatus.OPEN).update(
            **values
        )
        if changed != 1:
            raise Conflict("This intervention was closed meanwhile.", field="status")
        before_minutes = current.minutes
        current.refresh_from_db()
        audit_record(
            actor=actor,
            action="care.intervention.closed",
            obj=current,
            patient_id=current.patient_id,
            data={
                "before": {"status": InterventionStatus.OPEN, "minutes": before_minutes},
                "after": {
                    "status": InterventionStatus.CLOSED,
                    "outcome": outcome_,
                    "minutes": current.minutes,
                },
            },
        )
    return current


def intervention_opened(*, actor: User | None, intervention: Intervention, view: str) -> None:
    """Record that an intervention (a patient's clinical record) was opened."""
    authorize(actor, Cap.CARE_VIEW)
    actor = _signed_in(actor)
    if intervention.site_id != actor.site_id:
        raise NotFound("No such intervention at this pharmacy.")
    with transaction.atomic():
        audit_record(
            actor=actor,
            action="care.intervention.viewed",
            obj=intervention,
            patient_id=intervention.patient_id,
            data={"view": view[:20]},
        )


__all__ = [
    "PRESCRIBER_SERVICES",
    "counseling_record",
    "intervention_close",
    "intervention_opened",
    "intervention_record",
]
