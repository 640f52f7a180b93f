"""CSV of each log for an inspector: duty shifts, cleaning, waste, equipment. Times in the
site's time zone; a cell that a spreadsheet would run as a formula is quoted with '."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from rxdesk.core.models import Site, User
from rxdesk.operations import queries

LOGS = ("duty", "cleaning", "waste", "equipment")


def safe_cell(value: Any) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _t(site: Site, value: dt.datetime | None) -> str:
    return "" if value is None else value.astimezone(site.tz).strftime("%Y-%m-%d %H:%M")


def _write(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([safe_cell(v) for v in row])
    return out.getvalue()


def duty_csv(actor: User, start: dt.date | None, end: dt.date | None) -> str:
    site = actor.site
    rows = queries.shift_log(actor=actor, start=start, end=end).order_by("started_at", "pk")
    return _write(
        [
            "started",
            "ended",
            "person",
            "role",
            "over ratio",
            "technicians",
            "pharmacists",
            "reason",
            "warned",
            "ended by",
            "end reason",
            "left past ratio",
        ],
        (
            [
                _t(site, s.started_at),
                _t(site, s.ended_at),
                s.person.display_name,
                s.get_role_display(),
                "yes" if s.over_ratio else "no",
                s.technicians_at_sign_on,
                s.pharmacists_at_sign_on,
                s.over_ratio_reason,
                s.warned,
                s.ended_by.display_name if s.ended_by else "",
                s.end_reason,
                "yes" if s.ended_over_ratio else "no",
            ]
            for s in rows
        ),
    )


def cleaning_csv(actor: User, start: dt.date | None, end: dt.date | None) -> str:
    site = actor.site
    rows = queries.cleaning_log(actor=actor, start=start, end=end).order_by("done_at", "pk")
    return _write(
        ["done at", "area", "task", "frequency", "done by", "agent", "agent lot", "note"],
        (
            [
                _t(site, r.done_at),
                r.task.get_area_display(),
                r.task.name,
                r.task.get_frequency_display(),
                r.done_by.display_name,
                r.agent,
                r.agent_lot,
                r.note,
            ]
            for r in rows
        ),
    )


def waste_csv(actor: User, start: dt.date | None, end: dt.date | None) -> str:
    site = actor.site
    rows = queries.waste_log(actor=actor, start=start, end=end).order_by("recorded_at", "pk")
    return _write(
        [
            "recorded at",
            "kind",
            "container",
            "quantity",
            "unit",
            "sealed at",
            "picked up at",
            "hauler",
            "manifest or tracking",
            "recorded by",
            "witness",
            "note",
        ],
        (
            [
                _t(site, w.recorded_at),
                w.get_kind_display(),
                w.container_id,
                w.quantity,
                w.unit,
                _t(site, w.sealed_at),
                _t(site, w.picked_up_at),
                w.hauler,
                w.manifest_number,
                w.recorded_by.display_name,
                w.witness.display_name if w.witness else "",
                w.note,
            ]
            for w in rows
        ),
    )


def equipment_csv(actor: User, start: dt.date | None, end: dt.date | None) -> str:
    site = actor.site
    rows = queries.equipment_events(actor=actor, start=start, end=end).order_by("started_at", "pk")
    return _write(
        [
            "equipment",
            "serial",
            "event",
            "started",
            "ended",
            "minutes",
            "vendor ticket",
            "description",
            "recorded by",
        ],
        (
            [
                e.equipment.name,
                e.equipment.serial,
                e.get_kind_display(),
                _t(site, e.started_at),
                _t(site, e.ended_at),
                ""
                if e.ended_at is None
                else int((e.ended_at - e.started_at).total_seconds() // 60),
                e.vendor_ticket,
                e.description,
                e.recorded_by.display_name,
            ]
            for e in rows
        ),
    )


WRITERS: dict[str, Callable[[User, dt.date | None, dt.date | None], str]] = {
    "duty": duty_csv,
    "cleaning": cleaning_csv,
    "waste": waste_csv,
    "equipment": equipment_csv,
}
