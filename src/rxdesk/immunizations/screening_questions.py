"""The pre-vaccination screening questionnaire and what its answers mean for one vaccine.

Pure: no Django, no database. The questions follow the facts of the CDC/ACIP general best
practice guidance (contraindications and precautions) and the public screening checklists,
in our own words. Each question has a stable code (it is stored in
``Immunization.screening`` and never renamed).

:func:`assess` turns a complete set of answers into findings:

* a **contraindication** — do not vaccinate (the service refuses the dose);
* a **precaution** — a pharmacist weighs it and writes down why it is safe today.

Live attenuated vaccines (``Vaccine.live``) make pregnancy, a weakened immune system or
immune-weakening treatment, a recent transfusion or immune globulin, and a live vaccine in
the last 28 days count. An answer that is missing or "unknown" stops the screening: a
patient is never vaccinated on a question nobody answered."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

YES, NO, UNKNOWN = "yes", "no", "unknown"
ANSWERS = (YES, NO, UNKNOWN)

CONTRAINDICATION: Literal["contraindication"] = "contraindication"
PRECAUTION: Literal["precaution"] = "precaution"
Kind = Literal["contraindication", "precaution"]

# CVX codes of the live intranasal influenza vaccine (LAIV).
LAIV_CVX = frozenset({"111", "149", "302"})
# Pertussis-containing vaccine groups (a progressive brain disorder is a precaution).
PERTUSSIS_GROUPS = frozenset({"DTAP", "DTP", "TDAP"})
FIVE_YEARS_MONTHS = 60


@dataclass(frozen=True)
class Question:
    code: str
    text: str
    hint: str = ""


QUESTIONS: tuple[Question, ...] = (
    Question(
        "sick_today",
        "Is the patient sick today (a fever, or an illness more than a mild cold)?",
        "A mild illness such as a cold is not a reason to wait.",
    ),
    Question(
        "allergy_vaccine",
        "Has the patient ever had a severe allergic reaction (anaphylaxis) to a dose of "
        "this vaccine or to anything in it?",
        "Hives all over, swelling of the lips or throat, trouble breathing, fainting.",
    ),
    Question(
        "allergy_other_vaccine",
        "Has the patient ever had a severe allergic reaction to any other vaccine or "
        "injected medicine?",
    ),
    Question(
        "allergy_latex",
        "Does the patient have a severe (anaphylactic) allergy to latex?",
        "A skin rash from gloves alone does not count.",
    ),
    Question(
        "allergy_gelatin",
        "Does the patient have a severe allergy to gelatin?",
        "Gelatin is in several live vaccines (MMR, chickenpox, nasal flu).",
    ),
    Question(
        "serious_reaction",
        "Has the patient ever had a serious reaction after a vaccine, such as a seizure, "
        "a very high fever, or a brain or nerve problem?",
    ),
    Question(
        "guillain_barre",
        "Has the patient ever had Guillain-Barré syndrome?",
    ),
    Question(
        "immune_condition",
        "Does the patient have a condition that weakens the immune system (cancer, "
        "leukemia, HIV/AIDS, an organ or bone-marrow transplant, no working spleen)?",
    ),
    Question(
        "immune_treatment",
        "In the past 3 months, has the patient had treatment that weakens the immune "
        "system: steroid tablets or injections at high dose for 2 weeks or more, cancer "
        "chemotherapy, radiation, or drugs for arthritis, Crohn's or psoriasis?",
    ),
    Question(
        "antivirals",
        "In the past 3 weeks, has the patient taken antiviral medicine for flu or herpes "
        "(e.g. oseltamivir, baloxavir, acyclovir, valacyclovir)?",
    ),
    Question(
        "transfusion",
        "In the past year, has the patient received a blood transfusion, blood products, "
        "or an immune globulin or antibody medicine?",
    ),
    Question(
        "pregnant",
        "Is the patient pregnant, or could she become pregnant in the next month?",
    ),
    Question(
        "seizure_brain",
        "Has the patient had a seizure, or does the patient have a brain or other nervous "
        "system problem?",
    ),
    Question(
        "live_vaccine_recent",
        "Has the patient had a live vaccine in the past 4 weeks (MMR, chickenpox, yellow "
        "fever, nasal flu, shingles live)?",
    ),
    Question(
        "chronic_condition",
        "Does the patient have asthma or wheezing, or a long-term heart, lung, kidney, "
        "liver, blood or metabolic disease (such as diabetes)?",
    ),
)
CODES: tuple[str, ...] = tuple(q.code for q in QUESTIONS)
BY_CODE: dict[str, Question] = {q.code: q for q in QUESTIONS}


@dataclass(frozen=True)
class VaccineTraits:
    """What the rules need to know about the vaccine."""

    live: bool = False
    groups: frozenset[str] = field(default_factory=frozenset)
    cvx: str = ""

    @property
    def intranasal_flu(self) -> bool:
        return self.cvx in LAIV_CVX

    @property
    def pertussis(self) -> bool:
        return bool({g.upper() for g in self.groups} & PERTUSSIS_GROUPS)


@dataclass(frozen=True)
class Finding:
    code: str  # the question's code
    kind: Kind
    text: str

    def as_dict(self) -> dict[str, str]:
        return {"code": self.code, "kind": self.kind, "text": self.text}


class ScreeningIncomplete(ValueError):
    """Some questions are unanswered or answered "unknown"; ``codes`` names them."""

    def __init__(self, codes: list[str]) -> None:
        self.codes = codes
        super().__init__(
            "Answer every screening question yes or no before vaccinating: "
            + ", ".join(codes)
            + "."
        )


def unknown_codes(answers: Mapping[str, str]) -> list[str]:
    """Answers given for questions that do not exist (a typing or integration error)."""
    return sorted(set(answers) - set(CODES))


def unanswered(answers: Mapping[str, str]) -> list[str]:
    """The questions, in order, not answered plainly yes or no."""
    return [c for c in CODES if str(answers.get(c, "")).strip().lower() not in (YES, NO)]


def assess(answers: Mapping[str, str], traits: VaccineTraits, age_months: int) -> list[Finding]:
    """The contraindications and precautions that ``answers`` raise for this vaccine, in
    question order. Raises :class:`ScreeningIncomplete` if any question is unanswered or
    "unknown"."""
    missing = unanswered(answers)
    if missing:
        raise ScreeningIncomplete(missing)
    said = {c for c in CODES if str(answers[c]).strip().lower() == YES}
    out: list[Finding] = []

    def found(code: str, kind: Kind, text: str) -> None:
        if code in said:
            out.append(Finding(code, kind, text))

    live = traits.live
    found(
        "sick_today",
        PRECAUTION,
        "Moderate or severe illness today: usually wait until the patient is better.",
    )
    found(
        "allergy_vaccine",
        CONTRAINDICATION,
        "Severe allergic reaction to this vaccine or one of its components.",
    )
    found(
        "allergy_other_vaccine",
        PRECAUTION,
        "Severe allergic reaction to another vaccine or injected medicine: check the "
        "components and observe the patient longer.",
    )
    found(
        "allergy_latex",
        PRECAUTION,
        "Latex anaphylaxis: use a product whose package insert says it is latex-free.",
    )
    if live:
        found(
            "allergy_gelatin",
            PRECAUTION,
            "Gelatin allergy and a live vaccine that may contain gelatin: check the package "
            "insert; an allergist should evaluate first.",
        )
    found(
        "serious_reaction",
        PRECAUTION,
        "Serious reaction after an earlier vaccine: find out which vaccine and what happened.",
    )
    found(
        "guillain_barre",
        PRECAUTION,
        "History of Guillain-Barré syndrome (a precaution above all if it followed a "
        "flu or tetanus vaccine within 6 weeks).",
    )
    if live:
        found(
            "immune_condition",
            CONTRAINDICATION,
            "Weakened immune system: a live vaccine must not be given.",
        )
        found(
            "immune_treatment",
            CONTRAINDICATION,
            "Immune-weakening treatment in the past 3 months: a live vaccine must not be given.",
        )
        found(
            "antivirals",
            PRECAUTION,
            "Recent antiviral medicine may stop a live vaccine from working: check the "
            "timing of the last dose.",
        )
        found(
            "transfusion",
            PRECAUTION,
            "Blood products or immune globulin in the past year: the live vaccine may not "
            "work; check the interval for the product received.",
        )
        found(
            "pregnant",
            CONTRAINDICATION,
            "Pregnant or may become pregnant within a month: a live vaccine must not be given.",
        )
        found(
            "live_vaccine_recent",
            CONTRAINDICATION,
            "Another live vaccine less than 28 days ago: wait until 28 days have passed.",
        )
    if traits.pertussis:
        found(
            "seizure_brain",
            PRECAUTION,
            "Seizure or nervous-system disorder and a pertussis-containing vaccine: "
            "make sure the condition is stable.",
        )
    if traits.intranasal_flu:
        if age_months < FIVE_YEARS_MONTHS:
            found(
                "chronic_condition",
                CONTRAINDICATION,
                "Child under 5 with asthma, wheezing or a chronic condition: do not give "
                "nasal flu vaccine; give an injectable one.",
            )
        else:
            found(
                "chronic_condition",
                PRECAUTION,
                "Asthma or a chronic condition and nasal flu vaccine: an injectable flu "
                "vaccine is preferred.",
            )
    return out


def contraindications(findings: list[Finding]) -> list[Finding]:
    return [f for f in findings if f.kind == CONTRAINDICATION]


def precautions(findings: list[Finding]) -> list[Finding]:
    return [f for f in findings if f.kind == PRECAUTION]
