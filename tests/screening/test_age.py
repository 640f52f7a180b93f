"""Drug–age: Beers 2023 at 65+ (never interrupting) and pediatric age limits (§5.4)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from rxdesk.screening.checks import age
from rxdesk.screening.types import Context, Drug, Ingredient, Patient, Severity

D = Decimal
TODAY = dt.date(2026, 6, 1)


def drug(label: str, *names: str, daily: dict[str, str] | None = None, **kw) -> Drug:
    return Drug(
        label=label,
        ingredients=tuple(Ingredient(n) for n in names),
        daily_dose={k: D(v) for k, v in (daily or {}).items()},
        **kw,
    )


def aged(years: int, **kw) -> Patient:
    # Born on this day `years` ago: exactly that age today.
    return Patient(birth_date=TODAY.replace(year=TODAY.year - years), **kw)


def screen(proposed: Drug, patient: Patient, profile=()) -> list:
    return age.check(Context(patient, tuple(profile), proposed, TODAY))


def test_it_applies_beers_from_the_65th_birthday():
    dph = drug("diphenhydramine 25 mg capsule", "diphenhydramine")
    assert screen(dph, aged(64)) == []
    day_before = Patient(birth_date=dt.date(1961, 6, 2))  # 64 until tomorrow
    assert screen(dph, day_before) == []
    (alert,) = screen(dph, aged(65))
    assert alert.type == "PA"
    assert alert.severity == Severity.MODERATE
    assert not alert.interrupts
    assert alert.key == "age.beers.antihistamine-1st-gen|diphenhydramine"
    assert alert.source.startswith("AGS Beers Criteria 2023")


@pytest.mark.parametrize(
    "name",
    [
        "lorazepam",
        "zolpidem",
        "amitriptyline",
        "cyclobenzaprine",
        "glyburide",
        "quetiapine",
        "meperidine",
        "paroxetine",
        "metoclopramide",
        "hydroxyzine",
    ],
)
def test_beers_avoid_items_alert_moderate_and_never_interrupt(name):
    (alert,) = screen(drug(name, name), aged(80))
    assert alert.severity == Severity.MODERATE
    assert not alert.interrupts


@pytest.mark.parametrize(
    "name", ["lisinopril", "amlodipine", "atorvastatin", "levothyroxine", "apixaban", "sertraline"]
)
def test_safe_drugs_give_no_beers_alert(name):
    assert screen(drug(name, name), aged(80)) == []


def test_no_beers_alert_under_65_or_without_a_birth_date():
    assert screen(drug("lorazepam", "lorazepam"), aged(50)) == []
    assert screen(drug("lorazepam", "lorazepam"), Patient()) == []


def test_glipizide_is_the_preferred_sulfonylurea_and_only_minor():
    (alert,) = screen(drug("glipizide 5 mg", "glipizide"), aged(70))
    assert alert.severity == Severity.MINOR


def test_doxepin_only_above_6_mg():
    low = drug("doxepin 6 mg", "doxepin", daily={"doxepin": "6"})
    high = drug("doxepin 25 mg", "doxepin", daily={"doxepin": "25"})
    assert screen(low, aged(70)) == []
    assert len(screen(high, aged(70))) == 1


def test_digoxin_only_above_0_125_mg():
    assert screen(drug("digoxin", "digoxin", daily={"digoxin": "0.125"}), aged(70)) == []
    (alert,) = screen(drug("digoxin", "digoxin", daily={"digoxin": "0.25"}), aged(70))
    assert alert.key == "age.beers.digoxin-dose|digoxin"


def test_warfarin_only_when_started():
    warfarin = drug("warfarin 5 mg", "warfarin")
    assert len(screen(warfarin, aged(75))) == 1
    on_it = drug("warfarin 2 mg", "warfarin")
    assert screen(warfarin, aged(75), profile=[on_it]) == []


def test_nsaid_only_without_gastroprotection():
    ibu = drug("ibuprofen 400 mg", "ibuprofen")
    (alert,) = screen(ibu, aged(70))
    assert alert.key == "age.beers.nsaid-chronic|ibuprofen"
    assert screen(ibu, aged(70), profile=[drug("omeprazole 20 mg", "omeprazole")]) == []
    # topical NSAIDs act locally
    assert screen(drug("diclofenac 1% gel", "diclofenac", route="topical"), aged(70)) == []


def test_vaginal_estrogen_is_acceptable():
    assert screen(drug("estradiol vaginal cream", "estradiol", route="vaginal"), aged(70)) == []
    assert len(screen(drug("estradiol 1 mg tablet", "estradiol"), aged(70))) == 1


def test_nitrofurantoin_only_long_term():
    assert screen(drug("nitrofurantoin", "nitrofurantoin", days_supply=7), aged(70)) == []
    assert len(screen(drug("nitrofurantoin", "nitrofurantoin", days_supply=90), aged(70))) == 1


def test_codeine_and_tramadol_are_contraindicated_under_12():
    for name in ("codeine", "tramadol"):
        (alert,) = screen(drug(name, name), aged(11))
        assert alert.severity == Severity.CONTRAINDICATED
        assert alert.interrupts
        assert screen(drug(name, name), aged(12)) == []


def test_codeine_under_18_after_tonsillectomy():
    patient = aged(15, conditions=("tonsillectomy",))
    (alert,) = screen(drug("codeine", "codeine"), patient)
    assert alert.severity == Severity.CONTRAINDICATED
    assert screen(drug("codeine", "codeine"), aged(18, conditions=("tonsillectomy",))) == []


def test_promethazine_under_2():
    assert screen(drug("promethazine", "promethazine"), aged(1))[0].severity == (
        Severity.CONTRAINDICATED
    )
    assert screen(drug("promethazine", "promethazine"), aged(2)) == []


def test_aspirin_under_18():
    (alert,) = screen(drug("aspirin 81 mg", "aspirin"), aged(17))
    assert alert.severity == Severity.MAJOR
    assert "Reye" in alert.message
    assert screen(drug("aspirin 81 mg", "aspirin"), aged(18)) == []


def test_cough_cold_under_4():
    dm = drug("dextromethorphan syrup", "dextromethorphan")
    assert screen(dm, aged(1))[0].severity == Severity.MAJOR
    assert screen(dm, aged(3))[0].severity == Severity.MODERATE
    assert screen(dm, aged(4)) == []


def test_fluoroquinolones_under_18_and_tetracyclines_under_8():
    assert len(screen(drug("ciprofloxacin", "ciprofloxacin"), aged(17))) == 1
    assert screen(drug("ciprofloxacin", "ciprofloxacin"), aged(18)) == []
    assert len(screen(drug("doxycycline", "doxycycline"), aged(7))) == 1
    assert screen(drug("doxycycline", "doxycycline"), aged(8)) == []
    assert screen(drug("ciprofloxacin otic", "ciprofloxacin", route="otic"), aged(5)) == []


def test_safe_pediatric_drugs_are_quiet():
    for name in ("amoxicillin", "acetaminophen", "ibuprofen", "cetirizine"):
        assert screen(drug(name, name), aged(3)) == []


def test_every_beers_rule_has_members():
    assert all(rule.names for rule in age.BEERS)
