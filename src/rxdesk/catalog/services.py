"""Catalog writes: imports, flags, prices (see the issue: drug catalog)."""

from __future__ import annotations

import datetime as dt
import gc
import operator
import os
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import IO, Any

from django.db import DEFAULT_DB_ALIAS, connection, connections, models, transaction
from django.db.models import Count
from django.utils import timezone

from rxdesk.catalog import importer
from rxdesk.catalog.choices import DeaSchedule, Storage
from rxdesk.catalog.models import (
    ApplicationProduct,
    ImportRun,
    Ingredient,
    Package,
    PackagePrice,
    Product,
)
from rxdesk.catalog.seeds import seed_cmea, seed_flags
from rxdesk.core.audit import audit_record, diff, register_actions
from rxdesk.core.capabilities import Cap
from rxdesk.core.errors import Conflict, Invalid
from rxdesk.core.models import Site, User
from rxdesk.core.services import _apply, authorize, site_default, snapshot

# ==============================================================================================
# Flags and look-alike partners (kept by the pharmacist-in-charge)
# ==============================================================================================

register_actions(
    {
        "catalog.product.flags_changed": "Drug flags changed (schedule, hazardous, storage…)",
        "catalog.product.look_alikes_changed": "Look-alike / sound-alike partners changed",
    }
)

FLAG_FIELDS = [
    "dea_schedule_override",
    "hazardous",
    "high_alert",
    "storage",
    "protect_from_light",
    "cold_chain",
    "rems",
    "maintenance",
    "unit_dose",
    "otc",
    "cmea",
    "cmea_base_mg",
]
_BOOLEAN_FLAGS = [
    f for f in FLAG_FIELDS if f not in ("dea_schedule_override", "storage", "cmea_base_mg")
]
# Base per tablet or per mL: the strongest OTC product holds 240 mg of salt per tablet.
MAX_CMEA_BASE_MG = Decimal("1000")
# CI is the strictest schedule, CV the least strict.
_STRICTNESS = {s.value: i for i, s in enumerate(DeaSchedule)}
MAX_LOOK_ALIKES = 20


def _check_flags(product: Product) -> None:
    errors = []
    if product.dea_schedule_override not in ("", *DeaSchedule.values):
        errors.append(
            {
                "field": "dea_schedule_override",
                "message": f"Use one of {', '.join(DeaSchedule.values)}, or leave it empty.",
            }
        )
    if product.storage not in Storage.values:
        errors.append({"field": "storage", "message": f"Use one of {', '.join(Storage.values)}."})
    for name in _BOOLEAN_FLAGS:
        if not isinstance(getattr(product, name), bool):
            errors.append({"field": name, "message": "Use true or false."})
    base = product.cmea_base_mg
    if base is not None and (not isinstance(base, Decimal) or not 0 < base <= MAX_CMEA_BASE_MG):
        errors.append(
            {
                "field": "cmea_base_mg",
                "message": "Give the base (not salt) per tablet or per mL, in mg: more than 0 "
                f"and at most {MAX_CMEA_BASE_MG:f}.",
            }
        )
    if product.cmea is True and base is None and not errors:
        errors.append(
            {
                "field": "cmea_base_mg",
                "message": "A pseudoephedrine/ephedrine product needs its base mg per tablet "
                "or per mL: the daily and 30-day limits are counted in base.",
            }
        )
    if errors:
        raise Invalid(errors=errors)
    directory = product.directory_dea_schedule
    override = product.dea_schedule_override
    if override and directory and _STRICTNESS[override] > _STRICTNESS[directory]:
        # 21 CFR 1308 sets the federal floor; a state may only schedule more strictly.
        raise Conflict(
            f"The FDA directory lists this drug in schedule {directory}; a state may schedule "
            f"it more strictly, never less ({override} is less strict).",
            field="dea_schedule_override",
        )
    if product.cold_chain and product.storage == Storage.ROOM:
        raise Invalid(
            "A cold-chain product is stored refrigerated or frozen: choose its storage.",
            field="cold_chain",
        )


def _normalize_flags(values: dict[str, Any]) -> dict[str, Any]:
    out = dict(values)
    if isinstance(out.get("dea_schedule_override"), str):
        out["dea_schedule_override"] = out["dea_schedule_override"].strip().upper()
    if out.get("dea_schedule_override") is None and "dea_schedule_override" in out:
        out["dea_schedule_override"] = ""
    if "cmea_base_mg" in out:
        out["cmea_base_mg"] = _base_mg(out["cmea_base_mg"])
    return out


