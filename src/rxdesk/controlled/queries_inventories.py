"""Reads of the controlled-substance inventories (21 CFR 1304.11; reference §2.3): the list
with the next biennial inventory due, one inventory, its worksheet, and the facts its PDF
prints.

The worksheet is read from the stock ledger each time (never copied): every controlled
package and lot the pharmacy holds now — only the named product's for a newly scheduled
substance — with the counted line that covers it, if any. A line counts one lot, or a
package as a whole (all its lots at once)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import QuerySet

from rxdesk.catalog.choices import DeaSchedule
from rxdesk.catalog.models import Package
from rxdesk.controlled import documents_inventory as doc
from rxdesk.controlled.choices import InventoryKind, InventoryStatus, ScheduleGroup
from rxdesk.controlled.models import CsInventory, CsInventoryLine
from rxdesk.controlled.queries_orders import SCHEDULES_II, SCHEDULES_III_V, schedule_q
from rxdesk.controlled.rules import CountMethod, count_method
from rxdesk.core.capabilities import Cap
from rxdesk.core.errors import NotFound
from rxdesk.core.models import Site, User
from rxdesk.core.services import authorize
from rxdesk.inventory.models import Lot, StockBalance

MAX_ID = 2**63 - 1
CONTROLLED = SCHEDULES_II + SCHEDULES_III_V
# Federal: at least every two years after the previous inventory (1304.11(c)). A state
# that asks for an annual inventory is stricter; this is the federal floor.
BIENNIAL_YEARS = 2
# A newly scheduled substance's inventory covers one product, not the whole stock.
WHOLE_STOCK = [k for k in InventoryKind.values if k != InventoryKind.NEWLY_SCHEDULED]


# The 1,000-unit rule speaks of tablets and capsules only (1304.11(e)(3)(iii)).
SOLID_FORMS = ("TABLET", "CAPSULE", "CAPLET")


def is_solid(dosage_form: str) -> bool:
    """A tablet or capsule form ("TABLET, FILM COATED", "CAPSULE, EXTENDED RELEASE")."""
    form = (dosage_form or "").upper()
    return any(word in form for word in SOLID_FORMS)


def may_estimate(package: Package) -> bool:
    """Whether an opened container of this package may be estimated at an inventory."""
    schedule = package.product.dea_schedule
    if schedule not in CONTROLLED:
        return False
    return (
        count_method(
            schedule=schedule,
            opened=True,
            units_in_container=package.package_quantity,
            solid=is_solid(package.product.dosage_form),
        )
        == CountMethod.ESTIMATE
    )


def group_of(schedule: str) -> str:
    return (
        ScheduleGroup.II if schedule in (DeaSchedule.CI, DeaSchedule.CII) else ScheduleGroup.III_V
    )


def _plus_years(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


def last_signed(site: Site) -> CsInventory | None:
    """The latest signed inventory of the whole stock (not a newly scheduled one)."""
    return (
        CsInventory.objects.filter(site=site, status=InventoryStatus.SIGNED, kind__in=WHOLE_STOCK)
        .order_by("-taken_on", "-id")
        .first()
    )


def next_biennial_due(site: Site) -> dt.date | None:
    """Two years after the last signed inventory of the whole stock (None before the
    initial inventory)."""
    last = last_signed(site)
    return _plus_years(last.taken_on, BIENNIAL_YEARS) if last is not None else None


def _inventories(actor: User) -> QuerySet[CsInventory]:
    return CsInventory.objects.filter(site_id=actor.site_id).select_related(
        "product", "started_by", "signed_by"
    )


def inventories(*, actor: User, limit: int = 200) -> list[CsInventory]:
    """The pharmacy's inventories, newest first."""
    authorize(actor, Cap.CS_VIEW)
    return list(_inventories(actor).order_by("-taken_on", "-id")[:limit])


def open_inventory(site: Site) -> CsInventory | None:
    return CsInventory.objects.filter(site=site, status=InventoryStatus.OPEN).first()


def inventory_get(*, actor: User, inventory_id: int | str) -> CsInventory:
    """One inventory of the actor's pharmacy (another pharmacy's is not found)."""
    authorize(actor, Cap.CS_VIEW)
    try:
        pk = int(str(inventory_id))
    except ValueError:
        pk = 0
    found = _inventories(actor).filter(pk=pk).first() if 0 < pk <= MAX_ID else None
    if found is None:
        raise NotFound("No such inventory at this pharmacy.")
    return found


def inventory_lines(inventory: CsInventory) -> list[CsInventoryLine]:
    return list(
        CsInventoryLine.objects.filter(inventory=inventory)
        .select_related("package__product", "lot", "counted_by")
        .order_by("schedule", "package__product__name", "package__ndc11", "lot__number", "id")
    )


# --- The worksheet ---------------------------------------------------------------------------


@dataclass
class WorksheetRow:
    """A package and lot the pharmacy holds, and the line that counts it (if counted)."""

    package: Package
    lot: Lot
    schedule: str
    group: str
    on_hand: Decimal
    lot_status: str
    line: CsInventoryLine | None = None

    @property
    def counted(self) -> bool:
        return self.line is not None

    @property
    def key(self) -> str:
        """The row's id on the page: NDC-11 and lot."""
        return f"{self.package.ndc11}-{self.lot.number}"

    @property
    def may_estimate(self) -> bool:
        return may_estimate(self.package)


