"""API of patients due for vaccines by age and history (mounted at
/api/v1/immunizations). Read with imm.outreach (technician, pharmacist, PIC); each call is
recorded as PHI access."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema

from rxdesk.core.capabilities import Cap
from rxdesk.immunizations import queries_outreach as queries
from rxdesk.immunizations import services_outreach as services
from rxdesk.institutional.api_common import gate, user_of

router = Router(tags=["immunizations: outreach"])


class OutreachQuery(Schema):
    group: str = Field("", max_length=40, description="CDC vaccine group, e.g. FLU, ZOSTER")
    limit: int = Field(100, ge=1, le=queries.MAX_PAGE)
    offset: int = Field(0, ge=0, le=10_000_000)


class OutreachDueOut(Schema):
    vaccine: str
    group: str
    status: str
    due_on: dt.date
    reason: str
    source: str


class OutreachRowOut(Schema):
    patient_id: int
    name: str
    date_of_birth: dt.date
    age: int
    contact_by: str
    contact: str
    last_dose_on: dt.date | None
    last_dose: str
    due: list[OutreachDueOut]


class OutreachOut(Schema):
    as_of: dt.date
    group: str
    total: int
    overdue: int
    do_not_contact: int
    too_young: int
    results: list[OutreachRowOut]


@router.get(
    "/outreach",
    response=OutreachOut,
    auth=gate(Cap.IMM_OUTREACH),
    summary="Patients due, overdue or coming up for vaccines (by age and dose history)",
    description="Overdue first. Patients who asked not to be contacted, and children "
    "younger than the pharmacy may vaccinate, are counted, not listed. Each call is "
    "recorded as PHI access.",
)
def outreach_list(request: HttpRequest, q: Query[OutreachQuery]) -> Any:
    actor = user_of(request)
    listing = queries.due_list(actor.site, group=q.group)
    page = listing.rows[q.offset : q.offset + q.limit]
    services.outreach_list_opened(
        actor=actor, listing=listing, shown=[r.patient.pk for r in page], output="json"
    )
    return {
        "as_of": listing.today,
        "group": listing.group,
        "total": len(listing.rows),
        "overdue": listing.overdue,
        "do_not_contact": listing.do_not_contact,
        "too_young": listing.too_young,
        "results": [
            {
                "patient_id": r.patient.pk,
                "name": r.patient.full_name,
                "date_of_birth": r.patient.date_of_birth,
                "age": r.age,
                "contact_by": r.contact,
                "contact": r.reach,
                "last_dose_on": r.last_dose.on if r.last_dose else None,
                "last_dose": r.last_dose.vaccine if r.last_dose else "",
                "due": [
                    {
                        "vaccine": d.vaccine,
                        "group": d.group,
                        "status": d.status.value,
                        "due_on": d.due_on,
                        "reason": d.reason,
                        "source": d.source,
                    }
                    for d in r.due
                ],
            }
            for r in page
        ],
    }
