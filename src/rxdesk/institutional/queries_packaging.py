"""Reads of packaging: the repackaging log (with its CSV for the board), one repackaging
record, the med paks and one of them, the fills a patient's med pak may be made from, the
BUD a repackaging would get, and the inventory's recall seam (which repackaged lots and med
paks were made from recalled lots).

Everything here is the actor's own pharmacy: another pharmacy's rows do not exist (404).
A role without patient.view (the auditor) never gets a patient's name from here."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db.models import Q, QuerySet
from django.urls import reverse

from rxdesk.catalog.models import Package
from rxdesk.catalog.ndc import CodeError, parse_scan
from rxdesk.catalog.queries import packages_for_scan
from rxdesk.core.capabilities import Cap, has
from rxdesk.core.errors import Invalid, NotFound
from rxdesk.core.models import Site, User
from rxdesk.core.services import authorize
from rxdesk.institutional import repack
from rxdesk.institutional.cabinet_ledger import settings_of
from rxdesk.institutional.choices import PackagingStatus
from rxdesk.institutional.models import MedPak, MedPakItem, RepackRecord
from rxdesk.inventory.choices import MoveReason
from rxdesk.inventory.models import Lot, StockMove
from rxdesk.inventory.seams import LotUse
from rxdesk.patients.models import Patient
from rxdesk.rx.choices import FillStatus
from rxdesk.rx.models import Fill

MAX_ID = 2**63 - 1
SEARCH_LIMIT = 500
# The fill statuses whose stock has left the shelf: a med pak is made from what was filled.
PACKABLE_FILLS = (FillStatus.FILLED, FillStatus.READY, FillStatus.DISPENSED)
SOLID_FORMS = ("TABLET", "CAPSULE", "CAPLET")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _id(value: Any) -> int | None:
    try:
        pk = int(str(value))
    except (TypeError, ValueError):
        return None
    return pk if 0 < pk <= MAX_ID else None


def shows_patients(actor: User) -> bool:
    """Whether the actor may see who a med pak is for (minimum necessary, HIPAA)."""
    return has(actor, Cap.PATIENT_VIEW)


# --- Solid oral dosage forms ----------------------------------------------------------------


def solid_oral_problem(package: Package) -> str:
    """Why ``package`` is not a solid oral dosage form counted in units (empty: it is).
    Unit-dose repackaging and med paks are for tablets and capsules only (reference §6.2:
    liquids are excluded; §6.3: solid oral dosage forms)."""
    product = package.product
    form = (product.dosage_form or "").upper()
    name = " ".join(p for p in (product.display_name, product.strength) if p)
    if package.billing_unit != "EA" or not any(word in form for word in SOLID_FORMS):
        shown = (product.dosage_form or "no dosage form").lower()
        return (
            f"{name} is a {shown} billed in {package.billing_unit}: only tablets and capsules "
            "(solid oral doses counted one by one) are repackaged or put in a med pak."
        )
    route = (product.route or "").upper()
    if route and "ORAL" not in route:
        return (
            f"{name} is given by the {product.route.lower()} route: only oral tablets and "
            "capsules are repackaged or put in a med pak."
        )
    return ""


# --- Scans ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ScannedSource:
    package: Package | None
    lot_number: str
    expiry: dt.date | None


def read_scan(text: str, *, field: str = "scan") -> ScannedSource:
    """The package, lot and expiry a scanned barcode (GS1 DataMatrix, UPC, NDC) carries."""
    value = (text or "").strip()
    if len(value) > 200:
        raise Invalid("A barcode is at most 200 characters.", field=field)
    try:
        scan = parse_scan(value)
    except CodeError as exc:
        raise Invalid(str(exc), field=field) from None
    found = packages_for_scan(scan)
    if not found:
        raise Invalid(f"{value} is not a package in the drug catalog.", field=field)
    if len(found) > 1:
        raise Invalid(
            f"{value} matches more than one package; type the NDC with hyphens.", field=field
        )
    return ScannedSource(found[0], (scan.lot or "").strip().upper(), scan.expiry)


def package_of(text: str, *, field: str = "ndc") -> Package:
    """The catalog package named by an NDC typed in any printed form, or a scan."""
    if not (text or "").strip():
        raise Invalid("Scan the package or type its NDC.", field=field)
    source = read_scan(text, field=field)
    assert source.package is not None
    return source.package


# --- Repackaging ----------------------------------------------------------------------------


def _repacks(site: Site) -> QuerySet[RepackRecord]:
    return RepackRecord.objects.filter(site=site).select_related(
        "package__product", "source_lot", "lot", "repackaged_by", "checked_by", "site"
    )


def repack_get(*, actor: User, record_id: Any) -> RepackRecord:
    authorize(actor, Cap.LTC_VIEW)
    pk = _id(record_id)
    found = _repacks(actor.site).filter(pk=pk).first() if pk else None
    if found is None:
        raise NotFound("No such repackaging record at this pharmacy.")
    return found


def repack_search(
    *,
    actor: User,
    q: str = "",
    status: str | None = None,
    since: dt.date | None = None,
    until: dt.date | None = None,
    limit: int = 100,
) -> list[RepackRecord]:
    """The repackaging log, newest first: by internal or source lot, NDC or drug name,
    status and the days repackaged."""
    authorize(actor, Cap.LTC_VIEW)
    qs = _repacks(actor.site)
    text = " ".join((q or "").split())[:100]
    if text:
        digits = text.replace("-", "")
        match = (
            Q(number__icontains=text)
            | Q(source_lot__number__icontains=text)
            | Q(package__product__name__icontains=text)
            | Q(package__product__generic_name__icontains=text)
        )
        if digits.isdigit():
            match |= Q(package__ndc11__contains=digits)
        qs = qs.filter(match)
    if status:
        qs = qs.filter(status=status)
    if since is not None:
        qs = qs.filter(repackaged_on__gte=since)
    if until is not None:
        qs = qs.filter(repackaged_on__lte=until)
    return list(qs.order_by("-repackaged_on", "-id")[: max(1, min(limit, SEARCH_LIMIT))])


def repack_waiting(*, actor: User) -> list[RepackRecord]:
    """Repackaged, waiting for the pharmacist's check."""
    authorize(actor, Cap.LTC_VIEW)
    return list(_repacks(actor.site).filter(status=PackagingStatus.MADE).order_by("id"))


