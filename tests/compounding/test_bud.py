"""The beyond-use date rules, pure (rxdesk.compounding.bud): every row of USP <795> Table 4
and USP <797> Tables 12–14 and immediate use, each with its exact datetime, the storages a
row does not allow, and the earliest component expiry exactly at, just before and just after
the table's limit; stability limits; daylight saving in America/Chicago; offsets kept; the
in-use times of opened containers, USP's and a stricter state's. Properties by hypothesis."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rxdesk.compounding.bud import (
    AMPULE,
    MULTIPLE_DOSE,
    PHARMACY_BULK,
    SINGLE_DOSE,
    BudInput,
    BudNotAllowed,
    InUseLimits,
    beyond_use,
    in_use_until,
)

EST = dt.timezone(dt.timedelta(hours=-5))
CHICAGO = zoneinfo.ZoneInfo("America/Chicago")
P0 = dt.datetime(2026, 1, 5, 9, 0, tzinfo=EST)
DAY = dt.timedelta(days=1)
HOUR = dt.timedelta(hours=1)


def nonsterile(preparation: str, storage: str, *, preserved: bool = False, **kw) -> BudInput:
    return BudInput(
        type="nonsterile",
        prepared_at=kw.pop("prepared_at", P0),
        storage=storage,
        preparation=preparation,
        preserved=preserved,
        **kw,
    )


def sterile(category: str, storage: str, **kw) -> BudInput:
    return BudInput(
        type="sterile",
        category=category,
        prepared_at=kw.pop("prepared_at", P0),
        storage=storage,
        **kw,
    )


# --- Every row: (case id, input without limits, the table's span, words in the rule) ------

NONSTERILE_ROWS = [
    ("795 aqueous unpreserved fridge", nonsterile("aqueous", "refrigerator"), 14 * DAY, "14 days"),
    (
        "795 aqueous preserved room",
        nonsterile("aqueous", "room", preserved=True),
        35 * DAY,
        "35 days",
    ),
    (
        "795 aqueous preserved fridge",
        nonsterile("aqueous", "refrigerator", preserved=True),
        35 * DAY,
        "35 days",
    ),
    (
        "795 nonaqueous oral liquid room",
        nonsterile("nonaqueous-oral-liquid", "room"),
        90 * DAY,
        "90 days",
    ),
    (
        "795 nonaqueous oral liquid fridge",
        nonsterile("nonaqueous-oral-liquid", "refrigerator"),
        90 * DAY,
        "90 days",
    ),
    (
        "795 nonaqueous oral liquid, preservative ignored",
        nonsterile("nonaqueous-oral-liquid", "room", preserved=True),
        90 * DAY,
        "90 days",
    ),
    ("795 other nonaqueous room", nonsterile("other-nonaqueous", "room"), 180 * DAY, "180 days"),
    (
        "795 other nonaqueous fridge",
        nonsterile("other-nonaqueous", "refrigerator"),
        180 * DAY,
        "180 days",
    ),
]

IMMEDIATE_AND_CAT1_ROWS = [
    ("797 immediate use room", sterile("immediate-use", "room"), 4 * HOUR, "4 hours"),
    ("797 immediate use fridge", sterile("immediate-use", "refrigerator"), 4 * HOUR, "4 hours"),
    ("797 Cat 1 room", sterile("1", "room"), 12 * HOUR, "12 hours"),
    ("797 Cat 1 fridge", sterile("1", "refrigerator"), 24 * HOUR, "24 hours"),
]

# Table 13: (aseptic, sterility tested, only sterile components) → room / fridge / freezer.
CATEGORY_2_TABLE = {
    (True, False, False): (1, 4, 45),
    (True, False, True): (4, 10, 45),
    (True, True, False): (30, 45, 60),
    (True, True, True): (30, 45, 60),
    (False, False, False): (14, 28, 45),
    (False, False, True): (14, 28, 45),
    (False, True, False): (45, 60, 90),
    (False, True, True): (45, 60, 90),
}
# Table 14 (always tested): aseptic → room / fridge / freezer.
CATEGORY_3_TABLE = {True: (60, 90, 120), False: (90, 120, 180)}
STORAGES = ("room", "refrigerator", "freezer")

CATEGORY_2_ROWS = [
    (
        f"797 Cat 2 {'aseptic' if a else 'terminal'} {'tested' if t else 'untested'} "
        f"{'sterile' if s else 'nonsterile'} components {storage}",
        sterile("2", storage, aseptic=a, sterility_tested=t, sterile_starting_components=s),
        days * DAY,
        f"{days} day" if days == 1 else f"{days} days",
    )
    for (a, t, s), by_storage in CATEGORY_2_TABLE.items()
    for storage, days in zip(STORAGES, by_storage, strict=True)
]
CATEGORY_3_ROWS = [
    (
        f"797 Cat 3 {'aseptic' if a else 'terminal'} {'sterile' if s else 'nonsterile'} "
        f"components {storage}",
        sterile("3", storage, aseptic=a, sterility_tested=True, sterile_starting_components=s),
        days * DAY,
        f"{days} days",
    )
    for a, by_storage in CATEGORY_3_TABLE.items()
    for s in (True, False)
    for storage, days in zip(STORAGES, by_storage, strict=True)
]
ALL_ROWS = NONSTERILE_ROWS + IMMEDIATE_AND_CAT1_ROWS + CATEGORY_2_ROWS + CATEGORY_3_ROWS
ROW_PARAMS = [pytest.param(given_, span, words, id=name) for name, given_, span, words in ALL_ROWS]


def with_(given_: BudInput, **changes) -> BudInput:
    values = {**given_.__dict__, **changes}
    return BudInput(**values)


def test_the_tables_have_every_row():
    assert len(NONSTERILE_ROWS) == 8
    assert len(CATEGORY_2_ROWS) == 24 and len(CATEGORY_3_ROWS) == 12


@pytest.mark.parametrize(("given_", "span", "words"), ROW_PARAMS)
def test_each_row_gives_its_exact_limit(given_, span, words):
    found = beyond_use(given_)

    assert found.beyond_use == P0 + span
    assert found.table_limit == P0 + span
    assert found.beyond_use.utcoffset() == P0.utcoffset()
    assert words in found.rule and found.rule.startswith("USP <79")
    assert (found.limited_by_component, found.limited_by_stability) == (False, False)
    assert found.shows_time is (span <= 4 * DAY)


@pytest.mark.parametrize(("given_", "span", "words"), ROW_PARAMS)
def test_a_component_expiring_on_the_limits_day_does_not_limit(given_, span, words):
    limit = P0 + span

    found = beyond_use(with_(given_, component_expirations=(limit.date(),)))

    assert found.beyond_use == limit
    assert found.limited_by_component is False


@pytest.mark.parametrize(("given_", "span", "words"), ROW_PARAMS)
def test_a_component_expiring_the_day_before_the_limit_limits_it(given_, span, words):
    limit = P0 + span
    day_before = limit.date() - DAY

    if day_before < P0.date():
        with pytest.raises(BudNotAllowed) as refused:
            beyond_use(with_(given_, component_expirations=(day_before,)))
        assert refused.value.field == "component_expirations"
        return
    found = beyond_use(with_(given_, component_expirations=(day_before, limit.date() + DAY)))

    assert found.beyond_use == dt.datetime.combine(day_before, dt.time(23, 59), tzinfo=EST)
    assert found.limited_by_component is True
    assert found.table_limit == limit
    assert f"limited by the earliest component expiry, {day_before.isoformat()}" in found.rule


@pytest.mark.parametrize(("given_", "span", "words"), ROW_PARAMS)
def test_a_component_expiring_the_day_after_the_limit_does_not_limit(given_, span, words):
    limit = P0 + span

    found = beyond_use(with_(given_, component_expirations=(limit.date() + DAY,)))

    assert (found.beyond_use, found.limited_by_component) == (limit, False)
    assert "component expiry" not in found.rule


@pytest.mark.parametrize(("given_", "span", "words"), ROW_PARAMS)
def test_stability_shorter_limits_equal_or_longer_does_not(given_, span, words):
    days = span.days
    if days >= 2:
        shorter = beyond_use(with_(given_, stability_days=days - 1))
        assert shorter.beyond_use == P0 + (days - 1) * DAY
        assert (shorter.limited_by_stability, shorter.limited_by_component) == (True, False)
        assert f"limited by stability data to {days - 1} days" in shorter.rule
    for longer in {max(days, 1), days + 1}:
        found = beyond_use(with_(given_, stability_days=longer))
        assert (found.beyond_use, found.limited_by_stability) == (P0 + span, False)


# --- Combinations the chapters do not allow -----------------------------------------------


@pytest.mark.parametrize(
    "given_",
    [
        pytest.param(nonsterile("aqueous", "room"), id="795 aqueous unpreserved at room"),
        pytest.param(nonsterile("aqueous", "freezer"), id="795 aqueous unpreserved frozen"),
        pytest.param(
            nonsterile("aqueous", "freezer", preserved=True), id="795 aqueous preserved frozen"
        ),
        pytest.param(nonsterile("nonaqueous-oral-liquid", "freezer"), id="795 oral liquid frozen"),
        pytest.param(nonsterile("other-nonaqueous", "freezer"), id="795 other nonaqueous frozen"),
        pytest.param(sterile("immediate-use", "freezer"), id="797 immediate use frozen"),
        pytest.param(sterile("1", "freezer"), id="797 Cat 1 frozen"),
        pytest.param(sterile("1", "cold"), id="unknown storage"),
    ],
)
def test_storages_a_row_does_not_allow_are_refused_naming_storage(given_):
    with pytest.raises(BudNotAllowed) as refused:
        beyond_use(given_)
    assert refused.value.field == "storage"
    assert refused.value.message


@pytest.mark.parametrize("storage", STORAGES)
@pytest.mark.parametrize("aseptic", [True, False])
def test_category_3_untested_is_refused_naming_sterility_tested(storage, aseptic):
    with pytest.raises(BudNotAllowed) as refused:
        beyond_use(sterile("3", storage, aseptic=aseptic, sterility_tested=False))
    assert refused.value.field == "sterility_tested"
    assert "Category 2" in refused.value.message


@pytest.mark.parametrize("storage", ["room", "refrigerator"])
def test_immediate_use_with_a_nonsterile_component_is_refused(storage):
    with pytest.raises(BudNotAllowed) as refused:
        beyond_use(sterile("immediate-use", storage, sterile_starting_components=False))
    assert refused.value.field == "sterile_starting_components"


@pytest.mark.parametrize(
    ("given_", "field"),
    [
        (BudInput(type="other", prepared_at=P0, storage="room"), "type"),
        (sterile("4", "room"), "category"),
        (sterile("nonsterile", "room"), "category"),
        (BudInput(type="sterile", prepared_at=P0, storage="room"), "category"),
        (BudInput(type="nonsterile", prepared_at=P0, storage="room"), "preparation"),
        (nonsterile("aqueous", "room", preserved=True, category="2"), "category"),
        (nonsterile("gel", "room"), "preparation"),
        (sterile("2", "room", prepared_at=dt.datetime(2026, 1, 5, 9)), "prepared_at"),
        (sterile("2", "room", prepared_at=dt.datetime(1, 1, 2, tzinfo=EST)), "prepared_at"),
        (sterile("2", "room", prepared_at=dt.datetime(9999, 12, 1, tzinfo=EST)), "prepared_at"),
        (sterile("2", "room", stability_days=0), "stability_days"),
        (sterile("2", "room", component_expirations=(P0.date() - DAY,)), "component_expirations"),
    ],
)
def test_other_refusals_name_their_field(given_, field):
    with pytest.raises(BudNotAllowed) as refused:
        beyond_use(given_)
    assert refused.value.field == field


def test_nonsterile_category_words_are_accepted():
    found = beyond_use(nonsterile("aqueous", "room", preserved=True, category="nonsterile"))
    assert found.beyond_use == P0 + 35 * DAY


def test_a_component_expiring_on_the_day_of_preparation_limits_to_that_evening():
    found = beyond_use(sterile("1", "refrigerator", component_expirations=(P0.date(),)))

    assert found.beyond_use == dt.datetime(2026, 1, 5, 23, 59, tzinfo=EST)
    assert found.limited_by_component is True and found.shows_time is True


def test_prepared_after_the_last_minute_of_a_components_expiry_day_is_refused():
    late = dt.datetime(2026, 1, 5, 23, 59, 30, tzinfo=EST)
    with pytest.raises(BudNotAllowed) as refused:
        beyond_use(sterile("1", "room", prepared_at=late, component_expirations=(late.date(),)))
    assert refused.value.field == "component_expirations"


def test_the_component_that_binds_beats_stability_and_only_it_is_named():
    found = beyond_use(
        sterile(
            "2",
            "refrigerator",
            stability_days=7,
            component_expirations=(dt.date(2026, 1, 8), dt.date(2027, 1, 1)),
        )
    )

    assert found.beyond_use == dt.datetime(2026, 1, 8, 23, 59, tzinfo=EST)
    assert (found.limited_by_component, found.limited_by_stability) == (True, False)
    assert "stability" not in found.rule


def test_stability_that_binds_before_a_later_component_is_named():
    found = beyond_use(
        sterile(
            "2", "refrigerator", stability_days=3, component_expirations=(dt.date(2026, 1, 12),)
        )
    )

    assert found.beyond_use == P0 + 3 * DAY
    assert (found.limited_by_component, found.limited_by_stability) == (False, True)


def test_far_future_expiry_and_huge_stability_do_not_overflow():
    found = beyond_use(
        sterile(
            "3",
            "freezer",
            aseptic=False,
            sterility_tested=True,
            stability_days=10**9,
            component_expirations=(dt.date(9999, 12, 31),),
        )
    )
    assert found.beyond_use == P0 + 180 * DAY


# --- Time zones: daylight saving, offsets --------------------------------------------------


def test_category_1_across_the_november_change_is_twelve_elapsed_hours():
    prepared = dt.datetime(2026, 11, 1, 0, 30, tzinfo=CHICAGO)  # CDT; 02:00 falls back to 01:00

    found = beyond_use(sterile("1", "room", prepared_at=prepared))

    assert found.beyond_use.astimezone(dt.UTC) - prepared.astimezone(dt.UTC) == 12 * HOUR
    assert found.beyond_use == dt.datetime(2026, 11, 1, 11, 30, tzinfo=CHICAGO)
    assert found.beyond_use.utcoffset() == dt.timedelta(hours=-6)


def test_category_1_across_the_march_change_is_twelve_elapsed_hours():
    prepared = dt.datetime(2026, 3, 7, 20, 0, tzinfo=CHICAGO)  # CST; 02:00 springs to 03:00

    found = beyond_use(sterile("1", "room", prepared_at=prepared))

    assert found.beyond_use.astimezone(dt.UTC) - prepared.astimezone(dt.UTC) == 12 * HOUR
    assert (found.beyond_use.hour, found.beyond_use.utcoffset()) == (9, dt.timedelta(hours=-5))


def test_days_across_a_change_are_elapsed_days_and_the_expiry_day_ends_at_local_midnight():
    prepared = dt.datetime(2026, 3, 1, 9, 0, tzinfo=CHICAGO)

    table = beyond_use(sterile("2", "refrigerator", prepared_at=prepared))
    capped = beyond_use(
        sterile(
            "2", "refrigerator", prepared_at=prepared, component_expirations=(dt.date(2026, 3, 9),)
        )
    )

    assert table.beyond_use.astimezone(dt.UTC) - prepared.astimezone(dt.UTC) == 10 * DAY
    assert table.beyond_use == dt.datetime(2026, 3, 11, 10, 0, tzinfo=CHICAGO)
    assert capped.beyond_use == dt.datetime(2026, 3, 9, 23, 59, tzinfo=CHICAGO)
    assert capped.beyond_use.utcoffset() == dt.timedelta(hours=-5)


@pytest.mark.parametrize("hours", [-12, -5, 0, 5.5, 14])
def test_the_offset_of_prepared_at_is_kept(hours):
    tz = dt.timezone(dt.timedelta(hours=hours))
    prepared = dt.datetime(2026, 1, 5, 9, 0, tzinfo=tz)

    found = beyond_use(
        sterile("2", "room", prepared_at=prepared, component_expirations=(dt.date(2026, 1, 7),))
    )

    assert found.beyond_use == dt.datetime(2026, 1, 7, 23, 59, tzinfo=tz)
    assert found.beyond_use.utcoffset() == dt.timedelta(hours=hours)


# --- Properties ----------------------------------------------------------------------------

OFFSETS = st.integers(min_value=-12 * 4, max_value=14 * 4).map(
    lambda q: dt.timezone(dt.timedelta(minutes=15 * q))
)
ZONES = st.one_of(OFFSETS, st.just(CHICAGO), st.just(zoneinfo.ZoneInfo("Asia/Kolkata")))
PREPARED = st.builds(
    lambda day, minutes, tz: (
        dt.datetime.combine(day, dt.time(0, 0), tzinfo=tz) + dt.timedelta(minutes=minutes)
    ),
    st.dates(min_value=dt.date(2020, 1, 1), max_value=dt.date(2035, 12, 31)),
    st.integers(min_value=0, max_value=24 * 60 - 1),
    ZONES,
)
BASE = st.builds(
    BudInput,
    type=st.sampled_from(["nonsterile", "sterile"]),
    prepared_at=PREPARED,
    storage=st.sampled_from(STORAGES),
    category=st.one_of(st.none(), st.sampled_from(["1", "2", "3", "immediate-use"])),
    aseptic=st.booleans(),
    sterile_starting_components=st.booleans(),
    sterility_tested=st.booleans(),
    preserved=st.booleans(),
    preparation=st.one_of(
        st.none(), st.sampled_from(["aqueous", "nonaqueous-oral-liquid", "other-nonaqueous"])
    ),
    stability_days=st.one_of(st.none(), st.integers(min_value=1, max_value=400)),
)


@st.composite
def inputs(draw: st.DrawFn) -> BudInput:
    """A preparation with up to four components expiring from two days before it to a
    little over a year after."""
    base = draw(BASE)
    start = base.prepared_at.date()
    after = draw(st.lists(st.integers(min_value=-2, max_value=400), max_size=4))
    return with_(base, component_expirations=tuple(start + n * DAY for n in after))


INPUTS = inputs()


def _utc(when: dt.datetime) -> dt.datetime:
    return when.astimezone(dt.UTC)


@settings(max_examples=400, deadline=None)
@given(INPUTS)
def test_property_never_past_the_table_nor_the_earliest_expiry_day(given_):
    try:
        found = beyond_use(given_)
    except BudNotAllowed as refused:
        assert refused.field in {
            "storage",
            "category",
            "preparation",
            "sterility_tested",
            "sterile_starting_components",
            "component_expirations",
        }
        return
    assert found.table_limit is not None
    assert _utc(given_.prepared_at) < _utc(found.beyond_use) <= _utc(found.table_limit)
    assert _utc(found.table_limit) - _utc(given_.prepared_at) <= 180 * DAY
    assert found.beyond_use.tzinfo == given_.prepared_at.tzinfo
    if given_.component_expirations:
        earliest = min(given_.component_expirations)
        end = dt.datetime.combine(earliest, dt.time(23, 59), tzinfo=given_.prepared_at.tzinfo)
        assert _utc(found.beyond_use) <= _utc(end)
        if found.limited_by_component:
            assert found.beyond_use == end and _utc(end) < _utc(found.table_limit)
    else:
        assert found.limited_by_component is False
    if given_.stability_days is not None:
        stable = _utc(given_.prepared_at) + given_.stability_days * DAY
        assert _utc(found.beyond_use) <= stable
    assert not (found.limited_by_component and found.limited_by_stability)
    if not (found.limited_by_component or found.limited_by_stability):
        assert found.beyond_use == found.table_limit


@settings(max_examples=300, deadline=None)
@given(INPUTS)
def test_property_limits_only_ever_make_it_earlier(given_):
    bare = with_(given_, component_expirations=(), stability_days=None)
    try:
        table = beyond_use(bare)
        found = beyond_use(given_)
    except BudNotAllowed:
        return
    assert _utc(found.beyond_use) <= _utc(table.beyond_use)
    assert found.table_limit == table.beyond_use


@settings(max_examples=300, deadline=None)
@given(INPUTS)
def test_property_a_warmer_storage_never_allows_a_later_bud(given_):
    results = {}
    for storage in STORAGES:
        try:
            results[storage] = _utc(beyond_use(with_(given_, storage=storage)).beyond_use)
        except BudNotAllowed as refused:
            if refused.field != "storage":
                return  # refused whatever the storage: nothing to compare (no filtering,
                # which made Hypothesis's too-much-filtering health check fail at random)
    order = [results[s] for s in STORAGES if s in results]
    assert order == sorted(order)


# --- In-use times of opened containers -----------------------------------------------------

OPENED = dt.datetime(2026, 1, 5, 9, 0, tzinfo=CHICAGO)
CALIFORNIA = InUseLimits(single_dose_iso5_hours=6, single_dose_outside_iso5_hours=1)


@pytest.mark.parametrize(
    ("container", "kwargs", "limits", "span", "words"),
    [
        (SINGLE_DOSE, {}, None, 12 * HOUR, "in ISO 5 air: 12 hours"),
        (
            SINGLE_DOSE,
            {"label_hours": 6},
            None,
            6 * HOUR,
            "6 hours after first puncture (labeling)",
        ),
        (SINGLE_DOSE, {"label_hours": 24}, None, 12 * HOUR, "12 hours after first puncture"),
        (SINGLE_DOSE, {"in_iso5": False}, None, dt.timedelta(0), "outside ISO 5 air: use at once"),
        (AMPULE, {}, None, dt.timedelta(0), "ampule is never stored"),
        (AMPULE, {"in_iso5": False}, None, dt.timedelta(0), "ampule is never stored"),
        (MULTIPLE_DOSE, {}, None, 28 * DAY, "28 days after first entry"),
        (MULTIPLE_DOSE, {"label_days": 14}, None, 14 * DAY, "14 days after first entry"),
        (MULTIPLE_DOSE, {"label_days": 42}, None, 42 * DAY, "42 days after first entry"),
        (MULTIPLE_DOSE, {"in_iso5": False}, None, 28 * DAY, "28 days"),
        (PHARMACY_BULK, {"label_hours": 4}, None, 4 * HOUR, "4 hours after first penetration"),
        (SINGLE_DOSE, {}, CALIFORNIA, 6 * HOUR, "in ISO 5 air: 6 hours"),
        (
            SINGLE_DOSE,
            {"in_iso5": False},
            CALIFORNIA,
            1 * HOUR,
            "outside ISO 5 air: 1 hour after first puncture",
        ),
        (SINGLE_DOSE, {"label_hours": 8}, CALIFORNIA, 6 * HOUR, "6 hours"),
        (
            MULTIPLE_DOSE,
            {"label_days": 42},
            InUseLimits(multiple_dose_days=21),
            21 * DAY,
            "21 days",
        ),
        (PHARMACY_BULK, {"label_hours": 4}, CALIFORNIA, 4 * HOUR, "4 hours"),
    ],
)
def test_in_use_times(container, kwargs, limits, span, words):
    found = in_use_until(container, OPENED, limits=limits, **kwargs)

    assert found.until == OPENED + span
    assert words in found.rule


def test_in_use_is_capped_by_the_containers_expiry():
    found = in_use_until(MULTIPLE_DOSE, OPENED, expiry=dt.date(2026, 1, 20))

    assert found.until == dt.datetime(2026, 1, 20, 23, 59, tzinfo=CHICAGO)
    assert "limited by the expiry, 2026-01-20" in found.rule


def test_in_use_across_the_november_change_is_elapsed_hours():
    opened = dt.datetime(2026, 10, 31, 20, 0, tzinfo=CHICAGO)

    found = in_use_until(SINGLE_DOSE, opened)

    assert _utc(found.until) - _utc(opened) == 12 * HOUR
    assert found.until.hour == 7


@pytest.mark.parametrize(
    ("container", "kwargs", "field"),
    [
        ("vial", {}, "container"),
        (PHARMACY_BULK, {}, "label_hours"),
        (PHARMACY_BULK, {"label_hours": 4, "in_iso5": False}, "in_iso5"),
        (SINGLE_DOSE, {"label_hours": -1}, "label_hours"),
        (MULTIPLE_DOSE, {"label_days": 0}, "label_days"),
        (SINGLE_DOSE, {"expiry": dt.date(2026, 1, 4)}, "expiry"),
        (SINGLE_DOSE, {"opened_at": dt.datetime(2026, 1, 5, 9)}, "opened_at"),
    ],
)
def test_in_use_refusals_name_the_field(container, kwargs, field):
    opened = kwargs.pop("opened_at", OPENED)
    with pytest.raises(BudNotAllowed) as refused:
        in_use_until(container, opened, **kwargs)
    assert refused.value.field == field
