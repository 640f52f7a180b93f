"""Reads of the Schedule II order forms and of the controlled-substance receipts, shared by
the API and the screens.

An order's status as shown: a form still open or partly filled past its 60 days
(rxdesk.controlled.rules.form_222_expires_on) is *expired* — nothing more may be received
against it — whatever the stored status says (no nightly job has to run for it).

The receipts list (21 CFR 1304.22(c), reference §2.2 and §3.4) is a view over posted
deliveries: for every controlled-substance line, the supplier's name and DEA registration,
the invoice, the date actually received at the pharmacy, the NDC and the containers that
entered stock; a Schedule II line with its Form 222 / CSOS number."""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Prefetch, Q, QuerySet

from rxdesk.catalog.choices import DeaSchedule
from rxdesk.controlled.choices import OrderStatus, ScheduleGroup
from rxdesk.controlled.models import Form222Line, Form222Order, Form222Receipt
from rxdesk.controlled.rules import FORM_222_VALID_DAYS, form_222_expires_on
from rxdesk.core.capabilities import Cap
from rxdesk.core.errors import Invalid, NotFound
from rxdesk.core.models import User
from rxdesk.core.services import authorize
from rxdesk.inventory.choices import ReceiptStatus
from rxdesk.inventory.models import ReceiptLine

MAX_ID = 2**63 - 1
MAX_RANGE_DAYS = 366
LIVE = (OrderStatus.OPEN, OrderStatus.PARTIAL)
STATUS_FILTERS = tuple(OrderStatus.values)

SCHEDULES_II = (DeaSchedule.CII,)
SCHEDULES_III_V = (DeaSchedule.CIII, DeaSchedule.CIV, DeaSchedule.CV)


def schedule_q(schedules: tuple[str, ...], prefix: str = "package__product__") -> Q:
    """Rows whose package's schedule in force (the state override, else the directory's)
    is one of ``schedules``."""
    return Q(**{f"{prefix}dea_schedule_override__in": schedules}) | Q(
        **{f"{prefix}dea_schedule_override": "", f"{prefix}directory_dea_schedule__in": schedules}
    )


def group_schedules(group: str | None) -> tuple[str, ...]:
    if group in (None, ""):
        return SCHEDULES_II + SCHEDULES_III_V
    if group == ScheduleGroup.II:
        return SCHEDULES_II
    if group == ScheduleGroup.III_V:
        return SCHEDULES_III_V
    raise Invalid("Choose II or III-V (or leave it blank for both).", field="group")


# --- Orders ----------------------------------------------------------------------------------


def order_status(order: Form222Order, today: dt.date) -> str:
    """The stored status, or expired for an open or partly filled form past its 60 days."""
    if order.status in LIVE and today > form_222_expires_on(order.executed_on):
        return OrderStatus.EXPIRED
    return order.status


@dataclass(frozen=True)
class OrderRow:
    order: Form222Order
    status: str
    expires_on: dt.date
    lines: int
    packages_ordered: int
    packages_received: int

    @property
    def status_label(self) -> str:
        return str(OrderStatus(self.status).label)


def _row(order: Form222Order, today: dt.date) -> OrderRow:
    lines = list(order.lines.all())
    return OrderRow(
        order=order,
        status=order_status(order, today),
        expires_on=form_222_expires_on(order.executed_on),
        lines=len(lines),
        packages_ordered=sum(line.packages_ordered for line in lines),
        packages_received=sum(line.packages_received for line in lines),
    )


def _orders(actor: User) -> QuerySet[Form222Order]:
    return (
        Form222Order.objects.filter(site_id=actor.site_id)
        .select_related("supplier", "purchase_order", "vendor_return", "created_by", "signer")
        .prefetch_related(
            Prefetch(
                "lines",
                queryset=Form222Line.objects.select_related("package__product").order_by("line_no"),
            )
        )
    )


def orders(*, actor: User, status: str | None = None, limit: int = 200) -> list[OrderRow]:
    """The pharmacy's order forms, newest executed first, each with its shown status;
    ``status`` keeps only those (``expired``: open or partial past their 60 days)."""
    authorize(actor, Cap.CS_VIEW)
    if status not in (None, "") and status not in STATUS_FILTERS:
        raise Invalid("Choose open, partial, complete, expired or void.", field="status")
    today = actor.site.today()
    qs = _orders(actor)
    # A form executed on this day or later is still within its 60 days.
    oldest_live = today - dt.timedelta(days=FORM_222_VALID_DAYS)
    if status == OrderStatus.EXPIRED:
        qs = qs.filter(status__in=LIVE, executed_on__lt=oldest_live)
    elif status in LIVE:
        qs = qs.filter(status=status, executed_on__gte=oldest_live)
    elif status:
        qs = qs.filter(status=status)
    return [_row(order, today) for order in qs.order_by("-executed_on", "-id")[:limit]]


def order_get(*, actor: User, order_id: int | str) -> OrderRow:
    """One order form of the actor's pharmacy (another pharmacy's is not found)."""
    authorize(actor, Cap.CS_VIEW)
    try:
        pk = int(str(order_id))
    except ValueError:
        pk = 0
    found = _orders(actor).filter(pk=pk).first() if 0 < pk <= MAX_ID else None
    if found is None:
        raise NotFound("No such order form at this pharmacy.")
    return _row(found, actor.site.today())


