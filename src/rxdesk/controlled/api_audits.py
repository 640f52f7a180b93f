"""API of the controlled-substance records: blind audit counts, the investigation of a
discrepancy (notes, evidence, outcome with a witness), and theft or significant loss (the
DEA Form 106 record and its draft PDF). Parse, call a service or query, serialize.

The role is checked before the body is read (cs.count to count, cs.investigate to work an
investigation, cs.loss to work a Form 106, cs.view to read); the services check again.
Records of another pharmacy do not exist here (404). Quantities travel as decimal strings
in the package's billing unit (``unit``)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from ninja import Field, Query, Router, Schema, Status

from rxdesk.controlled import documents_106, queries_audits, services_audits, services_losses
from rxdesk.controlled.choices import (
    AuditStatus,
    InvestigationOutcome,
    InvestigationStatus,
    LossStatus,
    LossType,
)
from rxdesk.controlled.models import (
    CsAudit,
    Investigation,
    InvestigationEvidence,
    InvestigationNote,
    TheftLoss,
)
from rxdesk.core.capabilities import Cap
from rxdesk.core.errors import Invalid
from rxdesk.core.models import User
from rxdesk.rx.api_fills import BearerToken, BrowserSession

router = Router(tags=["controlled substances"])

MAX_ID = 2**63 - 1
PDF = {
    "responses": {
        200: {
            "description": "The Form 106 draft (or submitted copy) as a PDF",
            "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}},
        }
    }
}
EVIDENCE = {
    "responses": {
        200: {
            "description": "The evidence file's bytes, in its own type",
            "content": {
                kind: {"schema": {"type": "string", "format": "binary"}}
                for kind in services_audits.EVIDENCE_TYPES
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


class CsAuditWitnessIn(_In):
    """A second authorized person, re-authenticating now."""

    username: str = Field("", max_length=150)
    password: str = Field("", max_length=128)
    otp: str = Field("", max_length=10, description="Six digits, where an authenticator is set up")


class AuditIn(_In):
    ndc: str = Field(max_length=200, description="NDC in any printed form, or a scan")
    lot_number: str = Field("", max_length=40, description="Blank: every lot of the package")
    counted: Decimal = Field(description="What is on the shelf (0 if none), in billing units")
    note: str = Field("", max_length=500)


class CsAuditFilter(Schema):
    status: AuditStatus | None = None


class DrugOut(Schema):
    package_id: int
    ndc11: str
    ndc10: str
    name: str
    strength: str
    dosage_form: str
    schedule: str
    unit: str


class AuditOut(Schema):
    id: int
    drug: DrugOut
    lot_number: str | None = Field(description="Null: every lot of the package was counted")
    counted: Decimal
    expected: Decimal = Field(description="The perpetual balance when the count was recorded")
    variance: Decimal = Field(description="counted − expected")
    status: AuditStatus
    status_label: str
    last_move_id: int = Field(description="The last ledger move the expected balance includes")
    counted_by: str
    counted_at: dt.datetime
    note: str
    investigation_id: int | None


class CsAuditNoteOut(Schema):
    id: int
    text: str
    author: str
    written_at: dt.datetime


class EvidenceOut(Schema):
    id: int
    name: str
    content_type: str
    size: int
    sha256: str
    description: str
    added_by: str
    added_at: dt.datetime


class InvestigationOut(Schema):
    id: int
    status: InvestigationStatus
    audit_id: int | None
    drug: DrugOut
    lot_number: str | None
    variance: Decimal
    opened_by: str
    opened_at: dt.datetime
    outcome: str = Field(description="Blank while open; else an InvestigationOutcome")
    outcome_label: str
    conclusion: str
    resolved_by: str
    resolved_at: dt.datetime | None
    correction_move_id: int | None = Field(description="The witnessed count move, if any")
    correction_quantity: Decimal | None
    balance_after: Decimal | None
    witness: str
    witnessed_at: dt.datetime | None
    witness_factors: str
    loss_ids: list[int]


class InvestigationDetailOut(InvestigationOut):
    notes: list[CsAuditNoteOut]
    evidence: list[EvidenceOut]


class InvestigationFilter(Schema):
    open_only: bool = False


class NoteIn(_In):
    text: str = Field(max_length=5000)


class LossDetailsIn(_In):
    """Form 106 details given with a theft or significant-loss outcome."""

    loss_type: LossType | None = None
    loss_type_other: str = Field("", max_length=200)
    occurred_on: dt.date | None = None
    police_notified: bool | None = None
    police_department: str = Field("", max_length=120)
    police_report_number: str = Field("", max_length=60)
    previous_losses: int | None = Field(None, ge=0, le=100000)
    security_measures: str = Field("", max_length=5000)
    narrative: str = Field("", max_length=5000)
    estimated_value: Decimal | None = Field(None, description="Dollars, of the quantity lost")
    loss_id: int | None = Field(
        None, ge=1, le=MAX_ID, description="Link this open Form 106 record instead"
    )


class CsAuditResolveIn(_In):
    outcome: InvestigationOutcome
    conclusion: str = Field(max_length=5000)
    witness: CsAuditWitnessIn | None = Field(
        None, description="Required for every outcome but counting_error (a count correction)"
    )
    lot_number: str = Field(
        "", max_length=40, description="The lot to correct when the count covered every lot"
    )
    loss: LossDetailsIn | None = Field(None, description="theft / significant_loss only")


class LossLineIn(_In):
    ndc: str = Field(max_length=200)
    lot_number: str = Field("", max_length=40)
    quantity: Decimal
    estimated_value: Decimal | None = None


class LossIn(_In):
    loss_type: LossType
    loss_type_other: str = Field("", max_length=200)
    discovered_at: dt.datetime = Field(description="Without an offset: the pharmacy's time")
    occurred_on: dt.date | None = None
    police_notified: bool | None = Field(None, description="Null: not answered yet")
    police_department: str = Field("", max_length=120)
    police_report_number: str = Field("", max_length=60)
    previous_losses: int = Field(0, ge=0, le=100000)
    security_measures: str = Field("", max_length=5000)
    narrative: str = Field("", max_length=5000)
    lines: list[LossLineIn] = Field(min_length=1, max_length=services_losses.MAX_LINES)


class LossPatchIn(_In):
    loss_type: LossType | None = None
    loss_type_other: str | None = Field(None, max_length=200)
    occurred_on: dt.date | None = None
    police_notified: bool | None = None
    police_department: str | None = Field(None, max_length=120)
    police_report_number: str | None = Field(None, max_length=60)
    previous_losses: int | None = Field(None, ge=0, le=100000)
    security_measures: str | None = Field(None, max_length=5000)
    narrative: str | None = Field(None, max_length=5000)


class NotifiedIn(_In):
    when: dt.datetime = Field(description="When the written notice was sent")
    how: str = Field(max_length=200, description="Email to…, fax to…")


class SubmittedIn(_In):
    dea_reference: str = Field(max_length=60)


class CsAuditCancelIn(_In):
    reason: str = Field(max_length=300)


class LossFilter(Schema):
    open_only: bool = False


class LossLineOut(Schema):
    drug: DrugOut
    lot_number: str | None
    quantity: Decimal
    estimated_value: Decimal | None


class FieldNeedOut(Schema):
    field: str
    message: str


class LossOut(Schema):
    id: int
    status: LossStatus
    status_label: str
    loss_type: LossType
    loss_type_label: str
    loss_type_other: str
    discovered_at: dt.datetime
    occurred_on: dt.date | None
    notify_by: dt.date
    complete_by: dt.date
    deadline: str = Field(description='e.g. "notify DEA by Mon 11/30 (tomorrow)"')
    deadline_level: str = Field(description="ok, due, overdue or done")
    police_notified: bool | None = Field(description="Null: not answered yet")
    police_department: str
    police_report_number: str
    previous_losses: int
    security_measures: str
    narrative: str
    dea_notified_at: dt.datetime | None
    dea_notified_how: str
    notice_late: bool
    submitted_at: dt.datetime | None
    submitted_late: bool
    dea_reference: str
    investigation_id: int | None
    opened_by: str
    opened_at: dt.datetime
    lines: list[LossLineOut]
    missing: list[FieldNeedOut] = Field(description="What Form 106 still needs to be submitted")


# --- Serializers -----------------------------------------------------------------------------


def _name(user: Any) -> str:
    return user.display_name if user is not None else ""


def _drug(package: Any) -> dict[str, Any]:
    product = package.product
    return {
        "package_id": package.pk,
        "ndc11": package.ndc11,
        "ndc10": package.ndc10,
        "name": product.display_name,
        "strength": product.strength,
        "dosage_form": product.dosage_form,
        "schedule": product.dea_schedule,
        "unit": package.billing_unit,
    }


def _audit(audit: CsAudit) -> dict[str, Any]:
    found = queries_audits.investigation_of(audit)
    return {
        "id": audit.pk,
        "drug": _drug(audit.package),
        "lot_number": audit.lot.number if audit.lot else None,
        "counted": audit.counted,
        "expected": audit.expected,
        "variance": audit.variance,
        "status": audit.status,
        "status_label": audit.get_status_display(),
        "last_move_id": audit.last_move_id,
        "counted_by": audit.counter_name,
        "counted_at": audit.counted_at,
        "note": audit.note,
        "investigation_id": found.pk if found is not None else None,
    }


def _investigation(inv: Investigation) -> dict[str, Any]:
    move = inv.correction
    return {
        "id": inv.pk,
        "status": inv.status,
        "audit_id": inv.audit_id,
        "drug": _drug(inv.package),
        "lot_number": inv.lot.number if inv.lot else None,
        "variance": inv.variance,
        "opened_by": _name(inv.opened_by),
        "opened_at": inv.opened_at,
        "outcome": inv.outcome,
        "outcome_label": inv.get_outcome_display() if inv.outcome else "",
        "conclusion": inv.conclusion,
        "resolved_by": _name(inv.resolved_by),
        "resolved_at": inv.resolved_at,
        "correction_move_id": move.pk if move else None,
        "correction_quantity": move.quantity if move else None,
        "balance_after": move.balance_after if move else None,
        "witness": inv.witness_name,
        "witnessed_at": inv.witnessed_at,
        "witness_factors": inv.witness_factors,
        "loss_ids": [loss.pk for loss in queries_audits.investigation_losses(inv)],
    }


def _note(note: InvestigationNote) -> dict[str, Any]:
    return {
        "id": note.pk,
        "text": note.text,
        "author": note.author_name,
        "written_at": note.written_at,
    }


def _evidence(item: InvestigationEvidence, size: int | None = None) -> dict[str, Any]:
    return {
        "id": item.pk,
        "name": item.name,
        "content_type": item.content_type,
        "size": size if size is not None else getattr(item, "size", 0),
        "sha256": item.sha256,
        "description": item.description,
        "added_by": _name(item.added_by),
        "added_at": item.added_at,
    }


def _investigation_detail(actor: User, investigation_id: int) -> dict[str, Any]:
    inv = queries_audits.investigation_get(actor=actor, investigation_id=investigation_id)
    return {
        **_investigation(inv),
        "notes": [_note(n) for n in queries_audits.investigation_notes(inv)],
        "evidence": [_evidence(e) for e in queries_audits.investigation_evidence(inv)],
    }


def _loss(row: queries_audits.LossRow) -> dict[str, Any]:
    loss = row.loss
    return {
        "id": loss.pk,
        "status": loss.status,
        "status_label": loss.get_status_display(),
        "loss_type": loss.loss_type,
        "loss_type_label": loss.get_loss_type_display(),
        "loss_type_other": loss.loss_type_other,
        "discovered_at": loss.discovered_at,
        "occurred_on": loss.occurred_on,
        "notify_by": loss.notify_by,
        "complete_by": loss.complete_by,
        "deadline": row.deadline.text,
        "deadline_level": row.deadline.level,
        "police_notified": row.police,
        "police_department": loss.police_department,
        "police_report_number": loss.police_report_number,
        "previous_losses": loss.previous_losses,
        "security_measures": loss.security_measures,
        "narrative": loss.narrative,
        "dea_notified_at": loss.dea_notified_at,
        "dea_notified_how": loss.dea_notified_how,
        "notice_late": row.notice_late,
        "submitted_at": loss.submitted_at,
        "submitted_late": row.submitted_late,
        "dea_reference": loss.dea_reference,
        "investigation_id": loss.investigation_id,
        "opened_by": _name(loss.opened_by),
        "opened_at": loss.opened_at,
        "lines": [
            {
                "drug": _drug(line.package),
                "lot_number": line.lot.number if line.lot else None,
                "quantity": line.quantity,
                "estimated_value": line.estimated_value,
            }
            for line in loss.lines.all()
        ],
        "missing": row.missing,
    }


def _loss_body(actor: User, loss_id: int) -> dict[str, Any]:
    loss = queries_audits.loss_get(actor=actor, loss_id=loss_id)
    return _loss(queries_audits.loss_row(loss, actor.site.today()))


def _given(payload: Schema | None) -> dict[str, Any] | None:
    return payload.model_dump() if payload is not None else None


# --- Audits ----------------------------------------------------------------------------------


@router.post(
    "/audits",
    response={201: AuditOut},
    auth=_gate(Cap.CS_COUNT),
    summary="Record a blind count of a controlled package (a lot, or all its lots)",
    description="The expected balance is read when the count is recorded and returned only "
    "then. A count that differs is a discrepancy and opens an investigation.",
)
def audit_create(request: HttpRequest, payload: AuditIn) -> Any:
    actor = _user(request)
    audit = services_audits.cs_audit_record(
        actor=actor,
        ndc=payload.ndc,
        lot_number=payload.lot_number or None,
        counted=payload.counted,
        note=payload.note,
    )
    return Status(201, _audit(queries_audits.audit_get(actor=actor, audit_id=audit.pk)))


@router.get(
    "/audits",
    response=list[AuditOut],
    auth=_gate(Cap.CS_VIEW),
    summary="Recent blind counts and their results, newest first",
)
def audit_list(request: HttpRequest, filters: Query[CsAuditFilter]) -> Any:
    found = queries_audits.audits(actor=_user(request), status=filters.status or "")
    return [_audit(a) for a in found]


@router.get(
    "/audits/{int:audit_id}",
    response=AuditOut,
    auth=_gate(Cap.CS_VIEW),
    summary="One recorded count",
)
def audit_read(request: HttpRequest, audit_id: int) -> Any:
    return _audit(queries_audits.audit_get(actor=_user(request), audit_id=audit_id))


# --- Investigations --------------------------------------------------------------------------


@router.get(
    "/investigations",
    response=list[InvestigationOut],
    auth=_gate(Cap.CS_VIEW),
    summary="Discrepancy investigations, the open ones first",
)
def investigation_list(request: HttpRequest, filters: Query[InvestigationFilter]) -> Any:
    found = queries_audits.investigations(actor=_user(request), open_only=filters.open_only)
    return [_investigation(i) for i in found]


@router.get(
    "/investigations/{int:investigation_id}",
    response=InvestigationDetailOut,
    auth=_gate(Cap.CS_VIEW),
    summary="An investigation with its notes and evidence",
)
def investigation_read(request: HttpRequest, investigation_id: int) -> Any:
    return _investigation_detail(_user(request), investigation_id)


@router.post(
    "/investigations/{int:investigation_id}/notes",
    response={201: CsAuditNoteOut},
    auth=_gate(Cap.CS_INVESTIGATE),
    summary="Add a note to an open investigation (notes are never changed)",
)
def investigation_note(request: HttpRequest, investigation_id: int, payload: NoteIn) -> Any:
    actor = _user(request)
    inv = queries_audits.investigation_get(actor=actor, investigation_id=investigation_id)
    note = services_audits.investigation_note_add(actor=actor, investigation=inv, text=payload.text)
    return Status(201, _note(note))


@router.post(
    "/investigations/{int:investigation_id}/evidence",
    response={201: EvidenceOut},
    auth=_gate(Cap.CS_INVESTIGATE),
    summary="Keep a file with an open investigation (PDF, PNG, JPEG or text, at most 5 MB)",
    description="multipart/form-data with the file in `file` and, optionally, `name` and "
    "`description`. The file's content must match its type; its SHA-256 is kept.",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "properties": {
                            "file": {"type": "string", "format": "binary"},
                            "name": {"type": "string", "maxLength": 200},
                            "description": {"type": "string", "maxLength": 500},
                        },
                        "required": ["file"],
                    }
                }
            },
        }
    },
)
def investigation_evidence(request: HttpRequest, investigation_id: int) -> Any:
    actor = _user(request)
    inv = queries_audits.investigation_get(actor=actor, investigation_id=investigation_id)
    upload = request.FILES.get("file")
    if upload is None:
        raise Invalid("Choose the file to upload (multipart form field 'file').", field="file")
    if upload.size is not None and upload.size > services_audits.MAX_EVIDENCE_BYTES:
        raise Invalid("The file is larger than 5 MB.", field="file")
    data = upload.read(services_audits.MAX_EVIDENCE_BYTES + 1)
    item = services_audits.investigation_evidence_add(
        actor=actor,
        investigation=inv,
        name=request.POST.get("name") or upload.name or "",
        content_type=upload.content_type or "",
        data=data,
        description=request.POST.get("description", ""),
    )
    return Status(201, _evidence(item, size=len(data)))


@router.get(
    "/investigations/{int:investigation_id}/evidence/{int:evidence_id}",
    auth=_gate(Cap.CS_VIEW),
    summary="An evidence file's bytes",
    openapi_extra=EVIDENCE,
)
def investigation_evidence_read(
    request: HttpRequest, investigation_id: int, evidence_id: int
) -> HttpResponse:
    actor = _user(request)
    inv = queries_audits.investigation_get(actor=actor, investigation_id=investigation_id)
    item = queries_audits.evidence_get(actor=actor, investigation=inv, evidence_id=evidence_id)
    return evidence_response(item)


def evidence_response(item: InvestigationEvidence) -> HttpResponse:
    """The file as a download: its own type, never sniffed, never cached."""
    response = HttpResponse(bytes(item.content), content_type=item.content_type)
    safe = "".join(ch if ch.isalnum() or ch in "._- " else "_" for ch in item.name)
    response["Content-Disposition"] = f'attachment; filename="{safe}"'
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response


@router.post(
    "/investigations/{int:investigation_id}/resolve",
    response=InvestigationDetailOut,
    auth=_gate(Cap.CS_INVESTIGATE),
    summary="Resolve an investigation: its outcome, conclusion and (witnessed) correction",
    description="counting_error changes nothing and needs a later count that matched. Every "
    "other outcome corrects the balance by a count move of the variance and needs a "
    "witness who re-authenticates now; theft and significant_loss also open a Form 106 "
    "record from `loss` (or link the open one named by `loss.loss_id`).",
)
def investigation_resolve(
    request: HttpRequest, investigation_id: int, payload: CsAuditResolveIn
) -> Any:
    actor = _user(request)
    inv = queries_audits.investigation_get(actor=actor, investigation_id=investigation_id)
    loss = None
    if payload.loss is not None:
        loss = payload.loss.model_dump(exclude_defaults=True)
    services_audits.investigation_resolve(
        actor=actor,
        investigation=inv,
        outcome=payload.outcome,
        conclusion=payload.conclusion,
        witness=_given(payload.witness),
        loss=loss,
        lot_number=payload.lot_number,
    )
    return _investigation_detail(actor, inv.pk)


# --- Theft and loss (Form 106) ---------------------------------------------------------------


@router.get(
    "/losses",
    response=list[LossOut],
    auth=_gate(Cap.CS_VIEW),
    summary="Theft and loss records with their deadlines, the most urgent first",
)
def loss_list(request: HttpRequest, filters: Query[LossFilter]) -> Any:
    return [
        _loss(r) for r in queries_audits.losses(actor=_user(request), open_only=filters.open_only)
    ]


@router.post(
    "/losses",
    response={201: LossOut},
    auth=_gate(Cap.CS_LOSS),
    summary="Record a theft or significant loss found without an audit (Form 106 opened)",
    description="The DEA notice is due one business day after the discovery's date, the "
    "Form 106 45 days after it (the pharmacy's time zone).",
)
def loss_create(request: HttpRequest, payload: LossIn) -> Any:
    actor = _user(request)
    data = payload.model_dump()
    loss = services_losses.theft_loss_open(
        actor=actor,
        loss_type=data.pop("loss_type"),
        discovered_at=data.pop("discovered_at"),
        lines=data.pop("lines"),
        **data,
    )
    return Status(201, _loss_body(actor, loss.pk))


@router.get(
    "/losses/{int:loss_id}",
    response=LossOut,
    auth=_gate(Cap.CS_VIEW),
    summary="One theft or loss record",
)
def loss_read(request: HttpRequest, loss_id: int) -> Any:
    return _loss_body(_user(request), loss_id)


def _loss_of(request: HttpRequest, loss_id: int) -> TheftLoss:
    return queries_audits.loss_get(actor=_user(request), loss_id=loss_id)


@router.patch(
    "/losses/{int:loss_id}",
    response=LossOut,
    auth=_gate(Cap.CS_LOSS),
    summary="Complete or correct the Form 106 details (fields left out stay as they are)",
)
def loss_update(request: HttpRequest, loss_id: int, payload: LossPatchIn) -> Any:
    actor = _user(request)
    services_losses.theft_loss_update(
        actor=actor, loss=_loss_of(request, loss_id), **payload.model_dump(exclude_unset=True)
    )
    return _loss_body(actor, loss_id)


@router.post(
    "/losses/{int:loss_id}/notified",
    response=LossOut,
    auth=_gate(Cap.CS_LOSS),
    summary="Record the written notice to the DEA field office (late is recorded as late)",
)
def loss_notified(request: HttpRequest, loss_id: int, payload: NotifiedIn) -> Any:
    actor = _user(request)
    services_losses.theft_loss_notified(
        actor=actor, loss=_loss_of(request, loss_id), when=payload.when, how=payload.how
    )
    return _loss_body(actor, loss_id)


@router.post(
    "/losses/{int:loss_id}/submitted",
    response=LossOut,
    auth=_gate(Cap.CS_LOSS),
    summary="Record that Form 106 was submitted (refused, naming each missing field)",
)
def loss_submitted(request: HttpRequest, loss_id: int, payload: SubmittedIn) -> Any:
    actor = _user(request)
    services_losses.theft_loss_submitted(
        actor=actor, loss=_loss_of(request, loss_id), dea_reference=payload.dea_reference
    )
    return _loss_body(actor, loss_id)


@router.post(
    "/losses/{int:loss_id}/cancel",
    response=LossOut,
    auth=_gate(Cap.CS_LOSS),
    summary="Cancel a record that is not a theft or significant loss after all",
)
def loss_cancel(request: HttpRequest, loss_id: int, payload: CsAuditCancelIn) -> Any:
    actor = _user(request)
    services_losses.theft_loss_cancel(
        actor=actor, loss=_loss_of(request, loss_id), reason=payload.reason
    )
    return _loss_body(actor, loss_id)


@router.get(
    "/losses/{int:loss_id}/pdf",
    auth=_gate(Cap.CS_VIEW),
    summary="The Form 106 draft as a PDF (marked DRAFT until submitted)",
    openapi_extra=PDF,
)
def loss_pdf(request: HttpRequest, loss_id: int) -> HttpResponse:
    loss = _loss_of(request, loss_id)
    return pdf_response(loss)


def pdf_response(loss: TheftLoss) -> HttpResponse:
    response = HttpResponse(
        documents_106.form_106_pdf(loss, now=timezone.now()), content_type="application/pdf"
    )
    response["Content-Disposition"] = f'inline; filename="{documents_106.file_name(loss)}"'
    response["Cache-Control"] = "private, no-store"
    return response
