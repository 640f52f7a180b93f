"""The test databases are built from the models plus the migrations' RunSQL / RunPython
operations (tests/conftest.py, ``models_not_migrations``), not by replaying every migration.
This proves that shortcut gives the schema the real migrations give: one database is built
each way, in its own process, and their schemas are compared — tables, columns and types,
indexes, constraints, triggers, functions, extensions — on the suite's database backend.

Column order is not compared: the models list a field where it was declared, a migration
adds it at the end of the table, and nothing in rxdesk reads columns by position."""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.db import connection

ROOT = Path(__file__).resolve().parent.parent
RXDESK = str(Path(sys.executable).with_name("rxdesk"))
FAST = "import django; django.setup(); from tests.conftest import build_from_models as b; b()"


def _env(**extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DATABASE_URL", "RXDESK_", "DJANGO_"))
    }
    return env | {"DJANGO_SETTINGS_MODULE": "rxdesk.settings"} | extra


def _build_both(real: dict[str, str], fast: dict[str, str]) -> None:
    """The real ``migrate`` and the shortcut, side by side (two processes)."""
    migrating = subprocess.Popen(
        [RXDESK, "migrate", "--verbosity", "0"],
        env=_env(**real),
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    shortcut = subprocess.run(
        [sys.executable, "-c", FAST], env=_env(**fast), cwd=ROOT, capture_output=True, text=True
    )
    _, errors = migrating.communicate(timeout=1800)  # a loaded CI machine
    assert migrating.returncode == 0, errors
    assert shortcut.returncode == 0, shortcut.stderr


def _differences(real: dict[str, Any], fast: dict[str, Any]) -> list[str]:
    lines = []
    for part in sorted(set(real) | set(fast)):
        for item in sorted(real.get(part, set()) - fast.get(part, set()), key=repr):
            lines.append(f"{part}: only by migrations: {item}")
        for item in sorted(fast.get(part, set()) - real.get(part, set()), key=repr):
            lines.append(f"{part}: only from the models: {item}")
    return lines


# --- SQLite ----------------------------------------------------------------------------------


def _words(sql: str | None) -> str:
    return " ".join((sql or "").split())


def _checks(table_sql: str) -> list[str]:
    """The CHECK clauses of a CREATE TABLE, each with its balanced parentheses."""
    found = []
    for match in re.finditer(r"CHECK \(", table_sql):
        depth, i = 0, match.end() - 1
        for i in range(match.end() - 1, len(table_sql)):
            depth += {"(": 1, ")": -1}.get(table_sql[i], 0)
            if depth == 0:
                break
        found.append(_words(table_sql[match.start() : i + 1]))
    return sorted(found)


def _sqlite_schema(path: Path) -> dict[str, set[Any]]:
    db = sqlite3.connect(path)
    rows = db.execute(
        "SELECT type, name, tbl_name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'"
    ).fetchall()
    schema: dict[str, set[Any]] = {
        "tables": set(),
        "columns": set(),
        "foreign keys": set(),
        "checks": set(),
        "indexes": set(),
        "triggers": set(),
        "views": set(),
    }
    for kind, name, table, sql in rows:
        if kind == "trigger":
            schema["triggers"].add((name, table, _words(sql)))
        elif kind == "view":
            schema["views"].add((name, _words(sql)))
        elif kind == "table":
            virtual = sql.startswith("CREATE VIRTUAL")
            schema["tables"].add((name, _words(sql) if virtual else "table"))
            for _cid, column, type_, notnull, default, pk, hidden in db.execute(
                f'PRAGMA table_xinfo("{name}")'
            ):
                schema["columns"].add((name, column, type_, notnull, default, pk, hidden))
            for fk in db.execute(f'PRAGMA foreign_key_list("{name}")'):
                schema["foreign keys"].add((name, *fk[2:]))
            schema["checks"].add((name, tuple(_checks(sql))))
            for _seq, index, unique, origin, partial in db.execute(f'PRAGMA index_list("{name}")'):
                columns = tuple(
                    (c[2], c[3], c[4]) for c in db.execute(f'PRAGMA index_xinfo("{index}")') if c[5]
                )
                # Automatic indexes (inline UNIQUE) are numbered by column position.
                label = "automatic" if index.startswith("sqlite_autoindex") else index
                schema["indexes"].add((name, label, unique, origin, partial, columns))
    for kind, name, _table, sql in rows:
        if kind == "index" and sql:
            schema["indexes"].add((name, _words(sql)))
    db.close()
    return schema


@pytest.mark.slow
def test_the_shortcut_builds_the_schema_the_migrations_build_on_sqlite(tmp_path):
    if connection.vendor != "sqlite":
        pytest.skip("the SQLite suite compares SQLite; the PostgreSQL one compares PostgreSQL")
    (tmp_path / "real").mkdir()
    (tmp_path / "fast").mkdir()
    _build_both(
        {"RXDESK_VAR_DIR": str(tmp_path / "real")}, {"RXDESK_VAR_DIR": str(tmp_path / "fast")}
    )

    real = _sqlite_schema(tmp_path / "real" / "rxdesk.sqlite3")
    fast = _sqlite_schema(tmp_path / "fast" / "rxdesk.sqlite3")

    assert _differences(real, fast) == []
    # What only the migrations' own SQL makes is there (not an empty comparison).
    assert ("catalog_product_fts_ai", "catalog_product") in {t[:2] for t in fast["triggers"]}
    assert len(fast["tables"]) > 100


# --- PostgreSQL ------------------------------------------------------------------------------

PG_QUERIES = {
    "columns": """
        SELECT table_name, column_name, data_type, character_maximum_length,
               numeric_precision, numeric_scale, is_nullable, column_default,
               collation_name, is_identity, identity_generation
        FROM information_schema.columns WHERE table_schema = 'public'""",
    "tables": """
        SELECT table_name, table_type FROM information_schema.tables
        WHERE table_schema = 'public'""",
    "constraints": """
        SELECT c.conrelid::regclass::text, c.conname, c.contype, pg_get_constraintdef(c.oid),
               c.condeferrable, c.condeferred
        FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace
        WHERE n.nspname = 'public'""",
    "indexes": "SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = 'public'",
    "triggers": """
        SELECT t.tgrelid::regclass::text, t.tgname, pg_get_triggerdef(t.oid)
        FROM pg_trigger t WHERE NOT t.tgisinternal""",
    "functions": """
        SELECT p.proname, p.prosrc FROM pg_proc p
        JOIN pg_namespace n ON n.oid = p.pronamespace
        WHERE n.nspname = 'public' AND NOT EXISTS (
            SELECT 1 FROM pg_depend d WHERE d.objid = p.oid AND d.deptype = 'e')""",
    "extensions": "SELECT extname FROM pg_extension",
}


def _pg_schema(settings: dict[str, Any], name: str) -> dict[str, set[Any]]:
    import psycopg

    with psycopg.connect(
        dbname=name,
        user=settings["USER"],
        host=settings["HOST"],
        port=settings["PORT"] or 5432,
        password=settings["PASSWORD"] or None,
    ) as db:
        return {part: set(db.execute(sql).fetchall()) for part, sql in PG_QUERIES.items()}


@pytest.mark.slow
@pytest.mark.postgres
def test_the_shortcut_builds_the_schema_the_migrations_build_on_postgres(db):
    settings = connection.settings_dict
    names = {way: f"{settings['NAME']}_{way}" for way in ("real", "fast")}
    url = "postgres://{USER}@{HOST}:{port}/".format(port=settings["PORT"] or 5432, **settings)
    with connection._nodb_cursor() as cursor:
        for name in names.values():
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}"')
            cursor.execute(f'CREATE DATABASE "{name}"')
    try:
        _build_both({"DATABASE_URL": url + names["real"]}, {"DATABASE_URL": url + names["fast"]})
        real = _pg_schema(settings, names["real"])
        fast = _pg_schema(settings, names["fast"])
    finally:
        with connection._nodb_cursor() as cursor:
            for name in names.values():
                cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    # Django's own quirk: the auto-created table of auth.Group.permissions
    # gets the project's 64-bit id when built by Django's migrations, and contrib.auth's
    # 32-bit AutoField when built from the models. Django's table, not ours; nothing else.
    quirk = ("auth_group_permissions", "id")
    quirky = {part: {row for row in rows if row[:2] == quirk} for part, rows in real.items()}
    assert {row[2] for row in quirky["columns"]} == {"bigint"}
    for schema in (real, fast):
        schema["columns"] = {row for row in schema["columns"] if row[:2] != quirk}
    assert _differences(real, fast) == []
    assert {"rxdesk_audit_append_only", "catalog_product_search_doc"} <= {
        t[1] for t in fast["triggers"]
    }
    assert len(fast["tables"]) > 100
