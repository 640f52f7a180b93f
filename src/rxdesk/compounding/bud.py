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
:class:`BudNotAllowed`, naming the field to change.

Hours and days are elapsed time: the arithmetic is done in UTC and the answer is given back
in the preparation's own time zone, so a 12-hour BUD is 12 hours even across a daylight
saving change (wall-clock arithmetic would give 13 in November)."""

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
    if not EARLIEST_YEAR <= prepared.year <= LATEST_YEAR:
        raise BudNotAllowed(
            f"The preparation time must fall between {EARLIEST_YEAR} and {LATEST_YEAR}.",
            field="prepared_at",
        )
    if given.storage not in STORAGES:
        raise BudNotAllowed(f"Storage must be one of {', '.join(STORAGES)}.", field="storage")
    if given.type == NONSTERILE:
        span, rule = _nonsterile(given)
    elif given.type == STERILE:
        span, rule = _sterile(given)
    else:
        raise BudNotAllowed("Type must be nonsterile or sterile.", field="type")
    return _capped(given, span, rule)


# Sane bounds for a preparation time: keeps the date arithmetic far from datetime's limits.
EARLIEST_YEAR, LATEST_YEAR = 1900, 2999
# Longer than any table limit (180 days): a stability limit beyond it never binds.
_LONGEST = dt.timedelta(days=366)


def _count(n: int, unit: str) -> str:
    return f"{n} {unit}" if n == 1 else f"{n} {unit}s"


def _later(start: dt.datetime, span: dt.timedelta) -> dt.datetime:
    """``start`` plus elapsed ``span``, in ``start``'s time zone (UTC arithmetic)."""
    return (start.astimezone(dt.UTC) + span).astimezone(start.tzinfo)


def _nonsterile(given: BudInput) -> tuple[dt.timedelta, str]:
    if given.category not in (None, "", NONSTERILE):
        raise BudNotAllowed(
            "A nonsterile preparation has no sterile category; leave the category out "
            "(or make it as a sterile preparation).",
            field="category",
        )
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
    where = _STORAGE_WORDS[given.storage]
    rule = f"USP <795> Table 4: {row}, {where}: {_count(days, 'day')} from compounding"
    return dt.timedelta(days=days), rule


def _sterile(given: BudInput) -> tuple[dt.timedelta, str]:
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
        return dt.timedelta(hours=IMMEDIATE_USE_HOURS), rule
    if category == "1":
        if storage not in _CATEGORY_1_HOURS:
            raise BudNotAllowed(
                "USP <797> Category 1 has no frozen storage: 12 hours at room temperature "
                "or 24 hours refrigerated. Make it as Category 2 to freeze it.",
                field="storage",
            )
        hours = _CATEGORY_1_HOURS[storage]
        rule = f"USP <797> Category 1 (Table 12), {where}: {_count(hours, 'hour')} from compounding"
        return dt.timedelta(hours=hours), rule
    if category == "2":
        tested = given.sterility_tested
        components = given.sterile_starting_components if given.aseptic and not tested else None
        row, days_by_storage = _CATEGORY_2[(given.aseptic, tested, components)]
        days = days_by_storage[storage]
        rule = (
            f"USP <797> Category 2 (Table 13): {row}, {where}: {_count(days, 'day')} "
            "from compounding"
        )
        return dt.timedelta(days=days), rule
    if not given.sterility_tested:
        raise BudNotAllowed(
            "A Category 3 preparation must pass sterility testing (USP <71>); untested, "
            "make it as Category 2.",
            field="sterility_tested",
        )
    row, days_by_storage = _CATEGORY_3[given.aseptic]
    days = days_by_storage[storage]
    rule = (
        f"USP <797> Category 3 (Table 14): {row}, {where}: {_count(days, 'day')} from compounding"
    )
    return dt.timedelta(days=days), rule


