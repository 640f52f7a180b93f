"""Sig codes → label directions (pure; no database).

Expected texts follow the team reference identifiers-labels-math.md: §4.1 (codes), §4.2
(expansion), §3.4 (USP <17>) and §3.5 (ISMP / Joint Commission "Do Not Use").
"""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from rxdesk.core.errors import Invalid
from rxdesk.rx.sig import MAX_LENGTH, SigError, SigFlagCode, SigResult, expand
from rxdesk.rx.sig_codes import CODES, DO_NOT_USE, LANGUAGES, LOOKUP, REFUSED, TEMPLATES, Kind

D = Decimal


def flag_codes(result: SigResult) -> list[SigFlagCode]:
    return [f.code for f in result.flags]


# --- the examples of the issue, in both languages --------------------------------------


@pytest.mark.parametrize(
    ("typed", "english", "spanish"),
    [
        (
            "1 T PO BID",
            "Take 1 tablet by mouth twice daily.",
            "Tome 1 tableta por vía oral dos veces al día.",
        ),
        (
            "2 C PO Q6H PRN PAIN",
            "Take 2 capsules by mouth every 6 hours as needed for pain.",
            "Tome 2 cápsulas por vía oral cada 6 horas según sea necesario para el dolor.",
        ),
        (
            "1 GTT OU TID X7D",
            "Instill 1 drop in both eyes 3 times daily for 7 days.",
            "Ponga 1 gota en ambos ojos 3 veces al día durante 7 días.",
        ),
        (
            "2 PUFFS INH Q4-6H PRN SOB",
            "Inhale 2 puffs every 4 to 6 hours as needed for shortness of breath.",
            "Inhale 2 inhalaciones cada 4 a 6 horas según sea necesario para la falta de aire.",
        ),
        (
            "10 UNITS SUBQ QHS",
            "Inject 10 units subcutaneously at bedtime.",
            "Inyecte 10 unidades por vía subcutánea al acostarse.",
        ),
        (
            "APP TOP BID",
            "Apply to the skin twice daily.",
            "Aplique sobre la piel dos veces al día.",
        ),
        (
            "1/2 T PO DAILY",
            "Take ½ tablet by mouth once daily.",
            "Tome ½ tableta por vía oral una vez al día.",
        ),
        (
            "1-2 T PO Q4-6H PRN",
            "Take 1 to 2 tablets by mouth every 4 to 6 hours as needed.",
            "Tome 1 a 2 tabletas por vía oral cada 4 a 6 horas según sea necesario.",
        ),
        (
            "5 ML PO TID X10D",
            "Take 5 mL by mouth 3 times daily for 10 days.",
            "Tome 5 mL por vía oral 3 veces al día durante 10 días.",
        ),
        ("UD", "Use as directed.", "Use según las indicaciones."),
    ],
)
def test_it_expands_the_issue_examples_in_english_and_spanish(typed, english, spanish):
    # given the codes a technician types, when expanded, then the label reads
    assert expand(typed).text == english
    assert expand(typed, language="es").text == spanish
    assert expand(typed, language="es").language == "es"


