"""Drug–pregnancy (PG) and drug–lactation (NR), reference §6.2."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rxdesk.screening.checks import pregnancy
from rxdesk.screening.types import Context, Drug, Ingredient, Patient, Severity

D = Decimal
TODAY = dt.date(2026, 6, 1)
PREGNANT = Patient(birth_date=dt.date(1995, 3, 1), sex="F", pregnant=True)
NOT_PREGNANT = Patient(birth_date=dt.date(1995, 3, 1), sex="F")
NURSING = Patient(birth_date=dt.date(1995, 3, 1), sex="F", breastfeeding=True)


def drug(label: str, *names: str, daily: dict[str, str] | None = None, **kw) -> Drug:
    return Drug(
        label=label,
        ingredients=tuple(Ingredient(n) for n in names),
        daily_dose={k: D(v) for k, v in (daily or {}).items()},
        **kw,
    )


def screen(proposed: Drug, patient: Patient) -> list:
    return pregnancy.check(Context(patient, (), proposed, TODAY))


@pytest.mark.parametrize(
    "name",
    [
        "isotretinoin",
        "warfarin",
        "valproate",
        "divalproex",
        "valproic acid",
        "methotrexate",
        "lisinopril",
        "losartan",
        "aliskiren",
        "sacubitril",
        "misoprostol",
        "leflunomide",
        "mycophenolate mofetil",
        "thalidomide",
        "bosentan",
        "ribavirin",
        "acitretin",
    ],
)
def test_teratogens_are_contraindicated_in_pregnancy(name):
    (alert,) = screen(drug(name, name), PREGNANT)
    assert alert.type == "PG"
    assert alert.severity == Severity.CONTRAINDICATED
    assert alert.interrupts
    assert alert.key.startswith("pregnancy.")


@pytest.mark.parametrize(
    ("name", "severity"),
    [
        ("atorvastatin", Severity.MAJOR),
        ("carbamazepine", Severity.MAJOR),
        ("doxycycline", Severity.MAJOR),
        ("apixaban", Severity.MAJOR),
        ("lithium carbonate", Severity.MODERATE),
        ("paroxetine", Severity.MODERATE),
        ("ciprofloxacin", Severity.MODERATE),
        ("ibuprofen", Severity.MODERATE),
    ],
)
def test_other_risks_have_their_reference_severity(name, severity):
    (alert,) = screen(drug(name, name), PREGNANT)
    assert alert.severity == severity


@pytest.mark.parametrize(
    "name",
    [
        "acetaminophen",
        "amoxicillin",
        "cephalexin",
        "levothyroxine",
        "insulin glargine",
        "labetalol",
        "nifedipine",
        "sertraline",
        "folic acid",
        "enoxaparin",
    ],
)
def test_drugs_used_in_pregnancy_are_quiet(name):
    assert screen(drug(name, name), PREGNANT) == []


def test_low_dose_aspirin_is_exempt_from_the_nsaid_warning():
    assert screen(drug("aspirin 81 mg", "aspirin", daily={"aspirin": "81"}), PREGNANT) == []
    (alert,) = screen(drug("aspirin 325 mg", "aspirin", daily={"aspirin": "650"}), PREGNANT)
    assert alert.key == "pregnancy.nsaid|aspirin"


def test_fluconazole_single_dose_is_quiet_but_high_dose_is_listed():
    single = drug("fluconazole 150 mg", "fluconazole", daily={"fluconazole": "150"}, days_supply=1)
    high = drug("fluconazole 400 mg", "fluconazole", daily={"fluconazole": "400"}, days_supply=14)
    assert screen(single, PREGNANT) == []
    (alert,) = screen(high, PREGNANT)
    assert alert.severity == Severity.MODERATE


def test_live_vaccines_are_contraindicated():
    mmr = drug("M-M-R II", "measles virus vaccine live", "mumps virus vaccine live")
    (alert,) = screen(mmr, PREGNANT)
    assert alert.severity == Severity.CONTRAINDICATED


def test_topical_forms_do_not_alert():
    assert screen(drug("doxycycline gel", "doxycycline", route="topical"), PREGNANT) == []


def test_nothing_without_a_recorded_pregnancy():
    assert screen(drug("isotretinoin", "isotretinoin"), NOT_PREGNANT) == []


def test_a_male_record_never_gets_a_pregnancy_alert():
    male = Patient(sex="M", pregnant=True)  # a data-entry error, not a pregnancy
    assert screen(drug("isotretinoin", "isotretinoin"), male) == []


def test_unknown_sex_with_a_recorded_pregnancy_alerts():
    assert len(screen(drug("warfarin", "warfarin"), Patient(sex="U", pregnant=True))) == 1


def test_statins_while_breastfeeding():
    (alert,) = screen(drug("rosuvastatin 10 mg", "rosuvastatin"), NURSING)
    assert alert.type == "NR"
    assert alert.severity == Severity.MODERATE
    assert alert.key == "lactation.statin|rosuvastatin"
    assert screen(drug("sertraline", "sertraline"), NURSING) == []
    assert screen(drug("rosuvastatin", "rosuvastatin"), NOT_PREGNANT) == []


@given(st.sampled_from([r.rule for r in pregnancy.RULES]), st.booleans())
def test_every_rule_is_silent_for_males(rule_id, breastfeeding):
    rule = next(r for r in pregnancy.RULES if r.rule == rule_id)
    name = sorted(rule.names)[0]
    male = Patient(sex="M", pregnant=True, breastfeeding=breastfeeding)
    assert screen(drug(name, name), male) == []
    assert screen(drug(name, name), Patient(sex="F", pregnant=True)) != []