def _capped(given: BudInput, span: dt.timedelta, rule: str) -> Bud:
    """The table limit capped by the stability limit and the earliest component expiry;
    the rule names only the limit that binds (a tie goes to the table)."""
    prepared = given.prepared_at
    tz = prepared.tzinfo
    limit = _later(prepared, span)
    bud, by_component, by_stability, because = limit, False, False, ""
    if given.stability_days is not None:
        if given.stability_days < 1:
            raise BudNotAllowed("A stability limit is at least one day.", field="stability_days")
        stable_span = dt.timedelta(days=min(given.stability_days, _LONGEST.days))
        if stable_span < span:
            bud, by_stability = _later(prepared, stable_span), True
            because = f"; limited by stability data to {_count(given.stability_days, 'day')}"
    if given.component_expirations:
        earliest = min(given.component_expirations)
        # A component is good through its expiration date: the cap is that day's end.
        # Compared as dates first, so a far-future expiry (9999-12-31) never overflows.
        if earliest <= bud.date():
            end_of_day = dt.datetime.combine(earliest, dt.time(23, 59), tzinfo=tz)
            if end_of_day.astimezone(dt.UTC) <= prepared.astimezone(dt.UTC):
                raise BudNotAllowed(
                    f"A component expired on {earliest.isoformat()}, before the preparation; "
                    "use an in-date lot.",
                    field="component_expirations",
                )
            if end_of_day.astimezone(dt.UTC) < bud.astimezone(dt.UTC):
                bud, by_component, by_stability = end_of_day, True, False
                because = f"; limited by the earliest component expiry, {earliest.isoformat()}"
    return Bud(
        beyond_use=bud,
        rule=rule + because,
        limited_by_component=by_component,
        limited_by_stability=by_stability,
        table_limit=limit,
        shows_time=bud.astimezone(dt.UTC) - prepared.astimezone(dt.UTC) <= SHOW_TIME_WITHIN,
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
    moment it is opened. The manufacturer's labeling may shorten a limit, never lengthen
    one a site made stricter than USP; an expiry caps everything."""
    limits = limits or InUseLimits()
    if opened_at.tzinfo is None or opened_at.utcoffset() is None:
        raise BudNotAllowed("Give when it was opened with its time-zone offset.", field="opened_at")
    if not EARLIEST_YEAR <= opened_at.year <= LATEST_YEAR:
        raise BudNotAllowed(
            f"The time opened must fall between {EARLIEST_YEAR} and {LATEST_YEAR}.",
            field="opened_at",
        )
    if label_hours is not None and not 0 <= label_hours <= MAX_LABEL_HOURS:
        raise BudNotAllowed(
            f"The labeling's hours are 0 to {MAX_LABEL_HOURS}.", field="label_hours"
        )
    if label_days is not None and not 1 <= label_days <= MAX_LABEL_DAYS:
        raise BudNotAllowed(f"The labeling's days are 1 to {MAX_LABEL_DAYS}.", field="label_days")
    if container == AMPULE:
        until, rule = opened_at, "An opened ampule is never stored: use at once, discard the rest"
    elif container == SINGLE_DOSE:
        hours = limits.single_dose_iso5_hours if in_iso5 else limits.single_dose_outside_iso5_hours
        by_label = label_hours is not None and label_hours < hours
        if label_hours is not None:
            hours = min(hours, label_hours)
        until = _later(opened_at, dt.timedelta(hours=hours))
        where = "in ISO 5 air" if in_iso5 else "outside ISO 5 air"
        source = " (labeling)" if by_label else ""
        rule = (
            f"Single-dose container entered {where}: {_count(hours, 'hour')} after first "
            f"puncture{source}"
            if hours
            else f"Single-dose container entered {where}: use at once, discard the rest{source}"
        )
    elif container == MULTIPLE_DOSE:
        days = limits.multiple_dose_days
        source = ""
        if label_days is not None:
            # USP: 28 days unless the manufacturer says otherwise; a site stricter than USP
            # keeps its own limit even when the labeling allows longer.
            stricter = limits.multiple_dose_days < InUseLimits().multiple_dose_days
            days = min(label_days, days) if stricter else label_days
            source = " (labeling)" if days == label_days else ""
        until = _later(opened_at, dt.timedelta(days=days))
        rule = f"Multiple-dose container: {_count(days, 'day')} after first entry{source}"
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
        until = _later(opened_at, dt.timedelta(hours=label_hours))
        rule = (
            f"Pharmacy bulk package: {_count(label_hours, 'hour')} after first penetration "
            "(labeling)"
        )
    else:
        raise BudNotAllowed(
            "Container must be single-dose, ampule, multiple-dose or pharmacy-bulk.",
            field="container",
        )
    if expiry is not None and expiry <= until.date():
        # Good through the expiration date: the cap is that day's end.
        end = dt.datetime.combine(expiry, dt.time(23, 59), tzinfo=opened_at.tzinfo)
        if end.astimezone(dt.UTC) < opened_at.astimezone(dt.UTC):
            raise BudNotAllowed(
                f"The container expired on {expiry.isoformat()}, before it was opened; do not "
                "use it.",
                field="expiry",
            )
        if end.astimezone(dt.UTC) < until.astimezone(dt.UTC):
            until, rule = end, rule + f"; limited by the expiry, {expiry.isoformat()}"
    return InUse(until=until, rule=rule)


# Bounds of a labeling's in-use time: a pharmacy bulk package states hours; a multiple-dose
# vial days. Beyond these it is a typing error.
MAX_LABEL_HOURS = 24 * 7
MAX_LABEL_DAYS = 365
