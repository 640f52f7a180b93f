"""Days supply from directions and quantity, and the check of a typed days supply.

Worked examples come from the project reference (identifiers-labels-math.md §5 and §6.15):
real prescriptions for tablets, liquids, drops, insulin, inhalers, topicals and PRN use."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from rxdesk.core.errors import Invalid
from rxdesk.rx.days_supply import (
    FINGERTIP_UNITS_PER_APPLICATION,
    MAX_DAYS_SUPPLY,
    Check,
    CheckCode,
    DaysSupply,
    DaysSupplyError,
    Directions,
    ProductFacts,
    Unit,
    check_days_supply,
    days_supply,
    parse_unit,
)

D = Decimal
GLARGINE_PENS = ProductFacts(pen=True, package_noun="pen", package_ml=D(3), in_use_days=28)


def tablets(quantity: int | str, dose: str = "1", **how: object) -> Directions:
    return Directions(
        quantity=D(quantity),
        quantity_unit=Unit.EACH,
        dose=D(dose),
        dose_unit=Unit.EACH,
        **how,  # type: ignore[arg-type]
    )


# --- tablets and capsules ------------------------------------------------------------------


def test_it_gives_the_days_of_a_once_daily_tablet():
    # Given lisinopril 10 mg, 1 tablet daily, #90
    # When the days supply is computed
    result = days_supply(tablets(90, per_day=D(1)))
    # Then it is 90 days
    assert result == DaysSupply(
        days=90,
        exact_days=D(90),
        daily_use=D(1),
        quantity_unit=Unit.EACH,
        basis="90 tablets ÷ (1 tablet × 1 a day) = 90 days",
    )


def test_it_gives_the_days_of_two_tablets_twice_daily():
    # Reference §6.15 problem 2: metformin 500 mg, 2 tablets twice daily, #120 -> 30 days
    result = days_supply(tablets(120, "2", per_day=D(2)))
    assert result.days == 30
    assert result.daily_use == D(4)
    assert result.basis == "120 tablets ÷ (2 tablets × 2 a day) = 30 days"
    assert result.warnings == ()


def test_it_explains_the_sum_as_the_brief_shows_it():
    result = days_supply(tablets(90, per_day=D(2)))
    assert (result.days, result.basis) == (45, "90 tablets ÷ (1 tablet × 2 a day) = 45 days")


def test_it_uses_the_top_of_a_range_one_to_two_tablets_three_times_daily():
    # "1–2 tabs tid", #90: the maximum is 2 × 3 = 6 a day -> 15 days
    result = days_supply(tablets(90, "2", per_day=D(3)))
    assert result.days == 15


def test_it_counts_half_tablets_and_reminds_to_split_only_scored_tablets():
    # ½ tablet daily, #15 -> 30 days
    result = days_supply(tablets(15, "0.5", per_day=D(1)))
    assert result.days == 30
    assert result.basis == "15 tablets ÷ (0.5 tablet × 1 a day) = 30 days"
    assert result.warnings == (
        "Part-tablet dose: split only a scored tablet that is not extended-release or "
        "enteric-coated.",
    )


def test_it_counts_capsules_with_their_own_word():
    # amoxicillin 500 mg 1 capsule three times daily, #30 -> 10 days
    result = days_supply(tablets(30, per_day=D(3), form="capsule"))
    assert result.basis == "30 capsules ÷ (1 capsule × 3 a day) = 10 days"


def test_it_gives_the_days_of_a_weekly_tablet():
    # alendronate 70 mg once weekly, #4 -> 28 days (exact, not 27.99…)
    result = days_supply(tablets(4, every_days=D(7)))
    assert result.days == 28
    assert result.basis == "4 tablets ÷ (1 tablet once every 7 days) = 28 days"
    assert result.daily_use == D("0.1429")


def test_it_gives_the_days_of_a_monthly_tablet():
    # ibandronate 150 mg monthly, #1 -> 30 days
    assert days_supply(tablets(1, every_days=D(30))).days == 30


def test_it_gives_the_days_of_patches_every_72_hours():
    # fentanyl patch q72h, 10 patches -> 30 days
    result = days_supply(tablets(10, every_hours=D(72), form="patch"))
    assert result.days == 30
    assert result.basis == "10 patches ÷ (1 patch every 72 hours = 0.33 a day) = 30 days"


def test_it_gives_the_days_of_weekly_patches():
    # clonidine weekly patch, 4 patches -> 28 days
    assert days_supply(tablets(4, every_days=D(7), form="patch")).days == 28


def test_it_gives_the_days_of_test_strips():
    # test 4 times a day, 100 strips -> 25 days
    assert days_supply(tablets(100, per_day=D(4), form="strip")).days == 25


def test_it_gives_the_days_of_prefilled_syringes_every_two_weeks():
    # 1 syringe every 14 days, #2 -> 28 days
    assert days_supply(tablets(2, every_days=D(14), form="syringe")).days == 28


def test_it_counts_cycle_packs_by_the_tablets_they_hold():
    # oral contraceptive, 3 packs of 28 tablets, 1 daily -> 84 days
    result = days_supply(
        Directions(
            quantity=D(3),
            quantity_unit=Unit.PACKAGE,
            dose=D(1),
            dose_unit=Unit.EACH,
            per_day=D(1),
        ),
        ProductFacts(package_count=28, package_noun="pack"),
    )
    assert result.days == 84
    assert result.basis == "3 packs × 28 tablets = 84 tablets ÷ (1 tablet × 1 a day) = 84 days"


def test_it_rounds_down_a_partial_day():
    # 100 tablets, 1 three times daily: 33.3 days -> 33 (payers do not bill a partial day)
    result = days_supply(tablets(100, per_day=D(3)))
    assert result.days == 33
    assert result.exact_days == D("33.33")
    assert result.basis == "100 tablets ÷ (1 tablet × 3 a day) = 33.3 → 33 days"


def test_it_never_gives_less_than_one_day():
    # 2 tablets for 4 tablets a day lasts half a day; a claim says 1
    result = days_supply(tablets(2, per_day=D(4)))
    assert result.days == 1
    assert result.exact_days == D("0.5")
    assert result.warnings == (
        "The quantity lasts less than a day (0.5); days supply is 1, the least a claim allows.",
    )


# --- PRN ----------------------------------------------------------------------------------


def test_it_uses_the_maximum_daily_use_for_prn():
    # oxycodone 5 mg 1 tablet q6h prn, #20 -> 4 a day -> 5 days
    result = days_supply(tablets(20, every_hours=D(6), prn=True))
    assert result.days == 5
    assert result.basis == (
        "20 tablets ÷ (at most 1 tablet every 6 hours = 4 a day, as needed) = 5 days"
    )


def test_it_uses_the_stated_maximum_a_day_for_prn():
    # "1–2 tabs q4–6h prn pain, max 8/day", #40 -> 8 a day -> 5 days
    assert days_supply(tablets(40, "1", per_day=D(8), prn=True)).days == 5


def test_it_takes_the_highest_dose_at_the_shortest_interval_when_no_maximum():
    # "1–2 q4h prn", #60 -> 2 × 6 = 12 a day -> 5 days
    assert days_supply(tablets(60, "2", every_hours=D(4), prn=True)).days == 5


# --- fixed courses --------------------------------------------------------------------------


def test_it_gives_the_course_when_the_quantity_matches_it():
    # amoxicillin 400 mg/5 mL, 7.5 mL twice daily for 10 days, 150 mL -> 10 days
    result = days_supply(
        Directions(
            quantity=D(150),
            quantity_unit=Unit.ML,
            dose=D("7.5"),
            dose_unit=Unit.ML,
            per_day=D(2),
            duration_days=10,
        )
    )
    assert result.days == 10
    assert result.basis == "150 mL ÷ (7.5 mL × 2 a day) = 10 days"
    assert result.warnings == ()


def test_it_gives_the_course_when_a_bottle_holds_a_little_more():
    # 100 mL bottle, 5 mL twice daily for 7 days: the bottle would last 10 days; the
    # overfill of a bottle that cannot be split is not extra days
    result = days_supply(
        Directions(
            quantity=D(100),
            quantity_unit=Unit.ML,
            dose=D(5),
            dose_unit=Unit.ML,
            per_day=D(2),
            duration_days=7,
        )
    )
    assert result.days == 7
    assert result.exact_days == D(10)
    assert result.basis == (
        "100 mL ÷ (5 mL × 2 a day) = 10 days; the course is 7 days (the quantity would last "
        "longer); days supply 7"
    )
    assert result.warnings == ()


def test_it_gives_the_course_of_ear_drops_from_a_whole_bottle():
    # ciprofloxacin/dexamethasone otic 7.5 mL, 4 drops in the ear twice daily for 7 days
    result = days_supply(
        Directions(
            quantity=D("7.5"),
            quantity_unit=Unit.ML,
            dose=D(4),
            dose_unit=Unit.DROP,
            per_day=D(2),
            duration_days=7,
        )
    )
    assert result.days == 7
    assert result.warnings == ()


def test_it_warns_when_counted_tablets_exceed_the_course():
    # 1 capsule three times daily for 7 days needs 21; 30 were typed
    result = days_supply(tablets(30, per_day=D(3), duration_days=7, form="capsule"))
    assert result.days == 7
    assert result.warnings == (
        "The quantity is 9 capsules more than the 7-day course needs; check the quantity.",
    )


def test_it_warns_when_the_quantity_falls_short_of_the_course():
    # 1 tablet twice daily for 10 days needs 20; 14 were typed -> 7 days
    result = days_supply(tablets(14, per_day=D(2), duration_days=10))
    assert result.days == 7
    assert result.warnings == (
        "The quantity lasts only 7 days of the 10-day course; check the quantity or the "
        "directions.",
    )


# --- liquids --------------------------------------------------------------------------------


def test_it_gives_the_days_of_an_oral_liquid_in_ml():
    # cetirizine 1 mg/mL, 5 mL once daily, 120 mL -> 24 days
    result = days_supply(
        Directions(
            quantity=D(120), quantity_unit=Unit.ML, dose=D(5), dose_unit=Unit.ML, per_day=D(1)
        )
    )
    assert (result.days, result.daily_use) == (24, D(5))


def test_it_gives_the_days_of_a_weight_based_pediatric_dose():
    # amoxicillin 400 mg/5 mL, 11.25 mL every 12 hours, 100 mL -> 4.4 -> 4 days
    result = days_supply(
        Directions(
            quantity=D(100),
            quantity_unit=Unit.ML,
            dose=D("11.25"),
            dose_unit=Unit.ML,
            every_hours=D(12),
        )
    )
    assert result.days == 4
    assert result.basis == "100 mL ÷ (11.25 mL every 12 hours = 2 a day) = 4.4 → 4 days"


@pytest.mark.parametrize(
    ("spoon", "message"),
    [
        ("tsp", "Liquid doses are measured in mL only (ISMP): write 5 mL, not 1 teaspoon."),
        ("teaspoon", "Liquid doses are measured in mL only (ISMP): write 5 mL, not 1 teaspoon."),
        ("TBSP", "Liquid doses are measured in mL only (ISMP): write 15 mL, not 1 tablespoon."),
        ("cc", "Write mL, not cc: 'cc' is read as 'u' (ISMP error-prone abbreviation)."),
    ],
)
def test_it_refuses_spoons_and_cc_as_units(spoon, message):
    with pytest.raises(DaysSupplyError) as caught:
        days_supply(
            Directions(
                quantity=D(120), quantity_unit="mL", dose=D(1), dose_unit=spoon, per_day=D(2)
            )
        )
    assert (caught.value.field, caught.value.message) == ("dose_unit", message)


# --- eye and ear drops ----------------------------------------------------------------------


def test_it_counts_drops_in_both_eyes():
    # Reference §6.15 problem 19: 5 mL, 1 drop both eyes twice daily, 20 drops/mL -> 25 days
    result = days_supply(
        Directions(
            quantity=D(5),
            quantity_unit=Unit.ML,
            dose=D(1),
            dose_unit=Unit.DROP,
            per_day=D(2),
            sides=2,
        )
    )
    assert result.days == 25
    assert result.daily_use == D("0.2")
    assert result.basis == (
        "5 mL × 20 drops/mL = 100 drops ÷ (1 drop × 2 sides × 2 a day) = 25 days"
    )


def test_it_gives_the_days_of_latanoprost_at_bedtime_in_both_eyes():
    # latanoprost 2.5 mL, 1 drop both eyes at bedtime: 50 drops / 2 a day -> 25 days
    result = days_supply(
        Directions(
            quantity=D("2.5"),
            quantity_unit=Unit.ML,
            dose=D(1),
            dose_unit=Unit.DROP,
            per_day=D(1),
            sides=2,
        )
    )
    assert result.days == 25


def test_it_uses_the_products_own_drops_per_ml():
    # the same 5 mL bottle at 16 drops/mL (a payer's figure): 80 drops / 4 a day -> 20 days
    result = days_supply(
        Directions(
            quantity=D(5),
            quantity_unit=Unit.ML,
            dose=D(1),
            dose_unit=Unit.DROP,
            per_day=D(2),
            sides=2,
        ),
        ProductFacts(drops_per_ml=D(16)),
    )
    assert result.days == 20


def test_it_limits_eye_drops_to_the_opened_bottle_discard_date():
    # 1 bottle of 5 mL, 1 drop in one eye daily: 100 days by count, but discarded 28 days
    # after opening -> 28 days
    result = days_supply(
        Directions(
            quantity=D(1),
            quantity_unit=Unit.PACKAGE,
            dose=D(1),
            dose_unit=Unit.DROP,
            per_day=D(1),
        ),
        ProductFacts(package_noun="bottle", package_ml=D(5), in_use_days=28),
    )
    assert result.days == 28
    assert result.days_per_package == D(100)


# --- insulin --------------------------------------------------------------------------------


def test_it_counts_insulin_pens_with_priming():
    # Reference §6.15 problem 18: glargine U-100, 5 × 3 mL pens, 30 units at bedtime,
    # 2-unit prime: 1,500 / 32 = 46.9 -> 46 days
    result = days_supply(
        Directions(
            quantity=D(5),
            quantity_unit=Unit.PACKAGE,
            dose=D(30),
            dose_unit=Unit.UNIT,
            per_day=D(1),
        ),
        GLARGINE_PENS,
    )
    assert result.days == 46
    assert result.exact_days == D("46.87")
    assert result.days_per_package == D("9.37")
    assert result.basis == (
        "5 pens × 3 mL = 15 mL × 100 units/mL = 1,500 units ÷ ((30 units + 2 priming units)"
        " × 1 a day) = 46.8 → 46 days"
    )
    assert result.warnings == ()


def test_it_counts_insulin_billed_in_ml():
    # the same box billed as 15 mL (NCPDP bills insulin in mL)
    result = days_supply(
        Directions(
            quantity=D(15), quantity_unit=Unit.ML, dose=D(30), dose_unit=Unit.UNIT, per_day=D(1)
        ),
        GLARGINE_PENS,
    )
    assert result.days == 46
    assert result.daily_use == D("0.32")


def test_it_limits_each_pen_to_its_in_use_life():
    # Reference §5.4: glargine pens, 5 units once daily: one pen lasts 42.9 days by count
    # but is discarded 28 days after opening -> 5 × 28 = 140 days, not 214
    result = days_supply(
        Directions(
            quantity=D(5),
            quantity_unit=Unit.PACKAGE,
            dose=D(5),
            dose_unit=Unit.UNIT,
            per_day=D(1),
        ),
        GLARGINE_PENS,
    )
    assert result.days == 140
    assert result.exact_days == D("214.28")
    assert result.warnings == (
        "Each pen would last 42.8 days, but an opened pen must be discarded after 28 days; "
        "days supply is limited to 5 pens × 28 = 140 days.",
    )
    assert result.basis.endswith(
        "= 214.2 → 214 days; one pen lasts 42.8 days but is discarded 28 days after opening: "
        "5 pens × 28 days; days supply 140"
    )


def test_it_counts_a_vial_without_priming():
    # regular insulin U-100, 10 mL vial, 20 units three times daily: 1,000 / 60 -> 16 days
    result = days_supply(
        Directions(
            quantity=D(1),
            quantity_unit=Unit.PACKAGE,
            dose=D(20),
            dose_unit=Unit.UNIT,
            per_day=D(3),
        ),
        ProductFacts(package_noun="vial", package_ml=D(10), in_use_days=28),
    )
    assert result.days == 16
    assert result.basis == (
        "1 vial × 10 mL × 100 units/mL = 1,000 units ÷ (20 units × 3 a day) = 16.6 → 16 days"
    )


def test_it_counts_concentrated_insulin_with_the_priming_the_pen_needs():
    # glargine U-300, 3 × 1.5 mL pens (450 units each), 40 units daily; priming as the
    # pen's instructions say (given here as 3 units), in-use 56 days -> 1,350 / 43 -> 31
    result = days_supply(
        Directions(
            quantity=D(3),
            quantity_unit=Unit.PACKAGE,
            dose=D(40),
            dose_unit=Unit.UNIT,
            per_day=D(1),
        ),
        ProductFacts(
            units_per_ml=D(300),
            pen=True,
            priming_units=D(3),
            package_noun="pen",
            package_ml=D("1.5"),
            in_use_days=56,
        ),
    )
    assert result.days == 31


def test_it_warns_about_the_in_use_limit_when_the_package_size_is_unknown():
    # 1,000 units at 10 units a day is 100 days, but an opened vial lasts 28
    result = days_supply(
        Directions(
            quantity=D(1000),
            quantity_unit=Unit.UNIT,
            dose=D(10),
            dose_unit=Unit.UNIT,
            per_day=D(1),
        ),
        ProductFacts(package_noun="vial", in_use_days=28),
    )
    assert result.days == 100
    assert result.warnings == (
        "An opened vial must be discarded after 28 days; give the vial size so the days "
        "supply can be limited per vial.",
    )


def test_it_warns_when_insulin_in_ml_is_not_whole_pens():
    result = days_supply(
        Directions(
            quantity=D(4), quantity_unit=Unit.ML, dose=D(10), dose_unit=Unit.UNIT, per_day=D(1)
        ),
        GLARGINE_PENS,
    )
    assert result.warnings == ("4 mL is 1.33 pens; a pen is dispensed whole.",)


# --- inhalers and sprays --------------------------------------------------------------------


def inhaler(quantity: str, unit: Unit, dose: int, **how: object) -> Directions:
    return Directions(
        quantity=D(quantity),
        quantity_unit=unit,
        dose=D(dose),
        dose_unit=Unit.ACTUATION,
        **how,  # type: ignore[arg-type]
    )


def test_it_gives_the_days_of_a_prn_rescue_inhaler():
    # albuterol HFA 200 actuations, 2 puffs every 4 hours as needed: 12 a day -> 16 days
    result = days_supply(
        inhaler("1", Unit.PACKAGE, 2, every_hours=D(4), prn=True),
        ProductFacts(actuations_per_package=200, package_noun="inhaler"),
    )
    assert result.days == 16
    assert result.basis == (
        "1 inhaler × 200 actuations ÷ (at most 2 actuations every 4 hours = 6 a day, as "
        "needed) = 16.6 → 16 days"
    )


def test_it_counts_an_inhaler_billed_in_grams():
    # ProAir HFA billed as 8.5 GM: one 200-actuation canister -> same 16 days
    result = days_supply(
        inhaler("8.5", Unit.GM, 2, every_hours=D(4), prn=True),
        ProductFacts(package_grams=D("8.5"), actuations_per_package=200, package_noun="inhaler"),
    )
    assert result.days == 16
    assert result.basis.startswith(
        "8.5 g ÷ 8.5 g per inhaler = 1 inhaler × 200 actuations ÷ (at most 2 actuations"
    )


def test_it_counts_two_canisters_billed_in_grams():
    # Ventolin HFA 18 g × 2 = 36 GM, 2 puffs four times daily: 400 / 8 -> 50 days
    result = days_supply(
        inhaler("36", Unit.GM, 2, per_day=D(4)),
        ProductFacts(package_grams=D(18), actuations_per_package=200, package_noun="inhaler"),
    )
    assert result.days == 50


@pytest.mark.parametrize(
    ("name", "actuations", "dose", "per_day", "sides", "days"),
    [
        ("budesonide/formoterol 160/4.5, 2 puffs bid", 120, 2, 2, 1, 30),
        ("fluticasone/salmeterol Diskus, 1 inhalation bid", 60, 1, 2, 1, 30),
        ("tiotropium Respimat, 2 puffs daily", 60, 2, 1, 1, 30),
        ("fluticasone nasal, 2 sprays each nostril daily", 120, 2, 1, 2, 30),
        ("fluticasone HFA 110, 2 puffs bid", 120, 2, 2, 1, 30),
    ],
)
def test_it_gives_the_days_of_maintenance_inhalers_and_sprays(
    name, actuations, dose, per_day, sides, days
):
    result = days_supply(
        inhaler("1", Unit.PACKAGE, dose, per_day=D(per_day), sides=sides),
        ProductFacts(actuations_per_package=actuations, package_noun="inhaler"),
    )
    assert result.days == days, name


# --- topicals -------------------------------------------------------------------------------


def test_it_counts_fingertip_units_of_cream():
    # triamcinolone 0.1% cream, both hands twice daily: 2 FTU × 0.5 g × 2 = 2 g a day
    result = days_supply(
        Directions(
            quantity=D(30), quantity_unit=Unit.GM, dose=D(2), dose_unit=Unit.FTU, per_day=D(2)
        )
    )
    assert result.days == 15
    assert result.daily_use == D(2)
    assert result.basis == (
        "30 g × 0.5 g per fingertip unit = 60 fingertip units ÷ (2 fingertip units × 2 a day)"
        " = 15 days"
    )


def test_it_counts_a_larger_tube_the_same_way():
    # the same directions, 80 g -> 40 days
    result = days_supply(
        Directions(
            quantity=D(80),
            quantity_unit=Unit.GM,
            dose=FINGERTIP_UNITS_PER_APPLICATION["one hand (front and back)"] * 2,
            dose_unit=Unit.FTU,
            per_day=D(2),
        )
    )
    assert result.days == 40


def test_it_counts_grams_per_application():
    # hydrocortisone 2.5% cream, 1 g to the rash twice daily, 30 g -> 15 days
    result = days_supply(
        Directions(
            quantity=D(30), quantity_unit=Unit.GM, dose=D(1), dose_unit=Unit.GM, per_day=D(2)
        )
    )
    assert result.days == 15


def test_it_lets_the_caller_say_what_a_fingertip_unit_weighs():
    result = days_supply(
        Directions(
            quantity=D(30), quantity_unit=Unit.GM, dose=D(2), dose_unit=Unit.FTU, per_day=D(2)
        ),
        ProductFacts(grams_per_ftu=D("0.25")),
    )
    assert result.days == 30


def test_whole_body_is_about_forty_fingertip_units():
    body = FINGERTIP_UNITS_PER_APPLICATION
    total = (
        body["face and neck"]
        + 2 * body["one hand (front and back)"]
        + 2 * body["one arm"]
        + 2 * body["one foot"]
        + 2 * body["one leg"]
        + body["front of trunk"]
        + body["back of trunk and buttocks"]
    )
    assert total == D("40.5")


# --- units ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "unit"),
    [
        ("tab", Unit.EACH),
        ("Capsules", Unit.EACH),
        ("EA", Unit.EACH),
        ("mL", Unit.ML),
        ("g", Unit.GM),
        ("gtts", Unit.DROP),
        ("units", Unit.UNIT),
        ("puffs", Unit.ACTUATION),
        ("spray", Unit.ACTUATION),
        ("fingertip units", Unit.FTU),
        ("pen", Unit.PACKAGE),
        (" vials ", Unit.PACKAGE),
    ],
)
def test_it_reads_the_units_technicians_type(text, unit):
    assert parse_unit(text) is unit


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("U", "Write 'units' in full: 'U' is misread as 0 or 4 (ISMP do-not-use list)."),
        ("IU", "Write 'units' in full: 'IU' is misread as IV or 10 (ISMP do-not-use list)."),
        (
            "spoonful",
            "'spoonful' is not a unit days supply can count; use tablets/capsules (EA), mL, "
            "g, drops, units, puffs/sprays, fingertip units or packages.",
        ),
    ],
)
def test_it_refuses_error_prone_and_unknown_units(text, message):
    with pytest.raises(DaysSupplyError) as caught:
        parse_unit(text)
    assert (caught.value.field, caught.value.message) == ("dose_unit", message)


# --- errors ---------------------------------------------------------------------------------


def error_of(directions: Directions, product: ProductFacts | None = None) -> tuple[str, str]:
    with pytest.raises(DaysSupplyError) as caught:
        days_supply(directions, product)
    field = caught.value.field
    assert field is not None
    return field, caught.value.message


@pytest.mark.parametrize(
    ("quantity", "message"),
    [
        (D(0), "The quantity dispensed must be more than zero."),
        (D(-30), "The quantity dispensed must be more than zero."),
        (D("NaN"), "The quantity dispensed must be a number."),
        (D("Infinity"), "The quantity dispensed must be a number."),
        (30.0, "The quantity dispensed must be a number written exactly (a Decimal)."),
        (None, "The quantity dispensed is missing."),
        (D("30.0005"), "A quantity dispensed has at most 3 decimal places (NCPDP 442-E7)."),
        (D(50_000), "50,000 tablets is more than any one fill; check the quantity."),
    ],
)
def test_it_refuses_a_bad_quantity(quantity, message):
    directions = Directions(
        quantity=quantity, quantity_unit=Unit.EACH, dose=D(1), dose_unit=Unit.EACH, per_day=D(1)
    )
    assert error_of(directions) == ("quantity", message)


@pytest.mark.parametrize(
    ("dose", "unit", "message"),
    [
        (D(0), Unit.EACH, "The dose must be more than zero."),
        (D(-1), Unit.EACH, "The dose must be more than zero."),
        (D(60), Unit.EACH, "A dose of 60 tablets is not plausible; check the directions."),
        (D("0.33"), Unit.EACH, "A tablet or capsule dose is whole, half or quarter tablets."),
        (D("1.5"), Unit.DROP, "A dose of drops is a whole number of drops."),
        (D("10.25"), Unit.UNIT, "An insulin dose is whole or half units."),
        (D(5_000), Unit.ML, "A dose of 5,000 mL is not plausible; check the directions."),
    ],
)
def test_it_refuses_a_bad_dose(dose, unit, message):
    quantity_unit = Unit.EACH if unit is Unit.EACH else Unit.ML
    directions = Directions(
        quantity=D(100), quantity_unit=quantity_unit, dose=dose, dose_unit=unit, per_day=D(1)
    )
    assert error_of(directions) == ("dose", message)


def test_it_refuses_a_split_capsule():
    assert error_of(tablets(15, "0.5", per_day=D(1), form="capsule")) == (
        "dose",
        "Only tablets are split; give whole capsules.",
    )


def test_it_refuses_tablets_against_ml():
    directions = Directions(
        quantity=D(60), quantity_unit=Unit.EACH, dose=D(5), dose_unit=Unit.ML, per_day=D(2)
    )
    assert error_of(directions) == (
        "dose_unit",
        "The quantity is in tablets but the dose is in mL; they must measure the same thing.",
    )


def test_it_refuses_ml_against_tablets():
    directions = Directions(
        quantity=D(150), quantity_unit=Unit.ML, dose=D(1), dose_unit=Unit.EACH, per_day=D(2)
    )
    assert error_of(directions)[0] == "dose_unit"


def test_it_refuses_directions_without_a_frequency():
    assert error_of(tablets(30)) == (
        "per_day",
        "The directions need how often: times a day, every N hours or every N days.",
    )


def test_it_asks_for_the_most_a_day_when_prn_has_no_frequency():
    assert error_of(tablets(30, prn=True)) == (
        "per_day",
        "The directions need how often: times a day, every N hours or every N days (for "
        "as-needed use, the most a day).",
    )


def test_it_refuses_two_frequencies_at_once():
    assert error_of(tablets(30, per_day=D(2), every_hours=D(12))) == (
        "every_hours",
        "Give how often one way only: times a day, every N hours or every N days.",
    )


@pytest.mark.parametrize(
    ("how", "field", "message"),
    [
        ({"per_day": D(0)}, "per_day", "How often must be more than zero."),
        ({"per_day": D(100)}, "per_day", "More than 48 doses a day is not plausible."),
        (
            {"every_hours": D("0.25")},
            "every_hours",
            "A dose is at most every 30 minutes (0.5 hours).",
        ),
        ({"every_days": D(400)}, "every_days", "Every N days must be from 1 to 365 days."),
        (
            {"per_day": D(1), "sides": 3},
            "sides",
            "A dose goes into one side or both (eyes, ears, nostrils): 1 or 2.",
        ),
        (
            {"per_day": D(1), "duration_days": 0},
            "duration_days",
            "The course length in days must be from 1 to 999 days.",
        ),
    ],
)
def test_it_refuses_an_implausible_frequency_or_course(how, field, message):
    assert error_of(tablets(30, **how)) == (field, message)


def test_it_needs_the_pen_volume_to_count_units_in_pens():
    directions = Directions(
        quantity=D(5), quantity_unit=Unit.PACKAGE, dose=D(30), dose_unit=Unit.UNIT, per_day=D(1)
    )
    assert error_of(directions, ProductFacts(pen=True, package_noun="pen")) == (
        "package_ml",
        "To count units in pens, give what one pen holds: its volume in mL.",
    )


def test_it_needs_the_actuations_of_an_inhaler():
    assert error_of(inhaler("1", Unit.PACKAGE, 2, per_day=D(2))) == (
        "actuations_per_package",
        "To count actuations in packages, give what one package holds: its number of "
        "actuations (puffs or sprays).",
    )


def test_it_needs_the_canister_weight_to_count_puffs_in_grams():
    directions = inhaler("8.5", Unit.GM, 2, per_day=D(4))
    facts = ProductFacts(actuations_per_package=200, package_noun="inhaler")
    assert error_of(directions, facts) == (
        "package_grams",
        "To count actuations in g, give the inhaler size: its weight in grams.",
    )


def test_it_refuses_priming_for_doses_not_in_units():
    assert error_of(tablets(30, per_day=D(1)), ProductFacts(priming_units=D(2))) == (
        "priming_units",
        "Priming applies to doses in units (insulin).",
    )


def test_it_refuses_a_quantity_in_fingertip_units():
    directions = Directions(
        quantity=D(60), quantity_unit=Unit.FTU, dose=D(2), dose_unit=Unit.FTU, per_day=D(2)
    )
    assert error_of(directions) == (
        "quantity_unit",
        "Fingertip units measure a dose; give the quantity in grams.",
    )


def test_it_refuses_an_implausible_drops_per_ml():
    directions = Directions(
        quantity=D(5), quantity_unit=Unit.ML, dose=D(1), dose_unit=Unit.DROP, per_day=D(2)
    )
    assert error_of(directions, ProductFacts(drops_per_ml=D(0))) == (
        "drops_per_ml",
        "Drops per mL must be from 5 to 60.",
    )


def test_it_refuses_a_days_supply_a_claim_cannot_carry():
    # 10,000 tablets at 1 every 7 days would last 70,000 days
    assert error_of(tablets(10_000, every_days=D(7))) == (
        "quantity",
        "This quantity would last 70,000 days; a claim allows at most 999 (NCPDP 405-D5). "
        "Check the quantity and the directions.",
    )
    assert MAX_DAYS_SUPPLY == 999
    assert days_supply(tablets(999, per_day=D(1))).days == MAX_DAYS_SUPPLY


def test_the_error_is_an_invalid_input_the_api_answers_with_422():
    with pytest.raises(Invalid) as caught:
        days_supply(tablets(0, per_day=D(1)))
    assert caught.value.status == 422
    assert caught.value.code == "days_supply_invalid"
    assert caught.value.errors == [
        {"field": "quantity", "message": "The quantity dispensed must be more than zero."}
    ]


# --- checking a typed days supply -----------------------------------------------------------

INSULIN_46 = days_supply(
    Directions(
        quantity=D(5), quantity_unit=Unit.PACKAGE, dose=D(30), dose_unit=Unit.UNIT, per_day=D(1)
    ),
    GLARGINE_PENS,
)
INSULIN_BASIS = (
    "5 pens × 3 mL = 15 mL × 100 units/mL = 1,500 units ÷ ((30 units + 2 priming units) × 1 a "
    "day) = 46.8 → 46 days"
)


def test_the_check_accepts_a_matching_days_supply():
    assert check_days_supply(46, INSULIN_46) == Check(
        ok=True,
        code=CheckCode.MATCHES,
        typed_days=46,
        computed_days=46,
        message="Days supply 46 matches.",
    )


def test_the_check_accepts_a_little_under_within_tolerance():
    check = check_days_supply(44, INSULIN_46)
    assert (check.ok, check.code) == (True, CheckCode.WITHIN_TOLERANCE)
    assert check.message == f"Days supply 44 is close to the computed 46 days ({INSULIN_BASIS})."


def test_the_check_flags_thirty_days_typed_by_habit():
    # the classic audit finding: 30 days for an insulin box that lasts 46
    check = check_days_supply(30, INSULIN_46)
    assert check == Check(
        ok=False,
        code=CheckCode.HABIT_DEFAULT,
        typed_days=30,
        computed_days=46,
        message=(
            "Days supply 30 looks like a habit, not the directions: the quantity lasts 46 days "
            f"({INSULIN_BASIS}). Type 46."
        ),
    )


def test_the_check_flags_an_overstated_days_supply_by_even_one_day():
    check = check_days_supply(47, INSULIN_46)
    assert (check.ok, check.code) == (False, CheckCode.OVERSTATED)
    assert check.message == (
        f"Days supply 47 is more than the quantity lasts, 46 days ({INSULIN_BASIS}). Payers "
        "reject an overstated days supply; type 46."
    )


def test_the_check_flags_an_understated_days_supply_beyond_tolerance():
    check = check_days_supply(40, INSULIN_46)
    assert (check.ok, check.code) == (False, CheckCode.UNDERSTATED)
    assert check.message == (
        f"Days supply 40 is less than the quantity lasts, 46 days ({INSULIN_BASIS}). An "
        "understated days supply lets refills come too early and fails audits; type 46."
    )


def test_the_check_flags_thirty_when_the_quantity_lasts_less():
    # 2.5 mL latanoprost lasts 25 days; "30" is the habit again
    drops = days_supply(
        Directions(
            quantity=D("2.5"),
            quantity_unit=Unit.ML,
            dose=D(1),
            dose_unit=Unit.DROP,
            per_day=D(1),
            sides=2,
        )
    )
    assert check_days_supply(30, drops).code is CheckCode.HABIT_DEFAULT


def test_the_check_accepts_thirty_when_thirty_is_right():
    assert check_days_supply(30, days_supply(tablets(60, per_day=D(2)))).ok is True


def test_the_check_lets_a_payer_accept_more_for_eye_drops():
    drops = days_supply(
        Directions(
            quantity=D("2.5"),
            quantity_unit=Unit.ML,
            dose=D(1),
            dose_unit=Unit.DROP,
            per_day=D(1),
            sides=2,
        )
    )
    assert check_days_supply(28, drops, over_tolerance=5).code is CheckCode.WITHIN_TOLERANCE


def test_the_check_uses_the_given_tolerance():
    assert check_days_supply(45, INSULIN_46, tolerance=0).code is CheckCode.UNDERSTATED


@pytest.mark.parametrize(
    ("typed", "field", "message"),
    [
        (0, "days_supply", "The days supply must be from 1 to 999 days."),
        (1000, "days_supply", "The days supply must be from 1 to 999 days."),
        ("30", "days_supply", "The days supply is a whole number of days."),
        (True, "days_supply", "The days supply is a whole number of days."),
    ],
)
def test_the_check_refuses_a_typed_days_supply_a_claim_cannot_carry(typed, field, message):
    with pytest.raises(DaysSupplyError) as caught:
        check_days_supply(typed, INSULIN_46)
    assert (caught.value.field, caught.value.message) == (field, message)


def test_the_check_refuses_a_negative_tolerance():
    with pytest.raises(DaysSupplyError) as caught:
        check_days_supply(46, INSULIN_46, tolerance=-1)
    assert caught.value.field == "tolerance"


# --- properties -----------------------------------------------------------------------------

tablet_doses = st.integers(1, 16).map(lambda k: D(k) / 4)  # ¼ to 4 tablets
times_a_day = st.integers(1, 8).map(D)
tablet_counts = st.integers(1, 240).map(D)


@settings(max_examples=200)
@given(quantity=tablet_counts, dose=tablet_doses, per_day=times_a_day)
def test_days_are_never_below_one(quantity, dose, per_day):
    result = days_supply(tablets(str(quantity), str(dose), per_day=per_day))
    assert result.days >= 1
    assert isinstance(result.daily_use, Decimal)
    assert isinstance(result.exact_days, Decimal)


@settings(max_examples=200)
@given(q1=tablet_counts, q2=tablet_counts, dose=tablet_doses, per_day=times_a_day)
def test_more_quantity_never_gives_fewer_days(q1, q2, dose, per_day):
    low, high = sorted((q1, q2))
    days_low = days_supply(tablets(str(low), str(dose), per_day=per_day)).days
    days_high = days_supply(tablets(str(high), str(dose), per_day=per_day)).days
    assert days_high >= days_low


@settings(max_examples=200)
@given(
    quantity=tablet_counts,
    d1=tablet_doses,
    d2=tablet_doses,
    f1=times_a_day,
    f2=times_a_day,
)
def test_a_larger_dose_or_frequency_never_gives_more_days(quantity, d1, d2, f1, f2):
    (dose_low, dose_high), (freq_low, freq_high) = sorted((d1, d2)), sorted((f1, f2))
    base = days_supply(tablets(str(quantity), str(dose_low), per_day=freq_low)).days
    assert days_supply(tablets(str(quantity), str(dose_high), per_day=freq_low)).days <= base
    assert days_supply(tablets(str(quantity), str(dose_low), per_day=freq_high)).days <= base


@settings(max_examples=200)
@given(dose=tablet_doses, per_day=times_a_day, n=st.integers(1, 90))
def test_a_quantity_of_dose_times_frequency_times_n_lasts_exactly_n_days(dose, per_day, n):
    quantity = dose * per_day * n
    result = days_supply(tablets(str(quantity), str(dose), per_day=per_day))
    assert result.days == n
    assert result.exact_days == D(n)


@settings(max_examples=200)
@given(every=st.integers(1, 30), n=st.integers(1, 30))
def test_an_every_n_days_dose_lasts_exactly_n_intervals(every, n):
    result = days_supply(tablets(n, every_days=D(every)))
    assert result.days == every * n


@settings(max_examples=200)
@given(
    drops=st.integers(1, 3),
    sides=st.integers(1, 2),
    per_day=st.integers(1, 4),
    n=st.integers(1, 60),
    drops_per_ml=st.sampled_from([15, 16, 20]),
)
def test_eye_drops_are_exact_for_whole_drop_counts(drops, sides, per_day, n, drops_per_ml):
    # a bottle holding exactly drops × sides × per_day × n drops lasts n days
    total_drops = drops * sides * per_day * n
    ml = D(total_drops) / D(drops_per_ml)
    assume(ml == ml.quantize(D("0.001")))  # a claim carries 3 decimals of mL
    result = days_supply(
        Directions(
            quantity=ml,
            quantity_unit=Unit.ML,
            dose=D(drops),
            dose_unit=Unit.DROP,
            per_day=D(per_day),
            sides=sides,
        ),
        ProductFacts(drops_per_ml=D(drops_per_ml)),
    )
    assert result.days == n


@settings(max_examples=200)
@given(pens=st.integers(1, 10), units=st.integers(1, 80), per_day=st.integers(1, 4))
def test_insulin_pens_never_last_longer_than_their_in_use_life(pens, units, per_day):
    result = days_supply(
        Directions(
            quantity=D(pens),
            quantity_unit=Unit.PACKAGE,
            dose=D(units),
            dose_unit=Unit.UNIT,
            per_day=D(per_day),
        ),
        GLARGINE_PENS,
    )
    assert 1 <= result.days <= pens * 28


@settings(max_examples=200)
@given(quantity=tablet_counts, dose=tablet_doses, per_day=times_a_day)
def test_the_explanation_has_no_trailing_zero_or_naked_decimal(quantity, dose, per_day):
    basis = days_supply(tablets(str(quantity), str(dose), per_day=per_day)).basis
    assert not re.search(r"\d\.\d*0(?!\d)", basis)
    assert not re.search(r"(?<!\d)\.\d", basis)
