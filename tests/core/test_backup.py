"""Backup and restore prove themselves: the restored database has the backup's audit-chain
heads, stock-ledger sums and row counts, or the restore names what differs.

SQLite tests copy the (in-memory, migrated) test database into a file with sqlite3's backup
API, so no test pays for a fresh migrate; the file then runs in WAL mode like a counter PC."""

from __future__ import annotations

import datetime as dt
import json
import os
import sqlite3
import subprocess
import sys
import threading
from contextlib import closing
from pathlib import Path

import pytest
from django.db import connection

from rxdesk.core.backup import (
    BackupError,
    Database,
    backup_create,
    backup_restore,
    backup_verify,
    chains_verify,
    figures_compute,
    manifest_path,
)
from rxdesk.core.errors import Invalid
from rxdesk.inventory.services.stock import stock_dispense, stock_receive
from tests.inventory.factories import package

sqlite_only = pytest.mark.skipif(
    os.environ.get("DATABASE_URL", "").startswith("postgres"), reason="SQLite file backups"
)


def _make_records(site, inventory, technician) -> str:
    """Stock in and out through the real ledger services (each writes its audit event)."""
    pkg = package()
    stock_receive(
        actor=inventory, ndc=pkg, lot_number="A1", expiry=dt.date(2030, 12, 31), quantity=100
    )
    stock_receive(
        actor=inventory, ndc=pkg, lot_number="B2", expiry=dt.date(2031, 6, 30), quantity="12.5"
    )
    stock_dispense(actor=technician, ndc=pkg, quantity=30)
    return pkg.ndc11


@pytest.fixture
def live_file(transactional_db, tmp_path, site, inventory, technician) -> tuple[Path, str]:
    """A WAL-mode database file holding a site, stock moves and audit events."""
    if connection.vendor != "sqlite":
        pytest.skip("SQLite file backups")
    ndc = _make_records(site, inventory, technician)
    path = tmp_path / "live.sqlite3"
    connection.ensure_connection()
    with closing(sqlite3.connect(path)) as out:
        connection.connection.backup(out)
        out.execute("PRAGMA journal_mode=WAL")
    return path, ndc


def _writer(path: Path, stop: threading.Event, written: list[int]) -> None:
    """Another workstation: +1 on a lot, as a move and its balance in one transaction."""
    with closing(sqlite3.connect(path, timeout=20, isolation_level=None)) as conn:
        cols = [r[1] for r in conn.execute("PRAGMA table_info(inventory_stockmove)")][1:]
        picked = ", ".join("1" if c == "quantity" else c for c in cols)
        first_id, site_id, lot_id = conn.execute(
            "SELECT id, site_id, lot_id FROM inventory_stockmove ORDER BY id LIMIT 1"
        ).fetchone()
        while not stop.is_set():
            conn.execute("BEGIN IMMEDIATE")
            conn.execute(
                f"INSERT INTO inventory_stockmove ({', '.join(cols)}) "
                f"SELECT {picked} FROM inventory_stockmove WHERE id = ?",
                (first_id,),
            )
            conn.execute(
                "UPDATE inventory_stockbalance SET on_hand = on_hand + 1 "
                "WHERE site_id = ? AND lot_id = ?",
                (site_id, lot_id),
            )
            conn.execute("COMMIT")
            written.append(1)


def _figures(path: Path) -> dict:
    with closing(Database("sqlite", path=path).connect(read_only=True)) as conn:
        return figures_compute(conn)


