"""The arithmetic of medication synchronization (no database).

- A sync day is a day of the month, 1 to 31; in a shorter month the sync date is the
  month's last day (31 → 30 April; 29, 30, 31 → 28 or 29 February).
- A medication runs out on its due date: last fill date + days supply (today when it was
  never filled here, or when it is already overdue: a fill cannot be made in the past).
- Short-fill days = sync date − due date. Zero: a regular fill on the sync date. Negative
  (it runs out after this month's sync date): short fill from its due date to next
  month's sync date.
- Prorated quantity = quantity × days ÷ days supply, rounded UP (the patient must not run
  short before the sync date): whole units for billing unit EA (tablets, capsules), 0.1
  for ML and GM. Computed on exact integers, so no rounding drift.
- A package that cannot be split (inhaler, pen, eye drops, a tube) is not prorated: the
  next full fill is moved instead ("align by changing the next full fill").
- The prescription must have enough left to cover the fill; a CII is never synced (no
  refills, its own rules); CIII–V carry a warning (controlled early-fill rules apply).
"""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

# Billing unit → the smallest step a prorated quantity is rounded up to.
ROUND_STEP: dict[str, Decimal] = {"EA": Decimal("1"), "ML": Decimal("0.1"), "GM": Decimal("0.1")}

# Words of a dosage form or package description that mean the unit cannot be split.
UNSPLITTABLE_WORDS = (
    "INHALER",
    "AEROSOL",
    "INHALANT",
    "SPRAY",
    "DROPS",
    "DROPPER",
    "PEN",
    "CARTRIDGE",
    "SYRINGE",
    "CANISTER",
    "TUBE",
    "VIAL",
    "KIT",
    "CREAM",
    "OINTMENT",
    "GEL",
)

SHORT = "short"
REGULAR = "regular"
NEXT_MONTH = "next_month"
ADJUST_FULL = "adjust_full"
SKIP = "skip"


def sync_date_in(year: int, month: int, sync_day: int) -> dt.date:
    """The sync date of ``month``: ``sync_day``, or the month's last day if it is shorter."""
    if not 1 <= sync_day <= 31:
        raise ValueError("The sync day is a day of the month, 1 to 31.")
    last = calendar.monthrange(year, month)[1]
    return dt.date(year, month, min(sync_day, last))


def _month_after(year: int, month: int) -> tuple[int, int]:
    return (year + 1, 1) if month == 12 else (year, month + 1)


def next_sync_date(after: dt.date, sync_day: int, *, inclusive: bool = False) -> dt.date:
    """The first sync date after ``after`` (on or after it when ``inclusive``)."""
    this = sync_date_in(after.year, after.month, sync_day)
    if this > after or (inclusive and this == after):
        return this
    year, month = _month_after(after.year, after.month)
    return sync_date_in(year, month, sync_day)


def is_unsplittable(dosage_form: str, package_description: str) -> bool:
    """A unit the pharmacy cannot dispense a fraction of (read from the catalog's dosage
    form and package description: "AEROSOL, METERED", "1 INHALER in 1 CARTON", "PEN")."""
    text = f" {dosage_form} {package_description} ".upper()
    for sep in ",;()/-":
        text = text.replace(sep, " ")
    words = set(text.split())
    return any(word in words or f"{word}S" in words for word in UNSPLITTABLE_WORDS)


def prorated_quantity(quantity: Decimal, days_supply: int, days: int, billing_unit: str) -> Decimal:
    """``quantity`` × ``days`` ÷ ``days_supply`` rounded UP to the unit's step (EA 1, ML
    and GM 0.1), never more than ``quantity``. Exact: integer arithmetic throughout."""
    if days_supply <= 0 or days < 0:
        raise ValueError("Days supply must be positive and days not negative.")
    step = ROUND_STEP.get(billing_unit)
    if step is None:
        raise ValueError(f"Unknown billing unit {billing_unit!r}.")
    # Work in thousandths of the step-scaled unit: quantity has at most 3 decimal places.
    steps_per_unit = int(Decimal(1) / step)
    thousandths = int((quantity * 1000).to_integral_value())
    if Decimal(thousandths) != quantity * 1000:
        raise ValueError("Quantities carry at most three decimal places.")
    numerator = thousandths * days * steps_per_unit
    denominator = days_supply * 1000
    steps = -(-numerator // denominator)  # ceiling division on integers
    return min((Decimal(steps) * step), quantity)


@dataclass(frozen=True)
class Med:
    """What the plan needs of one prescription."""

    key: int
    quantity: Decimal
    days_supply: int
    billing_unit: str
    last_fill_date: dt.date | None = None
    last_days_supply: int | None = None
    quantity_left: Decimal | None = None  # None: not known (not checked)
    schedule: str = ""
    unsplittable: bool = False


@dataclass(frozen=True)
class Line:
    """The plan for one medication in a cycle."""

    key: int
    action: str
    due_date: dt.date
    target_date: dt.date
    days: int
    quantity: Decimal
    short_fill: bool
    warning: str = ""
    problem: str = ""  # set: this medication cannot be filled as planned


def due_date(med: Med, today: dt.date) -> dt.date:
    """When the medication runs out: last fill + its days supply, never before today."""
    if med.last_fill_date is None:
        return today
    days = med.last_days_supply if med.last_days_supply is not None else med.days_supply
    return max(med.last_fill_date + dt.timedelta(days=days), today)


def plan_line(med: Med, *, sync_date: dt.date, sync_day: int, today: dt.date) -> Line:
    """Align ``med`` to ``sync_date`` (see the module's rules)."""
    due = due_date(med, today)
    if med.schedule == "CII":
        return Line(
            med.key,
            SKIP,
            due,
            sync_date,
            0,
            Decimal(0),
            False,
            problem="Controlled CII: not synchronized (no refills; fill on its own).",
        )
    warning = (
        f"Controlled {med.schedule}: early-fill rules apply; the pharmacist decides."
        if med.schedule
        else ""
    )
    target = sync_date
    days = (target - due).days
    if days < 0:
        target = next_sync_date(due, sync_day, inclusive=True)
        days = (target - due).days
    if med.unsplittable:
        line = Line(
            med.key,
            ADJUST_FULL,
            due,
            target,
            med.days_supply,
            med.quantity,
            False,
            warning=_join(warning, "Can't be split: align by changing the next full fill."),
        )
    elif days == 0:
        line = Line(med.key, REGULAR, due, target, med.days_supply, med.quantity, False, warning)
    elif days >= med.days_supply:
        line = Line(
            med.key,
            REGULAR,
            due,
            target,
            med.days_supply,
            med.quantity,
            False,
            warning=_join(
                warning,
                f"{days} days to the sync date is a full supply or more: fill as usual "
                "and align at the next cycle.",
            ),
        )
    else:
        quantity = prorated_quantity(med.quantity, med.days_supply, days, med.billing_unit)
        action = SHORT if target == sync_date else NEXT_MONTH
        line = Line(med.key, action, due, target, days, quantity, True, warning)
    if med.quantity_left is not None and line.quantity > med.quantity_left:
        left = "nothing" if med.quantity_left <= 0 else f"only {_num(med.quantity_left)}"
        return Line(
            line.key,
            line.action,
            line.due_date,
            line.target_date,
            line.days,
            line.quantity,
            line.short_fill,
            line.warning,
            problem=f"The prescription has {left} left for {_num(line.quantity)}: "
            "ask the prescriber for a renewal.",
        )
    return line


def _join(*parts: str) -> str:
    return " ".join(p for p in parts if p)


def _num(value: Decimal) -> str:
    text = format(value.normalize(), "f")
    return text