def held_balances(inventory: CsInventory) -> list[StockBalance]:
    """The controlled stock the pharmacy holds now (the inventory's product only, for a
    newly scheduled substance)."""
    qs = StockBalance.objects.filter(site_id=inventory.site_id, on_hand__gt=0).select_related(
        "package__product", "lot", "location"
    )
    if inventory.kind == InventoryKind.NEWLY_SCHEDULED:
        qs = qs.filter(package__product=inventory.product)
    else:
        qs = qs.filter(schedule_q(CONTROLLED))
    return list(qs)


def _covering(lines: list[CsInventoryLine], package_id: int, lot_id: int) -> CsInventoryLine | None:
    for line in lines:
        if line.package_id == package_id and line.lot_id in (lot_id, None):
            return line
    return None


def worksheet(
    inventory: CsInventory, lines: list[CsInventoryLine] | None = None
) -> list[WorksheetRow]:
    """Every package and lot held, Schedule II first, by drug name, NDC and lot."""
    counted = lines if lines is not None else inventory_lines(inventory)
    # A lot held for disposal is on the worksheet once: the line that counts it (for
    # disposal or not) covers it.
    rows = []
    for balance in held_balances(inventory):
        schedule = balance.package.product.dea_schedule
        rows.append(
            WorksheetRow(
                package=balance.package,
                lot=balance.lot,
                schedule=schedule,
                group=group_of(schedule),
                on_hand=balance.on_hand,
                lot_status=balance.status,
                line=_covering(counted, balance.package_id, balance.lot_id),
            )
        )
    rows.sort(
        key=lambda r: (
            r.group != ScheduleGroup.II,
            r.package.product.name.lower(),
            r.package.ndc11,
            r.lot.number,
        )
    )
    return rows


def missing(inventory: CsInventory) -> list[WorksheetRow]:
    """The worksheet rows no counted line covers yet."""
    return [row for row in worksheet(inventory) if row.line is None]


def extra_lines(lines: list[CsInventoryLine], rows: list[WorksheetRow]) -> list[CsInventoryLine]:
    """Counted lines the worksheet does not list (stock found that the ledger does not
    hold, a lot held for disposal counted apart, a lot since emptied)."""
    shown = {id(row.line) for row in rows if row.line is not None}
    return [line for line in lines if id(line) not in shown]


# --- The printed inventory -------------------------------------------------------------------


def _address(site: Site) -> tuple[str, ...]:
    city = ", ".join(p for p in (site.city, f"{site.state} {site.postal_code}".strip()) if p)
    return tuple(p for p in (site.address_line1, site.address_line2, city) if p.strip())


def _units(value: Decimal) -> str:
    return f"{value.normalize():,f}"


def _doc_line(line: CsInventoryLine) -> doc.Line:
    product = line.package.product
    opened = line.opened_quantity
    return doc.Line(
        drug=product.display_name,
        strength=product.strength,
        dosage_form=product.dosage_form,
        ndc=line.package.ndc10,
        lot=line.lot.number if line.lot else "",
        unit=line.package.billing_unit,
        units_per_container=_units(line.units_per_container),
        sealed_containers=line.sealed_containers,
        opened=_units(opened) if opened is not None else "",
        method="estimated"
        if line.method == CountMethod.ESTIMATE
        else "exact"
        if line.method == CountMethod.EXACT
        else "",
        total=_units(line.total),
        held_for_disposal=line.held_for_disposal,
        disposal_reason=line.disposal_reason,
    )


def inventory_document(inventory: CsInventory) -> doc.InventoryDocument:
    """The plain facts the PDF prints (rxdesk.controlled.documents_inventory)."""
    site = inventory.site
    lines = inventory_lines(inventory)
    signed_at = inventory.signed_at.astimezone(site.tz) if inventory.signed_at else None
    signer = inventory.signed_by
    return doc.InventoryDocument(
        inventory_id=inventory.pk,
        registrant=doc.Registrant(
            name=site.name, address_lines=_address(site), dea_number=site.dea_number
        ),
        kind=str(InventoryKind(inventory.kind).label),
        taken_on=inventory.taken_on,
        taken_at="Opening of business" if inventory.taken_at == "opening" else "Close of business",
        substance=str(inventory.product) if inventory.product else "",
        effective_on=inventory.effective_on,
        schedule_ii=tuple(_doc_line(x) for x in lines if group_of(x.schedule) == ScheduleGroup.II),
        schedule_iii_v=tuple(
            _doc_line(x) for x in lines if group_of(x.schedule) == ScheduleGroup.III_V
        ),
        signed_by=inventory.signer_name if signed_at else "",
        signer_license=signer.pharmacist_license if signer is not None and signed_at else "",
        signed_at=signed_at,
        status=str(InventoryStatus(inventory.status).label),
        note=inventory.note,
    )
