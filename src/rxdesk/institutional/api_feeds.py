"""API of cabinet activity coming in (mounted at /api/v1/institutional): a cabinet
transaction file (CSV text in JSON), one HL7 DFT^P03 message (answered with its ACK), the
eMAR's administrations file, and the feeds received. Parse, call
rxdesk.institutional.services_feeds / queries_feeds, serialize.

Sending is adc.import (technician, pharmacist, PIC: the files name patients, so never the
inventory specialist); reading adc.view, with patients named only for roles holding
patient.view. A file or message that cannot be read is a 422 naming the field (``content``
for a file, the HL7 segment and field, e.g. ``FT1[2]-10``, for a message) and nothing is
written; rows that cannot be applied are listed in the feed (status ``partial``)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema, Status

from rxdesk.core.capabilities import Cap
from rxdesk.core.errors import Invalid
from rxdesk.core.models import User
from rxdesk.institutional import queries_feeds as queries
from rxdesk.institutional import services_feeds as services
from rxdesk.institutional.api_common import StrictIn, gate, user_of
from rxdesk.institutional.models import CabinetFeed

router = Router(tags=["institutional: feeds"])

MAX_CONTENT = 5 * 1024 * 1024
MAX_MESSAGE = 64 * 1024


# --- Input ------------------------------------------------------------------------------------


class FileIn(StrictIn):
    name: str = Field("", max_length=190, description="The file's name, as saved")
    content: str = Field(
        ...,
        max_length=MAX_CONTENT,
        description="The file's text (CSV, header row first). The request body may not pass "
        "2.5 MB: send a larger export through the workstation's upload.",
    )


class MessageIn(StrictIn):
    message: str = Field(
        ...,
        max_length=MAX_MESSAGE,
        description="One HL7 v2.5 DFT^P03 message, segments separated by CR (no MLLP frame)",
    )


class FeedQuery(Schema):
    limit: int = Field(100, ge=1, le=queries.LIST_LIMIT)


# --- Output -----------------------------------------------------------------------------------


class FeedSummaryOut(Schema):
    id: int
    kind: str = Field(..., description="cabinet (transactions) or administrations (eMAR)")
    source: str
    source_label: str
    name: str
    status: str
    status_label: str
    rows: int
    accepted: int
    received_at: dt.datetime
    received_by: str


class FeedNoteOut(Schema):
    row: int
    column: str
    message: str
    kind: str = Field(..., description="refused, duplicate, confirmed, discrepancy or warning")


class FeedMoveOut(Schema):
    id: int
    cabinet: str
    pocket: str
    ndc: str
    drug: str
    lot: str
    event: str
    quantity: str
    balance_after: str
    occurred_at: dt.datetime
    cabinet_user: str
    witness: str
    patient: str = Field(..., description="Named only for roles that may see patients")
    override: bool
    external_id: str


class FeedDiscrepancyOut(Schema):
    id: int
    cabinet: str
    pocket: str
    kind: str
    expected: str
    found: str
    controlled: bool
    due_at: dt.datetime
    status: str


class FeedOut(FeedSummaryOut):
    notes: list[FeedNoteOut]
    moves: list[FeedMoveOut]
    discrepancies: list[FeedDiscrepancyOut]


class MessageOut(Schema):
    feed: FeedOut
    ack: str = Field(..., description="The HL7 ACK (AA) as it would go back over MLLP")


def _summary(feed: CabinetFeed) -> dict[str, Any]:
    return {
        "id": feed.pk,
        "kind": "administrations" if queries.is_administrations(feed) else "cabinet",
        "source": feed.source,
        "source_label": feed.get_source_display(),
        "name": feed.name,
        "status": feed.status,
        "status_label": feed.get_status_display(),
        "rows": feed.rows,
        "accepted": feed.accepted,
        "received_at": feed.received_at,
        "received_by": feed.received_by.username if feed.received_by is not None else "",
    }


def _detail(actor: User, feed: CabinetFeed) -> dict[str, Any]:
    notes = [
        {
            "row": int(e.get("row") or 0),
            "column": str(e.get("column") or ""),
            "message": str(e.get("message") or ""),
            "kind": str(e.get("kind") or "refused"),
        }
        for e in queries.feed_notes(feed)
    ]
    return {
        **_summary(feed),
        "notes": notes,
        "moves": [vars(m) for m in queries.move_rows(actor, feed)],
        "discrepancies": [
            {
                "id": d.pk,
                "cabinet": d.cabinet.code,
                "pocket": d.pocket.place,
                "kind": d.kind,
                "expected": f"{d.expected.normalize():f}",
                "found": f"{d.found.normalize():f}",
                "controlled": d.controlled,
                "due_at": d.due_at,
                "status": d.status,
            }
            for d in queries.feed_discrepancies(feed)
        ],
    }


def _as_content(exc: Invalid) -> Invalid:
    """The service names the file ``file``; here it is the ``content`` field."""
    if exc.field == "file":
        return Invalid(exc.message, field="content")
    return exc


def _bytes(text: str) -> bytes:
    return text.encode("utf-8", errors="replace")


# --- Operations -------------------------------------------------------------------------------


@router.post(
    "/cabinet-feeds/csv",
    response={201: FeedOut},
    auth=gate(Cap.ADC_IMPORT),
    summary="Receive a cabinet transaction file (CSV)",
    description="The format (columns and the Pyxis/Omnicell names they may carry) is in "
    "rxdesk.institutional.adc_csv. Each row is applied to the cabinet ledger; rows that "
    "cannot be are listed in `notes` (kind `refused`) and the feed is `partial`. The same "
    "file again is a `duplicate` feed with nothing applied. 422 `content` for a file that "
    "cannot be read at all (nothing written).",
)
def feed_csv(request: HttpRequest, payload: FileIn) -> Any:
    actor = user_of(request)
    try:
        result = services.feed_receive_csv(
            actor=actor, name=payload.name, data=_bytes(payload.content)
        )
    except Invalid as exc:
        raise _as_content(exc) from None
    return Status(201, _detail(actor, result.feed))


@router.post(
    "/cabinet-feeds/hl7",
    response={201: MessageOut},
    auth=gate(Cap.ADC_IMPORT),
    summary="Receive one HL7 DFT^P03 message from a cabinet",
    description="The interface specification is rxdesk.institutional.adc_hl7 (the same as "
    "the MLLP listener `rxdesk adc-listener`). A malformed message is a 422 naming the "
    "segment and field (e.g. `FT1[2]-10`) and nothing is written.",
)
def feed_hl7(request: HttpRequest, payload: MessageIn) -> Any:
    actor = user_of(request)
    result = services.feed_receive_hl7(actor=actor, message=payload.message)
    return Status(201, {"feed": _detail(actor, result.feed), "ack": result.ack})


@router.get(
    "/cabinet-feeds",
    response=list[FeedSummaryOut],
    auth=gate(Cap.ADC_VIEW),
    summary="Cabinet files, messages and administrations files received, newest first",
)
def feeds_list(request: HttpRequest, q: Query[FeedQuery]) -> Any:
    return [_summary(f) for f in queries.feeds_list(actor=user_of(request), limit=q.limit)]


@router.get(
    "/cabinet-feeds/{int:feed_id}",
    response=FeedOut,
    auth=gate(Cap.ADC_VIEW),
    summary="One feed: the moves it applied, the rows refused or skipped, discrepancies opened",
)
def feed_read(request: HttpRequest, feed_id: int) -> Any:
    actor = user_of(request)
    return _detail(actor, queries.feed_get(actor=actor, feed_id=feed_id))


@router.post(
    "/administrations/csv",
    response={201: FeedOut},
    auth=gate(Cap.ADC_IMPORT),
    summary="Import the eMAR's administrations file (CSV)",
    description="Columns: Administration ID, Given At, NDC, Quantity, Nurse ID, MRN "
    "(rxdesk.institutional.adc_csv). An administration id already on file is skipped; bad "
    "rows are listed in `notes`. 422 `content` for a file that cannot be read.",
)
def administrations_csv(request: HttpRequest, payload: FileIn) -> Any:
    actor = user_of(request)
    try:
        result = services.administrations_import(
            actor=actor, name=payload.name, data=_bytes(payload.content)
        )
    except Invalid as exc:
        raise _as_content(exc) from None
    return Status(201, _detail(actor, result.feed))
