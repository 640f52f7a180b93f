"""Patient and prescriber write services, and the patient search.

For every service: its exact audit event (action, actor, patient, data), a broken rule that
names the field and writes nothing, and a forbidden role that writes nothing."""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import json
from collections.abc import Iterator
from decimal import Decimal

import pytest
from django.core.management import call_command

from rxdesk.core.choices import Role
from rxdesk.core.errors import Conflict, CredentialExpired, Forbidden, Invalid, NotFound
from rxdesk.core.models import AuditEvent
from rxdesk.patients import services
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
from rxdesk.patients.queries import patient_search
from rxdesk.patients.services import PossibleDuplicate
from tests.factories import AllergyFactory, PatientFactory, PrescriberFactory

ALL_TABLES = (
    Patient,
    Allergy,
    Condition,
    Measurement,
    PatientIdentifier,
    Coverage,
    Prescriber,
    PrescriberAddress,
)
TOMORROW = dt.date.today() + dt.timedelta(days=2)  # tomorrow in any US time zone


@contextlib.contextmanager
def nothing_written() -> Iterator[None]:
    """Assert the block adds or removes no row of any patient table nor any audit event."""
    counted = (AuditEvent, *ALL_TABLES)
    before = {t.__name__: t.objects.count() for t in counted}
    yield
    assert {t.__name__: t.objects.count() for t in counted} == before


def last_event() -> AuditEvent:
    event = AuditEvent.objects.order_by("-id").first()
    assert event is not None
    return event


def data_of(event: AuditEvent) -> dict:
    return json.loads(event.data)


def fields_of(exc: Invalid | Conflict) -> list[str]:
    return [e["field"] for e in exc.errors]


@pytest.fixture
def patient(site) -> Patient:
    return PatientFactory(
        site=site, first_name="Ada", last_name="Byron", date_of_birth=dt.date(1980, 1, 2)
    )


@pytest.fixture
def foreign_patient(other_site) -> Patient:
    return PatientFactory(site=other_site, first_name="Olga", last_name="Far")


@pytest.fixture
def prescriber(site) -> Prescriber:
    return PrescriberFactory(site=site)  # Margaret Okafor, MD, NPI 1234567893


@pytest.fixture
def foreign_prescriber(other_site) -> Prescriber:
    return PrescriberFactory(site=other_site)


def expire(user, *, pharmacist: bool) -> None:
    field = "pharmacist_license_expires" if pharmacist else "technician_registration_expires"
    setattr(user, field, dt.date(2020, 1, 31))
    user.save(update_fields=[field])


# --- patient_create ---------------------------------------------------------------------------

PATIENT_DEFAULTS = {
    "middle_name": "",
    "suffix": "",
    "preferred_name": "",
    "sex": "U",
    "status": "active",
    "address_line1": "",
    "address_line2": "",
    "city": "",
    "state": "",
    "postal_code": "",
    "phone_mobile": "",
    "phone_home": "",
    "phone_work": "",
    "email": "",
    "preferred_language": "en",
    "pregnancy_status": "unknown",
    "lactation_status": "unknown",
    "privacy_notice": "",
    "privacy_notice_on": None,
    "contact_method": "phone",
    "refill_reminders": False,
    "easy_open_caps": False,
    "large_print": False,
}


def test_patient_create_records_the_new_patient(site, technician):
    patient = services.patient_create(
        actor=technician,
        first_name="  Ada ",
        last_name="Byron",
        date_of_birth=dt.date(1980, 1, 2),
        sex="F",
        state="il",
        phone_mobile="(217) 555-2001",
    )

    assert (patient.site_id, patient.first_name, patient.possible_duplicate) == (
        site.pk,
        "Ada",
        False,
    )
    event = last_event()
    assert (event.site_id, event.action, event.actor_name, event.actor_id, event.patient_id) == (
        site.pk,
        "patient.created",
        "tech",
        technician.pk,
        patient.pk,
    )
    assert (event.object_type, event.object_id) == ("patients.patient", str(patient.pk))
    assert data_of(event) == {
        "after": {
            **PATIENT_DEFAULTS,
            "first_name": "Ada",
            "last_name": "Byron",
            "date_of_birth": "1980-01-02",
            "sex": "F",
            "state": "IL",
            "phone_mobile": "2175552001",
        },
        "possible_duplicate_of": [],
    }


def test_a_trainee_may_register_a_patient(trainee):
    services.patient_create(
        actor=trainee, first_name="Ada", last_name="Byron", date_of_birth=dt.date(1980, 1, 2)
    )
    assert (last_event().action, last_event().actor_name) == ("patient.created", "trainee")


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"date_of_birth": TOMORROW}, "date_of_birth"),
        ({"date_of_birth": dt.date(dt.date.today().year - 131, 1, 1)}, "date_of_birth"),
        ({"first_name": ""}, "first_name"),
        ({"privacy_notice": "signed"}, "privacy_notice_on"),
        ({"privacy_notice": "signed", "privacy_notice_on": TOMORROW}, "privacy_notice_on"),
        ({"phone_mobile": "555-1234"}, "phone_mobile"),
        ({"state": "XX"}, "state"),
        ({"postal_code": "6270"}, "postal_code"),
        ({"email": "ada@"}, "email"),
        ({"sex": "Q"}, "sex"),
        ({"ssn": "123-45-6789"}, "ssn"),
    ],
)
def test_patient_create_refuses_bad_input_and_writes_nothing(technician, values, field):
    values = {
        "first_name": "Ada",
        "last_name": "Byron",
        "date_of_birth": dt.date(1980, 1, 2),
        **values,
    }
    with nothing_written(), pytest.raises(Invalid) as raised:
        services.patient_create(actor=technician, **values)
    assert field in fields_of(raised.value)