@pytest.mark.parametrize(
    ("typed", "dose", "dose_min", "unit", "per_day", "prn", "max_daily", "days", "sites"),
    [
        ("1 T PO BID", D(1), D(1), "tablet", D(2), False, D(2), None, 1),
        ("2 C PO Q6H PRN PAIN", D(2), D(2), "capsule", D(4), True, D(8), None, 1),
        ("1 GTT OU TID X7D", D(1), D(1), "drop", D(3), False, D(6), 7, 2),
        ("2 PUFFS INH Q4-6H PRN SOB", D(2), D(2), "puff", D(6), True, D(12), None, 1),
        ("10 UNITS SUBQ QHS", D(10), D(10), "unit", D(1), False, D(10), None, 1),
        ("APP TOP BID", None, None, None, D(2), False, None, None, 1),
        ("1/2 T PO DAILY", D("0.5"), D("0.5"), "tablet", D(1), False, D("0.5"), None, 1),
        # §5.1 / §5.7: a range counts at its maximum, 2 tablets every 4 hours = 12 a day
        ("1-2 T PO Q4-6H PRN", D(2), D(1), "tablet", D(6), True, D(12), None, 1),
        ("5 ML PO TID X10D", D(5), D(5), "mL", D(3), False, D(15), 10, 1),
        ("UD", None, None, None, None, False, None, None, 1),
        # §5.2: a teaspoon is 5 mL
        ("1 TSP PO BID", D(5), D(5), "mL", D(2), False, D(10), None, 1),
        ("1 TBSP PO DAILY", D(15), D(15), "mL", D(1), False, D(15), None, 1),
        # §5.1: alendronate weekly; §5.9 fentanyl every 72 hours
        ("1 T PO QWK", D(1), D(1), "tablet", D(1) / D(7), False, D(1) / D(7), None, 1),
        ("1 PATCH TOP Q72H", D(1), D(1), "patch", D(24) / D(72), False, D(1) / D(3), None, 1),
        ("1 T PO EVERY OTHER DAY", D(1), D(1), "tablet", D("0.5"), False, D("0.5"), None, 1),
        ("2 SPRAYS IEN DAILY", D(2), D(2), "spray", D(1), False, D(4), None, 2),
        ("1 T PO BID X2WK", D(1), D(1), "tablet", D(2), False, D(2), 14, 1),
    ],
)
def test_it_gives_the_numbers_days_supply_needs(
    typed, dose, dose_min, unit, per_day, prn, max_daily, days, sites
):
    result = expand(typed)
    assert result.dose == dose
    assert result.dose_min == dose_min
    assert result.dose_unit == unit
    assert result.frequency_per_day == per_day
    assert result.prn is prn
    assert result.max_daily_doses == max_daily
    assert result.duration_days == days
    assert result.site_count == sites


def test_it_prints_whole_numbers_without_an_exponent():
    # given Decimal arithmetic, when 10 units are expanded, then the numbers stay plain
    result = expand("10 UNITS SUBQ QHS")
    assert str(result.dose) == "10"
    assert str(result.max_daily_doses) == "10"


def test_it_expands_the_reference_example_with_glued_codes():
    # §4.2: "1T PO BID X10D PRN PAIN"
    result = expand("1T PO BID X10D PRN PAIN")
    assert result.text == "Take 1 tablet by mouth twice daily for 10 days as needed for pain."
    assert result.canonical == "1 TAB PO BID X10D PRN PAIN"
    assert result.flags == ()


@pytest.mark.parametrize(
    ("typed", "english"),
    [
        ("take 1 tab p.o. b.i.d. with food", "Take 1 tablet by mouth twice daily with food."),
        ("1 C PO BID AC", "Take 1 capsule by mouth twice daily before meals."),
        ("1 T PO DAILY QAM", "Take 1 tablet by mouth once daily in the morning."),
        ("1 T SL", "Place 1 tablet under the tongue."),
        (
            "1 SUPP PR Q12H PRN N/V",
            "Insert 1 suppository rectally every 12 hours as needed for nausea and vomiting.",
        ),
        ("1 PATCH TOP Q72H", "Apply 1 patch to the skin every 72 hours."),
        ("2 SPRAYS IEN DAILY", "Use 2 sprays in each nostril once daily."),
        ("I 1 GTT OS Q1H", "Instill 1 drop in the left eye every hour."),
        ("1 1/2 T PO BID", "Take 1½ tablets by mouth twice daily."),
        ("1 TSP PO BID", "Take 5 mL by mouth twice daily."),
        ("1/2 TSP PO BID", "Take 2.5 mL by mouth twice daily."),
        ("7.5 ML PO BID X10D", "Take 7.5 mL by mouth twice daily for 10 days."),
        ("0.5 ML PO BID", "Take 0.5 mL by mouth twice daily."),
        ("1,000 UNITS SUBQ DAILY", "Inject 1,000 units subcutaneously once daily."),
        ("1000 UNITS SUBQ DAILY", "Inject 1,000 units subcutaneously once daily."),
        ("500 MG PO Q8H X 7 DAYS", "Take 500 mg by mouth every 8 hours for 7 days."),
        ("1 T PO Q3D", "Take 1 tablet by mouth every 3 days."),
        ("1 T PO FOR 5 DAYS BID", "Take 1 tablet by mouth for 5 days twice daily."),
        (
            "1 TO 2 T PO QHS PRN SLEEP",
            "Take 1 to 2 tablets by mouth at bedtime as needed for sleep.",
        ),
        ("INH 2 PUFFS BID", "Inhale 2 puffs twice daily."),
        ("2 PUFFS NEB QID", "Inhale 2 puffs using a nebulizer 4 times daily."),
        ("1 T PO BID PRN AS DIRECTED", "Take 1 tablet by mouth twice daily as needed as directed."),
        ("1 T PO STAT", "Take 1 tablet by mouth right away."),
        ("2 T PO ONCE", "Take 2 tablets by mouth one time only."),
        ("T 1 PO QWK", "Take 1 by mouth once a week."),
        ("BID", "Use twice daily."),
        ("1 T PO BID.", "Take 1 tablet by mouth twice daily."),
        ("1 t po bid", "Take 1 tablet by mouth twice daily."),
        ("  1\tT  PO\nBID ", "Take 1 tablet by mouth twice daily."),
    ],
)
def test_it_expands_common_directions(typed, english):
    assert expand(typed).text == english


