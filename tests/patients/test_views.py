"""The patient and prescriber screens: each renders for the roles that may use it, refuses
the others with a 403 and writes nothing, shows a broken rule beside its field (again
writing nothing), and opening a record logs exactly one PHI access."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse

from rxdesk.core.choices import Role
from rxdesk.core.models import AuditEvent, User
from rxdesk.demo import fake_npi
from rxdesk.patients.choices import AllergyStatus
from rxdesk.patients.models import (
    Allergy,
    Condition,
    Coverage,
    Measurement,
    Patient,
    PatientIdentifier,
    Prescriber,
    PrescriberAddress,
)
from tests.factories import AllergyFactory, PatientFactory, PrescriberFactory, UserFactory

READERS = [Role.TECHNICIAN, Role.TECHNICIAN_IN_TRAINING, Role.PHARMACIST, Role.PHARMACIST_IN_CHARGE]
NO_PATIENT_ACCESS = [Role.INVENTORY_SPECIALIST, Role.AUDITOR, Role.ADMIN]
PRESCRIBER_WRITERS = [Role.TECHNICIAN, Role.PHARMACIST, Role.PHARMACIST_IN_CHARGE]

# A valid NPI, and valid DEA numbers: B + O for Okafor, and one whose second letter (X) is
# not the last name's initial.
NPI = "1234567893"
DEA_OKAFOR = "BO1234563"
DEA_MISMATCH = "BX1234563"


@pytest.fixture(autouse=True)
def _plain_http(settings):
    """The test client speaks plain HTTP: no redirect to HTTPS."""
    settings.SECURE_SSL_REDIRECT = False


def sign_in(client: Client, user: User) -> Client:
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    return client


def writes() -> tuple[int, int]:
    """(patients + allergies + … rows, audit events): what a refused request must not move."""
    rows = sum(
        m.objects.count()
        for m in (
            Patient,
            Allergy,
            Condition,
            Measurement,
            Coverage,
            PatientIdentifier,
            Prescriber,
            PrescriberAddress,
        )
    )
    return rows, AuditEvent.objects.count()


def events(action: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=action).order_by("seq"))


def patient_form(**overrides: str) -> dict[str, str]:
    data = {
        "last_name": "Smith",
        "first_name": "Joanna",
        "date_of_birth": "05/17/1970",
        "sex": "F",
        "address_line1": "12 Elm Street",
        "city": "Springfield",
        "state": "il",
        "postal_code": "62702",
        "phone_mobile": "(217) 555-2001",
        "preferred_language": "en",
        "pregnancy_status": "not_pregnant",
        "lactation_status": "unknown",
        "contact_method": "sms",
        "privacy_notice": "signed",
        "privacy_notice_on": "01/05/2026",
        "refill_reminders": "on",
    }
    data.update(overrides)
    return data


@pytest.fixture
def patient(site) -> Patient:
    return PatientFactory(
        site=site,
        first_name="Joanna",
        last_name="Smith",
        date_of_birth=dt.date(1970, 5, 17),
        phone_mobile="2175552001",
    )


# --- Patient list and search ------------------------------------------------------------------


@pytest.mark.parametrize("role", READERS)
def test_it_finds_a_patient_by_name_for_every_role_that_reads_patients(
    client, personas, patient, role
):
    sign_in(client, personas[role])
    response = client.get(reverse("patient_list"), {"q": "smith, jo"})
    assert response.status_code == 200
    assert "patients/patient_list.html" in [t.name for t in response.templates]
    assert reverse("patient_detail", args=[patient.pk]) in response.text
    assert "data-search" in response.text


@pytest.mark.parametrize("role", NO_PATIENT_ACCESS)
def test_it_refuses_the_patient_list_to_roles_without_patient_access(
    client, personas, patient, role
):
    sign_in(client, personas[role])
    response = client.get(reverse("patient_list"), {"q": "smith"})
    assert response.status_code == 403
    assert "Smith" not in response.text


def test_it_sends_anonymous_users_to_sign_in(client):
    response = client.get(reverse("patient_list"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_it_answers_htmx_with_the_results_fragment_only(client, technician, patient):
    sign_in(client, technician)
    response = client.get(reverse("patient_list"), {"q": "smi"}, headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert [t.name for t in response.templates] == ["patients/_patient_results.html"]
    assert "<html" not in response.text
    assert "Smith</strong>, Joanna" in response.text


@pytest.mark.parametrize("q", ["05/17/1970", "1970-05-17", "217-555-2001", "5552001"])
def test_it_finds_a_patient_by_birth_date_or_phone(client, technician, patient, q):
    PatientFactory(site=patient.site, last_name="Other", date_of_birth=dt.date(1980, 1, 1))
    sign_in(client, technician)
    response = client.get(reverse("patient_list"), {"q": q})
    assert response.status_code == 200
    assert list(response.context["patients"]) == [patient]


def test_it_never_lists_another_pharmacys_patients(client, outsider, patient):
    sign_in(client, outsider)
    response = client.get(reverse("patient_list"), {"q": "smith"})
    assert response.status_code == 200
    assert response.context["patients"] == []
    assert "No patient matches" in response.text


def test_it_shows_a_hint_before_anything_is_typed(client, technician, patient):
    sign_in(client, technician)
    response = client.get(reverse("patient_list"))
    assert response.status_code == 200
    assert response.context["patients"] == []
    assert "Type at least two letters" in response.text


def test_the_patient_list_runs_a_fixed_number_of_queries(
    client, technician, site, django_assert_max_num_queries
):
    for i in range(30):
        PatientFactory(
            site=site, last_name="Smith", first_name=f"Jo{i}", phone_mobile=f"21755520{i:02d}"
        )
    sign_in(client, technician)
    client.get(reverse("patient_list"))  # the session settles
    # session, user, site, TOTP devices, the session's last-seen time (3): 7, plus the search
    with django_assert_max_num_queries(8):
        response = client.get(reverse("patient_list"), {"q": "smith"})
    assert len(response.context["patients"]) == 30


# --- Register -------------------------------------------------------------------------------


@pytest.mark.parametrize("role", READERS)
def test_it_shows_the_registration_form_to_every_role_that_writes_patients(client, personas, role):
    sign_in(client, personas[role])
    response = client.get(reverse("patient_create"))
    assert response.status_code == 200
    assert 'data-draft="' in response.text
    assert 'name="last_name"' in response.text and "autofocus" in response.text
    assert "data-back" in response.text


def test_it_registers_a_patient(client, technician):
    sign_in(client, technician)
    response = client.post(reverse("patient_create"), patient_form())
    patient = Patient.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("patient_detail", args=[patient.pk])
    assert (patient.last_name, patient.first_name, patient.date_of_birth) == (
        "Smith",
        "Joanna",
        dt.date(1970, 5, 17),
    )
    assert (patient.state, patient.phone_mobile, patient.privacy_notice_on) == (
        "IL",
        "2175552001",
        dt.date(2026, 1, 5),
    )
    assert patient.refill_reminders is True and patient.possible_duplicate is False
    [created] = events("patient.created")
    assert (created.actor_id, created.patient_id) == (technician.pk, patient.pk)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("date_of_birth", "13/45/1970", "Enter the date as MM/DD/YYYY."),
        ("date_of_birth", "not a date", "Enter the date as MM/DD/YYYY."),
        ("date_of_birth", "01/01/2999", "The date of birth is in the future."),
        ("last_name", "", "This field is required."),
        ("phone_mobile", "555", "A phone number is 10 digits with the area code"),
        ("state", "ZZ", "Use the two-letter postal code of a US state."),
        ("privacy_notice_on", "", "Enter the date the privacy notice was acknowledged."),
        ("sex", "X", "Select a valid choice."),
    ],
)
def test_it_shows_bad_input_beside_the_field_and_registers_no_one(
    client, technician, field, value, message
):
    sign_in(client, technician)
    before = writes()
    response = client.post(reverse("patient_create"), patient_form(**{field: value}))
    assert response.status_code == 422
    assert any(message in e for e in response.context["form"].errors[field])
    assert message.replace("'", "&#x27;") in response.text
    assert writes() == before


def test_it_offers_the_possible_duplicates_and_registers_only_when_confirmed(
    client, technician, patient
):
    sign_in(client, technician)
    before = writes()
    response = client.post(reverse("patient_create"), patient_form(first_name="joanna"))
    assert response.status_code == 409
    assert response.context["duplicates"] == [patient]
    assert reverse("patient_detail", args=[patient.pk]) in response.text
    assert "This is a different person" in response.text
    assert "already on file" in response.context["form"].errors["last_name"][0]
    assert writes() == before

    response = client.post(
        reverse("patient_create"), patient_form(first_name="joanna", allow_duplicate="on")
    )
    twin = Patient.objects.exclude(pk=patient.pk).get()
    assert response.status_code == 302
    assert twin.possible_duplicate is True
    [created] = events("patient.created")
    assert created.patient_id == twin.pk
    detail = client.get(reverse("patient_detail", args=[twin.pk]))
    assert "Possible duplicate." in detail.text


@pytest.mark.parametrize("role", NO_PATIENT_ACCESS)
def test_it_refuses_registration_to_roles_without_patient_access(client, personas, role):
    sign_in(client, personas[role])
    before = writes()
    assert client.get(reverse("patient_create")).status_code == 403
    response = client.post(reverse("patient_create"), patient_form())
    assert response.status_code == 403
    assert "may not do this" in response.text
    assert writes() == before


def test_it_refuses_a_technician_whose_registration_expired(client, site):
    lapsed = UserFactory(
        site=site,
        role=Role.TECHNICIAN,
        username="lapsed",
        technician_registration_expires=dt.date(2020, 1, 31),
    )
    sign_in(client, lapsed)
    before = writes()
    response = client.post(reverse("patient_create"), patient_form())
    assert response.status_code == 403
    assert "expired on 01/31/2020" in response.text
    assert writes() == before


# --- The record -------------------------------------------------------------------------------


@pytest.mark.parametrize("role", READERS)
def test_opening_a_record_logs_exactly_one_phi_access(client, personas, patient, role):
    user = personas[role]
    sign_in(client, user)
    response = client.get(reverse("patient_detail", args=[patient.pk]))
    assert response.status_code == 200
    [viewed] = events("patient.record.viewed")
    assert (viewed.actor_id, viewed.patient_id, viewed.object_id) == (
        user.pk,
        patient.pk,
        str(patient.pk),
    )
    assert "Smith, Joanna" in response.text


@pytest.mark.parametrize("role", NO_PATIENT_ACCESS)
def test_it_refuses_the_record_to_roles_without_patient_access(client, personas, patient, role):
    sign_in(client, personas[role])
    response = client.get(reverse("patient_detail", args=[patient.pk]))
    assert response.status_code == 403
    assert "Joanna" not in response.text
    assert events("patient.record.viewed") == []


@pytest.mark.parametrize(
    "path", ["/patients/999999/", "/patients/abc/", "/patients/99999999999999999999999/"]
)
def test_a_missing_record_is_a_404_not_an_error(client, technician, path):
    sign_in(client, technician)
    assert client.get(path).status_code == 404
    assert events("patient.record.viewed") == []


def test_another_pharmacys_record_does_not_exist(client, outsider, patient):
    sign_in(client, outsider)
    response = client.get(reverse("patient_detail", args=[patient.pk]))
    assert response.status_code == 404
    assert events("patient.record.viewed") == []


def test_the_record_says_when_allergies_were_never_asked(client, technician, patient):
    sign_in(client, technician)
    response = client.get(reverse("patient_detail", args=[patient.pk]))
    assert "Allergies not yet recorded" in response.text
    assert reverse("allergies_none", args=[patient.pk]) in response.text


def test_the_record_lists_allergies_with_their_severity(client, technician, patient):
    AllergyFactory(patient=patient, allergen="Penicillins", severity="life_threatening")
    AllergyFactory(patient=patient, allergen="Codeine", allergen_kind="ingredient", severity="mild")
    Patient.objects.filter(pk=patient.pk).update(allergy_status=AllergyStatus.HAS_ALLERGIES)
    sign_in(client, technician)
    response = client.get(reverse("patient_detail", args=[patient.pk]))
    assert [a.allergen for a in response.context["allergies"]] == ["Codeine", "Penicillins"]
    assert "Allergies (2)" in response.text
    assert "sev-life_threatening danger" in response.text
    assert "Life-threatening (e.g. anaphylaxis)" in response.text
    assert reverse("allergies_none", args=[patient.pk]) not in response.text


def test_the_record_shows_latest_measurements_conditions_and_plans(client, technician, patient):
    Measurement.objects.create(
        patient=patient, kind="weight", value=Decimal("70.00"), measured_on=dt.date(2025, 1, 1)
    )
    Measurement.objects.create(
        patient=patient, kind="weight", value=Decimal("72.50"), measured_on=dt.date(2025, 6, 1)
    )
    Condition.objects.create(patient=patient, description="Type 2 diabetes", icd10="E11.9")
    Coverage.objects.create(patient=patient, bin="610014", member_id="ZX123", plan_name="Acme")
    sign_in(client, technician)
    response = client.get(reverse("patient_detail", args=[patient.pk]))
    assert response.context["weight"].value == Decimal("72.50")
    assert response.context["height"] is None
    assert "72.50 kg" in response.text and "E11.9" in response.text
    assert "610014" in response.text and "ZX123" in response.text


# --- Edit -------------------------------------------------------------------------------------


def test_it_edits_only_what_changed_and_logs_the_edit_form_as_an_access(
    client, technician, patient
):
    sign_in(client, technician)
    response = client.get(reverse("patient_edit", args=[patient.pk]))
    assert response.status_code == 200
    assert response.context["form"]["phone_mobile"].value() == "2175552001"
    [viewed] = events("patient.record.viewed")
    assert viewed.reason == "edit"

    data = {
        name: ("" if value is None else value)
        for name, value in response.context["form"].initial.items()
    }
    data.update(date_of_birth="05/17/1970", phone_home="217 555 0199", privacy_notice="")
    response = client.post(reverse("patient_edit", args=[patient.pk]), data)
    assert response.status_code == 302
    patient.refresh_from_db()
    assert patient.phone_home == "2175550199"
    [updated] = events("patient.updated")
    assert '"phone_home":["","2175550199"]' in updated.data


def test_an_edit_with_a_bad_date_changes_nothing(client, technician, patient):
    sign_in(client, technician)
    before = writes()
    response = client.post(
        reverse("patient_edit", args=[patient.pk]),
        patient_form(date_of_birth="02/30/1970", status="active"),
    )
    assert response.status_code == 422
    assert "Enter the date as MM/DD/YYYY." in response.text
    patient.refresh_from_db()
    assert patient.address_line1 == ""
    assert writes() == before


# --- Allergies --------------------------------------------------------------------------------


def test_it_adds_an_allergy(client, technician, patient):
    sign_in(client, technician)
    assert client.get(reverse("allergy_add", args=[patient.pk])).status_code == 200
    response = client.post(
        reverse("allergy_add", args=[patient.pk]),
        {
            "allergen": "Penicillins",
            "allergen_kind": "class",
            "allergy_type": "allergy",
            "severity": "severe",
            "reaction": "hives",
            "source": "patient",
        },
    )
    assert response.status_code == 302
    assert response["Location"].endswith(f"/patients/{patient.pk}/#allergies")
    allergy = Allergy.objects.get()
    assert (allergy.allergen, allergy.severity, allergy.recorded_by) == (
        "Penicillins",
        "severe",
        technician,
    )
    patient.refresh_from_db()
    assert patient.allergy_status == AllergyStatus.HAS_ALLERGIES
    assert len(events("patient.allergy.added")) == 1


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"allergen": ""}, "allergen", "This field is required."),
        ({"allergen_kind": "gas"}, "allergen_kind", "Select a valid choice."),
        ({"allergen": "penicillins"}, "allergen", "already on this patient"),
    ],
)
def test_a_bad_or_repeated_allergy_is_refused_beside_its_field(
    client, technician, patient, data, field, message
):
    AllergyFactory(patient=patient, allergen="Penicillins", allergen_kind="class")
    sign_in(client, technician)
    before = writes()
    form = {
        "allergen": "Sulfa",
        "allergen_kind": "class",
        "allergy_type": "allergy",
        "severity": "unknown",
        "source": "patient",
        **data,
    }
    response = client.post(reverse("allergy_add", args=[patient.pk]), form)
    assert response.status_code == 422
    assert message in response.context["form"].errors[field][0]
    assert writes() == before


def test_it_removes_an_allergy_only_with_a_reason(client, technician, patient):
    allergy = AllergyFactory(patient=patient)
    url = reverse("allergy_remove", args=[patient.pk, allergy.pk])
    sign_in(client, technician)
    assert client.get(url).status_code == 200
    before = writes()
    response = client.post(url, {"reason": "   "})
    assert response.status_code == 422
    assert response.context["form"].errors["reason"] == ["This field is required."]
    assert writes() == before

    response = client.post(url, {"reason": "Entered in error"})
    assert response.status_code == 302
    allergy.refresh_from_db()
    assert (allergy.active, allergy.inactivated_reason) == (False, "Entered in error")
    [removed] = events("patient.allergy.inactivated")
    assert removed.reason == "Entered in error"

    response = client.post(url, {"reason": "again"})
    assert response.status_code == 409
    assert "already removed" in response.text


def test_an_allergy_of_another_patient_is_not_found(client, technician, patient, site):
    stranger = AllergyFactory(patient=PatientFactory(site=site))
    sign_in(client, technician)
    response = client.post(
        reverse("allergy_remove", args=[patient.pk, stranger.pk]), {"reason": "x"}
    )
    assert response.status_code == 404
    stranger.refresh_from_db()
    assert stranger.active is True


def test_it_records_no_known_allergies(client, technician, patient):
    sign_in(client, technician)
    url = reverse("allergies_none", args=[patient.pk])
    assert client.get(url).status_code == 405
    response = client.post(url)
    assert response.status_code == 302
    patient.refresh_from_db()
    assert patient.allergy_status == AllergyStatus.NO_KNOWN
    assert len(events("patient.allergies.none_known")) == 1
    assert "No known allergies" in client.get(reverse("patient_detail", args=[patient.pk])).text


def test_no_known_allergies_is_refused_while_allergies_are_on_file(client, technician, patient):
    AllergyFactory(patient=patient, allergen="Latex", allergen_kind="non_drug")
    sign_in(client, technician)
    before = writes()
    response = client.post(reverse("allergies_none", args=[patient.pk]), follow=True)
    assert "has allergies on file (Latex)" in response.text
    assert writes()[0] == before[0]
    assert events("patient.allergies.none_known") == []


@pytest.mark.parametrize(
    "name",
    [
        "allergy_add",
        "condition_add",
        "measurement_add",
        "coverage_add",
        "identifier_add",
        "patient_edit",
    ],
)
def test_a_role_without_patient_access_cannot_open_or_post_the_record_forms(
    client, auditor, patient, name
):
    sign_in(client, auditor)
    before = writes()
    url = reverse(name, args=[patient.pk])
    assert client.get(url).status_code == 403
    assert client.post(url, {"allergen": "x", "description": "x", "value": "1"}).status_code == 403
    assert writes() == before


# --- Conditions, measurements, coverages ------------------------------------------------------


def test_it_adds_a_condition_and_refuses_a_malformed_code(client, technician, patient):
    sign_in(client, technician)
    url = reverse("condition_add", args=[patient.pk])
    before = writes()
    response = client.post(url, {"description": "Hypertension", "icd10": "123"})
    assert response.status_code == 422
    assert "An ICD-10-CM code looks like E11.9" in response.text
    assert writes() == before
    response = client.post(url, {"description": "Hypertension", "icd10": "i10", "onset": "03/2020"})
    assert response.status_code == 422
    assert response.context["form"].errors["onset"] == ["Enter the date as MM/DD/YYYY."]
    response = client.post(url, {"description": "Hypertension", "icd10": "i10"})
    assert response.status_code == 302
    assert Condition.objects.get().icd10 == "I10"


def test_it_records_a_weight_in_pounds_as_kilograms(client, technician, patient):
    sign_in(client, technician)
    url = reverse("measurement_add", args=[patient.pk])
    response = client.get(url, {"kind": "height"})
    assert response.context["form"]["unit"].value() == "cm"
    response = client.post(url, {"kind": "weight", "value": "154", "unit": "lb"})
    assert response.status_code == 302
    m = Measurement.objects.get()
    assert (m.kind, m.value, m.unit) == ("weight", Decimal("69.85"), "kg")


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"value": "abc"}, "value", "Enter a number, like 72.5."),
        ({"value": "NaN"}, "value", "Enter a number, like 72.5."),
        ({"value": "1E+30"}, "value", "no more than 8 digits"),
        ({"value": "0"}, "value", "is outside"),
        ({"value": "7000"}, "value", "is outside"),
        ({"unit": "cm"}, "unit", "Use one of: kg, lb, g."),
        ({"measured_on": "99/99/2020"}, "measured_on", "Enter the date as MM/DD/YYYY."),
        ({"unit": "stone"}, "unit", "Select a valid choice."),
    ],
)
def test_a_bad_measurement_is_refused_beside_its_field(
    client, technician, patient, data, field, message
):
    sign_in(client, technician)
    before = writes()
    response = client.post(
        reverse("measurement_add", args=[patient.pk]),
        {"kind": "weight", "value": "70", "unit": "kg", **data},
    )
    assert response.status_code == 422
    assert message in response.context["form"].errors[field][0]
    assert writes() == before


def test_it_adds_a_plan_and_refuses_a_bad_bin(client, technician, patient):
    sign_in(client, technician)
    url = reverse("coverage_add", args=[patient.pk])
    plan = {"bin": "61001", "member_id": "ZX123", "relationship": "1", "rank": "1"}
    before = writes()
    response = client.post(url, plan)
    assert response.status_code == 422
    assert response.context["form"].errors["bin"] == ["A BIN is exactly 6 digits."]
    assert writes() == before
    response = client.post(
        url, {**plan, "bin": "610014", "effective_on": "02/01/2026", "terminates_on": "01/01/2026"}
    )
    assert response.context["form"].errors["terminates_on"] == ["The plan ends before it starts."]
    response = client.post(url, {**plan, "bin": "610014", "rank": "9"})
    assert response.status_code == 422
    response = client.post(url, {**plan, "bin": "610014"})
    assert response.status_code == 302
    assert Coverage.objects.get().member_id == "ZX123"


@pytest.fixture
def condition(patient) -> Condition:
    return Condition.objects.create(patient=patient, description="Asthma", icd10="J45.909")


@pytest.fixture
def coverage(patient) -> Coverage:
    return Coverage.objects.create(
        patient=patient, bin="610014", member_id="ZX123", plan_name="Acme Rx"
    )


def test_it_marks_a_condition_resolved(client, technician, patient, condition):
    sign_in(client, technician)
    url = reverse("condition_resolve", args=[patient.pk, condition.pk])
    detail = client.get(reverse("patient_detail", args=[patient.pk]))
    assert f'action="{url}"' in detail.text
    assert client.get(url).status_code == 405

    response = client.post(url)

    assert response.status_code == 302
    assert response["Location"].endswith(f"/patients/{patient.pk}/#conditions")
    condition.refresh_from_db()
    assert condition.status == "resolved"
    [updated] = events("patient.condition.updated")
    assert (updated.actor_id, updated.patient_id, updated.object_id) == (
        technician.pk,
        patient.pk,
        str(condition.pk),
    )
    assert json.loads(updated.data) == {"changes": {"status": ["active", "resolved"]}}
    detail = client.get(reverse("patient_detail", args=[patient.pk]))
    assert "(resolved)" in detail.text
    assert f'action="{url}"' not in detail.text


def test_a_condition_that_breaks_a_rule_is_not_resolved(client, technician, patient):
    # A row written before the code check existed: the service refuses to save it as is.
    condition = Condition.objects.create(patient=patient, description="Asthma", icd10="123")
    sign_in(client, technician)
    before = writes()
    response = client.post(
        reverse("condition_resolve", args=[patient.pk, condition.pk]), follow=True
    )
    assert response.status_code == 200
    assert "An ICD-10-CM code looks like E11.9 or I10." in response.text
    condition.refresh_from_db()
    assert condition.status == "active"
    assert writes()[0] == before[0]
    assert events("patient.condition.updated") == []


def test_it_ends_a_plan(client, technician, patient, coverage):
    sign_in(client, technician)
    url = reverse("coverage_end", args=[patient.pk, coverage.pk])
    detail = client.get(reverse("patient_detail", args=[patient.pk]))
    assert f'action="{url}"' in detail.text and "End plan" in detail.text
    assert client.get(url).status_code == 405

    response = client.post(url)

    assert response.status_code == 302
    assert response["Location"].endswith(f"/patients/{patient.pk}/#coverages")
    coverage.refresh_from_db()
    assert coverage.active is False
    [updated] = events("patient.coverage.updated")
    assert (updated.actor_id, updated.patient_id, updated.object_id) == (
        technician.pk,
        patient.pk,
        str(coverage.pk),
    )
    assert json.loads(updated.data) == {"changes": {"active": [True, False]}}
    detail = client.get(reverse("patient_detail", args=[patient.pk]))
    assert f'action="{url}"' not in detail.text
    assert '<span class="badge">inactive</span>' in detail.text


def test_a_plan_that_breaks_a_rule_is_not_ended(client, technician, patient):
    coverage = Coverage.objects.create(
        patient=patient,
        bin="610014",
        member_id="ZX123",
        effective_on=dt.date(2026, 2, 1),
        terminates_on=dt.date(2026, 1, 1),
    )
    sign_in(client, technician)
    before = writes()
    response = client.post(reverse("coverage_end", args=[patient.pk, coverage.pk]), follow=True)
    assert response.status_code == 200
    assert "The plan ends before it starts." in response.text
    coverage.refresh_from_db()
    assert coverage.active is True
    assert writes()[0] == before[0]
    assert events("patient.coverage.updated") == []


@pytest.mark.parametrize("role", NO_PATIENT_ACCESS)
def test_a_role_without_patient_access_cannot_resolve_or_end(
    client, personas, patient, condition, coverage, role
):
    sign_in(client, personas[role])
    before = writes()
    assert (
        client.post(reverse("condition_resolve", args=[patient.pk, condition.pk])).status_code
        == 403
    )
    assert client.post(reverse("coverage_end", args=[patient.pk, coverage.pk])).status_code == 403
    condition.refresh_from_db()
    coverage.refresh_from_db()
    assert (condition.status, coverage.active) == ("active", True)
    assert writes() == before


def test_another_pharmacys_condition_or_plan_is_not_found(client, technician, patient, other_site):
    theirs = PatientFactory(site=other_site)
    their_condition = Condition.objects.create(patient=theirs, description="Gout")
    their_plan = Coverage.objects.create(patient=theirs, bin="610014", member_id="Q1")
    sign_in(client, technician)
    before = writes()
    for url in (
        reverse("condition_resolve", args=[patient.pk, their_condition.pk]),
        reverse("condition_resolve", args=[theirs.pk, their_condition.pk]),
        reverse("coverage_end", args=[patient.pk, their_plan.pk]),
        reverse("coverage_end", args=[theirs.pk, their_plan.pk]),
    ):
        assert client.post(url).status_code == 404, url
    their_condition.refresh_from_db()
    their_plan.refresh_from_db()
    assert (their_condition.status, their_plan.active) == ("active", True)
    assert writes() == before


def test_an_outsider_cannot_change_this_pharmacys_record(
    client, outsider, patient, condition, coverage
):
    sign_in(client, outsider)
    before = writes()
    for url, data in (
        (reverse("condition_resolve", args=[patient.pk, condition.pk]), {}),
        (reverse("coverage_end", args=[patient.pk, coverage.pk]), {}),
        (reverse("identifier_add", args=[patient.pk]), {"kind": "mrn", "value": "A1"}),
    ):
        assert client.post(url, data).status_code == 404, url
    condition.refresh_from_db()
    coverage.refresh_from_db()
    assert (condition.status, coverage.active) == ("active", True)
    assert writes() == before


def test_a_condition_of_another_patient_is_not_found(client, technician, patient, site):
    stranger = Condition.objects.create(patient=PatientFactory(site=site), description="Gout")
    sign_in(client, technician)
    response = client.post(reverse("condition_resolve", args=[patient.pk, stranger.pk]))
    assert response.status_code == 404
    stranger.refresh_from_db()
    assert stranger.status == "active"


# --- Identifiers ------------------------------------------------------------------------------


def test_it_adds_an_identifier(client, technician, patient):
    sign_in(client, technician)
    url = reverse("identifier_add", args=[patient.pk])
    detail = client.get(reverse("patient_detail", args=[patient.pk]))
    assert f'href="{url}" data-key="d"' in detail.text
    assert "<kbd>d</kbd> identifier" in detail.text
    assert client.get(url).status_code == 200

    response = client.post(
        url, {"kind": "drivers_license", "value": " s123-4567-8901 ", "issuer": " IL "}
    )

    assert response.status_code == 302
    assert response["Location"].endswith(f"/patients/{patient.pk}/#identifiers")
    ident = PatientIdentifier.objects.get()
    assert (ident.patient, ident.kind, ident.value, ident.issuer) == (
        patient,
        "drivers_license",
        "S123-4567-8901",
        "IL",
    )
    [added] = events("patient.identifier.added")
    assert (added.actor_id, added.patient_id, added.object_id) == (
        technician.pk,
        patient.pk,
        str(ident.pk),
    )
    assert json.loads(added.data) == {"kind": "drivers_license"}
    detail = client.get(reverse("patient_detail", args=[patient.pk]))
    assert detail.context["identifiers"] == [ident]
    assert "Driver&#x27;s license" in detail.text and "S123-4567-8901" in detail.text


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"kind": "ssn_last4", "value": "12345"}, "value", "Keep only the last four digits"),
        ({"kind": "ssn_last4", "value": "12a4"}, "value", "Keep only the last four digits"),
        ({"value": "s123"}, "value", "already on the patient's record"),
        ({"value": ""}, "value", "This field is required."),
        ({"kind": "dna"}, "kind", "Select a valid choice."),
        ({"value": "X" * 41}, "value", "at most 40 characters"),
    ],
)
def test_a_bad_or_repeated_identifier_is_refused_beside_its_field(
    client, technician, patient, data, field, message
):
    PatientIdentifier.objects.create(patient=patient, kind="drivers_license", value="S123")
    sign_in(client, technician)
    before = writes()
    response = client.post(
        reverse("identifier_add", args=[patient.pk]),
        {"kind": "drivers_license", "value": "D999", "issuer": "IL", **data},
    )
    assert response.status_code == 422
    assert message in response.context["form"].errors[field][0]
    assert writes() == before


# --- Prescribers ------------------------------------------------------------------------------


@pytest.fixture
def prescriber(site) -> Prescriber:
    return PrescriberFactory(site=site, npi=NPI, dea_number=DEA_OKAFOR)


@pytest.mark.parametrize("q", ["okafor", "okafor, m", "123456", NPI])
def test_it_finds_a_prescriber_by_name_or_npi(client, technician, prescriber, q):
    sign_in(client, technician)
    response = client.get(reverse("prescriber_list"), {"q": q})
    assert response.status_code == 200
    assert response.context["prescribers"] == [prescriber]


def test_the_prescriber_search_answers_htmx_with_a_fragment(client, trainee, prescriber):
    sign_in(client, trainee)
    response = client.get(reverse("prescriber_list"), {"q": "oka"}, headers={"HX-Request": "true"})
    assert [t.name for t in response.templates] == ["patients/_prescriber_results.html"]
    assert reverse("prescriber_detail", args=[prescriber.pk]) in response.text


@pytest.mark.parametrize("role", NO_PATIENT_ACCESS)
def test_it_refuses_the_prescriber_list_to_roles_without_access(client, personas, role):
    sign_in(client, personas[role])
    assert client.get(reverse("prescriber_list"), {"q": "oka"}).status_code == 403


def test_the_prescriber_list_runs_a_fixed_number_of_queries(
    client, technician, site, django_assert_max_num_queries
):
    for i in range(25):
        prescriber = PrescriberFactory(site=site, npi=fake_npi(i), first_name=f"M{i}")
        PrescriberAddress.objects.create(
            prescriber=prescriber,
            address_line1="1 Oak",
            city="X",
            state="IL",
            postal_code="62704",
            phone="2175551100",
        )
    sign_in(client, technician)
    client.get(reverse("prescriber_list"))
    # 7 per request (see the patient list), the search, and the addresses in one query
    with django_assert_max_num_queries(9):
        response = client.get(reverse("prescriber_list"), {"q": "okafor"})
    assert len(response.context["prescribers"]) == 25
    assert "(217) 555-1100" in response.text


def prescriber_form(**overrides: str) -> dict[str, str]:
    data = {
        "last_name": "Okafor",
        "first_name": "Margaret",
        "credential": "MD",
        "npi": NPI,
        "dea_number": DEA_OKAFOR,
        "state_license": "036.1",
        "state_license_state": "il",
        "specialty": "Family medicine",
    }
    data.update(overrides)
    return data


@pytest.mark.parametrize("role", PRESCRIBER_WRITERS)
def test_it_adds_a_prescriber(client, personas, role):
    sign_in(client, personas[role])
    assert client.get(reverse("prescriber_create")).status_code == 200
    response = client.post(reverse("prescriber_create"), prescriber_form())
    prescriber = Prescriber.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("prescriber_detail", args=[prescriber.pk])
    assert (prescriber.npi, prescriber.dea_number, prescriber.state_license_state) == (
        NPI,
        DEA_OKAFOR,
        "IL",
    )
    assert len(events("prescriber.created")) == 1


def test_a_trainee_may_not_add_a_prescriber(client, trainee):
    sign_in(client, trainee)
    before = writes()
    assert client.get(reverse("prescriber_create")).status_code == 403
    assert client.post(reverse("prescriber_create"), prescriber_form()).status_code == 403
    assert writes() == before


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"npi": "1234567890"}, "npi", "check digit is wrong"),
        ({"npi": "12345"}, "npi", "An NPI is exactly 10 digits."),
        ({"dea_number": "AB123"}, "dea_number", "two letters and seven digits"),
        ({"last_name": ""}, "last_name", "This field is required."),
    ],
)
def test_a_bad_identifier_is_refused_beside_its_field(client, technician, data, field, message):
    sign_in(client, technician)
    before = writes()
    response = client.post(reverse("prescriber_create"), prescriber_form(**data))
    assert response.status_code == 422
    assert message in response.context["form"].errors[field][0]
    assert writes() == before


def test_a_dea_name_mismatch_needs_the_confirmation_box(client, technician):
    sign_in(client, technician)
    before = writes()
    response = client.post(reverse("prescriber_create"), prescriber_form(dea_number=DEA_MISMATCH))
    assert response.status_code == 422
    assert "second letter X does not match" in response.context["form"].errors["dea_number"][0]
    assert writes() == before
    response = client.post(
        reverse("prescriber_create"),
        prescriber_form(dea_number=DEA_MISMATCH, confirm_dea_name="on"),
    )
    assert response.status_code == 302
    [created] = events("prescriber.created")
    assert '"dea_name_confirmed":true' in created.data


def test_an_npi_already_on_file_is_refused(client, technician, prescriber):
    sign_in(client, technician)
    response = client.post(reverse("prescriber_create"), prescriber_form(first_name="Other"))
    assert response.status_code == 422
    assert "already on file" in response.context["form"].errors["npi"][0]


def test_it_shows_edits_and_adds_addresses_to_a_prescriber(client, technician, prescriber):
    sign_in(client, technician)
    detail = client.get(reverse("prescriber_detail", args=[prescriber.pk]))
    assert detail.status_code == 200
    assert NPI in detail.text and DEA_OKAFOR in detail.text

    edit_url = reverse("prescriber_edit", args=[prescriber.pk])
    form = client.get(edit_url).context["form"]
    data = {k: ("" if v is None else v) for k, v in form.initial.items()}
    data["active"] = "on"
    data["specialty"] = "Geriatrics"
    assert client.post(edit_url, data).status_code == 302
    prescriber.refresh_from_db()
    assert prescriber.specialty == "Geriatrics"
    [updated] = events("prescriber.updated")
    assert '"specialty":["","Geriatrics"]' in updated.data

    address_url = reverse("prescriber_address_add", args=[prescriber.pk])
    address = {
        "address_line1": "210 Oak Avenue",
        "city": "Springfield",
        "state": "IL",
        "postal_code": "6270",
        "phone": "217-555-1101",
        "primary": "on",
    }
    before = writes()
    response = client.post(address_url, address)
    assert response.status_code == 422
    assert "A ZIP code is 5 digits" in response.context["form"].errors["postal_code"][0]
    assert writes() == before
    assert client.post(address_url, {**address, "postal_code": "62704"}).status_code == 302
    assert prescriber.addresses.get().phone == "2175551101"


def test_a_trainee_sees_the_prescriber_but_not_the_edit_actions(client, trainee, prescriber):
    sign_in(client, trainee)
    response = client.get(reverse("prescriber_detail", args=[prescriber.pk]))
    assert response.status_code == 200
    assert reverse("prescriber_edit", args=[prescriber.pk]) not in response.text
    before = writes()
    response = client.post(
        reverse("prescriber_address_add", args=[prescriber.pk]),
        {
            "address_line1": "1 Oak",
            "city": "X",
            "state": "IL",
            "postal_code": "62704",
            "phone": "2175551101",
        },
    )
    assert response.status_code == 403
    assert writes() == before


def test_another_pharmacys_prescriber_is_not_found(client, outsider, prescriber):
    sign_in(client, outsider)
    assert client.get(reverse("prescriber_detail", args=[prescriber.pk])).status_code == 404
    assert (
        client.post(reverse("prescriber_edit", args=[prescriber.pk]), prescriber_form()).status_code
        == 404
    )