def test_patient_create_refuses_a_possible_duplicate_with_its_candidates(technician, patient):
    with nothing_written(), pytest.raises(PossibleDuplicate) as raised:
        services.patient_create(
            actor=technician, first_name="ADA", last_name="byron", date_of_birth=dt.date(1980, 1, 2)
        )
    assert isinstance(raised.value, Conflict)
    assert fields_of(raised.value) == ["last_name"]
    assert raised.value.extra["candidates"] == [patient.pk]
    assert raised.value.candidates == [patient]


def test_patient_create_keeps_a_confirmed_duplicate_flagged_for_review(technician, patient):
    twin = services.patient_create(
        actor=technician,
        allow_duplicate=True,
        first_name="Ada",
        last_name="Byron",
        date_of_birth=dt.date(1980, 1, 2),
    )
    assert twin.possible_duplicate is True
    assert data_of(last_event())["possible_duplicate_of"] == [patient.pk]


def test_an_inactive_namesake_is_not_a_duplicate(technician, patient):
    Patient.objects.filter(pk=patient.pk).update(status="inactive")
    created = services.patient_create(
        actor=technician, first_name="Ada", last_name="Byron", date_of_birth=dt.date(1980, 1, 2)
    )
    assert created.possible_duplicate is False


@pytest.mark.parametrize("role", [Role.INVENTORY_SPECIALIST, Role.AUDITOR, Role.ADMIN])
def test_patient_create_is_forbidden_to_roles_without_patient_edit(personas, role):
    with nothing_written(), pytest.raises(Forbidden, match=r"\(patient\.edit\)"):
        services.patient_create(
            actor=personas[role],
            first_name="Ada",
            last_name="Byron",
            date_of_birth=dt.date(1980, 1, 2),
        )


@pytest.mark.parametrize(
    ("persona", "is_pharmacist", "message"),
    [
        (
            "technician",
            False,
            "Your technician registration expired on 01/31/2020; renew it and have the "
            "pharmacist-in-charge update your record.",
        ),
        (
            "pharmacist",
            True,
            "Your pharmacist license expired on 01/31/2020; you cannot do this until it is "
            "renewed and recorded.",
        ),
    ],
)
def test_patient_create_is_refused_when_the_credential_expired(
    request, persona, is_pharmacist, message
):
    actor = request.getfixturevalue(persona)
    expire(actor, pharmacist=is_pharmacist)
    with nothing_written(), pytest.raises(CredentialExpired) as raised:
        services.patient_create(
            actor=actor, first_name="Ada", last_name="Byron", date_of_birth=dt.date(1980, 1, 2)
        )
    assert raised.value.message == message


# --- patient_update ---------------------------------------------------------------------------


def test_patient_update_records_the_changes(technician, patient):
    services.patient_update(
        actor=technician, patient=patient, city="Springfield", phone_mobile="217.555.2002", sex="F"
    )

    event = last_event()
    assert (event.action, event.actor_name, event.patient_id, event.object_id) == (
        "patient.updated",
        "tech",
        patient.pk,
        str(patient.pk),
    )
    # the factory made her "F" already: only real changes are recorded
    assert data_of(event) == {
        "changes": {"city": ["", "Springfield"], "phone_mobile": ["", "2175552002"]}
    }


def test_patient_update_without_a_change_records_nothing(technician, patient):
    with nothing_written():
        services.patient_update(actor=technician, patient=patient, first_name="Ada")


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"date_of_birth": TOMORROW}, "date_of_birth"),
        ({"last_name": ""}, "last_name"),
        ({"allergy_status": "nka"}, "allergy_status"),  # not settable here: has its own service
        ({"possible_duplicate": False}, "possible_duplicate"),
    ],
)
def test_patient_update_refuses_bad_input_and_changes_nothing(technician, patient, values, field):
    with nothing_written(), pytest.raises(Invalid) as raised:
        services.patient_update(actor=technician, patient=patient, city="Springfield", **values)
    assert fields_of(raised.value) == [field]
    fresh = Patient.objects.get(pk=patient.pk)
    assert (fresh.city, fresh.last_name, fresh.date_of_birth) == ("", "Byron", dt.date(1980, 1, 2))


def test_patient_update_of_another_pharmacys_patient_is_not_found(technician, foreign_patient):
    with nothing_written(), pytest.raises(NotFound):
        services.patient_update(actor=technician, patient=foreign_patient, city="Springfield")
    assert Patient.objects.get(pk=foreign_patient.pk).city == ""


@pytest.mark.parametrize("role", [Role.INVENTORY_SPECIALIST, Role.AUDITOR, Role.ADMIN])
def test_patient_update_is_forbidden_to_roles_without_patient_edit(personas, patient, role):
    with nothing_written(), pytest.raises(Forbidden):
        services.patient_update(actor=personas[role], patient=patient, city="Springfield")
    assert Patient.objects.get(pk=patient.pk).city == ""


# --- patient_record_open ----------------------------------------------------------------------


def test_opening_a_record_is_logged_as_phi_access(pharmacist, patient):
    services.patient_record_open(actor=pharmacist, patient=patient, purpose="counseling")

    event = last_event()
    assert (event.action, event.actor_name, event.patient_id, event.reason) == (
        "patient.record.viewed",
        "rph",
        patient.pk,
        "counseling",
    )
    assert (event.object_type, event.object_id, data_of(event)) == (
        "patients.patient",
        str(patient.pk),
        {},
    )


def test_opening_another_pharmacys_record_is_not_found(technician, foreign_patient):
    with nothing_written(), pytest.raises(NotFound):
        services.patient_record_open(actor=technician, patient=foreign_patient)


@pytest.mark.parametrize("role", [Role.INVENTORY_SPECIALIST, Role.AUDITOR, Role.ADMIN])
def test_opening_a_record_is_forbidden_without_patient_view(personas, patient, role):
    with nothing_written(), pytest.raises(Forbidden, match=r"\(patient\.view\)"):
        services.patient_record_open(actor=personas[role], patient=patient)


# --- allergies --------------------------------------------------------------------------------