@sqlite_only
def test_it_backs_up_while_another_workstation_writes_and_restores_the_same_figures(
    live_file, tmp_path, site
):
    live, ndc = live_file
    stop, written = threading.Event(), []
    writer = threading.Thread(target=_writer, args=(live, stop, written))
    writer.start()
    try:
        while len(written) < 20:
            pass
        backup = backup_create(Database("sqlite", path=live), tmp_path / "backups")
        during = len(written)
        while len(written) < during + 20:  # the writer was never locked out
            pass
    finally:
        stop.set()
        writer.join()

    figures = backup.manifest["figures"]
    ours = figures["sites"][str(site.pk)]
    assert ours["balances_off"] == []  # one consistent snapshot: each balance = its moves
    assert 3 + 20 <= ours["stock_moves"] < 3 + len(written)
    assert ours["package_sums"] == {ndc: f"{82.5 + ours['stock_moves'] - 3:.3f}"}
    assert ours["audit_events"] == 3 and ours["audit_head"][0] == 3
    assert backup.manifest["vendor"] == "sqlite"
    assert backup.manifest["migrations"]["inventory"]
    assert figures["row_counts"]["core_site"] == 1

    restored = tmp_path / "restored.sqlite3"
    outcome = backup_restore(backup.dump, Database("sqlite", path=restored))
    assert outcome.differences == []
    assert _figures(restored) == figures
    with closing(Database("sqlite", path=restored).connect()) as conn:
        assert chains_verify(conn) == []
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    assert backup_verify(backup.dump).differences == []


