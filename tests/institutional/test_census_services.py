"""Long-term care services (rxdesk.institutional.services_census): facilities, units and
pass times; admitting; the census state machine (every allowed and every refused change);
one current stay per patient; the administration times of an order. Each write is audited;
a broken rule and a forbidden role change nothing."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from rxdesk.core.errors import Conflict, Forbidden, Invalid, NotFound
from rxdesk.core.models import AuditEvent
from rxdesk.institutional import services_census as services
from rxdesk.institutional.choices import CensusKind, ResidentStatus
from rxdesk.institutional.models import (
    CensusEvent,
    Facility,
    OrderSchedule,
    PassTime,
    Resident,
    Unit,
)
from rxdesk.rx.choices import RxStatus
from tests.conftest import last_event
from tests.institutional.factories import facility, unit
from tests.institutional.matrix_census import admitted, patient, rx_of

pytestmark = pytest.mark.django_db


def _counts() -> tuple[int, ...]:
    return (
        Facility.objects.count(),
        Unit.objects.count(),
        PassTime.objects.count(),
        Resident.objects.count(),
        CensusEvent.objects.count(),
        OrderSchedule.objects.count(),
        AuditEvent.objects.count(),
    )


def _ago(site, **delta) -> dt.datetime:
    return dt.datetime.now(tz=site.tz) - dt.timedelta(**delta)


# --- Facilities, units, pass times ---------------------------------------------------------------


def test_the_pic_adds_and_changes_a_facility(site, pic):
    place = services.facility_save(
        actor=pic, code="maple", name=" Maple  Grove ", kind="alf", phone="(309) 555-0199"
    )
    assert (place.code, place.name, place.kind, place.phone) == (
        "MAPLE",
        "Maple Grove",
        "alf",
        "3095550199",
    )
    assert last_event().action == "institutional.facility.created"

    services.facility_save(
        actor=pic,
        facility=place,
        code="MAPLE",
        name="Maple Grove ALF",
        kind="alf",
        phone="3095550199",
    )
    place.refresh_from_db()
    assert place.name == "Maple Grove ALF"
    event = last_event()
    assert event.action == "institutional.facility.updated"
    assert "Maple Grove ALF" in event.data


def test_a_facility_code_is_unique_and_closing_needs_no_residents(site, pic):
    r = admitted(site)
    before = _counts()
    with pytest.raises(Conflict) as exc:
        services.facility_save(actor=pic, code="OAK", name="Other", kind="snf")
    assert exc.value.field == "code"
    with pytest.raises(Conflict) as exc:
        services.facility_save(
            actor=pic, facility=r.facility, code="OAK", name="Oakwood", kind="snf", active=False
        )
    assert exc.value.field == "active"
    with pytest.raises(Invalid) as exc:
        services.facility_save(actor=pic, code="X", name="X", kind="castle")
    assert exc.value.field == "kind"
    with pytest.raises(Invalid) as exc:
        services.facility_save(actor=pic, code="X", name="X", kind="snf", phone="555")
    assert exc.value.field == "phone"
    assert _counts() == before


@pytest.mark.parametrize("who", ["technician", "pharmacist", "auditor", "inventory", "trainee"])
def test_only_the_pic_sets_up_facilities(site, request, who):
    actor = request.getfixturevalue(who)
    place = facility(site)
    before = _counts()
    with pytest.raises(Forbidden):
        services.facility_save(actor=actor, code="NEW", name="New", kind="snf")
    with pytest.raises(Forbidden):
        services.unit_save(actor=actor, facility=place, code="2E", name="2 East")
    with pytest.raises(Forbidden):
        services.pass_times_set(
            actor=actor, facility=place, times=[{"time": "09:00", "slot": "morning"}]
        )
    assert _counts() == before


def test_units_are_unique_per_facility(site, pic):
    place = facility(site)
    u = services.unit_save(actor=pic, facility=place, code="2e", name="Second east")
    assert (u.code, last_event().action) == ("2E", "institutional.unit.created")
    with pytest.raises(Conflict) as exc:
        services.unit_save(actor=pic, facility=place, code="2E", name="Again")
    assert exc.value.field == "code"


def test_another_pharmacys_facility_does_not_exist(site, other_site, pic):
    theirs = facility(other_site)
    with pytest.raises(NotFound):
        services.unit_save(actor=pic, facility=theirs, code="2E", name="x")
    with pytest.raises(NotFound):
        services.pass_times_set(
            actor=pic, facility=theirs, times=[{"time": "09:00", "slot": "morning"}]
        )


def test_pass_times_replace_the_set(site, pic):
    place = facility(site)
    rows = services.pass_times_set(
        actor=pic,
        facility=place,
        times=[
            {"time": "21:00", "slot": "bedtime", "label": "HS"},
            {"time": "9:00", "slot": "morning"},
        ],
    )
    assert [(f"{p.time:%H:%M}", p.slot, p.label) for p in rows] == [
        ("09:00", "morning", ""),
        ("21:00", "bedtime", "HS"),
    ]
    event = last_event()
    assert event.action == "institutional.pass_times.set"
    assert '"08:00"' in event.data and '"09:00"' in event.data


@pytest.mark.parametrize(
    ("times", "field"),
    [
        ([], "times"),
        ([{"time": "25:00", "slot": "morning"}], "times[0].time"),
        (
            [{"time": "08:00", "slot": "morning"}, {"time": "08:00", "slot": "noon"}],
            "times[1].time",
        ),
        ([{"time": "08:00", "slot": "brunch"}], "times[0].slot"),
        ([{"time": "08:00", "slot": "morning", "label": "x" * 31}], "times[0].label"),
        (["08:00"], "times[0]"),
    ],
)
def test_bad_pass_times_are_refused_naming_the_row(site, pic, times, field):
    place = facility(site)
    before = _counts()
    with pytest.raises(Invalid) as exc:
        services.pass_times_set(actor=pic, facility=place, times=times)
    assert exc.value.field == field
    assert _counts() == before


def test_a_pass_time_in_use_is_not_dropped(site, pic, technician):
    r = admitted(site)
    rx = rx_of(r)
    services.order_schedule_set(
        actor=technician, resident=r, prescription=rx, times=["08:00", "17:00"], dose="1"
    )
    with pytest.raises(Conflict) as exc:
        services.pass_times_set(
            actor=pic, facility=r.facility, times=[{"time": "08:00", "slot": "morning"}]
        )
    assert "17:00" in exc.value.message and exc.value.field == "times"
    assert PassTime.objects.filter(facility=r.facility).count() == 4


# --- Admitting --------------------------------------------------------------------------------


def test_a_technician_admits_a_patient(site, technician):
    place = facility(site)
    who = patient(site)
    r = services.resident_admit(
        actor=technician, facility=place, patient=who, unit=unit(place), room="104", bed="B"
    )
    assert (r.status, r.room, r.bed, r.admitted_on) == (
        ResidentStatus.ADMITTED,
        "104",
        "B",
        site.today(),
    )
    [event] = r.census.all()
    assert (event.kind, event.to_room, event.recorded_by) == (CensusKind.ADMIT, "104", technician)
    audit = last_event()
    assert (audit.action, audit.patient_id) == ("institutional.resident.admitted", who.pk)


def test_a_patient_living_elsewhere_is_refused_saying_where(site, technician):
    r = admitted(site)
    other = facility(site, code="ELM", name="Elm House")
    before = _counts()
    with pytest.raises(Conflict) as exc:
        services.resident_admit(actor=technician, facility=other, patient=r.patient, room="1")
    assert exc.value.field == "patient"
    assert exc.value.message == (
        "Lucia Diaz is a resident of Oakwood Care Center (room 101): "
        "record the discharge there first."
    )
    assert _counts() == before


def test_a_patient_discharged_from_here_is_readmitted_not_admitted_again(site, technician):
    r = admitted(site)
    services.census_record(actor=technician, resident=r, kind="discharge")
    with pytest.raises(Conflict) as exc:
        services.resident_admit(actor=technician, facility=r.facility, patient=r.patient, room="1")
    assert "readmission" in exc.value.message
    assert exc.value.extra["resident_id"] == r.pk


def test_admit_checks_its_inputs(site, technician, other_site):
    place = facility(site)
    elsewhere = facility(site, code="ELM", name="Elm House")
    before = _counts()
    with pytest.raises(Invalid) as exc:
        services.resident_admit(actor=technician, facility=place, patient=patient(site), room="")
    assert exc.value.field == "room"
    with pytest.raises(Invalid) as exc:
        services.resident_admit(
            actor=technician, facility=place, patient=patient(site), room="1", unit=unit(elsewhere)
        )
    assert exc.value.field == "unit"
    with pytest.raises(Invalid) as exc:
        services.resident_admit(
            actor=technician,
            facility=place,
            patient=patient(site),
            room="1",
            admitted_at=dt.datetime.now(tz=site.tz) + dt.timedelta(days=1),
        )
    assert exc.value.field == "admitted_at"
    with pytest.raises(NotFound) as exc:
        services.resident_admit(
            actor=technician, facility=place, patient=patient(other_site), room="1"
        )
    assert exc.value.field == "patient"
    assert Resident.objects.count() == before[3]


@pytest.mark.parametrize("who", ["trainee", "auditor", "inventory"])
def test_roles_without_census_admit_nobody(site, request, who):
    place = facility(site)
    p = patient(site)
    before = _counts()
    with pytest.raises(Forbidden):
        services.resident_admit(
            actor=request.getfixturevalue(who), facility=place, patient=p, room="1"
        )
    assert _counts() == before


# --- The census state machine -----------------------------------------------------------------

ALLOWED = [
    # (status before, kind, status after)
    ("admitted", "discharge", "discharged"),
    ("admitted", "leave", "leave"),
    ("admitted", "room_move", "admitted"),
    ("leave", "return", "admitted"),
    ("leave", "discharge", "discharged"),
    ("discharged", "readmit", "admitted"),
]
REFUSED = [
    (
        "admitted",
        "return",
        "Lucia Diaz is in the facility, not on leave: there is no return to record.",
    ),
    ("admitted", "readmit", "Lucia Diaz is in the facility: a readmission follows a discharge."),
    (
        "admitted",
        "admit",
        "Lucia Diaz is already a resident here: a resident who was discharged is readmitted.",
    ),
    ("leave", "leave", "Lucia Diaz is on leave of absence: record her return first."),
    ("leave", "room_move", "Lucia Diaz is on leave of absence: record her return first."),
    ("leave", "readmit", "Lucia Diaz is on leave of absence: record her return first."),
    ("discharged", "discharge", "Lucia Diaz was discharged on {day}: record a readmission first."),
    ("discharged", "leave", "Lucia Diaz was discharged on {day}: record a readmission first."),
    ("discharged", "return", "Lucia Diaz was discharged on {day}: record a readmission first."),
    ("discharged", "room_move", "Lucia Diaz was discharged on {day}: record a readmission first."),
]


def _in_state(site, technician, status: str) -> Resident:
    r = admitted(site)
    if status == "leave":
        services.census_record(
            actor=technician, resident=r, kind="leave", effective_at=_ago(site, days=2)
        )
    elif status == "discharged":
        services.census_record(
            actor=technician, resident=r, kind="discharge", effective_at=_ago(site, days=2)
        )
    r.refresh_from_db()
    assert r.status == status
    return r


@pytest.mark.parametrize(("status", "kind", "after"), ALLOWED)
def test_allowed_census_changes(site, technician, status, kind, after):
    r = _in_state(site, technician, status)
    event = services.census_record(
        actor=technician, resident=r, kind=kind, to_room="220" if kind == "room_move" else ""
    )
    r.refresh_from_db()
    assert r.status == after
    assert event.kind == kind and event.recorded_by == technician
    audit = last_event()
    assert (audit.action, audit.patient_id) == ("institutional.census.recorded", r.patient_id)
    if kind == "discharge":
        assert r.discharged_on == site.today()
    if kind == "readmit":
        assert r.discharged_on is None
    if kind == "room_move":
        assert (r.room, event.from_room, event.to_room) == ("220", "101", "220")


@pytest.mark.parametrize(("status", "kind", "message"), REFUSED)
def test_refused_census_changes_name_the_kind(site, technician, status, kind, message):
    r = _in_state(site, technician, status)
    before = _counts()
    with pytest.raises(Conflict) as exc:
        services.census_record(actor=technician, resident=r, kind=kind, to_room="220")
    day = (site.today() - dt.timedelta(days=2)).strftime("%m/%d/%Y")
    assert exc.value.message == message.format(day=day)
    assert exc.value.field == "kind"
    assert _counts() == before
    r.refresh_from_db()
    assert r.status == status


def test_a_readmission_is_refused_while_the_patient_lives_elsewhere(site, technician):
    r = _in_state(site, technician, "discharged")
    elm = facility(site, code="ELM", name="Elm House")
    services.resident_admit(actor=technician, facility=elm, patient=r.patient, room="7")
    with pytest.raises(Conflict) as exc:
        services.census_record(actor=technician, resident=r, kind="readmit")
    assert exc.value.field == "patient"
    assert "Elm House (room 7)" in exc.value.message
    r.refresh_from_db()
    assert r.status == ResidentStatus.DISCHARGED
    assert Resident.objects.filter(patient=r.patient).exclude(status="discharged").count() == 1


def test_census_inputs_are_checked(site, technician):
    r = admitted(site)
    last = r.census.get().effective_at
    before = _counts()
    cases = [
        ({"kind": "vacation"}, "kind"),
        ({"kind": "leave", "effective_at": last - dt.timedelta(hours=1)}, "effective_at"),
        (
            {"kind": "leave", "effective_at": dt.datetime.now(tz=site.tz) + dt.timedelta(hours=2)},
            "effective_at",
        ),
        (
            {"kind": "leave", "expected_return": site.today() - dt.timedelta(days=1)},
            "expected_return",
        ),
        ({"kind": "discharge", "expected_return": site.today()}, "expected_return"),
        ({"kind": "leave", "to_room": "300"}, "to_room"),
        ({"kind": "room_move", "to_room": "101"}, "to_room"),
        ({"kind": "room_move", "to_room": "x" * 11}, "to_room"),
        ({"kind": "leave", "note": "x" * 301}, "note"),
    ]
    for kwargs, field in cases:
        with pytest.raises(Invalid) as exc:
            services.census_record(actor=technician, resident=r, **kwargs)
        assert exc.value.field == field, kwargs
    assert _counts() == before


def test_a_move_to_another_facilitys_unit_is_refused(site, technician):
    r = admitted(site)
    elm = facility(site, code="ELM", name="Elm House")
    with pytest.raises(Invalid) as exc:
        services.census_record(
            actor=technician, resident=r, kind="room_move", to_unit=unit(elm), to_room="2"
        )
    assert exc.value.field == "to_unit"


@pytest.mark.parametrize("who", ["trainee", "auditor", "inventory"])
def test_roles_without_census_record_nothing(site, request, who):
    r = admitted(site)
    before = _counts()
    with pytest.raises(Forbidden):
        services.census_record(actor=request.getfixturevalue(who), resident=r, kind="leave")
    assert _counts() == before


def test_another_pharmacys_resident_does_not_exist(site, other_site, outsider):
    r = admitted(site)
    with pytest.raises(NotFound):
        services.census_record(actor=outsider, resident=r, kind="leave")


# --- Administration times ---------------------------------------------------------------------


def test_times_are_set_then_changed_with_before_and_after(site, technician):
    r = admitted(site)
    rx = rx_of(r)
    s = services.order_schedule_set(
        actor=technician, resident=r, prescription=rx, times=["17:00", "8:00"], dose="1"
    )
    assert (s.times, s.dose, s.prn, s.start_on) == (
        ["08:00", "17:00"],
        Decimal("1.000"),
        False,
        site.today(),
    )
    event = last_event()
    assert (event.action, event.patient_id) == ("institutional.schedule.set", r.patient_id)
    assert '"before":null' in event.data

    services.order_schedule_set(
        actor=technician, resident=r, prescription=rx, times=["08:00"], dose="0.5"
    )
    s.refresh_from_db()
    assert (s.times, s.dose) == (["08:00"], Decimal("0.500"))
    event = last_event()
    assert '"times":["08:00","17:00"]' in event.data and '"times":["08:00"]' in event.data

    count = AuditEvent.objects.count()
    services.order_schedule_set(
        actor=technician, resident=r, prescription=rx, times=["08:00"], dose="0.5"
    )
    assert AuditEvent.objects.count() == count  # nothing changed, nothing written


def test_a_prn_order_has_no_times_and_a_most_per_day(site, technician):
    r = admitted(site)
    rx = rx_of(r, directions="1 T PO Q6H PRN")
    s = services.order_schedule_set(
        actor=technician,
        resident=r,
        prescription=rx,
        times=[],
        dose="1",
        prn=True,
        prn_max_per_day="4",
    )
    assert (s.times, s.prn, s.prn_max_per_day) == ([], True, Decimal("4.000"))


def test_schedule_rules(site, technician, other_site):
    r = admitted(site)
    rx = rx_of(r)
    stranger = rx_of(admitted(site, who=patient(site, "Ann", "Lee"), room="102"))
    held = rx_of(r)
    held.status = RxStatus.INACTIVE
    held.save()
    before = _counts()
    cases = [
        ({"prescription": rx, "times": ["09:00"], "dose": "1"}, Invalid, "times[0]"),
        ({"prescription": rx, "times": ["08:00", "08:00"], "dose": "1"}, Invalid, "times[1]"),
        ({"prescription": rx, "times": [], "dose": "1"}, Invalid, "times"),
        ({"prescription": rx, "times": ["08:00"], "dose": "1", "prn": True}, Invalid, "times"),
        ({"prescription": rx, "times": ["08:00"], "dose": "0"}, Invalid, "dose"),
        ({"prescription": rx, "times": ["08:00"], "dose": "-1"}, Invalid, "dose"),
        ({"prescription": rx, "times": ["08:00"], "dose": "abc"}, Invalid, "dose"),
        ({"prescription": rx, "times": ["08:00"], "dose": "1.0001"}, Invalid, "dose"),
        (
            {"prescription": rx, "times": ["08:00"], "dose": "1", "prn_max_per_day": "4"},
            Invalid,
            "prn_max_per_day",
        ),
        (
            {
                "prescription": rx,
                "times": ["08:00"],
                "dose": "1",
                "start_on": site.today(),
                "stop_on": site.today() - dt.timedelta(days=1),
            },
            Invalid,
            "stop_on",
        ),
        ({"prescription": stranger, "times": ["08:00"], "dose": "1"}, Invalid, "prescription"),
        ({"prescription": held, "times": ["08:00"], "dose": "1"}, Invalid, "prescription"),
        ({"prescription": rx, "times": "08:00", "dose": "1"}, Invalid, "times"),
    ]
    for kwargs, error, field in cases:
        with pytest.raises(error) as exc:
            services.order_schedule_set(actor=technician, resident=r, **kwargs)
        assert exc.value.field == field, kwargs
    assert _counts() == before


def test_a_discharged_residents_orders_are_not_scheduled(site, technician):
    r = admitted(site)
    rx = rx_of(r)
    services.census_record(actor=technician, resident=r, kind="discharge")
    with pytest.raises(Conflict) as exc:
        services.order_schedule_set(
            actor=technician, resident=r, prescription=rx, times=["08:00"], dose="1"
        )
    assert exc.value.field == "resident"


@pytest.mark.parametrize("who", ["trainee", "auditor", "inventory"])
def test_roles_without_census_set_no_times(site, request, who):
    r = admitted(site)
    rx = rx_of(r)
    before = _counts()
    with pytest.raises(Forbidden):
        services.order_schedule_set(
            actor=request.getfixturevalue(who),
            resident=r,
            prescription=rx,
            times=["08:00"],
            dose="1",
        )
    assert _counts() == before


def test_the_mar_opening_is_a_phi_access(site, technician, auditor):
    r = admitted(site)
    services.mar_printed(actor=technician, resident=r, month=dt.date(2026, 2, 1), output="pdf")
    event = last_event()
    assert (event.action, event.patient_id) == ("institutional.mar.printed", r.patient_id)
    assert '"month":"2026-02"' in event.data
    with pytest.raises(Forbidden):
        services.mar_printed(actor=auditor, resident=r, month=dt.date(2026, 2, 1), output="pdf")
