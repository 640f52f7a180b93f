"""Billing through the API and the workstation screens, against a real test payer."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse

from rxdesk.claims.choices import ClaimStatus
from rxdesk.claims.models import Claim
from tests.claims.billing_helpers import card, payer_for, plan_for, plan_rules, priced_rx
from tests.rx.test_api import Api, fields_of, problem_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def plan(test_payer):
    return plan_for(payer_for(test_payer({"plans": [plan_rules()]})))


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_the_api_bills_a_fill_and_lists_its_claims(technician, plan):
    rx, fill = priced_rx(technician)
    card(rx.patient)
    api = Api(technician)

    response = api.post(f"/claims/fills/{fill.pk}/bill")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["patient_pay"] == "5.00"
    (claim,) = body["claims"]
    assert (claim["status"], claim["plan_name"], claim["patient_pay"]) == (
        "paid",
        "Test Commercial",
        "5.00",
    )
    listed = api.get(f"/claims/fills/{fill.pk}/claims").json()
    assert [c["id"] for c in listed] == [claim["id"]]
    assert api.get(f"/claims/claims/{claim['id']}").json()["authorization_number"]


def test_the_api_refuses_roles_and_bad_bodies_naming_the_field(
    technician, trainee, pharmacist, plan
):
    rx, fill = priced_rx(technician)
    card(rx.patient)
    problem_of(Api(trainee).post(f"/claims/fills/{fill.pk}/bill"), 403)
    problem_of(
        Api(technician).post(
            f"/claims/fills/{fill.pk}/proceed", {"collect": "5.00", "reason": "down"}
        ),
        403,
    )
    assert fields_of(Api(technician).post(f"/claims/fills/{fill.pk}/cash", {})) == ["reason"]
    assert not Claim.objects.exists()


def test_a_rejected_claim_shows_in_the_queue_with_what_to_do(test_payer, technician):
    rx, fill = priced_rx(technician)
    plan_for(payer_for(test_payer({"plans": [plan_rules(not_covered=[rx.package.ndc11])]})))
    card(rx.patient)
    api = Api(technician)
    body = api.post(f"/claims/fills/{fill.pk}/bill").json()
    assert body["claims"][0]["status"] == "rejected"
    queue = api.get("/claims/rejects").json()
    (row,) = queue
    assert row["rejects"][0]["code"] == "70"
    assert "covered" in row["rejects"][0]["advice"].lower()

    response = api.post(
        f"/claims/claims/{row['id']}/resubmit", {"prior_auth_number": "not a number!"}
    )
    assert fields_of(response) == ["prior_auth_number"]


def test_the_prescription_page_bills_its_waiting_fill_from_the_claims_panel(
    technician, pharmacist, plan
):
    rx, fill = priced_rx(technician)
    card(rx.patient)
    page = reverse("rx_detail", kwargs={"pk": rx.pk})
    tech = client_for(technician)

    html = tech.get(page).content.decode()
    assert "Bill insurance" in html and "Go on without the answer" not in html

    response = tech.post(
        reverse("claims_fill_bill", kwargs={"pk": fill.pk}), {"next": page}, follow=True
    )
    html = response.content.decode()
    assert response.redirect_chain[-1][0] == page
    assert "patient pays $5.00" in html
    assert Claim.objects.get(fill=fill).status == ClaimStatus.PAID

    history = client_for(pharmacist).get(reverse("claims_fill", kwargs={"pk": fill.pk}))
    assert "B1 claim billing" in history.content.decode()
    verify = client_for(pharmacist).get(reverse("fill_data_verify", kwargs={"pk": fill.pk}))
    assert "patient pays $5.00" in verify.content.decode()


def test_a_broken_rule_on_a_button_is_said_on_the_page(technician, plan):
    _rx, fill = priced_rx(technician)
    page = reverse("claims_fill", kwargs={"pk": fill.pk})
    response = client_for(technician).post(
        reverse("claims_fill_cash", kwargs={"pk": fill.pk}), {"reason": ""}, follow=True
    )
    assert response.redirect_chain[-1][0] == page
    assert "Say why the fill is billed as cash" in response.content.decode()


def test_the_outbox_page_sends_what_waits(test_payer, technician):
    process = test_payer({"plans": [plan_rules()]})
    plan_for(payer_for(process, timeout=1))
    rx, fill = priced_rx(technician)
    card(rx.patient)
    process.stop()
    tech = client_for(technician)
    tech.post(reverse("claims_fill_bill", kwargs={"pk": fill.pk}))
    html = tech.get(reverse("claims_outbox")).content.decode()
    assert "1 waiting" in html and f"{rx.number}-0" in html

    process.start_again()
    response = tech.post(reverse("claims_outbox"), follow=True)
    assert "1 paid" in response.content.decode()
    assert Claim.objects.get(fill=fill).patient_pay == Decimal("5.00")
