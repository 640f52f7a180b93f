"""Catalog type-ahead latency with the full FDA NDC Directory loaded (p50 / p95).

Loads ../shared/data/fda-ndc (128,241 products, 243,960 packages) through the importer,
``rxdesk.catalog.services.catalog_import_ndc`` (unless the import benchmark already did);
where the data folder is missing, synthetic products of the same count are made. Then
times ``catalog_search`` (the whole read a type-ahead keystroke makes: the index query and
the product and package rows) over queries a technician types: partial brand and generic
names, name + strength, ingredients, forms, and NDC prefixes in each layout."""

from __future__ import annotations

import random
import statistics
import time
from pathlib import Path

from rxdesk.catalog.models import Product
from rxdesk.catalog.queries import catalog_search
from rxdesk.catalog.services import catalog_import_ndc
from rxdesk.core.choices import Role
from rxdesk.core.models import Site, User

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "fda-ndc"
SYNTHETIC_PRODUCTS = 128_241
ROUNDS = 20
QUERIES = [
    "ator",
    "atorvastatin 40",
    "lisin",
    "lisinopril 10 mg",
    "metf",
    "metformin er",
    "amlod",
    "insulin glar",
    "hydrocodone",
    "oxycodone 5",
    "amox",
    "amoxicillin 500 cap",
    "levothyrox",
    "sodium chloride",
    "predni",
    "acetaminophen",
    "ibuprofen 200",
    "fluox",
    "sertral",
    "omepraz",
    "gabapentin 300",
    "albuterol",
    "tablet",
    "hyd",
    "0002-32",
    "0093-",
    "00093",
    "68180-51",
    "0378-18",
    "50090",
]


def _load() -> str:
    if Product.objects.count() >= 100_000:
        return "FDA NDC Directory (already loaded)"  # the import benchmark ran first
    if (DATA / "product.txt").exists():
        catalog_import_ndc(
            actor=None, product_file=DATA / "product.txt", package_file=DATA / "package.txt"
        )
        return "FDA NDC Directory"
    _load_synthetic()
    return "synthetic"


def _load_synthetic() -> None:
    rng = random.Random(11)  # noqa: S311  (reproducible test data, not secrets)
    stems = ["atorva", "lisino", "metfor", "amlodi", "hydroco", "oxyco", "amoxi", "levothy"]
    forms = ["TABLET", "CAPSULE", "SOLUTION", "INJECTION, SOLUTION", "TABLET, FILM COATED"]
    rows = []
    for i in range(SYNTHETIC_PRODUCTS):
        stem = rng.choice(stems) + rng.choice(["statin", "pril", "min", "pine", "done", "cillin"])
        rows.append(
            Product(
                product_id=f"syn-{i}",
                product_ndc=f"{i // 1000:05d}-{i % 1000:03d}",
                product_type="HUMAN PRESCRIPTION DRUG",
                name=stem.title(),
                generic_name=stem,
                substances=stem.upper(),
                strength=f"{rng.choice([5, 10, 20, 40, 80, 500])} mg/1",
                dosage_form=rng.choice(forms),
                route="ORAL",
                labeler=f"Labeler {i % 500}",
                active=rng.random() > 0.1,
            )
        )
    Product.objects.bulk_create(rows, batch_size=5000)


def run() -> list[dict[str, object]]:
    site = Site.objects.create(name="Bench catalog")
    user = User.objects.create(username="bench-catalog", role=Role.TECHNICIAN, site=site)
    started = time.perf_counter()
    source = _load()
    load_s = time.perf_counter() - started
    products = Product.objects.count()
    for q in QUERIES:  # warm the page cache as a pharmacy's first hour would
        catalog_search(actor=user, q=q)
    samples: list[float] = []
    per_query: dict[str, list[float]] = {q: [] for q in QUERIES}
    for _ in range(ROUNDS):
        for q in QUERIES:
            start = time.perf_counter()
            catalog_search(actor=user, q=q)
            elapsed = (time.perf_counter() - start) * 1000
            samples.append(elapsed)
            per_query[q].append(elapsed)
    samples.sort()
    p95 = samples[int(len(samples) * 0.95) - 1]
    slowest = max(per_query, key=lambda q: statistics.median(per_query[q]))
    label = f"{products:,} products, {source}"
    return [
        {"name": f"catalog load ({label})", "value": round(load_s, 1), "unit": "s"},
        {
            "name": f"catalog search p50 ({label})",
            "value": round(statistics.median(samples), 2),
            "unit": "ms",
        },
        {"name": f"catalog search p95 ({label})", "value": round(p95, 2), "unit": "ms"},
        {
            "name": f"catalog search slowest query median ({slowest!r})",
            "value": round(statistics.median(per_query[slowest]), 2),
            "unit": "ms",
        },
    ]
