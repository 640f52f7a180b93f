"""Permission-matrix rows for the inventory's coldchain screens and API (same shape as
tests/test_permission_matrix.py's API_MATRIX and tests/test_permission_matrix_ui.py's
UI_MATRIX; WATCHED lists models whose row counts must not change on a refused POST).

Also the cold-chain set-up helpers the coldchain tests share: a refrigerator with its range,
and an open excursion (built directly: the behaviour under test goes through services)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.utils import timezone

from rxdesk.core.choices import Role
from rxdesk.core.models import Site
from rxdesk.inventory.choices import LocationKind, ReadingSource
from rxdesk.inventory.models import (
    Excursion,
    ExcursionStock,
    StorageLocation,
    TemperatureReading,
)

T, TT, RPH, PIC, INV, AUD, ADM = (
    Role.TECHNICIAN,
    Role.TECHNICIAN_IN_TRAINING,
    Role.PHARMACIST,
    Role.PHARMACIST_IN_CHARGE,
    Role.INVENTORY_SPECIALIST,
    Role.AUDITOR,
    Role.ADMIN,
)
VIEWERS = frozenset({T, TT, RPH, PIC, INV, AUD})
RECORDERS = frozenset({T, TT, RPH, PIC, INV})
APPROVERS = frozenset({RPH, PIC})
NOBODY: frozenset[Role] = frozenset()

P = "/api/v1/inventory"


def fridge(
    site: Site,
    code: str = "FRIDGE-1",
    *,
    kind: str = LocationKind.REFRIGERATOR,
    low: str = "2.0",
    high: str = "8.0",
) -> StorageLocation:
    """A monitored unit of ``site`` (2–8 °C by default: a refrigerator, USP <659>)."""
    unit, _ = StorageLocation.objects.get_or_create(
        site=site,
        code=code,
        defaults={
            "name": f"Vaccine {kind}",
            "kind": kind,
            "temperature_min_c": Decimal(low),
            "temperature_max_c": Decimal(high),
        },
    )
    return unit


def open_excursion(site: Site, *, response: str = "", code: str = "FRIDGE-1") -> Excursion:
    """An open excursion of ``site``'s refrigerator, one out-of-range reading an hour ago."""
    unit = fridge(site, code)
    reading = TemperatureReading.objects.create(
        location=unit,
        recorded_at=timezone.now().replace(second=0, microsecond=0) - dt.timedelta(hours=1),
        minimum_c=Decimal("3.0"),
        maximum_c=Decimal("11.5"),
        current_c=Decimal("9.0"),
        source=ReadingSource.MANUAL,
    )
    return Excursion.objects.create(
        location=unit,
        reading=reading,
        lowest_c=Decimal("3.0"),
        highest_c=Decimal("11.5"),
        response=response,
    )


LOGGER_CSV = "Timestamp,Temperature (°C)\n2024-05-01T08:00:00,4.0\n2024-05-01T08:30:00,4.5\n"


API_ROWS: dict[tuple[str, str], Any] = {
    ("GET", "/inventory/storage-units"): (
        VIEWERS,
        200,
        lambda s, u: (fridge(s) and f"{P}/storage-units", None),
    ),
    ("GET", "/inventory/storage-units/{unit_id}/readings"): (
        VIEWERS,
        200,
        lambda s, u: (f"{P}/storage-units/{fridge(s).pk}/readings", None),
    ),
    ("POST", "/inventory/storage-units/{unit_id}/readings"): (
        RECORDERS,
        201,
        lambda s, u: (
            f"{P}/storage-units/{fridge(s).pk}/readings",
            {"minimum_c": "3.1", "maximum_c": "6.0", "current_c": "4.2"},
        ),
    ),
    ("POST", "/inventory/storage-units/{unit_id}/logger-import"): (
        RECORDERS,
        200,
        lambda s, u: (f"{P}/storage-units/{fridge(s).pk}/logger-import", {"csv_text": LOGGER_CSV}),
    ),
    ("GET", "/inventory/excursions"): (
        VIEWERS,
        200,
        lambda s, u: (open_excursion(s) and f"{P}/excursions", None),
    ),
    ("GET", "/inventory/excursions/{excursion_id}"): (
        VIEWERS,
        200,
        lambda s, u: (f"{P}/excursions/{open_excursion(s).pk}", None),
    ),
    ("POST", "/inventory/excursions/{excursion_id}/respond"): (
        RECORDERS,
        200,
        lambda s, u: (
            f"{P}/excursions/{open_excursion(s).pk}/respond",
            {"response": "Door found ajar; closed it."},
        ),
    ),
    ("POST", "/inventory/excursions/{excursion_id}/resolve"): (
        APPROVERS,
        200,
        lambda s, u: (
            f"{P}/excursions/{open_excursion(s, response='Called the maker.').pk}/resolve",
            {"disposition": "release", "note": "Manufacturer: stable for this exposure."},
        ),
    ),
    ("GET", "/inventory/readings-due"): (
        VIEWERS,
        200,
        lambda s, u: (fridge(s) and f"{P}/readings-due", None),
    ),
}


def _none(site: Site) -> dict[str, Any]:
    fridge(site)
    return {}


def _unit(site: Site) -> dict[str, Any]:
    return {"pk": fridge(site).pk}


def _excursion(site: Site) -> dict[str, Any]:
    return {"pk": open_excursion(site, response="Door closed.").pk}


UI_ROWS: dict[str, Any] = {
    "inventory_coldchain": (_none, VIEWERS, NOBODY, None),
    "inventory_coldchain_reading": (_unit, RECORDERS, RECORDERS, 422),
    "inventory_coldchain_import": (_unit, RECORDERS, RECORDERS, 422),
    "inventory_coldchain_log": (_unit, VIEWERS, NOBODY, None),
    "inventory_coldchain_excursions": (_none, VIEWERS, NOBODY, None),
    "inventory_coldchain_excursion": (_excursion, VIEWERS, NOBODY, None),
    "inventory_coldchain_excursion_respond": (_excursion, RECORDERS, RECORDERS, 422),
    "inventory_coldchain_excursion_resolve": (_excursion, APPROVERS, APPROVERS, 422),
}
WATCHED: list[Any] = [TemperatureReading, Excursion, ExcursionStock]
