"""Services of the vaccine catalog (CVX, MVX, NDC crosswalk, VIS) and vaccine stock by funding
source.

* :func:`catalog_import_cvx` loads the CDC code sets (``rxdesk import-cvx DIR``) in one
  transaction and links each crosswalk NDC to the drug catalog's package, adding the
  package (and its product) when the package form tells how many single doses it holds.
* :func:`vaccine_lot_fund` records which program paid for a site's lot (VFC, state,
  private); :func:`vaccine_stock_receive` puts doses on the shelf through the stock ledger
  with their funding. Public (VFC, state) and private doses are never mixed: a lot is kept
  under one funding source per site, and its funding cannot change once a dose of it was
  given (the dose's funding is what the registry and the VFC program were told)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.db import IntegrityError, models, transaction
from django.utils import timezone

from rxdesk.catalog.choices import BillingUnit, Storage
from rxdesk.catalog.models import Package, Product
from rxdesk.core.audit import audit_record, register_actions
from rxdesk.core.capabilities import Cap
from rxdesk.core.errors import Conflict, Forbidden, Invalid, NotFound
from rxdesk.core.models import Site, User
from rxdesk.core.services import authorize, site_default
from rxdesk.immunizations import cvx_import
from rxdesk.immunizations.choices import CrosswalkUnit, Funding, VisStatus
from rxdesk.immunizations.models import (
    Manufacturer,
    Vaccine,
    VaccineLot,
    VaccineNdc,
    VisDocument,
)
from rxdesk.immunizations.queries_catalog import is_vaccine_package, read_code, vaccine_for_code
from rxdesk.inventory import ledger
from rxdesk.inventory.choices import MoveReason
from rxdesk.inventory.ledger import NO_REF, Ref
from rxdesk.inventory.models import Lot, StockBalance, StockMove, Supplier
from rxdesk.inventory.services.stock import receivable_lot

register_actions(
    {
        "immunizations.catalog.imported": "CDC vaccine code sets loaded (CVX, MVX, NDCs, VIS)",
        "immunizations.lot.funded": "Funding source of a vaccine lot recorded",
        "immunizations.stock.received": "Vaccine doses received into stock with their funding",
    }
)

Progress = Callable[[int, int], None]
BATCH = 500
NOTE_MAX = 500
MAX_DOSES = Decimal("100000")
# Varicella-containing live vaccines are kept frozen (package inserts of Varivax, ProQuad,
# Zostavax); every other vaccine in the CDC crosswalk is refrigerated.
FROZEN_GROUPS = frozenset({"VARICELLA"})
FROZEN_CVX = frozenset({"121"})


# --- The CDC import ---------------------------------------------------------------------------


@dataclass
class Counts:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    written: set[Any] = field(default_factory=set, repr=False)  # keys created or changed

    @property
    def total(self) -> int:
        return self.created + self.updated + self.unchanged

    def as_dict(self) -> dict[str, int]:
        return {"created": self.created, "updated": self.updated, "unchanged": self.unchanged}


@dataclass
class ImportSummary:
    """What one run of the CDC import found and did."""

    vaccines: Counts = field(default_factory=Counts)
    manufacturers: Counts = field(default_factory=Counts)
    sale: Counts = field(default_factory=Counts)
    use: Counts = field(default_factory=Counts)
    vis: Counts = field(default_factory=Counts)
    linked: int = 0  # crosswalk rows with a catalog package
    packages_created: int = 0
    products_created: int = 0
    need_size: int = 0  # unit-of-sale NDCs not in the catalog whose size the file does not tell
    repeated_ndcs: int = 0
    dangling_links: int = 0
    audited: bool = False

    def words(self) -> str:
        """'288 vaccines, 89 manufacturers, 557 + 506 NDCs, 174 VIS; 41 NDCs linked to the
        catalog; 12 need a package size'."""
        return (
            f"{self.vaccines.total:,} vaccines, {self.manufacturers.total:,} manufacturers, "
            f"{self.sale.total:,} + {self.use.total:,} NDCs, {self.vis.total:,} VIS; "
            f"{self.linked:,} NDCs linked to the catalog; {self.need_size:,} need a package size"
        )

    def changes(self) -> str:
        parts = []
        for label, c in (
            ("vaccines", self.vaccines),
            ("manufacturers", self.manufacturers),
            ("sale NDCs", self.sale),
            ("use NDCs", self.use),
            ("VIS", self.vis),
        ):
            parts.append(f"{label}: {c.created:,} new, {c.updated:,} changed")
        made = (
            f"; {self.packages_created:,} catalog packages added"
            f" ({self.products_created:,} new products)"
        )
        return "; ".join(parts) + made

    def as_dict(self) -> dict[str, Any]:
        return {
            "vaccines": self.vaccines.as_dict(),
            "manufacturers": self.manufacturers.as_dict(),
            "sale_ndcs": self.sale.as_dict(),
            "use_ndcs": self.use.as_dict(),
            "vis": self.vis.as_dict(),
            "linked": self.linked,
            "packages_created": self.packages_created,
            "products_created": self.products_created,
            "need_size": self.need_size,
            "repeated_ndcs": self.repeated_ndcs,
            "dangling_links": self.dangling_links,
        }


