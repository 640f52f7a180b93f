"""The pure vaccine forecast: each rule on worked examples, and invariants with hypothesis
(never due before the rule's minimum age; a dose on the due date clears the line)."""

from __future__ import annotations

import datetime as dt

from hypothesis import given, settings
from hypothesis import strategies as st

from rxdesk.immunizations.forecast import (
    HINT_GROUPS,
    RULES,
    Dose,
    Status,
    add_months,
    age_in_years,
    forecast,
)

TODAY = dt.date(2026, 10, 15)
GROUPS = {
    "150": ("FLU",),
    "309": ("COVID-19",),
    "115": ("TDAP",),
    "113": ("Td",),
    "187": ("ZOSTER",),
    "121": ("ZOSTER",),
    "216": ("PneumoPCV",),
    "215": ("PneumoPCV",),
    "33": ("PneumoPPV",),
    "305": ("RSV",),
    "306": ("RSV",),
    "165": ("HPV",),
    "43": ("HepB",),
    "189": ("HepB",),
    "03": ("MMR",),
    "94": ("MMR", "VARICELLA"),
    "21": ("VARICELLA",),
}


def dose(cvx: str, on: dt.date) -> Dose:
    return Dose(cvx, GROUPS[cvx], on)


def lines(born: dt.date, history=(), today: dt.date = TODAY) -> dict[str, tuple[str, str]]:
    return {d.rule: (d.status.value, d.reason) for d in forecast(born, today, history)}


def test_months_and_ages():
    assert add_months(dt.date(2024, 1, 31), 1) == dt.date(2024, 2, 29)
    assert add_months(dt.date(2024, 2, 29), 12) == dt.date(2025, 2, 28)
    assert age_in_years(dt.date(1960, 10, 16), TODAY) == 65
    assert age_in_years(dt.date(1960, 10, 15), TODAY) == 66


def test_an_adult_with_no_history_is_due_for_the_adult_vaccines():
    got = lines(dt.date(1950, 3, 1))  # 76
    assert got == {
        "influenza": ("due", "Influenza: none this season (since 07/01/2026)"),
        "covid19": ("due", "COVID-19: no dose of this season's vaccine (since 09/01/2026)"),
        "tdap": ("overdue", "Tdap: no dose recorded at age 11 or older"),
        "zoster": ("overdue", "Shingles (RZV): no dose recorded (2 doses from age 50)"),
        "pneumococcal": (
            "overdue",
            "Pneumococcal: no conjugate vaccine (PCV) recorded (from age 50)",
        ),
        "rsv": ("overdue", "RSV: no dose recorded (one dose from age 75)"),
    }


def test_influenza_is_overdue_from_november():
    born = dt.date(1980, 1, 1)
    assert lines(born, today=dt.date(2026, 10, 31))["influenza"][0] == "due"
    assert lines(born, today=dt.date(2026, 11, 1))["influenza"][0] == "overdue"
    # A dose of last season does not count; one since July 1 does.
    assert "influenza" in lines(born, [dose("150", dt.date(2026, 6, 30))])
    assert "influenza" not in lines(born, [dose("150", dt.date(2026, 7, 1))])


def test_influenza_waits_for_six_months_of_age():
    born = dt.date(2026, 6, 1)
    got = forecast(born, TODAY, [])
    assert [d.rule for d in got] == []  # 4 months old: nothing yet (not within 30 days)
    soon = forecast(born, dt.date(2026, 11, 10), [])
    assert [(d.rule, d.status, d.due_on) for d in soon] == [
        ("covid19", Status.COMING_UP, dt.date(2026, 12, 1)),
        ("influenza", Status.COMING_UP, dt.date(2026, 12, 1)),
    ]


def test_td_booster_every_ten_years_after_a_tdap():
    born = dt.date(1970, 5, 5)
    history = [dose("115", dt.date(2010, 4, 1)), dose("113", dt.date(2016, 9, 20))]
    got = lines(born, history, today=dt.date(2026, 9, 1))
    assert "tdap" not in got
    assert got["td_booster"] == (
        "coming_up",
        "Td/Tdap booster: last tetanus dose 09/20/2016 (every 10 years)",
    )
    assert lines(born, history, today=dt.date(2026, 11, 1))["td_booster"][0] == "overdue"


def test_a_tdap_given_at_ten_does_not_count_as_the_adolescent_dose():
    got = lines(dt.date(1990, 1, 1), [dose("115", dt.date(2000, 6, 1))])
    assert got["tdap"] == ("overdue", "Tdap: no dose recorded at age 11 or older")


def test_shingles_second_dose_two_to_six_months_after_the_first():
    born = dt.date(1970, 1, 1)
    first = dt.date(2026, 8, 1)
    got = forecast(born, TODAY, [dose("187", first)])
    zoster = next(d for d in got if d.rule == "zoster")
    assert (zoster.status, zoster.due_on) == (Status.DUE, dt.date(2026, 10, 1))
    assert zoster.reason == "Shingles (RZV): dose 2 of 2 (dose 1 on 08/01/2026)"
    assert lines(born, [dose("187", first)], today=dt.date(2027, 2, 1))["zoster"][0] == "overdue"
    assert "zoster" not in lines(born, [dose("187", first), dose("187", dt.date(2026, 10, 2))])
    # The live vaccine (Zostavax) does not count.
    assert "zoster" in lines(born, [dose("121", dt.date(2012, 1, 1))])


