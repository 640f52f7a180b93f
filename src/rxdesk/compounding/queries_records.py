"""Reads of compounding records: the worklist (being compounded, waiting for verification,
verified today), one record with its components and checks, the search by lot, formula or
day, which compounded lots used a stock lot (for a recall), and the stock a record would
take — first expiry first out, or the lot scanned — which the new-record screen previews
and rxdesk.compounding.services_records.record_start posts."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_UP, Decimal

from django.db.models import Q, QuerySet
from django.urls import reverse

from rxdesk.calc import units
from rxdesk.calc.units import UnitError
from rxdesk.catalog.models import Product
from rxdesk.catalog.ndc import CodeError, parse_scan
from rxdesk.compounding import bud, scaling
from rxdesk.compounding.choices import FormulaStatus, RecordStatus
from rxdesk.compounding.models import (
    CompoundingRecord,
    CompoundingSettings,
    EngineeringControl,
    FormulaIngredient,
    MasterFormula,
    QualityCheck,
    RecordComponent,
)
from rxdesk.core.capabilities import ROLE_CAPABILITIES, Cap, has
from rxdesk.core.errors import Invalid, NotFound
from rxdesk.core.models import Site, User
from rxdesk.core.services import authorize
from rxdesk.inventory import ledger
from rxdesk.inventory.models import Lot, StockBalance
from rxdesk.inventory.seams import LotUse

MAX_ID = 2**63 - 1
STOCK_QUANTUM = Decimal("0.001")  # the ledger's: billing units to three decimals
SEARCH_LIMIT = 200


def lots_field(position: int) -> str:
    return f"lots[{position}]"


def sources_field(position: int) -> str:
    return f"sources[{position}]"


# --- Settings, people, formulas, hoods --------------------------------------------------------


def settings_of(site: Site) -> CompoundingSettings:
    """The site's compounding limits; the USP defaults when it has set none (unsaved row)."""
    found = CompoundingSettings.objects.filter(site=site).first()
    return found if found is not None else CompoundingSettings(site=site)


def in_use_limits(site: Site) -> bud.InUseLimits:
    s = settings_of(site)
    return bud.InUseLimits(
        single_dose_iso5_hours=s.single_dose_iso5_hours,
        single_dose_outside_iso5_hours=s.single_dose_outside_iso5_hours,
        multiple_dose_days=s.multiple_dose_days,
    )


MAKER_ROLES = tuple(
    sorted(role.value for role, caps in ROLE_CAPABILITIES.items() if Cap.COMPOUNDING_MAKE in caps)
)


def compounders(site: Site) -> QuerySet[User]:
    """Active staff of the site whose role compounds (competency is checked on the record)."""
    return User.objects.filter(site=site, is_active=True, role__in=MAKER_ROLES).order_by(
        "last_name", "first_name", "username"
    )


def approved_formulas(site: Site) -> QuerySet[MasterFormula]:
    return MasterFormula.objects.filter(site=site, status=FormulaStatus.APPROVED).order_by(
        "name", "strength", "code"
    )


def controls(site: Site) -> QuerySet[EngineeringControl]:
    return (
        EngineeringControl.objects.filter(site=site, active=True)
        .select_related("room")
        .order_by("name")
    )


def ingredients_of(formula: MasterFormula) -> list[FormulaIngredient]:
    return list(formula.ingredients.select_related("product").order_by("position"))


def scaling_of(
    formula: MasterFormula, ingredients: Iterable[FormulaIngredient], quantity: object, unit: str
) -> scaling.Scaling:
    """The formula scaled to ``quantity`` ``unit`` (raises scaling.ScaleError)."""
    return scaling.scale(
        batch_quantity=formula.batch_quantity,
        batch_unit=formula.batch_unit,
        quantity=quantity,
        unit=unit,
        ingredients=[
            scaling.Ingredient(
                position=i.position,
                name=i.name,
                quantity=i.quantity,
                unit=i.unit,
                quantity_sufficient=i.quantity_sufficient,
            )
            for i in ingredients
        ],
    )


# --- Stock a record takes ------------------------------------------------------------------------


