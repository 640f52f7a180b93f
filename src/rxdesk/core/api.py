"""API: who am I, the site record, the audit log."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema

from rxdesk.core import services
from rxdesk.core.capabilities import Cap, capabilities_of, require
from rxdesk.core.choices import PracticeSetting
from rxdesk.core.queries import audit_search

router = Router(tags=["core"])


class MeOut(Schema):
    username: str
    name: str
    role: str
    site: str | None
    capabilities: list[str]


@router.get("/me", response=MeOut, summary="The signed-in user and what they may do")
def me(request: HttpRequest) -> dict[str, Any]:
    user = request.user
    return {
        "username": user.username,
        "name": user.display_name,  # type: ignore[union-attr]
        "role": user.role,  # type: ignore[union-attr]
        "site": user.site.name if user.site else None,  # type: ignore[union-attr]
        "capabilities": sorted(str(c) for c in capabilities_of(user.role)),  # type: ignore[union-attr]
    }


class SiteOut(Schema):
    id: int
    name: str
    address_line1: str
    address_line2: str
    city: str
    state: str
    postal_code: str
    phone: str
    ncpdp_id: str
    npi: str
    dea_number: str
    time_zone: str
    setting: PracticeSetting
    session_idle_minutes: int
    mfa_required: bool
    records_retention_years: int | None = Field(
        None, description="Years the state requires records kept (empty: none entered)"
    )


class SitePatch(Schema):
    model_config = {"extra": "forbid"}

    name: str | None = Field(None, min_length=1, max_length=120)
    address_line1: str | None = Field(None, max_length=120)
    address_line2: str | None = Field(None, max_length=120)
    city: str | None = Field(None, max_length=80)
    state: str | None = Field(None, max_length=2)
    postal_code: str | None = Field(None, max_length=10)
    phone: str | None = Field(None, max_length=20)
    ncpdp_id: str | None = Field(None, max_length=7)
    npi: str | None = Field(None, max_length=10)
    dea_number: str | None = Field(None, max_length=9)
    time_zone: str | None = Field(None, max_length=64)
    setting: PracticeSetting | None = None
    session_idle_minutes: int | None = Field(None, ge=1, le=240)
    mfa_required: bool | None = None
    records_retention_years: int | None = Field(None, ge=1, le=50)


@router.get("/site", response=SiteOut, summary="This pharmacy's site record")
def site_get(request: HttpRequest) -> Any:
    require(request.user, Cap.SITE_VIEW)  # type: ignore[arg-type]
    return request.user.site  # type: ignore[union-attr]


@router.patch("/site", response=SiteOut, summary="Change the site record")
def site_patch(request: HttpRequest, payload: SitePatch) -> Any:
    return services.site_update(
        actor=request.user,  # type: ignore[arg-type]
        site=request.user.site,  # type: ignore[union-attr]
        **payload.model_dump(exclude_unset=True),  # a null text field clears it (service)
    )


class AuditEventOut(Schema):
    seq: int
    occurred_at: dt.datetime
    actor_name: str
    actor_kind: str
    action: str
    object_type: str
    object_id: str
    patient_id: int | None
    data: dict[str, Any]
    reason: str
    request_id: str
    client_addr: str
    hash: str

    @staticmethod
    def resolve_data(obj: Any) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(obj.data)
        return data


class AuditFilter(Schema):
    who: str = Field("", max_length=150)
    action: str = Field("", max_length=80)
    patient_id: int | None = Field(None, ge=1)
    object_type: str = Field("", max_length=60)
    object_id: str = Field("", max_length=40)
    since: dt.datetime | None = None
    until: dt.datetime | None = None
    limit: int = Field(100, ge=1, le=1000)
    before_seq: int | None = Field(None, ge=1, description="page: events older than this seq")


@router.get("/audit/events", response=list[AuditEventOut], summary="Search the audit log")
def audit_events(request: HttpRequest, filters: Query[AuditFilter]) -> Any:
    values = filters.model_dump()
    limit = values.pop("limit")
    before_seq = values.pop("before_seq")
    qs = audit_search(actor=request.user, **values)  # type: ignore[arg-type]
    if before_seq:
        qs = qs.filter(seq__lt=before_seq)
    return list(qs[:limit])
