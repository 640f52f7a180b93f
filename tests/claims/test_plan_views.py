"""The plan file's screens (/claims/plans/…) and the eligibility button on the patient's
coverage list: the list reads for whoever works claims, the forms are for the plan keepers,
a broken rule shows beside its field with nothing written, and the E1 check goes to a real
test payer over TCP."""

from __future__ import annotations

import json

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from rxdesk.claims import rejects
from rxdesk.claims.choices import EligibilityStatus
from rxdesk.claims.models import Eligibility, Payer, Plan
from rxdesk.core.models import AuditEvent, User
from rxdesk.patients.choices import CoverageKind
from rxdesk.patients.models import Coverage
from tests.claims.conftest import free_port
from tests.claims.test_plans import make_payer, make_plan
from tests.factories import PatientFactory

pytestmark = pytest.mark.django_db

NPI = "1234567893"


@pytest.fixture(autouse=True)
def _plain_http(settings):
    settings.SECURE_SSL_REDIRECT = False


def signed_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def writes() -> tuple[int, ...]:
    events = AuditEvent.objects.exclude(action__startswith="auth.")
    return (
        Payer.objects.count(),
        Plan.objects.count(),
        Eligibility.objects.count(),
        events.count(),
    )


# --- The list ---------------------------------------------------------------------------------


def test_the_list_shows_plans_and_payers_to_a_technician_without_edit_links(technician):
    plan = make_plan()
    response = signed_in(technician).get(reverse("claims_plans"))
    assert response.status_code == 200
    text = response.text
    assert "Test Commercial" in text and "610014" in text and "TESTPCN" in text
    assert "127.0.0.1:7010" in text
    assert reverse("claims_plan_edit", args=[plan.pk]) not in text
    assert reverse("claims_plan_create") not in text


def test_the_list_offers_the_forms_to_a_pharmacist(pharmacist):
    plan = make_plan()
    text = signed_in(pharmacist).get(reverse("claims_plans")).text
    assert reverse("claims_plan_edit", args=[plan.pk]) in text
    assert reverse("claims_payer_edit", args=[plan.payer_id]) in text
    assert 'data-key="n"' in text and 'data-key="y"' in text


def test_the_list_filters_by_bin_and_hides_inactive_plans(technician):
    payer = make_payer()
    make_plan(payer)
    make_plan(payer, name="Part D Gold", bin="004336", pcn="MEDDPCN")
    make_plan(payer, name="Old Plan", bin="004336", pcn="OLD", active=False)
    client = signed_in(technician)
    text = client.get(reverse("claims_plans"), {"bin": "004336"}).text
    assert "Part D Gold" in text and "Test Commercial" not in text and "Old Plan" not in text
    text = client.get(reverse("claims_plans"), {"bin": "004336", "include_inactive": "on"}).text
    assert "Old Plan" in text


def test_the_list_costs_the_same_queries_for_one_plan_or_many(technician):
    payer = make_payer()
    make_plan(payer)
    client = signed_in(technician)
    client.get(reverse("claims_plans"))  # the session is warm
    with CaptureQueriesContext(connection) as one:
        client.get(reverse("claims_plans"))
    for n in range(6):
        make_plan(make_payer(name=f"Payer {n}"), name=f"Plan {n}", bin=f"00{n}000")
    with CaptureQueriesContext(connection) as many:
        assert "Plan 5" in client.get(reverse("claims_plans")).text
    assert len(many) == len(one)


@pytest.mark.parametrize("username", ["trainee", "inventory", "auditor"])
def test_roles_without_claims_do_not_see_the_plan_file(personas, username):
    actor = {p.username: p for p in personas.values()}[username]
    assert signed_in(actor).get(reverse("claims_plans")).status_code == 403


# --- Plan and payer forms ---------------------------------------------------------------------


def test_a_pharmacist_adds_a_plan_from_the_keyboard(pharmacist):
    payer = make_payer()
    client = signed_in(pharmacist)
    form = client.get(reverse("claims_plan_create"))
    assert form.status_code == 200
    assert "autofocus" in form.text and 'name="bin"' in form.text

    response = client.post(
        reverse("claims_plan_create"),
        {
            "bin": "004336",
            "pcn": "adv",
            "group": "rx1234",
            "payer": payer.pk,
            "name": "Caremark Gold",
            "return_to_stock_days": "10",
            "max_days_supply": "34",
            "dispensing_fee": "1.75",
        },
    )

    assert response.status_code == 302
    assert response["Location"] == reverse("claims_plans")
    plan = Plan.objects.get(bin="004336")
    assert (plan.pcn, plan.group, plan.payer_id, plan.max_days_supply, plan.active) == (
        "ADV",
        "RX1234",
        payer.pk,
        34,
        True,
    )
    assert AuditEvent.objects.filter(action="claims.plan.created").count() == 1


