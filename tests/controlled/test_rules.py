"""The DEA record rules at their exact thresholds: the 1,000-unit counting rule, Form 106
deadlines over weekends and federal holidays, Form 222 validity."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rxdesk.controlled.rules import (
    CountMethod,
    add_business_days,
    count_method,
    federal_holidays,
    form_106_deadlines,
    form_222_expires_on,
    is_business_day,
)
from rxdesk.core.errors import Invalid


@pytest.mark.parametrize(
    ("schedule", "opened", "units", "solid", "method"),
    [
        ("2", False, 100, True, CountMethod.SEALED),
        ("4", False, 5000, True, CountMethod.SEALED),
        ("2", True, 100, True, CountMethod.EXACT),
        ("CII", True, 5, False, CountMethod.EXACT),  # a C-II liquid: measured exactly
        ("2N", True, 100, True, CountMethod.EXACT),
        ("3", True, 1000, True, CountMethod.ESTIMATE),  # 1,000 may be estimated
        ("3", True, 1001, True, CountMethod.EXACT),  # 1,001 may not
        ("C-IV", True, Decimal("1000.000"), True, CountMethod.ESTIMATE),
        ("IV", True, 1001, True, CountMethod.EXACT),
        ("5", True, 1001, True, CountMethod.EXACT),
        ("3N", True, 1001, False, CountMethod.ESTIMATE),  # a 1,001 mL bottle: estimated
        ("CV", True, 480, False, CountMethod.ESTIMATE),
    ],
)
def test_the_counting_rule_of_a_container(schedule, opened, units, solid, method):
    found = count_method(schedule=schedule, opened=opened, units_in_container=units, solid=solid)
    assert found is method


@pytest.mark.parametrize(
    ("schedule", "units", "field"),
    [
        ("", 10, "schedule"),
        ("1", 10, "schedule"),
        ("6", 10, "schedule"),
        ("4", 0, "units_in_container"),
    ],
)
def test_a_bad_schedule_or_container_names_the_field(schedule, units, field):
    with pytest.raises(Invalid) as error:
        count_method(schedule=schedule, opened=True, units_in_container=units, solid=True)
    assert error.value.field == field


def test_the_federal_holidays_of_2026_with_their_observed_days():
    assert sorted(federal_holidays(2026)) == [
        dt.date(2026, 1, 1),
        dt.date(2026, 1, 19),  # MLK: 3rd Monday
        dt.date(2026, 2, 16),  # Washington's Birthday
        dt.date(2026, 5, 25),  # Memorial Day: last Monday
        dt.date(2026, 6, 19),
        dt.date(2026, 7, 3),  # 4 July is a Saturday: observed Friday
        dt.date(2026, 9, 7),
        dt.date(2026, 10, 12),
        dt.date(2026, 11, 11),
        dt.date(2026, 11, 26),  # Thanksgiving: 4th Thursday
        dt.date(2026, 12, 25),
    ]
    # 1 January 2028 is a Saturday: observed on Friday 31 December 2027.
    assert dt.date(2027, 12, 31) in federal_holidays(2027)
    assert dt.date(2028, 1, 1) not in federal_holidays(2028)
    assert dt.date(2020, 6, 19) not in federal_holidays(2020)  # Juneteenth from 2021


@pytest.mark.parametrize(
    ("discovered", "notify_by"),
    [
        (dt.date(2026, 11, 23), dt.date(2026, 11, 24)),  # Monday -> Tuesday
        (dt.date(2026, 11, 25), dt.date(2026, 11, 27)),  # Wednesday -> Friday (Thanksgiving)
        (dt.date(2026, 11, 27), dt.date(2026, 11, 30)),  # Friday -> Monday
        (dt.date(2026, 11, 28), dt.date(2026, 11, 30)),  # found on a Saturday -> Monday
        (dt.date(2026, 7, 2), dt.date(2026, 7, 6)),  # Thursday -> Monday (4 July observed Fri)
    ],
)
def test_a_theft_or_loss_is_notified_within_one_business_day(discovered, notify_by):
    deadlines = form_106_deadlines(discovered)
    assert deadlines.notify_by == notify_by
    assert deadlines.complete_by == discovered + dt.timedelta(days=45)


def test_a_form_222_is_valid_60_days():
    assert form_222_expires_on(dt.date(2026, 11, 26)) == dt.date(2027, 1, 25)


@given(st.dates(min_value=dt.date(2000, 1, 1), max_value=dt.date(2100, 1, 1)), st.integers(0, 30))
def test_business_days_are_weekdays_and_not_holidays(day, count):
    later = add_business_days(day, count)
    assert later >= day
    if count:
        assert is_business_day(later)
        between = [day + dt.timedelta(days=i) for i in range(1, (later - day).days + 1)]
        assert sum(is_business_day(d) for d in between) == count
