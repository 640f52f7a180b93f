"""Refill requests, too-soon flags, automatic refills, the profile and the refill list."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest

from rxdesk.core.errors import Conflict, Forbidden, Invalid, NotFound
from rxdesk.rx import queries, services
from rxdesk.rx.choices import FillSource, FillStatus, RxStatus
from rxdesk.rx.models import Fill
from tests.conftest import last_event
from tests.rx.factories import dispense, first_fill, make_rx

pytestmark = pytest.mark.django_db


def _days_ago(site, n: int) -> dt.date:
    return site.today() - dt.timedelta(days=n)


def test_a_due_refill_is_queued_as_the_next_fill(technician, site):
    rx = make_rx(technician)
    dispense(first_fill(rx), _days_ago(site, 25))

    result = services.refill_request(actor=technician, prescription=rx, source=FillSource.WEB)

    assert not result.too_soon
    assert (result.fill.number, result.fill.status, result.fill.source) == (
        1,
        FillStatus.QUEUED,
        "web",
    )
    assert last_event().action == "rx.refill.requested"


def test_a_refill_asked_too_soon_waits_with_the_date_it_becomes_fillable(technician, site):
    rx = make_rx(technician)
    dispense(first_fill(rx), _days_ago(site, 10))

    result = services.refill_request(actor=technician, prescription=rx)

    assert result.too_soon
    assert result.fill.status == FillStatus.SCHEDULED
    assert result.fill.fillable_on == _days_ago(site, 10) + dt.timedelta(days=24)  # 80 % of 30
    assert "Too soon" in result.fill.too_soon_message


def test_controlled_substances_use_the_stricter_threshold(technician, site):
    rx = make_rx(technician, schedule="CIV", refills_authorized=2)
    dispense(first_fill(rx), _days_ago(site, 25))
    result = services.refill_request(actor=technician, prescription=rx)
    assert result.too_soon and result.fill.fillable_on == _days_ago(site, 25) + dt.timedelta(
        days=27
    )  # 90 % of 30


def test_the_threshold_is_the_sites_setting(technician, pic, site):
    services.rx_settings_update(actor=pic, refill_threshold_percent=75)
    rx = make_rx(technician)
    dispense(first_fill(rx), _days_ago(site, 23))
    assert not services.refill_request(actor=technician, prescription=rx).too_soon


def test_a_second_request_while_one_waits_is_refused(technician, site):
    rx = make_rx(technician)
    with pytest.raises(Conflict) as exc:
        services.refill_request(actor=technician, prescription=rx)
    assert exc.value.reason_code == "already_queued"
    assert rx.fills.count() == 1
    assert last_event().action == "rx.refill.refused"


def test_no_refills_left_is_refused_and_renewable(technician, site):
    rx = make_rx(technician, refills_authorized=0)
    dispense(first_fill(rx), _days_ago(site, 30))
    with pytest.raises(services.RefillRefused) as exc:
        services.refill_request(actor=technician, prescription=rx)
    assert exc.value.reason_code == "no_refills" and exc.value.renewable
    assert "Rx" in exc.value.message
    assert rx.fills.count() == 1
    event = last_event()
    assert event.action == "rx.refill.refused"
    assert json.loads(event.data)["reason"] == "no_refills"


def test_refills_count_down_and_then_stop(technician, site):
    rx = make_rx(technician, refills_authorized=2)
    for n in range(3):
        fill = rx.fills.get(number=n) if n == 0 else result.fill  # noqa: F821
        dispense(fill, _days_ago(site, 100 - 30 * n))
        if n < 2:
            result = services.refill_request(actor=technician, prescription=rx)
            assert result.fill.number == n + 1
    state = queries.rx_state(rx, site.today())
    assert state.refills_remaining == 0 and not state.can_fill
    with pytest.raises(services.RefillRefused):
        services.refill_request(actor=technician, prescription=rx)


def test_an_inactive_or_transferred_prescription_cannot_be_refilled(technician, site):
    rx = make_rx(technician)
    services.prescription_inactivate(actor=technician, prescription=rx, reason="discontinued")
    with pytest.raises(services.RefillRefused) as exc:
        services.refill_request(actor=technician, prescription=rx)
    assert exc.value.reason_code == "inactive" and not exc.value.renewable


def test_a_refill_request_takes_a_profiled_prescription_off_hold(technician):
    rx = make_rx(technician, hold=True, hold_reason="profile")
    result = services.refill_request(actor=technician, prescription=rx)
    rx.refresh_from_db()
    assert rx.status == RxStatus.ACTIVE and result.fill.number == 0


def test_refill_request_bad_source_and_roles(technician, auditor, outsider):
    rx = make_rx(technician)
    with pytest.raises(Invalid) as exc:
        services.refill_request(actor=technician, prescription=rx, source="fax")
    assert exc.value.errors[0]["field"] == "source"
    with pytest.raises(Forbidden):
        services.refill_request(actor=auditor, prescription=rx)
    with pytest.raises(NotFound):
        services.refill_request(actor=outsider, prescription=rx)


def test_fill_cancel(technician, auditor):
    rx = make_rx(technician)
    fill = first_fill(rx)
    with pytest.raises(Invalid):
        services.fill_cancel(actor=technician, fill=fill, reason=" ")
    with pytest.raises(Forbidden):
        services.fill_cancel(actor=auditor, fill=fill, reason="no longer wanted")
    done = services.fill_cancel(actor=technician, fill=fill, reason="no longer wanted")
    assert done.status == FillStatus.CANCELLED
    with pytest.raises(Conflict):
        services.fill_cancel(actor=technician, fill=fill, reason="again")
    # The cancelled number is free again.
    assert services.refill_request(actor=technician, prescription=rx).fill.number == 0


def test_automatic_refills_queue_what_is_due(technician, site, cli_context):
    due = make_rx(technician, auto_refill=True)
    dispense(first_fill(due), _days_ago(site, 26))
    not_yet = make_rx(technician, auto_refill=True)
    dispense(first_fill(not_yet), _days_ago(site, 5))
    not_enrolled = make_rx(technician)
    dispense(first_fill(not_enrolled), _days_ago(site, 26))
    empty = make_rx(technician, auto_refill=True, refills_authorized=0)
    dispense(first_fill(empty), _days_ago(site, 26))

    run = services.auto_refill_run(actor=None, site=site, lead_days=3)

    assert [f.prescription_id for f in run.queued] == [due.pk]
    assert run.queued[0].source == FillSource.AUTO
    assert [(rx.pk, why) for rx, why in run.refused] == [(empty.pk, "no_refills")]
    assert "1 automatic refill(s) queued" in run.summary()
    # Run again: nothing more, the refill is already waiting.
    assert services.auto_refill_run(actor=None, site=site).queued == []


def test_auto_refill_enrolment(technician, auditor):
    rx = make_rx(technician)
    assert services.auto_refill_set(actor=technician, prescription=rx, enrolled=True).auto_refill
    with pytest.raises(Forbidden):
        services.auto_refill_set(actor=auditor, prescription=rx, enrolled=False)
    with pytest.raises(Forbidden):
        services.auto_refill_run(actor=auditor, site=rx.site)
    services.prescription_inactivate(actor=technician, prescription=rx, reason="discontinued")
    with pytest.raises(Conflict):
        services.auto_refill_set(actor=technician, prescription=rx, enrolled=True)


def test_auto_refill_run_refuses_a_web_request_without_actor(site):
    with pytest.raises(Forbidden):
        services.auto_refill_run(actor=None, site=site)


# --- the profile and the lists ---------------------------------------------------------------


def test_profile_groups_every_prescription_by_where_it_stands(technician, pharmacist, site):
    active = make_rx(technician)
    patient = active.patient
    held = make_rx(technician, patient=patient, hold=True, hold_reason="profile")
    stopped = make_rx(technician, patient=patient)
    services.prescription_inactivate(actor=technician, prescription=stopped, reason="discontinued")
    moved = make_rx(technician, patient=patient)
    services.transfer_out(
        actor=pharmacist,
        prescription=moved,
        other=services.OtherPharmacy(name="Elm St Pharmacy", address="1 Elm St", pharmacist="Lee"),
    )
    old = make_rx(technician, patient=patient, date_written=_days_ago(site, 200))
    old.date_written = _days_ago(site, 400)  # written long ago: expired since
    old.save()

    profile = queries.patient_profile(actor=technician, patient=patient)

    assert [s.rx.pk for s in profile.active] == [active.pk]
    assert [s.rx.pk for s in profile.on_hold] == [held.pk]
    assert [s.rx.pk for s in profile.inactive] == [stopped.pk]
    assert [s.rx.pk for s in profile.transferred] == [moved.pk]
    assert [s.rx.pk for s in profile.expired] == [old.pk]
    assert not profile.expired[0].can_fill and "expired" in profile.expired[0].reason.lower()


def test_profile_is_for_the_patients_own_site_and_roles(technician, outsider, auditor):
    rx = make_rx(technician)
    with pytest.raises(NotFound):
        queries.patient_profile(actor=outsider, patient=rx.patient)
    with pytest.raises(Forbidden):
        queries.patient_profile(actor=auditor, patient=rx.patient)


def test_refills_due_lists_what_falls_due_soon(technician, site):
    soon = make_rx(technician)
    dispense(first_fill(soon), _days_ago(site, 20))  # due on day 24: in 4 days
    later = make_rx(technician)
    dispense(first_fill(later), _days_ago(site, 1))
    due = queries.refills_due(actor=technician, within_days=7)
    assert [d.state.rx.pk for d in due] == [soon.pk]
    assert due[0].due_on == _days_ago(site, 20) + dt.timedelta(days=24)


def test_prescription_get_refuses_bad_ids(technician):
    rx = make_rx(technician)
    assert queries.prescription_get(actor=technician, prescription_id=str(rx.pk)) == rx
    for bad in ("abc", "-1", "0", str(2**63), "1e3"):
        with pytest.raises(NotFound):
            queries.prescription_get(actor=technician, prescription_id=bad)


def test_quantity_remaining_counts_every_fill(technician, site):
    rx = make_rx(technician, refills_authorized=1)
    dispense(first_fill(rx), _days_ago(site, 30))
    state = queries.rx_state(rx, site.today())
    assert state.quantity_remaining == Decimal("30")
    assert Fill.objects.filter(prescription=rx).count() == 1


def test_refills_due_leaves_out_lapsed_and_waiting_ones(technician, site):
    lapsed = make_rx(technician)
    dispense(first_fill(lapsed), _days_ago(site, 70))  # due 46 days ago: lapsed
    overdue = make_rx(technician)
    dispense(first_fill(overdue), _days_ago(site, 40))  # due 16 days ago: still listed
    waiting = make_rx(technician)
    dispense(first_fill(waiting), _days_ago(site, 26))
    services.refill_request(actor=technician, prescription=waiting)
    refilled = make_rx(technician)
    dispense(first_fill(refilled), _days_ago(site, 60))
    again = services.refill_request(actor=technician, prescription=refilled).fill
    dispense(again, _days_ago(site, 2))  # the last dispensing counts, not the first

    due = queries.refills_due(actor=technician, within_days=7)

    assert [d.state.rx.pk for d in due] == [overdue.pk]
