"""Cold chain: temperature readings of refrigerators and freezers, entered at each check or
imported from a data logger; excursions detected automatically; the response documented;
a pharmacist's release or discard of the stock the excursion quarantined.

Why the rules are what they are (CDC Vaccine Storage and Handling Toolkit; USP <659>;
docs in shared/reference/compounding-storage.md §7):

* a reading outside the unit's range quarantines the stock in it at once, in the same
  transaction: exposed product is labelled "do not use" and never dispensed until a
  pharmacist has decided (the ledger holds QUARANTINED stock back through every door);
* a unit has at most one open excursion: further out-of-range readings join it and widen
  its lowest/highest, because manufacturers judge the total exposure;
* a pharmacist resolves it only after the response (what was done, whom they called) is
  documented; release returns the stock to available, discard wastes it through the ledger.

Each service: one transaction, the capability first, the rules, the writes, one audit event
last. Readings of one unit are serialised by locking the unit's row (PostgreSQL; SQLite
serialises all writers), so two readings can never open two excursions for one unit.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F, TextField, Value
from django.db.models.functions import Concat
from django.utils import timezone

from rxdesk.core.audit import audit_record, register_actions
from rxdesk.core.capabilities import Cap
from rxdesk.core.errors import Conflict, Invalid, NotFound
from rxdesk.core.models import Site, User
from rxdesk.core.services import authorize
from rxdesk.inventory import ledger
from rxdesk.inventory.choices import (
    AdjustReason,
    ExcursionStatus,
    LotStatus,
    MoveReason,
    ReadingSource,
)
from rxdesk.inventory.ledger import Ref
from rxdesk.inventory.logger_csv import (
    PLAUSIBLE_MAX_C,
    PLAUSIBLE_MIN_C,
    TENTH,
    LoggerCsvError,
    LoggerRow,
    parse_logger_csv,
)
from rxdesk.inventory.models import (
    Excursion,
    ExcursionStock,
    StockBalance,
    StorageLocation,
    TemperatureReading,
)
from rxdesk.inventory.services.common import site_of

register_actions(
    {
        "inventory.temperature.recorded": "Temperature reading recorded",
        "inventory.temperature.imported": "Data logger readings imported",
        "inventory.excursion.responded": "Temperature excursion response documented",
        "inventory.excursion.resolved": "Temperature excursion resolved by a pharmacist",
    }
)

# A workstation's clock and the server's may differ by a little; a reading "from the
# future" beyond this is a wrong date, not drift.
CLOCK_SKEW = dt.timedelta(minutes=2)
NOTE_MAX = 300
RESPONSE_MAX = 2000
RESOLUTION_MAX = 1000

RELEASE = "release"
DISCARD = "discard"
DISPOSITIONS = {RELEASE: ExcursionStatus.RELEASED, DISCARD: ExcursionStatus.DISCARDED}


# --- Values ----------------------------------------------------------------------------------


def temperature_of(value: Any, *, field: str, required: bool = True) -> Decimal | None:
    """A temperature in °C with at most one decimal, within what a unit can read."""
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise Invalid("Enter the temperature in °C.", field=field)
        return None
    if isinstance(value, bool):
        raise Invalid(f"'{value}' is not a temperature.", field=field)
    text = str(value).strip().replace("−", "-")
    try:
        number = Decimal(text)
    except (InvalidOperation, ValueError):
        raise Invalid(f"'{text[:20]}' is not a temperature.", field=field) from None
    if not number.is_finite():
        raise Invalid("Enter a number.", field=field)
    if not PLAUSIBLE_MIN_C <= number <= PLAUSIBLE_MAX_C:
        raise Invalid(
            f"{number.normalize():f} °C is not a plausible reading "
            f"({PLAUSIBLE_MIN_C} to +{PLAUSIBLE_MAX_C} °C); check the unit (°C, not °F).",
            field=field,
        )
    if number != number.quantize(TENTH):
        raise Invalid("Use at most one decimal place.", field=field)
    return number.quantize(TENTH)


def out_of_range(unit: StorageLocation, low: Decimal, high: Decimal) -> bool:
    """A reading whose minimum is below, or maximum above, the unit's allowed range."""
    assert unit.temperature_min_c is not None and unit.temperature_max_c is not None
    return low < unit.temperature_min_c or high > unit.temperature_max_c


