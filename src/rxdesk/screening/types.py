"""The words of clinical screening, shared by every check (pure: no Django).

A check is a function ``check(ctx: Context) -> list[Alert]``. It reads the proposed drug
and the patient's profile as resolved ``Drug`` values (ingredients and classes already
normalised: lower-case generic names, class keys from rxdesk.screening.classes) and
answers alerts. Checks never raise on missing facts: a fact a check needs and does not have
is itself an alert when it matters (e.g. a child's weight for a mg/kg limit)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from enum import IntEnum, StrEnum


class Severity(StrEnum):
    CONTRAINDICATED = "contraindicated"
    MAJOR = "major"
    MODERATE = "moderate"
    MINOR = "minor"


# Higher is worse; only these two interrupt (the rest are listed, never in the way).
class Rank(IntEnum):
    MINOR = 1
    MODERATE = 2
    MAJOR = 3
    CONTRAINDICATED = 4


RANK = {
    Severity.MINOR: Rank.MINOR,
    Severity.MODERATE: Rank.MODERATE,
    Severity.MAJOR: Rank.MAJOR,
    Severity.CONTRAINDICATED: Rank.CONTRAINDICATED,
}
INTERRUPTING = frozenset({Severity.CONTRAINDICATED, Severity.MAJOR})


@dataclass(frozen=True)
class Ingredient:
    """One active ingredient: ``name`` is the lower-case generic (base) name, e.g.
    "acetaminophen", "amlodipine"; ``strength`` and ``unit`` per dosage unit when known
    (e.g. Decimal("325"), "mg"; liquids per mL after conversion)."""

    name: str
    strength: Decimal | None = None
    unit: str = ""


@dataclass(frozen=True)
class Drug:
    """A drug as screening sees it. ``label`` is what a technician reads ("warfarin 5 mg
    tablet"); ``ingredients`` the active ingredients; ``classes`` lower-case class keys
    (e.g. "nsaid", "benzodiazepine", "opioid", "ssri", "maoi"); ``route`` e.g. "oral";
    ``daily_dose`` per ingredient name in mg when known (from directions × strength, or
    typed); ``weekly`` when the directions say once weekly; ``schedule`` "CII".. or "";
    ``days_supply``, ``last_filled`` and ``quantity`` for refill checks (profile drugs)."""

    label: str
    ingredients: tuple[Ingredient, ...]
    classes: frozenset[str] = frozenset()
    route: str = ""
    dosage_form: str = ""
    ndc: str = ""
    daily_dose: dict[str, Decimal] = field(default_factory=dict)
    doses_per_day: Decimal | None = None
    weekly: bool = False
    schedule: str = ""
    days_supply: int | None = None
    last_filled: dt.date | None = None
    prescription_id: int | None = None

    @property
    def names(self) -> frozenset[str]:
        return frozenset(i.name for i in self.ingredients)


@dataclass(frozen=True)
class AllergyFact:
    """``allergen``: an ingredient or class name as recorded (lower-cased by the caller);
    ``kind``: "allergy" (immune: hives, anaphylaxis…) or "intolerance" (nausea…)."""

    allergen: str
    kind: str = "allergy"
    reaction: str = ""


@dataclass(frozen=True)
class Patient:
    birth_date: dt.date | None = None
    sex: str = "U"  # F, M, U
    weight_kg: Decimal | None = None
    height_cm: Decimal | None = None
    serum_creatinine_mg_dl: Decimal | None = None
    pregnant: bool = False
    breastfeeding: bool = False
    allergies: tuple[AllergyFact, ...] = ()
    conditions: tuple[str, ...] = ()  # lower-case words or ICD-10 codes

    def age_on(self, day: dt.date) -> int | None:
        if self.birth_date is None:
            return None
        b = self.birth_date
        return day.year - b.year - ((day.month, day.day) < (b.month, b.day))


@dataclass(frozen=True)
class Context:
    """What a check sees: the patient, the active profile (other drugs), the proposed
    drug, and the day (the pharmacy's date)."""

    patient: Patient
    profile: tuple[Drug, ...]
    proposed: Drug
    today: dt.date


@dataclass(frozen=True)
class Alert:
    """One screening finding. ``type`` is the NCPDP DUR reason-for-service code (DD, DA,
    TD, ID, HD, LD, PA, PG, NR, DC, ER, LR, AT, MX, …); ``key`` identifies the rule and
    the drugs so a pharmacist's resolution of this alert on this fill can be found again
    (stable across runs); ``source`` names where the rule comes from."""

    type: str
    severity: Severity
    drugs: tuple[str, ...]
    message: str
    consequence: str
    action: str
    source: str
    key: str

    @property
    def interrupts(self) -> bool:
        return self.severity in INTERRUPTING
