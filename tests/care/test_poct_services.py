"""Services of point-of-care tests and the care settings: each rule, each refusal (with
nothing written), the audit events."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from rxdesk.care import services_poct as services
from rxdesk.care.common import settings_of
from rxdesk.care.models import CareSettings, PocTestResult
from rxdesk.core.choices import Role
from rxdesk.core.errors import Conflict, CredentialExpired, Forbidden, Invalid, NotFound
from rxdesk.core.models import AuditEvent
from tests.care.factories import staff
from tests.care.poct_setup import glucose, patient, poct_site, record
from tests.conftest import earlier_today, last_event

pytestmark = pytest.mark.django_db


def _args(site, **over):
    values = {
        "patient": patient(site),
        "test_code": "strep_a",
        "collected_at": earlier_today(site, minutes=5),
        "kit_lot": "LOT42",
        "kit_expiry": site.today() + dt.timedelta(days=30),
        "result": "negative",
    }
    values.update(over)
    return values


def _refused(actor, exc, field=None, **args):
    before = (PocTestResult.objects.count(), AuditEvent.objects.count())
    with pytest.raises(exc) as err:
        services.poct_record(actor=actor, **args)
    assert (PocTestResult.objects.count(), AuditEvent.objects.count()) == before
    if field is not None:
        assert err.value.field == field
    return err.value


# --- settings ---------------------------------------------------------------------------------


def test_the_pic_sets_up_testing(site, pic):
    row = services.care_settings_set(
        actor=pic,
        poct_enabled=True,
        clia_certificate="05d-1234567",
        clia_expires=site.today() + dt.timedelta(days=400),
        poct_tests=["inr", "strep_a", "strep_a"],
        technicians_perform_poct=True,
        callback_hours=6,
    )
    row.refresh_from_db()
    assert row.clia_certificate == "05D1234567"
    assert row.poct_tests == ["strep_a", "inr"]  # catalog order, once each
    assert row.callback_hours == 6 and row.updated_by == pic
    event = last_event()
    assert event.action == "care.settings.updated"
    assert '"clia_certificate":["","05D1234567"]' in event.data


@pytest.mark.parametrize(
    ("over", "field"),
    [
        ({"clia_certificate": "05X1234567"}, "clia_certificate"),
        ({"clia_certificate": "5D1234567"}, "clia_certificate"),
        ({"clia_certificate": ""}, "clia_certificate"),
        ({"clia_expires": None}, "clia_expires"),
        ({"clia_expires": dt.date(2020, 1, 1)}, "clia_expires"),
        ({"poct_tests": ["strep_a", "pregnancy"]}, "poct_tests"),
        ({"poct_tests": []}, "poct_tests"),
        ({"callback_hours": 0}, "callback_hours"),
        ({"callback_hours": 169}, "callback_hours"),
    ],
)
def test_bad_settings_are_refused_and_nothing_changes(site, pic, over, field):
    values = {
        "poct_enabled": True,
        "clia_certificate": "05D1234567",
        "clia_expires": site.today() + dt.timedelta(days=30),
        "poct_tests": ["strep_a"],
        "callback_hours": 4,
    }
    values.update(over)
    settings_of(site)
    before = AuditEvent.objects.count()
    with pytest.raises(Invalid) as err:
        services.care_settings_set(actor=pic, **values)
    assert err.value.field == field
    assert AuditEvent.objects.count() == before
    assert CareSettings.objects.get(site=site).poct_enabled is False


def test_turning_testing_off_needs_no_certificate(site, pic):
    poct_site(site)
    row = services.care_settings_set(actor=pic, poct_enabled=False, callback_hours=2)
    assert not row.poct_enabled and row.poct_tests == [] and row.callback_hours == 2


@pytest.mark.parametrize("role", [Role.PHARMACIST, Role.TECHNICIAN, Role.AUDITOR])
def test_only_the_pic_changes_the_settings(site, role):
    before = AuditEvent.objects.count()
    with pytest.raises(Forbidden):
        services.care_settings_set(actor=staff(site, role), poct_enabled=False)
    assert AuditEvent.objects.count() == before


# --- recording --------------------------------------------------------------------------------


def test_a_technician_records_a_negative_strep_test(site, technician):
    poct_site(site)
    args = _args(site)
    row = services.poct_record(actor=technician, **args)
    assert (row.test_name, row.loinc, row.specimen) == (
        "Group A strep antigen (rapid)",
        "78012-2",
        "Throat swab",
    )
    assert (row.result, row.interpretation, row.status) == ("negative", "normal", "recorded")
    assert row.performed_by == technician and row.reference_range == "Negative"
    event = last_event()
    assert event.action == "care.poct.recorded" and event.patient_id == args["patient"].pk
    assert '"interpretation":"normal"' in event.data and "LOT42" not in event.data


def test_a_glucose_value_is_interpreted_with_its_unit(site, pharmacist):
    poct_site(site)
    row = services.poct_record(
        actor=pharmacist,
        **_args(site, test_code="glucose", result="value", value="180", follow_up="See PCP"),
    )
    assert (row.value, row.unit, row.interpretation) == (Decimal("180"), "mg/dL", "abnormal")
    assert row.reference_range == "70–139 mg/dL"


def test_a_critical_inr_needs_a_follow_up_and_a_referral(site, pharmacist):
    poct_site(site)
    args = _args(site, test_code="inr", result="value", value=Decimal("5.4"))
    err = _refused(pharmacist, Invalid, "follow_up", **args)
    assert "Critical" in err.message
    args["follow_up"] = "Held tonight's dose; called Dr Okafor"
    _refused(pharmacist, Invalid, "referred", **args)
    args["referred"] = True
    _refused(pharmacist, Invalid, "referral_to", **args)
    args["referral_to"] = "Anticoagulation clinic"
    _refused(pharmacist, Invalid, "referral_reason", **args)
    args["referral_reason"] = "INR 5.4"
    row = services.poct_record(actor=pharmacist, **args)
    assert row.interpretation == "critical" and row.referred


def test_a_positive_hiv_screen_is_referred(site, pharmacist):
    poct_site(site)
    args = _args(
        site, test_code="hiv", result="positive", specimen="oral fluid", follow_up="Counseled"
    )
    _refused(pharmacist, Invalid, "referred", **args)
    row = services.poct_record(
        actor=pharmacist,
        referred=True,
        referral_to="County clinic",
        referral_reason="Confirm",
        **args,
    )
    assert row.specimen == "Oral fluid" and row.referred


@pytest.mark.parametrize(
    ("over", "field"),
    [
        ({"test_code": "pregnancy"}, "test_code"),
        ({"specimen": "Urine"}, "specimen"),
        ({"kit_lot": " "}, "kit_lot"),
        ({"kit_expiry": None}, "kit_expiry"),
        ({"collected_at": None}, "collected_at"),
        ({"collected_at": dt.datetime(2024, 1, 1, 9, 0)}, "collected_at"),
        ({"collected_at": timezone.now() + dt.timedelta(hours=2)}, "collected_at"),
        ({"collected_at": timezone.now() - dt.timedelta(days=8)}, "collected_at"),
        ({"result": "value", "value": "1"}, "result"),
        ({"result": "maybe"}, "result"),
        ({"value": "3"}, "value"),
        ({"test_code": "glucose", "result": "value", "value": "900"}, "value"),
        ({"test_code": "glucose", "result": "value"}, "value"),
        ({"result": "positive"}, "follow_up"),
    ],
)
def test_a_bad_result_is_refused_and_nothing_is_written(site, technician, over, field):
    poct_site(site)
    _refused(technician, Invalid, field, **_args(site, **over))


def test_an_expired_kit_is_refused(site, technician):
    poct_site(site)
    collected = timezone.now() - dt.timedelta(days=2)
    expiry = collected.astimezone(site.tz).date() - dt.timedelta(days=1)
    err = _refused(
        technician, Invalid, "kit_expiry", **_args(site, collected_at=collected, kit_expiry=expiry)
    )
    assert "expired" in err.message
    # in date on the day of collection: accepted
    day = collected.astimezone(site.tz).date()
    assert services.poct_record(
        actor=technician, **_args(site, collected_at=collected, kit_expiry=day)
    )


def test_a_site_without_testing_or_certificate_records_nothing(site, pharmacist):
    settings_of(site)
    _refused(pharmacist, Conflict, **_args(site))
    poct_site(site, clia_expires=site.today() - dt.timedelta(days=1))
    err = _refused(pharmacist, Conflict, **_args(site))
    assert "expired" in err.message
    poct_site(site, clia_certificate="")
    _refused(pharmacist, Conflict, **_args(site))


def test_a_test_the_site_does_not_permit_is_refused(site, pharmacist):
    poct_site(site, poct_tests=["flu_a"])
    err = _refused(pharmacist, Conflict, "test_code", **_args(site))
    assert "not among the tests" in err.message


def test_a_technician_tests_only_where_the_site_allows_it(site, technician, pharmacist):
    poct_site(site, technicians_perform_poct=False)
    _refused(technician, Forbidden, **_args(site))
    assert services.poct_record(actor=pharmacist, **_args(site))


def test_a_trainee_an_auditor_and_an_expired_technician_may_not_test(site, trainee, auditor):
    poct_site(site)
    _refused(trainee, Forbidden, **_args(site))
    _refused(auditor, Forbidden, **_args(site))
    lapsed = staff(site, Role.TECHNICIAN, username="lapsed")
    lapsed.technician_registration_expires = site.today() - dt.timedelta(days=1)
    lapsed.save()
    _refused(lapsed, CredentialExpired, **_args(site))


def test_another_sites_patient_is_refused(site, other_site, technician):
    poct_site(site)
    _refused(technician, Invalid, "patient", **_args(site, patient=patient(other_site)))


# --- after the test ---------------------------------------------------------------------------


def test_the_result_given_to_the_patient_is_recorded_once(site, technician):
    row = record(site)
    services.poct_result_communicated(actor=technician, result=row)
    row.refresh_from_db()
    assert row.communicated_at is not None
    assert last_event().action == "care.poct.communicated"
    before = AuditEvent.objects.count()
    with pytest.raises(Conflict):
        services.poct_result_communicated(actor=technician, result=row)
    with pytest.raises(Invalid):
        services.poct_result_communicated(
            actor=technician, result=record(site), at=timezone.now() + dt.timedelta(hours=1)
        )
    assert AuditEvent.objects.count() == before + 1  # only the second record()


def test_the_pharmacist_reviews_a_result_once(site, pharmacist, technician):
    row = glucose(site)
    with pytest.raises(Forbidden):
        services.poct_review(actor=technician, result=row, note="")
    services.poct_review(actor=pharmacist, result=row, note="Fasting; normal")
    row.refresh_from_db()
    assert (row.status, row.reviewed_by, row.status_reason) == (
        "reviewed",
        pharmacist,
        "Fasting; normal",
    )
    event = last_event()
    assert event.action == "care.poct.reviewed" and "Fasting" not in event.data
    with pytest.raises(Conflict):
        services.poct_review(actor=pharmacist, result=row)


def test_a_pharmacist_marks_a_result_entered_in_error(site, pharmacist, technician):
    row = record(site)
    with pytest.raises(Forbidden):
        services.poct_mark_entered_in_error(actor=technician, result=row, reason="Wrong patient")
    with pytest.raises(Invalid) as err:
        services.poct_mark_entered_in_error(actor=pharmacist, result=row, reason=" ")
    assert err.value.field == "reason"
    services.poct_mark_entered_in_error(actor=pharmacist, result=row, reason="Wrong patient")
    row.refresh_from_db()
    assert (row.status, row.status_reason) == ("entered_in_error", "Wrong patient")
    assert last_event().action == "care.poct.entered_in_error"
    for call in (
        lambda: services.poct_mark_entered_in_error(actor=pharmacist, result=row, reason="again"),
        lambda: services.poct_review(actor=pharmacist, result=row),
        lambda: services.poct_result_communicated(actor=pharmacist, result=row),
    ):
        with pytest.raises(Conflict):
            call()


def test_another_sites_result_is_not_found(site, other_site):
    row = record(other_site)
    outsider_rph = staff(site, Role.PHARMACIST, username="here-rph")
    with pytest.raises(NotFound):
        services.poct_review(actor=outsider_rph, result=row)
    with pytest.raises(NotFound):
        services.poct_viewed(actor=outsider_rph, result=row)