def test_allergy_add_records_the_allergen_but_not_the_reaction(technician, patient):
    allergy = services.allergy_add(
        actor=technician,
        patient=patient,
        allergen=" Penicillins ",
        allergen_kind="class",
        severity="severe",
        reaction="Hives and throat swelling",
    )

    patient.refresh_from_db()
    assert (allergy.allergen, patient.allergy_status) == ("Penicillins", "has")
    event = last_event()
    assert (
        event.action,
        event.actor_name,
        event.patient_id,
        event.object_type,
        event.object_id,
    ) == (
        "patient.allergy.added",
        "tech",
        patient.pk,
        "patients.allergy",
        str(allergy.pk),
    )
    assert data_of(event) == {
        "allergen": "Penicillins",
        "kind": "class",
        "severity": "severe",
        "type": "allergy",
    }
    assert "Hives" not in event.data


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"allergen": "penicillins", "allergen_kind": "class"}, "allergen"),  # already active
        ({"allergen": "", "allergen_kind": "class"}, "allergen"),
        ({"allergen": "Latex", "allergen_kind": "bogus"}, "allergen_kind"),
        ({"allergen": "Latex", "allergen_kind": "non_drug", "severity": "awful"}, "severity"),
        ({"allergen": "Latex", "allergen_kind": "non_drug", "active": False}, "active"),
    ],
)
def test_allergy_add_refuses_a_broken_rule_and_writes_nothing(technician, patient, values, field):
    AllergyFactory(patient=patient, allergen="Penicillins", allergen_kind="class")
    with nothing_written(), pytest.raises(Invalid) as raised:
        services.allergy_add(actor=technician, patient=patient, **values)
    assert fields_of(raised.value) == [field]


def test_the_same_allergen_as_another_kind_is_a_separate_entry(technician, patient):
    AllergyFactory(patient=patient, allergen="Sulfa", allergen_kind="class")
    services.allergy_add(
        actor=technician, patient=patient, allergen="Sulfa", allergen_kind="excipient"
    )
    assert patient.allergies.filter(active=True).count() == 2


def test_allergy_add_to_another_pharmacys_patient_is_not_found(technician, foreign_patient):
    with nothing_written(), pytest.raises(NotFound):
        services.allergy_add(
            actor=technician, patient=foreign_patient, allergen="Latex", allergen_kind="non_drug"
        )


@pytest.mark.parametrize("role", [Role.INVENTORY_SPECIALIST, Role.AUDITOR])
def test_allergy_add_is_forbidden_without_patient_edit(personas, patient, role):
    with nothing_written(), pytest.raises(Forbidden):
        services.allergy_add(
            actor=personas[role], patient=patient, allergen="Latex", allergen_kind="non_drug"
        )


@pytest.fixture
def penicillin(patient) -> Allergy:
    Patient.objects.filter(pk=patient.pk).update(allergy_status="has")
    return AllergyFactory(patient=patient, allergen="Penicillins", allergen_kind="class")


def test_allergy_inactivate_records_the_reason_and_asks_again_when_none_is_left(
    pharmacist, patient, penicillin
):
    services.allergy_inactivate(
        actor=pharmacist, allergy=penicillin, reason="  entered in   error "
    )

    penicillin.refresh_from_db()
    patient.refresh_from_db()
    assert (penicillin.active, penicillin.inactivated_reason) == (False, "entered in error")
    assert patient.allergy_status == "not_asked"  # not "no known allergies": ask again
    event = last_event()
    assert (event.action, event.actor_name, event.patient_id, event.reason, event.object_id) == (
        "patient.allergy.inactivated",
        "rph",
        patient.pk,
        "entered in error",
        str(penicillin.pk),
    )
    assert data_of(event) == {"allergen": "Penicillins"}


def test_allergy_inactivate_needs_a_reason(pharmacist, penicillin):
    with nothing_written(), pytest.raises(Invalid) as raised:
        services.allergy_inactivate(actor=pharmacist, allergy=penicillin, reason="   ")
    assert fields_of(raised.value) == ["reason"]
    assert Allergy.objects.get(pk=penicillin.pk).active is True


def test_allergy_inactivate_twice_is_a_conflict(pharmacist, penicillin):
    services.allergy_inactivate(actor=pharmacist, allergy=penicillin, reason="disproven")
    with nothing_written(), pytest.raises(Conflict, match="already removed"):
        services.allergy_inactivate(actor=pharmacist, allergy=penicillin, reason="again")


def test_allergy_inactivate_on_another_pharmacys_patient_is_not_found(outsider, penicillin):
    with nothing_written(), pytest.raises(NotFound):
        services.allergy_inactivate(actor=outsider, allergy=penicillin, reason="disproven")
    assert Allergy.objects.get(pk=penicillin.pk).active is True


@pytest.mark.parametrize("role", [Role.INVENTORY_SPECIALIST, Role.AUDITOR])
def test_allergy_inactivate_is_forbidden_without_patient_edit(personas, penicillin, role):
    with nothing_written(), pytest.raises(Forbidden):
        services.allergy_inactivate(actor=personas[role], allergy=penicillin, reason="disproven")
    assert Allergy.objects.get(pk=penicillin.pk).active is True


def test_no_known_allergies_is_recorded(technician, patient):
    services.patient_record_no_known_allergies(actor=technician, patient=patient)

    patient.refresh_from_db()
    assert patient.allergy_status == "nka"
    assert patient.allergies_reviewed_at is not None
    event = last_event()
    assert (event.action, event.actor_name, event.patient_id, data_of(event)) == (
        "patient.allergies.none_known",
        "tech",
        patient.pk,
        {},
    )


def test_no_known_allergies_is_refused_while_allergies_are_on_file(technician, patient, penicillin):
    with nothing_written(), pytest.raises(Conflict) as raised:
        services.patient_record_no_known_allergies(actor=technician, patient=patient)
    assert fields_of(raised.value) == ["allergy_status"]
    assert "Penicillins" in raised.value.message
    assert Patient.objects.get(pk=patient.pk).allergy_status == "has"