def _base_mg(value: Any) -> Decimal | None:
    """The CMEA base typed or sent (text, number or Decimal), to 0.0001 mg; None clears it."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):
        raise Invalid("Type the base in mg, like 24.579.", field="cmea_base_mg")
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        raise Invalid("Type the base in mg, like 24.579.", field="cmea_base_mg") from None
    if not number.is_finite() or number != number.quantize(Decimal("0.0001")):
        raise Invalid("Give the base in mg with four decimals at most.", field="cmea_base_mg")
    return number.quantize(Decimal("0.0001"))


def product_flags_update(
    *, actor: User, product: Product, reason: str = "", **values: Any
) -> Product:
    """Change a product's safety and handling flags: a state's stricter DEA schedule
    (``dea_schedule_override``, "" to follow the directory), NIOSH hazardous drug, ISMP
    high-alert, storage, protect from light, cold chain, REMS, maintenance, unit dose, OTC,
    and CMEA behind-the-counter (``cmea`` with ``cmea_base_mg``, base mg per unit).
    The pharmacist-in-charge keeps these; every change is audited with before and after."""
    authorize(actor, Cap.CATALOG_EDIT)
    with transaction.atomic():
        product = Product.objects.select_for_update().get(pk=product.pk)
        before = snapshot(product, FLAG_FIELDS)
        _apply(product, FLAG_FIELDS, _normalize_flags(values))
        _check_flags(product)
        changes = diff(before, snapshot(product, FLAG_FIELDS))
        if not changes:
            return product
        product.save(update_fields=list(changes))
        audit_record(
            actor=actor,
            action="catalog.product.flags_changed",
            obj=product,
            data={
                "product_ndc": product.product_ndc,
                "before": {k: v[0] for k, v in changes.items()},
                "after": {k: v[1] for k, v in changes.items()},
            },
            reason=reason,
        )
    return product


def _partner_list(products: Iterable[Product]) -> list[dict[str, Any]]:
    return [
        {"id": p.pk, "product_ndc": p.product_ndc, "name": str(p)}
        for p in sorted(products, key=lambda p: p.pk)
    ]


def product_look_alike_set(
    *, actor: User, product: Product, partners: Iterable[Product], reason: str = ""
) -> Product:
    """Set the look-alike / sound-alike partners of a product (the relation is mutual: a
    partner shows this product as its partner too). An empty list clears them."""
    authorize(actor, Cap.CATALOG_EDIT)
    chosen: list[Product] = []
    for partner in partners:
        if partner.pk not in {p.pk for p in chosen}:
            chosen.append(partner)
    if any(p.pk == product.pk for p in chosen):
        raise Invalid("A product cannot be its own look-alike partner.", field="partners")
    if len(chosen) > MAX_LOOK_ALIKES:
        raise Invalid(f"At most {MAX_LOOK_ALIKES} look-alike partners.", field="partners")
    with transaction.atomic():
        product = Product.objects.select_for_update().get(pk=product.pk)
        before = _partner_list(product.look_alikes.all())
        after = _partner_list(chosen)
        if [p["id"] for p in before] == [p["id"] for p in after]:
            return product
        product.look_alikes.set(chosen)
        audit_record(
            actor=actor,
            action="catalog.product.look_alikes_changed",
            obj=product,
            data={"product_ndc": product.product_ndc, "before": before, "after": after},
            reason=reason,
        )
    return product


# ==============================================================================================
# Imports of the FDA files and of price lists (the pharmacist-in-charge or an administrator)
# ==============================================================================================

register_actions(
    {
        "catalog.ndc_imported": "FDA NDC Directory imported",
        "catalog.te_imported": "Drugs@FDA therapeutic-equivalence codes imported",
        "catalog.prices_imported": "Package prices imported",
    }
)

Source = str | os.PathLike[str] | IO[bytes]
Progress = Callable[[int, int], None]

# Rows per statement batch: big enough that SQLite's per-statement cost vanishes, small
# enough that progress moves every second or so.
BATCH = 5000

# Product columns the directory sets (compared on re-import). ``otc`` follows the product
# type but is also a flag the pharmacist-in-charge keeps, so it is written when a product is
# created or its type changes, never merely re-asserted.
PRODUCT_FIELDS = (
    "product_ndc",
    "product_type",
    "name",
    "name_suffix",
    "generic_name",
    "tall_man_name",
    "dosage_form",
    "route",
    "strength",
    "substances",
    "pharm_classes",
    "marketing_category",
    "application_number",
    "labeler",
    "marketing_start",
    "marketing_end",
    "directory_dea_schedule",
    "excluded",
)
PACKAGE_FIELDS = (
    "ndc10",
    "description",
    "billing_unit",
    "package_quantity",
    "marketing_start",
    "marketing_end",
    "sample",
)
# What rxdesk.catalog.seeds reads to propose hazardous / high-alert flags for a new product.
_SEED_FIELDS = ("substances", "route", "dosage_form", "marketing_category")
APPLICATION_FIELDS = (
    "drug_name",
    "active_ingredient",
    "form",
    "strength",
    "reference_drug",
    "te_code",
    "marketing_status",
)


def import_details(run: ImportRun) -> dict[str, Any]:
    """What an import service found beyond the run's totals (per-table counts, linked
    products), for the command that just ran it; not stored (the audit event keeps it)."""
    details = getattr(run, "_details", None)
    return details if isinstance(details, dict) else {}


def catalog_import_ndc(
    *,
    actor: User | None,
    product_file: Source,
    package_file: Source,
    progress: Progress | None = None,
) -> ImportRun:
    """Load the FDA NDC Directory (product.txt and package.txt) into the catalog.

    Idempotent: a product or package already held is rewritten only where the file changed
    it; one no longer in the file is marked inactive, never deleted (fills, stock and
    prices refer to it). A bad line is refused whole and named with its line number in the
    run's ``problems``; a package is loaded only with its product. The run's counters add
    up products and packages; :func:`import_details` splits them."""
    authorize(actor, Cap.CATALOG_IMPORT)
    product_name, product_bytes = _read(product_file, "product_file")
    package_name, package_bytes = _read(package_file, "package_file")
    started = timezone.now()
    clock = time.perf_counter()
    with _gc_paused():
        try:
            files = importer.parse_ndc(
                importer.decode(product_bytes),
                importer.decode(package_bytes),
                product_file=product_name,
                package_file=package_name,
            )
        except importer.FileError as exc:
            field = "product_file" if exc.file == product_name else "package_file"
            raise Invalid(str(exc), field=field) from None
        del product_bytes, package_bytes
        if not files.products:
            raise Invalid(
                f"No product could be read from {product_name}; nothing was changed.",
                field="product_file",
            )
        tracker = _Tracker(progress, len(files.products) + len(files.packages))
        with transaction.atomic():
            products, product_pks = _load_products(files, started, tracker)
            packages = _load_packages(files, product_pks, tracker)
            run = _finish(
                kind="ndc",
                source=f"{_label(product_file)}; {_label(package_file)}",
                started=started,
                counts=[products, packages],
                problems=files.problems,
            )
            details = {
                "products": products,
                "packages": packages,
                "rejected": len(files.problems),
                "seconds": round(time.perf_counter() - clock, 1),
            }
            _audit(actor, "catalog.ndc_imported", run, details)
    tracker.done()
    run._details = details  # type: ignore[attr-defined]
    return run


def catalog_import_te(
    *, actor: User | None, directory: str | os.PathLike[str], progress: Progress | None = None
) -> ImportRun:
    """Load Drugs@FDA products with their Orange Book TE codes from an extracted Drugs@FDA
    folder (Products.txt, TE.txt, MarketingStatus_Lookup.txt and, when present,
    MarketingStatus.txt). An NDC product links to its application products through its
    APPLICATIONNUMBER ('ANDA075350' is ApplNo 075350). Rows gone from the files stay."""
    authorize(actor, Cap.CATALOG_IMPORT)
    folder = Path(directory)
    if not folder.is_dir():
        raise Invalid(f"{folder} is not a folder.", field="directory")
    names = {
        "products": "Products.txt",
        "te": "TE.txt",
        "lookup": "MarketingStatus_Lookup.txt",
        "status": "MarketingStatus.txt",
    }
    texts: dict[str, str] = {}
    for key, name in names.items():
        path = _find(folder, name)
        if path is None:
            if key == "status":
                continue
            raise Invalid(f"{folder} has no {name}; is it a Drugs@FDA folder?", field="directory")
        texts[key] = importer.decode(path.read_bytes())
    started = timezone.now()
    clock = time.perf_counter()
    try:
        files = importer.parse_te(
            texts["products"], texts["te"], texts["lookup"], texts.get("status")
        )
    except importer.FileError as exc:
        raise Invalid(str(exc), field="directory") from None
    if not files.rows:
        raise Invalid(f"No product could be read from {folder}; nothing was changed.")
    tracker = _Tracker(progress, len(files.rows))
    with transaction.atomic():
        counts = _load_applications(files.rows, tracker)
        linked = _linked_products()
        run = _finish(
            kind="te",
            source=str(folder),
            started=started,
            counts=[counts],
            problems=files.problems,
        )
        details = {
            "applications": counts,
            "linked_products": linked,
            "rejected": len(files.problems),
            "seconds": round(time.perf_counter() - clock, 1),
        }
        _audit(actor, "catalog.te_imported", run, details)
    tracker.done()
    run._details = details  # type: ignore[attr-defined]
    return run


def catalog_import_prices(*, actor: User | None, csv_file: Source) -> ImportRun:
    """Load package prices from a CSV file with the header ``ndc,price_type,price,
    effective_date``: price types acquisition, list (AWP) and usual_customary (U&C), the NDC
    in any 10- or 11-digit form. History is kept — one price per package, type and day; a
    line already loaded with the same amount is left as it is, a new amount for the same
    day corrects it."""
    authorize(actor, Cap.CATALOG_IMPORT)
    name, data = _read(csv_file, "csv_file")
    started = timezone.now()
    try:
        rows, problems = importer.parse_prices(importer.decode(data), file=name)
    except importer.FileError as exc:
        raise Invalid(str(exc), field="csv_file") from None
    with transaction.atomic():
        counts = _load_prices(rows, problems, name, started)
        problems.sort(key=lambda p: p.line)
        run = _finish(
            kind="prices",
            source=_label(csv_file),
            started=started,
            counts=[counts],
            problems=problems,
        )
        details = {"prices": counts, "rejected": len(problems)}
        _audit(actor, "catalog.prices_imported", run, details)
    run._details = details  # type: ignore[attr-defined]
    return run


# --- Import plumbing --------------------------------------------------------------------------


def _label(source: Source) -> str:
    """How a source file is named in the import log."""
    if isinstance(source, str | os.PathLike):
        return str(Path(source))
    return str(getattr(source, "name", "") or "uploaded file")


def _read(source: Source, field: str) -> tuple[str, bytes]:
    if isinstance(source, str | os.PathLike):
        path = Path(source)
        if not path.is_file():
            raise Invalid(f"There is no file {path}.", field=field)
        return path.name, path.read_bytes()
    data = source.read()
    if not isinstance(data, bytes):
        raise Invalid("Give the file opened in binary mode.", field=field)
    return Path(str(getattr(source, "name", "") or field)).name, data


def _find(folder: Path, name: str) -> Path | None:
    """``name`` in ``folder``, in any letter case (FDA's zip and its copies differ)."""
    exact = folder / name
    if exact.is_file():
        return exact
    lowered = name.lower()
    return next((p for p in folder.iterdir() if p.name.lower() == lowered and p.is_file()), None)


@contextmanager
def _gc_paused() -> Iterator[None]:
    # Parsing a directory makes millions of small objects and no cycles; the cyclic
    # collector would walk them over and over (a third of the import time).
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


class _Tracker:
    """Calls ``progress(done, total)`` as rows are written."""

    def __init__(self, progress: Progress | None, total: int) -> None:
        self.progress = progress
        self.total = max(total, 1)
        self.count = 0
        self._report()

    def add(self, n: int) -> None:
        self.count = min(self.total, self.count + n)
        self._report()

    def done(self) -> None:
        self.count = self.total
        self._report()

    def _report(self) -> None:
        if self.progress is not None:
            self.progress(self.count, self.total)


def _counts() -> dict[str, int]:
    return {"created": 0, "updated": 0, "unchanged": 0, "deactivated": 0}


def _finish(
    *,
    kind: str,
    source: str,
    started: dt.datetime,
    counts: Sequence[dict[str, int]],
    problems: Sequence[importer.Problem],
) -> ImportRun:
    return ImportRun.objects.create(
        kind=kind,
        source=source[:500],
        started_at=started,
        finished_at=timezone.now(),
        created=sum(c["created"] for c in counts),
        updated=sum(c["updated"] for c in counts),
        unchanged=sum(c["unchanged"] for c in counts),
        deactivated=sum(c["deactivated"] for c in counts),
        rejected=len(problems),
        problems="\n".join(str(p) for p in problems),
    )


def _audit(actor: User | None, action: str, run: ImportRun, details: dict[str, Any]) -> None:
    """The import's event, in the actor's site chain, or the first site's for the operator
    at the shell. With no site yet there is no chain to write to; the run itself is the
    record (the command says so)."""
    site: Site | None = actor.site if actor is not None else site_default()
    if site is None:
        return
    audit_record(
        actor=actor,
        site=site,
        action=action,
        obj=run,
        data={"kind": run.kind, "source": run.source, **details},
    )


def _max_lengths(model: type[models.Model], fields: Sequence[str]) -> list[int | None]:
    out: list[int | None] = []
    for name in fields:
        field = model._meta.get_field(name)
        out.append(field.max_length if isinstance(field, models.CharField) else None)
    return out


def _fitter(
    model: type[models.Model], fields: Sequence[str]
) -> Callable[[Sequence[Any]], tuple[Any, ...]]:
    """A function that cuts text values to their column's length.

    A few directory values are longer than their column (a 367-character proprietary
    name, a 779-character package description); PostgreSQL would refuse them, so they are
    cut. The check runs over a quarter of a million rows, hence the C-level fast path."""
    limits = _max_lengths(model, fields)
    at = [i for i, limit in enumerate(limits) if limit is not None]
    if not at:
        return tuple
    texts = operator.itemgetter(*at) if len(at) > 1 else (lambda values: (values[at[0]],))
    bounds = tuple(limit for limit in limits if limit is not None)

    def fit(values: Sequence[Any]) -> tuple[Any, ...]:
        if all(map(operator.le, map(len, texts(values)), bounds)):
            return tuple(values)
        out = list(values)
        for i in at:
            limit = limits[i]
            assert limit is not None
            out[i] = out[i][:limit]
        return tuple(out)

    return fit


def _chunks(items: Sequence[Any], size: int = BATCH) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _columns(
    model: type[models.Model], fields: Sequence[str]
) -> tuple[list[str], Callable[[Sequence[Any]], list[Any]]]:
    """Column names, and a function that adapts a row's values for the backend (dates,
    decimals and times need it; text, numbers and booleans pass as they are)."""
    ops = connections[DEFAULT_DB_ALIAS].ops  # the backend itself, not the thread-local proxy
    columns: list[str] = []
    adapters: list[tuple[int, Callable[[Any], Any]]] = []
    for i, name in enumerate(fields):
        field = model._meta.get_field(name)
        assert isinstance(field, models.Field) and field.column is not None
        columns.append(field.column)
        if isinstance(field, models.DateTimeField):
            adapters.append((i, ops.adapt_datetimefield_value))
        elif isinstance(field, models.DateField):
            adapters.append((i, _memo(ops.adapt_datefield_value)))
        elif isinstance(field, models.DecimalField):
            adapters.append((i, _decimal_adapter(ops, field)))

    def prepare(values: Sequence[Any]) -> list[Any]:
        out = list(values)
        for i, adapt in adapters:
            out[i] = adapt(out[i])
        return out

    return columns, prepare


def _memo(adapt: Callable[[Any], Any]) -> Callable[[Any], Any]:
    seen: dict[Any, Any] = {}

    def adapted(value: Any) -> Any:
        try:
            return seen[value]
        except KeyError:
            seen[value] = result = adapt(value)
            return result

    return adapted


def _decimal_adapter(ops: Any, field: models.DecimalField[Any, Any]) -> Callable[[Any], Any]:
    def adapt(value: Any) -> Any:
        return ops.adapt_decimalfield_value(value, field.max_digits, field.decimal_places)

    return adapt


def _insert(
    model: type[models.Model],
    fields: Sequence[str],
    rows: Sequence[Sequence[Any]],
    tracker: _Tracker | None = None,
) -> None:
    """INSERT many rows in batches of one prepared statement (executemany); the columns
    not in ``fields`` get their model defaults.

    bulk_create would build a model instance per row and, on SQLite, cap a statement at
    999 parameters (30 products); a prepared statement run per batch is several times
    faster for a quarter of a million rows, and portable."""
    if not rows:
        return
    given = set(fields)
    defaults = [
        f
        for f in model._meta.concrete_fields
        if not f.primary_key and f.name not in given and f.attname not in given
    ]
    columns, prepare = _columns(model, [*fields, *(f.name for f in defaults)])
    tail = tuple(f.get_default() for f in defaults)
    qn = connection.ops.quote_name
    sql = (
        f"INSERT INTO {qn(model._meta.db_table)} ({', '.join(qn(c) for c in columns)}) "  # noqa: S608
        f"VALUES ({', '.join(['%s'] * len(columns))})"
    )
    with connection.cursor() as cursor:
        for chunk in _chunks(rows):
            cursor.executemany(sql, [prepare((*r, *tail)) for r in chunk])
            if tracker is not None:
                tracker.add(len(chunk))


def _update(
    model: type[models.Model], fields: Sequence[str], rows: Sequence[tuple[int, Sequence[Any]]]
) -> None:
    """UPDATE ``fields`` of many rows by primary key: ``rows`` are (pk, values).

    Django's bulk_update writes one CASE per field over each batch, which grows with the
    batch; a prepared UPDATE per row stays linear."""
    if not rows:
        return
    columns, prepare = _columns(model, fields)
    qn = connection.ops.quote_name
    sql = (
        f"UPDATE {qn(model._meta.db_table)} SET "  # noqa: S608
        f"{', '.join(f'{qn(c)} = %s' for c in columns)} WHERE {qn(_pk_column(model))} = %s"
    )
    with connection.cursor() as cursor:
        for chunk in _chunks(rows):
            cursor.executemany(sql, [[*prepare(values), pk] for pk, values in chunk])


def _pk_column(model: type[models.Model]) -> str:
    pk = model._meta.pk
    assert pk is not None and pk.column is not None
    return pk.column


def _set_inactive(model: type[models.Model], pks: Sequence[int]) -> None:
    for chunk in _chunks(pks, 500):
        model._default_manager.filter(pk__in=chunk).update(active=False)


# --- NDC Directory ----------------------------------------------------------------------------


def _load_products(
    files: importer.NdcFiles, now: dt.datetime, tracker: _Tracker
) -> tuple[dict[str, int], dict[str, int]]:
    """Create, update and deactivate products and their ingredients; return the counts and
    the primary key of every product in the file."""
    counts = _counts()
    fit = _fitter(Product, PRODUCT_FIELDS)
    fit_ingredient = _fitter(Ingredient, ("name", "strength", "unit"))
    existing: dict[str, tuple[int, tuple[Any, ...]]] = {
        row[1]: (row[0], row[2:])
        for row in Product.objects.values_list("pk", "product_id", *PRODUCT_FIELDS, "active")
    }
    stored_ingredients: dict[int, list[tuple[str, str, str]]] = {}
    if existing:
        for product_pk, name, strength, unit in Ingredient.objects.order_by(
            "product_id", "position"
        ).values_list("product_id", "name", "strength", "unit"):
            stored_ingredients.setdefault(product_pk, []).append((name, strength, unit))

    new_rows: list[tuple[Any, ...]] = []
    new_products: list[importer.ProductRow] = []
    changed: list[tuple[int, tuple[Any, ...]]] = []
    changed_type: list[tuple[int, Sequence[Any]]] = []
    replace_ingredients: dict[int, tuple[tuple[str, str, str], ...]] = {}
    flags: dict[tuple[str, ...], dict[str, bool]] = {}
    fields_of = _row_getter(PRODUCT_FIELDS)
    for row in files.products:
        values = fit(fields_of(row))
        ingredients = tuple(fit_ingredient(i) for i in row.ingredients)
        held = existing.get(row.product_id)
        if held is None:
            key = (row.substances, row.route, row.dosage_form, row.marketing_category)
            if key not in flags:
                flags[key] = seed_flags(dict(zip(_SEED_FIELDS, key, strict=True)))
            seeded = flags[key]
            cmea, cmea_base_mg = seed_cmea(row.product_type, row.ingredients)
            new_rows.append(
                (
                    row.product_id,
                    *values,
                    True,
                    row.otc,
                    seeded["hazardous"],
                    seeded["high_alert"],
                    cmea,
                    cmea_base_mg,
                    now,
                )
            )
            new_products.append(row)
            continue
        pk, stored = held
        if stored != (*values, True):
            changed.append((pk, (*values, True, now)))
            if stored[1] != row.product_type:
                changed_type.append((pk, (row.otc,)))
        if [tuple(i) for i in stored_ingredients.get(pk, [])] != list(ingredients):
            replace_ingredients[pk] = ingredients
            if stored == (*values, True):
                changed.append((pk, (*values, True, now)))
    new_fields = (
        "product_id",
        *PRODUCT_FIELDS,
        "active",
        "otc",
        "hazardous",
        "high_alert",
        "cmea",
        "cmea_base_mg",
        "imported_at",
    )
    with _search_index_deferred(len(new_rows), len(existing)):
        _insert(Product, new_fields, new_rows, tracker)
    _update(Product, (*PRODUCT_FIELDS, "active", "imported_at"), changed)
    _update(Product, ("otc",), changed_type)
    tracker.add(len(files.products) - len(new_rows))

    pks = dict(Product.objects.values_list("product_id", "pk"))
    for chunk in _chunks(list(replace_ingredients), 500):
        Ingredient.objects.filter(product_id__in=chunk).delete()
    ingredient_rows = [
        (pks[row.product_id], position, *fit_ingredient(ingredient))
        for row in new_products
        for position, ingredient in enumerate(row.ingredients, start=1)
    ] + [
        (pk, position, *ingredient)
        for pk, ingredients in replace_ingredients.items()
        for position, ingredient in enumerate(ingredients, start=1)
    ]
    _insert(Ingredient, ("product", "position", "name", "strength", "unit"), ingredient_rows)

    in_file = {row.product_id for row in files.products} | files.refused_product_ids
    gone = [
        pk
        for product_id, (pk, stored) in existing.items()
        if stored[-1] and product_id not in in_file
    ]
    _set_inactive(Product, gone)
    counts["created"] = len(new_rows)
    counts["updated"] = len({pk for pk, _ in changed})
    counts["unchanged"] = len(files.products) - counts["created"] - counts["updated"]
    counts["deactivated"] = len(gone)
    return counts, {row.product_id: pks[row.product_id] for row in files.products}


@contextmanager
def _search_index_deferred(new: int, held: int) -> Iterator[None]:
    """On SQLite, index a large batch of new products for search in one pass.

    The full-text index (rxdesk.catalog.search) follows catalog_product through triggers.
    Row by row, indexing a whole directory takes ~25 s; one rebuild afterwards ~3 s. So
    when the new rows are a good share of the table, the insert trigger is set aside for
    the batch and the index rebuilt at the end, all inside the import's transaction (a
    failure rolls the trigger back in place with everything else)."""
    if connection.vendor != "sqlite" or new * 8 <= held + new:
        yield
        return
    from rxdesk.catalog.search import FTS_TABLE

    table = Product._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = %s "
            "AND sql LIKE %s",
            [table, "%AFTER INSERT%"],
        )
        triggers = cursor.fetchall()
        cursor.execute("SELECT 1 FROM sqlite_master WHERE name = %s", [FTS_TABLE])
        indexed = cursor.fetchone() is not None
        for name, _ in triggers:
            cursor.execute(f"DROP TRIGGER {connection.ops.quote_name(name)}")
    yield
    with connection.cursor() as cursor:
        for _, sql in triggers:
            cursor.execute(sql)
        if indexed:
            # FTS_TABLE is a constant of rxdesk.catalog.search, not input.
            cursor.execute(f"INSERT INTO {FTS_TABLE}({FTS_TABLE}) VALUES ('rebuild')")  # noqa: S608