def lot_number_of(text: str) -> str:
    """The lot number typed, or read from a scanned GS1 DataMatrix / GS1-128 code (AI 10)."""
    value = (text or "").strip()
    looks_gs1 = value.startswith(("]", "(")) or "\x1d" in value or value.startswith("01")
    if looks_gs1 and len(value) > 16:
        try:
            scan = parse_scan(value)
        except CodeError:
            scan = None
        if scan is not None and scan.lot:
            return scan.lot.strip().upper()
    return value.upper()


@dataclass(frozen=True)
class Take:
    """Stock to take from one balance: in the package's billing unit (what the ledger
    posts) and in the ingredient's unit (what the record requires of this lot)."""

    balance: StockBalance
    billing_quantity: Decimal
    quantity: Decimal


def _billing(quantity: Decimal, unit: str, billing_unit: str, field_name: str) -> Decimal:
    """``quantity`` ``unit`` in billing units, rounded up to the ledger's three decimals: a
    record never takes less from stock than it uses."""
    exact = units.billing_quantity(quantity, unit, billing_unit, field=field_name)
    return max(exact.quantize(STOCK_QUANTUM, rounding=ROUND_UP), STOCK_QUANTUM)


def _in_unit(billing: Decimal, billing_unit: str, unit: str) -> Decimal:
    return units.rounded(units.convert(billing, units.BILLING_UNITS[billing_unit], unit), 4)


def candidate_ids(site: Site, products: Iterable[Product]) -> list[int]:
    """Balances a record could take from (locked by the service, in one order, first)."""
    ids = [p.pk for p in products]
    if not ids:
        return []
    return list(
        StockBalance.objects.filter(site=site, package__product_id__in=ids).values_list(
            "pk", flat=True
        )
    )


def _balances(site: Site, product: Product) -> list[StockBalance]:
    return list(
        StockBalance.objects.select_related("lot", "package", "package__product", "site")
        .filter(site=site, package__product=product)
        .order_by("lot__expiry", "lot_id")
    )


def _held_back(balances: Iterable[StockBalance], today: dt.date) -> str:
    reasons = [
        ledger.why_not_dispensable(b, today)
        for b in balances
        if b.on_hand > 0 and not ledger.dispensable(b, today)
    ]
    return (" Not usable: " + " ".join(reasons)) if reasons else ""


def stock_plan(
    *,
    site: Site,
    product: Product,
    name: str,
    position: int,
    quantity: Decimal,
    unit: str,
    lot_text: str | None,
    today: dt.date,
) -> list[Take]:
    """What ``quantity`` ``unit`` of ``product`` takes from the site's stock: the scanned lot
    only, or first expiry first out across the product's packages. Expired, recalled,
    quarantined or short stock is :class:`Invalid` naming ``lots[position]`` (a scanned
    lot) or ``quantity`` (not enough usable stock)."""
    where = lots_field(position)
    balances = _balances(site, product)
    if lot_text and lot_text.strip():
        number = lot_number_of(lot_text)
        mine = [b for b in balances if b.lot.number == number]
        if not mine:
            raise Invalid(f"Lot {number} of {name} is not in stock here.", field=where)
        usable = [b for b in mine if ledger.dispensable(b, today)]
        if not usable:
            raise Invalid(
                ledger.why_not_dispensable(mine[0], today) + f" It cannot be used for {name}.",
                field=where,
            )
        problem = ""
        for balance in usable:
            try:
                need = _billing(quantity, unit, balance.package.billing_unit, where)
            except UnitError as exc:
                problem = exc.message
                continue
            if balance.on_hand >= need:
                return [Take(balance, need, units.rounded(quantity, 4))]
            problem = (
                f"Only {balance.on_hand.normalize():f} {balance.package.billing_unit} of lot "
                f"{number} on hand; {need.normalize():f} needed for {name}. Scan another lot, "
                "or leave the lot blank to take first expiry first out."
            )
        raise Invalid(problem, field=where)
    usable = [b for b in balances if b.on_hand > 0 and ledger.dispensable(b, today)]
    usable.sort(key=lambda b: (b.lot.expiry is None, b.lot.expiry or today, b.lot_id))
    takes: list[Take] = []
    remaining = quantity
    available = Decimal(0)
    unit_problem = ""
    for balance in usable:
        billing_unit = balance.package.billing_unit
        try:
            on_hand = _in_unit(balance.on_hand, billing_unit, unit)
        except UnitError:
            unit_problem = (
                f"{name} is written in {unit}; its stock is counted in {billing_unit}. Fix the "
                "formula's unit or stock a package counted in the same kind of unit."
            )
            continue
        available += on_hand
        if remaining <= 0:
            continue
        need = _billing(remaining, unit, billing_unit, where)
        portion = min(balance.on_hand, need)
        used = min(_in_unit(portion, billing_unit, unit), remaining)
        takes.append(Take(balance, portion, used))
        remaining -= used
    if remaining > 0:
        if unit_problem and available == 0:
            raise Invalid(unit_problem, field=where)
        raise Invalid(
            f"Only {units.show(available, unit)} of {name} can be used here (in date and "
            f"available); {units.show(quantity, unit)} needed." + _held_back(balances, today),
            field="quantity",
        )
    return takes


