"""The pure rules of MedWatch reports and NCC MERP categories."""

from __future__ import annotations

import datetime as dt

from hypothesis import given
from hypothesis import strategies as st

from rxdesk.care import quality_rules as rules


def test_initials_are_two_letters_never_the_name():
    assert rules.initials("María", "O'Brien") == "MO"
    assert rules.initials("", "") == "UNK"
    assert rules.initials("Zoë", "Ñúñez") == "ZN"


def test_age_is_in_years_from_two_then_months_weeks_days():
    born = dt.date(2020, 5, 17)
    assert rules.age_at(born, dt.date(2025, 5, 16)) == (4, "years")
    assert rules.age_at(born, dt.date(2025, 5, 17)) == (5, "years")
    assert rules.age_at(born, dt.date(2022, 5, 16)) == (23, "months")
    assert rules.age_at(born, dt.date(2020, 6, 17)) == (1, "months")
    assert rules.age_at(born, dt.date(2020, 6, 10)) == (3, "weeks")
    assert rules.age_at(born, dt.date(2020, 5, 20)) == (3, "days")
    assert rules.age_at(born, dt.date(2020, 5, 16)) is None


@given(
    born=st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2030, 1, 1)),
    days=st.integers(min_value=0, max_value=120 * 366),
)
def test_age_never_exceeds_the_time_lived(born, days):
    on = born + dt.timedelta(days=days)
    n, unit = rules.age_at(born, on)  # type: ignore[misc]
    per = {"years": 365, "months": 28, "weeks": 7, "days": 1}[unit]
    assert 0 <= n * per <= days
    if unit == "years":
        assert n >= 2


def test_vaccines_are_told_by_product_type_or_name():
    assert rules.is_vaccine(product_type="VACCINE")
    assert rules.is_vaccine(name="Influenza vaccine, quadrivalent")
    assert rules.is_vaccine(name="Tetanus and diphtheria toxoids")
    assert not rules.is_vaccine(name="Amoxicillin", product_type="HUMAN PRESCRIPTION DRUG")


def test_serious_is_any_b2_outcome_and_non_serious_is_explicit():
    assert rules.serious(["hospitalization"])
    assert not rules.serious([rules.NON_SERIOUS])
    assert not rules.serious([])
    assert rules.outcome_problem(["death", rules.NON_SERIOUS])
    assert rules.outcome_problem(["fainted"])
    assert rules.outcome_problem(["death", "death"])
    assert rules.outcome_problem(["death", "hospitalization"]) is None


def test_missing_names_every_field_at_once():
    missing = rules.missing_for_submit({"outcomes": ["death"]}, [{"role": "concomitant"}])
    fields = {m["field"] for m in missing}
    assert fields == {
        "patient_identifier",
        "event_date",
        "description",
        "death_date",
        "adverse_event",
        "products",
        "products.0.name",
        "reporter_name",
        "reporter_phone",
    }
    complete = {
        "patient_identifier": "ML",
        "event_date": dt.date(2025, 1, 2),
        "description": "Rash",
        "outcomes": [rules.NON_SERIOUS],
        "adverse_event": True,
        "reporter_name": "Ann Lee",
        "reporter_email": "ann@example.org",
    }
    assert rules.missing_for_submit(complete, [{"role": "suspect", "name": "Drug"}]) == []


def test_merp_groups():
    assert [c for c in "ABCDEFGHI" if rules.reached_patient(c)] == list("CDEFGHI")
    assert [c for c in "ABCDEFGHI" if rules.harmful(c)] == list("EFGHI")
