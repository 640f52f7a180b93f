"""API of inquiries: calls and messages with prescribers and patients, callbacks,
escalation (mounted at /api/v1/care). Parse, call rxdesk.care services_inquiries /
queries_inquiries, serialize.

Inquiries name patients: reading them needs care.view and patient.view; logging and
working them care.inquiry; answering an escalation care.intervene (a pharmacist). Each
capability is checked before the body is read, and again by the services. Another
pharmacy's inquiry does not exist here (404); an id in a body that is not this pharmacy's
is a 422 naming the field. Opening one inquiry that names a patient is a PHI access."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from django.http import HttpRequest
from django.utils import timezone
from ninja import Field, Query, Router, Schema, Status

from rxdesk.care import queries_inquiries as queries
from rxdesk.care import services_inquiries as services
from rxdesk.care.choices import InquiryChannel, InquiryParty, InquiryTopic
from rxdesk.care.models import Inquiry
from rxdesk.core.capabilities import Cap
from rxdesk.core.errors import Invalid
from rxdesk.core.models import Site, User
from rxdesk.institutional.api_common import StrictIn, gate, user_of
from rxdesk.patients.models import Patient, Prescriber
from rxdesk.rx.models import Prescription

router = Router(tags=["care: inquiries"])

MAX_ID = 2**63 - 1
READ = (Cap.CARE_VIEW, Cap.PATIENT_VIEW)


# --- Input ------------------------------------------------------------------------------------


class InquiryIn(StrictIn):
    channel: InquiryChannel
    incoming: bool = Field(..., description="true: they contacted us; false: we contacted them")
    party: InquiryParty
    topic: InquiryTopic
    summary: str = Field(..., min_length=1, max_length=services.SUMMARY_MAX)
    patient_id: int | None = Field(None, ge=1, le=MAX_ID)
    prescriber_id: int | None = Field(None, ge=1, le=MAX_ID)
    prescription_id: int | None = Field(None, ge=1, le=MAX_ID)
    contact_name: str = Field("", max_length=services.NAME_MAX)
    contact_phone: str = Field("", max_length=20, description="10 digits with the area code")
    callback_due: dt.datetime | None = Field(
        None,
        description="With its offset; default for an incoming inquiry: the site's callback hours",
    )


class EntryIn(StrictIn):
    kind: Literal["note", "call_out", "call_in"]
    text: str = Field(..., min_length=1, max_length=services.TEXT_MAX)


class CallbackIn(StrictIn):
    due: dt.datetime = Field(..., description="With its time-zone offset; in the future")


class EscalateIn(StrictIn):
    reason: str = Field(..., min_length=1, max_length=services.TEXT_MAX)
    pharmacist_id: int | None = Field(
        None, ge=1, le=MAX_ID, description="A pharmacist of this pharmacy; none: any pharmacist"
    )


class AnswerIn(StrictIn):
    text: str = Field(..., min_length=1, max_length=services.TEXT_MAX)


class InquiriesCloseIn(StrictIn):
    resolution: str = Field(..., min_length=1, max_length=services.TEXT_MAX)


class ReopenIn(StrictIn):
    reason: str = Field(..., min_length=1, max_length=services.TEXT_MAX)


class InquiryQuery(Schema):
    status: Literal["open", "awaiting", "escalated", "closed"] | None = Field(
        None, description="Default: every inquiry not closed"
    )
    overdue: bool | None = Field(None, description="true: only overdue callbacks")
    patient_id: int | None = Field(None, ge=1, le=MAX_ID)
    limit: int = Field(100, ge=1, le=queries.LIST_LIMIT)


# --- Output -----------------------------------------------------------------------------------


class EntryOut(Schema):
    id: int
    kind: str
    kind_label: str
    text: str
    by: str
    at: dt.datetime


class InquirySummaryOut(Schema):
    id: int
    status: str
    status_label: str
    channel: str
    incoming: bool
    party: str
    topic: str
    topic_label: str
    patient_id: int | None
    patient_name: str
    prescriber_id: int | None
    prescriber_name: str
    prescription_id: int | None
    rx_number: int | None
    contact_name: str
    contact_phone: str
    callback_due: dt.datetime | None
    overdue: bool
    due_words: str
    escalated_to_id: int | None
    escalated_to: str
    opened_at: dt.datetime
    opened_by: str


class InquiryOut(InquirySummaryOut):
    summary: str
    resolution: str
    closed_at: dt.datetime | None
    closed_by: str
    needs_pharmacist_to_close: bool
    entries: list[EntryOut]


def _summary(row: Inquiry, now: dt.datetime) -> dict[str, Any]:
    return {
        "id": row.pk,
        "status": row.status,
        "status_label": row.get_status_display(),
        "channel": row.channel,
        "incoming": row.incoming,
        "party": row.party,
        "topic": row.topic,
        "topic_label": row.get_topic_display(),
        "patient_id": row.patient_id,
        "patient_name": row.patient.full_name if row.patient else "",
        "prescriber_id": row.prescriber_id,
        "prescriber_name": row.prescriber.full_name if row.prescriber else "",
        "prescription_id": row.prescription_id,
        "rx_number": row.prescription.number if row.prescription else None,
        "contact_name": row.contact_name,
        "contact_phone": row.contact_phone,
        "callback_due": row.callback_due,
        "overdue": queries.is_overdue(row, now),
        "due_words": queries.due_words(row.callback_due, now) if row.status != "closed" else "",
        "escalated_to_id": row.escalated_to_id,
        "escalated_to": row.escalated_to.display_name if row.escalated_to else "",
        "opened_at": row.opened_at,
        "opened_by": row.opened_by.display_name,
    }


def _detail(actor: User, inquiry: Inquiry) -> dict[str, Any]:
    row = queries.inquiry_get(actor=actor, inquiry_id=inquiry.pk)
    return {
        **_summary(row, timezone.now()),
        "summary": row.summary,
        "resolution": row.resolution,
        "closed_at": row.closed_at,
        "closed_by": row.closed_by.display_name if row.closed_by else "",
        "needs_pharmacist_to_close": services.needs_pharmacist_to_close(row),
        "entries": [
            {
                "id": e.pk,
                "kind": e.kind,
                "kind_label": e.get_kind_display(),
                "text": e.text,
                "by": e.by.display_name,
                "at": e.at,
            }
            for e in queries.entries_of(row)
        ],
    }


def _one(model: Any, site: Site, pk: int | None, field: str, what: str) -> Any:
    if pk is None:
        return None
    found = model._default_manager.filter(pk=pk, site_id=site.pk).first()
    if found is None:
        raise Invalid(f"No such {what} at this pharmacy.", field=field)
    return found


def _pharmacist(site: Site, pk: int | None) -> User | None:
    if pk is None:
        return None
    found = User.objects.filter(pk=pk, site_id=site.pk).first()
    if found is None:
        raise Invalid("No such pharmacist at this pharmacy.", field="pharmacist_id")
    return found


# --- Routes -----------------------------------------------------------------------------------


@router.get(
    "/inquiries",
    response=list[InquirySummaryOut],
    auth=gate(*READ),
    summary="Inquiries (default: all not closed), newest first",
)
def inquiries_list(request: HttpRequest, q: Query[InquiryQuery]) -> Any:
    now = timezone.now()
    rows = queries.inquiries_list(
        actor=user_of(request),
        status=q.status,
        overdue=q.overdue,
        patient_id=q.patient_id,
        now=now,
        limit=q.limit,
    )
    return [_summary(r, now) for r in rows]


@router.post(
    "/inquiries",
    response={201: InquiryOut},
    auth=gate(Cap.CARE_INQUIRY),
    summary="Log a call or message (an incoming one waits for a call back)",
)
def inquiry_open(request: HttpRequest, payload: InquiryIn) -> Any:
    actor = user_of(request)
    site = actor.site
    data = payload.model_dump()
    inquiry = services.inquiry_open(
        actor=actor,
        channel=data["channel"],
        incoming=data["incoming"],
        party=data["party"],
        topic=data["topic"],
        summary=data["summary"],
        patient=_one(Patient, site, data["patient_id"], "patient_id", "patient"),
        prescriber=_one(Prescriber, site, data["prescriber_id"], "prescriber_id", "prescriber"),
        prescription=_one(
            Prescription, site, data["prescription_id"], "prescription_id", "prescription"
        ),
        contact_name=data["contact_name"],
        contact_phone=data["contact_phone"],
        callback_due=data["callback_due"],
    )
    return Status(201, _detail(actor, inquiry))


@router.get(
    "/inquiries/{int:inquiry_id}",
    response=InquiryOut,
    auth=gate(*READ),
    summary="One inquiry with its log (a PHI access when it names a patient)",
)
def inquiry_detail(request: HttpRequest, inquiry_id: int) -> Any:
    actor = user_of(request)
    inquiry = queries.inquiry_get(actor=actor, inquiry_id=inquiry_id)
    services.inquiry_viewed(actor=actor, inquiry=inquiry)
    return _detail(actor, inquiry)


@router.post(
    "/inquiries/{int:inquiry_id}/entries",
    response={201: EntryOut},
    auth=gate(Cap.CARE_INQUIRY),
    summary="Add a note, a call made or a call received",
)
def inquiry_note(request: HttpRequest, inquiry_id: int, payload: EntryIn) -> Any:
    actor = user_of(request)
    inquiry = queries.inquiry_get(actor=actor, inquiry_id=inquiry_id)
    e = services.inquiry_note(actor=actor, inquiry=inquiry, kind=payload.kind, text=payload.text)
    return Status(
        201,
        {
            "id": e.pk,
            "kind": e.kind,
            "kind_label": e.get_kind_display(),
            "text": e.text,
            "by": actor.display_name,
            "at": e.at,
        },
    )


@router.post(
    "/inquiries/{int:inquiry_id}/callback",
    response=InquiryOut,
    auth=gate(Cap.CARE_INQUIRY),
    summary="Schedule a call back",
)
def inquiry_callback(request: HttpRequest, inquiry_id: int, payload: CallbackIn) -> Any:
    actor = user_of(request)
    inquiry = queries.inquiry_get(actor=actor, inquiry_id=inquiry_id)
    services.inquiry_callback(actor=actor, inquiry=inquiry, due=payload.due)
    return _detail(actor, inquiry)


@router.post(
    "/inquiries/{int:inquiry_id}/escalate",
    response=InquiryOut,
    auth=gate(Cap.CARE_INQUIRY),
    summary="Escalate to a named pharmacist or to any pharmacist",
)
def inquiry_escalate(request: HttpRequest, inquiry_id: int, payload: EscalateIn) -> Any:
    actor = user_of(request)
    inquiry = queries.inquiry_get(actor=actor, inquiry_id=inquiry_id)
    services.inquiry_escalate(
        actor=actor,
        inquiry=inquiry,
        reason=payload.reason,
        pharmacist=_pharmacist(actor.site, payload.pharmacist_id),
    )
    return _detail(actor, inquiry)


@router.post(
    "/inquiries/{int:inquiry_id}/answer",
    response=InquiryOut,
    auth=gate(Cap.CARE_INTERVENE),
    summary="The pharmacist's answer",
)
def inquiry_answer(request: HttpRequest, inquiry_id: int, payload: AnswerIn) -> Any:
    actor = user_of(request)
    inquiry = queries.inquiry_get(actor=actor, inquiry_id=inquiry_id)
    services.inquiry_answer(actor=actor, inquiry=inquiry, text=payload.text)
    return _detail(actor, inquiry)


@router.post(
    "/inquiries/{int:inquiry_id}/close",
    response=InquiryOut,
    auth=gate(Cap.CARE_INQUIRY),
    summary="Close with the resolution (a prescriber's order change: a pharmacist only)",
)
def inquiry_close(request: HttpRequest, inquiry_id: int, payload: InquiriesCloseIn) -> Any:
    actor = user_of(request)
    inquiry = queries.inquiry_get(actor=actor, inquiry_id=inquiry_id)
    services.inquiry_close(actor=actor, inquiry=inquiry, resolution=payload.resolution)
    return _detail(actor, inquiry)


@router.post(
    "/inquiries/{int:inquiry_id}/reopen",
    response=InquiryOut,
    auth=gate(Cap.CARE_INQUIRY),
    summary="Reopen a closed inquiry",
)
def inquiry_reopen(request: HttpRequest, inquiry_id: int, payload: ReopenIn) -> Any:
    actor = user_of(request)
    inquiry = queries.inquiry_get(actor=actor, inquiry_id=inquiry_id)
    services.inquiry_reopen(actor=actor, inquiry=inquiry, reason=payload.reason)
    return _detail(actor, inquiry)
