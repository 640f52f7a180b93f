"""Safety events, medication errors, MedWatch reports, root-cause analysis and closing:
each write's audit event, each broken rule (nothing written), each refused role."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.utils import timezone

from rxdesk.care import services_quality as services
from rxdesk.care.models import (
    ActionItem,
    AdverseEventProduct,
    AdverseEventReport,
    ContributingFactor,
    MedicationError,
    RootCauseAnalysis,
    SafetyEvent,
)
from rxdesk.core.choices import Role
from rxdesk.core.errors import Conflict, Forbidden, Invalid, NotFound
from rxdesk.core.models import AuditEvent
from rxdesk.patients.models import Measurement
from tests.care import quality_setup as qs
from tests.care.factories import staff
from tests.catalog.factories import PackageFactory, ProductFactory
from tests.rx.factories import dispense, first_fill, make_rx

pytestmark = pytest.mark.django_db

MODELS = [
    SafetyEvent,
    MedicationError,
    AdverseEventReport,
    AdverseEventProduct,
    RootCauseAnalysis,
    ContributingFactor,
    ActionItem,
]


def _state():
    counts = {m.__name__: m.objects.count() for m in MODELS}
    counts["events"] = AuditEvent.objects.exclude(action__startswith="auth.").count()
    return counts


def _last():
    return AuditEvent.objects.exclude(action__startswith="auth.").order_by("-pk").first()


def _fields(exc: Invalid) -> set[str]:
    return {e["field"] for e in exc.errors}


# --- safety events ----------------------------------------------------------------------------


def test_a_trainee_reports_a_near_miss_with_one_audit_event(site):
    trainee = staff(site, Role.TECHNICIAN_IN_TRAINING)
    before = _state()

    event = services.safety_event_report(
        actor=trainee,
        kind="near_miss",
        title="  Two  bottles  ",
        occurred_at=qs.ago(minutes=30),
        description="Caught at the count.\nNo harm.",
        step="fill",
        category="B",
    )

    assert (event.kind, event.title, event.status, event.category) == (
        "near_miss",
        "Two bottles",
        "open",
        "B",
    )
    assert event.description == "Caught at the count.\nNo harm."
    assert _state()["events"] == before["events"] + 1
    last = _last()
    assert last.action == "care.event.reported" and last.object_id == str(event.pk)
    data = json.loads(last.data)
    assert data == {"kind": "near_miss", "step": "fill", "error_type": "", "category": "B"}
    assert "Caught" not in last.data


@pytest.mark.parametrize(
    ("over", "fields"),
    [
        ({"kind": "medication_error"}, {"kind"}),
        ({"kind": "adverse_drug_event"}, {"kind"}),
        ({"kind": "bogus"}, {"kind"}),
        ({"title": " "}, {"title"}),
        ({"description": ""}, {"description"}),
        ({"occurred_at": timezone.now() + dt.timedelta(hours=1)}, {"occurred_at"}),
        ({"occurred_at": dt.datetime(2024, 1, 1, 8, 0)}, {"occurred_at"}),
        ({"category": "E"}, {"category"}),
        ({"step": "nowhere", "title": "x\x00"}, {"step", "title"}),
    ],
)
def test_a_bad_event_is_refused_naming_the_field_and_nothing_is_written(site, over, fields):
    values = {
        "kind": "process",
        "title": "Fax machine jam",
        "occurred_at": qs.ago(hours=1),
        "description": "Lost a page.",
    }
    values.update(over)
    tech = qs.reporter(site)
    before = _state()
    with pytest.raises(Invalid) as caught:
        services.safety_event_report(actor=tech, **values)
    assert _fields(caught.value) == fields
    assert _state() == before


def test_roles_without_care_event_may_not_report(site):
    for role in (Role.AUDITOR, Role.INVENTORY_SPECIALIST, Role.ADMIN):
        before = _state()
        with pytest.raises(Forbidden):
            services.safety_event_report(
                actor=staff(site, role),
                kind="other",
                title="t",
                occurred_at=qs.ago(hours=1),
                description="d",
            )
        assert _state() == before


def test_another_pharmacys_patient_is_not_found(site, other_site):
    with pytest.raises(NotFound):
        qs.near_miss(site, patient=qs.patient(other_site))


# --- medication errors ------------------------------------------------------------------------


def test_a_b_category_error_is_a_near_miss_event(site):
    error = qs.error(site, "B")
    event = error.safety_event
    assert event.kind == "near_miss" and event.category == "B" and event.step == "entry"
    assert error.caught_at_step == "final_verification"
    last = _last()
    assert last.action == "care.error.reported"
    assert json.loads(last.data)["kind"] == "near_miss"


def test_a_harm_error_with_its_rx_takes_the_patient_from_the_prescription(site):
    tech = qs.reporter(site)
    rx = make_rx(tech)
    fill = first_fill(rx)
    error = services.medication_error_report(
        actor=tech,
        step="fill",
        error_type="wrong_drug",
        category="E",
        description="Wrong drug dispensed; patient dizzy.",
        occurred_at=qs.ago(days=2),
        discovered_at=qs.ago(days=1),
        prescription=rx,
        fill=fill,
        prescriber_notified=True,
        patient_notified=True,
        follow_up="Call the patient tomorrow.",
        follow_up_due=site.today() + dt.timedelta(days=1),
    )
    assert error.patient_id == rx.patient_id and error.safety_event.patient_id == rx.patient_id
    assert error.safety_event.kind == "medication_error"
    assert _last().patient_id == rx.patient_id
    assert json.loads(_last().data)["prescription"] == rx.number


def test_harm_needs_patient_prescriber_and_a_dated_follow_up_all_named_at_once(site):
    before = _state()
    with pytest.raises(Invalid) as caught:
        services.medication_error_report(
            actor=qs.reporter(site),
            step="pickup",
            error_type="wrong_patient",
            category="F",
            description="Bag given to the wrong patient.",
            occurred_at=qs.ago(hours=3),
            discovered_at=qs.ago(hours=2),
        )
    assert _fields(caught.value) == {"patient", "prescriber_notified", "follow_up", "follow_up_due"}
    assert _state() == before


def test_reached_patient_needs_the_patient(site):
    before = _state()
    with pytest.raises(Invalid) as caught:
        services.medication_error_report(
            actor=qs.reporter(site),
            step="pickup",
            error_type="omission",
            category="C",
            description="Missed a refill in the bag.",
            occurred_at=qs.ago(hours=3),
            discovered_at=qs.ago(hours=2),
        )
    assert _fields(caught.value) == {"patient"}
    assert _state() == before


@pytest.mark.parametrize(
    ("over", "fields"),
    [
        ({"discovered_at": qs.ago(days=3)}, {"discovered_at"}),
        ({"occurred_at": timezone.now() + dt.timedelta(days=1)}, {"occurred_at"}),
        ({"category": "Z", "step": "", "error_type": "nope"}, {"category", "step", "error_type"}),
        ({"follow_up": "Call", "follow_up_due": dt.date(2000, 1, 1)}, {"follow_up_due"}),
        ({"follow_up_due": dt.date(2999, 1, 1)}, {"follow_up"}),
    ],
)
def test_a_bad_error_report_changes_nothing(site, over, fields):
    over = dict(over)
    qs.reporter(site)
    before = _state()
    with pytest.raises(Invalid) as caught:
        qs.error(site, over.pop("category", "A"), **over)
    assert _fields(caught.value) == fields
    assert _state() == before


def test_the_rx_must_be_the_patients_and_the_fill_the_rxs(site):
    tech = qs.reporter(site)
    rx, other = make_rx(tech), make_rx(tech)
    before = _state()
    with pytest.raises(Invalid) as caught:
        qs.error(site, "C", patient=qs.patient(site), prescription=rx)
    assert _fields(caught.value) == {"prescription"}
    with pytest.raises(Invalid) as caught:
        qs.error(site, "C", prescription=rx, fill=first_fill(other))
    assert "fill" in _fields(caught.value)
    assert _state() == before


def test_another_pharmacys_prescription_is_not_found(site, other_site):
    rx = make_rx(qs.reporter(other_site))
    with pytest.raises(NotFound):
        qs.error(site, "C", prescription=rx)


def test_the_follow_up_is_marked_done_once_by_a_pharmacist(site):
    error = qs.with_follow_up(site)
    tech = qs.reporter(site)
    before = _state()
    with pytest.raises(Forbidden):
        services.medication_error_follow_up_done(actor=tech, error=error, note="Called")
    assert _state() == before
    with pytest.raises(Invalid):
        services.medication_error_follow_up_done(actor=qs.rph(site), error=error, note=" ")
    done = services.medication_error_follow_up_done(
        actor=qs.rph(site), error=error, note="BP normal."
    )
    assert done.follow_up_done_at is not None and done.follow_up_done_by == qs.rph(site)
    assert done.follow_up.endswith("BP normal.") and done.follow_up.startswith("Check blood")
    assert _last().action == "care.error.follow_up_done"
    assert json.loads(_last().data) == {"event": error.safety_event_id, "late": False}
    with pytest.raises(Conflict):
        services.medication_error_follow_up_done(actor=qs.rph(site), error=error, note="Again")


# --- MedWatch reports -------------------------------------------------------------------------


def test_a_draft_takes_section_a_from_the_patient_never_the_name(site):
    p = qs.patient(site, date_of_birth=dt.date(1950, 3, 4), sex="F")
    Measurement.objects.create(patient=p, kind="weight", value="61.50", measured_on=site.today())
    report = qs.ade_draft(site, patient=p, event_date=dt.date(2025, 3, 3))

    assert report.status == "draft"
    assert report.patient_identifier == "ML"
    assert (report.age, report.age_unit, report.sex) == (74, "years", "F")
    assert str(report.weight_kg) == "61.50"
    assert report.safety_event.kind == "adverse_drug_event"
    assert report.safety_event.patient_id == p.pk
    assert report.reporter_name == qs.reporter(site).display_name
    assert report.occupation == "Pharmacy technician"
    last = _last()
    assert last.action == "care.ade.created" and last.patient_id == p.pk
    assert "Lopez" not in last.data and "Hives" not in last.data


def test_a_product_from_a_prescription_carries_name_ndc_lot_dose_and_dates(site):
    tech = qs.reporter(site)
    rx = make_rx(tech, directions="1 CAP PO BID")
    dispense(first_fill(rx), site.today() - dt.timedelta(days=5))
    report = qs.ade_draft(
        site,
        patient=rx.patient,
        products=[{"prescription_id": rx.pk, "role": "suspect", "indication": "Infection"}],
    )
    product = report.products.get()
    assert product.prescription_id == rx.pk
    assert product.name == rx.product.display_name
    assert product.ndc11 == rx.package.ndc11
    assert product.frequency == "2 times a day"
    assert product.dose.startswith("1")
    assert product.therapy_start == site.today() - dt.timedelta(days=5)
    assert product.indication == "Infection"


def test_a_vaccine_as_suspect_is_refused_vaers(site):
    vaccine = PackageFactory(product=ProductFactory(product_type="VACCINE", name="Fluzone"))
    before = _state()
    with pytest.raises(Invalid) as caught:
        qs.ade_draft(site, products=[{"name": "Fluzone", "ndc11": vaccine.ndc11}])
    assert "VAERS" in caught.value.message
    with pytest.raises(Invalid):
        qs.ade_draft(site, products=[{"name": "Zoster vaccine recombinant"}])
    assert _state() == before
    # Given alongside (concomitant), a vaccine may be listed.
    report = qs.ade_draft(
        site,
        products=[
            {"name": "Amoxicillin"},
            {"name": "Zoster vaccine recombinant", "role": "concomitant"},
        ],
    )
    assert report.products.count() == 2


@pytest.mark.parametrize(
    ("over", "fields"),
    [
        ({"event_date": dt.date(2999, 1, 1)}, {"event_date"}),
        ({"event_date": dt.date(1900, 1, 1)}, {"event_date"}),
        ({"outcomes": ["death", "non_serious"]}, {"outcomes"}),
        ({"outcomes": ["hospitalization"], "death_date": dt.date(2020, 1, 1)}, {"death_date"}),
        ({"description": " "}, {"description"}),
        ({"products": [{"name": ""}]}, {"products.0.name"}),
        ({"products": [{"name": "X", "ndc11": "123"}]}, {"products.0.ndc11"}),
        ({"reporter_phone": "12"}, {"reporter_phone"}),
    ],
)
def test_a_bad_draft_changes_nothing(site, over, fields):
    qs.reporter(site)
    p = qs.patient(site)
    before = _state()
    with pytest.raises(Invalid) as caught:
        qs.ade_draft(site, patient=p, **over)
    assert _fields(caught.value) == fields
    assert _state() == before


def test_submit_names_every_missing_field_at_once_then_the_report_is_read_only(site):
    report = qs.ade_draft(site, complete=False, reporter_phone="")
    report.reporter_address = ""
    report.save()
    before = _state()
    with pytest.raises(Invalid) as caught:
        services.ade_report_submit(actor=qs.rph(site), report=report)
    assert _fields(caught.value) == {"outcomes", "products", "reporter_phone"}
    assert _state() == before

    tech = qs.reporter(site)
    services.ade_report_update(
        actor=tech,
        report=report,
        outcomes=["death"],
        products=[{"name": "Warfarin 5 mg"}],
        reporter_email="rph@example.org",
    )
    assert _last().action == "care.ade.updated"
    assert json.loads(_last().data)["changed"] == ["outcomes", "reporter_email", "products"]
    with pytest.raises(Invalid) as caught:
        services.ade_report_submit(actor=qs.rph(site), report=report)
    assert _fields(caught.value) == {"death_date"}

    services.ade_report_update(actor=tech, report=report, death_date=site.today())
    with pytest.raises(Forbidden):
        services.ade_report_submit(actor=tech, report=report)
    done = services.ade_report_submit(actor=qs.rph(site), report=report, fda_reference="MW123")
    assert (done.status, done.fda_reference, done.submitted_by) == (
        "submitted",
        "MW123",
        qs.rph(site),
    )
    assert _last().action == "care.ade.submitted"
    assert json.loads(_last().data)["serious"] is True

    before = _state()
    with pytest.raises(Conflict):
        services.ade_report_update(actor=tech, report=done, history="More")
    with pytest.raises(Conflict):
        services.ade_report_submit(actor=qs.rph(site), report=done)
    assert _state() == before


def test_opening_a_report_is_a_phi_access_event_and_needs_patient_view(site):
    report = qs.ade_draft(site)
    services.ade_report_opened(actor=qs.reporter(site), report=report, output="pdf")
    assert _last().action == "care.ade.opened" and _last().patient_id == report.patient_id
    before = _state()
    with pytest.raises(Forbidden):
        services.ade_report_opened(actor=staff(site, Role.AUDITOR), report=report, output="pdf")
    assert _state() == before


# --- root-cause analysis ----------------------------------------------------------------------


def test_an_rca_runs_start_factor_action_complete_and_the_event_closes(site):
    event = qs.error(site, "E").safety_event
    pharmacist = qs.rph(site)
    with pytest.raises(Conflict) as caught:
        services.safety_event_close(actor=pharmacist, event=event, note="Done")
    assert "root-cause analysis" in caught.value.message

    rca = qs.rca_of(site, event)
    event.refresh_from_db()
    assert event.status == "analysis" and _last().action == "care.rca.started"
    with pytest.raises(Conflict):
        qs.rca_of(site, event)

    with pytest.raises(Invalid) as caught:
        services.rca_complete(actor=pharmacist, rca=rca, root_cause="Shelving")
    assert _fields(caught.value) == {"factors", "actions"}

    qs.factor(rca)
    assert _last().action == "care.rca.factor_added"
    owner = qs.reporter(site)
    item = qs.action(rca, owner=owner)
    assert _last().action == "care.rca.action_added"
    assert json.loads(_last().data)["owner"] == owner.username
    services.rca_complete(actor=pharmacist, rca=rca, root_cause="Alphabetical shelving.")
    with pytest.raises(Conflict):
        qs.factor(rca)

    with pytest.raises(Conflict) as caught:
        services.safety_event_close(actor=pharmacist, event=event, note="Done")
    assert "1 action item still open" in caught.value.message
    assert "follow-up" in caught.value.message

    services.action_item_complete(actor=owner, item=item, note="Moved.")
    item.refresh_from_db()
    assert item.status == "done" and item.done_by == owner
    services.medication_error_follow_up_done(
        actor=pharmacist, error=event.medication_error, note="Fine"
    )
    closed = services.safety_event_close(actor=pharmacist, event=event, note="Learned.")
    assert closed.status == "closed" and closed.closed_by == pharmacist
    assert _last().action == "care.event.closed"
    with pytest.raises(Conflict):
        services.safety_event_close(actor=pharmacist, event=event, note="Again")
    with pytest.raises(Conflict):
        qs.action(rca)


def test_a_serious_ade_needs_a_completed_rca_a_non_serious_one_does_not(site):
    serious = qs.ade_draft(site, outcomes=["hospitalization"]).safety_event
    mild = qs.ade_draft(site, outcomes=["non_serious"]).safety_event
    assert services.needs_rca(serious) and not services.needs_rca(mild)
    with pytest.raises(Conflict):
        services.safety_event_close(actor=qs.rph(site), event=serious, note="x")
    assert services.safety_event_close(actor=qs.rph(site), event=mild, note="x").status == "closed"


def test_action_owner_must_be_current_staff_here_and_due_not_past(site, other_site):
    rca = qs.rca_of(site)
    gone = staff(site, Role.TECHNICIAN, username="qi-gone")
    gone.is_active = False
    gone.save()
    before = _state()
    for owner in (gone, qs.reporter(other_site), None):
        with pytest.raises(Invalid) as caught:
            qs.action(rca, owner=owner) if owner else services.rca_action_add(
                actor=qs.rph(site),
                rca=rca,
                description="x",
                strength="weak",
                owner=None,
                due_on=site.today(),
            )
        assert "owner" in _fields(caught.value)
    with pytest.raises(Invalid) as caught:
        qs.action(rca, due_on=site.today() - dt.timedelta(days=1), strength="huge")
    assert _fields(caught.value) == {"due_on", "strength"}
    assert _state() == before


def test_only_the_owner_or_a_pharmacist_completes_and_dropping_needs_a_reason(site):
    rca = qs.rca_of(site)
    owner = qs.reporter(site)
    item = qs.action(rca, owner=owner)
    other_tech = staff(site, Role.TECHNICIAN, username="qi-other")
    before = _state()
    with pytest.raises(Forbidden):
        services.action_item_complete(actor=other_tech, item=item)
    with pytest.raises(Forbidden):
        services.action_item_drop(actor=owner, item=item, note="No")
    with pytest.raises(Invalid):
        services.action_item_drop(actor=qs.rph(site), item=item, note="")
    assert _state() == before
    dropped = services.action_item_drop(actor=qs.rph(site), item=item, note="Superseded.")
    assert dropped.status == "dropped" and _last().action == "care.action.dropped"
    with pytest.raises(Conflict):
        services.action_item_complete(actor=owner, item=item)


def test_rca_writes_are_pharmacist_only(site):
    event = qs.near_miss(site)
    before = _state()
    for role in (Role.TECHNICIAN, Role.TECHNICIAN_IN_TRAINING, Role.AUDITOR):
        with pytest.raises(Forbidden):
            services.rca_start(actor=staff(site, role), event=event, what_happened="x")
        with pytest.raises(Forbidden):
            services.safety_event_close(actor=staff(site, role), event=event, note="x")
    assert _state() == before


def test_a_near_miss_closes_without_analysis_and_a_closed_event_takes_no_rca(site):
    event = qs.near_miss(site)
    with pytest.raises(Invalid):
        services.safety_event_close(actor=qs.rph(site), event=event, note="")
    services.safety_event_close(actor=qs.rph(site), event=event, note="Shelf moved.")
    with pytest.raises(Conflict):
        qs.rca_of(site, event)
