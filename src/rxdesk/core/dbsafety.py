"""Refuse to run on database settings that can lose acknowledged work in a crash.

A pharmacy record that the screen said was saved must survive a power cut: a fill that was
counted out, a receipt posted to stock, a claim the payer paid. That holds only if the
database writes its journal durably before it answers "committed":

- SQLite: the write-ahead log (``journal_mode=WAL``), ``synchronous=FULL`` (or EXTRA) so
  every commit reaches the disk, and foreign keys enforced.
- PostgreSQL: ``fsync`` and ``full_page_writes`` on, ``synchronous_commit`` not ``off``.

``unsafe_settings(connection)`` lists what is wrong, one sentence per setting. The system
check below (tag ``database``) runs it on ``rxdesk check``, before ``rxdesk serve`` and
``runserver`` start, and ``rxdesk.wsgi`` runs it before an application server takes
requests, so a misconfigured database stops the start-up instead of losing records later.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from django.core import checks
from django.db import DatabaseError, connections
from django.db.backends.base.base import BaseDatabaseWrapper

# PRAGMA synchronous: 0 OFF, 1 NORMAL, 2 FULL, 3 EXTRA.
_SQLITE_SYNCHRONOUS = {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}
_SQLITE_SAFE_SYNCHRONOUS = (2, 3)


def _sqlite_in_memory(connection: BaseDatabaseWrapper) -> bool:
    name = str(connection.settings_dict.get("NAME") or "")
    creation: Any = connection.creation
    return name == "" or bool(creation.is_in_memory_db(name))


def _sqlite_unsafe(connection: BaseDatabaseWrapper) -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA journal_mode")
        journal = str(cursor.fetchone()[0]).lower()
        # An in-memory database (the test suite's) has nothing on disk to lose: its journal
        # mode is "memory" and cannot be WAL, so there is nothing to refuse. A FILE database
        # is always checked.
        if journal == "memory" and _sqlite_in_memory(connection):
            return []
        cursor.execute("PRAGMA synchronous")
        synchronous = int(cursor.fetchone()[0])
        cursor.execute("PRAGMA foreign_keys")
        foreign_keys = int(cursor.fetchone()[0])
    problems = []
    if journal != "wal":
        problems.append(
            f"SQLite journal_mode is {journal.upper()}; it must be WAL (write-ahead log) so "
            "a crash cannot leave a half-written record."
        )
    if synchronous not in _SQLITE_SAFE_SYNCHRONOUS:
        shown = _SQLITE_SYNCHRONOUS.get(synchronous, str(synchronous))
        problems.append(
            f"SQLite synchronous is {shown}; it must be FULL (or EXTRA) so every saved "
            "record is on the disk before the screen says it is saved."
        )
    if foreign_keys != 1:
        problems.append(
            "SQLite foreign_keys is OFF; it must be ON so no record can point at one that "
            "does not exist."
        )
    return problems


def _postgres_setting(cursor: Any, name: str) -> str:
    cursor.execute(f"SHOW {name}")
    return str(cursor.fetchone()[0]).lower()


def _postgres_unsafe(connection: BaseDatabaseWrapper) -> list[str]:
    with connection.cursor() as cursor:
        fsync = _postgres_setting(cursor, "fsync")
        full_page_writes = _postgres_setting(cursor, "full_page_writes")
        synchronous_commit = _postgres_setting(cursor, "synchronous_commit")
    problems = []
    if fsync != "on":
        problems.append(
            f"PostgreSQL fsync is {fsync}; it must be on, or a power cut can corrupt the database."
        )
    if full_page_writes != "on":
        problems.append(
            f"PostgreSQL full_page_writes is {full_page_writes}; it must be on, or a crash "
            "during a write can leave a torn page."
        )
    if synchronous_commit == "off":
        problems.append(
            "PostgreSQL synchronous_commit is off; it must be on (or local, remote_write, "
            "remote_apply), or the last saved records can vanish in a crash."
        )
    return problems


def unsafe_settings(connection: BaseDatabaseWrapper) -> list[str]:
    """Sentences naming each durability setting of ``connection`` that is unsafe and what it
    must be; an empty list when the database is safe to run on."""
    if connection.vendor == "sqlite":
        return _sqlite_unsafe(connection)
    if connection.vendor == "postgresql":
        return _postgres_unsafe(connection)
    return []


def _aliases(databases: Sequence[str] | None) -> Iterable[str]:
    # Django hands database checks no aliases unless `check --database` names them; a
    # server start (runserver, `rxdesk serve`) runs checks that way, and must still refuse
    # an unsafe default database.
    return databases if databases else ["default"]


@checks.register(checks.Tags.database)
def check_database_durability(
    app_configs: Any = None, databases: Sequence[str] | None = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    """rxdesk.E001: the database's durability settings (see the module docstring)."""
    errors: list[checks.CheckMessage] = []
    for alias in _aliases(databases):
        connection = connections[alias]
        try:
            problems = unsafe_settings(connection)
        except DatabaseError:
            # Not reachable (not created yet, server down): other checks and the first
            # query report that; this check only judges a database it can read.
            continue
        errors.extend(
            checks.Error(
                problem,
                hint="Fix the database settings (DATABASE_URL, the server's postgresql.conf).",
                obj=f"database '{alias}'",
                id="rxdesk.E001",
            )
            for problem in problems
        )
    return errors


def refuse_if_unsafe(alias: str = "default") -> None:
    """Exit with the reasons when ``alias`` is unsafe (for an application server's start)."""
    connection = connections[alias]
    try:
        problems = unsafe_settings(connection)
    finally:
        connection.close()
    if problems:
        raise SystemExit(
            "rxdesk will not start: the database settings can lose saved records in a "
            "crash.\n" + "\n".join(f"- {p}" for p in problems)
        )