def quarantine_reason(excursion: Excursion, unit: StorageLocation) -> str:
    return f"Temperature excursion #{excursion.pk} in {unit.code}"


def _unit_at(site: Site, location: StorageLocation) -> StorageLocation:
    """The monitored, in-use unit at ``site``, its row locked for the transaction."""
    unit = StorageLocation.objects.select_for_update().filter(pk=location.pk, site=site).first()
    if unit is None:
        raise NotFound("No such storage unit at this pharmacy.")
    if not unit.monitored:
        raise Conflict(
            f"{unit.code} has no temperature range; give it one before recording readings.",
            field="location",
        )
    if not unit.active:
        raise Conflict(f"{unit.code} is out of use.", field="location")
    return unit


def _excursion_at(site: Site, excursion: Excursion) -> Excursion:
    found = (
        Excursion.objects.select_related("location", "reading")
        .filter(pk=excursion.pk, location__site=site)
        .first()
    )
    if found is None:
        raise NotFound("No such excursion at this pharmacy.")
    return found


def _local(when: dt.datetime, site: Site) -> str:
    return when.astimezone(site.tz).strftime("%m/%d/%Y %H:%M")


def _who(actor: User | None) -> str:
    if actor is None:
        return "system"
    name = actor.display_name
    return name if name == actor.username else f"{name} ({actor.username})"


# --- Excursions and quarantine ---------------------------------------------------------------


@dataclass
class _Exposure:
    excursion: Excursion | None = None
    opened: bool = False
    quarantined: list[int] = field(default_factory=list)


def _expose(
    *,
    site: Site,
    unit: StorageLocation,
    first: TemperatureReading,
    lowest: Decimal,
    highest: Decimal,
) -> _Exposure:
    """Open an excursion for ``unit`` (or join its open one, widening lowest/highest) and
    quarantine the available stock kept in it."""
    result = _Exposure()
    current = (
        Excursion.objects.filter(location=unit, status=ExcursionStatus.OPEN)
        .order_by("detected_at", "pk")
        .first()
    )
    if current is None:
        current = Excursion.objects.create(
            location=unit,
            reading=first,
            detected_at=timezone.now(),
            lowest_c=lowest,
            highest_c=highest,
        )
        result.opened = True
    else:
        # Read, widen, write: safe because the caller holds the unit's row lock, so no
        # other reading of this unit is between our read and our write.
        current.lowest_c = min(current.lowest_c, lowest)
        current.highest_c = max(current.highest_c, highest)
        current.save(update_fields=["lowest_c", "highest_c"])
    result.excursion = current

    reason = quarantine_reason(current, unit)
    exposed = StockBalance.objects.filter(
        site=site, location=unit, on_hand__gt=0, status=LotStatus.AVAILABLE
    ).order_by("pk")
    for balance in exposed:
        if not ledger.status_set(
            balance=balance,
            status=LotStatus.QUARANTINED,
            reason=reason,
            only_from=[LotStatus.AVAILABLE],
        ):
            continue  # a recall changed it meanwhile: that process holds it now
        on_hand = StockBalance.objects.filter(pk=balance.pk).values_list("on_hand", flat=True)
        ExcursionStock.objects.get_or_create(
            excursion=current, balance=balance, defaults={"quantity": on_hand.get()}
        )
        result.quarantined.append(balance.pk)
    return result


# --- Readings --------------------------------------------------------------------------------


@dataclass(frozen=True)
class RecordedReading:
    """What recording a reading did: the reading, and the excursion it opened or joined."""

    reading: TemperatureReading
    excursion: Excursion | None
    excursion_opened: bool
    quarantined: list[int]


