"""The coverage form on the patient's record: a kind (plan, copay card, assistance program,
cash); BIN and cardholder ID may stay empty only for cash — the service says which field is
missing, beside it, and nothing is written."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from rxdesk.core.models import AuditEvent, User
from rxdesk.patients.choices import CoverageKind
from rxdesk.patients.models import Coverage
from tests.factories import PatientFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _plain_http(settings):
    settings.SECURE_SSL_REDIRECT = False


@pytest.fixture
def patient(site):
    return PatientFactory(site=site)


def signed_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def writes() -> tuple[int, int]:
    events = AuditEvent.objects.exclude(action__startswith="auth.")
    return Coverage.objects.count(), events.count()


CARD = {
    "bin": "610014",
    "pcn": "TESTPCN",
    "member_id": "ZX123456",
    "relationship": "1",
    "rank": "1",
}


def test_the_form_offers_the_kinds_and_starts_on_the_bin(technician, patient):
    text = signed_in(technician).get(reverse("coverage_add", args=[patient.pk])).text
    for value, label in CoverageKind.choices:
        assert f'<option value="{value}"' in text and label in text
    assert 'name="bin"' in text
    bin_input = text[text.index('name="bin"') - 200 : text.index('name="bin"') + 200]
    assert "autofocus" in bin_input


def test_cash_needs_no_bin_or_cardholder_id(technician, patient):
    response = signed_in(technician).post(
        reverse("coverage_add", args=[patient.pk]),
        {"kind": "cash", "rank": "1", "relationship": "1"},
        follow=True,
    )
    assert response.status_code == 200
    assert "Cash (no plan billed) is on the record." in response.text
    coverage = Coverage.objects.get()
    assert (coverage.kind, coverage.bin, coverage.member_id, coverage.billable) == (
        "cash",
        "",
        "",
        False,
    )


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({**CARD, "kind": "plan", "bin": ""}, "bin", "Type the BIN from the card (6 digits)."),
        (
            {**CARD, "kind": "copay_card", "member_id": ""},
            "member_id",
            "Type the cardholder ID from the card.",
        ),
        ({**CARD, "kind": "assistance", "bin": "12345"}, "bin", "A BIN is exactly 6 digits."),
        ({**CARD, "kind": "coupon"}, "kind", "Select a valid choice."),
    ],
)
def test_a_card_missing_what_routes_it_is_refused_beside_the_field(
    technician, patient, data, field, message
):
    before = writes()
    response = signed_in(technician).post(reverse("coverage_add", args=[patient.pk]), data)
    assert response.status_code == 422
    assert message in response.context["form"].errors[field][0]
    assert writes() == before


def test_a_copay_card_is_kept_as_one(technician, patient):
    response = signed_in(technician).post(
        reverse("coverage_add", args=[patient.pk]),
        {**CARD, "kind": "copay_card", "bin": "610020", "rank": "2"},
        follow=True,
    )
    assert "The copay card is on the record." in response.text
    coverage = Coverage.objects.get()
    assert (coverage.kind, coverage.rank, coverage.billable) == ("copay_card", 2, True)
    assert "Coupon / copay card" in response.text  # the kind on the coverage list


def test_a_form_without_a_kind_adds_a_plan(technician, patient):
    response = signed_in(technician).post(reverse("coverage_add", args=[patient.pk]), CARD)
    assert response.status_code == 302
    assert Coverage.objects.get().kind == CoverageKind.PLAN
