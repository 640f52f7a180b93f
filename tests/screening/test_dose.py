"""Dose range: adult maxima (§5.2), pediatric mg/kg (§5.4), weekly drugs typed daily."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rxdesk.screening.checks import dose
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


def adult(age: int = 45, **kw) -> Patient:
    return Patient(birth_date=dt.date(TODAY.year - age, 1, 1), **kw)


def screen(proposed: Drug, patient: Patient | None = None, profile=()) -> list:
    return dose.check(Context(patient or adult(), tuple(profile), proposed, TODAY))


def test_it_allows_exactly_the_adult_maximum_and_alerts_one_mg_more():
    at_max = drug("acetaminophen 500 mg tablet", "acetaminophen", daily={"acetaminophen": "4000"})
    above = drug("acetaminophen 500 mg tablet", "acetaminophen", daily={"acetaminophen": "4001"})

    assert screen(at_max) == []
    (alert,) = screen(above)
    assert alert.type == "HD"
    assert alert.severity == Severity.MAJOR
    assert alert.interrupts
    assert "4001 mg/day of acetaminophen is above 4000 mg/day" in alert.message
    assert alert.key == "dose.max.hard|acetaminophen"
    assert "§5.2" in alert.source


def test_it_lists_a_soft_limit_for_older_adults_without_interrupting():
    apap = drug("acetaminophen 500 mg", "acetaminophen", daily={"acetaminophen": "3500"})
    assert screen(apap, adult(64)) == []
    (alert,) = screen(apap, adult(65))
    assert alert.severity == Severity.MODERATE
    assert not alert.interrupts
    assert alert.key == "dose.max.soft|acetaminophen"


@pytest.mark.parametrize(
    ("name", "ok", "too_much"),
    [
        ("ibuprofen", "3200", "3201"),
        ("meloxicam", "15", "15.5"),
        ("amlodipine", "10", "10.5"),
        ("sertraline", "200", "201"),
        ("gabapentin", "3600", "3601"),
        ("atorvastatin", "80", "81"),
        ("dabigatran", "300", "301"),
    ],
)
def test_it_checks_the_fixed_adult_maxima(name, ok, too_much):
    assert screen(drug(name, name, daily={name: ok})) == []
    (alert,) = screen(drug(name, name, daily={name: too_much}))
    assert (alert.type, alert.severity) == ("HD", Severity.MAJOR)


def test_it_reads_the_catalogs_moiety_names():
    # The catalog's base name for Pradaxa is "dabigatran etexilate".
    (alert,) = screen(
        drug("Pradaxa", "dabigatran etexilate", daily={"dabigatran etexilate": "450"})
    )
    assert alert.key == "dose.max.hard|dabigatran"


def test_it_uses_the_extended_release_maximum_for_er_products():
    ir = drug("metformin 1000 mg tablet", "metformin", daily={"metformin": "2500"})
    er = drug("metformin ER 500 mg tablet", "metformin", daily={"metformin": "2500"})
    assert screen(ir) == []
    (alert,) = screen(er)
    assert "2000 mg/day" in alert.message


def test_it_caps_citalopram_at_20_mg_over_60_years():
    cit = drug("citalopram 40 mg", "citalopram", daily={"citalopram": "40"})
    assert screen(cit, adult(60)) == []
    (alert,) = screen(cit, adult(61))
    assert alert.severity == Severity.MAJOR
    assert "over 60 years" in alert.message


def test_it_caps_simvastatin_with_a_co_prescribed_drug():
    simva = drug("simvastatin 20 mg", "simvastatin", daily={"simvastatin": "20"})
    dilt = drug("diltiazem 120 mg", "diltiazem")
    aml = drug("amlodipine 5 mg", "amlodipine")
    assert screen(simva) == []
    assert screen(simva, profile=[aml]) == []  # 20 mg is the cap with amlodipine
    (alert,) = screen(simva, profile=[dilt])
    assert alert.severity == Severity.MAJOR
    assert "diltiazem" in alert.message


def test_it_lists_zolpidem_above_5_mg_for_women_only():
    z = drug("zolpidem 10 mg", "zolpidem", daily={"zolpidem": "10"})
    assert screen(z, adult(40, sex="M")) == []
    (alert,) = screen(z, adult(40, sex="F"))
    assert alert.severity == Severity.MODERATE


def test_it_converts_naproxen_sodium_to_base():
    # 550 mg naproxen sodium BID = 1,000 mg naproxen base: the usual maximum, no alert.
    ns = drug("naproxen sodium 550 mg tablet", "naproxen", daily={"naproxen": "1100"})
    assert screen(ns) == []


def test_it_does_not_compare_topical_products_with_oral_maxima():
    gel = drug("diclofenac 1% gel", "diclofenac", daily={"diclofenac": "320"}, route="topical")
    assert screen(gel) == []


def test_it_is_silent_without_a_daily_dose():
    assert screen(drug("acetaminophen 500 mg", "acetaminophen")) == []


def test_it_hard_stops_methotrexate_typed_daily():
    mtx = drug(
        "methotrexate 2.5 mg tablet",
        "methotrexate",
        daily={"methotrexate": "7.5"},
        doses_per_day=D("3"),
        route="oral",
    )
    (alert,) = screen(mtx)
    assert alert.type == "HD"
    assert alert.severity == Severity.CONTRAINDICATED
    assert "once a WEEK" in alert.message
    assert alert.key == "dose.weekly-as-daily|methotrexate"


def test_it_accepts_weekly_methotrexate():
    mtx = drug(
        "methotrexate 2.5 mg tablet",
        "methotrexate",
        daily={"methotrexate": "15"},
        doses_per_day=D("1"),
        weekly=True,
    )
    assert screen(mtx) == []


def test_it_flags_weekly_alendronate_taken_daily_but_not_daily_strengths():
    weekly_daily = drug("alendronate 70 mg", "alendronate", daily={"alendronate": "70"})
    daily_10 = drug("alendronate 10 mg", "alendronate", daily={"alendronate": "10"})
    (alert,) = screen(weekly_daily)
    assert alert.severity == Severity.MAJOR
    assert screen(daily_10) == []
    assert (
        screen(drug("alendronate 70 mg", "alendronate", daily={"alendronate": "70"}, weekly=True))
        == []
    )


def child(age: int, weight: str | None) -> Patient:
    return Patient(
        birth_date=dt.date(TODAY.year - age, 1, 1),
        weight_kg=D(weight) if weight is not None else None,
    )


def test_it_checks_pediatric_mg_per_kg():
    # 20 kg child (reference problem 10): 90 mg/kg/day amoxicillin = 1,800 mg/day is allowed.
    amox_ok = drug("amoxicillin 400 mg/5 mL", "amoxicillin", daily={"amoxicillin": "1800"})
    amox_high = drug("amoxicillin 400 mg/5 mL", "amoxicillin", daily={"amoxicillin": "1801"})
    assert screen(amox_ok, child(4, "20")) == []
    (alert,) = screen(amox_high, child(4, "20"))
    assert alert.type == "HD"
    assert alert.severity == Severity.MAJOR
    assert "90.1 mg/kg/day" in alert.message
    assert alert.key == "dose.child.max|amoxicillin"


def test_it_checks_acetaminophen_75_mg_per_kg_for_children():
    # 10 kg: 750 mg/day is the maximum.
    ok = drug("acetaminophen 160 mg/5 mL", "acetaminophen", daily={"acetaminophen": "750"})
    high = drug("acetaminophen 160 mg/5 mL", "acetaminophen", daily={"acetaminophen": "800"})
    assert screen(ok, child(1, "10")) == []
    (alert,) = screen(high, child(1, "10"))
    assert alert.key == "dose.child.max|acetaminophen"  # one alert, not an adult one too


def test_it_caps_a_heavy_child_at_the_adult_maximum():
    apap = drug("acetaminophen 500 mg", "acetaminophen", daily={"acetaminophen": "4500"})
    (alert,) = screen(apap, child(16, "80"))
    assert alert.key == "dose.child.max|acetaminophen"
    assert "the most is 4000 mg/day" in alert.message


def test_it_asks_for_a_childs_missing_weight():
    ibu = drug("ibuprofen 100 mg/5 mL", "ibuprofen", daily={"ibuprofen": "400"})
    (alert,) = screen(ibu, child(5, None))
    assert alert.type == "MS"
    assert alert.severity == Severity.MODERATE
    assert "No weight on record" in alert.message
    # also when the daily dose is not worked out yet
    (alert,) = screen(drug("ibuprofen 100 mg/5 mL", "ibuprofen"), child(5, None))
    assert alert.type == "MS"


def test_it_does_not_ask_an_adults_weight_or_a_childs_for_non_weight_drugs():
    assert screen(drug("ibuprofen 200 mg", "ibuprofen", daily={"ibuprofen": "800"})) == []
    assert screen(drug("cetirizine 5 mg", "cetirizine"), child(5, None)) == []


def test_it_lists_a_low_pediatric_amoxicillin_dose():
    low = drug("amoxicillin 250 mg/5 mL", "amoxicillin", daily={"amoxicillin": "400"})
    (alert,) = screen(low, child(4, "20"))  # 20 mg/kg/day < 25
    assert (alert.type, alert.severity) == ("LD", Severity.MINOR)


@given(st.integers(min_value=1, max_value=8000))
def test_acetaminophen_alerts_exactly_above_4000(mg):
    alerts = screen(drug("apap", "acetaminophen", daily={"acetaminophen": str(mg)}))
    assert bool(alerts) == (mg > 4000)


@given(
    st.decimals(min_value=D("3"), max_value=D("80"), places=1),
    st.integers(min_value=1, max_value=6000),
)
def test_child_acetaminophen_limit_is_75_mg_per_kg_capped(weight, mg):
    alerts = screen(
        drug("apap", "acetaminophen", daily={"acetaminophen": str(mg)}), child(6, str(weight))
    )
    assert bool(alerts) == (D(mg) > min(D(75) * weight, D(4000)))


@pytest.mark.parametrize(
    "label",
    [
        "acetaminophen 500 mg gelcap",
        "acetaminophen 160 mg/5 mL infant drops",
        "Tylenol Extra Strength caplet, film-coated",
    ],
)
def test_oral_forms_with_misleading_words_are_still_checked(label):
    assert len(screen(drug(label, "acetaminophen", daily={"acetaminophen": "5000"}))) == 1


@pytest.mark.parametrize(
    ("label", "route"),
    [
        ("ketorolac 0.5% eye drops", ""),
        ("ketorolac 0.5% solution", "ophthalmic"),
        ("diclofenac 1% gel", ""),
    ],
)
def test_local_forms_are_not_compared_with_oral_maxima(label, route):
    name = label.split()[0]
    assert screen(drug(label, name, daily={name: "500"}, route=route)) == []


def test_methotrexate_by_injection_for_oncology_is_not_a_weekly_error():
    iv = drug(
        "methotrexate 25 mg/mL vial",
        "methotrexate",
        daily={"methotrexate": "50"},
        route="intravenous",
    )
    assert screen(iv) == []


def test_methotrexate_without_directions_is_quiet():
    assert screen(drug("methotrexate 2.5 mg tablet", "methotrexate")) == []


@pytest.mark.parametrize(
    ("label", "form", "route", "oral", "local", "er"),
    [
        ("acetaminophen 500 mg gelcap", "", "", True, False, False),
        ("timolol 0.5% eye drops", "", "", False, True, False),
        ("fentanyl 25 mcg/h patch", "", "", False, False, False),
        ("fentanyl 25 mcg/h", "", "transdermal", False, False, False),
        ("enoxaparin 40 mg/0.4 mL", "", "subcutaneous", False, False, False),
        ("metformin ER 500 mg", "", "oral", True, False, True),
        ("metoprolol succinate", "tablet, extended release", "", True, False, True),
        ("bupropion 150 mg 12 hr tablet", "", "", True, False, True),
        ("mupirocin 2% ointment", "", "topical", False, True, False),
    ],
)
def test_route_and_form_facts(label, form, route, oral, local, er):
    from rxdesk.screening.checks import _facts

    d = drug(label, "x", dosage_form=form, route=route)
    assert (_facts.is_oral(d), _facts.is_local(d), _facts.is_extended_release(d)) == (
        oral,
        local,
        er,
    )
