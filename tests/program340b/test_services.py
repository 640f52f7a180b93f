"""340B services against the database: the set-up (PIC only), capture (exact accumulation
in package units, idempotent, reasons kept, reversals and owed-back units), replenishment
orders (FIFO allocation, split rows, never more than accumulated) and site isolation."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest

from rxdesk.core.errors import Conflict, Forbidden, Invalid, NotFound
from rxdesk.core.models import AuditEvent
from rxdesk.program340b import queries, services
from rxdesk.program340b.choices import CaptureKind, PayerAction
from rxdesk.program340b.models import (
    Accumulator,
    Allocation,
    Capture,
    CoveredEntity,
    EligiblePatient,
    EligiblePrescriber,
    Encounter,
    NdcExclusion,
    PayerRule,
    ReplenishmentOrder,
)
from tests.factories import PatientFactory
from tests.program340b.factories import (
    NPI,
    OTHER_NPI,
    eligible_site,
    entity,
    list_prescriber,
    package,
    return_to_stock,
    sold_fill,
)

pytestmark = pytest.mark.django_db
D = Decimal


def _events(action: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=action).order_by("pk"))


def _data(event: AuditEvent) -> dict:
    return json.loads(event.data)


# --- Set-up ---------------------------------------------------------------------------------


def test_the_pic_sets_up_the_covered_entity_and_it_is_audited(site, pic):
    row = services.p340b_entity_set(
        actor=pic,
        opais_id=" dsh140001 ",
        name="Riverside Regional",
        starts_on=dt.date(2026, 1, 1),
        lookback_months=24,
    )
    assert (row.opais_id, row.entity_type, row.lookback_months) == ("DSH140001", "DSH", 24)
    (event,) = _events("p340b.entity.set")
    assert _data(event)["after"]["opais_id"] == "DSH140001"
    assert _data(event)["before"] == {}
    again = services.p340b_entity_set(
        actor=pic, opais_id="DSH140001", name="Riverside", starts_on=dt.date(2026, 1, 1)
    )
    assert again.pk == row.pk and CoveredEntity.objects.count() == 1
    assert _data(_events("p340b.entity.set")[1])["before"]["name"] == "Riverside Regional"


def test_a_340b_id_without_a_known_entity_type_is_refused(site, pic):
    with pytest.raises(Invalid) as refused:
        services.p340b_entity_set(
            actor=pic, opais_id="ZZZ1234", name="X", starts_on=dt.date(2026, 1, 1)
        )
    assert refused.value.errors[0]["field"] == "opais_id"
    assert CoveredEntity.objects.count() == 0 and not _events("p340b.entity.set")


@pytest.mark.parametrize("persona", ["technician", "pharmacist", "inventory", "auditor"])
def test_only_the_pic_sets_up_340b(request, site, persona):
    actor = request.getfixturevalue(persona)
    with pytest.raises(Forbidden):
        services.p340b_entity_set(
            actor=actor, opais_id="DSH140001", name="X", starts_on=dt.date(2026, 1, 1)
        )
    entity(site)
    before = AuditEvent.objects.count()
    with pytest.raises(Forbidden):
        services.p340b_prescriber_add(actor=actor, npi=NPI, effective_from=dt.date(2026, 1, 1))
    with pytest.raises(Forbidden):
        services.p340b_exclusion_add(actor=actor, ndc="00002322730", reason="Orphan")
    assert EligiblePrescriber.objects.count() == 0 and NdcExclusion.objects.count() == 0
    assert AuditEvent.objects.count() == before


def test_prescribers_are_listed_by_valid_npi_without_overlapping_dates(site, pic):
    entity(site)
    row = services.p340b_prescriber_add(
        actor=pic, npi=NPI, effective_from=dt.date(2026, 1, 1), effective_to=dt.date(2026, 6, 30)
    )
    (event,) = _events("p340b.prescriber.added")
    assert _data(event) == {"npi": NPI, "from": "2026-01-01", "to": "2026-06-30"}
    with pytest.raises(Invalid) as bad:
        services.p340b_prescriber_add(
            actor=pic, npi="1234567890", effective_from=dt.date(2026, 1, 1)
        )
    assert bad.value.errors[0]["field"] == "npi"
    with pytest.raises(Conflict):
        services.p340b_prescriber_add(actor=pic, npi=NPI, effective_from=dt.date(2026, 6, 1))
    later = services.p340b_prescriber_add(actor=pic, npi=NPI, effective_from=dt.date(2026, 7, 1))
    assert list(EligiblePrescriber.objects.values_list("pk", flat=True)) == [row.pk, later.pk]
    with pytest.raises(Invalid):
        services.p340b_prescriber_add(
            actor=pic,
            npi=OTHER_NPI,
            effective_from=dt.date(2026, 2, 1),
            effective_to=dt.date(2026, 1, 1),
        )
    assert len(_events("p340b.prescriber.added")) == 2


def test_nothing_is_listed_before_the_entity_is_set_up(site, pic):
    with pytest.raises(Invalid) as refused:
        services.p340b_prescriber_add(actor=pic, npi=NPI, effective_from=dt.date(2026, 1, 1))
    assert "not set up" in refused.value.message
    assert EligiblePrescriber.objects.count() == 0 and AuditEvent.objects.count() == 0


def test_patients_and_encounters_belong_to_this_pharmacy(site, other_site, pic):
    entity(site)
    ours, theirs = PatientFactory(site=site), PatientFactory(site=other_site)
    services.p340b_patient_add(actor=pic, patient=ours, effective_from=dt.date(2026, 1, 1))
    (event,) = _events("p340b.patient.added")
    assert event.patient_id == ours.pk
    with pytest.raises(NotFound):
        services.p340b_patient_add(actor=pic, patient=theirs, effective_from=dt.date(2026, 1, 1))
    services.p340b_encounter_add(actor=pic, patient=ours, location="Clinic A", on=site.today())
    assert _data(_events("p340b.encounter.added")[0])["location"] == "Clinic A"
    with pytest.raises(Conflict):
        services.p340b_encounter_add(actor=pic, patient=ours, location="Clinic A", on=site.today())
    with pytest.raises(Invalid):
        services.p340b_encounter_add(
            actor=pic, patient=ours, location="Clinic A", on=site.today() + dt.timedelta(days=1)
        )
    with pytest.raises(NotFound):
        services.p340b_encounter_add(
            actor=pic, patient=theirs, location="Clinic A", on=site.today()
        )
    assert (EligiblePatient.objects.count(), Encounter.objects.count()) == (1, 1)


def test_payer_rules_and_exclusions(site, pic, plan_340b):
    entity(site)
    rule = services.p340b_payer_rule_set(
        actor=pic, plan=plan_340b, action=PayerAction.EXCLUDE, note="Medicaid Exclusion File"
    )
    assert rule.action == "exclude"
    with pytest.raises(Invalid) as refused:
        services.p340b_payer_rule_set(
            actor=pic, plan=plan_340b, action=PayerAction.EXCLUDE, basis_of_cost_08=True
        )
    assert refused.value.errors[0]["field"] == "basis_of_cost_08"
    services.p340b_payer_rule_set(
        actor=pic, plan=plan_340b, action=PayerAction.BILL_340B, basis_of_cost_08=True
    )
    assert PayerRule.objects.get().action == "bill_340b"
    events = _events("p340b.payer_rule.set")
    assert _data(events[1])["before"] == {"action": "exclude", "basis_of_cost_08": False}
    row = services.p340b_exclusion_add(actor=pic, ndc="00002-3227-30", reason="Orphan drug")
    assert row.ndc11 == "00002322730"
    with pytest.raises(Conflict):
        services.p340b_exclusion_add(actor=pic, ndc="00002322730", reason="again")
    with pytest.raises(Invalid):
        services.p340b_exclusion_add(actor=pic, ndc="12345", reason="bad")
    assert NdcExclusion.objects.count() == 1 and len(_events("p340b.exclusion.added")) == 1


# --- Capture ----------------------------------------------------------------------------------


def test_ten_fills_of_3_3_ml_accumulate_exactly_one_33_ml_package(site, technician):
    _ce, patient = eligible_site(site)
    pack = package(size="33", unit="ML")
    for _ in range(10):
        sold_fill(site, pack, "3.3", patient=patient)

    result = services.p340b_capture(actor=technician)

    assert (result.decided, result.eligible, result.reversed) == (10, 10, 0)
    assert Accumulator.objects.get(package=pack).units == D("33.000")
    (line,) = queries.inventory(actor=technician)
    assert (line.packages_due, line.remainder) == (1, D("0"))
    (event,) = _events("p340b.captured")
    assert _data(event)["units"] == {pack.ndc11: "33"}
    assert _data(event)["decided"] == 10


def test_a_second_capture_adds_nothing(site, technician):
    _ce, patient = eligible_site(site)
    pack = package()
    sold_fill(site, pack, "30", patient=patient)
    services.p340b_capture(actor=technician)
    again = services.p340b_capture(actor=technician)
    assert (again.decided, again.eligible, again.reversed) == (0, 0, 0)
    assert again.summary() == "Nothing new to capture."
    assert Capture.objects.count() == 1 and Accumulator.objects.get().units == D("30")
    assert len(_events("p340b.captured")) == 1


def test_ineligible_dispenses_are_decided_with_reasons_and_not_accumulated(site, technician):
    ce, patient = eligible_site(site)
    stranger = PatientFactory(site=site)
    pack = package()
    sold_fill(site, pack, "30", patient=stranger)
    old = sold_fill(site, pack, "30", patient=patient, on=ce.starts_on - dt.timedelta(days=1))
    late = sold_fill(site, pack, "30", patient=patient, on=site.today())

    result = services.p340b_capture(actor=technician, through=site.today() - dt.timedelta(days=1))

    assert (result.decided, result.eligible) == (1, 0)
    (row,) = Capture.objects.all()
    assert not row.eligible and row.units == D("30")
    failed = [r for r in row.reasons if not r["passed"]]
    assert [r["rule"] for r in failed] == ["patient"]
    assert not Accumulator.objects.exists()
    assert not Capture.objects.filter(fill__in=[old, late]).exists()


def test_an_encounter_within_the_look_back_makes_the_patient_the_entitys(site, pic, technician):
    entity(site, lookback_months=1)
    list_prescriber(site)
    seen, unseen = PatientFactory(site=site), PatientFactory(site=site)
    day = site.today() - dt.timedelta(days=1)
    services.p340b_encounter_add(
        actor=pic, patient=seen, location="Clinic", on=day - dt.timedelta(days=20)
    )
    services.p340b_encounter_add(
        actor=pic, patient=unseen, location="Clinic", on=day - dt.timedelta(days=70)
    )
    pack = package()
    sold_fill(site, pack, "10", patient=seen, on=day)
    sold_fill(site, pack, "10", patient=unseen, on=day)
    services.p340b_capture(actor=technician)
    assert list(Capture.objects.order_by("pk").values_list("eligible", flat=True)) == [True, False]
    assert Accumulator.objects.get().units == D("10")


def test_a_carved_out_plan_and_an_excluded_ndc_are_not_340b(site, pic, technician, plan_340b):
    _ce, patient = eligible_site(site)
    pack, orphan = package(), package()
    services.p340b_exclusion_add(actor=pic, ndc=orphan.ndc11, reason="Orphan drug")
    sold_fill(site, orphan, "30", patient=patient)
    services.p340b_capture(actor=technician)
    (row,) = Capture.objects.all()
    assert not row.eligible
    assert [r["detail"] for r in row.reasons if not r["passed"]] == [f"NDC {orphan.ndc11} excluded"]
    assert pack.pk and not Accumulator.objects.exists()


def test_a_return_to_stock_reverses_and_after_an_order_shows_owed_back(site, technician):
    _ce, patient = eligible_site(site)
    pack = package(size="30")
    first = sold_fill(site, pack, "30", patient=patient, on=site.today() - dt.timedelta(days=3))
    second = sold_fill(site, pack, "12", patient=patient, on=site.today() - dt.timedelta(days=2))
    services.p340b_capture(actor=technician)
    order = services.p340b_order_create(
        actor=technician, ndc=pack.ndc11, packages=1, po_number="PO-1"
    )
    assert [(a.capture.fill_id, a.units) for a in order.allocations.order_by("pk")] == [
        (first.pk, D("30"))
    ]
    return_to_stock(first)

    result = services.p340b_capture(actor=technician)

    assert (result.decided, result.reversed) == (0, 1)
    reversal = Capture.objects.get(kind=CaptureKind.REVERSAL)
    assert (reversal.fill_id, reversal.units) == (first.pk, D("-30"))
    # 30 + 12 dispensed, 30 ordered, 30 returned: 18 owed back.
    assert Accumulator.objects.get().units == D("-18")
    (line,) = queries.inventory(actor=technician)
    assert (line.owed_back, line.packages_due) == (D("18"), 0)
    with pytest.raises(Conflict) as refused:
        services.p340b_order_create(actor=technician, ndc=pack.ndc11, packages=1, po_number="PO-2")
    assert "18 EA owed back" in refused.value.message
    report = queries.report(actor=technician)
    assert [(r.po_number, r.rx_number, r.returned) for r in report] == [
        ("PO-1", str(first.prescription.number), True)
    ]
    assert second.pk


def test_orders_allocate_dispenses_oldest_first_and_split_one_between_two_orders(site, technician):
    _ce, patient = eligible_site(site)
    pack = package(size="33", unit="ML")
    fills = [
        sold_fill(site, pack, q, patient=patient, on=site.today() - dt.timedelta(days=10 - n))
        for n, q in enumerate(["20", "20", "20", "6"])
    ]
    services.p340b_capture(actor=technician)
    assert Accumulator.objects.get().units == D("66")

    one = services.p340b_order_create(actor=technician, ndc=pack.ndc11, packages=1, po_number="A-1")
    two = services.p340b_order_create(actor=technician, ndc=pack.ndc11, packages=1, po_number="A-2")

    assert (one.units, two.units) == (D("33"), D("33"))
    assert [(a.capture.fill_id, a.units) for a in one.allocations.order_by("pk")] == [
        (fills[0].pk, D("20")),
        (fills[1].pk, D("13")),
    ]
    assert [(a.capture.fill_id, a.units) for a in two.allocations.order_by("pk")] == [
        (fills[1].pk, D("7")),
        (fills[2].pk, D("20")),
        (fills[3].pk, D("6")),
    ]
    assert Accumulator.objects.get().units == D("0")
    (event,) = _events("p340b.order.placed")[:1]
    assert _data(event)["units"] == "33" and _data(event)["po_number"] == "A-1"
    lines = queries.report(actor=technician)
    assert [(line.po_number, line.allocated_units) for line in lines] == [
        ("A-1", D("20")),
        ("A-1", D("13")),
        ("A-2", D("7")),
        ("A-2", D("20")),
        ("A-2", D("6")),
    ]


def test_an_order_cannot_take_more_than_is_accumulated(site, technician):
    _ce, patient = eligible_site(site)
    pack = package(size="30")
    sold_fill(site, pack, "59", patient=patient)
    services.p340b_capture(actor=technician)
    with pytest.raises(Conflict) as refused:
        services.p340b_order_create(actor=technician, ndc=pack.ndc11, packages=2, po_number="P-9")
    assert refused.value.message == (
        f"Only 1 package(s) of NDC {pack.ndc11} are accumulated: 2 cannot be ordered."
    )
    assert ReplenishmentOrder.objects.count() == 0 and Allocation.objects.count() == 0
    assert Accumulator.objects.get().units == D("59")
    assert not _events("p340b.order.placed")
    services.p340b_order_create(actor=technician, ndc=pack.ndc11, packages=1, po_number="P-9")
    with pytest.raises(Conflict):
        services.p340b_order_create(actor=technician, ndc=pack.ndc11, packages=1, po_number="P-9")
    with pytest.raises(Invalid):
        services.p340b_order_create(actor=technician, ndc=pack.ndc11, packages=0, po_number="P-10")


@pytest.mark.parametrize("persona", ["trainee", "auditor"])
def test_capture_and_orders_need_340b_order(request, site, technician, persona):
    _ce, patient = eligible_site(site)
    pack = package()
    sold_fill(site, pack, "30", patient=patient)
    actor = request.getfixturevalue(persona)
    before = AuditEvent.objects.count()
    with pytest.raises(Forbidden):
        services.p340b_capture(actor=actor)
    assert Capture.objects.count() == 0
    services.p340b_capture(actor=technician)
    before = AuditEvent.objects.count()
    with pytest.raises(Forbidden):
        services.p340b_order_create(actor=actor, ndc=pack.ndc11, packages=1, po_number="X")
    assert ReplenishmentOrder.objects.count() == 0 and AuditEvent.objects.count() == before


def test_the_inventory_specialist_orders(site, technician, inventory):
    _ce, patient = eligible_site(site)
    pack = package()
    sold_fill(site, pack, "30", patient=patient)
    services.p340b_capture(actor=inventory)
    order = services.p340b_order_create(
        actor=inventory, ndc=pack.ndc11, packages=1, po_number="I-1"
    )
    assert order.ordered_by == inventory


def test_another_pharmacys_fills_and_records_stay_apart(site, other_site, technician):
    _ce, patient = eligible_site(site)
    entity(other_site)
    list_prescriber(other_site)
    theirs = PatientFactory(site=other_site)
    pack = package()
    sold_fill(site, pack, "30", patient=patient)
    sold_fill(other_site, pack, "30", patient=theirs)
    result = services.p340b_capture(actor=technician)
    assert result.decided == 1
    assert Capture.objects.get().site == site
    with pytest.raises(NotFound):
        services.p340b_capture(actor=technician, site=other_site)
    with pytest.raises(NotFound):
        services.p340b_order_create(
            actor=technician, site=other_site, ndc=pack.ndc11, packages=1, po_number="Z"
        )
    other_order = ReplenishmentOrder.objects.filter(site=other_site).first()
    assert other_order is None
    with pytest.raises(NotFound):
        queries.order(actor=technician, pk=10**9)
