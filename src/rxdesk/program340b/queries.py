"""Reads of the 340B program: the set-up, the virtual inventory (packages due per NDC),
decisions with their reasons, orders and the audit report tying each order to the
dispenses it covers. No patient names: the inventory specialist reads these too."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from rxdesk.core.capabilities import Cap
from rxdesk.core.errors import NotFound
from rxdesk.core.models import Site, User
from rxdesk.core.services import authorize
from rxdesk.program340b import rules
from rxdesk.program340b.choices import CaptureKind
from rxdesk.program340b.models import (
    Accumulator,
    Allocation,
    Capture,
    CoveredEntity,
    EligiblePatient,
    EligiblePrescriber,
    Encounter,
    NdcExclusion,
    PayerRule,
    ReplenishmentOrder,
)

RECENT = 20
LIST_LIMIT = 500


def _site(actor: User) -> Site:
    authorize(actor, Cap.P340B_VIEW)
    assert actor.site is not None
    return actor.site


def entity(*, actor: User) -> CoveredEntity | None:
    return CoveredEntity.objects.filter(site=_site(actor)).first()


@dataclass(frozen=True)
class InventoryLine:
    """One NDC of the virtual inventory."""

    package_id: int
    ndc11: str
    ndc10: str
    description: str
    billing_unit: str
    package_size: Decimal
    units: Decimal
    packages_due: int
    remainder: Decimal

    @property
    def owed_back(self) -> Decimal:
        return -self.units if self.units < 0 else Decimal(0)


def inventory(*, actor: User) -> list[InventoryLine]:
    """Every NDC with units accumulated (or owed back), packages due first."""
    rows = (
        Accumulator.objects.filter(site=_site(actor))
        .exclude(units=0)
        .select_related("package")
        .order_by("package__ndc11")
    )
    out = []
    for row in rows:
        size = row.package.package_quantity
        due, rest = rules.packages_due(row.units, size)
        out.append(
            InventoryLine(
                package_id=row.package_id,
                ndc11=row.package.ndc11,
                ndc10=row.package.ndc10,
                description=row.package.description,
                billing_unit=row.package.billing_unit,
                package_size=size,
                units=row.units,
                packages_due=due,
                remainder=rest,
            )
        )
    return sorted(out, key=lambda line: (-line.packages_due, line.ndc11))


def decisions(*, actor: User, day: dt.date | None = None, limit: int = RECENT) -> list[Capture]:
    """Decisions and reversals (newest first), of one day if given."""
    rows = Capture.objects.filter(site=_site(actor)).select_related("fill__prescription", "package")
    if day is not None:
        rows = rows.filter(day=day)
    return list(rows.order_by("-day", "-pk")[:limit])


def prescribers(*, actor: User) -> list[EligiblePrescriber]:
    return list(
        EligiblePrescriber.objects.filter(site=_site(actor)).order_by("npi", "effective_from")[
            :LIST_LIMIT
        ]
    )


def patients(*, actor: User) -> list[EligiblePatient]:
    authorize(actor, Cap.PATIENT_VIEW)
    return list(
        EligiblePatient.objects.filter(site=_site(actor))
        .select_related("patient")
        .order_by("patient__last_name", "patient__first_name", "effective_from")[:LIST_LIMIT]
    )


def encounters(*, actor: User) -> list[Encounter]:
    authorize(actor, Cap.PATIENT_VIEW)
    return list(
        Encounter.objects.filter(site=_site(actor))
        .select_related("patient")
        .order_by("-on", "-pk")[:LIST_LIMIT]
    )


def payer_rules(*, actor: User) -> list[PayerRule]:
    return list(
        PayerRule.objects.filter(site=_site(actor))
        .select_related("plan")
        .order_by("plan__name", "pk")
    )


def exclusions(*, actor: User) -> list[NdcExclusion]:
    return list(NdcExclusion.objects.filter(site=_site(actor)).order_by("ndc11")[:LIST_LIMIT])


def orders(*, actor: User, limit: int = 100) -> list[ReplenishmentOrder]:
    return list(
        ReplenishmentOrder.objects.filter(site=_site(actor))
        .select_related("package", "ordered_by")
        .order_by("-ordered_at", "-pk")[:limit]
    )


def order(*, actor: User, pk: int) -> ReplenishmentOrder:
    found = (
        ReplenishmentOrder.objects.filter(site=_site(actor), pk=pk)
        .select_related("package", "ordered_by")
        .first()
    )
    if found is None:
        raise NotFound("No such 340B order at this pharmacy.", field="order")
    return found


@dataclass(frozen=True)
class ReportLine:
    """One dispense (or part of one) covered by one order."""

    po_number: str
    ordered_at: dt.datetime
    ndc11: str
    packages: int
    order_units: Decimal
    rx_number: str
    fill_number: int
    dispensed_on: dt.date
    prescriber_npi: str
    dispensed_units: Decimal
    allocated_units: Decimal
    returned: bool


def report(
    *, actor: User, start: dt.date | None = None, end: dt.date | None = None
) -> list[ReportLine]:
    """Each replenishment order (ordered in [start, end], local days) with the exact
    dispenses it covers, from the allocation rows kept when it was placed."""
    site = _site(actor)
    rows = Allocation.objects.filter(site=site).select_related(
        "order__package", "capture__fill__prescription__prescriber"
    )
    returned = set(
        Capture.objects.filter(site=site, kind=CaptureKind.REVERSAL).values_list(
            "fill_id", flat=True
        )
    )
    out = []
    for row in rows.order_by("order__ordered_at", "order_id", "capture__day", "capture_id"):
        placed = row.order.ordered_at.astimezone(site.tz)
        if start is not None and placed.date() < start:
            continue
        if end is not None and placed.date() > end:
            continue
        fill = row.capture.fill
        rx = fill.prescription
        out.append(
            ReportLine(
                po_number=row.order.po_number,
                ordered_at=placed,
                ndc11=row.order.package.ndc11,
                packages=row.order.packages,
                order_units=row.order.units,
                rx_number=str(rx.number),
                fill_number=fill.number,
                dispensed_on=row.capture.day,
                prescriber_npi=rx.prescriber.npi if rx.prescriber_id else "",
                dispensed_units=row.capture.units,
                allocated_units=row.units,
                returned=fill.pk in returned,
            )
        )
    return out


REPORT_HEADER = [
    "PO number",
    "Ordered at",
    "NDC",
    "Packages",
    "Order units",
    "Rx number",
    "Fill",
    "Dispensed on",
    "Prescriber NPI",
    "Dispensed units",
    "Units covered",
    "Returned to stock",
]


def report_rows(lines: list[ReportLine]) -> list[list[str]]:
    return [
        [
            line.po_number,
            f"{line.ordered_at:%Y-%m-%d %H:%M}",
            line.ndc11,
            str(line.packages),
            rules.units_text(line.order_units),
            line.rx_number,
            str(line.fill_number),
            line.dispensed_on.isoformat(),
            line.prescriber_npi,
            rules.units_text(line.dispensed_units),
            rules.units_text(line.allocated_units),
            "yes" if line.returned else "",
        ]
        for line in lines
    ]
