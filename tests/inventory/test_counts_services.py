"""Cycle counts: creation by scope, blind counting against the ledger at the moment of the
count, found lots, submission, investigation, approval into the ledger, cancellation."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import transaction

from rxdesk.catalog.ndc import gs1_check_digit
from rxdesk.core.errors import Conflict, Forbidden, Invalid, NotFound
from rxdesk.inventory import ledger
from rxdesk.inventory.choices import (
    AbcClass,
    AdjustReason,
    CountStatus,
    LocationKind,
    MoveReason,
)
from rxdesk.inventory.models import (
    CycleCount,
    CycleCountLine,
    Lot,
    ParLevel,
    StockBalance,
    StockMove,
    StorageLocation,
)
from rxdesk.inventory.services.counts import (
    cycle_count_add_line,
    cycle_count_approve,
    cycle_count_cancel,
    cycle_count_create,
    cycle_count_investigate,
    cycle_count_record,
    cycle_count_submit,
)
from tests.conftest import audit_count, last_event
from tests.controlled.factories import credentials
from tests.inventory.factories import package, stock

pytestmark = pytest.mark.django_db


def shelf(site, code="A-1", kind=LocationKind.SHELF):
    return StorageLocation.objects.create(site=site, code=code, name=f"Shelf {code}", kind=kind)


def oxycodone():
    return package("0406-0552-01", name="Oxycodone HCl", directory_dea_schedule="CII")


def written() -> tuple[int, int, int, int]:
    return (
        CycleCount.objects.count(),
        CycleCountLine.objects.count(),
        StockMove.objects.count(),
        audit_count(),
    )


def dispense(balance: StockBalance, quantity: int) -> None:
    with transaction.atomic():
        ledger.post_out(
            balance=balance, quantity=Decimal(quantity), reason=MoveReason.DISPENSE, actor=None
        )


def counted(count: CycleCount, actor, *quantities) -> list[CycleCountLine]:
    lines = list(count.lines.order_by("pk"))
    for line, quantity in zip(lines, quantities, strict=True):
        cycle_count_record(actor=actor, line=line, counted=quantity)
    return list(count.lines.order_by("pk"))


# --- Creating ------------------------------------------------------------------------------


def test_it_counts_a_shelf_one_line_per_lot_with_stock(site, technician):
    a1, b2 = shelf(site, "A-1"), shelf(site, "B-2")
    pkg = package()
    stock(site, pkg, "ON-A", 30, location=a1)
    stock(site, pkg, "ON-B", 20, location=b2)
    empty = stock(site, pkg, "EMPTY", 5, location=a1)
    dispense(empty, 5)

    count = cycle_count_create(actor=technician, scope="shelf", scope_value="a-1", note="Monday")

    assert (count.scope, count.scope_value, count.blind, count.status) == (
        "shelf",
        "A-1",
        True,
        "open",
    )
    assert [
        (line.lot.number, line.location_id, line.counted, line.expected)
        for line in count.lines.all()
    ] == [("ON-A", a1.pk, None, None)]
    event = last_event()
    assert event.action == "inventory.count.created"
    assert event.object_id == str(count.pk)
    assert event.data == ('{"blind":true,"lines":1,"scope":"shelf","scope_value":"A-1"}')


def test_a_shelf_count_takes_in_unplaced_lots_whose_home_is_that_shelf(site, technician):
    a1 = shelf(site, "A-1")
    pkg = package()
    ParLevel.objects.create(site=site, package=pkg, minimum=10, maximum=60, location=a1)
    stock(site, pkg, "NOWHERE", 12)

    count = cycle_count_create(actor=technician, scope="shelf", scope_value="A-1")

    assert [line.lot.number for line in count.lines.all()] == ["NOWHERE"]


def test_it_counts_by_abc_class(site, technician):
    fast, slow = package(), package("0093-0058-01", name="Amoxicillin")
    ParLevel.objects.create(site=site, package=fast, minimum=1, maximum=2, abc_class=AbcClass.A)
    ParLevel.objects.create(site=site, package=slow, minimum=1, maximum=2, abc_class=AbcClass.C)
    stock(site, fast, "F1", 10)
    stock(site, slow, "S1", 10)

    count = cycle_count_create(actor=technician, scope="abc", scope_value="a")

    assert count.scope_value == "A"
    assert [line.lot.number for line in count.lines.all()] == ["F1"]


def test_it_counts_by_schedule_the_override_winning_over_the_directory(site, technician):
    stock(site, oxycodone(), "OX1", 100)
    stock(site, package("0093-0058-01", name="Amoxicillin"), "AM1", 100)
    # A state schedules it stricter than the directory (CIV → CII): it is a CII here.
    stock(
        site,
        package(
            "0071-0805-24",
            name="Tramadol",
            directory_dea_schedule="CIV",
            dea_schedule_override="CII",
        ),
        "TR1",
        30,
    )

    count = cycle_count_create(actor=technician, scope="schedule", scope_value="C2")

    assert count.scope_value == "CII"
    assert sorted(line.lot.number for line in count.lines.all()) == ["OX1", "TR1"]


def test_it_counts_chosen_packages_and_the_full_inventory(site, technician):
    prozac, amox = package(), package("0093-0058-01", name="Amoxicillin")
    stock(site, prozac, "P1", 10)
    stock(site, amox, "A1", 10)
    stock(site, amox, "A2", 10)

    chosen = cycle_count_create(actor=technician, scope="packages", scope_value=["0093-0058-01"])
    cycle_count_cancel(actor=technician, count=chosen, reason="test")
    full = cycle_count_create(actor=technician, scope="full")

    assert chosen.scope_value == "0093-0058-01"
    assert sorted(line.lot.number for line in chosen.lines.all()) == ["A1", "A2"]
    assert sorted(line.lot.number for line in full.lines.all()) == ["A1", "A2", "P1"]


@pytest.mark.parametrize(
    ("scope", "value", "message"),
    [
        ("shelf", "Z-9", "No storage location Z-9 here."),
        ("shelf", "A-1", "No stock on hand matches this count (A-1). Check the scope."),
        ("abc", "D", "Choose ABC class A, B or C."),
        ("schedule", "CVI", "Choose a schedule: CII, CIII, CIV or CV."),
        ("schedule", "CII", "No stock on hand matches this count (CII). Check the scope."),
        ("packages", "", "Enter or scan at least one NDC."),
    ],
)
def test_it_refuses_a_scope_that_matches_nothing(site, technician, scope, value, message):
    shelf(site, "A-1")
    stock(site, package(), "P1", 10)
    before = written()

    with pytest.raises(Invalid) as caught:
        cycle_count_create(actor=technician, scope=scope, scope_value=value)

    assert caught.value.errors == [{"field": "scope_value", "message": message}]
    assert written() == before


def test_it_refuses_an_unknown_scope(site, technician):
    with pytest.raises(Invalid) as caught:
        cycle_count_create(actor=technician, scope="everything")
    assert caught.value.field == "scope"


def test_a_lot_is_on_one_open_count_at_a_time(site, technician):
    stock(site, package(), "P1", 10)
    first = cycle_count_create(actor=technician, scope="full")
    before = written()

    with pytest.raises(
        Conflict, match=rf"Already on another open count: lot P1 \(count {first.pk}\)"
    ):
        cycle_count_create(actor=technician, scope="packages", scope_value="0002-3227-30")

    assert written() == before
    # Once that count is cancelled, the lot is free again.
    cycle_count_cancel(actor=technician, count=first, reason="started by mistake")
    assert cycle_count_create(actor=technician, scope="full").lines.count() == 1


@pytest.mark.parametrize("role", ["auditor", "admin_user"])
def test_a_role_without_count_may_not_start_one(site, request, role):
    stock(site, package(), "P1", 10)
    before = written()
    with pytest.raises(Forbidden):
        cycle_count_create(actor=request.getfixturevalue(role), scope="full")
    assert written() == before


def test_the_operator_at_the_shell_names_the_site(site, cli_context):
    stock(site, package(), "P1", 10)
    count = cycle_count_create(actor=None, site=site, scope="full")
    assert count.site == site and count.created_by is None
    assert last_event().actor_name == "system"


# --- Counting ------------------------------------------------------------------------------


def test_expected_is_the_ledger_balance_when_the_line_is_counted(site, technician):
    balance = stock(site, package(), "P1", 100)
    count = cycle_count_create(actor=technician, scope="full")
    line = count.lines.get()
    dispense(balance, 30)  # sold before the shelf was counted: 70 left

    recorded = cycle_count_record(actor=technician, line=line, counted="70")
    dispense(balance, 5)  # sold after counting: not a variance

    line.refresh_from_db()
    assert (line.counted, line.expected, line.variance) == (Decimal(70), Decimal(70), 0)
    assert recorded.counted_by == technician and line.counted_at is not None
    event = last_event()
    assert event.action == "inventory.count.line_recorded"
    # The event never carries the expected quantity: the count is blind.
    assert event.data == f'{{"count":{count.pk},"counted":"70.000","lot":"P1","recount":false}}'


def test_a_line_may_be_recounted_while_the_count_is_open(site, technician, trainee):
    stock(site, package(), "P1", 100)
    count = cycle_count_create(actor=technician, scope="full")
    line = count.lines.get()
    cycle_count_record(actor=technician, line=line, counted=90)

    cycle_count_record(actor=trainee, line=line, counted="100")

    line.refresh_from_db()
    assert (line.counted, line.counted_by) == (Decimal(100), trainee)
    assert '"recount":true' in last_event().data


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("-1", "A count cannot be negative."),
        ("", "Enter the quantity counted (0 if none)."),
        ("ten", "'ten' is not a quantity."),
        ("1.0005", "Use at most three decimal places."),
    ],
)
def test_it_refuses_a_bad_count(site, technician, value, message):
    stock(site, package(), "P1", 100)
    line = cycle_count_create(actor=technician, scope="full").lines.get()
    before = written()

    with pytest.raises(Invalid) as caught:
        cycle_count_record(actor=technician, line=line, counted=value)

    assert caught.value.errors == [{"field": "counted", "message": message}]
    assert written() == before


def test_an_empty_shelf_counts_zero(site, technician):
    stock(site, package(), "P1", 4)
    line = cycle_count_create(actor=technician, scope="full").lines.get()
    assert cycle_count_record(actor=technician, line=line, counted="0").counted == 0


def test_a_submitted_count_is_not_counted_again(site, technician):
    stock(site, package(), "P1", 4)
    count = cycle_count_create(actor=technician, scope="full")
    (line,) = counted(count, technician, 4)
    cycle_count_submit(actor=technician, count=count)
    before = written()

    with pytest.raises(Conflict, match="it can no longer be counted"):
        cycle_count_record(actor=technician, line=line, counted=5)
    assert written() == before


def test_an_auditor_may_not_count_and_another_sites_line_is_not_found(
    site, technician, auditor, outsider
):
    stock(site, package(), "P1", 4)
    line = cycle_count_create(actor=technician, scope="full").lines.get()
    before = written()

    with pytest.raises(Forbidden):
        cycle_count_record(actor=auditor, line=line, counted=4)
    with pytest.raises(NotFound):
        cycle_count_record(actor=outsider, line=line, counted=4)

    assert written() == before
    line.refresh_from_db()
    assert line.counted is None


def gs1(ndc10_digits: str, lot: str, expiry: dt.date) -> str:
    body = "003" + ndc10_digits
    return f"(01){body}{gs1_check_digit(body)}(17){expiry:%y%m%d}(10){lot}"


def test_a_lot_found_on_the_shelf_is_added_from_its_scan(site, technician):
    a1 = shelf(site, "A-1")
    stock(site, package(), "P1", 10, location=a1)
    count = cycle_count_create(actor=technician, scope="shelf", scope_value="A-1")

    line = cycle_count_add_line(
        actor=technician,
        count=count,
        ndc=gs1("0002322730", "NEW7", dt.date(2031, 3, 31)),
        counted="12",
        location="A-1",
    )

    assert (line.lot.number, line.lot.expiry, line.counted, line.expected) == (
        "NEW7",
        dt.date(2031, 3, 31),
        Decimal(12),
        Decimal(0),
    )
    assert line.location == a1 and line.counted_by == technician
    event = last_event()
    assert event.action == "inventory.count.line_added"
    assert event.data == (
        f'{{"count":{count.pk},"counted":"12.000","expiry":"2031-03-31",'
        '"lot":"NEW7","ndc":"00002322730"}'
    )


def test_a_found_lot_needs_an_expiry_and_is_not_added_twice(site, technician):
    stock(site, package(), "P1", 10)
    count = cycle_count_create(actor=technician, scope="full")
    before = written()
    lots = Lot.objects.count()

    with pytest.raises(Invalid) as caught:
        cycle_count_add_line(
            actor=technician, count=count, ndc="0002-3227-30", lot_number="X9", counted=1
        )
    assert caught.value.field == "expiry"
    with pytest.raises(Conflict, match=r"Lot P1 is already on this count \(line \d+\)"):
        cycle_count_add_line(
            actor=technician, count=count, ndc="0002-3227-30", lot_number="p1", counted=1
        )

    assert written() == before
    assert Lot.objects.count() == lots


def test_an_admin_may_not_add_a_line(site, technician, admin_user):
    stock(site, package(), "P1", 10)
    count = cycle_count_create(actor=technician, scope="full")
    before = written()
    with pytest.raises(Forbidden):
        cycle_count_add_line(
            actor=admin_user,
            count=count,
            ndc="0002-3227-30",
            lot_number="X9",
            expiry="2031-01-31",
            counted=1,
        )
    assert written() == before


def test_submitting_needs_every_line_counted(site, technician):
    pkg = package()
    stock(site, pkg, "P1", 10)
    stock(site, pkg, "P2", 10)
    count = cycle_count_create(actor=technician, scope="full")
    cycle_count_record(actor=technician, line=count.lines.order_by("pk").first(), counted=10)
    before = written()

    with pytest.raises(Conflict, match="1 line not counted yet"):
        cycle_count_submit(actor=technician, count=count)

    assert written() == before
    count.refresh_from_db()
    assert count.status == CountStatus.OPEN


def test_submitting_shows_how_many_lines_vary(site, technician, auditor):
    pkg = package()
    stock(site, pkg, "P1", 10)
    stock(site, pkg, "P2", 10)
    count = cycle_count_create(actor=technician, scope="full")
    counted(count, technician, 10, 8)
    with pytest.raises(Forbidden):
        cycle_count_submit(actor=auditor, count=count)

    submitted = cycle_count_submit(actor=technician, count=count)

    assert (submitted.status, submitted.submitted_by) == ("submitted", technician)
    event = last_event()
    assert (event.action, event.data) == ("inventory.count.submitted", '{"lines":2,"variances":1}')


# --- Investigation and approval ------------------------------------------------------------


def submitted_count(site, technician, *pairs):
    """A submitted count of lots (number, on hand, counted) of Prozac."""
    pkg = package()
    for number, on_hand, _ in pairs:
        stock(site, pkg, number, on_hand)
    count = cycle_count_create(actor=technician, scope="full")
    found = {number: c for number, _, c in pairs}
    for line in count.lines.select_related("lot"):
        cycle_count_record(actor=technician, line=line, counted=found[line.lot.number])
    return cycle_count_submit(actor=technician, count=count)


def test_investigation_notes_are_appended_with_who_and_when(site, technician, pharmacist):
    count = submitted_count(site, technician, ("P1", 10, 8))
    line = count.lines.get()

    cycle_count_investigate(actor=technician, line=line, note="Checked will-call bins")
    cycle_count_investigate(
        actor=pharmacist, line=line, note="Two broken in the bin", adjust_reason="broken"
    )

    line.refresh_from_db()
    first, second = line.investigation.split("\n")
    assert first.endswith(" tech] Checked will-call bins") and first.startswith("[")
    assert second.endswith(" rph] Two broken in the bin")
    assert line.adjust_reason == AdjustReason.BROKEN
    event = last_event()
    assert event.action == "inventory.count.investigated"
    assert event.reason == "Two broken in the bin"
    assert event.data == (
        f'{{"adjust_reason":["","broken"],"count":{count.pk},"lot":"P1","note_added":true}}'
    )


def test_investigation_waits_for_submission_and_needs_words(site, technician, admin_user):
    stock(site, package(), "P1", 10)
    open_count = cycle_count_create(actor=technician, scope="full")
    line = open_count.lines.get()
    before = written()

    with pytest.raises(Conflict, match="once the count is submitted"):
        cycle_count_investigate(actor=technician, line=line, note="early")
    with pytest.raises(Invalid) as caught:
        cycle_count_investigate(actor=technician, line=line, note="  ")
    assert caught.value.field == "note"
    with pytest.raises(Invalid) as caught:
        cycle_count_investigate(actor=technician, line=line, adjust_reason="bogus")
    assert caught.value.field == "adjust_reason"
    with pytest.raises(Forbidden):
        cycle_count_investigate(actor=admin_user, line=line, note="x")

    assert written() == before


def test_approval_posts_exactly_the_variances(site, technician, pharmacist):
    count = submitted_count(site, technician, ("OVER", 10, 12), ("SHORT", 10, 7), ("SAME", 5, 5))
    over, _same, short = count.lines.order_by("pk")  # sheet order: by lot number here
    cycle_count_investigate(actor=technician, line=over, note="Found", adjust_reason="found")
    cycle_count_investigate(
        actor=technician, line=short, note="Broken", adjust_reason="count_variance"
    )
    moves_before = StockMove.objects.count()

    approved = cycle_count_approve(actor=pharmacist, count=count)

    assert (approved.status, approved.approved_by) == ("approved", pharmacist)
    moves = list(StockMove.objects.filter(pk__gt=0).order_by("pk"))[moves_before:]
    assert [
        (m.lot.number, m.quantity, m.balance_after, m.reason, m.adjust_reason, m.reference_type)
        for m in moves
    ] == [
        ("OVER", Decimal(2), Decimal(12), "count", "found", "count_line"),
        ("SHORT", Decimal(-3), Decimal(7), "count", "count_variance", "count_line"),
    ]
    assert [m.reference_id for m in moves] == [str(over.pk), str(short.pk)]
    assert {b.lot.number: b.on_hand for b in StockBalance.objects.select_related("lot")} == {
        "OVER": Decimal(12),
        "SHORT": Decimal(7),
        "SAME": Decimal(5),
    }
    assert ledger.ledger_verify() == (3, [])
    event = last_event()
    assert event.action == "inventory.count.approved"
    assert event.data == (
        '{"lines":3,"variances":['
        f'{{"adjust_reason":"found","balance_after":"12.000","counted":"12.000",'
        f'"expected":"10.000","line":{over.pk},"lot":"OVER","move":{moves[0].pk},'
        '"ndc":"00002322730","variance":"2.000"},'
        f'{{"adjust_reason":"count_variance","balance_after":"7.000","counted":"7.000",'
        f'"expected":"10.000","line":{short.pk},"lot":"SHORT","move":{moves[1].pk},'
        '"ndc":"00002322730","variance":"-3.000"}]}'
    )


def test_moves_since_counting_are_not_variance_at_approval(site, technician, pharmacist):
    count = submitted_count(site, technician, ("P1", 10, 9))
    line = count.lines.get()
    dispense(StockBalance.objects.get(lot=line.lot), 4)  # after counting: 6 on hand
    cycle_count_investigate(actor=technician, line=line, adjust_reason="theft_loss", note="?")

    cycle_count_approve(actor=pharmacist, count=count)

    assert StockBalance.objects.get(lot=line.lot).on_hand == Decimal(5)
    assert ledger.ledger_verify() == (1, [])


def test_each_variance_needs_a_reason_code(site, technician, pharmacist):
    count = submitted_count(site, technician, ("P1", 10, 9), ("P2", 4, 4))
    line = count.lines.order_by("pk").first()
    before = written()

    with pytest.raises(Conflict) as caught:
        cycle_count_approve(actor=pharmacist, count=count)

    assert caught.value.field == "adjust_reason"
    assert caught.value.message == (
        f"Give a reason code for each variance: line {line.pk} (NDC 0002-3227-30 lot P1)."
    )
    assert caught.value.extra == {"lines": [line.pk]}
    assert written() == before


def test_a_controlled_variance_needs_an_investigation_note(site, technician, pharmacist):
    stock(site, oxycodone(), "OX1", 100)
    count = cycle_count_create(actor=technician, scope="schedule", scope_value="CII")
    (line,) = counted(count, technician, 98)
    cycle_count_submit(actor=technician, count=count)
    cycle_count_investigate(actor=technician, line=line, adjust_reason="theft_loss")
    before = written()

    with pytest.raises(Conflict, match="A controlled-substance variance needs an investigation"):
        cycle_count_approve(actor=pharmacist, count=count)
    assert written() == before

    cycle_count_investigate(actor=pharmacist, line=line, note="DEA 106 filed")
    # A controlled count correction is witnessed (tests/controlled/test_inventory_witness.py).
    cycle_count_approve(actor=pharmacist, count=count, witness=credentials(technician))
    assert StockBalance.objects.get(lot=line.lot).on_hand == Decimal(98)


def test_a_shortfall_that_no_longer_fits_the_shelf_names_the_line(site, technician, pharmacist):
    count = submitted_count(site, technician, ("P1", 10, 2))
    line = count.lines.get()
    cycle_count_investigate(actor=technician, line=line, adjust_reason="theft_loss", note="x")
    dispense(StockBalance.objects.get(lot=line.lot), 5)  # 5 left; 8 short cannot be posted
    before = written()

    with pytest.raises(Conflict) as caught:
        cycle_count_approve(actor=pharmacist, count=count)

    assert caught.value.message.startswith(f"Line {line.pk} (NDC 0002-3227-30 lot P1): the count")
    assert "only 5 is on hand now" in caught.value.message
    assert written() == before
    count.refresh_from_db()
    assert count.status == CountStatus.SUBMITTED


def test_the_submitter_may_not_approve_their_own_count_unless_pic(site, pharmacist, pic):
    count = submitted_count(site, pharmacist, ("P1", 10, 10))
    before = written()

    with pytest.raises(Forbidden, match="another pharmacist"):
        cycle_count_approve(actor=pharmacist, count=count)
    assert written() == before

    stock(site, package("0093-0058-01", name="Amoxicillin"), "A9", 3)
    own = cycle_count_create(actor=pic, scope="packages", scope_value="0093-0058-01")
    counted(own, pic, 3)
    cycle_count_submit(actor=pic, count=own)
    assert cycle_count_approve(actor=pic, count=own).status == CountStatus.APPROVED


@pytest.mark.parametrize("role", ["technician", "inventory", "auditor"])
def test_only_a_pharmacist_approves(site, request, role, technician):
    count = submitted_count(site, technician, ("P1", 10, 10))
    before = written()
    with pytest.raises(Forbidden):
        cycle_count_approve(actor=request.getfixturevalue(role), count=count)
    assert written() == before


def test_an_open_count_is_not_approved(site, technician, pharmacist):
    stock(site, package(), "P1", 10)
    count = cycle_count_create(actor=technician, scope="full")
    with pytest.raises(Conflict, match="only a submitted count can be approved"):
        cycle_count_approve(actor=pharmacist, count=count)


# --- Cancelling ----------------------------------------------------------------------------


def test_a_counter_cancels_an_open_count(site, technician):
    stock(site, package(), "P1", 10)
    count = cycle_count_create(actor=technician, scope="full", note="Tuesday")

    cancelled = cycle_count_cancel(actor=technician, count=count, reason="Wrong shelf")

    assert cancelled.status == CountStatus.CANCELLED
    assert cancelled.note == "Tuesday\nCancelled: Wrong shelf"
    event = last_event()
    assert (event.action, event.reason, event.data) == (
        "inventory.count.cancelled",
        "Wrong shelf",
        '{"status":["open","cancelled"]}',
    )


def test_discarding_a_submitted_count_is_a_pharmacists_call(site, technician, pharmacist):
    count = submitted_count(site, technician, ("P1", 10, 9))
    before = written()

    with pytest.raises(Forbidden):
        cycle_count_cancel(actor=technician, count=count, reason="redo")
    with pytest.raises(Invalid):
        cycle_count_cancel(actor=pharmacist, count=count, reason=" ")
    assert written() == before

    assert cycle_count_cancel(actor=pharmacist, count=count, reason="redo").status == "cancelled"
    with pytest.raises(Conflict, match="it cannot be cancelled"):
        cycle_count_cancel(actor=pharmacist, count=count, reason="again")


def test_a_trainee_counts_under_supervision(site, trainee):
    stock(site, package(), "P1", 10)
    count = cycle_count_create(actor=trainee, scope="full")
    counted(count, trainee, 10)
    assert cycle_count_submit(actor=trainee, count=count).status == "submitted"
