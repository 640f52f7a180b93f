"""The cleanroom's services: rooms, PECs and certifications (the pharmacist-in-charge),
samples, pressures, temperature/humidity and cleaning (technicians too), corrective actions
(pharmacists). Every broken rule names its field and writes nothing; every forbidden role
writes nothing; excursions open corrective actions."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from rxdesk.compounding import queries_cleanroom as queries
from rxdesk.compounding import services_cleanroom as services
from rxdesk.compounding.models import (
    Certification,
    CleaningLog,
    CorrectiveAction,
    EngineeringControl,
    EnvironmentalSample,
    PressureReading,
    Room,
    RoomConditions,
)
from rxdesk.core.errors import Conflict, Forbidden, Invalid, NotFound
from rxdesk.core.models import AuditEvent
from tests.compounding.factories import cleanroom, hydrocortisone_cream, vancomycin_bag
from tests.compounding.matrix_cleanroom import open_action

pytestmark = pytest.mark.django_db

D = Decimal
MODELS = (
    Room,
    EngineeringControl,
    Certification,
    EnvironmentalSample,
    PressureReading,
    RoomConditions,
    CleaningLog,
    CorrectiveAction,
)


def _kept() -> tuple[int, ...]:
    return (*(m.objects.count() for m in MODELS), AuditEvent.objects.count())


@pytest.fixture
def suite(site):
    return cleanroom(site)


@pytest.fixture
def room(suite):
    return suite[0]


@pytest.fixture
def hood(suite):
    return suite[1]


def _event(action: str) -> AuditEvent:
    return AuditEvent.objects.filter(action=action).latest("id")


# --- Rooms and PECs ---------------------------------------------------------------------


def test_the_pic_adds_a_room_whose_class_and_pressure_follow_from_its_kind(pic, site):
    room = services.room_create(actor=pic, name="  Chemo   buffer ", kind="c_sec")
    assert (room.name, room.iso_class, room.pressure, room.hazardous) == (
        "Chemo buffer",
        "7",
        "negative",
        True,
    )
    event = _event("compounding.room.created")
    assert event.object_id == str(room.pk) and event.site_id == site.pk
    ante = services.room_create(actor=pic, name="Ante", kind="ante")
    assert (ante.iso_class, ante.pressure) == ("8", "positive")


def test_a_room_that_disagrees_with_its_kind_is_refused_and_nothing_written(pic):
    before = _kept()
    with pytest.raises(Invalid) as exc:
        services.room_create(actor=pic, name="Buffer", kind="buffer", iso_class="8")
    assert exc.value.field == "iso_class" and "ISO 7" in exc.value.message
    with pytest.raises(Invalid) as exc:
        services.room_create(actor=pic, name="HD", kind="c_sec", pressure="positive")
    assert exc.value.field == "pressure"
    with pytest.raises(Invalid) as exc:
        services.room_create(actor=pic, name="", kind="buffer")
    assert exc.value.field == "name"
    assert _kept() == before


def test_room_names_are_unique_at_the_site(pic, room):
    before = _kept()
    with pytest.raises(Invalid) as exc:
        services.room_create(actor=pic, name="buffer ROOM", kind="buffer")
    assert exc.value.field == "name"
    assert _kept() == before


@pytest.mark.parametrize("persona", ["technician", "pharmacist", "auditor", "trainee"])
def test_only_the_pic_adds_a_room_or_certifies(request, persona, room, hood, site):
    actor = request.getfixturevalue(persona)
    before = _kept()
    with pytest.raises(Forbidden):
        services.room_create(actor=actor, name="Ante", kind="ante")
    with pytest.raises(Forbidden):
        services.control_create(actor=actor, room=room, name="BSC", kind="bsc2")
    with pytest.raises(Forbidden):
        services.certification_record(
            actor=actor, control=hood, certified_on=site.today(), certifier="CleanAir"
        )
    assert _kept() == before


def test_room_update_records_what_changed_and_guards_its_pecs(pic, site):
    hd = services.room_create(actor=pic, name="Chemo", kind="c_sec")
    services.control_create(actor=pic, room=hd, name="BSC 1", kind="bsc2", hazardous=True)
    services.room_update(actor=pic, room=hd, name="Chemo buffer")
    assert _event("compounding.room.updated").data == (
        '{"changed":{"name":["Chemo","Chemo buffer"]}}'
    )
    before = _kept()
    with pytest.raises(Invalid) as exc:
        services.room_update(
            actor=pic, room=hd, kind="buffer", pressure="positive", hazardous=False
        )
    assert "BSC 1" in exc.value.message
    assert _kept() == before
    hd.refresh_from_db()
    assert hd.kind == "c_sec"


def test_a_containment_pec_sits_in_a_hazardous_room(pic, room):
    before = _kept()
    with pytest.raises(Invalid) as exc:
        services.control_create(actor=pic, room=room, name="BSC", kind="bsc2", hazardous=True)
    assert exc.value.field == "room"
    with pytest.raises(Invalid) as exc:
        services.control_create(actor=pic, room=room, name="LAFW 1", kind="lafw")
    assert exc.value.field == "name"
    assert _kept() == before
    bsc = services.control_create(actor=pic, room=room, name="BSC", kind="bsc2")
    assert (bsc.iso_class, bsc.hazardous) == ("5", False)


def test_another_sites_room_is_not_found(pic, other_site):
    theirs, their_hood = cleanroom(other_site)
    before = _kept()
    with pytest.raises(NotFound):
        services.control_create(actor=pic, room=theirs, name="BSC", kind="bsc2")
    with pytest.raises(NotFound):
        services.pressure_record(actor=pic, room=theirs, reference="ante", inches_wc="0.03")
    with pytest.raises(NotFound):
        services.sample_record(
            actor=pic, kind="surface", room=None, control=their_hood, location="x", cfu=0
        )
    with pytest.raises(NotFound):
        queries.room_get(actor=pic, room_id=theirs.pk)
    assert _kept() == before


# --- Certifications ---------------------------------------------------------------------


def test_a_certification_is_due_again_in_six_months(pic, hood):
    made = services.certification_record(
        actor=pic,
        control=hood,
        certified_on=dt.date(2025, 8, 31),
        certifier="CleanAir Certifiers",
        report_reference="R-1",
    )
    cert = made.certification
    assert (cert.due_on, cert.passed, made.action) == (dt.date(2026, 2, 28), True, None)
    assert _event("compounding.certification.recorded").object_id == str(cert.pk)


def test_a_lapsed_certification_shows_overdue_on_the_board(pic, technician, site, room, hood):
    long_ago = site.today() - dt.timedelta(days=200)
    services.certification_record(actor=pic, room=room, certified_on=long_ago, certifier="A")
    services.certification_record(actor=pic, control=hood, certified_on=site.today(), certifier="A")
    board = queries.board(actor=technician)
    (row,) = board.rooms
    assert row.certification is not None
    assert row.certification.due.state == "overdue"
    assert row.controls[0].certification.due.state == "current"
    assert any(line.startswith("Buffer room: certification overdue since") for line in board.late)


def test_a_failed_certification_opens_a_corrective_action(pic, hood, site):
    made = services.certification_record(
        actor=pic,
        control=hood,
        certified_on=site.today(),
        certifier="CleanAir",
        passed=False,
        note="HEPA leak at the left corner",
    )
    assert made.action is not None
    assert made.action.source == "certification" and made.action.control == hood
    assert "HEPA leak" in made.action.problem


def test_a_certification_in_the_future_or_of_nothing_is_refused(pic, room, hood, site):
    before = _kept()
    with pytest.raises(Invalid) as exc:
        services.certification_record(
            actor=pic,
            room=room,
            certified_on=site.today() + dt.timedelta(days=1),
            certifier="A",
        )
    assert exc.value.field == "certified_on"
    with pytest.raises(Invalid) as exc:
        services.certification_record(actor=pic, certified_on=site.today(), certifier="A")
    assert exc.value.field == "room"
    with pytest.raises(Invalid) as exc:
        services.certification_record(
            actor=pic, room=room, control=hood, certified_on=site.today(), certifier="A"
        )
    assert exc.value.field == "room"
    with pytest.raises(Invalid) as exc:
        services.certification_record(actor=pic, room=room, certified_on=site.today(), certifier="")
    assert exc.value.field == "certifier"
    assert _kept() == before


# --- Samples ----------------------------------------------------------------------------


def test_an_air_sample_over_the_iso5_level_opens_an_action(technician, hood):
    sample = services.sample_record(
        actor=technician,
        kind="air",
        room=None,
        control=hood,
        location="Hood, centre",
        cfu=2,
        air_volume_liters="1000",
    )
    assert (sample.iso_class, sample.cfu_measure, sample.action_level) == ("5", D("2"), D("1"))
    assert sample.excursion and sample.room == hood.room
    action = sample.corrective_action
    assert action is not None and action.source == "sample" and action.closed_at is None
    assert "2.00 CFU/m³, above the action level of 1 CFU/m³" in action.problem
    event = _event("compounding.sample.recorded")
    assert f'"corrective_action":{action.pk}' in event.data
    assert "EXCURSION" in services.describe_sample(sample)


def test_a_sample_at_the_level_opens_none(technician, hood, room):
    at_level = services.sample_record(
        actor=technician,
        kind="air",
        room=room,
        control=hood,
        location="Hood",
        cfu=1,
        air_volume_liters="1000",
    )
    assert (at_level.cfu_measure, at_level.excursion, at_level.corrective_action) == (
        D("1"),
        False,
        None,
    )
    half = services.sample_record(
        actor=technician,
        kind="air",
        room=room,
        location="Centre of room",
        cfu=5,
        air_volume_liters="500",
    )
    assert (half.iso_class, half.cfu_measure, half.excursion) == ("7", D("10"), False)
    assert CorrectiveAction.objects.count() == 0


def test_a_highly_pathogenic_organism_at_one_cfu_opens_an_action(technician, hood):
    flagged = services.sample_record(
        actor=technician,
        kind="surface",
        room=hood.room,
        control=hood,
        location="Work surface",
        cfu=1,
        organism="Unknown",
        highly_pathogenic=True,
    )
    named = services.sample_record(
        actor=technician,
        kind="surface",
        room=hood.room,
        control=hood,
        location="Work surface",
        cfu=1,
        organism="Aspergillus sp.",
    )
    for sample in (flagged, named):
        assert sample.cfu_measure == D("1") and sample.action_level == D("3")
        assert sample.excursion and sample.highly_pathogenic
        assert sample.corrective_action is not None
    assert "highly pathogenic organism (Aspergillus sp.)" in named.corrective_action.problem


def test_bad_samples_name_their_field_and_write_nothing(technician, room, hood, pic):
    before = _kept()
    air = {"kind": "air", "room": room, "location": "x", "cfu": 1}
    surface = {"kind": "surface", "room": room, "location": "x", "cfu": 1}
    cases = [
        (air, "air_volume_liters"),
        (air | {"air_volume_liters": "0"}, "air_volume_liters"),
        (surface | {"air_volume_liters": "100"}, "air_volume_liters"),
        (surface | {"location": ""}, "location"),
        (surface | {"cfu": -1}, "cfu"),
        (surface | {"cfu": None}, "cfu"),
        (surface | {"cfu": 0, "organism": "Bacillus"}, "organism"),
        (surface | {"kind": "dust"}, "kind"),
    ]
    for values, field in cases:
        with pytest.raises(Invalid) as exc:
            services.sample_record(actor=technician, **values)
        assert field in {e["field"] for e in exc.value.errors}, (values, exc.value.errors)
    sca = services.room_create(actor=pic, name="SCA", kind="sca")
    before = _kept()
    with pytest.raises(Invalid) as exc:
        services.sample_record(actor=technician, kind="surface", room=sca, location="x", cfu=0)
    assert exc.value.field == "room" and "unclassified" in exc.value.message
    assert _kept() == before


def test_future_readings_are_refused_and_nothing_written(technician, room, hood):
    later = timezone.now() + dt.timedelta(minutes=10)
    before = _kept()
    with pytest.raises(Invalid) as exc:
        services.sample_record(
            actor=technician, kind="surface", room=room, location="x", cfu=0, sampled_at=later
        )
    assert exc.value.field == "sampled_at"
    with pytest.raises(Invalid) as exc:
        services.pressure_record(
            actor=technician, room=room, reference="ante", inches_wc="0.03", read_at=later
        )
    assert exc.value.field == "read_at"
    with pytest.raises(Invalid) as exc:
        services.conditions_record(
            actor=technician, room=room, temperature_c=19, humidity_pct=40, read_at=later
        )
    assert exc.value.field == "read_at"
    with pytest.raises(Invalid) as exc:
        services.cleaning_record(
            actor=technician,
            room=room,
            area="floors",
            kind="cleaning",
            agent="Detergent",
            performed_at=later,
        )
    assert exc.value.field == "performed_at"
    assert _kept() == before
    # Within the five minutes' grace of a clock: kept.
    services.pressure_record(
        actor=technician,
        room=room,
        reference="ante",
        inches_wc="0.03",
        read_at=timezone.now() + dt.timedelta(minutes=4),
    )


def test_a_late_entry_needs_a_note(technician, room, site):
    old = timezone.now() - dt.timedelta(days=8)
    before = _kept()
    with pytest.raises(Invalid) as exc:
        services.pressure_record(
            actor=technician, room=room, reference="ante", inches_wc="0.03", read_at=old
        )
    assert exc.value.field == "note"
    assert _kept() == before
    reading = services.pressure_record(
        actor=technician,
        room=room,
        reference="ante",
        inches_wc="0.03",
        read_at=old,
        note="Paper log typed in after the audit",
    )
    assert reading.read_at == old
    assert _event("compounding.pressure.recorded").reason == "Paper log typed in after the audit"
    # A naive time is the pharmacy's wall clock.
    local = (timezone.now() - dt.timedelta(hours=1)).astimezone(site.tz).replace(tzinfo=None)
    naive = services.conditions_record(
        actor=technician, room=room, temperature_c=19, humidity_pct=40, read_at=local
    )
    assert naive.read_at.astimezone(site.tz).replace(tzinfo=None) == local


@pytest.mark.parametrize("persona", ["trainee", "auditor", "inventory", "admin_user"])
def test_monitoring_is_refused_to_roles_without_it(request, persona, room):
    actor = request.getfixturevalue(persona)
    before = _kept()
    with pytest.raises(Forbidden):
        services.sample_record(actor=actor, kind="surface", room=room, location="x", cfu=0)
    with pytest.raises(Forbidden):
        services.pressure_record(actor=actor, room=room, reference="ante", inches_wc="0.03")
    with pytest.raises(Forbidden):
        services.conditions_record(actor=actor, room=room, temperature_c=19, humidity_pct=40)
    with pytest.raises(Forbidden):
        services.cleaning_record(
            actor=actor, room=room, area="floors", kind="cleaning", agent="Detergent"
        )
    assert _kept() == before


# --- Pressure, conditions, cleaning -----------------------------------------------------


def test_an_in_range_pressure_opens_nothing_and_out_of_range_opens_an_action(technician, room):
    ok = services.pressure_record(
        actor=technician, room=room, reference="ante-room", inches_wc="0.020"
    )
    assert ok.in_range and ok.corrective_action is None
    low = services.pressure_record(
        actor=technician, room=room, reference="ante-room", inches_wc="0.015"
    )
    assert not low.in_range and low.corrective_action is not None
    assert low.corrective_action.source == "pressure"
    assert "+0.0150 in. w.c." in low.corrective_action.problem
    assert "at least +0.020" in low.corrective_action.problem
    assert CorrectiveAction.objects.count() == 1


def test_a_hazardous_room_is_read_against_the_negative_range(pic, technician):
    chemo = services.room_create(actor=pic, name="Chemo", kind="c_sec")
    inside = services.pressure_record(
        actor=technician, room=chemo, reference="ante", inches_wc="-0.020"
    )
    outside = services.pressure_record(
        actor=technician, room=chemo, reference="ante", inches_wc="-0.040"
    )
    assert (inside.in_range, outside.in_range) == (True, False)
    with pytest.raises(Invalid) as exc:
        services.pressure_record(actor=technician, room=chemo, reference="", inches_wc="x")
    assert {e["field"] for e in exc.value.errors} == {"reference", "inches_wc"}


def test_conditions_outside_the_recommendation_open_an_action(technician, room):
    ok = services.conditions_record(
        actor=technician, room=room, temperature_c="20.0", humidity_pct="59.9"
    )
    assert ok.in_range and ok.corrective_action is None
    warm = services.conditions_record(
        actor=technician, room=room, temperature_c="21.5", humidity_pct="62"
    )
    assert not warm.in_range
    assert "recommended" in warm.corrective_action.problem
    assert "(recommended)" in services.describe_reading(warm)
    before = _kept()
    with pytest.raises(Invalid) as exc:
        services.conditions_record(
            actor=technician, room=room, temperature_c="51", humidity_pct="101"
        )
    assert {e["field"] for e in exc.value.errors} == {"temperature_c", "humidity_pct"}
    assert _kept() == before


def test_cleaning_names_its_agent_and_its_pec(technician, room, hood, pic):
    before = _kept()
    with pytest.raises(Invalid) as exc:
        services.cleaning_record(
            actor=technician, room=room, area="floors", kind="sporicidal", agent=" "
        )
    assert exc.value.field == "agent" and "sporicidal" in exc.value.message
    with pytest.raises(Invalid) as exc:
        services.cleaning_record(
            actor=technician, room=room, control=hood, area="floors", kind="cleaning", agent="D"
        )
    assert exc.value.field == "control"
    assert _kept() == before
    log = services.cleaning_record(
        actor=technician, room=room, area="pec_interior", kind="disinfecting", agent="Sterile IPA"
    )
    assert log.control == hood and log.performed_by == technician
    ante = services.room_create(actor=pic, name="Ante", kind="ante")
    with pytest.raises(Invalid) as exc:
        services.cleaning_record(
            actor=technician, room=ante, area="pec_interior", kind="cleaning", agent="D"
        )
    assert exc.value.field == "area"


# --- Corrective actions -----------------------------------------------------------------


def test_a_pharmacist_closes_an_action_and_a_technician_cannot(pharmacist, technician, site):
    action = open_action(site)
    before = _kept()
    with pytest.raises(Forbidden):
        services.action_close(actor=technician, action=action, action_taken="Fixed")
    assert _kept() == before
    with pytest.raises(Invalid) as exc:
        services.action_close(actor=pharmacist, action=action, action_taken="  ")
    assert exc.value.field == "action_taken"
    done = services.action_close(actor=pharmacist, action=action, action_taken="Door closer fixed")
    assert done.closed_by == pharmacist and done.closed_at is not None
    assert done.action_taken == "Door closer fixed"
    assert _event("compounding.action.closed").object_id == str(action.pk)
    with pytest.raises(Conflict):
        services.action_close(actor=pharmacist, action=done, action_taken="again")


def test_a_samples_action_closes_only_with_its_resample(pharmacist, technician, hood):
    sample = services.sample_record(
        actor=technician, kind="surface", room=hood.room, control=hood, location="x", cfu=9
    )
    action = sample.corrective_action
    with pytest.raises(Invalid) as exc:
        services.action_close(actor=pharmacist, action=action, action_taken="Re-cleaned")
    assert exc.value.field == "resample"
    done = services.action_close(
        actor=pharmacist,
        action=action,
        action_taken="Re-cleaned with sporicidal",
        resample="03/12: 0 CFU",
    )
    assert done.action_taken == "Re-cleaned with sporicidal\nResample: 03/12: 0 CFU"


def test_actions_of_another_site_are_not_found(pharmacist, other_site):
    theirs = open_action(other_site)
    with pytest.raises(NotFound):
        services.action_close(actor=pharmacist, action=theirs, action_taken="x")
    with pytest.raises(NotFound):
        queries.action_get(actor=pharmacist, action_id=theirs.pk)
    theirs.refresh_from_db()
    assert theirs.closed_at is None


def test_a_pharmacist_opens_an_action_by_hand(pharmacist, technician, room):
    with pytest.raises(Forbidden):
        services.action_open(actor=technician, problem="x", room=room)
    action = services.action_open(actor=pharmacist, problem="Ceiling tile loose", room=room)
    assert (action.source, action.opened_by, action.room) == ("other", pharmacist, room)
    assert _event("compounding.action.opened").object_id == str(action.pk)


# --- The board ---------------------------------------------------------------------------


def test_the_board_follows_category_3_and_shows_what_is_missing_today(
    pic, technician, pharmacist, site, room, hood
):
    board = queries.board(actor=technician)
    assert not board.category_3
    surface = next(s for s in board.sampling if s.control is None and s.kind == "surface")
    assert surface.every.words == "monthly" and surface.due.state == "never"
    spor = next(c for c in board.cleaning if c.area == "floors").cells[2]
    assert spor.every.words == "monthly"
    (row,) = board.rooms
    assert row.pressure is None and row.conditions_needed and row.conditions is None

    vancomycin_bag(site, pharmacist, approver=pic, code="CAT3").__class__.objects.filter(
        code="CAT3"
    ).update(category="3")
    services.pressure_record(actor=technician, room=room, reference="ante", inches_wc="0.03")
    services.cleaning_record(
        actor=technician, room=room, area="floors", kind="sporicidal", agent="Peracetic acid"
    )
    board = queries.board(actor=technician)
    assert board.category_3 and board.strictest == "Category 3"
    surface = next(s for s in board.sampling if s.control is None and s.kind == "surface")
    assert surface.every.words == "weekly"
    floors = next(c for c in board.cleaning if c.area == "floors")
    assert (floors.cells[2].every.words, floors.cells[2].due.state) == ("weekly", "current")
    assert floors.cells[0].due.state == "never"
    assert board.rooms[0].pressure is not None
    pec_rows = [c for c in board.cleaning if c.area == "pec_interior"]
    assert [c.control for c in pec_rows] == [hood]


def test_a_missing_log_on_a_compounding_day_is_late(pic, technician, pharmacist, site, room):
    from rxdesk.compounding.models import CompoundingRecord

    formula = hydrocortisone_cream(site, pharmacist, approver=pic)
    assert not any("not logged today" in line for line in queries.board(actor=technician).late)
    now = timezone.now()
    CompoundingRecord.objects.create(
        site=site,
        formula=formula,
        lot_number="C-1",
        quantity=D("200"),
        unit="g",
        scale=D("1"),
        category="nonsterile",
        storage="room",
        prepared_at=now,
        beyond_use=now + dt.timedelta(days=35),
        bud_rule="USP <795>",
        compounded_by=technician,
        compounded_by_name="tech",
    )
    late = queries.board(actor=technician).late
    assert "Buffer room: pressure not logged today" in late
    assert "Buffer room: temperature and humidity not logged today" in late


def test_the_board_is_refused_to_roles_without_view(trainee, inventory):
    for actor in (trainee, inventory):
        with pytest.raises(Forbidden):
            queries.board(actor=actor)
