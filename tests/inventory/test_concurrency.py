"""The stock ledger under concurrent workers (DESIGN, "Stock ledger"): 10,000 mixed
receive / dispense / adjust / transfer operations (and witnessed controlled-substance work on
a Schedule II package) from 8 workers (4 processes × 2 threads)
on a handful of hot lots, then: no negative balance, balance = sum of moves everywhere, and
the sum of what the accepted operations did equals the final balances (no lost update).
Plus 1,000 trials of the race for a lot's very first move.

Real databases, real processes: a SQLite file (WAL, IMMEDIATE transactions) and the
PostgreSQL test database."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.db import connection

from tests.conftest import build_schema_in_subprocess

ROOT = Path(__file__).resolve().parents[2]
PROCESSES, THREADS = 4, 2
OPERATIONS = 10_000
RACE_TRIALS = 1_000


def _env(extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "RXDESK_"))}
    return env | {"DJANGO_SETTINGS_MODULE": "rxdesk.settings", "PYTHONPATH": str(ROOT)} | extra


def _run(env: dict[str, str], *args: str, timeout: int = 900) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "tests.inventory.workload", *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def _parallel(env: dict[str, str], commands: list[list[str]]) -> list[dict[str, Any]]:
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "tests.inventory.workload", *c],
            env=env,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for c in commands
    ]
    results = []
    for p in procs:
        out, err = p.communicate(timeout=1800)
        assert p.returncode == 0, err[-3000:]
        results.append(json.loads(out.strip().splitlines()[-1]))
    return results


def _exercise(env: dict[str, str]) -> None:
    _run(env, "setup")
    opening = _run(env, "check")["balances"]

    workers = _parallel(
        env,
        [
            ["work", str(seed), str(OPERATIONS // PROCESSES), str(THREADS)]
            for seed in range(PROCESSES)
        ],
    )
    racers = _parallel(env, [["race", "0", str(RACE_TRIALS), str(THREADS)] for _ in range(2)])
    final = _run(env, "check")

    # Every operation ran; some were refused for want of stock, none failed otherwise.
    assert sum(w["accepted"] + w["refused"] for w in workers) == OPERATIONS
    assert sum(w["accepted"] for w in workers) > OPERATIONS // 2
    # Balance = sum of moves, for every (site, lot), and each move's balance_after is right.
    assert final["problems"] == []
    assert final["negative"] == 0
    assert final["in_transit"] == 0
    # No lost update: opening stock plus what the accepted operations did is what is left.
    expected: Counter[str] = Counter({k: Decimal(v) for k, v in opening.items()})
    for w in workers:
        for key, quantity in w["moves"].items():
            expected[key] += Decimal(quantity)
    hot = {k: Decimal(v) for k, v in final["balances"].items() if k in expected}
    assert hot == {k: v for k, v in expected.items()}
    # The first-move race (both racing processes run the same trials): one lot row, one
    # balance row and every receive counted, per trial.
    assert sum(r["receives"] for r in racers) == 2 * THREADS * RACE_TRIALS
    assert final["race_lots"] == RACE_TRIALS
    assert final["race_on_hand"] == [f"{2 * THREADS}.000"]
    assert final["race_moves"] == 2 * THREADS * RACE_TRIALS
    # The Schedule II package took part (dispensed, wasted and adjusted with a witness), and
    # its balance stayed at or above zero like every other (``negative`` above).
    assert final["controlled_moves"] > 100
    assert final["witnessed"] > 20


@pytest.mark.slow
def test_the_ledger_holds_under_concurrent_processes_on_sqlite(tmp_path: Path) -> None:
    env = _env({"RXDESK_VAR_DIR": str(tmp_path)})
    build_schema_in_subprocess(env)
    _exercise(env)


@pytest.mark.slow
@pytest.mark.postgres
def test_the_ledger_holds_under_concurrent_processes_on_postgres(transactional_db) -> None:
    settings = connection.settings_dict
    url = (
        f"postgres://{settings['USER']}@{settings['HOST'] or '127.0.0.1'}:"
        f"{settings['PORT'] or 5432}/{settings['NAME']}"
    )
    _exercise(_env({"DATABASE_URL": url}))