@pytest.mark.parametrize("role", [Role.INVENTORY_SPECIALIST, Role.AUDITOR])
def test_no_known_allergies_is_forbidden_without_patient_edit(personas, patient, role):
    with nothing_written(), pytest.raises(Forbidden):
        services.patient_record_no_known_allergies(actor=personas[role], patient=patient)
    assert Patient.objects.get(pk=patient.pk).allergy_status == "not_asked"


# --- conditions -------------------------------------------------------------------------------


def test_condition_add_records_the_code_but_not_the_description(technician, patient):
    condition = services.condition_add(
        actor=technician,
        patient=patient,
        description="Type 2 diabetes",
        icd10=" e11.9 ",
        onset=dt.date(2019, 5, 1),
    )

    assert condition.icd10 == "E11.9"
    event = last_event()
    assert (event.action, event.actor_name, event.patient_id, event.object_id) == (
        "patient.condition.added",
        "tech",
        patient.pk,
        str(condition.pk),
    )
    assert data_of(event) == {"icd10": "E11.9"}


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"icd10": "11.9"}, "icd10"),
        ({"icd10": "EE1.9"}, "icd10"),  # a letter, then two digits
        ({"onset": TOMORROW}, "onset"),
        ({"description": "  "}, "description"),
    ],
)
def test_condition_add_refuses_bad_input_and_writes_nothing(technician, patient, values, field):
    values = {"description": "Hypertension", **values}
    with nothing_written(), pytest.raises(Invalid) as raised:
        services.condition_add(actor=technician, patient=patient, **values)
    assert fields_of(raised.value) == [field]


@pytest.mark.parametrize("role", [Role.INVENTORY_SPECIALIST, Role.AUDITOR])
def test_condition_add_is_forbidden_without_patient_edit(personas, patient, role):
    with nothing_written(), pytest.raises(Forbidden):
        services.condition_add(actor=personas[role], patient=patient, description="Hypertension")


@pytest.fixture
def condition(patient, technician) -> Condition:
    return services.condition_add(
        actor=technician, patient=patient, description="Hypertension", icd10="I10"
    )


def test_condition_update_records_changes_without_the_description(pharmacist, condition):
    services.condition_update(
        actor=pharmacist, condition=condition, status="resolved", description="HTN, resolved"
    )

    condition.refresh_from_db()
    assert (condition.status, condition.description) == ("resolved", "HTN, resolved")
    event = last_event()
    assert (event.action, event.actor_name, event.patient_id, event.object_id) == (
        "patient.condition.updated",
        "rph",
        condition.patient_id,
        str(condition.pk),
    )
    assert data_of(event) == {"changes": {"status": ["active", "resolved"]}}


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"status": "gone"}, "status"),
        ({"icd10": "HTN1"}, "icd10"),
        ({"patient": 1}, "patient"),
    ],
)
def test_condition_update_refuses_bad_input_and_changes_nothing(
    pharmacist, condition, values, field
):
    with nothing_written(), pytest.raises(Invalid) as raised:
        services.condition_update(actor=pharmacist, condition=condition, **values)
    assert fields_of(raised.value) == [field]
    fresh = Condition.objects.get(pk=condition.pk)
    assert (fresh.status, fresh.icd10) == ("active", "I10")


@pytest.mark.parametrize("role", [Role.INVENTORY_SPECIALIST, Role.AUDITOR])
def test_condition_update_is_forbidden_without_patient_edit(personas, condition, role):
    with nothing_written(), pytest.raises(Forbidden):
        services.condition_update(actor=personas[role], condition=condition, status="resolved")
    assert Condition.objects.get(pk=condition.pk).status == "active"


def test_condition_update_on_another_pharmacys_patient_is_not_found(outsider, condition):
    with nothing_written(), pytest.raises(NotFound):
        services.condition_update(actor=outsider, condition=condition, status="resolved")


# --- measurements -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "value", "unit", "stored", "stored_unit"),
    [
        ("weight", "154", "lb", "69.85", "kg"),
        ("weight", Decimal("72.5"), "kg", "72.50", "kg"),
        ("weight", "3400", "g", "3.40", "kg"),
        ("height", "70", "in", "177.80", "cm"),
        ("height", "1.62", "m", "162.00", "cm"),
        ("scr", "1.1", "mg/dL", "1.10", "mg/dL"),
        ("scr", "97", "umol/L", "1.10", "mg/dL"),  # 97 / 88.4 = 1.097
    ],
)
def test_measurement_record_converts_exactly_and_records_what_was_typed(
    technician, patient, kind, value, unit, stored, stored_unit
):
    m = services.measurement_record(
        actor=technician,
        patient=patient,
        kind=kind,
        value=value,
        unit=unit,
        measured_on=dt.date(2026, 1, 5),
    )

    assert (Measurement.objects.get(pk=m.pk).value, m.unit) == (Decimal(stored), stored_unit)
    event = last_event()
    assert (event.action, event.actor_name, event.patient_id, event.object_id) == (
        "patient.measurement.recorded",
        "tech",
        patient.pk,
        str(m.pk),
    )
    assert data_of(event) == {
        "kind": kind,
        "value": stored,
        "unit": stored_unit,
        "entered": f"{value} {unit}",
        "measured_on": "2026-01-05",
    }


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"value": "2000", "unit": "kg"}, "value"),
        ({"value": "0.1", "unit": "kg"}, "value"),
        ({"value": "-70", "unit": "kg"}, "value"),
        ({"value": "seventy", "unit": "kg"}, "value"),
        ({"value": "NaN", "unit": "kg"}, "value"),
        ({"value": "Infinity", "unit": "kg"}, "value"),
        ({"value": "11", "unit": "stone"}, "unit"),
        ({"value": "70", "unit": "cm"}, "unit"),  # a weight in centimetres
        ({"kind": "bmi", "value": "22", "unit": "kg"}, "kind"),
        ({"kind": "scr", "value": "1.1", "unit": "kg"}, "unit"),
        ({"kind": "scr", "value": "40", "unit": "mg/dL"}, "value"),  # µmol/L typed as mg/dL
        ({"value": "70", "unit": "kg", "measured_on": TOMORROW}, "measured_on"),
    ],
)
def test_measurement_record_refuses_implausible_input_and_writes_nothing(
    technician, patient, values, field
):
    values = {"kind": "weight", **values}
    with nothing_written(), pytest.raises(Invalid) as raised:
        services.measurement_record(actor=technician, patient=patient, **values)
    assert fields_of(raised.value) == [field]


