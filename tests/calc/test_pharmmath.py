"""Pharmacy math against the reference's worked problems (identifiers-labels-math.md §6.15,
numbered as there) and its §6 examples, exact to the digit; the refusals, each naming the
argument; and the properties the arithmetic must keep (hypothesis)."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rxdesk.calc import pharmmath as pm
from rxdesk.calc.units import UnitError

D = Decimal


def q(value: Decimal, places: int) -> Decimal:
    return value.quantize(D(1).scaleb(-places), rounding=ROUND_HALF_UP)


# --- §6.15 worked problems --------------------------------------------------------------------


def test_problem_1_oral_liquid_volume():
    # Amoxicillin 250 mg/5 mL; dose 375 mg → 375 × 5 / 250 = 7.5 mL.
    got = pm.dose_volume(dose=375, dose_unit="mg", strength=250, per_volume=5)
    assert got.value("volume") == D("7.5")
    assert got.rounded("volume") == D("7.5")
    assert got.steps[-1].expression == "375 mg × 5 mL ÷ 250 mg"
    assert got.steps[-1].result == "7.5 mL"


def test_problem_1_converts_the_dose_to_the_strengths_unit():
    # 0.375 g is 375 mg: the same 7.5 mL, with the conversion shown.
    got = pm.dose_volume(dose="0.375", dose_unit="g", strength=250, per_volume=5)
    assert got.value("volume") == D("7.5")
    assert got.steps[0].result == "375 mg"


def test_problem_3_percent_w_w():
    # Grams of hydrocortisone in 60 g of 2.5 % cream → 60 × 0.025 = 1.5 g.
    got = pm.strength(kind="w/w", percent="2.5", preparation=60, preparation_unit="g")
    assert got.value("solute") == D("1.5")
    assert got.value("ratio") == D(40)  # 2.5 % = 1:40
    assert got.value("concentration") == D(25)  # mg/g


def test_problem_4_ratio_strength():
    # Epinephrine 1:1,000 = 1 mg/mL; 0.3 mL holds 0.3 mg.
    got = pm.strength(kind="w/v", ratio=1000, preparation="0.3")
    assert got.value("concentration") == D(1)
    assert got.value("percent") == D("0.1")
    assert got.value("solute_mg") == D("0.3")
    # A 10 mL syringe of 1:10,000 holds 1 mg.
    syringe = pm.strength(kind="w/v", ratio=10000, preparation=10)
    assert syringe.value("solute_mg") == D(1)
    assert syringe.value("concentration") == D("0.1")


@pytest.mark.parametrize(
    ("percent", "ratio"),
    [("0.1", 1000), ("0.02", 5000), ("0.0001", 1_000_000), ("0.01", 10000)],
)
def test_section_6_3_percent_and_ratio_convert_both_ways(percent, ratio):
    assert pm.strength(percent=percent).value("ratio") == D(ratio)
    assert pm.strength(ratio=ratio).value("percent") == D(percent)


def test_section_6_2_percent_w_v_is_ten_x_mg_per_ml():
    # 2 % lidocaine = 20 mg/mL; 50 % dextrose = 500 mg/mL; 8.4 % NaHCO3 = 84 mg/mL.
    for percent, mg_ml in (("2", 20), ("50", 500), ("8.4", 84), ("0.9", 9)):
        assert pm.strength(percent=percent).value("concentration") == D(mg_ml)
    # …and back: 1:200,000 = 5 mcg/mL.
    got = pm.strength(concentration=5, concentration_unit="mcg/mL")
    assert got.value("ratio") == D(200000)


def test_problem_5_dilution():
    # mL of 70 % isopropyl alcohol for 500 mL of 30 % → 214.3 mL, water 285.7 mL.
    got = pm.dilution(c1=70, c2=30, v2=500)
    assert got.rounded("v1") == D("214.3")
    assert got.rounded("diluent") == D("285.7")
    assert got.value("v1") + got.value("diluent") == D(500)
    assert got.steps[0].expression == "30 % × 500 mL ÷ 70 %"


def test_problem_15_dilution_with_stock_dextrose():
    # mL of D50W for 500 mL of D10W → 100 mL + 400 mL sterile water.
    got = pm.dilution(c1=50, c2=10, v2=500)
    assert (got.value("v1"), got.value("diluent")) == (D(100), D(400))


def test_dilution_solves_the_final_amount_from_the_stock_amount():
    # 100 mL of 50 % made 10 % → 500 mL, add 400 mL.
    got = pm.dilution(c1=50, c2=10, v1=100)
    assert (got.value("v2"), got.value("diluent")) == (D(500), D(400))


def test_dilution_across_units():
    # 2 % (20 mg/mL) lidocaine to 500 mL of 4 mg/mL → 100 mL.
    got = pm.dilution(c1=20, c1_unit="mg/mL", c2="0.4", c2_unit="%", v2=500)
    assert got.value("v1") == D(100)


def test_problem_6_alligation():
    # 200 g of 1 % hydrocortisone from 2.5 % and 0.5 % → 50 g + 150 g.
    got = pm.alligation(high="2.5", low="0.5", desired=1, total=200)
    assert (got.value("parts_high"), got.value("parts_low")) == (D("0.5"), D("1.5"))
    assert (got.value("amount_high"), got.value("amount_low")) == (D(50), D(150))
    assert got.steps[-1].result == "1"  # the check: the mixture is 1 %


def test_section_6_5_alligation_with_a_diluent():
    # 1 L of 10 % dextrose from 70 % and water → 142.9 mL and 857.1 mL.
    got = pm.alligation(high=70, low=0, desired=10, total=1000, amount_unit="mL")
    assert got.rounded("amount_high") == D("142.9")
    assert got.rounded("amount_low") == D("857.1")
    assert "diluent" in got.answer("amount_low").label


def test_problem_7_milliequivalents():
    # 750 mg KCl tablet → 750 / 74.55 = 10.06 mEq.
    got = pm.milliequivalents(salt="kcl", amount=750, unit="mg")
    assert got.rounded("meq") == D("10.06")
    # Reverse: 20 mEq = 1,491 mg ≈ 1.5 g = 15 mL of 10 % KCl.
    back = pm.milliequivalents(salt="kcl", amount=20, unit="mEq", solution_percent=10)
    assert back.value("mg") == D(1491)
    assert back.value("volume") == D("14.91")
    assert q(back.value("volume"), 0) == D(15)


@pytest.mark.parametrize(
    ("salt", "one_gram_meq"),
    [
        ("kcl", "13.41"),
        ("nacl", "17.11"),
        ("cacl2", "13.60"),
        ("ca_gluconate", "4.65"),
        ("mgso4", "8.11"),  # the table's 8.12 is 1000 ÷ 123.2 (its rounded mg per mEq)
        ("nahco3", "11.90"),
        ("k_acetate", "10.19"),
        ("na_acetate", "12.19"),
    ],
)
def test_section_6_6_one_gram_in_meq(salt, one_gram_meq):
    got = pm.milliequivalents(salt=salt, amount=1, unit="g")
    assert q(got.value("meq"), 2) == D(one_gram_meq)


def test_section_6_6_phosphates_in_mmol():
    # 174.18 mg of K2HPO4 is 1 mmol phosphate and 2 mEq potassium.
    got = pm.milliequivalents(salt="k2hpo4", amount="174.18", unit="mg")
    assert (got.value("mmol"), got.value("meq")) == (D(1), D(2))
    assert "phosphate" in got.answer("mmol").label


def test_problem_8_drip_rate():
    # 1,000 mL NS over 8 h, 15 gtt/mL set → 125 mL/h; 31.25 → 31 gtt/min.
    got = pm.flow_rate(volume=1000, time=8, time_unit="h", drop_factor=15)
    assert got.value("ml_per_h") == D(125)
    assert got.value("gtt_per_min") == D("31.25")
    assert got.rounded("gtt_per_min") == D(31)
    assert got.summary == "125 mL/h = 31 gtt/min"


def test_problem_9_infusion_time():
    # 500 mL at 75 mL/h → 6.667 h = 6 h 40 min.
    got = pm.infusion_time(volume=500, rate=75)
    assert q(got.value("hours"), 3) == D("6.667")
    assert got.rounded("minutes") == D(400)
    assert got.summary == "6 h 40 min"


def test_problem_10_weight_based_pediatric_dose():
    # 44-lb child (÷ 2.2 = 20 kg), 90 mg/kg/day q12h, 400 mg/5 mL → 11.25 mL per dose.
    got = pm.weight_dose(
        dose=90, dose_unit="mg/kg", weight=44, weight_unit="lb", per="day", doses_per_day=2,
        strength=400, per_volume=5, pounds="2.2",
    )  # fmt: skip
    assert got.value("weight_kg") == D(20)
    assert got.value("daily_dose") == D(1800)
    assert got.value("dose") == D(900)
    assert got.value("volume") == D("11.25")
    assert got.rounded("volume") == D("11.3")  # "11.2 or 11.3 per rounding policy": half-up
    assert got.answer("volume").was_rounded


def test_problem_10_with_the_exact_pound():
    # 44 lb = 19.958 kg exactly → 1796.2 mg/day → 898.1 mg → 11.23 mL.
    got = pm.weight_dose(
        dose=90, weight=44, weight_unit="lb", doses_per_day=2, strength=400, per_volume=5
    )
    assert q(got.value("weight_kg"), 3) == D("19.958")
    assert q(got.value("volume"), 2) == D("11.23")


def test_weight_dose_per_dose():
    # 15 mg/kg per dose q6h for 10 kg → 150 mg a dose, 600 mg a day.
    got = pm.weight_dose(dose=15, weight=10, per="dose", doses_per_day=4)
    assert (got.value("dose"), got.value("daily_dose")) == (D(150), D(600))


def test_problem_11_bsa_dose():
    # 170 cm, 70 kg, 100 mg/m² → BSA √3.3056 = 1.82 m²; dose 182 mg (181.8 unrounded).
    got = pm.bsa(height=170, weight=70, dose_per_m2=100)
    assert got.rounded("bsa") == D("1.82")
    assert got.rounded("dose") == D("181.8")
    assert q(got.value("dose"), 0) == D(182)


def test_mosteller_in_inches_and_pounds_agrees():
    # √(in × lb / 3131) is the same formula: 66.93 in, 154.32 lb ≈ 1.82 m².
    got = pm.bsa(height="66.929", height_unit="in", weight="154.324", weight_unit="lb")
    assert got.rounded("bsa") == D("1.82")


def test_dubois_bsa():
    # 0.007184 × 70^0.425 × 170^0.725 = 1.8097 m².
    got = pm.bsa(height=170, weight=70, formula="dubois")
    assert q(got.value("bsa"), 4) == D("1.8097")


def test_problem_16_temperature():
    # 8 °C = 46.4 °F; 77 °F = 25 °C.
    assert pm.temperature(value=8, unit="degC").rounded("degF") == D("46.4")
    warm = pm.temperature(value=77, unit="degF")
    assert warm.rounded("degC") == D(25)
    assert warm.rounded("K") == D("298.15")
    assert pm.temperature(value=-25, unit="degC").rounded("degF") == D(-13)


def test_problem_17_heparin_rate():
    # 25,000 units in 500 mL at 1,000 units/h → 50 units/mL → 20 mL/h.
    got = pm.dose_rate(
        dose=1000, dose_unit="units/h", drug_amount=25000, drug_amount_unit="units",
        bag_volume=500,
    )  # fmt: skip
    assert got.value("concentration") == D(50)
    assert got.value("ml_per_h") == D(20)


def test_section_6_10_weight_based_drip():
    # mL/h = mcg/kg/min × kg × 60 ÷ mcg/mL: 0.1 × 80 × 60 ÷ 16 = 30 mL/h.
    got = pm.dose_rate(
        dose="0.1", dose_unit="mcg/kg/min", concentration=16, concentration_unit="mcg/mL",
        weight=80,
    )  # fmt: skip
    assert got.value("ml_per_h") == D(30)
    assert [s.result for s in got.steps] == ["8 mcg/min", "30 mL/h"]


def test_dose_rate_with_a_microdrip_set():
    got = pm.dose_rate(
        dose=2, dose_unit="mg/min", concentration=4, concentration_unit="mg/mL", drop_factor=60
    )
    assert got.value("ml_per_h") == D(30)
    assert got.value("gtt_per_min") == D(30)


def test_problem_20_historic_rules():
    # Clark: 500 × 40/150 = 133.3 mg; Young (6 y): 500 × 6/18 = 166.7 mg.
    assert pm.pediatric_rule(rule="clark", adult_dose=500, weight=40).rounded("dose") == D("133.3")
    young = pm.pediatric_rule(rule="young", adult_dose=500, age_years=6)
    assert young.rounded("dose") == D("166.7")
    assert young.warnings  # historic: says to use mg/kg
    assert pm.pediatric_rule(rule="fried", adult_dose=150, age_months=6).value("dose") == D(6)
    assert pm.pediatric_rule(rule="bsa", adult_dose=173, bsa_m2=1).value("dose") == D(100)


def test_problem_21_osmolarity():
    # 0.9 % NaCl → 9 g/L ÷ 58.44 × 2 × 1000 = 308 mOsm/L.
    got = pm.osmolarity(solute="nacl", concentration="0.9")
    assert got.rounded("osmolarity") == D(308)
    # D5W (monohydrate, 198.17) → 252 mOsm/L.
    assert pm.osmolarity(solute="dextrose", concentration=5).rounded("osmolarity") == D(252)
    # The same NaCl written as g/L.
    assert pm.osmolarity(concentration=9, concentration_unit="g/L").rounded("osmolarity") == D(308)


# --- refusals name the argument ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda: pm.dose_volume(dose=0, strength=250, per_volume=5), "dose"),
        (lambda: pm.dose_volume(dose=-5, strength=250, per_volume=5), "dose"),
        (lambda: pm.dose_volume(dose=5, strength=250, per_volume=5, per_volume_unit="mg"),
         "per_volume_unit"),
        (lambda: pm.dose_volume(dose=5, dose_unit="mL", strength=250, per_volume=5), "dose_unit"),
        (lambda: pm.dose_volume(dose=5, dose_unit="furlong", strength=250, per_volume=5),
         "dose_unit"),
        (lambda: pm.dose_volume(dose="NaN", strength=250, per_volume=5), "dose"),
        (lambda: pm.dose_volume(dose="1e400", strength=250, per_volume=5), "dose"),
        (lambda: pm.dose_volume(dose="abc", strength=250, per_volume=5), "dose"),
        (lambda: pm.strength(), "percent"),
        (lambda: pm.strength(percent=1, ratio=100), "ratio"),
        (lambda: pm.strength(kind="w/w", percent=120), "percent"),
        (lambda: pm.strength(kind="x/y", percent=1), "kind"),
        (lambda: pm.strength(ratio="0.5"), "ratio"),
        (lambda: pm.dilution(c1=30, c2=70, v2=500), "c2"),
        (lambda: pm.dilution(c1=70, c2=70, v2=500), "c2"),
        (lambda: pm.dilution(c1=70, c2=30), "v2"),
        (lambda: pm.dilution(c1=70, c2=30, v1=100, v2=500), "v2"),
        (lambda: pm.dilution(c1=70, c2=30, c2_unit="mg/mL", v2=500), "c2_unit"),
        (lambda: pm.alligation(high=10, low=2, desired=12, total=100), "desired"),
        (lambda: pm.alligation(high=10, low=2, desired=2, total=100), "desired"),
        (lambda: pm.alligation(high=2, low=10, desired=5, total=100), "low"),
        (lambda: pm.alligation(high=10, low=-1, desired=5, total=100), "low"),
        (lambda: pm.alligation(high=10, low=0, desired=5, total=0), "total"),
        (lambda: pm.milliequivalents(salt="dextrose", amount=1), "salt"),
        (lambda: pm.milliequivalents(salt="kcl", amount=1, unit="mL"), "unit"),
        (lambda: pm.milliequivalents(salt="custom", amount=1), "mw"),
        (lambda: pm.milliequivalents(salt="custom", amount=1, mw=100, valence="1.5"), "valence"),
        (lambda: pm.osmolarity(solute="unobtainium", concentration=1), "solute"),
        (lambda: pm.osmolarity(concentration=1, concentration_unit="mEq/L"),
         "concentration_unit"),
        (lambda: pm.weight_dose(dose=10, dose_unit="mg", weight=20), "dose_unit"),
        (lambda: pm.weight_dose(dose=10, weight=20, doses_per_day=0), "doses_per_day"),
        (lambda: pm.weight_dose(dose=10, weight=20, doses_per_day="2.5"), "doses_per_day"),
        (lambda: pm.weight_dose(dose=10, weight=20, per="week"), "per"),
        (lambda: pm.weight_dose(dose=10, weight=20, weight_unit="mL"), "weight_unit"),
        (lambda: pm.weight_dose(dose=10, weight=20, pounds="2.5"), "pounds"),
        (lambda: pm.bsa(height=0, weight=70), "height"),
        (lambda: pm.bsa(height=170, weight=70, formula="haycock"), "formula"),
        (lambda: pm.bsa(height=170, height_unit="kg", weight=70), "height_unit"),
        (lambda: pm.flow_rate(volume=1000, time=8, drop_factor=12), "drop_factor"),
        (lambda: pm.flow_rate(volume=1000, time=0), "time"),
        (lambda: pm.flow_rate(volume=1000, time=8, time_unit="mL"), "time_unit"),
        (lambda: pm.infusion_time(volume=500, rate=75, rate_unit="mg/h"), "rate_unit"),
        (lambda: pm.dose_rate(dose=1, dose_unit="mcg/kg/min", concentration=16,
                              concentration_unit="mcg/mL"), "weight"),
        (lambda: pm.dose_rate(dose=1, dose_unit="mg", concentration=16,
                              concentration_unit="mg/mL"), "dose_unit"),
        (lambda: pm.dose_rate(dose=1, dose_unit="units/h", concentration=16,
                              concentration_unit="mg/mL"), "dose_unit"),
        (lambda: pm.dose_rate(dose=1, dose_unit="units/h"), "concentration"),
        (lambda: pm.temperature(value=-300, unit="degC"), "value"),
        (lambda: pm.temperature(value=20, unit="degR"), "unit"),
        (lambda: pm.pediatric_rule(rule="magic", adult_dose=100), "rule"),
    ],
)  # fmt: skip
def test_it_refuses_bad_input_naming_the_argument(call, field):
    with pytest.raises(UnitError) as caught:
        call()
    assert caught.value.field == field
    assert caught.value.message


def test_a_huge_but_allowed_number_still_rounds():
    # The widest inputs give an answer, not an arithmetic error.
    got = pm.dose_volume(dose="999999999999", strength="0.000001", per_volume=1000)
    assert got.rounded("volume") == D("999999999999000000000")


# --- properties -------------------------------------------------------------------------------

strengths = st.decimals(min_value=D("0.01"), max_value=D(100), places=2)
amounts = st.decimals(min_value=D(1), max_value=D(10000), places=2)


@settings(max_examples=150, deadline=None)
@given(c1=strengths, ratio=st.decimals(min_value=D("0.01"), max_value=D("0.99"), places=2),
       v2=amounts)  # fmt: skip
def test_dilution_round_trip(c1, ratio, v2):
    c2 = q(c1 * ratio, 4)
    if c2 <= 0 or c2 >= c1:
        return
    forward = pm.dilution(c1=c1, c2=c2, v2=v2)
    back = pm.dilution(c1=c1, c2=c2, v1=forward.value("v1"))
    assert abs(back.value("v2") - v2) < D("1e-15")
    assert abs(forward.value("v1") * c1 - v2 * c2) < D("1e-15")
    assert forward.value("diluent") == v2 - forward.value("v1")


@settings(max_examples=150, deadline=None)
@given(h=strengths, fraction_l=st.decimals(min_value=0, max_value=D("0.9"), places=2),
       fraction_d=st.decimals(min_value=D("0.01"), max_value=D("0.99"), places=2),
       total=amounts)  # fmt: skip
def test_alligation_amounts_sum_to_the_total_and_give_the_strength(
    h, fraction_l, fraction_d, total
):
    low = q(h * fraction_l, 4)
    desired = q(low + (h - low) * fraction_d, 4)
    if not low < desired < h:
        return
    got = pm.alligation(high=h, low=low, desired=desired, total=total)
    a_h, a_l = got.value("amount_high"), got.value("amount_low")
    assert abs((a_h + a_l) - total) < D("1e-15")
    assert abs((a_h * h + a_l * low) / total - desired) < D("1e-15")


@settings(max_examples=150, deadline=None)
@given(salt=st.sampled_from(sorted(pm.SALTS)), mg=amounts)
def test_meq_mg_round_trip(salt, mg):
    meq = pm.milliequivalents(salt=salt, amount=mg, unit="mg").value("meq")
    back = pm.milliequivalents(salt=salt, amount=meq, unit="mEq").value("mg")
    assert abs(back - mg) < D("1e-15")


@settings(max_examples=150, deadline=None)
@given(volume=amounts, hours=st.decimals(min_value=D("0.25"), max_value=D(48), places=2))
def test_microdrip_gtt_per_min_equals_ml_per_h(volume, hours):
    got = pm.flow_rate(volume=volume, time=hours, drop_factor=60)
    assert abs(got.value("gtt_per_min") - got.value("ml_per_h")) < D("1e-15")


@settings(max_examples=100, deadline=None)
@given(celsius=st.decimals(min_value=D(-200), max_value=D(200), places=2))
def test_temperature_round_trip(celsius):
    f = pm.temperature(value=celsius, unit="degC").value("degF")
    assert abs(pm.temperature(value=f, unit="degF").value("degC") - celsius) < D("1e-15")