def _row_getter(fields: Sequence[str]) -> Callable[[Any], tuple[Any, ...]]:
    return operator.attrgetter(*fields)


def _load_packages(
    files: importer.NdcFiles, product_pks: dict[str, int], tracker: _Tracker
) -> dict[str, int]:
    counts = _counts()
    fit = _fitter(Package, PACKAGE_FIELDS)
    existing: dict[str, tuple[int, tuple[Any, ...]]] = {
        row[1]: (row[0], row[2:])
        for row in Package.objects.values_list(
            "pk", "ndc11", "product_id", *PACKAGE_FIELDS, "active"
        )
    }
    new_rows: list[tuple[Any, ...]] = []
    changed: list[tuple[int, tuple[Any, ...]]] = []
    fields_of = _row_getter(PACKAGE_FIELDS)
    for row in files.packages:
        values = (product_pks[row.product_id], *fit(fields_of(row)), True)
        held = existing.get(row.ndc11)
        if held is None:
            new_rows.append((row.ndc11, *values))
        elif held[1] != values:
            changed.append((held[0], values))
    fields = ("product", *PACKAGE_FIELDS, "active")
    _insert(Package, ("ndc11", *fields), new_rows, tracker)
    _update(Package, fields, changed)
    tracker.add(len(files.packages) - len(new_rows))
    in_file = {row.ndc11 for row in files.packages} | files.refused_ndc11s
    gone = [pk for ndc11, (pk, stored) in existing.items() if stored[-1] and ndc11 not in in_file]
    _set_inactive(Package, gone)
    counts["created"] = len(new_rows)
    counts["updated"] = len(changed)
    counts["unchanged"] = len(files.packages) - len(new_rows) - len(changed)
    counts["deactivated"] = len(gone)
    return counts


