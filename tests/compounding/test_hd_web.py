"""Hazardous drugs through the API and the pages: the HD list, and the PIC's assessments
of risk (write, review, retire)."""

from __future__ import annotations

import datetime as dt
import json

from django.test import Client
from django.urls import reverse

from rxdesk.compounding.models import RiskAssessment
from tests.catalog.factories import PackageFactory
from tests.compounding.matrix_hd import assessment, finasteride, methotrexate
from tests.inventory.factories import stock

P = "/api/v1/compounding/hd"


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _body(site, **over):
    body = {
        "product": finasteride().pk,
        "dosage_form": "film-coated tablet",
        "packaging": "bottle of 30",
        "manipulation": "count-repackage",
        "risk_of_exposure": "Low: intact coated tablets",
        "containment": "Dedicated counting tray; no automated counter",
        "ppe": "One pair of chemotherapy gloves",
        "reviewed_on": site.today().isoformat(),
    }
    body.update(over)
    return body


def _post(client, path, body):
    return client.post(path, data=json.dumps(body), content_type="application/json")


def test_the_api_list_has_rows_assessments_and_requirements(site, technician):
    stock(site, PackageFactory(product=finasteride(), ndc10="70000-401-30"), "F1", 30)
    made = assessment(site)
    body = _client(technician).get(P).json()
    assert [
        (r["product_name"], r["status"], r["stock"], r["assessment_ids"]) for r in body["rows"]
    ] == [("Finasteride", "assessment", ["30 EA"], [made.pk])]
    assert (
        body["assessments"][0]["manipulation_label"] == "Count or repackage the final dosage form"
    )
    assert body["assessments"][0]["covers_compounding"] is False
    assert body["receiving"][0].startswith("Unpack in a neutral or negative-pressure area")
    assert len(body["storage"]) == 4


def test_the_pic_writes_an_assessment_through_the_api(site, pic):
    response = _post(_client(pic), f"{P}/assessments", _body(site))
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["product_name"] == "Finasteride" and body["overdue"] is False
    assert body["approved_by"] == pic.display_name


def test_a_manipulated_antineoplastic_is_422_naming_the_handling(site, pic):
    body = _body(site, product=methotrexate().pk, manipulation="compound-nonsterile")
    response = _post(_client(pic), f"{P}/assessments", body)
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "manipulation"
    assert RiskAssessment.objects.count() == 0


def test_review_and_retire_through_the_api(site, pic):
    made = assessment(site)
    client = _client(pic)
    response = _post(
        client, f"{P}/assessments/{made.pk}/review", {"reviewed_on": site.today().isoformat()}
    )
    assert response.status_code == 200
    assert response.json()["reviewed_on"] == site.today().isoformat()
    response = _post(client, f"{P}/assessments/{made.pk}/retire", {"reason": "Not stocked"})
    assert response.status_code == 200 and response.json()["active"] is False
    response = _post(client, f"{P}/assessments/{made.pk}/retire", {"reason": "again"})
    assert response.status_code == 409


def test_the_hd_page_shows_the_list_badges_and_requirements(site, pharmacist):
    old = assessment(site)
    old.review_due = site.today() - dt.timedelta(days=3)
    old.save(update_fields=["review_due"])
    page = _client(pharmacist).get(reverse("compounding_hd")).content.decode()
    assert "1 review overdue" in page
    assert "Assessment of risk overdue for review" in page
    assert "Unpack in a neutral or negative-pressure area" in page
    assert "New assessment of risk" not in page  # a pharmacist only reads


def test_the_pic_writes_an_assessment_on_the_page(site, pic):
    finasteride()
    client = _client(pic)
    url = reverse("compounding_hd_assessment_new")
    assert client.get(url).status_code == 200
    data = _body(site, reviewed_on=site.today().strftime("%m/%d/%Y"))
    data["product"] = ""
    data["ndc"] = ""
    response = client.post(url, data)
    assert response.status_code == 422
    assert "Pick a drug from the catalog." in response.content.decode()
    PackageFactory(product=finasteride(), ndc10="70000-401-30")
    data["ndc"] = "70000-401-30"
    response = client.post(url, data)
    assert response.status_code == 302, response.content.decode()[:3000]
    assert RiskAssessment.objects.get().product == finasteride()


def test_the_pic_reviews_and_retires_on_the_page(site, pic):
    made = assessment(site)
    client = _client(pic)
    review = reverse("compounding_hd_assessment_review", kwargs={"pk": made.pk})
    assert "It still holds" in client.get(review).content.decode()
    response = client.post(review, {"reviewed_on": site.today().strftime("%m/%d/%Y"), "note": "ok"})
    assert response.status_code == 302
    made.refresh_from_db()
    assert made.reviewed_on == site.today()
    retire = reverse("compounding_hd_assessment_retire", kwargs={"pk": made.pk})
    assert client.post(retire, {"reason": ""}).status_code == 422
    assert client.post(retire, {"reason": "Handling changed"}).status_code == 302
    made.refresh_from_db()
    assert made.active is False
