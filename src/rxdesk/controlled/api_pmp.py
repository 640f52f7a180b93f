"""API of the PMP (ASAP 4.2) files: the files kept, make a day's file (or a resend), catch
up a period (or one ad-hoc file for a state's request), read one with its records, download
its exact text, mark it sent, accepted or rejected. Parse, call rxdesk.controlled
services_pmp / queries_pmp, serialize.

Every operation is cs.pmp (pharmacist, pharmacist-in-charge), checked before the body is
read; the services check again. Files of another pharmacy do not exist here (404)."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from django.http import HttpRequest, HttpResponse
from ninja import Field, Query, Router, Schema, Status

from rxdesk.controlled import queries_pmp, services_pmp
from rxdesk.controlled.models import PmpSubmission
from rxdesk.core.capabilities import Cap
from rxdesk.core.models import User
from rxdesk.rx.api_fills import BearerToken, BrowserSession

router = Router(tags=["controlled substances"])

MAX_ID = 2**63 - 1
TEXT_FILE = {
    "responses": {
        200: {
            "description": "The file exactly as made (ASCII text)",
            "content": {"text/plain": {"schema": {"type": "string"}}},
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


class PmpDailyIn(_In):
    day: dt.date = Field(
        ..., description="The day whose dispensings are reported (not after today)"
    )
    state: str | None = Field(
        None,
        min_length=2,
        max_length=2,
        description="The PMP's state (default: the pharmacy's own)",
    )
    again: bool = Field(
        False, description="A corrected resend of a day already reported (supersedes the file)"
    )


class PmpRangeIn(_In):
    start: dt.date
    end: dt.date = Field(..., description="Not after today; at most 366 days after start")
    state: str | None = Field(None, min_length=2, max_length=2)
    single_file: bool = Field(
        False,
        description="One ad-hoc file of the whole period (a state's request) instead of a "
        "daily file for each day not yet reported",
    )


class PmpStatusIn(_In):
    status: Literal["sent", "accepted", "rejected"]
    note: str = Field("", max_length=500, description="Required when rejected: the PMP's error")


class PmpListQuery(Schema):
    start: dt.date | None = Field(None, description="Files covering this day or later")
    end: dt.date | None = Field(None, description="Files covering this day or earlier")
    state: str | None = Field(None, min_length=2, max_length=2)


class PmpSubmissionOut(Schema):
    id: int
    kind: str
    kind_label: str
    state: str
    period_start: dt.date
    period_end: dt.date
    control_number: str
    version: str
    file_name: str
    sha256: str
    size: int
    dispensings: int
    voids: int
    status: str
    status_label: str
    status_note: str
    superseded: bool = Field(..., description="A later file was made for the same day")
    created_by: str
    created_at: dt.datetime
    sent_at: dt.datetime | None


class PmpRecordOut(Schema):
    fill_id: int
    action: str = Field(..., description="DSP01: 00 new, 01 revise, 02 void")
    action_label: str
    rx_number: int
    fill_number: int
    patient_id: int
    patient_name: str
    drug: str
    ndc: str
    quantity: str
    dispensed_on: dt.date | None


class PmpSubmissionDetailOut(PmpSubmissionOut):
    records: list[PmpRecordOut]


def _submission(s: PmpSubmission, superseded: bool) -> dict[str, Any]:
    return {
        "id": s.pk,
        "kind": s.kind,
        "kind_label": s.get_kind_display(),
        "state": s.state,
        "period_start": s.period_start,
        "period_end": s.period_end,
        "control_number": s.control_number,
        "version": s.version,
        "file_name": s.file_name,
        "sha256": s.sha256,
        "size": len(s.content),
        "dispensings": s.dispensings,
        "voids": s.voids,
        "status": s.status,
        "status_label": s.get_status_display(),
        "status_note": s.status_note,
        "superseded": superseded,
        "created_by": s.created_by.display_name if s.created_by else "system",
        "created_at": s.created_at,
        "sent_at": s.sent_at,
    }


def _detail(actor: User, submission_id: int) -> dict[str, Any]:
    s = queries_pmp.pmp_get(actor=actor, submission_id=submission_id)
    records = []
    for r in queries_pmp.pmp_records(s):
        fill = r.fill
        rx = fill.prescription
        records.append(
            {
                "fill_id": fill.pk,
                "action": r.action,
                "action_label": r.get_action_display(),
                "rx_number": rx.number,
                "fill_number": fill.number,
                "patient_id": rx.patient_id,
                "patient_name": rx.patient.full_name,
                "drug": rx.drug_description,
                "ndc": fill.package.ndc11 if fill.package else "",
                "quantity": f"{fill.quantity.normalize():f}",
                "dispensed_on": fill.dispensed_on,
            }
        )
    return {**_submission(s, queries_pmp.is_superseded(s)), "records": records}


def file_response(submission: PmpSubmission) -> HttpResponse:
    """The kept file as a download: its exact bytes, plain text, never cached."""
    response = HttpResponse(
        submission.content.encode("ascii"), content_type="text/plain; charset=us-ascii"
    )
    safe = "".join(ch if ch.isalnum() or ch in "._-" else "_" for ch in submission.file_name)
    response["Content-Disposition"] = f'attachment; filename="{safe}"'
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response


# --- Operations -------------------------------------------------------------------------------


@router.get(
    "/pmp/submissions",
    response=list[PmpSubmissionOut],
    auth=_gate(Cap.CS_PMP),
    summary="The PMP files kept, newest period first",
)
def pmp_list(request: HttpRequest, q: Query[PmpListQuery]) -> Any:
    rows = queries_pmp.pmp_submissions(
        actor=_user(request), start=q.start, end=q.end, state=q.state
    )
    return [_submission(r.submission, r.superseded) for r in rows]


@router.post(
    "/pmp/daily",
    response={201: PmpSubmissionDetailOut},
    auth=_gate(Cap.CS_PMP),
    summary="Make a day's PMP file (new records, voids, or a zero report)",
    description="409 when the day already has a file, unless again (a corrected resend that "
    "supersedes it). 422 for a day after today or for required data missing (each gap named).",
)
def pmp_daily(request: HttpRequest, payload: PmpDailyIn) -> Any:
    actor = _user(request)
    made = services_pmp.pmp_daily(
        actor=actor, day=payload.day, state=payload.state, again=payload.again
    )
    return Status(201, _detail(actor, made.pk))


@router.post(
    "/pmp/range",
    response={201: list[PmpSubmissionOut], 200: list[PmpSubmissionOut]},
    auth=_gate(Cap.CS_PMP),
    summary="Catch up a period (a file per day not yet reported), or one file of the period",
    description="201 with the files made; 200 with an empty list when every day already has "
    "its file. All or nothing: a gap in the data makes no file.",
)
def pmp_range(request: HttpRequest, payload: PmpRangeIn) -> Any:
    made = services_pmp.pmp_range(
        actor=_user(request),
        start=payload.start,
        end=payload.end,
        state=payload.state,
        single_file=payload.single_file,
    )
    body = [_submission(s, False) for s in made]
    return Status(201, body) if made else body


@router.get(
    "/pmp/submissions/{int:submission_id}",
    response=PmpSubmissionDetailOut,
    auth=_gate(Cap.CS_PMP),
    summary="A PMP file with its records (one per fill and action)",
)
def pmp_read(request: HttpRequest, submission_id: int) -> Any:
    return _detail(_user(request), submission_id)


@router.get(
    "/pmp/submissions/{int:submission_id}/file",
    auth=_gate(Cap.CS_PMP),
    summary="The PMP file's exact text (the access is logged)",
    openapi_extra=TEXT_FILE,
)
def pmp_file(request: HttpRequest, submission_id: int) -> HttpResponse:
    actor = _user(request)
    found = queries_pmp.pmp_get(actor=actor, submission_id=submission_id)
    return file_response(services_pmp.pmp_file_read(actor=actor, submission=found))


@router.post(
    "/pmp/submissions/{int:submission_id}/status",
    response=PmpSubmissionDetailOut,
    auth=_gate(Cap.CS_PMP),
    summary="Mark a PMP file sent, accepted or rejected",
    description="created → sent | accepted | rejected; sent → accepted | rejected. A "
    "rejection needs the note; send a corrected file with POST /pmp/daily again=true.",
)
def pmp_status(request: HttpRequest, submission_id: int, payload: PmpStatusIn) -> Any:
    actor = _user(request)
    found = queries_pmp.pmp_get(actor=actor, submission_id=submission_id)
    services_pmp.pmp_status_set(
        actor=actor, submission=found, status=payload.status, note=payload.note
    )
    return _detail(actor, found.pk)
