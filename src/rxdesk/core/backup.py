"""Backups that prove themselves: a dump file, a manifest beside it, and figures to compare.

A backup is the dump (SQLite: a page copy made with sqlite3's online backup API; PostgreSQL:
``pg_dump --format=custom``) plus ``<dump>.manifest.json`` holding its SHA-256, the migration
state and the *verification figures*: per site the audit-chain head, the stock-ledger sums
(moves per package, and whether every balance equals the sum of its moves), and row counts.
A restore recomputes the figures on the restored database and names every difference.

The figures are computed with plain SQL on a DB-API connection, not the ORM, so the same code
reads a backup file opened read-only, a scratch PostgreSQL database, or the live database.
"""

# Table names in the SQL below come from the models' metadata, never from input:
# ruff: noqa: S608
from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
import shutil
import sqlite3
import subprocess
import uuid
from collections.abc import Iterator, Mapping
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.apps import apps

import rxdesk
from rxdesk.core.audit import ROW_FIELDS, register_actions, verify_rows
from rxdesk.core.errors import DomainError, Invalid

FORMAT = 1
MANIFEST_SUFFIX = ".manifest.json"
THOUSANDTH = Decimal("0.001")

register_actions(
    {
        "backup.created": "Database backup written",
        "backup.restored": "Database restored from a backup",
    }
)


class BackupError(DomainError):
    """A backup or restore that cannot go ahead, in words the operator can act on."""

    code = "backup_refused"


@dataclass(frozen=True)
class Database:
    """Where a database lives: a SQLite file or a PostgreSQL database (connection keywords)."""

    vendor: str  # "sqlite" or "postgresql"
    path: Path | None = None
    name: str = ""
    host: str = ""
    port: str = ""
    user: str = ""
    password: str = ""

    @classmethod
    def from_settings(cls, conf: Mapping[str, Any]) -> Database:
        engine = conf["ENGINE"]
        if engine.endswith("sqlite3"):
            return cls("sqlite", path=Path(conf["NAME"]))
        if engine.endswith(("postgresql", "postgis")):
            return cls(
                "postgresql",
                name=str(conf["NAME"]),
                host=str(conf.get("HOST") or ""),
                port=str(conf.get("PORT") or ""),
                user=str(conf.get("USER") or ""),
                password=str(conf.get("PASSWORD") or ""),
            )
        raise BackupError(f"rxdesk can back up SQLite and PostgreSQL only, not {engine}.")

    def named(self, name: str) -> Database:
        """The same PostgreSQL server, another database."""
        return Database(
            "postgresql", name=name, host=self.host, port=self.port, user=self.user,
            password=self.password,
        )  # fmt: skip

    def pg_args(self) -> list[str]:
        args = []
        for flag, value in (
            ("--host", self.host),
            ("--port", self.port),
            ("--username", self.user),
        ):
            if value:
                args += [flag, value]
        return args

    def pg_env(self) -> dict[str, str]:
        env = dict(os.environ)
        if self.password:
            env["PGPASSWORD"] = self.password
        return env

    def connect(self, *, read_only: bool = False) -> Any:
        if self.vendor == "sqlite":
            assert self.path is not None
            if read_only:
                conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True)
            else:
                conn = sqlite3.connect(self.path, timeout=20)
            # Django's CHECK constraints call REGEXP; integrity_check evaluates them.
            conn.create_function("REGEXP", 2, _regexp, deterministic=True)
            return conn
        import psycopg

        keywords = {"dbname": self.name, "host": self.host, "port": self.port, "user": self.user}
        keywords["password"] = self.password
        conninfo = psycopg.conninfo.make_conninfo(**{k: v for k, v in keywords.items() if v})
        return psycopg.connect(conninfo)


def _regexp(pattern: str | None, value: Any) -> bool:
    return value is not None and pattern is not None and re.search(pattern, str(value)) is not None


# --- Figures ------------------------------------------------------------------------------


def _table(label: str) -> str:
    return str(apps.get_model(label)._meta.db_table)


def data_tables() -> list[str]:
    """Every table rxdesk's models own (the row counts cover all of them)."""
    return sorted(
        {m._meta.db_table for m in apps.get_models() if m._meta.managed and not m._meta.proxy}
    )


