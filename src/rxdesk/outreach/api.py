"""Outreach: the API (``/api/v1/outreach``). The four lists (refills due, low adherence,
due for vaccines, eligible for med sync) as JSON or CSV, and recording a contact. Read and
worked with ``outreach.view`` (technician, pharmacist, PIC); each list call is recorded as
PHI access."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, Literal

from django.http import HttpRequest, HttpResponse
from ninja import Field, Path, Query, Router, Schema, Status

from rxdesk.core.capabilities import Cap
from rxdesk.institutional.api_common import StrictIn, gate, user_of
from rxdesk.outreach import queries, services
from rxdesk.outreach.models import NOTE_MAX, OutreachContact

router = Router(tags=["Outreach"])

MAX_ID = 2**63 - 1
MAX_PAGE = 1000
Kind = Literal["refills", "adherence", "vaccines", "sync"]
OutcomeIn = Literal[
    "reached",
    "left_message",
    "no_answer",
    "wrong_number",
    "declined",
    "refill_queued",
    "scheduled",
]
CSV = {
    "responses": {
        200: {
            "description": "The list as CSV (text/csv)",
            "content": {"text/csv": {"schema": {"type": "string"}}},
        }
    }
}


class OutreachKindPath(Schema):
    kind: Kind


class OutreachFilterQuery(Schema):
    ahead: int | None = Field(
        None, ge=0, le=queries.AHEAD_MAX, description="refills: runs out within (days, 7)"
    )
    behind: int | None = Field(
        None, ge=0, le=queries.BEHIND_MAX, description="refills: ran out at most (days ago, 30)"
    )
    days: int | None = Field(
        None,
        ge=queries.PERIOD_MIN,
        le=queries.PERIOD_MAX,
        description="adherence: measurement period (days, 180)",
    )
    group: str = Field(
        "",
        max_length=40,
        description="adherence: maintenance, diabetes, ras, statins; vaccines: a CDC group",
    )


class OutreachPageQuery(OutreachFilterQuery):
    limit: int = Field(100, ge=1, le=MAX_PAGE)
    offset: int = Field(0, ge=0, le=10_000_000)


class OutreachLastContactOut(Schema):
    at: dt.datetime
    outcome: str
    outcome_label: str
    by: str
    note: str


class OutreachListRowOut(Schema):
    patient_id: int
    name: str
    date_of_birth: dt.date
    contact_by: str
    contact: str
    why: str
    figures: dict[str, str | int | bool | dt.date | Decimal | None]
    last_contact: OutreachLastContactOut | None


class OutreachListOut(Schema):
    kind: str
    as_of: dt.date
    filters: dict[str, str | int]
    total: int
    do_not_contact: int
    results: list[OutreachListRowOut]


class OutreachContactIn(StrictIn):
    patient_id: int = Field(ge=1, le=MAX_ID)
    kind: Kind
    outcome: OutcomeIn
    note: str = Field("", max_length=NOTE_MAX)


class OutreachContactOut(Schema):
    id: int
    patient_id: int
    kind: str
    outcome: str
    note: str
    by: str
    at: dt.datetime


def _filters(q: OutreachFilterQuery) -> dict[str, Any]:
    return {k: v for k, v in q.model_dump().items() if v not in (None, "")}


def _row(r: queries.Row) -> dict[str, Any]:
    return {
        "patient_id": r.patient.pk,
        "name": r.patient.full_name,
        "date_of_birth": r.patient.date_of_birth,
        "contact_by": r.contact_by,
        "contact": r.contact,
        "why": r.why,
        "figures": r.figures,
        "last_contact": r.last.__dict__ if r.last else None,
    }


def _contact(c: OutreachContact) -> dict[str, Any]:
    return {
        "id": c.pk,
        "patient_id": c.patient_id,
        "kind": c.kind,
        "outcome": c.outcome,
        "note": c.note,
        "by": c.by_name,
        "at": c.at,
    }


@router.get(
    "/lists/{kind}",
    response=OutreachListOut,
    auth=gate(Cap.OUTREACH_VIEW),
    summary="An outreach list: refills due, low adherence, due for vaccines, sync-eligible",
    description="Most urgent first; each row names the patient, how to reach them, why they "
    "are on the list, the figures and the last contact. Patients who asked not to be "
    "contacted are counted, not listed. Each call is recorded as PHI access.",
)
def outreach_list(
    request: HttpRequest, path: Path[OutreachKindPath], q: Query[OutreachPageQuery]
) -> Any:
    actor = user_of(request)
    filters = _filters(q)
    filters.pop("limit", None)
    filters.pop("offset", None)
    listing = services.outreach_list_open(
        actor=actor, kind=path.kind, output="json", filters=filters, shown=q.offset + q.limit
    )
    page = listing.rows[q.offset : q.offset + q.limit]
    return {
        "kind": listing.kind.value,
        "as_of": listing.today,
        "filters": listing.filters,
        "total": len(listing.rows),
        "do_not_contact": listing.do_not_contact,
        "results": [_row(r) for r in page],
    }


@router.get(
    "/lists/{kind}/csv",
    auth=gate(Cap.OUTREACH_VIEW),
    summary="An outreach list as CSV (every row)",
    openapi_extra=CSV,
)
def outreach_list_csv(
    request: HttpRequest, path: Path[OutreachKindPath], q: Query[OutreachFilterQuery]
) -> HttpResponse:
    actor = user_of(request)
    listing = services.outreach_list_open(
        actor=actor, kind=path.kind, output="csv", filters=_filters(q)
    )
    response = HttpResponse(queries.listing_csv(listing), content_type="text/csv; charset=utf-8")
    name = f"outreach-{listing.kind.value}-{listing.today:%Y%m%d}.csv"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response


@router.post(
    "/contacts",
    response={201: OutreachContactOut},
    auth=gate(Cap.OUTREACH_VIEW),
    summary="Record a contact made from an outreach list and how it ended",
)
def outreach_contact(request: HttpRequest, payload: OutreachContactIn) -> Any:
    contact = services.outreach_contact_record(actor=user_of(request), **payload.model_dump())
    return Status(201, _contact(contact))
