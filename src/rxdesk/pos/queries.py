"""Reads of the point of sale: the day's sales report and the controlled-substance pickups
of the day (with CSV exports of both), and the lists the screens show.

A day is the pharmacy's calendar day in its own time zone."""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import Count, Q, QuerySet, Sum

from rxdesk.core.audit import audit_record, register_actions
from rxdesk.core.capabilities import Cap
from rxdesk.core.errors import NotFound
from rxdesk.core.models import Site, User
from rxdesk.core.services import authorize
from rxdesk.pos.choices import HouseEntryKind, LineKind, SaleStatus, TenderKind
from rxdesk.pos.models import (
    Drawer,
    HouseAccount,
    HouseEntry,
    Pickup,
    Refund,
    Sale,
    SaleLine,
    Tender,
)

register_actions(
    {"pos.report.cs_pickups": "Controlled-substance pickups of a day viewed (PHI access)"}
)

ZERO = Decimal("0.00")


def _site(actor: User | None, site: Site | None) -> Site:
    if actor is not None:
        if actor.site is None:
            raise NotFound("Your account is not attached to a pharmacy.")
        return actor.site
    if site is None:
        raise NotFound("Say which pharmacy.")
    return site


def day_bounds(site: Site, day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """Midnight to midnight at the pharmacy (a day is 23 or 25 hours when the clocks move)."""
    tz = site.tz
    start = dt.datetime.combine(day, dt.time.min, tzinfo=tz)
    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time.min, tzinfo=tz)
    return start, end


def _sum(qs: QuerySet[Any], name: str = "amount") -> Decimal:
    value = qs.aggregate(s=Sum(name))["s"]
    return (value or ZERO).quantize(Decimal("0.01"))


@dataclass
class DrawerLine:
    register: str
    status: str
    opened_by: str
    opened_at: dt.datetime
    closed_by: str
    closed_at: dt.datetime | None
    opening_cash: Decimal
    expected_cash: Decimal | None
    counted_cash: Decimal | None
    expected_checks: Decimal | None
    counted_checks: Decimal | None
    over_short: Decimal | None
    note: str


@dataclass
class DailySales:
    """The day at the counter."""

    site: Site
    day: dt.date
    sales: int = 0
    subtotal: Decimal = ZERO
    tax: Decimal = ZERO
    gross: Decimal = ZERO
    by_tender: dict[str, Decimal] = field(default_factory=dict)
    refunds: int = 0
    refunded: Decimal = ZERO
    voids: int = 0
    voided: Decimal = ZERO
    rx_picked_up: int = 0
    otc_items: Decimal = ZERO
    pse_items: Decimal = ZERO
    house_charges: Decimal = ZERO
    house_payments: Decimal = ZERO
    cancelled: int = 0
    drawers: list[DrawerLine] = field(default_factory=list)

    @property
    def net(self) -> Decimal:
        return self.gross - self.refunded - self.voided

    def tender_rows(self) -> list[tuple[str, Decimal]]:
        return [(TenderKind(k).label, self.by_tender.get(k, ZERO)) for k in TenderKind.values]


def _line_sales(site: Site, start: dt.datetime, end: dt.datetime) -> QuerySet[Sale]:
    """Sales with lines completed in the window (payments on account are not sales)."""
    return Sale.objects.filter(
        site=site, completed_at__gte=start, completed_at__lt=end, lines__isnull=False
    ).distinct()


