"""Services of medication synchronization: enrol, include/keep out, align (the short
fills of the first cycle, figures by hand), the pre-sync call, queueing the sync fills
through the prescription services (too-soon reported, not forced), ending; each with its
audit event, a broken rule and a forbidden role that write nothing."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest

from rxdesk.core.errors import Conflict, Forbidden, Invalid, NotFound
from rxdesk.core.models import AuditEvent
from rxdesk.medsync import queries, services
from rxdesk.medsync.choices import CallOutcome, CycleStatus, EndReason, Exclusion, PlanAction
from rxdesk.medsync.models import SyncCall, SyncCycle, SyncEnrollment, SyncFill, SyncMember
from rxdesk.rx.choices import FillSource, FillStatus
from rxdesk.rx.models import Fill
from tests.medsync.factories import chronic_rx, enrolled, patient_of

D = dt.date
MEDSYNC_ROWS = (SyncEnrollment, SyncMember, SyncCycle, SyncCall, SyncFill)


def _counts():
    return (
        *tuple(m.objects.count() for m in MEDSYNC_ROWS),
        AuditEvent.objects.count(),
        Fill.objects.count(),
    )


class _Event:
    def __init__(self, row: AuditEvent) -> None:
        self.patient_id = row.patient_id
        self.data = json.loads(row.data) if isinstance(row.data, str) else row.data


def _last(action):
    row = AuditEvent.objects.filter(action=action).order_by("-pk").first()
    assert row is not None, action
    return _Event(row)


@pytest.fixture
def scene(clock, site, technician):
    """Five chronic prescriptions and a CII of one patient (today 01/19/2027)."""
    patient = patient_of(site)
    rxs = {
        # 30/30 filled 01/01 → due 01/31 = the sync date: a regular fill
        "a": chronic_rx(technician, patient, filled_on=D(2027, 1, 1)),
        # 60/30 (2 a day) filled 12/27 → due 01/26: 5 days short → 10
        "b": chronic_rx(technician, patient, filled_on=D(2026, 12, 27), quantity="60"),
        # 150 mL/30 filled 12/30 → due 01/29: 2 days → 10.0 mL
        "c": chronic_rx(
            technician,
            patient,
            filled_on=D(2026, 12, 30),
            quantity="150",
            unit="ML",
            dosage_form="SOLUTION",
            package_description="150 mL in 1 BOTTLE",
        ),
        # an inhaler filled 01/05 → due 02/04: not prorated, the next full fill moves
        "d": chronic_rx(
            technician,
            patient,
            filled_on=D(2027, 1, 5),
            quantity="1",
            dosage_form="AEROSOL, METERED",
            package_description="1 INHALER in 1 CARTON / 200 AEROSOL, METERED",
        ),
        # 30/30 filled 01/10 → due 02/09, after 01/31: short to 02/28, 19 days → 19
        "f": chronic_rx(technician, patient, filled_on=D(2027, 1, 10)),
        "cii": chronic_rx(technician, patient, filled_on=D(2027, 1, 2), schedule="CII"),
    }
    return patient, rxs


# --- Enrol ------------------------------------------------------------------------------------


def test_a_technician_enrols_a_patient_and_the_cii_is_kept_out(scene, technician):
    patient, rxs = scene
    enrollment = enrolled(technician, patient, list(rxs.values()))
    assert (enrollment.sync_day, enrollment.anchor_date, enrollment.active) == (
        31,
        D(2027, 1, 31),
        True,
    )
    members = {m.prescription_id: m for m in enrollment.members.all()}
    assert len(members) == 6
    assert (members[rxs["cii"].pk].included, members[rxs["cii"].pk].exclusion) == (
        False,
        Exclusion.CONTROLLED_CII,
    )
    assert all(m.included for pk, m in members.items() if pk != rxs["cii"].pk)
    event = _last("medsync.enrolled")
    assert event.patient_id == patient.pk
    assert event.data["anchor_date"] == "2027-01-31"
    assert event.data["sync_day"] == 31


def test_enrolling_twice_is_refused_and_nothing_written(scene, technician):
    patient, rxs = scene
    enrolled(technician, patient, [rxs["a"]])
    before = _counts()
    with pytest.raises(Conflict):
        enrolled(technician, patient, [rxs["b"]])
    assert _counts() == before


@pytest.mark.parametrize(
    ("over", "field"),
    [
        ({"sync_day": 0}, "sync_day"),
        ({"sync_day": 32}, "sync_day"),
        ({"consent_note": "  "}, "consent_note"),
        ({"prescriptions": []}, "prescriptions"),
    ],
)
def test_bad_enrolments_are_refused_and_nothing_written(scene, technician, over, field):
    patient, rxs = scene
    values = {
        "patient": patient,
        "sync_day": 31,
        "prescriptions": [rxs["a"]],
        "consent_note": "Agreed",
        **over,
    }
    before = _counts()
    with pytest.raises(Invalid) as caught:
        services.sync_enroll(actor=technician, **values)
    assert caught.value.field == field
    assert _counts() == before


def test_only_a_cii_cannot_be_enrolled(scene, technician):
    patient, rxs = scene
    before = _counts()
    with pytest.raises(Invalid, match="CII"):
        enrolled(technician, patient, [rxs["cii"]])
    assert _counts() == before


def test_another_patients_prescription_is_refused(scene, site, technician):
    _patient, rxs = scene
    other = patient_of(site)
    before = _counts()
    with pytest.raises(Invalid, match="not this patient's"):
        enrolled(technician, other, [rxs["a"]])
    assert _counts() == before


@pytest.mark.parametrize("who", ["trainee", "auditor", "inventory"])
def test_enrolling_is_refused_to_other_roles(scene, request, who):
    patient, rxs = scene
    before = _counts()
    with pytest.raises(Forbidden):
        enrolled(request.getfixturevalue(who), patient, [rxs["a"]])
    assert _counts() == before


def test_another_pharmacy_cannot_see_the_patient(scene, outsider):
    patient, rxs = scene
    before = _counts()
    with pytest.raises(NotFound):
        enrolled(outsider, patient, [rxs["a"]])
    assert _counts() == before


# --- Members ----------------------------------------------------------------------------------


def test_a_prescription_is_kept_out_with_its_reason(scene, technician):
    patient, rxs = scene
    enrollment = enrolled(technician, patient, [rxs["a"], rxs["b"]])
    member = services.sync_member_set(
        actor=technician,
        enrollment=enrollment,
        prescription=rxs["b"],
        included=False,
        exclusion=Exclusion.ACUTE,
        note="10-day course",
    )
    assert (member.included, member.exclusion, member.note) == (False, "acute", "10-day course")
    event = _last("medsync.member.set")
    assert event.data["before"] == {"included": True, "exclusion": ""}
    added = services.sync_member_set(
        actor=technician, enrollment=enrollment, prescription=rxs["f"], included=True
    )
    assert added.included is True
    assert enrollment.members.count() == 3


def test_a_cii_cannot_be_included_and_a_reason_is_needed(scene, technician, trainee):
    patient, rxs = scene
    enrollment = enrolled(technician, patient, [rxs["a"], rxs["cii"]])
    before = _counts()
    with pytest.raises(Invalid, match="CII"):
        services.sync_member_set(
            actor=technician, enrollment=enrollment, prescription=rxs["cii"], included=True
        )
    with pytest.raises(Invalid) as caught:
        services.sync_member_set(
            actor=technician, enrollment=enrollment, prescription=rxs["a"], included=False
        )
    assert caught.value.field == "exclusion"
    with pytest.raises(Forbidden):
        services.sync_member_set(
            actor=trainee,
            enrollment=enrollment,
            prescription=rxs["a"],
            included=False,
            exclusion="acute",
        )
    assert _counts() == before


# --- Align ------------------------------------------------------------------------------------


def _aligned(technician, patient, rxs):
    enrollment = enrolled(technician, patient, list(rxs.values()))
    return enrollment, services.sync_align(actor=technician, enrollment=enrollment)


def test_alignment_plans_each_short_fill_by_hand(scene, technician):
    patient, rxs = scene
    _, cycle = _aligned(technician, patient, rxs)
    assert (cycle.sync_date, cycle.status, cycle.alignment) == (
        D(2027, 1, 31),
        CycleStatus.TO_CALL,
        True,
    )
    got = {
        r.prescription_id: (
            r.action,
            r.due_date,
            r.target_date,
            r.days_supply,
            r.quantity,
            r.short_fill,
        )
        for r in cycle.fills.all()
    }
    assert got == {
        rxs["a"].pk: (PlanAction.REGULAR, D(2027, 1, 31), D(2027, 1, 31), 30, Decimal("30"), False),
        rxs["b"].pk: (PlanAction.SHORT, D(2027, 1, 26), D(2027, 1, 31), 5, Decimal("10"), True),
        rxs["c"].pk: (PlanAction.SHORT, D(2027, 1, 29), D(2027, 1, 31), 2, Decimal("10"), True),
        rxs["d"].pk: (
            PlanAction.ADJUST_FULL,
            D(2027, 2, 4),
            D(2027, 2, 28),
            30,
            Decimal("1"),
            False,
        ),
        rxs["f"].pk: (
            PlanAction.NEXT_MONTH,
            D(2027, 2, 9),
            D(2027, 2, 28),
            19,
            Decimal("19"),
            True,
        ),
    }
    event = _last("medsync.aligned")
    assert event.data["sync_date"] == "2027-01-31"
    assert len(event.data["plan"]) == 5


def test_aligning_again_recomputes_the_same_cycle(scene, technician):
    patient, rxs = scene
    enrollment, cycle = _aligned(technician, patient, rxs)
    again = services.sync_align(actor=technician, enrollment=enrollment)
    assert again.pk == cycle.pk
    assert SyncFill.objects.filter(cycle=cycle).count() == 5


def test_a_renewal_needed_is_planned_as_not_filled(clock, site, technician):
    patient = patient_of(site)
    rx = chronic_rx(technician, patient, filled_on=D(2027, 1, 1), refills=0)
    other = chronic_rx(technician, patient, filled_on=D(2027, 1, 1))
    enrollment = enrolled(technician, patient, [rx, other])
    cycle = services.sync_align(actor=technician, enrollment=enrollment)
    row = cycle.fills.get(prescription=rx)
    assert row.action == PlanAction.SKIP
    assert row.warning != ""
    assert row.short_fill is False


def test_aligning_is_refused_to_a_trainee_and_without_members(scene, technician, trainee):
    patient, rxs = scene
    enrollment = enrolled(technician, patient, [rxs["a"], rxs["cii"]])
    services.sync_member_set(
        actor=technician,
        enrollment=enrollment,
        prescription=rxs["a"],
        included=False,
        exclusion="patient_choice",
    )
    before = _counts()
    with pytest.raises(Forbidden):
        services.sync_align(actor=trainee, enrollment=enrollment)
    with pytest.raises(Invalid, match="No prescription is included"):
        services.sync_align(actor=technician, enrollment=enrollment)
    assert _counts() == before


# --- Call and queue ---------------------------------------------------------------------------


def test_the_call_list_shows_cycles_within_seven_days(scene, technician, clock):
    patient, rxs = scene
    _aligned(technician, patient, rxs)
    assert queries.call_list(actor=technician) == []  # 01/31 is 12 days away
    clock.move_to(dt.datetime(2027, 1, 24, 18, 0, tzinfo=dt.UTC))
    rows = queries.call_list(actor=technician)
    assert len(rows) == 1
    assert rows[0].cycle.enrollment.patient_id == patient.pk
    assert {m.prescription.pk for m in rows[0].plan} == {
        rxs[k].pk for k in ("a", "b", "c", "d", "f")
    }
    csv_text = queries.call_list_csv(rows)
    lines = csv_text.strip().split("\r\n")
    assert lines[0] == ",".join(queries.CSV_HEADER)
    assert len(lines) == 6
    assert queries.call_list(actor=technician, within=3) == []


def test_no_answer_keeps_the_cycle_on_the_list_and_confirmed_takes_it_off(scene, technician):
    patient, rxs = scene
    _, cycle = _aligned(technician, patient, rxs)
    call = services.sync_call_record(actor=technician, cycle=cycle, outcome=CallOutcome.NO_ANSWER)
    cycle.refresh_from_db()
    assert (call.outcome, cycle.status) == ("no_answer", CycleStatus.CALLED)
    assert len(queries.call_list(actor=technician, within=30)) == 1
    services.sync_call_record(actor=technician, cycle=cycle, outcome=CallOutcome.CONFIRMED)
    cycle.refresh_from_db()
    assert cycle.status == CycleStatus.CONFIRMED
    assert queries.call_list(actor=technician, within=30) == []
    event = _last("medsync.call.recorded")
    assert event.data == {
        "cycle_id": cycle.pk,
        "outcome": "confirmed",
        "status": {"before": "called", "after": "confirmed"},
    }


def test_a_call_with_changes_needs_a_note_and_a_trainee_cannot_call(scene, technician, trainee):
    patient, rxs = scene
    _, cycle = _aligned(technician, patient, rxs)
    before = _counts()
    with pytest.raises(Invalid) as caught:
        services.sync_call_record(actor=technician, cycle=cycle, outcome=CallOutcome.CHANGES)
    assert caught.value.field == "note"
    with pytest.raises(Invalid):
        services.sync_call_record(actor=technician, cycle=cycle, outcome="maybe")
    with pytest.raises(Forbidden):
        services.sync_call_record(actor=trainee, cycle=cycle, outcome=CallOutcome.CONFIRMED)
    assert _counts() == before


def test_queueing_needs_a_confirmation_first(scene, technician):
    patient, rxs = scene
    _, cycle = _aligned(technician, patient, rxs)
    before = _counts()
    with pytest.raises(Conflict, match="Confirm"):
        services.sync_fills_queue(actor=technician, cycle=cycle)
    assert _counts() == before


def test_queueing_makes_the_fills_in_the_normal_queue(scene, technician, clock):
    patient, rxs = scene
    _, cycle = _aligned(technician, patient, rxs)
    clock.move_to(dt.datetime(2027, 1, 27, 18, 0, tzinfo=dt.UTC))
    services.sync_call_record(actor=technician, cycle=cycle, outcome=CallOutcome.CONFIRMED)
    fills_before = Fill.objects.count()
    services.sync_fills_queue(actor=technician, cycle=cycle)
    cycle.refresh_from_db()
    assert cycle.status == CycleStatus.QUEUED
    assert cycle.queued_by == technician
    assert Fill.objects.count() == fills_before + 5
    rows = {r.prescription_id: r for r in cycle.fills.select_related("fill")}
    got = {
        key: (
            rows[rxs[key].pk].fill.quantity,
            rows[rxs[key].pk].fill.days_supply,
            rows[rxs[key].pk].fill.status,
        )
        for key in ("a", "b", "c", "d", "f")
    }
    # A short fill carries its own days supply (billed with SCC 47); the others the Rx's.
    assert got == {
        "a": (Decimal("30"), 30, FillStatus.QUEUED),  # 01/01 + 24 days = 01/25: due
        "b": (Decimal("10"), 5, FillStatus.QUEUED),
        "c": (Decimal("10"), 2, FillStatus.QUEUED),
        "d": (Decimal("1"), 30, FillStatus.SCHEDULED),  # 01/05 + 24 = 01/29: too soon
        "f": (Decimal("19"), 19, FillStatus.SCHEDULED),  # 01/10 + 24 = 02/03: too soon
    }
    assert {r.fill.source for r in rows.values()} == {FillSource.SYNC}
    assert rows[rxs["d"].pk].fill.fillable_on == D(2027, 1, 29)
    assert rows[rxs["f"].pk].queue_message.startswith("Too soon")
    # the next month's cycle is open for its call
    following = SyncCycle.objects.get(enrollment=cycle.enrollment, sync_date=D(2027, 2, 28))
    assert (following.status, following.alignment) == (CycleStatus.TO_CALL, False)
    event = _last("medsync.fills.queued")
    assert sorted(event.data["fill_ids"]) == sorted(r.fill_id for r in rows.values())
    assert event.data["next_cycle"] == "2027-02-28"
    # queued once only
    with pytest.raises(Conflict):
        services.sync_fills_queue(actor=technician, cycle=cycle)


def test_a_refill_already_waiting_is_reported_not_forced(clock, site, technician):
    patient = patient_of(site)
    waiting = chronic_rx(technician, patient, filled_on=None)  # first fill still queued
    other = chronic_rx(technician, patient, filled_on=D(2027, 1, 1))
    enrollment = enrolled(technician, patient, [waiting, other], sync_day=25)
    cycle = services.sync_align(actor=technician, enrollment=enrollment)
    services.sync_call_record(actor=technician, cycle=cycle, outcome=CallOutcome.CONFIRMED)
    services.sync_fills_queue(actor=technician, cycle=cycle)
    row = cycle.fills.get(prescription=waiting)
    assert row.fill is None
    assert "already waiting in the queue" in row.queue_message
    assert waiting.fills.count() == 1


def test_queueing_is_refused_to_a_trainee(scene, technician, trainee):
    patient, rxs = scene
    _, cycle = _aligned(technician, patient, rxs)
    services.sync_call_record(actor=technician, cycle=cycle, outcome=CallOutcome.CONFIRMED)
    before = _counts()
    with pytest.raises(Forbidden):
        services.sync_fills_queue(actor=trainee, cycle=cycle)
    assert _counts() == before


# --- End --------------------------------------------------------------------------------------


def test_ending_the_enrollment_takes_it_off_the_call_list(scene, technician):
    patient, rxs = scene
    enrollment, _ = _aligned(technician, patient, rxs)
    ended = services.sync_unenroll(
        actor=technician, enrollment=enrollment, reason=EndReason.PATIENT_REQUEST
    )
    assert (ended.active, ended.end_reason, ended.ended_by) == (
        False,
        "patient_request",
        technician,
    )
    assert queries.call_list(actor=technician, within=30) == []
    assert _last("medsync.unenrolled").data == {"reason": "patient_request"}
    # a new enrollment is possible once the old one ended
    again = enrolled(technician, patient, [rxs["a"]])
    assert again.active


def test_ending_needs_a_reason_and_the_right_role(scene, technician, auditor):
    patient, rxs = scene
    enrollment = enrolled(technician, patient, [rxs["a"]])
    before = _counts()
    with pytest.raises(Invalid):
        services.sync_unenroll(actor=technician, enrollment=enrollment, reason="bored")
    with pytest.raises(Invalid):
        services.sync_unenroll(actor=technician, enrollment=enrollment, reason="other")
    with pytest.raises(Forbidden):
        services.sync_unenroll(actor=auditor, enrollment=enrollment, reason="moved")
    assert _counts() == before
