"""The catalog of waived tests and how a result is read (pure: no database)."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rxdesk.care import poct_tests as pt
from rxdesk.care.choices import PocInterpretation, PocResult

NUMERIC = [t for t in pt.CATALOG if t.numeric]
QUALITATIVE = [t for t in pt.CATALOG if not t.numeric]


def test_it_lists_the_tests_a_pharmacy_performs_with_their_loinc_codes():
    assert {t.code for t in pt.CATALOG} == {
        "flu_a", "flu_b", "strep_a", "covid_ag", "hba1c", "glucose",
        "chol_total", "hdl", "triglycerides", "inr", "hiv", "hcv",
    }  # fmt: skip
    assert pt.lookup("INR").loinc == "34714-6"
    assert pt.lookup("covid_ag").loinc == "94558-4"
    for t in pt.CATALOG:
        assert re.fullmatch(r"\d{1,7}-\d", t.loinc), t.code
        assert t.specimens
        # LOINC's check digit (mod 10, doubling every other digit from the right)
        digits, check = t.loinc.split("-")
        total = 0
        for i, ch in enumerate(reversed(digits)):
            d = int(ch) * (2 if i % 2 == 0 else 1)
            total += d // 10 + d % 10
        assert (10 - total % 10) % 10 == int(check), t.code


def test_its_values_match_the_models_choices():
    assert set(PocResult.values) == {pt.POSITIVE, pt.NEGATIVE, pt.INVALID, pt.VALUE}
    assert set(PocInterpretation.values) == {
        pt.NORMAL,
        pt.ABNORMAL,
        pt.CRITICAL,
        pt.NOT_INTERPRETED,
    }


def test_an_unknown_test_is_refused():
    with pytest.raises(pt.ResultError) as err:
        pt.lookup("urine_drug")
    assert err.value.field == "test_code"


@pytest.mark.parametrize(
    ("code", "result", "value", "expected"),
    [
        ("strep_a", "negative", None, ("normal", False)),
        ("strep_a", "positive", None, ("abnormal", True)),
        ("covid_ag", "invalid", None, ("", False)),
        ("glucose", "value", Decimal("95"), ("normal", False)),
        ("glucose", "value", Decimal("180"), ("abnormal", True)),
        ("glucose", "value", Decimal("65"), ("abnormal", True)),
        ("glucose", "value", Decimal("50"), ("critical", True)),
        ("glucose", "value", Decimal("400"), ("critical", True)),
        ("inr", "value", Decimal("2.5"), ("normal", False)),
        ("inr", "value", Decimal("1.4"), ("abnormal", True)),
        ("inr", "value", Decimal("5.0"), ("critical", True)),
        ("hba1c", "value", Decimal("5.6"), ("normal", False)),
        ("hba1c", "value", Decimal("5.7"), ("abnormal", True)),
        ("hdl", "value", Decimal("39"), ("abnormal", True)),
        ("triglycerides", "value", Decimal("520"), ("critical", True)),
        ("inr", "invalid", None, ("", False)),
    ],
)
def test_it_interprets_a_result(code, result, value, expected):
    interpretation, follow_up, why = pt.interpret(pt.lookup(code), result, value)
    assert (interpretation, follow_up) == expected
    assert why


def test_a_positive_hiv_or_hcv_screen_is_referred_and_a_positive_strep_is_not():
    assert pt.needs_referral(pt.lookup("hiv"), "positive", "abnormal")
    assert pt.needs_referral(pt.lookup("hcv"), "positive", "abnormal")
    assert not pt.needs_referral(pt.lookup("strep_a"), "positive", "abnormal")
    assert pt.needs_referral(pt.lookup("glucose"), "value", "critical")


@pytest.mark.parametrize(
    ("code", "result", "value", "field"),
    [
        ("strep_a", "value", Decimal("1"), "result"),
        ("strep_a", "positive", Decimal("1"), "value"),
        ("glucose", "positive", None, "result"),
        ("glucose", "value", None, "value"),
        ("glucose", "invalid", Decimal("90"), "value"),
        ("glucose", "value", Decimal("95.5"), "value"),
        ("inr", "value", Decimal("2.55"), "value"),
        ("inr", "value", Decimal("9.0"), "value"),
        ("hba1c", "value", Decimal("3.9"), "value"),
    ],
)
def test_a_result_that_does_not_fit_the_test_is_refused(code, result, value, field):
    with pytest.raises(pt.ResultError) as err:
        pt.interpret(pt.lookup(code), result, value)
    assert err.value.field == field


def test_a_value_outside_the_meter_range_asks_for_a_retest():
    with pytest.raises(pt.ResultError, match="re-test"):
        pt.parse_value(pt.lookup("glucose"), "700")
    with pytest.raises(pt.ResultError, match="number"):
        pt.parse_value(pt.lookup("glucose"), "HI")
    assert pt.parse_value(pt.lookup("inr"), "2.50") == Decimal("2.5")


@st.composite
def reading(draw):
    test = draw(st.sampled_from(NUMERIC))
    low, high = test.plausible
    step = Decimal(1).scaleb(-test.decimals)
    span = int((high - low) / step)
    return test, low + step * draw(st.integers(0, span))


@given(reading())
def test_every_value_in_the_meter_range_is_read(case):
    test, value = case
    interpretation, follow_up, _ = pt.interpret(test, pt.VALUE, value)
    assert interpretation in (pt.NORMAL, pt.ABNORMAL, pt.CRITICAL)
    assert follow_up == (interpretation != pt.NORMAL)


@given(st.sampled_from(NUMERIC), st.decimals(allow_nan=False, allow_infinity=False, places=2))
def test_values_outside_the_meter_range_are_refused(test, value):
    low, high = test.plausible
    if low <= value <= high:
        return
    with pytest.raises(pt.ResultError):
        pt.interpret(test, pt.VALUE, value)


@given(reading(), reading())
def test_interpretation_is_monotonic_away_from_the_reference_range(a, b):
    test_a, x = a
    test_b, y = b
    if test_a is not test_b:
        return
    test = test_a
    lo, hi = sorted((x, y))
    sev = {v: pt.SEVERITY[pt.interpret(test, pt.VALUE, v)[0]] for v in (lo, hi)}
    # Above the reference range, higher is never less severe; below it, lower never is.
    if test.ref_high is not None and lo > test.ref_high:
        assert sev[hi] >= sev[lo]
    if test.ref_low is not None and hi < test.ref_low:
        assert sev[lo] >= sev[hi]
    # Inside the reference range everything reads normal.
    inside_low = test.ref_low is None or lo >= test.ref_low
    inside_high = test.ref_high is None or hi <= test.ref_high
    if inside_low and inside_high:
        assert sev[lo] == sev[hi] == 0


@given(st.sampled_from(QUALITATIVE), st.sampled_from([pt.POSITIVE, pt.NEGATIVE, pt.INVALID]))
def test_a_qualitative_result_needs_follow_up_exactly_when_positive(test, result):
    _, follow_up, _ = pt.interpret(test, result, None)
    assert follow_up == (result == pt.POSITIVE)