def test_it_says_the_daily_limit_in_a_sentence_of_its_own():
    # given a PRN sig with a stated maximum (§5.7 "max 8/day")
    result = expand("1-2 T PO Q4-6H PRN PAIN NTE 8/DAY")
    # then the label carries the limit and the maximum a day is the limit, not 12
    assert result.text == (
        "Take 1 to 2 tablets by mouth every 4 to 6 hours as needed for pain. "
        "Do not take more than 8 tablets in 24 hours."
    )
    assert expand("1-2 T PO Q4-6H PRN PAIN NTE 8/DAY", language="es").text == (
        "Tome 1 a 2 tabletas por vía oral cada 4 a 6 horas según sea necesario para el dolor. "
        "No tome más de 8 tabletas en 24 horas."
    )
    assert result.max_daily_doses == D(8)
    assert result.canonical == "1-2 TAB PO Q4-6H PRN PAIN NTE 8/DAY"


def test_it_uses_use_in_the_limit_for_what_is_not_taken():
    result = expand("2 PUFFS INH Q4H PRN SOB MAX 12 PUFFS PER DAY")
    assert result.text.endswith("Do not use more than 12 puffs in 24 hours.")
    assert result.max_daily_doses == D(12)


@pytest.mark.parametrize(
    "limit", ["NTE 6", "NTE 6 T DAILY", "MAX 6 IN 24H", "MAX 6 TABS PER DAY", "NTE 6/DAY"]
)
def test_a_limit_can_be_typed_several_ways(limit):
    result = expand(f"1 T PO Q4H PRN {limit}")
    assert result.text == (
        "Take 1 tablet by mouth every 4 hours as needed. "
        "Do not take more than 6 tablets in 24 hours."
    )
    assert result.max_daily_doses == D(6)
    assert result.flags == ()


def test_times_of_day_add_up_and_and_adds_to_a_frequency():
    # "in the morning and at bedtime" = 2 a day; "twice daily and at bedtime" = 3
    assert expand("2T PO QAM AND QHS").frequency_per_day == D(2)
    assert expand("2T PO QAM AND QHS").text == (
        "Take 2 tablets by mouth in the morning and at bedtime."
    )
    assert expand("1 T PO BID & QHS").frequency_per_day == D(3)
    assert expand("1 T PO BID & QHS").text == "Take 1 tablet by mouth twice daily and at bedtime."


# --- flags for the pharmacist -------------------------------------------------------------


def test_it_flags_error_prone_abbreviations_but_prints_the_words():
    # given OU (ISMP error-prone), when expanded, then the label says "in both eyes"
    result = expand("1 GTT OU TID X7D")
    assert flag_codes(result) == [SigFlagCode.ERROR_PRONE]
    assert result.flags[0].token == "OU"
    assert "in both eyes" in result.flags[0].message
    assert "OU" not in result.text


