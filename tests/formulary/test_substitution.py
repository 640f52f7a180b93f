"""The pure substitution rules (DAW codes, ranking) and dose conversion."""

from __future__ import annotations

import itertools
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rxdesk.catalog.queries import strength_amounts
from rxdesk.formulary import conversion, substitution
from rxdesk.formulary.substitution import Candidate


@pytest.mark.parametrize(
    ("code", "offer", "words"),
    [
        (0, True, "No product selection indicated"),
        (1, False, "prescriber wrote 'dispense as written'"),
        (2, False, "patient asked for the product"),
        (3, True, "pharmacist selects"),
        (4, True, "not in stock"),
        (5, True, "brand is dispensed as a generic"),
        (6, True, "override"),
        (7, False, "required by law"),
        (8, False, "no generic is on the market"),
        (9, False, "plan asks for the brand"),
    ],
)
def test_it_says_for_each_daw_code_whether_to_offer_and_why(code, offer, words):
    rule = substitution.daw_rule(code)
    assert (rule.code, rule.offer) == (code, offer)
    assert words in rule.reason


@pytest.mark.parametrize("code", [-1, 10, 99])
def test_it_refuses_a_daw_code_outside_0_to_9(code):
    with pytest.raises(ValueError, match="not 0 to 9"):
        substitution.daw_rule(code)


@pytest.mark.parametrize(
    ("te", "rated"),
    [("AB", True), ("AB1,AB2", True), ("AA", True), ("BX", False), ("", False), ("BC, AB", True)],
)
def test_only_a_codes_are_a_rated(te, rated):
    assert substitution.a_rated(te) is rated


def _c(pid: int, **kw: object) -> Candidate:
    values: dict[str, object] = {"product_id": pid, "name": f"P{pid}", "te_code": "AB"}
    values.update(kw)
    return Candidate(**values)  # type: ignore[arg-type]


def test_it_ranks_formulary_then_stock_then_cost():
    ranked = substitution.rank(
        [
            _c(1, formulary_status="", on_hand=Decimal(100), unit_cost=Decimal("0.01")),
            _c(2, formulary_status="formulary", on_hand=Decimal(0), unit_cost=Decimal("0.05")),
            _c(3, formulary_status="formulary", on_hand=Decimal(5), unit_cost=Decimal("0.40")),
            _c(4, formulary_status="formulary", on_hand=Decimal(5), unit_cost=Decimal("0.20")),
            _c(5, formulary_status="preferred", on_hand=Decimal(0), unit_cost=None),
            _c(6, formulary_status="non_formulary", on_hand=Decimal(50), unit_cost=Decimal(0)),
            _c(7, formulary_status="formulary", on_hand=Decimal(5), unit_cost=None),
            _c(8, te_code="BX", formulary_status="preferred", on_hand=Decimal(9)),
        ]
    )
    assert [c.product_id for c in ranked] == [5, 4, 3, 7, 2, 1, 6]


def test_nothing_is_offered_when_the_daw_code_forbids_it():
    candidates = [_c(1), _c(2)]
    assert substitution.offered(1, candidates) == []
    assert [c.product_id for c in substitution.offered(0, candidates)] == [1, 2]


statuses = st.sampled_from(["preferred", "formulary", "restricted", "", "non_formulary"])
candidates = st.builds(
    Candidate,
    product_id=st.integers(1, 10_000),
    name=st.text(max_size=8),
    te_code=st.sampled_from(["AB", "AB1", "AA", "BX", "BC", ""]),
    formulary_status=statuses,
    on_hand=st.decimals(min_value=0, max_value=10_000, places=3),
    unit_cost=st.none() | st.decimals(min_value=0, max_value=1000, places=4),
)


@given(st.lists(candidates, max_size=25), st.integers(0, 9))
def test_ranking_keeps_every_a_rated_candidate_and_orders_by_the_rules(found, daw):
    ranked = substitution.offered(daw, found)
    if not substitution.daw_rule(daw).offer:
        assert ranked == []
        return
    a_rated = [c for c in found if substitution.a_rated(c.te_code)]
    assert sorted(map(id, ranked)) == sorted(map(id, a_rated))
    for before, after in itertools.pairwise(ranked):
        rb = substitution.STATUS_RANK[before.formulary_status]
        ra = substitution.STATUS_RANK[after.formulary_status]
        assert rb <= ra
        if rb == ra:
            assert before.in_stock or not after.in_stock
            if before.in_stock == after.in_stock and None not in (
                before.unit_cost,
                after.unit_cost,
            ):
                assert before.unit_cost <= after.unit_cost  # type: ignore[operator]


# --- dose conversion --------------------------------------------------------------------------


def test_the_table_wins_where_it_lists_the_strength():
    got = conversion.convert(
        "20 mg/1",
        ratio=Decimal(3),
        table=[{"from": "20MG", "to": "40 mg"}],
        amounts=strength_amounts,
    )
    assert (got.to_strength, got.how) == ("40 mg", "table")


def test_the_ratio_converts_other_strengths_exactly():
    got = conversion.convert(
        "12.5 mg/1",
        ratio=Decimal("0.5"),
        table=[{"from": "20 mg", "to": "40 mg"}],
        amounts=strength_amounts,
    )
    assert (got.from_strength, got.to_strength, got.how) == ("12.5 mg/1", "6.25 mg", "ratio")


def test_no_table_row_and_no_ratio_converts_nothing():
    got = conversion.convert("10 mg/1", ratio=None, table=[], amounts=strength_amounts)
    assert (got.to_strength, got.how) == ("", "")


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ("20 mg", "list of from/to"),
        ([{"from": "20 mg"}], "Row 1: give a from strength and a to strength"),
        ([{"from": "twenty", "to": "forty"}], "Row 1: a strength is a number and a unit"),
        (["x"], "Row 1"),
    ],
)
def test_a_bad_table_is_named(rows, message):
    with pytest.raises(ValueError, match=message):
        conversion.table_rows(rows)


@given(
    st.decimals(min_value="0.001", max_value=1000, places=3),
    st.decimals(min_value="0.01", max_value=10, places=2),
)
def test_the_ratio_never_rounds(amount, ratio):
    got = conversion.convert(f"{amount} mg/1", ratio=ratio, table=[], amounts=strength_amounts)
    assert Decimal(got.to_strength.split()[0]) == amount * ratio
