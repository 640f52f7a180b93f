"""The screening questionnaire (pure): codes, refusal of unanswered questions, and what
each answer means for live and inactivated vaccines."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rxdesk.immunizations import screening_questions as sq

INACTIVATED = sq.VaccineTraits(live=False, groups=frozenset({"FLU"}), cvx="150")
LIVE = sq.VaccineTraits(live=True, groups=frozenset({"MMR"}), cvx="03")
LAIV = sq.VaccineTraits(live=True, groups=frozenset({"FLU"}), cvx="149")
TDAP = sq.VaccineTraits(live=False, groups=frozenset({"DTAP"}), cvx="115")
ADULT = 40 * 12

answers_st = st.fixed_dictionaries({c: st.sampled_from([sq.YES, sq.NO]) for c in sq.CODES})
traits_st = st.sampled_from([INACTIVATED, LIVE, LAIV, TDAP])


def no(**yes: str) -> dict[str, str]:
    return {c: yes.get(c, sq.NO) for c in sq.CODES}


def test_the_codes_are_stable_and_unique():
    assert len(set(sq.CODES)) == len(sq.CODES) == 15
    assert sq.CODES[0] == "sick_today" and "live_vaccine_recent" in sq.CODES


def test_all_no_finds_nothing():
    for traits in (INACTIVATED, LIVE, LAIV, TDAP):
        assert sq.assess(no(), traits, ADULT) == []


@pytest.mark.parametrize("missing", ["unknown", "", None])
def test_an_unknown_or_unanswered_question_stops_the_screening(missing):
    answers = no()
    if missing is None:
        del answers["pregnant"]
    else:
        answers["pregnant"] = missing
    with pytest.raises(sq.ScreeningIncomplete) as info:
        sq.assess(answers, INACTIVATED, ADULT)
    assert info.value.codes == ["pregnant"]


@pytest.mark.parametrize(
    "code", ["pregnant", "immune_condition", "immune_treatment", "live_vaccine_recent"]
)
def test_live_vaccines_make_these_contraindications(code):
    found = sq.assess(no(**{code: sq.YES}), LIVE, ADULT)
    assert [(f.code, f.kind) for f in found] == [(code, sq.CONTRAINDICATION)]
    assert sq.assess(no(**{code: sq.YES}), INACTIVATED, ADULT) == []


def test_a_recent_transfusion_is_a_precaution_for_a_live_vaccine_only():
    assert [f.kind for f in sq.assess(no(transfusion="yes"), LIVE, ADULT)] == [sq.PRECAUTION]
    assert sq.assess(no(transfusion="yes"), INACTIVATED, ADULT) == []


def test_anaphylaxis_to_the_vaccine_is_always_a_contraindication():
    for traits in (INACTIVATED, LIVE, LAIV, TDAP):
        found = sq.assess(no(allergy_vaccine="yes"), traits, ADULT)
        assert [(f.code, f.kind) for f in found] == [("allergy_vaccine", sq.CONTRAINDICATION)]


def test_asthma_and_nasal_flu_depend_on_age():
    assert sq.assess(no(chronic_condition="yes"), LAIV, 36)[0].kind == sq.CONTRAINDICATION
    assert sq.assess(no(chronic_condition="yes"), LAIV, ADULT)[0].kind == sq.PRECAUTION
    assert sq.assess(no(chronic_condition="yes"), INACTIVATED, 36) == []


def test_a_brain_disorder_is_a_precaution_for_pertussis_vaccines():
    assert sq.assess(no(seizure_brain="yes"), TDAP, ADULT)[0].kind == sq.PRECAUTION
    assert sq.assess(no(seizure_brain="yes"), INACTIVATED, ADULT) == []


@given(answers=answers_st, traits=traits_st, age=st.integers(min_value=0, max_value=1200))
def test_findings_come_only_from_yes_answers_in_question_order(answers, traits, age):
    found = sq.assess(answers, traits, age)
    codes = [f.code for f in found]
    assert all(answers[c] == sq.YES for c in codes)
    assert codes == [c for c in sq.CODES if c in codes]  # question order, each once
    assert all(f.kind in (sq.CONTRAINDICATION, sq.PRECAUTION) and f.text for f in found)


@given(answers=answers_st, traits=traits_st, code=st.sampled_from(sq.CODES))
def test_saying_yes_never_removes_a_finding(answers, traits, code):
    before = {(f.code, f.kind) for f in sq.assess(answers, traits, ADULT)}
    after = {(f.code, f.kind) for f in sq.assess({**answers, code: sq.YES}, traits, ADULT)}
    assert before <= after


@given(answers=answers_st)
def test_a_live_vaccine_finds_at_least_what_an_inactivated_one_finds(answers):
    plain = {f.code for f in sq.assess(answers, INACTIVATED, ADULT)}
    live = {f.code for f in sq.assess(answers, sq.VaccineTraits(live=True, cvx="150"), ADULT)}
    assert plain <= live
