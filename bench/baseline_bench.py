"""The raw-SQL baseline: the same row writes as one complete prescription lifecycle, sent
with plain DB-API (``sqlite3`` / ``psycopg``) instead of through Django and the services,
so ``fill: lifecycles/s`` divided by this shows what the framework and the rules cost.

How "the same row writes" is made honest:

1. One real lifecycle runs through the services (``fill_bench.one_lifecycle``) while
   ``connection.execute_wrapper`` records every statement per step. The INSERT, UPDATE and
   DELETE statements are kept verbatim (SQL text and parameters); reads, savepoints and
   locks are counted but not replayed — so the baseline is a lower bound for the writes
   alone, and the "statements per lifecycle" figures say how many reads it leaves out.
2. The writes are replayed into the REAL rxdesk tables of the fill bench pharmacy (same
   indexes, unique and check constraints, foreign keys and append-only triggers), one
   transaction per step as the services do (``BEGIN IMMEDIATE`` on SQLite, with the same
   WAL / synchronous=FULL pragmas). Each replay gets fresh keys: ids returned by its own
   INSERTs replace the captured ones (matched by column, so a prescription id and a fill
   id of the same value are not confused), the Rx number and the audit chain's ``seq``
   move on, and ``hash`` / ``prev_hash`` get new SHA-256 values.

The replayed rows are not valid prescriptions for the pharmacy (the audit chain of the
bench site no longer verifies afterwards); it is a bench database.

Run alone with ``python -m bench baseline`` (after ``fill`` has built the pharmacy, or it
builds it)."""

from __future__ import annotations

import contextlib
import cProfile
import hashlib
import io
import pstats
import re
import statistics
import time
from collections.abc import Iterator
from typing import Any

from bench import fill_bench

RUNS = 3
PER_ROUND = 400  # replays per round, split between the workers
WORKERS = (1, 4)  # as the fill rounds
BASELINE_RATE: dict[int, float] = {}
PROFILED = 50
_WRITE = re.compile(r"^\s*(INSERT|UPDATE|DELETE)\b", re.IGNORECASE)
_INSERT = re.compile(
    r'^\s*INSERT (?:OR IGNORE )?INTO "(\w+)" \((.*?)\) VALUES', re.IGNORECASE | re.DOTALL
)
_UPDATE = re.compile(r'^\s*(?:UPDATE|DELETE FROM) "(\w+)"', re.IGNORECASE)
_IDENT = re.compile(r'"(\w+)"')


class Statement:
    """One captured write: its SQL, its parameters and, per parameter, the column it goes
    into (so keys can be renewed on replay)."""

    def __init__(self, step: str, sql: str, params: list[Any]) -> None:
        self.step = step
        self.sql = sql
        self.params = list(params)
        insert = _INSERT.match(sql)
        if insert:
            self.table = insert.group(1)
            cols = _IDENT.findall(insert.group(2))
            self.columns = [cols[i % len(cols)] for i in range(len(self.params))]
            self.rows = len(self.params) // max(1, len(cols))
        else:
            match = _UPDATE.match(sql)
            self.table = match.group(1) if match else ""
            # The column of each %s is the nearest quoted identifier before it.
            self.columns = []
            for part in sql.split("%s")[:-1]:
                idents = _IDENT.findall(part)
                self.columns.append(idents[-1] if idents else "")
            self.rows = 0
        self.is_insert = bool(insert)
        # How many rows the real statement changed: the replay must change as many (a
        # conditional update of a balance or the chain head that misses is a wrong replay).
        self.rowcount = -1
        self.returns = " RETURNING " in sql.upper()


def _references() -> dict[str, dict[str, str]]:
    """table → column → the table its values are keys of (``id`` → the table itself)."""
    from django.apps import apps

    refs: dict[str, dict[str, str]] = {}
    for model in apps.get_models():
        table = model._meta.db_table
        cols = refs.setdefault(table, {})
        for field in model._meta.concrete_fields:
            if field.primary_key:
                cols[field.column] = table
            elif field.is_relation and field.related_model is not None:
                cols[field.column] = field.related_model._meta.db_table
    return refs