@pytest.mark.parametrize(
    ("code", "words"),
    [
        ("OD", "in the right eye"),
        ("OS", "in the left eye"),
        ("AD", "in the right ear"),
        ("AS", "in the left ear"),
        ("AU", "in both ears"),
    ],
)
def test_it_spells_out_eyes_and_ears(code, words):
    result = expand(f"1 GTT {code} BID")
    assert result.text == f"Instill 1 drop {words} twice daily."
    assert flag_codes(result) == [SigFlagCode.ERROR_PRONE]


@pytest.mark.parametrize("code", ["SC", "SQ", "SUBQ"])
def test_it_prefers_subcutaneously_and_flags_sc_sq(code):
    result = expand(f"10 UNITS {code} DAILY")
    assert result.text == "Inject 10 units subcutaneously once daily."
    assert flag_codes(result) == [SigFlagCode.ERROR_PRONE]


def test_subcut_is_not_flagged():
    assert expand("10 UNITS SUBCUT DAILY").flags == ()


def test_it_flags_as_directed_and_ud():
    result = expand("UD")
    assert flag_codes(result) == [SigFlagCode.ERROR_PRONE, SigFlagCode.AS_DIRECTED]
    assert flag_codes(expand("USE AS DIRECTED")) == [SigFlagCode.AS_DIRECTED]


def test_it_keeps_unknown_words_as_typed_and_flags_them():
    # given codes mixed with words, when expanded, then codes expand and words stay
    result = expand("APPLY TO RASH BID")
    assert result.text == "Apply TO RASH twice daily."
    assert flag_codes(result) == [SigFlagCode.FREE_TEXT]
    assert result.flags[0].token == "TO RASH"
    assert "pharmacist's attention" in result.flags[0].message


def test_words_after_prn_say_what_for():
    result = expand("1 T PO BID PRN FOR SEVERE PAIN")
    assert result.text == "Take 1 tablet by mouth twice daily as needed for SEVERE pain."
    assert result.flags[0].token == "SEVERE"
    assert result.prn is True


def test_it_flags_directions_without_a_frequency():
    result = expand("1 T SL Q5MIN PRN CP")
    assert result.text == "Place 1 tablet under the tongue Q5MIN as needed for chest pain."
    assert flag_codes(result) == [SigFlagCode.FREE_TEXT, SigFlagCode.INCOMPLETE]
    assert result.frequency_per_day is None
    assert result.max_daily_doses is None


def test_a_taper_is_expanded_and_left_to_the_pharmacist_with_its_total_days():
    # §5.8: the days of each step add up; the dose changes, so it is not one number
    result = expand("4 T PO DAILY X3D THEN 3 T PO DAILY X3D")
    assert result.text == (
        "Take 4 tablets by mouth once daily for 3 days then 3 tablets by mouth once daily "
        "for 3 days."
    )
    assert flag_codes(result) == [SigFlagCode.COMPLEX]
    assert result.duration_days == 6
    assert (result.dose, result.frequency_per_day, result.max_daily_doses) == (None, None, None)


def test_needs_review_is_true_when_flagged():
    assert expand("1 T PO BID").needs_review is False
    assert expand("UD").needs_review is True


