"""Reads of the disposal records (cs.view): Form 41 destructions and their lines, witnessed
waste, the controlled stock that may be destroyed, the Form 41 PDF, and the disposal
register — every way a controlled substance left the pharmacy for good over a date range
(destroyed on site, shipped to a reverse distributor, wasted or returned by a patient),
with who did it and who witnessed it. Dates are the pharmacy's calendar days."""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import io
import json
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db.models import Case, IntegerField, Q, QuerySet, Value, When

from rxdesk.controlled import documents_41
from rxdesk.controlled.choices import WasteKind
from rxdesk.controlled.models import Destruction, DestructionLine, Waste
from rxdesk.core.capabilities import Cap
from rxdesk.core.errors import Invalid, NotFound
from rxdesk.core.models import AuditEvent, Site, User
from rxdesk.core.services import authorize
from rxdesk.core.validators import format_phone
from rxdesk.inventory.choices import LotStatus, VendorReturnKind, VendorReturnStatus
from rxdesk.inventory.models import StockBalance, VendorReturnLine
from rxdesk.inventory.services.removal import dea_form_222_of
from rxdesk.rx.models import Fill

MAX_ID = 2**63 - 1
MAX_RANGE_DAYS = 731  # the records are kept two years
DEFAULT_DAYS = 30
LIST_LIMIT = 500

# A product is controlled when the schedule in force (the state override, else the FDA
# directory's) is set: either field non-empty.
CONTROLLED = Q(package__product__dea_schedule_override__gt="") | Q(
    package__product__directory_dea_schedule__gt=""
)


def _site(actor: User | None, site: Site | None = None) -> Site:
    authorize(actor, Cap.CS_VIEW)
    if actor is not None:
        return actor.site
    if site is None:
        raise Invalid("Name the site.", field="site")
    return site


def date_range(where: Site, start: dt.date | None, end: dt.date | None) -> tuple[dt.date, dt.date]:
    """``start``..``end`` (default: the last 30 days to today at the pharmacy)."""
    today = where.today()
    end = end or (max(start, today) if start else today)
    start = start or end - dt.timedelta(days=DEFAULT_DAYS)
    if end < start:
        raise Invalid("The end date is before the start date.", field="end")
    if (end - start).days >= MAX_RANGE_DAYS:
        raise Invalid(f"Ask for {MAX_RANGE_DAYS} days at most; narrow the dates.", field="start")
    return start, end


