"""Drug–allergy screening (DA): ingredient, class, cross-sensitivity, intolerance."""

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rxdesk.screening.checks import allergy
from rxdesk.screening.checks.allergy import allergen_terms
from rxdesk.screening.types import AllergyFact, Context, Drug, Ingredient, Patient, Severity

TODAY = dt.date(2025, 6, 1)


def drug(*names: str, label: str = "") -> Drug:
    return Drug(label or " / ".join(names), tuple(Ingredient(n) for n in names))


def screen(proposed: Drug, *facts: AllergyFact):
    patient = Patient(allergies=facts)
    return allergy.check(Context(patient=patient, profile=(), proposed=proposed, today=TODAY))


def one(proposed: Drug, *facts: AllergyFact):
    alerts = screen(proposed, *facts)
    assert len(alerts) == 1, alerts
    return alerts[0]


def A(word: str, reaction: str = "", kind: str = "allergy") -> AllergyFact:
    return AllergyFact(allergen=word, kind=kind, reaction=reaction)


# --- the same ingredient -----------------------------------------------------------------


def test_it_alerts_major_for_an_allergy_to_the_same_ingredient():
    alert = one(drug("amoxicillin", label="amoxicillin 500 mg capsule"), A("amoxicillin", "hives"))
    assert alert.type == "DA"
    assert alert.severity == Severity.MAJOR
    assert alert.interrupts
    assert alert.drugs == ("amoxicillin 500 mg capsule",)
    assert "Allergy on file: amoxicillin (hives)" in alert.message
    assert alert.source == allergy.SOURCE
    assert alert.key == "da:ingredient:amoxicillin|amoxicillin"


def test_anaphylaxis_to_the_same_ingredient_is_contraindicated():
    alert = one(drug("amoxicillin"), A("amoxicillin", "anaphylaxis"))
    assert alert.severity == Severity.CONTRAINDICATED


def test_it_matches_an_ingredient_of_a_combination_product():
    alert = one(drug("hydrocodone", "acetaminophen"), A("codeine"))
    assert alert.severity == Severity.MAJOR  # same chemical class: phenanthrene
    alert = one(drug("hydrocodone", "acetaminophen"), A("tylenol"))
    assert alert.key == "da:ingredient:tylenol|acetaminophen|hydrocodone"


def test_a_salt_word_in_the_allergen_is_ignored():
    assert one(drug("morphine"), A("morphine sulfate")).severity == Severity.MAJOR


# --- the same class --------------------------------------------------------------------------


@pytest.mark.parametrize("word", ["penicillin", "Penicillins", "PCN", "pcn allergy"])
def test_a_penicillin_class_allergy_alerts_major_on_any_penicillin(word):
    alert = one(drug("piperacillin"), A(word))
    assert alert.severity == Severity.MAJOR
    assert "piperacillin is one of the penicillins" in alert.message


def test_another_penicillin_after_a_specific_penicillin_allergy_is_major():
    assert one(drug("ampicillin"), A("amoxicillin")).severity == Severity.MAJOR


def test_a_severe_skin_reaction_makes_the_class_contraindicated():
    alert = one(drug("phenytoin"), A("carbamazepine", "Stevens-Johnson syndrome"))
    assert alert.severity == Severity.CONTRAINDICATED
    assert "SJS" in alert.consequence


def test_sulfa_means_the_sulfonamide_antibiotics():
    alert = one(drug("sulfamethoxazole", "trimethoprim"), A("sulfa", "rash"))
    assert alert.severity == Severity.MAJOR


@pytest.mark.parametrize("word", ["nsaids", "NSAID", "aspirin", "ASA"])
def test_an_nsaid_class_or_aspirin_allergy_alerts_on_every_cox1_inhibitor(word):
    for name in ("ibuprofen", "naproxen", "ketorolac", "aspirin", "bismuth subsalicylate"):
        assert one(drug(name), A(word)).severity == Severity.MAJOR


def test_a_class_word_as_plural_is_a_class():
    assert one(drug("simvastatin"), A("statins")).severity == Severity.MAJOR
    assert one(drug("lisinopril"), A("ACE inhibitors")).severity == Severity.MAJOR