# --- Drugs@FDA --------------------------------------------------------------------------------


def _fit_codes(codes: str, limit: int) -> str:
    # A product can carry several TE codes (levothyroxine: AB1,AB2,AB3,AB4), more than the
    # column holds; whole codes are kept, the first ones in order.
    if len(codes) <= limit:
        return codes
    kept: list[str] = []
    for code in codes.split(","):
        if len(",".join([*kept, code])) > limit:
            break
        kept.append(code)
    return ",".join(kept)


def _load_applications(
    rows: Sequence[importer.ApplicationRow], tracker: _Tracker
) -> dict[str, int]:
    counts = _counts()
    fit = _fitter(ApplicationProduct, APPLICATION_FIELDS)
    te_limit = _max_lengths(ApplicationProduct, ("te_code",))[0] or 10
    existing = {
        (row[1], row[2]): (row[0], row[3:])
        for row in ApplicationProduct.objects.values_list(
            "pk", "appl_no", "product_no", *APPLICATION_FIELDS
        )
    }
    fields_of = _row_getter(APPLICATION_FIELDS)
    te_at = APPLICATION_FIELDS.index("te_code")
    new_rows: list[tuple[Any, ...]] = []
    changed: list[tuple[int, tuple[Any, ...]]] = []
    for row in rows:
        values = list(fit(fields_of(row)))
        values[te_at] = _fit_codes(row.te_code, te_limit)
        held = existing.get((row.appl_no, row.product_no))
        if held is None:
            new_rows.append((row.appl_no, row.product_no, *values))
        elif held[1] != tuple(values):
            changed.append((held[0], tuple(values)))
    _insert(ApplicationProduct, ("appl_no", "product_no", *APPLICATION_FIELDS), new_rows, tracker)
    _update(ApplicationProduct, APPLICATION_FIELDS, changed)
    tracker.add(len(rows) - len(new_rows))
    counts["created"] = len(new_rows)
    counts["updated"] = len(changed)
    counts["unchanged"] = len(rows) - len(new_rows) - len(changed)
    return counts


