"""Set-up for billing tests: a payer whose switch is a real test-payer process, a plan, a
patient's card, a priced prescription waiting for data verification."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.utils import timezone

from rxdesk.catalog.choices import PriceKind
from rxdesk.catalog.models import PackagePrice
from rxdesk.claims.models import Payer, Plan
from rxdesk.core.models import Site, User
from rxdesk.patients.choices import CoverageKind
from rxdesk.patients.models import Coverage, Patient
from rxdesk.rx.models import Fill, Prescription
from tests.rx.factories import first_fill, make_rx

NPI = "1234567893"
BIN, PCN = "610014", "TESTPCN"
MEMBER = "ZZQ900112233"


def plan_rules(**over: Any) -> dict[str, Any]:
    """One commercial plan: generic co-pay $5, pays 90 % of the ingredient cost + $1.50."""
    plan = {
        "bin": BIN,
        "pcn": PCN,
        "name": "Test Commercial",
        "copay": {"generic": "5.00", "brand": "25.00"},
        "ingredient_cost_percent": "90",
        "dispensing_fee": "1.50",
        "max_days_supply": 34,
    }
    plan.update(over)
    return plan


def payer_for(process: Any, *, name: str = "Test PBM", timeout: int = 3) -> Payer:
    return Payer.objects.create(
        name=name, host=process.host, port=process.port, timeout_seconds=timeout
    )


def plan_for(payer: Payer, *, bin: str = BIN, pcn: str = PCN, **over: Any) -> Plan:
    values: dict[str, Any] = {"name": "Test Commercial", "dispensing_fee": Decimal("1.75")}
    values.update(over)
    return Plan.objects.create(payer=payer, bin=bin, pcn=pcn, **values)


def card(
    patient: Patient,
    *,
    rank: int = 1,
    bin: str = BIN,
    pcn: str = PCN,
    member_id: str = MEMBER,
    kind: str = CoverageKind.PLAN,
    **over: Any,
) -> Coverage:
    return Coverage.objects.create(
        patient=patient, rank=rank, bin=bin, pcn=pcn, member_id=member_id, kind=kind, **over
    )


def priced_rx(technician: User, *, list_price: str = "30.00", cash: str = "40.00", **over: Any):
    """A prescription for 30 capsules of a 30-count bottle, list price and cash price on
    file; its first fill waits for data verification."""
    site: Site = technician.site  # type: ignore[assignment]
    if not site.npi:
        site.npi = NPI
        site.save(update_fields=["npi"])
    rx: Prescription = make_rx(technician, **over)
    # Since yesterday: today's UTC date is tomorrow for a US pharmacy each evening.
    today = timezone.now().date() - dt.timedelta(days=1)
    PackagePrice.objects.create(
        package=rx.package, kind=PriceKind.LIST, amount=Decimal(list_price), effective_on=today
    )
    PackagePrice.objects.create(
        package=rx.package,
        kind=PriceKind.USUAL_CUSTOMARY,
        amount=Decimal(cash),
        effective_on=today,
    )
    fill: Fill = first_fill(rx)
    return rx, fill
