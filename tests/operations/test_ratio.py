"""The pure technician-ratio check: hand-worked cases and properties."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rxdesk.operations import ratio


def test_it_allows_up_to_the_limit():
    result = ratio.check(3, 1, 3)
    assert (result.over, result.allowed) == (False, 3)
    assert result.sentence == "3 technicians · 1 pharmacist · state allows 3 per pharmacist"


def test_it_refuses_one_past_the_limit_with_the_numbers():
    result = ratio.check(3, 1, 2)
    assert result.over is True
    assert result.sentence == (
        "3 technicians would be on duty with 1 pharmacist; the state allows 2 per "
        "pharmacist (2 in all)."
    )


def test_two_pharmacists_double_the_allowance():
    assert ratio.check(6, 2, 3).over is False
    assert ratio.check(7, 2, 3).over is True
    assert ratio.check(7, 2, 3).allowed == 6


def test_no_pharmacist_is_always_flagged_even_without_a_limit():
    result = ratio.check(1, 0, None)
    assert result.over is True
    assert result.sentence == (
        "1 technician would be on duty with no pharmacist; a technician works under a "
        "pharmacist's supervision."
    )


def test_no_limit_allows_any_number_with_a_pharmacist():
    result = ratio.check(12, 1, None)
    assert (result.over, result.allowed) == (False, None)
    assert result.sentence == "12 technicians · 1 pharmacist · no state limit"


def test_nobody_on_duty_is_within():
    assert ratio.check(0, 0, 3).over is False


def test_it_rejects_impossible_input():
    with pytest.raises(ValueError):
        ratio.check(-1, 1, 3)
    with pytest.raises(ValueError):
        ratio.check(1, 1, 0)


@given(
    techs=st.integers(0, 200),
    pharmacists=st.integers(0, 50),
    limit=st.one_of(st.none(), st.integers(1, 20)),
)
def test_over_means_past_limit_times_pharmacists_or_alone(techs, pharmacists, limit):
    result = ratio.check(techs, pharmacists, limit)
    alone = techs > 0 and pharmacists == 0
    past = limit is not None and techs > limit * pharmacists
    assert result.over == (alone or past)
    assert (result.technicians, result.pharmacists, result.limit) == (techs, pharmacists, limit)
    assert str(techs) in result.sentence


@given(
    techs=st.integers(0, 100),
    pharmacists=st.integers(1, 20),
    limit=st.integers(1, 20),
)
def test_one_more_pharmacist_never_makes_it_worse(techs, pharmacists, limit):
    if ratio.check(techs, pharmacists, limit).over is False:
        assert ratio.check(techs, pharmacists + 1, limit).over is False
    if ratio.check(techs, pharmacists, limit).over is False and techs > 0:
        assert ratio.check(techs - 1, pharmacists, limit).over is False
