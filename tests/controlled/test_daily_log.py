"""The daily controlled-substance log and the pharmacist's sign-off (21 CFR 1306.22(f)): one
local day's moves of one schedule group, totals by reason, the sign-off state (not signed,
signed, changed since signed), signing a quiet day, signing again after a change, the days
still waiting for a sign-off — and each refusal (a day to come, a bad group, a long note, a
technician, the same pharmacist twice) with nothing written."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import time_machine

from rxdesk.controlled import queries, services_log
from rxdesk.controlled.choices import ScheduleGroup
from rxdesk.controlled.models import DailyLogSignoff
from rxdesk.core.errors import Conflict, Forbidden, Invalid
from rxdesk.inventory.choices import MoveReason
from tests.conftest import audit_count, last_event
from tests.controlled.factories import alprazolam, codeine_syrup, oxycodone
from tests.controlled.matrix_ledger import local, move
from tests.inventory.factories import package

pytestmark = pytest.mark.django_db

D = Decimal
DAY = dt.date(2026, 3, 10)
NOON_AFTER = dt.datetime(2026, 3, 12, 18, 0, tzinfo=dt.UTC)  # 13:00 in Chicago (CDT)


@pytest.fixture
def clock():
    with time_machine.travel(NOON_AFTER, tick=False):
        yield


@pytest.fixture
def day_moves(site, technician, clock):
    """On DAY (Chicago): oxycodone received and dispensed twice; alprazolam and codeine
    syrup dispensed; Prozac (not controlled) dispensed; one oxycodone dispensing the evening
    before and one at 00:30 the morning after."""
    oxy, alp, cod, prozac = oxycodone(), alprazolam(), codeine_syrup(), package()
    before = DAY - dt.timedelta(days=1)
    move(site, oxy, 200, lot="OX1", when=local(site, before, 8))
    move(site, alp, 1000, lot="AL1", when=local(site, before, 8))
    move(site, cod, 473, lot="CO1", when=local(site, before, 8))
    move(site, prozac, 90, lot="PZ1", when=local(site, before, 8))
    move(
        site,
        oxy,
        -10,
        reason=MoveReason.DISPENSE,
        lot="OX1",
        actor=technician,
        when=local(site, before, 23, 59),
    )
    moves = [
        move(site, oxy, 100, lot="OX1", actor=technician, when=local(site, DAY, 0, 1)),
        move(
            site,
            oxy,
            -30,
            reason=MoveReason.DISPENSE,
            lot="OX1",
            actor=technician,
            when=local(site, DAY, 10),
        ),
        move(
            site,
            alp,
            -60,
            reason=MoveReason.DISPENSE,
            lot="AL1",
            actor=technician,
            when=local(site, DAY, 11),
        ),
        move(
            site,
            cod,
            -120,
            reason=MoveReason.DISPENSE,
            lot="CO1",
            actor=technician,
            when=local(site, DAY, 12),
        ),
        move(
            site,
            prozac,
            -30,
            reason=MoveReason.DISPENSE,
            lot="PZ1",
            actor=technician,
            when=local(site, DAY, 13),
        ),
        # 23:45 in Chicago is the next day in UTC: still DAY's log.
        move(
            site,
            oxy,
            -15,
            reason=MoveReason.DISPENSE,
            lot="OX1",
            actor=technician,
            when=local(site, DAY, 23, 45),
        ),
    ]
    move(site, oxy, -5, reason=MoveReason.DISPENSE, lot="OX1", actor=technician,
         when=local(site, DAY + dt.timedelta(days=1), 0, 30))  # fmt: skip
    return moves


def test_the_log_holds_the_local_days_moves_of_its_group_only(site, technician, day_moves):
    two = queries.daily_log(actor=technician, day=DAY, group="II")
    rest = queries.daily_log(actor=technician, day=DAY, group="III-V")

    assert [line.id for line in two.lines] == [day_moves[0].pk, day_moves[1].pk, day_moves[5].pk]
    assert [(line.ndc, line.quantity) for line in rest.lines] == [
        ("0228-2029-96", D(-60)),
        ("0603-1585-58", D(-120)),
    ]
    assert (two.moves, two.last_move_id) == (3, day_moves[5].pk)
    assert (rest.moves, rest.last_move_id) == (2, day_moves[3].pk)


def test_the_log_totals_each_reason_per_billing_unit(site, technician, day_moves):
    two = queries.daily_log(actor=technician, day=DAY, group="II")
    rest = queries.daily_log(actor=technician, day=DAY, group="III-V")

    assert [(t.reason, t.moves, t.quantities) for t in two.totals] == [
        ("receive", 1, [("EA", D(100))]),
        ("dispense", 2, [("EA", D(-45))]),
    ]
    assert [(t.reason, t.moves, t.quantities) for t in rest.totals] == [
        ("dispense", 2, [("EA", D(-60)), ("ML", D(-120))]),
    ]


def test_a_log_not_yet_signed_says_so(site, technician, day_moves):
    log = queries.daily_log(actor=technician, day=DAY, group="II")

    assert (log.state.state, log.state.text) == ("not_signed", "Not signed")
    assert log.signoffs == []


def test_a_pharmacist_signs_the_log_as_it_stands(site, pharmacist, day_moves):
    before = audit_count()

    signoff = services_log.daily_log_sign(
        actor=pharmacist, day=DAY, group="II", note="Counts match the Rx file."
    )

    assert (signoff.site_id, signoff.day, signoff.group) == (site.pk, DAY, "II")
    assert (signoff.moves, signoff.last_move_id) == (3, day_moves[5].pk)
    assert (signoff.signed_by, signoff.signer_name) == (pharmacist, pharmacist.display_name)
    assert signoff.note == "Counts match the Rx file."
    assert audit_count() == before + 1
    event = last_event()
    assert (event.action, event.object_id, event.actor_name) == (
        "cs.log.signed",
        str(signoff.pk),
        "rph",
    )
    assert event.data == (
        '{"activity":true,"day":"2026-03-10","group":"II","last_move_id":'
        f'{day_moves[5].pk},"moves":3}}'
    )
    log = queries.daily_log(actor=pharmacist, day=DAY, group="II")
    assert log.state.state == "signed"
    assert log.state.text == f"Signed by {pharmacist.display_name} at 03/12/2026 13:00"
    assert services_log.signoff_words(signoff) == "Schedule II log of 03/10/2026 signed: 3 moves."
    # The other group's log is its own.
    assert queries.daily_log(actor=pharmacist, day=DAY, group="III-V").state.state == "not_signed"


def test_a_move_posted_later_for_the_day_shows_the_log_changed_and_it_is_signed_again(
    site, pharmacist, pic, technician, day_moves
):
    first = services_log.daily_log_sign(actor=pharmacist, day=DAY, group="II")
    late = move(site, oxycodone(), -1, reason=MoveReason.DISPENSE, lot="OX1", actor=technician,
                when=local(site, DAY, 23, 50))  # fmt: skip

    changed = queries.daily_log(actor=pharmacist, day=DAY, group="II")
    assert changed.state.state == "changed"
    assert changed.state.text == (
        f"Changed since signed by {pharmacist.display_name} at 03/12/2026 13:00: "
        "4 moves now, 3 when signed"
    )

    second = services_log.daily_log_sign(actor=pharmacist, day=DAY, group="II")

    assert DailyLogSignoff.objects.filter(day=DAY, group="II").count() == 2
    assert (second.moves, second.last_move_id) == (4, late.pk)
    assert (first.moves, first.last_move_id) == (3, day_moves[5].pk)  # kept as it was
    log = queries.daily_log(actor=pic, day=DAY, group="II")
    assert log.state.state == "signed"
    assert [s.pk for s in log.signoffs] == [second.pk, first.pk]


def test_another_pharmacist_may_sign_the_same_log_too(site, pharmacist, pic, day_moves):
    services_log.daily_log_sign(actor=pharmacist, day=DAY, group="II")
    services_log.daily_log_sign(actor=pic, day=DAY, group="II")

    log = queries.daily_log(actor=pic, day=DAY, group="II")
    assert log.state.state == "signed"
    assert len(log.state.current) == 2


def test_the_same_pharmacist_signing_an_unchanged_log_twice_is_refused(site, pharmacist, day_moves):
    services_log.daily_log_sign(actor=pharmacist, day=DAY, group="II")
    before = (audit_count(), DailyLogSignoff.objects.count())

    with pytest.raises(Conflict) as caught:
        services_log.daily_log_sign(actor=pharmacist, day=DAY, group="II")

    assert caught.value.field == "day"
    assert (audit_count(), DailyLogSignoff.objects.count()) == before


def test_a_day_without_activity_may_be_signed_and_says_so(site, pharmacist, clock):
    signoff = services_log.daily_log_sign(actor=pharmacist, day=DAY, group="III-V")

    assert (signoff.moves, signoff.last_move_id) == (0, 0)
    assert services_log.signoff_words(signoff) == (
        "Schedules III–V log of 03/10/2026 signed: no controlled-substance activity."
    )
    log = queries.daily_log(actor=pharmacist, day=DAY, group="III-V")
    assert log.state.text == (
        f"Signed by {pharmacist.display_name} at 03/12/2026 13:00 — no controlled-substance "
        "activity"
    )
    assert '"activity":false' in last_event().data


def test_todays_log_may_be_signed_but_not_tomorrows(site, pharmacist, clock):
    today = site.today()
    assert today == dt.date(2026, 3, 12)
    services_log.daily_log_sign(actor=pharmacist, day=today, group="II")
    before = (audit_count(), DailyLogSignoff.objects.count())

    with pytest.raises(Invalid) as caught:
        services_log.daily_log_sign(actor=pharmacist, day=today + dt.timedelta(days=1), group="II")

    assert caught.value.field == "day"
    assert (audit_count(), DailyLogSignoff.objects.count()) == before


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"day": None}, "day"),
        ({"day": "03/10/2026"}, "day"),
        ({"day": "2026-02-30"}, "day"),
        ({"group": "IV"}, "group"),
        ({"group": ""}, "group"),
        ({"note": "x" * 501}, "note"),
        ({"note": "ok\x00"}, "note"),
    ],
)
def test_bad_input_names_the_field_and_writes_nothing(site, pharmacist, clock, kwargs, field):
    values = {"day": DAY, "group": "II", "note": "", **kwargs}
    before = (audit_count(), DailyLogSignoff.objects.count())

    with pytest.raises(Invalid) as caught:
        services_log.daily_log_sign(actor=pharmacist, **values)

    assert caught.value.field == field
    assert (audit_count(), DailyLogSignoff.objects.count()) == before


@pytest.mark.parametrize("who", ["technician", "inventory", "auditor", "trainee", "admin_user"])
def test_only_a_pharmacist_signs(request, site, clock, who):
    actor = request.getfixturevalue(who)
    before = (audit_count(), DailyLogSignoff.objects.count())

    with pytest.raises(Forbidden):
        services_log.daily_log_sign(actor=actor, day=DAY, group="II")

    assert (audit_count(), DailyLogSignoff.objects.count()) == before


def test_a_pharmacist_whose_license_lapsed_cannot_sign(site, pharmacist, clock):
    pharmacist.pharmacist_license_expires = dt.date(2026, 3, 1)
    pharmacist.save()

    with pytest.raises(Forbidden):
        services_log.daily_log_sign(actor=pharmacist, day=DAY, group="II")
    assert DailyLogSignoff.objects.count() == 0


def test_the_log_of_another_pharmacy_is_its_own(site, other_site, pharmacist, outsider, day_moves):
    assert queries.daily_log(actor=outsider, day=DAY, group="II").moves == 0
    services_log.daily_log_sign(actor=pharmacist, day=DAY, group="II")
    assert queries.daily_log(actor=outsider, day=DAY, group="II").signoffs == []


@pytest.mark.parametrize("who", ["trainee", "admin_user"])
def test_roles_without_cs_view_cannot_read_the_log(request, site, clock, who):
    actor = request.getfixturevalue(who)
    with pytest.raises(Forbidden):
        queries.daily_log(actor=actor, day=DAY, group="II")
    with pytest.raises(Forbidden):
        queries.unsigned_days(actor=actor)


def test_the_daily_log_csv_lists_each_move_with_its_drug(site, technician, day_moves):
    rows = queries.daily_log_csv(queries.daily_log(actor=technician, day=DAY, group="III-V"))

    lines = rows.splitlines()
    assert lines[0].startswith("Drug,NDC,Unit,Move,Date,Time,Why,")
    assert lines[1].startswith(
        f"Alprazolam 1 mg tablet,0228-2029-96,EA,{day_moves[2].pk},2026-03-10,11:00:00,"
    )
    assert len(lines) == 3


# --- Unsigned days -------------------------------------------------------------------------------


def test_unsigned_days_lists_past_days_with_moves_and_no_current_sign_off(
    site, pharmacist, technician, day_moves
):
    oxy = oxycodone()
    # Today (03/12) has a move too, but today is not over: it is not listed.
    move(site, oxy, -1, reason=MoveReason.DISPENSE, lot="OX1", actor=technician,
         when=local(site, dt.date(2026, 3, 12), 9))  # fmt: skip

    found = queries.unsigned_days(actor=technician, days=30)

    assert [(u.day, u.group, u.moves, u.state) for u in found] == [
        (dt.date(2026, 3, 11), ScheduleGroup.II, 1, "not_signed"),
        (DAY, ScheduleGroup.II, 3, "not_signed"),
        (DAY, ScheduleGroup.III_V, 2, "not_signed"),
        (DAY - dt.timedelta(days=1), ScheduleGroup.II, 2, "not_signed"),
        (DAY - dt.timedelta(days=1), ScheduleGroup.III_V, 2, "not_signed"),
    ]

    services_log.daily_log_sign(actor=pharmacist, day=DAY, group="II")
    move(site, oxy, -1, reason=MoveReason.DISPENSE, lot="OX1", actor=technician,
         when=local(site, dt.date(2026, 3, 11), 9))  # fmt: skip
    services_log.daily_log_sign(actor=pharmacist, day=dt.date(2026, 3, 11), group="II")
    services_log.daily_log_sign(actor=pharmacist, day=DAY - dt.timedelta(days=1), group="II")
    move(site, oxy, -1, reason=MoveReason.DISPENSE, lot="OX1", actor=technician,
         when=local(site, DAY - dt.timedelta(days=1), 20))  # fmt: skip

    found = queries.unsigned_days(actor=technician, days=30)

    assert [(u.day, u.group, u.moves, u.state) for u in found] == [
        (DAY, ScheduleGroup.III_V, 2, "not_signed"),
        (DAY - dt.timedelta(days=1), ScheduleGroup.II, 3, "changed"),
        (DAY - dt.timedelta(days=1), ScheduleGroup.III_V, 2, "not_signed"),
    ]


def test_unsigned_days_looks_back_only_as_far_as_asked(site, technician, day_moves):
    assert {u.day for u in queries.unsigned_days(actor=technician, days=1)} == {
        dt.date(2026, 3, 11)
    }
    assert {u.day for u in queries.unsigned_days(actor=technician, days=2)} == {
        DAY,
        dt.date(2026, 3, 11),
    }


@pytest.mark.parametrize("days", [0, 367, "x"])
def test_unsigned_days_refuses_a_bad_span(site, technician, clock, days):
    with pytest.raises(Invalid) as caught:
        queries.unsigned_days(actor=technician, days=days)
    assert caught.value.field == "days"


def test_a_group_name_is_the_choices_value(site, pharmacist, clock):
    signoff = services_log.daily_log_sign(actor=pharmacist, day=DAY, group="3-5")
    assert signoff.group == ScheduleGroup.III_V == "III-V"
