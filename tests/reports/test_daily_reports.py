"""Each daily report's figures against a hand-computed fixture (rxdesk.reports
.daily_reports): a day's fills, the ledger, the controlled-substance log, claims,
will-call, lots and interventions — and nothing of another day or another pharmacy."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import transaction
from django.utils import timezone

from rxdesk.care.services_counsel import intervention_record
from rxdesk.claims.choices import ClaimStatus
from rxdesk.inventory import ledger
from rxdesk.inventory.choices import MoveReason
from rxdesk.reports import daily_reports
from rxdesk.rx.choices import FillStatus
from tests.claims.test_plans import make_claim, make_plan
from tests.factories import PatientFactory
from tests.inventory.factories import package, stock
from tests.pos.factories import ready_fill
from tests.reports.daily_setup import refill_row
from tests.rx.factories import dispense, first_fill, make_rx

pytestmark = pytest.mark.django_db
D = Decimal


def name(user) -> str:
    return f"{user.first_name} {user.last_name}"


# --- Dispensing -------------------------------------------------------------------------------


def test_dispensing_lists_the_days_fills_with_new_refill_and_controlled_counts(
    site, technician, pharmacist, outsider
):
    today = site.today()
    ana = PatientFactory(site=site, first_name="Ana", last_name="Lopez")
    ben = PatientFactory(site=site, first_name="Ben", last_name="Ortiz")
    prozac = ready_fill(technician, pharmacist, patient=ana)
    oxy = ready_fill(technician, pharmacist, patient=ben, schedule="CII", refills_authorized=0)
    make_claim(prozac, make_plan(name="Blue Plan"), plan_paid=D("10"), patient_pay=D("2"))
    refill = refill_row(
        prozac.prescription,
        number=1,
        on=today,
        filled_by=technician,
        verified_by=pharmacist,
        quantity="28.5",
    )
    refill_row(prozac.prescription, number=2, on=today, status=FillStatus.CANCELLED)
    refill_row(prozac.prescription, number=3, on=today - dt.timedelta(days=1))
    dispense(first_fill(make_rx(outsider)), today)  # another pharmacy

    table = daily_reports.dispensing(site, today)

    rx1, rx2 = prozac.prescription.number, oxy.prescription.number
    assert table.columns == [
        "Rx",
        "Fill",
        "Patient",
        "Drug",
        "NDC",
        "Qty",
        "Days supply",
        "Prescriber",
        "Schedule",
        "Filled by",
        "Verified by",
        "New/Refill",
        "Payer",
    ]
    tech, rph = name(technician), name(pharmacist)
    assert table.rows == [
        [
            str(rx1),
            "0",
            "Ana Lopez",
            "Prozac 20 mg capsule",
            prozac.package.ndc10,
            "30",
            "30",
            "Okafor, Margaret, MD",
            "",
            tech,
            rph,
            "New",
            "Blue Plan",
        ],
        [
            str(rx1),
            "1",
            "Ana Lopez",
            "Prozac 20 mg capsule",
            refill.package.ndc10,
            "28.5",
            "30",
            "Okafor, Margaret, MD",
            "",
            tech,
            rph,
            "Refill",
            "Cash",
        ],
        [
            str(rx2),
            "0",
            "Ben Ortiz",
            "Oxycodone 20 mg capsule",
            oxy.package.ndc10,
            "30",
            "30",
            "Okafor, Margaret, MD",
            "CII",
            tech,
            rph,
            "New",
            "Cash",
        ],
    ]
    assert table.totals == [("Fills", "3"), ("New", "2"), ("Refills", "1"), ("Controlled", "1")]
    assert table.has_phi is True


def test_a_day_without_fills_is_an_empty_report(site):
    table = daily_reports.dispensing(site, site.today())
    assert table.rows == []
    assert table.totals == [("Fills", "0"), ("New", "0"), ("Refills", "0"), ("Controlled", "0")]


# --- Inventory movement and the controlled-substance log --------------------------------------


def test_inventory_movement_sums_the_ledger_by_reason_and_unit_exactly(
    site, technician, pharmacist, outsider
):
    today = site.today()
    ready_fill(technician, pharmacist)  # opening +100 EA, dispensed -30 EA
    ready_fill(technician, pharmacist, schedule="CII", refills_authorized=0)  # the same
    syrup = package("0121-0775-16", name="Guaifenesin", dosage_form="LIQUID")
    syrup.billing_unit = "ML"
    syrup.save()
    balance = stock(site, syrup, lot="S1", quantity="473.5")
    with transaction.atomic():
        ledger.post_out(balance=balance, quantity=D("0.125"), reason=MoveReason.WASTE, actor=None)
    stock(outsider.site, syrup, lot="S1", quantity="99")  # another pharmacy

    table = daily_reports.inventory_movement(site, today)

    assert table.columns == ["Reason", "Unit", "Moves", "In", "Out", "Net"]
    assert table.rows == [
        ["Dispensed", "EA", "2", "0", "60", "-60"],
        ["Waste or damage", "ML", "1", "0", "0.125", "-0.125"],
        ["Opening balance", "EA", "2", "200", "0", "200"],
        ["Opening balance", "ML", "1", "473.5", "0", "473.5"],
    ]
    assert table.totals == [("Moves", "6"), ("Net EA", "140"), ("Net ML", "473.375")]
    assert daily_reports.inventory_movement(site, today - dt.timedelta(days=1)).rows == []


def test_the_controlled_log_is_the_controlled_apps_daily_log(site, technician, pharmacist):
    today = site.today()
    ready_fill(technician, pharmacist)  # not controlled: not in the log
    oxy = ready_fill(technician, pharmacist, schedule="CII", refills_authorized=0)

    table = daily_reports.controlled(site, today)

    picked = [[r[0], r[2], r[3], r[4], r[5], r[6], r[7], r[8]] for r in table.rows]
    drug = "Oxycodone 20 mg capsule"
    ndc = oxy.package.ndc10
    assert picked == [
        ["Schedule II", drug, ndc, "LOT-A", "Opening balance", "100", "EA", "100"],
        ["Schedule II", drug, ndc, "LOT-A", "Dispensed", "-30", "EA", "70"],
    ]
    assert table.rows[1][12] == oxy.prescription.patient.full_name
    assert table.totals == [
        ("Schedule II: moves", "2"),
        ("Schedule II: Dispensed", "1 (-30 EA)"),
        ("Schedule II: Opening balance", "1 (100 EA)"),
        ("Schedules III–V: moves", "0"),
    ]
    assert table.notes == [
        "Schedule II log: Not signed",
        "Schedules III–V log: Not signed — no controlled-substance activity",
    ]


# --- Claims -----------------------------------------------------------------------------------


def test_claims_summary_counts_the_days_claims_by_plan_and_status(site, technician, outsider):
    today = site.today()
    commercial = make_plan()
    part_d = make_plan(commercial.payer, name="Test Part D", bin="004336", pcn="MEDDPCN")

    def fill():
        return first_fill(make_rx(technician))

    paid = {"status": ClaimStatus.PAID}
    make_claim(fill(), commercial, **paid, plan_paid=D("10.50"), patient_pay=D("5"))
    make_claim(fill(), commercial, **paid, plan_paid=D("2.25"), patient_pay=D("1"))
    make_claim(
        fill(), commercial, status=ClaimStatus.REJECTED, plan_paid=D("0"), patient_pay=D("0")
    )
    make_claim(fill(), part_d, **paid, plan_paid=D("40.00"), patient_pay=D("4.10"))
    make_claim(
        fill(),
        part_d,
        **paid,
        plan_paid=D("9"),
        patient_pay=D("0"),
        date_of_service=today - dt.timedelta(days=1),
    )
    make_claim(
        first_fill(make_rx(outsider)), commercial, **paid, plan_paid=D("99"), patient_pay=D("0")
    )

    table = daily_reports.claims_summary(site, today)

    assert table.rows == [
        ["Test Commercial", "610014", "Paid", "2", "6.00", "12.75"],
        ["Test Commercial", "610014", "Rejected", "1", "0.00", "0.00"],
        ["Test Part D", "004336", "Paid", "1", "4.10", "40.00"],
    ]
    assert table.totals == [
        ("Claims", "4"),
        ("Paid", "3 (patients 10.10, plans 52.75)"),
        ("Rejected", "1 (patients 0.00, plans 0.00)"),
    ]
    assert table.has_phi is False


# --- Will-call aging --------------------------------------------------------------------------


def test_will_call_aging_buckets_the_bags_and_flags_those_past_the_return_window(
    site, technician, pharmacist
):
    today = site.today()
    now = timezone.now()
    rx = make_rx(technician, patient=PatientFactory(site=site, first_name="Cy", last_name="Lee"))

    def waiting(number: int, days: int, **over):
        over.setdefault("status", FillStatus.READY)
        return refill_row(
            rx,
            number=number,
            on=today - dt.timedelta(days=days),
            ready_at=now - dt.timedelta(days=days),
            bin=f"B{number}",
            **over,
        )

    fresh = ready_fill(technician, pharmacist)  # ready now: 0 days
    waiting(1, 5)
    waiting(2, 9)  # deadline today + 1: not past
    waiting(3, 12)  # deadline today - 2: past
    waiting(4, 2, status=FillStatus.DISPENSED, sold_at=now)  # sold today: gone tonight
    sold_tomorrow = waiting(5, 3, status=FillStatus.DISPENSED, sold_at=now + dt.timedelta(days=2))
    refill_row(rx, number=6, on=today, status=FillStatus.FILLED)  # not ready yet

    table = daily_reports.will_call_aging(site, today)

    picked = [[r[0], r[1], r[2], r[7], r[8], r[9], r[10]] for r in table.rows]
    n = str(rx.number)
    assert picked == [
        ["B3", n, "3", "12", "Over 10 days", (today - dt.timedelta(days=2)).isoformat(), "Yes"],
        ["B2", n, "2", "9", "8–10 days", (today + dt.timedelta(days=1)).isoformat(), ""],
        ["B1", n, "1", "5", "4–7 days", (today + dt.timedelta(days=5)).isoformat(), ""],
        ["B5", n, "5", "3", "0–3 days", (today + dt.timedelta(days=7)).isoformat(), ""],
        [
            fresh.bin,
            str(fresh.prescription.number),
            "0",
            "0",
            "0–3 days",
            (today + dt.timedelta(days=10)).isoformat(),
            "",
        ],
    ]
    assert table.rows[0][3] == "Cy Lee"
    assert table.totals == [
        ("Waiting", "5"),
        ("0–3 days", "2"),
        ("4–7 days", "1"),
        ("8–10 days", "1"),
        ("Over 10 days", "1"),
        ("Past the return-to-stock deadline", "1"),
    ]
    assert sold_tomorrow.pk  # sold after the day: still waiting at its end


# --- Expiring stock ---------------------------------------------------------------------------


def test_expiring_stock_lists_lots_on_hand_by_window(site, outsider):
    today = site.today()
    pkg = package()

    def lot(number: str, days: int, quantity: str = "10"):
        return stock(
            site, pkg, lot=number, quantity=quantity, expiry=today + dt.timedelta(days=days)
        )

    lot("GONE", -1, "5")
    lot("D30", 30, "12.5")
    lot("D31", 31)
    lot("D90", 90)
    lot("D91", 91)  # beyond the horizon
    empty = lot("EMPTY", -3)
    with transaction.atomic():
        ledger.post_out(balance=empty, quantity=D("10"), reason=MoveReason.WASTE, actor=None)
    stock(outsider.site, pkg, lot="OTHER", quantity="1", expiry=today)  # another pharmacy

    table = daily_reports.expiring_stock(site, today)

    picked = [[r[4], r[6], r[7], r[8], r[9]] for r in table.rows]
    assert picked == [
        ["GONE", "-1", "Expired", "5", "EA"],
        ["D30", "30", "Within 30 days", "12.5", "EA"],
        ["D31", "31", "31–60 days", "10", "EA"],
        ["D90", "90", "61–90 days", "10", "EA"],
    ]
    assert table.totals == [
        ("Lots", "4"),
        ("Expired", "1"),
        ("Within 30 days", "1"),
        ("31–60 days", "1"),
        ("61–90 days", "1"),
    ]


# --- Interventions ----------------------------------------------------------------------------


def test_interventions_of_the_day_with_open_closed_and_minutes(site, pharmacist, outsider):
    today = site.today()
    ana = PatientFactory(site=site, first_name="Ana", last_name="Lopez")
    intervention_record(
        actor=pharmacist,
        patient=ana,
        problem="DD",
        problem_detail="Warfarin and fluconazole",
        action="AS",
        outcome="1B",
        minutes=10,
    )
    intervention_record(
        actor=pharmacist,
        patient=ana,
        problem="HD",
        problem_detail="Dose high",
        action="AS",
        minutes=5,
    )

    table = daily_reports.interventions(site, today)

    picked = [[r[1], r[3], r[4], r[5], r[7], r[8], r[9]] for r in table.rows]
    rph = name(pharmacist)
    assert picked == [
        [
            "Ana Lopez",
            "DD Drug-drug interaction",
            "AS Patient assessment",
            "1B Filled prescription as is",
            "Closed",
            "10",
            rph,
        ],
        [
            "Ana Lopez",
            "HD High dose",
            "AS Patient assessment",
            "",
            "Waiting for an outcome",
            "5",
            rph,
        ],
    ]
    assert table.totals == [
        ("Interventions", "2"),
        ("Open", "1"),
        ("Closed", "1"),
        ("Minutes", "15"),
    ]
    assert daily_reports.interventions(site, today - dt.timedelta(days=1)).rows == []