def daily_sales(*, actor: User | None, day: dt.date, site: Site | None = None) -> DailySales:
    """Sales count, gross, tax, money taken by tender kind (net of refunds and voids given
    back that day), refunds, voids, prescriptions picked up, OTC and PSE items, house
    charges and payments, and the drawers of the day with their over/short."""
    authorize(actor, Cap.POS_REPORT)
    where = _site(actor, site)
    start, end = day_bounds(where, day)
    report = DailySales(site=where, day=day)
    sold = _line_sales(where, start, end)
    # A sale voided later still happened; the void is reported on its own line.
    counted = Sale.objects.filter(pk__in=sold.values("pk"))
    totals = counted.aggregate(n=Count("pk"), s=Sum("subtotal"), t=Sum("tax"), g=Sum("total"))
    report.sales = totals["n"] or 0
    report.subtotal = (totals["s"] or ZERO).quantize(Decimal("0.01"))
    report.tax = (totals["t"] or ZERO).quantize(Decimal("0.01"))
    report.gross = (totals["g"] or ZERO).quantize(Decimal("0.01"))
    tenders = Tender.objects.filter(
        sale__site=where, taken_at__gte=start, taken_at__lt=end, sale__lines__isnull=False
    ).distinct()
    for row in (
        Tender.objects.filter(pk__in=tenders.values("pk")).values("kind").annotate(s=Sum("amount"))
    ):
        report.by_tender[row["kind"]] = (row["s"] or ZERO).quantize(Decimal("0.01"))
    refunds = Refund.objects.filter(sale__site=where, refunded_at__gte=start, refunded_at__lt=end)
    report.refunds = refunds.filter(is_void=False).count()
    report.refunded = _sum(refunds.filter(is_void=False))
    report.voids = refunds.filter(is_void=True).count()
    report.voided = _sum(refunds.filter(is_void=True))
    report.cancelled = Sale.objects.filter(
        site=where,
        status=SaleStatus.VOIDED,
        completed_at__isnull=True,
        voided_at__gte=start,
        voided_at__lt=end,
    ).count()
    lines = SaleLine.objects.filter(sale__in=counted.filter(status=SaleStatus.COMPLETED)).aggregate(
        rx=Count("pk", filter=Q(kind=LineKind.RX)),
        otc=Sum("quantity", filter=Q(kind=LineKind.OTC)),
        pse=Sum("quantity", filter=Q(kind=LineKind.PSE) & Q(amount__gt=0)),
    )
    report.rx_picked_up = lines["rx"] or 0
    report.otc_items = (lines["otc"] or Decimal(0)).normalize()
    report.pse_items = (lines["pse"] or Decimal(0)).normalize()
    entries = HouseEntry.objects.filter(
        account__site=where, recorded_at__gte=start, recorded_at__lt=end
    )
    report.house_charges = _sum(entries.filter(kind=HouseEntryKind.CHARGE))
    report.house_payments = -_sum(entries.filter(kind=HouseEntryKind.PAYMENT))
    drawers = (
        Drawer.objects.filter(site=where)
        .filter(
            Q(opened_at__gte=start, opened_at__lt=end)
            | Q(closed_at__gte=start, closed_at__lt=end)
            | Q(opened_at__lt=end, status="open")
        )
        .select_related("opened_by", "closed_by")
        .order_by("opened_at", "pk")
    )
    report.drawers = [
        DrawerLine(
            register=d.register,
            status=d.get_status_display(),
            opened_by=d.opened_by.display_name,
            opened_at=d.opened_at,
            closed_by=d.closed_by.display_name if d.closed_by else "",
            closed_at=d.closed_at,
            opening_cash=d.opening_cash,
            expected_cash=d.expected_cash,
            counted_cash=d.counted_cash,
            expected_checks=d.expected_checks,
            counted_checks=d.counted_checks,
            over_short=d.over_short,
            note=d.close_note,
        )
        for d in drawers
    ]
    return report


