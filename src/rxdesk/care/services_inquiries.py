"""Services of inquiries: calls and messages with prescribers and patients, callbacks,
escalation.

An inquiry is a conversation with its log: every call, note, callback, escalation, answer,
closing and reopening is an :class:`InquiryEntry`, written once and never edited.

    open ─ callback ─▶ awaiting (a call back is owed, due at callback_due)
      │  ◀─ a call made or received ─┘
      ├─ escalate ─▶ escalated (to a named pharmacist, or to any) ─ answer ─▶ open
      └─ close ─▶ closed ─ reopen ─▶ open

An incoming inquiry is owed a call back: it opens "awaiting" with a due time (by default
the site's callback hours from now). A technician may not take a new or changed order
(a clarification, a dose change, a therapeutic substitution from a prescriber): only a
pharmacist closes those, and only a pharmacist answers an escalation."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from rxdesk.care.choices import (
    InquiryChannel,
    InquiryEntryKind,
    InquiryParty,
    InquiryStatus,
    InquiryTopic,
)
from rxdesk.care.common import settings_of
from rxdesk.care.models import Inquiry, InquiryEntry
from rxdesk.core.audit import audit_record, register_actions
from rxdesk.core.capabilities import Cap, has
from rxdesk.core.choices import PHARMACIST_ROLES
from rxdesk.core.errors import Conflict, Forbidden, Invalid, NotFound
from rxdesk.core.models import Site, User
from rxdesk.core.services import authorize
from rxdesk.core.validators import normalize_phone, validate_phone
from rxdesk.patients.models import Patient, Prescriber
from rxdesk.rx.models import Prescription

register_actions(
    {
        "care.inquiry.opened": "Inquiry (call or message) logged",
        "care.inquiry.noted": "Call or note added to an inquiry",
        "care.inquiry.callback_set": "Inquiry callback scheduled",
        "care.inquiry.escalated": "Inquiry escalated to the pharmacist",
        "care.inquiry.answered": "Pharmacist answered an inquiry",
        "care.inquiry.closed": "Inquiry closed",
        "care.inquiry.reopened": "Inquiry reopened",
        "care.inquiry.viewed": "Inquiry naming a patient opened (PHI)",
    }
)

# Topics that are a new or changed order when a prescriber's office sends them.
CLINICAL_TOPICS = frozenset(
    {InquiryTopic.CLARIFICATION, InquiryTopic.DOSE_CHANGE, InquiryTopic.SUBSTITUTION}
)
PATIENT_PARTIES = frozenset({InquiryParty.PATIENT, InquiryParty.CAREGIVER})
NOTE_KINDS = (InquiryEntryKind.NOTE, InquiryEntryKind.CALL_OUT, InquiryEntryKind.CALL_IN)
CALLS = frozenset({InquiryEntryKind.CALL_OUT, InquiryEntryKind.CALL_IN})
SUMMARY_MAX, TEXT_MAX, NAME_MAX = 2000, 2000, 120
# A callback is due within a month; further is a typing error (a year typed wrong).
CALLBACK_LIMIT = dt.timedelta(days=31)


# --- Helpers ----------------------------------------------------------------------------------


def _signed_in(actor: User | None) -> User:
    if actor is None:
        raise Forbidden("Sign in: an inquiry's log names who wrote each entry.")
    return actor


def _text(value: Any, *, field: str, limit: int, required: bool = False, what: str = "") -> str:
    text = str(value if value is not None else "").strip()
    if required and not text:
        raise Invalid(f"Enter {what or field.replace('_', ' ')}.", field=field)
    if len(text) > limit:
        raise Invalid(f"Keep it to {limit} characters.", field=field)
    return text


def _choice(value: Any, choices: Any, *, field: str, what: str) -> str:
    text = str(value or "")
    if text not in choices.values:
        raise Invalid(f"Choose {what}.", field=field)
    return text


def _local(site: Site, when: dt.datetime) -> str:
    return f"{when.astimezone(site.tz):%m/%d/%Y %H:%M}"


def _due(site: Site, value: Any, *, field: str) -> dt.datetime:
    if not isinstance(value, dt.datetime):
        raise Invalid("Give the date and time the call back is due.", field=field)
    if value.tzinfo is None or value.utcoffset() is None:
        raise Invalid("Give the time with its time-zone offset.", field=field)
    now = timezone.now()
    if value <= now:
        raise Invalid(
            f"{_local(site, value)} has passed: a callback is due in the future.", field=field
        )
    if value > now + CALLBACK_LIMIT:
        raise Invalid("Schedule a callback within a month.", field=field)
    return value


def _inquiry_of(site: Site, inquiry: Inquiry) -> Inquiry:
    found = (
        Inquiry.objects.select_for_update()
        .filter(pk=getattr(inquiry, "pk", 0) or 0, site=site)
        .first()
    )
    if found is None:
        raise NotFound("No such inquiry at this pharmacy.", field="inquiry")
    return found


def _open(inquiry: Inquiry) -> None:
    if inquiry.status == InquiryStatus.CLOSED:
        raise Conflict("That inquiry is closed: reopen it to add to its log.", field="inquiry")


def _entry(inquiry: Inquiry, kind: str, text: str, actor: User, at: dt.datetime) -> InquiryEntry:
    return InquiryEntry.objects.create(inquiry=inquiry, kind=kind, text=text, by=actor, at=at)


def _pharmacist_of(site: Site, pharmacist: User | None) -> User | None:
    if pharmacist is None:
        return None
    if getattr(pharmacist, "site_id", None) != site.pk or not pharmacist.is_active:
        raise Invalid("Choose a pharmacist of this pharmacy.", field="pharmacist")
    if pharmacist.role not in PHARMACIST_ROLES:
        raise Invalid(f"{pharmacist.display_name} is not a pharmacist.", field="pharmacist")
    problem = pharmacist.credential_problem()
    if problem:
        raise Invalid(f"{pharmacist.display_name}: {problem}", field="pharmacist")
    return pharmacist


def _audit(actor: User, action: str, inquiry: Inquiry, **data: Any) -> None:
    audit_record(
        actor=actor,
        action=action,
        obj=inquiry,
        patient_id=inquiry.patient_id,
        data={"status": inquiry.status, **data},
    )


# --- Opening ----------------------------------------------------------------------------------


def inquiry_open(
    *,
    actor: User | None,
    channel: str,
    incoming: bool,
    party: str,
    topic: str,
    summary: str,
    patient: Patient | None = None,
    prescriber: Prescriber | None = None,
    prescription: Prescription | None = None,
    contact_name: str = "",
    contact_phone: str = "",
    callback_due: dt.datetime | None = None,
) -> Inquiry:
    """Log a call or message. A prescriber's office inquiry names the prescriber or a
    contact; a patient's (or caregiver's) names the patient. A prescription given must be
    this pharmacy's and the patient's (its patient and prescriber fill in when not given).
    An incoming inquiry, or one given a callback time, waits for a call back: due at
    ``callback_due`` (in the future) or the site's callback hours from now. The first
    entry of the log is written with it."""
    authorize(actor, Cap.CARE_INQUIRY)
    actor = _signed_in(actor)
    site = actor.site
    now = timezone.now()
    channel = _choice(channel, InquiryChannel, field="channel", what="how it came in")
    party = _choice(party, InquiryParty, field="party", what="who it is with")
    topic = _choice(topic, InquiryTopic, field="topic", what="what it is about")
    if not isinstance(incoming, bool):
        raise Invalid("Say whether it came in or went out.", field="incoming")
    text = _text(summary, field="summary", limit=SUMMARY_MAX, required=True, what="what was said")
    name = _text(contact_name, field="contact_name", limit=NAME_MAX)
    phone = normalize_phone(str(contact_phone or ""))
    if phone:
        try:
            validate_phone(phone)
        except ValidationError as exc:
            raise Invalid(exc.messages[0], field="contact_phone") from None
    elif str(contact_phone or "").strip():
        raise Invalid("A phone number is 10 digits with the area code.", field="contact_phone")
    if patient is not None and getattr(patient, "site_id", None) != site.pk:
        raise Invalid("No such patient at this pharmacy.", field="patient")
    if prescriber is not None and getattr(prescriber, "site_id", None) != site.pk:
        raise Invalid("No such prescriber at this pharmacy.", field="prescriber")
    if prescription is not None:
        if getattr(prescription, "site_id", None) != site.pk:
            raise Invalid("No such prescription at this pharmacy.", field="prescription")
        if patient is not None and prescription.patient_id != patient.pk:
            raise Invalid(
                f"Rx {prescription.number} is not {patient.full_name}'s.", field="prescription"
            )
        patient = patient or prescription.patient
        if prescriber is None and party == InquiryParty.PRESCRIBER:
            prescriber = prescription.prescriber
    if party == InquiryParty.PRESCRIBER and prescriber is None and not name:
        raise Invalid("Name the prescriber, or the person at the office.", field="prescriber")
    if party in PATIENT_PARTIES and patient is None:
        raise Invalid("Choose the patient it is about.", field="patient")
    if party == InquiryParty.CAREGIVER and not name:
        raise Invalid("Give the caregiver's name.", field="contact_name")
    due: dt.datetime | None = None
    if callback_due is not None:
        due = _due(site, callback_due, field="callback_due")
    elif incoming:
        due = now + dt.timedelta(hours=settings_of(site).callback_hours)
    status = InquiryStatus.AWAITING if due is not None else InquiryStatus.OPEN
    with transaction.atomic():
        inquiry = Inquiry.objects.create(
            site=site,
            channel=channel,
            incoming=incoming,
            party=party,
            topic=topic,
            patient=patient,
            prescriber=prescriber,
            prescription=prescription,
            contact_name=name,
            contact_phone=phone,
            summary=text,
            status=status,
            callback_due=due,
            opened_by=actor,
            opened_at=now,
        )
        if channel == InquiryChannel.PHONE:
            kind = InquiryEntryKind.CALL_IN if incoming else InquiryEntryKind.CALL_OUT
        else:
            kind = InquiryEntryKind.NOTE
        _entry(inquiry, kind, text, actor, now)
        _audit(
            actor,
            "care.inquiry.opened",
            inquiry,
            channel=channel,
            party=party,
            topic=topic,
            incoming=incoming,
            prescriber_id=inquiry.prescriber_id,
            prescription_id=inquiry.prescription_id,
            callback_due=due.isoformat() if due else None,
        )
    return inquiry


# --- The log ----------------------------------------------------------------------------------


def inquiry_note(*, actor: User | None, inquiry: Inquiry, kind: str, text: str) -> InquiryEntry:
    """Add a note, a call made or a call received. A call made or received settles the
    callback that was owed (schedule another if one is still needed)."""
    authorize(actor, Cap.CARE_INQUIRY)
    actor = _signed_in(actor)
    if kind not in NOTE_KINDS:
        raise Invalid("Choose a note, a call made or a call received.", field="kind")
    body = _text(text, field="text", limit=TEXT_MAX, required=True, what="what was said")
    with transaction.atomic():
        row = _inquiry_of(actor.site, inquiry)
        _open(row)
        now = timezone.now()
        entry = _entry(row, kind, body, actor, now)
        settled = kind in CALLS and row.status == InquiryStatus.AWAITING
        if settled:
            row.status = InquiryStatus.OPEN
            row.callback_due = None
            row.save(update_fields=["status", "callback_due"])
        _audit(
            actor, "care.inquiry.noted", row, kind=kind, entry_id=entry.pk, callback_settled=settled
        )
    return entry


def inquiry_callback(*, actor: User | None, inquiry: Inquiry, due: dt.datetime) -> Inquiry:
    """Schedule a call back at ``due`` (in the future). An escalated inquiry stays with the
    pharmacist; any other waits for the call back."""
    authorize(actor, Cap.CARE_INQUIRY)
    actor = _signed_in(actor)
    site = actor.site
    when = _due(site, due, field="due")
    with transaction.atomic():
        row = _inquiry_of(site, inquiry)
        _open(row)
        before = row.callback_due
        row.callback_due = when
        if row.status != InquiryStatus.ESCALATED:
            row.status = InquiryStatus.AWAITING
        row.save(update_fields=["callback_due", "status"])
        _entry(
            row,
            InquiryEntryKind.CALLBACK,
            f"Call back by {_local(site, when)}",
            actor,
            timezone.now(),
        )
        _audit(
            actor,
            "care.inquiry.callback_set",
            row,
            callback_due=[before.isoformat() if before else None, when.isoformat()],
        )
    return row


def inquiry_escalate(
    *, actor: User | None, inquiry: Inquiry, reason: str, pharmacist: User | None = None
) -> Inquiry:
    """Hand the inquiry to a pharmacist: a named current pharmacist of this pharmacy, or
    any pharmacist on duty (``pharmacist=None``)."""
    authorize(actor, Cap.CARE_INQUIRY)
    actor = _signed_in(actor)
    site = actor.site
    why = _text(
        reason, field="reason", limit=TEXT_MAX, required=True, what="why it goes to the pharmacist"
    )
    to = _pharmacist_of(site, pharmacist)
    with transaction.atomic():
        row = _inquiry_of(site, inquiry)
        _open(row)
        now = timezone.now()
        row.status = InquiryStatus.ESCALATED
        row.escalated_to = to
        row.escalated_at = now
        row.save(update_fields=["status", "escalated_to", "escalated_at"])
        _entry(row, InquiryEntryKind.ESCALATED, why, actor, now)
        _audit(actor, "care.inquiry.escalated", row, escalated_to=to.pk if to else None)
    return row


def inquiry_answer(*, actor: User | None, inquiry: Inquiry, text: str) -> InquiryEntry:
    """The pharmacist's answer. An escalated inquiry goes back to open (someone relays the
    answer and closes it, or the pharmacist closes it)."""
    authorize(actor, Cap.CARE_INTERVENE)
    actor = _signed_in(actor)
    body = _text(text, field="text", limit=TEXT_MAX, required=True, what="the answer")
    with transaction.atomic():
        row = _inquiry_of(actor.site, inquiry)
        _open(row)
        entry = _entry(row, InquiryEntryKind.ANSWERED, body, actor, timezone.now())
        was = row.status
        if was == InquiryStatus.ESCALATED:
            row.status = InquiryStatus.AWAITING if row.callback_due else InquiryStatus.OPEN
            row.save(update_fields=["status"])
        _audit(actor, "care.inquiry.answered", row, entry_id=entry.pk, was=was)
    return entry


def needs_pharmacist_to_close(inquiry: Inquiry) -> bool:
    """A prescriber's clarification, dose change or substitution is a new or changed order."""
    return inquiry.party == InquiryParty.PRESCRIBER and inquiry.topic in CLINICAL_TOPICS


