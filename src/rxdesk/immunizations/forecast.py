"""Which vaccines a patient is due for, by age and dose history (pure: no database).

A small rule table of the routine CDC schedules that a community pharmacy acts on, each
rule with the source it follows. Doses are matched by CDC vaccine group name (the
``groups`` of the CVX code, from the CDC's vac2vg table), with a few CVX codes where the
group alone cannot tell (live versus recombinant zoster, RSV antibodies for infants).

What it deliberately leaves to the pharmacist (never listed as due): recommendations that
hang on a medical condition, pregnancy, occupation or travel (pneumococcal 19–49, RSV
50–74 at increased risk, hepatitis B outside 19–59 …); children's two-dose first flu
season (6 months–8 years); the infant series (hepatitis B at birth, DTaP, IPV, Hib,
PCV, rotavirus); evidence of immunity other than doses (a titer, birth before 1957,
history of chickenpox). Sources checked on CDC / MMWR pages are marked in each rule;
``VERIFIED`` lists what was checked and what was not.

Statuses: *overdue* (past the rule's grace), *due* (due now), *coming up* (due within
``soon_days``). Dates in reasons are written MM/DD/YYYY.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

__all__ = [
    "HINT_GROUPS",
    "RULES",
    "VERIFIED",
    "Dose",
    "Due",
    "Rule",
    "Status",
    "add_months",
    "age_in_years",
    "forecast",
]

DEFAULT_GRACE_DAYS = 30
SOON_DAYS = 30


class Status(StrEnum):
    OVERDUE = "overdue"
    DUE = "due"
    COMING_UP = "coming_up"

    @property
    def label(self) -> str:
        return {"overdue": "Overdue", "due": "Due", "coming_up": "Coming up"}[self.value]


@dataclass(frozen=True)
class Dose:
    """One dose of the history: its CVX, the CDC vaccine groups of that CVX, the date."""

    cvx: str
    groups: tuple[str, ...]
    given_on: dt.date

    def in_group(self, *names: str) -> bool:
        wanted = {n.lower() for n in names}
        return any(g.lower() in wanted for g in self.groups)


@dataclass(frozen=True)
class Due:
    """A vaccine the patient should get: when, why, and which rule said so."""

    rule: str
    vaccine: str  # words for the list, e.g. "Influenza"
    group: str  # CDC vaccine group, for filtering
    status: Status
    due_on: dt.date
    reason: str
    source: str
    cvx_hint: str  # a CVX whose dose on ``due_on`` clears this line (for tests and hints)


@dataclass(frozen=True)
class _Need:
    due_on: dt.date
    reason: str
    overdue_on: dt.date | None = None  # default: due_on + DEFAULT_GRACE_DAYS
    cvx_hint: str = ""


@dataclass(frozen=True)
class Rule:
    key: str
    vaccine: str
    group: str
    min_age_months: int
    source: str
    check: Callable[[dt.date, dt.date, Sequence[Dose]], _Need | None]
    cvx_hint: str


# --- Dates ------------------------------------------------------------------------------------


def add_months(day: dt.date, months: int) -> dt.date:
    """The same day ``months`` later (the month's last day when it has no such day)."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def birthday(born: dt.date, years: int) -> dt.date:
    return add_months(born, 12 * years)


def age_in_years(born: dt.date, on: dt.date) -> int:
    years = on.year - born.year
    if (on.month, on.day) < (born.month, born.day):
        years -= 1
    return years


def _d(day: dt.date) -> str:
    return f"{day:%m/%d/%Y}"


def _season_start(today: dt.date, month: int) -> dt.date:
    year = today.year if today.month >= month else today.year - 1
    return dt.date(year, month, 1)


# --- Rules ------------------------------------------------------------------------------------

FLU_SEASON_MONTH = 7  # the flu season runs July through June (CDC's influenza year)
COVID_SEASON_MONTH = 9  # the season's COVID-19 vaccine ships in late summer (rxdesk's choice)
RSV_ANTIBODIES = frozenset({"306", "307", "315", "332"})  # nirsevimab, clesrovimab: infants
ZOSTER_LIVE = frozenset({"121"})
PCV15 = frozenset({"215"})
HEPB_TWO_DOSE = frozenset({"189"})  # Heplisav-B: 2 doses a month apart


def _influenza(born: dt.date, today: dt.date, doses: Sequence[Dose]) -> _Need | None:
    start = _season_start(today, FLU_SEASON_MONTH)
    if any(d.in_group("FLU") and d.given_on >= start for d in doses):
        return None
    due = max(start, add_months(born, 6))
    # CDC: vaccinate ideally by the end of October.
    late = max(dt.date(start.year, 11, 1), due + dt.timedelta(days=DEFAULT_GRACE_DAYS))
    return _Need(due, f"Influenza: none this season (since {_d(start)})", late)


def _covid(born: dt.date, today: dt.date, doses: Sequence[Dose]) -> _Need | None:
    start = _season_start(today, COVID_SEASON_MONTH)
    if any(d.in_group("COVID-19") and d.given_on >= start for d in doses):
        return None
    due = max(start, add_months(born, 6))
    # Due all season long, never "overdue": whether to take it is the patient's decision
    # with the pharmacist (ACIP 2025).
    return _Need(
        due,
        f"COVID-19: no dose of this season's vaccine (since {_d(start)})",
        add_months(start, 12),
    )


def _is_tdap(d: Dose) -> bool:
    return d.in_group("TDAP") or d.cvx == "115"


def _tdap(born: dt.date, today: dt.date, doses: Sequence[Dose]) -> _Need | None:
    eleven = birthday(born, 11)
    if any(_is_tdap(d) and d.given_on >= eleven for d in doses):
        return None
    return _Need(birthday(born, 19), "Tdap: no dose recorded at age 11 or older")


def _td_booster(born: dt.date, today: dt.date, doses: Sequence[Dose]) -> _Need | None:
    eleven = birthday(born, 11)
    if not any(_is_tdap(d) and d.given_on >= eleven for d in doses):
        return None  # the Tdap rule asks for the Tdap first
    seven = birthday(born, 7)
    last = max(
        d.given_on
        for d in doses
        if (_is_tdap(d) or d.in_group("TDAP", "Td")) and d.given_on >= seven
    )
    due = max(add_months(last, 120), birthday(born, 19))
    return _Need(due, f"Td/Tdap booster: last tetanus dose {_d(last)} (every 10 years)")


def _zoster(born: dt.date, today: dt.date, doses: Sequence[Dose]) -> _Need | None:
    rzv = sorted(d.given_on for d in doses if d.in_group("ZOSTER") and d.cvx not in ZOSTER_LIVE)
    fifty = birthday(born, 50)
    if not rzv:
        return _Need(fifty, "Shingles (RZV): no dose recorded (2 doses from age 50)")
    if len(rzv) == 1:
        first = rzv[0]
        return _Need(
            max(add_months(first, 2), fifty),
            f"Shingles (RZV): dose 2 of 2 (dose 1 on {_d(first)})",
            add_months(first, 6),
        )
    return None


def _pneumococcal(born: dt.date, today: dt.date, doses: Sequence[Dose]) -> _Need | None:
    fifty = birthday(born, 50)
    # Adult doses only: a childhood PCV series does not make an adult "PCV-experienced".
    adult = birthday(born, 19)
    pcv = [d for d in doses if d.in_group("PneumoPCV") and d.given_on >= adult]
    if not pcv:
        return _Need(fifty, "Pneumococcal: no conjugate vaccine (PCV) recorded (from age 50)")
    if all(d.cvx in PCV15 for d in pcv) and not any(d.in_group("PneumoPPV") for d in doses):
        last = max(d.given_on for d in pcv)
        return _Need(
            max(add_months(last, 12), fifty),
            f"Pneumococcal: PPSV23 one year after PCV15 ({_d(last)})",
            cvx_hint="33",
        )
    return None


def _rsv(born: dt.date, today: dt.date, doses: Sequence[Dose]) -> _Need | None:
    if any(d.in_group("RSV") and d.cvx not in RSV_ANTIBODIES for d in doses):
        return None
    return _Need(birthday(born, 75), "RSV: no dose recorded (one dose from age 75)")


def _series_hpv(born: dt.date, today: dt.date, doses: Sequence[Dose]) -> _Need | None:
    if today >= birthday(born, 27):
        return None
    given = sorted(d.given_on for d in doses if d.in_group("HPV"))
    eleven = birthday(born, 11)
    if not given:
        return _Need(eleven, "HPV: no dose recorded (from age 11, through age 26)")
    first = given[0]
    if first < birthday(born, 15):  # started before the 15th birthday: 2 doses
        if len(given) >= 2:
            return None
        return _Need(
            add_months(first, 6),
            f"HPV: dose 2 of 2 (dose 1 on {_d(first)})",
            add_months(first, 12),
        )
    if len(given) == 1:
        return _Need(add_months(first, 2), f"HPV: dose 2 of 3 (dose 1 on {_d(first)})")
    if len(given) == 2:
        due = max(add_months(first, 6), given[1] + dt.timedelta(weeks=12))
        return _Need(due, f"HPV: dose 3 of 3 (dose 1 on {_d(first)})")
    return None


def _hepatitis_b(born: dt.date, today: dt.date, doses: Sequence[Dose]) -> _Need | None:
    if not birthday(born, 19) <= today < birthday(born, 60):
        return None
    series = sorted((d for d in doses if d.in_group("HepB")), key=lambda d: d.given_on)
    if not series:
        return _Need(birthday(born, 19), "Hepatitis B: no dose recorded (adults 19–59)")
    first = series[0].given_on
    needed = 2 if any(d.cvx in HEPB_TWO_DOSE for d in series) else 3
    if len(series) >= needed:
        return None
    if len(series) == 1:
        return _Need(
            add_months(first, 1), f"Hepatitis B: dose 2 of {needed} (dose 1 on {_d(first)})"
        )
    due = max(add_months(first, 6), series[1].given_on + dt.timedelta(weeks=8))
    return _Need(due, f"Hepatitis B: dose 3 of 3 (dose 1 on {_d(first)})")


def _childhood_two_dose(
    group: str, words: str, *, interval: Callable[[dt.date, dt.date], dt.timedelta]
) -> Callable[[dt.date, dt.date, Sequence[Dose]], _Need | None]:
    """MMR and varicella: dose 1 at 12–15 months, dose 2 at 4–6 years (children through 18)."""

    def check(born: dt.date, today: dt.date, doses: Sequence[Dose]) -> _Need | None:
        if today >= birthday(born, 19):
            return None
        one = add_months(born, 12)
        valid = sorted(d.given_on for d in doses if d.in_group(group) and d.given_on >= one)
        if not valid:
            return _Need(
                one, f"{words}: no dose recorded since age 12 months", add_months(born, 16)
            )
        if len(valid) == 1:
            due = max(birthday(born, 4), valid[0] + interval(born, valid[0]))
            return _Need(
                due,
                f"{words}: dose 2 of 2 (dose 1 on {_d(valid[0])})",
                max(birthday(born, 7), due + dt.timedelta(days=DEFAULT_GRACE_DAYS)),
            )
        return None

    return check


def _varicella_interval(born: dt.date, first: dt.date) -> dt.timedelta:
    # 3 months apart under 13 years, 4 weeks from 13 on (CDC child and adolescent notes).
    return dt.timedelta(days=90) if first < birthday(born, 13) else dt.timedelta(weeks=4)


SCHEDULE_2025 = "CDC immunization schedules, 2025"
RULES: tuple[Rule, ...] = (
    Rule("influenza", "Influenza", "FLU", 6,
         f"{SCHEDULE_2025}: influenza yearly for everyone 6 months and older", _influenza, "150"),
    Rule("covid19", "COVID-19", "COVID-19", 6,
         f"{SCHEDULE_2025}: a dose of the current season's COVID-19 vaccine, 6 months and "
         "older (2025–26: individual decision-making; not verified)", _covid, "309"),
    Rule("tdap", "Tdap", "TDAP", 19 * 12,
         f"{SCHEDULE_2025} (adult): 1 dose Tdap if none at age 11 or older", _tdap, "115"),
    Rule("td_booster", "Td/Tdap booster", "Td", 19 * 12,
         f"{SCHEDULE_2025} (adult): Td or Tdap every 10 years", _td_booster, "115"),
    Rule("zoster", "Shingles (RZV)", "ZOSTER", 50 * 12,
         f"{SCHEDULE_2025} (adult): recombinant zoster, 2 doses 2–6 months apart, 50 and older",
         _zoster, "187"),
    Rule("pneumococcal", "Pneumococcal", "PneumoPCV", 50 * 12,
         "ACIP, MMWR 2025;74(1): PCV20 or PCV21 (or PCV15 then PPSV23) for PCV-naive adults "
         "50 and older", _pneumococcal, "216"),
    Rule("rsv", "RSV", "RSV", 75 * 12,
         "ACIP, MMWR 2024;73(32): one lifetime dose of RSV vaccine, 75 and older", _rsv, "305"),
    Rule("hpv", "HPV", "HPV", 11 * 12,
         f"{SCHEDULE_2025}: HPV at 11–12, catch-up through 26; 2 doses if started before 15, "
         "else 3", _series_hpv, "165"),
    Rule("hepatitis_b", "Hepatitis B", "HepB", 19 * 12,
         f"{SCHEDULE_2025} (adult): hepatitis B for adults 19–59 (3 doses; Heplisav-B 2)",
         _hepatitis_b, "43"),
    Rule("mmr", "MMR", "MMR", 12,
         f"{SCHEDULE_2025} (child): MMR at 12–15 months and 4–6 years",
         _childhood_two_dose("MMR", "MMR", interval=lambda b, f: dt.timedelta(days=28)), "03"),
    Rule("varicella", "Varicella", "VARICELLA", 12,
         f"{SCHEDULE_2025} (child): varicella at 12–15 months and 4–6 years",
         _childhood_two_dose("VARICELLA", "Varicella", interval=_varicella_interval), "21"),
)  # fmt: skip

# The CDC vaccine group of each CVX a rule suggests (cvx_hint).
HINT_GROUPS = {
    "150": "FLU",
    "309": "COVID-19",
    "115": "TDAP",
    "187": "ZOSTER",
    "216": "PneumoPCV",
    "33": "PneumoPPV",
    "305": "RSV",
    "165": "HPV",
    "43": "HepB",
    "03": "MMR",
    "21": "VARICELLA",
}

VERIFIED = {
    "checked": [
        "pneumococcal conjugate for PCV-naive adults >= 50 (ACIP Oct 2024, MMWR Jan 2025)",
        "RSV: single lifetime dose for all adults >= 75 (ACIP June 2024, MMWR Aug 2024)",
        "recombinant zoster: 2 doses 2-6 months apart from 50 (minimum 4 weeks)",
    ],
    "not checked here": [
        "COVID-19 2025-26 season start and eligibility (ACIP changed it in 2025)",
        "HPV and hepatitis B intervals (from the 2025 schedule notes as recalled)",
    ],
}


def _doses(history: Iterable[Dose | tuple[str, Sequence[str], dt.date]]) -> list[Dose]:
    out = []
    for item in history:
        if isinstance(item, Dose):
            out.append(item)
        else:
            cvx, groups, given_on = item
            out.append(Dose(str(cvx), tuple(groups or ()), given_on))
    return out


def forecast(
    born: dt.date,
    today: dt.date,
    history: Iterable[Dose | tuple[str, Sequence[str], dt.date]],
    *,
    soon_days: int = SOON_DAYS,
    rules: Sequence[Rule] = RULES,
) -> list[Due]:
    """The vaccines due, overdue or coming up within ``soon_days`` for a patient born on
    ``born``, given the dose history ``[(cvx, groups, date)]`` (doses after ``today`` are
    ignored). Overdue first, then due, then coming up; earliest first."""
    if born > today:
        return []
    doses = [d for d in _doses(history) if born <= d.given_on <= today]
    horizon = today + dt.timedelta(days=soon_days)
    out: list[Due] = []
    for rule in rules:
        need = rule.check(born, today, doses)
        if need is None:
            continue
        due_on = max(need.due_on, add_months(born, rule.min_age_months))
        if due_on > horizon:
            continue
        # Overdue after the rule's limit, and never sooner than the grace after the date it
        # became due (a series whose interval passed before the age was reached).
        grace = due_on + dt.timedelta(days=DEFAULT_GRACE_DAYS)
        late = max(need.overdue_on, grace) if need.overdue_on else grace
        if due_on > today:
            status = Status.COMING_UP
        elif today >= late:
            status = Status.OVERDUE
        else:
            status = Status.DUE
        out.append(
            Due(
                rule=rule.key,
                vaccine=rule.vaccine,
                group=rule.group,
                status=status,
                due_on=due_on,
                reason=need.reason,
                source=rule.source,
                cvx_hint=need.cvx_hint or rule.cvx_hint,
            )
        )
    order = {Status.OVERDUE: 0, Status.DUE: 1, Status.COMING_UP: 2}
    out.sort(key=lambda d: (order[d.status], d.due_on, d.vaccine))
    return out
