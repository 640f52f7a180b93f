"""Services of the cleaning schedule and records, the waste log and the equipment log.

The PIC keeps the cleaning schedule and the equipment list (``ops.setup``); the staff
record cleanings, waste containers sealed or picked up, and equipment maintenance,
calibration, downtime and repairs (``ops.log``). Log rows are kept as written; the
compounding area's cleaning is in the compounding app's cleanroom logs and controlled-
substance destruction is DEA Form 41 in the controlled app: neither is repeated here."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from rxdesk.core.audit import audit_record, diff, register_actions
from rxdesk.core.capabilities import Cap
from rxdesk.core.errors import Conflict, Invalid, NotFound
from rxdesk.core.models import User
from rxdesk.core.services import authorize
from rxdesk.operations.choices import (
    MANIFEST_REQUIRED,
    CleaningArea,
    CleaningFrequency,
    EquipmentEventKind,
    EquipmentKind,
    WasteKind,
    WasteUnit,
)
from rxdesk.operations.common import aware, local, signed_in, text, when_in_range
from rxdesk.operations.models import (
    CleaningRecord,
    CleaningTask,
    Equipment,
    EquipmentEvent,
    WasteRecord,
)
from rxdesk.rx.models import DispensingDevice

register_actions(
    {
        "ops.cleaning_task.created": "Cleaning task added to the schedule",
        "ops.cleaning_task.updated": "Cleaning task changed",
        "ops.cleaning.recorded": "Cleaning recorded",
        "ops.waste.recorded": "Waste container sealed or picked up",
        "ops.equipment.created": "Equipment added to the list",
        "ops.equipment.updated": "Equipment changed",
        "ops.equipment_event.recorded": "Equipment maintenance, calibration, downtime or repair",
        "ops.equipment_event.ended": "Equipment downtime or repair ended",
    }
)

NAME_MAX, AGENT_MAX, LOT_MAX, NOTE_MAX = 120, 120, 40, 300
CONTAINER_MAX, HAULER_MAX, MANIFEST_MAX = 40, 120, 40
EQUIPMENT_NAME_MAX, VENDOR_MAX, MODEL_MAX, SERIAL_MAX = 80, 80, 80, 60
TICKET_MAX, DESCRIPTION_MAX = 40, 500
MAX_QUANTITY = Decimal("9999999.999")
MAX_INTERVAL_DAYS = 3660
SEALED_STORAGE_LIMIT = dt.timedelta(days=366)
# Events that happen at a moment (they end when they start unless told otherwise).
INSTANT_KINDS = frozenset({EquipmentEventKind.MAINTENANCE, EquipmentEventKind.CALIBRATION})


def _choice(value: Any, choices: Any, *, field: str, what: str) -> str:
    if value not in choices.values:
        raise Invalid(f"Choose {what}.", field=field)
    return str(value)


# --- Cleaning ---------------------------------------------------------------------------------


def _task_fields(area: Any, name: Any, frequency: Any, agent: Any) -> tuple[str, str, str, str]:
    return (
        _choice(area, CleaningArea, field="area", what="the area"),
        text(name, field="name", limit=NAME_MAX, required=True, what="what is cleaned"),
        _choice(frequency, CleaningFrequency, field="frequency", what="how often"),
        text(agent, field="agent", limit=AGENT_MAX),
    )


def _task_snapshot(task: CleaningTask) -> dict[str, Any]:
    return {
        "area": task.area,
        "name": task.name,
        "frequency": task.frequency,
        "agent": task.agent,
        "active": task.active,
    }


def cleaning_task_create(
    *, actor: User | None, area: str, name: str, frequency: str, agent: str = ""
) -> CleaningTask:
    """Add a cleaning duty to the site's schedule (the PIC)."""
    authorize(actor, Cap.OPS_SETUP)
    actor = signed_in(actor)
    area, name, frequency, agent = _task_fields(area, name, frequency, agent)
    with transaction.atomic():
        task = CleaningTask(site=actor.site, area=area, name=name, frequency=frequency, agent=agent)
        try:
            with transaction.atomic():
                task.save()
        except IntegrityError:
            raise Conflict(
                f"{name} is already on the schedule for that area.", field="name"
            ) from None
        audit_record(
            actor=actor, action="ops.cleaning_task.created", obj=task, data=_task_snapshot(task)
        )
    return task


