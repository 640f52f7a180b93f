"""The prior authorization API at /api/v1/claims/prior-auths… through the full Django
stack: the queue, opening, the status steps, documents up and down, and each refusal (role,
bad input, wrong step, another pharmacy) with nothing changed."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from rxdesk.claims.choices import PriorAuthStatus as S
from rxdesk.claims.models import PriorAuth, PriorAuthDocument, PriorAuthEvent
from rxdesk.core.models import AuditEvent
from tests.claims.matrix_pa import PDF, PNG, case, document, plan, prescription, rejected_claim
from tests.rx.test_api import Api, problem_of

pytestmark = pytest.mark.django_db


class PaApi(Api):
    def patch(self, path: str, body: object) -> Any:
        return self.client.patch(
            f"/api/v1{path}",
            json.dumps(body),
            content_type="application/json",
            headers=self.headers,
        )

    def send_file(
        self, path: str, content: bytes, filename: str, content_type: str, **form: str
    ) -> Any:
        upload = SimpleUploadedFile(filename, content, content_type=content_type)
        return self.client.post(f"/api/v1{path}", {"file": upload, **form}, headers=self.headers)


@pytest.fixture
def as_tech(technician) -> PaApi:
    return PaApi(technician)


def _counts() -> tuple[int, int, int, int]:
    return (
        PriorAuth.objects.count(),
        PriorAuthEvent.objects.count(),
        PriorAuthDocument.objects.count(),
        AuditEvent.objects.count(),
    )


def test_it_opens_a_case_and_then_returns_the_same_one(site, as_tech, technician):
    claim = rejected_claim(site, ["75"])
    rx = claim.fill.prescription
    body = {"prescription_id": rx.pk, "plan_id": claim.plan_id, "claim_id": claim.pk}

    first = as_tech.post("/claims/prior-auths", {**body, "note": "Reject 75"})
    again = as_tech.post("/claims/prior-auths", body)

    assert first.status_code == 201, first.content
    data = first.json()
    assert data["status"] == "needed"
    assert data["status_label"] == "Needed"
    assert (data["rx_number"], data["patient_id"], data["plan_id"], data["claim_id"]) == (
        rx.number,
        rx.patient_id,
        claim.plan_id,
        claim.pk,
    )
    assert data["plan_bin"] == "610014"
    assert data["help_desk_phone"] == "8005550100"
    assert data["patient_name"] == rx.patient.full_name
    assert data["events"] == [
        {
            "status_from": "",
            "status_to": "needed",
            "note": "Reject 75",
            "actor": technician.display_name,
            "at": data["events"][0]["at"],
        }
    ]
    assert data["documents"] == []
    assert again.status_code == 200
    assert again.json()["id"] == data["id"]


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"prescription_id": 999999, "plan_id": 1}, 404, "prescription_id"),
        ({"plan_id": 1}, 422, "prescription_id"),
        ({"prescription_id": 0, "plan_id": 1}, 422, "prescription_id"),
        ({"prescription_id": 1, "plan_id": 1, "colour": "red"}, 422, "colour"),
    ],
)
def test_opening_with_bad_input_names_the_field(site, as_tech, body, status, field):
    before = _counts()

    response = as_tech.post("/claims/prior-auths", body)

    problem = problem_of(response, status)
    assert field in json.dumps(problem)
    assert _counts() == before


def test_a_plan_that_does_not_exist_is_404(site, as_tech):
    rx = prescription(site)

    problem = problem_of(
        as_tech.post("/claims/prior-auths", {"prescription_id": rx.pk, "plan_id": 424242}), 404
    )

    assert problem["detail"] == "No such plan."


def test_another_pharmacys_prescription_is_404(site, as_tech, outsider):
    rx = prescription(outsider.site)
    before = _counts()

    response = as_tech.post("/claims/prior-auths", {"prescription_id": rx.pk, "plan_id": plan().pk})

    problem_of(response, 404)
    assert _counts() == before


def test_a_trainee_is_refused_before_the_body_is_read(site, trainee):
    response = PaApi(trainee).post("/claims/prior-auths", {"nonsense": True})

    assert problem_of(response, 403)["title"] == "Not allowed for your role"


def test_the_queue_lists_open_cases_follow_up_first(site, as_tech):
    today = site.today()
    plain = case(site)
    overdue = case(site, S.SUBMITTED, follow_up_on=today - dt.timedelta(days=1))
    closed = case(site, S.APPROVED)

    response = as_tech.get("/claims/prior-auths")
    with_closed = as_tech.get("/claims/prior-auths", include_closed="true")

    assert response.status_code == 200
    rows = response.json()
    assert [(r["id"], r["follow_up"]) for r in rows] == [(overdue.pk, "overdue"), (plain.pk, "")]
    assert [r["id"] for r in with_closed.json()] == [overdue.pk, plain.pk, closed.pk]
    assert with_closed.json()[2]["number"] == "PA12345"


def test_it_reads_a_case_with_history_and_documents(site, as_tech):
    pa = case(site, S.SUBMITTED)
    doc = document(pa)

    data = as_tech.get(f"/claims/prior-auths/{pa.pk}").json()

    assert data["id"] == pa.pk
    assert [e["status_to"] for e in data["events"]] == ["submitted"]
    assert data["documents"] == [
        {
            "id": doc.pk,
            "name": "pa-form.pdf",
            "content_type": "application/pdf",
            "size": len(PDF),
            "sha256": hashlib.sha256(PDF).hexdigest(),
            "uploaded_by": doc.uploaded_by.display_name,
            "uploaded_at": data["documents"][0]["uploaded_at"],
        }
    ]


def test_another_pharmacys_case_is_404(site, outsider):
    pa = case(site)

    problem_of(PaApi(outsider).get(f"/claims/prior-auths/{pa.pk}"), 404)
    problem_of(PaApi(outsider).patch(f"/claims/prior-auths/{pa.pk}", {"status": "submitted"}), 404)
    pa.refresh_from_db()
    assert pa.status == S.NEEDED


def test_it_approves_a_case_step_by_step(site, as_tech):
    pa = case(site)
    today = site.today()

    submitted = as_tech.patch(
        f"/claims/prior-auths/{pa.pk}",
        {"status": "submitted", "follow_up_on": str(today + dt.timedelta(days=2))},
    )
    approved = as_tech.patch(
        f"/claims/prior-auths/{pa.pk}",
        {
            "status": "approved",
            "number": "55501",
            "approved_from": str(today),
            "approved_to": str(today + dt.timedelta(days=364)),
            "note": "Approved by phone",
        },
    )

    assert submitted.status_code == 200, submitted.content
    assert submitted.json()["follow_up_on"] == str(today + dt.timedelta(days=2))
    data = approved.json()
    assert (data["status"], data["number"], data["approved_from"]) == (
        "approved",
        "55501",
        str(today),
    )
    assert data["closed_at"] is not None
    assert [e["note"] for e in data["events"]][-1] == "Approved by phone"


def test_a_patch_leaves_out_fields_it_does_not_send(site, as_tech):
    pa = case(site, S.SUBMITTED, follow_up_on=site.today())

    data = as_tech.patch(f"/claims/prior-auths/{pa.pk}", {"note": "Still waiting"}).json()

    assert (data["status"], data["follow_up_on"]) == ("submitted", str(site.today()))


def test_approval_without_number_names_each_missing_field(site, as_tech):
    pa = case(site, S.SUBMITTED)
    before = _counts()

    response = as_tech.patch(f"/claims/prior-auths/{pa.pk}", {"status": "approved"})

    problem = problem_of(response, 422)
    assert [e["field"] for e in problem["errors"]] == ["number", "approved_from", "approved_to"]
    assert _counts() == before


def test_a_step_not_allowed_is_409(site, as_tech):
    pa = case(site)

    problem = problem_of(as_tech.patch(f"/claims/prior-auths/{pa.pk}", {"status": "denied"}), 409)

    assert "cannot become denied" in problem["detail"]


def test_an_unknown_status_is_422(site, as_tech):
    pa = case(site)

    problem = problem_of(as_tech.patch(f"/claims/prior-auths/{pa.pk}", {"status": "lost"}), 422)

    assert problem["errors"][0]["field"] == "status"


def test_the_auditor_cannot_change_a_case(site, auditor):
    pa = case(site)
    api = PaApi(auditor)
    before = _counts()

    problem_of(api.patch(f"/claims/prior-auths/{pa.pk}", {"status": "submitted"}), 403)

    assert _counts() == before


def test_it_uploads_and_downloads_a_document(site, as_tech, technician):
    pa = case(site, S.SUBMITTED)

    up = as_tech.send_file(
        f"/claims/prior-auths/{pa.pk}/documents",
        PDF,
        "form.pdf",
        "application/pdf",
        name="Plan PA form",
    )
    assert up.status_code == 201, up.content
    meta = up.json()
    assert (meta["name"], meta["content_type"], meta["size"]) == (
        "Plan PA form",
        "application/pdf",
        len(PDF),
    )
    before = AuditEvent.objects.count()

    down = as_tech.get(f"/claims/prior-auths/{pa.pk}/documents/{meta['id']}")

    assert down.status_code == 200
    assert down.content == PDF
    assert down["Content-Type"] == "application/pdf"
    assert down["Content-Disposition"] == 'attachment; filename="Plan PA form"'
    assert down["Cache-Control"] == "private, no-store"
    assert down["X-Content-Type-Options"] == "nosniff"
    assert AuditEvent.objects.count() == before + 1
    assert AuditEvent.objects.order_by("-id").first().action == "claims.pa.document_viewed"


def test_the_file_name_is_used_when_no_name_is_given(site, as_tech):
    pa = case(site)

    up = as_tech.send_file(f"/claims/prior-auths/{pa.pk}/documents", PNG, "fax.png", "image/png")

    assert up.json()["name"] == "fax.png"


def test_a_file_whose_bytes_do_not_match_its_type_is_refused(site, as_tech):
    pa = case(site)
    before = _counts()

    response = as_tech.send_file(
        f"/claims/prior-auths/{pa.pk}/documents",
        b"<html>not a pdf</html>",
        "x.pdf",
        "application/pdf",
    )

    problem = problem_of(response, 422)
    assert problem["errors"][0]["field"] == "file"
    assert _counts() == before


def test_an_upload_without_a_file_names_the_field(site, as_tech):
    pa = case(site)

    problem = problem_of(as_tech.post(f"/claims/prior-auths/{pa.pk}/documents", {}), 422)

    assert problem["errors"] == [
        {"field": "file", "message": "Choose the file to upload (multipart form field 'file')."}
    ]


def test_a_document_of_another_case_is_404(site, as_tech):
    doc = document(case(site))
    other = case(site)

    problem_of(as_tech.get(f"/claims/prior-auths/{other.pk}/documents/{doc.pk}"), 404)


def test_an_auditor_cannot_download_documents(site, auditor):
    doc = document(case(site))
    api = PaApi(auditor)
    before = AuditEvent.objects.count()

    problem_of(api.get(f"/claims/prior-auths/{doc.prior_auth_id}/documents/{doc.pk}"), 403)

    assert AuditEvent.objects.count() == before
