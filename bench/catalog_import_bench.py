"""FDA NDC Directory import: the full April 2019 directory (128,241 products, 243,960
package lines) from ../shared/data/fda-ndc, first into an empty catalog, then again over
itself (idempotent: nothing changes). The issue asks for under 60 s on SQLite."""

from __future__ import annotations

import time
from pathlib import Path

from django.db import connection, transaction

from bench import median_of
from rxdesk.catalog.models import Ingredient, Package, PackagePrice, Product
from rxdesk.core import context

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "fda-ndc"
RUNS = 3


def _empty_catalog() -> None:
    """Start each timed run from an empty catalog (bench data only: plain DELETEs)."""
    tables = [
        PackagePrice._meta.db_table,
        Package._meta.db_table,
        Ingredient._meta.db_table,
        Product.look_alikes.through._meta.db_table,
        Product._meta.db_table,
    ]
    with transaction.atomic(), connection.cursor() as cursor:
        for table in tables:
            cursor.execute(f"DELETE FROM {connection.ops.quote_name(table)}")  # noqa: S608


def _import() -> float:
    from rxdesk.catalog.services import catalog_import_ndc

    start = time.perf_counter()
    catalog_import_ndc(
        actor=None, product_file=DATA / "product.txt", package_file=DATA / "package.txt"
    )
    return time.perf_counter() - start


def run() -> list[dict[str, object]]:
    if not (DATA / "product.txt").exists():
        return []
    full: list[float] = []
    again: list[float] = []
    with context.using(context.RequestInfo(request_id="bench", channel="cli")):
        for _ in range(RUNS):
            _empty_catalog()
            full.append(_import())
            again.append(_import())
    return [
        {
            "name": "NDC Directory full import (128k products, 244k packages)",
            "value": round(median_of(full), 1),
            "unit": "s",
        },
        {
            "name": "NDC Directory re-import, nothing changed",
            "value": round(median_of(again), 1),
            "unit": "s",
        },
    ]
