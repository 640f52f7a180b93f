"""The cleanroom's rules: what each room and engineering control must be, the action
levels of viable air and surface samples, the pressure, temperature and humidity limits,
how often certification, sampling and cleaning are due, and whether they are due or
overdue today. Pure: no Django (reference compounding-storage.md §2, §1.6, §5.3).

- Action levels (USP <797> 2023, counts ABOVE these call for action): air CFU per m³ —
  ISO 5 > 1, ISO 7 > 10, ISO 8 > 100; surface CFU per plate — ISO 5 > 3, ISO 7 > 5,
  ISO 8 > 50. Air CFU per m³ = CFU × 1,000 / litres sampled. A highly pathogenic organism
  (moulds, yeasts, Gram-negative rods, Staphylococcus aureus) is acted on whatever the count.
- Pressure: a positive room at least +0.020 in. w.c.; a hazardous-drug room (C-SEC, C-SCA,
  HD storage) negative, between −0.01 and −0.03 in. w.c. (<800>).
- Temperature 20 °C or cooler and relative humidity below 60 % are recommendations: a
  reading outside them is investigated (a corrective action), and is worded as such.
- Certification of classified rooms and every PEC at least every 6 months; viable air
  sampling every 6 months (Categories 1 and 2) or monthly (Category 3); surface sampling
  monthly, or weekly for Category 3; cleaning by the <797> table, the sporicidal step
  monthly, or weekly where the site makes Category 3.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal
from enum import Enum

from rxdesk.compounding.competency import add_months

# --- Rooms and engineering controls -----------------------------------------------------

BUFFER, ANTE, SCA, C_SEC, C_SCA, NONSTERILE, HD_STORAGE = (
    "buffer",
    "ante",
    "sca",
    "c_sec",
    "c_sca",
    "nonsterile",
    "hd_storage",
)
ISO_5, ISO_7, ISO_8, UNCLASSIFIED = "5", "7", "8", ""
POSITIVE, NEGATIVE, NEUTRAL = "positive", "negative", "neutral"
AIR, SURFACE = "air", "surface"

ROOM_ISO: dict[str, frozenset[str]] = {
    BUFFER: frozenset({ISO_7}),
    ANTE: frozenset({ISO_7, ISO_8}),
    SCA: frozenset({UNCLASSIFIED}),
    C_SEC: frozenset({ISO_7}),
    C_SCA: frozenset({UNCLASSIFIED}),
    NONSTERILE: frozenset({UNCLASSIFIED}),
    HD_STORAGE: frozenset({UNCLASSIFIED}),
}
"""The ISO class each kind of room must have (USP <797> §2.1 table)."""

HAZARDOUS_ROOMS = frozenset({C_SEC, C_SCA, HD_STORAGE})
"""Rooms that exist for hazardous drugs: always hazardous, always negative (<800>)."""
POSITIVE_ROOMS = frozenset({BUFFER, ANTE})
"""The non-hazardous cleanroom suite: positive to the rooms it opens into."""
STERILE_ROOMS = frozenset({BUFFER, ANTE, SCA, C_SEC, C_SCA})
"""Rooms cleaned by the <797> table (the schedule of the cleanroom board)."""

STERILE_PECS = frozenset({"lafw", "bsc2", "bsc3", "cai", "caci", "ivlfz"})
NONSTERILE_PECS = frozenset({"cve", "bsc1"})
CONTAINMENT_PECS = frozenset({"caci"})
"""Always a containment PEC (C-PEC)."""
OPEN_FRONT_PECS = frozenset({"lafw", "cai"})
"""Their air moves toward the operator or out of the hood: never used for hazardous drugs."""
ROOMS_FOR_STERILE_PECS = frozenset({BUFFER, SCA, C_SEC, C_SCA})
ROOMS_FOR_NONSTERILE_PECS = frozenset({NONSTERILE, C_SEC})

ROOM_KIND_WORDS = {
    BUFFER: "A buffer room",
    ANTE: "An ante-room",
    SCA: "A segregated compounding area",
    C_SEC: "A containment buffer room (C-SEC)",
    C_SCA: "A containment segregated compounding area (C-SCA)",
    NONSTERILE: "A nonsterile compounding area",
    HD_STORAGE: "A hazardous drug storage room",
}
ISO_WORDS = {ISO_5: "ISO 5", ISO_7: "ISO 7", ISO_8: "ISO 8", UNCLASSIFIED: "unclassified"}


def iso_words(iso_class: str) -> str:
    return ISO_WORDS.get(iso_class, f"ISO {iso_class}")


def room_problems(
    *, kind: str, iso_class: str, pressure: str, hazardous: bool
) -> list[tuple[str, str]]:
    """What is wrong with a room of this kind, class, pressure and use, as
    ``[(field, message)]`` (empty: nothing). A hazardous-drug room kind counts as hazardous
    whatever ``hazardous`` says (see :func:`room_hazardous`)."""
    problems: list[tuple[str, str]] = []
    if kind not in ROOM_ISO:
        return [("kind", f"{kind!r} is not a kind of room.")]
    allowed = ROOM_ISO[kind]
    if iso_class not in allowed:
        need = " or ".join(iso_words(c) for c in sorted(allowed))
        problems.append(
            ("iso_class", f"{ROOM_KIND_WORDS[kind]} is {need}, not {iso_words(iso_class)}.")
        )
    hazardous = room_hazardous(kind, hazardous)
    if kind == BUFFER and hazardous:
        problems.append(
            (
                "kind",
                "A buffer room for hazardous drugs is a containment buffer room (C-SEC): "
                "choose that kind.",
            )
        )
    elif kind == ANTE and hazardous:
        problems.append(
            ("hazardous", "An ante-room is not a hazardous-drug room; the C-SEC it serves is.")
        )
    elif hazardous and pressure != NEGATIVE:
        problems.append(
            (
                "pressure",
                "A hazardous-drug room is kept at negative pressure (−0.01 to −0.03 in. w.c., "
                "USP <800>).",
            )
        )
    if kind in POSITIVE_ROOMS and pressure != POSITIVE:
        problems.append(
            (
                "pressure",
                f"{ROOM_KIND_WORDS[kind]} is kept at positive pressure (at least +0.020 in. w.c.).",
            )
        )
    return problems


def room_hazardous(kind: str, hazardous: bool) -> bool:
    """A C-SEC, C-SCA or hazardous drug storage room is a hazardous-drug room."""
    return hazardous or kind in HAZARDOUS_ROOMS


def control_iso(kind: str) -> str:
    """A sterile PEC provides ISO 5 air; a CVE or Class I BSC (nonsterile) is unclassified."""
    return ISO_5 if kind in STERILE_PECS else UNCLASSIFIED


def control_hazardous(kind: str, hazardous: bool) -> bool:
    """A compounding aseptic containment isolator is a C-PEC by design."""
    return hazardous or kind in CONTAINMENT_PECS


def control_problems(
    *, kind: str, hazardous: bool, room_kind: str, room_hazardous: bool
) -> list[tuple[str, str]]:
    """What is wrong with a PEC of this kind and use in a room of that kind."""
    if kind not in STERILE_PECS | NONSTERILE_PECS:
        return [("kind", f"{kind!r} is not a kind of engineering control.")]
    problems: list[tuple[str, str]] = []
    hazardous = control_hazardous(kind, hazardous)
    if kind in STERILE_PECS and room_kind not in ROOMS_FOR_STERILE_PECS:
        problems.append(
            (
                "room",
                f"{ROOM_KIND_WORDS.get(room_kind, 'That room')} is not a place for sterile "
                "compounding: put the PEC in a buffer room, a segregated compounding area or "
                "a containment room.",
            )
        )
    if kind in NONSTERILE_PECS and room_kind not in ROOMS_FOR_NONSTERILE_PECS:
        problems.append(
            (
                "room",
                "A containment ventilated enclosure or Class I cabinet is for nonsterile "
                "compounding: put it in a nonsterile area or a containment room (C-SEC).",
            )
        )
    if hazardous and kind in OPEN_FRONT_PECS:
        problems.append(
            (
                "hazardous",
                "A laminar airflow workbench or a (non-containment) aseptic isolator cannot "
                "be used for hazardous drugs: use a biological safety cabinet or a CACI.",
            )
        )
    elif hazardous and not room_hazardous:
        problems.append(
            (
                "room",
                "A containment PEC for hazardous drugs sits in a hazardous-drug room (C-SEC "
                "or C-SCA, negative pressure).",
            )
        )
    return problems


# --- Environmental samples --------------------------------------------------------------

ACTION_LEVELS: dict[tuple[str, str], Decimal] = {
    (ISO_5, AIR): Decimal("1"),
    (ISO_7, AIR): Decimal("10"),
    (ISO_8, AIR): Decimal("100"),
    (ISO_5, SURFACE): Decimal("3"),
    (ISO_7, SURFACE): Decimal("5"),
    (ISO_8, SURFACE): Decimal("50"),
}
"""USP <797> (2023): a count ABOVE the level calls for action."""

UNIT = {AIR: "CFU/m³", SURFACE: "CFU/plate"}
HUNDREDTH = Decimal("0.01")
LITRES_PER_M3 = Decimal(1000)

_PATHOGENS = re.compile(
    r"\b(mou?lds?|yeasts?|fung(i|us|al)|aspergillus|candida|penicillium|fusarium|mucor|"
    r"gram[- ]?negative|pseudomonas|escherichia|e\.\s?coli|klebsiella|enterobacter|"
    r"serratia|acinetobacter|burkholderia|staphylococcus aureus|s\.\s?aureus|mrsa)\b",
    re.IGNORECASE,
)


def action_level(iso_class: str, kind: str) -> Decimal:
    """The action level of a sample of ``kind`` in air of ``iso_class``; ValueError for an
    unclassified space (the chapter sets levels for ISO 5, 7 and 8 only)."""
    try:
        return ACTION_LEVELS[(iso_class, kind)]
    except KeyError:
        raise ValueError(f"no action level for {kind!r} in ISO class {iso_class!r}") from None


def cfu_per_m3(cfu: int, litres: Decimal) -> Decimal:
    """Air CFU per cubic metre from a count on ``litres`` of air, to the hundredth, rounded
    up: so the figure shown is above the action level exactly when the count is."""
    if litres <= 0:
        raise ValueError("the air volume must be positive")
    return (Decimal(cfu) * LITRES_PER_M3 / Decimal(litres)).quantize(
        HUNDREDTH, rounding=ROUND_CEILING
    )


def cfu_measure(kind: str, cfu: int, litres: Decimal | None = None) -> Decimal:
    """What is compared with the action level: CFU/m³ for air, the plate's count for a
    surface."""
    if kind == AIR:
        if litres is None:
            raise ValueError("an air sample needs its volume")
        return cfu_per_m3(cfu, litres)
    return Decimal(cfu).quantize(HUNDREDTH)


def named_pathogen(organism: str) -> bool:
    """Whether the organism identified is one remediated whatever the count (moulds,
    yeasts, Gram-negative rods, S. aureus)."""
    return bool(_PATHOGENS.search(organism or ""))


def is_excursion(measure: Decimal, level: Decimal, *, highly_pathogenic: bool = False) -> bool:
    return measure > level or highly_pathogenic


# --- Pressure, temperature, humidity ----------------------------------------------------

POSITIVE_MIN = Decimal("0.020")
NEGATIVE_LEAST = Decimal("-0.010")
NEGATIVE_MOST = Decimal("-0.030")
TEMPERATURE_MAX = Decimal("20")
HUMIDITY_BELOW = Decimal("60")


@dataclass(frozen=True)
class PressureRule:
    low: Decimal | None
    high: Decimal | None
    words: str

    def holds(self, inches_wc: Decimal) -> bool:
        return (self.low is None or inches_wc >= self.low) and (
            self.high is None or inches_wc <= self.high
        )


POSITIVE_RULE = PressureRule(POSITIVE_MIN, None, "positive, at least +0.020 in. w.c.")
NEGATIVE_RULE = PressureRule(
    NEGATIVE_MOST, NEGATIVE_LEAST, "negative, between −0.010 and −0.030 in. w.c. (USP <800>)"
)


def pressure_rule(pressure: str) -> PressureRule | None:
    """The differential a room kept at ``pressure`` must show (None: no requirement)."""
    return {POSITIVE: POSITIVE_RULE, NEGATIVE: NEGATIVE_RULE}.get(pressure)


def pressure_in_range(pressure: str, inches_wc: Decimal) -> bool:
    rule = pressure_rule(pressure)
    return rule is None or rule.holds(inches_wc)


def conditions_problems(temperature_c: Decimal, humidity_pct: Decimal) -> list[str]:
    """Recommendations a reading misses (USP <797> 2023: 20 °C or cooler, RH below 60 %)."""
    problems = []
    if temperature_c > TEMPERATURE_MAX:
        problems.append(f"temperature {temperature_c} °C is above the recommended 20 °C or cooler")
    if humidity_pct >= HUMIDITY_BELOW:
        problems.append(f"relative humidity {humidity_pct} % is not below the recommended 60 %")
    return problems


# --- Frequencies and what is due ---------------------------------------------------------


class Every(Enum):
    """How often something is due."""

    DAY = ("daily", 0, 1)
    WEEK = ("weekly", 0, 7)
    MONTH = ("monthly", 1, 0)
    SIX_MONTHS = ("every 6 months", 6, 0)

    def __init__(self, words: str, months: int, days: int) -> None:
        self.words = words
        self.months = months
        self.days = days

    def after(self, day: dt.date) -> dt.date:
        """The day the next one is due after one done on ``day``."""
        if self.months:
            return add_months(day, self.months)
        return day + dt.timedelta(days=self.days)


CERTIFICATION_EVERY = Every.SIX_MONTHS

CLEANING, DISINFECTING, SPORICIDAL = "cleaning", "disinfecting", "sporicidal"
KINDS = (CLEANING, DISINFECTING, SPORICIDAL)
PEC_INTERIOR, PEC_TRAY = "pec_interior", "pec_tray"
PEC_AREAS = frozenset({PEC_INTERIOR, PEC_TRAY})
_DAILY_AREAS = ("pec_interior", "pass_through", "work_surfaces", "floors")
_MONTHLY_AREAS = ("pec_tray", "walls", "ceilings", "shelving", "equipment")
AREAS = _DAILY_AREAS + _MONTHLY_AREAS

CLEANING_TABLE: dict[tuple[str, str], Every] = {
    **{(a, k): Every.DAY for a in _DAILY_AREAS for k in (CLEANING, DISINFECTING)},
    **{(a, k): Every.MONTH for a in _MONTHLY_AREAS for k in (CLEANING, DISINFECTING)},
    **{(a, SPORICIDAL): Every.MONTH for a in AREAS},
}
"""USP <797> (2023) cleaning, disinfecting and sporicidal frequencies for classified areas
and the SCA (reference §2.4); daily items are due each day compounding happens."""


def cleaning_every(area: str, kind: str, *, category_3: bool = False) -> Every:
    """How often ``kind`` of ``area`` is due; the sporicidal step is weekly where the site
    makes Category 3 preparations."""
    if kind == SPORICIDAL and category_3:
        return Every.WEEK
    return CLEANING_TABLE[(area, kind)]


def air_sampling_every(*, category_3: bool = False) -> Every:
    return Every.MONTH if category_3 else Every.SIX_MONTHS


def surface_sampling_every(*, category_3: bool = False) -> Every:
    return Every.WEEK if category_3 else Every.MONTH


def sampling_every(kind: str, *, category_3: bool = False) -> Every:
    if kind == AIR:
        return air_sampling_every(category_3=category_3)
    return surface_sampling_every(category_3=category_3)


NEVER, OVERDUE, DUE_TODAY, DUE_SOON, CURRENT, FAILED = (
    "never",
    "overdue",
    "due today",
    "due soon",
    "current",
    "failed",
)


@dataclass(frozen=True)
class Due:
    """Where one recurring duty stands today."""

    last: dt.date | None
    due_on: dt.date | None
    state: str

    @property
    def late(self) -> bool:
        return self.state in (NEVER, OVERDUE, FAILED)

    @property
    def tone(self) -> str:
        """The badge's colour class (the words say the same: never colour alone)."""
        if self.late:
            return "danger"
        return "warn" if self.state in (DUE_TODAY, DUE_SOON) else "ok"

    @property
    def words(self) -> str:
        if self.state == NEVER:
            return "never done: due now"
        if self.state == FAILED:
            return "failed: not certified"
        assert self.due_on is not None
        when = f"{self.due_on:%m/%d/%Y}"
        return {
            OVERDUE: f"overdue since {when}",
            DUE_TODAY: "due today",
            DUE_SOON: f"due soon, by {when}",
        }.get(self.state, f"next due {when}")