@pytest.mark.parametrize("role", [Role.INVENTORY_SPECIALIST, Role.AUDITOR])
def test_measurement_record_is_forbidden_without_patient_edit(personas, patient, role):
    with nothing_written(), pytest.raises(Forbidden):
        services.measurement_record(
            actor=personas[role], patient=patient, kind="weight", value="70", unit="kg"
        )


def test_measurement_record_on_another_pharmacys_patient_is_not_found(technician, foreign_patient):
    with nothing_written(), pytest.raises(NotFound):
        services.measurement_record(
            actor=technician, patient=foreign_patient, kind="weight", value="70", unit="kg"
        )


# --- identifiers ------------------------------------------------------------------------------


def test_identifier_add_records_the_kind_but_not_the_number(technician, patient):
    ident = services.identifier_add(
        actor=technician, patient=patient, kind="drivers_license", value=" d123-4567 ", issuer="IL"
    )

    assert (ident.value, ident.issuer) == ("D123-4567", "IL")
    event = last_event()
    assert (event.action, event.actor_name, event.patient_id, event.object_id) == (
        "patient.identifier.added",
        "tech",
        patient.pk,
        str(ident.pk),
    )
    assert data_of(event) == {"kind": "drivers_license"}
    assert "D123" not in event.data


@pytest.mark.parametrize(
    ("kind", "value", "field"),
    [
        ("ssn_last4", "123-45-6789", "value"),
        ("ssn_last4", "12a4", "value"),
        ("dna", "ACGT", "kind"),
        ("medicaid", "", "value"),
        ("drivers_license", "D123-4567", "value"),  # already on file
    ],
)
def test_identifier_add_refuses_bad_input_and_writes_nothing(
    technician, patient, kind, value, field
):
    PatientIdentifier.objects.create(patient=patient, kind="drivers_license", value="D123-4567")
    with nothing_written(), pytest.raises(Invalid) as raised:
        services.identifier_add(actor=technician, patient=patient, kind=kind, value=value)
    assert fields_of(raised.value) == [field]


@pytest.mark.parametrize("role", [Role.INVENTORY_SPECIALIST, Role.AUDITOR])
def test_identifier_add_is_forbidden_without_patient_edit(personas, patient, role):
    with nothing_written(), pytest.raises(Forbidden):
        services.identifier_add(actor=personas[role], patient=patient, kind="medicaid", value="M1")


# --- coverages --------------------------------------------------------------------------------

CARD = {"bin": "610014", "member_id": "ZX123", "pcn": "MEDDPRIME", "group": "RX1234"}


def test_coverage_add_records_the_card(technician, patient):
    coverage = services.coverage_add(actor=technician, patient=patient, plan_name="Acme Rx", **CARD)

    event = last_event()
    assert (event.action, event.actor_name, event.patient_id, event.object_id) == (
        "patient.coverage.added",
        "tech",
        patient.pk,
        str(coverage.pk),
    )
    assert data_of(event) == {
        "after": {
            "kind": "plan",
            "rank": 1,
            "plan_name": "Acme Rx",
            "bin": "610014",
            "pcn": "MEDDPRIME",
            "group": "RX1234",
            "member_id": "ZX123",
            "person_code": "",
            "relationship": "1",
            "effective_on": None,
            "terminates_on": None,
            "active": True,
        }
    }


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({}, "rank"),  # rank 1 is taken by the primary plan on file
        ({"rank": 2, "bin": "61001"}, "bin"),
        ({"rank": 2, "member_id": ""}, "member_id"),
        ({"rank": 2, "relationship": "9"}, "relationship"),
        (
            {
                "rank": 2,
                "effective_on": dt.date(2026, 1, 1),
                "terminates_on": dt.date(2025, 12, 31),
            },
            "terminates_on",
        ),
    ],
)
def test_coverage_add_refuses_a_broken_rule_and_writes_nothing(technician, patient, values, field):
    Coverage.objects.create(patient=patient, rank=1, bin="004336", member_id="A1")
    with nothing_written(), pytest.raises(Invalid) as raised:
        services.coverage_add(actor=technician, patient=patient, **{**CARD, **values})
    assert fields_of(raised.value) == [field]


@pytest.mark.parametrize("role", [Role.INVENTORY_SPECIALIST, Role.AUDITOR])
def test_coverage_add_is_forbidden_without_patient_edit(personas, patient, role):
    with nothing_written(), pytest.raises(Forbidden):
        services.coverage_add(actor=personas[role], patient=patient, **CARD)


@pytest.fixture
def coverages(patient) -> tuple[Coverage, Coverage]:
    primary = Coverage.objects.create(patient=patient, rank=1, bin="004336", member_id="A1")
    secondary = Coverage.objects.create(patient=patient, rank=2, bin="610014", member_id="B2")
    return primary, secondary


def test_coverage_update_records_the_changes(technician, coverages):
    primary, _ = coverages
    services.coverage_update(actor=technician, coverage=primary, active=False, group="G9")

    event = last_event()
    assert (event.action, event.actor_name, event.patient_id, event.object_id) == (
        "patient.coverage.updated",
        "tech",
        primary.patient_id,
        str(primary.pk),
    )
    assert data_of(event) == {"changes": {"active": [True, False], "group": ["", "G9"]}}


def test_coverage_update_refuses_a_rank_clash_and_changes_nothing(technician, coverages):
    _, secondary = coverages
    with nothing_written(), pytest.raises(Invalid) as raised:
        services.coverage_update(actor=technician, coverage=secondary, rank=1)
    assert fields_of(raised.value) == ["rank"]
    assert Coverage.objects.get(pk=secondary.pk).rank == 2