def _bounds(where: Site, start: dt.date, end: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """Midnight of ``start`` to midnight after ``end``, at the pharmacy."""
    tz = where.tz
    return (
        dt.datetime.combine(start, dt.time.min, tzinfo=tz),
        dt.datetime.combine(end + dt.timedelta(days=1), dt.time.min, tzinfo=tz),
    )


def _pk(value: Any) -> int | None:
    try:
        pk = int(str(value))
    except ValueError:
        return None
    return pk if 0 < pk <= MAX_ID else None


# --- Destructions ------------------------------------------------------------------------------


def _destructions(where: Site) -> QuerySet[Destruction]:
    return Destruction.objects.select_related(
        "performed_by", "witness_1", "witness_2", "site"
    ).filter(site=where)


def destructions(
    *, actor: User | None, start: dt.date | None = None, end: dt.date | None = None
) -> list[Destruction]:
    """Form 41 records of the pharmacy, newest first; with dates, those destroyed then."""
    where = _site(actor)
    found = _destructions(where)
    if start is not None or end is not None:
        low, high = _bounds(where, *date_range(where, start, end))
        found = found.filter(destroyed_at__gte=low, destroyed_at__lt=high)
    return list(found.order_by("-destroyed_at", "-id")[:LIST_LIMIT])


def destruction_get(*, actor: User | None, destruction_id: Any) -> Destruction:
    where = _site(actor)
    pk = _pk(destruction_id)
    found = _destructions(where).filter(pk=pk).first() if pk is not None else None
    if found is None:
        raise NotFound("No such destruction record at this pharmacy.")
    return found


def destruction_lines(destruction: Destruction) -> list[DestructionLine]:
    return list(
        DestructionLine.objects.select_related("package__product", "lot", "move")
        .filter(destruction=destruction)
        .order_by("id")
    )


def destroyable_stock(*, actor: User | None) -> list[StockBalance]:
    """The pharmacy's controlled stock on hand, what is due for destruction first: expired,
    quarantined, damaged or recalled lots, then the rest (by schedule, name, expiry)."""
    where = _site(actor)
    today = where.today()
    due = Case(
        When(~Q(status=LotStatus.AVAILABLE) | Q(lot__expiry__lt=today), then=Value(0)),
        default=Value(1),
        output_field=IntegerField(),
    )
    rows = list(
        StockBalance.objects.select_related("lot", "package__product", "location")
        .filter(site=where, on_hand__gt=0)
        .filter(CONTROLLED)
        .annotate(due=due)
        .order_by("due", "pk")[:LIST_LIMIT]
    )
    return sorted(
        rows,
        key=lambda b: (
            not is_due(b, today),
            b.package.product.dea_schedule,
            b.package.product.name.lower(),
            b.lot.expiry or dt.date.max,
            b.pk,
        ),
    )


def is_due(balance: StockBalance, today: dt.date) -> bool:
    """Held back from dispensing or past its expiry: what a destruction takes first."""
    expiry = balance.lot.expiry
    return balance.status != LotStatus.AVAILABLE or (expiry is not None and expiry < today)


# --- Waste -------------------------------------------------------------------------------------


def wastes(
    *, actor: User | None, start: dt.date | None = None, end: dt.date | None = None
) -> list[Waste]:
    """Witnessed waste and patient returns of the pharmacy, newest first."""
    where = _site(actor)
    found = Waste.objects.select_related(
        "package__product", "lot", "fill__prescription", "patient", "move", "witness"
    ).filter(site=where)
    if start is not None or end is not None:
        low, high = _bounds(where, *date_range(where, start, end))
        found = found.filter(occurred_at__gte=low, occurred_at__lt=high)
    return list(found.order_by("-occurred_at", "-id")[:LIST_LIMIT])


def fill_by_rx(*, actor: User | None, text: str) -> Fill | None:
    """A fill of the pharmacy by "Rx number-fill number" (e.g. 1042-1); "1042" alone is the
    prescription's latest fill. None when there is no such fill."""
    where = _site(actor)
    raw = (text or "").strip().upper().removeprefix("RX").strip()
    number, _, fill_no = raw.partition("-")
    if not number.isdigit() or len(number) > 9 or (fill_no and not fill_no.isdigit()):
        return None
    found = Fill.objects.filter(site=where, prescription__number=int(number)).exclude(
        status="cancelled"
    )
    if fill_no:
        if len(fill_no) > 4:
            return None
        found = found.filter(number=int(fill_no))
    return found.order_by("-number").first()


# --- The disposal register ---------------------------------------------------------------------


@dataclass(frozen=True)
class DisposalRow:
    when: dt.datetime
    kind: str  # destruction | reverse_distributor | partial_dose | patient_return | breakage
    kind_label: str
    record: str  # "Form 41 #3", "Return 12", "Waste 5"
    record_id: int
    ndc: str  # as printed
    drug: str
    schedule: str
    lot: str
    quantity: Decimal
    unit: str
    who: str
    witnesses: tuple[str, ...]
    form_222: str
    detail: str


@dataclass
class Register:
    site: Site
    start: dt.date
    end: dt.date
    rows: list[DisposalRow]

    def day_of(self, row: DisposalRow) -> dt.date:
        return row.when.astimezone(self.site.tz).date()


def _drug(package: Any) -> str:
    product = package.product
    strength = documents_41.strength_label(product.strength)
    return " ".join(p for p in (product.display_name, strength, product.dosage_form.lower()) if p)


def _who(user: User | None, name: str = "") -> str:
    if name:
        return name
    return user.display_name if user is not None else ""


def disposal_register(
    *,
    actor: User | None,
    start: dt.date | None = None,
    end: dt.date | None = None,
    site: Site | None = None,
) -> Register:
    """Every controlled substance that left the pharmacy for good between ``start`` and
    ``end``: each Form 41 line, each controlled line shipped to a reverse distributor
    (Schedule II with the DEA Form 222 it issued), each waste record — oldest first."""
    where = _site(actor, site)
    start, end = date_range(where, start, end)
    low, high = _bounds(where, start, end)
    rows: list[DisposalRow] = []
    for line in (
        DestructionLine.objects.select_related(
            "destruction__performed_by", "package__product", "lot"
        )
        .filter(
            destruction__site=where,
            destruction__destroyed_at__gte=low,
            destruction__destroyed_at__lt=high,
        )
        .order_by("destruction__destroyed_at", "id")
    ):
        d = line.destruction
        rows.append(
            DisposalRow(
                when=d.destroyed_at,
                kind="destruction",
                kind_label="Destroyed on site (Form 41)",
                record=f"Form 41 #{d.pk}",
                record_id=d.pk,
                ndc=line.package.ndc10,
                drug=_drug(line.package),
                schedule=line.package.product.dea_schedule,
                lot=line.lot.number,
                quantity=line.quantity,
                unit=line.package.billing_unit,
                who=_who(d.performed_by, d.performer_name),
                witnesses=(d.witness_1_name, d.witness_2_name),
                form_222="",
                detail=f"{d.method} at {d.location}",
            )
        )
    shipped = (
        VendorReturnLine.objects.select_related(
            "vendor_return__supplier", "vendor_return__shipped_by", "package__product", "lot"
        )
        .filter(
            vendor_return__site=where,
            vendor_return__kind=VendorReturnKind.REVERSE_DISTRIBUTOR,
            vendor_return__shipped_at__gte=low,
            vendor_return__shipped_at__lt=high,
        )
        .exclude(vendor_return__status=VendorReturnStatus.DRAFT)
        .filter(CONTROLLED)
        .order_by("vendor_return__shipped_at", "id")
    )
    for ret_line in shipped:
        ret = ret_line.vendor_return
        assert ret.shipped_at is not None
        supplier = ret.supplier
        schedule = ret_line.package.product.dea_schedule
        dea = f" (DEA {supplier.dea_number})" if supplier.dea_number else ""
        tracking = f"; {ret.carrier} {ret.tracking_number}".rstrip() if ret.carrier else ""
        rows.append(
            DisposalRow(
                when=ret.shipped_at,
                kind="reverse_distributor",
                kind_label="Shipped to a reverse distributor",
                record=f"Return {ret.pk}",
                record_id=ret.pk,
                ndc=ret_line.package.ndc10,
                drug=_drug(ret_line.package),
                schedule=schedule,
                lot=ret_line.lot.number,
                quantity=ret_line.quantity,
                unit=ret_line.package.billing_unit,
                who=_who(ret.shipped_by),
                witnesses=(),
                form_222=dea_form_222_of(ret_line) if schedule == "CII" else "",
                detail=f"To {supplier.name}{dea}{tracking}",
            )
        )
    for waste in (
        Waste.objects.select_related(
            "package__product", "lot", "fill__prescription", "performed_by"
        )
        .filter(site=where, occurred_at__gte=low, occurred_at__lt=high)
        .order_by("occurred_at", "id")
    ):
        parts = [waste.reason]
        if waste.fill is not None:
            parts.append(f"Rx {waste.fill.prescription.number}-{waste.fill.number}")
        if waste.method:
            parts.append(f"disposal: {waste.method}")
        if waste.kind == WasteKind.PATIENT_RETURN:
            parts.append("not restocked")
        rows.append(
            DisposalRow(
                when=waste.occurred_at,
                kind=waste.kind,
                kind_label=waste.get_kind_display(),
                record=f"Waste {waste.pk}",
                record_id=waste.pk,
                ndc=waste.package.ndc10,
                drug=_drug(waste.package),
                schedule=waste.package.product.dea_schedule,
                lot=waste.lot.number if waste.lot is not None else "",
                quantity=waste.quantity,
                unit=waste.package.billing_unit,
                who=_who(waste.performed_by, waste.performer_name),
                witnesses=(waste.witness_name,) if waste.witness_name else (),
                form_222="",
                detail="; ".join(p for p in parts if p),
            )
        )
    rows.sort(key=lambda r: r.when)  # stable: one record's lines stay in their order
    return Register(site=where, start=start, end=end, rows=rows)


CSV_HEADER = (
    "date",
    "time",
    "kind",
    "record",
    "ndc",
    "drug",
    "schedule",
    "lot",
    "quantity",
    "unit",
    "who",
    "witness_1",
    "witness_2",
    "dea_form_222",
    "detail",
)


def register_csv(register: Register) -> str:
    """The register as CSV: a header row, one row per line that left."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    tz = register.site.tz
    for row in register.rows:
        moment = row.when.astimezone(tz)
        witnesses = (*row.witnesses, "", "")
        writer.writerow(
            (
                moment.date().isoformat(),
                f"{moment:%H:%M}",
                row.kind,
                row.record,
                row.ndc,
                _cell(row.drug),
                row.schedule,
                _cell(row.lot),
                format(row.quantity.normalize(), "f"),
                row.unit,
                _cell(row.who),
                _cell(witnesses[0]),
                _cell(witnesses[1]),
                _cell(row.form_222),
                _cell(row.detail),
            )
        )
    return out.getvalue()


def _cell(text: str) -> str:
    # A cell that a spreadsheet would run as a formula is kept as text.
    return f"'{text}" if text[:1] in ("=", "+", "-", "@") else text


# --- The Form 41 PDF ---------------------------------------------------------------------------


def _signers(destruction: Destruction) -> tuple[documents_41.Signer, ...]:
    """Both witnesses as they re-authenticated: the exact moments are in the audit event
    the destruction wrote (the record itself keeps only its creation time)."""
    event = (
        AuditEvent.objects.filter(
            site_id=destruction.site_id,
            action="cs.destruction.recorded",
            object_type=destruction._meta.label_lower,
            object_id=str(destruction.pk),
        )
        .order_by("-id")
        .first()
    )
    proofs: list[Any] = []
    if event is not None:
        with contextlib.suppress(ValueError, TypeError, AttributeError):
            proofs = list(json.loads(event.data or "{}").get("witnesses") or [])
    out: list[documents_41.Signer] = []
    for n, (user, name, factors) in enumerate(
        (
            (destruction.witness_1, destruction.witness_1_name, destruction.witness_1_factors),
            (destruction.witness_2, destruction.witness_2_name, destruction.witness_2_factors),
        )
    ):
        at = destruction.created_at
        if n < len(proofs) and isinstance(proofs[n], dict) and proofs[n].get("at"):
            try:
                at = dt.datetime.fromisoformat(str(proofs[n]["at"]))
            except ValueError:
                at = destruction.created_at
        out.append(
            documents_41.Signer(
                name=name,
                username=user.username if user is not None else "",
                at=at,
                factors=factors,
            )
        )
    return tuple(out)


def form_41(destruction: Destruction) -> documents_41.Form41:
    where = destruction.site
    address = tuple(
        line
        for line in (
            where.address_line1,
            where.address_line2,
            " ".join(
                p
                for p in (f"{where.city}," if where.city else "", where.state, where.postal_code)
                if p
            ),
        )
        if line.strip()
    )
    items = tuple(
        documents_41.Item(
            ndc=line.package.ndc10,
            name=line.package.product.display_name,
            strength=line.package.product.strength,
            form=line.package.product.dosage_form,
            schedule=line.package.product.dea_schedule,
            lot=line.lot.number,
            package_quantity=line.package.package_quantity,
            unit=line.package.billing_unit,
            full_packages=line.full_packages,
            partial=line.partial_quantity,
            total=line.quantity,
        )
        for line in destruction_lines(destruction)
    )
    return documents_41.Form41(
        number=destruction.pk,
        registrant=documents_41.Registrant(
            name=where.name,
            dea_number=where.dea_number,
            address_lines=address,
            phone=format_phone(where.phone) if where.phone else "",
            contact=destruction.performer_name,
        ),
        items=items,
        destroyed_at=destruction.destroyed_at,
        method=destruction.method,
        location=destruction.location,
        performed_by=destruction.performer_name,
        witnesses=_signers(destruction),
        tz=where.tz,
        note=destruction.note,
    )


def form_41_pdf(*, actor: User | None, destruction_id: Any) -> tuple[Destruction, bytes]:
    destruction = destruction_get(actor=actor, destruction_id=destruction_id)
    return destruction, documents_41.render_form_41(form_41(destruction))