def test_opioid_same_chemical_class_is_major():
    assert one(drug("morphine"), A("codeine", "hives")).severity == Severity.MAJOR
    assert one(drug("fentanyl"), A("meperidine")).severity == Severity.MAJOR


def test_a_narcotics_allergy_alerts_on_every_opioid():
    assert one(drug("tramadol"), A("narcotics")).severity == Severity.MAJOR


# --- weaker relatives and cross-sensitivity ---------------------------------------------------


def test_a_cephalosporin_with_a_penicillin_like_side_chain_is_moderate():
    alert = one(drug("cephalexin"), A("penicillin", "rash"))
    assert alert.severity == Severity.MODERATE
    assert not alert.interrupts
    assert "side chain" in alert.message


def test_a_shared_side_chain_after_anaphylaxis_is_major():
    assert one(drug("cefadroxil"), A("amoxicillin", "anaphylaxis")).severity == Severity.MAJOR


def test_a_cephalosporin_with_a_dissimilar_side_chain_is_minor():
    assert one(drug("cefazolin"), A("penicillin", "rash")).severity == Severity.MINOR
    assert one(drug("ceftriaxone"), A("amoxicillin")).severity == Severity.MINOR


def test_a_dissimilar_cephalosporin_after_anaphylaxis_is_moderate():
    assert one(drug("cefazolin"), A("penicillin", "anaphylaxis")).severity == Severity.MODERATE


def test_a_cephalosporin_allergy_vs_a_penicillin_follows_the_side_chain():
    assert one(drug("ampicillin"), A("cephalexin")).severity == Severity.MODERATE
    assert one(drug("nafcillin"), A("cephalexin")).severity == Severity.MINOR
    assert one(drug("amoxicillin"), A("cephalosporins")).severity == Severity.MODERATE


def test_cephalosporins_in_the_same_side_chain_group_are_major_others_moderate():
    assert one(drug("cefotaxime"), A("ceftriaxone")).severity == Severity.MAJOR
    assert one(drug("cephalexin"), A("ceftriaxone")).severity == Severity.MODERATE


def test_carbapenems_alert_only_after_a_severe_penicillin_reaction():
    assert screen(drug("meropenem"), A("penicillin", "hives")) == []
    assert one(drug("meropenem"), A("penicillin", "anaphylaxis")).severity == Severity.MINOR


def test_aztreonam_cross_reacts_only_with_ceftazidime():
    assert screen(drug("aztreonam"), A("penicillin", "anaphylaxis")) == []
    assert screen(drug("aztreonam"), A("ceftriaxone")) == []
    assert one(drug("aztreonam"), A("ceftazidime")).severity == Severity.MODERATE


@pytest.mark.parametrize("name", ["hydrochlorothiazide", "furosemide", "celecoxib", "glipizide"])
def test_a_sulfa_antibiotic_allergy_does_not_alert_on_non_antibiotic_sulfonamides(name):
    assert screen(drug(name), A("sulfa", "rash")) == []


def test_non_antibiotic_sulfonamide_after_a_severe_sulfa_reaction_is_only_minor():
    alert = one(drug("furosemide"), A("sulfamethoxazole", "SJS"))
    assert alert.severity == Severity.MINOR


def test_a_single_nsaid_allergy_makes_other_nsaids_moderate_and_spares_celecoxib():
    assert one(drug("naproxen"), A("ibuprofen", "hives")).severity == Severity.MODERATE
    assert screen(drug("celecoxib"), A("ibuprofen")) == []
    assert screen(drug("celecoxib"), A("nsaids")) == []
    assert screen(drug("acetaminophen"), A("aspirin")) == []


def test_a_different_opioid_chemical_class_does_not_alert():
    assert screen(drug("fentanyl"), A("codeine", "hives")) == []
    assert screen(drug("methadone"), A("morphine")) == []
    assert screen(drug("tramadol"), A("hydrocodone")) == []


def test_lamotrigine_vs_carbamazepine_is_weaker():
    assert one(drug("lamotrigine"), A("carbamazepine", "rash")).severity == Severity.MODERATE
    assert one(drug("lamotrigine"), A("carbamazepine", "DRESS")).severity == Severity.MAJOR
    assert screen(drug("levetiracetam"), A("carbamazepine", "DRESS")) == []


# --- intolerance ------------------------------------------------------------------------------


