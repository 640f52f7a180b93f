"""API: the cold chain — storage units, temperature readings, data logger imports,
excursions and the checks due today. Parse, call a service or query, serialize."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, Literal

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema, Status

from rxdesk.inventory import queries_coldchain as queries
from rxdesk.inventory.choices import ExcursionStatus, LocationKind, LotStatus, ReadingSource
from rxdesk.inventory.logger_csv import MAX_CHARS
from rxdesk.inventory.models import Excursion, ExcursionStock, TemperatureReading
from rxdesk.inventory.services import coldchain as services

router = Router(tags=["inventory"])


def _user(request: HttpRequest) -> Any:
    return request.user


class _In(Schema):
    model_config = {"extra": "forbid"}


# --- Output ----------------------------------------------------------------------------------


class ReadingOut(Schema):
    id: int
    recorded_at: dt.datetime
    minimum_c: Decimal
    maximum_c: Decimal
    current_c: Decimal | None
    source: ReadingSource
    recorded_by: str | None = Field(description="User name of who recorded or imported it")
    note: str
    out_of_range: bool = Field(description="Below the unit's lowest or above its highest °C")

    @staticmethod
    def resolve_recorded_by(obj: TemperatureReading) -> str | None:
        return obj.recorded_by.username if obj.recorded_by_id else None  # type: ignore[union-attr]

    @staticmethod
    def resolve_out_of_range(obj: TemperatureReading) -> bool:
        return queries.is_out_of_range(obj.location, obj)


class ExcursionSummaryOut(Schema):
    id: int
    unit_id: int
    unit_code: str
    status: ExcursionStatus
    started_at: dt.datetime = Field(description="When the first out-of-range reading was taken")
    detected_at: dt.datetime
    lowest_c: Decimal
    highest_c: Decimal
    response_documented: bool

    @staticmethod
    def resolve_unit_id(obj: Excursion) -> int:
        return obj.location_id

    @staticmethod
    def resolve_unit_code(obj: Excursion) -> str:
        return obj.location.code

    @staticmethod
    def resolve_started_at(obj: Excursion) -> dt.datetime:
        return obj.reading.recorded_at

    @staticmethod
    def resolve_response_documented(obj: Excursion) -> bool:
        return bool(obj.response.strip())


class ExcursionStockOut(Schema):
    balance_id: int
    ndc: str
    lot: str
    expiry: dt.date | None
    quantity_quarantined: Decimal
    on_hand: Decimal
    status: LotStatus

    @staticmethod
    def resolve_balance_id(obj: ExcursionStock) -> int:
        return obj.balance_id

    @staticmethod
    def resolve_ndc(obj: ExcursionStock) -> str:
        return obj.balance.package.ndc11

    @staticmethod
    def resolve_lot(obj: ExcursionStock) -> str:
        return obj.balance.lot.number

    @staticmethod
    def resolve_expiry(obj: ExcursionStock) -> dt.date | None:
        return obj.balance.lot.expiry

    @staticmethod
    def resolve_quantity_quarantined(obj: ExcursionStock) -> Decimal:
        return obj.quantity

    @staticmethod
    def resolve_on_hand(obj: ExcursionStock) -> Decimal:
        return obj.balance.on_hand

    @staticmethod
    def resolve_status(obj: ExcursionStock) -> str:
        return obj.balance.status


class ExcursionOut(ExcursionSummaryOut):
    responses: list[str] = Field(description="What was done, one entry each: 'when who: what'")
    resolved_by: str | None
    resolved_at: dt.datetime | None
    resolution_note: str
    stock: list[ExcursionStockOut]
    readings: list[ReadingOut] = Field(description="The out-of-range readings")

    @staticmethod
    def resolve_responses(obj: Excursion) -> list[str]:
        return queries.response_entries(obj)

    @staticmethod
    def resolve_resolved_by(obj: Excursion) -> str | None:
        return obj.resolved_by.username if obj.resolved_by_id else None  # type: ignore[union-attr]

    @staticmethod
    def resolve_stock(obj: Excursion) -> list[ExcursionStock]:
        return queries.excursion_stock(obj)

    @staticmethod
    def resolve_readings(obj: Excursion) -> list[TemperatureReading]:
        return queries.excursion_readings(obj)


class StorageUnitOut(Schema):
    id: int
    code: str
    name: str
    kind: LocationKind
    temperature_min_c: Decimal
    temperature_max_c: Decimal
    last_reading: ReadingOut | None
    open_excursion: ExcursionSummaryOut | None
    checks_today: int = Field(description="Checks recorded by hand on the pharmacy's date today")
    check_due: bool = Field(description="Fewer than two checks today")

    @staticmethod
    def resolve_id(obj: queries.UnitStatus) -> int:
        return obj.unit.pk

    @staticmethod
    def resolve_code(obj: queries.UnitStatus) -> str:
        return obj.unit.code

    @staticmethod
    def resolve_name(obj: queries.UnitStatus) -> str:
        return obj.unit.name

    @staticmethod
    def resolve_kind(obj: queries.UnitStatus) -> str:
        return obj.unit.kind

    @staticmethod
    def resolve_temperature_min_c(obj: queries.UnitStatus) -> Decimal | None:
        return obj.unit.temperature_min_c

    @staticmethod
    def resolve_temperature_max_c(obj: queries.UnitStatus) -> Decimal | None:
        return obj.unit.temperature_max_c


class ReadingDueOut(Schema):
    unit_id: int
    code: str
    name: str
    checks_today: int
    checks_needed: int
    last_reading_at: dt.datetime | None

    @staticmethod
    def resolve_unit_id(obj: queries.UnitStatus) -> int:
        return obj.unit.pk

    @staticmethod
    def resolve_code(obj: queries.UnitStatus) -> str:
        return obj.unit.code

    @staticmethod
    def resolve_name(obj: queries.UnitStatus) -> str:
        return obj.unit.name

    @staticmethod
    def resolve_last_reading_at(obj: queries.UnitStatus) -> dt.datetime | None:
        return obj.last_reading.recorded_at if obj.last_reading else None


class RecordedOut(Schema):
    reading: ReadingOut
    excursion: ExcursionSummaryOut | None = Field(
        description="The excursion this reading opened or joined (null when in range)"
    )
    excursion_opened: bool
    quarantined: list[int] = Field(description="Balances (lots) quarantined by this reading")


class LoggerImportOut(Schema):
    rows_read: int
    imported: int
    skipped: int = Field(description="Readings already on file (same unit and time)")
    out_of_range: int
    excursions_opened: int
    excursion: ExcursionSummaryOut | None
    quarantined: list[int]
    unit: Literal["C", "F"] = Field(description="The unit the file was written in")
    first_at: dt.datetime | None
    last_at: dt.datetime | None


# --- Input -----------------------------------------------------------------------------------


class ReadingIn(_In):
    minimum_c: Decimal = Field(description="Lowest °C since the last check")
    maximum_c: Decimal = Field(description="Highest °C since the last check")
    current_c: Decimal | None = Field(None, description="°C now")
    recorded_at: dt.datetime | None = Field(
        None, description="When the check was made (default now; without offset: site time)"
    )
    note: str = Field("", max_length=300)


class LoggerImportIn(_In):
    csv_text: str = Field(min_length=1, max_length=MAX_CHARS, description="The CSV export")
    unit: Literal["C", "F"] | None = Field(
        None, description="°C or °F; needed only when the file's header does not say"
    )


class RespondIn(_In):
    response: str = Field(min_length=1, max_length=services.RESPONSE_MAX)


class ExcursionResolveIn(_In):
    disposition: Literal["release", "discard"]
    note: str = Field(min_length=1, max_length=services.RESOLUTION_MAX)


class ReadingFilters(Schema):
    since: dt.datetime | None = None
    until: dt.datetime | None = None
    limit: int = Field(100, ge=1, le=queries.READINGS_LIMIT)


class ExcursionFilters(Schema):
    status: ExcursionStatus | None = None
    unit_id: int | None = Field(None, ge=1, le=2**63 - 1)


class DueFilters(Schema):
    on: dt.date | None = Field(None, description="The pharmacy's date (default today)")


# --- Operations ------------------------------------------------------------------------------


@router.get(
    "/storage-units",
    response=list[StorageUnitOut],
    summary="Refrigerators and freezers with their last reading and open excursion",
)
def storage_unit_list(request: HttpRequest) -> Any:
    return queries.storage_units(actor=_user(request))


@router.get(
    "/storage-units/{int:unit_id}/readings",
    response=list[ReadingOut],
    summary="A unit's temperature readings, newest first",
)
def reading_list(request: HttpRequest, unit_id: int, filters: Query[ReadingFilters]) -> Any:
    unit = queries.unit_for(actor=_user(request), unit_id=unit_id)
    readings = queries.unit_readings(unit, **filters.model_dump())
    for reading in readings:
        reading.location = unit
    return readings


@router.post(
    "/storage-units/{int:unit_id}/readings",
    response={201: RecordedOut},
    summary="Record a check (min, max, current °C); out of range opens an excursion",
)
def reading_create(request: HttpRequest, unit_id: int, payload: ReadingIn) -> Any:
    unit = queries.unit_for(actor=_user(request), unit_id=unit_id)
    return Status(
        201,
        services.temperature_record(actor=_user(request), location=unit, **payload.model_dump()),
    )


@router.post(
    "/storage-units/{int:unit_id}/logger-import",
    response=LoggerImportOut,
    summary="Import a data logger's CSV export (all rows or none)",
)
def logger_import(request: HttpRequest, unit_id: int, payload: LoggerImportIn) -> Any:
    unit = queries.unit_for(actor=_user(request), unit_id=unit_id)
    return services.temperature_import_logger(
        actor=_user(request), location=unit, csv_text=payload.csv_text, unit=payload.unit
    )


@router.get("/excursions", response=list[ExcursionSummaryOut], summary="Temperature excursions")
def excursion_list(request: HttpRequest, filters: Query[ExcursionFilters]) -> Any:
    return queries.excursion_list(actor=_user(request), **filters.model_dump())


@router.get(
    "/excursions/{int:excursion_id}",
    response=ExcursionOut,
    summary="An excursion with its quarantined stock and response",
)
def excursion_get(request: HttpRequest, excursion_id: int) -> Any:
    return queries.excursion_for(actor=_user(request), excursion_id=excursion_id)


@router.post(
    "/excursions/{int:excursion_id}/respond",
    response=ExcursionOut,
    summary="Document what was done about an excursion (appended)",
)
def excursion_respond(request: HttpRequest, excursion_id: int, payload: RespondIn) -> Any:
    excursion = queries.excursion_for(actor=_user(request), excursion_id=excursion_id)
    return services.excursion_respond(
        actor=_user(request), excursion=excursion, response=payload.response
    )


@router.post(
    "/excursions/{int:excursion_id}/resolve",
    response=ExcursionOut,
    summary="A pharmacist releases or discards the excursion's quarantined stock",
)
def excursion_resolve(request: HttpRequest, excursion_id: int, payload: ExcursionResolveIn) -> Any:
    excursion = queries.excursion_for(actor=_user(request), excursion_id=excursion_id)
    return services.excursion_resolve(
        actor=_user(request),
        excursion=excursion,
        disposition=payload.disposition,
        note=payload.note,
    )


@router.get(
    "/readings-due",
    response=list[ReadingDueOut],
    summary="Units with fewer than two checks recorded today (twice-daily check)",
)
def readings_due(request: HttpRequest, filters: Query[DueFilters]) -> Any:
    return queries.readings_due_for(actor=_user(request), on=filters.on)