class _Tracker:
    def __init__(self, progress: Progress | None, total: int) -> None:
        self.progress, self.total, self.done = progress, max(total, 1), 0
        self.add(0)

    def add(self, n: int) -> None:
        self.done = min(self.total, self.done + n)
        if self.progress is not None:
            self.progress(self.done, self.total)


def _upsert(
    model: type[models.Model],
    rows: dict[Any, dict[str, Any]],
    existing: dict[Any, Any],
    counts: Counts,
    *,
    stamp: dict[str, Any] | None = None,
) -> dict[Any, Any]:
    """Create the rows not held, rewrite the ones the file changed, leave the rest; return
    key → row object. ``rows`` values are attname → value; ``stamp`` is set on written rows
    only (e.g. imported_at), never compared."""
    create: list[Any] = []
    update: list[Any] = []
    changed_fields: set[str] = set()
    out: dict[Any, Any] = {}
    for key, values in rows.items():
        obj = existing.get(key)
        if obj is None:
            obj = model(**values, **(stamp or {}))
            create.append(obj)
            counts.written.add(key)
        else:
            diff = [name for name, value in values.items() if getattr(obj, name) != value]
            if diff:
                for name in diff:
                    setattr(obj, name, values[name])
                for name, value in (stamp or {}).items():
                    setattr(obj, name, value)
                changed_fields.update(diff)
                update.append(obj)
                counts.written.add(key)
            else:
                counts.unchanged += 1
        out[key] = obj
    model._default_manager.bulk_create(create, batch_size=BATCH)
    if update:
        names = {f.attname: f.name for f in model._meta.concrete_fields}
        fields = sorted({names[a] for a in changed_fields} | set(stamp or {}))
        model._default_manager.bulk_update(update, fields, batch_size=BATCH)
    counts.created += len(create)
    counts.updated += len(update)
    return out


def _storage(vaccine: Vaccine) -> str:
    frozen = vaccine.cvx in FROZEN_CVX or FROZEN_GROUPS & set(vaccine.groups or [])
    return Storage.FREEZE if frozen else Storage.REFRIGERATE


def _catalog_packages(
    files: cvx_import.CdcFiles,
    vaccines: dict[str, Vaccine],
    summary: ImportSummary,
    today: dt.date,
) -> dict[str, Package]:
    """ndc11 → catalog package of every unit-of-sale NDC: the catalog's own, or one added
    here when the package form tells a count of single doses (billed EA)."""
    wanted = [r.ndc11 for r in files.sale]
    found = {p.ndc11: p for p in Package.objects.filter(ndc11__in=wanted)}
    products = {
        p.product_ndc: p
        for p in Product.objects.filter(product_ndc__in={r.product_ndc for r in files.sale})
    }
    for row in files.sale:
        if row.ndc11 in found:
            continue
        doses = cvx_import.doses_in(row.package_form)
        if doses is None or len(row.ndc10) > 12:
            summary.need_size += 1
            continue
        vaccine = vaccines[row.cvx]
        active = row.end_date is None or row.end_date >= today
        product = products.get(row.product_ndc)
        if product is None:
            product, made = Product.objects.get_or_create(
                product_id=f"CDC-CVX-{row.product_ndc}",
                defaults={
                    "product_ndc": row.product_ndc,
                    "product_type": "VACCINE",
                    "name": (row.proprietary_name or vaccine.short_description)[:500],
                    "generic_name": vaccine.short_description[:600],
                    "route": row.route[:200],
                    "labeler": row.labeler[:200],
                    "marketing_start": row.start_date,
                    "marketing_end": row.end_date,
                    "cold_chain": True,
                    "storage": _storage(vaccine),
                    "active": active,
                },
            )
            summary.products_created += int(made)
            products[row.product_ndc] = product
        units = "single-dose unit" if doses == 1 else "single-dose units"
        found[row.ndc11] = Package.objects.create(
            ndc11=row.ndc11,
            ndc10=row.ndc10,
            product=product,
            description=f"{row.package_form} ({doses} {units})"[:1000],
            billing_unit=BillingUnit.EACH,
            package_quantity=Decimal(doses),
            marketing_start=row.start_date,
            marketing_end=row.end_date,
            active=active,
        )
        summary.packages_created += 1
    return found