# --- refusals ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "says"),
    [
        ("1 T PO QD", "type DAILY"),
        ("1 T PO q.d.", "type DAILY"),
        ("1 T PO Q1D", "type DAILY"),
        ("1 T PO QOD", "type EVERY OTHER DAY"),
        ("1 T PO Q.O.D.", "type EVERY OTHER DAY"),
        ("10 U SUBQ QHS", "type UNITS"),
        ("10U SUBQ QHS", "type UNITS"),
        ("10 u SUBQ QHS", "type UNITS"),
        ("1000 IU PO DAILY", "type UNITS"),
        ("1000IU PO DAILY", "type UNITS"),
        ("MS 15 MG PO Q4H", "write the drug name in full"),
        ("MSO4 15 MG PO Q4H", "write the drug name in full"),
        ("MgSO4 1 G IV", "write the drug name in full"),
        ("1.0 T", "type 1."),
        ("2.50 ML PO BID", "type 2.5."),
        ("10.0 UNITS SUBQ", "type 10."),
        (".5 T", "type 0.5."),
        ("1 T PO BID X.5D", "type 0.5."),
        ("5 CC PO BID", "type ML or WF"),
        ("SS T PO", "type 1/2"),
        ("1 T PO D/C", "write the word in full"),
        ("2 APAP PO Q6H", "write acetaminophen"),
    ],
)
def test_it_refuses_do_not_use_abbreviations_and_says_what_to_type(typed, says):
    with pytest.raises(SigError) as caught:
        expand(typed)
    assert caught.value.field == "directions"
    assert says in caught.value.message


def test_the_refusal_names_the_rule():
    with pytest.raises(SigError) as caught:
        expand("1 T PO QD")
    assert caught.value.message == (
        "QD is on the Joint Commission 'Do Not Use' list (read as QID, 4 times a day): type DAILY."
    )
    assert caught.value.token == "QD"


def test_a_trailing_zero_is_refused_with_the_number_to_type():
    with pytest.raises(SigError) as caught:
        expand("1.0 T PO BID")
    assert caught.value.message == (
        '"1.0" has a trailing zero, which is read as ten times the dose: type 1.'
    )


def test_a_naked_decimal_is_refused_with_the_number_to_type():
    with pytest.raises(SigError) as caught:
        expand(".5 T PO BID")
    assert caught.value.message == (
        '".5" has no zero before the decimal point, so it is read as 5: type 0.5.'
    )


@pytest.mark.parametrize(
    ("typed", "says"),
    [
        ("", "Type the directions"),
        ("   \n ", "Type the directions"),
        ("0 T PO BID", "a dose of 0 is not a dose"),
        ("0-1 T PO BID", "a dose of 0 is not a dose"),
        ("5000 T PO BID", "more than 50 tablets at a time"),
        ("1001 UNITS SUBQ DAILY", "more than 1,000 units at a time"),
        ("300 TSP PO", "more than 1,000 mL at a time"),
        ("101 PO BID", "more than 100 at a time"),
        ("2-1 T PO BID", "from the smaller to the larger"),
        ("1 T PO BID TID", "two frequencies (BID and TID)"),
        ("1 T PO Q6H DAILY", "two frequencies (Q6H and DAILY)"),
        ("1 T PO BID X7D X10D", "two durations"),
        ("1 T PO OD", 'OD means "in the right eye"'),
        ("1 C PO OU DAILY", "for once daily type DAILY"),
        ("1 1/3 T PO", "halves and quarters"),
        ("1 T PO Q0H", "1 to 72 hours"),
        ("1 T PO Q96H", "1 to 72 hours"),
        ("1 T PO Q6-4H", "shorter interval comes first"),
        ("1 T PO Q1D", "DAILY"),
        ("1 T PO Q120D", "every 2 to 90 days"),
        ("1 T PO DAILY X0D", "1 to 365 days"),
        ("1 T PO DAILY X60WK", "1 to 365 days"),
        ("1 T PO Q4H PRN NTE 0", "A maximum of 0"),
    ],
)
def test_it_refuses_what_cannot_go_on_a_label(typed, says):
    with pytest.raises(SigError) as caught:
        expand(typed)
    assert caught.value.field == "directions"
    assert says in caught.value.message


def test_it_refuses_directions_longer_than_script_allows():
    with pytest.raises(SigError) as caught:
        expand("X" * (MAX_LENGTH + 1))
    assert caught.value.message == "Directions are limited to 1,000 characters."


def test_it_refuses_a_language_without_a_column():
    with pytest.raises(SigError) as caught:
        expand("1 T PO BID", language="fr")
    assert caught.value.field == "language"
    assert caught.value.message == "Directions can be printed in: en, es."