def temperature_record(
    *,
    actor: User | None,
    location: StorageLocation,
    minimum_c: Any,
    maximum_c: Any,
    current_c: Any = None,
    recorded_at: dt.datetime | None = None,
    note: str = "",
    site: Site | None = None,
) -> RecordedReading:
    """Record a check of a refrigerator or freezer: the minimum and maximum since the last
    check and the temperature now, in °C. A reading outside the unit's range opens an
    excursion (or joins the open one) and quarantines the available stock in the unit."""
    authorize(actor, Cap.COLD_CHAIN_RECORD)
    low = temperature_of(minimum_c, field="minimum_c")
    high = temperature_of(maximum_c, field="maximum_c")
    now_value = temperature_of(current_c, field="current_c", required=False)
    assert low is not None and high is not None
    if low > high:
        raise Invalid("The maximum cannot be below the minimum.", field="maximum_c")
    if now_value is not None and not low <= now_value <= high:
        raise Invalid(
            f"The current temperature must lie between the minimum ({low}) and the maximum "
            f"({high}).",
            field="current_c",
        )
    note = (note or "").strip()
    if len(note) > NOTE_MAX:
        raise Invalid(f"A note has at most {NOTE_MAX} characters.", field="note")
    with transaction.atomic():
        where = site_of(actor, site)
        unit = _unit_at(where, location)
        now = timezone.now()
        when = recorded_at or now
        if timezone.is_naive(when):
            when = when.replace(tzinfo=where.tz)
        # A check is logged to the minute; a second one in the same minute is a double
        # submit, and must not count as the day's second check.
        when = when.replace(second=0, microsecond=0)
        if when > now + CLOCK_SKEW:
            raise Invalid("A reading cannot be in the future.", field="recorded_at")
        taken = f"{unit.code} already has a reading at {_local(when, where)}."
        if TemperatureReading.objects.filter(location=unit, recorded_at=when).exists():
            raise Conflict(taken, field="recorded_at")
        try:
            with transaction.atomic():
                reading = TemperatureReading.objects.create(
                    location=unit,
                    recorded_at=when,
                    minimum_c=low,
                    maximum_c=high,
                    current_c=now_value,
                    source=ReadingSource.MANUAL,
                    recorded_by=actor,
                    note=note,
                )
        except IntegrityError:
            raise Conflict(taken, field="recorded_at") from None
        exposure = _Exposure()
        if out_of_range(unit, low, high):
            exposure = _expose(site=where, unit=unit, first=reading, lowest=low, highest=high)
        audit_record(
            actor=actor,
            site=where,
            action="inventory.temperature.recorded",
            obj=reading,
            data={
                "location": unit.code,
                "recorded_at": when.isoformat(),
                "minimum_c": str(low),
                "maximum_c": str(high),
                "current_c": None if now_value is None else str(now_value),
                "excursion": exposure.excursion.pk if exposure.excursion else None,
                "excursion_opened": exposure.opened,
                "quarantined": exposure.quarantined,
            },
        )
    return RecordedReading(
        reading=reading,
        excursion=exposure.excursion,
        excursion_opened=exposure.opened,
        quarantined=exposure.quarantined,
    )


@dataclass(frozen=True)
class LoggerImport:
    """What a data logger import did."""

    rows_read: int
    imported: int
    skipped: int
    out_of_range: int
    excursions_opened: int
    excursion: Excursion | None
    quarantined: list[int]
    unit: str
    first_at: dt.datetime | None
    last_at: dt.datetime | None