def cleaning_task_update(
    *,
    actor: User | None,
    task: CleaningTask,
    area: str,
    name: str,
    frequency: str,
    agent: str = "",
    active: bool = True,
) -> CleaningTask:
    """Change a cleaning duty, or take it off the schedule (``active`` False; its records
    stay)."""
    authorize(actor, Cap.OPS_SETUP)
    actor = signed_in(actor)
    area, name, frequency, agent = _task_fields(area, name, frequency, agent)
    with transaction.atomic():
        found = CleaningTask.objects.filter(pk=getattr(task, "pk", 0) or 0, site=actor.site).first()
        if found is None:
            raise NotFound("No such cleaning task at this pharmacy.", field="task")
        before = _task_snapshot(found)
        found.area, found.name, found.frequency, found.agent = area, name, frequency, agent
        found.active = bool(active)
        changes = diff(before, _task_snapshot(found))
        if not changes:
            return found
        try:
            with transaction.atomic():
                found.save()
        except IntegrityError:
            raise Conflict(
                f"{name} is already on the schedule for that area.", field="name"
            ) from None
        audit_record(
            actor=actor, action="ops.cleaning_task.updated", obj=found, data={"changes": changes}
        )
    return found


def cleaning_record(
    *,
    actor: User | None,
    task: CleaningTask,
    done_at: dt.datetime | None = None,
    agent: str = "",
    agent_lot: str = "",
    note: str = "",
) -> CleaningRecord:
    """Record a cleaning done by the actor (now, or earlier within the last 7 days). The
    agent defaults to the task's."""
    authorize(actor, Cap.OPS_LOG)
    actor = signed_in(actor)
    site = actor.site
    now = timezone.now()
    at = now if done_at is None else when_in_range(done_at, field="done_at", now=now, site=site)
    used = text(agent, field="agent", limit=AGENT_MAX)
    lot = text(agent_lot, field="agent_lot", limit=LOT_MAX)
    remark = text(note, field="note", limit=NOTE_MAX)
    with transaction.atomic():
        found = CleaningTask.objects.filter(pk=getattr(task, "pk", 0) or 0, site=site).first()
        if found is None:
            raise NotFound("No such cleaning task at this pharmacy.", field="task")
        if not found.active:
            raise Conflict(f"{found.name} is no longer on the schedule.", field="task")
        record = CleaningRecord.objects.create(
            site=site,
            task=found,
            done_by=actor,
            done_at=at,
            agent=used or found.agent,
            agent_lot=lot,
            note=remark,
        )
        audit_record(
            actor=actor,
            action="ops.cleaning.recorded",
            obj=record,
            data={"task": found.name, "area": found.area, "done_at": at.isoformat()},
        )
    return record


# --- Waste ------------------------------------------------------------------------------------


def _quantity(value: Any) -> Decimal:
    if isinstance(value, float | bool):
        raise Invalid("Give the quantity as a decimal number.", field="quantity")
    try:
        number = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise Invalid("Give the quantity as a number.", field="quantity") from None
    if not number.is_finite() or number <= 0:
        raise Invalid("The quantity must be more than 0.", field="quantity")
    if number > MAX_QUANTITY or number != number.quantize(Decimal("0.001")):
        raise Invalid("Give at most 7 digits and 3 decimals.", field="quantity")
    return number


def waste_record(
    *,
    actor: User | None,
    kind: str,
    quantity: Decimal | str,
    unit: str,
    container_id: str = "",
    hauler: str = "",
    manifest_number: str = "",
    sealed_at: dt.datetime | None = None,
    picked_up_at: dt.datetime | None = None,
    witness: User | None = None,
    note: str = "",
) -> WasteRecord:
    """Record a waste container sealed and/or picked up. A pick-up of hazardous waste
    (RCRA, P-listed, trace chemotherapy) or of a sharps container names the hauler and the
    manifest or tracking number. The witness, if any, is another member of this site's
    staff. Not for controlled substances: their destruction is DEA Form 41."""
    authorize(actor, Cap.OPS_LOG)
    actor = signed_in(actor)
    site = actor.site
    now = timezone.now()
    kind = _choice(kind, WasteKind, field="kind", what="the kind of waste")
    amount = _quantity(quantity)
    unit = _choice(unit, WasteUnit, field="unit", what="the unit")
    container = text(container_id, field="container_id", limit=CONTAINER_MAX)
    carrier = text(hauler, field="hauler", limit=HAULER_MAX)
    manifest = text(manifest_number, field="manifest_number", limit=MANIFEST_MAX).upper()
    remark = text(note, field="note", limit=NOTE_MAX)
    if sealed_at is None and picked_up_at is None:
        raise Invalid("Give when the container was sealed or picked up.", field="sealed_at")
    picked = (
        None
        if picked_up_at is None
        else when_in_range(picked_up_at, field="picked_up_at", now=now, site=site)
    )
    sealed: dt.datetime | None = None
    if sealed_at is not None and picked is not None:
        # A container sealed long ago waits for the hauler: with a pick-up, its sealing
        # date may be up to a year back.
        sealed = aware(sealed_at, field="sealed_at")
        if sealed < now - SEALED_STORAGE_LIMIT:
            raise Invalid("A container is picked up within a year of sealing.", field="sealed_at")
    elif sealed_at is not None:
        sealed = when_in_range(sealed_at, field="sealed_at", now=now, site=site)
    if sealed and picked and picked < sealed:
        raise Invalid("A container is picked up after it is sealed.", field="picked_up_at")
    if picked and kind in MANIFEST_REQUIRED:
        label = WasteKind(kind).label
        if not carrier:
            raise Invalid(f"A pick-up of {label.lower()} names the hauler.", field="hauler")
        if not manifest:
            raise Invalid(
                f"A pick-up of {label.lower()} needs the manifest or tracking number.",
                field="manifest_number",
            )
    if witness is not None:
        if getattr(witness, "site_id", None) != site.pk or not witness.is_active:
            raise Invalid("The witness is not on this pharmacy's staff.", field="witness")
        if witness.pk == actor.pk:
            raise Invalid("A witness is someone else.", field="witness")
    with transaction.atomic():
        row = WasteRecord.objects.create(
            site=site,
            kind=kind,
            container_id=container,
            quantity=amount,
            unit=unit,
            hauler=carrier,
            manifest_number=manifest,
            sealed_at=sealed,
            picked_up_at=picked,
            recorded_by=actor,
            witness=witness,
            note=remark,
        )
        audit_record(
            actor=actor,
            action="ops.waste.recorded",
            obj=row,
            data={
                "kind": kind,
                "quantity": str(amount),
                "unit": unit,
                "container_id": container,
                "manifest_number": manifest,
                "witness": witness.display_name if witness else "",
            },
        )
    return row


