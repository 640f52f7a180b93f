"""Pure 340B logic (no database): entity types, NCPDP codes, package accumulation, FIFO
allocation of dispenses to replenishment orders, the eligibility decision and its reasons.

Quantities are ``Decimal`` in the package's NCPDP billing unit (EA, ML, GM) and are never
rounded: ten fills of 3.3 mL into a 33 mL package make exactly one package."""

from __future__ import annotations

import calendar
import datetime as dt
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

# NCPDP D.0 420-DK Submission Clarification Code 20: "340B / Disproportionate Share
# Pricing/Public Health Service"; 423-DN Basis of Cost Determination 08: "340B /
# Disproportionate Share Pricing/Public Health Service".
SCC_340B = "20"
BASIS_OF_COST_340B = "08"

# HRSA OPAIS 340B ID prefixes: the covered entity's type.
ENTITY_TYPES: dict[str, str] = {
    "DSH": "Disproportionate share hospital",
    "CAH": "Critical access hospital",
    "SCH": "Sole community hospital",
    "RRC": "Rural referral center",
    "PED": "Children's hospital",
    "CAN": "Free-standing cancer hospital",
    "CH": "Community health center (FQHC)",
    "FQHCLA": "FQHC look-alike",
    "RW": "Ryan White HIV/AIDS program grantee",
    "STD": "Sexually transmitted disease clinic",
    "TB": "Tuberculosis clinic",
    "HM": "Hemophilia treatment center",
    "BL": "Black lung clinic",
    "FP": "Family planning (Title X) clinic",
    "NH": "Native Hawaiian health center",
    "UIH": "Urban Indian organization",
}
# Orphan drugs are excluded from 340B pricing for these entity types (the orphan drug
# exclusion of the Affordable Care Act, section 340B(e)): keep their NDCs on the
# exclusion list.
ORPHAN_EXCLUDED_TYPES = frozenset({"CAH", "SCH", "RRC", "CAN"})
OPAIS_ID_RE = re.compile(r"^([A-Z]{2,6})(\d{3,8})(-?[A-Z0-9]{0,6})$")
DEFAULT_LOOKBACK_MONTHS = 12
LOOKBACK_LIMITS = (1, 36)


def entity_type_of(opais_id: str) -> str:
    """The entity-type prefix of a 340B ID ("DSH140001" -> "DSH"), or "" if unknown."""
    match = OPAIS_ID_RE.match(opais_id.strip().upper())
    if match is None:
        return ""
    prefix = match.group(1)
    return prefix if prefix in ENTITY_TYPES else ""


def months_back(day: dt.date, months: int) -> dt.date:
    """``day`` minus ``months`` calendar months, clamped to the month's end
    (March 31 minus one month is February 28 or 29)."""
    index = day.year * 12 + (day.month - 1) - months
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return dt.date(year, month + 1, min(day.day, last))


def packages_due(units: Decimal, package_size: Decimal) -> tuple[int, Decimal]:
    """Whole packages that ``units`` make, and the units left over (carried to the next
    order). Nothing is due while ``units`` is negative (owed back)."""
    if package_size <= 0:
        raise ValueError("package size must be positive")
    if units <= 0:
        return 0, units
    whole = int(units // package_size)
    return whole, units - package_size * whole


@dataclass(frozen=True)
class Slice:
    """Part of one accumulation row given to an order."""

    row_id: int
    units: Decimal


def fifo_allocate(available: Sequence[tuple[int, Decimal]], units: Decimal) -> list[Slice]:
    """Take ``units`` from rows ``(id, units still open)``, oldest first; the last row used
    may be split. Raises ValueError if the rows hold fewer units than asked."""
    if units <= 0:
        raise ValueError("allocate a positive quantity")
    out: list[Slice] = []
    left = units
    for row_id, open_units in available:
        if left <= 0:
            break
        if open_units <= 0:
            continue
        take = min(open_units, left)
        out.append(Slice(row_id, take))
        left -= take
    if left > 0:
        raise ValueError("not enough accumulated units")
    return out


# --- Eligibility ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Check:
    """One rule of the decision: its name, whether it passed and why (words)."""

    rule: str
    passed: bool
    detail: str


@dataclass(frozen=True)
class Decision:
    checks: tuple[Check, ...] = field(default_factory=tuple)

    @property
    def eligible(self) -> bool:
        return bool(self.checks) and all(c.passed for c in self.checks)

    def reasons(self) -> list[dict[str, object]]:
        return [{"rule": c.rule, "passed": c.passed, "detail": c.detail} for c in self.checks]

    def summary(self) -> str:
        failed = [c.detail for c in self.checks if not c.passed]
        return "Eligible" if not failed else "Not eligible: " + "; ".join(failed)


@dataclass(frozen=True)
class Facts:
    """What the decision needs to know about one dispense, read from the database."""

    day: dt.date
    entity_active: bool
    prescriber_npi: str
    prescriber_listed: bool
    patient_listed: bool
    last_encounter: dt.date | None
    lookback_months: int
    plan_name: str  # "" for a cash sale
    payer_action: str  # "" (no rule), "exclude" or "bill_340b"
    ndc11: str
    ndc_excluded: bool


def decide(facts: Facts) -> Decision:
    """Every rule, each with its reason; the dispense is eligible only if all pass."""
    checks: list[Check] = []
    checks.append(
        Check(
            "entity",
            facts.entity_active,
            "Covered entity active" if facts.entity_active else "Covered entity not active",
        )
    )
    npi = facts.prescriber_npi or "(no NPI)"
    checks.append(
        Check(
            "prescriber",
            facts.prescriber_listed,
            f"Prescriber NPI {npi} on the eligible list"
            if facts.prescriber_listed
            else f"Prescriber NPI {npi} not on the eligible list on {facts.day:%m/%d/%Y}",
        )
    )
    since = months_back(facts.day, facts.lookback_months)
    if facts.patient_listed:
        checks.append(Check("patient", True, "Patient on the covered entity's patient list"))
    elif facts.last_encounter is not None and since <= facts.last_encounter <= facts.day:
        checks.append(
            Check("patient", True, f"Encounter at the entity on {facts.last_encounter:%m/%d/%Y}")
        )
    else:
        checks.append(
            Check(
                "patient",
                False,
                f"No encounter at the entity since {since:%m/%d/%Y} and not on the patient list",
            )
        )
    if not facts.plan_name:
        checks.append(Check("payer", True, "Cash sale: no payer carve-out"))
    elif facts.payer_action == "exclude":
        checks.append(Check("payer", False, f"Plan {facts.plan_name} is carved out"))
    elif facts.payer_action == "bill_340b":
        checks.append(
            Check("payer", True, f"Plan {facts.plan_name}: billed as 340B (SCC {SCC_340B})")
        )
    else:
        checks.append(Check("payer", True, f"Plan {facts.plan_name}: no carve-out rule"))
    checks.append(
        Check(
            "ndc",
            not facts.ndc_excluded,
            f"NDC {facts.ndc11} excluded" if facts.ndc_excluded else f"NDC {facts.ndc11} allowed",
        )
    )
    return Decision(tuple(checks))


def units_text(value: Decimal) -> str:
    """A quantity as a technician reads it: 33.000 -> "33", 3.300 -> "3.3"."""
    return format(value.normalize(), "f") if value else "0"


def total(values: Iterable[Decimal]) -> Decimal:
    return sum(values, Decimal(0))
