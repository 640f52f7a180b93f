"""Beyond-use dates of repackaged unit doses and med paks (rxdesk.institutional.repack):
each rule at and around its boundaries, month ends, expired sources, and the property the
issue asks for — never after the source's expiry, never before the repackaging day."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rxdesk.core.errors import Invalid
from rxdesk.institutional.choices import RepackRule
from rxdesk.institutional.repack import add_months, med_pak_bud, repack_bud

D = dt.date
STATE, FDA, CUSTOM = (
    RepackRule.STATE_12_MONTHS,
    RepackRule.FDA_6_MONTHS_25,
    RepackRule.CUSTOM_MONTHS,
)


@pytest.mark.parametrize(
    ("day", "months", "expected"),
    [
        (D(2026, 8, 31), 6, D(2027, 2, 28)),
        (D(2027, 8, 31), 6, D(2028, 2, 29)),
        (D(2026, 1, 31), 1, D(2026, 2, 28)),
        (D(2026, 11, 26), 12, D(2027, 11, 26)),
        (D(2028, 2, 29), 12, D(2029, 2, 28)),
        (D(2026, 12, 15), 1, D(2027, 1, 15)),
    ],
)
def test_months_clamp_to_the_month_end(day, months, expected):
    assert add_months(day, months) == expected


# --- state: 12 months or the expiry -----------------------------------------------------------


def test_state_rule_gives_12_months_when_the_expiry_is_later():
    bud = repack_bud(STATE, 12, D(2026, 11, 26), D(2027, 11, 27))
    assert bud.date == D(2027, 11, 26)
    assert bud.rule_text == "12 months from repackaging (11/26/2027)"


def test_state_rule_at_the_boundary_the_expiry_applies():
    bud = repack_bud(STATE, 12, D(2026, 11, 26), D(2027, 11, 26))
    assert bud.date == D(2027, 11, 26)
    assert bud.rule_text.startswith("the manufacturer's expiry 11/26/2027 comes first")


def test_state_rule_the_expiry_comes_first():
    bud = repack_bud(STATE, 12, D(2026, 11, 26), D(2027, 3, 31))
    assert bud.date == D(2027, 3, 31)
    assert bud.rule_text == (
        "the manufacturer's expiry 03/31/2027 comes first (12 months would be 11/26/2027)"
    )


def test_a_source_expiring_today_may_be_repackaged_for_today_only():
    assert repack_bud(STATE, 12, D(2026, 5, 1), D(2026, 5, 1)).date == D(2026, 5, 1)
    assert repack_bud(FDA, 12, D(2026, 5, 1), D(2026, 5, 1)).date == D(2026, 5, 1)


@pytest.mark.parametrize("rule", [STATE, FDA, CUSTOM])
def test_an_expired_source_is_refused_naming_the_lot(rule):
    with pytest.raises(Invalid) as caught:
        repack_bud(rule, 6, D(2026, 5, 2), D(2026, 5, 1))
    assert caught.value.field == "lot"
    assert "expired on 05/01/2026" in caught.value.message


def test_a_source_without_expiry_is_refused():
    with pytest.raises(Invalid) as caught:
        repack_bud(STATE, 12, D(2026, 5, 2), None)
    assert caught.value.field == "lot"


# --- FDA: 6 months, 25 % of the time left, or the expiry --------------------------------------


def test_fda_rule_six_months_when_the_expiry_is_far():
    # 4 years left: 25 % is a year, so 6 months applies.
    bud = repack_bud(FDA, 12, D(2026, 8, 31), D(2030, 8, 31))
    assert bud.date == D(2027, 2, 28)
    assert bud.rule_text == "6 months from repackaging (02/28/2027)"


def test_fda_rule_quarter_of_the_time_left_when_shorter():
    # 400 days left: 25 % = 100 days.
    start = D(2026, 1, 1)
    bud = repack_bud(FDA, 12, start, start + dt.timedelta(days=400))
    assert bud.date == start + dt.timedelta(days=100)
    assert "25 % of the 400 days left" in bud.rule_text
    assert "100 days" in bud.rule_text


def test_fda_rule_rounds_the_quarter_down():
    start = D(2026, 1, 1)
    assert repack_bud(FDA, 12, start, start + dt.timedelta(days=403)).date == start + (
        dt.timedelta(days=100)
    )


def test_fda_rule_boundary_between_quarter_and_six_months():
    start = D(2026, 1, 1)
    six = D(2026, 7, 1)  # 181 days later
    days = (six - start).days
    at = repack_bud(FDA, 12, start, start + dt.timedelta(days=days * 4))
    assert at.date == six and at.rule_text.startswith("6 months")
    below = repack_bud(FDA, 12, start, start + dt.timedelta(days=days * 4 - 1))
    assert below.date == six - dt.timedelta(days=1)
    assert below.rule_text.startswith("25 %")


# --- custom months ----------------------------------------------------------------------------


def test_custom_rule_uses_the_boards_months():
    bud = repack_bud(CUSTOM, 9, D(2026, 5, 31), D(2030, 1, 1))
    assert bud.date == D(2027, 2, 28)
    assert bud.rule_text == "9 months from repackaging, the board's limit (02/28/2027)"


def test_custom_rule_capped_by_the_expiry():
    bud = repack_bud(CUSTOM, 9, D(2026, 5, 31), D(2026, 12, 1))
    assert bud.date == D(2026, 12, 1)
    assert "expiry 12/01/2026 comes first" in bud.rule_text


@pytest.mark.parametrize("months", [0, 13, None, True])
def test_custom_rule_months_out_of_range_are_refused(months):
    with pytest.raises(Invalid) as caught:
        repack_bud(CUSTOM, months, D(2026, 5, 1), D(2030, 1, 1))
    assert caught.value.field == "repack_months"


def test_an_unknown_rule_is_refused():
    with pytest.raises(Invalid) as caught:
        repack_bud("forever", 12, D(2026, 5, 1), D(2030, 1, 1))
    assert caught.value.field == "repack_rule"


# --- the property -----------------------------------------------------------------------------

days = st.dates(min_value=D(2000, 1, 1), max_value=D(2090, 12, 31))


@given(
    rule=st.sampled_from([STATE, FDA, CUSTOM]),
    months=st.integers(min_value=1, max_value=12),
    repackaged_on=days,
    left=st.integers(min_value=0, max_value=3000),
)
def test_the_bud_is_never_after_the_expiry_nor_before_repackaging(
    rule, months, repackaged_on, left
):
    expiry = repackaged_on + dt.timedelta(days=left)
    bud = repack_bud(rule, months, repackaged_on, expiry)
    assert repackaged_on <= bud.date <= expiry
    assert bud.date <= add_months(repackaged_on, 12)
    if rule == FDA:
        assert bud.date <= add_months(repackaged_on, 6)
        assert (bud.date - repackaged_on).days <= left // 4 or bud.date == expiry
    assert 0 < len(bud.rule_text) <= 300


@given(repackaged_on=days, before=st.integers(min_value=1, max_value=3000))
def test_an_expired_source_is_always_refused(repackaged_on, before):
    with pytest.raises(Invalid):
        repack_bud(STATE, 12, repackaged_on, repackaged_on - dt.timedelta(days=before))


# --- med paks ---------------------------------------------------------------------------------


def test_med_pak_bud_is_60_days_from_preparation():
    bud = med_pak_bud(D(2026, 1, 1), 60, [D(2027, 1, 1), D(2028, 1, 1)])
    assert bud.date == D(2026, 3, 2)
    assert bud.rule_text == "60 days from preparation (03/02/2026)"


def test_med_pak_bud_earliest_expiry_comes_first():
    bud = med_pak_bud(D(2026, 1, 1), 60, [D(2026, 2, 15), D(2026, 2, 10), D(2028, 1, 1)])
    assert bud.date == D(2026, 2, 10)
    assert bud.rule_text.startswith("the earliest manufacturer's expiry 02/10/2026 comes first")


def test_med_pak_bud_at_the_boundary():
    assert med_pak_bud(D(2026, 1, 1), 60, [D(2026, 3, 2)]).date == D(2026, 3, 2)
    assert med_pak_bud(D(2026, 1, 1), 60, [D(2026, 3, 3)]).date == D(2026, 3, 2)


@pytest.mark.parametrize("limit", [0, 61, -1])
def test_med_pak_limit_is_at_most_60_days(limit):
    with pytest.raises(Invalid) as caught:
        med_pak_bud(D(2026, 1, 1), limit, [])
    assert caught.value.field == "med_pak_days"


def test_med_pak_with_an_expired_drug_is_refused():
    with pytest.raises(Invalid) as caught:
        med_pak_bud(D(2026, 1, 2), 60, [D(2026, 1, 1)])
    assert caught.value.field == "items"


@given(
    prepared=days,
    limit=st.integers(min_value=1, max_value=60),
    lefts=st.lists(st.integers(min_value=0, max_value=1000), max_size=6),
)
def test_med_pak_bud_never_past_60_days_nor_an_expiry(prepared, limit, lefts):
    expiries = [prepared + dt.timedelta(days=n) for n in lefts]
    bud = med_pak_bud(prepared, limit, expiries)
    assert prepared <= bud.date <= prepared + dt.timedelta(days=limit)
    assert all(bud.date <= e for e in expiries)
