"""Matching what a SCRIPT message names to the patients, prescribers and packages on file:
certain matches are found, anything less gives candidates and a note in plain words."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from rxdesk.interop import script
from rxdesk.rx.matching import MAX_CANDIDATES, match_drug, match_patient, match_prescriber
from tests.catalog.factories import PackageFactory, ProductFactory
from tests.factories import PatientFactory, PrescriberFactory

pytestmark = pytest.mark.django_db

DOB = dt.date(1980, 1, 2)


def them(last: str = "DOE", first: str = "JANE", dob: dt.date = DOB) -> script.Patient:
    return script.Patient(name=script.Name(last, first), gender="F", date_of_birth=dob)


def doctor(
    last: str = "OKAFOR",
    first: str = "MARGARET",
    npi: str | None = "1234567893",
    dea: str | None = None,
) -> script.Prescriber:
    return script.Prescriber(name=script.Name(last, first), npi=npi, dea_number=dea)


def drug(ndc: str | None, description: str = "Prozac 20 mg capsule") -> script.Medication:
    return script.Medication(
        drug_description=description,
        quantity=script.Quantity(Decimal(30), "38", "C48480"),
        written_date=dt.date(2025, 1, 1),
        substitutions=0,
        sig=script.Sig("Take 1 capsule by mouth once daily."),
        product_code=script.Code(ndc, "ND") if ndc else None,
    )


# --- Patients --------------------------------------------------------------------------------


def test_a_patient_is_found_by_exact_name_and_birth_date(site):
    jane = PatientFactory(site=site, first_name="Jane", last_name="Doe", date_of_birth=DOB)
    found = match_patient(site, them())
    assert (found.found, found.candidates, found.note) == (jane, [], "")


def test_case_accents_and_punctuation_do_not_matter(site):
    pat = PatientFactory(site=site, first_name="José", last_name="O'Brien-Núñez", date_of_birth=DOB)
    assert match_patient(site, them("OBRIEN NUNEZ", "JOSE")).found == pat


def test_another_birth_date_gives_candidates_not_a_match(site):
    jane = PatientFactory(site=site, first_name="Jane", last_name="Doe", date_of_birth=DOB)
    found = match_patient(site, them(dob=dt.date(1980, 2, 1)))
    assert found.found is None and found.candidates == [jane]
    assert "No patient on file is exactly DOE, JANE (born 02/01/1980)" in found.note


def test_same_birth_date_and_last_name_is_a_candidate_first(site):
    janet = PatientFactory(site=site, first_name="Janet", last_name="Doe", date_of_birth=DOB)
    other_dob = PatientFactory(
        site=site, first_name="Jane", last_name="Doe", date_of_birth=dt.date(1990, 1, 1)
    )
    married = PatientFactory(site=site, first_name="Jane", last_name="Smith", date_of_birth=DOB)
    PatientFactory(site=site, first_name="Ann", last_name="Lee", date_of_birth=DOB)
    found = match_patient(site, them())
    assert found.found is None
    assert found.candidates == [janet, married, other_dob]


def test_two_identical_patients_are_not_guessed_between(site):
    a = PatientFactory(site=site, first_name="Jane", last_name="Doe", date_of_birth=DOB)
    b = PatientFactory(site=site, first_name="Jane", last_name="Doe", date_of_birth=DOB)
    found = match_patient(site, them())
    assert found.found is None and found.candidates == [a, b]
    assert found.note.startswith("2 patients on file are named DOE, JANE")


def test_an_inactive_patient_is_shown_not_matched(site):
    gone = PatientFactory(
        site=site, first_name="Jane", last_name="Doe", date_of_birth=DOB, status="deceased"
    )
    found = match_patient(site, them())
    assert found.found is None and found.candidates == [gone]
    assert "deceased" in found.note


def test_patients_of_another_pharmacy_are_never_candidates(site, other_site):
    PatientFactory(site=other_site, first_name="Jane", last_name="Doe", date_of_birth=DOB)
    found = match_patient(site, them())
    assert found.found is None and found.candidates == []
    assert "Add the patient from the message" in found.note


def test_candidates_are_at_most_ten(site):
    for n in range(15):
        PatientFactory(site=site, first_name=f"Jan{n}", last_name="Doe", date_of_birth=DOB)
    assert len(match_patient(site, them()).candidates) == MAX_CANDIDATES


# --- Prescribers -----------------------------------------------------------------------------


def test_a_prescriber_is_found_by_npi(site):
    okafor = PrescriberFactory(site=site)
    found = match_prescriber(site, doctor(last="OKAFOR-SMITH"))
    assert found.found == okafor and found.note == ""


def test_an_inactive_prescriber_is_a_candidate(site):
    okafor = PrescriberFactory(site=site, active=False)
    found = match_prescriber(site, doctor())
    assert found.found is None and found.candidates == [okafor]
    assert "marked inactive" in found.note


def test_without_the_npi_the_dea_number_and_last_name_match(site):
    okafor = PrescriberFactory(site=site, npi="1555555550", dea_number="BO1234563")
    found = match_prescriber(site, doctor(dea="BO1234563"))
    assert found.found == okafor


def test_a_dea_number_of_someone_else_is_only_a_candidate(site):
    okafor = PrescriberFactory(site=site, npi="1555555550", dea_number="BO1234563")
    found = match_prescriber(site, doctor(last="SMITH", first="ANN", dea="BO1234563"))
    assert found.found is None and found.candidates == [okafor]
    assert "DEA number BO1234563 is on file for Margaret Okafor, MD" in found.note


def test_an_unknown_npi_lists_prescribers_of_the_same_name(site):
    okafor = PrescriberFactory(site=site, npi="1555555550")
    PrescriberFactory(site=site, npi="1111111112", last_name="Lee")
    found = match_prescriber(site, doctor())
    assert found.found is None and found.candidates == [okafor]
    assert "No prescriber on file has NPI 1234567893" in found.note


def test_nobody_like_the_prescriber(site):
    found = match_prescriber(site, doctor())
    assert found.found is None and found.candidates == []
    assert "Add the prescriber" in found.note


# --- Drugs -----------------------------------------------------------------------------------


def test_a_drug_is_found_by_its_11_digit_ndc():
    package = PackageFactory()
    assert match_drug(drug("00002322730")).found == package


def test_a_hyphenated_10_digit_ndc_is_read_too():
    package = PackageFactory()
    assert match_drug(drug("0002-3227-30")).found == package


def test_an_unknown_package_of_a_known_product_gives_its_packages():
    product = ProductFactory()
    thirty = PackageFactory(product=product, ndc10="0002-3227-30")
    ninety = PackageFactory(product=product, ndc10="0002-3227-90")
    found = match_drug(drug("00002322799"))
    assert found.found is None
    assert found.candidates[:2] == [thirty, ninety]
    assert "NDC 00002-3227-99 (Prozac 20 mg capsule) is not in the drug catalog" in found.note


def test_a_name_alone_is_never_a_match():
    product = ProductFactory()
    PackageFactory(product=product, ndc10="0002-3227-60", active=False)
    first = PackageFactory(product=product, ndc10="0002-3227-30")
    PackageFactory(product=product, ndc10="0002-3227-90")
    found = match_drug(drug(None))
    assert found.found is None
    assert found.candidates == [first]  # the first active package of the product
    assert "gives no NDC" in found.note


def test_a_description_with_words_the_catalog_lacks_still_finds_the_product():
    package = PackageFactory()
    found = match_drug(drug(None, "Prozac 20 MG Oral Capsule"))
    assert found.candidates == [package]


def test_nothing_like_the_drug():
    PackageFactory()
    found = match_drug(drug("00999000101", "Zyxoquil 5 mg tablet"))
    assert found.found is None and found.candidates == []
    assert "Search the catalog" in found.note