@dataclass
class PreviewLine:
    """One ingredient of a record not yet started: its scaled amount and where it would
    come from (or why it cannot)."""

    ingredient: FormulaIngredient
    scaled: scaling.Scaled
    takes: list[Take] = field(default_factory=list)
    problem: str = ""

    @property
    def stocked(self) -> bool:
        return self.ingredient.product_id is not None


@dataclass
class Preview:
    scaling: scaling.Scaling
    lines: list[PreviewLine]

    @property
    def ready(self) -> bool:
        return not any(line.problem for line in self.lines)


def record_preview(
    *,
    actor: User,
    formula: MasterFormula,
    quantity: object,
    unit: str,
    lots: dict[int, str | None] | None = None,
) -> Preview:
    """The scaled quantities and the lots a record would take, without writing anything
    (scaling errors raise; a stock problem is shown on its line)."""
    authorize(actor, Cap.COMPOUNDING_MAKE)
    site = actor.site
    if formula.site_id != site.pk:
        raise NotFound("No such formula at this pharmacy.")
    ingredients = ingredients_of(formula)
    try:
        scaled = scaling_of(formula, ingredients, quantity, unit)
    except UnitError as exc:
        raise Invalid(exc.message, field=exc.field) from None
    today = site.today()
    by_position = {s.position: s for s in scaled.ingredients}
    lines = []
    for ing in ingredients:
        line = PreviewLine(ing, by_position[ing.position])
        if ing.product is not None:
            try:
                line.takes = stock_plan(
                    site=site,
                    product=ing.product,
                    name=ing.name,
                    position=ing.position,
                    quantity=line.scaled.quantity,
                    unit=ing.unit,
                    lot_text=(lots or {}).get(ing.position),
                    today=today,
                )
            except Invalid as exc:
                line.problem = exc.message
        lines.append(line)
    return Preview(scaled, lines)


# --- Records -------------------------------------------------------------------------------


def _records(site: Site) -> QuerySet[CompoundingRecord]:
    return CompoundingRecord.objects.filter(site=site).select_related(
        "formula", "compounded_by", "verified_by", "control", "room", "patient", "prescription"
    )


def record_get(*, actor: User, record_id: int) -> CompoundingRecord:
    """One record of the actor's pharmacy (404 otherwise)."""
    authorize(actor, Cap.COMPOUNDING_VIEW)
    found = _records(actor.site).filter(pk=record_id).first() if 0 < record_id <= MAX_ID else None
    if found is None:
        raise NotFound("No such compounding record at this pharmacy.")
    return found


def components_of(record: CompoundingRecord) -> list[RecordComponent]:
    return list(
        record.components.select_related("ingredient", "package", "lot", "measured_by").order_by(
            "position", "pk"
        )
    )


def checks_of(record: CompoundingRecord) -> list[QualityCheck]:
    return list(record.checks.order_by("checked_at", "pk"))


@dataclass(frozen=True)
class Worklist:
    in_progress: list[CompoundingRecord]
    awaiting: list[CompoundingRecord]
    verified_today: list[CompoundingRecord]

    @property
    def counts(self) -> dict[str, int]:
        return {
            "in_progress": len(self.in_progress),
            "awaiting": len(self.awaiting),
            "verified_today": len(self.verified_today),
        }


