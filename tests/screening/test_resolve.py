"""From the catalog, the patient record and prescriptions to screening's Drug and Patient."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from hypothesis import given
from hypothesis import strategies as st

from rxdesk.core.errors import Invalid
from rxdesk.patients.models import Allergy, Condition, Measurement
from rxdesk.screening import resolve
from tests.catalog.factories import PackageFactory, ProductFactory
from tests.factories import PatientFactory
from tests.rx.factories import dispense, first_fill
from tests.screening.helpers import on_profile, package, prescribe

pytestmark = pytest.mark.django_db

# --- strengths (pure) ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "unit", "expected"),
    [
        ("20", "mg/1", (Decimal("20"), "mg")),
        ("160", "mg/5mL", (Decimal("32"), "mg/mL")),
        ("25", "ug/1", (Decimal("0.025"), "mg")),
        ("1", "g/1", (Decimal("1000"), "mg")),
        ("100", "mg/mL", (Decimal("100"), "mg/mL")),
        ("100", "[iU]/mL", (Decimal("100"), "[iU]/mL")),
        ("", "mg/1", (None, "mg/1")),
    ],
)
def test_it_reads_directory_strengths_as_mg(amount, unit, expected):
    assert resolve.strength_mg(amount, unit) == expected


@given(st.decimals(min_value=Decimal("0.001"), max_value=Decimal("100000"), places=3))
def test_a_mg_strength_per_unit_is_itself(value):
    assert resolve.strength_mg(str(value), "mg/1") == (value.normalize(), "mg")


@given(st.integers(min_value=1, max_value=50_000))
def test_micrograms_are_thousandths_of_a_mg(value):
    mg, unit = resolve.strength_mg(str(value), "ug/1")
    assert unit == "mg" and mg * 1000 == value


# --- by NDC, by ingredient ---------------------------------------------------------------------


def test_an_ndc_gives_the_products_base_ingredients_and_classes():
    PackageFactory()  # Prozac 20 mg, FLUOXETINE HYDROCHLORIDE, no ingredient rows
    drug = resolve.drug_from_ndc("0002-3227-30")
    assert drug.names == {"fluoxetine"}
    assert drug.ingredients[0].strength == Decimal("20") and drug.ingredients[0].unit == "mg"
    assert "ssri" in drug.classes
    assert drug.ndc == "00002322730" and drug.route == "oral"
    assert resolve.drug_from_ndc("00002322730") == drug


def test_a_combination_product_gives_every_ingredient():
    product = ProductFactory(
        name="Norco",
        generic_name="Hydrocodone Bitartrate and Acetaminophen",
        substances="HYDROCODONE BITARTRATE; ACETAMINOPHEN",
        strength="5 mg/1; 325 mg/1",
        directory_dea_schedule="CII",
    )
    PackageFactory(product=product, ndc10="0074-3041-13")
    drug = resolve.drug_from_ndc("0074-3041-13")
    assert {i.name: i.strength for i in drug.ingredients} == {
        "hydrocodone": Decimal("5"),
        "acetaminophen": Decimal("325"),
    }
    assert drug.schedule == "CII"


@pytest.mark.parametrize(
    ("ndc", "words"),
    [("12-34", "not an NDC"), ("0002-9999-99", "not in the catalog"), ("", "Give an NDC")],
)
def test_a_bad_or_unknown_ndc_names_the_field(ndc, words):
    with pytest.raises(Invalid) as exc:
        resolve.drug_from_ndc(ndc, field="patient.medications.2.ndc")
    assert exc.value.errors[0]["field"] == "patient.medications.2.ndc"
    assert words in exc.value.message


@pytest.mark.parametrize("typed", ["Warfarin", "WARFARIN", " warfarin ", "warfarin sodium"])
def test_an_ingredient_is_its_generic_name_in_any_case(typed):
    drug = resolve.drug_from_ingredient(typed)
    assert drug.names == {"warfarin"} and drug.label == "warfarin"


def test_an_unknown_ingredient_names_the_field():
    with pytest.raises(Invalid) as exc:
        resolve.drug_from_ingredient("Prozacc", field="proposed.ingredient")
    assert exc.value.errors[0]["field"] == "proposed.ingredient"
    assert "generic" in exc.value.message


def test_an_ingredient_only_in_the_catalog_is_known():
    package("Zzquil", "DOXYLAMINE SUCCINATE", "25")
    assert resolve.drug_from_ingredient("doxylamine").names == {"doxylamine"}


# --- prescriptions -----------------------------------------------------------------------------


def test_a_prescriptions_daily_dose_is_units_a_day_times_strength(technician, site):
    patient = PatientFactory(site=site)
    pkg = package("Tylenol", "ACETAMINOPHEN", "500")
    drug = resolve.drug_from_prescription(prescribe(technician, patient, pkg, "2 T PO QID"))
    assert drug.daily_dose == {"acetaminophen": Decimal("4000.000")}
    assert drug.doses_per_day == 4 and drug.weekly is False


def test_a_liquid_dose_uses_mg_per_ml(technician, site):
    patient = PatientFactory(site=site)
    pkg = package("Amoxil", "AMOXICILLIN", "250", "mg/5mL", form="SUSPENSION")
    drug = resolve.drug_from_prescription(prescribe(technician, patient, pkg, "1 TSP PO TID"))
    assert drug.daily_dose == {"amoxicillin": Decimal("750.000")}


def test_weekly_directions_are_weekly(technician, site):
    patient = PatientFactory(site=site)
    pkg = package("Trexall", "METHOTREXATE SODIUM", "2.5")
    drug = resolve.drug_from_prescription(prescribe(technician, patient, pkg, "4 T PO QWK"))
    assert drug.weekly is True
    assert drug.daily_dose == {"methotrexate": Decimal("1.429")}  # 10 mg a week


def test_daily_methotrexate_is_not_weekly(technician, site):
    patient = PatientFactory(site=site)
    pkg = package("Trexall", "METHOTREXATE SODIUM", "2.5")
    drug = resolve.drug_from_prescription(prescribe(technician, patient, pkg, "1 T PO DAILY"))
    assert drug.weekly is False and drug.daily_dose == {"methotrexate": Decimal("2.500")}


def test_last_filled_comes_from_the_latest_dispensed_fill(technician, site):
    patient = PatientFactory(site=site)
    rx = on_profile(technician, patient, package("Zocor", "SIMVASTATIN", "20"), days_ago=20)
    drug = resolve.drug_from_prescription(rx)
    assert drug.last_filled == site.today() - dt.timedelta(days=20)
    assert drug.days_supply == 30 and drug.prescription_id == rx.pk
    # Screening that very fill: its own dispensing is not its history.
    assert resolve.drug_from_prescription(rx, first_fill(rx)).last_filled is None


def test_the_profile_holds_what_the_patient_still_has(technician, site):
    patient = PatientFactory(site=site)
    current = on_profile(technician, patient, package("Zocor", "SIMVASTATIN", "20"), days_ago=40)
    on_profile(technician, patient, package("Lasix", "FUROSEMIDE", "20"), days_ago=46)
    prescribe(technician, patient, package("Norvasc", "AMLODIPINE BESYLATE", "5"))  # never filled
    profile = resolve.profile_of(patient)
    # 30 days' supply × 1.5 = 45 days: 40 days ago counts, 46 does not.
    assert [d.names for d in profile] == [frozenset({"simvastatin"})]
    assert resolve.profile_of(patient, exclude_rx=current) == ()


def test_a_discontinued_prescription_is_off_the_profile(technician, site):
    patient = PatientFactory(site=site)
    rx = on_profile(technician, patient, package("Zocor", "SIMVASTATIN", "20"))
    type(rx).objects.filter(pk=rx.pk).update(status="inactive")
    assert resolve.profile_of(patient) == ()


def test_a_fill_not_yet_sold_is_not_history(technician, site):
    patient = PatientFactory(site=site)
    rx = prescribe(technician, patient, package("Zocor", "SIMVASTATIN", "20"))
    assert resolve.profile_of(patient) == ()
    dispense(first_fill(rx), site.today())
    assert len(resolve.profile_of(patient)) == 1


# --- the patient -------------------------------------------------------------------------------


def test_patient_facts_read_the_record(site, technician):
    patient = PatientFactory(
        site=site,
        date_of_birth=dt.date(1950, 4, 1),
        sex="F",
        pregnancy_status="pregnant",
        lactation_status="lactating",
    )
    Measurement.objects.create(
        patient=patient, kind="weight", value=Decimal("60"), measured_on=dt.date(2020, 1, 1)
    )
    Measurement.objects.create(
        patient=patient, kind="weight", value=Decimal("72.5"), measured_on=dt.date(2024, 1, 1)
    )
    Measurement.objects.create(
        patient=patient, kind="height", value=Decimal("165"), measured_on=dt.date(2024, 1, 1)
    )
    Allergy.objects.create(
        patient=patient, allergen="Penicillins", allergen_kind="class", allergy_type="allergy"
    )
    Allergy.objects.create(
        patient=patient,
        allergen="CODEINE PHOSPHATE",
        allergen_kind="ingredient",
        allergy_type="intolerance",
    )
    Allergy.objects.create(
        patient=patient,
        allergen="Sulfa",
        allergen_kind="class",
        allergy_type="allergy",
        active=False,
    )
    Condition.objects.create(patient=patient, icd10="I50.9", description="Heart failure")
    Condition.objects.create(patient=patient, description="Asthma", status="resolved")

    facts = resolve.patient_facts(patient)

    assert facts.birth_date == dt.date(1950, 4, 1) and facts.sex == "F"
    assert facts.weight_kg == Decimal("72.5") and facts.height_cm == Decimal("165")
    assert facts.pregnant is True and facts.breastfeeding is True
    assert [(a.allergen, a.kind) for a in facts.allergies] == [
        ("penicillins", "allergy"),
        ("codeine", "intolerance"),
    ]
    assert facts.conditions == ("I50.9", "heart failure")
    assert facts.serum_creatinine_mg_dl is None  # none on the record: never guessed

    Measurement.objects.create(
        patient=patient, kind="scr", value=Decimal("1.80"), measured_on=dt.date(2024, 1, 1)
    )
    assert resolve.patient_facts(patient).serum_creatinine_mg_dl == Decimal("1.80")


def test_the_latest_measurement_is_the_patients_own_and_the_last_recorded_that_day(site):
    patient, other = PatientFactory(site=site), PatientFactory(site=site)
    day = dt.date(2024, 1, 1)
    for value in ("70", "71"):
        Measurement.objects.create(
            patient=patient, kind="weight", value=Decimal(value), measured_on=day
        )
    # Another patient's newer weight and only creatinine are not this patient's.
    Measurement.objects.create(
        patient=other, kind="weight", value=Decimal("99"), measured_on=dt.date(2025, 1, 1)
    )
    Measurement.objects.create(patient=other, kind="scr", value=Decimal("3"), measured_on=day)

    facts = resolve.patient_facts(patient)

    assert facts.weight_kg == Decimal("71") and facts.serum_creatinine_mg_dl is None
    assert resolve.patient_facts(other).weight_kg == Decimal("99")


def test_the_profile_is_read_in_the_same_statements_whatever_its_size(site, technician):
    def statements(size: int) -> int:
        patient = PatientFactory(site=site)
        for n in range(size):
            on_profile(technician, patient, package(f"Drug{size}x{n}", f"TESTAMINE {size}X{n}"))
        with CaptureQueriesContext(connection) as captured:
            drugs = resolve.profile_of(patient)
        assert len(drugs) == size
        return len(captured)

    assert statements(1) == statements(6)


def test_an_unknown_status_is_not_pregnant(site):
    facts = resolve.patient_facts(PatientFactory(site=site))
    assert facts.pregnant is False and facts.breastfeeding is False
    assert facts.weight_kg is None and facts.allergies == ()