def test_sig_error_is_an_invalid_domain_error_for_the_api():
    # the API maps Invalid to a 422 problem body naming the field
    with pytest.raises(Invalid) as caught:
        expand("1 T PO QD")
    assert caught.value.status == 422
    assert caught.value.errors == [{"field": "directions", "message": caught.value.message}]


# --- the table -----------------------------------------------------------------------------


def test_every_entry_has_text_in_every_language():
    for entry in CODES:
        assert set(entry.text) == set(LANGUAGES), entry.code
        if entry.kind is Kind.FORM:
            assert set(entry.plural) == set(LANGUAGES), entry.code
            assert entry.unit is not None and entry.max_dose is not None, entry.code
    for name, template in TEMPLATES.items():
        assert set(template) == set(LANGUAGES), name


def test_implied_verbs_are_verbs():
    for entry in CODES:
        if entry.verb is not None:
            assert LOOKUP[entry.verb].kind is Kind.VERB, entry.code


def test_every_entry_can_be_typed_unambiguously():
    # the canonical string needs one spelling per entry that the lookup maps back to it
    for entry in CODES:
        assert any(LOOKUP.get(key) is entry for key in (entry.code, *entry.aliases)), entry


def test_no_refused_code_is_also_a_table_code():
    assert not set(REFUSED) & set(LOOKUP)
    assert DO_NOT_USE.issubset(REFUSED)


def _sig_using(entry) -> str:
    """A short, valid sig that uses the entry's code."""
    code = entry.code
    if entry.kind is Kind.VERB:
        return f"{code} 1 DAILY"
    if entry.kind is Kind.FORM:
        return f"1 {code} DAILY"
    if entry.kind in (Kind.ROUTE, Kind.SITE):
        return f"1 {code} DAILY"
    if entry.kind is Kind.TIMING:
        return f"1 T PO {code}"
    if entry.kind is Kind.AS_DIRECTED:
        return code
    if entry.kind in (Kind.FREQUENCY, Kind.TIME_OF_DAY, Kind.PRN):
        return f"1 GTT {code}"
    if entry.kind is Kind.INDICATION:
        return f"1 T PO Q6H PRN {code}"
    return f"1 T PO QAM {code} QHS"  # connectors


@pytest.mark.parametrize("entry", CODES, ids=lambda e: f"{e.kind}-{e.code}")
@pytest.mark.parametrize("language", LANGUAGES)
def test_every_table_code_expands_in_every_language(entry, language):
    result = expand(_sig_using(entry), language=language)
    assert result.text.endswith(".")
    expected = entry.text[language]
    if entry.kind is Kind.FORM:
        expected = entry.text[language] if entry.to_unit == 1 else f"{entry.to_unit} mL"
    if entry.code == "INH":  # "Inhale 1", not "Inhale 1 by inhalation"
        expected = LOOKUP["INHALE"].text[language]
    assert expected.casefold() in result.text.casefold()


@pytest.mark.parametrize("entry", CODES, ids=lambda e: f"{e.kind}-{e.code}")
def test_every_alias_means_its_code(entry):
    for alias in entry.aliases:
        if alias in ("T", "C", "SPRAY") and entry.kind is Kind.FORM:
            continue  # these are forms only after a number (tested below)
        assert LOOKUP[alias] is entry or LOOKUP[alias].code == entry.code, alias


def test_t_is_take_before_a_number_and_tablet_after_one():
    assert expand("T 2 T PO BID").text == "Take 2 tablets by mouth twice daily."
    assert expand("SPRAY 2 SPRAYS IEN BID").text == "Spray 2 sprays in each nostril twice daily."


# --- properties ------------------------------------------------------------------------------

_TRAILING_ZERO = re.compile(r"[0-9]\.[0-9]*0(?![0-9])")
_NAKED_DECIMAL = re.compile(r"(?<![0-9])\.[0-9]")


def _words(text: str) -> set[str]:
    upper = text.upper()
    return set(re.findall(r"[A-Z0-9]+", upper, re.ASCII)) | set(
        re.findall(r"[A-Z]+", upper, re.ASCII)
    )


