"""API of prior authorization cases: the PA queue, open a case, read and change one, keep
and read its documents. Parse, call a service or query, serialize.

The role is checked before ninja reads the body (claims.view to read, claims.bill to
write), so a role without it gets 403 whatever it sends; the services check again. Cases of
another pharmacy do not exist here (404)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.http import HttpRequest, HttpResponse
from ninja import Field, Query, Router, Schema, Status

from rxdesk.claims import queries_pa, services_pa
from rxdesk.claims.choices import PriorAuthStatus
from rxdesk.claims.models import MAX_DOCUMENT_BYTES, Claim, Plan, PriorAuth, PriorAuthDocument
from rxdesk.core.capabilities import Cap
from rxdesk.core.errors import Invalid, NotFound
from rxdesk.core.models import User
from rxdesk.rx.api_fills import BearerToken, BrowserSession
from rxdesk.rx.models import Prescription

router = Router(tags=["Prior authorization"])

MAX_ID = 2**63 - 1
DOCUMENT = {
    "responses": {
        200: {
            "description": "The document's bytes, in its own type",
            "content": {
                kind: {"schema": {"type": "string", "format": "binary"}}
                for kind in services_pa.ALLOWED_TYPES
            },
        }
    }
}


def _gate(*caps: Cap) -> list[Any]:
    return [BearerToken(*caps), BrowserSession(*caps)]


def _user(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]


class _In(Schema):
    model_config = {"extra": "forbid"}


# --- Schemas ----------------------------------------------------------------------------------


class PriorAuthOpenIn(_In):
    prescription_id: int = Field(..., ge=1, le=MAX_ID)
    plan_id: int = Field(..., ge=1, le=MAX_ID)
    claim_id: int | None = Field(
        None, ge=1, le=MAX_ID, description="The rejected claim (reject 75) that calls for it"
    )
    note: str = Field("", max_length=500)


class PriorAuthUpdateIn(_In):
    status: PriorAuthStatus | None = Field(
        None,
        description="needed → submitted → approved | denied; denied → appealed → approved | "
        "denied; needed, submitted or appealed → abandoned",
    )
    number: str | None = Field(
        None, max_length=20, description="The plan's PA number (1–11 letters or digits)"
    )
    approved_from: dt.date | None = None
    approved_to: dt.date | None = None
    denied_reason: str | None = Field(None, max_length=300)
    follow_up_on: dt.date | None = Field(None, description="Today or later")
    note: str = Field("", max_length=500)


class QueueQuery(Schema):
    include_closed: bool = Field(False, description="Also approved, denied and abandoned cases")


class PriorAuthOut(Schema):
    id: int
    status: str
    status_label: str
    prescription_id: int
    rx_number: int
    patient_id: int
    patient_name: str
    drug: str
    plan_id: int
    plan_name: str
    plan_bin: str
    help_desk_phone: str
    claim_id: int | None
    number: str = Field(..., description="The PA number (462-EV) once approved")
    approved_from: dt.date | None
    approved_to: dt.date | None
    denied_reason: str
    follow_up_on: dt.date | None
    follow_up: str = Field(..., description='"overdue", "due" (today) or ""')
    note: str
    opened_by: str
    opened_at: dt.datetime
    updated_at: dt.datetime
    closed_at: dt.datetime | None


class EventOut(Schema):
    status_from: str
    status_to: str
    note: str
    actor: str
    at: dt.datetime


class DocumentOut(Schema):
    id: int
    name: str
    content_type: str
    size: int
    sha256: str
    uploaded_by: str
    uploaded_at: dt.datetime


class PriorAuthDetailOut(PriorAuthOut):
    events: list[EventOut]
    documents: list[DocumentOut]


def _case(pa: PriorAuth, today: dt.date) -> dict[str, Any]:
    rx = pa.prescription
    return {
        "id": pa.pk,
        "status": pa.status,
        "status_label": pa.get_status_display(),
        "prescription_id": rx.pk,
        "rx_number": rx.number,
        "patient_id": rx.patient_id,
        "patient_name": rx.patient.full_name,
        "drug": rx.drug_description,
        "plan_id": pa.plan_id,
        "plan_name": pa.plan.name,
        "plan_bin": pa.plan.bin,
        "help_desk_phone": pa.plan.phone,
        "claim_id": pa.claim_id,
        "number": pa.number,
        "approved_from": pa.approved_from,
        "approved_to": pa.approved_to,
        "denied_reason": pa.denied_reason,
        "follow_up_on": pa.follow_up_on,
        "follow_up": queries_pa.follow_up(pa, today),
        "note": pa.note,
        "opened_by": pa.opened_by.display_name,
        "opened_at": pa.opened_at,
        "updated_at": pa.updated_at,
        "closed_at": pa.closed_at,
    }


def _document(d: PriorAuthDocument) -> dict[str, Any]:
    return {
        "id": d.pk,
        "name": d.name,
        "content_type": d.content_type,
        "size": d.size,
        "sha256": d.sha256,
        "uploaded_by": d.uploaded_by.display_name,
        "uploaded_at": d.uploaded_at,
    }


def _detail(actor: User, pa_id: int) -> dict[str, Any]:
    pa = queries_pa.pa_get(actor=actor, pa_id=pa_id)
    return {
        **_case(pa, actor.site.today()),
        "events": [
            {
                "status_from": e.status_from,
                "status_to": e.status_to,
                "note": e.note,
                "actor": e.actor.display_name,
                "at": e.at,
            }
            for e in queries_pa.pa_events(pa)
        ],
        "documents": [_document(d) for d in queries_pa.pa_documents(pa)],
    }


# --- Operations -------------------------------------------------------------------------------


@router.get(
    "/prior-auths",
    response=list[PriorAuthOut],
    auth=_gate(Cap.CLAIMS_VIEW),
    summary="The PA queue: open cases, follow-up due first",
)
def pa_list(request: HttpRequest, q: Query[QueueQuery]) -> Any:
    actor = _user(request)
    today = actor.site.today()
    return [
        _case(pa, today) for pa in queries_pa.pa_queue(actor=actor, include_closed=q.include_closed)
    ]


@router.post(
    "/prior-auths",
    response={201: PriorAuthDetailOut, 200: PriorAuthDetailOut},
    auth=_gate(Cap.CLAIMS_BILL),
    summary="Open a PA case for a prescription and plan",
    description="The prescription and plan's open case is returned as is (200) when there "
    "is one; a new case (201) starts as needed.",
)
def pa_create(request: HttpRequest, payload: PriorAuthOpenIn) -> Any:
    actor = _user(request)
    rx = Prescription.objects.filter(pk=payload.prescription_id, site_id=actor.site_id).first()
    if rx is None:
        raise NotFound("No such prescription at this pharmacy.", field="prescription_id")
    plan = Plan.objects.filter(pk=payload.plan_id).first()
    if plan is None:
        raise NotFound("No such plan.", field="plan_id")
    claim = None
    if payload.claim_id is not None:
        claim = Claim.objects.filter(pk=payload.claim_id, site_id=actor.site_id).first()
        if claim is None:
            raise NotFound("No such claim at this pharmacy.", field="claim_id")
    existing = queries_pa.pa_open_case(rx.pk, plan.pk)
    pa = services_pa.pa_open(
        actor=actor, prescription=rx, plan=plan, claim=claim, note=payload.note
    )
    body = _detail(actor, pa.pk)
    return body if existing is not None and existing.pk == pa.pk else Status(201, body)


@router.get(
    "/prior-auths/{int:pa_id}",
    response=PriorAuthDetailOut,
    auth=_gate(Cap.CLAIMS_VIEW),
    summary="A PA case with its history and documents",
)
def pa_read(request: HttpRequest, pa_id: int) -> Any:
    return _detail(_user(request), pa_id)


@router.patch(
    "/prior-auths/{int:pa_id}",
    response=PriorAuthDetailOut,
    auth=_gate(Cap.CLAIMS_BILL),
    summary="Move a PA case on (status) or change its details",
    description="Fields left out stay as they are. Approved needs number, approved_from and "
    "approved_to; denied needs denied_reason. 409 for a step the statuses do not allow.",
)
def pa_patch(request: HttpRequest, pa_id: int, payload: PriorAuthUpdateIn) -> Any:
    actor = _user(request)
    pa = queries_pa.pa_get(actor=actor, pa_id=pa_id)
    sent = payload.model_dump(exclude_unset=True)
    services_pa.pa_update(
        actor=actor,
        prior_auth=pa,
        status=sent.get("status"),
        number=sent.get("number"),
        approved_from=sent.get("approved_from"),
        approved_to=sent.get("approved_to"),
        denied_reason=sent.get("denied_reason"),
        follow_up_on=sent.get("follow_up_on"),
        note=sent.get("note") or "",
    )
    return _detail(actor, pa.pk)


@router.post(
    "/prior-auths/{int:pa_id}/documents",
    response={201: DocumentOut},
    auth=_gate(Cap.CLAIMS_BILL),
    summary="Keep a document with a PA case (PDF, PNG, JPEG or TIFF, at most 5 MiB)",
    description="multipart/form-data with the file in `file` and, optionally, `name` (the "
    "file's own name otherwise). The file's first bytes must match its type.",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "properties": {
                            "file": {"type": "string", "format": "binary"},
                            "name": {"type": "string", "maxLength": 120},
                        },
                        "required": ["file"],
                    }
                }
            },
        }
    },
)
def pa_document_upload(request: HttpRequest, pa_id: int) -> Any:
    # The file is read here rather than as a ninja File parameter, as the prescription
    # images are: the problem body then names the field in the pharmacy's words.
    actor = _user(request)
    pa = queries_pa.pa_get(actor=actor, pa_id=pa_id)
    upload = request.FILES.get("file")
    if upload is None:
        raise Invalid("Choose the file to upload (multipart form field 'file').", field="file")
    if upload.size is not None and upload.size > MAX_DOCUMENT_BYTES:
        raise Invalid("The file is larger than 5 MB.", field="file")
    document = services_pa.pa_document_add(
        actor=actor,
        prior_auth=pa,
        name=request.POST.get("name") or upload.name or "",
        content_type=upload.content_type or "",
        data=upload.read(MAX_DOCUMENT_BYTES + 1),
    )
    return Status(201, _document(document))


@router.get(
    "/prior-auths/{int:pa_id}/documents/{int:doc_id}",
    auth=_gate(Cap.CLAIMS_VIEW),
    summary="A PA document's bytes (the access is logged)",
    openapi_extra=DOCUMENT,
)
def pa_document_download(request: HttpRequest, pa_id: int, doc_id: int) -> HttpResponse:
    actor = _user(request)
    pa = queries_pa.pa_get(actor=actor, pa_id=pa_id)
    document = queries_pa.pa_document_get(actor=actor, prior_auth=pa, document_id=doc_id)
    return document_response(services_pa.pa_document_read(actor=actor, document=document))


def document_response(document: PriorAuthDocument) -> HttpResponse:
    """The document as a download: its own type, never sniffed, never cached."""
    response = HttpResponse(bytes(document.data), content_type=document.content_type)
    safe = "".join(ch if ch.isalnum() or ch in "._- " else "_" for ch in document.name)
    response["Content-Disposition"] = f'attachment; filename="{safe}"'
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response
