"""Proportion of days covered (PDC), the Pharmacy Quality Alliance adherence measure.

Pure: no database. For one patient and one drug over a measurement period
``[start, end]`` (both days included):

* only dispensings dated inside the period count; the **index date** is the first of them;
* a drug is **measured** only with at least two dispensings in the period (one fill says
  nothing about refilling);
* each dispensing covers ``days_supply`` days from its fill date. When a refill of the same
  drug comes early (before the previous supply has run out), its supply is **shifted
  forward** to start the day after the previous supply ends: the patient finishes the bottle
  at home before opening the new one, so an early refill is not counted twice. The days so
  covered are counted day by day; days after the period end are not counted;
* PDC = covered days ÷ days from the index date to the period end (both included), as a
  ``Decimal`` with four places (rounded half up). Below 0.8000 is low adherence.

What rxdesk groups as "one drug" is the **active ingredient** (the product's substances
without their salts: atorvastatin calcium and atorvastatin are one drug; a combination
product is its own drug). The PQA classes — diabetes (non-insulin), RAS antagonists and
statins — are offered as filters by the ingredient lists written down below. Unlike the
PQA specification, patients are not excluded for insulin use, end-stage renal disease or
hospice: the list is a prompt for a phone call, not a quality score sent to a plan."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

PLACES = Decimal("0.0001")
THRESHOLD = Decimal("0.8000")  # below this, adherence is low (PQA)
MIN_FILLS = 2

# Salt and hydrate words dropped from a substance to leave the active moiety.
SALTS = frozenset(
    {
        "ACETATE",
        "ANHYDROUS",
        "BESYLATE",
        "CALCIUM",
        "CITRATE",
        "DIHYDRATE",
        "DISODIUM",
        "FUMARATE",
        "HCL",
        "HEMIHYDRATE",
        "HYDROBROMIDE",
        "HYDROCHLORIDE",
        "MAGNESIUM",
        "MALEATE",
        "MEDOXOMIL",
        "MESYLATE",
        "MONOHYDRATE",
        "PHOSPHATE",
        "POTASSIUM",
        "SODIUM",
        "SUCCINATE",
        "SULFATE",
        "TARTRATE",
        "TROMETHAMINE",
        "CILEXETIL",
        "PROPANEDIOL",
        "ERBUMINE",
        "TRIHYDRATE",
    }
)

# The PQA adherence classes, by active ingredient (PQA PDC-DR, PDC-RASA, PDC-STA).
DIABETES = frozenset(
    {
        # biguanides, sulfonylureas, thiazolidinediones, meglitinides
        "METFORMIN",
        "GLIPIZIDE",
        "GLYBURIDE",
        "GLIMEPIRIDE",
        "PIOGLITAZONE",
        "ROSIGLITAZONE",
        "NATEGLINIDE",
        "REPAGLINIDE",
        # DPP-4 inhibitors
        "SITAGLIPTIN",
        "SAXAGLIPTIN",
        "LINAGLIPTIN",
        "ALOGLIPTIN",
        # GLP-1 receptor agonists
        "EXENATIDE",
        "LIRAGLUTIDE",
        "DULAGLUTIDE",
        "SEMAGLUTIDE",
        "LIXISENATIDE",
        # SGLT2 inhibitors
        "CANAGLIFLOZIN",
        "DAPAGLIFLOZIN",
        "EMPAGLIFLOZIN",
        "ERTUGLIFLOZIN",
    }
)
RAS_ANTAGONISTS = frozenset(
    {
        # ACE inhibitors
        "BENAZEPRIL",
        "CAPTOPRIL",
        "ENALAPRIL",
        "FOSINOPRIL",
        "LISINOPRIL",
        "MOEXIPRIL",
        "PERINDOPRIL",
        "QUINAPRIL",
        "RAMIPRIL",
        "TRANDOLAPRIL",
        # angiotensin receptor blockers
        "AZILSARTAN",
        "CANDESARTAN",
        "EPROSARTAN",
        "IRBESARTAN",
        "LOSARTAN",
        "OLMESARTAN",
        "TELMISARTAN",
        "VALSARTAN",
        # direct renin inhibitor
        "ALISKIREN",
    }
)
STATINS = frozenset(
    {
        "ATORVASTATIN",
        "FLUVASTATIN",
        "LOVASTATIN",
        "PITAVASTATIN",
        "PRAVASTATIN",
        "ROSUVASTATIN",
        "SIMVASTATIN",
    }
)
CLASSES: dict[str, tuple[str, frozenset[str]]] = {
    "diabetes": ("Diabetes (non-insulin)", DIABETES),
    "ras": ("RAS antagonists", RAS_ANTAGONISTS),
    "statins": ("Statins", STATINS),
}
ALL_MAINTENANCE = "maintenance"
FILTERS: list[tuple[str, str]] = [
    (ALL_MAINTENANCE, "All maintenance medications"),
    *((key, label) for key, (label, _) in CLASSES.items()),
]


def ingredients(substances: str) -> tuple[str, ...]:
    """The active moieties of a product's substances ("LOSARTAN POTASSIUM; HYDROCHLOROTHIAZIDE"
    → ("HYDROCHLOROTHIAZIDE", "LOSARTAN")), sorted, salts and hydrates dropped."""
    found = set()
    for part in re.split(r"[;,]", substances.upper()):
        words = [w for w in re.findall(r"[A-Z0-9-]+", part) if w not in SALTS]
        if words:
            found.add(" ".join(words))
    return tuple(sorted(found))


def drug_key(substances: str, fallback: str = "") -> str:
    """The name one drug is grouped by: its ingredients joined with " / " (or ``fallback``,
    upper case, when the product lists no substances)."""
    names = ingredients(substances) or ingredients(fallback)
    return " / ".join(names)


def classes_of(substances: str) -> list[str]:
    """The PQA classes (keys of CLASSES) a product with these substances belongs to."""
    names = set()
    for name in ingredients(substances):
        names.update(name.split())
        names.add(name)
    return [key for key, (_, members) in CLASSES.items() if names & members]


@dataclass(frozen=True)
class Dispensing:
    """One fill handed to the patient: its date and the days it supplies."""

    on: dt.date
    days_supply: int


@dataclass(frozen=True)
class Adherence:
    """The PDC of one drug over one period (``pdc`` None when not measured)."""

    start: dt.date
    end: dt.date
    fills: int  # dispensings inside the period
    index_date: dt.date | None
    covered_days: int
    period_days: int  # from the index date to the end, both included
    pdc: Decimal | None

    @property
    def measured(self) -> bool:
        return self.pdc is not None

    @property
    def low(self) -> bool:
        return self.pdc is not None and self.pdc < THRESHOLD

    @property
    def percent(self) -> Decimal | None:
        return None if self.pdc is None else (self.pdc * 100).quantize(Decimal("0.01"))


def pdc(fills: Iterable[Dispensing], start: dt.date, end: dt.date) -> Adherence:
    """The proportion of days covered by ``fills`` over ``[start, end]`` (see the module)."""
    if end < start:
        raise ValueError("The period ends before it starts.")
    inside: Sequence[Dispensing] = sorted(
        (f for f in fills if start <= f.on <= end), key=lambda f: (f.on, f.days_supply)
    )
    for f in inside:
        if f.days_supply < 1:
            raise ValueError("A dispensing supplies at least one day.")
    if len(inside) < MIN_FILLS:
        return Adherence(
            start=start,
            end=end,
            fills=len(inside),
            index_date=inside[0].on if inside else None,
            covered_days=0,
            period_days=0,
            pdc=None,
        )
    index = inside[0].on
    last_day = end.toordinal()
    covered = 0
    next_free = index.toordinal()  # the first day not yet supplied
    for f in inside:
        begin = max(f.on.toordinal(), next_free)
        stop = begin + f.days_supply  # exclusive
        covered += max(0, min(stop, last_day + 1) - begin)
        next_free = stop
    period = last_day - index.toordinal() + 1
    ratio = (Decimal(covered) / Decimal(period)).quantize(PLACES, rounding=ROUND_HALF_UP)
    return Adherence(
        start=start,
        end=end,
        fills=len(inside),
        index_date=index,
        covered_days=covered,
        period_days=period,
        pdc=ratio,
    )