def inquiry_close(*, actor: User | None, inquiry: Inquiry, resolution: str) -> Inquiry:
    """Close the inquiry with its resolution. A prescriber's clarification, dose change or
    therapeutic substitution is closed only by a pharmacist; so is an escalated inquiry
    the pharmacist has not answered."""
    authorize(actor, Cap.CARE_INQUIRY)
    actor = _signed_in(actor)
    text = _text(
        resolution, field="resolution", limit=TEXT_MAX, required=True, what="how it was resolved"
    )
    pharmacist = has(actor, Cap.CARE_INTERVENE)
    with transaction.atomic():
        row = _inquiry_of(actor.site, inquiry)
        if row.status == InquiryStatus.CLOSED:
            raise Conflict("That inquiry is already closed.", field="inquiry")
        if needs_pharmacist_to_close(row) and not pharmacist:
            raise Forbidden(
                "A technician may not take a new or changed order from a prescriber: a "
                f"pharmacist closes a {row.get_topic_display().lower()}. Escalate it.",
                capability=str(Cap.CARE_INTERVENE),
            )
        if row.status == InquiryStatus.ESCALATED and not pharmacist:
            raise Conflict(
                "It is with the pharmacist: it closes once the pharmacist has answered.",
                field="inquiry",
            )
        now = timezone.now()
        was = row.status
        row.status = InquiryStatus.CLOSED
        row.resolution = text
        row.closed_by = actor
        row.closed_at = now
        row.save(update_fields=["status", "resolution", "closed_by", "closed_at"])
        _entry(row, InquiryEntryKind.CLOSED, text, actor, now)
        _audit(actor, "care.inquiry.closed", row, was=was)
    return row