def _rows(conn: Any, sql: str) -> list[tuple[Any, ...]]:
    cur = conn.cursor()
    try:
        cur.execute(sql)
        return list(cur.fetchall())
    finally:
        cur.close()


def _qty(value: Any) -> Decimal:
    # SQLite keeps decimals with numeric affinity (an integer or a real): back to 3 places.
    return Decimal(str(value if value is not None else 0)).quantize(THOUSANDTH)


def figures_compute(conn: Any, *, tables: list[str] | None = None) -> dict[str, Any]:
    """The verification figures of the database behind ``conn`` (JSON-ready)."""
    site_t, head_t, event_t = (
        _table("core.Site"),
        _table("core.AuditChainHead"),
        _table("core.AuditEvent"),
    )
    move_t, bal_t = _table("inventory.StockMove"), _table("inventory.StockBalance")
    pkg_t = _table("catalog.Package")
    sites: dict[str, dict[str, Any]] = {}

    def site(site_id: Any) -> dict[str, Any]:
        return sites.setdefault(
            str(site_id),
            {
                "audit_head": None,
                "audit_events": 0,
                "stock_moves": 0,
                "package_sums": {},
                "balances_off": [],
            },
        )

    for (site_id,) in _rows(conn, f'SELECT id FROM "{site_t}"'):
        site(site_id)
    for site_id, seq, digest in _rows(conn, f'SELECT site_id, seq, hash FROM "{head_t}"'):
        site(site_id)["audit_head"] = [int(seq), digest]
    for site_id, count in _rows(
        conn, f'SELECT site_id, COUNT(*) FROM "{event_t}" GROUP BY site_id'
    ):
        site(site_id)["audit_events"] = int(count)
    for site_id, ndc, count, total in _rows(
        conn,
        f'SELECT m.site_id, p.ndc11, COUNT(*), SUM(m.quantity) FROM "{move_t}" m '
        f'JOIN "{pkg_t}" p ON p.id = m.package_id GROUP BY m.site_id, p.ndc11',
    ):
        entry = site(site_id)
        entry["stock_moves"] += int(count)
        entry["package_sums"][ndc] = str(_qty(total))
    moved = {
        (s, lot): _qty(total)
        for s, lot, total in _rows(
            conn, f'SELECT site_id, lot_id, SUM(quantity) FROM "{move_t}" GROUP BY site_id, lot_id'
        )
    }
    for site_id, lot_id, on_hand in _rows(conn, f'SELECT site_id, lot_id, on_hand FROM "{bal_t}"'):
        total = moved.pop((site_id, lot_id), Decimal(0).quantize(THOUSANDTH))
        if _qty(on_hand) != total:
            site(site_id)["balances_off"].append(f"lot id {lot_id}: {_qty(on_hand)} ≠ {total}")
    for (site_id, lot_id), total in moved.items():
        site(site_id)["balances_off"].append(f"lot id {lot_id}: no balance row, moves {total}")
    counts = {
        table: int(_rows(conn, f'SELECT COUNT(*) FROM "{table}"')[0][0])
        for table in (tables if tables is not None else data_tables())
    }
    return {"sites": dict(sorted(sites.items(), key=lambda kv: int(kv[0]))), "row_counts": counts}


