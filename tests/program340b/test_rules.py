"""The pure 340B logic: entity types, look-back months, package accumulation and FIFO
allocation (exact, no rounding drift), the eligibility decision and its reasons."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rxdesk.program340b import rules

D = Decimal


def test_it_reads_the_entity_type_from_the_340b_id():
    assert rules.entity_type_of("DSH140001") == "DSH"
    assert rules.entity_type_of("cah051234") == "CAH"
    assert rules.entity_type_of("CH12345") == "CH"
    assert rules.entity_type_of("XYZ12345") == ""
    assert rules.entity_type_of("DSH") == ""


@pytest.mark.parametrize(
    ("day", "months", "expected"),
    [
        (dt.date(2026, 3, 31), 1, dt.date(2026, 2, 28)),
        (dt.date(2024, 3, 31), 1, dt.date(2024, 2, 29)),
        (dt.date(2026, 1, 15), 12, dt.date(2025, 1, 15)),
        (dt.date(2026, 1, 31), 2, dt.date(2025, 11, 30)),
    ],
)
def test_it_counts_months_back_clamped_to_the_month_end(day, months, expected):
    assert rules.months_back(day, months) == expected


def test_ten_fills_of_3_3_ml_make_exactly_one_33_ml_package():
    units = sum([D("3.3")] * 10, D(0))
    assert rules.packages_due(units, D("33")) == (1, D("0.0"))


def test_the_remainder_carries_over_and_nothing_is_due_while_owed_back():
    assert rules.packages_due(D("95"), D("30")) == (3, D("5"))
    assert rules.packages_due(D("29.999"), D("30")) == (0, D("29.999"))
    assert rules.packages_due(D("-12"), D("30")) == (0, D("-12"))


@given(
    st.lists(
        st.decimals(min_value=D("0.001"), max_value=D("999"), places=3), min_size=1, max_size=40
    ),
    st.decimals(min_value=D("0.5"), max_value=D("500"), places=3),
)
def test_packages_and_remainder_add_back_to_the_units_exactly(quantities, size):
    units = sum(quantities, D(0))
    due, rest = rules.packages_due(units, size)
    assert due * size + rest == units
    assert D(0) <= rest < size


def test_fifo_takes_the_oldest_rows_first_and_splits_the_last():
    rows = [(1, D("10")), (2, D("0")), (3, D("7.5")), (4, D("20"))]
    assert rules.fifo_allocate(rows, D("25")) == [
        rules.Slice(1, D("10")),
        rules.Slice(3, D("7.5")),
        rules.Slice(4, D("7.5")),
    ]
    with pytest.raises(ValueError):
        rules.fifo_allocate(rows, D("38"))


@given(
    st.lists(st.decimals(min_value=D("0.001"), max_value=D("100"), places=3), max_size=20),
    st.decimals(min_value=D("0.001"), max_value=D("2000"), places=3),
)
def test_fifo_allocates_exactly_what_was_asked_or_refuses(opens, units):
    rows = list(enumerate(opens, start=1))
    try:
        slices = rules.fifo_allocate(rows, units)
    except ValueError:
        assert sum(opens, D(0)) < units
        return
    assert sum((s.units for s in slices), D(0)) == units
    available = dict(rows)
    assert all(D(0) < s.units <= available[s.row_id] for s in slices)


def _facts(**over):
    values = {
        "day": dt.date(2026, 5, 10),
        "entity_active": True,
        "prescriber_npi": "1234567893",
        "prescriber_listed": True,
        "patient_listed": False,
        "last_encounter": dt.date(2025, 5, 10),
        "lookback_months": 12,
        "plan_name": "State Medicaid FFS",
        "payer_action": "",
        "ndc11": "00002322730",
        "ndc_excluded": False,
    }
    values.update(over)
    return rules.Facts(**values)


def test_an_encounter_exactly_at_the_look_back_edge_counts_and_one_day_older_does_not():
    assert rules.decide(_facts()).eligible
    older = rules.decide(_facts(last_encounter=dt.date(2025, 5, 9)))
    assert not older.eligible
    assert older.summary() == (
        "Not eligible: No encounter at the entity since 05/10/2025 and not on the patient list"
    )


def test_every_rule_keeps_its_reason():
    decision = rules.decide(
        _facts(prescriber_listed=False, payer_action="exclude", ndc_excluded=True)
    )
    assert [(r["rule"], r["passed"]) for r in decision.reasons()] == [
        ("entity", True),
        ("prescriber", False),
        ("patient", True),
        ("payer", False),
        ("ndc", False),
    ]
    assert decision.reasons()[3]["detail"] == "Plan State Medicaid FFS is carved out"


def test_a_cash_sale_and_a_plan_billed_as_340b_pass_the_payer_rule():
    assert rules.decide(_facts(plan_name="")).checks[3].detail == "Cash sale: no payer carve-out"
    marked = rules.decide(_facts(payer_action="bill_340b"))
    assert marked.eligible
    assert marked.checks[3].detail == "Plan State Medicaid FFS: billed as 340B (SCC 20)"


def test_units_read_without_trailing_zeros():
    assert [rules.units_text(D(v)) for v in ("33.000", "3.300", "0.000", "-18.000")] == [
        "33",
        "3.3",
        "0",
        "-18",
    ]
