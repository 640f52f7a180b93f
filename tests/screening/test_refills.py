"""Early refill (ER) and late refill (LR) from the fill history (§7.5)."""

from __future__ import annotations

import datetime as dt

from hypothesis import given
from hypothesis import strategies as st

from rxdesk.screening.checks import refills
from rxdesk.screening.types import Context, Drug, Ingredient, Patient, Severity

MARCH_1 = dt.date(2026, 3, 1)


def fill(name: str, *, on: dt.date | None, days: int | None, rx: int | None = 7, **kw) -> Drug:
    return Drug(
        label=f"{name} tablet",
        ingredients=(Ingredient(name),),
        last_filled=on,
        days_supply=days,
        prescription_id=rx,
        **kw,
    )


def screen(today: dt.date, proposed: Drug, profile: list[Drug]) -> list:
    return refills.check(Context(Patient(), tuple(profile), proposed, today))


def test_reference_worked_example_30_days_at_80_percent():
    # 30-day fill on 1 March at 80 % → due 25 March.
    assert refills.eligible_date(MARCH_1, 30, refills.EARLY_FRACTION) == dt.date(2026, 3, 25)
    prev = fill("lisinopril", on=MARCH_1, days=30)
    new = fill("lisinopril", on=None, days=30)
    (alert,) = screen(dt.date(2026, 3, 24), new, [prev])
    assert alert.type == "ER"
    assert alert.severity == Severity.MODERATE
    assert "Not due until 2026-03-25" in alert.message
    assert alert.key == "refill.early|lisinopril"
    assert screen(dt.date(2026, 3, 25), new, [prev]) == []


def test_controlled_substances_use_90_percent():
    prev = fill("alprazolam", on=MARCH_1, days=30, schedule="CIV")
    new = fill("alprazolam", on=None, days=30, schedule="CIV")
    (alert,) = screen(dt.date(2026, 3, 27), new, [prev])  # 26 days: 87 %
    assert alert.severity == Severity.MODERATE
    assert "controlled substance" in alert.message
    assert screen(dt.date(2026, 3, 28), new, [prev]) == []  # day 27 = 90 %


def test_an_early_schedule_ii_interrupts():
    prev = fill("oxycodone", on=MARCH_1, days=30, schedule="CII")
    new = fill("oxycodone", on=None, days=30, schedule="CII", rx=8)  # a new CII prescription
    (alert,) = screen(dt.date(2026, 3, 15), new, [prev])
    assert alert.severity == Severity.MAJOR
    assert alert.interrupts
    assert "PDMP" in alert.action


def test_it_matches_by_ingredient_across_prescriptions():
    prev = fill("sertraline", on=MARCH_1, days=30, rx=1)
    new = fill("sertraline", on=None, days=30, rx=2)
    assert len(screen(dt.date(2026, 3, 10), new, [prev])) == 1


def test_it_uses_the_supply_that_ends_last():
    old = fill("metformin", on=dt.date(2026, 1, 1), days=30, rx=1)
    recent = fill("metformin", on=MARCH_1, days=30, rx=2)
    new = fill("metformin", on=None, days=30, rx=2)
    (alert,) = screen(dt.date(2026, 3, 5), new, [old, recent])
    assert "filled on 2026-03-01" in alert.message


def test_other_drugs_and_first_fills_are_quiet():
    other = fill("amlodipine", on=MARCH_1, days=30, rx=1)
    new = fill("lisinopril", on=None, days=30, rx=2)
    assert screen(dt.date(2026, 3, 2), new, [other]) == []
    assert screen(dt.date(2026, 3, 2), new, []) == []


def test_profile_entries_without_history_are_ignored():
    new = fill("lisinopril", on=None, days=30)
    assert screen(MARCH_1, new, [fill("lisinopril", on=None, days=30)]) == []
    assert screen(MARCH_1, new, [fill("lisinopril", on=MARCH_1, days=None)]) == []
    future = fill("lisinopril", on=dt.date(2026, 4, 1), days=30)
    assert screen(MARCH_1, new, [future]) == []


def test_late_refill_is_minor():
    prev = fill("atorvastatin", on=MARCH_1, days=30)  # ran out 31 March
    new = fill("atorvastatin", on=None, days=30)
    assert screen(dt.date(2026, 4, 9), new, [prev]) == []  # 9 days = 30 %: not late
    (alert,) = screen(dt.date(2026, 4, 10), new, [prev])  # 10 days > 30 %
    assert alert.type == "LR"
    assert alert.severity == Severity.MINOR
    assert not alert.interrupts
    assert "ran out 10 days ago" in alert.message


def test_on_time_refill_is_quiet():
    prev = fill("atorvastatin", on=MARCH_1, days=30)
    new = fill("atorvastatin", on=None, days=30)
    assert screen(dt.date(2026, 3, 29), new, [prev]) == []
    assert screen(dt.date(2026, 4, 2), new, [prev]) == []


@given(st.integers(min_value=1, max_value=120), st.integers(min_value=0, max_value=200))
def test_early_exactly_before_80_percent(days, elapsed):
    prev = fill("lisinopril", on=MARCH_1, days=days)
    new = fill("lisinopril", on=None, days=days)
    alerts = screen(MARCH_1 + dt.timedelta(days=elapsed), new, [prev])
    early = [a for a in alerts if a.type == "ER"]
    assert bool(early) == (elapsed * 100 < 80 * days)
