"""The med rec comparison (pure): pairing, suggested discrepancies, and that a history
identical to the profile yields none."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rxdesk.care import medrec_compare as mc
from rxdesk.care.medrec_compare import HistoryLine, ProfileLine, compare

SIMVA = ProfileLine(
    1, "Simvastatin 20 mg Tablet", "1 tablet", "once daily", "oral", frozenset({"simvastatin"})
)
LISIN = ProfileLine(
    2, "Lisinopril 10 mg Tablet", "1 tablet", "once daily", "oral", frozenset({"lisinopril"})
)
METF = ProfileLine(
    3, "Metformin 500 mg Tablet", "1 tablet", "twice daily", "oral", frozenset({"metformin"})
)


def kinds(result: mc.Comparison) -> list[tuple[str, int | None, int | None]]:
    return [(s.kind, s.item_key, s.prescription_id) for s in result.suggestions]


def test_it_reads_doses_frequencies_and_routes():
    assert mc.parse_dose("1 tab") == (Decimal(1), "tablet")
    assert mc.parse_dose("2 puffs") == (Decimal(2), "puff")
    assert mc.parse_dose("10mg") == (Decimal(10), "mg")
    assert mc.parse_dose("a handful") is None
    assert mc.parse_frequency("BID") == (Decimal(2), False)
    assert mc.parse_frequency("twice daily") == (Decimal(2), False)
    assert mc.parse_frequency("Q8H PRN") == (Decimal(3), True)
    assert mc.parse_frequency("whenever I remember") is None
    assert mc.parse_route("by mouth") == mc.parse_route("PO") == "oral"
    assert mc.profile_line_parts("1 CAP PO BID") == ("1 capsule", "twice daily", "oral")
    assert mc.profile_line_parts("2 T PO TID") == ("2 tablets", "3 times daily", "oral")


def test_it_normalises_names():
    assert mc.name_key("Simvastatin 20 MG Oral Tablet") == "simvastatin"
    assert mc.name_key("metoprolol succinate ER 50mg") == "metoprolol succinate"
    assert mc.ingredients_of_name("Metoprolol Succinate ER 50 mg") == frozenset({"metoprolol"})


def test_it_matches_by_name_and_finds_nothing_when_all_agree():
    history = [
        HistoryLine(10, "simvastatin 20mg", "1 tab", "daily", "PO"),
        HistoryLine(11, "Lisinopril", "1", "once daily", "by mouth"),
        HistoryLine(12, "metformin", "1 tablet", "BID", "oral"),
    ]
    result = compare(history, [SIMVA, LISIN, METF])
    assert kinds(result) == []
    assert all(r.matched for r in result.rows)


def test_it_suggests_each_kind():
    history = [
        HistoryLine(10, "Simvastatin", "1 tablet", "daily", "oral", prescription_id=1),
        HistoryLine(
            11, "Zocor 20 mg", "1 tablet", "daily", "oral", ingredients=frozenset({"simvastatin"})
        ),
        HistoryLine(12, "Metformin", "2 tablets", "TID", "rectal"),
        HistoryLine(13, "Ibuprofen 200 mg", "2 tablets", "PRN", "oral", taking="as_needed"),
        HistoryLine(14, "Aspirin 81 mg", "1", "daily", "oral", taking="not_taking"),
    ]
    result = compare(history, [SIMVA, LISIN, METF])
    assert kinds(result) == [
        ("dose", 12, 3),
        ("frequency", 12, 3),
        ("route", 12, 3),
        ("omission", 13, None),
        ("commission", None, 2),
        ("duplication", 11, 1),
    ]
    dose = result.suggestions[0]
    assert dose.description == "Metformin: takes 2 tablets; the profile says 1 tablet."


def test_a_line_saying_not_taking_is_a_commission_on_its_row():
    history = [HistoryLine(10, "Lisinopril", "1 tablet", "daily", "oral", taking="not_taking")]
    result = compare(history, [LISIN])
    assert kinds(result) == [("commission", 10, 2)]
    assert len(result.rows) == 1 and result.rows[0].kinds == ["commission"]


def test_doses_in_different_units_are_not_guessed():
    history = [HistoryLine(10, "Simvastatin", "20 mg", "daily", "oral")]
    assert kinds(compare(history, [SIMVA])) == []


def test_two_sources_of_one_medication_are_not_a_duplication():
    history = [
        HistoryLine(
            10,
            "Simvastatin 20 mg Tablet",
            "1 tablet",
            "once daily",
            "oral",
            prescription_id=1,
            ingredients=frozenset({"simvastatin"}),
        ),
        HistoryLine(11, "simvastatin", "1 tab", "daily", "PO"),
    ]
    assert kinds(compare(history, [SIMVA])) == []


def test_as_needed_against_a_scheduled_profile_is_a_frequency_discrepancy():
    history = [HistoryLine(10, "Lisinopril", "1 tablet", "", "oral", taking="as_needed")]
    assert kinds(compare(history, [LISIN])) == [("frequency", 10, 2)]


NAMES = st.sampled_from(
    [
        "simvastatin",
        "lisinopril",
        "metformin",
        "amlodipine",
        "losartan",
        "atorvastatin",
        "sertraline",
        "levothyroxine",
        "omeprazole",
        "gabapentin",
    ]
)
DOSES = st.sampled_from(["1 tablet", "2 tablets", "1 capsule", "10 mg", "", "half a tab"])
FREQS = st.sampled_from(
    [
        "once daily",
        "twice daily",
        "3 times daily",
        "at bedtime",
        "every 6 hours as needed",
        "",
        "when needed",
    ]
)
ROUTES = st.sampled_from(["oral", "topical", "inhaled", "", "mouth"])


@st.composite
def profiles(draw: st.DrawFn) -> list[ProfileLine]:
    names = draw(st.lists(NAMES, max_size=6))
    return [
        ProfileLine(
            prescription_id=i + 1,
            drug_name=f"{name} {draw(st.integers(1, 80))} mg Tablet",
            dose=draw(DOSES),
            frequency=draw(FREQS),
            route=draw(ROUTES),
            ingredients=frozenset({name}) if draw(st.booleans()) else frozenset(),
        )
        for i, name in enumerate(names)
    ]


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(profiles(), st.booleans())
def test_a_history_identical_to_the_profile_has_no_discrepancy(profile, linked):
    history = [
        HistoryLine(
            key=100 + p.prescription_id,
            drug_name=p.drug_name,
            dose=p.dose,
            frequency=p.frequency,
            route=p.route,
            prescription_id=p.prescription_id if linked else None,
            ingredients=p.ingredients,
        )
        for p in profile
    ]
    result = compare(history, profile)
    assert result.suggestions == ()
    assert len(result.rows) == len(profile)


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(profiles())
def test_an_empty_history_is_all_commissions(profile):
    result = compare([], profile)
    assert [s.kind for s in result.suggestions] == ["commission"] * len(profile)