def figures_differences(expected: dict[str, Any], actual: dict[str, Any]) -> list[str]:
    """Each way ``actual`` differs from ``expected``, one sentence per difference."""
    out: list[str] = []
    want, got = expected.get("sites", {}), actual.get("sites", {})
    for sid in sorted(set(want) | set(got), key=int):
        if sid not in got:
            out.append(f"Site {sid} is in the backup but missing after the restore.")
            continue
        if sid not in want:
            out.append(f"Site {sid} exists after the restore but not in the backup.")
            continue
        w, g = want[sid], got[sid]
        if w["audit_head"] != g["audit_head"]:
            out.append(
                f"Site {sid}: audit chain head differs (backup {_head(w)}, restored {_head(g)})."
            )
        if w["audit_events"] != g["audit_events"]:
            out.append(
                f"Site {sid}: {w['audit_events']} audit events in the backup, "
                f"{g['audit_events']} restored."
            )
        if w["stock_moves"] != g["stock_moves"]:
            out.append(
                f"Site {sid}: {w['stock_moves']} stock moves in the backup, "
                f"{g['stock_moves']} restored."
            )
        for ndc in sorted(set(w["package_sums"]) | set(g["package_sums"])):
            a, b = w["package_sums"].get(ndc, "none"), g["package_sums"].get(ndc, "none")
            if a != b:
                out.append(
                    f"Site {sid}, NDC {ndc}: stock moves sum to {a} in the backup, {b} restored."
                )
        for problem in g["balances_off"]:
            out.append(f"Site {sid}: a balance is not the sum of its moves ({problem}).")
    want_rows, got_rows = expected.get("row_counts", {}), actual.get("row_counts", {})
    for table in sorted(want_rows):
        if want_rows[table] != got_rows.get(table):
            out.append(
                f"Table {table}: {want_rows[table]} rows in the backup, "
                f"{got_rows.get(table, 'no table')} restored."
            )
    return out


def _head(site: dict[str, Any]) -> str:
    head = site["audit_head"]
    return "none" if head is None else f"#{head[0]} {head[1][:12]}…"


def chains_verify(conn: Any) -> list[str]:
    """Walk every site's audit chain on ``conn`` with rxdesk.core.audit's own checker;
    return the broken links as sentences (none when all chains are intact)."""
    event_t, head_t = _table("core.AuditEvent"), _table("core.AuditChainHead")
    heads = {
        int(s): (int(q), h) for s, q, h in _rows(conn, f'SELECT site_id, seq, hash FROM "{head_t}"')
    }
    site_ids = {int(s) for (s,) in _rows(conn, f'SELECT DISTINCT site_id FROM "{event_t}"')}
    columns = ", ".join(f'"{c}"' for c in ROW_FIELDS)
    broken = []
    for site_id in sorted(site_ids | set(heads)):
        rows = (
            _chain_row(row)
            for row in _rows(
                conn, f'SELECT {columns} FROM "{event_t}" WHERE site_id = {site_id} ORDER BY seq'
            )
        )
        _count, problem = verify_rows(site_id, rows, heads.get(site_id))
        if problem is not None:
            broken.append(f"Audit chain broken at {problem}.")
    return broken


def _chain_row(row: tuple[Any, ...]) -> tuple[Any, ...]:
    values = list(row)
    when = values[3]  # occurred_at (after id, site_id, seq)
    if isinstance(when, str):  # SQLite keeps UTC datetimes as naive ISO text
        when = dt.datetime.fromisoformat(when)
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    values[3] = when
    values[2] = int(values[2])
    return tuple(values)


def migration_state(conn: Any) -> dict[str, str]:
    """The last applied migration of each app."""
    last: dict[str, str] = {}
    for app, name in _rows(conn, 'SELECT app, name FROM "django_migrations" ORDER BY id'):
        last[app] = name
    return dict(sorted(last.items()))


def data_held(conn: Any) -> dict[str, int]:
    """What a restore would overwrite, in the words of its main records (only non-zero)."""
    what = {
        "sites": "core.Site",
        "staff accounts": "core.User",
        "audit events": "core.AuditEvent",
        "stock moves": "inventory.StockMove",
    }
    held = {}
    for words, label in what.items():
        try:
            count = int(_rows(conn, f'SELECT COUNT(*) FROM "{_table(label)}"')[0][0])
        except Exception:  # no such table: an empty, unmigrated database
            _rollback(conn)
            continue
        if count:
            held[words] = count
    return held


def _rollback(conn: Any) -> None:
    if not isinstance(conn, sqlite3.Connection):
        conn.rollback()


# --- Files ---------------------------------------------------------------------------------


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def manifest_path(dump: Path) -> Path:
    return dump.with_name(dump.name + MANIFEST_SUFFIX)


