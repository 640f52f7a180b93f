"""Therapeutic duplication (TD), ingredient duplication (ID), acetaminophen total (HD)."""

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rxdesk.screening.checks import duplication
from rxdesk.screening.types import Context, Drug, Ingredient, Patient, Severity

TODAY = dt.date(2025, 6, 1)
ADULT = Patient(birth_date=dt.date(1980, 1, 1))


def drug(*names: str, label: str = "", apap=None, rx=None, route="", form="", daily=None) -> Drug:
    dose = dict(daily or {})
    if apap is not None:
        dose["acetaminophen"] = Decimal(apap)
    return Drug(
        label or " / ".join(names),
        tuple(Ingredient(n) for n in names),
        route=route,
        dosage_form=form,
        daily_dose=dose,
        prescription_id=rx,
    )


def screen(proposed: Drug, *profile: Drug, patient: Patient = ADULT):
    return duplication.check(
        Context(patient=patient, profile=profile, proposed=proposed, today=TODAY)
    )


def of_type(alerts, kind):
    return [a for a in alerts if a.type == kind]


# --- therapeutic duplication --------------------------------------------------------------


def test_it_alerts_two_nsaids_moderate():
    alerts = screen(
        drug("naproxen", label="naproxen 500 mg"), drug("ibuprofen", label="ibuprofen 800 mg")
    )
    assert len(alerts) == 1
    alert = alerts[0]
    assert alert.type == "TD"
    assert alert.severity == Severity.MODERATE
    assert alert.drugs == ("naproxen 500 mg", "ibuprofen 800 mg")
    assert alert.key == "td:nsaid|ibuprofen|naproxen"
    assert "two NSAIDs" in alert.message
    assert alert.source == duplication.SOURCE_TD


def test_celecoxib_duplicates_an_nsaid():
    assert [a.key for a in screen(drug("celecoxib"), drug("meloxicam"))] == [
        "td:nsaid|celecoxib|meloxicam"
    ]


def test_low_dose_aspirin_is_not_an_nsaid_duplicate_but_analgesic_aspirin_is():
    assert screen(drug("ibuprofen"), drug("aspirin", daily={"aspirin": Decimal(81)})) == []
    assert screen(drug("ibuprofen"), drug("aspirin")) == []  # dose unknown: quiet
    alerts = screen(drug("ibuprofen"), drug("aspirin", daily={"aspirin": Decimal(2600)}))
    assert [a.key for a in alerts] == ["td:nsaid|aspirin|ibuprofen"]


@pytest.mark.parametrize(
    "a,b,key,severity",
    [
        (
            "sertraline",
            "duloxetine",
            "td:serotonergic-antidepressant|duloxetine|sertraline",
            "moderate",
        ),
        ("alprazolam", "zolpidem", "td:sedative-hypnotic|alprazolam|zolpidem", "moderate"),
        ("lisinopril", "losartan", "td:raas|lisinopril|losartan", "major"),
        ("atorvastatin", "simvastatin", "td:statin|atorvastatin|simvastatin", "moderate"),
        ("omeprazole", "pantoprazole", "td:ppi|omeprazole|pantoprazole", "moderate"),
        ("omeprazole", "famotidine", "td:ppi-h2|famotidine|omeprazole", "minor"),
        ("apixaban", "warfarin", "td:anticoagulant|apixaban|warfarin", "major"),
        ("clopidogrel", "ticagrelor", "td:p2y12|clopidogrel|ticagrelor", "major"),
        (
            "oxybutynin",
            "tolterodine",
            "td:bladder-antimuscarinic|oxybutynin|tolterodine",
            "moderate",
        ),
        ("quetiapine", "risperidone", "td:antipsychotic|quetiapine|risperidone", "moderate"),
        ("clozapine", "aripiprazole", "td:antipsychotic|aripiprazole|clozapine", "minor"),
        ("glipizide", "glyburide", "td:sulfonylurea|glipizide|glyburide", "moderate"),
        ("sitagliptin", "semaglutide", "td:incretin|semaglutide|sitagliptin", "moderate"),
        ("metoprolol", "timolol", "td:beta-blocker|metoprolol|timolol", "moderate"),
        ("amlodipine", "nifedipine", "td:ccb-dhp|amlodipine|nifedipine", "moderate"),
        ("amlodipine", "diltiazem", "td:ccb-dhp-non-dhp|amlodipine|diltiazem", "minor"),
        ("levothyroxine", "liothyronine", "td:thyroid|levothyroxine|liothyronine", "minor"),
        (
            "cyclobenzaprine",
            "methocarbamol",
            "td:muscle-relaxant|cyclobenzaprine|methocarbamol",
            "moderate",
        ),
        ("sumatriptan", "rizatriptan", "td:triptan|rizatriptan|sumatriptan", "moderate"),
    ],
)
def test_duplicate_classes_of_the_reference(a, b, key, severity):
    for proposed, other in ((a, b), (b, a)):
        alerts = screen(drug(proposed), drug(other))
        assert [(x.key, x.severity.value) for x in alerts] == [(key, severity)]