def test_a_terminated_plan_frees_its_rank(technician, coverages):
    primary, secondary = coverages
    services.coverage_update(actor=technician, coverage=primary, active=False)
    services.coverage_update(actor=technician, coverage=secondary, rank=1)
    assert Coverage.objects.get(pk=secondary.pk).rank == 1


@pytest.mark.parametrize("role", [Role.INVENTORY_SPECIALIST, Role.AUDITOR])
def test_coverage_update_is_forbidden_without_patient_edit(personas, coverages, role):
    with nothing_written(), pytest.raises(Forbidden):
        services.coverage_update(actor=personas[role], coverage=coverages[0], active=False)
    assert Coverage.objects.get(pk=coverages[0].pk).active is True


def test_coverage_update_on_another_pharmacys_patient_is_not_found(outsider, coverages):
    with nothing_written(), pytest.raises(NotFound):
        services.coverage_update(actor=outsider, coverage=coverages[0], active=False)


# --- prescribers ------------------------------------------------------------------------------

PRESCRIBER_DEFAULTS = {
    "middle_name": "",
    "suffix": "",
    "credential": "",
    "dea_number": "",
    "dea_suffix": "",
    "state_license": "",
    "state_license_state": "",
    "specialty": "",
    "active": True,
}


def test_prescriber_create_records_the_identifiers(site, technician):
    prescriber = services.prescriber_create(
        actor=technician,
        first_name="Ann",
        last_name="Baker",
        credential="MD",
        npi="1234-567893",
        dea_number="ab1234563-045a",
        state_license_state="il",
    )

    assert (prescriber.site_id, prescriber.npi) == (site.pk, "1234567893")
    assert (prescriber.dea_number, prescriber.dea_suffix) == ("AB1234563", "045A")
    event = last_event()
    assert (
        event.action,
        event.actor_name,
        event.patient_id,
        event.object_type,
        event.object_id,
    ) == (
        "prescriber.created",
        "tech",
        None,
        "patients.prescriber",
        str(prescriber.pk),
    )
    assert data_of(event) == {
        "after": {
            **PRESCRIBER_DEFAULTS,
            "first_name": "Ann",
            "last_name": "Baker",
            "credential": "MD",
            "npi": "1234567893",
            "dea_number": "AB1234563",
            "dea_suffix": "045A",
            "state_license_state": "IL",
        },
        "dea_name_confirmed": False,
    }


def test_a_dea_letter_mismatch_is_kept_only_when_confirmed(technician):
    values = {
        "first_name": "Ann",
        "last_name": "Smith",
        "npi": "1234567893",
        "dea_number": "BJ6125341",
    }
    with nothing_written(), pytest.raises(Invalid) as raised:
        services.prescriber_create(actor=technician, **values)
    assert fields_of(raised.value) == ["dea_number"]
    assert "second letter J does not match the last name 'Smith'" in raised.value.message

    prescriber = services.prescriber_create(actor=technician, confirm_dea_name=True, **values)
    assert prescriber.dea_number == "BJ6125341"
    assert data_of(last_event())["dea_name_confirmed"] is True


def test_a_business_dea_number_with_9_needs_no_confirmation(technician):
    prescriber = services.prescriber_create(
        actor=technician,
        first_name="Ann",
        last_name="Smith",
        npi="1234567893",
        dea_number="F91234563",
    )
    assert prescriber.dea_number == "F91234563"


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"npi": "1234567890"}, "npi"),
        ({"npi": "123"}, "npi"),
        ({"npi": "3234567890"}, "npi"),
        ({"npi": "2234567891"}, "npi"),  # taken by the prescriber on file
        ({"dea_number": "MS3418826"}, "dea_number"),
        ({"dea_number": "ZB1234563"}, "dea_number"),
        ({"dea_number": "AB1234563-04/5"}, "dea_number"),
        ({"last_name": ""}, "last_name"),
        ({"state_license_state": "ZZ"}, "state_license_state"),
        ({"credential": "Wizard"}, "credential"),
    ],
)
def test_prescriber_create_refuses_bad_input_and_writes_nothing(site, technician, values, field):
    PrescriberFactory(site=site, npi="2234567891")
    values = {"first_name": "Ann", "last_name": "Baker", "npi": "1234567893", **values}
    with nothing_written(), pytest.raises(Invalid) as raised:
        services.prescriber_create(actor=technician, **values)
    assert fields_of(raised.value) == [field]


def test_the_same_npi_may_be_on_file_at_another_pharmacy(technician, foreign_prescriber):
    prescriber = services.prescriber_create(
        actor=technician, first_name="M", last_name="Okafor", npi=foreign_prescriber.npi
    )
    assert prescriber.npi == foreign_prescriber.npi


@pytest.mark.parametrize(
    "role", [Role.TECHNICIAN_IN_TRAINING, Role.INVENTORY_SPECIALIST, Role.AUDITOR]
)
def test_prescriber_create_is_forbidden_without_prescriber_edit(personas, role):
    with nothing_written(), pytest.raises(Forbidden, match=r"\(prescriber\.edit\)"):
        services.prescriber_create(
            actor=personas[role], first_name="Ann", last_name="Baker", npi="1234567893"
        )


def test_prescriber_update_records_the_changes(technician, prescriber):
    services.prescriber_update(
        actor=technician, prescriber=prescriber, dea_number="BO1234563", specialty="Family medicine"
    )

    event = last_event()
    assert (event.action, event.actor_name, event.patient_id, event.object_id) == (
        "prescriber.updated",
        "tech",
        None,
        str(prescriber.pk),
    )
    assert data_of(event) == {
        "changes": {"dea_number": ["", "BO1234563"], "specialty": ["", "Family medicine"]}
    }


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"npi": "1234567890"}, "npi"),
        ({"dea_number": "BJ6125341"}, "dea_number"),  # J is not Okafor's initial
        ({"site": 2}, "site"),
    ],
)
def test_prescriber_update_refuses_bad_input_and_changes_nothing(
    technician, prescriber, values, field
):
    with nothing_written(), pytest.raises(Invalid) as raised:
        services.prescriber_update(actor=technician, prescriber=prescriber, **values)
    assert fields_of(raised.value) == [field]
    fresh = Prescriber.objects.get(pk=prescriber.pk)
    assert (fresh.npi, fresh.dea_number, fresh.site_id) == ("1234567893", "", prescriber.site_id)


