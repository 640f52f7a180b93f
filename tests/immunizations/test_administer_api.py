"""The administration API through the test client: give a dose, read it back (a PHI-access
event), the problem bodies of broken rules, and another site's rows."""

from __future__ import annotations

import json

from django.test import Client

from rxdesk.core.models import AuditEvent
from rxdesk.immunizations.models import Immunization
from rxdesk.inventory.models import StockMove
from tests.immunizations.administer_setup import adult, given, pharmacist
from tests.immunizations.matrix_administer import _administer

P = "/api/v1/immunizations"


def client_of(user) -> Client:
    c = Client()
    c.force_login(user)
    return c


def post(c: Client, path: str, body: dict):
    return c.post(path, data=json.dumps(body), content_type="application/json")


def test_it_gives_a_dose_and_reads_it_back(site):
    path, body = _administer(site, None)
    c = client_of(pharmacist(site))
    response = post(c, path, body)
    assert response.status_code == 201, response.content
    dose = response.json()
    assert dose["cvx"] == "150" and dose["lot_number"] == "UT7011AA"
    assert dose["dose_ml"] == "0.500" and dose["stock_move_id"] is not None
    assert dose["registry_status"] == "queued"
    assert len(dose["vis"]) == 1

    before = AuditEvent.objects.filter(action="immunizations.record.viewed").count()
    read = c.get(f"{P}/{dose['id']}")
    assert read.status_code == 200 and read.json()["id"] == dose["id"]
    listed = c.get(f"{P}?patient_id={body['patient_id']}")
    assert [row["id"] for row in listed.json()] == [dose["id"]]
    assert AuditEvent.objects.filter(action="immunizations.record.viewed").count() == before + 2


def test_a_broken_rule_is_a_problem_body_naming_the_field(site):
    path, body = _administer(site, None)
    c = client_of(pharmacist(site))
    moves = StockMove.objects.count()
    response = post(c, path, body | {"dose_ml": "2"})
    assert response.status_code == 422
    assert response["Content-Type"] == "application/problem+json"
    assert "dose_ml" in response.content.decode()
    contra = dict(body["answers"], allergy_vaccine="yes")
    response = post(c, path, body | {"answers": contra})
    assert response.status_code == 409 and "Do not vaccinate" in response.content.decode()
    response = post(c, path, body | {"surprise": 1})
    assert response.status_code == 422
    assert Immunization.objects.count() == 0 and StockMove.objects.count() == moves


def test_the_list_needs_a_patient_and_another_sites_rows_are_404(site, other_site):
    c = client_of(pharmacist(site))
    assert c.get(P).status_code == 422
    theirs = given(other_site)
    assert c.get(f"{P}/{theirs.pk}").status_code == 404
    assert c.get(f"{P}?patient_id={theirs.patient_id}").status_code == 404
    assert post(c, f"{P}/{theirs.pk}/correction", {"dose_number": 2}).status_code == 404


def test_the_lot_and_vaccine_cannot_be_corrected(site):
    imm = given(site, adult(site))
    c = client_of(pharmacist(site))
    response = post(c, f"{P}/{imm.pk}/correction", {"lot_number": "X"})
    assert response.status_code == 422


def test_screening_questions_are_listed(site):
    c = client_of(pharmacist(site))
    rows = c.get(f"{P}/screening-questions").json()
    assert rows[0]["code"] == "sick_today" and len(rows) == 15