def temperature_import_logger(
    *,
    actor: User | None,
    location: StorageLocation,
    csv_text: str,
    unit: str | None = None,
    site: Site | None = None,
) -> LoggerImport:
    """Import a data logger's CSV export for one unit (see rxdesk.inventory.logger_csv for
    the formats read). All or nothing: a bad row names its line and column and nothing is
    imported. Readings already on file (same unit and time) are skipped and counted. The
    file's out-of-range readings open one excursion (or join the unit's open one)."""
    authorize(actor, Cap.COLD_CHAIN_RECORD)
    where = site_of(actor, site)
    # Parsed before the transaction: a large file holds no lock while it is read.
    try:
        export = parse_logger_csv(csv_text, tz=where.tz, unit=unit)
    except LoggerCsvError as exc:
        raise Invalid(exc.message, field=exc.field, row=exc.row, column=exc.column) from None
    now = timezone.now()
    for row in export.rows:
        if row.recorded_at > now + CLOCK_SKEW:
            raise Invalid(
                f"Row {row.row}: {_local(row.recorded_at, where)} is in the future; check the "
                "logger's clock.",
                field="csv_text",
                row=row.row,
            )
    with transaction.atomic():
        place = _unit_at(where, location)
        times = [r.recorded_at for r in export.rows]
        on_file = set(
            TemperatureReading.objects.filter(
                location=place, recorded_at__gte=min(times), recorded_at__lte=max(times)
            ).values_list("recorded_at", flat=True)
        )
        new_rows: list[LoggerRow] = sorted(
            (r for r in export.rows if r.recorded_at not in on_file), key=lambda r: r.recorded_at
        )
        try:
            with transaction.atomic():
                TemperatureReading.objects.bulk_create(
                    [
                        TemperatureReading(
                            location=place,
                            recorded_at=r.recorded_at,
                            minimum_c=r.minimum_c,
                            maximum_c=r.maximum_c,
                            current_c=r.current_c,
                            source=ReadingSource.LOGGER,
                            recorded_by=actor,
                            note=f"Logger import, row {r.row}",
                        )
                        for r in new_rows
                    ]
                )
        except IntegrityError:
            raise Conflict(
                "Readings of this unit were saved while the file was imported; import it "
                "again (readings on file are skipped)."
            ) from None
        outside = [r for r in new_rows if out_of_range(place, r.minimum_c, r.maximum_c)]
        exposure = _Exposure()
        if outside:
            first = TemperatureReading.objects.get(
                location=place, recorded_at=outside[0].recorded_at
            )
            exposure = _expose(
                site=where,
                unit=place,
                first=first,
                lowest=min(r.minimum_c for r in outside),
                highest=max(r.maximum_c for r in outside),
            )
        summary = LoggerImport(
            rows_read=len(export.rows),
            imported=len(new_rows),
            skipped=len(export.rows) - len(new_rows),
            out_of_range=len(outside),
            excursions_opened=1 if exposure.opened else 0,
            excursion=exposure.excursion,
            quarantined=exposure.quarantined,
            unit=export.unit,
            first_at=min(times),
            last_at=max(times),
        )
        audit_record(
            actor=actor,
            site=where,
            action="inventory.temperature.imported",
            obj=place,
            data={
                "location": place.code,
                "unit": export.unit,
                "rows_read": summary.rows_read,
                "imported": summary.imported,
                "skipped": summary.skipped,
                "out_of_range": summary.out_of_range,
                "first_at": min(times).isoformat(),
                "last_at": max(times).isoformat(),
                "excursion": exposure.excursion.pk if exposure.excursion else None,
                "excursion_opened": exposure.opened,
                "quarantined": exposure.quarantined,
            },
        )
    return summary


# --- Excursions ------------------------------------------------------------------------------


def excursion_respond(
    *, actor: User | None, excursion: Excursion, response: str, site: Site | None = None
) -> Excursion:
    """Document what was done about an open excursion (door closed, unit serviced, stock
    moved, manufacturer called and what they said). Each entry is appended with who and when;
    nothing earlier is overwritten."""
    authorize(actor, Cap.COLD_CHAIN_RECORD)
    text = (response or "").strip()
    if not text:
        raise Invalid("Say what was done and whom you called.", field="response")
    if len(text) > RESPONSE_MAX:
        raise Invalid(f"At most {RESPONSE_MAX} characters per entry.", field="response")
    with transaction.atomic():
        where = site_of(actor, site)
        fresh = _excursion_at(where, excursion)
        if fresh.status != ExcursionStatus.OPEN:
            raise Conflict("This excursion has been resolved; its record is closed.")
        entry = f"{_local(timezone.now(), where)} {_who(actor)}: {' '.join(text.split())}\n"
        # Appended in the statement: two people documenting at once both stay on record.
        appended = Excursion.objects.filter(pk=fresh.pk, status=ExcursionStatus.OPEN).update(
            response=Concat(F("response"), Value(entry), output_field=TextField())
        )
        if appended != 1:
            raise Conflict("This excursion has been resolved; its record is closed.")
        fresh.refresh_from_db(fields=["response"])
        audit_record(
            actor=actor,
            site=where,
            action="inventory.excursion.responded",
            obj=fresh,
            data={"location": fresh.location.code, "entry": entry.strip()},
        )
    return fresh


