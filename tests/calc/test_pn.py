"""The PN order calculator: the reference's worked problem 14 exactly, hand-computed orders
(the arithmetic is in each test's comment), the warnings at and around their limits, and the
orders it refuses, naming the field."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

import pytest

from rxdesk.calc import pn
from rxdesk.calc.pn import PnStocks, pn_calculate
from rxdesk.calc.units import UnitError

D = Decimal


def q(value: Decimal, places: int) -> Decimal:
    return value.quantize(D(1).scaleb(-places), rounding=ROUND_HALF_UP)


def test_problem_14_calories_exactly():
    # 500 mL D50W + 500 mL 10 % amino acids + 250 mL 20 % lipid (3-in-1, 1,250 mL):
    # dextrose 250 g × 3.4 = 850 kcal; AA 50 g × 4 = 200; lipid 250 mL × 2 = 500;
    # total 1,550 kcal, non-protein 1,350 kcal.
    got = pn_calculate(
        final_volume_ml=1250, dextrose_g=250, dextrose_stock_percent=50, amino_acids_g=50,
        lipid_ml=250, lipid_emulsion_percent=20,
    )  # fmt: skip
    assert got.value("kcal_dextrose") == D(850)
    assert got.value("kcal_amino_acids") == D(200)
    assert got.value("kcal_lipid") == D(500)
    assert got.value("kcal_total") == D(1550)
    assert got.value("kcal_nonprotein") == D(1350)
    assert got.value("nitrogen_g") == D(8)  # 50 ÷ 6.25
    assert got.value("lipid_g") == D(50)
    volumes = {a.key: a.volume_ml for a in got.additives}
    assert volumes == {
        "dextrose": D(500),
        "amino_acids": D(500),
        "lipid": D(250),
        "sterile_water": D(0),
    }
    # Osmolarity: (250 g × 1000/198.17 = 1261.533 + 50 g × 10 = 500) ÷ 1.25 L = 1409.2.
    assert got.total("osmolarity").rounded == D(1409)
    assert got.central_line_only
    assert any("central line only" in w for w in got.warnings)


def test_a_full_order_hand_computed():
    # 2,000 mL bag, 70 kg; D20 final (400 g from D70W: 400 ÷ 0.70 = 571.4286 mL); AA 5 %
    # final (100 g of 10 %: 1,000 mL); lipid 20 % 50 g infused separately (250 mL);
    # NaCl 60 mEq ÷ 4 = 15 mL; KCl 40 ÷ 2 = 20 mL; K phosphates 30 mmol ÷ 3 = 10 mL
    # (+ 30 × 4.4/3 = 44 mEq K); Ca gluconate 20 ÷ 0.465 = 43.0108 mL; MgSO4 16 ÷ 4.06 =
    # 3.9409 mL. Additives 1,663.3802 mL → sterile water 336.6198 mL.
    got = pn_calculate(
        final_volume_ml=2000, weight_kg=70, dextrose_percent=20, amino_acids_percent=5,
        lipid_g=50, lipid_in_bag=False, sodium_chloride_meq=60, potassium_chloride_meq=40,
        potassium_phosphate_mmol=30, calcium_gluconate_meq=20, magnesium_sulfate_meq=16,
    )  # fmt: skip
    ml = {a.key: q(a.volume_ml, 4) for a in got.additives}
    assert ml == {
        "dextrose": D("571.4286"),
        "amino_acids": D(1000),
        "lipid": D(250),
        "potassium_phosphate": D(10),
        "sodium_chloride": D(15),
        "potassium_chloride": D(20),
        "magnesium_sulfate": D("3.9409"),
        "calcium_gluconate": D("43.0108"),
        "sterile_water": D("336.6198"),
    }
    # Phosphate first and calcium last; water at the end.
    keys = [a.key for a in got.additives]
    assert keys.index("potassium_phosphate") < keys.index("calcium_gluconate")
    assert keys[-1] == "sterile_water"
    assert got.additive("sterile_water").volume_text == "336.6 mL"
    # kcal: 400 × 3.4 = 1,360 + 100 × 4 = 400 + 250 mL × 2 = 500 → 2,260; non-protein 1,860.
    assert got.value("kcal_total") == D(2260)
    assert got.value("kcal_nonprotein") == D(1860)
    assert got.total("kcal_per_kg").rounded == D("32.3")  # 2,260 ÷ 70
    assert got.total("protein_g_per_kg").rounded == D("1.43")  # 100 ÷ 70
    # Potassium 40 + 44 from the phosphate = 84 mEq; chloride 60 + 40 = 100 mEq.
    assert got.value("potassium_meq") == D(84)
    assert got.value("sodium_meq") == D(60)
    assert got.value("chloride_meq") == D(100)
    # Osmolarity: dextrose 400 × 1000/198.17 = 2018.469; AA 100 × 10 = 1000; ions
    # 2 × 100 + 1.5 × 20 + 16 + 30 × (1 + 4.4/3) = 320 → 3338.469 ÷ 2 L = 1669.2.
    assert got.total("osmolarity").rounded == D(1669)
    # Ca 20 mEq ÷ 2 L = 10 mEq/L; P 30 ÷ 2 = 15 mmol/L; sum 25; product 150: at the
    # limit, not over it.
    assert got.value("calcium_meq_per_l") == D(10)
    assert got.value("phosphate_mmol_per_l") == D(15)
    assert got.value("ca_p_product") == D(150)
    assert not got.calcium_phosphate_warning
    assert not any("precipitat" in w for w in got.warnings)


def test_calcium_phosphate_over_the_product_limit_warns():
    # As above with 32 mmol phosphate: 16 mmol/L × 10 mEq/L = 160 > 150.
    got = pn_calculate(
        final_volume_ml=2000, dextrose_g=400, amino_acids_g=100, potassium_phosphate_mmol=32,
        calcium_gluconate_meq=20, lipid_in_bag=False,
    )  # fmt: skip
    assert got.calcium_phosphate_warning
    (warning,) = [w for w in got.warnings if "precipitation" in w]
    assert "product 160 is over 150" in warning
    assert "solubility curve" in warning
    assert "phosphate first and the calcium last" in warning
    assert "calcium gluconate" in warning


def test_calcium_phosphate_over_the_sum_limit_warns():
    # 1 L: Ca 12 mEq/L + P 19 mmol/L = 31 > 30 (product 228 > 150 too).
    got = pn_calculate(
        final_volume_ml=1000, dextrose_g=150, amino_acids_g=40, calcium_gluconate_meq=12,
        sodium_phosphate_mmol=19,
    )  # fmt: skip
    assert got.calcium_phosphate_warning
    (warning,) = [w for w in got.warnings if "precipitation" in w]
    assert "sum 31 is over 30" in warning
    # Sodium phosphates bring 19 × 4/3 = 25.33 mEq sodium.
    assert got.total("sodium_meq").rounded == D("25.33")


def test_just_under_both_limits_does_not_warn():
    # 1 L: Ca 10 mEq/L, P 14.9 mmol/L: sum 24.9, product 149.
    got = pn_calculate(
        final_volume_ml=1000, dextrose_g=150, amino_acids_g=40, calcium_gluconate_meq=10,
        potassium_phosphate_mmol="14.9",
    )  # fmt: skip
    assert got.value("ca_p_product") == D(149)
    assert not got.calcium_phosphate_warning


def test_calcium_and_phosphate_in_a_3_in_1_warn_that_a_precipitate_is_hidden():
    got = pn_calculate(
        final_volume_ml=1500, dextrose_g=150, amino_acids_g=60, lipid_g=30,
        calcium_gluconate_meq=5, potassium_phosphate_mmol=10,
    )  # fmt: skip
    assert not got.calcium_phosphate_warning
    assert any("cannot be seen" in w for w in got.warnings)


def test_a_peripheral_bag_has_no_central_line_warning():
    # 1 L: dextrose 50 g → 252.3 mOsm; AA 30 g → 300; NaCl 40 mEq → 80: 632 mOsm/L.
    got = pn_calculate(
        final_volume_ml=1000, dextrose_g=50, amino_acids_g=30, sodium_chloride_meq=40
    )
    assert got.total("osmolarity").rounded == D(632)
    assert not got.central_line_only
    assert got.warnings == []


def test_the_900_boundary():
    # Amino acids only: 90 g in 1 L = 900 mOsm/L exactly (not above) vs 90.1 g (901).
    at = pn_calculate(final_volume_ml=1000, amino_acids_g=90, amino_acids_stock_percent=15)
    over = pn_calculate(final_volume_ml=1000, amino_acids_g="90.1", amino_acids_stock_percent=15)
    assert at.value("osmolarity") == D(900) and not at.central_line_only
    assert over.central_line_only


def test_a_ten_percent_emulsion_and_other_stocks():
    # 100 mL of 10 % lipid = 10 g, 110 kcal; with custom stocks (NaCl 2.5 mEq/mL).
    got = pn_calculate(
        final_volume_ml=1000, dextrose_g=100, lipid_ml=100, lipid_emulsion_percent=10,
        sodium_chloride_meq=25, stocks=PnStocks(sodium_chloride_meq_per_ml=D("2.5")),
    )  # fmt: skip
    assert got.value("lipid_g") == D(10)
    assert got.value("kcal_lipid") == D(110)
    assert got.additive("sodium_chloride").volume_ml == D(10)


def test_the_constants_are_the_references():
    kcal = (pn.DEXTROSE_KCAL_PER_G, pn.AMINO_ACID_KCAL_PER_G, pn.LIPID_KCAL_PER_ML)
    assert kcal == (D("3.4"), D(4), {10: D("1.1"), 20: D(2), 30: D(3)})
    stocks = pn.DEFAULT_STOCKS
    assert stocks.calcium_gluconate_meq_per_ml == D("0.465")
    assert stocks.magnesium_sulfate_meq_per_ml == D("4.06")
    limits = (pn.CA_P_SUM_LIMIT, pn.CA_P_PRODUCT_LIMIT, pn.PERIPHERAL_MAX_MOSM_PER_L)
    assert limits == (D(30), D(150), D(900))


@pytest.mark.parametrize(
    ("order", "field"),
    [
        # D70W for 400 g is 571 mL: more than a 500 mL bag.
        ({"final_volume_ml": 500, "dextrose_g": 400}, "final_volume_ml"),
        ({"final_volume_ml": 0, "dextrose_g": 100}, "final_volume_ml"),
        ({"final_volume_ml": 20000, "dextrose_g": 100}, "final_volume_ml"),
        ({"final_volume_ml": 1000}, "dextrose_g"),
        ({"final_volume_ml": 1000, "dextrose_g": 100, "dextrose_percent": 10},
         "dextrose_percent"),
        ({"final_volume_ml": 1000, "amino_acids_g": 10, "amino_acids_percent": 1},
         "amino_acids_percent"),
        ({"final_volume_ml": 1000, "lipid_g": 10, "lipid_ml": 50}, "lipid_ml"),
        ({"final_volume_ml": 1000, "lipid_g": 30, "lipid_emulsion_percent": 30,
          "lipid_in_bag": False}, "lipid_emulsion_percent"),
        ({"final_volume_ml": 1000, "lipid_g": 30, "lipid_emulsion_percent": 25},
         "lipid_emulsion_percent"),
        ({"final_volume_ml": 1000, "dextrose_g": 100, "sodium_chloride_meq": -5},
         "sodium_chloride_meq"),
        ({"final_volume_ml": 1000, "dextrose_g": 100, "potassium_phosphate_mmol": "NaN"},
         "potassium_phosphate_mmol"),
        ({"final_volume_ml": 1000, "dextrose_g": 100, "weight_kg": 0}, "weight_kg"),
        ({"final_volume_ml": 1000, "dextrose_g": 100, "dextrose_stock_percent": 80},
         "dextrose_stock_percent"),
        ({"final_volume_ml": 1000, "amino_acids_g": 10, "amino_acids_stock_percent": 40},
         "amino_acids_stock_percent"),
    ],
)  # fmt: skip
def test_it_refuses_an_order_it_cannot_make_naming_the_field(order, field):
    with pytest.raises(UnitError) as caught:
        pn_calculate(**order)
    assert caught.value.field == field
    assert caught.value.message


def test_the_overfull_bag_says_by_how_much():
    with pytest.raises(UnitError) as caught:
        pn_calculate(final_volume_ml=500, dextrose_g=400)
    assert "571.4 mL" in caught.value.message and "500 mL" in caught.value.message


def test_30_percent_lipid_in_a_3_in_1_is_allowed():
    # 30 % is for compounding a 3-in-1: 100 mL = 30 g = 300 kcal.
    got = pn_calculate(final_volume_ml=1000, lipid_ml=100, lipid_emulsion_percent=30)
    assert got.value("kcal_lipid") == D(300)
    assert got.value("lipid_g") == D(30)


def test_the_result_serializes_for_the_api():
    got = pn_calculate(final_volume_ml=1000, dextrose_g=100).as_dict()
    assert got["additives"][0]["volume_ml"].startswith("142.857142857142857")
    assert got["additives"][0]["volume_rounded_ml"] == "142.9"
    assert got["final_volume_ml"] == "1000"
    assert {s["label"] for s in got["steps"]} >= {"Sterile water to qs", "Total kcal"}
