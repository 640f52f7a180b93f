"""Staff competency rules: which evaluations a person needs, current and passed, to be
recorded as compounding a preparation of a category. Pure: no Django.

From USP <797> (2023) and <795>, <800> (reference compounding-storage.md §2.5, §4.6, §5.6):

- sterile, all categories: didactic training and test every 12 months;
- Categories 1 and 2: hand hygiene and garbing with gloved fingertip and thumb sampling (GFT)
  and a media-fill test every 6 months; Category 3: every 3 months;
- before the first sterile preparation of Category 1–3: the initial garbing qualification,
  three separate GFTs passed in a row with 0 CFU (action level > 0 CFU); afterwards a GFT
  fails above 3 CFU (the post-media-fill action level);
- immediate use: aseptic-technique training (the sterile didactic) every 12 months;
- nonsterile: training and observed hand hygiene and garbing every 12 months;
- hazardous drugs: <800> training every 12 months.

The newest result of each kind counts: a failed evaluation after a pass lapses the person
until the next pass."""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

DIDACTIC_STERILE = "didactic_sterile"
DIDACTIC_NONSTERILE = "didactic_nonsterile"
GARBING_GFT = "garbing_gft"
GARBING_NONSTERILE = "garbing_nonsterile"
MEDIA_FILL = "media_fill"
CLEANING = "cleaning"
HD_TRAINING = "hd_training"

LABELS = {
    DIDACTIC_STERILE: "sterile compounding training (didactic and test)",
    DIDACTIC_NONSTERILE: "nonsterile compounding training (didactic and test)",
    GARBING_GFT: "garbing with gloved fingertip and thumb sampling",
    GARBING_NONSTERILE: "hand hygiene and garbing (nonsterile)",
    MEDIA_FILL: "media-fill test",
    CLEANING: "cleaning and disinfecting competency",
    HD_TRAINING: "hazardous drug handling training (USP <800>)",
}
# The order the board shows them in: sterile first, then nonsterile, cleaning, HD.
KINDS = (
    DIDACTIC_STERILE,
    GARBING_GFT,
    MEDIA_FILL,
    DIDACTIC_NONSTERILE,
    GARBING_NONSTERILE,
    CLEANING,
    HD_TRAINING,
)
# The categories a person may be cleared for, least to most demanding.
CATEGORIES = ("nonsterile", "immediate-use", "1", "2", "3")
INITIAL_GFT_PASSES = 3
INITIAL_GFT_MAX_CFU = 0
ONGOING_GFT_MAX_CFU = 3


@dataclass(frozen=True)
class Result:
    kind: str
    performed_on: dt.date
    passed: bool
    initial: bool = False


@dataclass(frozen=True)
class Requirement:
    kind: str
    months: int

    @property
    def label(self) -> str:
        return LABELS[self.kind]


@dataclass(frozen=True)
class Standing:
    """Where a person stands on one requirement."""

    requirement: Requirement
    last: Result | None
    due_on: dt.date | None
    state: str  # "current", "due soon", "lapsed", "failed", "never"

    @property
    def ok(self) -> bool:
        return self.state in ("current", "due soon")


def add_months(day: dt.date, months: int) -> dt.date:
    """The same day ``months`` later, or the month's last day when it is shorter."""
    month0 = day.month - 1 + months
    year, month = day.year + month0 // 12, month0 % 12 + 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def gft_passed(cfu: int, *, initial: bool) -> bool:
    """A fingertip and thumb sample's verdict from its count, both hands."""
    return cfu <= (INITIAL_GFT_MAX_CFU if initial else ONGOING_GFT_MAX_CFU)


def requirements(category: str, *, hazardous: bool = False) -> list[Requirement]:
    """What compounding a preparation of ``category`` asks of the person."""
    if category == "nonsterile":
        needed = [Requirement(DIDACTIC_NONSTERILE, 12), Requirement(GARBING_NONSTERILE, 12)]
    elif category == "immediate-use":
        needed = [Requirement(DIDACTIC_STERILE, 12)]
    elif category in ("1", "2"):
        needed = [
            Requirement(DIDACTIC_STERILE, 12),
            Requirement(GARBING_GFT, 6),
            Requirement(MEDIA_FILL, 6),
        ]
    elif category == "3":
        needed = [
            Requirement(DIDACTIC_STERILE, 12),
            Requirement(GARBING_GFT, 3),
            Requirement(MEDIA_FILL, 3),
        ]
    else:
        raise ValueError(f"unknown category {category!r}")
    if hazardous:
        needed.append(Requirement(HD_TRAINING, 12))
    return needed


def months_for(kind: str, category: str) -> int:
    """How often an evaluation of ``kind`` is due at a pharmacy whose most demanding
    preparations are of ``category``: as the category requires it, else fingertip sampling
    and media fill every 6 months (3 for Category 3) and the rest every 12 months."""
    if kind not in LABELS:
        raise ValueError(f"unknown kind {kind!r}")
    for need in requirements(category, hazardous=True):
        if need.kind == kind:
            return need.months
    if kind in (GARBING_GFT, MEDIA_FILL):
        return 3 if category == "3" else 6
    return 12


def standing(
    results: Iterable[Result], requirement: Requirement, *, today: dt.date, soon_days: int = 30
) -> Standing:
    of_kind = sorted(
        (r for r in results if r.kind == requirement.kind and r.performed_on <= today),
        key=lambda r: r.performed_on,
    )
    if not of_kind:
        return Standing(requirement, None, None, "never")
    last = of_kind[-1]
    due = add_months(last.performed_on, requirement.months)
    if not last.passed:
        return Standing(requirement, last, due, "failed")
    if today > due:
        return Standing(requirement, last, due, "lapsed")
    if (due - today).days <= soon_days:
        return Standing(requirement, last, due, "due soon")
    return Standing(requirement, last, due, "current")


def initially_qualified(results: Iterable[Result]) -> bool:
    """Whether the person ever passed three initial fingertip samples in a row."""
    run = 0
    for r in sorted(
        (r for r in results if r.kind == GARBING_GFT and r.initial), key=lambda r: r.performed_on
    ):
        run = run + 1 if r.passed else 0
        if run >= INITIAL_GFT_PASSES:
            return True
    return False


def lapses(
    results: Iterable[Result], category: str, *, hazardous: bool = False, today: dt.date
) -> list[str]:
    """Why the person may not compound a preparation of ``category`` today, in words; an
    empty list means they may."""
    held = list(results)
    problems: list[str] = []
    if category in ("1", "2", "3") and not initially_qualified(held):
        problems.append(
            "has not completed the initial garbing qualification (three fingertip and thumb "
            "samples passed in a row with 0 CFU)"
        )
    for need in requirements(category, hazardous=hazardous):
        s = standing(held, need, today=today)
        if s.state == "never":
            problems.append(f"has no {need.label} on file")
        elif s.state == "failed":
            problems.append(
                f"failed the last {need.label} on {s.last.performed_on:%m/%d/%Y}"  # type: ignore[union-attr]
            )
        elif s.state == "lapsed":
            problems.append(
                f"{need.label} lapsed on {s.due_on:%m/%d/%Y} (every {need.months} months "
                f"for {category_words(category)})"
            )
    return problems


def category_words(category: str) -> str:
    return {
        "nonsterile": "nonsterile compounding",
        "immediate-use": "immediate-use sterile preparations",
    }.get(category, f"Category {category}")