def test_pneumococcal_pcv15_needs_ppsv23_a_year_later():
    born = dt.date(1960, 1, 1)
    got = forecast(born, TODAY, [dose("215", dt.date(2025, 9, 1))])
    pneumo = next(d for d in got if d.rule == "pneumococcal")
    assert pneumo.due_on == dt.date(2026, 9, 1) and pneumo.cvx_hint == "33"
    assert pneumo.reason == "Pneumococcal: PPSV23 one year after PCV15 (09/01/2025)"
    done = [dose("215", dt.date(2025, 9, 1)), dose("33", dt.date(2026, 9, 2))]
    assert "pneumococcal" not in lines(born, done)
    assert "pneumococcal" not in lines(born, [dose("216", dt.date(2024, 1, 1))])


def test_rsv_antibodies_for_infants_are_not_the_adult_vaccine():
    born = dt.date(1945, 1, 1)
    assert "rsv" in lines(born, [dose("306", dt.date(2025, 1, 1))])
    assert "rsv" not in lines(born, [dose("305", dt.date(2025, 1, 1))])


def test_hpv_two_or_three_doses_by_the_age_at_the_first():
    young = dt.date(2013, 3, 1)  # 13
    got = lines(young, [dose("165", dt.date(2026, 1, 10))])
    assert got["hpv"] == ("due", "HPV: dose 2 of 2 (dose 1 on 01/10/2026)")
    older = dt.date(2006, 3, 1)  # 20, started at 20
    got = lines(older, [dose("165", dt.date(2026, 5, 1)), dose("165", dt.date(2026, 7, 1))])
    assert got["hpv"] == ("coming_up", "HPV: dose 3 of 3 (dose 1 on 05/01/2026)")
    assert "hpv" not in lines(dt.date(1995, 1, 1))  # 31: past the catch-up age


def test_hepatitis_b_for_adults_19_to_59_and_heplisav_needs_two():
    assert lines(dt.date(1990, 1, 1))["hepatitis_b"][1] == (
        "Hepatitis B: no dose recorded (adults 19–59)"
    )
    assert "hepatitis_b" not in lines(dt.date(1960, 1, 1))  # 66
    two = [dose("189", dt.date(2025, 1, 1)), dose("189", dt.date(2025, 2, 1))]
    assert "hepatitis_b" not in lines(dt.date(1990, 1, 1), two)
    three_started = [dose("43", dt.date(2025, 1, 1)), dose("43", dt.date(2025, 2, 1))]
    assert lines(dt.date(1990, 1, 1), three_started)["hepatitis_b"][1] == (
        "Hepatitis B: dose 3 of 3 (dose 1 on 01/01/2025)"
    )


def test_children_get_mmr_and_varicella_at_one_and_at_four():
    born = dt.date(2022, 9, 1)  # 4 years old
    history = [dose("94", dt.date(2023, 9, 5))]  # MMRV at 12 months
    got = lines(born, history)
    assert got["mmr"] == ("due", "MMR: dose 2 of 2 (dose 1 on 09/05/2023)")
    assert got["varicella"] == ("due", "Varicella: dose 2 of 2 (dose 1 on 09/05/2023)")
    # A dose before the first birthday does not count.
    early = lines(dt.date(2025, 1, 1), [dose("03", dt.date(2025, 11, 1))])
    assert early["mmr"] == ("overdue", "MMR: no dose recorded since age 12 months")


def test_doses_after_today_and_before_birth_are_ignored():
    born = dt.date(1980, 1, 1)
    assert "influenza" in lines(born, [dose("150", TODAY + dt.timedelta(days=1))])


def test_it_takes_plain_tuples_and_matches_groups_case_blind():
    got = forecast(dt.date(1980, 1, 1), TODAY, [("158", ["flu"], dt.date(2026, 9, 1))])
    assert "influenza" not in {d.rule for d in got}


def test_every_rule_has_a_source_and_a_hint_of_a_known_group():
    for rule in RULES:
        assert rule.source and rule.cvx_hint in HINT_GROUPS


# --- Invariants -------------------------------------------------------------------------------

births = st.dates(min_value=dt.date(1920, 1, 1), max_value=dt.date(2026, 12, 31))
todays = st.dates(min_value=dt.date(2020, 1, 1), max_value=dt.date(2035, 12, 31))
histories = st.lists(
    st.tuples(st.sampled_from(sorted(GROUPS)), st.integers(min_value=0, max_value=365 * 90)),
    max_size=8,
)


def _history(born: dt.date, raw: list[tuple[str, int]]) -> list[Dose]:
    return [dose(cvx, born + dt.timedelta(days=days)) for cvx, days in raw]


@settings(max_examples=300, deadline=None)
@given(born=births, today=todays, raw=histories)
def test_nothing_is_due_before_the_rules_minimum_age(born, today, raw):
    minimum = {r.key: r.min_age_months for r in RULES}
    for due in forecast(born, today, _history(born, raw)):
        assert due.due_on >= add_months(born, minimum[due.rule])
        assert (due.status == Status.COMING_UP) == (due.due_on > today)
        assert due.status != Status.OVERDUE or due.due_on < today


@settings(max_examples=300, deadline=None)
@given(born=births, today=todays, raw=histories)
def test_a_dose_on_the_due_date_clears_the_line(born, today, raw):
    history = _history(born, raw)
    for due in forecast(born, today, history):
        if due.due_on > today:
            continue
        given_dose = Dose(due.cvx_hint, (HINT_GROUPS[due.cvx_hint],), due.due_on)
        after = forecast(born, today, [*history, given_dose])
        same = [d for d in after if d.rule == due.rule]
        assert all(d.due_on > due.due_on for d in same), (due, same)