def test_aliskiren_with_an_arb_in_diabetes_is_contraindicated():
    diabetic = Patient(birth_date=dt.date(1960, 1, 1), conditions=("type 2 diabetes",))
    alert = screen(drug("aliskiren"), drug("valsartan"), patient=diabetic)[0]
    assert alert.severity == Severity.CONTRAINDICATED
    icd = Patient(conditions=("E11.9",))
    assert screen(drug("aliskiren"), drug("lisinopril"), patient=icd)[0].severity == (
        Severity.CONTRAINDICATED
    )
    assert screen(drug("aliskiren"), drug("valsartan"))[0].severity == Severity.MAJOR


def test_inhaled_duplicates_need_two_inhaled_products():
    inh = {"route": "respiratory (inhalation)"}
    alerts = screen(drug("budesonide", **inh), drug("fluticasone", "salmeterol", **inh))
    assert [a.key for a in alerts] == ["td:ics|budesonide|fluticasone"]
    assert screen(drug("budesonide", **inh), drug("fluticasone", route="nasal")) == []


@pytest.mark.parametrize(
    "a,b",
    [
        ("insulin glargine", "insulin lispro"),  # basal + bolus
        ("metformin", "glipizide"),
        ("hydrochlorothiazide", "lisinopril"),
        ("lisinopril", "amlodipine"),
        ("albuterol", "fluticasone"),
        ("acetaminophen", "ibuprofen"),
        ("aspirin", "clopidogrel"),  # DAPT
        ("furosemide", "metolazone"),
        ("spironolactone", "lisinopril"),
        ("sertraline", "trazodone"),
        ("sertraline", "mirtazapine"),
        ("lisinopril", "metformin"),
        ("amlodipine", "atorvastatin"),
    ],
)
def test_intended_and_unrelated_combinations_do_not_alert(a, b):
    assert screen(drug(a), drug(b)) == []
    assert screen(drug(b), drug(a)) == []


# --- opioids --------------------------------------------------------------------------------


def test_two_long_acting_opioids_are_major():
    alert = screen(
        drug("oxycodone", label="oxycodone ER 20 mg tablet"),
        drug("morphine", label="morphine sulfate ER 30 mg tablet"),
    )[0]
    assert (alert.key, alert.severity) == (
        "td:opioid-long-acting|morphine|oxycodone",
        Severity.MAJOR,
    )
    patch = drug("fentanyl", label="fentanyl 25 mcg/h patch", route="transdermal")
    assert screen(drug("methadone"), patch)[0].severity == Severity.MAJOR


def test_er_plus_ir_opioid_is_intended_and_two_short_acting_is_minor():
    er = drug("oxycodone", label="oxycodone ER 20 mg tablet")
    assert screen(drug("hydromorphone", label="hydromorphone 2 mg tablet"), er) == []
    alerts = screen(
        drug("oxycodone", label="oxycodone 5 mg"), drug("hydromorphone", label="hydromorphone 2 mg")
    )
    assert [(a.key, a.severity) for a in alerts] == [
        ("td:opioid-short-acting|hydromorphone|oxycodone", Severity.MINOR)
    ]


def test_same_opioid_er_and_ir_is_a_minor_ingredient_duplicate():
    alerts = screen(
        drug("oxycodone", label="oxycodone 5 mg"), drug("oxycodone", label="oxycodone ER 20 mg")
    )
    assert [(a.type, a.severity) for a in alerts] == [("ID", Severity.MINOR)]


# --- ingredient duplication -----------------------------------------------------------------


def test_the_same_ingredient_in_two_products_is_a_moderate_id():
    alerts = screen(
        drug("warfarin", label="warfarin 1 mg"), drug("warfarin", label="warfarin 5 mg")
    )
    assert len(alerts) == 1
    alert = alerts[0]
    assert (alert.type, alert.severity) == ("ID", Severity.MODERATE)
    assert alert.drugs == ("warfarin 1 mg", "warfarin 5 mg")
    assert alert.key == "id:warfarin|warfarin 1 mg|warfarin 5 mg"
    assert alert.source == duplication.SOURCE_ID


def test_a_refill_of_the_same_prescription_never_duplicates_itself():
    assert screen(drug("warfarin", rx=7), drug("warfarin", rx=7)) == []
    assert screen(drug("naproxen", rx=7), drug("naproxen", rx=7), drug("ibuprofen", rx=8)) == [
        screen(drug("naproxen"), drug("ibuprofen"))[0]
    ]


