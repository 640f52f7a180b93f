"""Duty sign-on/off and the staffing rule: the ratio warning, acknowledgement, the audit
events, refusals with nothing written."""

from __future__ import annotations

import pytest

from rxdesk.core.choices import Role
from rxdesk.core.errors import Conflict, Forbidden, Invalid, NotFound
from rxdesk.core.models import AuditEvent
from rxdesk.operations import services_duty as services
from rxdesk.operations.models import DutyShift, OperationsSettings
from tests.conftest import last_event
from tests.operations.factories import on_duty, rule, staff

pytestmark = pytest.mark.django_db


def _counts():
    return (
        DutyShift.objects.count(),
        DutyShift.objects.filter(ended_at__isnull=True).count(),
        AuditEvent.objects.count(),
    )


# --- settings ---------------------------------------------------------------------------------


def test_the_pic_sets_the_ratio(site, pic):
    row = services.ops_settings_set(
        actor=pic, max_technicians_per_pharmacist=3, trainees_count=False, citation=" Rule 4.2 "
    )
    assert (row.max_technicians_per_pharmacist, row.trainees_count, row.citation) == (
        3,
        False,
        "Rule 4.2",
    )
    event = last_event()
    assert event.action == "ops.settings.updated"
    assert '"max_technicians_per_pharmacist":[null,3]' in event.data
    assert row.updated_by == pic


def test_no_change_writes_no_event(site, pic):
    services.ops_settings_set(actor=pic, max_technicians_per_pharmacist=None)
    before = AuditEvent.objects.count()
    services.ops_settings_set(actor=pic, max_technicians_per_pharmacist=None)
    assert AuditEvent.objects.count() == before


@pytest.mark.parametrize("limit", [0, 21, True])
def test_an_impossible_ratio_is_refused(site, pic, limit):
    with pytest.raises(Invalid) as err:
        services.ops_settings_set(actor=pic, max_technicians_per_pharmacist=limit)
    assert err.value.field == "max_technicians_per_pharmacist"
    assert AuditEvent.objects.count() == 0


@pytest.mark.parametrize("persona", ["technician", "pharmacist", "auditor", "inventory"])
def test_only_the_pic_sets_the_ratio(site, persona, request):
    actor = request.getfixturevalue(persona)
    with pytest.raises(Forbidden):
        services.ops_settings_set(actor=actor, max_technicians_per_pharmacist=2)
    assert not OperationsSettings.objects.filter(max_technicians_per_pharmacist=2).exists()
    assert AuditEvent.objects.count() == 0


# --- sign on ----------------------------------------------------------------------------------


def test_a_technician_signs_on_within_the_ratio(site, technician, pharmacist):
    rule(site, 2)
    on_duty(pharmacist)
    shift = services.duty_sign_on(actor=technician)
    assert (shift.person, shift.role, shift.over_ratio, shift.ended_at) == (
        technician,
        Role.TECHNICIAN,
        False,
        None,
    )
    event = last_event()
    assert (event.action, event.object_id) == ("ops.duty.signed_on", str(shift.pk))


def test_past_the_ratio_is_refused_with_the_numbers(site, technician, pharmacist):
    rule(site, 2)
    on_duty(pharmacist)
    on_duty(staff(site, Role.TECHNICIAN, "t1"))
    on_duty(staff(site, Role.TECHNICIAN, "t2"))
    before = _counts()
    with pytest.raises(services.OverRatio) as err:
        services.duty_sign_on(actor=technician)
    assert _counts() == before
    assert err.value.code == "over_ratio"
    assert err.value.status == 409
    assert err.value.extra == {"technicians": 3, "pharmacists": 1, "limit": 2}
    assert err.value.message.startswith(
        "3 technicians would be on duty with 1 pharmacist; the state allows 2 per pharmacist"
    )


def test_acknowledged_past_the_ratio_is_recorded(site, technician, pharmacist):
    rule(site, 2)
    on_duty(pharmacist)
    on_duty(staff(site, Role.TECHNICIAN, "t1"))
    on_duty(staff(site, Role.TECHNICIAN, "t2"))
    shift = services.duty_sign_on(
        actor=technician, acknowledge_over_ratio=True, reason="Flu clinic line"
    )
    assert shift.over_ratio is True
    assert (shift.technicians_at_sign_on, shift.pharmacists_at_sign_on) == (3, 1)
    assert shift.over_ratio_reason == "Flu clinic line"
    assert shift.warned == f"{technician.display_name}, {pharmacist.display_name}"
    event = last_event()
    assert event.action == "ops.duty.over_ratio"
    assert event.reason == "Flu clinic line"
    assert '"technicians":3' in event.data and '"limit":2' in event.data


def test_acknowledging_needs_a_reason(site, technician):
    before = _counts()
    with pytest.raises(Invalid) as err:
        services.duty_sign_on(actor=technician, acknowledge_over_ratio=True, reason="  ")
    assert err.value.field == "reason"
    assert _counts() == before


def test_no_pharmacist_on_duty_is_flagged_even_without_a_limit(site, technician):
    rule(site, None)
    with pytest.raises(services.OverRatio):
        services.duty_sign_on(actor=technician)
    shift = services.duty_sign_on(
        actor=technician, acknowledge_over_ratio=True, reason="Opening tasks"
    )
    assert (shift.over_ratio, shift.technicians_at_sign_on, shift.pharmacists_at_sign_on) == (
        True,
        1,
        0,
    )
    assert shift.warned == technician.display_name