def daily_sales_csv(report: DailySales) -> str:
    """The day's report as CSV: one "measure,value" row each, then the drawers."""
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(["measure", "value"])
    w.writerow(["pharmacy", report.site.name])
    w.writerow(["date", report.day.isoformat()])
    for name in (
        "sales",
        "subtotal",
        "tax",
        "gross",
        "refunds",
        "refunded",
        "voids",
        "voided",
        "net",
        "cancelled",
        "rx_picked_up",
        "otc_items",
        "pse_items",
        "house_charges",
        "house_payments",
    ):
        w.writerow([name, getattr(report, name)])
    for kind in TenderKind.values:
        w.writerow([f"tender_{kind}", report.by_tender.get(kind, ZERO)])
    w.writerow([])
    w.writerow(
        [
            "register",
            "status",
            "opened_by",
            "opened_at",
            "closed_by",
            "closed_at",
            "opening_cash",
            "expected_cash",
            "counted_cash",
            "expected_checks",
            "counted_checks",
            "over_short",
            "note",
        ]
    )
    tz = report.site.tz
    for d in report.drawers:
        w.writerow(
            [
                d.register,
                d.status,
                d.opened_by,
                d.opened_at.astimezone(tz).isoformat(timespec="minutes"),
                d.closed_by,
                d.closed_at.astimezone(tz).isoformat(timespec="minutes") if d.closed_at else "",
                d.opening_cash,
                "" if d.expected_cash is None else d.expected_cash,
                "" if d.counted_cash is None else d.counted_cash,
                "" if d.expected_checks is None else d.expected_checks,
                "" if d.counted_checks is None else d.counted_checks,
                "" if d.over_short is None else d.over_short,
                d.note,
            ]
        )
    return out.getvalue()


# --- Controlled-substance pickups --------------------------------------------------------------


@dataclass
class CsPickup:
    sold_at: dt.datetime
    receipt: str
    rx_number: int
    fill_number: int
    schedule: str
    drug: str
    quantity: Decimal
    patient: str
    picked_up_by: str
    relationship: str
    id_type: str
    id_last4: str
    id_state: str
    cashier: str


def cs_pickups(*, actor: User | None, day: dt.date, site: Site | None = None) -> list[CsPickup]:
    """Controlled-substance prescriptions sold on ``day``: Rx number, drug, quantity, the
    patient, who picked up and the ID they showed (its type and last four digits only).
    Reading it is a PHI access and is recorded."""
    authorize(actor, Cap.POS_REPORT)
    where = _site(actor, site)
    start, end = day_bounds(where, day)
    lines = (
        SaleLine.objects.filter(
            kind=LineKind.RX,
            sale__site=where,
            sale__status=SaleStatus.COMPLETED,
            sale__completed_at__gte=start,
            sale__completed_at__lt=end,
        )
        .exclude(fill__prescription__schedule="")
        .select_related("sale__completed_by", "fill__prescription__patient", "fill__prescription")
        .order_by("sale__completed_at", "pk")
    )
    found = list(lines)
    pickups = {
        p.sale_id: p for p in Pickup.objects.filter(sale_id__in={ln.sale_id for ln in found})
    }
    rows = []
    for ln in found:
        assert ln.fill is not None and ln.sale.completed_at is not None
        rx = ln.fill.prescription
        pickup = pickups.get(ln.sale_id)
        rows.append(
            CsPickup(
                sold_at=ln.sale.completed_at,
                receipt=ln.sale.receipt_number,
                rx_number=rx.number,
                fill_number=ln.fill.number,
                schedule=rx.schedule,
                drug=rx.drug_description,
                quantity=ln.fill.quantity.normalize(),
                patient=rx.patient.full_name,
                picked_up_by=pickup.person_name if pickup else "",
                relationship=(pickup.relationship or pickup.get_person_display()) if pickup else "",
                id_type=pickup.get_id_type_display() if pickup and pickup.id_type else "",
                id_last4=pickup.id_number[-4:] if pickup and pickup.id_number else "",
                id_state=pickup.id_state if pickup else "",
                cashier=ln.sale.completed_by.display_name if ln.sale.completed_by else "",
            )
        )
    with transaction.atomic():
        audit_record(
            actor=actor,
            site=where,
            action="pos.report.cs_pickups",
            object_type="pos.report",
            object_id=day.isoformat(),
            data={"day": day.isoformat(), "rows": len(rows)},
        )
    return rows