def test_prescriber_update_of_another_pharmacys_prescriber_is_not_found(
    technician, foreign_prescriber
):
    with nothing_written(), pytest.raises(NotFound):
        services.prescriber_update(actor=technician, prescriber=foreign_prescriber, specialty="x")


@pytest.mark.parametrize(
    "role", [Role.TECHNICIAN_IN_TRAINING, Role.INVENTORY_SPECIALIST, Role.AUDITOR]
)
def test_prescriber_update_is_forbidden_without_prescriber_edit(personas, prescriber, role):
    with nothing_written(), pytest.raises(Forbidden):
        services.prescriber_update(
            actor=personas[role], prescriber=prescriber, specialty="Cardiology"
        )
    assert Prescriber.objects.get(pk=prescriber.pk).specialty == ""


ADDRESS = {
    "label": "Okafor Clinic",
    "address_line1": "210 Oak Avenue",
    "city": "Springfield",
    "state": "il",
    "postal_code": "62704",
    "phone": "(217) 555-1101",
}


def test_prescriber_address_add_records_it_and_takes_over_as_primary(technician, prescriber):
    first = services.prescriber_address_add(actor=technician, prescriber=prescriber, **ADDRESS)
    second = services.prescriber_address_add(
        actor=technician, prescriber=prescriber, **{**ADDRESS, "label": "Annex"}
    )

    first.refresh_from_db()
    assert (first.primary, second.primary) == (False, True)
    event = last_event()
    assert (event.action, event.actor_name, event.patient_id, event.object_id) == (
        "prescriber.address.added",
        "tech",
        None,
        str(second.pk),
    )
    assert data_of(event) == {
        "prescriber": prescriber.pk,
        "after": {
            "label": "Annex",
            "address_line1": "210 Oak Avenue",
            "address_line2": "",
            "city": "Springfield",
            "state": "IL",
            "postal_code": "62704",
            "phone": "2175551101",
            "fax": "",
            "primary": True,
        },
    }


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"postal_code": "6270"}, "postal_code"),
        ({"phone": "555-1101"}, "phone"),
        ({"fax": "123"}, "fax"),
        ({"state": "ZZ"}, "state"),
        ({"city": ""}, "city"),
    ],
)
def test_prescriber_address_add_refuses_bad_input_and_writes_nothing(
    technician, prescriber, values, field
):
    with nothing_written(), pytest.raises(Invalid) as raised:
        services.prescriber_address_add(
            actor=technician, prescriber=prescriber, **{**ADDRESS, **values}
        )
    assert fields_of(raised.value) == [field]


def test_a_refused_address_leaves_the_primary_address_primary(technician, prescriber):
    first = services.prescriber_address_add(actor=technician, prescriber=prescriber, **ADDRESS)
    with pytest.raises(Invalid):
        services.prescriber_address_add(
            actor=technician, prescriber=prescriber, **{**ADDRESS, "phone": "1"}
        )
    assert PrescriberAddress.objects.get(pk=first.pk).primary is True


@pytest.mark.parametrize(
    "role", [Role.TECHNICIAN_IN_TRAINING, Role.INVENTORY_SPECIALIST, Role.AUDITOR]
)
def test_prescriber_address_add_is_forbidden_without_prescriber_edit(personas, prescriber, role):
    with nothing_written(), pytest.raises(Forbidden):
        services.prescriber_address_add(actor=personas[role], prescriber=prescriber, **ADDRESS)


def test_prescriber_address_add_for_another_pharmacy_is_not_found(technician, foreign_prescriber):
    with nothing_written(), pytest.raises(NotFound):
        services.prescriber_address_add(actor=technician, prescriber=foreign_prescriber, **ADDRESS)


# --- patient_search ---------------------------------------------------------------------------


@pytest.fixture
def people(site, other_site) -> dict[str, Patient]:
    def make(first, last, dob, **kw):
        return PatientFactory(site=site, first_name=first, last_name=last, date_of_birth=dob, **kw)

    return {
        "john": make("John", "Smith", dt.date(1949, 11, 2), phone_mobile="2175552001"),
        "mary": make("Mary", "Smith", dt.date(1972, 6, 21), phone_home="2175553003"),
        "joan": make("Joan", "Smithers", dt.date(1960, 3, 14), phone_work="3125559999"),
        "jose": make("José", "Hernández", dt.date(1980, 2, 28)),
        "grace": make("Grace", "O'Neill", dt.date(1955, 7, 11)),
        "gone": make("Jon", "Smith", dt.date(1949, 11, 2), status="inactive"),
        # the same name, birth date and phone at another pharmacy: never found from here
        "elsewhere": PatientFactory(
            site=other_site,
            first_name="John",
            last_name="Smith",
            date_of_birth=dt.date(1949, 11, 2),
            phone_mobile="2175552001",
        ),
    }


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("smith", ["john", "mary", "joan"]),
        ("SMITH", ["john", "mary", "joan"]),
        ("smith, jo", ["john", "joan"]),
        ("smith,j", ["john", "joan"]),
        ("smithe, jo", ["joan"]),
        ("jo smith", ["john", "joan"]),
        ("smith john", ["john"]),
        ("john smith", ["john"]),
        ("mary", ["mary"]),
        ("hernandez", ["jose"]),
        ("jose hern", ["jose"]),
        ("oneill", ["grace"]),
        ("o'neill, grace", ["grace"]),
        ("11/02/1949", ["john"]),
        ("11-02-1949", ["john"]),
        ("1949-11-02", ["john"]),
        ("11021949", ["john"]),
        ("(217) 555-2001", ["john"]),
        ("2175553003", ["mary"]),
        ("555-9999", ["joan"]),
        ("s", []),
        ("j,", []),
        ("", []),
        ("   ", []),
        ("zz", []),
    ],
)
def test_patient_search_finds_by_name_birth_date_or_phone(technician, people, q, expected):
    found = list(patient_search(actor=technician, q=q))
    assert [p.pk for p in found] == [people[k].pk for k in expected]