def due_by(
    due_on: dt.date | None, *, today: dt.date, last: dt.date | None = None, soon_days: int = 0
) -> Due:
    """The state of a duty whose next date is ``due_on`` (None: never done)."""
    if due_on is None:
        return Due(last, None, NEVER)
    if today > due_on:
        state = OVERDUE
    elif today == due_on:
        state = DUE_TODAY
    elif (due_on - today).days <= soon_days:
        state = DUE_SOON
    else:
        state = CURRENT
    return Due(last, due_on, state)


def due(last: dt.date | None, every: Every, *, today: dt.date, soon_days: int = 0) -> Due:
    """The state of a duty done ``every`` so often, last done on ``last``."""
    return due_by(
        every.after(last) if last is not None else None,
        today=today,
        last=last,
        soon_days=soon_days,
    )


def soon_days_of(every: Every) -> int:
    """How far ahead a due date is flagged as coming: a month for six-monthly duties, a
    week for monthly ones, nothing for daily and weekly ones."""
    return {Every.SIX_MONTHS: 30, Every.MONTH: 7}.get(every, 0)


def certification_due(certified_on: dt.date | None, *, today: dt.date, passed: bool = True) -> Due:
    """A room's or PEC's certification: due 6 months after the last one; a failed last
    certification is not a certification."""
    if certified_on is not None and not passed:
        return Due(certified_on, None, FAILED)
    return due(certified_on, CERTIFICATION_EVERY, today=today, soon_days=30)