def _ndc_values(
    row: cvx_import.NdcRow,
    *,
    vaccine: Vaccine,
    mvx: Manufacturer | None,
    sale_ndc11: str,
    package: Package | None,
) -> dict[str, Any]:
    return {
        "ndc11": row.ndc11,
        "ndc10": row.ndc10,
        "unit": row.unit,
        "vaccine_id": vaccine.pk,
        "manufacturer_id": mvx.pk if mvx is not None else None,
        "proprietary_name": row.proprietary_name,
        "description": row.description,
        "labeler": row.labeler,
        "package_form": row.package_form,
        "route": row.route,
        "start_date": row.start_date,
        "end_date": row.end_date,
        "gtin": row.gtin,
        "sale_ndc11": sale_ndc11,
        "package_id": package.pk if package is not None else None,
    }


def _load_ndcs(
    files: cvx_import.CdcFiles,
    vaccines: dict[str, Vaccine],
    makers: dict[str, Manufacturer],
    packages: dict[str, Package],
    summary: ImportSummary,
) -> None:
    sale_by_id: dict[str, cvx_import.NdcRow] = {}
    for r in files.sale:
        sale_by_id.setdefault(r.source_id, r)
    # MVX: the linker names the manufacturer of both rows it joins; a row no link names
    # takes the MVX of its labeler code (the labeler code identifies the firm).
    mvx_of_row: dict[tuple[str, str], str] = {}
    mvx_of_labeler: dict[str, str] = {}
    sale_of_use: dict[str, list[tuple[cvx_import.NdcRow, str]]] = {}
    use_by_id = {r.source_id: r for r in reversed(files.use)}
    for link in files.links:
        sale_row = sale_by_id[link.sale_id]
        use_row = use_by_id[link.use_id]
        sale_of_use.setdefault(link.use_id, []).append((sale_row, link.mvx))
        if link.mvx:
            mvx_of_row.setdefault(("sale", sale_row.ndc11), link.mvx)
            mvx_of_row.setdefault(("use", use_row.ndc11), link.mvx)
            mvx_of_labeler.setdefault(sale_row.labeler_code, link.mvx)
            mvx_of_labeler.setdefault(use_row.labeler_code, link.mvx)

    def maker(unit: str, row: cvx_import.NdcRow) -> Manufacturer | None:
        code = mvx_of_row.get((unit, row.ndc11)) or mvx_of_labeler.get(row.labeler_code)
        return makers.get(code) if code else None

    existing = {(n.ndc11, n.unit): n for n in VaccineNdc.objects.all()}
    sale_rows = {
        (r.ndc11, CrosswalkUnit.SALE.value): _ndc_values(
            r,
            vaccine=vaccines[r.cvx],
            mvx=maker("sale", r),
            sale_ndc11="",
            package=packages.get(r.ndc11),
        )
        for r in files.sale
    }
    _upsert(VaccineNdc, sale_rows, existing, summary.sale)
    use_rows = {}
    for r in files.use:
        # A syringe sold in a carton of 10 and in a carton of 2: the stock is kept in the
        # carton the catalog knows (the lowest NDC when it knows several).
        options = sorted(
            sale_of_use.get(r.source_id, []),
            key=lambda o: (o[0].ndc11 not in packages, o[0].ndc11),
        )
        carton = options[0][0] if options else None
        use_rows[(r.ndc11, CrosswalkUnit.USE.value)] = _ndc_values(
            r,
            vaccine=vaccines[r.cvx],
            mvx=maker("use", r),
            sale_ndc11=carton.ndc11 if carton is not None else "",
            package=packages.get(carton.ndc11) if carton is not None else None,
        )
    _upsert(VaccineNdc, use_rows, existing, summary.use)
    summary.linked = sum(
        1 for v in (*sale_rows.values(), *use_rows.values()) if v["package_id"] is not None
    )