def manifest_read(path: Path) -> tuple[Path, dict[str, Any]]:
    """(dump file, manifest) for a dump or its manifest."""
    if path.name.endswith(MANIFEST_SUFFIX):
        path = path.with_name(path.name[: -len(MANIFEST_SUFFIX)])
    if not path.is_file():
        raise Invalid(f"There is no backup file {path}.", field="file")
    mpath = manifest_path(path)
    if not mpath.is_file():
        raise Invalid(
            f"The backup {path.name} has no manifest ({mpath.name}) beside it, so it cannot be "
            "checked. Keep the two files together.",
            field="file",
        )
    try:
        manifest = json.loads(mpath.read_text())
    except ValueError:
        raise Invalid(f"The manifest {mpath.name} is damaged (not JSON).", field="file") from None
    if manifest.get("format") != FORMAT:
        raise Invalid(f"The manifest {mpath.name} is not an rxdesk backup manifest.", field="file")
    return path, manifest


@dataclass
class Outcome:
    """What a backup, a check or a restore found."""

    dump: Path
    manifest: dict[str, Any]
    differences: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.differences

    @property
    def site_count(self) -> int:
        return len(self.manifest["figures"]["sites"])


def _stamp() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M%S")


# --- Back up -------------------------------------------------------------------------------


def backup_create(db: Database, directory: Path) -> Outcome:
    """Write ``rxdesk-<UTC time>.sqlite3|.pgdump`` and its manifest into ``directory``.

    Online: SQLite copies one consistent snapshot while other connections keep writing (WAL);
    PostgreSQL's figures and pg_dump read the same exported snapshot."""
    directory.mkdir(parents=True, exist_ok=True)
    suffix = ".sqlite3" if db.vendor == "sqlite" else ".pgdump"
    dump = directory / f"rxdesk-{_stamp()}-{uuid.uuid4().hex[:6]}{suffix}"
    partial = dump.with_name(dump.name + ".partial")
    if db.vendor == "sqlite":
        figures, migrations = _sqlite_dump(db, partial)
    else:
        figures, migrations = _pg_dump(db, partial)
    partial.rename(dump)
    manifest = {
        "format": FORMAT,
        "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "vendor": db.vendor,
        "rxdesk_version": rxdesk.__version__,
        "dump_file": dump.name,
        "sha256": sha256_of(dump),
        "size_bytes": dump.stat().st_size,
        "migrations": migrations,
        "figures": figures,
    }
    written = manifest_path(dump).with_suffix(".partial")
    written.write_text(json.dumps(manifest, indent=2, sort_keys=True))
    written.rename(manifest_path(dump))
    return Outcome(dump, manifest)


def _sqlite_dump(db: Database, dest: Path) -> tuple[dict[str, Any], dict[str, str]]:
    assert db.path is not None
    if not db.path.is_file():
        raise BackupError(f"There is no database file at {db.path} to back up.")
    with closing(db.connect(read_only=True)) as src, closing(sqlite3.connect(dest)) as out:
        # pages=-1: one step, one read snapshot — writers carry on in the WAL meanwhile.
        src.backup(out)
        # A self-contained file: no -wal beside it, and it opens read-only anywhere.
        out.execute("PRAGMA journal_mode=DELETE")
    with closing(Database("sqlite", path=dest).connect(read_only=True)) as copy:
        return figures_compute(copy), migration_state(copy)


def _pg_tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise BackupError(
            f"{name} is not installed on this computer, so the PostgreSQL database cannot be "
            f"backed up or restored. Install the PostgreSQL client tools (Debian: "
            f"apt-get install postgresql-client) and try again."
        )
    return found