def excursion_resolve(
    *,
    actor: User | None,
    excursion: Excursion,
    disposition: str,
    note: str,
    site: Site | None = None,
) -> Excursion:
    """A pharmacist's decision on the stock an excursion quarantined: ``release`` returns it
    to available stock, ``discard`` takes what is left out of stock as contaminated waste
    and marks the lot damaged. Stock whose status has since changed (recalled, expired,
    held, released by hand) belongs to that process now and stays as it is."""
    authorize(actor, Cap.INVENTORY_APPROVE)
    if disposition not in DISPOSITIONS:
        raise Invalid("Choose release or discard.", field="disposition")
    note = (note or "").strip()
    if not note:
        raise Invalid(
            "Say what the decision rests on (e.g. the manufacturer's determination).",
            field="note",
        )
    if len(note) > RESOLUTION_MAX:
        raise Invalid(f"At most {RESOLUTION_MAX} characters.", field="note")
    with transaction.atomic():
        where = site_of(actor, site)
        fresh = _excursion_at(where, excursion)
        if fresh.status != ExcursionStatus.OPEN:
            raise Conflict(f"This excursion is closed ({fresh.get_status_display().lower()}).")
        if not fresh.response.strip():
            raise Conflict(
                "Document the response first: what was done, and what the manufacturer said.",
                field="response",
            )
        now = timezone.now()
        claimed = Excursion.objects.filter(pk=fresh.pk, status=ExcursionStatus.OPEN).update(
            status=DISPOSITIONS[disposition],
            resolved_by=actor,
            resolved_at=now,
            resolution_note=note,
        )
        if claimed != 1:
            raise Conflict("Someone resolved this excursion meanwhile; look again.")
        fresh.refresh_from_db()
        held_for = quarantine_reason(fresh, fresh.location)
        today = where.today()
        released: list[int] = []
        discarded: list[dict[str, Any]] = []
        left: list[dict[str, Any]] = []
        rows = ExcursionStock.objects.filter(excursion=fresh).order_by("pk")
        # Several balances change: lock them in the ledger's one order first (no deadlock),
        # so the statuses read below are the committed ones.
        ledger.lock_in_order(rows.values_list("balance_id", flat=True))
        for row in rows:
            balance = (
                StockBalance.objects.select_related("lot", "package", "site")
                .filter(pk=row.balance_id)
                .get()
            )
            if balance.status != LotStatus.QUARANTINED or balance.status_reason != held_for:
                left.append({"balance": balance.pk, "status": balance.status})
                continue
            if disposition == RELEASE:
                expiry = balance.lot.expiry
                if expiry is not None and expiry < today:
                    left.append({"balance": balance.pk, "status": "expired"})
                    continue
                if ledger.status_set(
                    balance=balance,
                    status=LotStatus.AVAILABLE,
                    reason=f"Released after excursion #{fresh.pk}",
                    only_from=[LotStatus.QUARANTINED],
                ):
                    released.append(balance.pk)
                else:
                    left.append({"balance": balance.pk, "status": "changed"})
                continue
            quantity = balance.on_hand
            move_id = None
            if quantity > 0:
                move = ledger.post_out(
                    balance=balance,
                    quantity=quantity,
                    reason=MoveReason.WASTE,
                    adjust_reason=AdjustReason.CONTAMINATED,
                    actor=actor,
                    ref=Ref("excursion", fresh.pk),
                    note=f"Temperature excursion #{fresh.pk}: {note}",
                )
                move_id = move.pk
            ledger.status_set(
                balance=balance,
                status=LotStatus.DAMAGED,
                reason=f"Discarded after excursion #{fresh.pk}",
                only_from=[LotStatus.QUARANTINED],
            )
            discarded.append({"balance": balance.pk, "quantity": str(quantity), "move": move_id})
        audit_record(
            actor=actor,
            site=where,
            action="inventory.excursion.resolved",
            obj=fresh,
            reason=note,
            data={
                "location": fresh.location.code,
                "disposition": disposition,
                "status": fresh.status,
                "released": released,
                "discarded": discarded,
                "left": left,
            },
        )
    return fresh


__all__ = [
    "DISCARD",
    "RELEASE",
    "LoggerImport",
    "RecordedReading",
    "excursion_resolve",
    "excursion_respond",
    "out_of_range",
    "temperature_import_logger",
    "temperature_of",
    "temperature_record",
]
