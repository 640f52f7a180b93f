"""Hand-made records for the metrics tests: two days at a Chicago pharmacy (Mon 02/03/2025
and Tue 02/04/2025; CST, UTC-6), with every fill step, alert, stock move and claim at a time
chosen so each figure can be worked out by hand (see tests/reports/test_metrics.py).

The rows are written straight into the tables on purpose: the metrics only read records,
and the figures depend on exact past times that the services (which stamp "now") cannot
give. The fills' history obeys the workflow (each step starts where the one before ended)."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from decimal import Decimal
from typing import Any

from rxdesk.catalog.models import Package
from rxdesk.claims.models import Claim, Payer, Plan
from rxdesk.core.models import Site, User
from rxdesk.inventory.models import Lot, StockMove
from rxdesk.patients.models import Coverage
from rxdesk.rx.choices import FillStatus, FillStep
from rxdesk.rx.models import Fill, FillEvent, Prescription
from rxdesk.screening.models import FillAlert
from tests.catalog.factories import PackageFactory, PriceFactory
from tests.rx.factories import first_fill, make_rx

CHICAGO = zoneinfo.ZoneInfo("America/Chicago")
START, END = dt.date(2025, 2, 3), dt.date(2025, 2, 4)

Q, TF, FD, RD, DS, CX = (
    FillStatus.QUEUED,
    FillStatus.TO_FILL,
    FillStatus.FILLED,
    FillStatus.READY,
    FillStatus.DISPENSED,
    FillStatus.CANCELLED,
)


def local(day: int, hour: int, minute: int = 0, month: int = 2, year: int = 2025) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, tzinfo=CHICAGO)


def ev(fill: Fill, step: str, at: dt.datetime, frm: str, to: str, **data: Any) -> None:
    FillEvent.objects.create(
        fill=fill, step=step, at=at, from_status=frm, to_status=to, actor_name="test", data=data
    )


def new_fill(rx: Prescription, requested_at: dt.datetime, status: str = DS) -> Fill:
    """Fill 0 of ``rx`` (made by the prescription service, asked for now) moved to
    ``requested_at``."""
    fill = first_fill(rx)
    Fill.objects.filter(pk=fill.pk).update(requested_at=requested_at, status=status)
    fill.refresh_from_db()
    return fill


_numbers: dict[int, int] = {}


def refill(rx: Prescription, requested_at: dt.datetime, status: str = DS) -> Fill:
    number = _numbers.get(rx.pk, 0) + 1
    while Fill.objects.filter(prescription=rx, number=number).exists():
        number += 1
    _numbers[rx.pk] = number
    return Fill.objects.create(
        site=rx.site,
        prescription=rx,
        number=number,
        source="phone",
        quantity=Decimal(30),
        days_supply=30,
        requested_at=requested_at,
        status=status,
    )


def workflow(technician: User) -> dict[str, Fill]:
    """Five fills: A and C new, B and D refills, E cancelled; D was asked for the day
    before the period."""
    rx1, rx2 = make_rx(technician), make_rx(technician)
    a = new_fill(rx1, local(3, 9, 10))
    ev(a, FillStep.ENTERED, local(3, 9, 10), "", Q)
    ev(a, FillStep.DATA_VERIFIED, local(3, 9, 25), Q, TF)
    ev(a, FillStep.FILLED, local(3, 9, 40), TF, FD)
    ev(a, FillStep.SENT_BACK, local(3, 9, 50), FD, TF, at_step="final_verification")
    ev(a, FillStep.FILLED, local(3, 10, 5), TF, FD)
    ev(a, FillStep.FINAL_VERIFIED, local(3, 10, 15), FD, RD)
    ev(a, FillStep.SOLD, local(4, 14, 15), RD, DS)

    b = refill(rx1, local(3, 9, 30), status=RD)
    ev(b, FillStep.ENTERED, local(3, 9, 30), "", Q)
    ev(b, FillStep.SENT_BACK, local(3, 9, 45), Q, Q, at_step="data_verification")
    ev(b, FillStep.DATA_VERIFIED, local(3, 10, 30), Q, TF)
    ev(b, FillStep.SCAN_OVERRIDDEN, local(3, 10, 50), TF, TF, problem="other NDC")
    ev(b, FillStep.FILLED, local(3, 10, 50), TF, FD)
    ev(b, FillStep.FINAL_VERIFIED, local(3, 11, 30), FD, RD)

    c = new_fill(rx2, local(4, 8, 0), status=RD)
    ev(c, FillStep.ENTERED, local(4, 8, 0), "", Q)
    ev(c, FillStep.DATA_VERIFIED, local(4, 8, 20), Q, TF)
    ev(c, FillStep.FILLED, local(4, 8, 35), TF, FD)
    ev(c, FillStep.FINAL_VERIFIED, local(4, 8, 40), FD, RD)

    d = refill(rx2, local(2, 16, 0), status=TF)
    ev(d, FillStep.ENTERED, local(2, 16, 0), "", Q)
    ev(d, FillStep.DATA_VERIFIED, local(3, 8, 30), Q, TF)

    e = refill(rx2, local(3, 12, 0), status=CX)
    ev(e, FillStep.ENTERED, local(3, 12, 0), "", Q)
    ev(e, FillStep.CANCELLED, local(3, 12, 5), Q, CX)
    return {"a": a, "b": b, "c": c, "d": d, "e": e}


def alert(fill: Fill, key: str, type: str, severity: str, interrupting: bool, **kw: Any) -> None:
    FillAlert.objects.create(
        site=fill.site,
        fill=fill,
        key=key,
        rule=f"test:{key}",
        type=type,
        severity=severity,
        interrupting=interrupting,
        message="An alert",
        source="test",
        **kw,
    )


def alerts(fills: dict[str, Fill]) -> None:
    a, b, c = fills["a"], fills["b"], fills["c"]
    alert(a, "dd1", "DD", "major", True, raised_at=local(3, 9, 20), result_of_service="1B")
    alert(b, "dd2", "DD", "major", True, raised_at=local(3, 10, 20), result_of_service="2A")
    alert(c, "td1", "TD", "moderate", False, raised_at=local(4, 8, 10))
    alert(c, "late", "DD", "major", True, raised_at=local(5, 0, 0), result_of_service="1A")


# --- Stock --------------------------------------------------------------------------------------


def _pkg(ndc10: str, units: int, price: str | None) -> Package:
    package = PackageFactory(
        ndc10=ndc10, description=f"{units} TABLET in 1 BOTTLE ({ndc10})", package_quantity=units
    )
    if price is not None:
        PriceFactory(package=package, amount=Decimal(price), effective_on=dt.date(2024, 1, 1))
    return package


def move(site: Site, package: Package, qty: int, reason: str, at: dt.datetime) -> None:
    lot, _ = Lot.objects.get_or_create(package=package, number="L1", defaults={"expiry": None})
    StockMove.objects.create(
        site=site,
        package=package,
        lot=lot,
        quantity=Decimal(qty),
        balance_after=Decimal(0),  # not read by the metrics
        reason=reason,
        actor_name="test",
        occurred_at=at,
    )


def stock(site: Site) -> dict[str, Package]:
    p1 = _pkg("0093-0001-30", 30, "12.50")
    PriceFactory(package=p1, amount=Decimal("99.00"), effective_on=dt.date(2025, 3, 1))  # later
    p2 = _pkg("0093-0002-01", 100, "50.00")
    p3 = _pkg("0093-0003-10", 10, None)
    p4 = _pkg("0093-0004-30", 30, "30.00")
    p5 = _pkg("0093-0005-05", 5, None)
    p6 = _pkg("0093-0006-30", 30, "10.00")
    move(site, p1, 60, "opening", local(10, 12, month=1))
    move(site, p1, -30, "dispense", local(3, 10))
    move(site, p1, 30, "return_to_stock", local(3, 15))
    move(site, p1, -30, "dispense", local(4, 9))
    move(site, p2, 200, "receive", local(20, 12, month=1))
    move(site, p2, -50, "dispense", local(4, 11))
    move(site, p2, 100, "receive", local(4, 12))
    move(site, p3, 10, "opening", local(1, 12, month=1))
    move(site, p3, -5, "dispense", local(3, 13))
    move(site, p4, 40, "opening", local(1, 12, month=6, year=2024))
    move(site, p4, -10, "dispense", local(15, 7, month=7, year=2024))
    move(site, p5, 5, "opening", local(1, 12, month=1, year=2024))
    move(site, p6, 5, "opening", local(1, 12, month=1, year=2024))
    move(site, p6, -5, "waste", local(1, 12, month=2, year=2024))
    # After the period: not counted.
    move(site, p2, -100, "dispense", local(5, 9))
    return {"p1": p1, "p2": p2, "p3": p3, "p4": p4, "p5": p5, "p6": p6}


# --- Claims -------------------------------------------------------------------------------------


def claims(technician: User) -> None:
    rx = make_rx(technician)
    payer = Payer.objects.create(name="Metrics PBM", port=5999)
    alpha = Plan.objects.create(payer=payer, name="Alpha Health", bin="610014", pcn="ALPHA")
    beta = Plan.objects.create(payer=payer, name="Beta Rx", bin="004336", pcn="")
    coverage = Coverage.objects.create(
        patient=rx.patient, rank=1, bin="610014", pcn="ALPHA", member_id="M1"
    )

    def claim(plan: Plan, status: str, codes: list[str], day: dt.date, answered: bool = True):
        fill = refill(rx, local(1, 9))  # asked for before the period
        Claim.objects.create(
            site=rx.site,
            fill=fill,
            coverage=coverage,
            plan=plan,
            status=status,
            rx_number=rx.number,
            fill_number=fill.number,
            date_of_service=day,
            ndc=rx.package.ndc11 if rx.package else "00002322730",
            quantity=Decimal(30),
            days_supply=30,
            reject_codes=codes,
            answered_at=local(day.day, 9, month=day.month) if answered else None,
        )

    claim(alpha, "rejected", ["75"], START)
    claim(alpha, "rejected", ["75", "88"], END)
    claim(alpha, "paid", [], START)
    claim(alpha, "paid", [], END)
    claim(beta, "rejected", ["70"], START)
    claim(beta, "paid", [], START)
    claim(beta, "captured", [], END)
    # Not counted: before the period, and not answered yet.
    claim(alpha, "rejected", ["76"], dt.date(2025, 2, 2))
    claim(beta, "queued", [], START, answered=False)


def everything(technician: User) -> dict[str, Any]:
    fills = workflow(technician)
    alerts(fills)
    assert technician.site is not None
    packages = stock(technician.site)
    claims(technician)
    return {"fills": fills, "packages": packages}
