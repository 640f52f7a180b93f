"""Beyond-use dates by rule: USP <795> (2023) for nonsterile preparations, USP <797> (2023)
Categories 1, 2 and 3 and immediate use for sterile ones, and the in-use time of opened
containers used as sources. Pure: no Django, no database.

The tables (reference compounding-storage.md §1.4–1.8 and §4.2, from USP's fact sheet
"Compounding Standards and Beyond-Use Dates"):

- <795> Table 4: aqueous non-preserved 14 days, refrigerator only; aqueous preserved 35 days;
  nonaqueous oral liquids 90 days; other nonaqueous forms 180 days (room or refrigerator).
- <797> immediate use: administration begins within 4 hours of the start of preparation;
  no more than sterile starting components.
- <797> Category 1: 12 hours at room temperature, 24 hours refrigerated; never frozen.
- <797> Category 2 (Table 13), days at room / refrigerator / freezer:
  aseptic, not tested, ≥1 nonsterile component 1 / 4 / 45; aseptic, not tested, sterile
  components only 4 / 10 / 45; aseptic, sterility tested 30 / 45 / 60; terminally sterilized,
  not tested 14 / 28 / 45; terminally sterilized, tested 45 / 60 / 90.
- <797> Category 3 (Table 14), sterility tested always: aseptic 60 / 90 / 120; terminally
  sterilized 90 / 120 / 180.

The clock starts at the date and time of compounding. Every BUD is capped by the earliest
expiration of any component (a component is good through its expiration date, so the cap is
the end of that day in the preparation's time zone) and by a stability limit when the
formula's reference gives a shorter one. A combination the chapters do not allow raises
:class:`BudNotAllowed`, naming the field to change."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field

NONSTERILE, STERILE = "nonsterile", "sterile"
IMMEDIATE_USE = "immediate-use"
CATEGORIES = ("1", "2", "3", IMMEDIATE_USE)
ROOM, REFRIGERATOR, FREEZER = "room", "refrigerator", "freezer"
STORAGES = (ROOM, REFRIGERATOR, FREEZER)
AQUEOUS, NONAQUEOUS_ORAL_LIQUID, OTHER_NONAQUEOUS = (
    "aqueous",
    "nonaqueous-oral-liquid",
    "other-nonaqueous",
)
PREPARATIONS = (AQUEOUS, NONAQUEOUS_ORAL_LIQUID, OTHER_NONAQUEOUS)

_STORAGE_WORDS = {ROOM: "room temperature", REFRIGERATOR: "refrigerator", FREEZER: "freezer"}

# <797> Category 2, Table 13: (aseptic, sterility tested, sterile components only) → days.
# Terminally sterilized rows do not depend on the starting components.
_CATEGORY_2: dict[tuple[bool, bool, bool | None], tuple[str, dict[str, int]]] = {
    (True, False, False): (
        "aseptically processed, not sterility tested, one or more nonsterile starting components",
        {ROOM: 1, REFRIGERATOR: 4, FREEZER: 45},
    ),
    (True, False, True): (
        "aseptically processed, not sterility tested, only sterile starting components",
        {ROOM: 4, REFRIGERATOR: 10, FREEZER: 45},
    ),
    (True, True, None): (
        "aseptically processed, sterility tested and passed",
        {ROOM: 30, REFRIGERATOR: 45, FREEZER: 60},
    ),
    (False, False, None): (
        "terminally sterilized, not sterility tested",
        {ROOM: 14, REFRIGERATOR: 28, FREEZER: 45},
    ),
    (False, True, None): (
        "terminally sterilized, sterility tested and passed",
        {ROOM: 45, REFRIGERATOR: 60, FREEZER: 90},
    ),
}
# <797> Category 3, Table 14 (sterility testing always required): aseptic → days.
_CATEGORY_3: dict[bool, tuple[str, dict[str, int]]] = {
    True: (
        "aseptically processed, sterility tested and passed",
        {ROOM: 60, REFRIGERATOR: 90, FREEZER: 120},
    ),
    False: (
        "terminally sterilized, sterility tested and passed",
        {ROOM: 90, REFRIGERATOR: 120, FREEZER: 180},
    ),
}
_CATEGORY_1_HOURS = {ROOM: 12, REFRIGERATOR: 24}
IMMEDIATE_USE_HOURS = 4
# A label prints the time of a BUD this close to compounding (hours-based BUDs and short days).
SHOW_TIME_WITHIN = dt.timedelta(days=4)
# <795> Table 4: preparation → (row, days, storages allowed).
_NONSTERILE: dict[tuple[str, bool], tuple[str, int, tuple[str, ...]]] = {
    (AQUEOUS, False): (
        "aqueous (water activity ≥ 0.60), not preserved",
        14,
        (REFRIGERATOR,),
    ),
    (AQUEOUS, True): (
        "aqueous (water activity ≥ 0.60), preserved",
        35,
        (ROOM, REFRIGERATOR),
    ),
    (NONAQUEOUS_ORAL_LIQUID, False): (
        "nonaqueous oral liquid (water activity < 0.60)",
        90,
        (ROOM, REFRIGERATOR),
    ),
    (OTHER_NONAQUEOUS, False): (
        "other nonaqueous dosage form (water activity < 0.60)",
        180,
        (ROOM, REFRIGERATOR),
    ),
}


class BudNotAllowed(ValueError):
    """A combination the chapter does not allow (or an input it cannot use); ``field``
    names what to change."""

    def __init__(self, message: str, *, field: str) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


@dataclass(frozen=True)
class BudInput:
    type: str
    prepared_at: dt.datetime
    storage: str
    category: str | None = None
    aseptic: bool = True
    sterile_starting_components: bool = True
    sterility_tested: bool = False
    preserved: bool = False
    preparation: str | None = None
    component_expirations: Sequence[dt.date] = field(default_factory=tuple)
    stability_days: int | None = None


@dataclass(frozen=True)
class Bud:
    beyond_use: dt.datetime
    rule: str
    limited_by_component: bool
    limited_by_stability: bool = False
    table_limit: dt.datetime | None = None

    shows_time: bool = False
    """Whether a label must print the time as well as the date (a BUD of a few days or
    less, and always for immediate use and Category 1)."""


def beyond_use(given: BudInput) -> Bud:
    """The beyond-use date of a preparation, the rule that gave it, and whether a
    component's expiry (or the formula's stability limit) made it earlier."""
    prepared = given.prepared_at
    if prepared.tzinfo is None or prepared.utcoffset() is None:
        raise BudNotAllowed(
            "Give the preparation time with its time-zone offset.", field="prepared_at"
        )
    if given.storage not in STORAGES:
        raise BudNotAllowed(f"Storage must be one of {', '.join(STORAGES)}.", field="storage")
    if given.type == NONSTERILE:
        limit, rule = _nonsterile(given)
    elif given.type == STERILE:
        limit, rule = _sterile(given)
    else:
        raise BudNotAllowed("Type must be nonsterile or sterile.", field="type")
    return _capped(given, limit, rule)


def _nonsterile(given: BudInput) -> tuple[dt.datetime, str]:
    if given.preparation not in PREPARATIONS:
        raise BudNotAllowed(
            "A nonsterile preparation needs its kind: aqueous, nonaqueous-oral-liquid or "
            "other-nonaqueous (USP <795> Table 4).",
            field="preparation",
        )
    preserved = given.preserved if given.preparation == AQUEOUS else False
    row, days, storages = _NONSTERILE[(given.preparation, preserved)]
    if given.storage not in storages:
        allowed = " or ".join(_STORAGE_WORDS[s] for s in storages)
        raise BudNotAllowed(
            f"Under USP <795> Table 4 a preparation that is {row} is kept only in the "
            f"{allowed}; {_STORAGE_WORDS[given.storage]} storage has no beyond-use date.",
            field="storage",
        )
    rule = (
        f"USP <795> Table 4: {row}, {_STORAGE_WORDS[given.storage]}: {days} days from compounding"
    )
    return given.prepared_at + dt.timedelta(days=days), rule


def _sterile(given: BudInput) -> tuple[dt.datetime, str]:
    category, storage = given.category, given.storage
    where = _STORAGE_WORDS[storage]
    if category not in CATEGORIES:
        raise BudNotAllowed(
            "A sterile preparation needs its category: 1, 2, 3 or immediate-use.",
            field="category",
        )
    if category == IMMEDIATE_USE:
        if not given.sterile_starting_components:
            raise BudNotAllowed(
                "An immediate-use preparation may be made only from sterile products "
                "(USP <797>); one with a nonsterile component is Category 1, 2 or 3.",
                field="sterile_starting_components",
            )
        if storage == FREEZER:
            raise BudNotAllowed(
                "An immediate-use preparation is not stored: administration begins within "
                "4 hours (USP <797>); it cannot be frozen.",
                field="storage",
            )
        rule = (
            "USP <797> immediate use: administration begins within 4 hours of the start "
            "of preparation"
        )
        return given.prepared_at + dt.timedelta(hours=IMMEDIATE_USE_HOURS), rule
    if category == "1":
        if storage not in _CATEGORY_1_HOURS:
            raise BudNotAllowed(
                "USP <797> Category 1 has no frozen storage: 12 hours at room temperature "
                "or 24 hours refrigerated. Make it as Category 2 to freeze it.",
                field="storage",
            )
        hours = _CATEGORY_1_HOURS[storage]
        rule = f"USP <797> Category 1 (Table 12), {where}: {hours} hours from compounding"
        return given.prepared_at + dt.timedelta(hours=hours), rule
    if category == "2":
        tested = given.sterility_tested
        components = given.sterile_starting_components if given.aseptic and not tested else None
        row, days_by_storage = _CATEGORY_2[(given.aseptic, tested, components)]
        days = days_by_storage[storage]
        rule = f"USP <797> Category 2 (Table 13): {row}, {where}: {days} days from compounding"
        return given.prepared_at + dt.timedelta(days=days), rule
    if not given.sterility_tested:
        raise BudNotAllowed(
            "A Category 3 preparation must pass sterility testing (USP <71>); untested, "
            "make it as Category 2.",
            field="sterility_tested",
        )
    row, days_by_storage = _CATEGORY_3[given.aseptic]
    days = days_by_storage[storage]
    rule = f"USP <797> Category 3 (Table 14): {row}, {where}: {days} days from compounding"
    return given.prepared_at + dt.timedelta(days=days), rule


def _capped(given: BudInput, limit: dt.datetime, rule: str) -> Bud:
    prepared = given.prepared_at
    tz = prepared.tzinfo
    bud, by_component, by_stability = limit, False, False
    if given.stability_days is not None:
        if given.stability_days < 1:
            raise BudNotAllowed("A stability limit is at least one day.", field="stability_days")
        stable = prepared + dt.timedelta(days=given.stability_days)
        if stable < bud:
            bud, by_stability = stable, True
            rule += f"; limited by stability data to {given.stability_days} days"
    if given.component_expirations:
        earliest = min(given.component_expirations)
        if earliest < prepared.date():
            raise BudNotAllowed(
                f"A component expired on {earliest.isoformat()}, before the preparation; "
                "use an in-date lot.",
                field="component_expirations",
            )
        end_of_day = dt.datetime.combine(earliest, dt.time(23, 59), tzinfo=tz)
        if end_of_day < bud:
            bud, by_component, by_stability = end_of_day, True, False
            rule += f"; limited by the earliest component expiry, {earliest.isoformat()}"
    return Bud(
        beyond_use=bud,
        rule=rule,
        limited_by_component=by_component,
        limited_by_stability=by_stability,
        table_limit=limit,
        shows_time=bud - prepared <= SHOW_TIME_WITHIN,
    )


# --- In-use times of opened containers (USP <797> 2023; reference §1.8) ---------------------

SINGLE_DOSE, AMPULE, MULTIPLE_DOSE, PHARMACY_BULK = (
    "single-dose",
    "ampule",
    "multiple-dose",
    "pharmacy-bulk",
)


@dataclass(frozen=True)
class InUseLimits:
    """USP's limits by default; a state board may be stricter (California: 1 hour outside
    ISO 5, 6 hours inside)."""

    single_dose_iso5_hours: int = 12
    single_dose_outside_iso5_hours: int = 0
    multiple_dose_days: int = 28


@dataclass(frozen=True)
class InUse:
    until: dt.datetime
    rule: str


def in_use_until(
    container: str,
    opened_at: dt.datetime,
    *,
    in_iso5: bool = True,
    label_hours: int | None = None,
    label_days: int | None = None,
    expiry: dt.date | None = None,
    limits: InUseLimits | None = None,
) -> InUse:
    """Until when an opened source container may still be used. An ampule, or a
    single-dose container entered outside ISO 5 where the limit is 0, is good only at the
    moment it is opened."""
    limits = limits or InUseLimits()
    if opened_at.tzinfo is None:
        raise BudNotAllowed("Give when it was opened with its time-zone offset.", field="opened_at")
    if container == AMPULE:
        until, rule = opened_at, "An opened ampule is never stored: use at once, discard the rest"
    elif container == SINGLE_DOSE:
        hours = limits.single_dose_iso5_hours if in_iso5 else limits.single_dose_outside_iso5_hours
        if label_hours is not None:
            hours = min(hours, label_hours)
        until = opened_at + dt.timedelta(hours=hours)
        where = "in ISO 5 air" if in_iso5 else "outside ISO 5 air"
        rule = (
            f"Single-dose container entered {where}: {hours} hours after first puncture"
            if hours
            else f"Single-dose container entered {where}: use at once, discard the rest"
        )
    elif container == MULTIPLE_DOSE:
        days = limits.multiple_dose_days if label_days is None else label_days
        until = opened_at + dt.timedelta(days=days)
        rule = f"Multiple-dose container: {days} days after first entry"
    elif container == PHARMACY_BULK:
        if not in_iso5:
            raise BudNotAllowed(
                "A pharmacy bulk package is entered only in an ISO 5 PEC.", field="in_iso5"
            )
        if label_hours is None:
            raise BudNotAllowed(
                "Give the hours the pharmacy bulk package's labeling allows after first "
                "penetration.",
                field="label_hours",
            )
        until = opened_at + dt.timedelta(hours=label_hours)
        rule = f"Pharmacy bulk package: {label_hours} hours after first penetration (labeling)"
    else:
        raise BudNotAllowed(
            "Container must be single-dose, ampule, multiple-dose or pharmacy-bulk.",
            field="container",
        )
    if expiry is not None:
        end = dt.datetime.combine(expiry, dt.time(23, 59), tzinfo=opened_at.tzinfo)
        if end < until:
            until, rule = end, rule + f"; limited by the expiry, {expiry.isoformat()}"
    return InUse(until=until, rule=rule)