def test_two_acetaminophen_products_under_the_maximum_is_a_moderate_id_with_the_total():
    alerts = screen(
        drug("hydrocodone", "acetaminophen", label="Norco", apap=1300),
        drug("acetaminophen", label="Tylenol 500", apap=2000),
    )
    assert [(a.type, a.severity) for a in alerts] == [("ID", Severity.MODERATE)]
    assert "Total daily acetaminophen: 3,300 mg" in alerts[0].message


def test_acetaminophen_total_unknown_is_said():
    alerts = screen(
        drug("acetaminophen", label="Tylenol", apap=1000),
        drug("acetaminophen", "diphenhydramine", label="Tylenol PM"),
    )
    assert "could not be computed" in alerts[0].message
    assert "Tylenol PM" in alerts[0].message


def test_acetaminophen_above_4000_mg_across_products_is_major_hd():
    alerts = screen(
        drug("oxycodone", "acetaminophen", label="Percocet 10/325", apap=2600),
        drug("acetaminophen", label="Tylenol ES 500", apap=3000),
    )
    hd = of_type(alerts, "HD")
    assert len(hd) == 1 and not of_type(alerts, "ID")
    assert hd[0].severity == Severity.MAJOR
    assert hd[0].interrupts
    assert "Total acetaminophen 5,600 mg/day" in hd[0].message
    assert "Percocet 10/325: 2,600 mg" in hd[0].message
    assert "4,000 mg/day" in hd[0].message


def test_exactly_4000_mg_is_not_above_the_maximum():
    alerts = screen(
        drug("acetaminophen", label="a", apap=2000), drug("acetaminophen", label="b", apap=2000)
    )
    assert [a.type for a in alerts] == ["ID"]
    alerts = screen(
        drug("acetaminophen", label="a", apap="2000.5"), drug("acetaminophen", label="b", apap=2000)
    )
    assert [a.type for a in alerts] == ["HD"]


def test_acetaminophen_above_3000_mg_is_moderate_for_an_older_adult_or_liver_disease():
    older = Patient(birth_date=dt.date(1950, 1, 1))
    pair = (
        drug("acetaminophen", label="a", apap=2000),
        drug("acetaminophen", label="b", apap=1500),
    )
    alert = of_type(screen(*pair, patient=older), "HD")[0]
    assert alert.severity == Severity.MODERATE
    assert not alert.interrupts
    liver = Patient(birth_date=dt.date(1980, 1, 1), conditions=("K70.30",))
    assert of_type(screen(*pair, patient=liver), "HD")[0].severity == Severity.MODERATE
    assert of_type(screen(*pair), "HD") == []


def test_a_child_is_limited_to_75_mg_per_kg():
    child = Patient(birth_date=dt.date(2019, 1, 1), weight_kg=Decimal(20))  # 1,500 mg/day
    pair = (drug("acetaminophen", label="a", apap=800), drug("acetaminophen", label="b", apap=800))
    alert = of_type(screen(*pair, patient=child), "HD")[0]
    assert alert.severity == Severity.MAJOR
    assert "1,500 mg/day" in alert.message
    assert duplication.apap_limit(Context(child, (), pair[0], TODAY)) == (Decimal(1500), None)


def test_a_single_acetaminophen_product_is_the_dose_checks_business():
    assert screen(drug("acetaminophen", apap=6000)) == []


@given(
    st.lists(st.integers(min_value=0, max_value=3000), min_size=2, max_size=5),
    st.permutations(range(5)),
)
def test_the_acetaminophen_total_is_additive_and_order_free(doses, order):
    drugs = [drug("acetaminophen", label=f"p{i}", apap=d) for i, d in enumerate(doses)]
    ordered = [drugs[i] for i in order if i < len(drugs)]
    first = screen(ordered[0], *ordered[1:])
    total = sum(doses)
    fires = total > 4000
    assert bool(of_type(first, "HD")) == fires
    if fires:
        assert f"Total acetaminophen {total:,} mg/day" in first[0].message


def test_a_topical_product_makes_the_duplicate_minor_except_timolol_eye_drops():
    gel = drug("diclofenac", label="diclofenac 1% gel", route="topical")
    assert [(a.key, a.severity) for a in screen(drug("ibuprofen"), gel)] == [
        ("td:nsaid|diclofenac|ibuprofen", Severity.MINOR)
    ]
    assert [a.severity for a in screen(drug("diclofenac"), gel)] == [Severity.MINOR]
    drops = drug("timolol", label="timolol 0.5% eye drops", route="ophthalmic")
    assert [a.severity for a in screen(drug("metoprolol"), drops)] == [Severity.MODERATE]
