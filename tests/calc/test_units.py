"""The pint registry of pharmacy units: conversions against the reference's table
(identifiers-labels-math.md §6.13, problem 22), the pharmacy units rxdesk adds (mEq, units,
gtt, mOsm, the 2.2 lb/kg pound), half-up display rounding at any size, and refusals that
name the field."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rxdesk.calc import units
from rxdesk.calc.units import UnitError

D = Decimal


@pytest.mark.parametrize(
    ("value", "source", "target", "expected"),
    [
        ("1", "g", "mg", "1000"),
        ("1", "mg", "mcg", "1000"),
        ("1", "L", "mL", "1000"),
        ("1", "in", "cm", "2.54"),
        ("1", "lb", "g", "453.59237"),
        ("1", "fluid_ounce", "mL", "29.5735295625"),
        ("1", "grain", "mg", "64.79891"),
        ("250", "mcg", "mg", "0.25"),
        ("90", "min", "h", "1.5"),
    ],
)
def test_it_converts_as_the_reference_table_says(value, source, target, expected):
    assert units.convert(value, source, target) == D(expected)


def test_problem_22_grains():
    # Aspirin 5 gr = 324 mg exact (labeled 325 mg); ¼ gr phenobarbital → 16.2 mg exact
    # (labeled 15 mg on the 60 mg/gr basis: a labeling convention, not a conversion).
    assert units.rounded(units.convert(5, "grain", "mg"), 0) == D(324)
    assert units.rounded(units.convert("0.25", "grain", "mg"), 1) == D("16.2")


def test_the_textbook_pound_is_2_2_per_kg():
    assert units.convert(44, "lb_2_2", "kg") == D(20)
    assert units.rounded(units.convert(44, "lb", "kg"), 3) == D("19.958")


def test_pharmacy_units_are_their_own_dimensions():
    # mEq, USP units, drops and osmoles never convert to a mass or a volume.
    for unit in ("mEq", "units", "gtt", "mOsm"):
        assert units.known_unit(unit)
        assert not units.same_dimension(unit, "mg")
        assert not units.same_dimension(unit, "mL")
    assert units.convert(1, "Osm", "mOsm") == D(1000)
    assert units.convert(15, "gtt/mL", "gtt/L") == D(15000)


def test_temperatures_convert_with_their_offsets():
    assert units.rounded(units.convert(8, "degC", "degF"), 2) == D("46.4")
    assert units.rounded(units.convert(77, "degF", "degC"), 2) == D(25)


def test_billing_quantity_takes_the_ledgers_units():
    assert units.billing_quantity(500, "mg", "GM") == D("0.5")
    assert units.billing_quantity("0.25", "L", "ML") == D(250)
    with pytest.raises(UnitError) as caught:
        units.billing_quantity(5, "mL", "GM", field="quantity")
    assert caught.value.field == "quantity"


def test_show_rounds_half_up_and_drops_trailing_zeros():
    assert units.show(D("2.345"), "mL", 2) == "2.35 mL"  # round() would give 2.34
    assert units.show(D("2.5"), "mL", 0) == "3 mL"
    assert units.show(D("10.50"), "mg") == "10.5 mg"
    assert units.show(D(1000)) == "1000"


def test_rounded_never_fails_on_a_large_number():
    # Python's default 28-digit context cannot quantize 1e40 to 4 places; rounded widens it.
    assert units.rounded(D("1e40"), 4) == D("1e40")
    assert units.rounded(D("12345678901234567890123456789.55"), 1) == D(
        "12345678901234567890123456789.6"
    )


@pytest.mark.parametrize(
    "text", ["", "glorbs", "2 mg", "mg/mL)", "(", "__import__", "1/0", "kg" * 20]
)
def test_it_refuses_an_unknown_unit_naming_the_field(text):
    with pytest.raises(UnitError) as caught:
        units.unit_of(text, field="dose_unit")
    assert caught.value.field == "dose_unit"


@pytest.mark.parametrize("value", ["abc", "NaN", "Infinity", "-inf", ""])
def test_it_refuses_what_is_not_a_finite_number(value):
    with pytest.raises(UnitError) as caught:
        units.quantity(value, "mg", field="dose")
    assert caught.value.field == "dose"


def test_it_refuses_converting_across_dimensions():
    with pytest.raises(UnitError) as caught:
        units.convert(5, "mg", "mL", field="amount")
    assert caught.value.field == "amount"


def test_a_step_is_a_plain_dict_for_the_api():
    step = units.Step("Volume", "375 mg × 5 mL ÷ 250 mg", "7.5 mL")
    assert step.as_dict() == {
        "label": "Volume",
        "expression": "375 mg × 5 mL ÷ 250 mg",
        "result": "7.5 mL",
    }


@settings(max_examples=100, deadline=None)
@given(mg=st.decimals(min_value=D("0.001"), max_value=D(10**9), places=3))
def test_mass_round_trip(mg):
    assert units.convert(units.convert(mg, "mg", "g"), "g", "mg") == mg