def day_bounds(site: Site, day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    start = dt.datetime.combine(day, dt.time.min, tzinfo=site.tz)
    return start, start + dt.timedelta(days=1)


def worklist(*, actor: User) -> Worklist:
    """What is on the bench: records being compounded, waiting for the pharmacist, and
    those verified today at the pharmacy."""
    authorize(actor, Cap.COMPOUNDING_VIEW)
    site = actor.site
    start, end = day_bounds(site, site.today())
    rows = list(
        _records(site).filter(
            Q(status__in=(RecordStatus.IN_PROGRESS, RecordStatus.AWAITING_VERIFICATION))
            | Q(status=RecordStatus.VERIFIED, verified_at__gte=start, verified_at__lt=end)
        )
    )
    return Worklist(
        in_progress=[r for r in rows if r.status == RecordStatus.IN_PROGRESS],
        awaiting=[r for r in rows if r.status == RecordStatus.AWAITING_VERIFICATION],
        verified_today=[r for r in rows if r.status == RecordStatus.VERIFIED],
    )


def records_search(
    *,
    actor: User,
    status: str | None = None,
    formula_id: int | None = None,
    q: str = "",
    day: dt.date | None = None,
    limit: int = SEARCH_LIMIT,
) -> list[CompoundingRecord]:
    """Records by status, formula (any version of its code), a lot number — the record's
    own or a component's stock lot — or the formula's name, and the day prepared."""
    authorize(actor, Cap.COMPOUNDING_VIEW)
    site = actor.site
    qs = _records(site)
    if status:
        qs = qs.filter(status=status)
    if formula_id is not None:
        formula = MasterFormula.objects.filter(site=site, pk=formula_id).first()
        if formula is None:
            return []
        qs = qs.filter(formula__code=formula.code)
    text = " ".join((q or "").split())
    if text:
        qs = qs.filter(
            Q(lot_number__iexact=text)
            | Q(components__lot_number__iexact=text)
            | Q(formula__name__icontains=text)
            | Q(formula__code__iexact=text)
        ).distinct()
    if day is not None:
        start, end = day_bounds(site, day)
        qs = qs.filter(prepared_at__gte=start, prepared_at__lt=end)
    return list(qs.order_by("-prepared_at", "-pk")[: max(1, min(limit, SEARCH_LIMIT))])


def records_using_lot(lot: Lot, *, site: Site | None = None) -> QuerySet[CompoundingRecord]:
    """The compounded lots made with stock ``lot`` (a recall reaches the preparations made
    from it), newest first; every site's unless ``site`` is given."""
    qs = CompoundingRecord.objects.filter(components__lot=lot)
    if site is not None:
        qs = qs.filter(site=site)
    return qs.distinct().select_related("formula", "site").order_by("-prepared_at", "-pk")


def recall_uses(actor: User, site_id: int, lot_ids: Sequence[int]) -> list[LotUse]:
    """The inventory's recall seam: the site's compounded preparations made from any of the
    recalled stock lots, for a user who may see compounding (no patient named). One query."""
    if not lot_ids or not has(actor, Cap.COMPOUNDING_VIEW):
        return []
    used: dict[int, tuple[CompoundingRecord, set[str]]] = {}
    for component in (
        RecordComponent.objects.filter(record__site_id=site_id, lot_id__in=list(lot_ids))
        .select_related("record__formula")
        .order_by("-record__prepared_at", "-record_id")
    ):
        record = component.record
        used.setdefault(record.pk, (record, set()))[1].add(component.lot_number)
    return [
        LotUse(
            what=f"Compounded lot {r.lot_number}: {r.formula.name} {r.formula.strength} "
            f"{r.formula.dosage_form}, {r.quantity.normalize():f} {r.unit}",
            made_at=r.prepared_at,
            url=reverse("compounding_record", args=[r.pk]),
            status=r.get_status_display(),
            lot_number=", ".join(sorted(lots)),
        )
        for r, lots in used.values()
    ]