def _cell(value: object) -> object:
    """A CSV cell that a spreadsheet will not run as a formula (CSV injection)."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


LOG_COLUMNS = [
    "Date repackaged",
    "Internal lot",
    "Drug",
    "Strength",
    "Dosage form",
    "NDC",
    "Manufacturer",
    "Manufacturer lot",
    "Manufacturer expiry",
    "Quantity",
    "Container",
    "Container class",
    "Beyond-use date",
    "BUD rule",
    "Repackaged by",
    "Checked by",
    "Checked at",
    "Status",
]


def repack_log_csv(records: Sequence[RepackRecord], site: Site) -> str:
    """The repackaging log the boards ask for: drug, strength, manufacturer, manufacturer
    lot and expiry, internal lot, quantity, date, packager and the checking pharmacist."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(LOG_COLUMNS)
    for r in records:
        product = r.package.product
        checked = (
            r.checked_at.astimezone(site.tz).strftime("%m/%d/%Y %H:%M") if r.checked_at else ""
        )
        writer.writerow(
            [
                _cell(v)
                for v in (
                    repack.us(r.repackaged_on),
                    r.number,
                    product.display_name,
                    product.strength,
                    product.dosage_form,
                    r.package.ndc10,
                    product.labeler,
                    r.source_lot.number,
                    repack.us(r.source_expiry),
                    f"{r.quantity.normalize():f}",
                    r.container,
                    r.container_class,
                    repack.us(r.bud),
                    r.bud_rule,
                    r.repackaged_by.display_name,
                    r.checked_by.display_name if r.checked_by else "",
                    checked,
                    r.get_status_display(),
                )
            ]
        )
    return buffer.getvalue()


def bud_preview(
    *,
    actor: User,
    expiry: dt.date | None,
    repackaged_on: dt.date | None = None,
    rule: str | None = None,
    months: int | None = None,
) -> repack.Bud:
    """The BUD a repackaging would get: the site's rule unless another is named."""
    authorize(actor, Cap.LTC_VIEW)
    kept = settings_of(actor.site)
    return repack.repack_bud(
        rule or kept.repack_rule,
        months if months is not None else kept.repack_months,
        repackaged_on or actor.site.today(),
        expiry,
    )


# --- Med paks -------------------------------------------------------------------------------


def _paks(site: Site) -> QuerySet[MedPak]:
    return MedPak.objects.filter(site=site).select_related(
        "patient", "resident__facility", "prepared_by", "checked_by", "site"
    )


def med_pak_get(*, actor: User, pak_id: Any) -> MedPak:
    authorize(actor, Cap.LTC_VIEW)
    pk = _id(pak_id)
    found = _paks(actor.site).filter(pk=pk).first() if pk else None
    if found is None:
        raise NotFound("No such med pak at this pharmacy.")
    return found


def med_pak_items(pak: MedPak) -> list[MedPakItem]:
    return list(
        pak.items.select_related(
            "prescription__prescriber", "fill", "package__product", "lot"
        ).order_by("id")
    )