def test_patient_search_combines_a_name_with_dob_and_phone_filters(technician, people):
    assert list(patient_search(actor=technician, q="smith", dob="06/21/1972")) == [people["mary"]]
    assert list(patient_search(actor=technician, q="smith", phone="217-555-2001")) == [
        people["john"]
    ]
    assert list(patient_search(actor=technician, dob=dt.date(1960, 3, 14))) == [people["joan"]]


def test_patient_search_includes_inactive_patients_only_when_asked(technician, people):
    found = list(patient_search(actor=technician, q="smith, jo", include_inactive=True))
    assert [p.pk for p in found] == [people["john"].pk, people["gone"].pk, people["joan"].pk]


def test_patient_search_never_returns_another_pharmacys_patients(technician, outsider, people):
    assert people["elsewhere"] not in patient_search(actor=technician, q="11/02/1949")
    assert list(patient_search(actor=outsider, q="smith")) == [people["elsewhere"]]
    assert list(patient_search(actor=outsider, q="2175552001")) == [people["elsewhere"]]


@pytest.mark.parametrize(
    ("params", "field"), [({"dob": "13/45/1949"}, "dob"), ({"phone": "5551"}, "phone")]
)
def test_patient_search_names_a_bad_filter(technician, people, params, field):
    with pytest.raises(Invalid) as raised:
        patient_search(actor=technician, **params)
    assert fields_of(raised.value) == [field]


@pytest.mark.parametrize("role", [Role.INVENTORY_SPECIALIST, Role.AUDITOR])
def test_patient_search_is_forbidden_without_patient_view(personas, people, role):
    with pytest.raises(Forbidden):
        patient_search(actor=personas[role], q="smith")


# --- `rxdesk demo` ----------------------------------------------------------------------------


def test_rxdesk_demo_loads_once_and_lists_the_sign_ins(db):
    out = io.StringIO()
    call_command("demo", "--no-serve", stdout=out, no_color=True)
    text = out.getvalue()
    assert "Demo pharmacy: Riverside Community Pharmacy" in text
    assert "All demo accounts use the password: riverside-demo-2026" in text
    assert "pic" in text and "Pharmacist-in-charge" in text
    events = AuditEvent.objects.count()
    assert events > 50
    assert AuditEvent.objects.filter(actor_kind="system", action="site.created").count() == 1

    call_command("demo", "--no-serve", stdout=io.StringIO())
    assert AuditEvent.objects.count() == events


# --- Fixes from review ------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["1E+30", "1e999999", "-1E+30", "0.0000001"])
def test_an_absurd_measurement_is_refused_naming_the_value(site, technician, value):
    patient = PatientFactory(site=site)
    with nothing_written(), pytest.raises(Invalid) as caught:
        services.measurement_record(
            actor=technician, patient=patient, kind="weight", value=value, unit="kg"
        )
    assert caught.value.errors[0]["field"] == "value"


def test_it_accepts_icd10_u_codes(site, technician):
    patient = PatientFactory(site=site)
    condition = services.condition_add(
        actor=technician, patient=patient, description="COVID-19", icd10="u07.1"
    )
    assert condition.icd10 == "U07.1"


def test_a_confirmed_dea_mismatch_need_not_be_confirmed_again(site, technician):
    # Given a prescriber whose DEA second letter (B) differs from her last name, confirmed once
    prescriber = services.prescriber_create(
        actor=technician,
        first_name="Ann",
        last_name="Okafor",
        npi="1234567893",
        dea_number="BJ6125341",
        confirm_dea_name=True,
    )
    # When only the specialty changes, no confirmation is asked again
    services.prescriber_update(actor=technician, prescriber=prescriber, specialty="Pediatrics")
    # But a new DEA number is checked again
    with pytest.raises(Invalid) as caught:
        services.prescriber_update(actor=technician, prescriber=prescriber, dea_number="AB1234563")
    assert caught.value.errors[0]["field"] == "dea_number"


def test_a_new_dea_number_drops_the_old_institutional_suffix(site, technician):
    prescriber = services.prescriber_create(
        actor=technician,
        first_name="Ann",
        last_name="Baker",
        npi="1234567893",
        dea_number="AB1234563-045A",
    )
    assert (prescriber.dea_number, prescriber.dea_suffix) == ("AB1234563", "045A")
    prescriber = services.prescriber_update(
        actor=technician, prescriber=prescriber, dea_number="BB6125341"
    )
    assert (prescriber.dea_number, prescriber.dea_suffix) == ("BB6125341", "")


def test_a_condition_update_keeps_the_rules_of_a_new_condition(site, technician):
    patient = PatientFactory(site=site)
    condition = services.condition_add(actor=technician, patient=patient, description="Asthma")
    with nothing_written(), pytest.raises(Invalid) as caught:
        services.condition_update(actor=technician, condition=condition, onset=dt.date(2999, 1, 1))
    assert caught.value.errors == [
        {"field": "onset", "message": "The onset date is in the future."}
    ]
    updated = services.condition_update(
        actor=technician, condition=condition, description="  mild   persistent asthma "
    )
    assert updated.description == "mild persistent asthma"


def test_an_identifier_issuer_is_stored_as_its_postal_code(site, technician):
    patient = PatientFactory(site=site)
    ident = services.identifier_add(
        actor=technician, patient=patient, kind="drivers_license", value="d123-4567", issuer="il"
    )
    assert (ident.value, ident.issuer) == ("D123-4567", "IL")