def test_an_intolerance_to_the_same_ingredient_is_moderate_and_never_interrupts():
    alert = one(drug("codeine"), A("codeine", "nausea", kind="intolerance"))
    assert alert.severity == Severity.MODERATE
    assert not alert.interrupts
    assert alert.message.startswith("Intolerance on file: codeine (nausea)")


def test_an_intolerance_to_the_class_is_minor_and_cross_sensitivity_is_silent():
    assert one(drug("morphine"), A("codeine", kind="intolerance")).severity == Severity.MINOR
    assert screen(drug("cephalexin"), A("penicillin", kind="intolerance")) == []


def test_an_allergy_whose_reaction_is_a_side_effect_is_treated_as_an_intolerance():
    alert = one(drug("codeine"), A("codeine", "nausea and vomiting"))
    assert alert.severity == Severity.MODERATE
    assert "side effect" in alert.message


@given(
    st.sampled_from(["amoxicillin", "penicillin", "codeine", "sulfa", "nsaids", "carbamazepine"]),
    st.sampled_from(
        [
            "amoxicillin",
            "cephalexin",
            "morphine",
            "sulfamethoxazole",
            "ibuprofen",
            "phenytoin",
            "cefazolin",
            "fentanyl",
        ]
    ),
    st.sampled_from(["", "hives", "nausea", "anaphylaxis", "SJS"]),
)
def test_an_intolerance_never_interrupts(word, name, reaction):
    for alert in screen(drug(name), A(word, reaction, kind="intolerance")):
        assert not alert.interrupts


@given(
    st.sampled_from(["amoxicillin", "penicillin", "codeine", "sulfa", "nsaids", "carbamazepine"]),
    st.sampled_from(["amoxicillin", "cephalexin", "morphine", "sulfamethoxazole", "ibuprofen"]),
    st.sampled_from(["", "hives", "rash"]),
)
def test_a_severe_reaction_never_lowers_the_severity(word, name, reaction):
    from rxdesk.screening.types import RANK

    mild = screen(drug(name), A(word, reaction))
    severe = screen(drug(name), A(word, "anaphylaxis"))
    if mild:
        assert severe and RANK[severe[0].severity] >= RANK[mild[0].severity]


# --- nothing to say ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "word,name",
    [
        ("shellfish", "iohexol"),
        ("iodine", "amiodarone"),
        ("iodine", "levothyroxine"),
        ("sulfite", "morphine"),
        ("sulfate", "ferrous sulfate"),
        ("egg", "influenza vaccine"),
        ("latex", "insulin glargine"),
        ("NKDA", "amoxicillin"),
        ("penicillin", "azithromycin"),
        ("vancomycin", "amoxicillin"),
        ("xyzzy", "lisinopril"),
    ],
)
def test_it_says_nothing_when_the_allergen_does_not_apply(word, name):
    assert screen(drug(name), A(word)) == []


@pytest.mark.parametrize("kind", ["refuted", "inactive", "resolved", "entered-in-error"])
def test_a_refuted_or_inactive_record_gives_no_alert(kind):
    assert screen(drug("amoxicillin"), A("amoxicillin", kind=kind)) == []


def test_one_alert_per_allergy_record_the_strongest_over_the_ingredients():
    alerts = screen(drug("amoxicillin", "clavulanic acid"), A("penicillin"), A("augmentin"))
    assert [a.key for a in alerts] == [
        "da:penicillin:penicillin|amoxicillin|clavulanic acid",
        "da:ingredient:augmentin|amoxicillin|clavulanic acid",
    ]


def test_allergen_terms_maps_common_words():
    assert allergen_terms("Sulfa").classes == {"sulfonamide_antibiotic"}
    assert allergen_terms("bactrim").ingredients == {"sulfamethoxazole", "trimethoprim"}
    assert allergen_terms("penicillins").classes == {"penicillin"}
    assert allergen_terms("opiates").classes == {"opioid"}
    assert allergen_terms("shellfish").empty
    assert allergen_terms("warfarin").ingredients == {"warfarin"}


def test_keys_are_stable_across_runs():
    a = one(drug("cephalexin"), A("penicillin"))
    b = one(drug("cephalexin"), A("penicillin"))
    assert a.key == b.key == "da:penicillin-cephalosporin-r1:penicillin|cephalexin"