def capture() -> tuple[list[Statement], dict[str, dict[str, int]], dict[str, list[int]]]:
    """Run one real lifecycle and record its statements. Returns the writes, the count of
    statements per step and kind, and the ids each table's INSERTs created (in order)."""
    from django.db import connection

    from rxdesk.core import context

    bench = fill_bench.Bench()
    from rxdesk.patients.models import Patient

    # The last bench patient: the fill rounds start from the first.
    total = Patient.objects.filter(site=bench.site).count()
    patient = bench.patients(1, total - 1)[0]
    package = bench.packages[0]
    writes: list[Statement] = []
    counts: dict[str, dict[str, int]] = {}
    current = {"step": ""}

    def wrapper(execute: Any, sql: str, params: Any, many: bool, ctx: Any) -> Any:
        kind = sql.split(None, 1)[0].upper() if sql.strip() else "?"
        if kind == "SELECT" and "FOR UPDATE" in sql.upper():
            kind = "SELECT FOR UPDATE"
        by_kind = counts.setdefault(current["step"], {})
        by_kind[kind] = by_kind.get(kind, 0) + 1
        result = execute(sql, params, many, ctx)
        if _WRITE.match(sql):
            assert not many, "executemany in a lifecycle: not replayable as one statement"
            writes.append(Statement(current["step"], sql, params or []))
            writes[-1].rowcount = ctx["cursor"].rowcount
        return result

    @contextlib.contextmanager
    def step(name: str) -> Iterator[None]:
        current["step"] = name
        yield

    before = _max_ids()
    with (
        connection.execute_wrapper(wrapper),
        context.using(context.RequestInfo(request_id="bench-baseline", channel="web")),
    ):
        fill_bench.one_lifecycle(bench, patient, package, step)
    created: dict[str, list[int]] = {}
    with connection.cursor() as cursor:
        for table in {w.table for w in writes if w.is_insert and w.returns}:
            cursor.execute(
                f'SELECT "id" FROM "{table}" WHERE "id" > %s ORDER BY "id"',  # noqa: S608
                [before.get(table, 0)],
            )
            created[table] = [row[0] for row in cursor.fetchall()]
    return writes, counts, created


def _max_ids() -> dict[str, int]:
    from django.apps import apps
    from django.db import connection

    ids = {}
    with connection.cursor() as cursor:
        for model in apps.get_models():
            if model._meta.pk.column != "id" or not model._meta.managed or model._meta.proxy:
                continue
            table = model._meta.db_table
            cursor.execute(f'SELECT MAX("id") FROM "{table}"')  # noqa: S608
            ids[table] = cursor.fetchone()[0] or 0
    return ids


