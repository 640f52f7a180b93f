"""Pure rules of safety events and MedWatch reports (no database): the patient identifier
and age of FDA Form 3500 section A, what a report needs before it is submitted, whether a
product is a vaccine (VAERS, not MedWatch), whether an event is serious, and the NCC MERP
groupings. Tested directly and with hypothesis (tests/care/test_quality_rules.py)."""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from rxdesk.care.choices import HARM, REACHED_PATIENT, AdeOutcome, AgeUnit, ProductRole

# Form 3500 B.2 has no box for "not serious": a reporter who checks none of the outcomes
# says so on purpose with this value, so that an empty list always means "not answered".
NON_SERIOUS = "non_serious"
OUTCOME_VALUES = frozenset(AdeOutcome.values)
VAERS_MESSAGE = (
    "Report vaccine reactions to VAERS (vaers.hhs.gov, 1-800-822-7967), not on MedWatch: "
    "remove the vaccine as a suspect product."
)
# Words that name a vaccine whatever the catalog says (a typed product with no NDC).
_VACCINE_WORDS = re.compile(r"\b(vaccin\w*|toxoid\w*|immunization)\b", re.IGNORECASE)


def initials(first_name: str, last_name: str) -> str:
    """Form 3500 A.1: the patient's initials (never the name), e.g. "J.D." → "JD"."""
    out = ""
    for part in (first_name, last_name):
        letters = [c for c in unicodedata.normalize("NFKD", part or "") if c.isalpha()]
        ascii_letters = [c for c in letters if c.isascii()]
        chosen = ascii_letters or letters
        if chosen:
            out += chosen[0].upper()
    return out or "UNK"


def age_at(born: dt.date, on: dt.date) -> tuple[int, str] | None:
    """Form 3500 A.2: the age at the event in the unit FDA expects for the age — years from
    2 years old, months from 1 month, weeks from 1 week, else days. None when the event
    date is before birth."""
    if on < born:
        return None
    years = on.year - born.year - ((on.month, on.day) < (born.month, born.day))
    if years >= 2:
        return years, AgeUnit.YEARS.value
    months = (on.year - born.year) * 12 + on.month - born.month - (on.day < born.day)
    if months >= 1:
        return months, AgeUnit.MONTHS.value
    days = (on - born).days
    if days >= 7:
        return days // 7, AgeUnit.WEEKS.value
    return days, AgeUnit.DAYS.value


def is_vaccine(*, name: str = "", product_type: str = "") -> bool:
    """A vaccine by its catalog product type (the FDA directory's "VACCINE") or its name."""
    if "VACCINE" in (product_type or "").upper():
        return True
    return bool(_VACCINE_WORDS.search(name or ""))


def serious(outcomes: Iterable[str]) -> bool:
    """Any of the B.2 outcomes (each of them is a serious outcome by FDA's definition)."""
    return any(o in OUTCOME_VALUES for o in outcomes)


def harmful(category: str) -> bool:
    """NCC MERP E–I: the error may have contributed to or resulted in harm."""
    return category in HARM


def reached_patient(category: str) -> bool:
    """NCC MERP C–I: the error reached the patient."""
    return category in REACHED_PATIENT


def outcome_problem(outcomes: Sequence[str]) -> str | None:
    """Why a list of B.2 outcomes cannot be kept, or None."""
    unknown = [o for o in outcomes if o != NON_SERIOUS and o not in OUTCOME_VALUES]
    if unknown:
        return (
            f"Unknown outcome {unknown[0]!r}: choose from "
            + ", ".join([*AdeOutcome.values, NON_SERIOUS])
            + "."
        )
    if NON_SERIOUS in outcomes and len(set(outcomes)) > 1:
        return "An event is either non-serious or has serious outcomes, not both."
    if len(set(outcomes)) != len(outcomes):
        return "An outcome is listed twice."
    return None


def missing_for_submit(
    report: Mapping[str, Any], products: Sequence[Mapping[str, Any]]
) -> list[dict[str, str]]:
    """Every field a MedWatch report still needs before it is sent, each named
    (``[{"field", "message"}]``; empty when it is complete)."""
    out: list[dict[str, str]] = []

    def need(field: str, message: str) -> None:
        out.append({"field": field, "message": message})

    if not report.get("patient_identifier"):
        need("patient_identifier", "A.1: enter the patient identifier (initials).")
    if not report.get("event_date"):
        need("event_date", "B.3: enter the date of the event.")
    if not str(report.get("description") or "").strip():
        need("description", "B.5: describe the event.")
    outcomes = list(report.get("outcomes") or [])
    if not outcomes:
        need(
            "outcomes",
            "B.2: check at least one outcome, or mark the event non-serious.",
        )
    if AdeOutcome.DEATH.value in outcomes and not report.get("death_date"):
        need("death_date", "B.2: enter the date of death.")
    if not report.get("adverse_event") and not report.get("product_problem"):
        need("adverse_event", "B.1: say whether this is an adverse event or a product problem.")
    suspects = [p for p in products if p.get("role") == ProductRole.SUSPECT]
    if not suspects:
        need("products", "D: add at least one suspect product.")
    for i, p in enumerate(products):
        if not str(p.get("name") or "").strip():
            need(f"products.{i}.name", "Enter the product's name.")
    if not str(report.get("reporter_name") or "").strip():
        need("reporter_name", "G.1: enter the reporter's name.")
    if not any(
        str(report.get(k) or "").strip()
        for k in ("reporter_phone", "reporter_email", "reporter_address")
    ):
        need(
            "reporter_phone",
            "G.1: give a way to reach the reporter (phone, e-mail or address).",
        )
    return out


def age_words(age: int | None, unit: str) -> str:
    if age is None or not unit:
        return ""
    label = AgeUnit(unit).label.lower() if unit in AgeUnit.values else unit
    if age == 1:
        label = label.removesuffix("s")
    return f"{age} {label}"
