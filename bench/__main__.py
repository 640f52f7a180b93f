"""rxdesk benchmarks: `make bench` (or `python -m bench`).

Runs against a fresh SQLite file database in a temporary folder (and the PostgreSQL of
DATABASE_URL when set), prints a table and writes bench/results/latest.json with one record
per figure: name, value, unit, database, workers. Medians of repeated runs, so the machine's
noise shows as spread rather than as a different answer."""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def _setup() -> str:
    os.environ.setdefault("RXDESK_VAR_DIR", tempfile.mkdtemp(prefix="rxdesk-bench-"))
    os.environ.setdefault("RXDESK_HTTPS", "0")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rxdesk.settings")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0, interactive=False)
    return connection.vendor


def main() -> None:
    vendor = _setup()
    from bench import (
        audit_bench,
        catalog_import_bench,
        catalog_search_bench,
        claims_bench,
        compounding_bench,
        controlled_bench,
        fhir_bench,
        fill_bench,
        institutional_bench,
        ledger_bench,
        ncpdp_bench,
        pos_bench,
        recall_bench,
        running_bench,
        rx_bench,
        screening_bench,
        search_bench,
    )

    records: list[dict[str, object]] = []
    modules = (
        audit_bench,
        search_bench,
        catalog_import_bench,
        catalog_search_bench,
        ledger_bench,
        recall_bench,
        rx_bench,
        fill_bench,
        pos_bench,
        screening_bench,
        ncpdp_bench,
        claims_bench,
        controlled_bench,
        compounding_bench,
        institutional_bench,
        running_bench,
        fhir_bench,
    )
    # `python -m bench recall search` runs only those (a module's name without "_bench").
    chosen = [m for m in modules if not sys.argv[1:] or m.__name__[6:-6] in sys.argv[1:]]
    for module in chosen:
        for record in module.run():
            record.setdefault("database", vendor)
            record.setdefault("workers", 1)
            records.append(record)
            print(
                f"{record['name']:<48} {record['value']:>12} {record['unit']:<10} "
                f"{record['database']}",
                flush=True,
            )
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "latest.json").write_text(json.dumps(records, indent=2))
    print(f"\nwrote {RESULTS / 'latest.json'}")


if __name__ == "__main__":
    sys.exit(main())