class Replayer:
    """Sends the captured writes again with plain DB-API, fresh keys each time."""

    def __init__(
        self,
        writes: list[Statement],
        created: dict[str, list[int]],
        refs: dict[str, dict[str, str]],
        vendor: str,
    ) -> None:
        self.writes = writes
        self.refs = refs
        self.vendor = vendor
        # captured id → (table, position among that table's new rows)
        self.captured = {t: {v: i for i, v in enumerate(ids)} for t, ids in created.items()}
        self.steps = list(dict.fromkeys(w.step for w in writes))
        # Rx numbers are 32-bit on PostgreSQL (an integer column): replays number from
        # 1,000,000,000 up, far above the pharmacy's own, each captured number its own slot.
        numbers = sorted(
            {
                p
                for w in writes
                if w.table == "rx_prescription" and w.is_insert
                for c, p in zip(w.columns, w.params, strict=True)
                if c == "number"
            }
        )
        self.rx_numbers = {n: i for i, n in enumerate(numbers)}
        self.sql = {
            id(w): w.sql.replace("%%", "\x00").replace("%s", "?").replace("\x00", "%")
            if vendor == "sqlite"
            else w.sql
            for w in writes
        }

    @staticmethod
    def _hash(value: str, k: int) -> str:
        return hashlib.sha256(f"{value}:{k}".encode()).hexdigest()

    def connect(self) -> Any:
        from django.db import connection

        settings = connection.settings_dict
        if self.vendor == "sqlite":
            import sqlite3

            conn = sqlite3.connect(settings["NAME"], timeout=20, isolation_level=None)
            for pragma in ("journal_mode=WAL", "synchronous=FULL", "foreign_keys=ON"):
                conn.execute(f"PRAGMA {pragma}")
            return conn
        import psycopg

        return psycopg.connect(
            dbname=settings["NAME"],
            user=settings["USER"],
            host=settings["HOST"] or None,
            port=settings["PORT"] or None,
            password=settings["PASSWORD"] or None,
        )

    def run(self, conn: Any, k: int) -> None:
        """Replay number ``k`` (≥ 1): one transaction per step."""
        new_ids: dict[str, list[int]] = {}
        # The audit chain goes on from the head as it is now (other workers move it too):
        # before each event the head row is read and locked, as ``audit_record`` does — the
        # one read the baseline keeps, without it concurrent writers could not chain.
        # Captured seq / hash values map to this replay's as its events are written.
        seqs: dict[int, int] = {}
        hashes: dict[str, str] = {}

        def fresh(table: str, column: str, value: Any) -> Any:
            target = self.refs.get(table, {}).get(column)
            if target and target in self.captured and value in self.captured[target]:
                return new_ids[target][self.captured[target][value]]
            if column == "seq" and table.startswith("core_audit") and value in seqs:
                return seqs[value]
            if column == "number" and table == "rx_prescription" and value in self.rx_numbers:
                return 1_000_000_000 + k * len(self.rx_numbers) + self.rx_numbers[value]
            if column in ("hash", "prev_hash") and value in hashes:
                return hashes[value]
            return value

        lock = 'SELECT "seq", "hash" FROM "core_auditchainhead" WHERE "site_id" = %s'
        if self.vendor == "sqlite":
            lock = lock.replace("%s", "?")  # BEGIN IMMEDIATE already holds the write lock
        else:
            lock += " FOR UPDATE"
        cursor = conn.cursor()
        for step in self.steps:
            if self.vendor == "sqlite":
                cursor.execute("BEGIN IMMEDIATE")
            for w in self.writes:
                if w.step != step:
                    continue
                if w.table == "core_auditevent" and w.is_insert:
                    event = dict(zip(w.columns, w.params, strict=True))
                    cursor.execute(lock, [event["site_id"]])
                    head_seq, head_hash = cursor.fetchone()
                    seqs[event["seq"] - 1], seqs[event["seq"]] = head_seq, head_seq + 1
                    hashes[event["prev_hash"]] = head_hash
                    hashes[event["hash"]] = self._hash(f"{head_hash}:{event['hash']}", k)
                params = [fresh(w.table, c, p) for c, p in zip(w.columns, w.params, strict=False)]
                cursor.execute(self.sql[id(w)], params)
                if w.returns:
                    new_ids.setdefault(w.table, []).extend(row[0] for row in cursor.fetchall())
                elif w.table in self.captured:
                    # No RETURNING (psycopg has no lastrowid): keep the positions aligned.
                    rowid = getattr(cursor, "lastrowid", None)
                    new_ids.setdefault(w.table, []).extend(
                        [rowid] if w.rows == 1 else [None] * w.rows
                    )
                if not w.is_insert and cursor.rowcount != w.rowcount:
                    raise RuntimeError(
                        f"replayed write changed {cursor.rowcount} rows, not {w.rowcount}: {w.sql}"
                    )
            if self.vendor == "sqlite":
                cursor.execute("COMMIT")
            else:
                conn.commit()


def _replay_worker(replayer: Replayer, first_k: int, count: int, out: Any) -> None:
    """A worker process (forked): ``count`` replays from ``first_k``; sends (start, end)."""
    conn = replayer.connect()
    try:
        start = time.time()
        for k in range(first_k, first_k + count):
            replayer.run(conn, k)
        out.send((start, time.time()))
    except BaseException as exc:  # reported by the parent
        out.send(("error", f"{type(exc).__name__}: {exc}"))
    finally:
        conn.close()
        out.close()


def _replay_round(replayer: Replayer, workers: int, count: int, first_k: int) -> float:
    """One round: ``workers`` processes of ``count`` replays each; lifecycles/s."""
    import multiprocessing

    fork = multiprocessing.get_context("fork")
    pipes, procs = [], []
    for w in range(workers):
        parent, child = fork.Pipe(duplex=False)
        proc = fork.Process(
            target=_replay_worker, args=(replayer, first_k + w * count, count, child)
        )
        proc.start()
        child.close()
        pipes.append(parent)
        procs.append(proc)
    results = [p.recv() for p in pipes]
    for proc in procs:
        proc.join()
    errors = [r[1] for r in results if r[0] == "error"]
    if errors:
        raise RuntimeError(errors[0])
    return workers * count / (max(r[1] for r in results) - min(r[0] for r in results))


