"""Cockcroft–Gault and body weights against the reference's worked problems
(identifiers-labels-math.md §6.15, problems 12 and 13) and their properties."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rxdesk.calc.renal import (
    RenalCalcError,
    adjusted_body_weight,
    clearance,
    cockcroft_gault,
    dosing_weight,
    ideal_body_weight,
    scr_umol_to_mg_dl,
)

D = Decimal
INCH = D("2.54")


def test_it_matches_worked_problem_12_female():
    # Female, 72 y, 60 kg, SCr 1.2 → 47.22 × 0.85 = 40.1 mL/min.
    got = cockcroft_gault(age_years=72, weight_kg=D("60"), scr_mg_dl=D("1.2"), female=True)
    assert got == D("40.1")


def test_it_matches_worked_problem_12_without_the_female_factor():
    got = cockcroft_gault(age_years=72, weight_kg=D("60"), scr_mg_dl=D("1.2"), female=False)
    assert got == D("47.2")


def test_it_matches_worked_problem_13_ibw_and_adjbw():
    # Male 5 ft 10 in, 110 kg → IBW 73.0, AdjBW 87.8; C-G at 55 y, SCr 1.0 → 103.7.
    height = 70 * INCH
    assert ideal_body_weight(height_cm=height, female=False) == D("73.0")
    assert adjusted_body_weight(ideal_kg=D("73.0"), actual_kg=D("110")) == D("87.80")
    weight, basis = dosing_weight(actual_kg=D("110"), height_cm=height, female=False)
    assert (weight, basis) == (D("87.80"), "adjusted")
    cl = clearance(age_years=55, sex="M", actual_kg=D("110"), height_cm=height, scr_mg_dl=D("1"))
    assert cl.crcl_ml_min == D("103.7")
    assert cl.weight_kg == D("87.8")
    assert cl.weight_basis == "adjusted"
    assert "103.7 mL/min" in cl.describe()


def test_it_uses_female_devine_base():
    assert ideal_body_weight(height_cm=65 * INCH, female=True) == D("57.0")


def test_it_picks_actual_weight_below_ideal():
    # 165 cm female: IBW ≈ 57.0; 50 kg is below it.
    assert dosing_weight(actual_kg=D("50"), height_cm=65 * INCH, female=True) == (
        D("50"),
        "actual",
    )


def test_it_picks_ideal_weight_up_to_120_percent():
    # IBW 73.0 → 120 % = 87.6 kg: ideal at exactly 87.6, adjusted just above.
    height = 70 * INCH
    assert dosing_weight(actual_kg=D("87.6"), height_cm=height, female=False)[1] == "ideal"
    assert dosing_weight(actual_kg=D("87.7"), height_cm=height, female=False)[1] == "adjusted"


def test_it_uses_actual_weight_without_height_or_under_60_inches():
    assert dosing_weight(actual_kg=D("90"), height_cm=None, female=False) == (D("90"), "actual")
    assert dosing_weight(actual_kg=D("90"), height_cm=D("150"), female=True) == (
        D("90"),
        "actual",
    )
    with pytest.raises(RenalCalcError):
        ideal_body_weight(height_cm=D("150"), female=True)


def test_it_converts_umol_per_litre():
    assert scr_umol_to_mg_dl(D("88.4")) == D("1")


def test_it_optionally_rounds_a_low_creatinine_up():
    plain = cockcroft_gault(age_years=85, weight_kg=D("50"), scr_mg_dl=D("0.5"), female=True)
    floored = cockcroft_gault(
        age_years=85, weight_kg=D("50"), scr_mg_dl=D("0.5"), female=True, min_scr=D("1.0")
    )
    assert plain == D("64.9")
    assert floored == D("32.5")


@pytest.mark.parametrize(
    ("kwargs", "problem"),
    [
        ({"age_years": 17, "weight_kg": D("60"), "scr_mg_dl": D("1")}, "child"),
        ({"age_years": 40, "weight_kg": D("0"), "scr_mg_dl": D("1")}, "weight"),
        ({"age_years": 40, "weight_kg": D("60"), "scr_mg_dl": D("0")}, "creatinine"),
        ({"age_years": 140, "weight_kg": D("60"), "scr_mg_dl": D("1")}, "age"),
    ],
)
def test_it_refuses_impossible_inputs(kwargs, problem):
    with pytest.raises(RenalCalcError):
        cockcroft_gault(female=False, **kwargs)


def test_it_needs_a_known_sex():
    with pytest.raises(RenalCalcError):
        clearance(age_years=50, sex="U", actual_kg=D("70"), height_cm=None, scr_mg_dl=D("1"))


ages = st.integers(min_value=18, max_value=110)
weights = st.decimals(min_value=D("30"), max_value=D("250"), places=1)
scrs = st.decimals(min_value=D("0.3"), max_value=D("12"), places=2)


@given(ages, weights, scrs)
def test_it_is_lower_for_women_and_never_negative(age, weight, scr):
    male = cockcroft_gault(age_years=age, weight_kg=weight, scr_mg_dl=scr, female=False)
    female = cockcroft_gault(age_years=age, weight_kg=weight, scr_mg_dl=scr, female=True)
    assert D(0) < female <= male
    assert male.as_tuple().exponent == -1  # rounded to 0.1 mL/min


@given(ages, weights, scrs, st.decimals(min_value=D("0.01"), max_value=D("5"), places=2))
def test_it_falls_as_creatinine_rises(age, weight, scr, more):
    low = cockcroft_gault(age_years=age, weight_kg=weight, scr_mg_dl=scr, female=False)
    high = cockcroft_gault(age_years=age, weight_kg=weight, scr_mg_dl=scr + more, female=False)
    assert high <= low


@given(weights, st.decimals(min_value=D("152.4"), max_value=D("210"), places=1), st.booleans())
def test_dosing_weight_is_between_ideal_and_actual(weight, height, female):
    ideal = ideal_body_weight(height_cm=height, female=female)
    chosen, basis = dosing_weight(actual_kg=weight, height_cm=height, female=female)
    assert chosen <= weight
    if basis != "actual":
        assert ideal <= chosen