@pytest.mark.parametrize(
    ("over", "field", "message"),
    [
        ({"bin": "61001"}, "bin", "A BIN is exactly 6 digits."),
        ({"return_to_stock_days": "91"}, "return_to_stock_days", "less than or equal to 90"),
        ({"return_to_stock_days": "ten"}, "return_to_stock_days", "Type a whole number."),
        ({"dispensing_fee": "-1"}, "dispensing_fee", "greater than or equal to 0"),
        ({"max_days_supply": "400"}, "max_days_supply", "less than or equal to 365"),
        ({"help_desk_phone": "555"}, "help_desk_phone", "A phone number is 10 digits"),
        ({"pcn": "testpcn"}, "bin", "is already in the plan file"),
    ],
)
def test_a_bad_plan_shows_beside_its_field_and_nothing_is_written(pharmacist, over, field, message):
    payer = make_payer()
    make_plan(payer)
    client = signed_in(pharmacist)
    before = writes()
    data = {
        "bin": "610014",
        "pcn": "OTHER",
        "payer": payer.pk,
        "name": "Gold",
        "return_to_stock_days": "14",
        "dispensing_fee": "0",
        **over,
    }
    response = client.post(reverse("claims_plan_create"), data)
    assert response.status_code == 422
    assert message in " ".join(response.context["form"].errors[field])
    assert writes() == before


def test_changing_a_plan_sends_only_what_changed_and_unticking_active_deactivates_it(pharmacist):
    plan = make_plan()
    client = signed_in(pharmacist)
    url = reverse("claims_plan_edit", args=[plan.pk])
    page = client.get(url)
    assert page.status_code == 200 and 'value="610014"' in page.text
    response = client.post(
        url,
        {
            "bin": "610014",
            "pcn": "TESTPCN",
            "group": "",
            "payer": plan.payer_id,
            "name": "Test Commercial",
            "return_to_stock_days": "7",
            "dispensing_fee": "1.75",
            # "active" unticked
        },
    )
    assert response.status_code == 302
    plan.refresh_from_db()
    assert (plan.return_to_stock_days, plan.active) == (7, False)
    [event] = AuditEvent.objects.filter(action="claims.plan.updated")
    assert json.loads(event.data) == {
        "before": {"active": True, "return_to_stock_days": 14},
        "after": {"active": False, "return_to_stock_days": 7},
    }


def test_a_pharmacist_adds_and_changes_a_payer(pharmacist):
    client = signed_in(pharmacist)
    response = client.post(
        reverse("claims_payer_create"),
        {
            "name": "Caremark",
            "help_desk_phone": "800-555-0142",
            "host": "127.0.0.1",
            "port": "7011",
            "timeout_seconds": "15",
        },
    )
    assert response.status_code == 302
    payer = Payer.objects.get(name="Caremark")
    assert payer.help_desk_phone == "8005550142"
    url = reverse("claims_payer_edit", args=[payer.pk])
    values = {
        "name": "Caremark",
        "help_desk_phone": "8005550142",
        "host": "127.0.0.1",
        "port": "70000",
        "timeout_seconds": "15",
        "active": "on",
    }
    before = writes()
    response = client.post(url, values)
    assert response.status_code == 422
    assert response.context["form"].errors["port"] == [
        "Ensure this value is less than or equal to 65535."
    ]
    assert writes() == before
    assert client.post(url, {**values, "port": "7012"}).status_code == 302
    payer.refresh_from_db()
    assert payer.port == 7012


@pytest.mark.parametrize("name", ["claims_plan_create", "claims_payer_create"])
def test_a_technician_cannot_open_the_forms(technician, name):
    client = signed_in(technician)
    before = writes()
    assert client.get(reverse(name)).status_code == 403
    assert (
        client.post(reverse(name), {"name": "X", "bin": "123456", "port": "1"}).status_code == 403
    )
    assert writes() == before