# --- Equipment --------------------------------------------------------------------------------


def _equipment_fields(
    actor: User,
    *,
    name: Any,
    kind: Any,
    vendor: Any,
    model: Any,
    serial: Any,
    maintenance_days: Any,
    device: DispensingDevice | None,
) -> dict[str, Any]:
    days = maintenance_days
    if days is not None and (
        isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_INTERVAL_DAYS
    ):
        raise Invalid(
            f"Give maintenance every 1 to {MAX_INTERVAL_DAYS} days, or leave it empty.",
            field="maintenance_days",
        )
    if device is not None and getattr(device, "site_id", None) != actor.site_id:
        raise Invalid("No such dispensing device at this pharmacy.", field="device")
    return {
        "name": text(name, field="name", limit=EQUIPMENT_NAME_MAX, required=True, what="a name"),
        "kind": _choice(kind, EquipmentKind, field="kind", what="the kind of equipment"),
        "vendor": text(vendor, field="vendor", limit=VENDOR_MAX),
        "model": text(model, field="model", limit=MODEL_MAX),
        "serial": text(serial, field="serial", limit=SERIAL_MAX),
        "maintenance_days": days,
        "device": device,
    }


def _equipment_snapshot(e: Equipment) -> dict[str, Any]:
    return {
        "name": e.name,
        "kind": e.kind,
        "vendor": e.vendor,
        "model": e.model,
        "serial": e.serial,
        "maintenance_days": e.maintenance_days,
        "device_id": e.device_id,
        "active": e.active,
    }


def equipment_create(
    *,
    actor: User | None,
    name: str,
    kind: str,
    vendor: str = "",
    model: str = "",
    serial: str = "",
    maintenance_days: int | None = None,
    device: DispensingDevice | None = None,
) -> Equipment:
    """Add a piece of equipment to the site's list (the PIC), optionally linked to the
    dispensing device the fills go to."""
    authorize(actor, Cap.OPS_SETUP)
    actor = signed_in(actor)
    fields = _equipment_fields(
        actor,
        name=name,
        kind=kind,
        vendor=vendor,
        model=model,
        serial=serial,
        maintenance_days=maintenance_days,
        device=device,
    )
    with transaction.atomic():
        row = Equipment(site=actor.site, **fields)
        try:
            with transaction.atomic():
                row.save()
        except IntegrityError:
            raise Conflict(f"{fields['name']} is already on the list.", field="name") from None
        audit_record(
            actor=actor, action="ops.equipment.created", obj=row, data=_equipment_snapshot(row)
        )
    return row


def equipment_update(
    *,
    actor: User | None,
    equipment: Equipment,
    name: str,
    kind: str,
    vendor: str = "",
    model: str = "",
    serial: str = "",
    maintenance_days: int | None = None,
    device: DispensingDevice | None = None,
    active: bool = True,
) -> Equipment:
    """Change a piece of equipment, or retire it (``active`` False; its log stays)."""
    authorize(actor, Cap.OPS_SETUP)
    actor = signed_in(actor)
    fields = _equipment_fields(
        actor,
        name=name,
        kind=kind,
        vendor=vendor,
        model=model,
        serial=serial,
        maintenance_days=maintenance_days,
        device=device,
    )
    with transaction.atomic():
        row = Equipment.objects.filter(pk=getattr(equipment, "pk", 0) or 0, site=actor.site).first()
        if row is None:
            raise NotFound("No such equipment at this pharmacy.", field="equipment")
        before = _equipment_snapshot(row)
        for key, value in fields.items():
            setattr(row, key, value)
        row.active = bool(active)
        changes = diff(before, _equipment_snapshot(row))
        if not changes:
            return row
        try:
            with transaction.atomic():
                row.save()
        except IntegrityError:
            raise Conflict(f"{fields['name']} is already on the list.", field="name") from None
        audit_record(
            actor=actor, action="ops.equipment.updated", obj=row, data={"changes": changes}
        )
    return row


