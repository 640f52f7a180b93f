"""The perpetual inventory and one package's running record: views over the stock ledger,
Schedule II apart from III–V, the running balance of the package after each move (one
window query), the opening balance of a period, the local days of the pharmacy, what each
move belongs to in words, the patient only for those who may see patients, the CSV read
back, and every refusal (role, another pharmacy, a package that is not controlled, a bad
lot or date) naming the field."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from rxdesk.controlled import queries
from rxdesk.controlled.choices import ScheduleGroup
from rxdesk.core.errors import Forbidden, Invalid
from rxdesk.inventory.choices import AdjustReason, LotStatus, MoveReason
from rxdesk.inventory.ledger import Ref
from rxdesk.inventory.models import CycleCount, CycleCountLine, Receipt, ReceiptLine, Supplier
from tests.controlled.factories import alprazolam, codeine_syrup, cs_stock, oxycodone, witness
from tests.controlled.matrix_ledger import local, move
from tests.inventory.factories import package, stock
from tests.rx.factories import first_fill, make_rx

pytestmark = pytest.mark.django_db

D = Decimal
DAY = dt.date(2026, 3, 10)


def rows_of(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


# --- The perpetual inventory --------------------------------------------------------------------


def test_it_keeps_schedule_ii_apart_from_schedules_iii_to_v(site, technician):
    oxy, alp, cod = oxycodone(), alprazolam(), codeine_syrup()
    cs_stock(site, oxy, 100, lot="OX1")
    cs_stock(site, oxy, 40, lot="OX2", expiry=dt.date(2027, 1, 31))
    cs_stock(site, alp, 1000, lot="AL1")
    cs_stock(site, cod, 473, lot="CO1")
    stock(site, package(), lot="PZ1", quantity=30)  # Prozac: not controlled

    two = queries.perpetual(actor=technician, group="II")
    rest = queries.perpetual(actor=technician, group="III-V")

    assert [r.package.ndc10 for r in two.rows] == ["0406-0552-01"]
    (row,) = two.rows
    assert (row.schedule, row.on_hand, row.unit) == ("CII", D(140), "EA")
    assert [(lot.lot_number, lot.on_hand, lot.expiry) for lot in row.lots] == [
        ("OX2", D(40), dt.date(2027, 1, 31)),
        ("OX1", D(100), dt.date(2030, 12, 31)),
    ]
    assert sorted(r.package.ndc10 for r in rest.rows) == ["0228-2029-96", "0603-1585-58"]
    assert {r.package.ndc10: (r.schedule, r.on_hand, r.unit) for r in rest.rows} == {
        "0228-2029-96": ("CIV", D(1000), "EA"),
        "0603-1585-58": ("CV", D(473), "ML"),
    }
    assert two.group == ScheduleGroup.II and rest.group == ScheduleGroup.III_V


def test_it_uses_the_schedule_in_force_the_state_override_first(site, technician):
    gabapentin = package("0071-0803-24", name="Gabapentin", directory_dea_schedule="")
    hydrocodone = package("0591-0385-01", name="Hydrocodone", directory_dea_schedule="CIII")
    gabapentin.product.dea_schedule_override = "CV"
    gabapentin.product.save()
    hydrocodone.product.dea_schedule_override = "CII"
    hydrocodone.product.save()
    cs_stock(site, gabapentin, 90, lot="GA1")
    cs_stock(site, hydrocodone, 100, lot="HY1")

    two = queries.perpetual(actor=technician, group="II")
    rest = queries.perpetual(actor=technician, group="III-V")

    assert [r.package.ndc10 for r in two.rows] == ["0591-0385-01"]
    assert [r.package.ndc10 for r in rest.rows] == ["0071-0803-24"]


def test_it_lists_a_package_that_moved_here_even_when_none_is_left(site, technician):
    oxy = oxycodone()
    cs_stock(site, oxy, 10, lot="OX1")
    last = move(site, oxy, -10, reason=MoveReason.DISPENSE, lot="OX1", actor=technician)

    (row,) = queries.perpetual(actor=technician, group="II").rows

    assert row.on_hand == 0
    assert (row.last_move_id, row.last_move_at) == (last.pk, last.occurred_at)
    assert [(lot.on_hand, lot.status) for lot in row.lots] == [(D(0), LotStatus.AVAILABLE)]


def test_it_finds_a_package_by_name_ndc_or_lot(site, technician):
    oxy, alp = oxycodone(), alprazolam()
    cs_stock(site, oxy, 10, lot="OXA")
    cs_stock(site, oxy, 10, lot="OXB")
    cs_stock(site, alp, 10, lot="ALX")

    by_lot = queries.perpetual(actor=technician, group="II", q="OXB")
    by_ndc = queries.perpetual(actor=technician, group="III-V", q="00228202996")
    by_name = queries.perpetual(actor=technician, group="III-V", q="alpraz")
    nothing = queries.perpetual(actor=technician, group="II", q="alpraz")
    typed_badly = queries.perpetual(actor=technician, group="II", q="OX\x00B")

    # A lot finds its package, and the package shows every lot.
    assert [[lot.lot_number for lot in r.lots] for r in by_lot.rows] == [["OXA", "OXB"]]
    assert [r.package.ndc10 for r in by_ndc.rows] == ["0228-2029-96"]
    assert [r.package.ndc10 for r in by_name.rows] == ["0228-2029-96"]
    assert nothing.rows == []
    assert [r.package.ndc10 for r in typed_badly.rows] == ["0406-0552-01"]  # NUL dropped


def test_it_shows_only_the_readers_own_pharmacy(site, other_site, technician, outsider):
    oxy = oxycodone()
    cs_stock(site, oxy, 10)

    assert queries.perpetual(actor=outsider, group="II").rows == []
    assert len(queries.perpetual(actor=technician, group="II").rows) == 1


@pytest.mark.parametrize("who", ["trainee", "admin_user"])
def test_it_refuses_roles_without_cs_view(request, site, who):
    actor = request.getfixturevalue(who)
    with pytest.raises(Forbidden):
        queries.perpetual(actor=actor, group="II")
    with pytest.raises(Forbidden):
        queries.package_ledger(actor=actor, package=oxycodone())


@pytest.mark.parametrize("group", ["", "IV", "2-5", "schedule 2"])
def test_an_unknown_group_is_refused_naming_it(site, technician, group):
    with pytest.raises(Invalid) as caught:
        queries.perpetual(actor=technician, group=group)
    assert caught.value.field == "group"


@pytest.mark.parametrize("written", ["II", "2", "cii", "III-V", "III–V", "3-5"])
def test_a_group_may_be_written_several_ways(written):
    assert queries.group_of(written) in (ScheduleGroup.II, ScheduleGroup.III_V)


def test_the_perpetual_csv_has_one_row_per_lot(site, technician):
    oxy = oxycodone()
    cs_stock(site, oxy, 100, lot="OX1")
    cs_stock(site, oxy, 40, lot="OX2", expiry=dt.date(2027, 1, 31))

    rows = rows_of(queries.perpetual_csv(queries.perpetual(actor=technician, group="II")))

    assert rows[0][:10] == [
        "Schedule",
        "Drug",
        "NDC",
        "Package size",
        "Unit",
        "Package on hand",
        "Lot",
        "Expiry",
        "Lot status",
        "Lot on hand",
    ]
    package_columns = ["CII", "Oxycodone Hydrochloride 5 mg tablet", "0406-0552-01"]
    package_columns += ["100", "EA", "140"]
    assert [r[:10] for r in rows[1:]] == [
        [*package_columns, "OX2", "2027-01-31", "Available", "40"],
        [*package_columns, "OX1", "2030-12-31", "Available", "100"],
    ]


def test_the_perpetual_list_reads_a_fixed_number_of_queries(site, technician):
    oxy, alp = oxycodone(), alprazolam()
    cs_stock(site, oxy, 10, lot="OX1")
    with CaptureQueriesContext(connection) as few:
        queries.perpetual(actor=technician, group="II")
    for n in range(12):
        cs_stock(site, oxy, 10, lot=f"OXM{n}")
        cs_stock(site, alp, 10, lot=f"ALM{n}")
    with CaptureQueriesContext(connection) as many:
        report = queries.perpetual(actor=technician, group="II")

    assert len(report.rows[0].lots) == 13
    assert len(many) == len(few) <= 3


# --- One package's record -----------------------------------------------------------------------


@pytest.fixture
def history(site, technician, pharmacist):
    """Oxycodone at the site over three days of March 2026 (Chicago time): received on two
    lots, dispensed on an Rx, counted short on a cycle count (witnessed), adjusted."""
    oxy = oxycodone()
    supplier = Supplier.objects.create(site=site, name="McKesson", dea_number="RM0231235")
    receipt = Receipt.objects.create(site=site, supplier=supplier, invoice_number="INV-9")
    line = ReceiptLine.objects.create(
        receipt=receipt, package=oxy, lot_number="OX1", packages_received=1
    )
    rx = make_rx(technician, schedule="CII", product=oxy.product, package=oxy, refills_authorized=0)
    fill = first_fill(rx)
    count = CycleCount.objects.create(site=site, scope="packages", created_by=technician)
    the_witness = witness(site, username="rph2")
    moves = [
        move(
            site,
            oxy,
            100,
            lot="OX1",
            actor=technician,
            ref=Ref("receipt_line", line.pk),
            when=local(site, DAY, 9),
        ),
        move(site, oxy, 50, lot="OX2", actor=technician, when=local(site, DAY, 9, 5)),
        move(
            site,
            oxy,
            -30,
            reason=MoveReason.DISPENSE,
            lot="OX1",
            actor=technician,
            ref=Ref("fill", fill.pk),
            patient_id=rx.patient_id,
            when=local(site, DAY, 15),
        ),
        # 23:30 in Chicago is already the next day in UTC: it belongs to DAY here.
        move(
            site,
            oxy,
            -5,
            reason=MoveReason.DISPENSE,
            lot="OX2",
            actor=technician,
            when=local(site, DAY, 23, 30),
        ),
    ]
    cline = CycleCountLine.objects.create(
        count=count, package=oxy, lot=moves[0].lot, counted=D(68), expected=D(70)
    )
    moves += [
        move(site, oxy, -2, reason=MoveReason.COUNT, lot="OX1", actor=pharmacist,
             ref=Ref("count_line", cline.pk), witness=the_witness,
             adjust_reason=AdjustReason.COUNT_VARIANCE, when=local(site, DAY + dt.timedelta(1), 8)),
        move(site, oxy, -1, reason=MoveReason.ADJUST, lot="OX2", actor=pharmacist,
             ref=Ref("adjustment", ""), adjust_reason=AdjustReason.BROKEN,
             witness=the_witness, when=local(site, DAY + dt.timedelta(2), 10)),
    ]  # fmt: skip
    return {
        "package": oxy,
        "moves": moves,
        "rx": rx,
        "fill": fill,
        "count": count,
        "receipt": receipt,
    }


def test_the_record_lists_every_move_with_the_running_balance_of_the_package(
    site, pharmacist, history
):
    report = queries.package_ledger(actor=pharmacist, package="0406-0552-01")

    assert [
        (line.reason, line.lot_number, line.quantity, line.lot_balance, line.package_balance)
        for line in report.lines
    ] == [
        ("receive", "OX1", D(100), D(100), D(100)),
        ("receive", "OX2", D(50), D(50), D(150)),
        ("dispense", "OX1", D(-30), D(70), D(120)),
        ("dispense", "OX2", D(-5), D(45), D(115)),
        ("count", "OX1", D(-2), D(68), D(113)),
        ("adjust", "OX2", D(-1), D(44), D(112)),
    ]
    assert (report.opening, report.closing, report.on_hand) == (D(0), D(112), D(112))
    assert (report.schedule, report.group) == ("CII", ScheduleGroup.II)


def test_each_move_says_what_it_belongs_to_who_and_the_witness(site, pharmacist, history):
    report = queries.package_ledger(actor=pharmacist, package=history["package"])
    rx, count, receipt = history["rx"], history["count"], history["receipt"]

    assert [line.reference for line in report.lines] == [
        f"Receipt {receipt.pk}, invoice INV-9 from McKesson",
        "",
        f"Rx {rx.number}-0",
        "",
        f"Count {count.pk}",
        "Adjustment",
    ]
    assert [line.actor_name for line in report.lines] == ["tech"] * 4 + ["rph"] * 2
    assert [line.witness_name for line in report.lines] == ["", "", "", "", "rph2", "rph2"]
    assert report.lines[4].why == "Count adjustment — Count variance"
    assert report.lines[5].why == "Adjustment — Broken or spilled"


def test_times_are_the_pharmacys_local_time(site, pharmacist, history):
    report = queries.package_ledger(actor=pharmacist, package=history["package"])
    late = report.lines[3]

    assert late.occurred_at.astimezone(dt.UTC).date() == DAY + dt.timedelta(days=1)
    assert (late.local.date(), late.local.strftime("%H:%M")) == (DAY, "23:30")


def test_a_period_starts_from_the_balance_before_it_in_local_days(site, pharmacist, history):
    first_day = queries.package_ledger(
        actor=pharmacist, package=history["package"], start=DAY, end=DAY
    )
    later = queries.package_ledger(
        actor=pharmacist, package=history["package"], start=DAY + dt.timedelta(days=1)
    )

    # The 23:30 dispensing is on DAY at the pharmacy though it is the 11th in UTC.
    assert [line.quantity for line in first_day.lines] == [D(100), D(50), D(-30), D(-5)]
    assert (first_day.opening, first_day.closing) == (D(0), D(115))
    assert [line.quantity for line in later.lines] == [D(-2), D(-1)]
    assert [line.package_balance for line in later.lines] == [D(113), D(112)]
    assert (later.opening, later.closing) == (D(115), D(112))


def test_one_lot_lists_its_moves_but_the_package_balance_counts_every_lot(
    site, pharmacist, history
):
    report = queries.package_ledger(
        actor=pharmacist, package=history["package"], lot="ox2", start=DAY + dt.timedelta(1)
    )

    assert [(line.lot_number, line.quantity, line.lot_balance) for line in report.lines] == [
        ("OX2", D(-1), D(44))
    ]
    assert [line.package_balance for line in report.lines] == [D(112)]
    assert (report.opening, report.lot_opening) == (D(115), D(45))


def test_the_patient_shows_only_to_those_who_may_see_patients(site, pharmacist, inventory, history):
    name = history["rx"].patient.full_name

    seen = queries.package_ledger(actor=pharmacist, package=history["package"]).lines[2]
    hidden = queries.package_ledger(actor=inventory, package=history["package"]).lines[2]

    assert (seen.patient, seen.reference) == (name, f"Rx {history['rx'].number}-0")
    assert (hidden.patient, hidden.reference) == ("", f"Rx {history['rx'].number}-0")


def test_the_record_reads_a_fixed_number_of_queries(site, pharmacist, history):
    oxy = history["package"]
    with CaptureQueriesContext(connection) as few:
        queries.package_ledger(actor=pharmacist, package=oxy)
    for _ in range(20):
        move(site, oxy, -1, reason=MoveReason.DISPENSE, lot="OX1", actor=pharmacist,
             ref=Ref("fill", history["fill"].pk), patient_id=history["rx"].patient_id)  # fmt: skip
    with CaptureQueriesContext(connection) as many:
        report = queries.package_ledger(actor=pharmacist, package=oxy)

    assert len(report.lines) == 26
    assert report.lines[-1].package_balance == D(92)
    assert len(many) == len(few)


def test_the_record_csv_starts_with_the_opening_balance(site, pharmacist, history):
    report = queries.package_ledger(
        actor=pharmacist, package=history["package"], start=DAY + dt.timedelta(days=1)
    )

    rows = rows_of(queries.package_ledger_csv(report))

    assert rows[0] == [
        "Move",
        "Date",
        "Time",
        "Why",
        "Lot",
        "Expiry",
        "Quantity",
        "Lot balance after",
        "Package balance after",
        "By",
        "Witness",
        "Belongs to",
        "Patient",
        "Note",
    ]
    assert rows[1][:9] == ["", "2026-03-11", "", "Opening balance", "", "", "", "", "115"]
    assert rows[2] == [
        str(history["moves"][4].pk),
        "2026-03-11",
        "08:00:00",
        "Count adjustment — Count variance",
        "OX1",
        "2030-12-31",
        "-2",
        "68",
        "113",
        "rph",
        "rph2",
        f"Count {history['count'].pk}",
        "",
        "",
    ]
    assert len(rows) == 4


def test_a_package_that_is_not_controlled_is_refused_naming_the_ndc(site, technician):
    stock(site, package(), lot="PZ1", quantity=30)

    with pytest.raises(Invalid) as caught:
        queries.package_ledger(actor=technician, package="0002-3227-30")
    assert caught.value.field == "ndc"
    assert "not a controlled substance" in caught.value.message


@pytest.mark.parametrize("ndc", ["", "12345", "9999-9999-99", "not an ndc"])
def test_a_bad_or_unknown_ndc_is_refused_naming_it(site, technician, ndc):
    with pytest.raises(Invalid) as caught:
        queries.package_ledger(actor=technician, package=ndc)
    assert caught.value.field == "ndc"


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"lot": "NOPE"}, "lot"),
        ({"lot": "OX\x001"}, "lot"),
        ({"start": "2026-13-01"}, "start"),
        ({"end": "03/10/2026"}, "end"),
        ({"start": DAY, "end": DAY - dt.timedelta(days=1)}, "end"),
    ],
)
def test_bad_filters_are_refused_naming_the_field(site, technician, kwargs, field):
    oxy = oxycodone()
    cs_stock(site, oxy, 10)
    with pytest.raises(Invalid) as caught:
        queries.package_ledger(actor=technician, package=oxy, **kwargs)
    assert caught.value.field == field


def test_another_pharmacys_moves_are_not_in_the_record(site, other_site, technician, outsider):
    oxy = oxycodone()
    cs_stock(site, oxy, 10)
    cs_stock(other_site, oxy, 25, lot="THEIRS")

    mine = queries.package_ledger(actor=technician, package=oxy)
    theirs = queries.package_ledger(actor=outsider, package=oxy)

    assert [line.quantity for line in mine.lines] == [D(10)]
    assert [line.lot_number for line in theirs.lines] == ["THEIRS"]
    assert theirs.on_hand == D(25)