def inquiry_reopen(*, actor: User | None, inquiry: Inquiry, reason: str) -> Inquiry:
    """Reopen a closed inquiry (the closing stays in its log)."""
    authorize(actor, Cap.CARE_INQUIRY)
    actor = _signed_in(actor)
    why = _text(reason, field="reason", limit=TEXT_MAX, required=True, what="why it is reopened")
    with transaction.atomic():
        row = _inquiry_of(actor.site, inquiry)
        if row.status != InquiryStatus.CLOSED:
            raise Conflict("That inquiry is not closed.", field="inquiry")
        row.status = InquiryStatus.OPEN
        row.resolution = ""
        row.closed_by = None
        row.closed_at = None
        row.callback_due = None
        row.save(update_fields=["status", "resolution", "closed_by", "closed_at", "callback_due"])
        _entry(row, InquiryEntryKind.REOPENED, why, actor, timezone.now())
        _audit(actor, "care.inquiry.reopened", row)
    return row


def inquiry_viewed(*, actor: User | None, inquiry: Inquiry) -> None:
    """Record that an inquiry naming a patient was opened (HIPAA access accounting)."""
    authorize(actor, Cap.CARE_VIEW)
    authorize(actor, Cap.PATIENT_VIEW)
    actor = _signed_in(actor)
    if inquiry is None or inquiry.site_id != actor.site_id:
        raise NotFound("No such inquiry at this pharmacy.", field="inquiry")
    if inquiry.patient_id is None:
        return
    with transaction.atomic():
        _audit(actor, "care.inquiry.viewed", inquiry)