def _load_vis(
    files: cvx_import.CdcFiles, vaccines: dict[str, Vaccine], summary: ImportSummary
) -> None:
    rows = {
        v.barcode: {
            "name": v.name,
            "edition_date": v.edition_date,
            "barcode": v.barcode,
            "document_code": v.document_code,
            "status": VisStatus.CURRENT if v.status == "current" else VisStatus.HISTORIC,
            "url": files.vis_urls.get(v.document_code, ""),
        }
        for v in files.vis
    }
    existing = {d.barcode: d for d in VisDocument.objects.filter(barcode__in=rows)}
    docs = _upsert(VisDocument, rows, existing, summary.vis)
    through = VisDocument.vaccines.through
    current: dict[int, set[int]] = {}
    for doc_id, vaccine_id in through.objects.filter(
        visdocument_id__in=[d.pk for d in docs.values()]
    ).values_list("visdocument_id", "vaccine_id"):
        current.setdefault(doc_id, set()).add(vaccine_id)
    add, remove, touched = [], [], set()
    for barcode, doc in docs.items():
        wanted = {vaccines[c].pk for c in files.vis_cvx.get(barcode, set()) if c in vaccines}
        have = current.get(doc.pk, set())
        add += [through(visdocument_id=doc.pk, vaccine_id=v) for v in wanted - have]
        remove += [(doc.pk, v) for v in have - wanted]
        if wanted != have and barcode in existing and barcode not in summary.vis.written:
            touched.add(barcode)
    through.objects.bulk_create(add, batch_size=BATCH)
    for doc_id, vaccine_id in remove:
        through.objects.filter(visdocument_id=doc_id, vaccine_id=vaccine_id).delete()
    # A document whose vaccines alone changed counts as changed, not unchanged.
    summary.vis.updated += len(touched)
    summary.vis.unchanged -= len(touched)


def catalog_import_cvx(
    *, actor: User | None, directory: str | Path, progress: Progress | None = None
) -> ImportSummary:
    """Load the CDC immunization code sets from ``directory`` (see
    :mod:`rxdesk.immunizations.cvx_import`) and link the crosswalk to the drug catalog.

    One transaction: a bad file or line loads nothing (Invalid naming file and line).
    Idempotent: a row held is rewritten only where the file changed it; rows no longer in
    the files are left as they are (a vaccine's status is CDC's). One audit event, in the
    actor's chain (the first site's for the operator at the shell)."""
    authorize(actor, Cap.CATALOG_IMPORT)
    try:
        files = cvx_import.read_directory(directory)
    except cvx_import.CdcFileError as exc:
        raise Invalid(f"{exc} — nothing was loaded.", field="directory") from None
    summary = ImportSummary(repeated_ndcs=files.repeated_ndcs, dangling_links=files.dangling_links)
    tracker = _Tracker(
        progress,
        len(files.vaccines)
        + len(files.manufacturers)
        + len(files.sale)
        + len(files.use)
        + len(files.vis),
    )
    now = timezone.now()
    site: Site | None = actor.site if actor is not None else site_default()
    today = site.today() if site is not None else timezone.localdate()
    with transaction.atomic():
        vaccine_rows = {
            v.cvx: {
                "cvx": v.cvx,
                "short_description": v.short_description[:300],
                "full_name": v.full_name[:600],
                "notes": v.notes,
                "status": v.status[:20],
                "last_updated": v.last_updated,
                "groups": files.groups.get(v.cvx, []),
                "live": v.live,
            }
            for v in files.vaccines
        }
        vaccines = _upsert(
            Vaccine,
            vaccine_rows,
            {v.cvx: v for v in Vaccine.objects.filter(cvx__in=vaccine_rows)},
            summary.vaccines,
            stamp={"imported_at": now},
        )
        tracker.add(len(files.vaccines))
        maker_rows = {
            m.mvx: {
                "mvx": m.mvx,
                "name": m.name[:200],
                "notes": m.notes,
                "status": m.status[:20],
                "last_updated": m.last_updated,
            }
            for m in files.manufacturers
        }
        makers = _upsert(
            Manufacturer,
            maker_rows,
            {m.mvx: m for m in Manufacturer.objects.filter(mvx__in=maker_rows)},
            summary.manufacturers,
        )
        tracker.add(len(files.manufacturers))
        packages = _catalog_packages(files, vaccines, summary, today)
        _load_ndcs(files, vaccines, makers, packages, summary)
        tracker.add(len(files.sale) + len(files.use))
        _load_vis(files, vaccines, summary)
        tracker.add(len(files.vis))
        if site is not None:
            audit_record(
                actor=actor,
                site=site,
                action="immunizations.catalog.imported",
                object_type="immunizations.vaccine",
                data={"directory": Path(directory).name, **summary.as_dict()},
            )
            summary.audited = True
    return summary


