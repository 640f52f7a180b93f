"""Kill a worker with SIGKILL at random points during receipts, fills and claims, on a
SQLite FILE database and on PostgreSQL, and check nothing acknowledged was lost and nothing
was left half-written (see tests/reliability/crash.py).

``RXDESK_CRASH_POINTS`` (default 200) sets the kill points per database and
``RXDESK_CRASH_SEED`` replays a run; ``RXDESK_CRASH_MAX_DELAY`` (default 0.8 s) is the
longest a worker lives before its kill."""

from __future__ import annotations

import json
import os
import random
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.db import connection

from tests.claims import conftest as payer_conftest
from tests.claims.billing_helpers import plan_rules
from tests.reliability import crash

pytestmark = pytest.mark.slow

POINTS = int(os.environ.get("RXDESK_CRASH_POINTS", "200"))
# The longest a worker runs before it is killed (seconds); kill points are uniform up to it.
MAX_DELAY = float(os.environ.get("RXDESK_CRASH_MAX_DELAY", "0.8"))


def _seed() -> int:
    return int(os.environ.get("RXDESK_CRASH_SEED") or random.SystemRandom().randrange(2**31))


def _run_and_check(payer_process: Any, workdir: Path) -> None:
    world = crash.build_world(payer_process)
    seed = _seed()
    report = crash.run(world, workdir, points=POINTS, seed=seed, max_delay=MAX_DELAY)
    print(
        f"\ncrash harness on {connection.vendor}: {report.kills} kills, {report.acked} "
        f"acknowledged operations, {report.full_checks} full checks, "
        f"{report.seconds:.1f} s, seed {seed}"
    )
    assert report.problems == [], f"seed {seed} (RXDESK_CRASH_SEED to replay)"
    acks = (workdir / "acks.txt").read_text().splitlines()
    errors = [line for line in acks if line.split(" ")[1] == "error"]
    print(f"{len(errors)} operations refused, e.g. {errors[:3]}")
    assert report.kills == POINTS
    # The killed workers really did work between kills (ops "0-n" are the unkilled first
    # round): a kill point only proves something if commits were in flight around it.
    killed_acks = [line for line in acks if not line.startswith("0-") and line not in errors]
    print(f"{len(killed_acks)} operations acknowledged by workers that were then killed")
    assert killed_acks, f"seed {seed}: no worker finished an operation; raise the delay"


@pytest.fixture
def payer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """The real ``rxdesk test-payer`` process with one plan. Its start-up may take longer
    than the claims tests allow while this machine is busy killing workers."""
    monkeypatch.setattr(payer_conftest, "STARTUP_TIMEOUT", 120.0)
    rules = tmp_path / "payer-rules.json"
    rules.write_text(json.dumps({"plans": [plan_rules()]}))
    process = payer_conftest.PayerProcess(
        rules, state_file=tmp_path / "payer-state.jsonl", stderr_file=tmp_path / "payer.err"
    )
    process.start()
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture
def sqlite_file_db(
    tmp_path: Path, transactional_db: None, django_db_blocker: Any
) -> Iterator[Path]:
    """The suite's migrated in-memory test database copied (sqlite3 backup API) into a file,
    and the default connection pointed at that file for the test. The in-memory database is
    left as it was."""
    if connection.vendor != "sqlite":
        pytest.skip("the SQLite run; PostgreSQL has its own test")
    path = tmp_path / "crash.sqlite3"
    settings = connection.settings_dict
    memory_name = settings["NAME"]
    with django_db_blocker.unblock():
        connection.ensure_connection()
        memory = connection.connection
        target = sqlite3.connect(path)
        memory.backup(target)
        target.close()
        # Django never closes an in-memory database (closing would destroy it): set it
        # aside, so the connection opens the file, and put it back afterwards.
        connection.connection = None
        settings["NAME"] = str(path)
        try:
            yield path
        finally:
            connection.close()
            settings["NAME"] = memory_name
            connection.connection = memory


def test_no_acknowledged_work_is_lost_when_sqlite_is_killed(sqlite_file_db, payer):
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA journal_mode")
        assert cursor.fetchone()[0] == "wal"  # a real file database, as in a pharmacy
    _run_and_check(payer, sqlite_file_db.parent)


@pytest.mark.postgres
def test_no_acknowledged_work_is_lost_when_postgres_is_killed(transactional_db, payer, tmp_path):
    _run_and_check(payer, tmp_path)