def order_receipts(order: Form222Order) -> list[Form222Receipt]:
    """What was received (or shipped) on each line, in date order, with its stock link."""
    return list(
        Form222Receipt.objects.filter(line__order=order)
        .select_related("line", "receipt_line__receipt", "vendor_return_line", "recorded_by")
        .order_by("received_on", "id")
    )


# --- Controlled-substance receipts -----------------------------------------------------------


@dataclass(frozen=True)
class ReceiptRow:
    receipt_id: int
    line_id: int
    received_on: dt.date
    supplier: str
    supplier_address: str
    supplier_dea: str
    invoice_number: str
    no_invoice: bool
    ndc10: str
    ndc11: str
    drug: str
    strength: str
    dosage_form: str
    units_per_container: Decimal
    schedule: str
    group: str
    lot: str
    containers: int
    damaged: int
    dea_order_number: str
    order_id: int | None
    order_form: str


def _range(actor: User, start: dt.date | None, end: dt.date | None) -> tuple[dt.date, dt.date]:
    today = actor.site.today()
    first = start or today
    last = end or (first if start else today)
    if last < first:
        raise Invalid("The last day comes on or after the first.", field="end")
    if (last - first).days >= MAX_RANGE_DAYS:
        raise Invalid(f"At most {MAX_RANGE_DAYS} days at a time.", field="end")
    return first, last


def cs_receipts(
    *,
    actor: User,
    start: dt.date | None = None,
    end: dt.date | None = None,
    group: str | None = None,
) -> tuple[dt.date, dt.date, list[ReceiptRow]]:
    """Every controlled-substance line of the deliveries posted between ``start`` and
    ``end`` (local days at the pharmacy; both default to today), Schedule II or III–V only
    when ``group`` says so. Returns the days covered and the rows, oldest first."""
    authorize(actor, Cap.CS_VIEW)
    schedules = group_schedules(group)
    first, last = _range(actor, start, end)
    tz = actor.site.tz
    since = dt.datetime.combine(first, dt.time.min, tzinfo=tz)
    until = dt.datetime.combine(last + dt.timedelta(days=1), dt.time.min, tzinfo=tz)
    lines = list(
        ReceiptLine.objects.filter(
            schedule_q(schedules),
            receipt__site_id=actor.site_id,
            receipt__status=ReceiptStatus.POSTED,
            receipt__posted_at__gte=since,
            receipt__posted_at__lt=until,
            packages_received__gt=0,
        )
        .select_related("receipt__supplier", "package__product", "lot")
        .order_by("receipt__posted_at", "receipt_id", "id")
    )
    linked: dict[int, Form222Order] = {
        r.receipt_line_id: r.line.order
        for r in Form222Receipt.objects.filter(receipt_line__in=lines).select_related("line__order")
        if r.receipt_line_id is not None
    }
    rows = []
    for line in lines:
        receipt = line.receipt
        product = line.package.product
        schedule = product.dea_schedule
        assert receipt.posted_at is not None
        order = linked.get(line.pk)
        invoice = receipt.invoice_number.strip()
        rows.append(
            ReceiptRow(
                receipt_id=receipt.pk,
                line_id=line.pk,
                received_on=receipt.posted_at.astimezone(tz).date(),
                supplier=receipt.supplier.name,
                # The supplier file keeps no postal address yet (rxdesk.inventory.Supplier).
                supplier_address="",
                supplier_dea=receipt.supplier.dea_number,
                invoice_number=invoice,
                no_invoice=not invoice,
                ndc10=line.package.ndc10,
                ndc11=line.package.ndc11,
                drug=product.display_name,
                strength=product.strength,
                dosage_form=product.dosage_form,
                units_per_container=line.package.package_quantity,
                schedule=schedule,
                group=ScheduleGroup.II if schedule == DeaSchedule.CII else ScheduleGroup.III_V,
                lot=line.lot.number if line.lot else line.lot_number,
                containers=line.packages_received - line.packages_damaged,
                damaged=line.packages_damaged,
                dea_order_number=line.dea_order_number if schedule == DeaSchedule.CII else "",
                order_id=order.pk if order else None,
                order_form=order.form if order else "",
            )
        )
    return first, last, rows


RECEIPT_COLUMNS = (
    "received_on",
    "schedule",
    "supplier",
    "supplier_address",
    "supplier_dea",
    "invoice_number",
    "no_invoice",
    "ndc",
    "drug",
    "strength",
    "dosage_form",
    "units_per_container",
    "lot",
    "containers",
    "damaged",
    "dea_order_number",
    "receipt_id",
)


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: object) -> object:
    """Text a spreadsheet will not run as a formula (CSV injection)."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def cs_receipts_csv(rows: list[ReceiptRow]) -> str:
    """The receipts as CSV: a header row, one row per line."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(RECEIPT_COLUMNS)
    for row in rows:
        writer.writerow(
            _cell(value)
            for value in [
                row.received_on.isoformat(),
                row.schedule,
                row.supplier,
                row.supplier_address,
                row.supplier_dea,
                row.invoice_number,
                "yes" if row.no_invoice else "",
                row.ndc10,
                row.drug,
                row.strength,
                row.dosage_form,
                f"{row.units_per_container.normalize():f}",
                row.lot,
                row.containers,
                row.damaged,
                row.dea_order_number,
                row.receipt_id,
            ]
        )
    return out.getvalue()
