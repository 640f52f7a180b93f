"""Compounding records through the services: starting one takes each component's lot out of
stock (first expiry first out, or the lot scanned) and computes the BUD by rule; a record is
refused — with nothing written — for lapsed competency, an expired, recalled or short lot, a
draft formula, an uncertified hood, an opened source past its in-use time; measuring,
checking, submitting, verifying (by a second person, a pharmacist) and rejecting."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import transaction
from django.utils import timezone

from rxdesk.compounding import competency
from rxdesk.compounding import services_records as services
from rxdesk.compounding.choices import RecordStatus
from rxdesk.compounding.models import (
    Certification,
    CompetencyResult,
    CompoundingRecord,
    CompoundingSettings,
    EngineeringControl,
    QualityCheck,
    RecordComponent,
)
from rxdesk.compounding.queries_records import records_using_lot
from rxdesk.core.errors import Conflict, Forbidden, Invalid, NotFound
from rxdesk.core.models import AuditEvent
from rxdesk.inventory import ledger
from rxdesk.inventory.choices import LotStatus, MoveReason
from rxdesk.inventory.models import StockBalance, StockMove
from tests.compounding.factories import (
    competent,
    hc_25,
    hydrocortisone_cream,
    vancomycin_bag,
)
from tests.compounding.matrix_records import (
    bench,
    certified_hood,
    checker_of,
    evaluator_of,
    maker_of,
    measured,
    qualified,
    staff,
    started,
    submitted,
    verified,
)
from tests.factories import PatientFactory
from tests.inventory.factories import stock

pytestmark = pytest.mark.django_db


def _kept() -> tuple[int, int, int, int, int]:
    return (
        CompoundingRecord.objects.count(),
        RecordComponent.objects.count(),
        QualityCheck.objects.count(),
        StockMove.objects.count(),
        AuditEvent.objects.count(),
    )


def _on_hand(site, number: str) -> Decimal:
    return StockBalance.objects.get(site=site, lot__number=number).on_hand


def _refused(exc_type, call, **kwargs):
    before = _kept()
    with pytest.raises(exc_type) as e:
        call(**kwargs)
    assert _kept() == before
    return e.value


# --- Starting a record ------------------------------------------------------------------------


def test_a_record_takes_its_components_from_stock_and_gets_a_bud_by_rule(site):
    tech = maker_of(site)
    the_bench = bench(site)
    events = AuditEvent.objects.count()

    record = services.record_start(
        actor=tech, formula=the_bench["hc"], quantity=Decimal("100"), unit="g"
    )

    local = record.prepared_at.astimezone(site.tz)
    assert record.status == RecordStatus.IN_PROGRESS
    assert record.lot_number == f"C{local:%y%m%d}-001"
    assert (record.quantity, record.unit, record.scale) == (Decimal("100"), "g", Decimal("0.5"))
    assert record.compounded_by == tech and record.compounded_by_name == "Maria Lopez"
    assert record.beyond_use == record.prepared_at + dt.timedelta(days=35)
    assert record.bud_rule == (
        "USP <795> Table 4: aqueous (water activity ≥ 0.60), preserved, room temperature: "
        "35 days from compounding"
    )
    assert record.limited_by_component is False
    assert record.calculations[0] == {
        "label": "Scale factor",
        "expression": "100 g ÷ 200 g",
        "result": "0.5",
    }
    rows = list(record.components.order_by("position"))
    assert [(c.position, c.lot_number, c.required_quantity, c.stock_quantity) for c in rows] == [
        (1, "HC25-A", Decimal("25"), Decimal("25")),
        (2, "HC05-A", Decimal("75"), Decimal("75")),
    ]
    assert rows[0].manufacturer == hc_25().product.labeler
    assert rows[0].expiry == dt.date(2030, 12, 31)
    moves = StockMove.objects.filter(
        reference_type="compounding_record", reference_id=str(record.pk)
    ).order_by("pk")
    assert [(m.reason, m.quantity) for m in moves] == [
        (MoveReason.COMPOUND, Decimal("-25")),
        (MoveReason.COMPOUND, Decimal("-75")),
    ]
    assert [c.stock_move_id for c in rows] == [m.pk for m in moves]
    assert (_on_hand(site, "HC25-A"), _on_hand(site, "HC05-A")) == (975, 925)
    assert ledger.ledger_verify(site_id=site.pk) == (4, [])
    event = AuditEvent.objects.order_by("-pk").first()
    assert AuditEvent.objects.count() == events + 1
    assert event.action == "compounding.record.started"
    assert event.object_id == str(record.pk)


def test_the_internal_lot_number_counts_up_through_the_day(site):
    first = started(site)
    second = started(site)
    assert second.lot_number == first.lot_number[:-3] + "002"


def test_a_person_whose_media_fill_lapsed_cannot_compound_category_2(site):
    bench(site)
    tech = staff(site, "maria", first_name="Maria", last_name="Lopez")
    competent(tech, "2", evaluator=evaluator_of(site), on=site.today() - dt.timedelta(days=200))
    media_fill = CompetencyResult.objects.get(person=tech, kind="media_fill")
    due = competency.add_months(media_fill.performed_on, 6)

    error = _refused(
        Invalid,
        services.record_start,
        actor=tech,
        formula=bench(site)["vanco"],
        quantity="1",
        unit="bag",
        control=bench(site)["hood"],
    )

    assert error.field == "compounded_by"
    assert error.message.startswith("Maria Lopez cannot compound Category 2: ")
    assert f"media-fill test lapsed on {due:%m/%d/%Y} (every 6 months for Category 2)" in (
        error.message
    )


def test_a_person_with_no_competency_on_file_is_refused_and_told_what_is_missing(site):
    bench(site)
    newcomer = staff(site, "newcomer", first_name="Sam", last_name="Park")

    error = _refused(
        Invalid,
        services.record_start,
        actor=newcomer,
        formula=bench(site)["hc"],
        quantity="100",
        unit="g",
    )

    assert error.field == "compounded_by"
    assert error.message == (
        "Sam Park cannot compound nonsterile preparations: has no nonsterile compounding "
        "training (didactic and test) on file; has no hand hygiene and garbing (nonsterile) "
        "on file."
    )


def test_the_person_compounding_may_be_another_competent_colleague(site):
    bench(site)
    rph = checker_of(site)
    record = services.record_start(
        actor=rph, formula=bench(site)["hc"], quantity="100", unit="g", compounded_by=maker_of(site)
    )
    assert record.compounded_by == maker_of(site)


def test_the_person_compounding_must_be_of_this_pharmacy_and_may_compound(site, other_site):
    bench(site)
    stranger = qualified(staff(other_site, "stranger"), "nonsterile")
    error = _refused(
        NotFound,
        services.record_start,
        actor=maker_of(site),
        formula=bench(site)["hc"],
        quantity="100",
        unit="g",
        compounded_by=stranger,
    )
    assert error.field == "compounded_by"
    clerk = qualified(staff(site, "clerk", role="inventory_specialist"), "nonsterile")
    error = _refused(
        Invalid,
        services.record_start,
        actor=maker_of(site),
        formula=bench(site)["hc"],
        quantity="100",
        unit="g",
        compounded_by=clerk,
    )
    assert error.field == "compounded_by" and "does not compound" in error.message


def test_a_draft_formula_is_refused(site):
    bench(site)
    draft = hydrocortisone_cream(site, evaluator_of(site), code="HCDRAFT")

    error = _refused(
        Invalid,
        services.record_start,
        actor=maker_of(site),
        formula=draft,
        quantity="100",
        unit="g",
    )

    assert error.field == "formula"
    assert "is a draft" in error.message and "pharmacist-in-charge approves" in error.message


def test_a_retired_formula_points_to_the_approved_version(site):
    bench(site)
    old = hydrocortisone_cream(site, evaluator_of(site), code="HC1CR", version=0)
    old.status = "retired"
    old.save()
    error = _refused(
        Invalid, services.record_start, actor=maker_of(site), formula=old, quantity="1", unit="g"
    )
    assert error.field == "formula" and error.message.endswith("Use version 1.")


def test_another_pharmacys_formula_does_not_exist_here(site, other_site):
    bench(site)
    theirs = hydrocortisone_cream(other_site, evaluator_of(site), approver=evaluator_of(site))
    error = _refused(
        NotFound,
        services.record_start,
        actor=maker_of(site),
        formula=theirs,
        quantity="100",
        unit="g",
    )
    assert error.field == "formula"


def test_fefo_takes_the_earliest_expiring_lot_first_across_lots(site):
    the_bench = bench(site)
    soon = site.today() + dt.timedelta(days=60)
    stock(site, hc_25(), "HC25-SOON", 10, soon)

    record = services.record_start(
        actor=maker_of(site), formula=the_bench["hc"], quantity="100", unit="g"
    )

    rows = list(record.components.filter(position=1).order_by("pk"))
    assert [(c.lot_number, c.required_quantity) for c in rows] == [
        ("HC25-SOON", Decimal("10")),
        ("HC25-A", Decimal("15")),
    ]
    assert (_on_hand(site, "HC25-SOON"), _on_hand(site, "HC25-A")) == (0, 985)
    assert record.limited_by_component is False


def test_a_scanned_lot_is_honoured_over_fefo(site):
    the_bench = bench(site)
    stock(site, hc_25(), "HC25-SOON", 100, site.today() + dt.timedelta(days=60))

    record = services.record_start(
        actor=maker_of(site),
        formula=the_bench["hc"],
        quantity="100",
        unit="g",
        lots={1: "hc25-a"},
    )

    assert list(record.components.filter(position=1).values_list("lot_number", flat=True)) == [
        "HC25-A"
    ]
    assert _on_hand(site, "HC25-SOON") == 100


def _gtin14(body13: str) -> str:
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body13)))
    return body13 + str((10 - total % 10) % 10)


def test_a_gs1_barcode_scan_gives_its_lot(site):
    the_bench = bench(site)
    stock(site, hc_25(), "HC25-B", 100, dt.date(2031, 6, 30))
    code = f"(01){_gtin14('0037000010101')}(17)310630(10)HC25-B"

    record = services.record_start(
        actor=maker_of(site), formula=the_bench["hc"], quantity="100", unit="g", lots={1: code}
    )

    assert record.components.get(position=1).lot_number == "HC25-B"


def test_a_near_expiry_component_limits_the_bud_and_says_so(site):
    the_bench = bench(site)
    near = site.today() + dt.timedelta(days=3)
    stock(site, hc_25(), "HC25-NEAR", 100, near)

    record = services.record_start(
        actor=maker_of(site), formula=the_bench["hc"], quantity="100", unit="g"
    )

    assert record.limited_by_component is True
    assert record.beyond_use == dt.datetime.combine(near, dt.time(23, 59), tzinfo=site.tz)
    assert record.bud_rule.endswith(f"; limited by the earliest component expiry, {near}")


def test_an_expired_lot_scanned_is_refused_naming_its_position(site):
    the_bench = bench(site)
    gone = site.today() - dt.timedelta(days=1)
    stock(site, hc_25(), "HC25-OLD", 100, gone)

    error = _refused(
        Invalid,
        services.record_start,
        actor=maker_of(site),
        formula=the_bench["hc"],
        quantity="100",
        unit="g",
        lots={1: "HC25-OLD"},
    )

    assert error.field == "lots[1]"
    assert error.message.startswith(f"Lot HC25-OLD expired on {gone:%m/%d/%Y}.")


def test_only_expired_stock_leaves_nothing_to_take(site):
    the_bench = bench(site)
    gone = site.today() - dt.timedelta(days=1)
    StockBalance.objects.filter(site=site, lot__number="HC25-A").update(on_hand=0)
    stock(site, hc_25(), "HC25-OLD", 100, gone)

    error = _refused(
        Invalid,
        services.record_start,
        actor=maker_of(site),
        formula=the_bench["hc"],
        quantity="100",
        unit="g",
    )

    assert error.field == "quantity"
    assert "Only 0 g of Hydrocortisone 2.5 % cream can be used here" in error.message
    assert f"Lot HC25-OLD expired on {gone:%m/%d/%Y}." in error.message


def _recall(site, number: str) -> None:
    balance = StockBalance.objects.get(site=site, lot__number=number)
    with transaction.atomic():
        ledger.status_set(balance=balance, status=LotStatus.RECALLED, reason="FDA recall Z-123")


def test_a_recalled_lot_is_refused_scanned_or_not(site):
    the_bench = bench(site)
    _recall(site, "HC25-A")

    scanned = _refused(
        Invalid,
        services.record_start,
        actor=maker_of(site),
        formula=the_bench["hc"],
        quantity="100",
        unit="g",
        lots={1: "HC25-A"},
    )
    fefo = _refused(
        Invalid,
        services.record_start,
        actor=maker_of(site),
        formula=the_bench["hc"],
        quantity="100",
        unit="g",
    )

    assert scanned.field == "lots[1]" and "Lot HC25-A is recalled (FDA recall Z-123)" in (
        scanned.message
    )
    assert fefo.field == "quantity" and "recalled" in fefo.message


def test_short_stock_is_refused_and_nothing_moves(site):
    the_bench = bench(site)

    error = _refused(
        Invalid,
        services.record_start,
        actor=maker_of(site),
        formula=the_bench["hc"],
        quantity="10000",
        unit="g",
    )

    assert error.field == "quantity"
    assert error.message.startswith(
        "Only 1000 g of Hydrocortisone 2.5 % cream can be used here (in date and available); "
        "2500 g needed."
    )
    assert _on_hand(site, "HC25-A") == 1000


def test_a_scanned_lot_that_is_short_is_refused(site):
    the_bench = bench(site)
    stock(site, hc_25(), "HC25-TINY", 5, dt.date(2031, 1, 1))
    error = _refused(
        Invalid,
        services.record_start,
        actor=maker_of(site),
        formula=the_bench["hc"],
        quantity="100",
        unit="g",
        lots={1: "HC25-TINY"},
    )
    assert error.field == "lots[1]" and error.message.startswith("Only 5 GM of lot HC25-TINY")


def test_a_lot_of_another_product_is_not_in_stock_for_the_ingredient(site):
    the_bench = bench(site)
    error = _refused(
        Invalid,
        services.record_start,
        actor=maker_of(site),
        formula=the_bench["hc"],
        quantity="100",
        unit="g",
        lots={1: "HC05-A"},
    )
    assert error.field == "lots[1]"
    assert error.message == "Lot HC05-A of Hydrocortisone 2.5 % cream is not in stock here."


@pytest.mark.parametrize(
    ("over", "field"),
    [
        ({"quantity": "0"}, "quantity"),
        ({"unit": "mL"}, "unit"),
        ({"lots": {9: "X"}}, "lots[9]"),
        ({"prepared_at": "2026-01-05"}, "prepared_at"),
    ],
)
def test_bad_input_names_the_field_and_writes_nothing(site, over, field):
    bench(site)
    before = _kept()
    with pytest.raises(Invalid) as e:
        started(site, **over)
    assert e.value.field == field
    assert _kept() == before


def test_the_preparation_time_is_now_or_earlier_today(site):
    bench(site)
    future = timezone.now() + dt.timedelta(minutes=30)
    error = _refused(
        Invalid,
        services.record_start,
        actor=maker_of(site),
        formula=bench(site)["hc"],
        quantity="100",
        unit="g",
        prepared_at=future,
    )
    assert error.field == "prepared_at" and "has not come yet" in error.message
    error = _refused(
        Invalid,
        services.record_start,
        actor=maker_of(site),
        formula=bench(site)["hc"],
        quantity="100",
        unit="g",
        prepared_at=timezone.now() - dt.timedelta(hours=25),
    )
    assert "more than 24 hours ago" in error.message
    earlier = timezone.now() - dt.timedelta(hours=2)
    record = started(site, prepared_at=earlier)
    assert record.prepared_at == earlier
    assert record.beyond_use == earlier + dt.timedelta(days=35)


def test_a_trainee_cannot_start_a_record(site, trainee):
    bench(site)
    error = _refused(
        Forbidden,
        services.record_start,
        actor=trainee,
        formula=bench(site)["hc"],
        quantity="100",
        unit="g",
    )
    assert "compounding.make" in error.message


# --- Sterile: the hood, sources, HD ------------------------------------------------------------


def test_a_category_2_bag_in_a_certified_hood(site):
    the_bench = bench(site)

    record = services.record_start(
        actor=maker_of(site),
        formula=the_bench["vanco"],
        quantity="2",
        unit="bag",
        control=the_bench["hood"],
    )

    assert record.control == the_bench["hood"] and record.room == the_bench["hood"].room
    assert record.beyond_use == record.prepared_at + dt.timedelta(days=10)
    assert "Category 2 (Table 13)" in record.bud_rule and "refrigerator: 10 days" in record.bud_rule
    rows = list(record.components.order_by("position"))
    assert [(c.lot_number, c.stock_quantity, c.required_quantity, c.unit) for c in rows] == [
        ("VAN-A", Decimal("2"), Decimal("2"), "each"),
        ("NS-A", Decimal("500"), Decimal("500"), "mL"),
    ]


def test_a_sterile_category_needs_a_hood(site):
    the_bench = bench(site)
    error = _refused(
        Invalid,
        services.record_start,
        actor=maker_of(site),
        formula=the_bench["vanco"],
        quantity="1",
        unit="bag",
    )
    assert error.field == "control" and "Category 2" in error.message


def test_a_hood_whose_certification_lapsed_is_refused(site):
    the_bench = bench(site)
    hood = EngineeringControl.objects.create(
        site=site, room=the_bench["hood"].room, name="LAFW 2", kind="lafw", iso_class="5"
    )
    due = site.today() - dt.timedelta(days=1)
    certified_hood(site, due_on=due)  # LAFW 1 again: still good
    Certification.objects.create(
        site=site,
        control=hood,
        certified_on=due - dt.timedelta(days=182),
        due_on=due,
        certifier="Cleanroom Certifiers Inc.",
        recorded_by=evaluator_of(site),
    )

    error = _refused(
        Invalid,
        services.record_start,
        actor=maker_of(site),
        formula=the_bench["vanco"],
        quantity="1",
        unit="bag",
        control=hood,
    )

    assert error.field == "control"
    assert error.message == f"LAFW 2's certification was due {due:%m/%d/%Y}. Use a certified hood."


def test_a_hazardous_formula_needs_a_containment_hood_and_lists_its_requirements(site):
    the_bench = bench(site)
    hd_formula = vancomycin_bag(site, evaluator_of(site), approver=evaluator_of(site), code="HDBAG")
    hd_formula.hazardous = True
    hd_formula.save()
    tech = qualified(staff(site, "hd-tech"), "2", hazardous=True)

    error = _refused(
        Invalid,
        services.record_start,
        actor=tech,
        formula=hd_formula,
        quantity="1",
        unit="bag",
        control=the_bench["hood"],
    )
    assert error.field == "control" and "containment hood (C-PEC)" in error.message

    bsc = EngineeringControl.objects.create(
        site=site,
        room=the_bench["hood"].room,
        name="BSC 1",
        kind="bsc2",
        iso_class="5",
        hazardous=True,
    )
    Certification.objects.create(
        site=site,
        control=bsc,
        certified_on=site.today(),
        due_on=site.today() + dt.timedelta(days=180),
        certifier="Cleanroom Certifiers Inc.",
        recorded_by=evaluator_of(site),
    )
    record = services.record_start(
        actor=tech, formula=hd_formula, quantity="1", unit="bag", control=bsc
    )
    assert record.hazardous is True
    assert record.hd_requirements[0].startswith("C-PEC: Class II or III biological safety")
    assert any("CSTD" in line for line in record.hd_requirements)


def test_an_opened_source_past_its_in_use_time_is_refused(site):
    the_bench = bench(site)
    error = _refused(
        Invalid,
        services.record_start,
        actor=maker_of(site),
        formula=the_bench["vanco"],
        quantity="1",
        unit="bag",
        control=the_bench["hood"],
        sources={
            2: {
                "container": "single-dose",
                "first_opened_at": timezone.now() - dt.timedelta(hours=13),
                "in_iso5": True,
            }
        },
    )
    assert error.field == "sources[2]"
    assert "Single-dose container entered in ISO 5 air: 12 hours after first puncture" in (
        error.message
    )


def test_an_opened_source_in_date_is_kept_and_caps_the_bud_when_the_site_says_so(site):
    the_bench = bench(site)
    CompoundingSettings.objects.create(site=site, cap_at_source_in_use=True)
    opened = timezone.now() - dt.timedelta(hours=2)

    record = services.record_start(
        actor=maker_of(site),
        formula=the_bench["vanco"],
        quantity="1",
        unit="bag",
        control=the_bench["hood"],
        sources={2: {"container": "single-dose", "first_opened_at": opened, "in_iso5": True}},
    )

    saline = record.components.get(position=2)
    assert (saline.source_container, saline.opened_in_iso5) == ("single-dose", True)
    assert saline.in_use_until == opened + dt.timedelta(hours=12)
    assert record.beyond_use == opened + dt.timedelta(hours=12)
    assert "limited by the in-use time of the opened 0.9 % sodium chloride" in record.bud_rule
    assert record.bud_rule.endswith("(site policy)")


# --- Measuring, checking, submitting -----------------------------------------------------------


def test_a_measurement_within_5_percent_is_kept_in_any_unit_of_mass(site):
    record = started(site)
    tech = maker_of(site)

    component = services.record_measure(
        actor=tech, record=record, position=1, measured_quantity="25600", measured_unit="mg"
    )

    component.refresh_from_db()
    assert (component.measured_quantity, component.measured_unit) == (Decimal("25600"), "mg")
    assert component.measured_by == tech
    event = AuditEvent.objects.order_by("-pk").first()
    assert event.action == "compounding.record.measured"


def test_a_measurement_more_than_5_percent_off_needs_a_deviation(site):
    record = started(site)
    tech = maker_of(site)

    error = _refused(
        Invalid,
        services.record_measure,
        actor=tech,
        record=record,
        position=1,
        measured_quantity="27",
        measured_unit="g",
    )
    assert error.field == "measured_quantity"
    assert error.message.startswith("27 g is 8 % more than the 25 g required (the limit is ±5 %).")

    services.record_measure(
        actor=tech,
        record=record,
        position=1,
        measured_quantity="27",
        measured_unit="g",
        deviation="Jar tare not subtracted; excess removed",
    )
    record.refresh_from_db()
    assert record.deviations.startswith(
        "Hydrocortisone 2.5 % cream (lot HC25-A): 27 g measured for 25 g required (+8 %): "
        "Jar tare not subtracted; excess removed — Maria Lopez, "
    )


def test_a_measurement_in_a_unit_of_another_kind_is_refused(site):
    record = started(site)
    error = _refused(
        Invalid,
        services.record_measure,
        actor=maker_of(site),
        record=record,
        position=2,
        measured_quantity="75",
        measured_unit="mL",
    )
    assert error.field == "measured_unit"


def test_an_auditor_cannot_measure(site, auditor):
    record = started(site)
    _refused(
        Forbidden,
        services.record_measure,
        actor=auditor,
        record=record,
        position=1,
        measured_quantity="25",
        measured_unit="g",
    )


def test_submit_needs_every_stocked_component_measured_and_a_passing_check(site):
    record = started(site)
    tech = maker_of(site)
    services.record_measure(
        actor=tech, record=record, position=1, measured_quantity="25", measured_unit="g"
    )

    error = _refused(Invalid, services.record_submit, actor=tech, record=record)
    assert error.field == "components[2]"
    assert (
        error.message
        == "Hydrocortisone 0.5 % cream (lot HC05-A) has not been weighed or measured yet."
    )

    services.record_measure(
        actor=tech, record=record, position=2, measured_quantity="75", measured_unit="g"
    )
    error = _refused(Invalid, services.record_submit, actor=tech, record=record)
    assert error.field == "checks"

    services.record_check(
        actor=tech, record=record, name="Appearance", result="lumpy", passed=False
    )
    error = _refused(Conflict, services.record_submit, actor=tech, record=record)
    assert error.field == "checks" and "reject the preparation" in error.message


def test_a_check_needs_its_name_and_result(site):
    record = started(site)
    error = _refused(
        Invalid,
        services.record_check,
        actor=maker_of(site),
        record=record,
        name=" ",
        result="ok",
        passed=True,
    )
    assert error.field == "name"


def test_submitting_hands_the_record_to_the_pharmacist(site):
    record = submitted(site)
    assert record.status == RecordStatus.AWAITING_VERIFICATION
    assert record.physical_description == "Smooth white cream"
    assert AuditEvent.objects.order_by("-pk").first().action == "compounding.record.submitted"


# --- Verifying, rejecting, the label ------------------------------------------------------------


def test_a_pharmacist_verifies_a_submitted_record(site):
    record = submitted(site)
    rph = checker_of(site)

    done = services.record_verify(actor=rph, record=record)

    done.refresh_from_db()
    assert done.status == RecordStatus.VERIFIED
    assert (done.verified_by, done.verified_by_name) == (rph, "Rita Singh")
    assert done.verified_at is not None
    assert AuditEvent.objects.order_by("-pk").first().action == "compounding.record.verified"


def test_the_person_who_compounded_cannot_verify(site):
    bench(site)
    rph = qualified(checker_of(site), "nonsterile")
    record = measured(started(site, rph), rph)
    services.record_check(actor=rph, record=record, name="Appearance", result="ok", passed=True)
    services.record_submit(actor=rph, record=record)

    error = _refused(Conflict, services.record_verify, actor=rph, record=record)

    assert error.field == "record" and error.message.startswith("A second person verifies")


def test_a_technician_cannot_verify(site):
    record = submitted(site)
    other_tech = staff(site, "tech-2")
    error = _refused(Forbidden, services.record_verify, actor=other_tech, record=record)
    assert "compounding.verify" in error.message


def test_a_record_not_submitted_cannot_be_verified(site):
    record = started(site)
    error = _refused(Conflict, services.record_verify, actor=checker_of(site), record=record)
    assert "has not been submitted" in error.message


def test_a_rejected_record_keeps_its_stock_used(site):
    record = submitted(site)
    before = (_on_hand(site, "HC25-A"), _on_hand(site, "HC05-A"))
    error = _refused(
        Invalid, services.record_reject, actor=checker_of(site), record=record, reason=""
    )
    assert error.field == "reason"

    done = services.record_reject(actor=checker_of(site), record=record, reason="Wrong base")

    assert (done.status, done.reject_reason) == (RecordStatus.REJECTED, "Wrong base")
    assert (_on_hand(site, "HC25-A"), _on_hand(site, "HC05-A")) == before
    event = AuditEvent.objects.order_by("-pk").first()
    assert (event.action, event.reason) == ("compounding.record.rejected", "Wrong base")
    assert '"stock_stays_used":true' in event.data
    _refused(Conflict, services.record_reject, actor=checker_of(site), record=done, reason="x")


def test_the_label_is_refused_without_verification(site):
    record = submitted(site)
    error = _refused(Invalid, services.record_label, actor=maker_of(site), record=record)
    assert error.field == "record" and error.message.startswith("Missing verification")


def test_printing_the_label_stamps_the_record_and_each_print_is_recorded(site):
    record = verified(site)
    tech = maker_of(site)

    pdf = services.record_label(actor=tech, record=record)
    again = services.record_label(actor=tech, record=record)

    assert pdf.startswith(b"%PDF") and again.startswith(b"%PDF")
    record.refresh_from_db()
    assert record.label_printed_at is not None
    events = list(AuditEvent.objects.filter(action="compounding.record.labeled").order_by("pk"))
    assert ['"reprint":false' in e.data for e in events] == [True, False]
    assert ['"reprint":true' in e.data for e in events] == [False, True]


def test_another_pharmacys_record_does_not_exist_here(site, outsider):
    record = started(site)
    qualified(outsider, "nonsterile")
    _refused(
        NotFound,
        services.record_measure,
        actor=outsider,
        record=record,
        position=1,
        measured_quantity="25",
        measured_unit="g",
    )


def test_records_using_a_stock_lot_are_found_for_a_recall(site):
    first = started(site)
    started(site, lots={1: "HC25-A"})
    lot = StockBalance.objects.get(site=site, lot__number="HC05-A").lot

    found = list(records_using_lot(lot, site=site))

    assert len(found) == 2 and first in found


def test_a_patient_specific_preparation_names_the_patient_on_the_moves(site):
    patient = PatientFactory(site=site)
    record = started(site, patient=patient)
    assert record.patient == patient
    assert set(
        StockMove.objects.filter(reference_id=str(record.pk)).values_list("patient_id", flat=True)
    ) == {patient.pk}
