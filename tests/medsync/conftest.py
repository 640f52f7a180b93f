"""Medication-sync tests run on a fixed day at the pharmacy (Chicago): Tuesday
01/19/2027, noon; the figures are computed by hand from that day."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine

NOW = dt.datetime(2027, 1, 19, 18, 0, tzinfo=dt.UTC)  # 12:00 in Chicago
TODAY = dt.date(2027, 1, 19)


@pytest.fixture
def clock():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller
