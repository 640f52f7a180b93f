"""The engine: every check over one context, one ranked, de-duplicated list (pure)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from rxdesk.screening import engine
from rxdesk.screening.classes import classes_of
from rxdesk.screening.kb import SEEDS, index_from_csv, seed_text
from rxdesk.screening.types import (
    RANK,
    Alert,
    AllergyFact,
    Context,
    Drug,
    Ingredient,
    Patient,
    Severity,
)

TODAY = dt.date(2025, 6, 2)


def _index():
    # The shipped ONC lists, straight from their files (no database).
    seeds = {s.key: s for s in SEEDS}
    hp = seeds["onc-high-priority"]
    return index_from_csv(seed_text(hp), source_key=hp.key, name=hp.name, citation=hp.citation)


INDEX = _index()


def drug(name: str, mg: str | None = None, *, daily: str | None = None, label: str = "") -> Drug:
    ingredient = Ingredient(
        name=name, strength=Decimal(mg) if mg else None, unit="mg" if mg else ""
    )
    return Drug(
        label=label or name,
        ingredients=(ingredient,),
        classes=classes_of(name),
        daily_dose={name: Decimal(daily)} if daily else {},
    )


def ctx(proposed: Drug, *profile: Drug, patient: Patient | None = None) -> Context:
    adult = Patient(birth_date=dt.date(1980, 1, 1), sex="F", weight_kg=Decimal("70"))
    return Context(patient=patient or adult, profile=profile, proposed=proposed, today=TODAY)


def alert(key: str, severity: Severity, type_: str = "DD") -> Alert:
    return Alert(
        type=type_,
        severity=severity,
        drugs=("a", "b"),
        message="m",
        consequence="c",
        action="a",
        source="s",
        key=key,
    )


# --- ranking and de-duplication -----------------------------------------------------------------


def test_it_ranks_interrupting_first_then_by_severity():
    found = engine.merge(
        [
            alert("k1", Severity.MINOR, "TD"),
            alert("k2", Severity.MAJOR, "ID"),
            alert("k3", Severity.MODERATE, "DD"),
            alert("k4", Severity.CONTRAINDICATED, "HD"),
            alert("k5", Severity.MAJOR, "DD"),
        ]
    )
    assert [a.key for a in found] == ["k4", "k5", "k2", "k3", "k1"]


def test_two_alerts_with_one_key_are_one_the_worse():
    found = engine.merge([alert("k", Severity.MODERATE), alert("k", Severity.MAJOR)])
    assert [(a.key, a.severity) for a in found] == [("k", Severity.MAJOR)]


@given(
    st.lists(
        st.tuples(
            st.sampled_from("abcdef"),
            st.sampled_from(list(Severity)),
            st.sampled_from(["DD", "TD", "HD"]),
        ),
        max_size=30,
    )
)
def test_merge_keeps_one_per_key_interrupting_first(raw):
    found = engine.merge([alert(k, s, t) for k, s, t in raw])
    assert len({a.key for a in found}) == len(found) == len({k for k, _, _ in raw})
    flags = [a.interrupts for a in found]
    assert flags == sorted(flags, reverse=True)
    for a in found:
        assert RANK[a.severity] == max(RANK[s] for k, s, _ in raw if k == a.key)


# --- the whole engine ---------------------------------------------------------------------------


def test_an_ssri_with_an_maoi_interrupts():
    found = engine.screen(ctx(drug("fluoxetine"), drug("phenelzine")), INDEX)
    dd = [a for a in found if a.type == "DD"]
    assert len(dd) == 1 and dd[0].interrupts
    assert set(dd[0].drugs) == {"fluoxetine", "phenelzine"}
    assert "Phansalkar 2012" in dd[0].source
    assert dd[0].key.endswith("|fluoxetine|phenelzine")
    assert found[0] == dd[0]


def test_known_safe_combinations_stay_quiet():
    # Common maintenance drugs together: no interaction, no duplication, usual doses.
    profile = (
        drug("lisinopril", "10", daily="10"),
        drug("atorvastatin", "20", daily="20"),
        drug("metformin", "500", daily="1000"),
    )
    found = engine.screen(ctx(drug("amlodipine", "5", daily="5"), *profile), INDEX)
    assert [a for a in found if a.interrupts] == []
    assert [a.type for a in found if a.type == "DD"] == []


def test_an_allergy_and_an_interaction_both_show_worst_first():
    patient = Patient(
        birth_date=dt.date(1980, 1, 1),
        sex="M",
        weight_kg=Decimal("80"),
        allergies=(AllergyFact(allergen="penicillin", kind="allergy"),),
    )
    found = engine.screen(ctx(drug("amoxicillin"), patient=patient), INDEX)
    assert [a.type for a in found if a.interrupts] == ["DA"]


def test_the_order_is_stable_across_runs():
    c = ctx(drug("tramadol", "50", daily="400"), drug("phenelzine"), drug("sertraline"))
    assert engine.screen(c, INDEX) == engine.screen(c, INDEX)


def test_every_check_runs():
    assert len(engine.checks()) == 8