def equipment_event_record(
    *,
    actor: User | None,
    equipment: Equipment,
    kind: str,
    started_at: dt.datetime | None = None,
    ended_at: dt.datetime | None = None,
    vendor_ticket: str = "",
    description: str = "",
) -> EquipmentEvent:
    """Log maintenance, calibration, downtime or a repair. Maintenance and calibration end
    when they start unless told; a downtime or repair with no end stays open until it is
    ended. One open downtime per piece of equipment. A downtime says what happened."""
    authorize(actor, Cap.OPS_LOG)
    actor = signed_in(actor)
    site = actor.site
    now = timezone.now()
    kind = _choice(kind, EquipmentEventKind, field="kind", what="what happened")
    start = (
        now
        if started_at is None
        else when_in_range(started_at, field="started_at", now=now, site=site)
    )
    end = (
        None if ended_at is None else when_in_range(ended_at, field="ended_at", now=now, site=site)
    )
    if end is not None and end < start:
        raise Invalid(f"It cannot end before it started ({local(site, start)}).", field="ended_at")
    if end is None and kind in INSTANT_KINDS:
        end = start
    ticket = text(vendor_ticket, field="vendor_ticket", limit=TICKET_MAX)
    what = text(description, field="description", limit=DESCRIPTION_MAX)
    if kind in (EquipmentEventKind.DOWNTIME, EquipmentEventKind.REPAIR) and not what:
        raise Invalid("Say what is wrong.", field="description")
    with transaction.atomic():
        machine = Equipment.objects.filter(pk=getattr(equipment, "pk", 0) or 0, site=site).first()
        if machine is None:
            raise NotFound("No such equipment at this pharmacy.", field="equipment")
        if not machine.active:
            raise Conflict(f"{machine.name} is retired from the list.", field="equipment")
        event = EquipmentEvent(
            site=site,
            equipment=machine,
            kind=kind,
            started_at=start,
            ended_at=end,
            vendor_ticket=ticket,
            description=what,
            recorded_by=actor,
            ended_by=actor if end is not None else None,
        )
        try:
            with transaction.atomic():
                event.save()
        except IntegrityError:
            raise Conflict(
                f"{machine.name} is already down: end that downtime first.", field="kind"
            ) from None
        audit_record(
            actor=actor,
            action="ops.equipment_event.recorded",
            obj=event,
            data={
                "equipment": machine.name,
                "kind": kind,
                "vendor_ticket": ticket,
                "open": end is None,
            },
        )
    return event


def equipment_event_end(
    *,
    actor: User | None,
    event: EquipmentEvent,
    ended_at: dt.datetime | None = None,
    vendor_ticket: str = "",
) -> EquipmentEvent:
    """End an open downtime or repair (now, or at the time given); the vendor's ticket
    number may be added now."""
    authorize(actor, Cap.OPS_LOG)
    actor = signed_in(actor)
    site = actor.site
    now = timezone.now()
    end = now if ended_at is None else when_in_range(ended_at, field="ended_at", now=now, site=site)
    ticket = text(vendor_ticket, field="vendor_ticket", limit=TICKET_MAX)
    with transaction.atomic():
        found = (
            EquipmentEvent.objects.select_for_update()
            .filter(pk=getattr(event, "pk", 0) or 0, site=site)
            .select_related("equipment")
            .first()
        )
        if found is None:
            raise NotFound("No such equipment event at this pharmacy.", field="event")
        if found.ended_at is not None:
            raise Conflict("That is already ended.", field="event")
        if end < found.started_at:
            raise Invalid(
                f"It cannot end before it started ({local(site, found.started_at)}).",
                field="ended_at",
            )
        updated = EquipmentEvent.objects.filter(pk=found.pk, ended_at__isnull=True).update(
            ended_at=end, ended_by=actor, vendor_ticket=ticket or found.vendor_ticket
        )
        if updated != 1:
            raise Conflict("That is already ended.", field="event")
        found.refresh_from_db()
        minutes = int((end - found.started_at).total_seconds() // 60)
        audit_record(
            actor=actor,
            action="ops.equipment_event.ended",
            obj=found,
            data={"equipment": found.equipment.name, "kind": found.kind, "minutes": minutes},
        )
    return found
