"""API of reporting to the state registry (IIS) (mounted at /api/v1/immunizations): the
VXU of a dose (text/plain, the contract), the message queue, one message with its errors
in words, retry, send now, batch files, the registry settings. Parse, call
rxdesk.immunizations.services_registry / queries_registry, serialize.

Reading the queue: imm.registry or imm.report (an auditor sees no patient names and no
message texts); sending, retrying and batches: imm.registry; settings: imm.setup to change,
imm.registry or imm.setup to read."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from ninja import Field, Query, Router, Schema, Status

from rxdesk.core.capabilities import Cap, has
from rxdesk.core.errors import Forbidden, NotFound
from rxdesk.immunizations import queries_registry as queries
from rxdesk.immunizations import services_registry as services
from rxdesk.immunizations import vxu
from rxdesk.immunizations.common import settings_of
from rxdesk.immunizations.models import Immunization, RegistryMessage
from rxdesk.institutional.api_common import StrictIn, gate, user_of

router = Router(tags=["immunizations: registry"])

MAX_ID = 2**63 - 1
TEXT_PLAIN = {
    "responses": {
        200: {
            "description": "The HL7 v2.5.1 VXU^V04, segments separated by carriage returns",
            "content": {"text/plain": {"schema": {"type": "string"}}},
        }
    }
}
HL7_FILE = {
    "responses": {
        200: {
            "description": "The batch file (FHS/BHS … BTS/FTS), segments separated by CR",
            "content": {"text/plain": {"schema": {"type": "string"}}},
        }
    }
}


def _text(body: str, filename: str) -> HttpResponse:
    response = HttpResponse(body, content_type="text/plain; charset=utf-8")
    response["Content-Disposition"] = f'inline; filename="{filename}"'
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response


# --- Schemas ----------------------------------------------------------------------------------


class MessagesQuery(Schema):
    status: str = Field("", description="A status, `open` (needs attention) or `all`")
    overdue: bool = Field(False, description="Only messages past the state's deadline")
    limit: int = Field(200, ge=1, le=queries.LIST_LIMIT)


class RegistryMessageOut(Schema):
    id: int
    control_id: str
    immunization_id: int
    action: str
    status: str
    status_label: str
    vaccine: str
    patient: str = Field(..., description="Named only for roles that may see patients")
    administered_at: dt.datetime
    attempts: int
    next_attempt_at: dt.datetime | None
    last_error: str
    ack_code: str
    due_at: dt.datetime | None
    overdue: bool
    batch_id: int | None
    created_at: dt.datetime


class ErrorOut(Schema):
    severity: str
    location: str
    code: str
    app_code: str
    text: str
    words: str


class MessageDetailOut(RegistryMessageOut):
    errors: list[ErrorOut]
    message: str = Field(..., description="The VXU (CR-separated); empty for roles without PHI")
    ack_text: str = Field(..., description="The registry's ACK; empty for roles without PHI")
    acked_at: dt.datetime | None


class RegistrySendIn(StrictIn):
    limit: int = Field(100, ge=1, le=1000)


class SendOut(Schema):
    transport: str
    sent: int
    accepted: int
    warnings: int
    rejected: int
    failed: int
    gave_up: int
    skipped: int
    waiting: int
    summary: str


class RegistryBatchOut(Schema):
    id: int
    control_id: str
    file_name: str
    message_count: int
    created_at: dt.datetime
    created_by: str


class RegistrySettingsOut(Schema):
    transport: str
    iis_host: str
    iis_port: int | None
    timeout_seconds: int
    sending_application: str
    sending_facility: str
    receiving_application: str
    receiving_facility: str
    processing_id: str
    reporting_deadline_hours: int
    retry_max_attempts: int
    retry_minutes: int
    technicians_administer: bool
    minimum_age_months: int
    technician_minimum_age_months: int
    updated_at: dt.datetime


class RegistrySettingsIn(StrictIn):
    transport: Literal["none", "mllp", "batch"] | None = None
    iis_host: str | None = Field(None, max_length=255)
    iis_port: int | None = Field(None, description="1–65535; send 0 to clear")
    timeout_seconds: int | None = None
    sending_application: str | None = Field(None, max_length=40)
    sending_facility: str | None = Field(None, max_length=40)
    receiving_application: str | None = Field(None, max_length=40)
    receiving_facility: str | None = Field(None, max_length=40)
    processing_id: Literal["P", "T", "D"] | None = None
    reporting_deadline_hours: int | None = None
    retry_max_attempts: int | None = None
    retry_minutes: int | None = None
    technicians_administer: bool | None = Field(
        None, description="The state lets trained, registered technicians vaccinate"
    )
    minimum_age_months: int | None = Field(None, description="Youngest patient (months)")
    technician_minimum_age_months: int | None = Field(
        None, description="Youngest patient a technician may vaccinate (months)"
    )


def _message(m: RegistryMessage, names: bool, now: dt.datetime) -> dict[str, Any]:
    imm = m.immunization
    return {
        "id": m.pk,
        "control_id": m.control_id,
        "immunization_id": imm.pk,
        "action": m.action,
        "status": m.status,
        "status_label": m.get_status_display(),
        "vaccine": str(imm.vaccine),
        "patient": (f"{imm.patient.last_name}, {imm.patient.first_name}" if names else ""),
        "administered_at": imm.administered_at,
        "attempts": m.attempts,
        "next_attempt_at": m.next_attempt_at,
        "last_error": m.last_error if names else _without_text(m.last_error),
        "ack_code": m.ack_code,
        "due_at": m.due_at,
        "overdue": queries.is_overdue(m, now),
        "batch_id": m.batch_id,
        "created_at": m.created_at,
    }


def _without_text(error: str) -> str:
    """An error's words without the registry's free text (it may quote the patient)."""
    return error.split(" — ", 1)[0]


def _settings(row: Any) -> dict[str, Any]:
    return {name: getattr(row, name) for name in RegistrySettingsOut.model_fields}


def _may_see_settings(actor: Any) -> None:
    if not (has(actor, Cap.IMM_REGISTRY) or has(actor, Cap.IMM_SETUP)):
        raise Forbidden("Your role may not see the registry settings.", capability="imm.registry")


# --- Operations -------------------------------------------------------------------------------


@router.get(
    "/{int:immunization_id}/vxu",
    auth=gate(Cap.IMM_VIEW, Cap.PATIENT_VIEW),
    summary="The HL7 v2.5.1 VXU^V04 of a dose (text/plain)",
    description="The dose's latest registry message as sent (or, when none was queued, "
    "built now with the deterministic control id `PREVIEW-<site>-<id>`, not stored). "
    "Segments are separated by carriage returns. Each opening is recorded (PHI access).",
    openapi_extra=TEXT_PLAIN,
)
def vxu_read(request: HttpRequest, immunization_id: int) -> HttpResponse:
    actor = user_of(request)
    imm = (
        Immunization.objects.filter(site=actor.site, pk=min(immunization_id, MAX_ID))
        .select_related("site", "patient", "vaccine", "manufacturer", "ordering_prescriber")
        .first()
    )
    if imm is None:
        raise NotFound("No such immunization at this pharmacy.")
    message = queries.latest_message(actor.site, imm.pk)
    if message is not None and message.message:
        text = message.message
    else:
        message = None
        text = vxu.build_vxu(
            imm,
            settings=settings_of(actor.site),
            control_id=vxu.preview_control_id(imm),
            now=timezone.now(),
        )
    services.registry_vxu_opened(actor=actor, immunization=imm, message=message, output="api")
    return _text(text, f"vxu-{imm.pk}.hl7")


@router.get(
    "/registry/messages",
    response=list[RegistryMessageOut],
    auth=gate(),
    summary="Registry messages, overdue first (imm.registry or imm.report)",
    description="status: a message status, `open` (waiting, not delivered, rejected) or "
    "`all`. overdue=true: only those past the state's reporting deadline. Patients are "
    "named only for roles that may see them.",
)
def messages_list(request: HttpRequest, q: Query[MessagesQuery]) -> Any:
    actor = user_of(request)
    now = timezone.now()
    rows = queries.messages_list(
        actor=actor, status=q.status, only_overdue=q.overdue, now=now, limit=q.limit
    )
    names = queries.shows_patients(actor)
    return [_message(m, names, now) for m in rows]


@router.get(
    "/registry/messages/{int:message_id}",
    response=MessageDetailOut,
    auth=gate(),
    summary="One registry message: its errors in words, the VXU and the ACK",
    description="The VXU and ACK texts (PHI) only for roles that may see patients; "
    "opening them is recorded (PHI access).",
)
def message_read(request: HttpRequest, message_id: int) -> Any:
    actor = user_of(request)
    m = queries.message_get(actor=actor, message_id=min(message_id, MAX_ID))
    names = queries.shows_patients(actor)
    if names:
        services.registry_vxu_opened(
            actor=actor, immunization=m.immunization, message=m, output="api"
        )
    errors = queries.errors_of(m)
    return {
        **_message(m, names, timezone.now()),
        "errors": [
            {
                **e.as_json(),
                "text": e.message if names else "",
                "words": e.in_words() if names else _without_text(e.in_words()),
            }
            for e in errors
        ],
        "message": m.message if names else "",
        "ack_text": m.ack_text if names else "",
        "acked_at": m.acked_at,
    }


@router.post(
    "/registry/messages/{int:message_id}/retry",
    response=MessageDetailOut,
    auth=gate(Cap.IMM_REGISTRY),
    summary="Send a failed, given-up or rejected message again now",
    description="A rejected message is rebuilt from the dose's current record as a new "
    "message (new control id; the answer is the new one) and the old one is cancelled. "
    "409 for a message that is waiting, accepted, exported or cancelled.",
)
def message_retry(request: HttpRequest, message_id: int) -> Any:
    actor = user_of(request)
    m = queries.message_get(actor=actor, message_id=min(message_id, MAX_ID))
    sent = services.registry_retry(actor=actor, message=m)
    return message_read(request, sent.pk)


@router.post(
    "/registry/send",
    response=SendOut,
    auth=gate(Cap.IMM_REGISTRY),
    summary="Send the messages that are due now (over MLLP)",
    description="With batch-file reporting, or no registry configured, nothing is sent "
    "and `waiting` tells how many wait.",
)
def send_now(request: HttpRequest, payload: RegistrySendIn) -> Any:
    actor = user_of(request)
    summary = services.registry_send_due(actor=actor, site=actor.site, limit=payload.limit)
    return {
        **{k: getattr(summary, k) for k in SendOut.model_fields if k != "summary"},
        "summary": summary.in_words(),
    }


def _batch(b: Any) -> dict[str, Any]:
    return {
        "id": b.pk,
        "control_id": b.control_id,
        "file_name": b.file_name,
        "message_count": b.message_count,
        "created_at": b.created_at,
        "created_by": b.created_by.username,
    }


@router.post(
    "/registry/batches",
    response={201: RegistryBatchOut},
    auth=gate(Cap.IMM_REGISTRY),
    summary="Export every undelivered message into one batch file",
    description="409 when no message is waiting.",
)
def batch_create(request: HttpRequest) -> Any:
    return Status(201, _batch(services.registry_batch_export(actor=user_of(request))))


@router.get(
    "/registry/batches/{int:batch_id}",
    auth=gate(Cap.IMM_REGISTRY, Cap.PATIENT_VIEW),
    summary="Download a batch file (text/plain HL7)",
    description="Each download is recorded (PHI access).",
    openapi_extra=HL7_FILE,
)
def batch_read(request: HttpRequest, batch_id: int) -> HttpResponse:
    actor = user_of(request)
    batch = queries.batch_get(actor=actor, batch_id=min(batch_id, MAX_ID))
    services.registry_batch_downloaded(actor=actor, batch=batch)
    return _text(batch.content, batch.file_name)


@router.get(
    "/registry/settings",
    response=RegistrySettingsOut,
    auth=gate(),
    summary="The registry connection and reporting rules (imm.registry or imm.setup)",
)
def settings_read(request: HttpRequest) -> Any:
    actor = user_of(request)
    _may_see_settings(actor)
    return _settings(settings_of(actor.site))


@router.put(
    "/registry/settings",
    response=RegistrySettingsOut,
    auth=gate(Cap.IMM_SETUP),
    summary="Change the registry connection and reporting rules (PIC)",
    description="Fields left out keep their value. 422 names the field: a host without a "
    "port, a port outside 1–65535, MLLP without host and port, an HL7 id holding a "
    "delimiter, reporting without the registry's facility id.",
)
def settings_put(request: HttpRequest, payload: RegistrySettingsIn) -> Any:
    actor = user_of(request)
    values = payload.model_dump(exclude_unset=True)
    for key, value in list(values.items()):
        if key == "iis_port" and value == 0:
            values[key] = None
        elif value is None and key != "iis_port":
            values[key] = ""  # null clears a text setting; a choice then fails by name
    row = services.registry_settings_set(actor=actor, **values)
    return _settings(row)
