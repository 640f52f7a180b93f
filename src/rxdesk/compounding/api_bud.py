"""API of the beyond-use date rules: the BUD of a preparation (USP <795>/<797> 2023), the
in-use time of an opened source container by the site's limits, and those limits. Parse,
call rxdesk.compounding.services_settings, serialize.

Reading is compounding.view (technicians, pharmacists, the pharmacist-in-charge, auditors),
checked before the body is read; changing the site's limits is compounding.facility. A
combination the chapter does not allow, and any malformed input, is a 422 problem body
naming the field."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from django.http import HttpRequest
from ninja import Field, Router, Schema
from pydantic import AwareDatetime, StrictBool

from rxdesk.compounding import bud, services_settings
from rxdesk.compounding.api_common import StrictIn, gate, user_of
from rxdesk.compounding.models import CompoundingSettings
from rxdesk.core.capabilities import Cap
from rxdesk.core.errors import Invalid

router = Router(tags=["compounding"])

MAX_COMPONENTS = services_settings.MAX_COMPONENTS
MAX_STABILITY_DAYS = services_settings.MAX_STABILITY_DAYS


class BudIn(StrictIn):
    type: Literal["nonsterile", "sterile"] = Field(
        ..., description="USP <795> nonsterile or USP <797> sterile"
    )
    category: Literal["1", "2", "3", "immediate-use", "nonsterile"] | None = Field(
        None, description="Sterile only: Category 1, 2, 3 or immediate-use"
    )
    prepared_at: AwareDatetime = Field(
        ..., description="When compounding began, with its offset (the BUD clock starts here)"
    )
    storage: Literal["room", "refrigerator", "freezer"]
    aseptic: StrictBool = Field(
        True, description="Sterile: aseptically processed (false: terminally sterilized)"
    )
    sterile_starting_components: StrictBool = Field(
        True, description="Sterile: only sterile starting components"
    )
    sterility_tested: StrictBool = Field(
        False, description="Sterile: sterility tested (USP <71>) and passed"
    )
    preserved: StrictBool = Field(
        False, description="Nonsterile aqueous: contains an antimicrobial preservative"
    )
    preparation: Literal["aqueous", "nonaqueous-oral-liquid", "other-nonaqueous"] | None = Field(
        None, description="Nonsterile: the USP <795> Table 4 row, by water activity"
    )
    component_expirations: list[dt.date] = Field(
        default_factory=list,
        max_length=MAX_COMPONENTS,
        description="Expiration date of each starting component (the BUD never passes the "
        "earliest)",
    )
    stability_days: int | None = Field(
        None,
        ge=1,
        le=MAX_STABILITY_DAYS,
        description="A stability limit from the formula's reference, when shorter",
    )


class BudOut(Schema):
    beyond_use: dt.datetime = Field(..., description="In the offset of prepared_at")
    rule: str = Field(..., description="The rule and table row applied, and what limited it")
    limited_by_component: bool
    limited_by_stability: bool
    table_limit: dt.datetime = Field(..., description="What the table alone allows")
    shows_time: bool = Field(..., description="The label prints the time as well as the date")


class InUseIn(StrictIn):
    container: Literal["single-dose", "ampule", "multiple-dose", "pharmacy-bulk"]
    opened_at: AwareDatetime = Field(..., description="First puncture or entry, with its offset")
    in_iso5: StrictBool = Field(True, description="Entered in ISO 5 air (a PEC)")
    label_hours: int | None = Field(
        None,
        ge=0,
        le=bud.MAX_LABEL_HOURS,
        description="Hours the manufacturer's labeling allows (required for a pharmacy bulk "
        "package)",
    )
    label_days: int | None = Field(
        None,
        ge=1,
        le=bud.MAX_LABEL_DAYS,
        description="Days the labeling allows a multiple-dose container",
    )
    expiry: dt.date | None = Field(None, description="The container's expiration date")


class InUseOut(Schema):
    in_use_until: dt.datetime = Field(..., description="In the offset of opened_at")
    rule: str


class BudSettingsOut(Schema):
    single_dose_iso5_hours: int
    single_dose_outside_iso5_hours: int
    multiple_dose_days: int
    cap_at_source_in_use: bool
    retention_years: int
    usp_defaults: bool = Field(..., description="No limits were set: USP's apply")


class BudSettingsIn(StrictIn):
    single_dose_iso5_hours: int | None = Field(None, ge=0, le=12)
    single_dose_outside_iso5_hours: int | None = Field(None, ge=0, le=12)
    multiple_dose_days: int | None = Field(None, ge=1, le=28)
    cap_at_source_in_use: StrictBool | None = None
    retention_years: int | None = Field(None, ge=3, le=30)


def _settings(s: CompoundingSettings) -> dict[str, Any]:
    return {
        "single_dose_iso5_hours": s.single_dose_iso5_hours,
        "single_dose_outside_iso5_hours": s.single_dose_outside_iso5_hours,
        "multiple_dose_days": s.multiple_dose_days,
        "cap_at_source_in_use": s.cap_at_source_in_use,
        "retention_years": s.retention_years,
        "usp_defaults": s.pk is None,
    }


@router.post(
    "/bud",
    response=BudOut,
    auth=gate(Cap.COMPOUNDING_VIEW),
    summary="The beyond-use date of a preparation by USP <795>/<797> (2023)",
    description="Never later than the table allows, the stability limit, or the end of the "
    "earliest component's expiration day. 422 names the field of a combination the chapter "
    "does not allow (e.g. storage for a row that has none, Category 3 untested).",
)
def bud_compute(request: HttpRequest, payload: BudIn) -> Any:
    result = services_settings.bud_calculate(
        bud.BudInput(
            type=payload.type,
            category=payload.category,
            prepared_at=payload.prepared_at,
            storage=payload.storage,
            aseptic=payload.aseptic,
            sterile_starting_components=payload.sterile_starting_components,
            sterility_tested=payload.sterility_tested,
            preserved=payload.preserved,
            preparation=payload.preparation,
            component_expirations=tuple(payload.component_expirations),
            stability_days=payload.stability_days,
        )
    )
    return {
        "beyond_use": result.beyond_use,
        "rule": result.rule,
        "limited_by_component": result.limited_by_component,
        "limited_by_stability": result.limited_by_stability,
        "table_limit": result.table_limit,
        "shows_time": result.shows_time,
    }


@router.post(
    "/in-use",
    response=InUseOut,
    auth=gate(Cap.COMPOUNDING_VIEW),
    summary="Until when an opened source container may be used (USP <797>, site limits)",
    description="By the site's limits (USP's when none were set); the labeling may shorten a "
    "limit; the expiry caps it.",
)
def in_use_compute(request: HttpRequest, payload: InUseIn) -> Any:
    result = services_settings.in_use_calculate(
        site=user_of(request).site,
        container=payload.container,
        opened_at=payload.opened_at,
        in_iso5=payload.in_iso5,
        label_hours=payload.label_hours,
        label_days=payload.label_days,
        expiry=payload.expiry,
    )
    return {"in_use_until": result.until, "rule": result.rule}


@router.get(
    "/settings",
    response=BudSettingsOut,
    auth=gate(Cap.COMPOUNDING_VIEW),
    summary="The site's compounding limits (USP's when none were set)",
)
def settings_read(request: HttpRequest) -> Any:
    return _settings(services_settings.compounding_settings_get(user_of(request).site))


@router.patch(
    "/settings",
    response=BudSettingsOut,
    auth=gate(Cap.COMPOUNDING_FACILITY),
    summary="Change the site's compounding limits (pharmacist-in-charge)",
    description="Only stricter than USP: single-dose 0–12 hours in ISO 5 and never longer "
    "outside it, multiple-dose 1–28 days, records kept 3–30 years.",
)
def settings_update(request: HttpRequest, payload: BudSettingsIn) -> Any:
    fields = payload.model_dump(exclude_unset=True)
    nulls = sorted(name for name, value in fields.items() if value is None)
    if nulls:
        raise Invalid(errors=[{"field": n, "message": "Give a value."} for n in nulls])
    saved = services_settings.compounding_settings_update(actor=user_of(request), **fields)
    return _settings(saved)
