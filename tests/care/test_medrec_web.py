"""Med rec through the API and the screens: the whole flow, 4xx problem bodies, another
pharmacy's ids are 404, opening is a PHI-access event, the screens render and refuse."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from rxdesk.care.choices import MedRecStatus
from rxdesk.care.models import MedRec, MedRecDiscrepancy, MedRecItem
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


def test_the_whole_flow_through_the_api(site):
    p = ms.patient(site)
    rx = ms.drug_rx(
        site, p, name="Metformin", substance="metformin hydrochloride", directions="1 T PO BID"
    )
    ms.drug_rx(site, p, name="Lisinopril", substance="lisinopril", filled_days_ago=None)
    tech = client_for(ms.tech(site))
    r = tech.post(
        f"{P}/medrecs", {"patient_id": p.pk, "reason": "admission"}, content_type="application/json"
    )
    assert r.status_code == 201, r.content
    mid = r.json()["id"]
    r = tech.post(
        f"{P}/medrecs", {"patient_id": p.pk, "reason": "admission"}, content_type="application/json"
    )
    assert r.status_code == 409 and r["Content-Type"] == "application/problem+json"
    r = tech.post(f"{P}/medrecs/{mid}/import-fills", {}, content_type="application/json")
    assert r.status_code == 200
    body = r.json()
    assert [i["prescription_id"] for i in body["items"]] == [rx.pk]
    assert body["items"][0]["frequency"] == "twice daily"
    item_id = body["items"][0]["id"]
    r = tech.patch(
        f"{P}/medrecs/{mid}/items/{item_id}",
        {"frequency": "once daily"},
        content_type="application/json",
    )
    assert r.status_code == 200 and r.json()["frequency"] == "once daily"
    r = tech.post(
        f"{P}/medrecs/{mid}/items",
        {"source": "pill_bottles", "drug_name": "Tums", "bogus": 1},
        content_type="application/json",
    )
    assert r.status_code == 422
    r = tech.post(
        f"{P}/medrecs/{mid}/items",
        {"source": "outside_list", "drug_name": "Tums"},
        content_type="application/json",
    )
    assert r.status_code == 422 and "source_detail" in r.content.decode()
    r = tech.post(f"{P}/medrecs/{mid}/submit")
    assert r.status_code == 200, r.content
    body = r.json()
    assert body["status"] == "review"
    assert sorted(d["kind"] for d in body["discrepancies"]) == ["commission", "frequency"]
    # A technician may not resolve.
    d_id = body["discrepancies"][0]["id"]
    r = tech.post(
        f"{P}/medrecs/{mid}/discrepancies/{d_id}/resolve",
        {"outcome": "continued"},
        content_type="application/json",
    )
    assert r.status_code == 403
    rph = client_for(ms.rph(site))
    doc = PrescriberFactory(site=site, npi="1245319599")
    r = rph.post(f"{P}/medrecs/{mid}/complete", {}, content_type="application/json")
    assert r.status_code == 409 and "2 discrepancies" in r.json()["detail"]
    for d in body["discrepancies"]:
        r = rph.post(
            f"{P}/medrecs/{mid}/discrepancies/{d['id']}/resolve",
            {"outcome": "prescriber_no_change", "prescriber_id": doc.pk},
            content_type="application/json",
        )
        assert r.status_code == 200, r.content
    r = rph.post(f"{P}/medrecs/{mid}/complete", {"summary": "ok"}, content_type="application/json")
    assert r.status_code == 200 and r.json()["status"] == "completed"
    before = AuditEvent.objects.filter(action="care.medrec.viewed").count()
    r = rph.get(f"{P}/medrecs/{mid}")
    assert r.status_code == 200
    assert AuditEvent.objects.filter(action="care.medrec.viewed").count() == before + 1
    r = rph.get(f"{P}/medrecs?status=completed")
    assert [m["id"] for m in r.json()] == [mid]


def test_another_pharmacys_med_rec_is_a_404(site, other_site):
    m = ms.started(site)
    outsider = client_for(staff(other_site, Role.PHARMACIST))
    assert outsider.get(f"{P}/medrecs/{m.pk}").status_code == 404
    r = outsider.post(
        f"{P}/medrecs/{m.pk}/items",
        {"source": "interview", "drug_name": "X"},
        content_type="application/json",
    )
    assert r.status_code == 404
    assert outsider.get(reverse("care_medrec", kwargs={"pk": m.pk})).status_code == 404
    r = outsider.post(
        f"{P}/medrecs",
        {"patient_id": m.patient_id, "reason": "other"},
        content_type="application/json",
    )
    assert r.status_code == 422
    assert MedRecItem.objects.count() == 0 and MedRec.objects.count() == 1


def test_the_screens_gather_submit_resolve_and_print(site):
    p = ms.patient(site)
    ms.drug_rx(site, p, name="Lisinopril", substance="lisinopril", filled_days_ago=None)
    tech = client_for(ms.tech(site))
    r = tech.get(reverse("care_medrec_start") + f"?patient={p.pk}")
    assert r.status_code == 200
    r = tech.post(reverse("care_medrec_start"), {"patient": p.pk, "reason": "new_patient"})
    assert r.status_code == 302
    m = MedRec.objects.get(patient=p)
    url = reverse("care_medrec", kwargs={"pk": m.pk})
    r = tech.get(url)
    assert r.status_code == 200
    page = r.content.decode()
    assert "not in the history" in page and 'data-key="s"' in page
    assert "<script>" not in page and "style=" not in page
    r = tech.post(
        reverse("care_medrec_item_add", kwargs={"pk": m.pk}),
        {"drug_name": "", "source": "interview", "taking": "taking"},
    )
    assert r.status_code == 422
    r = tech.post(
        reverse("care_medrec_item_add", kwargs={"pk": m.pk}),
        {
            "drug_name": "Lisinopril 10 mg",
            "dose": "1 tablet",
            "frequency": "BID",
            "route": "by mouth",
            "source": "interview",
            "taking": "taking",
        },
    )
    assert r.status_code == 302
    r = tech.get(url)
    assert "Different frequency" in r.content.decode()
    r = tech.post(reverse("care_medrec_submit", kwargs={"pk": m.pk}))
    assert r.status_code == 302
    assert MedRec.objects.get(pk=m.pk).status == MedRecStatus.REVIEW
    d = MedRecDiscrepancy.objects.get(medrec=m)
    rph = client_for(ms.rph(site))
    r = rph.post(
        reverse("care_medrec_resolve", kwargs={"pk": m.pk, "discrepancy": d.pk}),
        {f"d{d.pk}-outcome": "intentional"},
    )
    assert r.status_code == 422 and "Say why the difference is intended." in r.content.decode()
    r = rph.post(
        reverse("care_medrec_resolve", kwargs={"pk": m.pk, "discrepancy": d.pk}),
        {f"d{d.pk}-outcome": "intentional", f"d{d.pk}-note": "Split dose on purpose"},
    )
    assert r.status_code == 302
    r = rph.post(reverse("care_medrec_complete", kwargs={"pk": m.pk}), {"summary": "Done"})
    assert r.status_code == 302
    r = rph.get(reverse("care_medrec_print", kwargs={"pk": m.pk}))
    assert r.status_code == 200 and "My medication list" in r.content.decode()
    assert AuditEvent.objects.filter(action="care.medrec.viewed", patient_id=p.pk).count() == 3


@pytest.mark.parametrize("role", [Role.AUDITOR, Role.INVENTORY_SPECIALIST])
def test_roles_without_patient_care_see_no_med_rec(site, role):
    m = ms.started(site)
    c = client_for(staff(site, role))
    assert c.get(reverse("care_medrecs")).status_code == 403
    assert c.get(reverse("care_medrec", kwargs={"pk": m.pk})).status_code == 403
    assert c.get(f"{P}/medrecs").status_code == 403


def test_the_list_puts_the_review_queue_first(site):
    first = ms.started(site)
    second = ms.started(site, ms.patient(site, first_name="Ana"))
    from rxdesk.care import services_medrec as services

    services.medrec_item_add(actor=ms.tech(site), medrec=second, source="interview", drug_name="X")
    services.medrec_submit(actor=ms.tech(site), medrec=second)
    r = client_for(ms.tech(site)).get(f"{P}/medrecs")
    assert [x["id"] for x in r.json()] == [second.pk, first.pk]
    page = client_for(ms.tech(site)).get(reverse("care_medrecs")).content.decode()
    assert page.index(f"medrec-{second.pk}") < page.index(f"medrec-{first.pk}")
