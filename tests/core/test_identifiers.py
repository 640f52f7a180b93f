"""NPI and DEA registration numbers: check digits, formats and the name-letter warning.

Worked examples come from the project reference (identifiers-labels-math.md §2.1–2.3)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rxdesk.core.identifiers import (
    DEA_FIRST_LETTERS,
    DeaNumber,
    dea_check_digit,
    dea_is_valid,
    dea_name_mismatch,
    dea_parse,
    dea_problem,
    npi_check_digit,
    npi_is_valid,
    npi_problem,
)

DIGITS = "0123456789"

# --- NPI --------------------------------------------------------------------------------------


def test_it_accepts_the_cms_example_npi():
    assert npi_problem("1234567893") is None
    assert npi_is_valid("1234567893") is True


def test_it_computes_the_cms_example_check_digit_with_the_80840_prefix():
    # 1 2 3 4 5 6 7 8 9: doubled 2+6+1+5+9 = 23, undoubled 20, +24 for 80840 -> 67 -> 3
    assert npi_check_digit("123456789") == 3


@pytest.mark.parametrize(
    "npi",
    [
        "1234567890",
        "1234567891",
        "1234567892",
        "1234567894",
        "1234567899",
        "1234567883",  # one digit mistyped
        "1234576893",  # two neighbours swapped (7 <-> 6)
    ],
)
def test_it_refuses_an_npi_with_a_wrong_check_digit(npi):
    assert npi_problem(npi) == "This NPI's check digit is wrong; check for a mistyped digit."
    assert npi_is_valid(npi) is False


@pytest.mark.parametrize(
    "npi",
    [
        "",
        "123456789",  # 9 digits
        "12345678930",  # 11 digits
        "123456789A",
        "12345-6789",
        " 1234567893",
        "1234567893 ",
        "１２３４５６７８９３",  # full-width digits: str.isdigit() says yes, an NPI says no
        "١٢٣٤٥٦٧٨٩٣",  # Arabic-Indic digits
    ],
)
def test_it_refuses_an_npi_that_is_not_ten_ascii_digits(npi):
    assert npi_problem(npi) == "An NPI is exactly 10 digits."
    assert npi_is_valid(npi) is False


@pytest.mark.parametrize("first", "03456789")
def test_it_refuses_an_npi_that_does_not_start_with_1_or_2_even_with_a_good_check_digit(first):
    nine = first + "23456789"
    npi = nine + str(npi_check_digit(nine))
    assert npi_problem(npi) == "An NPI starts with 1 (a person) or 2 (an organization)."


def test_it_accepts_an_organization_npi_starting_with_2():
    nine = "234567890"
    npi = nine + str(npi_check_digit(nine))
    assert npi_problem(npi) is None


def test_it_refuses_a_non_string_npi():
    assert npi_problem(1234567893) == "An NPI is exactly 10 digits."  # type: ignore[arg-type]


valid_npis = st.builds(
    lambda first, rest: first + rest + str(npi_check_digit(first + rest)),
    st.sampled_from("12"),
    st.text(alphabet=DIGITS, min_size=8, max_size=8),
)


@settings(max_examples=300)
@given(npi=valid_npis)
def test_it_catches_every_single_digit_substitution_in_an_npi(npi):
    # Given a valid NPI
    assert npi_is_valid(npi)
    # When any one position is changed to any other digit
    for position in range(10):
        for digit in DIGITS:
            if digit == npi[position]:
                continue
            mutated = npi[:position] + digit + npi[position + 1 :]
            # Then the Luhn check itself fails: doubling-and-folding maps 0-9 one-to-one
            # onto 0-9, so a single substituted digit always changes the sum mod 10.
            assert npi_check_digit(mutated[:9]) != int(mutated[9]), (npi, mutated)
            assert npi_is_valid(mutated) is False


# --- DEA --------------------------------------------------------------------------------------


@pytest.mark.parametrize("dea", ["AB1234563", "BJ6125341"])
def test_it_accepts_the_reference_dea_examples(dea):
    assert dea_problem(dea) is None
    assert dea_parse(dea) == DeaNumber(number=dea, suffix="")


def test_it_computes_the_reference_dea_check_digits():
    # 1+3+5 + 2*(2+4+6) = 33 -> 3 ; 6+2+3 + 2*(1+5+4) = 31 -> 1
    assert dea_check_digit("123456") == 3
    assert dea_check_digit("612534") == 1


def test_it_refuses_the_reference_dea_counter_example():
    # 3+1+8 + 2*(4+8+2) = 40 -> 0, not 6
    assert dea_problem("MS3418826") == (
        "This DEA number's check digit is wrong; check for a mistyped digit."
    )
    assert dea_is_valid("MS3418826") is False


def test_it_splits_off_an_institutional_suffix_before_the_checksum():
    parsed = dea_parse("AB1234563-045A")
    assert parsed == DeaNumber(number="AB1234563", suffix="045A")
    assert parsed.registrant_letter == "A"
    assert parsed.name_letter == "B"
    # the suffix does not rescue a bad base number
    assert dea_problem("AB1234564-045A") == (
        "This DEA number's check digit is wrong; check for a mistyped digit."
    )


def test_it_refuses_a_suffix_that_is_not_letters_and_digits():
    assert dea_problem("AB1234563-04/5") == (
        "The institutional suffix after the hyphen must be letters and digits."
    )
    assert dea_problem("AB1234563-ABCDEFGHIJK") == (
        "The institutional suffix after the hyphen must be letters and digits."
    )


def test_it_normalizes_case_and_spaces():
    assert dea_parse("  ab 1234563 ") == DeaNumber(number="AB1234563")


@pytest.mark.parametrize("letter", sorted(set("ABCDEFGHIJKLMNOPQRSTUVWXYZ") - DEA_FIRST_LETTERS))
def test_it_refuses_a_first_letter_that_is_no_registrant_type(letter):
    assert dea_problem(f"{letter}B1234563") == f"A DEA number cannot start with {letter!r}."


@pytest.mark.parametrize("letter", ["A", "B", "F", "G", "M", "P", "R", "X"])
def test_it_accepts_the_reference_registrant_letters(letter):
    assert dea_problem(f"{letter}B1234563") is None


@pytest.mark.parametrize(
    "dea",
    [
        "",
        "9B1234563",  # a digit cannot be the registrant letter
        "A11234563",  # the second place is a letter or 9, not another digit
        "AB123456",  # six digits
        "AB12345633",  # eight digits
        "ABC123456",
        "AB12345６3",  # a full-width digit
        "ÅB1234563",
    ],
)
def test_it_refuses_a_malformed_dea_number(dea):
    assert dea_problem(dea) == "A DEA number is two letters and seven digits, like AB1234563."


def test_it_accepts_9_as_the_business_name_letter():
    six = "123456"
    dea = f"F9{six}{dea_check_digit(six)}"
    assert dea == "F91234563"
    assert dea_problem(dea) is None
    assert dea_name_mismatch(dea, "Smith") is None


@pytest.mark.parametrize(
    ("dea", "last_name"),
    [
        ("BJ6125341", "Jones"),
        ("BJ6125341", "jones"),
        ("BJ6125341", "  Jones-Smith"),
        ("BO1234563", "O'Brien"),
        ("AB1234563-045A", "Baker"),
        ("AB1234563", ""),  # nothing to compare with: no warning
    ],
)
def test_it_does_not_warn_when_the_second_letter_matches_the_last_name(dea, last_name):
    assert dea_name_mismatch(dea, last_name) is None


def test_it_warns_without_blocking_when_the_second_letter_differs_from_the_last_name():
    warning = dea_name_mismatch("BJ6125341", "Smith")
    assert warning == (
        "The DEA number's second letter J does not match the last name 'Smith'; "
        "confirm the registration."
    )
    assert dea_is_valid("BJ6125341") is True  # a warning, never a refusal


def test_it_raises_on_a_name_check_of_an_invalid_dea_number():
    with pytest.raises(ValueError, match="check digit is wrong"):
        dea_name_mismatch("MS3418826", "Smith")


valid_deas = st.builds(
    lambda first, second, six: f"{first}{second}{six}{dea_check_digit(six)}",
    st.sampled_from(sorted(DEA_FIRST_LETTERS)),
    st.sampled_from("ABCDEFGHIJKLMNOPQRSTUVWXYZ9"),
    st.text(alphabet=DIGITS, min_size=6, max_size=6),
)

# Indexes in the 9-character number of d2, d4, d6: the digits the checksum counts twice
# (d1, d3, d5 at 2, 4, 6 count once; d7 at index 8 is the check digit itself).
_WEIGHT_TWO = {3, 5, 7}


@settings(max_examples=300)
@given(dea=valid_deas)
def test_it_catches_exactly_the_single_digit_substitutions_the_dea_checksum_can_see(dea):
    """What the DEA checksum guarantees, no more:

    * a change of the check digit (d7) is always caught: only one value fits;
    * a change of a weight-1 digit (d1, d3, d5) moves the sum by 1..9 (mod 10): always caught;
    * a change of a weight-2 digit (d2, d4, d6) moves the sum by 2 * delta, which is 0 mod 10
      when |delta| == 5 (e.g. 2 <-> 7): those substitutions are NOT caught; every other one is.
    """
    assert dea_is_valid(dea)
    for position in range(2, 9):
        old = int(dea[position])
        for new in range(10):
            if new == old:
                continue
            mutated = dea[:position] + str(new) + dea[position + 1 :]
            undetectable = position in _WEIGHT_TWO and abs(new - old) == 5
            assert dea_is_valid(mutated) is undetectable, (dea, mutated)


def test_it_misses_a_change_by_five_in_a_weight_two_position_as_the_algorithm_predicts():
    # AB1234563 -> d2 2 becomes 7: the sum moves by 2*5 = 10, the check digit still fits.
    assert dea_is_valid("AB1734563") is True
    # ...while the same change in a weight-1 position is caught.
    assert dea_is_valid("AB6234563") is False