def _run(args: list[str], db: Database, what: str) -> None:
    done = subprocess.run(  # noqa: S603 — our own pg_dump/pg_restore argument list
        args, env=db.pg_env(), capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise BackupError(f"{what} failed: {done.stderr.strip() or done.stdout.strip()}")


def _pg_dump(db: Database, dest: Path) -> tuple[dict[str, Any], dict[str, str]]:
    tool = _pg_tool("pg_dump")
    with closing(db.connect()) as conn:
        conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        snapshot = conn.execute("SELECT pg_export_snapshot()").fetchone()[0]
        figures, migrations = figures_compute(conn), migration_state(conn)
        # The transaction stays open so pg_dump can read the very snapshot the figures saw.
        _run(
            [tool, "--format=custom", f"--snapshot={snapshot}", "--file", str(dest),
             *db.pg_args(), db.name],
            db, "pg_dump",
        )  # fmt: skip
        conn.rollback()
    return figures, migrations


# --- Check and restore ---------------------------------------------------------------------


def _sha_check(dump: Path, manifest: dict[str, Any]) -> None:
    actual = sha256_of(dump)
    if actual != manifest["sha256"]:
        raise BackupError(
            f"The backup {dump.name} is damaged or was changed after it was made: its "
            f"checksum (SHA-256) does not match the manifest. Nothing was restored."
        )


def _check(conn: Any, manifest: dict[str, Any]) -> list[str]:
    figures = manifest["figures"]
    actual = figures_compute(conn, tables=list(figures["row_counts"]))
    return figures_differences(figures, actual) + chains_verify(conn)


def backup_verify(path: Path, *, server: Database | None = None) -> Outcome:
    """Check a backup without restoring it: checksum, then the figures of the copy.

    SQLite: the file is opened read-only. PostgreSQL: restored into a scratch database on
    ``server``, measured, and dropped."""
    dump, manifest = manifest_read(path)
    _sha_check(dump, manifest)
    if manifest["vendor"] == "sqlite":
        with closing(Database("sqlite", path=dump).connect(read_only=True)) as conn:
            integrity = _rows(conn, "PRAGMA integrity_check")[0][0]
            found = [] if integrity == "ok" else [f"SQLite integrity check: {integrity}"]
            return Outcome(dump, manifest, found + _check(conn, manifest))
    if server is None or server.vendor != "postgresql":
        raise BackupError("A PostgreSQL backup is checked on a PostgreSQL server (DATABASE_URL).")
    scratch = server.named(f"rxdesk_verify_{uuid.uuid4().hex[:10]}")
    with _scratch_database(server, scratch.name):
        _pg_restore(dump, scratch)
        with closing(scratch.connect()) as conn:
            return Outcome(dump, manifest, _check(conn, manifest))


@contextmanager
def _scratch_database(server: Database, name: str) -> Iterator[None]:
    with closing(server.named("postgres").connect()) as admin:
        admin.autocommit = True
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield
    finally:
        with closing(server.named("postgres").connect()) as admin:
            admin.autocommit = True
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _pg_restore(dump: Path, target: Database, *, clean: bool = False) -> None:
    tool = _pg_tool("pg_restore")
    args = [tool, "--no-owner", "--exit-on-error", *target.pg_args(), "--dbname", target.name]
    if clean:
        args[1:1] = ["--clean", "--if-exists"]
    _run([*args, str(dump)], target, "pg_restore")


def backup_restore(path: Path, target: Database, *, force: bool = False) -> Outcome:
    """Restore a backup over ``target`` and verify it against the manifest.

    Refuses a damaged file (checksum) and, without ``force``, a database holding records."""
    dump, manifest = manifest_read(path)
    _sha_check(dump, manifest)
    if manifest["vendor"] != target.vendor:
        raise BackupError(
            f"This is a {manifest['vendor']} backup; the database here is {target.vendor}. "
            "Restore it onto the same kind of database."
        )
    if not force:
        held = _held(target)
        if held:
            listing = ", ".join(f"{n} {words}" for words, n in held.items())
            raise BackupError(
                f"This database already holds records ({listing}). Restoring would replace "
                "all of them with the backup's, and anything entered since the backup would be "
                "lost. Nothing was changed. Run again with --force if that is what you want."
            )
    if target.vendor == "sqlite":
        assert target.path is not None
        source = Database("sqlite", path=dump)
        with closing(source.connect(read_only=True)) as src, closing(target.connect()) as dst:
            src.backup(dst)
            dst.execute("PRAGMA journal_mode=WAL")
    else:
        _pg_restore(dump, target, clean=True)
    with closing(target.connect(read_only=True)) as conn:
        found = _check(conn, manifest)
        _rollback(conn)
    return Outcome(dump, manifest, found)


def _held(target: Database) -> dict[str, int]:
    if target.vendor == "sqlite" and (target.path is None or not target.path.exists()):
        return {}
    with closing(target.connect(read_only=True)) as conn:
        held = data_held(conn)
        _rollback(conn)
    return held