def med_pak_search(
    *,
    actor: User,
    q: str = "",
    status: str | None = None,
    patient_id: int | None = None,
    limit: int = 100,
) -> list[MedPak]:
    """Med paks, newest first: by serial (and, for those who may see patients, name)."""
    authorize(actor, Cap.LTC_VIEW)
    qs = _paks(actor.site)
    text = " ".join((q or "").split())[:100]
    if text:
        match = Q(number__icontains=text)
        if shows_patients(actor):
            match |= Q(patient__last_name__icontains=text) | Q(patient__first_name__icontains=text)
        qs = qs.filter(match)
    if status:
        qs = qs.filter(status=status)
    if patient_id is not None:
        qs = qs.filter(patient_id=patient_id)
    return list(qs.order_by("-created_at", "-id")[: max(1, min(limit, SEARCH_LIMIT))])


@dataclass(frozen=True)
class FillLots:
    """The lots a fill's container holds (what its stock moves took out, net of returns)."""

    lots: list[Lot]

    @property
    def earliest(self) -> Lot | None:
        dated = [lot for lot in self.lots if lot.expiry is not None]
        return min(dated, key=lambda lot: (lot.expiry, lot.pk)) if dated else None


def fill_lots(fill: Fill) -> FillLots:
    net: dict[int, Decimal] = {}
    lots: dict[int, Lot] = {}
    moves = StockMove.objects.filter(
        site_id=fill.site_id,
        reference_type="fill",
        reference_id=str(fill.pk),
        reason__in=(MoveReason.DISPENSE, MoveReason.RETURN_TO_STOCK),
    ).select_related("lot")
    for move in moves:
        net[move.lot_id] = net.get(move.lot_id, Decimal(0)) + move.quantity
        lots[move.lot_id] = move.lot
    return FillLots(sorted((lots[i] for i, q in net.items() if q < 0), key=lambda lot: lot.pk))


def packable_fills(*, actor: User, patient: Patient) -> list[Fill]:
    """The patient's filled fills (filled, ready or sold) of tablets and capsules, newest
    first: what a med pak may be made from."""
    authorize(actor, Cap.PATIENT_VIEW)
    if patient.site_id != actor.site_id:
        raise NotFound("No such patient at this pharmacy.")
    fills = (
        Fill.objects.filter(
            site=actor.site, prescription__patient=patient, status__in=PACKABLE_FILLS
        )
        .select_related("prescription__prescriber", "package__product", "prescription__package")
        .order_by("-dispensed_at", "-id")[:100]
    )
    out = []
    for fill in fills:
        package = fill.package or fill.prescription.package
        if package is not None and not solid_oral_problem(package):
            out.append(fill)
    return out


def patient_of(*, actor: User, patient_id: Any) -> Patient:
    authorize(actor, Cap.PATIENT_VIEW)
    pk = _id(patient_id)
    found = Patient.objects.filter(site=actor.site, pk=pk).first() if pk else None
    if found is None:
        raise NotFound("No such patient at this pharmacy.")
    return found


# --- The inventory's recall seam ------------------------------------------------------------


def recall_uses(actor: User, site_id: int, lot_ids: Sequence[int]) -> list[LotUse]:
    """What the site repackaged or packaged from any of the recalled stock lots, for a user
    who may see long-term care: repackaging records (with the internal lot to pull too) and
    med paks (by serial, no patient named). Two queries."""
    if not lot_ids or not has(actor, Cap.LTC_VIEW):
        return []
    wanted = list(lot_ids)
    out: list[LotUse] = []
    for r in (
        RepackRecord.objects.filter(site_id=site_id, source_lot_id__in=wanted)
        .select_related("package__product", "source_lot")
        .order_by("-created_at", "-id")
    ):
        product = r.package.product
        out.append(
            LotUse(
                what=f"Repackaged unit doses, internal lot {r.number}: {product.display_name} "
                f"{product.strength}, {r.quantity.normalize():f} units, BUD "
                f"{repack.us(r.bud)} — pull the internal lot too",
                made_at=r.created_at,
                url=reverse("ltc_repack", args=[r.pk]),
                status=r.get_status_display(),
                lot_number=r.source_lot.number,
            )
        )
    paks: dict[int, tuple[MedPak, set[str]]] = {}
    for item in (
        MedPakItem.objects.filter(pak__site_id=site_id, lot_id__in=wanted)
        .select_related("pak", "lot")
        .order_by("-pak__created_at", "-pak_id")
    ):
        paks.setdefault(item.pak_id, (item.pak, set()))[1].add(item.lot.number)
    for pak, numbers in paks.values():
        out.append(
            LotUse(
                what=f"Med pak {pak.number} (starting {repack.us(pak.start_on)}, BUD "
                f"{repack.us(pak.bud)})",
                made_at=pak.created_at,
                url=reverse("ltc_med_pak", args=[pak.pk]),
                status=pak.get_status_display(),
                lot_number=", ".join(sorted(numbers)),
            )
        )
    return out