def test_a_pharmacist_always_signs_on(site, pharmacist):
    rule(site, 1)
    for n in range(4):
        on_duty(staff(site, Role.TECHNICIAN, f"t{n}"))
    shift = services.duty_sign_on(actor=pharmacist)
    assert shift.over_ratio is False
    assert last_event().action == "ops.duty.signed_on"


def test_trainees_count_unless_the_pic_says_not(site, trainee, pharmacist):
    rule(site, 1)
    on_duty(pharmacist)
    on_duty(staff(site, Role.TECHNICIAN, "t1"))
    with pytest.raises(services.OverRatio):
        services.duty_sign_on(actor=trainee)
    rule(site, 1, trainees_count=False)
    shift = services.duty_sign_on(actor=trainee)
    assert (shift.over_ratio, shift.role) == (False, Role.TECHNICIAN_IN_TRAINING)


def test_an_inventory_specialist_does_not_count(site, inventory):
    rule(site, 1)
    shift = services.duty_sign_on(actor=inventory)
    assert shift.over_ratio is False


def test_one_open_shift_per_person(site, pharmacist):
    services.duty_sign_on(actor=pharmacist)
    before = _counts()
    with pytest.raises(Conflict) as err:
        services.duty_sign_on(actor=pharmacist)
    assert err.value.message == "You are already on duty."
    assert _counts() == before


def test_the_auditor_cannot_sign_on(site, auditor):
    with pytest.raises(Forbidden):
        services.duty_sign_on(actor=auditor)
    assert _counts() == (0, 0, 0)


def test_the_other_sites_staff_do_not_count(site, other_site, technician, pharmacist):
    rule(site, 1)
    on_duty(pharmacist)
    for n in range(3):
        on_duty(staff(other_site, Role.TECHNICIAN, f"o{n}"))
    assert services.duty_sign_on(actor=technician).over_ratio is False


# --- sign off ---------------------------------------------------------------------------------


def test_signing_off_ends_my_shift(site, technician, pharmacist):
    on_duty(pharmacist)
    mine = on_duty(technician)
    shift = services.duty_sign_off(actor=technician)
    assert shift.pk == mine.pk
    assert shift.ended_at is not None and shift.ended_by == technician
    assert last_event().action == "ops.duty.signed_off"


def test_signing_off_when_not_on_duty_is_refused(site, technician):
    with pytest.raises(Conflict):
        services.duty_sign_off(actor=technician)
    assert AuditEvent.objects.count() == 0


def test_the_last_pharmacist_leaving_technicians_is_warned(site, technician, pharmacist):
    rule(site, 3)
    on_duty(pharmacist)
    on_duty(technician)
    before = _counts()
    with pytest.raises(services.OverRatio) as err:
        services.duty_sign_off(actor=pharmacist)
    assert _counts() == before
    assert err.value.extra == {"technicians": 1, "pharmacists": 0, "limit": 3}
    shift = services.duty_sign_off(
        actor=pharmacist, acknowledge_over_ratio=True, reason="Emergency at home; PIC called"
    )
    assert (shift.ended_over_ratio, shift.end_reason) == (True, "Emergency at home; PIC called")
    assert last_event().action == "ops.duty.signed_off_over_ratio"


def test_a_second_pharmacist_leaves_freely(site, technician, pharmacist, pic):
    rule(site, 3)
    on_duty(pharmacist)
    on_duty(pic)
    on_duty(technician)
    assert services.duty_sign_off(actor=pharmacist).ended_over_ratio is False


def test_the_pic_ends_a_forgotten_shift(site, pic, technician):
    forgotten = on_duty(technician, minutes_ago=600)
    shift = services.duty_end_for(actor=pic, shift=forgotten, reason="Forgot to sign off")
    assert (shift.ended_by, shift.end_reason) == (pic, "Forgot to sign off")
    event = last_event()
    assert (event.action, event.reason) == ("ops.duty.ended_by_pic", "Forgot to sign off")


def test_ending_a_shift_needs_a_reason_and_the_pic(site, pic, pharmacist, technician):
    forgotten = on_duty(technician)
    with pytest.raises(Invalid):
        services.duty_end_for(actor=pic, shift=forgotten, reason="")
    with pytest.raises(Forbidden):
        services.duty_end_for(actor=pharmacist, shift=forgotten, reason="Forgot")
    forgotten.refresh_from_db()
    assert forgotten.ended_at is None
    assert AuditEvent.objects.count() == 0


def test_another_sites_shift_is_not_found(site, pic, other_site):
    theirs = on_duty(staff(other_site, Role.TECHNICIAN, "o1"))
    with pytest.raises(NotFound):
        services.duty_end_for(actor=pic, shift=theirs, reason="Forgot")
    theirs.refresh_from_db()
    assert theirs.ended_at is None


def test_sign_on_bumps_the_sites_duty_lock(site, pharmacist):
    services.duty_sign_on(actor=pharmacist)
    services.duty_sign_off(actor=pharmacist)
    assert OperationsSettings.objects.get(site=site).duty_version == 2