def cs_pickups_csv(site: Site, rows: list[CsPickup]) -> str:
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(
        [
            "sold_at",
            "receipt",
            "rx_number",
            "fill_number",
            "schedule",
            "drug",
            "quantity",
            "patient",
            "picked_up_by",
            "relationship",
            "id_type",
            "id_last4",
            "id_state",
            "cashier",
        ]
    )
    tz = site.tz
    for r in rows:
        w.writerow(
            [
                r.sold_at.astimezone(tz).isoformat(timespec="minutes"),
                r.receipt,
                r.rx_number,
                r.fill_number,
                r.schedule,
                r.drug,
                f"{r.quantity:f}",
                r.patient,
                r.picked_up_by,
                r.relationship,
                r.id_type,
                r.id_last4,
                r.id_state,
                r.cashier,
            ]
        )
    return out.getvalue()


# --- Lists for the screens and the API ---------------------------------------------------------


def sale_get(*, actor: User, sale_id: int) -> Sale:
    """A sale of the actor's pharmacy."""
    authorize(actor, Cap.RX_SELL)
    found = (
        Sale.objects.filter(pk=sale_id, site_id=actor.site_id)
        .select_related("site", "patient", "drawer", "started_by", "completed_by", "voided_by")
        .first()
    )
    if found is None:
        raise NotFound("No such sale at this pharmacy.")
    return found


def house_account_get(*, actor: User, account_id: int) -> HouseAccount:
    authorize(actor, Cap.RX_SELL)
    found = (
        HouseAccount.objects.filter(pk=account_id, site_id=actor.site_id)
        .select_related("site", "patient")
        .first()
    )
    if found is None:
        raise NotFound("No such house account at this pharmacy.")
    return found


def house_accounts(*, actor: User) -> list[HouseAccount]:
    authorize(actor, Cap.RX_SELL)
    return list(
        HouseAccount.objects.filter(site_id=actor.site_id)
        .annotate(balance=Sum("entries__amount"))
        .order_by("-active", "number")
    )


def drawer_get(*, actor: User, drawer_id: int) -> Drawer:
    authorize(actor, Cap.RX_SELL)
    found = Drawer.objects.filter(pk=drawer_id, site_id=actor.site_id).first()
    if found is None:
        raise NotFound("No such drawer at this pharmacy.")
    return found


def _m(value: Decimal | None) -> str:
    return "" if value is None else (f"-${-value:,.2f}" if value < 0 else f"${value:,.2f}")


def daily_sales_text(report: DailySales, pickups: list[CsPickup] | None = None) -> str:
    """The day's report as plain text (for the command line)."""
    lines = [
        f"{report.site.name} — day report {report.day:%m/%d/%Y}",
        f"Sales: {report.sales}  (cancelled before payment: {report.cancelled})",
        f"Gross: {_m(report.gross)}  (before tax {_m(report.subtotal)}, tax {_m(report.tax)})",
        f"Refunds: {report.refunds} {_m(report.refunded)}   Voids: {report.voids} "
        f"{_m(report.voided)}   Net: {_m(report.net)}",
        f"Prescriptions picked up: {report.rx_picked_up}   OTC items: {report.otc_items}   "
        f"PSE items: {report.pse_items}",
        f"House charges: {_m(report.house_charges)}   House payments: {_m(report.house_payments)}",
        "Taken by tender (net of money given back):",
    ]
    lines += [f"  {label}: {_m(amount)}" for label, amount in report.tender_rows()]
    lines.append("Drawers:")
    for d in report.drawers:
        lines.append(
            f"  {d.register} ({d.status}) opened by {d.opened_by}: opening {_m(d.opening_cash)}, "
            f"expected {_m(d.expected_cash)}, counted {_m(d.counted_cash)}, "
            f"over/short {_m(d.over_short)} {d.note}".rstrip()
        )
    if not report.drawers:
        lines.append("  none")
    if pickups is not None:
        lines.append(f"Controlled-substance pickups: {len(pickups)}")
        for p in pickups:
            lines.append(
                f"  Rx {p.rx_number}-{p.fill_number} {p.schedule} {p.drug} × {p.quantity:f} — "
                f"{p.patient}; picked up by {p.picked_up_by or '?'}"
                f"{' (' + p.relationship + ')' if p.relationship else ''}"
                f"{', ' + p.id_type + ' …' + p.id_last4 if p.id_last4 else ''}"
            )
    return "\n".join(lines)