@sqlite_only
def test_it_refuses_a_tampered_backup_by_its_checksum(live_file, tmp_path):
    live, _ = live_file
    backup = backup_create(Database("sqlite", path=live), tmp_path)
    data = bytearray(backup.dump.read_bytes())
    data[len(data) // 2] ^= 0x01
    backup.dump.write_bytes(bytes(data))
    target = tmp_path / "restored.sqlite3"

    with pytest.raises(BackupError, match="checksum \\(SHA-256\\) does not match"):
        backup_restore(backup.dump, Database("sqlite", path=target))
    with pytest.raises(BackupError, match="damaged or was changed"):
        backup_verify(backup.dump)
    assert not target.exists()


@sqlite_only
def test_it_names_each_figure_that_differs_from_the_manifest(live_file, tmp_path, site):
    live, ndc = live_file
    backup = backup_create(Database("sqlite", path=live), tmp_path)
    mpath = manifest_path(backup.dump)
    manifest = json.loads(mpath.read_text())
    ours = manifest["figures"]["sites"][str(site.pk)]
    ours["package_sums"][ndc] = "83.500"
    ours["audit_head"][0] = 4
    manifest["figures"]["row_counts"]["core_user"] = 9
    mpath.write_text(json.dumps(manifest))

    outcome = backup_restore(backup.dump, Database("sqlite", path=tmp_path / "r.sqlite3"))

    head = ours["audit_head"][1][:12]
    assert outcome.differences == [
        f"Site {site.pk}: audit chain head differs (backup #4 {head}…, restored #3 {head}…).",
        f"Site {site.pk}, NDC {ndc}: stock moves sum to 83.500 in the backup, 82.500 restored.",
        "Table core_user: 9 rows in the backup, 2 restored.",
    ]


@sqlite_only
def test_it_reports_a_broken_audit_chain_in_the_backup(live_file, tmp_path, site):
    live, _ = live_file
    with closing(sqlite3.connect(live)) as conn:  # a forged edit, past the model's guard
        conn.execute("UPDATE core_auditevent SET reason = 'edited' WHERE seq = 2")
        conn.commit()
        (event_id,) = conn.execute("SELECT id FROM core_auditevent WHERE seq = 2").fetchone()
    backup = backup_create(Database("sqlite", path=live), tmp_path)

    assert backup_verify(backup.dump).differences == [
        f"Audit chain broken at site {site.pk}: event #2 (id {event_id}): "
        "its content does not match its hash (it was changed)."
    ]


@sqlite_only
def test_it_will_not_overwrite_a_database_with_records_unless_forced(live_file, tmp_path):
    live, _ = live_file
    backup = backup_create(Database("sqlite", path=live), tmp_path)
    target = tmp_path / "other.sqlite3"
    backup_restore(backup.dump, Database("sqlite", path=target))
    with closing(sqlite3.connect(target)) as conn:
        conn.execute("UPDATE inventory_stockbalance SET status_reason = 'entered after'")
        conn.commit()

    with pytest.raises(BackupError) as refused:
        backup_restore(backup.dump, Database("sqlite", path=target))
    assert refused.value.message.startswith(
        "This database already holds records (1 sites, 2 staff accounts, 3 audit events, "
        "3 stock moves). Restoring would replace all of them"
    )
    with closing(sqlite3.connect(target)) as conn:
        assert conn.execute(
            "SELECT DISTINCT status_reason FROM inventory_stockbalance"
        ).fetchall() == [("entered after",)]

    assert backup_restore(backup.dump, Database("sqlite", path=target), force=True).ok
    with closing(sqlite3.connect(target)) as conn:
        assert conn.execute(
            "SELECT DISTINCT status_reason FROM inventory_stockbalance"
        ).fetchall() == [("",)]


@pytest.mark.slow
@sqlite_only
def test_the_commands_back_up_and_restore_and_write_audit_events(live_file, tmp_path, site):
    live, _ = live_file
    env = dict(os.environ, DATABASE_URL=f"sqlite:///{live}", RXDESK_VAR_DIR=str(tmp_path))

    def rxdesk(*args: str, url: str | None = None) -> subprocess.CompletedProcess[str]:
        if url:
            env["DATABASE_URL"] = url
        return subprocess.run(
            [sys.executable, "-m", "rxdesk.cli", *args, "--skip-checks"],
            env=env,
            capture_output=True,
            text=True,
        )

    made = rxdesk("backup", str(tmp_path / "b"))
    assert made.returncode == 0, made.stderr
    assert (
        "Backup written:" in made.stdout and "1 sites, 3 audit events, 3 stock moves" in made.stdout
    )
    dump = next((tmp_path / "b").glob("*.sqlite3"))
    restored = rxdesk("restore", str(dump), url=f"sqlite:///{tmp_path / 'new.sqlite3'}")
    assert restored.returncode == 0, restored.stderr
    assert (
        "Restored and verified: audit chains intact (1 sites, heads match), ledger sums match."
        in restored.stdout
    )
    with closing(sqlite3.connect(live)) as conn:
        assert conn.execute("SELECT action FROM core_auditevent ORDER BY seq DESC").fetchone() == (
            "backup.created",
        )
    with closing(sqlite3.connect(tmp_path / "new.sqlite3")) as conn:
        actions = [a for (a,) in conn.execute("SELECT action FROM core_auditevent ORDER BY seq")]
        assert actions[-1] == "backup.restored" and "backup.created" not in actions
        assert chains_verify(conn) == []


@pytest.mark.slow
@pytest.mark.postgres
def test_it_backs_up_with_pg_dump_and_restores_into_a_new_database(
    transactional_db, tmp_path, site, inventory, technician
):
    import psycopg

    ndc = _make_records(site, inventory, technician)
    server = Database.from_settings(connection.settings_dict)
    backup = backup_create(server, tmp_path)
    assert backup.dump.suffix == ".pgdump"
    assert backup.manifest["figures"]["sites"][str(site.pk)]["package_sums"] == {ndc: "82.500"}

    fresh = server.named(f"{server.name}_restored")
    with closing(server.named("postgres").connect()) as admin:
        admin.autocommit = True
        admin.execute(f'DROP DATABASE IF EXISTS "{fresh.name}"')
        admin.execute(f'CREATE DATABASE "{fresh.name}"')
    try:
        outcome = backup_restore(backup.dump, fresh)
        assert outcome.differences == []
        with closing(fresh.connect()) as conn:
            assert figures_compute(conn) == backup.manifest["figures"]
            assert chains_verify(conn) == []
        assert backup_verify(backup.dump, server=server).differences == []
    finally:
        with closing(server.named("postgres").connect()) as admin:
            admin.autocommit = True
            admin.execute(f'DROP DATABASE IF EXISTS "{fresh.name}" WITH (FORCE)')
    assert psycopg  # the driver the backup uses


def test_a_backup_without_its_manifest_is_refused_naming_the_file(tmp_path):
    dump = tmp_path / "rxdesk-old.sqlite3"
    dump.write_bytes(b"SQLite format 3\x00")

    with pytest.raises(Invalid, match="has no manifest") as refused:
        backup_verify(dump)

    assert refused.value.errors[0]["field"] == "file"