# --- Funding and receiving --------------------------------------------------------------------


def _signed_in(actor: User | None) -> User:
    if actor is None:
        raise Forbidden("Sign in: vaccine stock records name who recorded them.")
    return actor


def _funding(value: Any) -> str:
    if value not in Funding.values:
        names = ", ".join(Funding.values)
        raise Invalid(f"Choose the funding source: {names}.", field="funding")
    return str(value)


def _administered(site: Site, lot: Lot) -> bool:
    return StockMove.objects.filter(site=site, lot=lot, reason=MoveReason.ADMINISTER).exists()


def _funding_words(value: str) -> str:
    return Funding(value).label


def vaccine_lot_fund(*, actor: User | None, lot: Lot, funding: str) -> VaccineLot:
    """Record which program paid for the site's doses of ``lot`` (VFC, state or private).

    Refused once a dose of the lot was given here under its present funding (the dose's
    record and its registry report say who paid). Recording the same funding again
    changes nothing and writes no event."""
    authorize(actor, Cap.IMM_STOCK)
    actor = _signed_in(actor)
    site = actor.site
    funding = _funding(funding)
    with transaction.atomic():
        found = Lot.objects.select_related("package").filter(pk=getattr(lot, "pk", 0)).first()
        here = found is not None and (
            StockBalance.objects.filter(site=site, lot=found).exists()
            or VaccineLot.objects.filter(site=site, lot=found).exists()
        )
        if found is None or not here:
            raise NotFound("No such vaccine lot at this pharmacy.", field="lot")
        if not is_vaccine_package(found.package):
            raise Invalid(
                f"Lot {found.number} is not a vaccine (NDC {found.package.ndc10}).", field="lot"
            )
        row = VaccineLot.objects.select_for_update().filter(site=site, lot=found).first()
        before = row.funding if row is not None else ""
        if row is not None and row.funding == funding:
            return row
        if row is not None and _administered(site, found):
            raise Conflict(
                f"Doses of lot {found.number} were already given as "
                f"{_funding_words(row.funding)} stock; its funding cannot change now. "
                "If the funding was recorded wrongly, correct the doses first.",
                field="funding",
            )
        now = timezone.now()
        if row is None:
            try:
                with transaction.atomic():
                    row = VaccineLot.objects.create(
                        site=site, lot=found, funding=funding, recorded_by=actor, recorded_at=now
                    )
            except IntegrityError:
                raise Conflict(
                    "Someone recorded this lot's funding at the same moment; look again.",
                    field="funding",
                ) from None
        else:
            row.funding, row.recorded_by, row.recorded_at = funding, actor, now
            row.save(update_fields=["funding", "recorded_by", "recorded_at"])
        audit_record(
            actor=actor,
            action="immunizations.lot.funded",
            obj=row,
            data={
                "lot_id": found.pk,
                "lot": found.number,
                "ndc11": found.package.ndc11,
                "before": {"funding": before},
                "after": {"funding": funding},
            },
        )
    return row


@dataclass(frozen=True)
class Received:
    move: StockMove
    vaccine_lot: VaccineLot
    ndc: VaccineNdc


def _doses(value: Any) -> Decimal:
    quantity = ledger.quantity_of(value, field="quantity")
    if quantity != quantity.to_integral_value():
        raise Invalid("Count whole doses.", field="quantity")
    if quantity > MAX_DOSES:
        raise Invalid("That is more doses than one delivery holds.", field="quantity")
    return quantity


