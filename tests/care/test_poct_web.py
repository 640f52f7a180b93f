"""Point-of-care tests and the care settings through the API and the screens."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from rxdesk.care.models import CareSettings, PocTestResult
from rxdesk.core.models import AuditEvent
from tests.care.poct_setup import glucose, patient, poct_site, record
from tests.conftest import earlier_today, last_event

pytestmark = pytest.mark.django_db


def _client(user):
    client = Client()
    client.force_login(user)
    return client


def test_the_api_records_a_result_and_refuses_a_value_out_of_range(site, technician):
    poct_site(site)
    client = _client(technician)
    body = {
        "patient_id": patient(site).pk,
        "test_code": "hba1c",
        "collected_at": earlier_today(site, minutes=3).isoformat(),
        "kit_lot": "A1C-9",
        "kit_expiry": (site.today() + dt.timedelta(days=10)).isoformat(),
        "result": "value",
        "value": "15.2",
    }
    response = client.post("/api/v1/care/poct", body, content_type="application/json")
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "value"
    assert "re-test" in response.json()["detail"]
    assert not PocTestResult.objects.exists()
    body.update(value=6.1, follow_up="Refer to PCP for diabetes screening")
    response = client.post("/api/v1/care/poct", body, content_type="application/json")
    assert response.status_code == 201, response.content
    data = response.json()
    assert (data["value"], data["unit"], data["interpretation"], data["loinc"]) == (
        "6.1",
        "%",
        "abnormal",
        "4548-4",
    )


def test_the_catalog_says_what_the_site_permits(site, technician):
    poct_site(site, poct_tests=["inr"])
    rows = _client(technician).get("/api/v1/care/poct/tests").json()
    permitted = {r["code"] for r in rows if r["permitted"]}
    assert permitted == {"inr"}
    inr = next(r for r in rows if r["code"] == "inr")
    assert inr["measuring_range"] == ["0.8", "8.0"] and inr["critical_high"] == "5.0"


def test_the_pic_puts_the_settings_and_a_bad_clia_number_is_a_422(site, pic):
    client = _client(pic)
    body = {
        "poct_enabled": True,
        "clia_certificate": "05D12345",
        "clia_expires": (site.today() + dt.timedelta(days=30)).isoformat(),
        "poct_tests": ["flu_a", "flu_b"],
    }
    response = client.put("/api/v1/care/settings", body, content_type="application/json")
    assert (
        response.status_code == 422 and response.json()["errors"][0]["field"] == "clia_certificate"
    )
    body["clia_certificate"] = "05D1234567"
    response = client.put("/api/v1/care/settings", body, content_type="application/json")
    assert response.status_code == 200 and response.json()["clia_current"] is True


def test_the_result_page_and_printout_are_phi_accesses(site, technician):
    row = glucose(
        site,
        value="430",
        follow_up="Sent to urgent care",
        referred=True,
        referral_to="Urgent care",
        referral_reason="Glucose 430",
    )
    client = _client(technician)
    page = client.get(reverse("care_poct_result", args=[row.pk]))
    assert page.status_code == 200 and "Critical" in page.content.decode()
    assert (last_event().action, last_event().patient_id) == ("care.poct.viewed", row.patient_id)
    printed = client.get(reverse("care_poct_print", args=[row.pk]))
    assert printed.status_code == 200
    text = printed.content.decode()
    assert "430" in text and "05D1234567" in text and "not a diagnosis" in text
    assert '"output":"print"' in last_event().data


def test_the_log_lists_todays_results_unreviewed_first_for_a_pharmacist(site, pharmacist):
    first = record(site)
    second = record(site)
    from rxdesk.care import services_poct

    services_poct.poct_review(actor=pharmacist, result=second)
    response = _client(pharmacist).get(reverse("care_poct"))
    text = response.content.decode()
    assert response.status_code == 200
    assert text.index(f"poct-{first.pk}") < text.index(f"poct-{second.pk}")
    assert "<strong>1</strong> waiting for the pharmacist" in text


def test_the_result_widget_follows_the_test(site, technician):
    poct_site(site)
    client = _client(technician)
    numeric = client.get(reverse("care_poct_new"), {"test_code": "inr"}, HTTP_HX_REQUEST="true")
    assert numeric.status_code == 200
    body = numeric.content.decode()
    assert 'name="value"' in body and "0.8–8.0" in body and "<html" not in body
    qualitative = client.get(
        reverse("care_poct_new"), {"test_code": "strep_a"}, HTTP_HX_REQUEST="true"
    )
    assert 'value="positive"' in qualitative.content.decode()
    assert 'name="value"' not in qualitative.content.decode()


def test_recording_a_test_on_the_screen(site, technician):
    poct_site(site)
    who = patient(site)
    client = _client(technician)
    now = timezone.localtime(timezone.now(), site.tz)
    form = {
        "patient": who.pk,
        "test_code": "covid_ag",
        "specimen": "",
        "collected_at": now.strftime("%m/%d/%Y %H:%M"),
        "kit_lot": "CV-1",
        "kit_expiry": (site.today() + dt.timedelta(days=20)).strftime("%m/%d/%Y"),
        "result": "positive",
    }
    response = client.post(reverse("care_poct_new"), form)
    assert response.status_code == 422 and "follow-up" in response.content.decode()
    form["follow_up"] = "Paxlovid assessment; isolate"
    response = client.post(reverse("care_poct_new"), form)
    assert response.status_code == 302, response.content.decode()[:2000]
    row = PocTestResult.objects.get()
    assert (row.patient, row.specimen, row.interpretation) == (who, "Nasal swab", "abnormal")


def test_the_settings_screen_is_read_only_but_for_the_pic(site, technician, pic):
    tech = _client(technician)
    assert tech.get(reverse("care_settings")).status_code == 200
    before = AuditEvent.objects.count()
    assert tech.post(reverse("care_settings"), {"callback_hours": 3}).status_code == 403
    assert AuditEvent.objects.count() == before
    response = _client(pic).post(
        reverse("care_settings"),
        {
            "poct_enabled": "on",
            "clia_certificate": "05D7654321",
            "clia_expires": (site.today() + dt.timedelta(days=200)).strftime("%m/%d/%Y"),
            "poct_tests": ["strep_a", "hiv"],
            "callback_hours": 3,
        },
    )
    assert response.status_code == 302
    row = CareSettings.objects.get(site=site)
    assert (row.poct_tests, row.callback_hours, row.clia_certificate) == (
        ["strep_a", "hiv"],
        3,
        "05D7654321",
    )
