"""Counseling and interventions through the API and the screens."""

from __future__ import annotations

from django.test import Client
from django.urls import reverse

from rxdesk.care.models import CounselingRecord, Intervention
from rxdesk.core.choices import Role
from rxdesk.core.models import AuditEvent
from tests.care import medrec_setup as ms
from tests.care.factories import staff
from tests.factories import PrescriberFactory

P = "/api/v1/care"


def client_for(user) -> Client:
    c = Client()
    c.force_login(user)
    return c


def test_counseling_through_the_api(site):
    p = ms.patient(site)
    rph_user = ms.rph(site)
    tech = client_for(ms.tech(site))
    r = tech.post(
        f"{P}/counseling",
        {"patient_id": p.pk, "outcome": "accepted", "method": "in_person", "topics": ["storage"]},
        content_type="application/json",
    )
    assert r.status_code == 422 and "counseled_by" in r.content.decode()
    r = tech.post(
        f"{P}/counseling",
        {
            "patient_id": p.pk,
            "outcome": "accepted",
            "counseled_by": rph_user.username,
            "method": "in_person",
            "topics": ["storage", "refills"],
            "minutes": 3,
        },
        content_type="application/json",
    )
    assert r.status_code == 201, r.content
    assert r.json()["counseled_by"] == rph_user.username
    r = tech.post(
        f"{P}/counseling",
        {"patient_id": p.pk, "outcome": "declined", "topics": ["nope"]},
        content_type="application/json",
    )
    assert r.status_code == 422
    r = tech.get(f"{P}/counseling?patient_id={p.pk}")
    assert [x["topics"] for x in r.json()] == [["storage", "refills"]]
    assert len(tech.get(f"{P}/counseling").json()) == 1  # today


def test_interventions_through_the_api(site, other_site):
    p = ms.patient(site)
    rph = client_for(ms.rph(site))
    doc = PrescriberFactory(site=site)
    r = rph.post(
        f"{P}/interventions",
        {
            "patient_id": p.pk,
            "problem": "DD",
            "problem_detail": "Warfarin and fluconazole",
            "action": "M0",
            "prescriber_id": doc.pk,
            "minutes": 5,
        },
        content_type="application/json",
    )
    assert r.status_code == 422 and "prescriber_contacted_at" in r.content.decode()
    r = rph.post(
        f"{P}/interventions",
        {
            "patient_id": p.pk,
            "problem": "DD",
            "problem_detail": "Warfarin and fluconazole",
            "action": "M0",
            "prescriber_id": doc.pk,
            "prescriber_contacted_at": "2020-01-02T10:00:00-05:00",
            "minutes": 5,
        },
        content_type="application/json",
    )
    assert r.status_code == 201, r.content
    iid = r.json()["id"]
    assert r.json()["status"] == "open" and r.json()["action_label"] == "Prescriber consulted"
    assert rph.get(f"{P}/interventions").json()[0]["id"] == iid
    r = rph.post(
        f"{P}/interventions/{iid}/close", {"outcome": "3E"}, content_type="application/json"
    )
    assert r.status_code == 200 and r.json()["status"] == "closed"
    r = rph.post(
        f"{P}/interventions/{iid}/close", {"outcome": "3E"}, content_type="application/json"
    )
    assert r.status_code == 409
    r = rph.get(f"{P}/interventions/report")
    assert r.json()["total"] == 1 and r.json()["total_minutes"] == 5
    r = rph.get(f"{P}/interventions/report?format=csv")
    assert r["Content-Type"].startswith("text/csv") and b",Total,,,1,5" in r.content
    outsider = client_for(staff(other_site, Role.PHARMACIST))
    assert outsider.get(f"{P}/interventions/{iid}").status_code == 404
    assert (
        outsider.post(
            f"{P}/interventions/{iid}/close", {"outcome": "3A"}, content_type="application/json"
        ).status_code
        == 404
    )
    assert AuditEvent.objects.filter(action="care.intervention.viewed").count() == 0
    assert rph.get(f"{P}/interventions/{iid}").status_code == 200
    assert AuditEvent.objects.filter(action="care.intervention.viewed").count() == 1


def test_the_counseling_screens(site):
    p = ms.patient(site)
    rx = ms.drug_rx(site, p, name="Warfarin", substance="warfarin sodium")
    rph_user = ms.rph(site)
    c = client_for(rph_user)
    r = c.get(reverse("care_counseling_new") + f"?patient={p.pk}")
    page = r.content.decode()
    assert r.status_code == 200 and "<kbd>1</kbd>" in page
    assert "<script>" not in page and "style=" not in page
    r = c.post(
        reverse("care_counseling_new"),
        {"patient": p.pk, "outcome": "accepted", "counseled_by": rph_user.pk},
    )
    assert r.status_code == 422
    assert CounselingRecord.objects.count() == 0
    r = c.post(
        reverse("care_counseling_new"),
        {
            "patient": p.pk,
            "rx_number": rx.number,
            "outcome": "accepted",
            "counseled_by": rph_user.pk,
            "method": "in_person",
            "topics": ["side_effects", "monitoring"],
        },
    )
    assert r.status_code == 302
    row = CounselingRecord.objects.get()
    assert row.prescription == rx and row.topics == ["side_effects", "monitoring"]
    page = c.get(reverse("care_counseling") + f"?patient={p.pk}").content.decode()
    assert "Common and severe side effects" in page and "Accepted" in page


def test_the_intervention_screens(site):
    p = ms.patient(site)
    c = client_for(ms.rph(site))
    r = c.post(
        reverse("care_intervention_new"),
        {
            "patient": p.pk,
            "problem": "HD",
            "problem_detail": "Over the max",
            "action": "PE",
            "minutes": 4,
        },
    )
    assert r.status_code == 302
    i = Intervention.objects.get()
    assert i.status == "open"
    r = c.get(reverse("care_interventions"))
    assert f"intervention-{i.pk}" in r.content.decode()
    r = c.post(reverse("care_intervention_close", kwargs={"pk": i.pk}), {"outcome": "00"})
    assert r.status_code == 422
    r = c.post(
        reverse("care_intervention_close", kwargs={"pk": i.pk}), {"outcome": "1C", "minutes": 9}
    )
    assert r.status_code == 302
    i.refresh_from_db()
    assert (i.status, i.outcome, i.minutes) == ("closed", "1C", 9)
    r = c.get(reverse("care_interventions_report") + "?format=csv")
    assert r["Content-Type"].startswith("text/csv")
    tech = client_for(ms.tech(site))
    assert tech.get(reverse("care_intervention_new")).status_code == 403
    assert tech.get(reverse("care_interventions_report")).status_code == 403
    assert tech.get(reverse("care_intervention", kwargs={"pk": i.pk})).status_code == 200