def _supplier(site: Site, value: Supplier | int | str | None) -> Supplier | None:
    if value in (None, ""):
        return None
    pk = value.pk if isinstance(value, Supplier) else value
    try:
        pk = int(str(pk))
    except ValueError:
        raise Invalid("Choose a supplier of this pharmacy.", field="supplier") from None
    found = Supplier.objects.filter(site=site, pk=pk, active=True).first() if pk > 0 else None
    if found is None:
        raise Invalid("Choose a supplier of this pharmacy.", field="supplier")
    return found


def vaccine_stock_receive(
    *,
    actor: User | None,
    code: str,
    lot_number: str = "",
    expiry: dt.date | str | None = None,
    quantity: Any,
    funding: str,
    supplier: Supplier | int | str | None = None,
    note: str = "",
) -> Received:
    """Receive ``quantity`` doses of a vaccine (scanned or typed NDC, GTIN or GS1 code)
    into the site's stock with their funding source, in one transaction: the lot (no
    expired or recalled lot, its expiry as on file), the funding row, the ledger move.

    The lot and expiry of a GS1 DataMatrix scan are used when not typed. A lot already
    recorded here under another funding source is refused: one lot, one funding, so VFC
    doses never go to a private patient and the other way round."""
    authorize(actor, Cap.IMM_STOCK)
    actor = _signed_in(actor)
    site = actor.site
    funding = _funding(funding)
    scan = read_code(code)
    row = vaccine_for_code(code)
    if row is None:
        raise Invalid(
            f"{code.strip()} is not a vaccine NDC of the CDC crosswalk. Check the package, "
            "or load the latest CDC files (rxdesk import-cvx).",
            field="code",
        )
    package = row.package
    if package is None:
        raise Invalid(
            f"NDC {row.ndc10} ({row.proprietary_name or row.vaccine.short_description}) has no "
            "catalog package: its package size is not in the CDC file. Ask the "
            "pharmacist-in-charge to add it to the drug catalog.",
            field="code",
        )
    if package.billing_unit != BillingUnit.EACH:
        raise Conflict(
            f"NDC {package.ndc10} is kept in {package.get_billing_unit_display().lower()}s, "
            "not doses; receive it through inventory receiving.",
            field="code",
        )
    doses = _doses(quantity)
    number = (lot_number or "").strip() or (scan.lot or "")
    if scan.lot and lot_number.strip() and scan.lot.upper() != lot_number.strip().upper():
        raise Invalid(
            f"The barcode says lot {scan.lot}; check the lot number typed.", field="lot_number"
        )
    when = expiry if expiry not in (None, "") else scan.expiry
    text = " ".join((note or "").split())
    if len(text) > NOTE_MAX:
        raise Invalid(f"Keep the note to {NOTE_MAX} characters.", field="note")
    with transaction.atomic():
        source = _supplier(site, supplier)
        lot = receivable_lot(site=site, package=package, lot_number=number, expiry=when)
        funded = VaccineLot.objects.filter(site=site, lot=lot).first()
        if funded is not None and funded.funding != funding:
            raise Conflict(
                f"Lot {lot.number} is kept here as {_funding_words(funded.funding)} stock. "
                "One lot is kept under one funding source: keep these doses apart and "
                "ask the pharmacist-in-charge.",
                field="funding",
            )
        if funded is None:
            try:
                with transaction.atomic():
                    funded = VaccineLot.objects.create(
                        site=site, lot=lot, funding=funding, recorded_by=actor
                    )
            except IntegrityError:
                raise Conflict(
                    "Someone recorded this lot at the same moment; look again.", field="funding"
                ) from None
        move = ledger.post_in(
            site=site,
            lot=lot,
            quantity=doses,
            reason=MoveReason.RECEIVE,
            actor=actor,
            ref=Ref("supplier", source.pk) if source is not None else NO_REF,
            note=text,
        )
        audit_record(
            actor=actor,
            action="immunizations.stock.received",
            obj=move,
            data={
                "ndc11": package.ndc11,
                "scanned_ndc11": row.ndc11,
                "cvx": row.vaccine.cvx,
                "lot_id": lot.pk,
                "lot": lot.number,
                "expiry": lot.expiry.isoformat() if lot.expiry else None,
                "doses": f"{doses.normalize():f}",
                "funding": funding,
                "supplier_id": source.pk if source is not None else None,
                "balance_after": str(move.balance_after),
            },
        )
    return Received(move=move, vaccine_lot=funded, ndc=row)
