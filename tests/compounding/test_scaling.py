"""Scaling a master formula to the quantity wanted: the worked examples with known answers,
the steps shown with their units, q.s. ingredients, counts, and the quantities refused."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rxdesk.calc.units import UnitError
from rxdesk.compounding.scaling import Ingredient, ScaleError, scale

HC = [
    Ingredient(1, "Hydrocortisone 2.5 % cream", Decimal("50"), "g"),
    Ingredient(2, "Hydrocortisone 0.5 % cream", Decimal("150"), "g"),
]


def _hc(quantity: str, unit: str = "g") -> object:
    return scale(
        batch_quantity=Decimal("200"), batch_unit="g", quantity=quantity, unit=unit, ingredients=HC
    )


def test_half_a_batch_halves_every_ingredient_and_shows_the_work():
    result = _hc("100")

    assert result.factor == Decimal("0.5")
    assert [(i.position, i.quantity, i.unit) for i in result.ingredients] == [
        (1, Decimal("25.0000"), "g"),
        (2, Decimal("75.0000"), "g"),
    ]
    assert result.step_dicts() == [
        {"label": "Scale factor", "expression": "100 g ÷ 200 g", "result": "0.5"},
        {"label": "Hydrocortisone 2.5 % cream", "expression": "50 g × 0.5", "result": "25 g"},
        {"label": "Hydrocortisone 0.5 % cream", "expression": "150 g × 0.5", "result": "75 g"},
    ]


def test_a_quantity_in_another_unit_of_mass_is_converted_first():
    result = _hc("0.1", "kg")

    assert result.factor == Decimal("0.5")
    assert result.steps[0].as_dict() == {
        "label": "Quantity in the batch unit",
        "expression": "0.1 kg = 100 g",
        "result": "100 g",
    }
    assert result.ingredients[0].quantity == Decimal("25")


def test_each_ingredient_is_scaled_exactly_not_from_a_rounded_factor():
    # 100 g of a 300 g batch: a factor of 0.333333 would give 49.99995 g.
    result = scale(
        batch_quantity=Decimal("300"),
        batch_unit="g",
        quantity="100",
        unit="g",
        ingredients=[Ingredient(1, "Base", Decimal("150"), "g")],
    )
    assert result.ingredients[0].quantity == Decimal("50")
    assert result.steps[0].result == "0.333333"


def test_a_count_batch_scales_by_count():
    result = scale(
        batch_quantity=Decimal("1"),
        batch_unit="bag",
        quantity="3",
        unit="bag",
        ingredients=[
            Ingredient(1, "Vancomycin 1 g vial", Decimal("1"), "each"),
            Ingredient(2, "0.9 % sodium chloride", Decimal("250"), "mL"),
        ],
    )
    assert result.factor == 3
    assert [i.shown for i in result.ingredients] == ["3 each", "750 mL"]


def test_a_count_the_unit_registry_does_not_know_scales_by_its_name():
    result = scale(
        batch_quantity=Decimal("100"),
        batch_unit="lollipops",
        quantity="30",
        unit="lollipop",
        ingredients=[Ingredient(1, "Drug", Decimal("200"), "mg")],
    )
    assert result.ingredients[0].shown == "60 mg"


def test_a_qs_ingredient_reads_q_s_to_the_total():
    result = scale(
        batch_quantity=Decimal("100"),
        batch_unit="mL",
        quantity="60",
        unit="mL",
        ingredients=[
            Ingredient(1, "Sildenafil", Decimal("250"), "mg"),
            Ingredient(2, "Ora-Blend", Decimal("100"), "mL", quantity_sufficient=True),
        ],
    )
    step = result.steps[2].as_dict()
    assert step == {
        "label": "Ora-Blend",
        "expression": "100 mL × 0.6 = 60 mL at most",
        "result": "q.s. to 60 mL",
    }
    assert result.ingredients[0].shown == "150 mg"
    assert result.ingredients[1].quantity_sufficient is True


@pytest.mark.parametrize(
    ("quantity", "unit", "field", "words"),
    [
        ("0", "g", "quantity", "more than zero"),
        ("-5", "g", "quantity", "more than zero"),
        ("abc", "g", "quantity", "not a number"),
        ("100", "mL", "unit", "measures something else"),
        ("100", "", "unit", "unit"),
        ("100", "scoops", "unit", "give the quantity in g"),
        ("100", "furlongs", "unit", "measures something else"),
        ("200001", "g", "quantity", "more than 1000 times"),
        ("0.1", "g", "quantity", "less than a thousandth"),
    ],
)
def test_it_refuses_quantities_it_cannot_make(quantity, unit, field, words):
    with pytest.raises(UnitError) as e:
        _hc(quantity, unit)
    assert e.value.field == field
    assert words in e.value.message


def test_the_bounds_themselves_are_allowed():
    assert _hc("200000").factor == 1000
    assert _hc("0.2").factor == Decimal("0.001")


def test_an_ingredient_too_small_to_weigh_is_refused():
    with pytest.raises(ScaleError) as e:
        scale(
            batch_quantity=Decimal("1000"),
            batch_unit="g",
            quantity="1",
            unit="g",
            ingredients=[Ingredient(1, "Trace", Decimal("0.01"), "g")],
        )
    assert e.value.field == "quantity" and "too little to weigh" in e.value.message


@given(
    st.decimals(min_value=Decimal("0.2"), max_value=Decimal("200000"), places=2),
)
def test_the_parts_keep_the_formulas_proportions(wanted):
    result = _hc(str(wanted))
    first, second = (i.quantity for i in result.ingredients)
    assert abs(first + second - wanted) <= Decimal("0.0001")
    assert abs(second - 3 * first) <= Decimal("0.0003")