def _linked_products() -> int:
    """Active NDC products whose application is among the Drugs@FDA products held."""
    known = set(ApplicationProduct.objects.values_list("appl_no", flat=True).distinct())
    return sum(
        n
        for number, n in Product.objects.filter(active=True)
        .exclude(application_number="")
        .values_list("application_number")
        .annotate(n=Count("pk"))
        .values_list("application_number", "n")
        if importer.appl_no_of(number) in known
    )


# --- Prices -----------------------------------------------------------------------------------


def _load_prices(
    rows: Sequence[importer.PriceRow],
    problems: list[importer.Problem],
    file: str,
    now: dt.datetime,
) -> dict[str, int]:
    counts = _counts()
    wanted = {ndc11 for row in rows for ndc11 in row.ndc11s}
    packages: dict[str, int] = {}
    wanted_list = sorted(wanted)
    for chunk in _chunks(wanted_list, 500):
        packages.update(Package.objects.filter(ndc11__in=chunk).values_list("ndc11", "pk"))
    resolved: list[tuple[importer.PriceRow, int]] = []
    for row in rows:
        found = [packages[n] for n in row.ndc11s if n in packages]
        if len(found) == 1:
            resolved.append((row, found[0]))
        elif not found:
            problems.append(
                importer.Problem(file, row.line, f"NDC {row.ndc} is not in the catalog")
            )
        else:
            problems.append(
                importer.Problem(
                    file,
                    row.line,
                    f"NDC {row.ndc} (10 digits without hyphens) matches {len(found)} packages; "
                    "write it with its hyphens",
                )
            )
    existing: dict[tuple[int, str, dt.date], tuple[int, Decimal]] = {}
    package_pks = sorted({pk for _, pk in resolved})
    for chunk in _chunks(package_pks, 500):
        for pk, package_pk, kind, day, amount in PackagePrice.objects.filter(
            package_id__in=chunk
        ).values_list("pk", "package_id", "kind", "effective_on", "amount"):
            existing[(package_pk, kind, day)] = (pk, amount)
    seen: dict[tuple[int, str, dt.date], int] = {}
    new_rows: list[tuple[Any, ...]] = []
    changed: list[tuple[int, tuple[Any, ...]]] = []
    for row, package_pk in resolved:
        key = (package_pk, row.kind, row.effective_on)
        if key in seen:
            problems.append(
                importer.Problem(
                    file,
                    row.line,
                    f"repeats line {seen[key]} (the same package, price type and date)",
                )
            )
            continue
        seen[key] = row.line
        held = existing.get(key)
        if held is None:
            new_rows.append((package_pk, row.kind, row.amount, row.effective_on, now))
        elif held[1] != row.amount:
            changed.append((held[0], (row.amount, now)))
        else:
            counts["unchanged"] += 1
    _insert(PackagePrice, ("package", "kind", "amount", "effective_on", "recorded_at"), new_rows)
    _update(PackagePrice, ("amount", "recorded_at"), changed)
    counts["created"] = len(new_rows)
    counts["updated"] = len(changed)
    return counts
