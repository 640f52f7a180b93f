"""Demo controlled-substance records, made through the real services: a CSOS order for the
Schedule II safe half received on an invoice, this morning's biennial inventory signed by the
pharmacist-in-charge, a blind count that came up two tablets short (its investigation is
open for the demo user to work), yesterday's daily log signed, and yesterday's PMP file."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from rxdesk.catalog.models import Package
from rxdesk.controlled.choices import InventoryKind, OrderForm, ScheduleGroup, TakenAt
from rxdesk.controlled.models import Form222Order
from rxdesk.controlled.queries_inventories import worksheet
from rxdesk.controlled.services_audits import cs_audit_record
from rxdesk.controlled.services_inventories import (
    cs_inventory_count,
    cs_inventory_sign,
    cs_inventory_start,
)
from rxdesk.controlled.services_log import daily_log_sign
from rxdesk.controlled.services_orders import form222_create
from rxdesk.controlled.services_pmp import pmp_daily
from rxdesk.core.identifiers import dea_check_digit
from rxdesk.core.models import Site, User
from rxdesk.inventory.models import StockBalance, Supplier
from rxdesk.inventory.services.ordering import supplier_update
from rxdesk.inventory.services.receiving import receipt_create, receipt_line_add, receipt_post

SUPPLIER = "Cardinal Health"
ORDER_NUMBER = "CSOS-0002-2026"


def _schedule_ii(site: Site) -> Package | None:
    balance = (
        StockBalance.objects.filter(site=site, on_hand__gt=0)
        .filter(package__product__directory_dea_schedule="CII")
        .select_related("package")
        .order_by("package__ndc11")
        .first()
    )
    return balance.package if balance else None


def demo_controlled_load(site: Site) -> None:
    """Idempotent: does nothing once the demo order is on file."""
    users = {u.username: u for u in User.objects.filter(site=site)}
    pic, rph, tech, stock_room = (users.get(n) for n in ("pic", "pharmacist", "tech", "inventory"))
    if pic is None or rph is None or tech is None or stock_room is None:
        return
    if Form222Order.objects.filter(site=site, number=ORDER_NUMBER).exists():
        return
    supplier = Supplier.objects.filter(site=site, name=SUPPLIER).first()
    package = _schedule_ii(site)
    if supplier is None or package is None:
        return
    if not supplier.dea_number:
        six = "482913"
        supplier_update(
            actor=stock_room, supplier=supplier, dea_number=f"RC{six}{dea_check_digit(six)}"
        )
    today = site.today()

    # Schedule II arrives only against a CSOS order: two bottles ordered, one came today.
    form222_create(
        actor=pic,
        form=OrderForm.CSOS,
        number=ORDER_NUMBER,
        supplier=supplier,
        executed_on=today - dt.timedelta(days=2),
        lines=[{"ndc": package.ndc11, "packages": 2}],
        csos_signed_order="(demo) CSOS order signed with the PIC's DEA-issued certificate",
    )
    receipt = receipt_create(
        actor=tech,
        supplier=supplier,
        invoice_number="INV-77120",
        dscsa_transaction_info="EPCIS shipment urn:epc:id:sscc:0614141.7712000001",
        dscsa_statement_received=True,
    )
    receipt_line_add(
        actor=tech,
        receipt=receipt,
        ndc=package,
        lot_number="MP11977",
        expiry=today + dt.timedelta(days=420),
        packages_invoiced=1,
        packages_received=1,
        dea_order_number=ORDER_NUMBER,
    )
    receipt_post(actor=tech, receipt=receipt)

    # The biennial inventory, taken at the opening of business and signed by the PIC.
    inventory = cs_inventory_start(
        actor=pic, kind=InventoryKind.BIENNIAL, taken_on=today, taken_at=TakenAt.OPENING
    )
    for row in worksheet(inventory):
        size = row.package.package_quantity
        on_hand = row.on_hand
        sealed = int(on_hand // size)
        cs_inventory_count(
            actor=pic,
            inventory=inventory,
            ndc=row.package.ndc11,
            lot_number=row.lot.number if row.lot else None,
            sealed_containers=sealed,
            opened_quantity=on_hand - sealed * size or None,
        )
    cs_inventory_sign(actor=pic, inventory=inventory)

    # A technician's blind count comes up two tablets short: the investigation waits.
    in_vault = sum(
        StockBalance.objects.filter(site=site, package=package).values_list("on_hand", flat=True),
        Decimal(0),
    )
    cs_audit_record(actor=tech, ndc=package, counted=in_vault - 2, note="Vault count")

    yesterday = today - dt.timedelta(days=1)
    for group in ScheduleGroup.values:
        daily_log_sign(actor=rph, day=yesterday, group=group, note="Reviewed")
    pmp_daily(actor=rph, day=yesterday)
