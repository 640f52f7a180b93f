"""rxdesk refuses database settings that can lose saved records in a crash: real SQLite
files opened with each setting, and the real PostgreSQL server's settings."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.utils import ConnectionHandler

from rxdesk.core.dbsafety import check_database_durability, unsafe_settings
from rxdesk.settings import _SQLITE_OPTIONS

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def sqlite_file(tmp_path: Path, django_db_blocker: Any) -> Iterator[Any]:
    """``open(init_command)``: a connection to a real SQLite file opened with those PRAGMAs."""
    opened: list[BaseDatabaseWrapper] = []

    def open_with(init_command: str) -> BaseDatabaseWrapper:
        options = dict(_SQLITE_OPTIONS, init_command=init_command)
        handler = ConnectionHandler(
            {
                "default": {
                    "ENGINE": "django.db.backends.sqlite3",
                    "NAME": str(tmp_path / f"db{len(opened)}.sqlite3"),
                    "OPTIONS": options,
                }
            }
        )
        conn = handler.create_connection("default")
        opened.append(conn)
        return conn

    with django_db_blocker.unblock():  # a file of its own, not the suite's test database
        yield open_with
        for conn in opened:
            conn.close()


SAFE = "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;"


def test_it_passes_the_project_sqlite_settings_on_a_file(sqlite_file):
    conn = sqlite_file(_SQLITE_OPTIONS["init_command"])
    assert unsafe_settings(conn) == []


def test_it_passes_synchronous_extra(sqlite_file):
    conn = sqlite_file("PRAGMA journal_mode=WAL; PRAGMA synchronous=EXTRA; PRAGMA foreign_keys=ON;")
    assert unsafe_settings(conn) == []


def test_it_refuses_a_file_without_the_write_ahead_log(sqlite_file):
    conn = sqlite_file(SAFE.replace("journal_mode=WAL", "journal_mode=DELETE"))
    assert unsafe_settings(conn) == [
        "SQLite journal_mode is DELETE; it must be WAL (write-ahead log) so a crash cannot "
        "leave a half-written record."
    ]


def test_it_refuses_synchronous_normal(sqlite_file):
    conn = sqlite_file(SAFE.replace("synchronous=FULL", "synchronous=NORMAL"))
    assert unsafe_settings(conn) == [
        "SQLite synchronous is NORMAL; it must be FULL (or EXTRA) so every saved record is on "
        "the disk before the screen says it is saved."
    ]


def test_it_refuses_foreign_keys_off_and_names_every_problem(sqlite_file):
    conn = sqlite_file(
        "PRAGMA journal_mode=TRUNCATE; PRAGMA synchronous=OFF; PRAGMA foreign_keys=OFF;"
    )
    problems = unsafe_settings(conn)
    assert [p.split(";")[0] for p in problems] == [
        "SQLite journal_mode is TRUNCATE",
        "SQLite synchronous is OFF",
        "SQLite foreign_keys is OFF",
    ]


def test_the_suites_in_memory_database_is_not_refused(db):
    if connection.vendor != "sqlite":
        pytest.skip("the in-memory database is the SQLite suite's")
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA journal_mode")
        assert cursor.fetchone()[0] == "memory"
    assert unsafe_settings(connection) == []
    assert check_database_durability(databases=["default"]) == []


# --- PostgreSQL: the real server ----------------------------------------------------------------


def _show(name: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"SHOW {name}")
        return str(cursor.fetchone()[0])


@pytest.mark.postgres
def test_it_reads_the_real_servers_settings(db):
    assert (_show("fsync"), _show("full_page_writes")) == ("on", "on")
    assert _show("synchronous_commit") != "off"
    assert unsafe_settings(connection) == []
    assert check_database_durability(databases=["default"]) == []


@pytest.mark.postgres
def test_a_session_with_synchronous_commit_off_is_refused(db):
    with connection.cursor() as cursor:
        cursor.execute("SET synchronous_commit = off")
    try:
        assert unsafe_settings(connection) == [
            "PostgreSQL synchronous_commit is off; it must be on (or local, remote_write, "
            "remote_apply), or the last saved records can vanish in a crash."
        ]
        (error,) = check_database_durability(databases=["default"])
        assert (error.id, error.obj) == ("rxdesk.E001", "database 'default'")
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SET synchronous_commit = on")


def _start(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "RXDESK_"))}
    env |= {"DATABASE_URL": database_url, "DJANGO_SETTINGS_MODULE": "rxdesk.settings"}
    return subprocess.run(
        [sys.executable, *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=240,
        check=False,
    )


@pytest.mark.postgres
@pytest.mark.slow
def test_rxdesk_check_and_the_wsgi_server_refuse_to_start_on_an_unsafe_database():
    # A DATABASE_URL whose sessions run with synchronous_commit=off, as a careless
    # "speed-up" in a deployment would do.
    # The server's own "postgres" database: it always exists, the check needs no tables.
    base = os.environ["DATABASE_URL"].split("?")[0].rsplit("/", 1)[0] + "/postgres"
    unsafe = base + "?options=-c%20synchronous_commit%3Doff"

    checked = _start(unsafe, "-m", "rxdesk.cli", "check")
    assert checked.returncode != 0
    assert "rxdesk.E001" in checked.stderr
    assert "synchronous_commit is off" in checked.stderr

    served = _start(unsafe, "-c", "import rxdesk.wsgi")
    assert served.returncode == 1
    assert served.stderr.startswith("rxdesk will not start:")
    assert "synchronous_commit is off" in served.stderr

    fine = _start(base, "-c", "import rxdesk.wsgi; print('started')")
    assert (fine.returncode, fine.stdout.strip()) == (0, "started"), fine.stderr
