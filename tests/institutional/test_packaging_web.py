"""Packaging through the API (django test client) and the workstation pages: the BUD
calculator, repackaging by NDC and lot, the 4xx problem bodies for hostile or bad input,
the log and its CSV, a new repackaging screen with its BUD preview, check and reject on the
page, med paks by API and page, the auditor seeing no patient names, the settings page."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
from django.test import Client
from django.urls import reverse

from rxdesk.institutional.choices import PackagingStatus
from rxdesk.institutional.models import InstitutionalSettings, MedPak, RepackRecord
from rxdesk.institutional.repack import add_months
from tests.institutional.matrix_packaging import (
    capsules,
    checker_of,
    maker_of,
    pak,
    repacked,
    source,
    two_fills,
)

pytestmark = pytest.mark.django_db
P = "/api/v1/institutional"


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _post(client, path, body):
    return client.post(path, data=body, content_type="application/json")


# --- API --------------------------------------------------------------------------------------


def test_the_bud_calculator_uses_the_sites_rule(site, technician):
    client = _client(technician)
    response = _post(
        client, f"{P}/repackaging/bud", {"expiry": "2030-12-31", "repackaged_on": "2026-08-31"}
    )
    assert response.status_code == 200
    assert response.json() == {
        "bud": "2027-08-31",
        "rule": "state_12_months",
        "rule_text": "12 months from repackaging (08/31/2027)",
    }
    fda = _post(
        client,
        f"{P}/repackaging/bud",
        {"expiry": "2030-12-31", "repackaged_on": "2026-08-31", "rule": "fda_6_months_25"},
    )
    assert fda.json()["bud"] == "2027-02-28"
    expired = _post(client, f"{P}/repackaging/bud", {"expiry": "2020-01-01"})
    assert expired.status_code == 422
    assert expired.json()["errors"][0]["field"] == "expiry"


def test_repackaging_through_the_api(site, technician, pharmacist):
    source(site)
    client = _client(technician)
    response = _post(
        client,
        f"{P}/repackaging",
        {
            "ndc": capsules().ndc10,
            "lot_number": "src1",
            "quantity": "12",
            "container": "Unit-dose blister",
            "container_class": "B",
        },
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "made" and body["quantity"] == "12"
    assert body["bud"] == add_months(site.today(), 12).isoformat()
    checked = _post(_client(pharmacist), f"{P}/repackaging/{body['id']}/check", None)
    assert checked.json()["status"] == "checked"
    labels = _client(technician).get(f"{P}/repackaging/{body['id']}/labels")
    assert labels.status_code == 200 and labels["Content-Type"] == "application/pdf"
    listed = client.get(f"{P}/repackaging?q=SRC1").json()
    assert [r["number"] for r in listed] == [body["number"]]


@pytest.mark.parametrize(
    "body",
    [
        {
            "ndc": "not-an-ndc",
            "lot_number": "SRC1",
            "quantity": "1",
            "container": "x",
            "container_class": "A",
        },
        {
            "ndc": "0777-3105-02",
            "lot_number": "SRC1",
            "quantity": "NaN",
            "container": "x",
            "container_class": "A",
        },
        {
            "ndc": "0777-3105-02",
            "lot_number": "SRC1",
            "quantity": "1e9",
            "container": "x",
            "container_class": "A",
        },
        {
            "ndc": "0777-3105-02",
            "lot_number": "SRC1",
            "quantity": "1",
            "container": "x",
            "container_class": "Z",
        },
        {
            "ndc": "0777-3105-02",
            "lot_number": "X" * 41,
            "quantity": "1",
            "container": "x",
            "container_class": "A",
        },
        {
            "scan": "\x1d\x1d]d2" + "9" * 60,
            "quantity": "1",
            "container": "x",
            "container_class": "A",
        },
        {"package_id": 2**63 + 5, "quantity": "1", "container": "x", "container_class": "A"},
        {
            "ndc": "0777-3105-02",
            "quantity": "1",
            "container": "x",
            "container_class": "A",
            "extra": 1,
        },
    ],
)
def test_bad_or_hostile_repackaging_input_is_a_4xx_problem(site, technician, body):
    source(site)
    capsules()
    response = _post(_client(technician), f"{P}/repackaging", body)
    assert 400 <= response.status_code < 500, response.content
    assert response["Content-Type"] == "application/problem+json"
    assert RepackRecord.objects.count() == 0


def test_settings_through_the_api(site, pic):
    client = _client(pic)
    response = client.patch(
        f"{P}/packaging-settings", data={"med_pak_days": 30}, content_type="application/json"
    )
    assert response.status_code == 200
    assert response.json()["med_pak_days"] == 30 and response.json()["repack_months"] == 12
    bad = client.patch(
        f"{P}/packaging-settings", data={"med_pak_days": 61}, content_type="application/json"
    )
    assert bad.status_code == 422
    assert InstitutionalSettings.objects.get(site=site).med_pak_days == 30


def test_med_paks_through_the_api_and_no_names_for_the_auditor(site, technician, auditor):
    patient, a, b = two_fills(site)
    body = {
        "patient_id": patient.pk,
        "start_on": (site.today() + dt.timedelta(days=1)).isoformat(),
        "days": 7,
        "slots": ["morning", "bedtime"],
        "design": "7 × 4 blister card",
        "container_class": "A",
        "consent_by": "Patient",
        "items": [
            {"fill_id": a.pk, "per_slot": {"morning": "1"}},
            {"fill_id": b.pk, "per_slot": {"bedtime": 1}},
        ],
    }
    response = _post(_client(technician), f"{P}/med-paks", body)
    assert response.status_code == 201, response.content
    made = response.json()
    assert made["patient"] == patient.full_name
    assert [i["per_slot"] for i in made["items"]] == [{"morning": "1"}, {"bedtime": "1"}]
    seen = _client(auditor).get(f"{P}/med-paks/{made['id']}").json()
    assert seen["patient"] == "" and seen["consent_by"] == ""
    one = _post(_client(technician), f"{P}/med-paks", {**body, "items": body["items"][:1]})
    assert one.status_code == 422 and one.json()["errors"][0]["field"] == "items"
    bad_slot = {**body, "items": [{"fill_id": a.pk, "per_slot": {"brunch": "1"}}] * 2}
    assert _post(_client(technician), f"{P}/med-paks", bad_slot).status_code == 422
    assert MedPak.objects.count() == 1


# --- Pages ------------------------------------------------------------------------------------


def test_the_log_page_and_its_csv(site, technician):
    record = repacked(site)
    client = _client(technician)
    page = client.get(reverse("ltc_repackaging"))
    assert page.status_code == 200
    assert record.number in page.content.decode()
    exported = client.get(reverse("ltc_repackaging") + "?q=SRC1&export=csv")
    assert exported["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(exported.content.decode())))
    assert rows[0][:3] == ["Date repackaged", "Internal lot", "Drug"]
    assert rows[1][1] == record.number and rows[1][7] == "SRC1"
    assert rows[1][14] == maker_of(site).display_name


def test_the_new_repackaging_page_shows_the_bud_then_saves(site, technician):
    source(site)
    client = _client(technician)
    url = reverse("ltc_repack_new")
    page = client.get(url)
    assert page.status_code == 200 and b"data-scan" in page.content
    form = {
        "ndc": capsules().ndc10,
        "lot_number": "SRC1",
        "quantity": "10",
        "container": "Blister",
        "container_class": "A",
    }
    preview = client.post(url, {**form, "action": "preview"})
    assert preview.status_code == 200
    bud = add_months(site.today(), 12)
    assert f"{bud:%m/%d/%Y}" in preview.content.decode()
    assert RepackRecord.objects.count() == 0
    bad = client.post(url, {**form, "lot_number": "NOPE", "action": "save"})
    assert bad.status_code == 422
    assert "Lot NOPE of NDC 0777-3105-02 is not in stock here" in bad.content.decode()
    assert 'value="NOPE"' in bad.content.decode()  # typed values kept
    saved = client.post(url, {**form, "action": "save"})
    record = RepackRecord.objects.get()
    assert saved.status_code == 302 and saved["Location"] == reverse("ltc_repack", args=[record.pk])


def test_check_and_reject_on_the_page(site):
    first, second = repacked(site, quantity="5"), repacked(site, quantity="5")
    own = _client(maker_of(site))
    page = own.get(reverse("ltc_repack", args=[first.pk]))
    assert page.status_code == 200 and b"Checked: release" not in page.content
    rph = _client(checker_of(site))
    assert rph.post(reverse("ltc_repack_check", args=[first.pk])).status_code == 302
    first.refresh_from_db()
    assert first.status == PackagingStatus.CHECKED
    labels_page = own.get(reverse("ltc_repack", args=[first.pk]))
    assert reverse("ltc_repack_labels", args=[first.pk]).encode() in labels_page.content
    refused = rph.post(reverse("ltc_repack_reject", args=[second.pk]), {"reason": ""})
    assert refused.status_code == 422
    done = rph.post(reverse("ltc_repack_reject", args=[second.pk]), {"reason": "Torn seal"})
    assert done.status_code == 302
    second.refresh_from_db()
    assert second.status == PackagingStatus.REJECTED


def test_the_new_med_pak_page(site, technician):
    patient, a, b = two_fills(site)
    client = _client(technician)
    url = reverse("ltc_med_pak_new")
    search = client.get(url + f"?q={patient.last_name}")
    assert search.status_code == 200 and patient.full_name in search.content.decode()
    grid = client.get(url + f"?patient={patient.pk}")
    assert grid.status_code == 200
    assert f'name="q_{a.pk}_morning"'.encode() in grid.content
    form = {
        "patient": patient.pk,
        "start_on": (site.today() + dt.timedelta(days=1)).strftime("%m/%d/%Y"),
        "days": "7",
        "slots": ["morning", "bedtime"],
        "design": "7 × 4 card",
        "container_class": "A",
        "consent_by": "Patient",
        f"q_{a.pk}_morning": "1",
    }
    one = client.post(url, form)
    assert one.status_code == 422 and "two or more drugs" in one.content.decode()
    over = client.post(url, {**form, f"q_{b.pk}_bedtime": "9"})
    assert over.status_code == 422
    assert "holds 30" in over.content.decode()
    saved = client.post(url, {**form, f"q_{b.pk}_bedtime": "1"})
    card = MedPak.objects.get()
    assert saved.status_code == 302 and saved["Location"] == reverse("ltc_med_pak", args=[card.pk])


def test_the_med_pak_pages_hide_names_from_the_auditor(site, auditor):
    card = pak(site)
    name = card.patient.full_name
    for url in (reverse("ltc_med_paks"), reverse("ltc_med_pak", args=[card.pk])):
        response = _client(auditor).get(url)
        assert response.status_code == 200
        assert name not in response.content.decode()
        assert card.number in response.content.decode()
    rph = _client(checker_of(site))
    page = rph.get(reverse("ltc_med_pak", args=[card.pk]))
    assert name in page.content.decode()
    assert rph.post(reverse("ltc_med_pak_check", args=[card.pk])).status_code == 302
    label = _client(maker_of(site)).get(reverse("ltc_med_pak_label", args=[card.pk]))
    assert label.status_code == 200 and label["Content-Type"] == "application/pdf"


def test_the_settings_page(site, pic):
    client = _client(pic)
    url = reverse("ltc_packaging_settings")
    assert client.get(url).status_code == 200
    bad = client.post(
        url,
        {
            "repack_rule": "custom_months",
            "repack_months": "9",
            "med_pak_days": "90",
            "discrepancy_hours": "12",
        },
    )
    assert bad.status_code == 422
    ok = client.post(
        url,
        {
            "repack_rule": "custom_months",
            "repack_months": "9",
            "med_pak_days": "45",
            "discrepancy_hours": "12",
        },
    )
    assert ok.status_code == 302
    kept = InstitutionalSettings.objects.get(site=site)
    assert (kept.repack_rule, kept.repack_months, kept.med_pak_days) == ("custom_months", 9, 45)
