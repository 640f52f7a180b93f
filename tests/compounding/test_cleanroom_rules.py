"""The cleanroom's pure rules: action levels at and just above each boundary, CFU per m³
from the litres sampled, pressure ranges at their edges, the temperature and humidity
recommendation, what each room and PEC must be, and the due dates of certification,
sampling and cleaning (reference compounding-storage.md §2)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rxdesk.compounding import cleanroom as rules

D = Decimal

# --- Action levels ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("iso_class", "kind", "level"),
    [
        ("5", "air", D("1")),
        ("7", "air", D("10")),
        ("8", "air", D("100")),
        ("5", "surface", D("3")),
        ("7", "surface", D("5")),
        ("8", "surface", D("50")),
    ],
)
def test_it_acts_only_above_each_action_level(iso_class, kind, level):
    assert rules.action_level(iso_class, kind) == level
    assert not rules.is_excursion(level, rules.action_level(iso_class, kind))
    assert rules.is_excursion(level + D("0.01"), rules.action_level(iso_class, kind))
    assert not rules.is_excursion(level - D("0.01"), rules.action_level(iso_class, kind))


@pytest.mark.parametrize(
    ("iso_class", "at", "above"),
    [("5", 3, 4), ("7", 5, 6), ("8", 50, 51)],
)
def test_surface_plate_counts_at_and_one_above_the_level(iso_class, at, above):
    level = rules.action_level(iso_class, "surface")
    assert not rules.is_excursion(rules.cfu_measure("surface", at), level)
    assert rules.is_excursion(rules.cfu_measure("surface", above), level)


@pytest.mark.parametrize(
    ("iso_class", "at_1000", "above_1000"),
    [("5", 1, 2), ("7", 10, 11), ("8", 100, 101)],
)
def test_air_counts_on_a_1000_litre_sample_at_and_one_above_the_level(
    iso_class, at_1000, above_1000
):
    level = rules.action_level(iso_class, "air")
    assert not rules.is_excursion(rules.cfu_measure("air", at_1000, D("1000")), level)
    assert rules.is_excursion(rules.cfu_measure("air", above_1000, D("1000")), level)


def test_highly_pathogenic_is_an_excursion_at_any_count():
    assert rules.is_excursion(D("1"), D("3"), highly_pathogenic=True)
    assert not rules.is_excursion(D("1"), D("3"), highly_pathogenic=False)


def test_unclassified_air_has_no_action_level():
    with pytest.raises(ValueError):
        rules.action_level("", "air")


# --- CFU per cubic metre ----------------------------------------------------------------


def test_cfu_per_m3_from_a_1000_litre_sample_is_the_count():
    assert rules.cfu_per_m3(1, D("1000")) == D("1.00")
    assert rules.cfu_per_m3(7, D("1000")) == D("7.00")


def test_cfu_per_m3_from_a_500_litre_sample_doubles_the_count():
    assert rules.cfu_per_m3(1, D("500")) == D("2.00")
    assert rules.cfu_per_m3(5, D("500")) == D("10.00")  # at the ISO 7 level: no action
    assert rules.cfu_per_m3(6, D("500")) == D("12.00")
    assert not rules.is_excursion(rules.cfu_per_m3(5, D("500")), D("10"))
    assert rules.is_excursion(rules.cfu_per_m3(1, D("500")), D("1"))  # ISO 5: 2 > 1


def test_cfu_per_m3_rounds_up_so_the_figure_shown_agrees_with_the_verdict():
    # 1 CFU in 999 L is 1.001 CFU/m³: above the ISO 5 level, and shown as 1.01.
    assert rules.cfu_per_m3(1, D("999")) == D("1.01")
    assert rules.is_excursion(rules.cfu_per_m3(1, D("999")), D("1"))
    assert rules.cfu_per_m3(1, D("333")) == D("3.01")


@given(
    cfu=st.integers(min_value=0, max_value=10_000),
    litres=st.decimals(min_value=1, max_value=10_000, places=1),
    level=st.sampled_from([D("1"), D("10"), D("100")]),
)
def test_the_rounded_measure_is_above_the_level_exactly_when_the_count_is(cfu, litres, level):
    exact = D(cfu) * 1000 / litres
    assert rules.is_excursion(rules.cfu_per_m3(cfu, litres), level) == (exact > level)


def test_an_air_sample_needs_its_volume():
    with pytest.raises(ValueError):
        rules.cfu_measure("air", 1, None)
    with pytest.raises(ValueError):
        rules.cfu_per_m3(1, D("0"))


@pytest.mark.parametrize(
    ("organism", "pathogenic"),
    [
        ("Aspergillus niger", True),
        ("mould", True),
        ("Mold, unidentified", True),
        ("yeast", True),
        ("Candida albicans", True),
        ("Gram-negative rod", True),
        ("Pseudomonas aeruginosa", True),
        ("Staphylococcus aureus", True),
        ("S. aureus", True),
        ("Micrococcus luteus", False),
        ("Staphylococcus epidermidis", False),
        ("Bacillus", False),
        ("", False),
    ],
)
def test_named_pathogens(organism, pathogenic):
    assert rules.named_pathogen(organism) is pathogenic


# --- Pressure, temperature, humidity ----------------------------------------------------


@pytest.mark.parametrize(
    ("pressure", "reading", "ok"),
    [
        ("positive", "0.020", True),
        ("positive", "0.0199", False),
        ("positive", "0.5", True),
        ("positive", "0", False),
        ("positive", "-0.02", False),
        ("negative", "-0.010", True),
        ("negative", "-0.0099", False),
        ("negative", "-0.020", True),
        ("negative", "-0.030", True),
        ("negative", "-0.0301", False),
        ("negative", "0.010", False),
        ("neutral", "0.3", True),
        ("neutral", "-0.3", True),
    ],
)
def test_pressure_ranges_at_their_boundaries(pressure, reading, ok):
    assert rules.pressure_in_range(pressure, D(reading)) is ok


def test_temperature_and_humidity_recommendation_boundaries():
    assert rules.conditions_problems(D("20.0"), D("59.9")) == []
    assert rules.conditions_problems(D("20.1"), D("40")) == [
        "temperature 20.1 °C is above the recommended 20 °C or cooler"
    ]
    assert rules.conditions_problems(D("18"), D("60.0")) == [
        "relative humidity 60.0 % is not below the recommended 60 %"
    ]
    assert len(rules.conditions_problems(D("25"), D("70"))) == 2


# --- Rooms and PECs ---------------------------------------------------------------------


def _room(kind, iso, pressure="positive", hazardous=False):
    return rules.room_problems(kind=kind, iso_class=iso, pressure=pressure, hazardous=hazardous)


def test_rooms_that_agree_with_their_kind():
    assert _room("buffer", "7") == []
    assert _room("ante", "7") == []
    assert _room("ante", "8") == []
    assert _room("sca", "", "neutral") == []
    assert _room("c_sec", "7", "negative") == []
    assert _room("c_sca", "", "negative") == []
    assert _room("hd_storage", "", "negative") == []
    assert _room("nonsterile", "", "neutral") == []
    assert _room("nonsterile", "", "negative", hazardous=True) == []


def test_rooms_that_do_not():
    assert [f for f, _ in _room("buffer", "8")] == ["iso_class"]
    assert [f for f, _ in _room("sca", "7", "neutral")] == ["iso_class"]
    assert [f for f, _ in _room("c_sec", "8", "negative")] == ["iso_class"]
    assert [f for f, _ in _room("c_sec", "7", "positive")] == ["pressure"]
    assert [f for f, _ in _room("hd_storage", "", "neutral")] == ["pressure"]
    assert [f for f, _ in _room("nonsterile", "", "positive", hazardous=True)] == ["pressure"]
    assert [f for f, _ in _room("buffer", "7", "positive", hazardous=True)] == ["kind"]
    assert [f for f, _ in _room("ante", "8", "negative")] == ["pressure"]
    assert rules.room_hazardous("c_sca", False) is True
    assert rules.room_hazardous("sca", False) is False


def _pec(kind, room_kind, *, hazardous=False, room_hazardous=False):
    return [
        f
        for f, _ in rules.control_problems(
            kind=kind, hazardous=hazardous, room_kind=room_kind, room_hazardous=room_hazardous
        )
    ]


def test_pecs_and_their_rooms():
    assert _pec("lafw", "buffer") == []
    assert _pec("lafw", "sca") == []
    assert _pec("bsc2", "c_sec", hazardous=True, room_hazardous=True) == []
    assert _pec("caci", "c_sca", room_hazardous=True) == []
    assert _pec("cve", "nonsterile") == []
    assert _pec("lafw", "ante") == ["room"]
    assert _pec("cve", "buffer") == ["room"]
    assert _pec("lafw", "c_sec", hazardous=True, room_hazardous=True) == ["hazardous"]
    assert _pec("bsc2", "buffer", hazardous=True) == ["room"]
    assert _pec("caci", "buffer") == ["room"]  # a CACI is a C-PEC by design
    assert rules.control_iso("lafw") == "5"
    assert rules.control_iso("cve") == ""


# --- Due dates ---------------------------------------------------------------------------

TODAY = dt.date(2026, 3, 10)


def test_daily_cleaning_is_due_the_next_day_and_overdue_after():
    every = rules.cleaning_every("floors", "cleaning")
    assert every is rules.Every.DAY
    done_today = rules.due(TODAY, every, today=TODAY)
    assert (done_today.state, done_today.due_on) == ("current", dt.date(2026, 3, 11))
    yesterday = rules.due(TODAY - dt.timedelta(days=1), every, today=TODAY)
    assert (yesterday.state, yesterday.words) == ("due today", "due today")
    two_days = rules.due(TODAY - dt.timedelta(days=2), every, today=TODAY)
    assert two_days.state == "overdue" and two_days.late
    assert two_days.words == "overdue since 03/09/2026"
    never = rules.due(None, every, today=TODAY)
    assert (never.state, never.words, never.late) == ("never", "never done: due now", True)


def test_monthly_cleaning_keeps_the_day_or_the_months_last():
    every = rules.cleaning_every("walls", "disinfecting")
    assert every is rules.Every.MONTH
    assert rules.due(dt.date(2026, 1, 31), every, today=TODAY).due_on == dt.date(2026, 2, 28)
    assert rules.due(dt.date(2026, 2, 10), every, today=TODAY).state == "due today"
    assert rules.due(dt.date(2026, 2, 9), every, today=TODAY).state == "overdue"
    soon = rules.due(dt.date(2026, 2, 15), every, today=TODAY, soon_days=7)
    assert (soon.state, soon.tone) == ("due soon", "warn")


def test_sporicidal_is_monthly_or_weekly_where_category_3_is_made():
    assert rules.cleaning_every("floors", "sporicidal") is rules.Every.MONTH
    weekly = rules.cleaning_every("floors", "sporicidal", category_3=True)
    assert weekly is rules.Every.WEEK
    assert rules.due(dt.date(2026, 3, 3), weekly, today=TODAY).state == "due today"
    assert rules.due(dt.date(2026, 3, 2), weekly, today=TODAY).state == "overdue"
    assert rules.due(dt.date(2026, 3, 4), weekly, today=TODAY).due_on == dt.date(2026, 3, 11)
    # Category 3 changes only the sporicidal step.
    assert rules.cleaning_every("floors", "cleaning", category_3=True) is rules.Every.DAY


def test_the_cleaning_table():
    daily = {"pec_interior", "pass_through", "work_surfaces", "floors"}
    for area in rules.AREAS:
        for kind in ("cleaning", "disinfecting"):
            expected = rules.Every.DAY if area in daily else rules.Every.MONTH
            assert rules.cleaning_every(area, kind) is expected, (area, kind)
        assert rules.cleaning_every(area, "sporicidal") is rules.Every.MONTH


def test_sampling_frequencies_by_category():
    assert rules.sampling_every("air") is rules.Every.SIX_MONTHS
    assert rules.sampling_every("air", category_3=True) is rules.Every.MONTH
    assert rules.sampling_every("surface") is rules.Every.MONTH
    assert rules.sampling_every("surface", category_3=True) is rules.Every.WEEK
    air = rules.due(dt.date(2025, 9, 10), rules.Every.SIX_MONTHS, today=TODAY)
    assert (air.due_on, air.state) == (dt.date(2026, 3, 10), "due today")


def test_certification_every_six_months_and_a_failed_one_is_no_certification():
    done = rules.certification_due(dt.date(2025, 8, 31), today=dt.date(2026, 2, 28))
    assert (done.due_on, done.state) == (dt.date(2026, 2, 28), "due today")
    lapsed = rules.certification_due(dt.date(2025, 8, 31), today=dt.date(2026, 3, 1))
    assert (lapsed.state, lapsed.words, lapsed.tone) == (
        "overdue",
        "overdue since 02/28/2026",
        "danger",
    )
    soon = rules.certification_due(dt.date(2025, 9, 20), today=TODAY)
    assert soon.state == "due soon" and soon.due_on == dt.date(2026, 3, 20)
    current = rules.certification_due(dt.date(2026, 1, 5), today=TODAY)
    assert (current.state, current.words, current.tone) == (
        "current",
        "next due 07/05/2026",
        "ok",
    )
    failed = rules.certification_due(dt.date(2026, 3, 1), today=TODAY, passed=False)
    assert (failed.state, failed.late, failed.words) == ("failed", True, "failed: not certified")
    assert rules.certification_due(None, today=TODAY).state == "never"
