"""Rows of duty, cleaning, waste and equipment for tests (written directly: a test's
"given", not the thing under test)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.utils import timezone

from rxdesk.core.choices import Role
from rxdesk.core.models import Site, User
from rxdesk.operations.common import settings_of
from rxdesk.operations.models import (
    CleaningTask,
    DutyShift,
    Equipment,
    EquipmentEvent,
    OperationsSettings,
    WasteRecord,
)
from tests.factories import UserFactory


def staff(site: Site, role: Role, username: str) -> User:
    return UserFactory(site=site, role=role, username=f"{username}-{site.pk}")


def on_duty(user: User, *, minutes_ago: int = 30) -> DutyShift:
    return DutyShift.objects.create(
        site=user.site,
        person=user,
        role=user.role,
        started_at=timezone.now() - dt.timedelta(minutes=minutes_ago),
    )


def rule(site: Site, limit: int | None, *, trainees_count: bool = True) -> OperationsSettings:
    row = settings_of(site)
    row.max_technicians_per_pharmacist = limit
    row.trainees_count = trainees_count
    row.save()
    return row


def task(
    site: Site, name: str = "Wipe counting trays", frequency: str = "daily", **kw: object
) -> CleaningTask:
    created = kw.pop("created_at", timezone.now() - dt.timedelta(days=90))
    return CleaningTask.objects.create(
        site=site,
        area=kw.pop("area", "counting_trays"),
        name=name,
        frequency=frequency,
        agent=kw.pop("agent", "70% isopropyl alcohol"),
        created_at=created,
        **kw,
    )


def machine(site: Site, name: str = "Counting robot", **kw: object) -> Equipment:
    return Equipment.objects.create(
        site=site,
        name=name,
        kind=kw.pop("kind", "robot"),
        vendor=kw.pop("vendor", "Parata"),
        serial=kw.pop("serial", "SN-100"),
        maintenance_days=kw.pop("maintenance_days", 90),
        **kw,
    )


def downtime(
    equipment: Equipment, by: User, start: dt.datetime, end: dt.datetime | None = None
) -> EquipmentEvent:
    return EquipmentEvent.objects.create(
        site=equipment.site,
        equipment=equipment,
        kind="downtime",
        started_at=start,
        ended_at=end,
        description="Jammed",
        recorded_by=by,
    )


def waste(site: Site, by: User, **kw: object) -> WasteRecord:
    return WasteRecord.objects.create(
        site=site,
        kind=kw.pop("kind", "sharps"),
        quantity=kw.pop("quantity", Decimal("1")),
        unit=kw.pop("unit", "container"),
        sealed_at=kw.pop("sealed_at", timezone.now()),
        recorded_by=by,
        **kw,
    )