def _profile(bench: fill_bench.Bench) -> list[dict[str, object]]:
    """cProfile of PROFILED lifecycles: the top costs by cumulative time (printed), and
    the share of time inside the database driver (a record)."""
    from rxdesk.core import context
    from rxdesk.patients.models import Patient

    total = Patient.objects.filter(site=bench.site).count()
    patients = bench.patients(PROFILED, total - 1 - PROFILED - RUNS)

    @contextlib.contextmanager
    def step(name: str) -> Iterator[None]:
        yield

    profiler = cProfile.Profile()
    with context.using(context.RequestInfo(request_id="bench-profile", channel="web")):
        profiler.enable()
        for n, patient in enumerate(patients):
            fill_bench.one_lifecycle(bench, patient, bench.packages[n % 8], step)
        profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("tottime").print_stats(25)
    print(f"\n--- cProfile of {PROFILED} lifecycles, top 25 by own time ---")
    print("\n".join(out.getvalue().splitlines()[:60]))
    raw = stats.stats  # type: ignore[attr-defined]
    whole = sum(v[2] for v in raw.values())
    driver = sum(
        v[2]
        for (file, _line, name), v in raw.items()
        if "/psycopg/" in file
        or (file == "~" and any(k in name for k in ("sqlite3.", "psycopg", "SQLiteCursorWrapper")))
    )
    return [
        {
            "name": "fill: share of lifecycle time in the database driver (cProfile)",
            "value": round(100 * driver / whole, 1) if whole else 0,
            "unit": "%",
        }
    ]


def run() -> list[dict[str, object]]:
    from django.db import connection

    from rxdesk.patients.models import Patient

    fill_bench._build()
    bench = fill_bench.Bench()
    # Enough patients left after the fill rounds: capture + profile use the last ones.
    assert Patient.objects.filter(site=bench.site).count() > 1_200 + PROFILED + 1
    vendor = connection.vendor
    writes, counts, created = capture()
    records: list[dict[str, object]] = []
    for step in fill_bench.STEPS:
        by_kind = counts.get(step, {})
        n_writes = sum(v for k, v in by_kind.items() if k in ("INSERT", "UPDATE", "DELETE"))
        records.append(
            {
                "name": f"fill: SQL statements in {step}",
                "value": sum(by_kind.values()),
                "unit": "statements",
                "by_kind": by_kind,
            }
        )
        records.append(
            {
                "name": f"fill: of them INSERT/UPDATE/DELETE in {step}",
                "value": n_writes,
                "unit": "statements",
            }
        )
    records.append(
        {
            "name": "fill: INSERT/UPDATE/DELETE per lifecycle (replayed by the baseline)",
            "value": len(writes),
            "unit": "statements",
            "by_table": {
                t: sum(1 for w in writes if w.table == t) for t in sorted({w.table for w in writes})
            },
        }
    )
    replayer = Replayer(writes, created, _references(), vendor)
    connection.close()  # forked workers open their own connections
    k = 1
    for workers in WORKERS:
        count = PER_ROUND // workers
        rates = []
        for _ in range(RUNS):
            rates.append(_replay_round(replayer, workers, count, k))
            k += workers * count
        BASELINE_RATE[workers] = statistics.median(rates)
        plural = f"{workers} worker{'s' if workers > 1 else ''}"
        records.append(
            {
                "name": f"lifecycle raw-SQL baseline (same writes, {plural})",
                "value": round(BASELINE_RATE[workers], 1),
                "unit": "lifecycles/s",
                "workers": workers,
                "spread": [round(r, 1) for r in sorted(rates)],
                "worker_kind": "processes",
            }
        )
    baseline = BASELINE_RATE[1]
    connection.close()
    # The real figure from the fill rounds of this run when they ran before; else a short
    # 1-worker round here, on patients the fill rounds do not use.
    real = fill_bench.LAST_RATE.get(1)
    if not real:
        total = Patient.objects.filter(site=bench.site).count()
        result = fill_bench.lifecycles(60, total - 1 - PROFILED - 70)
        real = 60 / (result["end"] - result["start"])
    records.append(
        {
            "name": "framework overhead × (baseline / real, 1 worker)",
            "value": round(baseline / real, 1),
            "unit": "×",
            "real": round(real, 1),
        }
    )
    if fill_bench.LAST_RATE.get(4):
        real4 = fill_bench.LAST_RATE[4]
        records.append(
            {
                "name": "framework overhead × (baseline / real, 4 workers)",
                "value": round(BASELINE_RATE[4] / real4, 1),
                "unit": "×",
                "real": round(real4, 1),
            }
        )
    records.extend(_profile(fill_bench.Bench()))
    return records
