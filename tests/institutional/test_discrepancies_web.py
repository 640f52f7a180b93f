"""Discrepancies through the API and the screens: the list, aging (JSON and CSV), one
discrepancy with the pocket's moves, resolving (with the witness block for a controlled
pocket, errors beside the fields and typed values kept), the Form 106 link, hostile input,
patient names hidden from the auditor."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from rxdesk.institutional import services_discrepancies as services
from rxdesk.institutional.choices import CabinetEvent, DiscrepancyStatus
from rxdesk.institutional.models import CabinetDiscrepancy
from tests.conftest import PASSWORD
from tests.factories import PatientFactory
from tests.institutional.factories import pocket_stock
from tests.institutional.matrix_discrepancies import (
    cabinet_event,
    counted_short,
    new_pocket,
    override_removal,
)

pytestmark = pytest.mark.django_db

API = "/api/v1/institutional/cabinet-discrepancies"
BODY = {
    "cause": "miscount",
    "explanation": "Recounted with the nurse: 8 in the pocket.",
    "nurse_name": "Dana Ruiz RN",
}


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


# --- API -------------------------------------------------------------------------------------


def test_the_api_lists_and_reads_a_discrepancy(site, technician):
    late = counted_short(site, opened_at=timezone.now() - dt.timedelta(hours=14))
    client = signed_in(technician)

    listed = client.get(API).json()
    assert [r["id"] for r in listed] == [late.pk]
    assert listed[0]["overdue"] is True and listed[0]["bucket"] == "overdue_24h"
    assert listed[0]["pocket"] == late.pocket.place and listed[0]["cabinet"] == "3W-1"

    one = client.get(f"{API}/{late.pk}").json()
    assert float(one["expected"]) == 10
    assert float(one["difference"]) == -2
    assert [m["event"] for m in one["moves"]] == ["count", "restock"]
    assert one["moves"][0]["opened_this"] is True
    assert one["follow_up"] is None


def test_the_api_resolves_and_refuses_a_second_time(site, pharmacist):
    d = counted_short(site)
    client = signed_in(pharmacist)

    answer = client.post(f"{API}/{d.pk}/resolve", BODY, content_type="application/json")
    assert answer.status_code == 200, answer.content
    assert answer.json()["status"] == "resolved"
    assert answer.json()["resolved_by"] == pharmacist.display_name

    again = client.post(f"{API}/{d.pk}/resolve", BODY, content_type="application/json")
    assert again.status_code == 409
    assert again["Content-Type"] == "application/problem+json"
    assert [r["id"] for r in client.get(API, {"status": "resolved"}).json()] == [d.pk]


def test_the_api_answers_the_form_106_step_for_suspected_diversion(site, pic, technician):
    d = counted_short(site, controlled=True)
    body = BODY | {
        "cause": "diversion_suspected",
        "witness": {"username": technician.username, "password": PASSWORD},
    }

    answer = signed_in(pic).post(f"{API}/{d.pk}/resolve", body, content_type="application/json")

    assert answer.status_code == 200, answer.content
    step = answer.json()["follow_up"]
    assert step["url"] == reverse("cs_loss_create")
    assert "DEA Form 106" in step["message"]
    assert answer.json()["witness"] == technician.username


def test_the_api_names_the_witness_field(site, pharmacist, technician):
    d = counted_short(site, controlled=True)
    client = signed_in(pharmacist)

    none = client.post(f"{API}/{d.pk}/resolve", BODY, content_type="application/json")
    wrong = client.post(
        f"{API}/{d.pk}/resolve",
        BODY | {"witness": {"username": technician.username, "password": "wrong"}},
        content_type="application/json",
    )

    assert none.status_code == 422 and none.json()["errors"][0]["field"] == "witness.username"
    assert wrong.status_code == 422 and wrong.json()["errors"][0]["field"] == "witness.password"
    d.refresh_from_db()
    assert d.status == DiscrepancyStatus.OPEN


@pytest.mark.parametrize(
    "body",
    [
        {},
        BODY | {"extra": True},
        BODY | {"explanation": "x" * 5000},
        BODY | {"cause": ["miscount"]},
        BODY | {"witness": "nurse"},
        BODY | {"nurse_name": None},
        BODY | {"explanation": "\x00" * 20},
        BODY | {"nurse_name": "Dana\x00Ruiz"},
        BODY | {"witness": {"username": "tech\x00", "password": "x"}},
    ],
)
def test_hostile_bodies_get_a_422_and_change_nothing(site, pharmacist, body):
    d = counted_short(site)
    answer = signed_in(pharmacist).post(
        f"{API}/{d.pk}/resolve", body, content_type="application/json"
    )
    assert answer.status_code == 422, answer.content
    assert answer["Content-Type"] == "application/problem+json"
    d.refresh_from_db()
    assert d.status == DiscrepancyStatus.OPEN


def test_hostile_ids_and_queries_are_not_500(site, pharmacist, other_site):
    client = signed_in(pharmacist)
    theirs = counted_short(other_site)
    assert client.get(f"{API}/{theirs.pk}").status_code == 404
    assert client.get(f"{API}/{2**70}").status_code in (404, 422)
    assert client.get(f"{API}/abc").status_code in (404, 422)
    assert client.get(API, {"status": "closed"}).status_code == 422
    assert client.get(API, {"cabinet_id": "9" * 30}).status_code == 422
    assert client.get(API, {"cabinet_id": 999}).status_code == 422
    assert client.get(f"{API}/aging", {"format": "xml"}).status_code == 422


def test_the_api_aging_answers_json_and_csv(site, inventory):
    counted_short(site, controlled=True)
    counted_short(site, opened_at=timezone.now() - dt.timedelta(days=3))
    client = signed_in(inventory)

    body = client.get(f"{API}/aging").json()
    assert [(line["controlled"], line["total"]) for line in body["lines"]] == [
        (True, 1),
        (False, 1),
    ]
    assert body["totals"] == {
        "within_shift": 1,
        "overdue_24h": 0,
        "overdue_72h": 1,
        "overdue_more": 0,
    }
    answer = client.get(f"{API}/aging", {"format": "csv"})
    assert answer["Content-Type"].startswith("text/csv")
    assert answer.content.decode().count("\r\n") == 3


def test_the_auditor_reads_the_moves_without_patient_names(site, auditor, pharmacist):
    patient = PatientFactory(site=site, first_name="Margaret", last_name="Oduya")
    bin_ = pocket_stock(new_pocket(site), quantity=10)
    cabinet_event(bin_, CabinetEvent.REMOVAL, 2, patient=patient, patient_ref="MRN4471203")
    d = counted_short(site)
    CabinetDiscrepancy.objects.filter(pk=d.pk).update(pocket=bin_, move=None)

    as_auditor = signed_in(auditor).get(f"{API}/{d.pk}").content.decode()
    page = signed_in(auditor).get(reverse("adc_discrepancy", kwargs={"pk": d.pk}))
    as_pharmacist = signed_in(pharmacist).get(f"{API}/{d.pk}").content.decode()

    assert "Oduya" not in as_auditor and "4471203" not in as_auditor
    assert "Oduya" not in page.content.decode() and "4471203" not in page.content.decode()
    assert "Oduya" in as_pharmacist


# --- Pages -----------------------------------------------------------------------------------


def test_the_list_page_shows_open_first_and_past_the_shift_in_words(site, technician):
    late = counted_short(site, opened_at=timezone.now() - dt.timedelta(hours=14))
    client = signed_in(technician)

    html = client.get(reverse("adc_discrepancies")).content.decode()

    assert reverse("adc_discrepancy", kwargs={"pk": late.pk}) in html
    assert "<strong>1</strong> past the shift" in html
    assert '<strong class="warn-text">Past the shift, up to 24 h</strong>' in html
    assert reverse("adc_discrepancy_aging") in html
    assert reverse("adc_overrides") not in html  # a technician does not review overrides


def test_the_list_page_filters(site, pharmacist):
    counted_short(site)
    html = signed_in(pharmacist).get(reverse("adc_discrepancies"), {"status": "resolved"})
    assert "None." in html.content.decode()
    bad = signed_in(pharmacist).get(reverse("adc_discrepancies"), {"cabinet": "abc"})
    assert bad.status_code == 422


def test_the_detail_page_resolves_a_controlled_pocket_with_a_witness(site, pharmacist, technician):
    d = counted_short(site, controlled=True)
    client = signed_in(pharmacist)
    url = reverse("adc_discrepancy", kwargs={"pk": d.pk})
    post = reverse("adc_discrepancy_resolve", kwargs={"pk": d.pk})

    html = client.get(url).content.decode()
    assert 'name="witness.username"' in html and 'name="witness.password"' in html
    assert post in html

    refused = client.post(
        post,
        {
            "cause": "miscount",
            "explanation": "short",
            "nurse_name": "Dana Ruiz RN",
            "witness.username": technician.username,
            "witness.password": PASSWORD,
        },
    )
    assert refused.status_code == 422
    text = refused.content.decode()
    assert "Explain what happened in at least 10 characters" in text
    assert 'value="Dana Ruiz RN"' in text  # typed values kept
    assert PASSWORD not in text  # a password is never sent back

    done = client.post(
        post,
        {
            "cause": "diversion_suspected",
            "explanation": "Two tablets unaccounted for after recount.",
            "nurse_name": "Dana Ruiz RN",
            "witness.username": technician.username,
            "witness.password": PASSWORD,
        },
    )
    assert done.status_code == 302
    d.refresh_from_db()
    assert d.status == DiscrepancyStatus.RESOLVED and d.witness == technician
    page = client.get(url).content.decode()
    assert reverse("cs_loss_create") in page
    assert "DEA Form 106" in page


def test_the_resolve_form_is_not_offered_to_a_technician(site, technician):
    d = counted_short(site)
    client = signed_in(technician)
    html = client.get(reverse("adc_discrepancy", kwargs={"pk": d.pk})).content.decode()
    assert reverse("adc_discrepancy_resolve", kwargs={"pk": d.pk}) not in html
    answer = client.post(reverse("adc_discrepancy_resolve", kwargs={"pk": d.pk}), BODY)
    assert answer.status_code == 403
    d.refresh_from_db()
    assert d.status == DiscrepancyStatus.OPEN


def test_the_aging_page_and_its_csv(site, auditor):
    counted_short(site, controlled=True, opened_at=timezone.now() - dt.timedelta(days=5))
    client = signed_in(auditor)
    html = client.get(reverse("adc_discrepancy_aging")).content.decode()
    assert "Past the shift, more than 72 h" in html
    assert "Controlled" in html
    answer = client.get(reverse("adc_discrepancy_aging"), {"format": "csv"})
    assert answer["Content-Type"].startswith("text/csv")
    assert "Past the shift, more than 72 h" in answer.content.decode()


def _queries_of(client: Client, url: str) -> int:
    with CaptureQueriesContext(connection) as seen:
        assert client.get(url).status_code == 200
    return len(seen)


def test_the_list_pages_query_count_does_not_grow_with_the_rows(site, pharmacist):
    counted_short(site)
    override_removal(site, patient=PatientFactory(site=site))
    client = signed_in(pharmacist)
    urls = [reverse(n) for n in ("adc_discrepancies", "adc_discrepancy_aging", "adc_overrides")]
    one = [_queries_of(client, url) for url in urls]

    for _ in range(3):
        counted_short(site, controlled=True)
        move = override_removal(site, patient=PatientFactory(site=site))
    services.override_review(actor=pharmacist, move=move, outcome="appropriate")
    client.get(reverse("adc_overrides"))

    assert [_queries_of(client, url) for url in urls] == one