_numbers = st.one_of(
    st.integers(min_value=0, max_value=1200).map(str),
    st.decimals(min_value=0, max_value=60, places=2, allow_nan=False).map(str),
    st.sampled_from(["1/2", "1/4", "3/4", "1-2", "0.5-1", "1 1/2", "1,000", "2.50", ".5"]),
)
_patterns = st.one_of(
    st.integers(min_value=0, max_value=100).map(lambda n: f"Q{n}H"),
    st.integers(min_value=1, max_value=12).map(lambda n: f"Q{n}-{n + 2}H"),
    st.integers(min_value=0, max_value=400).map(lambda n: f"X{n}D"),
)
_words_typed = st.from_regex(r"[A-Za-z][a-z]{0,7}[,.]?", fullmatch=True)
_token = st.one_of(
    st.sampled_from(sorted(LOOKUP)),
    st.sampled_from(sorted(REFUSED)),
    _numbers,
    _patterns,
    _words_typed,
    st.sampled_from(["NTE", "MAX", "/DAY", "TO", "FOR", "2T", "10UNITS", "5ML"]),
)
sigs = st.lists(_token, min_size=1, max_size=8).map(" ".join)
languages = st.sampled_from(LANGUAGES)


@settings(max_examples=200)
@given(typed=sigs, language=languages)
@example(typed="1 T PO BID", language="en")
@example(typed="2.5 ML PO BID", language="es")
def test_an_expansion_is_always_a_safe_sentence(typed, language):
    # given anything built from codes, numbers and words, when it is accepted, then
    try:
        result = expand(typed, language=language)
    except SigError:
        return
    # no trailing zero, no naked decimal (ISMP rules 1 and 2)
    assert not _TRAILING_ZERO.search(result.text), result.text
    assert not _NAKED_DECIMAL.search(result.text), result.text
    # no Joint Commission "Do Not Use" abbreviation
    assert not _words(result.text) & DO_NOT_USE, result.text
    # one or more full sentences
    assert result.text.endswith(".")
    assert result.text[0] == result.text[0].upper()
    # the numbers are Decimals without float noise
    for value in (result.dose, result.frequency_per_day, result.max_daily_doses):
        assert value is None or isinstance(value, Decimal)


@settings(max_examples=200)
@given(typed=st.text(max_size=60), language=languages)
@example(typed="\x00", language="en")
@example(typed="١.٠ T", language="en")
def test_any_text_gives_a_result_or_a_sig_error(typed, language):
    try:
        result = expand(typed, language=language)
    except SigError as exc:
        assert exc.message
    else:
        assert result.text.endswith(".")


@settings(max_examples=200)
@given(typed=sigs, language=languages)
@example(typed="1 TO 1 1/2 T PO BID", language="en")
@example(typed="SPRAYS", language="en")
@example(typed="NTE 1 A G", language="en")
@example(typed="NTE 1 PER DAY G", language="en")
def test_the_canonical_string_expands_to_the_same_directions(typed, language):
    try:
        result = expand(typed, language=language)
    except SigError:
        return
    again = expand(result.canonical, language=language)
    assert again == expand(result.canonical, language=language)  # deterministic
    assert again.text == result.text
    assert again.canonical == result.canonical
    assert (again.dose, again.frequency_per_day, again.max_daily_doses) == (
        result.dose,
        result.frequency_per_day,
        result.max_daily_doses,
    )
    assert flag_codes(again) == flag_codes(result)


@pytest.mark.parametrize(
    ("typed", "expected", "per_day"),
    [
        ("Take 1 capsule by mouth three times daily", "Take 1 capsule by mouth 3 times daily.", 3),
        ("1 cap po 3 times a day", "Take 1 capsule by mouth 3 times daily.", 3),
        ("1 T PO 4 times daily prn", "Take 1 tablet by mouth 4 times daily as needed.", 4),
        ("2 tabs two times a day", "Take 2 tablets twice daily.", 2),
    ],
)
def test_times_a_day_in_words_or_digits_is_a_frequency_not_a_dose(typed, expected, per_day):
    result = expand(typed)
    assert result.text == expected
    assert result.frequency_per_day == per_day and not result.flags
