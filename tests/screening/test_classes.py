"""The class table: keys other checks rely on, and members that must (not) be there."""

from hypothesis import given
from hypothesis import strategies as st

from rxdesk.screening.classes import (
    CLASS_MEMBERS,
    classes_of,
    drug_members,
    ingredients_in,
    members,
)
from rxdesk.screening.types import Drug, Ingredient


def test_it_knows_the_class_of_an_ingredient():
    assert "penicillin" in classes_of("amoxicillin")
    assert "beta_lactam" in classes_of("amoxicillin")
    assert {"opioid", "opioid_phenanthrene"} <= classes_of("oxycodone")
    assert {"opioid", "opioid_phenylpiperidine"} <= classes_of("fentanyl")
    assert {"opioid", "opioid_diphenylheptane"} <= classes_of("methadone")
    assert {"ssri"} <= classes_of("fluoxetine")
    assert {"maoi"} <= classes_of("phenelzine")
    assert {"benzodiazepine", "cns_depressant"} <= classes_of("alprazolam")


def test_it_normalises_case_and_spaces():
    assert classes_of("  AMOXICILLIN ") == classes_of("amoxicillin")
    assert classes_of("Mefenamic   Acid") == classes_of("mefenamic acid")


def test_it_answers_nothing_for_an_unknown_name():
    assert classes_of("water") == frozenset()
    assert members("no such class") == frozenset()


def test_nsaid_excludes_aspirin_and_includes_celecoxib():
    assert "celecoxib" in CLASS_MEMBERS["nsaid"]
    assert "aspirin" not in CLASS_MEMBERS["nsaid"]
    assert "aspirin" in CLASS_MEMBERS["cox1_cross_reactive"]
    assert "celecoxib" not in CLASS_MEMBERS["cox1_cross_reactive"]
    assert "bismuth subsalicylate" in CLASS_MEMBERS["cox1_cross_reactive"]


def test_sulfonamide_antibiotics_are_apart_from_non_antibiotic_sulfonamides():
    abx = CLASS_MEMBERS["sulfonamide_antibiotic"]
    non = CLASS_MEMBERS["sulfonamide_nonantibiotic"]
    assert "sulfamethoxazole" in abx
    assert {"hydrochlorothiazide", "furosemide", "celecoxib"} <= non
    assert not abx & non


def test_opioid_excludes_antagonists_and_antidiarrhoeals():
    opioids = CLASS_MEMBERS["opioid"]
    assert not {"naloxone", "naltrexone", "loperamide", "diphenoxylate"} & opioids
    assert {"buprenorphine", "tramadol", "tapentadol", "pentazocine"} <= opioids


def test_members_accepts_a_spaced_key():
    assert members("ace inhibitor") == CLASS_MEMBERS["ace_inhibitor"]


def test_ingredients_in_picks_the_class_members():
    assert ingredients_in(["Hydrocodone", "acetaminophen"], "opioid") == {"hydrocodone"}


def test_drug_members_falls_back_to_the_resolved_classes_of_a_single_ingredient_drug():
    novel = Drug("newdrug 5 mg", (Ingredient("newdrug"),), classes=frozenset({"opioid"}))
    assert drug_members(novel, "opioid") == {"newdrug"}
    combo = Drug("x/y", (Ingredient("newdrug"), Ingredient("other")), classes=frozenset({"opioid"}))
    assert drug_members(combo, "opioid") == frozenset()


def test_every_key_and_member_is_lower_case_and_trimmed():
    for key, names in CLASS_MEMBERS.items():
        assert key == key.lower().strip() and " " not in key
        for name in names:
            assert name == " ".join(name.lower().split())


@given(st.sampled_from(sorted(CLASS_MEMBERS)))
def test_classes_of_is_the_inverse_of_members(key):
    for name in CLASS_MEMBERS[key]:
        assert key in classes_of(name)
