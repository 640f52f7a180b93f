"""rxdesk benchmarks: `make bench` (or `python -m bench`).

Runs every benchmark module on SQLite AND on PostgreSQL in one run and writes ONE file,
bench/results/latest.json: ``{"header": {machine, versions, date, git commit, load},
"records": [{name, value, unit, database, workers, …}]}``, and prints one table with a
column per database. Medians of repeated runs, so the machine's noise shows as spread
rather than as a different answer.

Each database runs in its own child process (``python -m bench --child OUT …``) with its
own environment: SQLite in a fresh temporary folder (RXDESK_VAR_DIR), PostgreSQL in a bench
database created for the run and dropped after it (``rxdesk_bench`` on
RXDESK_BENCH_POSTGRES, default ``postgres://postgres@127.0.0.1:5432``). When PostgreSQL is
not reachable the run says so, in the table and in the JSON header, and goes on.

    python -m bench                      every module, both databases
    python -m bench fill baseline        only those modules (name without "_bench")
    python -m bench --db sqlite fill     one database
    python -m bench --keep …             keep the bench databases (to look inside)
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).resolve().parent / "results"
PG_SERVER = os.environ.get("RXDESK_BENCH_POSTGRES", "postgres://postgres@127.0.0.1:5432")
PG_BENCH_DB = "rxdesk_bench"
MODULE_NAMES = (
    "audit",
    "search",
    "catalog_import",
    "catalog_search",
    "ledger",
    "recall",
    "rx",
    "fill",
    "baseline",
    "pos",
    "screening",
    "ncpdp",
    "claims",
    "controlled",
    "compounding",
    "institutional",
    "running",
    "fhir",
)


# --- Child: one database --------------------------------------------------------------------


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


def child(out: Path, names: list[str]) -> None:
    """Run the chosen modules on the database of this process's environment, appending
    each record to ``out`` as one JSON line as soon as it is measured (so a crash late in
    the run keeps the figures before it)."""
    import importlib

    started = time.perf_counter()
    vendor = _setup()
    with out.open("a") as sink:
        sink.write(
            json.dumps(
                {
                    "name": "migrate a fresh database",
                    "value": round(time.perf_counter() - started, 1),
                    "unit": "s",
                    "database": vendor,
                    "workers": 1,
                }
            )
            + "\n"
        )
    for name in names:
        module = importlib.import_module(f"bench.{name}_bench")
        try:
            records = list(module.run())
        except Exception as exc:  # one broken bench must not lose the others' figures
            traceback.print_exc()
            records = [{"name": f"{name}: FAILED", "value": None, "unit": "", "error": repr(exc)}]
        with out.open("a") as sink:
            for record in records:
                record.setdefault("database", vendor)
                record.setdefault("workers", 1)
                sink.write(json.dumps(record, default=str) + "\n")
                print(
                    f"  [{vendor}] {record['name']:<60} {record['value']!s:>10} {record['unit']}",
                    flush=True,
                )


# --- Parent: both databases -----------------------------------------------------------------


def _postgres() -> tuple[str | None, str]:
    """A fresh bench database on the PostgreSQL server: (its URL, server version), or
    (None, why not)."""
    try:
        import psycopg

        with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True, connect_timeout=5) as c:
            version = c.execute("SHOW server_version").fetchone()[0]  # type: ignore[index]
            c.execute(f"DROP DATABASE IF EXISTS {PG_BENCH_DB} WITH (FORCE)")
            c.execute(f"CREATE DATABASE {PG_BENCH_DB}")
    except Exception as exc:  # any failure means: no PostgreSQL figures this run
        return None, " ".join(f"not reachable at {PG_SERVER}: {exc}".split())
    return f"{PG_SERVER}/{PG_BENCH_DB}", version


def _drop_postgres() -> None:
    import psycopg

    with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True, connect_timeout=5) as c:
        c.execute(f"DROP DATABASE IF EXISTS {PG_BENCH_DB} WITH (FORCE)")


def _git_commit() -> str:
    try:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"],  # noqa: S607
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],  # noqa: S607
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + (" (with uncommitted changes)" if dirty else "")


def _run_child(database: str, env: dict[str, str], names: list[str]) -> list[dict[str, Any]]:
    out = Path(tempfile.mkstemp(prefix=f"rxdesk-bench-{database}-", suffix=".jsonl")[1])
    print(f"\n== {database}: {', '.join(names)}", flush=True)
    proc = subprocess.run(  # noqa: S603  (our own interpreter and module)
        [sys.executable, "-m", "bench", "--child", str(out), *names],
        cwd=ROOT,
        env=env,
        check=False,
    )
    records = [json.loads(line) for line in out.read_text().splitlines() if line.strip()]
    out.unlink()
    if proc.returncode != 0:
        records.append(
            {
                "name": f"{database} run stopped (exit {proc.returncode})",
                "value": None,
                "unit": "",
                "database": database,
                "workers": 1,
            }
        )
    return records


def _table(records: list[dict[str, Any]], databases: list[str]) -> str:
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    for r in records:
        rows.setdefault((r["name"], r["unit"]), {})[r["database"]] = r["value"]
    width = max([len(n) for n, _ in rows] + [20])
    lines = [f"{'figure':<{width}} {'unit':<14}" + "".join(f"{d:>14}" for d in databases)]
    lines.append("-" * len(lines[0]))
    for (name, unit), values in rows.items():
        cells = "".join(f"{'' if values.get(d) is None else values[d]!s:>14}" for d in databases)
        lines.append(f"{name:<{width}} {unit:<14}" + cells)
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("modules", nargs="*", metavar="MODULE", help=", ".join(MODULE_NAMES))
    parser.add_argument("--db", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--keep", action="store_true", help="keep the bench databases")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    unknown = sorted(set(args.modules) - set(MODULE_NAMES))
    if unknown:
        parser.error(f"no such benchmark: {', '.join(unknown)} (see python -m bench --help)")
    names = [n for n in MODULE_NAMES if not args.modules or n in args.modules]
    if "baseline" in names and "fill" not in names:
        print("note: the baseline runs its own short 1-worker round for the overhead ratio")
    if args.child:
        child(args.child, names)
        return 0

    header: dict[str, Any] = {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "git_commit": _git_commit(),
        "cpu_count": os.cpu_count(),
        "machine": platform.platform(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "postgres": None,
        "scale": float(os.environ.get("RXDESK_BENCH_SCALE", "1")),
        "modules": names,
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }
    records: list[dict[str, Any]] = []
    databases: list[str] = []
    base_env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL",)}
    base_env.setdefault("RXDESK_HTTPS", "0")
    if args.db in ("sqlite", "both"):
        var = tempfile.mkdtemp(prefix="rxdesk-bench-sqlite-")
        records += _run_child("sqlite", {**base_env, "RXDESK_VAR_DIR": var}, names)
        databases.append("sqlite")
        if args.keep:
            print(f"kept the SQLite bench database in {var}")
        else:
            shutil.rmtree(var, ignore_errors=True)
    if args.db in ("postgres", "both"):
        url, version = _postgres()
        if url is None:
            header["postgres"] = version
            print(f"\n== postgresql: {version} — no PostgreSQL figures in this run", flush=True)
        else:
            header["postgres"] = version
            var = tempfile.mkdtemp(prefix="rxdesk-bench-pg-")
            env = {**base_env, "RXDESK_VAR_DIR": var, "DATABASE_URL": url}
            records += _run_child("postgresql", env, names)
            databases.append("postgresql")
            shutil.rmtree(var, ignore_errors=True)
            if args.keep:
                print(f"kept the PostgreSQL bench database {url}")
            else:
                _drop_postgres()
    header["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    RESULTS.mkdir(exist_ok=True)
    target = RESULTS / "latest.json"
    target.write_text(json.dumps({"header": header, "records": records}, indent=2, default=str))
    print()
    print(_table(records, databases))
    print(
        f"\nmachine: {header['cpu_count']} CPUs, Python {header['python']}, "
        f"SQLite {header['sqlite']}, PostgreSQL {header['postgres']}; load average "
        f"{header['load_average_at_start']} at start, {header['load_average_at_end']} at end"
    )
    print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
