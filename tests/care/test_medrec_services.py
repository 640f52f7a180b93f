"""Med rec services: start, gather (by hand and from the fill history), submit, resolve,
complete — each rule broken changes nothing; forbidden roles are refused."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from rxdesk.care import services_medrec as services
from rxdesk.care.choices import MedRecStatus
from rxdesk.care.models import MedRec, MedRecDiscrepancy, MedRecItem
from rxdesk.core.choices import Role
from rxdesk.core.errors import Conflict, Forbidden, Invalid, NotFound
from rxdesk.core.models import AuditEvent
from rxdesk.rx.choices import RxStatus
from tests.care import medrec_setup as ms
from tests.care.factories import staff
from tests.conftest import audit_count, last_event
from tests.factories import PrescriberFactory


def data(ev: AuditEvent) -> dict:
    return json.loads(ev.data) if isinstance(ev.data, str) else ev.data


def _counts() -> tuple[int, int, int, int]:
    return (
        MedRec.objects.count(),
        MedRecItem.objects.count(),
        MedRecDiscrepancy.objects.count(),
        AuditEvent.objects.count(),
    )


def test_it_starts_one_med_rec_per_patient(site):
    p = ms.patient(site)
    m = ms.started(site, p)
    assert m.status == MedRecStatus.OPEN and m.site_id == site.pk
    ev = last_event()
    assert ev.action == "care.medrec.started" and ev.patient_id == p.pk
    assert data(ev) == {"reason": "new_patient", "with_interviewed": True}
    before = _counts()
    with pytest.raises(Conflict) as exc:
        ms.started(site, p)
    assert f"Med rec {m.pk}" in exc.value.message and exc.value.field == "patient"
    assert _counts() == before


def test_start_refuses_a_bad_reason_another_sites_patient_and_a_trainee(site, other_site):
    before = _counts()
    with pytest.raises(Invalid) as exc:
        services.medrec_start(actor=ms.tech(site), patient=ms.patient(site), reason="whim")
    assert exc.value.field == "reason"
    with pytest.raises(NotFound):
        services.medrec_start(actor=ms.tech(site), patient=ms.patient(other_site), reason="other")
    trainee = staff(site, Role.TECHNICIAN_IN_TRAINING)
    with pytest.raises(Forbidden):
        services.medrec_start(actor=trainee, patient=ms.patient(site), reason="other")
    assert _counts() == before


def test_items_need_a_name_and_an_outside_list_says_which(site):
    m = ms.started(site)
    t = ms.tech(site)
    before = _counts()
    with pytest.raises(Invalid) as exc:
        services.medrec_item_add(actor=t, medrec=m, source="outside_list", drug_name="")
    fields = {e["field"] for e in exc.value.errors}
    assert fields == {"drug_name", "source_detail"}
    with pytest.raises(Invalid) as exc:
        services.medrec_item_add(actor=t, medrec=m, source="fill_history", drug_name="X")
    assert exc.value.field == "source"
    with pytest.raises(Invalid) as exc:
        services.medrec_item_add(
            actor=t,
            medrec=m,
            source="interview",
            drug_name="X",
            last_taken=site.today() + dt.timedelta(days=1),
        )
    assert exc.value.field == "last_taken"
    assert _counts() == before
    item = services.medrec_item_add(
        actor=t,
        medrec=m,
        source="outside_list",
        source_detail="Mercy discharge list",
        drug_name="Warfarin 5 mg",
        dose="1 tablet",
        frequency="daily",
        route="by mouth",
    )
    assert item.added_by == t
    ev = last_event()
    assert ev.action == "care.medrec.item_added"
    assert "Warfarin" not in str(data(ev))  # no typed text in the audit


def test_import_fills_adds_active_filled_prescriptions_once(site):
    p = ms.patient(site)
    simva = ms.drug_rx(
        site, p, name="Simvastatin", substance="simvastatin", directions="1 T PO QHS"
    )
    lisin = ms.drug_rx(site, p, name="Lisinopril", substance="lisinopril", filled_days_ago=5)
    ms.drug_rx(site, p, name="Old", substance="amoxicillin", filled_days_ago=400)
    ms.drug_rx(site, p, name="Never", substance="metformin", filled_days_ago=None)
    stopped = ms.drug_rx(site, p, name="Stopped", substance="losartan")
    stopped.status = RxStatus.INACTIVE
    stopped.save()
    m = ms.started(site, p)
    added = services.medrec_import_fills(actor=ms.tech(site), medrec=m)
    assert sorted(i.prescription_id for i in added) == sorted([simva.pk, lisin.pk])
    line = next(i for i in added if i.prescription_id == simva.pk)
    assert (line.source, line.dose, line.frequency, line.route) == (
        "fill_history",
        "1 tablet",
        "once daily",
        "oral",
    )
    assert line.source_detail.startswith(f"Rx {simva.number}, last filled ")
    assert data(last_event())["added"] == 2
    assert services.medrec_import_fills(actor=ms.tech(site), medrec=m) == []
    assert MedRecItem.objects.filter(medrec=m).count() == 2
    with pytest.raises(Invalid):
        services.medrec_import_fills(actor=ms.tech(site), medrec=m, days=0)


def test_submit_stores_the_suggested_discrepancies(site):
    p = ms.patient(site)
    simva = ms.drug_rx(site, p, name="Simvastatin", substance="simvastatin")
    lisin = ms.drug_rx(site, p, name="Lisinopril", substance="lisinopril", filled_days_ago=None)
    m = ms.started(site, p)
    t = ms.tech(site)
    services.medrec_import_fills(actor=t, medrec=m)
    item = MedRecItem.objects.get(medrec=m, prescription=simva)
    services.medrec_item_update(actor=t, item=item, changes={"dose": "2 tablets"})
    ibu = services.medrec_item_add(
        actor=t,
        medrec=m,
        source="interview",
        drug_name="Ibuprofen 200 mg",
        dose="2",
        frequency="PRN",
        taking="as_needed",
    )
    before_events = audit_count()
    m = services.medrec_submit(actor=t, medrec=m)
    assert m.status == MedRecStatus.REVIEW and m.submitted_by == t
    got = sorted(
        (d.kind, d.item_id, d.prescription_id) for d in MedRecDiscrepancy.objects.filter(medrec=m)
    )
    assert got == sorted(
        [("dose", item.pk, simva.pk), ("omission", ibu.pk, None), ("commission", None, lisin.pk)]
    )
    assert audit_count() == before_events + 1
    assert data(last_event())["suggested"] == {"dose": 1, "omission": 1, "commission": 1}
    with pytest.raises(Conflict):
        services.medrec_item_add(actor=t, medrec=m, source="interview", drug_name="X")
    with pytest.raises(Conflict):
        services.medrec_submit(actor=t, medrec=m)


def test_submit_refuses_an_empty_history(site):
    m = ms.started(site)
    before = _counts()
    with pytest.raises(Invalid) as exc:
        services.medrec_submit(actor=ms.tech(site), medrec=m)
    assert exc.value.field == "items"
    assert _counts() == before


def _in_review(site):
    p = ms.patient(site)
    ms.drug_rx(site, p, name="Lisinopril", substance="lisinopril", filled_days_ago=None)
    m = ms.started(site, p)
    services.medrec_item_add(
        actor=ms.tech(site), medrec=m, source="interview", drug_name="Aspirin 81 mg"
    )
    return services.medrec_submit(actor=ms.tech(site), medrec=m)


def test_the_pharmacist_resolves_and_completes(site):
    m = _in_review(site)
    r = ms.rph(site)
    prescriber = PrescriberFactory(site=site, npi="1245319599")
    d1, d2 = MedRecDiscrepancy.objects.filter(medrec=m).order_by("pk")
    before = _counts()
    with pytest.raises(Invalid) as exc:
        services.medrec_discrepancy_resolve(actor=r, discrepancy=d1, outcome="prescriber_contacted")
    assert exc.value.field == "prescriber"
    with pytest.raises(Invalid) as exc:
        services.medrec_discrepancy_resolve(actor=r, discrepancy=d1, outcome="intentional")
    assert exc.value.field == "note"
    with pytest.raises(Forbidden):
        services.medrec_discrepancy_resolve(
            actor=ms.tech(site), discrepancy=d1, outcome="continued"
        )
    with pytest.raises(Conflict) as exc:
        services.medrec_complete(actor=r, medrec=m, summary="done")
    assert exc.value.message.startswith("2 discrepancies are still without an outcome")
    assert _counts() == before
    d1 = services.medrec_discrepancy_resolve(
        actor=r,
        discrepancy=d1,
        outcome="prescriber_contacted",
        prescriber=prescriber,
        note="Called the office",
    )
    assert d1.prescriber_contacted == prescriber and d1.resolved_by == r
    assert data(last_event())["after"] == {
        "outcome": "prescriber_contacted",
        "prescriber": prescriber.pk,
    }
    with pytest.raises(Conflict) as exc:
        services.medrec_complete(actor=r, medrec=m)
    assert exc.value.message.startswith("1 discrepancy is still")
    services.medrec_discrepancy_resolve(actor=r, discrepancy=d2, outcome="patient_educated")
    with pytest.raises(Forbidden):
        services.medrec_complete(actor=ms.tech(site), medrec=m)
    m = services.medrec_complete(actor=r, medrec=m, summary="Reviewed with the patient.")
    assert m.status == MedRecStatus.COMPLETED and m.completed_by == r
    ev = last_event()
    assert ev.action == "care.medrec.completed"
    assert data(ev)["outcomes"] == {"prescriber_contacted": 1, "patient_educated": 1}
    # Completed: nothing more changes; a new med rec may start.
    with pytest.raises(Conflict):
        services.medrec_discrepancy_resolve(actor=r, discrepancy=d2, outcome="continued")
    assert ms.started(site, m.patient).status == MedRecStatus.OPEN


def test_resolving_before_submission_is_refused(site):
    m = ms.started(site)
    d = services.medrec_discrepancy_add(
        actor=ms.tech(site), medrec=m, kind="other", description="Patient unsure of the dose"
    )
    with pytest.raises(Conflict):
        services.medrec_discrepancy_resolve(actor=ms.rph(site), discrepancy=d, outcome="continued")
    assert MedRecDiscrepancy.objects.get(pk=d.pk).outcome == ""


def test_another_pharmacy_cannot_touch_a_med_rec(site, other_site):
    m = ms.started(site)
    outsider = staff(other_site, Role.PHARMACIST)
    before = _counts()
    with pytest.raises(NotFound):
        services.medrec_item_add(actor=outsider, medrec=m, source="interview", drug_name="X")
    with pytest.raises(NotFound):
        services.medrec_opened(actor=outsider, medrec=m)
    assert _counts() == before


def test_items_can_be_changed_and_removed_while_open(site):
    m = ms.started(site)
    t = ms.tech(site)
    item = services.medrec_item_add(actor=t, medrec=m, source="interview", drug_name="Tylenol")
    services.medrec_item_update(actor=t, item=item, changes={"taking": "not_taking"})
    assert MedRecItem.objects.get(pk=item.pk).taking == "not_taking"
    assert data(last_event())["changed"] == ["taking"]
    with pytest.raises(Invalid):
        services.medrec_item_update(actor=t, item=item, changes={"medrec": 3})
    services.medrec_item_remove(actor=t, item=item)
    assert not MedRecItem.objects.filter(pk=item.pk).exists()
    assert last_event().action == "care.medrec.item_removed"