def test_a_plan_that_does_not_exist_is_a_404_page(pharmacist):
    response = signed_in(pharmacist).get(reverse("claims_plan_edit", args=[999999]))
    assert response.status_code == 404


# --- Eligibility ------------------------------------------------------------------------------


@pytest.fixture
def card(site) -> Coverage:
    site.npi = NPI
    site.save(update_fields=["npi"])
    patient = PatientFactory(site=site, last_name="Rivera", first_name="Ana")
    return Coverage.objects.create(
        patient=patient, bin="610014", pcn="TESTPCN", member_id="ZX123456", plan_name="Acme"
    )


def _plan_at(port: int) -> Plan:
    return make_plan(make_payer(port=port, timeout_seconds=5))


def test_the_coverage_list_offers_the_check_to_whoever_bills(technician, trainee, card):
    cash = Coverage.objects.create(patient=card.patient, rank=2, kind=CoverageKind.CASH)
    detail = reverse("patient_detail", args=[card.patient_id])
    text = signed_in(technician).get(detail).text
    assert f'action="{reverse("claims_eligibility", args=[card.pk])}"' in text
    assert reverse("claims_eligibility", args=[cash.pk]) not in text
    assert "Check eligibility" not in signed_in(trainee).get(detail).text


def test_an_active_card_is_answered_active(technician, card, test_payer):
    payer = test_payer()
    _plan_at(payer.port)
    response = signed_in(technician).post(reverse("claims_eligibility", args=[card.pk]))
    assert response.status_code == 200
    assert "Coverage active" in response.text
    assert "ELIGIBLE" in response.text
    check = Eligibility.objects.get()
    assert (check.status, check.coverage_id, check.checked_by_id) == (
        EligibilityStatus.ACTIVE,
        card.pk,
        technician.pk,
    )
    payer.wait_for("E1 cardholder ZX123456 eligible")


def test_a_terminated_card_is_not_eligible_with_the_rejects_meaning(technician, card, test_payer):
    payer = test_payer(
        {"plans": [{"bin": "610014", "pcn": "TESTPCN", "name": "Test", "terminated": ["ZX123456"]}]}
    )
    _plan_at(payer.port)
    response = signed_in(technician).post(reverse("claims_eligibility", args=[card.pk]))
    assert response.status_code == 200
    assert "Not eligible" in response.text
    reject = rejects.explain("65")
    assert reject.meaning in response.text
    assert Eligibility.objects.get().reject_codes == ["65"]


def test_a_switch_that_does_not_answer_says_so(technician, card):
    _plan_at(free_port())
    response = signed_in(technician).post(reverse("claims_eligibility", args=[card.pk]))
    assert response.status_code == 200
    assert "No answer" in response.text
    assert "(800) 555-0100" in response.text  # the help desk to call
    assert Eligibility.objects.get().status == EligibilityStatus.NO_ANSWER


def test_htmx_gets_the_answer_alone_to_show_under_the_list(technician, card):
    _plan_at(free_port())
    response = signed_in(technician).post(
        reverse("claims_eligibility", args=[card.pk]), headers={"HX-Request": "true"}
    )
    assert response.status_code == 200
    assert response.text.lstrip().startswith('<div class="card eligibility"')


def test_a_card_with_no_plan_on_file_is_explained_and_nothing_is_written(technician, card):
    before = writes()
    response = signed_in(technician).post(reverse("claims_eligibility", args=[card.pk]))
    assert response.status_code == 422
    assert "No plan on file for BIN 610014 PCN TESTPCN" in response.text
    assert writes() == before


@pytest.mark.parametrize("username", ["trainee", "inventory", "auditor", "admin"])
def test_roles_that_do_not_bill_cannot_check(personas, card, username):
    actor = {p.username: p for p in personas.values()}[username]
    _plan_at(free_port())
    client = signed_in(actor)
    before = writes()
    assert client.post(reverse("claims_eligibility", args=[card.pk])).status_code == 403
    assert client.get(reverse("claims_eligibility", args=[card.pk])).status_code == 405
    assert writes() == before


def test_another_pharmacys_card_does_not_exist(outsider, card):
    _plan_at(free_port())
    before = writes()
    response = signed_in(outsider).post(reverse("claims_eligibility", args=[card.pk]))
    assert response.status_code == 404
    assert writes() == before
