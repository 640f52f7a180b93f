"""The DD check against the shipped ONC knowledge base (pure: the index is built from the
shipped CSV files, no database). The pair tests are generated from the data files, so a
rule or member lost in a change of the files or of the code fails here."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rxdesk.screening import kb
from rxdesk.screening.checks import interactions
from rxdesk.screening.kb import CLASS_PREFIX, OBJECT, PRECIPITANT, InteractionIndex, parse_kb
from rxdesk.screening.types import Context, Drug, Ingredient, Patient, Severity

HP, NI, LABELING = kb.SEEDS
HP_TEXT, NI_TEXT = kb.seed_text(HP), kb.seed_text(NI)
HP_KB, NI_KB = parse_kb(HP_TEXT), parse_kb(NI_TEXT)


def _index(seed: kb.Seed, text: str) -> InteractionIndex:
    return kb.index_from_csv(text, source_key=seed.key, name=seed.name, citation=seed.citation)


HP_INDEX = _index(HP, HP_TEXT)
NI_INDEX = _index(NI, NI_TEXT)
BOTH = InteractionIndex(
    by_term={
        t: HP_INDEX.get(t) + NI_INDEX.get(t) for t in set(HP_INDEX.by_term) | set(NI_INDEX.by_term)
    }
)
TODAY = dt.date(2025, 3, 3)


def drug(*names: str, classes: frozenset[str] = frozenset(), label: str = "") -> Drug:
    return Drug(
        label=label or " / ".join(names),
        ingredients=tuple(Ingredient(n) for n in names),
        classes=classes,
    )


def screen(index: InteractionIndex, proposed: Drug, *profile: Drug):
    ctx = Context(patient=Patient(), profile=profile, proposed=proposed, today=TODAY)
    return interactions.check(ctx, index)


def pairs(parsed: kb.ParsedKB, spec: kb.RuleSpec) -> list[tuple[str, str]]:
    """Every (object ingredient, precipitant ingredient) pair a rule implies, with classes
    expanded and a drug never paired with itself."""
    sides = spec.expanded(parsed.classes)
    objects = [t for t in sides[OBJECT] if not t.startswith(CLASS_PREFIX)]
    precipitants = [t for t in sides[PRECIPITANT] if not t.startswith(CLASS_PREFIX)]
    return [(o, p) for o, p in itertools.product(objects, precipitants) if o != p]


# --- Generated from the data files ------------------------------------------------------------


def test_the_high_priority_file_holds_the_fifteen_onc_rules():
    assert sorted(int(r.rule_id) for r in HP_KB.rules) == [
        3, 4, 6, 8, 11, 16, 20, 21, 22, 23, 25, 27, 28, 30, 31,
    ]  # fmt: skip
    assert all(
        Severity(r.severity) in {Severity.CONTRAINDICATED, Severity.MAJOR} for r in HP_KB.rules
    )
    assert len(NI_KB.rules) == 33
    assert {r.severity for r in NI_KB.rules} == {"minor"}


@pytest.mark.parametrize("spec", HP_KB.rules, ids=lambda s: f"rule-{s.rule_id}")
def test_every_high_priority_pair_interrupts_in_both_orders(spec):
    implied = pairs(HP_KB, spec)
    assert implied, "a rule with no pair"
    key = f"dd:{HP.key}:{spec.rule_id}|"
    for obj, pre in implied:
        for proposed, other in ((obj, pre), (pre, obj)):
            alerts = screen(HP_INDEX, drug(proposed), drug(other))
            mine = [a for a in alerts if a.key.startswith(key)]
            assert len(mine) == 1, (proposed, other, alerts)
            alert = mine[0]
            assert alert.interrupts
            assert alert.type == "DD"
            assert alert.severity == Severity(spec.severity)
            assert alert.key == key + "|".join(sorted((proposed, other)))
            assert alert.drugs == (proposed, other)
            assert alert.message == spec.message
            assert alert.source.startswith(HP.name)


@pytest.mark.parametrize("spec", NI_KB.rules, ids=lambda s: f"rule-{s.rule_id}")
def test_every_non_interruptive_pair_is_listed_as_minor_in_both_orders(spec):
    implied = pairs(NI_KB, spec)
    assert implied
    for obj, pre in implied:
        for proposed, other in ((obj, pre), (pre, obj)):
            alerts = screen(NI_INDEX, drug(proposed), drug(other))
            mine = [a for a in alerts if a.key.startswith(f"dd:{NI.key}:{spec.rule_id}|")]
            assert len(mine) == 1, (proposed, other)
            assert mine[0].severity == Severity.MINOR
            assert not mine[0].interrupts


# --- Known pairs and known safe pairs ---------------------------------------------------------


@pytest.mark.parametrize(
    ("proposed", "other", "rule"),
    [
        ("clarithromycin", "simvastatin", "25"),
        ("ciprofloxacin", "tizanidine", "28"),
        ("phenelzine", "sertraline", "8"),
        ("selegiline", "tramadol", "16"),
        ("omeprazole", "atazanavir", "4"),
        ("febuxostat", "azathioprine", "6"),
        ("rifampin", "ritonavir", "23"),
        ("st. john's wort", "darunavir", "23"),
        ("fluvoxamine", "ramelteon", "22"),
        ("methylene blue", "sumatriptan", "31"),
        ("amiodarone", "sotalol", "21"),
        ("methadone", "citalopram", "21"),
    ],
)
def test_known_serious_pairs_interrupt(proposed, other, rule):
    alerts = screen(BOTH, drug(proposed), drug(other))
    assert f"dd:{HP.key}:{rule}|{'|'.join(sorted((proposed, other)))}" in {a.key for a in alerts}
    assert alerts[0].interrupts


@pytest.mark.parametrize(
    ("proposed", "other"),
    [
        ("lisinopril", "metformin"),
        ("levothyroxine", "omeprazole"),
        ("acetaminophen", "amoxicillin"),
        ("atorvastatin", "metformin"),
        ("albuterol", "montelukast"),
        ("lisinopril", "levothyroxine"),
        ("cetirizine", "fluticasone"),
        ("amlodipine", "atorvastatin"),
        ("pravastatin", "clarithromycin"),  # only simvastatin and lovastatin are in rule 25
        ("famotidine", "atazanavir"),  # the panel took H2 blockers out of rule 4
    ],
)
def test_known_safe_pairs_stay_quiet(proposed, other):
    assert screen(BOTH, drug(proposed), drug(other)) == []
    assert screen(BOTH, drug(other), drug(proposed)) == []


def test_a_known_minor_pair_is_listed_not_interrupting():
    alerts = screen(BOTH, drug("ibuprofen"), drug("lisinopril"))
    assert [(a.key, a.severity) for a in alerts] == [
        (f"dd:{NI.key}:33|ibuprofen|lisinopril", Severity.MINOR)
    ]


def test_salt_names_from_the_file_were_corrected():
    terms = {
        t for spec in HP_KB.rules + NI_KB.rules for side in spec.members.values() for t in side
    }
    assert {"lisdexamfetamine", "esomeprazole", "voriconazole", "demecarium"} <= terms
    assert not terms & {"lisdexamefetamine", "esmoprazole", "voreconazole", "nsaid", "methacholine"}


# --- Behaviour --------------------------------------------------------------------------------


def test_a_drug_does_not_interact_with_itself():
    assert screen(HP_INDEX, drug("citalopram"), drug("citalopram")) == []
    # the same ingredient in a combination is not an interaction either
    assert screen(HP_INDEX, drug("citalopram", "acetaminophen"), drug("citalopram")) == []


def test_a_combination_interacts_through_its_other_ingredient():
    alerts = screen(HP_INDEX, drug("amiodarone", "citalopram"), drug("citalopram"))
    assert [a.key for a in alerts] == [f"dd:{HP.key}:21|amiodarone+citalopram|citalopram"]


def test_one_alert_per_rule_and_pair_of_drugs():
    # both ingredients of the proposed drug hit rule 25 against the same statin
    alerts = screen(HP_INDEX, drug("ritonavir", "lopinavir"), drug("simvastatin"))
    assert [a.key for a in alerts if ":25|" in a.key] == [
        f"dd:{HP.key}:25|lopinavir+ritonavir|simvastatin"
    ]
    # the same drug twice on the profile (two prescriptions) is one alert
    twice = screen(HP_INDEX, drug("clarithromycin"), drug("simvastatin"), drug("simvastatin"))
    assert len([a for a in twice if ":25|" in a.key]) == 1


def test_each_profile_drug_gets_its_own_alert_worst_first():
    alerts = screen(
        BOTH, drug("clarithromycin"), drug("simvastatin"), drug("lovastatin"), drug("warfarin")
    )
    assert [a.key for a in alerts] == [
        f"dd:{HP.key}:25|clarithromycin|lovastatin",
        f"dd:{HP.key}:25|clarithromycin|simvastatin",
    ]


def test_rxdesk_classes_match_class_terms():
    # vandetanib is not in the file: rxdesk's own class "qt_prolonging" puts it in rule 21
    newcomer = drug("vandetanib", classes=frozenset({"qt_prolonging"}))
    alerts = screen(HP_INDEX, newcomer, drug("sotalol"))
    assert [a.key for a in alerts] == [f"dd:{HP.key}:21|sotalol|vandetanib"]


def test_a_pharmacy_class_rule_matches_by_drug_classes_only():
    index = kb.index_from_csv(
        "kind,id,severity,object_label,precipitant_label,side,term,message,consequence,action\n"
        "rule,X1,major,Opioids,Benzodiazepines,object,class:opioid,Opioid with a benzo.,,\n"
        "rule,X1,,,,precipitant,class:benzodiazepine,,,\n",
        source_key="local",
        name="Local KB",
    )
    opioid = drug("oxycodone", classes=frozenset({"opioid"}))
    benzo = drug("alprazolam", classes=frozenset({"benzodiazepine"}))
    assert [a.key for a in screen(index, benzo, opioid)] == ["dd:local:X1|alprazolam|oxycodone"]
    assert screen(index, benzo, drug("oxycodone")) == []  # no class, no ingredient member


def test_nothing_without_a_profile_or_a_match():
    assert screen(HP_INDEX, drug("simvastatin")) == []
    assert screen(HP_INDEX, drug("unknown-thing"), drug("simvastatin")) == []


_TERMS = sorted(t for t in BOTH.by_term if not t.startswith(CLASS_PREFIX))


@settings(max_examples=300)
@given(st.sampled_from(_TERMS), st.sampled_from(_TERMS))
def test_the_order_of_the_two_drugs_never_matters(a, b):
    one = {(x.key, x.severity) for x in screen(BOTH, drug(a), drug(b))}
    two = {(x.key, x.severity) for x in screen(BOTH, drug(b), drug(a))}
    assert one == two
    if a == b:
        assert one == set()
